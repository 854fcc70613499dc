/*
 * winograd.c — Winograd convolutions on 6x6 tiles (winograd.h).
 *
 * F(m x m, r x r), m + r - 1 = 6, with the points 0, 1, -1, 2, -2, ∞:
 *   forward        Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A     per tile and channel pair
 * so with U = G g Gᵀ (per output k, input c), V = Bᵀ d B (per c, tile t) and
 * xi one of the 36 tile positions, M_xi = U_xi V_xi is one sgemm (K x C times
 * C x T) and Y = Aᵀ M A.  The backward passes are the transposes:
 *   input gradient dM = A dY Aᵀ,  dV_xi = U_xiᵀ dM_xi,  din += B dV Bᵀ
 *                  (overlap-add: neighbouring tiles share r - 1 rows/columns)
 *   weight gradient dU_xi = Σ_t dM_xi V_xiᵀ,  dw += alpha · Gᵀ dU G.
 * G_j(k) = α_jᵏ / Π_{l≠j}(α_j − α_l) and Aᵀ_i(j) = α_jⁱ (∞: the last row and
 * column are e_r, e_m); Bᵀ is the same 6x6 for r = 3 and r = 5.
 *
 * Tiles: ceil(h/m) x ceil(w/m) per sample, tile (ty, tx) reading input rows
 * ty·m - p .. ty·m - p + 5 (p = (r-1)/2, zeros outside) and writing output
 * rows ty·m .. ty·m + m - 1 (clipped at the bottom and right edges).  The
 * n·tiles tiles of a call run in chunks of chunk_tiles() (V and M of a chunk
 * within CHUNK_FLOATS); the transforms work on WL tiles (or channel pairs) at
 * once, one SIMD lane each, so their loops vectorize without reordering any
 * sum (each lane is one tile's own arithmetic).
 */
#include "winograd.h"
#include "hf_util.h"
#include <cblas.h>
#include <string.h>

#define WL 16          /* lanes: tiles (or weight pairs) transformed at once */
#define NT 36          /* tile positions */
/* Floats of V and M (or dM) of one chunk of tiles: 4 MiB.  Measured (thread
 * CPU time of a ResNet-18 training step, B = 32, group norm, groups of 32,
 * Haswell kernels, the least of 5 steps, shared 2-core VM at load ≈ 6.5):
 * 2^19 floats 0.855-0.988 s, 2^20 0.811-0.859 s, 2^21 0.844-0.870 s.
 * Fewer input channels than MIN_CIN: through im2col + sgemm (the ResNet's
 * 3-channel stem through Winograd: 0.802 s against 0.792-0.885 s, no gain,
 * so it keeps gemm's bits). */
#ifndef MIN_CIN
#define MIN_CIN 4
#endif
#ifndef CHUNK_FLOATS
#define CHUNK_FLOATS ((long)1 << 20)
#endif

/* Bᵀ (6 x 6), the input transform of both. */
HF_INLINE const float *input_matrix(void)
{
    static const float bt[36] = {
        4, 0, -5, 0, 1, 0,
        0, -4, -4, 1, 1, 0,
        0, 4, -4, -1, 1, 0,
        0, -2, -1, 2, 1, 0,
        0, 2, -1, -2, 1, 0,
        0, 4, 0, -5, 0, 1,
    };
    return bt;
}

/* G (6 x r), the filter transform. */
HF_INLINE const float *filter_matrix(int r)
{
    static const float g3[18] = {
        1.0f / 4, 0, 0,
        -1.0f / 6, -1.0f / 6, -1.0f / 6,
        -1.0f / 6, 1.0f / 6, -1.0f / 6,
        1.0f / 24, 1.0f / 12, 1.0f / 6,
        1.0f / 24, -1.0f / 12, 1.0f / 6,
        0, 0, 1,
    };
    static const float g5[30] = {
        1.0f / 4, 0, 0, 0, 0,
        -1.0f / 6, -1.0f / 6, -1.0f / 6, -1.0f / 6, -1.0f / 6,
        -1.0f / 6, 1.0f / 6, -1.0f / 6, 1.0f / 6, -1.0f / 6,
        1.0f / 24, 1.0f / 12, 1.0f / 6, 1.0f / 3, 2.0f / 3,
        1.0f / 24, -1.0f / 12, 1.0f / 6, -1.0f / 3, 2.0f / 3,
        0, 0, 0, 0, 1,
    };
    return r == 3 ? g3 : g5;
}

