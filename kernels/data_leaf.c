/*
 * data_leaf.c — reader for LEAF-format JSON data sets (Caldas et al. 2018; also
 * FedProx's synthetic data):
 *
 *   {"users": ["u1", ...], "num_samples": [n1, ...],
 *    "user_data": {"u1": {"x": [[f, f, ...], ...], "y": [l, ...]}, ...}}
 *
 * Top-level keys and the keys inside a user's entry may come in any order;
 * unknown keys (e.g. LEAF's "hierarchies") are skipped.  The output holds the
 * samples of every listed user, concatenated in the order of "users", with a
 * natural partition of one client per user.  Users present in "user_data" but not
 * listed in "users" are ignored, as LEAF's own loaders do.
 *
 * The parser is a small hand-written recursive-descent one over a memory buffer
 * (no external JSON library).  It never reads outside [buf, buf+len), recurses
 * only while skipping unknown values (depth capped at JP_MAX_DEPTH), and turns
 * every defect into HF_EINPUT "NAME:LINE: what is wrong".  Strict RFC 8259
 * numbers are required (so "1.", ".5", "+1", "01", NaN are rejected); labels may
 * be written as integral floats ("5.0", as FedProx writes them).
 */
#include "data.h"
#include "hf_util.h"
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define JP_MAX_DEPTH 64

/* Parser state over one buffer. */
typedef struct {
    const char *p, *end;
    const char *name;
    long line;
} jp_t;

/* Growable arrays. */
typedef struct { float *a; size_t n, cap; } fvec_t;
typedef struct { int *a; size_t n, cap; } ivec_t;
typedef struct { long *a; size_t n, cap; } lvec_t;

static void fvec_push(fvec_t *v, float x)
{
    if (v->n == v->cap) { v->cap = v->cap ? 2 * v->cap : 1024; v->a = hf_realloc(v->a, v->cap * sizeof *v->a); }
    v->a[v->n++] = x;
}
static void ivec_push(ivec_t *v, int x)
{
    if (v->n == v->cap) { v->cap = v->cap ? 2 * v->cap : 256; v->a = hf_realloc(v->a, v->cap * sizeof *v->a); }
    v->a[v->n++] = x;
}
static void lvec_push(lvec_t *v, long x)
{
    if (v->n == v->cap) { v->cap = v->cap ? 2 * v->cap : 64; v->a = hf_realloc(v->a, v->cap * sizeof *v->a); }
    v->a[v->n++] = x;
}

/* A user name from "users" (line: where it was read). */
typedef struct { char *s; size_t len; long line; } jname_t;

/* A user's entry of "user_data": its rows live in the shared x/y vectors. */
typedef struct {
    char *s; size_t len; long line;
    int has_x, has_y;
    size_t xoff, nrows;   /* floats offset and row count in the x vector */
    size_t yoff, ny;      /* offset and count in the y vector */
    int used;             /* listed in "users" already */
} juser_t;

/* Everything collected while parsing. */
typedef struct {
    int has_users, has_ns, has_ud;
    long users_line, ns_line;
    jname_t *users; size_t nusers, cusers;
    lvec_t ns;
    juser_t *ud; size_t nud, cud;
    fvec_t x;
    ivec_t y;
    int dim;              /* 0 until the first row */
    int xkind, ykind;     /* 0 none yet, 1 numbers, 2 strings (text) */
} jdoc_t;

int hf_leaf_letter(int ch)
{
    static const char L[] = HF_LEAF_LETTERS;
    if (ch <= 0) return -1;
    const char *q = memchr(L, ch, sizeof L - 1);
    return q ? (int)(q - L) : -1;
}

/* Printable form of a character for messages. */
static const char *char_desc(unsigned char c, char *b, size_t n)
{
    if (c >= 0x20 && c < 0x7f) snprintf(b, n, "'%c'", c);
    else snprintf(b, n, "byte 0x%02x", c);
    return b;
}


static int jp_fail(jp_t *j, const char *fmt, ...) HF_PRINTF(2, 3);
static int jp_fail(jp_t *j, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return hf_seterr(HF_EINPUT, "%s:%ld: %s", j->name, j->line, msg);
}

