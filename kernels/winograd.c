/*
 * winograd.c — Winograd convolutions on a x a tiles (winograd.h).
 *
 * F(m x m, r x r), m = 4 outputs a side, a = m + r - 1: 6 x 6 tiles with the
 * points 0, 1, -1, 2, -2, ∞ for r = 3, 8 x 8 tiles with 0, 1, -1, 2, -2,
 * 1/2, -1/2, ∞ for r = 5:
 *   forward        Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A     per tile and channel pair
 * so with U = G g Gᵀ (per output k, input c), V = Bᵀ d B (per c, tile t) and
 * xi one of the a² tile positions, M_xi = U_xi V_xi is one sgemm (K x C times
 * C x T) and Y = Aᵀ M A.  The backward passes are the transposes:
 *   input gradient dM = A dY Aᵀ,  dV_xi = U_xiᵀ dM_xi,  din += B dV Bᵀ
 *                  (overlap-add: neighbouring tiles share r - 1 rows/columns)
 *   weight gradient dU_xi = Σ_t dM_xi V_xiᵀ,  dw += alpha · Gᵀ dU G.
 * G_j(k) = α_jᵏ / Π_{l≠j}(α_j − α_l) and Aᵀ_i(j) = α_jⁱ (∞: the last row and
 * column are e_r, e_m); Bᵀ solves Aᵀ[(G g) ⊙ (Bᵀ d)] = the correlation of d
 * with g exactly (for r = 5 the rows of the point 0 in G and Bᵀ are both
 * negated, which leaves the product as it is and Bᵀ's first entry 1).  The
 * 8 x 8 tiles compute 16 outputs with 64 multiplications where F(2x2,5x5)'s
 * 6 x 6 ones computed 4 with 36: 2.25x fewer in the sgemms, and fewer
 * transform operations an output.
 *
 * Tiles: ceil(h/m) x ceil(w/m) per sample, tile (ty, tx) reading input rows
 * ty·m - p .. ty·m - p + a - 1 (p = (r-1)/2, zeros outside) and writing output
 * rows ty·m .. ty·m + m - 1 (clipped at the bottom and right edges).  The
 * n·tiles tiles of a call run in chunks of chunk_tiles() (V and M of a chunk
 * within CHUNK_FLOATS); the transforms work on WL tiles (or channel pairs) at
 * once, one SIMD lane each, so their loops vectorize without reordering any
 * sum (each lane is one tile's own arithmetic).  Each chunk first copies its
 * samples' input (and output-gradient) planes into zero-padded planes that
 * hold every tile's whole window, so the gathers run without bounds checks;
 * the matrices of consecutive tile positions lie a cache line further apart
 * than their size (skewed()).  Neither changes a value: the ResNet's 3x3
 * results are bit for bit those of the unpadded, unskewed code.  The 8 x 8
 * tiles' data transforms are written out with the points ±α paired
 * (map8_lanes: fewer operations, other roundings than the tables'); the
 * 6 x 6 ones go through the tables.  A forward whose tiles fill one chunk
 * leaves U and V in scratch where the backward reads them, which then skips
 * transforming the same weights and input again (hf_wino_keeps).
 */
#include "winograd.h"
#include "hf_util.h"
#include <cblas.h>
#include <string.h>

#define WL 16          /* lanes: tiles (or weight pairs) transformed at once */
#define NT_MAX 64      /* tile positions of the larger tile (8 x 8) */
/* The tile of an r x r kernel: 6 x 6 for r = 3, 8 x 8 for r = 5, so m = 4
 * outputs a side for both. */
#define TILE(r) ((r) == 3 ? 6 : 8)
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

/* Bᵀ (6 x 6), the input transform of F(4x4,3x3) (F(4x4,5x5)'s 8 x 8 one:
 * map8_lanes). */
HF_INLINE const float *input_matrix6(void)
{
    static const float bt6[36] = {
        4, 0, -5, 0, 1, 0,
        0, -4, -4, 1, 1, 0,
        0, 4, -4, -1, 1, 0,
        0, -2, -1, 2, 1, 0,
        0, 2, -1, -2, 1, 0,
        0, 4, 0, -5, 0, 1,
    };
    return bt6;
}

