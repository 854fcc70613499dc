/*
 * feddf.c — FedDF: per-group FedAvg, then server-side ensemble distillation of
 * every group's student from the mean logits of all kept clients on an
 * unlabeled held-out server set (see feddf.h for the contract, ALGORITHMS.md
 * for the method).  Implemented as its own strategy so that FedAvg's engine
 * (fed.c) only has to hand over local training and aggregation.
 */
#include "feddf.h"
#include "agg.h"
#include "checkpoint.h"
#include "decentral.h"
#include "slice.h"
#include "hf_util.h"
#include "rng.h"
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVAL_CHUNK 250                 /* as fed.c: fixed chunks, determinism */
#define LOSS_FIXED_SCALE 4294967296.0  /* 2^32, as fed.c */
#define MAX_GROUPS 5

struct hf_feddf {
    const hf_params_t *p;
    MPI_Comm comm;
    int rank, size;
    hf_model_t full;
    hf_het_data_t d;
    int N, C, ng;
    double gw[MAX_GROUPS], prop[MAX_GROUPS];  /* group widths (widest first), client proportions */
    hf_model_t gm[MAX_GROUPS];                /* group architectures */
    float *state_x[MAX_GROUPS];               /* group models (persistent, every rank) */
    hf_agg_t *agg[MAX_GROUPS];                /* per-group exact aggregators */
    hf_work_t *work[MAX_GROUPS];              /* activations, max batch max(B, EVAL_CHUNK) */
    int *cgroup;                              /* group of every client */
    int *grp;                                 /* this round: group per plan entry */
    double *fscale, *bscale;
    /* server data: rows of the training set no client holds */
    const float *sx;                          /* unlabeled server set (S, dim) */
    const float *vx;                          /* validation set (V, dim) */
    const int *vy;
    long S, V;
    int steps, val_every, patience, bsz;
    float lr, T;
    /* round scratch */
    float *ws, *ws0, *dx;                     /* local model, its start, the delta (full size) */
    float *zloc;                              /* hosted kept clients' server-set logits (m·S·C) */
    int nzloc;
    double t_logits;                          /* seconds computing logits on the server set, this rank */
    long rows;                                /* rows written to /feddf */
    long wrows;                               /* rows written to /rounds_by_width */
};

typedef struct {
    int32_t round;
    double width;                 /* group width */
    int32_t clients;              /* kept clients of the group this round */
    int32_t steps;                /* distillation steps run */
    int32_t best_step;            /* step of the kept student (0 = FedAvg init) */
    double val_acc_init, val_acc_best;
    double server_compute_s;      /* wall: this group's distillation + its share of the teacher logits */
    double server_mem_bytes;      /* student, best copy, Adam m and v, gradient, teacher logits, activations */
} feddf_rec_t;

static long nk_of(const hf_strat_t *s, int k) { return s->off[k + 1] - s->off[k]; }

/* n_k-weighted FedAvg inside each group: w_k = n_k, divisor Σ_K n_k (per-group
 * divisors are applied in hf_feddf_server). */
static void weights_feddf(hf_strat_t *s, hf_plan_t *pl)
{
    for (int i = 0; i < pl->m; i++) pl->c[i].weight = pl->c[i].kept ? (double)nk_of(s, pl->c[i].client) : 0.0;
    pl->divisor = pl->nsum;
}

const hf_strategy_t hf_strategy_feddf = {
    .name = "feddf",
    .doc = "architecture groups ([feddf] groups), per-group FedAvg, then server ensemble distillation on "
           "held-out unlabeled data (Lin et al. 2020)",
    .keeps_stragglers = 0,
    .upload_factor = 1,
    .weights = weights_feddf,
};

int hf_feddf_wanted(const hf_params_t *p) { return !strcmp(p->strategy, "feddf"); }

