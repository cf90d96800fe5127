/*
 * store_edge.c: the tables of device intelligence outside the catalog: optimized
 * configurations, conversion jobs, fleet heartbeats, inference telemetry and training updates.
 */
#include "store/store.h"

#include <string.h>

#include "store/store_int.h"
#include "util/crypto.h"
#include "util/timeutil.h"

#define DEAD_VERSIONS                                                                              \
    "SELECT v.id FROM versions v JOIN artifacts a ON a.id = v.artifact_id WHERE"                  \
    " (v.deleted_at > 0 AND v.deleted_at < ?1) OR (a.deleted_at > 0 AND a.deleted_at < ?1)"

int store_purge_edge(store_tx *tx, int64_t before, err *e)
{
    if (db_run(tx->d, "DELETE FROM optimized_configs WHERE version_id IN (" DEAD_VERSIONS ")", e,
               "i", before) < 0)
        return -1;
    return db_run(tx->d,
                  "DELETE FROM jobs WHERE status IN ('succeeded', 'failed') AND version_id IN"
                  " (" DEAD_VERSIONS ")",
                  e, "i", before) < 0
               ? -1
               : 0;
}

/* ---- optimized configurations ---- */

int store_optconfig_put(bool *created, store_tx *tx, const store_optconfig *c, err *e)
{
    if (db_run(tx->d,
               "INSERT INTO blobs (storage_key, sha256, size_bytes, created_at)"
               " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
               e, "ttii", c->storage_key, c->sha256, c->size_bytes, c->updated_at) < 0)
        return -1;
    int64_t n = db_run(tx->d,
                       "UPDATE optimized_configs SET storage_key = ?, sha256 = ?, size_bytes = ?,"
                       " updated_at = ? WHERE version_id = ? AND device_type = ?",
                       e, "ttiitt", c->storage_key, c->sha256, c->size_bytes, c->updated_at,
                       c->version_id, c->device_type);
    if (n < 0)
        return -1;
    *created = n == 0;
    if (n > 0)
        return 0;
    return db_run(tx->d,
                  "INSERT INTO optimized_configs (version_id, device_type, storage_key, sha256,"
                  " size_bytes, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                  e, "ttttiii", c->version_id, c->device_type, c->storage_key, c->sha256,
                  c->size_bytes, c->created_at, c->updated_at) < 0
               ? -1
               : 0;
}

int store_optconfig_get(store_optconfig *out, store_tx *tx, const char *version_id,
                        const char *device_type, arena *a, err *e)
{
    db_stmt *st = NULL;
    if (db_query(&st, tx->d,
                 "SELECT version_id, device_type, storage_key, sha256, size_bytes, created_at,"
                 " updated_at FROM optimized_configs WHERE version_id = ? AND device_type = ?",
                 e, "tt", version_id, device_type) < 0)
        return -1;
    int rc = db_step(st, e);
    if (rc == 1) {
        out->version_id = store_col_str(st, 0, a);
        out->device_type = store_col_str(st, 1, a);
        out->storage_key = store_col_str(st, 2, a);
        out->sha256 = store_col_str(st, 3, a);
        out->size_bytes = db_col_int(st, 4);
        out->created_at = db_col_int(st, 5);
        out->updated_at = db_col_int(st, 6);
    }
    db_done(st);
    if (rc == 0)
        return err_set(e, ERR_NOT_FOUND, "no optimized config for device type '%s'",
                       device_type);
    return rc < 0 ? -1 : 0;
}

/* ---- conversion jobs ---- */

#define JOB_COLS                                                                                   \
    "id, org_id, artifact_id, version_id, source_path, source_format, target, status, error,"    \
    " stderr_tail, package_id, output_path, attempts, created_at, updated_at, started_at,"      \
    " finished_at, model, version"

static void job_read(store_job *j, db_stmt *st, arena *a)
{
    char **strs[] = {&j->id,     &j->org_id,      &j->artifact_id, &j->version_id,
                     &j->source_path, &j->source_format, &j->target, &j->status,
                     &j->error,  &j->stderr_tail, &j->package_id, &j->output_path};
    for (int i = 0; i < 12; i++)
        *strs[i] = store_col_str(st, i, a);
    j->attempts = db_col_int(st, 12);
    j->created_at = db_col_int(st, 13);
    j->updated_at = db_col_int(st, 14);
    j->started_at = db_col_int(st, 15);
    j->finished_at = db_col_int(st, 16);
    j->model = store_col_str(st, 17, a);
    j->version = store_col_str(st, 18, a);
}

int store_job_insert(store_tx *tx, const store_job *j, err *e)
{
    return db_run(tx->d,
                  "INSERT INTO jobs (id, org_id, artifact_id, version_id, model, version,"
                  " source_path, source_format, target, status, created_at, updated_at)"
                  " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  e, "ttttttttttii", j->id, j->org_id, j->artifact_id, j->version_id, j->model,
                  j->version, j->source_path, j->source_format, j->target, j->status,
                  j->created_at, j->updated_at) < 0
               ? -1
               : 0;
}

