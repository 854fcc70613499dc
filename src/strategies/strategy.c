/*
 * strategy.c — FedAvg, FedProx, SCAFFOLD and FedNova as entries of the
 * strategy registry (specifications: ../shared/ALGORITHMS.md), and the
 * strategy-independent straggler protocol of FedProx (Li et al. 2020, authors'
 * code flearn/trainers/fedprox.py): a seeded fraction of each round's selection
 * are stragglers; strategies with keeps_stragglers = 0 (FedAvg) drop them,
 * the others keep their partial work of U{1..E−1} epochs.
 *
 * Everything that decides weights is computed from the plan, which every rank
 * derives from the seed, so the aggregate stays bitwise identical for any rank
 * layout.  Client-side state (SCAFFOLD's c_k) lives on the rank that hosts the
 * client (contiguous blocks, fixed for a run).
 */
#include "strategy.h"
#include "agg.h"
#include "hetero.h"
#include "feddf.h"
#include "dkt.h"
#include "hf_util.h"
#include "rng.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long nk_of(const hf_strat_t *s, int k) { return s->off[k + 1] - s->off[k]; }

/* ---------------------------------------------------------------- common --- */

/* Sample-weighted averaging: w_k = n_k, divisor Σ_K n_k (FedAvg, FedProx). */
static void weights_samples(hf_strat_t *s, hf_plan_t *pl)
{
    (void)s;
    for (int i = 0; i < pl->m; i++) pl->c[i].weight = pl->c[i].kept ? (double)nk_of(s, pl->c[i].client) : 0.0;
    pl->divisor = pl->nsum;
}

/* FedProx's proximal term: grad += μ (w − x_t).  Skipped entirely when μ = 0,
 * so FedProx μ=0 runs exactly FedAvg's arithmetic. */
static void grad_prox(hf_strat_t *s, int k, const float *w, const float *x0, float *g)
{
    (void)k;
    const float mu = s->mu;
    if (mu == 0.0f) return;
    for (long j = 0; j < s->P; j++) g[j] += mu * (w[j] - x0[j]);
}

/* ---------------------------------------------------------------- FedNova -- */

/* True when local training must take the gradient → hook → step path.  A
 * proximal term with mu = 0 changes nothing, so FedProx/FedNova with mu = 0
 * train exactly like FedAvg (the fused step), bit for bit. */
int hf_strat_uses_grad_hook(const hf_strat_t *s)
{
    if (!s->st->grad_hook) return 0;
    if (s->st->grad_hook == grad_prox && s->mu == 0.0f) return 0;
    return 1;
}

double hf_fednova_a(int tau, double rho, double eta_mu)
{
    /* JYWa/FedNova distoptim/FedNova.py: per local step, counter = ρ·counter + 1 and
     * a += counter (momentum); a = a(1 − ημ) + 1 (proximal); a += 1 when neither. */
    double a = 0.0, counter = 0.0;
    for (int j = 0; j < tau; j++) {
        if (rho != 0.0) {
            counter = counter * rho + 1.0;
            a += counter;
        }
        if (eta_mu != 0.0) {
            a *= 1.0 - eta_mu;
            a += 1.0;
        }
        if (rho == 0.0 && eta_mu == 0.0) a += 1.0;
    }
    return a;
}

/* x ← x − τ_eff Σ p_k d_k with d_k = −Δ_k/a_k, p_k = n_k/Σ_K n: the aggregate
 * Σ w_k Δ_k / Σ_K n with w_k = n_k·τ_eff/a_k.  When every kept a_k is the same,
 * τ_eff/a_k = 1 exactly and FedNova is FedAvg bit for bit. */
static void weights_fednova(hf_strat_t *s, hf_plan_t *pl)
{
    double num = 0.0, a0 = -1.0;
    int equal = 1;
    for (int i = 0; i < pl->m; i++) {
        if (!pl->c[i].kept) continue;
        num += (double)nk_of(s, pl->c[i].client) * pl->c[i].a;
        if (a0 < 0) a0 = pl->c[i].a;
        else if (pl->c[i].a != a0) equal = 0;
    }
    double teff = pl->nsum > 0 ? num / pl->nsum : 0.0;
    for (int i = 0; i < pl->m; i++) {
        hf_cplan_t *c = &pl->c[i];
        double nk = (double)nk_of(s, c->client);
        c->weight = !c->kept ? 0.0 : (equal || c->a <= 0) ? nk : nk * (teff / c->a);
    }
    pl->divisor = pl->nsum;
}

