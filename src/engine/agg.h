/*
 * agg.h — aggregation of client updates across ranks.
 *
 * Computes S = Σ_k w_k Δ_k over the round's kept clients (Δ_k a client's model
 * update, w_k its weight) and hands back α·S on the ranks that hold the result.
 *
 * exact = 1 (default): order-independent fixed-point sums.  The flat update is
 *   cut into blocks of HF_AGG_BLOCK values (never straddling two tensors).  A first pass finds each block's
 *   largest contribution M_b = max_k max_{j∈b} |w_k Δ_k[j]| (a MAX reduction,
 *   exact).  Every contribution is then converted to an integer at scale 2^s_b,
 *   s_b = B − e_b − h (M_b < 2^e_b; h = ⌈log2(m+1)⌉ headroom bits for m updates),
 *   and the integers are summed — integer addition is associative, so the result
 *   is bitwise identical for any rank count, placement and topology.
 *   Width: 32-bit integers (B = 31, the same bytes on the wire as float32) when
 *   m ≤ 127, which keeps ≥ 24 bits — float32's precision — relative to the block
 *   maximum; 64-bit integers (B = 63, ≥ 40 bits) for larger rounds.  A value far
 *   below its block's maximum keeps an absolute error ≤ m·2^(e_b−B+h−1).
 * exact = 0: plain float32 sums (fastest; results depend on the reduction order).
 *
 * topology rank0: each rank sends every local client's weighted update to rank 0,
 *   which accumulates them as an FL server would; the result exists on rank 0 only.
 * topology allreduce: each rank sums its own clients; partial sums are combined
 *   across ranks and the result exists on every rank.  Ranks that share a node
 *   combine them through an MPI-3 shared-memory window (each node rank sums a
 *   slice; node leaders MPI_Allreduce across nodes); where no shared window can
 *   be made, or with HETFL_AGG_SHM=0, plain MPI_Allreduce.  HETFL_AGG_NODE_SIZE=k
 *   splits each node into groups of k ranks (tests the cross-node path on one node).
 *
 * Typical round:   hf_agg_begin(a);
 *                  for each local client: hf_agg_add_diff(a, n_k, local_k, global);
 *                  hf_agg_reduce(a);                 (collective)
 *                  hf_agg_apply(a, 1.0 / Σ n_k, global);   x ← x + S/Σn
 */
#ifndef HF_AGG_H
#define HF_AGG_H
#include <mpi.h>
#include <stddef.h>
#include <stdint.h>
#include "options.h"

#define HF_AGG_BLOCK 64          /* values per fixed-point scale block */
#define HF_AGG_INT32_MAX_M 127   /* largest round aggregated with 32-bit integers */

typedef struct hf_agg hf_agg_t;

typedef struct {
    double t_prep;      /* weighting updates, block maxima (hf_agg_add*), s */
    double t_convert;   /* fixed-point conversion, local accumulation, result, s */
    double t_comm;      /* MPI reductions and point-to-point transfers, s */
    uint64_t bytes;     /* bytes this rank sent during aggregation */
    int int_bits;       /* 0 (float), 32 or 64: representation of the last round */
} hf_agg_stats_t;

/* n floats per update, ntensors tensors at toff[0..ntensors] (toff[0] = 0,
 * toff[ntensors] = n): scale blocks never straddle tensors.  Collective over comm. */
hf_agg_t *hf_agg_new(long n, int ntensors, const long *toff, int exact, hf_topo_t topo,
                     MPI_Comm comm);
void hf_agg_free(hf_agg_t *a);

/* Start a round. */
void hf_agg_begin(hf_agg_t *a);
/* Add one local client's update w·delta. */
void hf_agg_add(hf_agg_t *a, double weight, const float *delta);
/* Add w·(local − global) without materialising the difference: the cheapest way
 * to hand in a client's new model. */
void hf_agg_add_diff(hf_agg_t *a, double weight, const float *local, const float *global);
/* Collective: reduce the round's updates.  Returns the number of updates (all ranks). */
long hf_agg_reduce(hf_agg_t *a);
/* After reduce, on ranks holding the result: x[j] += alpha · S[j] (elsewhere a no-op). */
void hf_agg_apply(hf_agg_t *a, double alpha, float *x);
/* After reduce, on ranks holding the result: out[j] = alpha · S[j] (elsewhere a no-op). */
void hf_agg_result(hf_agg_t *a, double alpha, float *out);
/* reduce + result(1/divisor): out = S / divisor (divisor 0 → 1). */
long hf_agg_finish(hf_agg_t *a, double divisor, float *out);
/* True when the result exists on every rank (allreduce). */
int hf_agg_result_everywhere(const hf_agg_t *a);
const hf_agg_stats_t *hf_agg_stats(const hf_agg_t *a);
/* How the reduction travels, in words (config box, bench). */
void hf_agg_method(const hf_agg_t *a, char *buf, size_t n);

/* Building blocks, exposed for tests and benchmarks. */
int hf_agg_headroom(long m);                       /* h = ⌈log2(m+1)⌉ */
int hf_agg_scale_exp(double maxabs, long m, int bits);  /* s_b for a block (bits 31 or 63) */
#endif
