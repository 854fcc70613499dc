/*
 * async.c — FedBuff (Nguyen et al. 2022): asynchronous clients, buffered
 * server updates scaled by staleness, on the simulated event clock.  See
 * async.h for the algorithm and why every rank can plan the whole schedule.
 *
 * Two parts:
 *   hf_async_plan  the event simulation (pure): a binary heap of events keyed
 *                  by (time, client id) — arrivals, drop-outs, and "wake"
 *                  events (client −1) at the next instant an idle client comes
 *                  online while a slot is free;
 *   hf_async_run   the execution by model versions: train the jobs starting
 *                  from version v (each rank its own clients), then apply update
 *                  v+1 from its buffer with the exact aggregation, record one
 *                  /rounds row and the update's /participation rows.
 */
#include "async.h"
#include "checkpoint.h"
#include "hf_util.h"
#include "rng.h"
#include "run.h"
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ schedule --- */

typedef struct { double t; int client; long job; } ev_t;  /* job −1: wake */

static int ev_less(const ev_t *a, const ev_t *b)
{
    return a->t < b->t || (a->t == b->t && a->client < b->client);
}

typedef struct { ev_t *e; long n, cap; } heap_t;

static void heap_push(heap_t *h, ev_t v)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 64;
        h->e = hf_realloc(h->e, (size_t)h->cap * sizeof *h->e);  /* exit 1 when out of memory */
    }
    long i = h->n++;
    while (i > 0 && ev_less(&v, &h->e[(i - 1) / 2])) { h->e[i] = h->e[(i - 1) / 2]; i = (i - 1) / 2; }
    h->e[i] = v;
}

static ev_t heap_pop(heap_t *h)
{
    ev_t top = h->e[0], last = h->e[--h->n];
    long i = 0;
    for (;;) {
        long c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && ev_less(&h->e[c + 1], &h->e[c])) c++;
        if (!ev_less(&h->e[c], &last)) break;
        h->e[i] = h->e[c];
        i = c;
    }
    if (h->n > 0) h->e[i] = last;
    return top;
}

typedef struct {
    const hf_async_in_t *in;
    hf_async_plan_t *pl;
    long cap;
    heap_t heap;
    unsigned char *busy;
    int running, version, wake_pending;
    uint64_t fills;
    int *cand, *pick;
} sim_t;

static int online(const sim_t *s, int k, double t) { return !s->in->av || hf_avail_online(s->in->av, k, t); }

static void start_job(sim_t *s, int k, double now)
{
    const hf_async_in_t *in = s->in;
    hf_async_plan_t *pl = s->pl;
    if (pl->njobs == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        pl->job = hf_realloc(pl->job, (size_t)s->cap * sizeof *pl->job);
    }
    long j = pl->njobs++;
    hf_async_job_t *J = &pl->job[j];
    memset(J, 0, sizeof *J);
    const hf_devclass_t *c = &in->devs->cls[in->cls[k]];
    double jit = hf_clock_jitter(in->devs->jitter, in->seed, (int)j, k);
    J->client = k;
    J->v_start = s->version;
    J->t_start = now;
    J->t_down = hf_clock_transfer_s(c->latency_s, c->down_mbps, in->bytes_down);
    J->t_comp = hf_clock_compute_s(c, in->flops_per_sample, jit) * (double)in->samples[k] * in->epochs;
    J->t_up = hf_clock_transfer_s(c->latency_s, c->up_mbps, in->bytes_up);
    double at;
    if (in->av && hf_avail_dropout(in->av, k, now, J->t_down, J->t_comp, J->t_up, &at, &J->spent_comm,
                                   &J->spent_comp)) {
        J->outcome = HF_OUT_DROPPED_OFFLINE;
        J->t_end = at;
    } else {
        J->outcome = HF_OUT_COMPLETED;
        J->t_end = now + J->t_down + J->t_comp + J->t_up;
        J->spent_comm = J->t_down + J->t_up;
        J->spent_comp = J->t_comp;
    }
    s->busy[k] = 1;
    s->running++;
    heap_push(&s->heap, (ev_t){J->t_end, k, j});
}

