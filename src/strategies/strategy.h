/*
 * strategy.h — server strategies as a plugin table (IOR style): each strategy
 * is a struct of function pointers with designated initialisers, and
 * hf_strategies[] is the NULL-terminated registry (`hetfl list` prints it).
 *
 * A strategy decides, from the round's plan alone (identical on every rank):
 *   - what a straggler does (FedAvg drops it, the others keep partial work),
 *   - each kept client's aggregation weight and the divisor,
 * and, on the ranks that host clients:
 *   - a gradient hook applied to every local minibatch gradient before the SGD
 *     step (FedProx: + μ(w − x_t); SCAFFOLD: + c − c_k),
 *   - what a client uploads (SCAFFOLD: [Δy, Δc], twice the model),
 *   - how the aggregated upload becomes the model update Δ (SCAFFOLD also
 *     updates its server control variate).
 * Server optimizers (server_opt.c) then apply Δ to the model.
 *
 * Persistent state (what a checkpoint must save) lives in hf_strat_t under
 * names starting with `state_` (see the struct); everything else is scratch.
 */
#ifndef HF_STRATEGY_H
#define HF_STRATEGY_H
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include "options.h"

typedef struct hf_strat hf_strat_t;

/* One selected client's plan for a round (identical on every rank). */
typedef struct {
    int client;
    int straggler;        /* drawn as a straggler this round */
    int kept;             /* its update enters the aggregate */
    int epochs;           /* local epochs it runs (0 when dropped) */
    int steps;            /* local SGD steps = epochs · ⌈n_k/B⌉ */
    double a;             /* FedNova normaliser a_k (steps for the others) */
    double weight;        /* aggregation weight */
} hf_cplan_t;

typedef struct {
    int m;                /* selected clients */
    int kept;             /* |K_t| */
    double nsum;          /* Σ_{K_t} n_k */
    double divisor;       /* the aggregate is Σ w_k u_k / divisor */
    hf_cplan_t *c;        /* m entries, in selection order */
} hf_plan_t;

typedef struct hf_strategy {
    const char *name;
    const char *doc;                /* one line for `hetfl list` */
    int keeps_stragglers;           /* 1: stragglers' partial work is kept */
    int upload_factor;              /* floats uploaded per model parameter */
    /* allocate the strategy's state (may be NULL) */
    int (*init)(hf_strat_t *s);
    /* weights and divisor of the round's kept clients (plan->c[i].kept set) */
    void (*weights)(hf_strat_t *s, hf_plan_t *plan);
    /* per minibatch: grad += correction (may be NULL) */
    void (*grad_hook)(hf_strat_t *s, int k, const float *w, const float *x0, float *grad);
    /* after local training: upload (upload_factor·P floats) from y = local, x = global;
     * NULL: the engine's plain Δ = y − x */
    void (*client_upload)(hf_strat_t *s, int k, const hf_cplan_t *cp, const float *y,
                          const float *x, float *upload);
    /* aggregate → model update Δ in place (first P floats); NULL: nothing to do.
     * Collective: called on every rank; have_result says whether agg (upload_factor·P
     * floats, already divided by the divisor) holds the result on this rank. */
    void (*server_update)(hf_strat_t *s, const hf_plan_t *plan, float *agg, int have_result);
} hf_strategy_t;

extern const hf_strategy_t *const hf_strategies[];   /* NULL-terminated registry */

struct hf_strat {
    const hf_strategy_t *st;
    const hf_params_t *p;
    MPI_Comm comm;
    int rank;
    long P;                   /* model parameters */
    int nclients;
    const long *off;          /* partition offsets: n_k = off[k+1] − off[k] */
    int first_client, last_client;  /* clients hosted by this rank */
    float mu;                 /* proximal coefficient in use (FedProx, FedNova), 0 = none */
    /* --- persistent state (checkpoint these) --- */
    float *state_scaffold_c;        /* SCAFFOLD server control variate c, P floats, every rank */
    float **state_scaffold_ck;      /* SCAFFOLD client control variates of hosted clients,
                                     * [k − first_client] → P floats; NULL = still zero
                                     * (allocated at the client's first participation) */
    /* --- statistics --- */
    uint64_t state_bytes_max;       /* worst-case bytes of persistent strategy state, all ranks */
};

/* Fill p's strategy fields from c and check cross-key rules (called by
 * hf_params_from_conf).  Errors → HF_EINPUT "FILE:LINE: key 'x': reason". */
int hf_strat_params(hf_params_t *p, const hf_conf_t *c);
/* Find a strategy by name (NULL if unknown). */
const hf_strategy_t *hf_strategy_find(const char *name);
/* Print the registry, one strategy a line. */
void hf_strategy_list(FILE *out);
/* Set up s for the run (collective-free). */
int hf_strat_init(hf_strat_t *s, const hf_params_t *p, long P, int nclients, const long *off,
                  int first, int last, MPI_Comm comm);
void hf_strat_free(hf_strat_t *s);
/* Bytes of persistent state now allocated on this rank. */
uint64_t hf_strat_state_bytes(const hf_strat_t *s);

/* Plan round t for the m selected clients sel[] (sorted): stragglers (keyed
 * (seed, HF_RNG_STRAGGLER, t, 0) for the draw of the set, (seed, HF_RNG_STRAGGLER,
 * t, 1 + k) for client k's partial epochs), epochs, steps, a_k, weights. */
void hf_strat_plan(hf_strat_t *s, int t, const int *sel, int m, hf_plan_t *plan);

/* Decentralized round plan: every client, weight 1, federation.local_epochs
 * epochs or topology.local_steps steps (wrapping over epochs). */
void hf_strat_plan_decentral(hf_strat_t *s, hf_plan_t *plan);
/* Samples a client of n_k samples processes in `steps` steps of batch B. */
long hf_strat_samples(long nk, int B, int steps);

/* FedNova's normaliser for tau local steps (authors' recurrence, FedNova.py):
 * momentum rho, proximal eta·mu. */
double hf_fednova_a(int tau, double rho, double eta_mu);

/* The fixed-point aggregator sized for the strategy's uploads (tensor offsets
 * repeated upload_factor times). */
struct hf_agg;
struct hf_agg *hf_strat_agg_new(const hf_strat_t *s, int ntensors, const long *toff);
/* True when local training must call grad_hook (a proximal term with mu = 0 does not). */
int hf_strat_uses_grad_hook(const hf_strat_t *s);

#endif
