/*
 * dkt.c — decentralized knowledge transfer (see dkt.h): local SGD on each
 * client's width sub-model, model exchange with graph neighbours through
 * hf_dec_t's neighbour-collective buffers, same-width gossip averaging, and
 * distillation from every wider neighbour on that neighbour's local batches.
 * Client ids, the graph and the seed decide every sum's order: results do not
 * depend on the rank layout.
 */
#include "dkt.h"
#include "evaluate.h"
#include "h5out.h"
#include "run.h"
#include "hf_util.h"
#include "rng.h"
#include "slice.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>


hf_het_local_t hf_dkt_train(hf_hetero_t *h, int k, int t, float *model, const hf_cplan_t *cp, float *delta,
                            float *xb, int *yb, int *iperm, double *t_kernel)
{
    hf_het_local_t r = hf_hetero_train(h, k, k, t, model, cp, delta, xb, yb, iperm, t_kernel);
    long P = hf_hetero_full(h)->nparams;
    for (long c = 0; c < P; c++) model[c] += delta[c];
    return r;
}

/* same-width degree of client i */
static int sdeg(hf_hetero_t *h, const hf_graph_t *g, int i)
{
    int n = 0, li = hf_hetero_level(h, i);
    for (long q = g->off[i]; q < g->off[i + 1]; q++) n += hf_hetero_level(h, g->adj[q]) == li;
    return n;
}

/* Metropolis weight of neighbour i of client j on the same-width subgraph; −1
 * (not mixed) for a neighbour of another width. */
typedef struct { hf_hetero_t *h; const hf_graph_t *g; int dj; } same_width_t;

static double same_width_weight(void *arg, int j, int i, long q)
{
    (void)q;
    same_width_t *sw = arg;
    if (hf_hetero_level(sw->h, i) != hf_hetero_level(sw->h, j)) return -1.0;
    return 1.0 / (1.0 + (double)HF_MAX(sw->dj, sdeg(sw->h, sw->g, i)));
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
    /* 2. exchange */
    hf_dec_exchange(d);
    /* scratch */
    hf_work_t *work[HF_HET_MAX_LEVELS] = {0};
    double *acc = hf_calloc((size_t)P, sizeof(double)), *dacc = hf_calloc((size_t)P, sizeof(double));
    float *tp = hf_alloc_aligned((size_t)P * sizeof(float)), *sp = hf_alloc_aligned((size_t)P * sizeof(float));
    float *s0 = hf_alloc_aligned((size_t)P * sizeof(float)), *gr = hf_alloc_aligned((size_t)P * sizeof(float));
    float *xb = NULL, *zt = NULL;
    same_width_t sw = {h, g, 0};
    for (int j = d->first; j < d->last; j++) {
        int lj = hf_hetero_level(h, j);
        sw.dj = sdeg(h, g, j);
        /* 3. same-width Metropolis mixing, ascending id, self included */
        double wself = 1.0;
        for (long q = g->off[j]; q < g->off[j + 1]; q++) {
            int i = g->adj[q];
            if (hf_hetero_level(h, i) != lj) continue;
            wself -= 1.0 / (1.0 + (double)HF_MAX(sw.dj, sdeg(h, g, i)));
        }
        float *out = hf_dec_mix(d, j, wself, same_width_weight, &sw, acc);
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
            hf_slice_extract(full, hf_dec_model_any(d, i), mt, tp);
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
    hf_dec_mixed_done(d);
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
    int64_t loc[2 * HF_HET_MAX_LEVELS] = {0}, tot[2 * HF_HET_MAX_LEVELS] = {0};
    int cnt[HF_HET_MAX_LEVELS] = {0};
    float *xm = hf_alloc_aligned((size_t)P * sizeof(float)), *xs = hf_alloc_aligned((size_t)P * sizeof(float));
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
        hf_work_t *w = hf_work_new(ml, HF_EVAL_CHUNK);
        hf_eval_share(ml, w, xs, tx, ty, n, dim, d->rank, d->size, loc + 2 * l, NULL);
        hf_work_free(w);
    }
    free(xm);
    free(xs);
    MPI_Allreduce(loc, tot, 2 * nlev, MPI_INT64_T, MPI_SUM, d->comm);
    if (d->rank != 0 || f < 0) return 0;
    double acc[HF_HET_MAX_LEVELS], loss[HF_HET_MAX_LEVELS];
    for (int l = 0; l < nlev; l++) {
        hf_eval_figures(tot + 2 * l, n, &acc[l], &loss[l]);
        if (!cnt[l]) acc[l] = loss[l] = NAN;
    }
    return hf_hetero_write_width_rows(h, f, round, acc, loss);
}

/* ------------------------------------------------------------ the entry --- */

static const hf_opt_t keys[] = {
    {"dkt.steps", HF_OPT_INT, "5", 0, 100000, NULL,
     "dkt: soft-target SGD steps a client takes towards each strictly wider neighbour's logits per "
     "round (batches of federation.batch_size from that neighbour's local data); 0 = no distillation "
     "(same-width gossip only)"},
    {"dkt.lr", HF_OPT_FLOAT, "0", 0, 1e6, NULL,
     "dkt: learning rate of the distillation steps; 0 = federation.lr"},
    {"dkt.temperature", HF_OPT_FLOAT, "1", 0.01, 100, NULL,
     "dkt: softmax temperature T of the distillation loss KL(softmax(z_teacher/T) || softmax(z/T))"},
    {0},
};

