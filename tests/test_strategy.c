/*
 * test_strategy.c — unit tests of the strategy update rules (src/strategies/),
 * server optimizers (server_opt.c), graphs and mixing weights (topology.c) and
 * gossip (decentral.c).  The SCAFFOLD test runs the real hooks on a small
 * quadratic problem with heterogeneous clients, where FedAvg's client drift
 * leaves it at a biased fixed point and SCAFFOLD's control variates remove it.
 */
#include "cunit_main.h"
#include <math.h>
#include <unistd.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>
#include "conf.h"
#include "cstore.h"
#include "decentral.h"
#include "hf_util.h"
#include "options.h"
#include "run.h"
#include "server_opt.h"
#include "strategy.h"
#include "topology.h"

/* ------------------------------------------------ quadratic federation --- */

#define QN 4      /* clients */
#define QP 3      /* parameters */
static const double qh[QN] = {0.2, 1.0, 3.0, 5.0};   /* curvatures */
static const double qb[QN][QP] = {{4, -2, 1}, {-1, 3, 0}, {2, 2, -3}, {0, -4, 5}};

/* Run R rounds of strategy `name` with every client each round, K = 10 local
 * steps of lr 0.1 on f_k(x) = h_k/2 |x − b_k|²; return |x − x*|. */
static double quad_run(const char *name, double mu, int R)
{
    hf_params_t p;
    memset(&p, 0, sizeof p);
    snprintf(p.strategy, sizeof p.strategy, "%s", name);
    p.seed = 1;
    p.local_epochs = 1;
    p.batch_size = 1;
    p.lr = 0.1f;
    p.fedprox_mu = mu;
    p.exact = 1;
    long off[QN + 1];
    for (int k = 0; k <= QN; k++) off[k] = 10L * k;   /* n_k = 10 → K = 10 steps */
    hf_strat_t s;
    CU_ASSERT_EQUAL_FATAL(hf_strat_init(&s, &p, NULL, NULL, QP, QN, off, 0, QN, MPI_COMM_WORLD), 0);
    int sel[QN] = {0, 1, 2, 3};
    hf_cplan_t cps[QN];
    hf_plan_t plan = {.c = cps};
    float x[QP] = {0, 0, 0}, y[QP], g[QP], u[2 * QP], agg[2 * QP];
    for (int t = 0; t < R; t++) {
        hf_strat_plan(&s, t, sel, QN, &plan);
        memset(agg, 0, sizeof agg);
        int f = s.st->upload_factor;
        for (int i = 0; i < QN; i++) {
            int k = sel[i];
            memcpy(y, x, sizeof y);
            for (int st = 0; st < plan.c[i].steps; st++) {
                for (int j = 0; j < QP; j++) g[j] = (float)(qh[k] * (y[j] - qb[k][j]));
                if (s.st->grad_hook) s.st->grad_hook(&s, k, y, x, g);
                for (int j = 0; j < QP; j++) y[j] -= p.lr * g[j];
            }
            if (s.st->client_upload) s.st->client_upload(&s, k, &plan.c[i], y, x, u);
            else for (int j = 0; j < QP; j++) u[j] = y[j] - x[j];
            for (int j = 0; j < f * QP; j++) agg[j] += (float)(plan.c[i].weight * u[j]);
        }
        for (int j = 0; j < f * QP; j++) agg[j] = (float)(agg[j] / plan.divisor);
        if (s.st->server_update) s.st->server_update(&s, &plan, agg, 1);
        for (int j = 0; j < QP; j++) x[j] += agg[j];
    }
    if (!strcmp(name, "scaffold"))  /* c and all N client variates now allocated */
        CU_ASSERT_EQUAL(hf_strat_state_bytes(&s), (uint64_t)(QN + 1) * QP * sizeof(float));
    hf_strat_free(&s);
    double hs = 0, d2 = 0;
    for (int k = 0; k < QN; k++) hs += qh[k];
    for (int j = 0; j < QP; j++) {
        double xs = 0;
        for (int k = 0; k < QN; k++) xs += qh[k] * qb[k][j];
        xs /= hs;
        d2 += (x[j] - xs) * (x[j] - xs);
    }
    return sqrt(d2);
}

