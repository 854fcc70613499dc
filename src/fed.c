/*
 * fed.c — the synchronous federation loop (DESIGN.md "One round").
 *
 * Every rank loads the data and computes the same plan from the seed; client k
 * lives on rank k*R/N (contiguous blocks, so gathering records in rank order
 * yields them sorted by client id).  Per round:
 *   1. plan: clients selected uniformly without replacement, keyed by (seed, round);
 *   2. the global model is broadcast (rank0 topology; with allreduce every rank
 *      already holds it);
 *   3. each rank trains its selected clients one after another at the class's
 *      OpenBLAS thread count; the simulated clock prices download, compute, upload;
 *   4. updates Δ_k = x_k − x_t are aggregated with weight n_k (agg.c);
 *   5. every eval_every rounds the test set, cut into fixed chunks dealt to the
 *      ranks round-robin, is evaluated; integer counts and fixed-point losses are
 *      reduced, so the figures do not depend on the rank count;
 *   6. rank 0 appends the round to the results file, flushes, prints a line.
 */
#include "config.h"
#include "fed.h"
#include "agg.h"
#include "data.h"
#include "h5out.h"
#include "hf_util.h"
#include "nn.h"
#include "rng.h"
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EVAL_CHUNK 250            /* test samples per evaluation chunk (fixed: determinism) */
#define LOSS_FIXED_SCALE 4294967296.0  /* 2^32: losses summed as 64-bit fixed point */

typedef struct {
    const hf_fed_opts_t *o;
    const hf_params_t *p;
    MPI_Comm comm;
    int rank, size;
    hf_dataset_t train, test;
    hf_partition_t part;
    hf_model_t model;
    hf_work_t *work;
    float *global, *local, *grad, *mom, *delta;
    float *xb;                    /* batch buffer (B, dim) */
    int *yb;
    long *perm;                   /* max client size */
    int *iperm;
    int first_client, last_client;  /* this rank hosts [first, last) */
    hf_agg_t *agg;
    hf_h5out_t *h5;
    double t_kernel;              /* seconds inside numeric kernels (train steps, eval forward) */
} hf_ctx_t;

static int agree(int rc, MPI_Comm comm)
{
    int all = rc;
    MPI_Allreduce(&rc, &all, 1, MPI_INT, MPI_MAX, comm);
    return all;
}

static int rank_first_client(int r, int R, int N) { return (int)(((long)r * N + R - 1) / R); }

/* ------------------------------------------------------------------ data --- */

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

static int with_origin(const hf_conf_t *c, const char *key, int rc)
{
    const char *o = hf_conf_origin(c, key);
    if (rc == 0 || !o || !strcmp(o, "default")) return rc;
    char msg[4096];
    snprintf(msg, sizeof msg, "%s", hf_errmsg());
    return hf_seterr(rc, "%s: key '%s': %s", o, key, msg);
}

