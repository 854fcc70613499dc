/*
 * agg.h — aggregation of client updates across ranks.
 *
 * Computes S = Σ_k w_k Δ_k over the round's kept clients (Δ_k a client's model
 * update, w_k its weight) and returns S / divisor on the ranks that need it.
 *
 * exact = 1 (default): order-independent fixed-point sums.  Per tensor t, a
 *   first pass finds M_t = max_k max_j |w_k Δ_k[j]| (a MAX reduction, which is
 *   exact).  Every contribution is then converted to a 64-bit integer at scale
 *   2^s_t with s_t = 62 - e_t - h (M_t < 2^e_t, h = ⌈log2(m+1)⌉ headroom bits for
 *   m clients), and the integers are summed — integer addition is associative, so
 *   the result is bitwise identical for any rank count, placement and topology.
 *   Precision: each contribution is rounded to 2^-(62-h) · 2^e_t, i.e. about 58
 *   bits relative to the largest contribution of its tensor for m ≤ 15 — far
 *   below float32's 2^-24 for every value within 2^-30 of the tensor maximum;
 *   smaller values keep an absolute error ≤ m · 2^(e_t-62+h).
 * exact = 0: plain float32 sums (faster; results depend on the reduction order).
 *
 * topology rank0: each rank sends every local client's (w_k, Δ_k) to rank 0,
 *   which accumulates them as an FL server would; the result exists on rank 0 only.
 * topology allreduce: each rank sums its own clients; partial sums are combined
 *   with MPI_Allreduce; the result exists on every rank.
 */
#ifndef HF_AGG_H
#define HF_AGG_H
#include <mpi.h>
#include <stdint.h>
#include "options.h"

typedef struct hf_agg hf_agg_t;

typedef struct {
    double t_convert;   /* fixed-point conversion and local accumulation, s */
    double t_comm;      /* MPI reductions and point-to-point transfers, s */
    uint64_t bytes;     /* bytes this rank sent during aggregation */
} hf_agg_stats_t;

/* n floats per update, split into ntensors tensors at toff[0..ntensors]
 * (toff[0] = 0, toff[ntensors] = n).  Collective over comm. */
hf_agg_t *hf_agg_new(long n, int ntensors, const long *toff, int exact, hf_topo_t topo,
                     MPI_Comm comm);
void hf_agg_free(hf_agg_t *a);

/* Start a round. */
void hf_agg_begin(hf_agg_t *a);
/* Add one local client's update (copied or accumulated at once). */
void hf_agg_add(hf_agg_t *a, double weight, const float *delta);
/* Collective: out[j] = S_j / divisor.  Writes out on every rank for allreduce,
 * on rank 0 only for rank0 (other ranks' out untouched).  Returns the number of
 * updates aggregated (all ranks). */
long hf_agg_finish(hf_agg_t *a, double divisor, float *out);
/* True when hf_agg_finish leaves the result on every rank. */
int hf_agg_result_everywhere(const hf_agg_t *a);
const hf_agg_stats_t *hf_agg_stats(const hf_agg_t *a);

/* Building blocks, exposed for tests and benchmarks. */
int hf_agg_scale_exp(double maxabs, long m);   /* s_t for a tensor */
#endif
