/*
 * data.h — data sets and partitions.
 *
 * A data set is a dense (n, dim) float32 matrix of features, row-major, and n
 * integer labels in [0, n_classes).  A partition maps clients to sample
 * indices: client k owns idx[off[k] .. off[k+1]-1] (CSR layout, O(n + clients)).
 */
#ifndef HF_DATA_H
#define HF_DATA_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    long n;          /* samples */
    int dim;         /* features per sample = c*h*w */
    int c, h, w;     /* image shape (1,1,dim for vectors) */
    int n_classes;
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

/* FedProx Synthetic(alpha, beta) (Li et al. 2020, generate_synthetic.py): see
 * (Li et al., FedProx, 2020).  ndev devices, dim features (60), n_classes (10).
 * iid != 0: the iid variant.  Each device's samples are split 90/10 into train
 * and test; ptrain/ptest give the natural per-device partition. Seeded by seed. */
int hf_synthetic_generate(double alpha, double beta, int iid, int ndev, int dim, int n_classes,
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

/* Partitions of n samples into nclients.  All deterministic in seed.
 * iid: shuffle, equal shares (the first n % nclients clients get one more).
 * shards: sort by label (stable), cut into 2*nclients shards, 2 random shards per client.
 * dirichlet: per class, proportions ~ Dir(alpha) over clients; resample until every
 *   client has >= min_size samples (NIID-Bench).  Fails with HF_EINPUT if impossible. */
int hf_partition_iid(long n, int nclients, uint64_t seed, hf_partition_t *p);
int hf_partition_shards(const int *y, long n, int nclients, uint64_t seed, hf_partition_t *p);
int hf_partition_dirichlet(const int *y, long n, int n_classes, int nclients, double alpha,
                           int min_size, uint64_t seed, hf_partition_t *p);

#endif
