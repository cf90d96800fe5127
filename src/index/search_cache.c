/*
 * search_cache.c: full-text hits of recent searches, caught up from the change feed. See
 * search_cache.h.
 *
 * A table of up to MAX_ENTRIES searches (by their text), least recently used evicted first,
 * holding at most MAX_HELD hits together (an entry in use is never evicted). Each entry has its
 * own lock: one catch-up at a time per search, other searches go on.
 */
#include "index/search_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ENTRIES 64
#define MAX_HELD (2u * 1000 * 1000) /* hits of all entries: 32 MB */

typedef struct entry {
    char *key;
    pthread_mutex_t mu; /* guards what follows */
    bool loaded;
    uint64_t gen;        /* the cache's generation it was loaded in */
    int64_t rev;         /* the catalog revision the hits are exactly those of */
    store_fts_hit *hits; /* relevance order (cmp_hit) */
    size_t n;
    /* guarded by search_cache.mu */
    int refs;
    uint64_t used;
    size_t held; /* n as last reported */
} entry;

struct search_cache {
    pthread_mutex_t mu;
    entry *e[MAX_ENTRIES];
    size_t n;
    uint64_t tick;
    size_t held;
    uint64_t gen; /* search_cache_invalidate moves it: older entries reload */
};

search_cache *search_cache_new(void)
{
    search_cache *sc = calloc(1, sizeof(*sc));
    if (sc)
        pthread_mutex_init(&sc->mu, NULL);
    return sc;
}

static void entry_free(entry *en)
{
    pthread_mutex_destroy(&en->mu);
    free(en->key);
    free(en->hits);
    free(en);
}

void search_cache_free(search_cache *sc)
{
    if (!sc)
        return;
    for (size_t i = 0; i < sc->n; i++)
        entry_free(sc->e[i]);
    pthread_mutex_destroy(&sc->mu);
    free(sc);
}

static int cmp_hit(const void *pa, const void *pb)
{
    const store_fts_hit *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score < b->score ? -1 : 1;
    return a->rowid < b->rowid ? -1 : a->rowid > b->rowid;
}

static int cmp_i64(const void *pa, const void *pb)
{
    int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
    return a < b ? -1 : a > b;
}

/* Drops the least recently used entry nobody holds. Caller holds sc->mu. */
static bool evict_one(search_cache *sc)
{
    size_t victim = sc->n;
    for (size_t i = 0; i < sc->n; i++)
        if (sc->e[i]->refs == 0 && (victim == sc->n || sc->e[i]->used < sc->e[victim]->used))
            victim = i;
    if (victim == sc->n)
        return false;
    sc->held -= sc->e[victim]->held;
    entry_free(sc->e[victim]);
    sc->e[victim] = sc->e[--sc->n];
    return true;
}

/* The entry of key, made if new, with a reference taken; NULL when out of memory or every
 * slot is in use (the caller then scans without the cache). */
static entry *acquire(search_cache *sc, const char *key, uint64_t *gen)
{
    pthread_mutex_lock(&sc->mu);
    while (sc->held > MAX_HELD && evict_one(sc))
        ;
    entry *en = NULL;
    for (size_t i = 0; i < sc->n && !en; i++)
        if (strcmp(sc->e[i]->key, key) == 0)
            en = sc->e[i];
    if (!en && (sc->n < MAX_ENTRIES || evict_one(sc)) && (en = calloc(1, sizeof(*en)))) {
        if (!(en->key = strdup(key))) {
            free(en);
            en = NULL;
        } else {
            pthread_mutex_init(&en->mu, NULL);
            sc->e[sc->n++] = en;
        }
    }
    if (en) {
        en->refs++;
        en->used = ++sc->tick;
    }
    *gen = sc->gen;
    pthread_mutex_unlock(&sc->mu);
    return en;
}

static void release(search_cache *sc, entry *en, size_t n)
{
    pthread_mutex_lock(&sc->mu);
    sc->held = sc->held - en->held + n;
    en->held = n;
    en->refs--;
    pthread_mutex_unlock(&sc->mu);
}

