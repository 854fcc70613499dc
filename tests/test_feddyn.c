/*
 * test_feddyn.c — FedDyn's hooks (src/strategies/feddyn.c) against values
 * computed by hand: two clients of unequal size (n = 2 and 6, mean 4),
 * alpha = 0.5, so client 0 regularises with alpha_0 = 0.5·4/2 = 1 and
 * client 1 with alpha_1 = 0.5·4/6 = 1/3.
 */
#include "cunit_main.h"
#include <string.h>
#include "conf.h"
#include "options.h"
#include "strategy.h"

static hf_conf_t conf;
static hf_params_t p;
static long off[3] = {0, 2, 8};

static void setup_strategy(hf_strat_t *s)
{
    memset(&p, 0, sizeof p);
    snprintf(p.strategy, sizeof p.strategy, "feddyn");
    p.lr = 0.1f;
    CU_ASSERT_EQUAL_FATAL(hf_conf_load_string(&conf, "[federation]\nstrategy = feddyn\n[feddyn]\nalpha = 0.5\n",
                                              "t.conf", hf_options_table(), NULL, 0, -1), 0);
    CU_ASSERT_EQUAL_FATAL(hf_strat_init(s, &p, &conf, NULL, 2, 2, off, 0, 2, MPI_COMM_WORLD), 0);
}

static void test_hooks(void)
{
    hf_strat_t s;
    setup_strategy(&s);
    CU_ASSERT_TRUE(s.grad_active);
    const float x0[2] = {1.0f, -2.0f}, w[2] = {3.0f, 0.0f};
    /* no history yet: g + alpha_k (w − x0) */
    float g[2] = {0.5f, 0.25f};
    s.st->grad_hook(&s, 0, w, x0, g);
    CU_ASSERT_DOUBLE_EQUAL(g[0], 0.5 + 1.0 * 2.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(g[1], 0.25 + 1.0 * 2.0, 1e-6);
    float g1[2] = {0.0f, 0.0f};
    s.st->grad_hook(&s, 1, w, x0, g1);
    CU_ASSERT_DOUBLE_EQUAL(g1[0], 2.0 / 3.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(g1[1], 2.0 / 3.0, 1e-6);
    /* client 0 trained x0 → y: upload Δ = y − x0 = (−1, 4), hist_0 = Δ */
    const float y[2] = {0.0f, 2.0f};
    float u[2];
    hf_cplan_t cp = {.client = 0, .kept = 1, .epochs = 1, .steps = 1};
    s.st->client_upload(&s, 0, &cp, y, x0, u);
    CU_ASSERT_DOUBLE_EQUAL(u[0], -1.0, 0);
    CU_ASSERT_DOUBLE_EQUAL(u[1], 4.0, 0);
    /* again from the same x0: g = alpha_0 (w − x0 + hist_0) = (2 − 1, 2 + 4) */
    float g2[2] = {0.0f, 0.0f};
    s.st->grad_hook(&s, 0, w, x0, g2);
    CU_ASSERT_DOUBLE_EQUAL(g2[0], 1.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(g2[1], 6.0, 1e-6);
    /* a second upload accumulates: hist_0 = (−1, 4) + (−1, 4) */
    s.st->client_upload(&s, 0, &cp, y, x0, u);
    float g3[2] = {0.0f, 0.0f};
    s.st->grad_hook(&s, 0, x0, x0, g3);
    CU_ASSERT_DOUBLE_EQUAL(g3[0], -2.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(g3[1], 8.0, 1e-6);
    CU_ASSERT_EQUAL(hf_strat_state_bytes(&s), 2 * 2 * sizeof(float));  /* H + one hist */
    hf_strat_free(&s);
    hf_conf_free(&conf);
}

static void test_server(void)
{
    hf_strat_t s;
    setup_strategy(&s);
    /* unweighted mean of the kept clients */
    hf_cplan_t c[2] = {{.client = 0, .kept = 1}, {.client = 1, .kept = 0}};
    hf_plan_t pl = {.m = 2, .kept = 1, .nsum = 2, .c = c};
    s.st->weights(&s, &pl);
    CU_ASSERT_DOUBLE_EQUAL(c[0].weight, 1.0, 0);
    CU_ASSERT_DOUBLE_EQUAL(c[1].weight, 0.0, 0);
    CU_ASSERT_DOUBLE_EQUAL(pl.divisor, 1.0, 0);
    /* round 1: mean Δ = (2, −4), one of N = 2 kept: H = (1, −2), update = (3, −6) */
    float agg[2] = {2.0f, -4.0f};
    s.st->server_update(&s, &pl, agg, 1);
    CU_ASSERT_DOUBLE_EQUAL(agg[0], 3.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(agg[1], -6.0, 1e-6);
    /* round 2: both kept, mean Δ = (1, 1): H = (1, −2) + (1, 1) = (2, −1), update = (3, 0) */
    c[1].kept = 1;
    pl.kept = 2;
    float agg2[2] = {1.0f, 1.0f};
    s.st->server_update(&s, &pl, agg2, 1);
    CU_ASSERT_DOUBLE_EQUAL(agg2[0], 3.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(agg2[1], 0.0, 1e-6);
    hf_strat_free(&s);
    hf_conf_free(&conf);
}

static const hf_cu_test_t feddyn_tests[] = {
    {"gradient hook and client history, unequal sizes", test_hooks, NULL},
    {"server: count weights, running mean of all updates", test_server, NULL},
    {0},
};
static const hf_cu_suite_t suites[] = {{"feddyn", feddyn_tests, NULL, NULL}, {0}};

int main(int argc, char **argv) { return hf_cu_main(&argc, &argv, HF_CU_MPI, suites); }
