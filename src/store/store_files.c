/*
 * store_files.c: packages and resources of versions, download counters, blob references.
 */
#include "store/store.h"

#include <string.h>

#include "store/store_int.h"
#include "util/crypto.h"
#include "util/timeutil.h"

#define PKG_COLS "id, version_id, format, kind, size_bytes, created_at"
#define RES_COLS                                                                                   \
    "id, package_id, version_id, path, kind, sha256, media_type, storage_key, is_primary,"       \
    " verified, size_bytes, created_at"

static void pkg_read(store_package *p, db_stmt *st, arena *a)
{
    p->id = store_col_str(st, 0, a);
    p->version_id = store_col_str(st, 1, a);
    p->format = store_col_str(st, 2, a);
    p->kind = store_col_str(st, 3, a);
    p->size_bytes = db_col_int(st, 4);
    p->created_at = db_col_int(st, 5);
}

static void res_read(store_resource *r, db_stmt *st, arena *a)
{
    r->id = store_col_str(st, 0, a);
    r->package_id = store_col_str(st, 1, a);
    r->version_id = store_col_str(st, 2, a);
    r->path = store_col_str(st, 3, a);
    r->kind = store_col_str(st, 4, a);
    r->sha256 = store_col_str(st, 5, a);
    r->media_type = store_col_str(st, 6, a);
    r->storage_key = store_col_str(st, 7, a);
    r->primary = db_col_int(st, 8) != 0;
    r->verified = db_col_int(st, 9) != 0;
    r->size_bytes = db_col_int(st, 10);
    r->created_at = db_col_int(st, 11);
}

int store_package_insert(store_tx *tx, const store_package *p, err *e)
{
    STORE_TOUCH(tx);
    return db_run(tx->d,
                  "INSERT INTO packages (id, version_id, format, kind, size_bytes, created_at)"
                  " VALUES (?, ?, ?, ?, ?, ?)",
                  e, "ttttii", p->id, p->version_id, p->format, p->kind, p->size_bytes,
                  p->created_at) < 0
               ? -1
               : 0;
}

int store_resource_insert(store_tx *tx, const store_resource *r, err *e)
{
    STORE_TOUCH(tx);
    if (db_run(tx->d,
               "INSERT INTO resources (id, package_id, version_id, path, kind, sha256,"
               " media_type, storage_key, is_primary, verified, size_bytes, created_at)"
               " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               e, "ttttttttbbii", r->id, r->package_id, r->version_id, r->path, r->kind,
               r->sha256, r->media_type, r->storage_key, (int)r->primary, (int)r->verified,
               r->size_bytes, r->created_at) < 0) {
        if (e->kind == ERR_EXISTS)
            err_set(e, ERR_EXISTS, "file '%s' already exists in this version", r->path);
        return -1;
    }
    if (db_run(tx->d,
               "INSERT INTO blobs (storage_key, sha256, size_bytes, created_at)"
               " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
               e, "ttii", r->storage_key, r->sha256, r->size_bytes, r->created_at) < 0)
        return -1;
    return db_run(tx->d,
                  "UPDATE versions SET size_bytes = size_bytes + ? WHERE id = ?", e, "it",
                  r->size_bytes, r->version_id) < 0
               ? -1
               : 0;
}

int store_package_list(store_package **out, size_t *n, store_tx *tx, const char *version_id,
                       arena *a, err *e)
{
    db_stmt *st = NULL;
    if (db_query(&st, tx->d,
                 "SELECT " PKG_COLS " FROM packages WHERE version_id = ? AND deleted_at = 0"
                 " ORDER BY created_at, id",
                 e, "t", version_id) < 0)
        return -1;
    size_t cap = 8, k = 0;
    store_package *items = arena_array(a, store_package, cap);
    int rc;
    while ((rc = db_step(st, e)) == 1) {
        if (k == cap)
            items = store_grow(items, &cap, sizeof(*items), a);
        pkg_read(&items[k++], st, a);
    }
    db_done(st);
    *out = items;
    *n = k;
    return rc < 0 ? -1 : 0;
}

