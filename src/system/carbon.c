/*
 * carbon.c — carbon-intensity sources and look-ups (see carbon.h), and the
 * `hetfl carbon import|profile` subcommand that converts EIA-style files.
 */
#include "carbon.h"
#include "hf_util.h"
#include "provenance.h"
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Annual grid intensity by country / region code, gCO2e/kWh.  Figures from
 * country_annual_CI.csv (Green Algorithms project, CI_aggregated: IEA 2019 for
 * WORLD; carbonfootprint.com March 2022 / Climate Transparency 2021 / AIB 2021
 * for countries; distributed with the HPE dc-rl data, MIT licence), column
 * carbonIntensity, one entry per `location` code, in the file's order. */
static const struct { const char *code; double ci; } country_ci[] = {
    {"WORLD", 475}, {"TW", 509}, {"IL", 558}, {"ZA", 900.6}, {"CN", 537.4}, {"CN-HK", 710},
    {"CN-HK2", 650}, {"IN", 708.2}, {"ID", 717.7}, {"JP", 465.8}, {"KR", 415.6}, {"SA", 505.9},
    {"SG", 408}, {"TH", 481}, {"TR", 375}, {"AE", 417.89}, {"AT", 111.18}, {"BE", 161.89},
    {"BG", 372.12}, {"HR", 226.96}, {"CY", 642.9}, {"CZ", 495.49}, {"DK", 142.52},
    {"EE", 598.69}, {"FI", 95.32}, {"FR", 51.28}, {"DE", 338.66}, {"GR", 410.01},
    {"HU", 243.75}, {"IS", 0.13}, {"IE", 335.99}, {"IT", 323.84}, {"LV", 215.67},
    {"LT", 253.56}, {"LU", 101.36}, {"MT", 390.62}, {"NL", 374.34}, {"NO", 7.62},
    {"PL", 759.62}, {"PT", 201.55}, {"RO", 261.84}, {"RU", 310.2}, {"RS", 776.69},
    {"SK", 155.48}, {"SI", 224.05}, {"ES", 171.03}, {"SE", 5.67}, {"CH", 11.52},
    {"GB", 231.12}, {"CA", 120}, {"CA-AB", 670}, {"CA-BC", 19.7}, {"CA-MT", 1.3},
    {"CA-NB", 270}, {"CA-NL", 29}, {"CA-NS", 810}, {"CA-NT", 200}, {"CA-NU", 900},
    {"CA-ON", 30}, {"CA-PE", 2}, {"CA-QC", 1.5}, {"CA-SK", 710}, {"CA-YT", 111}, {"MX", 431.4},
    {"US", 423.94}, {"US-AK", 462.33}, {"US-AL", 344.37}, {"US-AR", 454.4}, {"US-AZ", 351.99},
    {"US-CA", 216.43}, {"US-CO", 582.34}, {"US-CT", 253}, {"US-DC", 382.68}, {"US-DE", 360.68},
    {"US-FL", 402.2}, {"US-GA", 345.58}, {"US-HI", 731.21}, {"US-IA", 293.85},
    {"US-ID", 101.89}, {"US-IL", 265.8}, {"US-IN", 740.02}, {"US-KS", 384.08},
    {"US-KY", 804.75}, {"US-LA", 363.82}, {"US-MA", 420.32}, {"US-MD", 308.21}, {"US-ME", 109},
    {"US-MI", 448.08}, {"US-MN", 367.93}, {"US-MO", 773}, {"US-MS", 427.07}, {"US-MT", 435.87},
    {"US-NC", 309.73}, {"US-ND", 663.05}, {"US-NE", 573.51}, {"US-NH", 118.44},
    {"US-NJ", 235.1}, {"US-NM", 601.77}, {"US-NV", 342.25}, {"US-NY", 199.01},
    {"US-OH", 598.58}, {"US-OK", 338.44}, {"US-OR", 163.15}, {"US-PA", 333.19},
    {"US-RI", 395.27}, {"US-SC", 245.48}, {"US-SD", 162.69}, {"US-TN", 272.89},
    {"US-TX", 409.16}, {"US-UT", 747.82}, {"US-VA", 308}, {"US-VT", 14.45}, {"US-WA", 101.84},
    {"US-WI", 569.39}, {"US-WV", 919.34}, {"US-WY", 950.5}, {"AU", 840}, {"AU-ACT", 870},
    {"AU-NSW", 870}, {"AU-NT", 620}, {"AU-NT2", 540}, {"AU-QLD", 920}, {"AU-SA", 420},
    {"AU-TAS", 180}, {"AU-VIC", 1060}, {"AU-WA1", 580}, {"AU-WA2", 700}, {"NZ", 110.1},
    {"AR", 307}, {"BR", 61.7}, {"UY", 129},
};
#define NCOUNTRY (sizeof country_ci / sizeof country_ci[0])

