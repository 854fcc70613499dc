/*
 * nn_resnet.c — the pre-activation ResNet of HeteroFL (Diao, Ding, Tarokh,
 * "HeteroFL", ICLR 2021) for small images such as CIFAR's 3x32x32:
 *
 *   stem     conv3x3 (in_c -> w0), stride 1, padding 1
 *   stage s  (s = 1..4, width w[s-1], stride 2 at stages 2-4) of n basic blocks
 *            (n = 1 for depth 10, 2 for depth 18):
 *              a1 = relu(norm1(x));  h1 = conv3x3(a1) (stride of the block)
 *              a2 = relu(norm2(h1)); out = conv3x3(a2) + shortcut
 *            shortcut = x, or conv1x1(a1) with the block's stride where the
 *            channel count or the resolution changes
 *   head     relu(norm(x)), global average pooling, linear (w3 -> classes)
 *
 * No convolution has a bias (as HeteroFL's).  norm is none (identity), group
 * norm with gcd(C, 4) groups, or HeteroFL's static batch norm (sBN), each
 * with per-channel affine parameters.  Static batch norm normalises every
 * channel by the statistics of the training batch (no running averages are
 * kept during training); the forward used for evaluation normalises by
 * statistics recomputed from data by hf_resnet_norm_stats (the mean over
 * chunks of each chunk's batch mean and unbiased variance, as HeteroFL's
 * cumulative BatchNorm statistics with momentum None).
 *
 * Tensors, in this order (the slice.h layout: rows = output channels, the
 * input channels a prefix of each row): conv1.weight, then per block
 * layer{s}.{b}.norm1.{weight,bias}, .conv1.weight, .norm2.{weight,bias},
 * .conv2.weight, .shortcut.weight, then norm.{weight,bias}, linear.weight,
 * linear.bias (norm tensors only with group norm).
 *
 * The network runs layer by layer over a group of samples, every parameter
 * gradient accumulated in sample order.  A training step's group is up to
 * TRAIN_GROUP samples of the batch (static batch norm: the whole batch, the
 * work space grows to hold the largest batch stepped); evaluation runs one
 * sample at a time.  Every convolution is im2col + one sgemm for as many of
 * the group's samples as conv_batch allows (a function of the geometry and
 * the group size only, so results are the same in every work space): one
 * sample per sgemm at the 32x32 and 16x16 stages, several at the 8x8 and 4x4
 * ones, where one sample's sgemm is thin and each of its three sgemms would
 * stream the whole weight matrix.  Measured (thread CPU time of a ResNet-18
 * step of 32 samples, group norm, on the shared 2-core EPYC VM, Haswell
 * kernels): one sample at a time 1.83-2.18 s, groups of 8 with this rule
 * 1.69-1.83 s; with the CPU's AVX-512 (Cooperlake) kernels 1.28-1.57 s
 * against 1.02-1.40 s.
 *
 * model.conv = fast: every 3x3 stride-1 convolution with 4 or more input
 * channels (every conv2, the conv1 of blocks without stride; the stem too
 * where the input has 4+ channels) goes through Winograd F(4x4,3x3)
 * (winograd.c) on all the group's samples at once, in the forward, the
 * backward, evaluation and the batch-norm statistics alike; the stride-2 3x3
 * and the 1x1 shortcut convolutions, and a 3-channel stem, stay im2col +
 * sgemm.  Training groups are FAST_GROUP samples.
 */
#include "nn_resnet.h"
#include "hf_util.h"
#include "rng.h"
#include "winograd.h"
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BLOCKS 8                 /* 4 stages x 2 blocks */
#define GN_EPS 1e-5
#define GN_MAX_GROUPS 4
#define MAX_WIDTH (1 << 20)
static const int default_widths[4] = {64, 128, 256, 512};

int hf_resnet_groups(int C)
{
    int a = C, b = GN_MAX_GROUPS;
    while (b) { int t = a % b; a = b; b = t; }
    return a;
}

/* ------------------------------------------------------------------------ */
/* Geometry: one walk over the network gives shapes, tensor indices and the  */
/* offsets of one sample's activations                                       */
/* ------------------------------------------------------------------------ */

typedef struct {
    int cin, cout, stride, h, w, ho, wo;
    int tn1, tc1, tn2, tc2, tsc;   /* tensor indices; norm: weight (bias = +1), -1 without norm;
                                      tsc = -1: identity shortcut */
    long xin, a1, h1, a2;          /* activation offsets (floats) */
    int s1, s2;                    /* offsets of the group norms' (mean, rstd) pairs */
    int n1, n2;                    /* offsets of the batch norms' channels */
} rn_block_t;

typedef struct {
    int nb;
    rn_block_t b[MAX_BLOCKS];
    int c0, h0, w0;                /* input */
    int tstem, tnf, tfc;           /* stem conv, head norm (-1 without), linear weight (bias = +1) */
    int cf, hf, wf;                /* last block's output shape */
    long x0, fin, af, pooled, nact;/* offsets: stem output, last output, its pre-activation, pooled */
    int sf, nstats;
    int nf, nbn;                   /* the head batch norm's channel offset; channels of all batch norms */
    long ncols, ngrad;             /* largest im2col and activation, floats */
} rn_plan_t;

/* Tensor t of the layout (and add it to m when m != NULL). */
static int tensor(hf_model_t *m, int *nt, const char *name, int ndim, int d0, int d1, int k)
{
    int shape[4] = {d0, d1, k, k};
    if (m) hf_model_add_tensor(m, name, ndim, shape);
    return (*nt)++;
}

/* A norm's two tensors (none without norm); returns the weight's index or -1. */
static int norm_tensors(const hf_model_cfg_t *c, hf_model_t *m, int *nt, const char *prefix, int C)
{
    if (c->norm == HF_NORM_NONE) return -1;
    char name[32];
    snprintf(name, sizeof name, "%s.weight", prefix);
    int t = tensor(m, nt, name, 1, C, 0, 0);
    snprintf(name, sizeof name, "%s.bias", prefix);
    tensor(m, nt, name, 1, C, 0, 0);
    return t;
}

