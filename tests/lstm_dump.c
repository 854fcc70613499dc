/*
 * lstm_dump.c — test driver of tests/lstm_torch.sh: builds an lstm of the
 * given sizes, initialises it from the seed (then scales every parameter by
 * `scale`), draws B token sequences and labels, and prints, one item a line
 * ("name count values..."): the parameters, x, y, the logits, the mean loss
 * and d(mean loss)/d(params) as hetfl computes them (%.9g: floats exactly).
 *
 * usage: lstm_dump VOCAB EMBED H1 H2 SEQ B SEED SCALE
 */
#include "hf_util.h"
#include "nn.h"
#include "rng.h"
#include <stdio.h>
#include <stdlib.h>

static void put(const char *name, long n, const float *v)
{
    printf("%s %ld", name, n);
    for (long i = 0; i < n; i++) printf(" %.9g", v[i]);
    printf("\n");
}

int main(int argc, char **argv)
{
    if (argc != 9) {
        fprintf(stderr, "usage: lstm_dump VOCAB EMBED H1 H2 SEQ B SEED SCALE\n");
        return 2;
    }
    int V = atoi(argv[1]), E = atoi(argv[2]), H1 = atoi(argv[3]), H2 = atoi(argv[4]), T = atoi(argv[5]),
        B = atoi(argv[6]);
    uint64_t seed = strtoull(argv[7], NULL, 10);
    float scale = strtof(argv[8], NULL);
    hf_model_cfg_t c = {.arch = HF_ARCH_LSTM, .in_c = 1, .in_h = 1, .in_w = T, .n_classes = V,
                        .nhidden = 2, .hidden = {H1, H2}, .vocab = V, .embed = E};
    hf_model_t m;
    if (hf_model_init(&m, &c)) {
        fprintf(stderr, "lstm_dump: %s\n", hf_errmsg());
        return 2;
    }
    float *p = hf_alloc_aligned((size_t)m.nparams * sizeof(float));
    float *g = hf_alloc_aligned((size_t)m.nparams * sizeof(float));
    float *x = hf_calloc((size_t)B * T, sizeof(float)), *yf = hf_calloc((size_t)B, sizeof(float));
    float *z = hf_calloc((size_t)B * V, sizeof(float));
    int *y = hf_calloc((size_t)B, sizeof(int));
    hf_model_init_params(&m, p, seed);
    for (long i = 0; i < m.nparams; i++) p[i] *= scale;
    hf_rng_t r;
    hf_rng_init(&r, seed, HF_RNG_TEST, 7, 0);
    for (long i = 0; i < (long)B * T; i++) x[i] = (float)hf_rng_below(&r, (uint64_t)V);
    for (int i = 0; i < B; i++) yf[i] = (float)(y[i] = (int)hf_rng_below(&r, (uint64_t)V));
    hf_work_t *w = hf_work_new(&m, B);
    hf_model_forward(&m, w, p, x, y, B, z, NULL);
    float loss = hf_model_train_step_grad(&m, w, p, g, x, y, B);
    printf("dims 6 %d %d %d %d %d %d\n", V, E, H1, H2, T, B);
    put("params", m.nparams, p);
    put("x", (long)B * T, x);
    put("y", B, yf);
    put("logits", (long)B * V, z);
    put("loss", 1, &loss);
    put("grad", m.nparams, g);
    hf_work_free(w);
    free(p); free(g); free(x); free(yf); free(z); free(y);
    return 0;
}
