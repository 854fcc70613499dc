/*
 * hetfl.c — command line: run, validate, expand, list, help, version, bench,
 * compare, report.  Every command parses its options into a status instead of exiting,
 * so all ranks agree on errors and exit with the same status (docs/ARCHITECTURE.md, "Reliability").
 */
#include "config.h"
#include "hetfl.h"
#include "carbon.h"
#include "strategy.h"
#include "server_opt.h"
#include "bench.h"
#include "conf.h"
#include "expect.h"
#include "data.h"
#include "data_load.h"
#include "fed.h"
#include "hf_util.h"
#include "options.h"
#include "select.h"
#include "placement.h"
#include "provenance.h"
#include <mpi.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_SETS 256

static const char *usage_text =
    "usage: hetfl COMMAND [options]\n"
    "\n"
    "Heterogeneous, volatile, energy-constrained federated training on MPI.\n"
    "Launch with `mpirun -n N hetfl run ...` or `srun hetfl run ...`; without a\n"
    "launcher it runs on one rank.\n"
    "\n"
    "commands:\n"
    "  run SUITE [options]     run one experiment; results go to one HDF5 file\n"
    "  validate SUITE [opts]   parse and check a suite, print the resolved configuration\n"
    "  expand SUITE            list the sweep variants of a suite\n"
    "  list                    registries: strategies, models, data sets, partitions, ...\n"
    "  help keys [--markdown]  reference of every suite key (type, default, range, meaning)\n"
    "  help man                the man page (troff), as installed as hetfl.1\n"
    "  bench [SECTION] [--quick]  performance benchmarks: kernels, round, agg, all\n"
    "  compare A.h5 B.h5 [--ignore-key SECTION.KEY]...\n"
    "                          compare the deterministic content of two results files;\n"
    "                          --ignore-key leaves a suite key out of the /config comparison\n"
    "  report FILE.h5... [--target ACC] [--each] [--include-incomplete] [--csv|--json|--rounds]\n"
    "                          summary table: accuracy; rounds, time, bytes, energy, carbon\n"
    "                          to the target accuracy (default 0.8); participation; mean ± sd\n"
    "                          over complete runs that differ only by seed\n"
    "  carbon import|profile IN OUT [--region R]\n"
    "                          convert an EIA-style hourly file (timestamp,...,avg_CI) into a\n"
    "                          carbon trace, or into a month x hour profile (traces/carbon/)\n"
    "  trace gen|convert|stats ...\n"
    "                          availability traces: generate (markov, diurnal, cyclic,\n"
    "                          sessions; withdraw), import (steps CSV, spot-traces JSON),\n"
    "                          statistics; `hetfl trace` lists the options\n"
    "  reproduce SUITE... [--seeds N] [--jobs J] [--set K=V]... [--out DIR] [--report FILE]\n"
    "                          every variant x seed (a local job pool, or Slurm arrays),\n"
    "                          mean, sd, 95 % CI per variant; the suites' [expect] claims\n"
    "                          checked with t-tests (PASS/FAIL/INCONCLUSIVE); a markdown report\n"
    "  version                 version, source commit, build configuration, libraries\n"
    "\n"
    "run / validate options:\n"
    "  -o, --output FILE       results file (default results/<name>[-v<variant>]-s<seed>.h5)\n"
    "  --set SECTION.KEY=VALUE override a suite key (repeatable)\n"
    "  --variant N             run sweep variant N (0-based; see `hetfl expand`)\n"
    "  --seed S                same as --set run.seed=S\n"
    "  --force                 replace an existing results file\n"
    "  --resume FILE           continue FILE from its last checkpoint (same suite/seed/variant;\n"
    "                          the rank count may differ); results go to FILE\n"
    "  --quiet                 no per-round progress lines (batch logs)\n"
    "\n"
    "SUITE is a path, or a name looked up in the current directory, the directories\n"
    "of HETFL_SUITE_PATH (colon-separated) and the installed suites, e.g. `hetfl run\n"
    "quickstart`.  `hetfl COMMAND --help` describes one command.\n"
    "\n"
    "exit status: 0 success, 1 runtime failure, 2 bad input, 3 stopped by a signal\n";