double hf_carbon_country(const char *code)
{
    for (size_t i = 0; i < NCOUNTRY; i++)
        if (!strcmp(country_ci[i].code, code)) return country_ci[i].ci;
    return NAN;
}

/* ------------------------------------------------------------------ time --- */

/* days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm) */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yy + (*m <= 2));
}

static int digits(const char **s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if ((*s)[i] < '0' || (*s)[i] > '9') return -1;
        *v = *v * 10 + ((*s)[i] - '0');
    }
    *s += n;
    return 0;
}

int hf_time_parse(const char *s, int64_t *t)
{
    int y, mo, d, h = 0, mi = 0, se = 0, oh = 0, om = 0, sign = 0;
    while (*s == ' ') s++;
    if (digits(&s, 4, &y) || *s++ != '-' || digits(&s, 2, &mo) || *s++ != '-' || digits(&s, 2, &d))
        return -1;
    if (*s == 'T' || *s == ' ') {
        s++;
        if (digits(&s, 2, &h) || *s++ != ':' || digits(&s, 2, &mi)) return -1;
        if (*s == ':') {
            s++;
            if (digits(&s, 2, &se)) return -1;
        }
    }
    if (*s == 'Z') s++;
    else if (*s == '+' || *s == '-') {
        sign = *s++ == '-' ? -1 : 1;
        if (digits(&s, 2, &oh)) return -1;
        if (*s == ':') s++;
        if (digits(&s, 2, &om)) return -1;
    }
    while (*s == ' ' || *s == '\r' || *s == '\n') s++;
    if (*s || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return -1;
    *t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - sign * (oh * 3600 + om * 60);
    return 0;
}

void hf_time_format(int64_t t, char *buf, size_t n)
{
    int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400), sec = t - days * 86400;
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d, (int)(sec / 3600),
             (int)(sec / 60 % 60), (int)(sec % 60));
}

static void month_hour(int64_t t, int *month, int *hour)
{
    int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    int y, d;
    civil_from_days(days, &y, month, &d);
    *hour = (int)((t - days * 86400) / 3600);
}

/* --------------------------------------------------------------- regions --- */

static hf_carbon_region_t *region_add(hf_carbon_t *c, const char *name)
{
    c->r = hf_realloc(c->r, (size_t)(c->n + 1) * sizeof *c->r);
    hf_carbon_region_t *r = &c->r[c->n++];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    return r;
}

static int region_find(const hf_carbon_t *c, const char *name)
{
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->r[i].name, name)) return i;
    return -1;
}

void hf_carbon_free(hf_carbon_t *c)
{
    for (int i = 0; i < c->n; i++) free(c->r[i].v);
    free(c->r);
    c->r = NULL;
    c->n = 0;
}

int hf_carbon_resolve(hf_carbon_t *c, const char *name)
{
    int i = region_find(c, name);
    if (i >= 0) return i;
    double v = hf_carbon_country(name);
    if (isnan(v)) return -1;
    hf_carbon_region_t *r = region_add(c, name);
    r->kind = HF_CI_CONSTANT;
    r->constant = v;
    snprintf(r->source, sizeof r->source, "country table (country_annual_CI.csv)");
    return c->n - 1;
}

