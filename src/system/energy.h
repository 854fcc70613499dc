/*
 * energy.h — the energy model, client regions and carbon, energy budgets with
 * adaptive strategies, and carbon-aware scheduling (docs/ARCHITECTURE.md;
 * keys in docs/keys.md, [energy]).
 *
 * Model, per participation:  compute_j = P_active · compute_s,
 *   radio_j = (bytes_down + bytes_up) · J/byte,  idle_j = P_idle · idle_s (optional),
 *   energy_j = compute_j + radio_j + idle_j;  carbon_g = energy_j / 3.6e6 · CI(region, t)
 * with t = energy.start + the simulated start of the client's round.  A round's
 * energy_j / carbon_g are the exact sums of its participants'.
 *
 * Everything here except hf_energy_apply is a pure function of the suite, the
 * seed and the simulated times: every rank plans the same selection, the same
 * adaptation and the same budgets (determinism contract).  Call the planning
 * functions on every rank, for every selected client, in the same order.
 */
#ifndef HF_ENERGY_H
#define HF_ENERGY_H
#include "carbon.h"
#include "compress.h"
#include "conf.h"
#include "deal.h"
#include <stdint.h>
#include <stdio.h>

typedef struct {
    double compute_j, radio_j, idle_j, total_j;
} hf_energy_parts_t;

/* The model (pure): joules of one participation. */
hf_energy_parts_t hf_energy_model(double active_w, double compute_s, double radio_j_per_mb,
                                  uint64_t bytes_down, uint64_t bytes_up, double idle_w,
                                  double idle_s);
/* grams CO2e of `joules` at `gco2_per_kwh` */
static inline double hf_energy_carbon_g(double joules, double gco2_per_kwh)
{
    return joules / 3.6e6 * gco2_per_kwh;
}

typedef enum { HF_SCHED_AGNOSTIC = 0, HF_SCHED_AWARE } hf_sched_t;
typedef enum {
    HF_BUDGET_EXCLUDE = 0,  /* a client that cannot pay a full round is over_budget */
    HF_BUDGET_STEPS,        /* fewer local steps */
    HF_BUDGET_SAMPLE,       /* every epoch over a random subset of the local data */
    HF_BUDGET_COMPRESS,     /* QSGD-compressed upload */
    HF_BUDGET_AUTO,         /* compress first, then fewer steps if still needed */
    HF_BUDGET_WIDTH         /* the widest narrower sub-model that fits (width strategies) */
} hf_budget_strategy_t;

/* Most narrower widths the width adaptation considers (strategy.h's
 * HF_STRAT_MAX_NARROW). */
#define HF_ENERGY_MAX_NARROW 8

/* What the energy module needs to know of a client (filled by fed.c). */
typedef struct {
    long samples;           /* n_k */
    int steps_full;         /* E · ⌈n_k / B⌉ */
    double compute_s;       /* simulated seconds of the full local work */
    double comm_s;          /* simulated seconds of download + upload (uncompressed) */
    double active_w, idle_w, radio_j_per_mb;   /* its device class */
    /* width adaptation: the narrower sub-models the strategy offers, widest
     * first: compute seconds of the same steps, download + upload seconds,
     * model bytes each way */
    int nnarrow;
    double narrow_compute_s[HF_ENERGY_MAX_NARROW], narrow_comm_s[HF_ENERGY_MAX_NARROW];
    uint64_t narrow_bytes[HF_ENERGY_MAX_NARROW];
} hf_energy_client_t;

/* Plan of one selected client in one round. */
typedef struct {
    int client;
    int outcome;            /* hf_outcome_t: completed, or over_budget (no training, 0 J) */
    int strategy;           /* hf_budget_strategy_t actually used (EXCLUDE = full round) */
    int steps;              /* local steps to run (≤ steps_full) */
    long sample;            /* samples per epoch (< n_k with the sample strategy; n_k else) */
    int comp;               /* hf_comp_kind_t of the upload */
    uint64_t bytes_down, bytes_up;  /* exact sizes */
    double compute_s;       /* simulated compute seconds of the steps run */
    hf_energy_parts_t e;    /* model energy */
    double ci;              /* gCO2e/kWh of its region at the round's start */
    double carbon_g;
    double weight;          /* aggregation weight multiplier (n_k · weight): 1/π_k from the
                             * carbon-aware sampler (Hájek), 1 otherwise */
    double scale;           /* Δ multiplier: steps_full/steps (bias correction of shortened work) */
    double remaining_j;     /* budget left after this round (+inf: unlimited) */
    int narrow;             /* width adaptation: 1 + the index of the narrower sub-model
                             * taken (hf_energy_client_t.narrow_*), 0: the planned width */
} hf_eplan_t;

