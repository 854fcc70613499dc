/*
 * server_opt.h — server optimizers of FedOpt (Reddi et al. 2021): the
 * aggregated update Δ_t is treated as a pseudo-gradient and applied with
 * FedAvgM, FedAdagrad, FedAdam or FedYogi.  Pure elementwise float arithmetic
 * in a fixed order, so every rank that holds Δ_t computes the same model.
 *
 * The moments m, v are persistent state (checkpoint them): `state_m`, `state_v`.
 */
#ifndef HF_SERVER_OPT_H
#define HF_SERVER_OPT_H
#include <stdint.h>

typedef enum {
    HF_SOPT_NONE = 0,   /* x ← x + η_s Δ (η_s = 1: plain FedAvg) */
    HF_SOPT_AVGM,       /* m = β1 m + Δ; x ← x + η_s m (FedAvgM, Hsu et al. 2019) */
    HF_SOPT_ADAGRAD,    /* m = β1 m + (1−β1)Δ; v += Δ²; x ← x + η_s m/(√v + τ) */
    HF_SOPT_ADAM,       /* v = β2 v + (1−β2)Δ² */
    HF_SOPT_YOGI        /* v = v − (1−β2) Δ² sign(v − Δ²) */
} hf_sopt_kind_t;

typedef struct {
    hf_sopt_kind_t kind;
    float lr, beta1, beta2, tau;
    long n;              /* parameters */
    float *state_m;      /* first moment (AVGM: momentum buffer); NULL for NONE */
    float *state_v;      /* second moment; NULL for NONE and AVGM */
    int64_t state_steps; /* updates applied so far */
} hf_server_opt_t;

/* name: none|avgm|adagrad|adam|yogi; v_tau2: the second moment starts at τ²
 * (Reddi et al.), else at 0.  Returns 0, or HF_EINPUT for an unknown name. */
/* The optimizers' names separated by sep ("|" or "  "; static buffers). */
const char *hf_server_opt_names(const char *sep);
int hf_server_opt_init(hf_server_opt_t *o, const char *name, long n, double lr, double beta1,
                       double beta2, double tau, int v_tau2);
void hf_server_opt_free(hf_server_opt_t *o);
/* x ← optimizer step with pseudo-gradient delta (delta is not modified). */
void hf_server_opt_apply(hf_server_opt_t *o, float *x, const float *delta);
/* Bytes of persistent state. */
uint64_t hf_server_opt_bytes(const hf_server_opt_t *o);
#endif
