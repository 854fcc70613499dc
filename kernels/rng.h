/*
 * rng.h — counter-based random numbers (Philox4x32-10), the base of the
 * determinism contract.
 *
 * A stream is keyed by (seed, a, b, c): e.g. (seed, round, client, purpose).
 * Its output depends only on that key and on how many numbers were drawn from
 * that stream — never on which rank drew them or what other streams did.
 */
#ifndef HF_RNG_H
#define HF_RNG_H
#include <stdint.h>

/* Purposes: the fourth key word, so that streams for different uses never collide. */
enum {
    HF_RNG_INIT = 1,      /* model initialisation */
    HF_RNG_PARTITION,     /* data partition */
    HF_RNG_SELECT,        /* client selection */
    HF_RNG_SHUFFLE,       /* per-epoch minibatch shuffles */
    HF_RNG_DATA,          /* synthetic data generation */
    HF_RNG_DEVICE,        /* device class assignment, jitter */
    HF_RNG_AVAIL,         /* availability processes */
    HF_RNG_STRAGGLER,     /* straggler draws */
    HF_RNG_WIDTH,         /* width levels */
    HF_RNG_COMPRESS,      /* stochastic quantisation */
    HF_RNG_TOPOLOGY,      /* random communication graphs (decentralized) */
    HF_RNG_DISTILL = 30,  /* server-side distillation batches (feddf.c), KD batches (dkt.c) */
    HF_RNG_ENERGY = 40,   /* energy budgets, regions, carbon-aware sampling (energy.c) */
    HF_RNG_AUGMENT = 50,  /* data augmentation: (seed, round<<32|client, sample) (data_cifar.c) */
    HF_RNG_DP = 60,       /* differential-privacy noise: (seed, round, 0 server | 1 + client) */
    HF_RNG_PRIVACY = 61,  /* attacks: the non-member sample draw (mia.c) */
    HF_RNG_CLIENT_TEST = 62, /* per-client test split: (seed, 0, client) (partition.c) */
    HF_RNG_PERSONAL = 63, /* personalization: fine-tuning shuffles (seed, round, client) (client.c) */
    HF_RNG_DPSGD = 64,    /* DP-SGD noise: (seed, round, client << 32 | local step) (dpsgd.c) */
    HF_RNG_FEDEM = 65,    /* FedEM: component m's initialisation seed (seed, m, 0) (fedem.c) */
    HF_RNG_KNNPER = 66,   /* kNN-Per: a capped datastore's samples (seed, client, 0) (knnper.c) */
    HF_RNG_FEDGEN = 67,   /* FedGen: generator samples (seed, round, (1 + client) << 32 | step; 0 server) (fedgen.c) */
    HF_RNG_STREAM = 68,   /* data streams: arrival orders (seed, client, 0|1|2), reservoir draws (seed, client, 3 + j) (stream.c) */
    HF_RNG_STREAM_RATE = 69, /* data streams: client k's arrival rate (seed, client, 0) (stream.c) */
    HF_RNG_TEST = 100     /* unit tests */
};

typedef struct {
    uint32_t key[2];     /* Philox key */
    uint32_t ctr[4];     /* ctr[0..1] running counter, ctr[2..3] stream id */
    uint32_t out[4];     /* buffered block */
    int avail;           /* words left in out[] */
    int has_spare;       /* Box-Muller spare */
    double spare;
} hf_rng_t;

void hf_rng_init(hf_rng_t *r, uint64_t seed, uint64_t a, uint64_t b, uint64_t c);
uint32_t hf_rng_u32(hf_rng_t *r);
uint64_t hf_rng_u64(hf_rng_t *r);
/* Uniform double in (0,1) — never 0 or 1 (53-bit). */
double hf_rng_uniform(hf_rng_t *r);
/* Uniform integer in [0, n) without modulo bias. */
uint64_t hf_rng_below(hf_rng_t *r, uint64_t n);
double hf_rng_normal(hf_rng_t *r);                 /* N(0,1) */
double hf_rng_lognormal(hf_rng_t *r, double mu, double sigma);
double hf_rng_gamma(hf_rng_t *r, double shape);    /* Gamma(shape, 1), Marsaglia–Tsang */
double hf_rng_exponential(hf_rng_t *r, double rate);
double hf_rng_weibull(hf_rng_t *r, double shape, double scale);
void hf_rng_dirichlet(hf_rng_t *r, double alpha, int k, double *out);
/* out[0..n-1] = random permutation of 0..n-1 (Fisher–Yates). */
void hf_rng_permutation(hf_rng_t *r, int n, int *out);
/* k distinct values from [0,n), in sorted order (Floyd's algorithm + sort);
 * O(k log k) time and memory, independent of n. */
void hf_rng_sample(hf_rng_t *r, int n, int k, int *out);

/* A keyed bijection of [0, n), evaluated one element at a time in O(1)
 * memory: a balanced 4-round Feistel network over [0, 2^(2h)), 2^(2h) >= n
 * (h >= 1 bits a half), whose round functions are splitmix64 of the half
 * xor a 64-bit round key drawn from a keyed stream; values >= n walk the
 * cycle (apply the network again) until they fall in [0, n).  The Feistel
 * network permutes [0, 2^(2h)), so cycle-walking restricts it to a
 * permutation of [0, n); 2^(2h) < 4n, so a walk takes under 4 steps on
 * average. */
typedef struct {
    uint64_t key[4];   /* round keys */
    uint32_t n, half;  /* domain [0, n); bits of a half */
} hf_rng_bij_t;
/* n >= 1; the four round keys are the next four u64 of r. */
void hf_rng_bij_init(hf_rng_bij_t *b, hf_rng_t *r, uint32_t n);
/* The image of i in [0, n). */
uint32_t hf_rng_bij_at(const hf_rng_bij_t *b, uint32_t i);

/* One Philox4x32-10 block, exposed for tests against the reference vectors. */
void hf_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

#endif
