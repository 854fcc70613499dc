/*
 * nn.c — models on flat parameter buffers: logistic regression, MLP ("2NN")
 * and the McMahan CNN, forward/backward on cblas_sgemm, softmax cross-entropy,
 * PyTorch-style SGD; the char-LSTM's layers are in nn_lstm.c (dispatched from
 * hf_model_init, hf_work_new, model_forward and model_step).
 *
 * Layouts.  Parameters: one flat float buffer, tensors as views (nn.h); a dense
 * weight is (out,in) row-major, a conv weight (out_c,in_c,5,5).  Input x and
 * all activations are batch-major: x (B,in_dim), Z (B,out).
 *
 *   dense forward   Z (B,out) = A (B,in) · Wᵀ + b
 *   dense backward  dA (B,in) = dZ · W              (skipped for the MLP's first layer)
 *                   dW (out,in) = dZᵀ · A / B,  db = column sums of dZ / B
 *
 * sgemm calls are split so that OpenBLAS's unpacked small-matrix kernels take
 * them where that was measured to pay (gemm_fwd/gemm_dw/gemm_da below): at
 * B = 10 the packed path spends most of its time packing W.
 *
 * Bias is folded in by pre-filling Z with b and calling sgemm with beta = 1:
 * OpenBLAS implements beta != 1 as a separate pass over C, so beta = 1 saves a
 * memory pass, and it is what lets the SGD update be folded into the
 * weight-gradient sgemm (hf_model_train_step: C = params, beta = 1 - lr*wd,
 * alpha = -lr/B; with momentum C = mom, beta = momentum, then one pass
 * params -= lr*mom per layer while it is in cache).  dZ is carried unscaled
 * (softmax - onehot); 1/B goes into alpha.
 *
 * CNN: conv5x5 'same' via im2col + sgemm on sub-batches of samples (one
 * sgemm per sub-batch; hf_conv5_subbatch: the im2col within L2, and within
 * OpenBLAS's small-matrix limit where it has those kernels), bias pre-filled,
 * then 2x2 max-pool with the ReLU fused (relu∘max = max∘relu) and argmax
 * indices kept for backward.  The backward pass recomputes im2col per
 * sub-batch instead of storing it (800x196 floats per sample for conv2).
 * With model.conv = fast and one input channel, conv1 is the direct kernel of
 * conv_direct.c instead (a sample at a time, bias in its forward, weight and
 * bias gradient summed over the whole batch before alpha is applied).
 * model.conv = fast: conv2 (5x5, 4+ input channels) goes through Winograd
 * F(4x4,5x5) (winograd.c) on sub-batches that fill one chunk of its sgemms.
 *
 * Nothing here allocates after hf_work_new(), and nothing sets the OpenBLAS
 * thread count (the caller does).
 */
#if !defined(_POSIX_C_SOURCE) && !defined(_GNU_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include "nn.h"
#include "conv_direct.h"
#include "nn_lstm.h"
#include "nn_resnet.h"
#include "winograd.h"
#include "hf_util.h"
#include "rng.h"
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define KS 5                       /* conv kernel size */
#define KK (KS * KS)
#define PAD 2                      /* 'same' padding for KS = 5 */
#define MAX_DENSE (HF_MAX_HIDDEN + 2)
#define MAX_WIDTH (1 << 22)        /* sanity limit on any width / channel count */
#define MAX_PARAMS (1L << 31)      /* 8 GiB of float32 */
/* im2col floats per conv sub-batch (default 128 Ki floats = 512 KiB: 6 samples
 * at the McMahan CNN's conv1, 1 at conv2).  Measured (thread CPU time, one core
 * of this project's EPYC machines, shared): conv2 fwd+bwd at 75 % of the sgemm
 * peak with 1 sample per sgemm, 71 % with 4, 61 % with 16, 54 % with 64 — the
 * im2col matrix must stay in the core's L2; conv1 (K = 25) best at 4-6
 * (Haswell kernels; hf_conv5_subbatch for cores with small-matrix kernels). */
#ifndef CONV_COLS_FLOATS
#define CONV_COLS_FLOATS ((size_t)128 << 10)
#endif

static const int cnn_defaults[3] = {32, 64, 512};

/* ------------------------------------------------------------------------ */
/* Layer geometry derived from the (resolved) cfg                            */
/* ------------------------------------------------------------------------ */

typedef struct {
    int nconv;                  /* 0 or 2 */
    int c[3], h[3], w[3];       /* cnn: c[0..2] channels; h/w[0] input, [1] after pool1, [2] after pool2 */
    int ndense;                 /* dense layers */
    int d[MAX_DENSE + 1];       /* dense dims d[0] (input) .. d[ndense] (= n_classes) */
    int t0;                     /* tensor index of the first dense weight */
} geom_t;

static void geom_of(const hf_model_cfg_t *c, geom_t *g)
{
    memset(g, 0, sizeof *g);
    int in_dim = c->in_c * c->in_h * c->in_w;
    if (c->arch == HF_ARCH_CNN) {
        g->nconv = 2;
        g->c[0] = c->in_c; g->h[0] = c->in_h; g->w[0] = c->in_w;
        g->c[1] = c->hidden[0]; g->h[1] = c->in_h / 2; g->w[1] = c->in_w / 2;
        g->c[2] = c->hidden[1]; g->h[2] = g->h[1] / 2; g->w[2] = g->w[1] / 2;
        g->ndense = 2;
        g->d[0] = g->c[2] * g->h[2] * g->w[2];
        g->d[1] = c->hidden[2];
        g->d[2] = c->n_classes;
        g->t0 = 4;
    } else {
        int nh = c->arch == HF_ARCH_MLP ? c->nhidden : 0;
        g->ndense = nh + 1;
        g->d[0] = in_dim;
        for (int i = 0; i < nh; i++) g->d[i + 1] = c->hidden[i];
        g->d[nh + 1] = c->n_classes;
        g->t0 = 0;
    }
}

const char *hf_arch_name(hf_arch_t a)
{
    switch (a) {
    case HF_ARCH_LOGREG: return "logreg";
    case HF_ARCH_MLP: return "mlp";
    case HF_ARCH_CNN: return "cnn";
    case HF_ARCH_LSTM: return "lstm";
    case HF_ARCH_RESNET: return "resnet";
    }
    return "unknown";
}

