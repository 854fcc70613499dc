/*
 * test_data.c — CUnit tests of the data layer (kernels/data.h): IDX reading and
 * Fashion-MNIST, the FedProx synthetic generator, the LEAF JSON reader (valid,
 * malformed and mutated input), and the iid / shards / dirichlet partitions.
 *
 * Tests that need data outside the repository (Fashion-MNIST from the Debian
 * package, ../shared/data) are made inactive with a "SKIP: ... absent" line when
 * the data is missing.  Exit status: nonzero when any assertion failed.
 */
#include "data.h"
#include "hf_util.h"
#include "rng.h"
#include "cunit_main.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

static char tmpdir[64];

static char *tmp_path(const char *name)
{
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static int write_file(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(buf, 1, len, f);
    fclose(f);
    return w == len ? 0 : -1;
}

static int write_gz(const char *path, const void *buf, size_t len)
{
    gzFile f = gzopen(path, "wb9");
    if (!f) return -1;
    int w = gzwrite(f, buf, (unsigned)len);
    gzclose(f);
    return w == (int)len ? 0 : -1;
}

static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    *len = fread(b, 1, (size_t)n, f);
    fclose(f);
    return b;
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v;
}

/* 1 if p is a valid CSR partition covering each of 0..n-1 exactly once. */
static int partition_is_exact(const hf_partition_t *p, long n)
{
    if (!p->off || p->off[0] != 0 || p->off[p->nclients] != n) return 0;
    for (int k = 0; k < p->nclients; k++)
        if (p->off[k + 1] < p->off[k]) return 0;
    char *seen = calloc((size_t)n + 1, 1);
    int ok = 1;
    for (long i = 0; i < n && ok; i++) {
        long s = p->idx[i];
        if (s < 0 || s >= n || seen[s]) ok = 0;
        else seen[s] = 1;
    }
    free(seen);
    return ok;
}

static int partition_equal(const hf_partition_t *a, const hf_partition_t *b)
{
    if (a->nclients != b->nclients) return 0;
    long n = a->off[a->nclients];
    return memcmp(a->off, b->off, ((size_t)a->nclients + 1) * sizeof(long)) == 0 &&
           n == b->off[b->nclients] && memcmp(a->idx, b->idx, (size_t)n * sizeof(long)) == 0;
}

/* Number of distinct labels of client k. */
static int client_labels(const hf_partition_t *p, const int *y, int k, int nclass)
{
    int *h = calloc((size_t)nclass, sizeof(int)), m = 0;
    for (long i = p->off[k]; i < p->off[k + 1]; i++)
        if (!h[y[p->idx[i]]]++) m++;
    free(h);
    return m;
}

/* Mean over clients (with data) of the majority-class fraction. */
static double label_skew(const hf_partition_t *p, const int *y, int nclass)
{
    double s = 0;
    int cnt = 0;
    int *h = malloc((size_t)nclass * sizeof(int));
    for (int k = 0; k < p->nclients; k++) {
        long sz = p->off[k + 1] - p->off[k];
        if (!sz) continue;
        memset(h, 0, (size_t)nclass * sizeof(int));
        int mx = 0;
        for (long i = p->off[k]; i < p->off[k + 1]; i++) {
            int v = ++h[y[p->idx[i]]];
            if (v > mx) mx = v;
        }
        s += (double)mx / (double)sz;
        cnt++;
    }
    free(h);
    return cnt ? s / cnt : 0;
}

/* Labels 0..nclass-1, per_class of each, in a shuffled order. */
static int *make_labels(int nclass, long per_class, uint64_t seed)
{
    long n = nclass * per_class;
    int *y = malloc((size_t)n * sizeof(int));
    int *perm = malloc((size_t)n * sizeof(int));
    hf_rng_t r;
    hf_rng_init(&r, seed, HF_RNG_TEST, 7, 0);
    hf_rng_permutation(&r, (int)n, perm);
    for (long i = 0; i < n; i++) y[perm[i]] = (int)(i / per_class);
    free(perm);
    return y;
}

/* ------------------------------------------------------------------ */
/* Fashion-MNIST (from the Debian package, when installed)             */

static hf_dataset_t fm_train, fm_test;
static int fm_ok;

static int fmnist_present(void)
{
    struct stat st;
    return stat(HF_FMNIST_DEFAULT_DIR "/train-labels-idx1-ubyte.gz", &st) == 0;
}

static int suite_idx_init(void)
{
    if (fmnist_present()) fm_ok = hf_fmnist_load(NULL, &fm_train, &fm_test) == HF_OK;
    return 0;
}

static int suite_idx_clean(void)
{
    hf_dataset_free(&fm_train);
    hf_dataset_free(&fm_test);
    return 0;
}

static void test_fmnist(void)
{
    CU_ASSERT_FATAL(fm_ok);
    CU_ASSERT_EQUAL(fm_train.n, 60000);
    CU_ASSERT_EQUAL(fm_test.n, 10000);
    CU_ASSERT_EQUAL(fm_train.dim, 784);
    CU_ASSERT(fm_train.c == 1 && fm_train.h == 28 && fm_train.w == 28);
    CU_ASSERT(fm_test.c == 1 && fm_test.h == 28 && fm_test.w == 28);
    CU_ASSERT_EQUAL(fm_train.n_classes, 10);
    CU_ASSERT_EQUAL(fm_test.n_classes, 10);
    CU_ASSERT_EQUAL((uintptr_t)fm_train.x % 64, 0);
    CU_ASSERT_EQUAL((uintptr_t)fm_test.x % 64, 0);
    long cnt_tr[10] = {0}, cnt_te[10] = {0};
    int lab_ok = 1;
    for (long i = 0; i < fm_train.n; i++) {
        if (fm_train.y[i] < 0 || fm_train.y[i] > 9) { lab_ok = 0; break; }
        cnt_tr[fm_train.y[i]]++;
    }
    for (long i = 0; i < fm_test.n; i++) {
        if (fm_test.y[i] < 0 || fm_test.y[i] > 9) { lab_ok = 0; break; }
        cnt_te[fm_test.y[i]]++;
    }
    CU_ASSERT(lab_ok);
    for (int c = 0; c < 10; c++) {
        CU_ASSERT_EQUAL(cnt_tr[c], 6000);
        CU_ASSERT_EQUAL(cnt_te[c], 1000);
    }
    float mn = 1e9f, mx = -1e9f;
    for (size_t i = 0; i < (size_t)fm_train.n * 784; i++) {
        mn = fminf(mn, fm_train.x[i]);
        mx = fmaxf(mx, fm_train.x[i]);
    }
    CU_ASSERT_EQUAL(mn, 0.0f);
    CU_ASSERT_EQUAL(mx, 1.0f);
    /* First samples, looked up with Python's gzip module: train label 9, test
     * label 9, the first training image's pixel bytes sum to 76247. */
    CU_ASSERT_EQUAL(fm_train.y[0], 9);
    CU_ASSERT_EQUAL(fm_train.y[1], 0);
    CU_ASSERT_EQUAL(fm_train.y[3], 3);
    CU_ASSERT_EQUAL(fm_test.y[0], 9);
    CU_ASSERT_EQUAL(fm_test.y[1], 2);
    double s = 0;
    for (int i = 0; i < 784; i++) s += fm_train.x[i];
    CU_ASSERT_DOUBLE_EQUAL(s, 76247.0 / 255.0, 1e-3);
}

