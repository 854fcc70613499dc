/*
 * aia.c — the model-based attribute inference attack (aia.h).
 */
#include "aia.h"
#include "mia.h"
#include "run.h"
#include "evaluate.h"
#include "hf_util.h"
#include "checkpoint.h"
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int32_t round, target, observed, uploads, samples;
    double accuracy, auc, majority;
    double attack_s;
} aia_row_t;

struct hf_aia {
    int update;                 /* update, combined or reconstruct: the target's uploads; else the global model */
    int combined;               /* combined: each sample's scores summed over the uploads seen so far */
    int reconstruct;            /* reconstruct: the local optimum estimated from the last `window` uploads */
    int window;                 /* privacy.reconstruct_uploads */
    long P;
    unsigned char *hist;        /* reconstruct, on the host and rank 0 (checkpointed): int64 uploads seen,
                                 * then window slots of x (P floats) and window slots of x + Δ, a ring */
    int target, host, n, feature;
    int first, nhosted;         /* this rank's clients [first, first + nhosted) */
    void **sums;                /* combined: per hosted client, NULL or n + 1 doubles (checkpointed):
                                 * [0] the uploads observed, [1 + i] the sum of sample i's scores; only
                                 * the target's is ever allocated */
    float *view;                /* update: the model an eavesdropper rebuilds, x + Δ (P floats) */
    int pending;                /* update: a row is waiting for hf_aia_round */
    aia_row_t row;              /* that row */
    float *xs;                  /* the attacked samples: n rows */
    int *ys;
    float *score;               /* their scores this round */
    float *s1, *s0;             /* scores of the samples whose attribute is 1, 0 (AUC) */
};

#define COL(name, units, doc, type) {#name, units, doc, offsetof(aia_row_t, name), type}
static const hf_privacy_col_t aia_cols[] = {
    COL(round, "", "round number", 0),
    COL(target, "", "the attacked client", 0),
    COL(observed, "", "the model attacked: 0 the global model, 1 the target's upload (x + its update), 2 every "
        "upload of the target so far (scores summed), 3 the target's local optimum reconstructed from its last "
        "uploads", 0),
    COL(uploads, "", "uploads of the target combined into the scores or the reconstruction (0: the global model)", 0),
    COL(samples, "samples", "samples whose sensitive attribute is inferred", 0),
    COL(accuracy, "1", "fraction of the samples whose attribute the attack guesses right (lower-loss value)", 1),
    COL(auc, "1", "area under the ROC curve of the loss difference as a score for attribute 1 (0.5 = chance)", 1),
    COL(majority, "1", "accuracy of always guessing the samples' more frequent attribute value (the baseline)", 1),
    COL(attack_s, "s", "measured: wall time of the attack on the hosting rank (not deterministic)", 1),
    {NULL, NULL, NULL, 0, 0}};
#undef COL

/* per-sample losses of n rows under params, in chunks */
static void chunk_losses(const hf_model_t *m, hf_work_t *w, const float *params, const float *xs, const int *ys,
                         int n, int chunk, float *l)
{
    for (int s0 = 0; s0 < n; s0 += chunk)
        hf_model_forward(m, w, params, xs + (long)s0 * m->in_dim, ys + s0, HF_MIN(chunk, n - s0), NULL, l + s0);
}

/* guesses (1 when score < 0) equal to the rows' own feature j */
static int count_right(const float *score, const float *xs, int n, int dim, int j)
{
    int right = 0;
    for (int i = 0; i < n; i++) right += (score[i] < 0.0f) == (xs[(long)i * dim + j] == 1.0f);
    return right;
}

int hf_aia_infer(const hf_model_t *m, hf_work_t *w, const float *params, const float *xs, const int *ys, int n,
                 int j, int chunk, float *score)
{
    int dim = m->in_dim;
    float *xv = hf_alloc_aligned((size_t)HF_MAX(n, 1) * dim * sizeof(float));
    float *l1 = hf_malloc((size_t)HF_MAX(n, 1) * sizeof(float));
    memcpy(xv, xs, (size_t)n * dim * sizeof(float));
    for (int i = 0; i < n; i++) xv[(long)i * dim + j] = 1.0f;
    chunk_losses(m, w, params, xv, ys, n, chunk, l1);
    for (int i = 0; i < n; i++) xv[(long)i * dim + j] = 0.0f;
    chunk_losses(m, w, params, xv, ys, n, chunk, score);
    for (int i = 0; i < n; i++) score[i] = l1[i] - score[i];
    free(xv);
    free(l1);
    return count_right(score, xs, n, dim, j);
}

