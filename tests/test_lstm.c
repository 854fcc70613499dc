/*
 * test_lstm.c — CUnit tests of the character LSTM (kernels/nn_lstm.c): layout,
 * parameter count and FLOPs of a tiny model and of LEAF's by hand formulas, bad
 * configurations, the forward against a naive double-precision reference, every
 * gradient (cross-entropy and distillation loss, one and two sub-batches)
 * against central finite differences of that reference, and width slicing: a
 * width-β sub-model's forward equals the full model's with the removed units'
 * coordinates zeroed; the per-step sgemms cut for OpenBLAS's small-matrix
 * kernels equal one call each.  (The cross-check against PyTorch is tests/lstm_torch.sh.)
 *
 * Exit status: 0 when every assertion passed, 1 otherwise.
 */
#include "hf_util.h"
#include "nn.h"
#include "rng.h"
#include "slice.h"
#include "cunit_main.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* tiny model: vocab 5, embedding 3, layers of 4 and 3 units, sequences of 4, 5 classes */
static hf_model_cfg_t tiny_cfg(int h1, int h2)
{
    hf_model_cfg_t c = {.arch = HF_ARCH_LSTM, .in_c = 1, .in_h = 1, .in_w = 4, .n_classes = 5,
                        .nhidden = 2, .hidden = {h1, h2}, .vocab = 5, .embed = 3};
    return c;
}

static void fill_ids(float *x, int n, int V, uint64_t seed)
{
    hf_rng_t r;
    hf_rng_init(&r, seed, HF_RNG_TEST, 3, 0);
    for (int i = 0; i < n; i++) x[i] = (float)hf_rng_below(&r, (uint64_t)V);
}

static void fill_labels(int *y, int n, int C, uint64_t seed)
{
    hf_rng_t r;
    hf_rng_init(&r, seed, HF_RNG_TEST, 4, 0);
    for (int i = 0; i < n; i++) y[i] = (int)hf_rng_below(&r, (uint64_t)C);
}

/* ------------------------------------------------------------------------ */
/* A naive reference in double: same flat layout (gate q of unit j at row    */
/* 4j+q, q = i,f,g,o), loops only.                                          */
/* ------------------------------------------------------------------------ */

static double sg(double v) { return 1.0 / (1.0 + exp(-v)); }

/* logits (C) of one sample */
static void ref_logits(const hf_model_t *m, const double *p, const float *xs, double *z)
{
    const hf_model_cfg_t *c = &m->cfg;
    int T = c->in_w, E = c->embed, L = c->nhidden;
    double in[64 * 64], out[64 * 64];   /* (T, width) of the layer below / this layer */
    int win = E;
    for (int t = 0; t < T; t++)
        for (int e = 0; e < E; e++) in[t * 64 + e] = p[m->tensors[0].off + (long)xs[t] * E + e];
    for (int l = 0; l < L; l++) {
        int H = c->hidden[l];
        const double *wih = p + m->tensors[1 + 3 * l].off, *whh = p + m->tensors[2 + 3 * l].off,
                     *b = p + m->tensors[3 + 3 * l].off;
        double h[64] = {0}, cc[64] = {0};
        for (int t = 0; t < T; t++) {
            double hn[64];
            for (int j = 0; j < H; j++) {
                double a[4];
                for (int q = 0; q < 4; q++) {
                    int r = 4 * j + q;
                    double s = b[r];
                    for (int k = 0; k < win; k++) s += wih[r * win + k] * in[t * 64 + k];
                    for (int k = 0; k < H; k++) s += whh[r * H + k] * h[k];
                    a[q] = s;
                }
                double i = sg(a[0]), f = sg(a[1]), g = tanh(a[2]), o = sg(a[3]);
                cc[j] = f * cc[j] + i * g;
                hn[j] = o * tanh(cc[j]);
            }
            for (int j = 0; j < H; j++) out[t * 64 + j] = h[j] = hn[j];
        }
        memcpy(in, out, sizeof in);
        win = H;
    }
    int C = c->n_classes, Ht = c->hidden[L - 1];
    const double *fw = p + m->tensors[m->ntensors - 2].off, *fb = p + m->tensors[m->ntensors - 1].off;
    for (int k = 0; k < C; k++) {
        double s = fb[k];
        for (int j = 0; j < Ht; j++) s += fw[k * Ht + j] * in[(T - 1) * 64 + j];
        z[k] = s;
    }
}

