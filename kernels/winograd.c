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
/* floats of V and M (or dM) of one chunk of tiles: 4 MiB.  Measured (thread
 * CPU time of a ResNet-18 training step, B = 32, group norm, Haswell
 * kernels): see README, Performance. */
#ifndef CHUNK_FLOATS
#define CHUNK_FLOATS ((long)1 << 20)
#endif

/* Bᵀ (6 x 6), the input transform of both. */
static const float *input_matrix(void)
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
static const float *filter_matrix(int r)
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
static const float *output_matrix(int r)
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
 * y[i·ys + l] = Σ_j P(i,j) x[j·xs + l], zero coefficients skipped, j ascending. */
HF_INLINE void mat_lanes(const float *P, int pi, int pj, int p, int a, const float *x, long xs, float *y, long ys)
{
    for (int i = 0; i < p; i++) {
        float acc[WL] = {0};
        for (int j = 0; j < a; j++) {
            float c = P[i * pi + j * pj];
            if (c == 0.0f) continue;
            const float *xj = x + j * xs;
            for (int l = 0; l < WL; l++) acc[l] += c * xj[l];
        }
        memcpy(y + i * ys, acc, sizeof acc);
    }
}

/* Y (p x p lane vectors) = P X Pᵀ for X (a x a), P as in mat_lanes; tmp: p·a·WL. */
HF_INLINE void tr2(const float *P, int pi, int pj, int p, int a, const float *X, float *Y, float *tmp)
{
    for (int j = 0; j < a; j++) mat_lanes(P, pi, pj, p, a, X + j * WL, (long)a * WL, tmp + j * WL, (long)a * WL);
    for (int i = 0; i < p; i++) mat_lanes(P, pi, pj, p, a, tmp + (long)i * a * WL, WL, Y + (long)i * p * WL, WL);
}

typedef struct {
    const hf_wino_t *g;
    int m, p, th, tw;    /* output tile size, padding, tiles down and across */
    long tiles;          /* per sample */
    const float *BT, *G, *AT; /* Bᵀ (6 x 6), G (6 x r), Aᵀ (m x 6) */
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
    q.BT = input_matrix();
    q.G = filter_matrix(g->r);
    q.AT = output_matrix(g->r);
    return q;
}

/* Tiles per chunk: as many as keep its V and M within CHUNK_FLOATS, a
 * multiple of WL, at least WL (a function of the geometry only). */
static long chunk_tiles(const hf_wino_t *g)
{
    long per = (long)NT * (g->cin + g->cout), t = CHUNK_FLOATS / per / WL * WL;
    return HF_MAX((long)WL, t);
}

/* Row stride of a chunk's V and M: its tiles rounded up to lanes (the last
 * lane block may run past the chunk's last tile; those columns hold zeros). */
static long chunk_ld(const plan_t *q)
{
    long T = HF_MIN(chunk_tiles(q->g), (long)q->g->n * q->tiles);
    return (T + WL - 1) / WL * WL;
}

int hf_wino_supported(int k, int s) { return s == 1 && (k == 3 || k == 5); }

int hf_wino_samples(const hf_wino_t *g)
{
    plan_t q = plan_of(g);
    return (int)HF_MAX(1L, HF_MIN(chunk_tiles(g) / q.tiles, 1L << 20));
}

size_t hf_wino_scratch(const hf_wino_t *g)
{
    plan_t q = plan_of(g);
    return (size_t)NT * (2 * (size_t)g->cin * g->cout + (size_t)(g->cin + g->cout) * chunk_ld(&q));
}

/* Where a block of lanes' tiles lie: tile t0 + l (l < nl) of the call. */
typedef struct {
    int nl;
    long s[WL];          /* sample */
    int y0[WL], x0[WL];  /* output origin (input origin: minus p) */
} lanes_t;

static void lanes_of(const plan_t *q, long t0, int nl, lanes_t *L)
{
    L->nl = nl;
    for (int l = 0; l < nl; l++) {
        long t = t0 + l, r = t % q->tiles;
        L->s[l] = t / q->tiles;
        L->y0[l] = (int)(r / q->tw) * q->m;
        L->x0[l] = (int)(r % q->tw) * q->m;
    }
}

/* X[(i·6 + j)·WL + l] = channel plane c (at src + s·ss) at the 6x6 input
 * window of lane l, zeros outside the image and in unused lanes. */
