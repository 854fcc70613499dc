/*
 * partition.c — splitting a data set's n samples among N clients (data.h):
 *
 *   iid        shuffle, then contiguous equal shares; the first n % N clients get
 *              one more.  With N > n the last N - n clients get 0 samples — that
 *              is allowed (the engine treats them as clients without data).
 *   shards     McMahan et al. 2017: stable sort by label, cut into 2N shards of
 *              n / (2N) samples, each client takes 2 random shards (a random
 *              permutation of the shard ids: client k gets perm[2k], perm[2k+1]).
 *              The n % (2N) leftover samples go to the last shard in sorted order,
 *              so every sample is assigned; with shard size dividing every class
 *              size a client holds at most 2 labels.
 *   dirichlet  NIID-Bench (Li et al. 2022, partition.py "noniid-labeldir"): repeat
 *              { for each class c: shuffle its indices, draw p ~ Dir(alpha) over
 *              clients, zero p_j of clients already holding >= n/N samples,
 *              renormalise, cut the class at floor(cumsum(p) * n_c) } until every
 *              client holds >= min_size samples, at most HF_DIRICHLET_MAX_TRIES
 *              attempts.  Attempt t draws from stream (seed, PARTITION, t, 3).
 *
 *   on demand  hf_odpart_*: iid and dirichlet computed per client from (seed, k)
 *              (data.h: sizes, windows, what is shared between clients).
 *
 *   holdout    hf_partition_holdout: a per-client test split taken out of an
 *              existing partition (data.client_test_fraction).
 *   by rank    hf_partition_by_rank: an existing partition's client blocks
 *              re-dealt by size along a ranking of the clients
 *              (data.size_by_capability).
 *
 * Results are CSR (off[N+1], idx[n]).  Memory: O(n + N) for iid and shards,
 * O(n + N * classes) for dirichlet (the per-class cut points; at most 2^28 of
 * them, i.e. 2 GiB, else HF_EINPUT).
 */
#include "data.h"
#include "hf_util.h"
#include "rng.h"
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HF_DIRICHLET_MAX_TRIES 1000

/* Stream tags (the rng key's last word) of the three methods. */
enum { PART_IID = 1, PART_SHARDS = 2, PART_DIRICHLET = 3, PART_OD_IID = 4, PART_OD_MIX = 5, PART_OD_CLASS = 6 };

static void part_alloc(hf_partition_t *p, int nclients, long n)
{
    p->nclients = nclients;
    p->off = hf_calloc((size_t)nclients + 1, sizeof(long));
    p->idx = hf_malloc((size_t)HF_MAX(n, 1) * sizeof(long));
}

/* Fisher–Yates on a long array. */
static void shuffle_long(hf_rng_t *r, long *a, long n)
{
    for (long i = n - 1; i > 0; i--) {
        long j = (long)hf_rng_below(r, (uint64_t)i + 1);
        long t = a[i]; a[i] = a[j]; a[j] = t;
    }
}

int hf_partition_iid(long n, int nclients, uint64_t seed, hf_partition_t *p)
{
    memset(p, 0, sizeof *p);
    if (nclients < 1)
        return hf_seterr(HF_EINPUT, "partition iid: number of clients %d must be >= 1", nclients);
    if (n < 0)
        return hf_seterr(HF_EINPUT, "partition iid: number of samples %ld must be >= 0", n);
    part_alloc(p, nclients, n);
    for (long i = 0; i < n; i++) p->idx[i] = i;
    hf_rng_t r;
    hf_rng_init(&r, seed, HF_RNG_PARTITION, 0, PART_IID);
    shuffle_long(&r, p->idx, n);
    long share = n / nclients, rem = n % nclients;
    for (int k = 0; k < nclients; k++) p->off[k + 1] = p->off[k] + share + (k < rem);
    return HF_OK;
}