int hf_aia_accumulate(double *sum, float *score, const float *xs, int n, int dim, int j)
{
    for (int i = 0; i < n; i++) {
        sum[i] += (double)score[i];
        score[i] = (float)sum[i];
    }
    return count_right(score, xs, n, dim, j);
}

/* Solve (M + ridge I) a = 1 by Cholesky (T x T, row-major; M is overwritten). */
static void solve_ones(double *M, int T, double *a)
{
    for (int j = 0; j < T; j++) {
        for (int k = 0; k < j; k++) M[j * T + j] -= M[j * T + k] * M[j * T + k];
        M[j * T + j] = sqrt(M[j * T + j]);
        for (int i = j + 1; i < T; i++) {
            for (int k = 0; k < j; k++) M[i * T + j] -= M[i * T + k] * M[j * T + k];
            M[i * T + j] /= M[j * T + j];
        }
    }
    for (int i = 0; i < T; i++) {  /* L y = 1, then L^T a = y */
        double v = 1.0;
        for (int k = 0; k < i; k++) v -= M[i * T + k] * a[k];
        a[i] = v / M[i * T + i];
    }
    for (int i = T - 1; i >= 0; i--) {
        double v = a[i];
        for (int k = i + 1; k < T; k++) v -= M[k * T + i] * a[k];
        a[i] = v / M[i * T + i];
    }
}

void hf_aia_fixed_point(const float *const *xs, const float *const *ups, int T, long P, float *out, double *alpha)
{
    double *M = hf_calloc((size_t)T * T, sizeof(double)), trace = 0.0;
    for (int i = 0; i < T; i++)
        for (int j = 0; j <= i; j++) {
            double s = 0.0;
            for (long p = 0; p < P; p++)
                s += ((double)xs[i][p] - ups[i][p]) * ((double)xs[j][p] - ups[j][p]);
            M[i * T + j] = M[j * T + i] = s;
        }
    for (int i = 0; i < T; i++) trace += M[i * T + i];
    if (trace == 0.0) {  /* every upload equals its start: each is a fixed point, take the latest */
        for (int i = 0; i < T; i++) alpha[i] = i == T - 1;
    } else {
        for (int i = 0; i < T; i++) M[i * T + i] += HF_AIA_RIDGE * trace / T;
        solve_ones(M, T, alpha);
        double sum = 0.0;
        for (int i = 0; i < T; i++) sum += alpha[i];
        for (int i = 0; i < T; i++) alpha[i] /= sum;
    }
    for (long p = 0; p < P; p++) {
        double v = 0.0;
        for (int i = 0; i < T; i++) v += alpha[i] * ups[i][p];
        out[p] = (float)v;
    }
    free(M);
}

/* reconstruct: the history's upload count and its slot of the t-th upload (0-based), x or x + Δ */
static int64_t *hist_count(hf_aia_t *a) { return (int64_t *)a->hist; }
static float *hist_slot(hf_aia_t *a, int64_t t, int up)
{
    return (float *)(a->hist + sizeof(int64_t)) + ((long)up * a->window + t % a->window) * a->P;
}
static size_t hist_bytes(const hf_aia_t *a) { return sizeof(int64_t) + 2 * (size_t)a->window * a->P * sizeof(float); }

/* reconstruct: record the pair (x, x + Δ) of an upload */
static void hist_push(hf_aia_t *a, const float *x, const float *up)
{
    int64_t t = (*hist_count(a))++;
    memcpy(hist_slot(a, t, 0), x, (size_t)a->P * sizeof(float));
    memcpy(hist_slot(a, t, 1), up, (size_t)a->P * sizeof(float));
}

/* reconstruct: the local optimum from the last uploads into a->view; how many were used */
static int reconstruct(hf_aia_t *a)
{
    int64_t n = *hist_count(a);
    int T = (int)HF_MIN(n, (int64_t)a->window);
    const float **xs = hf_malloc((size_t)T * sizeof(float *)), **ups = hf_malloc((size_t)T * sizeof(float *));
    double *alpha = hf_malloc((size_t)T * sizeof(double));
    for (int i = 0; i < T; i++) {  /* oldest first */
        xs[i] = hist_slot(a, n - T + i, 0);
        ups[i] = hist_slot(a, n - T + i, 1);
    }
    hf_aia_fixed_point(xs, ups, T, a->P, a->view, alpha);
    free(xs); free(ups); free(alpha);
    return T;
}