/* `hetfl COMMAND --help` */
static const struct {
    const char *cmd, *text;
} cmd_help[] = {
    {"run",
     "usage: hetfl run SUITE [options]\n"
     "\n"
     "Run one experiment (one seed, one sweep variant) and write one HDF5 results file.\n"
     "Launch with `mpirun -n N hetfl run ...` or `srun hetfl run ...`.\n"
     "\n"
     "  -o, --output FILE       results file (default results/<name>[-v<variant>]-s<seed>.h5)\n"
     "  --set SECTION.KEY=VALUE override a suite key (repeatable; `hetfl help keys` lists them)\n"
     "  --variant N             run sweep variant N (0-based; see `hetfl expand SUITE`)\n"
     "  --seed S                same as --set run.seed=S\n"
     "  --force                 replace an existing results file\n"
     "  --resume FILE           continue FILE from its last checkpoint (same suite, seed and\n"
     "                          variant; the rank count may differ); results go to FILE\n"
     "  -q, --quiet             no per-round progress lines\n"
     "\n"
     "Progress: on a terminal a bar with an ETA; otherwise (a batch log) one plain line\n"
     "per round.  SIGTERM/SIGUSR1: checkpoint, exit 3 (resume with --resume).\n"
     "The results file records its status (running, completed, stopped, failed) and\n"
     "exit code; see docs/results.md.\n"},
    {"validate",
     "usage: hetfl validate SUITE [--set SECTION.KEY=VALUE]... [--variant N] [--seed S]\n"
     "\n"
     "Parse and check a suite (keys, ranges, data and trace files), print the resolved\n"
     "configuration with where each value came from, and the client placement.\n"},
    {"expand",
     "usage: hetfl expand SUITE [--set SECTION.KEY=VALUE]...\n"
     "\n"
     "List the sweep variants of a suite, one per line: N<TAB>key=value ...\n"
     "(`hetfl run SUITE --variant N` runs one; slurm/sweep.sh submits them all).\n"},
    {"list", "usage: hetfl list\n\nPrint the registries: strategies, server optimizers, "
             "topologies, models,\ndata sets, partitions, selection policies, availability "
             "models, device classes.\n"},
    {"help", "usage: hetfl help keys [--markdown]\n       hetfl help COMMAND\n\nThe reference of every "
             "suite key: type, default, range or choices, meaning; or one command's help.\n"},
    {"bench",
     "usage: hetfl bench [SECTION] [--quick] [--suite FILE] [--resnet-samples N]\n"
     "\n"
     "Performance benchmarks (not part of make check).  SECTION: kernels, round, agg,\n"
     "scale, hdf5, peer, peer-resnet (the ResNet-18 row of peer alone), or all\n"
     "(default).  The MPI sections want 2 ranks:\n"
     "  mpirun -n 2 hetfl bench all\n"
     "  --quick                 fewer repetitions (a smoke test; peer skips its ResNet row)\n"
     "  --suite FILE            the suite of the round/hdf5/peer sections\n"
     "  --resnet-samples N      samples of each of the 10 clients of peer's ResNet-18 row\n"
     "                          (default 32: one minibatch; a CIFAR-10 client of 100 has 500)\n"},
    {"compare",
     "usage: hetfl compare A.h5 B.h5 [--ignore-key SECTION.KEY]...\n"
     "\n"
     "Compare the deterministic content of two results files (/config, /rounds without\n"
     "wall-clock and measured columns, /participation, /model/final, and every other\n"
     "table with a leading round column: /rounds_by_width, /feddf, /privacy, ...,\n"
     "without the columns their descriptions call measured); names every differing\n"
     "suite key.  Exit 0 when equal, 1 when they differ.\n"
     "  --ignore-key K   leave suite key K out of the /config comparison (repeatable);\n"
     "                   a round table only one of the two configurations writes is\n"
     "                   then named but not counted as a difference\n"},
    {"report",
     "usage: hetfl report FILE.h5... [options]\n"
     "\n"
     "Summary table: accuracy; rounds, time, bytes, energy, carbon to the target\n"
     "accuracy; participation.  Runs that differ only by seed are one group (mean ± sd).\n"
     "Runs that did not complete (status not completed, or fewer rounds than\n"
     "federation.rounds) are listed and left out of the means; files with the same\n"
     "configuration and seed are flagged as duplicates.\n"
     "\n"
     "  --target ACC            target accuracy in (0, 1] (default 0.8)\n"
     "  --each                  one column per run (no grouping)\n"
     "  --include-incomplete    include incomplete runs in the means\n"
     "  --csv                   one CSV row per group (with the sweep keys, _sd columns,\n"
     "                          runs, reached_target_runs)\n"
     "  --json                  the same as a JSON document\n"
     "  --rounds                long-format CSV of every round of every run\n"
     "                          (file, label, seed, then the /rounds columns)\n"},
    {"carbon",
     "usage: hetfl carbon import IN OUT [--region R]\n"
     "       hetfl carbon profile IN OUT [--region R]\n"
     "\n"
     "Convert an EIA-style hourly file (timestamp,...,avg_CI) into a carbon trace\n"
     "(timestamp,region,gco2_per_kwh), or into a month x hour profile.  OUT - is stdout.\n"},
    {"reproduce",
     "usage: hetfl reproduce SUITE... [options]\n"
     "\n"
     "Run every sweep variant x seed of each suite, summarise each variant over the\n"
     "seeds (mean, sd, 95 % confidence interval, Student t) and check the suite's\n"
     "[expect] claims: PASS, FAIL or INCONCLUSIVE, with the test (paired t over seeds\n"
     "where both variants have every seed, else Welch), the difference and its 95 % CI,\n"
     "Cohen's d and the one-sided p-value.  The claim syntax: docs/keys.md, [expect].\n"
     "A FAIL or INCONCLUSIVE claim is printed with its measured explanation, the\n"
     "suite's `NAME.why = TEXT` line in [expect], or marked \"no explanation\".\n"
     "\n"
     "  --seeds N               seeds 1..N for every variant (default 5)\n"
     "  --jobs J, -j J          runs at a time, one rank each (default: the cores online)\n"
     "  --set SECTION.KEY=VALUE override a suite key in every run (repeatable)\n"
     "  --out DIR               results: DIR/<suite>/v<V>-s<S>.h5 and .log\n"
     "                          (default results/reproduce)\n"
     "  --report FILE           the markdown report (default DIR/reproduce.md)\n"
     "  --local                 run here even inside a Slurm allocation\n"
     "  --slurm                 one job array per suite through slurm/sweep.sh --wait\n"
     "                          (the default when SLURM_JOB_ID is set); HETFL_SBATCH holds\n"
     "                          extra sbatch options (--account=..., --partition=...);\n"
     "                          every variant is validated first (hetfl validate): a\n"
     "                          suite whose data are absent is \"not run\", not submitted\n"
     "  --force                 run again what DIR already holds (completed results\n"
     "                          there are reused otherwise; the report names the runs\n"
     "                          that another build, by git commit, wrote)\n"
     "  --report-only           run nothing: the report of what DIR holds completed\n"
     "                          (runs not there are counted and left out; a suite with\n"
     "                          none whose first run's log holds an error is \"not run\")\n"
     "\n"
     "A suite whose run exits 2 (bad input found at run time, such as data files that\n"
     "are not on this machine) is reported as not run, with the run's message; its\n"
     "other runs are skipped.\n"
     "\n"
     "Exit status: 0 every run completed (or its suite is not run) and no claim FAILed;\n"
     "1 a run failed or a claim FAILed; 2 bad input (a suite, a claim, an option:\n"
     "nothing is run).\n"},
    {"version", "usage: hetfl version\n\nVersion, source commit and dirty flag, compiler and flags,\n"
                "configure arguments, MPI, HDF5, OpenBLAS and hwloc versions.\n"},
    {NULL, NULL}
};