/* Labels in [0, n_classes) when n_classes > 0, else >= 0; returns max label or -1 after hf_seterr. */
static int check_labels(const char *what, const int *y, long n, int n_classes, int *maxl)
{
    int m = -1;
    for (long i = 0; i < n; i++) {
        if (y[i] < 0 || (n_classes > 0 && y[i] >= n_classes)) {
            if (n_classes > 0)
                return hf_seterr(HF_EINPUT, "partition %s: label %d of sample %ld is not in [0,%d)",
                                 what, y[i], i, n_classes);
            return hf_seterr(HF_EINPUT, "partition %s: label %d of sample %ld is negative",
                             what, y[i], i);
        }
        if (y[i] > m) m = y[i];
    }
    *maxl = m;
    return HF_OK;
}

/* order[] = 0..n-1 stably sorted by y (counting sort over [0, nlab)).
 * cstart (optional, nlab+1 entries) receives the class offsets. */
static void sort_by_label(const int *y, long n, int nlab, long *order, long *cstart)
{
    long *cnt = hf_calloc((size_t)nlab + 1, sizeof(long));
    for (long i = 0; i < n; i++) cnt[y[i] + 1]++;
    for (int c = 0; c < nlab; c++) cnt[c + 1] += cnt[c];
    if (cstart) memcpy(cstart, cnt, ((size_t)nlab + 1) * sizeof(long));
    for (long i = 0; i < n; i++) order[cnt[y[i]]++] = i;
    free(cnt);
}

typedef struct { int y; long i; } lab_pair_t;

static int cmp_lab_pair(const void *a, const void *b)
{
    const lab_pair_t *x = a, *z = b;
    if (x->y != z->y) return (x->y > z->y) - (x->y < z->y);
    return (x->i > z->i) - (x->i < z->i);
}

int hf_partition_shards(const int *y, long n, int nclients, uint64_t seed, hf_partition_t *p)
{
    memset(p, 0, sizeof *p);
    if (nclients < 1 || nclients > INT_MAX / 2)
        return hf_seterr(HF_EINPUT, "partition shards: number of clients %d must be in [1,%d]",
                         nclients, INT_MAX / 2);
    if (n < 0 || (n > 0 && !y))
        return hf_seterr(HF_EINPUT, "partition shards: bad sample count %ld", n);
    int nshards = 2 * nclients;
    long ssz = n / nshards;
    if (ssz < 1)
        return hf_seterr(HF_EINPUT, "partition shards: %ld samples cannot be cut into %d shards "
                         "(2 per client) of at least one sample", n, nshards);
    int maxl = -1;
    int rc = check_labels("shards", y, n, 0, &maxl);
    if (rc) return rc;

    long *order = hf_malloc((size_t)n * sizeof(long));
    if ((long)maxl <= HF_MAX(n, 1L << 16)) {
        sort_by_label(y, n, maxl + 1, order, NULL);
    } else {  /* sparse huge labels: comparison sort on (label, index) */
        lab_pair_t *pr = hf_malloc((size_t)n * sizeof *pr);
        for (long i = 0; i < n; i++) { pr[i].y = y[i]; pr[i].i = i; }
        qsort(pr, (size_t)n, sizeof *pr, cmp_lab_pair);
        for (long i = 0; i < n; i++) order[i] = pr[i].i;
        free(pr);
    }

    int *perm = hf_malloc((size_t)nshards * sizeof(int));
    hf_rng_t r;
    hf_rng_init(&r, seed, HF_RNG_PARTITION, 0, PART_SHARDS);
    hf_rng_permutation(&r, nshards, perm);

    part_alloc(p, nclients, n);
    long w = 0;
    for (int k = 0; k < nclients; k++) {
        for (int s = 0; s < 2; s++) {
            int t = perm[2 * k + s];
            long a = (long)t * ssz, b = t == nshards - 1 ? n : a + ssz;
            memcpy(p->idx + w, order + a, (size_t)(b - a) * sizeof(long));
            w += b - a;
        }
        p->off[k + 1] = w;
    }
    free(perm);
    free(order);
    return HF_OK;
}

