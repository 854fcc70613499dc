/*
 * slice.c — width slicing of flat model buffers (see slice.h): extract a
 * sub-model's coordinates into its compact buffer, scatter them back, and
 * count coverage for masked aggregation.  Pure memory operations on the
 * layouts nn.c defines; no BLAS.
 */
#include "slice.h"
#include "hf_util.h"
#include <math.h>
#include <string.h>

int hf_slice_units(int units, double beta)
{
    double v = beta * (double)units, r = nearbyint(v);
    long u = fabs(v - r) < 1e-9 ? (long)r : (long)ceil(v);
    return (int)HF_MAX(1L, HF_MIN(u, (long)units));
}

int hf_slice_cfg(const hf_model_cfg_t *cfg, double beta, hf_model_cfg_t *out)
{
    if (!(beta > 0.0 && beta <= 1.0))
        return hf_seterr(HF_EINPUT, "slice: width must be in (0, 1], got %g", beta);
    hf_model_t full;
    int rc = hf_model_init(&full, cfg);  /* resolves CNN defaults */
    if (rc) return rc;
    *out = full.cfg;
    if (out->arch == HF_ARCH_LOGREG) return 0;
    for (int i = 0; i < out->nhidden; i++) out->hidden[i] = hf_slice_units(out->hidden[i], beta);
    return 0;
}

/* A tensor seen as (rows, cols): rows = shape[0], cols = n / rows. */
static void rc_of(const hf_tensor_t *t, long *rows, long *cols)
{
    *rows = t->shape[0] > 0 ? t->shape[0] : 1;
    *cols = t->n / *rows;
}

int hf_slice_compatible(const hf_model_t *m, const hf_model_t *sub)
{
    if (m->ntensors != sub->ntensors || m->cfg.arch != sub->cfg.arch ||
        m->cfg.n_classes != sub->cfg.n_classes || m->in_dim != sub->in_dim)
        return 0;
    for (int i = 0; i < m->ntensors; i++) {
        const hf_tensor_t *a = &m->tensors[i], *b = &sub->tensors[i];
        if (a->ndim != b->ndim) return 0;
        for (int d = 0; d < a->ndim; d++) {
            if (b->shape[d] > a->shape[d]) return 0;
            if (d >= 2 && b->shape[d] != a->shape[d]) return 0;  /* conv kernels */
        }
    }
    return 1;
}

void hf_slice_extract(const hf_model_t *m, const float *x, const hf_model_t *sub, float *xs)
{
    for (int i = 0; i < m->ntensors; i++) {
        const hf_tensor_t *a = &m->tensors[i], *b = &sub->tensors[i];
        long R, C, r, c;
        rc_of(a, &R, &C);
        rc_of(b, &r, &c);
        const float *src = x + a->off;
        float *dst = xs + b->off;
        if (c == C) memcpy(dst, src, (size_t)(r * c) * sizeof(float));
        else for (long k = 0; k < r; k++) memcpy(dst + k * c, src + k * C, (size_t)c * sizeof(float));
    }
}

void hf_slice_scatter(const hf_model_t *m, float *x, const hf_model_t *sub, const float *xs)
{
    for (int i = 0; i < m->ntensors; i++) {
        const hf_tensor_t *a = &m->tensors[i], *b = &sub->tensors[i];
        long R, C, r, c;
        rc_of(a, &R, &C);
        rc_of(b, &r, &c);
        float *dst = x + a->off;
        const float *src = xs + b->off;
        if (c == C) memcpy(dst, src, (size_t)(r * c) * sizeof(float));
        else for (long k = 0; k < r; k++) memcpy(dst + k * C, src + k * c, (size_t)c * sizeof(float));
    }
}

/* the classifier: the last two tensors (weight, bias), rows = classes */
static int is_classifier(const hf_model_t *m, int i) { return i >= m->ntensors - 2; }

void hf_slice_cover(const hf_model_t *m, const hf_model_t *sub, double w,
                    const unsigned char *classes, double *cov)
{
    for (int i = 0; i < m->ntensors; i++) {
        const hf_tensor_t *a = &m->tensors[i], *b = &sub->tensors[i];
        long R, C, r, c;
        rc_of(a, &R, &C);
        rc_of(b, &r, &c);
        int cls = classes && is_classifier(m, i);
        for (long k = 0; k < r; k++) {
            if (cls && !classes[k]) continue;
            double *q = cov + a->off + k * C;
            for (long j = 0; j < c; j++) q[j] += w;
        }
    }
}

void hf_slice_zero_classes(const hf_model_t *m, const unsigned char *classes, float *x)
{
    for (int i = m->ntensors - 2; i < m->ntensors; i++) {
        if (i < 0) continue;
        const hf_tensor_t *a = &m->tensors[i];
        long R, C;
        rc_of(a, &R, &C);
        for (long k = 0; k < R; k++)
            if (!classes[k]) memset(x + a->off + k * C, 0, (size_t)C * sizeof(float));
    }
}

long hf_slice_hidden_params(const hf_model_t *m)
{
    return m->ntensors >= 2 ? m->tensors[m->ntensors - 2].off : 0;
}

void hf_slice_scale_hidden(const hf_model_t *m, float f, float *x)
{
    long n = hf_slice_hidden_params(m);
    for (long j = 0; j < n; j++) x[j] *= f;
}