/* Free slots at `now`: start clients drawn by the selection policy (uniform)
 * among the idle online ones (keyed by (seed, select, fill count)); if a slot stays free, wake at the next
 * instant an idle client comes online. */
static void fill(sim_t *s, double now)
{
    const hf_async_in_t *in = s->in;
    int N = in->N, free_slots = in->concurrency - s->running;
    if (free_slots <= 0) return;
    int nc = 0;
    for (int k = 0; k < N; k++)
        if (!s->busy[k] && online(s, k, now)) s->cand[nc++] = k;
    int n = HF_MIN(free_slots, nc);
    if (n > 0) {  /* the selection policy (select.c), keyed by the fill count */
        n = hf_select_fill(in->sel, in->seed, s->fills++, s->cand, nc, n, s->pick);
        for (int i = 0; i < n; i++) start_job(s, s->pick[i], now);
    }
    if (s->running < in->concurrency && !s->wake_pending && in->av) {
        double next = INFINITY;
        for (int k = 0; k < N; k++)
            if (!s->busy[k]) next = HF_MIN(next, hf_avail_next_change(in->av, k, now));
        if (isfinite(next)) {
            heap_push(&s->heap, (ev_t){next, -1, -1});
            s->wake_pending = 1;
        }
    }
}

int hf_async_plan(const hf_async_in_t *in, hf_async_plan_t *pl)
{
    memset(pl, 0, sizeof *pl);
    int U = in->updates;
    pl->update_time = hf_calloc((size_t)U + 1, sizeof(double));
    pl->update_avail = hf_calloc((size_t)U + 1, sizeof(int));
    pl->uoff = hf_calloc((size_t)U + 1, sizeof(long));
    long ocap = 256;
    pl->order = hf_calloc((size_t)ocap, sizeof(long));
    sim_t s = {.in = in, .pl = pl};
    s.busy = hf_calloc((size_t)in->N, 1);
    s.cand = hf_calloc((size_t)in->N, sizeof(int));
    s.pick = hf_calloc((size_t)in->N, sizeof(int));
    int nbuf = 0;
    fill(&s, 0.0);
    while (s.version < U && s.heap.n > 0) {
        ev_t e = heap_pop(&s.heap);
        if (e.job < 0) {  /* wake: someone came online */
            s.wake_pending = 0;
            fill(&s, e.t);
            continue;
        }
        hf_async_job_t *J = &pl->job[e.job];
        s.busy[J->client] = 0;
        s.running--;
        if (pl->norder == ocap) {
            ocap *= 2;
            pl->order = hf_realloc(pl->order, (size_t)ocap * sizeof(long));
        }
        pl->order[pl->norder++] = e.job;
        J->update = s.version + 1;
        J->staleness = s.version - J->v_start;
        if (J->outcome == HF_OUT_COMPLETED && ++nbuf == in->buffer) {  /* server update */
            s.version++;
            pl->update_time[s.version - 1] = e.t;
            pl->update_avail[s.version - 1] = in->av ? hf_avail_count(in->av, e.t, NULL) : in->N;
            pl->uoff[s.version] = pl->norder;
            nbuf = 0;
        }
        if (s.version < U) fill(&s, e.t);
    }
    pl->nupdates = s.version;
    for (long i = pl->uoff[pl->nupdates]; i < pl->norder; i++) pl->job[pl->order[i]].update = 0;
    free(s.heap.e);
    free(s.busy);
    free(s.cand);
    free(s.pick);
    return 0;
}

void hf_async_plan_free(hf_async_plan_t *pl)
{
    free(pl->job);
    free(pl->update_time);
    free(pl->update_avail);
    free(pl->uoff);
    free(pl->order);
    memset(pl, 0, sizeof *pl);
}

/* ----------------------------------------------------------------- run --- */

