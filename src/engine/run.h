/*
 * run.h — the engine's context of one run (hf_run_t), shared by the engine's
 * files (fed.c: the round loop and its phases; setup.c; client.c; plan.c;
 * records.c; evaluate.c) and visible to strategy plugins, whose hooks reach
 * the model, the data and the scratch buffers through s->run.
 *
 * Ownership: everything here is allocated in setup.c and freed by
 * hf_run_free; persistent state (what a checkpoint saves) is registered in
 * fed.c's register_state and by the plugins themselves.
 */
#ifndef HF_RUN_H
#define HF_RUN_H
#include <mpi.h>
#include <stdint.h>
#include "agg.h"
#include "avail.h"
#include "data.h"
#include "decentral.h"
#include "devices.h"
#include "energy.h"
#include "fed.h"
#include "h5out.h"
#include "nn.h"
#include "rapl.h"
#include "rng.h"
#include "select.h"
#include "server_opt.h"
#include "strategy.h"
#include "topology.h"

typedef struct hf_run {
    const hf_fed_opts_t *o;
    const hf_params_t *p;
    MPI_Comm comm;
    int rank, size;
    /* data and model */
    hf_dataset_t train, test;
    hf_partition_t part;
    long train_all;               /* training samples loaded, before data.train_samples (FedDF's server set) */
    hf_model_t model;
    hf_work_t *work;
    float *norm_x;                /* static batch norm: the samples of the evaluation statistics (norm_n, dim) */
    long norm_n;
    float *global;                /* the global model x_t (every rank after a broadcast) */
    float *local, *grad, *mom;    /* one client's model, gradient, momentum */
    float *delta;                 /* one client's upload (2P: SCAFFOLD's [Δy, Δc]) */
    float *xb;                    /* minibatch (B, dim) */
    long *aug_ids;                /* data.augment: the minibatch's sample indices (B) */
    float *aug_scratch;           /* data.augment: one sample (dim) */
    int round;                    /* round of the local training in progress (augmentation key) */
    int *yb;
    int *iperm;                   /* a client's sample permutation (max n_k, 2·max with data transfer) */
    int first_client, last_client;  /* this rank hosts [first, last) */
    double t_kernel;              /* seconds inside numeric kernels (train steps, eval forward) */
    int eval_threads;             /* OpenBLAS threads for evaluation: the same on every rank */
    /* this rank's clients' training rows as bytes, client after client in partition
     * order, where every value is an exact byte/255 (Fashion-MNIST); NULL: train + part */
    uint8_t *cx8;
    int *cy;
    long *coff;                   /* last_client − first_client + 1 row offsets */
    long train_sample;            /* client_train: samples per epoch (0 = all; energy sample strategy) */
    const float *sample_w;        /* hf_client_sgd: per-sample loss weights of the client being trained,
                                   * indexed as its samples (FedEM's responsibilities); NULL: none */
    float *wb;                    /* the minibatch's weights (batch_size floats) */
    /* algorithm */
    hf_strat_t strat;             /* the strategy (strategy.h), its state in strat.state */
    hf_server_opt_t sopt;         /* server optimizer moments */
    hf_agg_t *agg;                /* the round's aggregator */
    hf_plan_t plan;               /* this round's plan (stragglers, epochs, weights) */
    hf_graph_t graph;             /* decentralized: communication graph */
    hf_dec_t dec;                 /* decentralized: per-client models, gossip */
    double cycle_time;            /* decentralized: simulated seconds per gossip iteration */
    /* results */
    hf_h5out_t *h5;
    struct hf_mia *mia;           /* privacy.attack's observer (mia.c), NULL: none */
    struct hf_aia *aia;           /* privacy.attribute_attack's observer (aia.c), NULL: none */
    /* simulated system: devices (devices.c) */
    int m;                        /* clients selected per round (upper bound) */
    hf_deal_t ddeal;              /* the clients' device classes (deal.h): hf_run_class */
    double battery_j[HF_MAX_CLASSES];  /* each class's battery (energy.battery_budget) */
    int *dcls;                    /* ddeal's class of every client (index into p->devs.cls); NULL with
                                   * data.on_demand when dealt by the bijection (strategies that index it
                                   * are refused there) */
    hf_dplan_t *dplan;            /* this round: simulated times and outcome per selected client */
    long *d_nk;                   /* hf_round_plan inputs per selected client: n_k, class, */
    int *d_cls, *d_ep, *d_skip;   /* epochs, discarded by the strategy */
    hf_dbw_t *dbw;                /* dynamic backup workers (NULL unless backup_workers = dynamic) */
    double *d_norm2;              /* DBW: ‖Δ_k‖² of this rank's records */
    float *dbw_old;               /* DBW: the model before aggregation (rank 0) */
    /* energy and carbon (energy.c, rapl.c) */
    hf_energy_t *en;              /* regions, budgets, carbon sources */
    hf_rapl_t rapl;               /* measured energy counters */
    hf_eplan_t *eplan;            /* this round: energy plan per selected client (client −1: none) */
    hf_energy_client_t *ecl;      /* carbon-aware: every client's full-round figures (N), else NULL */
    /* availability and selection (avail.c, select.c): the same on every rank */
    hf_avail_t av;                /* online intervals of every client */
    hf_select_t *sel;             /* the selection policy and its state (NULL: decentralized) */
    int vol;                      /* availability modelled (online mask, drop-outs, estimators) */
    unsigned char *online;        /* online mask at the round start (N) */
    double av_round_s;            /* availability.per_round: slot_s, round t sees the state at (t+1/2)·slot_s; 0: sim time */
    double *vol_loss;             /* this round's local losses, broadcast by rank 0 (m) */
    double *vol_w;                /* correction weights, or the policy's weight factors (m) */
    double *off_comm, *off_comp;  /* dropped_offline: seconds of transfer / compute done (m) */
    /* data transfer to participants (availability.transfer, avail.c); NULL when off */
    int *tr_donor;                /* this round: offline client whose data selected client i gets (m) */
    long *tr_count;               /* samples it receives (m) */
    double *tr_s;                 /* simulated seconds of that transfer (m) */
    long *tr_idx;                 /* the receiver being trained: its own then the received sample ids */
    long tr_n;                    /* entries of tr_idx */
    int tr_client;                /* client tr_idx belongs to, −1: none */
    /* per-client evaluation (data.client_test_fraction; client_eval.c) */
    hf_partition_t ctest;         /* client k's test samples: rows ctest.idx[ctest.off[k] ..] of
                                   * ce_data (nclients = 0: off) */
    const hf_dataset_t *ce_data;  /* train (data.client_test_fraction) or test (client_test_natural) */
    float *ce_x;                  /* HF_EVAL_CHUNK rows gathered for evaluation */
    int *ce_y, *ce_perm;
    /* data streams (stream.*; stream.c): arrivals and memories, NULL when off */
    struct hf_stream *stream;
    /* data.on_demand (data_ondemand.c): the generator; part has no offsets, train no rows; NULL when off */
    struct hf_ondemand *od;
} hf_run_t;

