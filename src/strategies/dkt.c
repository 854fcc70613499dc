/*
 * dkt.c — decentralized knowledge transfer (see dkt.h): local SGD on each
 * client's width sub-model, model exchange with graph neighbours through
 * hf_dec_t's neighbour-collective buffers, same-width gossip averaging, and
 * distillation from every wider neighbour on that neighbour's local batches.
 * Client ids, the graph and the seed decide every sum's order: results do not
 * depend on the rank layout.
 */
#include "dkt.h"
#include "hf_util.h"
#include "rng.h"
#include "slice.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EVAL_CHUNK 250                 /* as fed.c / hetero.c: fixed chunks */
#define LOSS_FIXED_SCALE 4294967296.0  /* 2^32, as hetero.c */

static void weights_one(hf_strat_t *s, hf_plan_t *pl)
{
    (void)s;
    for (int i = 0; i < pl->m; i++) pl->c[i].weight = pl->c[i].kept ? 1.0 : 0.0;
    pl->divisor = pl->kept;
}

const hf_strategy_t hf_strategy_dkt = {
    .name = "dkt",
    .doc = "decentralized knowledge transfer: per-client widths ([heterofl] levels), same-width gossip, "
           "distillation into narrower neighbours on the teacher's local data ([dkt]); mode = decentralized",
    .keeps_stragglers = 0,
    .upload_factor = 1,
    .weights = weights_one,
};

hf_het_local_t hf_dkt_train(hf_hetero_t *h, int k, int t, float *model, const hf_cplan_t *cp, float *delta,
                            float *xb, int *yb, int *iperm, double *t_kernel)
{
    hf_het_local_t r = hf_hetero_train(h, k, k, t, model, cp, delta, xb, yb, iperm, t_kernel);
    long P = hf_hetero_full(h)->nparams;
    for (long c = 0; c < P; c++) model[c] += delta[c];
    return r;
}

/* client j's model: hosted, or received into rbuf */
static const float *model_of(hf_dec_t *d, int j)
{
    return (j >= d->first && j < d->last) ? hf_dec_model(d, j) : d->rbuf + d->rpos[j];
}

/* same-width degree of client i */
static int sdeg(hf_hetero_t *h, const hf_graph_t *g, int i)
{
    int n = 0, li = hf_hetero_level(h, i);
    for (long q = g->off[i]; q < g->off[i + 1]; q++) n += hf_hetero_level(h, g->adj[q]) == li;
    return n;
}

