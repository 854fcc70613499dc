/*
 * h5out.h — the results file (docs/ARCHITECTURE.md, "Results file"): written by rank 0,
 * flushed every round, created under a temporary name and renamed into place
 * at the first flush, so a killed job leaves either nothing or a readable file,
 * and an existing good file is never replaced by a half-written one.
 *
 * Paths (contracts): / (attrs), /config, /system, /rounds, /clients,
 * /participation, /model/final.  Column meanings are in docs/results.md.
 */
#ifndef HF_H5OUT_H
#define HF_H5OUT_H
#include <stdint.h>
#include <hdf5.h>
#include "nn.h"

/* Outcome of a selected client in a round (HDF5 enum "outcome"). */
typedef enum {
    HF_OUT_COMPLETED = 0,     /* update kept */
    HF_OUT_DROPPED_OFFLINE,   /* went offline before finishing */
    HF_OUT_LATE,              /* missed the round deadline */
    HF_OUT_OVER_BUDGET,       /* could not pay the round's energy */
    HF_OUT_OVERCOMMITTED,     /* finished after the first K (over-commitment) */
    HF_OUT_STRAGGLER,         /* straggler whose work was discarded */
    HF_OUT_PARTIAL,           /* kept, but sent only the local steps that fit before the
                               * deadline (federation.partial_work) */
    HF_OUT_BACKUP,            /* finished after the fastest m-b: a backup worker the server
                               * did not wait for (federation.backup_workers) */
    HF_OUT_NCODES
} hf_outcome_t;
extern const char *const hf_outcome_names[HF_OUT_NCODES];

typedef struct {
    int32_t round;
    double sim_time_s;        /* simulated time at the end of the round */
    double wall_time_s;       /* measured wall time of the round (not deterministic) */
    int32_t available, selected, completed, dropped, late;
    double train_loss;        /* sample-weighted mean of completed clients' mean local loss */
    double test_loss, test_accuracy;  /* NaN when not evaluated this round */
    uint64_t bytes_up, bytes_down;
    double energy_j, carbon_g;
    double consensus_distance; /* decentralized: (1/N) Σ_i ‖x_i − x̄‖² after gossip; NaN otherwise */
    /* measured wall-clock breakdown (not deterministic) */
    double wall_compute_s, wall_agg_s, wall_eval_s, wall_io_s;
    double energy_j_measured; /* RAPL (energy.c): Σ of the participations' figures; NaN where
                               * unreadable; not deterministic */
    double dp_epsilon;        /* differential privacy: ε spent so far at the strategy's δ; NaN without */
    /* per-client evaluation (client_eval.c): accuracy of the clients' own models on
     * their test splits, mean, sample-weighted mean, 10th percentile (nearest rank),
     * worst; NaN when not evaluated or data.client_test_fraction = 0 */
    double client_acc_mean, client_acc_wmean, client_acc_p10, client_acc_min;
} hf_round_rec_t;

typedef struct {
    int32_t round, client;
    int32_t outcome;          /* hf_outcome_t */
    int32_t steps;            /* local SGD steps done */
    double compute_s_model, compute_s_measured, comm_s;
    double energy_j, local_loss, width;
    uint64_t bytes_up;
    double carbon_g;          /* energy_j x intensity of the client's region at the round start */
    double energy_j_measured; /* RAPL share of the hosting rank's training energy (not deterministic) */
    int32_t staleness;        /* federation.mode = async: server version at arrival − start version
                               * (async.c); 0 in synchronous rounds */
    int32_t samples_data;     /* availability.transfer: samples received from an offline client
                               * before the session (engine/plan.c, avail.c); 0 otherwise */
    uint64_t bytes_data;      /* their bytes: samples_data x (features x 4 + 4) */
} hf_part_rec_t;

typedef struct {
    int32_t id;
    char device_class[32];
    int64_t samples;
    char region[16];
    double energy_budget_j;   /* +inf when unlimited */
    int32_t rank;             /* MPI rank that hosts the client */
} hf_client_rec_t;

typedef struct hf_h5out hf_h5out_t;

/* Rank 0 only.  Fails (HF_EINPUT) when `path` exists and !force.
 * The file is created as PATH.tmp-PID and renamed at the first hf_h5out_flush. */
