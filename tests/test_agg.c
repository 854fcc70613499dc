/* test_agg.c — exact aggregation: order independence, accuracy, scales (one rank;
 * multi-rank and topology equality are checked end to end by tests/determinism.sh). */
#include "agg.h"
#include "hf_util.h"
#include "rng.h"
#include <CUnit/Basic.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N 5000
#define M 24

static float upd[M][N];
static double w[M];

static void fill(void)
{
    hf_rng_t r;
    hf_rng_init(&r, 5, HF_RNG_TEST, 0, 0);
    for (int k = 0; k < M; k++) {
        w[k] = (double)(50 + hf_rng_below(&r, 600));
        for (int j = 0; j < N; j++) {
            /* tensor 0: ordinary values; tensor 1 (j >= N/2): magnitudes spanning 1e-8..1e2 */
            double mag = j < N / 2 ? 1e-2 : pow(10.0, -8.0 + 10.0 * hf_rng_uniform(&r));
            upd[k][j] = (float)(mag * hf_rng_normal(&r));
        }
    }
}

static void run_order(const int *order, int exact, float *out)
{
    long toff[3] = {0, N / 2, N};
    hf_agg_t *a = hf_agg_new(N, 2, toff, exact, HF_TOPO_ALLREDUCE, MPI_COMM_SELF);
    double ws = 0;
    for (int k = 0; k < M; k++) ws += w[k];
    hf_agg_begin(a);
    for (int i = 0; i < M; i++) hf_agg_add(a, w[order[i]], upd[order[i]]);
    long n = hf_agg_finish(a, ws, out);
    CU_ASSERT_EQUAL(n, M);
    hf_agg_free(a);
}

static void test_scale_exp(void)
{
    CU_ASSERT_EQUAL(hf_agg_scale_exp(1.0, 10), 62 - 1 - 4);
    CU_ASSERT_EQUAL(hf_agg_scale_exp(0.75, 1), 62 - 0 - 1);
    CU_ASSERT_EQUAL(hf_agg_scale_exp(0.0, 3), 62 - 0 - 2);
    /* the bound: m * maxabs * 2^s < 2^62 for many magnitudes and counts */
    double mags[5] = {1e-30, 3e-7, 0.5, 1.0, 6e4};
    long ms[4] = {1, 7, 1000, 100000};
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 4; j++) {
            int s = hf_agg_scale_exp(mags[i], ms[j]);
            CU_ASSERT(ldexp((double)ms[j] * mags[i], s) < ldexp(1.0, 62));
            CU_ASSERT(ldexp((double)ms[j] * mags[i], s) >= ldexp(1.0, 62 - 2 - (int)ceil(log2((double)ms[j] + 1))));
        }
}

static void test_order_independent(void)
{
    fill();
    int ord1[M], ord2[M];
    for (int i = 0; i < M; i++) { ord1[i] = i; ord2[i] = M - 1 - i; }
    hf_rng_t r;
    hf_rng_init(&r, 6, HF_RNG_TEST, 0, 0);
    int ord3[M];
    hf_rng_permutation(&r, M, ord3);
    static float a[N], b[N], c[N];
    run_order(ord1, 1, a);
    run_order(ord2, 1, b);
    run_order(ord3, 1, c);
    CU_ASSERT(memcmp(a, b, sizeof a) == 0);
    CU_ASSERT(memcmp(a, c, sizeof a) == 0);
    /* float mode is allowed to differ; it must still be close */
    static float f[N];
    run_order(ord3, 0, f);
    double maxrel = 0;
    for (int j = 0; j < N / 2; j++) {
        double rel = fabs(f[j] - a[j]) / (fabs(a[j]) + 1e-6);
        if (rel > maxrel) maxrel = rel;
    }
    CU_ASSERT(maxrel < 1e-3);
}

static void test_accuracy(void)
{
    fill();
    int ord[M];
    for (int i = 0; i < M; i++) ord[i] = i;
    static float a[N];
    run_order(ord, 1, a);
    double ws = 0;
    for (int k = 0; k < M; k++) ws += w[k];
    int bad0 = 0, bad1 = 0;
    for (int j = 0; j < N; j++) {
        long double ref = 0;
        for (int k = 0; k < M; k++) ref += (long double)w[k] * upd[k][j];
        double r = (double)(ref / ws);
        float rf = (float)r;
        /* exact mode: correctly rounded to float, up to one ulp, for ordinary values */
        if (j < N / 2) {
            if (fabsf(a[j] - rf) > fabsf(rf) * 1.2e-7f) bad0++;
        } else {
            /* wide magnitudes: absolute error bounded by m * 2^(e-62+h) of the tensor max */
            if (fabs((double)a[j] - r) > 1e-14 + fabs(r) * 2.4e-7) bad1++;
        }
    }
    CU_ASSERT_EQUAL(bad0, 0);
    CU_ASSERT_EQUAL(bad1, 0);
}

static void test_empty_and_single(void)
{
    long toff[2] = {0, 8};
    float d[8] = {1, -2, 3, -4, 0.5f, 0.25f, 0, 1e-3f}, out[8];
    hf_agg_t *a = hf_agg_new(8, 1, toff, 1, HF_TOPO_RANK0, MPI_COMM_SELF);
    hf_agg_begin(a);
    memset(out, 0x7f, sizeof out);
    CU_ASSERT_EQUAL(hf_agg_finish(a, 0.0, out), 0);
    for (int j = 0; j < 8; j++) CU_ASSERT_EQUAL(out[j], 0.0f);
    hf_agg_begin(a);
    hf_agg_add(a, 3.0, d);
    CU_ASSERT_EQUAL(hf_agg_finish(a, 3.0, out), 1);
    for (int j = 0; j < 8; j++) CU_ASSERT_EQUAL(out[j], d[j]);  /* one client: its update, exactly */
    hf_agg_free(a);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite("agg", NULL, NULL);
    CU_add_test(s, "fixed-point scale exponents", test_scale_exp);
    CU_add_test(s, "exact sums are order independent", test_order_independent);
    CU_add_test(s, "exact sums are accurate", test_accuracy);
    CU_add_test(s, "empty round and single client", test_empty_and_single);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    MPI_Finalize();
    return fails ? 1 : 0;
}
