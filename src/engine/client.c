/*
 * client.c — what a client does in a round by default: local SGD from a start
 * model over its own samples (plus data received from an offline client), and
 * the layout of this rank's clients' rows that makes the minibatch gather
 * cheap.  Strategies with their own training (strategy.h, train hook) reuse
 * none of it except the shuffles' keys.
 */
#include "run.h"
#include "hf_util.h"
#include "rng.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Copy this rank's clients' rows into one client-major block of bytes (x->cx8).
 * Training then picks each client's minibatch rows from one contiguous region,
 * a quarter the size as bytes, instead of random rows of the whole set: the
 * minibatch gather took 1.3 ms of a 34 ms quickstart round, now 0.45 ms. */
void hf_client_rows_build(hf_run_t *x)
{
    const hf_dataset_t *d = &x->train;
    int nc = x->last_client - x->first_client, dim = d->dim;
    if (x->od) return;  /* no rows stored (data_ondemand.c) */
    long rows = x->part.off[x->last_client] - x->part.off[x->first_client];
    if (nc <= 0 || rows <= 0 || dim <= 0 || x->stream) return;  /* a stream's rows change every round */
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
HF_CLONES static void gather_client_rows(const hf_run_t *x, int k, const int *perm, int B, float *xb, int *yb)
{
    int dim = x->train.dim;
    long r0 = x->coff[k - x->first_client];
    for (int i = 0; i < B; i++) {
        long s = r0 + perm[i];
        bytes_to_float(xb + (size_t)i * dim, x->cx8 + (size_t)s * dim, dim, 1.0f / 255.0f);
        yb[i] = x->cy[s];
    }
}

/* Ask for rows idx[perm[0..B)] of dx (dim floats each): memory fetches them while
 * the kernels run on the current batch. */
static void prefetch_rows(const float *dx, int dim, const long *idx, const int *perm, int B)
{
    size_t row = (size_t)dim * sizeof(float);
    for (int i = 0; i < B; i++) {
        const char *r = (const char *)(dx + (size_t)idx[perm[i]] * dim);
        for (size_t o = 0; o < row; o += 64) __builtin_prefetch(r + o, 0, 1);
    }
}

/* The same for rows perm[0..B) of client k's byte block.  (A single function for
 * both layouts, row address computed from a base and a row size, measured 0.3 ms
 * a quickstart round slower here; kept apart.) */
static void prefetch_client_rows(const hf_run_t *x, int k, const int *perm, int B)
{
    long r0 = x->coff[k - x->first_client];
    size_t rb = (size_t)x->train.dim;
    for (int i = 0; i < B; i++)
        for (size_t o = 0; o < rb; o += 64) __builtin_prefetch(x->cx8 + (size_t)(r0 + perm[i]) * rb + o, 0, 1);
}

/* data.augment (run.h): crop + flip of the minibatch x->xb, rows
 * idx[perm[0..B)] of client k, keyed (seed, round t, k, sample index in the
 * training set).  No-op without data.augment. */
void hf_client_augment(hf_run_t *x, int k, int t, const long *idx, const int *perm, int B)
{
    if (!x->p->augment) return;
    for (int i = 0; i < B; i++) x->aug_ids[i] = idx[perm[i]];
    hf_augment_crop_flip(x->xb, B, x->train.c, x->train.h, x->train.w, 4, x->p->seed, t, k, x->aug_ids,
                         x->aug_scratch);
}

/* Local SGD (run.h): the shuffle of every epoch from r, minibatches of the
 * client's rows, the fused SGD step (or gradient, strategy hook, step). */
hf_local_t hf_client_sgd(hf_run_t *x, int k, const float *start, const hf_cplan_t *cp, hf_rng_t *r,
                         const hf_sgd_t *sgd)
{
    const hf_params_t *p = x->p;
    hf_local_t res = {0};
    long nk;
    const long *idx;
    const float *dx = x->train.x;
    const int *dy = x->train.y;
    int block = x->coff != NULL;  /* its rows from this rank's client-major copy */
    if (x->od) hf_od_client_rows(x, k, &nk, &dx, &dy, &idx);  /* generated now (data_ondemand.c) */
    else {
        nk = x->part.off[k + 1] - x->part.off[k];
        idx = x->part.idx + x->part.off[k];
    }
    if (x->tr_idx && x->tr_client == k) { nk = x->tr_n; idx = x->tr_idx; block = 0; }  /* + received data */
    double t0 = hf_wtime();
    long P = x->model.nparams;
    memcpy(x->local, start, (size_t)P * sizeof(float));
    const hf_strategy_t *st = x->strat.st;
    hf_sgd_t opt = sgd ? *sgd : (hf_sgd_t){p->lr, p->momentum, p->weight_decay, p->clip};
    if (opt.momentum > 0) memset(x->mom, 0, (size_t)P * sizeof(float));
    double loss_sum = 0.0;
    long seen = 0;
    /* energy sample strategy: each epoch over the first ne of a fresh permutation */
    long ne = x->train_sample > 0 && x->train_sample < nk ? x->train_sample : nk;
    for (int e = 0; e < cp->epochs && nk > 0; e++) {
        hf_rng_permutation(r, (int)nk, x->iperm);
        for (long b0 = 0; b0 < ne && res.steps < cp->steps; b0 += p->batch_size) {
            int B = (int)HF_MIN((long)p->batch_size, ne - b0);
            /* this batch's rows, then ask for the next batch's (measured: half the
             * gather time with the client's byte rows) */
            int Bn = (int)HF_MIN((long)p->batch_size, ne - b0 - B);
            if (block) {
                gather_client_rows(x, k, x->iperm + b0, B, x->xb, x->yb);
                prefetch_client_rows(x, k, x->iperm + b0 + B, Bn);
            } else {
                hf_gather_rows(dx, dy, x->train.dim, idx, x->iperm + b0, B, x->xb, x->yb);
                prefetch_rows(dx, x->train.dim, idx, x->iperm + b0 + B, Bn);
            }
            if (x->sample_w) {  /* weighted loss (FedEM): the batch's weights to the kernels */
                for (int b = 0; b < B; b++) x->wb[b] = x->sample_w[x->iperm[b0 + b]];
                hf_work_sample_weights(x->work, x->wb);
            }
            hf_client_augment(x, k, x->round, idx, x->iperm + b0, B);
            double tk = hf_wtime();
            float l;
            if (x->strat.grad_active) {  /* gradient, strategy hook, then the step */
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
    hf_work_sample_weights(x->work, NULL);
    res.loss = seen ? loss_sum / (double)seen : NAN;
    res.measured = hf_wtime() - t0;
    return res;
}

/* Local training (run.h): SGD with the shuffles of (seed, round t, client k),
 * then the upload. */
hf_local_t hf_client_train(hf_run_t *x, int k, int t, const float *start, const hf_cplan_t *cp, int want_delta)
{
    double t0 = hf_wtime();
    long P = x->model.nparams;
    hf_rng_t r;
    hf_rng_init(&r, x->p->seed, HF_RNG_SHUFFLE, (uint64_t)t, (uint64_t)k);
    x->round = t;
    hf_local_t res = hf_client_sgd(x, k, start, cp, &r, NULL);
    const hf_strategy_t *st = x->strat.st;
    if (st->client_upload) st->client_upload(&x->strat, k, cp, x->local, start, x->delta);
    else if (want_delta) for (long j = 0; j < P; j++) x->delta[j] = x->local[j] - start[j];
    res.measured = hf_wtime() - t0;
    return res;
}

/* Fine-tuning before the per-client evaluation (run.h): plain SGD, no
 * strategy hook, shuffles from (seed, HF_RNG_PERSONAL, round, client). */
const float *hf_client_finetune(hf_run_t *x, int k, int round, const float *start, int steps)
{
    long nk = hf_run_nk(x, k), B = x->p->batch_size, nb = (nk + B - 1) / B;
    hf_cplan_t cp = {.client = k, .kept = 1, .epochs = nb > 0 ? (int)((steps + nb - 1) / nb) : 0, .steps = steps};
    hf_rng_t r;
    hf_rng_init(&r, x->p->seed, HF_RNG_PERSONAL, (uint64_t)round, (uint64_t)k);
    x->round = round;
    int hook = x->strat.grad_active;
    long sample = x->train_sample;
    x->strat.grad_active = 0;
    x->train_sample = 0;
    hf_client_sgd(x, k, start, &cp, &r, NULL);
    x->strat.grad_active = hook;
    x->train_sample = sample;
    return x->local;
}