void hf_dkt_gossip(hf_hetero_t *h, hf_dec_t *d, int t)
{
    const long P = d->P;
    const hf_graph_t *g = d->g;
    const hf_het_data_t *dt = hf_hetero_data(h);
    const hf_model_t *full = hf_hetero_full(h);
    const int N = d->N, C = full->cfg.n_classes, nlev = hf_hetero_nlevels(h);
    int steps, B;
    double lr, T;
    uint64_t seed;
    hf_hetero_dkt_params(h, &steps, &lr, &T, &seed, &B);
    /* 2. exchange (as hf_dec_gossip) */
    for (long i = 0; i < d->nsend; i++)
        memcpy(d->sbuf + i * P, hf_dec_model(d, d->sclients[i]), (size_t)P * sizeof(float));
    double t0 = hf_wtime();
    MPI_Neighbor_alltoallv(d->sbuf, d->scount, d->sdispl, MPI_FLOAT, d->rbuf, d->rcount, d->rdispl,
                           MPI_FLOAT, d->gcomm);
    d->t_comm += hf_wtime() - t0;
    d->bytes_sent += (uint64_t)d->nsend * (uint64_t)P * sizeof(float);
    /* scratch */
    hf_work_t *work[HF_HET_MAX_LEVELS] = {0};
    double *acc = hf_calloc((size_t)P, sizeof(double)), *dacc = hf_calloc((size_t)P, sizeof(double));
    float *tp = hf_alloc_aligned((size_t)P * sizeof(float)), *sp = hf_alloc_aligned((size_t)P * sizeof(float));
    float *s0 = hf_alloc_aligned((size_t)P * sizeof(float)), *gr = hf_alloc_aligned((size_t)P * sizeof(float));
    float *xb = NULL, *zt = NULL;
    for (int j = d->first; j < d->last; j++) {
        int lj = hf_hetero_level(h, j), dj = sdeg(h, g, j);
        /* 3. same-width Metropolis mixing, ascending id, self included */
        memset(acc, 0, (size_t)P * sizeof(double));
        double wself = 1.0;
        for (long q = g->off[j]; q < g->off[j + 1]; q++) {
            int i = g->adj[q];
            if (hf_hetero_level(h, i) != lj) continue;
            wself -= 1.0 / (1.0 + (double)HF_MAX(dj, sdeg(h, g, i)));
        }
        long q = g->off[j], qe = g->off[j + 1];
        int self_done = 0;
        while (q < qe || !self_done) {
            int i;
            double w;
            if (!self_done && (q >= qe || g->adj[q] > j)) { i = j; w = wself; self_done = 1; }
            else {
                i = g->adj[q++];
                if (hf_hetero_level(h, i) != lj) continue;
                w = 1.0 / (1.0 + (double)HF_MAX(dj, sdeg(h, g, i)));
            }
            const float *xi = model_of(d, i);
            for (long c = 0; c < P; c++) acc[c] += w * (double)xi[c];
        }
        float *out = d->mixed + (size_t)(j - d->first) * P;
        for (long c = 0; c < P; c++) out[c] = (float)acc[c];
        /* 4. distillation from strictly wider neighbours, ascending i */
        const hf_model_t *ms = hf_hetero_level_model(h, lj);
        hf_slice_extract(full, out, ms, s0);
        memset(dacc, 0, (size_t)ms->nparams * sizeof(double));
        int nt = 0;
        for (long qq = g->off[j]; qq < g->off[j + 1] && steps > 0; qq++) {
            int i = g->adj[qq], li = hf_hetero_level(h, i);
            long ni = dt->off[i + 1] - dt->off[i];
            if (li >= lj || ni <= 0) continue;
            const hf_model_t *mt = hf_hetero_level_model(h, li);
            if (!work[li]) work[li] = hf_work_new(mt, B);
            if (!work[lj]) work[lj] = hf_work_new(ms, B);
            if (!xb) {
                xb = hf_alloc_aligned((size_t)B * (size_t)dt->dim * sizeof(float));
                zt = hf_alloc_aligned((size_t)B * (size_t)C * sizeof(float));
            }
            hf_slice_extract(full, model_of(d, i), mt, tp);
            memcpy(sp, s0, (size_t)ms->nparams * sizeof(float));
            hf_rng_t r;
            hf_rng_init(&r, seed, HF_RNG_DISTILL, (uint64_t)t, (uint64_t)i * N + j);
            for (int s = 0; s < steps; s++) {
                for (int b = 0; b < B; b++) {
                    long smp = dt->idx[dt->off[i] + (long)hf_rng_below(&r, (uint64_t)ni)];
                    memcpy(xb + (size_t)b * dt->dim, dt->x + (size_t)smp * dt->dim, (size_t)dt->dim * sizeof(float));
                }
                hf_model_forward(mt, work[li], tp, xb, NULL, B, zt, NULL);
                hf_model_train_step_soft(ms, work[lj], sp, gr, xb, zt, (float)T, B);
                for (long c = 0; c < ms->nparams; c++) sp[c] -= (float)lr * gr[c];
            }
            for (long c = 0; c < ms->nparams; c++) dacc[c] += (double)sp[c] - (double)s0[c];
            nt++;
        }
        if (nt > 0) {
            for (long c = 0; c < ms->nparams; c++) s0[c] += (float)(dacc[c] / nt);
            hf_slice_scatter(full, out, ms, s0);
        }
    }
    for (int l = 0; l < nlev; l++)
        if (work[l]) hf_work_free(work[l]);
    free(acc); free(dacc); free(tp); free(sp); free(s0); free(gr); free(xb); free(zt);
    float *tt = d->state_models;
    d->state_models = d->mixed;
    d->mixed = tt;
}

