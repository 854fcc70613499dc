/*
 * test_fjord.c — FjORD's self-distillation step (src/strategies/hetero.c,
 * hf_hetero_train with fjord.kd = yes) against finite differences.
 *
 * A tiny MLP 3-4-3, widths {0.5, 1}, one client of tier p_max = 1 whose
 * minibatches always train the width-0.5 student (fjord.pmax_prob = 0), one
 * minibatch of B = 3 samples, plain SGD (lr 0.1, no momentum).  The step must be
 *     w ← w − lr ∇_w [ mean_b CE(f_1(x_b; w), y_b)
 *                      + mean_b CE(f_0.5(x_b; w), softmax(f_1(x_b; w0))) ]
 * with the teacher's softmax at temperature 1 held fixed (not differentiated).
 * The gradient is the central finite difference, in double precision, of that
 * loss written here from the MLP's formula (z = W2 relu(W1 x + b1) + b2; the
 * width-0.5 student uses the first 2 of the 4 hidden units), not with the
 * library's kernels or slicing.  The same finite differences with the soft
 * target at temperature 2, or without the distillation term, are checked to be
 * far from the update (so a planted sampled-label target, a wrong temperature
 * or a dropped term fails).
 */
#include "cunit_main.h"
#include "conf.h"
#include "hetero.h"
#include "hf_util.h"
#include "options.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { D = 3, H = 4, C = 3, NB = 3 };

static const float X[NB][D] = {{1.0f, -0.5f, 2.0f}, {-1.5f, 0.8f, 0.3f}, {0.4f, 1.7f, -1.2f}};
static const int Y[NB] = {2, 0, 1};

/* Logits of the first `units` hidden units' MLP at parameters w (the layout of
 * the library's mlp: fc1.weight (H, D), fc1.bias, fc2.weight (C, H), fc2.bias). */
static void logits(const double *w, int units, const float *x, double *z)
{
    const double *W1 = w, *b1 = w + H * D, *W2 = b1 + H, *b2 = W2 + C * H;
    double a[H];
    for (int j = 0; j < units; j++) {
        double s = b1[j];
        for (int i = 0; i < D; i++) s += W1[j * D + i] * x[i];
        a[j] = s > 0 ? s : 0;
    }
    for (int c = 0; c < C; c++) {
        z[c] = b2[c];
        for (int j = 0; j < units; j++) z[c] += W2[c * H + j] * a[j];
    }
}

static void softmax_T(const double *z, double T, double *p)
{
    double mx = z[0], s = 0;
    for (int c = 1; c < C; c++) mx = fmax(mx, z[c]);
    for (int c = 0; c < C; c++) s += (p[c] = exp((z[c] - mx) / T));
    for (int c = 0; c < C; c++) p[c] /= s;
}

/* The loss whose gradient the step takes: hard-label CE of the full model plus
 * (kd) the soft CE of the student against the fixed targets q, both at
 * temperature T (the KD term's gradient w.r.t. the student's logits is then
 * (softmax(z/T) − q)/T, as hf_model_train_step_soft's). */
static double loss(const double *w, const double (*q)[C], int kd, double T)
{
    double L = 0, z[C], p[C];
    for (int b = 0; b < NB; b++) {
        logits(w, H, X[b], z);
        softmax_T(z, 1, p);
        L -= log(p[Y[b]]) / NB;
        if (!kd) continue;
        logits(w, H / 2, X[b], z);
        softmax_T(z, T, p);
        for (int c = 0; c < C; c++) L -= q[b][c] * log(p[c]) / NB;
    }
    return L;
}

/* Central finite differences of loss() at w0 (targets from w0 at temperature T). */
static void fd_grad(const double *w0, long P, int kd, double T, double *g)
{
    double q[NB][C], z[C];
    for (int b = 0; b < NB; b++) {
        logits(w0, H, X[b], z);
        softmax_T(z, T, q[b]);
    }
    double *w = malloc((size_t)P * sizeof *w);
    memcpy(w, w0, (size_t)P * sizeof *w);
    const double h = 1e-5;
    for (long j = 0; j < P; j++) {
        w[j] = w0[j] + h;
        double up = loss(w, (const double (*)[C])q, kd, T);
        w[j] = w0[j] - h;
        double dn = loss(w, (const double (*)[C])q, kd, T);
        w[j] = w0[j];
        g[j] = (up - dn) / (2 * h);
    }
    free(w);
}

