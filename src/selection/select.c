/*
 * select.c — selection policies (a plugin table, docs/ARCHITECTURE.md), the Bayesian
 * activity estimator and the availability corrections (select.h).
 *
 * Why here and not in fed.c: the policies are pure functions of the state,
 * the online mask and the seed, so they are unit-tested without MPI, and
 * every rank of a run computes the same selection without communicating.
 */
#include "select.h"
#include "checkpoint.h"
#include "hf_util.h"
#include "rng.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EST_HORIZON 100.0   /* CA-Fed's prior horizon (activity_estimator.py) */

/* rng sub-streams: SEL_POPULATION for the draw without an availability model
 * (the first wave's sampler, kept so its results stay bit for bit), SEL_ASYNC
 * for async's slot fills ("ASYC") */
enum { SEL_POPULATION = 0, SEL_UNIFORM = 1, SEL_POC, SEL_FORECAST, SEL_CYCLIC };
#define SEL_ASYNC 0x41535943u

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* ------------------------------------------------------------ policies --- */

/* n ints of scratch: grown when a stateless selection draws more than before */
static int *sel_scratch(hf_select_t *s, int n)
{
    if (n > s->ntmp) {
        s->tmp = hf_realloc(s->tmp, (size_t)n * sizeof(int));
        s->ntmp = n;
    }
    return s->tmp;
}

/* the i-th candidate (without an availability model: client i) */
static inline int cand_at(const hf_select_ctx_t *c, int i) { return c->cand ? c->cand[i] : i; }

static int pick_uniform(hf_select_t *s, const hf_select_ctx_t *c, int *out)
{
    int k = HF_MIN(c->in->m, c->ncand);
    if (k <= 0) return 0;
    hf_rng_t r;
    hf_rng_init(&r, c->in->seed, HF_RNG_SELECT, (uint64_t)c->in->round, c->stream);
    int *t = sel_scratch(s, k);
    hf_rng_sample(&r, c->ncand, k, t);
    for (int i = 0; i < k; i++) out[i] = c->cand ? c->cand[t[i]] : t[i];
    return k;
}

/* Poisson sampling: every candidate independently with probability q = K / N
 * (K = federation.clients_per_round), one uniform per candidate in increasing
 * id order from (seed, HF_RNG_SELECT, round, stream): in when it is < q.  The
 * count varies (Binomial(candidates, q), possibly 0). */
static int pick_poisson(hf_select_t *s, const hf_select_ctx_t *c, int *out)
{
    hf_rng_t r;
    hf_rng_init(&r, c->in->seed, HF_RNG_SELECT, (uint64_t)c->in->round, c->stream);
    int n = 0;
    for (int i = 0; i < c->ncand; i++)
        if (hf_rng_uniform(&r) < s->poisson_q) out[n++] = c->cand ? c->cand[i] : i;
    return n;
}

/* sort helpers: (key desc, id asc) */
typedef struct { double key; int id; } kid_t;
static int cmp_kid_desc(const void *a, const void *b)
{
    const kid_t *x = a, *y = b;
    if (x->key > y->key) return -1;
    if (x->key < y->key) return 1;
    return (x->id > y->id) - (x->id < y->id);
}

