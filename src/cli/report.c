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
 * column beside every metric; --json the same as one JSON document; --rounds
 * every /rounds row of every run in long format.
 *
 * Columns are labelled by the suite keys that differ between them (a sweep's
 * key=value), else by run name.  Runs that did not complete (status other than
 * completed, or — files without a status — fewer rounds than federation.rounds)
 * are listed and left out of the means unless --include-incomplete; two files
 * with the same configuration and seed are flagged.  The headline tables of the
 * strategies are summarised too: /rounds_by_width (final accuracy per width),
 * /feddf (distillation gain, server compute), consensus distance (decentralized),
 * per-client accuracy (/client_eval), the attacks (/privacy, /attribute_inference) and the
 * run's DP epsilon.
 */
#include "h5out.h"
#include "hetfl.h"
#include "hf_util.h"
#include "report.h"
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Every per-run figure, in display order.  `to` marks "to target" metrics
 * (NaN when the run never reached the target). */
typedef enum {
    M_ROUNDS, M_FINAL_ACC, M_BEST_ACC, M_MEAN_ACC,
    M_T_ROUNDS, M_T_SIM, M_T_WALL, M_T_BYTES, M_T_ENERGY, M_T_CARBON,
    M_SIM, M_WALL, M_WALL_ROUND, M_BYTES, M_BYTES_UP, M_ENERGY, M_CARBON,
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
    [M_MEAN_ACC]   = {"mean_accuracy", "mean accuracy", 1, "%.4f", 0},
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
    [M_BYTES_UP]   = {"bytes_up", "MB uploaded", 1e6, "%.4g", 0},
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
    char status[32];           /* root attribute status; "" in files older than it */
    char commit[48], dirty[8]; /* root attributes git_commit, git_dirty (the build that wrote it) */
    long exit_code;            /* root attribute exit_code (-1 when absent or running) */
    long rounds_planned;       /* federation.rounds */
    int complete;              /* status completed (or, without one, every round there) */
    int duplicate_of;          /* index of an earlier run with the same config and seed, or -1 */
    char *cfg;                 /* /config text */
    /* strategy headline figures: name, value (rounds_by_width, feddf, consensus) */
    int nextra;
    struct { char name[64]; char text[64]; double v; } extra[24];
} run_t;

typedef struct {
    int first;                 /* index of the first run */
    int n;                     /* runs in the group */
    int *members;
    char label[512];
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

static void root_attr_str(hid_t f, const char *name, char *buf, size_t n)
{
    buf[0] = 0;
    if (H5Aexists(f, name) <= 0) return;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    hid_t t = H5Aget_type(a);
    if (H5Tget_class(t) == H5T_STRING) {
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5T_CSET_UTF8);
        char *s = NULL;
        if (H5Tis_variable_str(t) > 0 && H5Aread(a, mt, &s) >= 0 && s) {
            snprintf(buf, n, "%s", s);
            H5free_memory(s);
        }
        H5Tclose(mt);
    }
    H5Tclose(t);
    H5Aclose(a);
}

static void add_extra(run_t *r, const char *name, const char *text, double v)
{
    if (r->nextra == (int)(sizeof r->extra / sizeof r->extra[0])) return;
    snprintf(r->extra[r->nextra].name, sizeof r->extra[0].name, "%s", name);
    snprintf(r->extra[r->nextra].text, sizeof r->extra[0].text, "%s", text);
    r->extra[r->nextra].v = v;
    r->nextra++;
}

/* Read a 1-D compound table's double/int columns: rows x ncols doubles (NULL when absent). */
static double *read_cols(hid_t f, const char *table, const char *const *cols, int ncols, long *rows)
{
    *rows = 0;
    if (H5Lexists(f, table, H5P_DEFAULT) <= 0) return NULL;
    hid_t d = H5Dopen2(f, table, H5P_DEFAULT);
    if (d < 0) return NULL;
    hid_t ft = H5Dget_type(d), sp = H5Dget_space(d);
    hsize_t n = 0;
    H5Sget_simple_extent_dims(sp, &n, NULL);
    hid_t mt = H5Tcreate(H5T_COMPOUND, (size_t)ncols * sizeof(double));
    for (int c = 0; c < ncols; c++) {
        if (H5Tget_member_index(ft, cols[c]) < 0) { n = 0; break; }
        H5Tinsert(mt, cols[c], (size_t)c * sizeof(double), H5T_NATIVE_DOUBLE);
    }
    double *v = n ? hf_calloc((size_t)n * (size_t)ncols, sizeof(double)) : NULL;
    if (v && H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) { free(v); v = NULL; n = 0; }
    H5Tclose(mt); H5Tclose(ft); H5Sclose(sp); H5Dclose(d);
    *rows = (long)n;
    return v;
}

