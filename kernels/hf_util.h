/*
 * hf_util.h — error reporting and checked allocation shared by kernels/ and src/.
 *
 * Convention: library functions never exit.  They return 0 on success or an
 * HF_E* status, after recording a human-readable message with hf_seterr().
 * The caller (ultimately the CLI) prints hf_errmsg() and exits with the status.
 * Messages about bad input follow "FILE:LINE: what is wrong" where a line exists.
 */
#ifndef HF_UTIL_H
#define HF_UTIL_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum {
    HF_OK = 0,
    HF_ERUNTIME = 1,  /* runtime failure (I/O error, MPI failure, out of memory) */
    HF_EINPUT = 2,    /* bad input: usage, suite, trace, data */
    HF_ESIGNAL = 3    /* stopped by a signal after writing a checkpoint */
};

#if defined(__GNUC__)
#define HF_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define HF_PRINTF(a, b)
#endif

/* Record an error message (printf-style) and return `code`. */
int hf_seterr(int code, const char *fmt, ...) HF_PRINTF(2, 3);
/* Append a "HINT: ..." line to the current message. */
void hf_addhint(const char *fmt, ...) HF_PRINTF(1, 2);
const char *hf_errmsg(void);
int hf_errcode(void);
void hf_clearerr(void);

/* Allocation that aborts with a clear message on failure (out of memory is a
 * runtime failure, not bad input).  Zero-initialised. */
void *hf_calloc(size_t n, size_t size);
void *hf_malloc(size_t size);
void *hf_realloc(void *p, size_t size);
/* 64-byte aligned, zeroed; free with free(). */
void *hf_alloc_aligned(size_t size);
char *hf_strdup(const char *s);

/* Monotonic wall clock in seconds. */
double hf_wtime(void);

#define HF_MIN(a, b) ((a) < (b) ? (a) : (b))
#define HF_MAX(a, b) ((a) > (b) ? (a) : (b))

/* HF_CLONES: build a hot loop for AVX-512, AVX2 and baseline x86-64 and pick one
 * at load time (GCC function multi-versioning; nothing elsewhere).  Only for
 * loops of IEEE operations in the default rounding mode without contraction
 * (-std=c11 sets -ffp-contract=off): every variant computes the same bits, so
 * results do not depend on the machine.  HF_INLINE: fold a helper into them. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define HF_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define HF_CLONES
#endif
#define HF_INLINE static inline __attribute__((always_inline))

#endif
