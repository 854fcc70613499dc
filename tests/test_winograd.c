/*
 * test_winograd.c — kernels/winograd.c against a direct convolution in double
 * precision written here: the forward, the input gradient and the weight
 * gradient of 3x3 (F(4x4,3x3)) and 5x5 (F(4x4,5x5)) 'same' convolutions, on
 * unequal odd sizes, images smaller than a tile, sizes that are multiples of
 * the tile, strided layouts (the ResNet's and the CNN's), accumulation into
 * existing values, and calls of several tile chunks (both kernel sizes).
 *
 * Tolerance: max |error| <= TOL · max |reference| of each output.  Inputs,
 * weights and output gradients are uniform in [-1, 1).  float32 rounds each
 * operation by 2^-24 ≈ 6e-8 relative; the transforms' coefficients (up to 8
 * in Aᵀ, 21/4 in Bᵀ, 32/45 in G of F(4x4,5x5)) and the cancellation between
 * tile terms amplify it: the errors measured here (printed) are 5e-7 to
 * 8e-6 of the output scale for F(4x4,3x3), 1.8e-6 to 9.2e-6 for F(4x4,5x5)
 * with its paired data maps (the most with 96 input channels).  TOL = 5e-5 leaves a margin of four,
 * while a wrong transform coefficient or a dropped edge tile gives errors of
 * order 1e-2 or more.
 */
#include "winograd.h"
#include "cunit_main.h"
#include "rng.h"
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TOL 5e-5

static void fill(float *x, long n, uint64_t seed)
{
    hf_rng_t r;
    hf_rng_init(&r, seed, 0, 0, 0);
    for (long i = 0; i < n; i++) x[i] = (float)(2.0 * hf_rng_uniform(&r) - 1.0);
}

/* max |a - ref| / max |ref| over n entries at a + i·1 (ref double). */
static double rel_err(const float *a, const double *ref, long n)
{
    double e = 0.0, s = 0.0;
    for (long i = 0; i < n; i++) {
        e = fmax(e, fabs((double)a[i] - ref[i]));
        s = fmax(s, fabs(ref[i]));
    }
    return s > 0 ? e / s : e;
}

typedef struct {
    int r, n, cin, cout, h, w;
    int cnn_layout;   /* output (cout, n·h·w) as the CNN's sub-batches, else (n, cout, h, w) */
    int gap;          /* extra floats between input samples */
} wcase_t;

static hf_wino_t geom(const wcase_t *c)
{
    long hw = (long)c->h * c->w;
    hf_wino_t g = {c->r, c->n, c->cin, c->cout, c->h, c->w, c->cin * hw + c->gap, hw, 0, 0};
    g.os = c->cnn_layout ? hw : c->cout * hw;
    g.ocs = c->cnn_layout ? c->n * hw : hw;
    return g;
}

/* Input pixel (s, c, y, x) with zero padding. */
static double px(const hf_wino_t *g, const float *in, int s, int c, int y, int x)
{
    if (y < 0 || y >= g->h || x < 0 || x >= g->w) return 0.0;
    return in[s * g->is + c * g->ics + (long)y * g->w + x];
}

/* One case: forward (add onto a prefilled output), backward (alpha 0.5 into a
 * prefilled dw, din += onto a prefilled din at its own sample stride). */