static void gather6(const plan_t *q, const lanes_t *L, const float *src, long ss, float *X)
{
    int h = q->g->h, w = q->g->w;
    memset(X, 0, sizeof(float) * NT * WL);
    for (int l = 0; l < L->nl; l++) {
        const float *b = src + L->s[l] * ss;
        int y0 = L->y0[l] - q->p, x0 = L->x0[l] - q->p;
        for (int i = 0; i < 6; i++) {
            int y = y0 + i;
            if (y < 0 || y >= h) continue;
            for (int j = 0; j < 6; j++) {
                int x = x0 + j;
                if (x >= 0 && x < w) X[(i * 6 + j) * WL + l] = b[(long)y * w + x];
            }
        }
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
        tr2(q->BT, 6, 1, 6, 6, X, Y, tmp);
        for (int xi = 0; xi < NT; xi++)
            memcpy(V + ((long)xi * g->cin + c) * ldt + tt, Y + xi * WL, sizeof(float) * WL);
    }
}

/* out (+)= Aᵀ M A of the lanes' tiles, every output channel, clipped. */
HF_CLONES static void output_block(const plan_t *q, const lanes_t *L, const float *M, long ldt, long tt, float *out,
                                   int add)
{
    const hf_wino_t *g = q->g;
    int m = q->m;
    float X[NT * WL], Y[NT * WL], tmp[NT * WL];
    for (int k = 0; k < g->cout; k++) {
        for (int xi = 0; xi < NT; xi++)
            memcpy(X + xi * WL, M + ((long)xi * g->cout + k) * ldt + tt, sizeof(float) * WL);
        tr2(q->AT, 6, 1, m, 6, X, Y, tmp);
        for (int l = 0; l < L->nl; l++) {
            float *o = out + L->s[l] * g->os + k * g->ocs;
            int ny = HF_MIN(m, g->h - L->y0[l]), nx = HF_MIN(m, g->w - L->x0[l]);
            for (int i = 0; i < ny; i++)
                for (int j = 0; j < nx; j++) {
                    float *d = o + (long)(L->y0[l] + i) * g->w + L->x0[l] + j;
                    float v = Y[(i * m + j) * WL + l];
                    *d = add ? *d + v : v;
                }
        }
    }
}

/* dM = A dY Aᵀ of the lanes' tiles (dY zero outside the image), every output
 * channel, into the chunk layout. */
HF_CLONES static void dout_block(const plan_t *q, const lanes_t *L, const float *dout, float *dM, long ldt, long tt)
{
    const hf_wino_t *g = q->g;
    int m = q->m;
    float X[NT * WL], Y[NT * WL], tmp[NT * WL];
    for (int k = 0; k < g->cout; k++) {
        memset(X, 0, sizeof X);
        for (int l = 0; l < L->nl; l++) {
            const float *o = dout + L->s[l] * g->os + k * g->ocs;
            int ny = HF_MIN(m, g->h - L->y0[l]), nx = HF_MIN(m, g->w - L->x0[l]);
            for (int i = 0; i < ny; i++)
                for (int j = 0; j < nx; j++) X[(i * m + j) * WL + l] = o[(long)(L->y0[l] + i) * g->w + L->x0[l] + j];
        }
        tr2(q->AT, 1, 6, 6, m, X, Y, tmp);
        for (int xi = 0; xi < NT; xi++)
            memcpy(dM + ((long)xi * g->cout + k) * ldt + tt, Y + xi * WL, sizeof(float) * WL);
    }
}

/* din += B dV Bᵀ of the lanes' tiles, every input channel: each tile's 6x6
 * window added where it lies inside the image, tiles in order. */
HF_CLONES static void din_block(const plan_t *q, const lanes_t *L, const float *dV, long ldt, long tt, float *din,
                                long dis)
{
    const hf_wino_t *g = q->g;
    float X[NT * WL], Y[NT * WL], tmp[NT * WL];
    for (int c = 0; c < g->cin; c++) {
        for (int xi = 0; xi < NT; xi++)
            memcpy(X + xi * WL, dV + ((long)xi * g->cin + c) * ldt + tt, sizeof(float) * WL);
        tr2(q->BT, 1, 6, 6, 6, X, Y, tmp);
        for (int l = 0; l < L->nl; l++) {
            float *d = din + L->s[l] * dis + c * g->ics;
            int y0 = L->y0[l] - q->p, x0 = L->x0[l] - q->p;
            for (int i = 0; i < 6; i++) {
                int y = y0 + i;
                if (y < 0 || y >= g->h) continue;
                for (int j = 0; j < 6; j++) {
                    int x = x0 + j;
                    if (x >= 0 && x < g->w) d[(long)y * g->w + x] += Y[(i * 6 + j) * WL + l];
                }
            }
        }
    }
}

/* U_xi (K x C, U[xi·K·C + k·C + c]) = (G g Gᵀ)_xi, WL (k, c) pairs at a time. */
HF_CLONES static void filter_transform(const plan_t *q, const float *wt, float *U)
{
    const hf_wino_t *g = q->g;
    int r = g->r, rr = r * r;
    long KC = (long)g->cout * g->cin;
    float X[NT * WL], Y[NT * WL], tmp[NT * WL];
    for (long p0 = 0; p0 < KC; p0 += WL) {
        int nl = (int)HF_MIN((long)WL, KC - p0);
        memset(X, 0, sizeof X);
        for (int l = 0; l < nl; l++)
            for (int e = 0; e < rr; e++) X[e * WL + l] = wt[(p0 + l) * rr + e];
        tr2(q->G, r, 1, 6, r, X, Y, tmp);
        for (int xi = 0; xi < NT; xi++) memcpy(U + xi * KC + p0, Y + xi * WL, sizeof(float) * nl);
    }
}

