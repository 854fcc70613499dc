/*
 * reproduce.c — `hetfl reproduce SUITE... [--seeds N] [--jobs J] [--set K=V]...
 * [--out DIR] [--report FILE]`: every sweep variant × seed of each suite, run
 * locally by a pool of J single-rank `hetfl run` processes (results do not
 * depend on the rank count) or, inside a Slurm allocation, as one job array per
 * suite through slurm/sweep.sh; then the figures of `hetfl report` per variant
 * (mean, sd, 95 % CI over seeds), each [expect] claim checked with a t-test
 * (expect.h), and a markdown report (the format of docs/reproduce.md).
 *
 * Results: DIR/<suite>/v<V>-s<S>.h5 (+ .log, the run's output).  A completed
 * file already there is reused (--force runs it again), so an interrupted
 * reproduce continues where it stopped; the report names the runs a build
 * other than its own wrote (the files' git_commit / git_dirty attributes).  A
 * run that exits 2 (bad input found at run time: its data files are not on
 * this machine) makes its suite "not run": its other runs are skipped and the
 * report gives the run's message instead of figures (with --slurm, `hetfl
 * validate` of every variant before submitting finds it: no job array).  Each
 * FAIL or INCONCLUSIVE claim is printed with its explanation (the suite's
 * NAME.why, expect.h) or marked without one.  Runs without MPI: main.c calls it
 * before MPI_Init, so the child processes start clean (an MPI singleton's
 * environment would make them join its job).
 * Exit: 0 every run completed (or its suite is "not run") and no claim FAILed;
 * 1 a run failed or a claim FAILed; 2 bad input (nothing run).
 */
#include "config.h"
#include "conf.h"
#include "expect.h"
#include "hetfl.h"
#include "hf_util.h"
#include "options.h"
#include "provenance.h"
#include "report.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RP_MAX_SETS 256
#define RP_MAX_SUITES 64
#define RP_MAX_SEEDS 1000

typedef struct {
    const char *arg;            /* as given */
    char path[4200];            /* as found on the search path */
    char name[128];             /* file name without .conf */
    char dir[4400];             /* OUT/name */
    int nvariants, sweep;       /* sweep: the suite has a [sweep] (runs get --variant) */
    char (*desc)[256];          /* per variant: "key=value ..." */
    hf_expect_t *ex;
    int nex;
    char notrun[1024];          /* a run exited 2: its message (the suite is not run) */
    int pending;                /* --report-only: no completed run there yet */
} rp_suite_t;

typedef struct {
    int nseeds, jobs, force, mode;  /* mode: 0 auto, 1 local, 2 slurm */
    int report_only;                /* --report-only: run nothing, report what DIR holds */
    char *sets[RP_MAX_SETS];
    int nsets;
    const char *out, *report, *hetfl;
    char report_buf[4400], hetfl_buf[4096];
    rp_suite_t s[RP_MAX_SUITES];
    int ns;
} rp_t;

typedef struct {
    int suite, variant, seed;
    char out[4600];
    pid_t pid;
    double t0;
    int state;                      /* 0 waiting, 1 running, 2 done */
    int rc;                         /* exit status (-1: killed by a signal) */
} rp_job_t;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static const char *rp_usage =
    "usage: hetfl reproduce SUITE... [--seeds N] [--jobs J] [--set SECTION.KEY=VALUE]... [--out DIR]\n"
    "                       [--report FILE] [--local | --slurm] [--force | --report-only]";

static int parse_int_opt(const char *opt, const char *v, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long n = v ? strtol(v, &end, 10) : 0;
    if (!v || errno || end == v || *end || n < lo || n > hi)
        return hf_seterr(HF_EINPUT, "hetfl reproduce: %s expects an integer in [%ld, %ld], got '%s'", opt, lo, hi,
                         v ? v : "");
    *out = n;
    return 0;
}

static int rp_parse_args(int argc, char **argv, rp_t *r)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    r->nseeds = 5;
    r->jobs = cores > 0 ? (int)cores : 1;
    r->out = "results/reproduce";
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        if (!strcmp(s, "--seeds")) {
            if (parse_int_opt("--seeds", next, 1, RP_MAX_SEEDS, &n)) return HF_EINPUT;
            r->nseeds = (int)n;
            i++;
        } else if (!strcmp(s, "--jobs") || !strcmp(s, "-j")) {
            if (parse_int_opt("--jobs", next, 1, 4096, &n)) return HF_EINPUT;
            r->jobs = (int)n;
            i++;
        } else if (!strcmp(s, "--set")) {
            if (!next) return hf_seterr(HF_EINPUT, "hetfl reproduce: --set needs SECTION.KEY=VALUE");
            if (r->nsets == RP_MAX_SETS) return hf_seterr(HF_EINPUT, "hetfl reproduce: too many --set options");
            r->sets[r->nsets++] = argv[++i];
        } else if (!strcmp(s, "--out") || !strcmp(s, "--report")) {
            if (!next || !*next) return hf_seterr(HF_EINPUT, "hetfl reproduce: %s needs a path", s);
            if (s[2] == 'o') r->out = next;
            else r->report = next;
            i++;
        } else if (!strcmp(s, "--local")) r->mode = 1;
        else if (!strcmp(s, "--slurm")) r->mode = 2;
        else if (!strcmp(s, "--force")) r->force = 1;
        else if (!strcmp(s, "--report-only")) r->report_only = 1;
        else if (s[0] == '-' && s[1]) {
            return hf_seterr(HF_EINPUT, "hetfl reproduce: unknown option '%s'\nHINT: %s", s, rp_usage);
        } else {
            if (r->ns == RP_MAX_SUITES) return hf_seterr(HF_EINPUT, "hetfl reproduce: more than %d suites",
                                                         RP_MAX_SUITES);
            r->s[r->ns++].arg = s;
        }
    }
    if (!r->ns) return hf_seterr(HF_EINPUT, "%s", rp_usage);
    if (r->force && r->report_only)
        return hf_seterr(HF_EINPUT, "hetfl reproduce: --force and --report-only exclude each other");
    if (!r->report) {
        snprintf(r->report_buf, sizeof r->report_buf, "%s/reproduce.md", r->out);
        r->report = r->report_buf;
    }
    return 0;
}

