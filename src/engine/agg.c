/*
 * agg.c — exact (block fixed-point) and float aggregation over rank0 or
 * allreduce.  See agg.h for the method and the precision it keeps.
 *
 * Passes over the update per round and rank (n = model size), 1 local client:
 *   float:  add (w·Δ into the sum) · allreduce · apply (x += α·S)
 *   exact:  add (w·Δ and block maxima) · MAX-allreduce of n/64 floats ·
 *           convert to integers · integer allreduce · apply (x += α·q·2^-s)
 */
#include "agg.h"
#include "hf_util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG_UPDATE 7101

/* The passes below are memory- and conversion-bound loops over every parameter,
 * built per instruction set (HF_CLONES, hf_util.h); HF_INLINE folds the per-block
 * helpers into them, with the block length a constant for full blocks. */

struct hf_agg {
    long n, nblocks;
    int exact;
    hf_topo_t topo;
    MPI_Comm comm;
    int rank, size;
    long *bstart;        /* nblocks+1: block boundaries; blocks never straddle tensors */
    long nlocal, caplocal, total;
    float *store;        /* exact: caplocal * n weighted updates, kept until scales are known */
    float *bmax;         /* nblocks: block maxima of |w·Δ| (local, then global) */
    int16_t *bexp;       /* nblocks: scale exponent s_b (|s_b| < 256 for float inputs) */
    int bits;            /* 31 or 63 this round */
    int32_t *i32;        /* n: 32-bit accumulator */
    int64_t *i64;        /* n: 64-bit accumulator (64-bit rounds; rank 0 of rank0 topology) */
    int32_t *i32r;       /* n: rank 0's receive buffer for 32-bit updates (rank0 topology) */
    int64_t *i64r;       /* n: rank 0's receive buffer for 64-bit updates (rank0 topology) */
    float *fsum;         /* n: float accumulator (float mode) */
    float *rbuf;         /* n: rank0 receive buffer */
    /* allreduce topology on shared memory (see reduce_shm) */
    int shm;             /* 1: node-level reduction through an MPI-3 shared window */
    MPI_Comm node;       /* ranks of this node (split further by HETFL_AGG_NODE_SIZE) */
    MPI_Comm leaders;    /* node rank 0 of every node; MPI_COMM_NULL elsewhere */
    int nrank, nsize, nnodes;
    int elt;             /* bytes per value in the window: 4, or 8 after a 64-bit round */
    MPI_Win win;
    void **peer;         /* nsize: every node rank's contribution, n × 8 bytes each */
    void *res;           /* the node's result, n × 8 bytes (node rank 0's window memory) */
    long *seg;           /* nsize+1: the slice of the result each node rank sums */
    const void *out;     /* after reduce: the sums (int32, int64 or float) */
    int out_kind;        /* 0 float, 32 or 64 */
    hf_agg_stats_t st;
};

/* Shared windows: on by default for the allreduce topology; HETFL_AGG_SHM=0 turns
 * them off (plain MPI_Allreduce); HETFL_AGG_NODE_SIZE=k splits each node into
 * groups of k ranks, so one node exercises the inter-node path (tests). */
static int env_int(const char *name, int dflt)
{
    const char *v = getenv(name);
    if (!v || !*v) return dflt;
    char *end;
    long x = strtol(v, &end, 10);
    return *end || x < 0 || x > 1 << 20 ? dflt : (int)x;
}

/* The node's shared window with elt bytes per value: peer[r] = node rank r's
 * contribution, res (on node rank 0's part) the node's result.  Collective over
 * comm; 0 everywhere when any rank could not get one. */
static int shm_window(hf_agg_t *a, int elt)
{
    MPI_Aint bytes = (MPI_Aint)a->n * elt * (a->nrank == 0 ? 2 : 1);
    void *base = NULL;
    int ok = MPI_Win_allocate_shared(bytes, elt, MPI_INFO_NULL, a->node, &base, &a->win) == MPI_SUCCESS;
    int all_ok = 0;
    MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, a->comm);
    if (!all_ok) {
        if (ok) MPI_Win_free(&a->win);
        return 0;
    }
    for (int r = 0; r < a->nsize; r++) {
        MPI_Aint sz;
        int du;
        MPI_Win_shared_query(a->win, r, &sz, &du, &a->peer[r]);
    }
    a->res = (char *)a->peer[0] + (size_t)a->n * elt;
    a->elt = elt;
    MPI_Win_lock_all(MPI_MODE_NOCHECK, a->win);
    return 1;
}