void hf_model_add_tensor(hf_model_t *m, const char *name, int ndim, const int *shape)
{
    hf_tensor_t *t = &m->tensors[m->ntensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim;
    t->n = 1;
    for (int i = 0; i < 4; i++) t->shape[i] = i < ndim ? shape[i] : 0;
    for (int i = 0; i < ndim; i++) t->n *= shape[i];
    t->off = m->nparams;
    m->nparams += t->n;
}

int hf_model_init(hf_model_t *m, const hf_model_cfg_t *cfg)
{
    memset(m, 0, sizeof *m);
    hf_model_cfg_t c = *cfg;
    if (c.arch != HF_ARCH_LOGREG && c.arch != HF_ARCH_MLP && c.arch != HF_ARCH_CNN && c.arch != HF_ARCH_LSTM &&
        c.arch != HF_ARCH_RESNET)
        return hf_seterr(HF_EINPUT, "model: unknown architecture %d", (int)c.arch);
    if (c.in_c < 1 || c.in_h < 1 || c.in_w < 1 || c.in_c > MAX_WIDTH || c.in_h > MAX_WIDTH ||
        c.in_w > MAX_WIDTH || (double)c.in_c * c.in_h * c.in_w > (double)MAX_WIDTH * 64)
        return hf_seterr(HF_EINPUT, "model: bad input shape %dx%dx%d (each dimension must be >= 1)",
                         c.in_c, c.in_h, c.in_w);
    if (c.n_classes < 2 || c.n_classes > MAX_WIDTH)
        return hf_seterr(HF_EINPUT, "model: n_classes must be >= 2 (got %d)", c.n_classes);
    if (c.nhidden < 0 || c.nhidden > HF_MAX_HIDDEN)
        return hf_seterr(HF_EINPUT, "model: nhidden must be in [0,%d] (got %d)", HF_MAX_HIDDEN,
                         c.nhidden);
    if (c.arch == HF_ARCH_LSTM) return hf_lstm_init(m, &c);
    if (c.arch == HF_ARCH_RESNET) return hf_resnet_init(m, &c);   /* nn_resnet.c */
    if (c.arch == HF_ARCH_LOGREG) {
        c.nhidden = 0;
        memset(c.hidden, 0, sizeof c.hidden);
    } else if (c.arch == HF_ARCH_MLP) {
        for (int i = 0; i < c.nhidden; i++)
            if (c.hidden[i] < 1 || c.hidden[i] > MAX_WIDTH)
                return hf_seterr(HF_EINPUT, "model: mlp hidden width %d must be in [1,%d] (got %d)",
                                 i + 1, MAX_WIDTH, c.hidden[i]);
        for (int i = c.nhidden; i < HF_MAX_HIDDEN; i++) c.hidden[i] = 0;
    } else {
        if (c.nhidden > 3)
            return hf_seterr(HF_EINPUT, "model: cnn takes at most 3 widths (conv1, conv2, fc), got %d",
                             c.nhidden);
        for (int i = 0; i < 3; i++) {
            int v = i < c.nhidden ? c.hidden[i] : 0;
            if (v < 0 || v > MAX_WIDTH)
                return hf_seterr(HF_EINPUT, "model: cnn width %d must be >= 0 (0 = default), got %d",
                                 i + 1, v);
            c.hidden[i] = v ? v : cnn_defaults[i];
        }
        for (int i = 3; i < HF_MAX_HIDDEN; i++) c.hidden[i] = 0;
        c.nhidden = 3;
        if (c.in_h < 4 || c.in_w < 4)
            return hf_seterr(HF_EINPUT, "model: cnn input must be at least 4x4 (two 2x2 pools), got %dx%d",
                             c.in_h, c.in_w);
        /* per-sample activation and im2col sizes must stay well inside int */
        double hw = (double)c.in_h * c.in_w, big = 0;
        big = fmax(big, (double)c.hidden[0] * hw);                    /* conv1 output */
        big = fmax(big, (double)c.in_c * KK * hw);                     /* conv1 im2col */
        big = fmax(big, (double)c.hidden[1] * (hw / 4));               /* conv2 output */
        big = fmax(big, (double)c.hidden[0] * KK * (hw / 4));          /* conv2 im2col */
        if (big > (double)(1 << 28))
            return hf_seterr(HF_EINPUT, "model: cnn activations of %.3g floats per sample are too large",
                             big);
    }

    geom_t g;
    geom_of(&c, &g);
    /* parameter count in double first: no overflow on absurd widths */
    double np = 0;
    if (g.nconv)
        np += (double)g.c[1] * (g.c[0] * KK + 1) + (double)g.c[2] * (g.c[1] * KK + 1);
    for (int l = 0; l < g.ndense; l++) np += (double)g.d[l + 1] * (g.d[l] + 1.0);
    if (np > (double)MAX_PARAMS)
        return hf_seterr(HF_EINPUT, "model: %.3g parameters is more than the limit %ld", np, MAX_PARAMS);

    m->cfg = c;
    m->in_dim = c.in_c * c.in_h * c.in_w;
    char name[32];
    double fl = 0;
    for (int k = 0; k < g.nconv; k++) {
        int ws[4] = {g.c[k + 1], g.c[k], KS, KS}, bs[1] = {g.c[k + 1]};
        snprintf(name, sizeof name, "conv%d.weight", k + 1);
        hf_model_add_tensor(m, name, 4, ws);
        snprintf(name, sizeof name, "conv%d.bias", k + 1);
        hf_model_add_tensor(m, name, 1, bs);
        /* conv k runs at the resolution before pool k: h[k] x w[k] */
        fl += 2.0 * g.c[k + 1] * g.c[k] * KK * (double)g.h[k] * g.w[k];
    }
    for (int l = 0; l < g.ndense; l++) {
        int ws[2] = {g.d[l + 1], g.d[l]}, bs[1] = {g.d[l + 1]};
        snprintf(name, sizeof name, "fc%d.weight", l + 1);
        hf_model_add_tensor(m, name, 2, ws);
        snprintf(name, sizeof name, "fc%d.bias", l + 1);
        hf_model_add_tensor(m, name, 1, bs);
        fl += 2.0 * g.d[l] * g.d[l + 1];
    }
    m->flops_fwd = fl;
    return HF_OK;
}

void hf_model_init_params(const hf_model_t *m, float *params, uint64_t seed)
{
    if (m->cfg.arch == HF_ARCH_LSTM) {
        hf_lstm_init_params(m, params, seed);
        return;
    }
    if (m->cfg.arch == HF_ARCH_RESNET) {
        hf_resnet_init_params(m, params, seed);
        return;
    }
    for (int t = 0; t < m->ntensors; t++) {
        const hf_tensor_t *T = &m->tensors[t];
        /* fan_in: in features of a dense layer, in_c*k*k of a conv; a bias uses
         * the fan_in of its weight (the tensor before it) */
        const hf_tensor_t *W = T->ndim == 1 ? &m->tensors[t - 1] : T;
        double fan_in = W->ndim == 4 ? (double)W->shape[1] * W->shape[2] * W->shape[3] : W->shape[1];
        double bound = 1.0 / sqrt(fan_in);
        hf_rng_t r;
        hf_rng_init(&r, seed, HF_RNG_INIT, (uint64_t)t, 0);
        float *p = params + T->off;
        for (long i = 0; i < T->n; i++) p[i] = (float)((2.0 * hf_rng_uniform(&r) - 1.0) * bound);
    }
}

double hf_model_train_flops(const hf_model_t *m) { return 3.0 * m->flops_fwd; }

/* ------------------------------------------------------------------------ */
/* Elementwise loops                                                         */
/* ------------------------------------------------------------------------ */

/* Written as blocks of VL with a constant inner trip count and restrict
 * pointers: GCC's -O2 ("very cheap") vectorizer only vectorizes such loops. */
#define VL 16

static void relu_inplace(long n, float *restrict z)
{
    long i = 0;
    for (; i + VL <= n; i += VL)
        for (int k = 0; k < VL; k++) z[i + k] = z[i + k] > 0.0f ? z[i + k] : 0.0f;
    for (; i < n; i++) z[i] = z[i] > 0.0f ? z[i] : 0.0f;
}

/* d = a > 0 ? d : 0 (backward of a ReLU whose output is a) */
static void relu_mask(long n, float *restrict d, const float *restrict a)
{
    long i = 0;
    for (; i + VL <= n; i += VL)
        for (int k = 0; k < VL; k++) d[i + k] = a[i + k] > 0.0f ? d[i + k] : 0.0f;
    for (; i < n; i++) d[i] = a[i] > 0.0f ? d[i] : 0.0f;
}

/* y += x */
static void vec_add(long n, float *restrict y, const float *restrict x)
{
    long i = 0;
    for (; i + VL <= n; i += VL)
        for (int k = 0; k < VL; k++) y[i + k] += x[i + k];
    for (; i < n; i++) y[i] += x[i];
}

/* Momentum buffers of units that stopped receiving gradient (dead ReLUs)
 * decay geometrically into the subnormal range, where every operation on
 * them costs a microcode assist (measured: 2NN steps with momentum 0.9 4x
 * slower after a few epochs).  Momentum entries below MOM_TINY = 2^-100 are
 * flushed to 0 — well above FLT_MIN, so that sgemm's beta = momentum scaling
 * of the buffer cannot make them subnormal either.  The update is unchanged:
 * lr*2^-100 is below half an ulp of any weight larger than ~1e-20. */
#define MOM_TINY 0x1p-100f
#define FLUSH(v) (fabsf(v) < MOM_TINY ? 0.0f : (v))

/* m += wd*p (flushed); p -= lr*m  (second half of a momentum step whose mu*m + g is done) */
static void mom_apply(long n, float *restrict p, float *restrict m, float lr, float wd)
{
    long i = 0;
    for (; i + VL <= n; i += VL)
        for (int k = 0; k < VL; k++) {
            float v = m[i + k] + wd * p[i + k];
            m[i + k] = FLUSH(v);
            p[i + k] -= lr * m[i + k];
        }
    for (; i < n; i++) {
        float v = m[i] + wd * p[i];
        m[i] = FLUSH(v);
        p[i] -= lr * m[i];
    }
}

/* p -= lr * (sc*g + wd*p) */
static void sgd_plain(long n, float *restrict p, const float *restrict g, float lr, float sc, float wd)
{
    long i = 0;
    if (wd == 0.0f && sc == 1.0f) {
        for (; i + VL <= n; i += VL)
            for (int k = 0; k < VL; k++) p[i + k] -= lr * g[i + k];
    } else {
        for (; i + VL <= n; i += VL)
            for (int k = 0; k < VL; k++) p[i + k] -= lr * (g[i + k] * sc + wd * p[i + k]);
    }
    for (; i < n; i++) p[i] -= lr * (g[i] * sc + wd * p[i]);
}

/* m = mu*m + (sc*g + wd*p) (flushed); p -= lr*m */
static void sgd_momentum(long n, float *restrict p, const float *restrict g, float *restrict m, float lr,
                         float sc, float wd, float mu)
{
    long i = 0;
    for (; i + VL <= n; i += VL)
        for (int k = 0; k < VL; k++) {
            float v = mu * m[i + k] + (g[i + k] * sc + wd * p[i + k]);
            m[i + k] = FLUSH(v);
            p[i + k] -= lr * m[i + k];
        }
    for (; i < n; i++) {
        float v = mu * m[i] + (g[i] * sc + wd * p[i]);
        m[i] = FLUSH(v);
        p[i] -= lr * m[i];
    }
}

/* ------------------------------------------------------------------------ */
/* OpenBLAS core selection                                                   */
/* ------------------------------------------------------------------------ */

/* OpenBLAS >= 0.3.16 on SkylakeX-class cores has unpacked "small matrix"
 * sgemm kernels, used when M*N*K <= 1e6 (column-major terms) and, for the
 * Aᵀ·B case, M*N <= 1200 and K >= 32.  At B = 10 the packed path spends most
 * of its time packing the weight matrix; splitting one call into pieces the
 * small kernels accept is up to 3x faster.  Splitting is along an output
 * dimension only (never K), so every output element is still one dot product.
 * When to split was measured per kernel type on one core (2NN and CNN-fc
 * shapes, B = 1..128); the thresholds below encode where it paid. */
#define SMALL_MNK 1.0e6
#define SMALL_TN_MN 1200
#define SMALL_TN_MINK 32
static int blas_small;         /* split sgemm calls: core has small kernels (hf_blas_init) */
static int blas_small_auto;    /* what hf_blas_init() detected */

int hf_gemm_split(int mode)
{
    hf_blas_init();
    int prev = blas_small;
    blas_small = mode < 0 ? blas_small_auto : mode != 0;
    return prev;
}

/* DYNAMIC_ARCH entry points of OpenBLAS (exported, not in cblas.h); weak so
 * that a build without DYNAMIC_ARCH still links. */
extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));

