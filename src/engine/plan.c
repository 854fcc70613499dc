/*
 * plan.c — the plan phase of a round beyond the strategy's own plan: the
 * simulated clock and round policies of the devices, energy budgets and
 * carbon-aware weights, dynamic backup workers, and the volatility layer
 * (availability, selection policies, drop-outs, data transfer to
 * participants).  Every function computes the same on every rank.
 */
#include "run.h"
#include "hf_util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* --------------------------------------------------------------- devices --- */

/* Simulated clock and round policies (devices.c) on top of the strategy's plan:
 * a client the strategy keeps may turn late, partial, overcommitted or backup;
 * the kept set, Σ n_k and the weights are then recomputed — identically on
 * every rank, before any training.  Returns the round's simulated duration. */
double hf_plan_devices(hf_run_t *x, int t, const int *sel, int m, int K, double fps)
{
    const hf_params_t *p = x->p;
    const hf_strategy_t *st = x->strat.st;
    uint64_t xfer = (uint64_t)x->strat.st->upload_factor * (uint64_t)x->model.nparams * sizeof(float);
    for (int i = 0; i < m; i++) {
        x->d_nk[i] = hf_run_nk(x, sel[i]) + (x->tr_count ? x->tr_count[i] : 0);
        x->d_cls[i] = hf_run_class(x, sel[i]);
        x->d_ep[i] = x->plan.c[i].epochs;
        x->d_skip[i] = !x->plan.c[i].kept;
    }
    hf_round_in_t in = {.m = m, .client = sel, .samples = x->d_nk, .cls = x->d_cls, .K = K,
                        .epochs = p->local_epochs, .batch = p->batch_size, .epochs_of = x->d_ep,
                        .skip = x->d_skip, .flops_per_sample = fps,
                        .bytes_down = xfer + x->strat.side_down, .bytes_up = xfer + x->strat.side_up, .seed = p->seed, .round = t,
                        .flops_scale = st->flops_scale ? st->flops_scale(&x->strat) : NULL,
                        .bytes_scale = st->bytes_scale ? st->bytes_scale(&x->strat) : NULL,
                        .k_dynamic = x->dbw ? x->dbw->k : 0, .pre_s = x->tr_s};
    double dur = 0.0;
    hf_round_plan(&p->devs, &in, x->dplan, &dur);
    if (x->dbw) hf_dbw_observe_times(x->dbw, x->dplan, m);
    x->plan.kept = 0;
    x->plan.nsum = 0.0;
    for (int i = 0; i < m; i++) {
        hf_cplan_t *c = &x->plan.c[i];
        const hf_dplan_t *d = &x->dplan[i];
        if (d->outcome < 0) continue;  /* discarded by the strategy */
        if (d->outcome != HF_OUT_COMPLETED && d->outcome != HF_OUT_PARTIAL) {
            c->kept = 0;
            c->epochs = c->steps = 0;
            continue;
        }
        if (d->steps != c->steps) {  /* partial work: FedNova's a_k follows the steps done */
            c->steps = d->steps;
            c->a = hf_strat_normaliser(&x->strat, c->steps);
        }
        x->plan.kept++;
        x->plan.nsum += (double)x->d_nk[i];
    }
    x->strat.st->weights(&x->strat, &x->plan);
    return dur;
}

/* --------------------------------------------------------------- energy --- */

_Static_assert(HF_STRAT_MAX_NARROW == HF_ENERGY_MAX_NARROW, "one bound on the narrower widths");

/* The narrower sub-models plan entry i may train instead (energy.budget_strategy
 * = width): the same steps at each one's FLOPs, its model both ways. */
static void plan_narrower(const hf_run_t *x, int i, const hf_dplan_t *d, const hf_devclass_t *dc,
                          hf_energy_client_t *ec)
{
    const hf_strategy_t *st = x->strat.st;
    double fs[HF_STRAT_MAX_NARROW], f0 = st->flops_scale(&x->strat)[i];
    ec->nnarrow = st->narrower(&x->strat, i, fs, ec->narrow_bytes);
    for (int j = 0; j < ec->nnarrow; j++) {
        uint64_t b = ec->narrow_bytes[j];
        ec->narrow_compute_s[j] = d->t_compute * fs[j] / f0;
        ec->narrow_comm_s[j] = hf_clock_transfer_s(dc->latency_s, dc->down_mbps, b) +
                               hf_clock_transfer_s(dc->latency_s, dc->up_mbps, b);
    }
}