static void test_scaffold_beats_fedavg(void)
{
    double avg = quad_run("fedavg", 0, 200), sc = quad_run("scaffold", 0, 200);
    printf("\n    |x - x*| after 200 rounds: fedavg %.3e, scaffold %.3e\n", avg, sc);
    CU_ASSERT(avg > 0.05);          /* client drift: FedAvg stalls at a biased point */
    CU_ASSERT(sc < 1e-3);           /* SCAFFOLD reaches the optimum */
    CU_ASSERT(sc < avg / 100);
}

/* SCAFFOLD's parameters shared by the hand-computed cases below: one local
 * epoch of batch 1 at lr 0.1, exact aggregation, seed 1. */
static void scaffold_hand_params(hf_params_t *p)
{
    memset(p, 0, sizeof *p);
    snprintf(p->strategy, sizeof p->strategy, "scaffold");
    p->seed = 1;
    p->local_epochs = 1;
    p->batch_size = 1;
    p->lr = 0.1f;
    p->exact = 1;
}

/* SCAFFOLD under partial participation (values.sh and the quadratic above select
 * every client, where |S|/N = 1): one of N = 4 clients (n_k = 10, batch 1, so
 * K = 10 steps of lr 0.1, K·lr = 1) takes part.  By hand, from c = c_k = 0 and
 * x = 0, y = (1, -2, 4): c_k⁺ = c_k − c + (x − y)/(K lr) = (−1, 2, −4) = Δc;
 * the server sets c ← c + (|S|/N)·mean Δc = (−0.25, 0.5, −1).  Read back through
 * the gradient hook (g += c − c_k, c_k = 0 for a client never selected). */
static void test_scaffold_partial_participation(void)
{
    hf_params_t p;
    scaffold_hand_params(&p);
    long off[QN + 1];
    for (int k = 0; k <= QN; k++) off[k] = 10L * k;
    hf_strat_t s;
    CU_ASSERT_EQUAL_FATAL(hf_strat_init(&s, &p, NULL, NULL, QP, QN, off, 0, QN, MPI_COMM_WORLD), 0);
    int sel[1] = {2};
    hf_cplan_t cps[QN];
    hf_plan_t plan = {.c = cps};
    hf_strat_plan(&s, 0, sel, 1, &plan);
    CU_ASSERT_EQUAL_FATAL(plan.c[0].steps, 10);
    CU_ASSERT_EQUAL(plan.kept, 1);
    float x[QP] = {0, 0, 0}, y[QP] = {1, -2, 4}, u[2 * QP], g[QP];
    s.st->client_upload(&s, 2, &plan.c[0], y, x, u);
    const float dc[QP] = {-1, 2, -4};
    for (int j = 0; j < QP; j++) {
        CU_ASSERT_DOUBLE_EQUAL(u[j], y[j], 1e-6);        /* Δy = y − x */
        CU_ASSERT_DOUBLE_EQUAL(u[QP + j], dc[j], 1e-6);  /* Δc */
    }
    /* one kept client, unweighted mean: agg = u / 1 */
    CU_ASSERT_DOUBLE_EQUAL(plan.divisor, 1.0, 0);
    s.st->server_update(&s, &plan, u, 1);
    memset(g, 0, sizeof g);
    s.st->grad_hook(&s, 0, x, x, g);                     /* client 0: g = c */
    for (int j = 0; j < QP; j++) CU_ASSERT_DOUBLE_EQUAL(g[j], 0.25 * dc[j], 1e-6);
    memset(g, 0, sizeof g);
    s.st->grad_hook(&s, 2, x, x, g);                     /* client 2: g = c − c_2 = −0.75 Δc */
    for (int j = 0; j < QP; j++) CU_ASSERT_DOUBLE_EQUAL(g[j], -0.75 * dc[j], 1e-6);
    hf_strat_free(&s);
}

