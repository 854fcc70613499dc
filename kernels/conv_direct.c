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
 * The register tiles are GCC vectors (element-wise IEEE operations: GCC keeps
 * arrays of them in registers once their loops are unrolled, where it kept
 * the scalar loops' accumulators in memory: 37 GFLOP/s forward that way, 122
 * with vectors, Zen 5), of 16 floats on AVX-512 machines and 8 elsewhere
 * (conv_direct_tile.h, included once per width; the same lanes, the same
 * bits), with -ffp-contract=off: a product is rounded before it is added on
 * every machine.  Zen's separate add and multiply pipes run the pair at the
 * FMA rate.
 */
#include "conv_direct.h"
#include "hf_util.h"
#include <string.h>

#define FWD_CB_MAX 8               /* the largest forward tile: channels */
#define FWD_PV_MAX 32              /* and pixels */
#define GRAD_CB_MAX 4              /* the largest weight-gradient block: channels */
#define GRAD_KB 5                  /* taps (of one kernel row) per weight-gradient block */
#define L HF_CONV1_LANES
#pragma GCC diagnostic ignored "-Wpsabi"   /* vectors by value: inlined functions only */

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

/* The general tile: cb <= FWD_CB_MAX channels (weights wt, cb rows of k²) x
 * len <= FWD_PV_MAX pixels from x (X offset to the tile's first pixel):
 * out[c·ld + v] = bias[c] + Σ taps, taps in order. */
HF_INLINE void fwd_tile(const float *restrict x, long P, int w, int k, const float *restrict wt,
                        const float *restrict bias, int cb, int len, float *restrict out, long ld)
{
    float acc[FWD_CB_MAX][FWD_PV_MAX];
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

/* Lane sums of one block, pixels [i0, N) of one plane: with the block's
 * accumulators A = acc + (ky·k + kx0)·L (channel c's at A + c·stride, tap j
 * L floats further, the bias row's at acc + c·stride + k²·L),
 * A[c][j][v] += dout[c][i]·X_(kx0+j)[i + ky·w] for the pixels i with
 * (i - i0) mod L = v, in pixel order (i0 a multiple of L), and, with bias,
 * the bias row's lanes += dout[c][i]. */
HF_INLINE void grad_block(const float *restrict x, long P, long i0, long N, int kb, const float *restrict d,
                          long ld, int cb, int bias, float *restrict A, float *restrict Ab, long stride)
{
    float a[GRAD_CB_MAX][GRAD_KB][L], ab[GRAD_CB_MAX][L];
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

/* The vector loops, once per width: 16 floats (one AVX-512 register) where
 * the CPU has AVX-512, else 8 (one AVX2 register, or two SSE ones).  A GCC
 * vector of 16 floats on AVX2 is split in memory, not in registers (measured:
 * 3.5 GFLOP/s against 109 with AVX-512, Zen 5), hence two widths rather than
 * one width built per instruction set. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define CD_WIDE 1
#define VW 16
#define SFX _v16
#define ATTR __attribute__((target("avx512f")))
#define FCB 8
#define FNV 2
#define GCB 4
#include "conv_direct_tile.h"
#undef VW
#undef SFX
#undef ATTR
#undef FCB
#undef FNV
#undef GCB
#endif
#define VW 8
#define SFX _v8
#define ATTR HF_CLONES
#define FCB 4
#define FNV 2
#define GCB 2
#include "conv_direct_tile.h"

static int force_narrow;   /* hf_conv1_narrow */

int hf_conv1_narrow(int on)
{
    int was = force_narrow;
    force_narrow = on != 0;
    return was;
}

HF_INLINE int wide(void)
{
#ifdef CD_WIDE
    return !force_narrow && __builtin_cpu_supports("avx512f");
#else
    return 0;
#endif
}

static void fwd_plane(const float *X, int h, int w, int k, const float *weight, const float *bias, int cout,
                      float *out, long ld)
{
#ifdef CD_WIDE
    if (wide()) {
        fwd_plane_v16(X, h, w, k, weight, bias, cout, out, ld);
        return;
    }
#endif
    fwd_plane_v8(X, h, w, k, weight, bias, cout, out, ld);
}

static void grad_plane(const float *X, int h, int w, int k, int cout, const float *d, long ld, float *acc)
{
#ifdef CD_WIDE
    if (wide()) {
        grad_plane_v16(X, h, w, k, cout, d, ld, acc);
        return;
    }
#endif
    grad_plane_v8(X, h, w, k, cout, d, ld, acc);
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
