/*
 * test_fedgen.c — FedGen's arithmetic (src/strategies/fedgen.c): the head's
 * cross-entropy and its gradients, and the diversity term, against values
 * computed by hand; the generator's whole server loss (two heads with
 * unequal label-count weights, diversity on) against central finite
 * differences of the loss itself; a client minibatch's regulariser and the
 * label-count weights by hand.
 */
#include "cunit_main.h"
#include <math.h>
#include <string.h>
#include "fedgen.h"
#include "rng.h"

/* C = 2, F = 1, W = (1, −1), b = 0, g = ln(3)/2: logits ±ln(3)/2, softmax (3/4, 1/4).
 * Label 0 with weight 2: loss 2 ln(4/3); ∂/∂W = 2 (p − e_0) g = (−g/2, g/2);
 * ∂/∂b = (−1/2, 1/2); ∂/∂g = 2 Σ_c (p_c − e_0c) W_c = 2 (−1/4 − 1/4) = −1. */
static void test_head_by_hand(void)
{
    float head[4] = {1.0f, -1.0f, 0.0f, 0.0f}, g = (float)(log(3.0) / 2), gh[4] = {0}, dg = 0;
    int y = 0;
    double w = 2.0;
    double L = hf_fedgen_head_ce(2, 1, head, 1, &g, &y, &w, gh, &dg);
    CU_ASSERT_DOUBLE_EQUAL(L, 2 * log(4.0 / 3.0), 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(gh[0], -g / 2, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(gh[1], g / 2, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(gh[2], -0.5, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(gh[3], 0.5, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(dg, -1.0, 1e-6);
}

/* Generator C = 1, Z = 1, H = 1, F = 1: W1 = (1, 0), b1 = 0, W2 = 2, b2 = 0, so
 * g = 2 relu(z); z = (0, 1) gives g = (0, 2).  No heads, eta = 3: the pairs
 * (0,1) and (1,0) each have noise distance 1 and feature distance 2, so
 * L = 3 exp(−(1·2 + 2·1)/4) = 3/e.  ∂L/∂W2 = Σ_i ∂L/∂g_i · h_i with
 * ∂L/∂g_1 = −3/e · (1/4) · 2 · 1 · sign(2 − 0) = −3/(2e), h_1 = 1. */
static void test_diversity_by_hand(void)
{
    hf_fedgen_dims_t d = {.C = 1, .F = 1, .Z = 1, .H = 1};
    CU_ASSERT_EQUAL(hf_fedgen_nparams(&d), 5);
    float gen[5] = {1, 0, 0, 2, 0}, z[2] = {0, 1}, grad[5], scr[8];
    int y[2] = {0, 0};
    double L = hf_fedgen_gen_loss(&d, gen, 2, z, y, 0, NULL, NULL, 3.0, grad, scr);
    CU_ASSERT_DOUBLE_EQUAL(L, 3.0 / M_E, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(grad[3], -3.0 / (2 * M_E), 1e-6);      /* W2 */
    CU_ASSERT_DOUBLE_EQUAL(grad[4], -3.0 / (2 * M_E) + 3.0 / (2 * M_E), 1e-6);  /* b2: the two g's cancel */
}

/* The full server loss: every parameter's gradient against (L(θ+h) − L(θ−h))/2h. */
static void test_gen_loss_finite_differences(void)
{
    hf_fedgen_dims_t d = {.C = 3, .F = 4, .Z = 2, .H = 5};
    enum { n = 4, U = 2 };
    long PG = hf_fedgen_nparams(&d), HS = (long)d.C * d.F + d.C;
    CU_ASSERT_EQUAL(PG, 5 * 5 + 5 + 4 * 5 + 4);
    float gen[64], heads[2 * 15], z[n * 2], grad[64], g2[64], scr[2 * n * (5 + 4)];
    int y[n] = {0, 2, 1, 2};
    double w[U * 3] = {0.25, 0.9, 0.6, 0.75, 0.1, 0.4};  /* n_{u,y} / Σ_u' n_{u',y}, unequal */
    hf_rng_t r;
    hf_rng_init(&r, 7, HF_RNG_TEST, 0, 0);
    for (long j = 0; j < PG; j++) gen[j] = (float)(hf_rng_uniform(&r) - 0.5);
    for (long j = 0; j < U * HS; j++) heads[j] = (float)(2 * hf_rng_uniform(&r) - 1);
    for (int j = 0; j < n * d.Z; j++) z[j] = (float)hf_rng_normal(&r);
    hf_fedgen_gen_loss(&d, gen, n, z, y, U, heads, w, 1.0, grad, scr);
    int bad = 0;
    double h = 1e-3, maxabs = 0;
    for (long j = 0; j < PG; j++) {
        float keep = gen[j];
        gen[j] = keep + (float)h;
        double lp = hf_fedgen_gen_loss(&d, gen, n, z, y, U, heads, w, 1.0, g2, scr);
        gen[j] = keep - (float)h;
        double lm = hf_fedgen_gen_loss(&d, gen, n, z, y, U, heads, w, 1.0, g2, scr);
        gen[j] = keep;
        double fd = (lp - lm) / (2 * h);
        maxabs = fmax(maxabs, fabs(fd));
        if (fabs(fd - grad[j]) > 1e-3 * fmax(1.0, fabs(fd))) {
            bad++;
            printf("param %ld: analytic %.6g, finite differences %.6g\n", j, grad[j], fd);
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(maxabs > 1e-2);  /* the loss does depend on the parameters */
}

/* A generator whose output ignores z and y (W2 = 0, b2 = v = ln(3)/2) and a
 * prior on label 1 only: every sample is (v, 1).  Head W = (1, −1), b = 0 gives
 * softmax (3/4, 1/4); α_t = 0.5, n = 4: value 0.5 ln 4, ∂/∂W = 0.5 (3/4, −3/4) v,
 * ∂/∂b = 0.5 (3/4, −3/4). */
static void test_regulariser_by_hand(void)
{
    hf_fedgen_dims_t d = {.C = 2, .F = 1, .Z = 1, .H = 1};
    float v = (float)(log(3.0) / 2), gen[6] = {0.3f, -0.2f, 0.7f, 0.1f, 0.0f, v};
    float head[4] = {1.0f, -1.0f, 0.0f, 0.0f}, gh[4] = {0}, z[4], g[4];
    int y[4];
    double prior[2] = {0.0, 1.0};
    hf_rng_t r;
    hf_rng_init(&r, 5, HF_RNG_TEST, 1, 2);
    double L = hf_fedgen_regularise(&d, gen, prior, 4, d.F, 0.5, &r, head, gh, z, y, g);
    CU_ASSERT_DOUBLE_EQUAL(L, 0.5 * log(4.0), 1e-6);
    for (int b = 0; b < 4; b++) CU_ASSERT_EQUAL(y[b], 1);
    CU_ASSERT_DOUBLE_EQUAL(gh[0], 0.375 * v, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(gh[1], -0.375 * v, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(gh[2], 0.375, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(gh[3], -0.375, 1e-6);
}

/* A width sub-model's head reads the first Fh of the F generated features:
 * the generator above with a second output feature fixed at 100 (F = 2) and
 * the same one-input head (Fh = 1) gives the same value and gradient; a head
 * that read the second feature (or the wrong sample's) would not. */
static void test_regulariser_narrow_head(void)
{
    hf_fedgen_dims_t d = {.C = 2, .F = 2, .Z = 1, .H = 1};
    float v = (float)(log(3.0) / 2), gen[8] = {0.3f, -0.2f, 0.7f, 0.1f, 0.0f, 0.0f, v, 100.0f};
    float head[4] = {1.0f, -1.0f, 0.0f, 0.0f}, gh[4] = {0}, z[4], g[8];
    int y[4];
    double prior[2] = {0.0, 1.0};
    hf_rng_t r;
    hf_rng_init(&r, 5, HF_RNG_TEST, 1, 2);
    double L = hf_fedgen_regularise(&d, gen, prior, 4, 1, 0.5, &r, head, gh, z, y, g);
    CU_ASSERT_DOUBLE_EQUAL(L, 0.5 * log(4.0), 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(gh[0], 0.375 * v, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(gh[1], -0.375 * v, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(gh[2], 0.375, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(gh[3], -0.375, 1e-6);
}

/* The server's loss through a narrow head (hf_fedgen_full_head, then
 * hf_fedgen_gen_loss).  Generator C = 2, Z = 1, H = 1, F = 2: W1 = (1, 0, 0),
 * b1 = 0, W2 = (v, 5), b2 = 0, so z = 1 gives h = 1 and g = (v, 5), the second
 * feature large.  A width-1/2 head (Fh = 1) as the model stores it, W = (1, −1)
 * then b = (1/2, −1/2), v = (ln 3 − 1)/2: padded with a zero second column its
 * logits are ±ln(3)/2, softmax (3/4, 1/4).  Label 0, weight w = 0.75, eta 0:
 *   L = 0.75 ln(4/3);  ∂L/∂g = 0.75 Σ_c (p_c − e_0c) W_c = (−3/8, 0)
 *   ∂L/∂W2 = ∂L/∂b2 = (−3/8, 0) (h = 1);  ∂L/∂h = −3v/8 = ∂L/∂W1_z (z = 1)
 *   = ∂L/∂W1_{y=0} = ∂L/∂b1;  ∂L/∂W1_{y=1} = 0.
 * The output buffer starts with junk that differs per class: padding that kept
 * it (or any column read with the full head's stride, here the bias) moves the
 * logits by 5 × a per-class value, and the loss with them. */
static void test_gen_loss_narrow_head_zero_padded(void)
{
    hf_fedgen_dims_t d = {.C = 2, .F = 2, .Z = 1, .H = 1};
    float v = (float)((log(3.0) - 1) / 2), gen[8] = {1, 0, 0, 0, v, 5, 0, 0};  /* W1 (1 × 3), b1, W2 (2 × 1), b2 */
    CU_ASSERT_EQUAL(hf_fedgen_nparams(&d), 8);
    float model_head[4] = {1.0f, -1.0f, 0.5f, -0.5f};  /* W (2 × 1), then b (2) */
    float full[6] = {7, 3, -2, -9, 4, 6}, want_full[6] = {1, 0, -1, 0, 0.5f, -0.5f};
    hf_fedgen_full_head(2, 2, 1, model_head, model_head + 2, full);
    for (int j = 0; j < 6; j++) CU_ASSERT_EQUAL(full[j], want_full[j]);
    float z = 1, grad[8], scr[2 * (1 + 2)];
    int y = 0;
    double w[2] = {0.75, 0.25};
    double L = hf_fedgen_gen_loss(&d, gen, 1, &z, &y, 1, full, w, 0.0, grad, scr);
    CU_ASSERT_DOUBLE_EQUAL(L, 0.75 * log(4.0 / 3.0), 1e-6);
    double want[8] = {-3 * v / 8, -3 * v / 8, 0, -3 * v / 8, -3.0 / 8, 0, -3.0 / 8, 0};
    for (int j = 0; j < 8; j++) CU_ASSERT_DOUBLE_EQUAL(grad[j], want[j], 1e-6);
}

/* Counts u0 = (2, 0, 7), u1 = (6, 0, 0): per label totals (8, 0, 7) of 15. */
static void test_label_weights_by_hand(void)
{
    int32_t cnt[6] = {2, 0, 7, 6, 0, 0};
    double w[6], prior[3];
    int labels[3];
    CU_ASSERT_EQUAL(hf_fedgen_label_weights(3, 2, cnt, w, labels, prior), 2);
    CU_ASSERT_EQUAL(labels[0], 0);
    CU_ASSERT_EQUAL(labels[1], 2);
    double want_w[6] = {0.25, 0, 1, 0.75, 0, 0}, want_p[3] = {8.0 / 15, 0, 7.0 / 15};
    for (int j = 0; j < 6; j++) CU_ASSERT_DOUBLE_EQUAL(w[j], want_w[j], 1e-15);
    for (int c = 0; c < 3; c++) CU_ASSERT_DOUBLE_EQUAL(prior[c], want_p[c], 1e-15);
}

static const hf_cu_test_t fedgen_tests[] = {
    {"client regulariser by hand", test_regulariser_by_hand, NULL},
    {"client regulariser, a narrow head (first Fh features)", test_regulariser_narrow_head, NULL},
    {"label-count weights and prior by hand", test_label_weights_by_hand, NULL},
    {"head cross-entropy by hand", test_head_by_hand, NULL},
    {"diversity term by hand", test_diversity_by_hand, NULL},
    {"generator loss gradient by finite differences", test_gen_loss_finite_differences, NULL},
    {"generator loss through a zero-padded narrow head by hand", test_gen_loss_narrow_head_zero_padded, NULL},
    {0},
};
static const hf_cu_suite_t suites[] = {{"fedgen", fedgen_tests, NULL, NULL}, {0}};
int main(int argc, char **argv) { return hf_cu_main(&argc, &argv, 0, suites); }