static void plan_of(const hf_model_cfg_t *c, hf_model_t *m, rn_plan_t *pl)
{
    memset(pl, 0, sizeof *pl);
    int nt = 0, per = c->depth == 10 ? 1 : 2;
    char name[64];
    pl->c0 = c->in_c; pl->h0 = c->in_h; pl->w0 = c->in_w;
    pl->tstem = tensor(m, &nt, "conv1.weight", 4, c->hidden[0], c->in_c, 3);
    long off = 0;
    pl->x0 = off;
    int C = c->hidden[0], H = c->in_h, W = c->in_w, st = 0, bc = 0;
    off += (long)C * H * W;
    pl->ncols = (long)c->in_c * 9 * H * W;
    pl->ngrad = (long)C * H * W;
    for (int s = 0; s < 4; s++)
        for (int j = 0; j < per; j++) {
            rn_block_t *b = &pl->b[pl->nb++];
            b->cin = C; b->cout = c->hidden[s]; b->stride = s > 0 && j == 0 ? 2 : 1;
            b->h = H; b->w = W;
            b->ho = (H - 1) / b->stride + 1;   /* (H + 2 - 3)/stride + 1 */
            b->wo = (W - 1) / b->stride + 1;
            char pre[16];
            snprintf(pre, sizeof pre, "layer%d.%d", s + 1, j);
            snprintf(name, sizeof name, "%s.norm1", pre);
            b->tn1 = norm_tensors(c, m, &nt, name, b->cin);
            snprintf(name, sizeof name, "%s.conv1.weight", pre);
            b->tc1 = tensor(m, &nt, name, 4, b->cout, b->cin, 3);
            snprintf(name, sizeof name, "%s.norm2", pre);
            b->tn2 = norm_tensors(c, m, &nt, name, b->cout);
            snprintf(name, sizeof name, "%s.conv2.weight", pre);
            b->tc2 = tensor(m, &nt, name, 4, b->cout, b->cout, 3);
            b->tsc = -1;
            if (b->stride != 1 || b->cin != b->cout) {
                snprintf(name, sizeof name, "%s.shortcut.weight", pre);
                b->tsc = tensor(m, &nt, name, 4, b->cout, b->cin, 1);
            }
            long nin = (long)b->cin * H * W, nout = (long)b->cout * b->ho * b->wo;
            b->xin = off - nin;                 /* the previous output */
            b->a1 = off; off += nin;
            b->h1 = off; off += nout;
            b->a2 = off; off += nout;
            off += nout;                        /* this block's output */
            b->s1 = st; st += 2 * GN_MAX_GROUPS;
            b->s2 = st; st += 2 * GN_MAX_GROUPS;
            b->n1 = bc; bc += b->cin;
            b->n2 = bc; bc += b->cout;
            pl->ncols = HF_MAX(pl->ncols, HF_MAX((long)b->cin, (long)b->cout) * 9 * b->ho * b->wo);
            pl->ngrad = HF_MAX(pl->ngrad, HF_MAX(nin, nout));
            C = b->cout; H = b->ho; W = b->wo;
        }
    pl->cf = C; pl->hf = H; pl->wf = W;
    pl->fin = off - (long)C * H * W;
    pl->af = off; off += (long)C * H * W;
    pl->pooled = off; off += C;
    pl->nact = off;
    pl->sf = st; st += 2 * GN_MAX_GROUPS;
    pl->nstats = st;
    pl->nf = bc; bc += C;
    pl->nbn = bc;
    pl->tnf = norm_tensors(c, m, &nt, "norm", C);
    pl->tfc = tensor(m, &nt, "linear.weight", 2, c->n_classes, C, 0);
    tensor(m, &nt, "linear.bias", 1, c->n_classes, 0, 0);
}

int hf_resnet_init(hf_model_t *m, const hf_model_cfg_t *cfg)
{
    hf_model_cfg_t c = *cfg;
    if (c.nhidden != 0 && c.nhidden != 4)
        return hf_seterr(HF_EINPUT, "model: resnet takes 4 stage widths, got %d", c.nhidden);
    for (int i = 0; i < 4; i++) {
        int v = c.nhidden ? c.hidden[i] : default_widths[i];
        if (v < 1 || v > MAX_WIDTH)
            return hf_seterr(HF_EINPUT, "model: resnet stage width %d must be in [1,%d] (got %d)", i + 1,
                             MAX_WIDTH, v);
        c.hidden[i] = v;
    }
    for (int i = 4; i < HF_MAX_HIDDEN; i++) c.hidden[i] = 0;
    c.nhidden = 4;
    if (c.depth == 0) c.depth = 18;
    if (c.depth != 10 && c.depth != 18)
        return hf_seterr(HF_EINPUT, "model: resnet depth must be 10 or 18 (got %d)", c.depth);
    if (c.norm != HF_NORM_NONE && c.norm != HF_NORM_GROUP && c.norm != HF_NORM_STATIC_BN)
        return hf_seterr(HF_EINPUT, "model: resnet norm %d unknown", c.norm);
    /* one sample's activations and im2col must stay well inside int */
    double hw = (double)c.in_h * c.in_w, wmax = 0;
    for (int i = 0; i < 4; i++) wmax = fmax(wmax, c.hidden[i]);
    if (wmax * 9 * hw > (double)(1 << 28) || (double)c.in_c * 9 * hw > (double)(1 << 28))
        return hf_seterr(HF_EINPUT, "model: resnet activations of %.3g floats per sample are too large",
                         wmax * 9 * hw);
    rn_plan_t pl;
    m->cfg = c;
    m->in_dim = c.in_c * c.in_h * c.in_w;
    plan_of(&c, m, &pl);
    /* multiply-adds x 2 of the convolutions and the classifier (norms, ReLU
     * and pooling are not counted) */
    double fl = 2.0 * c.hidden[0] * c.in_c * 9 * hw;
    for (int i = 0; i < pl.nb; i++) {
        const rn_block_t *b = &pl.b[i];
        double howo = (double)b->ho * b->wo;
        fl += 2.0 * b->cout * howo * (9.0 * b->cin + 9.0 * b->cout + (b->tsc >= 0 ? b->cin : 0));
    }
    fl += 2.0 * pl.cf * c.n_classes;
    m->flops_fwd = fl;
    return HF_OK;
}

/* PyTorch's defaults: conv and linear weights and the linear bias
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)) from the stream (seed, init, tensor);
 * norm weights 1, norm biases 0. */
void hf_resnet_init_params(const hf_model_t *m, float *params, uint64_t seed)
{
    for (int t = 0; t < m->ntensors; t++) {
        const hf_tensor_t *T = &m->tensors[t];
        float *p = params + T->off;
        if (strstr(T->name, "norm")) {
            float v = strstr(T->name, ".weight") ? 1.0f : 0.0f;
            for (long i = 0; i < T->n; i++) p[i] = v;
            continue;
        }
        const hf_tensor_t *W = T->ndim == 1 ? &m->tensors[t - 1] : T;
        double fan_in = W->ndim == 4 ? (double)W->shape[1] * W->shape[2] * W->shape[3] : W->shape[1];
        double bound = 1.0 / sqrt(fan_in);
        hf_rng_t r;
        hf_rng_init(&r, seed, HF_RNG_INIT, (uint64_t)t, 0);
        for (long i = 0; i < T->n; i++) p[i] = (float)((2.0 * hf_rng_uniform(&r) - 1.0) * bound);
    }
}

