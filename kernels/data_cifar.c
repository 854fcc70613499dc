/*
 * data_cifar.c — CIFAR-10 and CIFAR-100 in their binary version ("for C
 * programs", Krizhevsky 2009, https://www.cs.toronto.edu/~kriz/cifar.html), and
 * the standard training augmentation of the papers that use them (random crop
 * of the 4-pixel zero-padded image, horizontal flip).
 *
 * File layout (no header): records of 1 label byte (CIFAR-100: coarse label
 * byte, then fine label byte) followed by 3072 pixel bytes: the 1024 red, then
 * green, then blue values of the 32x32 image, rows top to bottom.  That is the
 * (c,h,w) channel-major order of a sample here, so a record's pixels are copied
 * as they are, scaled as (float)byte * (1.0f/255) like the IDX reader does (the
 * engine's byte-row path recognises exactly that expression).
 *
 *   cifar-10-batches-bin/  data_batch_1.bin .. data_batch_5.bin (10,000 records
 *                          each), test_batch.bin (10,000); 10 classes
 *   cifar-100-binary/      train.bin (50,000), test.bin (10,000); 100 fine or
 *                          20 coarse classes
 */
#include "data.h"
#include "hf_util.h"
#include "provenance.h"
#include "rng.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int hf_file_read_regular(const char *path, unsigned char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    struct stat st;
    int fd = hf_input_open(path, 0);  /* regular files only, never a FIFO or device (hf_util.h) */
    if (fd < 0) return HF_EINPUT;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return hf_seterr(HF_EINPUT, "%s: cannot stat: %s", path, strerror(e));
    }
    hf_inputs_note(path);  /* its SHA-256 goes into the results file */
    size_t n = (size_t)st.st_size, got = 0;
    unsigned char *b = hf_malloc(n ? n : 1);
    while (got < n) {
        ssize_t r = read(fd, b + got, HF_MIN(n - got, (size_t)1 << 30));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int e = errno;
            close(fd);
            free(b);
            return r < 0 ? hf_seterr(HF_EINPUT, "%s: read error: %s", path, strerror(e))
                         : hf_seterr(HF_EINPUT, "%s: file shrank while being read", path);
        }
        got += (size_t)r;
    }
    close(fd);
    *buf = b;
    *len = n;
    return HF_OK;
}

int hf_cifar_parse(const unsigned char *buf, size_t len, const char *name, int which, int coarse,
                   hf_dataset_t *d)
{
    if (which != 10 && which != 100)
        return hf_seterr(HF_EINPUT, "%s: CIFAR-%d: only CIFAR-10 and CIFAR-100 exist", name, which);
    size_t hdr = which == 100 ? 2 : 1, rs = hdr + HF_CIFAR_RECORD;
    int ncl = which == 10 ? 10 : coarse ? 20 : 100;
    if (len == 0) return hf_seterr(HF_EINPUT, "%s: empty file (no CIFAR-%d records)", name, which);
    if (len % rs)
        return hf_seterr(HF_EINPUT, "%s: record %zu is truncated (%zu of %zu bytes; CIFAR-%d records "
                         "are %zu bytes: %s3072 pixels)", name, len / rs, len % rs, rs, which, rs,
                         which == 100 ? "coarse and fine label bytes, " : "a label byte, ");
    long nr = (long)(len / rs);
    for (long r = 0; r < nr; r++) {
        const unsigned char *rec = buf + (size_t)r * rs;
        int lab = which == 10 ? rec[0] : coarse ? rec[0] : rec[1];
        if (which == 100 && rec[0] >= 20)
            return hf_seterr(HF_EINPUT, "%s: record %ld: coarse label %d out of range [0,20)", name, r, rec[0]);
        if (lab >= ncl)
            return hf_seterr(HF_EINPUT, "%s: record %ld: %slabel %d out of range [0,%d)", name, r,
                             which == 100 ? "fine " : "", lab, ncl);
    }
    /* append to d */
    hf_dataset_t o;
    long n0 = d->x ? d->n : 0;
    hf_dataset_alloc(&o, n0 + nr, 3, 32, 32, ncl);
    if (n0) {
        memcpy(o.x, d->x, (size_t)n0 * HF_CIFAR_RECORD * sizeof(float));
        memcpy(o.y, d->y, (size_t)n0 * sizeof(int));
    }
    const float sc = 1.0f / 255.0f;
    for (long r = 0; r < nr; r++) {
        const unsigned char *rec = buf + (size_t)r * rs;
        float *x = o.x + (size_t)(n0 + r) * HF_CIFAR_RECORD;
        for (int i = 0; i < HF_CIFAR_RECORD; i++) x[i] = (float)rec[hdr + i] * sc;
        o.y[n0 + r] = which == 10 ? rec[0] : coarse ? rec[0] : rec[1];
    }
    hf_dataset_free(d);
    *d = o;
    return HF_OK;
}

