/*
 * db_pg.c: the PostgreSQL driver (libpq). The store writes portable SQL with `?` placeholders
 * (and `?N` where a parameter repeats); this driver rewrites them to `$N`, prepares each
 * statement once per connection (cached by its text and parameter types) and steps through
 * the result rows as SQLite does.
 *
 * Transactions: a write transaction takes one cluster-wide advisory lock right after BEGIN,
 * the equivalent of SQLite's BEGIN IMMEDIATE, so read-check-write sequences (publish, alias
 * moves, quota counting) stay serial across every cairnd on the database. A DB_WRITE_SHARED
 * transaction (version creation) takes the same lock in shared mode and then the locks of
 * what it changes (store_tx_lock: an artifact, an org), so such writes to different
 * artifacts run side by side, and never beside an exclusive one. Read transactions run at
 * REPEATABLE READ so every statement sees one snapshot.
 * SQLite carries on after a failed statement (say a unique violation the store turns into a
 * 409 and recovers from); PostgreSQL would abort the whole transaction, so inside one a write
 * that can fail that way runs under a savepoint that is rolled back if it fails: an INSERT
 * (unless ON CONFLICT DO NOTHING) and an UPDATE (unless the store marked it DB_NO_UNIQUE).
 * A DELETE cannot violate a unique index; those writes run bare, and if one fails anyway the
 * transaction is spoiled and its COMMIT fails (never a silent rollback reported as a commit).
 * Moving the savepoint is pipelined with the statement: one round trip per write.
 * Every session has a statement timeout and a lock timeout. A connection that broke is reset
 * and its prepared statements forgotten; a statement that fails on a broken connection outside
 * a transaction is retried once on the new one.
 */
#include "store/db.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/log.h"

#define CACHE_SLOTS 512
#define CACHE_PROBE 4 /* a statement may sit in any of 4 slots from its hash */
/* Most deferred writes waiting in the pipeline before the driver reads their answers. */
#define MAX_PENDING 256
#define MAX_PARAMS 4096
/* pg_advisory_xact_lock key of the write lock ("cairn" in ASCII). */
#define WRITE_LOCK_KEY "6513249646958"
#define SESSION_SETUP                                                                              \
    "SET statement_timeout = 30000; SET lock_timeout = 20000;"                                     \
    " SET idle_in_transaction_session_timeout = 60000; SET client_min_messages = warning"

/* Parameter type OIDs (pg_type.h, stable across versions). */
#define OID_INT8 20
#define OID_TEXT 25

typedef struct pg_stmt {
    db_stmt base;
    struct pg_db *owner;
    char *sql;      /* the statement as the store wrote it */
    char *pg_sql;   /* rewritten with $N */
    char name[16];  /* server-side prepared statement name, "" if not prepared yet */
    char types[64]; /* parameter types it was prepared with ('t', 'i', 'n'), for the cache key */
    int nparams;
    char **vals;    /* bound values (owned), NULL for SQL NULL */
    char *kinds;    /* per parameter: 't', 'i' or 'n' */
    PGresult *res;
    int row, nrows;
    size_t slot;
    bool in_use, cached, executed;
    bool writes;    /* INSERT, UPDATE or DELETE */
    bool locks;     /* SELECT pg_advisory_xact_lock(...): deferrable like a write */
    bool savepoint; /* a write that may fail on a unique violation: under a savepoint in a tx */
    int defer;      /* DB_DEFER_*: may be sent without waiting for its answer (pg_step) */
} pg_stmt;

typedef struct pg_db {
    db base;
    PGconn *c;
    char *url;
    int64_t changes;
    unsigned next_name;
    bool in_tx;
    /* Writes that may fail on a unique violation run under the savepoint cairn_stmt, so a
     * failed one is undone alone. sp_open: it is set; sp_fresh: and no write ran since (the
     * next such write needs not move it). A write transaction sets it with its BEGIN; later
     * writes move it with "RELEASE", "SAVEPOINT" pipelined with the statement itself. */
    bool sp_open, sp_fresh;
    /* Deferred writes (db_write) sent into the pipeline whose answers are not read yet: they
     * are read in the round trip of the next statement. spoiled: a statement failed with no
     * savepoint to roll back to, so the transaction cannot commit. */
    int pending;
    bool spoiled;
    /* bulk: a DB_WRITE_BULK transaction (db_insert deferred too); expect[i]: the i-th pending
     * write must insert its row; conflict: one did not. */
    bool bulk, conflict;
    unsigned char expect[MAX_PENDING];
    /* begin_pending: db_begin returned without a round trip; the BEGIN (and the write lock)
     * go into the pipeline ahead of the transaction's first statement. */
    bool begin_pending;
    int begin_mode;
    pg_stmt *cache[CACHE_SLOTS];
} pg_db;

