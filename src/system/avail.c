/*
 * avail.c — availability traces: storage and queries, the text format, the
 * generators and the importers of real traces (avail.h says what each does).
 *
 * Why intervals rather than per-round states: the federation loop asks
 * "is k online at the round start?" and "when does k go offline?" at
 * arbitrary simulated instants (drop-outs happen inside a round, FedBuff has
 * no rounds at all), so a trace is a set of exact online intervals and both
 * questions are a binary search.
 */
#include "avail.h"

/* Largest client count a trace may describe: federation.clients' own maximum.
 * (A larger '# clients' header or id would only allocate per-client arrays for
 * clients no suite can have — the fuzzer found 13-byte traces asking for 7e7.) */
#define HF_AVAIL_MAX_CLIENTS 100000
#include "hf_util.h"
#include "provenance.h"
#include "rng.h"
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* purposes (third key word) of the availability streams */
enum { AVS_STATE = 1, AVS_TYPES, AVS_TZ, AVS_WITHDRAW, AVS_SHIFT, AVS_SHUFFLE, AVS_TRANSFER };

const hf_avmodel_info_t hf_avail_models[] = {
    {"always", HF_AV_ALWAYS, "every client online all the time"},
    {"markov", HF_AV_MARKOV, "two-state Markov chain per client (pi, lambda), one step per slot_s; "
                              "mix uniform or CA-Fed client types"},
    {"diurnal", HF_AV_DIURNAL, "online on_hours a day from start_hour local time, per-client time "
                                "zone, per-day jitter"},
    {"cyclic", HF_AV_CYCLIC, "client k in group k mod groups; the groups are online in turn, "
                              "cycle_s/groups each"},
    {"sessions", HF_AV_SESSIONS, "alternating on/off sessions, Weibull or lognormal durations"},
    {"trace", HF_AV_TRACE, "intervals from availability.file (client,start_s,end_s)"},
    {NULL, 0, NULL}
};

int hf_avail_model_from_name(const char *name, hf_avmodel_t *out)
{
    for (const hf_avmodel_info_t *m = hf_avail_models; m->name; m++)
        if (!strcmp(m->name, name)) { *out = m->model; return 0; }
    return HF_EINPUT;
}

/* ------------------------------------------------------------- storage --- */

void hf_avail_init(hf_avail_t *av, int nclients)
{
    memset(av, 0, sizeof *av);
    av->nclients = nclients;
    av->off = hf_calloc((size_t)nclients + 1, sizeof(long));
    av->build_k = -1;
    av->cap = 16;
    av->iv = hf_malloc((size_t)av->cap * 2 * sizeof(double));
}

void hf_avail_init_always(hf_avail_t *av, int nclients)
{
    hf_avail_init(av, nclients);
    hf_avail_finish(av);
    av->always = 1;
}

void hf_avail_free(hf_avail_t *av)
{
    free(av->off);
    free(av->iv);
    free(av->leave_s);
    memset(av, 0, sizeof *av);
}

/* Intervals are appended client by client: while building, off[k] is set when
 * the first interval of a client after build_k arrives, and hf_avail_finish
 * fills the offsets of the clients after the last one (O(1) amortised per
 * interval). */
void hf_avail_add(hf_avail_t *av, int k, double s, double e)
{
    if (!(e > s) || k < av->build_k || k >= av->nclients) return;
    long n = av->nint;
    for (int j = av->build_k + 1; j <= k; j++) av->off[j] = n;
    av->build_k = k;
    if (n > av->off[k] && s <= av->iv[2 * (n - 1) + 1]) {  /* touches or overlaps: merge */
        if (e > av->iv[2 * (n - 1) + 1]) av->iv[2 * (n - 1) + 1] = e;
        return;
    }
    if (n == av->cap) {
        av->cap *= 2;
        av->iv = hf_realloc(av->iv, (size_t)av->cap * 2 * sizeof(double));
    }
    av->iv[2 * n] = s;
    av->iv[2 * n + 1] = e;
    av->nint = n + 1;
}

void hf_avail_finish(hf_avail_t *av)
{
    for (int j = av->build_k + 1; j <= av->nclients; j++) av->off[j] = av->nint;
    av->build_k = av->nclients;
}

/* ------------------------------------------------------------- queries --- */

/* index of the last interval of k starting at or before t, or first-1 */
static long find_iv(const hf_avail_t *av, int k, double t)
{
    long lo = av->off[k], hi = av->off[k + 1] - 1, ans = av->off[k] - 1;
    while (lo <= hi) {
        long mid = lo + (hi - lo) / 2;
        if (av->iv[2 * mid] <= t) { ans = mid; lo = mid + 1; }
        else hi = mid - 1;
    }
    return ans;
}

static int base_online(const hf_avail_t *av, int k, double t)
{
    if (av->always) return 1;
    if (av->period_s > 0) t = t - floor(t / av->period_s) * av->period_s;
    long i = find_iv(av, k, t);
    return i >= av->off[k] && t < av->iv[2 * i + 1];
}

