/*
 * options.c — the suite keys.  Names are contracts (docs/ARCHITECTURE.md): tests and users'
 * scripts rely on them.  Keep the doc strings short and precise: they are the
 * reference documentation printed by `hetfl help keys`.
 */
#include "options.h"
#include "strategy.h"
#include "select.h"
#include "server_opt.h"
#include "hf_util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NONE HF_OPT_NORANGE

/* The engine's own keys; the registries add theirs (hf_options_table). */
static const hf_opt_t core_options[] = {
    /* [run] */
    {"run.name", HF_OPT_STRING, "hetfl", NONE, NULL,
     "experiment name; used in the default results path"},
    {"run.seed", HF_OPT_INT, "1", 0, 2147483647, NULL,
     "master seed: every random draw is keyed by (seed, round, client, purpose)"},
    {"run.output", HF_OPT_STRING, "", NONE, NULL,
     "results file; default results/<name>[-v<variant>]-s<seed>.h5 (relative to the cwd)"},
    {"run.checkpoint_every", HF_OPT_INT, "10", 0, 100000000, NULL,
     "write a checkpoint into /checkpoint of the results file every N rounds (server updates "
     "with federation.mode = async; 0: only when "
     "stopped by SIGTERM/SIGUSR1/SIGINT); `hetfl run SUITE --resume FILE` continues from it"},
    /* [data] */
    {"data.dataset", HF_OPT_CHOICE, "fashion-mnist", NONE,
     "fashion-mnist|synthetic|leaf|femnist|shakespeare|cifar10|cifar100|tff|hdf5|synthetic-clustered",
     "fashion-mnist (Debian dataset-fashion-mnist), synthetic (FedProx Synthetic(a,b)), synthetic-clustered "
     "(CA-Fed's synthetic clustered binary task: data.clustered_*, synthetic_devices), leaf (LEAF JSON), "
     "femnist / shakespeare (LEAF JSON of those sets: 28x28 images, 62 classes / 80-character sequences), "
     "cifar10 / cifar100 (binary version), tff (TensorFlow Federated HDF5 file), hdf5 (the generic layout "
     "of docs/data.md); layouts and where to get the files: docs/data.md"},
    {"data.path", HF_OPT_PATH, "", NONE, NULL,
     "fashion-mnist: directory of the IDX files (default /usr/share/datasets/fashion-mnist); "
     "leaf, femnist, shakespeare: the JSON file (train split); cifar10, cifar100: the folder of the "
     ".bin files (cifar-10-batches-bin, cifar-100-binary); tff: the *_train.h5 file; hdf5: the file"},
    {"data.coarse_labels", HF_OPT_BOOL, "no", NONE, NULL,
     "cifar100, tff (fed_cifar100): the 20 coarse labels instead of the 100 fine ones"},
    {"data.test_path", HF_OPT_PATH, "", NONE, NULL,
     "leaf, femnist, shakespeare: JSON file of the test split; tff: the *_test.h5 file (default: hold "
     "out data.holdout of each user / client)"},
    {"data.holdout", HF_OPT_FLOAT, "0.1", 0, 0.9, NULL,
     "leaf, femnist, shakespeare, tff without data.test_path, hdf5 without /test: fraction of each "
     "user's samples (hdf5 without /clients: of the last samples) held out as the test set"},
    {"data.partition", HF_OPT_CHOICE, "iid", NONE, "iid|shards|dirichlet|natural",
     "iid (equal random shares), shards (McMahan: 2 label-sorted shards per client), "
     "dirichlet (per-class Dir(alpha)), natural (per-user data of synthetic/leaf)"},
    {"data.size_by_capability", HF_OPT_CHOICE, "none", NONE, "none|strong|weak",
     "tie client data set sizes to capability: strong (weak) re-deals the partition's client blocks so "
     "the most capable clients hold the largest (smallest); capability = the device class's mem_width, "
     "then gflops, then lower client index (the width strategies' widest tiers); needs unequal sizes "
     "(partition = dirichlet or natural); none keeps the partition as drawn"},
    {"data.alpha", HF_OPT_FLOAT, "0.5", 1e-6, 1e6, NULL,
     "Dirichlet concentration for partition = dirichlet (small = skewed)"},
    {"data.min_samples", HF_OPT_INT, "10", 0, 1000000, NULL,
     "dirichlet: resample until every client holds at least this many samples"},
    {"data.train_samples", HF_OPT_INT, "0", 0, 100000000, NULL,
     "use only the first N training samples (0 = all); for quick tests"},
    {"data.test_fraction", HF_OPT_FLOAT, "1.0", 1e-6, 1.0, NULL,
     "fashion-mnist: fraction of the 10,000 test images evaluated; leaf without test_path: "
     "fraction of each user's samples held out"},
    {"data.client_test_fraction", HF_OPT_FLOAT, "0", 0, 0.9, NULL,
     "per-client evaluation: fraction of each client's samples held out as its own test split "
     "(floor(f n_k), at most n_k - 1, drawn per client from the seed; the client trains on the rest); "
     "every eval_every rounds each client's own model is evaluated on it (/client_eval, "
     "/rounds.client_acc_*); 0 = off"},
    {"data.client_test_natural", HF_OPT_BOOL, "no", NONE, NULL,
     "per-client evaluation on the data set's own per-user test split: leaf, femnist, shakespeare, tff "
     "with data.test_path and partition = natural; client k's test split is the k-th user of the test "
     "file (the two files list the same users in the same order, as LEAF and TFF write them); the "
     "alternative to data.client_test_fraction"},
    {"data.augment", HF_OPT_CHOICE, "none", NONE, "none|crop-flip",
     "training augmentation of image data: crop-flip = the standard CIFAR one, a random crop of the "
     "image zero-padded by 4 pixels then a horizontal flip with probability 1/2, drawn per (seed, "
     "round, client, sample index) in the engine's local SGD (client.c; not in the heterofl/fjord "
     "loops); refused for inputs without height and width"},
    {"data.synthetic_alpha", HF_OPT_FLOAT, "1", 0, 1e6, NULL,
     "Synthetic(alpha,beta): std of the model means u_k (heterogeneity of models)"},
    {"data.synthetic_beta", HF_OPT_FLOAT, "1", 0, 1e6, NULL,
     "Synthetic(alpha,beta): std of the feature means B_k (heterogeneity of data)"},
    {"data.synthetic_iid", HF_OPT_BOOL, "no", NONE, NULL,
     "Synthetic: the iid variant (one W,b for all devices, zero feature means)"},
    {"data.synthetic_sensitive", HF_OPT_BOOL, "no", NONE, NULL,
     "Synthetic: feature 0 is a binary sensitive attribute s in {0, 1} (Bernoulli(1/2), keyed), drawn "
     "before the label, which depends on it (privacy.attribute_attack)"},
    {"data.synthetic_devices", HF_OPT_INT, "30", 1, 100000, NULL,
     "Synthetic, synthetic-clustered: number of devices generated (natural partition: one client each)"},
    {"data.synthetic_size_mu", HF_OPT_FLOAT, "4", -20, 20, NULL,
     "Synthetic: a device's samples are int(LogNormal(mu, sigma)) + synthetic_size_min, 90 % of them training "
     "data (FedProx's 4, 2, 50 by default)"},
    {"data.synthetic_size_sigma", HF_OPT_FLOAT, "2", 0, 10, NULL, "Synthetic: sigma of the device sizes (above)"},
    {"data.synthetic_size_min", HF_OPT_INT, "50", 2, 1000000, NULL,
     "Synthetic: samples every device has on top of the log-normal draw (above)"},
    {"data.on_demand", HF_OPT_BOOL, "no", NONE, NULL,
     "clients' samples computed when they train, never stored for the population (data_ondemand.c, "
     "docs/scale.md).  Synthetic with data.partition = natural: client k is device k, its samples generated "
     "from its keyed stream (data.synthetic_devices is then federation.clients; evaluation on "
     "data.on_demand_eval_clients clients' test samples).  A loaded data set (fashion-mnist, cifar, ...) with "
     "data.partition = iid or dirichlet: client k's sample ids from (seed, k) through keyed bijections of "
     "the training samples (data.on_demand_client_samples; dirichlet clients may share samples); the test "
     "set as without it"},
    {"data.on_demand_client_samples", HF_OPT_INT, "0", 0, 100000000, NULL,
     "data.on_demand with data.partition = iid or dirichlet: samples of every client, at most the training "
     "samples M; 0: the materialised iid partition's sizes, floor(M/N) and one more for the first M mod N "
     "clients (needs N <= M).  With N x this > M clients' windows of the keyed order wrap around: a sample "
     "is held by floor(N n/M) or ceil(N n/M) clients (docs/scale.md)"},
    {"data.on_demand_eval_clients", HF_OPT_INT, "1000", 1, 10000000, NULL,
     "data.on_demand: the test set is the test samples of this many clients, drawn without replacement "
     "from (seed, data, 0, 5) and taken in increasing id order (every client when it is >= federation.clients)"},
    {"data.clustered_dim", HF_OPT_INT, "10", 1, 100000, NULL,
     "synthetic-clustered (Rodio et al. 2023, arodio/CA-Fed): features, x ~ N(0, I); label y ~ "
     "Bernoulli(sigmoid(x.theta)), theta ~ N(0, I) shared; the second half of the devices flips it "
     "(data.clustered_hetero)"},
    {"data.clustered_train", HF_OPT_INT, "50", 1, 10000000, NULL, "synthetic-clustered: training samples per device"},
    {"data.clustered_test", HF_OPT_INT, "150", 1, 10000000, NULL,
     "synthetic-clustered: test samples per device (the test set is every device's)"},
    {"data.clustered_hetero", HF_OPT_FLOAT, "0.2", 0, 1, NULL,
     "synthetic-clustered: the second cluster's label probability is hetero (1-p) + (1-hetero) p"},
    /* [stream] (stream.c) */
    {"stream.rate", HF_OPT_FLOAT, "0", 0, 1e9, NULL,
     "data streams: training samples arriving at each client per round; by round r client k has received "
     "min(n_k, stream.initial + floor(r rate)) of its samples (fractional rates accumulate) and trains on "
     "those it keeps (stream.memory); 0 = off (every client holds its samples from the start); "
     "centralized mode only"},
    {"stream.trace", HF_OPT_PATH, "", NONE, NULL,
     "data streams: arrivals from a CSV file instead of stream.rate: lines client,round,samples (that "
     "many of the client's samples arrive in that round, 1-based; an optional header line "
     "client,round,samples, # comments, lines of one client and round add up); by round r client k has "
     "received min(n_k, stream.initial + its samples of rounds <= r); every client needs a sample in "
     "round 1 (a client joining later: give every client stream.initial >= 1)"},
    {"stream.initial", HF_OPT_INT, "0", 0, 100000000, NULL,
     "data streams: samples each client holds before round 1 (with stream.rate, initial + floor(rate) must "
     "be >= 1)"},
    {"stream.order", HF_OPT_CHOICE, "shuffled", NONE, "shuffled|drift",
     "data streams: the order a client's samples arrive in: shuffled (a permutation drawn per client from "
     "the seed: a stationary stream) or drift (that permutation sorted by label, classes in an order drawn "
     "per client: the client's label distribution shifts class by class over time)"},
    {"stream.memory", HF_OPT_INT, "0", 0, 100000000, NULL,
     "data streams: samples a client keeps (its memory budget); 0 = every sample received"},
    {"stream.rate_spread", HF_OPT_FLOAT, "0", 0, 0.99, NULL,
     "data streams: per-client arrival rates: client k's rate is stream.rate (1 + s (2 u_k - 1)), u_k "
     "uniform in [0, 1) drawn per client from the seed (a rate uniform in [rate (1 - s), rate (1 + s)), "
     "mean stream.rate); 0 = every client at stream.rate; needs stream.rate > 0"},
    {"stream.policy", HF_OPT_CHOICE, "fifo", NONE, "fifo|reservoir|weighted",
     "data streams: what a full memory keeps: fifo (the last stream.memory received), reservoir "
     "(Vitter's algorithm R: a uniform sample of everything received, the draws keyed per client and "
     "arrival) or weighted (the weighted empirical risk of Marfoq et al., AISTATS 2023, as hetfl reads "
     "it: a reservoir memory whose samples each stand for (A_k / m_k)^stream.weight_power of the A_k "
     "received, m_k held: the client's aggregation weight m_k (A_k / m_k)^power); needs stream.memory > 0"},
    {"stream.weight_power", HF_OPT_FLOAT, "1", 0, 1, NULL,
     "data streams, stream.policy = weighted: the exponent beta of a held sample's weight (A_k / m_k)^beta: "
     "1 = every received sample counts alike (the reservoir's importance weight: unbiased for all the "
     "client has received), 0 = every held sample alike (= reservoir); between: the bias-variance trade-off "
     "of a weighted empirical risk"},
    {"stream.eval_window", HF_OPT_INT, "0", 0, 100000000, NULL,
     "data streams, per-client evaluation on the client's current distribution: its test split, ordered "
     "as its stream, restricted to the samples aligned with its last W arrivals (test sample i of h stands "
     "at stream position floor(i n_k / h)); 0 = aligned with everything received so far"},
    /* [model] */
    {"model.arch", HF_OPT_CHOICE, "mlp", NONE, "logreg|mlp|cnn|lstm|resnet",
     "logreg, mlp (ReLU, widths model.hidden), cnn (McMahan: conv5x5x32-pool-conv5x5x64-pool-fc512), "
     "lstm (LEAF Shakespeare: embedding 8, LSTM layers of model.hidden units, dense classifier on the "
     "last step; text data sets only), "
     "resnet (HeteroFL's pre-activation ResNet for 32x32 images: conv3x3 stem, 4 stages of basic "
     "blocks, stride 2 at stages 2-4, 1x1 projection shortcuts, average pooling, linear; "
     "model.depth, model.norm)"},
    {"model.hidden", HF_OPT_INTLIST, "200,200", 1, 1000000, NULL,
     "mlp: hidden layer widths (2NN = 200,200); cnn: conv1,conv2,fc channels (32,64,512); lstm: "
     "LSTM layer widths (LEAF = 256,256, the default for lstm); resnet: "
     "the 4 stage widths (64,128,256,512, the default for resnet)"},
    {"model.depth", HF_OPT_CHOICE, "18", NONE, "10|18",
     "resnet: 10 (one basic block per stage; the 'ResNet-8' of some papers, counting only the "
     "blocks' 8 convolutions) or 18 (two blocks per stage, HeteroFL's ResNet-18)"},
    {"model.norm", HF_OPT_CHOICE, "group", NONE, "none|group|static-bn",
     "resnet normalisation before every ReLU: none, group (GroupNorm with gcd(C,4) groups of a "
     "C-channel layer, eps 1e-5, per-channel scale and shift; HeteroFL's 4 groups when 4 divides C), "
     "or static-bn (HeteroFL's static batch norm: training normalises every channel by the statistics "
     "of its minibatch, no running averages; evaluation by statistics recomputed from "
     "model.norm_samples training samples, in minibatches of federation.batch_size, for every "
     "evaluated model; per-channel scale and shift, eps 1e-5)"},
    {"model.conv", HF_OPT_CHOICE, "gemm", NONE, "gemm|fast",
     "cnn and resnet convolutions: gemm (im2col + one sgemm, every earlier release's result bits) or "
     "fast (Winograd F(4x4,3x3) / F(4x4,5x5) for 3x3 and 5x5 stride-1 'same' convolutions of 4+ input "
     "channels, a direct "
     "kernel for convolutions of one input channel; the same model and the same mathematics in other "
     "summation orders, so other result bits, within float rounding of gemm's; README, Performance)"},
    {"model.norm_samples", HF_OPT_INT, "1000", 1, 100000000, NULL,
     "model.norm = static-bn: training samples, evenly spaced over the training set (all of it when "
     "it holds fewer), whose statistics evaluation normalises by: every channel's mean and variance "
     "are the averages over their minibatches of the minibatch's mean and unbiased variance "
     "(PyTorch's BatchNorm running statistics with momentum None, as HeteroFL's sBN)"},
    /* [federation] */
    {"federation.strategy", HF_OPT_CHOICE, "fedavg", NONE, NULL /* the registry's names */,
     "server algorithm (registry: `hetfl list`): fedavg (McMahan et al. 2017), fedprox (proximal "
     "term, [fedprox] mu), scaffold (control variates, option II; 2x upload), fednova "
     "(normalized averaging), heterofl and fjord (width sub-models, [heterofl] / [fjord]), feddf (architecture groups + server ensemble "
     "distillation, [feddf]), dkt (decentralized knowledge transfer: federation.mode = "
     "decentralized, widths from [heterofl] levels, [dkt])"},
    {"federation.stragglers", HF_OPT_FLOAT, "0", 0, 1, NULL,
     "FedProx's straggler protocol: round(x*m) of each round's m selected clients, drawn with "
     "(seed, straggler, round), are stragglers; fedavg drops them (outcome straggler), the other "
     "strategies keep their partial work of U{1..E-1} epochs (1 when E = 1)"},
    {"federation.mode", HF_OPT_CHOICE, "centralized", NONE, "centralized|decentralized|async",
     "centralized: a server aggregates selected clients; decentralized: D-PSGD, every client "
     "trains each round then gossips once with its [topology] neighbours (clients_per_round ignored); "
     "async: FedBuff ([async] keys, async.c), one server update (round) per async.buffer arrivals"},
    /* [async] (async.c) */
    {"async.buffer", HF_OPT_INT, "10", 1, 100000, NULL,
     "federation.mode = async: updates B the server buffers; it applies x += server.lr sum w_k s(tau_k) D_k / sum w_k "
     "(w_k: async.weights) when B have arrived (one /rounds row, round = server version)"},
    {"async.concurrency", HF_OPT_INT, "0", 0, 100000, NULL,
     "federation.mode = async: clients training at once (0: federation.clients_per_round); a free "
     "slot is filled at once, uniformly among the idle online clients, from the current model"},
    {"async.staleness_exp", HF_OPT_FLOAT, "0.5", 0, 10, NULL,
     "federation.mode = async: an update is scaled by s(tau) = (1+tau)^-a, tau = server version at "
     "arrival - version it started from (0.5: FedBuff's 1/sqrt(1+tau); 0: no scaling)"},
    {"async.weights", HF_OPT_CHOICE, "equal", NONE, "equal|samples",
     "federation.mode = async: equal (FedBuff: the buffer's mean, divisor B) or samples (weights "
     "n_k, divisor the buffer's sum of n_k, as FedAvg), times the staleness scale"},
    {"federation.clients", HF_OPT_INT, "100", 1, 2147483647, NULL,
     "number of virtual clients N (natural partitions: number of users, or fewer); up to 2^31-1, "
     "refused before any work when their per-client state exceeds a rank's memory (docs/scale.md)"},
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
    {"personal.finetune_steps", HF_OPT_INT, "0", 0, 100000000, NULL,
     "per-client evaluation: local SGD steps (federation.lr, batch_size, momentum, weight_decay) "
     "each client runs from its own model on its training samples before being evaluated, "
     "nothing kept (FedAvg+FT); needs data.client_test_fraction > 0"},
    /* here: each strategy's own keys ([fedprox], [heterofl], ...: hf_strategy_t.keys) */
    /* [server], [topology]: server_opt.c, topology.c */
    {"server.optimizer", HF_OPT_CHOICE, "none", NONE, NULL /* the registry's names */,
     "server optimizer on the aggregated update D (Reddi et al. 2021): none x += lr D; avgm m = beta1 m "
     "+ D, x += lr m; adagrad/adam/yogi m = beta1 m + (1-beta1) D, v per rule, x += lr m/(sqrt v + tau)"},
    {"server.lr", HF_OPT_FLOAT, "1", 0, 1e6, NULL,
     "server learning rate eta_s (also SCAFFOLD's global step size); 1 with optimizer none = FedAvg"},
    {"server.beta1", HF_OPT_FLOAT, "0.9", 0, 1, NULL, "server first-moment decay (avgm: momentum)"},
    {"server.beta2", HF_OPT_FLOAT, "0.99", 0, 1, NULL, "server second-moment decay (adam, yogi)"},
    {"server.tau", HF_OPT_FLOAT, "1e-3", 1e-12, 1e6, NULL, "adaptivity (denominator offset) of adagrad/adam/yogi"},
    {"server.v_init", HF_OPT_CHOICE, "tau2", NONE, "tau2|zero",
     "initial second moment v of adagrad/adam/yogi: tau2 = tau^2, as published (Reddi et al. 2021, "
     "Algorithm 2: v_{-1} >= tau^2); zero = 0, hetfl's start before issue 25 (larger first steps: FedAdam "
     "reached 0.70 accuracy 3.5 rounds sooner than an independent FedAdam started at tau^2)"},
    {"topology.kind", HF_OPT_CHOICE, "ring", NONE, "ring|torus|erdos-renyi|complete|star|file",
     "decentralized graph over the clients, Metropolis-Hastings weights W_ij = 1/(1+max(d_i,d_j)): "
     "ring, torus (2-D, r x c with r the largest divisor <= sqrt N), erdos-renyi (topology.p, "
     "redrawn until connected), complete, star (hub 0), file (topology.path)"},
    {"topology.p", HF_OPT_FLOAT, "0.2", 0, 1, NULL, "erdos-renyi: edge probability"},
    {"topology.path", HF_OPT_PATH, "", NONE, NULL,
     "kind = file: edge list, one 'i j' (0-based client ids) per line, '#' comments"},
    {"topology.local_steps", HF_OPT_INT, "0", 0, 100000000, NULL,
     "decentralized: local SGD steps per gossip iteration (1 = D-PSGD of Lian et al.; "
     "0 = federation.local_epochs full epochs)"},
    /* [aggregation] */
    {"aggregation.topology", HF_OPT_CHOICE, "rank0", NONE, "rank0|allreduce",
     "rank0: every client's update travels to rank 0, which sums them (an FL server); allreduce: "
     "each rank's partial sum is combined across ranks and the result is on every rank (a "
     "shared-memory window per node, MPI_Allreduce between nodes; HETFL_AGG_SHM=0: MPI_Allreduce)"},
    {"aggregation.exact", HF_OPT_BOOL, "yes", NONE, NULL,
     "yes: order-independent fixed-point sums (32-bit integers for rounds of <= 127 updates, "
     "64-bit beyond), bitwise identical for any rank count and topology; no: plain float sums "
     "(faster, not reproducible across layouts)"},
    /* [devices] (devices.c, placement.c) */
    {"devices.classes", HF_OPT_STRING, "", NONE, NULL,
     "class mix 'name:share,...' (shares normalised; clients dealt exact quotas as "
     "devices.deal says); names from the built-in library (`hetfl list`), devices.file, or 'custom' "
     "(the devices.cores... keys); empty: one class 'default' from those keys"},
    {"devices.file", HF_OPT_PATH, "", NONE, NULL,
     "CSV of classes (header name,cores,gflops,mem_width,up_mbps,down_mbps,latency_s,active_w,"
     "idle_w,radio_j_per_mb,battery_j[,share]); adds to / overrides the library by name; "
     "without devices.classes its share column is the mix"},
    {"devices.deal", HF_OPT_CHOICE, "auto", NONE, "auto|permutation|bijection",
     "how the exact quotas of devices.classes and energy.regions are dealt to client ids: a seeded "
     "permutation of all N ids (4 bytes a client kept, 4 more while dealing), or a keyed bijection of "
     "[0, N) evaluated per id (nothing stored; deal.c, docs/scale.md); auto: the permutation up to 100000 "
     "clients (every run of the old cap dealt as before), the bijection above"},
    {"devices.clock", HF_OPT_CHOICE, "model", NONE, "model|measured",
     "model: compute time = FLOPs / class GFLOP/s x jitter, deterministic; measured: the pinned "
     "wall-clock compute time advances /rounds.sim_time_s (outside the determinism contract; "
     "which clients are kept is still planned with the model)"},
    {"devices.jitter", HF_OPT_FLOAT, "0.1", 0, 5, NULL,
     "sigma of the lognormal factor exp(sigma z) on each client's compute time, z keyed by "
     "(seed, round, client); 0 = none"},
    {"devices.bind", HF_OPT_BOOL, "yes", NONE, NULL,
     "bind each rank with hwloc to its class's core count inside the launcher's cpuset "
     "(too few cores: warn once, share cores round-robin)"},
    {"devices.cores", HF_OPT_INT, "1", 1, 1024, NULL,
     "class 'custom'/'default': OpenBLAS threads each client trains with (part of the "
     "determinism contract)"},
    {"devices.gflops", HF_OPT_FLOAT, "10", 1e-6, 1e9, NULL,
     "class 'custom'/'default': effective training speed, GFLOP/s (simulated clock)"},
    {"devices.up_mbps", HF_OPT_FLOAT, "10", 1e-6, 1e9, NULL,
     "class 'custom'/'default': uplink bandwidth, Mbit/s"},
    {"devices.down_mbps", HF_OPT_FLOAT, "50", 1e-6, 1e9, NULL,
     "class 'custom'/'default': downlink bandwidth, Mbit/s"},
    {"devices.latency_s", HF_OPT_FLOAT, "0.05", 0, 1e6, NULL,
     "class 'custom'/'default': latency added to each transfer, s"},
    {"devices.active_w", HF_OPT_FLOAT, "5", 0, 1e6, NULL,
     "class 'custom'/'default': power while training, W"},
    {"devices.idle_w", HF_OPT_FLOAT, "0.5", 0, 1e6, NULL,
     "class 'custom'/'default': power while idle, W"},
    {"devices.radio_j_per_mb", HF_OPT_FLOAT, "0.1", 0, 1e6, NULL,
     "class 'custom'/'default': radio energy per MB sent or received, J"},
    {"devices.mem_width", HF_OPT_FLOAT, "1", 1e-6, 1, NULL,
     "class 'custom'/'default': memory cap, the largest model width fraction it holds"},
    {"devices.battery_j", HF_OPT_FLOAT, "0", 0, 1e15, NULL,
     "class 'custom'/'default': battery capacity, J (0 = mains powered, unlimited)"},
    /* round policies (devices.c: hf_round_plan) */
    {"federation.deadline_s", HF_OPT_FLOAT, "0", 0, 1e12, NULL,
     "round deadline in simulated seconds from the round start (0 = none): clients whose "
     "download + compute + upload exceeds it are dropped (outcome late), the round then lasts "
     "the deadline"},
    {"federation.partial_work", HF_OPT_BOOL, "no", NONE, NULL,
     "with a deadline: a client that cannot finish its E epochs sends the whole local steps "
     "that fit (outcome partial, FedProx's straggler semantics) instead of being dropped"},
    {"federation.overcommit", HF_OPT_FLOAT, "1", 1, 100, NULL,
     "over-commitment f: select ceil(f*K) clients, keep the first K to finish (the rest: "
     "outcome overcommitted); FedScale uses 1.3"},
    {"federation.backup_workers", HF_OPT_STRING, "0", NONE, NULL,
     "backup workers: b (wait for the fastest m-b of the m selected; the rest: outcome backup) "
     "or 'dynamic' (DBW, Xu, Neglia, Sebastianelli 2021: b chosen each round to maximise the "
     "expected loss decrease per simulated second)"},
    /* [availability], [selection], aggregation corrections (avail.c, select.c) */
    {"availability.model", HF_OPT_CHOICE, "always", NONE, "always|markov|diurnal|cyclic|sessions|trace",
     "client availability: always; markov (two-state chain per slot_s, pi/lambda or mix cafed); "
     "diurnal (on_hours a day from start_hour local time, per-client time zone); cyclic (client k "
     "in group k mod groups, groups online in turn); sessions (on/off durations); trace "
     "(availability.file). A client is selectable only while online at the round start and is "
     "dropped (outcome dropped_offline) if it goes offline before its simulated finish"},
    {"availability.file", HF_OPT_PATH, "", NONE, NULL,
     "model = trace: CSV client,start_s,end_s of online intervals, optional '# period_s = P' "
     "header (repeating pattern); `hetfl trace convert` imports AWS-spot step CSVs and "
     "spot-traces JSON"},
    {"availability.horizon_s", HF_OPT_FLOAT, "604800", 1, 1e10, NULL,
     "generated models: length of the generated pattern, which then repeats (memory: 16 bytes "
     "per online interval)"},
    {"availability.slot_s", HF_OPT_FLOAT, "60", 1e-3, 1e9, NULL,
     "markov: seconds per step of the chain"},
    {"availability.per_round", HF_OPT_BOOL, "no", NONE, NULL,
     "synchronous rounds: the availability clock is the round, not the simulated time: round t sees "
     "the model's state at (t + 1/2) slot_s (markov: one chain step per round, as arodio/CA-Fed's "
     "simulator), and a selected client stays online for its round (no drop-outs)"},
    {"availability.pi", HF_OPT_FLOAT, "0.5", 0, 1, NULL,
     "markov, mix uniform: stationary availability pi of every client"},
    {"availability.lambda", HF_OPT_FLOAT, "0", -1, 1, NULL,
     "markov, mix uniform: correlation lambda; P(on->on) = lambda + (1-lambda) pi, "
     "P(off->on) = (1-lambda) pi (arodio/CA-Fed activity_simulator.py); must be >= "
     "max(1-1/pi, 1-1/(1-pi))"},
    {"availability.mix", HF_OPT_CHOICE, "uniform", NONE, "uniform|cafed",
     "markov: uniform (every client pi, lambda) or cafed (CA-Fed client types, exact quotas: 1/2 "
     "available-shifting pi = 1/2+cafed_a, lambda ~ 0; 1/4 unavailable-stable pi = 1/2-cafed_a, "
     "lambda = cafed_s; 1/4 unavailable-shifting)"},
    {"availability.cafed_a", HF_OPT_FLOAT, "0.25", -0.5, 0.5, NULL, "mix cafed: availability parameter a"},
    {"availability.cafed_s", HF_OPT_FLOAT, "0.25", 0, 1, NULL, "mix cafed: stability parameter s"},
    {"availability.on_hours", HF_OPT_FLOAT, "8", 0, 24, NULL, "diurnal: hours online each day"},
    {"availability.start_hour", HF_OPT_FLOAT, "22", 0, 24, NULL,
     "diurnal: local hour the daily window starts (22: overnight charging)"},
    {"availability.jitter_h", HF_OPT_FLOAT, "1", 0, 24, NULL,
     "diurnal: standard deviation of the daily start, hours (per client and day)"},
    {"availability.tz_spread_h", HF_OPT_FLOAT, "24", 0, 24, NULL,
     "diurnal: client time zones uniform over this many hours (0: all in one zone)"},
    {"availability.groups", HF_OPT_INT, "4", 1, 1000000, NULL, "cyclic: number of groups"},
    {"availability.cycle_s", HF_OPT_FLOAT, "3600", 1e-3, 1e10, NULL,
     "cyclic: length of one cycle; each group is online cycle_s/groups in turn"},
    {"availability.session_dist", HF_OPT_CHOICE, "weibull", NONE, "weibull|lognormal",
     "sessions: distribution of on and off durations"},
    {"availability.on_mean_s", HF_OPT_FLOAT, "1800", 1e-3, 1e10, NULL, "sessions: mean online duration"},
    {"availability.off_mean_s", HF_OPT_FLOAT, "1800", 1e-3, 1e10, NULL, "sessions: mean offline duration"},
    {"availability.shape", HF_OPT_FLOAT, "1.5", 1e-3, 100, NULL,
     "sessions: Weibull shape k (1 = exponential), or lognormal sigma"},
    {"availability.withdraw_fraction", HF_OPT_FLOAT, "0", 0, 1, NULL,
     "withdraw: this fraction of clients (seeded choice) leaves for good at withdraw_at_s"},
    {"availability.withdraw_at_s", HF_OPT_FLOAT, "0", 0, 1e15, NULL, "withdraw: simulated time they leave"},
    {"availability.transfer", HF_OPT_BOOL, "no", NONE, NULL,
     "data transfer to participants (synchronous rounds, not with heterofl/fjord): before each "
     "session every selected client receives ceil(transfer_fraction x n_d) samples of one client d "
     "offline at the round start (donors drawn uniformly without replacement, samples by a "
     "permutation, keyed by (seed, availability stream, round)); it trains that round on its own "
     "plus the received samples (its steps, compute time and aggregation weight grow with them); "
     "the bytes (samples x (features x 4 + 4)) are charged at transfer_bw_mbps before its download "
     "(/participation.samples_data, bytes_data, comm_s)"},
    {"availability.transfer_fraction", HF_OPT_FLOAT, "0.5", 1e-9, 1, NULL,
     "transfer: fraction of the offline donor's samples a participant receives"},
    {"availability.transfer_bw_mbps", HF_OPT_FLOAT, "0", 0, 1e9, NULL,
     "transfer: bandwidth of the data transfer, Mbit/s (0: the participant's class down_mbps); "
     "the time is latency + bytes x 8 / bandwidth"},
    {"selection.policy", HF_OPT_CHOICE, "uniform", NONE, NULL /* the registry's names */,
     "among the online clients: uniform; poc (power-of-choice, Cho et al. 2022: selection.d "
     "candidates by q_k, highest last local loss, simple average); f3ast (Ribero et al. 2023: largest "
     "q_k/r_k, r_k smoothed participation rate, weights q_k/r_k); forecast (clients the "
     "availability trace keeps online for their round time first); cyclic (Cho et al. 2023: group "
     "round mod G)"},
    {"aggregation.correction", HF_OPT_CHOICE, "none", NONE, "none|unbiased|cafed",
     "availability correction: none (strategy weights n_k); unbiased (x += sum (q_k/pi_k) (A/|S|) D_k, "
     "pi_k Bayesian estimate (#on + 100 pi_prior)/(t + 100)); cafed (CA-Fed, Rodio et al.: "
     "greedily exclude clients by |lambda_k| then pi_k while the surrogate decreases)"},
    {"aggregation.pi_prior", HF_OPT_FLOAT, "-1", -1, 1, NULL,
     "prior of the availability estimator: -1 = the Markov model's pi_k (as CA-Fed's code does), "
     "0.5 for other models; or a value in [0, 1] for every client"},
    {"aggregation.cafed_c", HF_OPT_FLOAT, "1", 0, 1e6, NULL, "cafed: bias constant C of the surrogate"},
    /* [energy] */
    {"energy.carbon_intensity", HF_OPT_FLOAT, "475", 0, 1e5, NULL,
     "grid carbon intensity, gCO2e/kWh (default: world average 2019, IEA, as listed by "
     "Green Algorithms' CI_aggregated.csv)"},
    /* [energy] — energy.c, carbon.c, rapl.c, kernels/compress.c */
    {"energy.carbon_file", HF_OPT_PATH, "", NONE, NULL,
     "carbon intensity sources: a trace (timestamp,region,gco2_per_kwh, hourly), an EIA-style "
     "file (timestamp,...,avg_CI; region = file name up to '_'), a month x hour profile "
     "(region,month,h00..h23), or a directory of such *.csv files (e.g. traces/carbon: profiles "
     "of BPAT CISO ERCO NYIS PJM derived from the 2022 EIA traces)"},
    {"energy.start", HF_OPT_STRING, "2022-01-01T00:00Z", NONE, NULL,
     "wall-clock (UTC, ISO 8601) time of simulated time 0: carbon look-ups use start + sim time"},
    {"energy.regions", HF_OPT_STRING, "", NONE, NULL,
     "client regions as REGION:SHARE,... (exact quotas, dealt as devices.deal says); a "
     "region is one of energy.carbon_file's, a country-table code (FR, DE, US-CA, ...: "
     "country_annual_CI.csv figures) or 'default' (energy.carbon_intensity); empty = all default"},
    {"energy.regions_file", HF_OPT_PATH, "", NONE, NULL,
     "client regions from a CSV of 'client,region' rows (every client once); overrides "
     "energy.regions"},
    {"energy.scheduler", HF_OPT_CHOICE, "agnostic", NONE, "agnostic|carbon-aware",
     "agnostic: uniform selection, rounds start when the previous ends; carbon-aware: clients "
     "drawn with alpha-fair shares of their carbon cost and n_k/pi_k (Hajek) weights, rounds "
     "deferred up to energy.slack_h into the lowest-carbon hour, under energy.carbon_budget_g"},
    {"energy.slack_h", HF_OPT_FLOAT, "0", 0, 8760, NULL,
     "carbon-aware: a round may start up to this many whole hours after it could (0 = never "
     "deferred)"},
    {"energy.fair_alpha", HF_OPT_FLOAT, "1", 0.01, 1e6, NULL,
     "carbon-aware: alpha of the alpha-fair shares x_k ~ cost_k^(-1/alpha); large = equal shares "
     "(agnostic), 1 = proportional fairness, small = cheapest clients only"},
    {"energy.carbon_budget_g", HF_OPT_FLOAT, "0", 0, 1e15, NULL,
     "carbon-aware: total carbon budget of the run, gCO2e (0 = none); what is left is spread "
     "evenly over the remaining rounds, fewer clients are selected when a round would exceed it"},
    {"energy.budget_j", HF_OPT_FLOAT, "0", 0, 1e15, NULL,
     "per-client energy budget, J (0 = unlimited); see energy.budget_spread, budget_period_h"},
    {"energy.budget_spread", HF_OPT_FLOAT, "0", 0, 0.99, NULL,
     "client k's budget is budget_j * (1 + spread * (2u - 1)), u ~ U(0,1) keyed by (seed, client)"},
    {"energy.budget_period_h", HF_OPT_FLOAT, "0", 0, 1e6, NULL,
     "budgets are refilled every this many simulated hours (24 = daily; 0 = never, a battery)"},
    {"energy.battery_budget", HF_OPT_BOOL, "no", NONE, NULL,
     "yes: a client without a budget (energy.budget_j = 0) gets its device class's battery_j as "
     "its budget (mains-powered classes stay unlimited)"},
    {"energy.budget_strategy", HF_OPT_CHOICE, "exclude", NONE, "exclude|steps|sample|compress|auto|width",
     "a client that cannot pay a full round: exclude (outcome over_budget), steps (fewer local "
     "steps), sample (each epoch over a random subset of its data), compress (QSGD upload), auto "
     "(compress, then fewer steps); shortened updates are scaled by steps_full/steps; width "
     "(heterofl, fjord): the widest narrower sub-model whose round fits, else over_budget"},
    {"energy.count_idle", HF_OPT_BOOL, "no", NONE, NULL,
     "add idle power x transfer time (latency + bytes/bandwidth) to each participation's energy"},
    {"energy.compress", HF_OPT_CHOICE, "none", NONE, "none|qsgd|topk|fp16",
     "compression of every upload: qsgd (energy.qsgd_levels, unbiased), topk (energy.topk_ratio, "
     "error feedback), fp16; bytes_up is the exact encoded size"},
    {"energy.qsgd_levels", HF_OPT_INT, "15", 1, 65535, NULL,
     "QSGD levels s: 1 + ceil(log2(s+1)) bits per value plus 32 per bucket"},
    {"energy.qsgd_bucket", HF_OPT_INT, "512", 1, 1 << 24, NULL, "QSGD bucket size (values per norm)"},
    {"energy.topk_ratio", HF_OPT_FLOAT, "0.01", 1e-9, 1, NULL,
     "top-k: fraction of coordinates sent (k = ceil(ratio * nparams)); 8 bytes each + 4"},
    {"energy.measure", HF_OPT_BOOL, "yes", NONE, NULL,
     "read RAPL counters around each rank's training (energy_j_measured columns; NaN and one "
     "warning where unreadable)"},
    {"energy.rapl_root", HF_OPT_PATH, "/sys/class/powercap", NONE, NULL,
     "powercap sysfs root holding intel-rapl:N (package) and intel-rapl:N:M (dram) zones"},
    /* [privacy] — src/privacy/mia.c; defences are strategies (dpfedavg) */
    {"privacy.attack", HF_OPT_CHOICE, "none", NONE, "none|loss|update",
     "passive membership inference (the loss-threshold attack of Yeom et al. 2018; members = the "
     "target's samples, non-members = held-out test samples; /privacy table): none; loss (on the "
     "global model, every evaluation); update (an eavesdropper on the target's uplink: on global + "
     "the target's upload, every round it participates; not with heterofl, fjord, feddf, dkt)"},
    {"privacy.target", HF_OPT_INT, "0", 0, 2147483646, NULL, "the client whose training data is attacked"},
    {"privacy.samples", HF_OPT_INT, "200", 1, 1000000, NULL,
     "members scored (the target's first samples, at most its n_k), and as many non-members; the "
     "attribute attack's samples (the target's first)"},
    {"privacy.attribute_attack", HF_OPT_CHOICE, "none", NONE, "none|global|update|combined|reconstruct",
     "passive attribute inference (the model-based attack of Driouich et al. 2022: each of the target's "
     "samples gets the value of privacy.attribute_feature, 0 or 1, under which the observed model's loss "
     "is lower; /attribute_inference table): none; global (the global model, every evaluation); update "
     "(an eavesdropper on the target's uplink: global + the target's upload, every round it participates); "
     "combined (the same eavesdropper summing each sample's loss differences over every upload seen so far); "
     "reconstruct (the same eavesdropper attacking the target's local optimum, the fixed point of its local "
     "update estimated from its last privacy.reconstruct_uploads uploads, as in the paper)"},
    {"privacy.reconstruct_uploads", HF_OPT_INT, "10", 1, 100, NULL,
     "privacy.attribute_attack = reconstruct: the target's latest uploads it uses (it keeps 2 models per "
     "upload on the target's rank and rank 0, checkpointed)"},
    {"privacy.attribute_feature", HF_OPT_INT, "0", 0, 2147483646, NULL,
     "the input feature holding the binary sensitive attribute (0 or 1 on every attacked sample; "
     "data.synthetic_sensitive = yes makes feature 0 one)"},
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

/* Per-client evaluation and fine-tuning ([data] client_test_*, [personal]); modes without rounds. */
static int personal_params(hf_params_t *p, const hf_conf_t *c)
{
    p->client_test_fraction = hf_conf_float(c, "data.client_test_fraction");
    p->finetune_steps = (int)hf_conf_int(c, "personal.finetune_steps");
    p->client_test_natural = hf_conf_bool(c, "data.client_test_natural");
    if (p->client_test_natural && p->client_test_fraction > 0)
        return cross_err(c, "data.client_test_natural", "the per-client test split is either the natural one",
                         "or data.client_test_fraction > 0, not both");
    if (p->finetune_steps > 0 && p->client_test_fraction <= 0 && !p->client_test_natural)
        return cross_err(c, "personal.finetune_steps", "fine-tunes before the per-client evaluation:",
                         "set data.client_test_fraction > 0 (or data.client_test_natural = yes)");
    const char *ck = p->client_test_natural ? "data.client_test_natural" : "data.client_test_fraction";
    if ((p->client_test_fraction > 0 || p->client_test_natural) && !strcmp(oget(c, "federation.mode"), "async"))
        return cross_err(c, ck, "per-client evaluation is not available", "in federation.mode = async yet");
    if (hf_conf_bool(c, "availability.per_round") && !strcmp(oget(c, "federation.mode"), "async"))
        return cross_err(c, "availability.per_round", "is not supported with federation.mode = async",
                         "(no rounds: the availability clock is the simulated time)");
    return 0;
}

/* A key the suite, a sweep or --set gave (not its default). */
static int key_given(const hf_conf_t *c, const char *key)
{
    const char *o = hf_conf_origin(c, key);
    return o && strcmp(o, "default") != 0;
}

/* Data streams ([stream], stream.c). */
static int stream_params(hf_params_t *p, const hf_conf_t *c)
{
    p->stream_rate = hf_conf_float(c, "stream.rate");
    p->stream_initial = hf_conf_int(c, "stream.initial");
    p->stream_memory = hf_conf_int(c, "stream.memory");
    p->stream_window = hf_conf_int(c, "stream.eval_window");
    p->stream_drift = !strcmp(oget(c, "stream.order"), "drift");
    const char *pol = oget(c, "stream.policy");
    p->stream_reservoir = !strcmp(pol, "reservoir") || !strcmp(pol, "weighted");
    p->stream_weight_power = !strcmp(pol, "weighted") ? hf_conf_float(c, "stream.weight_power") : 0.0;
    p->stream_rate_spread = hf_conf_float(c, "stream.rate_spread");
    copy_str(p->stream_trace, sizeof p->stream_trace, oget(c, "stream.trace"));
    static const char *keys[] = {"stream.initial", "stream.order", "stream.memory", "stream.policy",
                                 "stream.eval_window", "stream.rate_spread", "stream.weight_power"};
    const char *on = p->stream_trace[0] ? "stream.trace" : "stream.rate";
    if (p->stream_rate <= 0 && !p->stream_trace[0]) {
        for (int i = 0; i < (int)(sizeof keys / sizeof keys[0]); i++)
            if (key_given(c, keys[i]))
                return cross_err(c, keys[i], "sets a data stream, which is off:", "set stream.rate > 0 or stream.trace");
        return 0;
    }
    if (p->stream_rate > 0 && p->stream_trace[0])
        return cross_err(c, "stream.trace", "the arrivals come from stream.rate or from a trace,", "not both");
    if (p->stream_trace[0] && key_given(c, "stream.rate_spread"))
        return cross_err(c, "stream.rate_spread", "spreads stream.rate, and the arrivals come from",
                         "stream.trace (give each client its own lines there)");
    if (key_given(c, "stream.weight_power") && strcmp(pol, "weighted") != 0)
        return cross_err(c, "stream.weight_power", "weights a stream.policy = weighted memory;", "the policy is not "
                         "weighted");
    if (strcmp(oget(c, "federation.mode"), "centralized") != 0)
        return cross_err(c, on, "data streams run in federation.mode = centralized only,", "not "
                         "decentralized or async");
    if (!p->stream_trace[0] && (double)p->stream_initial + floor(p->stream_rate) < 1)
        return cross_err(c, "stream.rate", "round 1 would find every client without a sample:",
                         "stream.initial + floor(stream.rate) must be >= 1");
    if (key_given(c, "stream.policy") && p->stream_memory == 0)
        return cross_err(c, "stream.policy", "a retention policy needs a memory budget:", "set stream.memory > 0");
    if (key_given(c, "stream.eval_window") && p->client_test_fraction <= 0 && !p->client_test_natural)
        return cross_err(c, "stream.eval_window", "restricts the per-client evaluation, which is off:",
                         "set data.client_test_fraction > 0 (or data.client_test_natural = yes)");
    return 0;
}

int hf_params_from_conf(hf_params_t *p, const hf_conf_t *c)
{
    memset(p, 0, sizeof *p);
    copy_str(p->name, sizeof p->name, oget(c, "run.name"));
    p->seed = (uint64_t)hf_conf_int(c, "run.seed");
    copy_str(p->output, sizeof p->output, oget(c, "run.output"));
    p->checkpoint_every = (int)hf_conf_int(c, "run.checkpoint_every");

    const char *ds = oget(c, "data.dataset");
    static const char *dsn[] = {"fashion-mnist", "synthetic", "leaf", "femnist", "shakespeare", "cifar10",
                                "cifar100", "tff", "hdf5", "synthetic-clustered"};  /* in hf_dsname_t order */
    p->dataset = HF_DS_FMNIST;
    for (int i = 0; i < (int)(sizeof dsn / sizeof dsn[0]); i++)
        if (!strcmp(ds, dsn[i])) p->dataset = (hf_dsname_t)i;
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
    p->syn_sensitive = hf_conf_bool(c, "data.synthetic_sensitive");
    p->syn_devices = (int)hf_conf_int(c, "data.synthetic_devices");
    p->syn_size_mu = hf_conf_float(c, "data.synthetic_size_mu");
    p->syn_size_sigma = hf_conf_float(c, "data.synthetic_size_sigma");
    p->syn_size_min = hf_conf_int(c, "data.synthetic_size_min");
    p->on_demand = hf_conf_bool(c, "data.on_demand");
    p->od_eval_clients = (int)hf_conf_int(c, "data.on_demand_eval_clients");
    p->od_client_samples = hf_conf_int(c, "data.on_demand_client_samples");
    p->clu_dim = (int)hf_conf_int(c, "data.clustered_dim");
    p->clu_train = hf_conf_int(c, "data.clustered_train");
    p->clu_test = hf_conf_int(c, "data.clustered_test");
    p->clu_hetero = hf_conf_float(c, "data.clustered_hetero");
    p->augment = !strcmp(oget(c, "data.augment"), "crop-flip");

    const char *arch = oget(c, "model.arch");
    p->model.arch = !strcmp(arch, "logreg") ? HF_ARCH_LOGREG
                    : !strcmp(arch, "cnn") ? HF_ARCH_CNN
                    : !strcmp(arch, "lstm") ? HF_ARCH_LSTM
                    : !strcmp(arch, "resnet") ? HF_ARCH_RESNET : HF_ARCH_MLP;
    p->model.depth = atoi(oget(c, "model.depth"));
    const char *norm = oget(c, "model.norm");
    p->model.norm = !strcmp(norm, "group")       ? HF_NORM_GROUP
                    : !strcmp(norm, "static-bn") ? HF_NORM_STATIC_BN : HF_NORM_NONE;
    p->norm_samples = hf_conf_int(c, "model.norm_samples");
    p->model.conv = !strcmp(oget(c, "model.conv"), "fast") ? HF_CONV_FAST : HF_CONV_GEMM;
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
    const char *ho = hf_conf_origin(c, "model.hidden");
    if (p->model.arch == HF_ARCH_LSTM && ho && !strcmp(ho, "default"))
        nh = 0;  /* lstm defaults 256,256 */
    if (p->model.arch == HF_ARCH_RESNET) {
        if (ho && !strcmp(ho, "default")) nh = 0;  /* resnet defaults 64,128,256,512 */
        else if (nh != 4)
            return cross_err(c, "model.hidden", "resnet takes four stage widths,", "e.g. 64,128,256,512");
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
    int prc = personal_params(p, c);  /* per-client evaluation */
    if (!prc) prc = stream_params(p, c);  /* data streams */
    if (prc) return prc;
    if (p->clients_per_round > p->clients) {
        char d[96];
        snprintf(d, sizeof d, "%d > federation.clients = %d", p->clients_per_round, p->clients);
        return cross_err(c, "federation.clients_per_round", "cannot exceed the number of clients:", d);
    }
    if (p->partition == HF_PART_NATURAL &&
        (p->dataset == HF_DS_FMNIST || p->dataset == HF_DS_CIFAR10 || p->dataset == HF_DS_CIFAR100))
        return cross_err(c, "data.partition", "natural needs per-user data:",
                         "use data.dataset = synthetic, leaf, femnist, shakespeare, tff or hdf5 (with /clients)");

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
    p->dev.idle_w = hf_conf_float(c, "devices.idle_w");
    p->dev.mem_width = hf_conf_float(c, "devices.mem_width");
    p->dev.battery_j = hf_conf_float(c, "devices.battery_j");
    if (p->dev.battery_j <= 0) p->dev.battery_j = INFINITY;
    int drc = hf_devices_from_conf(&p->devs, c, &p->dev);  /* devices.c: classes, policies */
    if (drc) return drc;
    p->carbon_intensity = hf_conf_float(c, "energy.carbon_intensity");
    int src = hf_strat_params(p, c);  /* registry.c: [server], [topology], the strategy's own check */
    if (src) return src;
    return 0;
}

#define MAX_OPTIONS 512
#define PLUGIN_KEYS_AFTER "federation.eval_every"  /* strategies' rows follow this key */

const hf_opt_t *hf_options_table(void)
{
    static hf_opt_t table[MAX_OPTIONS];
    if (table[0].key) return table;
    int n = 0;
    for (const hf_opt_t *o = core_options; o->key; o++) {
        table[n] = *o;
        if (!strcmp(o->key, "federation.strategy")) table[n].choices = hf_strategy_names();
        if (!strcmp(o->key, "selection.policy")) table[n].choices = hf_select_policy_names();
        if (!strcmp(o->key, "server.optimizer")) table[n].choices = hf_server_opt_names("|");
        n++;
        if (!strcmp(o->key, PLUGIN_KEYS_AFTER))
            for (int i = 0; hf_strategies[i]; i++)
                for (const hf_opt_t *k = hf_strategies[i]->keys; k && k->key; k++) table[n++] = *k;
        if (!strcmp(o->key, "selection.policy"))  /* the policies' rows follow it */
            for (int i = 0; hf_select_policies[i]; i++)
                for (const hf_opt_t *k = hf_select_policies[i]->keys; k && k->key; k++) table[n++] = *k;
        if (n >= MAX_OPTIONS - 1) abort();  /* raise MAX_OPTIONS */
    }
    return table;
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

/* A range bound: integers as integers (2147483647, not 2.14748e+09). */
static void num_text(char *buf, size_t n, double v, int integral)
{
    if ((integral || v == floor(v)) && fabs(v) < 9.1e18) snprintf(buf, n, "%lld", (long long)v);
    else snprintf(buf, n, "%g", v);
}

/* A Markdown table cell: '|' escaped so choice lists do not split the row. */
static void md_cell(char *buf, size_t n, const char *s)
{
    size_t j = 0;
    for (; *s && j + 3 < n; s++) {
        if (*s == '|') buf[j++] = '\\';
        buf[j++] = *s;
    }
    buf[j] = 0;
}

/* troff text: backslashes escaped, '-' as \- (a real minus/hyphen in man pages) */
static void man_text(FILE *out, const char *s)
{
    if (*s == '.' || *s == '\'') fputs("\\&", out);
    for (; *s; s++) {
        if (*s == '\\') fputs("\\e", out);
        else if (*s == '-') fputs("\\-", out);
        else fputc(*s, out);
    }
}

void hf_options_print(FILE *out, int markdown)
{
    if (markdown) {
        fprintf(out, "| key | type | default | range / choices | meaning |\n|---|---|---|---|---|\n");
    }
    for (const hf_opt_t *o = hf_options_table(); o->key; o++) {
        char range[512] = "";
        if (o->type == HF_OPT_CHOICE) snprintf(range, sizeof range, "%s", o->choices);
        else if (o->min <= o->max) {
            char lo[40], hi[40];
            int integral = o->type == HF_OPT_INT || o->type == HF_OPT_INTLIST;
            num_text(lo, sizeof lo, o->min, integral);
            num_text(hi, sizeof hi, o->max, integral);
            snprintf(range, sizeof range, "[%s, %s]", lo, hi);
        }
        if (markdown == 2) {  /* man page: one .TP entry per key */
            fputs(".TP\n.B ", out);
            man_text(out, o->key);
            fputs("\n(", out);
            man_text(out, type_name(o->type));
            fputs("; default \\(lq", out);
            man_text(out, o->def);
            fputs("\\(rq", out);
            if (range[0]) {
                fputs("; ", out);
                man_text(out, range);
            }
            fputs(")\n", out);
            man_text(out, o->doc);
            fputc('\n', out);
        } else if (markdown) {
            char k[256], ty[32], def[512], r[1024], doc[4096];
            md_cell(k, sizeof k, o->key);
            md_cell(ty, sizeof ty, type_name(o->type));
            md_cell(def, sizeof def, o->def);
            md_cell(r, sizeof r, range);
            md_cell(doc, sizeof doc, o->doc);
            fprintf(out, "| `%s` | %s | `%s` | %s | %s |\n", k, ty, def, r, doc);
        }
        else
            fprintf(out, "%-30s %-8s default '%s'%s%s\n    %s\n", o->key, type_name(o->type), o->def,
                    range[0] ? "  " : "", range, o->doc);
    }
}
