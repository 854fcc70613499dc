/*
 * avail.h — client availability: the trace format, its loader and writer, the
 * generators (markov, diurnal, cyclic, sessions, withdraw), importers for real
 * traces, and the queries the federation loop asks (online at t? next change
 * after t?).  Trace formats: traces/ and `hetfl trace --help`.
 *
 * Trace format (plain text, one online interval per line):
 *     # hetfl availability trace          (comments start with '#')
 *     # clients = 100                      (optional: number of clients)
 *     # period_s = 604800                  (optional: the pattern repeats)
 *     client,start_s,end_s                 (optional column header)
 *     0,0,3600
 *     0,7200,9000.5
 *     1,120,86400
 * Intervals are half-open [start, end): a client is online at t iff some
 * interval holds t.  Per client, intervals must come in increasing order and
 * must not overlap (touching intervals are merged); lines of different
 * clients may interleave.  With a period P every interval lies in [0, P] and
 * the pattern repeats (online at t iff online at t mod P); without one, a
 * client is offline after its last interval.
 *
 * Storage: one CSR array of (start, end) doubles, 16 bytes per interval plus
 * 8 bytes per client (offsets) and, with withdrawals, 8 more per client; a
 * query is a binary search over that client's intervals, O(log intervals).
 *
 * Generated availability (a suite's [availability] model other than trace)
 * is materialised over availability.horizon_s seconds and repeats with that
 * period (cyclic: with its cycle).  Every random draw is keyed by (seed,
 * HF_RNG_AVAIL, client, purpose), so every rank builds the same trace.
 */
#ifndef HF_AVAIL_H
#define HF_AVAIL_H
#include "conf.h"
#include <stdint.h>
#include <stdio.h>

typedef struct {
    int nclients;
    int always;          /* 1: every client online all the time (model always), no intervals */
    double period_s;     /* > 0: the pattern repeats with this period; 0: one-shot */
    long *off;           /* nclients + 1 offsets: client k owns intervals off[k] .. off[k+1]-1 */
    double *iv;          /* 2 doubles per interval: start, end (sorted, disjoint, not touching) */
    long cap;            /* intervals allocated in iv */
    long nint;           /* intervals stored */
    int build_k;         /* while building: last client appended (hf_avail_add/finish) */
    double *leave_s;     /* NULL, or per-client withdrawal instant (offline for good from then) */
} hf_avail_t;

/* Availability models and their parameters ([availability] keys). */
typedef enum {
    HF_AV_ALWAYS = 0, HF_AV_MARKOV, HF_AV_DIURNAL, HF_AV_CYCLIC, HF_AV_SESSIONS, HF_AV_TRACE
} hf_avmodel_t;

typedef struct {
    hf_avmodel_t model;
    int nclients;
    uint64_t seed;
    double horizon_s;          /* generated models: length of the materialised pattern */
    /* markov (Rodio et al., CA-Fed): per slot P(on→on) = λ+(1−λ)π, P(off→on) = (1−λ)π */
    double slot_s;             /* seconds per Markov step */
    double pi, lambda;         /* mix = uniform: every client's π, λ */
    int mix_cafed;             /* 1: CA-Fed client types (see hf_avail_markov_params) */
    double cafed_a, cafed_s;   /* CA-Fed availability / stability parameters */
    /* diurnal: online on_hours a day from start_hour local time (+ N(0,jitter_h) per day) */
    double on_hours, start_hour, jitter_h, tz_spread_h;
    /* cyclic (Cho et al. 2023): client k in group k mod groups, groups online in turn */
    int groups;
    double cycle_s;
    /* sessions: alternating on/off durations */
    int lognormal;             /* 0: Weibull, 1: lognormal */
    double on_mean_s, off_mean_s, shape;  /* Weibull shape k, or lognormal sigma */
    /* withdraw: a seeded fraction of clients leaves for good at withdraw_at_s */
    double withdraw_fraction, withdraw_at_s;
    char file[4096];           /* model trace: the trace file */
} hf_avail_spec_t;

/* Registry of models (hetfl list, trace gen --model): name and one-line doc. */
typedef struct {
    const char *name;
    hf_avmodel_t model;
    const char *doc;
} hf_avmodel_info_t;
extern const hf_avmodel_info_t hf_avail_models[];   /* terminated by name == NULL */
int hf_avail_model_from_name(const char *name, hf_avmodel_t *out);

/* ------------------------------------------------------------- queries --- */
/* 1 when client k is online at time t (seconds, t ≥ 0). */
int hf_avail_online(const hf_avail_t *av, int k, double t);
/* Smallest t' > t at which client k's state differs from its state at t
 * (the instant it goes offline if online, or comes online if offline);
 * INFINITY when it never changes again. */
double hf_avail_next_change(const hf_avail_t *av, int k, double t);
/* Number of clients online at t; with mask != NULL, mask[k] = online. */
int hf_avail_count(const hf_avail_t *av, double t, unsigned char *mask);
/* Fraction of [0, horizon) that client k is online. */
double hf_avail_fraction(const hf_avail_t *av, int k, double horizon);

/* Mid-round drop-out: client k, online at `start`, downloads for t_down,
 * computes for t_comp, uploads for t_up.  Returns 1 when it goes offline at
 * some instant before start + t_down + t_comp + t_up; then *at is that
 * instant and *spent_comm, *spent_comp the transfer and compute seconds it
 * did until then (they sum to at − start), which are still charged. */