/* next instant > t where the base (un-withdrawn) state changes */
static double base_next_change(const hf_avail_t *av, int k, double t)
{
    if (av->always) return INFINITY;
    long a = av->off[k], b = av->off[k + 1];
    if (a == b) return INFINITY;
    double P = av->period_s, base = 0.0, tt = t;
    if (P > 0) {
        base = floor(t / P) * P;
        tt = t - base;
        if (tt >= P) { base += P; tt = 0; }
    }
    int on = base_online(av, k, t);
    /* an interval ending at P continues into an interval starting at 0 */
    int wraps = P > 0 && av->iv[2 * a] <= 0.0 && av->iv[2 * (b - 1) + 1] >= P;
    if (wraps && a + 1 == b) return INFINITY;  /* [0,P): always on */
    long i = find_iv(av, k, tt);
    if (on) {
        double e = av->iv[2 * i + 1];
        if (P > 0 && e >= P && wraps) return base + P + av->iv[2 * a + 1];
        return base + e;
    }
    if (i + 1 < b) return base + av->iv[2 * (i + 1)];
    if (P > 0) return base + P + av->iv[2 * a];
    return INFINITY;
}

int hf_avail_online(const hf_avail_t *av, int k, double t)
{
    if (av->leave_s && t >= av->leave_s[k]) return 0;
    return base_online(av, k, t);
}

double hf_avail_next_change(const hf_avail_t *av, int k, double t)
{
    double leave = av->leave_s ? av->leave_s[k] : INFINITY;
    if (t >= leave) return INFINITY;
    double n = base_next_change(av, k, t);
    if (base_online(av, k, t)) return n < leave ? n : leave;
    return n < leave ? n : INFINITY;
}

int hf_avail_count(const hf_avail_t *av, double t, unsigned char *mask)
{
    int c = 0;
    for (int k = 0; k < av->nclients; k++) {
        int o = hf_avail_online(av, k, t);
        if (mask) mask[k] = (unsigned char)o;
        c += o;
    }
    return c;
}

double hf_avail_fraction(const hf_avail_t *av, int k, double horizon)
{
    if (!(horizon > 0)) return 0.0;
    double on = 0.0, t = 0.0;
    while (t < horizon) {
        double n = hf_avail_next_change(av, k, t);
        if (n > horizon) n = horizon;
        if (hf_avail_online(av, k, t)) on += n - t;
        t = n;
    }
    return on / horizon;
}

int hf_avail_dropout(const hf_avail_t *av, int k, double start, double t_down, double t_comp,
                     double t_up, double *at, double *spent_comm, double *spent_comp)
{
    double fin = start + t_down + t_comp + t_up;
    if (!hf_avail_online(av, k, start)) {  /* not online at all: nothing done */
        *at = start;
        *spent_comm = *spent_comp = 0.0;
        return 1;
    }
    double off = hf_avail_next_change(av, k, start);
    if (!(off < fin)) return 0;
    double w = off - start;
    *at = off;
    *spent_comp = HF_MIN(HF_MAX(w - t_down, 0.0), t_comp);
    *spent_comm = w - *spent_comp;   /* download, and any upload begun */
    return 1;
}

/* ------------------------------------------------------ loader, writer --- */

typedef struct { int k; long line; double s, e; } row_t;