const char *hf_blas_init(void)
{
    static int done;
    if (!done) {
        done = 1;
        const char *core = openblas_get_corename();
#if defined(__x86_64__) && defined(__GNUC__)
        if (core && strcasecmp(core, "prescott") == 0 && !getenv("OPENBLAS_CORETYPE") &&
            gotoblas_dynamic_init && gotoblas_dynamic_quit) {
            const char *want = NULL;
            if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
                want = "SkylakeX";
            else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
                want = "Haswell";
            else if (__builtin_cpu_supports("avx"))
                want = "Sandybridge";
            if (want && setenv("OPENBLAS_CORETYPE", want, 1) == 0) {
                gotoblas_dynamic_quit();
                gotoblas_dynamic_init();
                unsetenv("OPENBLAS_CORETYPE");
            }
        }
#endif
        core = openblas_get_corename();
        blas_small_auto = core && (strcasecmp(core, "skylakex") == 0 || strcasecmp(core, "cooperlake") == 0 ||
                                   strcasecmp(core, "sapphirerapids") == 0);
        blas_small = blas_small_auto;
    }
    return openblas_get_corename();
}

/* ------------------------------------------------------------------------ */
/* Work space                                                                */
/* ------------------------------------------------------------------------ */

struct hf_work {
    int max_batch;
    geom_t g;
    const float *qw;            /* per-sample loss weights of the training steps (NULL: none) */
    float *act[MAX_DENSE];      /* act[l]: output of dense layer l, (B, d[l+1]); ReLU applied
                                   in place except for the logits act[ndense-1] (B, C) */
    float *dbuf[2];             /* ping-pong (B, max d): dZ / dA of the dense stack */
    float *colsum;              /* (max d) bias-gradient scratch */
    /* cnn only: the conv layers run on sub-batches of sb samples */
    int sb[2];                  /* samples per sub-batch of conv1, conv2 (geometry only) */
    float *cols;                /* sub-batch im2col, (c*25, sb*h*w), the larger of the two */
    float *conv;                /* sub-batch conv output (c1, sb0*h0*w0) or (c2, sb1*h1*w1) */
    float *dconv;               /* its gradient, same size */
    float *dpool1;              /* (B, c1,h1,w1) */
    float *pool1;               /* (B, c1,h1,w1), after ReLU */
    float *pool2;               /* (B, c2,h2,w2) = input of fc1, batch-major, after ReLU */
    int *arg1, *arg2;           /* argmax of each pooled element, index into the conv output */
    /* model.conv = fast with one input channel: conv1 is the direct kernel (conv_direct.h) */
    int direct1;
    float *c1x;                 /* its shifted input planes, one sample */
    float *c1acc;               /* its weight-gradient lanes, summed over the whole batch */
    float *wino;                /* model.conv = fast: conv2's Winograd scratch (else NULL) */
    int wino_kept;              /* the forward's conv2 was one sub-batch: its transforms are in wino */
    hf_lstm_work_t *lstm;       /* lstm only (its logits go to act[0]) */
    hf_resnet_work_t *rn;       /* resnet: its own work space (nn_resnet.c), else NULL */
};

/* The Winograd geometry of conv2 on n samples of pool1 (batch-major) into the
 * sub-batch layout (cout, n*h*w). */
static hf_wino_t conv2_wino(const geom_t *g, int n)
{
    long hw = (long)g->h[1] * g->w[1];
    return (hf_wino_t){KS, n, g->c[1], g->c[2], g->h[1], g->w[1], g->c[1] * hw, hw, hw, n * hw};
}

/* The dense and convolution buffers of w for max_batch samples (allocated
 * when alloc, else only counted); their bytes. */
static double work_buffers(hf_work_t *w, const hf_model_t *m, int max_batch, int alloc)
{
    w->max_batch = max_batch;
    geom_of(&m->cfg, &w->g);
    const geom_t *g = &w->g;
    size_t B = (size_t)max_batch, f = sizeof(float);
    double b = 0.0;
    int dmax = 0;
    for (int l = 0; l <= g->ndense; l++) dmax = HF_MAX(dmax, g->d[l]);
    for (int l = 0; l < g->ndense; l++) w->act[l] = hf_take(&b, B * g->d[l + 1], f, alloc);
    w->dbuf[0] = hf_take(&b, B * dmax, f, alloc);
    w->dbuf[1] = hf_take(&b, B * dmax, f, alloc);
    w->colsum = hf_take(&b, (size_t)dmax, f, alloc);
    if (g->nconv) {
        size_t hw0 = (size_t)g->h[0] * g->w[0], hw1 = (size_t)g->h[1] * g->w[1],
               hw2 = (size_t)g->h[2] * g->w[2];
        /* sub-batches: an im2col of at most CONV_COLS_FLOATS (or one sample), never
         * more than the batch.  They depend on the geometry only, so a batch is cut
         * the same way in every work space (results do not depend on max_batch). */
        size_t nc[2] = {(size_t)g->c[0] * KK * hw0, (size_t)g->c[1] * KK * hw1};
        size_t no[2] = {(size_t)g->c[1] * hw0, (size_t)g->c[2] * hw1};
        size_t ncols = 0, nconv = 0;
        /* the direct conv1 needs no im2col, and runs a sample at a time (its
         * output stays in L2; its bits do not depend on the sub-batches) */
        w->direct1 = m->cfg.conv == HF_CONV_FAST && g->c[0] == 1;
        int wino2 = m->cfg.conv == HF_CONV_FAST && hf_wino_supported(KS, 1, g->c[1]);
        for (int l = 0; l < 2; l++) {
            if (l == 1 && wino2) continue;   /* no im2col: Winograd's sub-batch and scratch below */
            int direct = l == 0 && w->direct1;
            size_t sb = direct ? 1 : (size_t)hf_conv5_subbatch(g->c[l], g->h[l], g->w[l], g->c[l + 1]);
            if (sb > B) sb = B;
            w->sb[l] = (int)sb;
            if (!direct) ncols = HF_MAX(ncols, nc[l] * sb);
            nconv = HF_MAX(nconv, no[l] * sb);
        }
        if (w->direct1) {
            w->c1x = hf_take(&b, (size_t)hf_conv1_scratch(g->h[0], g->w[0], KS), f, alloc);
            w->c1acc = hf_take(&b, (size_t)hf_conv1_acc_floats(g->c[1], KS), f, alloc);
        }
        if (wino2) {   /* conv2: Winograd */
            hf_wino_t wg = conv2_wino(g, 1);
            size_t sb = HF_MIN((size_t)hf_wino_samples(&wg), B);
            w->sb[1] = (int)sb;
            nconv = HF_MAX(nconv, no[1] * sb);
            wg = conv2_wino(g, (int)sb);
            w->wino = hf_take(&b, hf_wino_scratch(&wg), f, alloc);
        }
        w->cols = hf_take(&b, ncols, f, alloc);
        w->conv = hf_take(&b, nconv, f, alloc);
        w->dconv = hf_take(&b, nconv, f, alloc);
        w->dpool1 = hf_take(&b, B * g->c[1] * hw1, f, alloc);
        w->pool1 = hf_take(&b, B * g->c[1] * hw1, f, alloc);
        w->pool2 = hf_take(&b, B * g->c[2] * hw2, f, alloc);
        w->arg1 = hf_take(&b, B * g->c[1] * hw1, sizeof(int), alloc);
        w->arg2 = hf_take(&b, B * g->c[2] * hw2, sizeof(int), alloc);
    }
    return b;
}

