/* test_avail.c — availability traces (format, loader errors, queries), the
 * generators (Markov long-run availability and lag-1 correlation), the
 * importers (on ../shared/data when present), selection policies and the
 * corrections (src/avail.c, src/select.c). */
#include "avail.h"
#include "select.h"
#include "hf_util.h"
#include "rng.h"
#include "cunit_main.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static char *write_mem(const hf_avail_t *av)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CU_ASSERT_EQUAL(hf_avail_write(av, f), 0);
    fclose(f);
    return buf;
}

static void test_roundtrip(void)
{
    const char *txt = "# a trace\n# period_s = 1000\nclient,start_s,end_s\n"
                      "1,10.25,20\n0,0,100\n0,100,150\n0,900,1000\n2,0.1,0.30000000000000004\n";
    hf_avail_t a, b;
    CU_ASSERT_EQUAL_FATAL(hf_avail_load_mem(&a, txt, strlen(txt), "t.csv", 3), 0);
    CU_ASSERT_EQUAL(a.period_s, 1000);
    CU_ASSERT_EQUAL(a.off[1] - a.off[0], 2);   /* [0,100)+[100,150) merged */
    char *w1 = write_mem(&a);
    CU_ASSERT_EQUAL_FATAL(hf_avail_load_mem(&b, w1, strlen(w1), "w1", 0), 0);
    CU_ASSERT_EQUAL(b.nclients, 3);
    CU_ASSERT_EQUAL(b.period_s, a.period_s);
    CU_ASSERT_EQUAL(b.off[3], a.off[3]);
    int same = 1;
    for (long i = 0; i < 2 * a.off[3]; i++) same &= a.iv[i] == b.iv[i];
    CU_ASSERT(same);
    char *w2 = write_mem(&b);
    CU_ASSERT_STRING_EQUAL(w1, w2);
    free(w1);
    free(w2);
    hf_avail_free(&a);
    hf_avail_free(&b);
    /* a generated trace round-trips bitwise too */
    hf_avail_spec_t s;
    hf_avail_spec_defaults(&s);
    s.model = HF_AV_SESSIONS;
    s.nclients = 20;
    s.seed = 5;
    s.horizon_s = 86400;
    CU_ASSERT_EQUAL(hf_avail_generate(&a, &s), 0);
    w1 = write_mem(&a);
    CU_ASSERT_EQUAL_FATAL(hf_avail_load_mem(&b, w1, strlen(w1), "gen", 20), 0);
    same = b.off[20] == a.off[20];
    for (long i = 0; same && i < 2 * a.off[20]; i++) same &= a.iv[i] == b.iv[i];
    CU_ASSERT(same);
    free(w1);
    hf_avail_free(&a);
    hf_avail_free(&b);
}

static void expect_err(const char *txt, int n, const char *where)
{
    hf_avail_t a;
    int rc = hf_avail_load_mem(&a, txt, strlen(txt), "bad.csv", n);
    CU_ASSERT_EQUAL(rc, HF_EINPUT);
    if (rc == 0) { hf_avail_free(&a); return; }
    if (!strstr(hf_errmsg(), where)) printf("\nmessage '%s' lacks '%s'\n", hf_errmsg(), where);
    CU_ASSERT_PTR_NOT_NULL(strstr(hf_errmsg(), where));
}

static void test_loader_errors(void)
{
    expect_err("0,0,10\n0,5,20\n", 2, "bad.csv:2: interval [5, 20) of client 0 overlaps");
    expect_err("0,30,40\n1,0,1\n0,0,10\n", 2, "bad.csv:3: interval [0, 10) of client 0 precedes");
    expect_err("0,0,10\n7,0,1\n", 2, "bad.csv:2: unknown client 7");
    expect_err("0,0,1x\n", 2, "bad.csv:1: bad number");
    expect_err("# x\n0,nan,1\n", 2, "bad.csv:2: bad number");
    expect_err("0,0,inf\n", 2, "bad.csv:1: bad number");
    expect_err("0,5,5\n", 2, "bad.csv:1: interval");
    expect_err("0,-1,5\n", 2, "bad.csv:1: interval");
    expect_err("0,0\n", 2, "bad.csv:1: expected 3 fields");
    expect_err("0,0,1,2\n", 2, "bad.csv:1: expected 3 fields");
    expect_err("-1,0,1\n", 2, "bad.csv:1: bad client id");
    expect_err("# period_s = 10\n0,0,11\n", 2, "bad.csv:2: interval end 11 beyond period_s");
    expect_err("0,0,1\n# period_s = 10\n", 2, "bad.csv:2: period_s");
    expect_err("# clients = 2\n3,0,1\n", 0, "bad.csv:2: unknown client 3");
    expect_err("client,begin,end\n", 2, "bad.csv:1: expected the header");
}