/* "a1-c1" → widths 1, 1/4 with proportions .5, .5 (widest first); must hold a. */
static int parse_groups(const hf_conf_t *c, int *n, double *w, double *prop)
{
    const char *s = hf_conf_get(c, "feddf.groups");
    double pr[5] = {0};
    int seen[5] = {0};
    const char *q = s ? s : "";
    while (*q) {
        while (*q == ' ') q++;
        if (*q < 'a' || *q > 'e')
            return hf_key_err(c, "feddf.groups", "expected letters a..e (widths 1..1/16) with optional "
                           "proportions, e.g. a1-c1");
        int l = *q++ - 'a';
        if (seen[l]) return hf_key_err(c, "feddf.groups", "a group appears twice");
        double v = 1.0;
        if ((*q >= '0' && *q <= '9') || *q == '.') {
            char *e;
            v = strtod(q, &e);
            q = e;
            if (!(v > 0)) return hf_key_err(c, "feddf.groups", "proportions must be > 0");
        }
        while (*q == ' ') q++;
        if (*q == '-') q++;
        else if (*q) return hf_key_err(c, "feddf.groups", "groups are separated by '-', e.g. a1-c1");
        seen[l] = 1;
        pr[l] = v;
    }
    if (!seen[0])
        return hf_key_err(c, "feddf.groups", "must contain group a (width 1: the run's model, evaluated in "
                       "/rounds and saved as /model/final)");
    double sum = 0;
    for (int l = 0; l < 5; l++) sum += pr[l];
    *n = 0;
    for (int l = 0; l < 5; l++)
        if (seen[l]) {
            w[*n] = ldexp(1.0, -l);
            prop[*n] = pr[l] / sum;
            (*n)++;
        }
    return 0;
}

int hf_feddf_params_check(const hf_params_t *p, const hf_conf_t *c)
{
    if (!hf_feddf_wanted(p)) return 0;
    int n;
    double w[MAX_GROUPS], pr[MAX_GROUPS];
    int rc = parse_groups(c, &n, w, pr);
    if (rc) return rc;
    if (p->decentralized)
        return hf_key_err(c, "federation.strategy", "feddf needs a server (federation.mode = centralized)");
    if (strcmp(p->server_opt, "none"))
        return hf_key_err(c, "server.optimizer", "feddf replaces the server step by distillation: use none");
    if (hf_conf_int(c, "feddf.server_samples") < 1)
        return hf_key_err(c, "feddf.server_samples", "must be >= 1");
    return 0;
}

