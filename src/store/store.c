/*
 * store.c: connection pool, transactions, migrations, orgs and tokens.
 */
#include "store/store.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/listen_pg.h"
#include "store/store_int.h"
#include "util/crypto.h"
#include "util/log.h"
#include "util/timeutil.h"

/* Catalog write transactions of one process in the database at once (PostgreSQL): one holding
 * the write lock, one waiting for it. */
#define CATALOG_WRITERS 2

struct store {
    _Atomic int64_t local_gen;   /* +1 per commit of a catalog change by this process */
    _Atomic int64_t seen_gen;    /* local_gen when rev_cached was read */
    _Atomic int64_t rev_cached;  /* the catalog revision last read from the database */
    _Atomic int64_t rev_read_ms; /* when it was read */
    int64_t recheck_ms;          /* how stale rev_cached may be (0: read it every time) */
    char *url;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    db **idle;
    int nidle, created, max;
    bool unlocked; /* a telemetry store: writes take no catalog lock */
    bool sqlite;
    pthread_mutex_t wmu; /* telemetry on SQLite: writers queue here, not in SQLite's busy sleep */
    /* --read-consistency notify (PostgreSQL, docs/consistency.md): while the listener is up,
     * the catalog revision and credential changes are pushed to this process instead of read
     * per request. */
    pg_listener *listener;
    atomic_bool listen_up;
    _Atomic int64_t known_rev;   /* highest revision heard of, read or committed here */
    _Atomic int64_t auth_gen;    /* +1 per credential change heard of or committed here */
    _Atomic int64_t lag_ms_max;  /* the longest commit-to-notification delay seen */
    _Atomic int64_t notified, reads_pushed, reads_db;
    pthread_mutex_t tmu;         /* token_cache */
    struct token_slot *token_cache; /* TOKEN_SLOTS, notify mode only */
    /* Catalog writes on PostgreSQL queue here before taking the cluster-wide advisory lock:
     * CATALOG_WRITERS transactions per process hold it or wait for it in the database (so it
     * is handed over there, without a round trip), the others wait on this semaphore, so
     * few backends per instance contend for it. */
    sem_t cmu;
};

/* The catalog revision the calling thread's last committing transaction made (0: none since
 * store_take_commit_rev). */
static _Thread_local int64_t tl_commit_rev;

static void raise_to(_Atomic int64_t *v, int64_t to)
{
    int64_t cur = atomic_load(v);
    while (cur < to && !atomic_compare_exchange_weak(v, &cur, to))
        ;
}

/* A telemetry connection trades the last moments of durability for throughput: on a power
 * cut (not a process crash) the last commits may be lost, never the catalog's (docs/telemetry.md). */
static void telemetry_session(store *s, db *d)
{
    err ignored = {0};
    if (!s->unlocked)
        return;
    /* SQLite: the compactor checkpoints the WAL (store_telemetry_maintain) about every
     * second, off the writers' path; a writer checkpoints itself only past 8000 pages (32 MB)
     * rather than 1000, should the compactor lag. */
    db_exec(d,
            s->sqlite ? "PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=8000"
                      : "SET synchronous_commit = off",
            &ignored);
}

char *store_col_str(db_stmt *st, int i, arena *a)
{
    const char *v = db_col_text(st, i);
    return v ? arena_strdup(a, v) : NULL;
}

void *store_grow(void *items, size_t *cap, size_t sz, arena *a)
{
    void *bigger = arena_alloc(a, sz * *cap * 2);
    memcpy(bigger, items, sz * *cap);
    *cap *= 2;
    return bigger;
}

static int conn_take(db **out, store *s, err *e)
{
    pthread_mutex_lock(&s->mu);
    for (;;) {
        if (s->nidle > 0) {
            *out = s->idle[--s->nidle];
            pthread_mutex_unlock(&s->mu);
            return 0;
        }
        if (s->created < s->max) {
            s->created++;
            pthread_mutex_unlock(&s->mu);
            if (db_open(out, s->url, e) < 0) {
                pthread_mutex_lock(&s->mu);
                s->created--;
                pthread_cond_signal(&s->cv);
                pthread_mutex_unlock(&s->mu);
                return -1;
            }
            telemetry_session(s, *out);
            return 0;
        }
        pthread_cond_wait(&s->cv, &s->mu);
    }
}

static void conn_give(store *s, db *d);

int store_conn_take(db **out, store *s, err *e)
{
    return conn_take(out, s, e);
}

