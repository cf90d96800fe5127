/*
 * facet_index.h: the in-memory facet index. Every artifact gets a dense number; every facet
 * value, org, kind, liveness and the public catalog get a compressed bitmap (CRoaring) of the
 * artifacts they hold, so a disjunctive facet count is a few bitmap intersections instead of a
 * GROUP BY over the catalog. The store stays the truth: the index is built from the store's
 * change feed (store_changes) and caught up from it whenever the catalog revision moves,
 * including another instance's writes, so its counts are those of SQL at that revision.
 */
#ifndef CAIRN_FACET_INDEX_H
#define CAIRN_FACET_INDEX_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"
#include "util/arena.h"
#include "util/err.h"

typedef struct facet_index facet_index;

facet_index *facet_index_new(void);
void facet_index_free(facet_index *ix);

/* Whether the index can answer for f: it holds the STORE_FACETS catalog facets, not the
 * relation sets of seed 002 (their filters, counts and value searches go to SQL). */
bool facet_index_covers(const store_filter *f);

/* Brings ix up to the store's current catalog revision: everything on the first call, then
 * only the artifacts changed since. Thread-safe. */
int facet_index_sync(facet_index *ix, store *s, err *e);
/* The same when the index is behind min_rev, a revision the caller already read (0: unknown,
 * then the store is asked for its revision): an index at min_rev or later is left as it is,
 * without a round trip. */
int facet_index_sync_to(facet_index *ix, store *s, int64_t min_rev, err *e);

/* The counts store_facets() gives for f: same values, same order (count descending, then
 * value in byte order), at most 200 a facet. With f->search, hits[0..nhits) are its full-text
 * hits (store_fts_hits, search_cache_hits: any scope, any order). Syncs first
 * (facet_index_sync_to min_rev). Strings live in a. Thread-safe. */
int facet_index_facets(store_facet_count *out[STORE_FACETS], size_t nout[STORE_FACETS],
                       int64_t *total, int64_t *filtered, facet_index *ix, store *s,
                       const store_filter *f, const store_fts_hit *hits, size_t nhits,
                       arena *a, int64_t min_rev, err *e);

/* How many artifacts f (without a search) lists: what store_artifact_search's total counts.
 * Syncs first (facet_index_sync_to min_rev). Thread-safe. */
int facet_index_count(int64_t *out, facet_index *ix, store *s, const store_filter *f,
                      int64_t min_rev, err *e);

/* Keeps, in order, the full-text hits (the artifacts' integer keys: SQLite rowids,
 * PostgreSQL seqs) of artifacts f's scope and filters cover, and sets *n to how many. Syncs
 * first (facet_index_sync_to min_rev). Thread-safe. */
int facet_index_filter_hits(store_fts_hit *hits, size_t *n, facet_index *ix, store *s,
                            const store_filter *f, int64_t min_rev, err *e);

/* Makes the next sync re-read every artifact (after the store's facet rows were rebuilt);
 * returns whether the index was loaded. Accepts NULL. Thread-safe. */
bool facet_index_invalidate(facet_index *ix);

/* Artifacts in the index (live or not), and the catalog revision it reflects. */
void facet_index_stats(facet_index *ix, uint32_t *artifacts, int64_t *rev);

#endif
