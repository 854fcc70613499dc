/*
 * feddyn.c — FedDyn (Acar et al. 2021), dynamic regularization.  Client k
 * minimises L_k(θ) − ⟨∇L_k(θ_k^{t−1}), θ⟩ + (α/2)‖θ − θ^{t−1}‖²; the linear term
 * is kept as the client's running sum of its past updates, hist_k = Σ Δ_k
 * (= −∇L_k/α at the optimum), so the local gradient becomes
 *     g + α_k (θ − θ^{t−1} + hist_k),
 * with α_k = α · n̄ / n_k (the authors' code scales α by the client's share of
 * the data; n̄ = mean n_k).  After training hist_k += Δ_k.  The server keeps
 * H = (1/N) Σ_k hist_k over all N clients and sets
 *     θ^t = mean_{kept} θ_k + H,
 * i.e. Δ = mean Δ_k + H after H += (|K|/N) · mean Δ_k — the paper's
 * θ^t = mean θ_k − h^t/α with h = −α·H.
 *
 * State: H on every rank, hist_k on the rank hosting client k (allocated at
 * its first participation); both checkpointed.  With α = 0 the local problem
 * is plain SGD (the fused step) but the server still adds H, so FedDyn α = 0
 * is not FedAvg: after one round it is FedAvg with server.lr = 1 + |K|/N
 * (tests/feddyn.sh).
 */
#include "strategy.h"
#include "checkpoint.h"
#include "hf_util.h"
#include <stdlib.h>
#include <string.h>

static const hf_opt_t keys[] = {
    {"feddyn.alpha", HF_OPT_FLOAT, "0.01", 0, 1e6, NULL,
     "feddyn: regularization alpha; client k uses alpha * mean(n) / n_k (authors' code); 0 = no local "
     "regularizer (the server still adds the running mean of all updates)"},
    {0},
};

typedef struct {
    float *H;           /* (1/N) Σ_k hist_k, P floats, every rank */
    hf_client_vecs_t hist;  /* hosted clients' hist_k */
    double nbar;        /* mean n_k over all clients */
    float alpha;        /* feddyn.alpha */
} feddyn_t;

static int init_feddyn(hf_strat_t *s, struct hf_run *x)
{
    (void)x;
    feddyn_t *f = hf_calloc(1, sizeof *f);
    f->H = hf_alloc_aligned((size_t)s->P * sizeof(float));
    hf_client_vecs_init(&f->hist, s, s->P);
    f->nbar = (double)(s->off[s->nclients] - s->off[0]) / (double)s->nclients;
    f->alpha = (float)hf_conf_float(s->conf, "feddyn.alpha");
    s->state = f;
    s->grad_active = f->alpha != 0.0f;
    s->state_bytes_max = ((uint64_t)s->client_bound_all + 1) * (uint64_t)s->P * sizeof(float);  /* H, the hist_k */
    return 0;
}

static void free_feddyn(hf_strat_t *s)
{
    feddyn_t *f = s->state;
    if (!f) return;
    hf_client_vecs_free(&f->hist);
    free(f->H);
    free(f);
}

static uint64_t bytes_feddyn(const hf_strat_t *s)
{
    const feddyn_t *f = s->state;
    return (uint64_t)s->P * sizeof(float) + hf_client_vecs_bytes(&f->hist);
}

/* one hist_k of P floats per client that has taken part */
static uint64_t client_bytes_feddyn(long P) { return (uint64_t)P * sizeof(float); }

static void ckpt_feddyn(hf_strat_t *s)
{
    feddyn_t *f = s->state;
    hf_ckpt_register("feddyn_H", f->H, (size_t)s->P * sizeof(float));
    hf_client_vecs_ckpt(&f->hist, "feddyn_hist");
}

static float *client_hist(hf_strat_t *s, int k, int create)
{
    return hf_client_vecs_get(&((feddyn_t *)s->state)->hist, k, create);
}

/* g += α_k (w − θ^{t−1} + hist_k) */
static void grad_feddyn(hf_strat_t *s, int k, const float *w, const float *x0, float *g)
{
    const feddyn_t *f = s->state;
    const float ak = (float)((double)f->alpha * f->nbar / (double)hf_strat_nk(s, k));
    const float *h = client_hist(s, k, 0);
    if (h) for (long j = 0; j < s->P; j++) g[j] += ak * (w[j] - x0[j] + h[j]);
    else for (long j = 0; j < s->P; j++) g[j] += ak * (w[j] - x0[j]);
}

/* Upload Δ_k = y − x; hist_k += Δ_k. */
static void upload_feddyn(hf_strat_t *s, int k, const hf_cplan_t *cp, const float *y, const float *x, float *u)
{
    (void)cp;
    float *h = client_hist(s, k, 1);
    for (long j = 0; j < s->P; j++) {
        u[j] = y[j] - x[j];
        h[j] += u[j];
    }
}

/* agg = mean Δ_k over the kept clients: H += (|K|/N)·agg; Δ = agg + H. */
static void server_feddyn(hf_strat_t *s, const hf_plan_t *pl, float *agg, int have)
{
    float *H = ((feddyn_t *)s->state)->H;
    if (have && pl->kept > 0) {
        float f = (float)((double)pl->kept / (double)s->nclients);
        for (long j = 0; j < s->P; j++) {
            H[j] += f * agg[j];
            agg[j] += H[j];
        }
    }
    int all = have;
    MPI_Allreduce(&have, &all, 1, MPI_INT, MPI_MIN, s->comm);
    if (!all) MPI_Bcast(H, (int)s->P, MPI_FLOAT, 0, s->comm);
}

const hf_strategy_t hf_strategy_feddyn = {
    .name = "feddyn",
    .doc = "dynamic regularization: local gradient + alpha_k (w - x_t + sum of own past updates); server "
           "adds the mean of all clients' past updates ([feddyn] alpha) (Acar et al. 2021)",
    .modes = HF_MODE_CENTRAL,
    .keeps_stragglers = 0,
    .upload_factor = 1,
    .keys = keys,
    .init = init_feddyn,
    .free = free_feddyn,
    .state_bytes = bytes_feddyn,
    .client_state_bytes = client_bytes_feddyn,
    .ckpt_register = ckpt_feddyn,
    .weights = hf_weights_count,
    .grad_hook = grad_feddyn,
    .client_upload = upload_feddyn,
    .server_update = server_feddyn,
};
