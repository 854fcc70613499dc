/*
 * async.h — asynchronous federated training with buffered aggregation
 * (FedBuff, Nguyen et al. 2022), federation.mode = async.
 *
 * Up to async.concurrency clients train at once.  A client starts as soon as a
 * slot is free and it is online (availability model): it downloads the model
 * version the server holds at that instant, trains, uploads.  Each arriving
 * update Δ_k enters a buffer scaled by s(τ) = (1+τ)^(−a) (a =
 * async.staleness_exp, 1/2: FedBuff's 1/√(1+τ)), τ = server version at arrival
 * − version it started from.  When the buffer holds B = async.buffer updates
 * the server applies x ← x + η_s·(1/B)·Σ s(τ_k)Δ_k (through the server
 * optimizer) and the version advances.  A client that goes offline before its
 * update arrives is dropped (outcome dropped_offline), its time until then
 * charged; the slot frees at that instant.
 *
 * Determinism: which client trains from which version, and when, depends only
 * on the simulated clock (devices.h: download + compute + upload, jitter keyed
 * by (seed, job, client)), the availability trace and the seed — never on
 * training results.  hf_async_plan computes the whole schedule, identically on
 * every rank, before any training: an event queue ordered by (time, client
 * id).  The run then proceeds by versions: once version v exists every rank
 * trains, in parallel, the jobs it hosts that start from v (keeping only their
 * updates, not old models), and update v+1 sums its buffer with the exact
 * order-independent aggregation (agg.h).  Results are bitwise identical for
 * any rank count.
 *
 * Checkpoints (checkpoint.h) are taken after server updates, every
 * run.checkpoint_every of them and when a signal stops the run, like the
 * synchronous loop's rounds.  Since the schedule is planned again from the
 * suite on resume, the state to save is the model, the server optimizer, the
 * clock, and the updates trained but not yet applied: at most one per client
 * (async_inflight, per-client state, so a run resumes on any rank count).
 */
#ifndef HF_ASYNC_H
#define HF_ASYNC_H
#include "agg.h"
#include "avail.h"
#include "devices.h"
#include "energy.h"
#include "fed.h"
#include "h5out.h"
#include "select.h"
#include "server_opt.h"
#include <mpi.h>
#include <stdint.h>

/* One client job: a start, then an arrival at the server or a drop-out. */
typedef struct {
    int client;
    int v_start;          /* model version it trains from (0 = initial model) */
    int update;           /* server update (1-based) whose records hold it; 0: after the run */
    int outcome;          /* HF_OUT_COMPLETED (arrives) or HF_OUT_DROPPED_OFFLINE */
    int staleness;        /* server version at arrival (or drop) − v_start */
    double t_start;       /* simulated start */
    double t_end;         /* arrival at the server, or the drop-out instant */
    double t_down, t_comp, t_up;      /* planned transfer and compute seconds */
    double spent_comm, spent_comp;    /* charged seconds (all of them unless dropped) */
} hf_async_job_t;

/* Inputs of the schedule (everything identical on every rank). */
typedef struct {
    int N;                    /* clients */
    int concurrency;          /* clients training at once */
    int buffer;               /* updates per server step B */
    int updates;              /* server updates wanted (federation.rounds) */
    uint64_t seed;
    const hf_avail_t *av;     /* availability (NULL: always online) */
    const hf_devices_t *devs; /* classes and jitter */
    const int *cls;           /* class of every client (N) */
    const long *samples;      /* n_k (N) */
    int epochs;               /* local epochs */
    double flops_per_sample;
    uint64_t bytes_down, bytes_up;
    hf_select_t *sel;         /* the policy filling free slots (an HF_SEL_ASYNC one, select.h) */
} hf_async_in_t;

typedef struct {
    hf_async_job_t *job;      /* in start order */
    long njobs;
    int nupdates;             /* updates reached (< updates when nobody is ever online again) */
    double *update_time;      /* simulated instant of update u at [u−1] */
    int *update_avail;        /* clients online at that instant */
    long *order;              /* job indices in event order (arrivals and drop-outs) */
    long norder;
    long *uoff;               /* update u's records: order[uoff[u−1] .. uoff[u]−1] */
} hf_async_plan_t;

/* The whole schedule.  Returns 0. */
int hf_async_plan(const hf_async_in_t *in, hf_async_plan_t *out);
void hf_async_plan_free(hf_async_plan_t *pl);

/* What the run needs from the engine (fed.c fills it). */
typedef struct hf_async_env {
    void *ctx;                                /* fed.c's context, for the callbacks */
    MPI_Comm comm;
    int rank;
    int first_client, last_client;            /* clients this rank hosts */
    long nparams;
    float *global;                            /* the model (every rank) */
    hf_agg_t *agg;                            /* exact aggregation (agg.h) */
    hf_server_opt_t *sopt;                    /* server optimizer (server_opt.h) */
    hf_h5out_t *h5;                           /* results (rank 0) */
    hf_energy_t *en;                          /* carbon intensity look-ups */
    const long *part_off;                     /* partition offsets: n_k = off[k+1] − off[k] */
    const int *dcls;                          /* class of every client */
    double flops_per_sample;
    uint64_t model_bytes;                     /* bytes per transfer */
    /* train client k (job index j keys its shuffles) from `start`; the update
     * x_k − start goes to `delta`; returns the mean local loss */
    double (*train)(void *ctx, int k, long j, const float *start, float *delta, int *steps,
                    double *measured);
    /* evaluate `global` on the test set (collective) */
    void (*evaluate)(void *ctx, double *acc, double *loss);
} hf_async_env_t;

/* Run FedBuff for p->rounds server updates (collective).  *sim_time: the last
 * update's instant; *final_acc: the last evaluation.  Errors: HF_EINPUT
 * "FILE:LINE: key 'x': reason" for unsupported combinations. */
int hf_async_run(const hf_async_env_t *e, const hf_fed_opts_t *o, double *sim_time,
                 double *final_acc, int *updates_done);

#endif