/* Kind check: a document's rows (labels) are all numbers or all strings. */
static int jp_kind(jp_t *j, int *kind, int now, const char *what)
{
    if (*kind && *kind != now)
        return jp_fail(j, "%s mixes numbers and strings", what);
    *kind = now;
    return HF_OK;
}

/* Printable description of the current byte, for messages. */
static const char *jp_found(jp_t *j, char *buf, size_t n)
{
    if (j->p >= j->end) return "end of input";
    unsigned char c = (unsigned char)*j->p;
    if (c >= 0x20 && c < 0x7f) snprintf(buf, n, "'%c'", c);
    else snprintf(buf, n, "byte 0x%02x", c);
    return buf;
}

static void jp_ws(jp_t *j)
{
    while (j->p < j->end) {
        char c = *j->p;
        if (c == '\n') j->line++;
        else if (c != ' ' && c != '\t' && c != '\r') break;
        j->p++;
    }
}

/* Skip whitespace; 1 if the next byte is c (consumed). */
static int jp_accept(jp_t *j, char c)
{
    jp_ws(j);
    if (j->p < j->end && *j->p == c) { j->p++; return 1; }
    return 0;
}

static int jp_expect(jp_t *j, char c, const char *ctx)
{
    if (jp_accept(j, c)) return HF_OK;
    char b[32];
    return jp_fail(j, "expected '%c' %s, found %s", c, ctx, jp_found(j, b, sizeof b));
}

/* After an element of an array/object: 1 = another follows (','), 0 = closed, <0 error. */
static int jp_next(jp_t *j, char close, const char *ctx)
{
    if (jp_accept(j, ',')) return 1;
    if (jp_accept(j, close)) return 0;
    char b[32];
    jp_fail(j, "expected ',' or '%c' in %s, found %s", close, ctx, jp_found(j, b, sizeof b));
    return -1;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int jp_hex4(jp_t *j, unsigned *u)
{
    if (j->end - j->p < 4) return jp_fail(j, "truncated \\u escape in string");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(j->p[i]);
        if (h < 0) return jp_fail(j, "bad \\u escape in string");
        v = v << 4 | (unsigned)h;
    }
    j->p += 4;
    *u = v;
    return HF_OK;
}

static void put_utf8(char **o, unsigned cp)
{
    char *q = *o;
    if (cp < 0x80) *q++ = (char)cp;
    else if (cp < 0x800) { *q++ = (char)(0xC0 | cp >> 6); *q++ = (char)(0x80 | (cp & 0x3F)); }
    else if (cp < 0x10000) {
        *q++ = (char)(0xE0 | cp >> 12); *q++ = (char)(0x80 | (cp >> 6 & 0x3F));
        *q++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *q++ = (char)(0xF0 | cp >> 18); *q++ = (char)(0x80 | (cp >> 12 & 0x3F));
        *q++ = (char)(0x80 | (cp >> 6 & 0x3F)); *q++ = (char)(0x80 | (cp & 0x3F));
    }
    *o = q;
}

/* A JSON string; *out (malloc'd, NUL-terminated, may contain NULs: use *outlen)
 * or NULL to only validate and skip. */
