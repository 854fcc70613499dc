/*
 * feddf.c — FedDF: per-group FedAvg, then server-side ensemble distillation of
 * every group's student from the mean logits of all kept clients on an
 * unlabeled held-out server set (see feddf.h for the contract).  Its hooks
 * (the entry at the end) take over training, aggregation and evaluation.
 */
#include "feddf.h"
#include "evaluate.h"
#include "h5out.h"
#include "run.h"
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
    hf_work_t *work[MAX_GROUPS];              /* activations, max batch max(B, HF_EVAL_CHUNK) */
    int *cgroup;                              /* group of every client */
    int *grp;                                 /* this round: group per plan entry */
    double *fscale, *bscale;
    /* server data: rows of the training set no client holds */
    const float *sx;                          /* unlabeled server set (S, dim) */
    float *own_sx;                            /* server_data noise / file: the set, owned (else NULL) */
    const float *vx;                          /* validation set (V, dim) */
    const int *vy;
    long S, V;
    int steps, val_every, patience, bsz;
    float lr, T;
    /* round scratch */
    float *ws, *ws0, *dx;                     /* local model, its start, the delta (full size) */
    float *zloc;                              /* hosted kept clients' server-set logits (m·S·C) */
    long *aug_ids;                            /* data.augment: a minibatch's sample ids (B) */
    float *aug_scratch;                       /* data.augment: one sample (dim) */
    int nzloc;
    double t_logits;                          /* seconds computing logits on the server set, this rank */
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

/* /feddf's units and descriptions (docs/results.md) */
static const hf_col_doc_t feddf_cols[] = {
    {"round", "", "round number"},
    {"width", "1", "the group's model width: fraction of every hidden layer's units"},
    {"clients", "clients", "kept clients of the group this round (their FedAvg starts the student)"},
    {"distill_steps", "steps", "Adam distillation steps run (fewer than feddf.steps after early stopping)"},
    {"best_step", "steps", "step of the student kept (0 = the group's FedAvg model)"},
    {"val_accuracy_init", "1", "validation accuracy of the group's FedAvg model, fraction"},
    {"val_accuracy_best", "1", "validation accuracy of the student kept, fraction"},
    {"server_compute_s", "s", "measured: server wall time of the group's distillation and its "
                              "clients' logits (not deterministic)"},
    {"server_mem_bytes", "bytes", "server memory of the group's distillation (model copies, Adam "
                                  "state, teacher logits, activations)"},
    {NULL, NULL, NULL}};

/* feddf.group_models entry e ("-", "ARCH" or "ARCH:W,W,...") over the run's
 * model configuration base → out: the group's full-size model before its
 * width slices it.  Refuses what the data cannot feed (the run's model
 * checks in setup.c): an lstm without token data, a cnn/resnet without images. */
