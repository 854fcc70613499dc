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
#include "async.h"
#include "checkpoint.h"
#include "data.h"
#include "data_load.h"
#include "h5out.h"
#include "devices.h"
#include "avail.h"
#include "select.h"
#include "placement.h"
#include "hf_util.h"
#include "nn.h"
#include "rng.h"
#include "decentral.h"
#include "server_opt.h"
#include "strategy.h"
#include "topology.h"
#include "hetero.h"
#include "feddf.h"
#include "dkt.h"
#include "energy.h"
#include "rapl.h"
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
    /* strategies (strategy.c) — persistent state inside: strat.state_*, sopt.state_*, dec.state_* */
    hf_strat_t strat;             /* strategy, SCAFFOLD control variates */
    hf_server_opt_t sopt;         /* server optimizer moments */
    hf_plan_t plan;               /* this round's plan (stragglers, epochs, weights) */
    hf_graph_t graph;             /* decentralized: communication graph */
    hf_dec_t dec;                 /* decentralized: per-client models, gossip */
    hf_energy_t *en;              /* regions, budgets, carbon sources (energy.c) */
    hf_rapl_t rapl;               /* measured energy counters (rapl.c) */
    hf_hetero_t *het;             /* heterofl, fjord: width sub-models (hetero.c); NULL otherwise */
    hf_feddf_t *fdf;              /* feddf: group models, distillation (feddf.c); NULL otherwise */
    long train_all;               /* training samples loaded, before data.train_samples (feddf's server set) */
    hf_eplan_t *eplan;            /* this round: energy plan per selected client (client −1: none) */
    hf_energy_client_t *ecl;      /* carbon-aware: every client's full-round figures (N), else NULL */
    double *inv_pi;               /* carbon-aware: 1/π_k of the selected clients (m), else NULL */
    long train_sample;            /* client_train: samples per epoch (0 = all; energy sample strategy) */
    /* devices (devices.c, placement.c) */
    int *dcls;                    /* device class of every client (index into p->devs.cls) */
    hf_dplan_t *dplan;            /* this round: simulated times and outcome per selected client */
    long *d_nk;                   /* hf_round_plan inputs per selected client: n_k, class, */
    int *d_cls, *d_ep, *d_skip;   /* epochs, discarded by the strategy */
    hf_dbw_t *dbw;                /* dynamic backup workers (NULL unless backup_workers = dynamic) */
    double *d_norm2;              /* DBW: ‖Δ_k‖² of this rank's records */
    float *dbw_old;               /* DBW: the model before aggregation (rank 0) */
    int eval_threads;             /* OpenBLAS threads for evaluation: the same on every rank */
    /* availability and selection (avail.c, select.c): the same on every rank */
    hf_avail_t av;                /* online intervals of every client */
    hf_select_t *sel;             /* policy, estimators, corrections (NULL: plain uniform) */
    unsigned char *online;        /* online mask at the round start (N) */
    double *vol_loss;             /* this round's local losses, broadcast by rank 0 (m) */
    double *vol_w;                /* correction weights (m) */
    double *off_comm, *off_comp;  /* dropped_offline: seconds of transfer / compute done (m) */
    /* data transfer to participants (availability.transfer, avail.c); NULL when off */
    int *tr_donor;                /* this round: offline client whose data selected client i gets (m) */
    long *tr_count;               /* samples it receives (m) */
    double *tr_s;                 /* simulated seconds of that transfer (m) */
    long *tr_idx;                 /* the receiver being trained: its own then the received sample ids */
    long tr_n;                    /* entries of tr_idx */
    int tr_client;                /* client tr_idx belongs to, −1: none */
    /* this rank's clients' training rows as bytes, client after client in partition
     * order, where every value is an exact byte/255 (Fashion-MNIST); NULL: train + part */
    uint8_t *cx8;
    int *cy;
    long *coff;                   /* last_client − first_client + 1 row offsets */
} hf_ctx_t;

static int agree(int rc, MPI_Comm comm)
{
    int all = rc;
    MPI_Allreduce(&rc, &all, 1, MPI_INT, MPI_MAX, comm);
    return all;
}

static int rank_first_client(int r, int R, int N) { return (int)(((long)r * N + R - 1) / R); }

/* -------------------------------------------------------------- training --- */

typedef struct {
    double loss;      /* mean local training loss */
    int steps;
    double measured;  /* wall seconds */
    long samples;     /* samples processed */
} hf_local_t;

/* Copy this rank's clients' rows into one client-major block of bytes (x->cx8).
 * Training then picks each client's minibatch rows from one contiguous region,
 * a quarter the size as bytes, instead of random rows of the whole set: the
 * minibatch gather took 1.3 ms of a 34 ms quickstart round, now 0.45 ms. */
static void build_client_rows(hf_ctx_t *x)
{
    const hf_dataset_t *d = &x->train;
    int nc = x->last_client - x->first_client, dim = d->dim;
    long rows = x->part.off[x->last_client] - x->part.off[x->first_client];
    if (nc <= 0 || rows <= 0 || dim <= 0) return;
    /* bytes only where every value is exactly b/255, the IDX reader's expression
     * (data_idx.c).  Checked before allocating: float data would double this rank's
     * share of the set in memory (the 100,000-client scale bench: +120 MB per rank),
     * and even a byte table made and dropped raises its peak RSS by 24 MB. */
    const float sc = 1.0f / 255.0f;
    for (int k = x->first_client; k < x->last_client; k++)
        for (long i = x->part.off[k]; i < x->part.off[k + 1]; i++) {
            const float *r = d->x + (size_t)x->part.idx[i] * dim;
            for (int c = 0; c < dim; c++) {
                float v = r[c] * 255.0f;
                if (!(v >= 0.0f && v <= 255.0f) || (float)(uint8_t)lrintf(v) * sc != r[c]) return;
            }
        }
    x->coff = hf_calloc((size_t)nc + 1, sizeof(long));
    x->cy = hf_malloc((size_t)rows * sizeof(int));
    x->cx8 = hf_alloc_aligned((size_t)rows * dim);
    long o = 0;
    for (int k = x->first_client; k < x->last_client; k++) {
        x->coff[k - x->first_client] = o;
        for (long i = x->part.off[k]; i < x->part.off[k + 1]; i++, o++) {
            long s = x->part.idx[i];
            const float *r = d->x + (size_t)s * dim;
            for (int c = 0; c < dim; c++) x->cx8[(size_t)o * dim + c] = (uint8_t)lrintf(r[c] * 255.0f);
            x->cy[o] = d->y[s];
        }
    }
    x->coff[nc] = o;
}

HF_INLINE void bytes_to_float(float *restrict o, const uint8_t *restrict u, int n, float sc)
{
    for (int c = 0; c < n; c++) o[c] = (float)u[c] * sc;
}

/* Minibatch rows perm[0..B) of client k's block into xb, yb (the same floats as
 * train.x: (float)byte · (1/255) is how the IDX reader made them). */
HF_CLONES static void gather_client_rows(const hf_ctx_t *x, int k, const int *perm, int B, float *xb, int *yb)
{
    int dim = x->train.dim;
    long r0 = x->coff[k - x->first_client];
    for (int i = 0; i < B; i++) {
        long s = r0 + perm[i];
        bytes_to_float(xb + (size_t)i * dim, x->cx8 + (size_t)s * dim, dim, 1.0f / 255.0f);
        yb[i] = x->cy[s];
    }
}

/* Minibatch rows idx[perm[0..B)] of d into xb, yb. */
static void gather_rows(const hf_dataset_t *d, const long *idx, const int *perm, int B, float *xb, int *yb)
{
    for (int i = 0; i < B; i++) {
        long s = idx[perm[i]];
        memcpy(xb + (size_t)i * d->dim, d->x + (size_t)s * d->dim, (size_t)d->dim * sizeof(float));
        yb[i] = d->y[s];
    }
}

/* Ask for rows idx[perm[0..B)] of d: memory fetches them while the kernels run on
 * the current batch. */
static void prefetch_rows(const hf_dataset_t *d, const long *idx, const int *perm, int B)
{
    size_t row = (size_t)d->dim * sizeof(float);
    for (int i = 0; i < B; i++) {
        const char *r = (const char *)(d->x + (size_t)idx[perm[i]] * d->dim);
        for (size_t o = 0; o < row; o += 64) __builtin_prefetch(r + o, 0, 1);
    }
}

/* The same for rows perm[0..B) of client k's byte block.  (A single function for
 * both layouts, row address computed from a base and a row size, measured 0.3 ms
 * a quickstart round slower here; kept apart.) */
