/*
 * data_ondemand.c — data.on_demand: clients' samples made or picked when they
 * are used, never stored for the population.  Two kinds of data:
 *
 * Synthetic(alpha, beta) with data.partition = natural (the generator): client
 * k is FedProx device k of data_synth.c: its n_k, W_k, b_k, v_k and samples
 * come from its own keyed stream (seed, HF_RNG_DATA, k, 0), so its training
 * rows are exactly the rows of device k that the materialised generator
 * (data.partition = natural, data.synthetic_devices = clients) gives it.  A
 * client's first int(0.9 n_k) samples are made into one buffer each time it
 * trains (hf_od_client_rows); n_k is recomputed from the stream's first draw
 * whenever it is needed (hf_od_nk: selection and aggregation weights, the
 * simulated clock, /clients).  Evaluation: the test samples (the last
 * n_k − int(0.9 n_k)) of E = min(data.on_demand_eval_clients, N) clients,
 * drawn once without replacement from (seed, HF_RNG_DATA, 0, 5) by
 * hf_rng_sample and taken in increasing id order; with E = N every client's,
 * in order: the materialised generator's test set.  Its size does not depend on N.
 *
 * A loaded data set of M training samples (Fashion-MNIST, CIFAR, HDF5, ...,
 * data_load.c, or Synthetic's generated set) with data.partition = iid or
 * dirichlet: the M samples and the test set are loaded as without the key;
 * client k's sample ids are computed from (seed, k) when it trains
 * (hf_odpart_client, partition.c: keyed bijections of the M ids; sizes
 * data.on_demand_client_samples or the materialised iid partition's).
 *
 * Memory: the buffers of the largest client trained so far on this rank and
 * the test set (loaded data: the M samples, and 8 M bytes of ids by class for
 * dirichlet); nothing per registered client.  What cannot run without a
 * partition in memory is refused at setup (od_refuse).
 */
#include "run.h"
#include "data_load.h"
#include "hf_util.h"
#include "rng.h"
#include <stdlib.h>
#include <string.h>

#define OD_DIM 60       /* the Synthetic data set's features and classes (data_load.c) */
#define OD_CLASSES 10

struct hf_ondemand {
    int loaded;         /* 1: a loaded data set partitioned on demand (part); 0: the generator (s) */
    hf_synth_t s;
    hf_odpart_t part;
    long *cnt;          /* dirichlet: a client's class counts (scratch) */
    float *x;           /* the generator's client being trained: its rows (cap x OD_DIM) */
    int *y;
    long *idx;          /* its rows' ids: 0, 1, ..., cap − 1 (generator) or its samples' (loaded) */
    long cap;
};

long hf_od_nk(const struct hf_ondemand *od, int k)
{
    if (od->loaded) return hf_odpart_size(&od->part, k);
    return hf_synth_train_size(hf_synth_device_size(&od->s, k));
}

/* What reads the whole data set, or a client's data other than through the
 * local trainer: refused (exit 2) naming the key. */
static int od_refuse(const hf_params_t *p, const hf_conf_t *c)
{
    static const char *const ok[] = {"fedavg", "fedprox", "scaffold", "fednova", "ditto", "dpfedavg"};
    int known = 0;
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) known |= !strcmp(p->strategy, ok[i]);
    const char *why = p->partition == HF_PART_SHARDS ||
                              (p->partition == HF_PART_NATURAL && p->dataset != HF_DS_SYNTHETIC)
                          ? "data.partition = iid or dirichlet (or natural with data.dataset = synthetic)"
                      : !known ? "federation.strategy = fedavg, fedprox, scaffold, fednova, ditto or dpfedavg"
                      : strcmp(hf_conf_get(c, "federation.mode"), "centralized") ? "federation.mode = centralized"
                      : p->stream_rate > 0 || p->stream_trace[0] ? "no data stream (stream.rate, stream.trace)"
                      : hf_conf_bool(c, "availability.transfer") ? "availability.transfer = no"
                      : p->client_test_fraction > 0 ? "data.client_test_fraction = 0"
                      : p->augment ? "data.augment = none"
                      : strcmp(hf_conf_get(c, "data.size_by_capability"), "none") ? "data.size_by_capability = none"
                      : strcmp(hf_conf_get(c, "privacy.attack"), "none") ? "privacy.attack = none"
                      : strcmp(hf_conf_get(c, "privacy.attribute_attack"), "none") ? "privacy.attribute_attack = none"
                      : NULL;
    if (!why) return 0;
    return hf_key_err(c, "data.on_demand", "generates each client's samples when it trains; it needs %s", why);
}