/* G (a x r), the filter transform. */
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
    static const float g5[40] = {
        1, 0, 0, 0, 0,
        -2.0f / 9, -2.0f / 9, -2.0f / 9, -2.0f / 9, -2.0f / 9,
        -2.0f / 9, 2.0f / 9, -2.0f / 9, 2.0f / 9, -2.0f / 9,
        1.0f / 90, 1.0f / 45, 2.0f / 45, 4.0f / 45, 8.0f / 45,
        1.0f / 90, -1.0f / 45, 2.0f / 45, -4.0f / 45, 8.0f / 45,
        32.0f / 45, 16.0f / 45, 8.0f / 45, 4.0f / 45, 2.0f / 45,
        32.0f / 45, -16.0f / 45, 8.0f / 45, -4.0f / 45, 2.0f / 45,
        0, 0, 0, 0, 1,
    };
    return r == 3 ? g3 : g5;
}

/* Aᵀ (4 x 6), the output transform of F(4x4,3x3) (the 4 x 8 one: map8_lanes). */
HF_INLINE const float *output_matrix6(void)
{
    static const float at4[24] = {
        1, 1, 1, 1, 1, 0,
        0, 1, -1, 2, -2, 0,
        0, 1, 1, 4, 4, 0,
        0, 1, -1, 8, -8, 1,
    };
    return at4;
}

/* A linear map P (p x a, P(i,j) = P[i·pi + j·pj]) on lane vectors:
 * y[i·ys + l] = Σ_j P(i,j) x[j·xs + l], the nonzero terms in ascending j.
 * Always inlined with P one of the constant matrices above and constant
 * sizes: the loops unroll and the coefficients fold into the code (x·1 is x
 * exactly), leaving one vector multiplication and addition per nonzero. */
#define UNROLL _Pragma("GCC unroll 8")
/* tr2's two outer loops stay rolled (a call of mat_lanes each): unrolled too,
 * the 8x8 transforms had gcc compile this file for over 5 minutes. */
#define ROLLED _Pragma("GCC unroll 1")
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
    ROLLED for (int j = 0; j < a; j++)
        mat_lanes(P, pi, pj, p, a, X + j * WL, (long)a * WL, tmp + j * WL, (long)a * WL);
    ROLLED for (int i = 0; i < p; i++)
        mat_lanes(P, pi, pj, p, a, tmp + (long)i * a * WL, WL, Y + (long)i * p * WL, WL);
}

/* F(4x4,5x5)'s data maps, written out with the points ±α paired: the rows
 * (or columns) of α and -α share their even and odd partial sums, so Bᵀ
 * takes 38 vector operations where its 44 nonzeros took 66.  The matrices
 * (α = 0, 1, -1, 1/2, -1/2, 2, -2, ∞):
 *   Bᵀ = [ 1   0    -21/4  0      21/4  0     -1   0 ]   Aᵀ = [ 1  1  1  1  1  1    1    0 ]
 *        [ 0   1    1      -17/4  -17/4 1     1    0 ]        [ 0  1 -1  2 -2  1/2 -1/2  0 ]
 *        [ 0   -1   1      17/4   -17/4 -1    1    0 ]        [ 0  1  1  4  4  1/4  1/4  0 ]
 *        [ 0   1/2  1/4    -5/2   -5/4  2     1    0 ]        [ 0  1 -1  8 -8  1/8 -1/8  1 ]
 *        [ 0   -1/2 1/4    5/2    -5/4  -2    1    0 ]
 *        [ 0   2    4      -5/2   -5    1/2   1    0 ]
 *        [ 0   -2   4      5/2    -5    -1/2  1    0 ]
 *        [ 0   -1   0      21/4   0     -21/4 0    1 ]
 * (Bᵀ solved as the header says, the row of the point 0 negated).  y = map x
 * on lane vectors: y[i·ys + l] from x[j·xs + l]. */