static int64_t parse_i64(const char *s)
{
    return s ? strtoll(s, NULL, 10) : 0;
}

/* Maps a failed result to the store's errors: unique violation is ERR_EXISTS, serialization
 * and lock failures are retryable 503s, everything else a logged database error. */
static int pg_fail(pg_db *d, const PGresult *r, const char *what, err *e)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (state && strcmp(state, "23505") == 0)
        return err_set(e, ERR_EXISTS, "already exists");
    const char *msg = r ? PQresultErrorMessage(r) : PQerrorMessage(d->c);
    log_error(NULL, "db.error", "s:s, s:s, s:s", "op", what, "sqlstate", state ? state : "",
              "msg", msg ? msg : "");
    if (state && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
                  strcmp(state, "55P03") == 0 || strcmp(state, "57014") == 0))
        return err_set(e, ERR_UNAVAILABLE, "database busy, retry");
    if (PQstatus(d->c) == CONNECTION_BAD)
        return err_set(e, ERR_UNAVAILABLE, "database unavailable, retry");
    return err_set(e, ERR_DATABASE, "database error");
}

static void stmt_reset_result(pg_stmt *s)
{
    PQclear(s->res);
    s->res = NULL;
    s->row = s->nrows = 0;
    s->executed = false;
}

static void stmt_free(pg_stmt *s)
{
    stmt_reset_result(s);
    for (int i = 0; i < s->nparams; i++)
        free(s->vals[i]);
    free(s->vals);
    free(s->kinds);
    free(s->sql);
    free(s->pg_sql);
    free(s);
}

/* Forgets every prepared statement (the server lost them with its session). */
static void cache_forget(pg_db *d)
{
    for (int i = 0; i < CACHE_SLOTS; i++)
        if (d->cache[i])
            d->cache[i]->name[0] = '\0';
}

static int session_setup(pg_db *d)
{
    PGresult *r = PQexec(d->c, SESSION_SETUP);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok ? 0 : -1;
}

/* Re-establishes a broken connection; returns 0 if it is usable again. */
static int pg_reconnect(pg_db *d)
{
    if (PQstatus(d->c) == CONNECTION_OK)
        return 0;
    PQreset(d->c); /* leaves pipeline mode too */
    cache_forget(d);
    d->in_tx = d->sp_open = d->sp_fresh = d->spoiled = d->bulk = d->conflict = false;
    d->begin_pending = false;
    d->pending = 0;
    if (PQstatus(d->c) != CONNECTION_OK || session_setup(d) < 0) {
        log_error(NULL, "db.reconnect_failed", "s:s", "msg", PQerrorMessage(d->c));
        return -1;
    }
    log_info(NULL, "db.reconnected", "");
    return 0;
}

static int pg_open(db **out, const char *url, err *e)
{
    pg_db *d = calloc(1, sizeof(*d));
    if (!d || !(d->url = strdup(url))) {
        free(d);
        return err_set(e, ERR_SERVER, "out of memory");
    }
    d->base.ops = &db_pg_ops;
    d->c = PQconnectdb(url);
    if (PQstatus(d->c) != CONNECTION_OK || session_setup(d) < 0) {
        log_error(NULL, "db.open_failed", "s:s", "msg", PQerrorMessage(d->c));
        PQfinish(d->c);
        free(d->url);
        free(d);
        return err_set(e, ERR_DATABASE, "cannot connect to the database");
    }
    *out = &d->base;
    return 0;
}

static void pg_close(db *base)
{
    pg_db *d = (pg_db *)base;
    for (int i = 0; i < CACHE_SLOTS; i++)
        if (d->cache[i])
            stmt_free(d->cache[i]);
    PQfinish(d->c);
    free(d->url);
    free(d);
}

static int drain(pg_db *d, err *e);
static int begin_now(pg_db *d, err *e);
static void begin_state(pg_db *d, int mode);
static PGresult *pipeline_finish(pg_db *d, int n, int *failed_at);

/* Runs parameterless SQL (one or more statements) with the simple protocol, after the
 * deferred writes' answers. */
