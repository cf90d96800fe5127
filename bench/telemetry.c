/*
 * telemetry.c: the load generator of bench/telemetry.sh.
 *   cairn-bench-telemetry http EVENTS CLIENTS START_MS SPAN_MS ORG MODEL TOKEN URL [URL2]
 *       POSTs EVENTS inference events in batches of 1000 from CLIENTS threads (keep-alive,
 *       alternating between the URLs); event k has ts START + k * SPAN / EVENTS, a log-normal
 *       latency, 1% errors. Prints "events seconds events_per_s".
 *   cairn-bench-telemetry raw EVENTS CLIENTS START_MS SPAN_MS TELEMETRY_DB_URL
 *       The same events, aggregated the same way (per version and minute, core/histogram.c),
 *       inserted into a telemetry store directly by CLIENTS threads, one transaction per batch:
 *       the database's write ceiling without HTTP, JSON or validation.
 *   cairn-bench-telemetry query N SINCE_MS UNTIL_MS ORG MODEL TOKEN URL
 *       N sequential GETs of .../telemetry over the window; prints "p50_ms p99_ms sessions".
 */
#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/histogram.h"
#include "store/store.h"
#include "util/crypto.h"

#define BATCH 1000

static long long events, start_ms, span_ms;
static int clients;
static _Atomic long long next_batch;
static const char *org, *model, *token, *urls[2];
static const char *db_url;
static store *ts;
static _Atomic int failures;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

typedef struct gen {
    uint64_t s;
} gen;

static double uni(gen *g)
{
    g->s ^= g->s << 13;
    g->s ^= g->s >> 7;
    g->s ^= g->s << 17;
    return (double)(g->s >> 11) / 9007199254740992.0;
}

static double latency(gen *g)
{
    double u1 = uni(g) + 1e-12, u2 = uni(g);
    return exp(3.0 + 0.6 * sqrt(-2 * log(u1)) * cos(2 * M_PI * u2));
}

static long long ts_of(long long k)
{
    return start_ms + (long long)((double)k * (double)span_ms / (double)events);
}

static size_t sink(char *p, size_t sz, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return sz * n;
}

static void *http_client(void *arg)
{
    long id = (long)arg;
    CURL *h = curl_easy_init();
    char *body = malloc(BATCH * 160 + 64), url[512], auth[256];
    gen g = {0x9e3779b97f4a7c15ull ^ (uint64_t)(id + 1) * 7919};
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    struct curl_slist *hdr = curl_slist_append(NULL, auth);
    hdr = curl_slist_append(hdr, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    long long b;
    while ((b = atomic_fetch_add(&next_batch, 1)) * BATCH < events) {
        long long k0 = b * BATCH, k1 = k0 + BATCH < events ? k0 + BATCH : events;
        size_t n = (size_t)sprintf(body, "{\"events\":[");
        for (long long k = k0; k < k1; k++)
            n += (size_t)sprintf(body + n,
                                 "%s{\"model\":\"%s\",\"version\":\"1.0.0\",\"device_id\":\"dev-%lld\","
                                 "\"latency_ms\":%.3f,\"ok\":%s,\"ts\":%lld}",
                                 k > k0 ? "," : "", model, k % 5000, latency(&g),
                                 uni(&g) < 0.01 ? "false" : "true", ts_of(k));
        n += (size_t)sprintf(body + n, "]}");
        snprintf(url, sizeof(url), "%s/api/v1/org/%s/telemetry/inference",
                 urls[urls[1] ? b % 2 : 0], org);
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)n);
        long code = 0;
        if (curl_easy_perform(h) != CURLE_OK ||
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK || code != 200) {
            if (atomic_fetch_add(&failures, 1) < 5)
                fprintf(stderr, "bench: batch %lld: HTTP %ld\n", b, code);
        }
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    free(body);
    return NULL;
}