int hf_partition_dirichlet(const int *y, long n, int n_classes, int nclients, double alpha,
                           int min_size, uint64_t seed, hf_partition_t *p)
{
    memset(p, 0, sizeof *p);
    if (nclients < 1)
        return hf_seterr(HF_EINPUT, "partition dirichlet: number of clients %d must be >= 1",
                         nclients);
    if (!(alpha > 0) || isinf(alpha))
        return hf_seterr(HF_EINPUT, "partition dirichlet: alpha %g must be finite and > 0", alpha);
    if (n_classes < 1)
        return hf_seterr(HF_EINPUT, "partition dirichlet: number of classes %d must be >= 1",
                         n_classes);
    if (n < 0 || (n > 0 && !y))
        return hf_seterr(HF_EINPUT, "partition dirichlet: bad sample count %ld", n);
    if (((double)nclients + 1) * (double)n_classes > (double)(1L << 28))  /* 2 GiB of cut points */
        return hf_seterr(HF_EINPUT, "partition dirichlet: %d clients x %d classes is too large",
                         nclients, n_classes);
    if (min_size < 0) min_size = 0;
    if ((double)min_size * (double)nclients > (double)n)
        return hf_seterr(HF_EINPUT, "partition dirichlet: cannot give every client >= %d samples: "
                         "%d clients x %d > %ld samples", min_size, nclients, min_size, n);
    int maxl = -1;
    int rc = check_labels("dirichlet", y, n, n_classes, &maxl);
    if (rc) return rc;

    size_t N = (size_t)nclients, C = (size_t)n_classes;
    long *byclass = hf_malloc((size_t)HF_MAX(n, 1) * sizeof(long));
    long *cstart = hf_malloc((C + 1) * sizeof(long));
    long *cuts = hf_malloc(C * (N + 1) * sizeof(long));  /* cuts[c*(N+1) + j] */
    long *size = hf_malloc(N * sizeof(long));
    double *pr = hf_malloc(N * sizeof(double));
    int *elig = hf_malloc(N * sizeof(int));
    const double cap = (double)n / (double)nclients;
    int ok = 0;

    for (int attempt = 0; attempt < HF_DIRICHLET_MAX_TRIES && !ok; attempt++) {
        hf_rng_t r;
        hf_rng_init(&r, seed, HF_RNG_PARTITION, (uint64_t)attempt, PART_DIRICHLET);
        sort_by_label(y, n, n_classes, byclass, cstart);
        memset(size, 0, N * sizeof(long));
        for (size_t c = 0; c < C; c++) {
            long len = cstart[c + 1] - cstart[c];
            long *cut = cuts + c * (N + 1);
            shuffle_long(&r, byclass + cstart[c], len);
            hf_rng_dirichlet(&r, alpha, nclients, pr);
            double sum = 0.0;
            int nel = 0;
            for (size_t j = 0; j < N; j++) {
                if ((double)size[j] < cap) {
                    sum += pr[j];
                    elig[nel++] = (int)j;
                } else {
                    pr[j] = 0.0;
                }
            }
            if (sum > 0.0) {
                for (size_t j = 0; j < N; j++) pr[j] /= sum;
            } else if (nel > 0) {  /* all eligible mass underflowed: one random taker */
                memset(pr, 0, N * sizeof(double));
                pr[elig[hf_rng_below(&r, (uint64_t)nel)]] = 1.0;
            } else {               /* nobody below the cap (rounding): spread uniformly */
                for (size_t j = 0; j < N; j++) pr[j] = 1.0 / (double)N;
            }
            double cum = 0.0;
            cut[0] = 0;
            for (size_t j = 0; j + 1 < N; j++) {
                cum += pr[j];
                long t = (long)(cum * (double)len);
                if (t > len) t = len;
                if (t < cut[j]) t = cut[j];
                cut[j + 1] = t;
            }
            cut[N] = len;
            for (size_t j = 0; j < N; j++) size[j] += cut[j + 1] - cut[j];
        }
        long mn = LONG_MAX;
        for (size_t j = 0; j < N; j++) mn = HF_MIN(mn, size[j]);
        ok = mn >= min_size;
    }

    if (ok) {
        part_alloc(p, nclients, n);
        long w = 0;
        for (size_t j = 0; j < N; j++) {
            for (size_t c = 0; c < C; c++) {
                const long *cut = cuts + c * (N + 1);
                long a = cut[j], b = cut[j + 1];
                memcpy(p->idx + w, byclass + cstart[c] + a, (size_t)(b - a) * sizeof(long));
                w += b - a;
            }
            p->off[j + 1] = w;
        }
    } else {
        rc = hf_seterr(HF_EINPUT, "partition dirichlet: cannot give every client >= %d samples "
                       "(%d clients, alpha %g) in %d attempts", min_size, nclients, alpha,
                       HF_DIRICHLET_MAX_TRIES);
    }
    free(byclass);
    free(cstart);
    free(cuts);
    free(size);
    free(pr);
    free(elig);
    return rc;
}