static int group_model_cfg(const hf_conf_t *c, const char *e, const hf_model_cfg_t *base, hf_model_cfg_t *out)
{
    static const char *K = "feddf.group_models";
    *out = *base;
    while (*e == ' ') e++;
    size_t n = strcspn(e, ": ");
    if (n == 1 && e[0] == '-') return 0;
    hf_arch_t archs[] = {HF_ARCH_LOGREG, HF_ARCH_MLP, HF_ARCH_CNN, HF_ARCH_RESNET, HF_ARCH_LSTM};
    int found = 0;
    for (int a = 0; a < 5 && !found; a++)
        if (strlen(hf_arch_name(archs[a])) == n && !strncmp(e, hf_arch_name(archs[a]), n)) {
            out->arch = archs[a];
            found = 1;
        }
    if (!found) return hf_key_err(c, K, "'%.*s': expected -, logreg, mlp, cnn, resnet or lstm", (int)n, e);
    static const int dflt[5][4] = {{0}, {200, 200}, {32, 64, 512}, {64, 128, 256, 512}, {256, 256}};
    static const int ndflt[5] = {0, 2, 3, 4, 2};
    out->nhidden = ndflt[out->arch];
    memcpy(out->hidden, dflt[out->arch], sizeof dflt[0]);
    const char *q = e + n;
    while (*q == ' ') q++;
    if (*q == ':') {
        out->nhidden = 0;
        for (q++; *q && *q != ' ';) {
            char *end;
            long v = strtol(q, &end, 10);
            if (end == q || v < 1 || v > 1000000 || out->nhidden == HF_MAX_HIDDEN)
                return hf_key_err(c, K, "'%s': widths are 1 to 8 integers in [1, 1000000], e.g. cnn:32,64,512", e);
            out->hidden[out->nhidden++] = (int)v;
            q = *end == ',' ? end + 1 : end;
        }
    }
    if (out->arch == HF_ARCH_LOGREG) out->nhidden = 0;
    if (out->arch == HF_ARCH_LSTM && !base->vocab)
        return hf_key_err(c, K, "'%s': lstm needs text data (token ids), the data set has none", e);
    if ((out->arch == HF_ARCH_CNN || out->arch == HF_ARCH_RESNET) && (base->in_h < 4 || base->in_w < 4 || base->vocab))
        return hf_key_err(c, K, "'%s': %s needs image data (the data set has %dx%d inputs%s)", e,
                          hf_arch_name(out->arch), base->in_h, base->in_w, base->vocab ? ", token ids" : "");
    if ((out->arch == HF_ARCH_MLP || out->arch == HF_ARCH_LOGREG) && base->vocab)
        return hf_key_err(c, K, "'%s': %s on token ids is no model of the text: use lstm", e, hf_arch_name(out->arch));
    if (out->arch == HF_ARCH_CNN && out->nhidden != 3)
        return hf_key_err(c, K, "'%s': cnn takes three widths (conv1,conv2,fc)", e);
    if (out->arch == HF_ARCH_RESNET && out->nhidden != 4)
        return hf_key_err(c, K, "'%s': resnet takes four stage widths", e);
    if (out->arch == HF_ARCH_RESNET && out->norm == HF_NORM_STATIC_BN)
        return hf_key_err(c, K, "'%s': a resnet group needs model.norm = group or none (feddf recomputes no "
                          "static batch norm statistics)", e);
    return 0;
}

/* Group g's full-size configuration: feddf.group_models' g-th ';'-separated
 * entry (empty key: the run's model for every group). */
static int group_cfg(const hf_conf_t *c, int ng, int g, const hf_model_cfg_t *base, hf_model_cfg_t *out)
{
    const char *v = hf_conf_get(c, "feddf.group_models");
    *out = *base;
    if (!v || !v[0]) return 0;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", v);
    int n = 0;
    char *save = NULL, *ent[MAX_GROUPS + 1] = {0};
    for (char *t = strtok_r(buf, ";", &save); t; t = strtok_r(NULL, ";", &save)) {
        if (n > MAX_GROUPS) break;
        ent[n++] = t;
    }
    if (n != ng)
        return hf_key_err(c, "feddf.group_models", "%d entries for %d groups of feddf.groups (one per group, "
                          "widest first, ';'-separated; - = the run's model)", n, ng);
    const char *e0 = ent[0] + strspn(ent[0], " ");
    if (strncmp(e0, "-", 1) || e0[1 + strspn(e0 + 1, " ")])
        return hf_key_err(c, "feddf.group_models", "the first entry (group a: the run's global model) must be -");
    return group_model_cfg(c, ent[g], base, out);
}

/* "a1-c1" → widths 1, 1/4 with proportions .5, .5 (widest first); must hold a. */
static int parse_groups(const hf_conf_t *c, int *n, double *w, double *prop)
{
    int rc = hf_het_parse_letters(c, "feddf.groups", "group", n, w, prop);
    if (!rc && w[0] != 1.0)
        rc = hf_key_err(c, "feddf.groups", "must contain group a (width 1: the run's model, evaluated in "
                        "/rounds and saved as /model/final)");
    return rc;
}

