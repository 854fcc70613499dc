/*
 * options.c — the suite keys.  Names are contracts (DESIGN.md): tests and users'
 * scripts rely on them.  Keep the doc strings short and precise: they are the
 * reference documentation printed by `hetfl help keys`.
 */
#include "options.h"
#include "hf_util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NONE 1, 0          /* no numeric range */

const hf_opt_t hf_options[] = {
    /* [run] */
    {"run.name", HF_OPT_STRING, "hetfl", NONE, NULL,
     "experiment name; used in the default results path"},
    {"run.seed", HF_OPT_INT, "1", 0, 2147483647, NULL,
     "master seed: every random draw is keyed by (seed, round, client, purpose)"},
    {"run.output", HF_OPT_STRING, "", NONE, NULL,
     "results file; default results/<name>[-v<variant>]-s<seed>.h5 (relative to the cwd)"},
    /* [data] */
    {"data.dataset", HF_OPT_CHOICE, "fashion-mnist", NONE, "fashion-mnist|synthetic|leaf",
     "fashion-mnist (Debian dataset-fashion-mnist), synthetic (FedProx Synthetic(a,b)), leaf (LEAF JSON)"},
    {"data.path", HF_OPT_PATH, "", NONE, NULL,
     "fashion-mnist: directory of the IDX files (default /usr/share/datasets/fashion-mnist); "
     "leaf: the JSON file (train split)"},
    {"data.test_path", HF_OPT_PATH, "", NONE, NULL,
     "leaf: JSON file of the test split (default: hold out data.test_fraction of each user)"},
    {"data.holdout", HF_OPT_FLOAT, "0.1", 0, 0.9, NULL,
     "leaf without data.test_path: fraction of each user's samples held out as the test set"},
    {"data.partition", HF_OPT_CHOICE, "iid", NONE, "iid|shards|dirichlet|natural",
     "iid (equal random shares), shards (McMahan: 2 label-sorted shards per client), "
     "dirichlet (per-class Dir(alpha)), natural (per-user data of synthetic/leaf)"},
    {"data.alpha", HF_OPT_FLOAT, "0.5", 1e-6, 1e6, NULL,
     "Dirichlet concentration for partition = dirichlet (small = skewed)"},
    {"data.min_samples", HF_OPT_INT, "10", 0, 1000000, NULL,
     "dirichlet: resample until every client holds at least this many samples"},
    {"data.train_samples", HF_OPT_INT, "0", 0, 100000000, NULL,
     "use only the first N training samples (0 = all); for quick tests"},
    {"data.test_fraction", HF_OPT_FLOAT, "1.0", 1e-6, 1.0, NULL,
     "fashion-mnist: fraction of the 10,000 test images evaluated; leaf without test_path: "
     "fraction of each user's samples held out"},
    {"data.synthetic_alpha", HF_OPT_FLOAT, "1", 0, 1e6, NULL,
     "Synthetic(alpha,beta): std of the model means u_k (heterogeneity of models)"},
    {"data.synthetic_beta", HF_OPT_FLOAT, "1", 0, 1e6, NULL,
     "Synthetic(alpha,beta): std of the feature means B_k (heterogeneity of data)"},
    {"data.synthetic_iid", HF_OPT_BOOL, "no", NONE, NULL,
     "Synthetic: the iid variant (one W,b for all devices, zero feature means)"},
    {"data.synthetic_devices", HF_OPT_INT, "30", 1, 100000, NULL,
     "Synthetic: number of devices generated (natural partition: one client each)"},
    /* [model] */
    {"model.arch", HF_OPT_CHOICE, "mlp", NONE, "logreg|mlp|cnn",
     "logreg, mlp (ReLU, widths model.hidden), cnn (McMahan: conv5x5x32-pool-conv5x5x64-pool-fc512)"},
    {"model.hidden", HF_OPT_INTLIST, "200,200", 1, 1000000, NULL,
     "mlp: hidden layer widths (2NN = 200,200); cnn: conv1,conv2,fc channels (32,64,512)"},
    /* [federation] */
    {"federation.strategy", HF_OPT_CHOICE, "fedavg", NONE, "fedavg",
     "server algorithm: fedavg (sample-weighted model averaging, McMahan et al. 2017)"},
    {"federation.clients", HF_OPT_INT, "100", 1, 100000, NULL,
     "number of virtual clients N (natural partitions: number of users, or fewer)"},
    {"federation.clients_per_round", HF_OPT_INT, "10", 1, 100000, NULL,
     "clients selected per round, uniformly without replacement"},
    {"federation.rounds", HF_OPT_INT, "20", 1, 10000000, NULL, "number of rounds"},
    {"federation.local_epochs", HF_OPT_INT, "1", 1, 100000, NULL,
     "local epochs E (a fresh shuffle each epoch)"},
    {"federation.batch_size", HF_OPT_INT, "10", 1, 65536, NULL, "local minibatch size B"},
    {"federation.lr", HF_OPT_FLOAT, "0.05", 0, 1e6, NULL, "local SGD learning rate"},
    {"federation.momentum", HF_OPT_FLOAT, "0", 0, 1, NULL,
     "local SGD momentum (buffer reset at the start of each round)"},
    {"federation.weight_decay", HF_OPT_FLOAT, "0", 0, 1e6, NULL, "local L2 weight decay"},
    {"federation.clip", HF_OPT_FLOAT, "0", 0, 1e12, NULL,
     "clip each local gradient to this global L2 norm (0 = off)"},
    {"federation.eval_every", HF_OPT_INT, "1", 1, 10000000, NULL,
     "evaluate the global model on the test set every N rounds (and after the last)"},
    /* [aggregation] */
    {"aggregation.topology", HF_OPT_CHOICE, "rank0", NONE, "rank0|allreduce",
     "rank0: updates travel to rank 0, which sums them (an FL server); allreduce: partial sums "
     "reduced with MPI_Allreduce"},
    {"aggregation.exact", HF_OPT_BOOL, "yes", NONE, NULL,
     "yes: order-independent 64-bit fixed-point sums, bitwise identical for any rank count and "
     "topology; no: plain float sums (faster, not reproducible across layouts)"},
    /* [devices] — one class until the devices issue lands */
    {"devices.clock", HF_OPT_CHOICE, "model", NONE, "model",
     "model: simulated time from FLOPs and the device class (deterministic)"},
    {"devices.cores", HF_OPT_INT, "1", 1, 1024, NULL,
     "OpenBLAS threads each client trains with (part of the determinism contract)"},
    {"devices.gflops", HF_OPT_FLOAT, "10", 1e-6, 1e9, NULL,
     "effective training speed of the device class, GFLOP/s (simulated clock)"},
    {"devices.up_mbps", HF_OPT_FLOAT, "10", 1e-6, 1e9, NULL, "uplink bandwidth, Mbit/s"},
    {"devices.down_mbps", HF_OPT_FLOAT, "50", 1e-6, 1e9, NULL, "downlink bandwidth, Mbit/s"},
    {"devices.latency_s", HF_OPT_FLOAT, "0.05", 0, 1e6, NULL, "latency per transfer, s"},
    {"devices.active_w", HF_OPT_FLOAT, "5", 0, 1e6, NULL, "power while training, W"},
    {"devices.radio_j_per_mb", HF_OPT_FLOAT, "0.1", 0, 1e6, NULL,
     "radio energy per MB sent or received, J"},
    /* [energy] */
    {"energy.carbon_intensity", HF_OPT_FLOAT, "475", 0, 1e5, NULL,
     "grid carbon intensity, gCO2e/kWh (default: world average 2019, IEA, as listed by "
     "Green Algorithms' CI_aggregated.csv)"},
    {NULL, 0, NULL, 0, 0, NULL, NULL}
};

