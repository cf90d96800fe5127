/*
 * limits.h: per-caller request rate limiting (token bucket, per instance).
 */
#ifndef CAIRN_LIMITS_H
#define CAIRN_LIMITS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct ratelimit ratelimit;

/* Returns a limiter allowing rate requests per second per key with a burst of 2*rate; rate 0
 * gives NULL (no limit). Thread-safe. */
ratelimit *ratelimit_new(double rate);
void ratelimit_free(ratelimit *rl);
/* Takes one request for key at now_ms; false when over the limit, with *retry_after_s set. */
bool ratelimit_take(ratelimit *rl, const char *key, int64_t now_ms, int *retry_after_s);

#endif
