/*
 * rapl.h — measured energy from Intel/AMD RAPL counters through the Linux
 * powercap sysfs interface (stored beside the model figure,
 * never instead of it).
 *
 * Zones read: every package domain `intel-rapl:N` (name "package-N") and its
 * DRAM subdomain `intel-rapl:N:M` whose `name` is "dram".  Core/uncore
 * subdomains are inside the package figure and are not added again.  Each
 * zone's `energy_uj` counter wraps at `max_energy_range_uj`: a reading smaller
 * than the previous one counts max − before + now.
 *
 * The root directory is a setting (energy.rapl_root) so tests run against a fake
 * tree.  Absent or unreadable counters give NaN and one warning per process.
 */
#ifndef HF_RAPL_H
#define HF_RAPL_H
#include <stdint.h>
#include <stdio.h>

#define HF_RAPL_MAX_ZONES 32

typedef struct {
    char path[512];          /* directory of the zone (contains energy_uj) */
    char name[32];           /* contents of its `name` file */
    uint64_t max_range_uj;   /* max_energy_range_uj: the counter wraps here */
    uint64_t last_uj;        /* reading at hf_rapl_begin */
} hf_rapl_zone_t;

typedef struct {
    int nzones;              /* 0: no usable counters (all readings NaN) */
    int npackages;           /* package zones among them */
    hf_rapl_zone_t z[HF_RAPL_MAX_ZONES];
    int started;             /* hf_rapl_begin succeeded */
} hf_rapl_t;

/* Scan `root` (e.g. /sys/class/powercap) for package and dram zones.  Returns the
 * number of usable zones; when 0, prints one warning (per process) to `warn`
 * unless warn is NULL.  Never fails hard. */
int hf_rapl_open(hf_rapl_t *r, const char *root, FILE *warn);
/* Read every counter now (start of a measured interval). */
void hf_rapl_begin(hf_rapl_t *r);
/* Joules (package + dram, all sockets) since hf_rapl_begin, counter wrap-around
 * handled; NaN when no counters or a read fails. */
double hf_rapl_end(hf_rapl_t *r);
/* Share of a node-wide figure attributed to work that used `cores` of the
 * node's `online` cores: e·cores/online (NaN stays NaN). */
double hf_rapl_attribute(double joules, int cores, int online);
/* Reset the once-per-process warning (tests). */
void hf_rapl_reset_warning(void);

#endif