static void test_kd_step_finite_differences(void)
{
    hf_conf_t conf = {0};
    const char *text = "[model]\narch = mlp\nhidden = 4\n"
                       "[federation]\nstrategy = fjord\nclients = 1\nclients_per_round = 1\nbatch_size = 3\n"
                       "lr = 0.1\nmomentum = 0\n"
                       "[fjord]\nwidths = 0.5,1.0\ntiers = 0,1\nkd = yes\npmax_prob = 0\n";
    CU_ASSERT_EQUAL_FATAL(hf_conf_load_string(&conf, text, "kd.conf", hf_options_table(), NULL, 0, -1), 0);
    static hf_params_t p;
    CU_ASSERT_EQUAL_FATAL(hf_params_from_conf(&p, &conf), 0);
    hf_model_cfg_t cfg = {.arch = HF_ARCH_MLP, .in_c = 1, .in_h = 1, .in_w = D, .n_classes = C,
                          .nhidden = 1, .hidden = {H}};
    hf_model_t m;
    CU_ASSERT_EQUAL_FATAL(hf_model_init(&m, &cfg), 0);
    long P = m.nparams;
    CU_ASSERT_EQUAL_FATAL(P, H * D + H + C * H + C);
    CU_ASSERT_EQUAL(m.tensors[0].shape[0], H);  /* fc1.weight (out, in) */
    CU_ASSERT_EQUAL(m.tensors[2].shape[0], C);
    float *w = hf_alloc_aligned((size_t)P * sizeof(float)), *delta = hf_alloc_aligned((size_t)P * sizeof(float));
    hf_model_init_params(&m, w, 7);
    for (long j = 0; j < P; j++) w[j] *= 3.0f;  /* sizeable logits: student and teacher far apart */
    float xs[NB * D], xb[NB * D];
    for (int b = 0; b < NB; b++) memcpy(xs + b * D, X[b], sizeof X[b]);
    int ys[NB], yb[NB], iperm[NB], dcls[1] = {0};
    memcpy(ys, Y, sizeof Y);
    long off[2] = {0, NB}, idx[NB] = {0, 1, 2};
    hf_het_data_t d = {.x = xs, .y = ys, .dim = D, .off = off, .idx = idx, .dcls = dcls};
    hf_hetero_t *h;
    CU_ASSERT_EQUAL_FATAL(hf_hetero_new(&h, &p, &conf, &m, 1, 1, &d), 0);
    int sel[1] = {0};
    hf_hetero_plan(h, 1, sel, 1);
    CU_ASSERT_DOUBLE_EQUAL(hf_hetero_width(h, 0), 1.0, 0);  /* tier p_max = 1 */
    hf_cplan_t cp = {.client = 0, .kept = 1, .epochs = 1, .steps = 1, .a = 1, .weight = NB};
    double tk = 0;
    hf_het_local_t r = hf_hetero_train(h, 0, 0, 1, w, &cp, delta, xb, yb, iperm, &tk);
    CU_ASSERT_EQUAL(r.steps, 1);

    double *w0 = malloc((size_t)P * sizeof *w0), *g = malloc((size_t)P * sizeof *g),
           *g2 = malloc((size_t)P * sizeof *g2), *g0 = malloc((size_t)P * sizeof *g0);
    for (long j = 0; j < P; j++) w0[j] = w[j];
    fd_grad(w0, P, 1, 1.0, g);
    fd_grad(w0, P, 1, 2.0, g2);
    fd_grad(w0, P, 0, 1.0, g0);
    double err = 0, far2 = 0, far0 = 0;
    for (long j = 0; j < P; j++) {
        err = fmax(err, fabs(delta[j] + 0.1 * g[j]));
        far2 = fmax(far2, fabs(0.1 * (g2[j] - g[j])));
        far0 = fmax(far0, fabs(0.1 * (g0[j] - g[j])));
    }
    printf("\n  max |Δ + lr g_fd| = %.3g; T = 2 moves it by %.3g, no KD term by %.3g\n", err, far2, far0);
    CU_ASSERT(err < 1e-6);
    CU_ASSERT(far2 > 100 * 1e-6);  /* the check tells T = 1 from T = 2 ... */
    CU_ASSERT(far0 > 100 * 1e-6);  /* ... and a step with the KD term from one without */
    hf_hetero_free(h);
    hf_conf_free(&conf);
    free(w); free(delta); free(w0); free(g); free(g2); free(g0);
}

static const hf_cu_test_t fjord_tests[] = {
    {"kd step = finite differences of CE + soft CE at T = 1", test_kd_step_finite_differences, NULL},
    {0},
};
static const hf_cu_suite_t suites[] = {{"fjord", fjord_tests, NULL, NULL}, {0}};
int main(int argc, char **argv) { return hf_cu_main(&argc, &argv, 0, suites); }