static int pick_poc(hf_select_t *s, const hf_select_ctx_t *c, int *out)
{
    int m = HF_MIN(c->in->m, c->ncand);
    if (m <= 0) return 0;
    int d = s->d > 0 ? s->d : 2 * c->in->m;
    d = HF_MAX(m, HF_MIN(d, c->ncand));
    /* d candidates without replacement, P ∝ q_k: Efraimidis–Spirakis keys u^(1/q) */
    kid_t *kv = hf_malloc((size_t)c->ncand * sizeof *kv);
    hf_rng_t r;
    hf_rng_init(&r, c->in->seed, HF_RNG_SELECT, (uint64_t)c->in->round, SEL_POC);
    for (int i = 0; i < c->ncand; i++) {
        int k = cand_at(c, i);
        double u = hf_rng_uniform(&r), q = s->q[k] > 0 ? s->q[k] : 1e-300;
        kv[i].key = log(u) / q;   /* monotone in u^(1/q) */
        kv[i].id = k;
    }
    qsort(kv, (size_t)c->ncand, sizeof *kv, cmp_kid_desc);
    /* among the d candidates, the m with the highest loss (unknown = +inf) */
    for (int i = 0; i < d; i++) {
        double l = s->loss[kv[i].id];
        kv[i].key = isnan(l) ? INFINITY : l;
    }
    qsort(kv, (size_t)d, sizeof *kv, cmp_kid_desc);
    for (int i = 0; i < m; i++) out[i] = kv[i].id;
    free(kv);
    return m;
}

static int pick_f3ast(hf_select_t *s, const hf_select_ctx_t *c, int *out)
{
    int m = HF_MIN(c->in->m, c->ncand);
    if (m <= 0) return 0;
    kid_t *kv = hf_malloc((size_t)c->ncand * sizeof *kv);
    for (int i = 0; i < c->ncand; i++) {
        int k = cand_at(c, i);
        kv[i].key = s->q[k] / s->r[k];
        kv[i].id = k;
    }
    qsort(kv, (size_t)c->ncand, sizeof *kv, cmp_kid_desc);
    for (int i = 0; i < m; i++) out[i] = kv[i].id;
    free(kv);
    return m;
}

static int pick_forecast(hf_select_t *s, const hf_select_ctx_t *c, int *out)
{
    int m = HF_MIN(c->in->m, c->ncand);
    if (m <= 0) return 0;
    if (!c->in->av) return pick_uniform(s, c, out);
    /* stay_k = seconds k remains online from now; fits when stay ≥ need */
    int nfit = 0;
    int *fit = s->tmp;   /* first: fitting candidates' indices */
    kid_t *rest = hf_malloc((size_t)c->ncand * sizeof *rest);
    int nrest = 0;
    for (int i = 0; i < c->ncand; i++) {
        int k = cand_at(c, i);
        double stay = hf_avail_next_change(c->in->av, k, c->in->now) - c->in->now;
        double need = c->in->need_s ? c->in->need_s[k] : 0.0;
        if (stay >= need) fit[nfit++] = k;
        else { rest[nrest].key = stay; rest[nrest].id = k; nrest++; }
    }
    int n = 0;
    if (nfit <= m) {
        for (int i = 0; i < nfit; i++) out[n++] = fit[i];
        qsort(rest, (size_t)nrest, sizeof *rest, cmp_kid_desc);
        for (int i = 0; n < m && i < nrest; i++) out[n++] = rest[i].id;
    } else {
        int *idx = hf_malloc((size_t)m * sizeof(int));
        hf_rng_t r;
        hf_rng_init(&r, c->in->seed, HF_RNG_SELECT, (uint64_t)c->in->round, SEL_FORECAST);
        hf_rng_sample(&r, nfit, m, idx);
        for (int i = 0; i < m; i++) out[n++] = fit[idx[i]];
        free(idx);
    }
    free(rest);
    return n;
}

static int pick_cyclic(hf_select_t *s, const hf_select_ctx_t *c, int *out)
{
    int G = s->groups > 0 ? s->groups : HF_MAX(1, (s->N + c->in->m - 1) / HF_MAX(1, c->in->m));
    int g = c->in->round % G, n = 0;
    int *grp = hf_malloc((size_t)(c->ncand ? c->ncand : 1) * sizeof(int));
    for (int i = 0; i < c->ncand; i++)
        if (cand_at(c, i) % G == g) grp[n++] = cand_at(c, i);
    hf_rng_t r;
    hf_rng_init(&r, c->in->seed, HF_RNG_SELECT, (uint64_t)c->in->round, SEL_CYCLIC);
    int k = HF_MIN(c->in->m, n);
    hf_rng_sample(&r, n, k, s->tmp);
    for (int i = 0; i < k; i++) out[i] = grp[s->tmp[i]];
    free(grp);
    return k;
}