const char *hf_command_help(const char *cmd)
{
    for (int i = 0; cmd_help[i].cmd; i++)
        if (!strcmp(cmd_help[i].cmd, cmd)) return cmd_help[i].text;
    return usage_text;
}

/* hetfl.1, generated by `make` from this file's help texts and the options
 * table (`hetfl help man`), so it cannot drift from `hetfl help keys`. */
static void man_lines(FILE *out, const char *text)
{
    for (const char *p = text; *p;) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 0) fputs(".sp\n", out);
        else {
            if (*p == '.' || *p == '\'') fputs("\\&", out);
            for (size_t i = 0; i < n; i++) {
                if (p[i] == '\\') fputs("\\e", out);
                else if (p[i] == '-') fputs("\\-", out);
                else fputc(p[i], out);
            }
            fputc('\n', out);
        }
        p += n + (e ? 1 : 0);
    }
}

static void man_print(FILE *out)
{
    fprintf(out, ".TH HETFL 1 \"\" \"hetfl %s\" \"User Commands\"\n", PACKAGE_VERSION);
    fputs(".SH NAME\nhetfl \\- heterogeneous, volatile, energy\\-constrained federated training on MPI\n"
          ".SH SYNOPSIS\n.B mpirun \\-n\n.I N\n.B hetfl run\n.I SUITE\n[options]\n.br\n"
          ".B hetfl\n.I COMMAND\n[options]\n.SH DESCRIPTION\n.nf\n", out);
    man_lines(out, usage_text);
    fputs(".fi\n.SH COMMANDS\n", out);
    for (int i = 0; cmd_help[i].cmd; i++) {
        fputs(".SS ", out);
        man_lines(out, cmd_help[i].cmd);
        fputs(".nf\n", out);
        man_lines(out, cmd_help[i].text);
        fputs(".fi\n", out);
    }
    fputs(".SH SUITE KEYS\nEvery key of a suite file, `section.key`; override any with\n"
          ".B \\-\\-set section.key=value.\n", out);
    hf_options_print(out, 2);
    fprintf(out, ".SH ENVIRONMENT\n.TP\n.B HETFL_SUITE_PATH\nColon\\-separated directories searched "
            "for a suite named without a path (after the current directory, before the installed "
            "suites).\n.SH FILES\n.TP\n.I %s/suites\nThe installed suites (`hetfl run quickstart`).\n"
            ".TP\n.I %s/traces\nCarbon and availability traces the suites use.\n.TP\n.I %s/slurm\n"
            "Slurm templates: one run, a job\\-array sweep, a scaling study, checkpoint/requeue.\n"
            ".SH EXIT STATUS\n0 success, 1 runtime failure, 2 bad input, 3 stopped by a signal after "
            "writing a checkpoint.\n.SH SEE ALSO\nThe results file layout: results.md; every key: "
            "keys.md (both in the installed documentation directory).\n",
            HETFL_DATADIR, HETFL_DATADIR, HETFL_DATADIR);
}

/* SUITE as given when it names a file; otherwise NAME or NAME.conf in the
 * current directory, each directory of HETFL_SUITE_PATH, then the installed
 * suites.  The result goes into buf (the argument itself when nothing matches,
 * so the error names what the user typed). */
const char *hf_suite_find(const char *name, char *buf, size_t n)
{
    struct stat st;
    if (stat(name, &st) == 0 || strchr(name, '/')) return name;
    char dirs[8192];
    const char *env = getenv("HETFL_SUITE_PATH");
    snprintf(dirs, sizeof dirs, ".:%s:%s/suites", env ? env : "", HETFL_DATADIR);
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        for (int ext = 0; ext < 2; ext++) {
            snprintf(buf, n, "%s/%s%s", d, name, ext ? ".conf" : "");
            if (stat(buf, &st) == 0 && S_ISREG(st.st_mode)) return buf;
        }
    }
    return name;
}