static int pg_exec(db *base, const char *sql, err *e)
{
    pg_db *d = (pg_db *)base;
    bool tx_control = strcmp(sql, "COMMIT") == 0 || strcmp(sql, "ROLLBACK") == 0;
    bool commit = strcmp(sql, "COMMIT") == 0;
    if (tx_control && !d->in_tx)
        return !commit ? 0 : err_set(e, ERR_UNAVAILABLE, "database connection lost, retry");
    if (tx_control && d->begin_pending) { /* nothing ran: nothing to end */
        d->begin_pending = false;
        d->in_tx = d->sp_open = d->sp_fresh = d->spoiled = d->bulk = false;
        return 0;
    }
    if (d->begin_pending && begin_now(d, e) < 0)
        return -1;
    err ignored = {0};
    PGresult *r = NULL;
    bool checked = false; /* a pending bulk insert is checked by the client: not behind COMMIT */
    for (int i = 0; i < d->pending; i++)
        checked = checked || d->expect[i];
    if (commit && d->pending > 0 && !d->spoiled && !checked) {
        /* The COMMIT rides in the pipeline behind the deferred writes: one round trip. */
        int queued = d->pending, failed_at;
        if (PQsendQueryParams(d->c, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) == 1)
            queued++;
        r = pipeline_finish(d, queued, &failed_at);
        if (failed_at >= 0 && failed_at < queued - 1) { /* a deferred write failed */
            int rc = d->conflict ? err_set(e, ERR_EXISTS, "a row of this bulk load already"
                                                          " exists")
                                 : pg_fail(d, r, "deferred write", e);
            PQclear(r);
            d->conflict = false;
            d->in_tx = d->sp_open = d->sp_fresh = d->spoiled = d->bulk = false;
            if (PQstatus(d->c) == CONNECTION_BAD)
                pg_reconnect(d);
            else
                PQclear(PQexec(d->c, "ROLLBACK")); /* the COMMIT was skipped */
            return rc;
        }
    } else if (drain(d, commit ? e : &ignored) < 0 && commit) {
        d->in_tx = false; /* the caller rolls back; nothing else may run in this one */
        PQclear(PQexec(d->c, "ROLLBACK"));
        d->sp_open = d->sp_fresh = d->spoiled = d->bulk = false;
        return -1;
    }
    if (!r)
        r = PQexec(d->c, commit && d->spoiled ? "ROLLBACK" : sql);
    ExecStatusType st = PQresultStatus(r);
    int rc = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        rc = pg_fail(d, r, "exec", e);
    else if (commit && strcmp(PQcmdStatus(r), "COMMIT") != 0)
        /* A statement failed with no savepoint to roll back to (the server ends such a
         * transaction with ROLLBACK whatever it is asked). */
        rc = err_set(e, ERR_DATABASE, "database error: the transaction failed and was rolled"
                                      " back");
    else
        d->changes = parse_i64(PQcmdTuples(r));
    PQclear(r);
    if (tx_control)
        d->in_tx = d->sp_open = d->sp_fresh = d->spoiled = d->bulk = false;
    if (rc < 0 && PQstatus(d->c) == CONNECTION_BAD)
        pg_reconnect(d);
    return rc;
}

/* The queries that begin a transaction in mode (one each, for the pipeline). */
static int begin_queries(const char **q, int mode)
{
    if (mode == DB_READ) {
        q[0] = "BEGIN ISOLATION LEVEL REPEATABLE READ";
        return 1;
    }
    int n = 0;
    q[n++] = "BEGIN";
    if (mode == DB_WRITE_SHARED)
        q[n++] = "SELECT pg_advisory_xact_lock_shared(" WRITE_LOCK_KEY ")";
    else if (mode != DB_WRITE_UNLOCKED)
        q[n++] = "SELECT pg_advisory_xact_lock(" WRITE_LOCK_KEY ")";
    q[n++] = "SAVEPOINT cairn_stmt";
    return n;
}

static void begin_state(pg_db *d, int mode)
{
    d->in_tx = true;
    d->sp_open = d->sp_fresh = mode != DB_READ;
    d->spoiled = d->conflict = false;
    d->bulk = mode == DB_WRITE_BULK;
}