/* Aᵀ (m x 6), the output transform. */
HF_INLINE const float *output_matrix(int r)
{
    static const float at4[24] = {
        1, 1, 1, 1, 1, 0,
        0, 1, -1, 2, -2, 0,
        0, 1, 1, 4, 4, 0,
        0, 1, -1, 8, -8, 1,
    };
    static const float at2[12] = {
        1, 1, 1, 1, 1, 0,
        0, 1, -1, 2, -2, 1,
    };
    return r == 3 ? at4 : at2;
}

/* A linear map P (p x a, P(i,j) = P[i·pi + j·pj]) on lane vectors:
 * y[i·ys + l] = Σ_j P(i,j) x[j·xs + l], the nonzero terms in ascending j.
 * Always inlined with P one of the constant matrices above and constant
 * sizes: the loops unroll and the coefficients fold into the code (x·1 is x
 * exactly), leaving one vector multiplication and addition per nonzero. */
#define UNROLL _Pragma("GCC unroll 8")
HF_INLINE void mat_lanes(const float *P, int pi, int pj, int p, int a, const float *x, long xs, float *y, long ys)
{
    UNROLL for (int i = 0; i < p; i++) {
        float acc[WL];
        int first = 1;
        UNROLL for (int j = 0; j < a; j++) {
            float c = P[i * pi + j * pj];
            if (c == 0.0f) continue;
            const float *xj = x + j * xs;
            if (first)
                for (int l = 0; l < WL; l++) acc[l] = c * xj[l];
            else
                for (int l = 0; l < WL; l++) acc[l] += c * xj[l];
            first = 0;
        }
        for (int l = 0; l < WL; l++) y[i * ys + l] = first ? 0.0f : acc[l];
    }
}

/* Y (p x p lane vectors) = P X Pᵀ for X (a x a), P as in mat_lanes; tmp: p·a·WL. */
HF_INLINE void tr2(const float *P, int pi, int pj, int p, int a, const float *X, float *Y, float *tmp)
{
    UNROLL for (int j = 0; j < a; j++)
        mat_lanes(P, pi, pj, p, a, X + j * WL, (long)a * WL, tmp + j * WL, (long)a * WL);
    UNROLL for (int i = 0; i < p; i++)
        mat_lanes(P, pi, pj, p, a, tmp + (long)i * a * WL, WL, Y + (long)i * p * WL, WL);
}

typedef struct {
    const hf_wino_t *g;
    int m, p, th, tw;    /* output tile size, padding, tiles down and across */
    long tiles;          /* per sample */
} plan_t;

static plan_t plan_of(const hf_wino_t *g)
{
    plan_t q;
    q.g = g;
    q.m = 7 - g->r;
    q.p = (g->r - 1) / 2;
    q.th = (g->h + q.m - 1) / q.m;
    q.tw = (g->w + q.m - 1) / q.m;
    q.tiles = (long)q.th * q.tw;
    return q;
}

/* Tiles per chunk: as many as keep its V and M within CHUNK_FLOATS, a
 * multiple of WL, at least WL (a function of the geometry only). */
static long chunk_tiles(const hf_wino_t *g)
{
    long per = (long)NT * (g->cin + g->cout), t = CHUNK_FLOATS / per / WL * WL;
    return HF_MAX((long)WL, t);
}

int hf_wino_supported(int k, int s, int cin) { return s == 1 && (k == 3 || k == 5) && cin >= MIN_CIN; }

int hf_wino_samples(const hf_wino_t *g)
{
    plan_t q = plan_of(g);
    return (int)HF_MAX(1L, HF_MIN(chunk_tiles(g) / q.tiles, 1L << 20));
}

size_t hf_wino_scratch(const hf_wino_t *g)
{
    plan_t q = plan_of(g);
    size_t T = (size_t)HF_MIN(chunk_tiles(g), (long)g->n * q.tiles);
    return (size_t)NT * (2 * (size_t)g->cin * g->cout + (size_t)(g->cin + g->cout) * T);
}

/* Where a block of lanes' tiles lie: tile t0 + l (l < nl) of the call. */
typedef struct {
    int nl;
    int all_in;          /* every lane's 6x6 input window inside the image (nl = WL) */
    long s[WL];          /* sample */
    int y0[WL], x0[WL];  /* output origin (input origin: minus p) */
    int in[WL];          /* the input window inside the image (then the output tile too) */
    int all_full;        /* every lane's m x m output tile inside the image (nl = WL) */
} lanes_t;

