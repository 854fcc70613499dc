/*
 * hetero.c — the width sub-model machinery shared by heterofl.c, fjord.c,
 * dkt.c and fedgen.c's mixed widths (see hetero.h), and the strategy hooks
 * HeteroFL and FjORD share.
 *
 * A client never materialises the full model: it extracts its width's
 * coordinates of the global model into a compact buffer (slice.h), trains the
 * narrow hf_model_t with the ordinary kernels, and returns the narrow update
 * scattered into a full-size zero buffer for the masked aggregation
 * (masked_agg.h).  Two HeteroFL training-time details need no kernel change:
 *   scaler: dividing every hidden layer's output by β is training the model
 *     whose hidden weights and biases are W/β (ReLU and max-pool are
 *     positively homogeneous, so the factors compound exactly as the scaled
 *     outputs do); the gradient w.r.t. W is then (1/β)·∂L/∂(W/β) (chain rule);
 *   masked loss: setting the logits of absent classes to 0 is training with
 *     those classifier rows (weight and bias) at zero and discarding their
 *     gradient.
 * FjORD's self-distillation term CE(f_p(x), softmax(f_pmax(x))) at
 * temperature 1 (as the FjORD baseline of the Flower repository) uses the
 * exact soft target: hf_model_train_step_soft with T = 1, whose logit gradient
 * softmax(z_p) − softmax(z_pmax) is that of the cross-entropy (the teacher's
 * entropy is constant); the teacher is not differentiated through
 * (tests/test_fjord_kd.c pins the step by finite differences).
 */
#include "hetero.h"
#include "evaluate.h"
#include "h5out.h"
#include "run.h"
#include "server_opt.h"
#include "masked_agg.h"
#include "slice.h"
#include "hf_util.h"
#include "rng.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FJORD_DRAW_BASE (1ULL << 32)   /* per-minibatch width stream: client + 2^32 */

enum { HET_HETEROFL = 0, HET_FJORD = 1, HET_FEDGEN = 2 };

struct hf_hetero {
    int kind;                          /* HET_HETEROFL, HET_FJORD or HET_FEDGEN */
    const hf_params_t *p;
    hf_model_t full;                   /* the global model's layout */
    int nlev;                          /* width levels, widest first */
    double lw[HF_HET_MAX_LEVELS];      /* their widths */
    double prop[HF_HET_MAX_LEVELS];    /* proportions (sum 1) */
    hf_model_t lm[HF_HET_MAX_LEVELS];  /* sub-model of each level */
    hf_work_t *work[HF_HET_MAX_LEVELS];/* activations per level (lazy) */
    int dynamic;                       /* heterofl.mode = dynamic */
    int scaler, masked_loss, label_split;
    int kd;                            /* fjord.kd */
    double pmax_prob;                  /* fjord.pmax_prob (< 0: uniform over p <= p_max) */
    int N, C;
    unsigned char *classes;            /* N x C: client k holds class c */
    int *allfull;                      /* client holds every class */
    int *cap;                          /* widest level allowed for client k (0: full) */
    int *fixlev;                       /* fix-mode level / FjORD tier of client k */
    int has_caps;                      /* some class in use has mem_width < 1 */
    hf_het_data_t d;
    /* round plan */
    int mt;
    int *lev;                          /* level of plan entry i */
    double *fscale, *bscale;
    /* scratch (full-size) */
    float *ws, *gs, *ms, *ts, *wp, *gp, *mp, *ws0;
    float *logits;
    long *aug_ids;                     /* data.augment: a minibatch's sample ids (B) */
    float *aug_scratch;                /* data.augment: one sample (dim) */
    hf_masked_t *ma;
    int dkt_steps;                     /* dkt.steps (dkt.c) */
    double dkt_lr, dkt_T;              /* dkt.lr (0: federation.lr), dkt.temperature */
    hf_het_grad_fn grad_fn;            /* a strategy's gradient term (FedGen's regulariser), or NULL */
    void *grad_ctx;
};

/* ------------------------------------------------------------- parsing --- */