/* ---------------------------------------------------------------- SCAFFOLD - */

static int init_scaffold(hf_strat_t *s)
{
    s->state_scaffold_c = hf_alloc_aligned((size_t)s->P * sizeof(float));
    int nh = s->last_client - s->first_client;
    s->state_scaffold_ck = hf_calloc((size_t)HF_MAX(nh, 1), sizeof(float *));
    s->state_bytes_max = (uint64_t)(s->nclients + 1) * (uint64_t)s->P * sizeof(float);
    return 0;
}

static float *scaffold_ck(hf_strat_t *s, int k, int create)
{
    float **slot = &s->state_scaffold_ck[k - s->first_client];
    if (!*slot && create) *slot = hf_alloc_aligned((size_t)s->P * sizeof(float));
    return *slot;
}

/* Option II, unweighted server step: w_k = 1, divisor |K_t|. */
static void weights_scaffold(hf_strat_t *s, hf_plan_t *pl)
{
    (void)s;
    for (int i = 0; i < pl->m; i++) pl->c[i].weight = pl->c[i].kept ? 1.0 : 0.0;
    pl->divisor = pl->kept;
}

/* y ← y − η (g − c_k + c) */
static void grad_scaffold(hf_strat_t *s, int k, const float *w, const float *x0, float *g)
{
    (void)w; (void)x0;
    const float *c = s->state_scaffold_c, *ck = scaffold_ck(s, k, 0);
    if (ck) for (long j = 0; j < s->P; j++) g[j] += c[j] - ck[j];
    else for (long j = 0; j < s->P; j++) g[j] += c[j];
}

/* Upload [Δy, Δc]; c_k⁺ = c_k − c + (x − y)/(K_k η), Δc = c_k⁺ − c_k. */
static void upload_scaffold(hf_strat_t *s, int k, const hf_cplan_t *cp, const float *y, const float *x,
                            float *u)
{
    long P = s->P;
    for (long j = 0; j < P; j++) u[j] = y[j] - x[j];
    float *ck = scaffold_ck(s, k, 1);
    const float *c = s->state_scaffold_c;
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
    if (have && pl->kept > 0) {
        float f = (float)((double)pl->kept / (double)s->nclients);
        for (long j = 0; j < P; j++) s->state_scaffold_c[j] += f * agg[P + j];
    }
    int all = have;
    MPI_Allreduce(&have, &all, 1, MPI_INT, MPI_MIN, s->comm);
    if (!all) MPI_Bcast(s->state_scaffold_c, (int)P, MPI_FLOAT, 0, s->comm);
}

/* --------------------------------------------------------------- registry -- */

static const hf_strategy_t fedavg = {
    .name = "fedavg",
    .doc = "sample-weighted model averaging (McMahan et al. 2017); drops stragglers",
    .keeps_stragglers = 0,
    .upload_factor = 1,
    .weights = weights_samples,
};

static const hf_strategy_t fedprox = {
    .name = "fedprox",
    .doc = "FedAvg + proximal term mu/2|w-x_t|^2 ([fedprox] mu); keeps stragglers' partial work "
           "(Li et al. 2020)",
    .keeps_stragglers = 1,
    .upload_factor = 1,
    .weights = weights_samples,
    .grad_hook = grad_prox,
};

static const hf_strategy_t scaffold = {
    .name = "scaffold",
    .doc = "control variates, option II; uploads [dy, dc] (2x bytes); client state persists "
           "(Karimireddy et al. 2020)",
    .keeps_stragglers = 1,
    .upload_factor = 2,
    .init = init_scaffold,
    .weights = weights_scaffold,
    .grad_hook = grad_scaffold,
    .client_upload = upload_scaffold,
    .server_update = server_scaffold,
};

static const hf_strategy_t fednova = {
    .name = "fednova",
    .doc = "normalized averaging d_k = dx/a_k, x -= tau_eff sum p_k d_k ([fednova] mu for a "
           "proximal term) (Wang et al. 2020)",
    .keeps_stragglers = 1,
    .upload_factor = 1,
    .weights = weights_fednova,
    .grad_hook = grad_prox,
};

/* width-heterogeneous strategies (hetero.c) */
const hf_strategy_t *const hf_strategies[] = {&fedavg, &fedprox, &scaffold, &fednova,
                                              &hf_strategy_heterofl, &hf_strategy_fjord,
                                              &hf_strategy_feddf, &hf_strategy_dkt, NULL};

