/*
 * conf.c — suite files: the INI-like parser, include = (relative, loop- and
 * depth-checked), ${VAR} / ${VAR:-default} / $$ expansion, [sweep] variants,
 * --set overrides, validation and normalisation of every value against an
 * options table (hf_opt_t), did-you-mean suggestions, and the resolved dump.
 *
 * How a load works (conf_run):
 *   1. validate the table and normalise its defaults (a table bug is reported,
 *      not crashed on);
 *   2. parse the top-level text line by line; an include is parsed recursively
 *      at the point where it appears, each file with its own current section
 *      and its own "key already set in this file" record; every value is
 *      expanded, checked and normalised as soon as it is read, so errors point
 *      at the line that caused them;
 *   3. apply the requested [sweep] variant, then the --set overrides;
 *   4. fill defaults for everything not set.
 * Precedence therefore is defaults < suite (+includes, later wins) < sweep
 * variant < --set.
 *
 * Values are stored as normalised text (conf.h).  Every final value can be
 * written back as a suite line and read again to the same value: values never
 * hold control characters, invalid UTF-8, or a '#' that a parser would take as
 * a comment, and hf_conf_dump() escapes '$' where needed ("$$").
 *
 * No global state; everything allocated here is released on every path
 * (errors included).  Resource limits (file size, line length, include depth
 * and count, number of variants) keep hostile input bounded.
 */
#define _XOPEN_SOURCE 700  /* realpath, strnlen */
#include "conf.h"
#include "hf_util.h"
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONF_MAX_FILE     (16u << 20)  /* bytes read from one suite file or string */
#define CONF_MAX_LINE     65536        /* bytes per line, without the line end */
#define CONF_MAX_DEPTH    16           /* include nesting below the top-level file */
#define CONF_MAX_FILES    1024         /* files opened through include, in total */
#define CONF_MAX_VARIANTS 1000000      /* product of the [sweep] list lengths */
#define ECHO_MAX          80           /* user text quoted in messages, in bytes */

/* ------------------------------------------------------------------------- */
/* Small helpers: growing strings, ASCII classes, UTF-8, quoting user text   */
/* ------------------------------------------------------------------------- */

typedef struct {
    char *s;
    size_t len, cap;
} sb_t;

static void sb_addn(sb_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) cap *= 2;
        b->s = hf_realloc(b->s, cap);
        b->cap = cap;
    }
    if (n) memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

static void sb_add(sb_t *b, const char *s) { sb_addn(b, s, strlen(s)); }
static void sb_addc(sb_t *b, char c) { sb_addn(b, &c, 1); }

static void sb_printf(sb_t *b, const char *fmt, ...) HF_PRINTF(2, 3);
static void sb_printf(sb_t *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) {
        sb_addn(b, tmp, (size_t)n);
        return;
    }
    char *big = hf_malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_addn(b, big, (size_t)n);
    free(big);
}

/* The built string (never NULL); the builder is left empty. */
static char *sb_take(sb_t *b)
{
    char *s = b->s ? b->s : hf_strdup("");
    b->s = NULL;
    b->len = b->cap = 0;
    return s;
}

static int is_ws(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}
static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int to_lower(int c) { return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c; }
static int is_section_char(int c) { return (c >= 'a' && c <= 'z') || is_digit(c) || c == '_' || c == '-'; }
static int is_key_char(int c) { return is_alpha(c) || is_digit(c) || c == '_' || c == '-' || c == '.'; }

static int str_ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (to_lower((unsigned char)*a) != to_lower((unsigned char)*b)) return 0;
    return *a == *b;
}

static char *str_ndup(const char *s, size_t n)
{
    char *d = hf_malloc(n + 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

/* Trim s in place (writes a NUL after the last non-blank); returns the start. */
static char *trim(char *s)
{
    while (is_ws((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n > 0 && is_ws((unsigned char)s[n - 1])) n--;
    s[n] = 0;
    return s;
}

/* Length of the valid UTF-8 sequence at s (n bytes available); 0 if invalid
 * (overlong forms, surrogates and code points above U+10FFFF are invalid). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80) return 1;
    if (c < 0xC2) return 0;
    if (c < 0xE0) return (n >= 2 && (s[1] & 0xC0) == 0x80) ? 2 : 0;
    if (c < 0xF0) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && s[1] < 0xA0) return 0;
        if (c == 0xED && s[1] >= 0xA0) return 0;
        return 3;
    }
    if (c < 0xF5) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && s[1] < 0x90) return 0;
        if (c == 0xF4 && s[1] >= 0x90) return 0;
        return 4;
    }
    return 0;
}

/* Offset of the first invalid UTF-8 byte in s[0..n), or n when all valid. */
static size_t utf8_check(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t k = utf8_len((const unsigned char *)s + i, n - i);
        if (!k) return i;
        i += k;
    }
    return n;
}

/* Copy user text into buf (cap bytes) for quoting in a message: control
 * characters and invalid UTF-8 become '?', text that does not fit is cut (on a
 * character boundary) with "...".  echo() quotes values and keys (short
 * buffer); echo_name() file names (long buffer: never cut in practice). */
#define ECHO_BUF (ECHO_MAX + 8)
#define NAME_BUF 1100
static const char *echo_to(char *buf, size_t cap, const char *s)
{
    size_t o = 0, n = strlen(s), i = 0;
    while (i < n) {
        size_t k = utf8_len((const unsigned char *)s + i, n - i);
        if (o + (k ? k : 1) > cap - 4) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        unsigned char c = (unsigned char)s[i];
        if (!k || c < 0x20 || c == 0x7f) {
            buf[o++] = '?';
            i += k ? k : 1;
        } else {
            memcpy(buf + o, s + i, k);
            o += k;
            i += k;
        }
    }
    buf[o] = 0;
    return buf;
}
#define echo(buf, s) echo_to((buf), ECHO_BUF, (s))
#define echo_name(buf, s) echo_to((buf), NAME_BUF, (s))

/* Text for x that reads back exactly: plain digits for whole numbers below
 * 1e15 ("1000000", not "1e+06"), else the shortest "%.*g". */
static void fmt_num(char *buf, size_t n, double x)
{
    if (x == floor(x) && fabs(x) < 1e15) {
        snprintf(buf, n, "%.0f", x);
        if (strtod(buf, NULL) == x) return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) return;
    }
}

/* ------------------------------------------------------------------------- */
/* Edit distance and did-you-mean                                            */
/* ------------------------------------------------------------------------- */

int hf_edit_distance(const char *a, const char *b)
{
    if (!a) a = "";
    if (!b) b = "";
    size_t la = strlen(a), lb = strlen(b);
    if (la == 0) return lb > INT_MAX ? INT_MAX : (int)lb;
    if (lb == 0) return la > INT_MAX ? INT_MAX : (int)la;
    size_t *row = hf_malloc((lb + 1) * sizeof *row);
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];   /* d[i-1][j-1] */
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j]; /* d[i-1][j] */
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    size_t d = row[lb];
    free(row);
    return d > INT_MAX ? INT_MAX : (int)d;
}

/* Collects the best suggestion for a misspelt word: a candidate within edit
 * distance 2 (1 for words of 1 or 2 characters), else one the word is a
 * prefix of (at least 3 characters typed); ties go to the first candidate. */