static void shm_window_free(hf_agg_t *a)
{
    MPI_Win_unlock_all(a->win);
    MPI_Win_free(&a->win);
}

/* the window is gone: communicators and tables too (a->shm = 0 afterwards) */
static void shm_teardown(hf_agg_t *a)
{
    MPI_Comm_free(&a->node);
    if (a->leaders != MPI_COMM_NULL) MPI_Comm_free(&a->leaders);
    free(a->peer);
    free(a->seg);
    a->peer = NULL;
    a->seg = NULL;
    a->shm = 0;
}

/* Node communicators and a window of 4-byte values (float or int32 rounds; an
 * exact round of more than HF_AGG_INT32_MAX_M updates widens it to 8 bytes). */
static int shm_setup(hf_agg_t *a)
{
    if (!env_int("HETFL_AGG_SHM", 1)) return 0;
    MPI_Comm node0;
    MPI_Comm_split_type(a->comm, MPI_COMM_TYPE_SHARED, a->rank, MPI_INFO_NULL, &node0);
    int r0;
    MPI_Comm_rank(node0, &r0);
    int k = env_int("HETFL_AGG_NODE_SIZE", 0);
    MPI_Comm_split(node0, k > 0 ? r0 / k : 0, r0, &a->node);
    MPI_Comm_free(&node0);
    MPI_Comm_rank(a->node, &a->nrank);
    MPI_Comm_size(a->node, &a->nsize);
    MPI_Comm_set_errhandler(a->node, MPI_ERRORS_RETURN);
    a->peer = hf_calloc((size_t)a->nsize, sizeof(void *));
    if (!shm_window(a, 4)) {  /* no shared memory here: MPI_Allreduce everywhere */
        free(a->peer);
        a->peer = NULL;
        MPI_Comm_free(&a->node);
        return 0;
    }
    a->seg = hf_calloc((size_t)a->nsize + 1, sizeof(long));
    for (int r = 0; r <= a->nsize; r++) {  /* 16-value (cache-line) aligned slices */
        long s = (long)((double)a->n * r / a->nsize);
        a->seg[r] = r == a->nsize ? a->n : s & ~15L;
    }
    MPI_Comm_split(a->comm, a->nrank == 0 ? 0 : MPI_UNDEFINED, a->rank, &a->leaders);
    int lead = a->nrank == 0, nn = 0;
    MPI_Allreduce(&lead, &nn, 1, MPI_INT, MPI_SUM, a->comm);
    a->nnodes = nn;
    return 1;
}

/* every node rank's stores are visible to every other after this */
static void shm_sync(hf_agg_t *a)
{
    MPI_Win_sync(a->win);
    MPI_Barrier(a->node);
    MPI_Win_sync(a->win);
}

hf_agg_t *hf_agg_new(long n, int ntensors, const long *toff, int exact, hf_topo_t topo,
                     MPI_Comm comm)
{
    hf_agg_t *a = hf_calloc(1, sizeof *a);
    a->n = n;
    long nb = 0;
    for (int t = 0; t < ntensors; t++) nb += (toff[t + 1] - toff[t] + HF_AGG_BLOCK - 1) / HF_AGG_BLOCK;
    a->nblocks = nb;
    a->bstart = hf_calloc((size_t)nb + 1, sizeof(long));
    nb = 0;
    for (int t = 0; t < ntensors; t++)
        for (long j = toff[t]; j < toff[t + 1]; j += HF_AGG_BLOCK) a->bstart[nb++] = j;
    a->bstart[nb] = n;
    a->exact = exact;
    a->topo = topo;
    a->comm = comm;
    MPI_Comm_rank(comm, &a->rank);
    MPI_Comm_size(comm, &a->size);
    if (topo == HF_TOPO_ALLREDUCE) a->shm = shm_setup(a);
    if (exact) {
        a->bmax = hf_alloc_aligned((size_t)a->nblocks * sizeof(float));
        a->bexp = hf_calloc((size_t)a->nblocks, sizeof(int16_t));
    } else if (!a->shm) {
        a->fsum = hf_alloc_aligned((size_t)n * sizeof(float));
    } else {
        a->fsum = a->peer[a->nrank];  /* float contributions go straight to shared memory */
    }
    if (topo == HF_TOPO_RANK0 && a->rank == 0 && a->size > 1)
        a->rbuf = hf_alloc_aligned((size_t)n * sizeof(float));
    return a;
}

