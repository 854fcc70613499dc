/*
 * fedgen.c — FedGen (Zhu, Hong, Zhou, ICML 2021, "Data-Free Knowledge
 * Distillation for Heterogeneous Federated Learning").  The global model is
 * FedAvg's (weights n_k, the engine's training and aggregation); besides it
 * the server learns a generator G(z, y) → the feature space of the classifier
 * head, and clients regularise their local training with its samples.
 *
 * The head is the model's last dense layer (its last two tensors, nn.h): for
 * the MLP the output layer on the last hidden layer's ReLU units, for the CNN
 * the output layer on the ReLU units of its fully connected layer, for the
 * ResNet the linear layer on the pooled channels of the last stage, for the
 * LSTM the fc layer on the top layer's hidden state at the last time step (a
 * next-character head: G learns, per character y, states the head maps to y;
 * real states lie in (−1, 1), G's output is not bounded, as for the other
 * models' ReLU features).  A feature is the input of that layer (F = its
 * in-width); a width sub-model keeps the leading inputs of the layer on every
 * model (slice.h), so the narrow-head rule below holds for all four.
 *
 * Each round:
 *  - client (grad_hook, every minibatch, from the second round on, when
 *    fedgen.alpha > 0): n = fedgen.gen_batch labels y ~ p̂ (the label
 *    distribution the server last learned) and z ~ N(0, I_Z); the head's loss
 *    α_t · (1/n) Σ_b CE(head(G(z_b, y_b)), y_b), α_t = fedgen.alpha ·
 *    fedgen.alpha_decay^t, adds its gradient to the head's parameters;
 *  - upload: the model update as FedAvg, plus the client's label counts
 *    (C int32: what the clients reveal beyond FedAvg, docs/results.md);
 *  - server (aggregate): FedAvg's aggregate, then fedgen.gen_steps Adam steps
 *    (fedgen.gen_lr) on G with batches of fedgen.gen_batch labels drawn
 *    uniformly among those the round's kept clients hold, the loss of
 *    hf_fedgen_gen_loss: the kept clients' heads (after local training)
 *    weighted per label by their label counts n_{u,y} / Σ_u' n_{u',y}, plus
 *    fedgen.eta times the diversity term; p̂ ← the kept clients' summed label
 *    counts, normalised; G and p̂ go down to the next round's clients.
 *
 * Where this differs from the authors' code, and why:
 *  - the authors' generator has a BatchNorm layer after its hidden layer; it
 *    is left out (a ReLU MLP), so a sample's features do not depend on the
 *    batch it is drawn in;
 *  - clients draw the generated labels from p̂ (the paper's E_{y~p̂(y)}); the
 *    code draws them from the client's own labels;
 *  - the code's second client term (β · KL of the head on a real sample's
 *    label's generated feature) and the ratio gen_batch/batch on the α term
 *    are not used: α alone weights the regulariser;
 *  - the generator's learning rate does not decay (the code: ×0.98 a round).
 *
 * Mixed widths (fedgen.levels beyond a, e.g. a1-c1): clients train
 * HeteroFL-style width sub-models (hetero.c: levels fixed by client index or
 * by the device class's memory cap; n_k-weighted masked averaging of every
 * coordinate over the clients holding it; no scaler, masked loss or label
 * split, so fedgen.levels = a is FedAvg's aggregation).  G keeps generating
 * features of the full head's width F; a width-β client's head is the first
 * ⌈βF⌉ columns of the full head (slice.h keeps a layer's leading inputs), so
 * its regulariser reads the first ⌈βF⌉ generated features, and on the server
 * its head counts as the full head with zeros in the columns it does not hold
 * (the generator's loss through it reads exactly those features).  Every
 * client of such a run trains through hetero.c (the width-1 arithmetic is the
 * engine's: gradient, regulariser, step); /rounds_by_width reports each width.
 * The clock scales a narrow client's side bytes (G, p̂, label counts) with its
 * model's bytes factor; /participation and /rounds count them exactly.
 *
 * Determinism: every draw is keyed — clients' (seed, HF_RNG_FEDGEN, round,
 * (1 + client) << 32 | local step), the server's (seed, HF_RNG_FEDGEN, round,
 * 0), G's initialisation (seed, HF_RNG_FEDGEN, 2^32, 0); heads are gathered
 * to rank 0 in client order and G is trained there in one single-threaded
 * sequence, then broadcast.  State checkpointed: G, its Adam moments and step
 * count, p̂, whether G was trained.  With fedgen.alpha = 0 the model is
 * FedAvg's bit for bit (tests/fedgen.sh).
 */
