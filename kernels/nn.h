/*
 * nn.h — models on flat parameter buffers.
 *
 * A model is a description (layer shapes and the offsets of its tensors inside
 * one contiguous float32 buffer).  Parameters, gradients and optimizer state are
 * separate flat buffers of m->nparams floats owned by the caller, so a whole
 * model moves in one MPI call.  Activations live in an hf_work_t allocated once
 * for a maximum batch size: nothing is allocated per step.
 *
 * Data layout: batch-major, x is (B, in_dim) with in_dim = in_c*in_h*in_w,
 * pixels in channel-major order (C,H,W) per sample.
 */
#ifndef HF_NN_H
#define HF_NN_H
#include <stdint.h>

typedef enum { HF_ARCH_LOGREG = 0, HF_ARCH_MLP = 1, HF_ARCH_CNN = 2 } hf_arch_t;

#define HF_MAX_HIDDEN 8
#define HF_MAX_TENSORS 32

typedef struct {
    hf_arch_t arch;
    int in_c, in_h, in_w;     /* input shape; vectors use in_c=1,in_h=1,in_w=dim */
    int n_classes;
    int nhidden;              /* mlp: number of hidden layers */
    int hidden[HF_MAX_HIDDEN];/* mlp: widths, e.g. {200,200}; cnn: {conv1_ch, conv2_ch, fc} */
} hf_model_cfg_t;

typedef struct {
    char name[32];            /* e.g. "fc1.weight", "conv2.bias" */
    long off;                 /* offset into the flat buffer (floats) */
    long n;                   /* number of floats */
    int ndim;
    int shape[4];             /* weight of a dense layer: (out, in); conv: (out_c, in_c, k, k) */
} hf_tensor_t;

typedef struct {
    hf_model_cfg_t cfg;
    long nparams;
    int ntensors;
    hf_tensor_t tensors[HF_MAX_TENSORS];
    int in_dim;               /* in_c*in_h*in_w */
    double flops_fwd;         /* forward multiply-adds*2 per sample */
} hf_model_t;

typedef struct hf_work hf_work_t;  /* activations, scratch; opaque */

/* Lay out the model; returns 0 or HF_EINPUT (bad cfg, message via hf_errmsg). */
int hf_model_init(hf_model_t *m, const hf_model_cfg_t *cfg);
/* Deterministic initialisation from the seed (PyTorch default: Kaiming-uniform
 * weights U(-1/sqrt(fan_in), 1/sqrt(fan_in)), same bound for biases). */
void hf_model_init_params(const hf_model_t *m, float *params, uint64_t seed);

hf_work_t *hf_work_new(const hf_model_t *m, int max_batch);
void hf_work_free(hf_work_t *w);

/* Forward + backward on one minibatch of B <= max_batch samples.
 * grad (nparams floats) is overwritten with d(mean loss)/d(params).
 * Returns the mean softmax cross-entropy loss of the batch. */
float hf_model_train_step_grad(const hf_model_t *m, hf_work_t *w, const float *params,
                               float *grad, const float *x, const int *y, int B);

/* Distillation step: forward + backward of the soft-target loss
 * mean_b KL(softmax(zt_b/T) ‖ softmax(z_b/T)), z = the model's logits on x,
 * zt (B, n_classes) the teacher's logits.  grad (nparams floats) is overwritten
 * with its gradient w.r.t. params (d/dz = (softmax(z/T) − softmax(zt/T))/T: no
 * T² factor).  Returns the mean divergence (NAN if B is out of range or T <= 0). */
float hf_model_train_step_soft(const hf_model_t *m, hf_work_t *w, const float *params, float *grad,
                               const float *x, const float *zt, float T, int B);

/* Forward only.  Writes logits (B, n_classes) into `logits` if non-NULL; returns
 * per-sample losses into `loss` (B floats) if non-NULL and y non-NULL, and the
 * number of correct argmax predictions. */
int hf_model_forward(const hf_model_t *m, hf_work_t *w, const float *params, const float *x,
                     const int *y, int B, float *logits, float *loss);
/* (hf_model_forward accepts any B >= 0: batches larger than max_batch are
 * processed in chunks of max_batch.) */

typedef struct {
    float lr, momentum, weight_decay;
    float clip;               /* max global gradient L2 norm; 0 = off */
} hf_sgd_t;

/* params -= lr * (momentum buffer) with PyTorch SGD semantics:
 * g = grad + wd*params; (clip g first if clip>0, on grad before wd);
 * if momentum: mom = momentum*mom + g; step = mom; else step = g. */
void hf_sgd_step(const hf_sgd_t *o, long n, float *params, const float *grad, float *mom);

/* Adam (Kingma & Ba) with beta1 = HF_ADAM_B1, beta2 = HF_ADAM_B2, eps = 1e-8:
 * m = b1 m + (1 − b1) g, v = b2 v + (1 − b2) g², x −= a · m / (sqrt(v) + eps)
 * over n parameters, a = lr · sqrt(1 − b2^t) / (1 − b1^t) computed by the
 * caller (its learning-rate schedule and step count t). */
#define HF_ADAM_B1 0.9
#define HF_ADAM_B2 0.999
void hf_adam_step(long n, float *x, const float *g, float *m, float *v, double a);

