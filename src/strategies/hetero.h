/*
 * hetero.h — width-heterogeneous federated training, the machinery behind
 * HeteroFL (Diao et al. 2021, heterofl.c), FjORD (Horváth et al. 2021,
 * fjord.c) and dkt (dkt.c).  HeteroFL and FjORD train width-β sub-models (kernels/slice.h)
 * on compact buffers and aggregate through the one masked mechanism
 * (masked_agg.h); they differ in who trains which width and how coordinates
 * are weighted:
 *   heterofl  a client's level (widths a..e = 1, 1/2, 1/4, 1/8, 1/16) is fixed
 *             by client index (`fix`, proportions of [heterofl] levels) or
 *             redrawn every round (`dynamic`, keyed (seed, HF_RNG_WIDTH, round,
 *             client)); count-based averaging (w_k = 1); classifier rows only
 *             from clients holding the class (label split); scaler 1/β on hidden
 *             outputs and masked loss during training (optional).
 *   fjord     a client's tier p_max ∈ [fjord] widths is fixed; every minibatch
 *             draws p ≤ p_max (keyed (seed, HF_RNG_WIDTH, round, 2^32 + client)
 *             and trains the p-subnet of its p_max model; optional
 *             self-distillation; n_k-weighted per-coordinate averaging.
 * When device classes carry memory caps (hf_devclass_t.mem_width < 1 for some
 * class in use), a client's widest model is the largest width ≤ its class's
 * cap; otherwise the proportions decide (see hetero.c).
 *
 * Everything a round decides (widths, coverage) is a function of the seed and
 * the plan, identical on every rank: results are bitwise identical for any
 * rank count (tests/hetero.sh).
 */
#ifndef HF_HETERO_H
#define HF_HETERO_H
#include <mpi.h>
#include <stdint.h>
#include <hdf5.h>
#include "agg.h"
#include "nn.h"
#include "options.h"
#include "strategy.h"

#define HF_HET_MAX_LEVELS 8

typedef struct hf_hetero hf_hetero_t;

/* The registry entries (heterofl.c, fjord.c; fedgen.c trains its narrow
 * clients here too: fedgen.levels, fixed by index or memory cap, n_k-weighted
 * masked averaging, no scaler, masked loss or label split). */
extern const hf_strategy_t hf_strategy_heterofl, hf_strategy_fjord, hf_strategy_fedgen;

/* Check the [heterofl] (heterofl, dkt) or [fjord] keys of the run's strategy:
 * HF_EINPUT "FILE:LINE: key 'x': reason". */
int hf_hetero_params_check(const hf_params_t *p, const hf_conf_t *c);

/* The strategy hooks HeteroFL and FjORD share (strategy.h; s->state is the
 * hf_hetero_t); dkt uses init, free, plan, width and model_bytes too. */
struct hf_run;
int hf_het_init(hf_strat_t *s, struct hf_run *x);
/* The run's hetero state into *h (hf_het_init without setting s->state). */
int hf_het_new_run(hf_strat_t *s, struct hf_run *x, hf_hetero_t **h);
/* hf_het_train with the hetero state h (not s->state): plan entry i's width,
 * its update (and energy.budget_strategy = steps scaling) to the run's aggregator. */
hf_local_t hf_het_train_with(hf_hetero_t *h, struct hf_run *x, int i, int k, int t, const hf_cplan_t *cp);
void hf_het_free(hf_strat_t *s);
void hf_het_plan(hf_strat_t *s, int t, const int *sel, int m);
const double *hf_het_flops_scale(const hf_strat_t *s);
const double *hf_het_bytes_scale(const hf_strat_t *s);
double hf_het_width(const hf_strat_t *s, int i);
uint64_t hf_het_model_bytes(const hf_strat_t *s, int i);
int hf_het_narrower(const hf_strat_t *s, int i, double *fscale, uint64_t *bytes);
void hf_het_narrow(hf_strat_t *s, int i, int j);
/* energy.compress and energy.budget_strategy rules of strategies that train
 * and upload sub-models themselves (who: their names, for the message). */
int hf_het_energy_check(const hf_conf_t *c, const char *who);
hf_local_t hf_het_train(hf_strat_t *s, int i, int k, int t, const hf_cplan_t *cp);
int hf_het_aggregate(hf_strat_t *s, int t, int have);
int hf_het_evaluate(hf_strat_t *s, int round);

/* Training data of the run, as the engine holds it (run.h). */
typedef struct {
    const float *x;           /* training samples (n, dim) */
    const int *y;             /* labels */
    int dim;
    const long *off, *idx;    /* partition: client k holds idx[off[k] .. off[k+1]) */
    const int *dcls;          /* device class of every client (indices into p->devs.cls) */
    const float *norm_x;      /* static batch norm: the samples of the evaluation statistics (run.h) */
    long norm_n;
    int c, h, w;              /* image geometry (data.augment) */
} hf_het_data_t;

/* data.augment = crop-flip: crop + flip of the B gathered rows xb of client k
 * in round t, sample ids idx[perm[0..B)], keyed as the engine's local training
 * (client.c); ids (B) and scratch (dim) are work space.  No-op without it. */
void hf_het_augment(const hf_params_t *p, const hf_het_data_t *d, int t, int k, const long *idx,
                    const int *perm, int B, float *xb, long *ids, float *scratch);