/* Plan entry i now trains its narrower sub-model j (the energy plan's choice):
 * the strategy's plan, and the device plan's times at that width. */
static void plan_narrow(hf_run_t *x, int i, int j, const hf_devclass_t *dc, const hf_eplan_t *ep)
{
    hf_dplan_t *d = &x->dplan[i];
    x->strat.st->narrow(&x->strat, i, j);
    if (d->t_compute > 0) d->t_compute_full *= ep->compute_s / d->t_compute;
    d->t_compute = ep->compute_s;
    d->t_down = hf_clock_transfer_s(dc->latency_s, dc->down_mbps, ep->bytes_down);
    d->t_up = hf_clock_transfer_s(dc->latency_s, dc->up_mbps, ep->bytes_up);
    d->finish = d->t_down + d->t_compute + d->t_up;
}

/* Energy budgets and carbon-aware weights (energy.c) on top of the device plan,
 * identically on every rank: each kept client's round is priced at its class's
 * figures (and its strategy's model bytes) and charged to its budget; one that
 * cannot pay is not kept (outcome over_budget), an adapted one runs ep.steps
 * (fewer steps / sampled data) or a narrower sub-model (width; its device
 * times follow, the round's duration stays the device plan's).  The
 * kept set, Σ n_k and the weights are then recomputed; with the carbon-aware
 * sampler each weight is multiplied by 1/π_k and the divisor by Σ(w/π)/Σw
 * (Hájek).  Budgets are charged before availability drop-outs are known. */
void hf_plan_energy(hf_run_t *x, int t, const int *sel, int m, double start)
{
    const hf_params_t *p = x->p;
    const hf_strategy_t *st = x->strat.st;
    long n_up = (long)st->upload_factor * x->model.nparams;
    uint64_t xfer = (uint64_t)n_up * sizeof(float);
    int changed = 0;
    for (int i = 0; i < m; i++) {
        hf_eplan_t *ep = &x->eplan[i];
        hf_cplan_t *c = &x->plan.c[i];
        hf_dplan_t *d = &x->dplan[i];
        ep->client = -1;
        if (!c->kept || d->outcome < 0) continue;
        const hf_devclass_t *dc = &p->devs.cls[hf_run_class(x, sel[i])];
        hf_energy_client_t ec = {.samples = x->d_nk[i], .steps_full = c->steps, .compute_s = d->t_compute,
                                 .comm_s = d->t_down + d->t_up, .active_w = dc->active_w,
                                 .idle_w = dc->idle_w, .radio_j_per_mb = dc->radio_j_per_mb};
        uint64_t bytes = xfer;
        long n = n_up;
        if (st->model_bytes) {  /* its own model's bytes each way (sub-model, group, components) */
            bytes = st->model_bytes(&x->strat, i);
            n = (long)(bytes / sizeof(float));
        }
        if (st->narrower) plan_narrower(x, i, d, dc, &ec);
        hf_energy_plan(x->en, t, start, sel[i], &ec, bytes, n, ep);
        if (ep->narrow > 0) plan_narrow(x, i, ep->narrow - 1, dc, ep);
        if (ep->outcome == HF_OUT_OVER_BUDGET) {
            c->kept = 0;
            c->epochs = c->steps = 0;
            d->outcome = HF_OUT_OVER_BUDGET;
            changed = 1;
        } else c->steps = ep->steps;
    }
    if (changed) {
        x->plan.kept = 0;
        x->plan.nsum = 0.0;
        for (int i = 0; i < m; i++)
            if (x->plan.c[i].kept) { x->plan.kept++; x->plan.nsum += (double)x->d_nk[i]; }
        x->strat.st->weights(&x->strat, &x->plan);
    }
    if (hf_select_scales(x->sel, sel, m, x->vol_w)) {  /* carbon-aware: 1/π_k */
        double sw = 0.0, swp = 0.0;
        for (int i = 0; i < m; i++) {
            hf_cplan_t *c = &x->plan.c[i];
            if (!c->kept) continue;
            sw += c->weight;
            c->weight *= x->vol_w[i];
            swp += c->weight;
        }
        if (sw > 0) x->plan.divisor *= swp / sw;
    }
}