static void test_queries(void)
{
    /* client 0: [10,20) [30,40); client 1: none; periodic client 2 wraps */
    const char *txt = "0,10,20\n0,30,40\n";
    hf_avail_t a;
    CU_ASSERT_EQUAL_FATAL(hf_avail_load_mem(&a, txt, strlen(txt), "q", 2), 0);
    CU_ASSERT(!hf_avail_online(&a, 0, 9.999));
    CU_ASSERT(hf_avail_online(&a, 0, 10));
    CU_ASSERT(!hf_avail_online(&a, 0, 20));
    CU_ASSERT_EQUAL(hf_avail_next_change(&a, 0, 0), 10);
    CU_ASSERT_EQUAL(hf_avail_next_change(&a, 0, 10), 20);
    CU_ASSERT_EQUAL(hf_avail_next_change(&a, 0, 20), 30);
    CU_ASSERT(isinf(hf_avail_next_change(&a, 0, 40)));
    CU_ASSERT(isinf(hf_avail_next_change(&a, 1, 0)));
    CU_ASSERT(!hf_avail_online(&a, 1, 5));
    CU_ASSERT_EQUAL(hf_avail_count(&a, 15, NULL), 1);
    CU_ASSERT_DOUBLE_EQUAL(hf_avail_fraction(&a, 0, 50), 0.4, 1e-12);
    hf_avail_free(&a);
    const char *per = "# period_s = 100\n0,0,10\n0,50,100\n1,0,100\n2,20,30\n";
    CU_ASSERT_EQUAL_FATAL(hf_avail_load_mem(&a, per, strlen(per), "p", 3), 0);
    CU_ASSERT(hf_avail_online(&a, 0, 205));
    CU_ASSERT(!hf_avail_online(&a, 0, 215));
    CU_ASSERT_EQUAL(hf_avail_next_change(&a, 0, 60), 110);    /* [50,100)+[100,110) */
    CU_ASSERT_EQUAL(hf_avail_next_change(&a, 0, 5), 10);
    CU_ASSERT_EQUAL(hf_avail_next_change(&a, 0, 15), 50);
    CU_ASSERT(isinf(hf_avail_next_change(&a, 1, 123)));
    CU_ASSERT_EQUAL(hf_avail_next_change(&a, 2, 35), 120);
    CU_ASSERT_EQUAL(hf_avail_next_change(&a, 2, 120), 130);
    /* withdrawal: client 1 leaves at 250 */
    a.leave_s = hf_malloc(3 * sizeof(double));
    a.leave_s[0] = a.leave_s[2] = INFINITY;
    a.leave_s[1] = 250;
    CU_ASSERT(hf_avail_online(&a, 1, 249.9));
    CU_ASSERT(!hf_avail_online(&a, 1, 250));
    CU_ASSERT_EQUAL(hf_avail_next_change(&a, 1, 10), 250);
    CU_ASSERT(isinf(hf_avail_next_change(&a, 1, 260)));
    hf_avail_t u;
    hf_avail_unroll(&a, 300, &u);
    CU_ASSERT(hf_avail_online(&u, 1, 249) && !hf_avail_online(&u, 1, 251));
    CU_ASSERT(hf_avail_online(&u, 0, 205) && !hf_avail_online(&u, 0, 300));
    hf_avail_free(&u);
    hf_avail_free(&a);
}

/* Markov (π, λ): long-run availability and lag-1 autocorrelation of the slot
 * states.  For a two-state chain the lag-1 correlation is exactly λ, and the
 * variance of the sample mean is π(1−π)/n · (1+λ)/(1−λ). */
static void check_markov(double pi, double lam)
{
    hf_avail_spec_t s;
    hf_avail_spec_defaults(&s);
    s.model = HF_AV_MARKOV;
    s.nclients = 4;
    s.seed = 11;
    s.slot_s = 10;
    s.pi = pi;
    s.lambda = lam;
    s.horizon_s = 10.0 * 200000;
    hf_avail_t a;
    CU_ASSERT_EQUAL_FATAL(hf_avail_generate(&a, &s), 0);
    long n = 200000;
    for (int k = 0; k < 4; k++) {
        double sum = 0, s11 = 0;
        int prev = 0;
        for (long i = 0; i < n; i++) {
            int on = hf_avail_online(&a, k, (i + 0.5) * 10);
            sum += on;
            if (i) s11 += on * prev;
            prev = on;
        }
        double m = sum / n;
        double sd = sqrt(pi * (1 - pi) / n * (1 + lam) / (1 - lam));
        double cov = s11 / (n - 1) - m * m, rho = cov / (m * (1 - m));
        double sd_rho = 1.0 / sqrt((double)n) * sqrt((1 + lam * lam) / (1 - lam * lam) + 1);
        if (fabs(m - pi) > 4 * sd || fabs(rho - lam) > 5 * sd_rho)
            printf("\nmarkov pi %g lambda %g client %d: mean %g (sd %g) rho %g (sd %g)\n", pi, lam, k,
                   m, sd, rho, sd_rho);
        CU_ASSERT(fabs(m - pi) <= 4 * sd);
        CU_ASSERT(fabs(rho - lam) <= 5 * sd_rho);
        /* also the fraction computed from the intervals */
        CU_ASSERT_DOUBLE_EQUAL(hf_avail_fraction(&a, k, 10.0 * n), m, 1e-9);
    }
    hf_avail_free(&a);
}

