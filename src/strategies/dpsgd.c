/*
 * dpsgd.c — DP-SGD on the clients (Abadi, Chu, Goodfellow, McMahan, Mironov,
 * Talwar, Zhang 2016, "Deep Learning with Differential Privacy"), aggregated
 * as FedAvg (w_k = n_k): sample-level differential privacy of each client's
 * training data.
 *
 *   every local step of client k on a minibatch of B examples:
 *     g_i  = ∇ loss(w; x_i, y_i)        each example backpropagated alone
 *     ḡ_i  = g_i · min(1, C / ‖g_i‖₂)   C = dpsgd.clip (hf_dp_clip)
 *     g    = (Σ_i ḡ_i + N(0, (z C)² I)) / B,  z = dpsgd.noise_multiplier
 *     w   ← SGD step with g (federation.lr, momentum, weight decay: functions
 *           of the noisy gradient only, post-processing)
 *
 * Minibatches are the engine's: each epoch a keyed shuffle of the client's
 * samples (seed, HF_RNG_SHUFFLE, round, client) cut into batches of B (the
 * last one smaller) — shuffled batches, as most DP-SGD implementations use,
 * while the accountant below assumes Poisson sampling of each example with
 * rate q = B / n_k (the usual approximation; the analysis of shuffled batches
 * differs).  The noise of step s (counted from 0 within the round) of client k
 * in round t is drawn from (seed, HF_RNG_DPSGD, t, k << 32 | s), in parameter
 * order, on the rank hosting k: results are bitwise the same on any number of
 * ranks.  With B = 1, z = 0 and C larger than every gradient norm the steps
 * are FedAvg's with federation.clip > 0 (the engine's two-call path), bit for
 * bit.
 *
 * Accounting: every rank counts, per client, the local steps it has run so far
 * (from the round's final plan, in round_begin; checkpointed).  Client k's ε at
 * δ = dpsgd.delta is the RDP accountant's (src/privacy/accountant.c) for the
 * sampled Gaussian mechanism with q = min(1, B / n_k), noise multiplier z and
 * that step count; /rounds.dp_epsilon and the root attribute dp_epsilon report
 * the worst (largest) over the clients.  It covers one client's examples
 * against everything the client uploads (the server and any eavesdropper);
 * z = 0 gives inf.
 *
 * Cost: B backward passes of one example per step instead of one of B.  Its
 * own training (the train hook) has no upload codec (energy.compress), no
 * energy.budget_strategy sample / compress / auto and no data transfer
 * (availability.transfer): check refuses them, exit 2.
 */
#include "dpsgd.h"
#include "strategy.h"
#include "mia.h"
#include "accountant.h"
#include "checkpoint.h"
#include "hf_util.h"
#include "run.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const hf_opt_t keys[] = {
    {"dpsgd.clip", HF_OPT_FLOAT, "1", 1e-12, 1e12, NULL,
     "dpsgd: L2 norm C every per-example gradient is clipped to"},
    {"dpsgd.noise_multiplier", HF_OPT_FLOAT, "1.1", 0, 1e6, NULL,
     "dpsgd: z; Gaussian noise of standard deviation z C on each minibatch's sum of clipped gradients "
     "(0: clipping only, epsilon infinite)"},
    {"dpsgd.delta", HF_OPT_FLOAT, "1e-5", 1e-300, 0.5, NULL,
     "dpsgd: delta of the reported sample-level (epsilon, delta) guarantee of the worst client; "
     "epsilon in /rounds.dp_epsilon"},
    {0},
};

typedef struct {
    double clip, z, delta;
    long *steps;        /* local steps every client has run so far (every rank) */
    float *g;           /* one example's gradient (P) */
} dpsgd_t;

