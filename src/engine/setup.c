/*
 * setup.c — everything before a run's first round, in the order it happens:
 * data (data_load.c), model and buffers, clients on ranks, the algorithm
 * (strategy, server optimizer, decentralized graph), the simulated system
 * (devices, availability and selection, energy and carbon), and the results
 * file with its header; and the teardown.  Every step is collective where it
 * can fail, so all ranks agree on the status.
 */
#include "config.h"
#include "run.h"
#include "checkpoint.h"
#include "cstore.h"
#include "data_load.h"
#include "evaluate.h"
#include "hf_util.h"
#include "mia.h"
#include "aia.h"
#include "placement.h"
#include "stream.h"
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int hf_run_agree(int rc, MPI_Comm comm)
{
    int all = rc;
    MPI_Allreduce(&rc, &all, 1, MPI_INT, MPI_MAX, comm);
    return all;
}

/* Bytes each rank may still allocate: the smaller of MemAvailable and the
 * cgroup's limit less its usage, shared by the ranks of the node; the minimum
 * over all ranks, so every rank decides alike.  HETFL_MEMORY_LIMIT (bytes,
 * suffixes K M G) caps it: tests, and nodes whose memory is shared otherwise. */
double hf_mem_per_rank(MPI_Comm comm)
{
    double avail = INFINITY;
    char line[256];
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        double kb;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "MemAvailable: %lf kB", &kb) == 1) avail = kb * 1024;
        fclose(f);
    }
    double lim = NAN, cur = 0;
    if ((f = fopen("/sys/fs/cgroup/memory.max", "r"))) {  /* cgroup v2; "max" = none */
        if (fscanf(f, "%lf", &lim) != 1) lim = NAN;
        fclose(f);
    }
    if ((f = fopen("/sys/fs/cgroup/memory.current", "r"))) {
        if (fscanf(f, "%lf", &cur) != 1) cur = 0;
        fclose(f);
    }
    if (isfinite(lim) && lim - cur < avail) avail = lim - cur;
    MPI_Comm node;
    int nlocal = 1;
    if (MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
        MPI_Comm_size(node, &nlocal);
        MPI_Comm_free(&node);
    }
    avail /= nlocal;
    const char *env = getenv("HETFL_MEMORY_LIMIT");
    if (env && *env) {
        char *end;
        double v = strtod(env, &end);
        if (*end == 'K' || *end == 'k') v *= 1024;
        else if (*end == 'M' || *end == 'm') v *= 1024.0 * 1024;
        else if (*end == 'G' || *end == 'g') v *= 1024.0 * 1024 * 1024;
        if (v > 0 && v < avail) avail = v;
    }
    double all = avail;
    MPI_Allreduce(&avail, &all, 1, MPI_DOUBLE, MPI_MIN, comm);
    return all;
}

/* Bytes every rank keeps for each registered client, whether or not it ever
 * takes part, at their peak (docs/scale.md): the device class and the
 * permutation that deals the classes (4 + 4; none when dealt by the bijection,
 * deal.h, but 4 for the class array with materialised data); the partition's
 * offset (8, none with data.on_demand); a selection policy's per-client state
 * and its priors (109 + 24, none when stateless: uniform without availability,
 * hf_vol_stateless); the energy model's regions (a file's: 4; a mix's: 4 + 4
 * when dealt by the permutation, none by the bijection) and top-k memory
 * slots (8), each only when configured; and the budgets spent (cstore.c:
 * 24 bytes a slot, slots for the rounds × clients a round who can spend,
 * at most one a client).  /clients is written a block at a time (h5out.c): not per client. */
double hf_population_bytes(const hf_params_t *p, const hf_conf_t *c)
{
    const char *rf = hf_conf_get(c, "energy.regions_file"), *rs = hf_conf_get(c, "energy.regions");
    int bij = hf_deal_uses_bijection(p->devs.deal, p->clients);
    double b = (bij ? (p->on_demand ? 0.0 : 4.0) : 8.0) + (p->on_demand ? 0.0 : 8.0) +
               (hf_vol_stateless(c) ? 0.0 : 133.0);
    if (rf && rf[0]) b += 4.0;
    else if (rs && rs[0] && !bij) b += 8.0;
    if (!strcmp(hf_conf_get(c, "energy.compress"), "topk")) b += 8.0;
    double sparse = 0;  /* budgets spent: 24 bytes a slot, slots for rounds x clients a round (cstore.h) */
    if (hf_conf_float(c, "energy.budget_j") > 0 || hf_conf_bool(c, "energy.battery_budget")) {
        const hf_select_policy_t *pol = hf_select_policy_find(hf_conf_get(c, "selection.policy"));
        int m = pol && (pol->needs & HF_SEL_VARIABLE) ? p->clients
                                                      : hf_devices_nselect(&p->devs, p->clients_per_round, p->clients);
        sparse = hf_cstore_bytes(p->clients, (double)p->rounds * m, 16);
    }
    return b * (double)p->clients + sparse;
}

