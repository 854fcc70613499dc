/*
 * mia.h — membership inference against the federation's models: the passive
 * observer `privacy.attack` adds to a run.  It never changes training.
 *
 The loss-threshold attack (Yeom, Giacomelli, Fredrikson, Jha 2018, "Privacy
 * Risk in Machine Learning: Analyzing the Connection to Overfitting"): a
 * sample is guessed a member of the target client's training data when the
 * observed model's loss on it is low.  Members: the first privacy.samples of
 * the target's samples; non-members as many held-out test samples, drawn keyed
 * (seed, HF_RNG_PRIVACY).  What is observed:
 *   loss    the global model, every evaluation round (the baseline);
 *   update  an eavesdropper on the target's uplink (as in Zari, Xu, Neglia
 *           2021): every round the target uploads, the model x + Δ it rebuilds
 *           from the broadcast global model x and the upload Δ as it travels
 *           (after the energy codec, energy.compress, decoded; with dpfedavg,
 *           clipped, and noised with dp.where = client — server-side noise
 *           does not protect the uplink).
 * The rank hosting the target scores both sets; rank 0 appends a /privacy row
 * (docs/results.md): AUC, the best balanced accuracy over thresholds, the TPR
 * at 1 % FPR, and the attack's cost.
 */
#ifndef HF_MIA_H
#define HF_MIA_H
#include <stddef.h>
#include <stdint.h>

/* Figures of a loss-threshold attack: members' and non-members' losses.
 * auc = P(loss_member < loss_nonmember) + P(tie)/2 (Mann–Whitney); bacc = the
 * best (TPR + TNR) / 2 over thresholds "member when loss <= τ"; tpr1 = the
 * best TPR whose FPR <= 1 %. */
void hf_mia_figures(const float *loss_in, int nin, const float *loss_out, int nout, double *auc,
                    double *bacc, double *tpr1);

typedef struct hf_mia hf_mia_t;
struct hf_run;
/* From privacy.* keys; *out = NULL when privacy.attack = none.  HF_EINPUT on a
 * target that is not a client or holds no samples. */
int hf_mia_new(struct hf_run *x, hf_mia_t **out);
/* update attack, on the rank hosting client k after its training: delta = its
 * upload (NULL: the upload is x->local − x->global, not materialised). */
void hf_mia_update(hf_mia_t *a, struct hf_run *x, int round, int k, const float *delta);
/* Every rank, every round after evaluation (collective): the round's row, if
 * any (loss: evaluated rounds; update: rounds the target uploaded), to rank 0,
 * which appends it to /privacy. */
int hf_mia_round(hf_mia_t *a, struct hf_run *x, int round, int evaluated);
void hf_mia_free(hf_mia_t *a);

/* Shared with the attribute attack (aia.c): the rank hosting client k; the
 * model an eavesdropper on a client's uplink rebuilds after its training,
 * global + delta into buf (P floats), or x->local when delta is NULL (the
 * fused upload local − global). */
int hf_privacy_host(const struct hf_run *x, int k);
/* After client k's training, on its rank: its upload to every uplink observer
 * (the update attacks of mia.c and aia.c); delta as hf_mia_update's.  Called by
 * the engine and by strategies that train themselves and set reports_upload. */
void hf_privacy_observe(struct hf_run *x, int round, int k, const float *delta);
const float *hf_privacy_view(const struct hf_run *x, const float *delta, float *buf);

/* One column of an observer's round table: its documentation (units,
 * description: docs/results.md) and where the row struct holds it, an int32
 * or a float64.  A table ends with a NULL name. */
typedef struct {
    const char *name, *units, *doc;
    size_t offset;
    int is_double;
} hf_privacy_col_t;
/* Every rank, collective: the row (size bytes, beginning with its int32 round;
 * round < 0: no row this round) from rank `host` to all; rank 0 appends it to
 * the table /name (described by `what` and cols). */
int hf_privacy_publish(struct hf_run *x, int host, void *row, size_t size, const char *name, const char *what,
                       const hf_privacy_col_t *cols);

#endif
