/*
 * options.h — the one options table (every suite key, its type, default, range
 * and documentation) and the typed parameters the engine runs from.
 *
 * The table drives parsing (conf.c), `hetfl help keys`, `hetfl validate` and the
 * /config string stored in every result: adding a key here (or to a strategy's
 * .keys) is all it takes to make it parse, validate and appear in the docs.
 */
#ifndef HF_OPTIONS_H
#define HF_OPTIONS_H
#include "conf.h"
#include "nn.h"
#include "devices.h"
#include <stdint.h>

/* The whole table: the engine's keys with every registered strategy's own
 * keys ([fedprox], [heterofl], ...) and choice lists generated from the
 * registries (strategies, selection policies).  Built once. */
const hf_opt_t *hf_options_table(void);

typedef enum { HF_DS_FMNIST, HF_DS_SYNTHETIC, HF_DS_LEAF, HF_DS_FEMNIST, HF_DS_SHAKESPEARE, HF_DS_CIFAR10,
               HF_DS_CIFAR100, HF_DS_TFF, HF_DS_HDF5, HF_DS_SYNTH_CLUSTERED } hf_dsname_t;
typedef enum { HF_PART_IID, HF_PART_SHARDS, HF_PART_DIRICHLET, HF_PART_NATURAL } hf_partname_t;
typedef enum { HF_TOPO_RANK0, HF_TOPO_ALLREDUCE } hf_topo_t;

/* Device classes (hf_devclass_t), the class mix and round policies: devices.h. */

typedef struct {
    /* [run] */
    char name[128];
    uint64_t seed;
    char output[4096];          /* results path ("" → default) */
    int checkpoint_every;       /* rounds between checkpoints (0: only on signals) */
    /* [data] */
    hf_dsname_t dataset;
    char data_path[4096];
    hf_partname_t partition;
    double alpha;
    int min_samples;
    long train_samples;         /* 0 = all */
    double test_fraction;
    double client_test_fraction; /* per-client test split (0: no per-client evaluation) */
    int client_test_natural;    /* per-client test split: the test file's users (data.client_test_natural) */
    double syn_alpha, syn_beta;
    int syn_iid, syn_sensitive, syn_devices;
    double syn_size_mu, syn_size_sigma; /* a device's samples: int(LogNormal(mu, sigma)) + syn_size_min */
    long syn_size_min;
    int on_demand;              /* data.on_demand: clients' samples made when used (data_ondemand.c) */
    int od_eval_clients;        /* data.on_demand_eval_clients */
    long od_client_samples;     /* data.on_demand_client_samples (0: the materialised iid sizes) */
    int clu_dim;                /* synthetic-clustered: features, samples per device, label flip */
    long clu_train, clu_test;
    double clu_hetero;
    int augment;                /* data.augment: 1 = random crop (4-pixel padding) + flip */
    /* [stream] data streams (stream.c); stream_rate 0: off */
    double stream_rate;         /* samples arriving at each client per round */
    long stream_initial;        /* samples each client holds before round 1 */
    long stream_memory;         /* samples a client keeps (0: all received) */
    long stream_window;         /* per-client evaluation: the last W arrivals' test samples (0: all) */
    int stream_drift;           /* stream.order = drift: arrivals class by class */
    int stream_reservoir;       /* stream.policy = reservoir or weighted: a reservoir memory (else fifo) */
    double stream_weight_power; /* stream.policy = weighted: beta of a held sample's weight (A/m)^beta (else 0) */
    double stream_rate_spread;  /* stream.rate_spread: client rates uniform in rate (1 ± s) */
    char stream_trace[4096];    /* stream.trace: arrivals client,round,samples ("": stream.rate) */
    /* [model] */
    hf_model_cfg_t model;
    long norm_samples;          /* model.norm = static-bn: training samples of the evaluation statistics */
    /* [federation] */
    int clients, clients_per_round, rounds, local_epochs, batch_size, eval_every;
    float lr, momentum, weight_decay, clip;
    int finetune_steps;         /* personal.finetune_steps */
    /* [aggregation] */
    hf_topo_t topology;
    int exact;
    /* [devices] */
    hf_devclass_t dev;          /* the class of the devices.cores, ... keys ("custom") */
    hf_devices_t devs;          /* classes in use, shares, clock and round policies */
    /* [energy] */
    double carbon_intensity;    /* gCO2e/kWh */
    /* strategies and decentralized training (registry.c fills these) */
    char strategy[32];          /* federation.strategy: a name in hf_strategies[] */
    double stragglers;          /* federation.stragglers */
    int decentralized;          /* federation.mode = decentralized */
    double fedprox_mu, fednova_mu;
    char server_opt[16];        /* server.optimizer */
    double server_lr, server_beta1, server_beta2, server_tau;
    int server_v_tau2;          /* server.v_init = tau2 */
    char topo_kind[16];         /* topology.kind */
    double topo_p;
    char topo_path[4096];
    int topo_local_steps;
} hf_params_t;

/* Fill p from a loaded, validated configuration.  Cross-key checks
 * (clients_per_round <= clients, ...) → HF_EINPUT "FILE:LINE: key 'x': ...". */
int hf_params_from_conf(hf_params_t *p, const hf_conf_t *c);

/* Print every key with type, default and documentation (hetfl help keys):
 * format 0 text, 1 a Markdown table (docs/keys.md), 2 troff .TP entries (hetfl.1). */
void hf_options_print(FILE *out, int format);

#endif
