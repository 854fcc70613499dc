/*
 * cstore.h — sparse per-client state: a few numbers per client, kept only for
 * the clients that ever had them (docs/scale.md).
 *
 * An open-addressing hash table (linear probing) keyed by client id, sized
 * once for `bound`, the most clients that can ever have an entry (e.g. rounds ×
 * clients per round): a power of two of slots ≥ 2·bound, so at most half full.
 * When that would be as many slots as clients, slot k is client k (direct: no
 * probing, a dense array with a presence mark).  An entry is an 8-byte header
 * (id + 1; 0: empty) and the value, zeroed when created.
 *
 * Determinism: an entry's slot depends only on the ids inserted before it, so
 * the table, its slot order included, is the same on every rank that inserts
 * the same ids in the same order, and after a resume (the table is
 * checkpointed byte for byte: hf_cstore_ckpt_register).  Iterating slots in
 * order is thus deterministic; nothing in the table depends on memory
 * addresses.
 */
#ifndef HF_CSTORE_H
#define HF_CSTORE_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int n;                 /* client ids in [0, n) */
    int direct;            /* slot k is client k */
    long cap;              /* slots */
    long count;            /* entries */
    size_t esize;          /* bytes of a slot: header + value, a multiple of 8 */
    unsigned char *slot;   /* cap slots */
} hf_cstore_t;

/* Bytes the table of n clients, bound entries of vbytes takes (no allocation). */
double hf_cstore_bytes(int n, double bound, size_t vbytes);
void hf_cstore_init(hf_cstore_t *s, int n, double bound, size_t vbytes);
/* Client k's value, or NULL when it has none. */
void *hf_cstore_find(const hf_cstore_t *s, int k);
/* Client k's value, created (zeroed, *created = 1) when it has none.  More
 * entries than the table's slots is a bug of the caller's bound: abort. */
void *hf_cstore_get(hf_cstore_t *s, int k, int *created);
/* The table (and its count) as global checkpoint buffers NAME and NAME_count:
 * every rank must hold the same table (checkpoint.h). */
void hf_cstore_ckpt_register(hf_cstore_t *s, const char *name);
void hf_cstore_free(hf_cstore_t *s);
/* The first occupied slot at or after slot i (cap when none), its client id in
 * *k: for (long i = hf_cstore_next(s, 0, &k); i < s->cap; i = hf_cstore_next(s, i + 1, &k)). */
long hf_cstore_next(const hf_cstore_t *s, long i, int *k);

/*
 * Per-client vectors of `bytes` bytes on the rank hosting the client (SCAFFOLD's
 * c_k, Ditto's v_k, FedDyn's hist_k, FedEM's π_k, top-k's error-feedback
 * memory), allocated zeroed the first time a client asks for one.  A store
 * keyed by k − first maps client k to its vector (an 8-byte pointer, 16 bytes
 * a slot), sized for `bound` clients: the most of this rank's n hosted clients
 * that can ever have one (rounds × clients a round, hf_strat_clients_seen), so
 * the table is 16 × 2^⌈log2(2·bound)⌉ bytes (16 × n when that is more) and the
 * vectors are those of the clients that took part.  Lookups never depend on the
 * table's slot order; the checkpoint (hf_ckpt_register_client_vecs) saves the
 * vectors by client id, so a run resumes on any rank count.
 */
typedef struct hf_cvecs {
    hf_cstore_t map;       /* k − first → void * (bytes bytes) */
    int first;             /* hosted clients [first, first + map.n) */
    size_t bytes;          /* of one vector */
} hf_cvecs_t;

/* Bytes of the table of n hosted clients for bound of them (the vectors excluded). */
double hf_cvecs_table_bytes(int n, double bound);
void hf_cvecs_init(hf_cvecs_t *v, int first, int n, double bound, size_t bytes);
/* Client k's vector; NULL while it has none, unless create (then zeroed). */
void *hf_cvecs_get(hf_cvecs_t *v, int k, int create);
/* Free every vector: no client has one. */
void hf_cvecs_clear(hf_cvecs_t *v);
/* Vectors allocated. */
long hf_cvecs_count(const hf_cvecs_t *v);
void hf_cvecs_free(hf_cvecs_t *v);

#endif