static int jp_string(jp_t *j, char **out, size_t *outlen)
{
    if (out) *out = NULL;
    jp_ws(j);
    if (j->p >= j->end || *j->p != '"') {
        char b[32];
        return jp_fail(j, "expected a string, found %s", jp_found(j, b, sizeof b));
    }
    j->p++;
    /* The decoded string is never longer than the raw one. */
    const char *q = j->p;
    while (q < j->end && *q != '"') q += (*q == '\\' && q + 1 < j->end) ? 2 : 1;
    size_t cap = (size_t)(q - j->p) + 1;
    char *s = out ? hf_malloc(cap) : NULL, *o = s;
    for (;;) {
        if (j->p >= j->end) { free(s); return jp_fail(j, "unterminated string"); }
        unsigned char c = (unsigned char)*j->p++;
        if (c == '"') break;
        if (c < 0x20) { free(s); j->p--; return jp_fail(j, "control character 0x%02x in string", c); }
        if (c != '\\') { if (o) *o++ = (char)c; continue; }
        if (j->p >= j->end) { free(s); return jp_fail(j, "unterminated string"); }
        char e = *j->p++;
        char lit;
        switch (e) {
        case '"': lit = '"'; break;
        case '\\': lit = '\\'; break;
        case '/': lit = '/'; break;
        case 'b': lit = '\b'; break;
        case 'f': lit = '\f'; break;
        case 'n': lit = '\n'; break;
        case 'r': lit = '\r'; break;
        case 't': lit = '\t'; break;
        case 'u': {
            unsigned u;
            if (jp_hex4(j, &u)) { free(s); return HF_EINPUT; }
            if (u >= 0xD800 && u < 0xDC00 && j->end - j->p >= 6 && j->p[0] == '\\' && j->p[1] == 'u') {
                const char *save = j->p;
                unsigned lo;
                j->p += 2;
                if (jp_hex4(j, &lo)) { free(s); return HF_EINPUT; }
                if (lo >= 0xDC00 && lo < 0xE000) u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                else j->p = save;  /* lone high surrogate: kept as is */
            }
            /* \uXXXX is 6 raw bytes, a pair 12: the UTF-8 form (<= 3 resp. 4) fits. */
            if (o) put_utf8(&o, u);
            continue;
        }
        default:
            free(s);
            j->p--;
            return jp_fail(j, "invalid escape '\\%c' in string", e >= 0x20 && e < 0x7f ? e : '?');
        }
        if (o) *o++ = lit;
    }
    if (out) {
        *o = 0;
        *out = s;
        *outlen = (size_t)(o - s);
    }
    return HF_OK;
}

/* A JSON number (strict grammar) → *v.  Overflow → error. */
static int jp_number(jp_t *j, double *v)
{
    jp_ws(j);
    const char *s = j->p, *q = s, *e = j->end;
    char b[32];
    if (q < e && *q == '-') q++;
    if (q >= e || !(*q >= '0' && *q <= '9'))
        return jp_fail(j, "expected a number, found %s", jp_found(j, b, sizeof b));
    if (*q == '0') q++;
    else while (q < e && *q >= '0' && *q <= '9') q++;
    if (q < e && *q == '.') {
        q++;
        if (q >= e || !(*q >= '0' && *q <= '9')) { j->p = q; return jp_fail(j, "malformed number: no digits after '.'"); }
        while (q < e && *q >= '0' && *q <= '9') q++;
    }
    if (q < e && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < e && (*q == '+' || *q == '-')) q++;
        if (q >= e || !(*q >= '0' && *q <= '9')) { j->p = q; return jp_fail(j, "malformed number: no digits in exponent"); }
        while (q < e && *q >= '0' && *q <= '9') q++;
    }
    if (q < e && ((*q >= '0' && *q <= '9') || *q == '.' || *q == 'e' || *q == 'E' ||
                  *q == '+' || *q == '-' || (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z'))) {
        j->p = q;
        return jp_fail(j, "malformed number");
    }
    size_t n = (size_t)(q - s);
    char sbuf[128];
    char *tmp = n < sizeof sbuf ? sbuf : hf_malloc(n + 1);
    memcpy(tmp, s, n);
    tmp[n] = 0;
    errno = 0;
    double d = strtod(tmp, NULL);
    int range = errno == ERANGE && isinf(d);
    if (tmp != sbuf) free(tmp);
    if (range || !isfinite(d))
        return jp_fail(j, "number %.*s%s is out of range", (int)HF_MIN(n, 40), s, n > 40 ? "..." : "");
    j->p = q;
    *v = d;
    return HF_OK;
}

static int jp_literal(jp_t *j, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(j->end - j->p) >= n && memcmp(j->p, lit, n) == 0) { j->p += n; return HF_OK; }
    char b[32];
    return jp_fail(j, "unexpected %s", jp_found(j, b, sizeof b));
}