static int parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    while (*s == ' ' || *s == '\t') s++;
    if (!*s) return -1;
    double v = strtod(s, &end);
    while (*end == ' ' || *end == '\t' || *end == '\r') end++;
    if (*end || errno == ERANGE || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

/* "# key = value" header comment: returns 1 and the value when it matches */
static int header_value(const char *line, const char *key, double *v)
{
    const char *p = line + 1;
    while (*p == ' ' || *p == '\t') p++;
    size_t n = strlen(key);
    if (strncmp(p, key, n)) return 0;
    p += n;
    while (*p == ' ' || *p == '\t') p++;
    if (*p != '=') return 0;
    return parse_double(p + 1, v) == 0 ? 1 : -1;
}

int hf_avail_load_mem(hf_avail_t *av, const char *text, size_t len, const char *name, int nclients)
{
    memset(av, 0, sizeof *av);
    long cap = 1024, n = 0, lineno = 0;
    row_t *rows = hf_malloc((size_t)cap * sizeof *rows);
    double period = 0.0, hclients = -1;
    int maxk = -1, seen_data = 0;
    const char *p = text, *end = text + len;
    char *buf = hf_malloc(65536 + 1);
    int rc = 0;
    while (p < end && !rc) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        lineno++;
        if (l > 65536) { rc = hf_seterr(HF_EINPUT, "%s:%ld: line too long", name, lineno); break; }
        memcpy(buf, p, l);
        buf[l] = 0;
        p += l + (nl ? 1 : 0);
        if (l && buf[l - 1] == '\r') buf[--l] = 0;
        if (memchr(buf, 0, l) != NULL && strlen(buf) != l) {
            rc = hf_seterr(HF_EINPUT, "%s:%ld: NUL byte", name, lineno);
            break;
        }
        char *s = buf;
        while (*s == ' ' || *s == '\t') s++;
        if (!*s) continue;
        if (*s == '#') {
            double v;
            int h;
            if ((h = header_value(s, "period_s", &v))) {
                if (h < 0 || !(v > 0) || seen_data)
                    rc = hf_seterr(HF_EINPUT, "%s:%ld: period_s must be a positive number, before "
                                   "the first interval", name, lineno);
                else period = v;
            } else if ((h = header_value(s, "clients", &v))) {
                if (h < 0 || v < 1 || v > HF_AVAIL_MAX_CLIENTS || v != floor(v) || seen_data)
                    rc = hf_seterr(HF_EINPUT, "%s:%ld: clients must be an integer in [1, %d], before "
                                   "the first interval", name, lineno, HF_AVAIL_MAX_CLIENTS);
                else hclients = v;
            }
            continue;
        }
        if (!seen_data && isalpha((unsigned char)*s)) {  /* column header */
            if (strncmp(s, "client,start_s,end_s", 20) && strncmp(s, "client,start,end", 16)) {
                rc = hf_seterr(HF_EINPUT, "%s:%ld: expected the header 'client,start_s,end_s' or an "
                               "interval, got '%.40s'", name, lineno, s);
            }
            seen_data = 1;
            continue;
        }
        seen_data = 1;
        char *f[3];
        int nf = hf_split_csv(s, f, 3);
        if (nf != 3) {
            rc = hf_seterr(HF_EINPUT, "%s:%ld: expected 3 fields client,start_s,end_s, got %d",
                           name, lineno, nf);
            break;
        }
        long k;
        double st, en;
        if (hf_parse_long(f[0], &k) || k < 0 || k >= HF_AVAIL_MAX_CLIENTS) {
            rc = hf_seterr(HF_EINPUT, "%s:%ld: bad client id '%s' (expected 0..%d)", name, lineno,
                           f[0], HF_AVAIL_MAX_CLIENTS - 1);
            break;
        }
        if (parse_double(f[1], &st) || parse_double(f[2], &en)) {
            rc = hf_seterr(HF_EINPUT, "%s:%ld: bad number (start_s '%s', end_s '%s'; finite "
                           "decimal numbers expected)", name, lineno, f[1], f[2]);
            break;
        }
        if (st < 0 || !(en > st)) {
            rc = hf_seterr(HF_EINPUT, "%s:%ld: interval [%g, %g) must have 0 <= start_s < end_s",
                           name, lineno, st, en);
            break;
        }
        if (period > 0 && en > period) {
            rc = hf_seterr(HF_EINPUT, "%s:%ld: interval end %g beyond period_s = %g", name, lineno,
                           en, period);
            break;
        }
        if (n == cap) { cap *= 2; rows = hf_realloc(rows, (size_t)cap * sizeof *rows); }
        rows[n++] = (row_t){(int)k, lineno, st, en};
        if (k > maxk) maxk = (int)k;
    }
    free(buf);
    int N = nclients > 0 ? nclients : hclients > 0 ? (int)hclients : maxk + 1;
    if (!rc && N <= 0) rc = hf_seterr(HF_EINPUT, "%s: no intervals and no '# clients' header", name);
    for (long i = 0; i < n && !rc; i++)
        if (rows[i].k >= N)
            rc = hf_seterr(HF_EINPUT, "%s:%ld: unknown client %d (%d clients%s)", name, rows[i].line,
                           rows[i].k, N, nclients > 0 ? " in the suite" : " in the '# clients' header");
    if (rc) { free(rows); return rc; }
    /* stable counting sort by client, then per-client order checks */
    long *cnt = hf_calloc((size_t)N + 1, sizeof(long));
    for (long i = 0; i < n; i++) cnt[rows[i].k + 1]++;
    for (int k = 0; k < N; k++) cnt[k + 1] += cnt[k];
    row_t *sorted = hf_malloc((size_t)(n ? n : 1) * sizeof *sorted);
    long *pos = hf_malloc(((size_t)N + 1) * sizeof(long));
    memcpy(pos, cnt, ((size_t)N + 1) * sizeof(long));
    for (long i = 0; i < n; i++) sorted[pos[rows[i].k]++] = rows[i];
    free(pos);
    free(cnt);
    free(rows);
    hf_avail_init(av, N);
    av->period_s = period;
    for (long i = 0; i < n && !rc; i++) {
        if (i > 0 && sorted[i - 1].k == sorted[i].k && sorted[i].s < sorted[i - 1].e) {
            rc = hf_seterr(HF_EINPUT, "%s:%ld: interval [%g, %g) of client %d %s its interval of "
                           "line %ld [%g, %g) (intervals of a client must be sorted and disjoint)",
                           name, sorted[i].line, sorted[i].s, sorted[i].e, sorted[i].k,
                           sorted[i].s < sorted[i - 1].s ? "precedes" : "overlaps",
                           sorted[i - 1].line, sorted[i - 1].s, sorted[i - 1].e);
            break;
        }
        hf_avail_add(av, sorted[i].k, sorted[i].s, sorted[i].e);
    }
    hf_avail_finish(av);
    free(sorted);
    if (rc) hf_avail_free(av);
    return rc;
}

int hf_avail_load(hf_avail_t *av, const char *path, int nclients)
{
    char *text;
    size_t n;
    if (hf_input_slurp(path, HF_INPUT_TEXT_MAX, &text, &n))  /* regular files only (hf_util.h) */
        return HF_EINPUT;  /* "PATH: reason"; the caller names the key */
    hf_inputs_note(path);  /* its SHA-256 goes into the results file */
    int rc = hf_avail_load_mem(av, text, n, path, nclients);
    free(text);
    return rc;
}

int hf_avail_write(const hf_avail_t *av, FILE *f)
{
    if (av->leave_s && av->period_s > 0)
        return hf_seterr(HF_ERUNTIME, "periodic trace with withdrawals: unroll it before writing");
    fprintf(f, "# hetfl availability trace: online intervals [start_s, end_s)\n");
    fprintf(f, "# clients = %d\n", av->nclients);
    if (av->period_s > 0) fprintf(f, "# period_s = %.17g\n", av->period_s);
    fprintf(f, "client,start_s,end_s\n");
    for (int k = 0; k < av->nclients; k++) {
        if (av->always) {
            fprintf(f, "%d,0,%.17g\n", k, av->period_s > 0 ? av->period_s : 1e300);
            continue;
        }
        double leave = av->leave_s ? av->leave_s[k] : INFINITY;
        for (long i = av->off[k]; i < av->off[k + 1]; i++) {
            double s = av->iv[2 * i], e = av->iv[2 * i + 1];
            if (s >= leave) break;
            if (e > leave) e = leave;
            fprintf(f, "%d,%.17g,%.17g\n", k, s, e);
        }
    }
    return ferror(f) ? hf_seterr(HF_ERUNTIME, "write error on the trace") : 0;
}