/* ------------------------------------------------------------------------ */
/* Convolution (im2col + sgemm) with stride and padding                      */
/* ------------------------------------------------------------------------ */

/* Output columns ox whose input column ox*s + kx - p lies in [0,w): [*a,*b). */
static void valid_cols(int w, int wo, int kx, int s, int p, int *a, int *b)
{
    int lo = p - kx > 0 ? (p - kx + s - 1) / s : 0;
    int hi = w - 1 + p - kx >= 0 ? (w - 1 + p - kx) / s + 1 : 0;
    *a = HF_MIN(lo, wo);
    *b = HF_MAX(*a, HF_MIN(hi, wo));
}

/* GCC turns the short zero-fill and copy loops of a row (0-2 and 2-32 floats)
 * into memset/memmove calls, which cost more than the loops at these sizes. */
#if defined(__GNUC__) && !defined(__clang__)
#define NO_LIBCALLS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define NO_LIBCALLS
#endif

/* The rows of a stride-1 convolution that is not 'same' (those go through
 * hf_im2col_same/hf_col2im_same, one linear copy or add a row): contiguous
 * runs that vectorize, where the strided loops below stay scalar (perf put
 * those loops at 12 % of a ResNet-18 step before the 'same' path).  add_run
 * adds element-wise, so every pixel gets its terms in the same order. */
HF_INLINE void copy_run(float *restrict dst, const float *restrict src, int n)
{
    for (int i = 0; i < n; i++) dst[i] = src[i];
}

HF_INLINE void add_run(float *restrict dst, const float *restrict src, int n)
{
    for (int i = 0; i < n; i++) dst[i] += src[i];
}

/* cols (cin*k*k rows ld floats apart, ho*wo columns):
 * cols[(ci*k + ky)*k + kx][oy*wo + ox] = in[ci][oy*s+ky-p][ox*s+kx-p], 0 outside. */
NO_LIBCALLS HF_CLONES static void im2col(const float *in, int cin, int h, int w, int k, int s, int p, int ho, int wo, float *cols, long ld)
{
    if (s == 1 && ho == h && wo == w && 2 * p == k - 1) {   /* 'same': shifted planes */
        hf_im2col_same(in, cin, h, w, k, p, cols, ld);
        return;
    }
    for (int ci = 0; ci < cin; ci++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                float *row = cols + ((long)(ci * k + ky) * k + kx) * ld;
                int a, b;
                valid_cols(w, wo, kx, s, p, &a, &b);
                for (int oy = 0; oy < ho; oy++) {
                    float *r = row + (long)oy * wo;
                    int iy = oy * s + ky - p;
                    if (iy < 0 || iy >= h) {
                        memset(r, 0, sizeof(float) * wo);
                        continue;
                    }
                    const float *src = in + ((long)ci * h + iy) * w;
                    for (int ox = 0; ox < a; ox++) r[ox] = 0.0f;
                    if (s == 1)
                        copy_run(r + a, src + a + kx - p, b - a);
                    else
                        for (int ox = a; ox < b; ox++) r[ox] = src[ox * s + kx - p];
                    for (int ox = b; ox < wo; ox++) r[ox] = 0.0f;
                }
            }
}

/* Adjoint of im2col: din += the entries of cols, each at the pixel it was read
 * from.  The 'same' case destroys cols and wants a din without -0 entries
 * (hf_col2im_same; every caller zeroes din first). */
NO_LIBCALLS HF_CLONES static void col2im(float *cols, long ld, int cin, int h, int w, int k, int s, int p, int ho, int wo,
                   float *din)
{
    if (s == 1 && ho == h && wo == w && 2 * p == k - 1) {   /* 'same': linear adds, destroys cols */
        hf_col2im_same(cols, cin, h, w, k, p, din, ld);
        return;
    }
    for (int ci = 0; ci < cin; ci++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                const float *row = cols + ((long)(ci * k + ky) * k + kx) * ld;
                int a, b;
                valid_cols(w, wo, kx, s, p, &a, &b);
                for (int oy = 0; oy < ho; oy++) {
                    int iy = oy * s + ky - p;
                    if (iy < 0 || iy >= h) continue;
                    const float *r = row + (long)oy * wo;
                    float *dst = din + ((long)ci * h + iy) * w;
                    if (s == 1)
                        add_run(dst + a + kx - p, r + a, b - a);
                    else
                        for (int ox = a; ox < b; ox++) dst[ox * s + kx - p] += r[ox];
                }
            }
}

static int is_pointwise(int k, int s, int p) { return k == 1 && s == 1 && p == 0; }

void hf_conv2d_forward(const float *in, int cin, int h, int w, const float *weight, int cout, int k, int s,
                       int p, float *out, float *cols)
{
    int ho = (h + 2 * p - k) / s + 1, wo = (w + 2 * p - k) / s + 1, K = cin * k * k, N = ho * wo;
    const float *B = in;
    if (!is_pointwise(k, s, p)) {
        im2col(in, cin, h, w, k, s, p, ho, wo, cols, N);
        B = cols;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cout, N, K, 1.0f, weight, K, B, N, 0.0f, out, N);
}

void hf_conv2d_backward(const float *in, int cin, int h, int w, const float *weight, int cout, int k, int s,
                        int p, const float *dout, float *dweight, float *din, float *cols)
{
    int ho = (h + 2 * p - k) / s + 1, wo = (w + 2 * p - k) / s + 1, K = cin * k * k, N = ho * wo;
    int pw = is_pointwise(k, s, p);
    const float *B = in;
    if (!pw) {
        im2col(in, cin, h, w, k, s, p, ho, wo, cols, N);
        B = cols;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, cout, K, N, 1.0f, dout, N, B, N, 1.0f, dweight, K);
    if (!din) return;
    if (pw) {  /* din (cin, N) += Wᵀ · dout */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, N, cout, 1.0f, weight, K, dout, N, 1.0f, din, N);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, N, cout, 1.0f, weight, K, dout, N, 0.0f, cols, N);
    col2im(cols, N, cin, h, w, k, s, p, ho, wo, din);
}

/* ------------------------------------------------------------------------ */
/* Group norm                                                                */
/* ------------------------------------------------------------------------ */

void hf_group_norm_forward(const float *x, int C, long hw, int G, const float *gamma, const float *beta,
                           float *y, float *mean, float *rstd)
{
    int cg = C / G;
    long n = (long)cg * hw;
    for (int g = 0; g < G; g++) {
        const float *xg = x + (long)g * n;
        double sm = 0.0, sq = 0.0;
        for (long i = 0; i < n; i++) sm += xg[i];
        double mu = sm / (double)n;
        for (long i = 0; i < n; i++) sq += ((double)xg[i] - mu) * ((double)xg[i] - mu);
        float m = (float)mu, r = (float)(1.0 / sqrt(sq / (double)n + GN_EPS));
        mean[g] = m;
        rstd[g] = r;
        for (int c = g * cg; c < (g + 1) * cg; c++) {
            const float *xc = x + (long)c * hw;
            float *yc = y + (long)c * hw, a = gamma[c] * r, b = beta[c] - gamma[c] * r * m;
            for (long i = 0; i < hw; i++) yc[i] = a * xc[i] + b;
        }
    }
}

