/*
 * mia.c — the loss-threshold membership attack (mia.h).
 */
#include "mia.h"
#include "aia.h"
#include "run.h"
#include "evaluate.h"
#include "hf_util.h"
#include "rng.h"
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int32_t round, target, observed, samples;
    double auc, balanced_accuracy, tpr_at_1pct_fpr;
    double loss_members, loss_nonmembers;
    double attack_s;
} privacy_row_t;

struct hf_mia {
    int update;                 /* privacy.attack = update: the target's uploads; else the global model */
    int target, host, n;        /* target client, the rank hosting it, samples per set */
    float *view;                /* update: the model an eavesdropper rebuilds, x + Δ (P floats) */
    int pending;                /* update: a row is waiting for hf_mia_round */
    privacy_row_t row;          /* that row */
    float *xin, *xout;          /* n rows each */
    int *yin, *yout;
    float *lin, *lout;          /* their losses this round */
};

#define COL(name, units, doc, type) {#name, units, doc, offsetof(privacy_row_t, name), type}
static const hf_privacy_col_t privacy_cols[] = {
    COL(round, "", "round number", 0),
    COL(target, "", "the attacked client", 0),
    COL(observed, "", "the model attacked: 0 the global model, 1 the target's upload (x + its update)", 0),
    COL(samples, "samples", "members scored (as many non-members)", 0),
    COL(auc, "1", "area under the ROC curve of the loss-threshold attack (0.5 = chance)", 1),
    COL(balanced_accuracy, "1", "best (TPR + TNR) / 2 over loss thresholds", 1),
    COL(tpr_at_1pct_fpr, "1", "best true-positive rate at a false-positive rate <= 1 %", 1),
    COL(loss_members, "nats", "mean loss of the observed model on the members", 1),
    COL(loss_nonmembers, "nats", "mean loss of the observed model on the non-members", 1),
    COL(attack_s, "s", "measured: wall time of the attack on rank 0 (not deterministic)", 1),
    {NULL, NULL, NULL, 0, 0}};
#undef COL

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

void hf_mia_figures(const float *loss_in, int nin, const float *loss_out, int nout, double *auc,
                    double *bacc, double *tpr1)
{
    float *a = hf_malloc((size_t)(nin + 1) * sizeof(float)), *b = hf_malloc((size_t)(nout + 1) * sizeof(float));
    memcpy(a, loss_in, (size_t)nin * sizeof(float));
    memcpy(b, loss_out, (size_t)nout * sizeof(float));
    qsort(a, (size_t)nin, sizeof(float), cmp_float);
    qsort(b, (size_t)nout, sizeof(float), cmp_float);
    /* Mann–Whitney: for each member, non-members with a higher loss (+ half the ties) */
    double wins = 0.0;
    for (int i = 0, lo = 0, hi = 0; i < nin; i++) {
        while (lo < nout && b[lo] < a[i]) lo++;         /* b[lo..] >= a[i] */
        if (hi < lo) hi = lo;
        while (hi < nout && b[hi] <= a[i]) hi++;        /* b[hi..] > a[i] */
        wins += (double)(nout - hi) + 0.5 * (double)(hi - lo);
    }
    *auc = nin && nout ? wins / ((double)nin * nout) : NAN;
    /* thresholds at every distinct loss: member when loss <= τ */
    double best_bacc = 0.5, best_tpr = 0.0;
    for (int i = 0, j = 0; i < nin || j < nout;) {
        float tau = i < nin && (j >= nout || a[i] <= b[j]) ? a[i] : b[j];
        while (i < nin && a[i] <= tau) i++;
        while (j < nout && b[j] <= tau) j++;
        double tpr = (double)i / nin, fpr = (double)j / nout;
        best_bacc = fmax(best_bacc, 0.5 * (tpr + 1 - fpr));
        if (fpr <= 0.01) best_tpr = fmax(best_tpr, tpr);
    }
    *bacc = nin && nout ? best_bacc : NAN;
    *tpr1 = nin && nout ? best_tpr : NAN;
    free(a);
    free(b);
}

int hf_privacy_host(const hf_run_t *x, int k)
{
    int host = 0;
    while (hf_run_first_client(host + 1, x->size, x->p->clients) <= k) host++;
    return host;
}

void hf_privacy_observe(hf_run_t *x, int round, int k, const float *delta)
{
    if (x->mia) hf_mia_update(x->mia, x, round, k, delta);
    if (x->aia) hf_aia_update(x->aia, x, round, k, delta);
}

const float *hf_privacy_view(const hf_run_t *x, const float *delta, float *buf)
{
    if (!delta) return x->local;  /* no codec or edit: the upload is local − global */
    for (long j = 0; j < x->model.nparams; j++) buf[j] = x->global[j] + delta[j];
    return buf;
}