static void lanes_of(const plan_t *q, long t0, int nl, lanes_t *L)
{
    const hf_wino_t *g = q->g;
    L->nl = nl;
    L->all_in = L->all_full = nl == WL;
    for (int l = 0; l < nl; l++) {
        long t = t0 + l, r = t % q->tiles;
        L->s[l] = t / q->tiles;
        L->y0[l] = (int)(r / q->tw) * q->m;
        L->x0[l] = (int)(r % q->tw) * q->m;
        L->in[l] = L->y0[l] >= q->p && L->x0[l] >= q->p && L->y0[l] - q->p + 6 <= g->h &&
                   L->x0[l] - q->p + 6 <= g->w;
        L->all_in &= L->in[l];
        L->all_full &= L->y0[l] + q->m <= g->h && L->x0[l] + q->m <= g->w;
    }
}

/* X[(i·6 + j)·WL + l] = channel plane src + s·ss at the 6x6 input window of
 * lane l, zeros outside the image and in unused lanes (X is not cleared
 * first: each lane writes its 36 entries). */
HF_INLINE void gather6(const plan_t *q, const lanes_t *L, const float *src, long ss, float *X)
{
    int h = q->g->h, w = q->g->w;
    for (int l = 0; l < WL; l++) {
        int y0 = L->y0[l] - q->p, x0 = L->x0[l] - q->p;
        if (l < L->nl && L->in[l]) {
            const float *r = src + L->s[l] * ss + (long)y0 * w + x0;
            UNROLL for (int i = 0; i < 6; i++)
                UNROLL for (int j = 0; j < 6; j++) X[(i * 6 + j) * WL + l] = r[(long)i * w + j];
            continue;
        }
        UNROLL for (int e = 0; e < NT; e++) X[e * WL + l] = 0.0f;
        if (l >= L->nl) continue;
        const float *b = src + L->s[l] * ss;
        for (int i = HF_MAX(0, -y0); i < HF_MIN(6, h - y0); i++)
            for (int j = HF_MAX(0, -x0); j < HF_MIN(6, w - x0); j++)
                X[(i * 6 + j) * WL + l] = b[(long)(y0 + i) * w + x0 + j];
    }
}

/* dst[l] = Y[l] for the nl lanes in use. */
HF_INLINE void put_lanes(float *dst, const float *Y, int nl)
{
    if (nl == WL)
        for (int l = 0; l < WL; l++) dst[l] = Y[l];
    else
        for (int l = 0; l < nl; l++) dst[l] = Y[l];
}

/* X[xi·WL + l] = src[xi·stride + l] for the nl lanes in use (zeros beyond). */
HF_INLINE void get_lanes(float *X, const float *src, long stride, int nl)
{
    for (int xi = 0; xi < NT; xi++) {
        if (nl == WL)
            for (int l = 0; l < WL; l++) X[xi * WL + l] = src[xi * stride + l];
        else
            for (int l = 0; l < WL; l++) X[xi * WL + l] = l < nl ? src[xi * stride + l] : 0.0f;
    }
}

/* V (chunk layout: V[xi·C·ldt + c·ldt + tt]) of the lanes starting at chunk
 * tile tt, every input channel. */
HF_CLONES static void input_block(const plan_t *q, const lanes_t *L, const float *in, float *V, long ldt, long tt)
{
    const hf_wino_t *g = q->g;
    float X[NT * WL], Y[NT * WL], tmp[NT * WL];
    for (int c = 0; c < g->cin; c++) {
        gather6(q, L, in + c * g->ics, g->is, X);
        tr2(input_matrix(), 6, 1, 6, 6, X, Y, tmp);
        for (int xi = 0; xi < NT; xi++) put_lanes(V + ((long)xi * g->cin + c) * ldt + tt, Y + xi * WL, L->nl);
    }
}

/* out (+)= Aᵀ M A of the lanes' tiles, every output channel, clipped. */
HF_INLINE void output_block_r(const plan_t *q, const lanes_t *L, const float *M, long ldt, long tt, float *out,
                              int add, int r)
{
    const hf_wino_t *g = q->g;
    const int m = 7 - r;
    float X[NT * WL], Y[NT * WL], tmp[NT * WL];
    for (int k = 0; k < g->cout; k++) {
        get_lanes(X, M + (long)k * ldt + tt, (long)g->cout * ldt, L->nl);
        tr2(output_matrix(r), 6, 1, m, 6, X, Y, tmp);
        for (int l = 0; l < L->nl; l++) {
            float *o = out + L->s[l] * g->os + k * g->ocs + (long)L->y0[l] * g->w + L->x0[l];
            int ny = HF_MIN(m, g->h - L->y0[l]), nx = HF_MIN(m, g->w - L->x0[l]);
            for (int i = 0; i < ny; i++)
                for (int j = 0; j < nx; j++) {
                    float v = Y[(i * m + j) * WL + l];
                    o[(long)i * g->w + j] = add ? o[(long)i * g->w + j] + v : v;
                }
        }
    }
}
HF_CLONES static void output_block(const plan_t *q, const lanes_t *L, const float *M, long ldt, long tt, float *out,
                                   int add)
{
    if (q->g->r == 3)
        output_block_r(q, L, M, ldt, tt, out, add, 3);
    else
        output_block_r(q, L, M, ldt, tt, out, add, 5);
}