void store_conn_give(store *s, db *d)
{
    conn_give(s, d);
}

static void conn_give(store *s, db *d)
{
    pthread_mutex_lock(&s->mu);
    s->idle[s->nidle++] = d;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Applies the pending migrations of list, tracked in table (one per migration set). */
static int migrate_set(store *s, const store_migration *list, int count, const char *table,
                       err *e);

static int migrate(store *s, err *e)
{
    return migrate_set(s, store_migrations, store_migration_count, "schema_migrations", e);
}

static int migrate_set(store *s, const store_migration *list, int count, const char *table,
                       err *e)
{
    store_tx *tx = NULL;
    int rc = -1;
    db_stmt *st = NULL;
    if (store_tx_begin(&tx, s, true, e) < 0)
        return -1;
    char sql[160];
    snprintf(sql, sizeof(sql),
             "CREATE TABLE IF NOT EXISTS %s (version BIGINT PRIMARY KEY, applied_at BIGINT NOT"
             " NULL)",
             table);
    if (db_exec(tx->d, sql, e) < 0)
        goto out;
    char sel[96], ins[112];
    snprintf(sel, sizeof(sel), "SELECT COALESCE(MAX(version), 0) FROM %s", table);
    snprintf(ins, sizeof(ins), "INSERT INTO %s (version, applied_at) VALUES (?, ?)", table);
    if (db_query(&st, tx->d, sel, e, "") < 0 || db_step(st, e) < 0)
        goto out;
    int64_t have = db_col_int(st, 0);
    db_done(st);
    st = NULL;
    for (int64_t v = have + 1; v <= count; v++) {
        const store_migration *m = &list[v - 1];
        const char *dialect = strcmp(db_driver(tx->d), "sqlite") == 0 ? m->sqlite : m->postgres;
        if ((m->common && db_exec(tx->d, m->common, e) < 0) ||
            (dialect && db_exec(tx->d, dialect, e) < 0))
            goto out;
        if (db_run(tx->d, ins, e, "ii", v, time_now_ms()) < 0)
            goto out;
        log_info(NULL, "store.migrated", "s:s, s:I", "set", table, "version", (json_int_t)v);
    }
    rc = 0;
out:
    db_done(st);
    if (store_tx_end(tx, rc == 0, e) < 0)
        rc = -1;
    return rc;
}

static int store_open_set(store **out, const char *url, int pool_size, bool telemetry, err *e);

int store_open(store **out, const char *url, int pool_size, err *e)
{
    return store_open_set(out, url, pool_size, false, e);
}

int store_open_telemetry(store **out, const char *url, int pool_size, err *e)
{
    return store_open_set(out, url, pool_size, true, e);
}

static int store_open_set(store **out, const char *url, int pool_size, bool telemetry, err *e)
{
    store *s = calloc(1, sizeof(*s));
    if (!s)
        return err_set(e, ERR_SERVER, "out of memory");
    s->url = strdup(url);
    s->max = pool_size < 1 ? 1 : pool_size;
    s->recheck_ms = strncmp(url, "postgres", 8) == 0 ? 0 : 100;
    s->idle = calloc((size_t)s->max, sizeof(db *));
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->wmu, NULL);
    pthread_mutex_init(&s->tmu, NULL);
    sem_init(&s->cmu, 0, CATALOG_WRITERS);
    pthread_cond_init(&s->cv, NULL);
    /* Migrations run under the catalog lock (instances starting together on PostgreSQL take
     * turns); the telemetry store's own writes take none after that. */
    if (!s->url || !s->idle ||
        (telemetry ? migrate_set(s, store_telemetry_migrations, store_telemetry_migration_count,
                                 "telemetry_migrations", e)
                   : migrate(s, e)) < 0) {
        store_close(s);
        if (e->kind == ERR_NONE)
            err_set(e, ERR_SERVER, "out of memory");
        return -1;
    }
    s->sqlite = strncmp(url, "postgres", 8) != 0;
    s->unlocked = telemetry;
    for (int i = 0; i < s->nidle; i++) /* the connections migrations opened */
        telemetry_session(s, s->idle[i]);
    *out = s;
    return 0;
}

/* ---- --read-consistency notify ---- */

/* Cached token rows (notify mode): a credential change anywhere bumps auth_gen, which
 * invalidates every slot stamped with an older one. */