int hf_feddf_new(hf_feddf_t **out, const hf_params_t *p, const hf_conf_t *c, const hf_model_t *full,
                 int N, int m, const hf_het_data_t *d, long n_all, const float *global, MPI_Comm comm)
{
    *out = NULL;
    hf_feddf_t *f = hf_calloc(1, sizeof *f);
    f->p = p;
    f->comm = comm;
    MPI_Comm_rank(comm, &f->rank);
    MPI_Comm_size(comm, &f->size);
    f->full = *full;
    f->d = *d;
    f->N = N;
    f->C = full->cfg.n_classes;
    int rc = parse_groups(c, &f->ng, f->gw, f->prop);
    if (rc) { free(f); return rc; }
    f->S = hf_conf_int(c, "feddf.server_samples");
    f->V = hf_conf_int(c, "feddf.val_samples");
    f->steps = (int)hf_conf_int(c, "feddf.steps");
    f->val_every = (int)hf_conf_int(c, "feddf.val_every");
    f->patience = (int)hf_conf_int(c, "feddf.patience");
    f->bsz = (int)hf_conf_int(c, "feddf.batch_size");
    f->lr = (float)hf_conf_float(c, "feddf.lr");
    f->T = (float)hf_conf_float(c, "feddf.temperature");
    /* server and validation sets: the rows after the last one any client holds */
    long used = 0;
    for (long j = 0; j < d->off[N]; j++) used = HF_MAX(used, d->idx[j] + 1);
    if (used + f->S + f->V > n_all) {
        char msg[256];
        snprintf(msg, sizeof msg, "the clients hold the first %ld of %ld training samples: %ld server + "
                 "%ld validation samples do not fit (lower data.train_samples or feddf.*_samples)",
                 used, n_all, f->S, f->V);
        free(f);
        return hf_key_err(c, "feddf.server_samples", msg);
    }
    f->sx = d->x + used * d->dim;
    f->vx = d->x + (used + f->S) * d->dim;
    f->vy = d->y + used + f->S;
    int wb = HF_MAX(HF_MAX(p->batch_size, f->bsz), EVAL_CHUNK);
    size_t Pf = (size_t)full->nparams;
    for (int g = 0; g < f->ng; g++) {
        hf_model_cfg_t sc;
        rc = hf_slice_cfg(&full->cfg, f->gw[g], &sc);
        if (!rc) rc = hf_model_init(&f->gm[g], &sc);
        if (rc) { hf_feddf_free(f); return rc; }
        long PG = f->gm[g].nparams;
        f->state_x[g] = hf_alloc_aligned((size_t)PG * sizeof(float));
        hf_slice_extract(full, global, &f->gm[g], f->state_x[g]);  /* group a: the global init itself */
        long toff[HF_MAX_TENSORS + 1];
        for (int i = 0; i < f->gm[g].ntensors; i++) toff[i] = f->gm[g].tensors[i].off;
        toff[f->gm[g].ntensors] = PG;
        f->agg[g] = hf_agg_new(PG, f->gm[g].ntensors, toff, p->exact, p->topology, comm);
        f->work[g] = hf_work_new(&f->gm[g], wb);
    }
    /* groups: widest the device memory cap allows, else exact quotas by client index */
    f->cgroup = hf_calloc((size_t)N, sizeof(int));
    int caps = 0;
    for (int k = 0; k < N; k++) caps |= p->devs.cls[d->dcls[k]].mem_width < 1.0;
    if (caps) {
        for (int k = 0; k < N; k++) {
            double mw = p->devs.cls[d->dcls[k]].mem_width;
            int g = 0;
            while (g < f->ng - 1 && f->gw[g] > mw + 1e-12) g++;
            f->cgroup[k] = g;
        }
    } else {
        int cnt[MAX_GROUPS];
        hf_het_quotas(f->ng, f->prop, N, cnt);
        for (int g = 0, k = 0; g < f->ng; g++)
            for (int j = 0; j < cnt[g]; j++) f->cgroup[k++] = g;
    }
    f->grp = hf_calloc((size_t)HF_MAX(m, 1), sizeof(int));
    f->fscale = hf_calloc((size_t)HF_MAX(m, 1), sizeof(double));
    f->bscale = hf_calloc((size_t)HF_MAX(m, 1), sizeof(double));
    f->ws = hf_alloc_aligned(Pf * sizeof(float));
    f->ws0 = hf_alloc_aligned(Pf * sizeof(float));
    f->dx = hf_alloc_aligned(Pf * sizeof(float));
    int mh = HF_MIN(m, hf_dec_rank_first(f->rank + 1, f->size, N) - hf_dec_rank_first(f->rank, f->size, N));
    f->zloc = hf_calloc((size_t)HF_MAX(mh, 1) * (size_t)f->S * (size_t)f->C, sizeof(float));
    *out = f;
    return 0;
}

void hf_feddf_free(hf_feddf_t *f)
{
    if (!f) return;
    for (int g = 0; g < MAX_GROUPS; g++) {
        free(f->state_x[g]);
        if (f->agg[g]) hf_agg_free(f->agg[g]);
        if (f->work[g]) hf_work_free(f->work[g]);
    }
    free(f->cgroup); free(f->grp); free(f->fscale); free(f->bscale);
    free(f->ws); free(f->ws0); free(f->dx); free(f->zloc);
    free(f);
}

void hf_feddf_ckpt_register(hf_feddf_t *f)
{
    static const char *names[MAX_GROUPS] = {"feddf_model_a", "feddf_model_b", "feddf_model_c",
                                            "feddf_model_d", "feddf_model_e"};
    for (int g = 0; g < f->ng; g++)
        hf_ckpt_register(names[g], f->state_x[g], (size_t)f->gm[g].nparams * sizeof(float));
}

void hf_feddf_plan(hf_feddf_t *f, int t, const int *sel, int mt)
{
    (void)t;
    double fl = hf_model_train_flops(&f->full);
    for (int i = 0; i < mt; i++) {
        int g = f->cgroup[sel[i]];
        f->grp[i] = g;
        f->fscale[i] = hf_model_train_flops(&f->gm[g]) / fl;
        f->bscale[i] = (double)f->gm[g].nparams / (double)f->full.nparams;
    }
}