int hf_cifar_read(const char *path, int which, int coarse, hf_dataset_t *d)
{
    unsigned char *buf;
    size_t len;
    int rc = hf_file_read_regular(path, &buf, &len);
    if (rc) return rc;
    rc = hf_cifar_parse(buf, len, path, which, coarse, d);
    free(buf);
    return rc;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int hf_cifar_load(const char *dir, int which, int coarse, hf_dataset_t *train, hf_dataset_t *test)
{
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    const char *sub = which == 10 ? "cifar-10-batches-bin" : "cifar-100-binary";
    const char *first = which == 10 ? "data_batch_1.bin" : "train.bin";
    const char *url = which == 10 ? "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
                                  : "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz";
    if (!dir || !*dir) dir = ".";
    char base[4200], f[4400];
    snprintf(base, sizeof base, "%s", dir);
    snprintf(f, sizeof f, "%s/%s", base, first);
    if (!exists(f)) {
        snprintf(f, sizeof f, "%s/%s/%s", dir, sub, first);
        if (exists(f)) snprintf(base, sizeof base, "%s/%s", dir, sub);
    }
    snprintf(f, sizeof f, "%s/%s", base, first);
    if (!exists(f)) {
        int rc = hf_seterr(HF_EINPUT, "%s: no CIFAR-%d binary files (%s/%s: %s)", dir, which, dir, first,
                           strerror(errno));
        hf_addhint("download the binary version %s, extract it (tar xzf) and set data.path to the "
                   "%s folder it creates", url, sub);
        return rc;
    }
    int rc = HF_OK;
    if (which == 10) {
        for (int i = 1; i <= 5 && !rc; i++) {
            snprintf(f, sizeof f, "%s/data_batch_%d.bin", base, i);
            rc = hf_cifar_read(f, 10, 0, train);
        }
        snprintf(f, sizeof f, "%s/test_batch.bin", base);
        if (!rc) rc = hf_cifar_read(f, 10, 0, test);
    } else {
        snprintf(f, sizeof f, "%s/train.bin", base);
        rc = hf_cifar_read(f, 100, coarse, train);
        snprintf(f, sizeof f, "%s/test.bin", base);
        if (!rc) rc = hf_cifar_read(f, 100, coarse, test);
    }
    if (rc) {
        hf_dataset_free(train);
        hf_dataset_free(test);
        memset(train, 0, sizeof *train);
        memset(test, 0, sizeof *test);
        if (strstr(hf_errmsg(), "cannot open"))
            hf_addhint("the CIFAR-%d binary version (%s) has all of these files; set data.path to "
                       "the %s folder", which, url, sub);
    }
    return rc;
}

void hf_augment_crop_flip(float *x, int B, int c, int h, int w, int pad, uint64_t seed, int round,
                          int client, const long *sample_id, float *scratch)
{
    long hw = (long)h * w, n = (long)c * hw;
    for (int i = 0; i < B; i++) {
        hf_rng_t r;
        hf_rng_init(&r, seed, HF_RNG_AUGMENT, ((uint64_t)(uint32_t)round << 32) | (uint32_t)client,
                    (uint64_t)sample_id[i]);
        /* offset of the crop in the padded image: [0, 2*pad] in each direction */
        int oy = (int)hf_rng_below(&r, (uint64_t)(2 * pad + 1)) - pad;
        int ox = (int)hf_rng_below(&r, (uint64_t)(2 * pad + 1)) - pad;
        int flip = (int)hf_rng_below(&r, 2);
        if (oy == 0 && ox == 0 && !flip) continue;
        float *s = x + (size_t)i * n;
        memcpy(scratch, s, (size_t)n * sizeof(float));
        for (int ch = 0; ch < c; ch++)
            for (int yy = 0; yy < h; yy++) {
                float *o = s + ch * hw + (long)yy * w;
                int sy = yy + oy;
                if (sy < 0 || sy >= h) {
                    memset(o, 0, (size_t)w * sizeof(float));
                    continue;
                }
                const float *src = scratch + ch * hw + (long)sy * w;
                for (int xx = 0; xx < w; xx++) {
                    int sx = (flip ? w - 1 - xx : xx) + ox;
                    o[xx] = sx >= 0 && sx < w ? src[sx] : 0.0f;
                }
            }
    }
}
