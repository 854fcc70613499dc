/*
 * stats.h — the statistics of `hetfl reproduce`: Student's t distribution
 * (through the regularized incomplete beta function), sample summaries with a
 * 95 % confidence interval, and the paired and Welch t-tests that check a
 * suite's expectations.  Small, dependency-free numerical routines; the tests
 * (tests/test_stats.c) pin them against published table values.
 */
#ifndef HF_STATS_H
#define HF_STATS_H

/* I_x(a, b), the regularized incomplete beta function, a, b > 0, 0 <= x <= 1
 * (continued fraction, modified Lentz; relative accuracy about 1e-14). */
double hf_stats_betai(double a, double b, double x);
/* P(T <= t) for Student's t with df > 0 degrees of freedom (df may be fractional). */
double hf_stats_t_cdf(double t, double df);
/* The p-quantile of Student's t, 0 < p < 1: t_{0.975,4} = 2.776... */
double hf_stats_t_quantile(double p, double df);

/* n values (NaN ignored): mean, sample sd (n-1), 95 % CI of the mean
 * (mean ± t_{0.975,n-1} sd/√n).  sd and the CI are NaN below 2 values. */
typedef struct {
    int n;
    double mean, sd, lo, hi;
} hf_summary_t;
void hf_stats_summary(const double *x, int n, hf_summary_t *s);

/* A t-test of the mean difference Δ (two-sided 95 % CI [lo, hi]):
 *   paired  Δ = mean of d_i, se = sd(d)/√n, df = n-1 (a one-sample test on d)
 *   welch   Δ = mean(x) - mean(y), se = √(sx²/nx + sy²/ny), Welch–Satterthwaite df
 * effect: Cohen's d (paired: Δ/sd(d), d_z; Welch: Δ/√((sx²+sy²)/2)).
 * se = 0 (identical differences): t = ±inf, CI [Δ, Δ].  Fewer than 2 values
 * (each sample, for Welch): n = 0 and every figure NaN. */
typedef struct {
    int paired;            /* 1 paired (or one-sample), 0 Welch */
    int n, nx, ny;         /* pairs (paired); sizes (Welch) */
    double diff, se, df, t, lo, hi, effect;
} hf_ttest_t;
void hf_stats_paired(const double *d, int n, hf_ttest_t *r);
void hf_stats_welch(const double *x, int nx, const double *y, int ny, hf_ttest_t *r);

#endif
