/*
 * fed.c — the round loop.  A run is set up (setup.c), then every round goes
 * through six phases, each a function below:
 *
 *   select     which clients take part: uniformly keyed by (seed, round), by a
 *              selection policy among the online clients, carbon-aware, or
 *              every client (decentralized);
 *   plan       the strategy's plan (stragglers, epochs, weights, widths), then
 *              the simulated system's: device clock and deadlines, energy
 *              budgets, availability drop-outs (plan.c) — identical on every rank;
 *   train      each rank trains the selected clients it hosts (the strategy's
 *              train hook or the engine's SGD, client.c) and hands their
 *              updates to the aggregator; one participation record each (records.c);
 *   aggregate  the reduction (agg.c), then the strategy's aggregate hook or the
 *              weighted average → server step → server optimizer; decentralized:
 *              gossip and the mean model;
 *   evaluate   every eval_every rounds the global model on the test set
 *              (evaluate.c), plus the strategy's own tables;
 *   record     records to rank 0, the /rounds row, flush, progress line,
 *              checkpoint.
 *
 * Client k lives on rank k·R/N (contiguous blocks), so gathering records in
 * rank order yields them sorted by client id.  docs/ARCHITECTURE.md draws the
 * same picture with the strategy hooks in place.
 */
#include "config.h"
#include "fed.h"
#include "async.h"
#include "checkpoint.h"
#include "evaluate.h"
#include "hf_util.h"
#include "mia.h"
#include "aia.h"
#include "placement.h"
#include "rng.h"
#include "run.h"
#include "stream.h"
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The loop's buffers and running state, shared by the phases. */
typedef struct {
    int *sel;                     /* this round's selected clients (m), sorted */
    hf_part_rec_t *recs;          /* this rank's participation records */
    hf_part_rec_t *allrecs;       /* rank 0: every record of the round, client order */
    int *rcounts, *rdispl;        /* rank 0: gather counts */
    double sim_time;              /* simulated seconds at the round start (persistent) */
    int synced;                   /* every rank holds the current global model */
    hf_fed_timing_t tm;           /* per-phase wall time */
    double t_start, t_loop, c_loop;
} loop_t;

/* One round's state, passed from phase to phase. */
typedef struct {
    int t;                        /* round index (0-based) */
    int mt, navail;               /* selected and online clients */
    double start;                 /* simulated time at selection */
    double round_dur;             /* simulated seconds to aggregation (devices.c) */
    int nloc;                     /* records on this rank */
    double wsum;                  /* Σ n_k of kept clients (plan) */
    double consensus;             /* decentralized: consensus distance */
    double t0;                    /* wall clock at the round start */
    hf_round_rec_t rr;
} round_t;

/* Process CPU seconds, all threads (hf_fed_timing_t.loop_cpu). */
static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void progress(hf_run_t *x, const hf_round_rec_t *r, double elapsed)
{
    FILE *f = x->o->out;
    int R = x->p->rounds;
    double eta = elapsed / r->round * (R - r->round);
    char acc[32] = "     -", tl[32] = "     -";
    if (!isnan(r->test_accuracy)) snprintf(acc, sizeof acc, "%.4f", r->test_accuracy);
    if (!isnan(r->test_loss)) snprintf(tl, sizeof tl, "%.4f", r->test_loss);
    char bar[24] = "";
    if (isatty(fileno(f))) {
        int w = 20, fill = (int)((double)w * r->round / R);
        bar[0] = '[';
        for (int i = 0; i < w; i++) bar[1 + i] = i < fill ? '#' : '.';
        bar[w + 1] = ']';
        bar[w + 2] = 0;
    }
    fprintf(f, "round %*d/%d  sim %9.1fs  acc %s  test_loss %s  train_loss %.4f  sel %d done %d "
            "drop %d  energy %.1f J  wall %.3fs %s ETA %.0fs\n",
            (int)(R >= 1000 ? 5 : 3), r->round, R, r->sim_time_s, acc, tl, r->train_loss,
            r->selected, r->completed, r->dropped + r->late, r->energy_j, r->wall_time_s, bar, eta);
    fflush(f);
}

/* ------------------------------------------------------------- 1. select --- */