void hf_agg_free(hf_agg_t *a)
{
    if (!a) return;
    free(a->store); free(a->bstart); free(a->bmax); free(a->bexp); free(a->i32); free(a->i64);
    free(a->i32r); free(a->i64r);
    if (a->shm) {
        if (!a->exact) a->fsum = NULL;  /* it lived in the window */
        shm_window_free(a);
        shm_teardown(a);
    }
    free(a->fsum);
    free(a->rbuf);
    free(a);
}

int hf_agg_result_everywhere(const hf_agg_t *a) { return a->topo == HF_TOPO_ALLREDUCE; }

void hf_agg_method(const hf_agg_t *a, char *buf, size_t n)
{
    if (a->topo == HF_TOPO_RANK0)
        snprintf(buf, n, "every update to rank 0 (send/recv)");
    else if (a->shm)
        snprintf(buf, n, "shm window%s, %d node%s%s", a->nnodes > 1 ? "s" : "", a->nnodes,
                 a->nnodes > 1 ? "s" : "", a->nnodes > 1 ? " + MPI_Allreduce" : "");
    else
        snprintf(buf, n, "MPI_Allreduce");
}
const hf_agg_stats_t *hf_agg_stats(const hf_agg_t *a) { return &a->st; }

void hf_agg_begin(hf_agg_t *a)
{
    a->nlocal = 0;
    a->total = 0;
    memset(&a->st, 0, sizeof a->st);
    if (a->exact) memset(a->bmax, 0, (size_t)a->nblocks * sizeof(float));
}

int hf_agg_headroom(long m)
{
    int h = 0;
    while ((1L << h) < m + 1) h++;
    return h;
}

int hf_agg_scale_exp(double maxabs, long m, int bits)
{
    int e = 0;
    if (maxabs > 0) frexp(maxabs, &e);  /* maxabs < 2^e */
    else return 0;
    return bits - e - hf_agg_headroom(m);
}

/* exact mode: a slot for the next local update */
static float *next_slot(hf_agg_t *a)
{
    if (a->nlocal == a->caplocal) {
        a->caplocal = a->caplocal ? 2 * a->caplocal : 2;
        a->store = hf_realloc(a->store, (size_t)a->caplocal * (size_t)a->n * sizeof(float));
    }
    return a->store + (size_t)a->nlocal * (size_t)a->n;
}

/* d = or += w·(s − sub) (sub may be NULL), restrict-qualified so it vectorises */
HF_INLINE void put_block(float *restrict d, const float *restrict src, const float *restrict sub, long m,
                      float w, int first)
{
    if (sub) {
        if (first) for (long j = 0; j < m; j++) d[j] = w * (src[j] - sub[j]);
        else for (long j = 0; j < m; j++) d[j] += w * (src[j] - sub[j]);
    } else {
        if (first) for (long j = 0; j < m; j++) d[j] = w * src[j];
        else for (long j = 0; j < m; j++) d[j] += w * src[j];
    }
}

/* max |d[j]| as float bits: for non-NaN floats the order of |x| is the order of
 * the sign-cleared bit patterns, and an integer max reduction vectorises */
HF_INLINE uint32_t absmax_bits(const float *restrict d, long m, uint32_t mx)
{
    for (long j = 0; j < m; j++) {
        uint32_t u;
        memcpy(&u, &d[j], sizeof u);
        u &= 0x7fffffffu;
        mx = u > mx ? u : mx;
    }
    return mx;
}

