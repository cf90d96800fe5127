/*
 * test_search_cache.c: the search cache (src/index/search_cache.c) against a fresh full-text
 * scan of the store. On PostgreSQL (CAIRN_TEST_PG=HOST:PORT) the hits it gives after
 * randomized inserts, text updates, deletes and restores, caught up from the change feed, must
 * equal a full ranking of the store at that revision, hit for hit (key, score, order). On
 * SQLite the cache declines (bm25 is not per-artifact) and so does store_fts_scan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index/search_cache.h"
#include "store/store.h"

typedef struct fixture {
    char dir[64];
    char url[128];
    store *s;
    arena *a;
    bool pg;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/cairn-search-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->url, sizeof(f->url), "sqlite://%s/t.db", f->dir);
    const char *pg = getenv("CAIRN_TEST_PG");
    if (pg && *pg) {
        char cmd[256], host[64];
        const char *colon = strchr(pg, ':');
        if (!colon || (size_t)(colon - pg) >= sizeof(host))
            return -1;
        memcpy(host, pg, (size_t)(colon - pg));
        host[colon - pg] = '\0';
        snprintf(cmd, sizeof(cmd), "psql -q -h %s -p %s -U postgres -c 'CREATE DATABASE \"s_%s\"'",
                 host, colon + 1, f->dir + 19);
        if (system(cmd) != 0)
            return -1;
        snprintf(f->url, sizeof(f->url), "postgres://postgres@%s/s_%s", pg, f->dir + 19);
        f->pg = true;
    }
    err e = {0};
    if (store_open(&f->s, f->url, 2, &e) < 0)
        return -1;
    f->a = arena_create();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    store_close(f->s);
    arena_free(f->a);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static uint32_t rng = 20261207;
static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static const char *const words[] = {"llama", "red", "reef", "blue", "green", "tiny", "chat",
                                    "vision", "rare", "coder"};

/* A few random words (some repeated, which moves ts_rank). */
static char *text(arena *a)
{
    char buf[128] = "";
    size_t n = 1 + next() % 4;
    for (size_t i = 0; i < n; i++) {
        strcat(buf, i ? " " : "");
        strcat(buf, words[next() % 10]);
    }
    return arena_strdup(a, buf);
}

static char *tags(arena *a)
{
    return arena_printf(a, "[\"%s\"]", words[next() % 10]);
}

static int cmp_hit(const void *pa, const void *pb)
{
    const store_fts_hit *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score < b->score ? -1 : 1;
    return a->rowid < b->rowid ? -1 : a->rowid > b->rowid;
}

/* Compares the cache's hits of q with a full scan, in one read transaction. Returns how many
 * hits there were. */
static size_t check(fixture *f, search_cache *sc, const char *q, int64_t min_rev)
{
    err e = {0};
    store_tx *tx = NULL;
    assert_int_equal(store_tx_begin(&tx, f->s, false, &e), 0);
    store_fts_hit *got, *want;
    size_t ngot, nwant;
    bool sup1, sup2;
    int64_t rev;
    assert_int_equal(search_cache_hits(&got, &ngot, &sup1, sc, tx, q, min_rev, f->a, &e), 0);
    assert_int_equal(store_fts_scan(&want, &nwant, &rev, &sup2, tx, q, -1, f->a, &e), 0);
    assert_int_equal(sup1, f->pg);
    assert_int_equal(sup2, f->pg);
    qsort(want, nwant, sizeof(*want), cmp_hit);
    assert_int_equal(ngot, nwant);
    for (size_t i = 0; i < nwant; i++) {
        assert_int_equal(got[i].rowid, want[i].rowid);
        assert_true(got[i].score == want[i].score);
    }
    store_tx_end(tx, false, &e);
    return nwant;
}

static void cache_equals_full_scan_after_random_changes(void **state)
{
    fixture *f = *state;
    err e = {0};
    store_org o;
    store_tx *tx = NULL;
    search_cache *sc = search_cache_new();
    assert_non_null(sc);
    assert_int_equal(store_tx_begin(&tx, f->s, true, &e), 0);
    assert_int_equal(store_org_create(&o, tx, "sc", NULL, f->a, &e), 0);
    assert_int_equal(store_tx_end(tx, true, &e), 0);
    enum { MAX = 80 };
    char *names[MAX];
    bool deleted[MAX] = {0};
    int n = 0;
    static const char *const queries[] = {"llama", "re", "blue green", "zzz", "-"};
    size_t seen = 0;
    int64_t now = 1000;
    for (int round = 0; round < 12; round++) {
        assert_int_equal(store_tx_begin(&tx, f->s, true, &e), 0);
        for (int k = 0; k < 8; k++) {
            int op = (int)(next() % 10);
            now += 10;
            if (n < 6 || (op < 4 && n < MAX)) {
                store_artifact m = {0};
                char id[40];
                snprintf(id, sizeof(id), "00000000-0000-7000-8000-%012d", n + 1);
                names[n] = arena_printf(f->a, "m%02d", n);
                m.id = arena_strdup(f->a, id);
                m.org_id = o.id;
                m.org_slug = o.slug;
                m.kind = "models";
                m.name = names[n];
                m.summary = text(f->a);
                m.pretty_name = next() % 2 ? text(f->a) : NULL;
                m.framework = "gguf";
                m.tags = tags(f->a);
                m.enabled = true;
                m.created_at = m.updated_at = now;
                assert_int_equal(store_artifact_insert(tx, &m, &e), 0);
                n++;
                continue;
            }
            int i = (int)(next() % (uint32_t)n);
            store_artifact m;
            if (deleted[i]) {
                assert_int_equal(store_artifact_restore(&m, tx, o.id, "models", names[i], 0, now,
                                                        f->a, &e),
                                 0);
                deleted[i] = false;
            } else if (op < 8) {
                assert_int_equal(store_artifact_get(&m, tx, o.id, "models", names[i], false, f->a,
                                                    &e),
                                 0);
                m.summary = text(f->a);
                if (op == 7)
                    m.tags = tags(f->a);
                assert_int_equal(store_artifact_update(tx, &m, now, &e), 0);
            } else {
                assert_int_equal(store_artifact_get(&m, tx, o.id, "models", names[i], false, f->a,
                                                    &e),
                                 0);
                assert_int_equal(store_artifact_delete(tx, m.id, now, &e), 0);
                deleted[i] = true;
            }
        }
        assert_int_equal(store_tx_end(tx, true, &e), 0);
        for (size_t q = 0; q < sizeof(queries) / sizeof(queries[0]); q++)
            seen += check(f, sc, queries[q], 0);
        /* Asked again at the revision it has: answered without the store, the same. */
        int64_t rev;
        assert_int_equal(store_catalog_revision(&rev, f->s, &e), 0);
        check(f, sc, "llama", rev);
    }
    if (f->pg)
        assert_true(seen > 100); /* the comparisons compared something */
    /* After an invalidation the hits are rebuilt whole, still the same. */
    search_cache_invalidate(sc);
    check(f, sc, "llama", 0);
    search_cache_free(sc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cache_equals_full_scan_after_random_changes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