/* SCAFFOLD's c_k kept sparsely (hf_cvecs_t): N = 1000 clients on one rank, a run
 * of 3 rounds of m = 2, so at most 6 ever have a c_k: a table of the least power
 * of two of slots >= 12, 16 slots of 16 bytes (not 1000).  By hand (n_k = 10,
 * batch 1: K lr = 1; x = 0 throughout, c = c_k = 0 at first):
 *   round 0, clients 7 and 901 with y = (1, -2, 4) and (2, 0, -2):
 *     Δc_7 = (x - y) - c = (-1, 2, -4) = c_7, Δc_901 = (-2, 0, 2) = c_901;
 *     c ← c + (2/1000)·mean Δc = 0.002·(-1.5, 1, -1) = (-0.003, 0.002, -0.002);
 *   round 1, client 7 again with y = (0.5, 0.5, 0.5): its c_7 carried over,
 *     c_7⁺ = c_7 - c + (x - y) = (-1.497, 1.498, -4.498), the upload's
 *     Δc = (x - y) - c = (-0.497, -0.502, -0.498).
 * Read back through the gradient hook: g = c - c_k (client 500, never selected:
 * g = c), and the state bytes: c and two c_k. */
static void test_scaffold_sparse_twice(void)
{
    enum { N = 1000 };
    static hf_conf_t conf;
    hf_params_t p;
    scaffold_hand_params(&p);
    p.rounds = 3;
    CU_ASSERT_EQUAL_FATAL(hf_conf_load_string(&conf, "[federation]\nstrategy = scaffold\n", "t.conf",
                                              hf_options_table(), NULL, 0, -1), 0);
    static hf_run_t x;
    x.m = 2;
    static long off[N + 1];
    for (int k = 0; k <= N; k++) off[k] = 10L * k;
    hf_strat_t s;
    CU_ASSERT_EQUAL_FATAL(hf_strat_init(&s, &p, &conf, &x, QP, N, off, 0, N, MPI_COMM_WORLD), 0);
    CU_ASSERT_DOUBLE_EQUAL(s.client_bound, 6.0, 0);
    CU_ASSERT_DOUBLE_EQUAL(hf_cvecs_table_bytes(N, s.client_bound), 16.0 * 16.0, 0);
    hf_cplan_t cps[2];
    hf_plan_t plan = {.c = cps};
    int sel0[2] = {7, 901}, sel1[1] = {7};
    float x0[QP] = {0, 0, 0}, y7[QP] = {1, -2, 4}, y901[QP] = {2, 0, -2}, y7b[QP] = {0.5f, 0.5f, 0.5f};
    float u[2][2 * QP], agg[2 * QP], g[QP];
    hf_strat_plan(&s, 0, sel0, 2, &plan);
    CU_ASSERT_EQUAL_FATAL(plan.c[0].steps, 10);
    s.st->client_upload(&s, 7, &plan.c[0], y7, x0, u[0]);
    s.st->client_upload(&s, 901, &plan.c[1], y901, x0, u[1]);
    for (int j = 0; j < 2 * QP; j++) agg[j] = (u[0][j] + u[1][j]) / 2.0f;
    s.st->server_update(&s, &plan, agg, 1);
    const float c[QP] = {-0.003f, 0.002f, -0.002f};
    memset(g, 0, sizeof g);
    s.st->grad_hook(&s, 500, x0, x0, g);
    for (int j = 0; j < QP; j++) CU_ASSERT_DOUBLE_EQUAL(g[j], c[j], 1e-7);
    hf_strat_plan(&s, 1, sel1, 1, &plan);
    s.st->client_upload(&s, 7, &plan.c[0], y7b, x0, u[0]);
    const float dc7[QP] = {-0.497f, -0.502f, -0.498f}, c7[QP] = {-1.497f, 1.498f, -4.498f}, c901[QP] = {-2, 0, 2};
    for (int j = 0; j < QP; j++) CU_ASSERT_DOUBLE_EQUAL(u[0][QP + j], dc7[j], 1e-6);
    memset(g, 0, sizeof g);
    s.st->grad_hook(&s, 7, x0, x0, g);                   /* g = c − c_7 */
    for (int j = 0; j < QP; j++) CU_ASSERT_DOUBLE_EQUAL(g[j], c[j] - c7[j], 1e-6);
    memset(g, 0, sizeof g);
    s.st->grad_hook(&s, 901, x0, x0, g);                 /* g = c − c_901 */
    for (int j = 0; j < QP; j++) CU_ASSERT_DOUBLE_EQUAL(g[j], c[j] - c901[j], 1e-6);
    CU_ASSERT_EQUAL(hf_strat_state_bytes(&s), (uint64_t)3 * QP * sizeof(float));
    hf_strat_free(&s);
    hf_conf_free(&conf);
}

