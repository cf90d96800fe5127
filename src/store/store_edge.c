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
    return db_run(tx->d, "DELETE FROM optimized_configs WHERE version_id IN (" DEAD_VERSIONS ")",
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