/* First client of rank r when N clients are dealt to R ranks in contiguous blocks. */
static inline int hf_run_first_client(int r, int R, int N) { return (int)(((long)r * N + R - 1) / R); }
/* data_ondemand.c: n_k of an on-demand client; the setup in place of the data load
 * (test set, empty training set, a partition of N clients without offsets);
 * client k's training rows made into the generator's buffer (its n_k, rows,
 * labels and row ids 0..n_k − 1); the generator freed. */
long hf_od_nk(const struct hf_ondemand *od, int k);
int hf_od_setup(hf_run_t *x);
void hf_od_client_rows(hf_run_t *x, int k, long *nk, const float **dx, const int **dy, const long **idx);
void hf_od_free(struct hf_ondemand *od);
/* n_k of client k */
static inline long hf_run_nk(const hf_run_t *x, int k)
{
    return x->od ? hf_od_nk(x->od, k) : x->part.off[k + 1] - x->part.off[k];
}
/* device class of client k (index into p->devs.cls) */
static inline int hf_run_class(const hf_run_t *x, int k)
{
    return x->dcls ? x->dcls[k] : hf_deal_class(&x->ddeal, k);
}
/* The status every rank agrees on: the largest of the ranks' rc. */
int hf_run_agree(int rc, MPI_Comm comm);

/* setup.c: everything before the first round (collective); on error the
 * context is freed.  hf_run_free is safe on a partly set-up context. */
int hf_run_setup(hf_run_t *x, const hf_fed_opts_t *o, MPI_Comm comm);
/* setup.c: the results file (new, or reopened for --resume), its header and
 * the log's configuration box (collective). */
int hf_run_open_results(hf_run_t *x);
void hf_run_free(hf_run_t *x);

