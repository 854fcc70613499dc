/*
 * cstore.c — sparse per-client state in an open-addressing hash table keyed
 * by client id (see cstore.h).
 */
#include "cstore.h"
#include "checkpoint.h"
#include "hf_util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* slots for bound entries: the least power of two >= 2·bound, or n (direct)
 * when that is no fewer */
static long slots_for(int n, double bound, int *direct)
{
    long cap = 1;
    while ((double)cap < 2.0 * bound && cap < n) cap *= 2;
    *direct = cap >= n;
    return *direct ? HF_MAX(n, 1) : cap;
}

static size_t slot_bytes(size_t vbytes) { return 8 + (vbytes + 7) / 8 * 8; }

double hf_cstore_bytes(int n, double bound, size_t vbytes)
{
    int direct;
    return (double)slots_for(n, bound, &direct) * (double)slot_bytes(vbytes);
}

void hf_cstore_init(hf_cstore_t *s, int n, double bound, size_t vbytes)
{
    memset(s, 0, sizeof *s);
    s->n = n;
    s->cap = slots_for(n, bound, &s->direct);
    s->esize = slot_bytes(vbytes);
    s->slot = hf_calloc((size_t)s->cap, s->esize);  /* untouched pages stay unmapped */
}

/* the slot of client k, or of the empty slot where it would go */
static unsigned char *probe(const hf_cstore_t *s, int k)
{
    if (s->direct) return s->slot + (size_t)k * s->esize;
    /* Fibonacci hashing: the top log2(cap) bits of k times 2^64 / golden ratio */
    uint64_t mask = (uint64_t)s->cap - 1, h = (uint64_t)k * 0x9E3779B97F4A7C15ull;
    uint64_t i = s->cap > 1 ? h >> (64 - __builtin_ctzl((unsigned long)s->cap)) : 0;
    for (;;) {
        unsigned char *e = s->slot + i * s->esize;
        int64_t id;
        memcpy(&id, e, sizeof id);
        if (id == 0 || id == (int64_t)k + 1) return e;
        i = (i + 1) & mask;
    }
}

void *hf_cstore_find(const hf_cstore_t *s, int k)
{
    unsigned char *e = probe(s, k);
    int64_t id;
    memcpy(&id, e, sizeof id);
    return id ? e + 8 : NULL;
}

void *hf_cstore_get(hf_cstore_t *s, int k, int *created)
{
    unsigned char *e = probe(s, k);
    int64_t id;
    memcpy(&id, e, sizeof id);
    *created = id == 0;
    if (id == 0) {
        if (!s->direct && 2 * (s->count + 1) > s->cap) {
            fprintf(stderr, "hetfl: internal error: sparse client state past its bound (%ld entries)\n",
                    s->count);
            abort();
        }
        id = (int64_t)k + 1;
        memcpy(e, &id, sizeof id);
        s->count++;
    }
    return e + 8;
}

void hf_cstore_ckpt_register(hf_cstore_t *s, const char *name)
{
    char cn[128];
    snprintf(cn, sizeof cn, "%s_count", name);
    hf_ckpt_register(name, s->slot, (size_t)s->cap * s->esize);
    hf_ckpt_register(cn, &s->count, sizeof s->count);
}

void hf_cstore_free(hf_cstore_t *s)
{
    free(s->slot);
    memset(s, 0, sizeof *s);
}

long hf_cstore_next(const hf_cstore_t *s, long i, int *k)
{
    for (; i < s->cap; i++) {
        int64_t id;
        memcpy(&id, s->slot + (size_t)i * s->esize, sizeof id);
        if (id) {
            *k = (int)(id - 1);
            return i;
        }
    }
    return s->cap;
}

/* ------------------------------------------------- per-client vectors --- */

double hf_cvecs_table_bytes(int n, double bound) { return hf_cstore_bytes(n, bound, sizeof(void *)); }

void hf_cvecs_init(hf_cvecs_t *v, int first, int n, double bound, size_t bytes)
{
    hf_cstore_init(&v->map, n, HF_MIN(bound, (double)n), sizeof(void *));
    v->first = first;
    v->bytes = bytes;
}

void *hf_cvecs_get(hf_cvecs_t *v, int k, int create)
{
    void **e = create ? NULL : hf_cstore_find(&v->map, k - v->first);
    if (!create) return e ? *e : NULL;
    int created;
    e = hf_cstore_get(&v->map, k - v->first, &created);
    if (created) *e = hf_alloc_aligned(v->bytes);  /* zeroed */
    return *e;
}

long hf_cvecs_count(const hf_cvecs_t *v) { return v->map.count; }

static void free_vectors(hf_cvecs_t *v)
{
    int k;
    for (long i = hf_cstore_next(&v->map, 0, &k); i < v->map.cap; i = hf_cstore_next(&v->map, i + 1, &k)) {
        void *p;
        memcpy(&p, v->map.slot + (size_t)i * v->map.esize + 8, sizeof p);
        free(p);
    }
}

void hf_cvecs_clear(hf_cvecs_t *v)
{
    free_vectors(v);
    free(v->map.slot);  /* a fresh zeroed table: its pages unmapped again */
    v->map.slot = hf_calloc((size_t)v->map.cap, v->map.esize);
    v->map.count = 0;
}

void hf_cvecs_free(hf_cvecs_t *v)
{
    free_vectors(v);
    hf_cstore_free(&v->map);
    v->first = 0;
    v->bytes = 0;
}