/* ------------------------------------------------ partitions on demand --- */

int hf_odpart_init(hf_odpart_t *o, int dirichlet, const int *y, long m, int n_classes, int nclients,
                   long per_client, double alpha, uint64_t seed)
{
    memset(o, 0, sizeof *o);
    if (m < 1 || m > (long)UINT32_MAX)
        return hf_seterr(HF_EINPUT, "partition on demand: %ld training samples, must be in [1, 2^32)", m);
    if (nclients < 1)
        return hf_seterr(HF_EINPUT, "partition on demand: number of clients %d must be >= 1", nclients);
    if (per_client < 0 || per_client > m)
        return hf_seterr(HF_EINPUT, "partition on demand: %ld samples a client, must be in [0, %ld] (the "
                         "training samples)", per_client, m);
    if (per_client == 0 && nclients > m)
        return hf_seterr(HF_EINPUT, "partition on demand: %d clients share %ld training samples: at most one "
                         "client a sample when the sizes follow the materialised iid partition", nclients, m);
    *o = (hf_odpart_t){.dirichlet = dirichlet, .m = m, .nclients = nclients, .per_client = per_client,
                       .seed = seed, .alpha = alpha, .n_classes = n_classes};
    hf_rng_t r;
    if (!dirichlet) {
        hf_rng_init(&r, seed, HF_RNG_PARTITION, 0, PART_OD_IID);
        hf_rng_bij_init(&o->bij, &r, (uint32_t)m);
        return HF_OK;
    }
    if (!(alpha > 0) || isinf(alpha))
        return hf_seterr(HF_EINPUT, "partition on demand: dirichlet alpha %g must be finite and > 0", alpha);
    if (n_classes < 1 || !y)
        return hf_seterr(HF_EINPUT, "partition on demand: dirichlet needs labels and >= 1 class");
    int maxl;
    int rc = check_labels("on demand", y, m, n_classes, &maxl);
    if (rc) return rc;
    o->byclass = hf_malloc((size_t)m * sizeof(long));
    o->cstart = hf_malloc(((size_t)n_classes + 1) * sizeof(long));
    sort_by_label(y, m, n_classes, o->byclass, o->cstart);
    o->cbij = hf_malloc((size_t)n_classes * sizeof *o->cbij);
    hf_rng_init(&r, seed, HF_RNG_PARTITION, 0, PART_OD_CLASS);
    for (int c = 0; c < n_classes; c++)
        hf_rng_bij_init(&o->cbij[c], &r, (uint32_t)HF_MAX(o->cstart[c + 1] - o->cstart[c], 1));
    return HF_OK;
}