int hf_avail_dropout(const hf_avail_t *av, int k, double start, double t_down, double t_comp,
                     double t_up, double *at, double *spent_comm, double *spent_comp);

/* ------------------------------------------------- build, load, write --- */
void hf_avail_init(hf_avail_t *av, int nclients);      /* empty, not periodic */
void hf_avail_init_always(hf_avail_t *av, int nclients);
/* Append [s, e) to client k (clients in increasing order, k ≥ last client;
 * starts increasing; a touching/overlapping interval is merged). */
void hf_avail_add(hf_avail_t *av, int k, double s, double e);
void hf_avail_finish(hf_avail_t *av);                   /* close offsets after the last add */
void hf_avail_free(hf_avail_t *av);

/* Load a trace.  nclients > 0: ids must be < nclients (else "unknown client");
 * nclients <= 0: taken from the "# clients" header, or max id + 1.
 * HF_EINPUT "PATH:LINE: reason" on any bad line. */
int hf_avail_load(hf_avail_t *av, const char *path, int nclients);
/* Same, from text in memory (name is used in messages). */
int hf_avail_load_mem(hf_avail_t *av, const char *text, size_t len, const char *name, int nclients);
/* Write in the trace format (exact: %.17g).  A trace with withdrawals must
 * be one-shot (see hf_avail_unroll). */
int hf_avail_write(const hf_avail_t *av, FILE *f);
/* A one-shot copy of av over [0, horizon): periods unrolled, withdrawals cut. */
void hf_avail_unroll(const hf_avail_t *av, double horizon, hf_avail_t *out);

/* ----------------------------------------------------------- generators --- */
/* Build the availability of spec (model trace: load spec->file). */
int hf_avail_generate(hf_avail_t *av, const hf_avail_spec_t *spec);
/* Markov model: π_k, λ_k of client k.  mix uniform: (pi, lambda).  mix cafed
 * (arodio/CA-Fed data/constants.py and utils.py): exact quotas of types
 * 1/2 available-shifting, 1/4 unavailable-stable, 1/4 unavailable-shifting,
 * dealt by a seeded permutation; available π = 1/2 + a, unavailable
 * π = 1/2 − a; stable λ = max(s, 1−1/π, 1−1/(1−π)), shifting λ =
 * (N(0,0.01²)·… + 0.01)/2 clipped (≈ 0), unstable λ = max(−s, …). */
void hf_avail_markov_params(const hf_avail_spec_t *spec, int k, double *pi, double *lambda);
/* Fill spec from [availability] keys (nclients and seed from the suite). */
int hf_avail_spec_from_conf(hf_avail_spec_t *spec, const hf_conf_t *c, int nclients, uint64_t seed);
void hf_avail_spec_defaults(hf_avail_spec_t *spec);

/* ------------------------------------------------------------ importers --- */
/* Step function "time,count" (header/comment lines skipped): count(t) live
 * instances on [t_i, t_{i+1}).  time_unit: seconds per unit of the time
 * column.  Client i (after a seeded permutation when shuffle) is online while
 * count > i.  nclients <= 0: the maximum count.  One-shot, ends at the last time. */
int hf_avail_import_steps(hf_avail_t *av, const char *path, double time_unit, int nclients,
                          int shuffle, uint64_t seed);
/* spot-traces JSON {"metadata":{"gap_seconds":G},"data":[v0,v1,...]}: value i
 * holds on [i·G, (i+1)·G).  counts = 0: values are preemption flags of one
 * instance (1 = preempted = offline); every client follows that trace
 * circularly shifted by a seeded whole number of gaps (periodic, period
 * n·G).  counts = 1: values are live-instance counts, mapped like the steps
 * importer. */
int hf_avail_import_spot_json(hf_avail_t *av, const char *path, int counts, int nclients,
                              int shuffle, uint64_t seed);

/* ------------------------------------------- data transfer to participants --- */
/* Data transfer to participants (availability.transfer): before round `round`'s session
 * each of the m selected clients i (in selection order; want[i] nonzero, want NULL: all)
 * receives part of the data of one client offline at the round start
 * (online[k] == 0) that has samples (off: the partition's N + 1 offsets).
 * Donors are drawn uniformly without replacement, in selection order, from a
 * stream keyed by (seed, HF_RNG_AVAIL, round); donor[i] = -1 and count[i] = 0
 * when none is left.  count[i] = ceil(fraction · n_donor), at least 1, at most
 * n_donor.  A pure function of its inputs: every rank plans the same. */
void hf_avail_transfer_plan(uint64_t seed, int round, int N, const unsigned char *online, const long *off,
                            int m, const int *want, double fraction, int *donor,
                            long *count);
/* Which samples move: the first `count` entries of a permutation of the
 * donor's local positions 0 .. n_donor−1 keyed by (seed, HF_RNG_AVAIL, round,
 * donor) into out (scratch: n_donor ints). */
void hf_avail_transfer_samples(uint64_t seed, int round, int donor, long n_donor, long count, int *scratch,
                               long *out);

/* --------------------------------------------------------------- stats --- */
/* Print mean availability, session-length distribution, diurnal profile and
 * per-client availability quantiles over [0, horizon) (horizon <= 0: the
 * period, or the last interval end). */
void hf_avail_stats(const hf_avail_t *av, double horizon, FILE *out);

#endif