/* Keys and their cross-checks; the attacked sample count into *n. */
static int check_keys(hf_run_t *x, int update, int *n)
{
    const hf_conf_t *c = x->o->conf;
    if (!strcmp(hf_conf_get(c, "federation.mode"), "async"))
        return hf_key_err(c, "privacy.attribute_attack", "not available with federation.mode = async");
    if (update && ((x->strat.st->train && !x->strat.st->reports_upload) || x->p->decentralized))
        return hf_key_err(c, "privacy.attribute_attack", "%s observes the engine's client uploads: not "
                          "available with federation.strategy = %s%s", hf_conf_get(c, "privacy.attribute_attack"),
                          x->strat.st->name,
                          x->p->decentralized ? " in decentralized mode" : "");
    int target = (int)hf_conf_int(c, "privacy.target"), j = (int)hf_conf_int(c, "privacy.attribute_feature");
    if (target >= x->p->clients)
        return hf_key_err(c, "privacy.target", "client %d does not exist (federation.clients = %d)", target,
                          x->p->clients);
    if (j >= x->train.dim)
        return hf_key_err(c, "privacy.attribute_feature", "feature %d does not exist (the data have %d)", j,
                          x->train.dim);
    *n = (int)HF_MIN((long)hf_conf_int(c, "privacy.samples"), hf_run_nk(x, target));
    if (*n <= 0) return hf_key_err(c, "privacy.target", "client %d holds no samples to attack", target);
    for (int i = 0; i < *n; i++) {
        long row = x->part.idx[x->part.off[target] + i];
        float v = x->train.x[row * x->train.dim + j];
        if (v != 0.0f && v != 1.0f)
            return hf_key_err(c, "privacy.attribute_feature", "client %d's sample %d has feature %d = %g: a "
                              "sensitive attribute must be 0 or 1 (data.synthetic_sensitive = yes makes feature 0 "
                              "one)", target, i, j, (double)v);
    }
    return 0;
}

int hf_aia_new(hf_run_t *x, hf_aia_t **out)
{
    const hf_conf_t *c = x->o->conf;
    *out = NULL;
    const char *mode = hf_conf_get(c, "privacy.attribute_attack");
    if (!strcmp(mode, "none")) return 0;
    int n = 0, combined = !strcmp(mode, "combined"), recon = !strcmp(mode, "reconstruct");
    int update = combined || recon || !strcmp(mode, "update");
    int rc = check_keys(x, update, &n);
    if (rc) return rc;
    hf_aia_t *a = hf_calloc(1, sizeof *a);
    a->update = update;
    a->combined = combined;
    a->reconstruct = recon;
    a->window = (int)hf_conf_int(c, "privacy.reconstruct_uploads");
    a->P = x->model.nparams;
    a->first = x->first_client;
    a->nhosted = x->last_client - x->first_client;
    if (combined) a->sums = hf_calloc((size_t)HF_MAX(a->nhosted, 1), sizeof(void *));
    a->target = (int)hf_conf_int(c, "privacy.target");
    a->feature = (int)hf_conf_int(c, "privacy.attribute_feature");
    a->n = n;
    a->host = hf_privacy_host(x, a->target);
    *out = a;
    if (recon && (x->rank == a->host || x->rank == 0)) a->hist = hf_calloc(hist_bytes(a), 1);
    if (x->rank != a->host) return 0;
    if (a->update) a->view = hf_alloc_aligned((size_t)x->model.nparams * sizeof(float));
    int dim = x->train.dim;
    a->xs = hf_alloc_aligned((size_t)n * dim * sizeof(float));
    a->ys = hf_malloc((size_t)n * sizeof(int));
    a->score = hf_malloc((size_t)n * sizeof(float));
    a->s1 = hf_malloc((size_t)n * sizeof(float));
    a->s0 = hf_malloc((size_t)n * sizeof(float));
    int *perm = hf_malloc((size_t)n * sizeof(int));
    for (int i = 0; i < n; i++) perm[i] = i;
    hf_gather_rows(x->train.x, x->train.y, dim, x->part.idx + x->part.off[a->target], perm, n, a->xs, a->ys);
    free(perm);
    return 0;
}