int hf_het_parse_letters(const hf_conf_t *c, const char *key, const char *what, int *n, double *w, double *prop)
{
    const char *s = hf_conf_get(c, key);
    double pr[5] = {0};
    int seen[5] = {0}, any = 0;
    for (const char *q = s ? s : ""; *q;) {
        while (*q == ' ') q++;
        if (*q < 'a' || *q > 'e')
            return hf_key_err(c, key, "expected letters a..e (widths 1..1/16) with optional proportions, "
                              "e.g. a2-b8 or a-b-c-d-e");
        int l = *q++ - 'a';
        if (seen[l]) return hf_key_err(c, key, "a %s appears twice", what);
        double v = 1.0;
        if ((*q >= '0' && *q <= '9') || *q == '.') {
            char *e;
            v = strtod(q, &e);
            q = e;
            if (!(v > 0)) return hf_key_err(c, key, "proportions must be > 0");
        }
        while (*q == ' ') q++;
        if (*q == '-') q++;
        else if (*q) return hf_key_err(c, key, "%ss are separated by '-', e.g. a2-b8", what);
        seen[l] = 1;
        pr[l] = v;
        any = 1;
    }
    if (!any) return hf_key_err(c, key, "empty");
    double sum = 0;
    for (int l = 0; l < 5; l++) sum += pr[l];
    *n = 0;
    for (int l = 0; l < 5; l++)
        if (seen[l]) {
            w[*n] = ldexp(1.0, -l);
            prop[*n] = pr[l] / sum;
            (*n)++;
        }
    return 0;
}

static int parse_floats(const char *s, double *out, int max)
{
    int n = 0;
    const char *q = s;
    while (*q) {
        char *e;
        double v = strtod(q, &e);
        if (e == q) return -1;
        if (n >= max) return -2;
        out[n++] = v;
        q = e;
        while (*q == ' ') q++;
        if (*q == ',') q++;
        else if (*q) return -1;
    }
    return n;
}

/* FjORD widths (ascending in the suite) → widest first, with tier proportions. */
static int parse_fjord(const hf_conf_t *c, int *n, double *w, double *prop)
{
    double v[HF_HET_MAX_LEVELS + 1], t[HF_HET_MAX_LEVELS + 1];
    int nw = parse_floats(hf_conf_get(c, "fjord.widths"), v, HF_HET_MAX_LEVELS);
    if (nw <= 0) return hf_key_err(c, "fjord.widths", "a comma-separated list of 1 to 8 widths in (0,1]");
    for (int i = 0; i < nw; i++) {
        if (!(v[i] > 0 && v[i] <= 1)) return hf_key_err(c, "fjord.widths", "every width must be in (0, 1]");
        if (i && !(v[i] > v[i - 1])) return hf_key_err(c, "fjord.widths", "widths must be strictly ascending");
    }
    const char *ts = hf_conf_get(c, "fjord.tiers");
    int nt = ts && ts[0] ? parse_floats(ts, t, HF_HET_MAX_LEVELS) : 0;
    if (ts && ts[0] && nt != nw)
        return hf_key_err(c, "fjord.tiers", "one proportion (>= 0) per entry of fjord.widths");
    double sum = 0;
    for (int i = 0; i < nw; i++) {
        if (!nt) t[i] = 1.0;
        if (t[i] < 0) return hf_key_err(c, "fjord.tiers", "proportions must be >= 0");
        sum += t[i];
    }
    if (!(sum > 0)) return hf_key_err(c, "fjord.tiers", "proportions must not all be 0");
    *n = nw;
    for (int i = 0; i < nw; i++) {
        w[i] = v[nw - 1 - i];
        prop[i] = t[nw - 1 - i] / sum;
    }
    return 0;
}

int hf_het_energy_check(const hf_conf_t *c, const char *who)
{
    if (strcmp(hf_conf_get(c, "energy.compress"), "none"))
        return hf_key_err(c, "energy.compress", "%s train and upload sub-models themselves: no upload codec", who);
    const char *bs = hf_conf_get(c, "energy.budget_strategy");
    if (strcmp(bs, "exclude") && strcmp(bs, "steps") && strcmp(bs, "width"))
        return hf_key_err(c, "energy.budget_strategy", "%s: exclude, steps or width (their training has no "
                          "data subset or upload codec)", who);
    return 0;
}

int hf_hetero_params_check(const hf_params_t *p, const hf_conf_t *c)
{
    int n;
    double w[HF_HET_MAX_LEVELS], pr[HF_HET_MAX_LEVELS];
    int fjord = !strcmp(p->strategy, hf_strategy_fjord.name);
    int rc = fjord ? parse_fjord(c, &n, w, pr) : hf_het_parse_letters(c, "heterofl.levels", "level", &n, w, pr);
    if (!rc && !p->decentralized && hf_conf_bool(c, "availability.transfer"))
        rc = hf_key_err(c, "availability.transfer", "not available with width sub-models (heterofl, fjord)");
    if (!rc) rc = hf_het_energy_check(c, "heterofl and fjord");
    return rc;
}

