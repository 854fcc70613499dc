/*
 * stream.c — federated learning on data streams (the setting of Marfoq,
 * Neglia, Kameni and Vidal, "Federated Learning for Data Streams", AISTATS
 * 2023): a client receives its training samples over the rounds, keeps at
 * most a memory budget of them, and each round trains on what it keeps.
 *
 * Arrivals.  Client k's n_k training samples (those left after its test
 * split) arrive in a fixed order: a permutation keyed (seed, HF_RNG_STREAM,
 * k, 0) (stream.order = shuffled), or that permutation stably sorted by label
 * in a class order keyed (seed, HF_RNG_STREAM, k, 2) (drift: the client's
 * label distribution shifts class by class over time).  By round r it has
 * received A_k(r) = min(n_k, stream.initial + ⌊r · stream.rate⌋) of them, or
 * with stream.trace, min(n_k, stream.initial + the samples its lines give it
 * in rounds ≤ r) (a CSV file client,round,samples: trace_load).
 *
 * Memory.  Unlimited (stream.memory = 0): everything received.  Else at most
 * M samples: fifo keeps the last M received; reservoir (Vitter's algorithm R)
 * keeps arrival j < M in slot j and, for j ≥ M, puts it in slot u, u uniform
 * in [0, j] keyed (seed, HF_RNG_STREAM, k, 3 + j), when u < M — a uniform
 * sample of everything received.  weighted keeps the same reservoir and
 * weights it: the weighted empirical risk of Marfoq, Neglia, Kameni and Vidal
 * (AISTATS 2023) as hetfl reads it, Σ_k Σ_{i held by k} ω_k ℓ_i with
 * ω_k ∝ (A_k / m_k)^β (m_k held, β = stream.weight_power).  β = 1: a held
 * sample stands for the A_k / m_k received ones it was drawn among, so the
 * risk is unbiased for everything the clients received (each received sample
 * counts alike, the clients' weights ∝ A_k); β = 0: every held sample alike
 * (= reservoir, the lower variance term Σ_k λ_k² / m_k of the weighted-ERM
 * bound).  Within a client every held sample has the same weight, so the
 * policy is the aggregation weight m_k (A_k / m_k)^β (hf_stream_weights).
 * The memory is the client's partition for
 * the round (x->part, rewritten in place before selection), so the plan's
 * steps and weights, the simulated clock, local training, fine-tuning and the
 * strategies all see the samples the client holds now.
 *
 * Evaluation on the current distribution.  The client's test split is put in
 * its stream order too (tag 1 instead of 0, the same class order); test
 * sample i stands at stream position ⌊i · n_k / h_k⌋, and the per-client
 * evaluation takes those aligned with the last stream.eval_window arrivals.
 *
 * Every quantity is a function of (seed, client, round), computed alike on
 * every rank for every client; a resumed run replays the arrivals up to its
 * round, so nothing is checkpointed.
 */
#include "stream.h"
#include "hf_util.h"
#include "provenance.h"
#include "rng.h"
#include "run.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct hf_stream {
    hf_partition_t full;  /* every client's training samples in arrival order */
    long *arrived;        /* A_k: samples received so far (N) */
    long *held;           /* samples in memory (N) */
    long *slot_off;       /* N+1: reservoir slots of client k: slot[slot_off[k] ..] = stream positions */
    long *slot;
    double *rate;         /* ρ_k: client k's arrival rate (N) */
    int round;            /* the round the state is at (0: before the first) */
    /* stream.trace, by client then round: client k's lines are tr_round/tr_count
     * [tr_off[k], tr_off[k + 1]); tr_pos[k] the first not yet summed into tr_sum[k] */
    long *tr_off, *tr_pos, *tr_sum, *tr_count;
    int *tr_round;
};

/* One /stream row. */
typedef struct {
    int32_t round, exhausted;
    int64_t arrived, held;
} stream_rec_t;

static const hf_col_doc_t stream_cols[] = {
    {"round", "", "round number (every round)"},
    {"arrived", "samples", "training samples received by the clients up to this round, all clients"},
    {"held", "samples", "samples in the clients' memories this round (what they train on), all clients"},
    {"exhausted", "", "clients whose stream has ended (every training sample received)"},
    {NULL, NULL, NULL}};

double hf_stream_client_rate(const hf_params_t *p, int k)
{
    if (p->stream_rate_spread <= 0) return p->stream_rate;
    hf_rng_t r;
    hf_rng_init(&r, p->seed, HF_RNG_STREAM_RATE, (uint64_t)k, 0);
    return p->stream_rate * (1.0 + p->stream_rate_spread * (2.0 * hf_rng_uniform(&r) - 1.0));
}

