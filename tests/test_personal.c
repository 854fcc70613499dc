/*
 * test_personal.c — per-client evaluation and Ditto against values computed
 * by hand: the per-client test split (hf_partition_holdout), the /rounds
 * summaries (hf_ceval_summary) over clients of unequal sizes, and Ditto's
 * proximal gradient (hf_ditto_grad) and sparse state.
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

static const hf_cu_test_t personal_tests[] = {
    {"per-client test split", test_holdout, NULL},
    {"summaries: mean, weighted mean, nearest-rank p10, min", test_summary, NULL},
    {"ditto: proximal gradient, sparse state", test_ditto, NULL},
    {0}};
static const hf_cu_suite_t suites[] = {{"personal", personal_tests, NULL, NULL}, {0}};
int main(int argc, char **argv) { return hf_cu_main(&argc, &argv, HF_CU_MPI, suites); }
