/*
 * test_histogram.c: the telemetry latency histogram of core/histogram.c: bucket bounds, the
 * 1% bound of quantiles against exact nearest-rank ones on random data of several shapes,
 * merging (minute rollups adding up to a day), and the text encoding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/histogram.h"

static uint64_t rng = 88172645463325252ull;
static double uni(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double exact(const double *sorted, size_t n, double q)
{
    size_t rank = (size_t)ceil(q * (double)n);
    return sorted[(rank < 1 ? 1 : rank) - 1];
}

static void bucket_bounds(void **state)
{
    (void)state;
    assert_int_equal(hist_bucket(0), 0);
    assert_int_equal(hist_bucket(-5), 0);
    assert_int_equal(hist_bucket(NAN), 0);
    assert_int_equal(hist_bucket(0.0009), 0);
    assert_int_equal(hist_bucket(0.001), 1);
    for (int i = 1; i < HIST_BUCKETS - 1; i++) {
        double lo = HIST_MIN_MS * pow(HIST_GAMMA, i - 1), hi = HIST_MIN_MS * pow(HIST_GAMMA, i);
        assert_int_equal(hist_bucket(lo * (1 + 1e-12)), i);
        assert_int_equal(hist_bucket(hi * (1 - 1e-12)), i);
        double v = hist_bucket_value(i);
        assert_true(fabs(v - lo) / lo <= 0.01 + 1e-12 && fabs(hi - v) / hi <= 0.01 + 1e-12);
    }
    assert_int_equal(hist_bucket(1e12), HIST_BUCKETS - 1);
}

static void check_shape(double (*gen)(void), size_t n)
{
    double *v = malloc(n * sizeof(double));
    hist *h = malloc(sizeof(hist));
    hist_init(h);
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        v[i] = gen();
        hist_add(h, v[i]);
        sum += v[i];
    }
    qsort(v, n, sizeof(double), cmp_d);
    const double qs[] = {0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0};
    for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
        double e = exact(v, n, qs[k]), got = hist_quantile(h, qs[k]);
        double tol = e >= HIST_MIN_MS ? 0.01 * e : HIST_MIN_MS;
        if (fabs(got - e) > tol)
            fail_msg("q%.3f: exact %.6f, histogram %.6f (n %zu)", qs[k], e, got, n);
    }
    assert_int_equal(h->count, n);
    assert_true(fabs(h->sum_ms - sum) <= 1e-9 * sum + 1e-9);
    assert_true(h->min_ms == v[0] && h->max_ms == v[n - 1]);
    free(v);
    free(h);
}

static double g_uniform(void) { return uni() * 200.0; }
static double g_lognormal(void)
{
    double u1 = uni() + 1e-300, u2 = uni();
    return exp(3.0 + 1.2 * sqrt(-2 * log(u1)) * cos(2 * M_PI * u2));
}
static double g_bimodal(void) { return uni() < 0.9 ? 5 + uni() : 800 + 400 * uni(); }
static double g_tiny(void) { return uni() < 0.3 ? 0.0 : uni() * 0.01; }
static double g_heavy(void) { return 1.0 / (uni() + 1e-6); }

static void quantiles_within_one_percent(void **state)
{
    (void)state;
    double (*gens[])(void) = {g_uniform, g_lognormal, g_bimodal, g_tiny, g_heavy};
    size_t sizes[] = {1, 7, 100, 10000, 200000};
    for (size_t g = 0; g < 5; g++)
        for (size_t s = 0; s < 5; s++)
            check_shape(gens[g], sizes[s]);
}

/* hist_clear leaves exactly what hist_init does, whatever was added (values, text). */
static void clear_equals_init(void **state)
{
    (void)state;
    hist *h = malloc(sizeof(hist)), *fresh = malloc(sizeof(hist));
    hist_init(h);
    hist_init(fresh);
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < round * 7; i++)
            hist_add(h, g_lognormal() * (round % 5 ? 1.0 : 1e6));
        if (round % 3 == 0)
            assert_int_equal(hist_decode_add(h, "0:2,1199:1,600:5"), 0);
        hist_clear(h);
        assert_memory_equal(h, fresh, sizeof(hist));
    }
    free(h);
    free(fresh);
}

static void merged_minutes_equal_the_whole(void **state)
{
    (void)state;
    hist *whole = malloc(sizeof(hist)), *day = malloc(sizeof(hist)),
         *minute = malloc(sizeof(hist)), *back = malloc(sizeof(hist));
    hist_init(whole);
    hist_init(day);
    char *text = malloc(HIST_TEXT_MAX);
    for (int m = 0; m < 1440; m++) {
        hist_init(minute);
        for (int i = 0; i < 50; i++) {
            double v = g_lognormal();
            hist_add(minute, v);
            hist_add(whole, v);
        }
        /* Through the text form, as rollup rows store it. */
        assert_true(hist_encode(text, HIST_TEXT_MAX, minute) > 0);
        hist_init(back);
        assert_int_equal(hist_decode_add(back, text), 0);
        back->count = minute->count;
        back->sum_ms = minute->sum_ms;
        back->min_ms = minute->min_ms;
        back->max_ms = minute->max_ms;
        hist_merge(day, back);
    }
    assert_int_equal(day->count, whole->count);
    assert_memory_equal(day->b, whole->b, sizeof(whole->b));
    assert_true(day->min_ms == whole->min_ms && day->max_ms == whole->max_ms);
    assert_true(hist_quantile(day, 0.99) == hist_quantile(whole, 0.99));
    /* Malformed text is refused. */
    hist_init(back);
    assert_int_equal(hist_decode_add(back, "3:1,x"), -1);
    assert_int_equal(hist_decode_add(back, "99999:1"), -1);
    assert_int_equal(hist_decode_add(back, "3"), -1);
    assert_int_equal(hist_decode_add(back, ""), 0);
    hist_init(back);
    assert_true(hist_quantile(back, 0.5) == 0.0);
    free(text);
    free(whole);
    free(day);
    free(minute);
    free(back);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bucket_bounds),
        cmocka_unit_test(quantiles_within_one_percent),
        cmocka_unit_test(merged_minutes_equal_the_whole),
        cmocka_unit_test(clear_equals_init),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
