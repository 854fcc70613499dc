/*
 * data.h — data sets and partitions.
 *
 * A data set is a dense (n, dim) float32 matrix of features, row-major, and n
 * integer labels in [0, n_classes).  A partition maps clients to sample
 * indices: client k owns idx[off[k] .. off[k+1]-1] (CSR layout, O(n + clients)).
 */
#ifndef HF_DATA_H
#define HF_DATA_H
#include "rng.h"
#include <stddef.h>
#include <stdint.h>

typedef struct {
    long n;          /* samples */
    int dim;         /* features per sample = c*h*w */
    int c, h, w;     /* image shape (1,1,dim for vectors) */
    int n_classes;
    int vocab;       /* 0: x holds features.  > 0: text; x holds token ids in
                        [0, vocab) stored as floats (exact: ids < 2^24), one
                        sequence of dim tokens per sample (c = h = 1, w = dim),
                        and the labels are token ids too (n_classes = vocab) */
    float *x;        /* n*dim, 64-byte aligned */
    int *y;          /* n */
} hf_dataset_t;

typedef struct {
    int nclients;
    long *off;       /* nclients+1 */
    long *idx;       /* off[nclients] entries */
} hf_partition_t;

void hf_dataset_free(hf_dataset_t *d);
void hf_partition_free(hf_partition_t *p);
/* Minibatch gather: rows idx[perm[0..B)] of x (row length dim) and their labels
 * y into xb (B × dim) and yb — the one copy every local trainer uses. */
void hf_gather_rows(const float *x, const int *y, int dim, const long *idx, const int *perm, int B, float *xb,
                    int *yb);
/* Allocate an empty data set of n samples (x 64-byte aligned, zeroed). */
void hf_dataset_alloc(hf_dataset_t *d, long n, int c, int h, int w, int n_classes);

/* IDX (LeCun) files, optionally gzip-compressed (zlib gzopen reads both).
 * Images scaled to [0,1].  Errors (missing file, wrong magic, truncated) →
 * HF_EINPUT with "PATH: reason". */
int hf_idx_read_images(const char *path, hf_dataset_t *d);   /* fills x, n, c/h/w */
int hf_idx_read_labels(const char *path, hf_dataset_t *d);   /* fills y; n must match if set */
/* The same from memory (what the file readers use; also a fuzzing entry point).
 * `name` is used in messages in place of the path.  `d` must be zeroed or hold
 * earlier results of these readers (x resp. y is replaced).  Labels set
 * n_classes to max(n_classes, max label + 1). */
int hf_idx_parse_images(const unsigned char *buf, size_t len, const char *name, hf_dataset_t *d);
int hf_idx_parse_labels(const unsigned char *buf, size_t len, const char *name, hf_dataset_t *d);
/* Read a whole file, plain or gzip, into memory (*buf from malloc, caller frees).
 * Errors → HF_EINPUT "PATH: reason" (missing file, corrupt/truncated gzip). */
int hf_file_slurp(const char *path, unsigned char **buf, size_t *len);

/* Fashion-MNIST from `dir` (default /usr/share/datasets/fashion-mnist when
 * NULL or ""): train-images-idx3-ubyte.gz etc.  Missing → HF_EINPUT with a
 * HINT naming the Debian package dataset-fashion-mnist. */
int hf_fmnist_load(const char *dir, hf_dataset_t *train, hf_dataset_t *test);
#define HF_FMNIST_DEFAULT_DIR "/usr/share/datasets/fashion-mnist"

/* FedProx Synthetic(alpha, beta) (Li et al. 2020, generate_synthetic.py): the
 * authors' generator.  ndev devices, dim features (60), n_classes (10).
 * iid != 0: the iid variant.  sensitive != 0: feature 0 is a binary sensitive
 * attribute in {0, 1} the label depends on (data_synth.c).  Each device's samples are split 90/10 into train
 * and test; ptrain/ptest give the natural per-device partition. Seeded by seed. */
int hf_synthetic_generate(double alpha, double beta, int iid, int sensitive, int ndev, int dim,
                          int n_classes, uint64_t seed, hf_dataset_t *train, hf_dataset_t *test,
                          hf_partition_t *ptrain, hf_partition_t *ptest);

/* The generator itself (data_synth.c), one device at a time: its parameters
 * (n_k = int(LogNormal(size_mu, size_sigma)) + size_min samples a device, the
 * first int(0.9 n_k) of them training data) and, after hf_synth_init, the
 * iid variant's shared W (dim x n_classes) and b. */