/* The sparse store of per-client vectors against dense arrays: 5000 random
 * lookups and creations among the 700 clients [300, 1000) of a rank, at most 40
 * of them created, with a table of 128 slots (probing, wrapping) and with the
 * direct table (bound = every client); every lookup finds what the dense array
 * of pointers holds (NULL or the same values), a new vector is zero, vectors
 * stay where they are as others are added, and the count is the clients
 * created. */
static void test_cvecs_sparse_vs_dense(void)
{
    enum { FIRST = 300, NH = 700, B = 40, V = 5 };
    for (int mode = 0; mode < 2; mode++) {
        hf_cvecs_t cv;
        hf_cvecs_init(&cv, FIRST, NH, mode ? NH : B, V * sizeof(float));
        CU_ASSERT_EQUAL(cv.map.direct, mode);
        CU_ASSERT_EQUAL(cv.map.cap, mode ? NH : 128);
        float *dense[NH] = {0}, *where[NH] = {0};
        int created = 0, bad = 0;
        uint64_t r = 12345;
        for (int op = 0; op < 5000; op++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            int k = FIRST + (int)((r >> 33) % (created < B ? NH : 60));  /* once full: only old ids */
            int create = (r >> 20) % 3 == 0 && (dense[k - FIRST] || created < B);
            if (created >= B && !dense[k - FIRST]) create = 0;
            float *v = hf_cvecs_get(&cv, k, create);
            float *d = dense[k - FIRST];
            if (create && !d) {  /* new: zero, then both written alike */
                for (int j = 0; j < V; j++) bad |= v[j] != 0.0f;
                d = dense[k - FIRST] = calloc(V, sizeof(float));
                where[k - FIRST] = v;
                created++;
            }
            if (!d) { bad |= v != NULL; continue; }
            bad |= v != where[k - FIRST];
            for (int j = 0; j < V; j++) {
                bad |= v[j] != d[j];
                v[j] = d[j] = (float)(op * V + j);
            }
        }
        CU_ASSERT_FALSE(bad);
        CU_ASSERT_EQUAL(hf_cvecs_count(&cv), created);
        CU_ASSERT(created > 20);
        int k, seen = 0;
        for (long i = hf_cstore_next(&cv.map, 0, &k); i < cv.map.cap; i = hf_cstore_next(&cv.map, i + 1, &k)) {
            seen++;
            CU_ASSERT_PTR_NOT_NULL(dense[k]);  /* the table's ids are k − first */
        }
        CU_ASSERT_EQUAL(seen, created);
        for (int i = 0; i < NH; i++) free(dense[i]);
        hf_cvecs_free(&cv);
    }
}

static void test_fedprox_mu0_is_fedavg(void)
{
    double avg = quad_run("fedavg", 0, 30), p0 = quad_run("fedprox", 0, 30);
    double p1 = quad_run("fedprox", 1.0, 30);
    CU_ASSERT_EQUAL(memcmp(&avg, &p0, sizeof avg), 0);   /* bitwise */
    CU_ASSERT(p1 != avg);
}

static void test_fednova_a(void)
{
    CU_ASSERT_DOUBLE_EQUAL(hf_fednova_a(7, 0, 0), 7.0, 0);
    /* momentum: Σ_{j=1..3} (1 − ρ^j)/(1 − ρ), ρ = 0.5: (0.5 + 0.75 + 0.875)/0.5 */
    CU_ASSERT_DOUBLE_EQUAL(hf_fednova_a(3, 0.5, 0), 4.25, 1e-12);
    /* proximal: Σ_{j<3} (1 − ημ)^j, ημ = 0.1 */
    CU_ASSERT_DOUBLE_EQUAL(hf_fednova_a(3, 0, 0.1), 2.71, 1e-12);
}