static const char *oget(const hf_conf_t *c, const char *k)
{
    const char *v = hf_conf_get(c, k);
    return v ? v : "";
}

static void copy_str(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src);
}

static int cross_err(const hf_conf_t *c, const char *key, const char *fmt, const char *detail)
{
    const char *o = hf_conf_origin(c, key);
    return hf_seterr(HF_EINPUT, "%s: key '%s': %s %s", o ? o : "?", key, fmt, detail);
}

int hf_params_from_conf(hf_params_t *p, const hf_conf_t *c)
{
    memset(p, 0, sizeof *p);
    copy_str(p->name, sizeof p->name, oget(c, "run.name"));
    p->seed = (uint64_t)hf_conf_int(c, "run.seed");
    copy_str(p->output, sizeof p->output, oget(c, "run.output"));

    const char *ds = oget(c, "data.dataset");
    p->dataset = !strcmp(ds, "synthetic") ? HF_DS_SYNTHETIC : !strcmp(ds, "leaf") ? HF_DS_LEAF
                                                                                  : HF_DS_FMNIST;
    copy_str(p->data_path, sizeof p->data_path, oget(c, "data.path"));
    const char *pa = oget(c, "data.partition");
    p->partition = !strcmp(pa, "shards") ? HF_PART_SHARDS
                   : !strcmp(pa, "dirichlet") ? HF_PART_DIRICHLET
                   : !strcmp(pa, "natural") ? HF_PART_NATURAL : HF_PART_IID;
    p->alpha = hf_conf_float(c, "data.alpha");
    p->min_samples = (int)hf_conf_int(c, "data.min_samples");
    p->train_samples = hf_conf_int(c, "data.train_samples");
    p->test_fraction = hf_conf_float(c, "data.test_fraction");
    p->syn_alpha = hf_conf_float(c, "data.synthetic_alpha");
    p->syn_beta = hf_conf_float(c, "data.synthetic_beta");
    p->syn_iid = hf_conf_bool(c, "data.synthetic_iid");
    p->syn_devices = (int)hf_conf_int(c, "data.synthetic_devices");

    const char *arch = oget(c, "model.arch");
    p->model.arch = !strcmp(arch, "logreg") ? HF_ARCH_LOGREG
                    : !strcmp(arch, "cnn") ? HF_ARCH_CNN : HF_ARCH_MLP;
    int hid[HF_MAX_HIDDEN + 1];
    int nh = hf_conf_intlist(c, "model.hidden", hid, HF_MAX_HIDDEN + 1);
    if (nh > HF_MAX_HIDDEN)
        return cross_err(c, "model.hidden", "at most 8 hidden layers,", "got more");
    if (p->model.arch == HF_ARCH_CNN) {
        const char *o = hf_conf_origin(c, "model.hidden");
        if (o && !strcmp(o, "default")) nh = 0;  /* cnn defaults 32,64,512 */
        else if (nh != 3)
            return cross_err(c, "model.hidden", "cnn takes three widths (conv1,conv2,fc),",
                             "e.g. 32,64,512");
    }
    p->model.nhidden = p->model.arch == HF_ARCH_LOGREG ? 0 : nh;
    for (int i = 0; i < p->model.nhidden; i++) p->model.hidden[i] = hid[i];

    p->clients = (int)hf_conf_int(c, "federation.clients");
    p->clients_per_round = (int)hf_conf_int(c, "federation.clients_per_round");
    p->rounds = (int)hf_conf_int(c, "federation.rounds");
    p->local_epochs = (int)hf_conf_int(c, "federation.local_epochs");
    p->batch_size = (int)hf_conf_int(c, "federation.batch_size");
    p->lr = (float)hf_conf_float(c, "federation.lr");
    p->momentum = (float)hf_conf_float(c, "federation.momentum");
    p->weight_decay = (float)hf_conf_float(c, "federation.weight_decay");
    p->clip = (float)hf_conf_float(c, "federation.clip");
    p->eval_every = (int)hf_conf_int(c, "federation.eval_every");
    if (p->clients_per_round > p->clients) {
        char d[96];
        snprintf(d, sizeof d, "%d > federation.clients = %d", p->clients_per_round, p->clients);
        return cross_err(c, "federation.clients_per_round", "cannot exceed the number of clients:", d);
    }
    if (p->partition == HF_PART_NATURAL && p->dataset == HF_DS_FMNIST)
        return cross_err(c, "data.partition", "natural needs per-user data:",
                         "use data.dataset = synthetic or leaf");

    p->topology = !strcmp(oget(c, "aggregation.topology"), "allreduce") ? HF_TOPO_ALLREDUCE
                                                                      : HF_TOPO_RANK0;
    p->exact = hf_conf_bool(c, "aggregation.exact");

    copy_str(p->dev.name, sizeof p->dev.name, "default");
    p->dev.cores = (int)hf_conf_int(c, "devices.cores");
    p->dev.gflops = hf_conf_float(c, "devices.gflops");
    p->dev.up_mbps = hf_conf_float(c, "devices.up_mbps");
    p->dev.down_mbps = hf_conf_float(c, "devices.down_mbps");
    p->dev.latency_s = hf_conf_float(c, "devices.latency_s");
    p->dev.active_w = hf_conf_float(c, "devices.active_w");
    p->dev.radio_j_per_mb = hf_conf_float(c, "devices.radio_j_per_mb");
    p->carbon_intensity = hf_conf_float(c, "energy.carbon_intensity");
    return 0;
}

