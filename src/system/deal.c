/*
 * deal.c — exact quotas dealt to client ids by a keyed permutation or a keyed
 * bijection (see deal.h).
 */
#include "deal.h"
#include "hf_util.h"
#include <stdlib.h>
#include <string.h>

int hf_deal_mode(const char *name)
{
    if (!name || !name[0] || !strcmp(name, "auto")) return HF_DEAL_AUTO;
    if (!strcmp(name, "permutation")) return HF_DEAL_PERMUTATION;
    if (!strcmp(name, "bijection")) return HF_DEAL_BIJECTION;
    return -1;
}

int hf_deal_uses_bijection(int mode, int n)
{
    return mode == HF_DEAL_BIJECTION || (mode == HF_DEAL_AUTO && n > HF_DEAL_DENSE_MAX);
}

/* The class whose range holds position pos (at most 64 classes: a scan). */
static int class_at(const hf_deal_t *d, int pos)
{
    int c = 0;
    while (c < d->nclasses - 1 && pos >= d->end[c]) c++;
    return c;
}

void hf_deal_init(hf_deal_t *d, hf_rng_t *r, int n, int nclasses, const int *cnt, int mode)
{
    memset(d, 0, sizeof *d);
    d->n = n;
    d->nclasses = nclasses;
    for (int c = 0, e = 0; c < nclasses; c++) d->end[c] = e += cnt[c];
    if (hf_deal_uses_bijection(mode, n)) {
        hf_rng_bij_init(&d->bij, r, (uint32_t)HF_MAX(n, 1));
        return;
    }
    int *perm = hf_calloc((size_t)HF_MAX(n, 1), sizeof(int));
    d->cls = hf_calloc((size_t)HF_MAX(n, 1), sizeof(int));
    hf_rng_permutation(r, n, perm);
    int pos = 0;
    for (int c = 0; c < nclasses; c++)
        for (int j = 0; j < cnt[c]; j++) d->cls[perm[pos++]] = c;
    free(perm);
}

void hf_deal_materialise(hf_deal_t *d)
{
    if (d->cls) return;
    d->cls = hf_calloc((size_t)HF_MAX(d->n, 1), sizeof(int));
    for (int k = 0; k < d->n; k++) d->cls[k] = class_at(d, (int)hf_rng_bij_at(&d->bij, (uint32_t)k));
}

int hf_deal_class(const hf_deal_t *d, int k)
{
    return d->cls ? d->cls[k] : class_at(d, (int)hf_rng_bij_at(&d->bij, (uint32_t)k));
}

void hf_deal_free(hf_deal_t *d)
{
    free(d->cls);
    d->cls = NULL;
}