typedef struct hf_energy hf_energy_t;

/* Read the [energy] keys, load carbon sources, assign regions and budgets.
 * Collective only in the sense that every rank must call it with the same
 * arguments; returns NULL and sets *rc (HF_EINPUT "FILE:LINE: key 'x': ...") on
 * bad input.  `warn` receives the one RAPL warning (rank 0; NULL elsewhere). */
hf_energy_t *hf_energy_new(const hf_conf_t *c, uint64_t seed, int nclients, int rounds,
                           int *rc);
void hf_energy_free(hf_energy_t *e);

/* energy.battery_budget without energy.budget_j: client k's budget is
 * battery_j[its class in `classes`] (+inf when not finite and > 0); both
 * arrays stay the caller's.  Call on every rank before the first round. */
void hf_energy_set_batteries(hf_energy_t *e, const double *battery_j, const hf_deal_t *classes);
/* The budgets spent are kept for the clients planned so far only (cstore.h),
 * in a table sized for at most `clients` of them (rounds × clients a round;
 * the population until this is called).  Call on every rank, before
 * hf_energy_ckpt_register and the first round. */
void hf_energy_bound_clients(hf_energy_t *e, double clients);
/* Register the persistent budget state (remaining J, refill periods, carbon
 * spent) and, with energy.compress = topk, the hosted clients' error-feedback
 * memory (upload_floats each, this rank's clients [first_client, last_client))
 * with the checkpoint registry (checkpoint.h); every rank, before the first
 * round.  The memory is kept sparsely (hf_cvecs_t, cstore.h) for at most
 * `bound` of the hosted clients and `bound_all` of all (hf_run_clients_seen). */
void hf_energy_ckpt_register(hf_energy_t *e, int first_client, int last_client, long upload_floats, double bound,
                             double bound_all);

/* Accessors for the results file and the header. */
const char *hf_energy_region_name(const hf_energy_t *e, int client);
double hf_energy_budget(const hf_energy_t *e, int client);   /* +inf when unlimited */
int hf_energy_scheduler(const hf_energy_t *e);
int hf_energy_compress_kind(const hf_energy_t *e);
double hf_energy_ci(const hf_energy_t *e, int client, double sim_time);
const char *hf_energy_rapl_root(const hf_energy_t *e);
int hf_energy_measure(const hf_energy_t *e);
/* "CISO:20,ERCO:20,..." client counts per region, for the log header. */
void hf_energy_describe(const hf_energy_t *e, char *buf, size_t n);

/* Carbon-aware selection of round t (0-based) at simulated time sim_time:
 * chooses a start slot s ∈ {sim_time + 3600 j : j = 0..⌊slack_h⌋} and m clients
 * by α-fair shares of their carbon cost at that slot, sampled systematically
 * with exact inclusion probabilities π_k (Σπ = m).  Writes the selected ids
 * (sorted) to sel and their 1/π_k to inv_pi, returns the number selected
 * (≤ m: a carbon budget can lower it) and the chosen start in *start.
 * `cl` has nclients entries; bytes_down/up are the uncompressed sizes. */
int hf_energy_select(hf_energy_t *e, int t, double sim_time, int m, const hf_energy_client_t *cl,
                     uint64_t bytes_down, uint64_t bytes_up, int *sel, double *inv_pi,
                     double *start);

/* Plan one selected client k for the round starting at `start` (budget check,
 * adaptive strategy, energy, carbon) and charge its budget.  nparams sizes the
 * compressed upload.  With the width strategy, a client that cannot pay its
 * planned sub-model takes the widest of c->narrow_* whose round fits (the
 * model both ways, no codec), else it sits the round out. */
void hf_energy_plan(hf_energy_t *e, int t, double start, int k, const hf_energy_client_t *c,
                    uint64_t bytes_down, long nparams, hf_eplan_t *out);
/* Record a finished round's planned carbon (carbon budget) — every rank. */
void hf_energy_round_done(hf_energy_t *e, double carbon_g);

/* On the hosting rank, after training: Δ ← scale·Δ, then compress it with the
 * plan's codec (QSGD keyed (seed, HF_RNG_COMPRESS, round, client); top-k with the
 * client's error-feedback memory).  Returns the exact encoded size. */
/* 1 when hf_energy_apply would leave Δ as it is (no bias scale, no codec): it then
 * returns 4 n, and the caller may skip materialising Δ. */
int hf_energy_apply_noop(const hf_eplan_t *pl);
uint64_t hf_energy_apply(hf_energy_t *e, const hf_eplan_t *pl, int t, float *delta, long n);

#endif