/* An HDF5 file given where a suite is expected: say so (the parser would
 * otherwise complain about invalid UTF-8). */
static int not_a_results_file(const char *path, const char *cmd)
{
    unsigned char sig[8] = {0};
    char why[256];
    int fd = hf_input_open_why(path, 0, why, sizeof why);  /* a FIFO: the suite loader says why */
    if (fd < 0) return 0;
    ssize_t r = read(fd, sig, sizeof sig);
    close(fd);
    if (r == 8 && !memcmp(sig, "\211HDF\r\n\032\n", 8))
        return hf_seterr(HF_EINPUT, "hetfl %s: %s is an HDF5 file (a results file?), not a suite\n"
                         "HINT: hetfl report %s summarises a results file; hetfl run --resume %s "
                         "continues a stopped one", cmd, path, path, path);
    return 0;
}

typedef struct {
    const char *suite;
    char suite_buf[4200];       /* suite found on the search path */
    const char *output;
    char *sets[MAX_SETS];
    int nsets;
    int variant;
    int force, quiet;
    const char *resume;         /* --resume FILE */
    char seedset[64];
} hf_cli_t;

static int parse_run_args(int argc, char **argv, hf_cli_t *a, const char *cmd)
{
    memset(a, 0, sizeof *a);
    a->variant = -1;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_ARG() do { if (!next) return hf_seterr(HF_EINPUT, "hetfl %s: option '%s' needs a value", cmd, s); } while (0)
        if (!strcmp(s, "-o") || !strcmp(s, "--output")) {
            NEED_ARG(); a->output = next; i++;
        } else if (!strncmp(s, "--output=", 9)) {
            a->output = s + 9;
        } else if (!strcmp(s, "--set")) {
            NEED_ARG();
            if (a->nsets == MAX_SETS) return hf_seterr(HF_EINPUT, "too many --set options");
            a->sets[a->nsets++] = argv[++i];
        } else if (!strncmp(s, "--set=", 6)) {
            if (a->nsets == MAX_SETS) return hf_seterr(HF_EINPUT, "too many --set options");
            a->sets[a->nsets++] = (char *)s + 6;
        } else if (!strcmp(s, "--variant") || !strncmp(s, "--variant=", 10)) {
            if (s[9] != '=') NEED_ARG();
            const char *v = s[9] == '=' ? s + 10 : argv[++i];
            char *end;
            errno = 0;
            long n = strtol(v, &end, 10);
            if (errno || *end || end == v || n < 0 || n > 1000000000)
                return hf_seterr(HF_EINPUT, "hetfl %s: --variant expects a non-negative integer, got '%s'",
                                 cmd, v);
            a->variant = (int)n;
        } else if (!strcmp(s, "--seed") || !strncmp(s, "--seed=", 7)) {
            if (s[6] != '=') NEED_ARG();
            const char *v = s[6] == '=' ? s + 7 : argv[++i];
            snprintf(a->seedset, sizeof a->seedset, "run.seed=%s", v);
            if (a->nsets == MAX_SETS) return hf_seterr(HF_EINPUT, "too many --set options");
            a->sets[a->nsets++] = a->seedset;
        } else if (!strcmp(s, "--force")) {
            a->force = 1;
        } else if (!strcmp(s, "--resume") || !strncmp(s, "--resume=", 9)) {
            if (s[8] != '=') NEED_ARG();
            a->resume = s[8] == '=' ? s + 9 : argv[++i];
        } else if (!strcmp(s, "--quiet") || !strcmp(s, "-q")) {
            a->quiet = 1;
        } else if (s[0] == '-' && s[1]) {
            return hf_seterr(HF_EINPUT, "hetfl %s: unknown option '%s'\nHINT: hetfl --help lists the options",
                             cmd, s);
        } else if (!a->suite) {
            a->suite = s;
        } else {
            return hf_seterr(HF_EINPUT, "hetfl %s: unexpected argument '%s' (the suite is '%s')", cmd, s,
                             a->suite);
        }
#undef NEED_ARG
    }
    if (!a->suite)
        return hf_seterr(HF_EINPUT, "hetfl %s: missing SUITE\nHINT: e.g. hetfl %s quickstart",
                         cmd, cmd);
    a->suite = hf_suite_find(a->suite, a->suite_buf, sizeof a->suite_buf);
    return not_a_results_file(a->suite, cmd);
}

static char *join_argv(int argc, char **argv)
{
    size_t n = 1;
    for (int i = 0; i < argc; i++) n += strlen(argv[i]) + 3;
    char *s = hf_calloc(n, 1), *p = s;
    for (int i = 0; i < argc; i++) {
        int q = strchr(argv[i], ' ') != NULL;
        p += sprintf(p, "%s%s%s%s", i ? " " : "", q ? "'" : "", argv[i], q ? "'" : "");
    }
    return s;
}

int hf_mkdir_p(const char *dir)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') { *p = 0; mkdir(buf, 0777); *p = '/'; }
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
    return 0;
}

