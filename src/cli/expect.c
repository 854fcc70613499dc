/*
 * expect.c — [expect] claims: parsing and the statistical check (expect.h).
 */
#include "expect.h"
#include "hf_util.h"
#include "report.h"
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const hf_verdict_names[3] = {"PASS", "FAIL", "INCONCLUSIVE"};

static const char *skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    return s;
}

/* vN at *s: the variant number, or -1 (and *s unchanged) when there is none. */
static long parse_variant(const char **s)
{
    const char *p = skip_ws(*s);
    if (*p != 'v' || !isdigit((unsigned char)p[1])) return -1;
    char *end;
    long v = strtol(p + 1, &end, 10);
    if (isalnum((unsigned char)*end) || *end == '_' || (*end == '.' && !isalpha((unsigned char)end[1])))
        return -1;
    *s = end;  /* at a '.' before a letter: vA.METRIC2 (the caller decides) */
    return v;
}

/* A finite number at *s (no sign handling beyond strtod's). */
static int parse_number(const char **s, double *x)
{
    const char *p = skip_ws(*s);
    char *end;
    *x = strtod(p, &end);
    if (end == p || !isfinite(*x) || (*p != '-' && *p != '+' && *p != '.' && !isdigit((unsigned char)*p)))
        return -1;
    *s = end;
    return 0;
}

#define WHY(...) do { snprintf(why, nwhy, __VA_ARGS__); return -1; } while (0)

/* METRIC[@TARGET], the len characters at s, into metric and *target (NaN
 * when there is no target). */
static int parse_metric(const char *s, size_t ml, char *metric, size_t nm, double *target, char *why,
                        size_t nwhy)
{
    *target = NAN;
    const char *at = memchr(s, '@', ml);
    size_t nl = at ? (size_t)(at - s) : ml;
    if (!nl || nl >= nm) WHY("missing or too long metric name");
    memcpy(metric, s, nl);
    metric[nl] = 0;
    int to = 0;
    if (!hf_report_metric_valid(metric, &to)) WHY("unknown metric '%s' (one of: %s)", metric,
                                                     hf_report_metric_names());
    if (at) {
        char tb[64], *end;
        snprintf(tb, sizeof tb, "%.*s", (int)(ml - nl - 1), at + 1);
        *target = strtod(tb, &end);
        if (end == tb || *end || !(*target > 0 && *target <= 1))
            WHY("target '@%s': expected an accuracy in (0, 1]", tb);
        if (!to) WHY("'%s' is not a \"to target\" figure: drop '@%s'", metric, tb);
    } else if (to) {
        WHY("'%s' needs a target accuracy: %s@0.8", metric, metric);
    }
    return 0;
}

/* The right-hand side: NUMBER | [F '*'] vA['.'METRIC2] [(+|-) M] */
static int parse_rhs(const char **s, int nvariants, hf_expect_t *e, char *why, size_t nwhy)
{
    e->factor = 1;
    e->offset = 0;
    long a = parse_variant(s);
    if (a < 0) {
        double x;
        if (parse_number(s, &x)) WHY("expected a variant (v0, v1, ...) or a number after the operator");
        const char *p = skip_ws(*s);
        if (*p != '*') {  /* a constant */
            e->rhs = -1;
            e->offset = x;
            return 0;
        }
        if (!(x > 0)) WHY("factor %g: expected a positive number before '*'", x);
        e->factor = x;
        *s = p + 1;
        a = parse_variant(s);
        if (a < 0) WHY("expected a variant (v0, v1, ...) after '*'");
    }
    if (a >= nvariants) WHY("variant v%ld does not exist: the suite has %d variant%s (v0..v%d)", a, nvariants,
                            nvariants == 1 ? "" : "s", nvariants - 1);
    e->rhs = (int)a;
    if (**s == '.') {  /* vA.METRIC2[@TARGET]: up to a blank, a sign or the end */
        const char *m = *s + 1;
        size_t ml = strcspn(m, " \t+-");
        if (parse_metric(m, ml, e->rmetric, sizeof e->rmetric, &e->rtarget, why, nwhy)) return -1;
        *s = m + ml;
    }
    const char *p = skip_ws(*s);
    if (*p == '+' || *p == '-') {
        const char *q = p + 1;
        double m;
        if (parse_number(&q, &m) || m < 0) WHY("expected a non-negative number after '%c'", *p);
        e->offset = *p == '-' ? -m : m;
        *s = q;
    }
    return 0;
}

