/*
 * devices.h — device classes, the class mix of a suite, the simulated clock and
 * the round policies (deadline, partial work, over-commitment, static and
 * dynamic backup workers).  The plan phase of a round,
 * docs/ARCHITECTURE.md "One round".
 *
 * Everything here is a pure function of the suite and the seed: every rank
 * computes the same class of every client, the same simulated times and the
 * same kept set before any training starts, so Σ n_k of the kept clients is
 * known everywhere before aggregation, and clients that will be discarded need
 * not train at all (the determinism contract, docs/ARCHITECTURE.md).
 *
 * For other modules (energy, strategies): a client's class is
 * `d->cls[hf_devices_class_of(...)]`, see hf_devclass_t for the figures
 * (active/idle power, radio energy per MB, battery capacity, memory cap).
 */
#ifndef HF_DEVICES_H
#define HF_DEVICES_H
#include "conf.h"
#include "deal.h"
#include <stdint.h>
#include <stdio.h>

#define HF_MAX_CLASSES 32

/* A device class: what the simulated clock, placement and energy model need.
 * Units are SI except bandwidth (Mbit/s, 1e6 bit/s) and radio energy (J per
 * MB, 1e6 bytes).  The built-in library cites the source of every figure. */
typedef struct {
    char name[32];
    int cores;              /* OpenBLAS threads a client of this class trains with, and the
                             * cores a rank hosting it is bound to (placement.c) */
    double gflops;          /* effective training throughput, GFLOP/s (simulated clock) */
    double mem_width;       /* memory cap: largest model width fraction (0,1] it can hold */
    double up_mbps, down_mbps;  /* link bandwidth, Mbit/s */
    double latency_s;       /* one-way latency added to each transfer, s */
    double active_w;        /* power while training, W */
    double idle_w;          /* power while idle / waiting, W */
    double radio_j_per_mb;  /* radio energy per MB sent or received, J (J/byte = this / 1e6) */
    double battery_j;       /* battery capacity, J (+inf: mains powered) */
} hf_devclass_t;

typedef enum { HF_CLOCK_MODEL = 0, HF_CLOCK_MEASURED } hf_clock_t;
typedef enum { HF_BACKUP_NONE = 0, HF_BACKUP_STATIC, HF_BACKUP_DYNAMIC } hf_backup_t;

/* The class mix and round policy of one run (from [devices] and [federation]). */
typedef struct {
    int nclasses;
    hf_devclass_t cls[HF_MAX_CLASSES];
    double share[HF_MAX_CLASSES];   /* fraction of clients in each class, sums to 1 */
    hf_clock_t clock;               /* devices.clock */
    double jitter;                  /* devices.jitter: σ of the per-(client, round) lognormal
                                     * factor on compute time */
    int bind;                       /* devices.bind: bind ranks with hwloc */
    double deadline_s;              /* federation.deadline_s, 0 = none */
    int partial_work;               /* federation.partial_work */
    double overcommit;              /* federation.overcommit f ≥ 1 */
    hf_backup_t backup;             /* federation.backup_workers: none, b, dynamic */
    int backup_b;                   /* static b */
    int deal;                       /* devices.deal: HF_DEAL_* (deal.h) */
} hf_devices_t;

/* The built-in library (NULL-terminated by count): n classes. */
const hf_devclass_t *hf_devclass_library(int *n);
/* Print the library with its figures and sources (hetfl list). */
void hf_devclass_print_library(FILE *out);

/* Fill d from devices.classes / devices.file / devices.* / federation.* keys.
 * `custom` is the class defined by the devices.cores, devices.gflops, ... keys
 * (named "custom" in devices.classes; the only class when neither
 * devices.classes nor devices.file is set, then named "default").
 * Errors: HF_EINPUT "FILE:LINE: key 'x': reason". */
int hf_devices_from_conf(hf_devices_t *d, const hf_conf_t *c, const hf_devclass_t *custom);

/* Read a class CSV (header: name,cores,gflops,mem_width,up_mbps,down_mbps,
 * latency_s,active_w,idle_w,radio_j_per_mb,battery_j[,share]); appends to
 * cls[]/share[] of d (share -1 when the column is absent).  HF_EINPUT
 * "PATH:LINE: reason". */
int hf_devices_load_csv(hf_devices_t *d, const char *path);

/* One-line summaries for the run header: the mix ("phone-low 20%, ...") and
 * the round policy ("deadline 30 s, partial work, ..."). */
void hf_devices_describe(const hf_devices_t *d, char *mix, size_t nmix, char *pol, size_t npol);
/* `hetfl validate`: the classes in use and, for `ranks` ranks, each rank's
 * clients, class and core budget (clients on contiguous blocks, fed.c). */
void hf_devices_print_placement(FILE *out, const hf_devices_t *d, uint64_t seed, int nclients,
                                int ranks);

/* The classes of n clients (indices into d->cls): exact quotas by largest
 * remainder of share·n (ties: lower class), dealt from the stream (seed,
 * HF_RNG_DEVICE, 0xC1A55, 0) by d->deal (deal.h: a permutation of the ids or
 * a keyed bijection); hf_deal_class(out, k) is client k's class. */
void hf_devices_deal(const hf_devices_t *d, uint64_t seed, int n, hf_deal_t *out);
/* Class of every client in out[0..n-1]: hf_devices_deal, materialised. */
void hf_devices_assign(const hf_devices_t *d, uint64_t seed, int n, int *out);

/* ------------------------------------------------------------- clock --- */

