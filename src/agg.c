/*
 * agg.c — exact (fixed-point) and float aggregation over rank0 or allreduce.
 * See agg.h for the method and its precision.
 */
#include "agg.h"
#include "hf_util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TAG_UPDATE 7101

struct hf_agg {
    long n;
    int ntensors;
    long *toff;
    int exact;
    hf_topo_t topo;
    MPI_Comm comm;
    int rank, size;
    /* exact mode: local updates kept until the scales are known */
    long nlocal, caplocal;
    float *store;        /* caplocal * n */
    double *wstore;      /* caplocal */
    double *maxabs;      /* ntensors: local, then global */
    int64_t *isum;       /* n, exact accumulator */
    int64_t *isum_red;   /* n, allreduce target */
    float *fsum;         /* n, float accumulator (float mode) */
    float *rbuf;         /* n + 2, rank0 receive / send buffer */
    int *sexp;           /* ntensors */
    hf_agg_stats_t st;
};

hf_agg_t *hf_agg_new(long n, int ntensors, const long *toff, int exact, hf_topo_t topo,
                     MPI_Comm comm)
{
    hf_agg_t *a = hf_calloc(1, sizeof *a);
    a->n = n;
    a->ntensors = ntensors;
    a->toff = hf_calloc((size_t)ntensors + 1, sizeof(long));
    memcpy(a->toff, toff, ((size_t)ntensors + 1) * sizeof(long));
    a->exact = exact;
    a->topo = topo;
    a->comm = comm;
    MPI_Comm_rank(comm, &a->rank);
    MPI_Comm_size(comm, &a->size);
    a->maxabs = hf_calloc((size_t)ntensors, sizeof(double));
    a->sexp = hf_calloc((size_t)ntensors, sizeof(int));
    if (exact) {
        a->isum = hf_alloc_aligned((size_t)n * sizeof(int64_t));
        if (topo == HF_TOPO_ALLREDUCE)
            a->isum_red = hf_alloc_aligned((size_t)n * sizeof(int64_t));
    } else {
        a->fsum = hf_alloc_aligned((size_t)n * sizeof(float));
    }
    a->rbuf = hf_alloc_aligned(((size_t)n + 2) * sizeof(float));
    return a;
}

void hf_agg_free(hf_agg_t *a)
{
    if (!a) return;
    free(a->toff); free(a->store); free(a->wstore); free(a->maxabs); free(a->isum);
    free(a->isum_red); free(a->fsum); free(a->rbuf); free(a->sexp);
    free(a);
}

int hf_agg_result_everywhere(const hf_agg_t *a) { return a->topo == HF_TOPO_ALLREDUCE; }
const hf_agg_stats_t *hf_agg_stats(const hf_agg_t *a) { return &a->st; }

void hf_agg_begin(hf_agg_t *a)
{
    a->nlocal = 0;
    memset(&a->st, 0, sizeof a->st);
    for (int t = 0; t < a->ntensors; t++) a->maxabs[t] = 0.0;
    if (a->exact) memset(a->isum, 0, (size_t)a->n * sizeof(int64_t));
    else memset(a->fsum, 0, (size_t)a->n * sizeof(float));
}

int hf_agg_scale_exp(double maxabs, long m)
{
    int e = 0;
    if (maxabs > 0) frexp(maxabs, &e);  /* maxabs < 2^e */
    int h = 0;
    while ((1L << h) < m + 1) h++;
    return 62 - e - h;
}

/* max over the tensor of |w * d[j]| */
static void local_max(hf_agg_t *a, double w, const float *d)
{
    for (int t = 0; t < a->ntensors; t++) {
        float mx = 0.0f;
        for (long j = a->toff[t]; j < a->toff[t + 1]; j++) {
            float v = fabsf(d[j]);
            if (v > mx) mx = v;
        }
        double m = fabs(w) * (double)mx;
        if (m > a->maxabs[t]) a->maxabs[t] = m;
    }
}

