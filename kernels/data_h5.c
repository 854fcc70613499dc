/*
 * data_h5.c — data sets stored in HDF5, read natively with the HDF5 C library:
 *
 *  1. TensorFlow Federated's files (tff.simulation.datasets, written by h5py):
 *     one group examples/<client_id>/ per client holding one dataset per
 *     feature, all with the client's N samples as first dimension:
 *       fed_emnist_{train,test}.h5     pixels float32 (N,28,28), label int32 (N)
 *       fed_cifar100_{train,test}.h5   image uint8 (N,32,32,3), label int64 (N),
 *                                      coarse_label int64 (N)
 *       shakespeare_{train,test}.h5    snippets: variable-length strings (N)
 *     Natural partition: one client per group, in the order of the group names
 *     (the HDF5 name index: TFF's sorted client_ids).
 *  2. hetfl's generic layout (docs/data.md): /inputs, /labels, optional
 *     /clients, optional /test/{inputs,labels}, attributes n_classes and vocab.
 *
 * Every defect is HF_EINPUT "PATH: OBJECT: what is wrong" naming the group or
 * dataset at fault; HDF5's own error stack printing is switched off meanwhile.
 */
#include "data.h"
#include "provenance.h"
#include "hf_util.h"
#include <errno.h>
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_NAME 1024

/* HDF5 error printing off for the scope of a reader. */
typedef struct { H5E_auto2_t fn; void *data; } h5quiet_t;
static void quiet_on(h5quiet_t *q)
{
    H5Eget_auto2(H5E_DEFAULT, &q->fn, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}
static void quiet_off(h5quiet_t *q) { H5Eset_auto2(H5E_DEFAULT, q->fn, q->data); }

static int open_file(const char *path, hid_t *f)
{
    if (hf_input_check(path, 0)) return HF_EINPUT;  /* regular files only (hf_util.h) */
    *f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (*f < 0) return hf_seterr(HF_EINPUT, "%s: not a readable HDF5 file (truncated or another format)", path);
    hf_inputs_note(path);  /* its SHA-256 goes into the results file */
    return HF_OK;
}

/* A dataset's rank, dims (up to 4) and type class. */
typedef struct {
    hid_t id, type;
    int ndim;
    hsize_t dims[4];
    H5T_class_t cls;
    size_t size;      /* bytes per element */
    H5T_sign_t sign;
} dsinfo_t;

static void ds_close(dsinfo_t *d)
{
    if (d->type >= 0) H5Tclose(d->type);
    if (d->id >= 0) H5Dclose(d->id);
    d->id = d->type = -1;
}

/* Open loc/name; 1 found, 0 absent, <0 error (message set). */
static int ds_open(const char *path, hid_t loc, const char *obj, const char *name, dsinfo_t *d)
{
    d->id = d->type = -1;
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) return 0;
    d->id = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d->id < 0) {
        hf_seterr(HF_EINPUT, "%s: %s%s: not a dataset", path, obj, name);
        return -1;
    }
    hid_t sp = H5Dget_space(d->id);
    d->ndim = H5Sget_simple_extent_ndims(sp);
    if (d->ndim < 1 || d->ndim > 4) {
        H5Sclose(sp);
        ds_close(d);
        hf_seterr(HF_EINPUT, "%s: %s%s: %d dimensions (1 to 4 expected)", path, obj, name, d->ndim);
        return -1;
    }
    H5Sget_simple_extent_dims(sp, d->dims, NULL);
    H5Sclose(sp);
    d->type = H5Dget_type(d->id);
    d->cls = H5Tget_class(d->type);
    d->size = H5Tget_size(d->type);
    d->sign = d->cls == H5T_INTEGER ? H5Tget_sign(d->type) : H5T_SGN_NONE;
    return 1;
}

static const char *class_name(H5T_class_t c)
{
    switch (c) {
    case H5T_INTEGER: return "integer";
    case H5T_FLOAT: return "float";
    case H5T_STRING: return "string";
    default: return "non-numeric";
    }
}