static void round_select(hf_run_t *x, loop_t *L, round_t *R)
{
    const hf_params_t *p = x->p;
    int m = x->m;
    R->mt = m;
    R->navail = p->clients;
    if (p->decentralized) {
        for (int i = 0; i < m; i++) L->sel[i] = i;
    } else {  /* the selection policy (plan.c, select.c) */
        R->mt = hf_vol_select(x, R->t, &L->sim_time, m, L->sel, &R->navail);
    }
    if (x->tr_donor) hf_vol_transfer_plan(x, R->t, L->sel, R->mt);  /* data to participants (avail.c) */
    R->start = L->sim_time;
}

/* --------------------------------------------------------------- 2. plan --- */

static void round_plan(hf_run_t *x, loop_t *L, round_t *R)
{
    const hf_params_t *p = x->p;
    const hf_strategy_t *st = x->strat.st;
    int t = R->t, mt = R->mt;
    if (p->decentralized) {  /* the plan of every client is fixed (setup.c); widths may change */
        if (st->plan) st->plan(&x->strat, t, L->sel, mt);
        return;
    }
    hf_strat_plan(&x->strat, t, L->sel, mt, &x->plan);  /* stragglers, epochs, weights */
    if (st->plan) st->plan(&x->strat, t, L->sel, mt);  /* widths, groups */
    R->round_dur = hf_plan_devices(x, t, L->sel, mt, p->clients_per_round, hf_model_train_flops(&x->model));
    hf_plan_energy(x, t, L->sel, mt, L->sim_time);  /* budgets, adaptation, 1/π weights (energy.c) */
    if (x->vol) hf_vol_dropouts(x, L->sel, mt, L->sim_time);  /* offline before finish; weights */
    hf_stream_weights(x, L->sel, mt);  /* stream.policy = weighted: (A_k / m_k)^beta (stream.c) */
}

/* -------------------------------------------------------------- 3. train --- */

/* Plan entry i (client k, hosted here): train it and hand its update to the
 * aggregator; returns the upload's bytes (the codec's exact encoded size).
 * nloc: the index of its record on this rank. */
static uint64_t train_client(hf_run_t *x, int t, int i, int k, int nloc, hf_local_t *lr)
{
    const hf_params_t *p = x->p;
    const hf_strategy_t *st = x->strat.st;
    const hf_cplan_t *cp = &x->plan.c[i];
    long P = x->model.nparams;
    uint64_t ebytes = (uint64_t)st->upload_factor * (uint64_t)P * sizeof(float);
    if (!cp->kept) return ebytes;
    if (st->train) {  /* the strategy trains and aggregates itself */
        *lr = st->train(&x->strat, i, k, t, cp);
        return ebytes;
    }
    if (p->decentralized) {  /* D-PSGD: train from, and back into, the client's model */
        *lr = hf_client_train(x, k, t, hf_dec_model(&x->dec, k), cp, 1);
        memcpy(hf_dec_model(&x->dec, k), x->local, (size_t)P * sizeof(float));
        return ebytes;
    }
    const hf_eplan_t *ep = &x->eplan[i];
    x->train_sample = ep->client == k ? ep->sample : 0;
    if (x->tr_donor && x->tr_count[i] > 0) hf_vol_transfer_data(x, t, i, k);
    /* nothing edits this client's Δ: hand w·(local − global) to the aggregator
     * in one pass, without materialising Δ */
    int fuse = !st->client_upload && !x->dbw && (ep->client != k || hf_energy_apply_noop(ep));
    *lr = hf_client_train(x, k, t, x->global, cp, !fuse);
    x->tr_client = -1;
    if (ep->client == k)  /* bias-correction scale, codec (fused: Δ untouched) */
        ebytes = hf_energy_apply(x->en, ep, t, x->delta, (long)st->upload_factor * P);
    /* an eavesdropper's view (mia.c, aia.c): what travels, after the codec (decoded) */
    hf_privacy_observe(x, t + 1, k, fuse ? NULL : x->delta);
    if (fuse) {
        hf_agg_add_diff(x->agg, cp->weight, x->local, x->global);
        return ebytes;
    }
    hf_agg_add(x->agg, cp->weight, x->delta);
    if (x->dbw) {
        double n2 = 0.0;
        for (long j = 0; j < P; j++) n2 += (double)x->delta[j] * x->delta[j];
        x->d_norm2[nloc] = n2;  /* ‖Δ_k‖² of this rank's nloc-th record */
    }
    return ebytes;
}