/* carbon-aware (energy.c): a start slot and the clients, their 1/π_k kept for the weights */
static int pick_carbon(hf_select_t *s, const hf_select_ctx_t *c, int *out)
{
    const hf_select_in_t *in = c->in;
    return hf_energy_select(in->en, in->round, in->now, in->m, in->ecl, in->bytes, in->bytes, out,
                            s->inv_pi, c->start);
}

static void scales_inv_pi(const hf_select_t *s, const int *sel, int nsel, double *f)
{
    (void)sel;
    for (int i = 0; i < nsel; i++) f[i] = s->inv_pi[i];
}

/* power-of-choice: a simple average of the selected updates */
static void weights_mean(const hf_select_t *s, const int *sel, int nsel, double *w)
{
    (void)s; (void)sel;
    for (int i = 0; i < nsel; i++) w[i] = 1.0 / nsel;
}

/* F3AST: q_k / r_k, r_k the client's running participation rate */
static void weights_f3ast(const hf_select_t *s, const int *sel, int nsel, double *w)
{
    for (int i = 0; i < nsel; i++) w[i] = s->q[sel[i]] / s->r[sel[i]];
}

/* F3AST: r_k ← (1 − β) r_k + β·[k selected] */
static void after_f3ast(hf_select_t *s, const int *sel, int nsel)
{
    for (int k = 0; k < s->N; k++) s->r[k] *= 1 - s->beta;
    for (int i = 0; i < nsel; i++) s->r[sel[i]] += s->beta;
}

static void configure_poc(hf_select_t *s, const hf_conf_t *c) { s->d = (int)hf_conf_int(c, "selection.d"); }
static void configure_f3ast(hf_select_t *s, const hf_conf_t *c) { s->beta = hf_conf_float(c, "selection.f3ast_beta"); }
static void configure_cyclic(hf_select_t *s, const hf_conf_t *c) { s->groups = (int)hf_conf_int(c, "selection.groups"); }
static void configure_poisson(hf_select_t *s, const hf_conf_t *c)
{
    s->poisson_q = HF_MIN(1.0, (double)hf_conf_int(c, "federation.clients_per_round") / s->N);
}

static const hf_opt_t poc_keys[] = {
    {"selection.d", HF_OPT_INT, "0", 0, 100000000, NULL, "poc: number of candidates d (0: 2 x clients_per_round)"},
    {NULL}};
static const hf_opt_t f3ast_keys[] = {
    {"selection.f3ast_beta", HF_OPT_FLOAT, "0.01", 1e-6, 1, NULL,
     "f3ast: smoothing of the participation rates r <- (1-beta) r + beta 1[selected]"},
    {NULL}};
static const hf_opt_t cyclic_keys[] = {
    {"selection.groups", HF_OPT_INT, "0", 0, 100000000, NULL,
     "cyclic: number of groups G, client k in group k mod G (0: ceil(clients / clients_per_round))"},
    {NULL}};

static const hf_select_policy_t pol_uniform = {
    .name = "uniform", .doc = "m of the online clients uniformly without replacement",
    .needs = HF_SEL_ASYNC | HF_SEL_POPULATION, .pick = pick_uniform};
static const hf_select_policy_t pol_poc = {
    .name = "poc", .doc = "power-of-choice (Cho et al. 2022): d candidates by q_k, the m with "
                          "the highest last local loss; simple average",
    .keys = poc_keys, .needs = HF_SEL_NEEDS_LOSSES, .configure = configure_poc, .pick = pick_poc,
    .weights = weights_mean};
