/*
 * knnper.c — kNN-Per (Marfoq, Neglia, Vidal, Kameni, ICML 2022, "Personalized
 * Federated Learning through Local Memorization").  The global model is
 * FedAvg's (the engine's training and aggregation, weights n_k); a client's
 * personal predictor interpolates it with a k-nearest-neighbour classifier
 * over a datastore of its own training samples:
 *     p_k(y | x) = λ · p_kNN(y | x) + (1 − λ) · softmax(h(x))_y,
 * where the datastore holds (φ(x_i), y_i) for the client's training samples,
 * φ the global model's last hidden layer (its input for logreg), and
 *     p_kNN(y | x) = Σ_{j ∈ N_k(x)} s_j [y_j = y] / Σ_{j ∈ N_k(x)} s_j,
 *     s_j = exp(−‖φ(x) − φ(x_j)‖² / (D · scale)),
 * N_k(x) the knnper.k nearest keys by squared Euclidean distance, D the
 * feature width: the authors' code (a flat L2 index, the Gaussian kernel of
 * scale 1 in feature-width units, probabilities interpolated).
 *
 * Choices of this implementation:
 *  - the datastore is built from the current global model at every
 *    evaluation (the authors build it once from the trained base model):
 *    nothing persists across rounds, so there is nothing to checkpoint;
 *  - ties in distance go to the key stored first (the client's samples in
 *    partition order); the kernel is evaluated relative to the nearest
 *    neighbour (s_j · exp(d_min² / (D·scale)), the same ratios) so it never
 *    underflows to 0/0;
 *  - a datastore holds at most min(n_k, knnper.capacity, ⌊knnper.max_bytes /
 *    (4 D + 4)⌋) samples (a float key and an int label each), the first of a
 *    permutation keyed (seed, HF_RNG_KNNPER, client) when capped (the authors
 *    subsample at random up to a capacity), and a client of a device class
 *    that knnper.class_max_bytes names at most ⌊that class's bytes / (4 D +
 *    4)⌋ (the datastore memory a phone gives it, say).  Its bytes are
 *    accounted in the run's strategy_state_bytes (the sum over all clients:
 *    the memory the clients hold);
 *  - the global model on the global test set (/rounds.test_accuracy) is
 *    FedAvg's, bit for bit; with λ = 0 every client's accuracy is the global
 *    model's (tests/personal_mix.sh).
 */
#include "strategy.h"
#include "evaluate.h"
#include "hf_util.h"
#include "run.h"
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const hf_opt_t keys[] = {
    {"knnper.k", HF_OPT_INT, "10", 1, 100000, NULL,
     "knnper: neighbours of a query in the client's datastore (all of them when it holds fewer)"},
    {"knnper.lambda", HF_OPT_FLOAT, "0.5", 0, 1, NULL,
     "knnper: weight of the kNN prediction in lambda p_kNN + (1 - lambda) p_global; 0 = the global model"},
    {"knnper.scale", HF_OPT_FLOAT, "1", 1e-12, 1e12, NULL,
     "knnper: kernel scale: a neighbour at squared distance d2 weighs exp(-d2 / (D scale)), D the feature width"},
    {"knnper.capacity", HF_OPT_INT, "0", 0, 1e9, NULL,
     "knnper: most samples in a client's datastore (0: all its training samples)"},
    {"knnper.max_bytes", HF_OPT_INT, "0", 0, 1e15, NULL,
     "knnper: most bytes of a client's datastore, 4 D + 4 a sample (0: no cap)"},
    {"knnper.class_max_bytes", HF_OPT_STRING, "", HF_OPT_NORANGE, NULL,
     "knnper: per device class, most bytes of the datastore of its clients, 4 D + 4 a sample: a list "
     "class:bytes,... of the run's classes (devices.classes or devices.file), e.g. phone-low:200000; a "
     "class not listed: no class cap (knnper.capacity and knnper.max_bytes apply to every client)"},
    {0},
};

typedef struct {
    int k, D, C;
    double lambda, scale;
    long cap;               /* samples a datastore may hold */
    int ds_client;          /* whose datastore is built (−1: none) */
    long ds_n;
    long *class_cap;        /* per device class: most samples of a datastore (LONG_MAX: no cap) */
    const int *dcls;        /* client → device class (the run's) */
    float *keys;            /* ds_n × D */
    int *labels, *perm;     /* ds_n; a client's sample order */
    float *qf, *logits;     /* HF_EVAL_CHUNK queries' features and outputs */
    long *nb;               /* k nearest: datastore indices */
    double *nd, *pk;        /* their squared distances; p_kNN (C) */
} knnper_t;

/* knnper.class_max_bytes ("class:bytes,..." of the run's device classes) into
 * caps[class] = ⌊bytes / per⌋ (LONG_MAX for a class not listed); caps NULL:
 * only check.  HF_EINPUT "FILE:LINE: key 'knnper.class_max_bytes': ...". */