static void round_train(hf_run_t *x, loop_t *L, round_t *R)
{
    const hf_params_t *p = x->p;
    hf_agg_begin(x->agg);
    if (x->strat.st->round_begin) x->strat.st->round_begin(&x->strat);
    R->nloc = 0;
    R->wsum = x->plan.nsum;  /* Σ n_k of kept clients: same on all ranks (plan) */
    hf_rapl_begin(&x->rapl);
    for (int i = 0; i < R->mt; i++) {
        int k = L->sel[i];
        if (k < x->first_client || k >= x->last_client) continue;
        hf_local_t lr = {.loss = NAN};
        openblas_set_num_threads(p->devs.cls[hf_run_class(x, k)].cores);  /* its class's, on any rank */
        uint64_t ebytes = train_client(x, R->t, i, k, R->nloc, &lr);
        if (x->plan.c[i].kept && x->strat.st->personal_train && !p->decentralized)  /* Ditto's v_k */
            x->strat.st->personal_train(&x->strat, i, k, R->t, &x->plan.c[i]);
        hf_record_client(x, R->t, i, k, &x->plan.c[i], &lr, ebytes, L->sim_time, &L->recs[R->nloc++]);
    }
    double node_j = hf_rapl_attribute(hf_rapl_end(&x->rapl), p->dev.cores, (int)sysconf(_SC_NPROCESSORS_ONLN));
    hf_record_measured_energy(x, L->recs, R->nloc, node_j);
}

/* ---------------------------------------------------------- 4. aggregate --- */

/* The engine's default: x ← x + Σ w_k u_k / divisor, through the strategy's
 * server step and the server optimizer when there are any. */
static void aggregate_default(hf_run_t *x, int have)
{
    const hf_strategy_t *st = x->strat.st;
    double divisor = x->plan.divisor;
    if (!st->server_update && x->sopt.kind == HF_SOPT_NONE && x->sopt.lr == 1.0f) {
        if (have) hf_agg_apply(x->agg, divisor > 0 ? 1.0 / divisor : 0.0, x->global);
        return;
    }
    if (have) hf_agg_result(x->agg, divisor > 0 ? 1.0 / divisor : 0.0, x->delta);
    if (st->server_update) st->server_update(&x->strat, &x->plan, x->delta, have);
    if (have && (x->plan.kept > 0 || st->update_when_empty)) hf_server_opt_apply(&x->sopt, x->global, x->delta);
}

static int round_aggregate(hf_run_t *x, loop_t *L, round_t *R)
{
    const hf_strategy_t *st = x->strat.st;
    long P = x->model.nparams;
    int rc = 0, nmean = x->p->clients;  /* decentralized: clients in the evaluated mean */
    if (x->p->decentralized) {
        if (st->gossip) nmean = st->gossip(&x->strat, R->t);
        else {  /* D-PSGD: gossip, then x̄ = mean of the client models */
            hf_dec_gossip(&x->dec);
            for (int k = x->first_client; k < x->last_client; k++) hf_agg_add(x->agg, 1.0, hf_dec_model(&x->dec, k));
        }
    }
    if (x->dbw && x->rank == 0) memcpy(x->dbw_old, x->global, (size_t)P * sizeof(float));
    hf_agg_reduce(x->agg);
    L->tm.agg_comm += hf_agg_stats(x->agg)->t_comm;
    int have = x->rank == 0 || hf_agg_result_everywhere(x->agg);
    R->consensus = NAN;
    if (x->p->decentralized) {
        if (have) hf_agg_result(x->agg, 1.0 / nmean, x->global);
        if (!hf_agg_result_everywhere(x->agg)) MPI_Bcast(x->global, (int)P, MPI_FLOAT, 0, x->comm);
        R->consensus = hf_dec_consensus(&x->dec, x->global);
    } else if (st->aggregate) rc = st->aggregate(&x->strat, R->t, have);
    else aggregate_default(x, have);
    L->synced = hf_agg_result_everywhere(x->agg) || x->p->decentralized;
    return rc;
}

/* ----------------------------------------------------------- 5. evaluate --- */