static void prefetch_client_rows(const hf_ctx_t *x, int k, const int *perm, int B)
{
    long r0 = x->coff[k - x->first_client];
    size_t rb = (size_t)x->train.dim;
    for (int i = 0; i < B; i++)
        for (size_t o = 0; o < rb; o += 64) __builtin_prefetch(x->cx8 + (size_t)(r0 + perm[i]) * rb + o, 0, 1);
}

/* Local training of client k from model `start` for cp->epochs epochs, at most
 * cp->steps steps; leaves the upload (strategy.h) in x->delta — with want_delta = 0
 * and no client_upload hook, only the trained model in x->local (the caller hands
 * local − start to the aggregator itself). */
static hf_local_t client_train(hf_ctx_t *x, int k, int t, const float *start, const hf_cplan_t *cp,
                               int want_delta)
{
    const hf_params_t *p = x->p;
    hf_local_t res = {0};
    long nk = x->part.off[k + 1] - x->part.off[k];
    const long *idx = x->part.idx + x->part.off[k];
    int block = x->coff != NULL;  /* its rows from this rank's client-major copy */
    if (x->tr_idx && x->tr_client == k) { nk = x->tr_n; idx = x->tr_idx; block = 0; }  /* + received data */
    double t0 = hf_wtime();
    long P = x->model.nparams;
    memcpy(x->local, start, (size_t)P * sizeof(float));
    const hf_strategy_t *st = x->strat.st;
    if (p->momentum > 0) memset(x->mom, 0, (size_t)P * sizeof(float));
    hf_sgd_t opt = {p->lr, p->momentum, p->weight_decay, p->clip};
    hf_rng_t r;
    hf_rng_init(&r, p->seed, HF_RNG_SHUFFLE, (uint64_t)t, (uint64_t)k);
    double loss_sum = 0.0;
    long seen = 0;
    /* energy sample strategy: each epoch over the first ne of a fresh permutation */
    long ne = x->train_sample > 0 && x->train_sample < nk ? x->train_sample : nk;
    for (int e = 0; e < cp->epochs && nk > 0; e++) {
        hf_rng_permutation(&r, (int)nk, x->iperm);
        for (long b0 = 0; b0 < ne && res.steps < cp->steps; b0 += p->batch_size) {
            int B = (int)HF_MIN((long)p->batch_size, ne - b0);
            /* this batch's rows, then ask for the next batch's (measured: half the
             * gather time with the client's byte rows) */
            int Bn = (int)HF_MIN((long)p->batch_size, ne - b0 - B);
            if (block) {
                gather_client_rows(x, k, x->iperm + b0, B, x->xb, x->yb);
                prefetch_client_rows(x, k, x->iperm + b0 + B, Bn);
            } else {
                gather_rows(&x->train, idx, x->iperm + b0, B, x->xb, x->yb);
                prefetch_rows(&x->train, idx, x->iperm + b0 + B, Bn);
            }
            double tk = hf_wtime();
            float l;
            if (hf_strat_uses_grad_hook(&x->strat)) {  /* gradient, strategy hook, then the step */
                l = hf_model_train_step_grad(&x->model, x->work, x->local, x->grad, x->xb, x->yb, B);
                st->grad_hook(&x->strat, k, x->local, start, x->grad);
                hf_sgd_step(&opt, P, x->local, x->grad, x->mom);
            } else  /* update folded into the backward (nn.h): no extra pass over the P parameters */
                l = hf_model_train_step(&x->model, x->work, &opt, x->local, x->grad, x->mom, x->xb, x->yb, B);
            x->t_kernel += hf_wtime() - tk;
            loss_sum += (double)l * B;
            seen += B;
            res.steps++;
            res.samples += B;
        }
    }
    res.loss = seen ? loss_sum / (double)seen : NAN;
    if (st->client_upload) st->client_upload(&x->strat, k, cp, x->local, start, x->delta);
    else if (want_delta) for (long j = 0; j < P; j++) x->delta[j] = x->local[j] - start[j];
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
    if (p->decentralized)
        ROW("strategy", "D-PSGD, %s graph, gap %.4f", p->topo_kind, hf_graph_spectral_gap(&x->graph));
    else
        ROW("strategy", "%s, server %s (lr %g)", p->strategy, p->server_opt, p->server_lr);
    if (x->strat.state_bytes_max + hf_server_opt_bytes(&x->sopt))
        ROW("strategy state", "%.2f MB (all ranks, worst case)",
            (double)(x->strat.state_bytes_max + hf_server_opt_bytes(&x->sopt)) / 1e6);
    ROW("clients (per round)", "%d (%d)", p->clients, p->clients_per_round);
    ROW("rounds, E, B, lr", "%d, %d, %d, %g", p->rounds, p->local_epochs, p->batch_size, p->lr);
    ROW("aggregation", "%s, %s", p->topology == HF_TOPO_RANK0 ? "rank0" : "allreduce",
        p->exact ? "exact (fixed-point)" : "float");
    if (x->agg) {
        char how[96];
        hf_agg_method(x->agg, how, sizeof how);
        ROW("  reduction", "%s", how);
    }
    char dmix[256], dpol[256];
    hf_devices_describe(&p->devs, dmix, sizeof dmix, dpol, sizeof dpol);
    ROW("device classes", "%s", dmix);
    ROW("round policy", "%s", dpol);
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
    free(x->cx8); free(x->cy); free(x->coff);
    hf_strat_free(&x->strat);
    hf_energy_free(x->en);
    free(x->eplan); free(x->ecl); free(x->inv_pi);
    hf_server_opt_free(&x->sopt);
    if (x->p->decentralized) hf_dec_free(&x->dec);
    hf_graph_free(&x->graph);
    free(x->plan.c);
    free(x->dcls); free(x->dplan); free(x->d_nk); free(x->d_cls); free(x->d_ep); free(x->d_skip);
    free(x->d_norm2); free(x->dbw_old);
    hf_dbw_free(x->dbw);
    hf_avail_free(&x->av); hf_select_free(x->sel); free(x->online); free(x->vol_loss);
    free(x->vol_w); free(x->off_comm); free(x->off_comp);
    free(x->tr_donor); free(x->tr_count); free(x->tr_s); free(x->tr_idx);
    hf_agg_free(x->agg);
    hf_hetero_free(x->het);
    hf_feddf_free(x->fdf);
}

/* --------------------------------------------------------------- devices --- */

/* Simulated clock and round policies (devices.c) on top of the strategy's plan:
 * a client the strategy keeps may turn late, partial, overcommitted or backup;
 * the kept set, Σ n_k and the weights are then recomputed — identically on
 * every rank, before any training.  Returns the round's simulated duration. */
static double plan_devices(hf_ctx_t *x, int t, const int *sel, int m, int K, double fps)
{
    const hf_params_t *p = x->p;
    uint64_t xfer = (uint64_t)x->strat.st->upload_factor * (uint64_t)x->model.nparams * sizeof(float);
    for (int i = 0; i < m; i++) {
        x->d_nk[i] = x->part.off[sel[i] + 1] - x->part.off[sel[i]] + (x->tr_count ? x->tr_count[i] : 0);
        x->d_cls[i] = x->dcls[sel[i]];
        x->d_ep[i] = x->plan.c[i].epochs;
        x->d_skip[i] = !x->plan.c[i].kept;
    }
    hf_round_in_t in = {.m = m, .client = sel, .samples = x->d_nk, .cls = x->d_cls, .K = K,
                        .epochs = p->local_epochs, .batch = p->batch_size, .epochs_of = x->d_ep,
                        .skip = x->d_skip, .flops_per_sample = fps, .bytes_down = xfer,
                        .bytes_up = xfer, .seed = p->seed, .round = t,
                        .flops_scale = x->het ? hf_hetero_flops_scale(x->het)
                                       : x->fdf ? hf_feddf_flops_scale(x->fdf) : NULL,
                        .bytes_scale = x->het ? hf_hetero_bytes_scale(x->het)
                                       : x->fdf ? hf_feddf_bytes_scale(x->fdf) : NULL,
                        .k_dynamic = x->dbw ? x->dbw->k : 0, .pre_s = x->tr_s};
    double dur = 0.0;
    hf_round_plan(&p->devs, &in, x->dplan, &dur);
    if (x->dbw) hf_dbw_observe_times(x->dbw, x->dplan, m);
    x->plan.kept = 0;
    x->plan.nsum = 0.0;
    for (int i = 0; i < m; i++) {
        hf_cplan_t *c = &x->plan.c[i];
        const hf_dplan_t *d = &x->dplan[i];
        if (d->outcome < 0) continue;  /* discarded by the strategy */
        if (d->outcome != HF_OUT_COMPLETED && d->outcome != HF_OUT_PARTIAL) {
            c->kept = 0;
            c->epochs = c->steps = 0;
            continue;
        }
        if (d->steps != c->steps) {  /* partial work: FedNova's a_k follows the steps done */
            c->steps = d->steps;
            c->a = !strcmp(x->strat.st->name, "fednova")
                ? hf_fednova_a(c->steps, p->momentum, (double)p->lr * x->strat.mu) : (double)c->steps;
        }
        x->plan.kept++;
        x->plan.nsum += (double)x->d_nk[i];
    }
    x->strat.st->weights(&x->strat, &x->plan);
    return dur;
}

