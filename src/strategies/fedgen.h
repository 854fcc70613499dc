/*
 * fedgen.h — FedGen's arithmetic, exposed for tests (tests/test_fedgen.c):
 * the generator G(z, y) and the losses it and the clients' heads are trained
 * with.  The strategy itself is fedgen.c.
 *
 * The generator is a two-layer perceptron on [z ; onehot(y)] (Z + C inputs):
 * dense (H) → ReLU → dense (F), F = the input width of the classifier head.
 * Its parameters, one flat buffer: W1 (H, Z+C), b1 (H), W2 (F, H), b2 (F).
 * A head is a dense layer W (C, F) followed by b (C), as the model stores its
 * last layer (nn.h).
 */
#ifndef HF_FEDGEN_H
#define HF_FEDGEN_H
#include <stdint.h>
#include "rng.h"

typedef struct {
    int C, F, Z, H;   /* classes, head input width, noise width, hidden units */
} hf_fedgen_dims_t;

/* Number of generator parameters. */
long hf_fedgen_nparams(const hf_fedgen_dims_t *d);

/* g (n, F) = G(z, y) for z (n, Z), y (n); h1 (n, H, may be NULL) receives the
 * hidden ReLU activations. */
void hf_fedgen_forward(const hf_fedgen_dims_t *d, const float *gen, int n, const float *z, const int *y,
                       float *h1, float *g);

/* Σ_b wb[b] · CE(W g_b + b, y_b) for a head (C·F + C floats); adds the
 * gradient of that sum to ghead (C·F + C, may be NULL) and to dg (n, F, may
 * be NULL).  Returns the sum (double accumulation). */
double hf_fedgen_head_ce(int C, int F, const float *head, int n, const float *g, const int *y, const double *wb,
                         float *ghead, float *dg);

/* The generator's server loss on one batch (z, y):
 *   L = Σ_u (1/n) Σ_b w[u·C + y_b] · CE(head_u(G(z_b, y_b)), y_b)  +  eta · L_div,
 *   L_div = exp(−(1/n²) Σ_{i,j} mean_k (z_ik − z_jk)² · mean_f |g_if − g_jf|)
 * (U heads, each C·F + C floats, back to back; w (U, C): the label-count
 * weights n_{u,y} / Σ_u' n_{u',y}).  grad (nparams) is overwritten with ∂L/∂gen.
 * Scratch: 2·n·(H + F) floats.  Returns L. */
double hf_fedgen_gen_loss(const hf_fedgen_dims_t *d, const float *gen, int n, const float *z, const int *y, int U,
                          const float *heads, const double *w, double eta, float *grad, float *scratch);

/* One client minibatch's regulariser: n labels y_b ~ prior (inverse CDF of a
 * uniform) and z_b ~ N(0, I_Z), drawn from r in sample order (the uniform,
 * then the Z normals); features g = G(z, y); adds α_t · ∂/∂head of
 * (1/n) Σ_b CE(head(g_b[0..Fh)), y_b) to ghead.  The head has Fh ≤ F inputs
 * (C·Fh + C floats): a width sub-model's head reads the first Fh features.
 * Scratch z (n, Z), y (n), g (n, F).  Returns the regulariser's value. */
double hf_fedgen_regularise(const hf_fedgen_dims_t *d, const float *gen, const double *prior, int n, int Fh,
                            double alpha_t, hf_rng_t *r, const float *head, float *ghead, float *z, int *y, float *g);

/* A width sub-model's head as the server counts it, the full head (C·F + C
 * floats, out): its C × Fh weights W (row-major) in the first Fh columns of
 * every row, zeros in the other F − Fh, then its C biases b.  The generator's
 * loss through it reads exactly the first Fh features. */
void hf_fedgen_full_head(int C, int F, int Fh, const float *W, const float *b, float *out);

/* Label counts of U clients (U, C) → w (U, C) = n_{u,y} / Σ_u' n_{u',y} (0
 * where no client holds y), labels = those some client holds (ascending),
 * prior = Σ_u n_{u,y} / Σ_{u,y} n_{u,y}.  Returns the number of labels. */
int hf_fedgen_label_weights(int C, int U, const int32_t *counts, double *w, int *labels, double *prior);
#endif