typedef struct {
    const char *word;
    size_t wlen;
    int thr;
    int score;          /* best so far; INT_MAX when none */
    char best[128];
} sugg_t;

static void sugg_init(sugg_t *s, const char *word)
{
    s->word = word;
    s->wlen = strlen(word);
    s->thr = s->wlen <= 2 ? 1 : 2;
    s->score = INT_MAX;
    s->best[0] = 0;
}

/* Compare the word with `cand`; offer `shown` (cand when NULL) if it is better. */
static void sugg_try(sugg_t *s, const char *cand, const char *shown)
{
    size_t lc = strlen(cand);
    size_t diff = lc > s->wlen ? lc - s->wlen : s->wlen - lc;
    int score = INT_MAX;
    if (diff <= (size_t)s->thr) {
        int d = hf_edit_distance(s->word, cand);
        if (d <= s->thr) score = d;
    }
    if (score == INT_MAX && s->wlen >= 3 && lc > s->wlen && strncmp(cand, s->word, s->wlen) == 0)
        score = s->thr + 1;
    if (score < s->score && strlen(shown ? shown : cand) < sizeof s->best) {
        s->score = score;
        snprintf(s->best, sizeof s->best, "%s", shown ? shown : cand);
    }
}

/* "; did you mean 'x'?" or "" (points into s or a literal). */
static const char *sugg_text(const sugg_t *s, char *buf, size_t n)
{
    if (s->score == INT_MAX) return "";
    snprintf(buf, n, "; did you mean '%s'?", s->best);
    return buf;
}

/* ------------------------------------------------------------------------- */
/* Paths                                                                     */
/* ------------------------------------------------------------------------- */

/* Lexical normalisation: collapses "//", "." and "dir/.." (".." above the root
 * is dropped; leading ".." of a relative path are kept).  "" stays "". */
static char *path_norm(const char *p)
{
    if (!*p) return hf_strdup("");
    int abs = p[0] == '/';
    size_t n = strlen(p);
    const char **comp = hf_malloc((n / 2 + 2) * sizeof *comp);
    size_t *clen = hf_malloc((n / 2 + 2) * sizeof *clen);
    size_t nc = 0;
    const char *q = p;
    while (*q) {
        while (*q == '/') q++;
        if (!*q) break;
        const char *e = q;
        while (*e && *e != '/') e++;
        size_t l = (size_t)(e - q);
        if (l == 1 && q[0] == '.') {
            /* skip */
        } else if (l == 2 && q[0] == '.' && q[1] == '.') {
            if (nc > 0 && !(clen[nc - 1] == 2 && comp[nc - 1][0] == '.' && comp[nc - 1][1] == '.'))
                nc--;
            else if (!abs) {
                comp[nc] = q;
                clen[nc++] = l;
            }
        } else {
            comp[nc] = q;
            clen[nc++] = l;
        }
        q = e;
    }
    sb_t b = {0};
    if (abs) sb_addc(&b, '/');
    for (size_t i = 0; i < nc; i++) {
        if (i) sb_addc(&b, '/');
        sb_addn(&b, comp[i], clen[i]);
    }
    if (b.len == 0) sb_addc(&b, '.');
    free(comp);
    free(clen);
    return sb_take(&b);
}

/* rel if absolute, else dir/rel; normalised.  dir may be "". */
static char *path_join(const char *dir, const char *rel)
{
    if (rel[0] == '/' || !*dir) return path_norm(rel);
    sb_t b = {0};
    sb_add(&b, dir);
    sb_addc(&b, '/');
    sb_add(&b, rel);
    char *r = path_norm(b.s);
    free(b.s);
    return r;
}

/* Directory part of p: "" when p has no '/', "/" for "/x". */
static char *path_dirname(const char *p)
{
    const char *slash = strrchr(p, '/');
    if (!slash) return hf_strdup("");
    if (slash == p) return hf_strdup("/");
    return str_ndup(p, (size_t)(slash - p));
}

static char *get_cwd(void)
{
    size_t n = 256;
    for (;;) {
        char *buf = hf_malloc(n);
        if (getcwd(buf, n)) return buf;
        free(buf);
        if (errno != ERANGE || n > (1u << 20)) return NULL;
        n *= 2;
    }
}

/* ------------------------------------------------------------------------- */
/* Reading files                                                             */
/* ------------------------------------------------------------------------- */

/* Read a whole file (at most CONF_MAX_FILE bytes).  Returns 0, or -1 with a
 * reason ("cannot open: ...") in why. */