double hf_carbon_at(const hf_carbon_t *c, int i, int64_t t)
{
    const hf_carbon_region_t *r = &c->r[i];
    if (r->kind == HF_CI_CONSTANT) return r->constant;
    if (r->kind == HF_CI_HOURLY) {
        int64_t h = (t - r->t0) >= 0 ? (t - r->t0) / 3600 : -((r->t0 - t + 3599) / 3600);
        h %= r->n;
        if (h < 0) h += r->n;
        return r->v[h];
    }
    int m, hr;
    month_hour(t, &m, &hr);
    return r->prof[m - 1][hr];
}

/* ---------------------------------------------------------------- parsing --- */

/* split a line in place on commas; returns field count (≤ max) */
static int split(char *s, char **f, int max)
{
    int n = 0;
    s[strcspn(s, "\r\n")] = 0;
    for (;;) {
        if (n < max) f[n] = s;
        n++;
        char *e = strchr(s, ',');
        if (!e) break;
        *e = 0;
        s = e + 1;
    }
    return n;
}

static int parse_num(const char *s, double *v)
{
    char *end;
    while (*s == ' ') s++;
    if (!*s) return 1;   /* empty */
    *v = strtod(s, &end);
    while (*end == ' ') end++;
    return *end || !isfinite(*v) || *v < 0 ? -1 : 0;
}

typedef struct { char name[16]; int64_t t0, tlast; long n, cap; double *v; long line; } series_t;

static int series_push(series_t *s, int64_t t, double v, const char *path, long line)
{
    if (s->n == 0) s->t0 = t;
    else if (t != s->tlast + 3600)
        return hf_seterr(HF_EINPUT, "%s:%ld: region %s: timestamps must be hourly and increasing "
                         "(previous row %ld is %+lld s away, expected +3600 s)", path, line, s->name,
                         s->line, (long long)(t - s->tlast));
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 1024;
        s->v = hf_realloc(s->v, (size_t)s->cap * sizeof(double));
    }
    s->v[s->n++] = v;
    s->tlast = t;
    s->line = line;
    return 0;
}

/* fill NaN gaps by linear interpolation (ends: nearest value); -1 if all NaN */
static int fill_gaps(double *v, long n)
{
    long prev = -1;
    for (long i = 0; i < n; i++) {
        if (isnan(v[i])) continue;
        if (prev < 0) for (long j = 0; j < i; j++) v[j] = v[i];
        else for (long j = prev + 1; j < i; j++)
            v[j] = v[prev] + (v[i] - v[prev]) * (double)(j - prev) / (double)(i - prev);
        prev = i;
    }
    if (prev < 0) return -1;
    for (long j = prev + 1; j < n; j++) v[j] = v[prev];
    return 0;
}

static int commit_series(hf_carbon_t *c, series_t *s, const char *path)
{
    if (region_find(c, s->name) >= 0)
        return hf_seterr(HF_EINPUT, "%s: region %s is already defined by %s", path, s->name,
                         c->r[region_find(c, s->name)].source);
    if (s->n == 0) return hf_seterr(HF_EINPUT, "%s: region %s has no rows", path, s->name);
    if (fill_gaps(s->v, s->n))
        return hf_seterr(HF_EINPUT, "%s: region %s has no intensity values", path, s->name);
    hf_carbon_region_t *r = region_add(c, s->name);
    r->kind = HF_CI_HOURLY;
    r->t0 = s->t0;
    r->n = s->n;
    r->v = s->v;
    s->v = NULL;
    snprintf(r->source, sizeof r->source, "%s", path);
    return 0;
}

#define MAXF 64

