/*
 * test_personal.c — per-client evaluation and Ditto against values computed
 * by hand: the per-client test split (hf_partition_holdout), the /rounds
 * summaries (hf_ceval_summary) over clients of unequal sizes, Ditto's
 * proximal gradient (hf_ditto_grad) and sparse state, FedEM's E-step and
 * π update (hf_fedem_estep) on two clients of 3 and 1 samples, its mixture
 * predictor (hf_fedem_predict), the kernels' per-sample loss weights, and
 * kNN-Per's neighbour distribution on a hand-made datastore (hf_knn_probs).
 */
#include "cunit_main.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "conf.h"
#include "data.h"
#include "evaluate.h"
#include "options.h"
#include "run.h"
#include "strategy.h"

/* three clients of 10, 5 and 1 samples (ids 100..115) */
static void three_clients(hf_partition_t *p)
{
    p->nclients = 3;
    p->off = calloc(4, sizeof(long));
    p->idx = calloc(16, sizeof(long));
    p->off[1] = 10; p->off[2] = 15; p->off[3] = 16;
    for (int i = 0; i < 16; i++) p->idx[i] = 100 + i;
}

static void test_holdout(void)
{
    hf_partition_t p, t;
    three_clients(&p);
    hf_partition_holdout(&p, 0.3, 7, &t);  /* h = ⌊3⌋ = 3, ⌊1.5⌋ = 1, ⌊0.3⌋ = 0 */
    long want_t[4] = {0, 3, 4, 4}, want_p[4] = {0, 7, 11, 12};
    for (int k = 0; k <= 3; k++) {
        CU_ASSERT_EQUAL(t.off[k], want_t[k]);
        CU_ASSERT_EQUAL(p.off[k], want_p[k]);
    }
    /* every sample once, in each client's own order, none across clients */
    int seen[16] = {0};
    for (int k = 0; k < 3; k++) {
        long lo = k == 0 ? 100 : k == 1 ? 110 : 115, hi = k == 0 ? 110 : k == 1 ? 115 : 116;
        for (long i = p.off[k]; i < p.off[k + 1]; i++) {
            CU_ASSERT(p.idx[i] >= lo && p.idx[i] < hi);
            if (i > p.off[k]) CU_ASSERT(p.idx[i] > p.idx[i - 1]);
            seen[p.idx[i] - 100]++;
        }
        for (long i = t.off[k]; i < t.off[k + 1]; i++) {
            CU_ASSERT(t.idx[i] >= lo && t.idx[i] < hi);
            if (i > t.off[k]) CU_ASSERT(t.idx[i] > t.idx[i - 1]);
            seen[t.idx[i] - 100]++;
        }
    }
    for (int i = 0; i < 16; i++) CU_ASSERT_EQUAL(seen[i], 1);
    CU_ASSERT_EQUAL(p.idx[11], 115);  /* the one-sample client keeps its sample */
    /* client 1's split depends on its key only: alone in a partition of 2 clients
     * whose client 0 differs, it loses the same position (its idx 110 + j ↔ 200 + j) */
    hf_partition_t q = {.nclients = 2}, u;
    q.off = calloc(3, sizeof(long));
    q.idx = calloc(7, sizeof(long));
    q.off[1] = 2; q.off[2] = 7;
    for (int i = 0; i < 7; i++) q.idx[i] = i < 2 ? i : 200 + (i - 2);
    hf_partition_holdout(&q, 0.3, 7, &u);
    CU_ASSERT_EQUAL(u.off[2] - u.off[1], 1);
    CU_ASSERT_EQUAL(u.idx[u.off[1]] - 200, t.idx[t.off[1]] - 110);
    /* another seed draws other positions for client 0 (3 of 10: 120 subsets) */
    hf_partition_t r, v;
    three_clients(&r);
    hf_partition_holdout(&r, 0.3, 8, &v);
    CU_ASSERT(memcmp(v.idx, t.idx, 3 * sizeof(long)) != 0);
    /* the count: ⌊f n⌋, at most n − 1 */
    CU_ASSERT_EQUAL(hf_partition_holdout_count(2, 0.9), 1);
    CU_ASSERT_EQUAL(hf_partition_holdout_count(1, 0.9), 0);
    CU_ASSERT_EQUAL(hf_partition_holdout_count(10, 0.25), 2);
    CU_ASSERT_EQUAL(hf_partition_holdout_count(0, 0.5), 0);
    hf_partition_free(&p); hf_partition_free(&t); hf_partition_free(&q); hf_partition_free(&u);
    hf_partition_free(&r); hf_partition_free(&v);
}

