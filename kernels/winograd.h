/*
 * winograd.h — 'same' stride-1 convolutions by Winograd minimal filtering
 * (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR
 * 2016): F(4x4,3x3) on 6x6 tiles (the points 0, ±1, ±2 and ∞) for 3x3
 * kernels, F(4x4,5x5) on 8x8 tiles (0, ±1, ±2, ±1/2 and ∞) for 5x5 ones.
 *
 * A convolution of n samples: input channel c of sample s at in + s·is + c·ics
 * (an h x w plane, row-major), output channel k at out + s·os + k·ocs (h x w),
 * weights (cout, cin, r, r) as the im2col code's, zero padding (r-1)/2, no
 * bias.  Every pass is 36 or 64 sgemms (one per tile position) between transforms;
 * the backward passes are the transposes of the forward's linear maps, so they
 * save the same multiplications.  Results depend on the inputs, n and the
 * geometry only (no threads of its own, a fixed order), never on the machine's
 * instruction set (the transforms are plain IEEE multiplications and additions
 * without contraction).  Their bits differ from im2col + sgemm's.
 */
#ifndef HF_WINOGRAD_H
#define HF_WINOGRAD_H
#include <stddef.h>

typedef struct {
    int r;              /* kernel size: 3 or 5 */
    int n, cin, cout, h, w;
    long is, ics;       /* input (and its gradient's channel) strides, floats */
    long os, ocs;       /* output (and its gradient) strides */
} hf_wino_t;

/* Whether a k x k convolution with stride s and cin input channels goes
 * through Winograd (k = 3 or 5, stride 1, cin >= 4: with fewer input
 * channels the transforms cost what the sgemms save). */
int hf_wino_supported(int k, int s, int cin);
/* Samples whose tiles fill one chunk of g's sgemms (at least 1; g->n is not
 * read): a sub-batch size for callers that choose one. */
int hf_wino_samples(const hf_wino_t *g);
/* Floats of scratch the forward and the backward of g need (the larger). */
size_t hf_wino_scratch(const hf_wino_t *g);
/* out = conv(in), or out += conv(in) when add. */
void hf_wino_forward(const hf_wino_t *g, const float *wt, const float *in, float *out, int add, float *scratch);
/* Whether hf_wino_forward(g, ...) leaves its transforms of wt and in in
 * scratch for the backward (g's tiles fill a single chunk). */
int hf_wino_keeps(const hf_wino_t *g);
/* Backward, dout laid out as out: dw (cout, cin, r, r) += alpha · the weight
 * gradient summed over the n samples; din (NULL: skipped; sample stride dis,
 * channel stride ics) += the input gradient.  kept: scratch still holds what
 * hf_wino_forward(g, wt, in, ...) left there (nothing else wrote to it since),
 * so where hf_wino_keeps(g) the backward does not transform wt and in again
 * (the same values: the same bits). */
void hf_wino_backward(const hf_wino_t *g, const float *wt, const float *in, const float *dout, float alpha,
                      float *dw, float *din, long dis, float *scratch, int kept);

#endif