/* Combinations FedBuff does not support here (they assume synchronous rounds);
 * the strategy's own support is its HF_MODE_ASYNC flag (registry.c). */
static int check_conf(const hf_fed_opts_t *o, const hf_async_env_t *e)
{
    const hf_conf_t *c = o->conf;
    const hf_params_t *p = &o->p;
    const hf_select_policy_t *pol = hf_select_policy_find(hf_conf_get(c, "selection.policy"));
    if (!pol || !(pol->needs & HF_SEL_ASYNC))
        return hf_key_err(c, "selection.policy", "federation.mode = async fills each free slot among the "
                       "idle online clients with a policy that keeps no state between draws: one of %s",
                       hf_select_policies_with(HF_SEL_ASYNC));
    if (strcmp(hf_conf_get(c, "aggregation.correction"), "none"))
        return hf_key_err(c, "aggregation.correction", "not supported with federation.mode = async");
    if (p->stragglers > 0)
        return hf_key_err(c, "federation.stragglers", "not supported with federation.mode = async");
    if (p->devs.deadline_s > 0 || p->devs.overcommit > 1 || p->devs.backup != HF_BACKUP_NONE)
        return hf_key_err(c, p->devs.deadline_s > 0 ? "federation.deadline_s"
                          : p->devs.overcommit > 1 ? "federation.overcommit" : "federation.backup_workers",
                       "round policies do not apply with federation.mode = async (no rounds)");
    if (p->devs.clock != HF_CLOCK_MODEL)
        return hf_key_err(c, "devices.clock", "federation.mode = async plans its schedule with the model clock");
    if (hf_energy_scheduler(e->en) == HF_SCHED_AWARE)
        return hf_key_err(c, "energy.scheduler", "carbon-aware selection is not supported with "
                       "federation.mode = async");
    int N = p->clients, C = (int)hf_conf_int(c, "async.concurrency");
    if (C == 0) C = p->clients_per_round;
    if (C > N) return hf_key_err(c, "async.concurrency", "more clients training at once than clients");
    return 0;
}

/* The run's state across server updates. */
typedef struct {
    const hf_async_env_t *e;
    const hf_fed_opts_t *o;
    int B;                        /* async.buffer */
    double a;                     /* async.staleness_exp */
    int by_samples;               /* async.weights = samples */
    hf_avail_t av;
    hf_select_t *sel;             /* the selection policy */
    long *nk;                     /* n_k of every client */
    hf_async_plan_t pl;           /* the whole schedule (hf_async_plan) */
    float **dstore;               /* this rank's trained jobs' records (job_rec) by job, until applied */
    size_t rec_bytes, tail_off;   /* a record's size; where its tail starts */
    float **inflight;             /* hosted client k's trained, unapplied record at [k − first] (a view
                                   * of dstore, checkpointed as per-client state: async_inflight) */
    float *upd;                   /* the aggregated update */
    double *gl, *gs;              /* (loss, steps, measured) per buffer row: local, reduced on rank 0 */
    hf_part_rec_t *rows;          /* rank 0: the update's /participation rows */
    long jv;                      /* next job in start order */
    double t_loop;
} async_run_t;

/* A trained job's record, from its training to its server update: Δ (nparams
 * floats), then a tail of doubles: its local loss, steps, measured seconds and a
 * mark 1 (a record is never all zero: the checkpoint keeps only non-zero ones). */
enum { TAIL_LOSS, TAIL_STEPS, TAIL_MEASURED, TAIL_MARK, JOB_TAIL };

static double *job_tail(const async_run_t *A, float *rec) { return (double *)((char *)rec + A->tail_off); }