/* Begins the transaction now (its first command is not a statement of the pipeline). */
static int begin_now(pg_db *d, err *e)
{
    const char *q[3];
    int n = begin_queries(q, d->begin_mode);
    char sql[160] = "";
    for (int i = 0; i < n; i++)
        snprintf(sql + strlen(sql), sizeof(sql) - strlen(sql), "%s%s", i ? "; " : "", q[i]);
    d->begin_pending = false;
    PGresult *r = PQexec(d->c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        PQclear(r);
        return 0;
    }
    int rc = pg_fail(d, r, "begin", e);
    PQclear(r);
    d->spoiled = true;
    if (PQstatus(d->c) == CONNECTION_BAD)
        pg_reconnect(d);
    return rc;
}

/* Begins lazily: the BEGIN rides in the pipeline of the first statement (one round trip less
 * per transaction; a write transaction's wait for the lock happens there). */
static int pg_begin(db *base, int mode, err *e)
{
    pg_db *d = (pg_db *)base;
    if (PQstatus(d->c) != CONNECTION_OK && pg_reconnect(d) < 0)
        return err_set(e, ERR_UNAVAILABLE, "database unavailable, retry");
    begin_state(d, mode);
    d->begin_pending = true;
    d->begin_mode = mode;
    return 0;
}

static size_t slot_of(const char *sql)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)sql; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return (size_t)(h % CACHE_SLOTS);
}

/* Rewrites `?` and `?N` placeholders (outside quoted literals and identifiers) to `$N`. Sets
 * *nparams to the highest parameter number. Returns a malloc'd string or NULL. */
static char *rewrite(const char *sql, int *nparams)
{
    size_t len = strlen(sql);
    char *out = malloc(len * 4 + 1);
    if (!out)
        return NULL;
    char *o = out;
    int next = 0, max = 0;
    char quote = 0;
    for (const char *p = sql; *p; p++) {
        if (quote) {
            if (*p == quote)
                quote = 0;
            *o++ = *p;
            continue;
        }
        if (*p == '\'' || *p == '"') {
            quote = *p;
            *o++ = *p;
            continue;
        }
        if (*p != '?') {
            *o++ = *p;
            continue;
        }
        int n;
        if (p[1] >= '0' && p[1] <= '9') {
            char *end;
            n = (int)strtol(p + 1, &end, 10);
            p = end - 1;
        } else {
            n = ++next;
        }
        if (n > max)
            max = n;
        o += sprintf(o, "$%d", n);
    }
    *o = '\0';
    *nparams = max;
    return out;
}

static int pg_prepare(db_stmt **out, db *base, const char *sql, err *e)
{
    pg_db *d = (pg_db *)base;
    /* A statement that finds no slot is prepared by the server on every use (unnamed): the
     * slots are many and probed so the store's statements all find one. */
    size_t slot = slot_of(sql), free_slot = CACHE_SLOTS;
    for (size_t k = 0; k < CACHE_PROBE; k++) {
        size_t i = (slot + k) % CACHE_SLOTS;
        pg_stmt *c = d->cache[i];
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
    pg_stmt *s = calloc(1, sizeof(*s));
    if (!s)
        return err_set(e, ERR_SERVER, "out of memory");
    s->base.ops = &db_pg_ops;
    s->owner = d;
    s->slot = free_slot;
    s->in_use = true;
    s->sql = strdup(sql);
    s->pg_sql = rewrite(sql, &s->nparams);
    if (s->nparams > MAX_PARAMS)
        s->nparams = MAX_PARAMS;
    s->vals = calloc((size_t)s->nparams + 1, sizeof(char *));
    s->kinds = calloc((size_t)s->nparams + 1, 1);
    if (!s->sql || !s->pg_sql || !s->vals || !s->kinds) {
        stmt_free(s);
        return err_set(e, ERR_SERVER, "out of memory");
    }
    memset(s->kinds, 'n', (size_t)s->nparams);
    const char *w = sql + strspn(sql, " \t\n");
    bool marked = strncmp(w, DB_NO_UNIQUE, sizeof(DB_NO_UNIQUE) - 1) == 0;
    if (marked)
        w += sizeof(DB_NO_UNIQUE) - 1 + strspn(w + sizeof(DB_NO_UNIQUE) - 1, " \t\n");
    bool ins = strncasecmp(w, "INSERT", 6) == 0, upd = strncasecmp(w, "UPDATE", 6) == 0;
    s->writes = ins || upd || strncasecmp(w, "DELETE", 6) == 0;
    s->locks = strncmp(w, "SELECT pg_advisory_xact_lock(", 29) == 0;
    s->savepoint = !marked && (upd || (ins && !strstr(w, "ON CONFLICT DO NOTHING")));
    if (free_slot < CACHE_SLOTS) {
        s->cached = true;
        d->cache[free_slot] = s;
    }
    *out = &s->base;
    return 0;
}

static int set_param(pg_stmt *s, int i, char kind, const char *v)
{
    if (i < 1 || i > s->nparams)
        return -1;
    free(s->vals[i - 1]);
    s->vals[i - 1] = NULL;
    s->kinds[i - 1] = kind;
    if (v && !(s->vals[i - 1] = strdup(v)))
        return -1;
    return 0;
}

static int pg_bind_text(db_stmt *base, int i, const char *v)
{
    return set_param((pg_stmt *)base, i, 't', v); /* a typed NULL: `? IS NULL` needs one */
}

static int pg_bind_int(db_stmt *base, int i, int64_t v)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%lld", (long long)v);
    return set_param((pg_stmt *)base, i, 'i', buf);
}