/* Every file the suite names, checked before any work (hetfl validate and
 * hetfl run alike): it exists and is a regular file (hf_util.h: never a FIFO,
 * a device or a directory, which would hang, loop or read as empty).
 * data.path and data.test_path may be directories (Fashion-MNIST, CIFAR), and so
 * may energy.carbon_file (one CSV per region): the loaders check the files in
 * them the same way.  energy.rapl_root is optional (measured energy is NaN
 * without it).  Errors: "ORIGIN: key 'K': PATH: reason", exit 2. */
static int check_inputs(const hf_conf_t *conf, const hf_params_t *p)
{
    if (p->dataset == HF_DS_FMNIST) {  /* the data files exist, without loading them */
        const char *dir = p->data_path[0] ? p->data_path : HF_FMNIST_DEFAULT_DIR;
        char f[4200];
        struct stat st;
        snprintf(f, sizeof f, "%s/train-images-idx3-ubyte.gz", dir);
        if (stat(f, &st) != 0) {
            snprintf(f, sizeof f, "%s/train-images-idx3-ubyte", dir);
            if (stat(f, &st) != 0) snprintf(f, sizeof f, "%s/train-images-idx3-ubyte.gz", dir);
        }
        if (hf_input_check(f, 0)) {
            const char *org = hf_conf_origin(conf, "data.path");
            char m[4096];
            snprintf(m, sizeof m, "%s", hf_errmsg());
            int rc = hf_seterr(HF_EINPUT, "%s: key 'data.path': %s", org ? org : "default", m);
            hf_addhint("install the Debian package dataset-fashion-mnist or set data.path");
            return rc;
        }
    }
    for (const hf_opt_t *op = hf_options_table(); op->key; op++) {
        if (op->type != HF_OPT_PATH || !strcmp(op->key, "energy.rapl_root")) continue;
        if (!strcmp(op->key, "data.path") && p->dataset == HF_DS_FMNIST) continue;  /* above */
        const char *v = hf_conf_get(conf, op->key);
        if (!v || !v[0]) continue;
        int dir_ok = !strcmp(op->key, "data.path") || !strcmp(op->key, "data.test_path") ||
                     !strcmp(op->key, "energy.carbon_file");
        struct stat st;
        char m[4096] = "";
        if (dir_ok && stat(v, &st) == 0 && S_ISDIR(st.st_mode)) {
            if (access(v, R_OK | X_OK) != 0) snprintf(m, sizeof m, "%s: cannot read directory: %s", v, strerror(errno));
        } else if (hf_input_check(v, 0)) {
            if (dir_ok && stat(v, &st) == 0)
                snprintf(m, sizeof m, "%s: not a regular file or a directory (it is %s)", v,
                         hf_file_kind((unsigned)st.st_mode));
            else
                snprintf(m, sizeof m, "%s", hf_errmsg());
        }
        if (m[0]) {
            const char *org = hf_conf_origin(conf, op->key);
            int rc = hf_seterr(HF_EINPUT, "%s: key '%s': %s", org ? org : "default", op->key, m);
            if (!strncmp(op->key, "data.", 5)) hf_data_hint(p->dataset);
            return rc;
        }
    }
    return 0;
}

/* The results path, checked before any work, so a run that could never save
 * its results does not start: not empty, not a directory, not too long for
 * itself and its temporary name (PATH.tmp-PID), nothing but a regular file
 * (a FIFO or a device, even with --force), not an existing file without
 * --force, in an existing, writable
 * directory.  `what` names where the path came from ("-o", "FILE:LINE: key
 * 'run.output'").  Exit 2 with the reason.  hf_h5out_open checks again (the
 * file may appear meanwhile) and the final rename never replaces a file that
 * appeared without --force (h5out.c). */
