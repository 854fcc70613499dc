/*
 * compress.h — update compression for the uplink: QSGD (Alistarh et al. 2017,
 * bucketed stochastic quantisation, unbiased), top-k sparsification with error
 * feedback (client memory), and IEEE fp16.
 *
 * Each codec really encodes into a byte buffer and decodes from it, so
 * `bytes_up` in the results is the exact encoded size, not an estimate:
 *   QSGD   bits = Σ_buckets 32 + d_b (1 + ⌈log2(s+1)⌉)   (Alistarh et al. 2017), bytes = ⌈bits/8⌉
 *   top-k  4 (count) + 8 k (uint32 index + float32 value) bytes
 *   fp16   2 n bytes
 * Randomness (QSGD's stochastic rounding) comes from an hf_rng_t the caller keys
 * by (seed, HF_RNG_COMPRESS, round, client), so results do not depend on ranks.
 */
#ifndef HF_COMPRESS_H
#define HF_COMPRESS_H
#include "rng.h"
#include <stddef.h>
#include <stdint.h>

typedef enum { HF_COMP_NONE = 0, HF_COMP_QSGD, HF_COMP_TOPK, HF_COMP_FP16 } hf_comp_kind_t;

/* Parse "none|qsgd|topk|fp16" → kind, -1 when unknown. */
int hf_comp_parse(const char *name);
const char *hf_comp_name(int kind);

/* ---- QSGD ---- */
/* Bits per level field: ⌈log2(s+1)⌉ (s ≥ 1). */
int hf_qsgd_level_bits(int s);
/* Exact encoded size in bytes of n values with s levels and the given bucket size. */
size_t hf_qsgd_bytes(long n, int s, int bucket);
/* Encode v[0..n) into out (at least hf_qsgd_bytes bytes); returns bytes written. */
size_t hf_qsgd_encode(const float *v, long n, int s, int bucket, hf_rng_t *r, uint8_t *out);
/* Decode n values from an encoding made with the same (s, bucket). */
void hf_qsgd_decode(const uint8_t *in, long n, int s, int bucket, float *v);

/* ---- top-k with error feedback ---- */
size_t hf_topk_bytes(long k);
/* p = delta + mem; send the k largest |p_i| (ties: lower index first);
 * mem ← p − sent; delta ← sent (the decoded update).  mem may be NULL (no
 * error feedback).  Returns the encoded size in bytes. */
size_t hf_topk_ef(float *delta, float *mem, long n, long k);

/* ---- fp16 ---- */
uint16_t hf_f32_to_f16(float f);     /* round to nearest even, saturating to ±inf */
float hf_f16_to_f32(uint16_t h);
/* Round v through fp16 in place; returns the encoded size (2 n). */
size_t hf_fp16_roundtrip(float *v, long n);

/* Compress an update in place with the decoded (lossy) result, returning the
 * exact encoded size: the one entry point fed.c uses.  kind = HF_COMP_NONE
 * returns 4 n and leaves v alone.  topk keeps k = max(1, ⌈ratio·n⌉). */
typedef struct {
    int kind;           /* hf_comp_kind_t */
    int qsgd_levels;    /* s */
    int qsgd_bucket;    /* values per bucket (one norm each) */
    double topk_ratio;  /* fraction of coordinates sent by top-k */
} hf_comp_cfg_t;
size_t hf_compress_update(const hf_comp_cfg_t *c, float *v, float *mem, long n, hf_rng_t *r);

#endif