#define TOKEN_SLOTS 256
typedef struct token_slot {
    char hash[65];
    int64_t gen;
    store_token t; /* strings malloc'd, owned by the slot */
} token_slot;

static void slot_clear(token_slot *sl)
{
    free(sl->t.id);
    free(sl->t.org_id);
    free(sl->t.org_slug);
    free(sl->t.name);
    free(sl->t.role);
    memset(sl, 0, sizeof(*sl));
}

static size_t slot_of(const char *hash)
{
    return (size_t)strtoul((char[]){hash[0], hash[1], 0}, NULL, 16) % TOKEN_SLOTS;
}

static char *dup_or_null(const char *v)
{
    return v ? strdup(v) : NULL;
}

static void token_cache_put(store *s, const char *hash, const store_token *t, int64_t gen)
{
    pthread_mutex_lock(&s->tmu);
    token_slot *sl = &s->token_cache[slot_of(hash)];
    slot_clear(sl);
    snprintf(sl->hash, sizeof(sl->hash), "%s", hash);
    sl->gen = gen;
    sl->t = *t;
    sl->t.id = dup_or_null(t->id);
    sl->t.org_id = dup_or_null(t->org_id);
    sl->t.org_slug = dup_or_null(t->org_slug);
    sl->t.name = dup_or_null(t->name);
    sl->t.role = dup_or_null(t->role);
    if ((t->id && !sl->t.id) || (t->org_id && !sl->t.org_id) ||
        (t->org_slug && !sl->t.org_slug) || (t->name && !sl->t.name) ||
        (t->role && !sl->t.role))
        slot_clear(sl);
    pthread_mutex_unlock(&s->tmu);
}

static bool token_cache_get(store_token *out, store *s, const char *hash, arena *a)
{
    bool hit = false;
    pthread_mutex_lock(&s->tmu);
    token_slot *sl = &s->token_cache[slot_of(hash)];
    if (sl->hash[0] && strcmp(sl->hash, hash) == 0 && sl->gen == atomic_load(&s->auth_gen)) {
        *out = sl->t;
        out->id = sl->t.id ? arena_strdup(a, sl->t.id) : NULL;
        out->org_id = sl->t.org_id ? arena_strdup(a, sl->t.org_id) : NULL;
        out->org_slug = sl->t.org_slug ? arena_strdup(a, sl->t.org_slug) : NULL;
        out->name = sl->t.name ? arena_strdup(a, sl->t.name) : NULL;
        out->role = sl->t.role ? arena_strdup(a, sl->t.role) : NULL;
        hit = true;
    }
    pthread_mutex_unlock(&s->tmu);
    return hit;
}

/* A token's last use was written: so the cached copy does not ask for it again. */
static void token_cache_touched(store *s, const char *id, int64_t now)
{
    if (!s->token_cache)
        return;
    pthread_mutex_lock(&s->tmu);
    for (size_t i = 0; i < TOKEN_SLOTS; i++)
        if (s->token_cache[i].t.id && strcmp(s->token_cache[i].t.id, id) == 0)
            s->token_cache[i].t.last_used_at = now;
    pthread_mutex_unlock(&s->tmu);
}

static void on_up(void *ud, int64_t rev)
{
    store *s = ud;
    raise_to(&s->known_rev, rev);
    atomic_fetch_add(&s->auth_gen, 1); /* changes made while down were not heard */
    atomic_store(&s->listen_up, true);
}

static void on_down(void *ud)
{
    store *s = ud;
    atomic_store(&s->listen_up, false);
}

static void on_revision(void *ud, int64_t rev, int64_t sent_ms)
{
    store *s = ud;
    raise_to(&s->known_rev, rev);
    if (sent_ms > 0) {
        atomic_fetch_add(&s->notified, 1);
        raise_to(&s->lag_ms_max, time_now_ms() - sent_ms);
    }
}

static void on_auth(void *ud)
{
    store *s = ud;
    atomic_fetch_add(&s->auth_gen, 1);
}

static const pg_listener_cb listener_cb = {on_up, on_down, on_revision, on_auth};

int store_listen(store *s, err *e)
{
    if (s->sqlite)
        return err_set(e, ERR_INVALID, "--read-consistency notify needs PostgreSQL");
    s->token_cache = calloc(TOKEN_SLOTS, sizeof(token_slot));
    if (!s->token_cache || pg_listener_start(&s->listener, s->url, &listener_cb, s) < 0)
        return err_set(e, ERR_SERVER, "cannot start the revision listener");
    return 0;
}

