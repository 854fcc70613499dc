/*
 * test_privacy.c — the RDP accountant (src/privacy/accountant.c) against
 * published values and closed forms, and DP-FedAvg's clipping.
 */
#include "accountant.h"
#include "mia.h"
#include "aia.h"
#include <string.h>
#include "strategy.h"
#include "cunit_main.h"
#include <math.h>

/* tensorflow/privacy, tutorials/README.md, "Select Parameters": MNIST DP-SGD,
 * 60000 examples, batch 256 (q = 256/60000, steps = epochs·60000 // 256),
 * δ = 1e-5: noise 1.12 for 60 epochs → ε 2.92; 0.6 for 30 → 9.74; 1.2 for
 * 10 → 1.20.  Within 1 % (the tolerance). */
static void test_published(void)
{
    const double q = 256.0 / 60000.0;
    const struct { double z; int epochs; double eps; } pub[] = {{1.12, 60, 2.92}, {0.6, 30, 9.74}, {1.2, 10, 1.20}};
    for (int i = 0; i < 3; i++) {
        double e = hf_rdp_epsilon(q, pub[i].z, (long)pub[i].epochs * 60000 / 256, 1e-5, NULL);
        CU_ASSERT(fabs(e - pub[i].eps) <= 0.01 * pub[i].eps);
    }
}

/* closed forms: q = 1 is the Gaussian mechanism, RDP α/(2σ²); integer α = 2,
 * q = 1/2, σ = 1: A = (1−q)² + 2q(1−q) + q² e^{1/σ²} = 0.75 + e/4 */
