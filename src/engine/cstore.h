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

#endif