static void test_summary(void)
{
    /* five clients, one without a split: accuracies 2/4, 1/1, 2/8, −, 4/5 */
    const double acc[5] = {0.5, 1.0, 0.25, NAN, 0.8};
    const int64_t ns[5] = {4, 1, 8, 0, 5}, nc[5] = {2, 1, 2, 0, 4};
    double s[4];
    hf_ceval_summary(acc, ns, nc, 5, s);
    CU_ASSERT_DOUBLE_EQUAL(s[0], (0.5 + 1.0 + 0.25 + 0.8) / 4, 1e-15);  /* 0.6375 */
    CU_ASSERT_DOUBLE_EQUAL(s[1], 9.0 / 18.0, 1e-15);                    /* not the mean */
    CU_ASSERT_DOUBLE_EQUAL(s[2], 0.25, 0);  /* ⌈0.4⌉ = 1st smallest */
    CU_ASSERT_DOUBLE_EQUAL(s[3], 0.25, 0);
    /* eleven clients 0.0, 0.1, …, 1.0 given in reverse: p10 = ⌈1.1⌉ = 2nd smallest */
    double a[11];
    int64_t n1[11], c1[11];
    for (int i = 0; i < 11; i++) { a[i] = (10 - i) / 10.0; n1[i] = 10; c1[i] = 10 - i; }
    hf_ceval_summary(a, n1, c1, 11, s);
    CU_ASSERT_DOUBLE_EQUAL(s[2], 0.1, 0);
    CU_ASSERT_DOUBLE_EQUAL(s[3], 0.0, 0);
    CU_ASSERT_DOUBLE_EQUAL(s[1], 55.0 / 110.0, 1e-15);
    /* ten clients: ⌈1.0⌉ = the smallest */
    hf_ceval_summary(a, n1, c1, 10, s);
    CU_ASSERT_DOUBLE_EQUAL(s[2], 0.1, 0);
    /* nobody with a split: NaN */
    const int64_t z[2] = {0, 0};
    hf_ceval_summary(acc, z, z, 2, s);
    CU_ASSERT(isnan(s[0]) && isnan(s[1]) && isnan(s[2]) && isnan(s[3]));
}