/* isum += round(w * d * 2^s) per tensor */
static void accumulate_fixed(hf_agg_t *a, double w, const float *d)
{
    for (int t = 0; t < a->ntensors; t++) {
        double sc = w * ldexp(1.0, a->sexp[t]);
        int64_t *acc = a->isum;
        for (long j = a->toff[t]; j < a->toff[t + 1]; j++)
            acc[j] += (int64_t)llrint(sc * (double)d[j]);
    }
}

void hf_agg_add(hf_agg_t *a, double weight, const float *delta)
{
    double t0 = hf_wtime();
    if (!a->exact) {
        float w = (float)weight;
        for (long j = 0; j < a->n; j++) a->fsum[j] += w * delta[j];
        a->nlocal++;
    } else {
        if (a->nlocal == a->caplocal) {
            a->caplocal = a->caplocal ? 2 * a->caplocal : 4;
            a->store = hf_realloc(a->store, (size_t)a->caplocal * (size_t)a->n * sizeof(float));
            a->wstore = hf_realloc(a->wstore, (size_t)a->caplocal * sizeof(double));
        }
        memcpy(a->store + (size_t)a->nlocal * (size_t)a->n, delta, (size_t)a->n * sizeof(float));
        a->wstore[a->nlocal] = weight;
        local_max(a, weight, delta);
        a->nlocal++;
    }
    a->st.t_convert += hf_wtime() - t0;
}

static void finish_out(hf_agg_t *a, double divisor, float *out)
{
    if (a->exact) {
        const int64_t *s = a->topo == HF_TOPO_ALLREDUCE ? a->isum_red : a->isum;
        for (int t = 0; t < a->ntensors; t++) {
            double f = ldexp(1.0, -a->sexp[t]) / divisor;
            for (long j = a->toff[t]; j < a->toff[t + 1]; j++)
                out[j] = (float)((double)s[j] * f);
        }
    } else {
        float f = (float)(1.0 / divisor);
        for (long j = 0; j < a->n; j++) out[j] = a->fsum[j] * f;
    }
}

