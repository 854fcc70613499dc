/*
 * provenance.c — build information, library versions, input-file checksums and
 * the run status, as root attributes of every results file (docs/results.md,
 * "Provenance").  The build information comes from buildinfo.h, which the
 * Makefile regenerates at every `make` (tools/buildinfo.sh) and which is never
 * committed.
 */
#include "config.h"
#include "provenance.h"
#include "buildinfo.h"
#include "hf_util.h"
#include <cblas.h>
#include <errno.h>
#include <hwloc.h>
#include <limits.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ SHA-256 --- */
/* FIPS 180-4, straightforward; hashing the 30 MB Fashion-MNIST files takes
 * about 0.15 s, once per run on rank 0. */

typedef struct {
    uint32_t h[8];
    uint64_t len;
    unsigned char buf[64];
    size_t nbuf;
} sha256_t;

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(uint32_t h[8], const unsigned char *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 |
               p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = k + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + w[i];
        uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        k = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
}

static void sha256_init(sha256_t *s)
{
    static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, h0, sizeof h0);
    s->len = 0;
    s->nbuf = 0;
}

static void sha256_update(sha256_t *s, const unsigned char *p, size_t n)
{
    s->len += n;
    if (s->nbuf) {
        size_t take = HF_MIN(n, 64 - s->nbuf);
        memcpy(s->buf + s->nbuf, p, take);
        s->nbuf += take; p += take; n -= take;
        if (s->nbuf < 64) return;
        sha256_block(s->h, s->buf);
        s->nbuf = 0;
    }
    for (; n >= 64; p += 64, n -= 64) sha256_block(s->h, p);
    memcpy(s->buf, p, n);
    s->nbuf = n;
}