const hf_strategy_t *hf_strategy_find(const char *name)
{
    for (int i = 0; hf_strategies[i]; i++)
        if (!strcmp(hf_strategies[i]->name, name)) return hf_strategies[i];
    return NULL;
}

void hf_strategy_list(FILE *out)
{
    for (int i = 0; hf_strategies[i]; i++)
        fprintf(out, "  %-11s %s\n", hf_strategies[i]->name, hf_strategies[i]->doc);
}

/* ------------------------------------------------------------------ setup -- */

int hf_strat_init(hf_strat_t *s, const hf_params_t *p, long P, int nclients, const long *off,
                  int first, int last, MPI_Comm comm)
{
    memset(s, 0, sizeof *s);
    s->st = hf_strategy_find(p->strategy);
    if (!s->st) return hf_seterr(HF_EINPUT, "unknown strategy '%s'", p->strategy);
    s->p = p;
    s->P = P;
    s->nclients = nclients;
    s->off = off;
    s->first_client = first;
    s->last_client = last;
    s->comm = comm;
    MPI_Comm_rank(comm, &s->rank);
    s->mu = !strcmp(s->st->name, "fedprox") ? (float)p->fedprox_mu
            : !strcmp(s->st->name, "fednova") ? (float)p->fednova_mu : 0.0f;
    return s->st->init ? s->st->init(s) : 0;
}

void hf_strat_free(hf_strat_t *s)
{
    if (s->state_scaffold_ck)
        for (int i = 0; i < s->last_client - s->first_client; i++) free(s->state_scaffold_ck[i]);
    free(s->state_scaffold_ck);
    free(s->state_scaffold_c);
    memset(s, 0, sizeof *s);
}

uint64_t hf_strat_state_bytes(const hf_strat_t *s)
{
    uint64_t b = 0, fb = (uint64_t)s->P * sizeof(float);
    if (s->state_scaffold_c) b += fb;
    if (s->state_scaffold_ck)
        for (int i = 0; i < s->last_client - s->first_client; i++)
            if (s->state_scaffold_ck[i]) b += fb;
    return b;
}

void hf_strat_plan(hf_strat_t *s, int t, const int *sel, int m, hf_plan_t *pl)
{
    const hf_params_t *p = s->p;
    pl->m = m;
    pl->kept = 0;
    pl->nsum = 0.0;
    for (int i = 0; i < m; i++) {
        hf_cplan_t *c = &pl->c[i];
        memset(c, 0, sizeof *c);
        c->client = sel[i];
        c->kept = 1;
        c->epochs = p->local_epochs;
    }
    /* stragglers: round(x·m) positions of the selection, FedProx's code semantics */
    int ns = (int)floor(p->stragglers * (double)m + 0.5);
    if (ns > 0) {
        int *pos = hf_calloc((size_t)ns, sizeof(int));
        hf_rng_t r;
        hf_rng_init(&r, p->seed, HF_RNG_STRAGGLER, (uint64_t)t, 0);
        hf_rng_sample(&r, m, ns, pos);
        for (int i = 0; i < ns; i++) {
            hf_cplan_t *c = &pl->c[pos[i]];
            c->straggler = 1;
            if (!s->st->keeps_stragglers) {
                c->kept = 0;
                c->epochs = 0;
            } else if (p->local_epochs >= 2) {
                hf_rng_t re;
                hf_rng_init(&re, p->seed, HF_RNG_STRAGGLER, (uint64_t)t, 1 + (uint64_t)c->client);
                c->epochs = 1 + (int)hf_rng_below(&re, (uint64_t)(p->local_epochs - 1));
            }
        }
        free(pos);
    }
    double eta_mu = (double)p->lr * (double)s->mu;
    for (int i = 0; i < m; i++) {
        hf_cplan_t *c = &pl->c[i];
        long nk = nk_of(s, c->client);
        c->steps = c->epochs * (int)((nk + p->batch_size - 1) / p->batch_size);
        c->a = !strcmp(s->st->name, "fednova") ? hf_fednova_a(c->steps, p->momentum, eta_mu)
                                                : (double)c->steps;
        if (c->kept) {
            pl->kept++;
            pl->nsum += (double)nk;
        }
    }
    s->st->weights(s, pl);
}

