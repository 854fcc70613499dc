/*
 * test_conf.c — CUnit tests of the suite-file parser (src/conf.c): every
 * value type and its range errors (with the exact FILE:LINE), did-you-mean
 * suggestions, a deliberately messy file (comments, whitespace, tabs, CRLF,
 * BOM), includes (precedence, relative paths, loops, missing files, depth),
 * ${VAR} expansion, [sweep] variants, --set overrides, the dump round trip,
 * bad bytes (NUL, invalid UTF-8, long lines) and hf_edit_distance.
 *
 * It uses its own small options table (not src/options.c), and the suite
 * files in $HETFL_SRCDIR/tests/data/conf (HETFL_SRCDIR defaults to ".").
 * Generated files (NUL bytes, invalid UTF-8, include chains) go to a
 * temporary directory that is removed at the end.
 * Exits nonzero when any assertion failed.
 */
#define _XOPEN_SOURCE 700  /* setenv, mkdtemp, realpath */
#include "conf.h"
#include "hf_util.h"
#include "cunit_main.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#define NR 1, 0  /* no numeric range */

/* The test table: one key of every type, sections interleaved on purpose
 * (run.note comes last: the dump must still put it under [run]). */
static const hf_opt_t T[] = {
    {"run.name", HF_OPT_STRING, "test", NR, NULL, "experiment name"},
    {"run.seed", HF_OPT_INT, "1", 0, 2147483647, NULL, "master seed"},
    {"run.verbose", HF_OPT_BOOL, "no", NR, NULL, "chatty output"},
    {"data.dataset", HF_OPT_CHOICE, "synthetic", NR, "fashion-mnist|synthetic|leaf", "data set"},
    {"data.path", HF_OPT_PATH, "", NR, NULL, "data file"},
    {"data.partition", HF_OPT_CHOICE, "iid", NR, "iid|shards|dirichlet|natural", "partition"},
    {"data.alpha", HF_OPT_FLOAT, "0.5", 1e-6, 1e6, NULL, "Dirichlet alpha"},
    {"model.arch", HF_OPT_CHOICE, "mlp", NR, "logreg|mlp|cnn", "model"},
    {"model.hidden", HF_OPT_INTLIST, "200, 200", 1, 4096, NULL, "hidden layer sizes"},
    {"federation.rounds", HF_OPT_INT, "10", 1, 1000000, NULL, "rounds"},
    {"federation.clients", HF_OPT_INT, "100", 1, 100000, NULL, "clients"},
    {"federation.clients_per_round", HF_OPT_INT, "10", 1, 100000, NULL, "clients per round"},
    {"federation.lr", HF_OPT_FLOAT, "0.010", 0, 10, NULL, "learning rate"},
    {"federation.momentum", HF_OPT_FLOAT, "0", 0, 1, NULL, "momentum"},
    {"aggregation.topology", HF_OPT_CHOICE, "rank0", NR, "rank0|allreduce", "topology"},
    {"aggregation.exact", HF_OPT_BOOL, "yes", NR, NULL, "exact sums"},
    {"energy.budget_j", HF_OPT_FLOAT, "0", NR, NULL, "energy budget (no range)"},
    {"energy.step", HF_OPT_INT, "0", NR, NULL, "an integer without range"},
    {"energy.carbon_file", HF_OPT_PATH, "", NR, NULL, "carbon trace"},
    {"run.note", HF_OPT_STRING, "", NR, NULL, "free text"},
    {NULL, HF_OPT_INT, NULL, 0, 0, NULL, NULL}};
#define NT ((int)(sizeof T / sizeof T[0]) - 1)

static char g_data[4096];  /* $HETFL_SRCDIR/tests/data/conf */
static char g_tmp[256];    /* temporary directory for generated files */
static char g_cwd[4096];

/* Path of a test data file. */
static const char *dpath(const char *name)
{
    static char buf[8][4300];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_data, name);
    return buf[k];
}

/* Path of a generated file in the temporary directory. */
static const char *tpath(const char *name)
{
    static char buf[8][600];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_tmp, name);
    return buf[k];
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* Load text as "t.conf" with no overrides and no variant. */
static int load_s(hf_conf_t *c, const char *text)
{
    return hf_conf_load_string(c, text, "t.conf", T, NULL, 0, -1);
}

static int msg_has(const char *sub)
{
    int ok = strstr(hf_errmsg(), sub) != NULL;
    if (!ok) fprintf(stderr, "\n    expected \"%s\" in: \"%s\"\n", sub, hf_errmsg());
    return ok;
}

static int str_is(const char *got, const char *want)
{
    int ok = got && strcmp(got, want) == 0;
    if (!ok) fprintf(stderr, "\n    expected \"%s\", got \"%s\"\n", want, got ? got : "(null)");
    return ok;
}

/* An assertion on the error message, and on the value of a key. */
#define ASSERT_MSG(sub) CU_ASSERT(msg_has(sub))
#define ASSERT_VAL(c, key, want) CU_ASSERT(str_is(hf_conf_get((c), (key)), (want)))

/* Expect text (as t.conf) to fail with HF_EINPUT and a message containing sub. */
#define ASSERT_FAILS(text, sub)                                  \
    do {                                                         \
        hf_conf_t c_;                                            \
        CU_ASSERT_EQUAL(load_s(&c_, (text)), HF_EINPUT);         \
        ASSERT_MSG(sub);                                         \
        hf_conf_free(&c_);                                       \
    } while (0)

/* ------------------------------------------------------------------------- */

static void test_edit_distance(void)
{
    CU_ASSERT_EQUAL(hf_edit_distance("", ""), 0);
    CU_ASSERT_EQUAL(hf_edit_distance("abc", ""), 3);
    CU_ASSERT_EQUAL(hf_edit_distance("", "ab"), 2);
    CU_ASSERT_EQUAL(hf_edit_distance("abc", "abc"), 0);
    CU_ASSERT_EQUAL(hf_edit_distance("kitten", "sitting"), 3);
    CU_ASSERT_EQUAL(hf_edit_distance("sitting", "kitten"), 3);
    CU_ASSERT_EQUAL(hf_edit_distance("flaw", "lawn"), 2);
    CU_ASSERT_EQUAL(hf_edit_distance("rounds", "round"), 1);
    CU_ASSERT_EQUAL(hf_edit_distance("federation", "fedaration"), 1);
    CU_ASSERT_EQUAL(hf_edit_distance("roudns", "rounds"), 2);  /* a transposition costs 2 */
    CU_ASSERT_EQUAL(hf_edit_distance("a", "b"), 1);
    CU_ASSERT_EQUAL(hf_edit_distance(NULL, "xy"), 2);
    CU_ASSERT_EQUAL(hf_edit_distance("xyz", NULL), 3);
    char a[301], b[301];
    memset(a, 'a', 300);
    memset(b, 'b', 300);
    a[300] = b[300] = 0;
    CU_ASSERT_EQUAL(hf_edit_distance(a, b), 300);
    b[0] = 'a';
    CU_ASSERT_EQUAL(hf_edit_distance(a, b), 299);
}

static void test_defaults(void)
{
    hf_conf_t c;
    CU_ASSERT_EQUAL_FATAL(load_s(&c, ""), 0);
    CU_ASSERT_EQUAL(c.n, NT);
    CU_ASSERT_EQUAL(c.variant, -1);
    CU_ASSERT_EQUAL(c.nsweep, 0);
    CU_ASSERT_EQUAL(hf_conf_nvariants(&c), 1);
    CU_ASSERT(str_is(c.path, "t.conf"));
    for (int i = 0; i < c.n; i++) {
        CU_ASSERT(str_is(c.e[i].key, T[i].key));
        CU_ASSERT(str_is(c.e[i].origin, "default"));
    }
    ASSERT_VAL(&c, "run.name", "test");
    ASSERT_VAL(&c, "federation.lr", "0.01");          /* "0.010" normalised */
    ASSERT_VAL(&c, "model.hidden", "200,200");        /* "200, 200" normalised */
    ASSERT_VAL(&c, "data.path", "");                  /* "" stays empty */
    CU_ASSERT_EQUAL(hf_conf_int(&c, "federation.rounds"), 10);
    CU_ASSERT_EQUAL(hf_conf_bool(&c, "aggregation.exact"), 1);
    CU_ASSERT_EQUAL(hf_conf_bool(&c, "run.verbose"), 0);
    CU_ASSERT_PTR_NULL(hf_conf_get(&c, "federation.nope"));
    CU_ASSERT_PTR_NULL(hf_conf_get(&c, NULL));
    CU_ASSERT_PTR_NULL(hf_conf_origin(&c, "nope"));
    CU_ASSERT_EQUAL(hf_conf_int(&c, "nope"), 0);
    hf_conf_free(&c);
    hf_conf_free(&c);  /* twice is harmless */
    CU_ASSERT_EQUAL(c.n, 0);
    CU_ASSERT_PTR_NULL(c.e);
}