enum { MAP_BT, MAP_B, MAP_AT, MAP_A };
HF_INLINE void map8_lanes(int map, const float *x, long xs, float *y, long ys)
{
#define X_(i) x[(i) * xs + l]
#define Y_(i) y[(i) * ys + l]
/* the rows of ±α from their even and odd parts */
#define PAIRS() (Y_(1) = e1 + o1, Y_(2) = e1 - o1, Y_(3) = e2 + o2, Y_(4) = e2 - o2, Y_(5) = e3 + o3, Y_(6) = e3 - o3)
    for (int l = 0; l < WL; l++) {
        if (map == MAP_BT) {   /* 8 -> 8 */
            float e1 = X_(2) + X_(6) - 17.0f / 4 * X_(4), o1 = X_(1) + X_(5) - 17.0f / 4 * X_(3);
            float e2 = 1.0f / 4 * X_(2) - 5.0f / 4 * X_(4) + X_(6), o2 = 1.0f / 2 * X_(1) - 5.0f / 2 * X_(3) + 2 * X_(5);
            float e3 = 4 * X_(2) - 5 * X_(4) + X_(6), o3 = 2 * X_(1) - 5.0f / 2 * X_(3) + 1.0f / 2 * X_(5);
            Y_(0) = (X_(0) - X_(6)) + 21.0f / 4 * (X_(4) - X_(2));
            PAIRS();
            Y_(7) = (X_(7) - X_(1)) + 21.0f / 4 * (X_(3) - X_(5));
        } else if (map == MAP_B) {   /* Bᵀ's columns, 8 -> 8 */
            float s1 = X_(1) + X_(2), d1 = X_(1) - X_(2), s2 = X_(3) + X_(4), d2 = X_(3) - X_(4);
            float s3 = X_(5) + X_(6), d3 = X_(5) - X_(6);
            Y_(0) = X_(0);
            Y_(1) = d1 + 1.0f / 2 * d2 + 2 * d3 - X_(7);
            Y_(2) = -21.0f / 4 * X_(0) + s1 + 1.0f / 4 * s2 + 4 * s3;
            Y_(3) = -17.0f / 4 * d1 - 5.0f / 2 * d2 - 5.0f / 2 * d3 + 21.0f / 4 * X_(7);
            Y_(4) = 21.0f / 4 * X_(0) - 17.0f / 4 * s1 - 5.0f / 4 * s2 - 5 * s3;
            Y_(5) = d1 + 2 * d2 + 1.0f / 2 * d3 - 21.0f / 4 * X_(7);
            Y_(6) = -X_(0) + s1 + s2 + s3;
            Y_(7) = X_(7);
        } else if (map == MAP_AT) {   /* 8 -> 4 */
            float s1 = X_(1) + X_(2), d1 = X_(1) - X_(2), s2 = X_(3) + X_(4), d2 = X_(3) - X_(4);
            float s3 = X_(5) + X_(6), d3 = X_(5) - X_(6);
            Y_(0) = X_(0) + s1 + s2 + s3;
            Y_(1) = d1 + 2 * d2 + 1.0f / 2 * d3;
            Y_(2) = s1 + 4 * s2 + 1.0f / 4 * s3;
            Y_(3) = d1 + 8 * d2 + 1.0f / 8 * d3 + X_(7);
        } else {   /* MAP_A: Aᵀ's columns, 4 -> 8 */
            float e1 = X_(0) + X_(2), o1 = X_(1) + X_(3), e2 = X_(0) + 4 * X_(2), o2 = 2 * X_(1) + 8 * X_(3);
            float e3 = X_(0) + 1.0f / 4 * X_(2), o3 = 1.0f / 2 * X_(1) + 1.0f / 8 * X_(3);
            Y_(0) = X_(0);
            PAIRS();
            Y_(7) = X_(3);
        }
    }
#undef X_
#undef Y_
#undef PAIRS
}

/* Y (p x p lane vectors) = map X mapᵀ for X (a x a), map one of Bᵀ, B, Aᵀ, A
 * of the r x r kernels' tiles: r = 3 through tr2 and the tables, r = 5
 * through map8_lanes. */
