/*
 * carbon.h — grid carbon intensity per region and time (traces/carbon/;
 * docs/ARCHITECTURE.md): carbon_g = energy × intensity of the client's region at the
 * client's simulated time.
 *
 * Sources, one per region (gCO2e/kWh):
 *   - hourly trace   CSV `timestamp,region,gco2_per_kwh` (any number of regions,
 *                    each hourly and increasing); outside its span the series
 *                    repeats with its own length (a year trace repeats yearly);
 *   - EIA-style file `timestamp,WND,...,avg_CI` (one region: the file name up
 *                    to its first '_', e.g. CISO_NG_and_avgCI_2022.csv → CISO;
 *                    empty avg_CI cells are linearly interpolated);
 *   - profile        `region,month,h00,...,h23`: 12 rows of mean intensity by
 *                    UTC month × hour of day (the compact form shipped in
 *                    traces/carbon/, derived from the real 2022 EIA traces);
 *   - country table  a compiled annual figure per country/region code (e.g.
 *                    FR, DE, US-CA) from country_annual_CI.csv — the fallback
 *                    for a region no loaded file defines.
 * Errors are HF_EINPUT "FILE:LINE: reason".
 */
#ifndef HF_CARBON_H
#define HF_CARBON_H
#include <stdint.h>
#include <stdio.h>

typedef enum { HF_CI_HOURLY, HF_CI_PROFILE, HF_CI_CONSTANT } hf_ci_kind_t;

typedef struct {
    char name[16];           /* region code (CISO, FR, ...) */
    hf_ci_kind_t kind;
    int64_t t0;              /* hourly: Unix time of v[0] */
    long n;                  /* hourly: number of hours */
    double *v;               /* hourly: intensity per hour */
    double prof[12][24];     /* profile: [month-1][UTC hour] */
    double constant;         /* constant: annual figure */
    char source[256];        /* file it came from (or "country table") */
} hf_carbon_region_t;

typedef struct {
    int n;
    hf_carbon_region_t *r;
} hf_carbon_t;

/* Load a file (trace, EIA-style or profile, told apart by the header) or every
 * *.csv file of a directory whose header is one of those; regions append to c.
 * A region defined twice is an error. */
int hf_carbon_load(hf_carbon_t *c, const char *path);
/* Load one EIA-style file under an explicit region name (NULL: from the file name). */
int hf_carbon_load_eia(hf_carbon_t *c, const char *path, const char *region);
void hf_carbon_free(hf_carbon_t *c);

/* Index of region `name`; when no loaded source defines it, the country table
 * is consulted and a constant region appended.  -1 when unknown (no message). */
int hf_carbon_resolve(hf_carbon_t *c, const char *name);
/* gCO2e/kWh of region i at Unix time t. */
double hf_carbon_at(const hf_carbon_t *c, int i, int64_t t);
/* Annual figure of a country-table code, NaN when absent. */
double hf_carbon_country(const char *code);

/* Mean intensity by UTC month × hour of region i (hourly regions only);
 * cells with no hours are NaN.  Returns 0 or HF_EINPUT. */
int hf_carbon_profile(const hf_carbon_t *c, int i, double prof[12][24]);
/* Write region i as `timestamp,region,gco2_per_kwh` rows (with header). */
int hf_carbon_write_trace(const hf_carbon_t *c, int i, FILE *f);
/* Write region i's month × hour profile (with a comment header citing `source`). */
int hf_carbon_write_profile(const hf_carbon_t *c, int i, const char *source, FILE *f);

/* ISO 8601 "YYYY-MM-DD[( |T)HH:MM[:SS]][Z|±HH:MM]" → Unix time; -1 on error. */
int hf_time_parse(const char *s, int64_t *t);
/* Unix time → "YYYY-MM-DDTHH:MM:SSZ". */
void hf_time_format(int64_t t, char *buf, size_t n);

/* `hetfl carbon import IN OUT [--region R]` and `hetfl carbon profile IN OUT
 * [--region R]`: argv after "carbon".  Returns 0 or an HF_E* status. */
int hf_carbon_main(int argc, char **argv, FILE *out);

#endif
