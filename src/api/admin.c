/*
 * admin.c: garbage collection and consistency checks of metadata and blobs, and the
 * server-admin routes that run them.
 */
#include "api/admin.h"

#include "api/common.h"
#include "api/handlers.h"
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
        if (store_session_get(&s, tx, id, a, &e) == 0)
            live = s.expires_at >= time_now_ms();
        else if (e.kind == ERR_NOT_FOUND)
            live = false;
        store_tx_end(tx, false, &e);
    }
    arena_free(a);
    return live;
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
    if (blob_sweep_tmp(ap->blob, ap->cfg->tmp_age_s * 1000, session_live, (void *)ap,
                       &tmp_removed, e) < 0)
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
