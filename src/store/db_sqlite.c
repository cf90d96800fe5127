/*
 * db_sqlite.c: the SQLite driver: WAL, synchronous=FULL (an acknowledged write survives a power
 * cut), foreign keys, busy timeout, and a per-connection statement cache keyed by SQL pointer.
 */
#include "store/db.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

#define CACHE_SLOTS 512
#define CACHE_PROBE 4 /* a statement may sit in any of 4 slots from its hash */

typedef struct sq_stmt {
    db_stmt base;
    sqlite3_stmt *st;
    struct sq_db *owner;
    char *sql; /* own copy: the cache is keyed by text, so dynamic SQL is safe */
    size_t slot;
    bool in_use, cached;
} sq_stmt;

typedef struct sq_db {
    db base;
    sqlite3 *h;
    sq_stmt *cache[CACHE_SLOTS];
} sq_db;

static void stmt_free(sq_stmt *s)
{
    sqlite3_finalize(s->st);
    free(s->sql);
    free(s);
}

static int sq_fail(sq_db *d, const char *what, err *e)
{
    int code = sqlite3_extended_errcode(d->h);
    if (code == SQLITE_CONSTRAINT_UNIQUE || code == SQLITE_CONSTRAINT_PRIMARYKEY)
        return err_set(e, ERR_EXISTS, "already exists");
    log_error(NULL, "db.error", "s:s, s:i, s:s", "op", what, "code", code, "msg",
              sqlite3_errmsg(d->h));
    if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
        return err_set(e, ERR_UNAVAILABLE, "database busy, retry");
    return err_set(e, ERR_DATABASE, "database error");
}

static const char *path_of(const char *url)
{
    if (strncmp(url, "sqlite://", 9) == 0)
        return url + 9;
    if (strncmp(url, "sqlite:", 7) == 0)
        return url + 7;
    return url;
}

static void tx_mark(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    (void)argv;
    sqlite3_result_int64(ctx, -1);
}

static int sq_open(db **out, const char *url, err *e)
{
    sq_db *d = calloc(1, sizeof(*d));
    if (!d)
        return err_set(e, ERR_SERVER, "out of memory");
    d->base.ops = &db_sqlite_ops;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path_of(url), &d->h, flags, NULL) != SQLITE_OK) {
        log_error(NULL, "db.open_failed", "s:s", "msg", d->h ? sqlite3_errmsg(d->h) : "oom");
        sqlite3_close(d->h);
        free(d);
        return err_set(e, ERR_DATABASE, "cannot open the database");
    }
    sqlite3_busy_timeout(d->h, 10000);
    sqlite3_extended_result_codes(d->h, 1);
    const char *pragmas = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                          "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;"
                          "PRAGMA cache_size=-16000;";
    char *msg = NULL;
    if (sqlite3_exec(d->h, pragmas, NULL, NULL, &msg) != SQLITE_OK) {
        log_error(NULL, "db.open_failed", "s:s", "msg", msg ? msg : "");
        sqlite3_free(msg);
        sqlite3_close(d->h);
        free(d);
        return err_set(e, ERR_DATABASE, "cannot configure the database");
    }
    /* The change-feed mark (store_int.h): SQLite writes are serial, so one value serves. */
    if (sqlite3_create_function(d->h, "cairn_tx_mark", 0, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                NULL, tx_mark, NULL, NULL) != SQLITE_OK) {
        log_error(NULL, "db.open_failed", "s:s", "msg", sqlite3_errmsg(d->h));
        sqlite3_close(d->h);
        free(d);
        return err_set(e, ERR_DATABASE, "cannot configure the database");
    }
    *out = &d->base;
    return 0;
}

static void sq_close(db *base)
{
    sq_db *d = (sq_db *)base;
    for (int i = 0; i < CACHE_SLOTS; i++)
        if (d->cache[i])
            stmt_free(d->cache[i]);
    sqlite3_close(d->h);
    free(d);
}

static int sq_run_cached(db *base, const char *sql, err *e);

static int sq_exec(db *base, const char *sql, err *e)
{
    sq_db *d = (sq_db *)base;
    if (strcmp(sql, "COMMIT") == 0 || strcmp(sql, "ROLLBACK") == 0)
        return sq_run_cached(base, sql, e);
    char *msg = NULL;
    if (sqlite3_exec(d->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
        sqlite3_free(msg);
        return sq_fail(d, "exec", e);
    }
    return 0;
}

static int sq_prepare(db_stmt **out, db *base, const char *sql, err *e);
static int sq_step(db_stmt *base, err *e);
static void sq_done(db_stmt *base);

/* Transaction control through the statement cache: sqlite3_exec would parse it every time. */
static int sq_run_cached(db *base, const char *sql, err *e)
{
    db_stmt *st = NULL;
    if (sq_prepare(&st, base, sql, e) < 0)
        return -1;
    int rc = sq_step(st, e);
    sq_done(st);
    return rc < 0 ? -1 : 0;
}

static int sq_begin(db *base, int mode, err *e)
{
    return sq_run_cached(base, mode != DB_READ ? "BEGIN IMMEDIATE" : "BEGIN", e);
}

static size_t slot_of(const char *sql)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)sql; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return (size_t)(h % CACHE_SLOTS);
}


