/*
 * trace_cli.c — `hetfl trace SUBCOMMAND ...`: make, import and inspect traces.
 *
 *   hetfl trace gen --model M [--clients N] [--seed S] [model options] -o FILE
 *   hetfl trace convert --from steps|spot-json|trace IN [options] -o FILE
 *   hetfl trace stats FILE [--clients N] [--horizon S]
 *
 * The subcommands form a table (trace_cmds[]): a new kind of trace (carbon,
 * ...) adds a row and a function, nothing else.  Model options are a table
 * too (gen_opts[]), one row per field of hf_avail_spec_t, named like the
 * [availability] suite keys.  Runs on rank 0 only (hetfl.c broadcasts the status).
 */
#include "hetfl.h"
#include "avail.h"
#include "hf_util.h"
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    const char *usage;
    int (*fn)(int argc, char **argv, FILE *out);
} hf_trace_cmd_t;

/* numeric model options of `trace gen` (field offsets into hf_avail_spec_t) */
typedef struct {
    const char *name;
    size_t off;
    int is_int;
    const char *doc;
} gen_opt_t;

static const gen_opt_t gen_opts[] = {
    {"horizon_s", offsetof(hf_avail_spec_t, horizon_s), 0, "length of the generated pattern, s"},
    {"slot_s", offsetof(hf_avail_spec_t, slot_s), 0, "markov: seconds per step"},
    {"pi", offsetof(hf_avail_spec_t, pi), 0, "markov: stationary availability"},
    {"lambda", offsetof(hf_avail_spec_t, lambda), 0, "markov: correlation"},
    {"cafed_a", offsetof(hf_avail_spec_t, cafed_a), 0, "markov mix cafed: availability parameter"},
    {"cafed_s", offsetof(hf_avail_spec_t, cafed_s), 0, "markov mix cafed: stability parameter"},
    {"on_hours", offsetof(hf_avail_spec_t, on_hours), 0, "diurnal: hours online a day"},
    {"start_hour", offsetof(hf_avail_spec_t, start_hour), 0, "diurnal: local start hour"},
    {"jitter_h", offsetof(hf_avail_spec_t, jitter_h), 0, "diurnal: sd of the daily start, h"},
    {"tz_spread_h", offsetof(hf_avail_spec_t, tz_spread_h), 0, "diurnal: time zones spread, h"},
    {"groups", offsetof(hf_avail_spec_t, groups), 1, "cyclic: number of groups"},
    {"cycle_s", offsetof(hf_avail_spec_t, cycle_s), 0, "cyclic: cycle length, s"},
    {"on_mean_s", offsetof(hf_avail_spec_t, on_mean_s), 0, "sessions: mean online duration"},
    {"off_mean_s", offsetof(hf_avail_spec_t, off_mean_s), 0, "sessions: mean offline duration"},
    {"shape", offsetof(hf_avail_spec_t, shape), 0, "sessions: Weibull shape / lognormal sigma"},
    {"withdraw_fraction", offsetof(hf_avail_spec_t, withdraw_fraction), 0, "fraction leaving"},
    {"withdraw_at_s", offsetof(hf_avail_spec_t, withdraw_at_s), 0, "when they leave, s"},
    {NULL, 0, 0, NULL}
};

static int parse_num(const char *opt, const char *v, double *out)
{
    char *end;
    double x = v ? strtod(v, &end) : NAN;
    if (!v || end == v || *end || !isfinite(x))
        return hf_seterr(HF_EINPUT, "hetfl trace: option %s needs a finite number, got '%s'", opt,
                         v ? v : "(nothing)");
    *out = x;
    return 0;
}

static int open_out(const char *path, FILE **f)
{
    if (!path || !strcmp(path, "-")) { *f = stdout; return 0; }
    *f = fopen(path, "w");
    if (!*f) return hf_seterr(HF_EINPUT, "%s: cannot write", path);
    return 0;
}

