/*
 * facet_index.c: facet counts from compressed bitmaps, kept current from the store's change
 * feed. See facet_index.h.
 *
 * Layout: artifacts are numbered densely as they are first seen (never reused; a purged row
 * just stays out of every live bitmap). Each number records its current org, kind and facet
 * values so a change can take it out of the bitmaps it was in before adding it to the new
 * ones. Bitmaps: per kind, live, visible (public and enabled), per org, per (facet, value).
 */
#include "index/facet_index.h"

#include <pthread.h>
#include <roaring/roaring.h>
#include <stdlib.h>
#include <string.h>

/* ---- a string -> uint32 map (open addressing, FNV-1a) ---- */
typedef struct smap {
    char **keys;
    uint32_t *vals;
    size_t cap, n;
} smap;

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static bool smap_get(const smap *m, const char *k, uint32_t *v)
{
    if (!m->cap)
        return false;
    for (size_t i = fnv(k) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->keys[i])
            return false;
        if (strcmp(m->keys[i], k) == 0) {
            *v = m->vals[i];
            return true;
        }
    }
}

static int smap_put(smap *m, const char *k, uint32_t v)
{
    if ((m->n + 1) * 10 >= m->cap * 7) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        char **keys = calloc(cap, sizeof(*keys));
        uint32_t *vals = calloc(cap, sizeof(*vals));
        if (!keys || !vals) {
            free(keys);
            free(vals);
            return -1;
        }
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->keys[i])
                continue;
            size_t j = fnv(m->keys[i]) & (cap - 1);
            while (keys[j])
                j = (j + 1) & (cap - 1);
            keys[j] = m->keys[i];
            vals[j] = m->vals[i];
        }
        free(m->keys);
        free(m->vals);
        m->keys = keys;
        m->vals = vals;
        m->cap = cap;
    }
    size_t i = fnv(k) & (m->cap - 1);
    while (m->keys[i])
        i = (i + 1) & (m->cap - 1);
    if (!(m->keys[i] = strdup(k)))
        return -1;
    m->vals[i] = v;
    m->n++;
    return 0;
}

static void smap_free(smap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->vals);
}

/* ---- the index ---- */

/* One facet's values: names by number, and a bitmap each. */
typedef struct facet_values {
    smap ids;
    char **names;
    roaring_bitmap_t **bm;
    uint32_t n, cap;
} facet_values;

/* What an artifact number currently is. */
typedef struct art {
    uint32_t org;
    uint8_t kind; /* 0 models, 1 capabilities */
    bool live, visible;
    uint32_t nvals;
    uint32_t *vals; /* (facet << 24) | value number */
} art;

struct facet_index {
    pthread_rwlock_t lock;
    pthread_mutex_t sync_lock; /* one catch-up at a time */
    bool loaded;
    int64_t rev;
    smap art_ids;
    art *arts;
    uint32_t narts, cap_arts;
    smap org_ids;
    roaring_bitmap_t **org_bm;
    uint32_t norgs, cap_orgs;
    roaring_bitmap_t *kind_bm[2], *live_bm, *visible_bm;
    uint32_t *by_rowid; /* integer key (SQLite rowid, PostgreSQL seq) -> number + 1 (0: none) */
    uint32_t cap_rowid;
    facet_values facet[STORE_FACETS];
};

facet_index *facet_index_new(void)
{
    facet_index *ix = calloc(1, sizeof(*ix));
    if (!ix)
        return NULL;
    pthread_rwlock_init(&ix->lock, NULL);
    pthread_mutex_init(&ix->sync_lock, NULL);
    ix->kind_bm[0] = roaring_bitmap_create();
    ix->kind_bm[1] = roaring_bitmap_create();
    ix->live_bm = roaring_bitmap_create();
    ix->visible_bm = roaring_bitmap_create();
    return ix;
}