const double *hf_feddf_flops_scale(const hf_feddf_t *f) { return f->fscale; }
const double *hf_feddf_bytes_scale(const hf_feddf_t *f) { return f->bscale; }
double hf_feddf_width(const hf_feddf_t *f, int i) { return f->gw[f->grp[i]]; }
uint64_t hf_feddf_bytes(const hf_feddf_t *f, int i)
{
    return (uint64_t)f->gm[f->grp[i]].nparams * sizeof(float);
}

void hf_feddf_begin(hf_feddf_t *f)
{
    for (int g = 0; g < f->ng; g++) hf_agg_begin(f->agg[g]);
    f->nzloc = 0;
    f->t_logits = 0.0;
}

hf_het_local_t hf_feddf_train(hf_feddf_t *f, int i, int k, int t, const hf_cplan_t *cp, float *xb, int *yb,
                              int *iperm, double *t_kernel)
{
    const hf_params_t *p = f->p;
    hf_het_local_t res = {0};
    const hf_het_data_t *d = &f->d;
    int g = f->grp[i];
    const hf_model_t *mg = &f->gm[g];
    long PG = mg->nparams, nk = d->off[k + 1] - d->off[k];
    const long *idx = d->idx + d->off[k];
    memcpy(f->ws, f->state_x[g], (size_t)PG * sizeof(float));
    if (p->momentum > 0) memset(f->ws0, 0, (size_t)PG * sizeof(float));  /* momentum buffer */
    hf_sgd_t opt = {p->lr, p->momentum, p->weight_decay, p->clip};
    hf_rng_t r;
    hf_rng_init(&r, p->seed, HF_RNG_SHUFFLE, (uint64_t)t, (uint64_t)k);  /* as fed.c's client_train */
    double loss_sum = 0.0;
    int dim = d->dim;
    for (int e = 0; e < cp->epochs && nk > 0; e++) {
        hf_rng_permutation(&r, (int)nk, iperm);
        for (long b0 = 0; b0 < nk && res.steps < cp->steps; b0 += p->batch_size) {
            int B = (int)HF_MIN((long)p->batch_size, nk - b0);
            for (int j = 0; j < B; j++) {
                long s = idx[iperm[b0 + j]];
                memcpy(xb + (size_t)j * dim, d->x + s * dim, (size_t)dim * sizeof(float));
                yb[j] = d->y[s];
            }
            double tk = hf_wtime();
            float l = hf_model_train_step(mg, f->work[g], &opt, f->ws, f->dx, f->ws0, xb, yb, B);
            *t_kernel += hf_wtime() - tk;
            loss_sum += (double)l * B;
            res.steps++;
            res.samples += B;
            res.flops += hf_model_train_flops(mg) * B;
        }
    }
    res.loss = res.samples ? loss_sum / (double)res.samples : NAN;
    /* the client's logits on the server set (computed for the server: costed as server time) */
    double tl = hf_wtime();
    hf_model_forward(mg, f->work[g], f->ws, f->sx, NULL, (int)f->S,
                     f->zloc + (size_t)f->nzloc * f->S * f->C, NULL);
    f->nzloc++;
    f->t_logits += hf_wtime() - tl;
    for (long j = 0; j < PG; j++) f->dx[j] = f->ws[j] - f->state_x[g][j];
    hf_agg_add(f->agg[g], cp->weight, f->dx);
    return res;
}

/* ------------------------------------------------------------ distillation -- */

static int val_correct(hf_feddf_t *f, int g, const float *x)
{
    return f->V > 0 ? hf_model_forward(&f->gm[g], f->work[g], x, f->vx, f->vy, (int)f->V, NULL, NULL) : 0;
}