int store_resource_list(store_resource **out, size_t *n, store_tx *tx, const char *version_id,
                        const char *package_id, arena *a, err *e)
{
    db_stmt *st = NULL;
    if (db_query(&st, tx->d,
                 "SELECT " RES_COLS " FROM resources WHERE version_id = ? AND deleted_at = 0"
                 " AND (? IS NULL OR package_id = ?) ORDER BY path",
                 e, "ttt", version_id, package_id, package_id) < 0)
        return -1;
    size_t cap = 8, k = 0;
    store_resource *items = arena_array(a, store_resource, cap);
    int rc;
    while ((rc = db_step(st, e)) == 1) {
        if (k == cap)
            items = store_grow(items, &cap, sizeof(*items), a);
        res_read(&items[k++], st, a);
    }
    db_done(st);
    *out = items;
    *n = k;
    return rc < 0 ? -1 : 0;
}

int store_resource_by_path(store_resource *out, store_tx *tx, const char *version_id,
                           const char *path, arena *a, err *e)
{
    db_stmt *st = NULL;
    if (db_query(&st, tx->d,
                 "SELECT " RES_COLS " FROM resources WHERE version_id = ? AND path = ?"
                 " AND deleted_at = 0",
                 e, "tt", version_id, path) < 0)
        return -1;
    int rc = db_step(st, e);
    if (rc == 1)
        res_read(out, st, a);
    db_done(st);
    if (rc == 0)
        return err_set(e, ERR_NOT_FOUND, "file '%s' not found", path);
    return rc < 0 ? -1 : 0;
}

int store_version_copy_files(store_tx *tx, const char *from, const char *to, int64_t now,
                             err *e)
{
    arena *a = arena_create();
    store_package *ps;
    size_t np;
    int rc = -1;
    if (store_package_list(&ps, &np, tx, from, a, e) < 0)
        goto out;
    for (size_t i = 0; i < np; i++) {
        store_resource *rs;
        size_t nr;
        char pid[37];
        crypto_uuid7(pid);
        store_package p = ps[i];
        p.id = pid;
        p.version_id = (char *)to;
        p.created_at = now;
        if (store_resource_list(&rs, &nr, tx, from, ps[i].id, a, e) < 0 ||
            store_package_insert(tx, &p, e) < 0)
            goto out;
        for (size_t k = 0; k < nr; k++) {
            char rid[37];
            crypto_uuid7(rid);
            store_resource r = rs[k];
            r.id = rid;
            r.package_id = pid;
            r.version_id = (char *)to;
            r.created_at = now;
            if (store_resource_insert(tx, &r, e) < 0)
                goto out;
        }
    }
    rc = 0;
out:
    arena_free(a);
    return rc;
}

int store_count_download(store_tx *tx, const char *version_id, int64_t n, err *e)
{
    STORE_TOUCH(tx); /* lists show download counts: cached pages must not go stale */
    if (db_run(tx->d, "UPDATE versions SET download_count = download_count + ? WHERE id = ?", e,
               "it", n, version_id) < 0)
        return -1;
    return db_run(tx->d,
                  "UPDATE artifacts SET download_count = download_count + ? WHERE id ="
                  " (SELECT artifact_id FROM versions WHERE id = ?)",
                  e, "it", n, version_id) < 0
               ? -1
               : 0;
}

int store_blob_referenced(store_tx *tx, const char *storage_key, err *e)
{
    db_stmt *st = NULL;
    if (db_query(&st, tx->d, "SELECT 1 FROM resources WHERE storage_key = ? UNION ALL"
                 " SELECT 1 FROM exports WHERE storage_key = ? LIMIT 1", e, "tt",
                 storage_key, storage_key) < 0)
        return -1;
    int rc = db_step(st, e);
    db_done(st);
    return rc;
}

