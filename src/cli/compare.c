/*
 * compare.c — `hetfl compare A.h5 B.h5`: do two runs agree on everything the
 * determinism contract covers?  Compares /config, every /rounds and
 * /participation column except the measured ones (wall_*, compute_s_measured, energy_j_measured),
 * every /model/final tensor, and every other round table (/rounds_by_width, /feddf,
 * /privacy, ...: hf_h5_round_table) minus its measured columns (those whose
 * description begins with "measured"), bit for bit; with --ignore-key (two
 * configurations), a round table only one file has is named, not a difference.
 * Exit 0 identical, 1 different.
 * aggregation.topology may differ: the contract makes results independent of it.
 * --ignore-key SECTION.KEY (repeatable) also leaves that key out of the /config
 * comparison: e.g. to check that two strategies give bitwise identical runs
 * (fedprox with mu = 0 vs fedavg: --ignore-key federation.strategy).
 */
#include "h5out.h"
#include "hetfl.h"
#include "hf_util.h"
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static int same(const void *a, const void *b, size_t n) { return memcmp(a, b, n) == 0; }

static int cmp_rounds(FILE *out, const hf_round_rec_t *a, const hf_round_rec_t *b, long n)
{
    for (long i = 0; i < n; i++) {
        hf_round_rec_t x = a[i], y = b[i];
        x.wall_time_s = y.wall_time_s = 0;
        x.wall_compute_s = y.wall_compute_s = x.wall_agg_s = y.wall_agg_s = 0;
        x.wall_eval_s = y.wall_eval_s = x.wall_io_s = y.wall_io_s = 0;
        x.energy_j_measured = y.energy_j_measured = 0;  /* RAPL: outside the contract */
        if (!same(&x, &y, sizeof x)) {
            fprintf(out, "/rounds row %ld (round %d) differs: acc %.17g vs %.17g, train_loss %.17g vs %.17g, "
                    "sim_time %.17g vs %.17g\n", i, x.round, x.test_accuracy, y.test_accuracy,
                    x.train_loss, y.train_loss, x.sim_time_s, y.sim_time_s);
            return 1;
        }
    }
    return 0;
}

