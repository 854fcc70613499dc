/*
 * cunit_main.h — the body of every CUnit test program's main(), in one place.
 *
 * A test program lists its tests in tables and hands them over:
 *
 *     static const hf_cu_test_t agg_tests[] = {
 *         {"fixed-point scale exponents", test_scale_exp, NULL},
 *         {"fashion-mnist", test_fmnist, fmnist_absent},   // skipped when it returns a reason
 *         {0}
 *     };
 *     static const hf_cu_suite_t suites[] = {{"agg", agg_tests, NULL, NULL}, {0}};
 *     int main(int argc, char **argv) { return hf_cu_main(&argc, &argv, HF_CU_MPI, suites); }
 *
 * hf_cu_main initialises MPI when asked (HF_CU_MPI: tests that call the MPI
 * parts of the library), registers the suites, runs them in verbose mode,
 * prints one summary line and returns the exit status automake expects:
 * 0 when every assertion passed, 1 on any failed assertion, failed suite
 * initialisation or framework error.  A test whose skip() returns a reason is
 * registered inactive and reported as skipped, never as failed.
 *
 * Header-only (static functions): include it from exactly one file per program.
 */
#ifndef HF_CUNIT_MAIN_H
#define HF_CUNIT_MAIN_H

#include <CUnit/Basic.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>

typedef struct {
    const char *name;
    void (*fn)(void);
    const char *(*skip)(void);   /* optional: NULL = always run; else a reason to skip, or NULL */
} hf_cu_test_t;

typedef struct {
    const char *name;
    const hf_cu_test_t *tests;   /* ends with {0} */
    int (*init)(void);           /* optional suite set-up and tear-down (CUnit semantics) */
    int (*clean)(void);
} hf_cu_suite_t;

enum { HF_CU_MPI = 1 };

/* The largest |a[i] - b[i]| of n floats; *max_b (may be NULL) gets the largest
 * |b[i]|, the scale of a relative tolerance. */
static inline double hf_cu_max_diff(const float *a, const float *b, long n, double *max_b)
{
    double d = 0, m = 0;
    for (long i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        m = fmax(m, fabs((double)b[i]));
    }
    if (max_b) *max_b = m;
    return d;
}

static int hf_cu_register(const hf_cu_suite_t *suites)
{
    for (const hf_cu_suite_t *s = suites; s->name; s++) {
        CU_pSuite cs = CU_add_suite(s->name, s->init, s->clean);
        if (!cs) return -1;
        for (const hf_cu_test_t *t = s->tests; t->name; t++) {
            CU_pTest ct = CU_add_test(cs, t->name, t->fn);
            if (!ct) return -1;
            const char *why = t->skip ? t->skip() : NULL;
            if (why) {
                printf("SKIP: %s: %s\n", t->name, why);
                CU_set_test_active(ct, CU_FALSE);
            }
        }
    }
    return 0;
}

static int hf_cu_main(int *argc, char ***argv, unsigned flags, const hf_cu_suite_t *suites)
{
    if (flags & HF_CU_MPI) MPI_Init(argc, argv);
    int bad = CU_initialize_registry() != CUE_SUCCESS;
    if (!bad) {
        CU_set_fail_on_inactive(CU_FALSE);
        bad = hf_cu_register(suites) != 0;
        if (bad) fprintf(stderr, "CUnit: cannot register the tests: %s\n", CU_get_error_msg());
    }
    if (!bad) {
        CU_basic_set_mode(CU_BRM_VERBOSE);
        bad = CU_basic_run_tests() != CUE_SUCCESS;
        unsigned fails = CU_get_number_of_failures();
        unsigned sfail = CU_get_number_of_suites_failed();
        printf("\n%s: %u assertions, %u failed; %u tests failed, %u inactive; %u suites failed\n",
               *argc > 0 ? (*argv)[0] : "test", CU_get_number_of_asserts(), fails,
               CU_get_number_of_tests_failed(), CU_get_number_of_tests_inactive(), sfail);
        bad = bad || fails || CU_get_number_of_tests_failed() || sfail;
    }
    CU_cleanup_registry();
    if (flags & HF_CU_MPI) MPI_Finalize();
    return bad ? 1 : 0;
}

#endif
