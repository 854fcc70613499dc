/*
 * compress.c — QSGD, top-k with error feedback and fp16 (see compress.h).
 *
 * QSGD layout, per bucket of d_b ≤ bucket values: the bucket's L2 norm as a
 * little-endian float32, then for each value one sign bit and its level
 * l ∈ [0, s] in ⌈log2(s+1)⌉ bits, packed LSB-first and continuing across bucket
 * boundaries; the stream is padded to a whole byte once at the end.
 * Stochastic rounding: a = s|v_i|/‖v‖, l = ⌊a⌋ + [u < a − ⌊a⌋], u ~ U(0,1), so
 * E[‖v‖ sgn(v_i) l/s] = v_i (unbiased) and Var ≤ min(d/s², √d/s)‖v‖² (QSGD Lemma 3.1).
 */
#include "compress.h"
#include "hf_util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const comp_names[] = {"none", "qsgd", "topk", "fp16"};

int hf_comp_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, comp_names[i])) return i;
    return -1;
}

const char *hf_comp_name(int kind) { return kind >= 0 && kind < 4 ? comp_names[kind] : "?"; }

/* ----------------------------------------------------------------- QSGD --- */

int hf_qsgd_level_bits(int s)
{
    int b = 0;
    while ((1L << b) < (long)s + 1) b++;
    return b;
}

size_t hf_qsgd_bytes(long n, int s, int bucket)
{
    if (n <= 0) return 0;
    long nb = (n + bucket - 1) / bucket;
    uint64_t bits = (uint64_t)nb * 32 + (uint64_t)n * (uint64_t)(1 + hf_qsgd_level_bits(s));
    return (size_t)((bits + 7) / 8);
}

typedef struct { uint8_t *p; uint64_t bit; } bitw_t;

static void bw_put(bitw_t *w, uint32_t v, int nbits)
{
    for (int i = 0; i < nbits; i++, w->bit++) {
        if ((w->bit & 7) == 0) w->p[w->bit >> 3] = 0;
        if ((v >> i) & 1u) w->p[w->bit >> 3] |= (uint8_t)(1u << (w->bit & 7));
    }
}

static uint32_t bw_get(const uint8_t *p, uint64_t *bit, int nbits)
{
    uint32_t v = 0;
    for (int i = 0; i < nbits; i++, (*bit)++)
        if ((p[*bit >> 3] >> (*bit & 7)) & 1u) v |= 1u << i;
    return v;
}

size_t hf_qsgd_encode(const float *v, long n, int s, int bucket, hf_rng_t *r, uint8_t *out)
{
    int lb = hf_qsgd_level_bits(s);
    bitw_t w = {out, 0};
    for (long b0 = 0; b0 < n; b0 += bucket) {
        long d = HF_MIN((long)bucket, n - b0);
        double ss = 0.0;
        for (long i = 0; i < d; i++) ss += (double)v[b0 + i] * v[b0 + i];
        float nf = (float)sqrt(ss);
        uint32_t nbits;
        memcpy(&nbits, &nf, 4);
        bw_put(&w, nbits, 32);
        for (long i = 0; i < d; i++) {
            float x = v[b0 + i];
            uint32_t level = 0;
            if (nf > 0) {
                double a = (double)s * fabs((double)x) / (double)nf;
                double l = floor(a);
                double u = hf_rng_uniform(r);
                level = (uint32_t)l + (u < a - l ? 1u : 0u);
                if (level > (uint32_t)s) level = (uint32_t)s;
            }
            bw_put(&w, signbit(x) ? 1u : 0u, 1);
            bw_put(&w, level, lb);
        }
    }
    return (size_t)((w.bit + 7) / 8);
}

void hf_qsgd_decode(const uint8_t *in, long n, int s, int bucket, float *v)
{
    int lb = hf_qsgd_level_bits(s);
    uint64_t bit = 0;
    for (long b0 = 0; b0 < n; b0 += bucket) {
        long d = HF_MIN((long)bucket, n - b0);
        uint32_t nbits = bw_get(in, &bit, 32);
        float nf;
        memcpy(&nf, &nbits, 4);
        for (long i = 0; i < d; i++) {
            uint32_t sg = bw_get(in, &bit, 1);
            uint32_t level = bw_get(in, &bit, lb);
            float q = (float)((double)nf * (double)level / (double)s);
            v[b0 + i] = sg ? -q : q;
        }
    }
}

