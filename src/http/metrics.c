/*
 * metrics.c: counters per route and status class, latency histograms, bytes, uploads in flight,
 * and the blob store's size from the database (no directory walk on a scrape).
 */
#include "http/metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/router.h"
#include "store/store.h"

#define MAX_ROUTES 128
#define CLASSES 5 /* 1xx..5xx */
static const double buckets_ms[] = {1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000};
#define NBUCKETS (sizeof(buckets_ms) / sizeof(buckets_ms[0]))

typedef struct route_metrics {
    _Atomic uint64_t by_class[CLASSES];
    _Atomic uint64_t bucket[NBUCKETS + 1]; /* last: +Inf */
    _Atomic uint64_t sum_us;
} route_metrics;

static route_metrics routes[MAX_ROUTES + 1]; /* last: unmatched */
static _Atomic uint64_t bytes_in, bytes_out;
static _Atomic int64_t uploads_in_flight;
static _Atomic uint64_t header_timeouts;

void metrics_request(int ri, int status, double ms, uint64_t in, uint64_t out)
{
    route_metrics *m = &routes[ri >= 0 && ri < MAX_ROUTES ? ri : MAX_ROUTES];
    int cls = status / 100 - 1;
    if (cls >= 0 && cls < CLASSES)
        atomic_fetch_add(&m->by_class[cls], 1);
    size_t b = 0;
    while (b < NBUCKETS && ms > buckets_ms[b])
        b++;
    atomic_fetch_add(&m->bucket[b], 1);
    atomic_fetch_add(&m->sum_us, (uint64_t)(ms * 1000.0));
    atomic_fetch_add(&bytes_in, in);
    atomic_fetch_add(&bytes_out, out);
}

void metrics_header_timeout(void)
{
    atomic_fetch_add(&header_timeouts, 1);
}

void metrics_uploads(int delta)
{
    atomic_fetch_add(&uploads_in_flight, delta);
}

typedef struct buf {
    char *p;
    size_t n, cap;
} buf;

static void put(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(buf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int w = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
        if (w >= 0 && (size_t)w < b->cap - b->n) {
            b->n += (size_t)w;
            return;
        }
        size_t cap = b->cap * 2 + (size_t)(w > 0 ? w : 0);
        char *np = realloc(b->p, cap);
        if (!np)
            abort();
        b->p = np;
        b->cap = cap;
    }
}

int metrics_handler(api_reply *r, api_call *c)
{
    buf b = {malloc(16384), 0, 16384};
    if (!b.p)
        return err_set(&r->e, ERR_SERVER, "out of memory");
    put(&b, "# HELP cairn_http_requests_total Requests by route and status class.\n"
            "# TYPE cairn_http_requests_total counter\n");
    int n = router_route_count < MAX_ROUTES ? router_route_count : MAX_ROUTES;
    for (int i = 0; i <= n; i++) {
        int ri = i == n ? MAX_ROUTES : i;
        const char *name = i == n ? "unmatched" : router_routes[i].name;
        for (int k = 0; k < CLASSES; k++) {
            uint64_t v = atomic_load(&routes[ri].by_class[k]);
            if (v)
                put(&b, "cairn_http_requests_total{route=\"%s\",status=\"%dxx\"} %llu\n", name,
                    k + 1, (unsigned long long)v);
        }
    }
    put(&b, "# HELP cairn_http_request_duration_seconds Request latency by route.\n"
            "# TYPE cairn_http_request_duration_seconds histogram\n");
    for (int i = 0; i <= n; i++) {
        int ri = i == n ? MAX_ROUTES : i;
        const char *name = i == n ? "unmatched" : router_routes[i].name;
        uint64_t cum = 0, total = 0;
        for (size_t k = 0; k <= NBUCKETS; k++)
            total += atomic_load(&routes[ri].bucket[k]);
        if (!total)
            continue;
        for (size_t k = 0; k < NBUCKETS; k++) {
            cum += atomic_load(&routes[ri].bucket[k]);
            put(&b, "cairn_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                name, buckets_ms[k] / 1000.0, (unsigned long long)cum);
        }
        put(&b,
            "cairn_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n"
            "cairn_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
            "cairn_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
            name, (unsigned long long)total, name,
            (double)atomic_load(&routes[ri].sum_us) / 1e6, name, (unsigned long long)total);
    }
    int64_t blob_bytes = 0, blob_count = 0;
    err ignored = {0};
    store_blob_totals(&blob_bytes, &blob_count, c->app->store, &ignored);
    put(&b,
        "# TYPE cairn_http_received_bytes_total counter\ncairn_http_received_bytes_total %llu\n"
        "# TYPE cairn_http_sent_bytes_total counter\ncairn_http_sent_bytes_total %llu\n"
        "# TYPE cairn_uploads_in_flight gauge\ncairn_uploads_in_flight %lld\n"
        "# HELP cairn_http_header_timeouts_total Connections closed for not sending a "
        "request's headers within --header-timeout.\n"
        "# TYPE cairn_http_header_timeouts_total counter\ncairn_http_header_timeouts_total %llu\n"
        "# TYPE cairn_blob_store_bytes gauge\ncairn_blob_store_bytes %lld\n"
        "# TYPE cairn_blob_store_blobs gauge\ncairn_blob_store_blobs %lld\n",
        (unsigned long long)atomic_load(&bytes_in), (unsigned long long)atomic_load(&bytes_out),
        (long long)atomic_load(&uploads_in_flight),
        (unsigned long long)atomic_load(&header_timeouts), (long long)blob_bytes,
        (long long)blob_count);
    store_listen_info li;
    store_listen_stats(&li, c->app->store);
    put(&b,
        "# HELP cairn_catalog_revision_reads_total How requests learned the catalog revision:"
        " pushed by the listener (--read-consistency notify) or read from the database.\n"
        "# TYPE cairn_catalog_revision_reads_total counter\n"
        "cairn_catalog_revision_reads_total{source=\"pushed\"} %lld\n"
        "cairn_catalog_revision_reads_total{source=\"database\"} %lld\n",
        (long long)li.reads_pushed, (long long)li.reads_db);
    if (li.enabled)
        put(&b,
            "# HELP cairn_catalog_listener_up 1 while the revision listener is connected.\n"
            "# TYPE cairn_catalog_listener_up gauge\ncairn_catalog_listener_up %d\n"
            "# HELP cairn_catalog_notifications_total Catalog commits heard of by NOTIFY.\n"
            "# TYPE cairn_catalog_notifications_total counter\n"
            "cairn_catalog_notifications_total %lld\n"
            "# HELP cairn_catalog_notify_lag_max_seconds The longest delay seen from a commit on"
            " any instance to its notification here (the staleness bound of notify mode).\n"
            "# TYPE cairn_catalog_notify_lag_max_seconds gauge\n"
            "cairn_catalog_notify_lag_max_seconds %.3f\n",
            li.up ? 1 : 0, (long long)li.notified, (double)li.lag_ms_max / 1000.0);
    char *copy = arena_alloc(c->a, b.n + 1);
    memcpy(copy, b.p, b.n + 1);
    free(b.p);
    r->status = 200;
    r->raw = copy;
    r->raw_len = b.n;
    r->content_type = "text/plain; version=0.0.4; charset=utf-8";
    return 0;
}