/* dst = w·src (first = 1) or dst += w·src over all blocks; with bmax, also fold
 * each block's max |dst| into bmax[b] — one pass over the update */
HF_CLONES static void put_all(const long *bstart, long nblocks, float *dst, const float *src,
                              const float *sub, float w, int first, float *bmax)
{
    for (long b = 0; b < nblocks; b++) {
        long j0 = bstart[b], m = bstart[b + 1] - j0;
        const float *sb = sub ? sub + j0 : NULL;
        if (m == HF_AGG_BLOCK) put_block(dst + j0, src + j0, sb, HF_AGG_BLOCK, w, first);
        else put_block(dst + j0, src + j0, sb, m, w, first);
        if (bmax) {
            uint32_t mx;
            memcpy(&mx, &bmax[b], sizeof mx);
            mx = m == HF_AGG_BLOCK ? absmax_bits(dst + j0, HF_AGG_BLOCK, mx) : absmax_bits(dst + j0, m, mx);
            memcpy(&bmax[b], &mx, sizeof mx);
        }
    }
}

static void put_update(hf_agg_t *a, float w, const float *src, const float *sub, int first)
{
    float *dst = a->exact ? next_slot(a) : a->fsum;
    put_all(a->bstart, a->nblocks, dst, src, sub, w, first, a->exact ? a->bmax : NULL);
    a->nlocal++;
}

void hf_agg_add(hf_agg_t *a, double weight, const float *delta)
{
    double t0 = hf_wtime();
    put_update(a, (float)weight, delta, NULL, a->exact || a->nlocal == 0);
    a->st.t_prep += hf_wtime() - t0;
}

void hf_agg_add_diff(hf_agg_t *a, double weight, const float *local, const float *global)
{
    double t0 = hf_wtime();
    put_update(a, (float)weight, local, global, a->exact || a->nlocal == 0);
    a->st.t_prep += hf_wtime() - t0;
}

/* scale exponents from the global block maxima */
static void set_scales(hf_agg_t *a)
{
    a->bits = a->total <= HF_AGG_INT32_MAX_M ? 31 : 63;
    a->st.int_bits = a->bits + 1;
    for (long b = 0; b < a->nblocks; b++)
        a->bexp[b] = (int16_t)hf_agg_scale_exp((double)a->bmax[b], a->total, a->bits);
}

/* q = or += round(v · sc) for one block.  Round to nearest even without a libm
 * call, so the loop vectorises: adding 1.5·2^52 leaves round(y) in the low
 * mantissa bits (valid for |y| < 2^51; here |y| < 2^31) — the same result as lrint
 * in the default rounding mode.  sc is a power of two: v·sc is exact in double. */
HF_INLINE void cvt_i32(int32_t *restrict q, const float *restrict v, long m, double sc, int first)
{
    if (first)
        for (long j = 0; j < m; j++) {
            double t = (double)v[j] * sc + 6755399441055744.0;
            int64_t bits;
            memcpy(&bits, &t, sizeof bits);
            q[j] = (int32_t)bits;
        }
    else
        for (long j = 0; j < m; j++) {
            double t = (double)v[j] * sc + 6755399441055744.0;
            int64_t bits;
            memcpy(&bits, &t, sizeof bits);
            q[j] += (int32_t)bits;
        }
}

HF_INLINE void cvt_i64(int64_t *restrict q, const float *restrict v, long m, double sc, int first)
{
    if (first) for (long j = 0; j < m; j++) q[j] = (int64_t)llrint((double)v[j] * sc);
    else for (long j = 0; j < m; j++) q[j] += (int64_t)llrint((double)v[j] * sc);
}

