/*
 * strategy.h — the strategy interface.  Every federated algorithm is one file
 * in src/strategies/ exporting one hf_strategy_t, a struct of function
 * pointers filled with designated initialisers; hf_strategies[] (registry.c)
 * is the NULL-terminated registry that `hetfl list`, the options table and
 * the engine read.  A hook left NULL means "the engine's default", so FedAvg
 * fills almost nothing and an algorithm with its own training, aggregation
 * and evaluation (FedDF) fills almost everything.  docs/ARCHITECTURE.md shows
 * where each hook runs in a round and walks through adding a strategy.
 *
 * Determinism: every planning hook sees only the plan, which every rank
 * derives from the seed; training hooks run on the rank hosting the client;
 * aggregation and evaluation hooks are collective.  A strategy keeps its
 * persistent state in s->state and registers it for checkpoints
 * (ckpt_register), so `--resume` on any rank count continues bit for bit.
 */
#ifndef HF_STRATEGY_H
#define HF_STRATEGY_H
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include "conf.h"
#include "options.h"

typedef struct hf_strat hf_strat_t;
struct hf_run;   /* the engine's run context (engine/run.h) */

/* The federation modes a strategy can run in (hf_strategy_t.modes). */
enum { HF_MODE_CENTRAL = 1, HF_MODE_DECENTRAL = 2, HF_MODE_ASYNC = 4 };

/* Most narrower widths a strategy offers the width budget adaptation
 * (hf_strategy_t.narrower). */
#define HF_STRAT_MAX_NARROW 8

/* One selected client's plan for a round (identical on every rank). */
typedef struct {
    int client;
    int straggler;        /* drawn as a straggler this round */
    int kept;             /* its update enters the aggregate */
    int epochs;           /* local epochs it runs (0 when dropped) */
    int steps;            /* local SGD steps = epochs · ⌈n_k/B⌉ */
    double a;             /* normaliser a_k (FedNova; steps for the others) */
    double weight;        /* aggregation weight */
} hf_cplan_t;

typedef struct {
    int m;                /* selected clients */
    int kept;             /* |K_t| */
    double nsum;          /* Σ_{K_t} n_k */
    double divisor;       /* the aggregate is Σ w_k u_k / divisor */
    hf_cplan_t *c;        /* m entries, in selection order */
} hf_plan_t;

/* What one client's local training reports. */
typedef struct {
    double loss;          /* mean local training loss (NaN: no step) */
    int steps;
    long samples;         /* samples processed */
    double measured;      /* wall seconds */
} hf_local_t;

