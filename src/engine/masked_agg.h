/*
 * masked_agg.h — masked aggregation: the one mechanism every width-
 * heterogeneous strategy (HeteroFL, FjORD) aggregates with.
 *
 * Per coordinate j:  x_j ← x_j + S_j / C_j,  S_j = Σ_k w_k Δ_k,j,
 * C_j = Σ_k w_k [client k covers j]   (coordinates with C_j = 0 keep x_j).
 * Each client's narrow update is scattered into a full-size buffer that is
 * zero outside its slice and handed to agg.c unchanged (hf_agg_add), so S is
 * the exact, order-independent fixed-point sum of FedAvg.  The coverage C is
 * a pure function of the round plan (widths, kept set, weights, clients'
 * label sets), which every rank knows: it is computed locally in plan order
 * (double sums of the weights, no communication), identically everywhere.
 * The division by C_j is agg.c's own result(α = 1/C) for each distinct value
 * of C, so with every client at full width (one value, C = Σ w_k = FedAvg's
 * divisor) the result is bit for bit FedAvg's hf_agg_apply(1/Σ n_k).
 */
#ifndef HF_MASKED_AGG_H
#define HF_MASKED_AGG_H
#include "agg.h"
#include "nn.h"

typedef struct {
    long P;                  /* full model parameters */
    double *cov;             /* coverage C_j (P doubles) */
    float *tmp;              /* scratch: agg result at one scale */
    double *vals;            /* scratch: distinct coverage values */
    long ndistinct;          /* distinct positive values in the last emit (statistics) */
} hf_masked_t;

hf_masked_t *hf_masked_new(long P);
void hf_masked_free(hf_masked_t *a);
/* Start a round: C = 0. */
void hf_masked_begin(hf_masked_t *a);
/* C_j += w on every coordinate of model m covered by sub-model sub (slice.h);
 * classes: HeteroFL's label split (NULL: all classifier rows). */
void hf_masked_cover(hf_masked_t *a, const hf_model_t *m, const hf_model_t *sub, double w,
                     const unsigned char *classes);
/* After hf_agg_reduce(agg); call it only on ranks holding the result (rank 0,
 * or every rank with the allreduce topology):
 * add = 1: x_j += S_j / C_j where C_j > 0;  add = 0: x_j = S_j / C_j, 0 where C_j = 0. */
void hf_masked_emit(hf_masked_t *a, hf_agg_t *agg, float *x, int add);
#endif