/* integer accumulator += round(v · 2^s_b) (first = assign) */
HF_CLONES static void cvt_all_i32(const long *bstart, long nblocks, const int16_t *bexp, const float *v,
                                  int32_t *q, int first)
{
    for (long b = 0; b < nblocks; b++) {
        long j0 = bstart[b], m = bstart[b + 1] - j0;
        double sc = ldexp(1.0, bexp[b]);
        if (m == HF_AGG_BLOCK) cvt_i32(q + j0, v + j0, HF_AGG_BLOCK, sc, first);
        else cvt_i32(q + j0, v + j0, m, sc, first);
    }
}

HF_CLONES static void cvt_all_i64(const long *bstart, long nblocks, const int16_t *bexp, const float *v,
                                  int64_t *q, int first)
{
    for (long b = 0; b < nblocks; b++) {
        long j0 = bstart[b], m = bstart[b + 1] - j0;
        double sc = ldexp(1.0, bexp[b]);
        if (m == HF_AGG_BLOCK) cvt_i64(q + j0, v + j0, HF_AGG_BLOCK, sc, first);
        else cvt_i64(q + j0, v + j0, m, sc, first);
    }
}

static void convert_i32(hf_agg_t *a, const float *v, int32_t *q, int first)
{
    cvt_all_i32(a->bstart, a->nblocks, a->bexp, v, q, first);
}

static void convert_i64(hf_agg_t *a, const float *v, int64_t *q, int first)
{
    cvt_all_i64(a->bstart, a->nblocks, a->bexp, v, q, first);
}

static void ensure_acc(hf_agg_t *a, int want64)
{
    if (want64 && !a->i64) a->i64 = hf_alloc_aligned((size_t)a->n * sizeof(int64_t));
    if (!want64 && !a->i32) a->i32 = hf_alloc_aligned((size_t)a->n * sizeof(int32_t));
}

static long reduce_allreduce(hf_agg_t *a)
{
    double t0 = hf_wtime();
    long nloc = a->nlocal;
    if (!a->exact) {
        MPI_Allreduce(&nloc, &a->total, 1, MPI_LONG, MPI_SUM, a->comm);
        if (nloc == 0) memset(a->fsum, 0, (size_t)a->n * sizeof(float));
        MPI_Allreduce(MPI_IN_PLACE, a->fsum, (int)a->n, MPI_FLOAT, MPI_SUM, a->comm);
        a->st.bytes += (uint64_t)a->n * 4;
        a->st.t_comm += hf_wtime() - t0;
        a->out = a->fsum;
        a->out_kind = 0;
        return a->total;
    }
    MPI_Allreduce(&nloc, &a->total, 1, MPI_LONG, MPI_SUM, a->comm);
    MPI_Allreduce(MPI_IN_PLACE, a->bmax, (int)a->nblocks, MPI_FLOAT, MPI_MAX, a->comm);
    double t1 = hf_wtime();
    a->st.t_comm += t1 - t0;
    set_scales(a);
    int wide = a->bits == 63;
    ensure_acc(a, wide);
    if (nloc == 0) {
        if (wide) memset(a->i64, 0, (size_t)a->n * 8);
        else memset(a->i32, 0, (size_t)a->n * 4);
    }
    for (long i = 0; i < nloc; i++) {
        const float *v = a->store + (size_t)i * (size_t)a->n;
        if (wide) convert_i64(a, v, a->i64, i == 0);
        else convert_i32(a, v, a->i32, i == 0);
    }
    double t2 = hf_wtime();
    a->st.t_convert += t2 - t1;
    if (wide) MPI_Allreduce(MPI_IN_PLACE, a->i64, (int)a->n, MPI_INT64_T, MPI_SUM, a->comm);
    else MPI_Allreduce(MPI_IN_PLACE, a->i32, (int)a->n, MPI_INT32_T, MPI_SUM, a->comm);
    a->st.bytes += (uint64_t)a->n * (wide ? 8 : 4);
    a->st.t_comm += hf_wtime() - t2;
    a->out = wide ? (const void *)a->i64 : (const void *)a->i32;
    a->out_kind = wide ? 64 : 32;
    return a->total;
}