/* Refuse, before the data load or any per-client allocation, a population
 * whose per-registered-client state alone exceeds the memory of a rank: exit 2
 * naming federation.clients and the estimate. */
static int check_population_memory(const hf_params_t *p, const hf_conf_t *c, MPI_Comm comm)
{
    double need = hf_population_bytes(p, c), have = hf_mem_per_rank(comm);
    if (need <= have) return 0;
    int rc = hf_key_err(c, "federation.clients", "%d registered clients need at least %.6g MB per rank "
                        "(%.0f bytes each), more than the %.6g MB available to each rank", p->clients,
                        need / 1e6, need / p->clients, have / 1e6);
    hf_addhint("docs/scale.md: the memory model; fewer federation.clients, data.on_demand, a selection without "
               "per-client state, or a node with more memory");
    return rc;
}

/* State kept for clients, on their rank: bytes per client, for how many clients
 * of one rank at most, the key that asks for it and what it is. */
typedef struct { double bytes, clients; const char *key, *what; } client_state_t;

/* The most clients of one rank that may ever take part: its block (the largest
 * over ranks), or rounds · ⌈f·K⌉ when fewer (async: the block; decentralized:
 * every client, every round). */
static double clients_seen(const hf_params_t *p, const hf_conf_t *c, int R)
{
    int N = p->clients, block = 0;
    for (int r = 0; r < R; r++) block = HF_MAX(block, hf_run_first_client(r + 1, R, N) - hf_run_first_client(r, R, N));
    if (p->decentralized || !strcmp(hf_conf_get(c, "federation.mode"), "async")) return block;
    return HF_MIN((double)block, (double)p->rounds * hf_devices_nselect(&p->devs, p->clients_per_round, N));
}

/* Every kind of per-client state the run will keep (at most 5 in cs[]): the
 * strategy's (its client_state_bytes hook), top-k's error-feedback memory,
 * decentralized client models and their mixed copies, async's buffered
 * updates (at most one per client, async.concurrency in all), a data stream's
 * copy of the partition and memories (every registered client on every rank:
 * hf_stream_bytes / N a client, for N clients). */
static int client_state(const hf_params_t *p, const hf_conf_t *c, long P, int R, const hf_partition_t *part,
                        client_state_t *cs)
{
    const hf_strategy_t *st = hf_strategy_find(p->strategy);
    double seen = clients_seen(p, c, R), fl = 4.0 * (double)P;
    int n = 0;
    if (st && st->client_state_bytes && !p->decentralized)
        cs[n++] = (client_state_t){(double)st->client_state_bytes(P), seen, "federation.strategy", p->strategy};
    if (!strcmp(hf_conf_get(c, "energy.compress"), "topk") && !p->decentralized)
        cs[n++] = (client_state_t){fl * (st ? st->upload_factor : 1), seen, "energy.compress",
                                   "top-k error feedback"};
    if (p->decentralized)
        cs[n++] = (client_state_t){2.0 * fl, seen, "federation.mode", "decentralized client models"};
    if (!strcmp(hf_conf_get(c, "federation.mode"), "async")) {
        double C = (double)hf_conf_int(c, "async.concurrency");
        cs[n++] = (client_state_t){fl + 32.0, HF_MIN(seen, C > 0 ? C : p->clients_per_round),
                                   "async.concurrency", "async buffered updates"};
    }
    double sb = hf_stream_bytes(p, part);
    if (sb > 0)
        cs[n++] = (client_state_t){sb / HF_MAX(part->nclients, 1), (double)HF_MAX(part->nclients, 1),
                                   p->stream_trace[0] ? "stream.trace" : "stream.rate",
                                   "a data stream's arrival orders and memories"};
    return n;
}

/* Refuse a configuration whose buffers cannot fit, before allocating them: the
 * global, local, gradient, momentum and twice-sized update copies, the server
 * optimizer's two moments and the aggregation's 64-bit sums (10 copies of the
 * parameters in all), the model's work space (activations and scratch of
 * max(batch, evaluation chunk) samples, hf_work_bytes: the lstm's over every
 * time step, the resnet's with static batch norm for a whole training batch),
 * and the state kept per client
 * (client_state) for the most clients a rank may see take part.  Bad input
 * (exit 2) naming model.hidden when the model alone does not fit, else the key
 * of the largest per-client state; not an abort with a core dump on every rank.
 * The estimate is a floor (data and smaller buffers come on top), so only
 * obvious overruns are refused. */
