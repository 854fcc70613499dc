/*
 * options.h — the one options table (every suite key, its type, default, range
 * and documentation) and the typed parameters the engine runs from.
 *
 * The table drives parsing (conf.c), `hetfl help keys`, `hetfl validate` and the
 * /config string stored in every result: adding a key here is all it takes to
 * make it parse, validate and appear in the docs.
 */
#ifndef HF_OPTIONS_H
#define HF_OPTIONS_H
#include "conf.h"
#include "nn.h"
#include <stdint.h>

extern const hf_opt_t hf_options[];

typedef enum { HF_DS_FMNIST, HF_DS_SYNTHETIC, HF_DS_LEAF } hf_dsname_t;
typedef enum { HF_PART_IID, HF_PART_SHARDS, HF_PART_DIRICHLET, HF_PART_NATURAL } hf_partname_t;
typedef enum { HF_TOPO_RANK0, HF_TOPO_ALLREDUCE } hf_topo_t;

/* A device class: what the simulated clock and the energy model need. */
typedef struct {
    char name[32];
    int cores;              /* OpenBLAS threads a client of this class trains with */
    double gflops;          /* effective training throughput, GFLOP/s */
    double up_mbps, down_mbps;  /* link bandwidth, Mbit/s */
    double latency_s;       /* one-way latency per transfer */
    double active_w;        /* power while computing, W */
    double radio_j_per_mb;  /* radio energy per MB transferred */
} hf_devclass_t;

typedef struct {
    /* [run] */
    char name[128];
    uint64_t seed;
    char output[4096];          /* results path ("" → default) */
    /* [data] */
    hf_dsname_t dataset;
    char data_path[4096];
    hf_partname_t partition;
    double alpha;
    int min_samples;
    long train_samples;         /* 0 = all */
    double test_fraction;
    double syn_alpha, syn_beta;
    int syn_iid, syn_devices;
    /* [model] */
    hf_model_cfg_t model;
    /* [federation] */
    int clients, clients_per_round, rounds, local_epochs, batch_size, eval_every;
    float lr, momentum, weight_decay, clip;
    /* [aggregation] */
    hf_topo_t topology;
    int exact;
    /* [devices] */
    hf_devclass_t dev;          /* the default class (one class until the devices issue) */
    /* [energy] */
    double carbon_intensity;    /* gCO2e/kWh */
} hf_params_t;

/* Fill p from a loaded, validated configuration.  Cross-key checks
 * (clients_per_round <= clients, ...) → HF_EINPUT "FILE:LINE: key 'x': ...". */
int hf_params_from_conf(hf_params_t *p, const hf_conf_t *c);

/* Print every key with type, default and documentation (hetfl help keys). */
void hf_options_print(FILE *out, int markdown);

#endif