HF_INLINE void data_tr2(int map, int r, int p, int a, const float *X, float *Y, float *tmp)
{
    if (r == 3) {
        const float *P = map == MAP_BT || map == MAP_B ? input_matrix6() : output_matrix6();
        int rows = map == MAP_BT || map == MAP_AT;   /* the table as it is, else its transpose */
        tr2(P, rows ? 6 : 1, rows ? 1 : 6, p, a, X, Y, tmp);
        return;
    }
    ROLLED for (int j = 0; j < a; j++) map8_lanes(map, X + j * WL, (long)a * WL, tmp + j * WL, (long)a * WL);
    ROLLED for (int i = 0; i < p; i++) map8_lanes(map, tmp + (long)i * a * WL, WL, Y + (long)i * p * WL, WL);
}

typedef struct {
    const hf_wino_t *g;
    int a, m, p, th, tw; /* tile and output tile size, padding, tiles down and across */
    int ph, pw;          /* an input plane padded to whole tiles' windows */
    int oh, ow;          /* an output plane padded to whole tiles */
    long tiles;          /* per sample */
} plan_t;

static plan_t plan_of(const hf_wino_t *g)
{
    plan_t q;
    q.g = g;
    q.a = TILE(g->r);
    q.m = q.a + 1 - g->r;
    q.p = (g->r - 1) / 2;
    q.th = (g->h + q.m - 1) / q.m;
    q.tw = (g->w + q.m - 1) / q.m;
    q.tiles = (long)q.th * q.tw;
    q.ph = (q.th - 1) * q.m + q.a;
    q.pw = (q.tw - 1) * q.m + q.a;
    q.oh = q.th * q.m;
    q.ow = q.tw * q.m;
    return q;
}

/* Tiles per chunk: as many as keep its V and M within CHUNK_FLOATS, a
 * multiple of WL, at least WL (a function of the geometry only). */
static long chunk_tiles(const hf_wino_t *g)
{
    long per = (long)TILE(g->r) * TILE(g->r) * (g->cin + g->cout), t = CHUNK_FLOATS / per / WL * WL;
    return HF_MAX((long)WL, t);
}

int hf_wino_supported(int k, int s, int cin) { return s == 1 && (k == 3 || k == 5) && cin >= MIN_CIN; }

int hf_wino_samples(const hf_wino_t *g)
{
    plan_t q = plan_of(g);
    return (int)HF_MAX(1L, HF_MIN(chunk_tiles(g) / q.tiles, 1L << 20));
}

/* Most samples one chunk's tiles come from: a chunk of T tiles starting
 * anywhere in a sample spans at most (T - 1) / tiles + 2 of them. */
static long chunk_samples_max(const plan_t *q)
{
    return HF_MIN((long)q->g->n, (chunk_tiles(q->g) - 1) / q->tiles + 2);
}

/* Floats of the chunk's padded input planes and padded output-gradient planes. */
static size_t pad_floats(const plan_t *q)
{
    const hf_wino_t *g = q->g;
    return (size_t)chunk_samples_max(q) * ((size_t)g->cin * q->ph * q->pw + (size_t)g->cout * q->oh * q->ow);
}

/* The distance between consecutive tile positions' matrices of n floats:
 * n and one cache line more.  Without the line, n is often a multiple of
 * 1024 (channels and chunk tiles are multiples of 16), and the 36 or 64
 * rows a transform stores (or loads) at a time would all fall into one set
 * of the L1 cache. */
static long skewed(long n) { return n + 16; }

size_t hf_wino_scratch(const hf_wino_t *g)
{
    plan_t q = plan_of(g);
    long T = HF_MIN(chunk_tiles(g), (long)g->n * q.tiles), nt = TILE(g->r) * TILE(g->r);
    long KC = (long)g->cin * g->cout;
    return (size_t)nt * (2 * skewed(KC) + skewed(g->cin * T) + skewed(g->cout * T)) + pad_floats(&q);
}

/* Planes [0, C) of samples [sa, sa + ns) of src (sample stride ss, channel
 * stride cs, h x w) into P (ph x pw each, sample-major) at row and column
 * offset off, zeros around: every tile's window then lies inside its plane
 * (the same values the windows read, so the same bits as bounds checks). */
