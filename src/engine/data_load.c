/*
 * data_load.c — the run's data: the data set named by data.dataset (IDX
 * Fashion-MNIST, generated Synthetic, LEAF JSON), its test split, and the
 * partition of the training samples over federation.clients clients.
 */
#include "data_load.h"
#include "hf_util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>


/* Keep only the first n samples of d. */
static void dataset_truncate(hf_dataset_t *d, long n)
{
    if (n > 0 && n < d->n) d->n = n;
}

/* Restrict a natural partition to its first `keep` clients. */
static void partition_keep(hf_partition_t *p, int keep)
{
    if (keep < p->nclients) p->nclients = keep;
}

/* Natural data without a test split: hold out the last ⌊frac·n_k⌋ (≥1 when n_k ≥ 2)
 * samples of every user into a new test set; the partition keeps the rest. */
static void holdout_split(hf_dataset_t *d, hf_partition_t *p, double frac, hf_dataset_t *test)
{
    long ntest = 0;
    for (int k = 0; k < p->nclients; k++) {
        long nk = p->off[k + 1] - p->off[k];
        long h = nk >= 2 ? HF_MAX(1, (long)(frac * (double)nk)) : 0;
        ntest += h;
    }
    hf_dataset_alloc(test, ntest, d->c, d->h, d->w, d->n_classes);
    long *noff = hf_calloc((size_t)p->nclients + 1, sizeof(long));
    long *nidx = hf_calloc((size_t)HF_MAX(p->off[p->nclients], 1), sizeof(long));
    long ti = 0, ni = 0;
    for (int k = 0; k < p->nclients; k++) {
        long nk = p->off[k + 1] - p->off[k];
        long h = nk >= 2 ? HF_MAX(1, (long)(frac * (double)nk)) : 0;
        noff[k] = ni;
        for (long j = 0; j < nk - h; j++) nidx[ni++] = p->idx[p->off[k] + j];
        for (long j = nk - h; j < nk; j++) {
            long s = p->idx[p->off[k] + j];
            memcpy(test->x + ti * d->dim, d->x + s * d->dim, (size_t)d->dim * sizeof(float));
            test->y[ti++] = d->y[s];
        }
    }
    noff[p->nclients] = ni;
    free(p->off);
    free(p->idx);
    p->off = noff;
    p->idx = nidx;
}

int hf_load_data(const hf_params_t *p, const hf_conf_t *c, const char *suite, hf_dataset_t *train,
                 hf_dataset_t *test, hf_partition_t *part, long *train_all)
{
    int rc = 0;
    hf_partition_t natural = {0};
    int have_natural = 0;
    if (p->dataset == HF_DS_FMNIST) {
        rc = hf_fmnist_load(p->data_path, train, test);
        if (rc) return hf_key_wrap(c, "data.path", rc);
        long nt = (long)ceil(p->test_fraction * (double)test->n);
        dataset_truncate(test, nt);
    } else if (p->dataset == HF_DS_SYNTHETIC) {
        hf_partition_t ptest = {0};
        rc = hf_synthetic_generate(p->syn_alpha, p->syn_beta, p->syn_iid, p->syn_devices, 60, 10,
                                   p->seed, train, test, &natural, &ptest);
        hf_partition_free(&ptest);
        if (rc) return rc;
        have_natural = 1;
    } else {
        if (!p->data_path[0]) {
            const char *o = hf_conf_origin(c, "data.dataset");
            return hf_seterr(HF_EINPUT, "%s: key 'data.path': data.dataset = leaf needs data.path "
                             "(a LEAF JSON file)", o ? o : suite);
        }
        rc = hf_leaf_load(p->data_path, train, &natural);
        if (rc) return hf_key_wrap(c, "data.path", rc);
        have_natural = 1;
        const char *tp = hf_conf_get(c, "data.test_path");
        if (tp && tp[0]) {
            hf_partition_t pt = {0};
            rc = hf_leaf_load(tp, test, &pt);
            hf_partition_free(&pt);
            if (rc) return hf_key_wrap(c, "data.test_path", rc);
            if (test->dim != train->dim)
                return hf_seterr(HF_EINPUT, "%s: test data has %d features, training data %d", tp,
                                 test->dim, train->dim);
        } else {
            holdout_split(train, &natural, hf_conf_float(c, "data.holdout"), test);
        }
        int ncl = HF_MAX(train->n_classes, test->n_classes);
        train->n_classes = test->n_classes = ncl;
    }
    *train_all = train->n;
    if (p->partition == HF_PART_NATURAL) {
        if (p->clients > natural.nclients) {
            hf_partition_free(&natural);
            const char *o = hf_conf_origin(c, "federation.clients");
            return hf_seterr(HF_EINPUT, "%s: key 'federation.clients': %d clients requested but the "
                             "natural partition has only %d users", o ? o : "default", p->clients,
                             natural.nclients);
        }
        partition_keep(&natural, p->clients);
        *part = natural;
        return 0;
    }
    if (have_natural) hf_partition_free(&natural);
    dataset_truncate(train, p->train_samples);
    switch (p->partition) {
    case HF_PART_SHARDS:
        rc = hf_partition_shards(train->y, train->n, p->clients, p->seed, part);
        break;
    case HF_PART_DIRICHLET:
        rc = hf_partition_dirichlet(train->y, train->n, train->n_classes, p->clients, p->alpha,
                                    p->min_samples, p->seed, part);
        break;
    default:
        rc = hf_partition_iid(train->n, p->clients, p->seed, part);
    }
    return hf_key_wrap(c, "data.partition", rc);
}

