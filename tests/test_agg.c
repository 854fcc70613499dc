/* test_agg.c — exact aggregation: order independence, accuracy, scales (one rank;
 * multi-rank and topology equality are checked end to end by tests/determinism.sh). */
#include "agg.h"
#include "hf_util.h"
#include "rng.h"
#include "cunit_main.h"
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
    CU_ASSERT_EQUAL(hf_agg_headroom(1), 1);
    CU_ASSERT_EQUAL(hf_agg_headroom(3), 2);
    CU_ASSERT_EQUAL(hf_agg_headroom(127), 7);
    CU_ASSERT_EQUAL(hf_agg_headroom(128), 8);
    CU_ASSERT_EQUAL(hf_agg_scale_exp(1.0, 10, 63), 63 - 1 - 4);
    CU_ASSERT_EQUAL(hf_agg_scale_exp(0.75, 1, 31), 31 - 0 - 1);
    CU_ASSERT_EQUAL(hf_agg_scale_exp(0.0, 3, 31), 0);
    /* the bound: m values each rounded from |v| < 2^e fit: m * 2^(B-h) < 2^B */
    double mags[5] = {1e-30, 3e-7, 0.5, 1.0, 6e4};
    long ms[4] = {1, 7, 127, 100000};
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 4; j++) {
            int bits = ms[j] <= HF_AGG_INT32_MAX_M ? 31 : 63;
            int s = hf_agg_scale_exp(mags[i], ms[j], bits);
            double q = nearbyint(ldexp(mags[i], s));
            CU_ASSERT(q * (double)ms[j] < ldexp(1.0, bits));
            /* and the scale is not wasteful: the largest value uses >= B-h-1 bits */
            CU_ASSERT(q >= ldexp(1.0, bits - hf_agg_headroom(ms[j]) - 1));
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
    double maxerr = 0, maxval = 0;
    for (int j = 0; j < N / 2; j++) {
        maxerr = fmax(maxerr, fabs(f[j] - a[j]));
        maxval = fmax(maxval, fabs(a[j]));
    }
    printf("\n  float vs exact: max abs difference %.3g, max value %.3g\n", maxerr, maxval);
    CU_ASSERT(maxerr < 1e-5 * maxval);
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
    /* the documented bound: per value, |error| <= m * 2^(e_b - B + h - 1) / Σw
     * (fixed-point rounding of each contribution, e_b from the block maximum)
     * + float rounding of each weighted contribution and of the result */
    int bad = 0, near = 0;
    long starts[N / HF_AGG_BLOCK + 4], nb = 0;
    for (long j = 0; j < N / 2; j += HF_AGG_BLOCK) starts[nb++] = j;
    for (long j = N / 2; j < N; j += HF_AGG_BLOCK) starts[nb++] = j;
    starts[nb] = N;
    for (long b = 0; b < nb; b++) {
        long j0 = starts[b], j1 = starts[b + 1];
        double bmax = 0;
        for (int k = 0; k < M; k++)
            for (long j = j0; j < j1; j++) bmax = fmax(bmax, fabs((double)(float)(w[k] * upd[k][j])));
        int e;
        frexp(bmax, &e);
        double qerr = M * ldexp(1.0, e - 31 + hf_agg_headroom(M) - 1) / ws;
        for (long j = j0; j < j1; j++) {
            long double ref = 0, absum = 0;
            for (int k = 0; k < M; k++) {
                ref += (long double)w[k] * upd[k][j];
                absum += fabsl((long double)w[k] * upd[k][j]);
            }
            double r = (double)(ref / ws);
            double tol = qerr + (double)(absum / ws) * 6e-8 + fabs(r) * 6e-8;
            if (fabs((double)a[j] - r) > tol) bad++;
            if (fabs((double)a[j] - r) <= fabs(r) * 1.2e-7) near++;
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
    /* many values are as good as float32 (one ulp); the rest are within the bound */
    printf("\n  %d of %d values within one float32 ulp of the exact mean\n", near, N);
    CU_ASSERT(near > N / 2);
}

static void test_width_choice(void)
{
    /* 32-bit integers for small rounds, 64-bit beyond HF_AGG_INT32_MAX_M updates;
     * both topologies give the same bits */
    long n = 300, toff[2] = {0, 300};
    static float d[200][300], o1[300], o2[300];
    hf_rng_t r;
    hf_rng_init(&r, 8, HF_RNG_TEST, 0, 0);
    for (int k = 0; k < 200; k++)
        for (long j = 0; j < n; j++) d[k][j] = (float)hf_rng_normal(&r);
    int counts[2] = {100, 200};
    for (int c = 0; c < 2; c++) {
        hf_agg_t *a = hf_agg_new(n, 1, toff, 1, HF_TOPO_ALLREDUCE, MPI_COMM_SELF);
        hf_agg_t *b = hf_agg_new(n, 1, toff, 1, HF_TOPO_RANK0, MPI_COMM_SELF);
        hf_agg_begin(a);
        hf_agg_begin(b);
        for (int k = 0; k < counts[c]; k++) {
            int kr = counts[c] - 1 - k;  /* b takes the same updates in reverse order */
            hf_agg_add(a, 1.0 + k % 3, d[k]);
            hf_agg_add(b, 1.0 + kr % 3, d[kr]);
        }
        hf_agg_finish(a, 2.0, o1);
        hf_agg_finish(b, 2.0, o2);
        CU_ASSERT_EQUAL(hf_agg_stats(a)->int_bits, c == 0 ? 32 : 64);
        CU_ASSERT(memcmp(o1, o2, sizeof o1) == 0);
        hf_agg_free(a);
        hf_agg_free(b);
    }
}

/* the integer width switches exactly after HF_AGG_INT32_MAX_M = 127 updates */
static void test_width_boundary(void)
{
    long n = 70, toff[2] = {0, 70};
    static float d[130][70], o[2][70];
    hf_rng_t r;
    hf_rng_init(&r, 12, HF_RNG_TEST, 0, 0);
    for (int k = 0; k < 130; k++)
        for (long j = 0; j < n; j++) d[k][j] = (float)hf_rng_normal(&r);
    CU_ASSERT_EQUAL(HF_AGG_INT32_MAX_M, 127);
    int counts[4] = {126, 127, 128, 129};
    for (int c = 0; c < 4; c++)
        for (int topo = 0; topo < 2; topo++) {
            hf_agg_t *a = hf_agg_new(n, 1, toff, 1, topo ? HF_TOPO_ALLREDUCE : HF_TOPO_RANK0, MPI_COMM_SELF);
            hf_agg_begin(a);
            for (int k = 0; k < counts[c]; k++) hf_agg_add(a, 1.0, d[k]);
            CU_ASSERT_EQUAL(hf_agg_finish(a, counts[c], o[topo]), counts[c]);
            CU_ASSERT_EQUAL(hf_agg_stats(a)->int_bits, counts[c] <= 127 ? 32 : 64);
            hf_agg_free(a);
            double maxerr = 0;
            for (long j = 0; j < n; j++) {
                double ref = 0;
                for (int k = 0; k < counts[c]; k++) ref += d[k][j];
                maxerr = fmax(maxerr, fabs(o[topo][j] - ref / counts[c]));
            }
            CU_ASSERT(maxerr < 1e-6);
        }
}

/* Each weighted update becomes round(v · 2^s) with s from the block maximum and the
 * headroom (agg.h): rounding to nearest, ties to even, in both integer widths.  With
 * the block maximum 1.0, one update and weight 1: s = 31 - 1 - 1 = 29 for 32-bit
 * integers; among 128 updates (64-bit): s = 63 - 1 - 8 = 54.  Values at fractions of
 * u = 2^-s come out exactly as hand-rounded multiples of u. */
static void test_rounding(void)
{
    long toff[2] = {0, 8};
    for (int wide = 0; wide < 2; wide++) {
        float u = wide ? 0x1p-54f : 0x1p-29f;
        float v[8] = {1.0f, 0.75f * u, -0.75f * u, 1.5f * u, 2.5f * u, -2.5f * u, 0.25f * u, 3.5f * u};
        float want[8] = {1.0f, u, -u, 2 * u, 2 * u, -2 * u, 0.0f, 4 * u};
        static float zero[8], out[8];
        for (int topo = 0; topo < 2; topo++) {
            hf_agg_t *a = hf_agg_new(8, 1, toff, 1, topo ? HF_TOPO_ALLREDUCE : HF_TOPO_RANK0, MPI_COMM_SELF);
            hf_agg_begin(a);
            hf_agg_add(a, 1.0, v);                                 /* the first update (assigns) */
            for (int k = 0; k < (wide ? 127 : 0); k++) hf_agg_add(a, 1.0, zero);
            hf_agg_finish(a, 1.0, out);
            CU_ASSERT_EQUAL(hf_agg_stats(a)->int_bits, wide ? 64 : 32);
            for (int j = 0; j < 8; j++) CU_ASSERT_EQUAL(out[j], want[j]);
            /* and as a later update (accumulates): the same, after an all-zero first one */
            hf_agg_begin(a);
            hf_agg_add(a, 1.0, zero);
            hf_agg_add(a, 1.0, v);
            for (int k = 0; k < (wide ? 126 : 0); k++) hf_agg_add(a, 1.0, zero);
            hf_agg_finish(a, 1.0, out);
            /* two updates in a 32-bit round: headroom 2, s = 28, u' = 2u; hand-rounded */
            if (!wide) {
                float w2[8] = {1.0f, 0.0f, 0.0f, 2 * u, 2 * u, -2 * u, 0.0f, 4 * u};
                for (int j = 0; j < 8; j++) CU_ASSERT_EQUAL(out[j], w2[j]);
            } else {
                for (int j = 0; j < 8; j++) CU_ASSERT_EQUAL(out[j], want[j]);
            }
            hf_agg_free(a);
        }
    }
}

static void test_add_diff_and_apply(void)
{
    long n = 130, toff[2] = {0, 130};
    float g[130], l1[130], l2[130], x1[130], x2[130], d1[130], d2[130];
    for (int j = 0; j < 130; j++) {
        g[j] = 0.01f * j; l1[j] = g[j] + 0.5f * (j % 7); l2[j] = g[j] - 0.25f * (j % 5);
        d1[j] = l1[j] - g[j]; d2[j] = l2[j] - g[j];
    }
    for (int exact = 0; exact < 2; exact++) {
        hf_agg_t *a = hf_agg_new(n, 1, toff, exact, HF_TOPO_ALLREDUCE, MPI_COMM_SELF);
        hf_agg_t *b = hf_agg_new(n, 1, toff, exact, HF_TOPO_ALLREDUCE, MPI_COMM_SELF);
        hf_agg_begin(a); hf_agg_begin(b);
        hf_agg_add_diff(a, 3, l1, g); hf_agg_add_diff(a, 5, l2, g);
        hf_agg_add(b, 3, d1); hf_agg_add(b, 5, d2);
        CU_ASSERT_EQUAL(hf_agg_reduce(a), 2);
        CU_ASSERT_EQUAL(hf_agg_reduce(b), 2);
        memcpy(x1, g, sizeof g);
        memcpy(x2, g, sizeof g);
        hf_agg_apply(a, 1.0 / 8, x1);
        hf_agg_result(b, 1.0 / 8, x2);
        for (int j = 0; j < 130; j++) x2[j] += g[j];
        CU_ASSERT(memcmp(x1, x2, sizeof x1) == 0);
        for (int j = 0; j < 130; j++)
            CU_ASSERT(fabsf(x1[j] - (g[j] + (3 * d1[j] + 5 * d2[j]) / 8)) < 1e-5f);
        hf_agg_free(a);
        hf_agg_free(b);
    }
}

/* the allreduce topology's shared-memory path and its MPI_Allreduce fallback give
 * the same bits (one rank here; determinism.sh runs both on 3 ranks) */
static void test_shm_and_mpi_agree(void)
{
    long n = 1000, toff[3] = {0, 777, 1000};  /* a partial block at each tensor's end */
    static float d[3][1000], x[2][2][1000], x2[2][2][1000];
    hf_rng_t r;
    hf_rng_init(&r, 9, HF_RNG_TEST, 0, 0);
    for (int k = 0; k < 3; k++)
        for (long j = 0; j < n; j++) d[k][j] = (float)(1e-3 * hf_rng_normal(&r));
    for (int exact = 0; exact < 2; exact++)
        for (int shm = 0; shm < 2; shm++) {
            setenv("HETFL_AGG_SHM", shm ? "1" : "0", 1);
            hf_agg_t *a = hf_agg_new(n, 2, toff, exact, HF_TOPO_ALLREDUCE, MPI_COMM_SELF);
            char how[96];
            hf_agg_method(a, how, sizeof how);
            CU_ASSERT(strstr(how, shm ? "shm" : "MPI_Allreduce") != NULL);
            for (long j = 0; j < n; j++) x[exact][shm][j] = x2[exact][shm][j] = 0.01f * (float)(j % 13);
            for (int round = 0; round < 2; round++) {  /* buffers are reused across rounds */
                hf_agg_begin(a);
                for (int k = 0; k < 3; k++) hf_agg_add(a, 1.0 + k, d[(k + round) % 3]);
                CU_ASSERT_EQUAL(hf_agg_reduce(a), 3);
                hf_agg_apply(a, 1.0 / 6.0, x[exact][shm]);
            }
            /* a round of more than 127 updates (64-bit integers: the window widens),
             * then a 32-bit round again */
            for (int round = 0; round < 2; round++) {
                int m = round == 0 ? 130 : 3;
                hf_agg_begin(a);
                for (int k = 0; k < m; k++) hf_agg_add(a, 1.0, d[k % 3]);
                CU_ASSERT_EQUAL(hf_agg_reduce(a), m);
                if (exact) CU_ASSERT_EQUAL(hf_agg_stats(a)->int_bits, round == 0 ? 64 : 32);
                hf_agg_apply(a, 1.0 / m, x2[exact][shm]);
            }
            hf_agg_free(a);
        }
    unsetenv("HETFL_AGG_SHM");
    CU_ASSERT(memcmp(x[1][0], x[1][1], sizeof x[1][0]) == 0);
    CU_ASSERT(memcmp(x[0][0], x[0][1], sizeof x[0][0]) == 0);
    CU_ASSERT(memcmp(x2[1][0], x2[1][1], sizeof x2[1][0]) == 0);
    /* x2 = x0 + mean of the 130 (d0, d1, d2 cycled) + mean of d0, d1, d2 */
    for (long j = 0; j < n; j++) {
        double m130 = (44.0 * d[0][j] + 43.0 * d[1][j] + 43.0 * d[2][j]) / 130.0;
        double ref = 0.01 * (double)(j % 13) + m130 + (d[0][j] + d[1][j] + d[2][j]) / 3.0;
        CU_ASSERT(fabs(x2[1][1][j] - ref) < 1e-6);
    }
    /* and the value: x0 + 2 · Σ_k (1+k) d_k / 6 summed over the rotated rounds */
    for (long j = 0; j < n; j++) {
        double ref = 0.01 * (double)(j % 13);
        for (int round = 0; round < 2; round++)
            for (int k = 0; k < 3; k++) ref += (1.0 + k) * d[(k + round) % 3][j] / 6.0;
        CU_ASSERT(fabs(x[1][1][j] - ref) < 1e-6);
    }
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
    /* one client: its update, to 30 bits of the block maximum (h = 1) */
    for (int j = 0; j < 8; j++) CU_ASSERT(fabsf(out[j] - d[j]) <= 4.0f * 0x1p-30f);
    for (int j = 0; j < 4; j++) CU_ASSERT_EQUAL(out[j], d[j]);  /* large values: exact */
    hf_agg_free(a);
}

static const hf_cu_test_t tests_agg[] = {
    {"fixed-point scale exponents", test_scale_exp, NULL},
    {"exact sums are order independent", test_order_independent, NULL},
    {"exact sums are accurate", test_accuracy, NULL},
    {"empty round and single client", test_empty_and_single, NULL},
    {"32/64-bit choice, topologies agree", test_width_choice, NULL},
    {"32/64-bit boundary at 127 updates", test_width_boundary, NULL},
    {"conversion rounds to nearest, ties to even", test_rounding, NULL},
    {"add_diff and apply", test_add_diff_and_apply, NULL},
    {"shared-memory and MPI_Allreduce paths agree", test_shm_and_mpi_agree, NULL},
    {0},
};
static const hf_cu_suite_t suites[] = {
    {"agg", tests_agg, NULL, NULL},
    {0},
};

int main(int argc, char **argv)
{
    return hf_cu_main(&argc, &argv, HF_CU_MPI, suites);
}
