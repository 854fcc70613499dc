/*
 * test_dpsgd.c — DP-SGD's noisy clipped minibatch gradient (src/strategies/
 * dpsgd.c, hf_dpsgd_grad) against values computed by hand on a softmax
 * regression with 2 inputs and 2 classes, all parameters 0 (so every
 * example's softmax is (1/2, 1/2) and its loss log 2).  The gradient of one
 * example (x, y) is dz = softmax − onehot(y), dW[c][d] = dz[c] x[d], db = dz
 * (weight (out, in) first, then the bias: nn.c's layout):
 *   x1 = (3, 4), y1 = 0: dz = (−1/2, 1/2), dW = [[−1.5, −2], [1.5, 2]],
 *     db = (−0.5, 0.5), norm² = 2.25 + 4 + 2.25 + 4 + 0.25 + 0.25 = 13;
 *   x2 = (0.2, 0), y2 = 1: dz = (1/2, −1/2), dW = [[0.1, 0], [−0.1, 0]],
 *     db = (0.5, −0.5), norm² = 0.52.
 * With C = 1, example 1 (norm √13 ≈ 3.61 > C) is scaled by 1/√13 and example
 * 2 (norm ≈ 0.72 < C) is kept; z = 0: the gradient is their sum over B = 2.
 */
#include "cunit_main.h"
#include <math.h>
#include <string.h>
#include "dpsgd.h"
#include "nn.h"
#include "rng.h"

static hf_model_t m;
static hf_work_t *w;
static const float xb[4] = {3.0f, 4.0f, 0.2f, 0.0f};
static const int yb[2] = {0, 1};
static const double g1[6] = {-1.5, -2, 1.5, 2, -0.5, 0.5}, g2[6] = {0.1, 0, -0.1, 0, 0.5, -0.5};

static void setup(void)
{
    hf_model_cfg_t c;
    memset(&c, 0, sizeof c);
    c.arch = HF_ARCH_LOGREG;
    c.in_c = c.in_h = 1;
    c.in_w = 2;
    c.n_classes = 2;
    CU_ASSERT_EQUAL_FATAL(hf_model_init(&m, &c), 0);
    CU_ASSERT_EQUAL_FATAL(m.nparams, 6);
    w = hf_work_new(&m, 4);
}

/* z = 0 pins the exact update */
static void test_clip_exact(void)
{
    setup();
    float params[6] = {0}, g[6], out[6];
    float l = hf_dpsgd_grad(&m, w, params, xb, yb, 2, 1.0, 0.0, NULL, g, out);
    CU_ASSERT_DOUBLE_EQUAL(l, log(2.0), 1e-6);
    for (int j = 0; j < 6; j++) CU_ASSERT_DOUBLE_EQUAL(out[j], (g1[j] / sqrt(13.0) + g2[j]) / 2, 1e-6);
    /* a clip above both norms: the plain mean gradient */
    hf_dpsgd_grad(&m, w, params, xb, yb, 2, 10.0, 0.0, NULL, g, out);
    for (int j = 0; j < 6; j++) CU_ASSERT_DOUBLE_EQUAL(out[j], (g1[j] + g2[j]) / 2, 1e-6);
    /* a clip below both: each at norm 0.1 */
    hf_dpsgd_grad(&m, w, params, xb, yb, 2, 0.1, 0.0, NULL, g, out);
    for (int j = 0; j < 6; j++)
        CU_ASSERT_DOUBLE_EQUAL(out[j], (0.1 * g1[j] / sqrt(13.0) + 0.1 * g2[j] / sqrt(0.52)) / 2, 1e-6);
    /* B = 1, no clipping, no noise: the engine's gradient bit for bit */
    float ref[6];
    hf_model_train_step_grad(&m, w, params, ref, xb, yb, 1);
    hf_dpsgd_grad(&m, w, params, xb, yb, 1, 1e12, 0.0, NULL, g, out);
    CU_ASSERT(memcmp(ref, out, sizeof ref) == 0);
    hf_work_free(w);
}

/* z > 0: out − the exact update is N(0, (z C / B)²) per coordinate; z = 1.5,
 * C = 2, B = 2: standard deviation 1.5 (C ≠ 1, so a noise that forgets C is
 * caught; the exact update clips g1, of norm sqrt(13), to 2).  Over 3000 draws
 * × 6 coordinates the sample standard deviation is within 3 % (its relative
 * standard error is 1/sqrt(2·18000) ≈ 0.5 %), the mean within 0.06 (standard
 * error 0.011); the same key gives the same draw. */
static void test_noise(void)
{
    setup();
    float params[6] = {0}, g[6], out[6], again[6];
    double s = 0, s2 = 0;
    long n = 0;
    for (int i = 0; i < 3000; i++) {
        hf_rng_t r;
        hf_rng_init(&r, 7, HF_RNG_TEST, (uint64_t)i, 0);
        hf_dpsgd_grad(&m, w, params, xb, yb, 2, 2.0, 1.5, &r, g, out);
        for (int j = 0; j < 6; j++, n++) {
            double d = out[j] - (2.0 * g1[j] / sqrt(13.0) + g2[j]) / 2;
            s += d;
            s2 += d * d;
        }
        if (i == 0) {
            hf_rng_init(&r, 7, HF_RNG_TEST, 0, 0);
            hf_dpsgd_grad(&m, w, params, xb, yb, 2, 2.0, 1.5, &r, g, again);
            CU_ASSERT(memcmp(out, again, sizeof out) == 0);
        }
    }
    double mean = s / n, sd = sqrt(s2 / n - mean * mean);
    CU_ASSERT(fabs(mean) < 0.06);
    CU_ASSERT(fabs(sd - 1.5) < 0.045);
    hf_work_free(w);
}

static const hf_cu_test_t dpsgd_tests[] = {
    {"clipping, z = 0: the exact update by hand", test_clip_exact, NULL},
    {"noise: standard deviation z C / B over 3000 draws (3 %)", test_noise, NULL},
    {0},
};
static const hf_cu_suite_t suites[] = {{"dpsgd", dpsgd_tests, NULL, NULL}, {0}};

int main(int argc, char **argv) { return hf_cu_main(&argc, &argv, 0, suites); }