#include "fedgen.h"
#include "strategy.h"
#include "hetero.h"
#include "h5out.h"
#include "agg.h"
#include "checkpoint.h"
#include "hf_util.h"
#include "rng.h"
#include "run.h"
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ arithmetic --- */

long hf_fedgen_nparams(const hf_fedgen_dims_t *d)
{
    return (long)d->H * (d->Z + d->C) + d->H + (long)d->F * d->H + d->F;
}

void hf_fedgen_forward(const hf_fedgen_dims_t *d, const float *gen, int n, const float *z, const int *y,
                       float *h1, float *g)
{
    int A = d->Z + d->C;
    const float *W1 = gen, *b1 = W1 + (long)d->H * A, *W2 = b1 + d->H, *b2 = W2 + (long)d->F * d->H;
    float hs[d->H];
    for (int b = 0; b < n; b++) {
        float *h = h1 ? h1 + (long)b * d->H : hs;
        for (int j = 0; j < d->H; j++) {  /* onehot(y) selects one column */
            double a = (double)b1[j] + (double)W1[(long)j * A + d->Z + y[b]];
            for (int q = 0; q < d->Z; q++) a += (double)W1[(long)j * A + q] * z[(long)b * d->Z + q];
            h[j] = a > 0 ? (float)a : 0.0f;
        }
        for (int f = 0; f < d->F; f++) {
            double a = b2[f];
            for (int j = 0; j < d->H; j++) a += (double)W2[(long)f * d->H + j] * h[j];
            g[(long)b * d->F + f] = (float)a;
        }
    }
}

double hf_fedgen_head_ce(int C, int F, const float *head, int n, const float *g, const int *y, const double *wb,
                         float *ghead, float *dg)
{
    const float *W = head, *bias = head + (long)C * F;
    double sum = 0.0, zc[C];
    for (int b = 0; b < n; b++) {
        const float *gb = g + (long)b * F;
        double zmax = -INFINITY, s = 0.0;
        for (int c = 0; c < C; c++) {
            double a = bias[c];
            for (int f = 0; f < F; f++) a += (double)W[(long)c * F + f] * gb[f];
            zc[c] = a;
            zmax = fmax(zmax, a);
        }
        for (int c = 0; c < C; c++) s += exp(zc[c] - zmax);
        sum += wb[b] * (zmax + log(s) - zc[y[b]]);
        for (int c = 0; c < C; c++) {
            double e = wb[b] * (exp(zc[c] - zmax) / s - (c == y[b]));  /* w · (softmax − onehot) */
            if (ghead) {
                for (int f = 0; f < F; f++) ghead[(long)c * F + f] += (float)(e * gb[f]);
                ghead[(long)C * F + c] += (float)e;
            }
            if (dg)
                for (int f = 0; f < F; f++) dg[(long)b * F + f] += (float)(e * W[(long)c * F + f]);
        }
    }
    return sum;
}

/* eta · L_div and its gradient added to dg (n, F). */
static double diversity(const hf_fedgen_dims_t *d, int n, const float *z, const float *g, double eta, float *dg)
{
    double s = 0.0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double nd = 0.0, ld = 0.0;
            for (int q = 0; q < d->Z; q++) {
                double e = (double)z[(long)i * d->Z + q] - z[(long)j * d->Z + q];
                nd += e * e;
            }
            for (int f = 0; f < d->F; f++) ld += fabs((double)g[(long)i * d->F + f] - g[(long)j * d->F + f]);
            s += nd / d->Z * ld / d->F;
        }
    double L = exp(-s / ((double)n * n));
    /* ∂L/∂g_if = −L/n² · Σ_j 2 nd_ij/Z · sign(g_if − g_jf)/F  (pairs (i,j) and (j,i)) */
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            if (i == j) continue;
            double nd = 0.0;
            for (int q = 0; q < d->Z; q++) {
                double e = (double)z[(long)i * d->Z + q] - z[(long)j * d->Z + q];
                nd += e * e;
            }
            double c = -eta * L / ((double)n * n) * 2.0 * nd / d->Z / d->F;
            for (int f = 0; f < d->F; f++) {
                double e = (double)g[(long)i * d->F + f] - g[(long)j * d->F + f];
                dg[(long)i * d->F + f] += (float)(c * ((e > 0) - (e < 0)));
            }
        }
    return eta * L;
}