int hf_dkt_add_widest(hf_hetero_t *h, hf_dec_t *d, hf_agg_t *agg)
{
    int n = 0;
    for (int k = 0; k < d->N; k++) {
        if (hf_hetero_level(h, k) != 0) continue;
        n++;
        if (k >= d->first && k < d->last) hf_agg_add(agg, 1.0, hf_dec_model(d, k));
    }
    return n;
}

int hf_dkt_eval(hf_hetero_t *h, hf_dec_t *d, hf_agg_t *agg, const float *tx, const int *ty, long n,
                int round, hid_t f)
{
    const hf_model_t *full = hf_hetero_full(h);
    const long P = full->nparams;
    const int nlev = hf_hetero_nlevels(h), dim = hf_hetero_data(h)->dim;
    long nchunks = (n + EVAL_CHUNK - 1) / EVAL_CHUNK;
    int64_t loc[2 * HF_HET_MAX_LEVELS] = {0}, tot[2 * HF_HET_MAX_LEVELS] = {0};
    int cnt[HF_HET_MAX_LEVELS] = {0};
    float *xm = hf_alloc_aligned((size_t)P * sizeof(float)), *xs = hf_alloc_aligned((size_t)P * sizeof(float));
    float lbuf[EVAL_CHUNK];
    for (int k = 0; k < d->N; k++) cnt[hf_hetero_level(h, k)]++;
    for (int l = 0; l < nlev; l++) {
        if (!cnt[l]) continue;
        hf_agg_begin(agg);
        for (int k = d->first; k < d->last; k++)
            if (hf_hetero_level(h, k) == l) hf_agg_add(agg, 1.0, hf_dec_model(d, k));
        hf_agg_reduce(agg);
        if (d->rank == 0 || hf_agg_result_everywhere(agg)) hf_agg_result(agg, 1.0 / cnt[l], xm);
        if (!hf_agg_result_everywhere(agg)) MPI_Bcast(xm, (int)P, MPI_FLOAT, 0, d->comm);
        const hf_model_t *ml = hf_hetero_level_model(h, l);
        hf_slice_extract(full, xm, ml, xs);
        hf_work_t *w = hf_work_new(ml, EVAL_CHUNK);
        for (long ch = d->rank; ch < nchunks; ch += d->size) {
            long s0 = ch * EVAL_CHUNK;
            int B = (int)HF_MIN((long)EVAL_CHUNK, n - s0);
            loc[2 * l] += hf_model_forward(ml, w, xs, tx + s0 * dim, ty + s0, B, NULL, lbuf);
            for (int i = 0; i < B; i++) loc[2 * l + 1] += (int64_t)llrint((double)lbuf[i] * LOSS_FIXED_SCALE);
        }
        hf_work_free(w);
    }
    free(xm);
    free(xs);
    MPI_Allreduce(loc, tot, 2 * nlev, MPI_INT64_T, MPI_SUM, d->comm);
    if (d->rank != 0 || f < 0) return 0;
    double acc[HF_HET_MAX_LEVELS], loss[HF_HET_MAX_LEVELS];
    for (int l = 0; l < nlev; l++) {
        acc[l] = n && cnt[l] ? (double)tot[2 * l] / (double)n : NAN;
        loss[l] = n && cnt[l] ? (double)tot[2 * l + 1] / LOSS_FIXED_SCALE / (double)n : NAN;
    }
    return hf_hetero_write_width_rows(h, f, round, acc, loss);
}
