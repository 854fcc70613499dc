/*
 * select.h — client selection under intermittent availability, and the
 * aggregation corrections that undo (or trade off) the bias availability
 * causes.
 *
 * Every way hetfl picks clients is an entry of one plugin table
 * (hf_select_policies[], IOR-style), called through one function
 * (hf_select_pick): the synchronous round, the carbon-aware scheduler and the
 * asynchronous (FedBuff) slot filler all draw through it.
 *   uniform   m of the candidates uniformly without replacement; with no
 *             availability model every client is a candidate and the draw's
 *             order is kept (keyed (seed, round)); async fills its free slots
 *             with it among the idle online clients (keyed by the fill count)
 *   poc       power-of-choice (Cho et al. 2022): d online candidates drawn
 *             without replacement with probability ∝ q_k, the m with the
 *             highest last known local loss (unknown first) are kept
 *   f3ast     F3AST (Ribero et al. 2023): the m online clients with the
 *             largest q_k / r_k, r_k the smoothed participation rate
 *             r ← (1−β) r + β 1[k selected]; weights q_k / r_k
 *   forecast  availability-forecast-aware: uniform among the online clients
 *             whose known forecast (the trace) keeps them online for their
 *             expected round time; filled with the longest-staying others
 *   cyclic    cyclic participation (Cho et al. 2023): client k in group
 *             k mod G, group t mod G eligible in round t, uniform among its
 *             online members
 *   poisson   every candidate independently with probability q = K / N
 *             (K = clients_per_round): a Binomial count, possibly 0, that
 *             can exceed K (the round is sized for every client); the
 *             sampling DP-FedAvg's accountant analyses
 *   carbon-aware  chosen by energy.scheduler = carbon-aware: a start slot and
 *             m clients by α-fair shares of their carbon cost (energy.c),
 *             weights scaled by 1/π_k (Hájek)
 * A policy declares what it reads (HF_SEL_* flags: expected round times, the
 * availability forecast, local losses, carbon figures) so the engine computes
 * only that, owns its keys (rows of the options table) and reads them in its
 * configure hook.
 * Corrections (aggregation.correction):
 *   none      the strategy's weights (n_k), normalised
 *   unbiased  w_k = q_k/π̂_k · A_t/|S_t| (A_t online, S_t selected), applied
 *             unnormalised: x ← x + η_s Σ w_k Δ_k, with the Bayesian estimate
 *             π̂_k = (#on + 100 π_prior)/(t + 100) (arodio/CA-Fed
 *             activity_estimator.py)
 *   cafed     CA-Fed: allocation q_k/π̂_k; clients are zeroed greedily, by
 *             decreasing |λ̂_k| then increasing π̂_k, while the surrogate
 *             Σ p_k F̂_k + C·max F̂ · TV(q,p)² (p ∝ π̂∘alloc) decreases; zeroed
 *             clients are not selected; the rest are weighted like unbiased
 *             with their allocation (arodio/CA-Fed clients_sampler.py)
 * Every function here is a pure function of its inputs and the seed, so every
 * rank computes the same selection and weights (the determinism contract).
 */
#ifndef HF_SELECT_H
#define HF_SELECT_H
#include "avail.h"
#include "conf.h"
#include "energy.h"
#include <stdint.h>
#include <stdio.h>

typedef enum { HF_CORR_NONE = 0, HF_CORR_UNBIASED, HF_CORR_CAFED } hf_correction_t;

typedef struct hf_select hf_select_t;

/* What a policy reads (hf_select_policy_t.needs). */
enum {
    HF_SEL_NEEDS_ROUND_TIME = 1,  /* need_s: every client's expected seconds to finish a round */
    HF_SEL_NEEDS_FORECAST = 2,    /* av: the availability trace's future */
    HF_SEL_NEEDS_LOSSES = 4,      /* clients' last local losses (hf_select_losses) */
    HF_SEL_NEEDS_CARBON = 8,      /* en, ecl, bytes: carbon figures; no availability model */
    HF_SEL_ASYNC = 16,            /* keeps no state between draws: can fill async slots */
    HF_SEL_POPULATION = 32,       /* can draw without an availability model (every client) */
    HF_SEL_VARIABLE = 64,         /* draws a varying count, up to every client (the round is sized for N) */
};