int hf_h5out_open(hf_h5out_t **out, const char *path, int force);
int hf_h5out_root_attr(hf_h5out_t *h, const char *name, const char *value);
int hf_h5out_root_attr_int(hf_h5out_t *h, const char *name, long value);
int hf_h5out_root_attr_double(hf_h5out_t *h, const char *name, double value);
int hf_h5out_config(hf_h5out_t *h, const char *text);
int hf_h5out_system_attr(hf_h5out_t *h, const char *name, const char *value);
int hf_h5out_clients(hf_h5out_t *h, const hf_client_rec_t *c, long n);
/* The same, rows made by fill(ctx, first, count, rows) a block at a time:
 * memory for one block (65,536 rows), not for the n. */
typedef void (*hf_client_fill_t)(void *ctx, long first, long count, hf_client_rec_t *rows);
int hf_h5out_clients_by(hf_h5out_t *h, long n, hf_client_fill_t fill, void *ctx);
int hf_h5out_round(hf_h5out_t *h, const hf_round_rec_t *r);
int hf_h5out_participation(hf_h5out_t *h, const hf_part_rec_t *p, long n);
int hf_h5out_model(hf_h5out_t *h, const char *group, const hf_model_t *m, const float *params);
int hf_h5out_flush(hf_h5out_t *h);
/* Nonzero once HDF5 failed to write a results file out (disk full): the
 * process must then end without shutting HDF5 down (main.c), which would crash. */
int hf_h5out_wedged(void);
/* Close; when `keep` is 0 (a failed run before any flush) the temp file is removed. */
int hf_h5out_close(hf_h5out_t *h, int keep);
const char *hf_h5out_path(const hf_h5out_t *h);
/* For checkpoint.c: the HDF5 file, the rows written so far, reopening an
 * existing results file for appending (resume), and rolling the tables back. */
hid_t hf_h5out_file(const hf_h5out_t *h);
/* Units and a one-line description of each column of a table, in column order,
 * ended by {NULL}: units "1" for a dimensionless number (fraction, flag), "" for
 * a label or identifier.  Full meanings: docs/results.md (tests/docs.sh checks
 * that the docs list exactly these columns). */
typedef struct { const char *name, *units, *doc; } hf_col_doc_t;
/* On dataset d: attribute `description` (= what) and three aligned string-array
 * attributes column_names, column_units, column_descriptions. */
void hf_h5out_describe(hid_t d, const char *what, const hf_col_doc_t *cols);
/* Append n rows of the compound `type` to the table /name of file f, creating
 * it (extendible, 64-row chunks) on first use; a resumed file's rows are kept.
 * `what` and `cols` (may be NULL) describe it (hf_h5out_describe) when it is
 * created, or when an older file's table has no description. */
int hf_h5out_append_table(hid_t f, const char *name, hid_t type, const void *rows, int n,
                          const char *what, const hf_col_doc_t *cols);
/* /rounds_by_width of file f: one row (round, width, test_accuracy, test_loss)
 * for each of n widths (strategies that evaluate several model widths). */
int hf_h5out_width_rows(hid_t f, int round, int n, const double *width, const double *acc, const double *loss);
void hf_h5out_rows(const hf_h5out_t *h, long *nrounds, long *npart);
int hf_h5out_reopen(hf_h5out_t **out, const char *path);
/* Roll /rounds and /participation back to nrounds / npart rows, and every other
 * round table to the rows of rounds up to /rounds' last kept round (resume). */
int hf_h5out_truncate(hf_h5out_t *h, long nrounds, long npart);
/* Is /name of file f a round table: a 1-D compound dataset whose first column is
 * an integer `round`, other than /rounds and /participation?  (/rounds_by_width,
 * /feddf, /privacy, ...: rolled back on resume, compared by hetfl compare.) */
int hf_h5_round_table(hid_t f, const char *name);



/* ---- reading back (compare, report, resume) ---- */
typedef struct {
    hid_t file;
    hf_round_rec_t *rounds;
    long nrounds;
    hf_part_rec_t *part;
    long npart;
    char *config;            /* /config text */
} hf_h5in_t;

/* Open a results file and read /rounds, /participation and /config.
 * Errors → HF_EINPUT "PATH: ...". */
int hf_h5in_open(hf_h5in_t *in, const char *path);
void hf_h5in_close(hf_h5in_t *in);
#endif
