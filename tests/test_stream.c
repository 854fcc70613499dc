/*
 * test_stream.c — data streams (src/engine/stream.c) against values worked
 * out by hand: the arrival counts A_k(r) = min(n_k, initial + ⌊r·rate⌋) of
 * two clients of unequal sizes (5 and 3 samples), the samples each holds at
 * rounds 1-3 with an unlimited memory, FIFO and a reservoir of 2 (the
 * partition the engine trains on), the drift order (classes grouped, in the
 * client's keyed class order), reservoir sampling's uniform inclusion
 * probability M/A over many clients, the evaluation window of the
 * clients' test splits, the weighted policy's aggregation weights
 * m_k (A_k / m_k)^β and divisor, and per-client rates (stream.rate_spread).
 */
#include "cunit_main.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "options.h"
#include "rng.h"
#include "run.h"
#include "stream.h"
#include "hf_util.h"

#define SEED 11

/* labels of samples 0..22: client 0 holds 10..14, client 1 holds 20..22 */
static int labels[23] = {[10] = 2, [11] = 0, [12] = 2, [13] = 1, [14] = 0, [20] = 1, [21] = 1, [22] = 0};

/* Two clients of 5 and 3 samples; rate 1.5, 1 sample before round 1. */
static void two_clients(hf_run_t *x, hf_params_t *p, long memory, int reservoir, int drift)
{
    memset(x, 0, sizeof *x);
    memset(p, 0, sizeof *p);
    p->seed = SEED;
    p->stream_rate = 1.5;
    p->stream_initial = 1;
    p->stream_memory = memory;
    p->stream_reservoir = reservoir;
    p->stream_drift = drift;
    x->p = p;
    x->rank = 1;
    x->part.nclients = 2;
    x->part.off = calloc(3, sizeof(long));
    x->part.idx = calloc(8, sizeof(long));
    x->part.off[1] = 5; x->part.off[2] = 8;
    for (int i = 0; i < 5; i++) x->part.idx[i] = 10 + i;
    for (int i = 0; i < 3; i++) x->part.idx[5 + i] = 20 + i;
    x->train.y = labels;
    x->train.n_classes = 3;
    hf_stream_setup(x);
}

static void done(hf_run_t *x)
{
    hf_stream_free(x->stream);
    hf_partition_free(&x->part);
    hf_partition_free(&x->ctest);
}

/* client k's samples in their arrival order (shuffled): its ids permuted by the
 * keyed permutation (seed, HF_RNG_STREAM, k, 0) */
static void arrival_order(int k, long *out)
{
    int n = k == 0 ? 5 : 3, perm[5];
    hf_rng_t r;
    hf_rng_init(&r, SEED, HF_RNG_STREAM, (uint64_t)k, 0);
    hf_rng_permutation(&r, n, perm);
    for (int i = 0; i < n; i++) out[i] = (k == 0 ? 10 : 20) + perm[i];
}

/* x->part at this round holds exactly want0[0..n0) then want1[0..n1), in order */
static void expect_part(const hf_run_t *x, const long *want0, long n0, const long *want1, long n1)
{
    CU_ASSERT_EQUAL(x->part.off[0], 0);
    CU_ASSERT_EQUAL(x->part.off[1], n0);
    CU_ASSERT_EQUAL(x->part.off[2], n0 + n1);
    for (long i = 0; i < n0; i++) CU_ASSERT_EQUAL(x->part.idx[i], want0[i]);
    for (long i = 0; i < n1; i++) CU_ASSERT_EQUAL(x->part.idx[n0 + i], want1[i]);
}

static void test_arrived(void)
{
    /* 1 + ⌊1.5 r⌋: 2, 4, 5 (capped at n = 5), 5 */
    long want5[4] = {2, 4, 5, 5}, want3[4] = {2, 3, 3, 3};
    for (int r = 1; r <= 4; r++) {
        CU_ASSERT_EQUAL(hf_stream_arrived(5, 1, 1.5, r), want5[r - 1]);
        CU_ASSERT_EQUAL(hf_stream_arrived(3, 1, 1.5, r), want3[r - 1]);
    }
    /* fractional rates accumulate: 0.4 a round gives 0, 0, 1, 1, 2 */
    long want04[5] = {0, 0, 1, 1, 2};
    for (int r = 1; r <= 5; r++) CU_ASSERT_EQUAL(hf_stream_arrived(100, 0, 0.4, r), want04[r - 1]);
    CU_ASSERT_EQUAL(hf_stream_arrived(100, 0, 0.29, 100), 29);  /* not ⌊28.999…⌋ */
    CU_ASSERT_EQUAL(hf_stream_arrived(100, 7, 0, 3), 7);
}

