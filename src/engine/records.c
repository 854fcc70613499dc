/*
 * records.c — what a round leaves in the results file: one /participation
 * record per selected client (outcome, simulated compute and transfer time,
 * bytes, modelled energy and carbon), built in one place from the device
 * plan, the energy plan, the strategy's model sizes and the volatility layer;
 * and the /rounds row that sums them.  docs/results.md defines every column.
 */
#include "run.h"
#include "hf_util.h"
#include <math.h>
#include <string.h>

/* Seconds on the link of a session that downloads bytes_down and uploads
 * bytes_up: one latency per transfer made (a dropped straggler downloaded
 * only).  Evaluated in this order on purpose: the results' bits depend on it. */
static double session_comm_s(const hf_devclass_t *dc, int transfers, uint64_t bytes_down, uint64_t bytes_up)
{
    return transfers * dc->latency_s + (double)bytes_down * 8 / (dc->down_mbps * 1e6) +
           (double)bytes_up * 8 / (dc->up_mbps * 1e6);
}

/* Modelled energy of compute_s seconds of training and the bytes moved (energy.c). */
static double session_energy_j(const hf_devclass_t *dc, double compute_s, uint64_t bytes_down, uint64_t bytes_up)
{
    return hf_energy_model(dc->active_w, compute_s, dc->radio_j_per_mb, bytes_down, bytes_up, 0, 0).total_j;
}

/* Decentralized mode: every client trains (and computes what else the
 * strategy has it compute), then sends each neighbour what the strategy says
 * (the model), at its own device class's speed and link (plan.c). */
static void record_decentral(const hf_run_t *x, int k, const hf_local_t *lr, const hf_devclass_t *dc,
                             hf_part_rec_t *pr)
{
    const hf_graph_t *g = &x->graph;
    uint64_t down = 0;
    pr->bytes_up = 0;
    for (long q = g->off[k]; q < g->off[k + 1]; q++) {
        pr->bytes_up += hf_dec_edge_bytes(x, k, g->adj[q]);
        down += hf_dec_edge_bytes(x, g->adj[q], k);
    }
    pr->outcome = HF_OUT_COMPLETED;
    pr->compute_s_model = hf_dec_flops(x, k, lr->samples) / (dc->gflops * 1e9);
    pr->comm_s = hf_clock_transfer_s(dc->latency_s, dc->up_mbps, pr->bytes_up);
    pr->energy_j = session_energy_j(dc, pr->compute_s_model, down, pr->bytes_up);
}

/* A synchronous round: the device plan's times, the upload the codec produced. */
static void record_central(const hf_run_t *x, int i, int k, const hf_cplan_t *cp, uint64_t ebytes,
                           const hf_devclass_t *dc, const hf_dplan_t *dp, hf_part_rec_t *pr)
{
    uint64_t xfer = (uint64_t)x->strat.st->upload_factor * (uint64_t)x->model.nparams * sizeof(float);
    pr->outcome = dp ? dp->outcome : cp->kept ? HF_OUT_COMPLETED : HF_OUT_STRAGGLER;
    pr->compute_s_model = dp ? (cp->kept ? dp->t_compute : dp->t_compute_full)  /* a dropped client did it all */
                             : hf_model_train_flops(&x->model) * (double)hf_run_nk(x, k) * cp->epochs / (dc->gflops * 1e9);
    uint64_t down = xfer + x->strat.side_down;  /* + what the strategy sends besides the model */
    pr->bytes_up = cp->kept ? ebytes + x->strat.side_up : 0;
    pr->comm_s = session_comm_s(dc, cp->kept ? 2 : 1, down, pr->bytes_up);
    pr->energy_j = session_energy_j(dc, pr->compute_s_model, down, pr->bytes_up);
}

