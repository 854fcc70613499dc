/*
 * placement.c — hwloc placement and binding of ranks (contracts in placement.h).
 *
 * The launcher's cpuset is the process binding at start (mpirun --bind-to,
 * srun --cpu-bind) intersected with the allowed cpuset (cgroups).  Within it a
 * rank binds to its class's core count; ranks of one host sharing the same
 * cpuset take consecutive cores, wrapping around (oversubscription) when there
 * are too few.  Binding is a wall-clock matter only: results never depend on
 * it (each client trains with its class's OpenBLAS thread count).
 */
#include "placement.h"
#include "hf_util.h"
#include "h5out.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hf_place_choose(hwloc_topology_t topo, hwloc_const_cpuset_t avail, int offset, int want,
                    hwloc_cpuset_t out, int *oversub)
{
    hwloc_bitmap_zero(out);
    *oversub = 0;
    hwloc_obj_type_t type = HWLOC_OBJ_CORE;
    int n = hwloc_get_nbobjs_inside_cpuset_by_type(topo, avail, type);
    if (n <= 0) {  /* no core objects (unusual topology): fall back to PUs */
        type = HWLOC_OBJ_PU;
        n = hwloc_get_nbobjs_inside_cpuset_by_type(topo, avail, type);
    }
    if (n <= 0 || want <= 0) return 0;
    if (want > n || offset % n + want > n || offset >= n) *oversub = 1;
    int take = want < n ? want : n;
    for (int i = 0; i < take; i++) {
        hwloc_obj_t o = hwloc_get_obj_inside_cpuset_by_type(topo, avail, type, (unsigned)((offset + i) % n));
        if (o) hwloc_bitmap_or(out, out, o->cpuset);
    }
    hwloc_bitmap_and(out, out, avail);
    return take;
}

void hf_place_offsets(int n, const int *want, const char *const *set, int *offset)
{
    for (int i = 0; i < n; i++) {
        offset[i] = 0;
        for (int j = 0; j < i; j++)
            if (!strcmp(set[i], set[j])) offset[i] += want[j];
    }
}

static hwloc_topology_t g_topo;      /* kept for hf_placement_release */
static hwloc_cpuset_t g_saved;       /* binding before we bound */

#define SETLEN 256

int hf_placement_setup(MPI_Comm comm, const char *cls, int want, int first_client, int last_client,
                       int bind, hf_place_rec_t *all, char *note, size_t note_len)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    if (note && note_len) note[0] = 0;
    hf_place_rec_t me;
    memset(&me, 0, sizeof me);
    me.rank = rank;
    char host[MPI_MAX_PROCESSOR_NAME] = {0};
    int len = 0;
    MPI_Get_processor_name(host, &len);
    snprintf(me.host, sizeof me.host, "%s", host);
    snprintf(me.device_class, sizeof me.device_class, "%s", cls);
    me.cores = want;
    me.first_client = first_client;
    me.last_client = last_client;

    hwloc_topology_t topo = NULL;
    int have_topo = hwloc_topology_init(&topo) == 0 && hwloc_topology_load(topo) == 0;
    hwloc_cpuset_t avail = hwloc_bitmap_alloc(), chosen = hwloc_bitmap_alloc();
    char myset[SETLEN] = "";
    if (have_topo) {
        hwloc_bitmap_copy(avail, hwloc_topology_get_allowed_cpuset(topo));
        hwloc_cpuset_t cur = hwloc_bitmap_alloc();
        if (hwloc_get_cpubind(topo, cur, HWLOC_CPUBIND_PROCESS) == 0 && !hwloc_bitmap_iszero(cur)) {
            hwloc_bitmap_and(cur, cur, avail);
            if (!hwloc_bitmap_iszero(cur)) hwloc_bitmap_copy(avail, cur);
        }
        hwloc_bitmap_free(cur);
        hwloc_bitmap_list_snprintf(myset, sizeof myset, avail);
    }
    /* node-local ranks with the same launcher cpuset split it */
    MPI_Comm node;
    MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
    int nr, nsize;
    MPI_Comm_rank(node, &nr);
    MPI_Comm_size(node, &nsize);
    int *wants = hf_calloc((size_t)nsize, sizeof(int)), *offs = hf_calloc((size_t)nsize, sizeof(int));
    char *sets = hf_calloc((size_t)nsize, SETLEN);
    const char **setp = hf_calloc((size_t)nsize, sizeof(char *));
    MPI_Allgather(&want, 1, MPI_INT, wants, 1, MPI_INT, node);
    MPI_Allgather(myset, SETLEN, MPI_CHAR, sets, SETLEN, MPI_CHAR, node);
    for (int i = 0; i < nsize; i++) setp[i] = sets + (size_t)i * SETLEN;
    hf_place_offsets(nsize, wants, setp, offs);
    int oversub = 0;
    if (have_topo) {
        me.cores_bound = hf_place_choose(topo, avail, offs[nr], want, chosen, &oversub);
        me.oversubscribed = oversub;
        if (bind && me.cores_bound > 0) {
            hwloc_cpuset_t saved = hwloc_bitmap_alloc();
            int got = hwloc_get_cpubind(topo, saved, HWLOC_CPUBIND_PROCESS) == 0;
            if (hwloc_set_cpubind(topo, chosen, HWLOC_CPUBIND_PROCESS) == 0) {
                hwloc_bitmap_list_snprintf(me.cpuset, sizeof me.cpuset, chosen);
                if (got && !g_saved) {
                    g_saved = saved;
                    saved = NULL;
                    g_topo = topo;
                    topo = NULL;
                }
            }
            if (saved) hwloc_bitmap_free(saved);
        }
    } else {
        me.oversubscribed = 1;
    }
    free(wants); free(offs); free(sets); free(setp);
    MPI_Comm_free(&node);
    hwloc_bitmap_free(avail);
    hwloc_bitmap_free(chosen);
    if (topo) hwloc_topology_destroy(topo);

    MPI_Gather(&me, (int)sizeof me, MPI_BYTE, all, (int)sizeof me, MPI_BYTE, 0, comm);
    if (rank == 0 && note && note_len) {
        int nov = 0, unb = 0;
        for (int r = 0; r < size; r++) {
            nov += all[r].oversubscribed;
            unb += bind && !all[r].cpuset[0];
        }
        size_t l = 0;
        if (nov)
            l += (size_t)snprintf(note + l, note_len - l, "placement: %d of %d rank%s could not get "
                                  "their class's cores to themselves; sharing cores (oversubscribed, "
                                  "round-robin by node-local rank)", nov, size, size == 1 ? "" : "s");
        if (unb && l < note_len)
            snprintf(note + l, note_len - l, "%splacement: %d rank%s not bound (hwloc cpubind "
                     "unavailable)", l ? "\n" : "", unb, unb == 1 ? "" : "s");
    }
    return 0;
}

