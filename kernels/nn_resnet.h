/*
 * nn_resnet.h — the pre-activation ResNet of nn_resnet.c behind nn.c's model
 * interface (internal: nn.c dispatches to it; tests use nn.h).
 */
#ifndef HF_NN_RESNET_H
#define HF_NN_RESNET_H
#include "nn.h"

typedef struct hf_resnet_work hf_resnet_work_t;

/* nn.c: append a tensor of this shape to m's flat buffer. */
void hf_model_add_tensor(hf_model_t *m, const char *name, int ndim, const int *shape);

/* Validate cfg (arch resnet; defaults resolved: widths 64,128,256,512, depth
 * 18; norm none, group or static-bn), lay the tensors out and set flops_fwd.  0 or HF_EINPUT. */
int hf_resnet_init(hf_model_t *m, const hf_model_cfg_t *cfg);
void hf_resnet_init_params(const hf_model_t *m, float *params, uint64_t seed);

hf_resnet_work_t *hf_resnet_work_new(const hf_model_t *m);
/* The bytes its work space holds once training steps of `batch` samples ran
 * (the activations and gradients of a group of min(batch, 8) samples, their
 * im2col; static batch norm: the whole batch's, and the statistics). */
double hf_resnet_work_bytes(const hf_model_t *m, int batch);
void hf_resnet_work_free(hf_resnet_work_t *w);

/* Forward + backward of B samples (in groups of up to 8; with static batch
 * norm all together, normalised by the batch's statistics): grad = the
 * gradient of the mean over the batch of the cross-entropy (zt == NULL) or of
 * the soft-target divergence at temperature T.  Returns the mean loss. */
float hf_resnet_step(const hf_model_t *m, hf_resnet_work_t *w, const float *params, float *grad,
                     const float *x, const int *y, const float *zt, float T, int B);
/* hf_model_norm_stats (no-op without static batch norm). */
void hf_resnet_norm_stats(const hf_model_t *m, hf_resnet_work_t *w, const float *params, const float *x, long n,
                          int chunk);
/* Forward only (hf_model_forward's contract; static batch norm uses the
 * statistics of the last hf_resnet_norm_stats). */
int hf_resnet_forward(const hf_model_t *m, hf_resnet_work_t *w, const float *params, const float *x,
                      const int *y, int B, float *logits, float *loss);
#endif
