/*
 * conv_direct.c — direct convolution of one input channel (conv_direct.h).
 *
 * Both passes read the input through k shifted copies of its zero-padded
 * plane, one per kernel column kx: X_kx[(y + p)·w + x] = in[y][x + kx - p]
 * (0 outside the plane; rows [0,p) and [p+h, h+2p) zero).  Then the tap
 * (ky, kx) of output pixel i = y·w + x is X_kx[i + ky·w]: a linear offset, so
 * every loop runs over contiguous output pixels and vectorizes, with no
 * wrapped columns to mask (k planes of (h+k-1)·w floats: 18 KiB at 28x28,
 * k = 5 — in L1 with the tile being computed).
 *
 * Forward: a tile of FWD_CB output channels x FWD_PV output pixels lives in
 * registers (16 AVX-512 accumulators) through the k² taps, so each load of
 * input pixels feeds FWD_CB multiply-adds.  The last tile of a plane overlaps
 * the one before it instead of running short (a pixel's sum does not depend
 * on its tile: same bits).
 * Weight gradient: for a block of GRAD_CB channels and one kernel row ky, the
 * GRAD_CB x k products dout·X (plus the bias row's dout at ky = 0) are
 * accumulated in HF_CONV1_LANES-pixel vectors over the whole plane, each
 * X load feeding GRAD_CB channels and each dout load k taps.
 * Plain C loops built per instruction set (HF_CLONES) with -ffp-contract=off:
 * a product is rounded before it is added on every machine.  Zen's separate
 * add and multiply pipes run the pair at the FMA rate.
 */
#include "conv_direct.h"
#include "hf_util.h"
#include <string.h>

#define FWD_CB 8                   /* output channels per forward tile */
#define FWD_PV 32                  /* output pixels per forward tile */
#define GRAD_CB 4                  /* output channels per weight-gradient block */
#define GRAD_KB 5                  /* taps (of one kernel row) per weight-gradient block */
#define L HF_CONV1_LANES
#define FWD_NV (FWD_PV / L)

/* A vector of L floats (GCC vector extension: element-wise IEEE operations,
 * lowered to 1 AVX-512, 2 AVX2 or 4 SSE registers per clone).  GCC keeps
 * arrays of these in registers once their loops are unrolled, where it keeps
 * the accumulators of the equivalent scalar loops in memory (measured: the
 * forward at 37 GFLOP/s that way, 122 with vectors, Zen 5). */
typedef float vf __attribute__((vector_size(4 * L)));
#pragma GCC diagnostic ignored "-Wpsabi"   /* vf by value, inlined functions only */
HF_INLINE vf vload(const float *p)
{
    vf v;
    memcpy(&v, p, sizeof v);
    return v;
}
#define VSTORE(p, v) memcpy((p), &(v), sizeof(vf))   /* v an lvalue */

long hf_conv1_scratch(int h, int w, int k)
{
    return (long)k * (h + k - 1) * w;
}

long hf_conv1_acc_floats(int cout, int k)
{
    return (long)cout * (k * k + 1) * L;
}

/* The k shifted, column-masked, zero-padded copies of one plane (file comment). */
HF_CLONES static void shifted_planes(const float *restrict in, int h, int w, int k, float *restrict X)
{
    int p = (k - 1) / 2;
    long P = (long)(h + k - 1) * w;
    for (int kx = 0; kx < k; kx++) {
        float *restrict q = X + kx * P;
        int d = kx - p, x0 = d < 0 ? -d : 0, x1 = d > 0 ? w - d : w;   /* valid output columns */
        if (x1 < x0) x1 = x0;
        for (long i = 0; i < (long)p * w; i++) q[i] = 0.0f;
        for (int y = 0; y < h; y++) {
            float *restrict r = q + (long)(y + p) * w;
            const float *restrict s = in + (long)y * w + d;
            for (int x = 0; x < x0; x++) r[x] = 0.0f;
            for (int x = x0; x < x1; x++) r[x] = s[x];
            for (int x = x1; x < w; x++) r[x] = 0.0f;
        }
        for (long i = (long)(p + h) * w; i < P; i++) q[i] = 0.0f;
    }
}

/* The general tile: cb <= FWD_CB channels (weights wt, cb rows of k²) x
 * len <= FWD_PV pixels from x (X offset to the tile's first pixel):
 * out[c·ld + v] = bias[c] + Σ taps, taps in order. */
