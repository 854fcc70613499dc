/*
 * bench.c — `hetfl bench [kernels|round|agg|all] [--quick] [--suite FILE]`.
 *
 * Every section measures on this machine, in this run, and prints the ratio to
 * its reference measured in the same run (never a figure from elsewhere):
 *   kernels  2NN/CNN local-training GFLOP/s vs the raw sgemm peak (bench_kernels.c)
 *   round    the quickstart workload's round time split into phases; framework
 *            overhead = everything but numeric kernels and MPI transfers
 *   agg      aggregation (both topologies, exact and float) of 1M and 10M float32
 *            parameters vs raw MPI_Allreduce / MPI_Reduce of the same bytes
 * Run it under mpirun with 2+ ranks for the MPI sections: `make bench` does.
 */
#include "config.h"
#include "agg.h"
#include "bench.h"
#include "conf.h"
#include "fed.h"
#include "hetfl.h"
#include "hf_util.h"
#include "options.h"
#include "rng.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define AGG_REPS 7
#define AGG_REPS_QUICK 3

static const char *find_suite(const char *name, char *buf, size_t n)
{
    const char *dirs[] = {".", HETFL_SRCDIR, HETFL_DATADIR};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        snprintf(buf, n, "%s/suites/%s", dirs[i], name);
        if (access(buf, R_OK) == 0) return buf;
    }
    return NULL;
}

static int bench_round(FILE *out, MPI_Comm comm, int quick, const char *suite)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    char path[4200];
    if (!suite) suite = find_suite("quickstart.conf", path, sizeof path);
    if (!suite) return hf_seterr(HF_EINPUT, "bench round: suites/quickstart.conf not found (use --suite)");
    char *sets[2] = {quick ? "federation.rounds=5" : "federation.rounds=20", "federation.eval_every=5"};
    hf_conf_t conf = {0};
    hf_fed_opts_t o;
    memset(&o, 0, sizeof o);
    int rc = hf_conf_load(&conf, suite, hf_options, sets, 2, -1);
    if (!rc) rc = hf_params_from_conf(&o.p, &conf);
    if (rc) { hf_conf_free(&conf); return rc; }
    char tmpl[] = "/tmp/hetfl-bench-XXXXXX";
    char outp[256] = "";
    if (rank == 0) {
        int fd = mkstemp(tmpl);
        if (fd >= 0) close(fd);
        snprintf(outp, sizeof outp, "%s.h5", tmpl);
        unlink(tmpl);
    }
    MPI_Bcast(outp, sizeof outp, MPI_CHAR, 0, comm);
    FILE *devnull = fopen("/dev/null", "w");
    o.conf = &conf;
    o.suite = suite;
    o.variant = -1;
    o.command_line = "hetfl bench round";
    o.output = outp;
    o.force = 1;
    o.quiet = 1;
    o.out = devnull ? devnull : out;
    hf_fed_timing_t t;
    rc = hf_fed_run(&o, comm, &t);
    if (devnull) fclose(devnull);
    if (rank == 0) unlink(outp);
    hf_conf_free(&conf);
    if (rc) return rc;
    if (rank != 0) return 0;
    double R = t.rounds;
    double mpi = t.agg_comm + t.bcast + t.gather;
    double overhead = t.loop - t.kernel - mpi;
    double io = t.io;
    fprintf(out, "\n== round breakdown: %s, %d rank(s), %d rounds, %ld params ==\n", suite, size,
            t.rounds, t.nparams);
    fprintf(out, "%-44s %10s %7s\n", "phase (rank 0)", "ms/round", "share");