/* Availability, the schedule of every job and update, the buffers. */
static int async_setup(async_run_t *A)
{
    const hf_async_env_t *e = A->e;
    const hf_params_t *p = &A->o->p;
    const hf_conf_t *c = A->o->conf;
    int N = p->clients, C = (int)hf_conf_int(c, "async.concurrency");
    if (C == 0) C = p->clients_per_round;
    A->B = (int)hf_conf_int(c, "async.buffer");
    A->a = hf_conf_float(c, "async.staleness_exp");
    A->by_samples = !strcmp(hf_conf_get(c, "async.weights"), "samples");
    hf_avail_spec_t spec;
    int rc = hf_avail_spec_from_conf(&spec, c, N, p->seed);
    if (!rc) rc = hf_key_wrap(c, "availability.file", hf_avail_generate(&A->av, &spec));
    if (rc) return rc;
    A->nk = hf_calloc((size_t)N, sizeof(long));
    for (int k = 0; k < N; k++) A->nk[k] = e->part_off[k + 1] - e->part_off[k];
    A->sel = hf_select_new(hf_conf_get(c, "selection.policy"), HF_CORR_NONE, N, A->nk, NULL, NULL);
    if (!A->sel) return HF_EINPUT;
    if (A->sel->pol->configure) A->sel->pol->configure(A->sel, c);
    hf_async_in_t in = {.N = N, .concurrency = C, .buffer = A->B, .updates = p->rounds, .seed = p->seed,
                        .av = A->av.always ? NULL : &A->av, .devs = &p->devs, .cls = e->dcls, .samples = A->nk,
                        .epochs = p->local_epochs, .flops_per_sample = e->flops_per_sample,
                        .bytes_down = e->model_bytes, .bytes_up = e->model_bytes, .sel = A->sel};
    hf_async_plan(&in, &A->pl);
    A->jv = 0;
    if (e->rank == 0 && !A->o->quiet)
        fprintf(A->o->out, "async (FedBuff): concurrency %d, buffer %d, staleness scale (1+s)^-%g, %s "
                "weights; %ld client jobs planned for %d updates\n", C, A->B, A->a,
                A->by_samples ? "n_k" : "equal", A->pl.njobs, A->pl.nupdates);
    size_t nj = (size_t)HF_MAX(A->pl.njobs, 1);
    A->dstore = hf_calloc(nj, sizeof(float *));
    A->tail_off = ((size_t)e->nparams * sizeof(float) + 7) / 8 * 8;
    A->rec_bytes = A->tail_off + JOB_TAIL * sizeof(double);
    A->inflight = hf_calloc((size_t)HF_MAX(e->last_client - e->first_client, 1), sizeof(float *));
    hf_ckpt_register_client_ptrs("async_inflight", (void **)A->inflight, A->rec_bytes);
    A->upd = hf_alloc_aligned((size_t)e->nparams * sizeof(float));
    long maxrows = 1;
    for (int u = 1; u <= A->pl.nupdates; u++) maxrows = HF_MAX(maxrows, A->pl.uoff[u] - A->pl.uoff[u - 1]);
    A->gl = hf_calloc((size_t)maxrows * 3, sizeof(double));
    A->gs = hf_calloc((size_t)maxrows * 3, sizeof(double));
    A->rows = hf_calloc((size_t)maxrows, sizeof *A->rows);
    return 0;
}

static void async_free(async_run_t *A)
{
    for (long j = 0; j < A->pl.njobs && A->dstore; j++) free(A->dstore[j]);
    free(A->dstore); free(A->inflight); free(A->upd);
    free(A->gl); free(A->gs); free(A->rows); free(A->nk);
    hf_async_plan_free(&A->pl);
    hf_avail_free(&A->av);
    hf_select_free(A->sel);
}

/* Train the jobs that start from version u−1 (this rank's clients). */
static void async_train(async_run_t *A, int u)
{
    const hf_async_env_t *e = A->e;
    for (; A->jv < A->pl.njobs && A->pl.job[A->jv].v_start == u - 1; A->jv++) {
        long jv = A->jv;
        const hf_async_job_t *J = &A->pl.job[jv];
        if (J->outcome != HF_OUT_COMPLETED || J->update == 0) continue;
        if (J->client < e->first_client || J->client >= e->last_client) continue;
        float *rec = A->dstore[jv] = hf_alloc_aligned(A->rec_bytes);
        double *tail = job_tail(A, rec);
        int steps = 0;
        tail[TAIL_LOSS] = e->train(e->ctx, J->client, jv, e->global, rec, &steps, &tail[TAIL_MEASURED]);
        tail[TAIL_STEPS] = steps;
        tail[TAIL_MARK] = 1.0;
    }
}