/* grad = ∂/∂gen of Σ_b dg_b · G(z_b, y_b), given the forward's h1. */
static void gen_backward(const hf_fedgen_dims_t *d, const float *gen, int n, const float *z, const int *y,
                         const float *h1, const float *dg, float *grad)
{
    int A = d->Z + d->C;
    long o_b1 = (long)d->H * A, o_W2 = o_b1 + d->H, o_b2 = o_W2 + (long)d->F * d->H;
    const float *W2 = gen + o_W2;
    memset(grad, 0, (size_t)hf_fedgen_nparams(d) * sizeof(float));
    float dh[d->H];
    for (int b = 0; b < n; b++) {
        const float *h = h1 + (long)b * d->H, *e = dg + (long)b * d->F;
        for (int j = 0; j < d->H; j++) dh[j] = 0.0f;
        for (int f = 0; f < d->F; f++) {
            grad[o_b2 + f] += e[f];
            for (int j = 0; j < d->H; j++) {
                grad[o_W2 + (long)f * d->H + j] += e[f] * h[j];
                dh[j] += e[f] * W2[(long)f * d->H + j];
            }
        }
        for (int j = 0; j < d->H; j++) {
            if (h[j] <= 0.0f) continue;  /* ReLU */
            grad[o_b1 + j] += dh[j];
            grad[(long)j * A + d->Z + y[b]] += dh[j];
            for (int q = 0; q < d->Z; q++) grad[(long)j * A + q] += dh[j] * z[(long)b * d->Z + q];
        }
    }
}

double hf_fedgen_gen_loss(const hf_fedgen_dims_t *d, const float *gen, int n, const float *z, const int *y, int U,
                          const float *heads, const double *w, double eta, float *grad, float *scratch)
{
    float *h1 = scratch, *g = h1 + (long)n * d->H, *dg = g + (long)n * d->F;
    hf_fedgen_forward(d, gen, n, z, y, h1, g);
    memset(dg, 0, (size_t)n * d->F * sizeof(float));
    long HS = (long)d->C * d->F + d->C;
    double L = 0.0, wb[n];
    for (int u = 0; u < U; u++) {
        for (int b = 0; b < n; b++) wb[b] = w[(long)u * d->C + y[b]] / n;
        L += hf_fedgen_head_ce(d->C, d->F, heads + u * HS, n, g, y, wb, NULL, dg);
    }
    if (eta > 0) L += diversity(d, n, z, g, eta, dg);
    gen_backward(d, gen, n, z, y, h1, dg, grad);
    return L;
}

/* -------------------------------------------------------------- strategy --- */

typedef struct {
    hf_fedgen_dims_t d;
    long PG, HS;             /* generator parameters, head floats (C·F + C) */
    float *gen, *am, *av;    /* G and its Adam moments (every rank alike; trained on rank 0) */
    double adam_steps;       /* Adam steps so far (bias correction) */
    double *prior;           /* p̂(y), C */
    int32_t have_gen;        /* G trained at least once */
    int32_t *counts;         /* label counts n_{k,y}, N × C (every rank, from the partition) */
    float *heads;            /* this rank's kept clients' heads after local training, plan order */
    int nheads, t, hook_k, hook_t;
    long hook_step;
    double *fscale;          /* per plan entry: training FLOPs with the regulariser / without */
    float *gz, *gg;          /* a client step's noise (n, Z) and features (n, F) */
    int *gy;
    double alpha, decay, eta, lr, alpha_t;  /* alpha_t: this round's regulariser weight */
    int gen_batch, gen_steps;
    hf_hetero_t *het;        /* fedgen.levels beyond a: the width sub-models (hetero.c); else NULL */
} fedgen_t;

