/*
 * test_stats.c — the statistics of `hetfl reproduce` (src/cli/stats.c) and the
 * [expect] claims (src/cli/expect.c), against values computed independently:
 *   - Student t quantiles from the published tables (two-sided 95 %: 12.706,
 *     4.303, 2.776, 2.228, 2.042; 2.015 = t_{0.95,5}; 3.169 = t_{0.995,10}), and
 *     closed forms: df = 1 is Cauchy (quantile tan(π(p − ½))), df = 2 has
 *     F(t) = ½ + t / (2 √(2 + t²));
 *   - I_x(a, b) for integer a, b as a binomial sum (I_0.3(2,3) = 0.3483 by hand);
 *   - "Student"'s sleep data (Cushny & Peebles; R's `sleep`): paired t = 4.0621,
 *     df 9, two-sided p 0.002833, CI [0.7001142, 2.4598858]; Welch t = −1.8608,
 *     df 17.776, p 0.07939, CI [−3.3654832, 0.2054832] (R's t.test output, as
 *     printed in countless textbooks); the paired mean 1.58 and sd 1.229995 by hand;
 *   - the seeds a claim would need (hf_expect_seeds_needed) from t tables: mean 1,
 *     sd 2 needs 18 (t_{0.975,17} 2/√18 = 0.995 < 1, t_{0.975,16} 2/√17 = 1.028);
 *     '~ within 0.05' at mean 0.01, sd 0.02 needs 4 (3.182·0.02/2 = 0.032 < 0.04,
 *     4.303·0.02/√3 = 0.050);
 *   - NAME.why explanations attached to their claims (hf_expect_parse);
 *   - vA.METRIC2 (variant A's value of another figure) parsed into its fields
 *     and printed back, and refused where it is bad input.
 */
#include "cunit_main.h"
#include "conf.h"
#include "expect.h"
#include "hf_util.h"
#include "options.h"
#include "stats.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const double g1[10] = {0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0};
static const double g2[10] = {1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4};

static void test_betai(void)
{
    CU_ASSERT_DOUBLE_EQUAL(hf_stats_betai(1, 1, 0.37), 0.37, 1e-14);
    CU_ASSERT_DOUBLE_EQUAL(hf_stats_betai(3, 1, 0.6), 0.216, 1e-14);        /* x^a */
    CU_ASSERT_DOUBLE_EQUAL(hf_stats_betai(7.5, 7.5, 0.5), 0.5, 1e-14);      /* symmetry */
    CU_ASSERT_DOUBLE_EQUAL(hf_stats_betai(2, 3, 0.3), 0.3483, 1e-13);       /* binomial sum */
    CU_ASSERT_DOUBLE_EQUAL(hf_stats_betai(2, 3, 0.9), 1 - hf_stats_betai(3, 2, 0.1), 1e-14);
    /* I_0.8(5,4) = sum_{j=5..8} C(8,j) 0.8^j 0.2^(8-j) */
    double s = 56 * pow(0.8, 5) * pow(0.2, 3) + 28 * pow(0.8, 6) * 0.04 + 8 * pow(0.8, 7) * 0.2 + pow(0.8, 8);
    CU_ASSERT_DOUBLE_EQUAL(hf_stats_betai(5, 4, 0.8), s, 1e-13);
    CU_ASSERT(isnan(hf_stats_betai(0, 1, 0.5)));
    CU_ASSERT(isnan(hf_stats_betai(1, 1, 1.5)));
}