static int file_read(const char *path, char **out, size_t *outlen, char *why, size_t nwhy)
{
    /* regular files only, never a FIFO or a device (hf_util.h) */
    int fd = hf_input_open_why(path, (uint64_t)CONF_MAX_FILE, why, nwhy);
    FILE *f = fd < 0 ? NULL : fdopen(fd, "rb");
    if (!f) {
        if (fd >= 0) {
            snprintf(why, nwhy, "cannot open: %s", strerror(errno));
            close(fd);
        }
        return -1;
    }
    size_t cap = 4096, len = 0;
    char *buf = hf_malloc(cap);
    for (;;) {
        if (len == cap) {
            if (cap > CONF_MAX_FILE) break;
            cap *= 2;
            buf = hf_realloc(buf, cap);
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    int err = ferror(f) ? errno : 0;
    fclose(f);
    if (err) {
        snprintf(why, nwhy, "cannot read: %s", strerror(err));
        free(buf);
        return -1;
    }
    if (len > CONF_MAX_FILE) {
        snprintf(why, nwhy, "file is larger than %u MiB", CONF_MAX_FILE >> 20);
        free(buf);
        return -1;
    }
    *out = buf;
    *outlen = len;
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Values: expansion, checks, normalisation by type                          */
/* ------------------------------------------------------------------------- */

/* The '}' that closes the "${" before q (nesting counted: a default may hold
 * references itself), or NULL. */
static const char *matching_brace(const char *q)
{
    int depth = 1;
    for (; *q; q++) {
        if (q[0] == '$' && q[1] == '$') { q++; continue; }
        if (q[0] == '$' && q[1] == '{') { depth++; q++; continue; }
        if (*q == '}' && --depth == 0) return q;
    }
    return NULL;
}

/* Expand ${NAME}, ${NAME:-default} (default when NAME is unset or empty) and
 * $$ (a literal '$'); a lone '$' is literal.  Environment values are inserted
 * as they are (not expanded again); a default is expanded itself, as a shell
 * does, so ${A:-${B}} needs B when A is unset (never the literal "${B}").
 * A default that is not used is still checked, as a shell does: its syntax,
 * not its variables (syntax_only: unset variables are no error).  NULL + why
 * on error. */
static char *expand_depth(const char *s, char *why, size_t nwhy, int depth, int syntax_only);
static char *expand(const char *s, char *why, size_t nwhy) { return expand_depth(s, why, nwhy, 0, 0); }

static char *expand_depth(const char *s, char *why, size_t nwhy, int depth, int syntax_only)
{
    sb_t b = {0};
    sb_addn(&b, "", 0);
    const char *q = s;
    while (*q) {
        if (q[0] == '$' && q[1] == '$') {
            sb_addc(&b, '$');
            q += 2;
            continue;
        }
        if (!(q[0] == '$' && q[1] == '{')) {
            sb_addc(&b, *q++);
            continue;
        }
        const char *name = q + 2, *e = name;
        while (is_alpha((unsigned char)*e) || is_digit((unsigned char)*e) || *e == '_') e++;
        const char *close = matching_brace(e);
        char eb[ECHO_BUF];
        if (!close) {
            snprintf(why, nwhy, "unterminated '${' in '%s' (missing '}')", echo(eb, q));
            free(b.s);
            return NULL;
        }
        const char *def = NULL;
        size_t deflen = 0;
        if (e == name || is_digit((unsigned char)name[0]) ||
            !(*e == '}' || (e[0] == ':' && e[1] == '-'))) {
            char *ref = str_ndup(q, (size_t)(close - q) + 1);
            snprintf(why, nwhy, "invalid variable reference '%s' (expected ${NAME} or ${NAME:-default})",
                     echo(eb, ref));
            free(ref);
            free(b.s);
            return NULL;
        }
        if (*e == ':') {
            def = e + 2;
            deflen = (size_t)(close - def);
        }
        char *nm = str_ndup(name, (size_t)(e - name));
        const char *v = syntax_only ? NULL : getenv(nm);
        if (def) {
            int used = !(v && *v);  /* the default's value is needed */
            if (depth >= 8) {
                snprintf(why, nwhy, "variable defaults nested more than 8 deep in '%s'", echo(eb, s));
                free(nm);
                free(b.s);
                return NULL;
            }
            char *d = str_ndup(def, deflen), *dv = expand_depth(d, why, nwhy, depth + 1, syntax_only || !used);
            free(d);
            if (!dv) {
                free(nm);
                free(b.s);
                return NULL;
            }
            sb_add(&b, used ? dv : v);
            free(dv);
        } else if (v) {
            sb_add(&b, v);
        } else if (!syntax_only) {
            snprintf(why, nwhy, "environment variable '%s' is not set", echo(eb, nm));
            free(nm);
            free(b.s);
            return NULL;
        }
        free(nm);
        q = close + 1;
    }
    return sb_take(&b);
}

/* A final value must be representable in a suite file: valid UTF-8, no
 * control characters except tab, no '#' at the start or after whitespace. */
static int value_check(const char *v, char *why, size_t nwhy)
{
    size_t n = strlen(v);
    size_t bad = utf8_check(v, n);
    if (bad < n) {
        snprintf(why, nwhy, "value is not valid UTF-8 (byte 0x%02x at offset %zu)",
                 (unsigned char)v[bad], bad);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            snprintf(why, nwhy, "value contains a control character (0x%02x)", c);
            return -1;
        }
        if (c == '#' && (i == 0 || v[i - 1] == ' ' || v[i - 1] == '\t')) {
            snprintf(why, nwhy, "value contains '#' %s, which a suite file reads as a comment",
                     i == 0 ? "at its start" : "after whitespace");
            return -1;
        }
    }
    return 0;
}

static void range_text(char *buf, size_t n, const hf_opt_t *o)
{
    char a[40], b[40];
    fmt_num(a, sizeof a, o->min);
    fmt_num(b, sizeof b, o->max);
    snprintf(buf, n, "[%s, %s]", a, b);
}

static int has_range(const hf_opt_t *o) { return o->min <= o->max; }

/* Parse a whole-string base-10 integer.  0 ok, -1 not an integer, -2 overflow. */
static int parse_long(const char *s, long *out)
{
    const char *d = s;
    if (*d == '+' || *d == '-') d++;
    if (!is_digit((unsigned char)*d)) return -1;
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (*end) return -1;
    if (errno == ERANGE) return -2;
    *out = x;
    return 0;
}

/* Check and normalise the (expanded, trimmed) value v of option o.  dir is the
 * absolute directory relative PATH values are resolved against. */
/* An INT option's value: parsed, range-checked, normalised to its decimal text. */
static int norm_int(const hf_opt_t *o, const char *v, char **out, char *why, size_t nwhy)
{
    char eb[ECHO_BUF], rng[96];
    long x = 0;
    int r = parse_long(v, &x);
    if (r == -1) {
        snprintf(why, nwhy, "expected an integer, got '%s'", echo(eb, v));
        return -1;
    }
    if (r == -2 || (has_range(o) && ((double)x < o->min || (double)x > o->max))) {
        if (has_range(o)) {
            range_text(rng, sizeof rng, o);
            snprintf(why, nwhy, "value %s is out of range %s", echo(eb, v), rng);
        } else {
            snprintf(why, nwhy, "value %s does not fit in a %d-bit integer", echo(eb, v),
                     (int)(sizeof(long) * CHAR_BIT));
        }
        return -1;
    }
    char buf[32];
    snprintf(buf, sizeof buf, "%ld", x);
    *out = hf_strdup(buf);
    return 0;
}

static int opt_norm(const hf_opt_t *o, const char *v, const char *dir, char **out,
                    char *why, size_t nwhy)
{
    char eb[ECHO_BUF], rng[96];
    switch (o->type) {
    case HF_OPT_INT:
        return norm_int(o, v, out, why, nwhy);
    case HF_OPT_FLOAT: {
        int ok = *v != 0;
        for (const char *q = v; *q; q++)
            if (!(is_digit((unsigned char)*q) || *q == '+' || *q == '-' || *q == '.' ||
                  *q == 'e' || *q == 'E'))
                ok = 0;
        char *end = NULL;
        double x = 0;
        if (ok) {
            errno = 0;
            x = strtod(v, &end);
            if (end == v || *end) ok = 0;
        }
        if (!ok) {
            snprintf(why, nwhy, "expected a number, got '%s'", echo(eb, v));
            return -1;
        }
        int overflow = !isfinite(x) || (errno == ERANGE && fabs(x) >= 1.0);
        if (overflow || (has_range(o) && (x < o->min || x > o->max))) {
            if (has_range(o)) {
                range_text(rng, sizeof rng, o);
                snprintf(why, nwhy, "value %s is out of range %s", echo(eb, v), rng);
            } else {
                snprintf(why, nwhy, "value %s is not a finite number", echo(eb, v));
            }
            return -1;
        }
        char buf[40];
        fmt_num(buf, sizeof buf, x);
        *out = hf_strdup(buf);
        return 0;
    }
    case HF_OPT_BOOL: {
        static const char *const yes[] = {"yes", "true", "on", "1"};
        static const char *const no[] = {"no", "false", "off", "0"};
        for (int i = 0; i < 4; i++) {
            if (str_ieq(v, yes[i])) { *out = hf_strdup("yes"); return 0; }
            if (str_ieq(v, no[i])) { *out = hf_strdup("no"); return 0; }
        }
        snprintf(why, nwhy, "expected yes/no (or true/false, on/off, 1/0), got '%s'", echo(eb, v));
        return -1;
    }
    case HF_OPT_STRING:
        *out = hf_strdup(v);
        return 0;
    case HF_OPT_CHOICE: {
        const char *ch = o->choices ? o->choices : "";
        sugg_t s;
        sugg_init(&s, v);
        const char *q = ch;
        for (;;) {
            const char *e = strchr(q, '|');
            size_t l = e ? (size_t)(e - q) : strlen(q);
            char *c = str_ndup(q, l);
            if (strcmp(c, v) == 0) {
                *out = c;
                return 0;
            }
            if (str_ieq(c, v) && s.score >= 0) {   /* "CNN" → did you mean 'cnn'? */
                s.score = -1;
                snprintf(s.best, sizeof s.best, "%.120s", c);
            } else {
                sugg_try(&s, c, NULL);
            }
            free(c);
            if (!e) break;
            q = e + 1;
        }
        char sb[160];
        snprintf(why, nwhy, "expected one of %s, got '%s'%s", ch, echo(eb, v),
                 sugg_text(&s, sb, sizeof sb));
        return -1;
    }
    case HF_OPT_INTLIST: {
        sb_t b = {0};
        const char *q = v;
        int item = 0;
        for (;;) {
            const char *e = strchr(q, ',');
            size_t l = e ? (size_t)(e - q) : strlen(q);
            char *raw = str_ndup(q, l);
            char *t = trim(raw);
            long x = 0;
            int r = parse_long(t, &x);
            item++;
            if (r == 0 && (x < INT_MIN || x > INT_MAX)) r = -2;
            if (r == 0 && has_range(o) && ((double)x < o->min || (double)x > o->max)) r = -3;
            if (r != 0) {
                char eb2[ECHO_BUF];
                if (r == -1 && !*v) {
                    snprintf(why, nwhy, "expected a comma-separated list of integers, got ''");
                } else if (r == -1) {
                    snprintf(why, nwhy, "expected a comma-separated list of integers, got '%s' (item %d is '%s')",
                             echo(eb, v), item, echo(eb2, t));
                } else if (r == -3) {
                    range_text(rng, sizeof rng, o);
                    snprintf(why, nwhy, "item %d: value %s is out of range %s", item, echo(eb2, t), rng);
                } else {
                    snprintf(why, nwhy, "item %d: value %s does not fit in an int", item, echo(eb2, t));
                }
                free(raw);
                free(b.s);
                return -1;
            }
            if (b.len) sb_addc(&b, ',');
            sb_printf(&b, "%ld", x);
            free(raw);
            if (!e) break;
            q = e + 1;
        }
        *out = sb_take(&b);
        return 0;
    }
    case HF_OPT_PATH: {
        char *pth = *v ? path_join(dir, v) : hf_strdup("");
        size_t l = strlen(pth);
        /* "a /." normalises to "a ": not representable in a suite file */
        if ((l > 0 && is_ws((unsigned char)pth[l - 1])) || value_check(pth, why, nwhy)) {
            if (l > 0 && is_ws((unsigned char)pth[l - 1]))
                snprintf(why, nwhy, "path '%s' ends in whitespace once normalised", echo(eb, pth));
            free(pth);
            return -1;
        }
        *out = pth;
        return 0;
    }
    }
    snprintf(why, nwhy, "options table: unknown type %d", (int)o->type);
    return -1;
}

/* ------------------------------------------------------------------------- */
/* The parser                                                                */
/* ------------------------------------------------------------------------- */

typedef struct {
    const char *disp;   /* name in messages (as given / joined lexically) */
    const char *dir;    /* absolute directory, for includes and PATH values */
    const char *id;     /* realpath (or absolute path), for loop detection */
    int *seen;          /* per table key: line where this file set it, 0 = not */
} frame_t;

typedef struct {
    hf_conf_t *c;
    const hf_opt_t *t;
    int n;
    char *cwd;
    char **defs;        /* normalised defaults, per table key */
    char **secs;        /* section names in table order of first appearance */
    int nsecs;
    int *sweep_of;      /* per table key: index in c->sweep, -1 = not swept */
    long nvariants;     /* product of sweep list lengths */
    frame_t stack[CONF_MAX_DEPTH + 1];
    int depth;          /* frames in use */
    int nfiles;         /* files opened through include */
    char *line;         /* scratch buffer for one line */
} parser_t;

static int table_find(const parser_t *p, const char *key)
{
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->t[i].key, key) == 0) return i;
    return -1;
}

