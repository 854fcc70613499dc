/*
 * test_nn.c — CUnit tests of kernels/nn.c: model layout and parameter counts,
 * bad configurations, deterministic initialisation, softmax cross-entropy,
 * convolution and max-pool against naive loops, finite-difference gradient
 * checks of every tensor of small logreg / MLP / CNN models, SGD semantics
 * against hand-computed values, the fused train step against the two-call
 * path, and a training sanity check on a linearly separable problem.
 *
 * Exit status: 0 when every assertion passed, 1 otherwise.
 */
#include "hf_util.h"
#include "nn.h"
#include "conv_direct.h"
#include "rng.h"
#include "cunit_main.h"
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* helpers                                                                   */
/* ------------------------------------------------------------------------ */

static void fill_uniform(float *p, long n, uint64_t seed, float lo, float hi)
{
    hf_rng_t r;
    hf_rng_init(&r, seed, HF_RNG_TEST, 1, 0);
    for (long i = 0; i < n; i++) p[i] = lo + (hi - lo) * (float)hf_rng_uniform(&r);
}

static void fill_labels(int *y, int n, int C, uint64_t seed)
{
    hf_rng_t r;
    hf_rng_init(&r, seed, HF_RNG_TEST, 2, 0);
    for (int i = 0; i < n; i++) y[i] = (int)hf_rng_below(&r, (uint64_t)C);
}

static hf_model_cfg_t cfg_mlp(int in, int C, int nh, const int *h)
{
    hf_model_cfg_t c;
    memset(&c, 0, sizeof c);
    c.arch = nh < 0 ? HF_ARCH_LOGREG : HF_ARCH_MLP;
    c.in_c = 1;
    c.in_h = 1;
    c.in_w = in;
    c.n_classes = C;
    c.nhidden = nh < 0 ? 0 : nh;
    for (int i = 0; i < c.nhidden; i++) c.hidden[i] = h[i];
    return c;
}

static hf_model_cfg_t cfg_cnn(int ic, int ih, int iw, int C, int nh, const int *h)
{
    hf_model_cfg_t c;
    memset(&c, 0, sizeof c);
    c.arch = HF_ARCH_CNN;
    c.in_c = ic;
    c.in_h = ih;
    c.in_w = iw;
    c.n_classes = C;
    c.nhidden = nh;
    for (int i = 0; i < nh; i++) c.hidden[i] = h[i];
    return c;
}

static const hf_tensor_t *find_tensor(const hf_model_t *m, const char *name)
{
    for (int t = 0; t < m->ntensors; t++)
        if (strcmp(m->tensors[t].name, name) == 0) return &m->tensors[t];
    return NULL;
}

/* mean loss over the batch, accumulated in double */
static double mean_loss(const hf_model_t *m, hf_work_t *w, const float *p, const float *x, const int *y,
                        int B, float *lossbuf)
{
    if (m->cfg.arch == HF_ARCH_RESNET && m->cfg.norm == HF_NORM_STATIC_BN) {  /* training: batch statistics */
        float *g = malloc(sizeof(float) * m->nparams);
        double L = hf_model_train_step_grad(m, w, p, g, x, y, B);
        free(g);
        return L;
    }
    hf_model_forward(m, w, p, x, y, B, NULL, lossbuf);
    double s = 0;
    for (int i = 0; i < B; i++) s += lossbuf[i];
    return s / B;
}

static int close_enough(double a, double b, double abs_tol, double rel_tol)
{
    double d = fabs(a - b), s = fmax(fabs(a), fabs(b));
    return d <= abs_tol || d <= rel_tol * s;
}

/* ------------------------------------------------------------------------ */
/* layout, counts, cfg validation                                            */
/* ------------------------------------------------------------------------ */

static void test_param_counts(void)
{
    hf_model_t m;
    int h2[2] = {200, 200};
    hf_model_cfg_t c = cfg_mlp(784, 10, 2, h2);
    CU_ASSERT_EQUAL_FATAL(hf_model_init(&m, &c), HF_OK);
    CU_ASSERT_EQUAL(m.nparams, 199210);
    CU_ASSERT_EQUAL(m.ntensors, 6);
    CU_ASSERT_EQUAL(m.in_dim, 784);
    CU_ASSERT_DOUBLE_EQUAL(m.flops_fwd, 2.0 * (784 * 200 + 200 * 200 + 200 * 10), 0.5);
    CU_ASSERT_DOUBLE_EQUAL(hf_model_train_flops(&m), 3.0 * m.flops_fwd, 0.5);
    const hf_tensor_t *t = find_tensor(&m, "fc1.weight");
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT(t->ndim == 2 && t->shape[0] == 200 && t->shape[1] == 784 && t->off == 0);
    t = find_tensor(&m, "fc3.bias");
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT(t->ndim == 1 && t->shape[0] == 10 && t->off + t->n == m.nparams);
    /* tensors tile the buffer */
    long off = 0;
    int tiled = 1;
    for (int i = 0; i < m.ntensors; i++) {
        if (m.tensors[i].off != off) tiled = 0;
        off += m.tensors[i].n;
    }
    CU_ASSERT(tiled && off == m.nparams);

    hf_model_cfg_t cc = cfg_cnn(1, 28, 28, 10, 0, NULL);
    CU_ASSERT_EQUAL_FATAL(hf_model_init(&m, &cc), HF_OK);
    CU_ASSERT_EQUAL(m.nparams, 1663370);
    CU_ASSERT_EQUAL(m.cfg.nhidden, 3);
    CU_ASSERT(m.cfg.hidden[0] == 32 && m.cfg.hidden[1] == 64 && m.cfg.hidden[2] == 512);
    t = find_tensor(&m, "conv1.weight");
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT(t->ndim == 4 && t->shape[0] == 32 && t->shape[1] == 1 && t->shape[2] == 5 &&
              t->shape[3] == 5);
    t = find_tensor(&m, "fc1.weight");
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT(t->shape[0] == 512 && t->shape[1] == 7 * 7 * 64);
    CU_ASSERT_DOUBLE_EQUAL(m.flops_fwd,
                           2.0 * (32 * 25 * 784.0 + 64 * 800 * 196.0 + 3136 * 512.0 + 512 * 10.0), 0.5);
    int h3[3] = {32, 64, 512}, hz[3] = {0, 64, 0};
    cc = cfg_cnn(1, 28, 28, 10, 3, h3);
    CU_ASSERT(hf_model_init(&m, &cc) == HF_OK && m.nparams == 1663370);
    cc = cfg_cnn(1, 28, 28, 10, 3, hz);
    CU_ASSERT(hf_model_init(&m, &cc) == HF_OK && m.nparams == 1663370);
    cc = cfg_cnn(1, 28, 28, 10, 2, h3);
    CU_ASSERT(hf_model_init(&m, &cc) == HF_OK && m.nparams == 1663370);

    c = cfg_mlp(784, 10, -1, NULL);
    CU_ASSERT(hf_model_init(&m, &c) == HF_OK && m.nparams == 7850 && m.ntensors == 2);
    c = cfg_mlp(784, 10, 0, NULL);   /* MLP without hidden layers = logreg */
    CU_ASSERT(hf_model_init(&m, &c) == HF_OK && m.nparams == 7850);
    CU_ASSERT_STRING_EQUAL(hf_arch_name(HF_ARCH_CNN), "cnn");
    CU_ASSERT_STRING_EQUAL(hf_arch_name(HF_ARCH_MLP), "mlp");
    CU_ASSERT_STRING_EQUAL(hf_arch_name(HF_ARCH_LOGREG), "logreg");
}

static void expect_einput(const hf_model_cfg_t *c)
{
    hf_model_t m;
    hf_clearerr();
    int rc = hf_model_init(&m, c);
    CU_ASSERT_EQUAL(rc, HF_EINPUT);
    CU_ASSERT(hf_errcode() == HF_EINPUT && hf_errmsg()[0] != 0);
}

static void test_bad_cfg(void)
{
    int neg[2] = {200, -5}, zero[2] = {0, 200}, cneg[4] = {32, -1, 512, 8};
    hf_model_cfg_t c = cfg_mlp(784, 10, 2, neg);
    expect_einput(&c);
    c = cfg_mlp(784, 10, 2, zero);
    expect_einput(&c);
    c = cfg_mlp(784, 1, -1, NULL);          /* n_classes < 2 */
    expect_einput(&c);
    c = cfg_mlp(0, 10, -1, NULL);           /* zero input */
    expect_einput(&c);
    c = cfg_mlp(784, 10, -1, NULL);
    c.in_c = 0;
    expect_einput(&c);
    c = cfg_mlp(784, 10, 2, neg);
    c.nhidden = -1;
    expect_einput(&c);
    c.nhidden = HF_MAX_HIDDEN + 1;
    expect_einput(&c);
    c = cfg_mlp(784, 10, -1, NULL);
    c.arch = (hf_arch_t)7;
    expect_einput(&c);
    c = cfg_cnn(1, 28, 28, 10, 3, cneg);
    expect_einput(&c);
    c = cfg_cnn(1, 28, 28, 10, 4, cneg);
    expect_einput(&c);
    c = cfg_cnn(1, 3, 28, 10, 0, NULL);     /* too small for two pools */
    expect_einput(&c);
    c = cfg_cnn(1, 28, 28, 0, 0, NULL);
    expect_einput(&c);
    hf_model_t m;
    c = cfg_mlp(8, 3, -1, NULL);
    CU_ASSERT_EQUAL_FATAL(hf_model_init(&m, &c), HF_OK);
    hf_clearerr();
    CU_ASSERT_PTR_NULL(hf_work_new(&m, 0));
    CU_ASSERT_EQUAL(hf_errcode(), HF_EINPUT);
}

/* ------------------------------------------------------------------------ */
/* initialisation                                                            */
/* ------------------------------------------------------------------------ */

static void test_init_determinism(void)
{
    hf_model_t m, m2;
    int h2[2] = {200, 200}, h2b[2] = {200, 100};
    hf_model_cfg_t c = cfg_mlp(784, 10, 2, h2), c2 = cfg_mlp(784, 10, 2, h2b);
    CU_ASSERT_EQUAL_FATAL(hf_model_init(&m, &c), HF_OK);
    CU_ASSERT_EQUAL_FATAL(hf_model_init(&m2, &c2), HF_OK);
    size_t bytes = sizeof(float) * m.nparams;
    float *a = malloc(bytes), *b = malloc(bytes), *d = malloc(bytes), *e = malloc(sizeof(float) * m2.nparams);
    hf_model_init_params(&m, a, 42);
    hf_model_init_params(&m, b, 42);
    hf_model_init_params(&m, d, 43);
    hf_model_init_params(&m2, e, 42);
    CU_ASSERT_EQUAL(memcmp(a, b, bytes), 0);
    CU_ASSERT_NOT_EQUAL(memcmp(a, d, bytes), 0);
    /* one stream per tensor: fc1 does not depend on the later layers */
    CU_ASSERT_EQUAL(memcmp(a, e, sizeof(float) * 200 * 785), 0);
    /* U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases */
    for (int t = 0; t < m.ntensors; t++) {
        const hf_tensor_t *T = &m.tensors[t];
        int fan_in = T->ndim == 2 ? T->shape[1] : m.tensors[t - 1].shape[1];
        double bound = 1.0 / sqrt(fan_in), mx = 0, mean = 0;
        for (long i = 0; i < T->n; i++) {
            mx = fmax(mx, fabs(a[T->off + i]));
            mean += a[T->off + i];
        }
        mean /= T->n;
        CU_ASSERT(mx <= bound && mx > 0.8 * bound);
        if (T->n > 10000) CU_ASSERT(fabs(mean) < 0.01 * bound);
    }
    /* the documented streams: tensor t draws (2u-1)/sqrt(fan_in) from
     * hf_rng_init(seed, HF_RNG_INIT, t, 0) */
    for (int t = 1; t < m.ntensors; t += 3) {
        const hf_tensor_t *T = &m.tensors[t];
        int fan_in = T->ndim == 2 ? T->shape[1] : m.tensors[t - 1].shape[1];
        hf_rng_t r;
        hf_rng_init(&r, 42, HF_RNG_INIT, (uint64_t)t, 0);
        int same = 1;
        for (long i = 0; i < T->n; i++)
            same &= a[T->off + i] == (float)((2.0 * hf_rng_uniform(&r) - 1.0) * (1.0 / sqrt((double)fan_in)));
        CU_ASSERT(same);
    }
    /* cnn: conv fan_in = in_c*5*5 */
    hf_model_cfg_t cc = cfg_cnn(1, 28, 28, 10, 0, NULL);
    CU_ASSERT_EQUAL_FATAL(hf_model_init(&m, &cc), HF_OK);
    float *p = malloc(sizeof(float) * m.nparams);
    hf_model_init_params(&m, p, 7);
    const hf_tensor_t *T = find_tensor(&m, "conv2.weight");
    double mx = 0;
    for (long i = 0; i < T->n; i++) mx = fmax(mx, fabs(p[T->off + i]));
    CU_ASSERT(mx <= 1.0 / sqrt(32 * 25) && mx > 0.9 / sqrt(32 * 25));
    free(a);
    free(b);
    free(d);
    free(e);
    free(p);
}

/* ------------------------------------------------------------------------ */
/* softmax cross-entropy                                                     */
/* ------------------------------------------------------------------------ */

