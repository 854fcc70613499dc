/*
 * client_eval.c — per-client evaluation (data.client_test_fraction): the
 * measurement personalized federated learning is judged by.
 *
 * Setup takes a test split out of every client's samples (hf_partition_holdout,
 * kernels/partition.c: ⌊f·n_k⌋ of them, at most n_k − 1, drawn from the stream
 * (seed, HF_RNG_CLIENT_TEST, 0, k), so the split depends on neither the rank
 * count nor the other clients); the client trains on the rest.  With
 * data.client_test_natural the split is the client's user's samples in the
 * data set's own test file instead (data_load.c).
 *
 * Every eval_every rounds (and after the last) each rank evaluates the clients
 * it hosts — all of them, selected this round or not — with the client's own
 * model: the strategy's predictor (personal_eval hook: FedEM's mixture,
 * kNN-Per), else its personal model (personal_model hook: Ditto), the
 * client's model in decentralized mode, else the global model; after
 * personal.finetune_steps plain SGD steps on the client's training samples
 * when set (shuffles keyed (seed, HF_RNG_PERSONAL, round, k); nothing kept).
 * The forward passes run at the evaluation thread count (the same on every
 * rank) in HF_EVAL_CHUNK-sample chunks with fixed-point loss sums, exactly as
 * the global evaluation (evaluate.c), so every figure is bitwise the same for
 * any rank count.  The rows go to rank 0 in client order (block placement:
 * rank order is client order), which appends them to /client_eval and puts
 * the round's summaries in /rounds (hf_ceval_summary, docs/results.md).
 */
#include "evaluate.h"
#include "hf_util.h"
#include "run.h"
#include "stream.h"
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One /client_eval row; `correct` stays in memory (the weighted mean's numerator). */
typedef struct {
    int32_t round, client;
    int64_t samples, correct;
    double accuracy, loss;
} ceval_rec_t;

static const hf_col_doc_t ceval_cols[] = {
    {"round", "", "round number (evaluated rounds only)"},
    {"client", "", "client id"},
    {"samples", "samples", "samples of the client's test split"},
    {"accuracy", "1", "accuracy of the client's own model on its test split, fraction (NaN: no samples)"},
    {"loss", "nats", "its mean cross-entropy on the split (NaN: no samples)"},
    {NULL, NULL, NULL}};

void hf_ceval_setup(hf_run_t *x)
{
    const hf_params_t *p = x->p;
    if (p->client_test_fraction <= 0 && x->ctest.nclients == 0) return;
    x->ce_data = &x->train;
    if (p->client_test_fraction > 0) hf_partition_holdout(&x->part, p->client_test_fraction, p->seed, &x->ctest);
    else x->ce_data = &x->test;  /* data.client_test_natural: the test file's users (data_load.c) */
    x->ce_x = hf_alloc_aligned((size_t)HF_EVAL_CHUNK * (size_t)x->train.dim * sizeof(float));
    x->ce_y = hf_calloc(HF_EVAL_CHUNK, sizeof(int));
    x->ce_perm = hf_calloc(HF_EVAL_CHUNK, sizeof(int));
    for (int i = 0; i < HF_EVAL_CHUNK; i++) x->ce_perm[i] = i;
}

/* Client k's own model (see the head of the file). */
static const float *client_model(hf_run_t *x, int k, int round)
{
    const float *m = NULL;
    if (x->p->decentralized) m = hf_dec_model(&x->dec, k);
    else if (x->strat.st->personal_model) m = x->strat.st->personal_model(&x->strat, k);
    if (!m) m = x->global;
    if (x->p->finetune_steps > 0) {
        openblas_set_num_threads(x->p->devs.cls[hf_run_class(x, k)].cores);  /* as its training */
        m = hf_client_finetune(x, k, round, m, x->p->finetune_steps);
        openblas_set_num_threads(x->eval_threads);
    }
    return m;
}

/* Client k's row: its model on its split, chunk by chunk. */
static ceval_rec_t eval_client(hf_run_t *x, int k, int round)
{
    const hf_partition_t *ct = &x->ctest;
    long lo, n;
    hf_stream_test_window(x, k, &lo, &n);  /* the whole split without a data stream */
    ceval_rec_t r = {.round = round, .client = k, .samples = n, .accuracy = NAN, .loss = NAN};
    if (n == 0) return r;
    hf_strat_t *st = &x->strat;
    int pred = st->st->personal_eval && !x->p->decentralized;  /* a predictor, not one model */
    const float *w = pred ? NULL : client_model(x, k, round);
    int64_t sums[2] = {0, 0};
    int dim = x->train.dim;
    for (long s0 = 0; s0 < n; s0 += HF_EVAL_CHUNK) {
        int B = (int)HF_MIN((long)HF_EVAL_CHUNK, n - s0);
        hf_gather_rows(x->ce_data->x, x->ce_data->y, dim, ct->idx + ct->off[k] + lo + s0, x->ce_perm, B, x->ce_x, x->ce_y);
        if (pred) {
            double tk = hf_wtime();
            st->st->personal_eval(st, k, x->ce_x, x->ce_y, B, sums);
            x->t_kernel += hf_wtime() - tk;
        } else
            hf_eval_share(&x->model, x->work, w, x->ce_x, x->ce_y, B, dim, 0, 1, sums, &x->t_kernel);
    }
    r.correct = sums[0];
    hf_eval_figures(sums, n, &r.accuracy, &r.loss);
    return r;
}

static int cmp_double(const void *a, const void *b)
{
    double u = *(const double *)a, v = *(const double *)b;
    return (u > v) - (u < v);
}

void hf_ceval_summary(const double *acc, const int64_t *samples, const int64_t *correct, int n, double out[4])
{
    double *v = hf_malloc((size_t)HF_MAX(n, 1) * sizeof(double));
    int m = 0;
    int64_t ns = 0, nc = 0;
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        if (samples[i] <= 0) continue;
        v[m++] = acc[i];
        sum += acc[i];
        ns += samples[i];
        nc += correct[i];
    }
    out[0] = out[1] = out[2] = out[3] = NAN;
    if (m > 0) {
        qsort(v, (size_t)m, sizeof(double), cmp_double);
        long r = (long)ceil(0.1 * (double)m);  /* nearest rank, 1-based */
        out[0] = sum / m;
        out[1] = (double)nc / (double)ns;
        out[2] = v[HF_MAX(r, 1) - 1];
        out[3] = v[0];
    }
    free(v);
}