void hf_avail_unroll(const hf_avail_t *av, double horizon, hf_avail_t *out)
{
    hf_avail_init(out, av->nclients);
    for (int k = 0; k < av->nclients; k++) {
        double t = 0.0;
        while (t < horizon) {
            int on = hf_avail_online(av, k, t);
            double n = hf_avail_next_change(av, k, t);
            if (n > horizon) n = horizon;
            if (on) hf_avail_add(out, k, t, n);
            t = n;
        }
    }
    hf_avail_finish(out);
}

/* ----------------------------------------------------------- generators --- */

void hf_avail_spec_defaults(hf_avail_spec_t *s)
{
    memset(s, 0, sizeof *s);
    s->model = HF_AV_ALWAYS;
    s->horizon_s = 604800;
    s->slot_s = 60;
    s->pi = 0.5;
    s->lambda = 0.0;
    s->cafed_a = 0.25;
    s->cafed_s = 0.25;
    s->on_hours = 8;
    s->start_hour = 22;
    s->jitter_h = 1;
    s->tz_spread_h = 24;
    s->groups = 4;
    s->cycle_s = 3600;
    s->on_mean_s = 1800;
    s->off_mean_s = 1800;
    s->shape = 1.5;
    s->withdraw_at_s = 0;
}

/* exact quotas of CA-Fed's joint type matrix: 0 available-shifting (1/2),
 * 1 unavailable-stable (1/4), 2 unavailable-shifting (1/4) */
static int cafed_type(const hf_avail_spec_t *s, int k)
{
    int N = s->nclients;
    /* position of k in a seeded permutation, by inverting on the fly would be O(N);
     * a permutation is cheap enough for the sizes here but cached per spec call */
    static int *perm = NULL, perm_n = -1;
    static uint64_t perm_seed = 0;
    if (perm_n != N || perm_seed != s->seed || !perm) {
        free(perm);
        perm = hf_malloc((size_t)N * sizeof(int));
        int *tmp = hf_malloc((size_t)N * sizeof(int));
        hf_rng_t r;
        hf_rng_init(&r, s->seed, HF_RNG_AVAIL, AVS_TYPES, 0);
        hf_rng_permutation(&r, N, tmp);
        for (int i = 0; i < N; i++) perm[tmp[i]] = i;  /* perm[k] = rank of k */
        free(tmp);
        perm_n = N;
        perm_seed = s->seed;
    }
    int pos = perm[k];
    int q0 = (int)(N / 2), q1 = (int)((N - q0) / 2);  /* 1/2, 1/4, rest */
    return pos < q0 ? 0 : pos < q0 + q1 ? 1 : 2;
}

void hf_avail_markov_params(const hf_avail_spec_t *s, int k, double *pi, double *lambda)
{
    if (!s->mix_cafed) { *pi = s->pi; *lambda = s->lambda; return; }
    const double err = 1e-8;
    int ty = cafed_type(s, k);
    double a = HF_MIN(HF_MAX(s->cafed_a, -0.5 + err), 0.5 - err);
    double p = ty == 0 ? 0.5 + a : 0.5 - a;
    double lo = HF_MAX(1 - 1 / p + err, 1 - 1 / (1 - p) + err);
    double l;
    if (ty == 1) l = HF_MAX(s->cafed_s, lo);     /* stable */
    else {                                       /* shifting: 0.5 (N(0, eps) + eps), clipped */
        hf_rng_t r;
        hf_rng_init(&r, s->seed, HF_RNG_AVAIL, AVS_TYPES, (uint64_t)k + 1);
        const double eps = 0.01;
        l = 0.5 * (eps * hf_rng_normal(&r) + eps);
        double lmin = HF_MAX(-1 + err, HF_MAX(1 - 1 / p + err, 1 - 1 / (1 - p))) + err;
        if (l < lmin) l = lmin;
        if (l > 1 - err) l = 1 - err;
    }
    *pi = p;
    *lambda = l;
}

static void gen_markov(hf_avail_t *av, const hf_avail_spec_t *s)
{
    long slots = (long)ceil(s->horizon_s / s->slot_s);
    av->period_s = (double)slots * s->slot_s;
    for (int k = 0; k < s->nclients; k++) {
        double pi, lam;
        hf_avail_markov_params(s, k, &pi, &lam);
        double p_on_on = lam + (1 - lam) * pi, p_off_on = (1 - lam) * pi;
        hf_rng_t r;
        hf_rng_init(&r, s->seed, HF_RNG_AVAIL, AVS_STATE, (uint64_t)k);
        int on = hf_rng_uniform(&r) < pi;   /* stationary start */
        for (long i = 0; i < slots; i++) {
            if (i > 0) on = hf_rng_uniform(&r) < (on ? p_on_on : p_off_on);
            if (on) hf_avail_add(av, k, (double)i * s->slot_s, (double)(i + 1) * s->slot_s);
        }
    }
}

