/*
 * evaluate.c — chunked, rank-count-independent evaluation (see evaluate.h).
 */
#include "evaluate.h"
#include "hf_util.h"
#include "run.h"
#include <math.h>

void hf_eval_share(const hf_model_t *m, hf_work_t *work, const float *w, const float *tx, const int *ty,
                   long n, int dim, int rank, int size, int64_t sums[2], double *t_kernel)
{
    long nchunks = (n + HF_EVAL_CHUNK - 1) / HF_EVAL_CHUNK;
    float lbuf[HF_EVAL_CHUNK];
    for (long ch = rank; ch < nchunks; ch += size) {
        long s0 = ch * HF_EVAL_CHUNK;
        int B = (int)HF_MIN((long)HF_EVAL_CHUNK, n - s0);
        double tk = hf_wtime();
        sums[0] += hf_model_forward(m, work, w, tx + s0 * dim, ty + s0, B, NULL, lbuf);
        if (t_kernel) *t_kernel += hf_wtime() - tk;
        for (int i = 0; i < B; i++) sums[1] += (int64_t)llrint((double)lbuf[i] * HF_LOSS_SCALE);
    }
}

void hf_eval_figures(const int64_t sums[2], long n, double *acc, double *loss)
{
    *acc = n ? (double)sums[0] / (double)n : NAN;
    *loss = n ? (double)sums[1] / HF_LOSS_SCALE / (double)n : NAN;
}

void hf_eval_global(hf_run_t *x, double *acc, double *loss)
{
    int64_t loc[2] = {0, 0}, tot[2];
    hf_model_norm_stats(&x->model, x->work, x->global, x->norm_x, x->norm_n, x->p->batch_size);
    hf_eval_share(&x->model, x->work, x->global, x->test.x, x->test.y, x->test.n, x->test.dim, x->rank,
                  x->size, loc, &x->t_kernel);
    MPI_Allreduce(loc, tot, 2, MPI_INT64_T, MPI_SUM, x->comm);
    hf_eval_figures(tot, x->test.n, acc, loss);
}