/* Length of the section part of a table key ("data" in "data.path"). */
static size_t key_seclen(const char *key)
{
    const char *dot = strchr(key, '.');
    return dot ? (size_t)(dot - key) : strlen(key);
}

static int section_find(const parser_t *p, const char *name)
{
    for (int i = 0; i < p->nsecs; i++)
        if (strcmp(p->secs[i], name) == 0) return i;
    return -1;
}

/* Sets the message "WHERE: key 'KEY': reason" (why may hold a did-you-mean). */
static int err_key(const char *where, const char *key, const char *why)
{
    char eb[ECHO_BUF];
    return hf_seterr(HF_EINPUT, "%s: key '%s': %s", where, echo(eb, key), why);
}

/* Expand, trim, check and normalise raw text for option idx. */
static int value_resolve(parser_t *p, int idx, const char *raw, const char *dir,
                         const char *where, char **out)
{
    char why[512];
    char *x = expand(raw, why, sizeof why);
    if (!x) return err_key(where, p->t[idx].key, why);
    char *v = trim(x);
    int r = value_check(v, why, sizeof why);
    if (r == 0) r = opt_norm(&p->t[idx], v, dir, out, why, sizeof why);
    free(x);
    if (r) return err_key(where, p->t[idx].key, why);
    return 0;
}

static void slot_set(hf_conf_t *c, int idx, char *value, char *origin)
{
    free(c->e[idx].value);
    free(c->e[idx].origin);
    c->e[idx].value = value;
    c->e[idx].origin = origin;
}

static char *origin_at(const char *disp, int line)
{
    sb_t b = {0};
    sb_printf(&b, "%s:%d", disp, line);
    return sb_take(&b);
}

/* did-you-mean for an unknown key: whole dotted keys by edit distance, the
 * short key within the same section, and the same short key elsewhere. */
static void suggest_key(const parser_t *p, const char *full, const char *sec, const char *shortk,
                        char *buf, size_t n)
{
    sugg_t s;
    sugg_init(&s, full);
    sugg_t ss;
    sugg_init(&ss, shortk ? shortk : "");
    const char *elsewhere = NULL;
    for (int i = 0; i < p->n; i++) {
        const char *k = p->t[i].key;
        size_t sl = key_seclen(k);
        sugg_try(&s, k, NULL);
        if (!shortk || !k[sl]) continue;
        if (sec && strlen(sec) == sl && strncmp(k, sec, sl) == 0) sugg_try(&ss, k + sl + 1, k);
        else if (!elsewhere && strcmp(k + sl + 1, shortk) == 0) elsewhere = k;
    }
    if (ss.score < s.score) s = ss;
    if (s.score == INT_MAX && elsewhere) {
        s.score = 0;
        snprintf(s.best, sizeof s.best, "%.120s", elsewhere);
    }
    sugg_text(&s, buf, n);
    if (s.score == INT_MAX) buf[0] = 0;
}

static int parse_text(parser_t *p, const char *buf, size_t len);

