/*
 * topology.c — communication graphs, Metropolis–Hastings mixing weights,
 * spectral gap and the max-plus cycle time of Marfoq et al. 2020 (see
 * topology.h).  Everything here is deterministic from (kind, n, p, seed), so
 * every rank builds the same graph.
 */
#include "topology.h"
#include "hf_util.h"
#include "provenance.h"
#include "rng.h"
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Build the CSR graph from a dense symmetric 0/1 adjacency (self ignored). */
static void from_dense(hf_graph_t *g, int n, const unsigned char *A)
{
    memset(g, 0, sizeof *g);
    g->n = n;
    g->off = hf_calloc((size_t)n + 1, sizeof(long));
    long ne = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if (j != i && A[(size_t)i * n + j]) ne++;
    g->adj = hf_calloc((size_t)HF_MAX(ne, 1), sizeof(int));
    g->w = hf_calloc((size_t)HF_MAX(ne, 1), sizeof(double));
    g->wself = hf_calloc((size_t)n, sizeof(double));
    long e = 0;
    for (int i = 0; i < n; i++) {
        g->off[i] = e;
        for (int j = 0; j < n; j++)
            if (j != i && A[(size_t)i * n + j]) g->adj[e++] = j;
    }
    g->off[n] = e;
    g->nedges = e / 2;
    /* Metropolis–Hastings: W_ij = 1/(1 + max(d_i, d_j)), W_ii = 1 − Σ_j W_ij
     * (the row sum taken in neighbour order, so it is the same on every rank) */
    for (int i = 0; i < n; i++) {
        long di = g->off[i + 1] - g->off[i];
        double s = 0.0;
        for (long q = g->off[i]; q < g->off[i + 1]; q++) {
            int j = g->adj[q];
            long dj = g->off[j + 1] - g->off[j];
            g->w[q] = 1.0 / (1.0 + (double)HF_MAX(di, dj));
            s += g->w[q];
        }
        g->wself[i] = 1.0 - s;
    }
}

static int connected(int n, const unsigned char *A)
{
    if (n <= 1) return 1;
    int *stack = hf_calloc((size_t)n, sizeof(int));
    unsigned char *seen = hf_calloc((size_t)n, 1);
    int sp = 0, count = 1;
    stack[sp++] = 0;
    seen[0] = 1;
    while (sp) {
        int i = stack[--sp];
        for (int j = 0; j < n; j++)
            if (A[(size_t)i * n + j] && !seen[j]) { seen[j] = 1; count++; stack[sp++] = j; }
    }
    free(stack);
    free(seen);
    return count == n;
}

static void link(unsigned char *A, int n, int i, int j)
{
    if (i == j) return;
    A[(size_t)i * n + j] = A[(size_t)j * n + i] = 1;
}

static int read_edges(const char *path, int n, unsigned char *A)
{
    FILE *f = hf_input_fopen(path, HF_INPUT_TEXT_MAX);  /* regular files only (hf_util.h) */
    if (!f) return HF_EINPUT;
    hf_inputs_note(path);  /* its SHA-256 goes into the results file */
    char line[512];
    int ln = 0;
    while (fgets(line, sizeof line, f)) {
        ln++;
        char *h = strchr(line, '#');
        if (h) *h = 0;
        char *s = line;
        while (isspace((unsigned char)*s)) s++;
        if (!*s) continue;
        long i, j;
        char extra;
        if (sscanf(s, "%ld %ld %c", &i, &j, &extra) != 2) {
            fclose(f);
            return hf_seterr(HF_EINPUT, "%s:%d: expected an edge 'i j' (two client ids)", path, ln);
        }
        if (i < 0 || j < 0 || i >= n || j >= n) {
            fclose(f);
            return hf_seterr(HF_EINPUT, "%s:%d: client id out of range [0, %d)", path, ln, n);
        }
        link(A, n, (int)i, (int)j);
    }
    fclose(f);
    return 0;
}