static void test_unlimited(void)
{
    hf_run_t x;
    hf_params_t p;
    long a0[5], a1[3];
    arrival_order(0, a0);
    arrival_order(1, a1);
    two_clients(&x, &p, 0, 0, 0);
    hf_stream_advance(&x, 1);  /* 2 and 2 received */
    expect_part(&x, a0, 2, a1, 2);
    hf_stream_advance(&x, 2);  /* 4 and 3 */
    expect_part(&x, a0, 4, a1, 3);
    hf_stream_advance(&x, 3);  /* 5 and 3: both streams ended */
    expect_part(&x, a0, 5, a1, 3);
    done(&x);
}

static void test_fifo(void)
{
    hf_run_t x;
    hf_params_t p;
    long a0[5], a1[3];
    arrival_order(0, a0);
    arrival_order(1, a1);
    two_clients(&x, &p, 2, 0, 0);
    hf_stream_advance(&x, 1);  /* A = 2, 2: everything fits */
    expect_part(&x, a0, 2, a1, 2);
    hf_stream_advance(&x, 2);  /* A = 4, 3: the last two of each */
    expect_part(&x, a0 + 2, 2, a1 + 1, 2);
    hf_stream_advance(&x, 3);  /* A = 5, 3 */
    expect_part(&x, a0 + 3, 2, a1 + 1, 2);
    done(&x);
}

/* Algorithm R by hand from the documented draws: arrival j ≥ M replaces slot u,
 * u = below(j + 1) keyed (seed, HF_RNG_STREAM, k, 3 + j), when u < M. */
static void test_reservoir(void)
{
    hf_run_t x;
    hf_params_t p;
    long a0[5], a1[3];
    arrival_order(0, a0);
    arrival_order(1, a1);
    uint64_t u[5];
    for (int j = 2; j < 5; j++) {
        hf_rng_t r;
        hf_rng_init(&r, SEED, HF_RNG_STREAM, 0, 3 + (uint64_t)j);
        u[j] = hf_rng_below(&r, (uint64_t)j + 1);
    }
    two_clients(&x, &p, 2, 1, 0);
    hf_stream_advance(&x, 1);
    expect_part(&x, a0, 2, a1, 2);
    long s0[2] = {a0[0], a0[1]};  /* client 0's slots by hand */
    for (int j = 2; j < 4; j++) if (u[j] < 2) s0[u[j]] = a0[j];
    hf_rng_t r1;
    hf_rng_init(&r1, SEED, HF_RNG_STREAM, 1, 3 + 2);
    uint64_t v = hf_rng_below(&r1, 3);
    long s1[2] = {a1[0], a1[1]};
    if (v < 2) s1[v] = a1[2];
    hf_stream_advance(&x, 2);  /* A = 4, 3 */
    expect_part(&x, s0, 2, s1, 2);
    if (u[4] < 2) s0[u[4]] = a0[4];
    hf_stream_advance(&x, 3);  /* A = 5, 3 */
    expect_part(&x, s0, 2, s1, 2);
    done(&x);
    /* advancing two rounds at once (a resumed run) gives the same memory */
    two_clients(&x, &p, 2, 1, 0);
    hf_stream_advance(&x, 3);
    expect_part(&x, s0, 2, s1, 2);
    done(&x);
}

/* A uniform sample: over 4000 clients of 10 samples and a reservoir of 3, each
 * arrival position is held with probability 3/10 (binomial sd 0.007; FIFO would
 * hold positions 7-9 always). */
static void test_reservoir_uniform(void)
{
    enum { K = 4000, N = 10 };
    hf_run_t x;
    hf_params_t p;
    memset(&x, 0, sizeof x);
    memset(&p, 0, sizeof p);
    p.seed = SEED;
    p.stream_rate = N;
    p.stream_memory = 3;
    p.stream_reservoir = 1;
    x.p = &p;
    x.part.nclients = K;
    x.part.off = calloc(K + 1, sizeof(long));
    x.part.idx = calloc((size_t)K * N, sizeof(long));
    int *y = calloc((size_t)K * N, sizeof(int));
    for (int k = 0; k <= K; k++) x.part.off[k] = (long)k * N;
    for (long i = 0; i < (long)K * N; i++) x.part.idx[i] = i;
    x.train.y = y;
    x.train.n_classes = 1;
    hf_stream_setup(&x);
    hf_stream_advance(&x, 1);
    long held[N] = {0};
    for (int k = 0; k < K; k++) {
        long a[N];  /* client k's arrival order: position of sample id s */
        hf_rng_t r;
        int perm[N];
        hf_rng_init(&r, SEED, HF_RNG_STREAM, (uint64_t)k, 0);
        hf_rng_permutation(&r, N, perm);
        for (int i = 0; i < N; i++) a[perm[i]] = i;
        CU_ASSERT_EQUAL(x.part.off[k + 1] - x.part.off[k], 3);
        for (long i = x.part.off[k]; i < x.part.off[k + 1]; i++) held[a[x.part.idx[i] - (long)k * N]]++;
    }
    for (int j = 0; j < N; j++) CU_ASSERT(fabs((double)held[j] / K - 0.3) < 0.025);
    hf_stream_free(x.stream);
    hf_partition_free(&x.part);
    free(y);
}