void facet_index_free(facet_index *ix)
{
    if (!ix)
        return;
    for (uint32_t i = 0; i < ix->narts; i++)
        free(ix->arts[i].vals);
    free(ix->arts);
    free(ix->by_rowid);
    smap_free(&ix->art_ids);
    for (uint32_t i = 0; i < ix->norgs; i++)
        roaring_bitmap_free(ix->org_bm[i]);
    free(ix->org_bm);
    smap_free(&ix->org_ids);
    roaring_bitmap_free(ix->kind_bm[0]);
    roaring_bitmap_free(ix->kind_bm[1]);
    roaring_bitmap_free(ix->live_bm);
    roaring_bitmap_free(ix->visible_bm);
    for (int f = 0; f < STORE_FACETS; f++) {
        facet_values *fv = &ix->facet[f];
        for (uint32_t i = 0; i < fv->n; i++) {
            free(fv->names[i]);
            roaring_bitmap_free(fv->bm[i]);
        }
        free(fv->names);
        free(fv->bm);
        smap_free(&fv->ids);
    }
    pthread_rwlock_destroy(&ix->lock);
    pthread_mutex_destroy(&ix->sync_lock);
    free(ix);
}

static int grow(void **p, uint32_t *cap, uint32_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    uint32_t c = *cap ? *cap * 2 : 256;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, (size_t)c * size);
    if (!q)
        return -1;
    memset((char *)q + (size_t)*cap * size, 0, (size_t)(c - *cap) * size);
    *p = q;
    *cap = c;
    return 0;
}

static int org_num(facet_index *ix, const char *org, uint32_t *out)
{
    if (smap_get(&ix->org_ids, org, out))
        return 0;
    if (grow((void **)&ix->org_bm, &ix->cap_orgs, ix->norgs + 1, sizeof(*ix->org_bm)) < 0 ||
        smap_put(&ix->org_ids, org, ix->norgs) < 0)
        return -1;
    ix->org_bm[ix->norgs] = roaring_bitmap_create();
    *out = ix->norgs++;
    return 0;
}

static int value_num(facet_values *fv, const char *v, uint32_t *out)
{
    if (smap_get(&fv->ids, v, out))
        return 0;
    if (fv->n >= (1u << 24))
        return -1;
    uint32_t cap = fv->cap;
    if (grow((void **)&fv->names, &cap, fv->n + 1, sizeof(*fv->names)) < 0)
        return -1;
    cap = fv->cap;
    if (grow((void **)&fv->bm, &cap, fv->n + 1, sizeof(*fv->bm)) < 0)
        return -1;
    fv->cap = cap;
    if (!(fv->names[fv->n] = strdup(v)) || smap_put(&fv->ids, v, fv->n) < 0)
        return -1;
    fv->bm[fv->n] = roaring_bitmap_create();
    *out = fv->n++;
    return 0;
}

static int facet_num(const char *name)
{
    for (int f = 0; f < STORE_FACETS; f++)
        if (strcmp(store_facet_names[f], name) == 0)
            return f;
    return -1;
}

/* Takes artifact number n out of every bitmap it is in. */
static void art_clear(facet_index *ix, uint32_t n)
{
    art *a = &ix->arts[n];
    roaring_bitmap_remove(ix->kind_bm[a->kind], n);
    roaring_bitmap_remove(ix->live_bm, n);
    roaring_bitmap_remove(ix->visible_bm, n);
    roaring_bitmap_remove(ix->org_bm[a->org], n);
    for (uint32_t i = 0; i < a->nvals; i++)
        roaring_bitmap_remove(ix->facet[a->vals[i] >> 24].bm[a->vals[i] & 0xffffff], n);
    a->nvals = 0;
}