static int check_model_memory(hf_run_t *x, long P)
{
    const hf_params_t *p = x->p;
    const hf_conf_t *c = x->o->conf;
    double copies = 10.0 * 4.0 * (double)P;
    double act = hf_work_bytes(&x->model, HF_MAX(p->batch_size, HF_EVAL_CHUNK), p->batch_size);
    client_state_t cs[5];
    int ncs = client_state(p, c, P, x->size, &x->part, cs), big = 0;
    double per_client = 0.0;
    for (int i = 0; i < ncs; i++) {
        per_client += cs[i].bytes * cs[i].clients;
        if (cs[i].bytes * cs[i].clients > cs[big].bytes * cs[big].clients) big = i;
    }
    double need = copies + act + per_client, have = hf_mem_per_rank(x->comm);
    if (need <= have) return 0;
    if (copies + act <= have) {  /* the per-client state does not fit */
        const char *o = hf_conf_origin(c, cs[big].key);
        int rc = hf_seterr(HF_EINPUT, "%s: key '%s': %s: %.6g MB per client, for up to %.0f clients on a rank; "
                           "with the model's buffers (%.6g MB) that needs at least %.6g MB per rank, more than "
                           "the %.6g MB available to each rank", o ? o : "default", cs[big].key, cs[big].what,
                           cs[big].bytes / 1e6, cs[big].clients, (copies + act) / 1e6, need / 1e6, have / 1e6);
        hf_addhint(!strncmp(cs[big].key, "stream.", 7)
                   ? "every rank holds every client's stream: a smaller stream.memory, fewer clients or samples"
                   : "more ranks (fewer clients each), fewer federation.clients, or a smaller model");
        return rc;
    }
    const char *key = "model.hidden", *o = hf_conf_origin(c, key);
    if (!o || !strcmp(o, "default")) {
        key = "model.arch";
        o = hf_conf_origin(c, key);
    }
    int rc = hf_seterr(HF_EINPUT, "%s: key '%s': a %s model of %ld parameters needs at least %.3g GB per rank "
                       "(10 copies of its %.3g GB of parameters, and activations), more than the %.3g GB "
                       "available to each rank", o ? o : "default", key, hf_arch_name(p->model.arch), P,
                       (copies + act) / 1e9, 4.0 * (double)P / 1e9, have / 1e9);
    hf_addhint("narrow model.hidden, or run fewer ranks per node");
    return rc;
}

/* Static batch norm: evaluation normalises by statistics recomputed from the
 * training data, which the global evaluation and HeteroFL's and FjORD's
 * per-width evaluation do (hf_model_norm_stats); any other forward pass of a
 * model (teachers, personal models, attacks) would use stale statistics, and
 * DP-SGD's per-example gradients are mixed by batch statistics: refused. */
static int check_static_bn(const hf_run_t *x)
{
    static const char *const ok[] = {"fedavg", "fedprox", "scaffold", "fednova", "feddyn", "dpfedavg",
                                     "heterofl", "fjord"};
    const hf_params_t *p = x->p;
    const hf_conf_t *c = x->o->conf;
    if (p->model.arch != HF_ARCH_RESNET || p->model.norm != HF_NORM_STATIC_BN) return 0;
    int known = 0;
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) known |= !strcmp(p->strategy, ok[i]);
    const char *why = !known ? p->strategy
                      : p->decentralized ? "federation.mode = decentralized"
                      : !strcmp(p->strategy, "fjord") && hf_conf_bool(c, "fjord.kd") ? "fjord.kd"
                      : strcmp(hf_conf_get(c, "privacy.attack"), "none") ? "privacy.attack"
                      : strcmp(hf_conf_get(c, "privacy.attribute_attack"), "none") ? "privacy.attribute_attack"
                      : p->client_test_fraction > 0 || p->client_test_natural ? "per-client evaluation"
                      : NULL;
    if (!why) return 0;
    return hf_key_err(c, "model.norm", "static-bn recomputes its statistics for the global and per-width "
                      "evaluation only, not for %s (strategies: fedavg, fedprox, scaffold, fednova, feddyn, "
                      "dpfedavg, heterofl, fjord without kd); use model.norm = group", why);
}

/* Static batch norm: model.norm_samples training rows, evenly spaced (row
 * ⌊i·n/N⌋), that every evaluation's statistics come from. */
static void setup_norm_samples(hf_run_t *x)
{
    if (x->model.cfg.arch != HF_ARCH_RESNET || x->model.cfg.norm != HF_NORM_STATIC_BN) return;
    long n = x->train.n, N = HF_MIN(x->p->norm_samples, n);
    int dim = x->train.dim;
    x->norm_n = N;
    x->norm_x = hf_alloc_aligned((size_t)HF_MAX(N, 1) * (size_t)dim * sizeof(float));
    for (long i = 0; i < N; i++)
        memcpy(x->norm_x + i * dim, x->train.x + (long)((double)i * (double)n / (double)N) * dim,
               sizeof(float) * (size_t)dim);
}

