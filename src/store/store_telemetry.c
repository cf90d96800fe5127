/*
 * store_telemetry.c: the telemetry store's tables (store.h): fleet devices, event ids,
 * partial aggregates and their rollups. A batch of events is one transaction of at most two
 * statements (event ids, partials), inserts only, so concurrent ingestion never waits on a
 * row another instance holds; compaction into rollups is src/jobs/'s.
 */
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

int store_heartbeat(store_tx *tx, const char *org_id, const char *device_id, const char *profile,
                    const char *app_version, const char *status, int64_t now, err *e)
{
    return db_run(tx->d,
                  "INSERT INTO fleet_devices (org_id, device_id, profile, app_version, status,"
                  " first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (org_id,"
                  " device_id) DO UPDATE SET last_seen = excluded.last_seen,"
                  " profile = COALESCE(excluded.profile, fleet_devices.profile),"
                  " app_version = COALESCE(excluded.app_version, fleet_devices.app_version),"
                  " status = COALESCE(excluded.status, fleet_devices.status)",
                  e, "tttttii", org_id, device_id, profile, app_version, status, now, now) < 0
               ? -1
               : 0;
}

int store_fleet_counts(store_fleet *out, store_tx *tx, const char *org_id,
                       int64_t healthy_since, int64_t stale_since, err *e)
{
    db_stmt *st = NULL;
    memset(out, 0, sizeof(*out));
    if (db_query(&st, tx->d,
                 "SELECT COUNT(*), COALESCE(SUM(CASE WHEN last_seen >= ? THEN 1 ELSE 0 END), 0),"
                 " COALESCE(SUM(CASE WHEN last_seen < ? AND last_seen >= ? THEN 1 ELSE 0 END), 0)"
                 " FROM fleet_devices WHERE org_id = ?",
                 e, "iiit", healthy_since, healthy_since, stale_since, org_id) < 0)
        return -1;
    int rc = db_step(st, e);
    if (rc == 1) {
        out->total = db_col_int(st, 0);
        out->healthy = db_col_int(st, 1);
        out->stale = db_col_int(st, 2);
        out->offline = out->total - out->healthy - out->stale;
    }
    db_done(st);
    return rc < 0 ? -1 : 0;
}

int store_event_ids_claim(bool *fresh, store_tx *tx, const char *org_id,
                          const char *const *ids, size_t n, int64_t now, err *e)
{
    if (n == 0)
        return 0;
    size_t cap = 160 + n * 16;
    char *sql = malloc(cap);
    db_arg *args = malloc(sizeof(db_arg) * n * 3);
    if (!sql || !args) {
        free(sql);
        free(args);
        return err_set(e, ERR_SERVER, "out of memory");
    }
    size_t len = (size_t)snprintf(sql, cap,
                                  "INSERT INTO telemetry_event_ids (org_id, event_id, created_at)"
                                  " VALUES ");
    for (size_t i = 0; i < n; i++) {
        len += (size_t)snprintf(sql + len, cap - len, "%s(?, ?, ?)", i ? "," : "");
        args[3 * i] = (db_arg){'t', org_id, 0};
        args[3 * i + 1] = (db_arg){'t', ids[i], 0};
        args[3 * i + 2] = (db_arg){'i', NULL, now};
        fresh[i] = false;
    }
    snprintf(sql + len, cap - len, " ON CONFLICT DO NOTHING RETURNING event_id");
    db_stmt *st = NULL;
    int rc = db_query_v(&st, tx->d, sql, e, args, n * 3);
    while (rc == 0 && (rc = db_step(st, e)) == 1) {
        const char *id = db_col_text(st, 0);
        for (size_t i = 0; id && i < n; i++)
            if (!fresh[i] && strcmp(ids[i], id) == 0) {
                fresh[i] = true;
                break;
            }
        rc = 0;
    }
    db_done(st);
    free(sql);
    free(args);
    return rc < 0 ? -1 : 0;
}