int hf_expect_parse_claim(const char *text, int nvariants, hf_expect_t *e, char *why, size_t nwhy)
{
    memset(e, 0, sizeof *e);
    e->target = e->within = e->rtarget = NAN;
    snprintf(e->text, sizeof e->text, "%s", text);
    const char *s = skip_ws(text), *colon = strchr(s, ':');
    if (!colon) WHY("expected 'METRIC: vB OP RHS' (e.g. final_accuracy: v1 >= v0 - 0.02)");
    size_t ml = (size_t)(colon - s);
    while (ml && (s[ml - 1] == ' ' || s[ml - 1] == '\t')) ml--;
    if (parse_metric(s, ml, e->metric, sizeof e->metric, &e->target, why, nwhy)) return -1;
    s = colon + 1;
    long b = parse_variant(&s);
    if (b < 0) WHY("expected a variant (v0, v1, ...) after ':'");
    if (b >= nvariants) WHY("variant v%ld does not exist: the suite has %d variant%s (v0..v%d)", b, nvariants,
                            nvariants == 1 ? "" : "s", nvariants - 1);
    e->lhs = (int)b;
    if (*s == '.') WHY("v%ld%.*s: only the right-hand side's variant names another figure", b,
                       (int)strcspn(s, " \t<>~"), s);
    s = skip_ws(s);
    if (!strncmp(s, "<=", 2)) { e->op = HF_EX_LE; s += 2; }
    else if (!strncmp(s, ">=", 2)) { e->op = HF_EX_GE; s += 2; }
    else if (*s == '<') { e->op = HF_EX_LT; s++; }
    else if (*s == '>') { e->op = HF_EX_GT; s++; }
    else if (*s == '~') { e->op = HF_EX_NEAR; s++; }
    else WHY("expected an operator (<, <=, >, >=, ~) after v%ld", b);
    if (parse_rhs(&s, nvariants, e, why, nwhy)) return -1;
    if (e->rhs == e->lhs && (!e->rmetric[0] || (!strcmp(e->rmetric, e->metric) &&
                                                 (isnan(e->target) ? isnan(e->rtarget) : e->rtarget == e->target))))
        WHY("v%d is compared with itself", e->lhs);
    s = skip_ws(s);
    if (!strncmp(s, "within", 6) && (s[6] == ' ' || s[6] == '\t')) {
        if (e->op != HF_EX_NEAR) WHY("'within' goes with '~' only");
        s += 6;
        if (parse_number(&s, &e->within) || !(e->within > 0)) WHY("expected a positive number after 'within'");
        s = skip_ws(s);
    } else if (e->op == HF_EX_NEAR) {
        WHY("'~' needs a tolerance: v1 ~ v0 within 0.01");
    }
    if (*s) WHY("unexpected text '%s' at the end", s);
    return 0;
}
#undef WHY

/* Key NAME.why: the length of NAME, else 0. */
static size_t why_of(const char *key)
{
    size_t l = strlen(key);
    return l > 4 && !strcmp(key + l - 4, ".why") ? l - 4 : 0;
}