void hf_group_norm_backward(const float *x, int C, long hw, int G, const float *gamma, const float *mean,
                            const float *rstd, const float *dy, float *dx, float *dgamma, float *dbeta)
{
    int cg = C / G;
    long n = (long)cg * hw;
    for (int g = 0; g < G; g++) {
        float m = mean[g], r = rstd[g];
        double s1 = 0.0, s2 = 0.0;   /* Σ dxhat, Σ dxhat·xhat over the group */
        for (int c = g * cg; c < (g + 1) * cg; c++) {
            const float *xc = x + (long)c * hw, *dc = dy + (long)c * hw;
            double dg = 0.0, db = 0.0;
            for (long i = 0; i < hw; i++) {
                float xh = (xc[i] - m) * r;
                dg += (double)dc[i] * xh;
                db += dc[i];
            }
            dgamma[c] += (float)dg;
            dbeta[c] += (float)db;
            s1 += db * gamma[c];
            s2 += dg * gamma[c];
        }
        float k1 = (float)(s1 / (double)n), k2 = (float)(s2 / (double)n);
        for (int c = g * cg; c < (g + 1) * cg; c++) {
            const float *xc = x + (long)c * hw, *dc = dy + (long)c * hw;
            float *o = dx + (long)c * hw, gc = gamma[c];
            for (long i = 0; i < hw; i++) {
                float xh = (xc[i] - m) * r;
                o[i] = r * (gc * dc[i] - k1 - xh * k2);
            }
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Batch norm over a group of samples (sample s's (C, hw) tensor at x + s·xs) */
/* ------------------------------------------------------------------------ */

void hf_batch_norm_stats(const float *x, long xs, int n, int C, long hw, float *mean, float *rstd,
                         double *sum_mean, double *sum_var)
{
    double N = (double)n * (double)hw;
    for (int c = 0; c < C; c++) {
        double sm = 0.0, sq = 0.0;
        for (int s = 0; s < n; s++) {
            const float *xc = x + s * xs + (long)c * hw;
            for (long i = 0; i < hw; i++) sm += xc[i];
        }
        double mu = sm / N;
        for (int s = 0; s < n; s++) {
            const float *xc = x + s * xs + (long)c * hw;
            for (long i = 0; i < hw; i++) sq += ((double)xc[i] - mu) * ((double)xc[i] - mu);
        }
        mean[c] = (float)mu;
        rstd[c] = (float)(1.0 / sqrt(sq / N + GN_EPS));
        if (sum_mean) {
            sum_mean[c] += mu;
            sum_var[c] += N > 1.0 ? sq / (N - 1.0) : 0.0;
        }
    }
}

void hf_batch_norm_apply(const float *x, long xs, int n, int C, long hw, const float *gamma, const float *beta,
                         const float *mean, const float *rstd, float *y)
{
    for (int c = 0; c < C; c++) {
        float a = gamma[c] * rstd[c], b = beta[c] - gamma[c] * rstd[c] * mean[c];
        for (int s = 0; s < n; s++) {
            const float *xc = x + s * xs + (long)c * hw;
            float *yc = y + s * xs + (long)c * hw;
            for (long i = 0; i < hw; i++) yc[i] = a * xc[i] + b;
        }
    }
}

void hf_batch_norm_backward(const float *x, long xs, int n, int C, long hw, const float *gamma, const float *mean,
                            const float *rstd, const float *dy, long ds, float *dx, float *dgamma, float *dbeta)
{
    double N = (double)n * (double)hw;
    for (int c = 0; c < C; c++) {
        float m = mean[c], r = rstd[c], gc = gamma[c];
        double dg = 0.0, db = 0.0;   /* Σ dy·xhat, Σ dy over the batch */
        for (int s = 0; s < n; s++) {
            const float *xc = x + s * xs + (long)c * hw, *dc = dy + s * ds + (long)c * hw;
            for (long i = 0; i < hw; i++) {
                dg += (double)dc[i] * ((xc[i] - m) * r);
                db += dc[i];
            }
        }
        dgamma[c] += (float)dg;
        dbeta[c] += (float)db;
        float k1 = (float)(db * gc / N), k2 = (float)(dg * gc / N);
        for (int s = 0; s < n; s++) {
            const float *xc = x + s * xs + (long)c * hw, *dc = dy + s * ds + (long)c * hw;
            float *o = dx + s * ds + (long)c * hw;
            for (long i = 0; i < hw; i++) o[i] += r * (gc * dc[i] - k1 - (xc[i] - m) * r * k2);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* A group of samples forward and backward                                   */
/* ------------------------------------------------------------------------ */

typedef enum { BN_TRAIN, BN_RECOMPUTE, BN_EVAL } bn_mode_t;

/* ------------------------------------------------------------------------ */
/* Convolutions of a group of samples: one sgemm for as many samples as fit  */
/* ------------------------------------------------------------------------ */

#define GROUP_COLS ((long)1 << 21)   /* floats of the im2col (and output) of one sgemm (8 MB) */
#define TRAIN_GROUP 8                /* samples per group of a training step without batch norm */
#ifndef FAST_GROUP
#define FAST_GROUP 32                /* the same with model.conv = fast */
#endif

typedef struct { int cin, h, w, cout, k, s, p, ho, wo; } rn_conv_t;

/* A k x k convolution (padding k/2, stride s) of (cin, h, w) inputs into cout channels. */
static rn_conv_t conv_of(int cin, int h, int w, int cout, int k, int s)
{
    int p = k / 2;
    return (rn_conv_t){cin, h, w, cout, k, s, p, (h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1};
}

/* Samples per sgemm of c: as many as keep the sgemm's columns (samples x
 * output pixels) within the output channels, so the im2col block is no larger
 * than the weight matrix, and their im2col and output within GROUP_COLS
 * floats (at least one sample); a function of the geometry and n only, never
 * of the work space.  Where outputs are small (ResNet-18's 8x8 and 4x4
 * stages) one sgemm then serves several samples and the weights are streamed
 * once for them; where outputs are large a sample's im2col already makes a
 * wide sgemm, and batching more only moves more im2col through the caches
 * (measured: README, Performance). */
static int conv_batch(const rn_conv_t *c, int n)
{
    long pix = (long)c->ho * c->wo, per = (long)HF_MAX(c->cin * c->k * c->k, c->cout) * pix;
    return (int)HF_MAX(1L, HF_MIN((long)n, HF_MIN((long)c->cout / pix, GROUP_COLS / per)));
}

/* The Winograd geometry of c for n samples, input and output sample strides
 * is and os. */
static hf_wino_t wino_of(const rn_conv_t *c, int n, long is, long os)
{
    return (hf_wino_t){c->k, n, c->cin, c->cout, c->h, c->w, is, (long)c->h * c->w, os, (long)c->ho * c->wo};
}

/* Whether c on n samples goes through Winograd (wino: its scratch, NULL with
 * model.conv = gemm): hf_wino_supported, and at least WINO_MIN_TILES 4x4
 * output tiles in the call.  With fewer (evaluation's one sample at the 8x8
 * and 4x4 stages) each call transforms every weight for a thin sgemm and
 * streams 4 times gemm's weight bytes: measured slower than im2col (README). */
#ifndef WINO_MIN_TILES
#define WINO_MIN_TILES 32
#endif
static int use_wino(const rn_conv_t *c, int n, const float *wino)
{
    long tiles = (long)n * ((c->ho + 3) / 4) * ((c->wo + 3) / 4);
    return wino && hf_wino_supported(c->k, c->s, c->cin) && tiles >= WINO_MIN_TILES;
}

/* out_s = conv(in_s) (add: out_s +=) for the n samples of the group, sample
 * s's input at in + s·is, its output at out + s·os.  cols, buf: scratch of
 * conv_batch(c, n) samples' im2col and output; wino (NULL: im2col always):
 * Winograd scratch for the convolutions hf_wino_supported takes. */
static void conv_forward_group(const rn_conv_t *c, const float *wt, const float *in, long is, float *out, long os,
                               int n, int add, float *cols, float *buf, float *wino)
{
    if (use_wino(c, n, wino)) {
        hf_wino_t g = wino_of(c, n, is, os);
        hf_wino_forward(&g, wt, in, out, add, wino);
        return;
    }
    int K = c->cin * c->k * c->k, sb = conv_batch(c, n);
    long N = (long)c->ho * c->wo;
    for (int s0 = 0; s0 < n; s0 += sb) {
        int m = HF_MIN(sb, n - s0);
        long L = m * N;
        for (int j = 0; j < m; j++)
            im2col(in + (s0 + j) * is, c->cin, c->h, c->w, c->k, c->s, c->p, c->ho, c->wo, cols + j * N, L);
        /* one sample, no accumulation: its output has buf's layout, so the
         * sgemm writes it in place (the same products, no copy) */
        int direct = m == 1 && !add;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->cout, (int)L, K, 1.0f, wt, K, cols, (int)L, 0.0f,
                    direct ? out + s0 * os : buf, (int)L);
        if (direct) continue;
        for (int j = 0; j < m; j++)
            for (int co = 0; co < c->cout; co++) {
                float *o = out + (s0 + j) * os + co * N;
                const float *b = buf + co * L + j * N;
                if (add)
                    for (long i = 0; i < N; i++) o[i] += b[i];
                else
                    memcpy(o, b, sizeof(float) * N);
            }
    }
}

/* Its backward: dw += Σ_s dout_s · im2col(in_s)ᵀ (dout_s at dout + s·ds);
 * din_s (at din + s·ds_in; din NULL: none) += the input gradient. */
static void conv_backward_group(const rn_conv_t *c, const float *wt, const float *in, long is, const float *dout,
                                long ds, float *dw, float *din, long dis, int n, float *cols, float *buf, float *wino)
{
    if (use_wino(c, n, wino)) {
        hf_wino_t g = wino_of(c, n, is, ds);
        hf_wino_backward(&g, wt, in, dout, 1.0f, dw, din, dis, wino, 0);
        return;
    }
    int K = c->cin * c->k * c->k, sb = conv_batch(c, n);
    long N = (long)c->ho * c->wo;
    for (int s0 = 0; s0 < n; s0 += sb) {
        int m = HF_MIN(sb, n - s0);
        long L = m * N;
        /* one sample: its dout already has buf's layout, read in place */
        const float *dz = m == 1 ? dout + s0 * ds : buf;
        for (int j = 0; j < m; j++) {
            im2col(in + (s0 + j) * is, c->cin, c->h, c->w, c->k, c->s, c->p, c->ho, c->wo, cols + j * N, L);
            if (m > 1)
                for (int co = 0; co < c->cout; co++)
                    memcpy(buf + co * L + j * N, dout + (s0 + j) * ds + co * N, sizeof(float) * N);
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->cout, K, (int)L, 1.0f, dz, (int)L, cols, (int)L, 1.0f,
                    dw, K);
        if (!din) continue;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, (int)L, c->cout, 1.0f, wt, K, dz, (int)L, 0.0f, cols,
                    (int)L);
        for (int j = 0; j < m; j++)
            col2im(cols + j * N, L, c->cin, c->h, c->w, c->k, c->s, c->p, c->ho, c->wo, din + (s0 + j) * dis);
    }
}

struct hf_resnet_work {
    rn_plan_t pl;
    int bn;          /* static batch norm */
    int cap;         /* samples the group buffers hold */
    bn_mode_t mode;
    float *act;      /* cap samples' activations, pl.nact each */
    float *stats;    /* group norm: (mean, rstd) of every norm, pl.nstats per sample */
    float *cols, *buf;  /* im2col and sgemm output scratch: conv_batch samples' (group_cols) */
    float *wino;        /* model.conv = fast: Winograd scratch of the group (else NULL) */
    float *g[3];     /* activation-gradient scratch, pl.ngrad per sample */
    float *logit, *dz;  /* n_classes per sample */
    float *bmean, *brstd;   /* batch norm: the group's statistics (pl.nbn each) */
    float *emean, *erstd;   /* the evaluation statistics */
    double *smean, *svar;   /* their sums while hf_resnet_norm_stats runs */
};

static float *act_of(const hf_resnet_work_t *w, int s) { return w->act + (long)s * w->pl.nact; }
static float *grad_of(const hf_resnet_work_t *w, int i, int s) { return w->g[i] + (long)s * w->pl.ngrad; }

/* Floats of Winograd scratch of c on n samples (0: c does not use it). */
static size_t wino_need(const rn_conv_t *c, int n)
{
    if (!hf_wino_supported(c->k, c->s, c->cin)) return 0;
    hf_wino_t g = wino_of(c, n, 0, 0);
    return hf_wino_scratch(&g);
}

/* Floats of Winograd scratch of n samples: the largest of the convolutions'
 * (0 with model.conv = gemm). */
static size_t wino_floats(const hf_model_t *m, const rn_plan_t *pl, int n)
{
    if (m->cfg.conv != HF_CONV_FAST) return 0;
    rn_conv_t stem = conv_of(pl->c0, pl->h0, pl->w0, m->cfg.hidden[0], 3, 1);
    size_t f = wino_need(&stem, n);
    for (int i = 0; i < pl->nb; i++) {
        const rn_block_t *b = &pl->b[i];
        rn_conv_t c1 = conv_of(b->cin, b->h, b->w, b->cout, 3, b->stride);
        rn_conv_t c2 = conv_of(b->cout, b->ho, b->wo, b->cout, 3, 1);
        f = HF_MAX(f, HF_MAX(wino_need(&c1, n), wino_need(&c2, n)));
    }
    return f;
}

/* The group buffers of w for n samples (allocated when alloc, else only
 * counted); their bytes. */
static double group_buffers(hf_resnet_work_t *w, const hf_model_t *m, int n, int alloc)
{
    size_t f = sizeof(float), N = (size_t)n;
    size_t gc = (size_t)HF_MAX(w->pl.ncols, HF_MIN(GROUP_COLS, (long)n * w->pl.ncols));
    size_t nw = wino_floats(m, &w->pl, n);
    double b = 0.0;
    w->cols = hf_take(&b, gc, f, alloc);
    w->buf = hf_take(&b, gc, f, alloc);
    w->wino = hf_take(&b, nw, f, alloc && nw);
    w->act = hf_take(&b, N * (size_t)w->pl.nact, f, alloc);
    w->stats = hf_take(&b, N * (size_t)w->pl.nstats, f, alloc);
    for (int i = 0; i < 3; i++) w->g[i] = hf_take(&b, N * (size_t)w->pl.ngrad, f, alloc);
    w->logit = hf_take(&b, N * (size_t)m->cfg.n_classes, f, alloc);
    w->dz = hf_take(&b, N * (size_t)m->cfg.n_classes, f, alloc);
    w->cap = n;
    return b;
}

/* The group buffers hold at least n samples (grown, contents lost, when not). */
static void reserve(hf_resnet_work_t *w, const hf_model_t *m, int n)
{
    if (n <= w->cap) return;
    free(w->cols);
    free(w->buf);
    free(w->wino);
    free(w->act);
    free(w->stats);
    free(w->logit);
    free(w->dz);
    for (int i = 0; i < 3; i++) free(w->g[i]);
    group_buffers(w, m, n, 1);
}

/* The buffers of w that do not grow (batch norm's statistics). */
static double fixed_buffers(hf_resnet_work_t *w, int alloc)
{
    size_t f = sizeof(float), nb = w->bn ? (size_t)w->pl.nbn : 0;
    double b = 0.0;
    w->bmean = hf_take(&b, nb, f, alloc && nb);
    w->brstd = hf_take(&b, nb, f, alloc && nb);
    w->emean = hf_take(&b, nb, f, alloc && nb);
    w->erstd = hf_take(&b, nb, f, alloc && nb);
    w->smean = hf_take(&b, nb, sizeof(double), alloc && nb);
    w->svar = hf_take(&b, nb, sizeof(double), alloc && nb);
    return b;
}

/* Evaluation statistics of every batch norm: mean 0 and variance 1 (PyTorch's
 * initial running statistics), or the sums' averages over k chunks. */
static void set_eval_stats(hf_resnet_work_t *w, long k)
{
    for (int c = 0; c < w->pl.nbn; c++) {
        double mu = k ? w->smean[c] / (double)k : 0.0, var = k ? w->svar[c] / (double)k : 1.0;
        w->emean[c] = (float)mu;
        w->erstd[c] = (float)(1.0 / sqrt(var + GN_EPS));
    }
}

/* Samples per group of a training step of B samples: the whole batch with
 * static batch norm, else up to TRAIN_GROUP (gemm) or FAST_GROUP (fast: the
 * Winograd sgemms' tile count grows with the group, and each group transforms
 * every weight tensor twice and its gradient once).  Measured (thread CPU
 * time of a ResNet-18 step, B = 32, group norm, Haswell kernels, the least of
 * 5, load ≈ 3.5): fast with groups of 8 0.937 s, of 16 0.911 s, of 32 0.798 s
 * (gemm 1.28 s). */
static int train_group(const hf_model_t *m, int B)
{
    if (m->cfg.norm == HF_NORM_STATIC_BN) return B;
    return HF_MIN(B, m->cfg.conv == HF_CONV_FAST ? FAST_GROUP : TRAIN_GROUP);
}

hf_resnet_work_t *hf_resnet_work_new(const hf_model_t *m)
{
    hf_resnet_work_t *w = hf_calloc(1, sizeof *w);
    plan_of(&m->cfg, NULL, &w->pl);
    w->bn = m->cfg.norm == HF_NORM_STATIC_BN;
    fixed_buffers(w, 1);
    group_buffers(w, m, 1, 1);
    if (w->bn) set_eval_stats(w, 0);
    return w;
}

double hf_resnet_work_bytes(const hf_model_t *m, int batch)
{
    hf_resnet_work_t w;
    memset(&w, 0, sizeof w);
    plan_of(&m->cfg, NULL, &w.pl);
    w.bn = m->cfg.norm == HF_NORM_STATIC_BN;
    return fixed_buffers(&w, 0) + group_buffers(&w, m, HF_MAX(1, train_group(m, batch)), 0);
}

void hf_resnet_work_free(hf_resnet_work_t *w)
{
    if (!w) return;
    free(w->act);
    free(w->stats);
    free(w->cols);
    free(w->buf);
    free(w->wino);
    for (int i = 0; i < 3; i++) free(w->g[i]);
    free(w->logit);
    free(w->dz);
    free(w->bmean);
    free(w->brstd);
    free(w->emean);
    free(w->erstd);
    free(w->smean);
    free(w->svar);
    free(w);
}

static const float *tw(const hf_model_t *m, const float *params, int t) { return params + m->tensors[t].off; }

/* One norm of the network: its weight tensor (-1 without norm), the offsets
 * of its group-norm statistics and batch-norm channels, its input and output
 * (activation offsets) and shape. */
typedef struct {
    int tn, soff, boff;
    long xoff, aoff;
    int C;
    long hw;
} rn_norm_t;

/* a = relu(norm(x)) of the n samples of the group. */
static void preact_forward(const hf_model_t *m, hf_resnet_work_t *w, const float *params, const rn_norm_t *q, int n)
{
    long N = (long)q->C * q->hw, xs = w->pl.nact;
    float *A = w->act;
    if (q->tn >= 0 && w->bn) {
        float *mean = w->bmean + q->boff, *rstd = w->brstd + q->boff;
        if (w->mode == BN_EVAL) {
            mean = w->emean + q->boff;
            rstd = w->erstd + q->boff;
        } else
            hf_batch_norm_stats(A + q->xoff, xs, n, q->C, q->hw, mean, rstd,
                                w->mode == BN_RECOMPUTE ? w->smean + q->boff : NULL, w->svar + q->boff);
        hf_batch_norm_apply(A + q->xoff, xs, n, q->C, q->hw, tw(m, params, q->tn), tw(m, params, q->tn + 1), mean,
                            rstd, A + q->aoff);
    }
    for (int s = 0; s < n; s++) {
        const float *x = act_of(w, s) + q->xoff;
        float *a = act_of(w, s) + q->aoff;
        if (q->tn >= 0 && !w->bn) {
            float *st = w->stats + (long)s * w->pl.nstats + q->soff;
            hf_group_norm_forward(x, q->C, q->hw, hf_resnet_groups(q->C), tw(m, params, q->tn),
                                  tw(m, params, q->tn + 1), a, st, st + GN_MAX_GROUPS);
        }
        const float *in = q->tn >= 0 ? a : x;
        for (long i = 0; i < N; i++) a[i] = in[i] > 0.0f ? in[i] : 0.0f;
    }
}

/* Backward of preact_forward: buffer da (overwritten: masked) holds the
 * gradient of a; buffer dx += the gradient of x; the norm's parameter
 * gradients accumulate in grad.  Group norm uses w->cols as scratch. */
static void preact_backward(const hf_model_t *m, hf_resnet_work_t *w, const float *params, float *grad,
                            const rn_norm_t *q, int n, int da, int dx)
{
    long N = (long)q->C * q->hw;
    for (int s = 0; s < n; s++) {
        const float *a = act_of(w, s) + q->aoff;
        float *d = grad_of(w, da, s);
        for (long i = 0; i < N; i++) d[i] = a[i] > 0.0f ? d[i] : 0.0f;
    }
    const hf_tensor_t *T = &m->tensors[q->tn < 0 ? 0 : q->tn];
    if (q->tn >= 0 && w->bn) {
        hf_batch_norm_backward(w->act + q->xoff, w->pl.nact, n, q->C, q->hw, params + T->off, w->bmean + q->boff,
                               w->brstd + q->boff, w->g[da], w->pl.ngrad, w->g[dx], grad + T->off,
                               grad + T[1].off);
        return;
    }
    for (int s = 0; s < n; s++) {
        const float *src = grad_of(w, da, s);
        float *d = grad_of(w, dx, s);
        if (q->tn >= 0) {
            const float *st = w->stats + (long)s * w->pl.nstats + q->soff;
            hf_group_norm_backward(act_of(w, s) + q->xoff, q->C, q->hw, hf_resnet_groups(q->C), params + T->off,
                                   st, st + GN_MAX_GROUPS, src, w->cols, grad + T->off, grad + T[1].off);
            src = w->cols;
        }
        for (long i = 0; i < N; i++) d[i] += src[i];
    }
}

static rn_norm_t norm1_of(const rn_block_t *b)
{
    return (rn_norm_t){b->tn1, b->s1, b->n1, b->xin, b->a1, b->cin, (long)b->h * b->w};
}
static rn_norm_t norm2_of(const rn_block_t *b)
{
    return (rn_norm_t){b->tn2, b->s2, b->n2, b->h1, b->a2, b->cout, (long)b->ho * b->wo};
}
static rn_norm_t head_norm_of(const rn_plan_t *pl)
{
    return (rn_norm_t){pl->tnf, pl->sf, pl->nf, pl->fin, pl->af, pl->cf, (long)pl->hf * pl->wf};
}

/* Logits of the n samples x into w->logit; activations kept in w->act. */
static void group_forward(const hf_model_t *m, hf_resnet_work_t *w, const float *params, const float *x, int n)
{
    const rn_plan_t *pl = &w->pl;
    long xs = pl->nact;
    float *A = w->act;
    rn_conv_t stem = conv_of(pl->c0, pl->h0, pl->w0, m->cfg.hidden[0], 3, 1);
    conv_forward_group(&stem, tw(m, params, pl->tstem), x, m->in_dim, A + pl->x0, xs, n, 0, w->cols, w->buf, w->wino);
    for (int i = 0; i < pl->nb; i++) {
        const rn_block_t *b = &pl->b[i];
        rn_norm_t q1 = norm1_of(b), q2 = norm2_of(b);
        rn_conv_t c1 = conv_of(b->cin, b->h, b->w, b->cout, 3, b->stride), c2 = conv_of(b->cout, b->ho, b->wo, b->cout, 3, 1);
        long nout = (long)b->cout * b->ho * b->wo, out = b->a2 + nout;
        preact_forward(m, w, params, &q1, n);
        conv_forward_group(&c1, tw(m, params, b->tc1), A + b->a1, xs, A + b->h1, xs, n, 0, w->cols, w->buf, w->wino);
        preact_forward(m, w, params, &q2, n);
        if (b->tsc >= 0) {
            rn_conv_t sc = conv_of(b->cin, b->h, b->w, b->cout, 1, b->stride);
            conv_forward_group(&sc, tw(m, params, b->tsc), A + b->a1, xs, A + out, xs, n, 0, w->cols, w->buf,
                               w->wino);
        } else
            for (int s = 0; s < n; s++) memcpy(act_of(w, s) + out, act_of(w, s) + b->xin, sizeof(float) * nout);
        /* out += conv2(a2) */
        conv_forward_group(&c2, tw(m, params, b->tc2), A + b->a2, xs, A + out, xs, n, 1, w->cols, w->buf, w->wino);
    }
    rn_norm_t qf = head_norm_of(pl);
    preact_forward(m, w, params, &qf, n);
    int C = m->cfg.n_classes;
    for (int s = 0; s < n; s++) {
        const float *af = act_of(w, s) + pl->af;
        float *pooled = act_of(w, s) + pl->pooled, *z = w->logit + (long)s * C;
        for (int c = 0; c < pl->cf; c++) {
            double sum = 0.0;
            for (long i = 0; i < qf.hw; i++) sum += af[c * qf.hw + i];
            pooled[c] = (float)(sum / (double)qf.hw);
        }
        memcpy(z, tw(m, params, pl->tfc + 1), sizeof(float) * C);
        cblas_sgemv(CblasRowMajor, CblasNoTrans, C, pl->cf, 1.0f, tw(m, params, pl->tfc), pl->cf, pooled, 1, 1.0f,
                    z, 1);
    }
}

/* Backward of one block: buffer *d holds the gradient of the block's output;
 * on return buffer *d holds the gradient of its input. */
static void block_backward(const hf_model_t *m, hf_resnet_work_t *w, const float *params, float *grad,
                           const rn_block_t *b, int n, int *d)
{
    int dout = *d, t1 = (dout + 1) % 3, t2 = (dout + 2) % 3;
    long nin = (long)b->cin * b->h * b->w, nout = (long)b->cout * b->ho * b->wo, xs = w->pl.nact, gs = w->pl.ngrad;
    const hf_tensor_t *T = m->tensors;
    const float *A = w->act;
    rn_norm_t q1 = norm1_of(b), q2 = norm2_of(b);
    rn_conv_t c1 = conv_of(b->cin, b->h, b->w, b->cout, 3, b->stride), c2 = conv_of(b->cout, b->ho, b->wo, b->cout, 3, 1);
    /* conv2: da2 in t1 */
    for (int s = 0; s < n; s++) memset(grad_of(w, t1, s), 0, sizeof(float) * nout);
    conv_backward_group(&c2, tw(m, params, b->tc2), A + b->a2, xs, w->g[dout], gs, grad + T[b->tc2].off, w->g[t1], gs,
                        n, w->cols, w->buf, w->wino);
    /* norm2 + relu: dh1 in t2 */
    for (int s = 0; s < n; s++) memset(grad_of(w, t2, s), 0, sizeof(float) * nout);
    preact_backward(m, w, params, grad, &q2, n, t1, t2);
    /* conv1 and the shortcut conv: da1 in t1 */
    for (int s = 0; s < n; s++) memset(grad_of(w, t1, s), 0, sizeof(float) * nin);
    conv_backward_group(&c1, tw(m, params, b->tc1), A + b->a1, xs, w->g[t2], gs, grad + T[b->tc1].off, w->g[t1], gs,
                        n, w->cols, w->buf, w->wino);
    int dx = dout;                     /* identity shortcut: dx = dout + ... */
    if (b->tsc >= 0) {
        rn_conv_t sc = conv_of(b->cin, b->h, b->w, b->cout, 1, b->stride);
        conv_backward_group(&sc, tw(m, params, b->tsc), A + b->a1, xs, w->g[dout], gs, grad + T[b->tsc].off,
                            w->g[t1], gs, n, w->cols, w->buf, w->wino);
        for (int s = 0; s < n; s++) memset(grad_of(w, t2, s), 0, sizeof(float) * nin);
        dx = t2;
    }
    preact_backward(m, w, params, grad, &q1, n, t1, dx);
    *d = dx;
}

/* Accumulate into grad the gradient of Σ_s Σ_c dz[s][c]·logit[s][c] of the
 * group last run forward from x. */
static void group_backward(const hf_model_t *m, hf_resnet_work_t *w, const float *params, float *grad,
                           const float *x, int n)
{
    const rn_plan_t *pl = &w->pl;
    const hf_tensor_t *T = m->tensors;
    int C = m->cfg.n_classes, cf = pl->cf;
    rn_norm_t qf = head_norm_of(pl);
    float *db = grad + T[pl->tfc + 1].off, *dp = w->cols;
    /* linear: dW += dz pooledᵀ, db += dz, dpooled = Wᵀ dz; the pooling's
     * gradient in buffer 1, buffer 0 zeroed for the head norm's */
    for (int s = 0; s < n; s++) {
        const float *dz = w->dz + (long)s * C;
        cblas_sger(CblasRowMajor, C, cf, 1.0f, dz, 1, act_of(w, s) + pl->pooled, 1, grad + T[pl->tfc].off, cf);
        for (int c = 0; c < C; c++) db[c] += dz[c];
        cblas_sgemv(CblasRowMajor, CblasTrans, C, cf, 1.0f, tw(m, params, pl->tfc), cf, dz, 1, 0.0f, dp, 1);
        float *daf = grad_of(w, 1, s);
        for (int c = 0; c < cf; c++)
            for (long i = 0; i < qf.hw; i++) daf[c * qf.hw + i] = dp[c] / (float)qf.hw;
        memset(grad_of(w, 0, s), 0, sizeof(float) * cf * qf.hw);
    }
    preact_backward(m, w, params, grad, &qf, n, 1, 0);
    int d = 0;
    for (int i = pl->nb - 1; i >= 0; i--) block_backward(m, w, params, grad, &pl->b[i], n, &d);
    rn_conv_t stem = conv_of(pl->c0, pl->h0, pl->w0, m->cfg.hidden[0], 3, 1);
    conv_backward_group(&stem, tw(m, params, pl->tstem), x, m->in_dim, w->g[d], pl->ngrad, grad + T[pl->tstem].off,
                        NULL, 0, n, w->cols, w->buf, w->wino);
}

float hf_resnet_step(const hf_model_t *m, hf_resnet_work_t *w, const float *params, float *grad,
                     const float *x, const int *y, const float *zt, float T, int B)
{
    int C = m->cfg.n_classes, g = train_group(m, B);
    reserve(w, m, g);
    w->mode = BN_TRAIN;
    memset(grad, 0, sizeof(float) * m->nparams);
    double sum = 0.0;
    for (int s0 = 0; s0 < B; s0 += g) {
        int n = HF_MIN(g, B - s0);
        group_forward(m, w, params, x + (long)s0 * m->in_dim, n);
        for (int s = 0; s < n; s++) {
            const float *z = w->logit + (long)s * C;
            float *dz = w->dz + (long)s * C;
            sum += zt ? hf_softmax_kl(z, zt + (long)(s0 + s) * C, C, 1, T, dz)
                      : hf_softmax_xent(z, C, 1, 1, C, y + s0 + s, dz, NULL, NULL);
            for (int c = 0; c < C; c++) dz[c] /= (float)B;
        }
        group_backward(m, w, params, grad, x + (long)s0 * m->in_dim, n);
    }
    return (float)(sum / B);
}

int hf_resnet_forward(const hf_model_t *m, hf_resnet_work_t *w, const float *params, const float *x,
                      const int *y, int B, float *logits, float *loss)
{
    int C = m->cfg.n_classes, nc = 0;
    w->mode = BN_EVAL;
    for (int s = 0; s < B; s++) {
        group_forward(m, w, params, x + (long)s * m->in_dim, 1);
        if (logits) memcpy(logits + (long)s * C, w->logit, sizeof(float) * C);
        hf_softmax_xent(w->logit, C, 1, 1, C, y ? y + s : NULL, NULL, loss && y ? loss + s : NULL, &nc);
    }
    return nc;
}

void hf_resnet_norm_stats(const hf_model_t *m, hf_resnet_work_t *w, const float *params, const float *x, long n,
                          int chunk)
{
    if (!w->bn) return;
    chunk = (int)HF_MAX(1, HF_MIN((long)chunk, n));
    reserve(w, m, chunk);
    memset(w->smean, 0, sizeof(double) * w->pl.nbn);
    memset(w->svar, 0, sizeof(double) * w->pl.nbn);
    w->mode = BN_RECOMPUTE;
    long k = 0;
    for (long s0 = 0; s0 < n; s0 += chunk, k++)
        group_forward(m, w, params, x + s0 * m->in_dim, (int)HF_MIN((long)chunk, n - s0));
    set_eval_stats(w, k);
}
