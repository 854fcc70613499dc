/*
 * energy.c — energy model, regions and carbon, energy budgets with adaptive
 * strategies, carbon-aware scheduling (see energy.h).
 *
 * Carbon-aware scheduling (Arputharaj et al. 2025, adapted to synchronous
 * rounds).  The carbon cost of client k in slot s is c_k(s) = E_k · CI_r(k)(s),
 * E_k its full-round model energy.  Shares maximise the α-fair utility
 * Σ_k x_k^{1−α}/(1−α) under a carbon constraint Σ_k x_k c_k ≤ C; the KKT
 * conditions give x_k ∝ c_k^{−1/α} (α → ∞: equal shares, the agnostic
 * sampler; α → 0: cheapest clients only).  Inclusion probabilities
 * π_k = min(1, λ x_k) with Σ π_k = m (water-filling); m clients are drawn by
 * systematic sampling over a keyed random order, which realises exactly these
 * π_k.  With slack, every whole-hour slot within slack_h of the round's
 * earliest start is priced (expected carbon Σ π_k c_k) and the cheapest taken:
 * the round is deferred into low-carbon hours.  A carbon budget spreads what
 * is left evenly over the remaining rounds and lowers m when the expected
 * round carbon exceeds that allowance.  Aggregation weights n_k/π_k
 * normalised by their sum (Hájek estimator) undo the induced participation
 * bias: with π uniform they reduce to FedAvg's n_k/Σn.
 *
 * Energy budgets (FL under an energy limit): client k holds budget B_k
 * (energy.budget_j × U[1−spread, 1+spread], keyed by the seed), refilled every
 * budget_period_h of simulated time (0: a battery that is never recharged).  A
 * client whose remaining budget cannot pay a full round either drops out
 * (exclude → outcome over_budget) or lowers its cost: fewer local steps,
 * a sampled subset of its data each epoch, or a QSGD-compressed upload (auto:
 * compression first, then fewer steps).  Server-side bias correction: a
 * shortened update is scaled by steps_full/steps (FedNova's normalisation for
 * plain SGD, a_k = τ_k), so every kept client contributes full-round progress;
 * QSGD is unbiased and needs none.  Width strategies (HeteroFL, FjORD) may
 * instead drop such a client to the widest narrower sub-model whose round it
 * can pay (width): the same steps on fewer units, so no correction is needed.
 */
#include "energy.h"
#include "checkpoint.h"
#include "cstore.h"
#include "deal.h"
#include "h5out.h"
#include "hf_util.h"
#include "provenance.h"
#include "rng.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* a planned client's budget: what is left, and the period of its last refill */
typedef struct { double remaining; int64_t period; } budget_state_t;

struct hf_energy {
    uint64_t seed;
    int nclients, rounds;
    hf_carbon_t carbon;
    int default_region;     /* index of "default" (constant energy.carbon_intensity) or -1 */
    int *region;            /* per client: index into carbon (energy.regions_file); NULL: dealt or "default" */
    hf_deal_t deal;         /* energy.regions: client k's region is region_idx[its class] (deal.h); n = 0: none */
    int region_idx[HF_DEAL_MAX_CLASSES];
    int has_budget;         /* energy.budget_j > 0 or energy.battery_budget; 0: every budget infinite */
    double budget_j, spread;   /* B_k = budget_j × U[1−spread, 1+spread] keyed by (seed, energy, 2, k) */
    const double *battery_j;   /* energy.battery_budget without budget_j: B_k = battery_j[class of k] */
    const hf_deal_t *classes;  /* (hf_energy_set_batteries), +inf when not finite and > 0 */
    hf_cstore_t spent;      /* budget_state_t of the clients planned so far (cstore.h) */
    int64_t start;          /* Unix time of simulated time 0 */
    int sched;              /* hf_sched_t */
    double slack_h, carbon_budget_g, alpha, carbon_spent;
    double period_s;        /* budget refill period, 0 = never */
    int strategy;           /* hf_budget_strategy_t */
    int count_idle;
    hf_comp_cfg_t comp;     /* energy.compress for every upload */
    hf_comp_cfg_t adapt_comp;  /* the QSGD codec of the compress strategy */
    hf_cvecs_t topk_mem;    /* hosted clients' error-feedback memory, for those that uploaded (top-k only) */
    long nparams_mem;
    char rapl_root[4096];
    int measure;
};