long hf_agg_finish(hf_agg_t *a, double divisor, float *out)
{
    double t0, t1;
    long total = 0, nloc = a->nlocal;
    if (divisor == 0.0) divisor = 1.0;

    if (a->topo == HF_TOPO_ALLREDUCE) {
        t0 = hf_wtime();
        if (a->exact) {
            /* two small reductions: per-tensor maxima, then the count */
            MPI_Allreduce(MPI_IN_PLACE, a->maxabs, a->ntensors, MPI_DOUBLE, MPI_MAX, a->comm);
            MPI_Allreduce(&nloc, &total, 1, MPI_LONG, MPI_SUM, a->comm);
            t1 = hf_wtime();
            a->st.t_comm += t1 - t0;
            for (int t = 0; t < a->ntensors; t++) a->sexp[t] = hf_agg_scale_exp(a->maxabs[t], total);
            for (long i = 0; i < a->nlocal; i++)
                accumulate_fixed(a, a->wstore[i], a->store + (size_t)i * (size_t)a->n);
            double t2 = hf_wtime();
            a->st.t_convert += t2 - t1;
            MPI_Allreduce(a->isum, a->isum_red, (int)a->n, MPI_INT64_T, MPI_SUM, a->comm);
            a->st.bytes += (uint64_t)a->n * 8;
            a->st.t_comm += hf_wtime() - t2;
        } else {
            MPI_Allreduce(&nloc, &total, 1, MPI_LONG, MPI_SUM, a->comm);
            MPI_Allreduce(MPI_IN_PLACE, a->fsum, (int)a->n, MPI_FLOAT, MPI_SUM, a->comm);
            a->st.bytes += (uint64_t)a->n * 4;
            a->st.t_comm += hf_wtime() - t0;
        }
        t0 = hf_wtime();
        finish_out(a, divisor, out);
        a->st.t_convert += hf_wtime() - t0;
        return total;
    }

    /* rank0: counts (and, exact, maxima) to rank 0, then every update travels there */
    t0 = hf_wtime();
    long *counts = a->rank == 0 ? hf_calloc((size_t)a->size, sizeof(long)) : NULL;
    MPI_Gather(&nloc, 1, MPI_LONG, counts, 1, MPI_LONG, 0, a->comm);
    if (a->exact)
        MPI_Reduce(a->rank == 0 ? MPI_IN_PLACE : a->maxabs, a->maxabs, a->ntensors, MPI_DOUBLE,
                   MPI_MAX, 0, a->comm);
    a->st.t_comm += hf_wtime() - t0;
    long n2 = a->n + 2;  /* update floats + the weight as a double in the last 8 bytes */
    if (a->rank != 0) {
        t0 = hf_wtime();
        if (a->exact) {
            for (long i = 0; i < a->nlocal; i++) {
                memcpy(a->rbuf, a->store + (size_t)i * (size_t)a->n, (size_t)a->n * sizeof(float));
                memcpy(a->rbuf + a->n, &a->wstore[i], sizeof(double));
                MPI_Send(a->rbuf, (int)n2, MPI_FLOAT, 0, TAG_UPDATE, a->comm);
                a->st.bytes += (uint64_t)n2 * 4;
            }
        } else if (a->nlocal > 0) {
            /* float mode: the rank's partial sum travels (weight 1) */
            memcpy(a->rbuf, a->fsum, (size_t)a->n * sizeof(float));
            double one = 1.0;
            memcpy(a->rbuf + a->n, &one, sizeof(double));
            MPI_Send(a->rbuf, (int)n2, MPI_FLOAT, 0, TAG_UPDATE, a->comm);
            a->st.bytes += (uint64_t)n2 * 4;
        }
        MPI_Bcast(&total, 1, MPI_LONG, 0, a->comm);
        a->st.t_comm += hf_wtime() - t0;
        return total;
    }

    for (int r = 0; r < a->size; r++) total += counts[r];
    long nmsg = 0;
    for (int r = 1; r < a->size; r++)
        nmsg += a->exact ? counts[r] : (counts[r] > 0 ? 1 : 0);
    int src = 0;  /* float mode: next rank to receive from */
    t0 = hf_wtime();
    if (a->exact) {
        for (int t = 0; t < a->ntensors; t++) a->sexp[t] = hf_agg_scale_exp(a->maxabs[t], total);
        for (long i = 0; i < a->nlocal; i++)
            accumulate_fixed(a, a->wstore[i], a->store + (size_t)i * (size_t)a->n);
    }
    a->st.t_convert += hf_wtime() - t0;
    for (long i = 0; i < nmsg; i++) {
        t0 = hf_wtime();
        /* integer sums commute: take updates in arrival order.  Float mode takes
         * ranks in order so a given layout is at least repeatable. */
        int from = MPI_ANY_SOURCE;
        if (!a->exact) {
            do src++; while (counts[src] == 0);
            from = src;
        }
        MPI_Recv(a->rbuf, (int)n2, MPI_FLOAT, from, TAG_UPDATE, a->comm, MPI_STATUS_IGNORE);
        double t1b = hf_wtime();
        a->st.t_comm += t1b - t0;
        double w;
        memcpy(&w, a->rbuf + a->n, sizeof(double));
        if (a->exact) accumulate_fixed(a, w, a->rbuf);
        else for (long j = 0; j < a->n; j++) a->fsum[j] += a->rbuf[j];
        a->st.t_convert += hf_wtime() - t1b;
    }
    t0 = hf_wtime();
    MPI_Bcast(&total, 1, MPI_LONG, 0, a->comm);
    a->st.t_comm += hf_wtime() - t0;
    t0 = hf_wtime();
    finish_out(a, divisor, out);
    a->st.t_convert += hf_wtime() - t0;
    free(counts);
    return total;
}
