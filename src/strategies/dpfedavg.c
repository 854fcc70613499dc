/*
 * dpfedavg.c — DP-FedAvg (McMahan, Ramage, Talwar, Zhang 2018, "Learning
 * Differentially Private Recurrent Language Models"): user-level differential
 * privacy for federated averaging.
 *
 *   client k   Δ_k = y_k − x, clipped to L2 norm C: Δ_k · min(1, C / ‖Δ_k‖)
 *              (dp.where = client: + N(0, z² C²) per coordinate before upload)
 *   server     x ← x + (Σ_{k kept} Δ_k) / m + N(0, (z C / m)²) per coordinate
 *              (dp.where = server), m = clients_per_round: a fixed
 *              denominator, so a client's influence stays C / m whatever
 *              drops out (the paper's fixed-denominator estimator with w_k = 1)
 *
 * Noise comes from the keyed RNG — (seed, HF_RNG_DP, round, 0) at the server,
 * (seed, HF_RNG_DP, round, 1 + k) at client k — and is added after the
 * reduction (or on the hosting rank), so results are the same on any number of
 * ranks.  Privacy is accounted by the RDP accountant (src/privacy/accountant.c):
 * ε after t rounds at δ = dp.delta, for the sampled Gaussian mechanism with
 * q = m / N and noise multiplier z: exact with selection.policy = poisson
 * (every client independently with probability q, the analysis's sampling:
 * the count varies, the denominator stays m = qN, and the noise is released
 * in a round nobody was drawn in too), the usual approximation with uniform
 * (m clients without replacement); with dp.where = client, the bound a client has
 * against the server itself: q = 1, one step per round (the worst case, a
 * client selected every round).  /rounds.dp_epsilon, root attribute
 * dp_epsilon.
 */
#include "strategy.h"
#include "accountant.h"
#include "hf_util.h"
#include "rng.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const hf_opt_t keys[] = {
    {"dp.clip", HF_OPT_FLOAT, "1", 1e-12, 1e12, NULL,
     "dpfedavg: L2 norm C every client update is clipped to"},
    {"dp.noise_multiplier", HF_OPT_FLOAT, "1", 0, 1e6, NULL,
     "dpfedavg: z; Gaussian noise of standard deviation z C on the sum of the clipped updates "
     "(0: clipping only, epsilon infinite)"},
    {"dp.where", HF_OPT_CHOICE, "server", HF_OPT_NORANGE, "server|client",
     "dpfedavg: server (central DP: noise on the sum, the server is trusted) or client (local DP: "
     "each client adds N(0, z^2 C^2) before upload)"},
    {"dp.delta", HF_OPT_FLOAT, "1e-5", 1e-300, 0.5, NULL,
     "dpfedavg: delta of the reported (epsilon, delta) guarantee; epsilon in /rounds.dp_epsilon"},
    {0},
};

typedef struct {
    double clip, z, delta;
    int local;          /* dp.where = client */
    int t;              /* the round being run (plan hook) */
    double q;           /* sampling rate of the accountant */
} dp_t;

/* Cross-key rules: the accountant assumes every client is equally likely to
 * be picked in every round. */
static int check_dp(const hf_params_t *p, const hf_conf_t *c)
{
    (void)p;
    const char *pol = hf_conf_get(c, "selection.policy");
    if (hf_conf_float(c, "dp.noise_multiplier") > 0 && strcmp(pol, "uniform") && strcmp(pol, "poisson"))
        return hf_key_err(c, "selection.policy", "dpfedavg's accountant needs uniform or poisson client "
                          "sampling (every client equally likely each round)");
    if (hf_conf_float(c, "dp.noise_multiplier") > 0 && strcmp(hf_conf_get(c, "availability.model"), "always"))
        return hf_key_err(c, "availability.model", "dpfedavg's accountant needs uniform client sampling: "
                          "with intermittent availability the sampling rate differs per client");
    if (strcmp(hf_conf_get(c, "energy.scheduler"), "agnostic"))
        return hf_key_err(c, "energy.scheduler", "dpfedavg's accountant needs uniform client sampling: "
                          "the carbon-aware scheduler samples unequally");
    return 0;
}

