/*
 * test_datasets.c — CUnit tests of the readers for the data sets of FL papers:
 * CIFAR-10/100 binary, LEAF FEMNIST and Shakespeare JSON, TensorFlow
 * Federated's HDF5 files and hetfl's generic HDF5 layout, and the CIFAR
 * training augmentation.
 *
 * None of the real files can be downloaded by the test suite, so every test
 * writes small files in the exact published layout (CIFAR byte for byte; the
 * group and dataset names, types and shapes TFF's h5py writer uses; LEAF's JSON
 * keys) with values computed from their position, reads them back and checks
 * pinned values, then damages them and checks the error names the file and the
 * record or group at fault.
 *
 *   test_datasets            run the tests
 *   test_datasets --write D  only write the sample files into folder D (for
 *                            tests/datasets.sh, which runs them end to end)
 */
#include "data.h"
#include "hf_util.h"
#include "cunit_main.h"
#include "run.h"
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[64];

static char *tpath(const char *name)
{
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
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

static int has(const char *needle)
{
    int ok = strstr(hf_errmsg(), needle) != NULL;
    if (!ok) printf("\n    message '%s' lacks '%s'\n", hf_errmsg(), needle);
    return ok;
}

/* ------------------------------------------------------------------ */
/* CIFAR                                                               */

/* Pixel byte of record r of file fi at (c,h,w), and its labels. */
static unsigned char cifar_px(int fi, int r, int c, int h, int w)
{
    return (unsigned char)((r * 7 + c * 31 + h * 5 + w * 3 + fi * 11) & 255);
}
static int cifar_label(int fi, int r, int ncl) { return (r * 3 + fi) % ncl; }

/* One CIFAR file of nrec records; which = 10 or 100. */
static int write_cifar(const char *path, int which, int fi, int nrec)
{
    size_t hdr = which == 100 ? 2 : 1, rs = hdr + 3072;
    unsigned char *b = malloc(rs * (size_t)nrec);
    for (int r = 0; r < nrec; r++) {
        unsigned char *q = b + rs * (size_t)r;
        if (which == 10) q[0] = (unsigned char)cifar_label(fi, r, 10);
        else { q[1] = (unsigned char)cifar_label(fi, r, 100); q[0] = (unsigned char)(q[1] / 5); }
        /* R plane, G plane, B plane, each 32 rows of 32 */
        for (int c = 0; c < 3; c++)
            for (int h = 0; h < 32; h++)
                for (int w = 0; w < 32; w++) q[hdr + (size_t)c * 1024 + (size_t)h * 32 + w] = cifar_px(fi, r, c, h, w);
    }
    int rc = write_file(path, b, rs * (size_t)nrec);
    free(b);
    return rc;
}

/* A CIFAR-10 folder: data_batch_1..5 of n records, test_batch of nt. */
static int write_cifar10_dir(const char *dir, int n, int nt)
{
    char f[600];
    mkdir(dir, 0755);
    for (int i = 1; i <= 5; i++) {
        snprintf(f, sizeof f, "%s/data_batch_%d.bin", dir, i);
        if (write_cifar(f, 10, i, n)) return -1;
    }
    snprintf(f, sizeof f, "%s/test_batch.bin", dir);
    return write_cifar(f, 10, 0, nt);
}

static int write_cifar100_dir(const char *dir, int n, int nt)
{
    char f[600];
    mkdir(dir, 0755);
    snprintf(f, sizeof f, "%s/train.bin", dir);
    if (write_cifar(f, 100, 1, n)) return -1;
    snprintf(f, sizeof f, "%s/test.bin", dir);
    return write_cifar(f, 100, 0, nt);
}

static void test_cifar10(void)
{
    char *dir = tpath("cifar-10-batches-bin");
    CU_ASSERT_FATAL(write_cifar10_dir(dir, 3, 2) == 0);
    hf_dataset_t tr, te;
    /* the folder itself, and the folder above it */
    for (int pass = 0; pass < 2; pass++) {
        int rc = hf_cifar_load(pass ? tmpdir : dir, 10, 0, &tr, &te);
        if (rc) printf("\n    %s\n", hf_errmsg());
        CU_ASSERT_EQUAL_FATAL(rc, HF_OK);
        CU_ASSERT(tr.n == 15 && te.n == 2 && tr.c == 3 && tr.h == 32 && tr.w == 32 && tr.dim == 3072);
        CU_ASSERT(tr.n_classes == 10 && te.n_classes == 10 && tr.vocab == 0);
        int bad = 0;
        for (int fi = 1; fi <= 5; fi++)
            for (int r = 0; r < 3; r++) {
                long s = (fi - 1) * 3 + r;
                bad += tr.y[s] != cifar_label(fi, r, 10);
                for (int c = 0; c < 3; c++)
                    for (int h = 0; h < 32; h++)
                        for (int w = 0; w < 32; w++) {
                            float v = tr.x[s * 3072 + c * 1024 + h * 32 + w];
                            unsigned char b = cifar_px(fi, r, c, h, w);
                            bad += v != (float)b * (1.0f / 255.0f) || fabs(v - b / 255.0) > 1e-7;
                        }
            }
        CU_ASSERT_EQUAL(bad, 0);
        /* pinned: record 1 of test_batch, pixel (c=2,h=5,w=7) */
        CU_ASSERT_EQUAL(te.x[1 * 3072 + 2 * 1024 + 5 * 32 + 7], (float)cifar_px(0, 1, 2, 5, 7) * (1.0f / 255.0f));
        CU_ASSERT_EQUAL(te.y[1], 3);
        hf_dataset_free(&tr);
        hf_dataset_free(&te);
    }
}

static void test_cifar100(void)
{
    char *dir = tpath("cifar-100-binary");
    CU_ASSERT_FATAL(write_cifar100_dir(dir, 4, 3) == 0);
    hf_dataset_t tr, te;
    CU_ASSERT_EQUAL_FATAL(hf_cifar_load(dir, 100, 0, &tr, &te), HF_OK);
    CU_ASSERT(tr.n == 4 && te.n == 3 && tr.n_classes == 100);
    for (int r = 0; r < 4; r++) CU_ASSERT_EQUAL(tr.y[r], cifar_label(1, r, 100));
    CU_ASSERT_EQUAL(tr.x[3 * 3072 + 1 * 1024 + 31 * 32 + 0], (float)cifar_px(1, 3, 1, 31, 0) * (1.0f / 255.0f));
    hf_dataset_free(&tr);
    hf_dataset_free(&te);
    CU_ASSERT_EQUAL_FATAL(hf_cifar_load(tmpdir, 100, 1, &tr, &te), HF_OK);
    CU_ASSERT(tr.n_classes == 20 && tr.y[3] == cifar_label(1, 3, 100) / 5);
    hf_dataset_free(&tr);
    hf_dataset_free(&te);
}

static void test_cifar_bad(void)
{
    hf_dataset_t d = {0}, te;
    char *f = tpath("bad.bin");
    /* truncated last record */
    CU_ASSERT_FATAL(write_cifar(f, 10, 1, 3) == 0);
    CU_ASSERT(truncate(f, 3 * 3073 - 100) == 0);
    CU_ASSERT_EQUAL(hf_cifar_read(f, 10, 0, &d), HF_EINPUT);
    CU_ASSERT(has(f) && has("record 2 is truncated"));
    /* label out of range in record 1 */
    CU_ASSERT_FATAL(write_cifar(f, 10, 1, 3) == 0);
    FILE *fp = fopen(f, "r+b");
    fseek(fp, 3073, SEEK_SET);
    fputc(10, fp);
    fclose(fp);
    CU_ASSERT_EQUAL(hf_cifar_read(f, 10, 0, &d), HF_EINPUT);
    CU_ASSERT(has(f) && has("record 1: label 10 out of range [0,10)"));
    /* CIFAR-100 fine label 100, coarse label 20 */
    CU_ASSERT_FATAL(write_cifar(f, 100, 1, 2) == 0);
    fp = fopen(f, "r+b");
    fseek(fp, 3074 + 1, SEEK_SET);
    fputc(100, fp);
    fclose(fp);
    CU_ASSERT_EQUAL(hf_cifar_read(f, 100, 0, &d), HF_EINPUT);
    CU_ASSERT(has("record 1: fine label 100 out of range [0,100)"));
    fp = fopen(f, "r+b");
    fputc(20, fp);
    fclose(fp);
    CU_ASSERT_EQUAL(hf_cifar_read(f, 100, 0, &d), HF_EINPUT);
    CU_ASSERT(has("record 0: coarse label 20"));
    /* empty, not a regular file, missing */
    CU_ASSERT(write_file(f, "", 0) == 0);
    CU_ASSERT_EQUAL(hf_cifar_read(f, 10, 0, &d), HF_EINPUT);
    CU_ASSERT(has("empty file"));
    CU_ASSERT_EQUAL(hf_cifar_read(tmpdir, 10, 0, &d), HF_EINPUT);
    CU_ASSERT(has("not a regular file"));
    char *dir = tpath("c10-missing");
    CU_ASSERT_FATAL(write_cifar10_dir(dir, 2, 2) == 0);
    char g[600];
    snprintf(g, sizeof g, "%s/data_batch_4.bin", dir);
    unlink(g);
    CU_ASSERT_EQUAL(hf_cifar_load(dir, 10, 0, &d, &te), HF_EINPUT);
    CU_ASSERT(has("data_batch_4.bin: cannot open") && has("cifar-10-binary.tar.gz"));
    CU_ASSERT(d.x == NULL && te.x == NULL);
    CU_ASSERT_EQUAL(hf_cifar_load(tpath("nowhere"), 100, 0, &d, &te), HF_EINPUT);
    CU_ASSERT(has("no CIFAR-100 binary files") && has("HINT") && has("cifar-100-binary.tar.gz"));
}

static void test_augment(void)
{
    enum { B = 6, C = 3, H = 8, W = 8, N = C * H * W };
    float x[B * N], y[B * N], scratch[N];
    for (int i = 0; i < B * N; i++) x[i] = (float)(i + 1);
    long ids[B] = {5, 9, 100, 3, 7, 11};
    memcpy(y, x, sizeof x);
    hf_augment_crop_flip(y, B, C, H, W, 4, 42, 3, 17, ids, scratch);
    int same_all = 1, found_all = 1, flips = 0;
    for (int b = 0; b < B; b++) {
        const float *s = x + b * N, *o = y + b * N;
        same_all &= memcmp(s, o, sizeof(float) * N) == 0;
        int found = 0;
        for (int oy = -4; oy <= 4 && !found; oy++)
            for (int ox = -4; ox <= 4 && !found; ox++)
                for (int fl = 0; fl < 2 && !found; fl++) {
                    int ok = 1;
                    for (int c = 0; c < C && ok; c++)
                        for (int h = 0; h < H && ok; h++)
                            for (int w = 0; w < W && ok; w++) {
                                int sy = h + oy, sx = (fl ? W - 1 - w : w) + ox;
                                float want = sy >= 0 && sy < H && sx >= 0 && sx < W ? s[c * H * W + sy * W + sx] : 0.0f;
                                ok = o[c * H * W + h * W + w] == want;
                            }
                    if (ok) { found = 1; flips += fl; }
                }
        found_all &= found;
    }
    CU_ASSERT(found_all);
    CU_ASSERT(!same_all);
    /* per-sample keys: one sample alone, at another batch position, gives the same image */
    float z[N];
    memcpy(z, x + 2 * N, sizeof z);
    hf_augment_crop_flip(z, 1, C, H, W, 4, 42, 3, 17, &ids[2], scratch);
    CU_ASSERT(memcmp(z, y + 2 * N, sizeof z) == 0);
    /* another round draws differently (for at least one of the samples) */
    float u[B * N];
    memcpy(u, x, sizeof x);
    hf_augment_crop_flip(u, B, C, H, W, 4, 42, 4, 17, ids, scratch);
    CU_ASSERT(memcmp(u, y, sizeof u) != 0);
}

extern const hf_strategy_t hf_strategy_fedavg;

/* data.augment in the engine (client.c): client 1's minibatch, as training
 * saw it, is sample by sample the kernel's crop + flip keyed (seed, round,
 * client, index of the sample in the training set) — whatever its position
 * in the batch — and a sample of the next round is cropped differently. */
static void test_augment_engine(void)
{
    enum { N = 7, C = 3, H = 8, W = 8, D = C * H * W, B = 4 };
    static float xs[N * D];
    static int ys[N];
    static long off[3] = {0, 3, 7}, idx[N] = {6, 2, 4, 0, 1, 5, 3};
    for (int i = 0; i < N * D; i++) xs[i] = (float)(i % 251 + 1) / 256.0f;
    for (int i = 0; i < N; i++) ys[i] = i % 3;
    static hf_params_t p;
    memset(&p, 0, sizeof p);
    p.seed = 42;
    p.batch_size = B;
    p.augment = 1;
    static hf_run_t x;
    memset(&x, 0, sizeof x);
    x.p = &p;
    x.train = (hf_dataset_t){.n = N, .dim = D, .c = C, .h = H, .w = W, .n_classes = 3, .x = xs, .y = ys};
    x.part = (hf_partition_t){.nclients = 2, .off = off, .idx = idx};
    hf_model_cfg_t mc = {.arch = HF_ARCH_LOGREG, .in_c = C, .in_h = H, .in_w = W, .n_classes = 3};
    CU_ASSERT_EQUAL_FATAL(hf_model_init(&x.model, &mc), 0);
    long P = x.model.nparams;
    float *start = calloc((size_t)P, sizeof(float));
    x.local = calloc((size_t)P, sizeof(float));
    x.grad = calloc((size_t)P, sizeof(float));
    x.work = hf_work_new(&x.model, B);
    x.xb = malloc(sizeof(float) * B * D);
    x.yb = malloc(sizeof(int) * B);
    x.iperm = malloc(sizeof(int) * N);
    x.aug_ids = malloc(sizeof(long) * B);
    x.aug_scratch = malloc(sizeof(float) * D);
    x.strat.st = &hf_strategy_fedavg;
    hf_cplan_t cp = {.client = 1, .kept = 1, .epochs = 1, .steps = 1};
    float want[D], scratch[D], first[B * D];
    int changed = 0;
    for (int t = 5; t <= 6; t++) {
        hf_client_train(&x, 1, t, start, &cp, 0);
        for (int i = 0; i < B; i++) {
            long id = idx[off[1] + x.iperm[i]];
            memcpy(want, xs + id * D, sizeof want);
            hf_augment_crop_flip(want, 1, C, H, W, 4, 42, t, 1, &id, scratch);
            CU_ASSERT(memcmp(want, x.xb + i * D, sizeof want) == 0);
            CU_ASSERT_EQUAL(x.yb[i], ys[id]);
            float *f = first + x.iperm[i] * D;   /* by the sample's position in the client */
            if (t == 5) memcpy(f, x.xb + i * D, sizeof want);
            else changed += memcmp(f, x.xb + i * D, sizeof want) != 0;
        }
    }
    CU_ASSERT(changed > 0);
    hf_work_free(x.work);
    free(start); free(x.local); free(x.grad); free(x.xb); free(x.yb); free(x.iperm); free(x.aug_ids);
    free(x.aug_scratch);
}

/* ------------------------------------------------------------------ */
/* LEAF FEMNIST and Shakespeare                                        */

/* FEMNIST-like JSON: users "f0001_00" (2 samples), "f0002_11" (nb samples) of 784 floats. */
static char *femnist_json(int nb, int badlabel, int dim)
{
    size_t cap = 1 << 20, o = 0;
    char *s = malloc(cap);
    o += (size_t)snprintf(s + o, cap - o, "{\"users\": [\"f0001_00\", \"f0002_11\"], \"num_samples\": [2, %d], "
                          "\"hierarchies\": [], \"user_data\": {", nb);
    const char *u[2] = {"f0001_00", "f0002_11"};
    int n[2] = {2, nb};
    for (int k = 0; k < 2; k++) {
        o += (size_t)snprintf(s + o, cap - o, "%s\"%s\": {\"x\": [", k ? ", " : "", u[k]);
        for (int r = 0; r < n[k]; r++) {
            o += (size_t)snprintf(s + o, cap - o, "%s[", r ? ", " : "");
            for (int i = 0; i < dim; i++)
                o += (size_t)snprintf(s + o, cap - o, "%s%.6g", i ? ", " : "", 1.0 - ((i + r + k) % 17) / 16.0);
            o += (size_t)snprintf(s + o, cap - o, "]");
        }
        o += (size_t)snprintf(s + o, cap - o, "], \"y\": [");
        for (int r = 0; r < n[k]; r++)
            o += (size_t)snprintf(s + o, cap - o, "%s%d", r ? ", " : "", badlabel && k == 1 ? 62 : (r * 13 + k * 50) % 62);
        o += (size_t)snprintf(s + o, cap - o, "]}");
    }
    snprintf(s + o, cap - o, "}}\n");
    return s;
}

static void test_femnist(void)
{
    hf_leaf_opts_t fo = {.max_classes = 62, .nonempty = 1, .img_c = 1, .img_h = 28, .img_w = 28, .text = -1};
    hf_dataset_t d;
    hf_partition_t p;
    char *s = femnist_json(3, 0, 784);
    CU_ASSERT_FATAL(write_file(tpath("femnist.json"), s, strlen(s)) == 0);
    free(s);
    int rc = hf_leaf_load_opts(tpath("femnist.json"), &fo, &d, &p);
    if (rc) printf("\n    %s\n", hf_errmsg());
    CU_ASSERT_EQUAL_FATAL(rc, HF_OK);
    CU_ASSERT(d.n == 5 && d.c == 1 && d.h == 28 && d.w == 28 && d.n_classes == 62 && d.vocab == 0);
    CU_ASSERT(p.nclients == 2 && p.off[1] == 2 && p.off[2] == 5);
    /* sample 3 = user 2's row 1: x[i] = 1 - ((i+1+1) % 17)/16 */
    CU_ASSERT_EQUAL(d.x[3 * 784 + 100], (float)(1.0 - ((100 + 2) % 17) / 16.0));
    CU_ASSERT_EQUAL(d.y[3], (13 + 50) % 62);
    hf_dataset_free(&d);
    hf_partition_free(&p);
    /* label 62, a user with no samples, rows of 783 values */
    s = femnist_json(3, 1, 784);
    write_file(tpath("femnist-bad.json"), s, strlen(s));
    free(s);
    CU_ASSERT_EQUAL(hf_leaf_load_opts(tpath("femnist-bad.json"), &fo, &d, &p), HF_EINPUT);
    CU_ASSERT(has("femnist-bad.json:") && has("user \"f0002_11\": label 0 is 62, out of range [0,62)"));
    s = femnist_json(0, 0, 784);
    write_file(tpath("femnist-bad.json"), s, strlen(s));
    free(s);
    CU_ASSERT_EQUAL(hf_leaf_load_opts(tpath("femnist-bad.json"), &fo, &d, &p), HF_EINPUT);
    CU_ASSERT(has("user \"f0002_11\" has no samples"));
    s = femnist_json(1, 0, 783);
    write_file(tpath("femnist-bad.json"), s, strlen(s));
    free(s);
    CU_ASSERT_EQUAL(hf_leaf_load_opts(tpath("femnist-bad.json"), &fo, &d, &p), HF_EINPUT);
    CU_ASSERT(has("783 values") && has("1x28x28"));
    CU_ASSERT_EQUAL(hf_leaf_load_opts(tmpdir, &fo, &d, &p), HF_EINPUT);
    CU_ASSERT(has("not a regular file"));
}

/* Shakespeare as LEAF writes it: x = 80-character strings, y = one character. */
static const char *shakes_x[3] = {
    "Thou art more lovely and more temperate:\nRough winds do shake the darling buds o",
    " May, And summer's lease hath all too short a date; \"Sometime\" too hot the eye, ",
    "eternal summer shall not fade (nor lose possession) of that fair thou ow'st; & s",
};
static const char shakes_y[3] = {' ', 'o', '!'};

/* JSON-escape s into o. */
static size_t json_esc(char *o, const char *s)
{
    size_t n = 0;
    for (; *s; s++) {
        if (*s == '\n') { o[n++] = '\\'; o[n++] = 'n'; }
        else if (*s == '"' || *s == '\\') { o[n++] = '\\'; o[n++] = *s; }
        else o[n++] = *s;
    }
    return n;
}

static char *shakes_json(const char *bad_x)
{
    char *s = malloc(8192);
    size_t o = 0;
    o += (size_t)sprintf(s + o, "{\"users\": [\"THE_TRAGEDY_OF_KING_LEAR_KENT\", \"ALLS_WELL_HELENA\"], "
                                "\"num_samples\": [1, 2], \"user_data\": {\"ALLS_WELL_HELENA\": {\"x\": [");
    for (int r = 1; r < 3; r++) {
        o += (size_t)sprintf(s + o, "%s\"", r > 1 ? ", " : "");
        o += json_esc(s + o, r == 2 && bad_x ? bad_x : shakes_x[r]);
        o += (size_t)sprintf(s + o, "\"");
    }
    o += (size_t)sprintf(s + o, "], \"y\": [\"%c\", \"%c\"]}, \"THE_TRAGEDY_OF_KING_LEAR_KENT\": {\"x\": [\"",
                         shakes_y[1], shakes_y[2]);
    o += json_esc(s + o, shakes_x[0]);
    sprintf(s + o, "\"], \"y\": [\"%c\"]}}}", shakes_y[0]);
    return s;
}

static void test_shakespeare(void)
{
    hf_leaf_opts_t so = {.max_classes = HF_LEAF_VOCAB, .nonempty = 1, .text = 1};
    CU_ASSERT_EQUAL(strlen(HF_LEAF_LETTERS), 80);
    CU_ASSERT(hf_leaf_letter('\n') == 0 && hf_leaf_letter(' ') == 1 && hf_leaf_letter('}') == 79 &&
              hf_leaf_letter('A') == 25 && hf_leaf_letter('a') == 53 && hf_leaf_letter('#') == -1 &&
              hf_leaf_letter(0) == -1);
    for (int r = 0; r < 3; r++) CU_ASSERT_EQUAL(strlen(shakes_x[r]), 80);
    char *s = shakes_json(NULL);
    CU_ASSERT_FATAL(write_file(tpath("shakes.json"), s, strlen(s)) == 0);
    free(s);
    hf_dataset_t d;
    hf_partition_t p;
    int rc = hf_leaf_load_opts(tpath("shakes.json"), &so, &d, &p);
    if (rc) printf("\n    %s\n", hf_errmsg());
    CU_ASSERT_EQUAL_FATAL(rc, HF_OK);
    CU_ASSERT(d.n == 3 && d.dim == 80 && d.vocab == 80 && d.n_classes == 80 && p.nclients == 2);
    int bad = 0;
    for (int r = 0; r < 3; r++) {
        for (int i = 0; i < 80; i++)
            bad += d.x[r * 80 + i] != (float)(strchr(HF_LEAF_LETTERS, shakes_x[r][i]) - HF_LEAF_LETTERS);
        bad += d.y[r] != (int)(strchr(HF_LEAF_LETTERS, shakes_y[r]) - HF_LEAF_LETTERS);
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(d.x[40] == 0.0f && d.y[0] == 1);   /* '\n' at 40, label ' ' */
    hf_dataset_free(&d);
    hf_partition_free(&p);
    /* a character outside the vocabulary ('#'), and a UTF-8 one */
    char bx[81];
    memcpy(bx, shakes_x[2], 81);
    bx[10] = '#';
    s = shakes_json(bx);
    write_file(tpath("shakes-bad.json"), s, strlen(s));
    free(s);
    CU_ASSERT_EQUAL(hf_leaf_load_opts(tpath("shakes-bad.json"), &so, &d, &p), HF_EINPUT);
    CU_ASSERT(has("shakes-bad.json:1: character '#' (position 10 of row 1 of user \"ALLS_WELL_HELENA\")"));
    /* numbers where text is needed */
    const char *num = "{\"users\":[\"a\"],\"num_samples\":[1],\"user_data\":{\"a\":{\"x\":[[1,2]],\"y\":[1]}}}";
    write_file(tpath("shakes-num.json"), num, strlen(num));
    CU_ASSERT_EQUAL(hf_leaf_load_opts(tpath("shakes-num.json"), &so, &d, &p), HF_EINPUT);
    CU_ASSERT(has("needs text"));
    const char *two = "{\"users\":[\"a\"],\"num_samples\":[1],\"user_data\":{\"a\":{\"x\":[\"ab\"],\"y\":[\"xy\"]}}}";
    write_file(tpath("shakes-num.json"), two, strlen(two));
    CU_ASSERT_EQUAL(hf_leaf_load_opts(tpath("shakes-num.json"), &so, &d, &p), HF_EINPUT);
    CU_ASSERT(has("label 0 of user \"a\" is a string of 2 characters"));
    const char *mix = "{\"users\":[\"a\"],\"num_samples\":[2],\"user_data\":{\"a\":{\"x\":[\"ab\",[1,2]],\"y\":[\"x\",\"y\"]}}}";
    write_file(tpath("shakes-num.json"), mix, strlen(mix));
    CU_ASSERT_EQUAL(hf_leaf_load_opts(tpath("shakes-num.json"), &so, &d, &p), HF_EINPUT);
    CU_ASSERT(has("mixes numbers and strings"));
}

/* ------------------------------------------------------------------ */
/* HDF5 writers (the layouts of TFF's h5py files and of docs/data.md)  */

static hid_t group_at(hid_t f, const char *path)
{
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t g = H5Gcreate2(f, path, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    return g;
}

static void put(hid_t loc, const char *name, hid_t ftype, hid_t mtype, int nd, const hsize_t *dims, const void *buf)
{
    hid_t sp = H5Screate_simple(nd, dims, NULL);
    hid_t ds = H5Dcreate2(loc, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (buf) H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    H5Dclose(ds);
    H5Sclose(sp);
}

static float emnist_px(int k, int i, int p) { return (float)((k * 5 + i * 3 + p) % 256) / 255.0f; }

/* fed_emnist-style file: clients named "f%04d_%02d", client k with n[k] samples.
 * flaw: 0 none, 1 label 62 in client 1 sample 1, 2 client 1 with no samples,
 * 3 pixels (N,27,28) in client 1, 4 label count mismatch in client 0 */
static int write_tff_emnist(const char *path, int nc, const int *n, int flaw)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return -1;
    /* created in reverse order: readers must order clients by name */
    for (int k = nc - 1; k >= 0; k--) {
        char g[64];
        snprintf(g, sizeof g, "examples/f%04d_%02d", 100 - k, k);
        hid_t gg = group_at(f, g);
        int nk = flaw == 2 && k == 1 ? 0 : n[k];
        float *px = malloc(sizeof(float) * 784 * (size_t)(nk + 1));
        int32_t *lab = malloc(sizeof(int32_t) * (size_t)(nk + 1));
        for (int i = 0; i < nk; i++) {
            for (int p = 0; p < 784; p++) px[i * 784 + p] = emnist_px(k, i, p);
            lab[i] = (k * 7 + i) % 62;
        }
        if (flaw == 1 && k == 1) lab[1] = 62;
        hsize_t d3[3] = {(hsize_t)nk, flaw == 3 && k == 1 ? 27 : 28, 28}, d1[1] = {(hsize_t)(flaw == 4 && k == 0 ? nk - 1 : nk)};
        put(gg, "label", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, d1, lab);
        put(gg, "pixels", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, d3, px);
        free(px);
        free(lab);
        H5Gclose(gg);
    }
    H5Fclose(f);
    return 0;
}

static unsigned char c100_px(int k, int i, int h, int w, int c) { return (unsigned char)((k * 13 + i * 7 + h * 3 + w * 5 + c * 101) & 255); }

/* fed_cifar100-style: clients "0".."nc-1"; flaw 1: label 100 in client 2 sample 0 */
static int write_tff_cifar100(const char *path, int nc, int nper, int flaw)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return -1;
    for (int k = 0; k < nc; k++) {
        char g[64];
        snprintf(g, sizeof g, "examples/%d", k);
        hid_t gg = group_at(f, g);
        unsigned char *im = malloc((size_t)nper * 3072);
        int64_t *lab = malloc(sizeof(int64_t) * (size_t)nper), *co = malloc(sizeof(int64_t) * (size_t)nper);
        for (int i = 0; i < nper; i++) {
            for (int h = 0; h < 32; h++)
                for (int w = 0; w < 32; w++)
                    for (int c = 0; c < 3; c++) im[(size_t)i * 3072 + (h * 32 + w) * 3 + c] = c100_px(k, i, h, w, c);
            lab[i] = (k * 11 + i * 3) % 100;
            co[i] = lab[i] / 5;
        }
        if (flaw == 1 && k == 2) lab[0] = 100;
        hsize_t d4[4] = {(hsize_t)nper, 32, 32, 3}, d1[1] = {(hsize_t)nper};
        put(gg, "coarse_label", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, d1, co);
        put(gg, "image", H5T_STD_U8LE, H5T_NATIVE_UCHAR, 4, d4, im);
        put(gg, "label", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, d1, lab);
        free(im);
        free(lab);
        free(co);
        H5Gclose(gg);
    }
    H5Fclose(f);
    return 0;
}

/* shakespeare-style: clients with snippets (variable-length strings). */
static int write_tff_shakes(const char *path, int nc, const char *const *snips, int nsn)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return -1;
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, H5T_VARIABLE);
    for (int k = 0; k < nc; k++) {
        char g[64];
        snprintf(g, sizeof g, "examples/CLIENT_%c", 'A' + k);
        hid_t gg = group_at(f, g);
        const char *buf[16];
        int n = 0;
        for (int i = k % nsn; n < 2 + k % 2; i = (i + 1) % nsn) buf[n++] = snips[i];
        hsize_t d1[1] = {(hsize_t)n};
        put(gg, "snippets", st, st, 1, d1, buf);
        H5Gclose(gg);
    }
    H5Tclose(st);
    H5Fclose(f);
    return 0;
}

