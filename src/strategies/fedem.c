/*
 * fedem.c — FedEM (Marfoq, Neglia, Bellet, Kameni, Vidal, NeurIPS 2021,
 * "Federated Multi-Task Learning under a Mixture of Distributions").  Every
 * client's data is a mixture of M shared distributions: M component models
 * h_1..h_M are learned by all, and client k keeps mixture weights π_k.  In a
 * round a kept client k
 *   1. E-step: the responsibilities of its n_k training samples,
 *      q_im ∝ π_km · p_m(y_i | x_i) = π_km · exp(−ℓ_m(x_i, y_i)), a softmax
 *      over m of log π_km − ℓ_im (hf_fedem_estep);
 *   2. updates π_km ← (1/n_k) Σ_i q_im;
 *   3. M-step: trains every component m from the round's h_m by the engine's
 *      local SGD on the loss Σ_b q_bm ℓ_m(x_b, y_b) / B (the kernels'
 *      per-sample weights, hf_work_sample_weights) and uploads its Δ_m;
 * the server averages each component with FedAvg's weights n_k.  The client's
 * personal predictor is the mixture p(y|x) = Σ_m π_km softmax(h_m(x))_y
 * (personal_eval); a client that never took part has the uniform π = 1/M, the
 * authors' initial weights.  As in the authors' code (the MixtureClient's
 * sample and learner weight updates, the learners' weighted loss), π starts
 * at 1/M and the E-step uses the samples the client trains on.
 *
 * Choices of this implementation:
 *  - component 1 starts from the run's initial model, component m > 1 from
 *    an initialisation seeded by (seed, HF_RNG_FEDEM, m); every component
 *    trains on the same shuffles (seed, round, client), so with M = 1 the
 *    responsibilities are exactly 1 and the run is FedAvg's bit for bit;
 *  - the global model the engine evaluates on the global test set
 *    (/rounds.test_accuracy) is component 1;
 *  - a client downloads and uploads M models (bytes_scale, model_bytes) and
 *    its simulated compute is M trainings (flops_scale M; the E-step's M forward passes over the n_k
 *    samples are not counted);
 *  - the components are aggregated through FedEM's own aggregator (M × P,
 *    the engine's fixed-point reduction), so the engine's own (empty) one is
 *    reduced as well: one model's worth of extra reduction per round;
 *  - the server step is the plain average: server.optimizer = none,
 *    server.lr = 1, energy.compress = none and personal.finetune_steps = 0
 *    are required.
 *
 * State: the M components (every rank, checkpointed as fedem_components) and
 * π_k for the clients that have taken part (the rank hosting k, fedem_pi), so
 * --resume on any rank count continues bit for bit.
 */
#include "strategy.h"
#include "checkpoint.h"
#include "evaluate.h"
#include "hf_util.h"
#include "run.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const hf_opt_t keys[] = {
    {"fedem.components", HF_OPT_INT, "3", 1, 16, NULL,
     "fedem: M, the number of component models (the mixture's distributions); every client uploads and "
     "trains M models; 1 = FedAvg"},
    {0},
};

typedef struct {
    int M, C;
    float *comps;         /* M × P: the components, every rank */
    hf_client_vecs_t pi;  /* hosted clients' π_k (M floats; NULL: never kept, uniform) */
    struct hf_agg *agg;   /* the round's M × P uploads */
    float *delta;         /* M × P: a client's upload [Δ_1 … Δ_M] */
    float *loss, *q;      /* E-step scratch: n_k × M losses, M × n_k responsibilities */
    int *ident;           /* 0, 1, …, batch_size − 1 */
    float *logits;        /* M × HF_EVAL_CHUNK × C: the components' outputs on a chunk */
    float *uniform;       /* M × 1/M */
    double *scale;        /* M per plan entry: uploads, compute */
} fedem_t;