hf_energy_parts_t hf_energy_model(double active_w, double compute_s, double radio_j_per_mb,
                                  uint64_t bytes_down, uint64_t bytes_up, double idle_w,
                                  double idle_s)
{
    hf_energy_parts_t p;
    p.compute_j = active_w * compute_s;
    p.radio_j = radio_j_per_mb * ((double)bytes_down + (double)bytes_up) / 1e6;
    p.idle_j = idle_w * idle_s;
    p.total_j = p.compute_j + p.radio_j + p.idle_j;
    return p;
}

/* ------------------------------------------------------------- set-up --- */

static int region_index(hf_energy_t *e, const hf_conf_t *c, const char *key, const char *name)
{
    if (!strcmp(name, "default")) return e->default_region;
    int i = hf_carbon_resolve(&e->carbon, name);
    if (i < 0) {
        char m[512];
        snprintf(m, sizeof m, "unknown region '%.32s': not in energy.carbon_file%s and not a code "
                 "of the country table (e.g. FR, DE, US-CA)", name,
                 e->carbon.n ? "" : " (none given)");
        hf_key_err(c, key, "%s", m);
    }
    return i;
}

/* energy.regions = "CISO:0.2,ERCO:0.3,..." → exact quotas by largest remainder,
 * dealt to clients from the stream (seed, HF_RNG_ENERGY, 1, 0) as devices.deal
 * says (deal.h). */
static int assign_regions_mix(hf_energy_t *e, const hf_conf_t *c, const char *spec, int mode)
{
    int nr = 0, idx[64];
    double share[64], tot = 0;
    char *s = hf_strdup(spec), *save = NULL;
    int rc = 0;
    for (char *tok = strtok_r(s, ",", &save); tok && !rc; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') tok++;
        char *colon = strchr(tok, ':');
        double w = 1.0;
        if (colon) {
            *colon = 0;
            char *end;
            w = strtod(colon + 1, &end);
            if (end == colon + 1 || *end || !(w > 0)) {
                rc = hf_key_err(c, "energy.regions", "expected REGION:SHARE,... with positive shares");
                break;
            }
        }
        if (nr == 64) { rc = hf_key_err(c, "energy.regions", "at most 64 regions"); break; }
        int i = region_index(e, c, "energy.regions", tok);
        if (i < 0) { rc = HF_EINPUT; break; }
        idx[nr] = i;
        share[nr++] = w;
        tot += w;
    }
    free(s);
    if (rc) return rc;
    if (nr == 0) return hf_key_err(c, "energy.regions", "no regions");
    int N = e->nclients, quota[64], given = 0;
    double rem[64];
    for (int r = 0; r < nr; r++) {
        double q = share[r] / tot * N;
        quota[r] = (int)floor(q);
        rem[r] = q - quota[r];
        given += quota[r];
    }
    while (given < N) {   /* largest remainder, ties to the first listed */
        int b = 0;
        for (int r = 1; r < nr; r++) if (rem[r] > rem[b]) b = r;
        quota[b]++;
        rem[b] = -1;
        given++;
    }
    hf_rng_t rg;
    hf_rng_init(&rg, e->seed, HF_RNG_ENERGY, 1, 0);
    hf_deal_init(&e->deal, &rg, N, nr, quota, mode);
    memcpy(e->region_idx, idx, (size_t)nr * sizeof(int));
    return 0;
}

