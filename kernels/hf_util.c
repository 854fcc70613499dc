/* hf_util.c — error buffer, checked allocation, timers. */
#define _POSIX_C_SOURCE 200809L
#include "hf_util.h"
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static char hf_errbuf[4096];
static int hf_errval;

int hf_seterr(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(hf_errbuf, sizeof hf_errbuf, fmt, ap);
    va_end(ap);
    hf_errval = code;
    return code;
}

void hf_addhint(const char *fmt, ...)
{
    size_t len = strlen(hf_errbuf);
    if (len + 8 >= sizeof hf_errbuf) return;
    memcpy(hf_errbuf + len, "\nHINT: ", 8);
    len += 7;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(hf_errbuf + len, sizeof hf_errbuf - len, fmt, ap);
    va_end(ap);
}

const char *hf_errmsg(void) { return hf_errbuf; }
int hf_errcode(void) { return hf_errval; }
void hf_clearerr(void) { hf_errbuf[0] = 0; hf_errval = 0; }

static void hf_oom(size_t size)
{
    fprintf(stderr, "hetfl: out of memory allocating %zu bytes\n", size);
    abort();
}

void *hf_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) hf_oom(n * size);
    return p;
}

void *hf_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p) hf_oom(size);
    return p;
}

void *hf_realloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    if (!q) hf_oom(size);
    return q;
}

void *hf_alloc_aligned(size_t size)
{
    size_t rounded = (size + 63) / 64 * 64;
    void *p = NULL;
#ifdef MADV_HUGEPAGE
    /* Large buffers (data sets, models, aggregation buffers) on transparent huge
     * pages where the kernel offers them on request (THP "madvise" mode): fewer TLB
     * misses on random rows of a 188 MB training set.  Advisory only. */
    if (rounded >= ((size_t)4 << 20)) {
        size_t huge = (size_t)2 << 20;
        rounded = (rounded + huge - 1) / huge * huge;
        if (posix_memalign(&p, huge, rounded) != 0) hf_oom(size);
        (void)madvise(p, rounded, MADV_HUGEPAGE);
        memset(p, 0, rounded);
        return p;
    }
#endif
    if (posix_memalign(&p, 64, rounded ? rounded : 64) != 0) hf_oom(size);
    memset(p, 0, rounded ? rounded : 64);
    return p;
}

char *hf_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = hf_malloc(n);
    memcpy(d, s, n);
    return d;
}

double hf_wtime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