/* Skip any JSON value. */
static int jp_skip(jp_t *j, int depth)
{
    char b[32];
    jp_ws(j);
    if (j->p >= j->end) return jp_fail(j, "expected a value, found end of input");
    if (depth > JP_MAX_DEPTH) return jp_fail(j, "nesting deeper than %d levels", JP_MAX_DEPTH);
    switch (*j->p) {
    case '{':
        j->p++;
        if (jp_accept(j, '}')) return HF_OK;
        for (;;) {
            if (jp_string(j, NULL, NULL) || jp_expect(j, ':', "after an object key") ||
                jp_skip(j, depth + 1))
                return HF_EINPUT;
            int k = jp_next(j, '}', "an object");
            if (k < 0) return HF_EINPUT;
            if (k == 0) return HF_OK;
        }
    case '[':
        j->p++;
        if (jp_accept(j, ']')) return HF_OK;
        for (;;) {
            if (jp_skip(j, depth + 1)) return HF_EINPUT;
            int k = jp_next(j, ']', "an array");
            if (k < 0) return HF_EINPUT;
            if (k == 0) return HF_OK;
        }
    case '"': return jp_string(j, NULL, NULL);
    case 't': return jp_literal(j, "true");
    case 'f': return jp_literal(j, "false");
    case 'n': return jp_literal(j, "null");
    default:
        if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9')) {
            double v;
            return jp_number(j, &v);
        }
        return jp_fail(j, "expected a value, found %s", jp_found(j, b, sizeof b));
    }
}

/* A non-negative integer (integral floats like 5.0 accepted) no larger than max. */
static int jp_count(jp_t *j, double max, const char *what, long *out)
{
    double v;
    if (jp_number(j, &v)) return HF_EINPUT;
    if (v < 0 || v != floor(v) || v > max)
        return jp_fail(j, "%s %g is not an integer in [0, %.0f]", what, v, max);
    *out = (long)v;
    return HF_OK;
}

/* "users": [strings] */
static int leaf_users(jp_t *j, jdoc_t *doc)
{
    if (jp_expect(j, '[', "to open \"users\"")) return HF_EINPUT;
    if (jp_accept(j, ']')) return HF_OK;
    for (;;) {
        jp_ws(j);
        jname_t u = { NULL, 0, j->line };
        if (jp_string(j, &u.s, &u.len)) return HF_EINPUT;
        if (doc->nusers == doc->cusers) {
            doc->cusers = doc->cusers ? 2 * doc->cusers : 64;
            doc->users = hf_realloc(doc->users, doc->cusers * sizeof *doc->users);
        }
        doc->users[doc->nusers++] = u;
        int k = jp_next(j, ']', "\"users\"");
        if (k < 0) return HF_EINPUT;
        if (k == 0) return HF_OK;
    }
}

/* "num_samples": [counts] */
static int leaf_num_samples(jp_t *j, jdoc_t *doc)
{
    if (jp_expect(j, '[', "to open \"num_samples\"")) return HF_EINPUT;
    if (jp_accept(j, ']')) return HF_OK;
    for (;;) {
        long v;
        if (jp_count(j, 9007199254740992.0, "num_samples entry", &v)) return HF_EINPUT;
        lvec_push(&doc->ns, v);
        int k = jp_next(j, ']', "\"num_samples\"");
        if (k < 0) return HF_EINPUT;
        if (k == 0) return HF_OK;
    }
}

