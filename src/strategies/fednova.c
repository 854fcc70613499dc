/*
 * fednova.c — FedNova (Wang et al. 2020), normalized averaging: client k's
 * update is divided by its normaliser a_k (the local solver's effective step
 * count) and the server steps τ_eff Σ p_k d_k, so clients that ran more steps
 * do not pull the model towards their own optimum.  With equal a_k it is
 * FedAvg bit for bit.  The local solver may carry momentum and a proximal
 * term ([fednova] mu), both folded into a_k.
 */
#include "strategy.h"

static const hf_opt_t keys[] = {
    {"fednova.mu", HF_OPT_FLOAT, "0", 0, 1e6, NULL,
     "fednova: proximal coefficient of the local solver (a_k = sum_{j<tau}(1-lr mu)^j); 0 = plain SGD"},
    {0},
};

double hf_fednova_a(int tau, double rho, double eta_mu)
{
    /* JYWa/FedNova distoptim/FedNova.py: per local step, counter = ρ·counter + 1 and
     * a += counter (momentum); a = a(1 − ημ) + 1 (proximal); a += 1 when neither. */
    double a = 0.0, counter = 0.0;
    for (int j = 0; j < tau; j++) {
        if (rho != 0.0) {
            counter = counter * rho + 1.0;
            a += counter;
        }
        if (eta_mu != 0.0) {
            a *= 1.0 - eta_mu;
            a += 1.0;
        }
        if (rho == 0.0 && eta_mu == 0.0) a += 1.0;
    }
    return a;
}

static double normaliser(const hf_strat_t *s, int steps)
{
    return hf_fednova_a(steps, s->p->momentum, (double)s->p->lr * (double)s->mu);
}

/* x ← x − τ_eff Σ p_k d_k with d_k = −Δ_k/a_k, p_k = n_k/Σ_K n: the aggregate
 * Σ w_k Δ_k / Σ_K n with w_k = n_k·τ_eff/a_k.  When every kept a_k is the same,
 * τ_eff/a_k = 1 exactly and FedNova is FedAvg bit for bit. */
static void weights_fednova(hf_strat_t *s, hf_plan_t *pl)
{
    double num = 0.0, a0 = -1.0;
    int equal = 1;
    for (int i = 0; i < pl->m; i++) {
        if (!pl->c[i].kept) continue;
        num += (double)hf_strat_nk(s, pl->c[i].client) * pl->c[i].a;
        if (a0 < 0) a0 = pl->c[i].a;
        else if (pl->c[i].a != a0) equal = 0;
    }
    double teff = pl->nsum > 0 ? num / pl->nsum : 0.0;
    for (int i = 0; i < pl->m; i++) {
        hf_cplan_t *c = &pl->c[i];
        double nk = (double)hf_strat_nk(s, c->client);
        c->weight = !c->kept ? 0.0 : (equal || c->a <= 0) ? nk : nk * (teff / c->a);
    }
    pl->divisor = pl->nsum;
}

static int init_fednova(hf_strat_t *s, struct hf_run *x)
{
    (void)x;
    s->mu = (float)s->p->fednova_mu;
    s->grad_active = s->mu != 0.0f;
    return 0;
}

const hf_strategy_t hf_strategy_fednova = {
    .name = "fednova",
    .doc = "normalized averaging d_k = dx/a_k, x -= tau_eff sum p_k d_k ([fednova] mu for a "
           "proximal term) (Wang et al. 2020)",
    .modes = HF_MODE_CENTRAL,
    .keeps_stragglers = 1,
    .upload_factor = 1,
    .keys = keys,
    .init = init_fednova,
    .normaliser = normaliser,
    .weights = weights_fednova,
    .grad_hook = hf_grad_prox,
};
