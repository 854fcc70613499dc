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
 * pixels in channel-major order (C,H,W) per sample (lstm: in_w token ids).
 */
#ifndef HF_NN_H
#define HF_NN_H
#include <stdint.h>

typedef enum { HF_ARCH_LOGREG = 0, HF_ARCH_MLP = 1, HF_ARCH_CNN = 2, HF_ARCH_RESNET = 3, HF_ARCH_LSTM = 4 } hf_arch_t;
/* resnet normalisation (nn_resnet.c) */
typedef enum { HF_NORM_NONE = 0, HF_NORM_GROUP = 1, HF_NORM_STATIC_BN = 2 } hf_norm_t;
/* convolution scheme of cnn and resnet (key model.conv): im2col + sgemm everywhere
 * (the bits of every earlier release), or the fast kernels (Winograd for 3x3 and
 * 5x5 stride-1 'same' convolutions of 4+ input channels (winograd.h), a direct
 * kernel for one-input-channel ones):
 * other summation orders, so other result bits */
typedef enum { HF_CONV_GEMM = 0, HF_CONV_FAST = 1 } hf_conv_t;

#define HF_MAX_HIDDEN 8
#define HF_MAX_TENSORS 64        /* ResNet-18 with group norm: 56 */

typedef struct {
    hf_arch_t arch;
    int in_c, in_h, in_w;     /* input shape; vectors use in_c=1,in_h=1,in_w=dim */
    int n_classes;
    int nhidden;              /* mlp: number of hidden layers */
    int hidden[HF_MAX_HIDDEN];/* mlp: widths, e.g. {200,200}; cnn: {conv1_ch, conv2_ch, fc};
                                 lstm: the LSTM layers' widths (nhidden 0: 256,256);
                                 resnet: the 4 stage widths {64,128,256,512} */
    int vocab, embed;         /* lstm: x holds in_w token ids in [0,vocab) per sample;
                                 embedding size (0: 8) — nn_lstm.h */
    int depth;                /* resnet: 10 (one basic block per stage) or 18 (two); 0 = 18 */
    int norm;                 /* resnet: hf_norm_t */
    int conv;                 /* cnn, resnet: hf_conv_t */
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
/* The bytes of activations and scratch hf_work_new(m, max_batch) allocates,
 * and what training steps of train_batch samples add (the resnet with static
 * batch norm holds the whole batch's activations: its work space grows). */
double hf_work_bytes(const hf_model_t *m, int max_batch, int train_batch);
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

/* Static batch norm (the resnet with norm HF_NORM_STATIC_BN; a no-op for every
 * other model): recompute from the n samples x the statistics hf_model_forward
 * normalises by.  x runs forward in chunks of `chunk` samples (the last one
 * shorter), each normalised by its own batch statistics; every channel gets
 * the mean over the chunks of the chunk's mean and unbiased variance
 * (PyTorch's running statistics with momentum None: HeteroFL's sBN query).
 * Until the first call: mean 0, variance 1.  Training steps use the batch's
 * statistics and leave these alone. */
void hf_model_norm_stats(const hf_model_t *m, hf_work_t *w, const float *params, const float *x, long n,
                         int chunk);

/* Per-sample weights q[0..B) of the cross-entropy of the next training steps
 * in w (hf_model_train_step*, not the soft-target step): the loss minimised
 * becomes Σ_b q_b ℓ_b / B (FedEM's M-step); the steps still return the
 * unweighted mean loss.  q = NULL (the default): no weights.  With every
 * q_b = 1 the steps are bitwise those without weights. */
void hf_work_sample_weights(hf_work_t *w, const float *q);
/* The last hidden layer's width: the input of the last dense layer (the input
 * itself for logreg). */
int hf_model_feature_dim(const hf_model_t *m);
/* Forward of B samples (any B >= 0): feat (B, hf_model_feature_dim) gets the
 * last hidden layer's activations (after its ReLU), logits (B, n_classes; may
 * be NULL) the outputs (kNN-Per's datastore keys and base predictions). */
void hf_model_features(const hf_model_t *m, hf_work_t *w, const float *params, const float *x, int B,
                       float *feat, float *logits);

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
 * Conv layers take grad + hf_sgd_step.  With clip > 0, and for the lstm: the
 * two-call path.
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
/* im2col of a stride-1 'same' k x k convolution (padding pad, 2*pad = k-1):
 * cols[(ci*k + ky)*k + kx][oy*w + ox] = in[ci][oy+ky-pad][ox+kx-pad], 0 outside;
 * row stride ld >= h*w (several samples side by side).  Each row is one linear
 * copy of the shifted plane, then the wrapped columns zeroed. */
void hf_im2col_same(const float *in, int cin, int h, int w, int k, int pad, float *cols, long ld);
/* Its adjoint: din (cin,h,w) += each cols entry at the pixel it was read from,
 * every pixel's terms in the order (ci, ky, kx).  Each row is one linear add
 * after its wrapped columns are zeroed in cols (destroyed), so a wrapped entry
 * adds +0: the same bits as skipping it unless din holds -0, which a din that
 * started at +0 and only received additions never does (x + y is -0 only when
 * both are).  Every caller zeroes din first. */
void hf_col2im_same(float *cols, int cin, int h, int w, int k, int pad, float *din, long ld);
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
 * shape and cout output channels (its im2col stays within a core's L2, nn.c
 * CONV_COLS_FLOATS; with OpenBLAS's small-matrix kernels, the forward sgemm
 * within their size limit too). */
int hf_conv5_subbatch(int cin, int h, int w, int cout);
/* 2x2 max-pool, stride 2 (floor): in (c,h,w) -> out (c,h/2,w/2); argmax[i] =
 * index into in of the maximum (first in row-major window order on ties);
 * relu != 0: out = max(pool, 0) (same as pooling after a ReLU). */
void hf_pool2_forward(const float *in, int c, int h, int w, int relu, float *out, int *argmax);

/* Pre-activation ResNet building blocks (nn_resnet.c), one sample each.
 * k x k convolution, stride s, zero padding p, no bias: in (cin,h,w), weight
 * (cout,cin,k,k), out (cout,ho,wo) with ho = (h+2p-k)/s+1, wo likewise;
 * cols: cin*k*k*ho*wo floats of scratch (im2col; unused for k = 1, s = 1, p = 0). */
void hf_conv2d_forward(const float *in, int cin, int h, int w, const float *weight, int cout, int k, int s,
                       int p, float *out, float *cols);
/* Its backward: dweight (cout,cin,k,k) += dout · im2col(in)ᵀ; din (NULL: skipped)
 * += the input gradient (both accumulate; for a stride-1 'same' convolution a -0
 * entry of din may come back +0: hf_col2im_same).  cols as above, overwritten. */
void hf_conv2d_backward(const float *in, int cin, int h, int w, const float *weight, int cout, int k, int s,
                        int p, const float *dout, float *dweight, float *din, float *cols);
/* Group norm of one sample x (C, hw): G groups of C/G consecutive channels,
 * y = gamma_c (x - mean_g) / sqrt(var_g + 1e-5) + beta_c (biased variance, as
 * torch.nn.GroupNorm); mean, rstd (G floats) saved for the backward. */
void hf_group_norm_forward(const float *x, int C, long hw, int G, const float *gamma, const float *beta,
                           float *y, float *mean, float *rstd);
/* Its backward: dx = input gradient (overwritten), dgamma/dbeta += parameter gradients. */
void hf_group_norm_backward(const float *x, int C, long hw, int G, const float *gamma, const float *mean,
                            const float *rstd, const float *dy, float *dx, float *dgamma, float *dbeta);
/* Batch norm of n samples, sample s's (C, hw) tensor at x + s·xs (HeteroFL's
 * static batch norm; eps 1e-5 as torch.nn.BatchNorm2d).  _stats: mean and
 * rstd = 1/sqrt(biased variance + eps) of every channel over the batch; when
 * sum_mean != NULL, the mean and the unbiased variance (PyTorch's running
 * statistics') are added to sum_mean[c] and sum_var[c].  _apply: y (stride xs
 * too) = gamma_c (x - mean_c) rstd_c + beta_c.  _backward, given the batch's
 * statistics and dy (sample stride ds): dx (stride ds) += the input gradient
 * through the batch statistics, dgamma/dbeta += the parameter gradients. */
void hf_batch_norm_stats(const float *x, long xs, int n, int C, long hw, float *mean, float *rstd,
                         double *sum_mean, double *sum_var);
void hf_batch_norm_apply(const float *x, long xs, int n, int C, long hw, const float *gamma, const float *beta,
                         const float *mean, const float *rstd, float *y);
void hf_batch_norm_backward(const float *x, long xs, int n, int C, long hw, const float *gamma, const float *mean,
                            const float *rstd, const float *dy, long ds, float *dx, float *dgamma, float *dbeta);
/* The resnet's group count for C channels: gcd(C, 4) (HeteroFL's GroupNorm(4, C)
 * whenever 4 divides C). */
int hf_resnet_groups(int C);

/* Training FLOPs per sample (forward + backward ≈ 3 × forward). */
double hf_model_train_flops(const hf_model_t *m);
const char *hf_arch_name(hf_arch_t a);

#endif