static int check_fedem(const hf_params_t *p, const hf_conf_t *c)
{
    if (p->model.arch == HF_ARCH_LSTM || p->model.arch == HF_ARCH_RESNET)  /* no per-sample loss weights there */
        return hf_key_err(c, "model.arch", "fedem weights each sample's loss, which the %s kernels do not do: "
                          "use logreg, mlp or cnn", hf_arch_name(p->model.arch));
    if (strcmp(p->server_opt, "none") || p->server_lr != 1.0)
        return hf_key_err(c, strcmp(p->server_opt, "none") ? "server.optimizer" : "server.lr",
                          "fedem averages its components with FedAvg's plain server step: use none and lr 1");
    if (strcmp(hf_conf_get(c, "energy.compress"), "none"))
        return hf_key_err(c, "energy.compress", "fedem uploads its components uncompressed: use none");
    if (p->finetune_steps > 0)
        return hf_key_err(c, "personal.finetune_steps", "fedem's personal predictor is a mixture, not one "
                          "model to fine-tune: use 0");
    return 0;
}

static int init_fedem(hf_strat_t *s, struct hf_run *x)
{
    fedem_t *f = hf_calloc(1, sizeof *f);
    s->state = f;
    f->M = (int)hf_conf_int(s->conf, "fedem.components");
    f->C = x->model.cfg.n_classes;
    size_t M = (size_t)f->M, P = (size_t)s->P;
    f->comps = hf_alloc_aligned(M * P * sizeof(float));
    memcpy(f->comps, x->global, P * sizeof(float));
    for (int m = 1; m < f->M; m++) {
        hf_rng_t r;
        hf_rng_init(&r, s->p->seed, HF_RNG_FEDEM, (uint64_t)m, 0);
        hf_model_init_params(&x->model, f->comps + (size_t)m * P, hf_rng_u64(&r));
    }
    hf_client_vecs_init(&f->pi, s, f->M);  /* π_k: M floats a client */
    long toff[HF_MAX_TENSORS + 1];
    for (int i = 0; i < x->model.ntensors; i++) toff[i] = x->model.tensors[i].off;
    toff[x->model.ntensors] = s->P;
    f->agg = hf_strat_agg_new(s, f->M, x->model.ntensors, toff);
    long nmax = 1;
    for (int k = s->first_client; k < s->last_client; k++) nmax = HF_MAX(nmax, hf_strat_nk(s, k));
    f->delta = hf_alloc_aligned(M * P * sizeof(float));
    f->loss = hf_malloc((size_t)nmax * M * sizeof(float));
    f->q = hf_malloc((size_t)nmax * M * sizeof(float));
    f->ident = hf_malloc((size_t)s->p->batch_size * sizeof(int));
    for (int i = 0; i < s->p->batch_size; i++) f->ident[i] = i;
    f->logits = hf_malloc(M * HF_EVAL_CHUNK * (size_t)f->C * sizeof(float));
    f->uniform = hf_malloc(M * sizeof(float));
    for (int m = 0; m < f->M; m++) f->uniform[m] = 1.0f / (float)f->M;
    int np = x->m > 0 ? x->m : s->nclients;  /* plan entries: at most x->m a round */
    f->scale = hf_malloc((size_t)np * sizeof(double));
    for (int i = 0; i < np; i++) f->scale[i] = f->M;
    s->state_bytes_max = (uint64_t)M * (P + (uint64_t)s->client_bound_all) * sizeof(float);
    return 0;
}

static void free_fedem(hf_strat_t *s)
{
    fedem_t *f = s->state;
    if (!f) return;
    hf_client_vecs_free(&f->pi);
    if (f->agg) hf_agg_free(f->agg);
    free(f->comps); free(f->delta); free(f->loss); free(f->q); free(f->ident); free(f->logits); free(f->uniform); free(f->scale);
    free(f);
}

static uint64_t bytes_fedem(const hf_strat_t *s)
{
    const fedem_t *f = s->state;
    return (uint64_t)f->M * (uint64_t)s->P * sizeof(float) + hf_client_vecs_bytes(&f->pi);
}

static void ckpt_fedem(hf_strat_t *s)
{
    fedem_t *f = s->state;
    hf_ckpt_register("fedem_components", f->comps, (size_t)f->M * (size_t)s->P * sizeof(float));
    hf_client_vecs_ckpt(&f->pi, "fedem_pi");
}