/* What the engine knows when it picks (fields a policy does not declare may be 0). */
typedef struct {
    int round;                  /* 0-based (async: the fill count) */
    uint64_t seed;
    int m;                      /* clients wanted */
    const unsigned char *online;/* N, or NULL: no availability model, every client a candidate */
    const hf_avail_t *av;       /* availability (HF_SEL_NEEDS_FORECAST), may be NULL */
    double now;                 /* simulated time of the pick */
    const double *need_s;       /* HF_SEL_NEEDS_ROUND_TIME: per client (N), else NULL */
    hf_energy_t *en;            /* HF_SEL_NEEDS_CARBON: regions and carbon sources, */
    const hf_energy_client_t *ecl;  /* every client's full-round figures (N), */
    uint64_t bytes;             /* and the model's transfer size each way */
} hf_select_in_t;

/* What a policy sees in one pick: the input and the eligible candidates. */
typedef struct {
    const hf_select_in_t *in;
    uint64_t stream;            /* rng sub-stream of a plain uniform draw */
    const int *cand;            /* eligible clients, increasing ids; NULL: 0..ncand-1 */
    int ncand;
    double *start;              /* the round's start: a policy may move it later */
} hf_select_ctx_t;

typedef struct {
    const char *name;
    const char *doc;
    const hf_opt_t *keys;       /* its option rows (NULL-key terminated), or NULL */
    int needs;                  /* HF_SEL_* */
    /* read its keys into the state (may be NULL) */
    void (*configure)(hf_select_t *s, const hf_conf_t *c);
    /* write at most in->m distinct candidates into out, return the count */
    int (*pick)(hf_select_t *s, const hf_select_ctx_t *c, int *out);
    /* the policy's own aggregation weights of the nsel selected clients into w,
     * applied unnormalised (NULL: the strategy's weights stand) */
    void (*weights)(const hf_select_t *s, const int *sel, int nsel, double *w);
    /* factors the strategy's weights are multiplied by, the divisor rescaled so
     * that the weights' sum is kept (Hájek); NULL: none */
    void (*scales)(const hf_select_t *s, const int *sel, int nsel, double *f);
    /* after the round: update per-client state from the selection (may be NULL) */
    void (*after)(hf_select_t *s, const int *sel, int nsel);
} hf_select_policy_t;

extern const hf_select_policy_t *const hf_select_policies[];   /* NULL-terminated */
const hf_select_policy_t *hf_select_policy_find(const char *name);

/* Selection and estimator state: the same on every rank. */
struct hf_select {
    const hf_select_policy_t *pol;
    hf_correction_t corr;
    int N;
    double *q;                  /* q_k = n_k / Σ n */
    int d;                      /* poc: candidates (0: min(2m, online)) */
    int groups;                 /* cyclic: G (0: ⌈N/m⌉) */
    double beta;                /* f3ast: smoothing of r_k */
    double cafed_c;             /* cafed: bias constant C */
    double poisson_q;           /* poisson: inclusion probability K / N */
    double *inv_pi;             /* carbon-aware: 1/π_k of the last pick's clients (N) */
    /* Bayesian activity estimator (CA-Fed), horizon 100 */
    int t;                      /* observations so far */
    long *n_on, *n_onon, *n_offoff;
    unsigned char *prev;        /* online at the previous observation */
    double *prior_pi, *prior_lambda;
    double *pi_hat, *lambda_hat;
    double *r;                  /* f3ast participation rates */
    double *loss;               /* last known local training loss, NaN = unknown */
    double *alloc;              /* cafed allocation (0 = excluded) */
    int t_eligible;             /* eligible count of the last round (hf_select_round) */
    int *tmp;                   /* ntmp ints of scratch (N + 1, or grown to the draw: stateless) */
    int ntmp;
    double *dtmp;               /* N doubles of scratch */
};

