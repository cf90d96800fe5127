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
/* Copies the body of key at rev into the arena; false on a miss. */
bool resp_cache_get(resp_cache *c, const char *key, int64_t rev, const char **body, size_t *n,
                    const char **etag, arena *a);
/* Stores a copy of body (and its quoted etag) for key at rev; bodies over 64 KiB are not kept. */
void resp_cache_put(resp_cache *c, const char *key, int64_t rev, const char *body, size_t n,
                    const char *etag);
/* Drops every entry; returns how many there were. */
size_t resp_cache_clear(resp_cache *c);

#endif