/* stream.order = drift: client 0's labels 2,0,2,1,0 arrive class by class in its
 * keyed class order, each class in the shuffled order. */
static void test_drift(void)
{
    hf_run_t x;
    hf_params_t p;
    long a0[5];
    arrival_order(0, a0);
    int cls[3];
    hf_rng_t r;
    hf_rng_init(&r, SEED, HF_RNG_STREAM, 0, 2);
    hf_rng_permutation(&r, 3, cls);
    long want[5], o = 0;
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 5; i++)
            if (labels[a0[i]] == cls[c]) want[o++] = a0[i];
    CU_ASSERT_EQUAL(o, 5);
    two_clients(&x, &p, 0, 0, 1);
    hf_stream_advance(&x, 3);
    for (int i = 0; i < 5; i++) CU_ASSERT_EQUAL(x.part.idx[i], want[i]);
    for (int i = 1; i < 5; i++) {  /* grouped: a class never comes back */
        int ci = 0, cj = 0;
        for (int c = 0; c < 3; c++) { if (cls[c] == labels[want[i]]) ci = c; if (cls[c] == labels[want[i - 1]]) cj = c; }
        CU_ASSERT(ci >= cj);
    }
    done(&x);
}

/* Test splits of 3 and 1 samples: test sample i stands at stream position
 * ⌊i n_k / h_k⌋ (client 0: 0, 1, 3; client 1: 0), the window is the last W
 * arrivals. */
static void test_window(void)
{
    hf_run_t x;
    hf_params_t p;
    two_clients(&x, &p, 2, 0, 0);
    hf_stream_free(x.stream);
    x.ctest.nclients = 2;
    x.ctest.off = calloc(3, sizeof(long));
    x.ctest.idx = calloc(4, sizeof(long));
    x.ctest.off[1] = 3; x.ctest.off[2] = 4;
    x.ctest.idx[0] = 15; x.ctest.idx[1] = 16; x.ctest.idx[2] = 17; x.ctest.idx[3] = 22;
    x.ce_data = &x.train;
    hf_stream_setup(&x);
    p.stream_window = 2;
    long lo, n;
    hf_stream_advance(&x, 1);  /* A = 2, 2: positions [0, 2) */
    hf_stream_test_window(&x, 0, &lo, &n);
    CU_ASSERT(lo == 0 && n == 2);
    hf_stream_test_window(&x, 1, &lo, &n);
    CU_ASSERT(lo == 0 && n == 1);
    hf_stream_advance(&x, 2);  /* A = 4, 3: [2, 4) and [1, 3) */
    hf_stream_test_window(&x, 0, &lo, &n);
    CU_ASSERT(lo == 2 && n == 1);
    hf_stream_test_window(&x, 1, &lo, &n);
    CU_ASSERT_EQUAL(n, 0);
    p.stream_window = 0;  /* everything received: [0, 4), [0, 3) */
    hf_stream_test_window(&x, 0, &lo, &n);
    CU_ASSERT(lo == 0 && n == 3);
    hf_stream_test_window(&x, 1, &lo, &n);
    CU_ASSERT(lo == 0 && n == 1);
    done(&x);
}

/* stream.policy = weighted on the two clients (5 and 3 samples, reservoir of 2):
 * FedAvg's plan weights are the held counts m = 2, 2 (divisor 4).  Round 2:
 * A = 4, 3 → β = 1: weights 2 · 4/2 = 4 and 2 · 3/2 = 3, divisor 4 · 7/4 = 7;
 * round 3: A = 5, 3 → β = 0.5: 2 √2.5 = √10 and 2 √1.5 = √6, divisor √10 + √6;
 * a dropped entry keeps weight 0 and changes nothing; β = 0 (reservoir) leaves
 * the plan as it is. */