/* "x": [[numbers], ...] appended to doc->x. */
static int leaf_x(jp_t *j, jdoc_t *doc, juser_t *u)
{
    u->xoff = doc->x.n;
    u->nrows = 0;
    if (jp_expect(j, '[', "to open \"x\" (a list of rows)")) return HF_EINPUT;
    if (jp_accept(j, ']')) return HF_OK;
    for (;;) {
        long cols = 0;
        jp_ws(j);
        if (j->p < j->end && *j->p == '"') {  /* text row: LEAF Shakespeare */
            if (jp_kind(j, &doc->xkind, 2, "\"x\"")) return HF_EINPUT;
            char *str;
            size_t sl;
            if (jp_string(j, &str, &sl)) return HF_EINPUT;
            for (size_t i = 0; i < sl; i++) {
                int id = hf_leaf_letter((unsigned char)str[i]);
                if (id < 0) {
                    char b[32];
                    jp_fail(j, "character %s (position %zu of row %zu of user \"%s\") is not in LEAF's "
                            "80-symbol vocabulary", char_desc((unsigned char)str[i], b, sizeof b), i,
                            u->nrows, u->s);
                    free(str);
                    return HF_EINPUT;
                }
                fvec_push(&doc->x, (float)id);
            }
            free(str);
            cols = (long)sl;
            if (cols > (long)(1 << 30)) return jp_fail(j, "row of \"x\" is too long");
        } else {
            if (jp_kind(j, &doc->xkind, 1, "\"x\"")) return HF_EINPUT;
            if (jp_expect(j, '[', "to open a row of \"x\"")) return HF_EINPUT;
            if (!jp_accept(j, ']')) {
                for (;;) {
                    double v;
                    if (jp_number(j, &v)) return HF_EINPUT;
                    if (fabs(v) > FLT_MAX) return jp_fail(j, "feature value %g does not fit a float", v);
                    fvec_push(&doc->x, (float)v);
                    cols++;
                    if (cols > (long)(1 << 30)) return jp_fail(j, "row of \"x\" is too long");
                    int k = jp_next(j, ']', "a row of \"x\"");
                    if (k < 0) return HF_EINPUT;
                    if (k == 0) break;
                }
            }
        }
        if (cols == 0) return jp_fail(j, "empty row in \"x\" of user \"%s\"", u->s);
        if (doc->dim == 0) doc->dim = (int)cols;
        else if (cols != doc->dim)
            return jp_fail(j, "row of %ld values in \"x\" of user \"%s\"; earlier rows have %d",
                           cols, u->s, doc->dim);
        u->nrows++;
        int k = jp_next(j, ']', "\"x\"");
        if (k < 0) return HF_EINPUT;
        if (k == 0) return HF_OK;
    }
}

/* "y": [labels] appended to doc->y. */
static int leaf_y(jp_t *j, jdoc_t *doc, juser_t *u)
{
    u->yoff = doc->y.n;
    u->ny = 0;
    if (jp_expect(j, '[', "to open \"y\" (a list of labels)")) return HF_EINPUT;
    if (jp_accept(j, ']')) return HF_OK;
    for (;;) {
        long v;
        jp_ws(j);
        if (j->p < j->end && *j->p == '"') {  /* next-character label: LEAF Shakespeare */
            if (jp_kind(j, &doc->ykind, 2, "\"y\"")) return HF_EINPUT;
            char *str;
            size_t sl;
            if (jp_string(j, &str, &sl)) return HF_EINPUT;
            int id = sl == 1 ? hf_leaf_letter((unsigned char)str[0]) : -1;
            char b[32];
            if (sl != 1) jp_fail(j, "label %zu of user \"%s\" is a string of %zu characters, not one",
                                 u->ny, u->s, sl);
            else if (id < 0)
                jp_fail(j, "label %zu of user \"%s\": character %s is not in LEAF's 80-symbol "
                        "vocabulary", u->ny, u->s, char_desc((unsigned char)str[0], b, sizeof b));
            free(str);
            if (id < 0) return HF_EINPUT;
            v = id;
        } else {
            if (jp_kind(j, &doc->ykind, 1, "\"y\"")) return HF_EINPUT;
            if (jp_count(j, HF_LEAF_MAX_LABEL, "label", &v)) return HF_EINPUT;
        }
        ivec_push(&doc->y, (int)v);
        u->ny++;
        int k = jp_next(j, ']', "\"y\"");
        if (k < 0) return HF_EINPUT;
        if (k == 0) return HF_OK;
    }
}