static int check_output(const char *path, const char *what, int force)
{
    char eb[160];
    snprintf(eb, sizeof eb, "%.120s%s", path, strlen(path) > 120 ? "..." : "");
    if (!path[0]) return hf_seterr(HF_EINPUT, "%s: empty results path\nHINT: give a file name, e.g. -o results/run.h5", what);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(path), blen = strlen(base);
    if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
        return hf_seterr(HF_EINPUT, "%s: '%s' names a directory, not a results file", what, eb);
    if (len + 32 >= 4096)
        return hf_seterr(HF_EINPUT, "%s: results path is too long (%zu bytes; at most %d)", what, len, 4096 - 32);
    if (blen + 24 > 255)  /* NAME_MAX, less room for ".tmp-PID" */
        return hf_seterr(HF_EINPUT, "%s: results file name '%s' is too long (%zu bytes; at most %d, room being "
                         "kept for the temporary name PATH.tmp-PID)", what, eb, blen, 255 - 24);
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return hf_seterr(HF_EINPUT, "%s: '%s' is a directory, not a results file%s", what, eb,
                             force ? " (--force replaces only files)" : "");
        if (!S_ISREG(st.st_mode))  /* a FIFO, a device: not even --force (whose hint would mislead) */
            return hf_seterr(HF_EINPUT, "%s: '%s' is %s, not a results file (--force replaces only regular files)",
                             what, eb, hf_file_kind((unsigned)st.st_mode));
        if (!force)
            return hf_seterr(HF_EINPUT, "%s: results file exists; refusing to overwrite it\n"
                             "HINT: pass --force to replace it, or choose another path with -o", path);
    } else if (errno != ENOENT && errno != ENOTDIR) {
        return hf_seterr(HF_EINPUT, "%s: cannot write results to '%s': %s", what, eb, strerror(errno));
    } else if (lstat(path, &st) == 0) {  /* the name is taken, by a link to nothing */
        return hf_seterr(HF_EINPUT, "%s: '%s' is a dangling symbolic link, not a results file", what, eb);
    }
    char dir[4096];
    if (base == path) snprintf(dir, sizeof dir, ".");
    else if (base == path + 1) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(base - path - 1), path);
    if (stat(dir, &st) != 0)
        return hf_seterr(HF_EINPUT, "%s: cannot write results to '%s': directory '%s': %s%s", what, eb, dir,
                         errno == ENOTDIR ? "a component of it is not a directory" : strerror(errno),
                         errno == ENOENT ? "\nHINT: create it first (mkdir -p)" : "");
    if (!S_ISDIR(st.st_mode))
        return hf_seterr(HF_EINPUT, "%s: cannot write results to '%s': '%s' is %s, not a directory", what, eb, dir,
                         hf_file_kind((unsigned)st.st_mode));
    if (access(dir, W_OK | X_OK) != 0)
        return hf_seterr(HF_EINPUT, "%s: cannot write results to '%s': directory '%s': %s", what, eb, dir,
                         strerror(errno));
    /* a file can really be made there (a read-only file system, /proc, a full
     * disk): the temporary name the results writer will use, made and removed */
    char probe[4200];
    snprintf(probe, sizeof probe, "%s.tmp-%ld", path, (long)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return hf_seterr(HF_EINPUT, "%s: cannot write results to '%s': cannot create a file in directory "
                         "'%s': %s", what, eb, dir, strerror(errno));
    close(fd);
    unlink(probe);
    return 0;
}

/* Load suite + overrides + variant and derive the typed parameters. */
static int load_suite(const hf_cli_t *a, hf_conf_t *conf, hf_params_t *p)
{
    int rc = hf_conf_load(conf, a->suite, hf_options_table(), a->sets, a->nsets, a->variant);
    if (rc) return rc;
    hf_expect_t *ex;
    int nex;
    rc = hf_expect_parse(conf, hf_conf_nvariants(conf), &ex, &nex);  /* [expect]: syntax and variants */
    if (rc) return rc;
    free(ex);
    return hf_params_from_conf(p, conf);
}

static int cmd_run(int argc, char **argv, MPI_Comm comm, FILE *out, int full_argc, char **full_argv)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    hf_cli_t a;
    hf_conf_t conf = {0};
    hf_fed_opts_t o;
    memset(&o, 0, sizeof o);
    int rc = parse_run_args(argc, argv, &a, "run");
    if (!rc) rc = load_suite(&a, &conf, &o.p);
    if (!rc) rc = check_inputs(&conf, &o.p);  /* before any work: data, traces, devices, ... */
    char output[4096] = "";
    if (!rc) {
        char what[4200];
        const char *org = hf_conf_origin(&conf, "run.output");
        if (a.resume) {
            char why[256];
            int fd = hf_input_open_why(a.resume, 0, why, sizeof why);  /* a regular file: never a FIFO */
            unsigned char sig[8] = {0};
            if (fd < 0) {
                rc = hf_seterr(HF_EINPUT, "hetfl run: --resume %s: cannot resume: %s", a.resume,
                               strncmp(why, "cannot open: ", 13) ? why : why + 13);
            } else {
                ssize_t got = read(fd, sig, sizeof sig);
                close(fd);
                if (got != 8 || memcmp(sig, "\211HDF\r\n\032\n", 8))  /* before the data load */
                    rc = hf_seterr(HF_EINPUT, "hetfl run: --resume %s: cannot resume: not an HDF5 results file",
                                   a.resume);
            }
            snprintf(output, sizeof output, "%s", a.resume);
        } else if (a.output) {
            snprintf(what, sizeof what, "hetfl run: -o");
            rc = check_output(a.output, what, a.force);
            snprintf(output, sizeof output, "%s", a.output);
        } else if (o.p.output[0]) {
            snprintf(what, sizeof what, "%s: key 'run.output'", org ? org : "default");
            rc = check_output(o.p.output, what, a.force);
            snprintf(output, sizeof output, "%s", o.p.output);
        } else {
            char v[32] = "";
            if (a.variant >= 0) snprintf(v, sizeof v, "-v%d", a.variant);
            snprintf(output, sizeof output, "results/%s%s-s%llu.h5", o.p.name, v,
                     (unsigned long long)o.p.seed);
            if (rank == 0 && hf_mkdir_p("results") != 0)
                rc = hf_seterr(HF_ERUNTIME, "cannot create directory 'results': %s", strerror(errno));
            int all = rc;  /* rank 0 made the directory: every rank sees it from here */
            MPI_Allreduce(&rc, &all, 1, MPI_INT, MPI_MAX, comm);
            rc = all;
            if (!rc) rc = check_output(output, "hetfl run: results path", a.force);
        }
    }
    if (rc) { hf_conf_free(&conf); return rc; }
    char *cl = join_argv(full_argc, full_argv);
    o.conf = &conf;
    o.suite = a.suite;
    o.variant = a.variant;
    o.command_line = cl;
    o.output = output;
    o.force = a.force;
    o.resume = a.resume;
    o.quiet = a.quiet;
    o.out = out;
    int nranks;
    MPI_Comm_size(comm, &nranks);
    if (rank == 0 && nranks > o.p.clients)  /* ranks beyond the client count only join collectives */
        fprintf(stderr, "hetfl: warning: %d ranks for %d clients: %d rank%s host%s no client and only "
                "take%s part in collectives\nHINT: run with at most %d ranks, or raise federation.clients\n",
                nranks, o.p.clients, nranks - o.p.clients, nranks - o.p.clients == 1 ? "" : "s",
                nranks - o.p.clients == 1 ? "s" : "", nranks - o.p.clients == 1 ? "s" : "", o.p.clients);
    rc = hf_fed_run(&o, comm, NULL);
    if (rank == 0) {  /* status, exit_code and end_time in the results file (provenance.c) */
        char *msg = rc ? hf_strdup(hf_errmsg()) : NULL;
        int frc = hf_prov_finish(output, rc, msg);
        if (rc) hf_seterr(rc, "%s", msg);
        else rc = frc;
        free(msg);
    }
    /* no rank leaves before the results file says how the run ended: under srun
     * --kill-on-bad-exit, the first rank to exit 3 gets the others killed, and rank 0
     * must not be stopped before it has written the status (slurm/hetfl.sbatch reads it) */
    MPI_Barrier(comm);
    free(cl);
    hf_conf_free(&conf);
    return rc;
}