/* Load a suite, every variant (each must be valid), and its [expect] claims. */
static int rp_load_suite(rp_t *r, rp_suite_t *s)
{
    snprintf(s->path, sizeof s->path, "%s", hf_suite_find(s->arg, s->path, sizeof s->path));
    const char *b = strrchr(s->path, '/');
    snprintf(s->name, sizeof s->name, "%.127s", b ? b + 1 : s->path);
    size_t l = strlen(s->name);
    if (l > 5 && !strcmp(s->name + l - 5, ".conf")) s->name[l - 5] = 0;
    for (int i = 0; i < r->ns && &r->s[i] != s; i++)
        if (!strcmp(r->s[i].name, s->name))
            return hf_seterr(HF_EINPUT, "hetfl reproduce: two suites named '%s' (%s and %s): their results "
                             "would share %s/%s", s->name, r->s[i].path, s->path, r->out, s->name);
    snprintf(s->dir, sizeof s->dir, "%s/%s", r->out, s->name);
    hf_conf_t c = {0};
    int rc = hf_conf_load(&c, s->path, hf_options_table(), r->sets, r->nsets, -1);
    if (rc) return rc;
    s->nvariants = hf_conf_nvariants(&c);
    s->sweep = c.nsweep > 0;
    s->desc = hf_calloc((size_t)s->nvariants, sizeof *s->desc);
    for (int v = 0; v < s->nvariants && !rc; v++) {
        hf_conf_t cv = {0};
        hf_params_t p;
        rc = hf_conf_load(&cv, s->path, hf_options_table(), r->sets, r->nsets, s->sweep ? v : -1);
        if (!rc) rc = hf_params_from_conf(&p, &cv);
        hf_conf_variant_desc(&c, v, s->desc[v], sizeof s->desc[v]);
        hf_conf_free(&cv);
    }
    if (!rc) rc = hf_expect_parse(&c, s->nvariants, &s->ex, &s->nex);
    hf_conf_free(&c);
    return rc;
}

/* Start one child: argv, stdout and stderr to `log` (NULL: inherited), extra
 * environment "NAME=VALUE" (NULL-terminated). */
static pid_t rp_spawn(char *const *args, const char *log, char *const *env)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid != 0) return pid;
    prctl(PR_SET_PDEATHSIG, SIGTERM);  /* reproduce killed: its runs stop too (checkpoint, exit 3) */
    if (log) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) { dup2(fd, 1); dup2(fd, 2); }
    }
    for (int i = 0; env && env[i]; i++) putenv(env[i]);
    execv(args[0], args);
    fprintf(stderr, "hetfl reproduce: cannot run %s: %s\n", args[0], strerror(errno));
    _exit(127);
}

/* Wait for any of the running jobs (polling their pids only: never reaps a
 * child that is not ours).  Returns the index of the job that ended. */