long hf_stream_arrived(long nk, long initial, double rate, int round)
{
    double a = (double)initial + floor((double)round * rate + 1e-9);  /* 0.29 · 100 = 29, not 28.999… */
    return a >= (double)nk ? nk : (long)a;
}

/* Put client k's samples idx[0..n) (labels y[idx[i]]) in stream order: the keyed
 * permutation tagged `tag`, stably sorted by class rank with drift. */
static void order_client(const hf_params_t *p, int k, int tag, long *idx, long n, const int *y, int C, long *tmp)
{
    if (n <= 1) return;
    int *perm = hf_malloc((size_t)n * sizeof(int));
    hf_rng_t r;
    hf_rng_init(&r, p->seed, HF_RNG_STREAM, (uint64_t)k, (uint64_t)tag);
    hf_rng_permutation(&r, (int)n, perm);
    for (long i = 0; i < n; i++) tmp[i] = idx[perm[i]];
    free(perm);
    if (!p->stream_drift) {
        memcpy(idx, tmp, (size_t)n * sizeof(long));
        return;
    }
    int *cls = hf_malloc((size_t)C * sizeof(int));  /* the client's class order */
    hf_rng_init(&r, p->seed, HF_RNG_STREAM, (uint64_t)k, 2);
    hf_rng_permutation(&r, C, cls);
    long o = 0;
    for (int c = 0; c < C; c++)  /* counting sort: classes in that order, arrival order within */
        for (long i = 0; i < n; i++)
            if (y[tmp[i]] == cls[c]) idx[o++] = tmp[i];
    free(cls);
}

/* Order every client's rows of partition q (labels y) with tag. */
static void order_partition(const hf_params_t *p, hf_partition_t *q, int tag, const int *y, int C)
{
    long maxn = 1;
    for (int k = 0; k < q->nclients; k++) maxn = HF_MAX(maxn, q->off[k + 1] - q->off[k]);
    long *tmp = hf_malloc((size_t)maxn * sizeof(long));
    for (int k = 0; k < q->nclients; k++) order_client(p, k, tag, q->idx + q->off[k], q->off[k + 1] - q->off[k], y, C, tmp);
    free(tmp);
}

/* One line of stream.trace. */
typedef struct { long client, round, count; } trace_row_t;

static int cmp_trace(const void *a, const void *b)
{
    const trace_row_t *u = a, *v = b;
    if (u->client != v->client) return (u->client > v->client) - (u->client < v->client);
    return (u->round > v->round) - (u->round < v->round);
}

/* Parse stream.trace's text (lines client,round,samples; an optional header
 * line client,round,samples first; blank lines and # comments) into rows. */
static int trace_parse(char *text, const char *path, int N, int R, trace_row_t **rows, long *n)
{
    long cap = 0, lineno = 0;
    int rc = 0;
    for (char *line = text, *next; line && !rc; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        lineno++;
        while (*line == ' ' || *line == '\t') line++;
        if (!*line || *line == '#' || *line == '\r') continue;
        if (*n == 0 && !strncmp(line, "client,round,samples", 20)) continue;
        char *f[3];
        long v[3];
        if (hf_split_csv(line, f, 3) != 3 || hf_parse_long(f[0], &v[0]) || hf_parse_long(f[1], &v[1]) ||
            hf_parse_long(f[2], &v[2]))
            rc = hf_seterr(HF_EINPUT, "%s:%ld: expected client,round,samples (three integers)", path, lineno);
        else if (v[0] < 0 || v[0] >= N)
            rc = hf_seterr(HF_EINPUT, "%s:%ld: client %ld: the run has %d clients (0..%d)", path, lineno, v[0], N,
                           N - 1);
        else if (v[1] < 1 || v[1] > R)
            rc = hf_seterr(HF_EINPUT, "%s:%ld: round %ld outside 1..%d (federation.rounds)", path, lineno, v[1], R);
        else if (v[2] < 0 || v[2] > 1000000000L)
            rc = hf_seterr(HF_EINPUT, "%s:%ld: %ld samples: a count is 0..1000000000", path, lineno, v[2]);
        else {
            if (*n == cap) *rows = hf_realloc(*rows, (size_t)(cap = 2 * cap + 64) * sizeof **rows);
            (*rows)[(*n)++] = (trace_row_t){v[0], v[1], v[2]};
        }
    }
    return rc;
}

