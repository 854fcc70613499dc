/*
 * fedavg.c — FedAvg (McMahan et al. 2017): clients run local SGD from the
 * global model, the server averages their updates weighted by n_k.  Every
 * hook is the engine's default; only the weights are named, and stragglers
 * (federation.stragglers) are dropped.  In decentralized mode the same entry
 * runs D-PSGD (the engine's gossip).
 */
#include "strategy.h"

const hf_strategy_t hf_strategy_fedavg = {
    .name = "fedavg",
    .doc = "sample-weighted model averaging (McMahan et al. 2017); drops stragglers",
    .modes = HF_MODE_CENTRAL | HF_MODE_DECENTRAL | HF_MODE_ASYNC,
    .keeps_stragglers = 0,
    .upload_factor = 1,
    .weights = hf_weights_samples,
};