static const hf_opt_t keys[] = {
    {"fedgen.alpha", HF_OPT_FLOAT, "10", 0, 1e6, NULL,
     "fedgen: weight of the clients' regulariser, the head's cross-entropy on generated features "
     "(authors: 10); 0 = FedAvg's model (label counts still uploaded, G still trained)"},
    {"fedgen.alpha_decay", HF_OPT_FLOAT, "0.98", 0, 1, NULL,
     "fedgen: the regulariser's weight in round t is alpha * alpha_decay^t (authors: 0.98)"},
    {"fedgen.gen_batch", HF_OPT_INT, "32", 1, 4096, NULL,
     "fedgen: generated samples per client minibatch and per generator step (authors: 32)"},
    {"fedgen.gen_steps", HF_OPT_INT, "50", 0, 100000, NULL,
     "fedgen: server Adam steps on the generator per round (authors: 50)"},
    {"fedgen.gen_lr", HF_OPT_FLOAT, "1e-4", 0, 10, NULL,
     "fedgen: the generator's Adam learning rate (beta 0.9, 0.999, eps 1e-8; authors: 1e-4)"},
    {"fedgen.eta", HF_OPT_FLOAT, "1", 0, 1e6, NULL,
     "fedgen: weight of the generator's diversity term exp(-mean noise distance x feature distance) "
     "(authors: 1; 0 = none)"},
    {"fedgen.noise_dim", HF_OPT_INT, "32", 1, 4096, NULL, "fedgen: the generator's noise width Z (authors: 32)"},
    {"fedgen.hidden", HF_OPT_INT, "256", 1, 65536, NULL, "fedgen: the generator's hidden units (authors: 256)"},
    {"fedgen.levels", HF_OPT_STRING, "a", HF_OPT_NORANGE, NULL,
     "fedgen: client widths as HeteroFL's levels a..e = 1, 1/2, 1/4, 1/8, 1/16 with proportions (a1-c1: "
     "half width 1, half 1/4; by client index, or the widest level a device class's mem_width allows); "
     "n_k-weighted masked averaging; a narrow client's head reads the first width x F generated features"},
    {0},
};

/* fedgen.levels beyond a: whether *narrow (some level below width 1 or more than one level). */
static int parse_levels(const hf_conf_t *c, int *narrow)
{
    int n;
    double w[HF_HET_MAX_LEVELS], pr[HF_HET_MAX_LEVELS];
    int rc = hf_het_parse_letters(c, "fedgen.levels", "level", &n, w, pr);
    *narrow = !rc && (n > 1 || w[0] < 1.0);
    return rc;
}

static int check_fedgen(const hf_params_t *p, const hf_conf_t *c)
{
    if (strcmp(p->server_opt, "none"))
        return hf_key_err(c, "server.optimizer", "fedgen applies FedAvg's aggregate itself: use none");
    int narrow, rc = parse_levels(c, &narrow);
    if (rc || !narrow) return rc;
    const char *why = "fedgen with narrow levels trains and uploads sub-models itself";
    if (strcmp(hf_conf_get(c, "energy.compress"), "none"))
        return hf_key_err(c, "energy.compress", "%s: no upload codec", why);
    const char *bs = hf_conf_get(c, "energy.budget_strategy");
    if (strcmp(bs, "exclude") && strcmp(bs, "steps"))
        return hf_key_err(c, "energy.budget_strategy", "%s: exclude or steps", why);
    if (hf_conf_bool(c, "availability.transfer"))
        return hf_key_err(c, "availability.transfer", "%s: no data transfer", why);
    if (!strcmp(hf_conf_get(c, "privacy.attack"), "update"))
        return hf_key_err(c, "privacy.attack", "%s: the uplink observer sees full models only", why);
    if (!strcmp(hf_conf_get(c, "privacy.attribute_attack"), "update"))
        return hf_key_err(c, "privacy.attribute_attack", "%s: the uplink observer sees full models only", why);
    return 0;
}

static const hf_strategy_t fedgen_widths;

/* G's initialisation: PyTorch's default, U(±1/sqrt(fan_in)) for weights and biases. */
static void gen_init(fedgen_t *g, uint64_t seed)
{
    hf_rng_t r;
    hf_rng_init(&r, seed, HF_RNG_FEDGEN, 1ull << 32, 0);
    int A = g->d.Z + g->d.C;
    long n1 = (long)g->d.H * A + g->d.H;
    for (long j = 0; j < g->PG; j++) {
        double bound = 1.0 / sqrt(j < n1 ? (double)A : (double)g->d.H);
        g->gen[j] = (float)(bound * (2.0 * hf_rng_uniform(&r) - 1.0));
    }
}