/* Update u: x ← x + η_s·(1/B)·Σ (1+τ)^−a Δ over the buffer (or n_k-weighted);
 * the buffer's losses, steps and measured times to rank 0. */
static void async_aggregate(async_run_t *A, long r0, long nrows)
{
    const hf_async_env_t *e = A->e;
    const hf_async_plan_t *pl = &A->pl;
    int everywhere = hf_agg_result_everywhere(e->agg);
    hf_agg_begin(e->agg);
    double div = A->B;  /* weights samples: Σ n_k of the buffer (the same on every rank) */
    if (A->by_samples) {
        div = 0.0;
        for (long i = 0; i < nrows; i++) {
            const hf_async_job_t *J = &pl->job[pl->order[r0 + i]];
            if (J->outcome == HF_OUT_COMPLETED) div += (double)A->nk[J->client];
        }
    }
    memset(A->gl, 0, (size_t)nrows * 3 * sizeof(double));
    for (long i = 0; i < nrows; i++) {
        long j = pl->order[r0 + i];
        const hf_async_job_t *J = &pl->job[j];
        if (!A->dstore[j]) continue;
        double w = pow(1.0 + J->staleness, -A->a);
        if (A->by_samples) w *= (double)A->nk[J->client];
        hf_agg_add(e->agg, w, A->dstore[j]);
        const double *tail = job_tail(A, A->dstore[j]);
        A->gl[3 * i] = tail[TAIL_LOSS];
        A->gl[3 * i + 1] = tail[TAIL_STEPS];
        A->gl[3 * i + 2] = tail[TAIL_MEASURED];
    }
    hf_agg_reduce(e->agg);
    if (e->rank == 0 || everywhere) {
        hf_agg_result(e->agg, div > 0 ? 1.0 / div : 0.0, A->upd);
        hf_server_opt_apply(e->sopt, e->global, A->upd);
    }
    if (!everywhere) MPI_Bcast(e->global, (int)e->nparams, MPI_FLOAT, 0, e->comm);
    for (long i = 0; i < nrows; i++) {
        long j = pl->order[r0 + i];
        free(A->dstore[j]);
        A->dstore[j] = NULL;
    }
    /* exactly one rank holds each row: a sum */
    MPI_Reduce(A->gl, A->gs, (int)(3 * nrows), MPI_DOUBLE, MPI_SUM, 0, A->e->comm);
}

/* Rank 0: buffer row i's /participation record; adds to the /rounds row. */
static void async_record_row(async_run_t *A, int u, long i, const hf_async_job_t *J, hf_round_rec_t *rr)
{
    const hf_async_env_t *e = A->e;
    const hf_devclass_t *dc = &A->o->p.devs.cls[e->dcls[J->client]];
    hf_part_rec_t *q = &A->rows[i];
    int done = J->outcome == HF_OUT_COMPLETED;
    memset(q, 0, sizeof *q);
    q->round = u;
    q->client = J->client;
    q->outcome = J->outcome;
    q->steps = done ? (int32_t)A->gs[3 * i + 1] : 0;
    q->compute_s_model = J->spent_comp;
    q->compute_s_measured = done ? A->gs[3 * i + 2] : 0.0;
    q->comm_s = J->spent_comm;
    q->bytes_up = done ? e->model_bytes : 0;
    double mb = done ? (double)(2 * e->model_bytes) / 1e6
                     : (double)e->model_bytes * HF_MIN(1.0, J->spent_comm / HF_MAX(J->t_down, 1e-300)) / 1e6;
    q->energy_j = dc->active_w * J->spent_comp + dc->radio_j_per_mb * mb;
    q->local_loss = done ? A->gs[3 * i] : NAN;
    q->width = 1.0;
    q->carbon_g = hf_energy_carbon_g(q->energy_j, hf_energy_ci(e->en, J->client, J->t_start));
    q->energy_j_measured = NAN;
    q->staleness = J->staleness;
    rr->energy_j += q->energy_j;
    rr->carbon_g += q->carbon_g;
    rr->bytes_up += q->bytes_up;
    rr->bytes_down += e->model_bytes;
}

