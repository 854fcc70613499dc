/*
 * nn_lstm.c — the character LSTM (nn_lstm.h): layout, initialisation,
 * forward and backward-through-time on cblas_sgemm.
 *
 * Activations are time-major, (T, b, ·) for a sub-batch of b samples, so that
 * a step's rows are contiguous and a whole sequence is one matrix:
 *   per layer, the input projections of all T steps are ONE sgemm
 *     Z (T·b, 4H) = A (T·b, in) · W_ihᵀ + bias,
 *   then per step ONE sgemm adds the four gates' recurrent part
 *     Z_t (b, 4H) += h_{t-1} (b, H) · W_hhᵀ
 *   (hf_gemm_fwd: on cores with OpenBLAS's small-matrix kernels, several calls
 *   cut along 4H, each output still one dot product),
 *   and the cell activates Z_t in place (i, f, g, o) and writes c_t, tanh c_t, h_t.
 * Backward per layer, top layer first: per step (t = T-1 … 0) the cell turns
 * dh_t (from above plus the recurrent dZ_{t+1}·W_hh, ONE sgemm: hf_gemm_da) into dZ_t in
 * place of Z_t; then three sgemms over the whole sequence: dW_ih = dZᵀ·A,
 * dW_hh = dZ_{1..}ᵀ·h_{..T-2}, dA = dZ·W_ih (the gradient of the layer below's
 * h, or of the embeddings, which are scattered into embed.weight's rows).
 *
 * Batches are cut into sub-batches of LSTM_SB samples (the same cut for any
 * work space, so results never depend on max_batch); their gradients add up
 * through sgemm's beta = 1.  Nothing allocates after hf_lstm_work_new().
 */
#include "nn_lstm.h"
#include "hf_util.h"
#include "rng.h"
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LSTM_SB 32                 /* samples per sub-batch (~1.3 MB of activations each at LEAF's sizes) */
#define MAX_WIDTH (1 << 20)
#define MAX_SEQ (1 << 16)

typedef struct {
    int L, T, E, V, C;
    int H[HF_MAX_HIDDEN], in[HF_MAX_HIDDEN];
} lgeom_t;

static void lgeom_of(const hf_model_cfg_t *c, lgeom_t *g)
{
    memset(g, 0, sizeof *g);
    g->L = c->nhidden;
    g->T = c->in_w;
    g->E = c->embed;
    g->V = c->vocab;
    g->C = c->n_classes;
    for (int l = 0; l < g->L; l++) {
        g->H[l] = c->hidden[l];
        g->in[l] = l ? c->hidden[l - 1] : c->embed;
    }
}

/* tensor indices */
#define T_EMB 0
#define T_WIH(l) (1 + 3 * (l))
#define T_WHH(l) (2 + 3 * (l))
#define T_B(l) (3 + 3 * (l))
#define T_FCW(L) (1 + 3 * (L))
#define T_FCB(L) (2 + 3 * (L))