/* infer every sample's attribute under the model w into the row */
static void attack(hf_aia_t *a, hf_run_t *x, const float *w, aia_row_t *row)
{
    double t0 = hf_wtime();
    int dim = x->train.dim, n1 = 0, n0 = 0, right;
    right = hf_aia_infer(&x->model, x->work, w, a->xs, a->ys, a->n, a->feature, HF_EVAL_CHUNK, a->score);
    if (a->combined) {  /* add this upload's scores to the earlier ones' */
        double **sum = (double **)&a->sums[a->target - a->first];
        if (!*sum) *sum = hf_calloc((size_t)a->n + 1, sizeof(double));
        row->uploads = (int32_t)++(*sum)[0];
        right = hf_aia_accumulate(*sum + 1, a->score, a->xs, a->n, dim, a->feature);
    }
    for (int i = 0; i < a->n; i++) {
        if (a->xs[(long)i * dim + a->feature] == 1.0f) a->s1[n1++] = a->score[i];
        else a->s0[n0++] = a->score[i];
    }
    double bacc, tpr;
    row->target = a->target;
    row->samples = a->n;
    row->accuracy = (double)right / a->n;
    hf_mia_figures(a->s1, n1, a->s0, n0, &row->auc, &bacc, &tpr);  /* low score: attribute 1 */
    row->majority = (double)HF_MAX(n1, n0) / a->n;
    row->attack_s = hf_wtime() - t0;
}

void hf_aia_update(hf_aia_t *a, hf_run_t *x, int round, int k, const float *delta)
{
    if (!a || !a->update || k != a->target || x->rank != a->host) return;
    memset(&a->row, 0, sizeof a->row);
    a->row.round = round;
    a->row.observed = a->combined ? 2 : a->reconstruct ? 3 : 1;
    a->row.uploads = 1;
    const float *view = hf_privacy_view(x, delta, a->view);
    if (a->reconstruct) {  /* the pair (x, x + Δ) joins the history; attack its estimated fixed point */
        hist_push(a, x->global, view);
        a->row.uploads = reconstruct(a);
        view = a->view;
    }
    attack(a, x, view, &a->row);
    a->pending = 1;
}

int hf_aia_round(hf_aia_t *a, hf_run_t *x, int round, int evaluated)
{
    if (!a) return 0;
    aia_row_t row = {.round = -1};
    if (x->rank == a->host) {
        if (a->update && a->pending) row = a->row;
        else if (!a->update && evaluated) {
            row.round = round;
            attack(a, x, x->global, &row);
        }
        a->pending = 0;
    }
    int rc = hf_privacy_publish(x, a->host, &row, sizeof row, "attribute_inference",
                                "attribute inference by a passive observer (privacy.attribute_attack)", aia_cols);
    if (a->reconstruct && row.round >= 0 && a->host != 0 && (x->rank == a->host || x->rank == 0)) {
        long P = a->P;  /* rank 0's copy of the history, for the checkpoint */
        int64_t t = *hist_count(a);
        if (x->rank == a->host) {
            MPI_Send(hist_slot(a, t - 1, 0), (int)P, MPI_FLOAT, 0, 0, x->comm);
            MPI_Send(hist_slot(a, t - 1, 1), (int)P, MPI_FLOAT, 0, 1, x->comm);
        } else {
            MPI_Recv(hist_slot(a, t, 0), (int)P, MPI_FLOAT, a->host, 0, x->comm, MPI_STATUS_IGNORE);
            MPI_Recv(hist_slot(a, t, 1), (int)P, MPI_FLOAT, a->host, 1, x->comm, MPI_STATUS_IGNORE);
            (*hist_count(a))++;
        }
    }
    return rc;
}

void hf_aia_ckpt_register(hf_aia_t *a)
{
    if (a && a->combined) hf_ckpt_register_client_ptrs("aia_score_sums", a->sums, ((size_t)a->n + 1) * sizeof(double));
    if (a && a->reconstruct) hf_ckpt_register("aia_history", a->hist, hist_bytes(a));  /* NULL off host and 0 */
}

void hf_aia_free(hf_aia_t *a)
{
    if (!a) return;
    for (int i = 0; a->sums && i < a->nhosted; i++) free(a->sums[i]);
    free(a->sums);
    free(a->hist); free(a->view); free(a->xs); free(a->ys); free(a->score); free(a->s1); free(a->s0);
    free(a);
}
