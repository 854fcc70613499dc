/* test_energy.c — energy model identities, RAPL reader on a fake powercap tree
 * (incl. wrap-around), carbon traces/profiles/EIA importer, the country table,
 * budgets with adaptive strategies, and the carbon-aware sampler's inclusion
 * probabilities. */
#include "carbon.h"
#include "cstore.h"
#include "energy.h"
#include "h5out.h"
#include "hf_util.h"
#include "options.h"
#include "rapl.h"
#include "rng.h"
#include "cunit_main.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];

static void put(const char *dir, const char *file, const char *text)
{
    char p[2048];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    FILE *f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
}

static void mkzone(const char *root, const char *zone, const char *name, const char *uj,
                   const char *max)
{
    char d[768];
    snprintf(d, sizeof d, "%s/%s", root, zone);
    mkdir(d, 0755);
    put(d, "name", name);
    put(d, "energy_uj", uj);
    put(d, "max_energy_range_uj", max);
}

/* ------------------------------------------------------------- model --- */

static void test_model_identities(void)
{
    hf_energy_parts_t p = hf_energy_model(5.0, 2.0, 0.1, 0, 0, 1.0, 0.0);
    CU_ASSERT_EQUAL(p.radio_j, 0.0);          /* zero bytes → zero radio energy */
    CU_ASSERT_DOUBLE_EQUAL(p.compute_j, 10.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(p.total_j, 10.0, 1e-12);
    p = hf_energy_model(5.0, 2.0, 0.1, 2000000, 1000000, 1.0, 3.0);
    CU_ASSERT_DOUBLE_EQUAL(p.radio_j, 0.3, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(p.idle_j, 3.0, 1e-12);
    CU_ASSERT_EQUAL(p.total_j, p.compute_j + p.radio_j + p.idle_j);
    CU_ASSERT_DOUBLE_EQUAL(hf_energy_carbon_g(3.6e6, 250.0), 250.0, 1e-9);
}

static hf_energy_t *mk_energy(const char *text, int N, int R)
{
    hf_conf_t c = {0};
    char name[512];
    snprintf(name, sizeof name, "%s/t.conf", tmpdir);
    int rc = hf_conf_load_string(&c, text, name, hf_options_table(), NULL, 0, -1);
    if (rc) { printf("\n%s\n", hf_errmsg()); return NULL; }
    hf_energy_t *e = hf_energy_new(&c, 7, N, R, &rc);
    if (!e) printf("\n%s\n", hf_errmsg());
    hf_conf_free(&c);
    return e;
}

/* Participants sum to the round; over_budget costs nothing; budgets only fall;
 * the adaptive strategies fit the budget and correct the bias. */
static void test_plan_budget(void)
{
    hf_energy_client_t cl = {600, 60, 4.0, 1.0, 5.0, 0.5, 0.1};  /* full: 20 J compute */
    long P = 100000;
    uint64_t down = 400000;
    /* full round = 20 + 0.1*(0.4+0.4) = 20.08 J; budget 30 J: one full round, then 9.92 J left */
    const char *strategies[] = {"exclude", "steps", "sample", "compress", "auto"};
    for (int s = 0; s < 5; s++) {
        char text[512];
        snprintf(text, sizeof text, "[energy]\nbudget_j = 30\nbudget_strategy = %s\n"
                 "regions = default\n", strategies[s]);
        hf_energy_t *e = mk_energy(text, 4, 10);
        CU_ASSERT_PTR_NOT_NULL_FATAL(e);
        hf_eplan_t pl[3];
        for (int i = 0; i < 3; i++) {
            hf_energy_plan(e, 0, 0.0, i == 2 ? 1 : 0, &cl, down, P, &pl[i]);
            CU_ASSERT(pl[i].e.total_j == pl[i].e.compute_j + pl[i].e.radio_j + pl[i].e.idle_j);
            CU_ASSERT(pl[i].remaining_j >= -1e-9);
            CU_ASSERT_DOUBLE_EQUAL(pl[i].carbon_g, pl[i].e.total_j / 3.6e6 * 475, 1e-12);
        }
        /* the second participation of client 0, by hand (9.92 J left; 1/3 J a step).
         * steps, sample: radio 0.1 J/MB x 0.8 MB = 0.08 J, floor((9.92 - 0.08) x 3) = 29
         * steps of 60: 29/60 x 20 J + 0.08 J; sample: ceil(600 x 29/60) = 290 samples.
         * auto: QSGD first (15 levels: 5 bits a value + 32 a bucket of 512 -> 63284 bytes,
         * radio 0.1 x 0.463284 J), still over 9.92 J, then floor((9.92 - 0.0463284) x 3)
         * = 29 steps. exclude, compress: over budget, nothing spent. */
        static const double want_j[5] = {0.0, 29.0 / 60 * 20 + 0.08, 29.0 / 60 * 20 + 0.08, 0.0,
                                         29.0 / 60 * 20 + 0.0463284};
        static const int want_steps[5] = {0, 29, 29, 0, 29};
        CU_ASSERT_DOUBLE_EQUAL(pl[1].e.total_j, want_j[s], 1e-9);
        CU_ASSERT_EQUAL(pl[1].steps, want_steps[s]);
        CU_ASSERT_DOUBLE_EQUAL(pl[1].remaining_j, 30 - 20.08 - want_j[s], 1e-9);
        CU_ASSERT_DOUBLE_EQUAL(pl[0].remaining_j, 30 - 20.08, 1e-9);
        CU_ASSERT_DOUBLE_EQUAL(pl[2].remaining_j, 30 - 20.08, 1e-9);
        if (s == 2) CU_ASSERT_EQUAL(pl[1].sample, 290);
        if (s == 4) CU_ASSERT_EQUAL(pl[1].bytes_up, 63284u);
        CU_ASSERT_EQUAL(pl[0].outcome, HF_OUT_COMPLETED);
        CU_ASSERT_EQUAL(pl[0].steps, 60);
        CU_ASSERT_DOUBLE_EQUAL(pl[0].e.total_j, 20.08, 1e-9);
        /* second participation of client 0: 9.92 J left, a full round does not fit */
        if (s == 0) {
            CU_ASSERT_EQUAL(pl[1].outcome, HF_OUT_OVER_BUDGET);
            CU_ASSERT_EQUAL(pl[1].e.total_j, 0.0);
            CU_ASSERT_EQUAL(pl[1].bytes_up, 0);
        } else if (s == 3) {
            /* compress alone: 20 + radio > 9.92 → still over budget */
            CU_ASSERT_EQUAL(pl[1].outcome, HF_OUT_OVER_BUDGET);
        } else {
            CU_ASSERT_EQUAL(pl[1].outcome, HF_OUT_COMPLETED);
            CU_ASSERT(pl[1].e.total_j <= 9.92 + 1e-9);
            CU_ASSERT(pl[1].steps >= 1 && pl[1].steps < 60);
            CU_ASSERT_DOUBLE_EQUAL(pl[1].scale, 60.0 / pl[1].steps, 1e-12);
            if (s == 2) CU_ASSERT(pl[1].sample < 600);
            if (s == 4) {
                CU_ASSERT_EQUAL(pl[1].comp, HF_COMP_QSGD);
                CU_ASSERT(pl[1].bytes_up < 4 * (uint64_t)P);
                CU_ASSERT(pl[1].steps > 0);
            }
        }
        /* client 1 untouched by client 0's spending */
        CU_ASSERT_EQUAL(pl[2].outcome, HF_OUT_COMPLETED);
        hf_energy_free(e);
    }
    /* daily refill: after a simulated day the budget is back */
    hf_energy_t *e = mk_energy("[energy]\nbudget_j = 30\nbudget_period_h = 24\n", 2, 10);
    hf_eplan_t a, b, c2;
    hf_energy_plan(e, 0, 0.0, 0, &cl, down, P, &a);
    hf_energy_plan(e, 1, 100.0, 0, &cl, down, P, &b);
    hf_energy_plan(e, 2, 86400.0 + 5, 0, &cl, down, P, &c2);
    CU_ASSERT_EQUAL(a.outcome, HF_OUT_COMPLETED);
    CU_ASSERT_EQUAL(b.outcome, HF_OUT_OVER_BUDGET);
    CU_ASSERT_EQUAL(c2.outcome, HF_OUT_COMPLETED);
    hf_energy_free(e);
    /* unlimited: never over budget, remaining +inf */
    e = mk_energy("", 2, 10);
    hf_energy_plan(e, 0, 0.0, 0, &cl, down, P, &a);
    CU_ASSERT(isinf(a.remaining_j));
    CU_ASSERT_EQUAL(a.bytes_up, 4 * (uint64_t)P);
    hf_energy_free(e);
}

/* The width adaptation: the widest narrower sub-model whose round fits, its
 * compute and bytes priced; none fits: over_budget, the planned width kept. */
static void test_plan_width(void)
{
    /* planned: 20 J compute + 0.1 J/MB x 0.8 MB = 20.08 J; narrower: 8 s (8 J +
     * 0.1 x 0.4 = 8.04 J), 3 s (3 J + 0.1 x 0.2 = 3.02 J) at 1 W */
    hf_energy_client_t cl = {.samples = 600, .steps_full = 60, .compute_s = 20.0, .comm_s = 1.0,
                             .active_w = 1.0, .radio_j_per_mb = 0.1, .nnarrow = 2,
                             .narrow_compute_s = {8.0, 3.0}, .narrow_bytes = {200000, 100000}};
    hf_energy_t *e = mk_energy("[energy]\nbudget_j = 30\nbudget_strategy = width\n", 2, 10);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    hf_eplan_t a, b, c, d;
    hf_energy_plan(e, 0, 0.0, 0, &cl, 400000, 100000, &a);  /* 30 J: the planned width */
    hf_energy_plan(e, 1, 0.0, 0, &cl, 400000, 100000, &b);  /* 9.92 J: the first narrower */
    hf_energy_plan(e, 2, 0.0, 0, &cl, 400000, 100000, &c);  /* 1.88 J: none fits */
    cl.narrow_compute_s[1] = 1.0;                          /* 1 J + 0.02 J = 1.02 J */
    hf_energy_plan(e, 3, 0.0, 0, &cl, 400000, 100000, &d);  /* 1.88 J: the second */
    CU_ASSERT_EQUAL(a.narrow, 0);
    CU_ASSERT_DOUBLE_EQUAL(a.e.total_j, 20.08, 1e-12);
    CU_ASSERT_EQUAL(b.outcome, HF_OUT_COMPLETED);
    CU_ASSERT_EQUAL(b.narrow, 1);
    CU_ASSERT_EQUAL(b.strategy, HF_BUDGET_WIDTH);
    CU_ASSERT_EQUAL(b.steps, 60);
    CU_ASSERT_EQUAL(b.scale, 1.0);
    CU_ASSERT_EQUAL(b.compute_s, 8.0);
    CU_ASSERT_EQUAL(b.bytes_down, 200000u);
    CU_ASSERT_EQUAL(b.bytes_up, 200000u);
    CU_ASSERT_DOUBLE_EQUAL(b.e.total_j, 8.04, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(b.remaining_j, 30 - 20.08 - 8.04, 1e-12);
    CU_ASSERT_EQUAL(c.outcome, HF_OUT_OVER_BUDGET);
    CU_ASSERT_EQUAL(c.narrow, 0);
    CU_ASSERT_EQUAL(c.e.total_j, 0.0);
    CU_ASSERT_DOUBLE_EQUAL(c.remaining_j, 30 - 20.08 - 8.04, 1e-12);
    CU_ASSERT_EQUAL(d.outcome, HF_OUT_COMPLETED);
    CU_ASSERT_EQUAL(d.narrow, 2);
    CU_ASSERT_DOUBLE_EQUAL(d.e.total_j, 1.02, 1e-12);
    hf_energy_free(e);
    /* the other strategies never narrow */
    e = mk_energy("[energy]\nbudget_j = 10\nbudget_strategy = steps\n", 2, 10);
    hf_energy_plan(e, 0, 0.0, 0, &cl, 400000, 100000, &a);
    CU_ASSERT_EQUAL(a.narrow, 0);
    CU_ASSERT_EQUAL(a.strategy, HF_BUDGET_STEPS);
    hf_energy_free(e);
}

/* ------------------------------------------------------------- RAPL --- */

static void test_rapl_fake_tree(void)
{
    char root[512];
    snprintf(root, sizeof root, "%s/powercap", tmpdir);
    mkdir(root, 0755);
    mkzone(root, "intel-rapl:0", "package-0\n", "1000000\n", "262143328850\n");
    mkzone(root, "intel-rapl:0:0", "core\n", "500\n", "262143328850\n");     /* inside package */
    mkzone(root, "intel-rapl:0:1", "dram\n", "2000000\n", "65712999613\n");
    mkzone(root, "intel-rapl:1", "package-1\n", "262143000000\n", "262143328850\n");
    mkzone(root, "intel-rapl-mmio:0", "package-0\n", "5\n", "10\n");        /* not counted */
    hf_rapl_t r;
    CU_ASSERT_EQUAL(hf_rapl_open(&r, root, stderr), 3);
    CU_ASSERT_EQUAL(r.npackages, 2);
    hf_rapl_begin(&r);
    char d[1024];
    snprintf(d, sizeof d, "%s/intel-rapl:0", root);
    put(d, "energy_uj", "3500000\n");                         /* +2.5 J */
    snprintf(d, sizeof d, "%s/intel-rapl:0:1", root);
    put(d, "energy_uj", "2500000\n");                         /* +0.5 J */
    snprintf(d, sizeof d, "%s/intel-rapl:1", root);
    put(d, "energy_uj", "671150\n");                          /* wrapped: 328850 + 671150 = 1 J */
    snprintf(d, sizeof d, "%s/intel-rapl:0:0", root);
    put(d, "energy_uj", "99999999\n");                        /* core: ignored */
    double j = hf_rapl_end(&r);
    CU_ASSERT_DOUBLE_EQUAL(j, 4.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(hf_rapl_attribute(j, 2, 8), 1.0, 1e-12);
    CU_ASSERT(isnan(hf_rapl_attribute(NAN, 2, 8)));
    /* a counter that vanishes mid-run → NaN */
    hf_rapl_begin(&r);
    snprintf(d, sizeof d, "%s/intel-rapl:0:1/energy_uj", root);
    unlink(d);
    CU_ASSERT(isnan(hf_rapl_end(&r)));
    /* absent tree → 0 zones, NaN, exactly one warning */
    hf_rapl_reset_warning();
    char wpath[512];
    snprintf(wpath, sizeof wpath, "%s/warn.txt", tmpdir);
    FILE *w = fopen(wpath, "w");
    snprintf(d, sizeof d, "%s/nonexistent", tmpdir);
    CU_ASSERT_EQUAL(hf_rapl_open(&r, d, w), 0);
    CU_ASSERT_EQUAL(hf_rapl_open(&r, d, w), 0);
    hf_rapl_begin(&r);
    CU_ASSERT(isnan(hf_rapl_end(&r)));
    fclose(w);
    w = fopen(wpath, "r");
    int lines = 0, ch;
    while ((ch = fgetc(w)) != EOF) lines += ch == '\n';
    fclose(w);
    CU_ASSERT_EQUAL(lines, 1);
}

/* ----------------------------------------------------------- carbon --- */

static void test_time(void)
{
    int64_t t;
    CU_ASSERT_EQUAL(hf_time_parse("1970-01-01T00:00Z", &t), 0);
    CU_ASSERT_EQUAL(t, 0);
    CU_ASSERT_EQUAL(hf_time_parse("2022-01-01 00:00:00+00:00", &t), 0);
    CU_ASSERT_EQUAL(t, 1640995200);
    CU_ASSERT_EQUAL(hf_time_parse("2022-03-01T12:30:15-02:00", &t), 0);
    CU_ASSERT_EQUAL(t, 1646137815 + 7200);
    CU_ASSERT_EQUAL(hf_time_parse("2022-13-01", &t), -1);
    CU_ASSERT_EQUAL(hf_time_parse("2022-01-01T00", &t), -1);
    char b[32];
    hf_time_format(1646137815, b, sizeof b);
    CU_ASSERT_STRING_EQUAL(b, "2022-03-01T12:30:15Z");
}

static void test_trace_and_errors(void)
{
    char p[512];
    snprintf(p, sizeof p, "%s/tr.csv", tmpdir);
    put(tmpdir, "tr.csv", "# comment\ntimestamp,region,gco2_per_kwh\n"
        "2022-01-01T00:00Z,A,100\n2022-01-01T00:00Z,B,10\n2022-01-01T01:00Z,A,200\n"
        "2022-01-01T01:00Z,B,20\n");
    hf_carbon_t c = {0};
    CU_ASSERT_EQUAL_FATAL(hf_carbon_load(&c, p), 0);
    CU_ASSERT_EQUAL(c.n, 2);
    int a = hf_carbon_resolve(&c, "A");
    CU_ASSERT_EQUAL(a, 0);
    CU_ASSERT_DOUBLE_EQUAL(hf_carbon_at(&c, a, 1640995200 + 3599), 100, 0);
    CU_ASSERT_DOUBLE_EQUAL(hf_carbon_at(&c, a, 1640995200 + 3600), 200, 0);
    CU_ASSERT_DOUBLE_EQUAL(hf_carbon_at(&c, a, 1640995200 + 7200), 100, 0);  /* repeats */
    int fr = hf_carbon_resolve(&c, "FR");
    CU_ASSERT(fr >= 0);
    CU_ASSERT_DOUBLE_EQUAL(hf_carbon_at(&c, fr, 0), 51.28, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(hf_carbon_country("WORLD"), 475, 0);
    CU_ASSERT_EQUAL(hf_carbon_resolve(&c, "XX-NOPE"), -1);
    hf_carbon_free(&c);
    /* an EIA-style file with empty cells: leading ones take the first value, inner gaps
     * are interpolated linearly, trailing ones take the last value */
    snprintf(p, sizeof p, "%s/ZZ_NG_gaps.csv", tmpdir);
    put(tmpdir, "ZZ_NG_gaps.csv", "timestamp,WND,avg_CI\n2022-01-01 00:00:00+00:00,1,\n"
        "2022-01-01 01:00:00+00:00,1,100\n2022-01-01 02:00:00+00:00,1,\n"
        "2022-01-01 03:00:00+00:00,1,\n2022-01-01 04:00:00+00:00,1,400\n"
        "2022-01-01 05:00:00+00:00,1,\n");
    CU_ASSERT_EQUAL_FATAL(hf_carbon_load(&c, p), 0);
    int z = hf_carbon_resolve(&c, "ZZ");
    CU_ASSERT_FATAL(z >= 0);
    double want[6] = {100, 100, 200, 300, 400, 400};
    for (int h = 0; h < 6; h++) CU_ASSERT_DOUBLE_EQUAL(hf_carbon_at(&c, z, 1640995200 + 3600 * h), want[h], 1e-9);
    hf_carbon_free(&c);
    memset(&c, 0, sizeof c);
    snprintf(p, sizeof p, "%s/tr.csv", tmpdir);
    /* errors carry FILE:LINE */
    struct { const char *text, *want; } bad[] = {
        {"timestamp,region,gco2_per_kwh\n2022-01-01T00:00Z,A,100\n2022-01-01T02:00Z,A,1\n",
         "tr.csv:3: region A: timestamps must be hourly"},
        {"timestamp,region,gco2_per_kwh\n2022-01-01T00:00Z,A,-5\n", "tr.csv:2: bad gco2_per_kwh"},
        {"timestamp,region,gco2_per_kwh\nyesterday,A,5\n", "tr.csv:2: bad timestamp"},
        {"# c\ntime,where,what\n", "tr.csv:2: unknown carbon file header"},
        {"region,month,h00,h01,h02,h03,h04,h05,h06,h07,h08,h09,h10,h11,h12,h13,h14,h15,h16,h17,h18,"
         "h19,h20,h21,h22,h23\nA,13,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1\n",
         "tr.csv:2: bad month"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        put(tmpdir, "tr.csv", bad[i].text);
        hf_carbon_t d = {0};
        CU_ASSERT_EQUAL(hf_carbon_load(&d, p), HF_EINPUT);
        if (!strstr(hf_errmsg(), bad[i].want)) printf("\n  got: %s\n  want: %s\n", hf_errmsg(), bad[i].want);
        CU_ASSERT_PTR_NOT_NULL(strstr(hf_errmsg(), bad[i].want));
        hf_carbon_free(&d);
    }
}

/* the shipped profiles load, cover all 12 × 24 cells, and look up by month/hour */
static void test_shipped_profiles(void)
{
    const char *src = getenv("HETFL_SRCDIR");
    char p[1024];
    snprintf(p, sizeof p, "%s/traces/carbon", src ? src : "..");
    hf_carbon_t c = {0};
    int rc = hf_carbon_load(&c, p);
    if (rc) printf("\n%s\n", hf_errmsg());
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_EQUAL(c.n, 5);
    int ci = hf_carbon_resolve(&c, "CISO"), bp = hf_carbon_resolve(&c, "BPAT");
    CU_ASSERT(ci >= 0 && bp >= 0 && c.r[ci].kind == HF_CI_PROFILE);
    int64_t t;
    hf_time_parse("2022-07-15T20:00Z", &t);   /* CISO midday (UTC-7): solar */
    double noon = hf_carbon_at(&c, ci, t);
    hf_time_parse("2022-07-15T05:00Z", &t);   /* CISO night */
    double night = hf_carbon_at(&c, ci, t);
    CU_ASSERT(noon < night);
    CU_ASSERT(hf_carbon_at(&c, bp, t) < hf_carbon_at(&c, ci, t));  /* hydro-heavy BPA */
    hf_carbon_free(&c);
}

/* EIA-style importer on the real 2022 CISO file; its profile equals the shipped one */
static void test_eia_import(void)
{
    const char *sd = getenv("SHARED_DATA");
    char p[1024];
    snprintf(p, sizeof p, "%s/carbon/CISO_NG_and_avgCI_2022.csv", sd ? sd : "../shared/data");
    if (access(p, R_OK)) {
        printf("\n  SKIP: %s absent\n", p);
        return;
    }
    hf_carbon_t c = {0};
    CU_ASSERT_EQUAL_FATAL(hf_carbon_load(&c, p), 0);
    CU_ASSERT_EQUAL(c.n, 1);
    CU_ASSERT_STRING_EQUAL(c.r[0].name, "CISO");
    CU_ASSERT_EQUAL(c.r[0].kind, HF_CI_HOURLY);
    CU_ASSERT_EQUAL(c.r[0].n, 8760);
    CU_ASSERT_EQUAL(c.r[0].t0, 1640995200);
    CU_ASSERT_DOUBLE_EQUAL(c.r[0].v[0], 222.29592090536002, 1e-9);  /* first row of the file */
    CU_ASSERT_DOUBLE_EQUAL(c.r[0].v[8759], 234.87388724035608, 1e-9);
    int ok = 1;
    for (long h = 0; h < c.r[0].n; h++)
        if (!(c.r[0].v[h] > 0 && c.r[0].v[h] < 2000)) ok = 0;   /* gaps interpolated */
    CU_ASSERT(ok);
    /* round trip: write as a trace, read back, same values (4 decimals) */
    char q[512];
    snprintf(q, sizeof q, "%s/ciso_trace.csv", tmpdir);
    FILE *f = fopen(q, "w");
    CU_ASSERT_EQUAL(hf_carbon_write_trace(&c, 0, f), 0);
    fclose(f);
    hf_carbon_t d = {0};
    CU_ASSERT_EQUAL_FATAL(hf_carbon_load(&d, q), 0);
    CU_ASSERT_EQUAL(d.r[0].n, 8760);
    CU_ASSERT_DOUBLE_EQUAL(d.r[0].v[4000], c.r[0].v[4000], 1e-4);
    /* the shipped profile's January 00h cell is the mean of the 31 values */
    double prof[12][24], s = 0;
    hf_carbon_profile(&c, 0, prof);
    for (int day = 0; day < 31; day++) s += c.r[0].v[24 * day];
    CU_ASSERT_DOUBLE_EQUAL(prof[0][0], s / 31, 1e-9);
    const char *src = getenv("HETFL_SRCDIR");
    snprintf(q, sizeof q, "%s/traces/carbon/CISO.csv", src ? src : "..");
    hf_carbon_t sp = {0};
    if (hf_carbon_load(&sp, q) == 0) {
        int ok2 = 1;
        for (int m = 0; m < 12; m++)
            for (int h = 0; h < 24; h++)
                if (fabs(sp.r[0].prof[m][h] - prof[m][h]) > 0.051) ok2 = 0;
        CU_ASSERT(ok2);
    }
    hf_carbon_free(&sp);
    hf_carbon_free(&c);
    hf_carbon_free(&d);
}

/* ------------------------------------------------------ carbon-aware --- */

/* Empirical inclusion frequencies of the systematic sampler match π_k, the
 * cheaper region is favoured, weights are 1/π_k, and the same key gives the
 * same selection. */
static void test_aware_sampler(void)
{
    char text[1024];
    snprintf(text, sizeof text, "[energy]\ncarbon_file = %s/two.csv\nregions = LO:0.5,HI:0.5\n"
             "scheduler = carbon-aware\nfair_alpha = 1\n", tmpdir);
    put(tmpdir, "two.csv", "timestamp,region,gco2_per_kwh\n2022-01-01T00:00Z,LO,100\n"
        "2022-01-01T00:00Z,HI,400\n");
    const int N = 20, m = 5, T = 4000;
    hf_energy_t *e = mk_energy(text, N, T);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    hf_energy_client_t cl[20];
    for (int k = 0; k < N; k++) cl[k] = (hf_energy_client_t){100, 10, 10.0, 0.1, 5.0, 0, 0.1};
    int sel[20], cnt[20] = {0};
    double ipi[20], start, inv[20] = {0};
    for (int t = 0; t < T; t++) {
        int ns = hf_energy_select(e, t, 0.0, m, cl, 1000, 1000, sel, ipi, &start);
        CU_ASSERT_EQUAL(ns, m);
        for (int i = 0; i < ns; i++) { cnt[sel[i]]++; inv[sel[i]] = ipi[i]; }
        for (int i = 1; i < ns; i++) CU_ASSERT(sel[i] > sel[i - 1]);
    }
    /* α = 1: x ∝ 1/c, LO four times HI; 10 + 10 clients, Σπ = 5 → π_LO = 0.4, π_HI = 0.1 */
    int ok = 1;
    for (int k = 0; k < N; k++) {
        int lo = !strcmp(hf_energy_region_name(e, k), "LO");
        double pi = lo ? 0.4 : 0.1, f = (double)cnt[k] / T, se = sqrt(pi * (1 - pi) / T);
        if (fabs(f - pi) > 5 * se) ok = 0;
        if (fabs(inv[k] - 1 / pi) > 1e-9) ok = 0;
    }
    CU_ASSERT(ok);
    /* m = 14: water-filling caps the LO clients (14 x 4/50 > 1) at pi = 1 and spreads the
     * remaining 4 over the 10 HI clients: pi_HI = 0.4 (1/pi = 2.5), exactly 4 of them */
    {
        int ns = hf_energy_select(e, 3, 0.0, 14, cl, 1000, 1000, sel, ipi, &start);
        CU_ASSERT_EQUAL(ns, 14);
        int nlo = 0, nhi = 0, vals = 1;
        for (int i = 0; i < ns; i++) {
            int lo = !strcmp(hf_energy_region_name(e, sel[i]), "LO");
            nlo += lo;
            nhi += !lo;
            vals &= fabs(ipi[i] - (lo ? 1.0 : 2.5)) < 1e-12;
        }
        CU_ASSERT(nlo == 10 && nhi == 4);
        CU_ASSERT(vals);
    }
    int s1[20], s2[20];
    hf_energy_select(e, 17, 0.0, m, cl, 1000, 1000, s1, ipi, &start);
    hf_energy_select(e, 17, 0.0, m, cl, 1000, 1000, s2, ipi, &start);
    CU_ASSERT(memcmp(s1, s2, sizeof(int) * m) == 0);
    hf_energy_free(e);
    /* slack: a round at 00:00 with a cheap hour at 02:00 is deferred there */
    put(tmpdir, "slot.csv", "timestamp,region,gco2_per_kwh\n2022-01-01T00:00Z,X,300\n"
        "2022-01-01T01:00Z,X,200\n2022-01-01T02:00Z,X,50\n2022-01-01T03:00Z,X,400\n");
    snprintf(text, sizeof text, "[energy]\ncarbon_file = %s/slot.csv\nregions = X\n"
             "scheduler = carbon-aware\nslack_h = 3\n", tmpdir);
    e = mk_energy(text, N, 10);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    hf_energy_select(e, 0, 0.0, m, cl, 1000, 1000, sel, ipi, &start);
    CU_ASSERT_DOUBLE_EQUAL(start, 7200.0, 0);
    hf_energy_free(e);
    /* a carbon budget lowers the number selected */
    snprintf(text, sizeof text, "[energy]\ncarbon_file = %s/slot.csv\nregions = X\n"
             "scheduler = carbon-aware\ncarbon_budget_g = 0.01\n", tmpdir);
    e = mk_energy(text, N, 10);
    int ns = hf_energy_select(e, 0, 0.0, m, cl, 1000, 1000, sel, ipi, &start);
    CU_ASSERT(ns >= 1 && ns < m);
    hf_energy_free(e);
    /* by hand: every client costs c = (5 W x 10 s + 0.1 J/MB x 2000 B) x 300 g/kWh, equal
     * shares pi = m/N, expected round carbon m c.  Budget 12.5 c over 10 rounds, at round
     * t = 5: what is left, spread over the 5 rounds left, allows 2.5 c: floor(5 x 2.5/5) = 2
     * clients; after 5 c spent, 1.5 c: 1 client */
    double c = (5.0 * 10 + 0.1 * 2000 / 1e6) * 300 / 3.6e6;
    snprintf(text, sizeof text, "[energy]\ncarbon_file = %s/slot.csv\nregions = X\n"
             "scheduler = carbon-aware\ncarbon_budget_g = %.17g\n", tmpdir, 12.5 * c);
    e = mk_energy(text, N, 10);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_EQUAL(hf_energy_select(e, 5, 0.0, m, cl, 1000, 1000, sel, ipi, &start), 2);
    CU_ASSERT_DOUBLE_EQUAL(ipi[0], 10.0, 1e-12);   /* pi = 2/20 */
    hf_energy_round_done(e, 5 * c);
    CU_ASSERT_EQUAL(hf_energy_select(e, 5, 0.0, m, cl, 1000, 1000, sel, ipi, &start), 1);
    hf_energy_free(e);
}

static void test_regions_errors(void)
{
    hf_conf_t c = {0};
    char name[512];
    snprintf(name, sizeof name, "%s/t.conf", tmpdir);
    CU_ASSERT_EQUAL_FATAL(hf_conf_load_string(&c, "[energy]\nregions = FR:1,ATLANTIS:1\n", name,
                                              hf_options_table(), NULL, 0, -1), 0);
    int rc;
    CU_ASSERT_PTR_NULL(hf_energy_new(&c, 1, 10, 5, &rc));
    CU_ASSERT_EQUAL(rc, HF_EINPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(hf_errmsg(), "t.conf:2: key 'energy.regions': unknown region 'ATLANTIS'"));
    hf_conf_free(&c);
    /* quotas: FR:3,DE:1 over 8 clients → 6 and 2 */
    hf_energy_t *e = mk_energy("[energy]\nregions = FR:3,DE:1\n", 8, 5);
    int fr = 0;
    for (int k = 0; k < 8; k++) fr += !strcmp(hf_energy_region_name(e, k), "FR");
    CU_ASSERT_EQUAL(fr, 6);
    CU_ASSERT_DOUBLE_EQUAL(hf_energy_ci(e, 0, 0), !strcmp(hf_energy_region_name(e, 0), "FR") ? 51.28 : 338.66, 1e-9);
    hf_energy_free(e);
    /* largest remainder, ties to the first listed: 3 equal shares of 10 -> 4, 3, 3 */
    e = mk_energy("[energy]\nregions = PL:1,FR:1,DE:1\n", 10, 5);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    int cnt[3] = {0};
    const char *names[3] = {"PL", "FR", "DE"};
    for (int k = 0; k < 10; k++)
        for (int i = 0; i < 3; i++) cnt[i] += !strcmp(hf_energy_region_name(e, k), names[i]);
    CU_ASSERT(cnt[0] == 4 && cnt[1] == 3 && cnt[2] == 3);
    hf_energy_free(e);
    /* devices.deal = bijection: FR:1,DE:2 of 1,000 → 333.3, 666.7 → 333 and 667 (the remainder to
     * DE's larger fraction), client k in FR iff π(k) < 333, π the bijection of the stream
     * (seed 7, energy, 1, 0); describe lists the quotas in the order the regions were resolved */
    e = mk_energy("[devices]\ndeal = bijection\n[energy]\nregions = FR:1,DE:2\n", 1000, 5);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    hf_rng_t r;
    hf_rng_init(&r, 7, HF_RNG_ENERGY, 1, 0);
    hf_rng_bij_t b;
    hf_rng_bij_init(&b, &r, 1000);
    int nfr = 0, by_image = 1;
    for (int k = 0; k < 1000; k++) {
        int is_fr = !strcmp(hf_energy_region_name(e, k), "FR");
        nfr += is_fr;
        by_image &= is_fr == (hf_rng_bij_at(&b, (uint32_t)k) < 333);
    }
    CU_ASSERT_EQUAL(nfr, 333);
    CU_ASSERT(by_image);
    char d[256];
    hf_energy_describe(e, d, sizeof d);
    CU_ASSERT_STRING_EQUAL(d, "FR:333,DE:667");
    hf_energy_free(e);
}

/* The sparse client store (cstore.c): slots by hand.  1,000 clients, bound 4:
 * 8 slots (the least power of two >= 2 x 4); client k's home slot is the top
 * 3 bits of k x 0x9E3779B97F4A7C15 mod 2^64 (Python: 1 -> 4, 9 -> 4, 8 -> 7,
 * 16 -> 7, 0 -> 0), linear probing: 1 in 4, 9 in 5, 8 in 7, 16 wraps to 0. */
static void test_cstore(void)
{
    hf_cstore_t s;
    hf_cstore_init(&s, 1000, 4, 16);
    CU_ASSERT(!s.direct && s.cap == 8 && s.esize == 24);
    CU_ASSERT_DOUBLE_EQUAL(hf_cstore_bytes(1000, 4, 16), 8 * 24, 0);
    const int ids[4] = {1, 9, 8, 16}, want_slot[4] = {4, 5, 7, 0};
    for (int i = 0; i < 4; i++) {
        int created;
        double *v = hf_cstore_get(&s, ids[i], &created);
        CU_ASSERT(created);
        v[0] = 10.0 * ids[i];
        v[1] = -1;
        CU_ASSERT_PTR_EQUAL(v, s.slot + (size_t)want_slot[i] * 24 + 8);
        int64_t id;
        memcpy(&id, s.slot + (size_t)want_slot[i] * 24, 8);
        CU_ASSERT_EQUAL(id, ids[i] + 1);
    }
    CU_ASSERT_EQUAL(s.count, 4);
    int created;
    double *v = hf_cstore_get(&s, 9, &created);
    CU_ASSERT(!created && v[0] == 90.0 && v[1] == -1);
    CU_ASSERT_PTR_NULL(hf_cstore_find(&s, 0));    /* home 0 holds 16, slot 1 is empty */
    CU_ASSERT_PTR_NULL(hf_cstore_find(&s, 17));   /* home 4: 1, 9, slot 6 empty */
    v = hf_cstore_find(&s, 16);
    CU_ASSERT(v && v[0] == 160.0);
    hf_cstore_free(&s);
    /* bound 8 of 10 clients: 16 slots would be more than the clients: direct, slot k = client k */
    hf_cstore_init(&s, 10, 8, 12);
    CU_ASSERT(s.direct && s.cap == 10 && s.esize == 24);
    CU_ASSERT_DOUBLE_EQUAL(hf_cstore_bytes(10, 8, 12), 10 * 24, 0);
    CU_ASSERT_PTR_EQUAL(hf_cstore_get(&s, 7, &created), s.slot + 7 * 24 + 8);
    CU_ASSERT(created && s.count == 1 && !hf_cstore_find(&s, 6) && hf_cstore_find(&s, 7));
    hf_cstore_free(&s);
    CU_ASSERT_DOUBLE_EQUAL(hf_cstore_bytes(1000000000, 40000, 16), 131072.0 * 24, 0);
}

/* Budgets spent kept sparsely (bound 4 of 1,000 clients) plan exactly as the
 * direct table (bound = the population): budget 30 J, a full round 20.08 J,
 * refills every hour.  Client 1 twice in the first hour: 9.92 J left, then over
 * budget (exclude); client 9 again at 4000 s: refilled, 9.92 J left again. */
static void test_budget_sparse(void)
{
    hf_energy_client_t cl = {600, 60, 4.0, 1.0, 5.0, 0.5, 0.1};
    const char *text = "[energy]\nbudget_j = 30\nbudget_period_h = 1\n";
    hf_energy_t *dense = mk_energy(text, 1000, 10), *sparse = mk_energy(text, 1000, 10);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dense);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sparse);
    hf_energy_bound_clients(sparse, 4);
    const int k[6] = {1, 9, 8, 16, 1, 9}, out[6] = {HF_OUT_COMPLETED, HF_OUT_COMPLETED, HF_OUT_COMPLETED,
                                                   HF_OUT_COMPLETED, HF_OUT_OVER_BUDGET, HF_OUT_COMPLETED};
    const double start[6] = {0, 0, 0, 0, 10, 4000};
    for (int i = 0; i < 6; i++) {
        hf_eplan_t a, b;
        hf_energy_plan(dense, 0, start[i], k[i], &cl, 400000, 100000, &a);
        hf_energy_plan(sparse, 0, start[i], k[i], &cl, 400000, 100000, &b);
        CU_ASSERT_EQUAL(a.outcome, out[i]);
        CU_ASSERT_EQUAL(b.outcome, out[i]);
        CU_ASSERT(!memcmp(&a.remaining_j, &b.remaining_j, sizeof(double)));
        CU_ASSERT_DOUBLE_EQUAL(b.remaining_j, 30 - 20.08, 1e-9);
    }
    CU_ASSERT_DOUBLE_EQUAL(hf_energy_budget(sparse, 500), 30.0, 0);  /* never planned */
    hf_energy_free(dense);
    hf_energy_free(sparse);
    /* energy.battery_budget alone: class 0's battery (100 J), class 1's not finite: unlimited */
    hf_energy_t *e = mk_energy("[energy]\nbattery_budget = yes\n", 4, 10);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT(isinf(hf_energy_budget(e, 0)));
    const int cnt[2] = {2, 2};
    const double bat[2] = {100.0, INFINITY};
    hf_rng_t r;
    hf_rng_init(&r, 1, HF_RNG_TEST, 0, 0);
    hf_deal_t dl;
    hf_deal_init(&dl, &r, 4, 2, cnt, HF_DEAL_PERMUTATION);
    hf_energy_set_batteries(e, bat, &dl);
    int n100 = 0;
    for (int j = 0; j < 4; j++) {
        double b = hf_energy_budget(e, j);
        n100 += b == 100.0;
        CU_ASSERT(b == 100.0 ? dl.cls[j] == 0 : isinf(b) && dl.cls[j] == 1);
    }
    CU_ASSERT_EQUAL(n100, 2);
    hf_energy_free(e);
    hf_deal_free(&dl);
}

static const hf_cu_test_t tests_energy[] = {
    {"model identities", test_model_identities, NULL},
    {"budgets and adaptive strategies", test_plan_budget, NULL},
    {"sparse client store: slots by hand", test_cstore, NULL},
    {"budgets spent kept sparsely == dense", test_budget_sparse, NULL},
    {"budget width adaptation", test_plan_width, NULL},
    {"RAPL fake tree, wrap-around", test_rapl_fake_tree, NULL},
    {"ISO 8601 times", test_time, NULL},
    {"carbon trace, country table, errors", test_trace_and_errors, NULL},
    {"shipped carbon profiles", test_shipped_profiles, NULL},
    {"EIA importer (shared data)", test_eia_import, NULL},
    {"carbon-aware sampler", test_aware_sampler, NULL},
    {"regions", test_regions_errors, NULL},
    {0},
};
static const hf_cu_suite_t suites[] = {
    {"energy", tests_energy, NULL, NULL},
    {0},
};

int main(int argc, char **argv)
{
    snprintf(tmpdir, sizeof tmpdir, "%s/hetfl-energy-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) return 1;
    int rc = hf_cu_main(&argc, &argv, 0, suites);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd)) {}
    return rc;
}