static int write_trace(const hf_avail_t *av, const char *path, double horizon, FILE *log)
{
    FILE *f;
    int rc = open_out(path, &f);
    if (rc) return rc;
    if (av->leave_s && av->period_s > 0) {  /* withdrawals: unroll the pattern over the horizon */
        hf_avail_t u;
        hf_avail_unroll(av, horizon, &u);
        rc = hf_avail_write(&u, f);
        hf_avail_free(&u);
    } else rc = hf_avail_write(av, f);
    if (f != stdout) fclose(f);
    if (!rc && path && strcmp(path, "-"))
        fprintf(log, "wrote %s: %d clients, %ld intervals\n", path, av->nclients, av->nint);
    return rc;
}

static int cmd_gen(int argc, char **argv, FILE *out)
{
    hf_avail_spec_t s;
    hf_avail_spec_defaults(&s);
    s.model = HF_AV_MARKOV;
    s.nclients = 100;
    s.seed = 1;
    const char *output = NULL;
    int rc = 0;
    for (int i = 0; i < argc && !rc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        double x;
        if (!strcmp(a, "-o") || !strcmp(a, "--output")) { output = v; i++; }
        else if (!strcmp(a, "--model")) {
            if (!v || hf_avail_model_from_name(v, &s.model) || s.model == HF_AV_TRACE)
                rc = hf_seterr(HF_EINPUT, "hetfl trace gen: --model markov|diurnal|cyclic|sessions|always, "
                               "got '%s'", v ? v : "");
            i++;
        } else if (!strcmp(a, "--mix")) {
            if (!v || (strcmp(v, "uniform") && strcmp(v, "cafed")))
                rc = hf_seterr(HF_EINPUT, "hetfl trace gen: --mix uniform|cafed");
            else s.mix_cafed = !strcmp(v, "cafed");
            i++;
        } else if (!strcmp(a, "--session-dist")) {
            if (!v || (strcmp(v, "weibull") && strcmp(v, "lognormal")))
                rc = hf_seterr(HF_EINPUT, "hetfl trace gen: --session-dist weibull|lognormal");
            else s.lognormal = !strcmp(v, "lognormal");
            i++;
        } else if (!strcmp(a, "--clients") || !strcmp(a, "--seed")) {
            if (!(rc = parse_num(a, v, &x))) {
                if (x < 1 || x != floor(x) || x > 1e8)
                    rc = hf_seterr(HF_EINPUT, "hetfl trace gen: %s needs a positive integer", a);
                else if (a[2] == 'c') s.nclients = (int)x;
                else s.seed = (uint64_t)x;
            }
            i++;
        } else if (!strncmp(a, "--", 2)) {
            const gen_opt_t *o = gen_opts;
            char name[64];
            snprintf(name, sizeof name, "%s", a + 2);
            for (char *p = name; *p; p++) if (*p == '-') *p = '_';
            while (o->name && strcmp(o->name, name)) o++;
            if (!o->name) {
                rc = hf_seterr(HF_EINPUT, "hetfl trace gen: unknown option '%s'", a);
                break;
            }
            if (!(rc = parse_num(a, v, &x))) {
                if (o->is_int) *(int *)((char *)&s + o->off) = (int)x;
                else *(double *)((char *)&s + o->off) = x;
            }
            i++;
        } else rc = hf_seterr(HF_EINPUT, "hetfl trace gen: unexpected argument '%s'", a);
    }
    if (!rc && !output) rc = hf_seterr(HF_EINPUT, "hetfl trace gen: -o FILE is required");
    if (!rc && (!(s.horizon_s > 0) || !(s.slot_s > 0) || !(s.cycle_s > 0) || s.groups < 1 ||
                s.pi < 0 || s.pi > 1 || s.withdraw_fraction < 0 || s.withdraw_fraction > 1 ||
                !(s.on_mean_s > 0) || !(s.off_mean_s > 0) || !(s.shape > 0)))
        rc = hf_seterr(HF_EINPUT, "hetfl trace gen: out-of-range model option (horizon, slot, cycle, "
                       "means, shape > 0; groups >= 1; pi, withdraw_fraction in [0,1])");
    if (!rc && s.model == HF_AV_MARKOV && !s.mix_cafed &&
        s.lambda < HF_MAX(1 - 1 / s.pi, 1 - 1 / (1 - s.pi)))
        rc = hf_seterr(HF_EINPUT, "hetfl trace gen: --lambda %g gives invalid transition "
                       "probabilities for --pi %g", s.lambda, s.pi);
    if (rc) return rc;
    hf_avail_t av;
    rc = hf_avail_generate(&av, &s);
    if (!rc) rc = write_trace(&av, output, s.horizon_s, out);
    hf_avail_free(&av);
    return rc;
}

