/*
 * rng.c — Philox4x32-10 (Salmon et al., SC'11) counter-based generator and the
 * distributions hetfl needs.  The stream key (seed, a, b, c) is hashed with
 * splitmix64 into the Philox key (seed) and the upper counter words (a, b, c).
 */
#include "rng.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void hf_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int i = 0; i < 10; i++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n1 = (uint32_t)p1;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        uint32_t n3 = (uint32_t)p0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

void hf_rng_bij_init(hf_rng_bij_t *b, hf_rng_t *r, uint32_t n)
{
    b->n = n;
    b->half = 1;
    while (b->half < 16 && ((uint64_t)1 << (2 * b->half)) < n) b->half++;
    for (int i = 0; i < 4; i++) b->key[i] = hf_rng_u64(r);
}

uint32_t hf_rng_bij_at(const hf_rng_bij_t *b, uint32_t i)
{
    uint32_t h = b->half, mask = (uint32_t)(((uint64_t)1 << h) - 1), x = i;
    do {
        uint32_t l = x >> h, rr = x & mask;
        for (int j = 0; j < 4; j++) {
            uint32_t t = l ^ ((uint32_t)splitmix64(rr ^ b->key[j]) & mask);
            l = rr;
            rr = t;
        }
        x = (l << h) | rr;
    } while (x >= b->n);
    return x;
}

void hf_rng_init(hf_rng_t *r, uint64_t seed, uint64_t a, uint64_t b, uint64_t c)
{
    memset(r, 0, sizeof *r);
    uint64_t k = splitmix64(seed);
    uint64_t s = splitmix64(a ^ splitmix64(b ^ splitmix64(c ^ 0x5851F42D4C957F2Dull)));
    r->key[0] = (uint32_t)k;
    r->key[1] = (uint32_t)(k >> 32);
    r->ctr[2] = (uint32_t)s;
    r->ctr[3] = (uint32_t)(s >> 32);
}

uint32_t hf_rng_u32(hf_rng_t *r)
{
    if (r->avail == 0) {
        hf_philox4x32(r->ctr, r->key, r->out);
        if (++r->ctr[0] == 0) ++r->ctr[1];
        r->avail = 4;
    }
    return r->out[4 - r->avail--];
}

uint64_t hf_rng_u64(hf_rng_t *r)
{
    uint64_t hi = hf_rng_u32(r);
    return (hi << 32) | hf_rng_u32(r);
}

double hf_rng_uniform(hf_rng_t *r)
{
    /* 53 random bits, offset by half a step: strictly inside (0,1). */
    return ((double)(hf_rng_u64(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

uint64_t hf_rng_below(hf_rng_t *r, uint64_t n)
{
    if (n <= 1) return 0;
    uint64_t lim = UINT64_MAX - UINT64_MAX % n;  /* reject the biased tail */
    uint64_t x;
    do x = hf_rng_u64(r); while (x >= lim);
    return x % n;
}

double hf_rng_normal(hf_rng_t *r)
{
    if (r->has_spare) { r->has_spare = 0; return r->spare; }
    double u = hf_rng_uniform(r), v = hf_rng_uniform(r);
    double rad = sqrt(-2.0 * log(u));
    r->spare = rad * sin(2.0 * M_PI * v);
    r->has_spare = 1;
    return rad * cos(2.0 * M_PI * v);
}

double hf_rng_lognormal(hf_rng_t *r, double mu, double sigma)
{
    return exp(mu + sigma * hf_rng_normal(r));
}

double hf_rng_gamma(hf_rng_t *r, double shape)
{
    if (shape <= 0) return 0.0;
    if (shape < 1.0) {  /* boost: Gamma(a) = Gamma(a+1) * U^(1/a) */
        double g = hf_rng_gamma(r, shape + 1.0);
        return g * pow(hf_rng_uniform(r), 1.0 / shape);
    }
    double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x, v;
        do { x = hf_rng_normal(r); v = 1.0 + c * x; } while (v <= 0.0);
        v = v * v * v;
        double u = hf_rng_uniform(r);
        if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
        if (log(u) < 0.5 * x * x + d * (1.0 - v + log(v))) return d * v;
    }
}

double hf_rng_exponential(hf_rng_t *r, double rate)
{
    return -log(hf_rng_uniform(r)) / rate;
}

double hf_rng_weibull(hf_rng_t *r, double shape, double scale)
{
    return scale * pow(-log(hf_rng_uniform(r)), 1.0 / shape);
}

void hf_rng_dirichlet(hf_rng_t *r, double alpha, int k, double *out)
{
    double sum = 0.0;
    for (int i = 0; i < k; i++) { out[i] = hf_rng_gamma(r, alpha); sum += out[i]; }
    if (sum <= 0.0) {  /* all underflowed (tiny alpha): put the mass on one coordinate */
        for (int i = 0; i < k; i++) out[i] = 0.0;
        out[hf_rng_below(r, (uint64_t)k)] = 1.0;
        return;
    }
    for (int i = 0; i < k; i++) out[i] /= sum;
}

void hf_rng_permutation(hf_rng_t *r, int n, int *out)
{
    for (int i = 0; i < n; i++) out[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)hf_rng_below(r, (uint64_t)i + 1);
        int t = out[i]; out[i] = out[j]; out[j] = t;
    }
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Floyd's algorithm: for j = n-k .. n-1, draw t in [0, j]; take t unless taken, else j.
 * Membership is checked with a small open-addressing hash set. */
void hf_rng_sample(hf_rng_t *r, int n, int k, int *out)
{
    if (k > n) k = n;
    if (k <= 0) return;
    size_t cap = 16;
    while (cap < (size_t)k * 2) cap <<= 1;
    int *set = malloc(cap * sizeof(int));
    if (!set) abort();
    for (size_t i = 0; i < cap; i++) set[i] = -1;
    int m = 0;
    for (int j = n - k; j < n; j++) {
        int t = (int)hf_rng_below(r, (uint64_t)j + 1);
        int pick = t;
        for (int pass = 0; pass < 2; pass++) {
            size_t h = ((uint64_t)pick * 0x9E3779B97F4A7C15ull) >> 20 & (cap - 1);
            int found = 0;
            while (set[h] != -1) {
                if (set[h] == pick) { found = 1; break; }
                h = (h + 1) & (cap - 1);
            }
            if (!found) { set[h] = pick; out[m++] = pick; break; }
            pick = j;  /* t was taken: take j, which cannot be taken yet */
        }
    }
    free(set);
    qsort(out, (size_t)k, sizeof(int), cmp_int);
}