/* Distil group g's student (state_x[g]) from teacher logits zt (S, C) on rank 0. */
static void distil(hf_feddf_t *f, int g, int t, const float *zt, feddf_rec_t *rec)
{
    const hf_model_t *mg = &f->gm[g];
    long PG = mg->nparams, S = f->S;
    int C = f->C, dim = f->d.dim, B = (int)HF_MIN((long)f->bsz, S);
    float *x = f->state_x[g];
    float *best = hf_alloc_aligned((size_t)PG * sizeof(float)), *gr = hf_alloc_aligned((size_t)PG * sizeof(float));
    float *am = hf_calloc((size_t)PG, sizeof(float)), *av = hf_calloc((size_t)PG, sizeof(float));
    float *xb = hf_alloc_aligned((size_t)B * dim * sizeof(float)), *zb = hf_calloc((size_t)B * C, sizeof(float));
    int *perm = hf_calloc((size_t)S, sizeof(int));
    memcpy(best, x, (size_t)PG * sizeof(float));
    int vbest = val_correct(f, g, x), best_step = 0, s = 0;
    rec->val_acc_init = f->V ? (double)vbest / (double)f->V : NAN;
    hf_rng_t r;
    hf_rng_init(&r, f->p->seed, HF_RNG_DISTILL, (uint64_t)t, (uint64_t)g);
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    double b1t = 1.0, b2t = 1.0;
    long pos = S;
    for (s = 0; s < f->steps; s++) {
        if (pos + B > S) { hf_rng_permutation(&r, (int)S, perm); pos = 0; }
        for (int j = 0; j < B; j++) {
            long q = perm[pos + j];
            memcpy(xb + (size_t)j * dim, f->sx + q * dim, (size_t)dim * sizeof(float));
            memcpy(zb + (size_t)j * C, zt + q * C, (size_t)C * sizeof(float));
        }
        pos += B;
        hf_model_train_step_soft(mg, f->work[g], x, gr, xb, zb, f->T, B);
        double lr = 0.5 * f->lr * (1.0 + cos(M_PI * (double)s / (double)f->steps));  /* cosine decay */
        b1t *= b1;
        b2t *= b2;
        double a = lr * sqrt(1.0 - b2t) / (1.0 - b1t);
        for (long j = 0; j < PG; j++) {
            am[j] = (float)(b1 * am[j] + (1.0 - b1) * gr[j]);
            av[j] = (float)(b2 * av[j] + (1.0 - b2) * (double)gr[j] * gr[j]);
            x[j] -= (float)(a * am[j] / (sqrt((double)av[j]) + eps));
        }
        if ((s + 1) % f->val_every == 0 || s + 1 == f->steps) {
            int v = val_correct(f, g, x);
            if (v > vbest) {
                vbest = v;
                best_step = s + 1;
                memcpy(best, x, (size_t)PG * sizeof(float));
            } else if (s + 1 - best_step >= f->patience) {
                s++;
                break;
            }
        }
    }
    memcpy(x, best, (size_t)PG * sizeof(float));
    rec->steps = s;
    rec->best_step = best_step;
    rec->val_acc_best = f->V ? (double)vbest / (double)f->V : NAN;
    /* the server's memory for this group: student, best, Adam m and v, gradient; teacher
     * logits; activations of a batch (dense layers' outputs, twice for the backward) */
    double act = 0;
    for (int q = 0; q < mg->ntensors; q += 2) act += (double)mg->tensors[q].shape[0];
    rec->server_mem_bytes = 4.0 * (5.0 * (double)PG + (double)S * C + 2.0 * act * B + (double)B * dim);
    free(best); free(gr); free(am); free(av); free(xb); free(zb); free(perm);
}