/* Per-client evaluation (/client_eval): the last evaluated round's summaries. */
static void run_client_eval(run_t *r, const hf_h5in_t *in)
{
    if (H5Lexists(in->file, "client_eval", H5P_DEFAULT) <= 0) return;
    const hf_round_rec_t *last = NULL;
    for (long i = 0; i < in->nrounds; i++)
        if (!isnan(in->rounds[i].client_acc_mean)) last = &in->rounds[i];
    if (!last) return;
    add_extra(r, "final_client_acc_mean", "final client acc. mean", last->client_acc_mean);
    add_extra(r, "final_client_acc_wmean", "final client acc. weighted", last->client_acc_wmean);
    add_extra(r, "final_client_acc_p10", "final client acc. p10", last->client_acc_p10);
    add_extra(r, "final_client_acc_min", "final client acc. worst", last->client_acc_min);
}

/* Data streams (/stream): its last row, the samples the clients had received and
 * held and the streams that had ended by the last round. */
static void run_stream(run_t *r, const hf_h5in_t *in)
{
    long n;
    static const char *const cols[] = {"arrived", "held", "exhausted"};
    double *v = read_cols(in->file, "stream", cols, 3, &n);
    if (!v) return;
    if (n > 0) {
        add_extra(r, "final_stream_arrived", "stream: samples received", v[3 * (n - 1)]);
        add_extra(r, "final_stream_held", "stream: samples held", v[3 * (n - 1) + 1]);
        add_extra(r, "final_stream_exhausted", "stream: clients ended", v[3 * (n - 1) + 2]);
    }
    free(v);
}

/* Privacy: the membership attack's mean AUC and TPR at 1 % FPR over its /privacy
 * rows (every observed upload or evaluated model), the attribute attack's mean
 * accuracy and AUC over its /attribute_inference rows, and the ε the run spent (root attribute
 * dp_epsilon: DP strategies; +inf without noise). */
static void run_privacy(run_t *r, const hf_h5in_t *in)
{
    long n;
    static const char *const pcols[] = {"auc", "tpr_at_1pct_fpr"};
    double *pv = read_cols(in->file, "privacy", pcols, 2, &n);
    if (pv) {
        double auc = 0, tpr = 0;
        for (long i = 0; i < n; i++) {
            auc += pv[2 * i];
            tpr += pv[2 * i + 1];
        }
        add_extra(r, "privacy_auc", "attack AUC (mean)", n ? auc / (double)n : NAN);
        add_extra(r, "privacy_tpr_at_1pct_fpr", "attack TPR at 1% FPR", n ? tpr / (double)n : NAN);
        free(pv);
    }
    static const char *const acols[] = {"accuracy", "auc"};
    double *av = read_cols(in->file, "attribute_inference", acols, 2, &n);
    if (av) {  /* the attribute attack's means over its rows */
        double acc = 0, auc = 0;
        for (long i = 0; i < n; i++) {
            acc += av[2 * i];
            auc += av[2 * i + 1];
        }
        add_extra(r, "attribute_accuracy", "attribute attack accuracy (mean)", n ? acc / (double)n : NAN);
        add_extra(r, "attribute_auc", "attribute attack AUC (mean)", n ? auc / (double)n : NAN);
        free(av);
    }
    if (H5Aexists(in->file, "dp_epsilon") > 0) {
        double eps = NAN;
        hid_t a = H5Aopen(in->file, "dp_epsilon", H5P_DEFAULT);
        if (a >= 0 && H5Aread(a, H5T_NATIVE_DOUBLE, &eps) < 0) eps = NAN;
        if (a >= 0) H5Aclose(a);
        add_extra(r, "final_dp_epsilon", "DP epsilon of the run", eps);
    }
}

/* The strategies' headline tables: final accuracy per width (/rounds_by_width),
 * distillation gain and server cost (/feddf), final consensus distance. */