static int round_evaluate(hf_run_t *x, loop_t *L, round_t *R, int rc)
{
    const hf_params_t *p = x->p;
    R->rr.test_accuracy = R->rr.test_loss = NAN;
    R->rr.client_acc_mean = R->rr.client_acc_wmean = R->rr.client_acc_p10 = R->rr.client_acc_min = NAN;
    int eval = (R->t + 1) % p->eval_every == 0 || R->t + 1 == p->rounds;
    if (eval) {
        if (!L->synced) MPI_Bcast(x->global, (int)x->model.nparams, MPI_FLOAT, 0, x->comm);
        L->synced = 1;  /* this broadcast also serves the next round */
        openblas_set_num_threads(x->eval_threads);
        hf_eval_global(x, &R->rr.test_accuracy, &R->rr.test_loss);
        if (!rc && x->strat.st->evaluate) rc = x->strat.st->evaluate(&x->strat, R->t + 1);
        if (x->ctest.nclients > 0) {  /* every client's own model on its split (client_eval.c) */
            int r2 = hf_ceval_round(x, R->t + 1, &R->rr);
            if (!rc) rc = r2;
        }
    }
    if (x->mia) {  /* privacy.attack's row of the round (mia.c; collective) */
        int r2 = hf_mia_round(x->mia, x, R->t + 1, eval);
        if (!rc) rc = r2;
    }
    if (x->aia) {  /* privacy.attribute_attack's row (aia.c; collective) */
        int r2 = hf_aia_round(x->aia, x, R->t + 1, eval);
        if (!rc) rc = r2;
    }
    return rc;
}

/* ------------------------------------------------------------- 6. record --- */

/* Records to rank 0 (block placement: rank order = client order), then the
 * selection state that needs them on every rank. */
static void round_collect(hf_run_t *x, loop_t *L, round_t *R)
{
    int nb = R->nloc * (int)sizeof(hf_part_rec_t);
    MPI_Gather(&nb, 1, MPI_INT, L->rcounts, 1, MPI_INT, 0, x->comm);
    if (x->rank == 0)
        for (int r = 0, d = 0; r < x->size; r++) { L->rdispl[r] = d; d += L->rcounts[r]; }
    MPI_Gatherv(L->recs, nb, MPI_BYTE, L->allrecs, L->rcounts, L->rdispl, MPI_BYTE, 0, x->comm);
    if (x->dbw) hf_plan_dbw_round(x, x->m, R->nloc, L->rcounts, L->rdispl);
    if (x->vol) hf_vol_after(x, L->sel, R->mt, L->allrecs);  /* local losses to every rank's estimators */
}

static int round_record(hf_run_t *x, loop_t *L, round_t *R, int rc)
{
    const hf_params_t *p = x->p;
    double tf = hf_wtime();
    if (x->rank == 0) {
        hf_round_rec_t *rr = &R->rr;
        L->sim_time = hf_record_round(x, L->allrecs, R->mt, L->sim_time, R->round_dur, R->wsum, rr);
        rr->consensus_distance = R->consensus;
        rr->available = R->navail;
        if (!rc) rc = hf_h5out_participation(x->h5, L->allrecs, R->mt);
        rr->wall_io_s = hf_wtime() - tf;  /* participation rows; the round row and flush follow */
        rr->wall_time_s = hf_wtime() - R->t0;
        if (!rc) rc = hf_h5out_round(x->h5, rr);
        if (!rc) rc = hf_h5out_flush(x->h5);
        L->tm.final_accuracy = rr->test_accuracy;
        if (!x->o->quiet) progress(x, rr, hf_wtime() - L->t_loop);
    }
    L->tm.io += hf_wtime() - tf;
    MPI_Bcast(&rc, 1, MPI_INT, 0, x->comm);
    MPI_Bcast(&L->sim_time, 1, MPI_DOUBLE, 0, x->comm);  /* availability, carbon look-ups on every rank */
    if (x->sel && (x->sel->pol->needs & HF_SEL_NEEDS_CARBON)) {  /* its carbon counts against the budget */
        double cg = R->rr.carbon_g;
        MPI_Bcast(&cg, 1, MPI_DOUBLE, 0, x->comm);
        hf_energy_round_done(x->en, cg);
    }
    if (!rc) rc = hf_ckpt_round_end(x->h5, R->t + 1, p->checkpoint_every, p->rounds, x->comm);
    return rc;
}

/* ---------------------------------------------------------------- round --- */

