/*
 * registry.c — the strategy registry (one line per strategy file) and what
 * every strategy shares: the straggler protocol of FedProx (Li et al. 2020,
 * authors' code flearn/trainers/fedprox.py: a seeded fraction of each round's
 * selection are stragglers; strategies with keeps_stragglers = 0 drop them,
 * the others keep their partial work of U{1..E−1} epochs), the round plan, the
 * weighting rules several strategies use, and the aggregator sized for a
 * strategy's uploads.
 *
 * Everything that decides weights is computed from the plan, which every rank
 * derives from the seed, so the aggregate stays bitwise identical for any rank
 * layout.
 */
#include "strategy.h"
#include "agg.h"
#include "checkpoint.h"
#include "cstore.h"
#include "run.h"
#include "hf_util.h"
#include "rng.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The registry in `hetfl list` order: one line per strategy, each defined as
 * hf_strategy_NAME in src/strategies/NAME.c. */
#define STRATEGIES(X) \
    X(fedavg)         \
    X(fedprox)        \
    X(scaffold)       \
    X(fednova)        \
    X(feddyn)         \
    X(dpfedavg)       \
    X(dpsgd)          \
    X(heterofl)       \
    X(fjord)          \
    X(feddf)          \
    X(dkt)            \
    X(ditto)          \
    X(fedem)          \
    X(knnper)         \
    X(fedgen)

#define DECLARE(name) extern const hf_strategy_t hf_strategy_##name;
#define ENTRY(name) &hf_strategy_##name,
STRATEGIES(DECLARE)
const hf_strategy_t *const hf_strategies[] = {STRATEGIES(ENTRY) NULL};

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

const char *hf_strategy_names(void)
{
    static char buf[512];
    if (!buf[0])
        for (int i = 0; hf_strategies[i]; i++)
            snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", i ? "|" : "", hf_strategies[i]->name);
    return buf;
}

/* ------------------------------------------------------- shared weights --- */

void hf_weights_samples(hf_strat_t *s, hf_plan_t *pl)
{
    for (int i = 0; i < pl->m; i++) pl->c[i].weight = pl->c[i].kept ? (double)hf_strat_nk(s, pl->c[i].client) : 0.0;
    pl->divisor = pl->nsum;
}

void hf_weights_count(hf_strat_t *s, hf_plan_t *pl)
{
    (void)s;
    for (int i = 0; i < pl->m; i++) pl->c[i].weight = pl->c[i].kept ? 1.0 : 0.0;
    pl->divisor = pl->kept;
}

/* ---------------------------------------------------- per-client state --- */

void hf_client_vecs_init(hf_client_vecs_t *cv, const hf_strat_t *s, long floats)
{
    cv->P = floats;
    cv->bound_all = s->client_bound_all;
    cv->s = hf_calloc(1, sizeof *cv->s);
    hf_cvecs_init(cv->s, s->first_client, s->last_client - s->first_client, s->client_bound,
                  (size_t)floats * sizeof(float));
}

float *hf_client_vecs_get(hf_client_vecs_t *cv, int k, int create) { return hf_cvecs_get(cv->s, k, create); }

uint64_t hf_client_vecs_bytes(const hf_client_vecs_t *cv)
{
    return (uint64_t)hf_cvecs_count(cv->s) * (uint64_t)cv->P * sizeof(float);
}

void hf_client_vecs_ckpt(hf_client_vecs_t *cv, const char *name)
{
    hf_ckpt_register_client_vecs(name, cv->s, cv->bound_all);
}

void hf_client_vecs_free(hf_client_vecs_t *cv)
{
    if (cv->s) hf_cvecs_free(cv->s);
    free(cv->s);
    cv->s = NULL;
}

/* ------------------------------------------------------------------ setup -- */

int hf_strat_init(hf_strat_t *s, const hf_params_t *p, const hf_conf_t *conf, struct hf_run *x, long P,
                  int nclients, const long *off, int first, int last, MPI_Comm comm)
{
    memset(s, 0, sizeof *s);
    s->st = hf_strategy_find(p->strategy);
    if (!s->st) return hf_seterr(HF_EINPUT, "unknown strategy '%s'", p->strategy);
    s->p = p;
    s->conf = conf;
    s->run = x;
    s->P = P;
    s->nclients = nclients;
    s->off = off;
    s->first_client = first;
    s->last_client = last;
    s->comm = comm;
    /* per-client state for the clients that may take part (a run: x->m clients a round) */
    s->client_bound = last - first;
    s->client_bound_all = nclients;
    if (x && x->m > 0) {
        s->client_bound = hf_run_clients_seen(p, conf, x->m, last - first);
        s->client_bound_all = hf_run_clients_seen(p, conf, x->m, nclients);
    }
    MPI_Comm_rank(comm, &s->rank);
    s->grad_active = s->st->grad_hook != NULL;
    return s->st->init ? s->st->init(s, x) : 0;
}

