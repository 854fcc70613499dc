/*
 * ditto.c — Ditto (Li, Hu, Beirami, Smith, ICML 2021, "Ditto: Fair and Robust
 * Federated Learning through Personalization").  The global model w is FedAvg's
 * (the engine's training, weights n_k); besides it, every client k keeps a
 * personal model v_k solving
 *     min_v  F_k(v) + (λ/2) ‖v − w^t‖²
 * by local SGD from its previous v_k.  In a round a kept client first trains
 * the global model as FedAvg does, then (personal_train) runs the same number
 * of steps on v_k over the same minibatches (the shuffles of (seed, round,
 * client)) — the authors' code likewise interleaves the two updates batch by
 * batch on shared batches.  Per-client evaluation (client_eval.c) evaluates
 * v_k (personal_model).
 *
 * Where this differs from the authors' code, and why:
 *  - the regulariser enters through its proximal step: with learning rate η
 *    and minibatch gradient g, v ← (v − η g + η λ w^t)/(1 + η λ), written as
 *    the gradient (g + λ (v − w^t))/(1 + η λ) handed to the engine's SGD step
 *    (grad_hook).  For η λ ≪ 1 it equals the authors' explicit step
 *    v ← v − η (g + λ (v − w^t)) to first order; unlike it, it is stable for
 *    any λ, and as λ → ∞ v_k → w^t (tests/ditto.sh);
 *  - v_k trains by plain SGD at federation.lr (no momentum, weight decay or
 *    clipping, as the authors' optimizer; the proximal step needs it), the
 *    global model with the run's optimizer;
 *  - a selected client's simulated compute time and energy count both
 *    trainings (flops_scale 2); uploads are the global model's only;
 *  - v_k exists only for clients that have been kept in some round: it starts
 *    from the global model w^t of its first round (the authors start every
 *    client from w^0 and hold all N models); a client without one is
 *    evaluated with the global model.  Memory grows with the participants.
 *
 * State: v_k on the rank hosting client k (hf_client_vecs_t), checkpointed as
 * ditto_v, so --resume on any rank count continues bit for bit.
 */
#include "strategy.h"
#include "checkpoint.h"
#include "hf_util.h"
#include "run.h"
#include <stdlib.h>
#include <string.h>

static const hf_opt_t keys[] = {
    {"ditto.lambda", HF_OPT_FLOAT, "0.1", 0, 1e12, NULL,
     "ditto: lambda of the personal models' pull (lambda/2)|v_k - w|^2 towards the global model; 0 = "
     "purely local models, large = the global model (proximal step, stable for any lambda)"},
    {0},
};

typedef struct {
    hf_client_vecs_t v;   /* hosted clients' personal models v_k (NULL: none yet) */
    float lambda;         /* ditto.lambda */
    float scale;          /* 1 / (1 + η λ) */
    double *fscale;       /* 2 per plan entry: a client trains two models (device clock, energy) */
} ditto_t;

static int init_ditto(hf_strat_t *s, struct hf_run *x)
{
    ditto_t *d = hf_calloc(1, sizeof *d);
    hf_client_vecs_init(&d->v, s, s->P);
    d->lambda = (float)hf_conf_float(s->conf, "ditto.lambda");
    d->scale = (float)(1.0 / (1.0 + (double)s->p->lr * (double)d->lambda));
    s->state = d;
    int np = x && x->m > 0 ? x->m : s->nclients;  /* plan entries: at most x->m a round */
    d->fscale = hf_calloc((size_t)np, sizeof(double));
    for (int i = 0; i < np; i++) d->fscale[i] = 2.0;
    s->grad_active = 0;  /* on only while a personal model trains */
    s->state_bytes_max = (uint64_t)s->client_bound_all * (uint64_t)s->P * sizeof(float);  /* the v_k */
    return 0;
}

static void free_ditto(hf_strat_t *s)
{
    ditto_t *d = s->state;
    if (!d) return;
    hf_client_vecs_free(&d->v);
    free(d->fscale);
    free(d);
}

static uint64_t bytes_ditto(const hf_strat_t *s)
{
    return hf_client_vecs_bytes(&((const ditto_t *)s->state)->v);
}

/* one v_k of P floats per client that has taken part */
static uint64_t client_bytes_ditto(long P) { return (uint64_t)P * sizeof(float); }

static void ckpt_ditto(hf_strat_t *s)
{
    hf_client_vecs_ckpt(&((ditto_t *)s->state)->v, "ditto_v");
}

/* g ← (g + λ (v − w^t)) / (1 + η λ): the proximal step of the regulariser. */
void hf_ditto_grad(hf_strat_t *s, int k, const float *v, const float *x0, float *g)
{
    (void)k;
    (void)x0;  /* the start is v_k; the centre is the round's global model */
    const ditto_t *d = s->state;
    const float *w = s->run->global;
    const float lam = d->lambda, sc = d->scale;
    for (long j = 0; j < s->P; j++) g[j] = (g[j] + lam * (v[j] - w[j])) * sc;
}

/* After kept plan entry i (client k) trained the global model: v_k's steps. */
static void personal_ditto(hf_strat_t *s, int i, int k, int t, const hf_cplan_t *cp)
{
    (void)i;
    ditto_t *d = s->state;
    struct hf_run *x = s->run;
    size_t pb = (size_t)s->P * sizeof(float);
    float *v = hf_client_vecs_get(&d->v, k, 0);
    if (!v) {  /* first participation: start from the round's global model */
        v = hf_client_vecs_get(&d->v, k, 1);
        memcpy(v, x->global, pb);
    }
    hf_rng_t r;
    hf_rng_init(&r, s->p->seed, HF_RNG_SHUFFLE, (uint64_t)t, (uint64_t)k);  /* the global training's batches */
    hf_sgd_t plain = {s->p->lr, 0.0f, 0.0f, 0.0f};  /* the authors' optimizer; the proximal step needs it */
    s->grad_active = 1;
    hf_client_sgd(x, k, v, cp, &r, &plain);
    s->grad_active = 0;
    memcpy(v, x->local, pb);
}

static const double *flops_ditto(const hf_strat_t *s) { return ((const ditto_t *)s->state)->fscale; }

static const float *model_ditto(hf_strat_t *s, int k)
{
    return hf_client_vecs_get(&((ditto_t *)s->state)->v, k, 0);
}

const hf_strategy_t hf_strategy_ditto = {
    .name = "ditto",
    .doc = "personalization: FedAvg's global model plus a personal model per participating client, "
           "trained towards the global one ([ditto] lambda) (Li et al. 2021)",
    .modes = HF_MODE_CENTRAL,
    .keeps_stragglers = 0,
    .upload_factor = 1,
    .keys = keys,
    .init = init_ditto,
    .free = free_ditto,
    .state_bytes = bytes_ditto,
    .client_state_bytes = client_bytes_ditto,
    .ckpt_register = ckpt_ditto,
    .weights = hf_weights_samples,
    .flops_scale = flops_ditto,
    .grad_hook = hf_ditto_grad,
    .personal_train = personal_ditto,
    .personal_model = model_ditto,
};