/* The model of the run's data, its parameters x_0 and the training buffers. */
static int setup_model(hf_run_t *x)
{
    const hf_params_t *p = x->p;
    hf_model_cfg_t mc = p->model;
    mc.in_c = x->train.c;
    mc.in_h = x->train.h;
    mc.in_w = x->train.w;
    mc.n_classes = x->train.n_classes;
    mc.vocab = x->train.vocab;
    if (p->model.arch == HF_ARCH_LSTM && !x->train.vocab)
        return hf_key_err(x->o->conf, "model.arch", "lstm needs text data (token ids: data.dataset = shakespeare, "
                          "tff shakespeare, or hdf5 with a vocab attribute)");
    if ((p->model.arch == HF_ARCH_CNN || p->model.arch == HF_ARCH_RESNET) && (x->train.h < 4 || x->train.w < 4))
        return hf_key_err(x->o->conf, "model.arch", "%s needs image data (data set has %dx%d inputs)",
                          hf_arch_name(p->model.arch), x->train.h, x->train.w);
    if (p->augment && (x->train.h < 2 || x->train.w < 2))
        return hf_key_err(x->o->conf, "data.augment", "crop-flip needs image data (data set has %dx%d inputs)",
                          x->train.h, x->train.w);
    int rc = check_static_bn(x);
    if (rc) return rc;
    const char *hk = hf_conf_origin(x->o->conf, "model.hidden");  /* the key in messages */
    hk = hk && strcmp(hk, "default") ? "model.hidden" : "model.arch";
    rc = hf_run_agree(hf_key_wrap(x->o->conf, hk, hf_model_init(&x->model, &mc)), x->comm);
    if (rc) return rc;
    long P = x->model.nparams;
    if ((rc = check_model_memory(x, P))) return rc;  /* before any allocation of P floats */
    x->global = hf_alloc_aligned((size_t)P * sizeof(float));
    x->local = hf_alloc_aligned((size_t)P * sizeof(float));
    x->grad = hf_alloc_aligned((size_t)P * sizeof(float));
    x->mom = hf_alloc_aligned((size_t)P * sizeof(float));
    x->delta = hf_alloc_aligned((size_t)2 * P * sizeof(float));  /* SCAFFOLD uploads [dy, dc] */
    x->work = hf_work_new(&x->model, HF_MAX(p->batch_size, HF_EVAL_CHUNK));
    x->xb = hf_alloc_aligned((size_t)p->batch_size * (size_t)x->train.dim * sizeof(float));
    x->wb = hf_calloc((size_t)p->batch_size, sizeof(float));  /* a weighted loss's batch (FedEM) */
    x->yb = hf_calloc((size_t)p->batch_size, sizeof(int));
    if (p->augment) {
        x->aug_ids = hf_calloc((size_t)p->batch_size, sizeof(long));
        x->aug_scratch = hf_alloc_aligned((size_t)x->train.dim * sizeof(float));
    }
    long maxn = 1;  /* data.on_demand: grown with the clients trained (data_ondemand.c) */
    for (int k = 0; k < x->part.nclients && !x->od; k++) maxn = HF_MAX(maxn, hf_run_nk(x, k));
    x->iperm = hf_calloc((size_t)maxn, sizeof(int));
    setup_norm_samples(x);
    hf_model_init_params(&x->model, x->global, p->seed);
    return 0;
}

/* Decentralized mode: the graph, every client's model, the cycle time. */
static int setup_decentral(hf_run_t *x)
{
    const hf_params_t *p = x->p;
    int N = p->clients;
    long P = x->model.nparams;
    int rc = hf_run_agree(hf_key_wrap(x->o->conf, "topology.path", hf_topology_build(&x->graph, p->topo_kind, N,
                          p->topo_p, p->topo_path, p->seed)), x->comm);
    if (!rc) rc = hf_run_agree(hf_dec_init(&x->dec, &x->graph, P, x->global, x->comm), x->comm);
    return rc;
}

/* Device classes of the clients and the per-round buffers of the plan. */
static void setup_devices(hf_run_t *x)
{
    const hf_params_t *p = x->p;
    int N = p->clients, m = x->m;
    x->plan.c = hf_calloc((size_t)m, sizeof(hf_cplan_t));
    hf_devices_deal(&p->devs, p->seed, N, &x->ddeal);  /* seeded exact quotas (devices.c, deal.h) */
    if (!p->on_demand) hf_deal_materialise(&x->ddeal);  /* strategies index x->dcls */
    x->dcls = x->ddeal.cls;
    x->dplan = hf_calloc((size_t)m, sizeof(hf_dplan_t));
    x->d_nk = hf_calloc((size_t)m, sizeof(long));
    x->d_cls = hf_calloc((size_t)m, sizeof(int));
    x->d_ep = hf_calloc((size_t)m, sizeof(int));
    x->d_skip = hf_calloc((size_t)m, sizeof(int));
    x->d_norm2 = hf_calloc((size_t)m, sizeof(double));
    if (p->devs.backup == HF_BACKUP_DYNAMIC && !p->decentralized) {
        x->dbw = hf_dbw_new(m, x->model.nparams);
        x->dbw_old = hf_calloc((size_t)x->model.nparams, sizeof(float));
    }
    x->eval_threads = p->devs.cls[0].cores;  /* the smallest class's count, on every rank */
    for (int i = 1; i < p->devs.nclasses; i++) x->eval_threads = HF_MIN(x->eval_threads, p->devs.cls[i].cores);
}

/* The strategy (its plugin state included), the server optimizer and the
 * aggregator sized for the strategy's uploads. */