/* --------------------------------------------------------------- energy --- */

/* Energy budgets and carbon-aware weights (energy.c) on top of the device plan,
 * identically on every rank: each kept client's round is priced at its class's
 * figures and charged to its budget; one that cannot pay is not kept (outcome
 * over_budget), an adapted one runs ep.steps (fewer steps / sampled data).  The
 * kept set, Σ n_k and the weights are then recomputed; with the carbon-aware
 * sampler each weight is multiplied by 1/π_k and the divisor by Σ(w/π)/Σw
 * (Hájek).  Budgets are charged before availability drop-outs are known. */
static void plan_energy(hf_ctx_t *x, int t, const int *sel, int m, double start)
{
    const hf_params_t *p = x->p;
    int uf = x->strat.st->upload_factor;
    long n_up = (long)uf * x->model.nparams;
    uint64_t xfer = (uint64_t)n_up * sizeof(float);
    int changed = 0;
    for (int i = 0; i < m; i++) {
        hf_eplan_t *ep = &x->eplan[i];
        hf_cplan_t *c = &x->plan.c[i];
        hf_dplan_t *d = &x->dplan[i];
        ep->client = -1;
        if (!c->kept || d->outcome < 0) continue;
        const hf_devclass_t *dc = &p->devs.cls[x->dcls[sel[i]]];
        hf_energy_client_t ec = {.samples = x->d_nk[i], .steps_full = c->steps, .compute_s = d->t_compute,
                                 .comm_s = d->t_down + d->t_up, .active_w = dc->active_w,
                                 .idle_w = dc->idle_w, .radio_j_per_mb = dc->radio_j_per_mb};
        hf_energy_plan(x->en, t, start, sel[i], &ec, xfer, n_up, ep);
        if (ep->outcome == HF_OUT_OVER_BUDGET) {
            c->kept = 0;
            c->epochs = c->steps = 0;
            d->outcome = HF_OUT_OVER_BUDGET;
            changed = 1;
        } else c->steps = ep->steps;
    }
    if (changed) {
        x->plan.kept = 0;
        x->plan.nsum = 0.0;
        for (int i = 0; i < m; i++)
            if (x->plan.c[i].kept) { x->plan.kept++; x->plan.nsum += (double)x->d_nk[i]; }
        x->strat.st->weights(&x->strat, &x->plan);
    }
    if (x->inv_pi) {
        double sw = 0.0, swp = 0.0;
        for (int i = 0; i < m; i++) {
            hf_cplan_t *c = &x->plan.c[i];
            if (!c->kept) continue;
            sw += c->weight;
            c->weight *= x->inv_pi[i];
            swp += c->weight;
        }
        if (sw > 0) x->plan.divisor *= swp / sw;
    }
}

/* Dynamic backup workers: ‖Δ_k‖² of the kept clients travel to rank 0 in client
 * order; rank 0 updates the estimates from them and the applied model update,
 * and broadcasts the next round's k (devices.h). */
static void dbw_round(hf_ctx_t *x, int m, int nloc, int *rcounts, int *rdispl)
{
    double *all = x->rank == 0 ? hf_calloc((size_t)m, sizeof(double)) : NULL;
    MPI_Gather(&nloc, 1, MPI_INT, rcounts, 1, MPI_INT, 0, x->comm);
    if (x->rank == 0)
        for (int r = 0, d = 0; r < x->size; r++) { rdispl[r] = d; d += rcounts[r]; }
    MPI_Gatherv(x->d_norm2, nloc, MPI_DOUBLE, all, rcounts, rdispl, MPI_DOUBLE, 0, x->comm);
    if (x->rank == 0) {
        double *w = hf_calloc((size_t)m, sizeof(double)), *n2 = hf_calloc((size_t)m, sizeof(double));
        double ws = 0.0;
        int k = 0;
        for (int i = 0; i < m; i++)
            if (x->plan.c[i].kept) { w[k] = x->plan.c[i].weight; n2[k] = all[i]; ws += w[k++]; }
        for (int i = 0; i < k; i++) w[i] = ws > 0 ? w[i] / ws : 0.0;
        for (long j = 0; j < x->model.nparams; j++) x->dbw_old[j] = x->global[j] - x->dbw_old[j];
        hf_dbw_observe_updates(x->dbw, k, w, n2, x->dbw_old);
        hf_dbw_choose(x->dbw);
        free(w);
        free(n2);
    }
    free(all);
    MPI_Bcast(&x->dbw->k, 1, MPI_INT, 0, x->comm);
}

/* ---------------------------------------------------------- availability --- */

/* Availability model, selection policy and correction from the suite (avail.c,
 * select.c).  With model always, policy uniform and no correction x->sel stays
 * NULL and rounds select exactly as before (bitwise-identical results). */
static int vol_init(hf_ctx_t *x, int N, int m)
{
    const hf_conf_t *c = x->o->conf;
    const hf_params_t *p = x->p;
    hf_avail_spec_t spec;
    int rc = hf_avail_spec_from_conf(&spec, c, N, p->seed);
    if (rc) return rc;
    const char *pol = hf_conf_get(c, "selection.policy"), *cor = hf_conf_get(c, "aggregation.correction");
    hf_correction_t corr = !strcmp(cor, "unbiased") ? HF_CORR_UNBIASED
                           : !strcmp(cor, "cafed") ? HF_CORR_CAFED : HF_CORR_NONE;
    if (spec.model == HF_AV_ALWAYS && spec.withdraw_fraction <= 0 && !strcmp(pol, "uniform") &&
        corr == HF_CORR_NONE)
        return 0;
    rc = hf_key_wrap(c, "availability.file", hf_avail_generate(&x->av, &spec));
    if (rc) return rc;
    double *ppi = hf_calloc((size_t)N, sizeof(double)), *plam = hf_calloc((size_t)N, sizeof(double));
    double prior = hf_conf_float(c, "aggregation.pi_prior");
    for (int k = 0; k < N; k++) {
        ppi[k] = prior >= 0 ? prior : 0.5;
        if (prior < 0 && spec.model == HF_AV_MARKOV) hf_avail_markov_params(&spec, k, &ppi[k], &plam[k]);
    }
    long *nk = hf_calloc((size_t)N, sizeof(long));
    for (int k = 0; k < N; k++) nk[k] = x->part.off[k + 1] - x->part.off[k];
    x->sel = hf_select_new(pol, corr, N, nk, ppi, plam);
    free(ppi); free(plam); free(nk);
    if (!x->sel) return HF_EINPUT;
    x->sel->d = (int)hf_conf_int(c, "selection.d");
    x->sel->groups = (int)hf_conf_int(c, "selection.groups");
    x->sel->beta = hf_conf_float(c, "selection.f3ast_beta");
    x->sel->cafed_c = hf_conf_float(c, "aggregation.cafed_c");
    x->online = hf_calloc((size_t)N, 1);
    x->vol_loss = hf_calloc((size_t)m, sizeof(double));
    x->vol_w = hf_calloc((size_t)m, sizeof(double));
    x->off_comm = hf_calloc((size_t)m, sizeof(double));
    x->off_comp = hf_calloc((size_t)m, sizeof(double));
    if (hf_conf_bool(c, "availability.transfer")) {  /* data transfer to participants */
        long maxn = 1;
        for (int k = 0; k < N; k++) maxn = HF_MAX(maxn, x->part.off[k + 1] - x->part.off[k]);
        x->tr_donor = hf_calloc((size_t)m, sizeof(int));
        x->tr_count = hf_calloc((size_t)m, sizeof(long));
        x->tr_s = hf_calloc((size_t)m, sizeof(double));
        x->tr_idx = hf_calloc((size_t)2 * maxn, sizeof(long));
        free(x->iperm);  /* shuffles over own + received samples */
        x->iperm = hf_calloc((size_t)2 * maxn, sizeof(int));
        x->tr_client = -1;
    }
    return 0;
}

/* Data transfer to participants (ALGORITHMS.md; avail.c): every selected client
 * gets part of one offline client's data before its session; the bytes
 * (features x 4 + 4 per sample) cost latency + bytes / bandwidth, counted in
 * its download time (hf_round_in_t.pre_s).  Planned identically on every rank. */