hf_work_t *hf_work_new(const hf_model_t *m, int max_batch)
{
    if (max_batch < 1) {
        hf_seterr(HF_EINPUT, "model: max batch must be >= 1 (got %d)", max_batch);
        return NULL;
    }
    hf_blas_init();
    hf_work_t *w = hf_calloc(1, sizeof *w);
    work_buffers(w, m, max_batch, 1);
    if (m->cfg.arch == HF_ARCH_LSTM) w->lstm = hf_lstm_work_new(m, max_batch);
    if (m->cfg.arch == HF_ARCH_RESNET) w->rn = hf_resnet_work_new(m);
    return w;
}

double hf_work_bytes(const hf_model_t *m, int max_batch, int train_batch)
{
    hf_work_t w;
    memset(&w, 0, sizeof w);
    double b = work_buffers(&w, m, HF_MAX(max_batch, 1), 0);
    if (m->cfg.arch == HF_ARCH_LSTM) b += hf_lstm_work_bytes(m, HF_MAX(max_batch, 1));
    if (m->cfg.arch == HF_ARCH_RESNET) b += hf_resnet_work_bytes(m, train_batch);
    return b;
}

void hf_work_free(hf_work_t *w)
{
    if (!w) return;
    for (int l = 0; l < MAX_DENSE; l++) free(w->act[l]);
    free(w->dbuf[0]);
    free(w->dbuf[1]);
    free(w->colsum);
    free(w->cols);
    free(w->conv);
    free(w->dconv);
    free(w->dpool1);
    free(w->pool1);
    free(w->pool2);
    free(w->arg1);
    free(w->c1x);
    free(w->c1acc);
    free(w->arg2);
    free(w->wino);
    hf_lstm_work_free(w->lstm);
    hf_resnet_work_free(w->rn);
    free(w);
}

/* ------------------------------------------------------------------------ */
/* Softmax cross-entropy                                                     */
/* ------------------------------------------------------------------------ */

double hf_softmax_xent(const float *z, int C, int n, long cs, long bs, const int *y, float *dz,
                       float *loss, int *ncorrect)
{
    double sum = 0;
    int nc = 0;
    for (int b = 0; b < n; b++) {
        const float *zb = z + b * bs;
        float mx = zb[0];
        int am = 0;
        for (int c = 1; c < C; c++)
            if (zb[c * cs] > mx) { mx = zb[c * cs]; am = c; }
        int t = y ? y[b] : -1;
        int valid = y && t >= 0 && t < C;
        float s = 0;
        if (dz && valid) {
            float *db = dz + b * bs;
            for (int c = 0; c < C; c++) { db[c * cs] = expf(zb[c * cs] - mx); s += db[c * cs]; }
            float inv = 1.0f / s;
            for (int c = 0; c < C; c++) db[c * cs] *= inv;
            db[t * cs] -= 1.0f;
        } else {
            for (int c = 0; c < C; c++) s += expf(zb[c * cs] - mx);
            if (dz)
                for (int c = 0; c < C; c++) dz[b * bs + c * cs] = 0.0f;
        }
        if (y) {
            float l = valid ? logf(s) - (zb[t * cs] - mx) : NAN;
            if (loss) loss[b] = l;
            sum += l;
            nc += valid && am == t;
        }
    }
    if (ncorrect) *ncorrect += nc;
    return sum;
}

/* KL(softmax(zt/T) ‖ softmax(z/T)) per sample, both (n, C) batch-major;
 * dz = (softmax(z/T) − softmax(zt/T))/T (its gradient w.r.t. z, NOT divided by n).
 * Double-precision log-sum-exp per row.  Returns the summed divergence. */
double hf_softmax_kl(const float *z, const float *zt, int C, int n, float T, float *dz)
{
    double sum = 0.0, inv = 1.0 / (double)T;
    for (int b = 0; b < n; b++) {
        const float *zs = z + (long)b * C, *zb = zt + (long)b * C;
        double ms = zs[0], mt = zb[0], ss = 0.0, st = 0.0;
        for (int c = 1; c < C; c++) {
            if (zs[c] > ms) ms = zs[c];
            if (zb[c] > mt) mt = zb[c];
        }
        for (int c = 0; c < C; c++) {
            ss += exp(((double)zs[c] - ms) * inv);
            st += exp(((double)zb[c] - mt) * inv);
        }
        double lss = log(ss), lst = log(st), kl = 0.0;
        for (int c = 0; c < C; c++) {
            double ls = ((double)zs[c] - ms) * inv - lss, lt = ((double)zb[c] - mt) * inv - lst;
            double pt = exp(lt);
            kl += pt * (lt - ls);
            if (dz) dz[(long)b * C + c] = (float)((exp(ls) - pt) * inv);
        }
        sum += kl;
    }
    return sum;
}

/* ------------------------------------------------------------------------ */
/* sgemm calls split for OpenBLAS's small-matrix kernels                    */
/* ------------------------------------------------------------------------ */

/* Balanced chunk count for splitting n into pieces of at most c. */
static int chunk_of(int n, long c, int align)
{
    int pieces = (int)((n + c - 1) / c);
    int ch = (n + pieces - 1) / pieces;
    if (align > 1 && ch > align) ch = (ch + align - 1) / align * align;
    if ((long)ch > c) ch = (int)c;
    return ch;
}

/* Z (B,out) += A (B,in) · Wᵀ  (W is (out,in)); split along out. */
void hf_gemm_fwd(int B, int out, int in, const float *A, const float *W, float *Z)
{
    long c = 0;
    int is_small = (double)B * out * in <= SMALL_MNK && (long)B * out <= SMALL_TN_MN;
    if (blas_small && in >= SMALL_TN_MINK && !is_small) {
        c = HF_MIN((long)(SMALL_MNK / ((double)B * in)), SMALL_TN_MN / B);
        if (c < 4 || c * in < 7000) c = 0;
    }
    int ch = c ? chunk_of(out, c, 1) : out;
    for (int j = 0; j < out; j += ch)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, HF_MIN(ch, out - j), in, 1.0f, A, in,
                    W + (long)j * in, in, 1.0f, Z + j, out);
}

/* The most rows of dW a call computes when n of its columns are split for
 * the small kernels; 0: one call. */
static long dw_rows(int B, int out, int n)
{
    long c = 0;
    if (blas_small && (double)B * out * n > SMALL_MNK) {
        c = (long)(SMALL_MNK / ((double)B * n));
        if (c < 10) c = 0;
    }
    return c;
}

/* Columns [j0, j0 + n) of dW (out,in) = alpha · dZᵀ (out,B) · A (B,in) + beta · dW;
 * split along out where the small kernels take the pieces. */
static void gemm_dw(int B, int out, int in, int j0, int n, float alpha, const float *dZ, const float *A, float beta,
                    float *dW)
{
    long c = dw_rows(B, out, n);
    int ch = c ? chunk_of(out, c, 1) : out;
    for (int i = 0; i < out; i += ch)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, HF_MIN(ch, out - i), n, B, alpha, dZ + i, out,
                    A + j0, in, beta, dW + (long)i * in + j0, in);
}

/* The columns of dA a call of hf_gemm_da computes at a time: in where it
 * makes one call. */
static int da_columns(int B, int out, int in)
{
    long c = 0;
    if (blas_small && (double)B * out * in > SMALL_MNK) {
        c = (long)(SMALL_MNK / ((double)B * out));
        /* measured on one core (Cooperlake kernels, packed vs split): c = 97
         * (the lstm's dh at B = 10: 1024 → 256) 1.8x faster, c = 83–97 1.0–1.3x
         * on other shapes, c = 78 0.95–1.06x, c = 61 0.79x */
        if (c < 90) c = 0;
    }
    return c ? chunk_of(in, c, 16) : in;
}