int hf_feddf_params_check(const hf_params_t *p, const hf_conf_t *c)
{
    int n;
    double w[MAX_GROUPS], pr[MAX_GROUPS];
    int rc = parse_groups(c, &n, w, pr);
    if (rc) return rc;
    if (strcmp(p->server_opt, "none"))
        return hf_key_err(c, "server.optimizer", "feddf replaces the server step by distillation: use none");
    if (!strcmp(hf_conf_get(c, "feddf.server_data"), "file") && !hf_conf_get(c, "feddf.server_file")[0])
        return hf_key_err(c, "feddf.server_data", "file needs feddf.server_file (an HDF5 file in the generic "
                          "layout of docs/data.md)");
    if (hf_conf_int(c, "feddf.server_samples") < 1)
        return hf_key_err(c, "feddf.server_samples", "must be >= 1");
    if (strcmp(hf_conf_get(c, "energy.compress"), "none"))
        return hf_key_err(c, "energy.compress", "feddf trains and uploads its group models itself: no upload codec");
    if (strcmp(hf_conf_get(c, "energy.budget_strategy"), "exclude"))
        return hf_key_err(c, "energy.budget_strategy", "feddf: only exclude (its training has no data subset, "
                          "upload codec or correction of shortened updates)");
    return 0;
}

void hf_feddf_noise(float *x, long S, int dim, double lo, double hi, int vocab, uint64_t seed)
{
    hf_rng_t r;
    hf_rng_init(&r, seed, HF_RNG_DISTILL, 1ull << 32, 0);  /* a counter no round uses */
    for (long j = 0; j < S * dim; j++) {
        double u = hf_rng_uniform(&r);
        x[j] = vocab > 0 ? (float)HF_MIN((long)(u * vocab), (long)vocab - 1) : (float)(lo + (hi - lo) * u);
    }
}

/* feddf.server_data = noise: S samples drawn uniformly in the range of the
 * clients' training features (token ids: uniform over the vocabulary). */
static float *noise_set(const hf_feddf_t *f, long used)
{
    const hf_het_data_t *d = &f->d;
    double lo = INFINITY, hi = -INFINITY;
    for (long j = 0; j < used * d->dim; j++) {
        lo = fmin(lo, d->x[j]);
        hi = fmax(hi, d->x[j]);
    }
    float *x = hf_alloc_aligned((size_t)HF_MAX(f->S, 1) * (size_t)d->dim * sizeof(float));
    hf_feddf_noise(x, f->S, d->dim, lo, hi, f->full.cfg.vocab, f->p->seed);
    return x;
}

/* feddf.server_data = file: the first S inputs of feddf.server_file (the
 * generic HDF5 layout, docs/data.md; its labels are never used), which must
 * have the shape of the run's inputs (token ids of the same vocabulary). */