static void run_extras(run_t *r, const hf_h5in_t *in)
{
    long n;
    static const char *const wcols[] = {"round", "width", "test_accuracy"};
    double *w = read_cols(in->file, "rounds_by_width", wcols, 3, &n);
    if (w) {
        double widths[16];
        int nw = 0;
        for (long i = 0; i < n; i++) {
            int k = 0;
            while (k < nw && widths[k] != w[3 * i + 1]) k++;
            if (k == nw && nw < 16) widths[nw++] = w[3 * i + 1];
        }
        for (int k = 0; k < nw; k++) {
            double last = NAN;
            for (long i = 0; i < n; i++)
                if (w[3 * i + 1] == widths[k] && !isnan(w[3 * i + 2])) last = w[3 * i + 2];
            char name[64], text[64];
            snprintf(name, sizeof name, "final_accuracy_width_%g", widths[k]);
            snprintf(text, sizeof text, "final accuracy, width %g", widths[k]);
            add_extra(r, name, text, last);
        }
        free(w);
    }
    static const char *const fcols[] = {"round", "width", "val_accuracy_init", "val_accuracy_best",
                                        "server_compute_s", "distill_steps"};
    double *fd = read_cols(in->file, "feddf", fcols, 6, &n);
    if (fd) {
        double gain = 0, comp = 0, steps = 0;
        for (long i = 0; i < n; i++) {
            gain += fd[6 * i + 3] - fd[6 * i + 2];
            comp += fd[6 * i + 4];
            steps += fd[6 * i + 5];
        }
        add_extra(r, "feddf_val_gain", "FedDF val. acc. gain / round", n ? gain / (double)n : NAN);
        add_extra(r, "feddf_distill_steps", "FedDF distill steps / round", n ? steps / (double)n : NAN);
        add_extra(r, "feddf_server_compute_s", "FedDF server compute (s)", comp);
        free(fd);
    }
    double cd = NAN;
    for (long i = 0; i < in->nrounds; i++)
        if (!isnan(in->rounds[i].consensus_distance)) cd = in->rounds[i].consensus_distance;
    if (!isnan(cd)) add_extra(r, "final_consensus_distance", "final consensus distance", cd);
    run_client_eval(r, in);
    run_stream(r, in);
    run_privacy(r, in);
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
    double wall = 0, bytes = 0, bytes_up = 0, energy = 0, carbon = 0, sel = 0, done = 0, drop = 0, late = 0;
    double best = NAN, prev_best = NAN, final = NAN, acc_sum = 0.0;
    long acc_n = 0;
    double prev_round = 0, prev_sim = 0, prev_wall = 0, prev_bytes = 0, prev_energy = 0, prev_carbon = 0;
    int have_prev = 0, reached = 0;
    for (long i = 0; i < n; i++) {
        const hf_round_rec_t *x = &in->rounds[i];
        wall += x->wall_time_s;
        bytes += (double)x->bytes_up + (double)x->bytes_down;
        bytes_up += (double)x->bytes_up;
        energy += x->energy_j;
        carbon += x->carbon_g;
        sel += x->selected;
        done += x->completed;
        drop += x->dropped;
        late += x->late;
        if (isnan(x->test_accuracy)) continue;
        final = x->test_accuracy;
        acc_sum += x->test_accuracy;
        acc_n++;
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
    r->m[M_MEAN_ACC] = acc_n ? acc_sum / (double)acc_n : NAN;  /* CA-Fed's "time-average accuracy" */
    r->m[M_SIM] = in->rounds[n - 1].sim_time_s;
    r->m[M_WALL] = wall;
    /* the first round carries start-up costs (page faults, MPI warm-up): leave it out */
    r->m[M_WALL_ROUND] = n > 1 ? (wall - in->rounds[0].wall_time_s) / (double)(n - 1) : wall;
    r->m[M_BYTES] = bytes;
    r->m[M_BYTES_UP] = bytes_up;
    r->m[M_ENERGY] = energy;
    r->m[M_CARBON] = carbon;
    r->m[M_SEL] = sel / (double)n;
    r->m[M_DONE] = done / (double)n;
    r->m[M_DROP] = drop / (double)n;
    r->m[M_LATE] = late / (double)n;
}

/* Read one results file into r: attributes, configuration, figures at `target`. */
static int run_load(run_t *r, const char *path, double target)
{
    hf_h5in_t in;
    int rc = hf_h5in_open(&in, path);
    if (rc) return rc;
    r->path = path;
    config_get(in.config, "run", "name", r->name, sizeof r->name);
    if (!r->name[0]) snprintf(r->name, sizeof r->name, "run");
    r->variant = root_attr_long(in.file, "variant");
    r->seed = root_attr_long(in.file, "seed");
    r->ranks = root_attr_long(in.file, "ranks");
    r->exit_code = root_attr_long(in.file, "exit_code");
    root_attr_str(in.file, "status", r->status, sizeof r->status);
    root_attr_str(in.file, "git_commit", r->commit, sizeof r->commit);
    root_attr_str(in.file, "git_dirty", r->dirty, sizeof r->dirty);
    r->key = group_key(in.config);
    r->cfg = hf_strdup(in.config);
    char v[64];
    config_get(in.config, "federation", "clients", v, sizeof v);
    r->clients = v[0] ? atol(v) : -1;
    config_get(in.config, "federation", "clients_per_round", v, sizeof v);
    r->per_round = v[0] ? atol(v) : -1;
    config_get(in.config, "federation", "rounds", v, sizeof v);
    r->rounds_planned = v[0] ? atol(v) : -1;
    run_figures(r, &in, target);
    run_extras(r, &in);
    /* complete: the status says so; files older than the status attribute: every round there */
    if (r->status[0]) r->complete = !strcmp(r->status, "completed");
    else r->complete = r->rounds_planned < 0 || in.nrounds >= r->rounds_planned;
    hf_h5in_close(&in);
    return 0;
}

/* ---- the figures of one run, by name, for `hetfl reproduce` (report.h) ---- */

int hf_report_metric_valid(const char *name, int *to_target)
{
    *to_target = 0;
    for (int i = 0; i < M_NMETRICS; i++)
        if (!strcmp(name, metrics[i].csv)) {
            *to_target = metrics[i].to;
            return 1;
        }
    static const char *const extras[] = {"feddf_val_gain", "feddf_distill_steps", "feddf_server_compute_s",
                                         "final_consensus_distance", "final_client_acc_mean",
                                         "final_client_acc_wmean", "final_client_acc_p10",
                                         "final_client_acc_min", "privacy_auc", "privacy_tpr_at_1pct_fpr",
                                         "attribute_accuracy", "attribute_auc", "final_dp_epsilon",
                                         "final_stream_arrived", "final_stream_held", "final_stream_exhausted",
                                         NULL};
    for (int i = 0; extras[i]; i++)
        if (!strcmp(name, extras[i])) return 1;
    const char *w = "final_accuracy_width_";
    if (strncmp(name, w, strlen(w))) return 0;
    char *end;
    double x = strtod(name + strlen(w), &end);
    return end != name + strlen(w) && !*end && x > 0 && x <= 1;
}

const char *hf_report_metric_names(void)
{
    static char buf[2048];
    if (!buf[0]) {
        for (int i = 0; i < M_NMETRICS; i++)
            snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", i ? ", " : "", metrics[i].csv);
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), ", final_accuracy_width_W, feddf_val_gain, "
                 "feddf_distill_steps, feddf_server_compute_s, final_consensus_distance, "
                 "final_client_acc_mean, final_client_acc_wmean, final_client_acc_p10, final_client_acc_min, "
                 "privacy_auc, privacy_tpr_at_1pct_fpr, attribute_accuracy, attribute_auc, final_dp_epsilon");
    }
    return buf;
}