/* Columns [j0, j0 + n) of dA (B,in) = dZ (B,out) · W (out,in). */
static void gemm_da_columns(int B, int out, int in, int j0, int n, const float *dZ, const float *W, float *dA)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, n, out, 1.0f, dZ, out, W + j0, in, 0.0f, dA + j0, in);
}

/* dA (B,in) = dZ (B,out) · W (out,in); split along in. */
void hf_gemm_da(int B, int out, int in, const float *dZ, const float *W, float *dA)
{
    int ch = da_columns(B, out, in);
    for (int j = 0; j < in; j += ch) gemm_da_columns(B, out, in, j, HF_MIN(ch, in - j), dZ, W, dA);
}

/* dA = dZ · W, then dW = alpha · dZᵀ · A + beta · dW (W may be dW: the fused
 * update).  Where both are split for the small kernels (dA along in, dW
 * along out), a wide layer's dW goes column block by column block right
 * after dA's block: the block of W dA has just read is still in L2 when its
 * update reads and writes it, one pass over W instead of two.  Measured on
 * the CNN's fc1 (3136 x 512) at B = 10, Cooperlake kernels, the fused
 * training step: the update's sgemms 101 -> 129-139 GFLOP/s, the step 1.03x
 * (the median of 16 alternating pairs; quartiles 0.95-1.11).  dA's calls are
 * hf_gemm_da's and dW's are calls of the same small kernel on fewer columns
 * (every element one dot product over B, as before): the same bits. */
static void gemm_da_dw(int B, int out, int in, const float *dZ, const float *W, float *dA, float alpha,
                       const float *A, float beta, float *dW)
{
    int ch = dA ? da_columns(B, out, in) : in;
    if (dA && ch < in && dw_rows(B, out, in) > 0) {
        for (int j = 0; j < in; j += ch) {
            int n = HF_MIN(ch, in - j);
            gemm_da_columns(B, out, in, j, n, dZ, W, dA);
            gemm_dw(B, out, in, j, n, alpha, dZ, A, beta, dW);
        }
        return;
    }
    if (dA) hf_gemm_da(B, out, in, dZ, W, dA);
    gemm_dw(B, out, in, 0, in, alpha, dZ, A, beta, dW);
}

/* ------------------------------------------------------------------------ */
/* Dense layers (batch-major activations)                                    */
/* ------------------------------------------------------------------------ */

/* Z (B,out) = A (B,in) · Wᵀ + b, then ReLU in place if relu. */
static void dense_forward(int in, int out, int B, const float *W, const float *bias, const float *a,
                          float *z, int relu)
{
    for (int j = 0; j < B; j++) memcpy(z + (long)j * out, bias, sizeof(float) * out);
    hf_gemm_fwd(B, out, in, a, W, z);
    if (relu) relu_inplace((long)out * B, z);
}

/* Where dense weight gradients go: dst = beta·dst + alpha·Σ_samples (per-sample gradient).
 *   gradient:       dst = grad,   alpha = 1/B,   beta = 0
 *   fused SGD:      dst = params, alpha = -lr/B, beta = 1 - lr*wd
 *   fused momentum: dst = mom,    alpha = 1/B,   beta = momentum; then per layer
 *                   mom += wd*params; params -= lr*mom  (params != NULL) */
typedef struct {
    float *dst;
    float alpha, beta;
    float *params;
    float lr, wd;
} sink_t;

/* Backward of one dense layer.  dz (B,out) = B·dL/dZ.  If da != NULL, first
 * (W still unchanged; it may alias the sink) da (B,in) = dz · W.  Then dW
 * (out,in) and db (out) into the sink at offsets ow/ob; colsum: out floats. */
static void dense_backward(int in, int out, int B, const float *W, const float *a, const float *dz,
                           float *da, const sink_t *sk, long ow, long ob, float *colsum)
{
    gemm_da_dw(B, out, in, dz, W, da, sk->alpha, a, sk->beta, sk->dst + ow);
    memcpy(colsum, dz, sizeof(float) * out);
    for (int j = 1; j < B; j++) vec_add(out, colsum, dz + (long)j * out);
    float *db = sk->dst + ob;
    if (sk->beta == 0.0f)
        for (int o = 0; o < out; o++) db[o] = sk->alpha * colsum[o];
    else
        for (int o = 0; o < out; o++) db[o] = sk->beta * db[o] + sk->alpha * colsum[o];
    if (sk->params) {
        mom_apply((long)out * in, sk->params + ow, sk->dst + ow, sk->lr, sk->wd);
        mom_apply(out, sk->params + ob, sk->dst + ob, sk->lr, sk->wd);
    }
}

/* ------------------------------------------------------------------------ */
/* Convolution and pooling                                                   */
/* ------------------------------------------------------------------------ */

/* Range [*x0,*x1) of output columns ox whose input column ox+dx lies in [0,w). */
static inline void valid_range(int w, int dx, int *x0, int *x1)
{
    int a = dx < 0 ? -dx : 0, b = dx > 0 ? w - dx : w;
    if (a > w) a = w;
    if (b < a) b = a;
    *x0 = a;
    *x1 = b;
}

/* One im2col row is the input plane shifted by (dy,dx) with zeros outside:
 * row[oy*w + ox] = plane[(oy+dy)*w + ox+dx].  For the rows oy whose input row
 * exists, that is ONE linear copy of the plane at offset dy*w + dx, after
 * which the |dx| columns that wrapped into the neighbouring row are zeroed.
 * shift_span() gives the linear output range [*lo,*hi) of that copy, clipped
 * so that the source stays inside the plane (the clipped ends are wrapped
 * columns, zeroed anyway). */
static inline void shift_span(int h, int w, int dy, int dx, long *lo, long *hi)
{
    int oy0 = dy < 0 ? -dy : 0, oy1 = dy > 0 ? h - dy : h;
    if (oy0 > h) oy0 = h;
    if (oy1 < oy0) oy1 = oy0;
    long l = (long)oy0 * w, u = (long)oy1 * w, off = (long)dy * w + dx, n = (long)h * w;
    if (l + off < 0) l = -off;
    if (u + off > n) u = n - off;
    if (u < l) {   /* nothing to copy (plane smaller than the shift) */
        l = l < 0 ? 0 : l > n ? n : l;
        u = l;
    }
    *lo = l;
    *hi = u;
}

/* Zero the output columns outside [x0,x1) in every row of an (h,w) row (one
 * side only is ever cut: x0 > 0 or x1 < w).  Up to 2 columns (padding <= 2)
 * by explicit stores, because GCC turns the two short loops into a memset
 * call per row, and those calls took most of im2col5's time (perf, conv2:
 * 800 rows of 14 a sample). */
static inline void zero_cols(float *row, int h, int w, int x0, int x1)
{
    int nl = x0, nr = w - x1;
    if (nl == 0 && nr == 0) return;
    if (nl > 2 || nr > 2) {
        for (int oy = 0; oy < h; oy++) {
            float *r = row + (long)oy * w;
            for (int ox = 0; ox < x0; ox++) r[ox] = 0.0f;
            for (int ox = x1; ox < w; ox++) r[ox] = 0.0f;
        }
        return;
    }
    for (int oy = 0; oy < h; oy++) {
        float *r = row + (long)oy * w, *e = r + w;
        if (nl > 0) r[0] = 0.0f;
        if (nl > 1) r[1] = 0.0f;
        if (nr > 0) e[-1] = 0.0f;
        if (nr > 1) e[-2] = 0.0f;
    }
}

void hf_im2col_same(const float *in, int cin, int h, int w, int k, int pad, float *cols, long ld)
{
    long hw = (long)h * w;
    for (int ci = 0; ci < cin; ci++) {
        const float *plane = in + ci * hw;
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                float *row = cols + ((long)(ci * k + ky) * k + kx) * ld;
                int dy = ky - pad, dx = kx - pad, x0, x1;
                long lo, hi, off = (long)dy * w + dx;
                valid_range(w, dx, &x0, &x1);
                shift_span(h, w, dy, dx, &lo, &hi);
                memset(row, 0, sizeof(float) * lo);
                memcpy(row + lo, plane + lo + off, sizeof(float) * (hi - lo));
                memset(row + hi, 0, sizeof(float) * (hw - hi));
                zero_cols(row, h, w, x0, x1);
            }
    }
}

/* The 5x5 'same' im2col of the CNN: cols (cin*25, h*w), row stride ld. */
static void im2col5(const float *in, int cin, int h, int w, float *cols, long ld)
{
    hf_im2col_same(in, cin, h, w, KS, PAD, cols, ld);
}