/* Dynamic backup workers: ‖Δ_k‖² of the kept clients travel to rank 0 in client
 * order; rank 0 updates the estimates from them and the applied model update,
 * and broadcasts the next round's k (devices.h). */
void hf_plan_dbw_round(hf_run_t *x, int m, int nloc, int *rcounts, int *rdispl)
{
    double *all = x->rank == 0 ? hf_calloc((size_t)m, sizeof(double)) : NULL;
    MPI_Gather(&nloc, 1, MPI_INT, rcounts, 1, MPI_INT, 0, x->comm);
    if (x->rank == 0)
        for (int r = 0, d = 0; r < x->size; r++) { rdispl[r] = d; d += rcounts[r]; }
    MPI_Gatherv(x->d_norm2, nloc, MPI_DOUBLE, all, rcounts, rdispl, MPI_DOUBLE, 0, x->comm);
    if (x->rank == 0) {
        double *w = hf_calloc((size_t)m, sizeof(double)), *n2 = hf_calloc((size_t)m, sizeof(double));
        double ws = 0.0;
        int k = 0;
        for (int i = 0; i < m; i++)
            if (x->plan.c[i].kept) { w[k] = x->plan.c[i].weight; n2[k] = all[i]; ws += w[k++]; }
        for (int i = 0; i < k; i++) w[i] = ws > 0 ? w[i] / ws : 0.0;
        for (long j = 0; j < x->model.nparams; j++) x->dbw_old[j] = x->global[j] - x->dbw_old[j];
        hf_dbw_observe_updates(x->dbw, k, w, n2, x->dbw_old);
        hf_dbw_choose(x->dbw);
        free(w);
        free(n2);
    }
    free(all);
    MPI_Bcast(&x->dbw->k, 1, MPI_INT, 0, x->comm);
}

/* ---------------------------------------------------------- availability --- */

/* Availability model, selection policy and correction from the suite (avail.c,
 * select.c).  With model always, a policy that draws from the whole population
 * (uniform) and no correction, no availability is modelled (x->vol = 0): every
 * client is a candidate every round. */
int hf_vol_stateless(const hf_conf_t *c)
{
    return !strcmp(hf_conf_get(c, "selection.policy"), "uniform") &&
           !strcmp(hf_conf_get(c, "aggregation.correction"), "none") &&
           !strcmp(hf_conf_get(c, "availability.model"), "always") &&
           !(hf_conf_float(c, "availability.withdraw_fraction") > 0) &&
           strcmp(hf_conf_get(c, "energy.scheduler"), "carbon-aware");
}