/* ---------------------------------------------------------------- setup --- */

/* Exact quotas of proportions over n items by largest remainder (ties: lower index);
 * nl <= HF_HET_MAX_LEVELS.  Shared with feddf.c. */
void hf_het_quotas(int nl, const double *prop, int n, int *cnt)
{
    double rem[HF_HET_MAX_LEVELS];
    int tot = 0;
    for (int l = 0; l < nl; l++) {
        double v = prop[l] * n;
        cnt[l] = (int)floor(v);
        rem[l] = v - cnt[l];
        tot += cnt[l];
    }
    while (tot < n) {
        int b = 0;
        for (int l = 1; l < nl; l++) if (rem[l] > rem[b]) b = l;
        cnt[b]++;
        rem[b] = -1;
        tot++;
    }
}

/* heterofl.scaler: yes, no, or auto = yes only for an architecture with
 * normalisation layers (the authors' Scaler sits in front of one); none of
 * these has one.  No default case: a new architecture must decide. */
static int scaler_on(const char *v, hf_arch_t arch)
{
    if (strcmp(v, "auto")) return !strcmp(v, "yes");
    switch (arch) {
    case HF_ARCH_LOGREG:
    case HF_ARCH_MLP:
    case HF_ARCH_CNN:   /* no normalisation: the factor compounds over the layers */
    case HF_ARCH_LSTM:  /* gates are not ReLUs: not a rescaling at all */
    case HF_ARCH_RESNET:/* group and batch norm cancel it; without a norm it is no rescaling */
        return 0;
    }
    return 0;
}

