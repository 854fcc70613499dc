/*
 * provenance.h — what a results file needs to explain itself: the build (source
 * commit, dirty flag, compiler and flags, configure arguments; recorded when the
 * binary was built), the libraries it runs on (MPI, HDF5, OpenBLAS, hwloc), the
 * input files it read (path, SHA-256), and how the run ended.
 *
 * Inputs: every reader of a data, trace, device, carbon or topology file calls
 * hf_inputs_note(path) once it has opened the file; the results writer
 * (h5out.c) hashes the noted files and stores them as root attributes.
 *
 * Status: hf_h5out_open writes status = "running"; after the run returns,
 * hf_prov_finish(path, rc) rewrites status, exit_code and end_time in place
 * (the attributes exist from the start, so a file killed at any instant still
 * has them, saying "running").
 */
#ifndef HF_PROVENANCE_H
#define HF_PROVENANCE_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <hdf5.h>

/* ---- input files ---- */
/* Record that `path` was read as an input (duplicates are ignored). */
void hf_inputs_note(const char *path);
int hf_inputs_count(void);
const char *hf_inputs_path(int i);       /* absolute where it could be resolved */
void hf_inputs_clear(void);

/* SHA-256 of a whole file, as 64 lowercase hex digits; -1 when unreadable. */
int hf_sha256_file(const char *path, char hex[65]);
/* SHA-256 of a buffer (tests). */
void hf_sha256(const void *data, size_t n, unsigned char out[32]);

/* ---- build and libraries ---- */
typedef struct {
    const char *git_commit;     /* 40 hex digits, or "unknown" outside a git checkout */
    const char *git_dirty;      /* "yes", "no" or "unknown" */
    const char *compiler;       /* `$CC --version`, first line */
    const char *cflags;         /* the flags hetfl was compiled with */
    const char *configure_args; /* ./configure arguments */
    const char *built;          /* when the build information was recorded (ISO 8601) */
} hf_build_info_t;
const hf_build_info_t *hf_build_info(void);
/* Run-time library versions: "MPI 3.1: Open MPI v4.1.4, ...", "1.10.8", ... */
void hf_lib_versions(char *mpi, size_t nmpi, char *hdf5, size_t nhdf5, char *blas, size_t nblas,
                     char *hwloc, size_t nhwloc);
/* `hetfl version`: version, build and libraries, one "key: value" per line. */
void hf_version_print(FILE *out);

/* ---- results-file attributes (rank 0) ---- */
/* Write the provenance attributes on the root of an open results file: build,
 * libraries, input checksums, start_time, and status = "running" with exit_code
 * and end_time placeholders.  Called by hf_h5out_open; on resume by
 * hf_h5out_reopen (status back to "running", inputs and start kept). */
int hf_prov_write(hid_t file, int resumed);
/* After the run: when `path` is the file this process opened (same run_id),
 * set status (completed | stopped | failed), exit_code (rc) and end_time, and
 * status_detail (the error message, "" on success).  0 when there is nothing
 * to do (no file was opened, e.g. bad input before the run). */
int hf_prov_finish(const char *path, int rc, const char *detail);
/* "completed", "stopped" or "failed" for an exit status. */
const char *hf_prov_status_name(int rc);

#endif