/* FedNova weights: equal a_k → exactly n_k; unequal → n_k τ_eff / a_k */
static void test_fednova_weights(void)
{
    hf_params_t p;
    memset(&p, 0, sizeof p);
    snprintf(p.strategy, sizeof p.strategy, "fednova");
    p.local_epochs = 4;
    p.batch_size = 10;
    p.lr = 0.1f;
    p.seed = 5;
    long off[4] = {0, 30, 60, 90};
    hf_strat_t s;
    CU_ASSERT_EQUAL_FATAL(hf_strat_init(&s, &p, NULL, NULL, 5, 3, off, 0, 3, MPI_COMM_WORLD), 0);
    int sel[3] = {0, 1, 2};
    hf_cplan_t c[3];
    hf_plan_t pl = {.c = c};
    hf_strat_plan(&s, 0, sel, 3, &pl);
    for (int i = 0; i < 3; i++) CU_ASSERT_EQUAL(c[i].weight, 30.0);
    CU_ASSERT_EQUAL(pl.divisor, 90.0);
    /* stragglers 2/3 with E = 4: partial epochs, weights n_k τ_eff / a_k */
    p.stragglers = 0.67;
    hf_strat_plan(&s, 3, sel, 3, &pl);
    /* expected values from the plan's inputs (each client's epochs: 3 steps each), not
     * from the a_k the code computed: plain SGD a_k = tau_k, tau_eff = sum (n_k/n) tau_k */
    int nstr = 0, distinct = 0;
    double teff = 0;
    for (int i = 0; i < 3; i++) {
        nstr += c[i].straggler;
        CU_ASSERT(c[i].kept);
        CU_ASSERT(c[i].epochs >= 1 && c[i].epochs <= 4);
        if (c[i].straggler) CU_ASSERT(c[i].epochs <= 3);
        CU_ASSERT_EQUAL(c[i].steps, c[i].epochs * 3);
        CU_ASSERT_EQUAL(c[i].a, 3.0 * c[i].epochs);
        teff += 30.0 / 90.0 * (3.0 * c[i].epochs);
        distinct += i > 0 && c[i].epochs != c[0].epochs;
    }
    CU_ASSERT_EQUAL(nstr, 2);
    CU_ASSERT(distinct > 0);  /* unequal steps: the weights below differ from n_k */
    for (int i = 0; i < 3; i++) CU_ASSERT_DOUBLE_EQUAL(c[i].weight, 30.0 * teff / (3.0 * c[i].epochs), 1e-9);
    hf_strat_free(&s);
    /* momentum rho: a_k = sum_{j=1..tau} (1 - rho^j)/(1 - rho) = (tau - rho (1 - rho^tau)/(1 - rho))/(1 - rho) */
    p.momentum = 0.5f;
    CU_ASSERT_EQUAL_FATAL(hf_strat_init(&s, &p, NULL, NULL, 5, 3, off, 0, 3, MPI_COMM_WORLD), 0);
    hf_strat_plan(&s, 3, sel, 3, &pl);
    teff = 0;
    double ak[3];
    for (int i = 0; i < 3; i++) {
        double tau = 3.0 * c[i].epochs, rho = 0.5;
        ak[i] = (tau - rho * (1 - pow(rho, tau)) / (1 - rho)) / (1 - rho);
        CU_ASSERT_DOUBLE_EQUAL(c[i].a, ak[i], 1e-9);
        teff += 30.0 / 90.0 * ak[i];
    }
    for (int i = 0; i < 3; i++) CU_ASSERT_DOUBLE_EQUAL(c[i].weight, 30.0 * teff / ak[i], 1e-9);
    p.momentum = 0.0f;
    hf_strat_free(&s);
    /* fedavg drops the same stragglers */
    snprintf(p.strategy, sizeof p.strategy, "fedavg");
    CU_ASSERT_EQUAL_FATAL(hf_strat_init(&s, &p, NULL, NULL, 5, 3, off, 0, 3, MPI_COMM_WORLD), 0);
    hf_strat_plan(&s, 3, sel, 3, &pl);
    CU_ASSERT_EQUAL(pl.kept, 1);
    CU_ASSERT_EQUAL(pl.divisor, 30.0);
    hf_strat_free(&s);
}

static void test_registry(void)
{
    int n = 0;
    for (int i = 0; hf_strategies[i]; i++, n++) {
        CU_ASSERT_PTR_NOT_NULL(hf_strategies[i]->weights);
        CU_ASSERT_PTR_EQUAL(hf_strategy_find(hf_strategies[i]->name), hf_strategies[i]);
    }
    CU_ASSERT(n >= 4);
    CU_ASSERT_PTR_NULL(hf_strategy_find("fedsgd"));
}

/* ------------------------------------------------------- server optimizers */

