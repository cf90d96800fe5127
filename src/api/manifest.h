/*
 * manifest.h: the cached public manifest. A manifest_cache is thread-safe.
 */
#ifndef CAIRN_MANIFEST_H
#define CAIRN_MANIFEST_H

#include "api/api.h"

manifest_cache *manifest_cache_new(void);
void manifest_cache_free(manifest_cache *mc);
/* Forgets the built manifest, so the next request rebuilds it; returns whether one was
 * built. */
bool manifest_cache_invalidate(manifest_cache *mc);

int api_manifest(api_reply *r, api_call *c);
int api_resolve(api_reply *r, api_call *c);

#endif