static void test_tff_emnist(void)
{
    int n[3] = {2, 3, 1};
    char *f = tpath("fed_emnist_train.h5");
    CU_ASSERT_FATAL(write_tff_emnist(f, 3, n, 0) == 0);
    hf_dataset_t d;
    hf_partition_t p;
    int rc = hf_tff_load(f, 0, &d, &p);
    if (rc) printf("\n    %s\n", hf_errmsg());
    CU_ASSERT_EQUAL_FATAL(rc, HF_OK);
    CU_ASSERT(d.n == 6 && d.c == 1 && d.h == 28 && d.w == 28 && d.n_classes == 62 && p.nclients == 3);
    /* name order: f0098_02 (k=2), f0099_01 (k=1), f0100_00 (k=0) */
    CU_ASSERT(p.off[1] == 1 && p.off[2] == 4 && p.off[3] == 6);
    CU_ASSERT_EQUAL(d.x[0 * 784 + 300], emnist_px(2, 0, 300));
    CU_ASSERT_EQUAL(d.x[3 * 784 + 783], emnist_px(1, 2, 783));
    CU_ASSERT(d.y[0] == 14 && d.y[3] == 9 && d.y[5] == 1);
    hf_dataset_free(&d);
    hf_partition_free(&p);
    const char *want[5] = {NULL, "examples/f0099_01/label: sample 1: label 62 out of range [0,62)",
                           "examples/f0099_01/pixels: client has no samples",
                           "examples/f0099_01/pixels: shape (3,27,28), expected (N,28,28)",
                           "examples/f0100_00/label: 1 labels for 2 samples"};
    for (int flaw = 1; flaw <= 4; flaw++) {
        char *b = tpath("fed_emnist_bad.h5");
        write_tff_emnist(b, 3, n, flaw);
        CU_ASSERT_EQUAL(hf_tff_load(b, 0, &d, &p), HF_EINPUT);
        CU_ASSERT(has(b) && has(want[flaw]));
    }
    /* truncated file, not HDF5, no examples group, not a regular file */
    char *b = tpath("fed_emnist_bad.h5");
    write_tff_emnist(b, 3, n, 0);
    struct stat st;
    stat(b, &st);
    CU_ASSERT(truncate(b, st.st_size / 2) == 0);
    rc = hf_tff_load(b, 0, &d, &p);
    CU_ASSERT_EQUAL(rc, HF_EINPUT);
    CU_ASSERT(has(b));
    write_file(b, "not hdf5", 8);
    CU_ASSERT_EQUAL(hf_tff_load(b, 0, &d, &p), HF_EINPUT);
    CU_ASSERT(has("not a readable HDF5 file"));
    hid_t h = H5Fcreate(b, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(group_at(h, "data"));
    H5Fclose(h);
    CU_ASSERT_EQUAL(hf_tff_load(b, 0, &d, &p), HF_EINPUT);
    CU_ASSERT(has("no group 'examples'"));
    CU_ASSERT_EQUAL(hf_tff_load(tmpdir, 0, &d, &p), HF_EINPUT);
    CU_ASSERT(has("not a regular file"));
}

static void test_tff_cifar100(void)
{
    char *f = tpath("fed_cifar100_train.h5");
    CU_ASSERT_FATAL(write_tff_cifar100(f, 3, 2, 0) == 0);
    hf_dataset_t d;
    hf_partition_t p;
    int rc = hf_tff_load(f, 0, &d, &p);
    if (rc) printf("\n    %s\n", hf_errmsg());
    CU_ASSERT_EQUAL_FATAL(rc, HF_OK);
    CU_ASSERT(d.n == 6 && d.c == 3 && d.h == 32 && d.w == 32 && d.n_classes == 100 && p.nclients == 3);
    /* CHW from HWC: sample 3 = client 1 sample 1, channel 2 (blue), h 4, w 9 */
    CU_ASSERT_EQUAL(d.x[3 * 3072 + 2 * 1024 + 4 * 32 + 9], (float)c100_px(1, 1, 4, 9, 2) * (1.0f / 255.0f));
    CU_ASSERT_EQUAL(d.y[3], (11 + 3) % 100);
    hf_dataset_free(&d);
    hf_partition_free(&p);
    CU_ASSERT_EQUAL_FATAL(hf_tff_load(f, 1, &d, &p), HF_OK);
    CU_ASSERT(d.n_classes == 20 && d.y[3] == 14 / 5);
    hf_dataset_free(&d);
    hf_partition_free(&p);
    write_tff_cifar100(f, 3, 2, 1);
    CU_ASSERT_EQUAL(hf_tff_load(f, 0, &d, &p), HF_EINPUT);
    CU_ASSERT(has("examples/2/label: sample 0: label 100 out of range [0,100)"));
}

static const char *const snips[3] = {
    "To be, or not to be: that is the question.",
    "Now is the winter of our discontent\nMade glorious summer by this sun of York; and all the clouds that "
    "lour'd upon our house in the deep bosom of the ocean buried",
    "",
};

static void test_tff_shakespeare(void)
{
    CU_ASSERT_EQUAL(strlen(HF_TFF_CHARS), 86);
    char *f = tpath("shakespeare_train.h5");
    CU_ASSERT_FATAL(write_tff_shakes(f, 2, snips, 3) == 0);
    hf_dataset_t d;
    hf_partition_t p;
    int rc = hf_tff_load(f, 0, &d, &p);
    if (rc) printf("\n    %s\n", hf_errmsg());
    CU_ASSERT_EQUAL_FATAL(rc, HF_OK);
    /* client A: snippets 0 (44 tokens with begin/end: 1 sample) and 1 (161 chars → L = 163:
     * e = 2, 82, 162: 3 samples); client B: snippets 1, 2 ("" → 1 sample: [begin] → end), 0 */
    long L1 = (long)strlen(snips[1]) + 2;
    CU_ASSERT_EQUAL(L1, 163);
    CU_ASSERT(d.n == 1 + 3 + 3 + 1 + 1 && d.dim == 80 && d.vocab == 90 && d.n_classes == 90);
    CU_ASSERT(p.nclients == 2 && p.off[1] == 4 && p.off[2] == 9);
    /* sample 0: input = 37 pads, begin, then 'To be, or not to be: that is the question' ; target '.' */
    const char *V = HF_TFF_CHARS;
    int bad = 0;
    for (int k = 0; k < 80; k++) {
        int q = k - 37;   /* e = 43 (L = 44): positions 43-80+k */
        float want = q < 0 ? 0.0f : q == 0 ? 88.0f : (float)(strchr(V, snips[0][q - 1]) - V + 1);
        bad += d.x[k] != want;
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(d.y[0], 89);   /* end of snippet */
    /* sample 2 of client A (snippet 1, e = 82): x = s[2..82) = chars 1..80, y = char 81 */
    CU_ASSERT_EQUAL(d.x[2 * 80 + 0], (float)(strchr(V, snips[1][1]) - V + 1));
    CU_ASSERT_EQUAL(d.y[2], (int)(strchr(V, snips[1][81]) - V + 1));
    /* sample 1 (e = 2): pads, begin, 'N' → 'o' */
    CU_ASSERT(d.x[80 + 78] == 88.0f && d.x[80 + 77] == 0.0f && d.y[1] == (int)(strchr(V, 'o') - V + 1));
    /* the empty snippet: input [pads..., begin], target end */
    CU_ASSERT(d.x[7 * 80 + 79] == 88.0f && d.y[7] == 89);
    hf_dataset_free(&d);
    hf_partition_free(&p);
}

static void test_h5_generic(void)
{
    char *f = tpath("generic.h5");
    enum { N = 7, NT = 2 };
    unsigned char in[N * 16];
    int64_t lab[N], cl[N] = {5, 2, 5, 9, 2, 2, 5};
    float tin[NT * 16];
    int32_t tlab[NT] = {1, 3};
    for (int i = 0; i < N * 16; i++) in[i] = (unsigned char)(i * 37);
    for (int i = 0; i < N; i++) lab[i] = i % 3;
    for (int i = 0; i < NT * 16; i++) tin[i] = 0.5f * i;
    hid_t h = H5Fcreate(f, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t d4[4] = {N, 1, 4, 4}, d1[1] = {N}, t3[3] = {NT, 4, 4}, t1[1] = {NT};
    put(h, "inputs", H5T_STD_U8LE, H5T_NATIVE_UCHAR, 4, d4, in);
    put(h, "labels", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, d1, lab);
    put(h, "clients", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, d1, cl);
    hid_t tg = group_at(h, "test");
    put(tg, "inputs", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, t3, tin);
    put(tg, "labels", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, t1, tlab);
    H5Gclose(tg);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(h, "n_classes", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    int32_t ncl = 5;
    H5Awrite(a, H5T_NATIVE_INT32, &ncl);
    H5Aclose(a);
    H5Sclose(sp);
    H5Fclose(h);
    hf_dataset_t tr, te;
    hf_partition_t p;
    int rc = hf_h5data_load(f, &tr, &te, &p);
    if (rc) printf("\n    %s\n", hf_errmsg());
    CU_ASSERT_EQUAL_FATAL(rc, HF_OK);
    CU_ASSERT(tr.n == N && tr.c == 1 && tr.h == 4 && tr.w == 4 && tr.n_classes == 5 && te.n == NT && te.n_classes == 5);
    CU_ASSERT_EQUAL(tr.x[3 * 16 + 5], (float)(unsigned char)((3 * 16 + 5) * 37) * (1.0f / 255.0f));
    CU_ASSERT(te.x[17] == 8.5f && te.y[1] == 3);
    /* clients 2 (samples 1,4,5), 5 (0,2,6), 9 (3) */
    CU_ASSERT(p.nclients == 3 && p.off[1] == 3 && p.off[2] == 6 && p.off[3] == 7);
    CU_ASSERT(p.idx[0] == 1 && p.idx[2] == 5 && p.idx[3] == 0 && p.idx[6] == 3);
    hf_dataset_free(&tr);
    hf_dataset_free(&te);
    hf_partition_free(&p);
    /* label beyond n_classes, labels count mismatch, missing /labels */
    h = H5Fopen(f, H5F_ACC_RDWR, H5P_DEFAULT);
    H5Ldelete(h, "labels", H5P_DEFAULT);
    H5Fflush(h, H5F_SCOPE_GLOBAL);
    CU_ASSERT_EQUAL(hf_h5data_load(f, &tr, &te, &p), HF_EINPUT);
    CU_ASSERT(has("no dataset /labels"));
    lab[4] = 5;
    put(h, "labels", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, d1, lab);
    H5Fflush(h, H5F_SCOPE_GLOBAL);
    CU_ASSERT_EQUAL(hf_h5data_load(f, &tr, &te, &p), HF_EINPUT);
    CU_ASSERT(has("/labels: sample 4: label 5 out of range [0,5)"));
    H5Ldelete(h, "labels", H5P_DEFAULT);
    hsize_t d5[1] = {N - 1};
    lab[4] = 0;
    put(h, "labels", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, d5, lab);
    H5Fclose(h);
    CU_ASSERT_EQUAL(hf_h5data_load(f, &tr, &te, &p), HF_EINPUT);
    CU_ASSERT(has("/labels: shape (6) for 7 inputs"));
}

/* ------------------------------------------------------------------ */
/* --write: sample files for the end-to-end shell test                 */

/* generic layout: n samples of 1x6x6 uint8 in 3 classes (class = brightness band),
 * 6 clients by id, a test split of nt */
static void write_generic(const char *path, int n, int nt)
{
    hid_t h = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    for (int split = 0; split < 2; split++) {
        int m = split ? nt : n;
        unsigned char *in = malloc((size_t)m * 36);
        int64_t *lab = malloc(sizeof(int64_t) * (size_t)m), *cl = malloc(sizeof(int64_t) * (size_t)m);
        for (int i = 0; i < m; i++) {
            lab[i] = (i * 7 + split) % 3;
            cl[i] = (i * 5) % 6;
            for (int p = 0; p < 36; p++) in[i * 36 + p] = (unsigned char)(lab[i] * 80 + (i * 13 + p * 7) % 60);
        }
        hid_t loc = split ? group_at(h, "test") : h;
        hsize_t d4[4] = {(hsize_t)m, 1, 6, 6}, d1[1] = {(hsize_t)m};
        put(loc, "inputs", H5T_STD_U8LE, H5T_NATIVE_UCHAR, 4, d4, in);
        put(loc, "labels", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, d1, lab);
        if (!split) put(loc, "clients", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, d1, cl);
        else H5Gclose(loc);
        free(in);
        free(lab);
        free(cl);
    }
    H5Fclose(h);
}

static int write_samples(const char *dir)
{
    char p[600];
    mkdir(dir, 0755);
    snprintf(p, sizeof p, "%s/cifar-10-batches-bin", dir);
    if (write_cifar10_dir(p, 40, 30)) return 1;
    snprintf(p, sizeof p, "%s/cifar-100-binary", dir);
    if (write_cifar100_dir(p, 200, 30)) return 1;
    char *s = femnist_json(6, 0, 784);
    snprintf(p, sizeof p, "%s/femnist.json", dir);
    write_file(p, s, strlen(s));
    free(s);
    s = shakes_json(NULL);
    snprintf(p, sizeof p, "%s/shakespeare.json", dir);
    write_file(p, s, strlen(s));
    free(s);
    int n[4] = {5, 7, 6, 4};
    snprintf(p, sizeof p, "%s/fed_emnist_train.h5", dir);
    write_tff_emnist(p, 4, n, 0);
    snprintf(p, sizeof p, "%s/fed_emnist_test.h5", dir);
    write_tff_emnist(p, 2, n, 0);
    snprintf(p, sizeof p, "%s/fed_cifar100_train.h5", dir);
    write_tff_cifar100(p, 4, 5, 0);
    snprintf(p, sizeof p, "%s/fed_cifar100_test.h5", dir);
    write_tff_cifar100(p, 2, 3, 0);
    snprintf(p, sizeof p, "%s/shakespeare_train.h5", dir);
    write_tff_shakes(p, 3, snips, 3);
    snprintf(p, sizeof p, "%s/generic.h5", dir);
    write_generic(p, 240, 60);
    /* bad files for the exit-2 checks */
    snprintf(p, sizeof p, "%s/bad-cifar", dir);
    write_cifar10_dir(p, 2, 2);
    snprintf(p, sizeof p, "%s/bad-cifar/data_batch_3.bin", dir);
    if (truncate(p, 3073 + 1000)) return 1;
    snprintf(p, sizeof p, "%s/fed_emnist_bad.h5", dir);
    write_tff_emnist(p, 3, n, 1);
    return 0;
}

static const hf_cu_test_t cifar_tests[] = {
    {"cifar-10 binary, byte for byte", test_cifar10, NULL},
    {"cifar-100 binary, fine and coarse", test_cifar100, NULL},
    {"bad cifar files", test_cifar_bad, NULL},
    {"crop + flip augmentation", test_augment, NULL},
    {"data.augment in the client's minibatches", test_augment_engine, NULL},
    {0},
};
static const hf_cu_test_t leaf_tests[] = {
    {"femnist json", test_femnist, NULL},
    {"shakespeare json", test_shakespeare, NULL},
    {0},
};
static const hf_cu_test_t hdf5_tests[] = {
    {"tff fed_emnist", test_tff_emnist, NULL},
    {"tff fed_cifar100", test_tff_cifar100, NULL},
    {"tff shakespeare", test_tff_shakespeare, NULL},
    {"generic layout", test_h5_generic, NULL},
    {0},
};
static const hf_cu_suite_t suites[] = {
    {"cifar", cifar_tests, NULL, NULL}, {"leaf", leaf_tests, NULL, NULL}, {"hdf5", hdf5_tests, NULL, NULL}, {0}};

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--write")) return write_samples(argv[2]);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/hf_test_datasets_XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 2; }
    int rc = hf_cu_main(&argc, &argv, 0, suites);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", tmpdir);
    return rc;
}