int store_org_blob_size(int64_t *size, store_tx *tx, const char *org_id, const char *storage_key,
                        err *e)
{
    db_stmt *st = NULL;
    if (db_query(&st, tx->d,
                 "SELECT r.size_bytes FROM resources r JOIN versions v ON v.id = r.version_id"
                 " JOIN artifacts a ON a.id = v.artifact_id"
                 " WHERE r.storage_key = ? AND a.org_id = ? LIMIT 1",
                 e, "tt", storage_key, org_id) < 0)
        return -1;
    int rc = db_step(st, e);
    if (rc == 1)
        *size = db_col_int(st, 0);
    db_done(st);
    if (rc == 0)
        return err_set(e, ERR_NOT_FOUND, "org holds no such blob");
    return rc < 0 ? -1 : 0;
}

int store_artifact_fill_size_category(store_tx *tx, const char *id, const char *category,
                                      err *e)
{
    STORE_TOUCH(tx);
    return db_run(tx->d,
                  "UPDATE artifacts SET size_category = ?, " STORE_BUMP_UPDATED " WHERE id = ?"
                  " AND size_category IS NULL",
                  e, "tiit", category, time_now_ms(), time_now_ms(), id) < 0
               ? -1
               : 0;
}

int store_session_insert(store_tx *tx, const store_session *s, err *e)
{
    return db_run(tx->d,
                  "INSERT INTO upload_sessions (id, version_id, path, kind, size_bytes,"
                  " created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                  e, "ttttiii", s->id, s->version_id, s->path, s->kind, s->size_bytes,
                  s->created_at, s->expires_at) < 0
               ? -1
               : 0;
}

int store_session_get(store_session *out, store_tx *tx, const char *id, arena *a, err *e)
{
    db_stmt *st = NULL;
    if (db_query(&st, tx->d,
                 "SELECT id, version_id, path, kind, COALESCE(size_bytes, -1), created_at,"
                 " expires_at FROM upload_sessions WHERE id = ?",
                 e, "t", id) < 0)
        return -1;
    int rc = db_step(st, e);
    if (rc == 1) {
        out->id = store_col_str(st, 0, a);
        out->version_id = store_col_str(st, 1, a);
        out->path = store_col_str(st, 2, a);
        out->kind = store_col_str(st, 3, a);
        out->size_bytes = db_col_int(st, 4);
        out->created_at = db_col_int(st, 5);
        out->expires_at = db_col_int(st, 6);
    }
    db_done(st);
    if (rc == 0)
        return err_set(e, ERR_NOT_FOUND, "upload session '%s' not found", id);
    return rc < 0 ? -1 : 0;
}

int store_session_delete(store_tx *tx, const char *id, err *e)
{
    return db_run(tx->d, "DELETE FROM upload_sessions WHERE id = ?", e, "t", id) < 0 ? -1 : 0;
}

int store_referenced_keys(store_tx *tx, int (*fn)(const char *key, void *ctx), void *ctx,
                          err *e)
{
    db_stmt *st = NULL;
    if (db_query(&st, tx->d, "SELECT storage_key FROM resources UNION"
                 " SELECT storage_key FROM exports", e, "") < 0)
        return -1;
    int rc;
    while ((rc = db_step(st, e)) == 1)
        if (fn(db_col_text(st, 0), ctx) != 0)
            break;
    db_done(st);
    return rc < 0 ? -1 : 0;
}

int store_sessions_expire(store_tx *tx, int64_t now, void (*fn)(const char *id, void *ctx),
                          void *ctx, err *e)
{
    db_stmt *st = NULL;
    if (db_query(&st, tx->d, "SELECT id FROM upload_sessions WHERE expires_at < ?", e, "i",
                 now) < 0)
        return -1;
    int rc;
    while ((rc = db_step(st, e)) == 1)
        fn(db_col_text(st, 0), ctx);
    db_done(st);
    if (rc < 0)
        return -1;
    return db_run(tx->d, "DELETE FROM upload_sessions WHERE expires_at < ?", e, "i", now) < 0
               ? -1
               : 0;
}

int store_artifact_set_capability(store_tx *tx, const char *id, const char *keywords,
                                  const char *components, int64_t now, err *e)
{
    STORE_TOUCH(tx);
    return db_run(tx->d,
                  "UPDATE artifacts SET keywords = ?, components = ?, " STORE_BUMP_UPDATED
                  " WHERE id = ?",
                  e, "ttiit", keywords, components, now, now, id) < 0
               ? -1
               : 0;
}
