/* test_rng.c — Philox known answers, reproducibility, distribution sanity. */
#include "rng.h"
#include "cunit_main.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void test_philox_kat(void)
{
    /* Known-answer vectors of Random123's philox4x32_10 */
    uint32_t c0[4] = {0, 0, 0, 0}, k0[2] = {0, 0}, o[4];
    hf_philox4x32(c0, k0, o);
    CU_ASSERT_EQUAL(o[0], 0x6627e8d5u);
    CU_ASSERT_EQUAL(o[1], 0xe169c58du);
    CU_ASSERT_EQUAL(o[2], 0xbc57ac4cu);
    CU_ASSERT_EQUAL(o[3], 0x9b00dbd8u);
    uint32_t c1[4] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, k1[2] = {0xffffffffu, 0xffffffffu};
    hf_philox4x32(c1, k1, o);
    CU_ASSERT_EQUAL(o[0], 0x408f276du);
    CU_ASSERT_EQUAL(o[1], 0x41c83b0eu);
    CU_ASSERT_EQUAL(o[2], 0xa20bc7c6u);
    CU_ASSERT_EQUAL(o[3], 0x6d5451fdu);
    uint32_t c2[4] = {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, k2[2] = {0xa4093822u, 0x299f31d0u};
    hf_philox4x32(c2, k2, o);
    CU_ASSERT_EQUAL(o[0], 0xd16cfe09u);
    CU_ASSERT_EQUAL(o[1], 0x94fdccebu);
    CU_ASSERT_EQUAL(o[2], 0x5001e420u);
    CU_ASSERT_EQUAL(o[3], 0x24126ea1u);
}

static void test_reproducible(void)
{
    hf_rng_t a, b, c;
    hf_rng_init(&a, 42, 1, 2, 3);
    hf_rng_init(&b, 42, 1, 2, 3);
    hf_rng_init(&c, 42, 1, 2, 4);
    int same = 1, diff = 0;
    for (int i = 0; i < 1000; i++) {
        uint32_t x = hf_rng_u32(&a), y = hf_rng_u32(&b), z = hf_rng_u32(&c);
        if (x != y) same = 0;
        if (x != z) diff++;
    }
    CU_ASSERT(same);
    CU_ASSERT(diff > 990);
    /* different seeds, same stream ids */
    hf_rng_init(&a, 1, 0, 0, 0);
    hf_rng_init(&b, 2, 0, 0, 0);
    CU_ASSERT_NOT_EQUAL(hf_rng_u64(&a), hf_rng_u64(&b));
    /* stream independence from other streams' use: re-init gives the same first value */
    hf_rng_init(&a, 9, 5, 6, 7);
    uint64_t first = hf_rng_u64(&a);
    hf_rng_init(&b, 9, 5, 6, 8);
    for (int i = 0; i < 100; i++) hf_rng_u64(&b);
    hf_rng_init(&a, 9, 5, 6, 7);
    CU_ASSERT_EQUAL(hf_rng_u64(&a), first);
}

static void test_uniform_normal(void)
{
    hf_rng_t r;
    hf_rng_init(&r, 7, HF_RNG_TEST, 0, 0);
    const int n = 200000;
    double s = 0, s2 = 0, mn = 1, mx = 0;
    for (int i = 0; i < n; i++) {
        double u = hf_rng_uniform(&r);
        s += u; s2 += u * u;
        if (u < mn) mn = u;
        if (u > mx) mx = u;
    }
    double mean = s / n, var = s2 / n - mean * mean;
    CU_ASSERT(fabs(mean - 0.5) < 0.005);
    CU_ASSERT(fabs(var - 1.0 / 12) < 0.002);
    CU_ASSERT(mn > 0.0 && mx < 1.0);
    s = s2 = 0;
    double s3 = 0;
    for (int i = 0; i < n; i++) {
        double z = hf_rng_normal(&r);
        s += z; s2 += z * z; s3 += z * z * z;
    }
    CU_ASSERT(fabs(s / n) < 0.01);
    CU_ASSERT(fabs(s2 / n - 1.0) < 0.02);
    CU_ASSERT(fabs(s3 / n) < 0.05);
    /* lognormal(mu, sigma): E = exp(mu + sigma^2/2) */
    s = 0;
    for (int i = 0; i < n; i++) s += hf_rng_lognormal(&r, 0.0, 0.5);
    CU_ASSERT(fabs(s / n - exp(0.125)) < 0.01);
    /* the documented construction: 53 bits of one u64, plus half a step, times 2^-53
     * (so never 0 or 1); and Box-Muller's two values of a pair are independent
     * (lag-1 correlation of consecutive normals ~ 0: the pair (r cos, r sin)) */
    hf_rng_t a, b;
    hf_rng_init(&a, 8, HF_RNG_TEST, 1, 2);
    hf_rng_init(&b, 8, HF_RNG_TEST, 1, 2);
    int exact = 1;
    for (int i = 0; i < 1000; i++) {
        double u = hf_rng_uniform(&a);
        uint64_t x = hf_rng_u64(&b);
        exact &= u == ((double)(x >> 11) + 0.5) * 0x1p-53;
    }
    CU_ASSERT(exact);
    double prev = hf_rng_normal(&r), sxy = 0, sxx = 0;
    for (int i = 0; i < n; i++) {
        double z = hf_rng_normal(&r);
        sxy += prev * z;
        sxx += z * z;
        prev = z;
    }
    CU_ASSERT(fabs(sxy / sxx) < 0.02);
}

static void test_gamma_dirichlet(void)
{
    hf_rng_t r;
    hf_rng_init(&r, 11, HF_RNG_TEST, 1, 0);
    double shapes[4] = {0.3, 1.0, 2.5, 10.0};
    for (int k = 0; k < 4; k++) {
        double s = 0, s2 = 0;
        const int n = 100000;
        for (int i = 0; i < n; i++) {
            double g = hf_rng_gamma(&r, shapes[k]);
            CU_ASSERT_FATAL(g >= 0);
            s += g; s2 += g * g;
        }
        double mean = s / n, var = s2 / n - mean * mean;
        CU_ASSERT(fabs(mean - shapes[k]) < 0.03 * shapes[k] + 0.01);
        CU_ASSERT(fabs(var - shapes[k]) < 0.08 * shapes[k] + 0.01);
    }
    double p[10], sum;
    for (int t = 0; t < 100; t++) {
        hf_rng_dirichlet(&r, 0.1, 10, p);
        sum = 0;
        for (int i = 0; i < 10; i++) { sum += p[i]; CU_ASSERT(p[i] >= 0); }
        CU_ASSERT(fabs(sum - 1.0) < 1e-9);
    }
    /* concentration: large alpha gives near-uniform proportions */
    hf_rng_dirichlet(&r, 1000.0, 10, p);
    for (int i = 0; i < 10; i++) CU_ASSERT(fabs(p[i] - 0.1) < 0.03);
    /* exponential and weibull means */
    double se = 0, sw = 0;
    for (int i = 0; i < 100000; i++) {
        se += hf_rng_exponential(&r, 2.0);
        sw += hf_rng_weibull(&r, 1.0, 3.0);
    }
    CU_ASSERT(fabs(se / 100000 - 0.5) < 0.01);
    CU_ASSERT(fabs(sw / 100000 - 3.0) < 0.05);
}

static void test_permutation_sample(void)
{
    hf_rng_t r;
    hf_rng_init(&r, 3, HF_RNG_TEST, 2, 0);
    int n = 1000, perm[1000], seen[1000];
    hf_rng_permutation(&r, n, perm);
    memset(seen, 0, sizeof seen);
    int ok = 1, fixed = 0;
    for (int i = 0; i < n; i++) {
        if (perm[i] < 0 || perm[i] >= n || seen[perm[i]]++) ok = 0;
        if (perm[i] == i) fixed++;
    }
    CU_ASSERT(ok);
    CU_ASSERT(fixed < 10);
    /* uniform over all n! orders: a permutation of 6 leaves some element in place with
     * probability 1 - D_6/6! = 1 - 265/720 = 0.632 (never, for a cyclic-only shuffle),
     * and each element lands at each position 1/6 of the time */
    int with_fixed = 0, at[6][6] = {{0}};
    for (int t = 0; t < 6000; t++) {
        int q[6], fx = 0;
        hf_rng_permutation(&r, 6, q);
        for (int i = 0; i < 6; i++) { fx |= q[i] == i; at[q[i]][i]++; }
        with_fixed += fx;
    }
    CU_ASSERT(fabs(with_fixed / 6000.0 - 1 + 265.0 / 720) < 0.03);
    int pos_ok = 1;
    for (int e = 0; e < 6; e++)
        for (int i = 0; i < 6; i++) pos_ok &= abs(at[e][i] - 1000) < 150;
    CU_ASSERT(pos_ok);
    /* sampling without replacement: distinct, sorted, in range; uniform coverage */
    int counts[100] = {0}, out[10];
    for (int t = 0; t < 20000; t++) {
        hf_rng_sample(&r, 100, 10, out);
        for (int i = 0; i < 10; i++) {
            CU_ASSERT_FATAL(out[i] >= 0 && out[i] < 100);
            if (i) CU_ASSERT_FATAL(out[i] > out[i - 1]);
            counts[out[i]]++;
        }
    }
    int cmin = 1 << 30, cmax = 0;
    for (int i = 0; i < 100; i++) {
        if (counts[i] < cmin) cmin = counts[i];
        if (counts[i] > cmax) cmax = counts[i];
    }
    CU_ASSERT(cmin > 1700 && cmax < 2300);  /* expected 2000 each */
    /* k = n gives everything; large n is cheap */
    int all[50];
    hf_rng_sample(&r, 50, 50, all);
    for (int i = 0; i < 50; i++) CU_ASSERT(all[i] == i);
    int big[1000];
    hf_rng_sample(&r, 100000000, 1000, big);
    for (int i = 1; i < 1000; i++) CU_ASSERT_FATAL(big[i] > big[i - 1]);
    /* below(): range and no modulo bias on a small range */
    int hist[3] = {0};
    for (int i = 0; i < 30000; i++) hist[hf_rng_below(&r, 3)]++;
    for (int i = 0; i < 3; i++) CU_ASSERT(abs(hist[i] - 10000) < 400);
}

/* hf_rng_sample's hash set against a dense reference: Floyd's algorithm with
 * a byte per id (O(n) memory), from the same stream, must draw the same set
 * at a population of 10^6 (the sparse set is what keeps a round's draw O(k)
 * at any population: docs/scale.md) and at a small n where most ids are taken. */
static int cmp_int_asc(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static void dense_floyd(hf_rng_t *r, int n, int k, int *out)
{
    unsigned char *taken = calloc((size_t)n, 1);
    int m = 0;
    for (int j = n - k; j < n; j++) {
        int t = (int)hf_rng_below(r, (uint64_t)j + 1);
        int pick = taken[t] ? j : t;
        taken[pick] = 1;
        out[m++] = pick;
    }
    free(taken);
    qsort(out, (size_t)k, sizeof(int), cmp_int_asc);
}

static void test_sample_dense(void)
{
    static const int cases[][2] = {{1000000, 1000}, {1000000, 50000}, {300, 290}, {2, 1}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        int n = cases[c][0], k = cases[c][1];
        int *a = malloc((size_t)k * sizeof(int)), *b = malloc((size_t)k * sizeof(int));
        hf_rng_t r1, r2;
        hf_rng_init(&r1, 7, HF_RNG_TEST, (uint64_t)c, 3);
        hf_rng_init(&r2, 7, HF_RNG_TEST, (uint64_t)c, 3);
        hf_rng_sample(&r1, n, k, a);
        dense_floyd(&r2, n, k, b);
        CU_ASSERT(!memcmp(a, b, (size_t)k * sizeof(int)));
        free(a);
        free(b);
    }
}

/* The keyed bijection: every id of [0, n) hit exactly once, for n = 1, powers
 * of 2 and (mostly) not; and the network's images pinned against an
 * independent Python reference of its definition (4 Feistel rounds of
 * splitmix64(right ^ key_j) & mask, halves of h bits, 2^(2h) >= n, cycle
 * walking), with round keys set by hand. */
static void test_bijection(void)
{
    static const uint32_t ns[] = {1, 2, 3, 4, 5, 7, 16, 17, 100, 1000, 4096, 4097, 65537, 100001};
    for (size_t v = 0; v < sizeof ns / sizeof ns[0]; v++) {
        uint32_t n = ns[v];
        hf_rng_t r;
        hf_rng_init(&r, 11, HF_RNG_TEST, n, 9);
        hf_rng_bij_t b;
        hf_rng_bij_init(&b, &r, n);
        char *hit = calloc(n, 1);
        int ok = 1, fixed = 0;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t y = hf_rng_bij_at(&b, i);
            if (y >= n || hit[y]) ok = 0;
            else hit[y] = 1;
            fixed += y == i;
        }
        CU_ASSERT(ok);
        if (n >= 1000) CU_ASSERT(fixed < 20);  /* about one fixed point, as a random permutation */
        free(hit);
    }
    hf_rng_bij_t b = {.key = {1, 2, 3, 4}, .n = 10, .half = 2};
    const uint32_t want10[10] = {3, 8, 9, 0, 4, 5, 6, 1, 7, 2};
    for (uint32_t i = 0; i < 10; i++) CU_ASSERT_EQUAL(hf_rng_bij_at(&b, i), want10[i]);
    hf_rng_bij_t b5 = {.key = {0x0123456789abcdefull, 7, 11, 13}, .n = 5, .half = 2};
    const uint32_t want5[5] = {3, 0, 1, 2, 4};
    for (uint32_t i = 0; i < 5; i++) CU_ASSERT_EQUAL(hf_rng_bij_at(&b5, i), want5[i]);
    hf_rng_bij_t bl = {.key = {5, 6, 7, 8}, .n = 100001, .half = 9};  /* 2^18 >= 100001 > 2^16 */
    CU_ASSERT_EQUAL(hf_rng_bij_at(&bl, 12345), 54767);
    CU_ASSERT_EQUAL(hf_rng_bij_at(&bl, 99), 53642);
    /* init: the half is the least h with 4^h >= n, the keys the stream's next four u64 */
    hf_rng_t r1, r2;
    hf_rng_init(&r1, 3, HF_RNG_TEST, 1, 2);
    hf_rng_init(&r2, 3, HF_RNG_TEST, 1, 2);
    hf_rng_bij_init(&b, &r1, 100001);
    CU_ASSERT_EQUAL(b.half, 9);
    for (int j = 0; j < 4; j++) CU_ASSERT_EQUAL(b.key[j], hf_rng_u64(&r2));
    hf_rng_bij_init(&b, &r1, 1);
    CU_ASSERT_EQUAL(b.half, 1);
    hf_rng_bij_init(&b, &r1, 2147483647);
    CU_ASSERT_EQUAL(b.half, 16);
    CU_ASSERT(hf_rng_bij_at(&b, 2147483646) < 2147483647u);
}

static const hf_cu_test_t tests_rng[] = {
    {"philox known answers", test_philox_kat, NULL},
    {"reproducible streams", test_reproducible, NULL},
    {"uniform, normal, lognormal", test_uniform_normal, NULL},
    {"gamma, dirichlet, exponential, weibull", test_gamma_dirichlet, NULL},
    {"permutation, sampling", test_permutation_sample, NULL},
    {"sampling: the sparse set equals a dense reference", test_sample_dense, NULL},
    {"keyed bijection of [0, n): one hit per id, pinned images", test_bijection, NULL},
    {0},
};
static const hf_cu_suite_t suites[] = {
    {"rng", tests_rng, NULL, NULL},
    {0},
};

int main(int argc, char **argv)
{
    return hf_cu_main(&argc, &argv, 0, suites);
}