/* store_changes callback: (re)files one artifact. Runs under the write lock. */
static int apply(void *ctx, const store_change *c)
{
    facet_index *ix = ctx;
    uint32_t n, org;
    if (smap_get(&ix->art_ids, c->id, &n)) {
        art_clear(ix, n);
    } else {
        if (grow((void **)&ix->arts, &ix->cap_arts, ix->narts + 1, sizeof(*ix->arts)) < 0 ||
            smap_put(&ix->art_ids, c->id, ix->narts) < 0)
            return -1;
        n = ix->narts++;
    }
    if (org_num(ix, c->org_id ? c->org_id : "", &org) < 0)
        return -1;
    if (c->rowid > 0 && c->rowid < (1 << 30)) {
        if (grow((void **)&ix->by_rowid, &ix->cap_rowid, (uint32_t)c->rowid + 1,
                 sizeof(*ix->by_rowid)) < 0)
            return -1;
        ix->by_rowid[c->rowid] = n + 1;
    }
    art *a = &ix->arts[n];
    a->org = org;
    a->kind = strcmp(c->kind ? c->kind : "", "capabilities") == 0 ? 1 : 0;
    a->live = c->live;
    a->visible = c->visible;
    uint32_t *vals = realloc(a->vals, (c->nfacets ? c->nfacets : 1) * sizeof(*vals));
    if (!vals)
        return -1;
    a->vals = vals;
    roaring_bitmap_add(ix->kind_bm[a->kind], n);
    roaring_bitmap_add(ix->org_bm[org], n);
    if (c->live)
        roaring_bitmap_add(ix->live_bm, n);
    if (c->visible)
        roaring_bitmap_add(ix->visible_bm, n);
    for (size_t i = 0; i < c->nfacets; i++) {
        int f = facet_num(c->facets[i]);
        uint32_t v;
        if (f < 0 || !c->values[i] || value_num(&ix->facet[f], c->values[i], &v) < 0)
            continue;
        roaring_bitmap_add(ix->facet[f].bm[v], n);
        a->vals[a->nvals++] = ((uint32_t)f << 24) | v;
    }
    return 0;
}

bool facet_index_covers(const store_filter *f)
{
    if (f->count_mask & ~((1u << STORE_FACETS) - 1))
        return false;
    for (int i = 0; i < STORE_FILTERS; i++)
        if ((i >= STORE_FACETS && f->nvalues[i]) || f->value_search[i])
            return false;
    return true;
}

/* store_changes' context: the write lock is taken at the first change, once the feed's rows
 * have arrived, so counting goes on during the database round trip. */
typedef struct sync_ctx {
    facet_index *ix;
    bool locked;
} sync_ctx;

static int apply_locked(void *ctx, const store_change *c)
{
    sync_ctx *sc = ctx;
    if (!sc->locked) {
        pthread_rwlock_wrlock(&sc->ix->lock);
        sc->locked = true;
    }
    return apply(sc->ix, c);
}

int facet_index_sync_to(facet_index *ix, store *s, int64_t min_rev, err *e)
{
    int64_t now = min_rev;
    if (now <= 0 && store_catalog_revision(&now, s, e) < 0)
        return -1;
    pthread_rwlock_rdlock(&ix->lock);
    bool current = ix->loaded && ix->rev >= now;
    pthread_rwlock_unlock(&ix->lock);
    if (current)
        return 0;
    pthread_mutex_lock(&ix->sync_lock);
    int rc = 0;
    pthread_rwlock_rdlock(&ix->lock);
    current = ix->loaded && ix->rev >= now;
    int64_t since = ix->loaded ? ix->rev : -1;
    pthread_rwlock_unlock(&ix->lock);
    if (!current) {
        /* Counting waits only while the feed is applied: since the last revision that is a
         * few rows (the first load reads the whole catalog once). */
        sync_ctx sc = {.ix = ix};
        int64_t rev = 0;
        rc = store_changes(s, since, &rev, apply_locked, &sc, e);
        if (!sc.locked)
            pthread_rwlock_wrlock(&ix->lock);
        if (rc == 0) {
            if (!ix->loaded || rev > ix->rev)
                ix->rev = rev;
            ix->loaded = true;
        } else {
            /* A half-applied feed is still a true state of some artifacts, but the
             * revision must not move: the next call reads the same changes again. */
            if (e->kind == ERR_NONE)
                err_set(e, ERR_SERVER, "facet index: out of memory");
        }
        pthread_rwlock_unlock(&ix->lock);
    }
    pthread_mutex_unlock(&ix->sync_lock);
    return rc;
}