static void vol_transfer_plan(hf_ctx_t *x, int t, const int *sel, int mt)
{
    const hf_params_t *p = x->p;
    const hf_conf_t *c = x->o->conf;
    double bw = hf_conf_float(c, "availability.transfer_bw_mbps");
    hf_avail_transfer_plan(p->seed, t, p->clients, x->online, x->part.off, mt, NULL,
                           hf_conf_float(c, "availability.transfer_fraction"), x->tr_donor, x->tr_count);
    for (int i = 0; i < mt; i++) {
        const hf_devclass_t *dc = &p->devs.cls[x->dcls[sel[i]]];
        uint64_t b = (uint64_t)x->tr_count[i] * ((uint64_t)x->train.dim * sizeof(float) + sizeof(int32_t));
        x->tr_s[i] = x->tr_count[i] > 0 ? hf_clock_transfer_s(dc->latency_s, bw > 0 ? bw : dc->down_mbps, b) : 0.0;
    }
}

/* Before training receiver i (client k): its own sample ids, then the donor's moved ones. */
static void vol_transfer_data(hf_ctx_t *x, int t, int i, int k)
{
    long nk = x->part.off[k + 1] - x->part.off[k];
    int d = x->tr_donor[i];
    long nd = x->part.off[d + 1] - x->part.off[d];
    memcpy(x->tr_idx, x->part.idx + x->part.off[k], (size_t)nk * sizeof(long));
    hf_avail_transfer_samples(x->p->seed, t, d, nd, x->tr_count[i], x->iperm, x->tr_idx + nk);
    for (long j = 0; j < x->tr_count[i]; j++) x->tr_idx[nk + j] = x->part.idx[x->part.off[d] + x->tr_idx[nk + j]];
    x->tr_n = nk + x->tr_count[i];
    x->tr_client = k;
}

/* Select among the clients online at the round start; with nobody online the
 * server waits for the first to come back (sim_time advances, on every rank). */
static int vol_select(hf_ctx_t *x, int t, double *sim_time, int m, int *sel, int *navail)
{
    int N = x->p->clients;
    if (hf_avail_count(&x->av, *sim_time, x->online) == 0) {
        double next = INFINITY;
        for (int k = 0; k < N; k++) next = HF_MIN(next, hf_avail_next_change(&x->av, k, *sim_time));
        if (isfinite(next)) {
            *sim_time = next;
            hf_avail_count(&x->av, *sim_time, x->online);
        }
    }
    hf_select_observe(x->sel, x->online);
    double *need = NULL;
    if (!strcmp(x->sel->pol->name, "forecast")) {  /* expected round time: download+compute+upload */
        const hf_params_t *p = x->p;
        need = hf_calloc((size_t)N, sizeof(double));
        uint64_t xfer = (uint64_t)x->strat.st->upload_factor * (uint64_t)x->model.nparams * sizeof(float);
        for (int k = 0; k < N; k++) {
            const hf_devclass_t *dc = &p->devs.cls[x->dcls[k]];
            double fl = hf_model_train_flops(&x->model) * (double)(x->part.off[k + 1] - x->part.off[k]) *
                        p->local_epochs;
            need[k] = hf_clock_transfer_s(dc->latency_s, dc->down_mbps, xfer) +
                      hf_clock_compute_s(dc, fl, 1.0) + hf_clock_transfer_s(dc->latency_s, dc->up_mbps, xfer);
        }
    }
    int ne = 0;
    int n = hf_select_round(x->sel, t, x->p->seed, m, x->online, &x->av, *sim_time, need, sel, navail, &ne);
    /* nobody eligible (cyclic group empty, CA-Fed excluded the online ones): wait for the next change */
    for (int tries = 0; n == 0 && tries < 100000; tries++) {
        double next = INFINITY;
        for (int k = 0; k < N; k++) next = HF_MIN(next, hf_avail_next_change(&x->av, k, *sim_time));
        if (!isfinite(next)) break;
        *sim_time = next;
        hf_avail_count(&x->av, *sim_time, x->online);
        n = hf_select_round(x->sel, t, x->p->seed, m, x->online, &x->av, *sim_time, need, sel, navail, &ne);
    }
    free(need);
    x->sel->t_eligible = ne;
    return n;
}

/* A kept client that goes offline before its simulated finish is dropped
 * (outcome dropped_offline): it does not train, its time and energy until it
 * left are charged.  Then the kept set, Σ n_k and the weights are recomputed,
 * and a correction's weights (applied unnormalised) replace the strategy's. */
static void vol_dropouts(hf_ctx_t *x, const int *sel, int mt, double start)
{
    int changed = 0;
    for (int i = 0; i < mt; i++) {
        hf_dplan_t *d = &x->dplan[i];
        hf_cplan_t *c = &x->plan.c[i];
        double at;
        if (d->outcome < 0) continue;
        int full = d->outcome == HF_OUT_COMPLETED || d->outcome == HF_OUT_PARTIAL;
        double tc = full ? d->t_compute : d->t_compute_full;
        if (hf_avail_dropout(&x->av, sel[i], start, d->t_down, tc, d->t_up, &at, &x->off_comm[i],
                             &x->off_comp[i]) && (full || at < start + d->finish)) {
            if (full) changed = 1;
            d->outcome = HF_OUT_DROPPED_OFFLINE;
            c->kept = 0;
            c->epochs = c->steps = 0;
        }
    }
    if (changed) {
        x->plan.kept = 0;
        x->plan.nsum = 0.0;
        for (int i = 0; i < mt; i++)
            if (x->plan.c[i].kept) { x->plan.kept++; x->plan.nsum += (double)x->d_nk[i]; }
        x->strat.st->weights(&x->strat, &x->plan);
    }
    if (x->tr_count)  /* data transfer: weight by the samples trained on (their Σ is the divisor) */
        for (int i = 0; i < mt; i++) {
            long nk = x->part.off[sel[i] + 1] - x->part.off[sel[i]];
            if (x->plan.c[i].kept && x->tr_count[i] > 0 && nk > 0)
                x->plan.c[i].weight *= (double)(nk + x->tr_count[i]) / (double)nk;
        }
    if (hf_select_weights(x->sel, sel, mt, x->sel->t_eligible, x->vol_w)) {
        for (int i = 0; i < mt; i++) x->plan.c[i].weight = x->vol_w[i];
        x->plan.divisor = 1.0;  /* x += Σ w_k Δ_k */
    }
}

/* After a round: rank 0's local losses (records in selection order) to every
 * rank, for power-of-choice and CA-Fed; F3AST's participation rates. */
static void vol_after(hf_ctx_t *x, const int *sel, int mt, const hf_part_rec_t *allrecs)
{
    if (mt <= 0) return;
    if (x->rank == 0)
        for (int i = 0; i < mt; i++)
            x->vol_loss[i] = allrecs[i].outcome == HF_OUT_COMPLETED || allrecs[i].outcome == HF_OUT_PARTIAL
                             ? allrecs[i].local_loss : NAN;
    MPI_Bcast(x->vol_loss, mt, MPI_DOUBLE, 0, x->comm);
    hf_select_losses(x->sel, sel, x->vol_loss, mt);
    hf_select_after(x->sel, sel, mt);
}

/* ---------------------------------------------------------------- async --- */

/* federation.mode = async (FedBuff, async.c): its callbacks train one client
 * (job j keys the shuffles) from `start`, and evaluate the global model. */
static double async_train(void *ctx, int k, long j, const float *start, float *delta, int *steps,
                          double *measured)
{
    hf_ctx_t *x = ctx;
    const hf_params_t *p = x->p;
    hf_cplan_t cp = {.client = k, .kept = 1, .epochs = p->local_epochs, .steps = 1 << 30,
                     .a = 0, .weight = 1};
    x->train_sample = 0;
    openblas_set_num_threads(p->devs.cls[x->dcls[k]].cores);
    hf_local_t lr = client_train(x, k, (int)j, start, &cp, 1);
    memcpy(delta, x->delta, (size_t)x->model.nparams * sizeof(float));
    *steps = lr.steps;
    *measured = lr.measured;
    return lr.loss;
}

static void async_evaluate(void *ctx, double *acc, double *loss)
{
    hf_ctx_t *x = ctx;
    openblas_set_num_threads(x->eval_threads);
    evaluate(x, acc, loss);
}

