/* test_compress.c — QSGD size, unbiasedness and variance bound (seeded
 * statistical test), top-k error-feedback invariant, fp16 conversions. */
#include "compress.h"
#include "rng.h"
#include "cunit_main.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void fill_normal(float *v, long n, uint64_t seed)
{
    hf_rng_t r;
    hf_rng_init(&r, seed, HF_RNG_TEST, 7, 0);
    for (long i = 0; i < n; i++) v[i] = (float)hf_rng_normal(&r);
}

static void test_qsgd_size(void)
{
    /* bits = Σ_buckets 32 + d_b (1 + ⌈log2(s+1)⌉) */
    CU_ASSERT_EQUAL(hf_qsgd_level_bits(1), 1);
    CU_ASSERT_EQUAL(hf_qsgd_level_bits(3), 2);
    CU_ASSERT_EQUAL(hf_qsgd_level_bits(4), 3);
    CU_ASSERT_EQUAL(hf_qsgd_level_bits(255), 8);
    CU_ASSERT_EQUAL(hf_qsgd_bytes(512, 4, 512), (size_t)((32 + 512 * 4 + 7) / 8));
    CU_ASSERT_EQUAL(hf_qsgd_bytes(1000, 15, 512), (size_t)((2 * 32 + 1000 * 5 + 7) / 8));
    long n = 1037;
    int s = 7, bucket = 100;
    float *v = malloc((size_t)n * sizeof(float)), *d = malloc((size_t)n * sizeof(float));
    fill_normal(v, n, 3);
    uint8_t *buf = malloc(hf_qsgd_bytes(n, s, bucket));
    hf_rng_t r;
    hf_rng_init(&r, 1, HF_RNG_COMPRESS, 0, 0);
    size_t got = hf_qsgd_encode(v, n, s, bucket, &r, buf);
    CU_ASSERT_EQUAL(got, hf_qsgd_bytes(n, s, bucket));
    hf_qsgd_decode(buf, n, s, bucket, d);
    /* each decoded value is ±‖bucket‖·l/s with l ∈ [0,s], on v's side of zero */
    int ok = 1;
    for (long b0 = 0; b0 < n; b0 += bucket) {
        long m = b0 + bucket < n ? bucket : n - b0;
        double ss = 0;
        for (long i = 0; i < m; i++) ss += (double)v[b0 + i] * v[b0 + i];
        float nf = (float)sqrt(ss);
        for (long i = 0; i < m; i++) {
            double l = fabs((double)d[b0 + i]) * s / nf;
            if (fabs(l - rint(l)) > 1e-4 || l > s + 1e-4) ok = 0;
            if (d[b0 + i] != 0 && (d[b0 + i] > 0) != (v[b0 + i] > 0)) ok = 0;
            /* level is ⌊a⌋ or ⌈a⌉ */
            double a = s * fabs((double)v[b0 + i]) / nf;
            if (rint(l) < floor(a) - 1e-6 || rint(l) > ceil(a) + 1e-6) ok = 0;
        }
    }
    CU_ASSERT(ok);
    /* reproducible from the key */
    float *d2 = malloc((size_t)n * sizeof(float));
    hf_comp_cfg_t c = {HF_COMP_QSGD, s, bucket, 0};
    memcpy(d2, v, (size_t)n * sizeof(float));
    hf_rng_init(&r, 1, HF_RNG_COMPRESS, 0, 0);
    CU_ASSERT_EQUAL(hf_compress_update(&c, d2, NULL, n, &r), got);
    CU_ASSERT(memcmp(d, d2, (size_t)n * sizeof(float)) == 0);
    free(v); free(d); free(d2); free(buf);
}

/* E[Q(v)] = v: the per-coordinate sample mean over T seeded trials lies within
 * 5 standard errors of v_i everywhere (fails for a biased quantiser: e.g. with
 * deterministic rounding the error is 0 s.e. on some, hundreds on others), and
 * E‖Q(v) − v‖² ≤ min(d/s², √d/s) ‖v‖² per bucket (QSGD Lemma 3.1). */