typedef struct {
    double alpha, beta;
    int iid, sensitive, dim, n_classes;
    uint64_t seed;
    double size_mu, size_sigma;
    long size_min;
    double *W, *b;              /* iid: set by hf_synth_init; NULL otherwise */
} hf_synth_t;
/* Checks the parameters (HF_EINPUT) and draws the iid model. */
int hf_synth_init(hf_synth_t *s);
void hf_synth_free(hf_synth_t *s);
/* n_k of device k (every sample, training and test), from its stream's first draw. */
long hf_synth_device_size(const hf_synth_t *s, long k);
/* Its training samples: int(0.9 n). */
long hf_synth_train_size(long n);
/* Device k's first ntr samples into xtr (ntr x dim), ytr, the next nte into xte,
 * yte (ntr + nte <= n_k; nte = 0: training rows only). */
void hf_synth_device_rows(const hf_synth_t *s, long k, float *xtr, int *ytr, long ntr, float *xte, int *yte,
                          long nte);
/* Every device's samples, train and test sets, natural partitions of both. */
int hf_synth_generate(const hf_synth_t *s, int ndev, hf_dataset_t *train, hf_dataset_t *test,
                      hf_partition_t *ptrain, hf_partition_t *ptest);

/* CA-Fed's synthetic clustered data (Rodio et al. 2023; data_synth.c): ndev
 * devices in two clusters (the second half flips labels with probability
 * hetero), dim standard-normal features, binary labels of a shared logistic
 * model; ntrain + ntest samples per device, natural partitions of both. */
int hf_synthetic_clustered_generate(int ndev, int dim, long ntrain, long ntest, double hetero,
                                    uint64_t seed, hf_dataset_t *train, hf_dataset_t *test,
                                    hf_partition_t *ptrain, hf_partition_t *ptest);

/* LEAF JSON ({"users":[...], "num_samples":[...], "user_data":{u:{"x":[[...]],"y":[...]}}}).
 * Natural partition: one client per user in the order of "users".
 * n_classes = max label + 1 (or the given value if larger). */
int hf_leaf_load(const char *path, hf_dataset_t *d, hf_partition_t *p);
/* The same from a memory buffer (not NUL-terminated; `name` is used in messages
 * as "NAME:LINE: what is wrong").  Any malformed input → HF_EINPUT, never a crash;
 * on error *d and *p are left zeroed.  d->n_classes on entry, when larger than
 * max label + 1, is kept (pass a zeroed *d otherwise).  Limits: nesting depth
 * 64 inside skipped values, labels <= HF_LEAF_MAX_LABEL, features must fit a float. */
int hf_leaf_parse(const char *buf, size_t len, const char *name, hf_dataset_t *d, hf_partition_t *p);
#define HF_LEAF_MAX_LABEL 1000000

/* Text in LEAF JSON (Shakespeare): a row of "x" may be a string and a label of
 * "y" a one-character string; every character becomes its index in LEAF's
 * 80-symbol vocabulary HF_LEAF_LETTERS (LEAF models/utils/language_utils.py
 * ALL_LETTERS; a character outside it is an error naming the user).  A document
 * mixes no numeric and text rows; text sets d->vocab = n_classes = 80. */
#define HF_LEAF_LETTERS \
    "\n !\"&'(),-.0123456789:;>?ABCDEFGHIJKLMNOPQRSTUVWXYZ[]abcdefghijklmnopqrstuvwxyz}"
#define HF_LEAF_VOCAB 80
/* Index of byte ch in HF_LEAF_LETTERS, -1 if absent. */
int hf_leaf_letter(int ch);

/* Options of hf_leaf_load_opts (zero = hf_leaf_load's behaviour). */
typedef struct {
    int n_classes;          /* at least this many classes */
    int max_classes;        /* > 0: labels must be below it (and n_classes = it) */
    int nonempty;           /* a listed user with no samples is an error */
    int img_c, img_h, img_w;/* > 0: rows must have c*h*w values, shaped so */
    int text;               /* 1: rows must be strings; -1: must be numbers */
} hf_leaf_opts_t;
int hf_leaf_load_opts(const char *path, const hf_leaf_opts_t *o, hf_dataset_t *d, hf_partition_t *p);

/* CIFAR-10 / CIFAR-100 binary version ("for C programs",
 * https://www.cs.toronto.edu/~kriz/cifar.html).  A record is 1 label byte
 * (CIFAR-100: coarse then fine label byte) and 3072 pixel bytes, the red, green
 * and blue 32x32 planes row-major: exactly the (3,32,32) channel-major layout
 * of a sample, scaled as (float)byte * (1.0f/255).  which = 10 or 100;
 * coarse != 0 takes CIFAR-100's 20 coarse labels instead of the 100 fine ones.
 * Errors → HF_EINPUT "PATH: record R: ..." (truncated record, label out of
 * range, not a regular file, missing). */