int hf_vol_init(hf_run_t *x, int N, int m)
{
    const hf_conf_t *c = x->o->conf;
    const hf_params_t *p = x->p;
    hf_avail_spec_t spec;
    int rc = hf_avail_spec_from_conf(&spec, c, N, p->seed);
    if (rc) return rc;
    const char *cor = hf_conf_get(c, "aggregation.correction");
    hf_correction_t corr = !strcmp(cor, "unbiased") ? HF_CORR_UNBIASED
                           : !strcmp(cor, "cafed") ? HF_CORR_CAFED : HF_CORR_NONE;
    const char *pname = hf_conf_get(c, "selection.policy");
    if (hf_vol_stateless(c)) {
        x->sel = hf_select_new(pname, corr, N, NULL, NULL, NULL);  /* stateless: O(m) memory (select.h) */
        x->vol_w = hf_calloc((size_t)m, sizeof(double));
        return 0;
    }
    double *ppi = hf_calloc((size_t)N, sizeof(double)), *plam = hf_calloc((size_t)N, sizeof(double));
    double prior = hf_conf_float(c, "aggregation.pi_prior");
    for (int k = 0; k < N; k++) {
        ppi[k] = prior >= 0 ? prior : 0.5;
        if (prior < 0 && spec.model == HF_AV_MARKOV) hf_avail_markov_params(&spec, k, &ppi[k], &plam[k]);
    }
    long *nk = hf_calloc((size_t)N, sizeof(long));
    for (int k = 0; k < N; k++) nk[k] = hf_run_nk(x, k);
    x->sel = hf_select_new(pname, corr, N, nk, ppi, plam);
    free(ppi); free(plam); free(nk);
    if (!x->sel) return HF_EINPUT;
    if (x->sel->pol->configure) x->sel->pol->configure(x->sel, c);  /* the policy's keys */
    x->sel->cafed_c = hf_conf_float(c, "aggregation.cafed_c");
    x->vol_w = hf_calloc((size_t)m, sizeof(double));
    x->vol = !(spec.model == HF_AV_ALWAYS && spec.withdraw_fraction <= 0 &&
               (x->sel->pol->needs & HF_SEL_POPULATION) && corr == HF_CORR_NONE);
    if (!x->vol) return 0;
    rc = hf_key_wrap(c, "availability.file", hf_avail_generate(&x->av, &spec));
    if (rc) return rc;
    if (hf_conf_bool(c, "availability.per_round")) x->av_round_s = spec.slot_s;
    x->online = hf_calloc((size_t)N, 1);
    x->vol_loss = hf_calloc((size_t)m, sizeof(double));
    x->off_comm = hf_calloc((size_t)m, sizeof(double));
    x->off_comp = hf_calloc((size_t)m, sizeof(double));
    if (hf_conf_bool(c, "availability.transfer")) {  /* data transfer to participants */
        long maxn = 1;
        for (int k = 0; k < N; k++) maxn = HF_MAX(maxn, x->part.off[k + 1] - x->part.off[k]);
        x->tr_donor = hf_calloc((size_t)m, sizeof(int));
        x->tr_count = hf_calloc((size_t)m, sizeof(long));
        x->tr_s = hf_calloc((size_t)m, sizeof(double));
        x->tr_idx = hf_calloc((size_t)2 * maxn, sizeof(long));
        free(x->iperm);  /* shuffles over own + received samples */
        x->iperm = hf_calloc((size_t)2 * maxn, sizeof(int));
        x->tr_client = -1;
    }
    return 0;
}

/* Data transfer to participants (avail.c): every selected client
 * gets part of one offline client's data before its session; the bytes
 * (features x 4 + 4 per sample) cost latency + bytes / bandwidth, counted in
 * its download time (hf_round_in_t.pre_s).  Planned identically on every rank. */
void hf_vol_transfer_plan(hf_run_t *x, int t, const int *sel, int mt)
{
    const hf_params_t *p = x->p;
    const hf_conf_t *c = x->o->conf;
    double bw = hf_conf_float(c, "availability.transfer_bw_mbps");
    hf_avail_transfer_plan(p->seed, t, p->clients, x->online, x->part.off, mt, NULL,
                           hf_conf_float(c, "availability.transfer_fraction"), x->tr_donor, x->tr_count);
    for (int i = 0; i < mt; i++) {
        const hf_devclass_t *dc = &p->devs.cls[hf_run_class(x, sel[i])];
        uint64_t b = (uint64_t)x->tr_count[i] * ((uint64_t)x->train.dim * sizeof(float) + sizeof(int32_t));
        x->tr_s[i] = x->tr_count[i] > 0 ? hf_clock_transfer_s(dc->latency_s, bw > 0 ? bw : dc->down_mbps, b) : 0.0;
    }
}

/* Before training receiver i (client k): its own sample ids, then the donor's moved ones. */
void hf_vol_transfer_data(hf_run_t *x, int t, int i, int k)
{
    long nk = x->part.off[k + 1] - x->part.off[k];
    int d = x->tr_donor[i];
    long nd = x->part.off[d + 1] - x->part.off[d];
    memcpy(x->tr_idx, x->part.idx + x->part.off[k], (size_t)nk * sizeof(long));
    hf_avail_transfer_samples(x->p->seed, t, d, nd, x->tr_count[i], x->iperm, x->tr_idx + nk);
    for (long j = 0; j < x->tr_count[i]; j++) x->tr_idx[nk + j] = x->part.idx[x->part.off[d] + x->tr_idx[nk + j]];
    x->tr_n = nk + x->tr_count[i];
    x->tr_client = k;
}

