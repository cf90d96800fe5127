/*
 * admin.c: garbage collection and consistency checks of metadata and blobs, and the
 * server-admin routes that run them.
 */
#include "api/admin.h"

#include "api/cache.h"
#include "api/common.h"
#include "api/handlers.h"
#include "api/manifest.h"
#include "index/facet_index.h"
#include "index/search_cache.h"
#include "util/log.h"
#include "util/timeutil.h"

static void discard_session(const char *id, void *ctx)
{
    const app *ap = ctx;
    blob_session_discard(ap->blob, id);
}

/* True if a live (unexpired) session row owns the session bytes named id. Asked by the sweep
 * for old session bytes only, and after seeing them: the row is made before the first byte,
 * so bytes of a live session always find their row here. On a database fault, keep. */
static bool session_live(const char *id, void *ctx)
{
    const app *ap = ctx;
    store_tx *tx = NULL;
    store_session s;
    err e = {0};
    arena *a = arena_create();
    bool live = true;
    if (a && store_tx_begin(&tx, ap->store, false, &e) == 0) {
        char *repo = NULL;
        int64_t expires = 0;
        if (store_session_get(&s, tx, id, a, &e) == 0) {
            live = s.expires_at >= time_now_ms();
        } else if (e.kind == ERR_NOT_FOUND) {
            /* or an OCI blob upload (api/oci/push.c) */
            err_clear(&e);
            if (store_oci_upload_get(&repo, &expires, NULL, NULL, tx, id, a, &e) == 0)
                live = expires >= time_now_ms();
            else if (e.kind == ERR_NOT_FOUND)
                live = false;
        }
        store_tx_end(tx, false, &e);
    }
    arena_free(a);
    return live;
}

/*
 * GC never removes a blob a committed row references, whatever the interleaving with uploads,
 * on every database and blob store. The rule has three parts:
 *   1. GC removes a blob only inside a write transaction (the database's global write lock:
 *      SQLite's BEGIN IMMEDIATE, PostgreSQL's advisory lock), after checking there, against
 *      every committed row, that nothing references it, and after re-reading the blob's age
 *      mark: it must still be older than the cutoff taken when this GC began.
 *   2. A writer makes the blob durable first (a deduplicated write refreshes the existing
 *      blob's age mark, so GC takes it for new), then, inside its own write transaction,
 *      checks the blob is still there before inserting the row that references it (attach in
 *      upload.c): if GC removed it meanwhile, the write fails (503, upload again) and no row
 *      is acknowledged.
 *   3. Write transactions are serialised, so either GC's check-and-remove comes first (then
 *      the writer sees the blob gone), or the writer's row is committed first (then GC sees
 *      the reference). The walk of the store is only a prefilter, in a read snapshot that may
 *      miss rows committed after it began; nothing is removed on its word alone.
 * The age mark (1) and its refresh (2) spare the uploads in flight from failing: bytes written
 * or deduplicated after GC began are never its candidates. With --retention 0 an upload whose
 * bytes were published before GC began can still be refused (part 2), never lost.
 */
#define GC_BATCH 32 /* removals per write transaction: writers wait at most one batch */

typedef struct walk_ctx {
    const app *ap;
    store_tx *tx;
    int64_t cutoff;
    int64_t deleted, kept, orphans_old, orphans_new, checked, mismatched;
    json_t *bad;
    json_t *candidates; /* GC: old blobs the snapshot saw unreferenced */
    err *e;
} walk_ctx;

static int gc_blob(const char *key, uint64_t size, int64_t mtime_ms, void *ctx)
{
    (void)size;
    walk_ctx *w = ctx;
    if (mtime_ms >= w->cutoff) {
        w->kept++;
        return 0;
    }
    int ref = store_blob_referenced(w->tx, key, w->e);
    if (ref < 0)
        return -1;
    if (ref == 0)
        json_array_append_new(w->candidates, json_string(key));
    else
        w->kept++;
    return 0;
}

