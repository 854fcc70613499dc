/*
 * report.c — `hetfl report FILE.h5... [--target ACC] [--csv] [--each]`: the
 * summary a paper table needs, from results files alone.
 *
 * Per run: final and best test accuracy; rounds, simulated time, wall time,
 * bytes (up + down), energy and carbon to a target accuracy; totals; mean
 * selected / completed / dropped / late clients per round; outcome counts from
 * /participation.  "To target" (rounds-to-target, as the FL papers report it): take
 * the best-so-far accuracy over the evaluated rounds, find the first evaluation
 * at or above the target and interpolate linearly between it and the previous
 * evaluation; cumulative time, bytes, energy and carbon are interpolated at the
 * same fractional round.  A target reached at the first evaluation is credited
 * at that round (nothing to interpolate from).
 *
 * Runs whose /config is the same except [run] seed and output are one group;
 * a group of several runs is shown as mean ± sd (sample sd, n-1) over its runs
 * (`--each` shows every run on its own).  Text output puts the runs side by
 * side, one column each; --csv prints one row per group with a `<metric>_sd`
 * column beside every metric.
 */
#include "h5out.h"
#include "hetfl.h"
#include "hf_util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Every per-run figure, in display order.  `to` marks "to target" metrics
 * (NaN when the run never reached the target). */
typedef enum {
    M_ROUNDS, M_FINAL_ACC, M_BEST_ACC,
    M_T_ROUNDS, M_T_SIM, M_T_WALL, M_T_BYTES, M_T_ENERGY, M_T_CARBON,
    M_SIM, M_WALL, M_WALL_ROUND, M_BYTES, M_ENERGY, M_CARBON,
    M_SEL, M_DONE, M_DROP, M_LATE,
    M_NMETRICS
} metric_t;

static const struct {
    const char *csv;    /* CSV column name */
    const char *text;   /* row label in the text table ("%s" = target) */
    double scale;       /* text shows value / scale */
    const char *fmt;    /* text format of one value */
    int to;             /* "to target" metric */
} metrics[M_NMETRICS] = {
    [M_ROUNDS]     = {"rounds", "rounds run", 1, "%.0f", 0},
    [M_FINAL_ACC]  = {"final_accuracy", "final accuracy", 1, "%.4f", 0},
    [M_BEST_ACC]   = {"best_accuracy", "best accuracy", 1, "%.4f", 0},
    [M_T_ROUNDS]   = {"rounds_to_target", "rounds to %s", 1, "%.1f", 1},
    [M_T_SIM]      = {"sim_time_to_target_s", "sim time to %s (s)", 1, "%.4g", 1},
    [M_T_WALL]     = {"wall_time_to_target_s", "wall time to %s (s)", 1, "%.3g", 1},
    [M_T_BYTES]    = {"bytes_to_target", "MB to %s (up+down)", 1e6, "%.4g", 1},
    [M_T_ENERGY]   = {"energy_to_target_j", "energy to %s (J)", 1, "%.4g", 1},
    [M_T_CARBON]   = {"carbon_to_target_g", "carbon to %s (g)", 1, "%.4g", 1},
    [M_SIM]        = {"sim_time_s", "sim time total (s)", 1, "%.4g", 0},
    [M_WALL]       = {"wall_time_s", "wall time total (s)", 1, "%.3g", 0},
    [M_WALL_ROUND] = {"wall_per_round_s", "wall time / round (s)", 1, "%.3g", 0},
    [M_BYTES]      = {"bytes", "MB total (up+down)", 1e6, "%.4g", 0},
    [M_ENERGY]     = {"energy_j", "energy total (J)", 1, "%.4g", 0},
    [M_CARBON]     = {"carbon_g", "carbon total (g)", 1, "%.4g", 0},
    [M_SEL]        = {"selected_per_round", "selected / round", 1, "%.2f", 0},
    [M_DONE]       = {"completed_per_round", "completed / round", 1, "%.2f", 0},
    [M_DROP]       = {"dropped_per_round", "dropped / round", 1, "%.2f", 0},
    [M_LATE]       = {"late_per_round", "late / round", 1, "%.2f", 0},
};

typedef struct {
    const char *path;          /* file as given */
    char name[128];            /* [run] name */
    long variant, seed, ranks; /* root attributes (-1 when absent) */
    long clients, per_round;   /* federation.clients, federation.clients_per_round */
    char *key;                 /* /config minus seed/output: the grouping key */
    double m[M_NMETRICS];      /* figures (NaN = not available / not reached) */
    long outcomes[HF_OUT_NCODES];
    long nparticipation;
} run_t;