static const hf_select_policy_t pol_f3ast = {
    .name = "f3ast", .doc = "F3AST (Ribero et al. 2023): the m online clients with the largest "
                            "q_k/r_k, weights q_k/r_k",
    .keys = f3ast_keys, .configure = configure_f3ast, .pick = pick_f3ast, .weights = weights_f3ast,
    .after = after_f3ast};
static const hf_select_policy_t pol_forecast = {
    .name = "forecast", .doc = "availability-forecast-aware: clients the trace keeps online for "
                               "their expected round time first",
    .needs = HF_SEL_NEEDS_ROUND_TIME | HF_SEL_NEEDS_FORECAST, .pick = pick_forecast};
static const hf_select_policy_t pol_cyclic = {
    .name = "cyclic", .doc = "cyclic participation (Cho et al. 2023): group round mod G of "
                             "k mod G, uniform among its online members",
    .keys = cyclic_keys, .configure = configure_cyclic, .pick = pick_cyclic};
static const hf_select_policy_t pol_poisson = {
    .name = "poisson", .doc = "Poisson sampling: each client independently with probability "
                              "clients_per_round / clients (a varying count; dpfedavg's accountant)",
    .needs = HF_SEL_POPULATION | HF_SEL_VARIABLE, .configure = configure_poisson, .pick = pick_poisson};
static const hf_select_policy_t pol_carbon = {
    .name = "carbon-aware", .doc = "set by energy.scheduler = carbon-aware: a start slot and clients "
                                   "by alpha-fair shares of carbon cost, weights x 1/pi_k (Hajek)",
    .needs = HF_SEL_NEEDS_CARBON | HF_SEL_POPULATION, .pick = pick_carbon, .scales = scales_inv_pi};

const hf_select_policy_t *const hf_select_policies[] = {
    &pol_uniform, &pol_poc, &pol_f3ast, &pol_forecast, &pol_cyclic, &pol_poisson, &pol_carbon, NULL};

const hf_select_policy_t *hf_select_policy_find(const char *name)
{
    for (int i = 0; hf_select_policies[i]; i++)
        if (!strcmp(hf_select_policies[i]->name, name)) return hf_select_policies[i];
    return NULL;
}

const char *hf_select_policy_names(void)
{
    static char buf[256];
    if (!buf[0])
        for (int i = 0; hf_select_policies[i]; i++)
            if (!(hf_select_policies[i]->needs & HF_SEL_NEEDS_CARBON))  /* energy.scheduler's */
                snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", buf[0] ? "|" : "",
                         hf_select_policies[i]->name);
    return buf;
}

const char *hf_select_policies_with(int needs)
{
    static char buf[256];
    buf[0] = 0;
    for (int i = 0; hf_select_policies[i]; i++)
        if ((hf_select_policies[i]->needs & needs) == needs)
            snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", buf[0] ? ", " : "",
                     hf_select_policies[i]->name);
    return buf;
}

void hf_select_list(FILE *out)
{
    for (int i = 0; hf_select_policies[i]; i++)
        fprintf(out, "  %-12s  %s\n", hf_select_policies[i]->name, hf_select_policies[i]->doc);
}

/* --------------------------------------------------------------- state --- */

