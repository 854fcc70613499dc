/*
 * heterofl.c — HeteroFL (Diao et al. 2021): clients train width-β sub-models
 * (levels a..e = 1, 1/2, …, 1/16 of every hidden layer) cut from the global
 * model, fixed per client or redrawn per round; the server averages every
 * coordinate over the clients that trained it (count-based, label split for
 * the classifier).  The machinery is hetero.c's; this file is the entry.
 */
#include "hetero.h"

static const hf_opt_t keys[] = {
    {"heterofl.levels", HF_OPT_STRING, "a", HF_OPT_NORANGE, NULL,
     "heterofl: width levels a..e = 1, 1/2, 1/4, 1/8, 1/16 with proportions, '-'-separated: a2-b8 = "
     "20% width 1, 80% width 1/2; a-e = half each (a level's proportion defaults to 1). With device "
     "classes whose mem_width < 1, a client's widest level is the largest <= its class's cap"},
    {"heterofl.mode", HF_OPT_CHOICE, "fix", HF_OPT_NORANGE, "fix|dynamic",
     "heterofl: fix = level by client index (exact quotas of the proportions; with memory caps: the "
     "widest level the class holds); dynamic = redrawn every round from the proportions (restricted to "
     "levels the class holds), keyed (seed, width, round, client)"},
    {"heterofl.scaler", HF_OPT_CHOICE, "auto", HF_OPT_NORANGE, "auto|yes|no",
     "heterofl: divide hidden-layer outputs by the width during training (authors' Scaler); auto = yes "
     "only where the Scaler is a rescaling in front of a normalisation layer that does not cancel it, "
     "which is no model hetfl has: no for logreg, mlp and cnn (without a norm the factor compounds over "
     "the layers: the e-only 2NN diverged to chance with it), no for the lstm (its gates are not "
     "ReLUs: yes is refused), no for the resnet (its group or static batch norm cancels the factor; "
     "with model.norm = none yes is refused)"},
    {"heterofl.masked_loss", HF_OPT_BOOL, "yes", HF_OPT_NORANGE, NULL,
     "heterofl: logits of classes absent from the client's data set to 0 before the softmax (training)"},
    {"heterofl.label_split", HF_OPT_BOOL, "yes", HF_OPT_NORANGE, NULL,
     "heterofl: classifier rows are averaged only over clients holding that class (authors' code)"},
    {0},
};

const hf_strategy_t hf_strategy_heterofl = {
    .name = "heterofl",
    .doc = "width sub-models a..e = 1..1/16 ([heterofl] levels, mode), count-based masked averaging, "
           "label split (Diao et al. 2021)",
    .modes = HF_MODE_CENTRAL,
    .keeps_stragglers = 0,
    .upload_factor = 1,
    .keys = keys,
    .check = hf_hetero_params_check,
    .init = hf_het_init,
    .free = hf_het_free,
    .weights = hf_weights_count,
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