static int do_include(parser_t *p, const char *raw, const char *where)
{
    frame_t *f = &p->stack[p->depth - 1];
    char eb[ECHO_BUF], why[512];
    char *x = expand(raw, why, sizeof why);
    if (!x) return hf_seterr(HF_EINPUT, "%s: include: %s", where, why);
    char *v = trim(x);
    if (!*v) {
        free(x);
        return hf_seterr(HF_EINPUT, "%s: include: empty path", where);
    }
    echo(eb, v);
    if (p->depth > CONF_MAX_DEPTH) {
        free(x);
        return hf_seterr(HF_EINPUT, "%s: include '%s': includes nested more than %d deep",
                         where, eb, CONF_MAX_DEPTH);
    }
    if (p->nfiles >= CONF_MAX_FILES) {
        free(x);
        return hf_seterr(HF_EINPUT, "%s: include '%s': more than %d files included in total",
                         where, eb, CONF_MAX_FILES);
    }
    char *abs = path_join(f->dir, v);
    char *ddir = path_dirname(f->disp);
    char *disp = path_join(ddir, v);
    free(ddir);
    char *data = NULL;
    size_t len = 0;
    int rc = 0;
    char *id = NULL, *dir = NULL;
    if (file_read(abs, &data, &len, why, sizeof why)) {
        rc = hf_seterr(HF_EINPUT, "%s: include '%s': %s", where, eb, why);
        goto out;
    }
    p->nfiles++;
    id = realpath(abs, NULL);
    if (!id) id = hf_strdup(abs);
    for (int i = 0; i < p->depth; i++) {
        if (strcmp(p->stack[i].id, id) != 0) continue;
        sb_t chain = {0};
        char e2[NAME_BUF];
        for (int j = i; j < p->depth; j++) {
            sb_add(&chain, echo_name(e2, p->stack[j].disp));
            sb_add(&chain, " -> ");
        }
        sb_add(&chain, echo_name(e2, disp));
        rc = hf_seterr(HF_EINPUT, "%s: include '%s': include loop (%s)", where, eb, chain.s);
        free(chain.s);
        goto out;
    }
    dir = path_dirname(abs);
    frame_t *nf = &p->stack[p->depth++];
    nf->disp = disp;
    nf->dir = dir;
    nf->id = id;
    nf->seen = hf_calloc((size_t)p->n, sizeof(int));
    rc = parse_text(p, data, len);
    free(nf->seen);
    p->depth--;
out:
    free(x);
    free(abs);
    free(disp);
    free(data);
    free(id);
    free(dir);
    return rc;
}

/* One "key = value" line in [sweep]. */
static int do_sweep(parser_t *p, const char *key, char *val, const char *where, const char *origin)
{
    hf_conf_t *c = p->c;
    frame_t *f = &p->stack[p->depth - 1];
    char eb[ECHO_BUF], sb[200];
    int idx = table_find(p, key);
    if (idx < 0) {
        size_t sl = key_seclen(key);
        char *sec = key[sl] ? str_ndup(key, sl) : NULL;
        suggest_key(p, key, sec, key[sl] ? key + sl + 1 : key, sb, sizeof sb);
        free(sec);
        return hf_seterr(HF_EINPUT, "%s: key '%s': unknown key in [sweep] (use section.key)%s",
                         where, echo(eb, key), sb);
    }
    if (p->sweep_of[idx] >= 0)
        return hf_seterr(HF_EINPUT, "%s: key '%s': listed twice in [sweep] (first at %s)", where,
                         key, c->sweep[p->sweep_of[idx]].origin);
    /* Split first, then expand each value: a '|' from the environment is data. */
    int cnt = 1;
    for (const char *q = val; *q; q++) cnt += *q == '|';
    char **vals = hf_calloc((size_t)cnt, sizeof *vals);
    char *q = val;
    for (int i = 0; i < cnt; i++) {
        char *e = strchr(q, '|');
        if (e) *e = 0;
        char *t = trim(q);
        int r;
        if (!*t) {
            r = err_key(where, key, cnt == 1 ? "empty sweep list (expected v1 | v2 | ...)"
                                             : "empty value in sweep list");
        } else {
            r = value_resolve(p, idx, t, f->dir, where, &vals[i]);
        }
        if (r) {
            for (int j = 0; j < i; j++) free(vals[j]);
            free(vals);
            return r;
        }
        q = e ? e + 1 : q + strlen(q);
    }
    if ((long long)p->nvariants * cnt > CONF_MAX_VARIANTS) {
        for (int j = 0; j < cnt; j++) free(vals[j]);
        free(vals);
        return hf_seterr(HF_EINPUT, "%s: key '%s': the sweep has more than %d variants", where, key,
                         CONF_MAX_VARIANTS);
    }
    p->nvariants *= cnt;
    c->sweep = hf_realloc(c->sweep, (size_t)(c->nsweep + 1) * sizeof *c->sweep);
    hf_sweep_t *s = &c->sweep[c->nsweep];
    s->key = hf_strdup(key);
    s->values = vals;
    s->nvalues = cnt;
    s->origin = hf_strdup(origin);
    p->sweep_of[idx] = c->nsweep++;
    return 0;
}

/* One "name = claim" line in [expect]: kept as text (src/cli/expect.c reads
 * it); a name given twice, in any of the files, is an error. */
static int do_expect(parser_t *p, const char *key, const char *val, const char *where, const char *origin)
{
    hf_conf_t *c = p->c;
    for (int i = 0; i < c->nexpect; i++)
        if (strcmp(c->expect[i].key, key) == 0)
            return hf_seterr(HF_EINPUT, "%s: key '%s': listed twice in [expect] (first at %s)", where, key,
                             c->expect[i].origin);
    if (!*val) return err_key(where, key, "empty expectation (expected METRIC: vB OP vA, see docs/keys.md)");
    char why[512];
    if (value_check(val, why, sizeof why)) return err_key(where, key, why);
    c->expect = hf_realloc(c->expect, (size_t)(c->nexpect + 1) * sizeof *c->expect);
    hf_conf_entry_t *e = &c->expect[c->nexpect++];
    e->key = hf_strdup(key);
    e->value = hf_strdup(val);
    e->origin = hf_strdup(origin);
    return 0;
}