int hf_topology_build(hf_graph_t *g, const char *kind, int n, double p, const char *path,
                      uint64_t seed)
{
    memset(g, 0, sizeof *g);
    if (n < 1) return hf_seterr(HF_EINPUT, "topology: need at least one client");
    unsigned char *A = hf_calloc((size_t)n * (size_t)n, 1);
    int rc = 0;
    if (!strcmp(kind, "ring")) {
        for (int i = 0; i < n; i++) link(A, n, i, (i + 1) % n);
    } else if (!strcmp(kind, "torus")) {
        int r = (int)floor(sqrt((double)n));
        while (r > 1 && n % r) r--;
        int c = n / r;  /* r × c grid with wrap-around; r = 1 is a ring */
        for (int i = 0; i < n; i++) {
            int a = i / c, b = i % c;
            link(A, n, i, a * c + (b + 1) % c);
            link(A, n, i, ((a + 1) % r) * c + b);
        }
    } else if (!strcmp(kind, "complete")) {
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++) link(A, n, i, j);
    } else if (!strcmp(kind, "star")) {
        for (int i = 1; i < n; i++) link(A, n, 0, i);
    } else if (!strcmp(kind, "erdos-renyi")) {
        int ok = 0;
        for (int attempt = 0; attempt < 10000 && !ok; attempt++) {
            memset(A, 0, (size_t)n * (size_t)n);
            hf_rng_t r;
            hf_rng_init(&r, seed, HF_RNG_TOPOLOGY, (uint64_t)attempt, 0);
            for (int i = 0; i < n; i++)
                for (int j = i + 1; j < n; j++)
                    if (hf_rng_uniform(&r) < p) link(A, n, i, j);
            ok = connected(n, A);
        }
        if (!ok) rc = hf_seterr(HF_EINPUT, "topology.p = %g: no connected Erdos-Renyi graph on %d "
                                "clients in 10000 draws (raise p)", p, n);
    } else if (!strcmp(kind, "file")) {
        rc = read_edges(path, n, A);
        if (!rc && !connected(n, A))
            rc = hf_seterr(HF_EINPUT, "%s: the graph is not connected (D-PSGD needs a connected graph)",
                           path);
    } else {
        rc = hf_seterr(HF_EINPUT, "unknown topology kind '%s'", kind);
    }
    if (!rc) from_dense(g, n, A);
    free(A);
    return rc;
}

void hf_graph_free(hf_graph_t *g)
{
    free(g->off); free(g->adj); free(g->w); free(g->wself);
    memset(g, 0, sizeof *g);
}

void hf_graph_dense(const hf_graph_t *g, double *W)
{
    int n = g->n;
    memset(W, 0, (size_t)n * (size_t)n * sizeof(double));
    for (int i = 0; i < n; i++) {
        W[(size_t)i * n + i] = g->wself[i];
        for (long q = g->off[i]; q < g->off[i + 1]; q++) W[(size_t)i * n + g->adj[q]] = g->w[q];
    }
}

static int cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

void hf_sym_eigenvalues(int n, const double *A0, double *ev)
{
    double *A = hf_calloc((size_t)n * (size_t)n, sizeof(double));
    memcpy(A, A0, (size_t)n * (size_t)n * sizeof(double));
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0.0, tot = 0.0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                double a = A[(size_t)i * n + j] * A[(size_t)i * n + j];
                tot += a;
                if (i != j) off += a;
            }
        if (off <= 1e-30 * (tot > 0 ? tot : 1)) break;
        for (int p = 0; p < n - 1; p++)
            for (int q = p + 1; q < n; q++) {
                double apq = A[(size_t)p * n + q];
                if (fabs(apq) < 1e-300) continue;
                double app = A[(size_t)p * n + p], aqq = A[(size_t)q * n + q];
                double theta = (aqq - app) / (2.0 * apq);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1.0));
                double c = 1.0 / sqrt(t * t + 1.0), s = t * c;
                for (int k = 0; k < n; k++) {  /* columns p, q */
                    double akp = A[(size_t)k * n + p], akq = A[(size_t)k * n + q];
                    A[(size_t)k * n + p] = c * akp - s * akq;
                    A[(size_t)k * n + q] = s * akp + c * akq;
                }
                for (int k = 0; k < n; k++) {  /* rows p, q */
                    double apk = A[(size_t)p * n + k], aqk = A[(size_t)q * n + k];
                    A[(size_t)p * n + k] = c * apk - s * aqk;
                    A[(size_t)q * n + k] = s * apk + c * aqk;
                }
            }
    }
    for (int i = 0; i < n; i++) ev[i] = A[(size_t)i * n + i];
    qsort(ev, (size_t)n, sizeof(double), cmp_desc);
    free(A);
}