static int load_data(hf_ctx_t *x)
{
    const hf_params_t *p = x->p;
    const hf_conf_t *c = x->o->conf;
    int rc = 0;
    hf_partition_t natural = {0};
    int have_natural = 0;
    if (p->dataset == HF_DS_FMNIST) {
        rc = hf_fmnist_load(p->data_path, &x->train, &x->test);
        if (rc) return with_origin(c, "data.path", rc);
        long nt = (long)ceil(p->test_fraction * (double)x->test.n);
        dataset_truncate(&x->test, nt);
    } else if (p->dataset == HF_DS_SYNTHETIC) {
        hf_partition_t ptest = {0};
        rc = hf_synthetic_generate(p->syn_alpha, p->syn_beta, p->syn_iid, p->syn_devices, 60, 10,
                                   p->seed, &x->train, &x->test, &natural, &ptest);
        hf_partition_free(&ptest);
        if (rc) return rc;
        have_natural = 1;
    } else {
        if (!p->data_path[0]) {
            const char *o = hf_conf_origin(c, "data.dataset");
            return hf_seterr(HF_EINPUT, "%s: key 'data.path': data.dataset = leaf needs data.path "
                             "(a LEAF JSON file)", o ? o : x->o->suite);
        }
        rc = hf_leaf_load(p->data_path, &x->train, &natural);
        if (rc) return with_origin(c, "data.path", rc);
        have_natural = 1;
        const char *tp = hf_conf_get(c, "data.test_path");
        if (tp && tp[0]) {
            hf_partition_t pt = {0};
            rc = hf_leaf_load(tp, &x->test, &pt);
            hf_partition_free(&pt);
            if (rc) return with_origin(c, "data.test_path", rc);
            if (x->test.dim != x->train.dim)
                return hf_seterr(HF_EINPUT, "%s: test data has %d features, training data %d", tp,
                                 x->test.dim, x->train.dim);
        } else {
            holdout_split(&x->train, &natural, hf_conf_float(c, "data.holdout"), &x->test);
        }
        int ncl = HF_MAX(x->train.n_classes, x->test.n_classes);
        x->train.n_classes = x->test.n_classes = ncl;
    }
    if (p->partition == HF_PART_NATURAL) {
        if (p->clients > natural.nclients) {
            hf_partition_free(&natural);
            const char *o = hf_conf_origin(c, "federation.clients");
            return hf_seterr(HF_EINPUT, "%s: key 'federation.clients': %d clients requested but the "
                             "natural partition has only %d users", o ? o : "default", p->clients,
                             natural.nclients);
        }
        partition_keep(&natural, p->clients);
        x->part = natural;
        return 0;
    }
    if (have_natural) hf_partition_free(&natural);
    dataset_truncate(&x->train, p->train_samples);
    switch (p->partition) {
    case HF_PART_SHARDS:
        rc = hf_partition_shards(x->train.y, x->train.n, p->clients, p->seed, &x->part);
        break;
    case HF_PART_DIRICHLET:
        rc = hf_partition_dirichlet(x->train.y, x->train.n, x->train.n_classes, p->clients, p->alpha,
                                    p->min_samples, p->seed, &x->part);
        break;
    default:
        rc = hf_partition_iid(x->train.n, p->clients, p->seed, &x->part);
    }
    return with_origin(c, "data.partition", rc);
}

/* -------------------------------------------------------------- training --- */

typedef struct {
    double loss;      /* mean local training loss */
    int steps;
    double measured;  /* wall seconds */
} hf_local_t;

static hf_local_t client_train(hf_ctx_t *x, int k, int t)
{
    const hf_params_t *p = x->p;
    hf_local_t res = {0};
    long nk = x->part.off[k + 1] - x->part.off[k];
    const long *idx = x->part.idx + x->part.off[k];
    double t0 = hf_wtime();
    long P = x->model.nparams;
    memcpy(x->local, x->global, (size_t)P * sizeof(float));
    if (p->momentum > 0) memset(x->mom, 0, (size_t)P * sizeof(float));
    hf_sgd_t opt = {p->lr, p->momentum, p->weight_decay, p->clip};
    hf_rng_t r;
    hf_rng_init(&r, p->seed, HF_RNG_SHUFFLE, (uint64_t)t, (uint64_t)k);
    double loss_sum = 0.0;
    long seen = 0;
    int dim = x->train.dim;
    for (int e = 0; e < p->local_epochs && nk > 0; e++) {
        hf_rng_permutation(&r, (int)nk, x->iperm);
        for (long b0 = 0; b0 < nk; b0 += p->batch_size) {
            int B = (int)HF_MIN((long)p->batch_size, nk - b0);
            for (int i = 0; i < B; i++) {
                long s = idx[x->iperm[b0 + i]];
                memcpy(x->xb + (size_t)i * dim, x->train.x + s * dim, (size_t)dim * sizeof(float));
                x->yb[i] = x->train.y[s];
            }
            double tk = hf_wtime();
            float l = hf_model_train_step_grad(&x->model, x->work, x->local, x->grad, x->xb, x->yb, B);
            hf_sgd_step(&opt, P, x->local, x->grad, x->mom);
            x->t_kernel += hf_wtime() - tk;
            loss_sum += (double)l * B;
            seen += B;
            res.steps++;
        }
    }
    res.loss = seen ? loss_sum / (double)seen : NAN;
    for (long j = 0; j < P; j++) x->delta[j] = x->local[j] - x->global[j];
    res.measured = hf_wtime() - t0;
    return res;
}

