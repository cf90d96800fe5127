/*
 * cache.c: a fixed table of response slots; a key takes its hash's slot over. A miss may claim
 * its slot's fill: while one request builds the body for (key, rev), others asking for the
 * same wait for it instead of building it again (right after a catalog change every reader
 * misses at once; without this, N concurrent readers do N times the work).
 */
#include "api/cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLOTS 1024
/* Larger bodies (lists of hundreds of items) are not kept: memory stays under SLOTS x this. */
#define BODY_MAX (64u * 1024)

/* How long a request waits for another's fill before building the body itself. */
#define FILL_WAIT_MS 250

typedef struct slot {
    char *key, *body, *etag;
    size_t n;
    int64_t rev;
    char *fill_key; /* a fill in progress for (fill_key, fill_rev), or NULL */
    int64_t fill_rev;
} slot;

struct resp_cache {
    pthread_mutex_t mu;
    pthread_cond_t filled; /* broadcast when a fill ends (stored or given up) */
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
    if (c) {
        pthread_mutex_init(&c->mu, NULL);
        pthread_cond_init(&c->filled, NULL);
    }
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
        free(c->slots[i].fill_key);
    }
    pthread_cond_destroy(&c->filled);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static bool is_filling(const slot *s, const char *key, int64_t rev)
{
    return s->fill_key && s->fill_rev == rev && strcmp(s->fill_key, key) == 0;
}

/* Ends the slot's fill of (key, rev), if it is the one in progress. Caller holds c->mu. */
static void end_fill(resp_cache *c, slot *s, const char *key, int64_t rev)
{
    if (!is_filling(s, key, rev))
        return;
    free(s->fill_key);
    s->fill_key = NULL;
    pthread_cond_broadcast(&c->filled);
}

bool resp_cache_get(resp_cache *c, const char *key, int64_t rev, const char **body, size_t *n,
                    const char **etag, bool *claimed, arena *a)
{
    *claimed = false;
    if (!c)
        return false;
    slot *s = &c->slots[slot_of(key)];
    bool hit = false;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += FILL_WAIT_MS * 1000000L;
    until.tv_sec += until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        if (s->key && s->rev == rev && strcmp(s->key, key) == 0) {
            char *copy = arena_alloc(a, s->n + 1);
            memcpy(copy, s->body, s->n);
            *body = copy;
            *n = s->n;
            *etag = arena_strdup(a, s->etag);
            hit = true;
            break;
        }
        if (is_filling(s, key, rev)) { /* another request builds it: wait for that */
            if (pthread_cond_timedwait(&c->filled, &c->mu, &until) != 0)
                break; /* too long: build it too, without a claim */
            continue;
        }
        if (!s->fill_key && (s->fill_key = strdup(key))) { /* build it: others will wait */
            s->fill_rev = rev;
            *claimed = true;
        }
        break;
    }
    pthread_mutex_unlock(&c->mu);
    return hit;
}

void resp_cache_release(resp_cache *c, const char *key, int64_t rev)
{
    if (!c)
        return;
    slot *s = &c->slots[slot_of(key)];
    pthread_mutex_lock(&c->mu);
    end_fill(c, s, key, rev);
    pthread_mutex_unlock(&c->mu);
}

void resp_cache_put(resp_cache *c, const char *key, int64_t rev, const char *body, size_t n,
                    const char *etag)
{
    if (!c)
        return;
    if (n > BODY_MAX) {
        resp_cache_release(c, key, rev);
        return;
    }
    char *k = strdup(key), *b = malloc(n + 1), *t = strdup(etag ? etag : "");
    if (!k || !b || !t) {
        free(k);
        free(b);
        free(t);
        resp_cache_release(c, key, rev);
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
    end_fill(c, s, key, rev);
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