static void gen_diurnal(hf_avail_t *av, const hf_avail_spec_t *s)
{
    const double day = 86400.0;
    long days = (long)ceil(s->horizon_s / day);
    double P = (double)days * day;
    av->period_s = P;
    double *ws = hf_malloc(((size_t)days * 2 + 2) * sizeof(double));
    double *we = hf_malloc(((size_t)days * 2 + 2) * sizeof(double));
    for (int k = 0; k < s->nclients; k++) {
        hf_rng_t r;
        hf_rng_init(&r, s->seed, HF_RNG_AVAIL, AVS_TZ, (uint64_t)k);
        double tz = (hf_rng_uniform(&r) - 0.5) * s->tz_spread_h * 3600.0;  /* offset from UTC */
        /* windows of day d (and the one of day -1 spilling into day 0, wrapped) */
        long nw = 0;
        for (long d = 0; d < days; d++) {
            double st = (double)d * day + s->start_hour * 3600.0 - tz +
                        (s->jitter_h > 0 ? s->jitter_h * 3600.0 * hf_rng_normal(&r) : 0.0);
            double en;
            /* fold into [0, P) (a window may wrap around the period end) */
            st = fmod(st, P); if (st < 0) st += P;
            en = st + s->on_hours * 3600.0;
            if (en <= P) { ws[nw] = st; we[nw++] = en; }
            else { ws[nw] = st; we[nw++] = P; ws[nw] = 0; we[nw++] = en - P; }
        }
        /* sort windows by start (insertion sort; a few hundred at most) and merge */
        for (long i = 1; i < nw; i++)
            for (long j = i; j > 0 && ws[j] < ws[j - 1]; j--) {
                double a = ws[j]; ws[j] = ws[j - 1]; ws[j - 1] = a;
                a = we[j]; we[j] = we[j - 1]; we[j - 1] = a;
            }
        for (long i = 0; i < nw; i++) hf_avail_add(av, k, ws[i], HF_MIN(we[i], P));
    }
    free(ws);
    free(we);
}

static void gen_cyclic(hf_avail_t *av, const hf_avail_spec_t *s)
{
    av->period_s = s->cycle_s;
    int G = HF_MAX(1, s->groups);
    double w = s->cycle_s / G;
    for (int k = 0; k < s->nclients; k++) {
        int g = k % G;
        hf_avail_add(av, k, g * w, g + 1 == G ? s->cycle_s : (g + 1) * w);
    }
}

static double draw_duration(hf_rng_t *r, const hf_avail_spec_t *s, double mean)
{
    if (s->lognormal) {
        double sg = s->shape;
        return hf_rng_lognormal(r, log(mean) - 0.5 * sg * sg, sg);
    }
    return hf_rng_weibull(r, s->shape, mean / tgamma(1.0 + 1.0 / s->shape));
}

static void gen_sessions(hf_avail_t *av, const hf_avail_spec_t *s)
{
    double P = s->horizon_s;
    av->period_s = P;
    for (int k = 0; k < s->nclients; k++) {
        hf_rng_t r;
        hf_rng_init(&r, s->seed, HF_RNG_AVAIL, AVS_STATE, (uint64_t)k);
        int on = hf_rng_uniform(&r) < s->on_mean_s / (s->on_mean_s + s->off_mean_s);
        double t = 0.0;
        int first = 1;
        while (t < P) {
            double d = draw_duration(&r, s, on ? s->on_mean_s : s->off_mean_s);
            if (first) { d *= hf_rng_uniform(&r); first = 0; }  /* a session already under way */
            double e = HF_MIN(t + d, P);
            if (on) hf_avail_add(av, k, t, e);
            t = e;
            on = !on;
        }
    }
}

int hf_avail_generate(hf_avail_t *av, const hf_avail_spec_t *s)
{
    int rc = 0;
    if (s->model == HF_AV_TRACE) {
        rc = hf_avail_load(av, s->file, s->nclients);
        if (rc) return rc;
    } else if (s->model == HF_AV_ALWAYS) {
        hf_avail_init_always(av, s->nclients);
    } else {
        hf_avail_init(av, s->nclients);
        switch (s->model) {
        case HF_AV_MARKOV: gen_markov(av, s); break;
        case HF_AV_DIURNAL: gen_diurnal(av, s); break;
        case HF_AV_CYCLIC: gen_cyclic(av, s); break;
        case HF_AV_SESSIONS: gen_sessions(av, s); break;
        default: break;
        }
        hf_avail_finish(av);
    }
    int nw = (int)llround(s->withdraw_fraction * s->nclients);
    if (nw > 0) {
        av->leave_s = hf_malloc((size_t)av->nclients * sizeof(double));
        for (int k = 0; k < av->nclients; k++) av->leave_s[k] = INFINITY;
        int *w = hf_malloc((size_t)nw * sizeof(int));
        hf_rng_t r;
        hf_rng_init(&r, s->seed, HF_RNG_AVAIL, AVS_WITHDRAW, 0);
        hf_rng_sample(&r, av->nclients, nw, w);
        for (int i = 0; i < nw; i++) av->leave_s[w[i]] = s->withdraw_at_s;
        free(w);
    }
    return 0;
}

/* ------------------------------------------------------------ importers --- */

/* map the i-th instance slot to a client: identity or a seeded permutation */
static int *slot_map(int N, int shuffle, uint64_t seed)
{
    int *m = hf_malloc((size_t)N * sizeof(int));
    if (shuffle) {
        hf_rng_t r;
        hf_rng_init(&r, seed, HF_RNG_AVAIL, AVS_SHUFFLE, 0);
        hf_rng_permutation(&r, N, m);
    } else for (int i = 0; i < N; i++) m[i] = i;
    return m;
}