/* energy.regions_file: "client,region" rows (header optional, # comments) */
static int assign_regions_file(hf_energy_t *e, const hf_conf_t *c, const char *path)
{
    FILE *f = hf_input_fopen(path, HF_INPUT_TEXT_MAX);  /* regular files only (hf_util.h) */
    if (!f) {
        char m[4096];
        snprintf(m, sizeof m, "%s", hf_errmsg());
        return hf_key_err(c, "energy.regions_file", "%s", m);
    }
    hf_inputs_note(path);  /* its SHA-256 goes into the results file */
    char line[512];
    long ln = 0;
    int rc = 0;
    for (int k = 0; k < e->nclients; k++) e->region[k] = -1;
    while (!rc && fgets(line, sizeof line, f)) {
        ln++;
        line[strcspn(line, "\r\n")] = 0;
        if (line[0] == '#' || !line[0] || (ln == 1 && !strncmp(line, "client,", 7))) continue;
        char *comma = strchr(line, ','), *end;
        long k = comma ? strtol(line, &end, 10) : -1;
        if (!comma || end != comma || k < 0 || k >= e->nclients) {
            rc = hf_seterr(HF_EINPUT, "%s:%ld: expected 'client,region' with client in [0, %d)",
                           path, ln, e->nclients);
            break;
        }
        int i = !strcmp(comma + 1, "default") ? e->default_region
                                              : hf_carbon_resolve(&e->carbon, comma + 1);
        if (i < 0)
            rc = hf_seterr(HF_EINPUT, "%s:%ld: unknown region '%.32s'", path, ln, comma + 1);
        else e->region[k] = i;
    }
    fclose(f);
    for (int k = 0; !rc && k < e->nclients; k++)
        if (e->region[k] < 0) rc = hf_seterr(HF_EINPUT, "%s: client %d has no region", path, k);
    return rc;
}

hf_energy_t *hf_energy_new(const hf_conf_t *c, uint64_t seed, int nclients, int rounds, int *rcp)
{
    hf_energy_t *e = hf_calloc(1, sizeof *e);
    int rc = 0;
    e->seed = seed;
    e->nclients = nclients;
    e->rounds = rounds;
    const char *cf = hf_conf_get(c, "energy.carbon_file");
    if (cf && cf[0]) {
        rc = hf_carbon_load(&e->carbon, cf);
        if (rc) {
            char m[4096];
            snprintf(m, sizeof m, "%s", hf_errmsg());
            rc = hf_key_err(c, "energy.carbon_file", m);
        }
    }
    /* the constant fallback region "default" */
    if (!rc) {
        e->carbon.r = hf_realloc(e->carbon.r, (size_t)(e->carbon.n + 1) * sizeof *e->carbon.r);
        hf_carbon_region_t *r = &e->carbon.r[e->carbon.n];
        memset(r, 0, sizeof *r);
        snprintf(r->name, sizeof r->name, "default");
        r->kind = HF_CI_CONSTANT;
        r->constant = hf_conf_float(c, "energy.carbon_intensity");
        snprintf(r->source, sizeof r->source, "energy.carbon_intensity");
        e->default_region = e->carbon.n++;
    }
    if (!rc && hf_time_parse(hf_conf_get(c, "energy.start"), &e->start))
        rc = hf_key_err(c, "energy.start", "expected an ISO 8601 time, e.g. 2022-01-01T00:00Z");
    const char *rf = hf_conf_get(c, "energy.regions_file"), *rs = hf_conf_get(c, "energy.regions");
    /* per-client arrays only where a client's value differs from the default
     * (region "default", no budget, no top-k memory): none on the common path */
    if (!rc && rf && rf[0]) {
        e->region = hf_calloc((size_t)nclients, sizeof(int));
        rc = assign_regions_file(e, c, rf);
    } else if (!rc && rs && rs[0])
        rc = assign_regions_mix(e, c, rs, hf_deal_mode(hf_conf_get(c, "devices.deal")));
    const char *sc = hf_conf_get(c, "energy.scheduler");
    e->sched = sc && !strcmp(sc, "carbon-aware") ? HF_SCHED_AWARE : HF_SCHED_AGNOSTIC;
    e->slack_h = hf_conf_float(c, "energy.slack_h");
    e->carbon_budget_g = hf_conf_float(c, "energy.carbon_budget_g");
    e->alpha = hf_conf_float(c, "energy.fair_alpha");
    double bj = hf_conf_float(c, "energy.budget_j"), spread = hf_conf_float(c, "energy.budget_spread");
    e->period_s = hf_conf_float(c, "energy.budget_period_h") * 3600.0;
    if (bj > 0 || hf_conf_bool(c, "energy.battery_budget")) {
        e->has_budget = 1;
        e->budget_j = bj;
        e->spread = spread;
        hf_energy_bound_clients(e, (double)nclients);  /* dense until the engine gives the bound */
    }
    static const char *strat[] = {"exclude", "steps", "sample", "compress", "auto", "width"};
    const char *bs = hf_conf_get(c, "energy.budget_strategy");
    for (int i = 0; i < 6; i++) if (bs && !strcmp(bs, strat[i])) e->strategy = i;
    e->count_idle = hf_conf_bool(c, "energy.count_idle");
    e->comp.kind = hf_comp_parse(hf_conf_get(c, "energy.compress"));
    if (e->comp.kind < 0) e->comp.kind = HF_COMP_NONE;
    e->comp.qsgd_levels = (int)hf_conf_int(c, "energy.qsgd_levels");
    e->comp.qsgd_bucket = (int)hf_conf_int(c, "energy.qsgd_bucket");
    e->comp.topk_ratio = hf_conf_float(c, "energy.topk_ratio");
    e->adapt_comp = e->comp;
    e->adapt_comp.kind = HF_COMP_QSGD;
    snprintf(e->rapl_root, sizeof e->rapl_root, "%s", hf_conf_get(c, "energy.rapl_root"));
    e->measure = hf_conf_bool(c, "energy.measure");
    if (rc) { hf_energy_free(e); *rcp = rc; return NULL; }
    *rcp = 0;
    return e;
}