/* sums of equal-type vectors, restrict-qualified so the loops vectorise */
HF_CLONES static void sum_i32(int32_t *restrict d, const int32_t *restrict s, long n, int first)
{
    if (first) memcpy(d, s, (size_t)n * sizeof *d);
    else for (long j = 0; j < n; j++) d[j] += s[j];
}
HF_CLONES static void sum_i64(int64_t *restrict d, const int64_t *restrict s, long n, int first)
{
    if (first) memcpy(d, s, (size_t)n * sizeof *d);
    else for (long j = 0; j < n; j++) d[j] += s[j];
}
HF_CLONES static void sum_f32(float *restrict d, const float *restrict s, long n, int first)
{
    if (first) memcpy(d, s, (size_t)n * sizeof *d);
    else for (long j = 0; j < n; j++) d[j] += s[j];
}

/* allreduce topology through shared memory.  Every rank puts its contribution
 * (its clients' weighted sum: float, or integers at the agreed scales) into its
 * slice of a node-wide MPI-3 shared window; after a node barrier each node rank
 * sums one 1/nsize slice of all contributions into the node's result, in node-rank
 * order; across nodes, node rank 0 of each node combines the node results with
 * MPI_Allreduce.  After a last barrier every rank reads the result in place — each
 * value is moved about twice instead of the ~4 copies of a two-sided allreduce,
 * and the reduction work is split over the node's cores.  Integer sums make the
 * exact mode's result independent of all of this. */
static long reduce_shm(hf_agg_t *a)
{
    double t0 = hf_wtime();
    long nloc = a->nlocal;
    MPI_Allreduce(&nloc, &a->total, 1, MPI_LONG, MPI_SUM, a->comm);
    if (a->exact && a->total > HF_AGG_INT32_MAX_M && a->elt < 8) {  /* 64-bit rounds from now on */
        shm_window_free(a);
        if (!shm_window(a, 8)) {  /* no room for it: MPI_Allreduce from now on */
            shm_teardown(a);
            a->st.t_comm += hf_wtime() - t0;
            return reduce_allreduce(a);
        }
    }
    int kind = 0;
    if (a->exact) {
        MPI_Allreduce(MPI_IN_PLACE, a->bmax, (int)a->nblocks, MPI_FLOAT, MPI_MAX, a->comm);
        double t1 = hf_wtime();
        a->st.t_comm += t1 - t0;
        set_scales(a);
        kind = a->bits == 63 ? 64 : 32;
        void *mine = a->peer[a->nrank];
        if (nloc == 0) memset(mine, 0, (size_t)a->n * (kind / 8));
        for (long i = 0; i < nloc; i++) {
            const float *v = a->store + (size_t)i * (size_t)a->n;
            if (kind == 64) convert_i64(a, v, mine, i == 0);
            else convert_i32(a, v, mine, i == 0);
        }
        t0 = hf_wtime();
        a->st.t_convert += t0 - t1;
    } else if (nloc == 0) {
        memset(a->fsum, 0, (size_t)a->n * sizeof(float));
    }
    shm_sync(a);
    /* this rank's slice of the node sum, in cache-sized pieces, node-rank order */
    long j0 = a->seg[a->nrank], j1 = a->seg[a->nrank + 1];
    for (long c = j0; c < j1; c += 4096) {
        long m = HF_MIN(4096L, j1 - c);
        for (int r = 0; r < a->nsize; r++) {
            if (kind == 32) sum_i32((int32_t *)a->res + c, (const int32_t *)a->peer[r] + c, m, r == 0);
            else if (kind == 64) sum_i64((int64_t *)a->res + c, (const int64_t *)a->peer[r] + c, m, r == 0);
            else sum_f32((float *)a->res + c, (const float *)a->peer[r] + c, m, r == 0);
        }
    }
    if (a->nnodes > 1) {  /* node results across nodes */
        shm_sync(a);
        if (a->leaders != MPI_COMM_NULL)
            MPI_Allreduce(MPI_IN_PLACE, a->res, (int)a->n,
                          kind == 64 ? MPI_INT64_T : kind == 32 ? MPI_INT32_T : MPI_FLOAT, MPI_SUM,
                          a->leaders);
    }
    shm_sync(a);
    a->st.bytes += (uint64_t)a->n * (kind == 64 ? 8 : 4);
    a->st.t_comm += hf_wtime() - t0;
    a->out = a->res;
    a->out_kind = kind;
    return a->total;
}