static int setup_algorithm(hf_run_t *x)
{
    const hf_params_t *p = x->p;
    long P = x->model.nparams;
    int rc = hf_run_agree(hf_strat_init(&x->strat, p, x->o->conf, x, P, p->clients, x->part.off, x->first_client,
                                        x->last_client, x->comm), x->comm);
    if (!rc) rc = hf_run_agree(hf_server_opt_init(&x->sopt, p->server_opt, P, p->server_lr, p->server_beta1,
                                                  p->server_beta2, p->server_tau,
                                                  p->server_v_tau2), x->comm);
    if (rc) return rc;
    long toff[HF_MAX_TENSORS + 1];
    for (int i = 0; i < x->model.ntensors; i++) toff[i] = x->model.tensors[i].off;
    toff[x->model.ntensors] = P;
    x->agg = hf_strat_agg_new(&x->strat, x->strat.st->upload_factor, x->model.ntensors, toff);
    if (p->decentralized) {  /* the steady-state time per gossip iteration (plan.c) */
        hf_strat_plan_decentral(&x->strat, &x->plan);
        if (x->strat.st->plan) {  /* the strategy's per-client choices (dkt: widths) price it */
            int *all = hf_calloc((size_t)p->clients, sizeof(int));
            for (int k = 0; k < p->clients; k++) all[k] = k;
            x->strat.st->plan(&x->strat, 0, all, p->clients);
            free(all);
        }
        x->cycle_time = hf_dec_cycle_time(x);
    }
    return 0;
}

/* Carbon-aware selection: every client's full-round figures at its class's speed. */
static void setup_carbon_aware(hf_run_t *x)
{
    const hf_params_t *p = x->p;
    int N = p->clients;
    x->ecl = hf_calloc((size_t)N, sizeof *x->ecl);
    uint64_t xb = (uint64_t)x->strat.st->upload_factor * (uint64_t)x->model.nparams * sizeof(float);
    for (int k = 0; k < N; k++) {
        const hf_devclass_t *dc = &p->devs.cls[hf_run_class(x, k)];
        long nk = hf_run_nk(x, k);
        x->ecl[k] = (hf_energy_client_t){
            .samples = nk, .steps_full = p->local_epochs * (int)((nk + p->batch_size - 1) / p->batch_size),
            .compute_s = hf_clock_compute_s(dc, hf_model_train_flops(&x->model) * (double)nk * p->local_epochs, 1.0),
            .comm_s = hf_clock_transfer_s(dc->latency_s, dc->down_mbps, xb) +
                      hf_clock_transfer_s(dc->latency_s, dc->up_mbps, xb),
            .active_w = dc->active_w, .idle_w = dc->idle_w, .radio_j_per_mb = dc->radio_j_per_mb};
    }
}

/* Energy, carbon and RAPL (energy.c, rapl.c): every rank holds the same regions. */
static int setup_energy(hf_run_t *x)
{
    const hf_params_t *p = x->p;
    const hf_conf_t *c = x->o->conf;
    int N = p->clients, rc = 0;
    x->en = hf_energy_new(c, p->seed, N, p->rounds, &rc);
    rc = hf_run_agree(rc, x->comm);
    if (rc) return rc;
    if (hf_energy_measure(x->en))
        hf_rapl_open(&x->rapl, hf_energy_rapl_root(x->en), x->rank == 0 ? stderr : NULL);
    if (p->decentralized) return 0;
    x->eplan = hf_calloc((size_t)x->m, sizeof(hf_eplan_t));  /* budgets, carbon-aware sampler */
    if (hf_conf_bool(c, "energy.battery_budget")) {
        for (int i = 0; i < p->devs.nclasses; i++) x->battery_j[i] = p->devs.cls[i].battery_j;
        hf_energy_set_batteries(x->en, x->battery_j, &x->ddeal);
    }
    hf_energy_bound_clients(x->en, (double)p->rounds * x->m);  /* the most clients ever planned */
    hf_energy_ckpt_register(x->en, x->first_client, (long)x->strat.st->upload_factor * x->model.nparams);
    if (hf_energy_scheduler(x->en) != HF_SCHED_AWARE) return 0;
    if (x->vol || !(x->sel->pol->needs & HF_SEL_POPULATION))
        return hf_key_err(c, "energy.scheduler", "carbon-aware selects the clients itself: it needs "
                          "selection.policy = uniform, availability.model = always and no aggregation.correction");
    setup_carbon_aware(x);
    return hf_select_use(x->sel, "carbon-aware");
}