struct hf_agg *hf_strat_agg_new(const hf_strat_t *s, int ntensors, const long *toff)
{
    int f = s->st->upload_factor;
    long *t2 = hf_calloc((size_t)ntensors * (size_t)f + 1, sizeof(long));
    for (int r = 0; r < f; r++)
        for (int i = 0; i < ntensors; i++) t2[r * ntensors + i] = (long)r * s->P + toff[i];
    t2[f * ntensors] = (long)f * s->P;
    hf_agg_t *a = hf_agg_new((long)f * s->P, f * ntensors, t2, s->p->exact, s->p->topology, s->comm);
    free(t2);
    return a;
}

/* ------------------------------------------------------------ parameters -- */

static const char *sget(const hf_conf_t *c, const char *k)
{
    const char *v = hf_conf_get(c, k);
    return v ? v : "";
}

int hf_strat_params(hf_params_t *p, const hf_conf_t *c)
{
    snprintf(p->strategy, sizeof p->strategy, "%s", sget(c, "federation.strategy"));
    p->stragglers = hf_conf_float(c, "federation.stragglers");
    p->decentralized = !strcmp(sget(c, "federation.mode"), "decentralized");
    p->fedprox_mu = hf_conf_float(c, "fedprox.mu");
    p->fednova_mu = hf_conf_float(c, "fednova.mu");
    snprintf(p->server_opt, sizeof p->server_opt, "%s", sget(c, "server.optimizer"));
    p->server_lr = hf_conf_float(c, "server.lr");
    p->server_beta1 = hf_conf_float(c, "server.beta1");
    p->server_beta2 = hf_conf_float(c, "server.beta2");
    p->server_tau = hf_conf_float(c, "server.tau");
    snprintf(p->topo_kind, sizeof p->topo_kind, "%s", sget(c, "topology.kind"));
    p->topo_p = hf_conf_float(c, "topology.p");
    snprintf(p->topo_path, sizeof p->topo_path, "%s", sget(c, "topology.path"));
    p->topo_local_steps = (int)hf_conf_int(c, "topology.local_steps");
    if (!hf_strategy_find(p->strategy))
        return hf_key_err(c, "federation.strategy", "not in the strategy registry (hetfl list)");
    if (p->decentralized) {
        if (strcmp(p->strategy, "fedavg") && strcmp(p->strategy, "dkt"))
            return hf_key_err(c, "federation.strategy", "federation.mode = decentralized runs D-PSGD "
                           "(fedavg) or dkt");
        if (p->stragglers > 0)
            return hf_key_err(c, "federation.stragglers", "not supported with federation.mode = decentralized");
        if (strcmp(p->server_opt, "none"))
            return hf_key_err(c, "server.optimizer", "there is no server with federation.mode = decentralized");
        if (!strcmp(p->topo_kind, "file") && !p->topo_path[0])
            return hf_key_err(c, "topology.path", "topology.kind = file needs an edge-list file");
    }
    {   /* [heterofl], [fjord] keys (hetero.c) */
        int hrc = hf_hetero_params_check(p, c);
        if (!hrc) hrc = hf_feddf_params_check(p, c);  /* [feddf] keys (feddf.c) */
        if (hrc) return hrc;
    }
    if (!strcmp(p->strategy, "scaffold") && p->momentum > 0)
        return hf_key_err(c, "federation.momentum", "scaffold's control-variate update (option II) "
                       "assumes plain local SGD: set momentum = 0");
    return 0;
}

long hf_strat_samples(long nk, int B, int steps)
{
    long nb = (nk + B - 1) / B, full = steps / (nb > 0 ? nb : 1), rem = steps - full * nb;
    if (nk <= 0) return 0;
    return full * nk + HF_MIN(rem * (long)B, nk);
}

void hf_strat_plan_decentral(hf_strat_t *s, hf_plan_t *pl)
{
    const hf_params_t *p = s->p;
    pl->m = s->nclients;
    pl->kept = s->nclients;
    pl->nsum = 0.0;
    for (int k = 0; k < s->nclients; k++) {
        hf_cplan_t *c = &pl->c[k];
        memset(c, 0, sizeof *c);
        long nk = nk_of(s, k), nb = (nk + p->batch_size - 1) / p->batch_size;
        c->client = k;
        c->kept = 1;
        if (p->topo_local_steps > 0) {
            c->steps = p->topo_local_steps;
            c->epochs = nb > 0 ? (int)((c->steps + nb - 1) / nb) : 0;
        } else {
            c->epochs = p->local_epochs;
            c->steps = c->epochs * (int)nb;
        }
        c->a = c->steps;
        c->weight = 1.0;
        pl->nsum += (double)nk;
    }
    pl->divisor = s->nclients;
}