int hf_place_host_cores(void)
{
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) != 0) return 0;
    int n = 0;
    if (hwloc_topology_load(topo) == 0) {
        hwloc_cpuset_t set = hwloc_bitmap_alloc();
        if (hwloc_get_cpubind(topo, set, HWLOC_CPUBIND_PROCESS) != 0 || hwloc_bitmap_iszero(set))
            hwloc_bitmap_copy(set, hwloc_topology_get_allowed_cpuset(topo));
        n = hwloc_get_nbobjs_inside_cpuset_by_type(topo, set, HWLOC_OBJ_CORE);
        hwloc_bitmap_free(set);
    }
    hwloc_topology_destroy(topo);
    return n;
}

void hf_placement_release(void)
{
    if (g_topo && g_saved) hwloc_set_cpubind(g_topo, g_saved, HWLOC_CPUBIND_PROCESS);
    if (g_saved) hwloc_bitmap_free(g_saved);
    if (g_topo) hwloc_topology_destroy(g_topo);
    g_saved = NULL;
    g_topo = NULL;
}

void hf_placement_text(const hf_place_rec_t *r, int n, char *buf, size_t len)
{
    size_t l = (size_t)snprintf(buf, len, "rank host class cores bound cpuset clients\n");
    for (int i = 0; i < n && l < len; i++) {
        char cl[48];
        if (r[i].last_client >= r[i].first_client)
            snprintf(cl, sizeof cl, "%d-%d", r[i].first_client, r[i].last_client);
        else
            snprintf(cl, sizeof cl, "none");
        l += (size_t)snprintf(buf + l, len - l, "%d %s %s %d %d %s %s%s\n", r[i].rank, r[i].host,
                              r[i].device_class, r[i].cores, r[i].cores_bound,
                              r[i].cpuset[0] ? r[i].cpuset : "-", cl,
                              r[i].oversubscribed ? " oversubscribed" : "");
    }
}

/* /system/placement's units and descriptions (docs/results.md) */
static const hf_col_doc_t place_cols[] = {
    {"rank", "", "MPI rank"},
    {"host", "", "host name (MPI_Get_processor_name)"},
    {"device_class", "", "the rank's device class, the one with the most cores among its clients "
                         "(- when it hosts no client)"},
    {"cores", "cores", "cores the class asks for"},
    {"cores_bound", "cores", "distinct cores in the binding (fewer when the cpuset is smaller)"},
    {"cpuset", "", "PUs bound, hwloc list syntax (empty when not bound)"},
    {"first_client", "", "first client it hosts"},
    {"last_client", "", "last client it hosts (less than first_client: none)"},
    {"oversubscribed", "1", "1 when it shares cores with another rank or got fewer cores than its "
                            "class asks, else 0"},
    {NULL, NULL, NULL}};

int hf_placement_write(hid_t file, const hf_place_rec_t *r, int n)
{
    hid_t s64 = H5Tcopy(H5T_C_S1), s32 = H5Tcopy(H5T_C_S1);
    H5Tset_size(s64, 64);
    H5Tset_size(s32, 32);
    H5Tset_strpad(s64, H5T_STR_NULLTERM);
    H5Tset_strpad(s32, H5T_STR_NULLTERM);
    H5Tset_cset(s64, H5T_CSET_UTF8);
    H5Tset_cset(s32, H5T_CSET_UTF8);
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(hf_place_rec_t));
#define F(name, type) H5Tinsert(t, #name, offsetof(hf_place_rec_t, name), type)
    F(rank, H5T_NATIVE_INT32);
    F(host, s64);
    F(device_class, s32);
    F(cores, H5T_NATIVE_INT32);
    F(cores_bound, H5T_NATIVE_INT32);
    F(cpuset, s64);
    F(first_client, H5T_NATIVE_INT32);
    F(last_client, H5T_NATIVE_INT32);
    F(oversubscribed, H5T_NATIVE_INT32);
#undef F
    hsize_t dim = (hsize_t)n;
    hid_t sp = H5Screate_simple(1, &dim, NULL);
    hid_t d = H5Dcreate2(file, "/system/placement", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = d < 0 ? -1 : H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, r);
    if (d >= 0) {
        hf_h5out_describe(d, "one row per MPI rank: its host, device class and core binding "
                          "(docs/results.md)", place_cols);
        H5Dclose(d);
    }
    H5Sclose(sp);
    H5Tclose(t);
    H5Tclose(s64);
    H5Tclose(s32);
    return e < 0 ? hf_seterr(HF_ERUNTIME, "HDF5: cannot write /system/placement") : 0;
}
