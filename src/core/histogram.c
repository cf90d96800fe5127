/*
 * histogram.c: the log-bucket latency histogram of histogram.h.
 */
#include "core/histogram.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hist_init(hist *h)
{
    memset(h, 0, sizeof(*h));
    h->lo = HIST_BUCKETS;
    h->hi = -1;
}

void hist_clear(hist *h)
{
    if (h->lo <= h->hi)
        memset(&h->b[h->lo], 0, sizeof(h->b[0]) * (size_t)(h->hi - h->lo + 1));
    h->count = 0;
    h->sum_ms = h->min_ms = h->max_ms = 0;
    h->lo = HIST_BUCKETS;
    h->hi = -1;
}

static void touch(hist *h, int i)
{
    if (i < h->lo)
        h->lo = i;
    if (i > h->hi)
        h->hi = i;
}

int hist_bucket(double ms)
{
    if (!(ms >= HIST_MIN_MS)) /* also NaN and negatives */
        return 0;
    double i = floor(log(ms / HIST_MIN_MS) / log(HIST_GAMMA)) + 1.0;
    /* Guard the floating-point edge: keep ms inside its bucket's bounds. */
    int k = i >= HIST_BUCKETS - 1 ? HIST_BUCKETS - 1 : (int)i;
    if (k > 1 && k < HIST_BUCKETS - 1 && ms < HIST_MIN_MS * pow(HIST_GAMMA, k - 1))
        k--;
    else if (k < HIST_BUCKETS - 1 && ms >= HIST_MIN_MS * pow(HIST_GAMMA, k))
        k++;
    return k;
}

double hist_bucket_value(int i)
{
    if (i <= 0)
        return 0.0;
    double lo = HIST_MIN_MS * pow(HIST_GAMMA, i - 1);
    return 2.0 * lo * HIST_GAMMA / (1.0 + HIST_GAMMA);
}

void hist_add(hist *h, double ms)
{
    if (!(ms >= 0))
        ms = 0;
    if (h->count == 0 || ms < h->min_ms)
        h->min_ms = ms;
    if (h->count == 0 || ms > h->max_ms)
        h->max_ms = ms;
    h->count++;
    h->sum_ms += ms;
    int i = hist_bucket(ms);
    h->b[i]++;
    touch(h, i);
}

void hist_merge(hist *dst, const hist *src)
{
    if (src->count == 0)
        return;
    if (dst->count == 0 || src->min_ms < dst->min_ms)
        dst->min_ms = src->min_ms;
    if (dst->count == 0 || src->max_ms > dst->max_ms)
        dst->max_ms = src->max_ms;
    dst->count += src->count;
    dst->sum_ms += src->sum_ms;
    for (int i = src->lo; i <= src->hi; i++)
        dst->b[i] += src->b[i];
    if (src->lo <= src->hi) {
        touch(dst, src->lo);
        touch(dst, src->hi);
    }
}

double hist_quantile(const hist *h, double q)
{
    if (h->count == 0)
        return 0.0;
    double r = ceil(q * (double)h->count);
    uint64_t rank = r < 1 ? 1 : r > (double)h->count ? h->count : (uint64_t)r, seen = 0;
    for (int i = h->lo < 0 ? 0 : h->lo; i <= h->hi; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            double v = hist_bucket_value(i);
            return v < h->min_ms ? h->min_ms : v > h->max_ms ? h->max_ms : v;
        }
    }
    return h->max_ms;
}

int hist_encode(char *buf, size_t cap, const hist *h)
{
    size_t n = 0;
    if (cap == 0)
        return -1;
    buf[0] = '\0';
    for (int i = h->lo < 0 ? 0 : h->lo; i <= h->hi; i++) {
        if (!h->b[i])
            continue;
        /* Hand-rolled: snprintf was most of a rollup's cost. */
        char tmp[48];
        size_t t = 0;
        unsigned long long v = h->b[i];
        do {
            tmp[t++] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        tmp[t++] = ':';
        int x = i;
        do {
            tmp[t++] = (char)('0' + x % 10);
            x /= 10;
        } while (x);
        if (n + t + 2 >= cap)
            return -1;
        if (n)
            buf[n++] = ',';
        while (t)
            buf[n++] = tmp[--t];
    }
    buf[n] = '\0';
    return (int)n;
}

int hist_decode_add(hist *h, const char *p)
{
    while (p && *p) {
        char *end = NULL;
        long i = strtol(p, &end, 10);
        if (end == p || *end != ':' || i < 0 || i >= HIST_BUCKETS)
            return -1;
        p = end + 1;
        unsigned long long n = strtoull(p, &end, 10);
        if (end == p)
            return -1;
        h->b[i] += n;
        if (n)
            touch(h, (int)i);
        p = end;
        if (*p == ',')
            p++;
        else if (*p)
            return -1;
    }
    return 0;
}

double quantile_sorted(const double *sorted, size_t n, double q)
{
    if (n == 0)
        return 0.0;
    double r = ceil(q * (double)n);
    size_t rank = r < 1 ? 1 : r > (double)n ? n : (size_t)r;
    return sorted[rank - 1];
}