/* One user's entry: {"x": ..., "y": ...}. */
static int leaf_user(jp_t *j, jdoc_t *doc, juser_t *u)
{
    if (jp_expect(j, '{', "to open a user's data")) return HF_EINPUT;
    if (!jp_accept(j, '}')) {
        for (;;) {
            char *key;
            size_t klen;
            if (jp_string(j, &key, &klen)) return HF_EINPUT;
            int isx = klen == 1 && key[0] == 'x', isy = klen == 1 && key[0] == 'y';
            free(key);
            if (jp_expect(j, ':', "after a key")) return HF_EINPUT;
            if ((isx && u->has_x) || (isy && u->has_y))
                return jp_fail(j, "duplicate key \"%c\" in user \"%s\"", isx ? 'x' : 'y', u->s);
            int rc = isx ? leaf_x(j, doc, u) : isy ? leaf_y(j, doc, u) : jp_skip(j, 2);
            if (rc) return rc;
            if (isx) u->has_x = 1;
            if (isy) u->has_y = 1;
            int k = jp_next(j, '}', "a user's data");
            if (k < 0) return HF_EINPUT;
            if (k == 0) break;
        }
    }
    if (!u->has_x || !u->has_y) {
        j->line = u->line;
        return jp_fail(j, "user \"%s\" has no \"%c\"", u->s, u->has_x ? 'y' : 'x');
    }
    if (u->nrows != u->ny) {
        j->line = u->line;
        return jp_fail(j, "user \"%s\" has %zu rows in \"x\" but %zu labels in \"y\"", u->s,
                       u->nrows, u->ny);
    }
    return HF_OK;
}

/* "user_data": {name: {...}, ...} */
static int leaf_user_data(jp_t *j, jdoc_t *doc)
{
    if (jp_expect(j, '{', "to open \"user_data\"")) return HF_EINPUT;
    if (jp_accept(j, '}')) return HF_OK;
    for (;;) {
        jp_ws(j);
        if (doc->nud == doc->cud) {
            doc->cud = doc->cud ? 2 * doc->cud : 64;
            doc->ud = hf_realloc(doc->ud, doc->cud * sizeof *doc->ud);
        }
        juser_t *u = &doc->ud[doc->nud];
        memset(u, 0, sizeof *u);
        u->line = j->line;
        if (jp_string(j, &u->s, &u->len)) return HF_EINPUT;
        doc->nud++;  /* owned by doc from here: freed on every path */
        if (jp_expect(j, ':', "after a user name")) return HF_EINPUT;
        if (leaf_user(j, doc, u)) return HF_EINPUT;
        int k = jp_next(j, '}', "\"user_data\"");
        if (k < 0) return HF_EINPUT;
        if (k == 0) return HF_OK;
    }
}

static int cmp_juser(const void *a, const void *b)
{
    const juser_t *x = a, *y = b;
    size_t n = HF_MIN(x->len, y->len);
    int c = memcmp(x->s, y->s, n);
    if (c) return c;
    return (x->len > y->len) - (x->len < y->len);
}

static void jdoc_free(jdoc_t *doc)
{
    for (size_t i = 0; i < doc->nusers; i++) free(doc->users[i].s);
    for (size_t i = 0; i < doc->nud; i++) free(doc->ud[i].s);
    free(doc->users);
    free(doc->ud);
    free(doc->ns.a);
    free(doc->x.a);
    free(doc->y.a);
}