static int init_fedgen(hf_strat_t *s, hf_run_t *x)
{
    fedgen_t *g = hf_calloc(1, sizeof *g);
    s->state = g;
    const hf_model_t *m = &x->model;
    const hf_tensor_t *W = &m->tensors[m->ntensors - 2];
    const hf_conf_t *c = s->conf;
    g->d = (hf_fedgen_dims_t){.C = W->shape[0], .F = W->shape[1], .Z = (int)hf_conf_int(c, "fedgen.noise_dim"),
                              .H = (int)hf_conf_int(c, "fedgen.hidden")};
    g->HS = (long)g->d.C * g->d.F + g->d.C;
    g->PG = hf_fedgen_nparams(&g->d);
    g->alpha = hf_conf_float(c, "fedgen.alpha");
    g->decay = hf_conf_float(c, "fedgen.alpha_decay");
    g->eta = hf_conf_float(c, "fedgen.eta");
    g->lr = hf_conf_float(c, "fedgen.gen_lr");
    g->gen_batch = (int)hf_conf_int(c, "fedgen.gen_batch");
    g->gen_steps = (int)hf_conf_int(c, "fedgen.gen_steps");
    g->gen = hf_alloc_aligned((size_t)g->PG * sizeof(float));
    g->am = hf_calloc((size_t)g->PG, sizeof(float));
    g->av = hf_calloc((size_t)g->PG, sizeof(float));
    g->prior = hf_calloc((size_t)g->d.C, sizeof(double));
    gen_init(g, s->p->seed);
    int C = g->d.C;
    g->counts = hf_calloc((size_t)s->nclients * C, sizeof(int32_t));
    for (int k = 0; k < s->nclients; k++)
        for (long j = x->part.off[k]; j < x->part.off[k + 1]; j++) {
            int y = x->train.y[x->part.idx[j]];
            if (y >= 0 && y < C) g->counts[(long)k * C + y]++;
        }
    g->heads = hf_calloc((size_t)HF_MAX(x->m, 1) * g->HS, sizeof(float));
    g->gz = hf_calloc((size_t)g->gen_batch * g->d.Z, sizeof(float));
    g->gg = hf_calloc((size_t)g->gen_batch * g->d.F, sizeof(float));
    g->gy = hf_calloc((size_t)g->gen_batch, sizeof(int));
    g->hook_k = -1;
    g->fscale = hf_calloc((size_t)HF_MAX(s->nclients, 1), sizeof(double));
    s->grad_active = 0;  /* on from the round after G's first training (plan) */
    s->side_up = (uint64_t)C * sizeof(int32_t);  /* label counts */
    int narrow, rc = parse_levels(c, &narrow);
    if (!rc && narrow) {  /* the same strategy with the width hooks (hetero.c) */
        rc = hf_het_new_run(s, x, &g->het);
        s->st = &fedgen_widths;
    }
    return rc;
}

static void free_fedgen(hf_strat_t *s)
{
    fedgen_t *g = s->state;
    if (!g) return;
    free(g->gen); free(g->am); free(g->av); free(g->prior); free(g->counts);
    free(g->heads); free(g->fscale); free(g->gz); free(g->gg); free(g->gy);
    hf_hetero_free(g->het);
    free(g);
}

static uint64_t bytes_fedgen(const hf_strat_t *s)
{
    const fedgen_t *g = s->state;
    return (uint64_t)(3 * g->PG) * sizeof(float) + (uint64_t)g->d.C * sizeof(double);
}

static void ckpt_fedgen(hf_strat_t *s)
{
    fedgen_t *g = s->state;
    hf_ckpt_register("fedgen_gen", g->gen, (size_t)g->PG * sizeof(float));
    hf_ckpt_register("fedgen_adam_m", g->am, (size_t)g->PG * sizeof(float));
    hf_ckpt_register("fedgen_adam_v", g->av, (size_t)g->PG * sizeof(float));
    hf_ckpt_register("fedgen_adam_steps", &g->adam_steps, sizeof g->adam_steps);
    hf_ckpt_register("fedgen_prior", g->prior, (size_t)g->d.C * sizeof(double));
    hf_ckpt_register("fedgen_have_gen", &g->have_gen, sizeof g->have_gen);
}

static void grad_sub(void *ctx, const hf_model_t *m, int k, const float *w, float *grad);

