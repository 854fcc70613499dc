/*
 * fjord.c — FjORD (Horváth et al. 2021), ordered dropout: a client of tier
 * p_max trains, per minibatch, the p-subnet of its p_max model for a width
 * p ≤ p_max drawn from [fjord] widths (optionally with self-distillation);
 * the server averages every coordinate n_k-weighted over the clients that
 * trained it.  The machinery is hetero.c's; this file is the entry.
 */
#include "hetero.h"

static const hf_opt_t keys[] = {
    {"fjord.widths", HF_OPT_STRING, "0.2,0.4,0.6,0.8,1.0", HF_OPT_NORANGE, NULL,
     "fjord: the width set P, ascending, each in (0,1]; also the widths /rounds_by_width reports"},
    {"fjord.tiers", HF_OPT_STRING, "", HF_OPT_NORANGE, NULL,
     "fjord: proportions of clients whose tier p_max is each width of fjord.widths (same order), "
     "assigned by client index with exact quotas; empty = uniform. With device classes whose "
     "mem_width < 1: the tier is the largest width <= the class's cap instead"},
    {"fjord.kd", HF_OPT_BOOL, "no", HF_OPT_NORANGE, NULL,
     "fjord: self-distillation; a minibatch at p < p_max adds CE(f_p(x), softmax(f_pmax(x))) to "
     "CE(f_pmax(x), y), one step on both: the exact soft target at temperature 1 (FjORD's baseline "
     "in the Flower repository), the teacher not differentiated"},
    {"fjord.pmax_prob", HF_OPT_FLOAT, "-1", -1, 1, NULL,
     "fjord: probability that a minibatch trains the client's own tier p_max, the rest uniform over "
     "the narrower widths; -1 = uniform over all widths <= p_max (FjORD's rule)"},
    {0},
};

const hf_strategy_t hf_strategy_fjord = {
    .name = "fjord",
    .doc = "ordered dropout: per-minibatch width p <= tier ([fjord] widths, tiers, kd), n_k-weighted "
           "masked averaging (Horvath et al. 2021)",
    .modes = HF_MODE_CENTRAL,
    .keeps_stragglers = 0,
    .upload_factor = 1,
    .keys = keys,
    .check = hf_hetero_params_check,
    .init = hf_het_init,
    .free = hf_het_free,
    .weights = hf_weights_samples,
    .plan = hf_het_plan,
    .flops_scale = hf_het_flops_scale,
    .bytes_scale = hf_het_bytes_scale,
    .width = hf_het_width,
    .model_bytes = hf_het_model_bytes,
    .narrower = hf_het_narrower,
    .narrow = hf_het_narrow,
    .train = hf_het_train,
    .aggregate = hf_het_aggregate,
    .evaluate = hf_het_evaluate,
};
