/*
 * scaffold.c — SCAFFOLD (Karimireddy et al. 2020), option II: control
 * variates correct client drift.  Every local gradient gets + c − c_k; the
 * client uploads [Δy, Δc] (twice the model) with c_k⁺ = c_k − c + (x − y)/(K_k η);
 * the server averages both halves unweighted, steps the model by the first and
 * sets c ← c + (|K|/N)·mean Δc.  c lives on every rank, c_k on the rank hosting
 * client k, allocated at its first participation; both are checkpointed.
 */
#include "strategy.h"
#include "checkpoint.h"
#include "hf_util.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
    float *c;            /* server control variate, P floats, every rank */
    hf_client_vecs_t ck; /* hosted clients' c_k */
} scaffold_t;

static int check_scaffold(const hf_params_t *p, const hf_conf_t *c)
{
    if (p->momentum > 0)
        return hf_key_err(c, "federation.momentum", "scaffold's control-variate update (option II) "
                          "assumes plain local SGD: set momentum = 0");
    return 0;
}

static int init_scaffold(hf_strat_t *s, struct hf_run *x)
{
    (void)x;
    scaffold_t *sc = hf_calloc(1, sizeof *sc);
    sc->c = hf_alloc_aligned((size_t)s->P * sizeof(float));
    hf_client_vecs_init(&sc->ck, s, s->P);
    s->state = sc;
    s->state_bytes_max = ((uint64_t)s->client_bound_all + 1) * (uint64_t)s->P * sizeof(float);  /* c, the c_k */
    return 0;
}

static void free_scaffold(hf_strat_t *s)
{
    scaffold_t *sc = s->state;
    if (!sc) return;
    hf_client_vecs_free(&sc->ck);
    free(sc->c);
    free(sc);
}

static uint64_t bytes_scaffold(const hf_strat_t *s)
{
    const scaffold_t *sc = s->state;
    return (uint64_t)s->P * sizeof(float) + hf_client_vecs_bytes(&sc->ck);
}

/* one c_k of P floats per client that has taken part */
static uint64_t client_bytes_scaffold(long P) { return (uint64_t)P * sizeof(float); }

static void ckpt_scaffold(hf_strat_t *s)
{
    scaffold_t *sc = s->state;
    hf_ckpt_register("scaffold_c", sc->c, (size_t)s->P * sizeof(float));
    hf_client_vecs_ckpt(&sc->ck, "scaffold_ck");
}

static float *client_cv(hf_strat_t *s, int k, int create)
{
    return hf_client_vecs_get(&((scaffold_t *)s->state)->ck, k, create);
}

/* y ← y − η (g − c_k + c) */
static void grad_scaffold(hf_strat_t *s, int k, const float *w, const float *x0, float *g)
{
    (void)w; (void)x0;
    const float *c = ((scaffold_t *)s->state)->c, *ck = client_cv(s, k, 0);
    if (ck) for (long j = 0; j < s->P; j++) g[j] += c[j] - ck[j];
    else for (long j = 0; j < s->P; j++) g[j] += c[j];
}

/* Upload [Δy, Δc]; c_k⁺ = c_k − c + (x − y)/(K_k η), Δc = c_k⁺ − c_k. */
static void upload_scaffold(hf_strat_t *s, int k, const hf_cplan_t *cp, const float *y, const float *x,
                            float *u)
{
    long P = s->P;
    for (long j = 0; j < P; j++) u[j] = y[j] - x[j];
    float *ck = client_cv(s, k, 1);
    const float *c = ((scaffold_t *)s->state)->c;
    if (cp->steps <= 0) {
        memset(u + P, 0, (size_t)P * sizeof(float));
        return;
    }
    double inv = 1.0 / ((double)cp->steps * (double)s->p->lr);
    for (long j = 0; j < P; j++) {
        float dc = (float)((double)(x[j] - y[j]) * inv) - c[j];
        u[P + j] = dc;
        ck[j] += dc;
    }
}

/* agg = [ΣΔy/|K|, ΣΔc/|K|]: c ← c + (|K|/N)·(ΣΔc/|K|); Δ = first half. */
static void server_scaffold(hf_strat_t *s, const hf_plan_t *pl, float *agg, int have)
{
    long P = s->P;
    float *c = ((scaffold_t *)s->state)->c;
    if (have && pl->kept > 0) {
        float f = (float)((double)pl->kept / (double)s->nclients);
        for (long j = 0; j < P; j++) c[j] += f * agg[P + j];
    }
    int all = have;
    MPI_Allreduce(&have, &all, 1, MPI_INT, MPI_MIN, s->comm);
    if (!all) MPI_Bcast(c, (int)P, MPI_FLOAT, 0, s->comm);
}

const hf_strategy_t hf_strategy_scaffold = {
    .name = "scaffold",
    .doc = "control variates, option II; uploads [dy, dc] (2x bytes); client state persists "
           "(Karimireddy et al. 2020)",
    .modes = HF_MODE_CENTRAL,
    .keeps_stragglers = 1,
    .upload_factor = 2,
    .check = check_scaffold,
    .init = init_scaffold,
    .free = free_scaffold,
    .state_bytes = bytes_scaffold,
    .client_state_bytes = client_bytes_scaffold,
    .ckpt_register = ckpt_scaffold,
    .weights = hf_weights_count,
    .grad_hook = grad_scaffold,
    .client_upload = upload_scaffold,
    .server_update = server_scaffold,
};
