/*
 * store_oci.c: what an OCI repository (an artifact of kind models) holds: pushed blobs,
 * manifests (their bytes are blobs), tags, and blob upload sessions.
 */
#include "store/store.h"

#include <string.h>

#include "store/store_int.h"

int store_oci_blob_add(store_tx *tx, const char *artifact_id, const char *digest,
                       const char *storage_key, int64_t size, int64_t now, err *e)
{
    return db_run(tx->d,
                  "INSERT INTO oci_blobs (artifact_id, digest, storage_key, size_bytes,"
                  " created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                  e, "tttii", artifact_id, digest, storage_key, size, now) < 0
               ? -1
               : 0;
}

int store_oci_blob_size(int64_t *size, store_tx *tx, const char *artifact_id, const char *digest,
                        bool visible_only, err *e)
{
    db_stmt *st = NULL;
    const char *hex = strncmp(digest, "sha256:", 7) == 0 ? digest + 7 : digest;
    if (db_query(&st, tx->d,
                 "SELECT size_bytes FROM oci_blobs WHERE artifact_id = ? AND digest = ?"
                 " UNION ALL SELECT r.size_bytes FROM resources r JOIN versions v ON"
                 " v.id = r.version_id WHERE v.artifact_id = ? AND r.sha256 = ?"
                 " AND r.deleted_at = 0 AND v.deleted_at = 0"
                 " AND (? = 0 OR v.lifecycle IN ('published', 'deprecated')) LIMIT 1",
                 e, "tttti", artifact_id, digest, artifact_id, hex, (int64_t)visible_only) < 0)
        return -1;
    int rc = db_step(st, e);
    if (rc == 1)
        *size = db_col_int(st, 0);
    db_done(st);
    if (rc == 0)
        return err_set(e, ERR_NOT_FOUND, "blob unknown to repository");
    return rc < 0 ? -1 : 0;
}

int store_oci_blob_delete(store_tx *tx, const char *artifact_id, const char *digest, err *e)
{
    int64_t n = db_run(tx->d, "DELETE FROM oci_blobs WHERE artifact_id = ? AND digest = ?", e, "tt",
                       artifact_id, digest);
    if (n < 0)
        return -1;
    return n == 0 ? err_set(e, ERR_NOT_FOUND, "blob unknown to repository") : 0;
}

#define MANIFEST_COLS                                                                              \
    "artifact_id, digest, media_type, storage_key, size_bytes, subject, artifact_type,"            \
    " created_at, generated"

static void manifest_read(store_oci_manifest *m, db_stmt *st, arena *a)
{
    m->artifact_id = store_col_str(st, 0, a);
    m->digest = store_col_str(st, 1, a);
    m->media_type = store_col_str(st, 2, a);
    m->storage_key = store_col_str(st, 3, a);
    m->size_bytes = db_col_int(st, 4);
    m->subject = store_col_str(st, 5, a);
    m->artifact_type = store_col_str(st, 6, a);
    m->created_at = db_col_int(st, 7);
    m->generated = db_col_int(st, 8) != 0;
}

int store_oci_manifest_put(store_tx *tx, const store_oci_manifest *m, err *e)
{
    return db_run(tx->d,
                  "INSERT INTO oci_manifests (" MANIFEST_COLS ")"
                  " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (artifact_id, digest) DO UPDATE"
                  " SET generated = oci_manifests.generated * excluded.generated",
                  e, "ttttittii", m->artifact_id, m->digest, m->media_type, m->storage_key,
                  m->size_bytes, m->subject, m->artifact_type, m->created_at,
                  (int64_t)m->generated) < 0
               ? -1
               : 0;
}

int store_oci_manifest_get(store_oci_manifest *out, store_tx *tx, const char *artifact_id,
                           const char *digest, arena *a, err *e)
{
    db_stmt *st = NULL;
    if (db_query(&st, tx->d,
                 "SELECT " MANIFEST_COLS " FROM oci_manifests WHERE artifact_id = ?"
                 " AND digest = ?",
                 e, "tt", artifact_id, digest) < 0)
        return -1;
    int rc = db_step(st, e);
    if (rc == 1)
        manifest_read(out, st, a);
    db_done(st);
    if (rc == 0)
        return err_set(e, ERR_NOT_FOUND, "manifest unknown");
    return rc < 0 ? -1 : 0;
}

int store_oci_manifest_delete(store_tx *tx, const char *artifact_id, const char *digest, err *e)
{
    if (db_run(tx->d, "DELETE FROM oci_tags WHERE artifact_id = ? AND digest = ?", e, "tt",
               artifact_id, digest) < 0)
        return -1;
    int64_t n = db_run(tx->d, "DELETE FROM oci_manifests WHERE artifact_id = ? AND digest = ?", e,
                       "tt", artifact_id, digest);
    if (n < 0)
        return -1;
    return n == 0 ? err_set(e, ERR_NOT_FOUND, "manifest unknown") : 0;
}

int store_oci_referrers(store_oci_manifest **out, size_t *n, store_tx *tx, const char *artifact_id,
                        const char *digest, arena *a, err *e)
{
    db_stmt *st = NULL;
    size_t cap = 16, k = 0;
    store_oci_manifest *items = arena_array(a, store_oci_manifest, cap);
    if (db_query(&st, tx->d,
                 "SELECT " MANIFEST_COLS " FROM oci_manifests WHERE artifact_id = ?"
                 " AND subject = ? ORDER BY created_at, digest LIMIT 1000",
                 e, "tt", artifact_id, digest) < 0)
        return -1;
    int rc;
    while ((rc = db_step(st, e)) == 1) {
        if (k == cap)
            items = store_grow(items, &cap, sizeof(*items), a);
        manifest_read(&items[k++], st, a);
    }
    db_done(st);
    *out = items;
    *n = k;
    return rc < 0 ? -1 : 0;
}

int store_oci_tag_set(store_tx *tx, const char *artifact_id, const char *tag, const char *digest,
                      int64_t now, err *e)
{
    return db_run(tx->d,
                  "INSERT INTO oci_tags (artifact_id, tag, digest, updated_at)"
                  " VALUES (?, ?, ?, ?) ON CONFLICT (artifact_id, tag) DO UPDATE SET"
                  " digest = excluded.digest, updated_at = excluded.updated_at",
                  e, "ttti", artifact_id, tag, digest, now) < 0
               ? -1
               : 0;
}

int store_oci_tag_delete(store_tx *tx, const char *artifact_id, const char *tag, err *e)
{
    int64_t n = db_run(tx->d, "DELETE FROM oci_tags WHERE artifact_id = ? AND tag = ?", e, "tt",
                       artifact_id, tag);
    if (n < 0)
        return -1;
    return n == 0 ? err_set(e, ERR_NOT_FOUND, "tag unknown") : 0;
}

int store_oci_tag_get(char **digest, store_tx *tx, const char *artifact_id, const char *tag,
                      arena *a, err *e)
{
    db_stmt *st = NULL;
    if (db_query(&st, tx->d, "SELECT digest FROM oci_tags WHERE artifact_id = ? AND tag = ?", e,
                 "tt", artifact_id, tag) < 0)
        return -1;
    int rc = db_step(st, e);
    if (rc == 1)
        *digest = store_col_str(st, 0, a);
    db_done(st);
    if (rc == 0)
        return err_set(e, ERR_NOT_FOUND, "tag unknown");
    return rc < 0 ? -1 : 0;
}

static int strings(char ***out, size_t *n, db_stmt *st, arena *a, err *e)
{
    size_t cap = 16, k = 0;
    char **items = arena_array(a, char *, cap);
    int rc;
    while ((rc = db_step(st, e)) == 1) {
        if (k == cap)
            items = store_grow(items, &cap, sizeof(*items), a);
        items[k++] = store_col_str(st, 0, a);
    }
    db_done(st);
    *out = items;
    *n = k;
    return rc < 0 ? -1 : 0;
}

int store_oci_tag_list(char ***tags, size_t *n, char ***aliases, size_t *naliases, store_tx *tx,
                       const char *artifact_id, arena *a, err *e)
{
    db_stmt *st = NULL;
    if (db_query(&st, tx->d, "SELECT tag FROM oci_tags WHERE artifact_id = ? ORDER BY tag", e, "t",
                 artifact_id) < 0 ||
        strings(tags, n, st, a, e) < 0)
        return -1;
    if (db_query(&st, tx->d, "SELECT alias FROM aliases WHERE artifact_id = ? ORDER BY alias", e,
                 "t", artifact_id) < 0)
        return -1;
    return strings(aliases, naliases, st, a, e);
}

int store_oci_repositories(char ***out, size_t *n, store_tx *tx, const char *org_id,
                           const char *after, int limit, arena *a, err *e)
{
    db_stmt *st = NULL;
    if (db_query(&st, tx->d,
                 "SELECT o.slug || '/' || a.name AS repo FROM artifacts a JOIN orgs o ON"
                 " o.id = a.org_id WHERE a.kind = 'models' AND a.deleted_at = 0"
                 " AND ((? IS NOT NULL AND a.org_id = ?) OR (? IS NULL AND a.is_public = 1"
                 " AND a.enabled = 1)) AND (? IS NULL OR o.slug || '/' || a.name > ?)"
                 " ORDER BY repo LIMIT ?",
                 e, "ttttti", org_id, org_id, org_id, after, after, (int64_t)limit) < 0)
        return -1;
    return strings(out, n, st, a, e);
}

int store_oci_upload_insert(store_tx *tx, const char *id, const char *artifact_id, int64_t now,
                            int64_t expires_at, err *e)
{
    return db_run(tx->d,
                  "INSERT INTO oci_uploads (id, artifact_id, created_at, expires_at)"
                  " VALUES (?, ?, ?, ?)",
                  e, "ttii", id, artifact_id, now, expires_at) < 0
               ? -1
               : 0;
}

int store_oci_upload_get(char **artifact_id, int64_t *expires_at, char **storage_key, int64_t *size,
                         store_tx *tx, const char *id, arena *a, err *e)
{
    db_stmt *st = NULL;
    if (db_query(&st, tx->d,
                 "SELECT artifact_id, expires_at, storage_key, size_bytes FROM oci_uploads"
                 " WHERE id = ?",
                 e, "t", id) < 0)
        return -1;
    int rc = db_step(st, e);
    if (rc == 1) {
        *artifact_id = store_col_str(st, 0, a);
        *expires_at = db_col_int(st, 1);
        if (storage_key)
            *storage_key = store_col_str(st, 2, a);
        if (size)
            *size = db_col_int(st, 3);
    }
    db_done(st);
    if (rc == 0)
        return err_set(e, ERR_NOT_FOUND, "upload unknown");
    return rc < 0 ? -1 : 0;
}

int store_oci_upload_set_blob(store_tx *tx, const char *id, const char *storage_key, int64_t size,
                              err *e)
{
    return db_run(tx->d, "UPDATE oci_uploads SET storage_key = ?, size_bytes = ? WHERE id = ?", e,
                  "tit", storage_key, size, id) < 0
               ? -1
               : 0;
}

int store_oci_upload_delete(store_tx *tx, const char *id, err *e)
{
    return db_run(tx->d, "DELETE FROM oci_uploads WHERE id = ?", e, "t", id) < 0 ? -1 : 0;
}

#define TAR_COLS "digest, storage_key, path, version_id, size_bytes"

static int tar_one(store_oci_tar *out, db_stmt *st, arena *a, err *e)
{
    int rc = db_step(st, e);
    if (rc == 1) {
        out->digest = store_col_str(st, 0, a);
        out->storage_key = store_col_str(st, 1, a);
        out->path = store_col_str(st, 2, a);
        out->version_id = store_col_str(st, 3, a);
        out->size_bytes = db_col_int(st, 4);
    }
    db_done(st);
    if (rc == 0)
        return err_set(e, ERR_NOT_FOUND, "no such layer");
    return rc < 0 ? -1 : 0;
}

int store_oci_tar_by_file(store_oci_tar *out, store_tx *tx, const char *artifact_id,
                          const char *storage_key, const char *path, arena *a, err *e)
{
    db_stmt *st = NULL;
    if (db_query(&st, tx->d,
                 "SELECT " TAR_COLS " FROM oci_tar_layers WHERE artifact_id = ?"
                 " AND storage_key = ? AND path = ? LIMIT 1",
                 e, "ttt", artifact_id, storage_key, path) < 0)
        return -1;
    return tar_one(out, st, a, e);
}

int store_oci_tar_by_digest(store_oci_tar *out, store_tx *tx, const char *artifact_id,
                            const char *digest, arena *a, err *e)
{
    db_stmt *st = NULL;
    if (db_query(&st, tx->d,
                 "SELECT " TAR_COLS " FROM oci_tar_layers WHERE artifact_id = ? AND digest = ?", e,
                 "tt", artifact_id, digest) < 0)
        return -1;
    return tar_one(out, st, a, e);
}

int store_oci_tar_add(store_tx *tx, const char *artifact_id, const store_oci_tar *t, err *e)
{
    return db_run(tx->d,
                  "INSERT INTO oci_tar_layers (artifact_id, " TAR_COLS ")"
                  " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                  e, "ttttti", artifact_id, t->digest, t->storage_key, t->path, t->version_id,
                  t->size_bytes) < 0
               ? -1
               : 0;
}