/* Parse one file's text (already in memory) into p, as the top frame. */
static int parse_text(parser_t *p, const char *buf, size_t len)
{
    frame_t *f = &p->stack[p->depth - 1];
    int lineno = 0;
    int sec = -1;          /* current section (index in p->secs), -2 = [sweep], -3 = [expect] */
    char eb[ECHO_BUF], eb2[NAME_BUF], where[NAME_BUF + 24], sb[200];
    size_t pos = 0;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) pos = 3;  /* UTF-8 byte-order mark */
    echo_name(eb2, f->disp);
    while (pos < len) {
        const char *ls = buf + pos;
        const char *nl = memchr(ls, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - ls) : len - pos;
        pos += ll + (nl ? 1 : 0);
        lineno++;
        snprintf(where, sizeof where, "%s:%d", eb2, lineno);
        if (ll > 0 && ls[ll - 1] == '\r') ll--;
        if (ll > CONF_MAX_LINE)
            return hf_seterr(HF_EINPUT, "%s: line is longer than %d bytes", where, CONF_MAX_LINE);
        const char *nul = memchr(ls, 0, ll);
        if (nul)
            return hf_seterr(HF_EINPUT, "%s: NUL byte at column %zu", where, (size_t)(nul - ls) + 1);
        size_t bad = utf8_check(ls, ll);
        if (bad < ll)
            return hf_seterr(HF_EINPUT, "%s: invalid UTF-8 (byte 0x%02x at column %zu)", where,
                             (unsigned char)ls[bad], bad + 1);
        memcpy(p->line, ls, ll);
        p->line[ll] = 0;
        char *s = trim(p->line);
        if (!*s || *s == '#') continue;

        if (*s == '[') {
            char *close = strchr(s, ']');
            if (!close)
                return hf_seterr(HF_EINPUT, "%s: missing ']' in section header '%s'", where, echo(eb, s));
            char *rest = trim(close + 1);
            if (*rest && *rest != '#')
                return hf_seterr(HF_EINPUT, "%s: unexpected text '%s' after section header", where,
                                 echo(eb, rest));
            *close = 0;
            char *name = trim(s + 1);
            int valid = *name != 0;
            for (char *q = name; *q; q++) valid = valid && is_section_char((unsigned char)*q);
            if (strcmp(name, "sweep") == 0 || strcmp(name, "expect") == 0) {
                sec = name[0] == 's' ? -2 : -3;
                continue;
            }
            int si = valid ? section_find(p, name) : -1;
            if (si >= 0) {
                sec = si;
                continue;
            }
            sugg_t sg;
            sugg_init(&sg, name);
            char low[160];
            size_t nl2 = strlen(name);
            if (nl2 < sizeof low) {  /* "[Data]" → did you mean '[data]'? */
                for (size_t i = 0; i <= nl2; i++) low[i] = (char)to_lower((unsigned char)name[i]);
                if (section_find(p, low) >= 0 || strcmp(low, "sweep") == 0 || strcmp(low, "expect") == 0) {
                    sg.score = -1;
                    snprintf(sg.best, sizeof sg.best, "[%.120s]", low);
                }
            }
            for (int i = 0; i < p->nsecs; i++) {
                char shown[128];
                snprintf(shown, sizeof shown, "[%.120s]", p->secs[i]);
                sugg_try(&sg, p->secs[i], shown);
            }
            sugg_try(&sg, "sweep", "[sweep]");
            sugg_try(&sg, "expect", "[expect]");
            if (!valid)
                return hf_seterr(HF_EINPUT, "%s: invalid section name '[%s]' (use a-z, 0-9, '_', '-')%s",
                                 where, echo(eb, name), sugg_text(&sg, sb, sizeof sb));
            return hf_seterr(HF_EINPUT, "%s: unknown section '[%s]'%s", where, echo(eb, name),
                             sugg_text(&sg, sb, sizeof sb));
        }

        char *eq = strchr(s, '=');
        if (!eq)
            return hf_seterr(HF_EINPUT, "%s: expected 'key = value' or '[section]', got '%s'", where,
                             echo(eb, s));
        *eq = 0;
        char *key = trim(s);
        char *val = eq + 1;
        for (char *q = val; *q; q++) {  /* comment: '#' at the start or after whitespace */
            if (*q == '#' && (q == val || q[-1] == ' ' || q[-1] == '\t')) {
                *q = 0;
                break;
            }
        }
        val = trim(val);
        if (!*key) return hf_seterr(HF_EINPUT, "%s: empty key before '='", where);
        for (char *q = key; *q; q++)
            if (!is_key_char((unsigned char)*q))
                return hf_seterr(HF_EINPUT, "%s: invalid key '%s' (use letters, digits, '_', '-', '.')",
                                 where, echo(eb, key));
        if (strcmp(key, "include") == 0) {
            int r = do_include(p, val, where);
            if (r) return r;
            continue;
        }
        char *origin = origin_at(f->disp, lineno);
        int r;
        if (sec == -1) {
            /* Which section would this key belong to? */
            const char *home = NULL;
            for (int i = 0; i < p->n && !home; i++) {
                size_t sl = key_seclen(p->t[i].key);
                if (p->t[i].key[sl] && strcmp(p->t[i].key + sl + 1, key) == 0) home = p->t[i].key;
                else if (strcmp(p->t[i].key, key) == 0) home = p->t[i].key;
            }
            r = hf_seterr(HF_EINPUT, "%s: key '%s' is outside any [section]", where, echo(eb, key));
            if (home) {
                size_t sl = key_seclen(home);
                hf_addhint("'%s' belongs under [%.*s], written as '%s = ...'", home, (int)sl, home,
                           home + sl + 1);
            } else {
                hf_addhint("put keys under a [section] header; only include = may come first");
            }
        } else if (sec == -2) {
            r = do_sweep(p, key, val, where, origin);
        } else if (sec == -3) {
            r = do_expect(p, key, val, where, origin);
        } else {
            const char *sname = p->secs[sec];
            sb_t fb = {0};
            sb_add(&fb, sname);
            sb_addc(&fb, '.');
            sb_add(&fb, key);
            int idx = table_find(p, fb.s);
            if (idx < 0) {
                suggest_key(p, fb.s, sname, key, sb, sizeof sb);
                r = hf_seterr(HF_EINPUT, "%s: key '%s': unknown key in section [%s]%s", where,
                              echo(eb, fb.s), sname, sb);
            } else if (f->seen[idx]) {
                r = hf_seterr(HF_EINPUT, "%s: key '%s': set twice in this file (first at line %d)",
                              where, fb.s, f->seen[idx]);
            } else {
                char *nv = NULL;
                r = value_resolve(p, idx, val, f->dir, where, &nv);
                if (!r) {
                    slot_set(p->c, idx, nv, origin);
                    origin = NULL;
                    f->seen[idx] = lineno;
                }
            }
            free(fb.s);
        }
        free(origin);
        if (r) return r;
    }
    return 0;
}

/* Check the table and normalise its defaults into p->defs; build p->secs. */
static int table_prepare(parser_t *p)
{
    char why[512], eb[ECHO_BUF];
    p->defs = hf_calloc((size_t)p->n, sizeof *p->defs);
    p->secs = hf_calloc((size_t)p->n, sizeof *p->secs);
    for (int i = 0; i < p->n; i++) {
        const hf_opt_t *o = &p->t[i];
        size_t sl = key_seclen(o->key);
        int ok = sl > 0 && o->key[sl] == '.' && o->key[sl + 1] != 0;
        for (size_t j = 0; ok && j < sl; j++) ok = is_section_char((unsigned char)o->key[j]);
        for (const char *q = o->key + sl + (ok ? 1 : 0); ok && *q; q++)
            ok = is_key_char((unsigned char)*q);
        if (ok && sl == 5 && strncmp(o->key, "sweep", 5) == 0) ok = 0;
        if (ok && sl == 6 && strncmp(o->key, "expect", 6) == 0) ok = 0;
        if (!ok)
            return hf_seterr(HF_ERUNTIME, "options table: invalid key '%s' (expected section.key)",
                             echo(eb, o->key));
        for (int j = 0; j < i; j++)
            if (strcmp(p->t[j].key, o->key) == 0)
                return hf_seterr(HF_ERUNTIME, "options table: key '%s' is listed twice", o->key);
        if (o->type == HF_OPT_CHOICE && !o->choices)
            return hf_seterr(HF_ERUNTIME, "options table: key '%s': choice without choices", o->key);
        const char *def = o->def ? o->def : "";
        if (value_check(def, why, sizeof why) || opt_norm(o, def, p->cwd, &p->defs[i], why, sizeof why))
            return hf_seterr(HF_ERUNTIME, "options table: key '%s': default '%s': %s", o->key,
                             echo(eb, def), why);
        char *sec = str_ndup(o->key, sl);
        if (section_find(p, sec) < 0) p->secs[p->nsecs++] = sec;
        else free(sec);
    }
    return 0;
}

