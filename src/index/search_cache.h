/*
 * search_cache.h: full-text hits of recent searches, kept current from the change feed
 * (PostgreSQL). A relevance search on PostgreSQL otherwise ranks every match with ts_rank on
 * every request, visiting the heap page of each (a common word: 10,000 rows, 15-20 ms, and
 * under writes every request misses the response cache). ts_rank depends on the artifact's own
 * text only, so the hit list of a search at revision R, plus the artifacts changed after R
 * (change_rev) re-matched and re-ranked, is exactly the hit list at the new revision: a catch-up
 * reads a few rows. The store stays the truth: an entry is built by one full scan and caught
 * up in the caller's snapshot; nothing is guessed. SQLite is not cached (bm25 depends on the
 * whole corpus: one change moves every score; its FTS5 index ranks from the index alone).
 */
#ifndef CAIRN_SEARCH_CACHE_H
#define CAIRN_SEARCH_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"
#include "util/arena.h"
#include "util/err.h"

typedef struct search_cache search_cache;

search_cache *search_cache_new(void);
void search_cache_free(search_cache *sc);

/* The hits of search (every matching artifact, live or not, any scope: store_fts_scan), copied
 * into a, in relevance order: score ascending, then rowid ascending. They reflect at least
 * revision min_rev (0: the revision tx shows; the entry is caught up in tx, a read
 * transaction). *supported is false (nothing read) where the dialect has no such hits
 * (SQLite). Thread-safe. */
int search_cache_hits(store_fts_hit **out, size_t *n, bool *supported, search_cache *sc,
                      store_tx *tx, const char *search, int64_t min_rev, arena *a, err *e);

/* Makes every entry rebuild from a full scan on its next use (after the full-text views were
 * rebuilt). Accepts NULL. Thread-safe. */
void search_cache_invalidate(search_cache *sc);

#endif