static void add_tensor(hf_model_t *m, const char *name, int ndim, int d0, int d1)
{
    hf_tensor_t *t = &m->tensors[m->ntensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim;
    t->shape[0] = d0;
    t->shape[1] = ndim > 1 ? d1 : 0;
    t->n = (long)d0 * (ndim > 1 ? d1 : 1);
    t->off = m->nparams;
    m->nparams += t->n;
}

int hf_lstm_init(hf_model_t *m, const hf_model_cfg_t *cfg)
{
    hf_model_cfg_t c = *cfg;
    if (c.vocab < 1 || c.vocab > (1 << 24))
        return hf_seterr(HF_EINPUT, "model: lstm needs token ids (a text data set: shakespeare, tff "
                         "shakespeare, hdf5 with a vocab attribute); vocabulary %d", c.vocab);
    if (c.in_c != 1 || c.in_h != 1 || c.in_w > MAX_SEQ)
        return hf_seterr(HF_EINPUT, "model: lstm input must be one sequence of at most %d tokens per sample, "
                         "got %dx%dx%d", MAX_SEQ, c.in_c, c.in_h, c.in_w);
    if (c.embed == 0) c.embed = HF_LSTM_EMBED;
    if (c.embed < 1 || c.embed > MAX_WIDTH)
        return hf_seterr(HF_EINPUT, "model: lstm embedding size must be in [1,%d], got %d", MAX_WIDTH, c.embed);
    if (c.nhidden == 0) {
        c.nhidden = 2;
        c.hidden[0] = c.hidden[1] = HF_LSTM_HIDDEN;
    }
    for (int l = 0; l < c.nhidden; l++)
        if (c.hidden[l] < 1 || c.hidden[l] > MAX_WIDTH)
            return hf_seterr(HF_EINPUT, "model: lstm layer %d width must be in [1,%d], got %d", l + 1,
                             MAX_WIDTH, c.hidden[l]);
    for (int l = c.nhidden; l < HF_MAX_HIDDEN; l++) c.hidden[l] = 0;
    lgeom_t g;
    lgeom_of(&c, &g);
    double np = (double)g.V * g.E + (double)g.C * (g.H[g.L - 1] + 1.0), act = 0;
    for (int l = 0; l < g.L; l++) {
        np += 4.0 * g.H[l] * (g.in[l] + g.H[l] + 1.0);
        act += (double)g.T * 7 * g.H[l];
    }
    if (np > (double)(1L << 31) || act * LSTM_SB > (double)(1L << 31))
        return hf_seterr(HF_EINPUT, "model: lstm of %.3g parameters and %.3g activations per sample is too large",
                         np, act);
    m->cfg = c;
    m->in_dim = g.T;
    char name[32];
    add_tensor(m, "embed.weight", 2, g.V, g.E);
    double fl = 0;
    for (int l = 0; l < g.L; l++) {
        snprintf(name, sizeof name, "lstm%d.w_ih", l + 1);
        add_tensor(m, name, 2, 4 * g.H[l], g.in[l]);
        snprintf(name, sizeof name, "lstm%d.w_hh", l + 1);
        add_tensor(m, name, 2, 4 * g.H[l], g.H[l]);
        snprintf(name, sizeof name, "lstm%d.bias", l + 1);
        add_tensor(m, name, 1, 4 * g.H[l], 0);
        /* input projections at T steps, the recurrent one at T-1 (h_{-1} = 0) */
        fl += 2.0 * 4 * g.H[l] * ((double)g.T * g.in[l] + (g.T - 1.0) * g.H[l]);
    }
    add_tensor(m, "fc.weight", 2, g.C, g.H[g.L - 1]);
    add_tensor(m, "fc.bias", 1, g.C, 0);
    m->flops_fwd = fl + 2.0 * g.H[g.L - 1] * g.C;
    return HF_OK;
}

void hf_lstm_init_params(const hf_model_t *m, float *params, uint64_t seed)
{
    lgeom_t g;
    lgeom_of(&m->cfg, &g);
    for (int t = 0; t < m->ntensors; t++) {
        const hf_tensor_t *T = &m->tensors[t];
        int layer = (t - 1) / 3;
        double bound = t == T_EMB ? 0 : 1.0 / sqrt((double)(t >= T_FCW(g.L) ? g.H[g.L - 1] : g.H[layer]));
        hf_rng_t r;
        hf_rng_init(&r, seed, HF_RNG_INIT, (uint64_t)t, 0);
        float *p = params + T->off;
        for (long i = 0; i < T->n; i++)
            p[i] = (float)(t == T_EMB ? hf_rng_normal(&r) : (2.0 * hf_rng_uniform(&r) - 1.0) * bound);
    }
}

/* ------------------------------------------------------------------------ */
/* Work space                                                                */
/* ------------------------------------------------------------------------ */

struct hf_lstm_work {
    int sb;                        /* allocated sub-batch */
    lgeom_t g;
    float *x0;                     /* (T, sb, E) embedded inputs */
    float *z[HF_MAX_HIDDEN];       /* (T, sb, 4H) activated gates; dZ in the backward pass */
    float *c[HF_MAX_HIDDEN];       /* (T, sb, H) cell states */
    float *tc[HF_MAX_HIDDEN];      /* (T, sb, H) tanh of the cell states */
    float *h[HF_MAX_HIDDEN];       /* (T, sb, H) hidden states */
    float *da[2];                  /* (T, sb, max(E, H)) ping-pong: dL/d(layer output | input) */
    float *dh, *dc;                /* (sb, Hmax) recurrent gradients */
    float *logit, *dz;             /* (sb, C) */
    float *colsum;                 /* (max(4H, C)) */
};

/* The buffers of w (allocated when alloc, else only counted); their bytes. */
static double lstm_buffers(hf_lstm_work_t *w, const hf_model_t *m, int max_batch, int alloc)
{
    lgeom_of(&m->cfg, &w->g);
    const lgeom_t *g = &w->g;
    size_t sb = (size_t)HF_MIN(max_batch, LSTM_SB), T = (size_t)g->T, f = sizeof(float);
    double b = 0.0;
    int hmax = 0;
    for (int l = 0; l < g->L; l++) hmax = HF_MAX(hmax, g->H[l]);
    w->sb = (int)sb;
    w->x0 = hf_take(&b, T * sb * g->E, f, alloc);
    for (int l = 0; l < g->L; l++) {
        w->z[l] = hf_take(&b, T * sb * 4 * g->H[l], f, alloc);
        w->c[l] = hf_take(&b, T * sb * g->H[l], f, alloc);
        w->tc[l] = hf_take(&b, T * sb * g->H[l], f, alloc);
        w->h[l] = hf_take(&b, T * sb * g->H[l], f, alloc);
    }
    for (int k = 0; k < 2; k++) w->da[k] = hf_take(&b, T * sb * HF_MAX(hmax, g->E), f, alloc);
    w->dh = hf_take(&b, sb * hmax, f, alloc);
    w->dc = hf_take(&b, sb * hmax, f, alloc);
    w->logit = hf_take(&b, sb * g->C, f, alloc);
    w->dz = hf_take(&b, sb * g->C, f, alloc);
    w->colsum = hf_take(&b, (size_t)HF_MAX(4 * hmax, g->C), f, alloc);
    return b;
}

hf_lstm_work_t *hf_lstm_work_new(const hf_model_t *m, int max_batch)
{
    hf_lstm_work_t *w = hf_calloc(1, sizeof *w);
    lstm_buffers(w, m, max_batch, 1);
    return w;
}

double hf_lstm_work_bytes(const hf_model_t *m, int max_batch)
{
    hf_lstm_work_t w;
    return lstm_buffers(&w, m, max_batch, 0);
}

void hf_lstm_work_free(hf_lstm_work_t *w)
{
    if (!w) return;
    free(w->x0);
    for (int l = 0; l < HF_MAX_HIDDEN; l++) {
        free(w->z[l]);
        free(w->c[l]);
        free(w->tc[l]);
        free(w->h[l]);
    }
    free(w->da[0]);
    free(w->da[1]);
    free(w->dh);
    free(w->dc);
    free(w->logit);
    free(w->dz);
    free(w->colsum);
    free(w);
}

/* ------------------------------------------------------------------------ */
/* Forward                                                                   */
/* ------------------------------------------------------------------------ */

/* e^x within 2e-7 (relative) on [-87, 88], clamped outside: 2^n · e^r with
 * n = round(x/ln 2) (the 1.5·2^23 rounding trick), r = x − n·ln 2 in two
 * parts (Cody–Waite), e^r by its degree-6 Taylor polynomial (|r| ≤ 0.35:
 * remainder < 7e-8), 2^n through the exponent bits.  Branch-free, so GCC
 * vectorizes the loops below (libm's expf and tanhf are scalar calls: 15 % of
 * a training step at LEAF's sizes). */
HF_INLINE float fexp(float x)
{
    x = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
    float n = (x * 1.44269504089f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693145751953125f - n * 1.428606765330187e-06f;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720))))));
    int32_t e = ((int32_t)n + 127) * (1 << 23);
    float sc;
    memcpy(&sc, &e, sizeof sc);
    return p * sc;
}