/* stream.trace into s->tr_*, sorted by client and round. */
static int trace_load(hf_stream_t *s, const char *path, int N, int R)
{
    char *text;
    size_t len;
    if (hf_input_slurp(path, HF_INPUT_TEXT_MAX, &text, &len)) return HF_EINPUT;  /* "PATH: reason" */
    hf_inputs_note(path);  /* its SHA-256 goes into the results file */
    trace_row_t *rows = NULL;
    long n = 0;
    int rc = trace_parse(text, path, N, R, &rows, &n);
    free(text);
    if (!rc) {
        qsort(rows, (size_t)n, sizeof *rows, cmp_trace);
        s->tr_off = hf_calloc((size_t)N + 1, sizeof(long));
        s->tr_pos = hf_calloc((size_t)N, sizeof(long));
        s->tr_sum = hf_calloc((size_t)N, sizeof(long));
        s->tr_count = hf_malloc((size_t)HF_MAX(n, 1) * sizeof(long));
        s->tr_round = hf_malloc((size_t)HF_MAX(n, 1) * sizeof(int));
        for (long i = 0; i < n; i++) {
            s->tr_off[rows[i].client + 1]++;
            s->tr_count[i] = rows[i].count;
            s->tr_round[i] = (int)rows[i].round;
        }
        for (int k = 0; k < N; k++) s->tr_off[k + 1] += s->tr_off[k];
        memcpy(s->tr_pos, s->tr_off, (size_t)N * sizeof(long));
    }
    free(rows);
    return rc;
}

/* The samples client k's trace lines give it up to round r (0 without a trace). */
static long trace_until(hf_stream_t *s, int k, int r)
{
    if (!s->tr_off) return 0;
    while (s->tr_pos[k] < s->tr_off[k + 1] && s->tr_round[s->tr_pos[k]] <= r) s->tr_sum[k] += s->tr_count[s->tr_pos[k]++];
    return s->tr_sum[k];
}

double hf_stream_bytes(const hf_params_t *p, const hf_partition_t *part)
{
    if (p->stream_rate <= 0 && !p->stream_trace[0]) return 0.0;
    long N = part->nclients, n = part->off[N], slots = 0;
    for (long k = 0; k < N && p->stream_reservoir && p->stream_memory > 0; k++)
        slots += HF_MIN(part->off[k + 1] - part->off[k], p->stream_memory);
    return 8.0 * (double)(HF_MAX(n, 1) + (N + 1) + 2 * N + (N + 1) + HF_MAX(slots, 1) + HF_MAX(N, 1));
}

int hf_stream_setup(hf_run_t *x)
{
    const hf_params_t *p = x->p;
    if (p->stream_rate <= 0 && !p->stream_trace[0]) return 0;
    hf_stream_t *s = hf_calloc(1, sizeof *s);
    x->stream = s;
    int N = x->part.nclients;
    long n = x->part.off[N];
    s->full.nclients = N;
    s->full.off = hf_malloc(((size_t)N + 1) * sizeof(long));
    s->full.idx = hf_malloc((size_t)HF_MAX(n, 1) * sizeof(long));
    memcpy(s->full.off, x->part.off, ((size_t)N + 1) * sizeof(long));
    memcpy(s->full.idx, x->part.idx, (size_t)n * sizeof(long));
    int C = HF_MAX(x->train.n_classes, 1);
    order_partition(p, &s->full, 0, x->train.y, C);
    if (x->ctest.nclients > 0) order_partition(p, &x->ctest, 1, x->ce_data->y, C);
    s->arrived = hf_calloc((size_t)N, sizeof(long));
    s->held = hf_calloc((size_t)N, sizeof(long));
    s->slot_off = hf_calloc((size_t)N + 1, sizeof(long));
    for (int k = 0; k < N; k++) {
        long nk = s->full.off[k + 1] - s->full.off[k];
        s->slot_off[k + 1] = s->slot_off[k] + (p->stream_reservoir && p->stream_memory > 0 ? HF_MIN(nk, p->stream_memory) : 0);
    }
    s->slot = hf_malloc((size_t)HF_MAX(s->slot_off[N], 1) * sizeof(long));
    s->rate = hf_malloc((size_t)HF_MAX(N, 1) * sizeof(double));
    for (int k = 0; k < N; k++) s->rate[k] = hf_stream_client_rate(p, k);
    if (!p->stream_trace[0]) return 0;
    int rc = hf_key_wrap(x->o->conf, "stream.trace", trace_load(s, p->stream_trace, N, p->rounds));
    for (int k = 0; k < N && !rc; k++) {  /* round 1: nobody without a sample to train on */
        long first = p->stream_initial;
        for (long i = s->tr_off[k]; i < s->tr_off[k + 1] && s->tr_round[i] == 1; i++) first += s->tr_count[i];
        if (first < 1)
            rc = hf_key_err(x->o->conf, "stream.trace", "%s: client %d receives no sample in round 1 and "
                            "stream.initial = %ld: every client needs one to train on", p->stream_trace, k,
                            p->stream_initial);
    }
    return rc;
}

