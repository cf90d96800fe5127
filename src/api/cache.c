/*
 * cache.c: a fixed table of response slots; a key takes its hash's slot over.
 */
#include "api/cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 1024
/* Larger bodies (lists of hundreds of items) are not kept: memory stays under SLOTS x this. */
#define BODY_MAX (64u * 1024)

typedef struct slot {
    char *key, *body, *etag;
    size_t n;
    int64_t rev;
} slot;

struct resp_cache {
    pthread_mutex_t mu;
    slot slots[SLOTS];
};

static size_t slot_of(const char *key)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return (size_t)(h % SLOTS);
}

resp_cache *resp_cache_new(void)
{
    resp_cache *c = calloc(1, sizeof(*c));
    if (c)
        pthread_mutex_init(&c->mu, NULL);
    return c;
}

void resp_cache_free(resp_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < SLOTS; i++) {
        free(c->slots[i].key);
        free(c->slots[i].body);
        free(c->slots[i].etag);
    }
    pthread_mutex_destroy(&c->mu);
    free(c);
}

bool resp_cache_get(resp_cache *c, const char *key, int64_t rev, const char **body, size_t *n,
                    const char **etag, arena *a)
{
    if (!c)
        return false;
    slot *s = &c->slots[slot_of(key)];
    bool hit = false;
    pthread_mutex_lock(&c->mu);
    if (s->key && s->rev == rev && strcmp(s->key, key) == 0) {
        char *copy = arena_alloc(a, s->n + 1);
        memcpy(copy, s->body, s->n);
        *body = copy;
        *n = s->n;
        *etag = arena_strdup(a, s->etag);
        hit = true;
    }
    pthread_mutex_unlock(&c->mu);
    return hit;
}

void resp_cache_put(resp_cache *c, const char *key, int64_t rev, const char *body, size_t n,
                    const char *etag)
{
    if (!c || n > BODY_MAX)
        return;
    char *k = strdup(key), *b = malloc(n + 1), *t = strdup(etag ? etag : "");
    if (!k || !b || !t) {
        free(k);
        free(b);
        free(t);
        return;
    }
    memcpy(b, body, n);
    slot *s = &c->slots[slot_of(key)];
    pthread_mutex_lock(&c->mu);
    free(s->key);
    free(s->body);
    free(s->etag);
    s->key = k;
    s->body = b;
    s->etag = t;
    s->n = n;
    s->rev = rev;
    pthread_mutex_unlock(&c->mu);
}

size_t resp_cache_clear(resp_cache *c)
{
    if (!c)
        return 0;
    size_t n = 0;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < SLOTS; i++) {
        slot *s = &c->slots[i];
        if (s->key)
            n++;
        free(s->key);
        free(s->body);
        free(s->etag);
        memset(s, 0, sizeof(*s));
    }
    pthread_mutex_unlock(&c->mu);
    return n;
}
