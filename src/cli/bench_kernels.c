/*
 * bench_kernels.c — `hetfl bench kernels`: local-training throughput of the
 * numeric kernels on ONE OpenBLAS thread, against the raw sgemm peak measured
 * in the same run.
 *
 *   1. raw cblas_sgemm 1024x1024x1024, best of a few repetitions = "peak";
 *   2. McMahan 2NN (784-200-200-10) local training (forward + backward + SGD
 *      step) at B = 10, 32, 64 on random data, one "client epoch" = 600
 *      samples, repeated until at least BENCH_SECONDS have passed (after one
 *      warm-up epoch); FLOPs counted as 6 x params x samples.  Both the fused
 *      step (hf_model_train_step) and the two-call path (train_step_grad +
 *      hf_sgd_step) are timed;
 *   3. McMahan CNN at the same batch sizes (120-sample epochs), FLOPs =
 *      hf_model_train_flops() x samples;
 *      and again with model.conv = fast ("fast" rows: conv1 direct, conv2
 *      Winograd where that is built);
 *   4. its two convolution layers alone (hf_conv5_forward_batch + backward,
 *      im2col included, in the sub-batches the CNN uses), FLOPs = 3 x forward
 *      (conv1 has no input gradient: 2 x); conv1 again through the direct
 *      kernel of model.conv = fast ("direct": forward with bias, weight and
 *      bias gradient, a sample at a time; conv_direct.c);
 *   5. LEAF's char-LSTM (embedding 8, 256-256, 80 symbols, 80-token sequences
 *      of uniform ids; 40-sample epochs), FLOPs = hf_model_train_flops() x samples.
 *
 * Times are the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID), not wall
 * time: with one OpenBLAS thread that is the work's own time, and it stays
 * meaningful on a machine shared with other jobs (where wall time also counts
 * the waits for a core).  On an idle machine both agree.
 * Targets: 2NN (fused step) >= 50 % of the peak at B = 10, >= 85 % at B = 64;
 * convolution layers >= 75 %.  The OpenBLAS thread count is restored on return.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "bench.h"
#include "conv_direct.h"
#include "hf_util.h"
#include "nn.h"
#include "rng.h"
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_SECONDS 1.0          /* minimum timed window per row */
#define BENCH_SECONDS_QUICK 0.3
#define BENCH_WARMUP_EPOCHS 1
#define BENCH_GEMM_N 1024
#define BENCH_GEMM_REPS 5
#define BENCH_GEMM_REPS_QUICK 3
#define BENCH_MLP_EPOCH 600        /* samples per client epoch (McMahan: 600 per client) */
#define BENCH_CNN_EPOCH 120
#define BENCH_LSTM_EPOCH 40
#define BENCH_SEED 1

static const int bench_batches[] = {10, 32, 64};