static int file_set(hf_feddf_t *f, const hf_conf_t *c)
{
    static const char *K = "feddf.server_file";
    const char *path = hf_conf_get(c, K);
    hf_dataset_t ds, test;
    hf_partition_t part;
    int rc = hf_key_wrap(c, K, hf_h5data_load(path, &ds, &test, &part));
    if (rc) return rc;
    const hf_het_data_t *d = &f->d;
    if (ds.c != d->c || ds.h != d->h || ds.w != d->w || ds.vocab != f->full.cfg.vocab)
        rc = hf_key_err(c, K, "%s: inputs of shape %dx%dx%d%s; the run's are %dx%dx%d%s", path, ds.c, ds.h, ds.w,
                        ds.vocab ? " (token ids)" : "", d->c, d->h, d->w, f->full.cfg.vocab ? " (token ids)" : "");
    else if (ds.n < f->S)
        rc = hf_key_err(c, "feddf.server_samples", "%ld server samples, but %s holds %ld", f->S, path, ds.n);
    else {
        f->own_sx = hf_alloc_aligned((size_t)f->S * (size_t)d->dim * sizeof(float));
        memcpy(f->own_sx, ds.x, (size_t)f->S * (size_t)d->dim * sizeof(float));
    }
    hf_dataset_free(&ds);
    hf_dataset_free(&test);
    hf_partition_free(&part);
    return rc;
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
    /* server and validation sets: the rows after the last one any client holds
     * (noise, file: only the validation set; the server set is generated or read) */
    const char *sd = hf_conf_get(c, "feddf.server_data");
    long used = 0, S_rows = !strcmp(sd, "heldout") ? f->S : 0;
    for (long j = 0; j < d->off[N]; j++) used = HF_MAX(used, d->idx[j] + 1);
    if (used + S_rows + f->V > n_all) {
        char msg[256];
        snprintf(msg, sizeof msg, "the clients hold the first %ld of %ld training samples: %ld server + "
                 "%ld validation samples do not fit (lower data.train_samples or feddf.*_samples)",
                 used, n_all, S_rows, f->V);
        free(f);
        return hf_key_err(c, "feddf.server_samples", msg);
    }
    if (!strcmp(sd, "noise")) f->own_sx = noise_set(f, used);
    if (!strcmp(sd, "file") && (rc = file_set(f, c))) {
        hf_feddf_free(f);
        return rc;
    }
    f->sx = S_rows ? d->x + used * d->dim : f->own_sx;
    f->vx = d->x + (used + S_rows) * d->dim;
    f->vy = d->y + used + S_rows;
    int wb = HF_MAX(HF_MAX(p->batch_size, f->bsz), HF_EVAL_CHUNK);
    size_t Pf = 0;
    for (int g = 0; g < f->ng; g++) {
        hf_model_cfg_t gc, sc;
        hf_model_t fam;  /* the group's full-size model: the run's, or feddf.group_models' entry */
        rc = group_cfg(c, f->ng, g, &full->cfg, &gc);
        if (!rc) rc = hf_key_wrap(c, "feddf.group_models", hf_model_init(&fam, &gc));
        if (!rc) rc = hf_slice_cfg(&gc, f->gw[g], &sc);
        if (!rc) rc = hf_model_init(&f->gm[g], &sc);
        if (rc) { hf_feddf_free(f); return rc; }
        long PG = f->gm[g].nparams;
        Pf = HF_MAX(Pf, (size_t)PG);
        f->state_x[g] = hf_alloc_aligned((size_t)PG * sizeof(float));
        if (gc.arch == full->cfg.arch && !memcmp(gc.hidden, full->cfg.hidden, sizeof gc.hidden) &&
            gc.nhidden == full->cfg.nhidden)
            hf_slice_extract(full, global, &f->gm[g], f->state_x[g]);  /* group a: the global init itself */
        else {  /* another family: its own initialisation from the seed, then its width */
            float *x0 = hf_alloc_aligned((size_t)fam.nparams * sizeof(float));
            hf_model_init_params(&fam, x0, p->seed);
            hf_slice_extract(&fam, x0, &f->gm[g], f->state_x[g]);
            free(x0);
        }
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
    f->aug_ids = hf_calloc((size_t)HF_MAX(p->batch_size, 1), sizeof(long));
    f->aug_scratch = hf_calloc((size_t)HF_MAX(d->dim, 1), sizeof(float));
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
    free(f->ws); free(f->ws0); free(f->dx); free(f->zloc); free(f->aug_ids); free(f->aug_scratch);
    free(f->own_sx);
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
    hf_rng_init(&r, p->seed, HF_RNG_SHUFFLE, (uint64_t)t, (uint64_t)k);  /* as the engine's client training */
    double loss_sum = 0.0;
    int dim = d->dim;
    for (int e = 0; e < cp->epochs && nk > 0; e++) {
        hf_rng_permutation(&r, (int)nk, iperm);
        for (long b0 = 0; b0 < nk && res.steps < cp->steps; b0 += p->batch_size) {
            int B = (int)HF_MIN((long)p->batch_size, nk - b0);
            hf_gather_rows(d->x, d->y, dim, idx, iperm + b0, B, xb, yb);
            hf_het_augment(p, d, t, k, idx, iperm + b0, B, xb, f->aug_ids, f->aug_scratch);
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
        b1t *= HF_ADAM_B1;
        b2t *= HF_ADAM_B2;
        hf_adam_step(PG, x, gr, am, av, lr * sqrt(1.0 - b2t) / (1.0 - b1t));
        if ((s + 1) % f->val_every == 0 || s + 1 == f->steps) {
            int v = val_correct(f, g, x);
            if (v > vbest || f->V == 0) {  /* no validation set: keep the last step */
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
            rc = hf_h5out_append_table(h5, "feddf", ty, rec, f->ng,
                                       "FedDF distillation and server cost, one row per (round, "
                                       "architecture group), widest first (docs/results.md)",
                                       feddf_cols);
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

int hf_feddf_eval(hf_feddf_t *f, const float *tx, const int *ty, long n, int round, hid_t h5)
{
    int64_t loc[2 * MAX_GROUPS] = {0}, tot[2 * MAX_GROUPS] = {0};
    for (int g = 0; g < f->ng; g++)
        hf_eval_share(&f->gm[g], f->work[g], f->state_x[g], tx, ty, n, f->d.dim, f->rank, f->size, loc + 2 * g, NULL);
    MPI_Allreduce(loc, tot, 2 * f->ng, MPI_INT64_T, MPI_SUM, f->comm);
    int rc = 0;
    if (f->rank == 0 && h5 >= 0) {
        double acc[MAX_GROUPS], loss[MAX_GROUPS];
        for (int g = 0; g < f->ng; g++) hf_eval_figures(tot + 2 * g, n, &acc[g], &loss[g]);
        rc = hf_h5out_width_rows(h5, round, f->ng, f->gw, acc, loss);
    }
    MPI_Bcast(&rc, 1, MPI_INT, 0, f->comm);
    return rc;
}

/* ------------------------------------------------------------ the entry --- */

static const hf_opt_t keys[] = {
    {"feddf.groups", HF_OPT_STRING, "a", HF_OPT_NORANGE, NULL,
     "feddf: architecture groups as width levels a..e = 1, 1/2, 1/4, 1/8, 1/16 of the model with client "
     "proportions, '-'-separated (a1-c1); must contain a (the global model); clients get exact quotas "
     "by index, or with device memory caps the widest group their class allows"},
    {"feddf.server_samples", HF_OPT_INT, "500", 1, 1000000, NULL,
     "feddf: unlabeled server set, taken from the training samples after the last one any client "
     "holds (needs data.train_samples below the data set's size); labels are never read"},
    {"feddf.val_samples", HF_OPT_INT, "500", 0, 1000000, NULL,
     "feddf: labelled validation samples following the server set (early stopping); 0 = keep the "
     "last step"},
    {"feddf.steps", HF_OPT_INT, "10000", 0, 100000000, NULL,
     "feddf: maximum distillation steps per group and round (paper: 10^4); 0 = per-group FedAvg only"},
    {"feddf.val_every", HF_OPT_INT, "100", 1, 100000000, NULL, "feddf: validate every this many steps"},
    {"feddf.patience", HF_OPT_INT, "1000", 1, 100000000, NULL,
     "feddf: stop after this many steps without a better validation accuracy; the best student is kept"},
    {"feddf.batch_size", HF_OPT_INT, "64", 1, 100000, NULL, "feddf: distillation batch size"},
    {"feddf.group_models", HF_OPT_STRING, "", HF_OPT_NORANGE, NULL,
     "feddf: model families, one ';'-separated entry per group of feddf.groups (widest first): - = the "
     "run's model, or ARCH[:W,W,...] (logreg, mlp, cnn, resnet, lstm; widths as model.hidden, defaults "
     "200,200 / 32,64,512 / 64,128,256,512 / 256,256), which the group's letter then slices; the first "
     "entry must be -; empty = every group the run's model. The data must feed every family (no lstm "
     "on images, no cnn/resnet on vectors or text)"},
    {"feddf.server_data", HF_OPT_CHOICE, "heldout", HF_OPT_NORANGE, "heldout|noise|file",
     "feddf: the unlabeled distillation set: heldout = feddf.server_samples training samples no client "
     "holds; noise = as many samples of i.i.d. uniform noise over the range of the clients' features "
     "(token ids: uniform over the vocabulary), keyed (seed, distill, 2^32, 0) (out of distribution, as "
     "the paper's ablation); file = the first feddf.server_samples inputs of feddf.server_file (another "
     "data set: out of distribution); validation stays on held-out samples"},
    {"feddf.server_file", HF_OPT_PATH, "", HF_OPT_NORANGE, NULL,
     "feddf: with feddf.server_data = file, an HDF5 file in the generic layout of docs/data.md (/inputs "
     "of the run's input shape, token ids of its vocabulary for text; /labels as the layout requires, "
     "never read)"},
    {"feddf.lr", HF_OPT_FLOAT, "1e-3", 0, 1e3, NULL,
     "feddf: Adam learning rate (beta 0.9, 0.999, eps 1e-8), cosine decay to 0 over feddf.steps"},
    {"feddf.temperature", HF_OPT_FLOAT, "1", 1e-3, 1e3, NULL,
     "feddf: softmax temperature T of KL(softmax(zbar/T) || softmax(z/T)) (gradient without T^2)"},
    {0},
};

static int init_feddf(hf_strat_t *s, hf_run_t *x)
{
    hf_het_data_t hd = {x->train.x, x->train.y, x->train.dim, x->part.off, x->part.idx, x->dcls, NULL, 0,
                        x->train.c, x->train.h, x->train.w};
    hf_feddf_t *f = NULL;
    int rc = hf_feddf_new(&f, s->p, x->o->conf, &x->model, s->nclients, x->m, &hd, x->train_all, x->global,
                          s->comm);
    s->state = f;
    return rc;
}

static void free_feddf(hf_strat_t *s) { hf_feddf_free(s->state); }
static void ckpt_feddf(hf_strat_t *s) { hf_feddf_ckpt_register(s->state); }
static void plan_feddf(hf_strat_t *s, int t, const int *sel, int m) { hf_feddf_plan(s->state, t, sel, m); }
static const double *flops_feddf(const hf_strat_t *s) { return hf_feddf_flops_scale(s->state); }
static const double *bytes_feddf(const hf_strat_t *s) { return hf_feddf_bytes_scale(s->state); }
static double width_feddf(const hf_strat_t *s, int i) { return hf_feddf_width(s->state, i); }
static uint64_t model_bytes_feddf(const hf_strat_t *s, int i) { return hf_feddf_bytes(s->state, i); }
static void begin_feddf(hf_strat_t *s) { hf_feddf_begin(s->state); }

/* Its group's model; the update goes to the group's aggregator. */
static hf_local_t train_feddf(hf_strat_t *s, int i, int k, int t, const hf_cplan_t *cp)
{
    hf_run_t *x = s->run;
    double th = hf_wtime();
    hf_het_local_t hl = hf_feddf_train(s->state, i, k, t, cp, x->xb, x->yb, x->iperm, &x->t_kernel);
    return (hf_local_t){.loss = hl.loss, .steps = hl.steps, .samples = hl.samples, .measured = hf_wtime() - th};
}

/* Per-group FedAvg, distillation, broadcast. */
static int aggregate_feddf(hf_strat_t *s, int t, int have)
{
    (void)have;
    hf_run_t *x = s->run;
    return hf_feddf_server(s->state, &x->plan, t, x->global, x->rank == 0 ? hf_h5out_file(x->h5) : -1);
}

/* Accuracy of every group: /rounds_by_width. */
static int evaluate_feddf(hf_strat_t *s, int round)
{
    hf_run_t *x = s->run;
    return hf_feddf_eval(s->state, x->test.x, x->test.y, x->test.n, round, x->rank == 0 ? hf_h5out_file(x->h5) : -1);
}

const hf_strategy_t hf_strategy_feddf = {
    .name = "feddf",
    .doc = "architecture groups ([feddf] groups), per-group FedAvg, then server ensemble distillation on "
           "held-out unlabeled data (Lin et al. 2020)",
    .modes = HF_MODE_CENTRAL,
    .keeps_stragglers = 0,
    .upload_factor = 1,
    .keys = keys,
    .check = hf_feddf_params_check,
    .init = init_feddf,
    .free = free_feddf,
    .ckpt_register = ckpt_feddf,
    .weights = hf_weights_samples,
    .plan = plan_feddf,
    .flops_scale = flops_feddf,
    .bytes_scale = bytes_feddf,
    .width = width_feddf,
    .model_bytes = model_bytes_feddf,
    .round_begin = begin_feddf,
    .train = train_feddf,
    .aggregate = aggregate_feddf,
    .evaluate = evaluate_feddf,
};