int hf_run_setup(hf_run_t *x, const hf_fed_opts_t *o, MPI_Comm comm)
{
    const hf_params_t *p = &o->p;
    memset(x, 0, sizeof *x);
    x->o = o;
    x->p = p;
    x->comm = comm;
    MPI_Comm_rank(comm, &x->rank);
    MPI_Comm_size(comm, &x->size);
    openblas_set_num_threads(p->dev.cores);
    int rc = check_population_memory(p, o->conf, comm);  /* every rank alike: hf_mem_per_rank's minimum */
    if (rc) return rc;
    rc = hf_run_agree(p->on_demand ? hf_od_setup(x)  /* data.on_demand: generated when used */
                                   : hf_load_data(p, o->conf, o->suite, &x->train, &x->test, &x->part,
                                                  &x->train_all, &x->ctest), comm);
    if (!rc) hf_ceval_setup(x);  /* per-client test splits out of the partition (client_eval.c) */
    if (!rc) rc = hf_run_agree(hf_stream_setup(x), comm);  /* data streams: arrival orders, trace (stream.c) */
    if (!rc) rc = hf_run_agree(setup_model(x), comm);
    if (rc) return rc;
    int N = p->clients;
    const hf_select_policy_t *pol = hf_select_policy_find(hf_conf_get(o->conf, "selection.policy"));
    x->m = p->decentralized || (pol && (pol->needs & HF_SEL_VARIABLE))
           ? N : hf_devices_nselect(&p->devs, p->clients_per_round, N);  /* ⌈f·K⌉; poisson: up to N */
    x->first_client = hf_run_first_client(x->rank, x->size, N);
    x->last_client = hf_run_first_client(x->rank + 1, x->size, N);
    hf_client_rows_build(x);
    if (p->decentralized) rc = setup_decentral(x);
    if (rc) return rc;
    setup_devices(x);
    if (!p->decentralized) rc = hf_run_agree(hf_vol_init(x, N, x->m), comm);  /* availability, selection */
    if (!rc) rc = setup_algorithm(x);
    if (!rc) rc = hf_run_agree(hf_mia_new(x, &x->mia), comm);  /* privacy.attack's observer */
    if (!rc) rc = hf_run_agree(hf_aia_new(x, &x->aia), comm);  /* privacy.attribute_attack's */
    if (rc) return rc;
    hf_ckpt_begin(comm, N, x->first_client, x->last_client);  /* checkpoint registry, signals */
    return hf_run_agree(setup_energy(x), comm);
}

/* ------------------------------------------------------- results file --- */

static void iso_now(char *buf, size_t n)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* hostnames of all ranks, and the placement table, into rank 0's strings */
static void describe_system(hf_run_t *x, char **hosts_out, char **placement_out)
{
    char name[MPI_MAX_PROCESSOR_NAME] = {0};
    int len = 0;
    MPI_Get_processor_name(name, &len);
    char *all = x->rank == 0 ? hf_calloc((size_t)x->size, MPI_MAX_PROCESSOR_NAME) : NULL;
    MPI_Gather(name, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, 0,
               x->comm);
    if (x->rank != 0) return;
    size_t cap = (size_t)x->size * (MPI_MAX_PROCESSOR_NAME + 96) + 128;
    char *hosts = hf_calloc(cap, 1), *pl = hf_calloc(cap, 1);
    size_t hl = 0, pll = 0;
    pll += (size_t)snprintf(pl + pll, cap - pll, "rank host class cores clients\n");
    for (int r = 0; r < x->size; r++) {
        const char *h = all + (size_t)r * MPI_MAX_PROCESSOR_NAME;
        hl += (size_t)snprintf(hosts + hl, cap - hl, "%s%s", r ? "," : "", h);
        int f = hf_run_first_client(r, x->size, x->p->clients);
        int l = hf_run_first_client(r + 1, x->size, x->p->clients);
        pll += (size_t)snprintf(pl + pll, cap - pll, "%d %s %s %d %d-%d\n", r, h, x->p->dev.name,
                                x->p->dev.cores, f, l - 1);
    }
    free(all);
    *hosts_out = hosts;
    *placement_out = pl;
}

static void print_header(hf_run_t *x, const char *placement)
{
    FILE *f = x->o->out;
    const hf_params_t *p = x->p;
    char mpiver[MPI_MAX_LIBRARY_VERSION_STRING];
    int len;
    MPI_Get_library_version(mpiver, &len);
    char *nl = strchr(mpiver, '\n');
    if (nl) *nl = 0;
    fprintf(f, "+--------------------------------------------------------------------+\n");
    fprintf(f, "| hetfl %-12s %-47s |\n", PACKAGE_VERSION, "heterogeneous federated training benchmark");
    fprintf(f, "+-------------------------+------------------------------------------+\n");
#define ROW(k, fmt, ...) do { char v_[256]; snprintf(v_, sizeof v_, fmt, __VA_ARGS__); \
        fprintf(f, "| %-23s | %-40.40s |\n", k, v_); } while (0)
    ROW("suite", "%s", x->o->suite);
    if (x->o->variant >= 0) ROW("variant", "%d", x->o->variant);
    ROW("seed", "%llu", (unsigned long long)p->seed);
    ROW("ranks", "%d", x->size);
    ROW("MPI", "%.40s", mpiver);
    ROW("data", "%s, %s partition", hf_conf_get(x->o->conf, "data.dataset"), hf_conf_get(x->o->conf, "data.partition"));
    if (x->od && x->train.n) ROW("train / test samples", "%ld, dealt on demand / %ld", x->train.n, x->test.n);
    else if (x->od) ROW("train / test samples", "on demand / %ld", x->test.n);
    else ROW("train / test samples", "%ld / %ld", x->part.off[x->part.nclients], x->test.n);
    ROW("model", "%s, %ld params", hf_arch_name(p->model.arch), x->model.nparams);
    if (p->decentralized)
        ROW("strategy", "%s, %s graph, gap %.4f", x->strat.st->gossip ? p->strategy : "D-PSGD", p->topo_kind,
            hf_graph_spectral_gap(&x->graph));
    else
        ROW("strategy", "%s, server %s (lr %g)", p->strategy, p->server_opt, p->server_lr);
    if (x->strat.state_bytes_max + hf_server_opt_bytes(&x->sopt))
        ROW("strategy state", "%.2f MB (all ranks, worst case)",
            (double)(x->strat.state_bytes_max + hf_server_opt_bytes(&x->sopt)) / 1e6);
    ROW("clients (per round)", "%d (%d)", p->clients, p->clients_per_round);
    ROW("rounds, E, B, lr", "%d, %d, %d, %g", p->rounds, p->local_epochs, p->batch_size, p->lr);
    ROW("aggregation", "%s, %s", p->topology == HF_TOPO_RANK0 ? "rank0" : "allreduce",
        p->exact ? "exact (fixed-point)" : "float");
    if (x->agg) {
        char how[96];
        hf_agg_method(x->agg, how, sizeof how);
        ROW("  reduction", "%s", how);
    }
    char dmix[256], dpol[256];
    hf_devices_describe(&p->devs, dmix, sizeof dmix, dpol, sizeof dpol);
    ROW("device classes", "%s", dmix);
    ROW("round policy", "%s", dpol);
    ROW("results", "%s", x->o->output);
