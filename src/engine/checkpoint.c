/*
 * checkpoint.c — the checkpoint registry, saving into two alternating slots of
 * /checkpoint, and resuming (layout and crash-safety argument in checkpoint.h).
 *
 * Why a registry: features (server optimizers, SCAFFOLD control variates,
 * availability and energy state, ...) each own persistent buffers; one
 * registration line per buffer is all it takes to make them survive a restart,
 * and the save/restore code never needs to know what they mean.
 */
#include "checkpoint.h"
#include "cstore.h"
#include "hf_util.h"
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define CKPT_MAX 64
#define CKPT_FORMAT 2  /* 2: sparse per-client vectors as (id, bytes) records */

typedef struct {
    char name[64];
    void *ptr;
    size_t nbytes;            /* global: total bytes; per-client: bytes per client */
    int per_client;
    int kind;                 /* PLAIN: ptr is the buffer; REF: *(void **)ptr is;
                               * PTRS: ptr is a void *[last - first] of lazy buffers;
                               * CVECS: ptr is an hf_cvecs_t, nbytes its vectors' bytes */
    size_t records;           /* CVECS: records the dataset holds, min(N, bound) */
} hf_ckpt_entry_t;
enum { PLAIN, REF, PTRS, CVECS };

static struct {
    hf_ckpt_entry_t e[CKPT_MAX];
    int n;
    int nclients, first, last;  /* client layout of this rank */
    int rank, size;
} reg;

void hf_ckpt_begin(MPI_Comm comm, int nclients, int first, int last)
{
    memset(&reg, 0, sizeof reg);
    reg.nclients = nclients;
    reg.first = first;
    reg.last = last;
    MPI_Comm_rank(comm, &reg.rank);
    MPI_Comm_size(comm, &reg.size);
    hf_signals_install();
}

void hf_ckpt_end(void)
{
    hf_signals_restore();
    reg.n = 0;
}

static void add(const char *name, void *ptr, size_t n, int per_client, int kind)
{
    if (reg.n == CKPT_MAX) {
        fprintf(stderr, "hetfl: internal error: more than %d checkpoint buffers\n", CKPT_MAX);
        abort();
    }
    for (int i = 0; i < reg.n; i++)
        if (!strcmp(reg.e[i].name, name)) {
            fprintf(stderr, "hetfl: internal error: checkpoint buffer '%s' registered twice\n", name);
            abort();
        }
    hf_ckpt_entry_t *e = &reg.e[reg.n++];
    snprintf(e->name, sizeof e->name, "%s", name);
    e->ptr = ptr;
    e->nbytes = n;
    e->per_client = per_client;
    e->kind = kind;
}

void hf_ckpt_register(const char *name, void *ptr, size_t nbytes) { add(name, ptr, nbytes, 0, PLAIN); }

void hf_ckpt_register_clients(const char *name, void *ptr, size_t bytes_per_client)
{
    add(name, ptr, bytes_per_client, 1, PLAIN);
}

void hf_ckpt_register_ref(const char *name, void **pptr, size_t nbytes) { add(name, pptr, nbytes, 0, REF); }

void hf_ckpt_register_clients_ref(const char *name, void **pptr, size_t bytes_per_client)
{
    add(name, pptr, bytes_per_client, 1, REF);
}

void hf_ckpt_register_client_ptrs(const char *name, void **ptrs, size_t bytes_per_client)
{
    add(name, ptrs, bytes_per_client, 1, PTRS);
}

void hf_ckpt_register_client_vecs(const char *name, struct hf_cvecs *v, double bound)
{
    add(name, v, v->bytes, 1, CVECS);
    reg.e[reg.n - 1].records = (size_t)HF_MIN((double)reg.nclients, ceil(bound));
}

/* Bytes of a CVECS dataset: its records of an int64 id and the vector. */
static size_t cvecs_total(const hf_ckpt_entry_t *e) { return e->records * (8 + e->nbytes); }