hf_select_t *hf_select_new(const char *policy, hf_correction_t corr, int N, const long *samples,
                           const double *prior_pi, const double *prior_lambda)
{
    const hf_select_policy_t *pol = hf_select_policy_find(policy);
    if (!pol) {
        hf_seterr(HF_EINPUT, "unknown selection policy '%s'", policy);
        return NULL;
    }
    hf_select_t *s = hf_calloc(1, sizeof *s);
    s->pol = pol;
    s->corr = corr;
    s->N = N;
    s->beta = 0.01;
    s->cafed_c = 1.0;
    if (!samples) return s;  /* stateless: no per-client arrays */
    s->q = hf_calloc((size_t)N, sizeof(double));
    double tot = 0.0;
    for (int k = 0; k < N; k++) tot += (double)samples[k];
    for (int k = 0; k < N; k++) s->q[k] = tot > 0 ? (double)samples[k] / tot : 1.0 / N;
    s->n_on = hf_calloc((size_t)N, sizeof(long));
    s->n_onon = hf_calloc((size_t)N, sizeof(long));
    s->n_offoff = hf_calloc((size_t)N, sizeof(long));
    s->prev = hf_calloc((size_t)N, 1);
    s->prior_pi = hf_calloc((size_t)N, sizeof(double));
    s->prior_lambda = hf_calloc((size_t)N, sizeof(double));
    s->pi_hat = hf_calloc((size_t)N, sizeof(double));
    s->lambda_hat = hf_calloc((size_t)N, sizeof(double));
    s->r = hf_calloc((size_t)N, sizeof(double));
    s->loss = hf_calloc((size_t)N, sizeof(double));
    s->alloc = hf_calloc((size_t)N, sizeof(double));
    s->tmp = hf_calloc((size_t)N + 1, sizeof(int));
    s->ntmp = N + 1;
    s->inv_pi = hf_calloc((size_t)N + 1, sizeof(double));
    s->dtmp = hf_calloc((size_t)N + 1, sizeof(double));
    for (int k = 0; k < N; k++) {
        s->prior_pi[k] = prior_pi ? prior_pi[k] : 0.5;
        s->prior_lambda[k] = prior_lambda ? prior_lambda[k] : 0.0;
        s->pi_hat[k] = s->prior_pi[k];
        s->lambda_hat[k] = s->prior_lambda[k];
        s->r[k] = 1.0 / N;  /* replaced by m/N at the first round */
        s->loss[k] = NAN;
        s->alloc[k] = 1.0;
    }
    return s;
}

int hf_select_use(hf_select_t *s, const char *policy)
{
    const hf_select_policy_t *pol = hf_select_policy_find(policy);
    if (!pol) return hf_seterr(HF_EINPUT, "unknown selection policy '%s'", policy);
    s->pol = pol;
    return 0;
}

void hf_select_free(hf_select_t *s)
{
    if (!s) return;
    free(s->q); free(s->n_on); free(s->n_onon); free(s->n_offoff); free(s->prev);
    free(s->prior_pi); free(s->prior_lambda); free(s->pi_hat); free(s->lambda_hat);
    free(s->r); free(s->loss); free(s->alloc); free(s->tmp); free(s->dtmp); free(s->inv_pi);
    free(s);
}

/* Bayesian estimator of arodio/CA-Fed activity_estimator.py: counts plus a
 * beta prior worth EST_HORIZON observations. */
void hf_select_observe(hf_select_t *s, const unsigned char *online)
{
    s->t++;
    double den = (double)s->t + EST_HORIZON;
    for (int k = 0; k < s->N; k++) {
        int on = online[k] != 0;
        s->n_on[k] += on;
        if (on && s->prev[k]) s->n_onon[k]++;
        else if (!on && !s->prev[k]) s->n_offoff[k]++;
        s->prev[k] = (unsigned char)on;
        double p = s->prior_pi[k], l = s->prior_lambda[k];
        s->pi_hat[k] = ((double)s->n_on[k] + EST_HORIZON * p) / den;
        double aa = ((double)s->n_onon[k] + EST_HORIZON * (p + l - l * p)) / den;
        double ii = ((double)s->n_offoff[k] + EST_HORIZON * (1 - p + l * p)) / den;
        s->lambda_hat[k] = aa + ii - 1;
        if (s->pi_hat[k] < 1e-6) s->pi_hat[k] = 1e-6;
    }
}

void hf_select_losses(hf_select_t *s, const int *client, const double *loss, int n)
{
    for (int i = 0; i < n; i++)
        if (!isnan(loss[i]) && client[i] >= 0 && client[i] < s->N) s->loss[client[i]] = loss[i];
}

/* ---------------------------------------------------------------- CA-Fed --- */