static void sha256_final(sha256_t *s, unsigned char out[32])
{
    uint64_t bits = s->len * 8;
    unsigned char pad[72] = {0x80};
    size_t npad = (s->nbuf < 56 ? 56 : 120) - s->nbuf;
    for (int i = 0; i < 8; i++) pad[npad + i] = (unsigned char)(bits >> (56 - 8 * i));
    sha256_update(s, pad, npad + 8);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (unsigned char)(s->h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(s->h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(s->h[i] >> 8);
        out[4 * i + 3] = (unsigned char)s->h[i];
    }
}

void hf_sha256(const void *data, size_t n, unsigned char out[32])
{
    sha256_t s;
    sha256_init(&s);
    sha256_update(&s, data, n);
    sha256_final(&s, out);
}

int hf_sha256_file(const char *path, char hex[65])
{
    hex[0] = 0;
    char why[256];
    int fd = hf_input_open_why(path, 0, why, sizeof why);  /* never a FIFO or a device (hf_util.h) */
    FILE *f = fd < 0 ? NULL : fdopen(fd, "rb");
    if (!f) {
        if (fd >= 0) close(fd);
        return -1;
    }
    sha256_t s;
    sha256_init(&s);
    unsigned char buf[1 << 16], d[32];
    size_t r;
    while ((r = fread(buf, 1, sizeof buf, f)) > 0) sha256_update(&s, buf, r);
    int bad = ferror(f);
    fclose(f);
    if (bad) return -1;
    sha256_final(&s, d);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
    return 0;
}

/* ------------------------------------------------------ input registry --- */

static char **inputs;
static int ninputs, capinputs;

void hf_inputs_note(const char *path)
{
    if (!path || !path[0]) return;
    char abs[PATH_MAX];
    const char *p = realpath(path, abs) ? abs : path;
    for (int i = 0; i < ninputs; i++)
        if (!strcmp(inputs[i], p)) return;
    if (ninputs == capinputs) {
        capinputs = capinputs ? 2 * capinputs : 8;
        inputs = hf_realloc(inputs, (size_t)capinputs * sizeof *inputs);
    }
    inputs[ninputs++] = hf_strdup(p);
}

int hf_inputs_count(void) { return ninputs; }
const char *hf_inputs_path(int i) { return i >= 0 && i < ninputs ? inputs[i] : NULL; }

void hf_inputs_clear(void)
{
    for (int i = 0; i < ninputs; i++) free(inputs[i]);
    free(inputs);
    inputs = NULL;
    ninputs = capinputs = 0;
}

/* ------------------------------------------------- build and libraries --- */

const hf_build_info_t *hf_build_info(void)
{
    static const hf_build_info_t b = {HF_BUILD_GIT_COMMIT, HF_BUILD_GIT_DIRTY, HF_BUILD_COMPILER,
                                      HF_BUILD_CFLAGS, HF_BUILD_CONFIGURE_ARGS, HF_BUILD_TIME};
    return &b;
}

void hf_lib_versions(char *mpi, size_t nmpi, char *hdf5, size_t nhdf5, char *blas, size_t nblas,
                     char *hwloc, size_t nhwloc)
{
    char lib[MPI_MAX_LIBRARY_VERSION_STRING] = "";
    int len = 0, v = 0, sv = 0, init = 0;
    MPI_Initialized(&init);
    if (init) {
        MPI_Get_library_version(lib, &len);
        MPI_Get_version(&v, &sv);
    }
    char *nl = strchr(lib, '\n');  /* MPICH: several lines; the first names it */
    if (nl) *nl = 0;
    for (char *t = lib; *t; t++) if (*t == '\t') *t = ' ';  /* "MPICH Version:\t4.0.2" */
    for (char *e = lib + strlen(lib); e > lib && (e[-1] == ' ' || e[-1] == ','); ) *--e = 0;
    if (init) snprintf(mpi, nmpi, "MPI %d.%d: %s", v, sv, lib);
    else snprintf(mpi, nmpi, "unknown (MPI not initialised)");
    unsigned maj = 0, min = 0, rel = 0;
    H5get_libversion(&maj, &min, &rel);
    snprintf(hdf5, nhdf5, "%u.%u.%u", maj, min, rel);
    const char *cfg = openblas_get_config();
    snprintf(blas, nblas, "%s", cfg ? cfg : "unknown");
    unsigned hv = hwloc_get_api_version();
    snprintf(hwloc, nhwloc, "API %u.%u.%u", hv >> 16, (hv >> 8) & 0xff, hv & 0xff);
}

void hf_version_print(FILE *out)
{
    const hf_build_info_t *b = hf_build_info();
    char mpi[MPI_MAX_LIBRARY_VERSION_STRING + 32], hdf5[64], blas[256], hwl[64];
    hf_lib_versions(mpi, sizeof mpi, hdf5, sizeof hdf5, blas, sizeof blas, hwl, sizeof hwl);
    fprintf(out, "hetfl %s\n", PACKAGE_VERSION);
    fprintf(out, "git_commit: %s\ngit_dirty: %s\n", b->git_commit, b->git_dirty);
    fprintf(out, "compiler: %s\ncflags: %s\nconfigure: %s\nbuilt: %s\n", b->compiler, b->cflags,
            b->configure_args[0] ? b->configure_args : "(no arguments)", b->built);
    fprintf(out, "mpi: %s\nhdf5: %s\nopenblas: %s\nhwloc: %s\n", mpi, hdf5, blas, hwl);
    fprintf(out, "data: %s (installed suites and traces)\n", HETFL_DATADIR);
}

/* ------------------------------------------------------- HDF5 attributes --- */

static char run_id[128];      /* this process's run, as stored in the file it opened */

static hid_t vstr_type(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

/* Write a string attribute: in place when it exists (no delete/create, so the
 * object header keeps its layout), created otherwise. */
static int put_str(hid_t loc, const char *name, const char *value)
{
    hid_t t = vstr_type();
    hid_t a;
    if (H5Aexists(loc, name) > 0) {
        a = H5Aopen(loc, name, H5P_DEFAULT);
        hid_t at = H5Aget_type(a);
        int vlen = H5Tis_variable_str(at) > 0;
        H5Tclose(at);
        if (!vlen) {  /* an older fixed-length one: replace it */
            H5Aclose(a);
            H5Adelete(loc, name);
            a = -1;
        }
    } else a = -1;
    if (a < 0) {
        hid_t sp = H5Screate(H5S_SCALAR);
        a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
        H5Sclose(sp);
    }
    herr_t e = a < 0 ? -1 : H5Awrite(a, t, &value);
    if (a >= 0) H5Aclose(a);
    H5Tclose(t);
    return e < 0 ? hf_seterr(HF_ERUNTIME, "HDF5: cannot write attribute %s", name) : 0;
}

static int put_int(hid_t loc, const char *name, long long v)
{
    hid_t a;
    if (H5Aexists(loc, name) > 0) a = H5Aopen(loc, name, H5P_DEFAULT);
    else {
        hid_t sp = H5Screate(H5S_SCALAR);
        a = H5Acreate2(loc, name, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
        H5Sclose(sp);
    }
    herr_t e = a < 0 ? -1 : H5Awrite(a, H5T_NATIVE_LLONG, &v);
    if (a >= 0) H5Aclose(a);
    return e < 0 ? hf_seterr(HF_ERUNTIME, "HDF5: cannot write attribute %s", name) : 0;
}

static int put_str_array(hid_t loc, const char *name, const char *const *v, int n)
{
    if (H5Aexists(loc, name) > 0) H5Adelete(loc, name);
    hid_t t = vstr_type();
    hsize_t dims = (hsize_t)n;
    hid_t sp = H5Screate_simple(1, &dims, NULL);
    hid_t a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = a < 0 ? -1 : (n ? H5Awrite(a, t, v) : 0);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    return e < 0 ? hf_seterr(HF_ERUNTIME, "HDF5: cannot write attribute %s", name) : 0;
}

static void iso_now(char *buf, size_t n)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

const char *hf_prov_status_name(int rc)
{
    return rc == 0 ? "completed" : rc == HF_ESIGNAL ? "stopped" : "failed";
}

int hf_prov_write(hid_t file, int resumed)
{
    char now[64], host[256] = "?";
    iso_now(now, sizeof now);
    gethostname(host, sizeof host - 1);
    snprintf(run_id, sizeof run_id, "%s-%ld-%ld", host, (long)getpid(), (long)time(NULL));
    int rc = 0;
    if (!resumed) {
        const hf_build_info_t *b = hf_build_info();
        char mpi[MPI_MAX_LIBRARY_VERSION_STRING + 32], hdf5[64], blas[256], hwl[64];
        hf_lib_versions(mpi, sizeof mpi, hdf5, sizeof hdf5, blas, sizeof blas, hwl, sizeof hwl);
        rc |= put_str(file, "git_commit", b->git_commit);
        rc |= put_str(file, "git_dirty", b->git_dirty);
        rc |= put_str(file, "compiler", b->compiler);
        rc |= put_str(file, "cflags", b->cflags);
        rc |= put_str(file, "configure_args", b->configure_args);
        rc |= put_str(file, "mpi_version", mpi);
        rc |= put_str(file, "hdf5_version", hdf5);
        rc |= put_str(file, "openblas_version", blas);
        rc |= put_str(file, "hwloc_version", hwl);
        rc |= put_str(file, "start_time", now);
        /* inputs: path and SHA-256, two arrays in the same order */
        int n = hf_inputs_count();
        const char **paths = hf_calloc((size_t)n + 1, sizeof *paths);
        char **sums = hf_calloc((size_t)n + 1, sizeof *sums);
        for (int i = 0; i < n; i++) {
            paths[i] = hf_inputs_path(i);
            sums[i] = hf_calloc(65, 1);
            if (hf_sha256_file(paths[i], sums[i]) != 0) snprintf(sums[i], 65, "unreadable");
        }
        rc |= put_str_array(file, "input_files", paths, n);
        rc |= put_str_array(file, "input_sha256", (const char *const *)sums, n);
        for (int i = 0; i < n; i++) free(sums[i]);
        free(sums);
        free(paths);
    } else {
        rc |= put_str(file, "resumed_time", now);
    }
    rc |= put_str(file, "run_id", run_id);
    rc |= put_str(file, "status", "running");
    rc |= put_int(file, "exit_code", -1);
    rc |= put_str(file, "end_time", "");
    rc |= put_str(file, "status_detail", "");
    return rc ? HF_ERUNTIME : 0;
}

/* Does the open file carry this process's run_id? */
static int file_is_mine(hid_t f)
{
    int mine = 0;
    if (H5Aexists(f, "run_id") > 0) {
        hid_t a = H5Aopen(f, "run_id", H5P_DEFAULT), t = vstr_type();
        char *s = NULL;
        if (H5Aread(a, t, &s) >= 0 && s) {
            mine = !strcmp(s, run_id);
            H5free_memory(s);
        }
        H5Tclose(t);
        H5Aclose(a);
    }
    return mine;
}

int hf_prov_finish(const char *path, int rc, const char *detail)
{
    if (!run_id[0] || !path || access(path, F_OK) != 0) return 0;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    /* only the file this process's run opened (not an existing file it refused to
     * replace, nor another run's that took the name meanwhile): read-only until
     * the run_id says so, so another run's file is never opened for writing */
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return hf_seterr(HF_ERUNTIME, "%s: cannot reopen to record the run status", path);
    int mine = file_is_mine(f);
    if (mine) {
        H5Fclose(f);
        f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
        if (f < 0) return hf_seterr(HF_ERUNTIME, "%s: cannot reopen to record the run status", path);
    }
    int e = 0;
    if (mine) {
        char now[64];
        iso_now(now, sizeof now);
        e |= put_str(f, "end_time", now);
        e |= put_int(f, "exit_code", rc);
        e |= put_str(f, "status_detail", detail ? detail : "");
        e |= put_str(f, "status", hf_prov_status_name(rc));  /* last: a reader that sees it sees the rest */
    }
    if (H5Fclose(f) < 0) e = 1;
    run_id[0] = 0;
    return e ? hf_seterr(HF_ERUNTIME, "%s: cannot record the run status", path) : 0;
}