/* ------------------------------------------------------------ evaluation --- */

static void evaluate(hf_ctx_t *x, double *acc, double *loss)
{
    long n = x->test.n, nchunks = (n + EVAL_CHUNK - 1) / EVAL_CHUNK;
    int64_t loc[2] = {0, 0};  /* correct, loss in fixed point */
    float lbuf[EVAL_CHUNK];
    for (long ch = x->rank; ch < nchunks; ch += x->size) {
        long s0 = ch * EVAL_CHUNK;
        int B = (int)HF_MIN((long)EVAL_CHUNK, n - s0);
        double tk = hf_wtime();
        loc[0] += hf_model_forward(&x->model, x->work, x->global, x->test.x + s0 * x->test.dim,
                                   x->test.y + s0, B, NULL, lbuf);
        x->t_kernel += hf_wtime() - tk;
        for (int i = 0; i < B; i++) loc[1] += (int64_t)llrint((double)lbuf[i] * LOSS_FIXED_SCALE);
    }
    int64_t tot[2];
    MPI_Allreduce(loc, tot, 2, MPI_INT64_T, MPI_SUM, x->comm);
    *acc = n ? (double)tot[0] / (double)n : NAN;
    *loss = n ? (double)tot[1] / LOSS_FIXED_SCALE / (double)n : NAN;
}

/* ----------------------------------------------------------------- setup --- */

static void iso_now(char *buf, size_t n)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* hostnames of all ranks, and the placement table, into rank 0's strings */
static void describe_system(hf_ctx_t *x, char **hosts_out, char **placement_out)
{
    char name[MPI_MAX_PROCESSOR_NAME] = {0};
    int len = 0;
    MPI_Get_processor_name(name, &len);
    char *all = x->rank == 0 ? hf_calloc((size_t)x->size, MPI_MAX_PROCESSOR_NAME) : NULL;
    MPI_Gather(name, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, 0,
               x->comm);
    if (x->rank != 0) return;
    size_t cap = (size_t)x->size * (MPI_MAX_PROCESSOR_NAME + 96) + 128;
    char *hosts = hf_calloc(cap, 1), *pl = hf_calloc(cap, 1);
    size_t hl = 0, pll = 0;
    pll += (size_t)snprintf(pl + pll, cap - pll, "rank host class cores clients\n");
    for (int r = 0; r < x->size; r++) {
        const char *h = all + (size_t)r * MPI_MAX_PROCESSOR_NAME;
        hl += (size_t)snprintf(hosts + hl, cap - hl, "%s%s", r ? "," : "", h);
        int f = rank_first_client(r, x->size, x->p->clients);
        int l = rank_first_client(r + 1, x->size, x->p->clients);
        pll += (size_t)snprintf(pl + pll, cap - pll, "%d %s %s %d %d-%d\n", r, h, x->p->dev.name,
                                x->p->dev.cores, f, l - 1);
    }
    free(all);
    *hosts_out = hosts;
    *placement_out = pl;
}

