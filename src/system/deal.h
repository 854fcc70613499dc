/*
 * deal.h — exact quotas dealt to client ids: class c gets exactly cnt[c] of
 * the ids [0, n), the ids chosen by a keyed random order.  Device classes
 * (devices.c) and energy regions (energy.c) are dealt this way.
 *
 * Two ways to deal, chosen by `devices.deal` (docs/scale.md):
 *  - permutation: a Fisher–Yates permutation of the n ids; the id at
 *    position pos gets the class whose range [end[c-1], end[c]) holds pos,
 *    kept as one int a client (and the permutation, 4 bytes a client, while
 *    dealing);
 *  - bijection: id k gets the class whose range holds π(k), π the keyed
 *    bijection of [0, n) (hf_rng_bij_t, rng.h), computed when asked: nothing
 *    stored.
 * Both give class c exactly cnt[c] ids; they deal different ids.  auto: the
 * permutation up to HF_DEAL_DENSE_MAX ids (the old cap of federation.clients,
 * so every run that existed before is dealt as it was), the bijection above.
 */
#ifndef HF_DEAL_H
#define HF_DEAL_H
#include "rng.h"

#define HF_DEAL_DENSE_MAX 100000
#define HF_DEAL_MAX_CLASSES 64

enum { HF_DEAL_AUTO, HF_DEAL_PERMUTATION, HF_DEAL_BIJECTION };

typedef struct {
    int n, nclasses;
    int end[HF_DEAL_MAX_CLASSES];  /* class c holds positions [end[c-1], end[c]) */
    int *cls;                      /* class of every id; NULL: from the bijection */
    hf_rng_bij_t bij;
} hf_deal_t;

/* "auto" | "permutation" | "bijection" → HF_DEAL_*; -1 when unknown. */
int hf_deal_mode(const char *name);
/* Whether mode deals n ids by the bijection. */
int hf_deal_uses_bijection(int mode, int n);
/* Deal n ids to nclasses classes of cnt[c] ids each (Σ cnt = n), ordered by
 * the stream r (its state is consumed). */
void hf_deal_init(hf_deal_t *d, hf_rng_t *r, int n, int nclasses, const int *cnt, int mode);
/* The class of every id in d->cls (4 bytes a client), for code that indexes
 * an array; a no-op when it is there already. */
void hf_deal_materialise(hf_deal_t *d);
/* The class of id k. */
int hf_deal_class(const hf_deal_t *d, int k);
void hf_deal_free(hf_deal_t *d);

#endif