/* Replaces the entry's hits by a full scan's (in no order). */
static int load(entry *en, const store_fts_hit *h, size_t n)
{
    store_fts_hit *hits = malloc((n ? n : 1) * sizeof(*hits));
    if (!hits)
        return -1;
    if (n)
        memcpy(hits, h, n * sizeof(*hits));
    if (n > 1)
        qsort(hits, n, sizeof(*hits), cmp_hit);
    free(en->hits);
    en->hits = hits;
    en->n = n;
    return 0;
}

/* Applies a catch-up: every changed artifact leaves the hits, those still matching come back
 * with their new score; the order is kept by a merge. d is reordered. */
static int catch_up(entry *en, store_fts_hit *d, size_t nd)
{
    if (!nd)
        return 0;
    int64_t *changed = malloc(nd * sizeof(*changed));
    store_fts_hit *hits = malloc((en->n + nd) * sizeof(*hits));
    if (!changed || !hits) {
        free(changed);
        free(hits);
        return -1;
    }
    size_t nm = 0;
    for (size_t i = 0; i < nd; i++) {
        changed[i] = d[i].rowid;
        if (d[i].match)
            d[nm++] = d[i];
    }
    qsort(changed, nd, sizeof(*changed), cmp_i64);
    if (nm > 1)
        qsort(d, nm, sizeof(*d), cmp_hit);
    size_t o = 0, j = 0;
    for (size_t i = 0; i < en->n; i++) {
        const store_fts_hit *h = &en->hits[i];
        if (bsearch(&h->rowid, changed, nd, sizeof(*changed), cmp_i64))
            continue;
        while (j < nm && cmp_hit(&d[j], h) < 0)
            hits[o++] = d[j++];
        hits[o++] = *h;
    }
    while (j < nm)
        hits[o++] = d[j++];
    free(changed);
    free(en->hits);
    en->hits = hits;
    en->n = o;
    return 0;
}

int search_cache_hits(store_fts_hit **out, size_t *n, bool *supported, search_cache *sc,
                      store_tx *tx, const char *search, int64_t min_rev, arena *a, err *e)
{
    *out = NULL;
    *n = 0;
    uint64_t gen;
    entry *en = acquire(sc, search, &gen);
    if (!en) { /* every entry busy: one full scan, as the SQL path would do */
        int64_t rev;
        if (store_fts_scan(out, n, &rev, supported, tx, search, -1, a, e) < 0)
            return -1;
        if (*n > 1)
            qsort(*out, *n, sizeof(**out), cmp_hit);
        return 0;
    }
    int rc = -1;
    pthread_mutex_lock(&en->mu);
    *supported = true;
    if (en->gen != gen)
        en->loaded = false;
    if (!en->loaded || min_rev <= 0 || en->rev < min_rev) {
        /* Scanned in an arena of the caller's: freed with the request. */
        store_fts_hit *d;
        size_t nd;
        int64_t rev;
        if (store_fts_scan(&d, &nd, &rev, supported, tx, search, en->loaded ? en->rev : -1, a,
                           e) < 0)
            goto out;
        if (!*supported) {
            rc = 0;
            goto out;
        }
        /* A snapshot older than the entry (another request caught it up meanwhile) sees no
         * change after the entry's revision: nothing to apply. */
        if (!en->loaded || rev > en->rev) {
            if ((en->loaded ? catch_up(en, d, nd) : load(en, d, nd)) < 0) {
                en->loaded = false; /* rebuilt whole next time */
                err_set(e, ERR_SERVER, "search cache: out of memory");
                goto out;
            }
            en->loaded = true;
            en->gen = gen;
            en->rev = rev;
        }
    }
    store_fts_hit *copy = arena_array(a, store_fts_hit, en->n ? en->n : 1);
    if (en->n)
        memcpy(copy, en->hits, en->n * sizeof(*copy));
    *out = copy;
    *n = en->n;
    rc = 0;
out:;
    size_t held = en->loaded ? en->n : 0;
    pthread_mutex_unlock(&en->mu);
    release(sc, en, held);
    return rc;
}

void search_cache_invalidate(search_cache *sc)
{
    if (!sc)
        return;
    pthread_mutex_lock(&sc->mu);
    sc->gen++;
    pthread_mutex_unlock(&sc->mu);
}
