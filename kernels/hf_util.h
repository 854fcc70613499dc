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

/* Allocation that ends the run with a clear message on failure: out of memory
 * is a runtime failure (exit status 1, MPI_Abort under MPI), never a core
 * dump.  Zero-initialised. */
void *hf_calloc(size_t n, size_t size);
void *hf_malloc(size_t size);
void *hf_realloc(void *p, size_t size);
/* 64-byte aligned, zeroed; free with free(). */
void *hf_alloc_aligned(size_t size);
/* A work space's buffer of n elements of size bytes: adds n·size to *bytes and
 * returns hf_alloc_aligned(n·size), or NULL without allocating when !alloc (the
 * constructor then only counts: its memory estimate, hf_work_bytes). */
void *hf_take(double *bytes, size_t n, size_t size, int alloc);
char *hf_strdup(const char *s);
/* A temporary file to remove should the process end on a fatal error (out of
 * memory, a second signal): the results writer's PATH.tmp-PID.  NULL clears. */
void hf_fail_unlink(const char *path);
void hf_fail_cleanup(void);  /* remove it now (async-signal-safe) */

/* Input files.  Every file a user names as input (suite, include, trace,
 * device table, carbon or region file, topology, data file, resume file) is
 * opened through these: regular files only -- a directory, FIFO, socket or
 * device (/dev/zero, a terminal) is refused without being read -- and at most
 * max_bytes (0: no limit).  The open is non-blocking (then switched back), so
 * a FIFO with no writer never stalls it.  On error: HF_EINPUT and the message
 * "PATH: reason" (hf_errmsg); the caller adds the key ("FILE:LINE: key 'x': ").
 *   hf_input_open   a read-only descriptor, or -1
 *   hf_input_fopen  the same as a FILE *, or NULL
 *   hf_input_check  0 or HF_EINPUT (for files another library opens by name:
 *                   HDF5), the same checks, nothing left open
 *   hf_input_slurp  the whole file, NUL-terminated (free() it), or HF_EINPUT;
 *                   a file that grows past max_bytes while read is refused too
 *   hf_input_open_why  the core: descriptor, or -1 with the reason (no path)
 *                   in why[nwhy]; sets no error message. */
#define HF_INPUT_TEXT_MAX ((uint64_t)1 << 30)  /* plain-text traces and tables: 1 GiB */
int hf_input_open_why(const char *path, uint64_t max_bytes, char *why, size_t nwhy);
int hf_input_open(const char *path, uint64_t max_bytes);
FILE *hf_input_fopen(const char *path, uint64_t max_bytes);
int hf_input_check(const char *path, uint64_t max_bytes);
int hf_input_slurp(const char *path, uint64_t max_bytes, char **buf, size_t *len);
/* A decimal integer field of a text table: blanks around it allowed (and a
 * trailing \r), nothing else; 0, or -1 (empty, garbage, out of range). */
int hf_parse_long(const char *s, long *out);
/* Split line at commas, in place, into at most n fields f[]; returns the count
 * (n + 1 when there are more). */
int hf_split_csv(char *line, char **f, int n);
/* "a directory", "a FIFO", ...: what a st_mode is, for messages. */
const char *hf_file_kind(unsigned mode);

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