int hf_report_values(const char *path, double target, const char *const *names, int n, double *vals,
                     hf_report_info_t *info)
{
    run_t r;
    memset(&r, 0, sizeof r);
    int rc = run_load(&r, path, target);
    if (rc) return rc;
    for (int k = 0; k < n; k++) {
        vals[k] = NAN;
        for (int i = 0; i < M_NMETRICS; i++)
            if (!strcmp(names[k], metrics[i].csv)) vals[k] = r.m[i];
        for (int e = 0; e < r.nextra; e++)
            if (!strcmp(names[k], r.extra[e].name)) vals[k] = r.extra[e].v;
    }
    info->seed = r.seed;
    info->variant = r.variant;
    info->complete = r.complete;
    snprintf(info->status, sizeof info->status, "%s", r.status[0] ? r.status : "unknown");
    snprintf(info->commit, sizeof info->commit, "%s", r.commit);
    info->dirty = !strcmp(r.dirty, "yes");
    free(r.key);
    free(r.cfg);
    return 0;
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

static void print_extras_text(FILE *out, const run_t *runs, const group_t *g, int ng, const int *colw,
                              int labelw);

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
    print_extras_text(out, runs, g, ng, colw, LABELW);  /* strategies' headline tables */
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

/* a CSV field, quoted when it holds a comma, a quote or a space ("" escapes a quote) */
static void csv_str(FILE *out, const char *s)
{
    int q = strpbrk(s, ",\" \n") != NULL;
    if (q) fputc('"', out);
    for (; *s; s++) {
        if (*s == '"') fputc('"', out);
        fputc(*s, out);
    }
    if (q) fputc('"', out);
}

static void json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(out, "\\%c", c);
        else if (c == '\n') fputs("\\n", out);
        else if (c == '\t') fputs("\\t", out);
        else if (c < 0x20) fprintf(out, "\\u%04x", c);
        else fputc(c, out);
    }
    fputc('"', out);
}

static void json_num(FILE *out, double v)
{
    if (isnan(v) || isinf(v)) fputs("null", out);
    else fprintf(out, "%.10g", v);
}

/* ---- suite keys that tell the groups apart ---- */

typedef struct { char key[96]; char val[160]; } kv_t;

