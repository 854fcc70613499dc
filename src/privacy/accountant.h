/*
 * accountant.h — Rényi differential privacy of the sampled Gaussian mechanism
 * (Mironov, Talwar, Zhang 2019, "Rényi Differential Privacy of the Sampled
 * Gaussian Mechanism"), composed over steps and converted to (ε, δ).
 *
 * One step: each record (a client in DP-FedAvg, an example in DP-SGD) is in
 * the batch with probability q, the batch's clipped sum gets N(0, σ² C²) noise
 * (σ the noise multiplier).  Its RDP at order α is log(A_α)/(α − 1) with
 *   A_α = E_{z∼μ0}[(μ(z)/μ0(z))^α],  μ = (1 − q) μ0 + q μ1,
 * μ0 = N(0, σ²), μ1 = N(1, σ²): a finite binomial sum for integer α, an
 * erfc series for fractional α (the paper's Section 3.3).  T steps compose
 * to T times that; ε(δ) = min over the orders of T·RDP(α) + log(1/δ)/(α − 1)
 * (Mironov 2017, Proposition 3).
 *
 * The orders are the grid the TensorFlow Privacy tutorials use:
 * 1.1, 1.2, …, 10.9 and 12, 13, …, 63 (tensorflow/privacy tutorials/README.md
 * quotes ε = 2.92, 9.74 and 1.20 for its three MNIST settings; the unit test
 * tests/test_privacy.c reproduces them).
 */
#ifndef HF_ACCOUNTANT_H
#define HF_ACCOUNTANT_H

#define HF_RDP_NORDERS 151

/* The orders of the grid (HF_RDP_NORDERS entries). */
const double *hf_rdp_orders(void);
/* RDP of one step at order alpha > 1: q in [0, 1], sigma > 0. */
double hf_rdp_sgm(double q, double sigma, double alpha);
/* ε after `steps` steps at δ (0 < δ < 1), minimised over the grid; the order
 * that attains it in *order (may be NULL).  0 steps or q = 0: 0; sigma = 0
 * (no noise) with q > 0: +inf. */
double hf_rdp_epsilon(double q, double sigma, long steps, double delta, double *order);

#endif
