/*
 * dkt.h — decentralized knowledge transfer (`federation.strategy = dkt`,
 * federation.mode = decentralized; a proposal of this project,
 * no reference code).  No server: clients on the topology graph, each with its
 * own model of its own width (the [heterofl] levels and device memory caps
 * decide it, heterofl.mode = fix; hetero.c).  A round:
 *   1. local SGD of every client on its width-β sub-model (hf_hetero_train on
 *      its own model: HeteroFL's local step, scaler/masked loss as configured);
 *   2. every client sends its model (full-size scattered form) to its
 *      neighbours (hf_dec_t's buffers, MPI neighbour collectives);
 *   3. client j gossip-averages ONLY with same-width neighbours (Metropolis
 *      weights on the same-width subgraph, ascending client id, double
 *      accumulator): models of different widths are never averaged;
 *   4. distillation: for every neighbour i strictly wider than j (ascending i),
 *      starting from j's mixed model, dkt.steps soft-target SGD steps (lr
 *      dkt.lr, KL at temperature dkt.temperature) on batches of i's local data
 *      (batch_size samples drawn from i's partition keyed (seed,
 *      HF_RNG_DISTILL, round, i·N + j)) with i's logits (its pre-mix model at
 *      its width) as targets; j adds the mean of these updates (summed in
 *      ascending i).  Every rank holds the training set, so j's rank computes
 *      the teacher logits itself — what i would send (B × classes floats a step).
 * Everything depends on the seed and the graph only: bitwise identical for
 * any rank count (tests/hetero.sh).  Evaluation: the mean model of each
 * width's clients, at that width, into /rounds_by_width; the /rounds model
 * (x̄, test_accuracy, /model/final) is the mean of the widest clients' models.
 * Priced (dec_flops, dec_edge_bytes; plan.c's cycle time and records.c): a
 * client's FLOPs a round are its sub-model's local training, plus dkt.steps·B
 * forward passes of its sub-model for every narrower neighbour it teaches,
 * plus dkt.steps·B soft-target steps (3 forward passes' FLOPs a sample) of
 * its sub-model for every wider neighbour; it sends every neighbour its
 * sub-model (float32) and every neighbour it teaches the dkt.steps batches
 * that neighbour trains on: B·(features + classes) float32 a step, the
 * inputs and its logits.  The inputs are the teacher's raw training samples:
 * the protocol as simulated moves private data between neighbours (a
 * deployment would distil on public or generated inputs instead).
 * Not modelled yet: /rounds consensus_distance is taken over all clients
 * against that x̄ (narrow clients included).
 */
#ifndef HF_DKT_H
#define HF_DKT_H
#include <mpi.h>
#include <hdf5.h>
#include "agg.h"
#include "decentral.h"
#include "hetero.h"

extern const hf_strategy_t hf_strategy_dkt;

/* Step 1 for client k (plan entry k): local SGD from, and back into, model. */
hf_het_local_t hf_dkt_train(hf_hetero_t *h, int k, int t, float *model, const hf_cplan_t *cp, float *delta,
                            float *xb, int *yb, int *iperm, double *t_kernel);
/* Steps 2–4, collective. */
void hf_dkt_gossip(hf_hetero_t *h, hf_dec_t *d, int t);
/* Add the hosted widest clients' models to agg (weight 1); returns their number over all ranks. */
int hf_dkt_add_widest(hf_hetero_t *h, hf_dec_t *d, hf_agg_t *agg);
/* Collective: per width, the mean of that width's client models (agg, reused)
 * evaluated at that width; rank 0 appends rows to /rounds_by_width of f (f < 0: none). */
int hf_dkt_eval(hf_hetero_t *h, hf_dec_t *d, hf_agg_t *agg, const float *tx, const int *ty, long n,
                int round, hid_t f);
#endif