static void print_header(hf_ctx_t *x, const char *placement)
{
    FILE *f = x->o->out;
    const hf_params_t *p = x->p;
    char mpiver[MPI_MAX_LIBRARY_VERSION_STRING];
    int len;
    MPI_Get_library_version(mpiver, &len);
    char *nl = strchr(mpiver, '\n');
    if (nl) *nl = 0;
    static const char *ds[] = {"fashion-mnist", "synthetic", "leaf"};
    static const char *pa[] = {"iid", "shards", "dirichlet", "natural"};
    fprintf(f, "+--------------------------------------------------------------------+\n");
    fprintf(f, "| hetfl %-12s %-47s |\n", PACKAGE_VERSION, "heterogeneous federated training benchmark");
    fprintf(f, "+-------------------------+------------------------------------------+\n");
#define ROW(k, fmt, ...) do { char v_[256]; snprintf(v_, sizeof v_, fmt, __VA_ARGS__); \
        fprintf(f, "| %-23s | %-40.40s |\n", k, v_); } while (0)
    ROW("suite", "%s", x->o->suite);
    if (x->o->variant >= 0) ROW("variant", "%d", x->o->variant);
    ROW("seed", "%llu", (unsigned long long)p->seed);
    ROW("ranks", "%d", x->size);
    ROW("MPI", "%.40s", mpiver);
    ROW("data", "%s, %s partition", ds[p->dataset], pa[p->partition]);
    ROW("train / test samples", "%ld / %ld", x->part.off[x->part.nclients], x->test.n);
    ROW("model", "%s, %ld params", hf_arch_name(p->model.arch), x->model.nparams);
    ROW("strategy", "%s", "fedavg");
    ROW("clients (per round)", "%d (%d)", p->clients, p->clients_per_round);
    ROW("rounds, E, B, lr", "%d, %d, %d, %g", p->rounds, p->local_epochs, p->batch_size, p->lr);
    ROW("aggregation", "%s, %s", p->topology == HF_TOPO_RANK0 ? "rank0" : "allreduce",
        p->exact ? "exact (fixed-point)" : "float");
    ROW("device class", "%s: %d core, %g GFLOP/s", p->dev.name, p->dev.cores, p->dev.gflops);
    ROW("results", "%s", x->o->output);
#undef ROW
    fprintf(f, "+-------------------------+------------------------------------------+\n");
    fprintf(f, "placement:\n");
    for (const char *s = placement; *s;) {
        const char *e = strchr(s, '\n');
        if (!e) e = s + strlen(s);
        fprintf(f, "  %.*s\n", (int)(e - s), s);
        s = *e ? e + 1 : e;
    }
    fflush(f);
}

static void progress(hf_ctx_t *x, const hf_round_rec_t *r, double elapsed)
{
    FILE *f = x->o->out;
    int R = x->p->rounds;
    double eta = elapsed / r->round * (R - r->round);
    char acc[32] = "     -", tl[32] = "     -";
    if (!isnan(r->test_accuracy)) snprintf(acc, sizeof acc, "%.4f", r->test_accuracy);
    if (!isnan(r->test_loss)) snprintf(tl, sizeof tl, "%.4f", r->test_loss);
    char bar[24] = "";
    if (isatty(fileno(f))) {
        int w = 20, fill = (int)((double)w * r->round / R);
        bar[0] = '[';
        for (int i = 0; i < w; i++) bar[1 + i] = i < fill ? '#' : '.';
        bar[w + 1] = ']';
        bar[w + 2] = 0;
    }
    fprintf(f, "round %*d/%d  sim %9.1fs  acc %s  test_loss %s  train_loss %.4f  sel %d done %d "
            "drop %d  energy %.1f J  wall %.3fs %s ETA %.0fs\n",
            (int)(R >= 1000 ? 5 : 3), r->round, R, r->sim_time_s, acc, tl, r->train_loss,
            r->selected, r->completed, r->dropped + r->late, r->energy_j, r->wall_time_s, bar, eta);
    fflush(f);
}

static void ctx_free(hf_ctx_t *x)
{
    hf_dataset_free(&x->train);
    hf_dataset_free(&x->test);
    hf_partition_free(&x->part);
    if (x->work) hf_work_free(x->work);
    free(x->global); free(x->local); free(x->grad); free(x->mom); free(x->delta);
    free(x->xb); free(x->yb); free(x->perm); free(x->iperm);
    hf_agg_free(x->agg);
}

/* ------------------------------------------------------------------ run ---- */