/* Client k's arrivals [s->arrived[k], a) into its reservoir. */
static void reservoir_admit(const hf_params_t *p, hf_stream_t *s, int k, long a)
{
    long M = p->stream_memory, *slot = s->slot + s->slot_off[k];
    for (long j = s->arrived[k]; j < a; j++) {
        if (j < M) {
            slot[j] = j;
            continue;
        }
        hf_rng_t r;
        hf_rng_init(&r, p->seed, HF_RNG_STREAM, (uint64_t)k, 3 + (uint64_t)j);
        uint64_t u = hf_rng_below(&r, (uint64_t)j + 1);
        if (u < (uint64_t)M) slot[u] = j;
    }
}

void hf_stream_advance(hf_run_t *x, int r)
{
    const hf_params_t *p = x->p;
    hf_stream_t *s = x->stream;
    long M = p->stream_memory, o = 0;
    for (int k = 0; k < s->full.nclients; k++) {
        long nk = s->full.off[k + 1] - s->full.off[k];
        const long *fk = s->full.idx + s->full.off[k];
        long a = hf_stream_arrived(nk, p->stream_initial + trace_until(s, k, r), s->rate[k], r);
        long m = M > 0 ? HF_MIN(a, M) : a;
        x->part.off[k] = o;
        if (p->stream_reservoir && M > 0) {
            reservoir_admit(p, s, k, a);
            for (long i = 0; i < m; i++) x->part.idx[o + i] = fk[s->slot[s->slot_off[k] + i]];
        } else  /* fifo, or unlimited: the last m received, in arrival order */
            for (long i = 0; i < m; i++) x->part.idx[o + i] = fk[a - m + i];
        o += m;
        s->arrived[k] = a;
        s->held[k] = m;
    }
    x->part.off[s->full.nclients] = o;
    s->round = r;
}

void hf_stream_weights(hf_run_t *x, const int *sel, int m)
{
    const hf_stream_t *s = x->stream;
    double beta = x->p->stream_weight_power, sw = 0.0, swf = 0.0;
    if (!s || beta <= 0) return;
    for (int i = 0; i < m; i++) {
        hf_cplan_t *c = &x->plan.c[i];
        long held = x->part.off[sel[i] + 1] - x->part.off[sel[i]];
        if (!c->kept || held <= 0) continue;
        sw += c->weight;
        c->weight *= pow((double)s->arrived[sel[i]] / (double)held, beta);
        swf += c->weight;
    }
    if (sw > 0) x->plan.divisor *= swf / sw;
}

int hf_stream_round(hf_run_t *x, int round)
{
    hf_stream_t *s = x->stream;
    if (!s) return 0;
    hf_stream_advance(x, round);
    if (x->rank != 0) return 0;
    stream_rec_t row = {.round = round};
    for (int k = 0; k < s->full.nclients; k++) {
        row.arrived += s->arrived[k];
        row.held += s->held[k];
        row.exhausted += s->arrived[k] == s->full.off[k + 1] - s->full.off[k];
    }
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof row);
    H5Tinsert(t, "round", HOFFSET(stream_rec_t, round), H5T_NATIVE_INT32);
    H5Tinsert(t, "arrived", HOFFSET(stream_rec_t, arrived), H5T_NATIVE_INT64);
    H5Tinsert(t, "held", HOFFSET(stream_rec_t, held), H5T_NATIVE_INT64);
    H5Tinsert(t, "exhausted", HOFFSET(stream_rec_t, exhausted), H5T_NATIVE_INT32);
    int rc = hf_h5out_append_table(hf_h5out_file(x->h5), "stream", t, &row, 1,
                                   "data streams (stream.*): the clients' arrivals and memories, one row per "
                                   "round (docs/results.md)", stream_cols);
    H5Tclose(t);
    return rc;
}

void hf_stream_test_window(const hf_run_t *x, int k, long *lo, long *n)
{
    const hf_stream_t *s = x->stream;
    long h = x->ctest.off[k + 1] - x->ctest.off[k];
    *lo = 0;
    *n = h;
    if (!s || h == 0) return;
    long nk = s->full.off[k + 1] - s->full.off[k], a = s->arrived[k], W = x->p->stream_window;
    long from = W > 0 && W < a ? a - W : 0;  /* stream positions [from, a) */
    long i0 = h, i1 = h;
    for (long i = 0; i < h; i++) {
        long pos = i * nk / h;
        if (pos >= from && i0 == h) i0 = i;
        if (pos >= a) { i1 = i; break; }
    }
    *lo = i0;
    *n = HF_MAX(i1 - i0, 0);
}

void hf_stream_free(hf_stream_t *s)
{
    if (!s) return;
    hf_partition_free(&s->full);
    free(s->arrived); free(s->held); free(s->slot_off); free(s->slot); free(s->rate);
    free(s->tr_off); free(s->tr_pos); free(s->tr_sum); free(s->tr_count); free(s->tr_round);
    free(s);
}