/* CPU seconds of the calling thread (the clock of every row here). */
static double tcpu(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Best-of-reps GFLOP/s of one n^3 sgemm. */
static double bench_sgemm_peak(int n, int reps)
{
    size_t nn = (size_t)n * n;
    float *a = hf_alloc_aligned(nn * sizeof(float)), *b = hf_alloc_aligned(nn * sizeof(float)),
          *c = hf_alloc_aligned(nn * sizeof(float));
    hf_rng_t r;
    hf_rng_init(&r, BENCH_SEED, HF_RNG_TEST, 0, 0);
    for (size_t i = 0; i < nn; i++) {
        a[i] = (float)hf_rng_uniform(&r) - 0.5f;
        b[i] = (float)hf_rng_uniform(&r) - 0.5f;
    }
    double best = 0;
    for (int k = 0; k < reps + 1; k++) {   /* first one is the warm-up */
        double t = tcpu();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        t = tcpu() - t;
        if (k > 0 && t > 0) best = HF_MAX(best, 2.0 * n * n * (double)n / t / 1e9);
    }
    free(a);
    free(b);
    free(c);
    return best;
}

void hf_bench_blas_header(FILE *out)
{
    const char *core = hf_blas_init(), *env = getenv("OPENBLAS_CORETYPE");
    int saved_threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
    double peak = bench_sgemm_peak(BENCH_GEMM_N, BENCH_GEMM_REPS_QUICK);
    openblas_set_num_threads(saved_threads);
    fprintf(out, "OpenBLAS kernels: core %s (OPENBLAS_CORETYPE %s%s); 1-thread sgemm %d^3 %.1f GFLOP/s\n", core,
            env ? "= " : "unset", env ? env : "", BENCH_GEMM_N, peak);
}

typedef struct {
    double samples_per_s;
    double gflops;
} bench_row_t;

/* Local training of model m over `epoch` samples per epoch in batches of B
 * (last batch partial, as a client epoch is); fused: hf_model_train_step,
 * else hf_model_train_step_grad + hf_sgd_step.  flops_per_sample for GFLOP/s. */
static bench_row_t bench_train(const hf_model_t *m, int B, int epoch, int fused, double min_s,
                               double flops_per_sample, const float *x, const int *y)
{
    bench_row_t res = {0, 0};
    hf_work_t *w = hf_work_new(m, B);
    if (!w) return res;
    size_t P = (size_t)m->nparams;
    float *p = hf_alloc_aligned(P * sizeof(float)), *g = hf_alloc_aligned(P * sizeof(float)),
          *mom = hf_alloc_aligned(P * sizeof(float));
    hf_model_init_params(m, p, BENCH_SEED);
    hf_sgd_t o = {0.01f, 0.0f, 0.0f, 0.0f};   /* FedAvg (McMahan): plain SGD */
    long done = 0;
    double t0 = 0;
    for (int e = 0;; e++) {
        if (e == BENCH_WARMUP_EPOCHS) t0 = tcpu();
        for (int s0 = 0; s0 < epoch; s0 += B) {
            int n = HF_MIN(B, epoch - s0);
            const float *xs = x + (size_t)s0 * m->in_dim;
            if (fused) {
                hf_model_train_step(m, w, &o, p, g, mom, xs, y + s0, n);
            } else {
                hf_model_train_step_grad(m, w, p, g, xs, y + s0, n);
                hf_sgd_step(&o, m->nparams, p, g, mom);
            }
        }
        if (e >= BENCH_WARMUP_EPOCHS) {
            done += epoch;
            double t = tcpu() - t0;
            if (t >= min_s) {
                res.samples_per_s = done / t;
                res.gflops = flops_per_sample * done / t / 1e9;
                break;
            }
        }
    }
    free(p);
    free(g);
    free(mom);
    hf_work_free(w);
    return res;
}

/* One conv layer of B samples (cin,h,w) -> cout, forward + backward (input
 * gradient when dx), in sub-batches of hf_conv5_subbatch(). */
static bench_row_t bench_conv(int B, int cin, int h, int w, int cout, int dx, double min_s)
{
    bench_row_t res = {0, 0};
    int sb = HF_MIN(B, hf_conv5_subbatch(cin, h, w, cout));
    long hw = (long)h * w, n0 = (long)cin * hw, K = (long)cin * 25;
    float *in = hf_alloc_aligned((size_t)(B * n0) * sizeof(float)), *din = hf_alloc_aligned((size_t)(B * n0) * sizeof(float));
    float *wt = hf_alloc_aligned((size_t)(cout * K) * sizeof(float)), *dw = hf_alloc_aligned((size_t)(cout * K) * sizeof(float));
    float *bias = hf_alloc_aligned((size_t)cout * sizeof(float)), *db = hf_alloc_aligned((size_t)cout * sizeof(float));
    float *out = hf_alloc_aligned((size_t)(cout * hw * sb) * sizeof(float));
    float *cols = hf_alloc_aligned((size_t)(K * hw * sb) * sizeof(float));
    hf_rng_t r;
    hf_rng_init(&r, BENCH_SEED, HF_RNG_TEST, 1, 0);
    for (long i = 0; i < B * n0; i++) in[i] = (float)hf_rng_uniform(&r);
    for (long i = 0; i < cout * K; i++) wt[i] = (float)hf_rng_uniform(&r) - 0.5f;
    long done = 0;
    double t0 = 0;
    for (int e = 0;; e++) {
        if (e == BENCH_WARMUP_EPOCHS) t0 = tcpu();
        for (int s0 = 0; s0 < B; s0 += sb) {
            int n = HF_MIN(sb, B - s0);
            hf_conv5_forward_batch(in + s0 * n0, n0, n, cin, h, w, wt, bias, cout, out, cols);
            hf_conv5_backward_batch(in + s0 * n0, n0, n, cin, h, w, wt, cout, out, 1.0f / B, s0 ? 1.0f : 0.0f, dw,
                                    db, dx ? din + s0 * n0 : NULL, n0, cols, 1);
        }
        if (e >= BENCH_WARMUP_EPOCHS) {
            done += B;
            double t = tcpu() - t0;
            if (t >= min_s) {
                res.samples_per_s = done / t;
                res.gflops = (dx ? 3.0 : 2.0) * 2.0 * cout * K * hw * done / t / 1e9;
                break;
            }
        }
    }
    free(in); free(din); free(wt); free(dw); free(bias); free(db); free(out); free(cols);
    return res;
}

/* conv1 through the direct kernel (model.conv = fast, conv_direct.c): B
 * samples (1,h,w) -> cout, forward (bias included) + weight and bias gradient,
 * a sample at a time as the CNN runs it; FLOPs = 2 x forward, as for conv1
 * above. */
static bench_row_t bench_conv1_direct(int B, int h, int w, int cout, double min_s)
{
    bench_row_t res = {0, 0};
    long hw = (long)h * w, K = 25, na = hf_conv1_acc_floats(cout, 5);
    float *in = hf_alloc_aligned((size_t)(B * hw) * sizeof(float));
    float *wt = hf_alloc_aligned((size_t)(cout * K) * sizeof(float)), *dw = hf_alloc_aligned((size_t)(cout * K) * sizeof(float));
    float *bias = hf_alloc_aligned((size_t)cout * sizeof(float)), *db = hf_alloc_aligned((size_t)cout * sizeof(float));
    float *out = hf_alloc_aligned((size_t)(cout * hw) * sizeof(float));
    float *scr = hf_alloc_aligned((size_t)hf_conv1_scratch(h, w, 5) * sizeof(float));
    float *acc = hf_alloc_aligned((size_t)na * sizeof(float));
    hf_rng_t r;
    hf_rng_init(&r, BENCH_SEED, HF_RNG_TEST, 1, 0);
    for (long i = 0; i < B * hw; i++) in[i] = (float)hf_rng_uniform(&r);
    for (long i = 0; i < cout * K; i++) wt[i] = (float)hf_rng_uniform(&r) - 0.5f;
    long done = 0;
    double t0 = 0;
    for (int e = 0;; e++) {
        if (e == BENCH_WARMUP_EPOCHS) t0 = tcpu();
        memset(acc, 0, (size_t)na * sizeof(float));
        for (int s = 0; s < B; s++) {
            hf_conv1_forward(in + s * hw, hw, 1, h, w, 5, wt, bias, cout, out, hw, scr);
            hf_conv1_grad_acc(in + s * hw, hw, 1, h, w, 5, cout, out, hw, acc, scr);
        }
        hf_conv1_grad_finish(acc, cout, 5, 1.0f / B, dw, db);
        if (e >= BENCH_WARMUP_EPOCHS) {
            done += B;
            double t = tcpu() - t0;
            if (t >= min_s) {
                res.samples_per_s = done / t;
                res.gflops = 2.0 * 2.0 * cout * K * hw * done / t / 1e9;
                break;
            }
        }
    }
    free(in); free(wt); free(dw); free(bias); free(db); free(out); free(scr); free(acc);
    return res;
}

static void bench_print_row(FILE *out, const char *model, const char *path, int B, bench_row_t r,
                            double peak, double target_pct)
{
    double pct = peak > 0 ? 100.0 * r.gflops / peak : 0;
    fprintf(out, "%-5s %-9s %4d %11.0f %9.1f %7.1f%%", model, path, B, r.samples_per_s, r.gflops, pct);
    if (target_pct > 0)
        fprintf(out, "   >= %2.0f%%   %s\n", target_pct, pct >= target_pct ? "PASS" : "MISS");
    else
        fprintf(out, "   %5s   %s\n", "-", "-");
}

int hf_bench_kernels(FILE *out, int quick)
{
    const char *core = hf_blas_init();
    int saved_threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
    double min_s = quick ? BENCH_SECONDS_QUICK : BENCH_SECONDS;

    fprintf(out, "\n== kernels: 1 OpenBLAS thread, core %s, %s; thread CPU time ==\n", core,
            openblas_get_config());
    if (strcmp(core, "Prescott") == 0)
        fprintf(out, "WARNING: OpenBLAS runs its generic SSE3 (Prescott) kernels; set "
                     "OPENBLAS_CORETYPE to this CPU's type for meaningful figures\n");
    double peak = bench_sgemm_peak(BENCH_GEMM_N, quick ? BENCH_GEMM_REPS_QUICK : BENCH_GEMM_REPS);
    fprintf(out, "raw sgemm %dx%dx%d, best of %d: %.1f GFLOP/s  (= peak below)\n", BENCH_GEMM_N,
            BENCH_GEMM_N, BENCH_GEMM_N, quick ? BENCH_GEMM_REPS_QUICK : BENCH_GEMM_REPS, peak);

    /* random data shared by both models: 28x28 inputs in [0,1), 10 classes */
    int nmax = HF_MAX(BENCH_MLP_EPOCH, BENCH_CNN_EPOCH);
    float *x = hf_alloc_aligned((size_t)nmax * 784 * sizeof(float));
    int *y = hf_alloc_aligned((size_t)nmax * sizeof(int));
    hf_rng_t r;
    hf_rng_init(&r, BENCH_SEED, HF_RNG_DATA, 0, 0);
    for (size_t i = 0; i < (size_t)nmax * 784; i++) x[i] = (float)hf_rng_uniform(&r);
    for (int i = 0; i < nmax; i++) y[i] = (int)hf_rng_below(&r, 10);

    hf_model_cfg_t c2nn = {.arch = HF_ARCH_MLP, .in_c = 1, .in_h = 28, .in_w = 28, .n_classes = 10, .nhidden = 2,
                           .hidden = {200, 200}};
    hf_model_cfg_t ccnn = {.arch = HF_ARCH_CNN, .in_c = 1, .in_h = 28, .in_w = 28, .n_classes = 10};
    hf_model_cfg_t ccnnf = ccnn;
    ccnnf.conv = HF_CONV_FAST;
    hf_model_t mlp, cnn, cnnf;
    if (hf_model_init(&mlp, &c2nn) != HF_OK || hf_model_init(&cnn, &ccnn) != HF_OK ||
        hf_model_init(&cnnf, &ccnnf) != HF_OK) {
        free(x);
        free(y);
        openblas_set_num_threads(saved_threads);
        return hf_errcode();
    }
    /* the 2NN's first layer needs no input gradient: executed work is 6P - 2*784*200 */
    double executed = 6.0 * mlp.nparams - 2.0 * 784 * c2nn.hidden[0];
    fprintf(out, "2NN %ld params, FLOPs counted as 6 x params per sample (nominal; the first layer's\n"
                 "input gradient is never computed, so %.2f x params are executed); CNN %ld params,\n"
                 "%.1f MFLOP/sample (3 x forward); %s window per row after a warm-up epoch, plain SGD\n",
            mlp.nparams, executed / mlp.nparams, cnn.nparams, hf_model_train_flops(&cnn) / 1e6,
            quick ? "0.3 s" : "1 s");
    fprintf(out, "%-5s %-9s %4s %11s %9s %8s   %6s   %s\n", "model", "path", "B", "samples/s", "GFLOP/s",
            "% peak", "target", "result");
    int nb = (int)(sizeof bench_batches / sizeof bench_batches[0]);
    for (int fused = 1; fused >= 0; fused--)
        for (int i = 0; i < nb; i++) {
            int B = bench_batches[i];
            bench_row_t row = bench_train(&mlp, B, BENCH_MLP_EPOCH, fused, min_s, 6.0 * mlp.nparams, x, y);
            double target = !fused ? 0 : B == 10 ? 50 : B == 64 ? 85 : 0;
            bench_print_row(out, "2NN", fused ? "fused" : "grad+sgd", B, row, peak, target);
        }
    for (int i = 0; i < nb; i++) {
        int B = bench_batches[i];
        bench_row_t row = bench_train(&cnn, B, BENCH_CNN_EPOCH, 1, min_s, hf_model_train_flops(&cnn), x, y);
        bench_print_row(out, "CNN", "fused", B, row, peak, 0);
    }
    /* the same with model.conv = fast (conv1: conv_direct.c; conv2: Winograd where built) */
    for (int i = 0; i < nb; i++) {
        int B = bench_batches[i];
        bench_row_t row = bench_train(&cnnf, B, BENCH_CNN_EPOCH, 1, min_s, hf_model_train_flops(&cnnf), x, y);
        bench_print_row(out, "CNN", "fast", B, row, peak, 0);
    }
    /* the CNN's conv layers alone: conv1 1x28x28 -> 32 (no input gradient), conv2 32x14x14 -> 64 */
    for (int i = 0; i < nb; i++) {
        int B = bench_batches[i];
        bench_print_row(out, "conv1", "fwd+bwd", B, bench_conv(B, 1, 28, 28, 32, 0, min_s), peak, 75);
        bench_print_row(out, "conv2", "fwd+bwd", B, bench_conv(B, 32, 14, 14, 64, 1, min_s), peak, 75);
    }
    for (int i = 0; i < nb; i++) {
        int B = bench_batches[i];
        bench_print_row(out, "conv1", "direct", B, bench_conv1_direct(B, 28, 28, 32, min_s), peak, 75);
    }
    /* LEAF's char-LSTM: ids in [0,80) as floats, 80 per sample */
    hf_model_cfg_t clstm = {.arch = HF_ARCH_LSTM, .in_c = 1, .in_h = 1, .in_w = 80, .n_classes = 80, .vocab = 80};
    hf_model_t lstm;
    if (hf_model_init(&lstm, &clstm) == HF_OK) {
        for (size_t i = 0; i < (size_t)BENCH_LSTM_EPOCH * 80; i++) x[i] = (float)hf_rng_below(&r, 80);
        for (int i = 0; i < BENCH_LSTM_EPOCH; i++) y[i] = (int)hf_rng_below(&r, 80);
        fprintf(out, "LSTM %ld params, %.1f MFLOP/sample (3 x forward)\n", lstm.nparams,
                hf_model_train_flops(&lstm) / 1e6);
        for (int i = 0; i < nb; i++) {
            int B = bench_batches[i];
            bench_print_row(out, "LSTM", "step", B,
                            bench_train(&lstm, B, BENCH_LSTM_EPOCH, 1, min_s, hf_model_train_flops(&lstm), x, y),
                            peak, 0);
        }
    }
    free(x);
    free(y);
    openblas_set_num_threads(saved_threads);
    return 0;
}