static int run_round(hf_run_t *x, loop_t *L, int t)
{
    round_t R = {.t = t, .t0 = hf_wtime()};
    R.rr.round = t + 1;
    int rc_stream = hf_stream_round(x, t + 1);  /* data streams: this round's memories (stream.c) */
    round_select(x, L, &R);
    round_plan(x, L, &R);
    double ta = hf_wtime();
    L->tm.plan += ta - R.t0;
    if (!L->synced) MPI_Bcast(x->global, (int)x->model.nparams, MPI_FLOAT, 0, x->comm);  /* rank0 topology */
    L->synced = 1;
    double tb = hf_wtime();
    L->tm.bcast += tb - ta;
    round_train(x, L, &R);
    double tc = hf_wtime();
    L->tm.compute += tc - tb;
    R.rr.wall_compute_s = tc - tb;
    int rc = round_aggregate(x, L, &R);
    if (!rc) rc = rc_stream;
    double td = hf_wtime();
    L->tm.agg += td - tc;
    R.rr.wall_agg_s = td - tc;
    rc = round_evaluate(x, L, &R, rc);
    double te = hf_wtime();
    L->tm.eval += te - td;
    R.rr.wall_eval_s = te - td;
    round_collect(x, L, &R);
    L->tm.gather += hf_wtime() - te;
    rc = round_record(x, L, &R, rc);
    if (++L->tm.rounds == 1) L->tm.first_round_cpu = cpu_seconds() - L->c_loop;
    return rc;
}

/* ---------------------------------------------------------------- async --- */

/* federation.mode = async (FedBuff, async.c): its callbacks train one client
 * (job j keys the shuffles) from `start`, and evaluate the global model. */
static double async_train(void *ctx, int k, long j, const float *start, float *delta, int *steps,
                          double *measured)
{
    hf_run_t *x = ctx;
    const hf_params_t *p = x->p;
    hf_cplan_t cp = {.client = k, .kept = 1, .epochs = p->local_epochs, .steps = 1 << 30, .a = 0, .weight = 1};
    x->train_sample = 0;
    openblas_set_num_threads(p->devs.cls[hf_run_class(x, k)].cores);
    hf_local_t lr = hf_client_train(x, k, (int)j, start, &cp, 1);
    memcpy(delta, x->delta, (size_t)x->model.nparams * sizeof(float));
    *steps = lr.steps;
    *measured = lr.measured;
    return lr.loss;
}

static void async_evaluate(void *ctx, double *acc, double *loss)
{
    hf_run_t *x = ctx;
    openblas_set_num_threads(x->eval_threads);
    hf_eval_global(x, acc, loss);
}

static int run_async(hf_run_t *x, loop_t *L)
{
    hf_async_env_t e = {.ctx = x, .comm = x->comm, .rank = x->rank, .first_client = x->first_client,
                        .last_client = x->last_client, .nparams = x->model.nparams, .global = x->global,
                        .agg = x->agg, .sopt = &x->sopt, .h5 = x->h5, .en = x->en,
                        .part_off = x->part.off, .dcls = x->dcls,
                        .flops_per_sample = hf_model_train_flops(&x->model),
                        .model_bytes = (uint64_t)x->model.nparams * sizeof(float),
                        .train = async_train, .evaluate = async_evaluate};
    return hf_async_run(&e, x->o, &L->sim_time, &L->tm.final_accuracy, &L->tm.rounds);
}

/* ------------------------------------------------------------------ run ---- */

/* Persistent state (checkpoint.h): the round number implies every RNG position. */
static void register_state(hf_run_t *x, loop_t *L)
{
    size_t pb = (size_t)x->model.nparams * sizeof(float);
    hf_ckpt_register("global_model", x->global, pb);
    hf_ckpt_register("sim_time", &L->sim_time, sizeof L->sim_time);
    if (x->dbw) {  /* dynamic backup workers' estimates (devices.h): rank 0's copy is saved */
        hf_ckpt_register("dbw_tsum", x->dbw->tsum, ((size_t)x->m + 1) * sizeof(double));
        hf_ckpt_register("dbw_nobs_time", &x->dbw->nobs_time, sizeof(int));
        hf_ckpt_register("dbw_nobs_grad", &x->dbw->nobs_grad, sizeof(int));
        hf_ckpt_register("dbw_G", &x->dbw->G, sizeof(double));
        hf_ckpt_register("dbw_sigma2", &x->dbw->sigma2, sizeof(double));
        hf_ckpt_register("dbw_L", &x->dbw->L, sizeof(double));
        hf_ckpt_register("dbw_k", &x->dbw->k, sizeof(int));
        hf_ckpt_register("dbw_prev_mean", x->dbw->prev_mean, pb);
    }
    /* server optimizer moments, the strategy's state, gossip models (alike on every rank) */
    if (x->sopt.state_m) hf_ckpt_register("server_m", x->sopt.state_m, pb);
    if (x->sopt.state_v) hf_ckpt_register("server_v", x->sopt.state_v, pb);
    hf_ckpt_register("server_steps", &x->sopt.state_steps, sizeof x->sopt.state_steps);
    if (x->strat.st->ckpt_register) x->strat.st->ckpt_register(&x->strat);
    if (x->p->decentralized) hf_ckpt_register_clients_ref("dec_models", (void **)&x->dec.state_models, pb);
    if (x->vol) hf_select_ckpt_register(x->sel);  /* estimators, losses, rates (select.c) */
    hf_aia_ckpt_register(x->aia);  /* privacy.attribute_attack = combined: its score sums */
}