typedef struct hf_strategy {
    const char *name;
    const char *doc;                /* one line for `hetfl list` */
    unsigned modes;                 /* HF_MODE_* it runs in */
    int keeps_stragglers;           /* 1: stragglers' partial work is kept */
    int upload_factor;              /* floats uploaded per model parameter */
    int reports_upload;             /* 1: its own train hook shows each upload to the privacy
                                     * observers (hf_privacy_observe, mia.h), as the engine does */
    int update_when_empty;          /* 1: the server step is applied in a round with no kept client
                                     * too (DP noise is released every round, dpfedavg) */
    const hf_opt_t *keys;           /* its own suite keys (rows of the options table, key NULL ends) */

    /* --- setup ------------------------------------------------------------ */
    /* cross-key rules of the strategy's keys, when it is the run's strategy:
     * HF_EINPUT "FILE:LINE: key 'x': reason" (hf_key_err) */
    int (*check)(const hf_params_t *p, const hf_conf_t *c);
    /* after the model and data exist: allocate s->state, set s->mu / s->grad_active */
    int (*init)(hf_strat_t *s, struct hf_run *x);
    void (*free)(hf_strat_t *s);
    /* bytes of persistent state allocated on this rank */
    uint64_t (*state_bytes)(const hf_strat_t *s);
    /* bytes it keeps for every client that has taken part, on the client's rank
     * (SCAFFOLD's c_k, Ditto's v_k, ...), for a model of P parameters: the
     * pre-run memory estimate (setup.c) counts them for the most clients a
     * rank may ever see take part; NULL: none */
    uint64_t (*client_state_bytes)(long P);
    /* register persistent state with the checkpoint registry (checkpoint.h) */
    void (*ckpt_register)(hf_strat_t *s);

    /* --- planning (every rank, from the plan alone) ------------------------ */
    /* normaliser a_k of a client that runs `steps` local steps (NULL: steps) */
    double (*normaliser)(const hf_strat_t *s, int steps);
    /* weights and divisor of the round's kept clients (plan->c[i].kept set) */
    void (*weights)(hf_strat_t *s, hf_plan_t *plan);
    /* the round's per-client choices (widths, groups) for the m selected sel[] */
    void (*plan)(hf_strat_t *s, int t, const int *sel, int m);
    /* per plan entry: factor on training FLOPs / on transfer bytes (NULL: 1) */
    const double *(*flops_scale)(const hf_strat_t *s);
    const double *(*bytes_scale)(const hf_strat_t *s);
    /* decentralized mode: client k's FLOPs in a round in which it trains on
     * `samples` samples, local training and anything else it computes
     * (dkt: distillation; NULL: the model's training FLOPs × samples), and
     * the bytes client i sends neighbour j a round (NULL: upload_factor · P
     * floats).  They price its simulated time, /participation and energy. */
    double (*dec_flops)(const hf_strat_t *s, int k, long samples);
    uint64_t (*dec_edge_bytes)(const hf_strat_t *s, int i, int j);
    /* plan entry i's model width (NULL: 1) and its model's bytes one way
     * (NULL: upload_factor · P floats, the codec may shrink uploads) */
    double (*width)(const hf_strat_t *s, int i);
    uint64_t (*model_bytes)(const hf_strat_t *s, int i);
    /* energy.budget_strategy = width (plan.c): the widths narrower than plan
     * entry i's that it may train this round, widest first, each with its
     * factor on training FLOPs (as flops_scale) and its model's bytes one way;
     * returns how many (at most HF_STRAT_MAX_NARROW).  narrow: entry i trains
     * the j-th of them instead (flops_scale, bytes_scale, width, model_bytes
     * and training follow).  NULL: the strategy has one width (refused). */
    int (*narrower)(const hf_strat_t *s, int i, double *fscale, uint64_t *bytes);
    void (*narrow)(hf_strat_t *s, int i, int j);

    /* --- training (the rank hosting the client) ---------------------------- */
    void (*round_begin)(hf_strat_t *s);
    /* local training of plan entry i (client k, kept); NULL: the engine's SGD
     * (engine/client.c) with grad_hook / client_upload below */
    hf_local_t (*train)(hf_strat_t *s, int i, int k, int t, const hf_cplan_t *cp);
    /* per minibatch: grad += correction (used when s->grad_active) */
    void (*grad_hook)(hf_strat_t *s, int k, const float *w, const float *x0, float *grad);
    /* after local training: upload (upload_factor·P floats) from y = local,
     * x = global; NULL: the engine's plain Δ = y − x */
    void (*client_upload)(hf_strat_t *s, int k, const hf_cplan_t *cp, const float *y,
                          const float *x, float *upload);

    /* after the round's training of kept plan entry i (client k), on its rank,
     * its trained model in s->run->local: the client's personal model's update
     * (Ditto), its classifier head kept for the server (FedGen); NULL: none */
    void (*personal_train)(hf_strat_t *s, int i, int k, int t, const hf_cplan_t *cp);

    /* --- aggregation (collective) ------------------------------------------ */
    /* after the engine's reduction: turn the round's aggregate into the new
     * global model; have: this rank holds the reduced sums.  NULL: the engine's
     * weighted average, server_update, then the server optimizer */
    int (*aggregate)(hf_strat_t *s, int t, int have);
    /* aggregate → model update Δ in place (first P floats); have_result as above */
    void (*server_update)(hf_strat_t *s, const hf_plan_t *plan, float *agg, int have_result);
    /* decentralized mode: the exchange and mixing of client models, adding the
     * models that form the evaluated mean to the engine's aggregator; returns
     * how many (NULL: D-PSGD's gossip, every client) */
    int (*gossip)(hf_strat_t *s, int t);

    /* --- evaluation (collective) ------------------------------------------- */
    /* tables beyond /rounds, e.g. /rounds_by_width (rank 0 writes) */
    int (*evaluate)(hf_strat_t *s, int round);
    /* per-client evaluation (data.client_test_fraction), on the rank hosting
     * client k: the P floats of the client's own model; NULL (hook or result):
     * the global model */
    const float *(*personal_model)(hf_strat_t *s, int k);
    /* per-client evaluation by a predictor that is no single parameter vector
     * (FedEM's mixture, kNN-Per's interpolation), on the rank hosting client
     * k: B samples xb (B, dim), labels yb; adds the correct predictions to
     * sums[0] and Σ_b llrint(ℓ_b · HF_LOSS_SCALE) (evaluate.h) to sums[1].
     * Replaces personal_model when set. */
    void (*personal_eval)(hf_strat_t *s, int k, const float *xb, const int *yb, int B, int64_t sums[2]);
    /* differential privacy: ε spent after `rounds` rounds (/rounds.dp_epsilon,
     * root attribute dp_epsilon); NULL: no privacy guarantee (NaN) */
    double (*privacy_epsilon)(const hf_strat_t *s, int rounds);
} hf_strategy_t;