typedef struct {
    int first;                 /* index of the first run */
    int n;                     /* runs in the group */
    int *members;
    char label[192];
} group_t;

/* Value of `key` in [section] of a resolved-config text, into buf ("" if absent). */
static void config_get(const char *cfg, const char *section, const char *key, char *buf, size_t len)
{
    buf[0] = 0;
    size_t sl = strlen(section), kl = strlen(key);
    int in = 0;
    for (const char *p = cfg; p && *p;) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (p[0] == '[') in = n >= sl + 2 && !strncmp(p + 1, section, sl) && p[sl + 1] == ']';
        else if (in && n > kl && !strncmp(p, key, kl) && (p[kl] == ' ' || p[kl] == '=')) {
            const char *v = memchr(p, '=', n);
            if (v) {
                v++;
                while (*v == ' ') v++;
                size_t vl = (size_t)(p + n - v);
                if (vl >= len) vl = len - 1;
                memcpy(buf, v, vl);
                buf[vl] = 0;
                return;
            }
        }
        p = e ? e + 1 : NULL;
    }
}

/* /config without the [run] seed and output lines: runs with equal keys differ only by seed. */
static char *group_key(const char *cfg)
{
    char *out = hf_strdup(cfg), *w = out;
    int in_run = 0;
    for (const char *p = cfg; *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p + 1) : strlen(p);
        if (p[0] == '[') in_run = !strncmp(p, "[run]", 5);
        int skip = in_run && ((!strncmp(p, "seed", 4) && (p[4] == ' ' || p[4] == '=')) ||
                              (!strncmp(p, "output", 6) && (p[6] == ' ' || p[6] == '=')));
        if (!skip) { memmove(w, p, len); w += len; }
        p += len;
    }
    *w = 0;
    return out;
}

static long root_attr_long(hid_t f, const char *name)
{
    long v = -1;
    if (H5Aexists(f, name) > 0) {
        hid_t a = H5Aopen(f, name, H5P_DEFAULT);
        if (a >= 0) {
            if (H5Aread(a, H5T_NATIVE_LONG, &v) < 0) v = -1;
            H5Aclose(a);
        }
    }
    return v;
}

/* Fill the figures of one run from its /rounds and /participation. */
static void run_figures(run_t *r, const hf_h5in_t *in, double target)
{
    for (int i = 0; i < M_NMETRICS; i++) r->m[i] = NAN;
    long n = in->nrounds;
    r->m[M_ROUNDS] = (double)n;
    r->nparticipation = in->npart;
    for (long i = 0; i < in->npart; i++) {
        int o = in->part[i].outcome;
        if (o >= 0 && o < HF_OUT_NCODES) r->outcomes[o]++;
    }
    if (n == 0) return;
    /* cumulative sums at the end of each round */
    double wall = 0, bytes = 0, energy = 0, carbon = 0, sel = 0, done = 0, drop = 0, late = 0;
    double best = NAN, prev_best = NAN, final = NAN;
    double prev_round = 0, prev_sim = 0, prev_wall = 0, prev_bytes = 0, prev_energy = 0, prev_carbon = 0;
    int have_prev = 0, reached = 0;
    for (long i = 0; i < n; i++) {
        const hf_round_rec_t *x = &in->rounds[i];
        wall += x->wall_time_s;
        bytes += (double)x->bytes_up + (double)x->bytes_down;
        energy += x->energy_j;
        carbon += x->carbon_g;
        sel += x->selected;
        done += x->completed;
        drop += x->dropped;
        late += x->late;
        if (isnan(x->test_accuracy)) continue;
        final = x->test_accuracy;
        best = isnan(best) || x->test_accuracy > best ? x->test_accuracy : best;
        if (!reached && best >= target) {
            reached = 1;
            /* fraction of the way from the previous evaluation to this one */
            double f = have_prev && best > prev_best ? (target - prev_best) / (best - prev_best) : 1.0;
#define LERP(a, b) ((a) + f * ((b) - (a)))
            r->m[M_T_ROUNDS] = have_prev ? LERP(prev_round, (double)x->round) : (double)x->round;
            r->m[M_T_SIM] = have_prev ? LERP(prev_sim, x->sim_time_s) : x->sim_time_s;
            r->m[M_T_WALL] = have_prev ? LERP(prev_wall, wall) : wall;
            r->m[M_T_BYTES] = have_prev ? LERP(prev_bytes, bytes) : bytes;
            r->m[M_T_ENERGY] = have_prev ? LERP(prev_energy, energy) : energy;
            r->m[M_T_CARBON] = have_prev ? LERP(prev_carbon, carbon) : carbon;
#undef LERP
        }
        have_prev = 1;
        prev_best = best;
        prev_round = x->round;
        prev_sim = x->sim_time_s;
        prev_wall = wall;
        prev_bytes = bytes;
        prev_energy = energy;
        prev_carbon = carbon;
    }
    r->m[M_FINAL_ACC] = final;
    r->m[M_BEST_ACC] = best;
    r->m[M_SIM] = in->rounds[n - 1].sim_time_s;
    r->m[M_WALL] = wall;
    /* the first round carries start-up costs (page faults, MPI warm-up): leave it out */
    r->m[M_WALL_ROUND] = n > 1 ? (wall - in->rounds[0].wall_time_s) / (double)(n - 1) : wall;
    r->m[M_BYTES] = bytes;
    r->m[M_ENERGY] = energy;
    r->m[M_CARBON] = carbon;
    r->m[M_SEL] = sel / (double)n;
    r->m[M_DONE] = done / (double)n;
    r->m[M_DROP] = drop / (double)n;
    r->m[M_LATE] = late / (double)n;
}