/* rank0 topology.  Every rank learns the per-rank counts and (exact) the global
 * block maxima, so each rank converts its own clients' updates to integers at the
 * agreed scales and sends them — one message per client, as a client would — to
 * rank 0, which only adds integers.  Float mode: each rank's partial sum travels. */
static long reduce_rank0(hf_agg_t *a)
{
    double t0 = hf_wtime();
    long nloc = a->nlocal;
    long *counts = hf_calloc((size_t)a->size, sizeof(long));
    MPI_Allgather(&nloc, 1, MPI_LONG, counts, 1, MPI_LONG, a->comm);
    for (int r = 0; r < a->size; r++) a->total += counts[r];
    if (a->exact)
        MPI_Allreduce(MPI_IN_PLACE, a->bmax, (int)a->nblocks, MPI_FLOAT, MPI_MAX, a->comm);
    a->st.t_comm += hf_wtime() - t0;
    int wide = 0;
    MPI_Datatype itype = MPI_INT32_T;
    if (a->exact) {
        set_scales(a);
        wide = a->bits == 63;
        itype = wide ? MPI_INT64_T : MPI_INT32_T;
    }
    if (a->rank != 0) {
        if (a->exact) {
            ensure_acc(a, wide);
            for (long i = 0; i < nloc; i++) {
                double t1 = hf_wtime();
                const float *v = a->store + (size_t)i * (size_t)a->n;
                void *buf = wide ? (void *)a->i64 : (void *)a->i32;
                if (wide) convert_i64(a, v, a->i64, 1);
                else convert_i32(a, v, a->i32, 1);
                double t2 = hf_wtime();
                a->st.t_convert += t2 - t1;
                MPI_Send(buf, (int)a->n, itype, 0, TAG_UPDATE, a->comm);
                a->st.bytes += (uint64_t)a->n * (wide ? 8 : 4);
                a->st.t_comm += hf_wtime() - t2;
            }
        } else if (nloc > 0) {
            t0 = hf_wtime();
            MPI_Send(a->fsum, (int)a->n, MPI_FLOAT, 0, TAG_UPDATE, a->comm);
            a->st.bytes += (uint64_t)a->n * 4;
            a->st.t_comm += hf_wtime() - t0;
        }
        free(counts);
        return a->total;
    }
    long nmsg = 0;
    for (int r = 1; r < a->size; r++) nmsg += a->exact ? counts[r] : (counts[r] > 0);
    t0 = hf_wtime();
    int have = nloc > 0;
    if (a->exact) {
        /* the headroom bits keep every partial sum of ≤ 127 updates inside int32 */
        ensure_acc(a, wide);
        for (long i = 0; i < nloc; i++) {
            const float *v = a->store + (size_t)i * (size_t)a->n;
            if (wide) convert_i64(a, v, a->i64, i == 0);
            else convert_i32(a, v, a->i32, i == 0);
        }
        if (!wide && nmsg > 0 && !a->i32r) a->i32r = hf_alloc_aligned((size_t)a->n * sizeof(int32_t));
        if (wide && nmsg > 0 && !a->i64r) a->i64r = hf_alloc_aligned((size_t)a->n * sizeof(int64_t));
    }
    a->st.t_convert += hf_wtime() - t0;
    int src = 0;
    for (long i = 0; i < nmsg; i++) {
        t0 = hf_wtime();
        /* integer sums commute: exact mode takes updates in arrival order; float
         * mode takes ranks in order so a given layout is at least repeatable */
        int from = MPI_ANY_SOURCE;
        if (!a->exact) {
            do src++; while (counts[src] == 0);
            from = src;
        }
        void *rb = !a->exact ? (void *)a->rbuf : wide ? (void *)a->i64r : (void *)a->i32r;
        MPI_Recv(rb, (int)a->n, a->exact ? itype : MPI_FLOAT, from, TAG_UPDATE, a->comm,
                 MPI_STATUS_IGNORE);
        double t1 = hf_wtime();
        a->st.t_comm += t1 - t0;
        if (a->exact && wide) sum_i64(a->i64, a->i64r, a->n, !have);
        else if (a->exact) sum_i32(a->i32, a->i32r, a->n, !have);
        else sum_f32(a->fsum, a->rbuf, a->n, !have);
        have = 1;
        a->st.t_convert += hf_wtime() - t1;
    }
    if (!have) {
        if (a->exact) memset(wide ? (void *)a->i64 : (void *)a->i32, 0, (size_t)a->n * (wide ? 8 : 4));
        else memset(a->fsum, 0, (size_t)a->n * sizeof(float));
    }
    free(counts);
    a->out = !a->exact ? (const void *)a->fsum : wide ? (const void *)a->i64 : (const void *)a->i32;
    a->out_kind = !a->exact ? 0 : wide ? 64 : 32;
    return a->total;
}