/* Rank 0: one /rounds row, the update's arrivals and drop-outs in event order. */
static int async_record(async_run_t *A, int u, long r0, long nrows, hf_round_rec_t *rr, double tw0, double tw3)
{
    const hf_async_plan_t *pl = &A->pl;
    double wl = 0.0, ws = 0.0, stale = 0.0;
    for (long i = 0; i < nrows; i++) {
        const hf_async_job_t *J = &pl->job[pl->order[r0 + i]];
        async_record_row(A, u, i, J, rr);
        if (J->outcome != HF_OUT_COMPLETED) continue;
        double n = (double)A->nk[J->client];
        wl += n * A->rows[i].local_loss;
        ws += n;
        stale += J->staleness;
    }
    rr->round = u;
    rr->sim_time_s = pl->update_time[u - 1];
    rr->available = pl->update_avail[u - 1];
    rr->selected = (int32_t)nrows;
    rr->completed = A->B;
    rr->dropped = (int32_t)nrows - A->B;
    rr->train_loss = ws > 0 ? wl / ws : NAN;
    rr->consensus_distance = NAN;
    rr->energy_j_measured = NAN;
    rr->dp_epsilon = NAN;  /* no DP strategy runs asynchronously */
    rr->client_acc_mean = rr->client_acc_wmean = rr->client_acc_p10 = rr->client_acc_min = NAN;
    int rc = hf_h5out_participation(A->e->h5, A->rows, nrows);
    rr->wall_io_s = hf_wtime() - tw3;
    rr->wall_time_s = hf_wtime() - tw0;
    if (!rc) rc = hf_h5out_round(A->e->h5, rr);
    if (!rc) rc = hf_h5out_flush(A->e->h5);
    if (!A->o->quiet) {
        char acc[32] = "     -";
        if (!isnan(rr->test_accuracy)) snprintf(acc, sizeof acc, "%.4f", rr->test_accuracy);
        fprintf(A->o->out, "update %3d/%d  sim %9.1fs  acc %s  train_loss %.4f  buffered %d "
                "dropped %d  staleness %.2f  energy %.1f J  wall %.3fs  elapsed %.1fs\n", u, A->o->p.rounds,
                rr->sim_time_s, acc, rr->train_loss, A->B, rr->dropped, stale / A->B, rr->energy_j,
                rr->wall_time_s, hf_wtime() - A->t_loop);
        fflush(A->o->out);
    }
    return rc;
}

/* Server update u: train, aggregate, evaluate, record — the synchronous
 * round's phases on the asynchronous schedule. */
static int async_update(async_run_t *A, int u, double *final_acc)
{
    const hf_params_t *p = &A->o->p;
    double tw0 = hf_wtime();
    hf_round_rec_t rr = {0};
    async_train(A, u);
    double tw1 = hf_wtime();
    rr.wall_compute_s = tw1 - tw0;
    long r0 = A->pl.uoff[u - 1], nrows = A->pl.uoff[u] - r0;
    async_aggregate(A, r0, nrows);
    double tw2 = hf_wtime();
    rr.wall_agg_s = tw2 - tw1;
    rr.test_accuracy = rr.test_loss = NAN;
    if (u % p->eval_every == 0 || u == A->pl.nupdates) {
        A->e->evaluate(A->e->ctx, &rr.test_accuracy, &rr.test_loss);
        *final_acc = rr.test_accuracy;
    }
    double tw3 = hf_wtime();
    rr.wall_eval_s = tw3 - tw2;
    int rc = A->e->rank == 0 ? async_record(A, u, r0, nrows, &rr, tw0, tw3) : 0;
    MPI_Bcast(&rc, 1, MPI_INT, 0, A->e->comm);
    return rc;
}

