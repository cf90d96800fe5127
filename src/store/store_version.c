/*
 * store_version.c: versions of an artifact, ordered by their SemVer sort key.
 */
#include "store/store.h"

#include <string.h>

#include "store/store_int.h"

#define VER_COLS                                                                                   \
    "id, artifact_id, version, sort_key, lifecycle, summary, changelog, framework,"              \
    " architecture, base_model, metadata, parameter_count, size_bytes, download_count,"          \
    " created_at, updated_at, published_at, deprecated_at"

static void ver_read(store_version *v, db_stmt *st, arena *a)
{
    char **strs[] = {&v->id,        &v->artifact_id, &v->version,      &v->sort_key,
                     &v->lifecycle, &v->summary,     &v->changelog,    &v->framework,
                     &v->architecture, &v->base_model, &v->metadata};
    int i = 0;
    for (; i < (int)(sizeof(strs) / sizeof(strs[0])); i++)
        *strs[i] = store_col_str(st, i, a);
    v->parameter_count = db_col_int(st, i++);
    v->size_bytes = db_col_int(st, i++);
    v->download_count = db_col_int(st, i++);
    v->created_at = db_col_int(st, i++);
    v->updated_at = db_col_int(st, i++);
    v->published_at = db_col_int(st, i++);
    v->deprecated_at = db_col_int(st, i++);
}

int store_version_insert(store_tx *tx, const store_version *v, err *e)
{
    STORE_TOUCH(tx);
    /* ON CONFLICT DO NOTHING: a taken version inserts nothing, so PostgreSQL needs no
     * savepoint around it. */
    int64_t n = db_insert(tx->d,
                       "INSERT INTO versions (id, artifact_id, version, sort_key, lifecycle,"
                       " summary, changelog, framework, architecture, base_model, metadata,"
                       " parameter_count, created_at, updated_at)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                       e, "tttttttttttiii", v->id, v->artifact_id, v->version, v->sort_key,
                       v->lifecycle, v->summary, v->changelog, v->framework, v->architecture,
                       v->base_model, v->metadata ? v->metadata : "{}", v->parameter_count,
                       v->created_at, v->updated_at);
    if (n < 0 && e->kind != ERR_EXISTS)
        return -1;
    if (n <= 0)
        return err_set(e, ERR_EXISTS, "version '%s' already exists", v->version);
    return 0;
}

static int ver_one(store_version *out, db_stmt *st, const char *what, arena *a, err *e)
{
    int rc = db_step(st, e);
    if (rc == 1)
        ver_read(out, st, a);
    db_done(st);
    if (rc == 0)
        return err_set(e, ERR_NOT_FOUND, "version '%s' not found", what);
    return rc < 0 ? -1 : 0;
}

int store_version_by_key(store_version *out, store_tx *tx, const char *artifact_id,
                         const char *sort_key, arena *a, err *e)
{
    db_stmt *st = NULL;
    if (db_query(&st, tx->d,
                 "SELECT " VER_COLS " FROM versions WHERE artifact_id = ? AND sort_key = ?"
                 " AND deleted_at = 0",
                 e, "tt", artifact_id, sort_key) < 0)
        return -1;
    return ver_one(out, st, "requested", a, e);
}

int store_version_by_id(store_version *out, store_tx *tx, const char *artifact_id,
                        const char *id, arena *a, err *e)
{
    db_stmt *st = NULL;
    if (db_query(&st, tx->d,
                 "SELECT " VER_COLS " FROM versions WHERE id = ? AND deleted_at = 0"
                 " AND (? IS NULL OR artifact_id = ?)",
                 e, "ttt", id, artifact_id, artifact_id) < 0)
        return -1;
    return ver_one(out, st, id, a, e);
}

int store_version_list(store_version **out, size_t *n, store_tx *tx, const char *artifact_id,
                       const char *lifecycle, arena *a, err *e)
{
    db_stmt *st = NULL;
    if (db_query(&st, tx->d,
                 "SELECT " VER_COLS " FROM versions WHERE artifact_id = ? AND deleted_at = 0"
                 " AND (? IS NULL OR lifecycle = ?) ORDER BY sort_key DESC",
                 e, "ttt", artifact_id, lifecycle, lifecycle) < 0)
        return -1;
    size_t cap = 16, k = 0;
    store_version *items = arena_array(a, store_version, cap);
    int rc;
    while ((rc = db_step(st, e)) == 1) {
        if (k == cap)
            items = store_grow(items, &cap, sizeof(*items), a);
        ver_read(&items[k++], st, a);
    }
    db_done(st);
    *out = items;
    *n = k;
    return rc < 0 ? -1 : 0;
}

int store_version_update(store_tx *tx, const store_version *v, int64_t now, err *e)
{
    STORE_TOUCH(tx);
    int64_t n = db_run(tx->d,
                       "UPDATE versions SET lifecycle = ?, summary = ?, changelog = ?,"
                       " framework = ?, architecture = ?, base_model = ?, metadata = ?,"
                       " parameter_count = ?, size_bytes = ?, published_at = ?,"
                       " deprecated_at = ?, updated_at = ? WHERE id = ? AND deleted_at = 0",
                       e, "tttttttiiiiit", v->lifecycle, v->summary, v->changelog,
                       v->framework, v->architecture, v->base_model,
                       v->metadata ? v->metadata : "{}", v->parameter_count, v->size_bytes,
                       v->published_at, v->deprecated_at, now, v->id);
    if (n < 0)
        return -1;
    return n == 0 ? err_set(e, ERR_NOT_FOUND, "version '%s' not found", v->version) : 0;
}

int store_version_delete(store_tx *tx, const char *id, int64_t now, err *e)
{
    STORE_TOUCH(tx);
    if (db_run(tx->d, "DELETE FROM aliases WHERE version_id = ?", e, "t", id) < 0)
        return -1;
    int64_t n = db_run(tx->d, "UPDATE versions SET deleted_at = ? WHERE id = ? AND deleted_at = 0",
                       e, "it", now, id);
    if (n < 0)
        return -1;
    return n == 0 ? err_set(e, ERR_NOT_FOUND, "version not found") : 0;
}

int store_version_resource_counts(int64_t *total, int64_t *unverified, store_tx *tx,
                                  const char *version_id, err *e)
{
    db_stmt *st = NULL;
    if (db_query(&st, tx->d,
                 "SELECT COUNT(*), COALESCE(SUM(1 - verified), 0) FROM resources"
                 " WHERE version_id = ? AND deleted_at = 0",
                 e, "t", version_id) < 0)
        return -1;
    int rc = db_step(st, e);
    *total = rc == 1 ? db_col_int(st, 0) : 0;
    *unverified = rc == 1 ? db_col_int(st, 1) : 0;
    db_done(st);
    return rc < 0 ? -1 : 0;
}