HF_INLINE void fwd_tile(const float *restrict x, long P, int w, int k, const float *restrict wt,
                        const float *restrict bias, int cb, int len, float *restrict out, long ld)
{
    float acc[FWD_CB][FWD_PV];
    int kk = k * k;
    for (int c = 0; c < cb; c++)
        for (int v = 0; v < len; v++) acc[c][v] = bias[c];
    for (int ky = 0; ky < k; ky++)
        for (int kx = 0; kx < k; kx++) {
            const float *restrict xs = x + kx * P + (long)ky * w;
            int t = ky * k + kx;
            for (int c = 0; c < cb; c++) {
                float wc = wt[c * kk + t];
                for (int v = 0; v < len; v++) acc[c][v] += wc * xs[v];
            }
        }
    for (int c = 0; c < cb; c++)
        for (int v = 0; v < len; v++) out[c * ld + v] = acc[c][v];
}

/* The same for a full tile, FWD_CB x FWD_PV, the same operations in the same
 * order per pixel, on vectors kept in registers. */
HF_INLINE void fwd_tile_full(const float *restrict x, long P, int w, int k, const float *restrict wt,
                             const float *restrict bias, float *restrict out, long ld)
{
    vf acc[FWD_CB][FWD_NV];
    int kk = k * k;
#pragma GCC unroll 8
    for (int c = 0; c < FWD_CB; c++)
#pragma GCC unroll 4
        for (int j = 0; j < FWD_NV; j++) acc[c][j] = (vf){0} + bias[c];
    for (int ky = 0; ky < k; ky++)
        for (int kx = 0; kx < k; kx++) {
            const float *restrict xs = x + kx * P + (long)ky * w;
            int t = ky * k + kx;
            vf xv[FWD_NV];
#pragma GCC unroll 4
            for (int j = 0; j < FWD_NV; j++) xv[j] = vload(xs + j * L);
#pragma GCC unroll 8
            for (int c = 0; c < FWD_CB; c++) {
                float wc = wt[c * kk + t];
#pragma GCC unroll 4
                for (int j = 0; j < FWD_NV; j++) acc[c][j] += wc * xv[j];
            }
        }
#pragma GCC unroll 8
    for (int c = 0; c < FWD_CB; c++)
#pragma GCC unroll 4
        for (int j = 0; j < FWD_NV; j++) VSTORE(out + c * ld + j * L, acc[c][j]);
}

/* One sample's plane: every channel block x pixel tile. */
HF_CLONES static void fwd_plane(const float *restrict X, int h, int w, int k, const float *restrict weight,
                                const float *restrict bias, int cout, float *restrict out, long ld)
{
    long N = (long)h * w, P = (long)(h + k - 1) * w;
    int kk = k * k;
    for (int c0 = 0; c0 < cout; c0 += FWD_CB) {
        int cb = HF_MIN(FWD_CB, cout - c0);
        const float *wt = weight + (long)c0 * kk, *b = bias + c0;
        float *o = out + c0 * ld;
        if (N < FWD_PV) {
            fwd_tile(X, P, w, k, wt, b, cb, (int)N, o, ld);
            continue;
        }
        for (long i0 = 0; i0 < N; i0 += FWD_PV) {
            long i = HF_MIN(i0, N - FWD_PV);   /* the last tile overlaps */
            if (cb == FWD_CB)
                fwd_tile_full(X + i, P, w, k, wt, b, o + i, ld);
            else
                fwd_tile(X + i, P, w, k, wt, b, cb, FWD_PV, o + i, ld);
        }
    }
}

void hf_conv1_forward(const float *in, long in_stride, int n, int h, int w, int k, const float *weight,
                      const float *bias, int cout, float *out, long ld, float *scratch)
{
    long N = (long)h * w;
    for (int s = 0; s < n; s++) {
        shifted_planes(in + s * in_stride, h, w, k, scratch);
        fwd_plane(scratch, h, w, k, weight, bias, cout, out + s * N, ld);
    }
}

/* Lane sums of one block, pixels [i0, N) of one plane: with the block's
 * accumulators A = acc + (ky·k + kx0)·L (channel c's at A + c·stride, tap j
 * L floats further, the bias row's at acc + c·stride + k²·L),
 * A[c][j][v] += dout[c][i]·X_(kx0+j)[i + ky·w] for the pixels i with
 * (i - i0) mod L = v, in pixel order (i0 a multiple of L), and, with bias,
 * the bias row's lanes += dout[c][i]. */
HF_INLINE void grad_block(const float *restrict x, long P, long i0, long N, int kb, const float *restrict d,
                          long ld, int cb, int bias, float *restrict A, float *restrict Ab, long stride)
{
    float a[GRAD_CB][GRAD_KB][L], ab[GRAD_CB][L];
    for (int c = 0; c < cb; c++) {
        for (int j = 0; j < kb; j++)
            for (int v = 0; v < L; v++) a[c][j][v] = A[c * stride + j * L + v];
        for (int v = 0; v < L; v++) ab[c][v] = Ab[c * stride + v];
    }
    for (long i = i0; i < N; i += L) {
        int r = (int)HF_MIN(L, N - i);
        for (int c = 0; c < cb; c++) {
            const float *restrict dc = d + c * ld + i;
            for (int j = 0; j < kb; j++)
                for (int v = 0; v < r; v++) a[c][j][v] += dc[v] * x[j * P + i + v];
            if (bias)
                for (int v = 0; v < r; v++) ab[c][v] += dc[v];
        }
    }
    for (int c = 0; c < cb; c++) {
        for (int j = 0; j < kb; j++)
            for (int v = 0; v < L; v++) A[c * stride + j * L + v] = a[c][j][v];
        for (int v = 0; v < L; v++) Ab[c * stride + v] = ab[c][v];
    }
}

