/*
 * stats.c — Student's t distribution and the t-tests of `hetfl reproduce`
 * (stats.h).  The incomplete beta function follows the classic continued
 * fraction (Press et al., Numerical Recipes, 2nd ed., §6.4): I_x(a,b) =
 * x^a (1-x)^b / (a B(a,b)) · 1/(1+ d1/(1+ d2/(1+ ...))), evaluated with the
 * modified Lentz method, using the symmetry I_x(a,b) = 1 - I_{1-x}(b,a) where
 * the fraction converges slowly.  The t CDF is 1 - I_{df/(df+t²)}(df/2, 1/2)/2
 * for t > 0; its quantile is found by bisection on the CDF (monotone, 200
 * halvings: exact to the last bits).
 */
#include "stats.h"
#include <math.h>

static double betacf(double a, double b, double x)
{
    const double tiny = 1e-300, eps = 1e-15;
    double qab = a + b, qap = a + 1, qam = a - 1;
    double c = 1, d = 1 - qab * x / qap;
    if (fabs(d) < tiny) d = tiny;
    d = 1 / d;
    double h = d;
    for (int m = 1; m <= 10000; m++) {
        int m2 = 2 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < eps) break;
    }
    return h;
}

double hf_stats_betai(double a, double b, double x)
{
    if (!(a > 0) || !(b > 0) || !(x >= 0) || !(x <= 1)) return NAN;
    if (x == 0 || x == 1) return x;
    double lbt = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    if (x < (a + 1) / (a + b + 2)) return exp(lbt) * betacf(a, b, x) / a;
    return 1 - exp(lbt) * betacf(b, a, 1 - x) / b;
}

double hf_stats_t_cdf(double t, double df)
{
    if (isnan(t) || !(df > 0)) return NAN;
    if (isinf(t)) return t > 0 ? 1 : 0;
    double tail = 0.5 * hf_stats_betai(df / 2, 0.5, df / (df + t * t));  /* P(T > |t|) */
    return t > 0 ? 1 - tail : tail;
}

double hf_stats_t_quantile(double p, double df)
{
    if (!(p > 0 && p < 1) || !(df > 0)) return NAN;
    if (p == 0.5) return 0;
    double lo = 0, hi = 1;
    int up = p > 0.5;
    double q = up ? p : 1 - p;  /* upper half, by symmetry */
    while (hf_stats_t_cdf(hi, df) < q && hi < 1e300) hi *= 2;
    for (int i = 0; i < 200; i++) {
        double mid = 0.5 * (lo + hi);
        if (hf_stats_t_cdf(mid, df) < q) lo = mid;
        else hi = mid;
    }
    double t = 0.5 * (lo + hi);
    return up ? t : -t;
}

void hf_stats_summary(const double *x, int n, hf_summary_t *s)
{
    double sum = 0, ss = 0;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(x[i])) { sum += x[i]; k++; }
    s->n = k;
    s->mean = k ? sum / k : NAN;
    for (int i = 0; i < n; i++)
        if (!isnan(x[i])) ss += (x[i] - s->mean) * (x[i] - s->mean);
    s->sd = k > 1 ? sqrt(ss / (k - 1)) : NAN;
    double h = k > 1 ? hf_stats_t_quantile(0.975, k - 1) * s->sd / sqrt(k) : NAN;
    s->lo = s->mean - h;
    s->hi = s->mean + h;
}

static void test_finish(hf_ttest_t *r)
{
    if (r->se > 0) {
        double h = hf_stats_t_quantile(0.975, r->df) * r->se;
        r->t = r->diff / r->se;
        r->lo = r->diff - h;
        r->hi = r->diff + h;
    } else {  /* no spread: the difference is what it is */
        r->t = r->diff > 0 ? INFINITY : r->diff < 0 ? -INFINITY : 0;
        r->lo = r->hi = r->diff;
    }
}

void hf_stats_paired(const double *d, int n, hf_ttest_t *r)
{
    hf_summary_t s;
    hf_stats_summary(d, n, &s);
    *r = (hf_ttest_t){.paired = 1, .n = s.n, .nx = s.n, .ny = s.n, .diff = NAN, .se = NAN, .df = NAN,
                      .t = NAN, .lo = NAN, .hi = NAN, .effect = NAN};
    if (s.n < 2) { r->n = 0; return; }
    r->diff = s.mean;
    r->df = s.n - 1;
    r->se = s.sd / sqrt(s.n);
    r->effect = s.sd > 0 ? s.mean / s.sd : r->t;
    test_finish(r);
    if (!(s.sd > 0)) r->effect = r->t;
}

void hf_stats_welch(const double *x, int nx, const double *y, int ny, hf_ttest_t *r)
{
    hf_summary_t a, b;
    hf_stats_summary(x, nx, &a);
    hf_stats_summary(y, ny, &b);
    *r = (hf_ttest_t){.paired = 0, .n = a.n + b.n, .nx = a.n, .ny = b.n, .diff = NAN, .se = NAN, .df = NAN,
                      .t = NAN, .lo = NAN, .hi = NAN, .effect = NAN};
    if (a.n < 2 || b.n < 2) { r->n = 0; return; }
    double vx = a.sd * a.sd / a.n, vy = b.sd * b.sd / b.n;
    r->diff = a.mean - b.mean;
    r->se = sqrt(vx + vy);
    /* Welch–Satterthwaite; both variances 0: any df (the CI is a point) */
    r->df = r->se > 0 ? (vx + vy) * (vx + vy) / (vx * vx / (a.n - 1) + vy * vy / (b.n - 1)) : a.n + b.n - 2;
    test_finish(r);
    double sp = sqrt((a.sd * a.sd + b.sd * b.sd) / 2);
    r->effect = sp > 0 ? r->diff / sp : r->t;
}