/* steps t[0..n-1] (non-decreasing), c[i] on [t[i], t[i+1]) → av */
static void steps_to_avail(hf_avail_t *av, const double *t, const long *c, long n, int N,
                           int shuffle, uint64_t seed)
{
    int *map = slot_map(N, shuffle, seed);
    int *inv = hf_malloc((size_t)N * sizeof(int));
    for (int i = 0; i < N; i++) inv[map[i]] = i;  /* client → slot */
    hf_avail_init(av, N);
    for (int k = 0; k < N; k++) {
        int slot = inv[k];
        for (long i = 0; i + 1 < n; i++)
            if (c[i] > slot && t[i + 1] > t[i]) hf_avail_add(av, k, t[i], t[i + 1]);
    }
    hf_avail_finish(av);
    free(map);
    free(inv);
}

/* the whole file, or NULL with the reason in hf_errmsg() (regular files only) */
static char *slurp(const char *path, size_t *len)
{
    char *text;
    if (hf_input_slurp(path, HF_INPUT_TEXT_MAX, &text, len)) return NULL;
    hf_inputs_note(path);
    return text;
}

int hf_avail_import_steps(hf_avail_t *av, const char *path, double time_unit, int nclients,
                          int shuffle, uint64_t seed)
{
    size_t len;
    char *text = slurp(path, &len);
    if (!text) return HF_EINPUT;
    long cap = 256, n = 0, lineno = 0, maxc = 0;
    double *t = hf_malloc((size_t)cap * sizeof(double));
    long *c = hf_malloc((size_t)cap * sizeof(long));
    int rc = 0;
    for (char *line = text, *next; line && !rc; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        lineno++;
        char *s = line;
        while (*s == ' ' || *s == '\t') s++;
        size_t l = strlen(s);
        if (l && s[l - 1] == '\r') s[--l] = 0;
        if (!*s || *s == '#' || (n == 0 && isalpha((unsigned char)*s))) continue;
        char *f[2];
        int nf = hf_split_csv(s, f, 2);
        double tv, cv;
        if (nf != 2 || parse_double(f[0], &tv) || parse_double(f[1], &cv) || cv < 0 ||
            cv != floor(cv) || cv > HF_AVAIL_MAX_CLIENTS) {
            rc = hf_seterr(HF_EINPUT, "%s:%ld: expected 'time,count' (a number, a non-negative "
                           "integer)", path, lineno);
            break;
        }
        tv *= time_unit;
        if (n > 0 && tv < t[n - 1]) {
            rc = hf_seterr(HF_EINPUT, "%s:%ld: time %g goes back (previous %g)", path, lineno, tv,
                           t[n - 1]);
            break;
        }
        if (n == cap) {
            cap *= 2;
            t = hf_realloc(t, (size_t)cap * sizeof(double));
            c = hf_realloc(c, (size_t)cap * sizeof(long));
        }
        t[n] = tv;
        c[n++] = (long)cv;
        if ((long)cv > maxc) maxc = (long)cv;
    }
    free(text);
    if (!rc && n < 2) rc = hf_seterr(HF_EINPUT, "%s: fewer than two time,count rows", path);
    int N = nclients > 0 ? nclients : (int)maxc;
    if (!rc && N <= 0) rc = hf_seterr(HF_EINPUT, "%s: the count is never positive", path);
    if (!rc) steps_to_avail(av, t, c, n, N, shuffle, seed);
    free(t);
    free(c);
    return rc;
}

/* minimal scan of {"metadata":{"gap_seconds":G},"data":[...]} */
static const char *json_find_key(const char *s, const char *key)
{
    size_t n = strlen(key);
    for (const char *p = s; (p = strchr(p, '"')); p++) {
        if (!strncmp(p + 1, key, n) && p[1 + n] == '"') {
            const char *q = p + 2 + n;
            while (isspace((unsigned char)*q)) q++;
            if (*q == ':') return q + 1;
        }
    }
    return NULL;
}

int hf_avail_import_spot_json(hf_avail_t *av, const char *path, int counts, int nclients,
                              int shuffle, uint64_t seed)
{
    size_t len;
    char *text = slurp(path, &len);
    if (!text) return HF_EINPUT;
    int rc = 0;
    const char *g = json_find_key(text, "gap_seconds"), *d = json_find_key(text, "data");
    char *end;
    double gap = g ? strtod(g, &end) : NAN;
    if (!g || !isfinite(gap) || !(gap > 0)) {
        free(text);
        return hf_seterr(HF_EINPUT, "%s: no positive metadata.gap_seconds", path);
    }
    while (d && isspace((unsigned char)*d)) d++;
    if (!d || *d != '[') {
        free(text);
        return hf_seterr(HF_EINPUT, "%s: no \"data\" array", path);
    }
    long cap = 1024, n = 0, maxc = 0;
    long *v = hf_malloc((size_t)cap * sizeof(long));
    const char *p = d + 1;
    for (;;) {
        while (isspace((unsigned char)*p) || *p == ',') p++;
        if (*p == ']') break;
        double x = strtod(p, &end);
        if (end == p || !isfinite(x) || x < 0 || x != floor(x) || x > HF_AVAIL_MAX_CLIENTS || (!counts && x > 1)) {
            rc = hf_seterr(HF_EINPUT, "%s: data[%ld]: expected %s", path, n,
                           counts ? "a non-negative integer count" : "0 or 1 (preempted flag)");
            break;
        }
        if (n == cap) { cap *= 2; v = hf_realloc(v, (size_t)cap * sizeof(long)); }
        v[n++] = (long)x;
        if ((long)x > maxc) maxc = (long)x;
        p = end;
    }
    free(text);
    if (!rc && n == 0) rc = hf_seterr(HF_EINPUT, "%s: empty data array", path);
    if (rc) { free(v); return rc; }
    if (counts) {
        double *t = hf_malloc(((size_t)n + 1) * sizeof(double));
        long *c = hf_malloc(((size_t)n + 1) * sizeof(long));
        for (long i = 0; i <= n; i++) { t[i] = (double)i * gap; c[i] = i < n ? v[i] : 0; }
        int N = nclients > 0 ? nclients : (int)maxc;
        if (N <= 0) rc = hf_seterr(HF_EINPUT, "%s: the count is never positive", path);
        else steps_to_avail(av, t, c, n + 1, N, shuffle, seed);
        free(t);
        free(c);
    } else {
        int N = nclients > 0 ? nclients : 1;
        hf_avail_init(av, N);
        av->period_s = (double)n * gap;
        for (int k = 0; k < N; k++) {
            hf_rng_t r;
            hf_rng_init(&r, seed, HF_RNG_AVAIL, AVS_SHIFT, (uint64_t)k);
            long sh = k == 0 ? 0 : (long)hf_rng_below(&r, (uint64_t)n);
            /* client k at gap i follows the trace at gap (i + sh) mod n */
            for (long i = 0; i < n; i++)
                if (!v[(i + sh) % n]) hf_avail_add(av, k, (double)i * gap, (double)(i + 1) * gap);
        }
        hf_avail_finish(av);
    }
    free(v);
    return rc;
}

