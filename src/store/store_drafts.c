/*
 * store_drafts.c: seed-002 model drafts (form states owned by one token, versioned) and
 * stored CSV exports (API.md §10).
 */
#include "store/store.h"

#include <string.h>

#include "store/store_int.h"

#define DRAFT_COLS "id, org_id, token_id, state, version, created_at, updated_at"

static void draft_read(store_draft *d, db_stmt *st, arena *a)
{
    d->id = store_col_str(st, 0, a);
    d->org_id = store_col_str(st, 1, a);
    d->token_id = store_col_str(st, 2, a);
    d->state = store_col_str(st, 3, a);
    d->version = db_col_int(st, 4);
    d->created_at = db_col_int(st, 5);
    d->updated_at = db_col_int(st, 6);
}

int store_draft_get(store_draft *out, store_tx *tx, const char *token_id, const char *id,
                    arena *a, err *e)
{
    db_stmt *st = NULL;
    if (db_query(&st, tx->d,
                 "SELECT " DRAFT_COLS " FROM model_drafts WHERE id = ? AND token_id = ?", e,
                 "tt", id, token_id) < 0)
        return -1;
    int rc = db_step(st, e);
    if (rc == 1)
        draft_read(out, st, a);
    db_done(st);
    if (rc == 0)
        return err_set(e, ERR_NOT_FOUND, "draft '%.64s' not found", id);
    return rc < 0 ? -1 : 0;
}

int store_draft_insert(store_tx *tx, const store_draft *in, err *e)
{
    return db_run(tx->d,
                  "INSERT INTO model_drafts (id, org_id, token_id, state, version, created_at,"
                  " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                  e, "ttttiii", in->id, in->org_id, in->token_id, in->state, in->version,
                  in->created_at, in->updated_at) < 0
               ? -1
               : 0;
}

int store_draft_update(store_tx *tx, const store_draft *in, int64_t now, err *e)
{
    int64_t n = db_run(tx->d,
                       "UPDATE model_drafts SET state = ?, version = version + 1, updated_at = ?"
                       " WHERE id = ? AND token_id = ? AND version = ?",
                       e, "titti", in->state, now, in->id, in->token_id, in->version);
    if (n < 0)
        return -1;
    if (n == 0)
        return err_set(e, ERR_CONFLICT, "draft version mismatch: the draft changed meanwhile");
    return 0;
}

int store_draft_list(store_draft **out, size_t *n, store_tx *tx, const char *token_id,
                     arena *a, err *e)
{
    db_stmt *st = NULL;
    size_t cap = 16, k = 0;
    store_draft *items = arena_array(a, store_draft, cap);
    if (db_query(&st, tx->d,
                 "SELECT " DRAFT_COLS " FROM model_drafts WHERE token_id = ?"
                 " ORDER BY updated_at DESC, id DESC LIMIT 500",
                 e, "t", token_id) < 0)
        return -1;
    int rc;
    while ((rc = db_step(st, e)) == 1) {
        if (k == cap)
            items = store_grow(items, &cap, sizeof(*items), a);
        draft_read(&items[k++], st, a);
    }
    db_done(st);
    *out = items;
    *n = k;
    return rc < 0 ? -1 : 0;
}

int store_draft_delete(store_tx *tx, const char *token_id, const char *id, err *e)
{
    return db_run(tx->d, "DELETE FROM model_drafts WHERE id = ? AND token_id = ?", e, "tt", id,
                  token_id) < 0
               ? -1
               : 0;
}

int store_export_insert(store_tx *tx, const store_export *x, err *e)
{
    if (db_run(tx->d,
               "INSERT INTO blobs (storage_key, sha256, size_bytes, created_at)"
               " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
               e, "ttii", x->storage_key, x->sha256, x->size_bytes, x->created_at) < 0)
        return -1;
    return db_run(tx->d,
                  "INSERT INTO exports (id, org_id, file_name, storage_key, sha256, size_bytes,"
                  " row_count, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                  e, "tttttiii", x->id, x->org_id, x->file_name, x->storage_key, x->sha256,
                  x->size_bytes, x->row_count, x->created_at) < 0
               ? -1
               : 0;
}

int store_export_get(store_export *out, store_tx *tx, const char *org_id, const char *id,
                     arena *a, err *e)
{
    db_stmt *st = NULL;
    if (db_query(&st, tx->d,
                 "SELECT id, org_id, file_name, storage_key, sha256, size_bytes, row_count,"
                 " created_at FROM exports WHERE id = ? AND org_id = ?",
                 e, "tt", id, org_id) < 0)
        return -1;
    int rc = db_step(st, e);
    if (rc == 1) {
        out->id = store_col_str(st, 0, a);
        out->org_id = store_col_str(st, 1, a);
        out->file_name = store_col_str(st, 2, a);
        out->storage_key = store_col_str(st, 3, a);
        out->sha256 = store_col_str(st, 4, a);
        out->size_bytes = db_col_int(st, 5);
        out->row_count = db_col_int(st, 6);
        out->created_at = db_col_int(st, 7);
    }
    db_done(st);
    if (rc == 0)
        return err_set(e, ERR_NOT_FOUND, "upload '%.64s' not found", id);
    return rc < 0 ? -1 : 0;
}