int facet_index_sync(facet_index *ix, store *s, err *e)
{
    return facet_index_sync_to(ix, s, 0, e);
}

bool facet_index_invalidate(facet_index *ix)
{
    if (!ix)
        return false;
    pthread_mutex_lock(&ix->sync_lock); /* not lost under a catch-up in progress */
    pthread_rwlock_wrlock(&ix->lock);
    bool had = ix->loaded;
    ix->loaded = false; /* the next sync re-reads and re-files every artifact */
    pthread_rwlock_unlock(&ix->lock);
    pthread_mutex_unlock(&ix->sync_lock);
    return had;
}

void facet_index_stats(facet_index *ix, uint32_t *artifacts, int64_t *rev)
{
    pthread_rwlock_rdlock(&ix->lock);
    *artifacts = ix->narts;
    *rev = ix->rev;
    pthread_rwlock_unlock(&ix->lock);
}

static int cmp_count(const void *pa, const void *pb)
{
    const store_facet_count *a = pa, *b = pb;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return strcmp(a->value, b->value);
}

/* The union of the bitmaps of facet f's values listed in the filter (an unknown value adds
 * nothing). */
static roaring_bitmap_t *filter_of(const facet_index *ix, int f, const store_filter *flt)
{
    roaring_bitmap_t *u = roaring_bitmap_create();
    for (size_t k = 0; k < flt->nvalues[f]; k++) {
        uint32_t v;
        if (smap_get(&ix->facet[f].ids, flt->values[f][k], &v))
            roaring_bitmap_or_inplace(u, ix->facet[f].bm[v]);
    }
    return u;
}

/* The artifacts f's scope (kind, liveness, org and/or public catalog) covers. Caller holds
 * the read lock. */
static roaring_bitmap_t *scope_of(const facet_index *ix, const store_filter *f)
{
    int kind = strcmp(f->kind, "capabilities") == 0 ? 1 : 0;
    roaring_bitmap_t *scope = roaring_bitmap_and(ix->kind_bm[kind], ix->live_bm);
    uint32_t org;
    bool has_org = f->org_id && smap_get(&ix->org_ids, f->org_id, &org);
    if (!f->org_id) {
        roaring_bitmap_and_inplace(scope, ix->visible_bm);
    } else if (f->include_public) {
        roaring_bitmap_t *either = roaring_bitmap_copy(ix->visible_bm);
        if (has_org)
            roaring_bitmap_or_inplace(either, ix->org_bm[org]);
        roaring_bitmap_and_inplace(scope, either);
        roaring_bitmap_free(either);
    } else if (has_org) {
        roaring_bitmap_and_inplace(scope, ix->org_bm[org]);
    } else {
        roaring_bitmap_free(scope);
        scope = roaring_bitmap_create();
    }
    return scope;
}

/* The artifacts f lists: its scope and every facet filter. Caller holds the read lock. */
static roaring_bitmap_t *matching(const facet_index *ix, const store_filter *f)
{
    roaring_bitmap_t *all = scope_of(ix, f);
    for (int i = 0; i < STORE_FACETS; i++) {
        if (f->nvalues[i] == 0)
            continue;
        roaring_bitmap_t *u = filter_of(ix, i, f);
        roaring_bitmap_and_inplace(all, u);
        roaring_bitmap_free(u);
    }
    return all;
}

int facet_index_filter_hits(store_fts_hit *hits, size_t *n, facet_index *ix, store *s,
                            const store_filter *f, int64_t min_rev, err *e)
{
    if (facet_index_sync_to(ix, s, min_rev, e) < 0)
        return -1;
    pthread_rwlock_rdlock(&ix->lock);
    roaring_bitmap_t *all = matching(ix, f);
    size_t k = 0;
    for (size_t i = 0; i < *n; i++) {
        int64_t r = hits[i].rowid;
        uint32_t num = r > 0 && r < (int64_t)ix->cap_rowid ? ix->by_rowid[r] : 0;
        if (num && roaring_bitmap_contains(all, num - 1))
            hits[k++] = hits[i];
    }
    *n = k;
    roaring_bitmap_free(all);
    pthread_rwlock_unlock(&ix->lock);
    return 0;
}

