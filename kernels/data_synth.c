/*
 * data_synth.c — the FedProx Synthetic(alpha, beta) data set (Li et al., MLSys
 * 2020), following litian96/FedProx data/synthetic_1_1/generate_synthetic.py and
 * data/synthetic_iid/generate_iid.py, but seeded; and CA-Fed's synthetic clustered
 * data set (hf_synthetic_clustered_generate, at the end of this file).
 *
 * Per device k (of ndev):
 *   n_k  = int(LogNormal(4, 2)) + 50               (hf_synth_t's size_mu, size_sigma, size_min:
 *                                                   data.synthetic_size_*, these by default)
 *   u_k ~ N(0, alpha), B_k ~ N(0, beta)            (alpha, beta: standard deviations)
 *   v_k[j] ~ N(B_k, 1), j < dim                    (mean of x)
 *   W_k (dim x classes), b_k (classes): entries ~ N(u_k, 1)
 *   x ~ N(v_k, Sigma), Sigma = diag((j+1)^-1.2)    i.e. x_j = v_k[j] + sqrt(Sigma_jj) z
 *   y = argmax(x W_k + b_k)                        (softmax is monotone: not needed)
 * iid variant: one W, b ~ N(0,1) shared by all devices, v_k = 0 (alpha, beta unused).
 * sensitive variant (hetfl's, for attribute inference): feature 0 of every
 * sample is replaced, after x is drawn and before y is computed, by a binary
 * sensitive attribute s = 1[U < 1/2], U the next uniform of device k's own
 * stream (seed, HF_RNG_DATA, k, 2), one per sample in the device's order
 * (training samples first); y = argmax(x W_k + b_k) then depends on s through
 * row 0 of W_k — the attribute is correlated with the label, not a copy of it.
 * Every other feature, and every draw of the main stream, is as without it.
 * Each device's first int(0.9 n_k) samples are training data, the rest test data
 * (the original shuffles a device's samples before the split; they are i.i.d.
 * within a device, so that changes nothing in distribution and is not done).
 *
 * Determinism: device k draws everything from its own Philox stream
 * (seed, HF_RNG_DATA, k, 0), so the result does not depend on generation order
 * and one device's samples can be made alone (hf_synth_device_rows: the
 * on-demand mode of data_ondemand.c makes a client's when it trains);
 * the shared iid W, b come from (seed, HF_RNG_DATA, 0, 1).
 *
 * Like the original, n_k is not capped: LogNormal(4,2) has a heavy tail (the
 * median is e^4 ≈ 55, but one device in ~10^3 exceeds e^10 ≈ 22,000 samples and
 * one in ~5·10^7 exceeds e^15 ≈ 3.3 million).  Counts are 64-bit; a total that
 * cannot be addressed is reported as HF_EINPUT.
 */
#include "data.h"
#include "hf_util.h"
#include "rng.h"
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Stream of device k; its first draw is n_k. */
static long synth_device_size(hf_rng_t *r, const hf_synth_t *s, long k)
{
    hf_rng_init(r, s->seed, HF_RNG_DATA, (uint64_t)k, 0);
    double v = hf_rng_lognormal(r, s->size_mu, s->size_sigma);
    if (!(v < 1e15)) v = 1e15;  /* only to keep the cast defined; rejected by the callers */
    return (long)v + s->size_min;
}

long hf_synth_device_size(const hf_synth_t *s, long k)
{
    hf_rng_t r;
    return synth_device_size(&r, s, k);
}

long hf_synth_train_size(long n) { return (long)(0.9 * (double)n); }

static int synth_argmax(const float *x, const double *W, const double *b, int dim, int nc)
{
    int best = 0;
    double bestv = -INFINITY;
    for (int c = 0; c < nc; c++) {
        double s = b[c];
        for (int j = 0; j < dim; j++) s += (double)x[j] * W[(size_t)j * nc + c];
        if (s > bestv) { bestv = s; best = c; }  /* first maximum, as numpy.argmax */
    }
    return best;
}

