/* test_devices.c — device classes, the simulated clock, round policies
 * (deadline, partial work, over-commitment, static and dynamic backup workers)
 * and hwloc placement on synthetic topologies (2 packages x 16 cores, ...).
 * Multi-rank determinism with classes and deadlines: tests/devices.sh. */
#include "devices.h"
#include "h5out.h"
#include "hf_util.h"
#include "options.h"
#include "placement.h"
#include "rng.h"
#include "cunit_main.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static hf_devices_t one_class(double gflops, double up, double down, double lat)
{
    hf_devices_t d;
    memset(&d, 0, sizeof d);
    d.nclasses = 1;
    snprintf(d.cls[0].name, sizeof d.cls[0].name, "c");
    d.cls[0].cores = 1;
    d.cls[0].gflops = gflops;
    d.cls[0].up_mbps = up;
    d.cls[0].down_mbps = down;
    d.cls[0].latency_s = lat;
    d.share[0] = 1;
    d.overcommit = 1;
    return d;
}

static void test_clock_arithmetic(void)
{
    hf_devclass_t c = {.gflops = 2.0};
    CU_ASSERT_DOUBLE_EQUAL(hf_clock_compute_s(&c, 4e9, 1.0), 2.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(hf_clock_compute_s(&c, 4e9, 1.5), 3.0, 1e-12);
    /* 1 MB at 10 Mbit/s = 0.8 s, + 50 ms latency */
    CU_ASSERT_DOUBLE_EQUAL(hf_clock_transfer_s(0.05, 10.0, 1000000), 0.85, 1e-12);
    CU_ASSERT_EQUAL(hf_clock_jitter(0.0, 1, 3, 7), 1.0);
    /* jitter: keyed by (seed, round, client), lognormal with the given sigma */
    CU_ASSERT_EQUAL(hf_clock_jitter(0.3, 1, 3, 7), hf_clock_jitter(0.3, 1, 3, 7));
    CU_ASSERT(hf_clock_jitter(0.3, 1, 3, 7) != hf_clock_jitter(0.3, 1, 3, 8));
    CU_ASSERT(hf_clock_jitter(0.3, 1, 3, 7) != hf_clock_jitter(0.3, 1, 4, 7));
    double s = 0, s2 = 0;
    int n = 20000;
    for (int k = 0; k < n; k++) {
        double l = log(hf_clock_jitter(0.3, 9, 0, k));
        s += l;
        s2 += l * l;
    }
    CU_ASSERT(fabs(s / n) < 0.01);
    CU_ASSERT(fabs(sqrt(s2 / n - (s / n) * (s / n)) - 0.3) < 0.01);

    /* one client, no jitter: n=100, B=10, E=2, 1e6 FLOP/sample at 1 GFLOP/s → 0.2 s;
     * 1e6 bytes down at 8 Mbit/s + 0.1 s = 1.1 s; up at 4 Mbit/s + 0.1 s = 2.1 s */
    hf_devices_t d = one_class(1.0, 4.0, 8.0, 0.1);
    int cl = 0, id = 5;
    long nk = 100;
    hf_round_in_t in = {.m = 1, .client = &id, .samples = &nk, .cls = &cl, .K = 1, .epochs = 2,
                        .batch = 10, .flops_per_sample = 1e6, .bytes_down = 1000000,
                        .bytes_up = 1000000, .seed = 1};
    hf_dplan_t p;
    double dur = -1;
    CU_ASSERT_EQUAL(hf_round_plan(&d, &in, &p, &dur), 1);
    CU_ASSERT_DOUBLE_EQUAL(p.t_down, 1.1, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(p.t_up, 2.1, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(p.t_compute, 0.2, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(p.finish, 3.4, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(dur, 3.4, 1e-12);
    CU_ASSERT_EQUAL(p.steps, 20);
    CU_ASSERT_EQUAL(p.steps_full, 20);
    CU_ASSERT_EQUAL(p.outcome, HF_OUT_COMPLETED);
}

/* A random round: m clients of 3 classes with random sizes and jitter. */
#define MM 40
static int ids[MM], cls3[MM];
static long sizes[MM];
static hf_devices_t three_classes(void)
{
    hf_devices_t d = one_class(1.0, 5, 20, 0.05);
    d.nclasses = 3;
    d.cls[1] = d.cls[0];
    d.cls[1].gflops = 4;
    d.cls[2] = d.cls[0];
    d.cls[2].gflops = 0.5;
    d.cls[2].up_mbps = 1;
    d.jitter = 0.4;
    hf_rng_t r;
    hf_rng_init(&r, 11, HF_RNG_TEST, 0, 0);
    for (int i = 0; i < MM; i++) {
        ids[i] = 3 * i + 1;
        cls3[i] = (int)hf_rng_below(&r, 3);
        sizes[i] = 20 + (long)hf_rng_below(&r, 600);
    }
    return d;
}

static hf_round_in_t round_in(int m, int K)
{
    hf_round_in_t in = {.m = m, .client = ids, .samples = sizes, .cls = cls3, .K = K, .epochs = 1,
                        .batch = 10, .flops_per_sample = 1.2e6, .bytes_down = 800000,
                        .bytes_up = 800000, .seed = 4, .round = 2};
    return in;
}

/* expected full-work finish, computed independently of hf_round_plan */
static double expect_finish(const hf_devices_t *d, const hf_round_in_t *in, int i)
{
    const hf_devclass_t *c = &d->cls[in->cls[i]];
    double jit = hf_clock_jitter(d->jitter, in->seed, in->round, in->client[i]);
    return c->latency_s + in->bytes_down * 8.0 / (c->down_mbps * 1e6) +
           in->flops_per_sample * (double)in->samples[i] * in->epochs / (c->gflops * 1e9) * jit +
           c->latency_s + in->bytes_up * 8.0 / (c->up_mbps * 1e6);
}

static void test_overcommit_keeps_k_fastest(void)
{
    hf_devices_t d = three_classes();
    d.overcommit = 1.3;
    int K = 30, m = hf_devices_nselect(&d, K, 1000);
    CU_ASSERT_EQUAL(m, 39);  /* ⌈1.3·30⌉ */
    CU_ASSERT_EQUAL(hf_devices_nselect(&d, K, 35), 35);
    /* ceil(f K): 1.3 x 7 = 9.1 -> 10, 1.5 x 5 -> 8; 1.1 x 10 is 11.000000000000002 in
     * doubles: still 11; f = 1 selects K */
    CU_ASSERT_EQUAL(hf_devices_nselect(&d, 7, 1000), 10);
    d.overcommit = 1.5;
    CU_ASSERT_EQUAL(hf_devices_nselect(&d, 5, 1000), 8);
    d.overcommit = 1.1;
    CU_ASSERT_EQUAL(hf_devices_nselect(&d, 10, 1000), 11);
    d.overcommit = 1.0;
    CU_ASSERT_EQUAL(hf_devices_nselect(&d, 10, 1000), 10);
    d.overcommit = 1.3;
    hf_round_in_t in = round_in(m, K);
    hf_dplan_t p[MM];
    double dur;
    CU_ASSERT_EQUAL(hf_round_plan(&d, &in, p, &dur), K);
    double f[MM];
    for (int i = 0; i < m; i++) {
        f[i] = expect_finish(&d, &in, i);
        CU_ASSERT(fabs(p[i].finish - f[i]) < 1e-9 * f[i]);
    }
    /* exactly the K smallest expected finish times are kept */
    int kept = 0;
    double maxk = 0;
    for (int i = 0; i < m; i++) {
        int rank = 0;
        for (int j = 0; j < m; j++) rank += f[j] < f[i];
        int k = p[i].outcome == HF_OUT_COMPLETED;
        CU_ASSERT_EQUAL(k, rank < K);
        CU_ASSERT(k || p[i].outcome == HF_OUT_OVERCOMMITTED);
        CU_ASSERT_EQUAL(p[i].steps, k ? p[i].steps_full : 0);
        kept += k;
        if (k && p[i].finish > maxk) maxk = p[i].finish;
    }
    CU_ASSERT_EQUAL(kept, K);
    CU_ASSERT_EQUAL(dur, maxk);  /* the round ends with the K-th arrival */
    /* with a deadline that K clients meet: late ones exist, but the server closes
     * the round at the K-th arrival, before the deadline */
    double srt[MM];
    memcpy(srt, f, sizeof(double) * (size_t)m);
    for (int i = 0; i < m; i++)
        for (int j = i + 1; j < m; j++)
            if (srt[j] < srt[i]) { double t = srt[i]; srt[i] = srt[j]; srt[j] = t; }
    d.deadline_s = (srt[K + 1] + srt[K + 2]) / 2;
    CU_ASSERT_EQUAL(hf_round_plan(&d, &in, p, &dur), K);
    CU_ASSERT_EQUAL(dur, srt[K - 1]);
    int nl = 0;
    for (int i = 0; i < m; i++) nl += p[i].outcome == HF_OUT_LATE;
    CU_ASSERT_EQUAL(nl, m - K - 2);
    /* fewer than K in time: the server waited until the deadline */
    d.deadline_s = (srt[K - 3] + srt[K - 2]) / 2;
    CU_ASSERT_EQUAL(hf_round_plan(&d, &in, p, &dur), K - 2);
    CU_ASSERT_EQUAL(dur, d.deadline_s);
}

static void test_deadline_drops_exactly_late(void)
{
    hf_devices_t d = three_classes();
    hf_round_in_t in = round_in(MM, MM);
    hf_dplan_t p[MM];
    double dur, f[MM], sorted[MM];
    for (int i = 0; i < MM; i++) sorted[i] = f[i] = expect_finish(&d, &in, i);
    for (int i = 0; i < MM; i++)  /* deadline between the 25th and 26th finish */
        for (int j = i + 1; j < MM; j++)
            if (sorted[j] < sorted[i]) { double t = sorted[i]; sorted[i] = sorted[j]; sorted[j] = t; }
    d.deadline_s = (sorted[24] + sorted[25]) / 2;
    CU_ASSERT_EQUAL(hf_round_plan(&d, &in, p, &dur), 25);
    int late = 0;
    for (int i = 0; i < MM; i++) {
        CU_ASSERT_EQUAL(p[i].outcome == HF_OUT_LATE, f[i] > d.deadline_s);
        CU_ASSERT_EQUAL(p[i].outcome == HF_OUT_COMPLETED, f[i] <= d.deadline_s);
        late += p[i].outcome == HF_OUT_LATE;
    }
    CU_ASSERT_EQUAL(late, 15);
    CU_ASSERT_EQUAL(dur, d.deadline_s);  /* the server waited for the late ones */
    /* a deadline nobody misses changes nothing, and the round ends with the slowest */
    d.deadline_s = sorted[MM - 1];
    CU_ASSERT_EQUAL(hf_round_plan(&d, &in, p, &dur), MM);
    CU_ASSERT_EQUAL(dur, sorted[MM - 1]);

    /* partial work: the whole steps that fit before the deadline */
    d.deadline_s = (sorted[24] + sorted[25]) / 2;
    d.partial_work = 1;
    int npartial = 0;
    hf_round_plan(&d, &in, p, &dur);
    for (int i = 0; i < MM; i++) {
        if (f[i] <= d.deadline_s) { CU_ASSERT_EQUAL(p[i].outcome, HF_OUT_COMPLETED); continue; }
        CU_ASSERT(p[i].outcome == HF_OUT_PARTIAL || p[i].outcome == HF_OUT_LATE);
        if (p[i].outcome == HF_OUT_LATE) {
            CU_ASSERT_EQUAL(p[i].steps, 0);
            continue;
        }
        npartial++;
        const hf_devclass_t *c = &d.cls[cls3[i]];
        double per = in.flops_per_sample / (c->gflops * 1e9) *
                     hf_clock_jitter(d.jitter, in.seed, in.round, ids[i]);
        long nk = sizes[i], B = in.batch;
        long done = 0;  /* samples in the first `steps` steps (E = 1) */
        for (int s = 0; s < p[i].steps; s++) done += HF_MIN(B, nk - s * B);
        long next = HF_MIN(B, nk - p[i].steps * B);
        CU_ASSERT(p[i].steps > 0 && p[i].steps < p[i].steps_full);
        CU_ASSERT(fabs(p[i].t_compute - per * done) < 1e-9);
        CU_ASSERT(p[i].finish <= d.deadline_s);
        CU_ASSERT(p[i].t_down + per * (done + next) + p[i].t_up > d.deadline_s);
    }
    CU_ASSERT(npartial > 0);
}

static void test_backup_workers(void)
{
    hf_devices_t d = three_classes();
    d.backup = HF_BACKUP_STATIC;
    d.backup_b = 3;
    hf_round_in_t in = round_in(12, 12);
    hf_dplan_t p[MM];
    double dur, f[MM];
    CU_ASSERT_EQUAL(hf_round_plan(&d, &in, p, &dur), 9);
    for (int i = 0; i < 12; i++) f[i] = p[i].finish;
    for (int i = 0; i < 12; i++) {
        int rank = 0;
        for (int j = 0; j < 12; j++) rank += f[j] < f[i];
        CU_ASSERT_EQUAL(p[i].outcome, rank < 9 ? HF_OUT_COMPLETED : HF_OUT_BACKUP);
    }
    /* dynamic: the plan waits for k_dynamic */
    d.backup = HF_BACKUP_DYNAMIC;
    in.k_dynamic = 5;
    CU_ASSERT_EQUAL(hf_round_plan(&d, &in, p, &dur), 5);
    in.k_dynamic = 0;  /* no decision yet: everyone */
    CU_ASSERT_EQUAL(hf_round_plan(&d, &in, p, &dur), 12);
    /* strategy-discarded clients are not ranked */
    int skip[MM] = {0};
    skip[0] = skip[1] = 1;
    in.skip = skip;
    CU_ASSERT_EQUAL(hf_round_plan(&d, &in, p, &dur), 10);
    CU_ASSERT_EQUAL(p[0].outcome, -1);
}

static void test_dbw_choice(void)
{
    /* 10 clients: nine finish at 1 s, one at 100 s */
    int m = 10;
    hf_dbw_t *s = hf_dbw_new(m, 4);
    hf_dplan_t p[10];
    memset(p, 0, sizeof p);
    for (int i = 0; i < m; i++) p[i].t_compute_full = i == 7 ? 100 : 1;
    CU_ASSERT_EQUAL(hf_dbw_choose(s), m);  /* nothing observed: wait for all */
    hf_dbw_observe_times(s, p, m);
    double w[10], n2[10];
    float mean[4] = {1, 1, 1, 1};  /* ‖Δ̄‖² = 4 */
    for (int i = 0; i < 9; i++) { w[i] = 1.0 / 9; n2[i] = 4.5; }  /* small spread */
    hf_dbw_observe_updates(s, 9, w, n2, mean);
    /* by hand (Xu et al.): M = |mean|^2 = 4, S = sum w |d|^2 = 4.5, W2 = sum w^2 = 1/9:
     * sigma2 = (S - M)/(1 - W2) = 0.5625, G = M - sigma2 W2 = 3.9375; L stays 1 */
    CU_ASSERT_DOUBLE_EQUAL(s->sigma2, 0.5625, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(s->G, 3.9375, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(s->L, 1.0, 0);
    float mean2[4] = {1, 1, 1, 1.1f};
    hf_dbw_observe_updates(s, 9, w, n2, mean2);
    /* M = 3 + 1.1^2, sigma2 = (4.5 - M) 9/8, G = M - sigma2/9, L = |mean2 - mean|/|mean| = 0.05 */
    double M2 = 3 + (double)1.1f * 1.1f;
    CU_ASSERT_DOUBLE_EQUAL(s->sigma2, (4.5 - M2) * 9 / 8, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(s->G, M2 - (4.5 - M2) / 8, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(s->L, sqrt(((double)1.1f - 1) * ((double)1.1f - 1) / 4), 1e-9);
    CU_ASSERT(s->sigma2 > 0);
    CU_ASSERT(s->G > 0);
    /* signal dominates noise: the straggler is not worth 100 s */
    CU_ASSERT_EQUAL(hf_dbw_choose(s), 9);
    /* with equal times, waiting for everyone costs nothing: k = m */
    hf_dbw_t *e = hf_dbw_new(m, 4);
    for (int i = 0; i < m; i++) p[i].t_compute_full = 1;
    hf_dbw_observe_times(e, p, m);
    hf_dbw_observe_updates(e, 9, w, n2, mean);
    hf_dbw_observe_updates(e, 9, w, n2, mean2);
    CU_ASSERT_EQUAL(hf_dbw_choose(e), m);
    /* noise dominates (G = 0): no expected progress, wait for all */
    for (int i = 0; i < 9; i++) n2[i] = 400;
    hf_dbw_observe_updates(s, 9, w, n2, mean2);
    CU_ASSERT_EQUAL(s->G, 0.0);
    CU_ASSERT_EQUAL(hf_dbw_choose(s), m);
    hf_dbw_free(s);
    hf_dbw_free(e);
    /* an interior optimum: the k-th arrival at k seconds, G = 1, sigma2 = 4, L = 0.5;
     * expected decrease per second v(k) = ((1 - L/2) G - (L/2) sigma2 / k) / k
     * = 0.75/k - 1/k^2, largest at k = 3 (v = 0.1389 vs 0.125 at k = 2 and 4) */
    hf_dbw_t *q = hf_dbw_new(m, 4);
    for (int i = 0; i < m; i++) p[i].t_compute_full = i + 1;
    hf_dbw_observe_times(q, p, m);
    hf_dbw_observe_times(q, p, m);
    for (int k = 0; k < m; k++) CU_ASSERT_DOUBLE_EQUAL(q->tsum[k], 2.0 * (k + 1), 0);
    q->nobs_grad = 2;
    q->G = 1;
    q->sigma2 = 4;
    q->L = 0.5;
    CU_ASSERT_EQUAL(hf_dbw_choose(q), 3);
    hf_dbw_free(q);
}

static void test_assign_quotas(void)
{
    hf_devices_t d = three_classes();
    d.share[0] = 0.5;
    d.share[1] = 0.3;
    d.share[2] = 0.2;
    int a[1000], b[1000], c[1000];
    hf_devices_assign(&d, 7, 1000, a);
    hf_devices_assign(&d, 7, 1000, b);
    hf_devices_assign(&d, 8, 1000, c);
    int cnt[3] = {0}, same = 1, differ = 0;
    for (int k = 0; k < 1000; k++) {
        cnt[a[k]]++;
        same &= a[k] == b[k];
        differ += a[k] != c[k];
    }
    CU_ASSERT_EQUAL(cnt[0], 500);
    CU_ASSERT_EQUAL(cnt[1], 300);
    CU_ASSERT_EQUAL(cnt[2], 200);
    CU_ASSERT(same);
    CU_ASSERT(differ > 100);
    /* remainders: floor(share n) each, the rest one by one to the largest fractional
     * parts, ties to the lower class: 3 equal shares of 10 -> 4, 3, 3; shares 0.45, 0.35,
     * 0.2 of 7 -> 3.15, 2.45, 1.4 -> 3, 3, 1 */
    double sh[2][3] = {{1.0 / 3, 1.0 / 3, 1.0 / 3}, {0.45, 0.35, 0.2}};
    int n2[2] = {10, 7}, want[2][3] = {{4, 3, 3}, {3, 3, 1}};
    for (int v = 0; v < 2; v++) {
        for (int i = 0; i < 3; i++) d.share[i] = sh[v][i];
        int q[10], cq[3] = {0};
        hf_devices_assign(&d, 7, n2[v], q);
        for (int k = 0; k < n2[v]; k++) cq[q[k]]++;
        CU_ASSERT(cq[0] == want[v][0] && cq[1] == want[v][1] && cq[2] == want[v][2]);
    }
    /* largest remainder: 7 clients at 1/3 each → 3,2,2 */
    d.share[0] = d.share[1] = d.share[2] = 1.0 / 3;
    hf_devices_assign(&d, 7, 7, a);
    int c3[3] = {0};
    for (int k = 0; k < 7; k++) c3[a[k]]++;
    CU_ASSERT(c3[0] + c3[1] + c3[2] == 7 && c3[0] >= 2 && c3[1] >= 2 && c3[2] >= 2);
}

/* devices.deal: the permutation deal is the Fisher–Yates deal of the stream
 * (seed, DEVICE, 0xC1A55, 0) rebuilt here by hand (the results of every run up
 * to 100,000 clients); the bijection keeps the exact quotas, stores nothing
 * and gives id k the class whose range holds its image π(k). */
static void test_deal_modes(void)
{
    hf_devices_t d = three_classes();
    d.share[0] = 0.5;
    d.share[1] = 0.3;
    d.share[2] = 0.2;
    enum { N = 1000 };
    int perm[N], want[N], got[N];
    hf_rng_t r;
    hf_rng_init(&r, 7, HF_RNG_DEVICE, 0xC1A55u, 0);
    hf_rng_permutation(&r, N, perm);
    for (int pos = 0; pos < N; pos++) want[perm[pos]] = pos < 500 ? 0 : pos < 800 ? 1 : 2;
    for (int mode = HF_DEAL_AUTO; mode <= HF_DEAL_PERMUTATION; mode++) {
        d.deal = mode;
        hf_devices_assign(&d, 7, N, got);
        CU_ASSERT(!memcmp(got, want, sizeof want));
    }
    CU_ASSERT(!hf_deal_uses_bijection(HF_DEAL_AUTO, 100000));
    CU_ASSERT(hf_deal_uses_bijection(HF_DEAL_AUTO, 100001));
    CU_ASSERT(!hf_deal_uses_bijection(HF_DEAL_PERMUTATION, 10000000));
    CU_ASSERT(hf_deal_uses_bijection(HF_DEAL_BIJECTION, 1));
    d.deal = HF_DEAL_BIJECTION;
    hf_deal_t dl;
    hf_devices_deal(&d, 7, N, &dl);
    CU_ASSERT_PTR_NULL(dl.cls);
    hf_rng_bij_t b;
    hf_rng_init(&r, 7, HF_RNG_DEVICE, 0xC1A55u, 0);
    hf_rng_bij_init(&b, &r, N);
    int cnt[3] = {0}, image_ok = 1, same_as_perm = 0;
    for (int k = 0; k < N; k++) {
        int cl = hf_deal_class(&dl, k), y = (int)hf_rng_bij_at(&b, (uint32_t)k);
        cnt[cl]++;
        image_ok &= cl == (y < 500 ? 0 : y < 800 ? 1 : 2);
        same_as_perm += cl == want[k];
    }
    CU_ASSERT(cnt[0] == 500 && cnt[1] == 300 && cnt[2] == 200);
    CU_ASSERT(image_ok);
    CU_ASSERT(same_as_perm < 700);  /* another deal: about 0.5² + 0.3² + 0.2² = 38 % agree */
    hf_deal_materialise(&dl);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dl.cls);
    int mat_ok = 1;
    for (int k = 0; k < N; k++) {
        uint32_t y = hf_rng_bij_at(&b, (uint32_t)k);
        mat_ok &= dl.cls[k] == (y >= 500) + (y >= 800);
    }
    CU_ASSERT(mat_ok);
    hf_deal_free(&dl);
    /* 7 clients at 1/3 each: floor 2 each, the remainder to the lowest class on a tie → 3, 2, 2;
     * 1 client at 0.5/0.3/0.2 → class 0 (largest fraction) */
    d.share[0] = d.share[1] = d.share[2] = 1.0 / 3;
    int q[7], c7[3] = {0};
    hf_devices_assign(&d, 7, 7, q);
    for (int k = 0; k < 7; k++) c7[q[k]]++;
    CU_ASSERT(c7[0] == 3 && c7[1] == 2 && c7[2] == 2);
    d.share[0] = 0.5;
    d.share[1] = 0.3;
    d.share[2] = 0.2;
    hf_devices_assign(&d, 7, 1, q);
    CU_ASSERT_EQUAL(q[0], 0);
    /* classes with no ids are skipped: quotas 0, 3, 0, 2 of 5 */
    const int cnt4[4] = {0, 3, 0, 2};
    hf_rng_init(&r, 1, HF_RNG_TEST, 0, 0);
    hf_deal_init(&dl, &r, 5, 4, cnt4, HF_DEAL_BIJECTION);
    int c4[4] = {0};
    for (int k = 0; k < 5; k++) c4[hf_deal_class(&dl, k)]++;
    CU_ASSERT(c4[0] == 0 && c4[1] == 3 && c4[2] == 0 && c4[3] == 2);
    hf_deal_free(&dl);
    CU_ASSERT_EQUAL(hf_deal_mode("auto"), HF_DEAL_AUTO);
    CU_ASSERT_EQUAL(hf_deal_mode("bijection"), HF_DEAL_BIJECTION);
    CU_ASSERT_EQUAL(hf_deal_mode("permutation"), HF_DEAL_PERMUTATION);
    CU_ASSERT_EQUAL(hf_deal_mode("feistel"), -1);
}

static int load(hf_conf_t *c, hf_params_t *p, const char *text)
{
    int rc = hf_conf_load_string(c, text, "t.conf", hf_options_table(), NULL, 0, -1);
    if (!rc) rc = hf_params_from_conf(p, c);
    return rc;
}

static void test_conf_and_library(void)
{
    int n;
    const hf_devclass_t *L = hf_devclass_library(&n);
    CU_ASSERT(n >= 5);
    for (int i = 0; i < n; i++) {
        CU_ASSERT(L[i].cores >= 1 && L[i].gflops > 0 && L[i].up_mbps > 0 && L[i].down_mbps > 0);
        CU_ASSERT(L[i].active_w > L[i].idle_w && L[i].battery_j > 0 && L[i].mem_width > 0);
        if (i) CU_ASSERT(L[i].gflops > L[i - 1].gflops);  /* low-end phone ... server */
    }
    hf_conf_t c = {0};
    static hf_params_t p;
    CU_ASSERT_EQUAL_FATAL(load(&c, &p, "[devices]\nclasses = phone-low:2, phone-mid:1,laptop:1,"
                                       "edge-server:0, custom\ncores = 3\n[federation]\n"
                                       "deadline_s = 20\npartial_work = yes\nbackup_workers = dynamic\n"), 0);
    CU_ASSERT_EQUAL(p.devs.nclasses, 5);
    CU_ASSERT_STRING_EQUAL(p.devs.cls[4].name, "custom");
    CU_ASSERT_EQUAL(p.devs.cls[4].cores, 3);
    CU_ASSERT_DOUBLE_EQUAL(p.devs.share[0], 0.4, 1e-12);
    CU_ASSERT_EQUAL(p.devs.share[3], 0.0);
    CU_ASSERT_EQUAL(p.devs.backup, HF_BACKUP_DYNAMIC);
    CU_ASSERT(p.devs.partial_work && p.devs.deadline_s == 20);
    hf_conf_free(&c);
    /* default: one class from the keys */
    CU_ASSERT_EQUAL_FATAL(load(&c, &p, "[devices]\ngflops = 3\n"), 0);
    CU_ASSERT_EQUAL(p.devs.nclasses, 1);
    CU_ASSERT_STRING_EQUAL(p.devs.cls[0].name, "default");
    CU_ASSERT_EQUAL(p.devs.cls[0].gflops, 3.0);
    hf_conf_free(&c);
    /* errors: FILE:LINE, key, did-you-mean */
    CU_ASSERT_EQUAL(load(&c, &p, "[run]\nname = x\n[devices]\nclasses = phone-lo:1\n"), HF_EINPUT);
    CU_ASSERT(strstr(hf_errmsg(), "t.conf:4: key 'devices.classes'") != NULL);
    CU_ASSERT(strstr(hf_errmsg(), "did you mean 'phone-low'") != NULL);
    hf_conf_free(&c);
    CU_ASSERT_EQUAL(load(&c, &p, "[federation]\npartial_work = yes\n"), HF_EINPUT);
    CU_ASSERT(strstr(hf_errmsg(), "t.conf:2: key 'federation.partial_work'") != NULL);
    hf_conf_free(&c);
    CU_ASSERT_EQUAL(load(&c, &p, "[federation]\nbackup_workers = some\n"), HF_EINPUT);
    CU_ASSERT(strstr(hf_errmsg(), "key 'federation.backup_workers'") != NULL);
    hf_conf_free(&c);
    CU_ASSERT_EQUAL(load(&c, &p, "[devices]\nclasses = laptop:0\n"), HF_EINPUT);
    hf_conf_free(&c);
    CU_ASSERT_EQUAL(load(&c, &p, "[devices]\nclasses = laptop, laptop\n"), HF_EINPUT);
    hf_conf_free(&c);
}

static void test_csv(void)
{
    char path[] = "/tmp/hetfl-devcsv-XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "# my classes\nname,cores,gflops,mem_width,up_mbps,down_mbps,latency_s,active_w,idle_w,"
               "radio_j_per_mb,battery_j,share\nslow,1,0.5,0.5,1,2,0.1,2,0.2,0.1,30000,3\n"
               "fast,2,50,1,100,100,0.01,20,5,0.01,inf,1\n");
    fclose(f);
    hf_devices_t d;
    memset(&d, 0, sizeof d);
    CU_ASSERT_EQUAL(hf_devices_load_csv(&d, path), 0);
    CU_ASSERT_EQUAL(d.nclasses, 2);
    CU_ASSERT_STRING_EQUAL(d.cls[1].name, "fast");
    CU_ASSERT(isinf(d.cls[1].battery_j));
    CU_ASSERT_EQUAL(d.share[0], 3.0);
    /* through the suite: the file alone gives the mix */
    char text[512];
    snprintf(text, sizeof text, "[devices]\nfile = %s\n", path);
    hf_conf_t c = {0};
    static hf_params_t p;
    CU_ASSERT_EQUAL(load(&c, &p, text), 0);
    CU_ASSERT_EQUAL(p.devs.nclasses, 2);
    CU_ASSERT_DOUBLE_EQUAL(p.devs.share[0], 0.75, 1e-12);
    hf_conf_free(&c);
    /* bad row → PATH:LINE */
    f = fopen(path, "w");
    fprintf(f, "name,cores,gflops,mem_width,up_mbps,down_mbps,latency_s,active_w,idle_w,"
               "radio_j_per_mb,battery_j\nx,1,fast,1,1,1,0,1,1,1,1\n");
    fclose(f);
    memset(&d, 0, sizeof d);
    CU_ASSERT_EQUAL(hf_devices_load_csv(&d, path), HF_EINPUT);
    char want[128];
    snprintf(want, sizeof want, "%s:2: gflops", path);
    CU_ASSERT(strstr(hf_errmsg(), want) != NULL);
    unlink(path);
}

/* ------------------------------------------------------ placement --- */

static hwloc_topology_t synth(const char *desc)
{
    hwloc_topology_t t;
    hwloc_topology_init(&t);
    CU_ASSERT_FATAL(hwloc_topology_set_synthetic(t, desc) == 0);
    CU_ASSERT_FATAL(hwloc_topology_load(t) == 0);
    return t;
}

static void test_placement_synthetic(void)
{
    hwloc_topology_t t = synth("pack:2 core:16 pu:2");
    hwloc_const_cpuset_t all = hwloc_topology_get_topology_cpuset(t);
    CU_ASSERT_EQUAL(hwloc_bitmap_weight(all), 64);
    /* four ranks on one host, same cpuset: 8, 8, 16 cores fit; the fourth wraps */
    int want[4] = {8, 8, 16, 4}, off[4];
    const char *sets[4] = {"0-63", "0-63", "0-63", "0-63"};
    hf_place_offsets(4, want, sets, off);
    CU_ASSERT(off[0] == 0 && off[1] == 8 && off[2] == 16 && off[3] == 32);
    hwloc_cpuset_t s[4], u = hwloc_bitmap_alloc();
    int ov[4];
    for (int i = 0; i < 4; i++) {
        s[i] = hwloc_bitmap_alloc();
        CU_ASSERT_EQUAL(hf_place_choose(t, all, off[i], want[i], s[i], &ov[i]), want[i]);
        CU_ASSERT_EQUAL(hwloc_bitmap_weight(s[i]), 2 * want[i]);  /* whole cores: both PUs */
    }
    CU_ASSERT(!ov[0] && !ov[1] && !ov[2] && ov[3]);
    CU_ASSERT(!hwloc_bitmap_intersects(s[0], s[1]) && !hwloc_bitmap_intersects(s[1], s[2]));
    hwloc_bitmap_or(u, s[0], s[1]);
    hwloc_bitmap_or(u, u, s[2]);
    CU_ASSERT(hwloc_bitmap_isequal(u, all));  /* 32 cores used exactly once */
    CU_ASSERT(hwloc_bitmap_isincluded(s[3], s[0]));  /* wrapped onto cores 0-3 */
    /* rank 2 (16 cores from core 16) is exactly package 1 */
    hwloc_obj_t p1 = hwloc_get_obj_by_type(t, HWLOC_OBJ_PACKAGE, 1);
    CU_ASSERT(hwloc_bitmap_isequal(s[2], p1->cpuset));
    /* the launcher gave this rank package 1 only: cores are chosen inside it */
    hwloc_cpuset_t r = hwloc_bitmap_alloc();
    int o;
    CU_ASSERT_EQUAL(hf_place_choose(t, p1->cpuset, 0, 4, r, &o), 4);
    CU_ASSERT(!o && hwloc_bitmap_isincluded(r, p1->cpuset) && hwloc_bitmap_weight(r) == 8);
    CU_ASSERT_EQUAL(hwloc_bitmap_first(r), 32);
    /* more cores than the cpuset has: all of them, oversubscribed */
    CU_ASSERT_EQUAL(hf_place_choose(t, p1->cpuset, 0, 40, r, &o), 16);
    CU_ASSERT(o && hwloc_bitmap_isequal(r, p1->cpuset));
    /* ranks bound by the launcher to different cpusets do not offset each other */
    const char *sets2[2] = {"0-31", "32-63"};
    int w2[2] = {16, 16}, o2[2];
    hf_place_offsets(2, w2, sets2, o2);
    CU_ASSERT(o2[0] == 0 && o2[1] == 0);
    for (int i = 0; i < 4; i++) hwloc_bitmap_free(s[i]);
    hwloc_bitmap_free(u);
    hwloc_bitmap_free(r);
    hwloc_topology_destroy(t);

    /* a 2-core box (like this project's): three 1-core ranks share round-robin */
    t = synth("pack:1 core:2 pu:1");
    all = hwloc_topology_get_topology_cpuset(t);
    int w3[3] = {1, 1, 1}, o3[3];
    const char *s3[3] = {"0-1", "0-1", "0-1"};
    hf_place_offsets(3, w3, s3, o3);
    hwloc_cpuset_t q = hwloc_bitmap_alloc();
    int ovs = 0;
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(hf_place_choose(t, all, o3[i], 1, q, &o), 1);
        CU_ASSERT_EQUAL(hwloc_bitmap_first(q), i % 2);
        ovs += o;
    }
    CU_ASSERT_EQUAL(ovs, 1);  /* only the third rank shares */
    /* a phone-high class (4 cores) on 2 cores: both cores, oversubscribed */
    CU_ASSERT_EQUAL(hf_place_choose(t, all, 0, 4, q, &o), 2);
    CU_ASSERT(o);
    hwloc_bitmap_free(q);
    hwloc_topology_destroy(t);
}

static void test_placement_xml(void)
{
    /* the same machine exported to XML and loaded back (what a cluster admin ships) */
    hwloc_topology_t t = synth("pack:2 numa:2 core:8 pu:1");
    char *buf = NULL;
    int len = 0;
    CU_ASSERT_FATAL(hwloc_topology_export_xmlbuffer(t, &buf, &len, 0) == 0);
    hwloc_topology_t x;
    hwloc_topology_init(&x);
    CU_ASSERT_FATAL(hwloc_topology_set_xmlbuffer(x, buf, len) == 0);
    CU_ASSERT_FATAL(hwloc_topology_load(x) == 0);
    hwloc_free_xmlbuffer(t, buf);
    hwloc_cpuset_t s = hwloc_bitmap_alloc();
    int o;
    CU_ASSERT_EQUAL(hf_place_choose(x, hwloc_topology_get_topology_cpuset(x), 24, 12, s, &o), 12);
    CU_ASSERT(o);  /* 24 + 12 > 32 cores: wraps */
    CU_ASSERT_EQUAL(hwloc_bitmap_weight(s), 12);
    CU_ASSERT(hwloc_bitmap_isset(s, 31) && hwloc_bitmap_isset(s, 0) && hwloc_bitmap_isset(s, 3));
    hwloc_bitmap_free(s);
    hwloc_topology_destroy(x);
    hwloc_topology_destroy(t);
}

/* ----------------------------------- figures derived from ../shared/data --- */

static const char *shared(void)
{
    const char *d = getenv("SHARED_DATA");
    static char buf[4096];
    if (!d) return NULL;
    snprintf(buf, sizeof buf, "%s/devices/speed_distri.json", d);
    return access(buf, R_OK) == 0 ? d : NULL;
}

static int dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void test_library_sources(void)
{
    const char *sd = shared();
    if (!sd) return;  /* ../shared/data absent: nothing to check against */
    char path[4200];
    snprintf(path, sizeof path, "%s/devices/speed_distri.json", sd);
    FILE *f = fopen(path, "r");
    CU_ASSERT_FATAL(f != NULL);
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    double down[64], up[64];
    int nd = 0, nu = 0;
    for (char *p = text; (p = strstr(p, "\"down_u\":")) && nd < 64; p++) down[nd++] = atof(p + 9);
    for (char *p = text; (p = strstr(p, "\"up_u\":")) && nu < 64; p++) up[nu++] = atof(p + 7);
    CU_ASSERT_EQUAL_FATAL(nd, 19);
    qsort(down, 19, sizeof(double), dcmp);
    qsort(up, 19, sizeof(double), dcmp);
    int nl;
    const hf_devclass_t *L = hf_devclass_library(&nl);
    CU_ASSERT(fabs(L[1].down_mbps - down[9] / 1000) < 0.001);  /* phone-mid: median */
    CU_ASSERT(fabs(L[1].up_mbps - up[9] / 1000) < 0.001);
    CU_ASSERT(fabs(L[0].down_mbps - down[1] / 1000) < 0.001);  /* phone-low: 2nd slowest */
    CU_ASSERT(fabs(L[2].down_mbps - down[17] / 1000) < 0.001); /* phone-high: 17th of 19 */
    CU_ASSERT(fabs(L[3].down_mbps - down[18] / 1000) < 0.001); /* laptop: fastest */
    /* edge-server active power: the highest RAPL reading of the EPYC 8024P */
    snprintf(path, sizeof path, "%s/energy/rapl_vs_load_EPYC8024P_all_cores.csv", sd);
    f = fopen(path, "r");
    CU_ASSERT_FATAL(f != NULL);
    char line[2048];
    double mx = 0;
    while (fgets(line, sizeof line, f)) {
        char *p = line;
        for (int i = 0; i < 8 && p; i++) p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL;
        if (p && line[0] == 'L') mx = HF_MAX(mx, atof(p));
    }
    fclose(f);
    CU_ASSERT(fabs(L[4].active_w - mx) < 0.05);
}

static const char *shared_skip(void)
{
    return shared() ? NULL : "SHARED_DATA/devices absent";
}

static const hf_cu_test_t tests_devices[] = {
    {"clock arithmetic", test_clock_arithmetic, NULL},
    {"over-commitment keeps exactly the K fastest", test_overcommit_keeps_k_fastest, NULL},
    {"deadline drops exactly the late; partial work", test_deadline_drops_exactly_late, NULL},
    {"static and dynamic backup workers", test_backup_workers, NULL},
    {"DBW chooses k by loss decrease per second", test_dbw_choice, NULL},
    {"class assignment: exact seeded quotas", test_assign_quotas, NULL},
    {"class assignment: permutation and keyed bijection deals", test_deal_modes, NULL},
    {"suite keys and the library", test_conf_and_library, NULL},
    {"class CSV files", test_csv, NULL},
    {"placement on synthetic topologies", test_placement_synthetic, NULL},
    {"placement on an XML topology", test_placement_xml, NULL},
    {"library figures match ../shared/data", test_library_sources, shared_skip},
    {0},
};
static const hf_cu_suite_t suites[] = {
    {"devices", tests_devices, NULL, NULL},
    {0},
};

int main(int argc, char **argv)
{
    return hf_cu_main(&argc, &argv, 0, suites);
}
