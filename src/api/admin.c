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
#include "util/log.h"
#include "util/timeutil.h"

#define TMP_MAX_AGE_MS (6LL * 3600 * 1000) /* an upload idle this long is abandoned */

static void discard_session(const char *id, void *ctx)
{
    const app *ap = ctx;
    blob_session_discard(ap->blob, id);
}

typedef struct walk_ctx {
    const app *ap;
    store_tx *tx;
    int64_t cutoff;
    int64_t deleted, kept, orphans_old, orphans_new, checked, mismatched;
    json_t *bad;
    err *e;
} walk_ctx;

static int gc_blob(const char *key, uint64_t size, int64_t mtime_ms, void *ctx)
{
    (void)size;
    walk_ctx *w = ctx;
    int ref = store_blob_referenced(w->tx, key, w->e);
    if (ref < 0)
        return -1;
    if (ref == 0 && mtime_ms < w->cutoff) {
        err ignored = {0};
        if (blob_delete(w->ap->blob, key, &ignored) == 0)
            w->deleted++;
    } else {
        w->kept++;
    }
    return 0;
}

int admin_gc(json_t **report, const app *ap, err *e)
{
    store_tx *tx = NULL;
    int64_t now = time_now_ms(), purged = 0;
    int64_t cutoff = now - (int64_t)ap->cfg->retention_days * 86400000LL;
    int tmp_removed = 0;
    walk_ctx w = {.ap = ap, .cutoff = cutoff, .e = e};
    if (store_tx_begin(&tx, ap->store, true, e) < 0)
        return -1;
    if (store_purge(&purged, tx, cutoff, e) < 0 ||
        store_sessions_expire(tx, now, discard_session, (void *)ap, e) < 0) {
        store_tx_end(tx, false, e);
        return -1;
    }
    if (store_tx_end(tx, true, e) < 0)
        return -1;
    if (blob_sweep_tmp(ap->blob, TMP_MAX_AGE_MS, &tmp_removed, e) < 0)
        return -1;
    /* Blobs last: a blob is removed only when no row, live or restorable, refers to it. */
    if (store_tx_begin(&tx, ap->store, false, e) < 0)
        return -1;
    w.tx = tx;
    int rc = blob_foreach(ap->blob, gc_blob, &w, e);
    store_tx_end(tx, false, e);
    if (rc < 0)
        return -1;
    *report = json_pack("{s:I, s:i, s:I, s:I, s:i}", "rows_purged", (json_int_t)purged,
                        "temporaries_removed", tmp_removed, "blobs_removed",
                        (json_int_t)w.deleted, "blobs_kept", (json_int_t)w.kept,
                        "retention_days", ap->cfg->retention_days);
    log_info(NULL, "gc.done", "s:I, s:I", "rows_purged", (json_int_t)purged, "blobs_removed",
             (json_int_t)w.deleted);
    return 0;
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
