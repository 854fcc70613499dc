/*
 * dpsgd.h — DP-SGD's noisy clipped minibatch gradient (dpsgd.c), exposed for
 * the unit test (tests/test_dpsgd.c).
 */
#ifndef HF_DPSGD_H
#define HF_DPSGD_H
#include "nn.h"
#include "rng.h"

/* The gradient DP-SGD steps with on the B rows of xb/yb (Abadi et al. 2016):
 * each example backpropagated alone (hf_model_train_step_grad with one row)
 * into g, clipped to L2 norm clip (hf_dp_clip), added to out in example
 * order; then, when z > 0, N(0, (z clip)^2) per coordinate drawn from r in
 * parameter order; then out /= B.  g and out: m->nparams floats each (g is
 * scratch).  Returns the mean of the examples' losses. */
float hf_dpsgd_grad(const hf_model_t *m, hf_work_t *w, const float *params, const float *xb, const int *yb,
                    int B, double clip, double z, hf_rng_t *r, float *g, float *out);

#endif