float hf_dpsgd_grad(const hf_model_t *m, hf_work_t *w, const float *params, const float *xb, const int *yb,
                    int B, double clip, double z, hf_rng_t *r, float *g, float *out)
{
    long P = m->nparams;
    int dim = m->in_dim;
    double loss = 0.0;
    memset(out, 0, (size_t)P * sizeof(float));
    for (int i = 0; i < B; i++) {
        loss += hf_model_train_step_grad(m, w, params, g, xb + (size_t)i * dim, yb + i, 1);
        hf_dp_clip(g, P, clip);
        for (long j = 0; j < P; j++) out[j] += g[j];
    }
    if (z > 0)
        for (long j = 0; j < P; j++) out[j] += (float)(z * clip * hf_rng_normal(r));
    if (B > 1) {
        float inv = 1.0f / (float)B;
        for (long j = 0; j < P; j++) out[j] *= inv;
    }
    return B > 0 ? (float)(loss / B) : NAN;
}

/* Cross-key rules: what the engine's default training would do and dpsgd's
 * own training does not (an upload codec, training on a subset or on
 * received data) is refused rather than silently skipped. */
static int check_dpsgd(const hf_params_t *p, const hf_conf_t *c)
{
    (void)p;
    if (strcmp(hf_conf_get(c, "energy.compress"), "none"))
        return hf_key_err(c, "energy.compress", "dpsgd trains and uploads itself: no upload codec");
    const char *bs = hf_conf_get(c, "energy.budget_strategy");
    if (strcmp(bs, "exclude") && strcmp(bs, "steps"))
        return hf_key_err(c, "energy.budget_strategy", "dpsgd: only exclude or steps (its training has no "
                          "data subset or upload codec)");
    if (hf_conf_bool(c, "availability.transfer"))
        return hf_key_err(c, "availability.transfer", "dpsgd: a client trains on its own samples only "
                          "(the accountant's q = B / n_k)");
    return 0;
}

static int init_dpsgd(hf_strat_t *s, struct hf_run *x)
{
    (void)x;
    dpsgd_t *d = hf_calloc(1, sizeof *d);
    d->clip = hf_conf_float(s->conf, "dpsgd.clip");
    d->z = hf_conf_float(s->conf, "dpsgd.noise_multiplier");
    d->delta = hf_conf_float(s->conf, "dpsgd.delta");
    d->steps = hf_calloc((size_t)s->nclients, sizeof(long));
    if (x) d->g = hf_malloc((size_t)s->P * sizeof(float));
    s->state = d;
    return 0;
}

static void free_dpsgd(hf_strat_t *s)
{
    dpsgd_t *d = s->state;
    if (!d) return;
    free(d->steps);
    free(d->g);
    free(d);
}

static uint64_t bytes_dpsgd(const hf_strat_t *s)
{
    return (uint64_t)s->nclients * sizeof(long) + (uint64_t)s->P * sizeof(float);
}

static void ckpt_dpsgd(hf_strat_t *s)
{
    dpsgd_t *d = s->state;
    hf_ckpt_register("dpsgd_steps", d->steps, (size_t)s->nclients * sizeof(long));
}

/* The steps a kept client runs: at most cp->steps, within cp->epochs epochs. */
static long plan_steps(const hf_strat_t *s, const hf_cplan_t *c)
{
    long nk = hf_strat_nk(s, c->client), B = s->p->batch_size;
    return HF_MIN((long)c->steps, (long)c->epochs * ((nk + B - 1) / B));
}

/* every rank, once per round, on the final plan: count the kept clients' steps */
static void begin_dpsgd(hf_strat_t *s)
{
    dpsgd_t *d = s->state;
    const hf_plan_t *pl = &s->run->plan;
    for (int i = 0; i < pl->m; i++)
        if (pl->c[i].kept && hf_strat_nk(s, pl->c[i].client) > 0) d->steps[pl->c[i].client] += plan_steps(s, &pl->c[i]);
}