static int cmp_part(FILE *out, const hf_part_rec_t *a, const hf_part_rec_t *b, long n)
{
    for (long i = 0; i < n; i++) {
        hf_part_rec_t x = a[i], y = b[i];
        x.compute_s_measured = y.compute_s_measured = 0;
        x.energy_j_measured = y.energy_j_measured = 0;
        if (!same(&x, &y, sizeof x)) {
            fprintf(out, "/participation row %ld differs (round %d client %d vs round %d client %d; "
                    "local_loss %.17g vs %.17g)\n", i, x.round, x.client, y.round, y.client,
                    x.local_loss, y.local_loss);
            return 1;
        }
    }
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The resolved configuration as sorted "section.key=value" entries (the order
 * of sections and keys in /config is presentation, not content), minus the
 * keys the determinism contract says do not change results
 * (aggregation.topology, run.checkpoint_every) and the nign keys of ign.
 * Returns the count; caller frees each entry and *out. */
static int contract_config(const char *cfg, char **ign, int nign, char ***out)
{
    int n = 0, cap = 64;
    char **v = hf_calloc((size_t)cap, sizeof *v);
    char sec[128] = "";
    for (const char *p = cfg; *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (p[0] == '[') {
            const char *r = memchr(p, ']', len);
            snprintf(sec, sizeof sec, "%.*s", r ? (int)(r - p - 1) : 0, p + 1);
        } else if (len && p[0] != '#' && memchr(p, '=', len)) {
            const char *eq = memchr(p, '=', len), *ke = eq, *vs = eq + 1;
            while (ke > p && ke[-1] == ' ') ke--;
            while (vs < p + len && *vs == ' ') vs++;
            char *ent = hf_calloc(strlen(sec) + len + 3, 1);
            sprintf(ent, "%s.%.*s=%.*s", sec, (int)(ke - p), p, (int)(p + len - vs), vs);
            size_t kl = strcspn(ent, "=");
            int skip = !strncmp(ent, "aggregation.topology=", kl + 1) ||
                       !strncmp(ent, "run.checkpoint_every=", kl + 1);  /* when checkpoints were taken */
            for (int i = 0; i < nign && !skip; i++) skip = strlen(ign[i]) == kl && !strncmp(ent, ign[i], kl);
            if (skip) free(ent);
            else {
                if (n == cap) v = hf_realloc(v, (size_t)(cap *= 2) * sizeof *v);
                v[n++] = ent;
            }
        }
        p += len + (e ? 1 : 0);
    }
    qsort(v, (size_t)n, sizeof *v, cmp_str);
    *out = v;
    return n;
}

/* Name every key whose value differs ("key: a vs b"), or that only one file
 * has; a and b are sorted "section.key=value" entries.  1 when any. */
static int config_diff(FILE *out, char **a, int na, char **b, int nb)
{
    int i = 0, j = 0, diff = 0;
    while (i < na || j < nb) {
        size_t ka = i < na ? strcspn(a[i], "=") : 0, kb = j < nb ? strcspn(b[j], "=") : 0;
        int c = i >= na ? 1 : j >= nb ? -1 : strncmp(a[i], b[j], HF_MIN(ka, kb) + 1);
        if (c == 0 && ka == kb) {  /* the same key */
            if (strcmp(a[i], b[j])) {
                fprintf(out, "  %.*s: %s vs %s\n", (int)ka, a[i], a[i] + ka + 1, b[j] + kb + 1);
                diff = 1;
            }
            i++, j++;
        } else if (c < 0 || (c == 0 && ka < kb)) {
            fprintf(out, "  %.*s = %s (only in the first file)\n", (int)ka, a[i], a[i] + ka + 1);
            diff = 1, i++;
        } else {
            fprintf(out, "  %.*s = %s (only in the second file)\n", (int)kb, b[j], b[j] + kb + 1);
            diff = 1, j++;
        }
    }
    return diff;
}

typedef struct { hid_t other; FILE *out; int diff; long ntensors; } walk_t;

static herr_t cmp_tensor(hid_t g, const char *name, const H5L_info_t *info, void *op)
{
    walk_t *w = op;
    hid_t da = H5Dopen2(g, name, H5P_DEFAULT), db = H5Dopen2(w->other, name, H5P_DEFAULT);
    if (da < 0 || db < 0) {
        fprintf(w->out, "/model/final/%s missing in one file\n", name);
        w->diff = 1;
    } else {
        hssize_t na = H5Sget_simple_extent_npoints(H5Dget_space(da));
        hssize_t nb = H5Sget_simple_extent_npoints(H5Dget_space(db));
        if (na != nb) {
            fprintf(w->out, "/model/final/%s: %lld vs %lld values\n", name, (long long)na, (long long)nb);
            w->diff = 1;
        } else {
            float *a = hf_calloc((size_t)na, sizeof(float)), *b = hf_calloc((size_t)na, sizeof(float));
            H5Dread(da, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, a);
            H5Dread(db, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, b);
            for (hssize_t i = 0; i < na; i++)
                if (!same(&a[i], &b[i], sizeof(float))) {
                    fprintf(w->out, "/model/final/%s[%lld]: %.9g vs %.9g\n", name, (long long)i, a[i], b[i]);
                    w->diff = 1;
                    break;
                }
            free(a);
            free(b);
        }
        w->ntensors++;
    }
    if (da >= 0) H5Dclose(da);
    if (db >= 0) H5Dclose(db);
    return 0;
}

/* Is column `col` of table d measured (its description, hf_h5out_describe,
 * begins with "measured"): wall times, outside the determinism contract. */
static int measured_column(hid_t d, const char *col)
{
    if (H5Aexists(d, "column_names") <= 0 || H5Aexists(d, "column_descriptions") <= 0) return 0;
    hid_t an = H5Aopen(d, "column_names", H5P_DEFAULT), ad = H5Aopen(d, "column_descriptions", H5P_DEFAULT);
    hid_t sp = H5Aget_space(an), t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    char **names = hf_calloc((size_t)(n > 0 ? n : 1), sizeof *names);
    char **docs = hf_calloc((size_t)(n > 0 ? n : 1), sizeof *docs);
    int yes = 0;
    if (n > 0 && H5Aread(an, t, names) >= 0 && H5Aread(ad, t, docs) >= 0)
        for (hssize_t i = 0; i < n; i++)
            if (names[i] && docs[i] && !strcmp(names[i], col)) yes = !strncmp(docs[i], "measured", 8);
    for (hssize_t i = 0; i < n; i++) {
        H5free_memory(names[i]);
        H5free_memory(docs[i]);
    }
    free(names);
    free(docs);
    H5Tclose(t);
    H5Sclose(sp);
    H5Aclose(an);
    H5Aclose(ad);
    return yes;
}

/* The in-memory type of table d's columns the contract covers (packed, native). */
static hid_t contract_type(hid_t d)
{
    hid_t ft = H5Dget_type(d), mt;
    int nm = H5Tget_nmembers(ft);
    size_t size = 0;
    for (int pass = 0; pass < 2; pass++) {
        size_t off = 0;
        mt = pass ? H5Tcreate(H5T_COMPOUND, size ? size : 1) : -1;
        for (int i = 0; i < nm; i++) {
            char *name = H5Tget_member_name(ft, (unsigned)i);
            hid_t m = H5Tget_member_type(ft, (unsigned)i), nt = H5Tget_native_type(m, H5T_DIR_ASCEND);
            if (!measured_column(d, name)) {
                if (pass) H5Tinsert(mt, name, off, nt);
                off += H5Tget_size(nt);
            }
            H5Tclose(nt);
            H5Tclose(m);
            H5free_memory(name);
        }
        size = off;
    }
    H5Tclose(ft);
    return mt;
}

typedef struct { hid_t other; FILE *out; int diff; long ntables; int check_only_presence, lenient; } tables_t;

/* One round table of the first file against the second's (or, in the second
 * pass, only that the first file has it too). */
static herr_t cmp_round_table(hid_t f, const char *name, const H5L_info_t *info, void *op)
{
    (void)info;
    tables_t *w = op;
    if (!hf_h5_round_table(f, name)) return 0;
    if (!hf_h5_round_table(w->other, name)) {  /* --ignore-key: another configuration may lack it */
        fprintf(w->out, "/%s: only in the %s file%s\n", name, w->check_only_presence ? "second" : "first",
                w->lenient ? " (not compared: --ignore-key)" : "");
        if (!w->lenient) w->diff = 1;
        return 0;
    }
    if (w->check_only_presence) return 0;
    hid_t da = H5Dopen2(f, name, H5P_DEFAULT), db = H5Dopen2(w->other, name, H5P_DEFAULT);
    hid_t t = contract_type(da);
    hid_t sa = H5Dget_space(da), sb = H5Dget_space(db);
    hssize_t na = H5Sget_simple_extent_npoints(sa), nb = H5Sget_simple_extent_npoints(sb);
    H5Sclose(sa);
    H5Sclose(sb);
    size_t sz = H5Tget_size(t);
    if (na != nb) {
        fprintf(w->out, "/%s: %lld vs %lld rows\n", name, (long long)na, (long long)nb);
        w->diff = 1;
    } else if (na > 0) {
        unsigned char *a = hf_calloc((size_t)na, sz), *b = hf_calloc((size_t)na, sz);
        if (H5Dread(da, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, a) < 0 ||
            H5Dread(db, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, b) < 0) {
            fprintf(w->out, "/%s: unreadable, or its columns differ between the files\n", name);
            w->diff = 1;
        } else
            for (hssize_t i = 0; i < na; i++)
                if (!same(a + (size_t)i * sz, b + (size_t)i * sz, sz)) {
                    fprintf(w->out, "/%s row %lld (round %d) differs\n", name, (long long)i,
                            *(int32_t *)(a + (size_t)i * sz));
                    w->diff = 1;
                    break;
                }
        free(a);
        free(b);
    }
    w->ntables++;
    H5Tclose(t);
    H5Dclose(da);
    H5Dclose(db);
    return 0;
}

int hf_compare_main(int argc, char **argv, FILE *out)
{
    char *files[2], *ign[64];
    int nf = 0, nign = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--ignore-key") && i + 1 < argc && nign < 64) ign[nign++] = argv[++i];
        else if (argv[i][0] != '-' && nf < 2) files[nf++] = argv[i];
        else nf = 3;
    }
    if (nf != 2) {
        hf_seterr(HF_EINPUT, "usage: hetfl compare A.h5 B.h5 [--ignore-key SECTION.KEY]...\n"
                  "  --ignore-key K   leave suite key K out of the /config comparison (repeatable)");
        fprintf(stderr, "hetfl: %s\n", hf_errmsg());
        return HF_EINPUT;
    }
    hf_h5in_t a, b;
    int rc = hf_h5in_open(&a, files[0]);
    if (rc) { fprintf(stderr, "hetfl: %s\n", hf_errmsg()); return rc; }
    rc = hf_h5in_open(&b, files[1]);
    if (rc) { hf_h5in_close(&a); fprintf(stderr, "hetfl: %s\n", hf_errmsg()); return rc; }
    int diff = 0;
    char **ca, **cb;
    int na = contract_config(a.config, ign, nign, &ca), nb = contract_config(b.config, ign, nign, &cb);
    if (config_diff(out, ca, na, cb, nb)) {
        fprintf(out, "/config differs (beyond aggregation.topology%s): the keys above\n", nign ? " and --ignore-key" : "");
        diff = 1;
    }
    for (int i = 0; i < na; i++) free(ca[i]);
    for (int i = 0; i < nb; i++) free(cb[i]);
    free(ca);
    free(cb);
    if (a.nrounds != b.nrounds) {
        fprintf(out, "/rounds: %ld vs %ld rows\n", a.nrounds, b.nrounds);
        diff = 1;
    } else diff |= cmp_rounds(out, a.rounds, b.rounds, a.nrounds);
    if (a.npart != b.npart) {
        fprintf(out, "/participation: %ld vs %ld rows\n", a.npart, b.npart);
        diff = 1;
    } else diff |= cmp_part(out, a.part, b.part, a.npart);
    walk_t w = {0};
    w.out = out;
    hid_t ga = H5Gopen2(a.file, "model/final", H5P_DEFAULT);
    w.other = H5Gopen2(b.file, "model/final", H5P_DEFAULT);
    if (ga < 0 || w.other < 0) {
        fprintf(out, "/model/final missing\n");
        diff = 1;
    } else {
        H5Literate(ga, H5_INDEX_NAME, H5_ITER_INC, NULL, cmp_tensor, &w);
        diff |= w.diff;
    }
    if (ga >= 0) H5Gclose(ga);
    if (w.other >= 0) H5Gclose(w.other);
    tables_t t = {.other = b.file, .out = out, .lenient = nign > 0};  /* /rounds_by_width, /feddf, ... */
    H5Literate(a.file, H5_INDEX_NAME, H5_ITER_INC, NULL, cmp_round_table, &t);
    tables_t t2 = {.other = a.file, .out = out, .check_only_presence = 1, .lenient = nign > 0};
    H5Literate(b.file, H5_INDEX_NAME, H5_ITER_INC, NULL, cmp_round_table, &t2);
    diff |= t.diff | t2.diff;
    if (!diff)
        fprintf(out, "identical: /config, %ld rounds, %ld participation rows, %ld model tensors, "
                "%ld other round table%s\n", a.nrounds, a.npart, w.ntensors, t.ntables, t.ntables == 1 ? "" : "s");
    hf_h5in_close(&a);
    hf_h5in_close(&b);
    return diff;
}