static void test_markov(void)
{
    check_markov(0.5, 0.0);
    check_markov(0.3, 0.6);
    check_markov(0.75, -0.2);
    check_markov(0.2, 0.9);
}

static void test_cafed_mix(void)
{
    hf_avail_spec_t s;
    hf_avail_spec_defaults(&s);
    s.model = HF_AV_MARKOV;
    s.mix_cafed = 1;
    s.nclients = 24;
    s.seed = 3;
    int n_avail = 0, n_stable = 0;
    for (int k = 0; k < 24; k++) {
        double pi, lam;
        hf_avail_markov_params(&s, k, &pi, &lam);
        CU_ASSERT(pi == 0.75 || pi == 0.25);
        n_avail += pi == 0.75;
        n_stable += lam == 0.25;
        /* valid transition probabilities */
        double a = lam + (1 - lam) * pi, b = (1 - lam) * pi;
        CU_ASSERT(a >= 0 && a <= 1 && b >= 0 && b <= 1);
        if (pi == 0.75) CU_ASSERT(fabs(lam) < 0.1);    /* available: shifting */
    }
    CU_ASSERT_EQUAL(n_avail, 12);   /* 1/2 available-shifting */
    CU_ASSERT_EQUAL(n_stable, 6);   /* 1/4 unavailable-stable */
}

static void test_other_generators(void)
{
    hf_avail_spec_t s;
    hf_avail_spec_defaults(&s);
    hf_avail_t a;
    /* cyclic: exactly one group online at any time */
    s.model = HF_AV_CYCLIC;
    s.nclients = 12;
    s.groups = 4;
    s.cycle_s = 400;
    CU_ASSERT_EQUAL_FATAL(hf_avail_generate(&a, &s), 0);
    for (double t = 0.5; t < 2000; t += 37) {
        int g = (int)(fmod(t, 400) / 100);
        for (int k = 0; k < 12; k++) CU_ASSERT_EQUAL(hf_avail_online(&a, k, t), k % 4 == g);
    }
    hf_avail_free(&a);
    /* diurnal without jitter: on_hours / 24 of each day */
    s.model = HF_AV_DIURNAL;
    s.nclients = 10;
    s.jitter_h = 0;
    s.on_hours = 6;
    s.horizon_s = 3 * 86400;
    CU_ASSERT_EQUAL_FATAL(hf_avail_generate(&a, &s), 0);
    for (int k = 0; k < 10; k++) CU_ASSERT_DOUBLE_EQUAL(hf_avail_fraction(&a, k, 3 * 86400), 0.25, 1e-9);
    hf_avail_free(&a);
    /* sessions: long-run availability on/(on+off) */
    s.model = HF_AV_SESSIONS;
    s.nclients = 50;
    s.on_mean_s = 600;
    s.off_mean_s = 1800;
    s.horizon_s = 30 * 86400;
    double m = 0;
    for (int lg = 0; lg < 2; lg++) {
        s.lognormal = lg;
        s.shape = lg ? 0.8 : 1.5;
        CU_ASSERT_EQUAL_FATAL(hf_avail_generate(&a, &s), 0);
        m = 0;
        for (int k = 0; k < 50; k++) m += hf_avail_fraction(&a, k, s.horizon_s) / 50;
        CU_ASSERT_DOUBLE_EQUAL(m, 0.25, 0.02);
        hf_avail_free(&a);
    }
    /* withdraw: exactly round(f N) clients offline for good after T */
    s.model = HF_AV_ALWAYS;
    s.nclients = 40;
    s.withdraw_fraction = 0.25;
    s.withdraw_at_s = 1000;
    CU_ASSERT_EQUAL_FATAL(hf_avail_generate(&a, &s), 0);
    CU_ASSERT_EQUAL(hf_avail_count(&a, 999, NULL), 40);
    CU_ASSERT_EQUAL(hf_avail_count(&a, 1000, NULL), 30);
    CU_ASSERT_EQUAL(hf_avail_count(&a, 1e9, NULL), 30);
    hf_avail_free(&a);
}