static kv_t *cfg_kv(const char *cfg, int *n)
{
    int cap = 256;
    kv_t *v = hf_calloc((size_t)cap, sizeof *v);
    char sec[64] = "";
    *n = 0;
    for (const char *p = cfg; p && *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (p[0] == '[') {
            const char *c = memchr(p, ']', len);
            snprintf(sec, sizeof sec, "%.*s", c ? (int)(c - p - 1) : 0, p + 1);
        } else if (eq && p[0] != '#') {
            const char *ke = eq, *vs = eq + 1, *ve = p + len;
            while (ke > p && ke[-1] == ' ') ke--;
            while (vs < ve && *vs == ' ') vs++;
            while (ve > vs && ve[-1] == ' ') ve--;
            if (*n == cap) v = hf_realloc(v, (size_t)(cap *= 2) * sizeof *v);
            snprintf(v[*n].key, sizeof v[*n].key, "%s.%.*s", sec, (int)(ke - p), p);
            snprintf(v[*n].val, sizeof v[*n].val, "%.*s", (int)(ve - vs), vs);
            (*n)++;
        }
        p = e ? e + 1 : NULL;
    }
    return v;
}

static const char *kv_get(const kv_t *v, int n, const char *key)
{
    for (int i = 0; i < n; i++) if (!strcmp(v[i].key, key)) return v[i].val;
    return "";
}

/* Keys (other than run.seed and run.output) whose value differs between groups. */
typedef struct { int n; char key[32][96]; } diffkeys_t;

static void find_diff_keys(const run_t *runs, const group_t *g, int ng, diffkeys_t *dk)
{
    dk->n = 0;
    if (ng < 2) return;
    int n0;
    kv_t *v0 = cfg_kv(runs[g[0].first].cfg, &n0);
    kv_t **vs = hf_calloc((size_t)ng, sizeof *vs);
    int *ns = hf_calloc((size_t)ng, sizeof *ns);
    for (int j = 0; j < ng; j++) vs[j] = cfg_kv(runs[g[j].first].cfg, &ns[j]);
    /* every key of any group, in the first group's order, then the others' */
    for (int j = 0; j < ng; j++)
        for (int i = 0; i < ns[j] && dk->n < 32; i++) {
            const char *k = vs[j][i].key;
            if (!strcmp(k, "run.seed") || !strcmp(k, "run.output")) continue;
            int seen = 0;
            for (int d = 0; d < dk->n; d++) seen |= !strcmp(dk->key[d], k);
            if (seen) continue;
            int differs = 0;
            for (int m = 1; m < ng && !differs; m++)
                differs = strcmp(kv_get(vs[0], ns[0], k), kv_get(vs[m], ns[m], k)) != 0;
            if (differs) snprintf(dk->key[dk->n++], sizeof dk->key[0], "%s", k);
        }
    for (int j = 0; j < ng; j++) free(vs[j]);
    free(vs);
    free(ns);
    free(v0);
}

/* Label: the differing keys as key=value (a sweep's variant), else
 * name[-vV][-sS]; #k appended if two are still equal. */