static int write_table(hid_t f5, const char *name, hid_t t, size_t rsz, const void *rows, int n, long *nrows)
{
    hid_t d;
    hsize_t cur = 0;
    if (H5Lexists(f5, name, H5P_DEFAULT) > 0) {
        d = H5Dopen2(f5, name, H5P_DEFAULT);
        hid_t sp = H5Dget_space(d);
        H5Sget_simple_extent_dims(sp, &cur, NULL);
        H5Sclose(sp);
    } else {
        hsize_t dims = 0, maxd = H5S_UNLIMITED, chunk = 64;
        hid_t sp = H5Screate_simple(1, &dims, &maxd);
        hid_t pl = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_chunk(pl, 1, &chunk);
        d = H5Dcreate2(f5, name, t, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
        H5Pclose(pl);
        H5Sclose(sp);
    }
    (void)rsz;
    int rc = d < 0;
    if (!rc) {
        hsize_t nn = (hsize_t)n, newn = cur + nn;
        rc = H5Dset_extent(d, &newn) < 0;
        if (!rc) {
            hid_t fs = H5Dget_space(d);
            H5Sselect_hyperslab(fs, H5S_SELECT_SET, &cur, NULL, &nn, NULL);
            hid_t ms = H5Screate_simple(1, &nn, NULL);
            rc = H5Dwrite(d, t, ms, fs, H5P_DEFAULT, rows) < 0;
            H5Sclose(ms);
            H5Sclose(fs);
        }
        H5Dclose(d);
        *nrows = (long)newn;
    }
    return rc ? hf_seterr(HF_ERUNTIME, "writing /%s failed", name) : 0;
}

int hf_feddf_server(hf_feddf_t *f, const hf_plan_t *plan, int t, float *global, hid_t h5)
{
    int C = f->C;
    long S = f->S, SC = S * C;
    feddf_rec_t rec[MAX_GROUPS];
    memset(rec, 0, sizeof rec);
    double nsum[MAX_GROUPS] = {0};
    int kept = 0;
    for (int i = 0; i < plan->m; i++)
        if (plan->c[i].kept) {
            int g = f->grp[i];
            nsum[g] += plan->c[i].weight;
            rec[g].clients++;
            kept++;
        }
    /* 1. per-group FedAvg → student (result on rank 0, or everywhere with allreduce) */
    for (int g = 0; g < f->ng; g++) {
        hf_agg_reduce(f->agg[g]);
        int have = f->rank == 0 || hf_agg_result_everywhere(f->agg[g]);
        if (have && nsum[g] > 0) hf_agg_apply(f->agg[g], 1.0 / nsum[g], f->state_x[g]);
    }
    /* 2. teacher: kept clients' logits to rank 0 in client order (= rank order), mean there */
    int *cnt = NULL, *dsp = NULL;
    float *zall = NULL, *zt = NULL;
    int mine = f->nzloc * (int)SC;
    if (f->rank == 0) {
        cnt = hf_calloc((size_t)f->size, sizeof(int));
        dsp = hf_calloc((size_t)f->size, sizeof(int));
    }
    MPI_Gather(&mine, 1, MPI_INT, cnt, 1, MPI_INT, 0, f->comm);
    if (f->rank == 0) {
        for (int r = 0, o = 0; r < f->size; r++) { dsp[r] = o; o += cnt[r]; }
        zall = hf_calloc((size_t)HF_MAX(kept, 1) * (size_t)SC, sizeof(float));
    }
    MPI_Gatherv(f->zloc, mine, MPI_FLOAT, zall, cnt, dsp, MPI_FLOAT, 0, f->comm);
    double tlog = 0.0;
    MPI_Reduce(&f->t_logits, &tlog, 1, MPI_DOUBLE, MPI_SUM, 0, f->comm);
    int rc = 0;
    if (f->rank == 0) {
        zt = hf_calloc((size_t)SC, sizeof(float));
        for (long j = 0; j < SC && kept > 0; j++) {
            double a = 0.0;
            for (int q = 0; q < kept; q++) a += (double)zall[(size_t)q * SC + j];
            zt[j] = (float)(a / kept);
        }
        /* 3. distil each group's student (single-threaded: one sequence whatever the layout) */
        openblas_set_num_threads(1);
        for (int g = 0; g < f->ng; g++) {
            double t0 = hf_wtime();
            rec[g].round = t + 1;
            rec[g].width = f->gw[g];
            rec[g].best_step = 0;
            if (kept > 0 && f->steps > 0) distil(f, g, t, zt, &rec[g]);
            else {
                rec[g].val_acc_init = rec[g].val_acc_best =
                    f->V ? (double)val_correct(f, g, f->state_x[g]) / (double)f->V : NAN;
                rec[g].server_mem_bytes = 4.0 * (double)SC;
            }
            rec[g].server_compute_s = hf_wtime() - t0 + (kept ? tlog * rec[g].clients / kept : 0.0);
        }
        if (h5 >= 0) {
            hid_t ty = H5Tcreate(H5T_COMPOUND, sizeof(feddf_rec_t));
            H5Tinsert(ty, "round", HOFFSET(feddf_rec_t, round), H5T_NATIVE_INT32);
            H5Tinsert(ty, "width", HOFFSET(feddf_rec_t, width), H5T_NATIVE_DOUBLE);
            H5Tinsert(ty, "clients", HOFFSET(feddf_rec_t, clients), H5T_NATIVE_INT32);
            H5Tinsert(ty, "distill_steps", HOFFSET(feddf_rec_t, steps), H5T_NATIVE_INT32);
            H5Tinsert(ty, "best_step", HOFFSET(feddf_rec_t, best_step), H5T_NATIVE_INT32);
            H5Tinsert(ty, "val_accuracy_init", HOFFSET(feddf_rec_t, val_acc_init), H5T_NATIVE_DOUBLE);
            H5Tinsert(ty, "val_accuracy_best", HOFFSET(feddf_rec_t, val_acc_best), H5T_NATIVE_DOUBLE);
            H5Tinsert(ty, "server_compute_s", HOFFSET(feddf_rec_t, server_compute_s), H5T_NATIVE_DOUBLE);
            H5Tinsert(ty, "server_mem_bytes", HOFFSET(feddf_rec_t, server_mem_bytes), H5T_NATIVE_DOUBLE);
            rc = write_table(h5, "feddf", ty, sizeof(feddf_rec_t), rec, f->ng, &f->rows);
            H5Tclose(ty);
        }
    }
    free(cnt); free(dsp); free(zall); free(zt);
    /* 4. students to every rank; the global model is group a's */
    for (int g = 0; g < f->ng; g++)
        MPI_Bcast(f->state_x[g], (int)f->gm[g].nparams, MPI_FLOAT, 0, f->comm);
    memcpy(global, f->state_x[0], (size_t)f->full.nparams * sizeof(float));
    MPI_Bcast(&rc, 1, MPI_INT, 0, f->comm);
    return rc;
}

/* ------------------------------------------------------------ evaluation --- */

typedef struct {
    int32_t round;
    double width, test_accuracy, test_loss;
} width_rec_t;   /* the layout of hetero.c's /rounds_by_width */

int hf_feddf_eval(hf_feddf_t *f, const float *tx, const int *ty, long n, int round, hid_t h5)
{
    long nchunks = (n + EVAL_CHUNK - 1) / EVAL_CHUNK;
    int64_t loc[2 * MAX_GROUPS] = {0}, tot[2 * MAX_GROUPS] = {0};
    float lbuf[EVAL_CHUNK];
    int dim = f->d.dim;
    for (int g = 0; g < f->ng; g++)
        for (long ch = f->rank; ch < nchunks; ch += f->size) {
            long s0 = ch * EVAL_CHUNK;
            int B = (int)HF_MIN((long)EVAL_CHUNK, n - s0);
            loc[2 * g] += hf_model_forward(&f->gm[g], f->work[g], f->state_x[g], tx + s0 * dim, ty + s0, B, NULL, lbuf);
            for (int i = 0; i < B; i++) loc[2 * g + 1] += (int64_t)llrint((double)lbuf[i] * LOSS_FIXED_SCALE);
        }
    MPI_Allreduce(loc, tot, 2 * f->ng, MPI_INT64_T, MPI_SUM, f->comm);
    int rc = 0;
    if (f->rank == 0 && h5 >= 0) {
        width_rec_t rows[MAX_GROUPS];
        for (int g = 0; g < f->ng; g++) {
            rows[g].round = round;
            rows[g].width = f->gw[g];
            rows[g].test_accuracy = n ? (double)tot[2 * g] / (double)n : NAN;
            rows[g].test_loss = n ? (double)tot[2 * g + 1] / LOSS_FIXED_SCALE / (double)n : NAN;
        }
        hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(width_rec_t));
        H5Tinsert(t, "round", HOFFSET(width_rec_t, round), H5T_NATIVE_INT32);
        H5Tinsert(t, "width", HOFFSET(width_rec_t, width), H5T_NATIVE_DOUBLE);
        H5Tinsert(t, "test_accuracy", HOFFSET(width_rec_t, test_accuracy), H5T_NATIVE_DOUBLE);
        H5Tinsert(t, "test_loss", HOFFSET(width_rec_t, test_loss), H5T_NATIVE_DOUBLE);
        rc = write_table(h5, "rounds_by_width", t, sizeof(width_rec_t), rows, f->ng, &f->wrows);
        H5Tclose(t);
    }
    MPI_Bcast(&rc, 1, MPI_INT, 0, f->comm);
    return rc;
}