void store_listen_stats(store_listen_info *out, store *s)
{
    out->enabled = s->listener != NULL;
    out->up = atomic_load(&s->listen_up);
    out->revision = atomic_load(&s->known_rev);
    out->notified = atomic_load(&s->notified);
    out->lag_ms_max = atomic_load(&s->lag_ms_max);
    out->reads_pushed = atomic_load(&s->reads_pushed);
    out->reads_db = atomic_load(&s->reads_db);
}

void store_close(store *s)
{
    if (!s)
        return;
    pg_listener_stop(s->listener);
    if (s->token_cache) {
        for (size_t i = 0; i < TOKEN_SLOTS; i++)
            slot_clear(&s->token_cache[i]);
        free(s->token_cache);
    }
    for (int i = 0; i < s->nidle; i++)
        db_close(s->idle[i]);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->tmu);
    pthread_mutex_destroy(&s->wmu);
    sem_destroy(&s->cmu);
    pthread_cond_destroy(&s->cv);
    free(s->idle);
    free(s->url);
    free(s);
}

bool store_ping(store *s)
{
    err e = {0};
    store_tx *tx = NULL;
    db_stmt *st = NULL;
    bool ok = false;
    if (store_tx_begin(&tx, s, false, &e) < 0)
        return false;
    if (db_query(&st, tx->d, "SELECT 1", &e, "") == 0 && db_step(st, &e) == 1)
        ok = true;
    db_done(st);
    store_tx_end(tx, false, &e);
    return ok;
}

int store_telemetry_maintain(store *s, bool compacted, err *e)
{
    if (!s->unlocked || (!s->sqlite && !compacted))
        return 0;
    db *d = NULL;
    if (conn_take(&d, s, e) < 0)
        return -1;
    /* Outside any transaction and any write lock: neither blocks an ingesting batch. */
    int rc = db_exec(d, s->sqlite ? "PRAGMA wal_checkpoint(PASSIVE)" : "VACUUM telemetry_partials",
                     e);
    conn_give(s, d);
    return rc < 0 ? -1 : 0;
}
static int tx_begin(store_tx **out, store *s, bool write, int mode, err *e);

int store_tx_begin(store_tx **out, store *s, bool write, err *e)
{
    return tx_begin(out, s, write, write ? DB_WRITE : DB_READ, e);
}

int store_tx_begin_bulk(store_tx **out, store *s, err *e)
{
    return tx_begin(out, s, true, DB_WRITE_BULK, e);
}

int store_tx_begin_shared(store_tx **out, store *s, err *e)
{
    return tx_begin(out, s, true, DB_WRITE_SHARED, e);
}

/* FNV-1a, folded to PostgreSQL's int4 advisory-lock key. */
static int32_t lock_key(const char *key)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ (unsigned char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p)) * 16777619u;
    return (int32_t)h;
}

int store_tx_lock(store_tx *tx, int what, const char *key, err *e)
{
    if (!tx->shared || tx->s->sqlite)
        return 0;
    /* The two-int4 form of the advisory locks: its keys never meet the catalog's bigint one;
     * the first names what is locked ("cai" + 1..3), the second is the key's hash (two keys
     * that share it only wait for each other). Sent with the next statement (db_write): the
     * server runs that one once the lock holds; a lock timeout fails it or the COMMIT. */
    return db_write(tx->d, "SELECT pg_advisory_xact_lock(CAST(? AS INTEGER), CAST(? AS INTEGER))",
                    e, "ii", (int64_t)(0x63616900 + what), (int64_t)lock_key(key));
}

/* Takes a place in the process's catalog write queue, waiting at most as long as PostgreSQL's
 * lock_timeout would for the advisory lock (a transaction that never ends fails the others
 * with a retryable 503, not a hang). */
static int catalog_queue(store *s, err *e)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 20;
    int rc;
    while ((rc = sem_timedwait(&s->cmu, &until)) != 0 && errno == EINTR)
        ;
    if (rc != 0)
        return err_set(e, ERR_UNAVAILABLE, "database busy, retry");
    return 0;
}

