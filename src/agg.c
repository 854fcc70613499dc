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
#include <stdlib.h>
#include <string.h>

#define TAG_UPDATE 7101

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
    hf_agg_stats_t st;
};

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
    if (exact) {
        a->bmax = hf_alloc_aligned((size_t)a->nblocks * sizeof(float));
        a->bexp = hf_calloc((size_t)a->nblocks, sizeof(int16_t));
    } else {
        a->fsum = hf_alloc_aligned((size_t)n * sizeof(float));
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
    free(a->fsum); free(a->rbuf);
    free(a);
}

int hf_agg_result_everywhere(const hf_agg_t *a) { return a->topo == HF_TOPO_ALLREDUCE; }
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

/* dst = w·src (first = 1) or dst += w·src; in exact mode also fold each block's
 * max |dst| into a->bmax — one pass over the update */
static void put_update(hf_agg_t *a, float w, const float *src, const float *sub, int first)
{
    float *dst = a->exact ? next_slot(a) : a->fsum;
    for (long b = 0; b < a->nblocks; b++) {
        long j0 = a->bstart[b], j1 = a->bstart[b + 1];
        if (sub) {
            if (first) for (long j = j0; j < j1; j++) dst[j] = w * (src[j] - sub[j]);
            else for (long j = j0; j < j1; j++) dst[j] += w * (src[j] - sub[j]);
        } else {
            if (first) for (long j = j0; j < j1; j++) dst[j] = w * src[j];
            else for (long j = j0; j < j1; j++) dst[j] += w * src[j];
        }
        if (a->exact) {
            float mx = a->bmax[b];
            for (long j = j0; j < j1; j++) {
                float t = fabsf(dst[j]);
                mx = t > mx ? t : mx;
            }
            a->bmax[b] = mx;
        }
    }
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

/* integer accumulator += round(v · 2^s_b) (first = assign) */
static void convert_i32(hf_agg_t *a, const float *v, int32_t *q, int first)
{
    for (long b = 0; b < a->nblocks; b++) {
        long j0 = a->bstart[b], j1 = a->bstart[b + 1];
        double sc = ldexp(1.0, a->bexp[b]);  /* power of two: v·sc is exact in double */
        /* round to nearest even without a libm call, so the loop vectorises: adding
         * 1.5·2^52 leaves round(y) in the low mantissa bits (valid for |y| < 2^51;
         * here |y| < 2^31) — the same result as lrint in the default rounding mode */
        if (first)
            for (long j = j0; j < j1; j++) {
                double t = (double)v[j] * sc + 6755399441055744.0;
                int64_t bits;
                memcpy(&bits, &t, sizeof bits);
                q[j] = (int32_t)bits;
            }
        else
            for (long j = j0; j < j1; j++) {
                double t = (double)v[j] * sc + 6755399441055744.0;
                int64_t bits;
                memcpy(&bits, &t, sizeof bits);
                q[j] += (int32_t)bits;
            }
    }
}

static void convert_i64(hf_agg_t *a, const float *v, int64_t *q, int first)
{
    for (long b = 0; b < a->nblocks; b++) {
        long j0 = a->bstart[b], j1 = a->bstart[b + 1];
        double sc = ldexp(1.0, a->bexp[b]);
        if (first) for (long j = j0; j < j1; j++) q[j] = (int64_t)llrint((double)v[j] * sc);
        else for (long j = j0; j < j1; j++) q[j] += (int64_t)llrint((double)v[j] * sc);
    }
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
        ensure_acc(a, 1);  /* rank 0 always sums in 64 bits: identical integers, no overflow */
        for (long i = 0; i < nloc; i++) convert_i64(a, a->store + (size_t)i * (size_t)a->n, a->i64, i == 0);
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
        int64_t *q = a->i64;
        if (a->exact && wide) {
            if (!have) memcpy(q, a->i64r, (size_t)a->n * sizeof(int64_t));
            else for (long j = 0; j < a->n; j++) q[j] += a->i64r[j];
        } else if (a->exact) {
            if (!have) for (long j = 0; j < a->n; j++) q[j] = a->i32r[j];
            else for (long j = 0; j < a->n; j++) q[j] += a->i32r[j];
        } else if (!have) memcpy(a->fsum, a->rbuf, (size_t)a->n * sizeof(float));
        else for (long j = 0; j < a->n; j++) a->fsum[j] += a->rbuf[j];
        have = 1;
        a->st.t_convert += hf_wtime() - t1;
    }
    if (!have) {
        if (a->exact) memset(a->i64, 0, (size_t)a->n * 8);
        else memset(a->fsum, 0, (size_t)a->n * sizeof(float));
    }
    free(counts);
    return a->total;
}

long hf_agg_reduce(hf_agg_t *a)
{
    return a->topo == HF_TOPO_ALLREDUCE ? reduce_allreduce(a) : reduce_rank0(a);
}

/* which integer accumulator holds the result */
static int result_is_wide(const hf_agg_t *a)
{
    return a->topo == HF_TOPO_RANK0 || a->bits == 63;
}

static void emit(hf_agg_t *a, double alpha, float *x, int add)
{
    if (!hf_agg_result_everywhere(a) && a->rank != 0) return;  /* rank0 topology: result on rank 0 */
    double t0 = hf_wtime();
    if (!a->exact) {
        float f = (float)alpha;
        if (add) for (long j = 0; j < a->n; j++) x[j] += f * a->fsum[j];
        else for (long j = 0; j < a->n; j++) x[j] = f * a->fsum[j];
    } else {
        int wide = result_is_wide(a);
        for (long b = 0; b < a->nblocks; b++) {
            long j0 = a->bstart[b], j1 = a->bstart[b + 1];
            double f = ldexp(alpha, -a->bexp[b]);
            if (wide) {
                const int64_t *q = a->i64;
                if (add) for (long j = j0; j < j1; j++) x[j] += (float)((double)q[j] * f);
                else for (long j = j0; j < j1; j++) x[j] = (float)((double)q[j] * f);
            } else {
                const int32_t *q = a->i32;
                if (add) for (long j = j0; j < j1; j++) x[j] += (float)((double)q[j] * f);
                else for (long j = j0; j < j1; j++) x[j] = (float)((double)q[j] * f);
            }
        }
    }
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