void hf_record_client(const hf_run_t *x, int t, int i, int k, const hf_cplan_t *cp, const hf_local_t *lr,
                      uint64_t ebytes, double sim_time, hf_part_rec_t *pr)
{
    const hf_params_t *p = x->p;
    const hf_strategy_t *st = x->strat.st;
    const hf_devclass_t *dc = &p->devs.cls[hf_run_class(x, k)];
    const hf_dplan_t *dp = !p->decentralized && x->dplan[i].outcome >= 0 ? &x->dplan[i] : NULL;
    memset(pr, 0, sizeof *pr);
    pr->round = t + 1;
    pr->client = k;
    pr->steps = lr->steps;
    pr->compute_s_measured = lr->measured;
    pr->local_loss = lr->loss;
    pr->width = 1.0;
    if (p->decentralized) record_decentral(x, k, lr, dc, pr);
    else record_central(x, i, k, cp, ebytes, dc, dp, pr);
    if (st->width) pr->width = st->width(&x->strat, i);
    if (st->model_bytes && !p->decentralized) {  /* its sub-model's bytes both ways; compute time is scaled in the device plan */
        uint64_t hb = st->model_bytes(&x->strat, i), down = hb + x->strat.side_down;  /* + FedGen's G, p̂ */
        pr->bytes_up = cp->kept ? hb + x->strat.side_up : 0;
        pr->comm_s = session_comm_s(dc, cp->kept ? 2 : 1, down, pr->bytes_up);
        pr->energy_j = session_energy_j(dc, pr->compute_s_model, down, pr->bytes_up);
    }
    if (x->tr_donor && x->tr_count[i] > 0 && !(dp && dp->outcome == HF_OUT_OVER_BUDGET)) {
        pr->samples_data = (int32_t)x->tr_count[i];  /* data received before the session */
        pr->bytes_data = (uint64_t)x->tr_count[i] * ((uint64_t)x->train.dim * sizeof(float) + 4);
        pr->comm_s += x->tr_s[i];
        pr->energy_j += dc->radio_j_per_mb * (double)pr->bytes_data / 1e6;
    }
    if (x->vol && dp && dp->outcome == HF_OUT_DROPPED_OFFLINE) {  /* work until it left */
        uint64_t xfer = (uint64_t)st->upload_factor * (uint64_t)x->model.nparams * sizeof(float);
        pr->compute_s_model = x->off_comp[i];
        pr->comm_s = x->off_comm[i];
        pr->bytes_up = 0;
        pr->energy_j = dc->active_w * pr->compute_s_model + dc->radio_j_per_mb * (double)xfer *
                       HF_MIN(1.0, x->off_comm[i] / HF_MAX(dp->t_down, 1e-300)) / 1e6;
    }
    if (!p->decentralized && cp->kept && x->eplan[i].client == k) {  /* energy.c's plan */
        pr->compute_s_model = x->eplan[i].compute_s;
        pr->energy_j = x->eplan[i].e.total_j;
    } else if (dp && dp->outcome == HF_OUT_OVER_BUDGET) {  /* sat the round out: nothing spent */
        pr->compute_s_model = pr->comm_s = pr->energy_j = 0.0;
        pr->bytes_up = 0;
    }
    pr->carbon_g = hf_energy_carbon_g(pr->energy_j, hf_energy_ci(x->en, k, sim_time));
}

/* RAPL: this rank's share of the node's measured energy (cores used / online),
 * split over its records by measured compute time. */
void hf_record_measured_energy(hf_run_t *x, hf_part_rec_t *recs, int nloc, double node_j)
{
    double ts = 0.0;
    for (int i = 0; i < nloc; i++) ts += recs[i].compute_s_measured;
    for (int i = 0; i < nloc; i++)
        recs[i].energy_j_measured = ts > 0 ? node_j * recs[i].compute_s_measured / ts : node_j / nloc;
}

/* Rank 0: the round's /rounds row from its participation records (in client
 * order) and the simulated end of the round. */
double hf_record_round(const hf_run_t *x, const hf_part_rec_t *allrecs, int mt, double sim_time,
                       double round_dur, double wsum, hf_round_rec_t *rr)
{
    const hf_params_t *p = x->p;
    const hf_strategy_t *st = x->strat.st;
    double wl = 0.0, round_end = sim_time;
    for (int i = 0; i < mt; i++) {
        const hf_part_rec_t *q = &allrecs[i];
        double nk = (double)hf_run_nk(x, q->client);
        rr->energy_j += q->energy_j;
        rr->carbon_g += q->carbon_g;
        rr->energy_j_measured += q->energy_j_measured;
        rr->bytes_up += q->bytes_up;
        if (q->outcome == HF_OUT_LATE) rr->late++;
        if (q->outcome != HF_OUT_COMPLETED && q->outcome != HF_OUT_PARTIAL) continue;  /* dropped */
        wl += nk * q->local_loss;
        double fin = sim_time + q->comm_s + (p->devs.clock == HF_CLOCK_MEASURED ? q->compute_s_measured
                                                                                : q->compute_s_model);
        if (fin > round_end) round_end = fin;
    }
    /* devices.c: the slowest kept client, or the deadline when a late one was waited for;
     * clock = measured: the measured compute times above (outside the contract) */
    if (!p->decentralized && p->devs.clock == HF_CLOCK_MODEL) round_end = sim_time + round_dur;
    else if (!p->decentralized && rr->late && round_end < sim_time + p->devs.deadline_s)
        round_end = sim_time + p->devs.deadline_s;
    /* D-PSGD: steady-state time per iteration, max-plus cycle time (topology.c) */
    double end = p->decentralized ? sim_time + x->cycle_time : round_end;
    rr->sim_time_s = end;
    rr->selected = mt;
    rr->completed = x->plan.kept;
    rr->dropped = mt - x->plan.kept - rr->late;
    uint64_t xfer = (uint64_t)st->upload_factor * (uint64_t)x->model.nparams * sizeof(float);
    rr->bytes_down = p->decentralized ? rr->bytes_up : (uint64_t)mt * (xfer + x->strat.side_down);
    if (st->model_bytes && !p->decentralized) {  /* each selected client downloads its sub-model */
        rr->bytes_down = 0;
        for (int i = 0; i < mt; i++) rr->bytes_down += st->model_bytes(&x->strat, i) + x->strat.side_down;
    }
    rr->train_loss = wsum > 0 ? wl / wsum : NAN;
    rr->dp_epsilon = st->privacy_epsilon ? st->privacy_epsilon(&x->strat, rr->round) : NAN;
    return end;
}