static int fed_async(hf_ctx_t *x, double *sim_time, hf_fed_timing_t *tm)
{
    hf_async_env_t e = {.ctx = x, .comm = x->comm, .rank = x->rank, .first_client = x->first_client,
                        .last_client = x->last_client, .nparams = x->model.nparams, .global = x->global,
                        .agg = x->agg, .sopt = &x->sopt, .h5 = x->h5, .en = x->en,
                        .part_off = x->part.off, .dcls = x->dcls,
                        .flops_per_sample = hf_model_train_flops(&x->model),
                        .model_bytes = (uint64_t)x->model.nparams * sizeof(float),
                        .train = async_train, .evaluate = async_evaluate};
    return hf_async_run(&e, x->o, sim_time, &tm->final_accuracy, &tm->rounds);
}

/* ------------------------------------------------------------------ run ---- */

/* Process CPU seconds, all threads (hf_fed_timing_t.loop_cpu). */
static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

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

    int rc = agree(hf_load_data(p, o->conf, o->suite, &x->train, &x->test, &x->part, &x->train_all), comm);
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
    x->delta = hf_alloc_aligned((size_t)2 * P * sizeof(float));  /* SCAFFOLD uploads [dy, dc] */
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

    int N = p->clients, R = x->size, K = p->clients_per_round;
    int m = hf_devices_nselect(&p->devs, K, N);  /* selected: ⌈f·K⌉ with over-commitment */
    x->first_client = rank_first_client(x->rank, R, N);
    x->last_client = rank_first_client(x->rank + 1, R, N);
    build_client_rows(x);
    /* strategy, server optimizer, decentralized graph (strategy.c, server_opt.c, decentral.c) */
    rc = agree(hf_strat_init(&x->strat, p, P, N, x->part.off, x->first_client, x->last_client, comm), comm);
    if (!rc) rc = agree(hf_server_opt_init(&x->sopt, p->server_opt, P, p->server_lr, p->server_beta1,
                                           p->server_beta2, p->server_tau), comm);
    double cycle_time = 0.0;  /* decentralized: simulated seconds per gossip iteration */
    if (!rc && p->decentralized) {
        rc = agree(hf_key_wrap(o->conf, "topology.path", hf_topology_build(&x->graph, p->topo_kind, N,
                   p->topo_p, p->topo_path, p->seed)), comm);
        if (!rc) rc = agree(hf_dec_init(&x->dec, &x->graph, P, x->global, comm), comm);
        m = N;
    }
    if (rc) { ctx_free(x); return rc; }
    x->agg = hf_strat_agg_new(&x->strat, x->model.ntensors, toff);
    x->plan.c = hf_calloc((size_t)m, sizeof(hf_cplan_t));
    /* devices: every client's class (seeded exact quotas), round-plan buffers (devices.c) */
    x->dcls = hf_calloc((size_t)N, sizeof(int));
    hf_devices_assign(&p->devs, p->seed, N, x->dcls);
    x->dplan = hf_calloc((size_t)m, sizeof(hf_dplan_t));
    x->d_nk = hf_calloc((size_t)m, sizeof(long));
    x->d_cls = hf_calloc((size_t)m, sizeof(int));
    x->d_ep = hf_calloc((size_t)m, sizeof(int));
    x->d_skip = hf_calloc((size_t)m, sizeof(int));
    x->d_norm2 = hf_calloc((size_t)m, sizeof(double));
    if (p->devs.backup == HF_BACKUP_DYNAMIC && !p->decentralized) {
        x->dbw = hf_dbw_new(m, P);
        x->dbw_old = hf_calloc((size_t)P, sizeof(float));
    }
    if (!p->decentralized) rc = agree(vol_init(x, N, m), comm);  /* availability, selection */
    if (!rc && hf_hetero_wanted(p)) {  /* width sub-models: heterofl, fjord (hetero.c) */
        hf_het_data_t hd = {x->train.x, x->train.y, x->train.dim, x->part.off, x->part.idx, x->dcls};
        rc = agree(hf_hetero_new(&x->het, p, o->conf, &x->model, N, m, &hd), comm);
        if (!rc && x->tr_donor)
            rc = hf_seterr(HF_EINPUT, "%s: key 'availability.transfer': not available with width "
                           "sub-models (heterofl, fjord)", hf_conf_origin(o->conf, "availability.transfer")
                           ? hf_conf_origin(o->conf, "availability.transfer") : o->suite);
    }
    if (!rc && hf_feddf_wanted(p)) {  /* architecture groups, distillation (feddf.c) */
        hf_het_data_t hd = {x->train.x, x->train.y, x->train.dim, x->part.off, x->part.idx, x->dcls};
        rc = agree(hf_feddf_new(&x->fdf, p, o->conf, &x->model, N, m, &hd, x->train_all, x->global, comm), comm);
    }
    if (rc) { ctx_free(x); return rc; }
    x->eval_threads = p->devs.cls[0].cores;  /* the smallest class's count, on every rank */
    for (int i = 1; i < p->devs.nclasses; i++) x->eval_threads = HF_MIN(x->eval_threads, p->devs.cls[i].cores);
    if (p->decentralized) {
        hf_strat_plan_decentral(&x->strat, &x->plan);
        double *tc = hf_calloc((size_t)N, sizeof(double));
        for (int k = 0; k < N; k++)
            tc[k] = hf_model_train_flops(&x->model) *
                    (double)hf_strat_samples(x->part.off[k + 1] - x->part.off[k], p->batch_size,
                                             x->plan.c[k].steps) / (p->dev.gflops * 1e9);
        cycle_time = hf_graph_cycle_time(&x->graph, tc, p->dev.latency_s,
                                         (double)P * sizeof(float) * 8, p->dev.up_mbps * 1e6,
                                         p->dev.down_mbps * 1e6);
        free(tc);
    }
    hf_ckpt_begin(comm, N, x->first_client, x->last_client);  /* checkpoint registry, signals */

    /* energy, carbon and RAPL (energy.c, rapl.c): every rank holds the same regions */
    x->en = hf_energy_new(o->conf, p->seed, N, p->rounds, &rc);
    rc = agree(rc, comm);
    if (rc) { ctx_free(x); return rc; }
    if (hf_energy_measure(x->en))
        hf_rapl_open(&x->rapl, hf_energy_rapl_root(x->en), x->rank == 0 ? stderr : NULL);
    if (!p->decentralized) {  /* budgets, carbon-aware sampler (plan_energy) */
        x->eplan = hf_calloc((size_t)m, sizeof(hf_eplan_t));
        if (hf_conf_bool(o->conf, "energy.battery_budget"))
            for (int k = 0; k < N; k++)
                if (!isfinite(hf_energy_budget(x->en, k)) && isfinite(p->devs.cls[x->dcls[k]].battery_j) &&
                    p->devs.cls[x->dcls[k]].battery_j > 0)
                    hf_energy_set_budget(x->en, k, p->devs.cls[x->dcls[k]].battery_j);
        hf_energy_ckpt_register(x->en);
    }
    if (!p->decentralized && hf_energy_scheduler(x->en) == HF_SCHED_AWARE) {
        if (x->sel) {
            const char *org = hf_conf_origin(o->conf, "energy.scheduler");
            ctx_free(x);
            return hf_seterr(HF_EINPUT, "%s: key 'energy.scheduler': carbon-aware selects the clients "
                             "itself: it needs selection.policy = uniform, availability.model = always "
                             "and no aggregation.correction", org ? org : "default");
        }
        x->ecl = hf_calloc((size_t)N, sizeof *x->ecl);
        x->inv_pi = hf_calloc((size_t)m, sizeof(double));
        uint64_t xb = (uint64_t)x->strat.st->upload_factor * (uint64_t)P * sizeof(float);
        for (int k = 0; k < N; k++) {  /* full-round figures at the class's nominal speed */
            const hf_devclass_t *dc = &p->devs.cls[x->dcls[k]];
            long nk = x->part.off[k + 1] - x->part.off[k];
            x->ecl[k] = (hf_energy_client_t){
                .samples = nk, .steps_full = p->local_epochs * (int)((nk + p->batch_size - 1) / p->batch_size),
                .compute_s = hf_clock_compute_s(dc, hf_model_train_flops(&x->model) * (double)nk *
                                                p->local_epochs, 1.0),
                .comm_s = hf_clock_transfer_s(dc->latency_s, dc->down_mbps, xb) +
                          hf_clock_transfer_s(dc->latency_s, dc->up_mbps, xb),
                .active_w = dc->active_w, .idle_w = dc->idle_w, .radio_j_per_mb = dc->radio_j_per_mb};
        }
    }

    /* results file and header (rank 0) */
    char *hosts = NULL, *placement = NULL;
    describe_system(x, &hosts, &placement);
    /* hwloc placement: the rank's class is the one with the most cores among its clients */
    hf_place_rec_t *prec = x->rank == 0 ? hf_calloc((size_t)R, sizeof *prec) : NULL;
    char pnote[512] = "";
    {
        int rcl = -1;
        for (int k = x->first_client; k < x->last_client; k++)
            if (rcl < 0 || p->devs.cls[x->dcls[k]].cores > p->devs.cls[rcl].cores) rcl = x->dcls[k];
        hf_placement_setup(comm, rcl >= 0 ? p->devs.cls[rcl].name : "-",
                           rcl >= 0 ? p->devs.cls[rcl].cores : 1, x->first_client, x->last_client - 1,
                           p->devs.bind, prec, pnote, sizeof pnote);
        if (x->rank == 0) {
            size_t cap = (size_t)R * 256 + 128;
            free(placement);
            placement = hf_calloc(cap, 1);
            hf_placement_text(prec, R, placement, cap);
        }
    }
    rc = 0;
    if (x->rank == 0) {
        if (o->resume) {  /* same file, its /config checked against this run's */
            char *cfg = hf_conf_dump(o->conf, 0);
            rc = hf_ckpt_reopen(&x->h5, o->resume, cfg);
            free(cfg);
        } else rc = hf_h5out_open(&x->h5, o->output, o->force);
        if (!rc && !o->resume) {
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
            snprintf(buf, sizeof buf, "%llu", (unsigned long long)(x->strat.state_bytes_max +
                     hf_server_opt_bytes(&x->sopt)));
            hf_h5out_system_attr(x->h5, "strategy_state_bytes", buf);
            if (p->decentralized) {
                snprintf(buf, sizeof buf, "%.17g", hf_graph_spectral_gap(&x->graph));
                hf_h5out_system_attr(x->h5, "spectral_gap", buf);
                snprintf(buf, sizeof buf, "%.17g", cycle_time);
                hf_h5out_system_attr(x->h5, "cycle_time_s", buf);
                snprintf(buf, sizeof buf, "%s, %ld edges", p->topo_kind, x->graph.nedges);
                hf_h5out_system_attr(x->h5, "topology", buf);
            }
            hf_client_rec_t *cl = hf_calloc((size_t)N, sizeof *cl);
            for (int k = 0; k < N; k++) {
                cl[k].id = k;
                snprintf(cl[k].device_class, sizeof cl[k].device_class, "%s", p->devs.cls[x->dcls[k]].name);
                cl[k].samples = x->part.off[k + 1] - x->part.off[k];
                snprintf(cl[k].region, sizeof cl[k].region, "%s", hf_energy_region_name(x->en, k));
                cl[k].energy_budget_j = hf_energy_budget(x->en, k);
                int r = 0;
                while (rank_first_client(r + 1, R, N) <= k) r++;
                cl[k].rank = r;
            }
            rc = hf_h5out_clients(x->h5, cl, N);
            if (!rc) rc = hf_placement_write(hf_h5out_file(x->h5), prec, R);  /* /system/placement */
            free(cl);
        }
        print_header(x, placement);
        if (pnote[0]) fprintf(o->out, "%s\n", pnote);  /* scarce cores: said once */
    }
    free(hosts);
    free(placement);
    free(prec);
    rc = agree(rc, comm);
    if (rc) {
        if (x->h5) hf_h5out_close(x->h5, 0);
        hf_ckpt_end();
        hf_placement_release();
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
    double c_loop = cpu_seconds();  /* for hetfl bench peer */
    int synced = 1;  /* every rank holds the current global model */
    /* persistent state (checkpoint.h): the round number implies every RNG position */
    hf_ckpt_register("global_model", x->global, (size_t)P * sizeof(float));
    hf_ckpt_register("sim_time", &sim_time, sizeof sim_time);
    if (x->dbw) {  /* dynamic backup workers' estimates (devices.h): rank 0's copy is saved */
        hf_ckpt_register("dbw_tsum", x->dbw->tsum, ((size_t)m + 1) * sizeof(double));
        hf_ckpt_register("dbw_nobs_time", &x->dbw->nobs_time, sizeof(int));
        hf_ckpt_register("dbw_nobs_grad", &x->dbw->nobs_grad, sizeof(int));
        hf_ckpt_register("dbw_G", &x->dbw->G, sizeof(double));
        hf_ckpt_register("dbw_sigma2", &x->dbw->sigma2, sizeof(double));
        hf_ckpt_register("dbw_L", &x->dbw->L, sizeof(double));
        hf_ckpt_register("dbw_k", &x->dbw->k, sizeof(int));
        hf_ckpt_register("dbw_prev_mean", x->dbw->prev_mean, (size_t)P * sizeof(float));
    }
    /* server optimizer moments, SCAFFOLD control variates, gossip models (allocated alike on every rank) */
    if (x->sopt.state_m) hf_ckpt_register("server_m", x->sopt.state_m, (size_t)P * sizeof(float));
    if (x->sopt.state_v) hf_ckpt_register("server_v", x->sopt.state_v, (size_t)P * sizeof(float));
    hf_ckpt_register("server_steps", &x->sopt.state_steps, sizeof x->sopt.state_steps);
    if (x->strat.state_scaffold_c) {
        hf_ckpt_register("scaffold_c", x->strat.state_scaffold_c, (size_t)P * sizeof(float));
        hf_ckpt_register_client_ptrs("scaffold_ck", (void **)x->strat.state_scaffold_ck, (size_t)P * sizeof(float));
    }
    if (x->fdf) hf_feddf_ckpt_register(x->fdf);  /* group models (feddf.c) */
    if (p->decentralized)
        hf_ckpt_register_clients_ref("dec_models", (void **)&x->dec.state_models, (size_t)P * sizeof(float));
    if (x->sel) hf_select_ckpt_register(x->sel);  /* estimators, losses, rates (select.c) */
    int t0 = 0;
    if (!strcmp(hf_conf_get(o->conf, "federation.mode"), "async")) {  /* FedBuff: async.c */
        hf_signals_restore();  /* no checkpoints in async mode yet: signals keep their default action */
        rc = o->resume ? hf_seterr(HF_EINPUT, "--resume: federation.mode = async has no checkpoints yet")
                       : fed_async(x, &sim_time, &tm);
        t0 = p->rounds;
    } else if (o->resume) rc = hf_ckpt_restore(x->h5, comm, &t0);

    for (int t = t0; t < p->rounds && !rc; t++) {
        double tr0 = hf_wtime(), ta, tb;
        hf_round_rec_t rr = {0};
        rr.round = t + 1;
        double round_dur = 0.0;  /* simulated seconds to aggregation (devices.c) */
        /* 1. plan */
        hf_rng_t rs;
        hf_rng_init(&rs, p->seed, HF_RNG_SELECT, (uint64_t)t, 0);
        int mt = m, navail = N;  /* this round's selected and online counts (availability) */
        if (p->decentralized) {  /* D-PSGD: everyone; dkt: widths (hetero.c) */
            for (int i = 0; i < m; i++) sel[i] = i;
            if (x->het) hf_hetero_plan(x->het, t, sel, m);
        } else {
            if (x->sel) mt = vol_select(x, t, &sim_time, m, sel, &navail);  /* avail.c, select.c */
            else if (x->inv_pi)  /* carbon-aware: clients and start slot (energy.c), 1/π_k */
                mt = hf_energy_select(x->en, t, sim_time, m, x->ecl, model_bytes * x->strat.st->upload_factor,
                                      model_bytes * x->strat.st->upload_factor, sel, x->inv_pi, &sim_time);
            else hf_rng_sample(&rs, N, m, sel);
            if (x->tr_donor) vol_transfer_plan(x, t, sel, mt);  /* data to participants (avail.c) */
            hf_strat_plan(&x->strat, t, sel, mt, &x->plan);  /* stragglers, epochs, weights */
            if (x->het) hf_hetero_plan(x->het, t, sel, mt);  /* widths (hetero.c) */
            if (x->fdf) hf_feddf_plan(x->fdf, t, sel, mt);   /* groups (feddf.c) */
            round_dur = plan_devices(x, t, sel, mt, K, flops_per_sample);  /* clock, deadline, ... */
            plan_energy(x, t, sel, mt, sim_time);  /* budgets, adaptation, 1/π weights (energy.c) */
            if (x->sel) vol_dropouts(x, sel, mt, sim_time);  /* offline before finish; weights */
        }
        ta = hf_wtime();
        tm.plan += ta - tr0;
        /* 2. broadcast: the model lives on rank 0 after a rank0 aggregation */
        if (!synced) MPI_Bcast(x->global, (int)P, MPI_FLOAT, 0, comm);
        synced = 1;
        tb = hf_wtime();
        tm.bcast += tb - ta;
        /* 3. local training of this rank's selected clients */
        hf_agg_begin(x->agg);
        if (x->fdf) hf_feddf_begin(x->fdf);
        int nloc = 0;
        double wsum = x->plan.nsum;  /* Σ n_k of kept clients: same on all ranks (plan) */
        uint64_t xfer = (uint64_t)x->strat.st->upload_factor * model_bytes;  /* per direction */
        hf_rapl_begin(&x->rapl);
        for (int i = 0; i < mt; i++) {
            int k = sel[i];
            if (k < x->first_client || k >= x->last_client) continue;
            long nk = x->part.off[k + 1] - x->part.off[k];
            const hf_cplan_t *cp = &x->plan.c[i];
            hf_local_t lr = {.loss = NAN};
            uint64_t ebytes = xfer;  /* upload size: the codec's exact encoded size (energy.c) */
            openblas_set_num_threads(p->devs.cls[x->dcls[k]].cores);  /* its class's, on any rank */
            if (cp->kept && p->decentralized && x->het) {  /* dkt: its width's sub-model (dkt.c) */
                double th = hf_wtime();
                hf_het_local_t hl = hf_dkt_train(x->het, k, t, hf_dec_model(&x->dec, k), cp, x->delta, x->xb,
                                                 x->yb, x->iperm, &x->t_kernel);
                lr = (hf_local_t){.loss = hl.loss, .steps = hl.steps, .samples = hl.samples,
                                  .measured = hf_wtime() - th};
            } else if (cp->kept && p->decentralized) {  /* train from, and back into, the client's model */
                lr = client_train(x, k, t, hf_dec_model(&x->dec, k), cp, 1);
                memcpy(hf_dec_model(&x->dec, k), x->local, (size_t)P * sizeof(float));
            } else if (cp->kept && x->fdf) {  /* its group's model, group aggregator (feddf.c) */
                double th = hf_wtime();
                hf_het_local_t hl = hf_feddf_train(x->fdf, i, k, t, cp, x->xb, x->yb, x->iperm, &x->t_kernel);
                lr = (hf_local_t){.loss = hl.loss, .steps = hl.steps, .samples = hl.samples,
                                  .measured = hf_wtime() - th};
            } else if (cp->kept && x->het) {  /* its width's sub-model; delta zero outside it */
                double th = hf_wtime();
                hf_het_local_t hl = hf_hetero_train(x->het, i, k, t, x->global, cp, x->delta, x->xb,
                                                    x->yb, x->iperm, &x->t_kernel);
                lr = (hf_local_t){.loss = hl.loss, .steps = hl.steps, .samples = hl.samples,
                                  .measured = hf_wtime() - th};
                hf_agg_add(x->agg, cp->weight, x->delta);
            } else if (cp->kept) {
                x->train_sample = x->eplan[i].client == k ? x->eplan[i].sample : 0;
                if (x->tr_donor && x->tr_count[i] > 0) vol_transfer_data(x, t, i, k);
                /* nothing edits this client's Δ: hand w·(local − global) to the aggregator
                 * in one pass, without materialising Δ */
                const hf_eplan_t *ep = &x->eplan[i];
                int fuse = !x->strat.st->client_upload && !x->dbw &&
                           (ep->client != k || hf_energy_apply_noop(ep));
                lr = client_train(x, k, t, x->global, cp, !fuse);
                x->tr_client = -1;
                if (ep->client == k)  /* bias-correction scale, codec: the exact encoded size (fused: Δ untouched) */
                    ebytes = hf_energy_apply(x->en, ep, t, x->delta, (long)x->strat.st->upload_factor * P);
                if (fuse) {
                    hf_agg_add_diff(x->agg, cp->weight, x->local, x->global);
                } else {
                    hf_agg_add(x->agg, cp->weight, x->delta);
                    if (x->dbw) {
                        double n2 = 0.0;
                        for (long j = 0; j < P; j++) n2 += (double)x->delta[j] * x->delta[j];
                        x->d_norm2[nloc] = n2;
                    }
                }
            }
            hf_part_rec_t *pr = &recs[nloc++];
            memset(pr, 0, sizeof *pr);
            pr->round = t + 1;
            pr->client = k;
            /* its device class and simulated times (devices.c); dp NULL in decentralized mode */
            const hf_devclass_t *dc = &p->devs.cls[x->dcls[k]];
            const hf_dplan_t *dp = !p->decentralized && x->dplan[i].outcome >= 0 ? &x->dplan[i] : NULL;
            pr->outcome = dp ? dp->outcome : cp->kept ? HF_OUT_COMPLETED : HF_OUT_STRAGGLER;
            pr->steps = lr.steps;
            pr->compute_s_model = p->decentralized
                ? flops_per_sample * (double)lr.samples / (dc->gflops * 1e9)
                : dp ? (cp->kept ? dp->t_compute : dp->t_compute_full)  /* a dropped client did it all */
                : flops_per_sample * (double)nk * cp->epochs / (dc->gflops * 1e9);
            pr->compute_s_measured = lr.measured;
            long deg = p->decentralized ? x->graph.off[k + 1] - x->graph.off[k] : 0;
            if (p->decentralized) {  /* its model to each neighbour over its uplink */
                pr->bytes_up = (uint64_t)deg * model_bytes;
                pr->comm_s = dc->latency_s + (double)pr->bytes_up * 8 / (dc->up_mbps * 1e6);
            } else {  /* a dropped straggler downloaded the model, uploads nothing */
                pr->bytes_up = cp->kept ? ebytes : 0;
                pr->comm_s = (cp->kept ? 2 : 1) * dc->latency_s + (double)xfer * 8 / (dc->down_mbps * 1e6) +
                             (double)pr->bytes_up * 8 / (dc->up_mbps * 1e6);
            }
            pr->energy_j = dc->active_w * pr->compute_s_model +
                           dc->radio_j_per_mb * (double)(p->decentralized ? 2 * pr->bytes_up
                                                                            : xfer + pr->bytes_up) / 1e6;
            pr->local_loss = lr.loss;
            pr->width = 1.0;
            if (x->het || x->fdf) {  /* its sub-model's bytes both ways; compute time is scaled in plan_devices */
                uint64_t hb = x->het ? hf_hetero_bytes(x->het, i) : hf_feddf_bytes(x->fdf, i);
                pr->width = x->het ? hf_hetero_width(x->het, i) : hf_feddf_width(x->fdf, i);
                pr->bytes_up = cp->kept ? hb : 0;
                pr->comm_s = (cp->kept ? 2 : 1) * dc->latency_s + (double)hb * 8 / (dc->down_mbps * 1e6) +
                             (double)pr->bytes_up * 8 / (dc->up_mbps * 1e6);
                pr->energy_j = dc->active_w * pr->compute_s_model +
                               dc->radio_j_per_mb * (double)(hb + pr->bytes_up) / 1e6;
            }
            if (x->tr_donor && x->tr_count[i] > 0 && !(dp && dp->outcome == HF_OUT_OVER_BUDGET)) {
                pr->samples_data = (int32_t)x->tr_count[i];  /* data received before the session */
                pr->bytes_data = (uint64_t)x->tr_count[i] * ((uint64_t)x->train.dim * sizeof(float) + 4);
                pr->comm_s += x->tr_s[i];
                pr->energy_j += dc->radio_j_per_mb * (double)pr->bytes_data / 1e6;
            }
            if (x->sel && dp && dp->outcome == HF_OUT_DROPPED_OFFLINE) {  /* work until it left */
                pr->compute_s_model = x->off_comp[i];
                pr->comm_s = x->off_comm[i];
                pr->bytes_up = 0;
                pr->energy_j = dc->active_w * pr->compute_s_model + dc->radio_j_per_mb *
                               (double)xfer * HF_MIN(1.0, x->off_comm[i] / HF_MAX(dp->t_down, 1e-300)) / 1e6;
            }
            if (!p->decentralized && cp->kept && x->eplan[i].client == k) {  /* energy.c's plan */
                pr->compute_s_model = x->eplan[i].compute_s;
                pr->energy_j = x->eplan[i].e.total_j;
            } else if (dp && dp->outcome == HF_OUT_OVER_BUDGET) {  /* sat the round out: nothing spent */
                pr->compute_s_model = pr->comm_s = pr->energy_j = 0.0;
                pr->bytes_up = 0;
            }
            pr->carbon_g = hf_energy_carbon_g(pr->energy_j, hf_energy_ci(x->en, k, sim_time));
        }
        {   /* RAPL: this rank's share of the node (cores used / online), split by measured time */
            double ej = hf_rapl_attribute(hf_rapl_end(&x->rapl), p->dev.cores,
                                          (int)sysconf(_SC_NPROCESSORS_ONLN)), ts = 0.0;
            for (int i = 0; i < nloc; i++) ts += recs[i].compute_s_measured;
            for (int i = 0; i < nloc; i++)
                recs[i].energy_j_measured = ts > 0 ? ej * recs[i].compute_s_measured / ts : ej / nloc;
        }
        double tc = hf_wtime();
        tm.compute += tc - tb;
        rr.wall_compute_s = tc - tb;
        /* 4. aggregate: x ← x + Σ n_k Δ_k / Σ n_k */
        double consensus = NAN;
        int nmean = N;  /* decentralized: clients in x̄ (dkt: the widest, dkt.c) */
        if (p->decentralized && x->het) {
            hf_dkt_gossip(x->het, &x->dec, t);
            nmean = hf_dkt_add_widest(x->het, &x->dec, x->agg);
        } else if (p->decentralized) {  /* gossip, then x̄ = mean of the client models (evaluated) */
            hf_dec_gossip(&x->dec);
            for (int k = x->first_client; k < x->last_client; k++)
                hf_agg_add(x->agg, 1.0, hf_dec_model(&x->dec, k));
        }
        if (x->dbw && x->rank == 0) memcpy(x->dbw_old, x->global, (size_t)P * sizeof(float));
        hf_agg_reduce(x->agg);
        tm.agg_comm += hf_agg_stats(x->agg)->t_comm;
        int have = x->rank == 0 || hf_agg_result_everywhere(x->agg);
        double divisor = x->plan.divisor;
        if (p->decentralized) {
            if (have) hf_agg_result(x->agg, 1.0 / nmean, x->global);
            if (!hf_agg_result_everywhere(x->agg)) MPI_Bcast(x->global, (int)P, MPI_FLOAT, 0, comm);
            consensus = hf_dec_consensus(&x->dec, x->global);
        } else if (x->fdf) {  /* per-group FedAvg, distillation, broadcast (feddf.c) */
            rc = hf_feddf_server(x->fdf, &x->plan, t, x->global, x->rank == 0 ? hf_h5out_file(x->h5) : -1);
        } else if (x->het) {  /* masked aggregation: x_j += S_j / coverage_j (hetero.c) */
            int plain = x->sopt.kind == HF_SOPT_NONE && x->sopt.lr == 1.0f;
            hf_hetero_aggregate(x->het, x->agg, &x->plan, have, plain ? x->global : x->delta, plain);
            if (!plain && have && x->plan.kept > 0) hf_server_opt_apply(&x->sopt, x->global, x->delta);
        } else if (!x->strat.st->server_update && x->sopt.kind == HF_SOPT_NONE && x->sopt.lr == 1.0f) {
            if (have) hf_agg_apply(x->agg, divisor > 0 ? 1.0 / divisor : 0.0, x->global);
        } else {  /* Δ = aggregate → strategy's server step → server optimizer */
            if (have) hf_agg_result(x->agg, divisor > 0 ? 1.0 / divisor : 0.0, x->delta);
            if (x->strat.st->server_update) x->strat.st->server_update(&x->strat, &x->plan, x->delta, have);
            if (have && x->plan.kept > 0) hf_server_opt_apply(&x->sopt, x->global, x->delta);
        }
        synced = hf_agg_result_everywhere(x->agg) || p->decentralized;
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
        if (x->dbw) dbw_round(x, m, nloc, rcounts, rdispl);
        if (x->sel) vol_after(x, sel, mt, allrecs);  /* local losses to every rank's estimators */
        tm.gather += te - td;
        /* 5. evaluate (needs the model everywhere) */
        rr.test_accuracy = rr.test_loss = NAN;
        if ((t + 1) % p->eval_every == 0 || t + 1 == p->rounds) {
            if (!synced) MPI_Bcast(x->global, (int)P, MPI_FLOAT, 0, comm);
            synced = 1;  /* this broadcast also serves the next round */
            openblas_set_num_threads(x->eval_threads);
            evaluate(x, &rr.test_accuracy, &rr.test_loss);
            if (x->het && p->decentralized && !rc)  /* dkt: each width's mean model (dkt.c) */
                rc = hf_dkt_eval(x->het, &x->dec, x->agg, x->test.x, x->test.y, x->test.n, t + 1,
                                 x->rank == 0 ? hf_h5out_file(x->h5) : -1);
            else if (x->het && !rc)  /* accuracy per width: /rounds_by_width (hetero.c) */
                rc = hf_hetero_eval_widths(x->het, x->global, x->test.x, x->test.y, x->test.n, x->test.dim,
                                           t + 1, comm, x->rank == 0 ? hf_h5out_file(x->h5) : -1);
            if (x->fdf && !rc)  /* accuracy per group: /rounds_by_width (feddf.c) */
                rc = hf_feddf_eval(x->fdf, x->test.x, x->test.y, x->test.n, t + 1,
                                   x->rank == 0 ? hf_h5out_file(x->h5) : -1);
        }
        double tf = hf_wtime();
        tm.eval += tf - te;
        rr.wall_eval_s = tf - te;
        /* 6. record */
        if (x->rank == 0) {
            double wl = 0.0, round_end = sim_time;
            for (int i = 0; i < mt; i++) {
                hf_part_rec_t *q = &allrecs[i];
                double nk = (double)(x->part.off[q->client + 1] - x->part.off[q->client]);
                rr.energy_j += q->energy_j;
                rr.carbon_g += q->carbon_g;
                rr.energy_j_measured += q->energy_j_measured;
                rr.bytes_up += q->bytes_up;
                if (q->outcome == HF_OUT_LATE) rr.late++;
                if (q->outcome != HF_OUT_COMPLETED && q->outcome != HF_OUT_PARTIAL) continue;  /* dropped */
                wl += nk * q->local_loss;
                double fin = sim_time + q->comm_s + (p->devs.clock == HF_CLOCK_MEASURED
                                                     ? q->compute_s_measured : q->compute_s_model);
                if (fin > round_end) round_end = fin;
            }
            /* devices.c: the slowest kept client, or the deadline when a late one was waited for;
             * clock = measured: the measured compute times above (outside the contract) */
            if (!p->decentralized && p->devs.clock == HF_CLOCK_MODEL) round_end = sim_time + round_dur;
            else if (!p->decentralized && rr.late && round_end < sim_time + p->devs.deadline_s)
                round_end = sim_time + p->devs.deadline_s;
            /* D-PSGD: steady-state time per iteration, max-plus cycle time (topology.c) */
            sim_time = p->decentralized ? sim_time + cycle_time : round_end;
            rr.consensus_distance = consensus;
            rr.sim_time_s = sim_time;
            rr.available = navail;
            rr.selected = mt;
            rr.completed = x->plan.kept;
            rr.dropped = mt - x->plan.kept - rr.late;
            rr.bytes_down = p->decentralized ? rr.bytes_up : (uint64_t)mt * xfer;
            if (x->het || x->fdf) {  /* each selected client downloads its sub-model */
                rr.bytes_down = 0;
                for (int i = 0; i < mt; i++)
                    rr.bytes_down += x->het ? hf_hetero_bytes(x->het, i) : hf_feddf_bytes(x->fdf, i);
            }
            rr.train_loss = wsum > 0 ? wl / wsum : NAN;
            rc = hf_h5out_participation(x->h5, allrecs, mt);
            rr.wall_io_s = hf_wtime() - tf;  /* participation rows; the round row and flush follow */
            rr.wall_time_s = hf_wtime() - tr0;
            if (!rc) rc = hf_h5out_round(x->h5, &rr);
            if (!rc) rc = hf_h5out_flush(x->h5);
            tm.final_accuracy = rr.test_accuracy;
            if (!o->quiet) progress(x, &rr, hf_wtime() - t_loop);
        }
        tm.io += hf_wtime() - tf;
        if (x->sel) MPI_Bcast(&sim_time, 1, MPI_DOUBLE, 0, comm);  /* availability needs it everywhere */
        MPI_Bcast(&rc, 1, MPI_INT, 0, comm);
        MPI_Bcast(&sim_time, 1, MPI_DOUBLE, 0, comm);  /* carbon look-ups on every rank */
        if (x->inv_pi) {  /* carbon-aware: the round's carbon counts against energy.carbon_budget_g */
            double cg = rr.carbon_g;
            MPI_Bcast(&cg, 1, MPI_DOUBLE, 0, comm);
            hf_energy_round_done(x->en, cg);
        }
        if (!rc) rc = hf_ckpt_round_end(x->h5, t + 1, p->checkpoint_every, p->rounds, comm);
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
    tm.loop_cpu = cpu_seconds() - c_loop;
    tm.kernel = x->t_kernel;
    tm.nparams = P;
    if (timing) *timing = tm;
    free(sel); free(recs); free(allrecs); free(rcounts); free(rdispl);
    hf_ckpt_end();
    hf_placement_release();  /* the binding the process had before the run */
    ctx_free(x);
    return rc;
}
