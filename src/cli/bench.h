/* bench.h — `hetfl bench` sections (see src/bench.c). */
#ifndef HF_BENCH_H
#define HF_BENCH_H
#include <stdio.h>

/* Kernels: raw sgemm peak, 2NN and CNN local-training throughput at B=10,32,64
 * on one thread.  quick != 0: shorter timing windows.  Returns 0. */
int hf_bench_kernels(FILE *out, int quick);

#endif