/* mean cross-entropy (zt == NULL) or mean KL(softmax(zt/Tk) ‖ softmax(z/Tk)) */
static double ref_loss(const hf_model_t *m, const double *p, const float *x, const int *y, const float *zt,
                       double Tk, int B)
{
    int C = m->cfg.n_classes;
    double sum = 0;
    for (int s = 0; s < B; s++) {
        double z[64], mx = -INFINITY, se = 0;
        ref_logits(m, p, x + s * m->in_dim, z);
        if (!zt) {
            for (int k = 0; k < C; k++) mx = fmax(mx, z[k]);
            for (int k = 0; k < C; k++) se += exp(z[k] - mx);
            sum += log(se) + mx - z[y[s]];
        } else {
            double lz = 0, lt = 0, mt = -INFINITY;
            for (int k = 0; k < C; k++) { mx = fmax(mx, z[k] / Tk); mt = fmax(mt, zt[s * C + k] / Tk); }
            for (int k = 0; k < C; k++) { lz += exp(z[k] / Tk - mx); lt += exp(zt[s * C + k] / Tk - mt); }
            lz = log(lz) + mx;
            lt = log(lt) + mt;
            for (int k = 0; k < C; k++) {
                double pt = exp(zt[s * C + k] / Tk - lt);
                sum += pt * ((zt[s * C + k] / Tk - lt) - (z[k] / Tk - lz));
            }
        }
    }
    return sum / B;
}

/* ------------------------------------------------------------------------ */