/* After the last round: the final model, the closing line. */
static int run_finish(hf_run_t *x, loop_t *L, int rc)
{
    const hf_fed_opts_t *o = x->o;
    if (!rc && x->rank == 0) {
        rc = hf_h5out_model(x->h5, "model/final", &x->model, x->global);
        if (!rc && x->strat.st->privacy_epsilon)  /* the guarantee of the whole run */
            rc = hf_h5out_root_attr_double(x->h5, "dp_epsilon", x->strat.st->privacy_epsilon(&x->strat, x->p->rounds));
        if (!rc) rc = hf_h5out_flush(x->h5);
    }
    if (x->rank == 0) {
        char *msg = rc ? hf_strdup(hf_errmsg()) : NULL;  /* the first error is the one to report */
        int rc2 = hf_h5out_close(x->h5, 1);
        if (!rc) rc = rc2;
        else hf_seterr(rc, "%s", msg);
        free(msg);
        if (!rc)
            fprintf(o->out, "done: %d rounds, final accuracy %.4f, simulated %.1f s, wall %.2f s\nresults: %s\n",
                    x->p->rounds, L->tm.final_accuracy, L->sim_time, hf_wtime() - L->t_start, o->output);
    }
    return hf_run_agree(rc, x->comm);
}

int hf_fed_run(const hf_fed_opts_t *o, MPI_Comm comm, hf_fed_timing_t *timing)
{
    hf_run_t X, *x = &X;
    loop_t L = {.t_start = hf_wtime(), .synced = 1};
    int rc = hf_run_setup(x, o, comm);
    if (!rc) rc = hf_signals_stop_early(comm, "while the run was starting (data, model, setup)", o->resume != NULL);
    if (!rc) rc = hf_run_open_results(x);
    if (rc) {
        if (x->h5) hf_h5out_close(x->h5, 0);
        hf_ckpt_end();
        hf_placement_release();
        hf_run_free(x);
        return rc;
    }
    int m = x->m;
    L.sel = hf_calloc((size_t)m, sizeof(int));
    L.recs = hf_calloc((size_t)m, sizeof *L.recs);
    L.allrecs = x->rank == 0 ? hf_calloc((size_t)m, sizeof *L.allrecs) : NULL;
    L.rcounts = hf_calloc((size_t)x->size, sizeof(int));
    L.rdispl = hf_calloc((size_t)x->size, sizeof(int));
    L.t_loop = hf_wtime();
    L.c_loop = cpu_seconds();  /* for hetfl bench peer */
    register_state(x, &L);
    int t0 = 0;
    if (!strcmp(hf_conf_get(o->conf, "federation.mode"), "async")) {  /* FedBuff: async.c, its own checkpoints */
        rc = run_async(x, &L);
        t0 = o->p.rounds;
    } else {
        if (o->p.checkpoint_every > 0)
            rc = hf_run_agree(hf_ckpt_prepare(x->h5), comm);  /* before the first flush publishes the file */
        if (o->resume && !rc)
            rc = hf_run_agree(hf_ckpt_restore(x->h5, comm, &t0), comm);  /* rolls every round table back */
    }
    for (int t = t0; t < o->p.rounds && !rc; t++) rc = run_round(x, &L, t);
    rc = run_finish(x, &L, rc);
    L.tm.total = hf_wtime() - L.t_start;
    L.tm.loop = hf_wtime() - L.t_loop;
    L.tm.loop_cpu = cpu_seconds() - L.c_loop;
    L.tm.kernel = x->t_kernel;
    L.tm.nparams = x->model.nparams;
    if (timing) *timing = L.tm;
    free(L.sel); free(L.recs); free(L.allrecs); free(L.rcounts); free(L.rdispl);
    hf_ckpt_end();
    hf_placement_release();  /* the binding the process had before the run */
    hf_run_free(x);
    return rc;
}