/* The sizes of a loaded set's on-demand partition: what the keys ask must be
 * possible with its M training samples (exit 2 naming the key). */
static int od_check_sizes(const hf_params_t *p, const hf_conf_t *c, long M)
{
    long n = p->od_client_samples;
    if (n > M)
        return hf_key_err(c, "data.on_demand_client_samples", "%ld samples a client, more than the %ld training "
                          "samples", n, M);
    if (n == 0 && p->clients > M) {
        int rc = hf_key_err(c, "federation.clients", "%d clients share %ld training samples on demand with "
                            "data.on_demand_client_samples = 0 (floor(M/N) samples a client): every client needs "
                            "at least one", p->clients, M);
        hf_addhint("set data.on_demand_client_samples (the clients' windows of the keyed order then wrap around, "
                   "docs/scale.md) or lower federation.clients to at most %ld", M);
        return rc;
    }
    long least = n ? n : M / p->clients;
    const char *o = hf_conf_origin(c, "data.min_samples");
    if (p->partition == HF_PART_DIRICHLET && o && strcmp(o, "default") && least < p->min_samples)
        return hf_key_err(c, "data.min_samples", "on demand every client holds exactly its n_k samples; the "
                          "smallest, %ld, is below %d", least, p->min_samples);
    return 0;
}

/* The test set: the E sampled clients' test samples (their training rows are
 * made into scratch only to advance each stream). */
static void od_test_set(hf_run_t *x, struct hf_ondemand *od)
{
    const hf_params_t *p = x->p;
    int N = p->clients, E = HF_MIN(p->od_eval_clients, N);
    int *ids = hf_malloc((size_t)E * sizeof(int));
    if (E == N) for (int i = 0; i < N; i++) ids[i] = i;
    else {
        hf_rng_t r;
        hf_rng_init(&r, p->seed, HF_RNG_DATA, 0, 5);
        hf_rng_sample(&r, N, E, ids);  /* sorted */
    }
    long tot = 0, maxtr = 1;
    for (int i = 0; i < E; i++) {
        long n = hf_synth_device_size(&od->s, ids[i]), tr = hf_synth_train_size(n);
        tot += n - tr;
        maxtr = HF_MAX(maxtr, tr);
    }
    hf_dataset_alloc(&x->test, tot, 1, 1, OD_DIM, OD_CLASSES);
    float *sx = hf_malloc((size_t)maxtr * OD_DIM * sizeof(float));
    int *sy = hf_malloc((size_t)maxtr * sizeof(int));
    long o = 0;
    for (int i = 0; i < E; i++) {
        long n = hf_synth_device_size(&od->s, ids[i]), tr = hf_synth_train_size(n);
        hf_synth_device_rows(&od->s, ids[i], sx, sy, tr, x->test.x + (size_t)o * OD_DIM, x->test.y + o, n - tr);
        o += n - tr;
    }
    free(sx);
    free(sy);
    free(ids);
}

/* A loaded data set (data_load.c, unpartitioned) and the keyed partition of
 * its training samples. */