static void test_t_quantiles(void)
{
    /* the published table (3 decimals) */
    CU_ASSERT_DOUBLE_EQUAL(hf_stats_t_quantile(0.975, 1), 12.706, 5e-4);
    CU_ASSERT_DOUBLE_EQUAL(hf_stats_t_quantile(0.975, 2), 4.303, 5e-4);
    CU_ASSERT_DOUBLE_EQUAL(hf_stats_t_quantile(0.975, 4), 2.776, 5e-4);
    CU_ASSERT_DOUBLE_EQUAL(hf_stats_t_quantile(0.975, 10), 2.228, 5e-4);
    CU_ASSERT_DOUBLE_EQUAL(hf_stats_t_quantile(0.975, 30), 2.042, 5e-4);
    CU_ASSERT_DOUBLE_EQUAL(hf_stats_t_quantile(0.95, 5), 2.015, 5e-4);
    CU_ASSERT_DOUBLE_EQUAL(hf_stats_t_quantile(0.995, 10), 3.169, 5e-4);
    CU_ASSERT_DOUBLE_EQUAL(hf_stats_t_quantile(0.025, 4), -2.776, 5e-4);
    CU_ASSERT_DOUBLE_EQUAL(hf_stats_t_quantile(0.975, 1e7), 1.959964, 1e-5);  /* the normal's */
    /* closed forms */
    CU_ASSERT_DOUBLE_EQUAL(hf_stats_t_quantile(0.975, 1), tan(M_PI * 0.475), 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(hf_stats_t_quantile(0.9, 1), tan(M_PI * 0.4), 1e-10);
    for (double t = -5; t <= 5; t += 0.75)
        CU_ASSERT_DOUBLE_EQUAL(hf_stats_t_cdf(t, 2), 0.5 + t / (2 * sqrt(2 + t * t)), 1e-13);
    CU_ASSERT_DOUBLE_EQUAL(hf_stats_t_cdf(1, 1), 0.75, 1e-14);  /* Cauchy: ½ + atan(1)/π */
    CU_ASSERT_EQUAL(hf_stats_t_quantile(0.5, 3), 0);
    CU_ASSERT_DOUBLE_EQUAL(hf_stats_t_cdf(hf_stats_t_quantile(0.83, 7.3), 7.3), 0.83, 1e-12);
    CU_ASSERT(isnan(hf_stats_t_quantile(1, 3)));
}

static void test_paired_sleep(void)
{
    double d[10];
    for (int i = 0; i < 10; i++) d[i] = g2[i] - g1[i];
    hf_ttest_t r;
    hf_stats_paired(d, 10, &r);
    CU_ASSERT_EQUAL(r.n, 10);
    CU_ASSERT_DOUBLE_EQUAL(r.diff, 1.58, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(r.df, 9, 0);
    CU_ASSERT_DOUBLE_EQUAL(r.se, 1.229995483 / sqrt(10), 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(r.t, 4.0621, 5e-5);
    CU_ASSERT_DOUBLE_EQUAL(2 * (1 - hf_stats_t_cdf(r.t, r.df)), 0.002833, 5e-7);
    CU_ASSERT_DOUBLE_EQUAL(r.lo, 0.7001142, 5e-8);
    CU_ASSERT_DOUBLE_EQUAL(r.hi, 2.4598858, 5e-8);
    CU_ASSERT_DOUBLE_EQUAL(r.effect, 1.58 / 1.229995483, 1e-8);
    double one[1] = {2};
    hf_stats_paired(one, 1, &r);
    CU_ASSERT_EQUAL(r.n, 0);  /* no test on one value */
    double same[3] = {0.5, 0.5, 0.5};
    hf_stats_paired(same, 3, &r);
    CU_ASSERT(r.n == 3 && r.lo == 0.5 && r.hi == 0.5 && isinf(r.t) && r.t > 0);
}

static void test_welch_sleep(void)
{
    hf_ttest_t r;
    hf_stats_welch(g1, 10, g2, 10, &r);
    CU_ASSERT_EQUAL(r.paired, 0);
    CU_ASSERT_DOUBLE_EQUAL(r.diff, -1.58, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(r.t, -1.8608, 5e-5);
    CU_ASSERT_DOUBLE_EQUAL(r.df, 17.776, 5e-4);
    CU_ASSERT_DOUBLE_EQUAL(2 * hf_stats_t_cdf(r.t, r.df), 0.07939, 5e-6);
    CU_ASSERT_DOUBLE_EQUAL(r.lo, -3.3654832, 5e-7);
    CU_ASSERT_DOUBLE_EQUAL(r.hi, 0.2054832, 5e-7);
    hf_summary_t s;
    double x[5] = {1, 2, 3, 4, NAN};
    hf_stats_summary(x, 5, &s);  /* NaN left out; sd √(5/3); CI 2.5 ± 3.182 sd/2 */
    CU_ASSERT_EQUAL(s.n, 4);
    CU_ASSERT_DOUBLE_EQUAL(s.sd, sqrt(5.0 / 3), 1e-14);
    CU_ASSERT_DOUBLE_EQUAL(s.hi - s.mean, 3.182446305 * sqrt(5.0 / 3) / 2, 1e-8);
}

static hf_expect_t claim(const char *text, int nv)
{
    hf_expect_t e;
    char why[512];
    int rc = hf_expect_parse_claim(text, nv, &e, why, sizeof why);
    if (rc) printf("claim '%s': %s\n", text, why);
    CU_ASSERT_EQUAL(rc, 0);
    return e;
}

static hf_verdict_t check(const char *text, const double *b, const double *a, int n, double *p)
{
    hf_expect_t e = claim(text, 3);
    hf_expect_result_t r;
    hf_expect_check(&e, b, a, n, &r);
    if (p) *p = r.p;
    return r.verdict;
}

static void test_expect_verdicts(void)
{
    double p;
    /* sleep data as two variants over 10 seeds: v1 = g2, v0 = g1 (paired: d = g2 - g1) */
    CU_ASSERT_EQUAL(check("final_accuracy: v1 > v0", g2, g1, 10, &p), HF_VERDICT_PASS);
    CU_ASSERT_DOUBLE_EQUAL(p, 0.002833 / 2, 5e-7);                       /* one-sided */
    CU_ASSERT_EQUAL(check("final_accuracy: v1 <= v0", g2, g1, 10, &p), HF_VERDICT_FAIL);
    CU_ASSERT_EQUAL(check("final_accuracy: v1 >= v0 + 1.5", g2, g1, 10, NULL), HF_VERDICT_INCONCLUSIVE);
    CU_ASSERT_EQUAL(check("final_accuracy: v1 >= v0 + 0.7", g2, g1, 10, NULL), HF_VERDICT_PASS);   /* lo 0.7001 */
    CU_ASSERT_EQUAL(check("final_accuracy: v1 >= v0 + 0.71", g2, g1, 10, NULL), HF_VERDICT_INCONCLUSIVE);
    /* '<': CI of d - 1.5 = [-0.80, 0.96] straddles 0; of d - 2.5: [-1.80, -0.04] below it */
    CU_ASSERT_EQUAL(check("final_accuracy: v1 < v0 + 1.5", g2, g1, 10, NULL), HF_VERDICT_INCONCLUSIVE);
    CU_ASSERT_EQUAL(check("final_accuracy: v1 < v0 + 2.5", g2, g1, 10, &p), HF_VERDICT_PASS);
    CU_ASSERT_DOUBLE_EQUAL(p, hf_stats_t_cdf((1.58 - 2.5) / (1.229995483 / sqrt(10)), 9), 1e-6);
    CU_ASSERT(p < 0.025);
    CU_ASSERT_EQUAL(check("final_accuracy: v1 ~ v0 within 3", g2, g1, 10, NULL), HF_VERDICT_PASS);
    CU_ASSERT_EQUAL(check("final_accuracy: v1 ~ v0 within 0.5", g2, g1, 10, NULL), HF_VERDICT_FAIL);
    CU_ASSERT_EQUAL(check("final_accuracy: v1 ~ v0 within 2", g2, g1, 10, NULL), HF_VERDICT_INCONCLUSIVE);
    /* a factor: 2 * v0 = 2 g1; d = g2 - 2 g1, by hand mean 1.58 - 0.75 = 0.83 */
    hf_expect_t e = claim("carbon_g: v1 <= 2 * v0 - 0.1", 2);
    CU_ASSERT(e.factor == 2 && e.offset == -0.1 && e.rhs == 0 && e.lhs == 1 && e.op == HF_EX_LE);
    hf_expect_result_t r;
    hf_expect_check(&e, g2, g1, 10, &r);
    CU_ASSERT_DOUBLE_EQUAL(r.t.diff, 0.93, 1e-12);
    /* a missing value breaks the pairs: Welch */
    double g1n[10];
    memcpy(g1n, g1, sizeof g1n);
    g1n[3] = NAN;
    hf_expect_check(&e, g2, g1n, 10, &r);
    CU_ASSERT_STRING_EQUAL(r.test, "Welch t");
    CU_ASSERT_EQUAL(r.t.nx, 10);
    CU_ASSERT_EQUAL(r.t.ny, 9);
    /* against a constant: one-sample t on g2 - 1 (mean 2.33 - 1) */
    CU_ASSERT_EQUAL(check("final_accuracy: v2 >= 1", g2, NULL, 10, &p), HF_VERDICT_INCONCLUSIVE);
    CU_ASSERT_EQUAL(check("final_accuracy: v2 >= 0", g2, NULL, 10, &p), HF_VERDICT_PASS);
    /* one seed: no test */
    CU_ASSERT_EQUAL(check("final_accuracy: v1 > v0", g2, g1, 1, NULL), HF_VERDICT_INCONCLUSIVE);
    /* identical differences: exact */
    double a3[3] = {1, 2, 3}, b3[3] = {2, 3, 4};
    CU_ASSERT_EQUAL(check("bytes: v1 >= v0 + 1", b3, a3, 3, NULL), HF_VERDICT_PASS);
    CU_ASSERT_EQUAL(check("bytes: v1 > v0 + 1", b3, a3, 3, NULL), HF_VERDICT_FAIL);
}

static void test_expect_syntax(void)
{
    static const struct { const char *text, *why; } bad[] = {
        {"final_accuracy v1 > v0", "expected 'METRIC: vB OP RHS'"},
        {"final_acuracy: v1 > v0", "unknown metric 'final_acuracy'"},
        {"rounds_to_target: v1 < v0", "needs a target accuracy"},
        {"rounds_to_target@1.5: v1 < v0", "expected an accuracy in (0, 1]"},
        {"final_accuracy@0.8: v1 < v0", "is not a \"to target\" figure"},
        {"final_accuracy: v3 > v0", "variant v3 does not exist: the suite has 2 variants"},
        {"final_accuracy: v1 > v2", "variant v2 does not exist"},
        {"final_accuracy: v1 = v0", "expected an operator"},
        {"final_accuracy: v1 > v1", "compared with itself"},
        {"final_accuracy: v1 ~ v0", "needs a tolerance"},
        {"final_accuracy: v1 > v0 within 2", "'within' goes with '~' only"},
        {"final_accuracy: v1 > -2 * v0", "positive number before '*'"},
        {"final_accuracy: v1 > v0 - x", "non-negative number after '-'"},
        {"final_accuracy: v1 > v0 extra", "unexpected text 'extra'"},
        {"final_accuracy: x1 > v0", "expected a variant"},
        {"final_accuracy: v1 >", "expected a variant (v0, v1, ...) or a number"},
        /* vA.METRIC2: variant A's value of another figure */
        {"final_accuracy: v1 > v0.final_acuracy", "unknown metric 'final_acuracy'"},
        {"final_accuracy: v1 > v0.rounds_to_target - 1", "'rounds_to_target' needs a target accuracy"},
        {"final_accuracy: v1 > v0.bytes@0.8", "is not a \"to target\" figure"},
        {"final_accuracy: v1.bytes > v0", "v1.bytes: only the right-hand side's variant names another figure"},
        {"final_accuracy: v1 > v1.final_accuracy", "compared with itself"},
        {"final_accuracy: v1 > v0.", "expected a variant"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        hf_expect_t e;
        char why[2048];
        int rc = hf_expect_parse_claim(bad[i].text, 2, &e, why, sizeof why);
        CU_ASSERT_EQUAL(rc, -1);
        if (rc != -1 || !strstr(why, bad[i].why)) printf("'%s': got '%s', want '%s'\n", bad[i].text, why, bad[i].why);
        CU_ASSERT_PTR_NOT_NULL(strstr(why, bad[i].why));
    }
    hf_expect_t e = claim("rounds_to_target@0.75:v1<0.9*v0+2", 2);
    CU_ASSERT(e.target == 0.75 && e.op == HF_EX_LT && e.factor == 0.9 && e.offset == 2);
    e = claim("final_accuracy_width_0.2: v1 ~ v0 within 0.01", 2);
    CU_ASSERT(e.op == HF_EX_NEAR && e.within == 0.01 && isnan(e.target));
    char d[256];
    hf_expect_describe(&e, d, sizeof d);
    CU_ASSERT_STRING_EQUAL(d, "v1 ~ v0 within 0.01");
    CU_ASSERT(e.rmetric[0] == 0 && isnan(e.rtarget));
    /* vA.METRIC2, with a factor, a target and a margin; a variant against its own other figure */
    e = claim("final_accuracy: v1 > 2 * v0.rounds_to_target@0.5 - 1", 2);
    CU_ASSERT(e.lhs == 1 && e.rhs == 0 && e.factor == 2 && e.offset == -1 && e.rtarget == 0.5 && isnan(e.target));
    CU_ASSERT_STRING_EQUAL(e.metric, "final_accuracy");
    CU_ASSERT_STRING_EQUAL(e.rmetric, "rounds_to_target");
    hf_expect_describe(&e, d, sizeof d);
    CU_ASSERT_STRING_EQUAL(d, "v1 > 2 * v0.rounds_to_target@0.5 - 1");
    e = claim("final_accuracy_width_1: v1 > v1.final_accuracy_width_0.0625", 2);
    CU_ASSERT(e.lhs == 1 && e.rhs == 1 && e.factor == 1 && e.offset == 0 && isnan(e.rtarget));
    CU_ASSERT_STRING_EQUAL(e.rmetric, "final_accuracy_width_0.0625");
    hf_expect_describe(&e, d, sizeof d);
    CU_ASSERT_STRING_EQUAL(d, "v1 > v1.final_accuracy_width_0.0625");
}

/* Two values with mean m and sample sd s: m ∓ s/√2. */
static int needed(const char *text, double m, double s)
{
    double b[2] = {m - s / sqrt(2.0), m + s / sqrt(2.0)};
    hf_expect_t e = claim(text, 2);
    hf_expect_result_t r;
    hf_expect_check(&e, b, NULL, 2, &r);
    CU_ASSERT_EQUAL(r.verdict, HF_VERDICT_INCONCLUSIVE);
    return hf_expect_seeds_needed(&e, &r);
}

static void test_expect_seeds_needed(void)
{
    CU_ASSERT_EQUAL(needed("final_accuracy: v0 > 0", 1, 2), 18);
    CU_ASSERT_EQUAL(needed("final_accuracy: v0 < 2", 1, 2), 18);
    CU_ASSERT_EQUAL(needed("final_accuracy: v0 ~ 0 within 0.05", 0.01, 0.02), 4);
    CU_ASSERT_EQUAL(needed("final_accuracy: v0 >= 2", 1, 2), -1);   /* mean on the wrong side */
    CU_ASSERT_EQUAL(needed("final_accuracy: v0 ~ 0 within 0.05", 0.06, 0.02), -1);
    CU_ASSERT_EQUAL(needed("final_accuracy: v0 > 0", 1e-9, 2), HF_EXPECT_SEEDS_MAX + 1);
    /* Welch (a value missing): no figure */
    const double b[3] = {1, 2, NAN}, a[3] = {0, 1, 2};
    hf_expect_t e = claim("final_accuracy: v1 > v0", 2);
    hf_expect_result_t r;
    hf_expect_check(&e, b, a, 3, &r);
    CU_ASSERT_EQUAL(hf_expect_seeds_needed(&e, &r), 0);
}

static void test_expect_why(void)
{
    hf_conf_t c = {0};
    const char *text = "[expect]\na = final_accuracy: v0 > 0\nb.c = final_accuracy: v0 > 1\n"
                       "b.c.why = measured: dotted name\na.why = within seed noise\n";
    CU_ASSERT_EQUAL_FATAL(hf_conf_load_string(&c, text, "w.conf", hf_options_table(), NULL, 0, -1), 0);
    hf_expect_t *e;
    int n;
    CU_ASSERT_EQUAL_FATAL(hf_expect_parse(&c, 1, &e, &n), 0);
    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT_STRING_EQUAL(e[0].name, "a");
    CU_ASSERT_STRING_EQUAL(e[0].why, "within seed noise");
    CU_ASSERT_STRING_EQUAL(e[1].name, "b.c");
    CU_ASSERT_STRING_EQUAL(e[1].why, "measured: dotted name");
    free(e);
    hf_conf_free(&c);
    memset(&c, 0, sizeof c);
    CU_ASSERT_EQUAL_FATAL(hf_conf_load_string(&c, "[expect]\na = final_accuracy: v0 > 0\nb.why = orphan\n", "w.conf",
                                              hf_options_table(), NULL, 0, -1), 0);
    CU_ASSERT_EQUAL(hf_expect_parse(&c, 1, &e, &n), HF_EINPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(hf_errmsg(), "w.conf:3: key 'b.why': no claim of that name in [expect]"));
    hf_clearerr();
    hf_conf_free(&c);
}

static const hf_cu_test_t stats_tests[] = {
    {"incomplete beta", test_betai, NULL},
    {"t quantiles and CDF: tables and closed forms", test_t_quantiles, NULL},
    {"paired t: Student's sleep data", test_paired_sleep, NULL},
    {"Welch t: Student's sleep data", test_welch_sleep, NULL},
    {0}
};
static const hf_cu_test_t expect_tests[] = {
    {"verdicts", test_expect_verdicts, NULL},
    {"claim syntax and errors", test_expect_syntax, NULL},
    {"seeds a claim would need", test_expect_seeds_needed, NULL},
    {"NAME.why explanations", test_expect_why, NULL},
    {0}
};
static const hf_cu_suite_t suites[] = {{"stats", stats_tests, NULL, NULL}, {"expect", expect_tests, NULL, NULL}, {0}};

int main(int argc, char **argv) { return hf_cu_main(&argc, &argv, 0, suites); }