int hf_mia_new(hf_run_t *x, hf_mia_t **out)
{
    const hf_conf_t *c = x->o->conf;
    *out = NULL;
    if (!strcmp(hf_conf_get(c, "privacy.attack"), "none")) return 0;
    int update = !strcmp(hf_conf_get(c, "privacy.attack"), "update");
    if (!strcmp(hf_conf_get(c, "federation.mode"), "async"))
        return hf_key_err(c, "privacy.attack", "not available with federation.mode = async");
    if (update && ((x->strat.st->train && !x->strat.st->reports_upload) || x->p->decentralized))
        return hf_key_err(c, "privacy.attack", "update observes the engine's client uploads: not available "
                          "with federation.strategy = %s%s", x->strat.st->name,
                          x->p->decentralized ? " in decentralized mode" : "");
    int target = (int)hf_conf_int(c, "privacy.target");
    if (target >= x->p->clients)
        return hf_key_err(c, "privacy.target", "client %d does not exist (federation.clients = %d)", target,
                          x->p->clients);
    long nk = hf_run_nk(x, target);
    int n = (int)HF_MIN(HF_MIN((long)hf_conf_int(c, "privacy.samples"), nk), x->test.n);
    if (n <= 0)
        return hf_key_err(c, "privacy.target", "client %d holds no samples to attack", target);
    hf_mia_t *a = hf_calloc(1, sizeof *a);
    a->update = update;
    a->target = target;
    a->n = n;
    a->host = hf_privacy_host(x, target);
    *out = a;
    if (x->rank != a->host) return 0;
    if (a->update) a->view = hf_alloc_aligned((size_t)x->model.nparams * sizeof(float));
    int dim = x->train.dim;
    a->xin = hf_alloc_aligned((size_t)n * dim * sizeof(float));
    a->xout = hf_alloc_aligned((size_t)n * dim * sizeof(float));
    a->yin = hf_malloc((size_t)n * sizeof(int));
    a->yout = hf_malloc((size_t)n * sizeof(int));
    a->lin = hf_malloc((size_t)n * sizeof(float));
    a->lout = hf_malloc((size_t)n * sizeof(float));
    int *perm = hf_malloc((size_t)n * sizeof(int));
    for (int i = 0; i < n; i++) perm[i] = i;
    hf_gather_rows(x->train.x, x->train.y, dim, x->part.idx + x->part.off[target], perm, n, a->xin, a->yin);
    int *pick = hf_malloc((size_t)n * sizeof(int));
    hf_rng_t r;
    hf_rng_init(&r, x->p->seed, HF_RNG_PRIVACY, 0, 0);
    hf_rng_sample(&r, (int)x->test.n, n, pick);
    long *idx = hf_malloc((size_t)n * sizeof(long));
    for (int i = 0; i < n; i++) idx[i] = pick[i];
    hf_gather_rows(x->test.x, x->test.y, dim, idx, perm, n, a->xout, a->yout);
    free(idx); free(pick); free(perm);
    return 0;
}

/* per-sample losses of n rows, in fixed chunks (the same on any machine layout) */
static double losses(hf_run_t *x, const float *w, const float *xs, const int *ys, int n, float *l)
{
    double s = 0.0;
    for (int s0 = 0; s0 < n; s0 += HF_EVAL_CHUNK) {
        int B = HF_MIN(HF_EVAL_CHUNK, n - s0);
        hf_model_forward(&x->model, x->work, w, xs + (long)s0 * x->train.dim, ys + s0, B, NULL, l + s0);
    }
    for (int i = 0; i < n; i++) s += l[i];
    return s / n;
}

/* score both sets under the model w into the row */
static void attack(hf_mia_t *a, hf_run_t *x, const float *w, privacy_row_t *row)
{
    double t0 = hf_wtime();
    row->target = a->target;
    row->samples = a->n;
    row->loss_members = losses(x, w, a->xin, a->yin, a->n, a->lin);
    row->loss_nonmembers = losses(x, w, a->xout, a->yout, a->n, a->lout);
    hf_mia_figures(a->lin, a->n, a->lout, a->n, &row->auc, &row->balanced_accuracy, &row->tpr_at_1pct_fpr);
    row->attack_s = hf_wtime() - t0;
}

void hf_mia_update(hf_mia_t *a, hf_run_t *x, int round, int k, const float *delta)
{
    if (!a || !a->update || k != a->target || x->rank != a->host) return;
    const float *w = hf_privacy_view(x, delta, a->view);
    memset(&a->row, 0, sizeof a->row);
    a->row.round = round;
    a->row.observed = 1;
    attack(a, x, w, &a->row);
    a->pending = 1;
}

int hf_mia_round(hf_mia_t *a, hf_run_t *x, int round, int evaluated)
{
    if (!a) return 0;
    privacy_row_t row = {.round = -1};
    if (x->rank == a->host) {
        if (a->update && a->pending) row = a->row;
        else if (!a->update && evaluated) {
            row.round = round;
            attack(a, x, x->global, &row);
        }
        a->pending = 0;
    }
    return hf_privacy_publish(x, a->host, &row, sizeof row, "privacy",
                              "membership inference by a passive observer (privacy.attack)", privacy_cols);
}

int hf_privacy_publish(hf_run_t *x, int host, void *row, size_t size, const char *name, const char *what,
                       const hf_privacy_col_t *cols)
{
    MPI_Bcast(row, (int)size, MPI_BYTE, host, x->comm);
    int32_t round;
    memcpy(&round, row, sizeof round);
    if (x->rank != 0 || round < 0) return 0;
    int n = 0;
    while (cols[n].name) n++;
    hf_col_doc_t *docs = hf_calloc((size_t)n + 1, sizeof *docs);
    hid_t t = H5Tcreate(H5T_COMPOUND, size);
    for (int i = 0; i < n; i++) {
        docs[i] = (hf_col_doc_t){cols[i].name, cols[i].units, cols[i].doc};
        H5Tinsert(t, cols[i].name, cols[i].offset, cols[i].is_double ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT32);
    }
    int rc = hf_h5out_append_table(hf_h5out_file(x->h5), name, t, row, 1, what, docs);
    H5Tclose(t);
    free(docs);
    return rc;
}

void hf_mia_free(hf_mia_t *a)
{
    if (!a) return;
    free(a->view); free(a->xin); free(a->xout); free(a->yin); free(a->yout); free(a->lin); free(a->lout);
    free(a);
}