static int tx_begin(store_tx **out, store *s, bool write, int mode, err *e)
{
    db *d = NULL;
    bool queued = write && s->unlocked && s->sqlite;
    /* shared writes skip the queue: they wait for the rows they change, not for each other */
    bool serial = write && !s->unlocked && !s->sqlite && mode != DB_WRITE_SHARED;
    if (serial && catalog_queue(s, e) < 0)
        return -1;
    if (conn_take(&d, s, e) < 0) {
        if (serial)
            sem_post(&s->cmu);
        return -1;
    }
    if (queued)
        pthread_mutex_lock(&s->wmu);
    if (db_begin(d, !write ? DB_READ : s->unlocked ? DB_WRITE_UNLOCKED : mode, e) < 0) {
        if (queued)
            pthread_mutex_unlock(&s->wmu);
        if (serial)
            sem_post(&s->cmu);
        conn_give(s, d);
        return -1;
    }
    store_tx *tx = malloc(sizeof(*tx));
    if (!tx) {
        db_exec(d, "ROLLBACK", e);
        if (queued)
            pthread_mutex_unlock(&s->wmu);
        if (serial)
            sem_post(&s->cmu);
        conn_give(s, d);
        return err_set(e, ERR_SERVER, "out of memory");
    }
    tx->s = s;
    tx->d = d;
    tx->serial = serial;
    tx->shared = write && !s->unlocked && mode == DB_WRITE_SHARED;
    tx->write = write;
    tx->dirty = false;
    tx->auth_dirty = false;
    *out = tx;
    return 0;
}

/* Moves the catalog revision on, as the last statement of tx, into *rev, stamps the artifacts
 * tx marked with it (the change feed: store_int.h, STORE_TX_MARK) and commits; on PostgreSQL
 * the same statement notifies every listening instance (delivered at the commit) and rides
 * in one round trip with the COMMIT, so the revision row, which orders every catalog commit,
 * is held only while the server runs the two. */
static int bump_and_commit(int64_t *rev, store_tx *tx, err *e)
{
    if (tx->s->sqlite)
        return db_write(tx->d,
                        DB_NO_UNIQUE "UPDATE artifacts SET change_rev = (SELECT rev + 1 FROM"
                        " catalog_revision WHERE id = 1) WHERE change_rev = " STORE_TX_MARK,
                        e, "") < 0 ||
                       db_commit_int(tx->d, rev, e,
                                     "UPDATE catalog_revision SET rev = rev + 1 WHERE id = 1"
                                     " RETURNING rev",
                                     "") < 0
                   ? -1
                   : 0;
    return db_commit_int(tx->d, rev, e,
                         "WITH u AS (UPDATE catalog_revision SET rev = rev + 1 WHERE id = 1"
                         " RETURNING rev), m AS (UPDATE artifacts SET change_rev ="
                         " (SELECT rev FROM u) WHERE change_rev = " STORE_TX_MARK ")"
                         " SELECT rev, pg_notify('cairn_catalog', CAST(rev AS"
                         " TEXT) || ':' || CAST(? AS TEXT)) FROM u",
                         "i", time_now_ms());
}

int64_t store_take_commit_rev(void)
{
    int64_t rev = tl_commit_rev;
    tl_commit_rev = 0;
    return rev;
}

int store_tx_end(store_tx *tx, bool commit, err *e)
{
    if (!tx)
        return 0;
    int rc = 0;
    err tmp = {0};
    if (commit) {
        int64_t rev = 0;
        if (tx->auth_dirty && !tx->s->sqlite &&
            db_exec(tx->d, "SELECT pg_notify('cairn_auth', '')", e) < 0) {
            db_exec(tx->d, "ROLLBACK", &tmp);
            if (tx->write && tx->s->unlocked && tx->s->sqlite)
                pthread_mutex_unlock(&tx->s->wmu);
            if (tx->serial)
                sem_post(&tx->s->cmu);
            conn_give(tx->s, tx->d);
            free(tx);
            return -1;
        }
        if (tx->dirty ? bump_and_commit(&rev, tx, e) < 0 : db_exec(tx->d, "COMMIT", e) < 0) {
            rc = -1;
            db_exec(tx->d, "ROLLBACK", &tmp);
        } else {
            if (tx->dirty) {
                atomic_fetch_add(&tx->s->local_gen, 1);
                raise_to(&tx->s->known_rev, rev);
                if (rev > tl_commit_rev)
                    tl_commit_rev = rev;
            }
            if (tx->auth_dirty)
                atomic_fetch_add(&tx->s->auth_gen, 1);
        }
    } else {
        db_exec(tx->d, "ROLLBACK", &tmp);
    }
    if (tx->write && tx->s->unlocked && tx->s->sqlite)
        pthread_mutex_unlock(&tx->s->wmu);
    if (tx->serial)
        sem_post(&tx->s->cmu);
    conn_give(tx->s, tx->d);
    free(tx);
    return rc;
}