int hf_synth_init(hf_synth_t *s)
{
    s->W = s->b = NULL;
    if (s->dim < 1)
        return hf_seterr(HF_EINPUT, "synthetic: dimension %d must be >= 1", s->dim);
    if (s->n_classes < 2)
        return hf_seterr(HF_EINPUT, "synthetic: number of classes %d must be >= 2", s->n_classes);
    if ((double)s->dim * (double)s->n_classes > 1e9)
        return hf_seterr(HF_EINPUT, "synthetic: %d features x %d classes is too large", s->dim, s->n_classes);
    if (!s->iid && (!(s->alpha >= 0) || !(s->beta >= 0) || isinf(s->alpha) || isinf(s->beta)))
        return hf_seterr(HF_EINPUT, "synthetic: alpha (%g) and beta (%g) must be finite and >= 0",
                         s->alpha, s->beta);
    if (!s->iid) return HF_OK;
    s->W = hf_malloc((size_t)s->dim * (size_t)s->n_classes * sizeof(double));
    s->b = hf_malloc((size_t)s->n_classes * sizeof(double));
    hf_rng_t rs;
    hf_rng_init(&rs, s->seed, HF_RNG_DATA, 0, 1);
    for (size_t i = 0; i < (size_t)s->dim * (size_t)s->n_classes; i++) s->W[i] = hf_rng_normal(&rs);
    for (int c = 0; c < s->n_classes; c++) s->b[c] = hf_rng_normal(&rs);
    return HF_OK;
}

void hf_synth_free(hf_synth_t *s)
{
    free(s->W);
    free(s->b);
    s->W = s->b = NULL;
}

void hf_synth_device_rows(const hf_synth_t *s, long k, float *xtr, int *ytr, long ntr, float *xte, int *yte,
                          long nte)
{
    int dim = s->dim, nc = s->n_classes;
    hf_rng_t r, rs;  /* the device's stream (its first draw, n_k, skipped); the sensitive attribute's */
    synth_device_size(&r, s, k);
    hf_rng_init(&rs, s->seed, HF_RNG_DATA, (uint64_t)k, 2);
    double *own = s->iid ? NULL : hf_malloc(((size_t)dim * (size_t)nc + (size_t)nc) * sizeof(double));
    const double *W = s->iid ? s->W : own, *b = s->iid ? s->b : own + (size_t)dim * nc;
    double *v = hf_calloc((size_t)dim, sizeof(double)), *sd = hf_malloc((size_t)dim * sizeof(double));
    for (int j = 0; j < dim; j++) sd[j] = sqrt(pow((double)(j + 1), -1.2));
    if (!s->iid) {
        double u = s->alpha * hf_rng_normal(&r);
        double B = s->beta * hf_rng_normal(&r);
        for (int j = 0; j < dim; j++) v[j] = B + hf_rng_normal(&r);
        for (size_t i = 0; i < (size_t)dim * (size_t)nc; i++) own[i] = u + hf_rng_normal(&r);
        for (int c = 0; c < nc; c++) own[(size_t)dim * nc + c] = u + hf_rng_normal(&r);
    }
    for (long i = 0; i < ntr + nte; i++) {
        float *x = i < ntr ? xtr + (size_t)i * dim : xte + (size_t)(i - ntr) * dim;
        for (int j = 0; j < dim; j++) x[j] = (float)(v[j] + sd[j] * hf_rng_normal(&r));
        if (s->sensitive) x[0] = hf_rng_uniform(&rs) < 0.5 ? 1.0f : 0.0f;
        int y = synth_argmax(x, W, b, dim, nc);
        if (i < ntr) ytr[i] = y;
        else yte[i - ntr] = y;
    }
    free(own);
    free(v);
    free(sd);
}

/* Zero a generator's four outputs (so a failure leaves nothing to free) and check the
 * device count: 0, or HF_EINPUT with the error set. */
static int synth_outputs_reset(int ndev, hf_dataset_t *train, hf_dataset_t *test,
                               hf_partition_t *ptrain, hf_partition_t *ptest)
{
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    memset(ptrain, 0, sizeof *ptrain);
    memset(ptest, 0, sizeof *ptest);
    if (ndev < 1)
        return hf_seterr(HF_EINPUT, "synthetic: number of devices %d must be >= 1", ndev);
    return 0;
}