static void make_labels(const run_t *runs, group_t *g, int ng, const diffkeys_t *dk)
{
    for (int j = 0; j < ng; j++) {
        const run_t *r = &runs[g[j].first];
        g[j].label[0] = 0;
        if (dk->n) {
            int nv;
            kv_t *v = cfg_kv(r->cfg, &nv);
            for (int d = 0; d < dk->n; d++) {
                size_t l = strlen(g[j].label);
                snprintf(g[j].label + l, sizeof g[j].label - l, "%s%s=%s", d ? " " : "", dk->key[d],
                         kv_get(v, nv, dk->key[d]));
            }
            free(v);
        }
        if (!g[j].label[0]) {
            char v[32] = "";
            if (r->variant >= 0) snprintf(v, sizeof v, "-v%ld", r->variant);
            if (g[j].n == 1) snprintf(g[j].label, sizeof g[j].label, "%s%s-s%ld", r->name, v, r->seed);
            else snprintf(g[j].label, sizeof g[j].label, "%s%s", r->name, v);
        } else if (g[j].n == 1 && ng > 1) {
            int same_cfg = 0;  /* --each: runs of one configuration told apart by seed */
            for (int k = 0; k < ng; k++)
                same_cfg |= k != j && !strcmp(runs[g[k].first].key, r->key);
            if (same_cfg) {
                size_t l = strlen(g[j].label);
                snprintf(g[j].label + l, sizeof g[j].label - l, " seed=%ld", r->seed);
            }
        }
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

/* Names of the strategy figures that some group has, in first-seen order. */
typedef struct { int n; char name[48][64]; char text[48][64]; } extras_t;

static void collect_extras(const run_t *runs, const group_t *g, int ng, extras_t *ex)
{
    ex->n = 0;
    for (int j = 0; j < ng; j++)
        for (int m = 0; m < g[j].n; m++) {
            const run_t *r = &runs[g[j].members[m]];
            for (int e = 0; e < r->nextra && ex->n < 48; e++) {
                int seen = 0;
                for (int k = 0; k < ex->n; k++) seen |= !strcmp(ex->name[k], r->extra[e].name);
                if (!seen) {
                    snprintf(ex->name[ex->n], 64, "%s", r->extra[e].name);
                    snprintf(ex->text[ex->n], 64, "%s", r->extra[e].text);
                    ex->n++;
                }
            }
        }
}

static void extra_stat(const run_t *runs, const group_t *g, const char *name, double *mean, double *sd, int *k)
{
    double s = 0, s2 = 0;
    int c = 0;
    double vals[4096];
    for (int j = 0; j < g->n && c < 4096; j++) {
        const run_t *r = &runs[g->members[j]];
        for (int e = 0; e < r->nextra; e++)
            if (!strcmp(r->extra[e].name, name) && !isnan(r->extra[e].v)) {
                vals[c++] = r->extra[e].v;
                s += r->extra[e].v;
            }
    }
    *k = c;
    *mean = c ? s / c : NAN;
    for (int i = 0; i < c; i++) s2 += (vals[i] - *mean) * (vals[i] - *mean);
    *sd = c > 1 ? sqrt(s2 / (c - 1)) : NAN;
}

static void print_extras_text(FILE *out, const run_t *runs, const group_t *g, int ng, const int *colw,
                              int labelw)
{
    extras_t ex;
    collect_extras(runs, g, ng, &ex);
    for (int e = 0; e < ex.n; e++) {
        pad(out, ex.text[e], labelw);
        for (int j = 0; j < ng; j++) {
            double mean, sd;
            int k;
            char buf[96];
            extra_stat(runs, &g[j], ex.name[e], &mean, &sd, &k);
            if (!k) snprintf(buf, sizeof buf, "-");
            else if (k > 1) snprintf(buf, sizeof buf, "%.4g ± %.2g", mean, sd);
            else snprintf(buf, sizeof buf, "%.4g", mean);
            pad(out, buf, j + 1 < ng ? colw[j] : 0);
        }
        fputc('\n', out);
    }
}

static void print_csv(FILE *out, const run_t *runs, const group_t *g, int ng, double target,
                      const diffkeys_t *dk)
{
    extras_t ex;
    collect_extras(runs, g, ng, &ex);
    fputs("label", out);
    for (int d = 0; d < dk->n; d++) fprintf(out, ",%s", dk->key[d]);
    fputs(",runs,seeds,ranks,clients,clients_per_round,target,reached_target_runs", out);
    for (int i = 0; i < M_NMETRICS; i++) fprintf(out, ",%s,%s_sd", metrics[i].csv, metrics[i].csv);
    for (int o = 0; o < HF_OUT_NCODES; o++) fprintf(out, ",outcome_%s", hf_outcome_names[o]);
    for (int e = 0; e < ex.n; e++) fprintf(out, ",%s,%s_sd", ex.name[e], ex.name[e]);
    fputs(",incomplete_runs,duplicate_seeds,files\n", out);
    for (int j = 0; j < ng; j++) {
        char s[4096];
        seeds_list(runs, &g[j], s, sizeof s, " ");
        const run_t *r = &runs[g[j].first];
        csv_str(out, g[j].label);
        if (dk->n) {
            int nv;
            kv_t *v = cfg_kv(r->cfg, &nv);
            for (int d = 0; d < dk->n; d++) {
                fputc(',', out);
                csv_str(out, kv_get(v, nv, dk->key[d]));
            }
            free(v);
        }
        double mean, sd;
        int k, inc = 0, dups = 0;
        group_stat(runs, &g[j], M_T_ROUNDS, &mean, &sd, &k);
        for (int m = 0; m < g[j].n; m++) {
            inc += !runs[g[j].members[m]].complete;
            dups += runs[g[j].members[m]].duplicate_of >= 0;
        }
        fprintf(out, ",%d,%s,%ld,%ld,%ld,%g,%d", g[j].n, s, r->ranks, r->clients, r->per_round, target, k);
        for (int i = 0; i < M_NMETRICS; i++) {
            group_stat(runs, &g[j], i, &mean, &sd, &k);
            csv_num(out, mean);
            csv_num(out, sd);
        }
        for (int o = 0; o < HF_OUT_NCODES; o++) csv_num(out, group_outcome_mean(runs, &g[j], o));
        for (int e = 0; e < ex.n; e++) {
            extra_stat(runs, &g[j], ex.name[e], &mean, &sd, &k);
            csv_num(out, mean);
            csv_num(out, sd);
        }
        fprintf(out, ",%d,%d,\"", inc, dups);  /* files quoted: paths may hold commas */
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

static void print_json(FILE *out, const run_t *runs, int nruns, const group_t *g, int ng, double target,
                       const diffkeys_t *dk, int include_incomplete)
{
    extras_t ex;
    collect_extras(runs, g, ng, &ex);
    fprintf(out, "{\n  \"target\": %g,\n  \"include_incomplete\": %s,\n  \"groups\": [", target,
            include_incomplete ? "true" : "false");
    for (int j = 0; j < ng; j++) {
        const run_t *r = &runs[g[j].first];
        fprintf(out, "%s\n    {\"label\": ", j ? "," : "");
        json_str(out, g[j].label);
        fputs(", \"keys\": {", out);
        int nv;
        kv_t *v = cfg_kv(r->cfg, &nv);
        for (int d = 0; d < dk->n; d++) {
            fprintf(out, "%s", d ? ", " : "");
            json_str(out, dk->key[d]);
            fputs(": ", out);
            json_str(out, kv_get(v, nv, dk->key[d]));
        }
        free(v);
        fprintf(out, "}, \"name\": ");
        json_str(out, r->name);
        fprintf(out, ", \"runs\": %d, \"ranks\": %ld, \"clients\": %ld, \"clients_per_round\": %ld,\n"
                "     \"seeds\": [", g[j].n, r->ranks, r->clients, r->per_round);
        for (int m = 0; m < g[j].n; m++) fprintf(out, "%s%ld", m ? ", " : "", runs[g[j].members[m]].seed);
        fputs("], \"files\": [", out);
        for (int m = 0; m < g[j].n; m++) {
            fputs(m ? ", " : "", out);
            json_str(out, runs[g[j].members[m]].path);
        }
        double mean, sd;
        int k;
        group_stat(runs, &g[j], M_T_ROUNDS, &mean, &sd, &k);
        fprintf(out, "], \"reached_target_runs\": %d,\n     \"metrics\": {", k);
        for (int i = 0; i < M_NMETRICS; i++) {
            group_stat(runs, &g[j], i, &mean, &sd, &k);
            fprintf(out, "%s\"%s\": {\"mean\": ", i ? ", " : "", metrics[i].csv);
            json_num(out, mean);
            fputs(", \"sd\": ", out);
            json_num(out, sd);
            fprintf(out, ", \"n\": %d}", k);
        }
        for (int e = 0; e < ex.n; e++) {
            extra_stat(runs, &g[j], ex.name[e], &mean, &sd, &k);
            if (!k) continue;
            fprintf(out, ", \"%s\": {\"mean\": ", ex.name[e]);
            json_num(out, mean);
            fputs(", \"sd\": ", out);
            json_num(out, sd);
            fprintf(out, ", \"n\": %d}", k);
        }
        fputs("},\n     \"outcomes\": {", out);
        for (int o = 0; o < HF_OUT_NCODES; o++) {
            fprintf(out, "%s\"%s\": ", o ? ", " : "", hf_outcome_names[o]);
            json_num(out, group_outcome_mean(runs, &g[j], o));
        }
        fputs("}}", out);
    }
    fputs("\n  ],\n  \"runs\": [", out);
    for (int i = 0; i < nruns; i++) {
        const run_t *r = &runs[i];
        fprintf(out, "%s\n    {\"file\": ", i ? "," : "");
        json_str(out, r->path);
        fputs(", \"status\": ", out);
        json_str(out, r->status[0] ? r->status : "unknown");
        fprintf(out, ", \"exit_code\": %ld, \"rounds\": %.0f, \"rounds_planned\": %ld, \"complete\": %s, "
                "\"seed\": %ld, \"duplicate_of\": ", r->exit_code, r->m[M_ROUNDS], r->rounds_planned,
                r->complete ? "true" : "false", r->seed);
        if (r->duplicate_of >= 0) json_str(out, runs[r->duplicate_of].path);
        else fputs("null", out);
        fputs("}", out);
    }
    fputs("\n  ]\n}\n", out);
}

/* --rounds: every /rounds row of every run, one CSV line each (long format). */
static int print_rounds(FILE *out, const char **files, const run_t *runs, int nfiles, const group_t *g, int ng)
{
    fputs("file,label,seed,status,round,sim_time_s,wall_time_s,available,selected,completed,dropped,late,"
          "train_loss,test_loss,test_accuracy,bytes_up,bytes_down,energy_j,carbon_g,consensus_distance,"
          "energy_j_measured\n", out);
    for (int i = 0; i < nfiles; i++) {
        const char *label = "";
        for (int j = 0; j < ng; j++)
            for (int m = 0; m < g[j].n; m++) if (g[j].members[m] == i) label = g[j].label;
        hf_h5in_t in;
        int rc = hf_h5in_open(&in, files[i]);
        if (rc) return rc;
        for (long k = 0; k < in.nrounds; k++) {
            const hf_round_rec_t *x = &in.rounds[k];
            csv_str(out, files[i]);
            fputc(',', out);
            csv_str(out, label);
            fprintf(out, ",%ld,%s,%d", runs[i].seed, runs[i].status[0] ? runs[i].status : "unknown", x->round);
            double v[] = {x->sim_time_s, x->wall_time_s, x->available, x->selected, x->completed, x->dropped,
                          x->late, x->train_loss, x->test_loss, x->test_accuracy};
            for (size_t c = 0; c < sizeof v / sizeof *v; c++) csv_num(out, v[c]);
            fprintf(out, ",%llu,%llu", (unsigned long long)x->bytes_up, (unsigned long long)x->bytes_down);
            csv_num(out, x->energy_j);
            csv_num(out, x->carbon_g);
            csv_num(out, x->consensus_distance);
            csv_num(out, x->energy_j_measured);
            fputc('\n', out);
        }
        hf_h5in_close(&in);
    }
    return 0;
}

static const char *report_usage =
    "usage: hetfl report FILE.h5... [--target ACC] [--each] [--include-incomplete] [--csv | --json | --rounds]";

int hf_report_main(int argc, char **argv, FILE *out)
{
    double target = 0.8;
    char tgt[32] = "0.8";
    int csv = 0, json = 0, rounds = 0, each = 0, incl = 0, nfiles = 0;
    const char **files = hf_calloc((size_t)(argc ? argc : 1), sizeof *files);
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "--csv")) csv = 1;
        else if (!strcmp(s, "--json")) json = 1;
        else if (!strcmp(s, "--rounds")) rounds = 1;
        else if (!strcmp(s, "--each")) each = 1;
        else if (!strcmp(s, "--include-incomplete")) incl = 1;
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
            return hf_seterr(HF_EINPUT, "hetfl report: unknown option '%s'\nHINT: %s", s, report_usage);
        } else files[nfiles++] = s;
    }
    if (csv + json + rounds > 1) {
        free(files);
        return hf_seterr(HF_EINPUT, "hetfl report: --csv, --json and --rounds exclude each other");
    }
    if (!nfiles) {
        free(files);
        return hf_seterr(HF_EINPUT, "%s", report_usage);
    }
    run_t *runs = hf_calloc((size_t)nfiles, sizeof *runs);
    int rc = 0;
    for (int i = 0; i < nfiles && !rc; i++) {
        run_t *r = &runs[i];
        rc = run_load(r, files[i], target);
        if (rc) break;
        r->duplicate_of = -1;
        for (int k = 0; k < i; k++)
            if (runs[k].seed == r->seed && !strcmp(runs[k].key, r->key)) { r->duplicate_of = k; break; }
    }
    if (!rc) {
        group_t *g = hf_calloc((size_t)nfiles, sizeof *g);
        int ng = 0, nused = 0, nincomplete = 0;
        for (int i = 0; i < nfiles; i++) {
            nincomplete += !runs[i].complete;
            if (!runs[i].complete && !incl && !rounds) continue;  /* listed, not averaged */
            nused++;
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
        diffkeys_t dk;
        find_diff_keys(runs, g, ng, &dk);
        make_labels(runs, g, ng, &dk);
        /* notes: incomplete runs and duplicate seeds (stderr for the machine formats) */
        FILE *note = csv || json || rounds ? stderr : out;
        for (int i = 0; i < nfiles; i++) {
            const run_t *r = &runs[i];
            if (!r->complete && !rounds) {
                char ec[32] = "";
                if (r->exit_code >= 0) snprintf(ec, sizeof ec, ", exit code %ld", r->exit_code);
                fprintf(note, "%s: %s: incomplete run: status %s, %.0f of %ld rounds%s\n",
                        incl ? "note" : "excluded", r->path, r->status[0] ? r->status : "(none)",
                        r->m[M_ROUNDS], r->rounds_planned, ec);
            }
            if (r->duplicate_of >= 0)
                fprintf(note, "warning: %s and %s: same configuration and seed %ld (duplicate runs; each "
                        "counts in the mean)\n", runs[r->duplicate_of].path, r->path, r->seed);
        }
        if (nincomplete && !incl && !rounds)
            fprintf(note, "%d incomplete run%s left out of the means (--include-incomplete to include %s)\n",
                    nincomplete, nincomplete == 1 ? "" : "s", nincomplete == 1 ? "it" : "them");
        if (nincomplete && note == out && !rounds) fputc('\n', out);
        if (rounds) rc = print_rounds(out, files, runs, nfiles, g, ng);
        else if (nused == 0) fprintf(note, "no complete run to summarise\n");
        else if (csv) print_csv(out, runs, g, ng, target, &dk);
        else if (json) print_json(out, runs, nfiles, g, ng, target, &dk, incl);
        else print_text(out, runs, g, ng, nused, tgt);
        for (int j = 0; j < ng; j++) free(g[j].members);
        free(g);
    }
    for (int i = 0; i < nfiles; i++) {
        free(runs[i].key);
        free(runs[i].cfg);
    }
    free(runs);
    free(files);
    return rc;
}
