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

enum { SEL_UNIFORM = 1, SEL_POC, SEL_FORECAST, SEL_CYCLIC };  /* rng sub-streams */

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* ------------------------------------------------------------ policies --- */

static int pick_uniform(hf_select_t *s, const hf_select_ctx_t *c, int *out)
{
    int k = HF_MIN(c->m, c->ncand);
    if (k <= 0) return 0;
    hf_rng_t r;
    hf_rng_init(&r, c->seed, HF_RNG_SELECT, (uint64_t)c->round, SEL_UNIFORM);
    hf_rng_sample(&r, c->ncand, k, s->tmp);
    for (int i = 0; i < k; i++) out[i] = c->cand[s->tmp[i]];
    return k;
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
    int m = HF_MIN(c->m, c->ncand);
    if (m <= 0) return 0;
    int d = s->d > 0 ? s->d : 2 * c->m;
    d = HF_MAX(m, HF_MIN(d, c->ncand));
    /* d candidates without replacement, P ∝ q_k: Efraimidis–Spirakis keys u^(1/q) */
    kid_t *kv = hf_malloc((size_t)c->ncand * sizeof *kv);
    hf_rng_t r;
    hf_rng_init(&r, c->seed, HF_RNG_SELECT, (uint64_t)c->round, SEL_POC);
    for (int i = 0; i < c->ncand; i++) {
        int k = c->cand[i];
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
    int m = HF_MIN(c->m, c->ncand);
    if (m <= 0) return 0;
    kid_t *kv = hf_malloc((size_t)c->ncand * sizeof *kv);
    for (int i = 0; i < c->ncand; i++) {
        int k = c->cand[i];
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
    int m = HF_MIN(c->m, c->ncand);
    if (m <= 0) return 0;
    if (!c->av) return pick_uniform(s, c, out);
    /* stay_k = seconds k remains online from now; fits when stay ≥ need */
    int nfit = 0;
    int *fit = s->tmp;   /* first: fitting candidates' indices */
    kid_t *rest = hf_malloc((size_t)c->ncand * sizeof *rest);
    int nrest = 0;
    for (int i = 0; i < c->ncand; i++) {
        int k = c->cand[i];
        double stay = hf_avail_next_change(c->av, k, c->now) - c->now;
        double need = c->need_s ? c->need_s[k] : 0.0;
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
        hf_rng_init(&r, c->seed, HF_RNG_SELECT, (uint64_t)c->round, SEL_FORECAST);
        hf_rng_sample(&r, nfit, m, idx);
        for (int i = 0; i < m; i++) out[n++] = fit[idx[i]];
        free(idx);
    }
    free(rest);
    return n;
}

static int pick_cyclic(hf_select_t *s, const hf_select_ctx_t *c, int *out)
{
    int G = s->groups > 0 ? s->groups : HF_MAX(1, (s->N + c->m - 1) / HF_MAX(1, c->m));
    int g = c->round % G, n = 0;
    int *grp = hf_malloc((size_t)(c->ncand ? c->ncand : 1) * sizeof(int));
    for (int i = 0; i < c->ncand; i++)
        if (c->cand[i] % G == g) grp[n++] = c->cand[i];
    hf_rng_t r;
    hf_rng_init(&r, c->seed, HF_RNG_SELECT, (uint64_t)c->round, SEL_CYCLIC);
    int k = HF_MIN(c->m, n);
    hf_rng_sample(&r, n, k, s->tmp);
    for (int i = 0; i < k; i++) out[i] = grp[s->tmp[i]];
    free(grp);
    return k;
}

static const hf_select_policy_t pol_uniform = {
    .name = "uniform", .doc = "m of the online clients uniformly without replacement",
    .pick = pick_uniform};
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

static const hf_select_policy_t pol_poc = {
    .name = "poc", .doc = "power-of-choice (Cho et al. 2022): d candidates by q_k, the m with "
                          "the highest last local loss; simple average",
    .pick = pick_poc, .weights = weights_mean};
static const hf_select_policy_t pol_f3ast = {
    .name = "f3ast", .doc = "F3AST (Ribero et al. 2023): the m online clients with the largest "
                            "q_k/r_k, weights q_k/r_k",
    .pick = pick_f3ast, .weights = weights_f3ast, .after = after_f3ast};
static const hf_select_policy_t pol_forecast = {
    .name = "forecast", .doc = "availability-forecast-aware: clients the trace keeps online for "
                               "their expected round time first",
    .pick = pick_forecast, .needs_round_time = 1};
static const hf_select_policy_t pol_cyclic = {
    .name = "cyclic", .doc = "cyclic participation (Cho et al. 2023): group round mod G of "
                             "k mod G, uniform among its online members",
    .pick = pick_cyclic};

const hf_select_policy_t *const hf_select_policies[] = {
    &pol_uniform, &pol_poc, &pol_f3ast, &pol_forecast, &pol_cyclic, NULL};

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
            snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", i ? "|" : "", hf_select_policies[i]->name);
    return buf;
}

void hf_select_list(FILE *out)
{
    for (int i = 0; hf_select_policies[i]; i++)
        fprintf(out, "  %-10s  %s\n", hf_select_policies[i]->name, hf_select_policies[i]->doc);
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

void hf_select_free(hf_select_t *s)
{
    if (!s) return;
    free(s->q); free(s->n_on); free(s->n_onon); free(s->n_offoff); free(s->prev);
    free(s->prior_pi); free(s->prior_lambda); free(s->pi_hat); free(s->lambda_hat);
    free(s->r); free(s->loss); free(s->alloc); free(s->tmp); free(s->dtmp);
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

int hf_select_round(hf_select_t *s, int round, uint64_t seed, int m, const unsigned char *online,
                    const hf_avail_t *av, double now, const double *need_s, int *out,
                    int *navail, int *neligible)
{
    if (round == 0 || s->t == 0)
        for (int k = 0; k < s->N; k++) s->r[k] = (double)m / s->N;
    if (s->corr == HF_CORR_CAFED) cafed_allocate(s);
    int *cand = hf_malloc((size_t)(s->N ? s->N : 1) * sizeof(int));
    int nc = 0, na = 0;
    for (int k = 0; k < s->N; k++) {
        if (!online[k]) continue;
        na++;
        if (s->corr == HF_CORR_CAFED && !(s->alloc[k] > 1e-8)) continue;
        cand[nc++] = k;
    }
    hf_select_ctx_t c = {round, seed, m, cand, nc, av, now, need_s};
    int n = s->pol->pick(s, &c, out);
    qsort(out, (size_t)n, sizeof(int), cmp_int);
    free(cand);
    if (navail) *navail = na;
    if (neligible) *neligible = nc;
    return n;
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