static void test_fmnist_missing(void)
{
    hf_dataset_t tr, te;
    hf_clearerr();
    int rc = hf_fmnist_load("/nonexistent/hetfl-fmnist", &tr, &te);
    CU_ASSERT_EQUAL(rc, HF_EINPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(hf_errmsg(), "/nonexistent/hetfl-fmnist/train-images-idx3-ubyte"));
    CU_ASSERT_PTR_NOT_NULL(strstr(hf_errmsg(), "HINT: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(hf_errmsg(), "dataset-fashion-mnist"));
    CU_ASSERT(tr.x == NULL && tr.y == NULL && te.x == NULL);
}

/* A small valid images file: 3 images of 2x4, bytes 0..23 scaled. */
static size_t make_images(unsigned char *b, uint32_t magic, uint32_t n, uint32_t r, uint32_t c)
{
    put_be32(b, magic);
    put_be32(b + 4, n);
    put_be32(b + 8, r);
    put_be32(b + 12, c);
    for (int i = 0; i < 24; i++) b[16 + i] = (unsigned char)(i * 11);
    return 16 + 24;
}

static void test_idx_files(void)
{
    unsigned char img[64], lab[16];
    size_t li = make_images(img, 0x803, 3, 2, 4);
    put_be32(lab, 0x801);
    put_be32(lab + 4, 3);
    lab[8] = 2; lab[9] = 0; lab[10] = 7;
    size_t ll = 11;

    /* Valid plain and gzip files. */
    CU_ASSERT_FATAL(write_file(tmp_path("img"), img, li) == 0);
    CU_ASSERT_FATAL(write_gz(tmp_path("lab.gz"), lab, ll) == 0);
    hf_dataset_t d;
    memset(&d, 0, sizeof d);
    CU_ASSERT_EQUAL(hf_idx_read_images(tmp_path("img"), &d), HF_OK);
    CU_ASSERT_EQUAL(hf_idx_read_labels(tmp_path("lab.gz"), &d), HF_OK);
    CU_ASSERT_EQUAL(d.n, 3);
    CU_ASSERT(d.c == 1 && d.h == 2 && d.w == 4 && d.dim == 8);
    CU_ASSERT_EQUAL(d.n_classes, 8);
    CU_ASSERT(d.y && d.y[0] == 2 && d.y[1] == 0 && d.y[2] == 7);
    CU_ASSERT(d.x && fabsf(d.x[23] - 253.0f / 255.0f) < 1e-7f && d.x[0] == 0.0f);
    CU_ASSERT(d.x && fabsf(d.x[5] - 55.0f / 255.0f) < 1e-7f);
    CU_ASSERT_EQUAL((uintptr_t)d.x % 64, 0);
    hf_dataset_free(&d);
    CU_ASSERT(d.x == NULL && d.n == 0);

    /* Labels that do not match the images' count. */
    memset(&d, 0, sizeof d);
    put_be32(lab + 4, 2);
    CU_ASSERT_FATAL(write_file(tmp_path("lab2"), lab, 10) == 0);
    CU_ASSERT_EQUAL(hf_idx_read_images(tmp_path("img"), &d), HF_OK);
    CU_ASSERT_EQUAL(hf_idx_read_labels(tmp_path("lab2"), &d), HF_EINPUT);
    hf_dataset_free(&d);
    put_be32(lab + 4, 3);

    /* Error cases, each checked for HF_EINPUT and "PATH: reason". */
    struct { const char *name; unsigned char buf[64]; size_t len; int images; } bad[12];
    int nb = 0;
    /* wrong magic (labels magic in an images file) */
    bad[nb].name = "magic"; make_images(bad[nb].buf, 0x801, 3, 2, 4); bad[nb].len = li; bad[nb++].images = 1;
    /* wrong element type */
    bad[nb].name = "type"; make_images(bad[nb].buf, 0xD03, 3, 2, 4); bad[nb].len = li; bad[nb++].images = 1;
    /* truncated data */
    bad[nb].name = "trunc"; make_images(bad[nb].buf, 0x803, 3, 2, 4); bad[nb].len = li - 1; bad[nb++].images = 1;
    /* truncated header */
    bad[nb].name = "hdr"; make_images(bad[nb].buf, 0x803, 3, 2, 4); bad[nb].len = 10; bad[nb++].images = 1;
    /* trailing bytes */
    bad[nb].name = "trail"; make_images(bad[nb].buf, 0x803, 2, 2, 4); bad[nb].len = li; bad[nb++].images = 1;
    /* dimension overflow */
    bad[nb].name = "ovf"; make_images(bad[nb].buf, 0x803, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu); bad[nb].len = li; bad[nb++].images = 1;
    /* zero rows */
    bad[nb].name = "zero"; make_images(bad[nb].buf, 0x803, 3, 0, 4); bad[nb].len = li; bad[nb++].images = 1;
    /* empty file */
    bad[nb].name = "empty"; bad[nb].len = 0; bad[nb++].images = 1;
    /* labels: truncated, wrong magic, count overflow-ish (more than present) */
    bad[nb].name = "ltrunc"; memcpy(bad[nb].buf, lab, ll); bad[nb].len = ll - 1; bad[nb++].images = 0;
    bad[nb].name = "lmagic"; memcpy(bad[nb].buf, img, li); bad[nb].len = li; bad[nb++].images = 0;
    bad[nb].name = "lhuge"; memcpy(bad[nb].buf, lab, ll); put_be32(bad[nb].buf + 4, 0xFFFFFFFFu); bad[nb].len = ll; bad[nb++].images = 0;
    for (int i = 0; i < nb; i++) {
        const char *path = tmp_path(bad[i].name);
        CU_ASSERT_FATAL(write_file(path, bad[i].buf, bad[i].len) == 0);
        memset(&d, 0, sizeof d);
        hf_clearerr();
        int rc = bad[i].images ? hf_idx_read_images(path, &d) : hf_idx_read_labels(path, &d);
        CU_ASSERT_EQUAL(rc, HF_EINPUT);
        CU_ASSERT_EQUAL(strncmp(hf_errmsg(), path, strlen(path)), 0);
        CU_ASSERT(d.x == NULL && d.y == NULL);
        hf_dataset_free(&d);
    }

    /* A missing file. */
    memset(&d, 0, sizeof d);
    CU_ASSERT_EQUAL(hf_idx_read_images(tmp_path("nonexistent"), &d), HF_EINPUT);

    /* Truncated and corrupted gzip. */
    unsigned char big[16 + 3 * 1000];
    put_be32(big, 0x803);
    put_be32(big + 4, 3);
    put_be32(big + 8, 10);
    put_be32(big + 12, 100);
    hf_rng_t r;
    hf_rng_init(&r, 5, HF_RNG_TEST, 0, 0);
    for (size_t i = 16; i < sizeof big; i++) big[i] = (unsigned char)hf_rng_below(&r, 256);
    CU_ASSERT_FATAL(write_gz(tmp_path("big.gz"), big, sizeof big) == 0);
    memset(&d, 0, sizeof d);
    CU_ASSERT_EQUAL(hf_idx_read_images(tmp_path("big.gz"), &d), HF_OK);
    CU_ASSERT(d.n == 3 && d.dim == 1000);
    hf_dataset_free(&d);
    size_t gzlen = 0;
    unsigned char *gz = read_all(tmp_path("big.gz"), &gzlen);
    CU_ASSERT_FATAL(gz != NULL && gzlen > 100);
    size_t cutlens[3] = { gzlen - 4, gzlen / 2, 12 };
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_FATAL(write_file(tmp_path("cut.gz"), gz, cutlens[i]) == 0);
        memset(&d, 0, sizeof d);
        hf_clearerr();
        CU_ASSERT_EQUAL(hf_idx_read_images(tmp_path("cut.gz"), &d), HF_EINPUT);
        CU_ASSERT_PTR_NOT_NULL(strstr(hf_errmsg(), "cut.gz"));
        hf_dataset_free(&d);
    }
    gz[gzlen / 2] ^= 0x5A;
    CU_ASSERT_FATAL(write_file(tmp_path("bad.gz"), gz, gzlen) == 0);
    memset(&d, 0, sizeof d);
    CU_ASSERT_EQUAL(hf_idx_read_images(tmp_path("bad.gz"), &d), HF_EINPUT);
    hf_dataset_free(&d);
    free(gz);
}

/* Every truncation of valid IDX buffers fails cleanly (parsers from memory). */
static void test_idx_parse_truncations(void)
{
    unsigned char img[64], lab[16];
    size_t li = make_images(img, 0x803, 3, 2, 4);
    put_be32(lab, 0x801);
    put_be32(lab + 4, 3);
    lab[8] = 1; lab[9] = 2; lab[10] = 3;
    int all_fail = 1;
    for (size_t len = 0; len < li; len++) {
        unsigned char *b = malloc(len ? len : 1);
        memcpy(b, img, len);
        hf_dataset_t d;
        memset(&d, 0, sizeof d);
        if (hf_idx_parse_images(b, len, "mem", &d) != HF_EINPUT || d.x) all_fail = 0;
        hf_dataset_free(&d);
        free(b);
    }
    for (size_t len = 0; len < 11; len++) {
        unsigned char *b = malloc(len ? len : 1);
        memcpy(b, lab, len);
        hf_dataset_t d;
        memset(&d, 0, sizeof d);
        if (hf_idx_parse_labels(b, len, "mem", &d) != HF_EINPUT || d.y) all_fail = 0;
        hf_dataset_free(&d);
        free(b);
    }
    CU_ASSERT(all_fail);
    hf_dataset_t d;
    memset(&d, 0, sizeof d);
    CU_ASSERT_EQUAL(hf_idx_parse_labels(lab, 11, "mem", &d), HF_OK);
    CU_ASSERT_EQUAL(d.n_classes, 4);
    CU_ASSERT_EQUAL(hf_idx_parse_images(img, li, "mem", &d), HF_OK);
    CU_ASSERT_EQUAL(d.dim, 8);
    hf_dataset_free(&d);
}

/* ------------------------------------------------------------------ */
/* Partitions                                                          */

static void test_partition_iid(void)
{
    hf_partition_t a, b, c;
    CU_ASSERT_EQUAL_FATAL(hf_partition_iid(1000, 7, 11, &a), HF_OK);
    CU_ASSERT_EQUAL(a.nclients, 7);
    CU_ASSERT(partition_is_exact(&a, 1000));
    int sizes_ok = 1;
    for (int k = 0; k < 7; k++)   /* 1000 = 7*142 + 6: the first 6 get 143 */
        if (a.off[k + 1] - a.off[k] != (k < 6 ? 143 : 142)) sizes_ok = 0;
    CU_ASSERT(sizes_ok);
    CU_ASSERT_EQUAL_FATAL(hf_partition_iid(1000, 7, 11, &b), HF_OK);
    CU_ASSERT(partition_equal(&a, &b));
    CU_ASSERT_EQUAL_FATAL(hf_partition_iid(1000, 7, 12, &c), HF_OK);
    CU_ASSERT(!partition_equal(&a, &c));
    /* it is shuffled: not the identity */
    long fixed = 0;
    for (long i = 0; i < 1000; i++) fixed += a.idx[i] == i;
    CU_ASSERT(fixed < 50);
    hf_partition_free(&a);
    hf_partition_free(&b);
    hf_partition_free(&c);
    CU_ASSERT(a.off == NULL && a.idx == NULL);

    /* More clients than samples: the last N - n clients get nothing. */
    double t0 = hf_wtime();
    CU_ASSERT_EQUAL_FATAL(hf_partition_iid(60000, 100000, 3, &a), HF_OK);
    CU_ASSERT(hf_wtime() - t0 < 2.0);
    CU_ASSERT(partition_is_exact(&a, 60000));
    CU_ASSERT_EQUAL(a.off[60000], 60000);
    CU_ASSERT_EQUAL(a.off[1], 1);
    CU_ASSERT_EQUAL(a.off[100000] - a.off[99999], 0);
    hf_partition_free(&a);

    /* Bad arguments. */
    CU_ASSERT_EQUAL(hf_partition_iid(100, 0, 1, &a), HF_EINPUT);
    CU_ASSERT_EQUAL(hf_partition_iid(100, -3, 1, &a), HF_EINPUT);
    CU_ASSERT_EQUAL(hf_partition_iid(-1, 3, 1, &a), HF_EINPUT);
    CU_ASSERT(a.off == NULL);
}

static void check_shards_on(const int *y, long n, int nclass, int nclients)
{
    hf_partition_t a, b, c;
    CU_ASSERT_EQUAL_FATAL(hf_partition_shards(y, n, nclients, 21, &a), HF_OK);
    CU_ASSERT(partition_is_exact(&a, n));
    int sizes_ok = 1, labels_ok = 1, maxlab = 0;
    for (int k = 0; k < nclients; k++) {
        if (a.off[k + 1] - a.off[k] != n / nclients) sizes_ok = 0;
        int m = client_labels(&a, y, k, nclass);
        if (m > 2) labels_ok = 0;
        maxlab = HF_MAX(maxlab, m);
    }
    CU_ASSERT(sizes_ok);
    CU_ASSERT(labels_ok);
    CU_ASSERT_EQUAL(maxlab, 2);  /* and some client really holds two */
    CU_ASSERT_EQUAL_FATAL(hf_partition_shards(y, n, nclients, 21, &b), HF_OK);
    CU_ASSERT(partition_equal(&a, &b));
    CU_ASSERT_EQUAL_FATAL(hf_partition_shards(y, n, nclients, 22, &c), HF_OK);
    CU_ASSERT(!partition_equal(&a, &c));
    hf_partition_free(&a);
    hf_partition_free(&b);
    hf_partition_free(&c);
}

static void test_partition_shards(void)
{
    /* 10 classes x 6000 labels (like Fashion-MNIST), 100 clients: shards of 300. */
    int *y = make_labels(10, 6000, 1);
    check_shards_on(y, 60000, 10, 100);
    if (fm_ok) check_shards_on(fm_train.y, fm_train.n, 10, 100);

    /* Leftovers: 1003 samples, 5 clients → 10 shards of 100, the last 103. */
    hf_partition_t p;
    CU_ASSERT_EQUAL_FATAL(hf_partition_shards(y, 1003, 5, 3, &p), HF_OK);
    CU_ASSERT(partition_is_exact(&p, 1003));
    int big = 0;
    for (int k = 0; k < 5; k++) {
        long sz = p.off[k + 1] - p.off[k];
        CU_ASSERT(sz == 200 || sz == 203);
        big += sz == 203;
    }
    CU_ASSERT_EQUAL(big, 1);
    hf_partition_free(&p);

    /* Bad arguments. */
    CU_ASSERT_EQUAL(hf_partition_shards(y, 100, 0, 1, &p), HF_EINPUT);
    CU_ASSERT_EQUAL(hf_partition_shards(y, 9, 5, 1, &p), HF_EINPUT);  /* fewer samples than shards */
    int neg[20];
    for (int i = 0; i < 20; i++) neg[i] = i % 3;
    neg[7] = -1;
    CU_ASSERT_EQUAL(hf_partition_shards(neg, 20, 2, 1, &p), HF_EINPUT);
    CU_ASSERT(p.off == NULL);
    /* Sparse huge labels take the comparison-sort path. */
    int sparse[40];
    for (int i = 0; i < 40; i++) sparse[i] = (i % 2) ? 2000000000 : 5;
    CU_ASSERT_EQUAL_FATAL(hf_partition_shards(sparse, 40, 2, 1, &p), HF_OK);
    CU_ASSERT(partition_is_exact(&p, 40));
    int pure = 1;
    for (int k = 0; k < 2; k++)
        for (int s = 0; s < 2; s++) {  /* every shard of 10 is one label */
            long a0 = p.off[k] + 10 * s;
            for (long i = a0; i < a0 + 10; i++)
                if (sparse[p.idx[i]] != sparse[p.idx[a0]]) pure = 0;
        }
    CU_ASSERT(pure);
    hf_partition_free(&p);
    free(y);
}

/* NIID-Bench's label-Dirichlet partition (Li et al. 2022, partition.py "noniid-labeldir",
 * ALGORITHMS.md), written again for the test from that description: attempt t draws
 * from stream (seed, PARTITION, t, 3); per class c in label order, shuffle its indices
 * (ascending first; Fisher-Yates), p ~ Dir(alpha), p_j = 0 for clients already holding
 * >= n/N samples, renormalise, client j takes the shuffled class from floor(cumsum_{<j}
 * p len) to floor(cumsum_{<=j} p len); repeat until every client has >= min_size.
 * Returns the partition in CSR form (client j: its classes in order) or -1. */
static int ref_dirichlet(const int *y, long n, int C, int N, double alpha, int min_size, uint64_t seed,
                         long *off, long *idx)
{
    long **cls = calloc((size_t)C, sizeof(long *)), *len = calloc((size_t)C, sizeof(long));
    for (long i = 0; i < n; i++) len[y[i]]++;
    for (int c = 0; c < C; c++) cls[c] = malloc((size_t)(len[c] ? len[c] : 1) * sizeof(long));
    long *cut = malloc((size_t)C * (N + 1) * sizeof(long)), *size = malloc((size_t)N * sizeof(long));
    double *p = malloc((size_t)N * sizeof(double));
    int ok = 0;
    for (int t = 0; t < 1000 && !ok; t++) {
        hf_rng_t r;
        hf_rng_init(&r, seed, HF_RNG_PARTITION, (uint64_t)t, 3);
        long fill[1024] = {0};
        for (long i = 0; i < n; i++) cls[y[i]][fill[y[i]]++] = i;
        for (int j = 0; j < N; j++) size[j] = 0;
        for (int c = 0; c < C; c++) {
            for (long i = len[c] - 1; i > 0; i--) {
                long k = (long)hf_rng_below(&r, (uint64_t)i + 1), tmp = cls[c][i];
                cls[c][i] = cls[c][k];
                cls[c][k] = tmp;
            }
            hf_rng_dirichlet(&r, alpha, N, p);
            double sum = 0, cum = 0;
            for (int j = 0; j < N; j++) {
                if ((double)size[j] >= (double)n / N) p[j] = 0;
                sum += p[j];
            }
            long *ct = cut + (long)c * (N + 1);
            ct[0] = 0;
            for (int j = 0; j < N; j++) {
                cum += p[j] / sum;
                ct[j + 1] = j == N - 1 ? len[c] : (long)floor(cum * (double)len[c]);
                if (ct[j + 1] > len[c]) ct[j + 1] = len[c];
                if (ct[j + 1] < ct[j]) ct[j + 1] = ct[j];
                size[j] += ct[j + 1] - ct[j];
            }
        }
        ok = 1;
        for (int j = 0; j < N; j++) ok &= size[j] >= min_size;
    }
    if (ok) {
        long w = 0;
        off[0] = 0;
        for (int j = 0; j < N; j++) {
            for (int c = 0; c < C; c++)
                for (long q = cut[(long)c * (N + 1) + j]; q < cut[(long)c * (N + 1) + j + 1]; q++)
                    idx[w++] = cls[c][q];
            off[j + 1] = w;
        }
    }
    for (int c = 0; c < C; c++) free(cls[c]);
    free(cls); free(len); free(cut); free(size); free(p);
    return ok ? 0 : -1;
}

/* The balance cap, from the partition alone: walking a client's classes in label
 * order, once it holds >= n/N samples it receives nothing from later classes — except
 * the last client, which takes what the floor of the last cut point leaves (at most one
 * sample when the others' shares sum to 1 - ulp; NIID-Bench's np.split does the same). */
static int dirichlet_cap_holds(const hf_partition_t *p, const int *y, int C, long n, int *binding)
{
    int N = p->nclients, ok = 1;
    *binding = 0;
    long *cnt = calloc((size_t)C, sizeof(long));
    for (int j = 0; j < N; j++) {
        memset(cnt, 0, (size_t)C * sizeof(long));
        for (long i = p->off[j]; i < p->off[j + 1]; i++) cnt[y[p->idx[i]]]++;
        long held = 0;
        for (int c = 0; c < C; c++) {
            if ((double)held >= (double)n / N) {
                *binding += 1;
                if (cnt[c] > (j == N - 1)) ok = 0;
            }
            held += cnt[c];
        }
    }
    free(cnt);
    return ok;
}

static void test_partition_dirichlet(void)
{
    int *y = make_labels(10, 1000, 2);
    long n = 10000;
    hf_partition_t a, b, c, big;
    CU_ASSERT_EQUAL_FATAL(hf_partition_dirichlet(y, n, 10, 20, 0.1, 10, 5, &a), HF_OK);
    CU_ASSERT_EQUAL(a.nclients, 20);
    CU_ASSERT(partition_is_exact(&a, n));
    long mn = n;
    for (int k = 0; k < 20; k++) mn = HF_MIN(mn, a.off[k + 1] - a.off[k]);
    CU_ASSERT(mn >= 10);
    CU_ASSERT_EQUAL_FATAL(hf_partition_dirichlet(y, n, 10, 20, 0.1, 10, 5, &b), HF_OK);
    CU_ASSERT(partition_equal(&a, &b));
    CU_ASSERT_EQUAL_FATAL(hf_partition_dirichlet(y, n, 10, 20, 0.1, 10, 6, &c), HF_OK);
    CU_ASSERT(!partition_equal(&a, &c));
    /* the cap binds (some client reaches n/N before its last class) and holds */
    int binding = 0;
    CU_ASSERT(dirichlet_cap_holds(&a, y, 10, n, &binding));
    CU_ASSERT(binding > 0);
    CU_ASSERT(dirichlet_cap_holds(&c, y, 10, n, &binding));
    /* the same partitions as the reference, sample for sample; min_size: s0 (the smallest
     * client of the first attempt) accepts that attempt, s0 + 1 and s0 + 5 need more */
    {
        static long roff[41], ridx[10000];
        hf_partition_t q = {.nclients = 20, .off = roff, .idx = ridx};
        CU_ASSERT_EQUAL_FATAL(ref_dirichlet(y, n, 10, 20, 0.1, 10, 5, roff, ridx), 0);
        CU_ASSERT(partition_equal(&a, &q));
        CU_ASSERT_EQUAL_FATAL(ref_dirichlet(y, n, 10, 20, 0.1, 10, 6, roff, ridx), 0);
        CU_ASSERT(partition_equal(&c, &q));
        CU_ASSERT_EQUAL_FATAL(ref_dirichlet(y, n, 10, 40, 0.3, 0, 9, roff, ridx), 0);
        long s0 = n;
        for (int k = 0; k < 40; k++) s0 = HF_MIN(s0, roff[k + 1] - roff[k]);
        int sizes[3] = {(int)s0, (int)s0 + 1, (int)s0 + 5};
        for (int t = 0; t < 3; t++) {
            hf_partition_t d;
            CU_ASSERT_EQUAL_FATAL(hf_partition_dirichlet(y, n, 10, 40, 0.3, sizes[t], 9, &d), HF_OK);
            CU_ASSERT_EQUAL_FATAL(ref_dirichlet(y, n, 10, 40, 0.3, sizes[t], 9, roff, ridx), 0);
            q.nclients = 40;
            CU_ASSERT(partition_equal(&d, &q));
            long mn = n;
            for (int k = 0; k < 40; k++) mn = HF_MIN(mn, d.off[k + 1] - d.off[k]);
            printf("(min_size %d: smallest client %ld) ", sizes[t], mn);
            CU_ASSERT(mn >= sizes[t]);
            hf_partition_free(&d);
        }
    }
    CU_ASSERT_EQUAL_FATAL(hf_partition_dirichlet(y, n, 10, 20, 100.0, 10, 5, &big), HF_OK);
    CU_ASSERT(partition_is_exact(&big, n));
    double s_small = label_skew(&a, y, 10), s_big = label_skew(&big, y, 10);
    printf("\n    dirichlet skew (mean majority-class share): alpha 0.1 %.3f, alpha 100 %.3f ",
           s_small, s_big);
    CU_ASSERT(s_small > 0.5);
    CU_ASSERT(s_big < 0.25);
    CU_ASSERT(s_small > s_big + 0.3);
    /* large alpha: sizes close to n/N */
    long bmn = n, bmx = 0;
    for (int k = 0; k < 20; k++) {
        bmn = HF_MIN(bmn, big.off[k + 1] - big.off[k]);
        bmx = HF_MAX(bmx, big.off[k + 1] - big.off[k]);
    }
    CU_ASSERT(bmn > 300 && bmx < 700);
    hf_partition_free(&a);
    hf_partition_free(&b);
    hf_partition_free(&c);
    hf_partition_free(&big);

    /* Many clients: 100,000 clients over 60,000 samples (min_size 0). */
    int *y6 = make_labels(10, 6000, 3);
    double t0 = hf_wtime();
    CU_ASSERT_EQUAL_FATAL(hf_partition_dirichlet(y6, 60000, 10, 100000, 0.5, 0, 1, &a), HF_OK);
    CU_ASSERT(hf_wtime() - t0 < 5.0);
    CU_ASSERT(partition_is_exact(&a, 60000));
    hf_partition_free(&a);
    free(y6);

    /* Impossible: fails fast with HF_EINPUT. */
    hf_clearerr();
    CU_ASSERT_EQUAL(hf_partition_dirichlet(y, n, 10, 2000, 0.5, 10, 1, &a), HF_EINPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(hf_errmsg(), "cannot give every client"));
    /* Feasible by count but never reached: 2 classes of 50, 10 clients of >= 10,
     * alpha 0.01 puts each class on about one client → gives up after the attempts. */
    int two[100];
    for (int i = 0; i < 100; i++) two[i] = i % 2;
    hf_clearerr();
    CU_ASSERT_EQUAL(hf_partition_dirichlet(two, 100, 2, 10, 0.01, 10, 1, &a), HF_EINPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(hf_errmsg(), "cannot give every client"));
    CU_ASSERT(a.off == NULL && a.idx == NULL);
    /* Bad arguments. */
    CU_ASSERT_EQUAL(hf_partition_dirichlet(y, n, 10, 20, 0.0, 10, 1, &a), HF_EINPUT);
    CU_ASSERT_EQUAL(hf_partition_dirichlet(y, n, 10, 20, -1.0, 10, 1, &a), HF_EINPUT);
    CU_ASSERT_EQUAL(hf_partition_dirichlet(y, n, 10, 20, NAN, 10, 1, &a), HF_EINPUT);
    CU_ASSERT_EQUAL(hf_partition_dirichlet(y, n, 10, 0, 0.5, 10, 1, &a), HF_EINPUT);
    CU_ASSERT_EQUAL(hf_partition_dirichlet(y, n, 5, 20, 0.5, 10, 1, &a), HF_EINPUT);  /* labels >= 5 */
    CU_ASSERT_EQUAL(hf_partition_dirichlet(y, n, 0, 20, 0.5, 10, 1, &a), HF_EINPUT);
    free(y);
}

/* ------------------------------------------------------------------ */
/* Synthetic                                                           */

static void test_synthetic(void)
{
    hf_dataset_t tr, te, tr2, te2, tr3, te3;
    hf_partition_t ptr, pte, ptr2, pte2, ptr3, pte3;
    CU_ASSERT_EQUAL_FATAL(hf_synthetic_generate(1, 1, 0, 0, 30, 60, 10, 42, &tr, &te, &ptr, &pte), HF_OK);
    CU_ASSERT_EQUAL(ptr.nclients, 30);
    CU_ASSERT_EQUAL(pte.nclients, 30);
    CU_ASSERT(tr.dim == 60 && tr.c == 1 && tr.h == 1 && tr.w == 60 && tr.n_classes == 10);
    CU_ASSERT(te.dim == 60 && te.n_classes == 10);
    CU_ASSERT(partition_is_exact(&ptr, tr.n));
    CU_ASSERT(partition_is_exact(&pte, te.n));
    int sizes_ok = 1, split_ok = 1;
    for (int k = 0; k < 30; k++) {
        long a = ptr.off[k + 1] - ptr.off[k], b = pte.off[k + 1] - pte.off[k];
        if (a + b < 50) sizes_ok = 0;
        if (a != (long)(0.9 * (double)(a + b))) split_ok = 0;
    }
    CU_ASSERT(sizes_ok);
    CU_ASSERT(split_ok);
    int lab_ok = 1, fin_ok = 1;
    long hist[10] = {0};
    for (long i = 0; i < tr.n; i++) {
        if (tr.y[i] < 0 || tr.y[i] >= 10) lab_ok = 0;
        else hist[tr.y[i]]++;
    }
    for (long i = 0; i < te.n; i++)
        if (te.y[i] < 0 || te.y[i] >= 10) lab_ok = 0;
    for (size_t i = 0; i < (size_t)tr.n * 60; i++)
        if (!isfinite(tr.x[i])) fin_ok = 0;
    CU_ASSERT(lab_ok);
    CU_ASSERT(fin_ok);
    int used = 0;
    for (int c = 0; c < 10; c++) used += hist[c] > 0;
    CU_ASSERT(used >= 3);
    /* non-iid: devices' label distributions differ — some device's majority
     * label differs from another's */
    CU_ASSERT(label_skew(&ptr, tr.y, 10) > 0.3);

    /* Determinism, and independence from generation order: 10 devices give the
     * first 10 devices of 30. */
    CU_ASSERT_EQUAL_FATAL(hf_synthetic_generate(1, 1, 0, 0, 10, 60, 10, 42, &tr2, &te2, &ptr2, &pte2), HF_OK);
    CU_ASSERT_EQUAL(ptr2.off[10], ptr.off[10]);
    CU_ASSERT_EQUAL(pte2.off[10], pte.off[10]);
    CU_ASSERT(memcmp(tr2.x, tr.x, (size_t)ptr2.off[10] * 60 * sizeof(float)) == 0);
    CU_ASSERT(memcmp(tr2.y, tr.y, (size_t)ptr2.off[10] * sizeof(int)) == 0);
    CU_ASSERT(memcmp(te2.x, te.x, (size_t)pte2.off[10] * 60 * sizeof(float)) == 0);
    CU_ASSERT_EQUAL_FATAL(hf_synthetic_generate(1, 1, 0, 0, 30, 60, 10, 43, &tr3, &te3, &ptr3, &pte3), HF_OK);
    CU_ASSERT(tr3.n != tr.n || memcmp(tr3.x, tr.x, (size_t)tr.n * 60 * sizeof(float)) != 0);
    hf_dataset_free(&tr2); hf_dataset_free(&te2); hf_partition_free(&ptr2); hf_partition_free(&pte2);
    hf_dataset_free(&tr3); hf_dataset_free(&te3); hf_partition_free(&ptr3); hf_partition_free(&pte3);
    hf_dataset_free(&tr); hf_dataset_free(&te); hf_partition_free(&ptr); hf_partition_free(&pte);

    /* iid variant: alpha, beta unused; x ~ N(0, diag(j^-1.2)). */
    CU_ASSERT_EQUAL_FATAL(hf_synthetic_generate(0, 0, 1, 0, 30, 60, 10, 7, &tr, &te, &ptr, &pte), HF_OK);
    CU_ASSERT_EQUAL_FATAL(hf_synthetic_generate(5, 3, 1, 0, 30, 60, 10, 7, &tr2, &te2, &ptr2, &pte2), HF_OK);
    CU_ASSERT_EQUAL(tr.n, tr2.n);
    CU_ASSERT(tr.n == tr2.n && memcmp(tr.x, tr2.x, (size_t)tr.n * 60 * sizeof(float)) == 0);
    CU_ASSERT(partition_is_exact(&ptr, tr.n));
    double m0 = 0, v0 = 0, v59 = 0;
    for (long i = 0; i < tr.n; i++) {
        m0 += tr.x[i * 60];
        v0 += (double)tr.x[i * 60] * tr.x[i * 60];
        v59 += (double)tr.x[i * 60 + 59] * tr.x[i * 60 + 59];
    }
    m0 /= tr.n; v0 /= tr.n; v59 /= tr.n;
    CU_ASSERT(fabs(m0) < 0.15);
    CU_ASSERT(v0 > 0.8 && v0 < 1.2);
    CU_ASSERT(fabs(v59 / pow(60.0, -1.2) - 1.0) < 0.2);
    lab_ok = 1;
    for (long i = 0; i < tr.n; i++)
        if (tr.y[i] < 0 || tr.y[i] >= 10) lab_ok = 0;
    CU_ASSERT(lab_ok);
    hf_dataset_free(&tr2); hf_dataset_free(&te2); hf_partition_free(&ptr2); hf_partition_free(&pte2);
    hf_dataset_free(&tr); hf_dataset_free(&te); hf_partition_free(&ptr); hf_partition_free(&pte);

    /* Bad arguments. */
    CU_ASSERT_EQUAL(hf_synthetic_generate(1, 1, 0, 0, 0, 60, 10, 1, &tr, &te, &ptr, &pte), HF_EINPUT);
    CU_ASSERT_EQUAL(hf_synthetic_generate(-1, 1, 0, 0, 30, 60, 10, 1, &tr, &te, &ptr, &pte), HF_EINPUT);
    CU_ASSERT_EQUAL(hf_synthetic_generate(1, NAN, 0, 0, 30, 60, 10, 1, &tr, &te, &ptr, &pte), HF_EINPUT);
    CU_ASSERT_EQUAL(hf_synthetic_generate(1, 1, 0, 0, 30, 0, 10, 1, &tr, &te, &ptr, &pte), HF_EINPUT);
    CU_ASSERT_EQUAL(hf_synthetic_generate(1, 1, 0, 0, 30, 60, 1, 1, &tr, &te, &ptr, &pte), HF_EINPUT);
    CU_ASSERT(tr.x == NULL && ptr.off == NULL);
}

/* ------------------------------------------------------------------ */
/* LEAF JSON                                                           */

/* Parse a string from an exact-size heap copy (no NUL: overreads show in valgrind). */
static int leaf_str(const char *s, size_t len, hf_dataset_t *d, hf_partition_t *p)
{
    char *b = malloc(len ? len : 1);
    memcpy(b, s, len);
    memset(d, 0, sizeof *d);
    int rc = hf_leaf_parse(b, len, "t.json", d, p);
    free(b);
    return rc;
}

static const char *leaf_good =
    "{\n"
    "  \"user_data\": {\n"
    "    \"bob\": {\"y\": [1, 0.0, 3e0], \"x\": [[-1.5e-1, 2E+2], [0, -0], [1e-400, 0.25]]},\n"
    "    \"extra\": {\"x\": [[9, 9]], \"y\": [9]},\n"
    "    \"al\\u0069ce\": {\"x\": [ [ 1 , 2 ] ], \"y\": [ 2 ], \"meta\": {\"a\": [1, {\"b\": null}], \"t\": true}}\n"
    "  },\n"
    "  \"hierarchies\": [],\n"
    "  \"users\": [\"alice\", \"bob\"],\n"
    "  \"num_samples\": [1, 3]\n"
    "}\n";

static void test_leaf_small(void)
{
    hf_dataset_t d;
    hf_partition_t p;
    int rc = leaf_str(leaf_good, strlen(leaf_good), &d, &p);
    if (rc) printf("\n    %s\n", hf_errmsg());
    CU_ASSERT_EQUAL_FATAL(rc, HF_OK);
    CU_ASSERT_EQUAL(d.n, 4);
    CU_ASSERT(d.dim == 2 && d.c == 1 && d.h == 1 && d.w == 2);
    CU_ASSERT_EQUAL(d.n_classes, 4);  /* max listed label 3 ("extra" is not listed) */
    CU_ASSERT_EQUAL(p.nclients, 2);
    CU_ASSERT(p.off[0] == 0 && p.off[1] == 1 && p.off[2] == 4);
    CU_ASSERT(partition_is_exact(&p, 4));
    /* users order: alice first */
    CU_ASSERT(d.x[0] == 1.0f && d.x[1] == 2.0f && d.y[0] == 2);
    CU_ASSERT(fabsf(d.x[2] + 0.15f) < 1e-7f && d.x[3] == 200.0f);
    CU_ASSERT(d.x[4] == 0.0f && d.x[5] == 0.0f && d.x[6] == 0.0f && d.x[7] == 0.25f);
    CU_ASSERT(d.y[1] == 1 && d.y[2] == 0 && d.y[3] == 3);
    CU_ASSERT_EQUAL((uintptr_t)d.x % 64, 0);
    hf_dataset_free(&d);
    hf_partition_free(&p);

    /* Given n_classes larger than max label + 1 is kept. */
    const char *s = "{\"users\":[\"a\"],\"num_samples\":[1],\"user_data\":{\"a\":{\"x\":[[1]],\"y\":[0]}}}";
    char *b = malloc(strlen(s));
    memcpy(b, s, strlen(s));
    memset(&d, 0, sizeof d);
    d.n_classes = 10;
    CU_ASSERT_EQUAL(hf_leaf_parse(b, strlen(s), "t.json", &d, &p), HF_OK);
    CU_ASSERT_EQUAL(d.n_classes, 10);
    CU_ASSERT_EQUAL(d.dim, 1);
    hf_dataset_free(&d);
    hf_partition_free(&p);
    free(b);

    /* A user with zero samples is a client with no data. */
    s = "{\"users\":[\"a\",\"b\"],\"num_samples\":[0,1],\"user_data\":{\"a\":{\"x\":[],\"y\":[]},"
        "\"b\":{\"x\":[[1,2,3]],\"y\":[4]}}}";
    CU_ASSERT_EQUAL(leaf_str(s, strlen(s), &d, &p), HF_OK);
    CU_ASSERT(p.nclients == 2 && p.off[1] == 0 && p.off[2] == 1 && d.dim == 3 && d.n_classes == 5);
    hf_dataset_free(&d);
    hf_partition_free(&p);

    /* Through a file (plain and gzip). */
    CU_ASSERT_FATAL(write_file(tmp_path("good.json"), leaf_good, strlen(leaf_good)) == 0);
    CU_ASSERT_FATAL(write_gz(tmp_path("good.json.gz"), leaf_good, strlen(leaf_good)) == 0);
    memset(&d, 0, sizeof d);
    CU_ASSERT_EQUAL(hf_leaf_load(tmp_path("good.json"), &d, &p), HF_OK);
    CU_ASSERT_EQUAL(d.n, 4);
    hf_dataset_free(&d);
    hf_partition_free(&p);
    memset(&d, 0, sizeof d);
    CU_ASSERT_EQUAL(hf_leaf_load(tmp_path("good.json.gz"), &d, &p), HF_OK);
    CU_ASSERT_EQUAL(d.n, 4);
    hf_dataset_free(&d);
    hf_partition_free(&p);
    memset(&d, 0, sizeof d);
    CU_ASSERT_EQUAL(hf_leaf_load(tmp_path("missing.json"), &d, &p), HF_EINPUT);
}

static void test_leaf_malformed(void)
{
#define U1 "\"users\":[\"a\"],\"num_samples\":[2],"
#define D1(x, y) "\"user_data\":{\"a\":{\"x\":" x ",\"y\":" y "}}"
    static const struct { const char *why, *json; } bad[] = {
        { "empty input", "" },
        { "whitespace only", "  \n " },
        { "not an object", "[1,2]" },
        { "null", "null" },
        { "truncated", "{" U1 D1("[[1,2],[3,4]]", "[0,1]") },
        { "truncated in a number", "{\"users\":[\"a\"],\"num_samples\":[2" },
        { "truncated in a string", "{\"users\":[\"a" },
        { "trailing garbage", "{" U1 D1("[[1,2],[3,4]]", "[0,1]") "} x" },
        { "two documents", "{" U1 D1("[[1,2],[3,4]]", "[0,1]") "}{}" },
        { "trailing comma", "{" U1 D1("[[1,2],[3,4],]", "[0,1]") "}" },
        { "missing comma", "{" U1 D1("[[1,2] [3,4]]", "[0,1]") "}" },
        { "rows of different length", "{" U1 D1("[[1,2],[3,4,5]]", "[0,1]") "}" },
        { "empty row", "{" U1 D1("[[],[]]", "[0,1]") "}" },
        { "x not a list of rows", "{" U1 D1("[1,2]", "[0,1]") "}" },
        { "x a string", "{" U1 D1("\"12\"", "[0,1]") "}" },
        { "string in a row", "{" U1 D1("[[1,\"2\"],[3,4]]", "[0,1]") "}" },
        { "true in a row", "{" U1 D1("[[1,true],[3,4]]", "[0,1]") "}" },
        { "nested row", "{" U1 D1("[[[1],[2]],[3,4]]", "[0,1]") "}" },
        { "len(x) != len(y)", "{" U1 D1("[[1,2],[3,4]]", "[0,1,1]") "}" },
        { "num_samples mismatch", "{\"users\":[\"a\"],\"num_samples\":[3]," D1("[[1,2],[3,4]]", "[0,1]") "}" },
        { "users/num_samples lengths", "{\"users\":[\"a\",\"b\"],\"num_samples\":[2]," D1("[[1,2],[3,4]]", "[0,1]") "}" },
        { "user without data", "{\"users\":[\"a\",\"b\"],\"num_samples\":[2,1]," D1("[[1,2],[3,4]]", "[0,1]") "}" },
        { "user listed twice", "{\"users\":[\"a\",\"a\"],\"num_samples\":[2,2]," D1("[[1,2],[3,4]]", "[0,1]") "}" },
        { "user twice in user_data", "{" U1 "\"user_data\":{\"a\":{\"x\":[[1]],\"y\":[0]},\"a\":{\"x\":[[1]],\"y\":[0]}}}" },
        { "missing y", "{" U1 "\"user_data\":{\"a\":{\"x\":[[1,2],[3,4]]}}}" },
        { "duplicate x", "{" U1 "\"user_data\":{\"a\":{\"x\":[[1]],\"x\":[[1]],\"y\":[0]}}}" },
        { "missing users", "{\"num_samples\":[2]," D1("[[1,2],[3,4]]", "[0,1]") "}" },
        { "missing user_data", "{" U1 "\"x\":1}" },
        { "duplicate users key", "{" U1 "\"users\":[\"a\"]," D1("[[1,2],[3,4]]", "[0,1]") "}" },
        { "user not a string", "{\"users\":[7],\"num_samples\":[2]," D1("[[1,2],[3,4]]", "[0,1]") "}" },
        { "negative label", "{" U1 D1("[[1,2],[3,4]]", "[0,-1]") "}" },
        { "fractional label", "{" U1 D1("[[1,2],[3,4]]", "[0,1.5]") "}" },
        { "huge label", "{" U1 D1("[[1,2],[3,4]]", "[0,1e300]") "}" },
        { "label too large", "{" U1 D1("[[1,2],[3,4]]", "[0,1000001]") "}" },
        { "overflowing number", "{" U1 D1("[[1,2],[3,1e400]]", "[0,1]") "}" },
        { "float overflow", "{" U1 D1("[[1,2],[3,1e39]]", "[0,1]") "}" },
        { "negative count", "{\"users\":[\"a\"],\"num_samples\":[-2]," D1("[[1,2],[3,4]]", "[0,1]") "}" },
        { "leading zero", "{" U1 D1("[[01,2],[3,4]]", "[0,1]") "}" },
        { "bare dot", "{" U1 D1("[[1.,2],[3,4]]", "[0,1]") "}" },
        { "leading dot", "{" U1 D1("[[.5,2],[3,4]]", "[0,1]") "}" },
        { "plus sign", "{" U1 D1("[[+1,2],[3,4]]", "[0,1]") "}" },
        { "empty exponent", "{" U1 D1("[[1e,2],[3,4]]", "[0,1]") "}" },
        { "lone minus", "{" U1 D1("[[-,2],[3,4]]", "[0,1]") "}" },
        { "NaN", "{" U1 D1("[[NaN,2],[3,4]]", "[0,1]") "}" },
        { "Infinity", "{" U1 D1("[[Infinity,2],[3,4]]", "[0,1]") "}" },
        { "hex", "{" U1 D1("[[0x10,2],[3,4]]", "[0,1]") "}" },
        { "bad escape", "{\"users\":[\"a\\q\"]}" },
        { "bad unicode escape", "{\"users\":[\"a\\u12G4\"]}" },
        { "control character in string", "{\"users\":[\"a\tb\"]}" },
        { "unquoted key", "{users:[\"a\"]}" },
        { "single quotes", "{'users':['a']}" },
        { "missing colon", "{\"users\" [\"a\"]}" },
        { "bad literal", "{\"meta\": tru," U1 D1("[[1,2],[3,4]]", "[0,1]") "}" },
        { "no samples at all", "{\"users\":[],\"num_samples\":[],\"user_data\":{}}" },
        { "comment", "{/* c */" U1 D1("[[1,2],[3,4]]", "[0,1]") "}" },
    };
#undef U1
#undef D1
    int nbad = (int)(sizeof bad / sizeof bad[0]);
    CU_ASSERT(nbad >= 10);
    for (int i = 0; i < nbad; i++) {
        hf_dataset_t d;
        hf_partition_t p;
        hf_clearerr();
        int rc = leaf_str(bad[i].json, strlen(bad[i].json), &d, &p);
        if (rc != HF_EINPUT) printf("\n    malformed case \"%s\" gave %d\n", bad[i].why, rc);
        CU_ASSERT_EQUAL(rc, HF_EINPUT);
        /* "t.json:LINE: ..." */
        const char *m = hf_errmsg();
        int form = strncmp(m, "t.json:", 7) == 0 && m[7] >= '1' && m[7] <= '9' && strchr(m + 7, ':');
        if (!form) printf("\n    malformed case \"%s\": message \"%s\"\n", bad[i].why, m);
        CU_ASSERT(form);
        CU_ASSERT(d.x == NULL && d.y == NULL && p.off == NULL && p.idx == NULL);
    }
    /* The line number points at the problem. */
    const char *ml = "{\n\"users\": [\"a\"],\n\"num_samples\": [1],\n\"user_data\": {\"a\": {\"x\": [[1]],\n"
                     "\"y\": [0.5]}}}";
    hf_dataset_t d;
    hf_partition_t p;
    CU_ASSERT_EQUAL(leaf_str(ml, strlen(ml), &d, &p), HF_EINPUT);
    CU_ASSERT_EQUAL(strncmp(hf_errmsg(), "t.json:5:", 9), 0);

    /* Deep nesting in a skipped value, and in x. */
    size_t depth = 100000;
    char *deep = malloc(2 * depth + 64);
    size_t L = 0;
    L += (size_t)sprintf(deep, "{\"junk\": ");
    for (size_t i = 0; i < depth; i++) deep[L++] = '[';
    for (size_t i = 0; i < depth; i++) deep[L++] = ']';
    deep[L++] = '}';
    CU_ASSERT_EQUAL(leaf_str(deep, L, &d, &p), HF_EINPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(hf_errmsg(), "nesting"));
    L = (size_t)sprintf(deep, "{\"users\":[\"a\"],\"num_samples\":[1],\"user_data\":{\"a\":{\"x\":");
    for (size_t i = 0; i < depth; i++) deep[L++] = '[';
    CU_ASSERT_EQUAL(leaf_str(deep, L, &d, &p), HF_EINPUT);
    /* Moderate nesting (within the limit) is fine. */
    L = (size_t)sprintf(deep, "{\"junk\": ");
    for (size_t i = 0; i < 50; i++) deep[L++] = '[';
    for (size_t i = 0; i < 50; i++) deep[L++] = ']';
    L += (size_t)sprintf(deep + L, ",\"users\":[\"a\"],\"num_samples\":[1],\"user_data\":{\"a\":{\"x\":[[1]],\"y\":[0]}}}");
    CU_ASSERT_EQUAL(leaf_str(deep, L, &d, &p), HF_OK);
    hf_dataset_free(&d);
    hf_partition_free(&p);
    free(deep);

    /* A very long number literal (valid) and a huge one. */
    char num[4200];
    L = (size_t)sprintf(num, "{\"users\":[\"a\"],\"num_samples\":[1],\"user_data\":{\"a\":{\"x\":[[0.");
    for (int i = 0; i < 3000; i++) num[L++] = '1';
    L += (size_t)sprintf(num + L, "]],\"y\":[0]}}}");
    CU_ASSERT_EQUAL(leaf_str(num, L, &d, &p), HF_OK);
    CU_ASSERT(d.x && fabsf(d.x[0] - 0.11111111f) < 1e-6f);
    hf_dataset_free(&d);
    hf_partition_free(&p);
    L = (size_t)sprintf(num, "{\"users\":[\"a\"],\"num_samples\":[1],\"user_data\":{\"a\":{\"x\":[[1");
    for (int i = 0; i < 3000; i++) num[L++] = '0';
    L += (size_t)sprintf(num + L, "]],\"y\":[0]}}}");
    CU_ASSERT_EQUAL(leaf_str(num, L, &d, &p), HF_EINPUT);
}

/* Every strict prefix of a valid document fails; random mutations never crash
 * and either fail with HF_EINPUT or give a consistent result. */
static void test_leaf_mutations(void)
{
    size_t L = strlen(leaf_good);
    int prefixes_fail = 1;
    for (size_t k = 0; k + 1 < L; k++) {  /* the last byte is a newline */
        hf_dataset_t d;
        hf_partition_t p;
        if (leaf_str(leaf_good, k, &d, &p) != HF_EINPUT) prefixes_fail = 0;
        hf_dataset_free(&d);
        hf_partition_free(&p);
    }
    CU_ASSERT(prefixes_fail);

    static const char alphabet[] = "{}[]\",:0123456789eE.-+ \n\\uxyabt";
    hf_rng_t r;
    hf_rng_init(&r, 99, HF_RNG_TEST, 1, 0);
    char *buf = malloc(L + 8);
    int codes_ok = 1, consistent = 1, nok = 0;
    for (int it = 0; it < 3000; it++) {
        memcpy(buf, leaf_good, L);
        size_t len = L;
        int nmut = 1 + (int)hf_rng_below(&r, 3);
        for (int m = 0; m < nmut; m++) {
            size_t pos = (size_t)hf_rng_below(&r, len);
            int kind = (int)hf_rng_below(&r, 4);
            char c = kind == 3 ? (char)hf_rng_below(&r, 256)
                               : alphabet[hf_rng_below(&r, sizeof alphabet - 1)];
            if (kind == 0 && len > 1) {          /* delete */
                memmove(buf + pos, buf + pos + 1, len - pos - 1);
                len--;
            } else if (kind == 1 && len < L + 7) { /* insert */
                memmove(buf + pos + 1, buf + pos, len - pos);
                buf[pos] = c;
                len++;
            } else {                              /* replace */
                buf[pos] = c;
            }
        }
        hf_dataset_t d;
        hf_partition_t p;
        int rc = leaf_str(buf, len, &d, &p);
        if (rc != HF_OK && rc != HF_EINPUT) codes_ok = 0;
        if (rc == HF_OK) {
            nok++;
            if (!partition_is_exact(&p, d.n) || d.dim < 1 || d.n_classes < 1) consistent = 0;
            for (long i = 0; i < d.n; i++)
                if (d.y[i] < 0 || d.y[i] >= d.n_classes) consistent = 0;
        } else if (d.x || p.off) {
            consistent = 0;
        }
        hf_dataset_free(&d);
        hf_partition_free(&p);
    }
    free(buf);
    CU_ASSERT(codes_ok);
    CU_ASSERT(consistent);
    CU_ASSERT(nok > 0);  /* some mutations (inside numbers, whitespace) stay valid */
}

/* The published FedProx Synthetic(1,1) test split, from ../shared/data. */
static char leaf_real_path[512];

static int find_shared_leaf(void)
{
    const char *cands[3];
    int nc = 0;
    const char *env = getenv("SHARED_DATA");
    if (env && *env) cands[nc++] = env;
    cands[nc++] = "../shared/data";
    cands[nc++] = "/work/shared/data";
    for (int i = 0; i < nc; i++) {
        snprintf(leaf_real_path, sizeof leaf_real_path, "%s/leaf/fedprox_synthetic_1_1_test.json",
                 cands[i]);
        struct stat st;
        if (stat(leaf_real_path, &st) == 0) return 1;
    }
    return 0;
}

static void test_leaf_real(void)
{
    static const long ns[30] = { 8, 18, 9, 17, 16, 50, 14, 9, 6, 19, 17, 6, 9, 6, 7,
                                 662, 6, 13, 7, 12, 8, 5, 6, 44, 6, 14, 31, 45, 8, 6 };
    hf_dataset_t d;
    hf_partition_t p;
    memset(&d, 0, sizeof d);
    int rc = hf_leaf_load(leaf_real_path, &d, &p);
    if (rc) printf("\n    %s\n", hf_errmsg());
    CU_ASSERT_EQUAL_FATAL(rc, HF_OK);
    CU_ASSERT_EQUAL(d.n, 1084);
    CU_ASSERT_EQUAL(d.dim, 60);
    CU_ASSERT(d.c == 1 && d.h == 1 && d.w == 60);
    CU_ASSERT_EQUAL(d.n_classes, 10);
    CU_ASSERT_EQUAL(p.nclients, 30);
    CU_ASSERT(partition_is_exact(&p, 1084));
    int sizes_ok = 1;
    for (int k = 0; k < 30; k++)
        if (p.off[k + 1] - p.off[k] != ns[k]) sizes_ok = 0;
    CU_ASSERT(sizes_ok);
    /* Values looked up with Python's json module. */
    CU_ASSERT_EQUAL(d.x[0], (float)1.8253368097881917);
    CU_ASSERT_EQUAL(d.x[59], (float)-0.3070090053459792);
    CU_ASSERT_EQUAL(d.y[0], 4);
    CU_ASSERT_EQUAL(d.x[1084 * 60 - 1], (float)1.121627197388048);
    CU_ASSERT_EQUAL(d.y[1083], 1);
    long h[10] = {0};
    for (long i = 0; i < d.n; i++) h[d.y[i]]++;
    CU_ASSERT(h[0] == 82 && h[7] == 346 && h[8] == 354);
    hf_dataset_free(&d);
    hf_partition_free(&p);
}

/* ------------------------------------------------------------------ */

static void rm_tmpdir(void)
{
    static const char *names[] = { "img", "lab.gz", "lab2", "magic", "type", "trunc", "hdr",
                                   "trail", "ovf", "zero", "empty", "ltrunc", "lmagic", "lhuge",
                                   "big.gz", "cut.gz", "bad.gz", "good.json", "good.json.gz" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) unlink(tmp_path(names[i]));
    rmdir(tmpdir);
}

static const char *fmnist_skip(void)
{
    return fmnist_present() ? NULL : HF_FMNIST_DEFAULT_DIR " absent";
}

static const char *leaf_real_skip(void)
{
    return find_shared_leaf() ? NULL : "leaf/fedprox_synthetic_1_1_test.json absent (set SHARED_DATA)";
}

/* hf_partition_by_rank (data.size_by_capability) on a hand-made partition of
 * 14 samples, sizes 2, 5, 3, 1, 3 (sample ids 10 j + 1 at position j), clients
 * ranked 2, 0, 4, 3, 1 (client 2 the most capable).  Blocks by size, ties by
 * index: c1 (5), c2 (3), c4 (3), c0 (2), c3 (1).  strong: client 2 takes c1,
 * 0 takes c2, 4 takes c4, 3 takes c0, 1 takes c3; weak: the reverse list. */
static void hand_partition(hf_partition_t *p)
{
    static const long off[] = {0, 2, 7, 10, 11, 14};
    p->nclients = 5;
    p->off = hf_malloc(sizeof off);
    memcpy(p->off, off, sizeof off);
    p->idx = hf_malloc(14 * sizeof(long));
    for (int j = 0; j < 14; j++) p->idx[j] = 10L * j + 1;
}

static int partition_is(const hf_partition_t *p, const long *off, const long *pos)
{
    for (int k = 0; k <= p->nclients; k++) if (p->off[k] != off[k]) return 0;
    for (long j = 0; j < off[p->nclients]; j++) if (p->idx[j] != 10L * pos[j] + 1) return 0;
    return 1;
}

static void test_partition_by_rank(void)
{
    static const int order[] = {2, 0, 4, 3, 1};
    hf_partition_t a;
    hand_partition(&a);
    hf_partition_by_rank(&a, order, 1);
    static const long s_off[] = {0, 3, 4, 9, 11, 14};  /* sizes 3, 1, 5, 2, 3 */
    static const long s_pos[] = {7, 8, 9, 10, 2, 3, 4, 5, 6, 0, 1, 11, 12, 13};
    CU_ASSERT(partition_is(&a, s_off, s_pos));
    hf_partition_free(&a);
    hand_partition(&a);
    hf_partition_by_rank(&a, order, 0);
    static const long w_off[] = {0, 2, 7, 8, 11, 14};  /* sizes 2, 5, 1, 3, 3 */
    static const long w_pos[] = {0, 1, 2, 3, 4, 5, 6, 10, 7, 8, 9, 11, 12, 13};
    CU_ASSERT(partition_is(&a, w_off, w_pos));
    hf_partition_free(&a);

    /* a Dirichlet partition ranked by index: sizes non-increasing (strong) or
     * non-decreasing (weak), every sample still assigned once, and each new
     * block one of the old blocks, whole and in order */
    long n = 600;
    int *y = hf_malloc((size_t)n * sizeof(int));
    for (long i = 0; i < n; i++) y[i] = (int)((i * 7) % 10);
    int ident[12];
    for (int k = 0; k < 12; k++) ident[k] = k;
    for (int strong = 0; strong < 2; strong++) {
        hf_partition_t d, r;
        CU_ASSERT_EQUAL_FATAL(hf_partition_dirichlet(y, n, 10, 12, 0.3, 5, 4, &d), HF_OK);
        CU_ASSERT_EQUAL_FATAL(hf_partition_dirichlet(y, n, 10, 12, 0.3, 5, 4, &r), HF_OK);
        hf_partition_by_rank(&r, ident, strong);
        CU_ASSERT(partition_is_exact(&r, n));
        int mono = 1, whole = 1;
        for (int k = 0; k < 12; k++) {
            long nk = r.off[k + 1] - r.off[k];
            if (k && (strong ? nk > r.off[k] - r.off[k - 1] : nk < r.off[k] - r.off[k - 1])) mono = 0;
            int found = 0;
            for (int j = 0; j < 12 && !found; j++)
                found = d.off[j + 1] - d.off[j] == nk &&
                        !memcmp(d.idx + d.off[j], r.idx + r.off[k], (size_t)nk * sizeof(long));
            whole &= found;
        }
        CU_ASSERT(mono);
        CU_ASSERT(whole);
        CU_ASSERT(r.off[1] - r.off[0] != r.off[12] - r.off[11]);  /* unequal: the test means something */
        hf_partition_free(&d);
        hf_partition_free(&r);
    }
    free(y);
}

/* ---- partitions on demand (hf_odpart_*, data.on_demand) ---- */

/* The network of test_rng's pinned images: keys 1, 2, 3, 4 over [0, 10) maps
 * 0..9 to 3 8 9 0 4 5 6 1 7 2 (an independent Python transcription). */
static const long od_pi10[10] = {3, 8, 9, 0, 4, 5, 6, 1, 7, 2};
/* keys 0x0123456789abcdef, 7, 11, 13 over [0, 5): 3 0 1 2 4 */
static const long od_pi5[5] = {3, 0, 1, 2, 4};

/* IID on demand: sizes, windows and sample ids by hand from the bijection's
 * known images; a partition when N·n <= M; the wrap-around count beyond. */
static void test_odpart_iid(void)
{
    hf_odpart_t o;
    /* M = 10, N = 3, sizes by the materialised rule: 4, 3, 3 at offsets 0, 4, 7 */
    CU_ASSERT_EQUAL_FATAL(hf_odpart_init(&o, 0, NULL, 10, 0, 3, 0, 0, 1), HF_OK);
    o.bij = (hf_rng_bij_t){.key = {1, 2, 3, 4}, .n = 10, .half = 2};
    static const long want3[3][4] = {{3, 8, 9, 0}, {4, 5, 6}, {1, 7, 2}};
    static const long size3[3] = {4, 3, 3}, off3[3] = {0, 4, 7};
    long ids[1000];
    for (int k = 0; k < 3; k++) {
        CU_ASSERT_EQUAL(hf_odpart_size(&o, k), size3[k]);
        CU_ASSERT_EQUAL(hf_odpart_offset(&o, k), off3[k]);
        hf_odpart_client(&o, k, ids, NULL);
        for (int j = 0; j < size3[k]; j++) CU_ASSERT_EQUAL(ids[j], want3[k][j]);
    }
    hf_odpart_free(&o);
    /* 4 samples a client, N = 4: 16 > 10 positions wrap around: client 2 holds
     * π(8), π(9), π(0), π(1); positions 0..5 are held twice, 6..9 once */
    CU_ASSERT_EQUAL_FATAL(hf_odpart_init(&o, 0, NULL, 10, 0, 4, 4, 0, 1), HF_OK);
    o.bij = (hf_rng_bij_t){.key = {1, 2, 3, 4}, .n = 10, .half = 2};
    static const long want4[4][4] = {{3, 8, 9, 0}, {4, 5, 6, 1}, {7, 2, 3, 8}, {9, 0, 4, 5}};
    int held[10] = {0};
    for (int k = 0; k < 4; k++) {
        CU_ASSERT_EQUAL(hf_odpart_size(&o, k), 4);
        hf_odpart_client(&o, k, ids, NULL);
        for (int j = 0; j < 4; j++) { CU_ASSERT_EQUAL(ids[j], want4[k][j]); held[ids[j]]++; }
    }
    for (int p = 0; p < 10; p++) CU_ASSERT_EQUAL(held[od_pi10[p]], p < 6 ? 2 : 1);
    hf_odpart_free(&o);
    /* init: the round keys are the first four u64 of (seed, PARTITION, 0, 4) */
    CU_ASSERT_EQUAL_FATAL(hf_odpart_init(&o, 0, NULL, 1000, 0, 7, 0, 0, 42), HF_OK);
    hf_rng_t r;
    hf_rng_init(&r, 42, HF_RNG_PARTITION, 0, 4);
    for (int j = 0; j < 4; j++) CU_ASSERT_EQUAL(o.bij.key[j], hf_rng_u64(&r));
    CU_ASSERT_EQUAL(o.bij.n, 1000);
    CU_ASSERT_EQUAL(o.bij.half, 5);  /* 4^5 = 1024 >= 1000 > 4^4 */
    /* M = 1000, N = 7: 143 for the first 6 (1000 mod 7), 142 for the last; every id once */
    int *hit = calloc(1000, sizeof(int));
    long tot = 0;
    for (int k = 0; k < 7; k++) {
        long n = hf_odpart_size(&o, k);
        CU_ASSERT_EQUAL(n, k < 6 ? 143 : 142);
        hf_odpart_client(&o, k, ids, NULL);
        for (long j = 0; j < n; j++) hit[ids[j]]++;
        tot += n;
    }
    CU_ASSERT_EQUAL(tot, 1000);
    int once = 0;
    for (int i = 0; i < 1000; i++) once += hit[i] == 1;
    CU_ASSERT_EQUAL(once, 1000);
    hf_odpart_free(&o);
    /* 100 a client: 9 clients hold 900 distinct ids; 25 clients (2,500 > 1,000)
     * hold each id ⌊2.5⌋ = 2 times, 3 times for the 500 ids at positions < 500 */
    int *ncl = calloc(1000, sizeof(int));
    for (int N = 9; N <= 25; N += 16) {
        CU_ASSERT_EQUAL_FATAL(hf_odpart_init(&o, 0, NULL, 1000, 0, N, 100, 0, 42), HF_OK);
        memset(hit, 0, 1000 * sizeof(int));
        for (int k = 0; k < N; k++) {
            hf_odpart_client(&o, k, ids, NULL);
            for (int j = 0; j < 100; j++) hit[ids[j]]++;
        }
        memset(ncl, 0, 1000 * sizeof(int));
        for (int i = 0; i < 1000; i++) ncl[hit[i]]++;
        if (N == 9) CU_ASSERT(ncl[1] == 900 && ncl[0] == 100);
        if (N == 25) CU_ASSERT(ncl[2] == 500 && ncl[3] == 500);
        for (int i = 0; i < 500; i++) CU_ASSERT_EQUAL(hit[hf_rng_bij_at(&o.bij, (uint32_t)i)], N == 9 ? 1 : 3);
        hf_odpart_free(&o);
    }
    free(ncl);
    free(hit);
    /* refused: more a client than samples, more clients than samples with the default sizes */
    CU_ASSERT_EQUAL(hf_odpart_init(&o, 0, NULL, 10, 0, 3, 11, 0, 1), HF_EINPUT);
    CU_ASSERT_EQUAL(hf_odpart_init(&o, 0, NULL, 10, 0, 11, 0, 0, 1), HF_EINPUT);
    CU_ASSERT_EQUAL(hf_odpart_init(&o, 0, NULL, 10, 0, 11, 1, 0, 1), HF_OK);
    hf_odpart_free(&o);
}

/* The reference rule of the class counts: n·p_c rounded by largest remainder
 * (ties: lower class), then capped at cap[c], the excess to the classes with
 * room in decreasing p (ties: lower class).  Selection by repeated scans. */
static void od_ref_counts(const double *p, int C, long n, const long *cap, long *cnt)
{
    double fr[64];
    int used[64] = {0};
    long given = 0;
    for (int c = 0; c < C; c++) { cnt[c] = (long)floor((double)n * p[c]); fr[c] = (double)n * p[c] - (double)cnt[c]; given += cnt[c]; }
    for (; given < n; given++) {
        int b = -1;
        for (int c = 0; c < C; c++) if (!used[c] && (b < 0 || fr[c] > fr[b])) b = c;
        used[b] = 1;
        cnt[b]++;
    }
    long ex = 0;
    for (int c = 0; c < C; c++) if (cnt[c] > cap[c]) { ex += cnt[c] - cap[c]; cnt[c] = cap[c]; }
    memset(used, 0, sizeof used);
    while (ex > 0) {
        int b = -1;
        for (int c = 0; c < C; c++) if (!used[c] && (b < 0 || p[c] > p[b])) b = c;
        used[b] = 1;
        long add = HF_MIN(cap[b] - cnt[b], ex);
        cnt[b] += add;
        ex -= add;
    }
}

/* Dirichlet on demand: class counts against the reference rule, exact counts
 * in stated cases (a one-class mix capped by its class; near-uniform mixes),
 * and the sample ids by hand from hand-keyed class bijections. */
static void test_odpart_dirichlet(void)
{
    /* M = 15: class 1 = ids 1, 4, 7, 10, 13; class 0 the other 10 */
    int y[15];
    for (int i = 0; i < 15; i++) y[i] = i % 3 == 1;
    hf_odpart_t o;
    CU_ASSERT_EQUAL_FATAL(hf_odpart_init(&o, 1, y, 15, 2, 3, 0, 0.5, 9), HF_OK);
    o.cbij[0] = (hf_rng_bij_t){.key = {1, 2, 3, 4}, .n = 10, .half = 2};
    o.cbij[1] = (hf_rng_bij_t){.key = {0x0123456789abcdefull, 7, 11, 13}, .n = 5, .half = 2};
    static const long cls0[10] = {0, 2, 3, 5, 6, 8, 9, 11, 12, 14}, cls1[5] = {1, 4, 7, 10, 13};
    static const long start0[3] = {0, 3, 6}, start1[3] = {0, 1, 3};  /* ⌊off·M_c/M⌋, off = 0, 5, 10 */
    const long cap[2] = {10, 5};
    long ids[64], cnt[64], want[64];
    for (int k = 0; k < 3; k++) {
        double p[2];
        hf_rng_t r;
        hf_rng_init(&r, 9, HF_RNG_PARTITION, (uint64_t)k, 5);
        hf_rng_dirichlet(&r, 0.5, 2, p);
        od_ref_counts(p, 2, 5, cap, want);
        hf_odpart_client(&o, k, ids, cnt);
        CU_ASSERT(cnt[0] == want[0] && cnt[1] == want[1]);
        /* by hand: p_0 = 0.0010, 0.1730, 0.2870 -> 5 p = 0.005 4.995, 0.865 4.135, 1.435 3.565 */
        static const long hand[3][2] = {{0, 5}, {1, 4}, {1, 4}};
        CU_ASSERT(cnt[0] == hand[k][0] && cnt[1] == hand[k][1]);
        long w = 0;
        for (long j = 0; j < cnt[0]; j++) CU_ASSERT_EQUAL(ids[w++], cls0[od_pi10[(start0[k] + j) % 10]]);
        for (long j = 0; j < cnt[1]; j++) CU_ASSERT_EQUAL(ids[w++], cls1[od_pi5[(start1[k] + j) % 5]]);
        printf("(client %d: p %.3f %.3f, counts %ld %ld) ", k, p[0], p[1], cnt[0], cnt[1]);
    }
    hf_odpart_free(&o);

    /* 30 samples, classes of 12, 10 and 8 (labels 0 0 1 2 0 1 ... interleaved) */
    int y3[30];
    for (int i = 0; i < 30; i++) y3[i] = i < 24 ? i % 3 : (i < 28 ? 0 : 1);
    const long cap3[3] = {12, 10, 8};  /* 8 + 4, 8 + 2, 8 */
    /* alpha 1e-4: the whole mix on one class c*; 20 samples: c* takes what it
     * has, the rest goes to the lowest class with room: c* = 0 -> 12 8 0,
     * c* = 1 -> 10 10 0, c* = 2 -> 12 0 8 */
    static const long one[3][3] = {{12, 8, 0}, {10, 10, 0}, {12, 0, 8}};
    int seen[3] = {0};
    CU_ASSERT_EQUAL_FATAL(hf_odpart_init(&o, 1, y3, 30, 3, 40, 20, 1e-4, 3), HF_OK);
    for (int c = 0; c < 3; c++) CU_ASSERT_EQUAL(o.cstart[c + 1] - o.cstart[c], cap3[c]);
    for (int k = 0; k < 40; k++) {
        double p[3];
        hf_rng_t r;
        hf_rng_init(&r, 3, HF_RNG_PARTITION, (uint64_t)k, 5);
        hf_rng_dirichlet(&r, 1e-4, 3, p);
        int cs = p[1] > p[0] ? (p[2] > p[1] ? 2 : 1) : (p[2] > p[0] ? 2 : 0);
        hf_odpart_client(&o, k, ids, cnt);
        if (p[cs] > 0.999) {  /* all but rare draws (two gammas of one size) */
            seen[cs]++;
            CU_ASSERT(cnt[0] == one[cs][0] && cnt[1] == one[cs][1] && cnt[2] == one[cs][2]);
        }
        int lab[3] = {0}, dup = 0;
        for (int j = 0; j < 20; j++) {
            lab[y3[ids[j]]]++;
            for (int i = 0; i < j; i++) dup += ids[i] == ids[j];
        }
        CU_ASSERT(lab[0] == cnt[0] && lab[1] == cnt[1] && lab[2] == cnt[2] && dup == 0);
    }
    printf("(one-class mixes: %d, %d, %d of 40) ", seen[0], seen[1], seen[2]);
    CU_ASSERT(seen[0] > 0 && seen[1] > 0 && seen[2] > 0 && seen[0] + seen[1] + seen[2] >= 35);
    hf_odpart_free(&o);
    /* alpha 1e6: mixes within 1e-2 of 1/3: 7 samples -> 3 2 2 in some order */
    CU_ASSERT_EQUAL_FATAL(hf_odpart_init(&o, 1, y3, 30, 3, 4, 7, 1e6, 3), HF_OK);
    for (int k = 0; k < 4; k++) {
        hf_odpart_counts(&o, k, cnt);
        long mx = HF_MAX(cnt[0], HF_MAX(cnt[1], cnt[2])), mn = HF_MIN(cnt[0], HF_MIN(cnt[1], cnt[2]));
        CU_ASSERT(mx == 3 && mn == 2 && cnt[0] + cnt[1] + cnt[2] == 7);
    }
    hf_odpart_free(&o);
    /* alpha 0.3, 50 clients of 13 (default sizes would be 0: 13 a client), 10 classes */
    int *yb = make_labels(10, 100, 3);
    long capb[10];
    for (int c = 0; c < 10; c++) capb[c] = 100;
    CU_ASSERT_EQUAL_FATAL(hf_odpart_init(&o, 1, yb, 1000, 10, 50, 13, 0.3, 11), HF_OK);
    int agree = 1, labels_ok = 1;
    for (int k = 0; k < 50; k++) {
        double p[10];
        hf_rng_t r;
        hf_rng_init(&r, 11, HF_RNG_PARTITION, (uint64_t)k, 5);
        hf_rng_dirichlet(&r, 0.3, 10, p);
        od_ref_counts(p, 10, 13, capb, want);
        hf_odpart_client(&o, k, ids, cnt);
        int lab[10] = {0};
        for (int j = 0; j < 13; j++) lab[yb[ids[j]]]++;
        for (int c = 0; c < 10; c++) { agree &= cnt[c] == want[c]; labels_ok &= lab[c] == cnt[c]; }
    }
    CU_ASSERT(agree);
    CU_ASSERT(labels_ok);
    /* the class bijections' keys: the next 4 u64 of (seed, PARTITION, 0, 6), class by class */
    hf_rng_t r;
    hf_rng_init(&r, 11, HF_RNG_PARTITION, 0, 6);
    int keys_ok = 1;
    for (int c = 0; c < 10; c++)
        for (int j = 0; j < 4; j++) keys_ok &= o.cbij[c].key[j] == hf_rng_u64(&r);
    CU_ASSERT(keys_ok);
    hf_odpart_free(&o);
    free(yb);
}

static const hf_cu_test_t tests_idx[] = {
    {"fashion-mnist", test_fmnist, fmnist_skip},
    {"fashion-mnist missing dir", test_fmnist_missing, NULL},
    {"idx files and errors", test_idx_files, NULL},
    {"idx truncations in memory", test_idx_parse_truncations, NULL},
    /* the shards test reuses Fashion-MNIST labels when loaded: same suite */
    {"partition iid", test_partition_iid, NULL},
    {"partition shards", test_partition_shards, NULL},
    {"partition dirichlet", test_partition_dirichlet, NULL},
    {"partition by rank", test_partition_by_rank, NULL},
    {"partition iid on demand: windows of the keyed order, by hand", test_odpart_iid, NULL},
    {"partition dirichlet on demand: class counts, ids by hand", test_odpart_dirichlet, NULL},
    {0},
};

/* The sensitive variant (data_synth.c), against an independent rebuild from
 * the keyed streams: iid, so W, b are the (seed, DATA, 0, 1) stream's first
 * 60 x 10 + 10 normals; feature 0 of device k's i-th sample (training samples
 * first) is 1[U_i < 1/2], U_i the i-th uniform of (seed, DATA, k, 2); every
 * other feature is the plain generator's; y = argmax(x W + b) with x_0 = s
 * (first maximum). */
static void test_synthetic_sensitive(void)
{
    hf_dataset_t tr, te, tr0, te0;
    hf_partition_t ptr, pte, ptr0, pte0;
    CU_ASSERT_EQUAL_FATAL(hf_synthetic_generate(0, 0, 1, 1, 6, 60, 10, 9, &tr, &te, &ptr, &pte), HF_OK);
    CU_ASSERT_EQUAL_FATAL(hf_synthetic_generate(0, 0, 1, 0, 6, 60, 10, 9, &tr0, &te0, &ptr0, &pte0), HF_OK);
    CU_ASSERT_EQUAL_FATAL(tr.n, tr0.n);
    double W[600], b[10];
    hf_rng_t r;
    hf_rng_init(&r, 9, HF_RNG_DATA, 0, 1);
    for (int i = 0; i < 600; i++) W[i] = hf_rng_normal(&r);
    for (int c = 0; c < 10; c++) b[c] = hf_rng_normal(&r);
    long bad_s = 0, bad_x = 0, bad_y = 0, ones = 0, flipped = 0, n = 0;
    for (int k = 0; k < 6; k++) {
        hf_rng_init(&r, 9, HF_RNG_DATA, (uint64_t)k, 2);
        long ntr = ptr.off[k + 1] - ptr.off[k], nk = ntr + pte.off[k + 1] - pte.off[k];
        for (long i = 0; i < nk; i++, n++) {
            int tra = i < ntr;
            long row = tra ? ptr.off[k] + i : pte.off[k] + i - ntr;
            const float *x = (tra ? tr.x : te.x) + row * 60, *x0 = (tra ? tr0.x : te0.x) + row * 60;
            int y = (tra ? tr.y : te.y)[row], y0 = (tra ? tr0.y : te0.y)[row];
            float s = hf_rng_uniform(&r) < 0.5 ? 1.0f : 0.0f;
            bad_s += x[0] != s;
            ones += s == 1.0f;
            bad_x += memcmp(x + 1, x0 + 1, 59 * sizeof(float)) != 0;
            int best = 0;
            double bestv = -INFINITY;
            for (int c = 0; c < 10; c++) {
                double v = b[c];
                for (int j = 0; j < 60; j++) v += (double)x[j] * W[j * 10 + c];
                if (v > bestv) { bestv = v; best = c; }
            }
            bad_y += y != best;
            flipped += y != y0;
        }
    }
    CU_ASSERT_EQUAL(bad_s, 0);
    CU_ASSERT_EQUAL(bad_x, 0);
    CU_ASSERT_EQUAL(bad_y, 0);
    CU_ASSERT(ones > 0.4 * n && ones < 0.6 * n);   /* Bernoulli(1/2) */
    CU_ASSERT(flipped > 0);                        /* the label follows s */
    hf_dataset_free(&tr); hf_dataset_free(&te); hf_partition_free(&ptr); hf_partition_free(&pte);
    hf_dataset_free(&tr0); hf_dataset_free(&te0); hf_partition_free(&ptr0); hf_partition_free(&pte0);
}

/* data.on_demand's generator (data_ondemand.c): one device made alone is the
 * materialised set's device, for non-iid and iid data; n_k by hand from the
 * keyed stream's first normal z: int(exp(mu + sigma z)) + min, its first
 * int(0.9 n_k) samples training data; unequal sizes. */
static void test_synthetic_on_demand(void)
{
    for (int iid = 0; iid < 2; iid++) {
        hf_dataset_t tr, te;
        hf_partition_t ptr, pte;
        CU_ASSERT_EQUAL_FATAL(hf_synthetic_generate(1, 1, iid, 0, 30, 60, 10, 42, &tr, &te, &ptr, &pte), HF_OK);
        hf_synth_t s = {.alpha = 1, .beta = 1, .iid = iid, .dim = 60, .n_classes = 10, .seed = 42,
                        .size_mu = 4, .size_sigma = 2, .size_min = 50};
        CU_ASSERT_EQUAL_FATAL(hf_synth_init(&s), HF_OK);
        const int ks[] = {0, 7, 29};
        long sizes[3];
        for (int i = 0; i < 3; i++) {
            int k = ks[i];
            hf_rng_t r;
            hf_rng_init(&r, 42, HF_RNG_DATA, (uint64_t)k, 0);
            long n = (long)exp(4.0 + 2.0 * hf_rng_normal(&r)) + 50, ntr = (long)(0.9 * (double)n);
            sizes[i] = n;
            CU_ASSERT_EQUAL(hf_synth_device_size(&s, k), n);
            CU_ASSERT_EQUAL(hf_synth_train_size(n), ntr);
            CU_ASSERT_EQUAL(ptr.off[k + 1] - ptr.off[k], ntr);
            CU_ASSERT_EQUAL(pte.off[k + 1] - pte.off[k], n - ntr);
            float *x = calloc((size_t)n * 60, sizeof(float)), *xt = calloc((size_t)n * 60, sizeof(float));
            int *y = calloc((size_t)n, sizeof(int)), *yt = calloc((size_t)n, sizeof(int));
            hf_synth_device_rows(&s, k, x, y, ntr, NULL, NULL, 0);  /* training rows only */
            CU_ASSERT(memcmp(x, tr.x + ptr.off[k] * 60, (size_t)ntr * 60 * sizeof(float)) == 0);
            CU_ASSERT(memcmp(y, tr.y + ptr.off[k], (size_t)ntr * sizeof(int)) == 0);
            hf_synth_device_rows(&s, k, x, y, ntr, xt, yt, n - ntr);  /* and its test rows */
            CU_ASSERT(memcmp(xt, te.x + pte.off[k] * 60, (size_t)(n - ntr) * 60 * sizeof(float)) == 0);
            CU_ASSERT(memcmp(yt, te.y + pte.off[k], (size_t)(n - ntr) * sizeof(int)) == 0);
            free(x); free(xt); free(y); free(yt);
        }
        CU_ASSERT(sizes[0] != sizes[1] && sizes[1] != sizes[2]);
        hf_synth_free(&s);
        hf_dataset_free(&tr); hf_dataset_free(&te); hf_partition_free(&ptr); hf_partition_free(&pte);
    }
    /* the size keys: int(exp(1 + 1 z)) + 6 */
    hf_synth_t s = {.iid = 1, .dim = 60, .n_classes = 10, .seed = 5, .size_mu = 1, .size_sigma = 1, .size_min = 6};
    CU_ASSERT_EQUAL_FATAL(hf_synth_init(&s), HF_OK);
    for (int k = 0; k < 50; k++) {
        hf_rng_t r;
        hf_rng_init(&r, 5, HF_RNG_DATA, (uint64_t)k, 0);
        CU_ASSERT_EQUAL(hf_synth_device_size(&s, k), (long)exp(1.0 + hf_rng_normal(&r)) + 6);
    }
    hf_synth_free(&s);
}

/* CA-Fed's synthetic clustered data, rebuilt from the keyed streams with the
 * formula of arodio/CA-Fed's generator: theta from (seed, DATA, 0, 3); device
 * k from (seed, DATA, k, 4), per sample dim normals then one uniform; the
 * second cluster (k >= ndev/2) has p <- h(1-p) + (1-h)p; y = 1[u < p]. */
static void test_synthetic_clustered(void)
{
    enum { NDEV = 5, DIM = 3, NTR = 20, NTE = 30 };
    const double h = 0.7;
    const uint64_t seed = 7;
    hf_dataset_t tr, te;
    hf_partition_t ptr, pte;
    CU_ASSERT_EQUAL_FATAL(hf_synthetic_clustered_generate(NDEV, DIM, NTR, NTE, h, seed, &tr, &te, &ptr, &pte), HF_OK);
    CU_ASSERT(tr.n == NDEV * NTR && te.n == NDEV * NTE && tr.dim == DIM && tr.n_classes == 2 && te.n_classes == 2);
    CU_ASSERT(ptr.nclients == NDEV && pte.nclients == NDEV);
    CU_ASSERT(partition_is_exact(&ptr, tr.n) && partition_is_exact(&pte, te.n));
    CU_ASSERT(ptr.off[3] == 3 * NTR && pte.off[3] == 3 * NTE);
    double theta[DIM];
    hf_rng_t r;
    hf_rng_init(&r, seed, HF_RNG_DATA, 0, 3);
    for (int j = 0; j < DIM; j++) theta[j] = hf_rng_normal(&r);
    int x_ok = 1, y_ok = 1, ones[2] = {0, 0}, mid_flips = 0;
    for (int k = 0; k < NDEV; k++) {
        hf_rng_init(&r, seed, HF_RNG_DATA, (uint64_t)k, 4);
        for (int i = 0; i < NTR + NTE; i++) {
            const hf_dataset_t *d = i < NTR ? &tr : &te;
            long row = i < NTR ? (long)k * NTR + i : (long)k * NTE + i - NTR;
            double z = 0.0;
            for (int j = 0; j < DIM; j++) {
                float xj = (float)hf_rng_normal(&r);
                if (d->x[row * DIM + j] != xj) x_ok = 0;
                z += (double)xj * theta[j];
            }
            double p0 = 1.0 / (1.0 + exp(-z)), p = p0;
            if (k >= 2) p = h * (1.0 - p) + (1.0 - h) * p;  /* 5 devices: 0, 1 | 2, 3, 4 */
            double u = hf_rng_uniform(&r);
            int y = u < p;
            if (k == 2 && y != (u < p0)) mid_flips++;  /* the middle device is told apart */
            if (d->y[row] != y) y_ok = 0;
            ones[y]++;
        }
    }
    CU_ASSERT(x_ok);
    CU_ASSERT(y_ok);
    CU_ASSERT(ones[0] > 0 && ones[1] > 0);
    CU_ASSERT(mid_flips > 0);
    hf_dataset_free(&tr); hf_dataset_free(&te); hf_partition_free(&ptr); hf_partition_free(&pte);
    CU_ASSERT_EQUAL(hf_synthetic_clustered_generate(NDEV, DIM, NTR, NTE, 1.5, seed, &tr, &te, &ptr, &pte), HF_EINPUT);
    CU_ASSERT_EQUAL(hf_synthetic_clustered_generate(0, DIM, NTR, NTE, h, seed, &tr, &te, &ptr, &pte), HF_EINPUT);
    CU_ASSERT_EQUAL(hf_synthetic_clustered_generate(NDEV, DIM, 0, NTE, h, seed, &tr, &te, &ptr, &pte), HF_EINPUT);
}

static const hf_cu_test_t tests_synthetic[] = {
    {"synthetic(1,1) and iid", test_synthetic, NULL},
    {"synthetic: the sensitive attribute, rebuilt from the keyed streams", test_synthetic_sensitive, NULL},
    {"synthetic: one device alone (data.on_demand), n_k by hand", test_synthetic_on_demand, NULL},
    {"synthetic-clustered (CA-Fed), rebuilt from the keyed streams", test_synthetic_clustered, NULL},
    {0},
};
static const hf_cu_test_t tests_leaf[] = {
    {"small documents", test_leaf_small, NULL},
    {"malformed documents", test_leaf_malformed, NULL},
    {"prefixes and mutations", test_leaf_mutations, NULL},
    {"fedprox synthetic_1_1 test split", test_leaf_real, leaf_real_skip},
    {0},
};
static const hf_cu_suite_t suites[] = {
    {"idx", tests_idx, suite_idx_init, suite_idx_clean},
    {"synthetic", tests_synthetic, NULL, NULL},
    {"leaf", tests_leaf, NULL, NULL},
    {0},
};

int main(int argc, char **argv)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/hf_test_data_XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 2; }
    int rc = hf_cu_main(&argc, &argv, 0, suites);
    rm_tmpdir();
    return rc;
}
