/*
 * checkpoint.h — checkpoint and bitwise resume (docs/ARCHITECTURE.md, "Reliability").
 *
 * A checkpoint is everything the round loop needs to continue as if it had
 * never stopped.  Random draws are keyed by (seed, purpose, round, client), so
 * the round number implies every RNG position; what remains is a set of
 * buffers, which features declare in a process-wide registry:
 *
 *   hf_ckpt_register("server_m", m, P * sizeof(float));     server / global state
 *   hf_ckpt_register_clients("scaffold_c", c_local, P * sizeof(float));
 *                                                           per-client state
 *
 * Global buffers must be registered on every rank, in the same order, with the
 * same size (ptr may be NULL on ranks that do not keep the buffer); rank 0's
 * bytes are saved and, on resume, every rank with a non-NULL ptr gets them.
 * Per-client buffers hold this rank's block of clients [first, last) (the
 * layout hf_ckpt_begin was given), bytes_per_client each, in client order; they
 * are gathered to rank 0 for saving and scattered by the *new* layout on
 * resume, so a run may resume with a different rank count.  Register after
 * hf_ckpt_begin and before hf_ckpt_restore (i.e. while setting up the run).
 *
 * In the results file: /checkpoint (attr current = 0|1, format) holds two slots
 * /checkpoint/slot0 and /checkpoint/slot1 (attrs round, rows_rounds,
 * rows_participation, ranks; one uint8 dataset per registered buffer, attr
 * per_client_bytes on client buffers, and entries on sparse ones).  A checkpoint is written into the slot
 * that is NOT current, flushed, and only then `current` is switched and the
 * file flushed again: a crash at any instant leaves the old or the new
 * checkpoint intact.  Datasets are rewritten in place (fixed sizes), so the
 * file does not grow with the number of checkpoints.
 */
#ifndef HF_CHECKPOINT_H
#define HF_CHECKPOINT_H
#include <mpi.h>
#include <stddef.h>
#include "h5out.h"

/* Start a run: empty the registry and record the client layout (this rank
 * hosts clients [first, last) of nclients).  Installs the signal handlers
 * (SIGTERM, SIGUSR1, SIGINT) as well. */
void hf_ckpt_begin(MPI_Comm comm, int nclients, int first, int last);
/* End a run: restore the previous signal handlers. */
void hf_ckpt_end(void);

/* Declare server/global state (see above).  name: [A-Za-z0-9_]+, unique. */
void hf_ckpt_register(const char *name, void *ptr, size_t nbytes);
/* Declare per-client state: ptr holds (last - first) * bytes_per_client bytes. */
void hf_ckpt_register_clients(const char *name, void *ptr, size_t bytes_per_client);
/* The same for a buffer the owner may swap (double buffering): *pptr is read
 * at every save and restore. */
void hf_ckpt_register_ref(const char *name, void **pptr, size_t nbytes);
void hf_ckpt_register_clients_ref(const char *name, void **pptr, size_t bytes_per_client);
/* Per-client state allocated lazily: ptrs[k - first] is NULL (all zero) or
 * bytes_per_client bytes.  Restore allocates (hf_alloc_aligned, owner frees
 * with free()) the ones that are not all zero and leaves the others NULL. */
void hf_ckpt_register_client_ptrs(const char *name, void **ptrs, size_t bytes_per_client);
/* Per-client vectors kept sparsely (cstore.h) for this rank's hosted clients,
 * at most `bound` clients of all ranks together (rounds × clients a round: the
 * same figure on every rank count).  Saved as one record per client that has a
 * vector, in client order: its id (int64) and its v->bytes bytes, in a dataset
 * of min(N, bound) records (attr entries: how many are used), so the file holds
 * the participants' vectors, not N of them; restored into the hosting rank's
 * store by the new layout (a client without a record has none). */
struct hf_cvecs;
void hf_ckpt_register_client_vecs(const char *name, struct hf_cvecs *v, double bound);

/* Resume: open FILE for appending (rank 0), check that its /config matches
 * `config` (hf_conf_dump(conf, 0) of this run) up to the keys allowed to
 * differ (run.output, run.checkpoint_every, aggregation.topology).
 * Mismatch or not a results file → HF_EINPUT with a clear message.  Rank 0
 * only; *h is set on success. */
int hf_ckpt_reopen(hf_h5out_t **h, const char *path, const char *config);

/* Collective.  Resume from the current checkpoint of h (rank 0's file; NULL
 * elsewhere): fill every registered buffer, roll /rounds and /participation
 * back to the rows recorded when it was written, and return in *round the
 * number of completed rounds (0 when the file has no checkpoint: the run
 * restarts from round 0 in the same file). */
int hf_ckpt_restore(hf_h5out_t *h, MPI_Comm comm, int *round);

/* Collective; call after round `round` (1-based, completed and recorded).
 * All ranks agree whether a stop signal arrived (MPI_Allreduce).  Writes a
 * checkpoint when every > 0 and round % every == 0 and round < rounds, or when
 * stopping.  Returns 0, an error, or HF_ESIGNAL ("stopped by SIGTERM after
 * round N; checkpoint in FILE ...") when the run must stop. */
int hf_ckpt_round_end(hf_h5out_t *h, int round, int every, int rounds, MPI_Comm comm);

/* Rank 0: make /checkpoint with both slots, every registered buffer (zeros)
 * and every attribute, "current" = -1 (none committed), before the results
 * file is first flushed and published: a checkpoint then only overwrites data
 * in place, so a kill at any write leaves a readable, resumable file.  After
 * the last hf_ckpt_register*; nothing when the file has /checkpoint. */
int hf_ckpt_prepare(hf_h5out_t *h);

/* Write a checkpoint now (collective).  Used by hf_ckpt_round_end. */
int hf_ckpt_save(hf_h5out_t *h, int round, MPI_Comm comm);

/* ---- signals (signals.c) ---- */
/* Install handlers for SIGTERM, SIGUSR1, SIGINT: the first sets a flag, a
 * second one restores the default action and re-raises (immediate exit). */
void hf_signals_install(void);
void hf_signals_restore(void);
/* The signal number received (0 when none). */
int hf_signals_pending(void);
/* "SIGTERM", "SIGUSR1", "SIGINT". */
const char *hf_signals_name(int sig);
/* Collective: a signal received on any rank before the first round (what:
 * "while the run was starting") -> HF_ESIGNAL (exit 3) with the message on
 * every rank; 0 otherwise. */
int hf_signals_stop_early(MPI_Comm comm, const char *what, int resume);
#endif