#define LINE(name, v) fprintf(out, "%-44s %10.2f %6.1f%%\n", name, 1e3 * (v) / R, 100 * (v) / t.loop)
    LINE("local training (plan, copies, kernels)", t.compute + t.plan);
    LINE("aggregation (convert + MPI)", t.agg);
    LINE("  of which MPI transfers and waits", t.agg_comm);
    LINE("broadcast + record gather (MPI)", t.bcast + t.gather);
    LINE("evaluation", t.eval);
    LINE("results I/O (HDF5 append + flush, progress)", io);
    LINE("round total", t.loop);
    fprintf(out, "%-44s %10.2f %6.1f%%\n", "numeric kernels (train steps + eval forward)",
            1e3 * t.kernel / R, 100 * t.kernel / t.loop);
    fprintf(out, "%-44s %10.2f %6.1f%%   target <= 10%%: %s\n", "framework overhead (not kernels, not MPI)",
            1e3 * overhead / R, 100 * overhead / t.loop, overhead <= 0.10 * t.loop ? "PASS" : "MISS");
    fprintf(out, "%-44s %10.2f %6.1f%%   target <= 5%%: %s\n", "HDF5 share of the round", 1e3 * io / R,
            100 * io / t.loop, io <= 0.05 * t.loop ? "PASS" : "MISS");
    fprintf(out, "final accuracy %.4f after %d rounds\n", t.final_accuracy, t.rounds);
#undef LINE
    return 0;
}

/* Best-of-reps time of one aggregation round with one client update per rank:
 * prep = handing the update in (w·(x_k − x), block maxima: hf_agg_add_diff — the
 * Δ pass any engine makes), agg = hf_agg_reduce + hf_agg_apply (x += S/Σw). */
static void time_agg(long n, int exact, hf_topo_t topo, MPI_Comm comm, const float *local,
                     float *global, int reps, double *prep, double *agg)
{
    long toff[2] = {0, n};
    hf_agg_t *a = hf_agg_new(n, 1, toff, exact, topo, comm);
    *prep = *agg = 1e30;
    for (int r = 0; r < reps + 1; r++) {
        MPI_Barrier(comm);
        double t0 = hf_wtime();
        hf_agg_begin(a);
        hf_agg_add_diff(a, 600.0, local, global);
        double t1 = hf_wtime();
        MPI_Barrier(comm);
        double t2 = hf_wtime();
        hf_agg_reduce(a);
        hf_agg_apply(a, 1.0 / 1200.0, global);  /* a no-op where the result is absent */
        double t3 = hf_wtime();
        double d[2] = {t1 - t0, t3 - t2}, mx[2];
        MPI_Allreduce(d, mx, 2, MPI_DOUBLE, MPI_MAX, comm);
        if (r > 0) {  /* first repetition is warm-up */
            if (mx[0] < *prep) *prep = mx[0];
            if (mx[1] < *agg) *agg = mx[1];
        }
    }
    hf_agg_free(a);
}

static double time_raw(long n, int allreduce, MPI_Comm comm, const float *upd, float *res, int reps)
{
    double best = 1e30;
    for (int r = 0; r < reps + 1; r++) {
        MPI_Barrier(comm);
        double t0 = hf_wtime();
        if (allreduce) MPI_Allreduce(upd, res, (int)n, MPI_FLOAT, MPI_SUM, comm);
        else MPI_Reduce(upd, res, (int)n, MPI_FLOAT, MPI_SUM, 0, comm);
        double dt = hf_wtime() - t0, mx;
        MPI_Allreduce(&dt, &mx, 1, MPI_DOUBLE, MPI_MAX, comm);
        if (r > 0 && mx < best) best = mx;
    }
    return best;
}