static int load_eia(hf_carbon_t *c, FILE *f, const char *path, const char *region, char *line,
                    size_t cap, int ci_col, long ln)
{
    series_t s = {0};
    if (region) snprintf(s.name, sizeof s.name, "%s", region);
    else {
        const char *b = strrchr(path, '/');
        b = b ? b + 1 : path;
        size_t l = strcspn(b, "_.");
        if (l == 0 || l >= sizeof s.name)
            return hf_seterr(HF_EINPUT, "%s: cannot tell the region from the file name "
                             "(expected REGION_..., e.g. CISO_NG_and_avgCI_2022.csv)", path);
        memcpy(s.name, b, l);
    }
    int rc = 0;
    while (!rc && fgets(line, (int)cap, f)) {
        ln++;
        char *fl[MAXF];
        if (line[0] == '#' || line[strspn(line, " \r\n")] == 0) continue;
        int nf = split(line, fl, MAXF);
        int64_t t;
        double v = NAN;
        if (nf <= ci_col)
            rc = hf_seterr(HF_EINPUT, "%s:%ld: %d fields, the header has %d", path, ln, nf, ci_col + 1);
        else if (hf_time_parse(fl[0], &t))
            rc = hf_seterr(HF_EINPUT, "%s:%ld: bad timestamp '%s' (expected e.g. "
                           "2022-01-01 00:00:00+00:00)", path, ln, fl[0]);
        else {
            int p = parse_num(fl[ci_col], &v);
            if (p < 0)
                rc = hf_seterr(HF_EINPUT, "%s:%ld: bad avg_CI '%s' (a non-negative number or empty)",
                               path, ln, fl[ci_col]);
            else {
                if (p > 0) v = NAN;   /* empty cell: interpolated below */
                rc = series_push(&s, t, v, path, ln);
            }
        }
    }
    if (!rc) rc = commit_series(c, &s, path);
    free(s.v);
    return rc;
}

static int load_trace(hf_carbon_t *c, FILE *f, const char *path, char *line, size_t cap, long ln)
{
    series_t *ss = NULL;
    int ns = 0, rc = 0;
    while (!rc && fgets(line, (int)cap, f)) {
        ln++;
        if (line[0] == '#' || line[strspn(line, " \r\n")] == 0) continue;
        char *fl[MAXF];
        int nf = split(line, fl, MAXF);
        int64_t t;
        double v;
        if (nf != 3) { rc = hf_seterr(HF_EINPUT, "%s:%ld: expected 3 fields "
                                      "(timestamp,region,gco2_per_kwh), got %d", path, ln, nf); break; }
        if (hf_time_parse(fl[0], &t)) {
            rc = hf_seterr(HF_EINPUT, "%s:%ld: bad timestamp '%s' (expected ISO 8601, e.g. "
                           "2022-01-01T00:00Z)", path, ln, fl[0]);
            break;
        }
        if (!fl[1][0] || strlen(fl[1]) >= 16 || strchr(fl[1], ' ')) {
            rc = hf_seterr(HF_EINPUT, "%s:%ld: bad region '%s' (1-15 characters, no spaces)", path,
                           ln, fl[1]);
            break;
        }
        if (parse_num(fl[2], &v)) {
            rc = hf_seterr(HF_EINPUT, "%s:%ld: bad gco2_per_kwh '%s' (a non-negative number)", path,
                           ln, fl[2]);
            break;
        }
        int k = 0;
        while (k < ns && strcmp(ss[k].name, fl[1])) k++;
        if (k == ns) {
            ss = hf_realloc(ss, (size_t)(ns + 1) * sizeof *ss);
            memset(&ss[ns], 0, sizeof *ss);
            snprintf(ss[ns++].name, sizeof ss->name, "%s", fl[1]);
        }
        rc = series_push(&ss[k], t, v, path, ln);
    }
    if (!rc && ns == 0) rc = hf_seterr(HF_EINPUT, "%s: no data rows", path);
    for (int k = 0; k < ns; k++) {
        if (!rc) rc = commit_series(c, &ss[k], path);
        free(ss[k].v);
    }
    free(ss);
    return rc;
}

