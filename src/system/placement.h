/*
 * placement.h — hwloc placement of ranks (docs/ARCHITECTURE.md): each rank
 * is given one device class and bound with hwloc cpubind to that class's
 * number of cores inside the cpuset its launcher (mpirun, srun) gave it.
 *
 * A rank's class is the class with the most cores among the clients it hosts
 * (clients live on contiguous blocks, run.h), so every client it trains finds
 * at least its class's cores; each client still trains with exactly its own
 * class's OpenBLAS thread count (engine/fed.c), which is what the determinism
 * contract needs — binding only shapes wall-clock time.
 *
 * Ranks on one host that were given the same cpuset (no launcher binding, or
 * oversubscription) split it: rank r takes cores starting after those of the
 * lower node-local ranks with the same cpuset, wrapping around.  When the cores
 * do not suffice, rank 0 says so once and ranks share cores deterministically
 * (core index modulo the cores available); nothing fails for lack of cores.
 */
#ifndef HF_PLACEMENT_H
#define HF_PLACEMENT_H
#include <hdf5.h>
#include <hwloc.h>
#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

/* One row of /system/placement. */
typedef struct {
    int32_t rank;
    char host[64];          /* MPI processor name */
    char device_class[32];  /* the rank's class */
    int32_t cores;          /* cores the class asks for */
    int32_t cores_bound;    /* distinct cores in the binding (< cores when scarce) */
    char cpuset[64];        /* the PUs bound, hwloc list syntax ("" = not bound) */
    int32_t first_client, last_client;  /* clients hosted: [first, last], last < first if none */
    int32_t oversubscribed; /* 1 when it shares cores with another rank or got fewer cores */
} hf_place_rec_t;

/* Pure core choice (testable on synthetic topologies): the `want` cores at
 * positions offset, offset+1, ... (modulo the number of cores in `avail`) among
 * the cores of `topo` inside `avail`; `out` = the PUs of those cores inside
 * avail.  *oversub = 1 when want > cores available or the positions wrap.
 * Returns the number of distinct cores chosen (0 when avail holds none). */
int hf_place_choose(hwloc_topology_t topo, hwloc_const_cpuset_t avail, int offset, int want,
                    hwloc_cpuset_t out, int *oversub);

/* Node-local offsets: ranks i of one host with cpuset text set[i] and demand
 * want[i]; offset[i] = Σ want[j] over j < i with the same cpuset text. */
void hf_place_offsets(int n, const int *want, const char *const *set, int *offset);

/* Collective over comm: compute this rank's placement, bind when `bind`
 * (failures to bind are reported in the record, never fatal), gather all
 * records on rank 0 (`all`, size ranks; may be NULL elsewhere).  *note gets a
 * one-line warning on rank 0 when cores are scarce ("" otherwise). */
int hf_placement_setup(MPI_Comm comm, const char *cls, int want, int first_client, int last_client,
                       int bind, hf_place_rec_t *all, char *note, size_t note_len);
/* Cores in this process's cpuset (hetfl validate); 0 when hwloc fails. */
int hf_place_host_cores(void);
/* Restore the binding the process had before hf_placement_setup (if bound). */
void hf_placement_release(void);

/* The table as text, one line per rank (the `placement` attribute, the header). */
void hf_placement_text(const hf_place_rec_t *r, int n, char *buf, size_t len);
/* Write /system/placement (compound dataset) into an open file. */
int hf_placement_write(hid_t file, const hf_place_rec_t *r, int n);

#endif