int hf_hetero_new(hf_hetero_t **out, const hf_params_t *p, const hf_conf_t *c, const hf_model_t *full,
                  int N, int m, const hf_het_data_t *d)
{
    *out = NULL;
    hf_hetero_t *h = hf_calloc(1, sizeof *h);
    h->kind = !strcmp(p->strategy, hf_strategy_fjord.name)    ? HET_FJORD
              : !strcmp(p->strategy, hf_strategy_fedgen.name) ? HET_FEDGEN
                                                              : HET_HETEROFL;
    h->p = p;
    h->full = *full;
    h->d = *d;
    h->N = N;
    h->C = full->cfg.n_classes;
    int rc = h->kind == HET_FJORD ? parse_fjord(c, &h->nlev, h->lw, h->prop)
                                  : hf_het_parse_letters(c, h->kind == HET_FEDGEN ? "fedgen.levels" : "heterofl.levels",
                                                         "level", &h->nlev, h->lw, h->prop);
    if (rc) { free(h); return rc; }
    h->dynamic = h->kind == HET_HETEROFL && !strcmp(hf_conf_get(c, "heterofl.mode"), "dynamic");
    h->dkt_steps = (int)hf_conf_int(c, "dkt.steps");
    h->dkt_lr = hf_conf_float(c, "dkt.lr");
    h->dkt_T = hf_conf_float(c, "dkt.temperature");
    h->scaler = h->kind == HET_HETEROFL && scaler_on(hf_conf_get(c, "heterofl.scaler"), full->cfg.arch);
    if (h->scaler && full->cfg.arch == HF_ARCH_LSTM) {  /* sigmoid and tanh are not positively homogeneous */
        free(h);
        return hf_key_err(c, "heterofl.scaler", "the scaler (hidden weights times 1/width) equals scaling "
                          "the outputs only for ReLU layers, not for the lstm's gates: set heterofl.scaler = no");
    }
    /* resnet: HeteroFL's scaler divides the input of every norm by β; group
     * norm and batch norm (by the batch's statistics in training, by
     * statistics recomputed from the scaled model in evaluation) are
     * invariant to that (up to their eps), so it is skipped; without a
     * norm it is no rescaling of the weights (residual sums mix factors) */
    if (h->scaler && full->cfg.arch == HF_ARCH_RESNET) {
        h->scaler = 0;
        if (full->cfg.norm == HF_NORM_NONE) {
            free(h);
            return hf_key_err(c, "heterofl.scaler", "resnet with model.norm = none has no weight-rescaling "
                              "form of the scaler; set heterofl.scaler = no or model.norm = group");
        }
    }
    h->masked_loss = h->kind == HET_HETEROFL && hf_conf_bool(c, "heterofl.masked_loss");
    h->label_split = h->kind == HET_HETEROFL && hf_conf_bool(c, "heterofl.label_split");
    h->kd = h->kind == HET_FJORD && hf_conf_bool(c, "fjord.kd");
    h->pmax_prob = hf_conf_float(c, "fjord.pmax_prob");
    for (int l = 0; l < h->nlev; l++) {
        hf_model_cfg_t sc;
        rc = hf_slice_cfg(&full->cfg, h->lw[l], &sc);
        if (!rc) rc = hf_model_init(&h->lm[l], &sc);
        if (rc) { hf_hetero_free(h); return rc; }
    }
    /* clients' label sets */
    h->classes = hf_calloc((size_t)N * (size_t)h->C, 1);
    h->allfull = hf_calloc((size_t)N, sizeof(int));
    for (int k = 0; k < N; k++) {
        unsigned char *ck = h->classes + (size_t)k * h->C;
        for (long j = d->off[k]; j < d->off[k + 1]; j++) {
            int y = d->y[d->idx[j]];
            if (y >= 0 && y < h->C) ck[y] = 1;
        }
        int all = 1;
        for (int q = 0; q < h->C; q++) all &= ck[q];
        h->allfull[k] = all;
    }
    /* widest level by device memory cap, when classes in use carry caps */
    h->cap = hf_calloc((size_t)N, sizeof(int));
    h->fixlev = hf_calloc((size_t)N, sizeof(int));
    for (int k = 0; k < N; k++)
        if (p->devs.cls[d->dcls[k]].mem_width < 1.0) h->has_caps = 1;
    for (int k = 0; k < N && h->has_caps; k++) {
        double mw = p->devs.cls[d->dcls[k]].mem_width;
        int l = 0;
        while (l < h->nlev - 1 && h->lw[l] > mw + 1e-12) l++;
        h->cap[k] = l;
    }
    if (h->has_caps) memcpy(h->fixlev, h->cap, (size_t)N * sizeof(int));
    else {
        int cnt[HF_HET_MAX_LEVELS];
        hf_het_quotas(h->nlev, h->prop, N, cnt);
        for (int l = 0, k = 0; l < h->nlev; l++)
            for (int j = 0; j < cnt[l]; j++) h->fixlev[k++] = l;
    }
    h->lev = hf_calloc((size_t)HF_MAX(m, 1), sizeof(int));
    h->fscale = hf_calloc((size_t)HF_MAX(m, 1), sizeof(double));
    h->bscale = hf_calloc((size_t)HF_MAX(m, 1), sizeof(double));
    size_t P = (size_t)full->nparams * sizeof(float);
    h->ws = hf_alloc_aligned(P); h->gs = hf_alloc_aligned(P); h->ms = hf_alloc_aligned(P);
    h->ts = hf_alloc_aligned(P); h->wp = hf_alloc_aligned(P); h->gp = hf_alloc_aligned(P);
    h->mp = hf_alloc_aligned(P); h->ws0 = hf_alloc_aligned(P);
    int B = HF_MAX(p->batch_size, 1);
    h->logits = hf_calloc((size_t)B * (size_t)h->C, sizeof(float));
    h->aug_ids = hf_calloc((size_t)B, sizeof(long));
    h->aug_scratch = hf_calloc((size_t)HF_MAX(d->dim, 1), sizeof(float));
    h->ma = hf_masked_new(full->nparams);
    *out = h;
    return 0;
}

void hf_hetero_free(hf_hetero_t *h)
{
    if (!h) return;
    for (int l = 0; l < HF_HET_MAX_LEVELS; l++) if (h->work[l]) hf_work_free(h->work[l]);
    free(h->classes); free(h->allfull); free(h->cap); free(h->fixlev);
    free(h->lev); free(h->fscale); free(h->bscale);
    free(h->ws); free(h->gs); free(h->ms); free(h->ts); free(h->wp); free(h->gp); free(h->mp);
    free(h->ws0); free(h->logits); free(h->aug_ids); free(h->aug_scratch);
    hf_masked_free(h->ma);
    free(h);
}

static hf_work_t *work_of(hf_hetero_t *h, int l)
{
    if (!h->work[l]) h->work[l] = hf_work_new(&h->lm[l], HF_MAX(h->p->batch_size, HF_EVAL_CHUNK));
    return h->work[l];
}

/* ----------------------------------------------------------------- plan --- */

static double flops_ratio(const hf_hetero_t *h, int l)
{
    return hf_model_train_flops(&h->lm[l]) / hf_model_train_flops(&h->full);
}