static int bench_agg(FILE *out, MPI_Comm comm, int quick)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int reps = quick ? AGG_REPS_QUICK : AGG_REPS;
    long sizes[2] = {1000000, 10000000};
    if (rank == 0) {
        fprintf(out, "\n== aggregation: %d rank(s), one client update per rank, best of %d ==\n", size, reps);
        if (size < 2) fprintf(out, "(run under mpirun -n 2 or more for a meaningful comparison)\n");
        fprintf(out, "agg = reduce + apply (x += S/Σw); prep = weighted update + block maxima\n"
                     "(hf_agg_add_diff: the Δ pass every engine makes); raw = MPI collective alone\n");
        fprintf(out, "%-10s %-10s %-6s %9s %9s %9s %7s %s\n", "params", "topology", "mode", "prep ms",
                "agg ms", "raw ms", "agg/raw", "target");
    }
    for (int si = 0; si < 2; si++) {
        long n = sizes[si];
        float *upd = hf_alloc_aligned((size_t)n * sizeof(float));
        float *res = hf_alloc_aligned((size_t)n * sizeof(float));
        float *glob = hf_alloc_aligned((size_t)n * sizeof(float));
        hf_rng_t r;
        hf_rng_init(&r, 7, HF_RNG_TEST, (uint64_t)rank, 0);
        for (long j = 0; j < n; j++) {
            glob[j] = (float)(0.05 * hf_rng_normal(&r));
            upd[j] = glob[j] + (float)(1e-3 * hf_rng_normal(&r));
        }
        double raw_ar = time_raw(n, 1, comm, upd, res, reps);
        double raw_red = time_raw(n, 0, comm, upd, res, reps);
        struct { hf_topo_t topo; int exact; double target; } cases[4] = {
            {HF_TOPO_ALLREDUCE, 0, 1.1}, {HF_TOPO_ALLREDUCE, 1, 1.5},
            {HF_TOPO_RANK0, 0, 0}, {HF_TOPO_RANK0, 1, 0}};
        for (int c = 0; c < 4; c++) {
            double prep, tt;
            time_agg(n, cases[c].exact, cases[c].topo, comm, upd, glob, reps, &prep, &tt);
            double raw = cases[c].topo == HF_TOPO_ALLREDUCE ? raw_ar : raw_red;
            if (rank == 0) {
                char tgt[48] = "-";
                if (cases[c].target > 0)
                    snprintf(tgt, sizeof tgt, "<= %.1fx %s", cases[c].target,
                             tt <= cases[c].target * raw ? "PASS" : "MISS");
                fprintf(out, "%-10ld %-10s %-6s %9.2f %9.2f %9.2f %6.2fx %s\n", n,
                        cases[c].topo == HF_TOPO_ALLREDUCE ? "allreduce" : "rank0",
                        cases[c].exact ? "exact" : "float", 1e3 * prep, 1e3 * tt, 1e3 * raw, tt / raw, tgt);
            }
        }
        if (rank == 0)
            fprintf(out, "%-10ld raw MPI_Allreduce %.2f ms, raw MPI_Reduce %.2f ms (float32, same bytes)\n", n,
                    1e3 * raw_ar, 1e3 * raw_red);
        free(upd);
        free(res);
        free(glob);
    }
    return 0;
}

int hf_bench_main(int argc, char **argv, MPI_Comm comm, FILE *out)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    const char *section = "all", *suite = NULL;
    int quick = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--suite") && i + 1 < argc) suite = argv[++i];
        else if (argv[i][0] != '-') section = argv[i];
        else return hf_seterr(HF_EINPUT, "hetfl bench: unknown option '%s'", argv[i]);
    }
    int all = !strcmp(section, "all");
    if (!all && strcmp(section, "kernels") && strcmp(section, "round") && strcmp(section, "agg"))
        return hf_seterr(HF_EINPUT, "hetfl bench: unknown section '%s' (kernels, round, agg, all)", section);
    int rc = 0;
    if (rank == 0) {
        char host[256] = "";
        gethostname(host, sizeof host);
        int size;
        MPI_Comm_size(comm, &size);
        fprintf(out, "hetfl %s bench on %s, %d rank(s)%s\n", PACKAGE_VERSION, host, size,
                quick ? " (quick)" : "");
    }
    if (all || !strcmp(section, "kernels")) {
        if (rank == 0) rc = hf_bench_kernels(out, quick);
        MPI_Barrier(comm);
    }
    if (!rc && (all || !strcmp(section, "round"))) rc = bench_round(out, comm, quick, suite);
    if (!rc && (all || !strcmp(section, "agg"))) rc = bench_agg(out, comm, quick);
    fflush(out);
    return rc;
}