/* dM = A dY Aᵀ of the lanes' tiles (dY zero outside the image), every output
 * channel, into the chunk layout. */
HF_INLINE void dout_block_r(const plan_t *q, const lanes_t *L, const float *dout, float *dM, long ldt, long tt, int r)
{
    const hf_wino_t *g = q->g;
    const int m = 7 - r;
    float X[NT * WL], Y[NT * WL], tmp[NT * WL];
    for (int k = 0; k < g->cout; k++) {
        if (!L->all_full) memset(X, 0, sizeof X);
        for (int l = 0; l < L->nl; l++) {
            const float *o = dout + L->s[l] * g->os + k * g->ocs + (long)L->y0[l] * g->w + L->x0[l];
            int ny = HF_MIN(m, g->h - L->y0[l]), nx = HF_MIN(m, g->w - L->x0[l]);
            for (int i = 0; i < ny; i++)
                for (int j = 0; j < nx; j++) X[(i * m + j) * WL + l] = o[(long)i * g->w + j];
        }
        tr2(output_matrix(r), 1, 6, 6, m, X, Y, tmp);
        for (int xi = 0; xi < NT; xi++) put_lanes(dM + ((long)xi * g->cout + k) * ldt + tt, Y + xi * WL, L->nl);
    }
}
HF_CLONES static void dout_block(const plan_t *q, const lanes_t *L, const float *dout, float *dM, long ldt, long tt)
{
    if (q->g->r == 3)
        dout_block_r(q, L, dout, dM, ldt, tt, 3);
    else
        dout_block_r(q, L, dout, dM, ldt, tt, 5);
}

/* din += B dV Bᵀ of the lanes' tiles, every input channel: each tile's 6x6
 * window added where it lies inside the image, tiles in order. */
HF_CLONES static void din_block(const plan_t *q, const lanes_t *L, const float *dV, long ldt, long tt, float *din,
                                long dis)
{
    const hf_wino_t *g = q->g;
    int h = g->h, w = g->w;
    float X[NT * WL], Y[NT * WL], tmp[NT * WL];
    for (int c = 0; c < g->cin; c++) {
        get_lanes(X, dV + (long)c * ldt + tt, (long)g->cin * ldt, L->nl);
        tr2(input_matrix(), 1, 6, 6, 6, X, Y, tmp);
        for (int l = 0; l < L->nl; l++) {
            int y0 = L->y0[l] - q->p, x0 = L->x0[l] - q->p;
            float *d = din + L->s[l] * dis + c * g->ics;
            if (L->in[l]) {
                float *r = d + (long)y0 * w + x0;
                UNROLL for (int i = 0; i < 6; i++)
                    UNROLL for (int j = 0; j < 6; j++) r[(long)i * w + j] += Y[(i * 6 + j) * WL + l];
                continue;
            }
            for (int i = HF_MAX(0, -y0); i < HF_MIN(6, h - y0); i++)
                for (int j = HF_MAX(0, -x0); j < HF_MIN(6, w - x0); j++)
                    d[(long)(y0 + i) * w + x0 + j] += Y[(i * 6 + j) * WL + l];
        }
    }
}

/* U_xi (K x C, U[xi·K·C + k·C + c]) = (G g Gᵀ)_xi, WL (k, c) pairs at a time. */
HF_INLINE void filter_transform_r(const plan_t *q, const float *wt, float *U, int r)
{
    const hf_wino_t *g = q->g;
    const int rr = r * r;
    long KC = (long)g->cout * g->cin;
    float X[NT * WL], Y[NT * WL], tmp[NT * WL];
    for (long p0 = 0; p0 < KC; p0 += WL) {
        int nl = (int)HF_MIN((long)WL, KC - p0);
        if (nl < WL) memset(X, 0, sizeof X);
        for (int l = 0; l < nl; l++)
            UNROLL for (int e = 0; e < rr; e++) X[e * WL + l] = wt[(p0 + l) * rr + e];
        tr2(filter_matrix(r), r, 1, 6, r, X, Y, tmp);
        for (int xi = 0; xi < NT; xi++) put_lanes(U + xi * KC + p0, Y + xi * WL, nl);
    }
}
HF_CLONES static void filter_transform(const plan_t *q, const float *wt, float *U)
{
    if (q->g->r == 3)
        filter_transform_r(q, wt, U, 3);
    else
        filter_transform_r(q, wt, U, 5);
}