static int sq_prepare(db_stmt **out, db *base, const char *sql, err *e)
{
    sq_db *d = (sq_db *)base;
    size_t slot = slot_of(sql), free_slot = CACHE_SLOTS;
    for (size_t k = 0; k < CACHE_PROBE; k++) {
        size_t i = (slot + k) % CACHE_SLOTS;
        sq_stmt *c = d->cache[i];
        if (!c) {
            if (free_slot == CACHE_SLOTS)
                free_slot = i;
            continue;
        }
        if (!c->in_use && strcmp(c->sql, sql) == 0) {
            c->in_use = true;
            *out = &c->base;
            return 0;
        }
    }
    sq_stmt *s = calloc(1, sizeof(*s));
    if (!s || !(s->sql = strdup(sql))) {
        free(s);
        return err_set(e, ERR_SERVER, "out of memory");
    }
    s->base.ops = &db_sqlite_ops;
    s->owner = d;
    s->slot = free_slot;
    s->in_use = true;
    if (sqlite3_prepare_v3(d->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->st, NULL) != SQLITE_OK) {
        log_error(NULL, "db.prepare_failed", "s:s, s:s", "sql", sql, "msg", sqlite3_errmsg(d->h));
        free(s->sql);
        free(s);
        return err_set(e, ERR_DATABASE, "database error");
    }
    if (free_slot < CACHE_SLOTS) {
        s->cached = true; /* done() resets instead of finalizing */
        d->cache[free_slot] = s;
    }
    *out = &s->base;
    return 0;
}

static int sq_bind_text(db_stmt *base, int i, const char *v)
{
    sq_stmt *s = (sq_stmt *)base;
    int rc = v ? sqlite3_bind_text(s->st, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(s->st, i);
    return rc == SQLITE_OK ? 0 : -1;
}

static int sq_bind_int(db_stmt *base, int i, int64_t v)
{
    sq_stmt *s = (sq_stmt *)base;
    return sqlite3_bind_int64(s->st, i, v) == SQLITE_OK ? 0 : -1;
}

static int sq_bind_null(db_stmt *base, int i)
{
    sq_stmt *s = (sq_stmt *)base;
    return sqlite3_bind_null(s->st, i) == SQLITE_OK ? 0 : -1;
}

static int sq_step(db_stmt *base, err *e)
{
    sq_stmt *s = (sq_stmt *)base;
    int rc = sqlite3_step(s->st);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    return sq_fail(s->owner, s->sql, e);
}

static const char *sq_col_text(db_stmt *base, int i)
{
    sq_stmt *s = (sq_stmt *)base;
    return (const char *)sqlite3_column_text(s->st, i);
}

static int64_t sq_col_int(db_stmt *base, int i)
{
    sq_stmt *s = (sq_stmt *)base;
    return sqlite3_column_int64(s->st, i);
}

static double sq_col_double(db_stmt *base, int i)
{
    sq_stmt *s = (sq_stmt *)base;
    return sqlite3_column_double(s->st, i);
}

static bool sq_col_null(db_stmt *base, int i)
{
    sq_stmt *s = (sq_stmt *)base;
    return sqlite3_column_type(s->st, i) == SQLITE_NULL;
}

static void sq_done(db_stmt *base)
{
    sq_stmt *s = (sq_stmt *)base;
    if (s->cached) {
        sqlite3_reset(s->st);
        sqlite3_clear_bindings(s->st);
        s->in_use = false;
        return;
    }
    stmt_free(s);
}

static int64_t sq_changes(db *base)
{
    sq_db *d = (sq_db *)base;
    return sqlite3_changes64(d->h);
}

const db_ops db_sqlite_ops = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .exec = sq_exec,
    .prepare = sq_prepare,
    .bind_text = sq_bind_text,
    .bind_int = sq_bind_int,
    .bind_null = sq_bind_null,
    .step = sq_step,
    .col_text = sq_col_text,
    .col_int = sq_col_int,
    .col_double = sq_col_double,
    .col_null = sq_col_null,
    .done = sq_done,
    .changes = sq_changes,
    .begin = sq_begin,
};