static void test_softmax_xent(void)
{
    /* hand-computed: z = (1,2,3), y = 2 */
    float z[3] = {1, 2, 3}, dz[3], loss[1];
    int y[1] = {2}, nc = 0;
    double s = exp(1) + exp(2) + exp(3);
    double L = hf_softmax_xent(z, 3, 1, 1, 3, y, dz, loss, &nc);
    CU_ASSERT_DOUBLE_EQUAL(L, log(s) - 3, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(loss[0], log(s) - 3, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(dz[0], exp(1) / s, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(dz[1], exp(2) / s, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(dz[2], exp(3) / s - 1, 1e-6);
    CU_ASSERT_EQUAL(nc, 1);

    /* stability: huge logits stay finite */
    float zb[3] = {1000, 1001, -1000}, db[3];
    int yb[1] = {0};
    L = hf_softmax_xent(zb, 3, 1, 1, 3, yb, db, NULL, NULL);
    CU_ASSERT(isfinite(L) && fabs(L - log(1 + exp(1.0))) < 1e-4);   /* log(e^0 + e^1 + e^-2000) */
    CU_ASSERT(isfinite(db[0]) && isfinite(db[1]) && db[2] == 0.0f);

    /* ties -> lowest index; bad label -> NAN loss, zero gradient */
    float zt[4] = {0.5f, 0.5f, 0.5f, 0.5f}, dt[4];
    int yt[1] = {0}, ybad[1] = {4};
    nc = 0;
    hf_softmax_xent(zt, 4, 1, 1, 4, yt, NULL, NULL, &nc);
    CU_ASSERT_EQUAL(nc, 1);
    L = hf_softmax_xent(zt, 4, 1, 1, 4, ybad, dt, NULL, NULL);
    CU_ASSERT(isnan(L) && dt[0] == 0.0f && dt[3] == 0.0f);

    /* gradient against double central differences, feature-major layout
     * (cs = n, bs = 1) to exercise the strides: 3 samples, 5 classes */
    enum { C = 5, N = 3 };
    float zz[C * N], g[C * N];
    int yy[N] = {4, 0, 2};
    fill_uniform(zz, C * N, 11, -3, 3);
    hf_softmax_xent(zz, C, N, N, 1, yy, g, NULL, NULL);
    int ok = 1;
    for (int i = 0; i < C * N; i++) {
        int b = i % N;
        double zd[C];
        for (int c = 0; c < C; c++) zd[c] = zz[c * N + b];
        double h = 1e-5, lp, lm;
        int c0 = i / N;
        zd[c0] += h;
        double mx = -1e300, ss = 0;
        for (int c = 0; c < C; c++) mx = fmax(mx, zd[c]);
        for (int c = 0; c < C; c++) ss += exp(zd[c] - mx);
        lp = log(ss) + mx - zd[yy[b]];
        zd[c0] -= 2 * h;
        mx = -1e300;
        ss = 0;
        for (int c = 0; c < C; c++) mx = fmax(mx, zd[c]);
        for (int c = 0; c < C; c++) ss += exp(zd[c] - mx);
        lm = log(ss) + mx - zd[yy[b]];
        if (!close_enough(g[i], (lp - lm) / (2 * h), 1e-5, 1e-4)) ok = 0;
    }
    CU_ASSERT(ok);
}

/* ------------------------------------------------------------------------ */
/* convolution and pooling against naive loops                               */
/* ------------------------------------------------------------------------ */

/* max |hf_conv5_forward - direct convolution in double| for one shape */
static double conv_err(int CI, int H, int W, int CO, uint64_t seed)
{
    float *in = malloc(sizeof(float) * CI * H * W), *wt = malloc(sizeof(float) * CO * CI * 25);
    float *bias = malloc(sizeof(float) * CO), *out = malloc(sizeof(float) * CO * H * W);
    float *cols = malloc(sizeof(float) * CI * 25 * H * W);
    fill_uniform(in, CI * H * W, seed, -1, 1);
    fill_uniform(wt, CO * CI * 25, seed + 1, -0.5f, 0.5f);
    fill_uniform(bias, CO, seed + 2, -1, 1);
    hf_conv5_forward(in, CI, H, W, wt, bias, CO, out, cols);
    double maxerr = 0;
    for (int co = 0; co < CO; co++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                double s = bias[co];
                for (int ci = 0; ci < CI; ci++)
                    for (int ky = 0; ky < 5; ky++)
                        for (int kx = 0; kx < 5; kx++) {
                            int iy = y + ky - 2, ix = x + kx - 2;
                            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                            s += (double)wt[((co * CI + ci) * 5 + ky) * 5 + kx] * in[(ci * H + iy) * W + ix];
                        }
                maxerr = fmax(maxerr, fabs(s - out[(co * H + y) * W + x]));
            }
    free(in);
    free(wt);
    free(bias);
    free(out);
    free(cols);
    return maxerr;
}

static void test_conv_naive(void)
{
    /* odd, non-square, and planes smaller than the 5x5 kernel */
    static const int shapes[][4] = {{3, 7, 9, 4}, {1, 28, 28, 3}, {2, 14, 14, 5}, {2, 2, 3, 3},
                                    {1, 1, 1, 2}, {2, 5, 4, 2}, {3, 3, 6, 1}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        double e = conv_err(shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3], 1 + 10 * i);
        if (!(e < 1e-4))
            printf("\n  conv %dx%dx%d -> %d: max error %.3g", shapes[i][0], shapes[i][1], shapes[i][2],
                   shapes[i][3], e);
        CU_ASSERT(e < 1e-4);
    }
    /* a 1-channel 4x4 image: corner output sums only the in-range taps */
    float img[16], k1[25], b0[1] = {0}, o1[16], c1[25 * 16];
    for (int i = 0; i < 16; i++) img[i] = 1;
    for (int i = 0; i < 25; i++) k1[i] = 1;
    hf_conv5_forward(img, 1, 4, 4, k1, b0, 1, o1, c1);
    CU_ASSERT_DOUBLE_EQUAL(o1[0], 9.0, 1e-6);    /* 3x3 taps inside */
    CU_ASSERT_DOUBLE_EQUAL(o1[5], 16.0, 1e-6);   /* (1,1): rows 0..3, cols 0..3 */
}

/* hf_conv5_backward_batch of n = 2 samples against direct sums in double:
 * dW = alpha·Σ dout·im2col(in) (+ beta·dW), db = alpha·Σ dout (+ beta·db),
 * din = the adjoint of the convolution.  11 output channels: the bias
 * gradient's interleaved row sums (8 channels at a time) and their tail. */
static void test_conv_backward_naive(void)
{
    enum { N = 2, CI = 2, H = 6, W = 5, CO = 11, HW = H * W, K = CI * 25 };
    static float in[N * CI * HW], dout[CO * N * HW], wt[CO * K], dw[CO * K], db[CO], din[N * CI * HW],
        cols[K * N * HW];
    fill_uniform(in, N * CI * HW, 71, -1, 1);
    fill_uniform(dout, CO * N * HW, 72, -1, 1);
    fill_uniform(wt, CO * K, 73, -0.5f, 0.5f);
    for (int beta = 0; beta < 2; beta++) {
        float dw0[CO * K], db0[CO];
        fill_uniform(dw, CO * K, 74, -1, 1);
        fill_uniform(db, CO, 75, -1, 1);
        memcpy(dw0, dw, sizeof dw);
        memcpy(db0, db, sizeof db);
        hf_conv5_backward_batch(in, CI * HW, N, CI, H, W, wt, CO, dout, 0.5f, (float)beta, dw, db, din, CI * HW,
                                cols, 1);
        double edw = 0, edb = 0, edin = 0;
        for (int co = 0; co < CO; co++) {
            double sb = 0;
            for (int i = 0; i < N * HW; i++) sb += dout[co * N * HW + i];
            edb = fmax(edb, fabs(0.5 * sb + beta * db0[co] - db[co]));
            for (int ci = 0; ci < CI; ci++)
                for (int t = 0; t < 25; t++) {
                    double sw = 0;
                    for (int s = 0; s < N; s++)
                        for (int y = 0; y < H; y++)
                            for (int x = 0; x < W; x++) {
                                int iy = y + t / 5 - 2, ix = x + t % 5 - 2;
                                if (iy >= 0 && iy < H && ix >= 0 && ix < W)
                                    sw += (double)dout[co * N * HW + s * HW + y * W + x] *
                                          in[(s * CI + ci) * HW + iy * W + ix];
                            }
                    int k = co * K + ci * 25 + t;
                    edw = fmax(edw, fabs(0.5 * sw + beta * dw0[k] - dw[k]));
                }
        }
        for (int s = 0; s < N; s++)
            for (int ci = 0; ci < CI; ci++)
                for (int iy = 0; iy < H; iy++)
                    for (int ix = 0; ix < W; ix++) {
                        double sx = 0;
                        for (int co = 0; co < CO; co++)
                            for (int t = 0; t < 25; t++) {
                                int y = iy - t / 5 + 2, x = ix - t % 5 + 2;
                                if (y >= 0 && y < H && x >= 0 && x < W)
                                    sx += (double)wt[co * K + ci * 25 + t] * dout[co * N * HW + s * HW + y * W + x];
                            }
                        edin = fmax(edin, fabs(sx - din[(s * CI + ci) * HW + iy * W + ix]));
                    }
        if (!(edw < 1e-4 && edb < 1e-5 && edin < 1e-4))
            printf("\n  conv5 backward (beta %d): max error dW %.3g, db %.3g, din %.3g", beta, edw, edb, edin);
        CU_ASSERT(edw < 1e-4 && edb < 1e-5 && edin < 1e-4);
    }
}

/* The direct one-channel convolution (conv_direct.c, model.conv = fast)
 * against sums in double, n samples of (h, w), cout channels, k x k.
 * Tolerances are the float rounding bounds of the kernel's own summation
 * orders (conv_direct.h): a sum of m terms in float is within (m+1)·u·Σ|term|
 * of the exact one (u = FLT_EPSILON/2; the +1 for the product roundings), so
 *   forward:  m = k² + 1 (bias + taps);
 *   gradient: m = n·h·w/L + L + 1 (a lane's pixels, then the L lanes; the
 *             scaling by alpha adds one more rounding);
 * with a factor 2 of margin (FLT_EPSILON instead of u).  A wrong tap, a
 * missing pixel or a lost lane is off by O(0.01-1), far above these.
 * ld > n·h·w checks the channel stride; the gradient comes in two pieces
 * (samples [0,1) then [1,n)) and must equal one call on all n bitwise, and
 * the 8-float loops (hf_conv1_narrow) must give the 16-float ones' bits. */
static int conv_direct_case(int n, int h, int w, int cout, int k, uint64_t seed)
{
    int p = (k - 1) / 2, kk = k * k, ok = 1;
    long N = (long)h * w, ld = n * N + 3;
    float *in = malloc(sizeof(float) * n * N), *wt = malloc(sizeof(float) * cout * kk),
          *bias = malloc(sizeof(float) * cout), *out = calloc((size_t)(cout * ld), sizeof(float)),
          *dout = malloc(sizeof(float) * cout * ld), *dw = malloc(sizeof(float) * cout * kk),
          *db = malloc(sizeof(float) * cout), *dw1 = malloc(sizeof(float) * cout * kk),
          *db1 = malloc(sizeof(float) * cout);
    float *scr = malloc(sizeof(float) * hf_conv1_scratch(h, w, k));
    long na = hf_conv1_acc_floats(cout, k);
    float *acc = calloc((size_t)na, sizeof(float)), *acc1 = calloc((size_t)na, sizeof(float));
    fill_uniform(in, n * N, seed, -1, 1);
    fill_uniform(wt, cout * kk, seed + 1, -0.5f, 0.5f);
    fill_uniform(bias, cout, seed + 2, -0.5f, 0.5f);
    fill_uniform(dout, cout * ld, seed + 3, -1, 1);
    hf_conv1_forward(in, N, n, h, w, k, wt, bias, cout, out, ld, scr);
    float alpha = 1.0f / 3.0f;
    hf_conv1_grad_acc(in, N, n, h, w, k, cout, dout, ld, acc, scr);
    hf_conv1_grad_finish(acc, cout, k, alpha, dw, db);
    hf_conv1_grad_acc(in, N, 1, h, w, k, cout, dout, ld, acc1, scr);
    hf_conv1_grad_acc(in + N, N, n - 1, h, w, k, cout, dout + N, ld, acc1, scr);
    hf_conv1_grad_finish(acc1, cout, k, alpha, dw1, db1);
    double efwd = 0, edw = 0, edb = 0;   /* worst error / its bound */
    for (int co = 0; co < cout; co++) {
        for (int s = 0; s < n; s++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    double sum = bias[co], mag = fabs(bias[co]);
                    for (int t = 0; t < kk; t++) {
                        int iy = y + t / k - p, ix = x + t % k - p;
                        if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                        double term = (double)wt[co * kk + t] * in[s * N + iy * w + ix];
                        sum += term;
                        mag += fabs(term);
                    }
                    double e = fabs(sum - out[co * ld + s * N + y * w + x]);
                    efwd = fmax(efwd, e / ((kk + 2) * FLT_EPSILON * mag + 1e-30));
                }
        double m = (double)n * N / HF_CONV1_LANES + HF_CONV1_LANES + 2;
        for (int t = 0; t <= kk; t++) {
            double sum = 0, mag = 0;
            for (int s = 0; s < n; s++)
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++) {
                        int iy = y + t / k - p, ix = x + t % k - p;
                        double d = dout[co * ld + s * N + y * w + x], term;
                        if (t == kk)
                            term = d;
                        else if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                            continue;
                        else
                            term = d * in[s * N + iy * w + ix];
                        sum += term;
                        mag += fabs(term);
                    }
            double got = t < kk ? dw[co * kk + t] : db[co];
            double e = fabs(alpha * sum - got) / (m * FLT_EPSILON * alpha * mag + 1e-30);
            if (t < kk)
                edw = fmax(edw, e);
            else
                edb = fmax(edb, e);
        }
    }
    int same = !memcmp(dw, dw1, sizeof(float) * cout * kk) && !memcmp(db, db1, sizeof(float) * cout);
    /* the 8-float loops (AVX2, SSE machines) give the same bits as the 16-float ones */
    float *out8 = calloc((size_t)(cout * ld), sizeof(float));
    memset(acc1, 0, sizeof(float) * na);
    hf_conv1_narrow(1);
    hf_conv1_forward(in, N, n, h, w, k, wt, bias, cout, out8, ld, scr);
    hf_conv1_grad_acc(in, N, n, h, w, k, cout, dout, ld, acc1, scr);
    hf_conv1_narrow(0);
    hf_conv1_grad_finish(acc1, cout, k, alpha, dw1, db1);
    int narrow = !memcmp(out, out8, sizeof(float) * cout * ld) && !memcmp(dw, dw1, sizeof(float) * cout * kk) &&
                 !memcmp(db, db1, sizeof(float) * cout);
    free(out8);
    if (!(efwd <= 1 && edw <= 1 && edb <= 1 && same && narrow)) {
        printf("\n  direct conv n=%d %dx%d -> %d, k=%d: error/bound fwd %.3g dW %.3g db %.3g, pieces %s, "
               "8-float loops %s", n, h, w, cout, k, efwd, edw, edb, same ? "same" : "DIFFER",
               narrow ? "same" : "DIFFER");
        ok = 0;
    }
    free(in); free(wt); free(bias); free(out); free(dout); free(dw); free(db); free(dw1); free(db1);
    free(scr); free(acc); free(acc1);
    return ok;
}

static void test_conv_direct(void)
{
    /* n, h, w, cout, k: odd unequal sizes (tails of every block: 5 channels,
     * 63 pixels), the McMahan conv1 (full tiles, 784 = 24·32 + 16: the last
     * tile overlaps), k = 3 and 7 (7 taps a row: a block of 5 and one of 2),
     * a plane smaller than a tile and than the kernel */
    static const int cases[][5] = {{3, 7, 9, 5, 5}, {3, 7, 9, 5, 3}, {2, 28, 28, 32, 5}, {2, 28, 28, 13, 5},
                                   {3, 9, 7, 9, 7}, {2, 2, 3, 4, 5}, {1, 1, 1, 2, 3}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CU_ASSERT(conv_direct_case(cases[i][0], cases[i][1], cases[i][2], cases[i][3], cases[i][4], 900 + 10 * i));
    /* by hand: a 4x4 plane of ones, a 5x5 kernel of ones, bias 0.5 -> the
     * corner sums its 3x3 in-range taps (9.5), pixel (1,1) its 4x4 (16.5);
     * dout = 1 everywhere, alpha 1: dW of the centre tap = 16 pixels,
     * of the corner tap (0,0) = the 2x2 pixels with (y-2, x-2) inside = 4,
     * db = 16 */
    float img[16], k1[25], b1[1] = {0.5f}, o1[16], d1[16], dw[25], db[1];
    float *scr = malloc(sizeof(float) * hf_conv1_scratch(4, 4, 5)), *acc = calloc(26 * HF_CONV1_LANES, sizeof(float));
    for (int i = 0; i < 16; i++) img[i] = d1[i] = 1;
    for (int i = 0; i < 25; i++) k1[i] = 1;
    hf_conv1_forward(img, 16, 1, 4, 4, 5, k1, b1, 1, o1, 16, scr);
    CU_ASSERT_EQUAL(o1[0], 9.5f);
    CU_ASSERT_EQUAL(o1[5], 16.5f);
    CU_ASSERT_EQUAL(o1[15], 9.5f);
    hf_conv1_grad_acc(img, 16, 1, 4, 4, 5, 1, d1, 16, acc, scr);
    hf_conv1_grad_finish(acc, 1, 5, 1.0f, dw, db);
    CU_ASSERT_EQUAL(dw[12], 16.0f);
    CU_ASSERT_EQUAL(dw[0], 4.0f);
    CU_ASSERT_EQUAL(dw[24], 4.0f);
    CU_ASSERT_EQUAL(db[0], 16.0f);
    free(scr);
    free(acc);
}

/* model.conv = fast in the CNN (conv1 direct, one input channel): the loss
 * and every gradient agree with model.conv = gemm to float rounding (the same
 * mathematics), and the fast gradient does not depend on the work space's
 * max batch (the direct conv1 sums its gradient over the whole batch) nor on
 * the steps run before in the same work space (its lanes start at zero). */
static void test_cnn_conv_fast(void)
{
    int hd[3] = {5, 6, 7};
    hf_model_cfg_t c = cfg_cnn(1, 12, 10, 4, 3, hd), cf = c;
    cf.conv = HF_CONV_FAST;
    hf_model_t m, mf;
    CU_ASSERT_EQUAL_FATAL(hf_model_init(&m, &c), HF_OK);
    CU_ASSERT_EQUAL_FATAL(hf_model_init(&mf, &cf), HF_OK);
    CU_ASSERT_EQUAL(m.nparams, mf.nparams);
    enum { B = 7 };
    float *p = malloc(sizeof(float) * m.nparams), *g = malloc(sizeof(float) * m.nparams),
          *gf = malloc(sizeof(float) * m.nparams), *gf2 = malloc(sizeof(float) * m.nparams),
          *x = malloc(sizeof(float) * B * m.in_dim);
    int y[B];
    hf_model_init_params(&m, p, 950);
    fill_uniform(x, B * m.in_dim, 951, 0, 1);
    fill_labels(y, B, 4, 952);
    hf_work_t *w = hf_work_new(&m, B), *wf = hf_work_new(&mf, B), *wf2 = hf_work_new(&mf, B + 5);
    float l = hf_model_train_step_grad(&m, w, p, g, x, y, B);
    float lf = hf_model_train_step_grad(&mf, wf, p, gf, x, y, B);
    hf_model_train_step_grad(&mf, wf2, p, gf2, x + m.in_dim, y + 1, B - 1);   /* another step first */
    hf_model_train_step_grad(&mf, wf2, p, gf2, x, y, B);
    CU_ASSERT(fabsf(l - lf) <= 1e-5f * fabsf(l));
    for (int t = 0; t < m.ntensors; t++) {
        const hf_tensor_t *T = &m.tensors[t];
        double e = 0, mag = 0;
        for (long i = T->off; i < T->off + T->n; i++) {
            e = fmax(e, fabs((double)g[i] - gf[i]));
            mag = fmax(mag, fabs((double)g[i]));
        }
        if (!(e <= 1e-4 * mag)) printf("\n  %s: fast vs gemm max diff %.3g (max |g| %.3g)", T->name, e, mag);
        CU_ASSERT(e <= 1e-4 * mag);
    }
    CU_ASSERT(memcmp(gf, gf2, sizeof(float) * m.nparams) == 0);
    hf_work_free(w);
    hf_work_free(wf);
    hf_work_free(wf2);
    free(p); free(g); free(gf); free(gf2); free(x);
}

/* The CNN's conv sub-batches (hf_conv5_subbatch), by hand: the im2col of a
 * sub-batch within 128 Ki floats (cin·25·h·w floats a sample), and with
 * OpenBLAS's small-matrix kernels (hf_gemm_split(1)) also the forward sgemm
 * within M·N·K = cout·(n·h·w)·(cin·25) <= 10^6. */
static void test_conv_subbatch(void)
{
    hf_gemm_split(0);
    CU_ASSERT_EQUAL(hf_conv5_subbatch(1, 28, 28, 32), 6);     /* 131072 / 19600 = 6.7 */
    CU_ASSERT_EQUAL(hf_conv5_subbatch(32, 14, 14, 64), 1);    /* 156800 floats > 128 Ki */
    CU_ASSERT_EQUAL(hf_conv5_subbatch(1, 8, 8, 4), 81);       /* 131072 / 1600 = 81.9 */
    hf_gemm_split(1);
    CU_ASSERT_EQUAL(hf_conv5_subbatch(1, 28, 28, 32), 1);     /* 627200 a sample: 1.6 fit */
    CU_ASSERT_EQUAL(hf_conv5_subbatch(1, 28, 28, 8), 6);      /* 156800: 6.4 fit, the im2col 6 */
    CU_ASSERT_EQUAL(hf_conv5_subbatch(1, 8, 8, 4), 81);       /* 6400: 156 fit, the im2col 81 */
    CU_ASSERT_EQUAL(hf_conv5_subbatch(2, 8, 8, 20), 15);      /* 64000: 15.6 fit, the im2col 40 */
    CU_ASSERT_EQUAL(hf_conv5_subbatch(32, 14, 14, 64), 1);
    hf_gemm_split(-1);   /* the automatic setting */
}

static void test_pool_naive(void)
{
    enum { C = 2, H = 5, W = 7 };
    float in[C * H * W], out[C * 2 * 3];
    int arg[C * 2 * 3];
    fill_uniform(in, C * H * W, 5, -1, 1);
    for (int relu = 0; relu < 2; relu++) {
        hf_pool2_forward(in, C, H, W, relu, out, arg);
        int ok = 1, argok = 1;
        for (int c = 0; c < C; c++)
            for (int py = 0; py < H / 2; py++)
                for (int px = 0; px < W / 2; px++) {
                    float best = -INFINITY;
                    int bi = -1;
                    for (int dy = 0; dy < 2; dy++)
                        for (int dx = 0; dx < 2; dx++) {
                            int i = (c * H + 2 * py + dy) * W + 2 * px + dx;
                            if (in[i] > best) { best = in[i]; bi = i; }
                        }
                    float want = relu && best < 0 ? 0.0f : best;
                    int o = (c * (H / 2) + py) * (W / 2) + px;
                    if (out[o] != want) ok = 0;
                    if (arg[o] != bi) argok = 0;
                }
        CU_ASSERT(ok);
        CU_ASSERT(argok);
    }
    /* ties: first element of the window in row-major order */
    float t[4] = {2, 2, 2, 2}, to[1];
    int ta[1];
    hf_pool2_forward(t, 1, 2, 2, 0, to, ta);
    CU_ASSERT(to[0] == 2 && ta[0] == 0);
}

/* ------------------------------------------------------------------------ */
/* finite-difference gradient checks                                         */
/* ------------------------------------------------------------------------ */

/* Checks up to 6 distinct coordinates of every tensor (first, last, random)
 * against double-precision differences of the mean loss.  ReLU and max-pool
 * make the loss piecewise smooth: when a kink lies within eps of the point
 * the central difference straddles it, but one of the one-sided differences
 * does not, so a coordinate passes when the analytic value matches the
 * central difference or one of the one-sided ones.  Kink fallbacks are
 * counted and must stay a minority. */
static void gradcheck(const hf_model_cfg_t *cfg, int B, double eps, uint64_t seed, const char *what)
{
    hf_model_t m;
    CU_ASSERT_EQUAL_FATAL(hf_model_init(&m, cfg), HF_OK);
    hf_work_t *w = hf_work_new(&m, B);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    float *p = malloc(sizeof(float) * m.nparams), *g = malloc(sizeof(float) * m.nparams);
    float *x = malloc(sizeof(float) * B * m.in_dim), *lb = malloc(sizeof(float) * B);
    int *y = malloc(sizeof(int) * B);
    hf_model_init_params(&m, p, seed);
    /* biases a little positive so that most ReLUs are active */
    for (int t = 0; t < m.ntensors; t++)
        if (m.tensors[t].ndim == 1)
            for (long i = 0; i < m.tensors[t].n; i++) p[m.tensors[t].off + i] += 0.1f;
    fill_uniform(x, (long)B * m.in_dim, seed + 1, 0, 1);
    fill_labels(y, B, cfg->n_classes, seed + 2);
    for (long i = 0; i < m.nparams; i++) g[i] = NAN;   /* grad is output only */
    float L = hf_model_train_step_grad(&m, w, p, g, x, y, B);
    CU_ASSERT(isfinite(L));
    double L0 = mean_loss(&m, w, p, x, y, B, lb);
    CU_ASSERT_DOUBLE_EQUAL(L, L0, 1e-5);
    hf_rng_t r;
    hf_rng_init(&r, seed, HF_RNG_TEST, 3, 0);
    int checked = 0, kinks = 0;
    for (int t = 0; t < m.ntensors; t++) {
        const hf_tensor_t *T = &m.tensors[t];
        int per = (int)HF_MIN(6, T->n), bad = 0;
        long pick[6];
        for (int k = 0; k < per; k++) {
            long j;
            int dup;
            do {   /* distinct coordinates */
                j = k == 0 ? 0 : k == 1 ? T->n - 1 : (long)hf_rng_below(&r, (uint64_t)T->n);
                dup = 0;
                for (int q = 0; q < k; q++) dup |= pick[q] == j;
            } while (dup);
            pick[k] = j;
            long i = T->off + j;
            float orig = p[i];
            p[i] = (float)(orig + eps);
            double hp = (double)p[i] - orig;
            double lp = mean_loss(&m, w, p, x, y, B, lb);
            p[i] = (float)(orig - eps);
            double hm = orig - (double)p[i];
            double lm = mean_loss(&m, w, p, x, y, B, lb);
            p[i] = orig;
            double central = (lp - lm) / (hp + hm), fwd = (lp - L0) / hp, bwd = (L0 - lm) / hm;
            checked++;
            if (close_enough(g[i], central, 1e-3, 1e-2)) continue;
            if (close_enough(g[i], fwd, 1e-3, 1e-2) || close_enough(g[i], bwd, 1e-3, 1e-2)) {
                kinks++;
                continue;
            }
            bad++;
            printf("\n  %s %s[%ld]: analytic %.6g numeric %.6g (one-sided %.6g %.6g)", what, T->name, j,
                   g[i], central, fwd, bwd);
        }
        CU_ASSERT_EQUAL(bad, 0);
    }
    if (kinks * 4 > checked) printf("\n  %s: %d of %d coordinates near a kink", what, kinks, checked);
    CU_ASSERT(kinks * 4 <= checked);
    free(p);
    free(g);
    free(x);
    free(lb);
    free(y);
    hf_work_free(w);
}

static void test_grad_logreg(void)
{
    hf_model_cfg_t c = cfg_mlp(6, 3, -1, NULL);
    gradcheck(&c, 5, 1e-2, 100, "logreg");
}

static void test_grad_mlp(void)
{
    int h[2] = {7, 4};
    hf_model_cfg_t c = cfg_mlp(5, 3, 2, h);
    gradcheck(&c, 4, 1e-3, 200, "mlp");
    int h3[3] = {9, 8, 5};
    c = cfg_mlp(12, 4, 3, h3);
    gradcheck(&c, 7, 1e-3, 300, "mlp3");
}

static void test_grad_cnn(void)
{
    int h[3] = {2, 3, 6};
    hf_model_cfg_t c = cfg_cnn(1, 8, 8, 4, 3, h);
    gradcheck(&c, 3, 1e-3, 400, "cnn");
    /* two input channels, odd sizes (floor pooling 6x10 -> 3x5 -> 1x2) */
    int h2[3] = {3, 2, 5};
    c = cfg_cnn(2, 6, 10, 3, 3, h2);
    gradcheck(&c, 2, 1e-3, 500, "cnn2");
    /* smallest input: 4x5 -> 2x2 -> 1x1, conv2 on a plane smaller than its kernel */
    int h3[3] = {2, 3, 4};
    c = cfg_cnn(1, 4, 5, 3, 3, h3);
    gradcheck(&c, 3, 1e-3, 600, "cnn3");
}

/* Soft-target (distillation) step: the analytic gradient of
 * mean KL(softmax(zt/T) ‖ softmax(z/T)) against central differences of the
 * divergence recomputed from forward logits in double precision; KL = 0 and
 * a zero gradient when the teacher is the student itself. */
static double mean_kl(const hf_model_t *m, hf_work_t *w, const float *p, const float *x,
                      const float *zt, float T, int B, float *z)
{
    hf_model_forward(m, w, p, x, NULL, B, z, NULL);
    return hf_softmax_kl(z, zt, m->cfg.n_classes, B, T, NULL) / B;
}

static void test_grad_soft(void)
{
    int h[2] = {7, 5};
    hf_model_cfg_t c = cfg_mlp(6, 4, 2, h);
    hf_model_t m;
    CU_ASSERT_EQUAL_FATAL(hf_model_init(&m, &c), HF_OK);
    int B = 5, C = 4;
    float T = 2.0f;
    hf_work_t *w = hf_work_new(&m, B);
    float *p = malloc(sizeof(float) * m.nparams), *g = malloc(sizeof(float) * m.nparams);
    float *x = malloc(sizeof(float) * B * m.in_dim), *zt = malloc(sizeof(float) * B * C),
          *z = malloc(sizeof(float) * B * C);
    hf_model_init_params(&m, p, 700);
    for (int t = 0; t < m.ntensors; t++)
        if (m.tensors[t].ndim == 1)
            for (long i = 0; i < m.tensors[t].n; i++) p[m.tensors[t].off + i] += 0.1f;
    fill_uniform(x, (long)B * m.in_dim, 701, 0, 1);
    fill_uniform(zt, (long)B * C, 702, -3, 3);
    float L = hf_model_train_step_soft(&m, w, p, g, x, zt, T, B);
    double L0 = mean_kl(&m, w, p, x, zt, T, B, z);
    CU_ASSERT(isfinite(L) && L > 0);
    CU_ASSERT_DOUBLE_EQUAL(L, L0, 1e-5);
    int bad = 0, checked = 0;
    for (int t = 0; t < m.ntensors; t++) {
        const hf_tensor_t *Tt = &m.tensors[t];
        for (long j = 0; j < Tt->n; j += HF_MAX(1, Tt->n / 5)) {
            long i = Tt->off + j;
            float orig = p[i];
            double eps = 1e-3;
            p[i] = (float)(orig + eps);
            double hp = (double)p[i] - orig, lp = mean_kl(&m, w, p, x, zt, T, B, z);
            p[i] = (float)(orig - eps);
            double hm = orig - (double)p[i], lm = mean_kl(&m, w, p, x, zt, T, B, z);
            p[i] = orig;
            double num = (lp - lm) / (hp + hm), fwd = (lp - L0) / hp, bwd = (L0 - lm) / hm;
            checked++;
            if (!close_enough(g[i], num, 1e-3, 1e-2) && !close_enough(g[i], fwd, 1e-3, 1e-2) &&
                !close_enough(g[i], bwd, 1e-3, 1e-2)) {
                bad++;
                printf("\n  soft %s[%ld]: analytic %.6g numeric %.6g", Tt->name, j, g[i], num);
            }
        }
    }
    CU_ASSERT(checked > 10);
    CU_ASSERT_EQUAL(bad, 0);
    /* teacher = student: zero divergence, zero gradient */
    hf_model_forward(&m, w, p, x, NULL, B, zt, NULL);
    L = hf_model_train_step_soft(&m, w, p, g, x, zt, T, B);
    CU_ASSERT(fabs(L) < 1e-6);
    double gmax = 0;
    for (long i = 0; i < m.nparams; i++) gmax = HF_MAX(gmax, fabs(g[i]));
    CU_ASSERT(gmax < 1e-6);
    CU_ASSERT(isnan(hf_model_train_step_soft(&m, w, p, g, x, zt, 0.0f, B)));  /* T must be > 0 */
    free(p); free(g); free(x); free(zt); free(z);
    hf_work_free(w);
}

/* ------------------------------------------------------------------------ */
/* SGD                                                                       */
/* ------------------------------------------------------------------------ */

static void test_sgd_semantics(void)
{
    float p[2], g[2] = {0.5f, -1.0f}, m[2] = {0, 0};
    hf_sgd_t o = {0.1f, 0, 0, 0};
    /* plain: p -= lr*g */
    p[0] = 1; p[1] = 2;
    hf_sgd_step(&o, 2, p, g, NULL);
    CU_ASSERT_DOUBLE_EQUAL(p[0], 0.95, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(p[1], 2.1, 1e-6);
    /* weight decay: g + wd*p = (0.6, -0.8) */
    p[0] = 1; p[1] = 2;
    o.weight_decay = 0.1f;
    hf_sgd_step(&o, 2, p, g, NULL);
    CU_ASSERT_DOUBLE_EQUAL(p[0], 0.94, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(p[1], 2.08, 1e-6);
    /* momentum 0.9 + wd 0.1, two steps:
     * step 1: d = (0.6,-0.8); m = d; p = (0.94, 2.08)
     * step 2: d = g + 0.1p = (0.594, -0.792); m = 0.9*(0.6,-0.8) + d = (1.134, -1.512);
     *         p = (0.94 - 0.1134, 2.08 + 0.1512) */
    p[0] = 1; p[1] = 2;
    o.momentum = 0.9f;
    hf_sgd_step(&o, 2, p, g, m);
    CU_ASSERT_DOUBLE_EQUAL(m[0], 0.6, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(m[1], -0.8, 1e-6);
    hf_sgd_step(&o, 2, p, g, m);
    CU_ASSERT_DOUBLE_EQUAL(m[0], 1.134, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(m[1], -1.512, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(p[0], 0.8266, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(p[1], 2.2312, 1e-6);
    /* clipping by global norm: |(3,4)| = 5 -> scaled to norm 1 (coef 1/(5+1e-6)) */
    float gc[2] = {3, 4};
    hf_sgd_t oc = {1.0f, 0, 0, 1.0f};
    p[0] = 0; p[1] = 0;
    hf_sgd_step(&oc, 2, p, gc, NULL);
    CU_ASSERT_DOUBLE_EQUAL(p[0], -0.6, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(p[1], -0.8, 1e-6);
    /* norm below the threshold: unchanged gradient */
    oc.clip = 10;
    p[0] = 0; p[1] = 0;
    hf_sgd_step(&oc, 2, p, gc, NULL);
    CU_ASSERT_DOUBLE_EQUAL(p[0], -3.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(p[1], -4.0, 1e-6);
    /* clip applies to grad before weight decay: p = 1 - 1*(0.6 + 0.5*1) */
    oc.clip = 1;
    oc.weight_decay = 0.5f;
    p[0] = 1; p[1] = 1;
    hf_sgd_step(&oc, 2, p, gc, NULL);
    CU_ASSERT_DOUBLE_EQUAL(p[0], 1 - (0.6 + 0.5), 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(p[1], 1 - (0.8 + 0.5), 1e-6);
    /* clip + momentum: d = clipped grad (0.6, 0.8); m = 0.5*m + d over two steps */
    hf_sgd_t ocm = {1.0f, 0.5f, 0, 1.0f};
    p[0] = 0; p[1] = 0; m[0] = 0; m[1] = 0;
    hf_sgd_step(&ocm, 2, p, gc, m);
    hf_sgd_step(&ocm, 2, p, gc, m);
    CU_ASSERT_DOUBLE_EQUAL(m[0], 0.9, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(m[1], 1.2, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(p[0], -1.5, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(p[1], -2.0, 1e-6);
    /* a momentum entry with no more gradient decays to exactly 0, never
     * through the (slow) subnormal range: 0.5^130 < FLT_MIN (nn.c flushes
     * below 2^-100) */
    enum { NZ = 20 };
    float pz[NZ], gz[NZ], mz[NZ];
    for (int i = 0; i < NZ; i++) { pz[i] = 1; gz[i] = 0; mz[i] = 1; }
    hf_sgd_t oz = {0.1f, 0.5f, 0, 0};
    int sub = 0;
    for (int k = 0; k < 130; k++) {
        hf_sgd_step(&oz, NZ, pz, gz, mz);
        for (int i = 0; i < NZ; i++) sub += mz[i] != 0 && fabsf(mz[i]) < FLT_MIN;
    }
    CU_ASSERT(sub == 0 && mz[0] == 0.0f && mz[NZ - 1] == 0.0f);
    CU_ASSERT_DOUBLE_EQUAL(pz[0], 1 - 0.1 * 1, 1e-6);   /* lr * Σ_{k>=1} 0.5^k = 0.1 */
    /* longer than one vector block, with a tail */
    enum { N = 37 };
    float pp[N], gg[N], mm[N];
    for (int i = 0; i < N; i++) { pp[i] = (float)i; gg[i] = 1.0f; mm[i] = 0; }
    hf_sgd_t ol = {0.5f, 0.5f, 0, 0};
    hf_sgd_step(&ol, N, pp, gg, mm);
    hf_sgd_step(&ol, N, pp, gg, mm);
    int ok = 1;
    for (int i = 0; i < N; i++) ok &= fabsf(pp[i] - (i - 0.5f - 0.75f)) < 1e-6f && mm[i] == 1.5f;
    CU_ASSERT(ok);
    /* same with clipping to norm 1 (|g| = sqrt(37)): every step scaled by sc */
    double sc = 1.0 / (sqrt((double)N) + 1e-6);
    for (int i = 0; i < N; i++) { pp[i] = (float)i; mm[i] = 0; }
    ol.clip = 1.0f;
    hf_sgd_step(&ol, N, pp, gg, mm);
    hf_sgd_step(&ol, N, pp, gg, mm);
    ok = 1;
    for (int i = 0; i < N; i++) ok &= fabs(pp[i] - (i - 1.25 * sc)) < 1e-5 && fabs(mm[i] - 1.5 * sc) < 1e-6;
    CU_ASSERT(ok);
}

/* fused hf_model_train_step vs hf_model_train_step_grad + hf_sgd_step */
static void fused_vs_twocall(const hf_model_cfg_t *cfg, hf_sgd_t o, int B, int steps, const char *what)
{
    hf_model_t m;
    CU_ASSERT_EQUAL_FATAL(hf_model_init(&m, cfg), HF_OK);
    hf_work_t *w = hf_work_new(&m, B);
    long P = m.nparams;
    float *p1 = malloc(sizeof(float) * P), *p2 = malloc(sizeof(float) * P), *g = malloc(sizeof(float) * P);
    float *m1 = calloc(P, sizeof(float)), *m2 = calloc(P, sizeof(float));
    float *x = malloc(sizeof(float) * B * steps * m.in_dim);
    int *y = malloc(sizeof(int) * B * steps);
    hf_model_init_params(&m, p1, 9);
    memcpy(p2, p1, sizeof(float) * P);
    for (long i = 0; i < P; i++) g[i] = NAN;           /* grad is scratch */
    fill_uniform(x, (long)B * steps * m.in_dim, 10, 0, 1);
    fill_labels(y, B * steps, cfg->n_classes, 11);
    double dl = 0;
    for (int s = 0; s < steps; s++) {
        const float *xs = x + (long)s * B * m.in_dim;
        float l1 = hf_model_train_step(&m, w, &o, p1, g, m1, xs, y + s * B, B);
        float l2 = hf_model_train_step_grad(&m, w, p2, g, xs, y + s * B, B);
        hf_sgd_step(&o, P, p2, g, m2);
        dl = fmax(dl, fabs(l1 - l2));
    }
    double maxd = 0, maxp = 0;
    for (long i = 0; i < P; i++) {
        maxd = fmax(maxd, fabs(p1[i] - p2[i]));
        maxp = fmax(maxp, fabs(p2[i]));
    }
    if (!(maxd <= 1e-5 * maxp && dl < 1e-4))
        printf("\n  %s: max |dparam| %.3g (max |param| %.3g), max |dloss| %.3g", what, maxd, maxp, dl);
    CU_ASSERT(maxd <= 1e-5 * maxp);
    CU_ASSERT(dl < 1e-4);
    /* the update really happened */
    float *p0 = malloc(sizeof(float) * P);
    hf_model_init_params(&m, p0, 9);
    CU_ASSERT_NOT_EQUAL(memcmp(p0, p1, sizeof(float) * P), 0);
    free(p0);
    free(p1);
    free(p2);
    free(g);
    free(m1);
    free(m2);
    free(x);
    free(y);
    hf_work_free(w);
}

static void test_train_step_fused(void)
{
    int h[2] = {40, 24}, hc[3] = {4, 6, 16};
    hf_model_cfg_t mlp = cfg_mlp(30, 5, 2, h), cnn = cfg_cnn(1, 12, 12, 4, 3, hc),
                   lr = cfg_mlp(30, 5, -1, NULL);
    hf_sgd_t plain = {0.05f, 0, 0, 0}, wd = {0.05f, 0, 1e-2f, 0}, mom = {0.05f, 0.9f, 0, 0},
             momwd = {0.05f, 0.9f, 1e-2f, 0}, clip = {0.05f, 0.5f, 1e-3f, 0.1f};
    fused_vs_twocall(&mlp, plain, 8, 5, "mlp plain");
    fused_vs_twocall(&mlp, wd, 8, 5, "mlp wd");
    fused_vs_twocall(&mlp, mom, 8, 5, "mlp momentum");
    fused_vs_twocall(&mlp, momwd, 8, 5, "mlp momentum+wd");
    fused_vs_twocall(&mlp, clip, 8, 5, "mlp clip");
    fused_vs_twocall(&lr, plain, 6, 4, "logreg plain");
    fused_vs_twocall(&cnn, plain, 3, 3, "cnn plain");
    fused_vs_twocall(&cnn, momwd, 3, 3, "cnn momentum+wd");
    /* the 2NN at B = 10: split sgemm calls with alpha/beta folding */
    int h2[2] = {200, 200};
    hf_model_cfg_t nn2 = cfg_mlp(784, 10, 2, h2);
    fused_vs_twocall(&nn2, plain, 10, 3, "2nn plain");
    fused_vs_twocall(&nn2, momwd, 10, 3, "2nn momentum+wd");
    /* a batch outside [1, max_batch] is refused */
    hf_model_t m;
    CU_ASSERT_EQUAL_FATAL(hf_model_init(&m, &mlp), HF_OK);
    hf_work_t *w = hf_work_new(&m, 4);
    float *p = calloc(m.nparams, sizeof(float)), *g = calloc(m.nparams, sizeof(float)), x[5 * 30] = {0};
    int y[5] = {0};
    CU_ASSERT(isnan(hf_model_train_step_grad(&m, w, p, g, x, y, 5)));
    CU_ASSERT(isnan(hf_model_train_step(&m, w, &plain, p, g, NULL, x, y, 0)));
    free(p);
    free(g);
    hf_work_free(w);
}

/* ------------------------------------------------------------------------ */
/* forward: batch independence, chunking, accuracy count, determinism        */
/* ------------------------------------------------------------------------ */

static void forward_checks(const hf_model_cfg_t *cfg, const char *what)
{
    enum { N = 13 };
    hf_model_t m;
    CU_ASSERT_EQUAL_FATAL(hf_model_init(&m, cfg), HF_OK);
    int C = cfg->n_classes;
    hf_work_t *w1 = hf_work_new(&m, 1), *w5 = hf_work_new(&m, 5), *wn = hf_work_new(&m, N);
    float *p = malloc(sizeof(float) * m.nparams), *x = malloc(sizeof(float) * N * m.in_dim);
    float la[N * 10], lb[N * 10], lc[N * 10], sa[N], sb[N];
    int y[N];
    hf_model_init_params(&m, p, 21);
    fill_uniform(x, (long)N * m.in_dim, 22, 0, 1);
    fill_labels(y, N, C, 23);
    int na = 0;
    for (int i = 0; i < N; i++)
        na += hf_model_forward(&m, w1, p, x + (long)i * m.in_dim, y + i, 1, la + i * C, sa + i);
    int nb = hf_model_forward(&m, w5, p, x, y, N, lb, sb);   /* 3 chunks of <= 5 */
    int nc = hf_model_forward(&m, wn, p, x, y, N, lc, NULL);
    double maxd = 0;
    for (int i = 0; i < N * C; i++) maxd = fmax(maxd, fabs(la[i] - lb[i]) + fabs(la[i] - lc[i]));
    for (int i = 0; i < N; i++) maxd = fmax(maxd, fabs(sa[i] - sb[i]));
    if (maxd >= 1e-4) printf("\n  %s: batch dependence %.3g", what, maxd);
    CU_ASSERT(maxd < 1e-4);
    CU_ASSERT(na == nb && nb == nc);
    /* count = argmax hits computed from the logits */
    int want = 0;
    for (int i = 0; i < N; i++) {
        int am = 0;
        for (int c = 1; c < C; c++)
            if (lc[i * C + c] > lc[i * C + am]) am = c;
        want += am == y[i];
    }
    CU_ASSERT_EQUAL(nc, want);
    /* bitwise repeatable */
    hf_model_forward(&m, wn, p, x, y, N, lb, NULL);
    CU_ASSERT_EQUAL(memcmp(lb, lc, sizeof(float) * N * C), 0);
    /* zero parameters: all logits 0, loss log C, predictions class 0 */
    memset(p, 0, sizeof(float) * m.nparams);
    int n0 = hf_model_forward(&m, wn, p, x, y, N, lc, sa), zeros = 0;
    for (int i = 0; i < N; i++) zeros += y[i] == 0;
    CU_ASSERT_EQUAL(n0, zeros);
    CU_ASSERT_DOUBLE_EQUAL(sa[0], log((double)C), 1e-6);
    free(p);
    free(x);
    hf_work_free(w1);
    hf_work_free(w5);
    hf_work_free(wn);
}

static void test_forward(void)
{
    int h[2] = {50, 20}, hc[3] = {3, 5, 8};
    hf_model_cfg_t c = cfg_mlp(40, 10, 2, h);
    forward_checks(&c, "mlp");
    c = cfg_cnn(2, 8, 12, 6, 3, hc);
    forward_checks(&c, "cnn");
}

static void test_train_determinism(void)
{
    int h[2] = {200, 200};
    hf_model_cfg_t c = cfg_mlp(784, 10, 2, h);
    hf_model_t m;
    CU_ASSERT_EQUAL_FATAL(hf_model_init(&m, &c), HF_OK);
    enum { B = 10, S = 4 };
    hf_work_t *w = hf_work_new(&m, B);
    long P = m.nparams;
    float *a = malloc(sizeof(float) * P), *b = malloc(sizeof(float) * P), *g = malloc(sizeof(float) * P);
    float *x = malloc(sizeof(float) * B * S * 784);
    int y[B * S];
    fill_uniform(x, (long)B * S * 784, 31, 0, 1);
    fill_labels(y, B * S, 10, 32);
    hf_sgd_t o = {0.05f, 0, 0, 0};
    for (int run = 0; run < 2; run++) {
        float *p = run ? b : a;
        hf_model_init_params(&m, p, 5);
        for (int s = 0; s < S; s++)
            hf_model_train_step(&m, w, &o, p, g, NULL, x + (long)s * B * 784, y + s * B, B);
    }
    CU_ASSERT_EQUAL(memcmp(a, b, sizeof(float) * P), 0);
    free(a);
    free(b);
    free(g);
    free(x);
    hf_work_free(w);
}

/* 2NN gradients and forward with the sgemm splitting forced on and off:
 * same results up to rounding (and under valgrind: every split call in bounds) */
static void test_gemm_split(void)
{
    int h[2] = {200, 200};
    hf_model_cfg_t c = cfg_mlp(784, 10, 2, h);
    hf_model_t m;
    CU_ASSERT_EQUAL_FATAL(hf_model_init(&m, &c), HF_OK);
    static const int batches[] = {1, 10, 33, 64};
    long P = m.nparams;
    float *p = malloc(sizeof(float) * P), *g0 = malloc(sizeof(float) * P), *g1 = malloc(sizeof(float) * P);
    float *x = malloc(sizeof(float) * 64 * 784), z0[64 * 10], z1[64 * 10];
    int y[64];
    hf_model_init_params(&m, p, 51);
    fill_uniform(x, 64 * 784, 52, 0, 1);
    fill_labels(y, 64, 10, 53);
    int prev = hf_gemm_split(1);
    for (size_t k = 0; k < sizeof batches / sizeof batches[0]; k++) {
        int B = batches[k];
        hf_work_t *w = hf_work_new(&m, B);
        hf_gemm_split(1);
        float l1 = hf_model_train_step_grad(&m, w, p, g1, x, y, B);
        hf_model_forward(&m, w, p, x, y, B, z1, NULL);
        hf_gemm_split(0);
        float l0 = hf_model_train_step_grad(&m, w, p, g0, x, y, B);
        hf_model_forward(&m, w, p, x, y, B, z0, NULL);
        double gm, dg = hf_cu_max_diff(g1, g0, P, &gm), dz = hf_cu_max_diff(z1, z0, B * 10, NULL);
        if (!(dg <= 1e-5 * gm && dz < 1e-5))
            printf("\n  split B=%d: max |dgrad| %.3g (max |grad| %.3g), max |dlogit| %.3g", B, dg, gm, dz);
        CU_ASSERT(dg <= 1e-5 * gm && gm > 0);
        CU_ASSERT(dz < 1e-5);
        CU_ASSERT(fabs(l1 - l0) < 1e-5);
        hf_work_free(w);
    }
    hf_gemm_split(-1);
    CU_ASSERT_EQUAL(hf_gemm_split(-1), prev);   /* automatic setting restored */
    free(p);
    free(g0);
    free(g1);
    free(x);
}

/* A wide hidden layer (3136 -> 512, the CNN's fc1 shape) at B = 10, where
 * with the splitting on its input gradient and its weight update run column
 * block by column block (gemm_da_dw): the gradient and a fused SGD step
 * (the update written into the weights the input gradient reads) agree with
 * the unsplit calls to rounding; a block's update landing in other columns,
 * or before its input gradient, is off by the update's own size. */
static void test_gemm_fused_blocks(void)
{
    int h[2] = {3136, 512};
    hf_model_cfg_t c = cfg_mlp(784, 10, 2, h);
    hf_model_t m;
    CU_ASSERT_EQUAL_FATAL(hf_model_init(&m, &c), HF_OK);
    enum { B = 10 };
    long P = m.nparams;
    float *p0 = malloc(sizeof(float) * P), *p[2], *g[2], *x = malloc(sizeof(float) * B * 784);
    int y[B];
    hf_model_init_params(&m, p0, 61);
    fill_uniform(x, B * 784, 62, 0, 1);
    fill_labels(y, B, 10, 63);
    hf_work_t *w = hf_work_new(&m, B);
    hf_sgd_t o = {0.05f, 0, 0, 0};
    int prev = hf_gemm_split(1);
    for (int k = 0; k < 2; k++) {
        hf_gemm_split(k == 0);
        p[k] = malloc(sizeof(float) * P);
        g[k] = malloc(sizeof(float) * P);
        hf_model_train_step_grad(&m, w, p0, g[k], x, y, B);
        memcpy(p[k], p0, sizeof(float) * P);
        hf_model_train_step(&m, w, &o, p[k], g[k] + 0, NULL, x, y, B);   /* g[k] only scratch here */
        hf_model_train_step_grad(&m, w, p0, g[k], x, y, B);
    }
    double gm, dg = hf_cu_max_diff(g[0], g[1], P, &gm);
    for (long i = 0; i < P; i++) {   /* the steps' updates */
        p[0][i] -= p0[i];
        p[1][i] -= p0[i];
    }
    double um, du = hf_cu_max_diff(p[0], p[1], P, &um);
    if (!(dg <= 1e-5 * gm && du <= 1e-5 * um))
        printf("\n  fused blocks: max |dgrad| %.3g of %.3g, max |dupdate| %.3g of %.3g", dg, gm, du, um);
    CU_ASSERT(dg <= 1e-5 * gm && gm > 0);
    CU_ASSERT(du <= 1e-5 * um && um > 0);
    hf_gemm_split(-1);
    CU_ASSERT_EQUAL(hf_gemm_split(-1), prev);
    for (int k = 0; k < 2; k++) {
        free(p[k]);
        free(g[k]);
    }
    free(p0);
    free(x);
    hf_work_free(w);
}

/* ------------------------------------------------------------------------ */
/* training sanity: linearly separable synthetic data                        */
/* ------------------------------------------------------------------------ */

static double train_separable(const hf_model_cfg_t *cfg, hf_sgd_t o, int steps)
{
    enum { N = 512, D = 10, C = 3, B = 16 };
    hf_model_t m;
    if (hf_model_init(&m, cfg) != HF_OK) return -1;
    float *x = malloc(sizeof(float) * N * D), wt[C * D];
    int *y = malloc(sizeof(int) * N);
    fill_uniform(x, N * D, 41, -1, 1);
    fill_uniform(wt, C * D, 42, -1, 1);
    for (int i = 0; i < N; i++) {   /* labels from a random linear classifier */
        int best = 0;
        double bv = -1e300;
        for (int c = 0; c < C; c++) {
            double v = 0;
            for (int d = 0; d < D; d++) v += wt[c * D + d] * x[i * D + d];
            if (v > bv) { bv = v; best = c; }
        }
        y[i] = best;
    }
    hf_work_t *w = hf_work_new(&m, B);
    float *p = malloc(sizeof(float) * m.nparams), *g = malloc(sizeof(float) * m.nparams);
    float *mom = calloc(m.nparams, sizeof(float));
    hf_model_init_params(&m, p, 43);
    for (int s = 0; s < steps; s++) {
        int s0 = (s * B) % N;
        hf_model_train_step(&m, w, &o, p, g, mom, x + (long)s0 * D, y + s0, B);
    }
    double acc = (double)hf_model_forward(&m, w, p, x, y, N, NULL, NULL) / N;
    free(x);
    free(y);
    free(p);
    free(g);
    free(mom);
    hf_work_free(w);
    return acc;
}

static void test_training_sanity(void)
{
    hf_model_cfg_t c = cfg_mlp(10, 3, -1, NULL);
    hf_sgd_t o = {0.5f, 0, 0, 0};
    double acc = train_separable(&c, o, 400);
    if (acc < 0.95) printf("\n  logreg accuracy %.3f", acc);
    CU_ASSERT(acc >= 0.95);
    int h[1] = {32};
    c = cfg_mlp(10, 3, 1, h);
    hf_sgd_t om = {0.1f, 0.9f, 0, 0};
    acc = train_separable(&c, om, 400);
    if (acc < 0.95) printf("\n  mlp accuracy %.3f", acc);
    CU_ASSERT(acc >= 0.95);
}

static void test_blas_init(void)
{
    const char *core = hf_blas_init();
    CU_ASSERT_PTR_NOT_NULL(core);
    CU_ASSERT_STRING_EQUAL(core, hf_blas_init());   /* idempotent */
}

/* ------------------------------------------------------------------------ */
/* resnet (nn_resnet.c)                                                      */
/* ------------------------------------------------------------------------ */

static hf_model_cfg_t cfg_resnet(int ic, int ih, int iw, int C, const int *widths, int depth, int norm)
{
    hf_model_cfg_t c;
    memset(&c, 0, sizeof c);
    c.arch = HF_ARCH_RESNET;
    c.in_c = ic;
    c.in_h = ih;
    c.in_w = iw;
    c.n_classes = C;
    c.nhidden = widths ? 4 : 0;
    for (int i = 0; widths && i < 4; i++) c.hidden[i] = widths[i];
    c.depth = depth;
    c.norm = norm;
    return c;
}

/* Direct convolution in double: out[co][oy][ox] = Σ w[co][ci][ky][kx]·in[ci][oy*s+ky-p][ox*s+kx-p]. */
static void conv_direct(const float *in, int cin, int h, int w, const float *wt, int cout, int k, int s, int p,
                        double *out)
{
    int ho = (h + 2 * p - k) / s + 1, wo = (w + 2 * p - k) / s + 1;
    for (int co = 0; co < cout; co++)
        for (int oy = 0; oy < ho; oy++)
            for (int ox = 0; ox < wo; ox++) {
                double a = 0;
                for (int ci = 0; ci < cin; ci++)
                    for (int ky = 0; ky < k; ky++)
                        for (int kx = 0; kx < k; kx++) {
                            int iy = oy * s + ky - p, ix = ox * s + kx - p;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                            a += (double)wt[((co * cin + ci) * k + ky) * k + kx] * in[(ci * h + iy) * w + ix];
                        }
                out[(co * ho + oy) * wo + ox] = a;
            }
}

/* Σ r·conv(in, wt) in double (the scalar whose gradient the backward gives for dout = r). */
static double conv_dot(const float *in, int cin, int h, int w, const float *wt, int cout, int k, int s, int p,
                       const float *r, double *scratch)
{
    int ho = (h + 2 * p - k) / s + 1, wo = (w + 2 * p - k) / s + 1;
    conv_direct(in, cin, h, w, wt, cout, k, s, p, scratch);
    double L = 0;
    for (long i = 0; i < (long)cout * ho * wo; i++) L += r[i] * scratch[i];
    return L;
}

/* The forward against the direct loops, then the backward's dW and din against
 * central differences of Σ r·out (linear: exact up to rounding) for every
 * coordinate.  Odd sizes so that the strided windows end inside and outside. */
static void conv2d_case(int cin, int h, int w, int cout, int k, int s, int p)
{
    int ho = (h + 2 * p - k) / s + 1, wo = (w + 2 * p - k) / s + 1;
    long nin = (long)cin * h * w, nw = (long)cout * cin * k * k, nout = (long)cout * ho * wo;
    float *in = malloc(sizeof(float) * nin), *wt = malloc(sizeof(float) * nw), *out = malloc(sizeof(float) * nout);
    float *cols = malloc(sizeof(float) * (size_t)cin * k * k * ho * wo), *r = malloc(sizeof(float) * nout);
    float *dw = calloc((size_t)nw, sizeof(float)), *din = calloc((size_t)nin, sizeof(float));
    double *ref = malloc(sizeof(double) * nout);
    fill_uniform(in, nin, 11, -1, 1);
    fill_uniform(wt, nw, 12, -1, 1);
    fill_uniform(r, nout, 13, -1, 1);
    hf_conv2d_forward(in, cin, h, w, wt, cout, k, s, p, out, cols);
    conv_direct(in, cin, h, w, wt, cout, k, s, p, ref);
    int bad = 0;
    for (long i = 0; i < nout; i++) bad += !close_enough(out[i], ref[i], 1e-5, 1e-5);
    CU_ASSERT_EQUAL(bad, 0);
    /* accumulation: dW and din start at 1, the result must be 1 + gradient */
    for (long i = 0; i < nw; i++) dw[i] = 1.0f;
    for (long i = 0; i < nin; i++) din[i] = 1.0f;
    hf_conv2d_backward(in, cin, h, w, wt, cout, k, s, p, r, dw, din, cols);
    const double eps = 1e-2;
    for (long i = 0; i < nw; i++) {
        float o = wt[i];
        wt[i] = o + (float)eps;
        double lp = conv_dot(in, cin, h, w, wt, cout, k, s, p, r, ref);
        wt[i] = o - (float)eps;
        double lm = conv_dot(in, cin, h, w, wt, cout, k, s, p, r, ref);
        wt[i] = o;
        if (!close_enough(dw[i] - 1.0, (lp - lm) / (2 * eps), 1e-4, 1e-4)) bad++;
    }
    for (long i = 0; i < nin; i++) {
        float o = in[i];
        in[i] = o + (float)eps;
        double lp = conv_dot(in, cin, h, w, wt, cout, k, s, p, r, ref);
        in[i] = o - (float)eps;
        double lm = conv_dot(in, cin, h, w, wt, cout, k, s, p, r, ref);
        in[i] = o;
        if (!close_enough(din[i] - 1.0, (lp - lm) / (2 * eps), 1e-4, 1e-4)) bad++;
    }
    if (bad) printf("\n  conv %dx%d stride %d pad %d: %d coordinates off", k, k, s, p, bad);
    CU_ASSERT_EQUAL(bad, 0);
    free(in); free(wt); free(out); free(cols); free(r); free(dw); free(din); free(ref);
}

static void test_conv2d(void)
{
    conv2d_case(3, 7, 6, 4, 3, 1, 1);   /* 3x3 'same' */
    conv2d_case(3, 7, 6, 5, 3, 2, 1);   /* 3x3 stride 2 (stages 2-4) */
    conv2d_case(4, 7, 6, 5, 1, 2, 0);   /* 1x1 stride-2 projection shortcut */
    conv2d_case(4, 5, 5, 3, 1, 1, 0);   /* 1x1 stride 1 (no im2col) */
}

/* Σ r·GN(x) in double, straight from the definition. */
static double gn_dot(const float *x, int C, int hw, int G, const float *ga, const float *be, const float *r)
{
    int cg = C / G;
    double L = 0;
    for (int g = 0; g < G; g++) {
        double m = 0, v = 0;
        for (int i = 0; i < cg * hw; i++) m += x[g * cg * hw + i];
        m /= cg * hw;
        for (int i = 0; i < cg * hw; i++) v += (x[g * cg * hw + i] - m) * (x[g * cg * hw + i] - m);
        v /= cg * hw;
        for (int c = g * cg; c < (g + 1) * cg; c++)
            for (int i = 0; i < hw; i++)
                L += r[c * hw + i] * (ga[c] * (x[c * hw + i] - m) / sqrt(v + 1e-5) + be[c]);
    }
    return L;
}

/* Group norm: the group count rule, the forward against the definition, and
 * dx, dgamma, dbeta against central differences, every coordinate; inputs of
 * spread 2 and 0.004 (variance ~5e-6: there eps = 1e-5 dominates). */
static void group_norm_case(float spread)
{
    enum { C = 6, HW = 5, N = C * HW };
    int G = hf_resnet_groups(C);
    float x[N], y[N], r[N], ga[C], be[C], dx[N], dga[C], dbe[C], mean[4], rstd[4];
    fill_uniform(x, N, 21, -spread, spread);
    fill_uniform(r, N, 22, -1, 1);
    fill_uniform(ga, C, 23, 0.5f, 1.5f);
    fill_uniform(be, C, 24, -0.5f, 0.5f);
    hf_group_norm_forward(x, C, HW, G, ga, be, y, mean, rstd);
    double L0 = 0, Lref = gn_dot(x, C, HW, G, ga, be, r);
    for (int i = 0; i < N; i++) L0 += (double)r[i] * y[i];
    CU_ASSERT(close_enough(L0, Lref, 1e-5, 1e-5));
    for (int c = 0; c < C; c++) dga[c] = dbe[c] = 0.5f;   /* they accumulate */
    hf_group_norm_backward(x, C, HW, G, ga, mean, rstd, r, dx, dga, dbe);
    const double eps = 1e-3 * spread;
    int bad = 0;
    float *v[3] = {x, ga, be}, *g[3] = {dx, dga, dbe};
    int n[3] = {N, C, C};
    double off[3] = {0, 0.5, 0.5};
    for (int t = 0; t < 3; t++)
        for (int i = 0; i < n[t]; i++) {
            float o = v[t][i];
            double h = t == 0 ? eps : 1e-3;   /* x's step scales with its spread */
            v[t][i] = o + (float)h;
            double hp = (double)v[t][i] - o, lp = gn_dot(x, C, HW, G, ga, be, r);
            v[t][i] = o - (float)h;
            double hm = o - (double)v[t][i], lm = gn_dot(x, C, HW, G, ga, be, r);
            v[t][i] = o;
            double fd = (lp - lm) / (hp + hm);
            if (!close_enough(g[t][i] - off[t], fd, 2e-3, 2e-3)) {
                bad++;
                printf("\n  group norm spread %g tensor %d [%d]: analytic %.6g numeric %.6g", spread, t, i,
                       g[t][i] - off[t], fd);
            }
        }
    CU_ASSERT_EQUAL(bad, 0);
}

/* Σ r·y of batch norm over B samples of (C, HW) at stride S, in double from
 * the definition (batch mean and biased variance per channel, eps 1e-5). */
enum { BN_B = 3, BN_C = 3, BN_HW = 5, BN_S = BN_C * BN_HW + 2, BN_N = BN_B * BN_S };
static double bn_dot(const float *x, const float *ga, const float *be, const float *r, double *mean, double *var)
{
    double L = 0, n = BN_B * BN_HW;
    for (int c = 0; c < BN_C; c++) {
        double m = 0, v = 0;
        for (int s = 0; s < BN_B; s++)
            for (int i = 0; i < BN_HW; i++) m += x[s * BN_S + c * BN_HW + i];
        m /= n;
        for (int s = 0; s < BN_B; s++)
            for (int i = 0; i < BN_HW; i++) v += (x[s * BN_S + c * BN_HW + i] - m) * (x[s * BN_S + c * BN_HW + i] - m);
        v /= n;
        if (mean) { mean[c] = m; var[c] = v; }
        for (int s = 0; s < BN_B; s++)
            for (int i = 0; i < BN_HW; i++) {
                int j = s * BN_S + c * BN_HW + i;
                L += r[j] * (ga[c] * (x[j] - m) / sqrt(v + 1e-5) + be[c]);
            }
    }
    return L;
}

/* Batch norm over 3 samples at a stride with 2 unused floats between them:
 * the statistics (and the running sums: mean, unbiased variance) and the
 * forward against the definition, dx (accumulated), dgamma, dbeta against
 * central differences, every coordinate; the unused floats untouched. */
static void test_batch_norm(void)
{
    float x[BN_N], y[BN_N], r[BN_N], dx[BN_N], ga[BN_C], be[BN_C], dga[BN_C], dbe[BN_C], mean[BN_C], rstd[BN_C];
    double sm[BN_C] = {1, 1, 1}, sv[BN_C] = {2, 2, 2}, rm[BN_C], rv[BN_C];
    fill_uniform(x, BN_N, 31, -2, 3);
    fill_uniform(r, BN_N, 32, -1, 1);
    fill_uniform(ga, BN_C, 33, 0.5f, 1.5f);
    fill_uniform(be, BN_C, 34, -0.5f, 0.5f);
    for (int i = 0; i < BN_N; i++) y[i] = dx[i] = 7.0f;
    hf_batch_norm_stats(x, BN_S, BN_B, BN_C, BN_HW, mean, rstd, sm, sv);
    hf_batch_norm_apply(x, BN_S, BN_B, BN_C, BN_HW, ga, be, mean, rstd, y);
    double Lref = bn_dot(x, ga, be, r, rm, rv), L0 = 0, n = BN_B * BN_HW;
    for (int c = 0; c < BN_C; c++) {
        CU_ASSERT(close_enough(mean[c], rm[c], 1e-6, 1e-6));
        CU_ASSERT(close_enough(rstd[c], 1.0 / sqrt(rv[c] + 1e-5), 1e-6, 1e-6));
        CU_ASSERT(close_enough(sm[c], 1.0 + rm[c], 1e-12, 1e-12));
        CU_ASSERT(close_enough(sv[c], 2.0 + rv[c] * n / (n - 1), 1e-12, 1e-12));
    }
    for (int s = 0; s < BN_B; s++) {
        for (int i = 0; i < BN_C * BN_HW; i++) L0 += (double)r[s * BN_S + i] * y[s * BN_S + i];
        CU_ASSERT(y[s * BN_S + BN_C * BN_HW] == 7.0f && y[s * BN_S + BN_C * BN_HW + 1] == 7.0f);
    }
    CU_ASSERT(close_enough(L0, Lref, 1e-5, 1e-5));
    for (int i = 0; i < BN_N; i++) dx[i] = 0.25f;        /* it accumulates */
    for (int c = 0; c < BN_C; c++) dga[c] = dbe[c] = 0.5f;
    hf_batch_norm_backward(x, BN_S, BN_B, BN_C, BN_HW, ga, mean, rstd, r, BN_S, dx, dga, dbe);
    int bad = 0;
    float *v[3] = {x, ga, be}, *g[3] = {dx, dga, dbe};
    int cnt[3] = {BN_N, BN_C, BN_C};
    double off[3] = {0.25, 0.5, 0.5};
    for (int t = 0; t < 3; t++)
        for (int i = 0; i < cnt[t]; i++) {
            if (t == 0 && i % BN_S >= BN_C * BN_HW) {   /* between samples: untouched */
                bad += dx[i] != 0.25f;
                continue;
            }
            float o = v[t][i];
            v[t][i] = o + 1e-3f;
            double hp = (double)v[t][i] - o, lp = bn_dot(x, ga, be, r, NULL, NULL);
            v[t][i] = o - 1e-3f;
            double hm = o - (double)v[t][i], lm = bn_dot(x, ga, be, r, NULL, NULL);
            v[t][i] = o;
            double fd = (lp - lm) / (hp + hm);
            if (!close_enough(g[t][i] - off[t], fd, 2e-3, 2e-3)) {
                bad++;
                printf("\n  batch norm tensor %d [%d]: analytic %.6g numeric %.6g", t, i, g[t][i] - off[t], fd);
            }
        }
    CU_ASSERT_EQUAL(bad, 0);
}

static void test_group_norm(void)
{
    CU_ASSERT_EQUAL(hf_resnet_groups(64), 4);
    CU_ASSERT_EQUAL(hf_resnet_groups(6), 2);
    CU_ASSERT_EQUAL(hf_resnet_groups(3), 1);
    group_norm_case(2.0f);
    group_norm_case(0.004f);
}

/* Layout: ResNet-18 at HeteroFL's widths has 11,164,362 parameters without a
 * norm (convolutions 11,159,232 + linear 5,130), 7,808 more with group norm
 * (2 x the 3,904 channels normalised: Σ of norm1 and norm2 widths over the
 * blocks, 512 for the head); FLOPs by the hand formula below. */
static void test_resnet_layout(void)
{
    hf_model_cfg_t c = cfg_resnet(3, 32, 32, 10, NULL, 0, HF_NORM_NONE);
    hf_model_t m;
    CU_ASSERT_EQUAL_FATAL(hf_model_init(&m, &c), HF_OK);
    CU_ASSERT_EQUAL(m.nparams, 11164362L);
    CU_ASSERT_EQUAL(m.cfg.depth, 18);
    CU_ASSERT_EQUAL(m.cfg.hidden[3], 512);
    CU_ASSERT_STRING_EQUAL(m.tensors[0].name, "conv1.weight");
    CU_ASSERT_STRING_EQUAL(m.tensors[m.ntensors - 2].name, "linear.weight");
    /* 2·MACs: stem 2·64·3·9·32²; stage 1: 4 convs 2·64·64·9·32²; stages s = 2..4
     * (width w, w/2 in, resolution r²): conv 2·w·(w/2)·9·r², 3 convs 2·w·w·9·r²,
     * shortcut 2·w·(w/2)·r² — each stage 268,435,456; linear 2·512·10 */
    double fl = 2.0 * 64 * 3 * 9 * 1024 + 4 * 2.0 * 64 * 64 * 9 * 1024 + 3 * 268435456.0 + 2.0 * 512 * 10;
    CU_ASSERT_DOUBLE_EQUAL(m.flops_fwd, 1110845440.0, 0.5);
    CU_ASSERT_DOUBLE_EQUAL(m.flops_fwd, fl, 0.5);
    CU_ASSERT_DOUBLE_EQUAL(hf_model_train_flops(&m), 3 * fl, 1.5);
    c.norm = HF_NORM_GROUP;
    CU_ASSERT_EQUAL_FATAL(hf_model_init(&m, &c), HF_OK);
    CU_ASSERT_EQUAL(m.nparams, 11164362L + 7808);
    CU_ASSERT_EQUAL(m.ntensors, 56);
    c.depth = 10;
    CU_ASSERT_EQUAL_FATAL(hf_model_init(&m, &c), HF_OK);
    /* one block per stage: 1 + 4·6 + 3 shortcuts + head norm 2 + linear 2 */
    CU_ASSERT_EQUAL(m.ntensors, 32);
    c.depth = 8;
    CU_ASSERT_EQUAL(hf_model_init(&m, &c), HF_EINPUT);
    c.depth = 18;
    c.nhidden = 3;
    CU_ASSERT_EQUAL(hf_model_init(&m, &c), HF_EINPUT);
}

static const int tiny_widths[4] = {4, 8, 8, 8};

/* Every tensor of tiny ResNets (stride-2 stages on a 3x9x8 input, so the
 * last stage sees 2x1) against finite differences of the mean loss: the
 * convolutions, shortcuts, group norms, ReLUs, the average pooling and the
 * linear layer are all on the path (ReLU and pooling have no test of their
 * own).  Group norm over groups of 4 values is strongly curved: a central
 * difference with eps = 1e-3 is off by up to 8 % there, so eps = 3e-4
 * (tolerance as gradcheck: 1e-3 absolute or 1e-2 relative). */
static void test_grad_resnet(void)
{
    hf_model_cfg_t c = cfg_resnet(3, 9, 8, 5, tiny_widths, 10, HF_NORM_NONE);
    gradcheck(&c, 3, 1e-2, 300, "resnet-10 none");
    c.norm = HF_NORM_GROUP;
    gradcheck(&c, 3, 3e-4, 301, "resnet-10 group");
    c.depth = 18;
    gradcheck(&c, 2, 3e-4, 302, "resnet-18 group");
    c.norm = HF_NORM_NONE;
    gradcheck(&c, 2, 1e-2, 303, "resnet-18 none");
    c.norm = HF_NORM_STATIC_BN;   /* the training loss: the batch's statistics */
    gradcheck(&c, 3, 3e-4, 304, "resnet-18 static-bn");
    c.depth = 10;
    gradcheck(&c, 4, 3e-4, 305, "resnet-10 static-bn");
}

/* The training loss, gradient and logits of cfg with model.conv = fast
 * against gemm's (im2col, independent code) on the same parameters and
 * batch: within tol of each tensor's largest gradient, of the largest logit. */
static void fast_vs_gemm(hf_model_cfg_t c, int B, uint64_t seed, double tol, const char *what)
{
    hf_model_t m[2];
    hf_work_t *w[2];
    float *g[2], *z[2], L[2];
    for (int k = 0; k < 2; k++) {
        c.conv = k ? HF_CONV_FAST : HF_CONV_GEMM;
        CU_ASSERT_EQUAL_FATAL(hf_model_init(&m[k], &c), HF_OK);
        w[k] = hf_work_new(&m[k], B);
        g[k] = malloc(sizeof(float) * m[k].nparams);
        z[k] = malloc(sizeof(float) * B * c.n_classes);
    }
    float *p = malloc(sizeof(float) * m[0].nparams), *x = malloc(sizeof(float) * B * m[0].in_dim);
    int *y = malloc(sizeof(int) * B);
    hf_model_init_params(&m[0], p, seed);
    fill_uniform(x, (long)B * m[0].in_dim, seed + 1, 0, 1);
    fill_labels(y, B, c.n_classes, seed + 2);
    for (int k = 0; k < 2; k++) {
        L[k] = hf_model_train_step_grad(&m[k], w[k], p, g[k], x, y, B);
        hf_model_forward(&m[k], w[k], p, x, NULL, B, z[k], NULL);
    }
    double worst = 0.0;
    for (int t = 0; t < m[0].ntensors; t++) {
        const hf_tensor_t *T = &m[0].tensors[t];
        double d = 0.0, s = 0.0;
        for (long i = T->off; i < T->off + T->n; i++) {
            d = fmax(d, fabs((double)g[1][i] - g[0][i]));
            s = fmax(s, fabs((double)g[0][i]));
        }
        worst = fmax(worst, s > 0 ? d / s : d);
    }
    double dz = 0.0, sz = 0.0;
    for (long i = 0; i < (long)B * c.n_classes; i++) {
        dz = fmax(dz, fabs((double)z[1][i] - z[0][i]));
        sz = fmax(sz, fabs((double)z[0][i]));
    }
    printf("\n  %s: fast - gemm: loss %.2e, logits %.2e of %.3g, gradients %.2e of each tensor's largest ", what,
           fabs((double)L[1] - L[0]), dz, sz, worst);
    CU_ASSERT(fabs((double)L[1] - L[0]) <= tol * fabs((double)L[0]));
    CU_ASSERT(dz <= tol * sz);
    CU_ASSERT(worst <= tol);
    CU_ASSERT(worst > 0.0);   /* the fast path ran */
    for (int k = 0; k < 2; k++) {
        free(g[k]);
        free(z[k]);
        hf_work_free(w[k]);
    }
    free(p);
    free(x);
    free(y);
}

/* model.conv = fast (Winograd: the resnet's 3x3 stride-1 convolutions, the
 * CNN's conv2, with 4+ input channels) on odd sizes (partial tiles; the
 * CNN's conv2 on 3x5 and 7x4 planes, the resnet's 9x8 first stage): the CNN's analytic gradient against finite
 * differences of its own forward; the resnets' against gemm's (their finite
 * differences at eps 3e-4 drown in the float32 noise of the deeper Winograd
 * forward: one-sided differences 1e-2 apart, measured), and the CNN's too. */
static void test_grad_fast(void)
{
    int h2[3] = {4, 2, 5};
    hf_model_cfg_t c = cfg_cnn(2, 6, 10, 3, 3, h2);
    c.conv = HF_CONV_FAST;
    gradcheck(&c, 2, 1e-3, 510, "cnn fast");
    int h3[3] = {5, 3, 6};
    c = cfg_cnn(1, 14, 9, 4, 3, h3);
    c.conv = HF_CONV_FAST;
    gradcheck(&c, 5, 1e-3, 511, "cnn fast 14x9");
    /* 32 samples of 32x32: every stage has the 32 tiles a call needs to go
     * through Winograd (the 4x4 stage one a sample); evaluation's one sample
     * only at the 32x32 stage */
    c = cfg_resnet(3, 32, 32, 5, tiny_widths, 10, HF_NORM_GROUP);
    fast_vs_gemm(c, 32, 311, 1e-4, "resnet-10 group 32x32");
    c = cfg_resnet(3, 9, 8, 5, tiny_widths, 18, HF_NORM_STATIC_BN);
    fast_vs_gemm(c, 9, 314, 1e-4, "resnet-18 static-bn");
    c.norm = HF_NORM_NONE;
    fast_vs_gemm(c, 11, 315, 1e-4, "resnet-18 none");
    c = cfg_cnn(2, 6, 10, 3, 3, h2);
    fast_vs_gemm(c, 2, 512, 1e-4, "cnn");
    /* McMahan's conv widths on 28x28: conv2's Winograd sub-batches are 10
     * samples (160 tiles), so 12 run as two, and the backward transforms the
     * first again (the forward keeps only a single sub-batch's: 10 do) */
    int hm[3] = {32, 64, 16};
    c = cfg_cnn(1, 28, 28, 10, 3, hm);
    fast_vs_gemm(c, 12, 513, 1e-4, "cnn 28x28, two conv2 sub-batches");
    fast_vs_gemm(c, 10, 514, 1e-4, "cnn 28x28, one conv2 sub-batch");
}

/* The batched training path against one sample at a time.  A training step
 * without batch norm runs groups of up to 8 samples, and at the small
 * stages one sgemm serves several of them (widths 2,4,8,16 on 3x8x8: the
 * 2x2 stage's 8 channels over 4 pixels take 2 samples per sgemm, the 1x1
 * stage's 16 channels 16, capped by the group).  The gradient of the mean
 * loss of B = 11 samples (groups of 8 and 3) must be the mean of the 11
 * one-sample steps' gradients (each sample alone: one sample per sgemm), and
 * the loss the mean of their losses: only the order of float sums differs,
 * so within 2e-5 of each tensor's largest gradient (1e-6 for the loss). */
static void test_resnet_batched(void)
{
    static const int w4[4] = {2, 4, 8, 16};
    enum { B = 11 };
    for (int norm = HF_NORM_NONE; norm <= HF_NORM_GROUP; norm++) {
        hf_model_cfg_t c = cfg_resnet(3, 8, 8, 5, w4, 18, norm);
        hf_model_t m;
        CU_ASSERT_EQUAL_FATAL(hf_model_init(&m, &c), HF_OK);
        hf_work_t *w = hf_work_new(&m, B);
        float *p = malloc(sizeof(float) * m.nparams), *g = malloc(sizeof(float) * m.nparams);
        float *g1 = malloc(sizeof(float) * m.nparams), *x = malloc(sizeof(float) * B * m.in_dim);
        double *ref = calloc((size_t)m.nparams, sizeof(double)), lref = 0.0;
        int y[B];
        hf_model_init_params(&m, p, 310 + norm);
        fill_uniform(x, (long)B * m.in_dim, 311, -1, 1);
        fill_labels(y, B, c.n_classes, 312);
        for (int s = 0; s < B; s++) {
            lref += hf_model_train_step_grad(&m, w, p, g1, x + (long)s * m.in_dim, y + s, 1) / (double)B;
            for (long i = 0; i < m.nparams; i++) ref[i] += g1[i] / (double)B;
        }
        float L = hf_model_train_step_grad(&m, w, p, g, x, y, B);
        CU_ASSERT_DOUBLE_EQUAL(L, lref, 1e-6);
        for (int t = 0; t < m.ntensors; t++) {
            const hf_tensor_t *T = &m.tensors[t];
            double big = 0.0, worst = 0.0;
            for (long i = T->off; i < T->off + T->n; i++) big = fmax(big, fabs(ref[i]));
            for (long i = T->off; i < T->off + T->n; i++) worst = fmax(worst, fabs(g[i] - ref[i]));
            if (!(worst <= 2e-5 * big)) printf("\n  norm %d %s: batched off by %g (largest %g)", norm, T->name, worst, big);
            CU_ASSERT(worst <= 2e-5 * big);
            CU_ASSERT(big > 0.0);
        }
        free(p);
        free(g);
        free(g1);
        free(x);
        free(ref);
        hf_work_free(w);
    }
}

/* hf_work_bytes (the memory estimate's activations) against byte counts
 * worked out by hand from the buffers' shapes.  Every model also holds the
 * dense buffers: act (B, classes), two gradient buffers (B, widest dense
 * dimension) and a column sum (widest), here with the input as the widest.
 *   lstm, T = 5 steps, embedding 3, layers of 4 and 6, 7 symbols, batch 3
 *   (one sub-batch of sb = 3): dense 3·7 + 2·3·7 + 7 = 70 floats (in_dim 5 <
 *   7 classes); x0 T·sb·E = 45; layer 1: gates T·sb·16 = 240, cell, its tanh
 *   and h T·sb·4 = 60 each; layer 2: 360 + 3·90; da 2·T·sb·6 = 180; dh, dc
 *   sb·6 = 18 each; logit, dz sb·7 = 21 each; colsum max(4·6, 7) = 24:
 *   70 + 1377 = 1447 floats = 5788 bytes.  Batch 40: the lstm's sub-batch
 *   stays 32: dense 280 + 560 + 7 = 847; lstm 480 + (2560 + 3·640) +
 *   (3840 + 3·960) + 1920 + 192 + 192 + 224 + 224 + 24 = 14456: 61212 bytes.
 *   resnet-10, widths 1,2,2,2 on 3x4x4, 5 classes: stem 1x4x4 (16 floats),
 *   blocks of 16+16+16+16, 16+8+8+8, 8+2+2+2, 2+2+2+2 floats (a1, h1, a2,
 *   out), head 2 + pooled 2: 146 floats per sample; group norm statistics
 *   9 norms · 8 = 72; gradient buffers 3 · 16 (the largest activation);
 *   logit, dz 5 each: 276 floats per sample; im2col and sgemm output scratch
 *   of one sample's largest im2col (3·9·16 = 432 floats) each.  Group norm,
 *   training batch 3 (one group of 3 samples): dense (batch 3) 15 + 2·3·48 +
 *   48 = 351 floats, the per-sample buffers 3 times (828 floats), the scratch
 *   of 3 samples (1296 each): 4·(351 + 828 + 2·1296) = 15084 bytes; training
 *   batch 20, groups of 8 (TRAIN_GROUP): 4·(351 + 8·276 + 2·8·432) = 37884
 *   bytes.  Static batch norm, training batch 3: as group norm plus its 15
 *   channels' four float and two double statistics (240 + 240 bytes): 15564
 *   bytes. */
static void test_work_bytes(void)
{
    hf_model_cfg_t l;
    memset(&l, 0, sizeof l);
    l.arch = HF_ARCH_LSTM;
    l.in_c = l.in_h = 1;
    l.in_w = 5;
    l.vocab = l.n_classes = 7;
    l.embed = 3;
    l.nhidden = 2;
    l.hidden[0] = 4;
    l.hidden[1] = 6;
    hf_model_t m;
    CU_ASSERT_EQUAL_FATAL(hf_model_init(&m, &l), HF_OK);
    CU_ASSERT_DOUBLE_EQUAL(hf_work_bytes(&m, 3, 3), 5788, 0);
    CU_ASSERT_DOUBLE_EQUAL(hf_work_bytes(&m, 40, 10), 61212, 0);
    static const int w1[4] = {1, 2, 2, 2};
    hf_model_cfg_t r = cfg_resnet(3, 4, 4, 5, w1, 10, HF_NORM_GROUP);
    CU_ASSERT_EQUAL_FATAL(hf_model_init(&m, &r), HF_OK);
    CU_ASSERT_DOUBLE_EQUAL(hf_work_bytes(&m, 3, 3), 15084, 0);
    CU_ASSERT_DOUBLE_EQUAL(hf_work_bytes(&m, 3, 20), 37884, 0);
    r.norm = HF_NORM_STATIC_BN;
    CU_ASSERT_EQUAL_FATAL(hf_model_init(&m, &r), HF_OK);
    CU_ASSERT_DOUBLE_EQUAL(hf_work_bytes(&m, 3, 3), 15564, 0);
}

static const hf_cu_test_t tests_resnet[] = {
    {"work space bytes (lstm, resnet) by hand", test_work_bytes, NULL},
    {"conv3x3/1x1 with stride and padding: naive + finite differences", test_conv2d, NULL},
    {"group norm: definition + finite differences", test_group_norm, NULL},
    {"batch norm: definition + finite differences", test_batch_norm, NULL},
    {"layout, parameter count, FLOPs", test_resnet_layout, NULL},
    {"gradcheck tiny resnets", test_grad_resnet, NULL},
    {"gradcheck model.conv = fast (winograd)", test_grad_fast, NULL},
    {"batched training step = mean of one-sample steps", test_resnet_batched, NULL},
    {0},
};

static const hf_cu_test_t tests_nn[] = {
    {"blas init", test_blas_init, NULL},
    {"parameter counts and layout", test_param_counts, NULL},
    {"bad cfg -> HF_EINPUT", test_bad_cfg, NULL},
    {"deterministic init", test_init_determinism, NULL},
    {"softmax cross-entropy", test_softmax_xent, NULL},
    {"conv5 vs naive", test_conv_naive, NULL},
    {"conv5 batched backward vs naive", test_conv_backward_naive, NULL},
    {"conv5 sub-batches by hand", test_conv_subbatch, NULL},
    {"direct 1-channel conv (model.conv = fast) vs double", test_conv_direct, NULL},
    {"cnn with model.conv = fast vs gemm", test_cnn_conv_fast, NULL},
    {"max-pool vs naive", test_pool_naive, NULL},
    {"gradcheck logreg", test_grad_logreg, NULL},
    {"gradcheck mlp", test_grad_mlp, NULL},
    {"gradcheck cnn", test_grad_cnn, NULL},
    {"gradcheck soft targets (KL)", test_grad_soft, NULL},
    {"sgd semantics", test_sgd_semantics, NULL},
    {"fused train step", test_train_step_fused, NULL},
    {"forward batch independence", test_forward, NULL},
    {"train determinism", test_train_determinism, NULL},
    {"sgemm splitting on/off", test_gemm_split, NULL},
    {"a wide layer's input gradient and update in column blocks", test_gemm_fused_blocks, NULL},
    {"training sanity", test_training_sanity, NULL},
    {0},
};
static const hf_cu_suite_t suites[] = {
    {"nn", tests_nn, NULL, NULL},
    {"resnet", tests_resnet, NULL, NULL},
    {0},
};

/* --resnet-export DIR NORM [fast]: a tiny ResNet-10 (widths 4,8,8,8, 3x32x32 inputs,
 * 10 classes, NORM none|group|static-bn) for tests/resnet_torch.py:
 * DIR/tensors.txt (name offset shape... per line), params.bin, x.bin (4
 * samples), y.bin (int32), calib.bin (10 samples), and what this code
 * computes: loss.bin (the training step's mean cross-entropy), grad.bin
 * (float32, its gradient), logits.bin (the forward of x; static-bn: with the
 * statistics recomputed from calib.bin in chunks of 4, 4 and 2 samples).
 * Norm parameters are drawn away from their 1/0 initialisation so that they
 * matter.  fast: with model.conv = fast (Winograd convolutions). */
static int resnet_export(const char *dir, const char *norm, int fast)
{
    enum { B = 4, NC = 10 };
    int nk = !strcmp(norm, "group") ? HF_NORM_GROUP : !strcmp(norm, "static-bn") ? HF_NORM_STATIC_BN : HF_NORM_NONE;
    hf_model_cfg_t c = cfg_resnet(3, 32, 32, 10, tiny_widths, 10, nk);
    c.conv = fast ? HF_CONV_FAST : HF_CONV_GEMM;
    hf_model_t m;
    if (hf_model_init(&m, &c)) return 1;
    hf_work_t *w = hf_work_new(&m, B);
    float *p = malloc(sizeof(float) * m.nparams), *g = malloc(sizeof(float) * m.nparams);
    float *x = malloc(sizeof(float) * B * m.in_dim), z[B * 10], *xc = malloc(sizeof(float) * NC * m.in_dim), loss;
    int y[B] = {3, 0, 9, 3};
    hf_model_init_params(&m, p, 77);
    for (int t = 0; t < m.ntensors; t++)
        if (strstr(m.tensors[t].name, "norm")) fill_uniform(p + m.tensors[t].off, m.tensors[t].n, 80 + t, 0.5f, 1.5f);
    fill_uniform(x, (long)B * m.in_dim, 78, 0, 1);
    fill_uniform(xc, (long)NC * m.in_dim, 79, -0.5f, 1.5f);
    loss = hf_model_train_step_grad(&m, w, p, g, x, y, B);
    hf_model_norm_stats(&m, w, p, xc, NC, 4);
    hf_model_forward(&m, w, p, x, NULL, B, z, NULL);
    char f[4096];
    snprintf(f, sizeof f, "%s/tensors.txt", dir);
    FILE *o = fopen(f, "w");
    if (!o) return 1;
    for (int t = 0; t < m.ntensors; t++) {
        const hf_tensor_t *T = &m.tensors[t];
        fprintf(o, "%s %ld", T->name, T->off);
        for (int d = 0; d < T->ndim; d++) fprintf(o, " %d", T->shape[d]);
        fprintf(o, "\n");
    }
    fclose(o);
    const void *buf[7] = {p, x, y, z, g, xc, &loss};
    size_t len[7] = {sizeof(float) * m.nparams, sizeof(float) * B * m.in_dim, sizeof y, sizeof z,
                     sizeof(float) * m.nparams, sizeof(float) * NC * m.in_dim, sizeof loss};
    const char *name[7] = {"params", "x", "y", "logits", "grad", "calib", "loss"};
    int rc = 0;
    for (int i = 0; i < 7; i++) {
        snprintf(f, sizeof f, "%s/%s.bin", dir, name[i]);
        o = fopen(f, "wb");
        rc |= !o || fwrite(buf[i], 1, len[i], o) != len[i];
        if (o) rc |= fclose(o) != 0;
    }
    free(p); free(g); free(x); free(xc);
    hf_work_free(w);
    return rc;
}

int main(int argc, char **argv)
{
    if ((argc == 4 || (argc == 5 && !strcmp(argv[4], "fast"))) && !strcmp(argv[1], "--resnet-export"))
        return resnet_export(argv[2], argv[3], argc == 5);
    printf("OpenBLAS core: %s\n", hf_blas_init());
    openblas_set_num_threads(1);
    return hf_cu_main(&argc, &argv, 0, suites);
}