static void test_closed_forms(void)
{
    CU_ASSERT_DOUBLE_EQUAL(hf_rdp_sgm(1.0, 2.0, 5.0), 5.0 / 8.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(hf_rdp_sgm(0.5, 1.0, 2.0), log(0.75 + exp(1.0) / 4), 1e-12);
    /* α = 3, q = 0.1, σ = 2: Σ_i C(3,i) q^i (1−q)^(3−i) e^{(i²−i)/8} */
    double a3 = pow(0.9, 3) + 3 * 0.1 * 0.81 + 3 * 0.01 * 0.9 * exp(2.0 / 8) + 0.001 * exp(6.0 / 8);
    CU_ASSERT_DOUBLE_EQUAL(hf_rdp_sgm(0.1, 2.0, 3.0), log(a3) / 2, 1e-12);
    /* the erfc series of fractional orders meets the finite sum at an integer */
    CU_ASSERT_DOUBLE_EQUAL(hf_rdp_sgm(0.1, 2.0, 3.0 + 1e-9), log(a3) / 2, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(hf_rdp_sgm(0.01, 0.8, 8.0 + 1e-9), hf_rdp_sgm(0.01, 0.8, 8.0), 1e-6);
    /* RDP grows with the order; ε with the steps, falls with the noise */
    CU_ASSERT(hf_rdp_sgm(0.05, 1.0, 2.5) > hf_rdp_sgm(0.05, 1.0, 2.0));
    CU_ASSERT(hf_rdp_sgm(0.05, 1.0, 2.5) < hf_rdp_sgm(0.05, 1.0, 3.0));
    CU_ASSERT(hf_rdp_epsilon(0.1, 1.0, 20, 1e-5, NULL) > hf_rdp_epsilon(0.1, 1.0, 10, 1e-5, NULL));
    CU_ASSERT(hf_rdp_epsilon(0.1, 2.0, 10, 1e-5, NULL) < hf_rdp_epsilon(0.1, 1.0, 10, 1e-5, NULL));
    /* Gaussian mechanism, 1 step, σ = 1, δ = 1e-5: min over the grid of α/2 + log(1e5)/(α−1),
     * smallest at α = 1 + sqrt(2 log 1e5) ≈ 5.80: ≈ 5.30 (the grid has 5.8) */
    double o;
    double e = hf_rdp_epsilon(1.0, 1.0, 1, 1e-5, &o);
    CU_ASSERT_DOUBLE_EQUAL(o, 5.8, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(e, 5.8 / 2 + log(1e5) / 4.8, 1e-9);
    CU_ASSERT(isinf(hf_rdp_epsilon(0.1, 0.0, 10, 1e-5, NULL)));
    CU_ASSERT_EQUAL(hf_rdp_epsilon(0.1, 1.0, 0, 1e-5, NULL), 0.0);
}

/* clipping: (3, 4) has norm 5 */
static void test_clip(void)
{
    float u[2] = {3.0f, 4.0f};
    hf_dp_clip(u, 2, 10.0);
    CU_ASSERT(u[0] == 3.0f && u[1] == 4.0f);
    hf_dp_clip(u, 2, 1.0);
    CU_ASSERT_DOUBLE_EQUAL(u[0], 0.6, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(u[1], 0.8, 1e-7);
    float z[3] = {0, 0, 0};
    hf_dp_clip(z, 3, 1.0);
    CU_ASSERT(z[0] == 0 && z[1] == 0 && z[2] == 0);
}

/* the attack's figures, by hand: members {0.1, 0.2, 0.3}, non-members {0.25, 0.5, 0.6, 0.05}:
 * member/non-member pairs with the member's loss lower: 3 + 3 + 2 of 12; thresholds
 * τ = 0.3 give TPR 1, FPR 2/4 → balanced accuracy 0.75 (the best); no threshold with
 * FPR <= 1 % catches a member (0.05 is a non-member) → TPR 0 */
static void test_mia_figures(void)
{
    const float in[3] = {0.3f, 0.1f, 0.2f}, out[4] = {0.25f, 0.5f, 0.6f, 0.05f};
    double auc, bacc, tpr;
    hf_mia_figures(in, 3, out, 4, &auc, &bacc, &tpr);
    CU_ASSERT_DOUBLE_EQUAL(auc, 8.0 / 12.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(bacc, 0.75, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(tpr, 0.0, 1e-12);
    const float sep_in[2] = {0.1f, 0.2f}, sep_out[3] = {0.3f, 0.4f, 0.9f};
    hf_mia_figures(sep_in, 2, sep_out, 3, &auc, &bacc, &tpr);
    CU_ASSERT(auc == 1.0 && bacc == 1.0 && tpr == 1.0);
    const float tie_in[2] = {1.0f, 1.0f}, tie_out[1] = {1.0f};  /* ties count half */
    hf_mia_figures(tie_in, 2, tie_out, 1, &auc, &bacc, &tpr);
    CU_ASSERT_DOUBLE_EQUAL(auc, 0.5, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(bacc, 0.5, 1e-12);
}


/* the logistic regression of the attribute tests: 2 features, 2 classes, 6 parameters */
static int logreg_2x2(hf_model_t *m)
{
    hf_model_cfg_t c;
    memset(&c, 0, sizeof c);
    c.arch = HF_ARCH_LOGREG;
    c.in_c = c.in_h = 1;
    c.in_w = 2;
    c.n_classes = 2;
    return hf_model_init(m, &c);
}

/* The attribute attack by hand: logistic regression, 2 features, 2 classes,
 * logit_0 = 2 x_0, logit_1 = x_1 (params W = [[2, 0], [0, 1]], b = 0), the
 * attribute feature 0.  score = loss(x_0 = 1) − loss(x_0 = 0), with
 * loss = log(1 + e^(other logit − own logit)):
 *   A (1, 0.5) y 0: log(1+e^-1.5) − log(1+e^0.5) < 0 → 1, truth 1: right
 *   B (1, −1)  y 1: log(1+e^3) − log(1+e^1)     > 0 → 0, truth 1: wrong
 *   C (0, 2)   y 1: log 2 − log(1+e^-2)          > 0 → 0, truth 0: right
 *   D (0, 0)   y 0: log(1+e^-2) − log 2          < 0 → 1, truth 0: wrong
 * A model that ignores feature 0 ties everywhere: every guess 0. */
static void test_aia_by_hand(void)
{
    hf_model_t m;
    CU_ASSERT_EQUAL_FATAL(logreg_2x2(&m), 0);
    hf_work_t *w = hf_work_new(&m, 4);
    const float params[6] = {2, 0, 0, 1, 0, 0}, blind[6] = {0, 0, 0, 1, 0, 0};
    const float xs[8] = {1, 0.5f, 1, -1, 0, 2, 0, 0};
    const int ys[4] = {0, 1, 1, 0};
    const double want[4] = {log1p(exp(-1.5)) - log1p(exp(0.5)), log1p(exp(3.0)) - log1p(exp(1.0)),
                            log(2.0) - log1p(exp(-2.0)), log1p(exp(-2.0)) - log(2.0)};
    float score[4], score2[4];
    CU_ASSERT_EQUAL(hf_aia_infer(&m, w, params, xs, ys, 4, 0, 4, score), 2);
    for (int i = 0; i < 4; i++) CU_ASSERT_DOUBLE_EQUAL(score[i], want[i], 1e-6);
    CU_ASSERT_EQUAL(hf_aia_infer(&m, w, params, xs, ys, 4, 0, 3, score2), 2);  /* chunks of 3, 1 */
    CU_ASSERT(memcmp(score, score2, sizeof score) == 0);
    CU_ASSERT_EQUAL(hf_aia_infer(&m, w, params, xs, ys, 2, 0, 4, score2), 1);  /* A, B only */
    CU_ASSERT_EQUAL(hf_aia_infer(&m, w, blind, xs, ys, 4, 0, 4, score), 2);    /* ties: 0 for C, D */
    for (int i = 0; i < 4; i++) CU_ASSERT(score[i] == 0.0f);
    const float x1[8] = {0, 1, 0, 0, 1, 1, 0, 1};  /* the attribute in feature 1 */
    const int y1[4] = {1, 0, 0, 1};
    /* logit_1 = x_1: y 1 prefers x_1 = 1, y 0 prefers 0: every guess = y; truth 1, 0, 1, 1:
     * right but the 3rd */
    CU_ASSERT_EQUAL(hf_aia_infer(&m, w, params, x1, y1, 4, 1, 4, score), 3);
    CU_ASSERT(score[0] < 0 && score[1] > 0 && score[2] > 0 && score[3] < 0);
    hf_work_free(w);
}

/* The combined attack on the same model and samples A-D, uploads 1 (params
 * above: z0 = 2 x0, z1 = x1) and 2 (z0 = −x0, z1 = x1).  Upload 2's scores:
 *   A (1, 0.5)  y 0: log(1+e^1.5) − log(1+e^0.5)   =  0.7273 → 0, truth 1: wrong
 *   B (1, −1)   y 1: log 2 − log(1+e^1)             = −0.6201 → 1, truth 1: right
 *   C (0, 2)    y 1: log(1+e^-3) − log(1+e^-2)      = −0.0783 → 1, truth 0: wrong
 *   D (0, 0)    y 0: log(1+e^1) − log 2              =  0.6201 → 0, truth 0: right
 * 2 right, as upload 1 alone.  Summed: A −0.0453 → 1 right, B 1.1152 → 0 wrong,
 * C 0.4879 → 0 right, D 0.0539 → 0 right: 3 right. */
static void test_aia_combined_by_hand(void)
{
    hf_model_t m;
    CU_ASSERT_EQUAL_FATAL(logreg_2x2(&m), 0);
    hf_work_t *w = hf_work_new(&m, 4);
    const float up1[6] = {2, 0, 0, 1, 0, 0}, up2[6] = {-1, 0, 0, 1, 0, 0};
    const float xs[8] = {1, 0.5f, 1, -1, 0, 2, 0, 0};
    const int ys[4] = {0, 1, 1, 0};
    const double s1[4] = {log1p(exp(-1.5)) - log1p(exp(0.5)), log1p(exp(3.0)) - log1p(exp(1.0)),
                          log(2.0) - log1p(exp(-2.0)), log1p(exp(-2.0)) - log(2.0)};
    const double s2[4] = {log1p(exp(1.5)) - log1p(exp(0.5)), log(2.0) - log1p(exp(1.0)),
                          log1p(exp(-3.0)) - log1p(exp(-2.0)), log1p(exp(1.0)) - log(2.0)};
    double sum[4] = {0, 0, 0, 0};
    float score[4];
    CU_ASSERT_EQUAL(hf_aia_infer(&m, w, up1, xs, ys, 4, 0, 4, score), 2);
    CU_ASSERT_EQUAL(hf_aia_accumulate(sum, score, xs, 4, 2, 0), 2);  /* one upload: its own guesses */
    for (int i = 0; i < 4; i++) CU_ASSERT_DOUBLE_EQUAL(sum[i], s1[i], 1e-6);
    CU_ASSERT_EQUAL(hf_aia_infer(&m, w, up2, xs, ys, 4, 0, 4, score), 2);
    for (int i = 0; i < 4; i++) CU_ASSERT_DOUBLE_EQUAL(score[i], s2[i], 1e-6);
    CU_ASSERT_EQUAL(hf_aia_accumulate(sum, score, xs, 4, 2, 0), 3);
    for (int i = 0; i < 4; i++) {
        CU_ASSERT_DOUBLE_EQUAL(sum[i], s1[i] + s2[i], 1e-6);
        CU_ASSERT(score[i] == (float)sum[i]);  /* the combined score, for the AUC */
    }
    CU_ASSERT(sum[0] < 0 && sum[1] > 0 && sum[2] > 0 && sum[3] > 0);
    hf_work_free(w);
}

/* The reconstruction's fixed point by hand.  An affine local update u = U(x) =
 * A x + b on R², A = diag(0.5, 0.25), b = (1, 3): fixed point (2, 4).  Uploads
 * from x = (0, 0), (4, 0), (0, 8) give u = (1, 3), (3, 3), (1, 5), residuals
 * g = x − u = (−1, −3), (1, −3), (−1, 3); Σ α g = 0 with Σ α = 1 is solved by
 * α = (0, 1/2, 1/2) (G is singular: the ridge picks the null direction), and
 * Σ α u = (2, 4), U's exact fixed point.  Orthogonal residuals g = (1, 0),
 * (0, 2) weigh the uploads by 1/|g|²: α = (4/5, 1/5).  On a line, U(x) = x/2 + 1
 * from x = 0 and 4 (u = 1, 3): the secant's root, α = (1/2, 1/2), x* = 2.  One
 * upload is its own estimate; uploads equal to their starts (no residual) give
 * the latest. */
static void test_aia_fixed_point_by_hand(void)
{
    const float x1[2] = {0, 0}, x2[2] = {4, 0}, x3[2] = {0, 8}, u1[2] = {1, 3}, u2[2] = {3, 3}, u3[2] = {1, 5};
    const float *xs[3] = {x1, x2, x3}, *ups[3] = {u1, u2, u3};
    float out[2];
    double alpha[3];
    hf_aia_fixed_point(xs, ups, 3, 2, out, alpha);
    CU_ASSERT_DOUBLE_EQUAL(alpha[0], 0.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(alpha[1], 0.5, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(alpha[2], 0.5, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(out[0], 2.0, 1e-5);
    CU_ASSERT_DOUBLE_EQUAL(out[1], 4.0, 1e-5);
    const float ox1[2] = {1, 0}, ox2[2] = {0, 2}, ou1[2] = {0, 0}, ou2[2] = {0, 0}, ov1[2] = {5, 10}, ov2[2] = {10, 20};
    const float *oxs[2] = {ox1, ox2}, *ous[2] = {ou1, ou2};
    hf_aia_fixed_point(oxs, ous, 2, 2, out, alpha);  /* residuals (1, 0), (0, 2); estimate 0 */
    CU_ASSERT_DOUBLE_EQUAL(alpha[0], 0.8, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(alpha[1], 0.2, 1e-6);
    const float ox1b[2] = {6, 10}, ox2b[2] = {10, 22}, *oxsb[2] = {ox1b, ox2b}, *ovs[2] = {ov1, ov2};
    hf_aia_fixed_point(oxsb, ovs, 2, 2, out, alpha);  /* the same residuals, uploads (5, 10), (10, 20) */
    CU_ASSERT_DOUBLE_EQUAL(out[0], 0.8 * 5 + 0.2 * 10, 1e-5);
    CU_ASSERT_DOUBLE_EQUAL(out[1], 0.8 * 10 + 0.2 * 20, 1e-5);
    const float l1[1] = {0}, l2[1] = {4}, lu1[1] = {1}, lu2[1] = {3}, *lxs[2] = {l1, l2}, *lus[2] = {lu1, lu2};
    hf_aia_fixed_point(lxs, lus, 2, 1, out, alpha);
    CU_ASSERT_DOUBLE_EQUAL(out[0], 2.0, 1e-6);
    hf_aia_fixed_point(lxs + 1, lus + 1, 1, 1, out, alpha);  /* one upload: u = 3 */
    CU_ASSERT(alpha[0] == 1.0 && out[0] == 3.0f);
    const float *same[2] = {lu1, lu2};
    hf_aia_fixed_point(same, lus, 2, 1, out, alpha);  /* g = 0: the latest upload */
    CU_ASSERT(alpha[0] == 0.0 && alpha[1] == 1.0 && out[0] == 3.0f);
}

static const hf_cu_test_t privacy_tests[] = {
    {"attribute attack: the reconstructed local optimum by hand", test_aia_fixed_point_by_hand, NULL},
    {"attribute attack: uploads combined, by hand", test_aia_combined_by_hand, NULL},
    {"membership attack: AUC, balanced accuracy, TPR at 1% FPR by hand", test_mia_figures, NULL},
    {"attribute attack: loss differences and guesses by hand", test_aia_by_hand, NULL},
    {"accountant: TensorFlow Privacy's published epsilons within 1%", test_published, NULL},
    {"accountant: closed forms, integer and fractional orders", test_closed_forms, NULL},
    {"dpfedavg: clipping to the L2 norm", test_clip, NULL},
    {0},
};
static const hf_cu_suite_t suites[] = {{"privacy", privacy_tests, NULL, NULL}, {0}};

int main(int argc, char **argv) { return hf_cu_main(&argc, &argv, 0, suites); }
