/*
 * fed.h — the federation engine: one synchronous round loop (docs/ARCHITECTURE.md, "One
 * round"): plan → broadcast → local training → aggregation → evaluation → record.
 */
#ifndef HF_FED_H
#define HF_FED_H
#include <mpi.h>
#include <stdio.h>
#include "conf.h"
#include "options.h"

typedef struct {
    hf_params_t p;
    const hf_conf_t *conf;
    const char *suite;          /* suite path as given */
    int variant;                /* -1 when none */
    const char *command_line;
    const char *output;         /* results path (resolved) */
    int force, quiet;
    const char *resume;         /* continue this results file from its checkpoint (NULL: new run) */
    FILE *out;                  /* log stream (rank 0) */
} hf_fed_opts_t;

/* Per-phase wall time of a run, for `hetfl bench` (rank 0's view, seconds). */
typedef struct {
    int rounds;
    double total;               /* whole run incl. data loading */
    double loop;                /* the round loop */
    double compute, agg, eval, io, bcast, plan, gather;  /* phases of the loop */
    double kernel;              /* inside numeric kernels (train steps + eval forward) */
    double agg_comm;            /* MPI time inside aggregation */
    double loop_cpu;            /* process CPU seconds (all threads) of the round loop */
    double first_round_cpu;     /* ... of its first round (hetfl bench's warm-up; 0 when not measured) */
    double final_accuracy;
    long nparams;
} hf_fed_timing_t;

/* Run a whole experiment on comm.  Collective.  Returns 0 or an HF_E* status,
 * identical on every rank; the message is in hf_errmsg() on every rank.
 * timing may be NULL. */
int hf_fed_run(const hf_fed_opts_t *o, MPI_Comm comm, hf_fed_timing_t *timing);
/* The memory model (setup.c, docs/scale.md): the bytes each rank may still
 * allocate (the minimum over the ranks of comm; HETFL_MEMORY_LIMIT caps it),
 * and what a rank keeps for `clients` registered clients whatever their data
 * (rank 0's /clients row included); a run whose population needs more is
 * refused before its data load (exit 2, key federation.clients). */
double hf_mem_per_rank(MPI_Comm comm);
double hf_population_bytes(const hf_params_t *p, const hf_conf_t *c);

#endif
