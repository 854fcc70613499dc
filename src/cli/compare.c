/*
 * compare.c — `hetfl compare A.h5 B.h5`: do two runs agree on everything the
 * determinism contract covers?  Compares /config, every /rounds and
 * /participation column except the measured ones (wall_*, compute_s_measured, energy_j_measured),
 * and every /model/final tensor, bit for bit.  Exit 0 identical, 1 different.
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

/* Is line p (in section sec, "[name]" line text) the key "section.key" of ign? */
static int line_is_key(const char *sec, const char *p, const char *ign)
{
    const char *dot = strchr(ign, '.');
    if (!dot || !sec) return 0;
    size_t sl = (size_t)(dot - ign), kl = strlen(dot + 1);
    if (strncmp(sec + 1, ign, sl) || sec[1 + sl] != ']') return 0;
    return !strncmp(p, dot + 1, kl) && (p[kl] == ' ' || p[kl] == '=');
}

/* The resolved configuration minus the keys the determinism contract says do
 * not change results (aggregation.topology, run.checkpoint_every) and the nign keys of ign.  Caller frees. */
static char *contract_config(const char *cfg, char **ign, int nign)
{
    char *out = hf_strdup(cfg), *w = out;
    const char *p = cfg, *sec = NULL;
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p + 1) : strlen(p);
        if (p[0] == '[') sec = p;
        int skip = line_is_key(sec, p, "aggregation.topology") ||
                   line_is_key(sec, p, "run.checkpoint_every");  /* when checkpoints were taken */
        for (int i = 0; i < nign && !skip; i++) skip = line_is_key(sec, p, ign[i]);
        if (!skip) { memmove(w, p, len); w += len; }
        p += len;
    }
    *w = 0;
    return out;
}

/* One "section.key = value" line of a /config text. */
typedef struct { char key[160]; const char *val; size_t vlen; } cfg_line_t;

static cfg_line_t *config_lines(const char *cfg, int *n)
{
    int cap = 64;
    cfg_line_t *v = hf_calloc((size_t)cap, sizeof *v);
    char sec[64] = "";
    *n = 0;
    for (const char *p = cfg; *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (p[0] == '[') {
            const char *c = memchr(p, ']', len);
            size_t sl = c ? (size_t)(c - p - 1) : 0;
            snprintf(sec, sizeof sec, "%.*s", (int)HF_MIN(sl, sizeof sec - 1), p + 1);
        } else if (eq && p[0] != '#') {
            const char *ke = eq;
            while (ke > p && ke[-1] == ' ') ke--;
            const char *vs = eq + 1, *ve = p + len;
            while (vs < ve && *vs == ' ') vs++;
            while (ve > vs && ve[-1] == ' ') ve--;
            if (*n == cap) v = hf_realloc(v, (size_t)(cap *= 2) * sizeof *v);
            snprintf(v[*n].key, sizeof v[*n].key, "%s.%.*s", sec, (int)(ke - p), p);
            v[*n].val = vs;
            v[*n].vlen = (size_t)(ve - vs);
            (*n)++;
        }
        p += len + (e ? 1 : 0);
    }
    return v;
}

/* Name every key whose value differs, or that only one file has. */
static void config_diff(FILE *out, const char *ca, const char *cb)
{
    int na, nb;
    cfg_line_t *a = config_lines(ca, &na), *b = config_lines(cb, &nb);
    for (int i = 0; i < na; i++) {
        int j = 0;
        while (j < nb && strcmp(a[i].key, b[j].key)) j++;
        if (j == nb)
            fprintf(out, "  %s = %.*s (only in the first file)\n", a[i].key, (int)a[i].vlen, a[i].val);
        else if (a[i].vlen != b[j].vlen || memcmp(a[i].val, b[j].val, a[i].vlen))
            fprintf(out, "  %s: %.*s vs %.*s\n", a[i].key, (int)a[i].vlen, a[i].val, (int)b[j].vlen,
                    b[j].val);
    }
    for (int j = 0; j < nb; j++) {
        int i = 0;
        while (i < na && strcmp(a[i].key, b[j].key)) i++;
        if (i == na)
            fprintf(out, "  %s = %.*s (only in the second file)\n", b[j].key, (int)b[j].vlen, b[j].val);
    }
    free(a);
    free(b);
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
    char *ca = contract_config(a.config, ign, nign), *cb = contract_config(b.config, ign, nign);
    if (strcmp(ca, cb)) {
        fprintf(out, "/config differs (beyond aggregation.topology%s):\n", nign ? " and --ignore-key" : "");
        config_diff(out, ca, cb);
        diff = 1;
    }
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
    if (!diff)
        fprintf(out, "identical: /config, %ld rounds, %ld participation rows, %ld model tensors\n",
                a.nrounds, a.npart, w.ntensors);
    hf_h5in_close(&a);
    hf_h5in_close(&b);
    return diff;
}