/* surrogate Σ p_k F̂_k + C·max F̂·TV(q, p)², p ∝ π̂ ∘ alloc; F_k* = 0 */
static double cafed_objective(const hf_select_t *s, const double *alloc, const double *F, double Fmax)
{
    double S = 0.0, opt = 0.0, tv = 0.0;
    for (int k = 0; k < s->N; k++) S += s->pi_hat[k] * alloc[k];
    if (!(S > 0)) return INFINITY;
    for (int k = 0; k < s->N; k++) {
        double p = s->pi_hat[k] * alloc[k] / S;
        opt += p * F[k];
        tv += fabs(s->q[k] - p);
    }
    tv *= 0.5;
    return opt + s->cafed_c * Fmax * tv * tv;
}

static int cmp_kid_asc(const void *a, const void *b)
{
    const kid_t *x = a, *y = b;
    if (x->key < y->key) return -1;
    if (x->key > y->key) return 1;
    return (x->id > y->id) - (x->id < y->id);
}

static void cafed_truncate(hf_select_t *s, const kid_t *order, const double *F, double Fmax)
{
    double *cur = s->dtmp;
    memcpy(cur, s->alloc, (size_t)s->N * sizeof(double));
    double best = cafed_objective(s, s->alloc, F, Fmax);
    for (int i = 0; i < s->N; i++) {
        int k = order[i].id;
        if (s->alloc[k] == 0) continue;
        cur[k] = 0;
        double sum = 0.0;
        for (int j = 0; j < s->N; j++) sum += cur[j];
        if (sum == 0) break;
        double o = cafed_objective(s, cur, F, Fmax);
        if (best - o >= 0.0) { s->alloc[k] = 0; best = o; }
        else cur[k] = s->alloc[k];
    }
}

static void cafed_allocate(hf_select_t *s)
{
    int N = s->N;
    /* loss estimates: the last known local loss; unknown = mean of the known */
    double *F = hf_malloc((size_t)N * sizeof(double)), mean = 0.0, Fmax = -INFINITY;
    int nk = 0;
    for (int k = 0; k < N; k++)
        if (!isnan(s->loss[k])) { mean += s->loss[k]; nk++; }
    mean = nk ? mean / nk : 0.0;
    for (int k = 0; k < N; k++) {
        F[k] = isnan(s->loss[k]) ? mean : s->loss[k];
        if (F[k] > Fmax) Fmax = F[k];
    }
    for (int k = 0; k < N; k++) s->alloc[k] = s->q[k] / s->pi_hat[k];
    if (nk == 0) { free(F); return; }  /* no loss known yet: nothing to trade off */
    kid_t *ord = hf_malloc((size_t)N * sizeof *ord);
    for (int k = 0; k < N; k++) { ord[k].key = fabs(s->lambda_hat[k]); ord[k].id = k; }
    qsort(ord, (size_t)N, sizeof *ord, cmp_kid_desc);
    cafed_truncate(s, ord, F, Fmax);
    for (int k = 0; k < N; k++) { ord[k].key = s->pi_hat[k]; ord[k].id = k; }
    qsort(ord, (size_t)N, sizeof *ord, cmp_kid_asc);
    cafed_truncate(s, ord, F, Fmax);
    free(ord);
    free(F);
}

/* ----------------------------------------------------------------- round --- */