static int load_profile(hf_carbon_t *c, FILE *f, const char *path, char *line, size_t cap, long ln)
{
    int rc = 0, first = c->n;
    unsigned seen[64] = {0};   /* month bitmask per new region (index - first) */
    while (!rc && fgets(line, (int)cap, f)) {
        ln++;
        if (line[0] == '#' || line[strspn(line, " \r\n")] == 0) continue;
        char *fl[MAXF];
        int nf = split(line, fl, MAXF);
        char *end;
        long m = nf > 1 ? strtol(fl[1], &end, 10) : 0;
        if (nf != 26) { rc = hf_seterr(HF_EINPUT, "%s:%ld: expected 26 fields "
                                       "(region,month,h00..h23), got %d", path, ln, nf); break; }
        if (m < 1 || m > 12 || *end) {
            rc = hf_seterr(HF_EINPUT, "%s:%ld: bad month '%s' (1-12)", path, ln, fl[1]);
            break;
        }
        int i = region_find(c, fl[0]);
        if (i >= 0 && i < first) {
            rc = hf_seterr(HF_EINPUT, "%s:%ld: region %s is already defined by %s", path, ln, fl[0],
                           c->r[i].source);
            break;
        }
        if (i < 0) {
            if (c->n - first >= 64 || !fl[0][0] || strlen(fl[0]) >= 16) {
                rc = hf_seterr(HF_EINPUT, "%s:%ld: bad region '%s'", path, ln, fl[0]);
                break;
            }
            hf_carbon_region_t *r = region_add(c, fl[0]);
            r->kind = HF_CI_PROFILE;
            snprintf(r->source, sizeof r->source, "%s", path);
            i = c->n - 1;
        }
        if (seen[i - first] & (1u << m)) {
            rc = hf_seterr(HF_EINPUT, "%s:%ld: region %s: month %ld given twice", path, ln, fl[0], m);
            break;
        }
        seen[i - first] |= 1u << m;
        for (int h = 0; h < 24 && !rc; h++)
            if (parse_num(fl[2 + h], &c->r[i].prof[m - 1][h]))
                rc = hf_seterr(HF_EINPUT, "%s:%ld: bad value '%s' for hour %d", path, ln, fl[2 + h], h);
    }
    for (int i = first; !rc && i < c->n; i++)
        if (seen[i - first] != 0x1ffeu)
            rc = hf_seterr(HF_EINPUT, "%s: region %s: a profile needs all 12 months", path,
                           c->r[i].name);
    if (!rc && c->n == first) rc = hf_seterr(HF_EINPUT, "%s: no data rows", path);
    if (rc) { while (c->n > first) free(c->r[--c->n].v); }
    return rc;
}

/* kind of file from its header: 1 trace, 2 EIA (*ci_col = avg_CI column), 3 profile, 0 other */
static int header_kind(char *hdr, int *ci_col)
{
    char *fl[MAXF];
    int nf = split(hdr, fl, MAXF);
    if (nf == 3 && !strcmp(fl[0], "timestamp") && !strcmp(fl[1], "region") &&
        !strcmp(fl[2], "gco2_per_kwh"))
        return 1;
    if (nf >= 2 && nf <= MAXF && !strcmp(fl[0], "timestamp"))
        for (int i = 1; i < nf; i++)
            if (!strcmp(fl[i], "avg_CI")) { *ci_col = i; return 2; }
    if (nf == 26 && !strcmp(fl[0], "region") && !strcmp(fl[1], "month") && !strcmp(fl[2], "h00"))
        return 3;
    return 0;
}

/* open a file and read its header (skipping leading # comments) */
static FILE *open_hdr(const char *path, char *line, size_t cap, long *ln)
{
    FILE *f = hf_input_fopen(path, HF_INPUT_TEXT_MAX);  /* regular files only (hf_util.h) */
    if (!f) return NULL;
    hf_inputs_note(path);  /* its SHA-256 goes into the results file */
    *ln = 0;
    while (fgets(line, (int)cap, f)) {
        (*ln)++;
        if (line[0] != '#') return f;
    }
    line[0] = 0;
    return f;
}