void hf_energy_free(hf_energy_t *e)
{
    if (!e) return;
    hf_carbon_free(&e->carbon);
    hf_cvecs_free(&e->topk_mem);
    hf_deal_free(&e->deal);
    hf_cstore_free(&e->spent);
    free(e->region);
    free(e);
}

void hf_energy_bound_clients(hf_energy_t *e, double clients)
{
    if (!e->has_budget) return;
    hf_cstore_free(&e->spent);
    hf_cstore_init(&e->spent, e->nclients, clients, sizeof(budget_state_t));
}

void hf_energy_set_batteries(hf_energy_t *e, const double *battery_j, const hf_deal_t *classes)
{
    e->battery_j = battery_j;
    e->classes = classes;
}

void hf_energy_ckpt_register(hf_energy_t *e, int first_client, int last_client, long upload_floats, double bound,
                             double bound_all)
{
    if (e->has_budget)  /* without budgets every client's stays infinite: nothing to save */
        hf_cstore_ckpt_register(&e->spent, "energy_budget_state");
    hf_ckpt_register("energy_carbon_spent", &e->carbon_spent, sizeof(double));
    if (e->comp.kind == HF_COMP_TOPK) {  /* top-k's error-feedback memory of the hosted clients */
        hf_cvecs_free(&e->topk_mem);
        hf_cvecs_init(&e->topk_mem, first_client, last_client - first_client, bound,
                      (size_t)upload_floats * sizeof(float));
        hf_ckpt_register_client_vecs("energy_topk_memory", &e->topk_mem, bound_all);
    }
}

/* client k's region and budget: the defaults when no array was needed */
static int region_of(const hf_energy_t *e, int k)
{
    if (e->region) return e->region[k];
    return e->deal.n ? e->region_idx[hf_deal_class(&e->deal, k)] : e->default_region;
}
const char *hf_energy_region_name(const hf_energy_t *e, int k) { return e->carbon.r[region_of(e, k)].name; }
double hf_energy_budget(const hf_energy_t *e, int k)
{
    if (!e->has_budget) return INFINITY;
    if (e->budget_j > 0) {
        hf_rng_t rg;
        hf_rng_init(&rg, e->seed, HF_RNG_ENERGY, 2, (uint64_t)k);
        return e->budget_j * (1.0 + e->spread * (2.0 * hf_rng_uniform(&rg) - 1.0));
    }
    double b = e->battery_j ? e->battery_j[hf_deal_class(e->classes, k)] : INFINITY;
    return isfinite(b) && b > 0 ? b : INFINITY;
}