/* Read a whole numeric dataset converted to float / int64. */
static int ds_read_float(const char *path, const char *obj, const char *name, dsinfo_t *d, float *out)
{
    if (d->cls != H5T_INTEGER && d->cls != H5T_FLOAT)
        return hf_seterr(HF_EINPUT, "%s: %s%s: %s values (numbers expected)", path, obj, name, class_name(d->cls));
    if (H5Dread(d->id, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
        return hf_seterr(HF_EINPUT, "%s: %s%s: read error (truncated file?)", path, obj, name);
    return HF_OK;
}

static int ds_read_i64(const char *path, const char *obj, const char *name, dsinfo_t *d, int64_t *out)
{
    if (d->cls != H5T_INTEGER)
        return hf_seterr(HF_EINPUT, "%s: %s%s: %s values (integers expected)", path, obj, name, class_name(d->cls));
    if (H5Dread(d->id, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
        return hf_seterr(HF_EINPUT, "%s: %s%s: read error (truncated file?)", path, obj, name);
    return HF_OK;
}

static int ds_read_u8(const char *path, const char *obj, const char *name, dsinfo_t *d, unsigned char *out)
{
    if (H5Dread(d->id, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
        return hf_seterr(HF_EINPUT, "%s: %s%s: read error (truncated file?)", path, obj, name);
    return HF_OK;
}

/* Labels (n) into y, each in [0, ncl) (ncl <= 0: >= 0 only); *maxlab updated. */
static int labels_to_int(const char *path, const char *obj, const char *name, const int64_t *v, long n,
                         int ncl, int *y, int *maxlab)
{
    for (long i = 0; i < n; i++) {
        if (v[i] < 0 || (ncl > 0 && v[i] >= ncl) || v[i] > HF_LEAF_MAX_LABEL)
            return hf_seterr(HF_EINPUT, "%s: %s%s: sample %ld: label %lld out of range [0,%d)", path, obj, name,
                             i, (long long)v[i], ncl > 0 ? ncl : HF_LEAF_MAX_LABEL + 1);
        y[i] = (int)v[i];
        if (y[i] > *maxlab) *maxlab = y[i];
    }
    return HF_OK;
}

/* ------------------------------------------------------------------ */
/* Growable sample store                                               */

typedef struct {
    float *x;
    int *y;
    long n, cap;
    int dim;
} store_t;

static void store_reserve(store_t *s, long add)
{
    if (s->n + add <= s->cap) return;
    long c = s->cap ? s->cap : 1024;
    while (c < s->n + add) c *= 2;
    s->x = hf_realloc(s->x, (size_t)c * s->dim * sizeof(float));
    s->y = hf_realloc(s->y, (size_t)c * sizeof(int));
    s->cap = c;
}

/* ------------------------------------------------------------------ */
/* TFF                                                                 */

enum { TFF_EMNIST = 1, TFF_CIFAR100, TFF_SHAKESPEARE };

/* TFF character id of byte ch: 1..86, out-of-vocabulary 87. */
static int tff_char(int ch)
{
    static const char V[] = HF_TFF_CHARS;
    const char *q = ch > 0 ? memchr(V, ch, sizeof V - 1) : NULL;
    return q ? (int)(q - V) + 1 : 87;
}

/* One snippet → next-character samples appended to s (see data.h). */
static void tff_snippet(store_t *s, const char *txt, size_t len)
{
    long L = (long)len + 2;
    int *seq = hf_malloc((size_t)L * sizeof(int));
    seq[0] = 88;
    for (size_t i = 0; i < len; i++) seq[i + 1] = tff_char((unsigned char)txt[i]);
    seq[L - 1] = 89;
    long first = (L - 1) % HF_TFF_SEQ;   /* smallest e in {L-1, L-1-80, ...} that is >= 1 */
    if (first == 0) first = HF_TFF_SEQ;
    for (long e = first; e <= L - 1; e += HF_TFF_SEQ) {
        store_reserve(s, 1);
        float *x = s->x + (size_t)s->n * HF_TFF_SEQ;
        for (long k = 0; k < HF_TFF_SEQ; k++) {
            long q = e - HF_TFF_SEQ + k;
            x[k] = q >= 0 ? (float)seq[q] : 0.0f;
        }
        s->y[s->n++] = seq[e];
    }
    free(seq);
}

/* Kind of a client group from its datasets. */
static int tff_kind(hid_t g)
{
    if (H5Lexists(g, "snippets", H5P_DEFAULT) > 0) return TFF_SHAKESPEARE;
    if (H5Lexists(g, "pixels", H5P_DEFAULT) > 0) return TFF_EMNIST;
    if (H5Lexists(g, "image", H5P_DEFAULT) > 0) return TFF_CIFAR100;
    return 0;
}

/* One client's samples appended to s. */
static int tff_client(const char *path, hid_t g, const char *obj, int kind, int coarse, store_t *s,
                      int *maxlab)
{
    dsinfo_t a = {.id = -1, .type = -1}, b = {.id = -1, .type = -1};
    const char *fx = kind == TFF_SHAKESPEARE ? "snippets" : kind == TFF_EMNIST ? "pixels" : "image";
    const char *fy = kind == TFF_CIFAR100 && coarse ? "coarse_label" : "label";
    int rc = HF_OK, f;
    if ((f = ds_open(path, g, obj, fx, &a)) <= 0) {
        if (f == 0) rc = hf_seterr(HF_EINPUT, "%s: %s: no dataset '%s' (every client of this file needs one)",
                                   path, obj, fx);
        else rc = HF_EINPUT;
        goto out;
    }
    long n = (long)a.dims[0];
    if (n == 0) { rc = hf_seterr(HF_EINPUT, "%s: %s%s: client has no samples", path, obj, fx); goto out; }
    if (kind == TFF_SHAKESPEARE) {
        if (a.cls != H5T_STRING || a.ndim != 1) {
            rc = hf_seterr(HF_EINPUT, "%s: %ssnippets: %s with %d dimensions (1-D strings expected)", path, obj,
                           class_name(a.cls), a.ndim);
            goto out;
        }
        if (H5Tis_variable_str(a.type) > 0) {
            char **str = hf_calloc((size_t)n, sizeof(char *));
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            if (H5Dread(a.id, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, str) < 0) {
                rc = hf_seterr(HF_EINPUT, "%s: %ssnippets: read error (truncated file?)", path, obj);
            } else {
                for (long i = 0; i < n; i++) tff_snippet(s, str[i] ? str[i] : "", str[i] ? strlen(str[i]) : 0);
                hid_t sp = H5Dget_space(a.id);
                H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, str);
                H5Sclose(sp);
            }
            H5Tclose(mt);
            free(str);
        } else {
            size_t w = a.size;
            char *buf = hf_malloc((size_t)n * w + 1);
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, w);
            if (H5Dread(a.id, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
                rc = hf_seterr(HF_EINPUT, "%s: %ssnippets: read error (truncated file?)", path, obj);
            else
                for (long i = 0; i < n; i++) tff_snippet(s, buf + (size_t)i * w, strnlen(buf + (size_t)i * w, w));
            H5Tclose(mt);
            free(buf);
        }
        goto out;
    }
    /* images and labels */
    int hh = kind == TFF_EMNIST ? 28 : 32;
    int okshape = kind == TFF_EMNIST ? a.ndim == 3 && a.dims[1] == 28 && a.dims[2] == 28
                                     : a.ndim == 4 && a.dims[1] == 32 && a.dims[2] == 32 && a.dims[3] == 3;
    if (!okshape) {
        char sh[96];
        int o = snprintf(sh, sizeof sh, "(");
        for (int i = 0; i < a.ndim; i++) o += snprintf(sh + o, sizeof sh - (size_t)o, "%s%llu", i ? "," : "",
                                                       (unsigned long long)a.dims[i]);
        snprintf(sh + o, sizeof sh - (size_t)o, ")");
        rc = hf_seterr(HF_EINPUT, "%s: %s%s: shape %s, expected (N,%s)", path, obj, fx, sh,
                       kind == TFF_EMNIST ? "28,28" : "32,32,3");
        goto out;
    }
    if (a.cls != H5T_INTEGER && a.cls != H5T_FLOAT) {
        rc = hf_seterr(HF_EINPUT, "%s: %s%s: %s values (numbers expected)", path, obj, fx, class_name(a.cls));
        goto out;
    }
    if ((f = ds_open(path, g, obj, fy, &b)) <= 0) {
        if (f == 0) rc = hf_seterr(HF_EINPUT, "%s: %s: no dataset '%s'", path, obj, fy);
        else rc = HF_EINPUT;
        goto out;
    }
    if (b.ndim != 1 || (long)b.dims[0] != n) {
        rc = hf_seterr(HF_EINPUT, "%s: %s%s: %llu%s labels for %ld samples in '%s'", path, obj, fy,
                       (unsigned long long)b.dims[0], b.ndim != 1 ? " (not 1-D)" : "", n, fx);
        goto out;
    }
    int ncl = kind == TFF_EMNIST ? 62 : coarse ? 20 : 100;
    int64_t *lab = hf_malloc((size_t)n * sizeof(int64_t));
    store_reserve(s, n);
    rc = ds_read_i64(path, obj, fy, &b, lab);
    if (!rc) rc = labels_to_int(path, obj, fy, lab, n, ncl, s->y + s->n, maxlab);
    free(lab);
    if (rc) goto out;
    float *x = s->x + (size_t)s->n * s->dim;
    if (kind == TFF_EMNIST) {
        rc = ds_read_float(path, obj, fx, &a, x);
    } else {
        unsigned char *u = hf_malloc((size_t)n * 3072);
        if (a.cls != H5T_INTEGER) rc = hf_seterr(HF_EINPUT, "%s: %simage: %s values (uint8 expected)", path, obj,
                                                 class_name(a.cls));
        else rc = ds_read_u8(path, obj, fx, &a, u);
        const float sc = 1.0f / 255.0f;
        for (long i = 0; !rc && i < n; i++)   /* HWC -> CHW */
            for (int c = 0; c < 3; c++)
                for (int p = 0; p < hh * hh; p++)
                    x[(size_t)i * 3072 + (size_t)c * 1024 + p] = (float)u[(size_t)i * 3072 + (size_t)p * 3 + c] * sc;
        free(u);
    }
    if (!rc) s->n += n;
out:
    ds_close(&a);
    ds_close(&b);
    return rc;
}

int hf_tff_load(const char *path, int coarse, hf_dataset_t *d, hf_partition_t *p)
{
    memset(d, 0, sizeof *d);
    memset(p, 0, sizeof *p);
    h5quiet_t q;
    quiet_on(&q);
    hid_t f = -1, ex = -1;
    int rc = open_file(path, &f);
    store_t s = {0};
    long *off = NULL;
    int kind = 0, maxlab = -1;
    hsize_t nc = 0;
    if (rc) goto out;
    if (H5Lexists(f, "examples", H5P_DEFAULT) <= 0 || (ex = H5Gopen2(f, "examples", H5P_DEFAULT)) < 0) {
        rc = hf_seterr(HF_EINPUT, "%s: no group 'examples' (not a TensorFlow Federated HDF5 file)", path);
        goto out;
    }
    H5G_info_t gi;
    H5Gget_info(ex, &gi);
    nc = gi.nlinks;
    if (nc == 0) { rc = hf_seterr(HF_EINPUT, "%s: examples: no clients", path); goto out; }
    if (nc > (hsize_t)INT32_MAX - 1) { rc = hf_seterr(HF_EINPUT, "%s: examples: too many clients", path); goto out; }
    off = hf_calloc((size_t)nc + 1, sizeof(long));
    for (hsize_t i = 0; i < nc && !rc; i++) {
        char name[MAX_NAME], obj[MAX_NAME + 16];
        ssize_t nl = H5Lget_name_by_idx(ex, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name, H5P_DEFAULT);
        if (nl < 0 || nl >= (ssize_t)sizeof name) {
            rc = hf_seterr(HF_EINPUT, "%s: examples: client %llu: unreadable or too long name", path,
                           (unsigned long long)i);
            break;
        }
        snprintf(obj, sizeof obj, "examples/%s/", name);
        hid_t g = H5Gopen2(ex, name, H5P_DEFAULT);
        if (g < 0) {
            rc = hf_seterr(HF_EINPUT, "%s: examples/%s: not a group", path, name);
            break;
        }
        int k = tff_kind(g);
        if (i == 0) {
            kind = k;
            if (!kind) {
                rc = hf_seterr(HF_EINPUT, "%s: examples/%s: none of the datasets 'pixels' (EMNIST), 'image' "
                               "(CIFAR-100) or 'snippets' (Shakespeare)", path, name);
                H5Gclose(g);
                break;
            }
            s.dim = kind == TFF_EMNIST ? 784 : kind == TFF_CIFAR100 ? 3072 : HF_TFF_SEQ;
        }
        long n0 = s.n;
        rc = tff_client(path, g, obj, kind, coarse, &s, &maxlab);
        H5Gclose(g);
        if (!rc && s.n == n0)
            rc = hf_seterr(HF_EINPUT, "%s: examples/%s: client has no samples", path, name);
        off[i + 1] = s.n;
    }
    if (rc) goto out;
    if (kind == TFF_SHAKESPEARE) {
        hf_dataset_alloc(d, s.n, 1, 1, HF_TFF_SEQ, HF_TFF_VOCAB);
        d->vocab = HF_TFF_VOCAB;
    } else if (kind == TFF_EMNIST) {
        /* fed_emnist_digitsonly_*.h5: 10 classes; fed_emnist_*.h5: 62 */
        const char *bn = strrchr(path, '/');
        hf_dataset_alloc(d, s.n, 1, 28, 28, strstr(bn ? bn : path, "digitsonly") ? 10 : 62);
        if (maxlab >= d->n_classes) {
            rc = hf_seterr(HF_EINPUT, "%s: label %d in a digits-only file (0..9 expected)", path, maxlab);
            hf_dataset_free(d);
            memset(d, 0, sizeof *d);
            goto out;
        }
    } else {
        hf_dataset_alloc(d, s.n, 3, 32, 32, coarse ? 20 : 100);
    }
    memcpy(d->x, s.x, (size_t)s.n * s.dim * sizeof(float));
    memcpy(d->y, s.y, (size_t)s.n * sizeof(int));
    p->nclients = (int)nc;
    p->off = off;
    off = NULL;
    p->idx = hf_malloc((size_t)HF_MAX(s.n, 1) * sizeof(long));
    for (long i = 0; i < s.n; i++) p->idx[i] = i;
out:
    free(off);
    free(s.x);
    free(s.y);
    if (ex >= 0) H5Gclose(ex);
    if (f >= 0) H5Fclose(f);
    quiet_off(&q);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Generic layout                                                      */

/* Integer attribute `name` of loc; 0 absent, 1 read, <0 error. */
static int attr_int(const char *path, hid_t loc, const char *name, long *v)
{
    if (H5Aexists(loc, name) <= 0) return 0;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
    int ok = H5Tget_class(t) == H5T_INTEGER && H5Sget_simple_extent_npoints(sp) == 1;
    int64_t x = 0;
    if (ok) ok = H5Aread(a, H5T_NATIVE_INT64, &x) >= 0;
    H5Sclose(sp);
    H5Tclose(t);
    H5Aclose(a);
    if (!ok) { hf_seterr(HF_EINPUT, "%s: attribute '%s': not one integer", path, name); return -1; }
    *v = (long)x;
    return 1;
}

/* inputs + labels of one split (prefix "" or "test/"). */
static int h5_split(const char *path, hid_t f, const char *pre, long ncl_attr, long vocab, hf_dataset_t *d)
{
    char ni[64], nl[64];
    snprintf(ni, sizeof ni, "%sinputs", pre);
    snprintf(nl, sizeof nl, "%slabels", pre);
    dsinfo_t a = {.id = -1, .type = -1}, b = {.id = -1, .type = -1};
    int rc = HF_OK, fnd;
    int64_t *lab = NULL;
    if ((fnd = ds_open(path, f, "/", ni, &a)) <= 0) {
        rc = fnd == 0 ? hf_seterr(HF_EINPUT, "%s: no dataset /%s (generic layout: docs/data.md)", path, ni) : HF_EINPUT;
        goto out;
    }
    if ((fnd = ds_open(path, f, "/", nl, &b)) <= 0) {
        rc = fnd == 0 ? hf_seterr(HF_EINPUT, "%s: no dataset /%s (generic layout: docs/data.md)", path, nl) : HF_EINPUT;
        goto out;
    }
    long n = (long)a.dims[0];
    if (n == 0) { rc = hf_seterr(HF_EINPUT, "%s: /%s: no samples", path, ni); goto out; }
    if (b.ndim != 1 || (long)b.dims[0] != n) {
        rc = hf_seterr(HF_EINPUT, "%s: /%s: shape (%llu%s) for %ld inputs (one label per sample expected)", path, nl,
                       (unsigned long long)b.dims[0], b.ndim != 1 ? ",..." : "", n);
        goto out;
    }
    int c = 1, h = 1, w = 1;
    if (a.ndim == 2) w = (int)a.dims[1];
    else if (a.ndim == 3) { h = (int)a.dims[1]; w = (int)a.dims[2]; }
    else if (a.ndim == 4) { c = (int)a.dims[1]; h = (int)a.dims[2]; w = (int)a.dims[3]; }
    else { rc = hf_seterr(HF_EINPUT, "%s: /%s: 1-D; (N,D), (N,H,W) or (N,C,H,W) expected", path, ni); goto out; }
    if ((double)c * h * w > (double)(1 << 26) || c * h * w < 1) {
        rc = hf_seterr(HF_EINPUT, "%s: /%s: %.0f values per sample is out of range", path, ni, (double)c * h * w);
        goto out;
    }
    if (a.cls != H5T_INTEGER && a.cls != H5T_FLOAT) {
        rc = hf_seterr(HF_EINPUT, "%s: /%s: %s values (float or uint8 expected)", path, ni, class_name(a.cls));
        goto out;
    }
    lab = hf_malloc((size_t)n * sizeof(int64_t));
    int maxlab = -1;
    rc = ds_read_i64(path, "/", nl, &b, lab);
    hf_dataset_alloc(d, n, c, h, w, 2);
    if (!rc) rc = labels_to_int(path, "/", nl, lab, n, (int)ncl_attr, d->y, &maxlab);
    if (rc) goto out;
    if (a.cls == H5T_INTEGER && a.size == 1 && a.sign == H5T_SGN_NONE && vocab <= 0) {
        unsigned char *u = hf_malloc((size_t)n * d->dim);
        rc = ds_read_u8(path, "/", ni, &a, u);
        const float sc = 1.0f / 255.0f;
        for (size_t i = 0; !rc && i < (size_t)n * d->dim; i++) d->x[i] = (float)u[i] * sc;
        free(u);
    } else {
        rc = ds_read_float(path, "/", ni, &a, d->x);
    }
    if (rc) goto out;
    for (size_t i = 0; i < (size_t)n * d->dim; i++)
        if (!(d->x[i] - d->x[i] == 0.0f) ||
            (vocab > 0 && !(d->x[i] >= 0.0f && d->x[i] < (float)vocab && d->x[i] == (float)(long)d->x[i]))) {
            rc = hf_seterr(HF_EINPUT, "%s: /%s: sample %zu: value %g is %s", path, ni, i / (size_t)d->dim,
                           (double)d->x[i], vocab > 0 ? "not a token id in [0, vocab)" : "not finite");
            goto out;
        }
    d->n_classes = ncl_attr > 0 ? (int)ncl_attr : HF_MAX(maxlab + 1, 2);
    if (vocab > 0) d->vocab = (int)vocab;
out:
    free(lab);
    ds_close(&a);
    ds_close(&b);
    return rc;
}

static int cmp_pair(const void *a, const void *b)
{
    const int64_t *x = a, *y = b;   /* (client id, sample) */
    if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
    return (x[1] > y[1]) - (x[1] < y[1]);
}

int hf_h5data_load(const char *path, hf_dataset_t *train, hf_dataset_t *test, hf_partition_t *p)
{
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    memset(p, 0, sizeof *p);
    h5quiet_t q;
    quiet_on(&q);
    hid_t f = -1;
    dsinfo_t cl = {.id = -1, .type = -1};
    int64_t *ids = NULL;
    long ncl = 0, vocab = 0;
    int rc = open_file(path, &f);
    if (rc) goto out;
    if (attr_int(path, f, "n_classes", &ncl) < 0 || attr_int(path, f, "vocab", &vocab) < 0) { rc = HF_EINPUT; goto out; }
    if (ncl == 1 || ncl < 0 || ncl > HF_LEAF_MAX_LABEL + 1) {
        rc = hf_seterr(HF_EINPUT, "%s: attribute 'n_classes' = %ld (>= 2 expected)", path, ncl);
        goto out;
    }
    if (vocab < 0 || vocab > (1 << 24)) {
        rc = hf_seterr(HF_EINPUT, "%s: attribute 'vocab' = %ld out of range [1, 2^24]", path, vocab);
        goto out;
    }
    rc = h5_split(path, f, "", ncl, vocab, train);
    if (!rc && H5Lexists(f, "test", H5P_DEFAULT) > 0) {
        rc = h5_split(path, f, "test/", ncl, vocab, test);
        if (!rc && test->dim != train->dim)
            rc = hf_seterr(HF_EINPUT, "%s: /test/inputs: %d values per sample, /inputs %d", path, test->dim, train->dim);
        if (!rc) train->n_classes = test->n_classes = HF_MAX(train->n_classes, test->n_classes);
    }
    if (rc) goto out;
    int fnd = ds_open(path, f, "/", "clients", &cl);
    if (fnd < 0) { rc = HF_EINPUT; goto out; }
    if (fnd) {
        long n = train->n;
        if (cl.ndim != 1 || (long)cl.dims[0] != n) {
            rc = hf_seterr(HF_EINPUT, "%s: /clients: %llu entries for %ld samples", path,
                           (unsigned long long)cl.dims[0], n);
            goto out;
        }
        ids = hf_malloc((size_t)n * 2 * sizeof(int64_t));
        int64_t *raw = hf_malloc((size_t)n * sizeof(int64_t));
        rc = ds_read_i64(path, "/", "clients", &cl, raw);
        for (long i = 0; !rc && i < n; i++) {
            if (raw[i] < 0) rc = hf_seterr(HF_EINPUT, "%s: /clients: sample %ld: client id %lld is negative", path, i,
                                           (long long)raw[i]);
            ids[2 * i] = raw[i];
            ids[2 * i + 1] = i;
        }
        free(raw);
        if (rc) goto out;
        qsort(ids, (size_t)n, 2 * sizeof(int64_t), cmp_pair);
        long k = 0;
        for (long i = 0; i < n; i++) k += i == 0 || ids[2 * i] != ids[2 * i - 2];
        if (k > INT32_MAX - 1) { rc = hf_seterr(HF_EINPUT, "%s: /clients: too many clients", path); goto out; }
        p->nclients = (int)k;
        p->off = hf_calloc((size_t)k + 1, sizeof(long));
        p->idx = hf_malloc((size_t)n * sizeof(long));
        long c = -1;
        for (long i = 0; i < n; i++) {
            if (i == 0 || ids[2 * i] != ids[2 * i - 2]) p->off[++c] = i;
            p->idx[i] = (long)ids[2 * i + 1];
        }
        p->off[k] = n;
    }
out:
    free(ids);
    ds_close(&cl);
    if (f >= 0) H5Fclose(f);
    quiet_off(&q);
    if (rc) {
        hf_dataset_free(train);
        hf_dataset_free(test);
        hf_partition_free(p);
        memset(train, 0, sizeof *train);
        memset(test, 0, sizeof *test);
        memset(p, 0, sizeof *p);
    }
    return rc;
}