/* --------------------------------------------------------------- stats --- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double quantile(const double *v, long n, double q)
{
    if (n == 0) return NAN;
    double pos = q * (double)(n - 1);
    long i = (long)floor(pos);
    if (i + 1 >= n) return v[n - 1];
    return v[i] + (pos - (double)i) * (v[i + 1] - v[i]);
}

void hf_avail_stats(const hf_avail_t *av, double horizon, FILE *out)
{
    int N = av->nclients;
    if (!(horizon > 0)) {
        horizon = av->period_s;
        if (!(horizon > 0)) {
            for (int k = 0; k < N && !av->always; k++)
                if (av->off[k + 1] > av->off[k] && av->iv[2 * (av->off[k + 1] - 1) + 1] > horizon)
                    horizon = av->iv[2 * (av->off[k + 1] - 1) + 1];
            if (av->always || !(horizon > 0)) horizon = 86400;
        }
    }
    double *frac = hf_malloc((size_t)(N ? N : 1) * sizeof(double));
    long scap = 1024, ns = 0;
    double *sess = hf_malloc((size_t)scap * sizeof(double));
    double prof[24] = {0};
    long nchg = 0;
    for (int k = 0; k < N; k++) {
        double on = 0.0, t = 0.0;
        while (t < horizon) {
            double nx = hf_avail_next_change(av, k, t);
            double e = nx > horizon ? horizon : nx;
            if (hf_avail_online(av, k, t)) {
                on += e - t;
                if (ns == scap) { scap *= 2; sess = hf_realloc(sess, (size_t)scap * sizeof(double)); }
                sess[ns++] = e - t;  /* sessions cut by the horizon count as observed */
                /* diurnal profile: overlap with each hour of day */
                for (double a = t; a < e;) {
                    double h0 = floor(a / 3600.0) * 3600.0, b = HF_MIN(e, h0 + 3600.0);
                    prof[(long)(h0 / 3600.0) % 24] += b - a;
                    a = b;
                }
            }
            if (nx < horizon) nchg++;
            t = e;
        }
        frac[k] = on / horizon;
    }
    double mean = 0.0;
    for (int k = 0; k < N; k++) mean += frac[k];
    mean = N ? mean / N : NAN;
    qsort(frac, (size_t)N, sizeof(double), cmp_double);
    qsort(sess, (size_t)ns, sizeof(double), cmp_double);
    double smean = 0.0;
    for (long i = 0; i < ns; i++) smean += sess[i];
    smean = ns ? smean / (double)ns : NAN;
    fprintf(out, "clients             %d\n", N);
    fprintf(out, "horizon_s           %.17g%s\n", horizon, av->period_s > 0 ? " (one period)" : "");
    if (av->period_s > 0) fprintf(out, "period_s            %.17g\n", av->period_s);
    if (av->leave_s) {
        int nl = 0;
        for (int k = 0; k < N; k++) nl += isfinite(av->leave_s[k]);
        fprintf(out, "withdrawn           %d\n", nl);
    }
    fprintf(out, "mean_availability   %.6f\n", mean);
    fprintf(out, "state_changes       %ld\n", nchg);
    fprintf(out, "sessions            %ld\n", ns);
    fprintf(out, "session_s           mean %.6g  p10 %.6g  p25 %.6g  p50 %.6g  p75 %.6g  p90 %.6g  "
                 "max %.6g\n", smean, quantile(sess, ns, .1), quantile(sess, ns, .25),
            quantile(sess, ns, .5), quantile(sess, ns, .75), quantile(sess, ns, .9),
            ns ? sess[ns - 1] : NAN);
    fprintf(out, "client_availability min %.4f  p10 %.4f  p25 %.4f  p50 %.4f  p75 %.4f  p90 %.4f  "
                 "max %.4f\n", N ? frac[0] : NAN, quantile(frac, N, .1), quantile(frac, N, .25),
            quantile(frac, N, .5), quantile(frac, N, .75), quantile(frac, N, .9),
            N ? frac[N - 1] : NAN);
    /* hour-of-day profile (UTC of simulated time): mean fraction online */
    double hours_per_bin[24] = {0};
    for (double a = 0; a < horizon;) {
        double h0 = floor(a / 3600.0) * 3600.0, b = HF_MIN(horizon, h0 + 3600.0);
        hours_per_bin[(long)(h0 / 3600.0) % 24] += b - a;
        a = b;
    }
    fprintf(out, "diurnal_profile     hour fraction_online\n");
    for (int h = 0; h < 24; h++)
        if (hours_per_bin[h] > 0)
            fprintf(out, "  %02d  %.4f\n", h, N ? prof[h] / (hours_per_bin[h] * N) : NAN);
    free(frac);
    free(sess);
}