/* Rank 0: the rows to /client_eval, the summaries to rr. */
static int ceval_write(hf_run_t *x, const ceval_rec_t *rows, int n, hf_round_rec_t *rr)
{
    double *acc = hf_malloc((size_t)HF_MAX(n, 1) * sizeof(double));
    int64_t *ns = hf_malloc((size_t)HF_MAX(n, 1) * sizeof(int64_t)), *nc = hf_malloc((size_t)HF_MAX(n, 1) * sizeof(int64_t));
    for (int i = 0; i < n; i++) { acc[i] = rows[i].accuracy; ns[i] = rows[i].samples; nc[i] = rows[i].correct; }
    double s[4];
    hf_ceval_summary(acc, ns, nc, n, s);
    rr->client_acc_mean = s[0];
    rr->client_acc_wmean = s[1];
    rr->client_acc_p10 = s[2];
    rr->client_acc_min = s[3];
    free(acc); free(ns); free(nc);
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(ceval_rec_t));
    H5Tinsert(t, "round", HOFFSET(ceval_rec_t, round), H5T_NATIVE_INT32);
    H5Tinsert(t, "client", HOFFSET(ceval_rec_t, client), H5T_NATIVE_INT32);
    H5Tinsert(t, "samples", HOFFSET(ceval_rec_t, samples), H5T_NATIVE_INT64);
    H5Tinsert(t, "accuracy", HOFFSET(ceval_rec_t, accuracy), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "loss", HOFFSET(ceval_rec_t, loss), H5T_NATIVE_DOUBLE);
    int rc = hf_h5out_append_table(hf_h5out_file(x->h5), "client_eval", t, rows, n,
                                   "per-client evaluation: each client's own model on its test split "
                                   "(data.client_test_fraction or data.client_test_natural), one row per "
                                   "(evaluated round, client) "
                                   "(docs/results.md)", ceval_cols);
    H5Tclose(t);
    return rc;
}

int hf_ceval_round(hf_run_t *x, int round, hf_round_rec_t *rr)
{
    int nloc = x->last_client - x->first_client, N = x->ctest.nclients;
    ceval_rec_t *loc = hf_calloc((size_t)HF_MAX(nloc, 1), sizeof *loc);
    for (int k = x->first_client; k < x->last_client; k++) loc[k - x->first_client] = eval_client(x, k, round);
    int nb = nloc * (int)sizeof *loc;
    int *counts = x->rank == 0 ? hf_calloc((size_t)x->size, sizeof(int)) : NULL;
    int *displ = x->rank == 0 ? hf_calloc((size_t)x->size, sizeof(int)) : NULL;
    ceval_rec_t *all = x->rank == 0 ? hf_calloc((size_t)HF_MAX(N, 1), sizeof *all) : NULL;
    MPI_Gather(&nb, 1, MPI_INT, counts, 1, MPI_INT, 0, x->comm);
    if (x->rank == 0)
        for (int r = 0, d = 0; r < x->size; r++) { displ[r] = d; d += counts[r]; }
    MPI_Gatherv(loc, nb, MPI_BYTE, all, counts, displ, MPI_BYTE, 0, x->comm);
    int rc = x->rank == 0 ? ceval_write(x, all, N, rr) : 0;
    free(loc); free(counts); free(displ); free(all);
    return rc;
}