void hf_fedem_estep(const float *loss, int n, int M, float *pi, float *q)
{
    double a[16], sum[16] = {0};  /* M ≤ 16 (fedem.components) */
    for (int i = 0; i < n; i++) {
        double mx = -INFINITY, z = 0.0;
        for (int m = 0; m < M; m++) {
            a[m] = log((double)pi[m]) - (double)loss[(size_t)i * M + m];
            mx = a[m] > mx ? a[m] : mx;
        }
        for (int m = 0; m < M; m++) z += (a[m] = exp(a[m] - mx));
        for (int m = 0; m < M; m++) {
            q[(size_t)m * n + i] = (float)(a[m] / z);
            sum[m] += q[(size_t)m * n + i];
        }
    }
    for (int m = 0; m < M && n > 0; m++) pi[m] = (float)(sum[m] / n);
}

void hf_fedem_predict(const float *logits, const float *pi, int M, int B, int C, const int *y, int64_t sums[2])
{
    double lz[16], la[16];  /* per component: log π_m − log Σ_j exp z_j; log π_m p_m(y) */
    for (int b = 0; b < B; b++) {
        double lmax = -INFINITY, best = -1.0, se = 0.0;
        for (int m = 0; m < M; m++) {
            const float *z = logits + ((size_t)m * B + b) * C;
            double mx = z[0], e = 0.0;
            for (int j = 1; j < C; j++) mx = z[j] > mx ? z[j] : mx;
            for (int j = 0; j < C; j++) e += exp((double)z[j] - mx);
            lz[m] = log((double)pi[m]) - mx - log(e);
            la[m] = lz[m] + z[y[b]];
            lmax = la[m] > lmax ? la[m] : lmax;
        }
        int arg = 0;
        for (int c = 0; c < C; c++) {
            double pc = 0.0;  /* Σ_m π_m p_m(c) */
            for (int m = 0; m < M; m++) pc += exp(lz[m] + logits[((size_t)m * B + b) * C + c]);
            if (pc > best) { best = pc; arg = c; }  /* ties: the lowest class */
        }
        for (int m = 0; m < M; m++) se += exp(la[m] - lmax);
        sums[0] += arg == y[b];
        sums[1] += (int64_t)llrint(-(lmax + log(se)) * HF_LOSS_SCALE);
    }
}

/* Client k's E-step on its training samples: f->q, and π_k updated. */
static void estep_client(hf_strat_t *s, fedem_t *f, int k, float *pi)
{
    struct hf_run *x = s->run;
    long nk = x->part.off[k + 1] - x->part.off[k], P = s->P;
    const long *idx = x->part.idx + x->part.off[k];
    float lbuf[HF_EVAL_CHUNK];
    long chunk = HF_MIN(s->p->batch_size, HF_EVAL_CHUNK);  /* rows of x->xb, of lbuf */
    for (long b0 = 0; b0 < nk; b0 += chunk) {
        int B = (int)HF_MIN(chunk, nk - b0);
        hf_gather_rows(x->train.x, x->train.y, x->train.dim, idx + b0, f->ident, B, x->xb, x->yb);
        for (int m = 0; m < f->M; m++) {
            hf_model_forward(&x->model, x->work, f->comps + (size_t)m * P, x->xb, x->yb, B, NULL, lbuf);
            for (int b = 0; b < B; b++) f->loss[(size_t)(b0 + b) * f->M + m] = lbuf[b];
        }
    }
    hf_fedem_estep(f->loss, (int)nk, f->M, pi, f->q);
}

/* Kept plan entry i (client k): E-step, π_k, then each component's weighted
 * local SGD and its Δ_m into FedEM's aggregator. */