static int od_setup_loaded(hf_run_t *x, struct hf_ondemand *od)
{
    const hf_params_t *p = x->p;
    const hf_conf_t *c = x->o->conf;
    int rc = hf_load_data(p, c, x->o->suite, &x->train, &x->test, &x->part, &x->train_all, &x->ctest);
    if (!rc) rc = od_check_sizes(p, c, x->train.n);
    if (rc) return rc;
    od->loaded = 1;
    rc = hf_odpart_init(&od->part, p->partition == HF_PART_DIRICHLET, x->train.y, x->train.n, x->train.n_classes,
                        p->clients, p->od_client_samples, p->alpha, p->seed);
    if (rc) return hf_key_wrap(c, "data.partition", rc);
    od->cnt = hf_calloc((size_t)HF_MAX(x->train.n_classes, 1), sizeof(long));
    x->part = (hf_partition_t){.nclients = p->clients};
    return 0;
}

int hf_od_setup(hf_run_t *x)
{
    const hf_params_t *p = x->p;
    int rc = od_refuse(p, x->o->conf);
    if (rc) return rc;
    struct hf_ondemand *od = hf_calloc(1, sizeof *od);
    x->od = od;
    if (p->partition != HF_PART_NATURAL) return od_setup_loaded(x, od);
    if (p->od_client_samples)
        return hf_key_err(x->o->conf, "data.on_demand_client_samples", "sets the sizes of an iid or dirichlet "
                          "partition on demand; the Synthetic generator's devices draw theirs (data.synthetic_size_*)");
    od->s = (hf_synth_t){.alpha = p->syn_alpha, .beta = p->syn_beta, .iid = p->syn_iid,
                         .sensitive = p->syn_sensitive, .dim = OD_DIM, .n_classes = OD_CLASSES, .seed = p->seed,
                         .size_mu = p->syn_size_mu, .size_sigma = p->syn_size_sigma, .size_min = p->syn_size_min};
    if ((rc = hf_synth_init(&od->s))) return rc;
    memset(&x->train, 0, sizeof x->train);  /* no samples: the shape for the model */
    x->train = (hf_dataset_t){.dim = OD_DIM, .c = 1, .h = 1, .w = OD_DIM, .n_classes = OD_CLASSES};
    x->part = (hf_partition_t){.nclients = p->clients};
    od_test_set(x, od);
    return 0;
}

void hf_od_client_rows(hf_run_t *x, int k, long *nk, const float **dx, const int **dy, const long **idx)
{
    struct hf_ondemand *od = x->od;
    long n = hf_od_nk(od, k);
    if (n > od->cap) {  /* grown to the largest client this rank has trained */
        if (!od->loaded) {
            free(od->x);
            od->x = hf_alloc_aligned((size_t)n * OD_DIM * sizeof(float));
            od->y = hf_realloc(od->y, (size_t)n * sizeof(int));
        }
        od->idx = hf_realloc(od->idx, (size_t)n * sizeof(long));
        for (long i = od->cap; i < n; i++) od->idx[i] = i;
        free(x->iperm);
        x->iperm = hf_calloc((size_t)n, sizeof(int));
        od->cap = n;
    }
    *nk = n;
    *idx = od->idx;
    if (od->loaded) {  /* its sample ids; the rows are the loaded set's */
        hf_odpart_client(&od->part, k, od->idx, od->cnt);
        *dx = x->train.x;
        *dy = x->train.y;
        return;
    }
    hf_synth_device_rows(&od->s, k, od->x, od->y, n, NULL, NULL, 0);
    *dx = od->x;
    *dy = od->y;
}

void hf_od_free(struct hf_ondemand *od)
{
    if (!od) return;
    hf_synth_free(&od->s);
    hf_odpart_free(&od->part);
    free(od->cnt);
    free(od->x);
    free(od->y);
    free(od->idx);
    free(od);
}

long hf_strat_nk_on_demand(const hf_strat_t *s, int k)
{
    return hf_run_nk(s->run, k);
}