extern const hf_strategy_t *const hf_strategies[];   /* NULL-terminated registry */

struct hf_strat {
    const hf_strategy_t *st;
    const hf_params_t *p;
    const hf_conf_t *conf;          /* the suite: a strategy reads its own keys from it */
    struct hf_run *run;             /* the engine's context: model, data, buffers (run.h) */
    MPI_Comm comm;
    int rank;
    long P;                         /* model parameters */
    int nclients;
    const long *off;                /* partition offsets: n_k = off[k+1] − off[k] */
    int first_client, last_client;  /* clients hosted by this rank */
    float mu;                       /* proximal coefficient in use (FedProx, FedNova), 0 = none */
    int grad_active;                /* local training calls grad_hook */
    void *state;                    /* the strategy's own state (its file defines it) */
    uint64_t side_up, side_down;    /* bytes a selected client sends / receives each round besides its
                                     * model (FedGen: label counts up, generator down); set by init, plan */
    uint64_t state_bytes_max;       /* worst-case bytes of persistent state, all ranks */
    double client_bound;            /* the most hosted clients that may ever take part (hf_run_clients_seen;
                                     * every hosted client outside a run) */
    double client_bound_all;        /* the same for all ranks' clients */
};

/* Fill p's strategy fields from c and check cross-key rules (called by
 * hf_params_from_conf).  Errors → HF_EINPUT "FILE:LINE: key 'x': reason". */
int hf_strat_params(hf_params_t *p, const hf_conf_t *c);
/* Find a strategy by name (NULL if unknown). */
const hf_strategy_t *hf_strategy_find(const char *name);
/* Print the registry, one strategy a line. */
void hf_strategy_list(FILE *out);
/* "a|b|c": the names of the registered strategies (static buffer). */
const char *hf_strategy_names(void);
/* Set up s for the run (collective-free): conf, the suite; x, the engine's
 * context (NULL outside a run, e.g. in unit tests of planning hooks). */
int hf_strat_init(hf_strat_t *s, const hf_params_t *p, const hf_conf_t *conf, struct hf_run *x, long P,
                  int nclients, const long *off, int first, int last, MPI_Comm comm);
void hf_strat_free(hf_strat_t *s);
/* Bytes of persistent state now allocated on this rank. */
uint64_t hf_strat_state_bytes(const hf_strat_t *s);

/* Plan round t for the m selected clients sel[] (sorted): stragglers (keyed
 * (seed, HF_RNG_STRAGGLER, t, 0) for the draw of the set, (seed, HF_RNG_STRAGGLER,
 * t, 1 + k) for client k's partial epochs), epochs, steps, a_k, weights. */
void hf_strat_plan(hf_strat_t *s, int t, const int *sel, int m, hf_plan_t *plan);
/* a_k of a client running `steps` steps (the strategy's normaliser, else steps). */
double hf_strat_normaliser(const hf_strat_t *s, int steps);

/* Decentralized round plan: every client, weight 1, federation.local_epochs
 * epochs or topology.local_steps steps (wrapping over epochs). */
void hf_strat_plan_decentral(hf_strat_t *s, hf_plan_t *plan);
/* Samples a client of n_k samples processes in `steps` steps of batch B. */
long hf_strat_samples(long nk, int B, int steps);

/* Shared weighting rules (registry.c): w_k = n_k with divisor Σ_K n_k
 * (FedAvg's), and w_k = 1 with divisor |K| (count-based). */
void hf_weights_samples(hf_strat_t *s, hf_plan_t *plan);
void hf_weights_count(hf_strat_t *s, hf_plan_t *plan);
/* Shared between strategy files (and the tests): FedProx's proximal hook
 * grad += μ (w − x_t) (fedprox.c), FedNova's normaliser for tau local steps
 * with momentum rho and proximal eta·mu (fednova.c, authors' recurrence). */