static int rp_wait_any(rp_job_t *j, int n)
{
    for (;;) {
        for (int i = 0; i < n; i++) {
            if (j[i].state != 1) continue;
            int st;
            pid_t p = waitpid(j[i].pid, &st, WNOHANG);
            if (p == j[i].pid || (p < 0 && errno == ECHILD)) {
                j[i].state = 2;
                j[i].rc = p < 0 ? 1 : WIFEXITED(st) ? WEXITSTATUS(st) : -1;
                return i;
            }
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* A results file there already, completed: reused (unless --force). */
static int rp_completed(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
    hf_report_info_t info;
    double v;
    const char *name = "rounds";
    if (hf_report_values(path, 0.5, &name, 1, &v, &info)) { hf_clearerr(); return 0; }
    return info.complete;
}

static void rp_job_args(const rp_t *r, const rp_job_t *j, char **a, char *vbuf, char *sbuf)
{
    const rp_suite_t *s = &r->s[j->suite];
    int k = 0;
    a[k++] = (char *)r->hetfl;
    a[k++] = "run";
    a[k++] = (char *)s->path;
    if (s->sweep) {
        sprintf(vbuf, "%d", j->variant);
        a[k++] = "--variant";
        a[k++] = vbuf;
    }
    sprintf(sbuf, "%d", j->seed);
    a[k++] = "--seed";
    a[k++] = sbuf;
    for (int i = 0; i < r->nsets; i++) {
        a[k++] = "--set";
        a[k++] = r->sets[i];
    }
    a[k++] = "-o";
    a[k++] = (char *)j->out;
    a[k++] = "--quiet";
    if (access(j->out, F_OK) == 0) a[k++] = "--force";  /* not completed (or --force): run again */
    a[k] = NULL;
}

/* The message of a run that exited 2, from its log: the "hetfl: ..." line and
 * any HINT line, joined, into buf. */
static void rp_log_reason(const char *log, char *buf, size_t n)
{
    char line[1024];
    size_t len = 0;
    buf[0] = 0;
    FILE *f = fopen(log, "r");
    while (f && fgets(line, sizeof line, f) && len + 1 < n) {
        line[strcspn(line, "\n")] = 0;
        if (strncmp(line, "hetfl", 5) && strncmp(line, "HINT", 4)) continue;
        len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? " " : "", line);
    }
    if (f) fclose(f);
    if (!buf[0]) snprintf(buf, n, "exit 2 (bad input); see %.900s", log);
}

/* Job j exited 2: its suite is not run; its waiting runs are skipped.
 * Returns how many were skipped. */
static int rp_not_run(rp_t *r, rp_job_t *jobs, int njobs, const rp_job_t *j, FILE *out)
{
    rp_suite_t *s = &r->s[j->suite];
    int skipped = 0;
    if (!s->notrun[0]) {
        char log[4700];
        snprintf(log, sizeof log, "%.*s.log", (int)strlen(j->out) - 3, j->out);
        rp_log_reason(log, s->notrun, sizeof s->notrun);
    }
    for (int i = 0; i < njobs; i++)
        if (jobs[i].suite == j->suite && jobs[i].state == 0) {
            jobs[i].state = 2;
            jobs[i].rc = 2;
            skipped++;
        }
    fprintf(out, "reproduce: %s: NOT RUN (its run exited 2, bad input: %s); %d other run%s of it skipped\n",
            s->name, s->notrun, skipped, skipped == 1 ? "" : "s");
    return skipped;
}

/* --report-only: nothing is run; per suite, the runs DIR does not hold completed
 * are counted missing, and a suite none of whose runs completed is "not run" when
 * the log of its first run (an earlier attempt) holds a bad-input message
 * ("hetfl: FILE:LINE: key 'x': ...").
 * Returns the number of missing runs of the suites that are not "not run". */
static int rp_report_only(rp_t *r, FILE *out)
{
    int missing = 0;
    for (int i = 0; i < r->ns; i++) {
        rp_suite_t *s = &r->s[i];
        int n = s->nvariants * r->nseeds, have = 0;
        char path[4600], why[600];
        for (int v = 0; v < s->nvariants; v++)
            for (int k = 1; k <= r->nseeds; k++) {
                snprintf(path, sizeof path, "%s/v%d-s%d.h5", s->dir, v, k);
                have += rp_completed(path);
            }
        snprintf(path, sizeof path, "%s/v0-s1.log", s->dir);
        if (access(path, R_OK) != 0) snprintf(path, sizeof path, "%s/validate.log", s->dir);  /* --slurm's */
        if (!have && access(path, R_OK) == 0) {
            rp_log_reason(path, why, sizeof why);
            if (!strncmp(why, "hetfl", 5) && strstr(why, ": key '"))  /* a bad-input message, not a stopped run's */
                snprintf(s->notrun, sizeof s->notrun, "%.560s (the log of its last attempt, %.300s)", why, path);
        }
        s->pending = !have && !s->notrun[0];
        if (s->notrun[0]) fprintf(out, "reproduce: %s: NOT RUN: %s\n", s->name, s->notrun);
        else if (have < n) fprintf(out, "reproduce: %s: %d of %d runs not there (--report-only): left out\n",
                                   s->name, n - have, n);
        if (!s->notrun[0]) missing += n - have;
    }
    return missing;
}

/* Every variant × seed, J at a time, one rank each.  Returns the number of failed
 * runs (a run that exits 2 is not one: its suite is "not run"). */
static int rp_run_local(rp_t *r, rp_job_t *jobs, int njobs, FILE *out)
{
    int running = 0, done = 0, failed = 0, next = 0;
    char **args = hf_calloc(2 * RP_MAX_SETS + 16, sizeof *args);
    for (int i = 0; i < njobs; i++)
        if (!r->force && rp_completed(jobs[i].out)) {
            jobs[i].state = 2;
            done++;
            fprintf(out, "reproduce: %s v%d seed %d: completed results there, reused (%s)\n",
                    r->s[jobs[i].suite].name, jobs[i].variant, jobs[i].seed, jobs[i].out);
        }
    while (done < njobs) {
        while (running < r->jobs && next < njobs) {
            rp_job_t *j = &jobs[next++];
            if (j->state) continue;
            if (!r->force && rp_completed(j->out)) {  /* completed meanwhile (another reproduce into DIR) */
                j->state = 2;
                done++;
                fprintf(out, "reproduce: %s v%d seed %d: completed meanwhile, reused (%s)\n", r->s[j->suite].name,
                        j->variant, j->seed, j->out);
                continue;
            }
            char log[4700], vb[16], sb[16];
            snprintf(log, sizeof log, "%.*s.log", (int)strlen(j->out) - 3, j->out);
            rp_job_args(r, j, args, vb, sb);
            j->t0 = now_s();
            j->pid = rp_spawn(args, log, NULL);
            if (j->pid < 0) {
                free(args);
                return hf_seterr(HF_ERUNTIME, "hetfl reproduce: fork: %s", strerror(errno)), njobs;
            }
            j->state = 1;
            running++;
        }
        if (!running) break;
        rp_job_t *j = &jobs[rp_wait_any(jobs, njobs)];
        running--;
        done++;
        failed += j->rc != 0 && j->rc != HF_EINPUT;
        fprintf(out, "reproduce: [%d/%d] %s v%d seed %d: ", done, njobs, r->s[j->suite].name, j->variant, j->seed);
        if (j->rc == 0) fprintf(out, "completed in %.1f s\n", now_s() - j->t0);
        else fprintf(out, "%s (%s %d) after %.1f s; see %.*s.log\n", j->rc == HF_EINPUT ? "not run" : "FAILED",
                     j->rc < 0 ? "signal" : "exit", j->rc, now_s() - j->t0, (int)strlen(j->out) - 3, j->out);
        if (j->rc == HF_EINPUT) done += rp_not_run(r, jobs, njobs, j, out);
        fflush(out);
    }
    free(args);
    return failed;
}

/* slurm/sweep.sh: $HETFL_SLURM_DIR, beside the binary (source tree), or installed. */
static void rp_sweep_path(const rp_t *r, char *buf, size_t n)
{
    const char *d = getenv("HETFL_SLURM_DIR");
    if (d && *d) { snprintf(buf, n, "%s/sweep.sh", d); return; }
    char bin[4096];
    snprintf(bin, sizeof bin, "%s", r->hetfl);
    char *sl = strrchr(bin, '/');
    if (sl) {
        *sl = 0;
        snprintf(buf, n, "%s/slurm/sweep.sh", bin);
        if (access(buf, X_OK) == 0) return;
    }
    snprintf(buf, n, "%s/slurm/sweep.sh", HETFL_DATADIR);
}

/* Before a suite's job array: `hetfl validate` of every variant (keys, data and
 * trace files, as `hetfl run` checks them before any work), output in
 * DIR/<suite>/validate.log.  A variant that exits 2 makes the suite "not run",
 * as the local pool's first run would, and it is not submitted.  Returns 1 then. */
static int rp_validate_suite(const rp_t *r, rp_suite_t *s, char **args, FILE *out)
{
    char log[4500], vbuf[16];
    snprintf(log, sizeof log, "%s/validate.log", s->dir);
    for (int v = 0; v < s->nvariants; v++) {
        int k = 0;
        args[k++] = (char *)r->hetfl;
        args[k++] = "validate";
        args[k++] = s->path;
        if (s->sweep) {
            snprintf(vbuf, sizeof vbuf, "%d", v);
            args[k++] = "--variant";
            args[k++] = vbuf;
        }
        for (int q = 0; q < r->nsets; q++) { args[k++] = "--set"; args[k++] = r->sets[q]; }
        args[k] = NULL;
        rp_job_t j = {.pid = rp_spawn(args, log, NULL), .state = 1};
        if (j.pid < 0) return 0;  /* the array's tasks will say what is wrong */
        rp_wait_any(&j, 1);
        if (j.rc != HF_EINPUT) continue;
        rp_log_reason(log, s->notrun, sizeof s->notrun);
        fprintf(out, "reproduce: %s: NOT RUN (hetfl validate of variant %d exited 2, bad input: %s); its job "
                "array not submitted\n", s->name, v, s->notrun);
        return 1;
    }
    unlink(log);
    return 0;
}

/* One job array per suite (slurm/sweep.sh --wait, all suites submitted at
 * once); results in the same layout (HETFL_OUTPUT_DIR).  A suite whose
 * validation exits 2 (rp_validate_suite) is not run and not submitted.
 * Returns failures. */
static int rp_run_slurm(rp_t *r, FILE *out)
{
    char sweep[4200], seeds[8 * RP_MAX_SEEDS] = "";
    rp_sweep_path(r, sweep, sizeof sweep);
    for (int i = 1; i <= r->nseeds; i++) snprintf(seeds + strlen(seeds), sizeof seeds - strlen(seeds), "%s%d",
                                                  i > 1 ? " " : "", i);
    const char *sbatch = getenv("HETFL_SBATCH");
    if (hf_mkdir_p("logs") != 0)  /* sweep.sbatch's default logs: logs/%x_%A_%a.out (Slurm does not create it) */
        fprintf(out, "reproduce: warning: cannot create logs/: %s\n", strerror(errno));
    rp_job_t *jobs = hf_calloc((size_t)r->ns, sizeof *jobs);
    char **args = hf_calloc(2 * RP_MAX_SETS + 16, sizeof *args);
    static char envb[RP_MAX_SUITES][2][4500];
    int submitted = 0;
    for (int i = 0; i < r->ns; i++) {
        jobs[i].state = 2;
        if (rp_validate_suite(r, &r->s[i], args, out)) continue;
        int k = 0;
        args[k++] = sweep;
        args[k++] = "--wait";
        args[k++] = "--seeds";
        args[k++] = seeds;
        if (sbatch && *sbatch) {  /* site options: --account, --partition, -n 1, ... */
            args[k++] = "--sbatch";
            args[k++] = (char *)sbatch;
        }
        args[k++] = r->s[i].path;
        for (int q = 0; q < r->nsets; q++) { args[k++] = "--set"; args[k++] = r->sets[q]; }
        args[k] = NULL;
        snprintf(envb[i][0], sizeof envb[i][0], "HETFL=%s", r->hetfl);
        snprintf(envb[i][1], sizeof envb[i][1], "HETFL_OUTPUT_DIR=%s", r->s[i].dir);
        char *env[] = {envb[i][0], envb[i][1], NULL};
        char log[4500];
        snprintf(log, sizeof log, "%s/sweep.log", r->s[i].dir);
        jobs[i].suite = i;
        jobs[i].t0 = now_s();
        jobs[i].pid = rp_spawn(args, log, env);
        jobs[i].state = 1;
        submitted++;
        fprintf(out, "reproduce: %s: %d variant(s) x %d seed(s) submitted through %s (log %s)\n", r->s[i].name,
                r->s[i].nvariants, r->nseeds, sweep, log);
    }
    fflush(out);
    int failed = 0;
    for (int n = 0; n < submitted; n++) {
        rp_job_t *j = &jobs[rp_wait_any(jobs, r->ns)];
        failed += j->rc != 0;
        fprintf(out, "reproduce: %s: job array %s after %.0f s\n", r->s[j->suite].name,
                j->rc ? "FAILED" : "done", now_s() - j->t0);
    }
    free(args);
    free(jobs);
    return failed;
}

/* ---- aggregation and the report ---- */

typedef struct {
    char metric[64];
    double target;      /* NaN: not a "to target" figure */
} rp_col_t;

typedef struct {
    int ncols;
    rp_col_t col[32];
    double *v;          /* [col][variant][seed], NaN missing */
    int nv, nseeds, incomplete;
    int nruns, nother;  /* completed runs read; of them, written by another build than this one */
    char other_runs[1024];  /* those runs, "v0-s1 v1-s3 ..." */
} rp_data_t;

#define RP_MAX_BUILDS 8

typedef struct {
    int counts[3];              /* verdicts */
    int explained[3];           /* FAIL or INCONCLUSIVE claims without, with an explanation, and
                                 * without one whose variants miss runs (no verdict to explain yet) */
    int runs, other;            /* completed runs read; of them, written by another build */
    char builds[RP_MAX_BUILDS][64];  /* those other builds (rp_build_key) */
    int nbuilds;
    char notrun[1024];          /* the suites not run, comma-separated */
    char pending[1024];         /* --report-only: the suites without a completed run */
} rp_totals_t;

/* A build as the report names it: its commit, and whether it had uncommitted changes. */
static void rp_build_key(const char *commit, int dirty, char *buf, size_t n)
{
    snprintf(buf, n, "%.40s%s", commit[0] ? commit : "unknown", dirty ? " (uncommitted changes)" : "");
}

/* Count the run v-s of a suite: written by this build, or another (listed in d and t). */
static void rp_note_build(rp_data_t *d, rp_totals_t *t, const hf_report_info_t *info, int v, int s)
{
    const hf_build_info_t *bi = hf_build_info();
    char mine[64], theirs[64];
    rp_build_key(bi->git_commit, !strcmp(bi->git_dirty, "yes"), mine, sizeof mine);
    rp_build_key(info->commit, info->dirty, theirs, sizeof theirs);
    d->nruns++;
    t->runs++;
    if (!strcmp(mine, theirs)) return;
    d->nother++;
    t->other++;
    size_t l = strlen(d->other_runs);
    snprintf(d->other_runs + l, sizeof d->other_runs - l, "%sv%d-s%d", l ? " " : "", v, s);
    for (int i = 0; i < t->nbuilds; i++)
        if (!strcmp(t->builds[i], theirs)) return;
    if (t->nbuilds < RP_MAX_BUILDS) snprintf(t->builds[t->nbuilds++], sizeof t->builds[0], "%s", theirs);
}

#define RP_V(D, C, V, S) ((D)->v[((size_t)(C) * (size_t)(D)->nv + (size_t)(V)) * (size_t)(D)->nseeds + (size_t)(S)])

static int rp_col_find(const rp_data_t *d, const char *metric, double target)
{
    for (int c = 0; c < d->ncols; c++)
        if (!strcmp(d->col[c].metric, metric) &&
            (isnan(target) ? isnan(d->col[c].target) : d->col[c].target == target)) return c;
    return -1;
}

static void rp_col_add(rp_data_t *d, const char *metric, double target)
{
    if (rp_col_find(d, metric, target) >= 0 || d->ncols == 32) return;
    snprintf(d->col[d->ncols].metric, sizeof d->col[0].metric, "%s", metric);
    d->col[d->ncols++].target = target;
}

static void rp_col_name(const rp_col_t *c, char *buf, size_t n)
{
    if (isnan(c->target)) snprintf(buf, n, "%s", c->metric);
    else snprintf(buf, n, "%s@%g", c->metric, c->target);
}

/* Read every results file of suite s: the figures its claims name, and final
 * accuracy; note the build that wrote each (t). */
static int rp_collect(const rp_t *r, const rp_suite_t *s, rp_data_t *d, rp_totals_t *t, FILE *out)
{
    memset(d, 0, sizeof *d);
    rp_col_add(d, "final_accuracy", NAN);
    for (int e = 0; e < s->nex; e++) {
        rp_col_add(d, s->ex[e].metric, s->ex[e].target);
        if (s->ex[e].rmetric[0]) rp_col_add(d, s->ex[e].rmetric, s->ex[e].rtarget);
    }
    d->nv = s->nvariants;
    d->nseeds = r->nseeds;
    d->v = hf_calloc((size_t)d->ncols * (size_t)d->nv * (size_t)d->nseeds, sizeof *d->v);
    for (size_t i = 0; s->notrun[0] && i < (size_t)d->ncols * (size_t)d->nv * (size_t)d->nseeds; i++)
        d->v[i] = NAN;
    for (int v = 0; v < d->nv && !s->notrun[0]; v++)
        for (int k = 0; k < d->nseeds; k++) {
            char path[4600];
            snprintf(path, sizeof path, "%s/v%d-s%d.h5", s->dir, v, k + 1);
            int ok = !(r->report_only && access(path, F_OK) != 0);  /* not there: counted by rp_report_only */
            for (int c = 0; c < d->ncols; c++) {
                hf_report_info_t info;
                const char *name = d->col[c].metric;
                double tgt = isnan(d->col[c].target) ? 0.8 : d->col[c].target;
                RP_V(d, c, v, k) = NAN;
                if (!ok) continue;
                if (hf_report_values(path, tgt, &name, 1, &RP_V(d, c, v, k), &info)) {
                    fprintf(out, "reproduce: %s v%d seed %d: no results: %s\n", s->name, v, k + 1, hf_errmsg());
                    hf_clearerr();
                    ok = 0;
                } else if (!info.complete) {
                    fprintf(out, "reproduce: %s v%d seed %d: run %s: left out\n", s->name, v, k + 1, info.status);
                    RP_V(d, c, v, k) = NAN;
                    ok = 0;
                } else if (c == 0) rp_note_build(d, t, &info, v, k + 1);
            }
            d->incomplete += !ok;
        }
    return 0;
}

static void rp_fmt(char *buf, size_t n, double x)
{
    if (isnan(x)) snprintf(buf, n, "–");
    else if (isinf(x)) snprintf(buf, n, "%s∞", x < 0 ? "−" : "");
    else snprintf(buf, n, "%.4g", x);
}

static void rp_fmt_p(char *buf, size_t n, double p)
{
    if (isnan(p)) snprintf(buf, n, "–");
    else if (p < 1e-4) snprintf(buf, n, "< 0.0001");
    else snprintf(buf, n, "%.4f", p);
}

static void rp_table(FILE *md, const rp_suite_t *s, const rp_data_t *d)
{
    char name[96], a[32], b[32], lo[32], hi[32];
    fputs("| variant |", md);
    for (int c = 0; c < d->ncols; c++) {
        rp_col_name(&d->col[c], name, sizeof name);
        fprintf(md, " %s |", name);
    }
    fputs("\n|---|", md);
    for (int c = 0; c < d->ncols; c++) fputs("---|", md);
    fputc('\n', md);
    for (int v = 0; v < d->nv; v++) {
        fprintf(md, "| v%d%s%s%s |", v, s->desc[v][0] ? " `" : "", s->desc[v], s->desc[v][0] ? "`" : "");
        for (int c = 0; c < d->ncols; c++) {
            hf_summary_t m;
            hf_stats_summary(&RP_V(d, c, v, 0), d->nseeds, &m);
            rp_fmt(a, sizeof a, m.mean);
            rp_fmt(b, sizeof b, m.sd);
            rp_fmt(lo, sizeof lo, m.lo);
            rp_fmt(hi, sizeof hi, m.hi);
            if (m.n == 0) fputs(" – |", md);
            else if (m.n == 1) fprintf(md, " %s (1 run) |", a);
            else if (m.n < d->nseeds) fprintf(md, " %s ± %s [%s, %s] (%d runs) |", a, b, lo, hi, m.n);
            else fprintf(md, " %s ± %s [%s, %s] |", a, b, lo, hi);
        }
        fputc('\n', md);
    }
}

/* After the claims' table: each FAIL or INCONCLUSIVE claim with its measured
 * explanation (NAME.why) or the marker that it has none — or, without one, that
 * `missing` of the `runs` of its variants are not there (a verdict still to
 * come, not a finding) — and, for a paired test, the seeds its mean and sd of Δ
 * would need.  t->explained[0/1/2] counts. */
static void rp_explain(FILE *md, FILE *out, const rp_suite_t *s, const hf_expect_t *x,
                       const hf_expect_result_t *res, int missing, int runs, int *first, rp_totals_t *t)
{
    if (res->verdict == HF_VERDICT_PASS) return;
    if (*first) fputs("\nNot PASS, and why:\n\n", md);
    *first = 0;
    int pending = !x->why[0] && missing;
    t->explained[pending ? 2 : x->why[0] != 0]++;
    fprintf(md, "- `%s` (**%s**): ", x->name, hf_verdict_names[res->verdict]);
    if (x->why[0]) fputs(x->why, md);
    else if (pending) fprintf(md, "**runs missing**: %d of the %d runs of its variants are not there", missing, runs);
    else fprintf(md, "**no explanation** (no `%s.why` in the suite's `[expect]`)", x->name);
    if (missing && !pending) fprintf(md, " [%d of the %d runs of its variants not there]", missing, runs);
    int n = res->verdict == HF_VERDICT_INCONCLUSIVE ? hf_expect_seeds_needed(x, res) : 0;
    if (n > HF_EXPECT_SEEDS_MAX) fprintf(md, " [at this mean and sd of Δ a PASS needs more than %d seeds]",
                                         HF_EXPECT_SEEDS_MAX);
    else if (n > 0) fprintf(md, " [at this mean and sd of Δ a PASS needs %d seeds]", n);
    else if (n < 0) fputs(" [the mean Δ lies on the wrong side: no number of seeds makes it PASS]", md);
    fputc('\n', md);
    if (!x->why[0]) fprintf(out, "%-12s %s %s: %s (%s.why)\n", "", s->name, x->name,
                            pending ? "runs missing, no explanation yet" : "no explanation", x->name);
}

/* Runs of claim x's variants that d has no value for (missing or incomplete:
 * every completed run has a final accuracy, column 0). */
static int rp_missing_runs(const rp_data_t *d, const hf_expect_t *x, int *runs)
{
    int m = 0, vs[2] = {x->lhs, x->rhs};
    *runs = 0;
    for (int i = 0; i < 2 && vs[i] >= 0; i++)
        for (int k = 0; k < d->nseeds; k++, (*runs)++) m += isnan(RP_V(d, 0, vs[i], k));
    return m;
}

/* Check every claim of s; one markdown row and one stdout line each; the
 * explanations of the claims that do not PASS.  t->counts[verdict]++. */
static void rp_claims(FILE *md, FILE *out, const rp_suite_t *s, const rp_data_t *d, rp_totals_t *t)
{
    int *counts = t->counts;
    if (!s->nex) {
        fputs("\nNo `[expect]` section: nothing to check.\n", md);
        return;
    }
    if (s->notrun[0] || s->pending) {
        const char *why = s->notrun[0] ? "not run" : "no completed run yet";
        fprintf(md, "\n%d claim%s not checked (%s).\n", s->nex, s->nex == 1 ? "" : "s", why);
        fprintf(out, "NOT CHECKED  %s: %d claim%s (%s)\n", s->name, s->nex, s->nex == 1 ? "" : "s", why);
        return;
    }
    hf_expect_result_t *verdicts = hf_calloc((size_t)s->nex, sizeof *verdicts);
    fputs("\n| expectation | claim | test | Δ = vB − RHS [95 % CI] | effect d | p (claim false) | verdict |\n"
          "|---|---|---|---|---|---|---|\n", md);
    for (int e = 0; e < s->nex; e++) {
        const hf_expect_t *x = &s->ex[e];
        int c = rp_col_find(d, x->metric, x->target);
        int ca = x->rmetric[0] ? rp_col_find(d, x->rmetric, x->rtarget) : c;  /* vA.METRIC2 */
        hf_expect_result_t res;
        hf_expect_check(x, &RP_V(d, c, x->lhs, 0), x->rhs >= 0 ? &RP_V(d, ca, x->rhs, 0) : NULL, d->nseeds, &res);
        counts[res.verdict]++;
        char desc[256], name[96], df[48] = "", dd[32], lo[32], hi[32], ef[32], p[32];
        hf_expect_describe(x, desc, sizeof desc);
        rp_col_name(&d->col[c], name, sizeof name);
        rp_fmt(dd, sizeof dd, res.t.diff);
        rp_fmt(lo, sizeof lo, res.t.lo);
        rp_fmt(hi, sizeof hi, res.t.hi);
        rp_fmt(ef, sizeof ef, res.t.effect);
        rp_fmt_p(p, sizeof p, res.p);
        if (res.t.n) {
            if (res.t.paired) snprintf(df, sizeof df, ", n = %d, df = %.0f", res.t.n, res.t.df);
            else snprintf(df, sizeof df, ", n = %d + %d, df = %.1f", res.t.nx, res.t.ny, res.t.df);
        }
        fprintf(md, "| `%s` | `%s: %s` | %s%s | %s [%s, %s] | %s | %s | **%s** |\n", x->name, name, desc, res.test, df,
                dd, lo, hi, ef, p, hf_verdict_names[res.verdict]);
        fprintf(out, "%-12s %s %s: %s: %s: %s%s; diff %s [%s, %s], d %s, p %s\n", hf_verdict_names[res.verdict],
                s->name, x->name, name, desc, res.test, df, dd, lo, hi, ef, p);
        verdicts[e] = res;
    }
    int first = 1;
    for (int e = 0; e < s->nex; e++) {
        int runs, miss = rp_missing_runs(d, &s->ex[e], &runs);
        rp_explain(md, out, s, &s->ex[e], &verdicts[e], miss, runs, &first, t);
    }
    free(verdicts);
}

static void rp_machine(char *buf, size_t n)
{
    char host[256] = "?", model[256] = "?", line[512];
    gethostname(host, sizeof host - 1);
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
            char *m = strchr(line, ':') + 1;
            while (*m == ' ') m++;
            m[strcspn(m, "\n")] = 0;
            snprintf(model, sizeof model, "%s", m);
            break;
        }
    if (f) fclose(f);
    snprintf(buf, n, "%s, %s, %ld cores online", host, model, sysconf(_SC_NPROCESSORS_ONLN));
}

static void rp_header(FILE *md, const rp_t *r, int argc, char **argv, const char *started, double secs,
                      const double *load, const rp_totals_t *t, int failed)
{
    const int *counts = t->counts;
    char mach[600];
    rp_machine(mach, sizeof mach);
    const hf_build_info_t *bi = hf_build_info();
    fputs("# Reproduce report\n\nGenerated by `hetfl reproduce` (src/cli/reproduce.c); do not edit by hand: "
          "run the command again.\n\n- command: `hetfl reproduce", md);
    for (int i = 0; i < argc; i++) fprintf(md, " %s", argv[i]);
    if (r->report_only)
        fprintf(md, "`\n- date: %s (UTC); --report-only: nothing run, the report of the completed results in "
                "the results directory\n", started);
    else
        fprintf(md, "`\n- date: %s (UTC, start); duration %.0f s wall, %d job%s at a time (%s)\n", started, secs,
                r->jobs, r->jobs == 1 ? "" : "s", r->mode == 2 ? "Slurm job arrays" : "local, one rank a run");
    fprintf(md, "- machine: %s; load average %.2f at the start, %.2f at the end\n", mach, load[0], load[1]);
    fprintf(md, "- hetfl %s, commit %s%s\n", PACKAGE_VERSION, bi->git_commit,
            strcmp(bi->git_dirty, "no") ? " (with uncommitted changes)" : "");
    fprintf(md, "- seeds 1..%d for every variant; results under `%s/`\n", r->nseeds, r->out);
    if (t->other) {
        fprintf(md, "- **%d of the %d runs read were written by another build** than this one (", t->other, t->runs);
        for (int i = 0; i < t->nbuilds; i++) fprintf(md, "%s`%s`", i ? ", " : "", t->builds[i]);
        fputs(t->nbuilds == RP_MAX_BUILDS ? ", ...): reused results; each suite names its runs\n"
                                          : "): reused results; each suite names its runs\n", md);
    } else if (t->runs) {
        fprintf(md, "- all %d runs read were written by this build\n", t->runs);
    }
    if (t->notrun[0]) fprintf(md, "- not run (a run exited 2: bad input found at run time, such as data files that are not on this "
                                  "machine; the message is in the suite's section): %s\n", t->notrun);
    if (t->pending[0]) fprintf(md, "- no completed run yet (--report-only), claims not checked: %s\n", t->pending);
    fprintf(md, "- verdicts: %d PASS, %d FAIL, %d INCONCLUSIVE%s\n", counts[0], counts[1], counts[2],
            !failed ? "" : r->report_only ? "; some runs are not there, left out (see below)"
                                          : "; some runs failed or are missing (see below)");
    if (counts[1] + counts[2])
        fprintf(md, "- not PASS: %d claim%s; with a measured explanation (the suite's `NAME.why`): %d; with **no "
                "explanation**: %d; without one while runs of their variants are missing: %d\n", counts[1] + counts[2],
                counts[1] + counts[2] == 1 ? "" : "s", t->explained[1], t->explained[0], t->explained[2]);
    fputc('\n', md);
    fputs("Tables: mean ± sd [95 % confidence interval of the mean, Student t] over the seeds, per variant, "
          "for final accuracy and every figure a claim names (`hetfl report`'s figures; `@T`: to target "
          "accuracy T, best-so-far curve, linear interpolation; a run that never reaches T has no value). "
          "Claims (the suite's `[expect]` section; syntax in suites/README.md): Δ is vB minus the right-hand "
          "side, per seed; paired t-test over seeds when both variants have every seed, else Welch; PASS "
          "when the 95 % CI of Δ lies on the claimed side (one-sided p < 0.025), FAIL when it lies wholly "
          "on the other, INCONCLUSIVE otherwise; `~ within W`: PASS when the CI is inside (−W, W) (two "
          "one-sided tests). Effect d: Cohen's d (paired: mean Δ / sd Δ). A t interval assumes roughly normal "
          "values: a figure that is skewed over seeds (a long simulated time in one seed) widens it.\n", md);
}

/* A suite's lines after its table: the runs another build wrote; why it was not run. */
static void rp_suite_notes(FILE *md, FILE *out, const rp_suite_t *s, const rp_data_t *d, rp_totals_t *t)
{
    if (s->notrun[0]) {
        fprintf(md, "\n**Not run**: a run exited 2 (bad input) and the suite's other runs were skipped: `%s`\n",
                s->notrun);
        size_t l = strlen(t->notrun);
        snprintf(t->notrun + l, sizeof t->notrun - l, "%s`%s`", l ? ", " : "", s->name);
    }
    if (s->pending) {
        size_t l = strlen(t->pending);
        snprintf(t->pending + l, sizeof t->pending - l, "%s`%s`", l ? ", " : "", s->name);
    }
    if (!d->nother) return;
    const char *list = d->nother == d->nruns ? "all" : d->other_runs;
    fprintf(md, "\nWritten by another build than this report's (reused): %s (%d of %d runs).\n", list, d->nother,
            d->nruns);
    fprintf(out, "reproduce: %s: %d of %d runs written by another build: %s\n", s->name, d->nother, d->nruns, list);
}

/* Aggregate every suite, check its claims, write the markdown report atomically.
 * t: verdict totals, runs from other builds, suites not run. */
static int rp_write_report(const rp_t *r, int argc, char **argv, const char *started, double t0,
                           const double *load0, int failed, rp_totals_t *t, FILE *out)
{
    char tmp[4600];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", r->report, (long)getpid());
    char *body = NULL;
    size_t blen = 0;
    FILE *md = open_memstream(&body, &blen);
    for (int i = 0; i < r->ns; i++) {
        const rp_suite_t *s = &r->s[i];
        rp_data_t d;
        rp_collect(r, s, &d, t, out);
        char gone[96] = "";
        if (d.incomplete && !s->notrun[0])
            snprintf(gone, sizeof gone, " — %d of the %d runs missing or incomplete, left out", d.incomplete,
                     s->nvariants * r->nseeds);
        fprintf(md, "\n## `%s` (%s)\n\n%d variant%s × %d seeds%s; results `%s/v<V>-s<S>.h5`.\n\n", s->name,
                s->arg, s->nvariants, s->nvariants == 1 ? "" : "s", r->nseeds, gone, s->dir);
        rp_table(md, s, &d);
        rp_suite_notes(md, out, s, &d, t);
        rp_claims(md, out, s, &d, t);
        free(d.v);
    }
    fclose(md);
    double load[2] = {load0[0], -1};
    if (getloadavg(load + 1, 1) != 1) load[1] = -1;
    FILE *f = fopen(tmp, "w");
    if (!f) {
        free(body);
        return hf_seterr(HF_ERUNTIME, "hetfl reproduce: cannot write %s: %s", tmp, strerror(errno));
    }
    rp_header(f, r, argc, argv, started, now_s() - t0, load, t, failed);
    fwrite(body, 1, blen, f);
    free(body);
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, r->report) != 0) {
        int e = errno;
        unlink(tmp);
        return hf_seterr(HF_ERUNTIME, "hetfl reproduce: cannot write %s: %s", r->report, strerror(e));
    }
    return 0;
}