int hf_fed_run(const hf_fed_opts_t *o, MPI_Comm comm, hf_fed_timing_t *timing)
{
    hf_ctx_t X = {0}, *x = &X;
    const hf_params_t *p = &o->p;
    x->o = o;
    x->p = p;
    x->comm = comm;
    MPI_Comm_rank(comm, &x->rank);
    MPI_Comm_size(comm, &x->size);
    double t_start = hf_wtime();
    hf_fed_timing_t tm = {0};

    openblas_set_num_threads(p->dev.cores);

    int rc = agree(load_data(x), comm);
    if (rc) { ctx_free(x); return rc; }

    hf_model_cfg_t mc = p->model;
    mc.in_c = x->train.c;
    mc.in_h = x->train.h;
    mc.in_w = x->train.w;
    mc.n_classes = x->train.n_classes;
    if (p->model.arch == HF_ARCH_CNN && (x->train.h < 4 || x->train.w < 4)) {
        ctx_free(x);
        const char *orig = hf_conf_origin(o->conf, "model.arch");
        return hf_seterr(HF_EINPUT, "%s: key 'model.arch': cnn needs image data (data set has %dx%d "
                         "inputs)", orig ? orig : "default", x->train.h, x->train.w);
    }
    rc = agree(hf_model_init(&x->model, &mc), comm);
    if (rc) { ctx_free(x); return rc; }
    long P = x->model.nparams;
    x->global = hf_alloc_aligned((size_t)P * sizeof(float));
    x->local = hf_alloc_aligned((size_t)P * sizeof(float));
    x->grad = hf_alloc_aligned((size_t)P * sizeof(float));
    x->mom = hf_alloc_aligned((size_t)P * sizeof(float));
    x->delta = hf_alloc_aligned((size_t)P * sizeof(float));
    x->work = hf_work_new(&x->model, HF_MAX(p->batch_size, EVAL_CHUNK));
    x->xb = hf_alloc_aligned((size_t)p->batch_size * (size_t)x->train.dim * sizeof(float));
    x->yb = hf_calloc((size_t)p->batch_size, sizeof(int));
    long maxn = 1;
    for (int k = 0; k < x->part.nclients; k++)
        maxn = HF_MAX(maxn, x->part.off[k + 1] - x->part.off[k]);
    x->iperm = hf_calloc((size_t)maxn, sizeof(int));
    hf_model_init_params(&x->model, x->global, p->seed);

    long toff[HF_MAX_TENSORS + 1];
    for (int i = 0; i < x->model.ntensors; i++) toff[i] = x->model.tensors[i].off;
    toff[x->model.ntensors] = P;
    x->agg = hf_agg_new(P, x->model.ntensors, toff, p->exact, p->topology, comm);

    int N = p->clients, R = x->size, m = p->clients_per_round;
    x->first_client = rank_first_client(x->rank, R, N);
    x->last_client = rank_first_client(x->rank + 1, R, N);

    /* results file and header (rank 0) */
    char *hosts = NULL, *placement = NULL;
    describe_system(x, &hosts, &placement);
    rc = 0;
    if (x->rank == 0) {
        rc = hf_h5out_open(&x->h5, o->output, o->force);
        if (!rc) {
            char created[64];
            iso_now(created, sizeof created);
            hf_h5out_root_attr(x->h5, "hetfl_version", PACKAGE_VERSION);
            hf_h5out_root_attr(x->h5, "suite", o->suite);
            hf_h5out_root_attr_int(x->h5, "variant", o->variant);
            hf_h5out_root_attr_int(x->h5, "seed", (long)p->seed);
            hf_h5out_root_attr_int(x->h5, "ranks", R);
            char aggs[64];
            snprintf(aggs, sizeof aggs, "%s,%s", p->topology == HF_TOPO_RANK0 ? "rank0" : "allreduce",
                     p->exact ? "exact" : "float");
            hf_h5out_root_attr(x->h5, "aggregation", aggs);
            hf_h5out_root_attr(x->h5, "created", created);
            hf_h5out_root_attr(x->h5, "command_line", o->command_line);
            char *cfg = hf_conf_dump(o->conf, 0);
            hf_h5out_config(x->h5, cfg);
            free(cfg);
            char mpiver[MPI_MAX_LIBRARY_VERSION_STRING];
            int len;
            MPI_Get_library_version(mpiver, &len);
            hf_h5out_system_attr(x->h5, "hostnames", hosts);
            hf_h5out_system_attr(x->h5, "mpi_library_version", mpiver);
            hf_h5out_system_attr(x->h5, "openblas_config", openblas_get_config());
            hf_h5out_system_attr(x->h5, "placement", placement);
            char buf[64];
            snprintf(buf, sizeof buf, "%ld", P);
            hf_h5out_system_attr(x->h5, "model_params", buf);
            hf_client_rec_t *cl = hf_calloc((size_t)N, sizeof *cl);
            for (int k = 0; k < N; k++) {
                cl[k].id = k;
                snprintf(cl[k].device_class, sizeof cl[k].device_class, "%s", p->dev.name);
                cl[k].samples = x->part.off[k + 1] - x->part.off[k];
                snprintf(cl[k].region, sizeof cl[k].region, "%s", "default");
                cl[k].energy_budget_j = INFINITY;
                int r = 0;
                while (rank_first_client(r + 1, R, N) <= k) r++;
                cl[k].rank = r;
            }
            rc = hf_h5out_clients(x->h5, cl, N);
            free(cl);
        }
        print_header(x, placement);
    }
    free(hosts);
    free(placement);
    rc = agree(rc, comm);
    if (rc) {
        if (x->h5) hf_h5out_close(x->h5, 0);
        ctx_free(x);
        return rc;
    }

    /* per-round buffers */
    int *sel = hf_calloc((size_t)m, sizeof(int));
    hf_part_rec_t *recs = hf_calloc((size_t)m, sizeof *recs);
    hf_part_rec_t *allrecs = x->rank == 0 ? hf_calloc((size_t)m, sizeof *allrecs) : NULL;
    int *rcounts = hf_calloc((size_t)R, sizeof(int)), *rdispl = hf_calloc((size_t)R, sizeof(int));
    double sim_time = 0.0;
    double flops_per_sample = hf_model_train_flops(&x->model);
    uint64_t model_bytes = (uint64_t)P * sizeof(float);
    double t_loop = hf_wtime();
    int synced = 1;  /* every rank holds the current global model */

    for (int t = 0; t < p->rounds && !rc; t++) {
        double tr0 = hf_wtime(), ta, tb;
        hf_round_rec_t rr = {0};
        rr.round = t + 1;
        /* 1. plan */
        hf_rng_t rs;
        hf_rng_init(&rs, p->seed, HF_RNG_SELECT, (uint64_t)t, 0);
        hf_rng_sample(&rs, N, m, sel);
        ta = hf_wtime();
        tm.plan += ta - tr0;
        /* 2. broadcast: the model lives on rank 0 after a rank0 aggregation */
        if (!synced) MPI_Bcast(x->global, (int)P, MPI_FLOAT, 0, comm);
        synced = 1;
        tb = hf_wtime();
        tm.bcast += tb - ta;
        /* 3. local training of this rank's selected clients */
        hf_agg_begin(x->agg);
        int nloc = 0;
        double wsum = 0.0;  /* Σ n_k of completed clients: same on all ranks (plan) */
        for (int i = 0; i < m; i++) wsum += (double)(x->part.off[sel[i] + 1] - x->part.off[sel[i]]);
        for (int i = 0; i < m; i++) {
            int k = sel[i];
            if (k < x->first_client || k >= x->last_client) continue;
            long nk = x->part.off[k + 1] - x->part.off[k];
            hf_local_t lr = client_train(x, k, t);
            hf_agg_add(x->agg, (double)nk, x->delta);
            hf_part_rec_t *pr = &recs[nloc++];
            memset(pr, 0, sizeof *pr);
            pr->round = t + 1;
            pr->client = k;
            pr->outcome = HF_OUT_COMPLETED;
            pr->steps = lr.steps;
            pr->compute_s_model = flops_per_sample * (double)nk * p->local_epochs / (p->dev.gflops * 1e9);
            pr->compute_s_measured = lr.measured;
            pr->comm_s = 2 * p->dev.latency_s + (double)model_bytes * 8 / (p->dev.down_mbps * 1e6) +
                         (double)model_bytes * 8 / (p->dev.up_mbps * 1e6);
            pr->energy_j = p->dev.active_w * pr->compute_s_model +
                           p->dev.radio_j_per_mb * 2.0 * (double)model_bytes / 1e6;
            pr->local_loss = lr.loss;
            pr->width = 1.0;
            pr->bytes_up = model_bytes;
        }
        double tc = hf_wtime();
        tm.compute += tc - tb;
        rr.wall_compute_s = tc - tb;
        /* 4. aggregate: x ← x + Σ n_k Δ_k / Σ n_k */
        hf_agg_finish(x->agg, wsum, x->delta);
        tm.agg_comm += hf_agg_stats(x->agg)->t_comm;
        if (x->rank == 0 || hf_agg_result_everywhere(x->agg))
            for (long j = 0; j < P; j++) x->global[j] += x->delta[j];
        synced = hf_agg_result_everywhere(x->agg);
        double td = hf_wtime();
        tm.agg += td - tc;
        rr.wall_agg_s = td - tc;
        /* records to rank 0 (block placement: rank order = client order) */
        int nb = nloc * (int)sizeof(hf_part_rec_t);
        MPI_Gather(&nb, 1, MPI_INT, rcounts, 1, MPI_INT, 0, comm);
        if (x->rank == 0)
            for (int r = 0, d = 0; r < R; r++) { rdispl[r] = d; d += rcounts[r]; }
        MPI_Gatherv(recs, nb, MPI_BYTE, allrecs, rcounts, rdispl, MPI_BYTE, 0, comm);
        double te = hf_wtime();
        tm.gather += te - td;
        /* 5. evaluate (needs the model everywhere) */
        rr.test_accuracy = rr.test_loss = NAN;
        if ((t + 1) % p->eval_every == 0 || t + 1 == p->rounds) {
            if (!synced) MPI_Bcast(x->global, (int)P, MPI_FLOAT, 0, comm);
            synced = 1;  /* this broadcast also serves the next round */
            evaluate(x, &rr.test_accuracy, &rr.test_loss);
        }
        double tf = hf_wtime();
        tm.eval += tf - te;
        rr.wall_eval_s = tf - te;
        /* 6. record */
        if (x->rank == 0) {
            double wl = 0.0, round_end = sim_time;
            for (int i = 0; i < m; i++) {
                hf_part_rec_t *q = &allrecs[i];
                double nk = (double)(x->part.off[q->client + 1] - x->part.off[q->client]);
                wl += nk * q->local_loss;
                double fin = sim_time + q->compute_s_model + q->comm_s;
                if (fin > round_end) round_end = fin;
                rr.energy_j += q->energy_j;
                rr.bytes_up += q->bytes_up;
            }
            sim_time = round_end;
            rr.sim_time_s = sim_time;
            rr.available = N;
            rr.selected = m;
            rr.completed = m;
            rr.bytes_down = (uint64_t)m * model_bytes;
            rr.train_loss = wsum > 0 ? wl / wsum : NAN;
            rr.carbon_g = rr.energy_j / 3.6e6 * p->carbon_intensity;
            rc = hf_h5out_participation(x->h5, allrecs, m);
            rr.wall_io_s = hf_wtime() - tf;  /* participation rows; the round row and flush follow */
            rr.wall_time_s = hf_wtime() - tr0;
            if (!rc) rc = hf_h5out_round(x->h5, &rr);
            if (!rc) rc = hf_h5out_flush(x->h5);
            tm.final_accuracy = rr.test_accuracy;
            if (!o->quiet) progress(x, &rr, hf_wtime() - t_loop);
        }
        tm.io += hf_wtime() - tf;
        MPI_Bcast(&rc, 1, MPI_INT, 0, comm);
        tm.rounds++;
    }

    if (!rc && x->rank == 0) {
        rc = hf_h5out_model(x->h5, "model/final", &x->model, x->global);
        if (!rc) rc = hf_h5out_flush(x->h5);
    }
    if (x->rank == 0) {
        int rc2 = hf_h5out_close(x->h5, 1);
        if (!rc) rc = rc2;
        if (!rc)
            fprintf(o->out, "done: %d rounds, final accuracy %.4f, simulated %.1f s, wall %.2f s\n"
                    "results: %s\n", p->rounds, tm.final_accuracy, sim_time, hf_wtime() - t_start,
                    o->output);
    }
    rc = agree(rc, comm);
    tm.total = hf_wtime() - t_start;
    tm.loop = hf_wtime() - t_loop;
    tm.kernel = x->t_kernel;
    tm.nparams = P;
    if (timing) *timing = tm;
    free(sel); free(recs); free(allrecs); free(rcounts); free(rdispl);
    ctx_free(x);
    return rc;
}