static void test_server_opt(void)
{
    hf_server_opt_t o;
    float x[2] = {1, 1}, d[2] = {0.5f, -2.0f};
    /* Reddi et al. 2021, Algorithm 2: v_{-1} = τ², so v_0 = β2 τ² + (1-β2) Δ² */
    CU_ASSERT_EQUAL(hf_server_opt_init(&o, "adam", 2, 0.1, 0.9, 0.99, 1e-3, 1), 0);
    hf_server_opt_apply(&o, x, d);
    for (int j = 0; j < 2; j++) {
        double m = 0.1 * d[j], v = 0.99 * 1e-6 + 0.01 * d[j] * d[j];
        CU_ASSERT_DOUBLE_EQUAL(x[j], 1 + 0.1 * m / (sqrt(v) + 1e-3), 1e-6);
    }
    hf_server_opt_free(&o);
    /* server.v_init = zero: v_0 = (1-β2) Δ²; a tiny Δ tells the two starts apart */
    float xz[2] = {0, 0}, xt[2] = {0, 0}, dz[2] = {1e-3f, -1e-3f};
    hf_server_opt_t t;
    hf_server_opt_init(&o, "adam", 2, 1.0, 0.9, 0.99, 1e-3, 0);
    hf_server_opt_init(&t, "adam", 2, 1.0, 0.9, 0.99, 1e-3, 1);
    hf_server_opt_apply(&o, xz, dz);
    hf_server_opt_apply(&t, xt, dz);
    /* zero: 1e-4 / (1e-4 + 1e-3) = 1/11; τ²: 1e-4 / (√(0.99e-6 + 1e-8) + 1e-3) = 1/20 */
    CU_ASSERT_DOUBLE_EQUAL(xz[0], 1.0 / 11, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(xt[0], 1e-4 / (sqrt(0.99e-6 + 1e-8) + 1e-3), 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(xt[0], 0.05, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(xz[1], -1.0 / 11, 1e-6);
    hf_server_opt_free(&o);
    hf_server_opt_free(&t);
    float xa[2] = {1, 1};
    CU_ASSERT_EQUAL(hf_server_opt_init(&o, "avgm", 2, 1.0, 0.9, 0.99, 1e-3, 1), 0);
    hf_server_opt_apply(&o, xa, d);
    hf_server_opt_apply(&o, xa, d);  /* m = d, then 1.9 d: x = 1 + 2.9 d */
    CU_ASSERT_DOUBLE_EQUAL(xa[0], 1 + 2.9 * 0.5, 1e-6);
    hf_server_opt_free(&o);
    float xy[2] = {0, 0}, xd[2] = {0, 0};
    hf_server_opt_t a;
    hf_server_opt_init(&o, "yogi", 2, 0.1, 0.9, 0.99, 1e-3, 1);
    hf_server_opt_init(&a, "adagrad", 2, 0.1, 0.9, 0.99, 1e-3, 1);
    hf_server_opt_apply(&o, xy, d);
    hf_server_opt_apply(&a, xd, d);
    CU_ASSERT(xy[0] > 0 && xy[1] < 0 && xd[0] > 0 && xd[1] < 0);
    CU_ASSERT_EQUAL(hf_server_opt_bytes(&o), 16u);
    hf_server_opt_free(&o);
    hf_server_opt_free(&a);
    float xn[1] = {1}, dn[1] = {0.25f};
    hf_server_opt_init(&o, "none", 1, 1.0, 0.9, 0.99, 1e-3, 1);
    hf_server_opt_apply(&o, xn, dn);
    CU_ASSERT_EQUAL(xn[0], 1.25f);
    hf_server_opt_free(&o);
    CU_ASSERT_NOT_EQUAL(hf_server_opt_init(&o, "sgd", 1, 1, 0.9, 0.99, 1e-3, 1), 0);
}

/* ------------------------------------------------------------ topologies -- */

static void test_mixing_doubly_stochastic(void)
{
    const char *kinds[] = {"ring", "torus", "erdos-renyi", "complete", "star"};
    int sizes[] = {1, 2, 3, 5, 9, 12, 16};
    for (size_t ki = 0; ki < 5; ki++)
        for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
            int n = sizes[si];
            hf_graph_t g;
            CU_ASSERT_EQUAL_FATAL(hf_topology_build(&g, kinds[ki], n, 0.5, "", 7), 0);
            double *W = calloc((size_t)n * n, sizeof(double));
            hf_graph_dense(&g, W);
            for (int i = 0; i < n; i++) {
                double rs = 0, cs = 0;
                for (int j = 0; j < n; j++) {
                    CU_ASSERT(W[i * n + j] >= 0);
                    CU_ASSERT_EQUAL(W[i * n + j], W[j * n + i]);   /* symmetric */
                    rs += W[i * n + j];
                    cs += W[j * n + i];
                }
                CU_ASSERT_DOUBLE_EQUAL(rs, 1.0, 1e-12);
                CU_ASSERT_DOUBLE_EQUAL(cs, 1.0, 1e-12);
            }
            if (n > 1) CU_ASSERT(hf_graph_spectral_gap(&g) > 1e-6);   /* connected */
            free(W);
            hf_graph_free(&g);
        }
}

static void test_known_weights_and_gaps(void)
{
    hf_graph_t g;
    hf_topology_build(&g, "ring", 8, 0, "", 1);
    CU_ASSERT_DOUBLE_EQUAL(g.wself[3], 1.0 / 3, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(g.w[g.off[3]], 1.0 / 3, 1e-15);
    /* ring eigenvalues (1 + 2cos(2πk/n))/3 */
    CU_ASSERT_DOUBLE_EQUAL(hf_graph_spectral_gap(&g), 1 - (1 + 2 * cos(2 * M_PI / 8)) / 3, 1e-10);
    hf_graph_free(&g);
    hf_topology_build(&g, "torus", 16, 0, "", 1);
    CU_ASSERT_EQUAL(g.off[1] - g.off[0], 4);
    CU_ASSERT_DOUBLE_EQUAL(g.wself[0], 0.2, 1e-15);
    hf_graph_free(&g);
    hf_topology_build(&g, "complete", 6, 0, "", 1);
    CU_ASSERT_DOUBLE_EQUAL(g.w[0], 1.0 / 6, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(hf_graph_spectral_gap(&g), 1.0, 1e-10);
    hf_graph_free(&g);
    hf_topology_build(&g, "star", 6, 0, "", 1);
    CU_ASSERT_DOUBLE_EQUAL(g.wself[0], 1.0 / 6, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(g.wself[1], 5.0 / 6, 1e-15);
    hf_graph_free(&g);
    /* the path 0 - 1 - 2 (an edge file): W = [2/3 1/3 0; 1/3 1/3 1/3; 0 1/3 2/3] has the
     * simple eigenvalues 1, 2/3 (vector (1, 0, -1)) and 0 (vector (1, -2, 1)): gap 1/3 */
    char path[] = "/tmp/hetfl-path-edges-XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(write(fd, "0 1\n1 2\n", 8) == 8);
    close(fd);
    CU_ASSERT_EQUAL_FATAL(hf_topology_build(&g, "file", 3, 0, path, 1), 0);
    unlink(path);
    CU_ASSERT_DOUBLE_EQUAL(g.wself[0], 2.0 / 3, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(g.wself[1], 1.0 / 3, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(hf_graph_spectral_gap(&g), 1.0 / 3, 1e-10);
    hf_graph_free(&g);
    CU_ASSERT_NOT_EQUAL(hf_topology_build(&g, "file", 4, 0, "/nonexistent/edges", 1), 0);
    CU_ASSERT_NOT_EQUAL(hf_topology_build(&g, "erdos-renyi", 30, 0.0, "", 1), 0);
}

static void test_cycle_time(void)
{
    /* cycles: self 1, self 2, 0→1→0 (3 + 5)/2 = 4 */
    double D[4] = {1, 3, 5, 2};
    CU_ASSERT_DOUBLE_EQUAL(hf_max_cycle_mean(2, D), 4.0, 1e-12);
    /* star vs ring, 8 nodes, zero compute and latency: the hub's link is shared
     * by 7 neighbours, a ring node's by 2 */
    hf_graph_t ring, star;
    hf_topology_build(&ring, "ring", 8, 0, "", 1);
    hf_topology_build(&star, "star", 8, 0, "", 1);
    double tc[8] = {0}, lat[8] = {0}, bw[8] = {1e6, 1e6, 1e6, 1e6, 1e6, 1e6, 1e6, 1e6}, bits[16]; /* per directed edge: ring 16, star 14 */
    for (int q = 0; q < 16; q++) bits[q] = 1e6;
    double cr = hf_graph_cycle_time(&ring, tc, lat, bits, bw, bw);
    double cs = hf_graph_cycle_time(&star, tc, lat, bits, bw, bw);
    CU_ASSERT_DOUBLE_EQUAL(cr, 2.0, 1e-12);   /* 1 Mbit at 1/2 Mbit/s */
    CU_ASSERT_DOUBLE_EQUAL(cs, 7.0, 1e-12);   /* hub → leaf at 1/7 Mbit/s, leaf → hub at 1/7 */
    hf_graph_free(&ring);
    hf_graph_free(&star);
    /* two nodes of different classes: 0→1 at min(up_0, down_1) = 1 Mbit/s, 8 Mbit:
     * 1 + 0.5 + 8 = 9.5; 1→0 at min(4, 2) = 2 Mbit/s, 2 Mbit: 3 + 0.1 + 1 = 4.1;
     * the cycle's mean (9.5 + 4.1)/2 = 6.8 beats the self-loops 1 and 3 */
    hf_graph_t two;
    hf_topology_build(&two, "complete", 2, 0, "", 1);
    double tc2[2] = {1, 3}, lat2[2] = {0.5, 0.1}, bits2[2] = {8e6, 2e6}, up2[2] = {1e6, 4e6}, dn2[2] = {2e6, 1e6};
    CU_ASSERT_DOUBLE_EQUAL(hf_graph_cycle_time(&two, tc2, lat2, bits2, up2, dn2), 6.8, 1e-12);
    hf_graph_free(&two);
}

static void test_gossip_complete_is_average(void)
{
    hf_graph_t g;
    hf_topology_build(&g, "complete", 4, 0, "", 1);
    float x0[2] = {0, 0};
    hf_dec_t d;
    CU_ASSERT_EQUAL_FATAL(hf_dec_init(&d, &g, 2, x0, MPI_COMM_SELF), 0);
    for (int k = 0; k < 4; k++) {
        hf_dec_model(&d, k)[0] = (float)k;
        hf_dec_model(&d, k)[1] = (float)(10 * k);
    }
    float xbar[2] = {1.5f, 15.0f};
    CU_ASSERT_DOUBLE_EQUAL(hf_dec_consensus(&d, xbar), (2.25 + 0.25 + 0.25 + 2.25) * 101 / 4, 1e-9);
    hf_dec_gossip(&d);
    for (int k = 0; k < 4; k++) {
        CU_ASSERT_DOUBLE_EQUAL(hf_dec_model(&d, k)[0], 1.5, 1e-6);
        CU_ASSERT_DOUBLE_EQUAL(hf_dec_model(&d, k)[1], 15.0, 1e-6);
    }
    CU_ASSERT_DOUBLE_EQUAL(hf_dec_consensus(&d, xbar), 0.0, 1e-9);
    hf_dec_free(&d);
    hf_graph_free(&g);
}

static const hf_cu_test_t tests_strategy[] = {
    {"registry", test_registry, NULL},
    {"SCAFFOLD beats FedAvg on a heterogeneous quadratic", test_scaffold_beats_fedavg, NULL},
    {"SCAFFOLD partial participation: c moves by |S|/N of mean dc", test_scaffold_partial_participation, NULL},
    {"SCAFFOLD c_k kept sparsely across two participations", test_scaffold_sparse_twice, NULL},
    {"per-client vectors: sparse store = dense arrays", test_cvecs_sparse_vs_dense, NULL},
    {"FedProx mu=0 is FedAvg bit for bit", test_fedprox_mu0_is_fedavg, NULL},
    {"FedNova a_k", test_fednova_a, NULL},
    {"FedNova weights, stragglers", test_fednova_weights, NULL},
    {"server optimizers", test_server_opt, NULL},
    {"mixing matrices symmetric, doubly stochastic", test_mixing_doubly_stochastic, NULL},
    {"known weights and spectral gaps", test_known_weights_and_gaps, NULL},
    {"max-plus cycle time", test_cycle_time, NULL},
    {"gossip on the complete graph averages", test_gossip_complete_is_average, NULL},
    {0},
};
static const hf_cu_suite_t suites[] = {
    {"strategy", tests_strategy, NULL, NULL},
    {0},
};

int main(int argc, char **argv)
{
    return hf_cu_main(&argc, &argv, HF_CU_MPI, suites);
}