void hf_grad_prox(hf_strat_t *s, int k, const float *w, const float *x0, float *grad);
double hf_fednova_a(int tau, double rho, double eta_mu);
/* Ditto's personal-model gradient (ditto.c): g ← (g + λ (v − x_t)) / (1 + η λ),
 * x_t the run's global model (s->run->global). */
void hf_ditto_grad(hf_strat_t *s, int k, const float *v, const float *x0, float *g);
/* DP-FedAvg's clipping (dpfedavg.c): u ← u · min(1, clip / ‖u‖₂), the norm
 * summed in double in index order. */
void hf_dp_clip(float *u, long n, double clip);
/* n_k of client k */
long hf_strat_nk_on_demand(const hf_strat_t *s, int k);  /* no offsets: data.on_demand (registry.c) */
static inline long hf_strat_nk(const hf_strat_t *s, int k)
{
    return s->off ? s->off[k + 1] - s->off[k] : hf_strat_nk_on_demand(s, k);
}

/* Per-client vectors of P floats for the clients this rank hosts, allocated at
 * a client's first use (zero until then): SCAFFOLD's c_k, FedDyn's history,
 * Ditto's v_k, FedEM's π_k.  Kept sparsely (hf_cvecs_t, cstore.h) for at most
 * s->client_bound clients: memory grows with the clients that ever took part,
 * not with the population. */
typedef struct {
    struct hf_cvecs *s;             /* the store (cstore.h) */
    long P;                         /* floats a vector */
    double bound_all;               /* the most clients of all ranks that may have one (checkpoint) */
} hf_client_vecs_t;
void hf_client_vecs_init(hf_client_vecs_t *cv, const hf_strat_t *s, long floats);
/* Client k's vector (`floats` floats); NULL while zero unless create. */
float *hf_client_vecs_get(hf_client_vecs_t *cv, int k, int create);
uint64_t hf_client_vecs_bytes(const hf_client_vecs_t *cv);
/* Register them for checkpoints under `name` (checkpoint.h). */
void hf_client_vecs_ckpt(hf_client_vecs_t *cv, const char *name);
void hf_client_vecs_free(hf_client_vecs_t *cv);
/* The most of a rank's `hosted` clients that may ever take part in a run of
 * p->rounds rounds of at most m clients (the engine's x->m: ⌈f·K⌉ with its
 * over-selection, N for Poisson sampling): min(hosted, rounds · m); every
 * hosted client in async and decentralized modes (setup.c). */
double hf_run_clients_seen(const hf_params_t *p, const hf_conf_t *c, int m, int hosted);

/* The fixed-point aggregator of uploads of f models (the tensor offsets toff
 * repeated f times): the engine's has f = upload_factor, FedEM's f = M. */
struct hf_agg;
struct hf_agg *hf_strat_agg_new(const hf_strat_t *s, int f, int ntensors, const long *toff);
/* FedEM (fedem.c).  E-step of one client: loss (n × M, row-major) the
 * per-sample losses −log p_m(y_i|x_i) of its n samples under the M components,
 * pi (M) its mixture weights; q (M × n, q[m·n + i]) ← the responsibilities
 * q_im ∝ π_m exp(−loss_im) (a softmax over m in double), then π_m ← mean_i q_im. */
void hf_fedem_estep(const float *loss, int n, int M, float *pi, float *q);
/* Its predictor on B samples: logits (M × B × C, component-major) of the M
 * components, mixed as p(c) = Σ_m π_m softmax_m(c); adds the samples whose
 * argmax (ties: the lowest class) is y_b to sums[0] and llrint(−log p(y_b) ·
 * HF_LOSS_SCALE) to sums[1]. */
void hf_fedem_predict(const float *logits, const float *pi, int M, int B, int C, const int *y, int64_t sums[2]);
/* kNN-Per (knnper.c): p (C) ← the k-nearest-neighbour distribution of query q
 * (D floats) over n keys (n × D) with labels: the k nearest by squared
 * Euclidean distance (ties: the lower index), each weighing
 * exp(−(d² − d²_nearest) / (D · scale)), normalised; all zero when n = 0.
 * nb, nd: k longs and doubles of scratch (the neighbours, ascending). */
void hf_knn_probs(const float *keys, const int *labels, long n, int D, const float *q, int k, double scale, int C,
                  long *nb, double *nd, double *p);

#endif
