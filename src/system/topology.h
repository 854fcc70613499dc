/*
 * topology.h — communication graphs for decentralized training (D-PSGD, Lian
 * et al. 2017): ring, 2-D torus, Erdős–Rényi, complete, star or an edge-list
 * file; Metropolis–Hastings mixing weights W_ij = 1/(1+max(d_i,d_j)),
 * W_ii = 1 − Σ_j W_ij (symmetric, doubly stochastic); spectral gap; and the
 * throughput model of Marfoq et al. 2020: the time per iteration of
 * synchronous gossip is the maximum cycle mean of the delay graph.
 */
#ifndef HF_TOPOLOGY_H
#define HF_TOPOLOGY_H
#include <stdint.h>

typedef struct {
    int n;            /* nodes (clients) */
    long *off;        /* CSR: neighbours of i are adj[off[i] .. off[i+1]) */
    int *adj;         /* sorted ascending, self excluded */
    double *w;        /* W_ij, aligned with adj */
    double *wself;    /* W_ii */
    long nedges;      /* undirected edges */
} hf_graph_t;

/* kind: ring|torus|erdos-renyi|complete|star|file.  p: edge probability of
 * erdos-renyi (resampled, keyed (seed, HF_RNG_TOPOLOGY, attempt), until
 * connected); path: edge list "i j" per line (0-based, '#' comments) for file.
 * Errors → HF_EINPUT (file errors as "PATH:LINE: ..."). */
int hf_topology_build(hf_graph_t *g, const char *kind, int n, double p, const char *path,
                      uint64_t seed);
void hf_graph_free(hf_graph_t *g);
/* Dense W (n·n, row-major). */
void hf_graph_dense(const hf_graph_t *g, double *W);
/* Eigenvalues of a symmetric n×n matrix (cyclic Jacobi), descending, into ev. */
void hf_sym_eigenvalues(int n, const double *A, double *ev);
/* 1 − max_{i≥2} |λ_i(W)| (0 for n = 1 → defined as 1). */
double hf_graph_spectral_gap(const hf_graph_t *g);
/* Maximum cycle mean (Karp) of the delay graph: self-loops d_ii = tc[i],
 * edges d_ij = tc[i] + latency[i] + bits[q] / A_ij with A_ij = min(up_bps[i]/deg_i,
 * down_bps[j]/deg_j) (Marfoq et al.'s bandwidth sharing); per node i its
 * compute time, its link's latency and bandwidths (its device class), per
 * directed edge q (i → g->adj[q], CSR order) the bits i sends.  Seconds per
 * iteration. */
double hf_graph_cycle_time(const hf_graph_t *g, const double *tc, const double *latency, const double *bits,
                           const double *up_bps, const double *down_bps);
/* Maximum cycle mean of a general weighted digraph given as a dense matrix
 * (NAN = no edge), exposed for tests. */
double hf_max_cycle_mean(int n, const double *D);
#endif
