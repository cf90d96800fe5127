/*
 * histogram.h: a mergeable log-bucket histogram of latencies in milliseconds, for telemetry
 * rollups. Bucket 0 holds [0, 1 us); bucket i >= 1 holds [HIST_MIN_MS * g^(i-1),
 * HIST_MIN_MS * g^i) with g = HIST_GAMMA = 1.02, up to HIST_BUCKETS (about 3.4 hours; longer
 * values go to the last bucket). A bucket's value is 2 L g / (1 + g) for its lower bound L, so
 * any quantile is within (g - 1) / (g + 1) < 1% of the exact nearest-rank quantile (below 1 us:
 * within 1 us); exact min and max clamp it further. Two histograms merge by adding buckets, so
 * per-minute rollups add up to hours and days exactly. Pure; a hist is one thread's.
 */
#ifndef CAIRN_CORE_HISTOGRAM_H
#define CAIRN_CORE_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

#define HIST_GAMMA 1.02
#define HIST_MIN_MS 0.001
#define HIST_BUCKETS 1200

typedef struct hist {
    uint64_t count;
    double sum_ms, min_ms, max_ms; /* min/max valid when count > 0 */
    int lo, hi;                    /* buckets outside [lo, hi] are empty (lo > hi: all) */
    uint64_t b[HIST_BUCKETS];
} hist;

void hist_init(hist *h);
/* Empties an initialized h as hist_init would, clearing only its non-empty range (a hist is
 * 9.6 KB; a minute's events touch a few dozen buckets). */
void hist_clear(hist *h);
/* The bucket of a latency (negative values count as 0). */
int hist_bucket(double ms);
/* The value standing for bucket i. */
double hist_bucket_value(int i);
void hist_add(hist *h, double ms);
/* Adds src into dst. */
void hist_merge(hist *dst, const hist *src);
/* The nearest-rank q-quantile (0 < q <= 1) within 1%; 0 when empty. */
double hist_quantile(const hist *h, double q);
/* Writes the non-empty buckets as "i:n,i:n" (ascending i) into buf; returns the length, or -1
 * if cap is too small (HIST_TEXT_MAX always suffices). */
#define HIST_TEXT_MAX (HIST_BUCKETS * 24 + 1)
int hist_encode(char *buf, size_t cap, const hist *h);
/* Adds the buckets of an encoded text to h (count, sum, min and max are the caller's);
 * returns -1 on malformed text (h is then partly updated). */
int hist_decode_add(hist *h, const char *text);

/* The exact nearest-rank q-quantile of n ascending values (0 when n is 0). */
double quantile_sorted(const double *sorted, size_t n, double q);

#endif
