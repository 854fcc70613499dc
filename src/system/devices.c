/*
 * devices.c — the device-class library, the class mix of a suite, the
 * simulated clock and the round policies (see devices.h for the contracts).
 *
 * Why planned: with `devices.clock = model` a client's round time depends only
 * on its class, its n_k, E, B, the model size and a jitter keyed by (seed,
 * round, client).  So every rank can decide, before training, which clients
 * are late, overcommitted or stragglers, and Σ n_k of the kept ones; discarded
 * clients need not train, partial-work clients train only the steps that fit.
 */
#include "devices.h"
#include "h5out.h"
#include "hf_util.h"
#include "provenance.h"
#include "rng.h"
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ library --- *
 * Figures and where they come from (public data sets, cited per item):
 *  - Speed.  Phones: relative speeds are the AI-Benchmark CPU float scores
 *    (CPU_F_AI_Score of FLASH's raw_ai_benchmark_list.json, github.com/PKU-Chengxu/FLASH, 333 phones): 10th
 *    percentile 274 (MediaTek MT6582, 2015), median 1548 (Helio P60, 2019),
 *    90th percentile 3441 (Snapdragon 855, 2019).  They are anchored by ONE
 *    assumption, 10 GFLOP/s effective fp32 training throughput for the
 *    Snapdragon 855 (≈ 6 % of its NEON peak), so phone-mid = 10·1548/3441 =
 *    4.5 and phone-low = 10·274/3441 = 0.8 GFLOP/s.  PCs and servers:
 *    HF_CORE_GFLOPS per core (hetfl's own 2NN training throughput, measured
 *    with `hetfl bench kernels` on one core of this project's CPU, see below)
 *    × cores; laptop at half that per core (15 W mobile part).
 *  - Bandwidth: FLASH's models/speed_distri.json, 19 real phone users (kbit/s means):
 *    phone-low = 2nd slowest (≈ 10th percentile: down 3177, up 665), phone-mid
 *    = median (down 4318, up 3286), phone-high = 17th of 19 (≈ 90th
 *    percentile: down 9913, up 6279), laptop = the fastest user (down 17333,
 *    up 6635).  Servers: 1 Gbit/s Ethernet (assumption).
 *  - Power: edge-server = AMD EPYC 8024P (8 cores), RAPL package power from
 *    CodeCarbon's (github.com/mlco2/codecarbon) RAPL-vs-load profile of that CPU: 50.7 W at 89 % load (active),
 *    18.6 W at 10 % load (idle floor; the 0 % row, 0.59 W, is a start-up
 *    artefact); hpc-node = 2× Xeon E5-2620 v3 (12 cores), from
 *    rapl_vs_load_E5-2620v3_all_cores.csv: 117.0 W at 99.6 % (active), 16.4 W
 *    at 10 %.  laptop = Intel Core i5-8250U, TDP 15 W (CodeCarbon's cpu_power.csv)
 *    as active power.  Phone powers, idle powers of phones/laptop, radio
 *    energy, latency, batteries (3000/4000/4500 mAh at 3.85 V; 50 Wh laptop)
 *    and memory caps (by the RAM of the percentile phones: 0.5–1 GB, 4 GB,
 *    8 GB) are stated assumptions, not measurements.
 */
/* 2NN (784-200-200-10) training, B = 10, grad + SGD step (the path fed.c runs):
 * 71.6 GFLOP/s nominal (6 x params per sample) on one core of this project's
 * CPU (SkylakeX, OpenBLAS 0.3.21), measured with `hetfl bench kernels --quick`.
 * Servers scale it by their core count (an assumption: perfect scaling, same
 * per-core speed as this CPU). */
#define HF_CORE_GFLOPS 71.6

static const hf_devclass_t library[] = {
    /* name         cores gflops               mem   up     down   lat    act    idle  J/MB   battery */
    {"phone-low",   1, 0.80,                   0.25, 0.665, 3.177, 0.050, 1.5,   0.3,  0.10, 41580},
    {"phone-mid",   2, 4.50,                   0.50, 3.286, 4.318, 0.050, 2.5,   0.4,  0.10, 55440},
    {"phone-high",  4, 10.0,                   1.00, 6.279, 9.913, 0.050, 4.0,   0.5,  0.10, 62370},
    {"laptop",      4, 4 * HF_CORE_GFLOPS / 2, 1.00, 6.635, 17.333, 0.020, 15.0, 3.0,  0.05, 180000},
    {"edge-server", 8, 8 * HF_CORE_GFLOPS,     1.00, 1000, 1000,  0.0005, 50.7,  18.6, 0.005, INFINITY},
    {"hpc-node",   12, 12 * HF_CORE_GFLOPS,    1.00, 1000, 1000,  0.0005, 117.0, 16.4, 0.005, INFINITY},
};
#define NLIB ((int)(sizeof library / sizeof *library))

const hf_devclass_t *hf_devclass_library(int *n)
{
    *n = NLIB;
    return library;
}

static void print_class(FILE *out, const hf_devclass_t *c)
{
    char bat[32];
    if (isinf(c->battery_j)) snprintf(bat, sizeof bat, "mains");
    else snprintf(bat, sizeof bat, "%.0f kJ", c->battery_j / 1e3);
    fprintf(out, "  %-12s %5d %8.2f %5.2f %8.3f %8.3f %7.4f %7.1f %6.1f %6.3f  %s\n", c->name, c->cores,
            c->gflops, c->mem_width, c->up_mbps, c->down_mbps, c->latency_s, c->active_w, c->idle_w,
            c->radio_j_per_mb, bat);
}

void hf_devclass_print_library(FILE *out)
{
    fprintf(out, "device classes (devices.classes = name:share,...; figures and their sources: src/system/devices.c):\n"
                 "  %-12s %5s %8s %5s %8s %8s %7s %7s %6s %6s  %s\n",
            "name", "cores", "GFLOP/s", "width", "up Mb/s", "down", "lat s", "act W", "idle W", "J/MB",
            "battery");
    for (int i = 0; i < NLIB; i++) print_class(out, &library[i]);
    fprintf(out, "  %-12s from the devices.cores, devices.gflops, ... keys\n", "custom");
}

/* -------------------------------------------------------------- parse --- */

static int find_class(const hf_devclass_t *cls, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(cls[i].name, name)) return i;
    return -1;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

static int parse_double(const char *s, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return errno || end == s || *trim(end) || isnan(*v);
}

int hf_devices_load_csv(hf_devices_t *d, const char *path)
{
    FILE *f = hf_input_fopen(path, (uint64_t)1 << 20);  /* a table of classes: regular, <= 1 MiB */
    if (!f) return HF_EINPUT;
    hf_inputs_note(path);  /* its SHA-256 goes into the results file */
    static const char *cols[] = {"name", "cores", "gflops", "mem_width", "up_mbps", "down_mbps",
                                 "latency_s", "active_w", "idle_w", "radio_j_per_mb", "battery_j",
                                 "share"};
    char line[4096];
    int ln = 0, header = 0, ncol = 0, rc = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        ln++;
        char *s = trim(line);
        if (!*s || *s == '#') continue;
        char *fld[16];
        int nf = 0;
        for (char *tok = s;; ) {
            char *comma = strchr(tok, ',');
            if (comma) *comma = 0;
            if (nf < 16) fld[nf++] = trim(tok);
            if (!comma) break;
            tok = comma + 1;
        }
        if (!header) {
            header = 1;
            ncol = nf;
            if (nf < 11 || nf > 12) {
                rc = hf_seterr(HF_EINPUT, "%s:%d: header must be name,cores,gflops,mem_width,up_mbps,"
                               "down_mbps,latency_s,active_w,idle_w,radio_j_per_mb,battery_j[,share]",
                               path, ln);
                break;
            }
            for (int i = 0; i < nf; i++)
                if (strcmp(fld[i], cols[i]))
                    rc = hf_seterr(HF_EINPUT, "%s:%d: column %d is '%s', expected '%s'", path, ln,
                                   i + 1, fld[i], cols[i]);
            continue;
        }
        if (nf != ncol) {
            rc = hf_seterr(HF_EINPUT, "%s:%d: %d fields, the header has %d", path, ln, nf, ncol);
            break;
        }
        if (!*fld[0] || strlen(fld[0]) >= sizeof d->cls[0].name || strchr(fld[0], ':')) {
            rc = hf_seterr(HF_EINPUT, "%s:%d: bad class name '%s' (1-31 characters, no ':')", path,
                           ln, fld[0]);
            break;
        }
        int idx = find_class(d->cls, d->nclasses, fld[0]);
        if (idx < 0) {
            if (d->nclasses == HF_MAX_CLASSES) {
                rc = hf_seterr(HF_EINPUT, "%s:%d: more than %d classes", path, ln, HF_MAX_CLASSES);
                break;
            }
            idx = d->nclasses++;
        }
        hf_devclass_t c = {0};
        snprintf(c.name, sizeof c.name, "%s", fld[0]);
        double v[12];
        for (int i = 1; i < nf && !rc; i++) {
            if (parse_double(fld[i], &v[i]))
                rc = hf_seterr(HF_EINPUT, "%s:%d: %s: '%s' is not a number", path, ln, cols[i], fld[i]);
            else if (v[i] < 0 || (i != 10 && isinf(v[i])))
                rc = hf_seterr(HF_EINPUT, "%s:%d: %s: must be finite and >= 0, got %s", path, ln,
                               cols[i], fld[i]);
        }
        if (rc) break;
        if (v[1] < 1 || v[1] > 1024 || v[1] != floor(v[1]))
            rc = hf_seterr(HF_EINPUT, "%s:%d: cores: an integer in [1, 1024], got %s", path, ln, fld[1]);
        else if (v[2] <= 0 || v[4] <= 0 || v[5] <= 0)
            rc = hf_seterr(HF_EINPUT, "%s:%d: gflops, up_mbps and down_mbps must be > 0", path, ln);
        else if (v[3] <= 0 || v[3] > 1)
            rc = hf_seterr(HF_EINPUT, "%s:%d: mem_width must be in (0, 1], got %s", path, ln, fld[3]);
        if (rc) break;
        c.cores = (int)v[1];
        c.gflops = v[2];
        c.mem_width = v[3];
        c.up_mbps = v[4];
        c.down_mbps = v[5];
        c.latency_s = v[6];
        c.active_w = v[7];
        c.idle_w = v[8];
        c.radio_j_per_mb = v[9];
        c.battery_j = v[10];
        d->cls[idx] = c;
        d->share[idx] = nf == 12 ? v[11] : -1;
    }
    fclose(f);
    if (!rc && !header) rc = hf_seterr(HF_EINPUT, "%s: empty class file (no header)", path);
    return rc;
}

static const char *cget(const hf_conf_t *c, const char *k)
{
    const char *v = hf_conf_get(c, k);
    return v ? v : "";
}

int hf_devices_from_conf(hf_devices_t *d, const hf_conf_t *c, const hf_devclass_t *custom)
{
    memset(d, 0, sizeof *d);
    d->clock = !strcmp(cget(c, "devices.clock"), "measured") ? HF_CLOCK_MEASURED : HF_CLOCK_MODEL;
    d->jitter = hf_conf_float(c, "devices.jitter");
    d->bind = hf_conf_bool(c, "devices.bind");
    d->deadline_s = hf_conf_float(c, "federation.deadline_s");
    d->partial_work = hf_conf_bool(c, "federation.partial_work");
    d->overcommit = hf_conf_float(c, "federation.overcommit");
    d->deal = hf_deal_mode(cget(c, "devices.deal"));
    const char *bw = cget(c, "federation.backup_workers");
    if (!strcmp(bw, "dynamic")) d->backup = HF_BACKUP_DYNAMIC;
    else {
        char *end;
        errno = 0;
        long b = strtol(bw, &end, 10);
        if (errno || end == bw || *end || b < 0 || b > 100000)
            return hf_key_err(c, "federation.backup_workers", "expected a number of backup workers "
                           "b >= 0 or 'dynamic', got '%s'", bw);
        d->backup = b > 0 ? HF_BACKUP_STATIC : HF_BACKUP_NONE;
        d->backup_b = (int)b;
    }
    if (d->partial_work && d->deadline_s <= 0)
        return hf_key_err(c, "federation.partial_work", "%s", "partial work needs a deadline "
                       "(federation.deadline_s > 0)");

    /* the class table: library, then the file (overriding by name), then custom */
    hf_devices_t lib = {0};
    int nlib;
    const hf_devclass_t *L = hf_devclass_library(&nlib);
    for (int i = 0; i < nlib; i++) { lib.cls[i] = L[i]; lib.share[i] = -1; }
    lib.nclasses = nlib;
    const char *file = cget(c, "devices.file");
    int from_file[HF_MAX_CLASSES] = {0};
    if (file[0]) {
        hf_devices_t tmp = {0};
        int rc = hf_devices_load_csv(&tmp, file);
        if (rc) {
            const char *o = hf_conf_origin(c, "devices.file");
            char m[4096];
            snprintf(m, sizeof m, "%s", hf_errmsg());
            return hf_seterr(rc, "%s: key 'devices.file': %s", o ? o : "?", m);
        }
        for (int i = 0; i < tmp.nclasses; i++) {
            int j = find_class(lib.cls, lib.nclasses, tmp.cls[i].name);
            if (j < 0) {
                if (lib.nclasses == HF_MAX_CLASSES)
                    return hf_key_err(c, "devices.file", "more than %s classes in all", "32");
                j = lib.nclasses++;
            }
            lib.cls[j] = tmp.cls[i];
            lib.share[j] = tmp.share[i];
            from_file[j] = 1;
        }
    }
    hf_devclass_t cu = *custom;
    snprintf(cu.name, sizeof cu.name, "custom");

    const char *mix = cget(c, "devices.classes");
    if (!mix[0] && !file[0]) {
        d->nclasses = 1;
        d->cls[0] = *custom;
        snprintf(d->cls[0].name, sizeof d->cls[0].name, "default");
        d->share[0] = 1.0;
        return 0;
    }
    double total = 0;
    if (!mix[0]) {
        /* devices.file alone: every class of the file, with its share column */
        for (int j = 0; j < lib.nclasses; j++) {
            if (!from_file[j]) continue;
            if (lib.share[j] < 0)
                return hf_key_err(c, "devices.file", "%s", "without devices.classes the file needs a "
                               "'share' column");
            d->cls[d->nclasses] = lib.cls[j];
            d->share[d->nclasses++] = lib.share[j];
            total += lib.share[j];
        }
    } else {
        char buf[4096];
        snprintf(buf, sizeof buf, "%s", mix);
        for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            char *t = trim(tok), *colon = strchr(t, ':');
            double sh = 1.0;
            if (colon) {
                *colon = 0;
                if (parse_double(trim(colon + 1), &sh) || sh < 0 || isinf(sh))
                    return hf_key_err(c, "devices.classes", "bad share in '%s' (name:share, share a "
                                   "number >= 0)", t);
            }
            t = trim(t);
            const hf_devclass_t *cl = NULL;
            if (!strcmp(t, "custom")) cl = &cu;
            else {
                int j = find_class(lib.cls, lib.nclasses, t);
                if (j >= 0) cl = &lib.cls[j];
            }
            if (!cl) {
                char m[1024];
                int best = -1, bd = 4;
                for (int j = 0; j < lib.nclasses; j++) {
                    int dd = hf_edit_distance(t, lib.cls[j].name);
                    if (dd < bd) { bd = dd; best = j; }
                }
                snprintf(m, sizeof m, "unknown device class '%s'%s%s%s (hetfl list shows the library; "
                         "'custom' is the class of the devices.* keys)", t,
                         best >= 0 ? " (did you mean '" : "", best >= 0 ? lib.cls[best].name : "",
                         best >= 0 ? "'?)" : "");
                return hf_key_err(c, "devices.classes", "%s", m);
            }
            if (find_class(d->cls, d->nclasses, cl->name) >= 0)
                return hf_key_err(c, "devices.classes", "class '%s' listed twice", t);
            if (d->nclasses == HF_MAX_CLASSES)
                return hf_key_err(c, "devices.classes", "at most %s classes", "32");
            d->cls[d->nclasses] = *cl;
            d->share[d->nclasses++] = sh;
            total += sh;
        }
        if (!d->nclasses) return hf_key_err(c, "devices.classes", "%s", "no class listed");
    }
    if (!(total > 0))
        return hf_key_err(c, mix[0] ? "devices.classes" : "devices.file", "%s", "the shares sum to 0");
    for (int i = 0; i < d->nclasses; i++) d->share[i] /= total;
    return 0;
}

void hf_devices_deal(const hf_devices_t *d, uint64_t seed, int n, hf_deal_t *out)
{
    /* exact quotas: floor(share·n), the remainder to the largest fractional parts
     * (ties: lower class index) */
    int cnt[HF_MAX_CLASSES], given = 0;
    double frac[HF_MAX_CLASSES];
    for (int i = 0; i < d->nclasses; i++) {
        double q = d->share[i] * n;
        cnt[i] = (int)floor(q);
        frac[i] = q - cnt[i];
        given += cnt[i];
    }
    while (given < n) {
        int best = 0;
        for (int i = 1; i < d->nclasses; i++)
            if (frac[i] > frac[best]) best = i;
        cnt[best]++;
        frac[best] = -1;
        given++;
    }
    hf_rng_t r;
    hf_rng_init(&r, seed, HF_RNG_DEVICE, 0xC1A55u, 0);
    hf_deal_init(out, &r, n, d->nclasses, cnt, d->deal);
}

void hf_devices_assign(const hf_devices_t *d, uint64_t seed, int n, int *out)
{
    hf_deal_t dl;
    hf_devices_deal(d, seed, n, &dl);
    for (int k = 0; k < n; k++) out[k] = hf_deal_class(&dl, k);
    hf_deal_free(&dl);
}

void hf_devices_describe(const hf_devices_t *d, char *mix, size_t nmix, char *pol, size_t npol)
{
    size_t l = 0;
    mix[0] = 0;
    for (int i = 0; i < d->nclasses && l < nmix; i++)
        l += (size_t)snprintf(mix + l, nmix - l, "%s%s %.0f%%", i ? ", " : "", d->cls[i].name,
                              100 * d->share[i]);
    l = (size_t)snprintf(pol, npol, "clock %s", d->clock == HF_CLOCK_MODEL ? "model" : "measured");
    if (d->deadline_s > 0 && l < npol)
        l += (size_t)snprintf(pol + l, npol - l, ", deadline %g s%s", d->deadline_s,
                              d->partial_work ? " (partial work)" : "");
    if (d->overcommit > 1 && l < npol) l += (size_t)snprintf(pol + l, npol - l, ", overcommit %g", d->overcommit);
    if (d->backup == HF_BACKUP_STATIC && l < npol)
        l += (size_t)snprintf(pol + l, npol - l, ", %d backup workers", d->backup_b);
    if (d->backup == HF_BACKUP_DYNAMIC && l < npol)
        snprintf(pol + l, npol - l, ", dynamic backup workers");
}

void hf_devices_print_placement(FILE *out, const hf_devices_t *d, uint64_t seed, int nclients, int ranks)
{
    hf_deal_t cl;  /* the run's deal: no array with the bijection */
    hf_devices_deal(d, seed, nclients, &cl);
    fprintf(out, "# device classes (clients: share → count):\n");
    for (int i = 0; i < d->nclasses; i++) {
        int cnt = cl.end[i] - (i ? cl.end[i - 1] : 0);
        const hf_devclass_t *c = &d->cls[i];
        fprintf(out, "#   %-12s %5.1f%% → %d clients: %d cores, %g GFLOP/s, up/down %g/%g Mbit/s, "
                "latency %g s\n", c->name, 100 * d->share[i], cnt, c->cores, c->gflops, c->up_mbps,
                c->down_mbps, c->latency_s);
    }
    fprintf(out, "# placement on %d rank%s (rank: clients, class = most cores among them, cores "
            "bound; each client trains with its own class's OpenBLAS threads):\n", ranks,
            ranks == 1 ? "" : "s");
    for (int r = 0; r < ranks; r++) {
        int f = (int)(((long)r * nclients + ranks - 1) / ranks);
        int l = (int)(((long)(r + 1) * nclients + ranks - 1) / ranks);
        int best = -1;
        for (int k = f; k < l; k++) {
            int ck = hf_deal_class(&cl, k);
            if (best < 0 || d->cls[ck].cores > d->cls[best].cores) best = ck;
        }
        if (best < 0) fprintf(out, "#   rank %d: no clients\n", r);
        else fprintf(out, "#   rank %d: clients %d-%d, class %s, %d core%s\n", r, f, l - 1,
                     d->cls[best].name, d->cls[best].cores, d->cls[best].cores == 1 ? "" : "s");
    }
    hf_deal_free(&cl);
}

/* -------------------------------------------------------------- clock --- */

double hf_clock_jitter(double sigma, uint64_t seed, int round, int client)
{
    if (sigma <= 0) return 1.0;
    hf_rng_t r;
    hf_rng_init(&r, seed, HF_RNG_DEVICE, (uint64_t)round + 1, (uint64_t)client);
    return exp(sigma * hf_rng_normal(&r));
}

double hf_clock_compute_s(const hf_devclass_t *c, double flops, double jitter)
{
    return flops / (c->gflops * 1e9) * jitter;
}

double hf_clock_transfer_s(double latency_s, double mbps, uint64_t bytes)
{
    return latency_s + (double)bytes * 8.0 / (mbps * 1e6);
}

int hf_devices_nselect(const hf_devices_t *d, int K, int nclients)
{
    int m = K;
    if (d->overcommit > 1.0) m = (int)ceil(d->overcommit * K - 1e-9);
    return HF_MIN(HF_MAX(m, K), nclients);
}

/* ---------------------------------------------------------- round plan --- */

typedef struct { double t; int client, i; } hf_fin_t;

static int fin_cmp(const void *a, const void *b)
{
    const hf_fin_t *x = a, *y = b;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    return (x->client > y->client) - (x->client < y->client);
}

int hf_round_plan(const hf_devices_t *d, const hf_round_in_t *in, hf_dplan_t *out, double *duration)
{
    int m = in->m, B = HF_MAX(in->batch, 1), any_late = 0;
    hf_fin_t *ord = hf_calloc((size_t)HF_MAX(m, 1), sizeof *ord);
    int nord = 0;
    for (int i = 0; i < m; i++) {
        const hf_devclass_t *c = &d->cls[in->cls[i]];
        hf_dplan_t *p = &out[i];
        memset(p, 0, sizeof *p);
        if (in->skip && in->skip[i]) { p->outcome = -1; continue; }
        int E = in->epochs_of ? in->epochs_of[i] : in->epochs;
        long nk = in->samples[i];
        long spe = (nk + B - 1) / B;  /* steps per epoch */
        double jit = hf_clock_jitter(d->jitter, in->seed, in->round, in->client[i]);
        double fs = in->flops_scale ? in->flops_scale[i] : 1.0;
        double bs = in->bytes_scale ? in->bytes_scale[i] : 1.0;
        double per_sample = hf_clock_compute_s(c, in->flops_per_sample * fs, jit);
        p->t_down = hf_clock_transfer_s(c->latency_s, c->down_mbps, (uint64_t)llround((double)in->bytes_down * bs));
        if (in->pre_s) p->t_down += in->pre_s[i];  /* data transfer to participants (fed.c) */
        p->t_up = hf_clock_transfer_s(c->latency_s, c->up_mbps, (uint64_t)llround((double)in->bytes_up * bs));
        p->steps_full = (int)(spe * E);
        p->t_compute_full = per_sample * (double)nk * E;
        p->t_compute = p->t_compute_full;
        p->steps = p->steps_full;
        p->finish = p->t_down + p->t_compute + p->t_up;
        p->outcome = HF_OUT_COMPLETED;
        if (d->deadline_s > 0 && p->finish > d->deadline_s) {
            /* whole steps that fit: epoch e, step j covers samples min(B, nk − jB) */
            int s = 0;
            double t = 0;
            if (d->partial_work) {
                double avail = d->deadline_s - p->t_down - p->t_up;
                for (long e = 0; e < E && t <= avail; e++)
                    for (long j = 0; j < spe; j++) {
                        long b = HF_MIN((long)B, nk - j * B);
                        double dt = per_sample * (double)b;
                        if (t + dt > avail) { t += dt; break; }
                        t += dt;
                        s++;
                    }
                /* recompute the time of exactly s steps (the loop overshoots by one) */
                t = 0;
                for (long q = 0; q < s; q++) {
                    long j = q % spe;
                    t += per_sample * (double)HF_MIN((long)B, nk - j * B);
                }
            }
            if (s > 0) {
                p->steps = s;
                p->t_compute = t;
                p->finish = p->t_down + t + p->t_up;
                p->outcome = HF_OUT_PARTIAL;
            } else {
                p->steps = 0;
                p->outcome = HF_OUT_LATE;
                any_late = 1;
                continue;
            }
        }
        ord[nord].t = p->finish;
        ord[nord].client = in->client[i];
        ord[nord++].i = i;
    }
    qsort(ord, (size_t)nord, sizeof *ord, fin_cmp);
    /* how many updates the server waits for (clients discarded by the strategy are
     * not awaited); it closes the round at the target-th arrival, or at the
     * deadline when fewer arrive in time */
    int nawait = 0;
    for (int i = 0; i < m; i++) nawait += !(in->skip && in->skip[i]);
    int target = nawait, reason = HF_OUT_OVERCOMMITTED;
    if (d->overcommit > 1.0 && in->K < target) target = in->K;
    if (d->backup == HF_BACKUP_STATIC && m - d->backup_b < target) {
        target = HF_MAX(m - d->backup_b, 1);
        reason = HF_OUT_BACKUP;
    }
    if (d->backup == HF_BACKUP_DYNAMIC && in->k_dynamic > 0 && in->k_dynamic < target) {
        target = in->k_dynamic;
        reason = HF_OUT_BACKUP;
    }
    int keep = HF_MIN(nord, target);
    double dur = 0;
    for (int r = 0; r < nord; r++) {
        hf_dplan_t *p = &out[ord[r].i];
        if (r < keep) {
            if (p->finish > dur) dur = p->finish;
        } else {
            p->outcome = reason;
            p->steps = 0;
        }
    }
    if (any_late && nord < target && d->deadline_s > dur) dur = d->deadline_s;
    free(ord);
    *duration = dur;
    return keep;
}

/* ------------------------------------------------ dynamic backup workers --- */

hf_dbw_t *hf_dbw_new(int m, long nparams)
{
    hf_dbw_t *s = hf_calloc(1, sizeof *s);
    s->m = m;
    s->nparams = nparams;
    s->tsum = hf_calloc((size_t)m + 1, sizeof(double));
    s->prev_mean = nparams > 0 ? hf_calloc((size_t)nparams, sizeof(float)) : NULL;
    s->k = m;
    s->L = 1.0;
    return s;
}

void hf_dbw_free(hf_dbw_t *s)
{
    if (!s) return;
    free(s->tsum);
    free(s->prev_mean);
    free(s);
}

static int dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void hf_dbw_observe_times(hf_dbw_t *s, const hf_dplan_t *plan, int m)
{
    if (m != s->m) return;
    double *t = hf_calloc((size_t)m, sizeof(double));
    for (int i = 0; i < m; i++)  /* a client discarded elsewhere never arrives */
        t[i] = plan[i].outcome < 0 ? INFINITY : plan[i].t_down + plan[i].t_compute_full + plan[i].t_up;
    qsort(t, (size_t)m, sizeof(double), dcmp);
    for (int k = 0; k < m; k++) s->tsum[k] += t[k];
    s->nobs_time++;
    free(t);
}

void hf_dbw_observe_updates(hf_dbw_t *s, int k, const double *w, const double *norm2,
                            const float *mean)
{
    double M = 0, diff = 0, prev = 0, S = 0, W2 = 0;
    for (long j = 0; j < s->nparams; j++) {
        double v = mean[j], pv = s->prev_mean[j];
        M += v * v;
        diff += (v - pv) * (v - pv);
        prev += pv * pv;
    }
    for (int i = 0; i < k; i++) { S += w[i] * norm2[i]; W2 += w[i] * w[i]; }
    if (k > 1 && W2 < 1.0) s->sigma2 = HF_MAX(S - M, 0.0) / (1.0 - W2);
    s->G = HF_MAX(M - s->sigma2 * W2, 0.0);
    if (s->nobs_grad > 0 && prev > 0) {
        double L = sqrt(diff / prev);
        s->L = L < 0.01 ? 0.01 : L > 1.0 ? 1.0 : L;
    }
    memcpy(s->prev_mean, mean, (size_t)s->nparams * sizeof(float));
    s->nobs_grad++;
}

int hf_dbw_choose(hf_dbw_t *s)
{
    s->k = s->m;
    if (s->nobs_time < 1 || s->nobs_grad < 2 || s->sigma2 <= 0) return s->k;
    double best = 0;
    for (int k = 1; k <= s->m; k++) {
        double T = s->tsum[k - 1] / s->nobs_time;
        double gain = (1.0 - s->L / 2) * s->G - (s->L / 2) * s->sigma2 / k;
        if (T <= 0 || gain <= 0) continue;
        double v = gain / T;
        if (v > best) { best = v; s->k = k; }
    }
    return s->k;
}
