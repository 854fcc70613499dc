/*
 * expect.h — a suite's [expect] section: what the suite claims, as data that
 * `hetfl reproduce` checks over seeds and `hetfl validate` checks for syntax.
 *
 * One claim a line, `NAME = CLAIM`:
 *     CLAIM  := METRIC[@TARGET] ':' vB OP RHS [within W]
 *     RHS    := NUMBER | [F '*'] vA['.'METRIC2[@TARGET]] [('+' | '-') M]
 *     OP     := '<' | '<=' | '>' | '>=' | '~'   ('~' needs `within W`: |vB - RHS| < W)
 * METRIC is a figure of `hetfl report` (its CSV column names: final_accuracy,
 * carbon_g, rounds_to_target, final_accuracy_width_0.2, ...); "to target"
 * figures name their target accuracy: rounds_to_target@0.8.  vN is sweep
 * variant N (`hetfl expand`; v0 in a suite without a sweep).  vA.METRIC2
 * takes variant A's value of another figure (default: METRIC), for claims
 * whose two sides are different figures: HeteroFL's e-only run is judged by
 * its width-1/16 model, the other runs by their width-1 model.  Examples:
 *     carbon   = carbon_g: v1 <= 0.8 * v0          # B's carbon at most 80 % of A's
 *     accuracy = final_accuracy: v1 >= v0 - 0.02   # B's accuracy within 0.02 of A's
 *     target   = final_accuracy: v0 >= 0.8         # one variant against a constant
 *     same     = final_accuracy: v1 ~ v0 within 0.01
 *     narrow   = final_accuracy: v2 > v3.final_accuracy_width_0.0625
 *
 * The test (hf_expect_check): the difference D = vB - RHS per seed.  Where both
 * variants have a value for the same seeds (at least 2): a paired t-test on the
 * per-seed D; otherwise Welch's t-test of vB against the RHS values; against a
 * constant a one-sample t-test.  Verdict from the two-sided 95 % confidence
 * interval of the mean D (one-sided α = 0.025 each way):
 *     '>' '>=': PASS when the CI lies above 0, FAIL when below 0;
 *     '<' '<=': PASS below 0, FAIL above 0;
 *     '~':      PASS inside (-W, W) (two one-sided tests), FAIL wholly outside;
 * INCONCLUSIVE otherwise, or with fewer than 2 values.  p is the one-sided
 * p-value of "the claim is false" (for '~', the larger of the two TOST p-values).
 *
 * Explanations: `NAME.why = TEXT` in [expect] attaches TEXT to claim NAME (a
 * measured reason for a FAIL or INCONCLUSIVE verdict, which `hetfl reproduce`
 * prints beside it; a key ending in `.why` is always an explanation, never a
 * claim).  A `.why` without its claim is bad input.
 */
#ifndef HF_EXPECT_H
#define HF_EXPECT_H
#include "conf.h"
#include "stats.h"

typedef enum { HF_EX_LT, HF_EX_LE, HF_EX_GT, HF_EX_GE, HF_EX_NEAR } hf_expect_op_t;

typedef struct {
    char name[64];
    char text[512];      /* the claim as written */
    char origin[256];    /* FILE:LINE */
    char metric[64];
    double target;       /* @TARGET, NaN when none */
    int lhs;             /* variant B */
    hf_expect_op_t op;
    int rhs;             /* variant A, -1 for a constant */
    char rmetric[64];    /* vA.METRIC2: variant A's figure ("" = metric) */
    double rtarget;      /* METRIC2's @TARGET, NaN when none */
    double factor;       /* F (1 when absent) */
    double offset;       /* M with its sign, or the constant */
    double within;       /* W for '~' (NaN otherwise) */
    char why[1024];      /* NAME.why: the measured explanation of a non-PASS verdict ("" = none) */
} hf_expect_t;

typedef enum { HF_VERDICT_PASS, HF_VERDICT_FAIL, HF_VERDICT_INCONCLUSIVE } hf_verdict_t;
extern const char *const hf_verdict_names[3];

typedef struct {
    hf_verdict_t verdict;
    hf_ttest_t t;        /* the test on D = vB - RHS */
    double p;            /* one-sided p of "the claim is false" (NaN without a test) */
    const char *test;    /* "paired t", "Welch t", "one-sample t", or why there is none */
} hf_expect_result_t;

/* Parse every [expect] line of c against nvariants variants.  0 (*out, *n:
 * caller frees *out), or HF_EINPUT "FILE:LINE: key 'NAME': what is wrong". */
int hf_expect_parse(const hf_conf_t *c, int nvariants, hf_expect_t **out, int *n);
/* Parse one claim; why gets the reason on failure (returns -1). */
int hf_expect_parse_claim(const char *text, int nvariants, hf_expect_t *e, char *why, size_t nwhy);

/* Check e on values xb[s], xa[s] (s = 0..nseeds-1, the same seeds in both; NaN =
 * missing).  xa is ignored for a constant right-hand side. */
void hf_expect_check(const hf_expect_t *e, const double *xb, const double *xa, int nseeds,
                     hf_expect_result_t *r);
/* Seeds a paired (or one-sample) test would need for a PASS if the mean and sd
 * of D stayed as measured: the least N with t_{0.975,N-1} sd/√N below the
 * margin (|D| for an ordering, W − |D| for '~').  0: no such figure (Welch,
 * fewer than 2 values, no spread); -1: the mean D is on the wrong side (no
 * number of seeds makes it PASS); HF_EXPECT_SEEDS_MAX + 1: more than that. */
#define HF_EXPECT_SEEDS_MAX 100000
int hf_expect_seeds_needed(const hf_expect_t *e, const hf_expect_result_t *r);
/* "v1 <= 0.8 * v0" style text of the comparison (without the metric). */
void hf_expect_describe(const hf_expect_t *e, char *buf, size_t n);

#endif
