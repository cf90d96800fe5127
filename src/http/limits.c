/*
 * limits.c: a fixed table of token buckets keyed by caller. A key that collides with another
 * takes its slot over (the bucket restarts full), so memory stays bounded whatever the number
 * of callers; the limit is per instance (DESIGN.md "Scale-out").
 */
#include "http/limits.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 4096

typedef struct bucket {
    char key[64];
    double tokens;
    int64_t last_ms;
} bucket;

struct ratelimit {
    double rate, burst;
    pthread_mutex_t mu;
    bucket slots[SLOTS];
};

ratelimit *ratelimit_new(double rate)
{
    if (rate <= 0)
        return NULL;
    ratelimit *rl = calloc(1, sizeof(*rl));
    if (!rl)
        return NULL;
    rl->rate = rate;
    rl->burst = rate * 2 < 1 ? 1 : rate * 2;
    pthread_mutex_init(&rl->mu, NULL);
    return rl;
}

void ratelimit_free(ratelimit *rl)
{
    if (!rl)
        return;
    pthread_mutex_destroy(&rl->mu);
    free(rl);
}

bool ratelimit_take(ratelimit *rl, const char *key, int64_t now_ms, int *retry_after_s)
{
    if (!rl)
        return true;
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    pthread_mutex_lock(&rl->mu);
    bucket *b = &rl->slots[h % SLOTS];
    if (strncmp(b->key, key, sizeof(b->key) - 1) != 0) {
        snprintf(b->key, sizeof(b->key), "%s", key);
        b->tokens = rl->burst;
        b->last_ms = now_ms;
    }
    double elapsed = (double)(now_ms - b->last_ms) / 1000.0;
    if (elapsed > 0) {
        b->tokens = fmin(rl->burst, b->tokens + elapsed * rl->rate);
        b->last_ms = now_ms;
    }
    bool ok = b->tokens >= 1.0;
    if (ok)
        b->tokens -= 1.0;
    else
        *retry_after_s = (int)ceil((1.0 - b->tokens) / rl->rate);
    pthread_mutex_unlock(&rl->mu);
    return ok;
}