/* Parse the whole document into doc. */
static int leaf_document(jp_t *j, jdoc_t *doc)
{
    /* A UTF-8 byte-order mark is tolerated. */
    if (j->end - j->p >= 3 && memcmp(j->p, "\xEF\xBB\xBF", 3) == 0) j->p += 3;
    if (jp_expect(j, '{', "at the start of a LEAF JSON document")) return HF_EINPUT;
    if (!jp_accept(j, '}')) {
        for (;;) {
            char *key;
            size_t klen;
            if (jp_string(j, &key, &klen)) return HF_EINPUT;
            int which = 0;
            if (klen == 5 && !memcmp(key, "users", 5)) which = 1;
            else if (klen == 11 && !memcmp(key, "num_samples", 11)) which = 2;
            else if (klen == 9 && !memcmp(key, "user_data", 9)) which = 3;
            free(key);
            if (jp_expect(j, ':', "after a key")) return HF_EINPUT;
            int *seen = which == 1 ? &doc->has_users : which == 2 ? &doc->has_ns
                      : which == 3 ? &doc->has_ud : NULL;
            if (seen && *seen)
                return jp_fail(j, "duplicate key \"%s\"",
                               which == 1 ? "users" : which == 2 ? "num_samples" : "user_data");
            jp_ws(j);
            int rc;
            switch (which) {
            case 1: doc->users_line = j->line; rc = leaf_users(j, doc); break;
            case 2: doc->ns_line = j->line; rc = leaf_num_samples(j, doc); break;
            case 3: rc = leaf_user_data(j, doc); break;
            default: rc = jp_skip(j, 1);
            }
            if (rc) return rc;
            if (seen) *seen = 1;
            int k = jp_next(j, '}', "the top-level object");
            if (k < 0) return HF_EINPUT;
            if (k == 0) break;
        }
    }
    jp_ws(j);
    if (j->p < j->end) {
        char b[32];
        return jp_fail(j, "unexpected %s after the end of the JSON document", jp_found(j, b, sizeof b));
    }
    if (!doc->has_users) return jp_fail(j, "no \"users\" list");
    if (!doc->has_ns) return jp_fail(j, "no \"num_samples\" list");
    if (!doc->has_ud) return jp_fail(j, "no \"user_data\" object");
    if (doc->nusers != doc->ns.n) {
        j->line = doc->ns_line;
        return jp_fail(j, "\"num_samples\" has %zu entries but \"users\" has %zu", doc->ns.n,
                       doc->nusers);
    }
    return HF_OK;
}