static int cmd_convert(int argc, char **argv, FILE *out)
{
    const char *from = NULL, *in = NULL, *output = NULL;
    double unit = 1.0, x, horizon = 0;
    int clients = 0, shuffle = 0, counts = 0, rc = 0;
    uint64_t seed = 1;
    for (int i = 0; i < argc && !rc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-o") || !strcmp(a, "--output")) { output = v; i++; }
        else if (!strcmp(a, "--from")) { from = v; i++; }
        else if (!strcmp(a, "--shuffle")) shuffle = 1;
        else if (!strcmp(a, "--counts")) counts = 1;
        else if (!strcmp(a, "--time-unit")) {
            if (v && !strcmp(v, "s")) unit = 1;
            else if (v && !strcmp(v, "min")) unit = 60;
            else if (v && !strcmp(v, "h")) unit = 3600;
            else if (v && !strcmp(v, "d")) unit = 86400;
            else if (!(rc = parse_num(a, v, &unit)) && !(unit > 0))
                rc = hf_seterr(HF_EINPUT, "hetfl trace convert: --time-unit s|min|h|d or seconds > 0");
            i++;
        } else if (!strcmp(a, "--clients") || !strcmp(a, "--seed") || !strcmp(a, "--horizon")) {
            if (!(rc = parse_num(a, v, &x))) {
                if (x < 0 || (a[2] != 'h' && x != floor(x)))
                    rc = hf_seterr(HF_EINPUT, "hetfl trace convert: %s must be a non-negative %s", a,
                                   a[2] == 'h' ? "number" : "integer");
                else if (a[2] == 'c') clients = (int)x;
                else if (a[2] == 's') seed = (uint64_t)x;
                else horizon = x;
            }
            i++;
        } else if (a[0] != '-' && !in) in = a;
        else rc = hf_seterr(HF_EINPUT, "hetfl trace convert: unexpected argument '%s'", a);
    }
    if (!rc && (!from || !in || !output))
        rc = hf_seterr(HF_EINPUT, "hetfl trace convert: needs --from steps|spot-json|trace, an input "
                       "file and -o FILE");
    if (rc) return rc;
    hf_avail_t av;
    if (!strcmp(from, "steps")) rc = hf_avail_import_steps(&av, in, unit, clients, shuffle, seed);
    else if (!strcmp(from, "spot-json")) rc = hf_avail_import_spot_json(&av, in, counts, clients, shuffle, seed);
    else if (!strcmp(from, "trace")) rc = hf_avail_load(&av, in, clients);
    else return hf_seterr(HF_EINPUT, "hetfl trace convert: --from steps|spot-json|trace, got '%s'", from);
    if (rc) return rc;
    rc = write_trace(&av, output, horizon > 0 ? horizon : av.period_s, out);
    hf_avail_free(&av);
    return rc;
}