static int cmd_validate(int argc, char **argv, MPI_Comm comm, FILE *out)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    hf_cli_t a;
    hf_conf_t conf = {0};
    hf_params_t p;
    int rc = parse_run_args(argc, argv, &a, "validate");
    if (!rc) rc = load_suite(&a, &conf, &p);
    if (!rc) rc = check_inputs(&conf, &p);  /* data, traces, devices, carbon, topology */
    if (!rc && rank == 0) {
        char *d = hf_conf_dump(&conf, 1);
        fprintf(out, "# %s: valid (%d variant%s)\n", a.suite, hf_conf_nvariants(&conf),
                hf_conf_nvariants(&conf) == 1 ? "" : "s");
        fputs(d, out);
        free(d);
        int nr;
        MPI_Comm_size(comm, &nr);
        hf_devices_print_placement(out, &p.devs, p.seed, p.clients, nr);  /* devices.c */
        fprintf(out, "# this host: %d core%s in this process's cpuset (hwloc)\n", hf_place_host_cores(),
                hf_place_host_cores() == 1 ? "" : "s");
    }
    hf_conf_free(&conf);
    return rc;
}

static int cmd_expand(int argc, char **argv, MPI_Comm comm, FILE *out)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    hf_cli_t a;
    hf_conf_t conf = {0};
    int rc = parse_run_args(argc, argv, &a, "expand");
    if (!rc) rc = hf_conf_load(&conf, a.suite, hf_options_table(), a.sets, a.nsets, -1);
    if (!rc) {
        int n = hf_conf_nvariants(&conf);
        /* each variant must itself be valid */
        for (int v = 0; v < n && !rc; v++) {
            hf_conf_t cv = {0};
            hf_params_t p;
            rc = hf_conf_load(&cv, a.suite, hf_options_table(), a.sets, a.nsets, conf.nsweep ? v : -1);
            if (!rc) rc = hf_params_from_conf(&p, &cv);
            if (!rc && rank == 0) {
                char d[2048];
                hf_conf_variant_desc(&conf, v, d, sizeof d);
                fprintf(out, "%d\t%s\n", v, d[0] ? d : "(no sweep)");
            }
            hf_conf_free(&cv);
        }
    }
    hf_conf_free(&conf);
    return rc;
}

static void cmd_list(FILE *out)
{
    fprintf(out, "strategies:\n");
    hf_strategy_list(out);  /* the registry, strategies/registry.c */
    fprintf(out, "server optimizers ([server] optimizer):\n  %s\n", hf_server_opt_names("  "));
    fprintf(out, "decentralized topologies ([topology] kind, federation.mode = decentralized):\n"
                 "  ring  torus  erdos-renyi  complete  star  file\n");
    fprintf(out, "models:\n  logreg      multinomial logistic regression\n"
                 "  mlp         ReLU MLP, widths model.hidden (2NN = 200,200: 199,210 params on 784 inputs)\n"
                 "  cnn         McMahan CNN: conv5x5x32-pool-conv5x5x64-pool-fc512 (1,663,370 params)\n"
                 "  lstm        LEAF Shakespeare char-LSTM: embedding 8, LSTM 256-256 (model.hidden), fc on the last "
                 "step (817,872 params on 80 symbols); text data sets\n"
                 "  resnet      HeteroFL's pre-activation ResNet, stages 64-128-256-512, model.depth 10|18, "
                 "model.norm none|group|static-bn (ResNet-18 on CIFAR: 11,164,362 params, 11,172,170 with a norm)\n");
    fprintf(out, "data sets:\n");
    for (const hf_dsinfo_t *ds = hf_datasets; ds->name; ds++)  /* the registry, data_load.c */
        fprintf(out, "  %-13s  %s\n", ds->name, ds->doc);
    fprintf(out, "partitions:\n  iid  shards  dirichlet  natural\n");
    fprintf(out, "selection policies ([selection] policy):\n");
    hf_select_list(out);  /* the registry, select.c */
    fprintf(out, "availability models ([availability] model):\n");
    for (const hf_avmodel_info_t *am = hf_avail_models; am->name; am++)
        fprintf(out, "  %-10s  %s\n", am->name, am->doc);
    fprintf(out, "aggregation topologies:\n  rank0       updates travel to rank 0, which sums them\n"
                 "  allreduce   partial sums reduced with MPI_Allreduce\n");
    hf_devclass_print_library(out);  /* devices.c */
}

