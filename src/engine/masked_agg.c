/*
 * masked_agg.c — per-coordinate weighted averaging with coverage (see
 * masked_agg.h).  Built on agg.c's public API only.
 */
#include "masked_agg.h"
#include "slice.h"
#include "hf_util.h"
#include <stdlib.h>
#include <string.h>

hf_masked_t *hf_masked_new(long P)
{
    hf_masked_t *a = hf_calloc(1, sizeof *a);
    a->P = P;
    a->cov = hf_calloc((size_t)HF_MAX(P, 1), sizeof(double));
    a->tmp = hf_alloc_aligned((size_t)HF_MAX(P, 1) * sizeof(float));
    a->vals = hf_calloc((size_t)HF_MAX(P, 1), sizeof(double));
    return a;
}

void hf_masked_free(hf_masked_t *a)
{
    if (!a) return;
    free(a->cov);
    free(a->tmp);
    free(a->vals);
    free(a);
}

void hf_masked_begin(hf_masked_t *a) { memset(a->cov, 0, (size_t)a->P * sizeof(double)); }

void hf_masked_cover(hf_masked_t *a, const hf_model_t *m, const hf_model_t *sub, double w,
                     const unsigned char *classes)
{
    hf_slice_cover(m, sub, w, classes, a->cov);
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

void hf_masked_emit(hf_masked_t *a, hf_agg_t *agg, float *x, int add)
{
    long P = a->P, nv = 0;
    /* distinct coverage values: runs of equal values are long (slices are blocks) */
    double last = -1.0;
    for (long j = 0; j < P; j++)
        if (a->cov[j] != last) { last = a->cov[j]; a->vals[nv++] = last; }
    qsort(a->vals, (size_t)nv, sizeof(double), cmp_double);
    long u = 0;
    for (long i = 0; i < nv; i++)
        if (u == 0 || a->vals[i] != a->vals[u - 1]) a->vals[u++] = a->vals[i];
    a->ndistinct = 0;
    for (long i = 0; i < u; i++) {
        double v = a->vals[i];
        if (v <= 0.0) {
            if (!add) for (long j = 0; j < P; j++) if (a->cov[j] == v) x[j] = 0.0f;
            continue;
        }
        a->ndistinct++;
        if (u == 1) {  /* uniform coverage: agg.c's own apply/result (FedAvg's path) */
            if (add) hf_agg_apply(agg, 1.0 / v, x);
            else hf_agg_result(agg, 1.0 / v, x);
            return;
        }
        hf_agg_result(agg, 1.0 / v, a->tmp);
        if (add) { for (long j = 0; j < P; j++) if (a->cov[j] == v) x[j] += a->tmp[j]; }
        else for (long j = 0; j < P; j++) if (a->cov[j] == v) x[j] = a->tmp[j];
    }
}