/* This rank's bytes of e: the buffer itself, or (PTRS) a packed copy, zeros
 * for NULL entries (*tmp is set then; caller frees). */
static void *local_bytes(const hf_ckpt_entry_t *e, unsigned char **tmp)
{
    *tmp = NULL;
    if (e->kind == REF) return *(void **)e->ptr;
    if (e->kind != PTRS) return e->ptr;
    size_t nl = (size_t)(reg.last - reg.first);
    *tmp = hf_calloc(nl ? nl * e->nbytes : 1, 1);
    void **pp = e->ptr;
    for (size_t i = 0; i < nl; i++)
        if (pp[i]) memcpy(*tmp + i * e->nbytes, pp[i], e->nbytes);
    return *tmp;
}

/* Store restored bytes (this rank's share) into e. */
static void restore_bytes(hf_ckpt_entry_t *e, const unsigned char *b, size_t n)
{
    if (e->kind == PLAIN) { if (e->ptr) memcpy(e->ptr, b, n); return; }
    if (e->kind == REF) { if (*(void **)e->ptr) memcpy(*(void **)e->ptr, b, n); return; }
    void **pp = e->ptr;
    for (long i = 0; i < reg.last - reg.first; i++) {
        const unsigned char *s = b + (size_t)i * e->nbytes;
        int zero = 1;
        for (size_t j = 0; j < e->nbytes && zero; j++) zero = s[j] == 0;
        if (zero) { free(pp[i]); pp[i] = NULL; continue; }
        if (!pp[i]) pp[i] = hf_alloc_aligned(e->nbytes);
        memcpy(pp[i], s, e->nbytes);
    }
}

/* ------------------------------------------------------------ HDF5 bits --- */

static int attr_get_long(hid_t loc, const char *name, long *v)
{
    if (H5Aexists(loc, name) <= 0) return -1;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    herr_t e = H5Aread(a, H5T_NATIVE_LONG, v);
    H5Aclose(a);
    return e < 0 ? -1 : 0;
}

/* Create or overwrite in place (fixed-size scalar: the rewrite touches only
 * the attribute's value in the object header). */
static int attr_set_long(hid_t loc, const char *name, long v)
{
    hid_t a;
    if (H5Aexists(loc, name) > 0) {
        a = H5Aopen(loc, name, H5P_DEFAULT);
    } else {
        hid_t sp = H5Screate(H5S_SCALAR);
        a = H5Acreate2(loc, name, H5T_NATIVE_LONG, sp, H5P_DEFAULT, H5P_DEFAULT);
        H5Sclose(sp);
    }
    herr_t e = a < 0 ? -1 : H5Awrite(a, H5T_NATIVE_LONG, &v);
    if (a >= 0) H5Aclose(a);
    return e < 0 ? -1 : 0;
}

static hid_t open_or_create_group(hid_t loc, const char *name)
{
    if (H5Lexists(loc, name, H5P_DEFAULT) > 0) return H5Gopen2(loc, name, H5P_DEFAULT);
    return H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
}

/* Write n bytes as a 1-D uint8 dataset, reusing an existing one of that size
 * (contiguous, allocated early: rewritten in place).  buf NULL: only make it
 * (zeros), with its attribute (hf_ckpt_prepare). */
