/* hf_util.c — error buffer, checked allocation, timers. */
#define _POSIX_C_SOURCE 200809L
#include "hf_util.h"
#include <mpi.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char hf_errbuf[4096];
static int hf_errval;

/* Both format into a scratch buffer first: an argument may be hf_errmsg()
 * itself (wrapping the current message), which vsnprintf must not overwrite
 * while it reads it. */
int hf_seterr(int code, const char *fmt, ...)
{
    char tmp[sizeof hf_errbuf];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    memcpy(hf_errbuf, tmp, sizeof hf_errbuf);
    hf_errval = code;
    return code;
}

void hf_addhint(const char *fmt, ...)
{
    size_t len = strlen(hf_errbuf);
    if (len + 8 >= sizeof hf_errbuf) return;
    char tmp[sizeof hf_errbuf];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof hf_errbuf - len - 7, fmt, ap);
    va_end(ap);
    memcpy(hf_errbuf + len, "\nHINT: ", 7);
    memcpy(hf_errbuf + len + 7, tmp, strlen(tmp) + 1);
}

const char *hf_errmsg(void) { return hf_errbuf; }
int hf_errcode(void) { return hf_errval; }
void hf_clearerr(void) { hf_errbuf[0] = 0; hf_errval = 0; }

/* Out of memory is a runtime failure: exit status 1 with a message, never a
 * core dump.  Under MPI the job is aborted with status 1 (the other ranks may
 * be inside a collective, waiting for this one); otherwise the process exits
 * at once (_exit: no atexit handler of a library in an unknown state runs). */
static char hf_fail_path[4300];

void hf_fail_unlink(const char *path)
{
    hf_fail_path[0] = 0;
    if (path) snprintf(hf_fail_path, sizeof hf_fail_path, "%s", path);
}

void hf_fail_cleanup(void)
{
    if (hf_fail_path[0]) unlink(hf_fail_path);
}

static void hf_oom(size_t size)
{
    char host[64] = "";
    int rank = -1, init = 0, fin = 0;
    MPI_Initialized(&init);
    if (init) MPI_Finalized(&fin);
    if (init && !fin) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    gethostname(host, sizeof host - 1);
    char where[128] = "";
    if (rank >= 0) snprintf(where, sizeof where, " on rank %d of host %s", rank, host);
    fprintf(stderr, "hetfl: out of memory allocating %zu bytes (%.1f MB)%s\n"
            "HINT: a smaller model (model.hidden), fewer clients per rank, or more memory per rank\n",
            size, (double)size / 1e6, where);
    fflush(stderr);
    hf_fail_cleanup();  /* no temporary results file left behind */
    if (init && !fin) MPI_Abort(MPI_COMM_WORLD, HF_ERUNTIME);
    _exit(HF_ERUNTIME);
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

void *hf_take(double *bytes, size_t n, size_t size, int alloc)
{
    *bytes += (double)n * (double)size;
    return alloc ? hf_alloc_aligned(n * size) : NULL;
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

/* ------------------------------------------------------------------ */
/* Input files (hf_util.h)                                             */

const char *hf_file_kind(unsigned mode)
{
    switch (mode & S_IFMT) {
    case S_IFREG: return "a regular file";
    case S_IFDIR: return "a directory";
    case S_IFIFO: return "a FIFO";
    case S_IFCHR: return "a character device";
    case S_IFBLK: return "a block device";
    case S_IFSOCK: return "a socket";
    default: return "a special file";
    }
}

static int kind_ok(const struct stat *st, uint64_t max_bytes, char *why, size_t nwhy)
{
    if (!S_ISREG(st->st_mode)) {
        snprintf(why, nwhy, "not a regular file (it is %s)", hf_file_kind((unsigned)st->st_mode));
        return -1;
    }
    if (max_bytes && (uint64_t)st->st_size > max_bytes) {
        if (max_bytes % (1u << 20) == 0)
            snprintf(why, nwhy, "file is larger than %llu MiB (%llu bytes)",
                     (unsigned long long)(max_bytes >> 20), (unsigned long long)st->st_size);
        else
            snprintf(why, nwhy, "file is larger than %llu bytes (%llu bytes)",
                     (unsigned long long)max_bytes, (unsigned long long)st->st_size);
        return -1;
    }
    return 0;
}

int hf_input_open_why(const char *path, uint64_t max_bytes, char *why, size_t nwhy)
{
    struct stat st;
    if (!path || !path[0]) {
        snprintf(why, nwhy, "empty path");
        return -1;
    }
    /* stat first: a device or FIFO is refused without even being opened */
    if (stat(path, &st) != 0) {
        snprintf(why, nwhy, "cannot open: %s", strerror(errno));
        return -1;
    }
    if (kind_ok(&st, max_bytes, why, nwhy)) return -1;
    /* non-blocking: the name may have been replaced by a FIFO meanwhile */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, nwhy, "cannot open: %s", strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0) {
        snprintf(why, nwhy, "cannot stat: %s", strerror(errno));
        close(fd);
        return -1;
    }
    if (kind_ok(&st, max_bytes, why, nwhy)) {
        close(fd);
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}

int hf_input_open(const char *path, uint64_t max_bytes)
{
    char why[256] = "";
    int fd = hf_input_open_why(path, max_bytes, why, sizeof why);
    if (fd < 0) hf_seterr(HF_EINPUT, "%s: %s", path ? path : "(null)", why);
    return fd;
}

FILE *hf_input_fopen(const char *path, uint64_t max_bytes)
{
    int fd = hf_input_open(path, max_bytes);
    if (fd < 0) return NULL;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        hf_seterr(HF_EINPUT, "%s: cannot open: %s", path, strerror(errno));
        close(fd);
    }
    return f;
}

int hf_input_check(const char *path, uint64_t max_bytes)
{
    int fd = hf_input_open(path, max_bytes);
    if (fd < 0) return HF_EINPUT;
    close(fd);
    return 0;
}

int hf_parse_long(const char *s, long *out)
{
    char *end;
    errno = 0;
    while (*s == ' ' || *s == '\t') s++;
    if (!*s) return -1;
    long v = strtol(s, &end, 10);
    while (*end == ' ' || *end == '\t' || *end == '\r') end++;
    if (*end || errno == ERANGE) return -1;
    *out = v;
    return 0;
}

int hf_split_csv(char *line, char **f, int n)
{
    int c = 0;
    char *p = line;
    for (;;) {
        if (c == n) return n + 1;
        f[c++] = p;
        char *q = strchr(p, ',');
        if (!q) return c;
        *q = 0;
        p = q + 1;
    }
}

int hf_input_slurp(const char *path, uint64_t max_bytes, char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    int fd = hf_input_open(path, max_bytes);
    if (fd < 0) return HF_EINPUT;
    size_t cap = 1 << 16, n = 0;
    char *b = hf_malloc(cap + 1);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            b = hf_realloc(b, cap + 1);
        }
        ssize_t r = read(fd, b + n, HF_MIN(cap - n, (size_t)1 << 30));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            free(b);
            return hf_seterr(HF_EINPUT, "%s: read error: %s", path, strerror(e));
        }
        if (r == 0) break;
        n += (size_t)r;
        if (max_bytes && n > max_bytes) {
            close(fd);
            free(b);
            return hf_seterr(HF_EINPUT, "%s: file is larger than %llu bytes (it grew while read)", path,
                             (unsigned long long)max_bytes);
        }
    }
    close(fd);
    b[n] = 0;
    *buf = b;
    *len = n;
    return 0;
}