/* ---- orgs ---- */

#define ORG_COLS "id, slug, display_name, created_at, quota_versions_monthly"

static void org_read(store_org *o, db_stmt *st, arena *a)
{
    o->id = store_col_str(st, 0, a);
    o->slug = store_col_str(st, 1, a);
    o->display_name = store_col_str(st, 2, a);
    o->created_at = db_col_int(st, 3);
    o->quota_versions_monthly = db_col_int(st, 4);
}

int store_org_create(store_org *out, store_tx *tx, const char *slug, const char *display_name,
                     arena *a, err *e)
{
    char id[37];
    crypto_uuid7(id);
    int64_t now = time_now_ms();
    if (db_run(tx->d,
               "INSERT INTO orgs (id, slug, display_name, created_at) VALUES (?, ?, ?, ?)", e,
               "ttti", id, slug, display_name ? display_name : slug, now) < 0) {
        if (e->kind == ERR_EXISTS)
            err_set(e, ERR_EXISTS, "org '%s' already exists", slug);
        return -1;
    }
    out->id = arena_strdup(a, id);
    out->slug = arena_strdup(a, slug);
    out->display_name = arena_strdup(a, display_name ? display_name : slug);
    out->created_at = now;
    out->quota_versions_monthly = -1;
    return 0;
}

int store_org_get(store_org *out, store_tx *tx, const char *slug_or_id, arena *a, err *e)
{
    db_stmt *st = NULL;
    if (db_query(&st, tx->d, "SELECT " ORG_COLS " FROM orgs WHERE slug = ? OR id = ?", e, "tt",
                 slug_or_id, slug_or_id) < 0)
        return -1;
    int rc = db_step(st, e);
    if (rc == 1)
        org_read(out, st, a);
    db_done(st);
    if (rc == 0)
        return err_set(e, ERR_NOT_FOUND, "org '%s' not found", slug_or_id);
    return rc < 0 ? -1 : 0;
}

int store_org_count(int64_t *out, store_tx *tx, err *e)
{
    db_stmt *st = NULL;
    if (db_query(&st, tx->d, "SELECT COUNT(*) FROM orgs", e, "") < 0)
        return -1;
    int rc = db_step(st, e);
    if (rc == 1)
        *out = db_col_int(st, 0);
    db_done(st);
    return rc < 0 ? -1 : 0;
}

static int count_rows(int64_t *out, db *d, const char *sql, err *e, const char *arg)
{
    db_stmt *st = NULL;
    if (db_query(&st, d, sql, e, arg ? "t" : "", arg) < 0)
        return -1;
    int rc = db_step(st, e);
    *out = rc == 1 ? db_col_int(st, 0) : 0;
    db_done(st);
    return rc < 0 ? -1 : 0;
}

int store_org_list(store_org **out, size_t *n, int64_t *total, store_tx *tx, const char *after,
                   int limit, arena *a, err *e)
{
    db_stmt *st = NULL;
    if (count_rows(total, tx->d, "SELECT COUNT(*) FROM orgs", e, NULL) < 0)
        return -1;
    if (db_query(&st, tx->d, "SELECT " ORG_COLS " FROM orgs WHERE id > ? ORDER BY id LIMIT ?", e,
                 "ti", after ? after : "", (int64_t)limit) < 0)
        return -1;
    store_org *items = arena_array(a, store_org, (size_t)limit);
    size_t k = 0;
    int rc;
    while ((rc = db_step(st, e)) == 1 && k < (size_t)limit)
        org_read(&items[k++], st, a);
    db_done(st);
    *out = items;
    *n = k;
    return rc < 0 ? -1 : 0;
}

/* ---- tokens ---- */

#define TOKEN_COLS                                                                                 \
    "t.id, t.org_id, o.slug, t.name, t.role, t.server_admin, t.created_at, t.expires_at,"         \
    " t.last_used_at, t.revoked_at"
#define TOKEN_NCOLS 10