/* The round: regularise once G exists; clients then download G and p̂. */
static void plan_fedgen(hf_strat_t *s, int t, const int *sel, int m)
{
    fedgen_t *g = s->state;
    g->t = t;
    g->alpha_t = g->alpha * pow(g->decay, t);
    int on = g->alpha_t > 0 && g->have_gen;
    s->grad_active = on;
    s->side_down = on ? (uint64_t)g->PG * sizeof(float) + (uint64_t)g->d.C * sizeof(float) : 0;
    if (g->het) {
        hf_hetero_plan(g->het, t, sel, m);
        hf_hetero_set_grad(g->het, on ? grad_sub : NULL, s);  /* off: the fused step, as the engine's */
    }
    /* a step's extra FLOPs: G's forward and the head's forward and backward on
     * gen_batch samples (the head's width Fh), over the B samples' training
     * FLOPs of the full model (a last, smaller batch is charged at the full
     * batch's ratio); added to the sub-model's factor */
    const hf_fedgen_dims_t *d = &g->d;
    double base = (double)s->p->batch_size * hf_model_train_flops(&s->run->model);
    for (int i = 0; i < m; i++) {
        const hf_model_t *mi = g->het ? hf_hetero_level_model(g->het, hf_hetero_level(g->het, i)) : &s->run->model;
        double Fh = mi->tensors[mi->ntensors - 2].shape[1];
        double extra = (double)g->gen_batch * (2.0 * d->H * (d->Z + 1) + 2.0 * d->F * d->H + 6.0 * d->C * Fh);
        double f0 = g->het ? hf_hetero_flops_scale(g->het)[i] : 1.0;
        g->fscale[i] = on ? f0 + extra / base : f0;
    }
}

static const double *flops_fedgen(const hf_strat_t *s) { return ((const fedgen_t *)s->state)->fscale; }

static void begin_fedgen(hf_strat_t *s) { ((fedgen_t *)s->state)->nheads = 0; }

double hf_fedgen_regularise(const hf_fedgen_dims_t *d, const float *gen, const double *prior, int n, int Fh,
                            double alpha_t, hf_rng_t *r, const float *head, float *ghead, float *z, int *y, float *g)
{
    for (int b = 0; b < n; b++) {
        double u = hf_rng_uniform(r), cum = 0.0;
        int lab = d->C - 1;
        for (int c = 0; c < d->C; c++) {
            cum += prior[c];
            if (u < cum) { lab = c; break; }
        }
        y[b] = lab;
        for (int q = 0; q < d->Z; q++) z[(long)b * d->Z + q] = (float)hf_rng_normal(r);
    }
    hf_fedgen_forward(d, gen, n, z, y, NULL, g);
    for (int b = 1; b < n && Fh < d->F; b++)  /* a narrow head: the first Fh features of each sample */
        memmove(g + (long)b * Fh, g + (long)b * d->F, (size_t)Fh * sizeof(float));
    double wb[n];
    for (int b = 0; b < n; b++) wb[b] = alpha_t / n;
    return hf_fedgen_head_ce(d->C, Fh, head, n, g, y, wb, ghead, NULL);
}

/* Per minibatch of client k training model m (the run's, or a width's): the
 * regulariser's gradient on m's head (its last dense layer, Fh inputs). */
static void regularise_head(hf_strat_t *s, int k, const hf_model_t *m, const float *w, float *grad)
{
    fedgen_t *g = s->state;
    const hf_tensor_t *W = &m->tensors[m->ntensors - 2];
    if (k != g->hook_k || g->t != g->hook_t) { g->hook_k = k; g->hook_t = g->t; g->hook_step = 0; }
    hf_rng_t r;
    hf_rng_init(&r, s->p->seed, HF_RNG_FEDGEN, (uint64_t)g->t, ((uint64_t)(k + 1) << 32) | (uint64_t)g->hook_step++);
    hf_fedgen_regularise(&g->d, g->gen, g->prior, g->gen_batch, W->shape[1], g->alpha_t, &r, w + W->off,
                         grad + W->off, g->gz, g->gy, g->gg);
}

static void grad_fedgen(hf_strat_t *s, int k, const float *w, const float *x0, float *grad)
{
    (void)x0;
    regularise_head(s, k, &s->run->model, w, grad);
}

static void grad_sub(void *ctx, const hf_model_t *m, int k, const float *w, float *grad)
{
    regularise_head(ctx, k, m, w, grad);
}

void hf_fedgen_full_head(int C, int F, int Fh, const float *W, const float *b, float *out)
{
    memset(out, 0, ((size_t)C * F + C) * sizeof(float));
    for (int c = 0; c < C; c++) memcpy(out + (long)c * F, W + (long)c * Fh, (size_t)Fh * sizeof(float));
    memcpy(out + (long)C * F, b, (size_t)C * sizeof(float));
}