/* One local SGD step on a minibatch: forward, backward and the hf_sgd_step()
 * update, same semantics as hf_model_train_step_grad() followed by
 * hf_sgd_step(o, m->nparams, params, grad, mom) (equal up to float rounding).
 * Fast paths when o->clip == 0 (clipping needs the whole gradient first):
 *   momentum == 0: each dense layer's update is folded into its weight-gradient
 *     sgemm, W = (1 - lr*wd)·W - (lr/B)·dZᵀ·A (sgemm alpha/beta; beta = 1 when
 *     wd = 0), so no gradient buffer is written or read for dense layers;
 *   momentum != 0: the gradient goes straight into mom (sgemm beta = momentum),
 *     then mom += wd*W; W -= lr*mom, one layer at a time while it is in cache.
 * Conv layers take grad + hf_sgd_step.  With clip > 0: the two-call path.
 * grad: nparams floats of scratch, contents afterwards unspecified;
 * mom: momentum buffer (zero before the first step), may be NULL if momentum == 0.
 * Returns the mean loss of the batch before the update (NAN if B is out of range). */
float hf_model_train_step(const hf_model_t *m, hf_work_t *w, const hf_sgd_t *o, float *params,
                          float *grad, float *mom, const float *x, const int *y, int B);

/* OpenBLAS 0.3.21 (Debian 12) does not recognise recent Xeons (e.g. family 6
 * model 207) and falls back to its Prescott (SSE3) kernels, ~5x slower.  If
 * that happened and OPENBLAS_CORETYPE is not set, re-select the SkylakeX
 * (AVX-512) or Haswell (AVX2) kernels the CPU supports.  Idempotent; call it
 * before any BLAS work, outside parallel regions (hf_work_new() calls it).
 * Returns the OpenBLAS core name in use afterwards. */
const char *hf_blas_init(void);
/* Splitting of sgemm calls into pieces OpenBLAS's small-matrix kernels accept
 * (nn.c): mode 1 on, 0 off, -1 automatic (on for SkylakeX-class cores, the
 * default).  For tests and benchmarks; returns the previous setting (0/1). */
int hf_gemm_split(int mode);

/* Building blocks, exposed for tests. */
/* Softmax cross-entropy of n samples; logit (class c, sample b) is
 * z[c*cs + b*bs].  dz (same layout, may be NULL) = softmax - onehot(y), NOT
 * divided by n; loss (n floats, may be NULL) per sample; *ncorrect (may be NULL)
 * += number of argmax hits (ties -> lowest class).  y may be NULL (no loss, no
 * dz).  A label outside [0,C) gives a NAN loss and a zero dz column.
 * Returns the summed loss. */
double hf_softmax_xent(const float *z, int C, int n, long cs, long bs, const int *y, float *dz,
                       float *loss, int *ncorrect);
/* KL(softmax(zt/T) ‖ softmax(z/T)) of n samples, z and zt (n, C) batch-major;
 * dz (may be NULL) = its gradient w.r.t. z, (softmax(z/T) − softmax(zt/T))/T per
 * sample, NOT divided by n.  Returns the summed divergence. */
double hf_softmax_kl(const float *z, const float *zt, int C, int n, float T, float *dz);
/* 'same' 5x5 convolution of one sample, stride 1, zero padding 2:
 * in (cin,h,w), weight (cout,cin,5,5), bias (cout), out (cout,h,w);
 * cols: scratch of cin*25*h*w floats (im2col). */
void hf_conv5_forward(const float *in, int cin, int h, int w, const float *weight,
                      const float *bias, int cout, float *out, float *cols);
/* The same for n samples at once (the CNN's kernels): in holds n samples of
 * (cin,h,w) at stride in_stride; out is (cout, n*h*w) — channel co of sample s
 * at out[co*n*h*w + s*h*w]; cols: cin*25*n*h*w floats.  One im2col per sample
 * into one matrix, then one sgemm for the n samples. */
void hf_conv5_forward_batch(const float *in, long in_stride, int n, int cin, int h, int w,
                            const float *weight, const float *bias, int cout, float *out, float *cols);
/* Its backward: dout (cout, n*h*w) as out.  dweight (cout, cin*25) =
 * alpha·Σ_samples dout·im2colᵀ + beta·dweight, dbias likewise (beta = 0: not
 * read); din (NULL: skipped) = the input gradient, n samples at din_stride.
 * cols: as above; recompute != 0 rebuilds the im2col of in first, else cols
 * must hold the forward's.  cols is overwritten. */
void hf_conv5_backward_batch(const float *in, long in_stride, int n, int cin, int h, int w,
                             const float *weight, int cout, const float *dout, float alpha, float beta,
                             float *dweight, float *dbias, float *din, long din_stride, float *cols,
                             int recompute);
/* Samples per hf_conv5_*_batch call the CNN uses for a layer with this input
 * shape (its im2col stays within a core's L2; nn.c CONV_COLS_FLOATS). */
int hf_conv5_subbatch(int cin, int h, int w);
/* 2x2 max-pool, stride 2 (floor): in (c,h,w) -> out (c,h/2,w/2); argmax[i] =
 * index into in of the maximum (first in row-major window order on ties);
 * relu != 0: out = max(pool, 0) (same as pooling after a ReLU). */
void hf_pool2_forward(const float *in, int c, int h, int w, int relu, float *out, int *argmax);

/* Training FLOPs per sample (forward + backward ≈ 3 × forward). */
double hf_model_train_flops(const hf_model_t *m);
const char *hf_arch_name(hf_arch_t a);

#endif
