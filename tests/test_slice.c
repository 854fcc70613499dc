/* test_slice.c — width slicing (kernels/slice.c) and masked aggregation
 * (src/masked_agg.c): extract/scatter round trip, coverage counts, FLOP and
 * byte scaling of width-β sub-models, the masked mean per coordinate, and its
 * equality with plain FedAvg aggregation at full width (one rank; rank counts
 * end to end in tests/hetero.sh). */
#include "slice.h"
#include "masked_agg.h"
#include "agg.h"
#include "hf_util.h"
#include "rng.h"
#include "cunit_main.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static hf_model_cfg_t mlp_cfg(void)
{
    hf_model_cfg_t c = {.arch = HF_ARCH_MLP, .in_c = 1, .in_h = 1, .in_w = 784, .n_classes = 10,
                        .nhidden = 2, .hidden = {200, 200}};
    return c;
}

static hf_model_cfg_t cnn_cfg(void)
{
    hf_model_cfg_t c = {.arch = HF_ARCH_CNN, .in_c = 1, .in_h = 28, .in_w = 28, .n_classes = 10,
                        .nhidden = 3, .hidden = {32, 64, 512}};
    return c;
}

/* 3x10x10 inputs: stages at 10x10, 5x5, 3x3, 2x2 */
static hf_model_cfg_t resnet_cfg(int norm)
{
    hf_model_cfg_t c = {.arch = HF_ARCH_RESNET, .in_c = 3, .in_h = 10, .in_w = 10, .n_classes = 10,
                        .nhidden = 4, .hidden = {8, 8, 16, 16}, .depth = 18, .norm = norm};
    return c;
}

static void test_units(void)
{
    CU_ASSERT_EQUAL(hf_slice_units(200, 1.0), 200);
    CU_ASSERT_EQUAL(hf_slice_units(200, 0.5), 100);
    CU_ASSERT_EQUAL(hf_slice_units(200, 0.0625), 13);  /* ⌈12.5⌉ */
    CU_ASSERT_EQUAL(hf_slice_units(200, 0.6), 120);    /* not 121 from 0.6·200 = 120.000…01 */
    CU_ASSERT_EQUAL(hf_slice_units(3, 0.01), 1);
    hf_model_cfg_t full = cnn_cfg(), s;
    CU_ASSERT_EQUAL(hf_slice_cfg(&full, 0.25, &s), 0);
    CU_ASSERT_EQUAL(s.hidden[0], 8);
    CU_ASSERT_EQUAL(s.hidden[1], 16);
    CU_ASSERT_EQUAL(s.hidden[2], 128);
    CU_ASSERT_EQUAL(hf_slice_cfg(&full, 0.0, &s), HF_EINPUT);
    CU_ASSERT_EQUAL(hf_slice_cfg(&full, 1.5, &s), HF_EINPUT);
}

/* For a model: extract then scatter into a zero buffer puts exactly the
 * sub-model's values at exactly the covered coordinates (coverage count 1),
 * and the sub-model forward on the extracted weights equals the full model's
 * forward with every uncovered hidden unit's weights zeroed (the semantics of
 * "the first ⌈β·K⌉ units"). */
