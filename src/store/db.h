/*
 * db.h: the SQL driver interface under store/. One `db` is one connection, used by one thread
 * at a time. SQL is written portably with `?` placeholders; a driver rewrites what it must.
 * Only src/store/ includes this header.
 */
#ifndef CAIRN_DB_H
#define CAIRN_DB_H

#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

typedef struct db db;
typedef struct db_stmt db_stmt;

/* Driver function table (curl's Curl_ssl): one per database. */
typedef struct db_ops {
    const char *name;
    int (*open)(db **out, const char *url, err *e);
    void (*close)(db *d);
    int (*exec)(db *d, const char *sql, err *e);
    int (*prepare)(db_stmt **out, db *d, const char *sql, err *e);
    int (*bind_text)(db_stmt *st, int i, const char *v);
    int (*bind_int)(db_stmt *st, int i, int64_t v);
    int (*bind_null)(db_stmt *st, int i);
    int (*step)(db_stmt *st, err *e);
    const char *(*col_text)(db_stmt *st, int i);
    int64_t (*col_int)(db_stmt *st, int i);
    double (*col_double)(db_stmt *st, int i);
    bool (*col_null)(db_stmt *st, int i);
    void (*done)(db_stmt *st);
    int64_t (*changes)(db *d);
    int (*begin)(db *d, int mode, err *e); /* DB_READ, DB_WRITE, DB_WRITE_UNLOCKED */
    void (*defer)(db_stmt *st, int how); /* DB_DEFER_*; NULL: every statement runs at once */
    /* Steps st (one row: an integer first) and commits at once (db_commit_int): 0, -1, or 1
     * when it cannot here and it is to be done the plain way; NULL: always the plain way
     * (the statement, then COMMIT). */
    int (*commit_int)(db_stmt *st, int64_t *out, err *e);
} db_ops;

extern const db_ops db_sqlite_ops;
extern const db_ops db_pg_ops;

/* Every driver's db starts with this header, so the generic calls can dispatch. */
struct db {
    const db_ops *ops;
};
struct db_stmt {
    const db_ops *ops;
};

/* Opens a connection for url (postgres://..., postgresql://..., sqlite://PATH or a plain
 * path); returns 0 or -1. */
int db_open(db **out, const char *url, err *e);
/* Closes d; accepts NULL. */
void db_close(db *d);
/* Runs one or more statements without parameters. */
int db_exec(db *d, const char *sql, err *e);
/* Transaction modes: a read; a catalog write (takes the catalog's write lock now, so conflicts
 * surface early: SQLite BEGIN IMMEDIATE, PostgreSQL an advisory lock); a write that takes no
 * lock of its own (telemetry: SQLite BEGIN IMMEDIATE on its own database file, PostgreSQL a
 * plain READ COMMITTED transaction, so instances write side by side). */
#define DB_READ 0
#define DB_WRITE 1
#define DB_WRITE_UNLOCKED 2
/* A catalog write for bulk loads, where any failure aborts the whole load: on PostgreSQL the
 * row inserts of db_insert are pipelined too (see db_insert). */
#define DB_WRITE_BULK 3
/* A catalog write that holds the catalog's write lock shared with others of its kind and
 * takes finer locks of its own (store_tx_lock): SQLite BEGIN IMMEDIATE as for DB_WRITE (its
 * writes are serial anyway), PostgreSQL the advisory lock in shared mode, so writes to
 * different artifacts run side by side while every DB_WRITE still runs alone. */
#define DB_WRITE_SHARED 4

/* How a statement may be deferred (db_ops.defer): a write whose answer nobody waits for
 * (db_write); an insert of one row deferred in a bulk transaction only (db_insert). */
#define DB_DEFER_ANY 1
#define DB_DEFER_BULK_ROW 2
/* Begins a transaction in mode. */
int db_begin(db *d, int mode, err *e);
/* Returns rows changed by the last statement. */
int64_t db_changes(db *d);

/* Prefix of a write that cannot violate a unique index (it sets no column of one), so no
 * caller can recover from its failure: PostgreSQL runs it without a savepoint in a
 * transaction (a failure then fails the transaction's COMMIT). DELETE and INSERT ... ON
 * CONFLICT DO NOTHING never need the mark. An SQL comment: SQLite ignores it. */
#define DB_NO_UNIQUE "/*no-unique*/ "

/* Prepares sql (drivers cache prepared statements by their text) and binds parameters
 * described by types, one char each: 't' const char * (NULL binds NULL), 'i' int64_t,
 * 'b' int (bool). Returns 0 or -1. Release the statement with db_done(). */
int db_query(db_stmt **out, db *d, const char *sql, err *e, const char *types, ...);
/* One bound parameter of a dynamically built statement. */
typedef struct db_arg {
    char type; /* 't' text, 'i' integer */
    const char *t;
    int64_t i;
} db_arg;
/* Like db_query, with parameters from an array (for SQL built at run time). */
int db_query_v(db_stmt **out, db *d, const char *sql, err *e, const db_arg *args, size_t n);
/* Runs a write whose change count the caller does not need and that cannot fail on a unique
 * violation (a DELETE, an INSERT ... ON CONFLICT DO NOTHING or a DB_NO_UNIQUE update), or a
 * `SELECT pg_advisory_xact_lock(...)` (the statements after it run once it holds). Inside
 * a transaction PostgreSQL may send it without waiting for its answer, pipelined with the
 * next statement: if it fails, that next statement or the COMMIT fails (and no caller could
 * have recovered from its failure anyway). Returns 0 or -1. */
int db_write(db *d, const char *sql, err *e, const char *types, ...);
/* Runs an INSERT ... ON CONFLICT DO NOTHING of one row: returns 1 if the row went in, 0 if it
 * conflicted with an existing one, -1 on error. In a DB_WRITE_BULK transaction PostgreSQL
 * pipelines it and returns 1 at once: a conflict then fails a later statement or the COMMIT
 * with ERR_EXISTS (the whole load is rolled back). */
int64_t db_insert(db *d, const char *sql, err *e, const char *types, ...);
/* Like db_write, with parameters from an array (for SQL built at run time). */
int db_write_v(db *d, const char *sql, err *e, const db_arg *args, size_t n);
/* Runs sql, the transaction's last statement, which answers one row with an integer first
 * (into *out), and commits the transaction. PostgreSQL sends both in one round trip (behind
 * the deferred writes), so a row lock the statement takes is held only while the server runs
 * it and the COMMIT, not across a round trip to the client and back. Returns 0, or -1 with e
 * set; after -1 the transaction is over (rolled back) or must be rolled back by the caller
 * (a ROLLBACK after the end is harmless). */
int db_commit_int(db *d, int64_t *out, err *e, const char *sql, const char *types, ...);
/* Returns the driver's name ("sqlite", "postgres"). */
const char *db_driver(const db *d);

/* Steps: 1 a row is ready, 0 done, -1 error (unique violation gives ERR_EXISTS). */
int db_step(db_stmt *st, err *e);
/* Column i (0-based) of the current row; text is NULL for SQL NULL and valid until next step. */
const char *db_col_text(db_stmt *st, int i);
int64_t db_col_int(db_stmt *st, int i);
double db_col_double(db_stmt *st, int i);
bool db_col_null(db_stmt *st, int i);
/* Resets and releases st; accepts NULL. */
void db_done(db_stmt *st);
/* Runs a statement that returns no rows; returns rows changed, or -1. */
int64_t db_run(db *d, const char *sql, err *e, const char *types, ...);

#endif