int hf_cifar_parse(const unsigned char *buf, size_t len, const char *name, int which, int coarse,
                   hf_dataset_t *d);
/* Appends every record of one file to *d (d zeroed or from an earlier call). */
int hf_cifar_read(const char *path, int which, int coarse, hf_dataset_t *d);
/* The whole set from dir: CIFAR-10 data_batch_1..5.bin + test_batch.bin,
 * CIFAR-100 train.bin + test.bin.  dir may also be the folder holding the
 * extracted cifar-10-batches-bin / cifar-100-binary.  Missing files → HF_EINPUT
 * with a HINT saying where to download them. */
int hf_cifar_load(const char *dir, int which, int coarse, hf_dataset_t *train, hf_dataset_t *test);
#define HF_CIFAR_RECORD 3072

/* Standard CIFAR training augmentation, in place on a batch of (3,32,32)-style
 * images (c,h,w): a random crop of the image zero-padded by `pad` pixels, then a
 * horizontal flip with probability 1/2.  Sample i's draws come from the stream
 * keyed (seed, round, client, sample_id[i]), so they do not depend on the batch,
 * the rank or the order of training.  scratch: c*h*w floats. */
void hf_augment_crop_flip(float *x, int B, int c, int h, int w, int pad, uint64_t seed, int round,
                          int client, const long *sample_id, float *scratch);

/* Read a regular file whole (no gzip); not-regular / missing → HF_EINPUT. */
int hf_file_read_regular(const char *path, unsigned char **buf, size_t *len);

/* TensorFlow Federated's HDF5 files (h5py-written, group examples/<client>/):
 *   fed_emnist_*.h5     pixels float32 (N,28,28), label int32 (N)  → 1x28x28, 62 classes
 *                       (fed_emnist_digitsonly_*.h5: 10 classes)
 *   fed_cifar100_*.h5   image uint8 (N,32,32,3), label int64, coarse_label int64
 *                       → 3x32x32 channel-major, 100 (coarse: 20) classes
 *   shakespeare_*.h5    snippets: variable-length strings (N) → next-character samples
 *                       over TFF's character vocabulary (HF_TFF_CHARS: ids 1..86; pad 0,
 *                       out-of-vocabulary 87, begin 88, end 89; vocab 90): per snippet
 *                       s = [begin] + ids + [end], samples (s[e-80..e), s[e]) for
 *                       e = L-1, L-81, ... ≥ 1 (input left-padded with pad), in increasing e.
 * The kind is recognised from the datasets of the first client.  Clients in the
 * order of their names (HDF5 name index: TFF's client_ids order); natural partition
 * one client per group.  Errors → HF_EINPUT "PATH: examples/<client>/<dataset>: ...". */
int hf_tff_load(const char *path, int coarse, hf_dataset_t *d, hf_partition_t *p);
#define HF_TFF_CHARS \
    "dhlptx@DHLPTX $(,048cgkoswCGKOSW[_#'/37;?bfjnrvzBFJNRVZ\"&*.26:\naeimquyAEIMQUY]!%)-159\r"
#define HF_TFF_VOCAB 90
#define HF_TFF_SEQ 80

/* The generic HDF5 layout (docs/data.md):
 *   /inputs  (N, ...) float32/float64 or uint8 (bytes scaled by 1/255); (N,D) vectors,
 *            (N,H,W) one-channel images, (N,C,H,W) channel-major images
 *   /labels  (N) integers in [0, n_classes)
 *   /clients (N) integers ≥ 0, optional: natural partition, clients in increasing id
 *   /test/inputs, /test/labels  optional test split
 *   attributes of /: n_classes (default max label + 1), vocab (inputs are token ids)
 * test is filled only when /test exists (else zeroed); p only when /clients exists
 * (else p->nclients = 0). */
int hf_h5data_load(const char *path, hf_dataset_t *train, hf_dataset_t *test, hf_partition_t *p);

/* Partitions of n samples into nclients.  All deterministic in seed.
 * iid: shuffle, equal shares (the first n % nclients clients get one more).
 * shards: sort by label (stable), cut into 2*nclients shards, 2 random shards per client.
 * dirichlet: per class, proportions ~ Dir(alpha) over clients; resample until every
 *   client has >= min_size samples (NIID-Bench).  Fails with HF_EINPUT if impossible. */
int hf_partition_iid(long n, int nclients, uint64_t seed, hf_partition_t *p);
int hf_partition_shards(const int *y, long n, int nclients, uint64_t seed, hf_partition_t *p);
int hf_partition_dirichlet(const int *y, long n, int n_classes, int nclients, double alpha,
                           int min_size, uint64_t seed, hf_partition_t *p);