/* client.c: local training of client k in round t from model `start` for
 * cp->epochs epochs, at most cp->steps steps; leaves the upload in x->delta —
 * with want_delta = 0 and no client_upload hook, only the trained model in
 * x->local (the caller hands local − start to the aggregator itself). */
hf_local_t hf_client_train(hf_run_t *x, int k, int t, const float *start, const hf_cplan_t *cp, int want_delta);
/* client.c: the SGD of hf_client_train, its shuffles drawn from r, with the
 * optimizer sgd (NULL: the run's lr, momentum, weight decay, clip); the
 * trained model in x->local (strategies that train a second model: Ditto). */
hf_local_t hf_client_sgd(hf_run_t *x, int k, const float *start, const hf_cplan_t *cp, hf_rng_t *r,
                         const hf_sgd_t *sgd);
/* client.c: `steps` plain SGD steps of client k from `start` (no strategy hook,
 * shuffles keyed (seed, HF_RNG_PERSONAL, round, k)): personal.finetune_steps;
 * returns x->local. */
const float *hf_client_finetune(hf_run_t *x, int k, int round, const float *start, int steps);
/* client.c: data.augment's crop + flip of the minibatch in x->xb, rows
 * idx[perm[0..B)] of client k in round t, keyed as the engine's local training
 * (strategies with their own training call it after gathering); no-op without it. */
void hf_client_augment(hf_run_t *x, int k, int t, const long *idx, const int *perm, int B);
/* client.c: copy this rank's clients' rows into a client-major byte block
 * where every value is an exact byte/255 (x->cx8; otherwise nothing). */
void hf_client_rows_build(hf_run_t *x);

/* plan.c: the plan phase beyond the strategy's own plan (see plan.c). */
double hf_plan_devices(hf_run_t *x, int t, const int *sel, int m, int K, double fps);
void hf_plan_energy(hf_run_t *x, int t, const int *sel, int m, double start);
/* plan.c, decentralized mode: client k's FLOPs in a round in which it trains
 * `samples` samples, the bytes client i sends neighbour j a round (the
 * strategy's dec_flops / dec_edge_bytes, else the full model's), and the
 * steady-state time per gossip iteration, every client at its device class's
 * speed and link (topology.c's max-plus cycle time). */
double hf_dec_flops(const hf_run_t *x, int k, long samples);
uint64_t hf_dec_edge_bytes(const hf_run_t *x, int i, int j);
double hf_dec_cycle_time(const hf_run_t *x);
void hf_plan_dbw_round(hf_run_t *x, int m, int nloc, int *rcounts, int *rdispl);
/* True when the selection keeps no per-client state (select.h, stateless):
 * uniform, no correction, availability always, no withdrawals, no carbon-aware
 * scheduler. */
int hf_vol_stateless(const hf_conf_t *c);
int hf_vol_init(hf_run_t *x, int N, int m);
void hf_vol_transfer_plan(hf_run_t *x, int t, const int *sel, int mt);
void hf_vol_transfer_data(hf_run_t *x, int t, int i, int k);
int hf_vol_select(hf_run_t *x, int t, double *sim_time, int m, int *sel, int *navail);
void hf_vol_dropouts(hf_run_t *x, const int *sel, int mt, double start);
void hf_vol_after(hf_run_t *x, const int *sel, int mt, const hf_part_rec_t *allrecs);

/* client_eval.c: every hosted client's own model (the strategy's personal
 * model, else the global one; fine-tuned by personal.finetune_steps) on its
 * test split; rows to rank 0 in client order, which writes /client_eval and
 * fills rr's client_acc_* (collective). */
int hf_ceval_round(hf_run_t *x, int round, hf_round_rec_t *rr);
/* client_eval.c: take the per-client test splits out of the partition. */
void hf_ceval_setup(hf_run_t *x);

/* records.c: plan entry i's (client k's) /participation record of round t;
 * the RAPL share of this rank's records; rank 0's /rounds row (returns the
 * simulated time at the round's end). */
void hf_record_client(const hf_run_t *x, int t, int i, int k, const hf_cplan_t *cp, const hf_local_t *lr,
                      uint64_t ebytes, double sim_time, hf_part_rec_t *pr);
void hf_record_measured_energy(hf_run_t *x, hf_part_rec_t *recs, int nloc, double node_j);
double hf_record_round(const hf_run_t *x, const hf_part_rec_t *allrecs, int mt, double sim_time,
                       double round_dur, double wsum, hf_round_rec_t *rr);

#endif
