/*
 * data_idx.c — IDX (LeCun) readers, the Fashion-MNIST loader, and the data set /
 * partition allocation helpers of data.h.
 *
 * IDX layout: a big-endian header (magic 0x00000803 for rank-3 unsigned-byte
 * images, 0x00000801 for rank-1 unsigned-byte labels, then one 32-bit size per
 * dimension) followed by the raw bytes.  Files are read whole through zlib's
 * gzopen/gzread, which reads gzip and plain files alike, then parsed from
 * memory (hf_idx_parse_*), so a fuzzer can drive the parsers directly.
 * Every problem with the input is HF_EINPUT with "PATH: reason".
 */
#include "data.h"
#include "hf_util.h"
#include "provenance.h"
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAGIC_LABELS 0x00000801u

/* ------------------------------------------------------------------ */
/* Allocation helpers                                                  */

void hf_dataset_alloc(hf_dataset_t *d, long n, int c, int h, int w, int n_classes)
{
    memset(d, 0, sizeof *d);
    d->n = n < 0 ? 0 : n;
    d->c = c; d->h = h; d->w = w;
    d->dim = c * h * w;
    d->n_classes = n_classes;
    d->x = hf_alloc_aligned((size_t)d->n * (size_t)d->dim * sizeof(float));
    d->y = hf_calloc((size_t)d->n, sizeof(int));
}

void hf_dataset_free(hf_dataset_t *d)
{
    if (!d) return;
    free(d->x);
    free(d->y);
    memset(d, 0, sizeof *d);
}

void hf_partition_free(hf_partition_t *p)
{
    if (!p) return;
    free(p->off);
    free(p->idx);
    memset(p, 0, sizeof *p);
}

/* ------------------------------------------------------------------ */
/* Whole-file reading through zlib                                     */

int hf_file_slurp(const char *path, unsigned char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    int fd = hf_input_open(path, 0);  /* regular files only, never a FIFO or device (hf_util.h) */
    if (fd < 0) return HF_EINPUT;
    errno = 0;
    gzFile f = gzdopen(fd, "rb");
    if (!f) {
        close(fd);
        return hf_seterr(HF_EINPUT, "%s: cannot open: %s", path, errno ? strerror(errno) : "out of memory");
    }
    hf_inputs_note(path);  /* its SHA-256 goes into the results file */
    size_t cap = 1 << 16, n = 0;
    unsigned char *b = hf_malloc(cap);
    for (;;) {
        if (cap - n < (1u << 15)) {
            cap *= 2;
            b = hf_realloc(b, cap);
        }
        size_t want = HF_MIN(cap - n, (size_t)1 << 30);
        int got = gzread(f, b + n, (unsigned)want);
        if (got < 0) break;
        if (got == 0) break;
        n += (size_t)got;
    }
    int zerr = Z_OK;
    const char *zmsg = gzerror(f, &zerr);
    if (zerr != Z_OK) {
        int rc;
        if (zerr == Z_ERRNO)
            rc = hf_seterr(HF_EINPUT, "%s: read error: %s", path, strerror(errno));
        else
            rc = hf_seterr(HF_EINPUT, "%s: corrupt or truncated gzip data (%s)", path,
                           zmsg && *zmsg ? zmsg : "zlib error");
        gzclose(f);
        free(b);
        return rc;
    }
    gzclose(f);
    *buf = b;
    *len = n;
    return HF_OK;
}