/* ----------------------------------------------------------- checkpoint --- */

/* After update u: the records still waiting for a later update, viewed per
 * hosted client for the checkpoint (the model, the server optimizer and the
 * clock are fed.c's; the schedule is a function of the suite, planned again on
 * resume).  A client has at most one: a job trained by update u started from
 * version ≤ u−1, and the client's next job starts once that one has arrived,
 * from version ≥ its update − 1 ≥ u, so it is not trained yet. */
static void async_inflight_view(async_run_t *A)
{
    const hf_async_env_t *e = A->e;
    memset(A->inflight, 0, (size_t)(e->last_client - e->first_client) * sizeof(float *));
    for (long j = 0; j < A->jv; j++)
        if (A->dstore[j]) A->inflight[A->pl.job[j].client - e->first_client] = A->dstore[j];
}

/* Before the first update (collective): make /checkpoint, or with --resume
 * restore the last one, taken after update *u0: the jobs trained by then whose
 * update comes later get their records back, and training goes on with the jobs
 * that start from version *u0. */
static int async_ckpt_start(async_run_t *A, int *u0)
{
    const hf_async_env_t *e = A->e;
    *u0 = 0;
    int rc = A->o->p.checkpoint_every > 0 ? hf_run_agree(hf_ckpt_prepare(e->h5), e->comm) : 0;
    if (!rc && A->o->resume) rc = hf_run_agree(hf_ckpt_restore(e->h5, e->comm, u0), e->comm);
    if (rc || !A->o->resume) return rc;
    while (A->jv < A->pl.njobs && A->pl.job[A->jv].v_start < *u0) A->jv++;
    int missing = 0;
    for (long j = 0; j < A->jv; j++) {
        const hf_async_job_t *J = &A->pl.job[j];
        if (J->outcome != HF_OUT_COMPLETED || J->update <= *u0) continue;
        if (J->client < e->first_client || J->client >= e->last_client) continue;
        A->dstore[j] = A->inflight[J->client - e->first_client];  /* the registry allocated it */
        if (!A->dstore[j]) missing = 1;
    }
    if (!hf_run_agree(missing, e->comm)) return 0;
    return hf_seterr(HF_EINPUT, "%s: cannot resume: the checkpoint after update %d lacks a buffered client "
                     "update (made by another hetfl version?)", A->o->resume, *u0);
}

int hf_async_run(const hf_async_env_t *e, const hf_fed_opts_t *o, double *sim_time, double *final_acc,
                 int *updates_done)
{
    async_run_t A = {.e = e, .o = o};
    *updates_done = 0;
    *final_acc = NAN;
    int rc = check_conf(o, e);  /* the same on every rank: a function of the suite */
    if (!rc) rc = async_setup(&A);
    int u0 = 0;
    if (!rc) rc = async_ckpt_start(&A, &u0);
    A.t_loop = hf_wtime();
    for (int u = u0 + 1; !rc && u <= A.pl.nupdates; u++) {
        rc = async_update(&A, u, final_acc);
        *sim_time = A.pl.update_time[u - 1];
        *updates_done = u;
        if (rc) break;
        async_inflight_view(&A);  /* checkpoint every checkpoint_every updates, or stop on a signal */
        rc = hf_ckpt_round_end(e->h5, u, o->p.checkpoint_every, o->p.rounds, e->comm);
    }
    if (!rc && A.pl.nupdates < o->p.rounds && e->rank == 0)
        fprintf(o->out, "async: only %d of %d updates: no client is ever online again after %.1f s\n",
                A.pl.nupdates, o->p.rounds, A.pl.nupdates ? A.pl.update_time[A.pl.nupdates - 1] : 0.0);
    async_free(&A);
    return rc;
}