static int write_blob(hid_t g, const char *name, const void *buf, size_t n, long per_client)
{
    hid_t d = -1;
    if (H5Lexists(g, name, H5P_DEFAULT) > 0) {
        d = H5Dopen2(g, name, H5P_DEFAULT);
        hid_t sp = H5Dget_space(d);
        hsize_t cur = 0;
        H5Sget_simple_extent_dims(sp, &cur, NULL);
        H5Sclose(sp);
        if (cur != (hsize_t)n) {  /* cannot happen within one run; be safe */
            H5Dclose(d);
            H5Ldelete(g, name, H5P_DEFAULT);
            d = -1;
        }
    }
    if (d < 0) {
        hsize_t dims = (hsize_t)n;
        hid_t sp = H5Screate_simple(1, &dims, NULL);
        hid_t pl = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_alloc_time(pl, H5D_ALLOC_TIME_EARLY);
        d = H5Dcreate2(g, name, H5T_NATIVE_UINT8, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
        H5Pclose(pl);
        H5Sclose(sp);
        if (d < 0) return -1;
    }
    herr_t e = n && buf ? H5Dwrite(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) : 0;
    if (e >= 0) e = attr_set_long(d, "per_client_bytes", per_client);
    H5Dclose(d);
    return e < 0 ? -1 : 0;
}

static int read_blob(hid_t g, const char *name, void *buf, size_t n)
{
    if (H5Lexists(g, name, H5P_DEFAULT) <= 0) return -1;
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    hid_t sp = H5Dget_space(d);
    hsize_t cur = 0;
    H5Sget_simple_extent_dims(sp, &cur, NULL);
    H5Sclose(sp);
    herr_t e = cur != (hsize_t)n ? -1 : n ? H5Dread(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) : 0;
    H5Dclose(d);
    return e < 0 ? -1 : 0;
}

/* Per-client buffers: byte counts and displacements of every rank's block. */
static int client_layout(size_t bpc, int *counts, int *displ)
{
    long d = 0;
    for (int r = 0; r < reg.size; r++) {
        long f = ((long)r * reg.nclients + reg.size - 1) / reg.size;
        long l = ((long)(r + 1) * reg.nclients + reg.size - 1) / reg.size;
        long c = (l - f) * (long)bpc;
        if (c > INT_MAX || d > INT_MAX) return -1;
        counts[r] = (int)c;
        displ[r] = (int)d;
        d += c;
    }
    return 0;
}

/* ------------------------------------------- sparse per-client vectors --- */

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* This rank's records of a CVECS entry, in client order: (int64 id, vector);
 * *n bytes (caller frees). */
static unsigned char *cvecs_pack(const hf_ckpt_entry_t *e, size_t *n)
{
    hf_cvecs_t *v = e->ptr;
    size_t rec = 8 + v->bytes, m = 0;
    int *ids = hf_malloc((size_t)HF_MAX(hf_cvecs_count(v), 1) * sizeof(int)), k;
    for (long i = hf_cstore_next(&v->map, 0, &k); i < v->map.cap; i = hf_cstore_next(&v->map, i + 1, &k))
        ids[m++] = k;
    qsort(ids, m, sizeof(int), cmp_int);  /* the table's slot order differs by rank count: ids do not */
    unsigned char *b = hf_malloc(m ? m * rec : 1);
    for (size_t j = 0; j < m; j++) {
        int64_t id = (int64_t)v->first + ids[j];
        memcpy(b + j * rec, &id, 8);
        memcpy(b + j * rec + 8, hf_cvecs_get(v, (int)id, 0), v->bytes);
    }
    free(ids);
    *n = m * rec;
    return b;
}

/* Rewrite the first `used` bytes of the records dataset NAME (made at `total`
 * bytes if missing) and its entries attribute. */
static int write_records(hid_t g, const char *name, const void *buf, size_t used, size_t total, long per_client,
                         long entries)
{
    if (write_blob(g, name, NULL, total, per_client) < 0) return -1;
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    herr_t e = d < 0 ? -1 : 0;
    if (e >= 0 && used) {
        hsize_t off = 0, cnt = (hsize_t)used;
        hid_t fs = H5Dget_space(d), ms = H5Screate_simple(1, &cnt, NULL);
        e = H5Sselect_hyperslab(fs, H5S_SELECT_SET, &off, NULL, &cnt, NULL);
        if (e >= 0) e = H5Dwrite(d, H5T_NATIVE_UINT8, ms, fs, H5P_DEFAULT, buf);
        H5Sclose(ms);
        H5Sclose(fs);
    }
    if (e >= 0) e = attr_set_long(d, "entries", entries);
    if (d >= 0) H5Dclose(d);
    return e < 0 ? -1 : 0;
}

/* Save a CVECS entry: every rank's records gathered to rank 0 in rank order,
 * which is client order (ranks host consecutive blocks).  Collective; returns
 * -2 on every rank when they exceed 2 GiB or the dataset (a bound too small),
 * -1 on rank 0 when the write fails. */
static int save_cvecs(const hf_ckpt_entry_t *e, hid_t s, MPI_Comm comm)
{
    size_t n, rec = 8 + e->nbytes;
    unsigned char *mine = cvecs_pack(e, &n), *all = NULL;
    int cnt = n <= INT_MAX ? (int)n : -1, bad = 0, rc = 0;
    int *counts = hf_calloc((size_t)reg.size, sizeof(int)), *displ = hf_calloc((size_t)reg.size, sizeof(int));
    MPI_Gather(&cnt, 1, MPI_INT, counts, 1, MPI_INT, 0, comm);
    long tot = 0;
    if (reg.rank == 0)
        for (int r = 0; r < reg.size && !bad; r++) {
            bad = counts[r] < 0 || tot + counts[r] > INT_MAX;
            displ[r] = (int)tot;
            tot += counts[r];
        }
    bad = bad || (size_t)tot > cvecs_total(e);
    MPI_Bcast(&bad, 1, MPI_INT, 0, comm);
    if (!bad) {
        all = reg.rank == 0 ? hf_malloc(tot ? (size_t)tot : 1) : NULL;
        MPI_Gatherv(mine, cnt, MPI_BYTE, all, counts, displ, MPI_BYTE, 0, comm);
        if (reg.rank == 0 && write_records(s, e->name, all, (size_t)tot, cvecs_total(e), (long)e->nbytes,
                                           (long)((size_t)tot / rec)) < 0)
            rc = -1;
    }
    free(all);
    free(mine);
    free(counts);
    free(displ);
    return bad ? -2 : rc;
}

/* Restore a CVECS entry from rank 0's dataset d (records sorted by client id):
 * each rank gets the records of the clients it now hosts and rebuilds its
 * store from them.  Collective; -1 on every rank when the dataset is unreadable. */
static int restore_cvecs(hf_ckpt_entry_t *e, hid_t s, char *why, size_t nwhy, MPI_Comm comm)
{
    hf_cvecs_t *v = e->ptr;
    size_t rec = 8 + e->nbytes;
    long entries = 0;
    unsigned char *all = NULL;
    int bad = 0, *counts = hf_calloc((size_t)reg.size, sizeof(int)), *displ = hf_calloc((size_t)reg.size, sizeof(int));
    if (reg.rank == 0) {
        hid_t d = H5Lexists(s, e->name, H5P_DEFAULT) > 0 ? H5Dopen2(s, e->name, H5P_DEFAULT) : -1;
        bad = d < 0 || attr_get_long(d, "entries", &entries) < 0 || entries < 0 || (size_t)entries > e->records ||
              (size_t)entries * rec > INT_MAX;
        if (d >= 0) H5Dclose(d);
        all = hf_malloc(bad || !entries ? 1 : (size_t)entries * rec);
        if (!bad && entries) {  /* the used head of the dataset */
            hid_t dd = H5Dopen2(s, e->name, H5P_DEFAULT), fs = H5Dget_space(dd);
            hsize_t off = 0, cnt = (hsize_t)entries * rec, cur = 0;
            hid_t ms = H5Screate_simple(1, &cnt, NULL);
            H5Sget_simple_extent_dims(fs, &cur, NULL);
            bad = cur != cvecs_total(e) || H5Sselect_hyperslab(fs, H5S_SELECT_SET, &off, NULL, &cnt, NULL) < 0 ||
                  H5Dread(dd, H5T_NATIVE_UINT8, ms, fs, H5P_DEFAULT, all) < 0;
            H5Sclose(ms);
            H5Sclose(fs);
            H5Dclose(dd);
        }
        int64_t prev = -1;
        int r = 0;
        for (long j = 0; j < entries && !bad; j++) {  /* ids increasing; each to its rank of the new layout */
            int64_t id;
            memcpy(&id, all + (size_t)j * rec, 8);
            bad = id <= prev || id >= reg.nclients;
            prev = id;
            while (r + 1 < reg.size && ((long)(r + 1) * reg.nclients + reg.size - 1) / reg.size <= id) r++;
            counts[r] += (int)rec;  /* first(r) = ⌈r·N/R⌉, client_layout's blocks */
        }
        for (int r = 1; r < reg.size; r++) displ[r] = displ[r - 1] + counts[r - 1];
        if (bad) snprintf(why, nwhy, "/checkpoint has no readable sparse buffer '%s' of %zu records of %zu bytes "
                          "(made by another hetfl version?)", e->name, e->records, rec);
    }
    MPI_Bcast(&bad, 1, MPI_INT, 0, comm);
    if (!bad) {
        int mine = 0;
        MPI_Scatter(counts, 1, MPI_INT, &mine, 1, MPI_INT, 0, comm);
        unsigned char *b = hf_malloc(mine ? (size_t)mine : 1);
        MPI_Scatterv(all, counts, displ, MPI_BYTE, b, mine, MPI_BYTE, 0, comm);
        hf_cvecs_clear(v);
        for (size_t j = 0; j < (size_t)mine / rec; j++) {
            int64_t id;
            memcpy(&id, b + j * rec, 8);
            memcpy(hf_cvecs_get(v, (int)id, 1), b + j * rec + 8, e->nbytes);
        }
        free(b);
    }
    free(all);
    free(counts);
    free(displ);
    return bad ? -1 : 0;
}

/* ------------------------------------------------------------------ save --- */

int hf_ckpt_prepare(hf_h5out_t *h)
{
    if (reg.rank != 0) return 0;
    hid_t f = hf_h5out_file(h);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (H5Lexists(f, "checkpoint", H5P_DEFAULT) > 0) return 0;  /* a resumed file has it */
    int rc = 0;
    hid_t g = H5Gcreate2(f, "checkpoint", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0 || attr_set_long(g, "format", CKPT_FORMAT) < 0 || attr_set_long(g, "current", -1) < 0) rc = -1;
    for (int k = 0; k < 2 && !rc; k++) {
        char slot[32];
        snprintf(slot, sizeof slot, "slot%d", k);
        hid_t s = H5Gcreate2(g, slot, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (s < 0) { rc = -1; break; }
        for (int i = 0; i < reg.n && !rc; i++) {
            const hf_ckpt_entry_t *e = &reg.e[i];
            if (e->kind == CVECS) {
                if (write_records(s, e->name, NULL, 0, cvecs_total(e), (long)e->nbytes, 0) < 0) rc = -1;
                continue;
            }
            size_t total = e->per_client ? (size_t)reg.nclients * e->nbytes : e->nbytes;
            if (write_blob(s, e->name, NULL, total, e->per_client ? (long)e->nbytes : 0) < 0) rc = -1;
        }
        if (!rc && (attr_set_long(s, "round", -1) < 0 || attr_set_long(s, "rows_rounds", -1) < 0 ||
                    attr_set_long(s, "rows_participation", -1) < 0 || attr_set_long(s, "ranks", reg.size) < 0))
            rc = -1;
        H5Gclose(s);
    }
    if (g >= 0) H5Gclose(g);
    return rc ? hf_seterr(HF_ERUNTIME, "%s: cannot make /checkpoint", hf_h5out_path(h)) : 0;
}

int hf_ckpt_save(hf_h5out_t *h, int round, MPI_Comm comm)
{
    int rc = 0;
    hid_t f = reg.rank == 0 ? hf_h5out_file(h) : -1, g = -1, s = -1;
    long cur = 1;
    if (reg.rank == 0) {
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        g = open_or_create_group(f, "checkpoint");
        if (g >= 0 && (attr_get_long(g, "current", &cur) < 0 || (cur != 0 && cur != 1)))
            cur = 1;  /* none committed yet (-1: made by hf_ckpt_prepare): slot0 first */
        char slot[32];
        snprintf(slot, sizeof slot, "slot%ld", 1 - cur);
        s = g >= 0 ? open_or_create_group(g, slot) : -1;
        if (s < 0) rc = -1;
    }
    int *counts = hf_calloc((size_t)reg.size, sizeof(int)), *displ = hf_calloc((size_t)reg.size, sizeof(int));
    for (int i = 0; i < reg.n; i++) {
        hf_ckpt_entry_t *e = &reg.e[i];
        if (e->kind == CVECS) {
            int r = save_cvecs(e, s, comm);
            if (r == -2 || !rc) rc = r;
            continue;
        }
        unsigned char *tmp;
        void *mine = local_bytes(e, &tmp);
        if (!e->per_client) {
            if (reg.rank == 0 && !rc && write_blob(s, e->name, mine, e->nbytes, 0) < 0) rc = -1;
            free(tmp);
            continue;
        }
        int lay = client_layout(e->nbytes, counts, displ);
        size_t total = (size_t)reg.nclients * e->nbytes;
        unsigned char *all = reg.rank == 0 ? hf_malloc(total ? total : 1) : NULL;
        if (lay == 0)
            MPI_Gatherv(mine, counts[reg.rank], MPI_BYTE, all, counts, displ, MPI_BYTE, 0, comm);
        else
            rc = -2;
        free(tmp);
        if (reg.rank == 0 && !rc && write_blob(s, e->name, all, total, (long)e->nbytes) < 0) rc = -1;
        free(all);
    }
    free(counts);
    free(displ);
    if (reg.rank == 0 && !rc) {
        long nr, np;
        hf_h5out_rows(h, &nr, &np);
        if (attr_set_long(s, "round", round) < 0 || attr_set_long(s, "rows_rounds", nr) < 0 ||
            attr_set_long(s, "rows_participation", np) < 0 || attr_set_long(s, "ranks", reg.size) < 0 ||
            attr_set_long(g, "format", CKPT_FORMAT) < 0)
            rc = -1;
        /* 1. the new slot reaches the disk; 2. it becomes current; 3. that reaches the disk */
        if (!rc && H5Fflush(f, H5F_SCOPE_GLOBAL) < 0) rc = -1;
        if (!rc && attr_set_long(g, "current", 1 - cur) < 0) rc = -1;
        if (!rc && H5Fflush(f, H5F_SCOPE_GLOBAL) < 0) rc = -1;
    }
    if (s >= 0) H5Gclose(s);
    if (g >= 0) H5Gclose(g);
    MPI_Bcast(&rc, 1, MPI_INT, 0, comm);
    if (rc == -2) return hf_seterr(HF_ERUNTIME, "checkpoint: per-client state exceeds 2 GiB per rank");
    if (rc) return hf_seterr(HF_ERUNTIME, "%s: cannot write the checkpoint",
                             reg.rank == 0 ? hf_h5out_path(h) : "results file");
    return 0;
}

/* --------------------------------------------------------------- resume --- */

/* The keys a resumed run may change: they do not change results. */
static int key_may_differ(const char *section, const char *line)
{
    static const char *const keys[][2] = {
        {"run", "output"}, {"run", "checkpoint_every"}, {"aggregation", "topology"}};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        size_t n = strlen(keys[i][1]);
        if (!strcmp(section, keys[i][0]) && !strncmp(line, keys[i][1], n) &&
            (line[n] == ' ' || line[n] == '='))
            return 1;
    }
    return 0;
}

/* Next line of `p` that matters, as [*s, *e); updates *section.  0 at the end. */
static int next_line(const char **p, const char **s, const char **e, char *section, size_t n)
{
    while (**p) {
        const char *b = *p, *nl = strchr(b, '\n');
        const char *end = nl ? nl : b + strlen(b);
        *p = nl ? nl + 1 : end;
        if (b[0] == '[') {
            const char *c = memchr(b, ']', (size_t)(end - b));
            snprintf(section, n, "%.*s", c ? (int)(c - b - 1) : 0, b + 1);
        }
        if (end == b || b[0] == '#' || key_may_differ(section, b)) continue;
        *s = b;
        *e = end;
        return 1;
    }
    return 0;
}

static int config_check(const char *path, const char *have, const char *want)
{
    const char *p = have, *q = want;
    char sa[64] = "", sb[64] = "";
    for (;;) {
        const char *a0 = NULL, *a1 = NULL, *b0 = NULL, *b1 = NULL;
        int ha = next_line(&p, &a0, &a1, sa, sizeof sa), hb = next_line(&q, &b0, &b1, sb, sizeof sb);
        if (!ha && !hb) return 0;
        if (ha && hb && a1 - a0 == b1 - b0 && !memcmp(a0, b0, (size_t)(a1 - a0))) continue;
        return hf_seterr(HF_EINPUT, "%s: cannot resume: this suite/seed/variant differs from the run "
                         "that made the file:\n  file: [%s] %.*s\n  now:  [%s] %.*s\n"
                         "HINT: resume with the same suite, --seed, --variant and --set options "
                         "(only run.output, run.checkpoint_every and aggregation.topology, and the "
                         "rank count, may change)", path, sa, ha ? (int)(a1 - a0) : 5,
                         ha ? a0 : "(end)", sb, hb ? (int)(b1 - b0) : 5, hb ? b0 : "(end)");
    }
}

int hf_ckpt_reopen(hf_h5out_t **h, const char *path, const char *config)
{
    hf_h5in_t in;
    int rc = hf_h5in_open(&in, path);
    if (rc) return hf_seterr(HF_EINPUT, "cannot resume: %s", hf_errmsg());
    rc = config_check(path, in.config, config);
    hf_h5in_close(&in);
    if (rc) return rc;
    return hf_h5out_reopen(h, path);
}

int hf_ckpt_restore(hf_h5out_t *h, MPI_Comm comm, int *round)
{
    /* hdr: status, round, rows_rounds, rows_participation */
    long hdr[4] = {0, 0, 0, 0};
    hid_t g = -1, s = -1;
    char why[256] = "";
    if (reg.rank == 0) {
        hid_t f = hf_h5out_file(h);
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        if (H5Lexists(f, "checkpoint", H5P_DEFAULT) > 0) {
            long cur = -1;
            g = H5Gopen2(f, "checkpoint", H5P_DEFAULT);
            char slot[32];
            /* current = -1: made by hf_ckpt_prepare, none committed yet */
            int committed = attr_get_long(g, "current", &cur) == 0 && cur != -1;
            if (committed && (cur == 0 || cur == 1)) {
                snprintf(slot, sizeof slot, "slot%ld", cur);
                s = H5Lexists(g, slot, H5P_DEFAULT) > 0 ? H5Gopen2(g, slot, H5P_DEFAULT) : -1;
            }
            if (!committed) {
                /* stopped (killed, disk full) during the first checkpoint: nothing was
                 * committed, so, as without a checkpoint, start again from round 0 */
                fprintf(stderr, "hetfl: note: %s: no checkpoint was committed (the run stopped before its "
                        "first one was complete): starting again from round 0\n", hf_h5out_path(h));
            } else if (s < 0 || attr_get_long(s, "round", &hdr[1]) < 0 ||
                attr_get_long(s, "rows_rounds", &hdr[2]) < 0 ||
                attr_get_long(s, "rows_participation", &hdr[3]) < 0) {
                hdr[0] = -1;
                snprintf(why, sizeof why, "/checkpoint is incomplete (no committed slot)");
            }
        }
        /* no checkpoint: start again from round 0 in the same file */
    }
    MPI_Bcast(hdr, 4, MPI_LONG, 0, comm);
    int rc = 0;
    if (hdr[0] == 0 && hdr[1] > 0) {
        int *counts = hf_calloc((size_t)reg.size, sizeof(int)), *displ = hf_calloc((size_t)reg.size, sizeof(int));
        for (int i = 0; i < reg.n && !rc; i++) {
            hf_ckpt_entry_t *e = &reg.e[i];
            if (e->kind == CVECS) {
                rc = restore_cvecs(e, s, why, sizeof why, comm);
                continue;
            }
            size_t total = e->per_client ? (size_t)reg.nclients * e->nbytes : e->nbytes;
            unsigned char *all = reg.rank == 0 ? hf_malloc(total ? total : 1) : NULL;
            int bad = 0;
            if (reg.rank == 0 && read_blob(s, e->name, all, total) < 0) {
                bad = 1;
                snprintf(why, sizeof why, "/checkpoint has no buffer '%s' of %zu bytes (made by another "
                         "hetfl version?)", e->name, total);
            }
            MPI_Bcast(&bad, 1, MPI_INT, 0, comm);
            if (bad) { free(all); rc = -1; break; }
            if (!e->per_client) {
                unsigned char *b = reg.rank == 0 ? all : hf_malloc(total ? total : 1);
                MPI_Bcast(b, (int)total, MPI_BYTE, 0, comm);
                restore_bytes(e, b, total);
                if (b != all) free(b);
            } else if (client_layout(e->nbytes, counts, displ) == 0) {
                unsigned char *b = hf_malloc(counts[reg.rank] ? (size_t)counts[reg.rank] : 1);
                MPI_Scatterv(all, counts, displ, MPI_BYTE, b, counts[reg.rank], MPI_BYTE, 0, comm);
                restore_bytes(e, b, (size_t)counts[reg.rank]);
                free(b);
            } else {
                rc = -2;
            }
            free(all);
        }
        free(counts);
        free(displ);
    } else if (hdr[0] != 0) {
        rc = -1;
    }
    if (s >= 0) H5Gclose(s);
    if (g >= 0) H5Gclose(g);
    if (!rc && reg.rank == 0) {
        /* roll back rows recorded after the checkpoint; drop a stale final model */
        rc = hf_h5out_truncate(h, hdr[2], hdr[3]) ? -3 : 0;
        hid_t f = hf_h5out_file(h);  /* /model/final stays: the last round overwrites it in place */
        if (!rc && H5Fflush(f, H5F_SCOPE_GLOBAL) < 0) rc = -1;
    }
    MPI_Bcast(&rc, 1, MPI_INT, 0, comm);
    if (rc == -3) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", hf_errmsg());
        return hf_seterr(HF_EINPUT, "cannot resume: %s", msg);
    }
    if (rc == -2) return hf_seterr(HF_ERUNTIME, "checkpoint: per-client state exceeds 2 GiB per rank");
    if (rc)
        return hf_seterr(HF_EINPUT, "%s: cannot resume: %s", reg.rank == 0 ? hf_h5out_path(h) : "results file",
                         reg.rank == 0 && why[0] ? why : "unreadable checkpoint");
    *round = (int)hdr[1];
    return 0;
}

/* ---------------------------------------------------------- round hook --- */

int hf_ckpt_round_end(hf_h5out_t *h, int round, int every, int rounds, MPI_Comm comm)
{
    int sig = hf_signals_pending(), any = 0;
    MPI_Allreduce(&sig, &any, 1, MPI_INT, MPI_MAX, comm);
    int due = every > 0 && round % every == 0 && round < rounds;
    if (!any && !due) return 0;
    if (any && round >= rounds) return 0;   /* finished anyway: let the run complete */
    int rc = hf_ckpt_save(h, round, comm);
    if (rc || !any) return rc;
    const char *name = hf_signals_name(any);
    return hf_seterr(HF_ESIGNAL, "stopped by %s after round %d of %d; checkpoint written to %s\n"
                     "HINT: continue with: hetfl run SUITE [same options] --resume %s", name, round, rounds,
                     reg.rank == 0 ? hf_h5out_path(h) : "the results file",
                     reg.rank == 0 ? hf_h5out_path(h) : "FILE");
}