static int class_caps(const hf_params_t *p, const hf_conf_t *c, long per, long *caps)
{
    const hf_devices_t *d = &p->devs;
    for (int i = 0; caps && i < d->nclasses; i++) caps[i] = LONG_MAX;
    char buf[1024], *f[HF_MAX_CLASSES + 1];
    snprintf(buf, sizeof buf, "%s", hf_conf_get(c, "knnper.class_max_bytes"));
    if (!buf[0]) return 0;
    int n = hf_split_csv(buf, f, HF_MAX_CLASSES + 1);
    if (n > HF_MAX_CLASSES) return hf_key_err(c, "knnper.class_max_bytes", "more than %d classes", HF_MAX_CLASSES);
    for (int i = 0; i < n; i++) {
        while (*f[i] == ' ') f[i]++;
        char *colon = strchr(f[i], ':');
        long bytes;
        if (!colon || (*colon = 0, hf_parse_long(colon + 1, &bytes)) || bytes < 1)
            return hf_key_err(c, "knnper.class_max_bytes", "'%s': expected class:bytes, bytes a positive integer",
                              f[i]);
        int k = 0;
        while (k < d->nclasses && strcmp(d->cls[k].name, f[i]) != 0) k++;
        if (k == d->nclasses)
            return hf_key_err(c, "knnper.class_max_bytes", "'%s' is not a device class of this run (devices.classes "
                              "or devices.file)", f[i]);
        if (caps && bytes < per)
            return hf_key_err(c, "knnper.class_max_bytes", "'%s': %ld bytes hold no sample (%ld bytes each: 4 D + 4, "
                              "D = %ld)", f[i], bytes, per, (per - 4) / 4);
        if (caps) caps[k] = bytes / per;
    }
    return 0;
}

static int check_knnper(const hf_params_t *p, const hf_conf_t *c)
{
    int rc = class_caps(p, c, 1, NULL);
    if (rc) return rc;
    if (p->model.arch == HF_ARCH_LSTM || p->model.arch == HF_ARCH_RESNET)  /* hf_model_features: dense models */
        return hf_key_err(c, "model.arch", "knnper's datastore keys are the last dense hidden layer, which the "
                          "%s does not expose: use logreg, mlp or cnn", hf_arch_name(p->model.arch));
    if (p->finetune_steps > 0)
        return hf_key_err(c, "personal.finetune_steps", "knnper's personal predictor interpolates the global "
                          "model with its datastore, nothing to fine-tune: use 0");
    return 0;
}

/* Samples of client k's datastore (ntrain training samples). */
static long ds_size(const knnper_t *f, int k, long ntrain)
{
    return HF_MIN(HF_MIN(ntrain, f->cap), f->class_cap[f->dcls[k]]);
}

static int init_knnper(hf_strat_t *s, struct hf_run *x)
{
    knnper_t *f = hf_calloc(1, sizeof *f);
    s->state = f;
    f->k = (int)hf_conf_int(s->conf, "knnper.k");
    f->lambda = hf_conf_float(s->conf, "knnper.lambda");
    f->scale = hf_conf_float(s->conf, "knnper.scale");
    f->D = hf_model_feature_dim(&x->model);
    f->C = x->model.cfg.n_classes;
    long cap = hf_conf_int(s->conf, "knnper.capacity"), mb = hf_conf_int(s->conf, "knnper.max_bytes");
    long per = 4L * f->D + 4;
    f->cap = cap > 0 ? cap : LONG_MAX;
    if (mb > 0) f->cap = HF_MIN(f->cap, mb / per);
    f->class_cap = hf_malloc((size_t)HF_MAX(s->p->devs.nclasses, 1) * sizeof(long));
    f->dcls = x->dcls;
    int rc = class_caps(s->p, s->conf, per, f->class_cap);
    if (rc) return rc;
    f->ds_client = -1;
    long nmax = 1;
    for (int k = s->first_client; k < s->last_client; k++) nmax = HF_MAX(nmax, hf_strat_nk(s, k));
    f->keys = hf_malloc((size_t)nmax * (size_t)f->D * sizeof(float));
    f->labels = hf_malloc((size_t)nmax * sizeof(int));
    f->perm = hf_malloc((size_t)nmax * sizeof(int));
    f->qf = hf_malloc((size_t)HF_EVAL_CHUNK * (size_t)f->D * sizeof(float));
    f->logits = hf_malloc((size_t)HF_EVAL_CHUNK * (size_t)f->C * sizeof(float));
    f->nb = hf_malloc((size_t)f->k * sizeof(long));
    f->nd = hf_malloc((size_t)f->k * sizeof(double));
    f->pk = hf_malloc((size_t)f->C * sizeof(double));
    uint64_t total = 0;  /* every client's datastore: its training samples (after its test split) */
    for (int k = 0; k < s->nclients; k++) total += (uint64_t)ds_size(f, k, hf_strat_nk(s, k)) * (uint64_t)per;
    s->state_bytes_max = total;
    return 0;
}

static void free_knnper(hf_strat_t *s)
{
    knnper_t *f = s->state;
    if (!f) return;
    free(f->class_cap);
    free(f->keys); free(f->labels); free(f->perm); free(f->qf); free(f->logits); free(f->nb); free(f->nd); free(f->pk);
    free(f);
}