/* ------------------------------------------------------------------ */
/* IDX parsing                                                         */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Checks the magic and the header length; returns the number of header bytes. */
static int idx_header(const unsigned char *buf, size_t len, const char *name,
                      uint32_t want_magic, int ndims, uint32_t *dims)
{
    if (len < 4)
        return hf_seterr(HF_EINPUT, "%s: truncated IDX header (%zu bytes)", name, len);
    uint32_t magic = be32(buf);
    if (magic != want_magic) {
        if ((magic >> 16) == 0 && ((magic >> 8) & 0xff) != 0x08)
            return hf_seterr(HF_EINPUT, "%s: IDX element type 0x%02x is not unsigned byte (0x08)",
                             name, (unsigned)((magic >> 8) & 0xff));
        return hf_seterr(HF_EINPUT, "%s: wrong IDX magic 0x%08x (expected 0x%08x: %s)", name,
                         (unsigned)magic, (unsigned)want_magic,
                         want_magic == IDX_MAGIC_IMAGES ? "rank-3 unsigned-byte images"
                                                        : "rank-1 unsigned-byte labels");
    }
    size_t hlen = 4 + 4 * (size_t)ndims;
    if (len < hlen)
        return hf_seterr(HF_EINPUT, "%s: truncated IDX header (%zu of %zu bytes)", name, len, hlen);
    for (int i = 0; i < ndims; i++) dims[i] = be32(buf + 4 + 4 * i);
    return HF_OK;
}

int hf_idx_parse_images(const unsigned char *buf, size_t len, const char *name, hf_dataset_t *d)
{
    uint32_t dims[3];
    int rc = idx_header(buf, len, name, IDX_MAGIC_IMAGES, 3, dims);
    if (rc) return rc;
    uint64_t n = dims[0], rows = dims[1], cols = dims[2];
    if (n == 0 || rows == 0 || cols == 0)
        return hf_seterr(HF_EINPUT, "%s: empty IDX image set (%llu x %llu x %llu)", name,
                         (unsigned long long)n, (unsigned long long)rows, (unsigned long long)cols);
    uint64_t dim = rows * cols;  /* < 2^64: both < 2^32 */
    if (dim > INT_MAX || n > (uint64_t)LONG_MAX)
        return hf_seterr(HF_EINPUT, "%s: IDX image dimensions %llu x %llu x %llu overflow", name,
                         (unsigned long long)n, (unsigned long long)rows, (unsigned long long)cols);
    uint64_t body = n * dim;  /* < 2^32 * 2^31 */
    if (body / dim != n || body > SIZE_MAX / sizeof(float))
        return hf_seterr(HF_EINPUT, "%s: IDX image dimensions overflow", name);
    size_t have = len - 16;
    if (have < body)
        return hf_seterr(HF_EINPUT, "%s: truncated IDX image data (%zu of %llu bytes)", name, have,
                         (unsigned long long)body);
    if (have > body)
        return hf_seterr(HF_EINPUT, "%s: %llu unexpected bytes after the IDX image data", name,
                         (unsigned long long)(have - body));
    if (d->n > 0 && d->y && (uint64_t)d->n != n)
        return hf_seterr(HF_EINPUT, "%s: %llu images but %ld labels", name,
                         (unsigned long long)n, d->n);
    free(d->x);
    d->x = hf_alloc_aligned((size_t)body * sizeof(float));
    const unsigned char *px = buf + 16;
    const float scale = 1.0f / 255.0f;
    for (size_t i = 0; i < (size_t)body; i++) d->x[i] = (float)px[i] * scale;
    d->n = (long)n;
    d->c = 1;
    d->h = (int)rows;
    d->w = (int)cols;
    d->dim = (int)dim;
    return HF_OK;
}

int hf_idx_parse_labels(const unsigned char *buf, size_t len, const char *name, hf_dataset_t *d)
{
    uint32_t dims[1];
    int rc = idx_header(buf, len, name, IDX_MAGIC_LABELS, 1, dims);
    if (rc) return rc;
    uint64_t n = dims[0];
    if (n == 0) return hf_seterr(HF_EINPUT, "%s: empty IDX label set", name);
    if (n > (uint64_t)LONG_MAX || n > SIZE_MAX / sizeof(int))
        return hf_seterr(HF_EINPUT, "%s: IDX label count %llu overflows", name,
                         (unsigned long long)n);
    size_t have = len - 8;
    if (have < n)
        return hf_seterr(HF_EINPUT, "%s: truncated IDX label data (%zu of %llu bytes)", name, have,
                         (unsigned long long)n);
    if (have > n)
        return hf_seterr(HF_EINPUT, "%s: %llu unexpected bytes after the IDX label data", name,
                         (unsigned long long)(have - n));
    if (d->n > 0 && (uint64_t)d->n != n)
        return hf_seterr(HF_EINPUT, "%s: %llu labels but %ld images", name,
                         (unsigned long long)n, d->n);
    free(d->y);
    d->y = hf_malloc((size_t)n * sizeof(int));
    int maxl = -1;
    for (size_t i = 0; i < (size_t)n; i++) {
        d->y[i] = buf[8 + i];  /* unsigned byte: always in [0, 255] */
        if (d->y[i] > maxl) maxl = d->y[i];
    }
    d->n = (long)n;
    if (maxl + 1 > d->n_classes) d->n_classes = maxl + 1;
    return HF_OK;
}