#undef ROW
    fprintf(f, "+-------------------------+------------------------------------------+\n");
    fprintf(f, "placement:\n");
    for (const char *s = placement; *s;) {
        const char *e = strchr(s, '\n');
        if (!e) e = s + strlen(s);
        fprintf(f, "  %.*s\n", (int)(e - s), s);
        s = *e ? e + 1 : e;
    }
    fflush(f);
}

/* Root attributes and /system of a new results file: where the run came from. */
static void write_run_attributes(hf_run_t *x, const char *hosts, const char *placement)
{
    const hf_fed_opts_t *o = x->o;
    const hf_params_t *p = x->p;
    char created[64];
    iso_now(created, sizeof created);
    hf_h5out_root_attr(x->h5, "hetfl_version", PACKAGE_VERSION);
    hf_h5out_root_attr(x->h5, "suite", o->suite);
    hf_h5out_root_attr_int(x->h5, "variant", o->variant);
    hf_h5out_root_attr_int(x->h5, "seed", (long)p->seed);
    hf_h5out_root_attr_int(x->h5, "ranks", x->size);
    char aggs[64];
    snprintf(aggs, sizeof aggs, "%s,%s", p->topology == HF_TOPO_RANK0 ? "rank0" : "allreduce",
             p->exact ? "exact" : "float");
    hf_h5out_root_attr(x->h5, "aggregation", aggs);
    hf_h5out_root_attr(x->h5, "created", created);
    hf_h5out_root_attr(x->h5, "command_line", o->command_line);
    char *cfg = hf_conf_dump(o->conf, 0);
    hf_h5out_config(x->h5, cfg);
    free(cfg);
    char mpiver[MPI_MAX_LIBRARY_VERSION_STRING];
    int len;
    MPI_Get_library_version(mpiver, &len);
    hf_h5out_system_attr(x->h5, "hostnames", hosts);
    hf_h5out_system_attr(x->h5, "mpi_library_version", mpiver);
    hf_h5out_system_attr(x->h5, "openblas_config", openblas_get_config());
    hf_h5out_system_attr(x->h5, "placement", placement);
    char buf[64];
    snprintf(buf, sizeof buf, "%ld", x->model.nparams);
    hf_h5out_system_attr(x->h5, "model_params", buf);
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)(x->strat.state_bytes_max + hf_server_opt_bytes(&x->sopt)));
    hf_h5out_system_attr(x->h5, "strategy_state_bytes", buf);
    if (p->decentralized) {
        snprintf(buf, sizeof buf, "%.17g", hf_graph_spectral_gap(&x->graph));
        hf_h5out_system_attr(x->h5, "spectral_gap", buf);
        snprintf(buf, sizeof buf, "%.17g", x->cycle_time);
        hf_h5out_system_attr(x->h5, "cycle_time_s", buf);
        snprintf(buf, sizeof buf, "%s, %ld edges", p->topo_kind, x->graph.nedges);
        hf_h5out_system_attr(x->h5, "topology", buf);
    }
}

/* /clients rows [k0, k0 + n): each client's class, samples, region, budget and rank. */
static void client_rows(void *ctx, long k0, long n, hf_client_rec_t *cl)
{
    const hf_run_t *x = ctx;
    const hf_params_t *p = x->p;
    int N = p->clients, R = x->size, r = 0;
    memset(cl, 0, (size_t)n * sizeof *cl);
    while (hf_run_first_client(r + 1, R, N) <= k0) r++;
    for (int i = 0; i < n; i++) {
        int k = (int)(k0 + i);
        cl[i].id = k;
        snprintf(cl[i].device_class, sizeof cl[i].device_class, "%s", p->devs.cls[hf_run_class(x, k)].name);
        cl[i].samples = hf_run_nk(x, k);
        snprintf(cl[i].region, sizeof cl[i].region, "%s", hf_energy_region_name(x->en, k));
        cl[i].energy_budget_j = hf_energy_budget(x->en, k);
        while (hf_run_first_client(r + 1, R, N) <= k) r++;
        cl[i].rank = r;
    }
}