/* The same aggregation as the API: one partial per (version, minute) of the batch. */
static void *raw_client(void *arg)
{
    long id = (long)arg;
    gen g = {0x9e3779b97f4a7c15ull ^ (uint64_t)(id + 1) * 7919};
    hist *h = malloc(sizeof(hist));
    char *text = malloc(HIST_TEXT_MAX);
    arena *a = arena_create();
    long long b;
    while ((b = atomic_fetch_add(&next_batch, 1)) * BATCH < events) {
        long long k0 = b * BATCH, k1 = k0 + BATCH < events ? k0 + BATCH : events;
        store_rollup rows[BATCH];
        size_t nr = 0;
        long long k = k0;
        while (k < k1) {
            long long minute = ts_of(k) - ts_of(k) % 60000;
            hist_init(h);
            long long errors = 0, sum_us = 0;
            for (; k < k1 && ts_of(k) - ts_of(k) % 60000 == minute; k++) {
                double l = latency(&g);
                hist_add(h, l);
                sum_us += llround(l * 1000);
                errors += uni(&g) < 0.01;
            }
            hist_encode(text, HIST_TEXT_MAX, h);
            char idb[37];
            crypto_uuid7(idb);
            rows[nr++] = (store_rollup){arena_strdup(a, idb), "org", "artifact", "1.0.0", 0,
                                        minute, (int64_t)h->count, errors, sum_us,
                                        llround(h->min_ms * 1000), llround(h->max_ms * 1000),
                                        arena_strdup(a, text)};
        }
        err e = {0};
        store_tx *tx = NULL;
        if (store_tx_begin(&tx, ts, true, &e) < 0 || store_partials_insert(tx, rows, nr, &e) < 0 ||
            store_tx_end(tx, true, &e) < 0) {
            store_tx_end(tx, false, &e);
            if (atomic_fetch_add(&failures, 1) < 5)
                fprintf(stderr, "bench: raw batch %lld: %s\n", b, e.detail);
        }
        arena_free(a);
        a = arena_create();
    }
    arena_free(a);
    free(h);
    free(text);
    return NULL;
}

static int cmp_d(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static char resp[1 << 16];
static size_t resp_len;
static size_t keep(char *p, size_t sz, size_t n, void *ud)
{
    (void)ud;
    size_t m = sz * n;
    if (resp_len + m < sizeof(resp)) {
        memcpy(resp + resp_len, p, m);
        resp_len += m;
        resp[resp_len] = '\0';
    }
    return m;
}

static int run_query(int n, long long since, long long until)
{
    CURL *h = curl_easy_init();
    char url[1024], auth[256], a[32], b[32];
    struct tm tm;
    time_t t = (time_t)(since / 1000);
    gmtime_r(&t, &tm);
    strftime(a, sizeof(a), "%Y-%m-%dT%H:%M:%SZ", &tm);
    t = (time_t)(until / 1000);
    gmtime_r(&t, &tm);
    strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(url, sizeof(url), "%s/api/v1/org/%s/models/%s/telemetry?since=%s&until=%s", urls[0],
             org, model, a, b);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    struct curl_slist *hdr = curl_slist_append(NULL, auth);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep);
    double *ms = malloc(sizeof(double) * (size_t)n);
    for (int i = 0; i < n; i++) {
        resp_len = 0;
        double t0 = now_s();
        long code = 0;
        if (curl_easy_perform(h) != CURLE_OK ||
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK || code != 200) {
            fprintf(stderr, "bench: query HTTP %ld: %s\n", code, resp);
            return 1;
        }
        ms[i] = (now_s() - t0) * 1000;
    }
    qsort(ms, (size_t)n, sizeof(double), cmp_d);
    const char *s = strstr(resp, "\"sessions\":");
    printf("%.3f %.3f %s\n", ms[n / 2], ms[(size_t)ceil(0.99 * n) - 1],
           s ? s + 11 : "?");
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    free(ms);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (strcmp(argv[1], "query") == 0 && argc == 9) {
        org = argv[5];
        model = argv[6];
        token = argv[7];
        urls[0] = argv[8];
        return run_query(atoi(argv[2]), atoll(argv[3]), atoll(argv[4]));
    }
    bool raw = strcmp(argv[1], "raw") == 0;
    if ((raw && argc != 7) || (!raw && (argc < 10 || argc > 11)))
        return 2;
    events = atoll(argv[2]);
    clients = atoi(argv[3]);
    start_ms = atoll(argv[4]);
    span_ms = atoll(argv[5]);
    if (raw) {
        db_url = argv[6];
        err e = {0};
        if (store_open_telemetry(&ts, db_url, clients + 1, &e) < 0) {
            fprintf(stderr, "bench: %s\n", e.detail);
            return 1;
        }
    } else {
        org = argv[6];
        model = argv[7];
        token = argv[8];
        urls[0] = argv[9];
        urls[1] = argc == 11 ? argv[10] : NULL;
    }
    pthread_t th[64];
    double t0 = now_s();
    for (long i = 0; i < clients && i < 64; i++)
        pthread_create(&th[i], NULL, raw ? raw_client : http_client, (void *)i);
    for (long i = 0; i < clients && i < 64; i++)
        pthread_join(th[i], NULL);
    double dt = now_s() - t0;
    if (ts)
        store_close(ts);
    printf("%lld %.2f %.0f\n", events, dt, (double)events / dt);
    return atomic_load(&failures) ? 1 : 0;
}