static void test_type_int(void)
{
    hf_conf_t c;
    CU_ASSERT_EQUAL_FATAL(load_s(&c, "[federation]\nrounds = +0050\nclients=-0+7\n"), HF_EINPUT);
    ASSERT_MSG("t.conf:3: key 'federation.clients': expected an integer, got '-0+7'");
    CU_ASSERT_EQUAL_FATAL(load_s(&c, "[federation]\nrounds = +0050\n"), 0);
    ASSERT_VAL(&c, "federation.rounds", "50");
    CU_ASSERT(str_is(hf_conf_origin(&c, "federation.rounds"), "t.conf:2"));
    CU_ASSERT_EQUAL(hf_conf_int(&c, "federation.rounds"), 50);
    hf_conf_free(&c);
    ASSERT_FAILS("[federation]\nrounds = ten\n",
                 "t.conf:2: key 'federation.rounds': expected an integer, got 'ten'");
    ASSERT_FAILS("[federation]\n\nrounds = 0\n",
                 "t.conf:3: key 'federation.rounds': value 0 is out of range [1, 1000000]");
    ASSERT_FAILS("[federation]\nrounds = 1000001\n", "value 1000001 is out of range [1, 1000000]");
    ASSERT_FAILS("[federation]\nrounds = -5\n", "value -5 is out of range [1, 1000000]");
    ASSERT_FAILS("[federation]\nrounds = 5x\n", "expected an integer, got '5x'");
    ASSERT_FAILS("[federation]\nrounds = 1e3\n", "expected an integer, got '1e3'");
    ASSERT_FAILS("[federation]\nrounds = 0x10\n", "expected an integer, got '0x10'");
    ASSERT_FAILS("[federation]\nrounds =\n", "t.conf:2: key 'federation.rounds': expected an integer, got ''");
    ASSERT_FAILS("[federation]\nrounds = 3 4\n", "expected an integer, got '3 4'");
    ASSERT_FAILS("[run]\nseed = 99999999999999999999\n",
                 "value 99999999999999999999 is out of range [0, 2147483647]");
    ASSERT_FAILS("[energy]\nstep = 99999999999999999999\n", "does not fit in a 64-bit integer");
    /* no range: anything that fits */
    CU_ASSERT_EQUAL(load_s(&c, "[energy]\nstep = -9223372036854775808\n"), 0);
    CU_ASSERT_EQUAL(hf_conf_int(&c, "energy.step"), -9223372036854775807L - 1);
    hf_conf_free(&c);
}

static void test_type_float(void)
{
    hf_conf_t c;
    CU_ASSERT_EQUAL_FATAL(load_s(&c, "[federation]\nlr = 1e-3\nmomentum = .5\n[data]\nalpha=2.50\n"), 0);
    ASSERT_VAL(&c, "federation.lr", "0.001");
    CU_ASSERT_DOUBLE_EQUAL(hf_conf_float(&c, "federation.lr"), 0.001, 0.0);
    ASSERT_VAL(&c, "federation.momentum", "0.5");
    ASSERT_VAL(&c, "data.alpha", "2.5");
    hf_conf_free(&c);
    CU_ASSERT_EQUAL_FATAL(load_s(&c, "[federation]\nlr = 0.1\n[energy]\nbudget_j = -1.5e300\n"), 0);
    ASSERT_VAL(&c, "federation.lr", "0.1");
    CU_ASSERT_DOUBLE_EQUAL(hf_conf_float(&c, "energy.budget_j"), -1.5e300, 0.0);
    hf_conf_free(&c);
    ASSERT_FAILS("[federation]\nlr = fast\n", "t.conf:2: key 'federation.lr': expected a number, got 'fast'");
    ASSERT_FAILS("[federation]\nlr = nan\n", "expected a number, got 'nan'");
    ASSERT_FAILS("[energy]\nbudget_j = inf\n", "expected a number, got 'inf'");
    ASSERT_FAILS("[energy]\nbudget_j = -Infinity\n", "expected a number, got '-Infinity'");
    ASSERT_FAILS("[energy]\nbudget_j = 1e999\n", "value 1e999 is not a finite number");
    ASSERT_FAILS("[federation]\nlr = 0.5.1\n", "expected a number, got '0.5.1'");
    ASSERT_FAILS("[federation]\nlr = 1e\n", "expected a number, got '1e'");
    ASSERT_FAILS("[federation]\nlr = 11\n", "t.conf:2: key 'federation.lr': value 11 is out of range [0, 10]");
    ASSERT_FAILS("[federation]\nlr = -0.001\n", "value -0.001 is out of range [0, 10]");
    ASSERT_FAILS("[data]\nalpha = 1e-7\n", "value 1e-7 is out of range [1e-06, 1000000]");
}

static void test_type_bool(void)
{
    static const char *const yes[] = {"yes", "YES", "True", "on", "ON", "1"};
    static const char *const no[] = {"no", "No", "false", "FALSE", "off", "0"};
    for (int i = 0; i < 6; i++) {
        char text[128];
        hf_conf_t c;
        snprintf(text, sizeof text, "[run]\nverbose = %s\n[aggregation]\nexact = %s\n", yes[i], no[i]);
        CU_ASSERT_EQUAL_FATAL(load_s(&c, text), 0);
        ASSERT_VAL(&c, "run.verbose", "yes");
        ASSERT_VAL(&c, "aggregation.exact", "no");
        CU_ASSERT_EQUAL(hf_conf_bool(&c, "run.verbose"), 1);
        CU_ASSERT_EQUAL(hf_conf_bool(&c, "aggregation.exact"), 0);
        hf_conf_free(&c);
    }
    ASSERT_FAILS("[run]\nverbose = maybe\n", "t.conf:2: key 'run.verbose': expected yes/no");
    ASSERT_FAILS("[run]\nverbose = 2\n", "got '2'");
    ASSERT_FAILS("[run]\nverbose = yess\n", "got 'yess'");
}

static void test_type_choice(void)
{
    hf_conf_t c;
    CU_ASSERT_EQUAL_FATAL(load_s(&c, "[data]\npartition = dirichlet\ndataset = fashion-mnist\n"), 0);
    ASSERT_VAL(&c, "data.partition", "dirichlet");
    ASSERT_VAL(&c, "data.dataset", "fashion-mnist");
    hf_conf_free(&c);
    ASSERT_FAILS("[data]\npartition = diriclet\n",
                 "t.conf:2: key 'data.partition': expected one of iid|shards|dirichlet|natural, "
                 "got 'diriclet'; did you mean 'dirichlet'?");
    ASSERT_FAILS("[model]\narch = CNN\n", "got 'CNN'; did you mean 'cnn'?");   /* case-sensitive */
    ASSERT_FAILS("[model]\narch = Mlp\n", "did you mean 'mlp'?");
    ASSERT_FAILS("[data]\ndataset = fashion\n", "did you mean 'fashion-mnist'?");  /* prefix */
    /* nothing close: no suggestion */
    CU_ASSERT_EQUAL(load_s(&c, "[model]\narch = transformer\n"), HF_EINPUT);
    ASSERT_MSG("expected one of logreg|mlp|cnn, got 'transformer'");
    CU_ASSERT_PTR_NULL(strstr(hf_errmsg(), "did you mean"));
    ASSERT_FAILS("[model]\narch =\n", "expected one of logreg|mlp|cnn, got ''");
}

