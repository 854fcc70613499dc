/*
 * slice.h — width slicing of models (HeteroFL, FjORD, FedDF, dkt).
 *
 * A width-β sub-model keeps the first ⌈β·units⌉ output units (MLP, LSTM) or
 * channels (CNN: conv1, conv2, fc) of every hidden layer; the first layer keeps all its
 * inputs and the classifier all its outputs.  Such a sub-model is itself an
 * ordinary hf_model_t with narrower hidden widths (hf_slice_cfg), so a narrow
 * client trains it with the normal kernels on a compact flat buffer and
 * really does ≈β² of the FLOPs and sends ≈β² of the bytes.
 *
 * Every tensor of nn.c is laid out (rows, rest...) with the rows the layer's
 * output units and, per row, the inputs in channel-major order, so the
 * sub-tensor is the leading `rows'` rows and, in each row, the leading
 * `cols'` floats (a conv weight (out, in, 5, 5) keeps in'·25 floats of each
 * row; the CNN's fc1 (512, c2·h·w) keeps c2'·h·w, the channels' pixels being
 * contiguous).  The lstm (nn_lstm.h) slices by hidden units: its gate
 * matrices w_ih (4H, in), w_hh (4H, H) and bias (4H) are stored unit-major
 * (row 4j+q is gate q ∈ i,f,g,o of unit j), so the first ⌈βH⌉ units' four gate
 * rows are the leading 4·⌈βH⌉ rows, and their columns the leading ⌈βH⌉ of
 * w_hh, of the next layer's w_ih and of fc.weight; the embedding (vocab,
 * embed) and the first layer's inputs are kept whole.  (In PyTorch's
 * gate-major order the same sub-model is the first ⌈βH⌉ rows of each of the
 * four H-row gate blocks.)  Any model whose tensors are such prefixes of another's is a
 * sub-model of it (hf_slice_compatible): slicing between two narrow models
 * (FjORD's p-subnet of a p_max model) uses the same functions.
 */
#ifndef HF_SLICE_H
#define HF_SLICE_H
#include "nn.h"

/* ⌈β·units⌉ (at least 1); β·units within 1e-9 of an integer counts as that
 * integer, so 0.6·200 gives 120, not 121. */
int hf_slice_units(int units, double beta);
/* The configuration of the width-β sub-model of cfg (β in (0,1]); logreg has
 * no hidden layer and is returned unchanged.  CNN defaults (0 widths) are
 * resolved first.  Returns 0 or HF_EINPUT. */
int hf_slice_cfg(const hf_model_cfg_t *cfg, double beta, hf_model_cfg_t *out);
/* 1 when every tensor of sub is a leading-rows × leading-cols block of the same
 * tensor of m (same number of tensors, same trailing dims beyond dim 1 for
 * conv weights), else 0. */
int hf_slice_compatible(const hf_model_t *m, const hf_model_t *sub);

/* xs (sub->nparams) = the sub-model's coordinates of x (m->nparams). */
void hf_slice_extract(const hf_model_t *m, const float *x, const hf_model_t *sub, float *xs);
/* x[coordinates of sub] = xs; every other coordinate of x is left alone. */
void hf_slice_scatter(const hf_model_t *m, float *x, const hf_model_t *sub, const float *xs);
/* cov[j] += w for every coordinate j of m covered by sub, except the rows of
 * the classifier (the last weight and bias) whose class c has
 * classes != NULL && classes[c] == 0 (HeteroFL's label split). */
void hf_slice_cover(const hf_model_t *m, const hf_model_t *sub, double w,
                    const unsigned char *classes, double *cov);
/* x[j] = 0 on the classifier rows of classes c with classes[c] == 0 (model m). */
void hf_slice_zero_classes(const hf_model_t *m, const unsigned char *classes, float *x);
/* x[j] *= f on every tensor but the classifier's (the hidden layers: HeteroFL's
 * scaler 1/β applied to a layer's outputs is its weight and bias times 1/β,
 * ReLU and max-pool being positively homogeneous; not so the lstm's gates:
 * HeteroFL refuses heterofl.scaler on the lstm). */
void hf_slice_scale_hidden(const hf_model_t *m, float f, float *x);
/* Number of parameters of the hidden layers (everything but the classifier). */
long hf_slice_hidden_params(const hf_model_t *m);
#endif