/* FjORD: probability that a minibatch of a tier-T client trains level q >= T. */
static double fjord_prob(const hf_hetero_t *h, int T, int q)
{
    int n = h->nlev - T;
    if (q < T) return 0.0;
    if (h->pmax_prob < 0 || n == 1) return 1.0 / n;
    return q == T ? h->pmax_prob : (1.0 - h->pmax_prob) / (n - 1);
}

static int fjord_draw(const hf_hetero_t *h, hf_rng_t *r, int T)
{
    int n = h->nlev - T;
    if (n <= 1) return T;
    if (h->pmax_prob < 0) return T + (int)hf_rng_below(r, (uint64_t)n);
    if (hf_rng_uniform(r) < h->pmax_prob) return T;
    return T + 1 + (int)hf_rng_below(r, (uint64_t)(n - 1));
}

/* Factor on training FLOPs of level l: HeteroFL its sub-model's; FjORD
 * (tier l) the expected FLOPs over the per-minibatch widths. */
static double level_flops(const hf_hetero_t *h, int l)
{
    if (h->kind != HET_FJORD) return flops_ratio(h, l);
    double f = 0.0;
    for (int q = l; q < h->nlev; q++) {
        double pq = fjord_prob(h, l, q);
        f += pq * flops_ratio(h, q);
        if (h->kd && q > l) f += pq * flops_ratio(h, l) * 4.0 / 3.0;  /* teacher fwd + fwd/bwd */
    }
    return f;
}

/* Plan entry i trains level (FjORD: tier) l. */
static void set_level(hf_hetero_t *h, int i, int l)
{
    h->lev[i] = l;
    h->bscale[i] = (double)h->lm[l].nparams / (double)h->full.nparams;
    h->fscale[i] = level_flops(h, l);
}

void hf_hetero_plan(hf_hetero_t *h, int t, const int *sel, int mt)
{
    const hf_params_t *p = h->p;
    h->mt = mt;
    for (int i = 0; i < mt; i++) {
        int k = sel[i], l = h->fixlev[k];
        if (h->dynamic) {  /* redraw from the proportions, restricted to widths the device holds */
            hf_rng_t r;
            hf_rng_init(&r, p->seed, HF_RNG_WIDTH, (uint64_t)t, (uint64_t)k);
            double tot = 0.0;
            for (int q = h->cap[k]; q < h->nlev; q++) tot += h->prop[q];
            double u = hf_rng_uniform(&r) * tot, acc = 0.0;
            l = h->nlev - 1;
            for (int q = h->cap[k]; q < h->nlev; q++) {
                acc += h->prop[q];
                if (u < acc) { l = q; break; }
            }
        }
        set_level(h, i, l);
    }
}

/* Energy budgets (energy.budget_strategy = width): the levels narrower than
 * entry i's, widest first, with their FLOPs factors and bytes. */
int hf_hetero_narrower(const hf_hetero_t *h, int i, double *fscale, uint64_t *bytes)
{
    int n = 0;
    for (int l = h->lev[i] + 1; l < h->nlev; l++, n++) {
        fscale[n] = level_flops(h, l);
        bytes[n] = (uint64_t)h->lm[l].nparams * sizeof(float);
    }
    return n;
}

void hf_hetero_narrow(hf_hetero_t *h, int i, int j) { set_level(h, i, h->lev[i] + 1 + j); }

const double *hf_hetero_flops_scale(const hf_hetero_t *h) { return h->fscale; }
const double *hf_hetero_bytes_scale(const hf_hetero_t *h) { return h->bscale; }
double hf_hetero_width(const hf_hetero_t *h, int i) { return h->lw[h->lev[i]]; }
uint64_t hf_hetero_bytes(const hf_hetero_t *h, int i)
{
    return (uint64_t)h->lm[h->lev[i]].nparams * sizeof(float);
}

/* ------------------------------------------------------------- training --- */

void hf_het_augment(const hf_params_t *p, const hf_het_data_t *d, int t, int k, const long *idx,
                    const int *perm, int B, float *xb, long *ids, float *scratch)
{
    if (!p->augment) return;
    for (int i = 0; i < B; i++) ids[i] = idx[perm[i]];
    hf_augment_crop_flip(xb, B, d->c, d->h, d->w, 4, p->seed, t, k, ids, scratch);
}