static void run_case(const wcase_t *c)
{
    hf_wino_t g = geom(c);
    int r = c->r, p = (r - 1) / 2, rr = r * r;
    long hw = (long)c->h * c->w, nin = c->n * g.is, nout = (long)c->n * c->cout * hw, nw = (long)c->cout * c->cin * rr;
    long dis = c->cin * hw + 2 * c->gap + 1, ndin = c->n * dis;
    float *in = malloc(sizeof(float) * nin), *wt = malloc(sizeof(float) * nw), *out = malloc(sizeof(float) * nout);
    float *dout = malloc(sizeof(float) * nout), *dw = malloc(sizeof(float) * nw), *din = malloc(sizeof(float) * ndin);
    float *out0 = malloc(sizeof(float) * nout), *dw0 = malloc(sizeof(float) * nw), *din0 = malloc(sizeof(float) * ndin);
    double *rout = calloc(nout, sizeof(double)), *rdw = calloc(nw, sizeof(double));
    double *rdin = calloc(ndin, sizeof(double));
    float *scratch = malloc(sizeof(float) * hf_wino_scratch(&g));
    fill(in, nin, 1);
    fill(wt, nw, 2);
    fill(out0, nout, 3);
    fill(dout, nout, 4);
    fill(dw0, nw, 5);
    fill(din0, ndin, 6);
    const float alpha = 0.5f;
    /* the reference: direct correlation, double */
    for (int s = 0; s < c->n; s++)
        for (int k = 0; k < c->cout; k++)
            for (int y = 0; y < c->h; y++)
                for (int x = 0; x < c->w; x++) {
                    long o = s * g.os + k * g.ocs + (long)y * c->w + x;
                    double acc = 0.0, d = dout[o];
                    for (int ci = 0; ci < c->cin; ci++)
                        for (int a = 0; a < r; a++)
                            for (int b = 0; b < r; b++) {
                                long wi = ((long)(k * c->cin + ci) * r + a) * r + b;
                                int yy = y + a - p, xx = x + b - p;
                                acc += wt[wi] * px(&g, in, s, ci, yy, xx);
                                rdw[wi] += d * px(&g, in, s, ci, yy, xx);
                                if (yy >= 0 && yy < c->h && xx >= 0 && xx < c->w)
                                    rdin[s * dis + ci * hw + (long)yy * c->w + xx] += wt[wi] * d;
                            }
                    rout[o] = acc;
                }
    /* forward, overwrite and add */
    hf_wino_forward(&g, wt, in, out, 0, scratch);
    double ef = rel_err(out, rout, nout);
    memcpy(out, out0, sizeof(float) * nout);
    hf_wino_forward(&g, wt, in, out, 1, scratch);
    for (long i = 0; i < nout; i++) out[i] -= out0[i];
    double efa = rel_err(out, rout, nout);
    /* backward: dw += alpha·grad, din += grad (the gaps between samples untouched) */
    memcpy(dw, dw0, sizeof(float) * nw);
    memcpy(din, din0, sizeof(float) * ndin);
    hf_wino_backward(&g, wt, in, dout, alpha, dw, din, dis, scratch, 0);
    for (long i = 0; i < nw; i++) dw[i] = (dw[i] - dw0[i]) / alpha;
    int gap_ok = 1;
    for (long i = 0; i < ndin; i++) {
        if (i % dis >= c->cin * hw) gap_ok &= din[i] == din0[i];
        din[i] -= din0[i];
    }
    double ew = rel_err(dw, rdw, nw), ed = rel_err(din, rdin, ndin);
    printf("\n  r=%d n=%d C=%d K=%d %dx%d: forward %.2e (add %.2e), weight grad %.2e, input grad %.2e ", r, c->n,
           c->cin, c->cout, c->h, c->w, ef, efa, ew, ed);
    CU_ASSERT(ef <= TOL);
    CU_ASSERT(efa <= TOL);
    CU_ASSERT(ew <= TOL);
    CU_ASSERT(ed <= TOL);
    CU_ASSERT(gap_ok);
    /* the weight gradient only: din NULL gives the same dw bits */
    float *dw2 = malloc(sizeof(float) * nw);
    memcpy(dw, dw0, sizeof(float) * nw);
    memcpy(dw2, dw0, sizeof(float) * nw);
    hf_wino_backward(&g, wt, in, dout, alpha, dw, din, dis, scratch, 0);
    hf_wino_backward(&g, wt, in, dout, alpha, dw2, NULL, 0, scratch, 0);
    CU_ASSERT(memcmp(dw, dw2, sizeof(float) * nw) == 0);
    /* kept: right after the forward of the same weights and input, the same
     * bits as transforming them again (where hf_wino_keeps: one chunk) ... */
    float *din2 = malloc(sizeof(float) * ndin);
    memcpy(dw, dw0, sizeof(float) * nw);
    memcpy(din, din0, sizeof(float) * ndin);
    hf_wino_backward(&g, wt, in, dout, alpha, dw, din, dis, scratch, 0);
    memcpy(dw2, dw0, sizeof(float) * nw);
    memcpy(din2, din0, sizeof(float) * ndin);
    hf_wino_forward(&g, wt, in, out, 0, scratch);
    hf_wino_backward(&g, wt, in, dout, alpha, dw2, din2, dis, scratch, 1);
    CU_ASSERT(memcmp(dw, dw2, sizeof(float) * nw) == 0);
    CU_ASSERT(memcmp(din, din2, sizeof(float) * ndin) == 0);
    /* ... and they are used: after a forward of the negated input the weight
     * gradient (from zeros) is negated where the tiles fit one chunk (else
     * recomputed: the same) */
    memset(dw, 0, sizeof(float) * nw);
    hf_wino_backward(&g, wt, in, dout, alpha, dw, NULL, 0, scratch, 0);
    for (long i = 0; i < nin; i++) in[i] = -in[i];
    hf_wino_forward(&g, wt, in, out, 0, scratch);
    for (long i = 0; i < nin; i++) in[i] = -in[i];
    memset(dw2, 0, sizeof(float) * nw);
    hf_wino_backward(&g, wt, in, dout, alpha, dw2, NULL, 0, scratch, 1);
    int negated = 1, same = 1;
    for (long i = 0; i < nw; i++) {
        negated &= dw2[i] == -dw[i] && dw[i] != 0.0f;
        same &= dw2[i] == dw[i];
    }
    CU_ASSERT(hf_wino_keeps(&g) ? negated : same);
    free(dw2);
    free(din2);
    free(in); free(wt); free(out); free(dout); free(dw); free(din);
    free(out0); free(dw0); free(din0); free(rout); free(rdw); free(rdin); free(scratch);
}