static int pg_bind_null(db_stmt *base, int i)
{
    return set_param((pg_stmt *)base, i, 'n', NULL);
}

/* Reads the answers of the n queries sent into the pipeline and its sync point, and leaves
 * pipeline mode. Returns the answer of the last query (or the first failure, at *failed_at),
 * NULL if the connection failed. */
static PGresult *pipeline_collect(pg_db *d, int n, int want, int *failed_at, char *last_cmd,
                                  size_t last_cap);

static PGresult *pipeline_finish(pg_db *d, int n, int *failed_at)
{
    return pipeline_collect(d, n, n - 1, failed_at, NULL, 0);
}

/* pipeline_finish keeping the answer of query want (not the last) when none failed up to the
 * end; the command status of the last answer goes into last_cmd (if not NULL). */
static PGresult *pipeline_collect(pg_db *d, int n, int want, int *failed_at, char *last_cmd,
                                  size_t last_cap)
{
    PGconn *c = d->c;
    PGresult *keep = NULL;
    int npend = d->pending;
    bool ok = PQpipelineSync(c) == 1;
    *failed_at = -1;
    if (last_cmd && last_cap)
        last_cmd[0] = '\0';
    for (int i = 0; ok && i < n; i++) {
        PGresult *r = PQgetResult(c);
        if (!r) {
            ok = false;
            break;
        }
        ExecStatusType st = PQresultStatus(r);
        bool good = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
        if (!good && *failed_at < 0)
            *failed_at = i;
        if (good && i < npend && d->expect[i] && strcmp(PQcmdTuples(r), "0") == 0 &&
            *failed_at < 0) {
            *failed_at = i; /* a bulk insert that found its row taken */
            d->conflict = true;
        }
        if (i == n - 1 && good && last_cmd)
            snprintf(last_cmd, last_cap, "%s", PQcmdStatus(r));
        if (!good && keep && *failed_at == i) { /* a failure after the wanted answer wins */
            PQclear(keep);
            keep = NULL;
        }
        if (!keep && (!good || i == want))
            keep = r;
        else
            PQclear(r);
        for (PGresult *x; (x = PQgetResult(c)) != NULL;) /* each answer ends with a NULL */
            PQclear(x);
    }
    for (PGresult *r; ok && (r = PQgetResult(c)) != NULL;) {
        bool sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
        PQclear(r);
        if (sync)
            break;
    }
    d->pending = 0;
    if (PQpipelineStatus(c) != PQ_PIPELINE_OFF && PQexitPipelineMode(c) != 1)
        log_error(NULL, "db.pipeline_exit", "s:s", "msg", PQerrorMessage(c));
    if (!ok) {
        if (keep && PQresultStatus(keep) != PGRES_FATAL_ERROR) {
            PQclear(keep);
            keep = NULL;
        }
        if (*failed_at < 0)
            *failed_at = n - 1;
    }
    return keep;
}

/* Waits for the deferred writes sent so far. Returns 0, or -1 with their failure (the
 * transaction is spoiled) in e. */
static int drain(pg_db *d, err *e)
{
    if (d->pending == 0)
        return 0;
    int failed_at;
    PGresult *r = pipeline_finish(d, d->pending, &failed_at);
    if (failed_at < 0) {
        PQclear(r);
        return 0;
    }
    d->spoiled = true;
    int rc = d->conflict ? err_set(e, ERR_EXISTS, "a row of this bulk load already exists")
                         : pg_fail(d, r, "deferred write", e);
    d->conflict = false;
    PQclear(r);
    return rc;
}

