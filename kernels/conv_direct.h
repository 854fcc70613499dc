/*
 * conv_direct.h — direct convolution of one input channel (the CNN's conv1
 * under model.conv = fast): k x k, stride 1, 'same' zero padding p = (k-1)/2
 * (k odd), cout output channels, no input gradient (a first layer).
 *
 * Where im2col + sgemm multiplies a (cout, k²) matrix by a (k², h·w) one —
 * K = k² = 25 is too short for the sgemm kernels to reach their peak, and the
 * bias fill and bias gradient are extra passes — this computes every output
 * pixel in registers: vectors of output pixels times blocks of output
 * channels, each input load feeding several channels' accumulators.
 *
 * Bits.  The forward gives every output the sum
 *   ((bias + w[0]·x[0]) + w[1]·x[1]) + ... + w[k²-1]·x[k²-1]
 * (taps in row-major order, a product rounded, then the sum; no fused
 * multiply-add), whatever the tiling or the instruction set (HF_CLONES).  The
 * weight gradient of tap t sums dout·x over the pixels in HF_CONV1_LANES lanes:
 * pixel i of a sample's plane goes to lane i mod HF_CONV1_LANES, each lane in
 * sample order then pixel order; the lanes are then added 0, 1, ...  Those
 * are other orders than the sgemm's, hence other result bits than
 * model.conv = gemm (and the same on every machine: the loops on 16-float
 * vectors (AVX-512) and on 8-float ones (AVX2, SSE) compute the same lanes).
 */
#ifndef HF_CONV_DIRECT_H
#define HF_CONV_DIRECT_H

#define HF_CONV1_LANES 16

/* Floats of scratch per sample: k shifted, column-masked copies of the
 * zero-padded input plane, (h + k - 1) x w each. */
long hf_conv1_scratch(int h, int w, int k);
/* Floats of the weight-gradient lane accumulator: cout·(k² + 1)·HF_CONV1_LANES. */
long hf_conv1_acc_floats(int cout, int k);

/* Forward of n samples: in holds n planes (h, w) at stride in_stride; weight
 * (cout, k, k), bias (cout); out: channel co of sample s at
 * out[co·ld + s·h·w] (ld >= n·h·w: the CNN's sub-batch layout).
 * scratch: hf_conv1_scratch(h, w, k) floats. */
void hf_conv1_forward(const float *in, long in_stride, int n, int h, int w, int k, const float *weight,
                      const float *bias, int cout, float *out, long ld, float *scratch);
/* Weight and bias gradient, in two steps so that a batch may come in pieces
 * with the same bits: hf_conv1_grad_acc adds the terms of n samples (in, dout
 * laid out as for the forward) to acc (hf_conv1_acc_floats; zero it before a
 * batch's first piece); hf_conv1_grad_finish then writes
 * dweight (cout, k, k) = alpha·Σ and dbias (cout) = alpha·Σ dout. */
void hf_conv1_grad_acc(const float *in, long in_stride, int n, int h, int w, int k, int cout, const float *dout,
                       long ld, float *acc, float *scratch);
void hf_conv1_grad_finish(const float *acc, int cout, int k, float alpha, float *dweight, float *dbias);
/* The loops run on vectors of 16 floats where the CPU has AVX-512, else of 8
 * (the same bits).  For tests: on != 0 forces the 8-float loops; returns the
 * previous setting.  Not thread-safe. */
int hf_conv1_narrow(int on);

#endif