/* σ(x) = 1/(1 + e^−x); tanh x = 2σ(2x) − 1 */
HF_INLINE float fsigm(float x) { return 1.0f / (1.0f + fexp(-x)); }

/* Token id of sample s at step t (x batch-major (b, T)); -1 when outside [0,V). */
static inline int token(const float *x, int T, int V, int s, int t)
{
    float v = x[(long)s * T + t];
    return v >= 0.0f && v < (float)V ? (int)v : -1;
}

/* x0 (T, b, E) = the embeddings of the b sequences of x (an id outside the
 * vocabulary embeds as zeros). */
static void embed(const lgeom_t *g, const float *emb, const float *x, int b, float *x0)
{
    for (int t = 0; t < g->T; t++)
        for (int s = 0; s < b; s++) {
            float *dst = x0 + ((long)t * b + s) * g->E;
            int id = token(x, g->T, g->V, s, t);
            if (id >= 0) memcpy(dst, emb + (long)id * g->E, sizeof(float) * g->E);
            else memset(dst, 0, sizeof(float) * g->E);
        }
}

/* One step of the cell for b rows (n = b·H units, rows contiguous): z (n, 4)
 * pre-activations in, activated gates out; c, tc, h (n) written; cp: c_{t-1}
 * (NULL at t = 0).  The g gates are doubled first, so that one vectorized
 * loop takes σ of all four gates, and g = 2σ(2z) − 1 = tanh z after it.
 * Built for AVX-512, AVX2 and baseline x86-64 (HF_CLONES: elementwise IEEE
 * operations without contraction, so every variant gives the same bits); the
 * baseline's 4-float vectors made it a fifth of a training step at B = 10
 * with the Cooperlake kernels. */
