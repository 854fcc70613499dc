/*
 * rapl.c — RAPL counters through /sys/class/powercap (see rapl.h).
 */
#include "rapl.h"
#include "hf_util.h"
#include <dirent.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int warned;

void hf_rapl_reset_warning(void) { warned = 0; }

static int read_line(const char *dir, const char *file, char *buf, size_t n)
{
    char p[640];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    char why[256];  /* energy.rapl_root is user input: a FIFO there must not block (hf_util.h) */
    int fd = hf_input_open_why(p, 1 << 20, why, sizeof why);
    FILE *f = fd < 0 ? NULL : fdopen(fd, "r");
    if (!f) {
        if (fd >= 0) close(fd);
        return -1;
    }
    int ok = fgets(buf, (int)n, f) != NULL;
    fclose(f);
    if (!ok) return -1;
    buf[strcspn(buf, "\r\n")] = 0;
    return 0;
}

static int read_u64(const char *dir, const char *file, uint64_t *v)
{
    char b[64], *end;
    if (read_line(dir, file, b, sizeof b)) return -1;
    unsigned long long x = strtoull(b, &end, 10);
    if (end == b) return -1;
    *v = (uint64_t)x;
    return 0;
}

/* "intel-rapl:N" → depth 1, "intel-rapl:N:M" → depth 2, anything else 0 */
static int zone_depth(const char *d)
{
    const char *pre = "intel-rapl:";
    if (strncmp(d, pre, strlen(pre))) return 0;
    const char *s = d + strlen(pre);
    int depth = 0;
    for (;;) {
        if (*s < '0' || *s > '9') return 0;
        while (*s >= '0' && *s <= '9') s++;
        depth++;
        if (!*s) return depth;
        if (*s != ':') return 0;
        s++;
    }
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void warn_once(FILE *warn, const char *root, const char *why)
{
    if (warn && !warned)
        fprintf(warn, "warning: measured energy unavailable (%s: %s); energy_j_measured columns "
                "are NaN\n", root, why);
    warned = 1;
}

int hf_rapl_open(hf_rapl_t *r, const char *root, FILE *warn)
{
    memset(r, 0, sizeof *r);
    DIR *d = opendir(root);
    if (!d) { warn_once(warn, root, "cannot open the powercap directory"); return 0; }
    char *names[256];
    int nn = 0;
    struct dirent *e;
    while ((e = readdir(d)) && nn < 256)
        if (zone_depth(e->d_name)) names[nn++] = strdup(e->d_name);
    closedir(d);
    qsort(names, (size_t)nn, sizeof *names, cmp_str);
    for (int i = 0; i < nn; i++) {
        int depth = zone_depth(names[i]);
        hf_rapl_zone_t z = {0};
        snprintf(z.path, sizeof z.path, "%s/%s", root, names[i]);
        uint64_t now;
        if (read_line(z.path, "name", z.name, sizeof z.name) ||
            read_u64(z.path, "max_energy_range_uj", &z.max_range_uj) ||
            read_u64(z.path, "energy_uj", &now))
            continue;   /* unreadable (e.g. root-only since CVE-2020-8694): skip */
        int pkg = depth == 1 && !strncmp(z.name, "package", 7);
        int dram = depth == 2 && !strcmp(z.name, "dram");
        if ((!pkg && !dram) || r->nzones >= HF_RAPL_MAX_ZONES) continue;
        r->z[r->nzones++] = z;
        r->npackages += pkg;
    }
    for (int i = 0; i < nn; i++) free(names[i]);
    if (r->nzones == 0 || r->npackages == 0) {
        r->nzones = 0;
        warn_once(warn, root, nn ? "zones present but unreadable" : "no intel-rapl zones");
    }
    return r->nzones;
}

void hf_rapl_begin(hf_rapl_t *r)
{
    r->started = r->nzones > 0;
    for (int i = 0; i < r->nzones; i++)
        if (read_u64(r->z[i].path, "energy_uj", &r->z[i].last_uj)) r->started = 0;
}

double hf_rapl_end(hf_rapl_t *r)
{
    if (!r->started) return NAN;
    double uj = 0.0;
    for (int i = 0; i < r->nzones; i++) {
        uint64_t now;
        if (read_u64(r->z[i].path, "energy_uj", &now)) return NAN;
        uint64_t before = r->z[i].last_uj;
        uint64_t d = now >= before ? now - before : r->z[i].max_range_uj - before + now;
        uj += (double)d;
        r->z[i].last_uj = now;
    }
    return uj * 1e-6;
}

double hf_rapl_attribute(double joules, int cores, int online)
{
    if (online <= 0 || cores <= 0) return joules;
    if (cores > online) cores = online;
    return joules * (double)cores / (double)online;
}