static void test_ditto(void)
{
    static hf_conf_t conf;
    static hf_params_t p;
    static long off[3] = {0, 2, 8};
    memset(&p, 0, sizeof p);
    snprintf(p.strategy, sizeof p.strategy, "ditto");
    p.lr = 0.1f;
    CU_ASSERT_EQUAL_FATAL(hf_conf_load_string(&conf, "[federation]\nstrategy = ditto\n[ditto]\nlambda = 0.5\n",
                                              "t.conf", hf_options_table(), NULL, 0, -1), 0);
    static hf_run_t x;
    float w[2] = {1.0f, -2.0f};
    x.global = w;
    hf_strat_t s;
    CU_ASSERT_EQUAL_FATAL(hf_strat_init(&s, &p, &conf, &x, 2, 2, off, 0, 2, MPI_COMM_WORLD), 0);
    CU_ASSERT_FALSE(s.grad_active);  /* FedAvg's training of the global model */
    CU_ASSERT_EQUAL(hf_strat_state_bytes(&s), 0);
    CU_ASSERT_PTR_NULL(s.st->personal_model(&s, 1));  /* no personal model yet: the global one */
    /* g' = (g + λ (v − w)) / (1 + η λ), η λ = 0.05 */
    const float v[2] = {3.0f, 0.0f};
    float g[2] = {0.5f, 0.25f};
    s.st->grad_hook(&s, 0, v, v, g);
    CU_ASSERT_DOUBLE_EQUAL(g[0], 1.5 / 1.05, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(g[1], 1.25 / 1.05, 1e-6);
    /* the step v − η g' is the proximal step (v − η g + η λ w) / (1 + η λ) */
    CU_ASSERT_DOUBLE_EQUAL(v[0] - 0.1 * g[0], (3.0 - 0.05 + 0.05 * 1.0) / 1.05, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(v[1] - 0.1 * g[1], (0.0 - 0.025 + 0.05 * -2.0) / 1.05, 1e-6);
    hf_strat_free(&s);
}

/* −log p as float, the form the E-step receives */
static float nlog(double p) { return (float)-log(p); }

static void test_fedem_estep(void)
{
    /* client A, 3 samples, π = (0.25, 0.75); p_m(y|x) per sample:
     * (0.8, 0.2) → π p = (0.2, 0.15) → q = (4/7, 3/7)
     * (0.1, 0.3) → (0.025, 0.225) → q = (0.1, 0.9)
     * (0.5, 0.5) → (0.125, 0.375) → q = (0.25, 0.75)
     * π ← (4/7 + 0.1 + 0.25, 3/7 + 0.9 + 0.75) / 3 */
    float la[6] = {nlog(0.8), nlog(0.2), nlog(0.1), nlog(0.3), nlog(0.5), nlog(0.5)};
    float pa[2] = {0.25f, 0.75f}, qa[6];
    hf_fedem_estep(la, 3, 2, pa, qa);
    const double wq[6] = {4.0 / 7, 0.1, 0.25, 3.0 / 7, 0.9, 0.75};  /* q[m·n + i] */
    for (int j = 0; j < 6; j++) CU_ASSERT_DOUBLE_EQUAL(qa[j], wq[j], 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(pa[0], (4.0 / 7 + 0.35) / 3, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(pa[1], (3.0 / 7 + 1.65) / 3, 1e-6);
    /* client B, 1 sample, π = (0.5, 0.5), p = (0.6, 0.2): q = π = (0.75, 0.25) */
    float lb[2] = {nlog(0.6), nlog(0.2)}, pb[2] = {0.5f, 0.5f}, qb[2];
    hf_fedem_estep(lb, 1, 2, pb, qb);
    CU_ASSERT_DOUBLE_EQUAL(qb[0], 0.75, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(qb[1], 0.25, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(pb[0], 0.75, 1e-6);
    /* a component with π = 0 stays at 0; large losses do not underflow */
    float lc[4] = {1000.0f, 1001.0f, 2000.0f, 0.0f}, pc[2] = {1.0f, 0.0f}, qc[4];
    hf_fedem_estep(lc, 2, 2, pc, qc);
    CU_ASSERT_EQUAL(qc[0], 1.0f);
    CU_ASSERT_EQUAL(qc[1], 1.0f);
    CU_ASSERT_EQUAL(qc[2], 0.0f);
    CU_ASSERT_EQUAL(pc[1], 0.0f);
    /* M = 1: every responsibility and π exactly 1 (FedEM = FedAvg) */
    float l1[3] = {0.3f, 7.0f, 80.0f}, p1[1] = {1.0f}, q1[3];
    hf_fedem_estep(l1, 3, 1, p1, q1);
    CU_ASSERT(q1[0] == 1.0f && q1[1] == 1.0f && q1[2] == 1.0f && p1[0] == 1.0f);
}

static void test_fedem_predict(void)
{
    /* C = 3, B = 2.  Component 1 on sample 0: logits (0, 0, ln 2) → (1/4, 1/4, 1/2);
     * component 2: (ln 3, 0, 0) → (3/5, 1/5, 1/5).  Sample 1: both all zero (1/3 each). */
    float lg[12] = {0, 0, (float)log(2.0), 0, 0, 0, (float)log(3.0), 0, 0, 0, 0, 0};
    const int y[2] = {0, 1};
    /* π = (1/2, 1/2): sample 0 mixes to (0.425, 0.225, 0.35): class 0, right, loss −ln 0.425;
     * sample 1: a three-way tie, the lowest class (0) ≠ 1: wrong, loss ln 3 */
    float pe[2] = {0.5f, 0.5f};
    int64_t sums[2] = {0, 0};
    hf_fedem_predict(lg, pe, 2, 2, 3, y, sums);
    CU_ASSERT_EQUAL(sums[0], 1);
    CU_ASSERT_DOUBLE_EQUAL(sums[1] / HF_LOSS_SCALE, -log(0.425) + log(3.0), 1e-6);
    /* π = (0.9, 0.1): sample 0 mixes to (0.285, 0.245, 0.47): class 2, wrong, loss −ln 0.285 */
    float pn[2] = {0.9f, 0.1f}, l1[6] = {0, 0, (float)log(2.0), (float)log(3.0), 0, 0};  /* B = 1 */
    int64_t s2[2] = {0, 0};
    hf_fedem_predict(l1, pn, 2, 1, 3, y, s2);
    CU_ASSERT_EQUAL(s2[0], 0);
    CU_ASSERT_DOUBLE_EQUAL(s2[1] / HF_LOSS_SCALE, -log(0.9 * 0.25 + 0.1 * 0.6), 1e-6);
}

/* hf_work_sample_weights: weights (2, 0) on samples (a, b) = the step on a alone;
 * weights (1, 1) = no weights, bit for bit; the loss returned stays unweighted */
static void test_sample_weights(void)
{
    hf_model_cfg_t cfg = {.arch = HF_ARCH_MLP, .in_c = 1, .in_h = 1, .in_w = 3, .n_classes = 3, .nhidden = 1,
                          .hidden = {4}};
    hf_model_t m;
    CU_ASSERT_EQUAL_FATAL(hf_model_init(&m, &cfg), 0);
    hf_work_t *w = hf_work_new(&m, 2);
    float *p = calloc((size_t)m.nparams, sizeof(float)), *g1 = calloc((size_t)m.nparams, sizeof(float)),
          *g2 = calloc((size_t)m.nparams, sizeof(float)), *g3 = calloc((size_t)m.nparams, sizeof(float));
    hf_model_init_params(&m, p, 11);
    const float x[6] = {0.5f, -1.0f, 2.0f, 1.5f, 0.25f, -0.75f};
    const int y[2] = {2, 0};
    float l0 = hf_model_train_step_grad(&m, w, p, g1, x, y, 2);
    const float q11[2] = {1.0f, 1.0f}, q20[2] = {2.0f, 0.0f};
    hf_work_sample_weights(w, q11);
    float l1 = hf_model_train_step_grad(&m, w, p, g2, x, y, 2);
    CU_ASSERT_EQUAL(l1, l0);
    CU_ASSERT_EQUAL(memcmp(g1, g2, (size_t)m.nparams * sizeof(float)), 0);
    hf_work_sample_weights(w, q20);
    CU_ASSERT_EQUAL(hf_model_train_step_grad(&m, w, p, g2, x, y, 2), l0);
    hf_work_sample_weights(w, NULL);
    hf_model_train_step_grad(&m, w, p, g3, x, y, 1);
    int differs = 0;
    for (long j = 0; j < m.nparams; j++) {
        CU_ASSERT_DOUBLE_EQUAL(g2[j], g3[j], 1e-6);
        differs |= fabsf(g1[j] - g3[j]) > 1e-4f;
    }
    CU_ASSERT(differs);  /* sample b counts in the unweighted step */
    free(p); free(g1); free(g2); free(g3);
    hf_work_free(w);
}

/* kNN over a hand-made datastore of 6 keys (D = 2, C = 3): query (0, 0), k = 3 */
static void test_knn_probs(void)
{
    const float keys[12] = {0, 0, 1, 0, 0, 1, -1, 0, 3, 3, 0, -1};
    const int labels[6] = {0, 1, 2, 1, 0, 0};
    const float q[2] = {0, 0};
    long nb[10];
    double nd[10], p[3];
    /* d² = 0, 1, 1, 1, 18, 1: the nearest 3 are keys 0, 1, 2 (the tie at 1 goes to the
     * keys stored first), weights exp(−d²/(D·scale)) = 1, e^−½, e^−½ */
    hf_knn_probs(keys, labels, 6, 2, q, 3, 1.0, 3, nb, nd, p);
    double e = exp(-0.5), z = 1 + 2 * e;
    CU_ASSERT_EQUAL(nb[0], 0);
    CU_ASSERT_EQUAL(nb[1], 1);
    CU_ASSERT_EQUAL(nb[2], 2);
    CU_ASSERT_DOUBLE_EQUAL(p[0], 1 / z, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(p[1], e / z, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(p[2], e / z, 1e-12);
    /* scale 4 (D·scale = 8), query (1, 0): d² = 1, 0, 2, 4, 13, 2 → keys 1, 0, 2 (tie with 5) */
    const float q2[2] = {1, 0};
    hf_knn_probs(keys, labels, 6, 2, q2, 3, 4.0, 3, nb, nd, p);
    double w0 = exp(-1.0 / 8), w2 = exp(-2.0 / 8), z2 = 1 + w0 + w2;
    CU_ASSERT_DOUBLE_EQUAL(p[0], w0 / z2, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(p[1], 1 / z2, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(p[2], w2 / z2, 1e-12);
    /* k beyond the datastore: all of it (keys 4, 5 only: labels 0, 0) */
    hf_knn_probs(keys + 8, labels + 4, 2, 2, q, 10, 1.0, 3, nb, nd, p);
    CU_ASSERT_DOUBLE_EQUAL(p[0], 1.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(p[1] + p[2], 0.0, 0);
    /* an empty datastore: all zero */
    hf_knn_probs(keys, labels, 0, 2, q, 3, 1.0, 3, nb, nd, p);
    CU_ASSERT(p[0] == 0 && p[1] == 0 && p[2] == 0);
}

static const hf_cu_test_t personal_tests[] = {
    {"per-client test split", test_holdout, NULL},
    {"summaries: mean, weighted mean, nearest-rank p10, min", test_summary, NULL},
    {"ditto: proximal gradient, sparse state", test_ditto, NULL},
    {"fedem: E-step responsibilities and pi update", test_fedem_estep, NULL},
    {"fedem: the mixture predictor", test_fedem_predict, NULL},
    {"per-sample loss weights of the training step", test_sample_weights, NULL},
    {"knnper: neighbours, kernel, ties to the earlier key", test_knn_probs, NULL},
    {0}};
static const hf_cu_suite_t suites[] = {{"personal", personal_tests, NULL, NULL}, {0}};
int main(int argc, char **argv) { return hf_cu_main(&argc, &argv, HF_CU_MPI, suites); }