static hf_local_t train_fedem(hf_strat_t *s, int i, int k, int t, const hf_cplan_t *cp)
{
    (void)i;
    fedem_t *f = s->state;
    struct hf_run *x = s->run;
    double t0 = hf_wtime();
    long nk = x->part.off[k + 1] - x->part.off[k], P = s->P;
    float *pi = hf_client_vecs_get(&f->pi, k, 0);
    if (!pi) {  /* first participation: the uniform mixture */
        pi = hf_client_vecs_get(&f->pi, k, 1);
        memcpy(pi, f->uniform, (size_t)f->M * sizeof(float));
    }
    estep_client(s, f, k, pi);
    hf_local_t res = {.loss = 0.0};
    for (int m = 0; m < f->M; m++) {
        float *h = f->comps + (size_t)m * P;
        hf_rng_t r;
        hf_rng_init(&r, s->p->seed, HF_RNG_SHUFFLE, (uint64_t)t, (uint64_t)k);  /* FedAvg's batches */
        x->sample_w = f->q + (size_t)m * nk;
        hf_local_t lm = hf_client_sgd(x, k, h, cp, &r, NULL);
        x->sample_w = NULL;
        float *d = f->delta + (size_t)m * P;
        for (long j = 0; j < P; j++) d[j] = x->local[j] - h[j];
        res.loss += lm.loss;
        res.steps = lm.steps;
        res.samples = lm.samples;
    }
    hf_agg_add(f->agg, cp->weight, f->delta);
    res.loss /= f->M;
    res.measured = hf_wtime() - t0;
    return res;
}

static void begin_fedem(hf_strat_t *s) { hf_agg_begin(((fedem_t *)s->state)->agg); }

/* h_m ← h_m + Σ_k w_k Δ_km / divisor on every rank; the global model is h_1. */
static int aggregate_fedem(hf_strat_t *s, int t, int have)
{
    (void)t;
    (void)have;  /* the engine's aggregator: empty */
    fedem_t *f = s->state;
    struct hf_run *x = s->run;
    double divisor = x->plan.divisor;
    hf_agg_reduce(f->agg);
    int everywhere = hf_agg_result_everywhere(f->agg);
    if (s->rank == 0 || everywhere) hf_agg_apply(f->agg, divisor > 0 ? 1.0 / divisor : 0.0, f->comps);
    if (!everywhere) MPI_Bcast(f->comps, (int)((long)f->M * s->P), MPI_FLOAT, 0, s->comm);
    memcpy(x->global, f->comps, (size_t)s->P * sizeof(float));
    return 0;
}

/* Client k's mixture on B samples (client_eval.c). */
static void eval_fedem(hf_strat_t *s, int k, const float *xb, const int *yb, int B, int64_t sums[2])
{
    fedem_t *f = s->state;
    struct hf_run *x = s->run;
    const float *pi = hf_client_vecs_get(&f->pi, k, 0);
    for (int m = 0; m < f->M; m++)
        hf_model_forward(&x->model, x->work, f->comps + (size_t)m * s->P, xb, NULL, B, f->logits + (size_t)m * B * f->C,
                         NULL);
    hf_fedem_predict(f->logits, pi ? pi : f->uniform, f->M, B, f->C, yb, sums);
}

static const double *scale_fedem(const hf_strat_t *s) { return ((const fedem_t *)s->state)->scale; }

/* M models each way (the records' bytes; the device clock scales by bytes_scale) */
static uint64_t model_bytes_fedem(const hf_strat_t *s, int i)
{
    (void)i;
    return (uint64_t)((const fedem_t *)s->state)->M * (uint64_t)s->P * sizeof(float);
}

const hf_strategy_t hf_strategy_fedem = {
    .name = "fedem",
    .doc = "personalization: M component models learned by all, per-client mixture weights by EM, each "
           "client's predictor the mixture ([fedem] components) (Marfoq et al. 2021)",
    .modes = HF_MODE_CENTRAL,
    .keeps_stragglers = 0,
    .upload_factor = 1,
    .keys = keys,
    .check = check_fedem,
    .init = init_fedem,
    .free = free_fedem,
    .state_bytes = bytes_fedem,
    .ckpt_register = ckpt_fedem,
    .weights = hf_weights_samples,
    .flops_scale = scale_fedem,
    .bytes_scale = scale_fedem,
    .model_bytes = model_bytes_fedem,
    .round_begin = begin_fedem,
    .train = train_fedem,
    .aggregate = aggregate_fedem,
    .personal_eval = eval_fedem,
};