static const char *type_name(hf_opt_type_t t)
{
    switch (t) {
    case HF_OPT_INT: return "int";
    case HF_OPT_FLOAT: return "float";
    case HF_OPT_BOOL: return "yes|no";
    case HF_OPT_STRING: return "string";
    case HF_OPT_CHOICE: return "choice";
    case HF_OPT_INTLIST: return "int list";
    case HF_OPT_PATH: return "path";
    }
    return "?";
}

void hf_options_print(FILE *out, int markdown)
{
    if (markdown) {
        fprintf(out, "| key | type | default | range / choices | meaning |\n|---|---|---|---|---|\n");
    }
    for (const hf_opt_t *o = hf_options; o->key; o++) {
        char range[128] = "";
        if (o->type == HF_OPT_CHOICE) snprintf(range, sizeof range, "%s", o->choices);
        else if (o->min <= o->max) snprintf(range, sizeof range, "[%g, %g]", o->min, o->max);
        if (markdown)
            fprintf(out, "| `%s` | %s | `%s` | %s | %s |\n", o->key, type_name(o->type), o->def,
                    range, o->doc);
        else
            fprintf(out, "%-30s %-8s default '%s'%s%s\n    %s\n", o->key, type_name(o->type), o->def,
                    range[0] ? "  " : "", range, o->doc);
    }
}