int hf_select_pick(hf_select_t *s, const hf_select_in_t *in, double *start, int *out, int *navail,
                   int *neligible)
{
    /* F3AST's rates start at m/N; without an availability model (no
     * observation, t stays 0) once, at round 0, not every round: r is read by
     * f3ast only, which always has one, so the round stays O(m) */
    if (s->r && (in->round == 0 || (s->t == 0 && in->online)))
        for (int k = 0; k < s->N; k++) s->r[k] = (double)in->m / s->N;
    hf_select_ctx_t c = {.in = in, .stream = SEL_UNIFORM, .start = start};
    int n, na = s->N;
    if (!in->online) {  /* no availability model: the population, in the draw's order */
        c.stream = SEL_POPULATION;
        c.ncand = s->N;
        n = s->pol->pick(s, &c, out);
    } else {
        if (s->corr == HF_CORR_CAFED) cafed_allocate(s);
        int *cand = hf_malloc((size_t)(s->N ? s->N : 1) * sizeof(int));
        na = 0;
        for (int k = 0; k < s->N; k++) {
            if (!in->online[k]) continue;
            na++;
            if (s->corr == HF_CORR_CAFED && !(s->alloc[k] > 1e-8)) continue;
            cand[c.ncand++] = k;
        }
        c.cand = cand;
        n = s->pol->pick(s, &c, out);
        qsort(out, (size_t)n, sizeof(int), cmp_int);
        free(cand);
    }
    if (navail) *navail = na;
    if (neligible) *neligible = c.ncand;
    return n;
}

int hf_select_round(hf_select_t *s, int round, uint64_t seed, int m, const unsigned char *online,
                    const hf_avail_t *av, double now, const double *need_s, int *out,
                    int *navail, int *neligible)
{
    hf_select_in_t in = {.round = round, .seed = seed, .m = m, .online = online, .av = av, .now = now,
                         .need_s = need_s};
    return hf_select_pick(s, &in, NULL, out, navail, neligible);
}

int hf_select_fill(hf_select_t *s, uint64_t seed, long fill, const int *cand, int nc, int n, int *out)
{
    hf_select_in_t in = {.round = (int)fill, .seed = seed, .m = n};
    hf_select_ctx_t c = {.in = &in, .stream = SEL_ASYNC, .cand = cand, .ncand = nc};
    int k = s->pol->pick(s, &c, out);
    qsort(out, (size_t)k, sizeof(int), cmp_int);
    return k;
}

int hf_select_scales(const hf_select_t *s, const int *sel, int nsel, double *f)
{
    if (!s->pol->scales || nsel <= 0) return 0;
    s->pol->scales(s, sel, nsel, f);
    return 1;
}

int hf_select_weights(const hf_select_t *s, const int *sel, int nsel, int neligible, double *w)
{
    if (nsel <= 0) return 0;
    double scale = (double)neligible / (double)nsel;  /* 1 / P(selected | eligible) */
    if (s->corr == HF_CORR_UNBIASED) {
        for (int i = 0; i < nsel; i++) w[i] = s->q[sel[i]] / s->pi_hat[sel[i]] * scale;
        return 1;
    }
    if (s->corr == HF_CORR_CAFED) {
        for (int i = 0; i < nsel; i++) w[i] = s->alloc[sel[i]] * scale;
        return 1;
    }
    if (!s->pol->weights) return 0;
    s->pol->weights(s, sel, nsel, w);
    return 1;
}

void hf_select_after(hf_select_t *s, const int *sel, int nsel)
{
    if (s->pol->after) s->pol->after(s, sel, nsel);
}

void hf_select_ckpt_register(hf_select_t *s)
{
    size_t N = (size_t)s->N;
    hf_ckpt_register("sel_t", &s->t, sizeof s->t);
    if (!s->q) return;  /* stateless */
    hf_ckpt_register("sel_n_on", s->n_on, N * sizeof(long));
    hf_ckpt_register("sel_n_onon", s->n_onon, N * sizeof(long));
    hf_ckpt_register("sel_n_offoff", s->n_offoff, N * sizeof(long));
    hf_ckpt_register("sel_prev", s->prev, N);
    hf_ckpt_register("sel_pi_hat", s->pi_hat, N * sizeof(double));
    hf_ckpt_register("sel_lambda_hat", s->lambda_hat, N * sizeof(double));
    hf_ckpt_register("sel_r", s->r, N * sizeof(double));
    hf_ckpt_register("sel_loss", s->loss, N * sizeof(double));
    hf_ckpt_register("sel_alloc", s->alloc, N * sizeof(double));
}