/* Mean and sample sd of metric i over a group, ignoring NaN; *k = values used. */
static void group_stat(const run_t *runs, const group_t *g, int i, double *mean, double *sd, int *k)
{
    double s = 0, s2 = 0;
    int c = 0;
    for (int j = 0; j < g->n; j++) {
        double v = runs[g->members[j]].m[i];
        if (isnan(v)) continue;
        s += v;
        c++;
    }
    *k = c;
    *mean = c ? s / c : NAN;
    for (int j = 0; j < g->n; j++) {
        double v = runs[g->members[j]].m[i];
        if (!isnan(v)) s2 += (v - *mean) * (v - *mean);
    }
    *sd = c > 1 ? sqrt(s2 / (c - 1)) : NAN;
}

static double group_outcome_mean(const run_t *runs, const group_t *g, int o)
{
    double s = 0;
    for (int j = 0; j < g->n; j++) s += (double)runs[g->members[j]].outcomes[o];
    return s / g->n;
}

static void seeds_list(const run_t *runs, const group_t *g, char *buf, size_t len, const char *sep)
{
    buf[0] = 0;
    for (int j = 0; j < g->n; j++) {
        size_t l = strlen(buf);
        snprintf(buf + l, len - l, "%s%ld", j ? sep : "", runs[g->members[j]].seed);
    }
}

/* One cell of the text table. */
static void cell(char *buf, size_t len, const run_t *runs, const group_t *g, int i)
{
    double mean, sd;
    int k;
    group_stat(runs, g, i, &mean, &sd, &k);
    if (k == 0) {
        snprintf(buf, len, "%s", metrics[i].to ? "not reached" : "-");
        return;
    }
    char a[48], b[48] = "";
    snprintf(a, sizeof a, metrics[i].fmt, mean / metrics[i].scale);
    if (g->n > 1) {
        char s[32] = "";
        if (k > 1) snprintf(s, sizeof s, metrics[i].fmt, sd / metrics[i].scale);
        snprintf(b, sizeof b, " ± %s", k > 1 ? s : "-");
        if (k < g->n) {
            size_t l = strlen(b);
            snprintf(b + l, sizeof b - l, " (%d/%d)", k, g->n);
        }
    }
    snprintf(buf, len, "%s%s", a, b);
}