static const wcase_t cases3[] = {
    {3, 2, 3, 5, 7, 9, 0, 0},     /* odd, unequal: partial tiles right and bottom */
    {3, 1, 2, 3, 5, 3, 0, 3},     /* smaller than one tile */
    {3, 3, 4, 2, 8, 12, 1, 5},    /* multiples of m = 4; the CNN's output layout */
    {3, 2, 1, 6, 4, 4, 0, 0},     /* one input channel, one tile (ResNet-18's 4x4 stage) */
};
static const wcase_t cases5[] = {
    {5, 2, 3, 5, 7, 9, 0, 0},
    {5, 1, 2, 3, 5, 3, 0, 3},
    {5, 3, 4, 2, 6, 10, 1, 5},    /* partial tiles of 2 rows and 2 columns */
    {5, 2, 5, 3, 8, 12, 1, 2},    /* multiples of m = 4 */
    {5, 2, 6, 4, 14, 14, 1, 0},   /* the McMahan CNN's conv2 geometry, fewer channels */
};

static void test_r3(void)
{
    for (size_t i = 0; i < sizeof cases3 / sizeof cases3[0]; i++) run_case(&cases3[i]);
}
static void test_r5(void)
{
    for (size_t i = 0; i < sizeof cases5 / sizeof cases5[0]; i++) run_case(&cases5[i]);
}
/* 9 samples of 25 tiles with C + K = 160: 3x3 kernels (6x6 tiles) 176
 * tiles a chunk, so two chunks, the second one partial and not a multiple of
 * the lanes (the weight gradient summed across them); 5x5 kernels (8x8
 * tiles) 96 tiles a chunk, so three, the last of 33 tiles. */
static void test_chunks(void)
{
    wcase_t c3 = {3, 9, 96, 64, 18, 17, 0, 1}, c5 = {5, 9, 96, 64, 18, 17, 0, 1};
    run_case(&c3);
    run_case(&c5);
}

/* One output pixel by hand: a 1x1 image, one channel, 3x3 weights: only the
 * centre weight sees the pixel (out = w[1][1]·x); its gradients likewise. */
static void test_hand(void)
{
    hf_wino_t g = {3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    float wt[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, x = 3.0f, out = 0.0f, dy = 2.0f, dw[9] = {0}, dx = 1.0f;
    float *scratch = malloc(sizeof(float) * hf_wino_scratch(&g));
    hf_wino_forward(&g, wt, &x, &out, 0, scratch);
    CU_ASSERT_DOUBLE_EQUAL(out, 15.0, 1e-5);
    hf_wino_backward(&g, wt, &x, &dy, 1.0f, dw, &dx, 1, scratch, 0);
    CU_ASSERT_DOUBLE_EQUAL(dw[4], 6.0, 1e-5);    /* dy·x */
    CU_ASSERT_DOUBLE_EQUAL(dx, 11.0, 1e-5);      /* 1 + w[1][1]·dy */
    for (int i = 0; i < 9; i++)
        if (i != 4) CU_ASSERT_DOUBLE_EQUAL(dw[i], 0.0, 1e-6);
    free(scratch);
}

static const hf_cu_test_t tests[] = {
    {"by hand: a 1x1 image", test_hand, NULL},
    {"F(4x4,3x3) against a direct convolution", test_r3, NULL},
    {"F(4x4,5x5) against a direct convolution", test_r5, NULL},
    {"several tile chunks", test_chunks, NULL},
    {0},
};
static const hf_cu_suite_t suites[] = {{"winograd", tests, NULL, NULL}, {0}};

int main(int argc, char **argv)
{
    openblas_set_num_threads(1);
    return hf_cu_main(&argc, &argv, 0, suites);
}