static void pad_planes(const float *src, long ss, long cs, int C, int h, int w, long sa, long ns, int off, int ph,
                       int pw, float *P)
{
    long plane = (long)ph * pw;
    for (long s = 0; s < ns; s++)
        for (int c = 0; c < C; c++) {
            float *d = P + (s * C + c) * plane;
            const float *x = src + (sa + s) * ss + c * cs;
            memset(d, 0, sizeof(float) * plane);
            for (int y = 0; y < h; y++) memcpy(d + (long)(y + off) * pw + off, x + (long)y * w, sizeof(float) * w);
        }
}

/* Where a block of lanes' tiles lie: tile t0 + l (l < nl) of the call. */
typedef struct {
    int nl;
    long s[WL];          /* sample */
    int y0[WL], x0[WL];  /* output origin (input origin: minus p) */
    int in[WL];          /* the input window inside the image (then the output tile too) */
} lanes_t;

static void lanes_of(const plan_t *q, long t0, int nl, lanes_t *L)
{
    const hf_wino_t *g = q->g;
    L->nl = nl;
    for (int l = 0; l < nl; l++) {
        long t = t0 + l, r = t % q->tiles;
        L->s[l] = t / q->tiles;
        L->y0[l] = (int)(r / q->tw) * q->m;
        L->x0[l] = (int)(r % q->tw) * q->m;
        L->in[l] = L->y0[l] >= q->p && L->x0[l] >= q->p && L->y0[l] - q->p + q->a <= g->h &&
                   L->x0[l] - q->p + q->a <= g->w;
    }
}

/* X[(i·n + j)·WL + l] = the n x n window at the origin of lane l's tile in
 * its padded plane c (P: planes of size ph x pw, C a sample, from sample sa),
 * zeros in unused lanes. */