/* Makes sure s is prepared on the server for its current parameter types, unless it runs
 * unnamed (not cached, or too many parameters to key). Fills oids. Returns 0, or -1 with the
 * failure in *fail (NULL: out of memory or a failed deferred write, in e). */
static int ensure_prepared(pg_stmt *s, Oid *oids, PGresult **fail, err *e)
{
    pg_db *d = s->owner;
    int n = s->nparams;
    *fail = NULL;
    for (int i = 0; i < n; i++)
        oids[i] = s->kinds[i] == 'i' ? OID_INT8 : s->kinds[i] == 't' ? OID_TEXT : 0;
    if (n >= (int)sizeof(s->types) || !s->cached)
        return 0;
    if (s->name[0] && memcmp(s->types, s->kinds, (size_t)n) == 0 && s->types[n] == '\0')
        return 0;
    if (drain(d, e) < 0) /* preparing is a round trip of its own: not in a pipeline */
        return -1;
    if (s->name[0]) {
        char dealloc[48];
        snprintf(dealloc, sizeof(dealloc), "DEALLOCATE %s", s->name);
        PQclear(PQexec(d->c, dealloc));
        s->name[0] = '\0';
    }
    char name[16];
    snprintf(name, sizeof(name), "c%u", d->next_name++);
    PGresult *p = PQprepare(d->c, name, s->pg_sql, n, oids);
    if (PQresultStatus(p) != PGRES_COMMAND_OK) {
        *fail = p;
        return -1;
    }
    PQclear(p);
    memcpy(s->name, name, sizeof(name));
    memcpy(s->types, s->kinds, (size_t)n);
    s->types[n] = '\0';
    return 0;
}

static int send_query(pg_stmt *s, const Oid *oids)
{
    PGconn *c = s->owner->c;
    return s->name[0] ? PQsendQueryPrepared(c, s->name, s->nparams,
                                            (const char *const *)s->vals, NULL, NULL, 0)
                      : PQsendQueryParams(c, s->pg_sql, s->nparams, oids,
                                          (const char *const *)s->vals, NULL, NULL, 0);
}


/* Runs s: alone, or in one round trip after the deferred writes waiting in the pipeline and
 * the parameterless queries pre (the savepoint move); or, when deferred, sends it into the
 * pipeline without waiting (*sent set, NULL returned). Returns s's result, or the first
 * failure (*failed_here false when it was not s's own), NULL if the connection failed or a
 * deferred write failed (then in e). */
static PGresult *run(pg_stmt *s, const char *const *pre, int npre, bool defer, bool *sent,
                     bool *failed_here, err *e)
{
    pg_db *d = s->owner;
    PGconn *c = d->c;
    int n = s->nparams;
    *sent = false;
    *failed_here = true;
    Oid oids[64];
    Oid *poids = n <= 64 ? oids : calloc((size_t)n, sizeof(Oid));
    PGresult *r = NULL;
    if (!poids)
        return NULL;
    if (ensure_prepared(s, poids, &r, e) < 0) {
        *failed_here = r != NULL;
        goto out;
    }
    if (d->begin_pending) { /* the BEGIN goes first in the pipeline, like a deferred write */
        const char *q[3];
        int nq = begin_queries(q, d->begin_mode);
        d->begin_pending = false;
        if (d->pending == 0 && PQenterPipelineMode(c) != 1) {
            d->begin_pending = true;
            if (begin_now(d, e) < 0) {
                *failed_here = false;
                goto out;
            }
        } else {
            for (int i = 0; i < nq; i++) {
                if (PQsendQueryParams(c, q[i], 0, NULL, NULL, NULL, NULL, 0) != 1)
                    break;
                d->expect[d->pending++] = 0;
            }
        }
    }
    if (defer) {
        if ((d->pending > 0 || PQenterPipelineMode(c) == 1) && send_query(s, poids) == 1) {
            d->expect[d->pending++] = s->defer == DB_DEFER_BULK_ROW;
            *sent = true;
            if (d->pending >= MAX_PENDING && drain(d, e) < 0) {
                *sent = false;
                *failed_here = false;
            }
            goto out;
        }
        if (d->pending == 0 && PQpipelineStatus(c) != PQ_PIPELINE_OFF)
            PQexitPipelineMode(c);
    }
    if (d->pending == 0 && npre == 0) {
        r = s->name[0] ? PQexecPrepared(c, s->name, n, (const char *const *)s->vals, NULL, NULL, 0)
                       : PQexecParams(c, s->pg_sql, n, poids, (const char *const *)s->vals, NULL,
                                      NULL, 0);
        goto out;
    }
    int queued = d->pending;
    bool ok = queued > 0 || PQenterPipelineMode(c) == 1;
    for (int i = 0; ok && i < npre; i++, queued++)
        ok = PQsendQueryParams(c, pre[i], 0, NULL, NULL, NULL, NULL, 0) == 1;
    if (ok && (ok = send_query(s, poids) == 1))
        queued++;
    int failed_at;
    r = pipeline_finish(d, queued, &failed_at);
    if (!ok && failed_at < 0) {
        PQclear(r);
        r = NULL;
    }
    *failed_here = failed_at < 0 || failed_at == queued - 1;
    if (d->conflict) {
        d->conflict = false;
        PQclear(r);
        r = NULL;
        *failed_here = false;
        err_set(e, ERR_EXISTS, "a row of this bulk load already exists");
    }
out:
    if (poids != oids)
        free(poids);
    return r;
}