int store_job_get(store_job *out, store_tx *tx, const char *org_id, const char *id, arena *a,
                  err *e)
{
    db_stmt *st = NULL;
    if (db_query(&st, tx->d, "SELECT " JOB_COLS " FROM jobs WHERE id = ? AND org_id = ?", e,
                 "tt", id, org_id) < 0)
        return -1;
    int rc = db_step(st, e);
    if (rc == 1)
        job_read(out, st, a);
    db_done(st);
    if (rc == 0)
        return err_set(e, ERR_NOT_FOUND, "job '%.64s' not found", id);
    return rc < 0 ? -1 : 0;
}

int store_job_list(store_job **out, size_t *n, store_tx *tx, const char *org_id,
                   const char *status, const char *before, int limit, arena *a, err *e)
{
    db_stmt *st = NULL;
    if (db_query(&st, tx->d,
                 "SELECT " JOB_COLS " FROM jobs WHERE org_id = ? AND (? IS NULL OR status = ?)"
                 " AND (? IS NULL OR id < ?) ORDER BY id DESC LIMIT ?",
                 e, "ttttti", org_id, status, status, before, before, (int64_t)limit) < 0)
        return -1;
    store_job *items = arena_array(a, store_job, (size_t)limit + 1);
    size_t k = 0;
    int rc;
    while ((rc = db_step(st, e)) == 1 && k < (size_t)limit)
        job_read(&items[k++], st, a);
    db_done(st);
    *out = items;
    *n = k;
    return rc < 0 ? -1 : 0;
}

int store_job_claim(store_job *out, store *s, const char *owner, int64_t now,
                    int64_t lease_until, arena *a, err *e)
{
    /* A read first: an idle worker polls every second, and the write transaction below takes
     * the catalog's write lock. */
    {
        store_tx *rtx = NULL;
        db_stmt *st = NULL;
        if (store_tx_begin(&rtx, s, false, e) < 0)
            return -1;
        int rc = db_query(&st, rtx->d,
                          "SELECT 1 FROM jobs WHERE status = 'queued' OR (status = 'running'"
                          " AND lease_until < ?) LIMIT 1",
                          e, "i", now);
        if (rc == 0)
            rc = db_step(st, e);
        db_done(st);
        store_tx_end(rtx, false, e);
        if (rc <= 0)
            return rc;
    }
    for (int attempt = 0; attempt < 8; attempt++) {
        store_tx *tx = NULL;
        db_stmt *st = NULL;
        char *id = NULL;
        if (store_tx_begin(&tx, s, true, e) < 0)
            return -1;
        int rc = db_query(&st, tx->d,
                          "SELECT id FROM jobs WHERE status = 'queued' OR (status = 'running'"
                          " AND lease_until < ?) ORDER BY created_at, id LIMIT 1",
                          e, "i", now);
        if (rc == 0 && (rc = db_step(st, e)) == 1)
            id = store_col_str(st, 0, a);
        db_done(st);
        if (rc <= 0) {
            store_tx_end(tx, false, e);
            return rc;
        }
        /* The status test again: on PostgreSQL another instance may have taken it. */
        int64_t n = db_run(tx->d,
                           "UPDATE jobs SET status = 'running', owner = ?, lease_until = ?,"
                           " attempts = attempts + 1, started_at = ?, updated_at = ?, error = NULL"
                           " WHERE id = ? AND (status = 'queued' OR (status = 'running' AND"
                           " lease_until < ?))",
                           e, "tiiiti", owner, lease_until, now, now, id, now);
        if (n < 0) {
            store_tx_end(tx, false, e);
            return -1;
        }
        if (n == 0) {
            store_tx_end(tx, false, e);
            continue;
        }
        rc = db_query(&st, tx->d, "SELECT " JOB_COLS " FROM jobs WHERE id = ?", e, "t", id);
        if (rc == 0 && (rc = db_step(st, e)) == 1)
            job_read(out, st, a);
        db_done(st);
        if (rc != 1 || store_tx_end(tx, true, e) < 0) {
            if (rc != 1)
                store_tx_end(tx, false, e);
            return -1;
        }
        return 1;
    }
    return 0;
}

int store_job_renew(store *s, const char *id, const char *owner, int64_t lease_until, err *e)
{
    store_tx *tx = NULL;
    if (store_tx_begin(&tx, s, true, e) < 0)
        return -1;
    int64_t n = db_run(tx->d,
                       "UPDATE jobs SET lease_until = ? WHERE id = ? AND owner = ?"
                       " AND status = 'running'",
                       e, "itt", lease_until, id, owner);
    if (store_tx_end(tx, n >= 0, e) < 0 || n < 0)
        return -1;
    return n > 0 ? 1 : 0;
}

int store_job_finish(store_tx *tx, const store_job *j, const char *owner, int64_t now, err *e)
{
    bool requeue = strcmp(j->status, "queued") == 0;
    int64_t n = db_run(tx->d,
                       "UPDATE jobs SET status = ?, error = ?, stderr_tail = ?, package_id = ?,"
                       " output_path = ?, owner = NULL, lease_until = 0, updated_at = ?,"
                       " finished_at = ? WHERE id = ? AND owner = ?",
                       e, "tttttiitt", j->status, j->error, j->stderr_tail, j->package_id,
                       j->output_path, now, requeue ? (int64_t)0 : now, j->id, owner);
    if (n < 0)
        return -1;
    if (n == 0)
        return err_set(e, ERR_CONFLICT, "job '%s' was taken over by another worker", j->id);
    return 0;
}