/* One --set "section.key=value". */
static int do_override(parser_t *p, const char *ov)
{
    char eb[ECHO_BUF], sb[200];
    if (!ov) return hf_seterr(HF_EINPUT, "--set: missing argument");
    echo(eb, ov);
    char where[ECHO_BUF + 16];
    snprintf(where, sizeof where, "--set '%s'", eb);
    size_t n = strlen(ov);
    if (utf8_check(ov, n) < n) return hf_seterr(HF_EINPUT, "%s: not valid UTF-8", where);
    const char *eq = strchr(ov, '=');
    if (!eq)
        return hf_seterr(HF_EINPUT, "%s: expected section.key=value (e.g. --set federation.rounds=50)",
                         where);
    char *keybuf = str_ndup(ov, (size_t)(eq - ov));
    char *key = trim(keybuf);
    int idx = table_find(p, key);
    int r;
    if (idx < 0) {
        size_t sl = key_seclen(key);
        char *sec = key[sl] ? str_ndup(key, sl) : NULL;
        suggest_key(p, key, sec, key[sl] ? key + sl + 1 : key, sb, sizeof sb);
        free(sec);
        char eb2[ECHO_BUF];
        r = hf_seterr(HF_EINPUT, "%s: unknown key '%s'%s", where, echo(eb2, key), sb);
    } else {
        char *nv = NULL;
        r = value_resolve(p, idx, eq + 1, p->cwd, where, &nv);
        if (!r) slot_set(p->c, idx, nv, hf_strdup("--set"));
    }
    free(keybuf);
    return r;
}

static void parser_free(parser_t *p)
{
    if (p->defs)
        for (int i = 0; i < p->n; i++) free(p->defs[i]);
    free(p->defs);
    if (p->secs)
        for (int i = 0; i < p->nsecs; i++) free(p->secs[i]);
    free(p->secs);
    free(p->sweep_of);
    free(p->cwd);
    free(p->line);
}

/* The whole load, from text already in memory; `name` is the file's name. */
static int conf_run(hf_conf_t *c, const char *buf, size_t len, const char *name,
                    const hf_opt_t *table, char *const *overrides, int noverrides, int variant)
{
    parser_t p;
    memset(&p, 0, sizeof p);
    p.c = c;
    p.t = table;
    p.nvariants = 1;
    c->path = hf_strdup(name);
    c->table = table;
    c->variant = -1;
    int rc = 0;
    char *dname = NULL, *top_dir = NULL, *top_id = NULL, *top_abs = NULL;
    p.cwd = get_cwd();
    if (!p.cwd) {
        rc = hf_seterr(HF_ERUNTIME, "cannot determine the current directory: %s", strerror(errno));
        goto out;
    }
    while (table[p.n].key) p.n++;
    if ((rc = table_prepare(&p))) goto out;
    c->n = p.n;
    c->e = hf_calloc((size_t)p.n, sizeof *c->e);
    for (int i = 0; i < p.n; i++) c->e[i].key = hf_strdup(table[i].key);
    p.sweep_of = hf_malloc((size_t)(p.n ? p.n : 1) * sizeof(int));
    for (int i = 0; i < p.n; i++) p.sweep_of[i] = -1;
    p.line = hf_malloc(CONF_MAX_LINE + 1);

    dname = path_dirname(name);
    top_dir = path_join(p.cwd, dname);
    top_abs = path_join(p.cwd, name);
    top_id = realpath(name, NULL);
    frame_t *f = &p.stack[p.depth++];
    f->disp = name;
    f->dir = top_dir;
    f->id = top_id ? top_id : top_abs;
    f->seen = hf_calloc((size_t)(p.n ? p.n : 1), sizeof(int));
    rc = parse_text(&p, buf, len);
    free(f->seen);
    p.depth = 0;
    if (rc) goto out;

    /* The variant. */
    if (variant < -1 || variant >= p.nvariants) {
        char eb[NAME_BUF];
        rc = hf_seterr(HF_EINPUT, "variant %d out of range: %s has %ld variant%s (0..%ld)", variant,
                       echo_name(eb, name), p.nvariants, p.nvariants == 1 ? "" : "s", p.nvariants - 1);
        if (c->nsweep == 0) hf_addhint("%s has no [sweep] section: only variant 0 exists", eb);
        goto out;
    }
    c->variant = variant;
    if (variant >= 0) {
        long v = variant;
        for (int k = c->nsweep - 1; k >= 0; k--) {
            hf_sweep_t *s = &c->sweep[k];
            int j = (int)(v % s->nvalues);
            v /= s->nvalues;
            sb_t o = {0};
            sb_add(&o, "sweep ");
            sb_add(&o, s->origin);
            slot_set(c, table_find(&p, s->key), hf_strdup(s->values[j]), sb_take(&o));
        }
    }

    /* Overrides, then defaults. */
    for (int i = 0; i < noverrides && !rc; i++) rc = do_override(&p, overrides ? overrides[i] : NULL);
    if (rc) goto out;
    for (int i = 0; i < p.n; i++) {
        if (c->e[i].value) continue;
        c->e[i].value = p.defs[i];
        p.defs[i] = NULL;
        c->e[i].origin = hf_strdup("default");
    }
out:
    free(dname);
    free(top_dir);
    free(top_id);
    free(top_abs);
    parser_free(&p);
    if (rc) hf_conf_free(c);
    return rc;
}

/* ------------------------------------------------------------------------- */
/* Public entry points                                                       */
/* ------------------------------------------------------------------------- */

int hf_conf_load_mem(hf_conf_t *c, const char *data, size_t len, const char *name,
                     const hf_opt_t *table, char *const *overrides, int noverrides, int variant)
{
    if (!c) return hf_seterr(HF_ERUNTIME, "hf_conf_load: no configuration to fill");
    memset(c, 0, sizeof *c);
    c->variant = -1;
    if (!table) return hf_seterr(HF_ERUNTIME, "hf_conf_load: no options table");
    if (!name || !*name) name = "<string>";
    if (!data) len = 0;
    if (len > CONF_MAX_FILE)
        return hf_seterr(HF_EINPUT, "%s: file is larger than %u MiB", name, CONF_MAX_FILE >> 20);
    return conf_run(c, data ? data : "", len, name, table, overrides, noverrides, variant);
}

int hf_conf_load_string(hf_conf_t *c, const char *text, const char *name, const hf_opt_t *table,
                        char *const *overrides, int noverrides, int variant)
{
    size_t len = text ? strnlen(text, (size_t)CONF_MAX_FILE + 1) : 0;
    return hf_conf_load_mem(c, text, len, name, table, overrides, noverrides, variant);
}

int hf_conf_load(hf_conf_t *c, const char *path, const hf_opt_t *table,
                 char *const *overrides, int noverrides, int variant)
{
    if (!c) return hf_seterr(HF_ERUNTIME, "hf_conf_load: no configuration to fill");
    memset(c, 0, sizeof *c);
    c->variant = -1;
    if (!path || !*path) return hf_seterr(HF_EINPUT, "no suite file given");
    char *data = NULL, why[512], eb[NAME_BUF];
    size_t len = 0;
    if (file_read(path, &data, &len, why, sizeof why))
        return hf_seterr(HF_EINPUT, "%s: %s", echo_name(eb, path), why);
    int rc = hf_conf_load_mem(c, data, len, path, table, overrides, noverrides, variant);
    free(data);
    return rc;
}