void hf_col2im_same(float *cols, int cin, int h, int w, int k, int pad, float *din, long ld)
{
    long hw = (long)h * w;
    for (int ci = 0; ci < cin; ci++) {
        float *plane = din + ci * hw;
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                float *row = cols + ((long)(ci * k + ky) * k + kx) * ld;
                int dy = ky - pad, dx = kx - pad, x0, x1;
                long lo, hi, off = (long)dy * w + dx;
                valid_range(w, dx, &x0, &x1);
                shift_span(h, w, dy, dx, &lo, &hi);
                zero_cols(row, h, w, x0, x1);
                vec_add(hi - lo, plane + lo + off, row + lo);
            }
    }
}

/* Adjoint of im2col5 (same ld): din (cin,h,w) = Σ over cols entries that read
 * each pixel.  Destroys cols. */
static void col2im5(float *cols, int cin, int h, int w, float *din, long ld)
{
    memset(din, 0, sizeof(float) * cin * (long)h * w);
    hf_col2im_same(cols, cin, h, w, KS, PAD, din, ld);
}

void hf_conv5_forward(const float *in, int cin, int h, int w, const float *weight, const float *bias,
                      int cout, float *out, float *cols)
{
    long hw = (long)h * w;
    for (int co = 0; co < cout; co++) {
        float bo = bias[co];
        float *o = out + co * hw;
        for (long i = 0; i < hw; i++) o[i] = bo;
    }
    im2col5(in, cin, h, w, cols, hw);
    /* out (cout, hw) += weight (cout, cin*25) · cols (cin*25, hw) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cout, (int)hw, cin * KK, 1.0f, weight,
                cin * KK, cols, (int)hw, 1.0f, out, (int)hw);
}

/* hf_pool2_forward with channel ch's plane at in + ch*cs (cs >= h*w); argmax
 * indices are relative to in (ch*cs + position). */
static void pool2_strided(const float *in, int c, int h, int w, long cs, int relu, float *out, int *argmax)
{
    int ph = h / 2, pw = w / 2;
    float lo = relu ? 0.0f : -INFINITY;
    for (int ch = 0; ch < c; ch++)
        for (int py = 0; py < ph; py++) {
            const float *r0 = in + (long)ch * cs + (long)(2 * py) * w, *r1 = r0 + w;
            int base = (int)(r0 - in);
            float *o = out + ((long)ch * ph + py) * pw;
            int *ai = argmax + ((long)ch * ph + py) * pw;
            for (int px = 0; px < pw; px++) {
                /* tournament on the 2x2 window; on ties the earlier element
                 * (row-major) wins.  Comparisons feed integer arithmetic so
                 * that GCC emits maxss/setcc instead of unpredictable branches. */
                int x = 2 * px;
                float a = r0[x], b = r0[x + 1], cc = r1[x], d = r1[x + 1];
                int s0 = b > a, s1 = d > cc;
                float m0 = b > a ? b : a, m1 = d > cc ? d : cc;
                int s = m1 > m0;
                float mx = m1 > m0 ? m1 : m0;
                int i0 = x + s0, i1 = w + x + s1;
                int im = i0 + s * (i1 - i0);
                o[px] = mx > lo ? mx : lo;
                ai[px] = base + im;
            }
        }
}

void hf_pool2_forward(const float *in, int c, int h, int w, int relu, float *out, int *argmax)
{
    pool2_strided(in, c, h, w, (long)h * w, relu, out, argmax);
}

/* Samples per sub-batch: as many as keep the im2col within CONV_COLS_FLOATS
 * (at least one); where OpenBLAS has small-matrix kernels (blas_small), no
 * more than keep the forward sgemm (cout, n*h*w, cin*25) within their
 * M*N*K <= SMALL_MNK.  Measured with the Cooperlake kernels (bench kernels,
 * thread CPU time): conv1 of the McMahan CNN (32 x 784 x 25 a sample) at
 * 77 GFLOP/s one sample a sgemm, 54-56 with 2-6 (the packed path); with the
 * Haswell kernels (no small kernels) 47-49 GFLOP/s at 1-8 samples. */
int hf_conv5_subbatch(int cin, int h, int w, int cout)
{
    hf_blas_init();
    size_t n = (size_t)cin * KK * (size_t)h * (size_t)w;
    size_t sb = HF_MIN((size_t)1 << 20, HF_MAX((size_t)1, CONV_COLS_FLOATS / n));
    double mnk = (double)n * HF_MAX(cout, 1);
    if (blas_small && mnk <= SMALL_MNK) sb = HF_MIN(sb, (size_t)(SMALL_MNK / mnk));
    return (int)sb;
}

/* Batched 'same' 5x5 convolution of n samples (the sub-batch layout).
 * in: n samples of (cin,h,w), sample stride in_stride;
 * out (cout, n*hw): channel co of sample s at out[co*n*hw + s*hw];
 * cols: cin*25 x n*hw floats.  One im2col per sample into a shared matrix, then
 * ONE sgemm out = W (cout, cin*25) · cols (cin*25, n*hw), bias pre-filled. */
void hf_conv5_forward_batch(const float *in, long in_stride, int n, int cin, int h, int w,
                            const float *weight, const float *bias, int cout, float *out, float *cols)
{
    long hw = (long)h * w, N = hw * n;
    for (int co = 0; co < cout; co++) {
        float bo = bias[co], *o = out + co * N;
        for (long i = 0; i < N; i++) o[i] = bo;
    }
    for (int s = 0; s < n; s++) im2col5(in + s * in_stride, cin, h, w, cols + s * hw, N);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cout, (int)N, cin * KK, 1.0f, weight, cin * KK,
                cols, (int)N, 1.0f, out, (int)N);
}

/* sm[j] = Σ_i rows[j*N + i] for j < nl <= ROWSUM_LANES, each row summed
 * from i = 0 upwards (a plain left-to-right sum).  The rows' additions are
 * interleaved: one row's sum is a chain of dependent additions, limited by
 * the adder's latency, and ROWSUM_LANES independent chains keep the adders
 * busy (conv1's bias gradient, 32 rows of n*784, took longer than its sgemm). */
#define ROWSUM_LANES 8
static void row_sums(const float *rows, long N, int nl, float *sm)
{
    float acc[ROWSUM_LANES] = {0};
    if (nl == ROWSUM_LANES) {
        for (long i = 0; i < N; i++)
            for (int j = 0; j < ROWSUM_LANES; j++) acc[j] += rows[j * N + i];
    } else {
        for (int j = 0; j < nl; j++)
            for (long i = 0; i < N; i++) acc[j] += rows[j * N + i];
    }
    for (int j = 0; j < nl; j++) sm[j] = acc[j];
}

/* dbias (cout) = alpha·(row sums of dout (cout, N)) + beta·dbias. */
static void bias_grad(const float *dout, long N, int cout, float alpha, float beta, float *dbias)
{
    for (int o0 = 0; o0 < cout; o0 += ROWSUM_LANES) {
        float sm[ROWSUM_LANES];
        int nl = HF_MIN(ROWSUM_LANES, cout - o0);
        row_sums(dout + (long)o0 * N, N, nl, sm);
        for (int j = 0; j < nl; j++) {
            int o = o0 + j;
            dbias[o] = beta == 0.0f ? alpha * sm[j] : beta * dbias[o] + alpha * sm[j];   /* never read at beta = 0 */
        }
    }
}

/* conv2 with model.conv = fast: hf_conv5_forward_batch's results (the bias
 * pre-filled, then Winograd adds the convolution) ... */
static void conv2_fast_forward(const geom_t *g, int n, const float *in, const float *weight, const float *bias,
                               float *out, float *wino)
{
    long N = (long)n * g->h[1] * g->w[1];
    for (int co = 0; co < g->c[2]; co++)
        for (long i = 0; i < N; i++) out[co * N + i] = bias[co];
    hf_wino_t wg = conv2_wino(g, n);
    hf_wino_forward(&wg, weight, in, out, 1, wino);
}

/* ... and hf_conv5_backward_batch's: dW = alpha·grad + beta·dW (beta 0 or
 * 1), db likewise, din (n samples of (cin,h,w), batch-major) = the input
 * gradient. */
static void conv2_fast_backward(const geom_t *g, int n, const float *in, const float *weight, const float *dout,
                                float alpha, float beta, float *dweight, float *dbias, float *din, float *wino,
                                int kept)
{
    long hw = (long)g->h[1] * g->w[1], nin = (long)g->c[1] * hw;
    if (beta == 0.0f) memset(dweight, 0, sizeof(float) * g->c[2] * g->c[1] * KK);
    memset(din, 0, sizeof(float) * n * nin);
    hf_wino_t wg = conv2_wino(g, n);
    hf_wino_backward(&wg, weight, in, dout, alpha, dweight, din, nin, wino, kept);
    bias_grad(dout, n * hw, g->c[2], alpha, beta, dbias);
}

