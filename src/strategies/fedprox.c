/*
 * fedprox.c — FedProx (Li et al. 2020): FedAvg whose local objective adds the
 * proximal term μ/2‖w − x_t‖², i.e. every minibatch gradient gets + μ(w − x_t);
 * stragglers keep their partial work.  With μ = 0 the hook is off and FedProx
 * runs FedAvg's fused training step, bit for bit.
 */
#include "strategy.h"

static const hf_opt_t keys[] = {
    {"fedprox.mu", HF_OPT_FLOAT, "1", 0, 1e6, NULL,
     "fedprox: proximal coefficient; local step w -= lr (grad + mu (w - x_t)); mu = 0 is FedAvg's "
     "arithmetic (with stragglers' partial work kept)"},
    {0},
};

/* grad += μ (w − x_t); FedNova's proximal solver shares it (fednova.c). */
void hf_grad_prox(hf_strat_t *s, int k, const float *w, const float *x0, float *g)
{
    (void)k;
    const float mu = s->mu;
    for (long j = 0; j < s->P; j++) g[j] += mu * (w[j] - x0[j]);
}

static int init_fedprox(hf_strat_t *s, struct hf_run *x)
{
    (void)x;
    s->mu = (float)s->p->fedprox_mu;
    s->grad_active = s->mu != 0.0f;
    return 0;
}

const hf_strategy_t hf_strategy_fedprox = {
    .name = "fedprox",
    .doc = "FedAvg + proximal term mu/2|w-x_t|^2 ([fedprox] mu); keeps stragglers' partial work "
           "(Li et al. 2020)",
    .modes = HF_MODE_CENTRAL | HF_MODE_ASYNC,
    .keeps_stragglers = 1,
    .upload_factor = 1,
    .keys = keys,
    .init = init_fedprox,
    .weights = hf_weights_samples,
    .grad_hook = hf_grad_prox,
};