void hf_conf_free(hf_conf_t *c)
{
    if (!c) return;
    for (int i = 0; i < c->n && c->e; i++) {
        free(c->e[i].key);
        free(c->e[i].value);
        free(c->e[i].origin);
    }
    free(c->e);
    for (int i = 0; i < c->nsweep; i++) {
        free(c->sweep[i].key);
        for (int j = 0; j < c->sweep[i].nvalues; j++) free(c->sweep[i].values[j]);
        free(c->sweep[i].values);
        free(c->sweep[i].origin);
    }
    free(c->sweep);
    for (int i = 0; i < c->nexpect; i++) {
        free(c->expect[i].key);
        free(c->expect[i].value);
        free(c->expect[i].origin);
    }
    free(c->expect);
    free(c->path);
    memset(c, 0, sizeof *c);
    c->variant = -1;
}

int hf_conf_nvariants(const hf_conf_t *c)
{
    if (!c) return 1;
    long n = 1;
    for (int i = 0; i < c->nsweep; i++) n *= c->sweep[i].nvalues;
    return (int)n;
}

void hf_conf_variant_desc(const hf_conf_t *c, int v, char *buf, size_t n)
{
    if (!buf || n == 0) return;
    buf[0] = 0;
    if (!c || c->nsweep == 0 || v < 0 || v >= hf_conf_nvariants(c)) return;
    int *idx = hf_malloc((size_t)c->nsweep * sizeof *idx);
    long r = v;
    for (int k = c->nsweep - 1; k >= 0; k--) {
        idx[k] = (int)(r % c->sweep[k].nvalues);
        r /= c->sweep[k].nvalues;
    }
    size_t o = 0;
    for (int k = 0; k < c->nsweep && o < n; k++) {
        int w = snprintf(buf + o, n - o, "%s%s=%s", k ? " " : "", c->sweep[k].key,
                         c->sweep[k].values[idx[k]]);
        if (w < 0) break;
        o += (size_t)w;
    }
    free(idx);
}

static const hf_conf_entry_t *entry_find(const hf_conf_t *c, const char *key)
{
    if (!c || !key || !c->e) return NULL;
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->e[i].key, key) == 0) return &c->e[i];
    return NULL;
}

const char *hf_conf_get(const hf_conf_t *c, const char *key)
{
    const hf_conf_entry_t *e = entry_find(c, key);
    return e ? e->value : NULL;
}

const char *hf_conf_origin(const hf_conf_t *c, const char *key)
{
    const hf_conf_entry_t *e = entry_find(c, key);
    return e ? e->origin : NULL;
}

int hf_key_err(const hf_conf_t *c, const char *key, const char *fmt, ...)
{
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *o = hf_conf_origin(c, key);
    return hf_seterr(HF_EINPUT, "%s: key '%s': %s", o ? o : "default", key, msg);
}

int hf_key_wrap(const hf_conf_t *c, const char *key, int rc)
{
    const char *o = hf_conf_origin(c, key);
    if (rc == 0 || !o || !strcmp(o, "default")) return rc;
    char msg[4096];
    snprintf(msg, sizeof msg, "%s", hf_errmsg());
    return hf_seterr(rc, "%s: key '%s': %s", o, key, msg);
}

long hf_conf_int(const hf_conf_t *c, const char *key)
{
    const char *v = hf_conf_get(c, key);
    return v ? strtol(v, NULL, 10) : 0;
}

double hf_conf_float(const hf_conf_t *c, const char *key)
{
    const char *v = hf_conf_get(c, key);
    return v ? strtod(v, NULL) : 0.0;
}

int hf_conf_bool(const hf_conf_t *c, const char *key)
{
    const char *v = hf_conf_get(c, key);
    return v && strcmp(v, "yes") == 0;
}

int hf_conf_intlist(const hf_conf_t *c, const char *key, int *out, int max)
{
    const char *v = hf_conf_get(c, key);
    if (!v || !*v) return 0;
    int cnt = 0;
    const char *q = v;
    for (;;) {
        char *end;
        long x = strtol(q, &end, 10);
        if (end == q) break;
        if (out && cnt < max) out[cnt] = (int)x;
        cnt++;
        while (*end == ' ' || *end == '\t') end++;
        if (*end != ',') break;
        q = end + 1;
    }
    return out ? HF_MIN(cnt, max < 0 ? 0 : max) : cnt;
}

/* Append v as a suite value: '$' before '$' or '{' is doubled. */
static void dump_value(sb_t *b, const char *v)
{
    for (const char *q = v; *q; q++) {
        if (*q == '$' && (q[1] == '$' || q[1] == '{')) sb_addc(b, '$');
        sb_addc(b, *q);
    }
}

/* Comment text: control characters become '?' so a comment stays one line. */
static void dump_comment(sb_t *b, const char *s)
{
    for (const char *q = s; *q; q++)
        sb_addc(b, ((unsigned char)*q < 0x20 || *q == 0x7f) ? '?' : *q);
}

char *hf_conf_dump(const hf_conf_t *c, int with_origin)
{
    sb_t b = {0};
    sb_addn(&b, "", 0);
    if (!c || !c->e) return sb_take(&b);
    if (with_origin && c->path) {
        sb_add(&b, "# resolved configuration of ");
        dump_comment(&b, c->path);
        sb_addc(&b, '\n');
        if (c->variant >= 0 && c->nsweep > 0) {
            char desc[1024];
            hf_conf_variant_desc(c, c->variant, desc, sizeof desc);
            sb_printf(&b, "# variant %d of %d: ", c->variant, hf_conf_nvariants(c));
            dump_comment(&b, desc);
            sb_addc(&b, '\n');
        }
    }
    char *done = hf_calloc((size_t)(c->n ? c->n : 1), 1);
    for (int i = 0; i < c->n; i++) {
        if (done[i]) continue;
        const char *key = c->e[i].key;
        size_t sl = key_seclen(key);
        /* widths of this section's keys and "key = value" texts */
        size_t kw = 0, lw = 0;
        for (int j = i; j < c->n; j++) {
            const char *kj = c->e[j].key;
            if (key_seclen(kj) != sl || strncmp(kj, key, sl) != 0) continue;
            size_t k = strlen(kj + sl + (kj[sl] ? 1 : 0));
            if (k > kw) kw = k;
        }
        for (int j = i; j < c->n; j++) {
            const char *kj = c->e[j].key;
            if (key_seclen(kj) != sl || strncmp(kj, key, sl) != 0) continue;
            size_t l = kw + 3 + strlen(c->e[j].value);
            if (l > lw && l <= 48) lw = l;
        }
        if (b.len) sb_addc(&b, '\n');
        sb_printf(&b, "[%.*s]\n", (int)sl, key);
        for (int j = i; j < c->n; j++) {
            const char *kj = c->e[j].key;
            if (key_seclen(kj) != sl || strncmp(kj, key, sl) != 0) continue;
            done[j] = 1;
            size_t start = b.len;
            const char *shortk = kj + sl + (kj[sl] ? 1 : 0);
            sb_printf(&b, "%-*s =", (int)kw, shortk);
            if (*c->e[j].value) {
                sb_addc(&b, ' ');
                dump_value(&b, c->e[j].value);
            }
            if (with_origin) {
                size_t l = b.len - start;
                do sb_addc(&b, ' '); while (++l < lw + 2);
                sb_add(&b, "# ");
                dump_comment(&b, c->e[j].origin ? c->e[j].origin : "");
            }
            sb_addc(&b, '\n');
        }
    }
    free(done);
    return sb_take(&b);
}
