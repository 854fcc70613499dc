/* bench.h — `hetfl bench` sections (see src/bench.c). */
#ifndef HF_BENCH_H
#define HF_BENCH_H
#include <stdio.h>

/* Kernels: raw sgemm peak, 2NN and CNN local-training throughput at B=10,32,64
 * on one thread.  quick != 0: shorter timing windows.  Returns 0. */
int hf_bench_kernels(FILE *out, int quick);
/* One line: the OpenBLAS core in use, whether OPENBLAS_CORETYPE chose it, and
 * the 1-thread sgemm rate (best of 3 1024^3): every section's figures depend
 * on it (hetfl bench prints it first). */
void hf_bench_blas_header(FILE *out);

#endif