static void roundtrip_forward(hf_model_cfg_t fc, double beta, int check_forward)
{
    hf_model_t m, s;
    hf_model_cfg_t sc;
    CU_ASSERT_FATAL(hf_model_init(&m, &fc) == 0);
    CU_ASSERT_FATAL(hf_slice_cfg(&fc, beta, &sc) == 0);
    CU_ASSERT_FATAL(hf_model_init(&s, &sc) == 0);
    CU_ASSERT_FATAL(hf_slice_compatible(&m, &s));
    CU_ASSERT(!hf_slice_compatible(&s, &m) || beta == 1.0);
    float *x = hf_alloc_aligned((size_t)m.nparams * sizeof(float));
    float *xs = hf_alloc_aligned((size_t)s.nparams * sizeof(float));
    float *y = hf_alloc_aligned((size_t)m.nparams * sizeof(float));
    double *cov = hf_calloc((size_t)m.nparams, sizeof(double));
    hf_model_init_params(&m, x, 7);
    hf_slice_extract(&m, x, &s, xs);
    hf_slice_scatter(&m, y, &s, xs);
    hf_slice_cover(&m, &s, 1.0, NULL, cov);
    long ncov = 0, bad = 0;
    for (long j = 0; j < m.nparams; j++) {
        if (cov[j] == 1.0) { ncov++; if (y[j] != x[j]) bad++; }
        else if (cov[j] != 0.0 || y[j] != 0.0f) bad++;
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(ncov, s.nparams);  /* coverage = exactly the sub-model's coordinates */
    if (!check_forward) { free(x); free(xs); free(y); free(cov); return; }
    /* masked forward: full model with the uncovered coordinates zeroed == sub-model */
    int B = 4;
    float *in = hf_calloc((size_t)B * m.in_dim, sizeof(float));
    int yl[4] = {0, 3, 5, 9};
    hf_rng_t r;
    hf_rng_init(&r, 1, HF_RNG_TEST, 0, 0);
    for (long i = 0; i < (long)B * m.in_dim; i++) in[i] = (float)hf_rng_uniform(&r);
    float lf[40], ls[40];
    hf_work_t *wm = hf_work_new(&m, B), *wsb = hf_work_new(&s, B);
    hf_model_norm_stats(&m, wm, y, in, B, 3);    /* static batch norm: statistics of chunks of 3 and 1 */
    hf_model_norm_stats(&s, wsb, xs, in, B, 3);
    hf_model_forward(&m, wm, y, in, yl, B, lf, NULL);
    hf_model_forward(&s, wsb, xs, in, yl, B, ls, NULL);
    double md = 0;
    for (int i = 0; i < B * 10; i++) md = fmax(md, fabs((double)lf[i] - ls[i]));
    CU_ASSERT(md < 1e-4);
    hf_work_free(wm);
    hf_work_free(wsb);
    free(in); free(x); free(xs); free(y); free(cov);
}

static void roundtrip(hf_model_cfg_t fc, double beta) { roundtrip_forward(fc, beta, 1); }

static void test_roundtrip_mlp(void)
{
    double b[] = {1.0, 0.5, 0.25, 0.125, 0.0625, 0.2, 0.6};
    for (int i = 0; i < 7; i++) roundtrip(mlp_cfg(), b[i]);
}

static void test_roundtrip_cnn(void)
{
    double b[] = {1.0, 0.5, 0.0625};
    for (int i = 0; i < 3; i++) roundtrip(cnn_cfg(), b[i]);
}

/* FLOPs and bytes of the width-β 2NN and CNN scale as β² (up to the first and
 * last layers, which keep all inputs / outputs): exact counts from the shapes. */
static void test_flops_bytes(void)
{
    hf_model_cfg_t fc = mlp_cfg(), sc;
    hf_model_t m, s;
    hf_model_init(&m, &fc);
    CU_ASSERT_EQUAL(m.nparams, 199210);
    for (int l = 0; l < 5; l++) {
        double beta = ldexp(1.0, -l);
        hf_slice_cfg(&fc, beta, &sc);
        hf_model_init(&s, &sc);
        long u = hf_slice_units(200, beta);
        long want = u * 785 + u * (u + 1) + 10 * (u + 1);
        CU_ASSERT_EQUAL(s.nparams, want);
        double wf = 3.0 * 2.0 * (784.0 * u + (double)u * u + u * 10.0);
        CU_ASSERT_DOUBLE_EQUAL(hf_model_train_flops(&s), wf, 1e-6 * wf);
        /* between β² and β of the full model (hidden-to-hidden ∝ β², the rest ∝ β) */
        double rf = hf_model_train_flops(&s) / hf_model_train_flops(&m);
        CU_ASSERT(rf <= beta + 1e-12 && rf >= beta * beta * 0.99);
    }
    fc = cnn_cfg();
    hf_model_init(&m, &fc);
    CU_ASSERT_EQUAL(m.nparams, 1663370);
    hf_slice_cfg(&fc, 0.5, &sc);
    hf_model_init(&s, &sc);
    /* conv1 16x1x25+16, conv2 32x16x25+32, fc1 256x(32*49)+256, fc2 10x256+10 */
    CU_ASSERT_EQUAL(s.nparams, 16 * 25 + 16 + 32 * 16 * 25 + 32 + 256 * 32 * 49 + 256 + 10 * 256 + 10);
    double rf = hf_model_train_flops(&s) / hf_model_train_flops(&m);
    CU_ASSERT(rf > 0.25 && rf < 0.30);  /* ≈ β² = 0.25 (conv1 and fc2 ∝ β) */
}

/* Masked aggregation: random updates of clients at widths 1, 1/2, 1/4 with
 * weights; check x_j += Σ w Δ / Σ w over covering clients, uncovered coordinates
 * unchanged, classifier rows only from clients holding the class. */
static void test_masked_mean(void)
{
    hf_model_cfg_t fc = {.arch = HF_ARCH_MLP, .in_c = 1, .in_h = 1, .in_w = 12, .n_classes = 4,
                         .nhidden = 2, .hidden = {16, 8}};
    hf_model_t m, s[3];
    hf_model_init(&m, &fc);
    double bw[3] = {1.0, 0.5, 0.25}, w[3] = {3, 1, 2};
    unsigned char cls[3][4] = {{1, 1, 0, 1}, {1, 1, 1, 1}, {0, 1, 1, 1}};
    long P = m.nparams;
    long toff[HF_MAX_TENSORS + 1];
    for (int i = 0; i < m.ntensors; i++) toff[i] = m.tensors[i].off;
    toff[m.ntensors] = P;
    float *x = hf_calloc((size_t)P, sizeof(float)), *x0 = hf_calloc((size_t)P, sizeof(float));
    float *d = hf_calloc((size_t)P, sizeof(float)), *ds[3];
    double *num = hf_calloc((size_t)P, sizeof(double)), *den = hf_calloc((size_t)P, sizeof(double));
    hf_model_init_params(&m, x, 3);
    memcpy(x0, x, (size_t)P * sizeof(float));
    hf_rng_t r;
    hf_rng_init(&r, 2, HF_RNG_TEST, 0, 0);
    hf_agg_t *agg = hf_agg_new(P, m.ntensors, toff, 1, HF_TOPO_ALLREDUCE, MPI_COMM_SELF);
    hf_masked_t *ma = hf_masked_new(P);
    hf_agg_begin(agg);
    hf_masked_begin(ma);
    /* the last client (width 1/4) is the only one covering nothing extra; a
     * coordinate of width 1 only is covered by client 0 alone */
    for (int k = 0; k < 3; k++) {
        hf_model_cfg_t sc;
        hf_slice_cfg(&fc, bw[k], &sc);
        hf_model_init(&s[k], &sc);
        ds[k] = hf_calloc((size_t)s[k].nparams, sizeof(float));
        for (long j = 0; j < s[k].nparams; j++) ds[k][j] = (float)(0.01 * hf_rng_normal(&r));
        memset(d, 0, (size_t)P * sizeof(float));
        hf_slice_scatter(&m, d, &s[k], ds[k]);
        hf_slice_zero_classes(&m, cls[k], d);
        hf_agg_add(agg, w[k], d);
        hf_masked_cover(ma, &m, &s[k], w[k], cls[k]);
        /* coverage, not from hf_slice_cover: the sub-model's coordinates (a vector of ones
         * scattered into the full layout), minus the classifier rows (the last two tensors,
         * one row per class) of classes the client does not hold */
        float *ones = hf_calloc((size_t)s[k].nparams, sizeof(float)), *c1 = hf_calloc((size_t)P, sizeof(float));
        for (long j = 0; j < s[k].nparams; j++) ones[j] = 1.0f;
        hf_slice_scatter(&m, c1, &s[k], ones);
        for (int t = m.ntensors - 2; t < m.ntensors; t++) {
            long rows = m.tensors[t].shape[0], cols = m.tensors[t].n / rows;
            for (long row = 0; row < rows; row++)
                if (!cls[k][row]) for (long j = 0; j < cols; j++) c1[m.tensors[t].off + row * cols + j] = 0;
        }
        for (long j = 0; j < P; j++) { num[j] += w[k] * d[j] * c1[j]; den[j] += w[k] * c1[j]; }
        free(c1);
        free(ones);
    }
    hf_agg_reduce(agg);
    hf_masked_emit(ma, agg, x, 1);
    long bad = 0, unc = 0, ndist = 0;
    for (long j = 0; j < P; j++) {
        double want = den[j] > 0 ? x0[j] + num[j] / den[j] : x0[j];
        if (den[j] == 0) { unc++; if (x[j] != x0[j]) bad++; }
        else if (fabs(x[j] - want) > 1e-6) bad++;
        if (ma->cov[j] != den[j]) bad++;
    }
    ndist = ma->ndistinct;
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(unc > 0);          /* class 2's row of width-1 units: only client 0, who lacks it */
    CU_ASSERT(ndist >= 3);       /* coverage values 6, 3, 1, ... */
    /* result mode (the update itself, for a server optimizer): the masked mean where
     * covered, 0 where nobody covered (whatever the buffer held) */
    float *upd = hf_calloc((size_t)P, sizeof(float));
    for (long j = 0; j < P; j++) upd[j] = 7.0f;
    hf_masked_emit(ma, agg, upd, 0);
    long bad2 = 0;
    for (long j = 0; j < P; j++)
        if (fabs(upd[j] - (den[j] > 0 ? num[j] / den[j] : 0.0)) > 1e-6) bad2++;
    CU_ASSERT_EQUAL(bad2, 0);
    free(upd);
    hf_agg_free(agg);
    hf_masked_free(ma);
    for (int k = 0; k < 3; k++) free(ds[k]);
    free(x); free(x0); free(d); free(num); free(den);
}

/* Everyone at full width: the masked result is bit for bit agg.c's FedAvg
 * apply(1/Σw) (coverage uniform = Σ w). */
static void test_full_width_is_fedavg(void)
{
    hf_model_cfg_t fc = mlp_cfg();
    hf_model_t m;
    hf_model_init(&m, &fc);
    long P = m.nparams, toff[HF_MAX_TENSORS + 1];
    for (int i = 0; i < m.ntensors; i++) toff[i] = m.tensors[i].off;
    toff[m.ntensors] = P;
    float *xa = hf_alloc_aligned((size_t)P * 4), *xb = hf_alloc_aligned((size_t)P * 4),
          *d = hf_alloc_aligned((size_t)P * 4);
    hf_model_init_params(&m, xa, 9);
    memcpy(xb, xa, (size_t)P * 4);
    hf_agg_t *a1 = hf_agg_new(P, m.ntensors, toff, 1, HF_TOPO_RANK0, MPI_COMM_SELF);
    hf_agg_t *a2 = hf_agg_new(P, m.ntensors, toff, 1, HF_TOPO_RANK0, MPI_COMM_SELF);
    hf_masked_t *ma = hf_masked_new(P);
    hf_agg_begin(a1); hf_agg_begin(a2); hf_masked_begin(ma);
    hf_rng_t r;
    hf_rng_init(&r, 4, HF_RNG_TEST, 0, 0);
    double ws = 0;
    for (int k = 0; k < 5; k++) {
        double w = 100 + 37 * k;
        for (long j = 0; j < P; j++) d[j] = (float)(0.01 * hf_rng_normal(&r));
        hf_agg_add(a1, w, d);
        hf_agg_add(a2, w, d);
        hf_masked_cover(ma, &m, &m, w, NULL);
        ws += w;
    }
    hf_agg_reduce(a1); hf_agg_reduce(a2);
    hf_agg_apply(a1, 1.0 / ws, xa);
    hf_masked_emit(ma, a2, xb, 1);
    CU_ASSERT_EQUAL(memcmp(xa, xb, (size_t)P * 4), 0);
    hf_agg_free(a1); hf_agg_free(a2); hf_masked_free(ma);
    free(xa); free(xb); free(d);
}

/* ResNet: channels of every convolution (the stem, both block convolutions,
 * the 1x1 shortcuts), of every norm and the classifier's inputs.  Without a
 * norm the sub-model is exactly the full model with the dropped channels
 * zeroed (a zero channel stays zero through ReLU and the residual sums).  With
 * group norm only the layout part holds: the sub-model normalises its own
 * channels in gcd(C',4) groups, the full model's groups also count the
 * dropped channels (HeteroFL's sub-models behave the same way).  Static
 * batch norm normalises every channel on its own, so a zeroed channel (zero
 * scale and shift) stays zero: the sub-model is again exactly the zeroed full
 * model. */
static void test_roundtrip_resnet(void)
{
    double b[] = {1.0, 0.5, 0.25, 0.6};
    for (int i = 0; i < 4; i++) {
        roundtrip_forward(resnet_cfg(HF_NORM_NONE), b[i], 1);
        roundtrip_forward(resnet_cfg(HF_NORM_GROUP), b[i], 0);
        roundtrip_forward(resnet_cfg(HF_NORM_STATIC_BN), b[i], 1);
    }
    hf_model_cfg_t sc;
    CU_ASSERT_FATAL(hf_slice_cfg(&(hf_model_cfg_t){.arch = HF_ARCH_RESNET, .in_c = 3, .in_h = 32, .in_w = 32,
                                                   .n_classes = 10, .norm = HF_NORM_GROUP}, 0.25, &sc) == 0);
    CU_ASSERT(sc.hidden[0] == 16 && sc.hidden[1] == 32 && sc.hidden[2] == 64 && sc.hidden[3] == 128);
    CU_ASSERT(sc.depth == 18 && sc.norm == HF_NORM_GROUP && sc.in_c == 3);
}

static const hf_cu_test_t tests_slice[] = {
    {"units and narrow configurations", test_units, NULL},
    {"mlp extract/scatter round trip, coverage, sub-model forward", test_roundtrip_mlp, NULL},
    {"cnn extract/scatter round trip, coverage, sub-model forward", test_roundtrip_cnn, NULL},
    {"resnet extract/scatter round trip, coverage, sub-model forward", test_roundtrip_resnet, NULL},
    {"per-width parameter and FLOP counts", test_flops_bytes, NULL},
    {"masked mean per coordinate, label split, uncovered kept", test_masked_mean, NULL},
    {"full width: masked aggregation == FedAvg bitwise", test_full_width_is_fedavg, NULL},
    {0},
};
static const hf_cu_suite_t suites[] = {
    {"slice", tests_slice, NULL, NULL},
    {0},
};

int main(int argc, char **argv)
{
    return hf_cu_main(&argc, &argv, HF_CU_MPI, suites);
}