static int cmd_stats(int argc, char **argv, FILE *out)
{
    const char *in = NULL;
    double horizon = 0, x;
    int clients = 0, rc = 0;
    for (int i = 0; i < argc && !rc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--clients") || !strcmp(a, "--horizon")) {
            if (!(rc = parse_num(a, v, &x))) {
                if (x < 0) rc = hf_seterr(HF_EINPUT, "hetfl trace stats: %s must be >= 0", a);
                else if (a[2] == 'c') clients = (int)x;
                else horizon = x;
            }
            i++;
        } else if (a[0] != '-' && !in) in = a;
        else rc = hf_seterr(HF_EINPUT, "hetfl trace stats: unexpected argument '%s'", a);
    }
    if (!rc && !in) rc = hf_seterr(HF_EINPUT, "hetfl trace stats: needs a trace file");
    if (rc) return rc;
    hf_avail_t av;
    rc = hf_avail_load(&av, in, clients);
    if (rc) return rc;
    fprintf(out, "trace               %s\n", in);
    hf_avail_stats(&av, horizon, out);
    hf_avail_free(&av);
    return 0;
}

static const hf_trace_cmd_t trace_cmds[] = {
    {"gen", "gen --model markov|diurnal|cyclic|sessions|always [--clients N] [--seed S]\n"
            "      [--mix uniform|cafed] [--session-dist weibull|lognormal] [--KEY V]... -o FILE\n"
            "      (KEY: the [availability] keys, e.g. --pi 0.3 --lambda 0.5 --slot-s 60)", cmd_gen},
    {"convert", "convert --from steps|spot-json|trace IN [--time-unit s|min|h|d|SECONDS]\n"
                "      [--clients N] [--shuffle] [--seed S] [--counts] [--horizon S] -o FILE",
     cmd_convert},
    {"stats", "stats FILE [--clients N] [--horizon S]", cmd_stats},
    {NULL, NULL, NULL}
};

void hf_trace_help(FILE *out, const char *sub)
{
    const hf_trace_cmd_t *one = NULL;
    for (const hf_trace_cmd_t *c = trace_cmds; sub && c->name; c++)
        if (!strcmp(c->name, sub)) one = c;
    if (!one) {
        fprintf(out, "usage: hetfl trace SUBCOMMAND ...  (availability traces: CSV client,start_s,end_s)\n");
        for (const hf_trace_cmd_t *c = trace_cmds; c->name; c++) fprintf(out, "  hetfl trace %s\n", c->usage);
        fprintf(out, "`hetfl trace SUBCOMMAND --help` describes one.\n");
        return;
    }
    fprintf(out, "usage: hetfl trace %s\n", one->usage);
    if (!strcmp(one->name, "gen")) {
        fprintf(out, "\nmodel parameters (--KEY V; '_' or '-' alike):\n");
        for (const gen_opt_t *g = gen_opts; g->name; g++)
            fprintf(out, "  --%-20s %s%s\n", g->name, g->doc, g->is_int ? " (integer)" : "");
    } else if (!strcmp(one->name, "convert")) {
        fprintf(out, "\nImport a real availability record: steps (CSV of online counts or 0/1 per\n"
                     "time step), spot-json (spot-instance traces), or trace (re-map a hetfl trace).\n");
    } else {
        fprintf(out, "\nPrint statistics of a trace: online fraction, session lengths, churn.\n");
    }
}

int hf_trace_main(int argc, char **argv, FILE *out)
{
    const char *sub = argc > 0 ? argv[0] : NULL;
    for (const hf_trace_cmd_t *c = trace_cmds; sub && c->name; c++)
        if (!strcmp(c->name, sub)) return c->fn(argc - 1, argv + 1, out);
    char msg[2048];
    size_t n = (size_t)snprintf(msg, sizeof msg, "hetfl trace: %s '%s'; subcommands:",
                                sub ? "unknown subcommand" : "missing subcommand", sub ? sub : "");
    for (const hf_trace_cmd_t *c = trace_cmds; c->name && n < sizeof msg; c++)
        n += (size_t)snprintf(msg + n, sizeof msg - n, "\n  hetfl trace %s", c->usage);
    return hf_seterr(HF_EINPUT, "%s", msg);
}