/* Backward of hf_conv5_forward_batch.  dout (cout, n*hw) as out; cols must
 * hold the forward's im2col of `in` (recomputed here when recompute != 0).
 * dW (cout, cin*25) = alpha·dout·colsᵀ + beta·dW; db (cout) = alpha·rowsums + beta·db;
 * din (may be NULL): n samples of (cin,h,w) at stride din_stride; cols is destroyed. */
void hf_conv5_backward_batch(const float *in, long in_stride, int n, int cin, int h, int w,
                             const float *weight, int cout, const float *dout, float alpha, float beta,
                             float *dweight, float *dbias, float *din, long din_stride, float *cols,
                             int recompute)
{
    long hw = (long)h * w, N = hw * n;
    int K = cin * KK;
    if (recompute)
        for (int s = 0; s < n; s++) im2col5(in + s * in_stride, cin, h, w, cols + s * hw, N);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, cout, K, (int)N, alpha, dout, (int)N, cols, (int)N,
                beta, dweight, K);
    bias_grad(dout, N, cout, alpha, beta, dbias);
    if (!din) return;
    /* dcols (K, n*hw) = Wᵀ · dout, then col2im per sample */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, (int)N, cout, 1.0f, weight, K, dout, (int)N, 0.0f,
                cols, (int)N);
    for (int s = 0; s < n; s++) col2im5(cols + s * hw, cin, h, w, din + s * din_stride, N);
}

/* Conv stack of the CNN for samples [0,B): x (B, c0,h0,w0) -> pool2 (B, c2*h2*w2).
 * Each conv layer runs on sub-batches of w->sb[l] samples (one sgemm each). */
static void cnn_forward(const hf_model_t *m, hf_work_t *w, const float *params, const float *x, int B)
{
    const geom_t *g = &w->g;
    const hf_tensor_t *T = m->tensors;
    long n0 = (long)g->c[0] * g->h[0] * g->w[0], n1 = (long)g->c[1] * g->h[1] * g->w[1],
         n2 = (long)g->c[2] * g->h[2] * g->w[2];
    long hw0 = (long)g->h[0] * g->w[0], hw1 = (long)g->h[1] * g->w[1];
    for (int s0 = 0; s0 < B; s0 += w->sb[0]) {
        int n = HF_MIN(w->sb[0], B - s0);
        if (w->direct1)
            hf_conv1_forward(x + s0 * n0, n0, n, g->h[0], g->w[0], KS, params + T[0].off, params + T[1].off,
                             g->c[1], w->conv, n * hw0, w->c1x);
        else
            hf_conv5_forward_batch(x + s0 * n0, n0, n, g->c[0], g->h[0], g->w[0], params + T[0].off,
                                   params + T[1].off, g->c[1], w->conv, w->cols);
        for (int s = 0; s < n; s++)
            pool2_strided(w->conv + s * hw0, g->c[1], g->h[0], g->w[0], n * hw0, 1, w->pool1 + (s0 + s) * n1,
                          w->arg1 + (s0 + s) * n1);
    }
    w->wino_kept = B <= w->sb[1];   /* one sub-batch: the backward's is the same */
    for (int s0 = 0; s0 < B; s0 += w->sb[1]) {
        int n = HF_MIN(w->sb[1], B - s0);
        if (w->wino)
            conv2_fast_forward(g, n, w->pool1 + s0 * n1, params + T[2].off, params + T[3].off, w->conv, w->wino);
        else
            hf_conv5_forward_batch(w->pool1 + s0 * n1, n1, n, g->c[1], g->h[1], g->w[1], params + T[2].off,
                                   params + T[3].off, g->c[2], w->conv, w->cols);
        for (int s = 0; s < n; s++)
            pool2_strided(w->conv + s * hw1, g->c[2], g->h[1], g->w[1], n * hw1, 1, w->pool2 + (s0 + s) * n2,
                          w->arg2 + (s0 + s) * n2);
    }
}

/* Un-pool one sample: d (c, n*hw layout, sample offset applied by the caller's
 * pointer) gets dp[i] at argmax position a[i] (ch*cs + pos) where the pooled
 * output p[i] > 0 (ReLU mask). */
static void unpool(float *d, const float *p, const float *dp, const int *a, long npool)
{
    for (long i = 0; i < npool; i++) d[a[i]] = p[i] > 0.0f ? dp[i] : 0.0f;
}

/* Backward of the conv stack.  dx2 (B, c2*h2*w2) = dL/d(pool2)·B from fc1.
 * Gradients of conv1/conv2 go to grad (alpha = 1/B, summed over samples). */
static void cnn_backward(const hf_model_t *m, hf_work_t *w, const float *params, float *grad,
                         const float *x, const float *dx2, int B)
{
    const geom_t *g = &w->g;
    const hf_tensor_t *T = m->tensors;
    int c0 = g->c[0], c1 = g->c[1], c2 = g->c[2];
    long hw0 = (long)g->h[0] * g->w[0], hw1 = (long)g->h[1] * g->w[1];
    long n0 = c0 * hw0, n1 = c1 * hw1, n2 = (long)c2 * g->h[2] * g->w[2];
    float alpha = 1.0f / B;
    float *dw1 = grad + T[0].off, *db1 = grad + T[1].off, *dw2 = grad + T[2].off, *db2 = grad + T[3].off;
    const float *w2 = params + T[2].off;
    for (int s0 = 0; s0 < B; s0 += w->sb[1]) {
        int n = HF_MIN(w->sb[1], B - s0);
        /* un-pool 2: dconv (c2, n*hw1) */
        memset(w->dconv, 0, sizeof(float) * c2 * n * hw1);
        for (int s = 0; s < n; s++)
            unpool(w->dconv + s * hw1, w->pool2 + (s0 + s) * n2, dx2 + (s0 + s) * n2, w->arg2 + (s0 + s) * n2, n2);
        /* conv2: dW2, db2, and dpool1 of these samples */
        if (w->wino)
            conv2_fast_backward(g, n, w->pool1 + s0 * n1, w2, w->dconv, alpha, s0 ? 1.0f : 0.0f, dw2, db2,
                                w->dpool1 + s0 * n1, w->wino, w->wino_kept);
        else
            hf_conv5_backward_batch(w->pool1 + s0 * n1, n1, n, c1, g->h[1], g->w[1], w2, c2, w->dconv, alpha,
                                    s0 ? 1.0f : 0.0f, dw2, db2, w->dpool1 + s0 * n1, n1, w->cols, 1);
    }
    w->wino_kept = 0;   /* used once */
    for (int s0 = 0; s0 < B; s0 += w->sb[0]) {
        int n = HF_MIN(w->sb[0], B - s0);
        /* un-pool 1: dconv (c1, n*hw0) */
        memset(w->dconv, 0, sizeof(float) * c1 * n * hw0);
        for (int s = 0; s < n; s++)
            unpool(w->dconv + s * hw0, w->pool1 + (s0 + s) * n1, w->dpool1 + (s0 + s) * n1, w->arg1 + (s0 + s) * n1,
                   n1);
        /* conv1: dW1, db1 (no input gradient) */
        if (w->direct1) {
            if (s0 == 0) memset(w->c1acc, 0, sizeof(float) * hf_conv1_acc_floats(c1, KS));
            hf_conv1_grad_acc(x + s0 * n0, n0, n, g->h[0], g->w[0], KS, c1, w->dconv, n * hw0, w->c1acc, w->c1x);
        } else {
            hf_conv5_backward_batch(x + s0 * n0, n0, n, c0, g->h[0], g->w[0], params + T[0].off, c1, w->dconv,
                                    alpha, s0 ? 1.0f : 0.0f, dw1, db1, NULL, 0, w->cols, 1);
        }
    }
    if (w->direct1) hf_conv1_grad_finish(w->c1acc, c1, KS, alpha, dw1, db1);
}

/* ------------------------------------------------------------------------ */
/* Model forward / backward                                                  */
/* ------------------------------------------------------------------------ */