HF_CLONES static void cell_forward(long n, float *restrict z, const float *restrict cp, float *restrict c,
                         float *restrict tc, float *restrict h)
{
    for (long j = 0; j < n; j++) z[4 * j + 2] *= 2.0f;
    for (long k = 0; k < 4 * n; k++) z[k] = fsigm(z[k]);
    for (long j = 0; j < n; j++) z[4 * j + 2] = 2.0f * z[4 * j + 2] - 1.0f;
    if (cp)
        for (long j = 0; j < n; j++) c[j] = z[4 * j] * z[4 * j + 2] + z[4 * j + 1] * cp[j];
    else
        for (long j = 0; j < n; j++) c[j] = z[4 * j] * z[4 * j + 2];
    for (long j = 0; j < n; j++) tc[j] = 2.0f * fsigm(2.0f * c[j]) - 1.0f;
    for (long j = 0; j < n; j++) h[j] = z[4 * j + 3] * tc[j];
}

/* Layer l over the whole sequence of b samples, input a (T·b, in). */
static void layer_forward(const hf_model_t *m, hf_lstm_work_t *w, const float *params, int l, const float *a,
                          int b)
{
    const lgeom_t *g = &w->g;
    int H = g->H[l], G4 = 4 * H, in = g->in[l], T = g->T;
    long n = (long)T * b;
    const float *wih = params + m->tensors[T_WIH(l)].off, *whh = params + m->tensors[T_WHH(l)].off,
                *bias = params + m->tensors[T_B(l)].off;
    float *z = w->z[l];
    for (long r = 0; r < n; r++) memcpy(z + r * G4, bias, sizeof(float) * G4);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, G4, in, 1.0f, a, in, wih, in, 1.0f, z, G4);
    for (int t = 0; t < T; t++) {
        long o4 = (long)t * b * G4, o1 = (long)t * b * H;
        if (t) hf_gemm_fwd(b, G4, H, w->h[l] + o1 - (long)b * H, whh, z + o4);
        cell_forward((long)b * H, z + o4, t ? w->c[l] + o1 - (long)b * H : NULL, w->c[l] + o1, w->tc[l] + o1,
                     w->h[l] + o1);
    }
}

/* Forward of one sub-batch of b <= sb samples: logits (b, C) into w->logit. */
static void sub_forward(const hf_model_t *m, hf_lstm_work_t *w, const float *params, const float *x, int b)
{
    const lgeom_t *g = &w->g;
    embed(g, params + m->tensors[T_EMB].off, x, b, w->x0);
    for (int l = 0; l < g->L; l++) layer_forward(m, w, params, l, l ? w->h[l - 1] : w->x0, b);
    int Ht = g->H[g->L - 1];
    const float *hl = w->h[g->L - 1] + (long)(g->T - 1) * b * Ht;
    const float *fw = params + m->tensors[T_FCW(g->L)].off, *fb = params + m->tensors[T_FCB(g->L)].off;
    for (int s = 0; s < b; s++) memcpy(w->logit + (long)s * g->C, fb, sizeof(float) * g->C);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, g->C, Ht, 1.0f, hl, Ht, fw, Ht, 1.0f, w->logit, g->C);
}