/* New state.  samples: n_k (N); prior_pi/prior_lambda: per-client priors
 * (NULL: 0.5 and 0).  Returns NULL and sets an error for unknown names.
 * samples NULL: stateless, no array of N entries (q, the estimator, r, loss,
 * alloc, inv_pi stay NULL): only for a policy that reads none of them, drawn
 * without an availability model and without a correction (uniform: plan.c's
 * hf_vol_init); its scratch grows to the draw's size, O(m) memory. */
hf_select_t *hf_select_new(const char *policy, hf_correction_t corr, int N, const long *samples,
                           const double *prior_pi, const double *prior_lambda);
void hf_select_free(hf_select_t *s);

/* Record this round's online mask (N) in the estimators; call once per round. */
void hf_select_observe(hf_select_t *s, const unsigned char *online);
/* Record local losses of clients (NaN values are ignored). */
void hf_select_losses(hf_select_t *s, const int *client, const double *loss, int n);

/* Pick the clients of one round (or async fill): eligible = online (and, with
 * cafed, not excluded), or every client without an availability model; the
 * policy picks; with an availability model the ids are sorted, without it the
 * draw's order is kept.  *start: the round's start (a policy may move it; may be
 * NULL when the policy does not).  Returns the count (≤ m); *navail = online count
 * A_t, *neligible = eligible count (either may be NULL). */
int hf_select_pick(hf_select_t *s, const hf_select_in_t *in, double *start, int *out, int *navail,
                   int *neligible);
/* The same for callers that have only a mask (tests): hf_select_pick with those inputs. */
int hf_select_round(hf_select_t *s, int round, uint64_t seed, int m, const unsigned char *online,
                    const hf_avail_t *av, double now, const double *need_s, int *out,
                    int *navail, int *neligible);
/* Async: fill n free slots among the candidates cand (nc, increasing ids), keyed by
 * the fill count; the picked ids sorted into out.  Only HF_SEL_ASYNC policies. */
int hf_select_fill(hf_select_t *s, uint64_t seed, long fill, const int *cand, int nc, int n, int *out);

/* Replace the policy (energy.scheduler = carbon-aware replaces the population's
 * uniform draw); returns HF_EINPUT for unknown names. */
int hf_select_use(hf_select_t *s, const char *policy);

/* Multiplicative factors of the nsel selected clients' weights into f (Hájek):
 * 1 when the policy sets them, 0 when it has none. */
int hf_select_scales(const hf_select_t *s, const int *sel, int nsel, double *f);

/* Aggregation weights of the nsel selected clients: 1 when the correction or
 * the policy sets them (w[i] filled, applied unnormalised), 0 when the
 * strategy's own weights apply.  neligible as returned by hf_select_round. */
int hf_select_weights(const hf_select_t *s, const int *sel, int nsel, int neligible, double *w);

/* After aggregation: update f3ast's participation rates with the selection. */
void hf_select_after(hf_select_t *s, const int *sel, int nsel);

/* Declare the state that evolves over rounds (estimator counts and
 * estimates, power-of-choice losses, F3AST rates, CA-Fed allocation) to the
 * checkpoint registry (checkpoint.h), so --resume continues bitwise; every
 * rank holds the same copy.  Call between hf_ckpt_begin and hf_ckpt_restore. */
void hf_select_ckpt_register(hf_select_t *s);

/* "a|b|c": the registered policies' names (static buffer). */
const char *hf_select_policy_names(void);
/* "a, b": the policies having every flag of `needs` (static buffer; error messages). */
const char *hf_select_policies_with(int needs);
/* Print the registry (hetfl list). */
void hf_select_list(FILE *out);

#endif