void hf_odpart_free(hf_odpart_t *o)
{
    free(o->cbij);
    free(o->byclass);
    free(o->cstart);
    memset(o, 0, sizeof *o);
}

long hf_odpart_size(const hf_odpart_t *o, long k)
{
    if (o->per_client) return o->per_client;
    return o->m / o->nclients + (k < o->m % o->nclients);
}

long hf_odpart_offset(const hf_odpart_t *o, long k)
{
    if (o->per_client) return k * o->per_client;
    long rem = o->m % o->nclients;
    return k * (o->m / o->nclients) + HF_MIN(k, rem);
}

typedef struct { double key; int c; } od_rank_t;

/* Larger key first; equal keys: lower class first. */
static int cmp_od_rank(const void *a, const void *b)
{
    const od_rank_t *x = a, *z = b;
    if (x->key != z->key) return (x->key < z->key) - (x->key > z->key);
    return (x->c > z->c) - (x->c < z->c);
}

void hf_odpart_counts(const hf_odpart_t *o, long k, long *cnt)
{
    int C = o->n_classes;
    long n = hf_odpart_size(o, k), given = 0;
    double *p = hf_malloc((size_t)C * sizeof(double));
    od_rank_t *rk = hf_malloc((size_t)C * sizeof *rk);
    hf_rng_t r;
    hf_rng_init(&r, o->seed, HF_RNG_PARTITION, (uint64_t)k, PART_OD_MIX);
    hf_rng_dirichlet(&r, o->alpha, C, p);
    for (int c = 0; c < C; c++) {
        double v = (double)n * p[c];
        cnt[c] = HF_MIN((long)v, n);
        given += cnt[c];
        rk[c] = (od_rank_t){v - (double)cnt[c], c};
    }
    /* largest remainder: the n − Σ⌊n p_c⌋ samples left go to the largest fractions
     * (a sum of floors over n, from rounding, takes back from the smallest) */
    qsort(rk, (size_t)C, sizeof *rk, cmp_od_rank);
    for (int i = 0; given < n; i = (i + 1) % C, given++) cnt[rk[i].c]++;
    for (int i = C - 1; given > n; i = (i + C - 1) % C)
        if (cnt[rk[i].c] > 0) { cnt[rk[i].c]--; given--; }
    /* a class holds M_c samples: the excess to the classes with room, larger p_k first */
    long excess = 0;
    for (int c = 0; c < C; c++) {
        long mc = o->cstart[c + 1] - o->cstart[c];
        if (cnt[c] > mc) { excess += cnt[c] - mc; cnt[c] = mc; }
        rk[c] = (od_rank_t){p[c], c};
    }
    if (excess > 0) {
        qsort(rk, (size_t)C, sizeof *rk, cmp_od_rank);
        for (int i = 0; i < C && excess > 0; i++) {
            int c = rk[i].c;
            long add = HF_MIN(o->cstart[c + 1] - o->cstart[c] - cnt[c], excess);
            cnt[c] += add;
            excess -= add;
        }
    }
    free(p);
    free(rk);
}

void hf_odpart_client(const hf_odpart_t *o, long k, long *idx, long *cnt)
{
    long n = hf_odpart_size(o, k), M = o->m;
    uint64_t pos0 = (uint64_t)(hf_odpart_offset(o, k) % M);  /* the window's place on the circle */
    if (!o->dirichlet) {
        for (long j = 0; j < n; j++) {
            uint64_t q = pos0 + (uint64_t)j;
            idx[j] = hf_rng_bij_at(&o->bij, (uint32_t)(q >= (uint64_t)M ? q - (uint64_t)M : q));
        }
        return;
    }
    hf_odpart_counts(o, k, cnt);
    long w = 0;
    for (int c = 0; c < o->n_classes; c++) {
        uint64_t mc = (uint64_t)(o->cstart[c + 1] - o->cstart[c]);
        if (cnt[c] <= 0) continue;
        uint64_t start = pos0 * mc / (uint64_t)M;  /* < 2^64: both below 2^32 */
        const long *ids = o->byclass + o->cstart[c];
        for (long j = 0; j < cnt[c]; j++) {
            uint64_t q = (start + (uint64_t)j) % mc;
            idx[w++] = ids[hf_rng_bij_at(&o->cbij[c], (uint32_t)q)];
        }
    }
}

