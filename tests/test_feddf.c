/*
 * test_feddf.c — FedDF's out-of-distribution server set (feddf.server_data =
 * noise, src/strategies/feddf.c): every value is lo + (hi − lo)·u for the
 * uniforms u of the keyed stream (seed, HF_RNG_DISTILL, 2^32, 0) in row-major
 * order (token ids: ⌊u·vocab⌋), so the set is the same on every rank and after
 * a resume; another seed gives another set.
 */
#include "cunit_main.h"
#include <math.h>
#include "feddf.h"
#include "rng.h"

static void test_noise_from_keyed_rng(void)
{
    float x[4 * 3], o[4 * 3];
    hf_feddf_noise(x, 4, 3, -1.0, 3.0, 0, 7);
    hf_rng_t r;
    hf_rng_init(&r, 7, HF_RNG_DISTILL, 1ull << 32, 0);
    for (int j = 0; j < 12; j++) {
        double u = hf_rng_uniform(&r);
        CU_ASSERT_EQUAL(x[j], (float)(-1.0 + 4.0 * u));
        CU_ASSERT(x[j] >= -1.0f && x[j] <= 3.0f);
    }
    hf_feddf_noise(o, 4, 3, -1.0, 3.0, 0, 8);
    int same = 0;
    for (int j = 0; j < 12; j++) same += o[j] == x[j];
    CU_ASSERT_EQUAL(same, 0);  /* another seed, another set */
}

static void test_noise_token_ids(void)
{
    float x[50];
    hf_feddf_noise(x, 10, 5, 0.0, 0.0, 80, 3);
    hf_rng_t r;
    hf_rng_init(&r, 3, HF_RNG_DISTILL, 1ull << 32, 0);
    for (int j = 0; j < 50; j++) {
        double u = hf_rng_uniform(&r);
        CU_ASSERT_EQUAL(x[j], floorf((float)floor(u * 80)));
        CU_ASSERT(x[j] >= 0 && x[j] < 80);
    }
}

static const hf_cu_test_t feddf_tests[] = {
    {"noise server set from the keyed stream", test_noise_from_keyed_rng, NULL},
    {"noise token ids over the vocabulary", test_noise_token_ids, NULL},
    {0},
};
static const hf_cu_suite_t suites[] = {{"feddf", feddf_tests, NULL, NULL}, {0}};
int main(int argc, char **argv) { return hf_cu_main(&argc, &argv, 0, suites); }