double hf_graph_spectral_gap(const hf_graph_t *g)
{
    int n = g->n;
    if (n <= 1) return 1.0;
    double *W = hf_calloc((size_t)n * (size_t)n, sizeof(double)), *ev = hf_calloc((size_t)n, sizeof(double));
    hf_graph_dense(g, W);
    hf_sym_eigenvalues(n, W, ev);
    /* ev[0] = 1 (connected, doubly stochastic); the rest in [-1, 1) */
    double m = 0.0;
    for (int i = 1; i < n; i++) m = HF_MAX(m, fabs(ev[i]));
    free(W);
    free(ev);
    return 1.0 - m;
}

double hf_max_cycle_mean(int n, const double *Dm)
{
    /* Karp 1978: D_k(v) = max weight of a k-edge walk from node 0 to v;
     * λ* = max_v min_k (D_n(v) − D_k(v)) / (n − k).  Needs strong connectivity. */
    double *D = hf_calloc((size_t)(n + 1) * (size_t)n, sizeof(double));
    for (long i = 0; i < (long)(n + 1) * n; i++) D[i] = -INFINITY;
    D[0] = 0.0;
    for (int k = 1; k <= n; k++)
        for (int u = 0; u < n; u++) {
            double du = D[(size_t)(k - 1) * n + u];
            if (du == -INFINITY) continue;
            for (int v = 0; v < n; v++) {
                double w = Dm[(size_t)u * n + v];
                if (isnan(w)) continue;
                double *dv = &D[(size_t)k * n + v];
                if (du + w > *dv) *dv = du + w;
            }
        }
    double best = -INFINITY;
    for (int v = 0; v < n; v++) {
        double dn = D[(size_t)n * n + v];
        if (dn == -INFINITY) continue;
        double worst = INFINITY;
        for (int k = 0; k < n; k++) {
            double dk = D[(size_t)k * n + v];
            if (dk == -INFINITY) continue;
            double r = (dn - dk) / (double)(n - k);
            if (r < worst) worst = r;
        }
        if (worst > best) best = worst;
    }
    free(D);
    return best;
}

double hf_graph_cycle_time(const hf_graph_t *g, const double *tc, const double *latency, const double *bits,
                           const double *up_bps, const double *down_bps)
{
    int n = g->n;
    double *Dm = hf_calloc((size_t)n * (size_t)n, sizeof(double));
    for (long i = 0; i < (long)n * n; i++) Dm[i] = NAN;
    for (int i = 0; i < n; i++) {
        Dm[(size_t)i * n + i] = tc[i];
        long di = g->off[i + 1] - g->off[i];
        for (long q = g->off[i]; q < g->off[i + 1]; q++) {
            int j = g->adj[q];
            long dj = g->off[j + 1] - g->off[j];
            double A = HF_MIN(up_bps[i] / (double)di, down_bps[j] / (double)dj);
            Dm[(size_t)i * n + j] = tc[i] + latency[i] + bits[q] / A;
        }
    }
    double r = hf_max_cycle_mean(n, Dm);
    free(Dm);
    return r;
}