static int pg_step(db_stmt *base, err *e)
{
    pg_stmt *s = (pg_stmt *)base;
    pg_db *d = s->owner;
    if (!s->executed) {
        bool sp = s->savepoint && d->in_tx;
        bool defer = d->in_tx && ((s->defer == DB_DEFER_ANY && (s->writes || s->locks) &&
                                   !s->savepoint) ||
                                  (s->defer == DB_DEFER_BULK_ROW && d->bulk));
        const char *pre[2];
        int npre = 0;
        if (sp && !d->sp_fresh) {
            if (d->sp_open)
                pre[npre++] = "RELEASE SAVEPOINT cairn_stmt";
            pre[npre++] = "SAVEPOINT cairn_stmt";
        }
        if (sp)
            d->sp_open = true;
        if (s->writes && d->in_tx)
            d->sp_fresh = false; /* a failure now would undo this write too */
        bool fresh = d->begin_pending; /* nothing of the transaction ran yet */
        for (int attempt = 0;; attempt++) {
            bool sent, here;
            err inner = {0};
            s->res = run(s, pre, npre, defer, &sent, &here, &inner);
            if (sent) { /* its answer is read with the next statement's */
                s->executed = true;
                s->nrows = 0;
                s->row = -1;
                d->changes = s->defer == DB_DEFER_BULK_ROW; /* checked when its answer comes */
                break;
            }
            ExecStatusType st = PQresultStatus(s->res);
            if (s->res && (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)) {
                s->executed = true;
                s->nrows = st == PGRES_TUPLES_OK ? PQntuples(s->res) : 0;
                s->row = -1;
                d->changes = parse_i64(PQcmdTuples(s->res));
                break;
            }
            bool broken = PQstatus(d->c) == CONNECTION_BAD;
            bool was_in_tx = d->in_tx;
            if (broken && attempt == 0 && (!was_in_tx || fresh) && pg_reconnect(d) == 0) {
                PQclear(s->res);
                s->res = NULL;
                if (fresh) { /* begin again on the new connection */
                    begin_state(d, d->begin_mode);
                    d->begin_pending = true;
                }
                continue;
            }
            int rc = inner.kind != ERR_NONE ? (*e = inner, -1) : pg_fail(d, s->res, s->sql, e);
            PQclear(s->res);
            s->res = NULL;
            if (d->in_tx && (!sp || !here))
                d->spoiled = true; /* nothing to roll back to: the transaction is lost */
            if (broken)
                pg_reconnect(d);
            else if (sp && !d->spoiled) {
                PQclear(PQexec(d->c, "ROLLBACK TO SAVEPOINT cairn_stmt; RELEASE SAVEPOINT"
                                     " cairn_stmt"));
                d->sp_open = false;
            }
            return rc;
        }
    }
    if (++s->row < s->nrows)
        return 1;
    return 0;
}

/* db_commit_int: the statement and the COMMIT in one pipeline behind the deferred writes;
 * 1 (the plain way) when the transaction has not begun yet, is spoiled or has bulk rows whose
 * answers the client checks. */