/* UTF-8 aware display width (the ± sign is two bytes, one column). */
static int width(const char *s)
{
    int w = 0;
    for (; *s; s++) w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

/* s, then spaces up to w columns (none after the last column: w = 0) */
static void pad(FILE *out, const char *s, int w)
{
    fputs(s, out);
    for (int i = width(s); i < w; i++) fputc(' ', out);
}

static void print_text(FILE *out, const run_t *runs, const group_t *g, int ng, int nruns, const char *tgt)
{
    enum { LABELW = 30, MAXCELL = 96 };
    int colw[ng];
    char buf[MAXCELL], lab[96];
    for (int j = 0; j < ng; j++) {
        colw[j] = width(g[j].label);
        for (int i = 0; i < M_NMETRICS; i++) {
            cell(buf, sizeof buf, runs, &g[j], i);
            colw[j] = HF_MAX(colw[j], width(buf));
        }
        colw[j] += 2;
    }
    fprintf(out, "hetfl report: %d run%s in %d column%s; target accuracy %s "
            "(best-so-far curve, linear interpolation)\n\n", nruns, nruns == 1 ? "" : "s", ng,
            ng == 1 ? "" : "s", tgt);
    pad(out, "", LABELW);
    for (int j = 0; j < ng; j++) pad(out, g[j].label, j + 1 < ng ? colw[j] : 0);
    fputc('\n', out);
    pad(out, "runs (seeds)", LABELW);
    for (int j = 0; j < ng; j++) {
        char s[MAXCELL - 16], c[MAXCELL];
        seeds_list(runs, &g[j], s, sizeof s, ",");
        snprintf(c, sizeof c, "%d (%s)", g[j].n, s);
        pad(out, c, j + 1 < ng ? colw[j] : 0);
    }
    fputc('\n', out);
    pad(out, "ranks / clients / per round", LABELW);
    for (int j = 0; j < ng; j++) {
        const run_t *r = &runs[g[j].first];
        snprintf(buf, sizeof buf, "%ld / %ld / %ld", r->ranks, r->clients, r->per_round);
        pad(out, buf, j + 1 < ng ? colw[j] : 0);
    }
    fputc('\n', out);
    for (int i = 0; i < M_NMETRICS; i++) {
        snprintf(lab, sizeof lab, metrics[i].text, tgt);
        pad(out, lab, LABELW);
        for (int j = 0; j < ng; j++) {
            cell(buf, sizeof buf, runs, &g[j], i);
            pad(out, buf, j + 1 < ng ? colw[j] : 0);
        }
        fputc('\n', out);
    }
    /* outcome counts: every outcome that occurs in some run */
    for (int o = 0; o < HF_OUT_NCODES; o++) {
        int any = o == HF_OUT_COMPLETED;
        for (int j = 0; j < ng; j++) any |= group_outcome_mean(runs, &g[j], o) > 0;
        if (!any) continue;
        snprintf(lab, sizeof lab, "outcome %s", hf_outcome_names[o]);
        pad(out, lab, LABELW);
        for (int j = 0; j < ng; j++) {
            snprintf(buf, sizeof buf, "%.6g", group_outcome_mean(runs, &g[j], o));
            pad(out, buf, j + 1 < ng ? colw[j] : 0);
        }
        fputc('\n', out);
    }
}

static void csv_num(FILE *out, double v)
{
    if (isnan(v)) fputs(",", out);
    else fprintf(out, ",%.10g", v);
}

static void print_csv(FILE *out, const run_t *runs, const group_t *g, int ng, double target)
{
    fputs("label,runs,seeds,ranks,clients,clients_per_round,target", out);
    for (int i = 0; i < M_NMETRICS; i++) fprintf(out, ",%s,%s_sd", metrics[i].csv, metrics[i].csv);
    for (int o = 0; o < HF_OUT_NCODES; o++) fprintf(out, ",outcome_%s", hf_outcome_names[o]);
    fputs(",files\n", out);
    for (int j = 0; j < ng; j++) {
        char s[4096];
        seeds_list(runs, &g[j], s, sizeof s, " ");
        const run_t *r = &runs[g[j].first];
        fprintf(out, "%s,%d,%s,%ld,%ld,%ld,%g", g[j].label, g[j].n, s, r->ranks, r->clients, r->per_round,
                target);
        for (int i = 0; i < M_NMETRICS; i++) {
            double mean, sd;
            int k;
            group_stat(runs, &g[j], i, &mean, &sd, &k);
            csv_num(out, mean);
            csv_num(out, sd);
        }
        for (int o = 0; o < HF_OUT_NCODES; o++) csv_num(out, group_outcome_mean(runs, &g[j], o));
        fputs(",\"", out);  /* quoted: paths may hold commas; "" escapes a quote */
        for (int m = 0; m < g[j].n; m++) {
            if (m) fputc(' ', out);
            for (const char *p = runs[g[j].members[m]].path; *p; p++) {
                if (*p == '"') fputc('"', out);
                fputc(*p, out);
            }
        }
        fputs("\"\n", out);
    }
}

/* A label unique among the groups: name[-vV][-sS | (n seeds)], then #k if needed. */
static void make_labels(const run_t *runs, group_t *g, int ng)
{
    for (int j = 0; j < ng; j++) {
        const run_t *r = &runs[g[j].first];
        char v[32] = "";
        if (r->variant >= 0) snprintf(v, sizeof v, "-v%ld", r->variant);
        if (g[j].n == 1) snprintf(g[j].label, sizeof g[j].label, "%s%s-s%ld", r->name, v, r->seed);
        else snprintf(g[j].label, sizeof g[j].label, "%s%s", r->name, v);
        for (char *p = g[j].label; *p; p++) if (*p == ',' || *p == ' ') *p = '_';
    }
    for (int j = 0; j < ng; j++) {
        int dup = 0;
        for (int k = 0; k < ng; k++) dup |= k != j && !strcmp(g[j].label, g[k].label);
        if (dup) {
            size_t l = strlen(g[j].label);
            snprintf(g[j].label + l, sizeof g[j].label - l, "#%d", j + 1);
        }
    }
}

int hf_report_main(int argc, char **argv, FILE *out)
{
    double target = 0.8;
    char tgt[32] = "0.8";
    int csv = 0, each = 0, nfiles = 0;
    const char **files = hf_calloc((size_t)(argc ? argc : 1), sizeof *files);
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "--csv")) csv = 1;
        else if (!strcmp(s, "--each")) each = 1;
        else if (!strcmp(s, "--target") || !strncmp(s, "--target=", 9)) {
            const char *v = s[8] == '=' ? s + 9 : (i + 1 < argc ? argv[++i] : NULL);
            char *end = NULL;
            target = v ? strtod(v, &end) : NAN;
            if (!v || end == v || *end || !(target > 0 && target <= 1)) {
                free(files);
                return hf_seterr(HF_EINPUT, "hetfl report: --target expects an accuracy in (0, 1], got '%s'",
                                 v ? v : "");
            }
            snprintf(tgt, sizeof tgt, "%s", v);
        } else if (s[0] == '-' && s[1]) {
            free(files);
            return hf_seterr(HF_EINPUT, "hetfl report: unknown option '%s'\n"
                             "HINT: hetfl report FILE.h5... [--target ACC] [--csv] [--each]", s);
        } else files[nfiles++] = s;
    }
    if (!nfiles) {
        free(files);
        return hf_seterr(HF_EINPUT, "usage: hetfl report FILE.h5... [--target ACC] [--csv] [--each]");
    }
    run_t *runs = hf_calloc((size_t)nfiles, sizeof *runs);
    int rc = 0;
    for (int i = 0; i < nfiles && !rc; i++) {
        hf_h5in_t in;
        rc = hf_h5in_open(&in, files[i]);
        if (rc) break;
        run_t *r = &runs[i];
        r->path = files[i];
        config_get(in.config, "run", "name", r->name, sizeof r->name);
        if (!r->name[0]) snprintf(r->name, sizeof r->name, "run");
        r->variant = root_attr_long(in.file, "variant");
        r->seed = root_attr_long(in.file, "seed");
        r->ranks = root_attr_long(in.file, "ranks");
        r->key = group_key(in.config);
        char v[64];
        config_get(in.config, "federation", "clients", v, sizeof v);
        r->clients = v[0] ? atol(v) : -1;
        config_get(in.config, "federation", "clients_per_round", v, sizeof v);
        r->per_round = v[0] ? atol(v) : -1;
        run_figures(r, &in, target);
        hf_h5in_close(&in);
    }
    if (!rc) {
        group_t *g = hf_calloc((size_t)nfiles, sizeof *g);
        int ng = 0;
        for (int i = 0; i < nfiles; i++) {
            int j = 0;
            if (!each)
                for (j = 0; j < ng; j++) if (!strcmp(runs[g[j].first].key, runs[i].key)) break;
            if (each || j == ng) {
                g[ng].first = i;
                g[ng].members = hf_calloc((size_t)nfiles, sizeof(int));
                j = ng++;
            }
            g[j].members[g[j].n++] = i;
        }
        make_labels(runs, g, ng);
        if (csv) print_csv(out, runs, g, ng, target);
        else {
            print_text(out, runs, g, ng, nfiles, tgt);
        }
        for (int j = 0; j < ng; j++) free(g[j].members);
        free(g);
    }
    for (int i = 0; i < nfiles; i++) free(runs[i].key);
    free(runs);
    free(files);
    return rc;
}
