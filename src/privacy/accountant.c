/*
 * accountant.c — RDP of the sampled Gaussian mechanism and its (ε, δ)
 * conversion (accountant.h).  Everything in log space: A_α overflows a double
 * long before the orders the grid reaches.
 */
#include "accountant.h"
#include <math.h>
#include <stddef.h>

/* log(e^a + e^b) */
static double log_add(double a, double b)
{
    double lo = fmin(a, b), hi = fmax(a, b);
    if (lo == -INFINITY) return hi;
    return hi + log1p(exp(lo - hi));
}

/* log(e^a − e^b), a ≥ b (−inf when equal) */
static double log_sub(double a, double b)
{
    if (b == -INFINITY) return a;
    if (a <= b) return -INFINITY;
    return a + log(-expm1(b - a));
}

/* log(erfc(x)), accurate where erfc underflows (asymptotic series of the tail) */
static double log_erfc(double x)
{
    double r = erfc(x);
    if (r > 0) return log(r);
    double x2 = x * x;
    return -0.5 * log(M_PI) - log(x) - x2 - 0.5 / x2 + 0.625 / (x2 * x2) - 37.0 / 24.0 / (x2 * x2 * x2) +
           353.0 / 64.0 / (x2 * x2 * x2 * x2);
}

/* integer α: A_α = Σ_i C(α,i) q^i (1−q)^(α−i) exp((i² − i) / (2σ²)) */
static double log_a_int(double q, double sigma, int alpha)
{
    double la = -INFINITY;
    for (int i = 0; i <= alpha; i++) {
        double lc = lgamma(alpha + 1.0) - lgamma(i + 1.0) - lgamma(alpha - i + 1.0);
        la = log_add(la, lc + i * log(q) + (alpha - i) * log1p(-q) + (double)(i * i - i) / (2 * sigma * sigma));
    }
    return la;
}

/* fractional α: the integral split at z0 = σ² log(1/q − 1) + 1/2, each side a
 * series in the generalised binomial coefficients C(α, i) (signs alternate
 * once i > α), summed until both terms are below e^−30 */
static double log_a_frac(double q, double sigma, double alpha)
{
    double a0 = -INFINITY, a1 = -INFINITY, coef = 1.0;
    double z0 = sigma * sigma * log(1 / q - 1) + 0.5, s2 = sqrt(2.0) * sigma;
    for (int i = 0; i < 100000; i++) {
        double j = alpha - i, lc = log(fabs(coef));
        double t0 = lc + i * log(q) + j * log1p(-q), t1 = lc + j * log(q) + i * log1p(-q);
        double e0 = log(0.5) + log_erfc((i - z0) / s2), e1 = log(0.5) + log_erfc((z0 - j) / s2);
        double s0 = t0 + (i * (double)i - i) / (2 * sigma * sigma) + e0;
        double s1 = t1 + (j * j - j) / (2 * sigma * sigma) + e1;
        if (coef > 0) { a0 = log_add(a0, s0); a1 = log_add(a1, s1); }
        else { a0 = log_sub(a0, s0); a1 = log_sub(a1, s1); }
        if (fmax(s0, s1) < -30) break;
        coef *= (alpha - i) / (i + 1.0);  /* C(α, i+1) */
    }
    return log_add(a0, a1);
}

double hf_rdp_sgm(double q, double sigma, double alpha)
{
    if (q <= 0) return 0.0;
    if (!(sigma > 0)) return INFINITY;
    if (q >= 1) return alpha / (2 * sigma * sigma);  /* the Gaussian mechanism itself */
    double la = alpha == floor(alpha) ? log_a_int(q, sigma, (int)alpha) : log_a_frac(q, sigma, alpha);
    return la / (alpha - 1);
}

const double *hf_rdp_orders(void)
{
    static double orders[HF_RDP_NORDERS];
    if (!orders[0]) {
        int n = 0;
        for (int x = 1; x < 100; x++) orders[n++] = 1 + x / 10.0;
        for (int a = 12; a < 64; a++) orders[n++] = a;
    }
    return orders;
}

double hf_rdp_epsilon(double q, double sigma, long steps, double delta, double *order)
{
    if (order) *order = NAN;
    if (steps <= 0 || q <= 0) return 0.0;
    if (!(sigma > 0)) return INFINITY;
    const double *ord = hf_rdp_orders();
    double best = INFINITY;
    for (int i = 0; i < HF_RDP_NORDERS; i++) {
        double e = (double)steps * hf_rdp_sgm(q, sigma, ord[i]) - log(delta) / (ord[i] - 1);
        if (e < best) {
            best = e;
            if (order) *order = ord[i];
        }
    }
    return best;
}