static int check_dkt(const hf_params_t *p, const hf_conf_t *c)
{
    int rc = hf_hetero_params_check(p, c);
    if (!rc && strcmp(hf_conf_get(c, "heterofl.mode"), "fix"))
        rc = hf_key_err(c, "heterofl.mode", "dkt keeps one model per client: needs heterofl.mode = fix");
    return rc;
}

/* Local SGD of its width's sub-model from, and back into, its own model. */
static hf_local_t train_dkt(hf_strat_t *s, int i, int k, int t, const hf_cplan_t *cp)
{
    (void)i;
    hf_run_t *x = s->run;
    double th = hf_wtime();
    hf_het_local_t hl = hf_dkt_train(s->state, k, t, hf_dec_model(&x->dec, k), cp, x->delta, x->xb, x->yb,
                                     x->iperm, &x->t_kernel);
    return (hf_local_t){.loss = hl.loss, .steps = hl.steps, .samples = hl.samples, .measured = hf_wtime() - th};
}

/* Does teacher i distil into its neighbour j this round (hf_dkt_gossip's rule)? */
static int distils(hf_hetero_t *h, int i, int j, int steps)
{
    const hf_het_data_t *dt = hf_hetero_data(h);
    return steps > 0 && hf_hetero_level(h, i) < hf_hetero_level(h, j) && dt->off[i + 1] > dt->off[i];
}

/* Client k's FLOPs a round: local training of its sub-model, the forward
 * passes it runs as a teacher for each narrower neighbour (dkt.steps batches
 * of B), and its own soft-target steps (forward and backward) towards each
 * wider neighbour. */
static double flops_dkt(const hf_strat_t *s, int k, long samples)
{
    hf_hetero_t *h = s->state;
    const hf_graph_t *g = &s->run->graph;
    int steps, B;
    double lr, T;
    uint64_t seed;
    hf_hetero_dkt_params(h, &steps, &lr, &T, &seed, &B);
    const hf_model_t *mk = hf_hetero_level_model(h, hf_hetero_level(h, k));
    double f = hf_model_train_flops(mk) * (double)samples, batch = (double)steps * B;
    for (long q = g->off[k]; q < g->off[k + 1]; q++) {
        if (distils(h, k, g->adj[q], steps)) f += batch * mk->flops_fwd;
        if (distils(h, g->adj[q], k, steps)) f += batch * hf_model_train_flops(mk);
    }
    return f;
}

/* Bytes i sends neighbour j a round: its sub-model, and when it teaches j
 * the dkt.steps batches the student trains on, inputs and logits (float32). */
static uint64_t edge_bytes_dkt(const hf_strat_t *s, int i, int j)
{
    hf_hetero_t *h = s->state;
    int steps, B;
    double lr, T;
    uint64_t seed;
    hf_hetero_dkt_params(h, &steps, &lr, &T, &seed, &B);
    uint64_t b = (uint64_t)hf_hetero_level_model(h, hf_hetero_level(h, i))->nparams * sizeof(float);
    if (distils(h, i, j, steps))
        b += (uint64_t)steps * (uint64_t)B *
             (uint64_t)(hf_hetero_data(h)->dim + hf_hetero_full(h)->cfg.n_classes) * sizeof(float);
    return b;
}

/* Same-width gossip and distillation; the widest clients form the evaluated mean. */
static int gossip_dkt(hf_strat_t *s, int t)
{
    hf_run_t *x = s->run;
    hf_dkt_gossip(s->state, &x->dec, t);
    return hf_dkt_add_widest(s->state, &x->dec, x->agg);
}

/* Each width's mean model: /rounds_by_width. */
static int evaluate_dkt(hf_strat_t *s, int round)
{
    hf_run_t *x = s->run;
    return hf_dkt_eval(s->state, &x->dec, x->agg, x->test.x, x->test.y, x->test.n, round,
                       x->rank == 0 ? hf_h5out_file(x->h5) : -1);
}

const hf_strategy_t hf_strategy_dkt = {
    .name = "dkt",
    .doc = "decentralized knowledge transfer: per-client widths ([heterofl] levels), same-width gossip, "
           "distillation into narrower neighbours on the teacher's local data ([dkt]); mode = decentralized",
    .modes = HF_MODE_DECENTRAL,
    .keeps_stragglers = 0,
    .upload_factor = 1,
    .keys = keys,
    .check = check_dkt,
    .init = hf_het_init,
    .free = hf_het_free,
    .weights = hf_weights_count,
    .plan = hf_het_plan,
    .width = hf_het_width,
    .model_bytes = hf_het_model_bytes,
    .dec_flops = flops_dkt,
    .dec_edge_bytes = edge_bytes_dkt,
    .train = train_dkt,
    .gossip = gossip_dkt,
    .evaluate = evaluate_dkt,
};