/* The round's clients, by the policy (select.c): among the whole population
 * without an availability model (carbon-aware may move the start, *sim_time);
 * else among the clients online at the round start; with nobody online the
 * server waits for the first to come back (sim_time advances, on every rank).
 * availability.per_round: the availability clock is the round, (t+1/2)·slot_s
 * (one Markov step per round, as arodio/CA-Fed's simulator); waiting moves
 * only that clock, within this round. */
int hf_vol_select(hf_run_t *x, int t, double *sim_time, int m, int *sel, int *navail)
{
    int N = x->p->clients;
    hf_select_in_t in = {.round = t, .seed = x->p->seed, .m = m, .now = *sim_time, .en = x->en, .ecl = x->ecl,
                         .bytes = (uint64_t)x->strat.st->upload_factor * (uint64_t)x->model.nparams * sizeof(float)};
    if (!x->vol) return hf_select_pick(x->sel, &in, sim_time, sel, navail, NULL);
    double at_round = ((double)t + 0.5) * x->av_round_s;
    double *clock = x->av_round_s > 0 ? &at_round : sim_time;
    if (hf_avail_count(&x->av, *clock, x->online) == 0) {
        double next = INFINITY;
        for (int k = 0; k < N; k++) next = HF_MIN(next, hf_avail_next_change(&x->av, k, *clock));
        if (isfinite(next)) {
            *clock = next;
            hf_avail_count(&x->av, *clock, x->online);
        }
    }
    hf_select_observe(x->sel, x->online);
    double *need = NULL;
    if (x->sel->pol->needs & HF_SEL_NEEDS_ROUND_TIME) {  /* expected round time: download+compute+upload */
        const hf_params_t *p = x->p;
        need = hf_calloc((size_t)N, sizeof(double));
        uint64_t xfer = (uint64_t)x->strat.st->upload_factor * (uint64_t)x->model.nparams * sizeof(float);
        for (int k = 0; k < N; k++) {
            const hf_devclass_t *dc = &p->devs.cls[hf_run_class(x, k)];
            double fl = hf_model_train_flops(&x->model) * (double)hf_run_nk(x, k) *
                        p->local_epochs;
            need[k] = hf_clock_transfer_s(dc->latency_s, dc->down_mbps, xfer) +
                      hf_clock_compute_s(dc, fl, 1.0) + hf_clock_transfer_s(dc->latency_s, dc->up_mbps, xfer);
        }
    }
    int ne = 0;
    in.online = x->online;
    in.av = &x->av;
    in.need_s = need;
    in.now = *clock;
    int n = hf_select_pick(x->sel, &in, NULL, sel, navail, &ne);
    /* nobody eligible (cyclic group empty, CA-Fed excluded the online ones): wait for the next change */
    for (int tries = 0; n == 0 && tries < 100000; tries++) {
        double next = INFINITY;
        for (int k = 0; k < N; k++) next = HF_MIN(next, hf_avail_next_change(&x->av, k, *clock));
        if (!isfinite(next)) break;
        *clock = in.now = next;
        hf_avail_count(&x->av, *clock, x->online);
        n = hf_select_pick(x->sel, &in, NULL, sel, navail, &ne);
    }
    free(need);
    x->sel->t_eligible = ne;
    return n;
}

/* A kept client that goes offline before its simulated finish is dropped
 * (outcome dropped_offline): it does not train, its time and energy until it
 * left are charged.  Then the kept set, Σ n_k and the weights are recomputed,
 * and a correction's weights (applied unnormalised) replace the strategy's. */
