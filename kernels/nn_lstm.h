/*
 * nn_lstm.h — the character LSTM of nn.c's model family (HF_ARCH_LSTM), kept
 * in its own file (nn_lstm.c).  Internal to the kernels: nn.c dispatches to
 * these functions; everything else goes through nn.h.
 *
 * Model: LEAF's Shakespeare next-character network (Caldas et al., "LEAF: A
 * Benchmark for Federated Settings", 2018): token ids → embedding (cfg.embed,
 * default 8) → nhidden stacked LSTM layers (cfg.hidden, default 256,256) → a
 * dense classifier over n_classes from the last step's hidden state of the
 * top layer.  x holds cfg.in_w token ids per sample (floats, batch-major).
 *
 * Tensors on the flat buffer, in this order:
 *   embed.weight    (vocab, embed)
 *   lstmL.w_ih      (4·H_L, in_L)    in_1 = embed, in_L = H_{L-1}
 *   lstmL.w_hh      (4·H_L, H_L)
 *   lstmL.bias      (4·H_L)          PyTorch's b_ih + b_hh in one
 *   fc.weight       (n_classes, H_top), fc.bias (n_classes)
 * Gate rows are unit-major: row 4·j + q is gate q ∈ (i, f, g, o) — PyTorch's
 * order — of hidden unit j (PyTorch's row q·H + j).  So the first ⌈β·H⌉ units
 * of a layer are the leading 4·⌈β·H⌉ rows of its three tensors and the leading
 * columns of the next layer's w_ih (or fc.weight): slice.c's prefix rule holds
 * as for the MLP (slice.h).
 *
 *   forward   z_t = W_ih·x_t + W_hh·h_{t-1} + b;  i,f,o = σ(z), g = tanh(z)
 *             c_t = f⊙c_{t-1} + i⊙g;  h_t = o⊙tanh(c_t);  h_{-1} = c_{-1} = 0
 */
#ifndef HF_NN_LSTM_H
#define HF_NN_LSTM_H
#include "nn.h"

#define HF_LSTM_EMBED 8           /* LEAF's embedding size (cfg.embed = 0) */
#define HF_LSTM_HIDDEN 256        /* LEAF's width, two layers (cfg.nhidden = 0) */

typedef struct hf_lstm_work hf_lstm_work_t;

/* Validate cfg (already checked by hf_model_init for shape and classes), resolve
 * the defaults, lay out the tensors and the forward FLOPs.  HF_OK or HF_EINPUT. */
int hf_lstm_init(hf_model_t *m, const hf_model_cfg_t *cfg);
/* PyTorch's defaults: embedding N(0,1); LSTM tensors U(±1/√H); fc U(±1/√H_top). */
void hf_lstm_init_params(const hf_model_t *m, float *params, uint64_t seed);

hf_lstm_work_t *hf_lstm_work_new(const hf_model_t *m, int max_batch);
/* The bytes hf_lstm_work_new(m, max_batch) allocates (its sub-batch's
 * activations over every time step, gradients and scratch). */
double hf_lstm_work_bytes(const hf_model_t *m, int max_batch);
void hf_lstm_work_free(hf_lstm_work_t *w);

/* logits (B, n_classes) of B samples (any B >= 0). */
void hf_lstm_forward(const hf_model_t *m, hf_lstm_work_t *w, const float *params, const float *x, int B,
                     float *logits);
/* grad (nparams) = d(mean loss)/d(params): cross-entropy on y, or (zt != NULL)
 * the distillation loss of nn.h at temperature T.  Returns the mean loss. */
float hf_lstm_step(const hf_model_t *m, hf_lstm_work_t *w, const float *params, float *grad, const float *x,
                   const int *y, const float *zt, float T, int B);

/* nn.c's sgemms for a few rows against a weight matrix W (out, in), cut along
 * an output dimension into calls OpenBLAS's small-matrix kernels accept on
 * cores that have them (hf_gemm_split; one call elsewhere, so the same bits as
 * a plain cblas_sgemm there):
 *   hf_gemm_fwd  Z (B, out) += A (B, in) · Wᵀ
 *   hf_gemm_da   dA (B, in)  = dZ (B, out) · W
 * The lstm's per-step recurrent products are these shapes (B = a sub-batch). */
void hf_gemm_fwd(int B, int out, int in, const float *A, const float *W, float *Z);
void hf_gemm_da(int B, int out, int in, const float *dZ, const float *W, float *dA);
#endif