static void test_qsgd_unbiased(void)
{
    const long n = 256;
    const int s = 2, bucket = 64, T = 4000;
    float v[256], q[256];
    fill_normal(v, n, 11);
    double sum[256] = {0}, sum2[256] = {0}, mse = 0.0;
    hf_comp_cfg_t c = {HF_COMP_QSGD, s, bucket, 0};
    for (int t = 0; t < T; t++) {
        hf_rng_t r;
        hf_rng_init(&r, 5, HF_RNG_COMPRESS, (uint64_t)t, 3);
        memcpy(q, v, sizeof q);
        hf_compress_update(&c, q, NULL, n, &r);
        for (long i = 0; i < n; i++) {
            double e = (double)q[i] - v[i];
            sum[i] += q[i];
            sum2[i] += e * e;
            mse += e * e;
        }
    }
    double worst = 0.0;
    for (long i = 0; i < n; i++) {
        double mean = sum[i] / T, var = sum2[i] / T - (mean - v[i]) * (mean - v[i]);
        double se = sqrt(var / T);
        if (se > 0) {
            double z = fabs(mean - v[i]) / se;
            if (z > worst) worst = z;
        } else {
            CU_ASSERT_DOUBLE_EQUAL(mean, v[i], 1e-6);
        }
    }
    printf("\n  QSGD s=%d: worst |mean-v|/se over %ld coords = %.2f\n", s, n, worst);
    CU_ASSERT(worst < 5.0);
    double bound = 0.0;
    for (long b0 = 0; b0 < n; b0 += bucket) {
        double ss = 0;
        for (long i = 0; i < bucket; i++) ss += (double)v[b0 + i] * v[b0 + i];
        double d = bucket;
        bound += fmin(d / (s * s), sqrt(d) / s) * ss;
    }
    mse /= T;
    printf("  QSGD E||Q(v)-v||^2 = %.3f <= bound %.3f\n", mse, bound);
    CU_ASSERT(mse <= bound);
    CU_ASSERT(mse > 0.0);
}

/* sent + new memory = update + old memory, coordinate by coordinate (bitwise:
 * each coordinate of p = Δ + e goes wholly to one side); exactly k sent, and
 * they are the k largest |p_i|. */
static void test_topk_ef(void)
{
    const long n = 1000, k = 37;
    float *d = malloc(n * sizeof(float)), *mem = malloc(n * sizeof(float));
    float *p = malloc(n * sizeof(float)), *old = malloc(n * sizeof(float));
    fill_normal(d, n, 21);
    fill_normal(mem, n, 22);
    for (long i = 0; i < n; i++) { mem[i] *= 0.3f; old[i] = mem[i]; p[i] = d[i] + mem[i]; }
    size_t bytes = hf_topk_ef(d, mem, n, k);
    CU_ASSERT_EQUAL(bytes, 4 + 8 * (size_t)k);
    long sent = 0, ok = 1;
    float minsent = INFINITY, maxkept = 0;
    for (long i = 0; i < n; i++) {
        if (d[i] + mem[i] != p[i]) ok = 0;
        if (d[i] != 0 && mem[i] != 0) ok = 0;
        if (d[i] != 0) { sent++; minsent = fminf(minsent, fabsf(d[i])); }
        else maxkept = fmaxf(maxkept, fabsf(mem[i]));
    }
    CU_ASSERT(ok);
    CU_ASSERT_EQUAL(sent, k);
    CU_ASSERT(minsent >= maxkept);
    (void)old;
    /* a second round: memory feeds back */
    float *d2 = malloc(n * sizeof(float));
    fill_normal(d2, n, 23);
    for (long i = 0; i < n; i++) p[i] = d2[i] + mem[i];
    hf_topk_ef(d2, mem, n, k);
    ok = 1;
    for (long i = 0; i < n; i++)
        if (d2[i] + mem[i] != p[i]) ok = 0;
    CU_ASSERT(ok);
    free(d); free(mem); free(p); free(old); free(d2);
}