void hf_partition_holdout(hf_partition_t *p, double frac, uint64_t seed, hf_partition_t *test)
{
    int N = p->nclients;
    long n = p->off[N], nt = 0;
    for (int k = 0; k < N; k++) nt += hf_partition_holdout_count(p->off[k + 1] - p->off[k], frac);
    part_alloc(test, N, nt);
    long *keep = hf_malloc((size_t)HF_MAX(n - nt, 1) * sizeof(long));
    long *noff = hf_calloc((size_t)N + 1, sizeof(long));
    long ki = 0, ti = 0;
    int *pos = NULL;
    for (int k = 0; k < N; k++) {
        long nk = p->off[k + 1] - p->off[k], h = hf_partition_holdout_count(nk, frac);
        const long *ix = p->idx + p->off[k];
        pos = hf_realloc(pos, (size_t)HF_MAX(h, 1) * sizeof(int));
        hf_rng_t r;
        hf_rng_init(&r, seed, HF_RNG_CLIENT_TEST, 0, (uint64_t)k);
        hf_rng_sample(&r, (int)nk, (int)h, pos);  /* sorted positions within the client */
        noff[k] = ki;
        test->off[k] = ti;
        for (long j = 0, q = 0; j < nk; j++) {
            if (q < h && pos[q] == j) { test->idx[ti++] = ix[j]; q++; }
            else keep[ki++] = ix[j];
        }
    }
    noff[N] = ki;
    test->off[N] = ti;
    free(pos);
    free(p->off);
    free(p->idx);
    p->off = noff;
    p->idx = keep;
}

typedef struct { long size; int client; } block_t;

/* Larger block first; equal sizes: lower client index first. */
static int cmp_block_desc(const void *a, const void *b)
{
    const block_t *x = a, *z = b;
    if (x->size != z->size) return (x->size < z->size) - (x->size > z->size);
    return (x->client > z->client) - (x->client < z->client);
}

void hf_partition_by_rank(hf_partition_t *p, const int *order, int largest_first)
{
    int N = p->nclients;
    block_t *bl = hf_malloc((size_t)HF_MAX(N, 1) * sizeof *bl);
    for (int k = 0; k < N; k++) bl[k] = (block_t){p->off[k + 1] - p->off[k], k};
    qsort(bl, (size_t)N, sizeof *bl, cmp_block_desc);
    int *src = hf_malloc((size_t)HF_MAX(N, 1) * sizeof(int));  /* client k takes block src[k] */
    for (int r = 0; r < N; r++) src[order[r]] = bl[largest_first ? r : N - 1 - r].client;
    long *noff = hf_calloc((size_t)N + 1, sizeof(long));
    long *nidx = hf_malloc((size_t)HF_MAX(p->off[N], 1) * sizeof(long));
    for (int k = 0; k < N; k++) {
        long a = p->off[src[k]], b = p->off[src[k] + 1];
        memcpy(nidx + noff[k], p->idx + a, (size_t)(b - a) * sizeof(long));
        noff[k + 1] = noff[k] + (b - a);
    }
    free(bl);
    free(src);
    free(p->off);
    free(p->idx);
    p->off = noff;
    p->idx = nidx;
}

void hf_gather_rows(const float *x, const int *y, int dim, const long *idx, const int *perm, int B, float *xb,
                    int *yb)
{
    for (int i = 0; i < B; i++) {
        long s = idx[perm[i]];
        memcpy(xb + (size_t)i * dim, x + (size_t)s * dim, (size_t)dim * sizeof(float));
        yb[i] = y[s];
    }
}