void hf_lstm_forward(const hf_model_t *m, hf_lstm_work_t *w, const float *params, const float *x, int B,
                     float *logits)
{
    int C = w->g.C;
    for (int s0 = 0; s0 < B; s0 += w->sb) {
        int b = HF_MIN(w->sb, B - s0);
        sub_forward(m, w, params, x + (long)s0 * w->g.T, b);
        memcpy(logits + (long)s0 * C, w->logit, sizeof(float) * b * C);
    }
}

/* ------------------------------------------------------------------------ */
/* Backward through time                                                     */
/* ------------------------------------------------------------------------ */

/* One step of the cell's backward for n = b·H units (rows contiguous, as in
 * cell_forward).  dhin (n): dL/dh_t from above; dh (n): the recurrent part
 * (ignored when last); dc (n): dL/dc_t carried from t+1 (ignored when last),
 * replaced by dL/dc_{t-1}; cp: c_{t-1} (NULL at t = 0).  z (n, 4) holds the
 * activated gates and is replaced by dL/dz_t.  The loop is instantiated per
 * (last, cp) with the flags constant, so that it has no branch and vectorizes
 * (HF_CLONES; the same expressions, so the same bits, as the flags tested per
 * unit). */
HF_INLINE void cell_backward_units(long n, float *restrict z, const float *restrict cp, const float *restrict tc,
                                   const float *restrict dhin, const float *restrict dh, float *restrict dc,
                                   const int last, const int has_cp)
{
    for (long j = 0; j < n; j++) {
        float *q = z + 4 * j;
        float i = q[0], f = q[1], gg = q[2], o = q[3], t = tc[j];
        float d = dhin[j] + (last ? 0.0f : dh[j]);
        float c = (last ? 0.0f : dc[j]) + d * o * (1.0f - t * t);
        float cpv = has_cp ? cp[j] : 0.0f;
        q[0] = c * gg * i * (1.0f - i);
        q[1] = c * cpv * f * (1.0f - f);
        q[2] = c * i * (1.0f - gg * gg);
        q[3] = d * t * o * (1.0f - o);
        dc[j] = c * f;
    }
}

HF_CLONES static void cell_backward(long n, float *z, const float *cp, const float *tc, const float *dhin,
                                    const float *dh, float *dc, int last)
{
    if (last && cp) cell_backward_units(n, z, cp, tc, dhin, dh, dc, 1, 1);
    else if (last) cell_backward_units(n, z, cp, tc, dhin, dh, dc, 1, 0);
    else if (cp) cell_backward_units(n, z, cp, tc, dhin, dh, dc, 0, 1);
    else cell_backward_units(n, z, cp, tc, dhin, dh, dc, 0, 0);
}

/* cs (m) = the column sums of z (n, m), each summed top to bottom. */
HF_CLONES static void column_sums(long n, int m, const float *restrict z, float *restrict cs)
{
    memcpy(cs, z, sizeof(float) * m);
    for (long r = 1; r < n; r++)
        for (int k = 0; k < m; k++) cs[k] += z[r * m + k];
}

/* Backward of layer l for b samples: dout (T·b, H) = dL/dh (times B) from
 * above; gradients into grad (alpha, beta as sgemm); din (T·b, in) = dL/d(input). */