long hf_agg_reduce(hf_agg_t *a)
{
    if (a->topo == HF_TOPO_RANK0) return reduce_rank0(a);
    return a->shm ? reduce_shm(a) : reduce_allreduce(a);
}

/* x = or += α·S, restrict-qualified so the loops vectorise */
HF_CLONES static void emit_f32(float *restrict x, const float *restrict q, long n, float f, int add)
{
    if (add) for (long j = 0; j < n; j++) x[j] += f * q[j];
    else for (long j = 0; j < n; j++) x[j] = f * q[j];
}
HF_INLINE void emit_i32(float *restrict x, const int32_t *restrict q, long n, double f, int add)
{
    if (add) for (long j = 0; j < n; j++) x[j] += (float)((double)q[j] * f);
    else for (long j = 0; j < n; j++) x[j] = (float)((double)q[j] * f);
}
HF_INLINE void emit_i64(float *restrict x, const int64_t *restrict q, long n, double f, int add)
{
    if (add) for (long j = 0; j < n; j++) x[j] += (float)((double)q[j] * f);
    else for (long j = 0; j < n; j++) x[j] = (float)((double)q[j] * f);
}

/* x = or += α·2^-s_b·q over all blocks */
HF_CLONES static void emit_all(const long *bstart, long nblocks, const int16_t *bexp, const void *q, int kind,
                               double alpha, float *x, int add)
{
    for (long b = 0; b < nblocks; b++) {
        long j0 = bstart[b], m = bstart[b + 1] - j0;
        double f = ldexp(alpha, -bexp[b]);
        if (kind == 64) {
            if (m == HF_AGG_BLOCK) emit_i64(x + j0, (const int64_t *)q + j0, HF_AGG_BLOCK, f, add);
            else emit_i64(x + j0, (const int64_t *)q + j0, m, f, add);
        } else {
            if (m == HF_AGG_BLOCK) emit_i32(x + j0, (const int32_t *)q + j0, HF_AGG_BLOCK, f, add);
            else emit_i32(x + j0, (const int32_t *)q + j0, m, f, add);
        }
    }
}

static void emit(hf_agg_t *a, double alpha, float *x, int add)
{
    if (!hf_agg_result_everywhere(a) && a->rank != 0) return;  /* rank0 topology: result on rank 0 */
    double t0 = hf_wtime();
    if (a->out_kind == 0) emit_f32(x, a->out, a->n, (float)alpha, add);
    else emit_all(a->bstart, a->nblocks, a->bexp, a->out, a->out_kind, alpha, x, add);
    a->st.t_convert += hf_wtime() - t0;
}

void hf_agg_apply(hf_agg_t *a, double alpha, float *x) { emit(a, alpha, x, 1); }
void hf_agg_result(hf_agg_t *a, double alpha, float *out) { emit(a, alpha, out, 0); }

long hf_agg_finish(hf_agg_t *a, double divisor, float *out)
{
    long total = hf_agg_reduce(a);
    if (divisor == 0.0) divisor = 1.0;
    if (a->rank == 0 || hf_agg_result_everywhere(a)) hf_agg_result(a, 1.0 / divisor, out);
    return total;
}