hf_het_local_t hf_hetero_train(hf_hetero_t *h, int i, int k, int t, const float *global,
                               const hf_cplan_t *cp, float *delta, float *xb, int *yb, int *iperm,
                               double *t_kernel)
{
    const hf_params_t *p = h->p;
    hf_het_local_t res = {0};
    const hf_het_data_t *d = &h->d;
    long nk = d->off[k + 1] - d->off[k];
    const long *idx = d->idx + d->off[k];
    int L = h->lev[i];
    const hf_model_t *mL = &h->lm[L];
    long PL = mL->nparams;
    hf_slice_extract(&h->full, global, mL, h->ws);
    memcpy(h->ws0, h->ws, (size_t)PL * sizeof(float));
    if (p->momentum > 0) memset(h->ms, 0, (size_t)PL * sizeof(float));
    hf_sgd_t opt = {p->lr, p->momentum, p->weight_decay, p->clip};
    const unsigned char *cls = h->classes + (size_t)k * h->C;
    float f = h->scaler && h->lw[L] < 1.0 ? (float)(1.0 / h->lw[L]) : 1.0f;
    int mask = h->masked_loss && !h->allfull[k];
    hf_rng_t r, rw;
    hf_rng_init(&r, p->seed, HF_RNG_SHUFFLE, (uint64_t)t, (uint64_t)k);  /* as the engine's client training (client.c) */
    hf_rng_init(&rw, p->seed, HF_RNG_WIDTH, (uint64_t)t, FJORD_DRAW_BASE + (uint64_t)k);
    double loss_sum = 0.0;
    long seen = 0;
    int dim = d->dim;
    double fl_full = hf_model_train_flops(&h->full);
    for (int e = 0; e < cp->epochs && nk > 0; e++) {
        hf_rng_permutation(&r, (int)nk, iperm);
        for (long b0 = 0; b0 < nk && res.steps < cp->steps; b0 += p->batch_size) {
            int B = (int)HF_MIN((long)p->batch_size, nk - b0);
            hf_gather_rows(d->x, d->y, dim, idx, iperm + b0, B, xb, yb);
            hf_het_augment(p, d, t, k, idx, iperm + b0, B, xb, h->aug_ids, h->aug_scratch);
            double tk = hf_wtime();
            float l;
            int q = h->kind == HET_FJORD ? fjord_draw(h, &rw, L) : L;
            if (q == L && f == 1.0f && !mask && h->grad_fn) {  /* gradient, strategy term, step (client.c) */
                l = hf_model_train_step_grad(mL, work_of(h, L), h->ws, h->gs, xb, yb, B);
                h->grad_fn(h->grad_ctx, mL, k, h->ws, h->gs);
                hf_sgd_step(&opt, PL, h->ws, h->gs, h->ms);
                res.flops += hf_model_train_flops(mL) * B;
            } else if (q == L && f == 1.0f && !mask) {  /* the plain step: the engine's training arithmetic (client.c) */
                l = hf_model_train_step(mL, work_of(h, L), &opt, h->ws, h->gs, h->ms, xb, yb, B);
                res.flops += hf_model_train_flops(mL) * B;
            } else if (h->kind == HET_HETEROFL) {  /* scaler and/or masked loss */
                memcpy(h->ts, h->ws, (size_t)PL * sizeof(float));
                if (f != 1.0f) hf_slice_scale_hidden(mL, f, h->ts);
                if (mask) hf_slice_zero_classes(mL, cls, h->ts);
                l = hf_model_train_step_grad(mL, work_of(h, L), h->ts, h->gs, xb, yb, B);
                if (f != 1.0f) hf_slice_scale_hidden(mL, f, h->gs);
                if (mask) hf_slice_zero_classes(mL, cls, h->gs);
                hf_sgd_step(&opt, PL, h->ws, h->gs, h->ms);
                res.flops += hf_model_train_flops(mL) * B;
            } else if (!h->kd) {  /* FjORD: train the p-subnet of the p_max model */
                const hf_model_t *mq = &h->lm[q];
                hf_slice_extract(mL, h->ws, mq, h->wp);
                if (p->momentum > 0) hf_slice_extract(mL, h->ms, mq, h->mp);
                l = hf_model_train_step(mq, work_of(h, q), &opt, h->wp, h->gp, h->mp, xb, yb, B);
                hf_slice_scatter(mL, h->ws, mq, h->wp);
                if (p->momentum > 0) hf_slice_scatter(mL, h->ms, mq, h->mp);
                res.flops += hf_model_train_flops(mq) * B;
            } else {  /* FjORD + KD: CE(f_pmax, y) + CE(f_p, softmax(f_pmax)), one step on both */
                const hf_model_t *mq = &h->lm[q];
                long Pq = mq->nparams;
                hf_model_forward(mL, work_of(h, L), h->ws, xb, NULL, B, h->logits, NULL);
                l = hf_model_train_step_grad(mL, work_of(h, L), h->ws, h->gs, xb, yb, B);
                hf_slice_extract(mL, h->ws, mq, h->wp);
                hf_model_train_step_soft(mq, work_of(h, q), h->wp, h->gp, xb, h->logits, 1.0f, B);
                hf_slice_extract(mL, h->gs, mq, h->ts);
                for (long j = 0; j < Pq; j++) h->ts[j] += h->gp[j];
                hf_slice_scatter(mL, h->gs, mq, h->ts);
                hf_sgd_step(&opt, PL, h->ws, h->gs, h->ms);
                res.flops += (hf_model_train_flops(mL) * 4.0 / 3.0 + hf_model_train_flops(mq)) * B;
            }
            *t_kernel += hf_wtime() - tk;
            loss_sum += (double)l * B;
            seen += B;
            res.steps++;
            res.samples += B;
        }
    }
    (void)fl_full;
    res.loss = seen ? loss_sum / (double)seen : NAN;
    /* narrow update, scattered into a full-size zero buffer */
    for (long j = 0; j < PL; j++) h->ts[j] = h->ws[j] - h->ws0[j];
    if (h->label_split && !h->allfull[k]) hf_slice_zero_classes(mL, cls, h->ts);
    memset(delta, 0, (size_t)h->full.nparams * sizeof(float));
    hf_slice_scatter(&h->full, delta, mL, h->ts);
    return res;
}