/* The same for GRAD_CB channels x GRAD_KB taps from pixel 0, on vectors kept
 * in registers over the whole vectors of the plane; grad_block the rest. */
HF_INLINE void grad_block_full(const float *restrict x, long P, long N, const float *restrict d, long ld, int bias,
                               float *restrict A, float *restrict Ab, long stride)
{
    vf a[GRAD_CB][GRAD_KB], ab[GRAD_CB];
#pragma GCC unroll 4
    for (int c = 0; c < GRAD_CB; c++) {
#pragma GCC unroll 5
        for (int j = 0; j < GRAD_KB; j++) a[c][j] = vload(A + c * stride + j * L);
        ab[c] = vload(Ab + c * stride);
    }
    long i = 0;
    for (; i + L <= N; i += L) {
        vf xv[GRAD_KB];
#pragma GCC unroll 5
        for (int j = 0; j < GRAD_KB; j++) xv[j] = vload(x + j * P + i);
#pragma GCC unroll 4
        for (int c = 0; c < GRAD_CB; c++) {
            vf dv = vload(d + c * ld + i);
#pragma GCC unroll 5
            for (int j = 0; j < GRAD_KB; j++) a[c][j] += dv * xv[j];
            if (bias) ab[c] += dv;
        }
    }
#pragma GCC unroll 4
    for (int c = 0; c < GRAD_CB; c++) {
#pragma GCC unroll 5
        for (int j = 0; j < GRAD_KB; j++) VSTORE(A + c * stride + j * L, a[c][j]);
        VSTORE(Ab + c * stride, ab[c]);
    }
    if (i < N) grad_block(x, P, i, N, GRAD_KB, d, ld, GRAD_CB, bias, A, Ab, stride);
}

/* One sample's plane: every channel block x kernel row x tap block; the bias
 * row rides along with the first tap block. */
HF_CLONES static void grad_plane(const float *restrict X, int h, int w, int k, int cout, const float *restrict d,
                                 long ld, float *restrict acc)
{
    long N = (long)h * w, P = (long)(h + k - 1) * w, stride = (long)(k * k + 1) * L;
    for (int c0 = 0; c0 < cout; c0 += GRAD_CB) {
        int cb = HF_MIN(GRAD_CB, cout - c0);
        const float *dc = d + c0 * ld;
        float *ac = acc + c0 * stride, *Ab = ac + (long)k * k * L;
        for (int ky = 0; ky < k; ky++)
            for (int kx0 = 0; kx0 < k; kx0 += GRAD_KB) {
                int kb = HF_MIN(GRAD_KB, k - kx0), bias = ky == 0 && kx0 == 0;
                const float *x = X + kx0 * P + (long)ky * w;
                float *A = ac + (long)(ky * k + kx0) * L;
                if (cb == GRAD_CB && kb == GRAD_KB && bias)
                    grad_block_full(x, P, N, dc, ld, 1, A, Ab, stride);
                else if (cb == GRAD_CB && kb == GRAD_KB)
                    grad_block_full(x, P, N, dc, ld, 0, A, Ab, stride);
                else
                    grad_block(x, P, 0, N, kb, dc, ld, cb, bias, A, Ab, stride);
            }
    }
}

void hf_conv1_grad_acc(const float *in, long in_stride, int n, int h, int w, int k, int cout, const float *dout,
                       long ld, float *acc, float *scratch)
{
    long N = (long)h * w;
    for (int s = 0; s < n; s++) {
        shifted_planes(in + s * in_stride, h, w, k, scratch);
        grad_plane(scratch, h, w, k, cout, dout + s * N, ld, acc);
    }
}

void hf_conv1_grad_finish(const float *acc, int cout, int k, float alpha, float *dweight, float *dbias)
{
    int kk = k * k;
    for (int c = 0; c < cout; c++)
        for (int t = 0; t <= kk; t++) {
            const float *a = acc + ((long)c * (kk + 1) + t) * L;
            float s = 0.0f;
            for (int v = 0; v < L; v++) s += a[v];
            if (t < kk)
                dweight[c * kk + t] = alpha * s;
            else
                dbias[c] = alpha * s;
        }
}