int facet_index_count(int64_t *out, facet_index *ix, store *s, const store_filter *f,
                      int64_t min_rev, err *e)
{
    if (facet_index_sync_to(ix, s, min_rev, e) < 0)
        return -1;
    pthread_rwlock_rdlock(&ix->lock);
    roaring_bitmap_t *all = matching(ix, f);
    *out = (int64_t)roaring_bitmap_get_cardinality(all);
    roaring_bitmap_free(all);
    pthread_rwlock_unlock(&ix->lock);
    return 0;
}

int facet_index_facets(store_facet_count *out[STORE_FACETS], size_t nout[STORE_FACETS],
                       int64_t *total, int64_t *filtered, facet_index *ix, store *s,
                       const store_filter *f, const store_fts_hit *hits, size_t nhits,
                       arena *a, int64_t min_rev, err *e)
{
    if (facet_index_sync_to(ix, s, min_rev, e) < 0)
        return -1;
    pthread_rwlock_rdlock(&ix->lock);
    roaring_bitmap_t *scope = scope_of(ix, f);
    *total = (int64_t)roaring_bitmap_get_cardinality(scope);
    if (f->search) { /* every count but the total is over the search's matches */
        roaring_bitmap_t *matched = roaring_bitmap_create();
        for (size_t i = 0; i < nhits; i++) {
            int64_t r = hits[i].rowid;
            uint32_t num = r > 0 && r < (int64_t)ix->cap_rowid ? ix->by_rowid[r] : 0;
            if (num)
                roaring_bitmap_add(matched, num - 1);
        }
        roaring_bitmap_and_inplace(matched, scope);
        roaring_bitmap_free(scope);
        scope = matched;
    }
    roaring_bitmap_t *flt[STORE_FACETS] = {0};
    roaring_bitmap_t *all = roaring_bitmap_copy(scope);
    for (int i = 0; i < STORE_FACETS; i++) {
        if (f->nvalues[i] == 0)
            continue;
        flt[i] = filter_of(ix, i, f);
        roaring_bitmap_and_inplace(all, flt[i]);
    }
    *filtered = (int64_t)roaring_bitmap_get_cardinality(all);
    roaring_bitmap_free(all);
    for (int i = 0; i < STORE_FACETS; i++) {
        /* Disjunctive: every filter but this facet's own. */
        roaring_bitmap_t *base = roaring_bitmap_copy(scope);
        for (int k = 0; k < STORE_FACETS; k++)
            if (k != i && flt[k])
                roaring_bitmap_and_inplace(base, flt[k]);
        const facet_values *fv = &ix->facet[i];
        store_facet_count *vals = arena_array(a, store_facet_count, fv->n ? fv->n : 1);
        size_t n = 0;
        if (roaring_bitmap_get_cardinality(base) > 0) {
            for (uint32_t v = 0; v < fv->n; v++) {
                uint64_t c = roaring_bitmap_and_cardinality(base, fv->bm[v]);
                if (c) {
                    vals[n].value = fv->names[v];
                    vals[n].count = (int64_t)c;
                    n++;
                }
            }
        }
        roaring_bitmap_free(base);
        qsort(vals, n, sizeof(*vals), cmp_count);
        if (n > 200)
            n = 200;
        for (size_t k = 0; k < n; k++) /* names may be freed by a later sync: copy */
            vals[k].value = arena_strdup(a, vals[k].value);
        out[i] = vals;
        nout[i] = n;
    }
    for (int i = 0; i < STORE_FACETS; i++)
        if (flt[i])
            roaring_bitmap_free(flt[i]);
    roaring_bitmap_free(scope);
    pthread_rwlock_unlock(&ix->lock);
    return 0;
}