/* ---------------------------------------------------------- aggregation --- */

void hf_hetero_aggregate(hf_hetero_t *h, hf_agg_t *agg, const hf_plan_t *plan, int have, float *x,
                         int add)
{
    if (!have) return;
    hf_masked_begin(h->ma);
    for (int i = 0; i < plan->m; i++) {
        const hf_cplan_t *c = &plan->c[i];
        if (!c->kept || c->weight == 0.0) continue;
        const unsigned char *cls = h->label_split ? h->classes + (size_t)c->client * h->C : NULL;
        hf_masked_cover(h->ma, &h->full, &h->lm[h->lev[i]], c->weight, cls);
    }
    hf_masked_emit(h->ma, agg, x, add);
}

/* ------------------------------------------------------------ evaluation --- */

int hf_hetero_eval_widths(hf_hetero_t *h, const float *global, const float *tx, const int *ty,
                          long n, int dim, int round, MPI_Comm comm, hid_t f)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int64_t *loc = hf_calloc((size_t)2 * h->nlev, sizeof(int64_t)), *tot = hf_calloc((size_t)2 * h->nlev, sizeof(int64_t));
    for (int l = 0; l < h->nlev; l++) {
        hf_slice_extract(&h->full, global, &h->lm[l], h->wp);
        hf_model_norm_stats(&h->lm[l], work_of(h, l), h->wp, h->d.norm_x, h->d.norm_n, h->p->batch_size);
        hf_eval_share(&h->lm[l], work_of(h, l), h->wp, tx, ty, n, dim, rank, size, loc + 2 * l, NULL);
    }
    MPI_Allreduce(loc, tot, 2 * h->nlev, MPI_INT64_T, MPI_SUM, comm);
    int rc = 0;
    if (rank == 0 && f >= 0) {
        double acc[HF_HET_MAX_LEVELS], loss[HF_HET_MAX_LEVELS];
        for (int l = 0; l < h->nlev; l++) hf_eval_figures(tot + 2 * l, n, &acc[l], &loss[l]);
        rc = hf_h5out_width_rows(f, round, h->nlev, h->lw, acc, loss);
    }
    free(loc);
    free(tot);
    return rc;
}

/* ------------------------------------------------------ accessors (dkt.c) - */

void hf_hetero_set_grad(hf_hetero_t *h, hf_het_grad_fn fn, void *ctx)
{
    h->grad_fn = fn;
    h->grad_ctx = ctx;
}
const float *hf_hetero_trained(const hf_hetero_t *h) { return h->ws; }
int hf_hetero_level(const hf_hetero_t *h, int i) { return h->lev[i]; }
int hf_hetero_nlevels(const hf_hetero_t *h) { return h->nlev; }
double hf_hetero_level_width(const hf_hetero_t *h, int l) { return h->lw[l]; }
const hf_model_t *hf_hetero_level_model(const hf_hetero_t *h, int l) { return &h->lm[l]; }
const hf_model_t *hf_hetero_full(const hf_hetero_t *h) { return &h->full; }
const hf_het_data_t *hf_hetero_data(const hf_hetero_t *h) { return &h->d; }
void hf_hetero_dkt_params(const hf_hetero_t *h, int *steps, double *lr, double *T, uint64_t *seed, int *B)
{
    *seed = h->p->seed;
    *B = h->p->batch_size;
    *steps = h->dkt_steps;
    *lr = h->dkt_lr > 0 ? h->dkt_lr : (double)h->p->lr;
    *T = h->dkt_T;
}
int hf_hetero_write_width_rows(hf_hetero_t *h, hid_t f, int round, const double *acc, const double *loss)
{
    return hf_h5out_width_rows(f, round, h->nlev, h->lw, acc, loss);
}

