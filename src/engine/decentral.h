/*
 * decentral.h — decentralized training (D-PSGD, Lian et al. 2017) over a
 * communication graph of virtual clients.  Every client keeps its own model
 * (state_models, persistent: checkpoint it); a round is local SGD on each
 * client followed by one gossip step x_i ← Σ_j W_ij x_j (adapt-then-combine).
 *
 * Clients live on ranks in contiguous blocks (run.h).  Gossip between
 * clients hosted on the same rank is a local memory operation; between ranks
 * the models travel through an MPI distributed-graph communicator
 * (MPI_Dist_graph_create_adjacent over the rank graph induced by the client
 * graph) and MPI_Neighbor_alltoallv.  The mixing sum runs over j in ascending
 * client id (self included) with a double accumulator, whatever the layout, so
 * the result is bitwise identical for any rank count.
 */
#ifndef HF_DECENTRAL_H
#define HF_DECENTRAL_H
#include <mpi.h>
#include <stdint.h>
#include "topology.h"

typedef struct {
    const hf_graph_t *g;
    MPI_Comm comm;           /* the run's communicator */
    MPI_Comm gcomm;          /* distributed-graph communicator over ranks */
    int rank, size, N;
    long P;
    int first, last;         /* hosted clients [first, last) */
    float *state_models;     /* hosted clients' models, (last − first) × P (persistent) */
    float *mixed;            /* scratch: mixing output, same size */
    int nnbr;                /* neighbouring ranks */
    int *nbr;                /* their ranks, ascending */
    int *scount, *sdispl, *rcount, *rdispl;  /* per neighbour, in floats */
    int *sclients;           /* clients packed for each neighbour, concatenated */
    long nsend, nrecv;       /* models sent / received per gossip step */
    float *sbuf, *rbuf;
    long *rpos;              /* N entries: offset of client j's model in rbuf, −1 if none */
    double t_comm;           /* wall seconds in neighbour collectives */
    uint64_t bytes_sent;     /* bytes this rank sent in gossip so far */
} hf_dec_t;

/* Collective over comm.  Every hosted model starts as a copy of x0. */
int hf_dec_init(hf_dec_t *d, const hf_graph_t *g, long P, const float *x0, MPI_Comm comm);
void hf_dec_free(hf_dec_t *d);
/* Client k's model (k hosted by this rank). */
float *hf_dec_model(hf_dec_t *d, int k);
/* One gossip step (D-PSGD, Metropolis weights), collective. */
void hf_dec_gossip(hf_dec_t *d);
/* The parts of a gossip step, for strategies that mix differently (dkt.c):
 * send the hosted models to the neighbouring ranks (collective); client j's
 * model, hosted or received; client i's mixed model Σ_j w_j x_j over
 * j ∈ {i} ∪ N(i) in ascending j (double accumulator acc of P; wself for i,
 * weight(arg, i, j, q) for neighbour j at adjacency index q, < 0 skips it) into
 * the mixing buffer, which is returned; and the mixed models made current. */
void hf_dec_exchange(hf_dec_t *d);
const float *hf_dec_model_any(hf_dec_t *d, int j);
float *hf_dec_mix(hf_dec_t *d, int i, double wself, double (*weight)(void *arg, int i, int j, long q), void *arg,
                  double *acc);
void hf_dec_mixed_done(hf_dec_t *d);
/* (1/N) Σ_i ‖x_i − xbar‖², collective; xbar must be on every rank.  Per-client
 * terms are summed in client order, so the figure does not depend on layout. */
double hf_dec_consensus(hf_dec_t *d, const float *xbar);
/* First client of rank r for N clients on R ranks (same formula as hf_run_first_client, run.h). */
int hf_dec_rank_first(int r, int R, int N);
#endif