static int pg_commit_int(db_stmt *base, int64_t *out, err *e)
{
    pg_stmt *s = (pg_stmt *)base;
    pg_db *d = s->owner;
    PGconn *c = d->c;
    bool checked = false;
    for (int i = 0; i < d->pending; i++)
        checked = checked || d->expect[i];
    if (!d->in_tx || d->begin_pending || d->spoiled || checked || s->nparams > 64)
        return 1; /* db_commit_int's plain way */
    Oid oids[64];
    PGresult *r = NULL;
    if (ensure_prepared(s, oids, &r, e) < 0) {
        PQclear(r);
        return -1;
    }
    int queued = d->pending, failed_at;
    bool ok = queued > 0 || PQenterPipelineMode(c) == 1;
    if (ok && (ok = send_query(s, oids) == 1))
        queued++;
    if (ok && (ok = PQsendQueryParams(c, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) == 1))
        queued++;
    int npend = d->pending;
    char status[16];
    r = pipeline_collect(d, queued, queued - 2, &failed_at, status, sizeof(status));
    int rc = 0;
    if (ok && failed_at < 0 && r && PQntuples(r) > 0 && strcmp(status, "COMMIT") == 0) {
        *out = parse_i64(PQgetvalue(r, 0, 0));
    } else if (!ok || !r) {
        rc = err_set(e, ERR_UNAVAILABLE, "database unavailable, retry");
    } else if (failed_at >= 0 && failed_at < npend && d->conflict) {
        rc = err_set(e, ERR_EXISTS, "a row of this bulk load already exists");
    } else if (failed_at >= 0) {
        rc = pg_fail(d, r, failed_at < npend ? "deferred write" : s->sql, e);
    } else {
        rc = err_set(e, ERR_DATABASE, "database error: the transaction failed and was rolled"
                                      " back");
    }
    PQclear(r);
    d->conflict = false;
    /* the COMMIT ran (committed, or ended a failed transaction) unless an earlier query of the
     * pipeline failed: then the server skipped it and the transaction waits for a ROLLBACK */
    bool ended = ok && (failed_at < 0 || failed_at == queued - 1);
    d->in_tx = d->sp_open = d->sp_fresh = d->spoiled = d->bulk = false;
    if (PQstatus(c) == CONNECTION_BAD)
        pg_reconnect(d);
    else if (!ended)
        PQclear(PQexec(c, "ROLLBACK"));
    return rc;
}

static void pg_defer(db_stmt *base, int how)
{
    ((pg_stmt *)base)->defer = how;
}

static const char *pg_col_text(db_stmt *base, int i)
{
    pg_stmt *s = (pg_stmt *)base;
    if (!s->res || s->row < 0 || s->row >= s->nrows || i >= PQnfields(s->res) ||
        PQgetisnull(s->res, s->row, i))
        return NULL;
    return PQgetvalue(s->res, s->row, i);
}

static double pg_col_double(db_stmt *base, int i)
{
    const char *v = pg_col_text(base, i);
    return v ? strtod(v, NULL) : 0.0; /* float8 text is exact (extra_float_digits >= 1) */
}

static int64_t pg_col_int(db_stmt *base, int i)
{
    const char *v = pg_col_text(base, i);
    if (!v)
        return 0;
    if (v[0] == 't' && v[1] == '\0')
        return 1; /* a boolean expression */
    if (v[0] == 'f' && v[1] == '\0')
        return 0;
    return parse_i64(v);
}

static bool pg_col_null(db_stmt *base, int i)
{
    pg_stmt *s = (pg_stmt *)base;
    return !s->res || s->row < 0 || s->row >= s->nrows || PQgetisnull(s->res, s->row, i);
}

static void pg_done(db_stmt *base)
{
    pg_stmt *s = (pg_stmt *)base;
    s->defer = 0;
    if (s->cached) {
        stmt_reset_result(s);
        for (int i = 0; i < s->nparams; i++) {
            free(s->vals[i]);
            s->vals[i] = NULL;
            s->kinds[i] = 'n';
        }
        s->in_use = false;
        return;
    }
    stmt_free(s);
}

static int64_t pg_changes(db *base)
{
    return ((pg_db *)base)->changes;
}

const db_ops db_pg_ops = {
    .name = "postgres",
    .open = pg_open,
    .close = pg_close,
    .exec = pg_exec,
    .prepare = pg_prepare,
    .bind_text = pg_bind_text,
    .bind_int = pg_bind_int,
    .bind_null = pg_bind_null,
    .step = pg_step,
    .col_text = pg_col_text,
    .col_int = pg_col_int,
    .col_double = pg_col_double,
    .col_null = pg_col_null,
    .done = pg_done,
    .changes = pg_changes,
    .begin = pg_begin,
    .defer = pg_defer,
    .commit_int = pg_commit_int,
};