/* ------------------------------------------ strategy hooks (heterofl, fjord) */

int hf_het_new_run(hf_strat_t *s, hf_run_t *x, hf_hetero_t **h)
{
    hf_het_data_t hd = {x->train.x, x->train.y, x->train.dim, x->part.off, x->part.idx, x->dcls, x->norm_x,
                        x->norm_n, x->train.c, x->train.h, x->train.w};
    return hf_hetero_new(h, s->p, x->o->conf, &x->model, s->nclients, x->m, &hd);
}

int hf_het_init(hf_strat_t *s, hf_run_t *x)
{
    hf_hetero_t *h = NULL;
    int rc = hf_het_new_run(s, x, &h);
    s->state = h;
    return rc;
}

void hf_het_free(hf_strat_t *s) { hf_hetero_free(s->state); }
void hf_het_plan(hf_strat_t *s, int t, const int *sel, int m) { hf_hetero_plan(s->state, t, sel, m); }
const double *hf_het_flops_scale(const hf_strat_t *s) { return hf_hetero_flops_scale(s->state); }
const double *hf_het_bytes_scale(const hf_strat_t *s) { return hf_hetero_bytes_scale(s->state); }
double hf_het_width(const hf_strat_t *s, int i) { return hf_hetero_width(s->state, i); }
uint64_t hf_het_model_bytes(const hf_strat_t *s, int i) { return hf_hetero_bytes(s->state, i); }
int hf_het_narrower(const hf_strat_t *s, int i, double *fscale, uint64_t *bytes)
{
    return hf_hetero_narrower(s->state, i, fscale, bytes);
}
void hf_het_narrow(hf_strat_t *s, int i, int j) { hf_hetero_narrow(s->state, i, j); }

/* Its width's sub-model from the global model; the update (zero outside the
 * slice) goes to the round's aggregator. */
hf_local_t hf_het_train(hf_strat_t *s, int i, int k, int t, const hf_cplan_t *cp)
{
    return hf_het_train_with(s->state, s->run, i, k, t, cp);
}

hf_local_t hf_het_train_with(hf_hetero_t *h, hf_run_t *x, int i, int k, int t, const hf_cplan_t *cp)
{
    double th = hf_wtime();
    hf_het_local_t hl = hf_hetero_train(h, i, k, t, x->global, cp, x->delta, x->xb, x->yb, x->iperm,
                                        &x->t_kernel);
    hf_local_t lr = {.loss = hl.loss, .steps = hl.steps, .samples = hl.samples, .measured = hf_wtime() - th};
    const hf_eplan_t *ep = &x->eplan[i];
    if (ep->client == k)  /* energy.budget_strategy = steps: Δ·steps_full/steps (no codec: refused) */
        hf_energy_apply(x->en, ep, t, x->delta, x->model.nparams);
    hf_agg_add(x->agg, cp->weight, x->delta);
    return lr;
}

/* Masked aggregation x_j += S_j / coverage_j, or through the server optimizer. */
int hf_het_aggregate(hf_strat_t *s, int t, int have)
{
    (void)t;
    hf_run_t *x = s->run;
    int plain = x->sopt.kind == HF_SOPT_NONE && x->sopt.lr == 1.0f;
    hf_hetero_aggregate(s->state, x->agg, &x->plan, have, plain ? x->global : x->delta, plain);
    if (!plain && have && x->plan.kept > 0) hf_server_opt_apply(&x->sopt, x->global, x->delta);
    return 0;
}

/* Accuracy of the global model at every width: /rounds_by_width. */
int hf_het_evaluate(hf_strat_t *s, int round)
{
    hf_run_t *x = s->run;
    return hf_hetero_eval_widths(s->state, x->global, x->test.x, x->test.y, x->test.n, x->test.dim, round,
                                 x->comm, x->rank == 0 ? hf_h5out_file(x->h5) : -1);
}