/* client k's budget state, made (full budget, period 0) the first time it is planned */
static budget_state_t *budget_state(hf_energy_t *e, int k)
{
    int created;
    budget_state_t *b = hf_cstore_get(&e->spent, k, &created);
    if (created) *b = (budget_state_t){hf_energy_budget(e, k), 0};
    return b;
}
int hf_energy_scheduler(const hf_energy_t *e) { return e->sched; }
int hf_energy_compress_kind(const hf_energy_t *e) { return e->comp.kind; }
const char *hf_energy_rapl_root(const hf_energy_t *e) { return e->rapl_root; }
int hf_energy_measure(const hf_energy_t *e) { return e->measure; }

double hf_energy_ci(const hf_energy_t *e, int k, double sim_time)
{
    return hf_carbon_at(&e->carbon, region_of(e, k), e->start + (int64_t)floor(sim_time));
}

void hf_energy_describe(const hf_energy_t *e, char *buf, size_t n)
{
    size_t l = 0;
    int *cnt = hf_calloc((size_t)e->carbon.n, sizeof(int));
    if (e->deal.n && !e->region)  /* dealt: the quotas (one pass over N otherwise) */
        for (int q = 0; q < e->deal.nclasses; q++)
            cnt[e->region_idx[q]] += e->deal.end[q] - (q ? e->deal.end[q - 1] : 0);
    else
        for (int k = 0; k < e->nclients; k++) cnt[region_of(e, k)]++;
    buf[0] = 0;
    for (int i = 0; i < e->carbon.n && l + 1 < n; i++)
        if (cnt[i]) l += (size_t)snprintf(buf + l, n - l, "%s%s:%d", l ? "," : "", e->carbon.r[i].name, cnt[i]);
    free(cnt);
}

/* ------------------------------------------------------ carbon-aware --- */

/* π_k = min(1, λ x_k), Σ π = m (water-filling over the uncapped) */
static void inclusion_probs(const double *x, int N, int m, double *pi)
{
    char *cap = hf_calloc((size_t)N, 1);
    for (;;) {
        double S = 0;
        int ncap = 0;
        for (int k = 0; k < N; k++) { if (cap[k]) ncap++; else S += x[k]; }
        double r = m - ncap;
        int changed = 0;
        for (int k = 0; k < N; k++) {
            if (cap[k]) { pi[k] = 1.0; continue; }
            pi[k] = S > 0 ? r * x[k] / S : 0;
            if (pi[k] >= 1.0) { cap[k] = 1; changed = 1; }
        }
        if (!changed) break;
    }
    free(cap);
}

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

int hf_energy_select(hf_energy_t *e, int t, double sim_time, int m, const hf_energy_client_t *cl,
                     uint64_t bytes_down, uint64_t bytes_up, int *sel, double *inv_pi, double *start)
{
    int N = e->nclients;
    double *cost = hf_calloc((size_t)N, sizeof(double)), *x = hf_calloc((size_t)N, sizeof(double));
    double *pi = hf_calloc((size_t)N, sizeof(double)), *bestpi = hf_calloc((size_t)N, sizeof(double));
    int J = (int)floor(e->slack_h);
    double best = INFINITY, best_start = sim_time;
    int mt = m;
    for (int pass = 0; pass < 2; pass++) {
        for (int j = 0; j <= J; j++) {
            double s = sim_time + 3600.0 * j;
            for (int k = 0; k < N; k++) {
                hf_energy_parts_t p = hf_energy_model(cl[k].active_w, cl[k].compute_s, cl[k].radio_j_per_mb,
                                                      bytes_down, bytes_up, 0, 0);
                cost[k] = hf_energy_carbon_g(p.total_j, hf_energy_ci(e, k, s));
                x[k] = pow(fmax(cost[k], 1e-12), -1.0 / e->alpha);
            }
            inclusion_probs(x, N, mt, pi);
            double exp_c = 0;
            for (int k = 0; k < N; k++) exp_c += pi[k] * cost[k];
            if (exp_c < best * (1 - 1e-12)) {
                best = exp_c;
                best_start = s;
                memcpy(bestpi, pi, (size_t)N * sizeof(double));
            }
        }
        /* carbon budget: lower m when the expected round carbon exceeds the allowance */
        if (pass == 0 && e->carbon_budget_g > 0) {
            double allow = (e->carbon_budget_g - e->carbon_spent) / (double)(e->rounds - t);
            if (best > allow) {
                int m2 = (int)floor((double)mt * fmax(allow, 0) / best);
                if (m2 < 1) m2 = 1;
                if (m2 < mt) { mt = m2; best = INFINITY; continue; }
            }
        }
        break;
    }
    /* systematic sampling over a keyed random order: inclusion probability exactly π_k */
    int *order = hf_calloc((size_t)N, sizeof(int));
    hf_rng_t rg;
    hf_rng_init(&rg, e->seed, HF_RNG_ENERGY, 3, (uint64_t)t);
    hf_rng_permutation(&rg, N, order);
    double u = hf_rng_uniform(&rg), cum = 0;
    int ns = 0;
    for (int j = 0; j < N && ns < mt; j++) {
        int k = order[j];
        double lo = cum;
        cum += bestpi[k];
        if (bestpi[k] > 0 && u + ns >= lo && u + ns < cum) sel[ns++] = k;
    }
    for (int j = N - 1; j >= 0 && ns < mt; j--) {   /* floating-point shortfall at the end */
        int k = order[j], dup = 0;
        for (int i = 0; i < ns; i++) dup |= sel[i] == k;
        if (!dup && bestpi[k] > 0) sel[ns++] = k;
    }
    qsort(sel, (size_t)ns, sizeof(int), cmp_int);
    for (int i = 0; i < ns; i++) inv_pi[i] = 1.0 / bestpi[sel[i]];
    *start = best_start;
    free(order); free(cost); free(x); free(pi); free(bestpi);
    return ns;
}