void hf_vol_dropouts(hf_run_t *x, const int *sel, int mt, double start)
{
    int changed = 0;
    for (int i = 0; i < mt; i++) {
        hf_dplan_t *d = &x->dplan[i];
        hf_cplan_t *c = &x->plan.c[i];
        double at;
        if (d->outcome < 0 || x->av_round_s > 0) continue;  /* per_round: online for the whole round */
        int full = d->outcome == HF_OUT_COMPLETED || d->outcome == HF_OUT_PARTIAL;
        double tc = full ? d->t_compute : d->t_compute_full;
        if (hf_avail_dropout(&x->av, sel[i], start, d->t_down, tc, d->t_up, &at, &x->off_comm[i],
                             &x->off_comp[i]) && (full || at < start + d->finish)) {
            if (full) changed = 1;
            d->outcome = HF_OUT_DROPPED_OFFLINE;
            c->kept = 0;
            c->epochs = c->steps = 0;
        }
    }
    if (changed) {
        x->plan.kept = 0;
        x->plan.nsum = 0.0;
        for (int i = 0; i < mt; i++)
            if (x->plan.c[i].kept) { x->plan.kept++; x->plan.nsum += (double)x->d_nk[i]; }
        x->strat.st->weights(&x->strat, &x->plan);
    }
    if (x->tr_count)  /* data transfer: weight by the samples trained on (their Σ is the divisor) */
        for (int i = 0; i < mt; i++) {
            long nk = x->part.off[sel[i] + 1] - x->part.off[sel[i]];
            if (x->plan.c[i].kept && x->tr_count[i] > 0 && nk > 0)
                x->plan.c[i].weight *= (double)(nk + x->tr_count[i]) / (double)nk;
        }
    if (hf_select_weights(x->sel, sel, mt, x->sel->t_eligible, x->vol_w)) {
        for (int i = 0; i < mt; i++) x->plan.c[i].weight = x->vol_w[i];
        x->plan.divisor = 1.0;  /* x += Σ w_k Δ_k */
    }
}

/* After a round: rank 0's local losses (records in selection order) to every
 * rank, when the policy or the correction reads them (power-of-choice, CA-Fed);
 * the policy's own update (F3AST's participation rates). */
void hf_vol_after(hf_run_t *x, const int *sel, int mt, const hf_part_rec_t *allrecs)
{
    if (mt <= 0) return;
    if (!(x->sel->pol->needs & HF_SEL_NEEDS_LOSSES) && x->sel->corr != HF_CORR_CAFED) {
        hf_select_after(x->sel, sel, mt);  /* nobody reads the losses */
        return;
    }
    if (x->rank == 0)
        for (int i = 0; i < mt; i++)
            x->vol_loss[i] = allrecs[i].outcome == HF_OUT_COMPLETED || allrecs[i].outcome == HF_OUT_PARTIAL
                             ? allrecs[i].local_loss : NAN;
    MPI_Bcast(x->vol_loss, mt, MPI_DOUBLE, 0, x->comm);
    hf_select_losses(x->sel, sel, x->vol_loss, mt);
    hf_select_after(x->sel, sel, mt);
}


/* ------------------------------------------------------ decentralized mode --- */

double hf_dec_flops(const hf_run_t *x, int k, long samples)
{
    const hf_strategy_t *st = x->strat.st;
    if (st->dec_flops) return st->dec_flops(&x->strat, k, samples);
    return hf_model_train_flops(&x->model) * (double)samples;
}

uint64_t hf_dec_edge_bytes(const hf_run_t *x, int i, int j)
{
    const hf_strategy_t *st = x->strat.st;
    if (st->dec_edge_bytes) return st->dec_edge_bytes(&x->strat, i, j);
    return (uint64_t)st->upload_factor * (uint64_t)x->model.nparams * sizeof(float);
}

double hf_dec_cycle_time(const hf_run_t *x)
{
    const hf_params_t *p = x->p;
    const hf_graph_t *g = &x->graph;
    int N = p->clients;
    double *tc = hf_calloc((size_t)N, sizeof(double)), *lat = hf_calloc((size_t)N, sizeof(double));
    double *up = hf_calloc((size_t)N, sizeof(double)), *down = hf_calloc((size_t)N, sizeof(double));
    double *bits = hf_calloc((size_t)HF_MAX(g->off[N], 1), sizeof(double));
    for (int k = 0; k < N; k++) {
        const hf_devclass_t *dc = &p->devs.cls[hf_run_class(x, k)];
        long samples = hf_strat_samples(hf_run_nk(x, k), p->batch_size, x->plan.c[k].steps);
        tc[k] = hf_dec_flops(x, k, samples) / (dc->gflops * 1e9);
        lat[k] = dc->latency_s;
        up[k] = dc->up_mbps * 1e6;
        down[k] = dc->down_mbps * 1e6;
        for (long q = g->off[k]; q < g->off[k + 1]; q++) bits[q] = 8.0 * (double)hf_dec_edge_bytes(x, k, g->adj[q]);
    }
    double c = hf_graph_cycle_time(g, tc, lat, bits, up, down);
    free(tc); free(lat); free(up); free(down); free(bits);
    return c;
}