/* dw += alpha · Gᵀ dU_xi G, WL (k, c) pairs at a time. */
HF_INLINE void filter_backward_r(const plan_t *q, const float *dU, float alpha, float *dw, int r)
{
    const hf_wino_t *g = q->g;
    const int rr = r * r;
    long KC = (long)g->cout * g->cin;
    float X[NT * WL], Y[NT * WL], tmp[NT * WL];
    for (long p0 = 0; p0 < KC; p0 += WL) {
        int nl = (int)HF_MIN((long)WL, KC - p0);
        get_lanes(X, dU + p0, KC, nl);
        tr2(filter_matrix(r), 1, r, r, 6, X, Y, tmp);
        for (int l = 0; l < nl; l++)
            UNROLL for (int e = 0; e < rr; e++) dw[(p0 + l) * rr + e] += alpha * Y[e * WL + l];
    }
}
HF_CLONES static void filter_backward(const plan_t *q, const float *dU, float alpha, float *dw)
{
    if (q->g->r == 3)
        filter_backward_r(q, dU, alpha, dw, 3);
    else
        filter_backward_r(q, dU, alpha, dw, 5);
}

void hf_wino_forward(const hf_wino_t *g, const float *wt, const float *in, float *out, int add, float *scratch)
{
    plan_t q = plan_of(g);
    int C = g->cin, K = g->cout;
    long KC = (long)K * C, total = (long)g->n * q.tiles, Tb = chunk_tiles(g), ld = HF_MIN(Tb, total);
    float *U = scratch, *V = U + NT * KC, *M = V + NT * C * ld;
    filter_transform(&q, wt, U);
    for (long t0 = 0; t0 < total; t0 += Tb) {
        long Tc = HF_MIN(Tb, total - t0);
        lanes_t L;
        for (long tt = 0; tt < Tc; tt += WL) {
            lanes_of(&q, t0 + tt, (int)HF_MIN((long)WL, Tc - tt), &L);
            input_block(&q, &L, in, V, Tc, tt);
        }
        for (int xi = 0; xi < NT; xi++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, K, (int)Tc, C, 1.0f, U + xi * KC, C,
                        V + xi * C * Tc, (int)Tc, 0.0f, M + xi * K * Tc, (int)Tc);
        for (long tt = 0; tt < Tc; tt += WL) {
            lanes_of(&q, t0 + tt, (int)HF_MIN((long)WL, Tc - tt), &L);
            output_block(&q, &L, M, Tc, tt, out, add);
        }
    }
}

void hf_wino_backward(const hf_wino_t *g, const float *wt, const float *in, const float *dout, float alpha,
                      float *dw, float *din, long dis, float *scratch)
{
    plan_t q = plan_of(g);
    int C = g->cin, K = g->cout;
    long KC = (long)K * C, total = (long)g->n * q.tiles, Tb = chunk_tiles(g), ld = HF_MIN(Tb, total);
    float *U = scratch, *dU = U + NT * KC, *V = dU + NT * KC, *dM = V + NT * C * ld;
    if (din) filter_transform(&q, wt, U);
    for (long t0 = 0; t0 < total; t0 += Tb) {
        long Tc = HF_MIN(Tb, total - t0);
        lanes_t L;
        for (long tt = 0; tt < Tc; tt += WL) {
            lanes_of(&q, t0 + tt, (int)HF_MIN((long)WL, Tc - tt), &L);
            input_block(&q, &L, in, V, Tc, tt);
            dout_block(&q, &L, dout, dM, Tc, tt);
        }
        for (int xi = 0; xi < NT; xi++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, K, C, (int)Tc, 1.0f, dM + xi * K * Tc, (int)Tc,
                        V + xi * C * Tc, (int)Tc, t0 ? 1.0f : 0.0f, dU + xi * KC, C);
        if (!din) continue;
        for (int xi = 0; xi < NT; xi++)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C, (int)Tc, K, 1.0f, U + xi * KC, C,
                        dM + xi * K * Tc, (int)Tc, 0.0f, V + xi * C * Tc, (int)Tc);
        for (long tt = 0; tt < Tc; tt += WL) {
            lanes_of(&q, t0 + tt, (int)HF_MIN((long)WL, Tc - tt), &L);
            din_block(&q, &L, V, Tc, tt, din, dis);
        }
    }
    filter_backward(&q, dU, alpha, dw);
}