static int load_file(hf_carbon_t *c, const char *path, const char *region, int quiet_unknown)
{
    size_t cap = 1 << 16;
    char *line = hf_malloc(cap);
    long ln;
    FILE *f = open_hdr(path, line, cap, &ln);
    if (!f) { free(line); return HF_EINPUT; }  /* "PATH: reason" (hf_input_fopen) */
    int ci = 0, rc = 0;
    int kind = header_kind(line, &ci);
    if (kind == 1) rc = load_trace(c, f, path, line, cap, ln);
    else if (kind == 2) rc = load_eia(c, f, path, region, line, cap, ci, ln);
    else if (kind == 3) rc = load_profile(c, f, path, line, cap, ln);
    else if (!quiet_unknown)
        rc = hf_seterr(HF_EINPUT, "%s:%ld: unknown carbon file header (expected "
                       "'timestamp,region,gco2_per_kwh', 'timestamp,...,avg_CI' or "
                       "'region,month,h00,...,h23')", path, ln);
    fclose(f);
    free(line);
    return rc;
}

int hf_carbon_load_eia(hf_carbon_t *c, const char *path, const char *region)
{
    return load_file(c, path, region, 0);
}

int hf_carbon_load(hf_carbon_t *c, const char *path)
{
    struct stat st;
    if (stat(path, &st)) return hf_seterr(HF_EINPUT, "%s: no such carbon file or directory", path);
    if (!S_ISDIR(st.st_mode)) return load_file(c, path, NULL, 0);  /* a FIFO, a device: refused there */
    DIR *d = opendir(path);
    if (!d) return hf_seterr(HF_EINPUT, "%s: cannot read directory", path);
    char **names = NULL;
    int nn = 0, rc = 0, before = c->n;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".csv")) continue;
        names = hf_realloc(names, (size_t)(nn + 1) * sizeof *names);
        names[nn++] = hf_strdup(e->d_name);
    }
    closedir(d);
    for (int i = 0; i < nn; i++)   /* sorted: load order independent of readdir */
        for (int j = i + 1; j < nn; j++)
            if (strcmp(names[j], names[i]) < 0) { char *t = names[i]; names[i] = names[j]; names[j] = t; }
    for (int i = 0; i < nn; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", path, names[i]);
        if (!rc) rc = load_file(c, p, NULL, 1);
        free(names[i]);
    }
    free(names);
    if (!rc && c->n == before)
        rc = hf_seterr(HF_EINPUT, "%s: no carbon traces or profiles in this directory", path);
    return rc;
}

/* ---------------------------------------------------------------- output --- */

int hf_carbon_profile(const hf_carbon_t *c, int i, double prof[12][24])
{
    const hf_carbon_region_t *r = &c->r[i];
    if (r->kind != HF_CI_HOURLY)
        return hf_seterr(HF_EINPUT, "region %s: a profile is computed from an hourly trace", r->name);
    double sum[12][24] = {{0}};
    long cnt[12][24] = {{0}};
    for (long h = 0; h < r->n; h++) {
        int m, hr;
        month_hour(r->t0 + 3600 * h, &m, &hr);
        sum[m - 1][hr] += r->v[h];
        cnt[m - 1][hr]++;
    }
    for (int m = 0; m < 12; m++)
        for (int h = 0; h < 24; h++) prof[m][h] = cnt[m][h] ? sum[m][h] / (double)cnt[m][h] : NAN;
    return 0;
}