static void test_type_intlist(void)
{
    hf_conf_t c;
    int v[4] = {0, 0, 0, 0};
    CU_ASSERT_EQUAL_FATAL(load_s(&c, "[model]\nhidden =  64, 32 ,16  \n"), 0);
    ASSERT_VAL(&c, "model.hidden", "64,32,16");
    CU_ASSERT_EQUAL(hf_conf_intlist(&c, "model.hidden", v, 4), 3);
    CU_ASSERT(v[0] == 64 && v[1] == 32 && v[2] == 16 && v[3] == 0);
    CU_ASSERT_EQUAL(hf_conf_intlist(&c, "model.hidden", v, 2), 2);
    CU_ASSERT_EQUAL(hf_conf_intlist(&c, "model.hidden", NULL, 0), 3);
    CU_ASSERT_EQUAL(hf_conf_intlist(&c, "nope", v, 4), 0);
    hf_conf_free(&c);
    CU_ASSERT_EQUAL_FATAL(load_s(&c, "[model]\nhidden = 4096\n"), 0);
    CU_ASSERT_EQUAL(hf_conf_intlist(&c, "model.hidden", v, 4), 1);
    CU_ASSERT_EQUAL(v[0], 4096);
    hf_conf_free(&c);
    ASSERT_FAILS("[model]\nhidden =\n", "t.conf:2: key 'model.hidden': expected a comma-separated list of integers, got ''");
    ASSERT_FAILS("[model]\nhidden = 1,,2\n", "got '1,,2' (item 2 is '')");
    ASSERT_FAILS("[model]\nhidden = 1,2,\n", "(item 3 is '')");
    ASSERT_FAILS("[model]\nhidden = 8,abc\n", "(item 2 is 'abc')");
    ASSERT_FAILS("[model]\nhidden = 8, 0\n", "t.conf:2: key 'model.hidden': item 2: value 0 is out of range [1, 4096]");
    ASSERT_FAILS("[model]\nhidden = 5000\n", "item 1: value 5000 is out of range [1, 4096]");
}

static void test_type_string_path(void)
{
    hf_conf_t c;
    char want[4400];
    CU_ASSERT_EQUAL_FATAL(hf_conf_load_string(&c,
        "[run]\nname = run#1   # a comment\nnote = x\t y  é\n"
        "[data]\npath = ../in/./data//x.bin\n[energy]\ncarbon_file = /a/./b//c/../d/\n",
        "sub/dir/t.conf", T, NULL, 0, -1), 0);
    ASSERT_VAL(&c, "run.name", "run#1");
    ASSERT_VAL(&c, "run.note", "x\t y  é");
    snprintf(want, sizeof want, "%s/sub/in/data/x.bin", g_cwd);
    ASSERT_VAL(&c, "data.path", want);
    ASSERT_VAL(&c, "energy.carbon_file", "/a/b/d");
    CU_ASSERT(str_is(hf_conf_origin(&c, "data.path"), "sub/dir/t.conf:5"));
    hf_conf_free(&c);
    /* "" stays empty; an absolute root stays "/" */
    CU_ASSERT_EQUAL_FATAL(load_s(&c, "[data]\npath =\n[energy]\ncarbon_file = /..\n"), 0);
    ASSERT_VAL(&c, "data.path", "");
    CU_ASSERT(str_is(hf_conf_origin(&c, "data.path"), "t.conf:2"));
    ASSERT_VAL(&c, "energy.carbon_file", "/");
    hf_conf_free(&c);
    ASSERT_FAILS("[data]\npath = /x/a /.\n", "t.conf:2: key 'data.path': path '/x/a ' ends in whitespace once normalised");
}

