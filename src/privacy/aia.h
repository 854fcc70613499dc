/*
 * aia.h — attribute inference against one client: the passive observer
 * `privacy.attribute_attack` adds to a run.  It never changes training.
 *
 * The model-based attack of Driouich, Xu, Neglia, Giroire, Thomas ("A Novel
 * Model-Based Attribute Inference Attack in Federated Learning", FL-NeurIPS
 * 2022): the adversary knows every feature of the target's samples but one
 * binary sensitive attribute, and their labels; given a model close to the
 * target's local one, it guesses for each sample the attribute value under
 * which that model explains the sample's label best — the value of lower
 * cross-entropy loss.  Here:
 *   score_i = loss(w; x_i with x_ij = 1, y_i) − loss(w; x_i with x_ij = 0, y_i),
 *   guess_i = 1 when score_i < 0, else 0 (a tie guesses 0),
 * j = privacy.attribute_feature, whose value on every attacked sample must be
 * 0 or 1 (data.synthetic_sensitive = yes makes feature 0 such an attribute).
 * The model w attacked:
 *   global  the global model, every evaluation round (what any participant
 *           sees: the population-level baseline);
 *   update  an eavesdropper on the target's uplink, as mia.c's update attack:
 *           the model x + Δ it rebuilds from the broadcast global model and
 *           the target's upload, every round the target uploads — the
 *           target's local model, or its clipped / noised version under
 *           dpfedavg; each upload on its own;
 *   combined  the same eavesdropper combining every upload of the target it
 *           has seen: each sample's score is the sum of its scores under the
 *           models rebuilt from those uploads (the guess and the AUC are the
 *           mean's), so a sample the uploads disagree on goes with the
 *           stronger evidence.  The paper's adversary combines several rounds'
 *           messages too, into an estimate of the target's local optimum (a
 *           learned model of its update, then a fixed point); this is the
 *           simpler ensemble over the messages themselves.  The running sums
 *           are checkpointed;
 *   reconstruct  the same eavesdropper reconstructing the target's local
 *           optimum first, as the paper's attack does, and attacking it.
 *           Each upload the target makes from a global model x_t gives a
 *           pair (x_t, u_t = x_t + Δ_t) of the client's local update map
 *           u = U(x), whose fixed point U(x*) = x* is the client's local
 *           optimum (a round from x* leaves it there).  With the last T <=
 *           privacy.reconstruct_uploads pairs, residuals g_t = x_t − u_t, the
 *           attack fits U as affine on the hull of the x_t (the secant
 *           conditions U(x_t) = u_t), takes the point of that hull where the
 *           fitted residual's norm is least, and maps it through U:
 *             α = argmin ||Σ α_t g_t||²  subject to  Σ α_t = 1,
 *             i.e. α ∝ (G + ρ I)⁻¹ 1 with G_ij = <g_i, g_j> and the ridge
 *             ρ = HF_AIA_RIDGE · trace(G) / T (conditioning only),
 *             x̂* = Σ α_t u_t
 *           (all of it in float64, oldest upload first; one upload gives its
 *           own u_1: update's row).  Where U is affine and the x_t span
 *           enough directions this is U's exact fixed point (tests/
 *           test_privacy.c); where the residuals are orthogonal (e.g.
 *           dominated by independent noise) α weighs the uploads by
 *           1/||g_t||².  The paper (and its authors' code) learns the
 *           map from the pairs instead — a predictor of g from x trained by
 *           gradient descent (affine by default, or a small network) — and
 *           then descends along the predicted g from the last local model to
 *           its zero; the secant fit is the affine predictor fitted exactly
 *           through the pairs, restricted to their hull, and its zero found
 *           in closed form.  Measured (suites/README.md, privacy-compression):
 *           with a P ≈ 2000-parameter MLP and 4-7 uploads it does not beat
 *           update or combined — the local optimum lies far outside the hull
 *           of so few global models.  The window of pairs (2 · T · P floats, on the
 *           target's rank and rank 0) is checkpointed.
 * Attacked samples: the target's first privacy.samples training samples.
 * The rank hosting the target scores them; rank 0 appends an
 * /attribute_inference row (docs/results.md): accuracy of the guesses, AUC of
 * the scores (samples with s = 1 against those with s = 0, low score = 1),
 * the accuracy of always guessing the majority value (what knowing only the
 * attribute's frequency gives), and the attack's cost.
 */
#ifndef HF_AIA_H
#define HF_AIA_H
#include "nn.h"

/* The attack on n samples (rows of m->in_dim floats xs, labels ys) under the
 * model params: score[i] as above (n floats); returns how many guesses equal
 * the rows' own feature j.  Losses in chunks of `chunk` samples (work must
 * hold them). */
int hf_aia_infer(const hf_model_t *m, hf_work_t *w, const float *params, const float *xs, const int *ys, int n,
                 int j, int chunk, float *score);
/* combined: sum[i] += score[i], then score[i] = (float)sum[i], the combined
 * score; returns how many guesses under it equal the rows' feature j (rows of
 * dim floats xs). */
int hf_aia_accumulate(double *sum, float *score, const float *xs, int n, int dim, int j);

/* reconstruct: the ridge of the α system, relative to the mean squared residual */
#define HF_AIA_RIDGE 1e-9
/* reconstruct: the fixed point x̂* above (P floats into out) from T >= 1 pairs
 * xs[t], ups[t] (P floats each, oldest first), and the weights α (T doubles). */
void hf_aia_fixed_point(const float *const *xs, const float *const *ups, int T, long P, float *out, double *alpha);

typedef struct hf_aia hf_aia_t;
struct hf_run;
/* From the privacy.* keys; *out = NULL with privacy.attribute_attack = none.
 * HF_EINPUT (FILE:LINE: key ...) on a target that is not a client or holds no
 * samples, a feature out of range or not binary on the attacked samples, async
 * mode, or update with a strategy that trains itself. */
int hf_aia_new(struct hf_run *x, hf_aia_t **out);
/* combined: register the target's running score sums for the checkpoint;
 * reconstruct: its window of uploads (every rank, after hf_ckpt_begin). */
void hf_aia_ckpt_register(hf_aia_t *a);
/* update/combined/reconstruct attack, on the rank hosting client k after its training (as hf_mia_update). */
void hf_aia_update(hf_aia_t *a, struct hf_run *x, int round, int k, const float *delta);
/* Every rank, every round after evaluation (collective): the round's row to
 * rank 0, which appends it to /attribute_inference. */
int hf_aia_round(hf_aia_t *a, struct hf_run *x, int round, int evaluated);
void hf_aia_free(hf_aia_t *a);

#endif
