/*
 * evaluate.h — chunked evaluation, the one copy every evaluator uses.  The
 * test set is cut into fixed chunks of HF_EVAL_CHUNK samples dealt to the
 * ranks round-robin; each rank sums its correct predictions and its losses in
 * 64-bit fixed point (HF_LOSS_SCALE), and the integer sums are reduced: the
 * figures do not depend on the rank count.
 */
#ifndef HF_EVALUATE_H
#define HF_EVALUATE_H
#include <mpi.h>
#include <stdint.h>
#include "nn.h"

#define HF_EVAL_CHUNK 250               /* test samples per evaluation chunk (fixed: determinism) */
#define HF_LOSS_SCALE 4294967296.0      /* 2^32: losses summed as 64-bit fixed point */

/* This rank's chunks (rank, rank + size, …) of the n test samples (tx: n × dim,
 * ty: labels) through model m with parameters w: adds the correct count to
 * sums[0] and the fixed-point loss to sums[1]; *t_kernel (may be NULL) += the
 * seconds in the forward kernel.  work must hold HF_EVAL_CHUNK samples. */
void hf_eval_share(const hf_model_t *m, hf_work_t *work, const float *w, const float *tx, const int *ty,
                   long n, int dim, int rank, int size, int64_t sums[2], double *t_kernel);
/* Accuracy and mean loss from reduced sums over n samples (NaN when n = 0). */
void hf_eval_figures(const int64_t sums[2], long n, double *acc, double *loss);

/* Summaries of a per-client evaluation (/rounds.client_acc_*) over the n
 * clients with samples[i] > 0: out[0] the mean of acc, out[1] Σ correct /
 * Σ samples, out[2] the 10th percentile by nearest rank (the ⌈0.1·m⌉-th
 * smallest of the m accuracies), out[3] the smallest; NaN when m = 0. */
void hf_ceval_summary(const double *acc, const int64_t *samples, const int64_t *correct, int n, double out[4]);

struct hf_run;
/* The global model on the whole test set (collective; model on every rank). */
void hf_eval_global(struct hf_run *x, double *acc, double *loss);
#endif