static int leaf_parse_opts(const char *buf, size_t len, const char *name, const hf_leaf_opts_t *o,
                           hf_dataset_t *d, hf_partition_t *p)
{
    int given = o->n_classes;
    memset(d, 0, sizeof *d);
    memset(p, 0, sizeof *p);
    if (!name) name = "<leaf>";
    jp_t j = { buf, buf + (buf ? len : 0), name, 1 };
    jdoc_t doc;
    memset(&doc, 0, sizeof doc);
    int rc = leaf_document(&j, &doc);

    /* Match "users" against "user_data". */
    juser_t **match = NULL;
    long total = 0;
    if (!rc) {
        if (doc.nud > 1) qsort(doc.ud, doc.nud, sizeof *doc.ud, cmp_juser);
        for (size_t i = 1; i < doc.nud && !rc; i++)
            if (cmp_juser(&doc.ud[i - 1], &doc.ud[i]) == 0) {
                j.line = HF_MAX(doc.ud[i - 1].line, doc.ud[i].line);
                rc = jp_fail(&j, "user \"%s\" appears twice in \"user_data\"", doc.ud[i].s);
            }
    }
    if (!rc) {
        if (doc.nusers > (size_t)INT32_MAX - 1) {
            rc = jp_fail(&j, "too many users");
        } else {
            match = hf_calloc(HF_MAX(doc.nusers, 1), sizeof *match);
        }
    }
    for (size_t i = 0; !rc && i < doc.nusers; i++) {
        jname_t *un = &doc.users[i];
        juser_t key = { .s = un->s, .len = un->len };
        juser_t *u = doc.nud ? bsearch(&key, doc.ud, doc.nud, sizeof *doc.ud, cmp_juser) : NULL;
        j.line = un->line;
        if (!u) { rc = jp_fail(&j, "user \"%s\" has no entry in \"user_data\"", un->s); break; }
        if (u->used) { rc = jp_fail(&j, "user \"%s\" is listed twice in \"users\"", un->s); break; }
        u->used = 1;
        if ((long)u->nrows != doc.ns.a[i]) {
            j.line = u->line;
            rc = jp_fail(&j, "user \"%s\": \"num_samples\" says %ld but \"x\" has %zu rows",
                         un->s, doc.ns.a[i], u->nrows);
            break;
        }
        match[i] = u;
        total += (long)u->nrows;
    }
    if (!rc && (total == 0 || doc.dim == 0)) {
        j.line = doc.users_line;
        rc = jp_fail(&j, "no samples in any listed user");
    }
    for (size_t i = 0; !rc && o->max_classes > 0 && i < doc.nusers; i++)
        for (size_t r = 0; r < match[i]->ny; r++)
            if (doc.y.a[match[i]->yoff + r] >= o->max_classes) {
                j.line = match[i]->line;
                rc = jp_fail(&j, "user \"%s\": label %zu is %d, out of range [0,%d)", match[i]->s, r,
                             doc.y.a[match[i]->yoff + r], o->max_classes);
                break;
            }
    for (size_t i = 0; !rc && o->nonempty && i < doc.nusers; i++)
        if (match[i]->nrows == 0) {
            j.line = match[i]->line;
            rc = jp_fail(&j, "user \"%s\" has no samples", match[i]->s);
        }
    if (!rc && o->text && doc.xkind != (o->text > 0 ? 2 : 1)) {
        j.line = doc.users_line;
        rc = jp_fail(&j, "rows of \"x\" are %s; this data set needs %s", doc.xkind == 2 ? "strings" : "numbers",
                     o->text > 0 ? "text (strings of characters)" : "numbers");
    }
    if (!rc && o->img_c > 0 && (long)doc.dim != (long)o->img_c * o->img_h * o->img_w) {
        j.line = doc.users_line;
        rc = jp_fail(&j, "rows of \"x\" have %d values; this data set's images are %dx%dx%d = %d",
                     doc.dim, o->img_c, o->img_h, o->img_w, o->img_c * o->img_h * o->img_w);
    }
    if (!rc) {
        int maxlab = -1;  /* over listed users only */
        for (size_t i = 0; i < doc.nusers; i++)
            for (size_t r = 0; r < match[i]->ny; r++)
                maxlab = HF_MAX(maxlab, doc.y.a[match[i]->yoff + r]);
        int nc = maxlab + 1;
        if (given > nc && given <= HF_LEAF_MAX_LABEL + 1) nc = given;
        if (doc.ykind == 2 && nc < HF_LEAF_VOCAB) nc = HF_LEAF_VOCAB;
        if (o->max_classes > 0) nc = o->max_classes;
        if (o->img_c > 0) hf_dataset_alloc(d, total, o->img_c, o->img_h, o->img_w, nc);
        else hf_dataset_alloc(d, total, 1, 1, doc.dim, nc);
        if (doc.xkind == 2) d->vocab = HF_LEAF_VOCAB;
        p->nclients = (int)doc.nusers;
        p->off = hf_malloc((doc.nusers + 1) * sizeof(long));
        p->idx = hf_malloc((size_t)total * sizeof(long));
        p->off[0] = 0;
        long row = 0;
        size_t dim = (size_t)doc.dim;
        for (size_t i = 0; i < doc.nusers; i++) {
            juser_t *u = match[i];
            memcpy(d->x + (size_t)row * dim, doc.x.a + u->xoff, u->nrows * dim * sizeof(float));
            memcpy(d->y + row, doc.y.a + u->yoff, u->ny * sizeof(int));
            for (size_t r = 0; r < u->nrows; r++) p->idx[row + (long)r] = row + (long)r;
            row += (long)u->nrows;
            p->off[i + 1] = row;
        }
    }
    free(match);
    jdoc_free(&doc);
    return rc;
}

int hf_leaf_parse(const char *buf, size_t len, const char *name, hf_dataset_t *d, hf_partition_t *p)
{
    hf_leaf_opts_t o = { .n_classes = d->n_classes };
    return leaf_parse_opts(buf, len, name, &o, d, p);
}

int hf_leaf_load_opts(const char *path, const hf_leaf_opts_t *o, hf_dataset_t *d, hf_partition_t *p)
{
    unsigned char *buf;
    size_t len;
    memset(d, 0, sizeof *d);
    memset(p, 0, sizeof *p);
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return hf_seterr(HF_EINPUT, "%s: not a regular file", path);
    int rc = hf_file_slurp(path, &buf, &len);
    if (rc) return rc;
    rc = leaf_parse_opts((const char *)buf, len, path, o, d, p);
    free(buf);
    return rc;
}

int hf_leaf_load(const char *path, hf_dataset_t *d, hf_partition_t *p)
{
    hf_leaf_opts_t o = { .n_classes = d->n_classes };
    return hf_leaf_load_opts(path, &o, d, p);
}