int hf_synth_generate(const hf_synth_t *s, int ndev, hf_dataset_t *train, hf_dataset_t *test,
                      hf_partition_t *ptrain, hf_partition_t *ptest)
{
    if (synth_outputs_reset(ndev, train, test, ptrain, ptest))
        return HF_EINPUT;
    int dim = s->dim;
    /* Pass 1: sizes, to allocate. */
    long *ntr = hf_malloc((size_t)ndev * sizeof(long));
    long *nte = hf_malloc((size_t)ndev * sizeof(long));
    long tot_tr = 0, tot_te = 0;
    long maxrows = LONG_MAX / dim;
    if ((unsigned long)maxrows > SIZE_MAX / sizeof(float) / (size_t)dim)
        maxrows = (long)(SIZE_MAX / sizeof(float) / (size_t)dim);
    for (int k = 0; k < ndev; k++) {
        long n = hf_synth_device_size(s, k);
        ntr[k] = hf_synth_train_size(n);
        nte[k] = n - ntr[k];
        if (n > maxrows - tot_tr - tot_te) {
            free(ntr);
            free(nte);
            return hf_seterr(HF_EINPUT, "synthetic: device %d draws %ld samples; the data set "
                             "is too large to address (seed %llu)", k, n,
                             (unsigned long long)s->seed);
        }
        tot_tr += ntr[k];
        tot_te += nte[k];
    }
    hf_dataset_alloc(train, tot_tr, 1, 1, dim, s->n_classes);
    hf_dataset_alloc(test, tot_te, 1, 1, dim, s->n_classes);
    ptrain->nclients = ptest->nclients = ndev;
    ptrain->off = hf_malloc(((size_t)ndev + 1) * sizeof(long));
    ptest->off = hf_malloc(((size_t)ndev + 1) * sizeof(long));
    ptrain->idx = hf_malloc((size_t)HF_MAX(tot_tr, 1) * sizeof(long));
    ptest->idx = hf_malloc((size_t)HF_MAX(tot_te, 1) * sizeof(long));
    ptrain->off[0] = ptest->off[0] = 0;
    for (int k = 0; k < ndev; k++) {
        ptrain->off[k + 1] = ptrain->off[k] + ntr[k];
        ptest->off[k + 1] = ptest->off[k] + nte[k];
    }
    for (long i = 0; i < tot_tr; i++) ptrain->idx[i] = i;
    for (long i = 0; i < tot_te; i++) ptest->idx[i] = i;
    /* Pass 2: each device from its own stream. */
    for (int k = 0; k < ndev; k++)
        hf_synth_device_rows(s, k, train->x + (size_t)ptrain->off[k] * dim, train->y + ptrain->off[k], ntr[k],
                             test->x + (size_t)ptest->off[k] * dim, test->y + ptest->off[k], nte[k]);
    free(ntr);
    free(nte);
    return HF_OK;
}

int hf_synthetic_generate(double alpha, double beta, int iid, int sensitive, int ndev, int dim,
                          int n_classes, uint64_t seed, hf_dataset_t *train, hf_dataset_t *test,
                          hf_partition_t *ptrain, hf_partition_t *ptest)
{
    hf_synth_t s = {.alpha = alpha, .beta = beta, .iid = iid, .sensitive = sensitive, .dim = dim,
                    .n_classes = n_classes, .seed = seed, .size_mu = 4.0, .size_sigma = 2.0, .size_min = 50};
    if (synth_outputs_reset(ndev, train, test, ptrain, ptest))
        return HF_EINPUT;
    int rc = hf_synth_init(&s);
    if (!rc) rc = hf_synth_generate(&s, ndev, train, test, ptrain, ptest);
    hf_synth_free(&s);
    return rc;
}