void hf_strat_free(hf_strat_t *s)
{
    if (s->st && s->st->free) s->st->free(s);
    memset(s, 0, sizeof *s);
}

uint64_t hf_strat_state_bytes(const hf_strat_t *s)
{
    return s->st->state_bytes ? s->st->state_bytes(s) : 0;
}

double hf_strat_normaliser(const hf_strat_t *s, int steps)
{
    return s->st->normaliser ? s->st->normaliser(s, steps) : (double)steps;
}

/* ------------------------------------------------------------------- plan -- */

/* Stragglers: round(x·m) positions of the selection, FedProx's code semantics. */
static void plan_stragglers(hf_strat_t *s, int t, int m, hf_plan_t *pl)
{
    const hf_params_t *p = s->p;
    int ns = (int)floor(p->stragglers * (double)m + 0.5);
    if (ns <= 0) return;
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
    plan_stragglers(s, t, m, pl);
    for (int i = 0; i < m; i++) {
        hf_cplan_t *c = &pl->c[i];
        long nk = hf_strat_nk(s, c->client);
        c->steps = c->epochs * (int)((nk + p->batch_size - 1) / p->batch_size);
        c->a = hf_strat_normaliser(s, c->steps);
        if (c->kept) {
            pl->kept++;
            pl->nsum += (double)nk;
        }
    }
    s->st->weights(s, pl);
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
        long nk = hf_strat_nk(s, k), nb = (nk + p->batch_size - 1) / p->batch_size;
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

struct hf_agg *hf_strat_agg_new(const hf_strat_t *s, int f, int ntensors, const long *toff)
{
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

/* federation.mode must be one the strategy runs in. */
static int check_mode(const hf_strategy_t *st, const hf_conf_t *c)
{
    static const char *names[] = {"centralized", "decentralized", "async"};
    const char *mode = sget(c, "federation.mode");
    char ok[96] = "";
    for (int i = 0; i < 3; i++) {
        if (!strcmp(mode, names[i]) && (st->modes & (1u << i))) return 0;
        if (st->modes & (1u << i)) snprintf(ok + strlen(ok), sizeof ok - strlen(ok), "%s%s", ok[0] ? ", " : "", names[i]);
    }
    char others[256] = "";
    for (int j = 0; hf_strategies[j]; j++)
        for (int i = 0; i < 3; i++)
            if (!strcmp(mode, names[i]) && (hf_strategies[j]->modes & (1u << i)))
                snprintf(others + strlen(others), sizeof others - strlen(others), "%s%s", others[0] ? ", " : "",
                         hf_strategies[j]->name);
    return hf_key_err(c, "federation.strategy", "%s runs in federation.mode = %s, not %s (strategies for %s: %s)",
                      st->name, ok, mode, mode, others);
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
    p->server_v_tau2 = !strcmp(sget(c, "server.v_init"), "tau2");
    snprintf(p->topo_kind, sizeof p->topo_kind, "%s", sget(c, "topology.kind"));
    p->topo_p = hf_conf_float(c, "topology.p");
    snprintf(p->topo_path, sizeof p->topo_path, "%s", sget(c, "topology.path"));
    p->topo_local_steps = (int)hf_conf_int(c, "topology.local_steps");
    const hf_strategy_t *st = hf_strategy_find(p->strategy);
    if (!st) return hf_key_err(c, "federation.strategy", "not in the strategy registry (hetfl list)");
    int rc = check_mode(st, c);
    if (rc) return rc;
    if (p->decentralized) {
        if (p->stragglers > 0)
            return hf_key_err(c, "federation.stragglers", "not supported with federation.mode = decentralized");
        if (strcmp(p->server_opt, "none"))
            return hf_key_err(c, "server.optimizer", "there is no server with federation.mode = decentralized");
        if (!strcmp(p->topo_kind, "file") && !p->topo_path[0])
            return hf_key_err(c, "topology.path", "topology.kind = file needs an edge-list file");
    }
    if (!strcmp(sget(c, "energy.budget_strategy"), "width") && !st->narrow)
        return hf_key_err(c, "energy.budget_strategy", "width needs a strategy with width sub-models "
                          "(heterofl, fjord), not %s", st->name);
    return st->check ? st->check(p, c) : 0;
}