/* Keep a trained head of model m (parameters w) for the server, as the full
 * head (hf_fedgen_full_head). */
static void keep_head(fedgen_t *g, const hf_model_t *m, const float *w)
{
    const hf_tensor_t *W = &m->tensors[m->ntensors - 2], *b = &m->tensors[m->ntensors - 1];
    float *h = g->heads + (long)g->nheads++ * g->HS;
    hf_fedgen_full_head(g->d.C, g->d.F, W->shape[1], w + W->off, w + b->off, h);
}

/* After a kept client's training (its model in x->local): keep its head. */
static void head_fedgen(hf_strat_t *s, int i, int k, int t, const hf_cplan_t *cp)
{
    (void)i; (void)k; (void)t; (void)cp;
    keep_head(s->state, &s->run->model, s->run->local);
}

/* Mixed widths: plan entry i's sub-model (hetero.c, the regulariser as its
 * gradient term), its update to the aggregator, its head kept. */
static hf_local_t train_sub(hf_strat_t *s, int i, int k, int t, const hf_cplan_t *cp)
{
    fedgen_t *g = s->state;
    hf_local_t r = hf_het_train_with(g->het, s->run, i, k, t, cp);
    keep_head(g, hf_hetero_level_model(g->het, hf_hetero_level(g->het, i)), hf_hetero_trained(g->het));
    return r;
}

/* Rank 0: fedgen.gen_steps Adam steps on G against the U kept heads with
 * label-count weights w (U, C); labels drawn among those with a count. */
static void train_generator(hf_strat_t *s, int t, int U, const float *heads, const double *w, const int *labels,
                            int nl)
{
    fedgen_t *g = s->state;
    int n = g->gen_batch;
    float *z = hf_calloc((size_t)n * g->d.Z, sizeof(float)), *gr = hf_calloc((size_t)g->PG, sizeof(float));
    float *scr = hf_calloc((size_t)n * (g->d.H + 2 * g->d.F), sizeof(float));
    int *y = hf_calloc((size_t)n, sizeof(int));
    hf_rng_t r;
    hf_rng_init(&r, s->p->seed, HF_RNG_FEDGEN, (uint64_t)t, 0);
    for (int st = 0; st < g->gen_steps; st++) {
        for (int b = 0; b < n; b++) {
            y[b] = labels[hf_rng_below(&r, (uint64_t)nl)];
            for (int q = 0; q < g->d.Z; q++) z[(long)b * g->d.Z + q] = (float)hf_rng_normal(&r);
        }
        hf_fedgen_gen_loss(&g->d, g->gen, n, z, y, U, heads, w, g->eta, gr, scr);
        g->adam_steps += 1.0;
        hf_adam_step(g->PG, g->gen, gr, g->am, g->av, g->lr * sqrt(1.0 - pow(HF_ADAM_B2, g->adam_steps)) /
                                                          (1.0 - pow(HF_ADAM_B1, g->adam_steps)));
    }
    free(z); free(gr); free(scr); free(y);
}

int hf_fedgen_label_weights(int C, int U, const int32_t *counts, double *w, int *labels, double *prior)
{
    int nl = 0;
    double tot[C], all = 0.0;
    for (int c = 0; c < C; c++) {
        tot[c] = 0.0;
        for (int u = 0; u < U; u++) tot[c] += counts[(long)u * C + c];
        all += tot[c];
    }
    for (int u = 0; u < U; u++)
        for (int c = 0; c < C; c++) w[(long)u * C + c] = tot[c] > 0 ? counts[(long)u * C + c] / tot[c] : 0.0;
    for (int c = 0; c < C; c++) {
        if (tot[c] > 0) labels[nl++] = c;
        prior[c] = all > 0 ? tot[c] / all : 0.0;
    }
    return nl;
}

