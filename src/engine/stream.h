/*
 * stream.h — federated learning on data streams (stream.* keys, stream.c):
 * each client receives its training samples over the rounds instead of
 * holding them from the start, keeps at most stream.memory of them by a
 * retention policy, and trains on what it keeps.
 */
#ifndef HF_STREAM_H
#define HF_STREAM_H
#include <stdint.h>

struct hf_run;
typedef struct hf_stream hf_stream_t;

/* Samples client k (n_k in all) has received by round r (1-based):
 * min(n_k, initial + ⌊r · rate⌋) (the product rounded up within 1e-9). */
long hf_stream_arrived(long nk, long initial, double rate, int round);

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

/* Per-client evaluation: client k's test split rows [*lo, *lo + *n) of
 * x->ctest in its stream order, those aligned with its last stream.eval_window
 * arrivals (all arrived when 0); the whole split without a stream. */
void hf_stream_test_window(const struct hf_run *x, int k, long *lo, long *n);

void hf_stream_free(hf_stream_t *s);
#endif