void hf_energy_round_done(hf_energy_t *e, double carbon_g) { e->carbon_spent += carbon_g; }

/* ------------------------------------------------------------ budgets --- */

static uint64_t upload_bytes(const hf_comp_cfg_t *c, long n)
{
    switch (c->kind) {
    case HF_COMP_QSGD: return hf_qsgd_bytes(n, c->qsgd_levels, c->qsgd_bucket);
    case HF_COMP_TOPK: {
        long k = (long)ceil(c->topk_ratio * (double)n);
        return hf_topk_bytes(k < 1 ? 1 : k);
    }
    case HF_COMP_FP16: return 2 * (uint64_t)n;
    default: return 4 * (uint64_t)n;
    }
}

static void price(const hf_energy_client_t *c, hf_eplan_t *o)
{
    o->e = hf_energy_model(c->active_w, o->compute_s, c->radio_j_per_mb, o->bytes_down, o->bytes_up,
                           0, 0);
}

/* The width adaptation: the widest narrower sub-model whose round (its
 * compute, its model both ways) fits budget B; o keeps the last one tried. */
static void narrow_width(const hf_energy_client_t *c, double B, hf_eplan_t *o)
{
    for (int j = 0; j < c->nnarrow; j++) {
        o->compute_s = c->narrow_compute_s[j];
        o->bytes_down = o->bytes_up = c->narrow_bytes[j];
        o->narrow = j + 1;
        o->strategy = HF_BUDGET_WIDTH;
        price(c, o);
        if (o->e.total_j <= B) return;
    }
}

