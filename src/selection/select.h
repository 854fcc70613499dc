/*
 * select.h — client selection under intermittent availability, and the
 * aggregation corrections that undo (or trade off) the bias availability
 * causes.
 *
 * Selection policies form an IOR-style plugin table (hf_select_policies[]):
 *   uniform   m of the online clients uniformly without replacement
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
#include <stdint.h>
#include <stdio.h>

typedef enum { HF_CORR_NONE = 0, HF_CORR_UNBIASED, HF_CORR_CAFED } hf_correction_t;

typedef struct hf_select hf_select_t;

/* What a policy sees in one round. */
typedef struct {
    int round;                  /* 0-based */
    uint64_t seed;
    int m;                      /* clients wanted */
    const int *cand;            /* eligible online clients, increasing ids */
    int ncand;
    const hf_avail_t *av;       /* availability (forecast policy), may be NULL */
    double now;                 /* simulated round start */
    const double *need_s;       /* per client (N) expected seconds to finish a round, or NULL */
} hf_select_ctx_t;

typedef struct {
    const char *name;
    const char *doc;
    /* write at most c->m distinct clients from c->cand into out; return the count */
    int (*pick)(hf_select_t *s, const hf_select_ctx_t *c, int *out);
    /* the policy's own aggregation weights of the nsel selected clients into w
     * (NULL: the strategy's weights stand) */
    void (*weights)(const hf_select_t *s, const int *sel, int nsel, double *w);
    /* after the round: update per-client state from the selection (may be NULL) */
    void (*after)(hf_select_t *s, const int *sel, int nsel);
    int needs_round_time;       /* 1: pick reads need_s, every client's expected round time */
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
    int *tmp;                   /* N ints of scratch */
    double *dtmp;               /* N doubles of scratch */
};

/* New state.  samples: n_k (N); prior_pi/prior_lambda: per-client priors
 * (NULL: 0.5 and 0).  Returns NULL and sets an error for unknown names. */
hf_select_t *hf_select_new(const char *policy, hf_correction_t corr, int N, const long *samples,
                           const double *prior_pi, const double *prior_lambda);
void hf_select_free(hf_select_t *s);

/* Record this round's online mask (N) in the estimators; call once per round. */
void hf_select_observe(hf_select_t *s, const unsigned char *online);
/* Record local losses of clients (NaN values are ignored). */
void hf_select_losses(hf_select_t *s, const int *client, const double *loss, int n);

/* One round: eligible = online (and, with cafed, not excluded); pick with the
 * policy; sort the picked ids.  Returns the count (≤ m); *navail = online
 * count A_t, *neligible = eligible count. */
int hf_select_round(hf_select_t *s, int round, uint64_t seed, int m, const unsigned char *online,
                    const hf_avail_t *av, double now, const double *need_s, int *out,
                    int *navail, int *neligible);

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
/* Print the registry (hetfl list). */
void hf_select_list(FILE *out);

#endif