/* dw += alpha · Gᵀ dU_xi G, WL (k, c) pairs at a time. */
HF_CLONES static void filter_backward(const plan_t *q, const float *dU, float alpha, float *dw)
{
    const hf_wino_t *g = q->g;
    int r = g->r, rr = r * r;
    long KC = (long)g->cout * g->cin;
    float X[NT * WL], Y[NT * WL], tmp[NT * WL];
    for (long p0 = 0; p0 < KC; p0 += WL) {
        int nl = (int)HF_MIN((long)WL, KC - p0);
        memset(X, 0, sizeof X);
        for (int xi = 0; xi < NT; xi++) memcpy(X + xi * WL, dU + xi * KC + p0, sizeof(float) * nl);
        tr2(q->G, 1, r, r, 6, X, Y, tmp);
        for (int l = 0; l < nl; l++)
            for (int e = 0; e < rr; e++) dw[(p0 + l) * rr + e] += alpha * Y[e * WL + l];
    }
}

void hf_wino_forward(const hf_wino_t *g, const float *wt, const float *in, float *out, int add, float *scratch)
{
    plan_t q = plan_of(g);
    int C = g->cin, K = g->cout;
    long KC = (long)K * C, total = (long)g->n * q.tiles, Tb = chunk_tiles(g);
    float *U = scratch, *V = U + NT * KC, *M = V + NT * C * chunk_ld(&q);
    filter_transform(&q, wt, U);
    for (long t0 = 0; t0 < total; t0 += Tb) {
        long Tc = HF_MIN(Tb, total - t0), ldt = (Tc + WL - 1) / WL * WL;
        lanes_t L;
        for (long tt = 0; tt < Tc; tt += WL) {
            lanes_of(&q, t0 + tt, (int)HF_MIN((long)WL, Tc - tt), &L);
            input_block(&q, &L, in, V, ldt, tt);
        }
        for (int xi = 0; xi < NT; xi++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, K, (int)ldt, C, 1.0f, U + xi * KC, C,
                        V + xi * C * ldt, (int)ldt, 0.0f, M + xi * K * ldt, (int)ldt);
        for (long tt = 0; tt < Tc; tt += WL) {
            lanes_of(&q, t0 + tt, (int)HF_MIN((long)WL, Tc - tt), &L);
            output_block(&q, &L, M, ldt, tt, out, add);
        }
    }
}

void hf_wino_backward(const hf_wino_t *g, const float *wt, const float *in, const float *dout, float alpha,
                      float *dw, float *din, long dis, float *scratch)
{
    plan_t q = plan_of(g);
    int C = g->cin, K = g->cout;
    long KC = (long)K * C, total = (long)g->n * q.tiles, Tb = chunk_tiles(g);
    float *U = scratch, *dU = U + NT * KC, *V = dU + NT * KC, *dM = V + NT * C * chunk_ld(&q);
    if (din) filter_transform(&q, wt, U);
    for (long t0 = 0; t0 < total; t0 += Tb) {
        long Tc = HF_MIN(Tb, total - t0), ldt = (Tc + WL - 1) / WL * WL;
        lanes_t L;
        for (long tt = 0; tt < Tc; tt += WL) {
            lanes_of(&q, t0 + tt, (int)HF_MIN((long)WL, Tc - tt), &L);
            input_block(&q, &L, in, V, ldt, tt);
            dout_block(&q, &L, dout, dM, ldt, tt);
        }
        /* padding lanes hold zeros in V and dM: they add nothing to dU */
        for (int xi = 0; xi < NT; xi++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, K, C, (int)ldt, 1.0f, dM + xi * K * ldt, (int)ldt,
                        V + xi * C * ldt, (int)ldt, t0 ? 1.0f : 0.0f, dU + xi * KC, C);
        if (!din) continue;
        for (int xi = 0; xi < NT; xi++)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C, (int)ldt, K, 1.0f, U + xi * KC, C,
                        dM + xi * K * ldt, (int)ldt, 0.0f, V + xi * C * ldt, (int)ldt);
        for (long tt = 0; tt < Tc; tt += WL) {
            lanes_of(&q, t0 + tt, (int)HF_MIN((long)WL, Tc - tt), &L);
            din_block(&q, &L, V, ldt, tt, din, dis);
        }
    }
    filter_backward(&q, dU, alpha, dw);
}