static void token_read(store_token *t, db_stmt *st, arena *a)
{
    t->id = store_col_str(st, 0, a);
    t->org_id = store_col_str(st, 1, a);
    t->org_slug = store_col_str(st, 2, a);
    t->name = store_col_str(st, 3, a);
    t->role = store_col_str(st, 4, a);
    t->server_admin = db_col_int(st, 5) != 0;
    t->created_at = db_col_int(st, 6);
    t->expires_at = db_col_int(st, 7);
    t->last_used_at = db_col_int(st, 8);
    t->revoked_at = db_col_int(st, 9);
}

int store_token_create(store_token *out, store_tx *tx, const char *org_id, const char *name,
                       const char *role, bool server_admin, const char *hash,
                       int64_t expires_at, arena *a, err *e)
{
    char id[37];
    crypto_uuid7(id);
    int64_t now = time_now_ms();
    if (db_run(tx->d,
               "INSERT INTO tokens (id, org_id, name, role, server_admin, hash, created_at,"
               " expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
               e, "ttttbtii", id, org_id, name, role, (int)server_admin, hash, now,
               expires_at) < 0)
        return -1;
    memset(out, 0, sizeof(*out));
    out->id = arena_strdup(a, id);
    out->org_id = arena_strdup(a, org_id);
    out->name = arena_strdup(a, name);
    out->role = arena_strdup(a, role);
    out->server_admin = server_admin;
    out->created_at = now;
    out->expires_at = expires_at;
    return 0;
}

int store_token_by_hash_rev(store_token *out, int64_t *rev, store *s, const char *hash,
                            arena *a, err *e)
{
    db *d = NULL;
    db_stmt *st = NULL;
    /* Listening: a cached row stays good until a credential change is heard of; the revision
     * then comes from the listener (store_catalog_revision). */
    bool cache = s->token_cache && atomic_load(&s->listen_up);
    int64_t gen = atomic_load(&s->auth_gen);
    if (cache && token_cache_get(out, s, hash, a)) {
        *rev = 0;
        return 0;
    }
    if (conn_take(&d, s, e) < 0)
        return -1;
    int rc = db_query(&st, d,
                      "SELECT " TOKEN_COLS ", (SELECT rev FROM catalog_revision WHERE id = 1)"
                      " FROM tokens t JOIN orgs o ON o.id = t.org_id WHERE t.hash = ?",
                      e, "t", hash);
    if (rc == 0)
        rc = db_step(st, e);
    if (rc == 1) {
        token_read(out, st, a);
        *rev = db_col_int(st, TOKEN_NCOLS);
        raise_to(&s->known_rev, *rev);
        if (cache)
            token_cache_put(s, hash, out, gen);
    }
    db_done(st);
    conn_give(s, d);
    if (rc == 0)
        return err_set(e, ERR_NOT_FOUND, "token not found");
    return rc < 0 ? -1 : 0;
}

int store_token_touch(store_tx *tx, const char *id, int64_t now, err *e)
{
    if (db_run(tx->d, "UPDATE tokens SET last_used_at = ? WHERE id = ?", e, "it", now, id) < 0)
        return -1;
    token_cache_touched(tx->s, id, now);
    return 0;
}

int store_token_list(store_token **out, size_t *n, int64_t *total, store_tx *tx,
                     const char *org_id, bool with_admin, const char *after, int limit, arena *a,
                     err *e)
{
    db_stmt *st = NULL;
    if (count_rows(total, tx->d,
                   with_admin ? "SELECT COUNT(*) FROM tokens WHERE org_id = ? AND revoked_at = 0"
                              : "SELECT COUNT(*) FROM tokens WHERE org_id = ? AND revoked_at = 0"
                                " AND server_admin = 0",
                   e, org_id) < 0)
        return -1;
    if (db_query(&st, tx->d,
                 with_admin
                     ? "SELECT " TOKEN_COLS " FROM tokens t JOIN orgs o ON o.id = t.org_id"
                       " WHERE t.org_id = ? AND t.revoked_at = 0 AND t.id > ? ORDER BY t.id"
                       " LIMIT ?"
                     : "SELECT " TOKEN_COLS " FROM tokens t JOIN orgs o ON o.id = t.org_id"
                       " WHERE t.org_id = ? AND t.revoked_at = 0 AND t.server_admin = 0"
                       " AND t.id > ? ORDER BY t.id LIMIT ?",
                 e, "tti", org_id, after ? after : "", (int64_t)limit) < 0)
        return -1;
    store_token *items = arena_array(a, store_token, (size_t)limit);
    size_t k = 0;
    int rc;
    while ((rc = db_step(st, e)) == 1 && k < (size_t)limit)
        token_read(&items[k++], st, a);
    db_done(st);
    *out = items;
    *n = k;
    return rc < 0 ? -1 : 0;
}