void hf_energy_plan(hf_energy_t *e, int t, double start, int k, const hf_energy_client_t *c,
                    uint64_t bytes_down, long nparams, hf_eplan_t *o)
{
    memset(o, 0, sizeof *o);
    o->client = k;
    o->outcome = HF_OUT_COMPLETED;
    o->strategy = HF_BUDGET_EXCLUDE;
    o->steps = c->steps_full;
    o->sample = c->samples;
    o->comp = e->comp.kind;
    o->bytes_down = bytes_down;
    o->bytes_up = upload_bytes(&e->comp, nparams);
    o->compute_s = c->compute_s;
    o->weight = 1.0;
    o->scale = 1.0;
    /* refill at period boundaries of simulated time */
    budget_state_t *bs = e->has_budget ? budget_state(e, k) : NULL;
    if (e->period_s > 0 && bs) {
        int64_t per = (int64_t)floor(start / e->period_s);
        if (per != bs->period) { bs->period = per; bs->remaining = hf_energy_budget(e, k); }
    }
    double B = bs ? bs->remaining : INFINITY;
    price(c, o);
    if (o->e.total_j > B) {
        int s = e->strategy;
        if (s == HF_BUDGET_COMPRESS || s == HF_BUDGET_AUTO) {
            o->comp = HF_COMP_QSGD;
            o->bytes_up = upload_bytes(&e->adapt_comp, nparams);
            o->strategy = HF_BUDGET_COMPRESS;
            price(c, o);
        }
        if (o->e.total_j > B && (s == HF_BUDGET_STEPS || s == HF_BUDGET_SAMPLE || s == HF_BUDGET_AUTO)) {
            /* the largest whole number of steps whose compute fits what the radio leaves */
            double radio = o->e.radio_j, per_step = c->active_w * c->compute_s / c->steps_full;
            int steps = per_step > 0 ? (int)floor((B - radio) / per_step) : c->steps_full;
            if (steps > c->steps_full) steps = c->steps_full;
            if (steps >= 1) {
                o->steps = steps;
                o->compute_s = c->compute_s * steps / c->steps_full;
                o->scale = (double)c->steps_full / steps;
                if (s == HF_BUDGET_SAMPLE) {
                    o->sample = (long)ceil((double)c->samples * steps / c->steps_full);
                    if (o->sample < 1) o->sample = 1;
                    o->strategy = HF_BUDGET_SAMPLE;
                } else {
                    o->strategy = s == HF_BUDGET_AUTO && o->comp == HF_COMP_QSGD ? HF_BUDGET_AUTO
                                                                                 : HF_BUDGET_STEPS;
                }
                price(c, o);
            }
        }
        if (o->e.total_j > B && s == HF_BUDGET_WIDTH) narrow_width(c, B, o);
        if (o->e.total_j > B) {   /* cannot pay even the cheapest variant: sits the round out */
            o->outcome = HF_OUT_OVER_BUDGET;
            o->steps = 0;
            o->narrow = 0;
            o->compute_s = 0;
            o->bytes_down = o->bytes_up = 0;
            o->scale = 0;
            o->e = hf_energy_model(0, 0, 0, 0, 0, 0, 0);
        }
    }
    if (e->count_idle && o->outcome == HF_OUT_COMPLETED) {
        o->e.idle_j = c->idle_w * (o->narrow ? c->narrow_comm_s[o->narrow - 1] : c->comm_s);  /* radio waits */
        o->e.total_j += o->e.idle_j;
    }
    if (bs && isfinite(bs->remaining)) bs->remaining -= o->e.total_j;
    o->remaining_j = bs ? bs->remaining : INFINITY;
    o->ci = hf_energy_ci(e, k, start);
    o->carbon_g = hf_energy_carbon_g(o->e.total_j, o->ci);
    (void)t;
}

int hf_energy_apply_noop(const hf_eplan_t *pl)
{
    return pl->scale == 1.0 && pl->comp == HF_COMP_NONE;
}

uint64_t hf_energy_apply(hf_energy_t *e, const hf_eplan_t *pl, int t, float *delta, long n)
{
    if (pl->scale != 1.0)
        for (long j = 0; j < n; j++) delta[j] = (float)((double)delta[j] * pl->scale);
    hf_comp_cfg_t c = pl->comp == e->comp.kind ? e->comp : e->adapt_comp;
    c.kind = pl->comp;
    float *mem = NULL;
    if (c.kind == HF_COMP_TOPK) {
        if ((size_t)n * sizeof(float) > e->topk_mem.bytes) {
            fprintf(stderr, "hetfl: internal error: top-k memory of %ld floats for an upload of %ld\n",
                    (long)(e->topk_mem.bytes / sizeof(float)), n);
            abort();
        }
        mem = hf_cvecs_get(&e->topk_mem, pl->client, 1);  /* zero at the client's first upload */
    }
    hf_rng_t r;
    hf_rng_init(&r, e->seed, HF_RNG_COMPRESS, (uint64_t)t, (uint64_t)pl->client);
    return hf_compress_update(&c, delta, mem, n, &r);
}
