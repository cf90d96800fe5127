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
    h->b[hist_bucket(ms)]++;
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
    for (int i = 0; i < HIST_BUCKETS; i++)
        dst->b[i] += src->b[i];
}

double hist_quantile(const hist *h, double q)
{
    if (h->count == 0)
        return 0.0;
    double r = ceil(q * (double)h->count);
    uint64_t rank = r < 1 ? 1 : r > (double)h->count ? h->count : (uint64_t)r, seen = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) {
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
    for (int i = 0; i < HIST_BUCKETS; i++) {
        if (!h->b[i])
            continue;
        int k = snprintf(buf + n, cap - n, "%s%d:%llu", n ? "," : "", i,
                         (unsigned long long)h->b[i]);
        if (k < 0 || (size_t)k >= cap - n)
            return -1;
        n += (size_t)k;
    }
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