/* Removes the candidates [from, to) that are still unreferenced and old, under the write lock
 * (rule 1 above). */
static int gc_remove_batch(walk_ctx *w, size_t from, size_t to)
{
    store_tx *tx = NULL;
    if (store_tx_begin(&tx, w->ap->store, true, w->e) < 0)
        return -1;
    for (size_t i = from; i < to; i++) {
        const char *key = json_string_value(json_array_get(w->candidates, i));
        int ref = store_blob_referenced(tx, key, w->e);
        if (ref < 0) {
            store_tx_end(tx, false, w->e);
            return -1;
        }
        uint64_t size = 0;
        int64_t mtime = 0;
        err se = {0};
        if (ref == 1) {
            w->kept++;
        } else if (blob_stat(&size, &mtime, w->ap->blob, key, &se) < 0) {
            if (se.kind != ERR_NOT_FOUND) /* gone already: nothing to do */
                w->kept++;
        } else if (mtime >= w->cutoff) {
            w->kept++; /* written again (dedup) since the walk: an upload is using it */
        } else {
            err ignored = {0};
            if (blob_delete(w->ap->blob, key, &ignored) == 0)
                w->deleted++;
        }
    }
    return store_tx_end(tx, false, w->e);
}

int admin_gc(json_t **report, const app *ap, err *e)
{
    store_tx *tx = NULL;
    int64_t now = time_now_ms(), purged = 0;
    int64_t cutoff = now - (int64_t)ap->cfg->retention_days * 86400000LL;
    int tmp_removed = 0;
    walk_ctx w = {.ap = ap, .cutoff = cutoff, .e = e, .candidates = json_array()};
    int rc = -1;
    if (store_tx_begin(&tx, ap->store, true, e) < 0)
        goto out;
    if (store_purge(&purged, tx, cutoff, e) < 0 ||
        store_sessions_expire(tx, now, discard_session, (void *)ap, e) < 0) {
        store_tx_end(tx, false, e);
        goto out;
    }
    if (store_tx_end(tx, true, e) < 0)
        goto out;
    if (blob_sweep_tmp(ap->blob, ap->cfg->tmp_age_s * 1000, session_live, (void *)ap,
                       &tmp_removed, e) < 0)
        goto out;
    /* Blobs last: a blob is removed only when no row, live or restorable, refers to it. */
    if (store_tx_begin(&tx, ap->store, false, e) < 0)
        goto out;
    w.tx = tx;
    int wrc = blob_foreach(ap->blob, gc_blob, &w, e);
    store_tx_end(tx, false, e);
    if (wrc < 0)
        goto out;
    size_t n = json_array_size(w.candidates);
    for (size_t i = 0; i < n; i += GC_BATCH)
        if (gc_remove_batch(&w, i, i + GC_BATCH < n ? i + GC_BATCH : n) < 0)
            goto out;
    *report = json_pack("{s:I, s:i, s:I, s:I, s:i}", "rows_purged", (json_int_t)purged,
                        "temporaries_removed", tmp_removed, "blobs_removed",
                        (json_int_t)w.deleted, "blobs_kept", (json_int_t)w.kept,
                        "retention_days", ap->cfg->retention_days);
    log_info(NULL, "gc.done", "s:I, s:I", "rows_purged", (json_int_t)purged, "blobs_removed",
             (json_int_t)w.deleted);
    rc = 0;
out:
    json_decref(w.candidates);
    return rc;
}

static int fsck_blob(const char *key, uint64_t size, int64_t mtime_ms, void *ctx)
{
    (void)size;
    walk_ctx *w = ctx;
    bool ok = false;
    w->checked++;
    if (blob_verify(&ok, w->ap->blob, key, w->e) < 0)
        return -1;
    if (!ok) {
        w->mismatched++;
        json_array_append_new(w->bad, json_pack("{s:s, s:s}", "key", key, "problem",
                                                "content does not match its sha256"));
    }
    int ref = store_blob_referenced(w->tx, key, w->e);
    if (ref < 0)
        return -1;
    if (ref == 0) {
        if (mtime_ms < w->cutoff) {
            w->orphans_old++;
            json_array_append_new(w->bad, json_pack("{s:s, s:s}", "key", key, "problem",
                                                    "unreferenced past the retention window"));
        } else {
            w->orphans_new++;
        }
    }
    return 0;
}