/* data.size_by_capability: re-deal p's client blocks (each client's samples,
 * in their order) by size.  order[0..N-1] lists every client once, the most
 * capable first; the client at position r receives the r-th largest block
 * (largest_first) or the r-th smallest (else).  Blocks rank by size, equal
 * sizes by their client's index (lower first; reversed when !largest_first).
 * The multiset of blocks is unchanged.  p is replaced. */
void hf_partition_by_rank(hf_partition_t *p, const int *order, int largest_first);

/* Per-client test split (data.client_test_fraction): client k keeps its
 * samples in their order except h_k = hf_partition_holdout_count(n_k, frac) of
 * them, at positions drawn by hf_rng_sample from the stream (seed,
 * HF_RNG_CLIENT_TEST, 0, k), which go to test (client k's test samples are
 * test->idx[test->off[k] ..], in their order in p).  p is replaced. */
void hf_partition_holdout(hf_partition_t *p, double frac, uint64_t seed, hf_partition_t *test);
/* h = ⌊frac · n⌋, at most n − 1 (a client keeps one training sample). */
static inline long hf_partition_holdout_count(long n, double frac)
{
    long h = (long)(frac * (double)n);
    return h < n ? h : (n > 0 ? n - 1 : 0);
}

/* Partitions on demand (data.on_demand with data.partition = iid or
 * dirichlet): client k's sample ids computed from (seed, k) alone, in O(n_k)
 * time and O(1) memory per client, never stored for the population.
 * Sizes: n_k = per_client for every client, or (per_client = 0) the
 * materialised iid partition's, ⌊M/N⌋ and one more for the first M mod N
 * clients (needs N <= M).  Client k's window of the circle [0, M) starts at
 * off_k = k·per_client (or k·⌊M/N⌋ + min(k, M mod N)).
 *   iid        client k holds π(off_k + j mod M), j < n_k, π the keyed
 *              bijection of [0, M) from (seed, PARTITION, 0, 4): a partition
 *              when N·n <= M; beyond, sample π(p) is held by ⌊N·n/M⌋ clients,
 *              one more when p < N·n mod M (the windows wrap around).
 *   dirichlet  p_k ~ Dir(alpha) over the C classes from (seed, PARTITION, k, 5);
 *              class counts = n_k·p_k rounded by largest remainder (ties: the
 *              lower class), then capped at the class's M_c samples, the excess
 *              moved to the classes with room in decreasing p_k (ties: lower
 *              class); client k's class-c samples are π_c((o + j) mod M_c),
 *              j < cnt_c, π_c the keyed bijection of class c's M_c samples
 *              (their ids in increasing order; the C round-key sets the next
 *              4C draws of (seed, PARTITION, 0, 6)), o = ⌊(off_k mod M)·M_c/M⌋
 *              (its window's place scaled to the class).  Samples may be
 *              shared between clients; a client never holds one twice.
 * Memory: the ids sorted by class (8 M bytes, dirichlet only) and C bijections. */
typedef struct {
    int dirichlet;           /* 0: iid */
    long m;                  /* training samples M */
    int nclients;
    long per_client;         /* 0: ⌊M/N⌋ (+1 for the first M mod N clients) */
    uint64_t seed;
    double alpha;
    int n_classes;
    hf_rng_bij_t bij;        /* iid: over [0, M) */
    hf_rng_bij_t *cbij;      /* dirichlet: one per class (n = max(M_c, 1)) */
    long *byclass, *cstart;  /* dirichlet: ids stably sorted by label; class offsets (C + 1) */
} hf_odpart_t;
/* HF_EINPUT: M < 1 or M >= 2^32, N < 1, per_client > M, per_client = 0 and
 * N > M, labels out of [0, n_classes) (dirichlet), alpha not finite > 0. */
int hf_odpart_init(hf_odpart_t *o, int dirichlet, const int *y, long m, int n_classes, int nclients,
                   long per_client, double alpha, uint64_t seed);
void hf_odpart_free(hf_odpart_t *o);
long hf_odpart_size(const hf_odpart_t *o, long k);
/* Start of client k's window on the circle (before the mod M). */
long hf_odpart_offset(const hf_odpart_t *o, long k);
/* dirichlet: client k's samples of each class, cnt[0..C) (sum n_k). */
void hf_odpart_counts(const hf_odpart_t *o, long k, long *cnt);
/* Client k's n_k sample ids into idx (iid: in window order; dirichlet: class by
 * class, each in window order).  cnt: C longs of scratch (dirichlet; NULL for iid). */
void hf_odpart_client(const hf_odpart_t *o, long k, long *idx, long *cnt);

#endif