static void test_messy(void)
{
    hf_conf_t c;
    char want[4400];
    int rc = hf_conf_load(&c, dpath("messy.conf"), T, NULL, 0, -1);
    if (rc) fprintf(stderr, "\n    %s\n", hf_errmsg());
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    ASSERT_VAL(&c, "run.name", "messy#1");
    ASSERT_VAL(&c, "run.seed", "42");
    ASSERT_VAL(&c, "run.verbose", "yes");
    ASSERT_VAL(&c, "run.note", "a = b = c");
    ASSERT_VAL(&c, "federation.rounds", "7");        /* overrides base.conf's 20 */
    ASSERT_VAL(&c, "federation.lr", "0.001");
    ASSERT_VAL(&c, "federation.clients_per_round", "5");
    ASSERT_VAL(&c, "federation.momentum", "0.5");
    ASSERT_VAL(&c, "federation.clients", "50");       /* from base.conf only */
    ASSERT_VAL(&c, "model.hidden", "512,256,128");
    ASSERT_VAL(&c, "model.arch", "cnn");
    ASSERT_VAL(&c, "aggregation.exact", "no");
    ASSERT_VAL(&c, "aggregation.topology", "allreduce");
    ASSERT_VAL(&c, "data.dataset", "leaf");
    ASSERT_VAL(&c, "data.partition", "natural");
    ASSERT_VAL(&c, "data.alpha", "2.5");              /* last line, no newline */
    CU_ASSERT(strstr(hf_conf_origin(&c, "run.seed"), "messy.conf:10") != NULL);
    CU_ASSERT(strstr(hf_conf_origin(&c, "federation.rounds"), "messy.conf:16") != NULL);
    CU_ASSERT(strstr(hf_conf_origin(&c, "data.alpha"), "messy.conf:33") != NULL);
    CU_ASSERT(strstr(hf_conf_origin(&c, "federation.clients"), "base.conf:4") != NULL);
    CU_ASSERT(str_is(hf_conf_origin(&c, "energy.step"), "default"));
    char *real = realpath(g_data, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(real);
    snprintf(want, sizeof want, "%s/inputs/base.bin", real);
    free(real);
    ASSERT_VAL(&c, "data.path", want);
    hf_conf_free(&c);
}

static void test_crlf_and_whitespace(void)
{
    hf_conf_t c;
    CU_ASSERT_EQUAL_FATAL(load_s(&c, "\xEF\xBB\xBF[federation]\r\nrounds = 12\r\n\r\n  lr=0.2 \t\r\n"
                                     "[run]\r\nname = a b\r\n"), 0);
    ASSERT_VAL(&c, "federation.rounds", "12");
    ASSERT_VAL(&c, "federation.lr", "0.2");
    ASSERT_VAL(&c, "run.name", "a b");
    CU_ASSERT(str_is(hf_conf_origin(&c, "run.name"), "t.conf:6"));
    hf_conf_free(&c);
    /* '#' right after '=' is a comment: empty value */
    CU_ASSERT_EQUAL_FATAL(load_s(&c, "[run]\nnote =# nothing\nname = x#y\n"), 0);
    ASSERT_VAL(&c, "run.note", "");
    ASSERT_VAL(&c, "run.name", "x#y");
    hf_conf_free(&c);
    /* a carriage return inside a line is not a line end */
    ASSERT_FAILS("[run]\nname = a\rb\n", "t.conf:2: key 'run.name': value contains a control character (0x0d)");
}

static void test_sections_and_keys(void)
{
    hf_conf_t c;
    CU_ASSERT_EQUAL(hf_conf_load(&c, dpath("outside.conf"), T, NULL, 0, -1), HF_EINPUT);
    ASSERT_MSG("outside.conf:2: key 'rounds' is outside any [section]");
    ASSERT_MSG("HINT: 'federation.rounds' belongs under [federation]");
    ASSERT_FAILS("seed = 1\n", "t.conf:1: key 'seed' is outside any [section]");
    ASSERT_FAILS("zzz = 1\n", "HINT: put keys under a [section] header");
    ASSERT_FAILS("[federation]\nrounds = 1\n[federaton]\n",
                 "t.conf:3: unknown section '[federaton]'; did you mean '[federation]'?");
    ASSERT_FAILS("[fed]\n", "unknown section '[fed]'; did you mean '[federation]'?");
    ASSERT_FAILS("[swep]\n", "did you mean '[sweep]'?");
    ASSERT_FAILS("[Data]\n", "t.conf:1: invalid section name '[Data]' (use a-z, 0-9, '_', '-'); did you mean '[data]'?");
    ASSERT_FAILS("[xyzzy]\n", "t.conf:1: unknown section '[xyzzy]'");
    ASSERT_FAILS("[]\n", "invalid section name '[]'");
    ASSERT_FAILS("[run\n", "t.conf:1: missing ']' in section header '[run'");
    ASSERT_FAILS("[run] name = x\n", "t.conf:1: unexpected text 'name = x' after section header");
    ASSERT_FAILS("[federation]\nround = 5\n",
                 "t.conf:2: key 'federation.round': unknown key in section [federation]; "
                 "did you mean 'federation.rounds'?");
    ASSERT_FAILS("[federation]\nclient_per_round = 5\n", "did you mean 'federation.clients_per_round'?");
    ASSERT_FAILS("[data]\nrounds = 5\n", "key 'data.rounds': unknown key in section [data]; did you mean 'federation.rounds'?");
    ASSERT_FAILS("[federation]\nrounds_per_client = 5\n", "unknown key in section [federation]");
    CU_ASSERT_PTR_NULL(strstr(hf_errmsg(), "did you mean"));
    ASSERT_FAILS("[federation]\njust some words\n", "t.conf:2: expected 'key = value' or '[section]', got 'just some words'");
    ASSERT_FAILS("[federation]\n = 5\n", "t.conf:2: empty key before '='");
    ASSERT_FAILS("[federation]\nrou nds = 5\n", "t.conf:2: invalid key 'rou nds'");
    /* duplicate key in one file: error naming the first line */
    CU_ASSERT_EQUAL(hf_conf_load(&c, dpath("dup.conf"), T, NULL, 0, -1), HF_EINPUT);
    ASSERT_MSG("dup.conf:7: key 'federation.rounds': set twice in this file (first at line 2)");
    /* a reopened section is fine when keys differ */
    CU_ASSERT_EQUAL(load_s(&c, "[run]\nname = a\n[federation]\nrounds = 2\n[run]\nseed = 3\n"), 0);
    ASSERT_VAL(&c, "run.seed", "3");
    hf_conf_free(&c);
}

/* A PATH value must be absolute, normalised, and end in `suffix`. */
static int path_ok(const char *v, const char *suffix)
{
    size_t lv = v ? strlen(v) : 0, ls = strlen(suffix);
    int ok = v && v[0] == '/' && lv >= ls && strcmp(v + lv - ls, suffix) == 0 &&
             !strstr(v, "/./") && !strstr(v, "/../") && !strstr(v, "//");
    if (!ok) fprintf(stderr, "\n    expected an absolute path ending in \"%s\", got \"%s\"\n", suffix,
                     v ? v : "(null)");
    return ok;
}

static void test_includes(void)
{
    hf_conf_t c;
    int rc = hf_conf_load(&c, dpath("main.conf"), T, NULL, 0, -1);
    if (rc) fprintf(stderr, "\n    %s\n", hf_errmsg());
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    ASSERT_VAL(&c, "federation.rounds", "30");       /* main.conf after base.conf */
    CU_ASSERT(strstr(hf_conf_origin(&c, "federation.rounds"), "main.conf:5") != NULL);
    ASSERT_VAL(&c, "federation.clients", "60");      /* sub/extra.conf after base.conf */
    CU_ASSERT(strstr(hf_conf_origin(&c, "federation.clients"), "sub/extra.conf:7") != NULL);
    ASSERT_VAL(&c, "federation.lr", "0.1");          /* base.conf only */
    CU_ASSERT(strstr(hf_conf_origin(&c, "federation.lr"), "base.conf:5") != NULL);
    ASSERT_VAL(&c, "federation.momentum", "0.9");
    ASSERT_VAL(&c, "data.alpha", "0.25");
    ASSERT_VAL(&c, "data.partition", "shards");      /* after an include inside [data] */
    CU_ASSERT(strstr(hf_conf_origin(&c, "data.partition"), "main.conf:9") != NULL);
    ASSERT_VAL(&c, "model.hidden", "64,32");
    /* relative paths: against the directory of the file that set them */
    CU_ASSERT(path_ok(hf_conf_get(&c, "data.path"), "/tests/data/conf/inputs/extra.bin"));
    CU_ASSERT(path_ok(hf_conf_get(&c, "energy.carbon_file"), "/tests/data/conf/sub/carbon.csv"));
    CU_ASSERT(strstr(hf_conf_origin(&c, "data.path"), "sub/extra.conf:3") != NULL);
    hf_conf_free(&c);

    /* From a string named as a file in the data directory. */
    CU_ASSERT_EQUAL_FATAL(hf_conf_load_string(&c, "include = base.conf\n[federation]\nrounds = 2\n",
                                              dpath("virtual.conf"), T, NULL, 0, -1), 0);
    ASSERT_VAL(&c, "federation.rounds", "2");
    ASSERT_VAL(&c, "federation.clients", "50");
    CU_ASSERT(path_ok(hf_conf_get(&c, "data.path"), "/tests/data/conf/inputs/base.bin"));
    hf_conf_free(&c);
    /* What precedes an include is overridden by it (later wins). */
    CU_ASSERT_EQUAL_FATAL(hf_conf_load_string(&c, "[federation]\nrounds = 99\ninclude = base.conf\n",
                                              dpath("virtual.conf"), T, NULL, 0, -1), 0);
    ASSERT_VAL(&c, "federation.rounds", "20");
    CU_ASSERT(strstr(hf_conf_origin(&c, "federation.rounds"), "base.conf:3") != NULL);
    hf_conf_free(&c);
    /* The include's section does not leak into the includer. */
    CU_ASSERT_EQUAL(hf_conf_load_string(&c, "[model]\ninclude = base.conf\nrounds = 5\n",
                                        dpath("virtual.conf"), T, NULL, 0, -1), HF_EINPUT);
    ASSERT_MSG("virtual.conf:3: key 'model.rounds': unknown key in section [model]");
}

static void test_include_errors(void)
{
    hf_conf_t c;
    CU_ASSERT_EQUAL(hf_conf_load(&c, dpath("loop_a.conf"), T, NULL, 0, -1), HF_EINPUT);
    ASSERT_MSG("loop_b.conf:3: include 'loop_a.conf': include loop (");
    ASSERT_MSG("loop_a.conf -> ");
    ASSERT_MSG("loop_b.conf -> ");
    ASSERT_MSG("loop_a.conf)");
    CU_ASSERT_PTR_NULL(c.e);  /* nothing left behind after an error */
    CU_ASSERT_EQUAL(hf_conf_load(&c, dpath("self_loop.conf"), T, NULL, 0, -1), HF_EINPUT);
    ASSERT_MSG("self_loop.conf:2: include './self_loop.conf': include loop (");
    CU_ASSERT_EQUAL(hf_conf_load(&c, dpath("missing_include.conf"), T, NULL, 0, -1), HF_EINPUT);
    ASSERT_MSG("missing_include.conf:3: include 'does_not_exist.conf': cannot open: No such file or directory");
    CU_ASSERT_EQUAL(hf_conf_load_string(&c, "[run]\ninclude = .\n", dpath("v.conf"), T, NULL, 0, -1),
                    HF_EINPUT);
    ASSERT_MSG("v.conf:2: include '.': not a regular file (it is a directory)");
    ASSERT_FAILS("[run]\ninclude =   # nothing\n", "t.conf:2: include: empty path");
    ASSERT_FAILS("include = ${HF_T_NEVER_SET_1}\n", "t.conf:1: include: environment variable 'HF_T_NEVER_SET_1' is not set");
    CU_ASSERT_EQUAL(hf_conf_load(&c, dpath("bad_range.conf"), T, NULL, 0, -1), HF_EINPUT);
    ASSERT_MSG("bad_range.conf:5: key 'federation.rounds': value 0 is out of range [1, 1000000]");
    /* an error inside an include names the included file */
    CU_ASSERT_EQUAL(hf_conf_load_string(&c, "[run]\n\ninclude = bad_range.conf\n", dpath("v.conf"), T,
                                        NULL, 0, -1), HF_EINPUT);
    ASSERT_MSG("bad_range.conf:5: key 'federation.rounds'");
    CU_ASSERT_PTR_NULL(strstr(hf_errmsg(), "v.conf"));

    /* Depth: c1 -> c2 -> ... -> c17 is 16 levels (allowed), c0 -> ... 17. */
    for (int i = 0; i <= 17; i++) {
        char name[32], text[64];
        snprintf(name, sizeof name, "c%d.conf", i);
        if (i < 17) snprintf(text, sizeof text, "include = c%d.conf\n", i + 1);
        else snprintf(text, sizeof text, "[run]\nseed = 17\n");
        write_file(tpath(name), text, strlen(text));
    }
    int rc = hf_conf_load(&c, tpath("c1.conf"), T, NULL, 0, -1);
    if (rc) fprintf(stderr, "\n    %s\n", hf_errmsg());
    CU_ASSERT_EQUAL(rc, 0);
    ASSERT_VAL(&c, "run.seed", "17");
    hf_conf_free(&c);
    CU_ASSERT_EQUAL(hf_conf_load(&c, tpath("c0.conf"), T, NULL, 0, -1), HF_EINPUT);
    ASSERT_MSG("c16.conf:1: include 'c17.conf': includes nested more than 16 deep");

    /* Total number of included files is bounded (diamonds, not loops). */
    write_file(tpath("leaf.conf"), "# leaf\n", 7);
    size_t n = 1100 * 20 + 1;
    char *text = malloc(n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    text[0] = 0;
    for (int i = 0; i < 1100; i++) strcat(text, "include = leaf.conf\n");
    CU_ASSERT_EQUAL(hf_conf_load_string(&c, text, tpath("many.conf"), T, NULL, 0, -1), HF_EINPUT);
    ASSERT_MSG("many.conf:1025: include 'leaf.conf': more than 1024 files included in total");
    free(text);
}

static void test_env(void)
{
    hf_conf_t c;
    setenv("HF_T_ROUNDS", "77", 1);
    setenv("HF_T_EMPTY", "", 1);
    setenv("HF_T_LIT", "${HF_T_ROUNDS}", 1);
    setenv("HF_T_DIR", "/opt/x/", 1);
    setenv("HF_T_ZERO", "0", 1);
    setenv("HF_T_HASH", "a #b", 1);
    setenv("HF_T_NL", "a\nb", 1);
    setenv("HF_T_INC", "base.conf", 1);
    unsetenv("HF_T_UNSET");
    CU_ASSERT_EQUAL_FATAL(load_s(&c, "[federation]\nrounds = ${HF_T_ROUNDS}\nclients = 1${HF_T_ROUNDS}0\n"
                                     "clients_per_round = ${HF_T_UNSET:- 8 }\n"
                                     "[run]\nseed = ${HF_T_EMPTY:-6}\nname = ${HF_T_LIT}\n"
                                     "note = $$HOME costs $5 ${HF_T_EMPTY}$\n"
                                     "[data]\npath = ${HF_T_DIR}y\n"), 0);
    ASSERT_VAL(&c, "federation.rounds", "77");
    ASSERT_VAL(&c, "federation.clients", "1770");
    ASSERT_VAL(&c, "federation.clients_per_round", "8");
    ASSERT_VAL(&c, "run.seed", "6");                  /* set but empty: the default */
    ASSERT_VAL(&c, "run.name", "${HF_T_ROUNDS}");     /* not expanded twice */
    ASSERT_VAL(&c, "run.note", "$HOME costs $5 $");
    ASSERT_VAL(&c, "data.path", "/opt/x/y");
    hf_conf_free(&c);
    ASSERT_FAILS("[federation]\nrounds = ${HF_T_UNSET}\n",
                 "t.conf:2: key 'federation.rounds': environment variable 'HF_T_UNSET' is not set");
    ASSERT_FAILS("[federation]\nrounds = ${HF_T_ZERO}\n", "t.conf:2: key 'federation.rounds': value 0 is out of range");
    ASSERT_FAILS("[run]\nname = ${HF_T_ROUNDS\n", "t.conf:2: key 'run.name': unterminated '${'");
    ASSERT_FAILS("[run]\nname = ${1A}\n", "invalid variable reference '${1A}'");
    ASSERT_FAILS("[run]\nname = ${}\n", "invalid variable reference '${}'");
    ASSERT_FAILS("[run]\nname = ${A-b}\n", "invalid variable reference '${A-b}'");
    ASSERT_FAILS("[run]\nname = ${HF_T_HASH}\n", "value contains '#' after whitespace");
    ASSERT_FAILS("[run]\nname = ${HF_T_UNSET:-#x}\n", "value contains '#' at its start");
    ASSERT_FAILS("[run]\nname = ${HF_T_NL}\n", "value contains a control character (0x0a)");
    /* a default is expanded itself (issue #21): never the literal "${B}" */
    ASSERT_FAILS("[run]\nname = ${HF_T_UNSET:-${HF_T_UNSET2}}\n",
                 "t.conf:2: key 'run.name': environment variable 'HF_T_UNSET2' is not set");
    ASSERT_FAILS("[run]\nname = ${HF_T_UNSET:-${HF_T_UNSET2:-x}\n", "unterminated '${'");
    CU_ASSERT_EQUAL(hf_conf_load_string(&c, "[run]\nname = ${HF_T_UNSET:-${HF_T_UNSET2:-in}n}er\n", "t.conf",
                                        T, NULL, 0, -1), 0);
    ASSERT_VAL(&c, "run.name", "inner");
    hf_conf_free(&c);
    CU_ASSERT_EQUAL(hf_conf_load_string(&c, "include = ${HF_T_INC}\n", dpath("v.conf"), T, NULL, 0, -1), 0);
    ASSERT_VAL(&c, "federation.clients", "50");
    hf_conf_free(&c);
}

static void test_sweep(void)
{
    static const char *const lr[] = {"0.1", "0.01"};
    static const char *const arch[] = {"mlp", "cnn", "logreg"};
    hf_conf_t c;
    for (int v = 0; v < 6; v++) {
        int rc = hf_conf_load(&c, dpath("sweep.conf"), T, NULL, 0, v);
        if (rc) fprintf(stderr, "\n    %s\n", hf_errmsg());
        CU_ASSERT_EQUAL_FATAL(rc, 0);
        CU_ASSERT_EQUAL(c.variant, v);
        CU_ASSERT_EQUAL(hf_conf_nvariants(&c), 6);
        ASSERT_VAL(&c, "federation.lr", lr[v / 3]);     /* first key varies slowest */
        ASSERT_VAL(&c, "model.arch", arch[v % 3]);
        ASSERT_VAL(&c, "federation.rounds", "3");
        CU_ASSERT(strncmp(hf_conf_origin(&c, "federation.lr"), "sweep ", 6) == 0);
        CU_ASSERT(strstr(hf_conf_origin(&c, "federation.lr"), "sweep.conf:7") != NULL);
        CU_ASSERT(strstr(hf_conf_origin(&c, "model.arch"), "sweep.conf:8") != NULL);
        char desc[128], want[128];
        hf_conf_variant_desc(&c, v, desc, sizeof desc);
        snprintf(want, sizeof want, "federation.lr=%s model.arch=%s", lr[v / 3], arch[v % 3]);
        CU_ASSERT(str_is(desc, want));
        hf_conf_free(&c);
    }
    /* variant -1: the ordinary values */
    CU_ASSERT_EQUAL_FATAL(hf_conf_load(&c, dpath("sweep.conf"), T, NULL, 0, -1), 0);
    CU_ASSERT_EQUAL(c.variant, -1);
    ASSERT_VAL(&c, "federation.lr", "0.05");
    ASSERT_VAL(&c, "model.arch", "mlp");
    CU_ASSERT(strstr(hf_conf_origin(&c, "federation.lr"), "sweep.conf:3") != NULL);
    CU_ASSERT(str_is(hf_conf_origin(&c, "model.arch"), "default"));
    CU_ASSERT_EQUAL(c.nsweep, 2);
    CU_ASSERT(str_is(c.sweep[0].key, "federation.lr"));
    CU_ASSERT_EQUAL(c.sweep[0].nvalues, 2);
    CU_ASSERT(str_is(c.sweep[1].values[2], "logreg"));
    CU_ASSERT(strstr(c.sweep[1].origin, "sweep.conf:8") != NULL);
    char small[10];
    hf_conf_variant_desc(&c, 5, small, sizeof small);
    CU_ASSERT(str_is(small, "federatio"));          /* truncated, terminated */
    hf_conf_variant_desc(&c, 6, small, sizeof small);
    CU_ASSERT(str_is(small, ""));
    hf_conf_free(&c);
    /* out of range */
    CU_ASSERT_EQUAL(hf_conf_load(&c, dpath("sweep.conf"), T, NULL, 0, 6), HF_EINPUT);
    ASSERT_MSG("variant 6 out of range: ");
    ASSERT_MSG("sweep.conf has 6 variants (0..5)");
    CU_ASSERT_EQUAL(hf_conf_load(&c, dpath("sweep.conf"), T, NULL, 0, -2), HF_EINPUT);
    ASSERT_MSG("variant -2 out of range");
    CU_ASSERT_EQUAL(hf_conf_load_string(&c, "", "t.conf", T, NULL, 0, 0), 0);
    CU_ASSERT_EQUAL(c.variant, 0);
    hf_conf_free(&c);
    CU_ASSERT_EQUAL(hf_conf_load_string(&c, "", "t.conf", T, NULL, 0, 1), HF_EINPUT);
    ASSERT_MSG("variant 1 out of range: t.conf has 1 variant (0..0)");
    ASSERT_MSG("HINT: t.conf has no [sweep] section");
    /* values: lists, paths, includes inside [sweep] */
    CU_ASSERT_EQUAL_FATAL(hf_conf_load_string(&c, "[sweep]\nmodel.hidden = 64, 64 | 128\ndata.path = a | /b\n",
                                              "d/t.conf", T, NULL, 0, 0), 0);
    CU_ASSERT_EQUAL(hf_conf_nvariants(&c), 4);
    ASSERT_VAL(&c, "model.hidden", "64,64");
    CU_ASSERT(path_ok(hf_conf_get(&c, "data.path"), "/d/a"));
    hf_conf_free(&c);
    CU_ASSERT_EQUAL_FATAL(hf_conf_load_string(&c, "[sweep]\nmodel.hidden = 64, 64 | 128\ndata.path = a | /b\n",
                                              "d/t.conf", T, NULL, 0, 3), 0);
    ASSERT_VAL(&c, "model.hidden", "128");
    ASSERT_VAL(&c, "data.path", "/b");
    hf_conf_free(&c);
    /* errors */
    ASSERT_FAILS("[sweep]\nfederation.lr = 0.1\nfederation.lr = 0.2\n",
                 "t.conf:3: key 'federation.lr': listed twice in [sweep] (first at t.conf:2)");
    ASSERT_FAILS("[sweep]\nfederation.lr = 0.1 | 20\n", "t.conf:2: key 'federation.lr': value 20 is out of range [0, 10]");
    ASSERT_FAILS("[sweep]\n\nfederation.round = 1|2\n",
                 "t.conf:3: key 'federation.round': unknown key in [sweep] (use section.key); did you mean 'federation.rounds'?");
    ASSERT_FAILS("[sweep]\nrounds = 1|2\n", "did you mean 'federation.rounds'?");
    ASSERT_FAILS("[sweep]\nmodel.arch = mlp || cnn\n", "t.conf:2: key 'model.arch': empty value in sweep list");
    ASSERT_FAILS("[sweep]\nmodel.arch =\n", "key 'model.arch': empty sweep list");
    ASSERT_FAILS("[sweep]\nmodel.arch = cnn | mpl\n", "did you mean 'mlp'?");
    ASSERT_FAILS("[sweep]\nfederation.rounds = 1|2|3|4|5|6|7|8|9|10\nfederation.clients = 1|2|3|4|5|6|7|8|9|10\n"
                 "federation.clients_per_round = 1|2|3|4|5|6|7|8|9|10\nrun.seed = 1|2|3|4|5|6|7|8|9|10\n"
                 "energy.step = 1|2|3|4|5|6|7|8|9|10\nenergy.budget_j = 1|2|3|4|5|6|7|8|9|10\n"
                 "federation.lr = 1|2|3|4|5|6|7|8|9|10\n",
                 "t.conf:8: key 'federation.lr': the sweep has more than 1000000 variants");
}

static void test_overrides(void)
{
    hf_conf_t c;
    char *ov[] = {"federation.rounds=99", "  run.name =  from set  ", "federation.rounds=100",
                  "data.path=rel/./x", "run.note=$$x"};
    CU_ASSERT_EQUAL_FATAL(hf_conf_load(&c, dpath("main.conf"), T, ov, 5, -1), 0);
    ASSERT_VAL(&c, "federation.rounds", "100");      /* the later --set wins */
    CU_ASSERT(str_is(hf_conf_origin(&c, "federation.rounds"), "--set"));
    ASSERT_VAL(&c, "run.name", "from set");
    ASSERT_VAL(&c, "run.note", "$x");
    char want[4400];
    snprintf(want, sizeof want, "%s/rel/x", g_cwd);
    ASSERT_VAL(&c, "data.path", want);              /* relative to the cwd */
    ASSERT_VAL(&c, "federation.clients", "60");     /* untouched */
    hf_conf_free(&c);
    /* --set beats the sweep variant */
    char *ov2[] = {"model.arch=logreg"};
    CU_ASSERT_EQUAL_FATAL(hf_conf_load(&c, dpath("sweep.conf"), T, ov2, 1, 1), 0);
    ASSERT_VAL(&c, "model.arch", "logreg");
    ASSERT_VAL(&c, "federation.lr", "0.1");
    hf_conf_free(&c);
    /* errors */
    char *bad1[] = {"federation.rounds"};
    CU_ASSERT_EQUAL(hf_conf_load_string(&c, "", "t.conf", T, bad1, 1, -1), HF_EINPUT);
    ASSERT_MSG("--set 'federation.rounds': expected section.key=value");
    char *bad2[] = {"federation.round=5"};
    CU_ASSERT_EQUAL(hf_conf_load_string(&c, "", "t.conf", T, bad2, 1, -1), HF_EINPUT);
    ASSERT_MSG("--set 'federation.round=5': unknown key 'federation.round'; did you mean 'federation.rounds'?");
    char *bad3[] = {"federation.rounds=ten"};
    CU_ASSERT_EQUAL(hf_conf_load_string(&c, "", "t.conf", T, bad3, 1, -1), HF_EINPUT);
    ASSERT_MSG("--set 'federation.rounds=ten': key 'federation.rounds': expected an integer, got 'ten'");
    char *bad4[] = {"clients=5"};
    CU_ASSERT_EQUAL(hf_conf_load_string(&c, "", "t.conf", T, bad4, 1, -1), HF_EINPUT);
    ASSERT_MSG("unknown key 'clients'; did you mean 'federation.clients'?");
    char *bad5[] = {"run.name=a #b"};
    CU_ASSERT_EQUAL(hf_conf_load_string(&c, "", "t.conf", T, bad5, 1, -1), HF_EINPUT);
    ASSERT_MSG("--set 'run.name=a #b': key 'run.name': value contains '#' after whitespace");
    char *bad6[] = {"federation.rounds=1", NULL};
    CU_ASSERT_EQUAL(hf_conf_load_string(&c, "", "t.conf", T, bad6, 2, -1), HF_EINPUT);
    ASSERT_MSG("--set: missing argument");
    char *bad7[] = {"run.name=caf\xe9"};
    CU_ASSERT_EQUAL(hf_conf_load_string(&c, "", "t.conf", T, bad7, 1, -1), HF_EINPUT);
    ASSERT_MSG("not valid UTF-8");
}

static void test_bad_bytes(void)
{
    hf_conf_t c;
    static const char nul[] = "[run]\nna\0me = x\n";
    CU_ASSERT_EQUAL(hf_conf_load_mem(&c, nul, sizeof nul - 1, "t.conf", T, NULL, 0, -1), HF_EINPUT);
    ASSERT_MSG("t.conf:2: NUL byte at column 3");
    ASSERT_FAILS("[run]\nname = \xff\n", "t.conf:2: invalid UTF-8 (byte 0xff at column 8)");
    ASSERT_FAILS("# caf\xc3\n", "t.conf:1: invalid UTF-8 (byte 0xc3 at column 6)");   /* truncated */
    ASSERT_FAILS("[run]\nname = \xc0\xaf\n", "invalid UTF-8 (byte 0xc0");             /* overlong */
    ASSERT_FAILS("[run]\nname = \xed\xa0\x80\n", "invalid UTF-8 (byte 0xed");         /* surrogate */
    ASSERT_FAILS("[run]\nname = \xf4\x90\x80\x80\n", "invalid UTF-8 (byte 0xf4");     /* > U+10FFFF */
    CU_ASSERT_EQUAL_FATAL(load_s(&c, "[run]\nname = \xe2\x82\xac \xf0\x9f\x98\x80 \xc3\xa9\n"), 0);
    ASSERT_VAL(&c, "run.name", "\xe2\x82\xac \xf0\x9f\x98\x80 \xc3\xa9");
    hf_conf_free(&c);
    /* the same on disk, so the message names the file */
    write_file(tpath("nul.conf"), "[run]\n\nname\0 = x\n", 17);
    CU_ASSERT_EQUAL(hf_conf_load(&c, tpath("nul.conf"), T, NULL, 0, -1), HF_EINPUT);
    ASSERT_MSG("nul.conf:3: NUL byte at column 5");
    write_file(tpath("latin1.conf"), "[run]\nname = caf\xe9\n", 18);
    CU_ASSERT_EQUAL(hf_conf_load(&c, tpath("latin1.conf"), T, NULL, 0, -1), HF_EINPUT);
    ASSERT_MSG("latin1.conf:2: invalid UTF-8 (byte 0xe9 at column 11)");

    /* line length: 65536 bytes (+ CRLF) is fine, 65537 is not */
    size_t n = 70000;
    char *big = malloc(n + 64);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    strcpy(big, "[run]\nnote = ");
    size_t h = strlen(big);
    memset(big + h, 'x', 65536 - 7);
    strcpy(big + h + 65536 - 7, "\r\n");
    CU_ASSERT_EQUAL(load_s(&c, big), 0);
    CU_ASSERT_EQUAL(strlen(hf_conf_get(&c, "run.note")), 65536 - 7);
    hf_conf_free(&c);
    strcpy(big + h + 65536 - 7, "x\n");
    CU_ASSERT_EQUAL(load_s(&c, big), HF_EINPUT);
    ASSERT_MSG("t.conf:2: line is longer than 65536 bytes");
    memset(big, '#', n);
    big[n] = 0;
    CU_ASSERT_EQUAL(load_s(&c, big), HF_EINPUT);
    ASSERT_MSG("t.conf:1: line is longer than 65536 bytes");
    free(big);

    /* size limit: 16 MiB */
    size_t huge = (16u << 20) + 1;
    char *hb = calloc(huge, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(hb);
    CU_ASSERT_EQUAL(hf_conf_load_mem(&c, hb, huge, "huge.conf", T, NULL, 0, -1), HF_EINPUT);
    ASSERT_MSG("huge.conf: file is larger than 16 MiB");
    free(hb);
    FILE *f = fopen(tpath("huge.conf"), "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fseek(f, 17L << 20, SEEK_SET), 0);
    fputc('\n', f);
    fclose(f);
    CU_ASSERT_EQUAL(hf_conf_load(&c, tpath("huge.conf"), T, NULL, 0, -1), HF_EINPUT);
    ASSERT_MSG("huge.conf: file is larger than 16 MiB");
    /* unreadable things */
    CU_ASSERT_EQUAL(hf_conf_load(&c, "no/such/suite.conf", T, NULL, 0, -1), HF_EINPUT);
    ASSERT_MSG("no/such/suite.conf: cannot open: No such file or directory");
    CU_ASSERT_EQUAL(hf_conf_load(&c, g_data, T, NULL, 0, -1), HF_EINPUT);
    ASSERT_MSG("conf: not a regular file (it is a directory)");
    /* special files are refused without being read: a FIFO with no writer
     * would block the open, /dev/zero would never end (hf_input_open) */
    CU_ASSERT_EQUAL_FATAL(mkfifo(tpath("fifo.conf"), 0600), 0);
    CU_ASSERT_EQUAL(hf_conf_load(&c, tpath("fifo.conf"), T, NULL, 0, -1), HF_EINPUT);
    ASSERT_MSG("fifo.conf: not a regular file (it is a FIFO)");
    CU_ASSERT_EQUAL(hf_conf_load(&c, "/dev/zero", T, NULL, 0, -1), HF_EINPUT);
    ASSERT_MSG("/dev/zero: not a regular file (it is a character device)");
    CU_ASSERT_EQUAL(hf_input_check(tpath("fifo.conf"), 0), HF_EINPUT);
    CU_ASSERT_EQUAL(hf_input_check("/dev/null", 0), HF_EINPUT);
    CU_ASSERT_EQUAL(hf_input_check(tpath("huge.conf"), 1u << 20), HF_EINPUT);
    ASSERT_MSG("huge.conf: file is larger than 1 MiB");
    CU_ASSERT_EQUAL(hf_input_check(tpath("huge.conf"), 0), 0);
    unlink(tpath("fifo.conf"));
    CU_ASSERT_EQUAL(hf_conf_load(&c, NULL, T, NULL, 0, -1), HF_EINPUT);
    ASSERT_MSG("no suite file given");
    CU_ASSERT_EQUAL(hf_conf_load_string(&c, NULL, NULL, T, NULL, 0, -1), 0);  /* no text = empty */
    CU_ASSERT(str_is(c.path, "<string>"));
    hf_conf_free(&c);
}

/* Load, dump (with and without origins), load the dumps: same values; and the
 * dump of the reloaded dump is identical (a fixed point). */
static void roundtrip(hf_conf_t *c, const char *tag)
{
    char *d1 = hf_conf_dump(c, 1), *d0 = hf_conf_dump(c, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d0);
    char name[64];
    snprintf(name, sizeof name, "dump_%s.conf", tag);
    write_file(tpath(name), d1, strlen(d1));
    hf_conf_t r1, r0;
    int rc1 = hf_conf_load(&r1, tpath(name), T, NULL, 0, -1);
    int rc0 = hf_conf_load_string(&r0, d0, "dump0.conf", T, NULL, 0, -1);
    if (rc1 || rc0) fprintf(stderr, "\n    %s: %s\n%s", tag, hf_errmsg(), d1);
    CU_ASSERT_EQUAL_FATAL(rc1, 0);
    CU_ASSERT_EQUAL_FATAL(rc0, 0);
    int same1 = 1, same0 = 1;
    for (int i = 0; i < c->n; i++) {
        if (strcmp(c->e[i].value, r1.e[i].value) != 0) {
            fprintf(stderr, "\n    %s: %s: '%s' became '%s'\n", tag, c->e[i].key, c->e[i].value, r1.e[i].value);
            same1 = 0;
        }
        if (strcmp(c->e[i].value, r0.e[i].value) != 0) same0 = 0;
    }
    CU_ASSERT(same1);
    CU_ASSERT(same0);
    char *again = hf_conf_dump(&r0, 0);
    CU_ASSERT(str_is(again, d0));
    free(again);
    free(d1);
    free(d0);
    hf_conf_free(&r1);
    hf_conf_free(&r0);
}

static void test_dump(void)
{
    hf_conf_t c;
    setenv("HF_T_DOLLAR", "x${y}$$z$", 1);
    char *ov[] = {"run.note=${HF_T_DOLLAR}", "federation.clients=7", "run.name=tab\there#1"};
    int rc = hf_conf_load(&c, dpath("sweep.conf"), T, ov, 3, 4);
    if (rc) fprintf(stderr, "\n    %s\n", hf_errmsg());
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    ASSERT_VAL(&c, "run.note", "x${y}$$z$");
    char *d = hf_conf_dump(&c, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    CU_ASSERT(strstr(d, "# resolved configuration of ") == d);
    CU_ASSERT(strstr(d, "\n# variant 4 of 6: federation.lr=0.01 model.arch=cnn\n") != NULL);
    CU_ASSERT(strstr(d, "\nnote    = x$${y}$$$z$ ") != NULL);         /* '$' escaped */
    CU_ASSERT(strstr(d, "\nrounds            = 3 ") != NULL);       /* aligned on clients_per_round */
    CU_ASSERT(strstr(d, "\nclients_per_round = 10 ") != NULL);
    CU_ASSERT(strstr(d, "# --set\n") != NULL);
    CU_ASSERT(strstr(d, "# default\n") != NULL);
    CU_ASSERT(strstr(d, "# sweep ") != NULL);
    const char *secs[] = {"\n[run]\n", "\n[data]\n", "\n[model]\n", "\n[federation]\n", "\n[aggregation]\n", "\n[energy]\n"};
    const char *prev = d;
    for (int i = 0; i < 6; i++) {
        const char *at = strstr(d, secs[i]);
        CU_ASSERT(at != NULL && at > prev);
        if (at) prev = at;
    }
    const char *note = strstr(d, "\nnote ");
    CU_ASSERT(note != NULL && note < strstr(d, "\n[data]\n"));   /* grouped under [run] */
    free(d);
    d = hf_conf_dump(&c, 0);
    CU_ASSERT(strstr(d, "# ") == NULL);                          /* no comments at all */
    CU_ASSERT(strstr(d, "[run]\nname    = tab\there#1\nseed    = 1\n") == d);
    CU_ASSERT(strstr(d, "\nnote    = x$${y}$$$z$\n") != NULL);
    CU_ASSERT(strstr(d, "\npath      =\n") != NULL);                /* empty value, no trailing blank */
    free(d);
    roundtrip(&c, "sweep");
    hf_conf_free(&c);

    CU_ASSERT_EQUAL_FATAL(hf_conf_load(&c, dpath("messy.conf"), T, NULL, 0, -1), 0);
    roundtrip(&c, "messy");
    hf_conf_free(&c);
    CU_ASSERT_EQUAL_FATAL(hf_conf_load(&c, dpath("main.conf"), T, NULL, 0, -1), 0);
    roundtrip(&c, "main");
    hf_conf_free(&c);
    CU_ASSERT_EQUAL_FATAL(load_s(&c, ""), 0);
    roundtrip(&c, "defaults");
    hf_conf_free(&c);
    d = hf_conf_dump(NULL, 1);
    CU_ASSERT(str_is(d, ""));
    free(d);
}

static void test_table_errors(void)
{
    hf_conf_t c;
    const hf_opt_t t1[] = {{"rounds", HF_OPT_INT, "1", NR, NULL, ""}, {NULL, HF_OPT_INT, NULL, 0, 0, NULL, NULL}};
    CU_ASSERT_EQUAL(hf_conf_load_string(&c, "", "t.conf", t1, NULL, 0, -1), HF_ERUNTIME);
    ASSERT_MSG("options table: invalid key 'rounds' (expected section.key)");
    const hf_opt_t t2[] = {{"a.b", HF_OPT_INT, "x", NR, NULL, ""}, {NULL, HF_OPT_INT, NULL, 0, 0, NULL, NULL}};
    CU_ASSERT_EQUAL(hf_conf_load_string(&c, "", "t.conf", t2, NULL, 0, -1), HF_ERUNTIME);
    ASSERT_MSG("options table: key 'a.b': default 'x': expected an integer, got 'x'");
    const hf_opt_t t3[] = {{"a.b", HF_OPT_INT, "1", NR, NULL, ""}, {"a.b", HF_OPT_INT, "1", NR, NULL, ""},
                           {NULL, HF_OPT_INT, NULL, 0, 0, NULL, NULL}};
    CU_ASSERT_EQUAL(hf_conf_load_string(&c, "", "t.conf", t3, NULL, 0, -1), HF_ERUNTIME);
    ASSERT_MSG("options table: key 'a.b' is listed twice");
    const hf_opt_t t4[] = {{"a.c", HF_OPT_CHOICE, "x", NR, NULL, ""}, {NULL, HF_OPT_INT, NULL, 0, 0, NULL, NULL}};
    CU_ASSERT_EQUAL(hf_conf_load_string(&c, "", "t.conf", t4, NULL, 0, -1), HF_ERUNTIME);
    ASSERT_MSG("choice without choices");
    const hf_opt_t t5[] = {{"sweep.x", HF_OPT_INT, "1", NR, NULL, ""}, {NULL, HF_OPT_INT, NULL, 0, 0, NULL, NULL}};
    CU_ASSERT_EQUAL(hf_conf_load_string(&c, "", "t.conf", t5, NULL, 0, -1), HF_ERUNTIME);
    CU_ASSERT_EQUAL(hf_conf_load_string(&c, "", "t.conf", NULL, NULL, 0, -1), HF_ERUNTIME);
    CU_ASSERT_PTR_NULL(c.e);
    CU_ASSERT_EQUAL(hf_conf_nvariants(NULL), 1);
    char buf[8] = "zzz";
    hf_conf_variant_desc(NULL, 0, buf, sizeof buf);
    CU_ASSERT(str_is(buf, ""));
}

/* Deterministic garbage: line-structured random suites (many of them valid)
 * and pure byte soup.  Never a crash, only 0 or HF_EINPUT; whatever parses
 * must survive the dump round trip.  (Real fuzzing of hf_conf_load_mem is
 * done elsewhere; this runs under valgrind with the rest.) */
static unsigned long long g_rng = 88172645463325252ULL;
static unsigned rnd(unsigned n)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (unsigned)(g_rng % n);
}

static void add(char *buf, size_t *o, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (*o + n >= cap) return;
    memcpy(buf + *o, s, n);
    *o += n;
}

/* Up to maxlen tokens drawn from a NULL-terminated list. */
static void soup(char *buf, size_t *o, size_t cap, const char *const *tokens, unsigned maxlen)
{
    unsigned nt = 0;
    while (tokens[nt]) nt++;
    unsigned n = rnd(maxlen + 1);
    for (unsigned i = 0; i < n; i++) add(buf, o, cap, tokens[rnd(nt)]);
}

static void test_garbage(void)
{
    static const char *const keys[] = {
        "[run]\nname = ", "[run]\nnote =", "[run]\nseed = ", "[federation]\nlr = ", "[model]\nhidden = ",
        "[data]\npath = ", "[sweep]\nrun.note = ", "[sweep]\nmodel.hidden = ", "[sweep]\nmodel.arch = ",
        "[aggregation]\nexact = ", "[energy]\nbudget_j = ", "include = ", "[data]\ndataset="};
    static const char *const text_chars[] = {"a", "b", "x", "z", " ", "_", "-", ".", "/", "|", ",", ":",
                                             "$", "{", "}", "#", "\t", "\xc3\xa9", "\xe2\x82\xac", "0",
                                             "9", "${HOME}", "${HF_T_UNSET_G:-d}", "..", NULL};
    static const char *const num_chars[] = {"0", "1", "2", "5", "9", ".", ",", "e", "-", " ", "|", "+", NULL};
    static const char *const any_chars[] = {"[", "]", "=", "#", "$", "{", "}", ":", "-", "|", ",", ".", " ",
                                            "\t", "\r", "\n", "a", "e", "r", "s", "u", "x", "0", "1",
                                            "\xc3\xa9", "\xff", "\xc3", "run", "sweep", NULL};
    char buf[1024];
    int bad = 0, parsed = 0;
    for (int it = 0; it < 3000; it++) {
        size_t o = 0;
        if (it % 4 == 3) {
            soup(buf, &o, sizeof buf, any_chars, 200);
        } else {
            int lines = 1 + (int)rnd(6);
            for (int l = 0; l < lines; l++) {
                unsigned k = rnd(sizeof keys / sizeof keys[0]);
                add(buf, &o, sizeof buf, keys[k]);
                if (k == 8) add(buf, &o, sizeof buf, rnd(2) ? "cnn | mlp" : "logreg");
                else if (k == 9) add(buf, &o, sizeof buf, rnd(2) ? "On" : "0");
                else if (k == 12) add(buf, &o, sizeof buf, "leaf");
                else soup(buf, &o, sizeof buf, (k == 2 || k == 3 || k == 4 || k == 7 || k == 10) ? num_chars : text_chars, 12);
                add(buf, &o, sizeof buf, rnd(4) ? "\n" : "  # c\r\n");
            }
        }
        if (it % 8 == 7 && o > 0) buf[rnd((unsigned)o)] = 0;  /* a NUL byte somewhere */
        hf_conf_t c;
        int rc = hf_conf_load_mem(&c, buf, o, "fuzz.conf", T, NULL, 0, (int)rnd(3) - 1);
        if (rc != 0 && rc != HF_EINPUT) bad++;
        if (rc == 0) {
            parsed++;
            char *d = hf_conf_dump(&c, it % 2);
            hf_conf_t r;
            if (hf_conf_load_string(&r, d, "fuzzdump.conf", T, NULL, 0, -1) != 0) {
                fprintf(stderr, "\n    dump did not parse: %s\n", hf_errmsg());
                bad++;
            } else {
                for (int i = 0; i < c.n; i++) {
                    if (strcmp(c.e[i].value, r.e[i].value) == 0) continue;
                    fprintf(stderr, "\n    %s: '%s' became '%s'\n", c.e[i].key, c.e[i].value, r.e[i].value);
                    bad++;
                }
                hf_conf_free(&r);
            }
            free(d);
        }
        hf_conf_free(&c);
    }
    CU_ASSERT_EQUAL(bad, 0);
    fprintf(stderr, "(%d of 3000 parsed) ", parsed);
    CU_ASSERT(parsed >= 200);  /* the round trip above was really exercised (266 today) */
}

/* ------------------------------------------------------------------------- */

static const hf_cu_test_t tests_conf[] = {
    {"edit distance", test_edit_distance, NULL},
    {"defaults", test_defaults, NULL},
    {"type int", test_type_int, NULL},
    {"type float", test_type_float, NULL},
    {"type bool", test_type_bool, NULL},
    {"type choice", test_type_choice, NULL},
    {"type intlist", test_type_intlist, NULL},
    {"type string and path", test_type_string_path, NULL},
    {"messy file", test_messy, NULL},
    {"CRLF and whitespace", test_crlf_and_whitespace, NULL},
    {"sections and keys", test_sections_and_keys, NULL},
    {"includes", test_includes, NULL},
    {"include errors", test_include_errors, NULL},
    {"environment", test_env, NULL},
    {"sweep", test_sweep, NULL},
    {"overrides", test_overrides, NULL},
    {"bad bytes and limits", test_bad_bytes, NULL},
    {"dump round trip", test_dump, NULL},
    {"table errors and odd calls", test_table_errors, NULL},
    {"garbage", test_garbage, NULL},
    {0},
};
static const hf_cu_suite_t suites[] = {
    {"conf", tests_conf, NULL, NULL},
    {0},
};

int main(int argc, char **argv)
{
    const char *src = getenv("HETFL_SRCDIR");
    snprintf(g_data, sizeof g_data, "%s/tests/data/conf", src && *src ? src : ".");
    if (!getcwd(g_cwd, sizeof g_cwd)) return 1;
    snprintf(g_tmp, sizeof g_tmp, "%s", "/tmp/hetfl_test_conf_XXXXXX");
    const char *td = getenv("TMPDIR");
    if (td && *td && strlen(td) < 200) snprintf(g_tmp, sizeof g_tmp, "%s/hetfl_test_conf_XXXXXX", td);
    if (!mkdtemp(g_tmp)) {
        perror("mkdtemp");
        return 1;
    }
    int rc = hf_cu_main(&argc, &argv, 0, suites);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_tmp);
    return rc;
}
