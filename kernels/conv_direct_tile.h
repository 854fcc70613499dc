/*
 * conv_direct_tile.h — the register-tiled loops of conv_direct.c, included
 * there once per vector width.  The includer defines:
 *   VW    floats per vector (divides HF_CONV1_LANES)
 *   SFX   the suffix of this width's function names
 *   ATTR  the target attribute(s) of its plane functions
 *   FCB, FNV   forward tile: FCB channels x FNV vectors of pixels
 *   GCB   weight-gradient block: GCB channels (x GRAD_KB taps)
 * Every width computes the same operations in the same order for every
 * pixel and every lane (conv_direct.h), so the widths give the same bits.
 */
#define CD_CAT_(a, b) a##b
#define CD_CAT(a, b) CD_CAT_(a, b)
#define FN(name) CD_CAT(name, SFX)
#define VT FN(vf)
#define PV (FCB * 0 + FNV * VW)

typedef float VT __attribute__((vector_size(4 * VW)));
HF_INLINE VT FN(vload)(const float *p)
{
    VT v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* fwd_tile for a full tile, FCB channels x PV pixels, on vectors kept in
 * registers through the k² taps. */
HF_INLINE void FN(fwd_full)(const float *restrict x, long P, int w, int k, const float *restrict wt,
                            const float *restrict bias, float *restrict out, long ld)
{
    VT acc[FCB][FNV];
    int kk = k * k;
#pragma GCC unroll 8
    for (int c = 0; c < FCB; c++)
#pragma GCC unroll 4
        for (int j = 0; j < FNV; j++) acc[c][j] = (VT){0} + bias[c];
    for (int ky = 0; ky < k; ky++)
        for (int kx = 0; kx < k; kx++) {
            const float *restrict xs = x + kx * P + (long)ky * w;
            int t = ky * k + kx;
            VT xv[FNV];
#pragma GCC unroll 4
            for (int j = 0; j < FNV; j++) xv[j] = FN(vload)(xs + j * VW);
#pragma GCC unroll 8
            for (int c = 0; c < FCB; c++) {
                float wc = wt[c * kk + t];
#pragma GCC unroll 4
                for (int j = 0; j < FNV; j++) acc[c][j] += wc * xv[j];
            }
        }
#pragma GCC unroll 8
    for (int c = 0; c < FCB; c++)
#pragma GCC unroll 4
        for (int j = 0; j < FNV; j++) memcpy(out + c * ld + j * VW, &acc[c][j], sizeof(VT));
}

/* One sample's plane: every channel block x pixel tile; the last tile of a
 * row of tiles overlaps the one before it. */
ATTR static void FN(fwd_plane)(const float *restrict X, int h, int w, int k, const float *restrict weight,
                               const float *restrict bias, int cout, float *restrict out, long ld)
{
    long N = (long)h * w, P = (long)(h + k - 1) * w;
    int kk = k * k;
    for (int c0 = 0; c0 < cout; c0 += FCB) {
        int cb = HF_MIN(FCB, cout - c0);
        const float *wt = weight + (long)c0 * kk, *b = bias + c0;
        float *o = out + c0 * ld;
        if (N < PV) {
            fwd_tile(X, P, w, k, wt, b, cb, (int)N, o, ld);
            continue;
        }
        for (long i0 = 0; i0 < N; i0 += PV) {
            long i = HF_MIN(i0, N - PV);
            if (cb == FCB)
                FN(fwd_full)(X + i, P, w, k, wt, b, o + i, ld);
            else
                fwd_tile(X + i, P, w, k, wt, b, cb, PV, o + i, ld);
        }
    }
}

/* grad_block for GCB channels x GRAD_KB taps from pixel 0, on vectors kept in
 * registers over the plane's whole L-pixel groups, lanes [q·VW, (q+1)·VW) of
 * every group in pass q; grad_block the pixels after the last whole group. */
HF_INLINE void FN(grad_full)(const float *restrict x, long P, long N, const float *restrict d, long ld, int bias,
                             float *restrict A, float *restrict Ab, long stride)
{
    long nfull = N / L * L;
    for (int q = 0; q < L / VW; q++) {
        VT a[GCB][GRAD_KB], ab[GCB];
#pragma GCC unroll 4
        for (int c = 0; c < GCB; c++) {
#pragma GCC unroll 5
            for (int j = 0; j < GRAD_KB; j++) a[c][j] = FN(vload)(A + c * stride + j * L + q * VW);
            ab[c] = FN(vload)(Ab + c * stride + q * VW);
        }
        for (long i = q * VW; i < nfull; i += L) {
            VT xv[GRAD_KB];
#pragma GCC unroll 5
            for (int j = 0; j < GRAD_KB; j++) xv[j] = FN(vload)(x + j * P + i);
#pragma GCC unroll 4
            for (int c = 0; c < GCB; c++) {
                VT dv = FN(vload)(d + c * ld + i);
#pragma GCC unroll 5
                for (int j = 0; j < GRAD_KB; j++) a[c][j] += dv * xv[j];
                if (bias) ab[c] += dv;
            }
        }
#pragma GCC unroll 4
        for (int c = 0; c < GCB; c++) {
#pragma GCC unroll 5
            for (int j = 0; j < GRAD_KB; j++) memcpy(A + c * stride + j * L + q * VW, &a[c][j], sizeof(VT));
            memcpy(Ab + c * stride + q * VW, &ab[c], sizeof(VT));
        }
    }
    if (nfull < N) grad_block(x, P, nfull, N, GRAD_KB, d, ld, GCB, bias, A, Ab, stride);
}

/* One sample's plane: every channel block x kernel row x tap block; the bias
 * row rides along with the first tap block. */
ATTR static void FN(grad_plane)(const float *restrict X, int h, int w, int k, int cout, const float *restrict d,
                                long ld, float *restrict acc)
{
    long N = (long)h * w, P = (long)(h + k - 1) * w, stride = (long)(k * k + 1) * L;
    for (int c0 = 0; c0 < cout; c0 += GCB) {
        int cb = HF_MIN(GCB, cout - c0);
        const float *dc = d + c0 * ld;
        float *ac = acc + c0 * stride, *Ab = ac + (long)k * k * L;
        for (int ky = 0; ky < k; ky++)
            for (int kx0 = 0; kx0 < k; kx0 += GRAD_KB) {
                int kb = HF_MIN(GRAD_KB, k - kx0), bias = ky == 0 && kx0 == 0;
                const float *x = X + kx0 * P + (long)ky * w;
                float *A = ac + (long)(ky * k + kx0) * L;
                if (cb == GCB && kb == GRAD_KB && bias)
                    FN(grad_full)(x, P, N, dc, ld, 1, A, Ab, stride);
                else if (cb == GCB && kb == GRAD_KB)
                    FN(grad_full)(x, P, N, dc, ld, 0, A, Ab, stride);
                else
                    grad_block(x, P, 0, N, kb, dc, ld, cb, bias, A, Ab, stride);
            }
    }
}

#undef FN
#undef VT
#undef PV
#undef CD_CAT
#undef CD_CAT_