/* Forward of B <= max_batch samples; leaves logits (B,C) in act[ndense-1]. */
static void model_forward(const hf_model_t *m, hf_work_t *w, const float *params, const float *x, int B)
{
    const geom_t *g = &w->g;
    const float *a = x;
    if (w->lstm) {
        hf_lstm_forward(m, w->lstm, params, x, B, w->act[0]);
        return;
    }
    if (g->nconv) {
        cnn_forward(m, w, params, x, B);
        a = w->pool2;
    }
    for (int l = 0; l < g->ndense; l++) {
        const hf_tensor_t *T = &m->tensors[g->t0 + 2 * l];
        dense_forward(g->d[l], g->d[l + 1], B, params + T[0].off, params + T[1].off, a, w->act[l],
                      l < g->ndense - 1);
        a = w->act[l];
    }
}

/* Forward + backward of B samples; dense-layer gradients go to the sink,
 * conv-layer gradients to grad (alpha = 1/B).  Returns the mean loss. */
static float model_step(const hf_model_t *m, hf_work_t *w, const float *params, const sink_t *sk,
                        float *grad, const float *x, const int *y, const float *zt, float T, int B)
{
    if (w->lstm) return hf_lstm_step(m, w->lstm, params, grad, x, y, zt, T, B);
    const geom_t *g = &w->g;
    int L = g->ndense, C = g->d[L];
    model_forward(m, w, params, x, B);
    float *dz = w->dbuf[0], *da = w->dbuf[1];
    double sum = zt ? hf_softmax_kl(w->act[L - 1], zt, C, B, T, dz)  /* soft targets (distillation) */
                    : hf_softmax_xent(w->act[L - 1], C, B, 1, C, y, dz, NULL, NULL);
    if (w->qw && !zt)  /* weighted loss Σ_b q_b ℓ_b / B: row b of dL/dz times q_b */
        for (int b = 0; b < B; b++)
            for (int c = 0; c < C; c++) dz[(long)b * C + c] *= w->qw[b];
    for (int l = L - 1; l >= 0; l--) {
        const hf_tensor_t *T = &m->tensors[g->t0 + 2 * l];
        int in = g->d[l], out = g->d[l + 1];
        const float *a = l ? w->act[l - 1] : g->nconv ? w->pool2 : x;
        int need_da = l > 0 || g->nconv;   /* no input gradient for the MLP's first layer */
        dense_backward(in, out, B, params + T[0].off, a, dz, need_da ? da : NULL, sk, T[0].off, T[1].off,
                       w->colsum);
        if (l > 0) relu_mask((long)in * B, da, w->act[l - 1]);
        float *t = dz;
        dz = da;
        da = t;
    }
    /* dz now holds d(loss)/d(pool2)·B for the CNN */
    if (g->nconv) cnn_backward(m, w, params, grad, x, dz, B);
    return (float)(sum / B);
}

static int batch_ok(const hf_work_t *w, int B)
{
    if (B >= 1 && B <= w->max_batch) return 1;
    hf_seterr(HF_EINPUT, "model: batch %d outside [1,%d]", B, w->max_batch);
    return 0;
}

float hf_model_train_step_grad(const hf_model_t *m, hf_work_t *w, const float *params, float *grad,
                               const float *x, const int *y, int B)
{
    if (!batch_ok(w, B)) return NAN;
    if (w->rn) return hf_resnet_step(m, w->rn, params, grad, x, y, NULL, 1.0f, B);
    sink_t sk = {grad, 1.0f / B, 0.0f, NULL, 0.0f, 0.0f};
    return model_step(m, w, params, &sk, grad, x, y, NULL, 1.0f, B);
}

float hf_model_train_step_soft(const hf_model_t *m, hf_work_t *w, const float *params, float *grad,
                               const float *x, const float *zt, float T, int B)
{
    if (!batch_ok(w, B) || !(T > 0.0f)) return NAN;
    if (w->rn) return hf_resnet_step(m, w->rn, params, grad, x, NULL, zt, T, B);
    sink_t sk = {grad, 1.0f / B, 0.0f, NULL, 0.0f, 0.0f};
    return model_step(m, w, params, &sk, grad, x, NULL, zt, T, B);
}

float hf_model_train_step(const hf_model_t *m, hf_work_t *w, const hf_sgd_t *o, float *params,
                          float *grad, float *mom, const float *x, const int *y, int B)
{
    if (!batch_ok(w, B)) return NAN;
    if (o->clip > 0.0f || w->lstm || w->rn) {
        /* clipping needs the global norm of the whole gradient first; the lstm
         * and the resnet have no fused update */
        float l = hf_model_train_step_grad(m, w, params, grad, x, y, B);
        hf_sgd_step(o, m->nparams, params, grad, mom);
        return l;
    }
    sink_t sk;
    if (o->momentum == 0.0f)
        sk = (sink_t){params, -o->lr / B, 1.0f - o->lr * o->weight_decay, NULL, 0.0f, 0.0f};
    else
        sk = (sink_t){mom, 1.0f / B, o->momentum, params, o->lr, o->weight_decay};
    float l = model_step(m, w, params, &sk, grad, x, y, NULL, 1.0f, B);
    /* conv tensors (a prefix of the buffer) got plain gradients in grad */
    if (w->g.nconv) hf_sgd_step(o, m->tensors[w->g.t0].off, params, grad, mom);
    return l;
}

void hf_work_sample_weights(hf_work_t *w, const float *q) { w->qw = q; }

int hf_model_feature_dim(const hf_model_t *m)
{
    geom_t g;
    geom_of(&m->cfg, &g);
    return g.d[g.ndense - 1];
}

void hf_model_features(const hf_model_t *m, hf_work_t *w, const float *params, const float *x, int B,
                       float *feat, float *logits)
{
    const geom_t *g = &w->g;
    int L = g->ndense, D = g->d[L - 1], C = g->d[L];
    for (int s0 = 0; s0 < B; s0 += w->max_batch) {
        int n = HF_MIN(w->max_batch, B - s0);
        model_forward(m, w, params, x + (long)s0 * m->in_dim, n);
        const float *f = L > 1 ? w->act[L - 2] : g->nconv ? w->pool2 : x + (long)s0 * m->in_dim;
        memcpy(feat + (long)s0 * D, f, sizeof(float) * (size_t)n * (size_t)D);
        if (logits) memcpy(logits + (long)s0 * C, w->act[L - 1], sizeof(float) * (size_t)n * (size_t)C);
    }
}

void hf_model_norm_stats(const hf_model_t *m, hf_work_t *w, const float *params, const float *x, long n,
                         int chunk)
{
    if (w->rn) hf_resnet_norm_stats(m, w->rn, params, x, n, chunk);
}

int hf_model_forward(const hf_model_t *m, hf_work_t *w, const float *params, const float *x,
                     const int *y, int B, float *logits, float *loss)
{
    if (w->rn) return hf_resnet_forward(m, w->rn, params, x, y, B, logits, loss);
    int C = w->g.d[w->g.ndense], nc = 0;
    for (int s0 = 0; s0 < B; s0 += w->max_batch) {
        int n = HF_MIN(w->max_batch, B - s0);
        model_forward(m, w, params, x + (long)s0 * m->in_dim, n);
        const float *z = w->act[w->g.ndense - 1];   /* (n, C) */
        if (logits) memcpy(logits + (long)s0 * C, z, sizeof(float) * n * C);
        hf_softmax_xent(z, C, n, 1, C, y ? y + s0 : NULL, NULL, loss && y ? loss + s0 : NULL, &nc);
    }
    return nc;
}

/* ------------------------------------------------------------------------ */
/* SGD                                                                       */
/* ------------------------------------------------------------------------ */

void hf_sgd_step(const hf_sgd_t *o, long n, float *p, const float *g, float *mom)
{
    float sc = 1.0f;
    if (o->clip > 0.0f) {
        /* torch.nn.utils.clip_grad_norm_: coef = max_norm / (norm + 1e-6), applied if < 1 */
        double ss = 0;
        for (long i = 0; i < n; i++) ss += (double)g[i] * g[i];
        double coef = o->clip / (sqrt(ss) + 1e-6);
        if (coef < 1.0) sc = (float)coef;
    }
    if (o->momentum != 0.0f)
        sgd_momentum(n, p, g, mom, o->lr, sc, o->weight_decay, o->momentum);
    else
        sgd_plain(n, p, g, o->lr, sc, o->weight_decay);
}

void hf_adam_step(long n, float *x, const float *g, float *m, float *v, double a)
{
    const double b1 = HF_ADAM_B1, b2 = HF_ADAM_B2, eps = 1e-8;
    for (long j = 0; j < n; j++) {
        m[j] = (float)(b1 * m[j] + (1.0 - b1) * g[j]);
        v[j] = (float)(b2 * v[j] + (1.0 - b2) * (double)g[j] * g[j]);
        x[j] -= (float)(a * m[j] / (sqrt((double)v[j]) + eps));
    }
}