int store_event_ids_expire(store_tx *tx, int64_t before, err *e)
{
    return db_run(tx->d, "DELETE FROM telemetry_event_ids WHERE created_at < ?", e, "i",
                  before) < 0
               ? -1
               : 0;
}

#define AGG_COLS "count, errors, sum_us, min_us, max_us, hist"

/* Rows per statement: 11 parameters each stays under the drivers' parameter limits (the
 * PostgreSQL driver binds at most 4096). A batch spread over many minutes takes a few
 * statements, still in its one transaction. */
#define PARTIALS_PER_STATEMENT 256

static int partials_insert(store_tx *tx, const store_rollup *rows, size_t n, err *e);

int store_partials_insert(store_tx *tx, const store_rollup *rows, size_t n, err *e)
{
    for (size_t i = 0; i < n; i += PARTIALS_PER_STATEMENT)
        if (partials_insert(tx, rows + i,
                            n - i < PARTIALS_PER_STATEMENT ? n - i : PARTIALS_PER_STATEMENT,
                            e) < 0)
            return -1;
    return 0;
}

static int partials_insert(store_tx *tx, const store_rollup *rows, size_t n, err *e)
{
    if (n == 0)
        return 0;
    enum { PER = 11 };
    size_t cap = 160 + n * 40;
    char *sql = malloc(cap);
    db_arg *args = malloc(sizeof(db_arg) * n * PER);
    if (!sql || !args) {
        free(sql);
        free(args);
        return err_set(e, ERR_SERVER, "out of memory");
    }
    size_t len = (size_t)snprintf(sql, cap,
                                  "INSERT INTO telemetry_partials (id, org_id, artifact_id,"
                                  " version, minute, " AGG_COLS ") VALUES ");
    for (size_t i = 0; i < n; i++) {
        const store_rollup *r = &rows[i];
        len += (size_t)snprintf(sql + len, cap - len, "%s(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                i ? "," : "");
        db_arg *g = &args[PER * i];
        g[0] = (db_arg){'t', r->id, 0};
        g[1] = (db_arg){'t', r->org_id, 0};
        g[2] = (db_arg){'t', r->artifact_id, 0};
        g[3] = (db_arg){'t', r->version, 0};
        g[4] = (db_arg){'i', NULL, r->start};
        g[5] = (db_arg){'i', NULL, r->count};
        g[6] = (db_arg){'i', NULL, r->errors};
        g[7] = (db_arg){'i', NULL, r->sum_us};
        g[8] = (db_arg){'i', NULL, r->min_us};
        g[9] = (db_arg){'i', NULL, r->max_us};
        g[10] = (db_arg){'t', r->hist, 0};
    }
    db_stmt *st = NULL;
    int rc = db_query_v(&st, tx->d, sql, e, args, n * PER);
    if (rc == 0)
        rc = db_step(st, e);
    db_done(st);
    free(sql);
    free(args);
    return rc < 0 ? -1 : 0;
}

static void agg_read(store_rollup *r, db_stmt *st, int from, arena *a)
{
    r->count = db_col_int(st, from);
    r->errors = db_col_int(st, from + 1);
    r->sum_us = db_col_int(st, from + 2);
    r->min_us = db_col_int(st, from + 3);
    r->max_us = db_col_int(st, from + 4);
    r->hist = store_col_str(st, from + 5, a);
}

int store_rollups_read(store_tx *tx, const char *org_id, const char *artifact_id,
                       const store_span *spans, size_t n,
                       int (*fn)(void *ctx, const store_rollup *r), void *ctx, arena *a, err *e)
{
    if (n == 0)
        return 0;
    if (n > STORE_SPANS_MAX)
        return err_set(e, ERR_SERVER, "too many rollup ranges");
    /* One statement, so one round trip and one snapshot, for every range. */
    char sql[STORE_SPANS_MAX * 200]; /* each range's SELECT and UNION ALL: under 200 bytes */
    db_arg args[STORE_SPANS_MAX * 5];
    size_t len = 0, na = 0;
    for (size_t i = 0; i < n; i++) {
        const store_span *p = &spans[i];
        len += (size_t)snprintf(sql + len, sizeof(sql) - len, "%s%s", i ? " UNION ALL " : "",
                                p->level < 0
                                    ? "SELECT version, minute, " AGG_COLS " FROM telemetry_partials"
                                      " WHERE org_id = ? AND artifact_id = ? AND minute >= ?"
                                      " AND minute < ?"
                                    : "SELECT version, start, " AGG_COLS " FROM telemetry_rollups"
                                      " WHERE org_id = ? AND artifact_id = ? AND level = ?"
                                      " AND start >= ? AND start < ?");
        if (len >= sizeof(sql)) /* a bug, not input: never send half a statement */
            return err_set(e, ERR_SERVER, "rollup query too long");
        args[na++] = (db_arg){'t', org_id, 0};
        args[na++] = (db_arg){'t', artifact_id, 0};
        if (p->level >= 0)
            args[na++] = (db_arg){'i', NULL, p->level};
        args[na++] = (db_arg){'i', NULL, p->from};
        args[na++] = (db_arg){'i', NULL, p->to};
    }
    db_stmt *st = NULL;
    int rc = db_query_v(&st, tx->d, sql, e, args, na);
    if (rc < 0)
        return -1;
    while ((rc = db_step(st, e)) == 1) {
        /* Only the hist text is copied (valid until the next step otherwise). */
        store_rollup r = {NULL, (char *)org_id, (char *)artifact_id,
                          (char *)db_col_text(st, 0), 0, db_col_int(st, 1), 0, 0, 0, 0, 0,
                          NULL};
        agg_read(&r, st, 2, a);
        if (fn(ctx, &r) != 0)
            break;
    }
    db_done(st);
    return rc < 0 ? -1 : 0;
}

int store_compaction_claim(store_tx *tx, err *e)
{
    if (strcmp(db_driver(tx->d), "sqlite") == 0)
        return 1;
    db_stmt *st = NULL;
    if (db_query(&st, tx->d, "SELECT pg_try_advisory_xact_lock(6513249646959)", e, "") < 0)
        return -1;
    int rc = db_step(st, e);
    const char *v = rc == 1 ? db_col_text(st, 0) : NULL;
    int claimed = v && (v[0] == 't' || v[0] == '1');
    db_done(st);
    return rc < 0 ? -1 : claimed;
}

int store_partials_take(store_rollup **out, size_t *n, store_tx *tx, int limit, arena *a,
                        err *e)
{
    db_stmt *st = NULL;
    bool pg = strcmp(db_driver(tx->d), "sqlite") != 0;
    if (db_query(&st, tx->d,
                 pg ? "SELECT id, org_id, artifact_id, version, minute, " AGG_COLS
                      " FROM telemetry_partials LIMIT ? FOR UPDATE SKIP LOCKED"
                    : "SELECT id, org_id, artifact_id, version, minute, " AGG_COLS
                      " FROM telemetry_partials LIMIT ?",
                 e, "i", (int64_t)limit) < 0)
        return -1;
    size_t cap = 64, k = 0;
    store_rollup *items = arena_array(a, store_rollup, cap);
    int rc;
    while ((rc = db_step(st, e)) == 1) {
        if (k == cap)
            items = store_grow(items, &cap, sizeof(store_rollup), a);
        store_rollup *r = &items[k++];
        r->id = store_col_str(st, 0, a);
        r->org_id = store_col_str(st, 1, a);
        r->artifact_id = store_col_str(st, 2, a);
        r->version = store_col_str(st, 3, a);
        r->level = 0;
        r->start = db_col_int(st, 4);
        agg_read(r, st, 5, a);
    }
    db_done(st);
    *out = items;
    *n = k;
    return rc < 0 ? -1 : 0;
}

#define ROLLUPS_PER_STATEMENT 200 /* 11 parameters each: under the drivers' limits */

static bool same_rollup(const store_rollup *r, db_stmt *st)
{
    return r->level == db_col_int(st, 2) && r->start == db_col_int(st, 3) &&
           strcmp(r->version, db_col_text(st, 4)) == 0 &&
           strcmp(r->artifact_id, db_col_text(st, 1)) == 0 &&
           strcmp(r->org_id, db_col_text(st, 0)) == 0;
}

static int rollups_add(char **hists, store_tx *tx, const store_rollup *d, size_t n, arena *a,
                       err *e)
{
    size_t cap = 1024 + n * 48;
    char *sql = malloc(cap);
    db_arg *args = malloc(sizeof(db_arg) * n * 11);
    bool *seen = calloc(n ? n : 1, sizeof(bool));
    if (!sql || !args || !seen) {
        free(sql);
        free(args);
        free(seen);
        return err_set(e, ERR_SERVER, "out of memory");
    }
    size_t len = (size_t)snprintf(sql, cap,
                                  "INSERT INTO telemetry_rollups (org_id, artifact_id, level,"
                                  " start, version, " AGG_COLS ") VALUES ");
    for (size_t i = 0; i < n; i++) {
        len += (size_t)snprintf(sql + len, cap - len, "%s(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                i ? "," : "");
        db_arg *g = &args[11 * i];
        g[0] = (db_arg){'t', d[i].org_id, 0};
        g[1] = (db_arg){'t', d[i].artifact_id, 0};
        g[2] = (db_arg){'i', NULL, d[i].level};
        g[3] = (db_arg){'i', NULL, d[i].start};
        g[4] = (db_arg){'t', d[i].version, 0};
        g[5] = (db_arg){'i', NULL, d[i].count};
        g[6] = (db_arg){'i', NULL, d[i].errors};
        g[7] = (db_arg){'i', NULL, d[i].sum_us};
        g[8] = (db_arg){'i', NULL, d[i].min_us};
        g[9] = (db_arg){'i', NULL, d[i].max_us};
        g[10] = (db_arg){'t', d[i].hist ? d[i].hist : "", 0};
        hists[i] = NULL;
    }
    /* hist is left alone on conflict: the caller merges the old text it gets back. */
    int tail = snprintf(sql + len, cap - len,
             " ON CONFLICT (org_id, artifact_id, level, start, version) DO UPDATE SET"
             " count = telemetry_rollups.count + excluded.count,"
             " errors = telemetry_rollups.errors + excluded.errors,"
             " sum_us = telemetry_rollups.sum_us + excluded.sum_us,"
             " min_us = CASE WHEN excluded.min_us < telemetry_rollups.min_us"
             " THEN excluded.min_us ELSE telemetry_rollups.min_us END,"
             " max_us = CASE WHEN excluded.max_us > telemetry_rollups.max_us"
             " THEN excluded.max_us ELSE telemetry_rollups.max_us END"
             " RETURNING org_id, artifact_id, level, start, version, hist, count");
    if (tail < 0 || (size_t)tail >= cap - len) { /* a bug, not input: never send half a statement */
        free(sql);
        free(args);
        free(seen);
        return err_set(e, ERR_SERVER, "rollup statement too long");
    }
    db_stmt *st = NULL;
    int rc = db_query_v(&st, tx->d, sql, e, args, n * 11);
    size_t found = 0, next = 0;
    while (rc == 0 && (rc = db_step(st, e)) == 1) {
        /* RETURNING's order is not promised (though it is usually the VALUES order: try the
         * next row first): match rows by key. */
        size_t i = next < n && !seen[next] && same_rollup(&d[next], st) ? next : n;
        for (size_t k = 0; i == n && k < n; k++)
            if (!seen[k] && same_rollup(&d[k], st))
                i = k;
        if (i < n) {
            seen[i] = true;
            /* A row created here counts exactly the delta (a row never counts 0 events:
             * every delta counts at least one): it already holds the delta's histogram. */
            hists[i] = db_col_int(st, 6) == d[i].count ? NULL : store_col_str(st, 5, a);
            found++;
            next = i + 1;
        }
        rc = 0;
    }
    db_done(st);
    free(sql);
    free(args);
    free(seen);
    if (rc < 0)
        return -1;
    if (found != n)
        return err_set(e, ERR_DATABASE, "rollup upsert returned %zu of %zu rows", found, n);
    return 0;
}

int store_rollups_add(char **hists, store_tx *tx, const store_rollup *deltas, size_t n,
                      arena *a, err *e)
{
    for (size_t i = 0; i < n; i += ROLLUPS_PER_STATEMENT) {
        size_t m = n - i < ROLLUPS_PER_STATEMENT ? n - i : ROLLUPS_PER_STATEMENT;
        if (rollups_add(hists + i, tx, deltas + i, m, a, e) < 0)
            return -1;
    }
    return 0;
}

static int rollups_set_hist(store_tx *tx, const store_rollup *r, size_t n, err *e)
{
    size_t cap = 1024 + n * 40;
    char *sql = malloc(cap);
    db_arg *args = malloc(sizeof(db_arg) * n * 6);
    if (!sql || !args) {
        free(sql);
        free(args);
        return err_set(e, ERR_SERVER, "out of memory");
    }
    size_t len = (size_t)snprintf(sql, cap,
                                  "UPDATE telemetry_rollups SET hist = v.column6 FROM (VALUES ");
    for (size_t i = 0; i < n; i++) {
        len += (size_t)snprintf(sql + len, cap - len, "%s(?, ?, ?, ?, ?, ?)", i ? "," : "");
        db_arg *g = &args[6 * i];
        g[0] = (db_arg){'t', r[i].org_id, 0};
        g[1] = (db_arg){'t', r[i].artifact_id, 0};
        g[2] = (db_arg){'i', NULL, r[i].level};
        g[3] = (db_arg){'i', NULL, r[i].start};
        g[4] = (db_arg){'t', r[i].version, 0};
        g[5] = (db_arg){'t', r[i].hist, 0};
    }
    snprintf(sql + len, cap - len,
             ") AS v WHERE telemetry_rollups.org_id = v.column1 AND"
             " telemetry_rollups.artifact_id = v.column2 AND telemetry_rollups.level = v.column3"
             " AND telemetry_rollups.start = v.column4 AND telemetry_rollups.version = v.column5");
    db_stmt *st = NULL;
    int rc = db_query_v(&st, tx->d, sql, e, args, n * 6);
    if (rc == 0)
        rc = db_step(st, e);
    db_done(st);
    free(sql);
    free(args);
    return rc < 0 ? -1 : 0;
}

int store_rollups_set_hist(store_tx *tx, const store_rollup *rows, size_t n, err *e)
{
    for (size_t i = 0; i < n; i += ROLLUPS_PER_STATEMENT) {
        size_t m = n - i < ROLLUPS_PER_STATEMENT ? n - i : ROLLUPS_PER_STATEMENT;
        if (rollups_set_hist(tx, rows + i, m, e) < 0)
            return -1;
    }
    return 0;
}

int store_partials_delete(store_tx *tx, const store_rollup *rows, size_t n, err *e)
{
    /* Always 500 placeholders (the last id repeated), so the statement is prepared once. */
    for (size_t from = 0; from < n; from += 500) {
        size_t m = n - from < 500 ? n - from : 500;
        char sql[64 + 500 * 3];
        size_t len = (size_t)snprintf(sql, sizeof(sql), "DELETE FROM telemetry_partials WHERE id IN (");
        db_arg args[500];
        for (size_t i = 0; i < 500; i++) {
            len += (size_t)snprintf(sql + len, sizeof(sql) - len, "%s?", i ? "," : "");
            args[i] = (db_arg){'t', rows[from + (i < m ? i : m - 1)].id, 0};
        }
        m = 500;
        snprintf(sql + len, sizeof(sql) - len, ")");
        db_stmt *st = NULL;
        int rc = db_query_v(&st, tx->d, sql, e, args, m);
        if (rc == 0)
            rc = db_step(st, e);
        db_done(st);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* ---- training updates ---- */

int store_training_insert(store_tx *tx, const store_training *t, err *e)
{
    return db_run(tx->d,
                  "INSERT INTO training_updates (id, org_id, artifact_id, version, device_id,"
                  " sample_count, metrics, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                  e, "tttttiti", t->id, t->org_id, t->artifact_id, t->version, t->device_id,
                  t->sample_count, t->metrics, t->created_at) < 0
               ? -1
               : 0;
}

int store_training_list(store_tx *tx, const char *org_id, const char *artifact_id,
                        const char *version, int limit,
                        int (*fn)(void *ctx, const store_training *t), void *ctx, arena *a,
                        err *e)
{
    db_stmt *st = NULL;
    (void)a;
    if (db_query(&st, tx->d,
                 "SELECT id, device_id, sample_count, metrics, created_at FROM training_updates"
                 " WHERE org_id = ? AND artifact_id = ? AND version = ?"
                 " ORDER BY created_at, id LIMIT ?",
                 e, "ttti", org_id, artifact_id, version, (int64_t)limit) < 0)
        return -1;
    int rc;
    while ((rc = db_step(st, e)) == 1) {
        store_training t = {(char *)db_col_text(st, 0), (char *)org_id, (char *)artifact_id,
                            (char *)version, (char *)db_col_text(st, 1), db_col_int(st, 2),
                            db_col_int(st, 4), (char *)db_col_text(st, 3)};
        if (fn(ctx, &t) != 0)
            break;
    }
    db_done(st);
    return rc < 0 ? -1 : 0;
}

int store_training_summary(store_training_sum **out, size_t *n, store_tx *tx,
                           const char *org_id, const char *artifact_id, arena *a, err *e)
{
    db_stmt *st = NULL;
    if (db_query(&st, tx->d,
                 "SELECT version, COUNT(*), COALESCE(SUM(sample_count), 0),"
                 " COUNT(DISTINCT device_id), MAX(created_at) FROM training_updates"
                 " WHERE org_id = ? AND artifact_id = ? GROUP BY version"
                 " ORDER BY MAX(created_at) DESC, version",
                 e, "tt", org_id, artifact_id) < 0)
        return -1;
    size_t cap = 16, k = 0;
    store_training_sum *items = arena_array(a, store_training_sum, cap);
    int rc;
    while ((rc = db_step(st, e)) == 1) {
        if (k == cap)
            items = store_grow(items, &cap, sizeof(*items), a);
        store_training_sum *s = &items[k++];
        s->version = store_col_str(st, 0, a);
        s->updates = db_col_int(st, 1);
        s->samples = db_col_int(st, 2);
        s->devices = db_col_int(st, 3);
        s->latest_at = db_col_int(st, 4);
        s->latest_metrics = NULL;
    }
    db_done(st);
    if (rc < 0)
        return -1;
    for (size_t i = 0; i < k; i++) {
        if (db_query(&st, tx->d,
                     "SELECT metrics FROM training_updates WHERE org_id = ? AND artifact_id = ?"
                     " AND version = ? ORDER BY created_at DESC, id DESC LIMIT 1",
                     e, "ttt", org_id, artifact_id, items[i].version) < 0)
            return -1;
        if ((rc = db_step(st, e)) == 1)
            items[i].latest_metrics = store_col_str(st, 0, a);
        db_done(st);
        if (rc < 0)
            return -1;
    }
    *out = items;
    *n = k;
    return 0;
}