static void test_import_shared(void)
{
    const char *sd = getenv("SHARED_DATA");
    char path[4096];
    const char *files[2] = {
        "aws-spot-instances-g4dn-xlarge-us-east-1c-2020-11-20-1930-to-2020-11-21-2200.csv",
        "aws-spot-instances-p2-xlarge-2020-11-20-to-2020-11-23.csv"};
    double unit[2] = {1.0, 3600.0};
    for (int f = 0; f < 2; f++) {
        snprintf(path, sizeof path, "%s/availability/%s", sd ? sd : "../shared/data", files[f]);
        FILE *fp = fopen(path, "r");
        if (!fp) { printf("\n  skipped: %s absent\n", path); continue; }
        /* reference step function read here independently */
        double t[1024];
        long c[1024], n = 0, maxc = 0;
        while (n < 1024 && fscanf(fp, "%lf,%ld", &t[n], &c[n]) == 2) {
            t[n] *= unit[f];
            if (c[n] > maxc) maxc = c[n];
            n++;
        }
        fclose(fp);
        hf_avail_t a;
        CU_ASSERT_EQUAL_FATAL(hf_avail_import_steps(&a, path, unit[f], 0, 0, 1), 0);
        CU_ASSERT_EQUAL(a.nclients, maxc);
        int ok = 1;
        for (long i = 0; i + 1 < n; i++)
            if (t[i + 1] > t[i]) ok &= hf_avail_count(&a, 0.5 * (t[i] + t[i + 1]), NULL) == c[i];
        CU_ASSERT(ok);
        hf_avail_free(&a);
        /* seeded shuffle keeps the counts */
        CU_ASSERT_EQUAL_FATAL(hf_avail_import_steps(&a, path, unit[f], 0, 1, 7), 0);
        ok = 1;
        for (long i = 0; i + 1 < n; i++)
            if (t[i + 1] > t[i]) ok &= hf_avail_count(&a, 0.5 * (t[i] + t[i + 1]), NULL) == c[i];
        CU_ASSERT(ok);
        hf_avail_free(&a);
    }
}

static void test_import_json(void)
{
    char path[] = "/tmp/hetfl-spot-XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("{\"metadata\": {\"gap_seconds\": 600}, \"data\": [0, 0, 1, 0, 1, 1]}", f);
    fclose(f);
    hf_avail_t a;
    CU_ASSERT_EQUAL_FATAL(hf_avail_import_spot_json(&a, path, 0, 3, 0, 1), 0);
    CU_ASSERT_EQUAL(a.period_s, 3600);
    CU_ASSERT(hf_avail_online(&a, 0, 0) && hf_avail_online(&a, 0, 1199) && !hf_avail_online(&a, 0, 1200));
    CU_ASSERT(hf_avail_online(&a, 0, 1800) && !hf_avail_online(&a, 0, 2400));
    for (int k = 0; k < 3; k++) CU_ASSERT_DOUBLE_EQUAL(hf_avail_fraction(&a, k, 3600), 0.5, 1e-12);
    hf_avail_free(&a);
    CU_ASSERT_EQUAL_FATAL(hf_avail_import_spot_json(&a, path, 1, 0, 0, 1), 0);
    CU_ASSERT_EQUAL(a.nclients, 1);
    CU_ASSERT(hf_avail_online(&a, 0, 1300) && !hf_avail_online(&a, 0, 100));
    hf_avail_free(&a);
    f = fopen(path, "w");
    fputs("{\"metadata\": {\"gap_seconds\": 600}, \"data\": [0, 2]}", f);
    fclose(f);
    CU_ASSERT_EQUAL(hf_avail_import_spot_json(&a, path, 0, 3, 0, 1), HF_EINPUT);
    remove(path);
}

/* ------------------------------------------------------------- selection --- */

static void random_mask(unsigned char *mask, int N, int round)
{
    hf_rng_t r;
    hf_rng_init(&r, 99, HF_RNG_TEST, (uint64_t)round, 0);
    for (int k = 0; k < N; k++) mask[k] = hf_rng_uniform(&r) < (k % 3 == 0 ? 0.2 : 0.7);
}