/* /clients: a block of rows at a time (a row is 80 bytes: 800 MB at 10^7 clients). */
static int write_clients(hf_run_t *x)
{
    return hf_h5out_clients_by(x->h5, x->p->clients, client_rows, x);
}

/* hwloc placement: the rank's class is the one with the most cores among its
 * clients; rank 0 gets the table (prec, text). */
static void place_ranks(hf_run_t *x, hf_place_rec_t *prec, char **placement, char *pnote, size_t nn)
{
    const hf_params_t *p = x->p;
    int rcl = -1;
    for (int k = x->first_client; k < x->last_client; k++)
        if (rcl < 0 || p->devs.cls[hf_run_class(x, k)].cores > p->devs.cls[rcl].cores) rcl = hf_run_class(x, k);
    hf_placement_setup(x->comm, rcl >= 0 ? p->devs.cls[rcl].name : "-", rcl >= 0 ? p->devs.cls[rcl].cores : 1,
                       x->first_client, x->last_client - 1, p->devs.bind, prec, pnote, nn);
    if (x->rank == 0) {
        size_t cap = (size_t)x->size * 256 + 128;
        free(*placement);
        *placement = hf_calloc(cap, 1);
        hf_placement_text(prec, x->size, *placement, cap);
    }
}

int hf_run_open_results(hf_run_t *x)
{
    const hf_fed_opts_t *o = x->o;
    char *hosts = NULL, *placement = NULL, pnote[512] = "";
    describe_system(x, &hosts, &placement);
    hf_place_rec_t *prec = x->rank == 0 ? hf_calloc((size_t)x->size, sizeof *prec) : NULL;
    place_ranks(x, prec, &placement, pnote, sizeof pnote);
    int rc = 0;
    if (x->rank == 0) {
        if (o->resume) {  /* same file, its /config checked against this run's */
            char *cfg = hf_conf_dump(o->conf, 0);
            rc = hf_ckpt_reopen(&x->h5, o->resume, cfg);
            free(cfg);
        } else rc = hf_h5out_open(&x->h5, o->output, o->force);
        if (!rc && !o->resume) {
            write_run_attributes(x, hosts, placement);
            rc = write_clients(x);
            if (!rc) rc = hf_placement_write(hf_h5out_file(x->h5), prec, x->size);  /* /system/placement */
            /* /model/final made now, holding x_0 until the last round overwrites it in
             * place: no HDF5 object is created after the file is published, so a kill
             * at any write leaves it readable (h5out.c, checkpoint.c) */
            if (!rc) rc = hf_h5out_model(x->h5, "model/final", &x->model, x->global);
        }
        print_header(x, placement);
        if (pnote[0]) fprintf(o->out, "%s\n", pnote);  /* scarce cores: said once */
    }
    free(hosts);
    free(placement);
    free(prec);
    return hf_run_agree(rc, x->comm);
}

void hf_run_free(hf_run_t *x)
{
    hf_mia_free(x->mia);
    hf_aia_free(x->aia);
    hf_dataset_free(&x->train);
    hf_dataset_free(&x->test);
    hf_partition_free(&x->part);
    hf_partition_free(&x->ctest);
    hf_stream_free(x->stream);
    hf_od_free(x->od);
    free(x->ce_x); free(x->ce_y); free(x->ce_perm);
    free(x->norm_x);
    if (x->work) hf_work_free(x->work);
    free(x->global); free(x->local); free(x->grad); free(x->mom); free(x->delta);
    free(x->xb); free(x->yb); free(x->iperm); free(x->wb);
    free(x->aug_ids); free(x->aug_scratch);
    free(x->cx8); free(x->cy); free(x->coff);
    if (x->strat.st) hf_strat_free(&x->strat);
    hf_energy_free(x->en);
    free(x->eplan); free(x->ecl);
    hf_server_opt_free(&x->sopt);
    if (x->p && x->p->decentralized) hf_dec_free(&x->dec);
    hf_graph_free(&x->graph);
    free(x->plan.c);
    hf_deal_free(&x->ddeal); free(x->dplan); free(x->d_nk); free(x->d_cls); free(x->d_ep); free(x->d_skip);
    free(x->d_norm2); free(x->dbw_old);
    hf_dbw_free(x->dbw);
    hf_avail_free(&x->av); hf_select_free(x->sel); free(x->online); free(x->vol_loss);
    free(x->vol_w); free(x->off_comm); free(x->off_comp);
    free(x->tr_donor); free(x->tr_count); free(x->tr_s); free(x->tr_idx);
    hf_agg_free(x->agg);
}
