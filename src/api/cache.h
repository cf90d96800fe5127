/*
 * cache.h: a small response cache keyed by request and catalog revision. An entry is valid
 * only for the revision it was built at, so any committed catalog change (in any instance
 * sharing the database) invalidates everything at once. Thread-safe.
 */
#ifndef CAIRN_CACHE_H
#define CAIRN_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/arena.h"

typedef struct resp_cache resp_cache;

resp_cache *resp_cache_new(void);
void resp_cache_free(resp_cache *c);
/* Copies the body of key at rev into the arena; false on a miss. While another request is
 * building that body, waits for it (up to 250 ms). On a miss *claimed says whether this caller
 * is now the one building it: it must then resp_cache_put() or resp_cache_release(). */
bool resp_cache_get(resp_cache *c, const char *key, int64_t rev, const char **body, size_t *n,
                    const char **etag, bool *claimed, arena *a);
/* Gives up a claimed fill of key at rev (the reply was an error, say); waiters build it. */
void resp_cache_release(resp_cache *c, const char *key, int64_t rev);
/* Stores a copy of body (and its quoted etag) for key at rev; bodies over 64 KiB are not kept. */
void resp_cache_put(resp_cache *c, const char *key, int64_t rev, const char *body, size_t n,
                    const char *etag);
/* Drops every entry; returns how many there were. */
size_t resp_cache_clear(resp_cache *c);

#endif