static void test_fp16(void)
{
    CU_ASSERT_EQUAL(hf_f32_to_f16(1.0f), 0x3c00);
    CU_ASSERT_EQUAL(hf_f32_to_f16(-2.0f), 0xc000);
    CU_ASSERT_EQUAL(hf_f32_to_f16(65504.0f), 0x7bff);
    CU_ASSERT_EQUAL(hf_f32_to_f16(65520.0f), 0x7c00);      /* rounds to inf */
    CU_ASSERT_EQUAL(hf_f32_to_f16(ldexpf(1.0f, -24)), 0x0001);  /* smallest subnormal */
    CU_ASSERT_EQUAL(hf_f32_to_f16(1e-9f), 0x0000);
    CU_ASSERT_EQUAL(hf_f32_to_f16(1.0f + ldexpf(1.0f, -11)), 0x3c00);  /* tie → even */
    CU_ASSERT_EQUAL(hf_f32_to_f16(1.0f + 3 * ldexpf(1.0f, -11)), 0x3c02);
    int ok = 1;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = hf_f16_to_f32((uint16_t)h);
        if (isnan(f)) continue;
        if (hf_f32_to_f16(f) != h) ok = 0;
    }
    CU_ASSERT(ok);
    float v[3] = {0.1f, -3.14159f, 1000.5f};
    CU_ASSERT_EQUAL(hf_fp16_roundtrip(v, 3), 6u);
    CU_ASSERT_DOUBLE_EQUAL(v[1], -3.140625, 1e-9);
}

/* hf_compress_update, the entry the engine uses: top-k keeps k = ceil(ratio n) values
 * (4 + 8 k bytes), fp16 2 bytes a value, none 4 */
static void test_compress_update(void)
{
    float v[10] = {0.1f, -5, 0.2f, 4, -0.3f, 0.05f, 3, 0.0f, -0.01f, 2.5f}, mem[10] = {0};
    hf_comp_cfg_t c = {HF_COMP_TOPK, 0, 0, 0.25};
    hf_rng_t r;
    hf_rng_init(&r, 1, HF_RNG_COMPRESS, 0, 0);
    CU_ASSERT_EQUAL(hf_compress_update(&c, v, mem, 10, &r), 4 + 8 * 3u);   /* ceil(2.5) = 3 */
    float want[10] = {0, -5, 0, 4, 0, 0, 3, 0, 0, 0};
    CU_ASSERT(memcmp(v, want, sizeof v) == 0);
    CU_ASSERT_EQUAL(mem[9], 2.5f);   /* the largest value not sent waits in the memory */
    c.topk_ratio = 1e-6;             /* at least one value */
    CU_ASSERT_EQUAL(hf_compress_update(&c, v, NULL, 10, &r), 4 + 8u);
    hf_comp_cfg_t h = {HF_COMP_FP16, 0, 0, 0}, n = {HF_COMP_NONE, 0, 0, 0};
    CU_ASSERT_EQUAL(hf_compress_update(&h, v, NULL, 10, &r), 20u);
    CU_ASSERT_EQUAL(hf_compress_update(&n, v, NULL, 10, &r), 40u);
}

static const hf_cu_test_t tests_compress[] = {
    {"compress_update: top-k count, sizes", test_compress_update, NULL},
    {"qsgd encoded size and levels", test_qsgd_size, NULL},
    {"qsgd unbiased, variance bound", test_qsgd_unbiased, NULL},
    {"top-k error feedback invariant", test_topk_ef, NULL},
    {"fp16 conversions", test_fp16, NULL},
    {0},
};
static const hf_cu_suite_t suites[] = {
    {"compress", tests_compress, NULL, NULL},
    {0},
};

int main(int argc, char **argv)
{
    return hf_cu_main(&argc, &argv, 0, suites);
}