/*
 * The synthetic clustered data set of CA-Fed's experiments (Rodio et al.,
 * "Federated Learning under Heterogeneous and Correlated Client
 * Availability", IEEE INFOCOM 2023; arodio/CA-Fed data/utils.py,
 * generate_synthetic_clustered), seeded:
 *   θ ~ N(0, I_dim), one for all devices (stream (seed, HF_RNG_DATA, 0, 3))
 *   device k in cluster 0 when k < ndev/2 (integer division), else cluster 1
 *   every sample: x ~ N(0, I_dim), p = σ(x·θ); cluster 1 flips it partly,
 *   p ← hetero (1 − p) + (1 − hetero) p; y ~ Bernoulli(p) ∈ {0, 1}
 *   device k: ntrain training samples, then ntest test samples, from its own
 *   stream (seed, HF_RNG_DATA, k, 4): x then the label's uniform, per sample
 * The test set is every device's test samples (ptest: natural, per device), so
 * its accuracy is the authors' Σ_k q_k acc_k when devices are of equal size.
 */
int hf_synthetic_clustered_generate(int ndev, int dim, long ntrain, long ntest, double hetero,
                                    uint64_t seed, hf_dataset_t *train, hf_dataset_t *test,
                                    hf_partition_t *ptrain, hf_partition_t *ptest)
{
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    memset(ptrain, 0, sizeof *ptrain);
    memset(ptest, 0, sizeof *ptest);
    if (ndev < 1 || dim < 1 || ntrain < 1 || ntest < 1)
        return hf_seterr(HF_EINPUT, "synthetic-clustered: devices (%d), dimension (%d), training (%ld) and "
                         "test samples (%ld) must be >= 1", ndev, dim, ntrain, ntest);
    if (!(hetero >= 0 && hetero <= 1))
        return hf_seterr(HF_EINPUT, "synthetic-clustered: hetero %g must be in [0, 1]", hetero);
    if ((double)ndev * (double)(ntrain + ntest) * (double)dim > 1e10)
        return hf_seterr(HF_EINPUT, "synthetic-clustered: %d devices x %ld samples x %d features is too large",
                         ndev, ntrain + ntest, dim);
    hf_dataset_alloc(train, (long)ndev * ntrain, 1, 1, dim, 2);
    hf_dataset_alloc(test, (long)ndev * ntest, 1, 1, dim, 2);
    hf_partition_t *pp[2] = {ptrain, ptest};
    long per[2] = {ntrain, ntest};
    for (int s = 0; s < 2; s++) {
        pp[s]->nclients = ndev;
        pp[s]->off = hf_malloc(((size_t)ndev + 1) * sizeof(long));
        pp[s]->idx = hf_malloc((size_t)ndev * (size_t)per[s] * sizeof(long));
        for (int k = 0; k <= ndev; k++) pp[s]->off[k] = (long)k * per[s];
        for (long i = 0; i < (long)ndev * per[s]; i++) pp[s]->idx[i] = i;
    }
    double *theta = hf_malloc((size_t)dim * sizeof(double));
    hf_rng_t r;
    hf_rng_init(&r, seed, HF_RNG_DATA, 0, 3);
    for (int j = 0; j < dim; j++) theta[j] = hf_rng_normal(&r);
    for (int k = 0; k < ndev; k++) {
        int flip = k >= ndev / 2;
        hf_rng_init(&r, seed, HF_RNG_DATA, (uint64_t)k, 4);
        for (long i = 0; i < ntrain + ntest; i++) {
            hf_dataset_t *d = i < ntrain ? train : test;
            long row = i < ntrain ? (long)k * ntrain + i : (long)k * ntest + (i - ntrain);
            float *x = d->x + (size_t)row * (size_t)dim;
            double z = 0.0;
            for (int j = 0; j < dim; j++) {
                x[j] = (float)hf_rng_normal(&r);
                z += (double)x[j] * theta[j];
            }
            double p = 1.0 / (1.0 + exp(-z));
            if (flip) p = hetero * (1.0 - p) + (1.0 - hetero) * p;
            d->y[row] = hf_rng_uniform(&r) < p ? 1 : 0;
        }
    }
    free(theta);
    return HF_OK;
}