static void test_policies_invariants(void)
{
    enum { N = 60 };
    long samples[N];
    for (int k = 0; k < N; k++) samples[k] = 10 + (k * 7) % 50;
    const char *pols[] = {"uniform", "poc", "f3ast", "forecast", "cyclic"};
    hf_correction_t corrs[] = {HF_CORR_NONE, HF_CORR_UNBIASED, HF_CORR_CAFED};
    hf_avail_spec_t sp;
    hf_avail_spec_defaults(&sp);
    sp.model = HF_AV_MARKOV;
    sp.nclients = N;
    sp.seed = 2;
    sp.pi = 0.5;
    sp.lambda = 0.5;
    sp.slot_s = 10;
    sp.horizon_s = 10000;
    hf_avail_t av;
    hf_avail_generate(&av, &sp);
    for (size_t p = 0; p < 5; p++)
        for (size_t c = 0; c < 3; c++) {
            hf_select_t *s = hf_select_new(pols[p], corrs[c], N, samples, NULL, NULL);
            hf_select_t *s2 = hf_select_new(pols[p], corrs[c], N, samples, NULL, NULL);
            CU_ASSERT_PTR_NOT_NULL_FATAL(s);
            int bad = 0;
            for (int t = 0; t < 40; t++) {
                unsigned char mask[N];
                double now = t * 25.0;
                hf_avail_count(&av, now, mask);
                if (t % 5 == 4) random_mask(mask, N, t);
                hf_select_observe(s, mask);
                hf_select_observe(s2, mask);
                int out[N], out2[N], na, ne, na2, ne2;
                int n = hf_select_round(s, t, 7, 8, mask, &av, now, NULL, out, &na, &ne);
                int n2 = hf_select_round(s2, t, 7, 8, mask, &av, now, NULL, out2, &na2, &ne2);
                /* identical on every "rank" */
                bad |= n != n2 || memcmp(out, out2, (size_t)n * sizeof(int)) != 0;
                int cnt = 0;
                for (int k = 0; k < N; k++) cnt += mask[k];
                bad |= na != cnt || n > 8 || n > ne || ne > na;
                for (int i = 0; i < n; i++) {
                    bad |= !mask[out[i]];                 /* never an offline client */
                    if (i) bad |= out[i] <= out[i - 1];   /* sorted, distinct */
                    if (corrs[c] == HF_CORR_CAFED) bad |= !(s->alloc[out[i]] > 1e-8);
                    if (!strcmp(pols[p], "cyclic")) bad |= out[i] % ((N + 7) / 8) != t % ((N + 7) / 8);
                }
                if (strcmp(pols[p], "cyclic") && corrs[c] != HF_CORR_CAFED) bad |= n != HF_MIN(8, cnt);
                double w[N];
                int own = hf_select_weights(s, out, n, ne, w);
                if (corrs[c] == HF_CORR_UNBIASED)
                    for (int i = 0; i < n; i++)
                        bad |= fabs(w[i] - s->q[out[i]] / s->pi_hat[out[i]] * ne / n) > 1e-12;
                if (corrs[c] == HF_CORR_NONE && !strcmp(pols[p], "uniform")) bad |= own != 0;
                double loss[N];
                for (int i = 0; i < n; i++) loss[i] = 1.0 + out[i] % 5;
                hf_select_losses(s, out, loss, n);
                hf_select_losses(s2, out, loss, n);
                hf_select_after(s, out, n);
                hf_select_after(s2, out, n);
            }
            if (bad) printf("\npolicy %s correction %d broke an invariant\n", pols[p], (int)corrs[c]);
            CU_ASSERT(!bad);
            hf_select_free(s);
            hf_select_free(s2);
        }
    hf_avail_free(&av);
}

/* One selection path: the population draw, async fills and the registry's flags. */
static void test_one_path(void)
{
    enum { N = 10 };
    long samples[N] = {5, 1, 9, 2, 7, 3, 8, 4, 6, 10};
    hf_select_t *s = hf_select_new("uniform", HF_CORR_NONE, N, samples, NULL, NULL);
    /* no availability model: every client, stream 0 keyed (seed, round), the draw's order kept */
    int out[N], ref[N], na = -1, ne = -1;
    hf_select_in_t in = {.round = 3, .seed = 5, .m = 4};
    CU_ASSERT_EQUAL(hf_select_pick(s, &in, NULL, out, &na, &ne), 4);
    hf_rng_t r;
    hf_rng_init(&r, 5, HF_RNG_SELECT, 3, 0);
    hf_rng_sample(&r, N, 4, ref);
    CU_ASSERT(!memcmp(out, ref, 4 * sizeof(int)));
    CU_ASSERT(na == N && ne == N);
    /* async fill: stream "ASYC" keyed by the fill count, among the candidates, sorted */
    int cand[5] = {1, 2, 4, 7, 9};
    CU_ASSERT_EQUAL(hf_select_fill(s, 5, 11, cand, 5, 3, out), 3);
    hf_rng_init(&r, 5, HF_RNG_SELECT, 11, 0x41535943u);
    hf_rng_sample(&r, 5, 3, ref);
    int want[3] = {cand[ref[0]], cand[ref[1]], cand[ref[2]]};
    for (int i = 0; i < 3; i++)  /* sort the three */
        for (int j = i + 1; j < 3; j++)
            if (want[j] < want[i]) { int t = want[i]; want[i] = want[j]; want[j] = t; }
    CU_ASSERT(out[0] == want[0] && out[1] == want[1] && out[2] == want[2]);
    CU_ASSERT(out[0] < out[1] && out[1] < out[2]);
    /* weights come from hooks: uniform has none; carbon-aware scales by 1/pi_k */
    double f[N];
    CU_ASSERT_EQUAL(hf_select_scales(s, out, 3, f), 0);
    CU_ASSERT_EQUAL(hf_select_use(s, "carbon-aware"), 0);
    s->inv_pi[0] = 2.5; s->inv_pi[1] = 4.0;
    CU_ASSERT(hf_select_scales(s, out, 2, f) == 1 && f[0] == 2.5 && f[1] == 4.0);
    CU_ASSERT_NOT_EQUAL(hf_select_use(s, "nope"), 0);
    hf_select_free(s);
    /* the registry: the policies' flags and the names a suite may give */
    CU_ASSERT_STRING_EQUAL(hf_select_policies_with(HF_SEL_ASYNC), "uniform");
    CU_ASSERT_STRING_EQUAL(hf_select_policies_with(HF_SEL_NEEDS_ROUND_TIME), "forecast");
    CU_ASSERT_STRING_EQUAL(hf_select_policy_names(), "uniform|poc|f3ast|forecast|cyclic|poisson");
    CU_ASSERT_PTR_NOT_NULL(hf_select_policy_find("carbon-aware"));
}