static void layer_backward(const hf_model_t *m, hf_lstm_work_t *w, const float *params, float *grad, int l,
                           const float *a, const float *dout, float *din, int b, float alpha, float beta)
{
    const lgeom_t *g = &w->g;
    int H = g->H[l], G4 = 4 * H, in = g->in[l], T = g->T;
    long n = (long)T * b;
    const hf_tensor_t *tw = &m->tensors[T_WIH(l)], *th = &m->tensors[T_WHH(l)], *tb = &m->tensors[T_B(l)];
    float *z = w->z[l];
    for (int t = T - 1; t >= 0; t--) {
        long o4 = (long)t * b * G4, o1 = (long)t * b * H;
        int last = t == T - 1;
        if (!last)  /* dh (b, H) = dZ_{t+1} · W_hh */
            hf_gemm_da(b, G4, H, z + o4 + (long)b * G4, params + th->off, w->dh);
        cell_backward((long)b * H, z + o4, t ? w->c[l] + o1 - (long)b * H : NULL, w->tc[l] + o1, dout + o1,
                      w->dh, w->dc, last);
    }
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, G4, in, (int)n, alpha, z, G4, a, in, beta,
                grad + tw->off, in);
    if (T > 1)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, G4, H, (int)(n - b), alpha, z + (long)b * G4, G4,
                    w->h[l], H, beta, grad + th->off, H);
    else if (beta == 0.0f)
        memset(grad + th->off, 0, sizeof(float) * th->n);
    float *cs = w->colsum, *db = grad + tb->off;
    column_sums(n, G4, z, cs);
    for (int k = 0; k < G4; k++) db[k] = (beta == 0.0f ? 0.0f : beta * db[k]) + alpha * cs[k];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, in, G4, 1.0f, z, G4, params + tw->off, in,
                0.0f, din, in);
}

/* Forward + backward of one sub-batch of b samples starting at sample s0 of
 * the batch of B; gradients added into grad (the first sub-batch overwrites). */
static double sub_step(const hf_model_t *m, hf_lstm_work_t *w, const float *params, float *grad, const float *x,
                       const int *y, const float *zt, float T, int b, int first, int B)
{
    const lgeom_t *g = &w->g;
    int L = g->L, Ht = g->H[L - 1], C = g->C;
    float alpha = 1.0f / B, beta = first ? 0.0f : 1.0f;
    sub_forward(m, w, params, x, b);
    double sum = zt ? hf_softmax_kl(w->logit, zt, C, b, T, w->dz)
                    : hf_softmax_xent(w->logit, C, b, 1, C, y, w->dz, NULL, NULL);
    /* classifier: dW = dzᵀ·h_last, db, and dL/dh of the top layer at the last step */
    const hf_tensor_t *fw = &m->tensors[T_FCW(L)], *fb = &m->tensors[T_FCB(L)];
    long lastoff = (long)(g->T - 1) * b * Ht;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C, Ht, b, alpha, w->dz, C, w->h[L - 1] + lastoff, Ht, beta,
                grad + fw->off, Ht);
    float *db = grad + fb->off;
    for (int k = 0; k < C; k++) {
        float cs = 0.0f;
        for (int s = 0; s < b; s++) cs += w->dz[(long)s * C + k];
        db[k] = (first ? 0.0f : db[k]) + alpha * cs;
    }
    float *dout = w->da[0], *din = w->da[1];
    memset(dout, 0, sizeof(float) * lastoff);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b, Ht, C, 1.0f, w->dz, C, params + fw->off, Ht, 0.0f,
                dout + lastoff, Ht);
    for (int l = L - 1; l >= 0; l--) {
        layer_backward(m, w, params, grad, l, l ? w->h[l - 1] : w->x0, dout, din, b, alpha, beta);
        float *t = dout;
        dout = din;
        din = t;
    }
    /* dout = dL/d(embeddings) (T·b, E): scatter-add into the rows of embed.weight */
    const hf_tensor_t *te = &m->tensors[T_EMB];
    float *de = grad + te->off;
    if (first) memset(de, 0, sizeof(float) * te->n);
    for (int t = 0; t < g->T; t++)
        for (int s = 0; s < b; s++) {
            int id = token(x, g->T, g->V, s, t);
            if (id < 0) continue;
            const float *src = dout + ((long)t * b + s) * g->E;
            float *dst = de + (long)id * g->E;
            for (int e = 0; e < g->E; e++) dst[e] += alpha * src[e];
        }
    return sum;
}

float hf_lstm_step(const hf_model_t *m, hf_lstm_work_t *w, const float *params, float *grad, const float *x,
                   const int *y, const float *zt, float T, int B)
{
    double sum = 0;
    int C = w->g.C;
    for (int s0 = 0; s0 < B; s0 += LSTM_SB) {
        int b = HF_MIN(LSTM_SB, B - s0);
        sum += sub_step(m, w, params, grad, x + (long)s0 * w->g.T, y ? y + s0 : NULL, zt ? zt + (long)s0 * C : NULL,
                        T, b, s0 == 0, B);
    }
    return (float)(sum / B);
}