HF_INLINE void gather_padded(const lanes_t *L, const float *P, long sa, int C, int c, int ph, int pw, float *X,
                             int n)
{
    long plane = (long)ph * pw;
    for (int l = 0; l < WL; l++) {
        if (l >= L->nl) {
            UNROLL for (int e = 0; e < n * n; e++) X[e * WL + l] = 0.0f;
            continue;
        }
        const float *r = P + ((L->s[l] - sa) * C + c) * plane + (long)L->y0[l] * pw + L->x0[l];
        UNROLL for (int i = 0; i < n; i++)
            UNROLL for (int j = 0; j < n; j++) X[(i * n + j) * WL + l] = r[(long)i * pw + j];
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

/* X[xi·WL + l] = src[xi·stride + l], xi < nt, for the nl lanes in use (zeros beyond). */
HF_INLINE void get_lanes(float *X, const float *src, long stride, int nl, int nt)
{
    for (int xi = 0; xi < nt; xi++) {
        if (nl == WL)
            for (int l = 0; l < WL; l++) X[xi * WL + l] = src[xi * stride + l];
        else
            for (int l = 0; l < WL; l++) X[xi * WL + l] = l < nl ? src[xi * stride + l] : 0.0f;
    }
}

/* One chunk-layout transform of nch padded planes (P: ph x pw each, nch a
 * sample, from sample sa): for each plane ch, the lanes' n x n windows,
 * through data_tr2 with map to a x a (the tile of r x r kernels), into
 * dst[xi·xs + ch·ldt + tt]. */
HF_INLINE void planes_to_chunk(const lanes_t *L, const float *P, long sa, int nch, int ph, int pw, int n, int map,
                               int r, float *dst, long ldt, long xs, long tt)
{
    const int a = TILE(r);
    float X[NT_MAX * WL], Y[NT_MAX * WL], tmp[NT_MAX * WL];
    for (int ch = 0; ch < nch; ch++) {
        gather_padded(L, P, sa, nch, ch, ph, pw, X, n);
        data_tr2(map, r, a, n, X, Y, tmp);
        for (int xi = 0; xi < a * a; xi++) put_lanes(dst + xi * xs + ch * ldt + tt, Y + xi * WL, L->nl);
    }
}

/* V = Bᵀ d B (chunk layout: V[xi·vs + c·ldt + tt], vs = skewed(C·ldt)) of
 * the lanes starting at chunk tile tt, every input channel, from the
 * chunk's padded input planes P (from sample sa). */
HF_CLONES static void input_block(const plan_t *q, const lanes_t *L, const float *P, long sa, float *V, long ldt,
                                  long vs, long tt)
{
    const hf_wino_t *g = q->g;
    if (g->r == 3)
        planes_to_chunk(L, P, sa, g->cin, q->ph, q->pw, 6, MAP_BT, 3, V, ldt, vs, tt);
    else
        planes_to_chunk(L, P, sa, g->cin, q->ph, q->pw, 8, MAP_BT, 5, V, ldt, vs, tt);
}

/* out (+)= Aᵀ M A of the lanes' tiles, every output channel, clipped. */
HF_INLINE void output_block_r(const plan_t *q, const lanes_t *L, const float *M, long ldt, long ms, long tt,
                              float *out, int add, int r)
{
    const hf_wino_t *g = q->g;
    const int a = TILE(r), m = a + 1 - r;
    float X[NT_MAX * WL], Y[NT_MAX * WL], tmp[NT_MAX * WL];
    for (int k = 0; k < g->cout; k++) {
        get_lanes(X, M + (long)k * ldt + tt, ms, L->nl, a * a);
        data_tr2(MAP_AT, r, m, a, X, Y, tmp);
        for (int l = 0; l < L->nl; l++) {
            float *o = out + L->s[l] * g->os + k * g->ocs + (long)L->y0[l] * g->w + L->x0[l];
            int ny = HF_MIN(m, g->h - L->y0[l]), nx = HF_MIN(m, g->w - L->x0[l]);
            if (ny == m && nx == m && add) {   /* a whole tile: constant loops */
                UNROLL for (int i = 0; i < m; i++)
                    UNROLL for (int j = 0; j < m; j++) o[(long)i * g->w + j] += Y[(i * m + j) * WL + l];
                continue;
            }
            if (ny == m && nx == m) {
                UNROLL for (int i = 0; i < m; i++)
                    UNROLL for (int j = 0; j < m; j++) o[(long)i * g->w + j] = Y[(i * m + j) * WL + l];
                continue;
            }
            for (int i = 0; i < ny; i++)
                for (int j = 0; j < nx; j++) {
                    float v = Y[(i * m + j) * WL + l];
                    o[(long)i * g->w + j] = add ? o[(long)i * g->w + j] + v : v;
                }
        }
    }
}
HF_CLONES static void output_block(const plan_t *q, const lanes_t *L, const float *M, long ldt, long ms, long tt,
                                   float *out, int add)
{
    if (q->g->r == 3)
        output_block_r(q, L, M, ldt, ms, tt, out, add, 3);
    else
        output_block_r(q, L, M, ldt, ms, tt, out, add, 5);
}

/* dM = A dY Aᵀ of the lanes' tiles, every output channel, into the chunk
 * layout (dM[xi·ms + k·ldt + tt]), from the chunk's padded output-gradient
 * planes D (from sample sa; dY zero outside the image). */
HF_CLONES static void dout_block(const plan_t *q, const lanes_t *L, const float *D, long sa, float *dM, long ldt,
                                 long ms, long tt)
{
    const hf_wino_t *g = q->g;
    if (g->r == 3)
        planes_to_chunk(L, D, sa, g->cout, q->oh, q->ow, 4, MAP_A, 3, dM, ldt, ms, tt);
    else
        planes_to_chunk(L, D, sa, g->cout, q->oh, q->ow, 4, MAP_A, 5, dM, ldt, ms, tt);
}

/* din += B dV Bᵀ of the lanes' tiles, every input channel: each tile's a x a
 * window added where it lies inside the image, tiles in order. */
HF_INLINE void din_block_r(const plan_t *q, const lanes_t *L, const float *dV, long ldt, long vs, long tt,
                           float *din, long dis, int r)
{
    const hf_wino_t *g = q->g;
    const int a = TILE(r);
    int h = g->h, w = g->w;
    float X[NT_MAX * WL], Y[NT_MAX * WL], tmp[NT_MAX * WL];
    for (int c = 0; c < g->cin; c++) {
        get_lanes(X, dV + (long)c * ldt + tt, vs, L->nl, a * a);
        data_tr2(MAP_B, r, a, a, X, Y, tmp);
        for (int l = 0; l < L->nl; l++) {
            int y0 = L->y0[l] - q->p, x0 = L->x0[l] - q->p;
            float *d = din + L->s[l] * dis + c * g->ics;
            if (L->in[l]) {
                float *row = d + (long)y0 * w + x0;
                UNROLL for (int i = 0; i < a; i++)
                    UNROLL for (int j = 0; j < a; j++) row[(long)i * w + j] += Y[(i * a + j) * WL + l];
                continue;
            }
            for (int i = HF_MAX(0, -y0); i < HF_MIN(a, h - y0); i++)
                for (int j = HF_MAX(0, -x0); j < HF_MIN(a, w - x0); j++)
                    d[(long)(y0 + i) * w + x0 + j] += Y[(i * a + j) * WL + l];
        }
    }
}
HF_CLONES static void din_block(const plan_t *q, const lanes_t *L, const float *dV, long ldt, long vs, long tt,
                                float *din, long dis)
{
    if (q->g->r == 3)
        din_block_r(q, L, dV, ldt, vs, tt, din, dis, 3);
    else
        din_block_r(q, L, dV, ldt, vs, tt, din, dis, 5);
}

/* U_xi (K x C, U[xi·K·C + k·C + c]) = (G g Gᵀ)_xi, WL (k, c) pairs at a time. */
HF_INLINE void filter_transform_r(const plan_t *q, const float *wt, float *U, long us, int r)
{
    const hf_wino_t *g = q->g;
    const int a = TILE(r), rr = r * r;
    long KC = (long)g->cout * g->cin;
    float X[NT_MAX * WL], Y[NT_MAX * WL], tmp[NT_MAX * WL];
    for (long p0 = 0; p0 < KC; p0 += WL) {
        int nl = (int)HF_MIN((long)WL, KC - p0);
        if (nl < WL) memset(X, 0, sizeof(float) * rr * WL);
        for (int l = 0; l < nl; l++)
            UNROLL for (int e = 0; e < rr; e++) X[e * WL + l] = wt[(p0 + l) * rr + e];
        tr2(filter_matrix(r), r, 1, a, r, X, Y, tmp);
        for (int xi = 0; xi < a * a; xi++) put_lanes(U + xi * us + p0, Y + xi * WL, nl);
    }
}
HF_CLONES static void filter_transform(const plan_t *q, const float *wt, float *U, long us)
{
    if (q->g->r == 3)
        filter_transform_r(q, wt, U, us, 3);
    else
        filter_transform_r(q, wt, U, us, 5);
}

/* dw += alpha · Gᵀ dU_xi G, WL (k, c) pairs at a time. */
HF_INLINE void filter_backward_r(const plan_t *q, const float *dU, long us, float alpha, float *dw, int r)
{
    const hf_wino_t *g = q->g;
    const int a = TILE(r), rr = r * r;
    long KC = (long)g->cout * g->cin;
    float X[NT_MAX * WL], Y[NT_MAX * WL], tmp[NT_MAX * WL];
    for (long p0 = 0; p0 < KC; p0 += WL) {
        int nl = (int)HF_MIN((long)WL, KC - p0);
        get_lanes(X, dU + p0, us, nl, a * a);
        tr2(filter_matrix(r), 1, r, r, a, X, Y, tmp);
        for (int l = 0; l < nl; l++)
            UNROLL for (int e = 0; e < rr; e++) dw[(p0 + l) * rr + e] += alpha * Y[e * WL + l];
    }
}
HF_CLONES static void filter_backward(const plan_t *q, const float *dU, long us, float alpha, float *dw)
{
    if (q->g->r == 3)
        filter_backward_r(q, dU, us, alpha, dw, 3);
    else
        filter_backward_r(q, dU, us, alpha, dw, 5);
}

void hf_wino_forward(const hf_wino_t *g, const float *wt, const float *in, float *out, int add, float *scratch)
{
    plan_t q = plan_of(g);
    int C = g->cin, K = g->cout, nt = q.a * q.a;
    long total = (long)g->n * q.tiles, Tb = chunk_tiles(g), ld = HF_MIN(Tb, total);
    long us = skewed((long)K * C), vs = skewed(C * ld), ms = skewed(K * ld);
    /* U and V where the backward has them (its dU between), for hf_wino_keeps */
    float *U = scratch, *V = U + 2 * nt * us, *M = V + nt * vs, *P = M + nt * ms;
    filter_transform(&q, wt, U, us);
    for (long t0 = 0; t0 < total; t0 += Tb) {
        long Tc = HF_MIN(Tb, total - t0), sa = t0 / q.tiles, ns = (t0 + Tc - 1) / q.tiles + 1 - sa;
        lanes_t L;
        pad_planes(in, g->is, g->ics, C, g->h, g->w, sa, ns, q.p, q.ph, q.pw, P);
        for (long tt = 0; tt < Tc; tt += WL) {
            lanes_of(&q, t0 + tt, (int)HF_MIN((long)WL, Tc - tt), &L);
            input_block(&q, &L, P, sa, V, Tc, vs, tt);
        }
        for (int xi = 0; xi < nt; xi++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, K, (int)Tc, C, 1.0f, U + xi * us, C,
                        V + xi * vs, (int)Tc, 0.0f, M + xi * ms, (int)Tc);
        for (long tt = 0; tt < Tc; tt += WL) {
            lanes_of(&q, t0 + tt, (int)HF_MIN((long)WL, Tc - tt), &L);
            output_block(&q, &L, M, Tc, ms, tt, out, add);
        }
    }
}

int hf_wino_keeps(const hf_wino_t *g)
{
    plan_t q = plan_of(g);
    return (long)g->n * q.tiles <= chunk_tiles(g);
}

void hf_wino_backward(const hf_wino_t *g, const float *wt, const float *in, const float *dout, float alpha,
                      float *dw, float *din, long dis, float *scratch, int kept)
{
    plan_t q = plan_of(g);
    int C = g->cin, K = g->cout, nt = q.a * q.a;
    long total = (long)g->n * q.tiles, Tb = chunk_tiles(g), ld = HF_MIN(Tb, total);
    long us = skewed((long)K * C), vs = skewed(C * ld), ms = skewed(K * ld);
    float *U = scratch, *dU = U + nt * us, *V = dU + nt * us, *dM = V + nt * vs, *P = dM + nt * ms;
    float *D = P + chunk_samples_max(&q) * C * q.ph * q.pw;
    kept = kept && hf_wino_keeps(g);
    if (din && !kept) filter_transform(&q, wt, U, us);
    for (long t0 = 0; t0 < total; t0 += Tb) {
        long Tc = HF_MIN(Tb, total - t0), sa = t0 / q.tiles, ns = (t0 + Tc - 1) / q.tiles + 1 - sa;
        lanes_t L;
        if (!kept) pad_planes(in, g->is, g->ics, C, g->h, g->w, sa, ns, q.p, q.ph, q.pw, P);
        pad_planes(dout, g->os, g->ocs, K, g->h, g->w, sa, ns, 0, q.oh, q.ow, D);
        for (long tt = 0; tt < Tc; tt += WL) {
            lanes_of(&q, t0 + tt, (int)HF_MIN((long)WL, Tc - tt), &L);
            if (!kept) input_block(&q, &L, P, sa, V, Tc, vs, tt);
            dout_block(&q, &L, D, sa, dM, Tc, ms, tt);
        }
        for (int xi = 0; xi < nt; xi++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, K, C, (int)Tc, 1.0f, dM + xi * ms, (int)Tc,
                        V + xi * vs, (int)Tc, t0 ? 1.0f : 0.0f, dU + xi * us, C);
        if (!din) continue;
        for (int xi = 0; xi < nt; xi++)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C, (int)Tc, K, 1.0f, U + xi * us, C,
                        dM + xi * ms, (int)Tc, 0.0f, V + xi * vs, (int)Tc);
        for (long tt = 0; tt < Tc; tt += WL) {
            lanes_of(&q, t0 + tt, (int)HF_MIN((long)WL, Tc - tt), &L);
            din_block(&q, &L, V, Tc, vs, tt, din, dis);
        }
    }
    filter_backward(&q, dU, us, alpha, dw);
}