int hf_reproduce_main(int argc, char **argv, FILE *out)
{
    rp_t *r = hf_calloc(1, sizeof *r);
    int rc = rp_parse_args(argc, argv, r);
    for (int i = 0; i < r->ns && !rc; i++) rc = rp_load_suite(r, &r->s[i]);
    const char *h = getenv("HETFL");
    if (!rc) {
        ssize_t n = h && *h ? -1 : readlink("/proc/self/exe", r->hetfl_buf, sizeof r->hetfl_buf - 1);
        if (n > 0) r->hetfl_buf[n] = 0;
        else snprintf(r->hetfl_buf, sizeof r->hetfl_buf, "%s", h && *h ? h : "hetfl");
        r->hetfl = r->hetfl_buf;
        if (r->mode == 0) r->mode = getenv("SLURM_JOB_ID") ? 2 : 1;
    }
    if (!rc && r->report != r->report_buf) {  /* --report FILE can be written (before any run) */
        char dir[4400];
        snprintf(dir, sizeof dir, "%s", r->report);
        char *sl = strrchr(dir, '/');
        if (sl) *sl = 0;
        struct stat st;
        if (sl == dir) snprintf(dir, sizeof dir, "/");
        if (!sl) snprintf(dir, sizeof dir, ".");
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || access(dir, W_OK | X_OK) != 0)
            rc = hf_seterr(HF_EINPUT, "hetfl reproduce: --report %s: directory '%s' %s", r->report, dir,
                           stat(dir, &st) != 0 ? "does not exist" : !S_ISDIR(st.st_mode) ? "is not a directory"
                                                                    : "is not writable");
        else if (stat(r->report, &st) == 0 && !S_ISREG(st.st_mode))
            rc = hf_seterr(HF_EINPUT, "hetfl reproduce: --report %s: not a regular file", r->report);
    }
    for (int i = 0; i < r->ns && !rc; i++)
        if (hf_mkdir_p(r->s[i].dir) != 0)
            rc = hf_seterr(HF_EINPUT, "hetfl reproduce: --out: cannot create directory '%s': %s", r->s[i].dir,
                           strerror(errno));
    rp_totals_t tot = {{0, 0, 0}, {0, 0, 0}, 0, 0, {{0}}, 0, "", ""};
    int *counts = tot.counts, failed = 0;
    if (!rc) {
        char started[32];
        time_t t = time(NULL);
        strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
        double t0 = now_s(), load0[1] = {-1};
        if (getloadavg(load0, 1) != 1) load0[0] = -1;
        int njobs = 0;
        for (int i = 0; i < r->ns; i++) njobs += r->s[i].nvariants * r->nseeds;
        rp_job_t *jobs = hf_calloc((size_t)njobs, sizeof *jobs);
        for (int i = 0, k = 0; i < r->ns; i++)
            for (int v = 0; v < r->s[i].nvariants; v++)
                for (int s = 1; s <= r->nseeds; s++, k++) {
                    jobs[k] = (rp_job_t){.suite = i, .variant = v, .seed = s};
                    snprintf(jobs[k].out, sizeof jobs[k].out, "%s/v%d-s%d.h5", r->s[i].dir, v, s);
                }
        fprintf(out, "reproduce: %d suite%s, %d run%s (%d seeds each), %s\n", r->ns, r->ns == 1 ? "" : "s", njobs,
                njobs == 1 ? "" : "s", r->nseeds, r->mode == 2 ? "Slurm job arrays (slurm/sweep.sh)" : "local");
        failed = r->report_only ? rp_report_only(r, out)
                 : r->mode == 2 ? rp_run_slurm(r, out) : rp_run_local(r, jobs, njobs, out);
        free(jobs);
        rc = rp_write_report(r, argc, argv, started, t0, load0, failed, &tot, out);
        if (!rc)
            fprintf(out, "reproduce: %d PASS, %d FAIL, %d INCONCLUSIVE; %d failed run%s; report %s\n", counts[0],
                    counts[1], counts[2], failed, failed == 1 ? "" : "s", r->report);
        if (!rc && (failed || counts[HF_VERDICT_FAIL])) rc = HF_ERUNTIME;
    }
    for (int i = 0; i < r->ns; i++) {
        free(r->s[i].desc);
        free(r->s[i].ex);
    }
    free(r);
    return rc;
}

/* `hetfl reproduce ...` from main(), before MPI_Init: help, errors, exit status. */
int hf_reproduce_cli(int argc, char **argv, FILE *out)
{
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(hf_command_help("reproduce"), out);
            return 0;
        }
    hf_clearerr();
    int rc = hf_reproduce_main(argc, argv, out);
    if (rc == HF_ERUNTIME && !hf_errmsg()[0]) return rc;  /* FAIL verdicts or failed runs: already said */
    if (rc) fprintf(stderr, "%s%s\n", strncmp(hf_errmsg(), "hetfl", 5) ? "hetfl: " : "", hf_errmsg());
    return rc;
}