int store_token_revoke(store_tx *tx, const char *org_id, const char *id, bool with_admin,
                       int64_t now, err *e)
{
    int64_t n = db_run(tx->d,
                       with_admin ? "UPDATE tokens SET revoked_at = ? WHERE id = ? AND org_id = ?"
                                    " AND revoked_at = 0"
                                  : "UPDATE tokens SET revoked_at = ? WHERE id = ? AND org_id = ?"
                                    " AND revoked_at = 0 AND server_admin = 0",
                       e, "itt", now, id, org_id);
    if (n < 0)
        return -1;
    if (n == 0)
        return err_set(e, ERR_NOT_FOUND, "token '%s' not found", id);
    tx->auth_dirty = true;
    return 0;
}

int store_catalog_revision(int64_t *out, store *s, err *e)
{
    return store_catalog_revision_min(out, s, 0, e);
}

int store_catalog_revision_min(int64_t *out, store *s, int64_t min, err *e)
{
    /* Listening (notify mode): the revision heard of, unless the caller needs a later one. */
    if (s->listener && atomic_load(&s->listen_up)) {
        int64_t k = atomic_load(&s->known_rev);
        if (k >= min) {
            atomic_fetch_add(&s->reads_pushed, 1);
            *out = k;
            return 0;
        }
    }
    /* Our own commits are seen at once (local_gen); the database is asked again only when
     * this process changed the catalog or recheck_ms passed. The read is one statement
     * outside a transaction: a single-row read needs no snapshot. */
    int64_t now = time_now_ms(), gen = atomic_load(&s->local_gen);
    if (s->recheck_ms > 0 && atomic_load(&s->rev_read_ms) != 0 && atomic_load(&s->rev_cached) >= min &&
        gen == atomic_load(&s->seen_gen) && now - atomic_load(&s->rev_read_ms) < s->recheck_ms) {
        *out = atomic_load(&s->rev_cached);
        return 0;
    }
    db *d = NULL;
    db_stmt *st = NULL;
    if (conn_take(&d, s, e) < 0)
        return -1;
    int rc = db_query(&st, d, "SELECT rev FROM catalog_revision WHERE id = 1", e, "");
    if (rc == 0)
        rc = db_step(st, e);
    *out = rc == 1 ? db_col_int(st, 0) : 0;
    db_done(st);
    conn_give(s, d);
    if (rc < 0)
        return -1;
    atomic_store(&s->rev_cached, *out);
    atomic_store(&s->seen_gen, gen);
    atomic_store(&s->rev_read_ms, now);
    atomic_fetch_add(&s->reads_db, 1);
    raise_to(&s->known_rev, *out);
    return 0;
}

int store_setting_init(char *out, size_t cap, store *s, const char *name, const char *initial,
                       err *e)
{
    store_tx *tx = NULL;
    db_stmt *st = NULL;
    int rc = -1;
    if (store_tx_begin(&tx, s, true, e) < 0)
        return -1;
    if (db_run(tx->d,
               "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING", e,
               "tt", name, initial) < 0 ||
        db_query(&st, tx->d, "SELECT value FROM settings WHERE name = ?", e, "t", name) < 0)
        goto out;
    if (db_step(st, e) != 1 || !db_col_text(st, 0))
        goto out;
    snprintf(out, cap, "%s", db_col_text(st, 0));
    rc = 0;
out:
    db_done(st);
    if (store_tx_end(tx, rc == 0, e) < 0)
        rc = -1;
    if (rc < 0 && e->kind == ERR_NONE)
        err_set(e, ERR_DATABASE, "database error");
    return rc;
}

int store_blob_totals(int64_t *bytes, int64_t *count, store *s, err *e)
{
    store_tx *tx = NULL;
    db_stmt *st = NULL;
    *bytes = *count = 0;
    if (store_tx_begin(&tx, s, false, e) < 0)
        return -1;
    int rc = db_query(&st, tx->d, "SELECT COALESCE(SUM(size_bytes), 0), COUNT(*) FROM blobs", e,
                      "");
    if (rc == 0 && (rc = db_step(st, e)) == 1) {
        *bytes = db_col_int(st, 0);
        *count = db_col_int(st, 1);
    }
    db_done(st);
    store_tx_end(tx, false, e);
    return rc < 0 ? -1 : 0;
}