static void test_layout(void)
{
    hf_model_cfg_t c = tiny_cfg(4, 3);
    hf_model_t m;
    CU_ASSERT_FATAL(hf_model_init(&m, &c) == 0);
    static const char *names[] = {"embed.weight", "lstm1.w_ih", "lstm1.w_hh", "lstm1.bias", "lstm2.w_ih",
                                  "lstm2.w_hh", "lstm2.bias", "fc.weight", "fc.bias"};
    static const int shapes[][2] = {{5, 3}, {16, 3}, {16, 4}, {16, 0}, {12, 4}, {12, 3}, {12, 0}, {5, 3}, {5, 0}};
    CU_ASSERT_EQUAL_FATAL(m.ntensors, 9);
    long off = 0;
    for (int i = 0; i < 9; i++) {
        CU_ASSERT_STRING_EQUAL(m.tensors[i].name, names[i]);
        CU_ASSERT_EQUAL(m.tensors[i].shape[0], shapes[i][0]);
        CU_ASSERT_EQUAL(m.tensors[i].shape[1], shapes[i][1]);
        CU_ASSERT_EQUAL(m.tensors[i].off, off);
        off += m.tensors[i].n;
    }
    /* 5·3 + 16·(3+4+1) + 12·(4+3+1) + 5·(3+1) */
    CU_ASSERT_EQUAL(m.nparams, 15 + 128 + 96 + 20);
    CU_ASSERT_EQUAL(m.in_dim, 4);
    /* forward multiply-adds ×2: input projections at T = 4 steps, recurrent at T-1 = 3, classifier once:
     * 2·16·(4·3 + 3·4) + 2·12·(4·4 + 3·3) + 2·3·5 */
    CU_ASSERT_DOUBLE_EQUAL(m.flops_fwd, 768 + 600 + 30, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(hf_model_train_flops(&m), 3.0 * 1398, 1e-9);
    CU_ASSERT_STRING_EQUAL(hf_arch_name(HF_ARCH_LSTM), "lstm");
}

/* LEAF's model (defaults: embedding 8, 256,256) on 80-token sequences of 80 symbols */
static void test_leaf_defaults(void)
{
    hf_model_cfg_t c = {.arch = HF_ARCH_LSTM, .in_c = 1, .in_h = 1, .in_w = 80, .n_classes = 80, .vocab = 80};
    hf_model_t m;
    CU_ASSERT_FATAL(hf_model_init(&m, &c) == 0);
    CU_ASSERT_EQUAL(m.cfg.embed, 8);
    CU_ASSERT_EQUAL(m.cfg.nhidden, 2);
    CU_ASSERT_EQUAL(m.cfg.hidden[0], 256);
    CU_ASSERT_EQUAL(m.cfg.hidden[1], 256);
    /* 80·8 + 1024·(8+256+1) + 1024·(256+256+1) + 80·(256+1) */
    CU_ASSERT_EQUAL(m.nparams, 640 + 271360 + 525312 + 20560);
    /* 2·1024·(80·8 + 79·256) + 2·1024·(80·256 + 79·256) + 2·256·80 */
    CU_ASSERT_DOUBLE_EQUAL(m.flops_fwd, 42729472.0 + 83361792.0 + 40960.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(hf_model_train_flops(&m), 3 * 126132224.0, 1e-6);
}

static void test_bad_cfg(void)
{
    hf_model_t m;
    hf_model_cfg_t c = tiny_cfg(4, 3);
    c.vocab = 0;
    CU_ASSERT_EQUAL(hf_model_init(&m, &c), HF_EINPUT);
    c = tiny_cfg(4, 0);
    CU_ASSERT_EQUAL(hf_model_init(&m, &c), HF_EINPUT);
    c = tiny_cfg(4, 3);
    c.embed = -1;
    CU_ASSERT_EQUAL(hf_model_init(&m, &c), HF_EINPUT);
    c = tiny_cfg(4, 3);
    c.in_h = 2;
    CU_ASSERT_EQUAL(hf_model_init(&m, &c), HF_EINPUT);
}

/* Initialisation: embedding N(0,1), LSTM tensors within ±1/√H, fc within ±1/√H_top. */
static void test_init(void)
{
    hf_model_cfg_t c = tiny_cfg(4, 3);
    c.vocab = 400;
    hf_model_t m;
    CU_ASSERT_FATAL(hf_model_init(&m, &c) == 0);
    float *p = hf_alloc_aligned((size_t)m.nparams * sizeof(float));
    hf_model_init_params(&m, p, 5);
    double s1 = 0, s2 = 0;
    long ne = m.tensors[0].n;
    for (long i = 0; i < ne; i++) { s1 += p[i]; s2 += (double)p[i] * p[i]; }
    CU_ASSERT(fabs(s1 / ne) < 0.15);               /* 1200 draws: sd of the mean 0.029 */
    CU_ASSERT(fabs(s2 / ne - 1.0) < 0.15);
    for (int t = 1; t < m.ntensors; t++) {
        double bound = 1.0 / sqrt(t >= 4 ? 3.0 : 4.0), mx = 0;
        for (long i = 0; i < m.tensors[t].n; i++) mx = fmax(mx, fabs(p[m.tensors[t].off + i]));
        CU_ASSERT(mx <= bound && mx > 0.5 * bound);
    }
    free(p);
}

/* Forward logits vs the reference, then every coordinate of the gradient vs
 * central differences (h = 1e-5) of the double reference at the same point:
 * |g − fd| ≤ 1e-6 + 1e-4·|fd| (float kernels, double reference). */
static void grad_check(int B, int soft)
{
    hf_model_cfg_t c = tiny_cfg(4, 3);
    hf_model_t m;
    CU_ASSERT_FATAL(hf_model_init(&m, &c) == 0);
    long P = m.nparams;
    float *p = hf_alloc_aligned((size_t)P * sizeof(float)), *g = hf_alloc_aligned((size_t)P * sizeof(float));
    double *pd = hf_calloc((size_t)P, sizeof(double));
    hf_model_init_params(&m, p, 11);
    for (long i = 0; i < P; i++) p[i] *= 3.0f;   /* larger weights: gates away from their linear range */
    for (long i = 0; i < P; i++) pd[i] = p[i];
    float *x = hf_calloc((size_t)B * 4, sizeof(float)), *zt = hf_calloc((size_t)B * 5, sizeof(float));
    int *y = hf_calloc((size_t)B, sizeof(int));
    fill_ids(x, B * 4, 5, 1 + B);
    fill_labels(y, B, 5, 2 + B);
    hf_rng_t r;
    hf_rng_init(&r, 9, HF_RNG_TEST, 5, 0);
    for (int i = 0; i < B * 5; i++) zt[i] = (float)(4.0 * hf_rng_uniform(&r) - 2.0);
    hf_work_t *w = hf_work_new(&m, B);
    /* logits */
    float *lg = hf_calloc((size_t)B * 5, sizeof(float));
    hf_model_forward(&m, w, p, x, y, B, lg, NULL);
    double md = 0;
    for (int s = 0; s < B; s++) {
        double z[64];
        ref_logits(&m, pd, x + s * 4, z);
        for (int k = 0; k < 5; k++) md = fmax(md, fabs(z[k] - lg[s * 5 + k]));
    }
    CU_ASSERT(md < 1e-5);
    float l = soft ? hf_model_train_step_soft(&m, w, p, g, x, zt, 2.0f, B)
                   : hf_model_train_step_grad(&m, w, p, g, x, y, B);
    double l0 = ref_loss(&m, pd, x, y, soft ? zt : NULL, 2.0, B);
    CU_ASSERT(fabs(l - l0) < 1e-5 * fmax(1.0, fabs(l0)));
    double worst = 0;
    long bad = 0;
    for (long i = 0; i < P; i++) {
        double h = 1e-5, v = pd[i];
        pd[i] = v + h;
        double lp = ref_loss(&m, pd, x, y, soft ? zt : NULL, 2.0, B);
        pd[i] = v - h;
        double lm = ref_loss(&m, pd, x, y, soft ? zt : NULL, 2.0, B);
        pd[i] = v;
        double fd = (lp - lm) / (2 * h), e = fabs(g[i] - fd);
        worst = fmax(worst, e / (1e-6 + 1e-4 * fabs(fd)));
        if (e > 1e-6 + 1e-4 * fabs(fd)) {
            if (bad++ < 5) printf("\n  param %ld: grad %.8g, finite difference %.8g", i, g[i], fd);
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
    printf(" [B=%d %s: logits max |diff| %.2g, worst error / tolerance %.3f] ", B, soft ? "soft" : "xent", md,
           worst);
    hf_work_free(w);
    free(p); free(g); free(pd); free(x); free(zt); free(y); free(lg);
}

static void test_grad_xent(void) { grad_check(3, 0); }
/* 40 samples: two sub-batches (32 + 8) whose gradients add up */
static void test_grad_xent_subbatches(void) { grad_check(40, 0); }
static void test_grad_soft(void) { grad_check(5, 1); }

/* hf_model_train_step (the path the clients use) = the gradient followed by
 * hf_sgd_step, bitwise, with momentum and weight decay. */
static void test_train_step(void)
{
    hf_model_cfg_t c = tiny_cfg(4, 3);
    hf_model_t m;
    CU_ASSERT_FATAL(hf_model_init(&m, &c) == 0);
    long P = m.nparams;
    float *a = hf_alloc_aligned(P * sizeof(float)), *b = hf_alloc_aligned(P * sizeof(float)),
          *g = hf_alloc_aligned(P * sizeof(float)), *ma = hf_calloc(P, sizeof(float)), *mb = hf_calloc(P, sizeof(float));
    hf_model_init_params(&m, a, 3);
    memcpy(b, a, P * sizeof(float));
    float x[24];
    int y[6];
    fill_ids(x, 24, 5, 7);
    fill_labels(y, 6, 5, 8);
    hf_work_t *w = hf_work_new(&m, 6);
    hf_sgd_t o = {.lr = 0.5f, .momentum = 0.9f, .weight_decay = 1e-3f};
    for (int k = 0; k < 3; k++) {
        hf_model_train_step(&m, w, &o, a, g, ma, x, y, 6);
        hf_model_train_step_grad(&m, w, b, g, x, y, 6);
        hf_sgd_step(&o, P, b, g, mb);
    }
    CU_ASSERT(memcmp(a, b, P * sizeof(float)) == 0);
    hf_work_free(w);
    free(a); free(b); free(g); free(ma); free(mb);
}

/* LEAF's widths (two layers of 256: the per-step products are 10 x 1024 x 256)
 * at B = 10 with nn.c's sgemm splitting forced on (hf_gemm_split(1): the
 * recurrent forward cut along 4H in 9 calls, its input gradient along H in 3,
 * as on cores with OpenBLAS's small-matrix kernels) and off (one call each):
 * the same loss, logits and gradient up to rounding.  The finite-difference
 * tests above run with the automatic setting: off on AVX2 cores. */
static void test_gemm_split(void)
{
    hf_model_cfg_t c = {.arch = HF_ARCH_LSTM, .in_c = 1, .in_h = 1, .in_w = 6, .n_classes = 80,
                        .nhidden = 2, .hidden = {256, 256}, .vocab = 80, .embed = 8};
    hf_model_t m;
    CU_ASSERT_FATAL(hf_model_init(&m, &c) == 0);
    enum { B = 10 };
    long P = m.nparams;
    float *p = hf_alloc_aligned(P * sizeof(float)), *g0 = hf_alloc_aligned(P * sizeof(float)),
          *g1 = hf_alloc_aligned(P * sizeof(float)), x[B * 6], z0[B * 80], z1[B * 80];
    int y[B];
    hf_model_init_params(&m, p, 17);
    fill_ids(x, B * 6, 80, 18);
    fill_labels(y, B, 80, 19);
    hf_work_t *w = hf_work_new(&m, B);
    int prev = hf_gemm_split(1);
    float l1 = hf_model_train_step_grad(&m, w, p, g1, x, y, B);
    hf_model_forward(&m, w, p, x, y, B, z1, NULL);
    hf_gemm_split(0);
    float l0 = hf_model_train_step_grad(&m, w, p, g0, x, y, B);
    hf_model_forward(&m, w, p, x, y, B, z0, NULL);
    hf_gemm_split(-1);
    CU_ASSERT_EQUAL(hf_gemm_split(-1), prev);   /* automatic setting restored */
    double gm, dg = hf_cu_max_diff(g1, g0, P, &gm), dz = hf_cu_max_diff(z1, z0, B * 80, NULL);
    if (!(dg <= 1e-5 * gm && dz < 1e-5))
        printf("\n  split: max |dgrad| %.3g (max |grad| %.3g), max |dlogit| %.3g", dg, gm, dz);
    CU_ASSERT(dg <= 1e-5 * gm && gm > 0);
    CU_ASSERT(dz < 1e-5);
    CU_ASSERT(fabs(l1 - l0) < 1e-5);
    hf_work_free(w);
    free(p); free(g0); free(g1);
}

/* Width slicing: for β = 1/2 and 1/3 of a (6, 5) model, extract + scatter
 * covers exactly the sub-model's coordinates (the first ⌈βH⌉ units' four gate
 * rows, their recurrent and next-layer columns), and the sub-model's forward
 * equals the full model's with every uncovered coordinate zeroed (a removed
 * unit then has i = f = o = 1/2, g = 0, so c = h = 0 at every step). */
static void test_slice(void)
{
    double betas[] = {0.5, 1.0 / 3, 1.0};
    for (int bi = 0; bi < 3; bi++) {
        hf_model_cfg_t fc = tiny_cfg(6, 5), sc;
        hf_model_t m, s;
        CU_ASSERT_FATAL(hf_model_init(&m, &fc) == 0);
        CU_ASSERT_FATAL(hf_slice_cfg(&fc, betas[bi], &sc) == 0);
        CU_ASSERT_FATAL(hf_model_init(&s, &sc) == 0);
        CU_ASSERT_EQUAL(sc.hidden[0], hf_slice_units(6, betas[bi]));
        CU_ASSERT_EQUAL(sc.hidden[1], hf_slice_units(5, betas[bi]));
        CU_ASSERT_EQUAL(sc.embed, 3);
        CU_ASSERT_EQUAL(sc.vocab, 5);
        CU_ASSERT_FATAL(hf_slice_compatible(&m, &s));
        float *x = hf_alloc_aligned(m.nparams * sizeof(float)), *xs = hf_alloc_aligned(s.nparams * sizeof(float)),
              *z = hf_calloc(m.nparams, sizeof(float));
        double *cov = hf_calloc(m.nparams, sizeof(double));
        hf_model_init_params(&m, x, 21);
        hf_slice_extract(&m, x, &s, xs);
        hf_slice_scatter(&m, z, &s, xs);
        hf_slice_cover(&m, &s, 1.0, NULL, cov);
        /* coverage by hand: unit j of layer 1 (H=6) kept iff j < h1 ... */
        int h1 = sc.hidden[0], h2 = sc.hidden[1];
        long bad = 0, ncov = 0;
        for (int t = 0; t < m.ntensors; t++) {
            const hf_tensor_t *T = &m.tensors[t];
            int cols = T->ndim == 2 ? T->shape[1] : 1;
            for (long i = 0; i < T->n; i++) {
                int row = (int)(i / cols), col = (int)(i % cols), keep;
                switch (t) {
                case 0: keep = 1; break;                                  /* embedding */
                case 1: keep = row / 4 < h1; break;                       /* lstm1.w_ih: all 3 inputs */
                case 2: keep = row / 4 < h1 && col < h1; break;           /* lstm1.w_hh */
                case 3: keep = row / 4 < h1; break;                       /* lstm1.bias */
                case 4: keep = row / 4 < h2 && col < h1; break;           /* lstm2.w_ih */
                case 5: keep = row / 4 < h2 && col < h2; break;           /* lstm2.w_hh */
                case 6: keep = row / 4 < h2; break;
                case 7: keep = col < h2; break;                           /* fc.weight: all classes */
                default: keep = 1;
                }
                long j = T->off + i;
                ncov += keep;
                if (cov[j] != (keep ? 1.0 : 0.0) || z[j] != (keep ? x[j] : 0.0f)) bad++;
            }
        }
        CU_ASSERT_EQUAL(bad, 0);
        CU_ASSERT_EQUAL(ncov, s.nparams);
        float in[4 * 7], lf[35], ls[35];
        int y[7];
        fill_ids(in, 28, 5, 33);
        fill_labels(y, 7, 5, 34);
        hf_work_t *wm = hf_work_new(&m, 7), *ws = hf_work_new(&s, 7);
        hf_model_forward(&m, wm, z, in, y, 7, lf, NULL);
        hf_model_forward(&s, ws, xs, in, y, 7, ls, NULL);
        double md = 0;
        for (int i = 0; i < 35; i++) md = fmax(md, fabs((double)lf[i] - ls[i]));
        CU_ASSERT(md == 0.0);   /* exact: the zeroed terms add ±0 to every sum */
        printf(" [beta %.3f: units %d,%d, max |diff| %.2g] ", betas[bi], h1, h2, md);
        hf_work_free(wm);
        hf_work_free(ws);
        free(x); free(xs); free(z); free(cov);
    }
}

static const hf_cu_test_t lstm_tests[] = {
    {"layout, parameters and FLOPs of a tiny lstm", test_layout, NULL},
    {"LEAF defaults: counts by hand", test_leaf_defaults, NULL},
    {"bad configurations", test_bad_cfg, NULL},
    {"initialisation", test_init, NULL},
    {"cross-entropy gradient vs finite differences", test_grad_xent, NULL},
    {"gradient over two sub-batches vs finite differences", test_grad_xent_subbatches, NULL},
    {"distillation gradient vs finite differences", test_grad_soft, NULL},
    {"train step == gradient + sgd step", test_train_step, NULL},
    {"LEAF widths, sgemm splitting forced on vs off", test_gemm_split, NULL},
    {"width slicing: coverage and zeroed-unit forward identity", test_slice, NULL},
    {0}};
static const hf_cu_suite_t suites[] = {{"lstm", lstm_tests, NULL, NULL}, {0}};
int main(int argc, char **argv) { return hf_cu_main(&argc, &argv, 0, suites); }