int hf_expect_parse(const hf_conf_t *c, int nvariants, hf_expect_t **out, int *n)
{
    *out = NULL;
    *n = 0;
    if (!c->nexpect) return 0;
    hf_expect_t *e = hf_calloc((size_t)c->nexpect, sizeof *e);
    int ne = 0;
    for (int i = 0; i < c->nexpect; i++) {
        char why[1536];
        if (why_of(c->expect[i].key)) continue;
        if (strlen(c->expect[i].key) >= sizeof e[ne].name) {
            free(e);
            return hf_seterr(HF_EINPUT, "%s: key '%.60s...': expectation name longer than %zu characters",
                             c->expect[i].origin, c->expect[i].key, sizeof e[ne].name - 1);
        }
        if (hf_expect_parse_claim(c->expect[i].value, nvariants, &e[ne], why, sizeof why)) {
            free(e);
            return hf_seterr(HF_EINPUT, "%s: key '%s': %s", c->expect[i].origin, c->expect[i].key, why);
        }
        snprintf(e[ne].name, sizeof e[ne].name, "%s", c->expect[i].key);
        snprintf(e[ne].origin, sizeof e[ne].origin, "%s", c->expect[i].origin);
        ne++;
    }
    for (int i = 0; i < c->nexpect; i++) {
        const hf_conf_entry_t *x = &c->expect[i];
        size_t l = why_of(x->key);
        int j = 0;
        while (l && j < ne && (strlen(e[j].name) != l || strncmp(e[j].name, x->key, l))) j++;
        const char *bad = !l ? NULL : j == ne ? "no claim of that name in [expect]"
                                : strlen(x->value) >= sizeof e[j].why ? "explanation longer than 1023 characters"
                                                                      : NULL;
        if (bad) {
            free(e);
            return hf_seterr(HF_EINPUT, "%s: key '%s': %s", x->origin, x->key, bad);
        }
        if (l) snprintf(e[j].why, sizeof e[j].why, "%s", x->value);
    }
    *out = e;
    *n = ne;
    return 0;
}

int hf_expect_seeds_needed(const hf_expect_t *e, const hf_expect_result_t *r)
{
    const hf_ttest_t *t = &r->t;
    if (!t->paired || t->n < 2 || !(t->se > 0)) return 0;
    double sd = t->se * sqrt((double)t->n), margin;
    if (e->op == HF_EX_NEAR) margin = e->within - fabs(t->diff);
    else margin = e->op == HF_EX_LT || e->op == HF_EX_LE ? -t->diff : t->diff;
    if (!(margin > 0)) return -1;
    /* t_{0.975,n-1}/√n falls with n: double, then bisect */
#define FITS(n) (hf_stats_t_quantile(0.975, (double)(n) - 1) * sd / sqrt((double)(n)) < margin)
    int lo = 1, hi = 2;
    while (!FITS(hi)) {
        if (hi > HF_EXPECT_SEEDS_MAX) return HF_EXPECT_SEEDS_MAX + 1;
        lo = hi;
        hi *= 2;
    }
    while (hi - lo > 1) {  /* FITS(hi), !FITS(lo) (lo = 1: no test) */
        int mid = lo + (hi - lo) / 2;
        if (FITS(mid)) hi = mid;
        else lo = mid;
    }
#undef FITS
    return hi > HF_EXPECT_SEEDS_MAX ? HF_EXPECT_SEEDS_MAX + 1 : hi;
}

void hf_expect_describe(const hf_expect_t *e, char *buf, size_t n)
{
    static const char *ops[] = {"<", "<=", ">", ">=", "~"};
    int w = snprintf(buf, n, "v%d %s ", e->lhs, ops[e->op]);
    if (w < 0 || (size_t)w >= n) return;
    if (e->rhs < 0) w += snprintf(buf + w, n - (size_t)w, "%g", e->offset);
    else {
        if (e->factor != 1) w += snprintf(buf + w, n - (size_t)w, "%g * ", e->factor);
        w += snprintf(buf + w, n - (size_t)w, "v%d", e->rhs);
        if (e->rmetric[0] && isnan(e->rtarget)) w += snprintf(buf + w, n - (size_t)w, ".%s", e->rmetric);
        else if (e->rmetric[0]) w += snprintf(buf + w, n - (size_t)w, ".%s@%g", e->rmetric, e->rtarget);
        if (e->offset) snprintf(buf + w, n - (size_t)w, " %c %g", e->offset < 0 ? '-' : '+', fabs(e->offset));
    }
    w = (int)strlen(buf);
    if (e->op == HF_EX_NEAR) snprintf(buf + w, n - (size_t)w, " within %g", e->within);
}

