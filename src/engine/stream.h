/*
 * stream.h — federated learning on data streams (stream.* keys, stream.c):
 * each client receives its training samples over the rounds instead of
 * holding them from the start, keeps at most stream.memory of them by a
 * retention policy, and trains on what it keeps.
 */
#ifndef HF_STREAM_H
#define HF_STREAM_H
#include <stdint.h>
#include "data.h"
#include "options.h"

struct hf_run;
typedef struct hf_stream hf_stream_t;

/* Client k's arrival rate ρ_k: stream.rate (1 + stream.rate_spread (2 u_k − 1)),
 * u_k uniform in [0, 1) keyed (seed, HF_RNG_STREAM_RATE, k, 0). */
double hf_stream_client_rate(const hf_params_t *p, int k);

/* Samples client k (n_k in all) has received by round r (1-based):
 * min(n_k, initial + ⌊r · rate⌋) (the product rounded up within 1e-9). */
long hf_stream_arrived(long nk, long initial, double rate, int round);

/* The bytes hf_stream_setup allocates on every rank for partition `part` (the
 * training samples after the per-client test splits): the arrival-ordered copy
 * of the partition (its n indices and N + 1 offsets), A_k and m_k, the
 * reservoir's offsets and slots (Σ_k min(n_k, stream.memory)), the rates ρ_k;
 * 8 bytes each: 8 (n + 5 N + 2 + slots), with n, slots and N at least 1.  0
 * without a stream; a trace's arrays (its lines) are not counted. */
double hf_stream_bytes(const hf_params_t *p, const hf_partition_t *part);

/* Setup, every rank alike, after the per-client test splits are taken out:
 * orders each client's training samples (and its test split) as they will
 * arrive, reads stream.trace, and leaves x->part as it is until the first
 * round.  No-op when stream.rate = 0 and there is no trace.  Errors: HF_EINPUT
 * "FILE:LINE: key 'stream.trace': ..." (x->stream is freed by hf_run_free). */
int hf_stream_setup(struct hf_run *x);

/* Before round `round` (1-based) is selected, every rank alike: the arrivals
 * up to this round enter each client's memory (retention policy), x->part
 * becomes the memories, and rank 0 appends the round's /stream row.  The
 * state is a function of the round alone, so a resumed run replays it. */
int hf_stream_round(struct hf_run *x, int round);
/* Its first part, without the row: x->part := the memories after round r's
 * arrivals (r ≥ the round the state is at). */
void hf_stream_advance(struct hf_run *x, int round);

/* stream.policy = weighted, after the round's plan (every rank alike): each
 * kept plan entry i (client sel[i], m_k held, A_k received) has its weight
 * multiplied by (A_k / m_k)^stream.weight_power and the divisor by Σ(w f)/Σ w,
 * so the aggregate stays normalised.  No-op for the other policies. */
void hf_stream_weights(struct hf_run *x, const int *sel, int m);

/* Per-client evaluation: client k's test split rows [*lo, *lo + *n) of
 * x->ctest in its stream order, those aligned with its last stream.eval_window
 * arrivals (all arrived when 0); the whole split without a stream. */
void hf_stream_test_window(const struct hf_run *x, int k, long *lo, long *n);

void hf_stream_free(hf_stream_t *s);
#endif