/* ---------------------------------------------------------------- top-k --- */

size_t hf_topk_bytes(long k) { return 4 + 8 * (size_t)k; }

static const float *topk_base;
static int topk_cmp(const void *a, const void *b)
{
    long i = *(const long *)a, j = *(const long *)b;
    float x = fabsf(topk_base[i]), y = fabsf(topk_base[j]);
    if (x != y) return x > y ? -1 : 1;
    return i < j ? -1 : i > j;
}

size_t hf_topk_ef(float *delta, float *mem, long n, long k)
{
    if (k > n) k = n;
    if (k < 0) k = 0;
    if (mem)
        for (long i = 0; i < n; i++) delta[i] += mem[i];   /* p = Δ + e */
    long *idx = malloc((size_t)(n > 0 ? n : 1) * sizeof(long));
    for (long i = 0; i < n; i++) idx[i] = i;
    topk_base = delta;   /* qsort has no context argument; single-threaded use */
    qsort(idx, (size_t)n, sizeof(long), topk_cmp);
    char *keep = calloc((size_t)(n > 0 ? n : 1), 1);
    for (long j = 0; j < k; j++) keep[idx[j]] = 1;
    for (long i = 0; i < n; i++) {
        if (keep[i]) {
            if (mem) mem[i] = 0.0f;
        } else {
            if (mem) mem[i] = delta[i];   /* e ← p − top_k(p) */
            delta[i] = 0.0f;
        }
    }
    free(keep);
    free(idx);
    return hf_topk_bytes(k);
}

/* ----------------------------------------------------------------- fp16 --- */

uint16_t hf_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t exp = (x >> 23) & 0xffu, man = x & 0x7fffffu;
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00u | (man ? 0x200u : 0));  /* inf / nan */
    int e = (int)exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00u);                            /* overflow */
    if (e <= 0) {                                                              /* subnormal */
        if (e < -10) return (uint16_t)sign;
        man |= 0x800000u;
        int shift = 14 - e;
        uint32_t h = man >> shift, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1u))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((uint32_t)e << 10) | (man >> 13), rem = man & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++;   /* may carry into inf: correct */
    return (uint16_t)(sign | h);
}

float hf_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, x;
    if (exp == 0) {
        if (man == 0) x = sign;
        else {
            int e = -1;
            do { e++; man <<= 1; } while (!(man & 0x400u));
            x = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
        }
    } else if (exp == 31) x = sign | 0x7f800000u | (man << 13);
    else x = sign | ((exp - 15 + 127) << 23) | (man << 13);
    float f;
    memcpy(&f, &x, 4);
    return f;
}

size_t hf_fp16_roundtrip(float *v, long n)
{
    for (long i = 0; i < n; i++) v[i] = hf_f16_to_f32(hf_f32_to_f16(v[i]));
    return 2 * (size_t)n;
}

/* ------------------------------------------------------------ one entry --- */

size_t hf_compress_update(const hf_comp_cfg_t *c, float *v, float *mem, long n, hf_rng_t *r)
{
    switch (c->kind) {
    case HF_COMP_QSGD: {
        size_t nb = hf_qsgd_bytes(n, c->qsgd_levels, c->qsgd_bucket);
        uint8_t *buf = malloc(nb ? nb : 1);
        size_t got = hf_qsgd_encode(v, n, c->qsgd_levels, c->qsgd_bucket, r, buf);
        hf_qsgd_decode(buf, n, c->qsgd_levels, c->qsgd_bucket, v);
        free(buf);
        return got;
    }
    case HF_COMP_TOPK: {
        long k = (long)ceil(c->topk_ratio * (double)n);
        if (k < 1) k = 1;
        return hf_topk_ef(v, mem, n, k);
    }
    case HF_COMP_FP16:
        return hf_fp16_roundtrip(v, n);
    default:
        return 4 * (size_t)n;
    }
}