/* Set up for the run (every rank; collective-free).  m: clients selected per
 * round (upper bound). */
int hf_hetero_new(hf_hetero_t **h, const hf_params_t *p, const hf_conf_t *c, const hf_model_t *full,
                  int nclients, int m, const hf_het_data_t *d);
void hf_hetero_free(hf_hetero_t *h);

/* Round t: the width of each of the mt selected clients sel[] (plan order),
 * and per selected client the factor on training FLOPs per sample and on
 * transfer bytes relative to the full model (arrays valid until the next call). */
void hf_hetero_plan(hf_hetero_t *h, int t, const int *sel, int mt);
const double *hf_hetero_flops_scale(const hf_hetero_t *h);
const double *hf_hetero_bytes_scale(const hf_hetero_t *h);
/* Width (fraction) of plan entry i; bytes of its sub-model (one direction). */
double hf_hetero_width(const hf_hetero_t *h, int i);
uint64_t hf_hetero_bytes(const hf_hetero_t *h, int i);
/* energy.budget_strategy = width: the levels (FjORD: tiers) narrower than
 * plan entry i's, widest first, their FLOPs factors and bytes one way; returns
 * how many.  narrow: entry i takes the j-th of them (scales, width follow). */
int hf_hetero_narrower(const hf_hetero_t *h, int i, double *fscale, uint64_t *bytes);
void hf_hetero_narrow(hf_hetero_t *h, int i, int j);

/* A strategy's term added to every plain minibatch gradient of client k
 * (FedGen's regulariser): m is the (sub-)model trained, w its parameters,
 * grad the minibatch gradient (both m's compact layout).  With it the step is
 * gradient, term, SGD step, as the engine's grad_hook (client.c). */
typedef void (*hf_het_grad_fn)(void *ctx, const hf_model_t *m, int k, const float *w, float *grad);
void hf_hetero_set_grad(hf_hetero_t *h, hf_het_grad_fn fn, void *ctx);
/* The sub-model the last hf_hetero_train left (its level's compact layout). */
const float *hf_hetero_trained(const hf_hetero_t *h);

typedef struct {
    double loss;              /* mean local loss */
    int steps;
    long samples;
    double flops;             /* training FLOPs actually done (per-minibatch widths) */
} hf_het_local_t;

/* Local training of plan entry i (client k) from the global model: writes the
 * update into delta (full size, zero outside the client's slice and, with the
 * label split, on classifier rows of absent classes).  Scratch buffers: xb
 * (B·dim floats), yb (B ints), iperm (n_k ints).  *t_kernel += kernel seconds. */
hf_het_local_t hf_hetero_train(hf_hetero_t *h, int i, int k, int t, const float *global,
                               const hf_cplan_t *cp, float *delta, float *xb, int *yb, int *iperm,
                               double *t_kernel);

/* After hf_agg_reduce: the masked aggregate of the round's kept clients
 * (plan weights) on ranks holding the result (have): add = 1: x += S/C;
 * add = 0: x = S/C (a model update for a server optimizer). */
void hf_hetero_aggregate(hf_hetero_t *h, hf_agg_t *agg, const hf_plan_t *plan, int have, float *x,
                         int add);

/* Test accuracy and loss of the global model at every width of the strategy
 * (collective: the test set is dealt in fixed chunks to ranks, integer counts
 * reduced); rank 0 appends rows (round, width, test_accuracy, test_loss) to
 * /rounds_by_width of file f (f < 0: not written). */
int hf_hetero_eval_widths(hf_hetero_t *h, const float *global, const float *tx, const int *ty,
                          long ntest, int dim, int round, MPI_Comm comm, hid_t f);

/* For dkt (dkt.c), which reuses the [heterofl] widths in decentralized mode:
 * level of plan entry i (0 = widest), levels, level l's width and sub-model,
 * the full layout, the training data, the [dkt] parameters (lr 0 → federation.lr;
 * with the run's seed and batch size),
 * and rank 0's append of one round's rows to /rounds_by_width. */
int hf_hetero_level(const hf_hetero_t *h, int i);
int hf_hetero_nlevels(const hf_hetero_t *h);
double hf_hetero_level_width(const hf_hetero_t *h, int l);
const hf_model_t *hf_hetero_level_model(const hf_hetero_t *h, int l);
const hf_model_t *hf_hetero_full(const hf_hetero_t *h);
const hf_het_data_t *hf_hetero_data(const hf_hetero_t *h);
void hf_hetero_dkt_params(const hf_hetero_t *h, int *steps, double *lr, double *T, uint64_t *seed, int *B);
int hf_hetero_write_width_rows(hf_hetero_t *h, hid_t f, int round, const double *acc, const double *loss);
/* "a2-b8" in key → n widths 1, 1/2 (a..e = 1..1/16, widest first) with their
 * proportions normalised (.2, .8); what names an item in messages ("level"). */
int hf_het_parse_letters(const hf_conf_t *c, const char *key, const char *what, int *n, double *w, double *prop);
/* Exact quotas of nl proportions over n items (largest remainder, ties to the lower index). */
void hf_het_quotas(int nl, const double *prop, int n, int *cnt);

#endif