static int cmp_int(const void *a, const void *b) { return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b); }

/* Client k's datastore from the current global model. */
static void build_datastore(hf_strat_t *s, knnper_t *f, int k)
{
    struct hf_run *x = s->run;
    long n = x->part.off[k + 1] - x->part.off[k];
    const long *idx = x->part.idx + x->part.off[k];
    f->ds_n = ds_size(f, k, n);
    if (f->ds_n < n) {  /* capped: a keyed random subset, kept in partition order */
        hf_rng_t r;
        hf_rng_init(&r, s->p->seed, HF_RNG_KNNPER, (uint64_t)k, 0);
        hf_rng_permutation(&r, (int)n, f->perm);
        qsort(f->perm, (size_t)f->ds_n, sizeof(int), cmp_int);
    } else
        for (long i = 0; i < n; i++) f->perm[i] = (int)i;
    long chunk = HF_MIN(s->p->batch_size, HF_EVAL_CHUNK);  /* rows of x->xb */
    for (long b0 = 0; b0 < f->ds_n; b0 += chunk) {
        int B = (int)HF_MIN(chunk, f->ds_n - b0);
        hf_gather_rows(x->train.x, x->train.y, x->train.dim, idx, f->perm + b0, B, x->xb, f->labels + b0);
        hf_model_features(&x->model, x->work, x->global, x->xb, B, f->keys + (size_t)b0 * f->D, NULL);
    }
    f->ds_client = k;
}

void hf_knn_probs(const float *keys, const int *labels, long n, int D, const float *q, int k, double scale, int C,
                  long *nb, double *nd, double *p)
{
    int m = 0;  /* nb[0..m): the nearest so far, by (distance, index) */
    for (long j = 0; j < n; j++) {
        double d = 0.0;
        for (int c = 0; c < D; c++) {
            double u = (double)q[c] - (double)keys[(size_t)j * D + c];
            d += u * u;
        }
        if (m == k && d >= nd[m - 1]) continue;  /* equal distance: the earlier key stays */
        int i = m < k ? m++ : m - 1;
        for (; i > 0 && nd[i - 1] > d; i--) { nd[i] = nd[i - 1]; nb[i] = nb[i - 1]; }
        nd[i] = d;
        nb[i] = j;
    }
    double z = 0.0;
    for (int c = 0; c < C; c++) p[c] = 0.0;
    for (int i = 0; i < m; i++) {
        double w = exp(-(nd[i] - nd[0]) / ((double)D * scale));
        p[labels[nb[i]]] += w;
        z += w;
    }
    for (int c = 0; c < C && m > 0; c++) p[c] /= z;
}

/* Client k's interpolated predictor on B samples (client_eval.c). */
static void eval_knnper(hf_strat_t *s, int k, const float *xb, const int *yb, int B, int64_t sums[2])
{
    knnper_t *f = s->state;
    struct hf_run *x = s->run;
    if (f->ds_client != k) build_datastore(s, f, k);
    hf_model_features(&x->model, x->work, x->global, xb, B, f->qf, f->logits);
    double lam = f->ds_n > 0 ? f->lambda : 0.0;  /* an empty datastore: the global model */
    for (int b = 0; b < B; b++) {
        hf_knn_probs(f->keys, f->labels, f->ds_n, f->D, f->qf + (size_t)b * f->D, f->k, f->scale, f->C, f->nb, f->nd,
                     f->pk);
        const float *z = f->logits + (size_t)b * f->C;
        double mx = z[0], se = 0.0, best = -1.0;
        for (int c = 1; c < f->C; c++) mx = z[c] > mx ? z[c] : mx;
        for (int c = 0; c < f->C; c++) se += exp((double)z[c] - mx);
        int arg = 0;
        double py = 0.0;
        for (int c = 0; c < f->C; c++) {
            double pc = (1.0 - lam) * (exp((double)z[c] - mx) / se) + lam * f->pk[c];
            if (pc > best) { best = pc; arg = c; }  /* ties: the lowest class */
            if (c == yb[b]) py = pc;
        }
        sums[0] += arg == yb[b];
        sums[1] += (int64_t)llrint(-log(HF_MAX(py, DBL_MIN)) * HF_LOSS_SCALE);  /* p = 0: −log DBL_MIN */
    }
}

/* The global model changes every round: the datastores are rebuilt. */
static void begin_knnper(hf_strat_t *s) { ((knnper_t *)s->state)->ds_client = -1; }

const hf_strategy_t hf_strategy_knnper = {
    .name = "knnper",
    .doc = "personalization: FedAvg's global model interpolated with a kNN classifier over each client's "
           "datastore of its samples' features ([knnper] k, lambda) (Marfoq et al. 2022)",
    .modes = HF_MODE_CENTRAL,
    .keeps_stragglers = 0,
    .upload_factor = 1,
    .keys = keys,
    .check = check_knnper,
    .init = init_knnper,
    .free = free_knnper,
    .weights = hf_weights_samples,
    .round_begin = begin_knnper,
    .personal_eval = eval_knnper,
};