static int init_dp(hf_strat_t *s, struct hf_run *x)
{
    (void)x;
    dp_t *d = hf_calloc(1, sizeof *d);
    d->clip = hf_conf_float(s->conf, "dp.clip");
    d->z = hf_conf_float(s->conf, "dp.noise_multiplier");
    d->delta = hf_conf_float(s->conf, "dp.delta");
    d->local = !strcmp(hf_conf_get(s->conf, "dp.where"), "client");
    d->q = HF_MIN(1.0, (double)s->p->clients_per_round / (double)s->nclients);
    s->state = d;
    return 0;
}

static void free_dp(hf_strat_t *s) { free(s->state); }

/* w_k = 1, divisor m: the fixed denominator */
static void weights_dp(hf_strat_t *s, hf_plan_t *plan)
{
    for (int i = 0; i < plan->m; i++) plan->c[i].weight = plan->c[i].kept ? 1.0 : 0.0;
    plan->divisor = (double)s->p->clients_per_round;
}

static void plan_dp(hf_strat_t *s, int t, const int *sel, int m)
{
    (void)sel; (void)m;
    ((dp_t *)s->state)->t = t;
}

/* v += sd · N(0, 1), keyed (seed, HF_RNG_DP, round, stream) */
static void add_noise(const hf_strat_t *s, int t, uint64_t stream, double sd, float *v)
{
    hf_rng_t r;
    hf_rng_init(&r, s->p->seed, HF_RNG_DP, (uint64_t)t, stream);
    for (long j = 0; j < s->P; j++) v[j] += (float)(sd * hf_rng_normal(&r));
}

/* Δ = y − x, clipped to C (norm in double, in parameter order); local DP adds its noise */
void hf_dp_clip(float *u, long n, double clip)
{
    double n2 = 0.0;
    for (long j = 0; j < n; j++) n2 += (double)u[j] * u[j];
    double norm = sqrt(n2);
    if (norm <= clip) return;
    float f = (float)(clip / norm);
    for (long j = 0; j < n; j++) u[j] *= f;
}

static void upload_dp(hf_strat_t *s, int k, const hf_cplan_t *cp, const float *y, const float *x, float *u)
{
    (void)cp;
    const dp_t *d = s->state;
    for (long j = 0; j < s->P; j++) u[j] = y[j] - x[j];
    hf_dp_clip(u, s->P, d->clip);
    if (d->local && d->z > 0) add_noise(s, d->t, 1 + (uint64_t)k, d->z * d->clip, u);
}

/* agg = Σ Δ_k / m: central DP adds N(0, (z C / m)²) */
static void server_dp(hf_strat_t *s, const hf_plan_t *pl, float *agg, int have)
{
    (void)pl;
    const dp_t *d = s->state;
    if (have && !d->local && d->z > 0)
        add_noise(s, d->t, 0, d->z * d->clip / (double)s->p->clients_per_round, agg);
}

static double epsilon_dp(const hf_strat_t *s, int rounds)
{
    const dp_t *d = s->state;
    return hf_rdp_epsilon(d->local ? 1.0 : d->q, d->z, rounds, d->delta, NULL);
}

const hf_strategy_t hf_strategy_dpfedavg = {
    .name = "dpfedavg",
    .doc = "DP-FedAvg: client updates clipped to [dp] clip, Gaussian noise z*clip on their sum (or per "
           "client), fixed denominator; epsilon by an RDP accountant (McMahan et al. 2018)",
    .modes = HF_MODE_CENTRAL,
    .keeps_stragglers = 0,
    .upload_factor = 1,
    .update_when_empty = 1,
    .keys = keys,
    .check = check_dp,
    .init = init_dp,
    .free = free_dp,
    .weights = weights_dp,
    .plan = plan_dp,
    .client_upload = upload_dp,
    .server_update = server_dp,
    .privacy_epsilon = epsilon_dp,
};