int hetfl_run(int argc, char **argv, MPI_Comm comm, FILE *out)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    hf_clearerr();
    int rc = 0;
    const char *cmd = argc > 1 ? argv[1] : NULL;
    if (!cmd || !strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        if (cmd && !strcmp(cmd, "help") && argc > 2 && !strcmp(argv[2], "man")) {
            if (rank == 0) man_print(out);
            return 0;
        }
        if (cmd && !strcmp(cmd, "help") && argc > 2 && !strcmp(argv[2], "keys")) {
            if (rank == 0) hf_options_print(out, argc > 3 && !strcmp(argv[3], "--markdown"));
            return 0;
        }
        if (cmd && !strcmp(cmd, "help") && argc > 2) {  /* hetfl help COMMAND */
            if (rank == 0) {
                if (!strcmp(argv[2], "trace")) hf_trace_help(out, NULL);
                else fputs(hf_command_help(argv[2]), out);
            }
            return 0;
        }
        if (rank == 0) fputs(usage_text, cmd ? out : stderr);
        return cmd ? 0 : HF_EINPUT;
    }
    int sub_help = 0;
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) sub_help = 1;
    if (sub_help) {  /* help on one command; the global usage for an unknown one */
        if (rank == 0) {
            if (!strcmp(cmd, "trace")) hf_trace_help(out, argc > 2 ? argv[2] : NULL);
            else {
                fputs(hf_command_help(cmd), out);
            }
        }
        return 0;
    }
    if (!strcmp(cmd, "run")) rc = cmd_run(argc - 2, argv + 2, comm, out, argc, argv);
    else if (!strcmp(cmd, "validate")) rc = cmd_validate(argc - 2, argv + 2, comm, out);
    else if (!strcmp(cmd, "expand")) rc = cmd_expand(argc - 2, argv + 2, comm, out);
    else if (!strcmp(cmd, "list")) { if (rank == 0) cmd_list(out); }
    else if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        if (rank == 0) hf_version_print(out);  /* provenance.c */
    } else if (!strcmp(cmd, "bench")) rc = hf_bench_main(argc - 2, argv + 2, comm, out);
    else if (!strcmp(cmd, "report")) {
        rc = rank == 0 ? hf_report_main(argc - 2, argv + 2, out) : 0;
        MPI_Bcast(&rc, 1, MPI_INT, 0, comm);
    } else if (!strcmp(cmd, "reproduce")) {  /* main() runs it without MPI; here for in-process use */
        rc = rank == 0 ? hf_reproduce_main(argc - 2, argv + 2, out) : 0;
        MPI_Bcast(&rc, 1, MPI_INT, 0, comm);
    } else if (!strcmp(cmd, "carbon")) {
        rc = rank == 0 ? hf_carbon_main(argc - 2, argv + 2, out) : 0;
        MPI_Bcast(&rc, 1, MPI_INT, 0, comm);
    } else if (!strcmp(cmd, "trace")) {
        rc = rank == 0 ? hf_trace_main(argc - 2, argv + 2, out) : 0;
        MPI_Bcast(&rc, 1, MPI_INT, 0, comm);
    } else if (!strcmp(cmd, "compare")) {
        rc = rank == 0 ? hf_compare_main(argc - 2, argv + 2, out) : 0;
        MPI_Bcast(&rc, 1, MPI_INT, 0, comm);
        return rc;
    } else {
        const char *cands[] = {"run", "validate", "expand", "list", "help", "bench", "compare", "report", "carbon", "trace", "reproduce", "version"};
        const char *best = NULL;
        int bd = 3;
        for (size_t i = 0; i < sizeof cands / sizeof *cands; i++) {
            int d = hf_edit_distance(cmd, cands[i]);
            if (d < bd) { bd = d; best = cands[i]; }
        }
        rc = hf_seterr(HF_EINPUT, "hetfl: unknown command '%s'%s%s%s\nHINT: hetfl --help lists the commands",
                       cmd, best ? " (did you mean '" : "", best ? best : "", best ? "'?)" : "");
    }
    if (rc && rank == 0) {
        const char *m = hf_errmsg();
        fprintf(stderr, "%s%s\n", strncmp(m, "hetfl", 5) ? "hetfl: " : "", m);
    }
    return rc;
}