int hf_idx_read_images(const char *path, hf_dataset_t *d)
{
    unsigned char *buf;
    size_t len;
    int rc = hf_file_slurp(path, &buf, &len);
    if (rc) return rc;
    rc = hf_idx_parse_images(buf, len, path, d);
    free(buf);
    return rc;
}

int hf_idx_read_labels(const char *path, hf_dataset_t *d)
{
    unsigned char *buf;
    size_t len;
    int rc = hf_file_slurp(path, &buf, &len);
    if (rc) return rc;
    rc = hf_idx_parse_labels(buf, len, path, d);
    free(buf);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Fashion-MNIST                                                       */

#define FMNIST_CLASSES 10

/* dir/base.gz, or dir/base when only the uncompressed file exists. */
static char *fmnist_path(const char *dir, const char *base)
{
    size_t n = strlen(dir) + strlen(base) + 8;
    char *p = hf_malloc(n);
    struct stat st;  /* exists (whatever it is: hf_file_slurp refuses all but regular files) */
    snprintf(p, n, "%s/%s.gz", dir, base);
    if (stat(p, &st) == 0) return p;
    snprintf(p, n, "%s/%s", dir, base);
    if (stat(p, &st) == 0) return p;
    snprintf(p, n, "%s/%s.gz", dir, base);  /* report the canonical name */
    return p;
}

static int fmnist_split(const char *dir, const char *img, const char *lab, long want_n,
                        hf_dataset_t *d)
{
    memset(d, 0, sizeof *d);
    char *pi = fmnist_path(dir, img), *pl = fmnist_path(dir, lab);
    int rc = hf_idx_read_images(pi, d);
    if (!rc) rc = hf_idx_read_labels(pl, d);
    if (!rc && d->n != want_n)
        rc = hf_seterr(HF_EINPUT, "%s: %ld images, expected %ld for Fashion-MNIST", pi, d->n, want_n);
    if (!rc && (d->h != 28 || d->w != 28))
        rc = hf_seterr(HF_EINPUT, "%s: images are %dx%d, expected 28x28 for Fashion-MNIST", pi,
                       d->h, d->w);
    if (!rc) {
        for (long i = 0; i < d->n; i++)
            if (d->y[i] >= FMNIST_CLASSES) {
                rc = hf_seterr(HF_EINPUT, "%s: label %d of sample %ld is not in [0,%d)", pl,
                               d->y[i], i, FMNIST_CLASSES);
                break;
            }
        d->n_classes = FMNIST_CLASSES;
    }
    free(pi);
    free(pl);
    if (rc) hf_dataset_free(d);
    return rc;
}

int hf_fmnist_load(const char *dir, hf_dataset_t *train, hf_dataset_t *test)
{
    if (!dir || !*dir) dir = HF_FMNIST_DEFAULT_DIR;
    memset(test, 0, sizeof *test);
    int rc = fmnist_split(dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", 60000, train);
    if (!rc) {
        rc = fmnist_split(dir, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 10000, test);
        if (rc) hf_dataset_free(train);
    }
    if (rc && strstr(hf_errmsg(), "cannot open"))
        hf_addhint("install the Debian package dataset-fashion-mnist "
                   "(apt-get install dataset-fashion-mnist) or set data.path");
    return rc;
}