int hf_carbon_write_trace(const hf_carbon_t *c, int i, FILE *f)
{
    const hf_carbon_region_t *r = &c->r[i];
    if (r->kind != HF_CI_HOURLY)
        return hf_seterr(HF_EINPUT, "region %s is not an hourly trace", r->name);
    fprintf(f, "timestamp,region,gco2_per_kwh\n");
    for (long h = 0; h < r->n; h++) {
        char ts[32];
        hf_time_format(r->t0 + 3600 * h, ts, sizeof ts);
        fprintf(f, "%s,%s,%.4f\n", ts, r->name, r->v[h]);
    }
    return ferror(f) ? hf_seterr(HF_ERUNTIME, "write error") : 0;
}

int hf_carbon_write_profile(const hf_carbon_t *c, int i, const char *source, FILE *f)
{
    double prof[12][24];
    int rc = hf_carbon_profile(c, i, prof);
    if (rc) return rc;
    const hf_carbon_region_t *r = &c->r[i];
    char a[32], b[32];
    hf_time_format(r->t0, a, sizeof a);
    hf_time_format(r->t0 + 3600 * (r->n - 1), b, sizeof b);
    fprintf(f, "# hetfl carbon profile: mean grid carbon intensity (gCO2e/kWh) of region %s by\n"
            "# UTC month (rows) and UTC hour of day (h00..h23), computed by `hetfl carbon profile`\n"
            "# from %ld hourly values %s .. %s of\n#   %s\n", r->name, r->n, a, b, source);
    fprintf(f, "region,month");
    for (int h = 0; h < 24; h++) fprintf(f, ",h%02d", h);
    fprintf(f, "\n");
    for (int m = 0; m < 12; m++) {
        fprintf(f, "%s,%d", r->name, m + 1);
        for (int h = 0; h < 24; h++) {
            if (isnan(prof[m][h]))
                return hf_seterr(HF_EINPUT, "region %s: no data for month %d hour %d", r->name, m + 1, h);
            fprintf(f, ",%.1f", prof[m][h]);
        }
        fprintf(f, "\n");
    }
    return ferror(f) ? hf_seterr(HF_ERUNTIME, "write error") : 0;
}

/* ------------------------------------------------------------------- CLI --- */

int hf_carbon_main(int argc, char **argv, FILE *out)
{
    const char *usage = "usage: hetfl carbon import IN OUT [--region R]    EIA-style or trace file "
                        "→ timestamp,region,gco2_per_kwh\n"
                        "       hetfl carbon profile IN OUT [--region R] [--source TEXT]   "
                        "hourly → month × hour-of-day profile\n";
    const char *pos[3] = {0}, *region = NULL, *source = NULL;
    int np = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--region") && i + 1 < argc) region = argv[++i];
        else if (!strcmp(argv[i], "--source") && i + 1 < argc) source = argv[++i];
        else if (argv[i][0] == '-' && argv[i][1]) return hf_seterr(HF_EINPUT, "%sunknown option %s", usage, argv[i]);
        else if (np < 3) pos[np++] = argv[i];
        else return hf_seterr(HF_EINPUT, "%stoo many arguments", usage);
    }
    if (np != 3 || (strcmp(pos[0], "import") && strcmp(pos[0], "profile")))
        return hf_seterr(HF_EINPUT, "%s", usage);
    hf_carbon_t c = {0};
    int rc = region ? hf_carbon_load_eia(&c, pos[1], region) : hf_carbon_load(&c, pos[1]);
    if (!rc && c.n != 1)
        rc = hf_seterr(HF_EINPUT, "%s: holds %d regions; convert one file of one region", pos[1], c.n);
    if (!rc) {
        FILE *f = strcmp(pos[2], "-") ? fopen(pos[2], "w") : out;
        if (!f) rc = hf_seterr(HF_EINPUT, "%s: cannot create", pos[2]);
        else {
            if (!strcmp(pos[0], "import")) rc = hf_carbon_write_trace(&c, 0, f);
            else rc = hf_carbon_write_profile(&c, 0, source ? source : pos[1], f);
            if (f != out && fclose(f) && !rc) rc = hf_seterr(HF_ERUNTIME, "%s: write error", pos[2]);
        }
    }
    hf_carbon_free(&c);
    return rc;
}