static void test_weighted(void)
{
    hf_run_t x;
    hf_params_t p;
    hf_cplan_t c[3];
    int sel[3] = {0, 1, 0};
    two_clients(&x, &p, 2, 1, 0);
    x.plan.c = c;
    double beta[3] = {1.0, 0.5, 0.0}, want0[3] = {4.0, sqrt(10.0), 2.0}, want1[3] = {3.0, sqrt(6.0), 2.0};
    for (int t = 0; t < 3; t++) {
        p.stream_weight_power = beta[t];
        hf_stream_advance(&x, t == 0 ? 2 : 3);
        memset(c, 0, sizeof c);
        c[0].kept = c[1].kept = 1;
        c[0].weight = c[1].weight = 2.0;  /* m_k, as hf_weights_samples gives them */
        x.plan.m = 3;
        x.plan.divisor = 4.0;
        hf_stream_weights(&x, sel, 3);
        CU_ASSERT_DOUBLE_EQUAL(c[0].weight, want0[t], 1e-12);
        CU_ASSERT_DOUBLE_EQUAL(c[1].weight, want1[t], 1e-12);
        CU_ASSERT_EQUAL(c[2].weight, 0.0);
        CU_ASSERT_DOUBLE_EQUAL(x.plan.divisor, want0[t] + want1[t], 1e-12);
    }
    done(&x);
}

/* stream.rate_spread = 0.5 around rate 4: client k's rate is 4 (1 + 0.5 (2 u_k - 1)),
 * u_k = uniform keyed (seed, HF_RNG_STREAM_RATE, k, 0); over 4000 clients the rates lie in
 * [2, 6) with mean 4 (sd of the mean 1.155 / √4000 = 0.018). */
static void test_rate_spread(void)
{
    hf_params_t p;
    memset(&p, 0, sizeof p);
    p.seed = SEED;
    p.stream_rate = 4.0;
    p.stream_rate_spread = 0.5;
    double sum = 0.0, lo = 1e9, hi = 0.0;
    for (int k = 0; k < 4000; k++) {
        hf_rng_t r;
        hf_rng_init(&r, SEED, HF_RNG_STREAM_RATE, (uint64_t)k, 0);
        double want = 4.0 * (1.0 + 0.5 * (2.0 * hf_rng_uniform(&r) - 1.0)), got = hf_stream_client_rate(&p, k);
        CU_ASSERT_DOUBLE_EQUAL(got, want, 1e-12);
        sum += got;
        lo = HF_MIN(lo, got);
        hi = HF_MAX(hi, got);
    }
    CU_ASSERT(fabs(sum / 4000 - 4.0) < 0.06);
    CU_ASSERT(lo >= 2.0 && lo < 2.05 && hi < 6.0 && hi > 5.95);
    p.stream_rate_spread = 0;
    CU_ASSERT_EQUAL(hf_stream_client_rate(&p, 7), 4.0);
    /* the two clients at rate 1.5 spread by 0.6: each one's A_k(r) = min(n_k, 1 + ⌊r ρ_k⌋) */
    hf_run_t x;
    hf_params_t q;
    two_clients(&x, &q, 0, 0, 0);
    hf_stream_free(x.stream);
    q.stream_rate_spread = 0.6;
    hf_stream_setup(&x);
    /* ρ = 1.5 (1 + 0.6 (2 u - 1)): 0.97370264406667728 and 1.1198554700882588 (u_0 = 0.2076, u_1 = 0.2888),
     * so with initial 1: A_0 = 1 + ⌊0.974 r⌋ = 1, 2, 3 and A_1 = min(3, 1 + ⌊1.120 r⌋) = 2, 3, 3 (at a
     * common 1.5: 2, 4, 5 and 2, 3, 3) */
    CU_ASSERT_DOUBLE_EQUAL(hf_stream_client_rate(&q, 0), 0.97370264406667728, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(hf_stream_client_rate(&q, 1), 1.1198554700882588, 1e-12);
    long want0[3] = {1, 2, 3}, want1[3] = {2, 3, 3};
    for (int r = 1; r <= 3; r++) {
        hf_stream_advance(&x, r);
        CU_ASSERT_EQUAL(x.part.off[1], want0[r - 1]);
        CU_ASSERT_EQUAL(x.part.off[2] - x.part.off[1], want1[r - 1]);
    }
    done(&x);
}

static const hf_cu_test_t stream_tests[] = {
    {"arrival counts", test_arrived, NULL},
    {"unlimited memory", test_unlimited, NULL},
    {"fifo memory", test_fifo, NULL},
    {"reservoir memory", test_reservoir, NULL},
    {"reservoir is a uniform sample", test_reservoir_uniform, NULL},
    {"drift order", test_drift, NULL},
    {"evaluation window", test_window, NULL},
    {"weighted policy's weights", test_weighted, NULL},
    {"per-client rates", test_rate_spread, NULL},
    {0}};
static const hf_cu_suite_t suites[] = {{"stream", stream_tests, NULL, NULL}, {0}};
int main(int argc, char **argv) { return hf_cu_main(&argc, &argv, 0, suites); }
