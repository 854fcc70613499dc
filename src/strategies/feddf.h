/*
 * feddf.h — FedDF, ensemble distillation for model fusion (Lin et al. 2020).  Several architecture
 * groups train side by side: group g is the width-β_g MLP/CNN of the run's
 * model (kernels/slice.h; `[feddf] groups = a1-c1` uses HeteroFL's letters
 * a..e = 1..1/16 with client proportions).  A client belongs to one group for
 * the whole run (exact quotas by client index, or the widest group its device
 * class's memory cap allows) and trains that group's own model — group models
 * are independent parameter vectors, not slices of one another.
 *
 * After local training, per group: FedAvg of the group's kept clients (n_k
 * weights, the exact fixed-point aggregator) → student initialisation.  The
 * teacher is the mean of ALL kept clients' logits (every group) on an
 * unlabeled server set: feddf.server_samples training samples held out from
 * the clients (the samples after data.train_samples; labels never read).
 * Each student is then distilled on rank 0 with Adam (feddf.lr, cosine decay
 * to 0 over feddf.steps), loss KL(softmax(z̄/T) ‖ softmax(z_s/T)), batches drawn
 * from (seed, HF_RNG_DISTILL, round, group); validation accuracy on
 * feddf.val_samples further held-out labelled samples every feddf.val_every
 * steps; stop after feddf.patience steps without improvement; keep the best
 * (step 0, the FedAvg student, included).  Rank 0 broadcasts the students.
 *
 * Determinism: the per-client logits are gathered to rank 0 in client order
 * and averaged there in that order (double accumulators); distillation is one
 * single-threaded sequence on rank 0 from identical inputs: results are
 * bitwise identical for any rank count.  With one group (a) and feddf.steps
 * = 0, FedDF is FedAvg bit for bit (tests/hetero.sh).
 *
 * Model families (feddf.group_models): a group may be another architecture
 * (e.g. the run's MLP in group a, a CNN in group b), initialised from the seed
 * as its own full-size model and sliced by its letter's width; its logits join
 * the same teacher (same classes).  Out-of-distribution server data
 * (feddf.server_data = noise): uniform noise over the clients' feature range
 * instead of held-out samples (hf_feddf_noise); or (= file) the first
 * feddf.server_samples inputs of another data set, feddf.server_file in the
 * generic HDF5 layout (docs/data.md), of the run's input shape.
 *
 * The widest group must be width 1 (letter a): it is the run's global model,
 * evaluated in /rounds and saved as /model/final.  Every group's accuracy goes
 * to /rounds_by_width; server cost per group and round to /feddf
 * (docs/results.md).
 */
#ifndef HF_FEDDF_H
#define HF_FEDDF_H
#include <mpi.h>
#include <stdint.h>
#include <hdf5.h>
#include "hetero.h"
#include "nn.h"
#include "options.h"
#include "strategy.h"

typedef struct hf_feddf hf_feddf_t;

extern const hf_strategy_t hf_strategy_feddf;

/* feddf.server_data = noise: x (S, dim) = lo + (hi − lo)·u, u the uniforms of
 * (seed, HF_RNG_DISTILL, 2^32, 0) in row-major order; with vocab > 0, token
 * ids ⌊u·vocab⌋ instead. */
void hf_feddf_noise(float *x, long S, int dim, double lo, double hi, int vocab, uint64_t seed);

/* Check the [feddf] keys: HF_EINPUT "FILE:LINE: key 'x': reason". */
int hf_feddf_params_check(const hf_params_t *p, const hf_conf_t *c);

/* Set up (every rank, collective-free).  d: the clients' training data;
 * x_all/y_all/n_all: the whole training set as loaded (the server and
 * validation sets are rows [n_used, n_used + S + V) with n_used = the
 * largest sample index any client holds + 1); m: selected clients per round. */
int hf_feddf_new(hf_feddf_t **f, const hf_params_t *p, const hf_conf_t *c, const hf_model_t *full,
                 int N, int m, const hf_het_data_t *d, long n_all, const float *global, MPI_Comm comm);
void hf_feddf_free(hf_feddf_t *f);
/* Persistent state for checkpoints: every group's model (checkpoint.h). */
void hf_feddf_ckpt_register(hf_feddf_t *f);

/* Round t: the group of each selected client (plan order) and the FLOPs and
 * bytes factors relative to the full model (arrays valid until the next call). */
void hf_feddf_plan(hf_feddf_t *f, int t, const int *sel, int mt);
const double *hf_feddf_flops_scale(const hf_feddf_t *f);
const double *hf_feddf_bytes_scale(const hf_feddf_t *f);
double hf_feddf_width(const hf_feddf_t *f, int i);
uint64_t hf_feddf_bytes(const hf_feddf_t *f, int i);

/* Call once before the round's local training. */
void hf_feddf_begin(hf_feddf_t *f);
/* Local training of plan entry i (client k, kept) from its group's model: the
 * arithmetic of the engine's client training (engine/client.c) (same shuffles, fused SGD step); adds
 * weight·Δ to the group's aggregator and stores the client's logits on the
 * server set.  Scratch: xb (B·dim), yb (B), iperm (n_k). */
hf_het_local_t hf_feddf_train(hf_feddf_t *f, int i, int k, int t, const hf_cplan_t *cp, float *xb, int *yb,
                              int *iperm, double *t_kernel);
/* Collective: per-group FedAvg, teacher, distillation (rank 0), broadcast;
 * global (every rank) = the widest group's model afterwards.  Rank 0 appends
 * the round's rows to /feddf of file h5 (h5 < 0: not written). */
int hf_feddf_server(hf_feddf_t *f, const hf_plan_t *plan, int t, float *global, hid_t h5);
/* Collective: every group's test accuracy and loss → /rounds_by_width (rank 0). */
int hf_feddf_eval(hf_feddf_t *f, const float *tx, const int *ty, long n, int round, hid_t h5);
#endif