/* FedAvg's aggregate, then G from the kept clients' heads (rank 0), broadcast. */
static int aggregate_fedgen(hf_strat_t *s, int t, int have)
{
    hf_run_t *x = s->run;
    fedgen_t *g = s->state;
    double divisor = x->plan.divisor;
    if (g->het) hf_hetero_aggregate(g->het, x->agg, &x->plan, have, x->global, 1);
    else if (have) hf_agg_apply(x->agg, divisor > 0 ? 1.0 / divisor : 0.0, x->global);
    int U = x->plan.kept, mine = g->nheads * (int)g->HS, *cnt = NULL, *dsp = NULL;
    float *heads = NULL;
    if (x->rank == 0) {
        cnt = hf_calloc((size_t)x->size, sizeof(int));
        dsp = hf_calloc((size_t)x->size, sizeof(int));
    }
    MPI_Gather(&mine, 1, MPI_INT, cnt, 1, MPI_INT, 0, x->comm);
    if (x->rank == 0) {
        for (int r = 0, o = 0; r < x->size; r++) { dsp[r] = o; o += cnt[r]; }
        heads = hf_calloc((size_t)HF_MAX(U, 1) * g->HS, sizeof(float));
    }
    /* hosted clients are contiguous blocks in rank order: rank order = client order = plan order */
    MPI_Gatherv(g->heads, mine, MPI_FLOAT, heads, cnt, dsp, MPI_FLOAT, 0, x->comm);
    if (x->rank == 0 && U > 0) {
        int C = g->d.C;
        double *w = hf_calloc((size_t)U * C, sizeof(double));
        int32_t *cnt_u = hf_calloc((size_t)U * C, sizeof(int32_t));
        int *labels = hf_calloc((size_t)C, sizeof(int));
        for (int i = 0, u = 0; i < x->plan.m; i++)  /* the kept clients' label counts, plan order */
            if (x->plan.c[i].kept) memcpy(cnt_u + (long)u++ * C, g->counts + (long)x->plan.c[i].client * C,
                                          (size_t)C * sizeof(int32_t));
        int nl = hf_fedgen_label_weights(C, U, cnt_u, w, labels, g->prior);
        openblas_set_num_threads(1);
        if (nl > 0 && g->gen_steps > 0) train_generator(s, t, U, heads, w, labels, nl);
        if (nl > 0) g->have_gen = 1;
        free(w); free(cnt_u); free(labels);
    }
    free(cnt); free(dsp); free(heads);
    MPI_Bcast(g->gen, (int)g->PG, MPI_FLOAT, 0, x->comm);
    MPI_Bcast(g->prior, g->d.C, MPI_DOUBLE, 0, x->comm);
    MPI_Bcast(&g->have_gen, 1, MPI_INT32_T, 0, x->comm);
    return 0;
}

/* Mixed widths: the width hooks (hetero.c) */
static const double *bytes_sub(const hf_strat_t *s) { return hf_hetero_bytes_scale(((fedgen_t *)s->state)->het); }
static double width_sub(const hf_strat_t *s, int i) { return hf_hetero_width(((fedgen_t *)s->state)->het, i); }
static uint64_t model_bytes_sub(const hf_strat_t *s, int i)
{
    return hf_hetero_bytes(((fedgen_t *)s->state)->het, i);
}
static int evaluate_sub(hf_strat_t *s, int round)
{
    hf_run_t *x = s->run;
    return hf_hetero_eval_widths(((fedgen_t *)s->state)->het, x->global, x->test.x, x->test.y, x->test.n,
                                 x->test.dim, round, x->comm, x->rank == 0 ? hf_h5out_file(x->h5) : -1);
}

#define FEDGEN_HOOKS                                                                                        \
    .name = "fedgen",                                                                                       \
    .doc = "FedAvg plus a server-side generator of head features trained from the clients' heads and "     \
           "label counts; clients regularise their heads with its samples (Zhu et al. 2021); "              \
           "fedgen.levels: HeteroFL-style width sub-models",                                                \
    .modes = HF_MODE_CENTRAL, .keeps_stragglers = 0, .upload_factor = 1, .keys = keys,                      \
    .check = check_fedgen, .init = init_fedgen, .free = free_fedgen, .state_bytes = bytes_fedgen,           \
    .ckpt_register = ckpt_fedgen, .weights = hf_weights_samples, .plan = plan_fedgen,                      \
    .flops_scale = flops_fedgen, .round_begin = begin_fedgen, .aggregate = aggregate_fedgen

const hf_strategy_t hf_strategy_fedgen = {
    FEDGEN_HOOKS,
    .grad_hook = grad_fedgen,
    .personal_train = head_fedgen,
};

/* fedgen.levels beyond a: init puts this table in place of the one above */
static const hf_strategy_t fedgen_widths = {
    FEDGEN_HOOKS,
    .train = train_sub,
    .bytes_scale = bytes_sub,
    .width = width_sub,
    .model_bytes = model_bytes_sub,
    .evaluate = evaluate_sub,
};