/* Local DP-SGD from the global model; local − global to the aggregator. */
static hf_local_t train_dpsgd(hf_strat_t *s, int i, int k, int t, const hf_cplan_t *cp)
{
    (void)i;
    hf_run_t *x = s->run;
    dpsgd_t *d = s->state;
    const hf_params_t *p = s->p;
    double t0 = hf_wtime();
    hf_local_t res = {0};
    long P = s->P, nk = hf_run_nk(x, k);
    const long *idx = x->part.idx + x->part.off[k];
    memcpy(x->local, x->global, (size_t)P * sizeof(float));
    hf_sgd_t opt = {p->lr, p->momentum, p->weight_decay, p->clip};
    if (opt.momentum > 0) memset(x->mom, 0, (size_t)P * sizeof(float));
    hf_rng_t r;
    hf_rng_init(&r, p->seed, HF_RNG_SHUFFLE, (uint64_t)t, (uint64_t)k);
    double loss_sum = 0.0;
    for (int e = 0; e < cp->epochs && nk > 0; e++) {
        hf_rng_permutation(&r, (int)nk, x->iperm);
        for (long b0 = 0; b0 < nk && res.steps < cp->steps; b0 += p->batch_size) {
            int B = (int)HF_MIN((long)p->batch_size, nk - b0);
            hf_gather_rows(x->train.x, x->train.y, x->train.dim, idx, x->iperm + b0, B, x->xb, x->yb);
            hf_client_augment(x, k, t, idx, x->iperm + b0, B);  /* data.augment, as the engine's training */
            double tk = hf_wtime();
            hf_rng_t nr;
            hf_rng_init(&nr, p->seed, HF_RNG_DPSGD, (uint64_t)t, ((uint64_t)k << 32) | (uint64_t)res.steps);
            float l = hf_dpsgd_grad(&x->model, x->work, x->local, x->xb, x->yb, B, d->clip, d->z, &nr, d->g, x->grad);
            hf_sgd_step(&opt, P, x->local, x->grad, x->mom);
            x->t_kernel += hf_wtime() - tk;
            loss_sum += (double)l * B;
            res.steps++;
            res.samples += B;
        }
    }
    res.loss = res.samples ? loss_sum / (double)res.samples : NAN;
    hf_privacy_observe(x, t + 1, k, NULL);  /* the uplink's eavesdroppers see local − global */
    hf_agg_add_diff(x->agg, cp->weight, x->local, x->global);
    res.measured = hf_wtime() - t0;
    return res;
}

/* the worst client's ε (clients dominated in both q and steps by one already
 * computed are skipped: ε grows with either) */
static double epsilon_dpsgd(const hf_strat_t *s, int rounds)
{
    (void)rounds;
    const dpsgd_t *d = s->state;
    double worst = 0.0, *dq = hf_malloc((size_t)s->nclients * sizeof(double));
    long *ds = hf_malloc((size_t)s->nclients * sizeof(long));
    int nd = 0;
    for (int k = 0; k < s->nclients; k++) {
        long nk = hf_strat_nk(s, k);
        if (d->steps[k] <= 0 || nk <= 0) continue;
        double q = HF_MIN(1.0, (double)s->p->batch_size / (double)nk);
        int dom = 0;
        for (int j = 0; j < nd && !dom; j++) dom = dq[j] >= q && ds[j] >= d->steps[k];
        if (dom) continue;
        dq[nd] = q;
        ds[nd++] = d->steps[k];
        double e = hf_rdp_epsilon(q, d->z, d->steps[k], d->delta, NULL);
        if (e > worst || isinf(e)) worst = e;
    }
    free(dq);
    free(ds);
    return worst;
}

const hf_strategy_t hf_strategy_dpsgd = {
    .name = "dpsgd",
    .doc = "DP-SGD on the clients: per-example gradients clipped to [dpsgd] clip, Gaussian noise z*clip per "
           "minibatch (Abadi et al. 2016), FedAvg aggregation; the worst client's sample-level epsilon",
    .modes = HF_MODE_CENTRAL,
    .reports_upload = 1,
    .keeps_stragglers = 0,
    .upload_factor = 1,
    .keys = keys,
    .check = check_dpsgd,
    .init = init_dpsgd,
    .free = free_dpsgd,
    .state_bytes = bytes_dpsgd,
    .ckpt_register = ckpt_dpsgd,
    .weights = hf_weights_samples,
    .round_begin = begin_dpsgd,
    .train = train_dpsgd,
    .privacy_epsilon = epsilon_dpsgd,
};