/* ----------------------------------------------------------- from conf --- */

int hf_avail_spec_from_conf(hf_avail_spec_t *s, const hf_conf_t *c, int nclients, uint64_t seed)
{
    hf_avail_spec_defaults(s);
    s->nclients = nclients;
    s->seed = seed;
    const char *m = hf_conf_get(c, "availability.model");
    if (m && hf_avail_model_from_name(m, &s->model)) {
        const char *o = hf_conf_origin(c, "availability.model");
        return hf_seterr(HF_EINPUT, "%s: key 'availability.model': unknown model '%s'", o ? o : "?", m);
    }
    s->horizon_s = hf_conf_float(c, "availability.horizon_s");
    s->slot_s = hf_conf_float(c, "availability.slot_s");
    s->pi = hf_conf_float(c, "availability.pi");
    s->lambda = hf_conf_float(c, "availability.lambda");
    const char *mix = hf_conf_get(c, "availability.mix");
    s->mix_cafed = mix && !strcmp(mix, "cafed");
    s->cafed_a = hf_conf_float(c, "availability.cafed_a");
    s->cafed_s = hf_conf_float(c, "availability.cafed_s");
    s->on_hours = hf_conf_float(c, "availability.on_hours");
    s->start_hour = hf_conf_float(c, "availability.start_hour");
    s->jitter_h = hf_conf_float(c, "availability.jitter_h");
    s->tz_spread_h = hf_conf_float(c, "availability.tz_spread_h");
    s->groups = (int)hf_conf_int(c, "availability.groups");
    s->cycle_s = hf_conf_float(c, "availability.cycle_s");
    const char *dist = hf_conf_get(c, "availability.session_dist");
    s->lognormal = dist && !strcmp(dist, "lognormal");
    s->on_mean_s = hf_conf_float(c, "availability.on_mean_s");
    s->off_mean_s = hf_conf_float(c, "availability.off_mean_s");
    s->shape = hf_conf_float(c, "availability.shape");
    s->withdraw_fraction = hf_conf_float(c, "availability.withdraw_fraction");
    s->withdraw_at_s = hf_conf_float(c, "availability.withdraw_at_s");
    const char *f = hf_conf_get(c, "availability.file");
    snprintf(s->file, sizeof s->file, "%s", f ? f : "");
    if (s->model == HF_AV_MARKOV && !s->mix_cafed) {
        double lmin = HF_MAX(1 - 1 / s->pi, 1 - 1 / (1 - s->pi));
        if (s->lambda < lmin) {
            const char *o = hf_conf_origin(c, "availability.lambda");
            return hf_seterr(HF_EINPUT, "%s: key 'availability.lambda': %g is below %g, the smallest "
                             "correlation giving valid transition probabilities for pi = %g",
                             o ? o : "?", s->lambda, lmin, s->pi);
        }
    }
    if (s->model == HF_AV_TRACE && !s->file[0]) {
        const char *o = hf_conf_origin(c, "availability.model");
        return hf_seterr(HF_EINPUT, "%s: key 'availability.file': model = trace needs a trace file",
                         o ? o : "?");
    }
    return 0;
}

/* ------------------------------------------- data transfer to participants --- */

/* Stream of round t's transfers: (seed, HF_RNG_AVAIL, AVS_TRANSFER·2^32 + t, c); c = 0 for the
 * donor draws, 1 + donor for the choice of the donor's samples.  The purpose word sits above
 * every generator's small purpose, so the streams never meet. */
static void transfer_rng(hf_rng_t *r, uint64_t seed, int round, uint64_t c)
{
    hf_rng_init(r, seed, HF_RNG_AVAIL, ((uint64_t)AVS_TRANSFER << 32) + (uint64_t)round, c);
}

void hf_avail_transfer_plan(uint64_t seed, int round, int N, const unsigned char *online, const long *off,
                            int m, const int *want, double fraction, int *donor,
                            long *count)
{
    int *pool = hf_malloc((size_t)(N > 0 ? N : 1) * sizeof(int)), np = 0;
    for (int k = 0; k < N; k++)
        if (!online[k] && off[k + 1] > off[k]) pool[np++] = k;
    hf_rng_t r;
    transfer_rng(&r, seed, round, 0);
    for (int i = 0; i < m; i++) {
        donor[i] = -1;
        count[i] = 0;
        if (want && !want[i]) continue;
        if (np == 0) continue;
        int j = (int)hf_rng_below(&r, (uint64_t)np);
        int d = pool[j];
        pool[j] = pool[--np];  /* without replacement */
        long nd = off[d + 1] - off[d];
        long c = (long)ceil(fraction * (double)nd - 1e-9);
        donor[i] = d;
        count[i] = c < 1 ? 1 : c > nd ? nd : c;
    }
    free(pool);
}

void hf_avail_transfer_samples(uint64_t seed, int round, int donor, long n_donor, long count, int *scratch,
                               long *out)
{
    hf_rng_t r;
    transfer_rng(&r, seed, round, 1 + (uint64_t)donor);
    hf_rng_permutation(&r, (int)n_donor, scratch);
    for (long i = 0; i < count && i < n_donor; i++) out[i] = scratch[i];
}