static void test_policy_specifics(void)
{
    enum { N = 10 };
    long samples[N] = {10, 10, 10, 10, 10, 10, 10, 10, 10, 10};
    unsigned char all[N];
    memset(all, 1, N);
    int out[N], na, ne;
    /* poc with d = N: the m highest losses */
    hf_select_t *s = hf_select_new("poc", HF_CORR_NONE, N, samples, NULL, NULL);
    s->d = N;
    int cl[N];
    double lo[N];
    for (int k = 0; k < N; k++) { cl[k] = k; lo[k] = (k * 3) % N; }  /* 0,3,6,9,2,5,8,1,4,7 */
    hf_select_losses(s, cl, lo, N);
    int n = hf_select_round(s, 0, 1, 3, all, NULL, 0, NULL, out, &na, &ne);
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT(out[0] == 3 && out[1] == 6 && out[2] == 9);   /* losses 9, 8, 7 */
    double w[N];
    CU_ASSERT(hf_select_weights(s, out, n, ne, w) && w[0] == 1.0 / 3);
    hf_select_free(s);
    /* f3ast: after a client participates its q/r drops, others get their turn */
    s = hf_select_new("f3ast", HF_CORR_NONE, N, samples, NULL, NULL);
    int seen[N] = {0};
    for (int t = 0; t < 20; t++) {
        hf_select_observe(s, all);
        n = hf_select_round(s, t, 1, 2, all, NULL, 0, NULL, out, &na, &ne);
        for (int i = 0; i < n; i++) seen[out[i]]++;
        hf_select_after(s, out, n);
    }
    for (int k = 0; k < N; k++) CU_ASSERT_EQUAL(seen[k], 4);   /* round robin by q/r */
    hf_select_free(s);
    /* forecast: clients that leave before their round would end are avoided */
    const char *txt = "0,0,5\n1,0,100\n2,0,3\n3,0,100\n4,0,100\n";
    hf_avail_t av;
    CU_ASSERT_EQUAL_FATAL(hf_avail_load_mem(&av, txt, strlen(txt), "f", 5), 0);
    unsigned char on[5] = {1, 1, 1, 1, 1};
    double need[5] = {10, 10, 10, 10, 10};
    s = hf_select_new("forecast", HF_CORR_NONE, 5, samples, NULL, NULL);
    n = hf_select_round(s, 0, 1, 3, on, &av, 0, need, out, &na, &ne);
    CU_ASSERT(n == 3 && out[0] == 1 && out[1] == 3 && out[2] == 4);
    n = hf_select_round(s, 0, 1, 4, on, &av, 0, need, out, &na, &ne);   /* fills: 0 stays longer than 2 */
    CU_ASSERT(n == 4 && out[0] == 0 && out[1] == 1);
    hf_select_free(s);
    hf_avail_free(&av);
    /* Bayesian estimator: (#on + 100 prior) / (t + 100) */
    s = hf_select_new("uniform", HF_CORR_UNBIASED, N, samples, NULL, NULL);
    unsigned char half[N] = {1, 0, 1, 0, 1, 0, 1, 0, 1, 0};
    for (int t = 0; t < 50; t++) hf_select_observe(s, t < 25 ? all : half);
    CU_ASSERT_DOUBLE_EQUAL(s->pi_hat[0], (50 + 50.0) / 150, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(s->pi_hat[1], (25 + 50.0) / 150, 1e-12);
    hf_select_free(s);
    /* CA-Fed keeps everyone when losses are equal (the bias term only grows) */
    s = hf_select_new("uniform", HF_CORR_CAFED, N, samples, NULL, NULL);
    for (int k = 0; k < N; k++) lo[k] = 1.0;
    hf_select_losses(s, cl, lo, N);
    hf_select_observe(s, all);
    n = hf_select_round(s, 0, 1, N, all, NULL, 0, NULL, out, &na, &ne);
    CU_ASSERT_EQUAL(n, N);
    /* ...and drops a high-loss, rarely available client when C = 0 */
    s->cafed_c = 0;
    lo[3] = 10.0;
    hf_select_losses(s, cl, lo, N);
    n = hf_select_round(s, 1, 1, N, all, NULL, 0, NULL, out, &na, &ne);
    CU_ASSERT(n < N);
    int has3 = 0;
    for (int i = 0; i < n; i++) has3 |= out[i] == 3;
    CU_ASSERT(!has3);
    hf_select_free(s);
    CU_ASSERT_PTR_NULL(hf_select_new("nope", HF_CORR_NONE, N, samples, NULL, NULL));
}

/* Values by hand: the lag-1 estimate, F3AST's rates, CA-Fed's starting allocation,
 * power-of-choice's default d = 2m. */
static void test_policy_values(void)
{
    enum { N = 10 };
    long samples[N] = {10, 10, 10, 10, 10, 10, 10, 10, 10, 10};
    unsigned char all[N];
    memset(all, 1, N);
    int out[N], na, ne;
    /* lambda_hat = (#on-on + 100 (p + l - l p))/(t + 100) + (#off-off + 100 (1 - p + l p))/(t + 100) - 1,
     * prior p = 0.5, l = 0, starting from "off": client 0 on, on, off, on (1 on-on, 0 off-off),
     * client 1 off, off, on, on (1 on-on, 2 off-off) */
    hf_select_t *s = hf_select_new("uniform", HF_CORR_UNBIASED, N, samples, NULL, NULL);
    unsigned char seq[4][N] = {{1, 0}, {1, 0}, {0, 1}, {1, 1}};
    for (int t = 0; t < 4; t++) hf_select_observe(s, seq[t]);
    CU_ASSERT_DOUBLE_EQUAL(s->lambda_hat[0], (1 + 50.0) / 104 + (0 + 50.0) / 104 - 1, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(s->lambda_hat[1], (1 + 50.0) / 104 + (2 + 50.0) / 104 - 1, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(s->pi_hat[0], (3 + 50.0) / 104, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(s->pi_hat[1], (2 + 50.0) / 104, 1e-12);
    hf_select_free(s);
    /* F3AST: r_k = m/N at the first round, then r <- (1 - beta) r + beta [selected], beta = 0.01 */
    s = hf_select_new("f3ast", HF_CORR_NONE, N, samples, NULL, NULL);
    hf_select_observe(s, all);
    int n = hf_select_round(s, 0, 1, 2, all, NULL, 0, NULL, out, &na, &ne);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    hf_select_after(s, out, n);
    for (int k = 0; k < N; k++) {
        int sel = k == out[0] || k == out[1];
        CU_ASSERT_DOUBLE_EQUAL(s->r[k], 0.99 * 0.2 + (sel ? 0.01 : 0.0), 1e-15);
    }
    double w[N];
    CU_ASSERT(hf_select_weights(s, out, n, ne, w));
    CU_ASSERT_DOUBLE_EQUAL(w[0], 0.1 / (0.99 * 0.2 + 0.01), 1e-12);   /* q_k / r_k */
    hf_select_free(s);
    /* CA-Fed starts from the unbiased allocation q_k / pi_hat_k (equal losses: nobody dropped) */
    s = hf_select_new("uniform", HF_CORR_CAFED, N, samples, NULL, NULL);
    int cl[N];
    double lo[N];
    for (int k = 0; k < N; k++) { cl[k] = k; lo[k] = 1.0; }
    hf_select_losses(s, cl, lo, N);
    hf_select_observe(s, all);
    n = hf_select_round(s, 0, 1, N, all, NULL, 0, NULL, out, &na, &ne);
    CU_ASSERT_EQUAL(n, N);
    for (int k = 0; k < N; k++) CU_ASSERT_DOUBLE_EQUAL(s->alloc[k], 0.1 / (51.0 / 101), 1e-12);
    CU_ASSERT(hf_select_weights(s, out, n, ne, w));
    CU_ASSERT_DOUBLE_EQUAL(w[0], 0.1 / (51.0 / 101), 1e-12);
    hf_select_free(s);
    /* power-of-choice, default d = 2m = 6 candidates: the m = 3 highest losses among
     * them, so the 3 lowest-loss clients can never be chosen (at least 3 candidates
     * beat each); every other client sometimes is */
    s = hf_select_new("poc", HF_CORR_NONE, N, samples, NULL, NULL);
    for (int k = 0; k < N; k++) lo[k] = (k * 3) % N;  /* losses 0..9; lowest: clients 0, 7, 4 */
    hf_select_losses(s, cl, lo, N);
    int times[N] = {0};
    for (int t = 0; t < 200; t++) {
        n = hf_select_round(s, t, 1, 3, all, NULL, 0, NULL, out, &na, &ne);
        CU_ASSERT_EQUAL(n, 3);
        for (int i = 0; i < n; i++) times[out[i]]++;
    }
    CU_ASSERT(times[0] == 0 && times[7] == 0 && times[4] == 0);
    int others = 1;
    for (int k = 0; k < N; k++) if (k != 0 && k != 7 && k != 4) others &= times[k] > 0;
    CU_ASSERT(others);
    hf_select_free(s);
}

/* A client that goes offline mid-round: nothing done when offline at the start;
 * otherwise it works until it leaves, download first, then compute, then upload. */
static void test_dropout_split(void)
{
    const char *txt = "0,0,10\n1,5,20\n";   /* client 0 online [0,10), client 1 [5,20) */
    hf_avail_t av;
    CU_ASSERT_EQUAL_FATAL(hf_avail_load_mem(&av, txt, strlen(txt), "d", 2), 0);
    double at = -1, comm = -1, comp = -1;
    /* start 2: download 3 s, compute 10 s: leaves at 10, 5 s into its compute */
    CU_ASSERT_EQUAL(hf_avail_dropout(&av, 0, 2.0, 3.0, 10.0, 1.0, &at, &comm, &comp), 1);
    CU_ASSERT(at == 10.0 && comm == 3.0 && comp == 5.0);
    /* leaves during the download (start 8): 2 s of download, no compute */
    CU_ASSERT_EQUAL(hf_avail_dropout(&av, 0, 8.0, 3.0, 10.0, 1.0, &at, &comm, &comp), 1);
    CU_ASSERT(at == 10.0 && comm == 2.0 && comp == 0.0);
    /* leaves during the upload: all compute, download + half the upload */
    CU_ASSERT_EQUAL(hf_avail_dropout(&av, 0, 2.0, 3.0, 4.5, 1.0, &at, &comm, &comp), 1);
    CU_ASSERT(at == 10.0 && comm == 3.5 && comp == 4.5);
    /* finishes exactly when it leaves: completed */
    CU_ASSERT_EQUAL(hf_avail_dropout(&av, 0, 2.0, 3.0, 4.0, 1.0, &at, &comm, &comp), 0);
    /* offline at the start: dropped at once, nothing spent */
    CU_ASSERT_EQUAL(hf_avail_dropout(&av, 1, 2.0, 1.0, 1.0, 1.0, &at, &comm, &comp), 1);
    CU_ASSERT(at == 2.0 && comm == 0.0 && comp == 0.0);
    hf_avail_free(&av);
}

static const hf_cu_test_t tests_avail[] = {
    {"trace write/load round trip", test_roundtrip, NULL},
    {"loader rejects bad traces with FILE:LINE", test_loader_errors, NULL},
    {"online / next change queries, periods, withdrawals", test_queries, NULL},
    {"markov long-run availability and lag-1 correlation", test_markov, NULL},
    {"CA-Fed client type mix", test_cafed_mix, NULL},
    {"cyclic, diurnal, sessions, withdraw generators", test_other_generators, NULL},
    {"step-function importer on shared AWS spot traces", test_import_shared, NULL},
    {"spot-traces JSON importer", test_import_json, NULL},
    {"mid-round drop-out: time split", test_dropout_split, NULL},
    {0},
};
static const hf_cu_test_t tests_select[] = {
    {"policies x corrections: invariants, never offline", test_policies_invariants, NULL},
    {"poc, f3ast, forecast, estimator, CA-Fed specifics", test_policy_specifics, NULL},
    {"one path: population draw, async fill, weight hooks, flags", test_one_path, NULL},
    {"estimator, F3AST rates, CA-Fed allocation, poc's d: values", test_policy_values, NULL},
    {0},
};
static const hf_cu_suite_t suites[] = {
    {"avail", tests_avail, NULL, NULL},
    {"select", tests_select, NULL, NULL},
    {0},
};

int main(int argc, char **argv)
{
    return hf_cu_main(&argc, &argv, 0, suites);
}