/* Multiplicative compute-time jitter of (client, round): exp(σ·z), z ~ N(0,1)
 * keyed by (seed, HF_RNG_DEVICE, round, client); 1 when σ = 0. */
double hf_clock_jitter(double sigma, uint64_t seed, int round, int client);
/* Seconds to do `flops` floating-point operations on class c at jitter j. */
double hf_clock_compute_s(const hf_devclass_t *c, double flops, double jitter);
/* Seconds for one transfer of `bytes` at `mbps`: latency + bytes·8/(mbps·1e6). */
double hf_clock_transfer_s(double latency_s, double mbps, uint64_t bytes);

/* ------------------------------------------------------- round plan --- */

/* Number of clients to select for K wanted: ⌈f·K⌉ capped at n_clients. */
int hf_devices_nselect(const hf_devices_t *d, int K, int nclients);

/* Per selected client plan of one round. */
typedef struct {
    double t_down, t_up;    /* download / upload seconds */
    double t_compute_full;  /* compute seconds for all E epochs */
    double t_compute;       /* compute seconds of the steps actually done (partial work) */
    double finish;          /* seconds after round start the update reaches the server
                             * (full work, or partial work) */
    int steps_full;         /* E · ⌈n_k / B⌉ */
    int steps;              /* steps to train: steps_full, fewer for partial work, 0 when
                             * the update is discarded (the client need not train) */
    int outcome;            /* hf_outcome_t (h5out.h) */
} hf_dplan_t;

typedef struct {
    int m;                  /* clients selected */
    const int *client;      /* their ids (any order) */
    const long *samples;    /* n_k of each */
    const int *cls;         /* class index of each */
    int K;                  /* clients_per_round: updates wanted */
    int epochs, batch;
    const int *epochs_of;   /* per selected client epochs (strategies' stragglers), NULL: epochs */
    const int *skip;        /* nonzero: already discarded elsewhere (strategy); not ranked,
                             * plan zeroed with outcome −1; NULL: none */
    double flops_per_sample;/* training FLOPs per sample (forward + backward) */
    uint64_t bytes_down, bytes_up;
    const double *flops_scale;  /* per selected client factor on flops_per_sample (width
                                 * sub-models, hetero.c); NULL: 1 */
    const double *bytes_scale;  /* per selected client factor on bytes_down/up; NULL: 1 */
    uint64_t seed;
    int round;              /* 0-based */
    int k_dynamic;          /* dynamic backup workers: updates to wait for (0 = all) */
    const double *pre_s;    /* per selected client seconds spent receiving data before the
                             * download (availability.transfer), counted in t_down; NULL: 0 */
} hf_round_in_t;

/* Plan one round: simulated times, outcome and steps of every selected client;
 * *duration = seconds from round start to the server's aggregation: the
 * arrival of the last update it waits for (K with over-commitment, m − b with
 * backup workers, all otherwise), or the deadline when fewer than that arrive
 * in time (it waited for a late client).
 * Rules, in order: (1) with a deadline, a client whose finish exceeds it is
 * late, or with partial_work trains the whole steps that fit (outcome partial;
 * late if none fits); (2) among the rest, ordered by (finish, client id), the
 * first `keep` are kept, keep = K with over-commitment (f > 1), m − b with
 * static backup workers, k_dynamic with dynamic ones (the minimum when several
 * apply); the others are overcommitted (f > 1) or backup (backup workers).
 * Returns the number kept. */
int hf_round_plan(const hf_devices_t *d, const hf_round_in_t *in, hf_dplan_t *out,
                  double *duration);

/* ------------------------------------------- dynamic backup workers --- */

/* DBW (Xu, Neglia, Sebastianelli 2021) adapted to FedAvg rounds: the server
 * waits for the k fastest of m updates, k maximising the expected loss
 * decrease per unit of time
 *     v(k) = [ (1 − L/2)·G − (L/2)·σ²/k ] / Ê[T_(k)]
 * with the pseudo-gradient g = −Δ̄ and server step 1: G ≈ ‖E Δ‖² (unbiased from
 * the kept updates), σ² the per-client variance of Δ_k, L ≈ ‖Δ̄_t − Δ̄_{t−1}‖ /
 * ‖Δ̄_{t−1}‖ (clamped to [0.01, 1]), Ê[T_(k)] the running mean of the k-th
 * order statistic of the selected clients' round times (download + full
 * compute + upload) over past rounds.  Until two rounds are observed, k = m. */
typedef struct {
    int m;                  /* clients selected per round */
    long nparams;
    int nobs_time;          /* rounds of order statistics seen */
    double *tsum;           /* Σ over rounds of the k-th smallest time, k = 1..m */
    int nobs_grad;          /* rounds of update statistics seen */
    double G, sigma2, L;    /* latest estimates */
    float *prev_mean;       /* Δ̄ of the previous round */
    int k;                  /* decision for the next round */
} hf_dbw_t;

hf_dbw_t *hf_dbw_new(int m, long nparams);
void hf_dbw_free(hf_dbw_t *s);
/* Record this round's full-work round times of the m selected clients. */
void hf_dbw_observe_times(hf_dbw_t *s, const hf_dplan_t *plan, int m);
/* Record the kept updates: weights w_i (Σ = 1), squared norms ‖Δ_i‖², and the
 * weighted mean update Δ̄ (nparams floats). */
void hf_dbw_observe_updates(hf_dbw_t *s, int k, const double *w, const double *norm2,
                            const float *mean);
/* Choose k for the next round (also stored in s->k). */
int hf_dbw_choose(hf_dbw_t *s);

#endif