static int fsck_ref(const char *key, void *ctx)
{
    walk_ctx *w = ctx;
    if (!blob_exists(w->ap->blob, key)) {
        w->deleted++; /* counts missing */
        json_array_append_new(w->bad, json_pack("{s:s, s:s}", "key", key, "problem",
                                                "referenced but missing"));
    }
    return 0;
}

int admin_fsck(json_t **report, int64_t *broken, const app *ap, err *e)
{
    store_tx *tx = NULL;
    walk_ctx w = {.ap = ap, .e = e, .bad = json_array()};
    w.cutoff = time_now_ms() - (int64_t)ap->cfg->retention_days * 86400000LL;
    if (store_tx_begin(&tx, ap->store, false, e) < 0)
        goto fail;
    w.tx = tx;
    if (blob_foreach(ap->blob, fsck_blob, &w, e) < 0 ||
        store_referenced_keys(tx, fsck_ref, &w, e) < 0) {
        store_tx_end(tx, false, e);
        goto fail;
    }
    store_tx_end(tx, false, e);
    *broken = w.mismatched + w.deleted + w.orphans_old;
    *report = json_pack("{s:I, s:I, s:I, s:I, s:I, s:o}", "blobs_checked",
                        (json_int_t)w.checked, "mismatched", (json_int_t)w.mismatched,
                        "missing", (json_int_t)w.deleted, "orphans_pending_gc",
                        (json_int_t)w.orphans_new, "orphans_overdue",
                        (json_int_t)w.orphans_old, "problems", w.bad);
    return 0;
fail:
    json_decref(w.bad);
    return -1;
}

int api_admin_gc(api_reply *r, api_call *c)
{
    json_t *report = NULL;
    if (admin_gc(&report, c->app, &r->e) < 0)
        return -1;
    return api_json(r, 200, report);
}

int admin_refresh(json_t **report, const app *ap, err *e)
{
    store_tx *tx = NULL;
    const char *views[8];
    size_t nviews = 0;
    int64_t rows = 0;
    if (store_tx_begin(&tx, ap->store, true, e) < 0)
        return -1;
    if (store_refresh_views(views, 8, &nviews, &rows, tx, e) < 0) {
        store_tx_end(tx, false, e);
        return -1;
    }
    if (store_tx_end(tx, true, e) < 0)
        return -1;
    /* Caches after the commit, so nothing rebuilds them from the old views. */
    size_t responses = resp_cache_clear(ap->cache);
    manifest_cache_invalidate(ap->manifest);
    facet_index_invalidate(ap->index);
    search_cache_invalidate(ap->search);
    json_t *refreshed = json_array(), *tags = json_array();
    for (size_t i = 0; i < nviews; i++)
        json_array_append_new(refreshed, json_string(views[i]));
    if (ap->cache)
        json_array_append_new(tags, json_string("responses"));
    if (ap->manifest)
        json_array_append_new(tags, json_string("manifest"));
    if (ap->index)
        json_array_append_new(tags, json_string("facet_index"));
    *report = json_pack("{s:o, s:o, s:I, s:I}", "refreshed_views", refreshed,
                        "invalidated_tags", tags, "artifacts", (json_int_t)rows,
                        "responses_dropped", (json_int_t)responses);
    log_info(NULL, "refresh.done", "s:I, s:I", "artifacts", (json_int_t)rows,
             "responses_dropped", (json_int_t)responses);
    return 0;
}

int api_admin_refresh(api_reply *r, api_call *c)
{
    json_t *report = NULL;
    if (api_check_body(c, NULL, 0, &r->e) < 0 || admin_refresh(&report, c->app, &r->e) < 0)
        return -1;
    return api_json(r, 200, report);
}