/* The verdict and p from the test on D (the CI is two-sided 95 %). */
static void verdict(const hf_expect_t *e, hf_expect_result_t *r)
{
    const hf_ttest_t *t = &r->t;
    r->verdict = HF_VERDICT_INCONCLUSIVE;
    r->p = NAN;
    if (t->n == 0) return;
    int le = e->op == HF_EX_LT || e->op == HF_EX_LE, strict = e->op == HF_EX_LT || e->op == HF_EX_GT;
    if (e->op == HF_EX_NEAR) {
        double w = e->within;
        if (t->se > 0) {  /* TOST: H0 D <= -W and H0 D >= W */
            double pl = 1 - hf_stats_t_cdf((t->diff + w) / t->se, t->df);
            double ph = hf_stats_t_cdf((t->diff - w) / t->se, t->df);
            r->p = pl > ph ? pl : ph;
        } else r->p = fabs(t->diff) < w ? 0 : 1;
        if (t->lo > -w && t->hi < w) r->verdict = HF_VERDICT_PASS;
        else if (t->lo >= w || t->hi <= -w) r->verdict = HF_VERDICT_FAIL;
        return;
    }
    if (t->se > 0) r->p = le ? hf_stats_t_cdf(t->t, t->df) : 1 - hf_stats_t_cdf(t->t, t->df);
    if (!(t->se > 0)) {  /* no spread: the claim holds or not, exactly */
        int holds = le ? (strict ? t->diff < 0 : t->diff <= 0) : (strict ? t->diff > 0 : t->diff >= 0);
        r->p = holds ? 0 : 1;
        r->verdict = holds ? HF_VERDICT_PASS : HF_VERDICT_FAIL;
    } else if (le ? t->hi < 0 : t->lo > 0) r->verdict = HF_VERDICT_PASS;
    else if (le ? t->lo > 0 : t->hi < 0) r->verdict = HF_VERDICT_FAIL;
}

void hf_expect_check(const hf_expect_t *e, const double *xb, const double *xa, int nseeds,
                     hf_expect_result_t *r)
{
    memset(r, 0, sizeof *r);
    double *d = hf_calloc((size_t)(nseeds ? nseeds : 1), sizeof *d);
    double *y = hf_calloc((size_t)(nseeds ? nseeds : 1), sizeof *y);
    int pairs = 0, nb = 0, na = 0;
    for (int s = 0; s < nseeds; s++) {
        nb += !isnan(xb[s]);
        if (e->rhs >= 0) {
            y[s] = e->factor * xa[s] + e->offset;
            na += !isnan(xa[s]);
            d[s] = xb[s] - y[s];
            pairs += !isnan(d[s]);
        } else {
            d[s] = xb[s] - e->offset;
            pairs += !isnan(d[s]);
        }
    }
    if (e->rhs < 0) {
        r->test = "one-sample t";
        hf_stats_paired(d, nseeds, &r->t);
    } else if (pairs >= 2 && pairs == nb && pairs == na) {
        r->test = "paired t";
        hf_stats_paired(d, nseeds, &r->t);
    } else {
        r->test = "Welch t";
        hf_stats_welch(xb, nseeds, y, nseeds, &r->t);
    }
    if (r->t.n == 0) r->test = nb < 2 ? "fewer than 2 values of vB" : "fewer than 2 values";
    verdict(e, r);
    free(d);
    free(y);
}
