/*
 * db.c: generic entry points of the SQL driver interface.
 */
#include "store/db.h"

#include <stdarg.h>
#include <string.h>

#include "util/log.h"

int db_open(db **out, const char *url, err *e)
{
    if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0)
        return db_pg_ops.open(out, url, e);
    return db_sqlite_ops.open(out, url, e);
}

void db_close(db *d)
{
    if (d)
        d->ops->close(d);
}

int db_exec(db *d, const char *sql, err *e)
{
    return d->ops->exec(d, sql, e);
}

int db_begin(db *d, int mode, err *e)
{
    return d->ops->begin(d, mode, e);
}

int64_t db_changes(db *d)
{
    return d->ops->changes(d);
}

static int bind_va(db_stmt *st, const char *types, va_list ap)
{
    int i = 1;
    for (const char *t = types; t && *t; t++, i++) {
        int rc = 0;
        switch (*t) {
        case 't': rc = st->ops->bind_text(st, i, va_arg(ap, const char *)); break;
        case 'i': rc = st->ops->bind_int(st, i, va_arg(ap, int64_t)); break;
        case 'b': rc = st->ops->bind_int(st, i, va_arg(ap, int) ? 1 : 0); break;
        case 'n': rc = st->ops->bind_null(st, i); break;
        default: return -1;
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Prepares sql and binds the parameters of ap (db_query's types): the one body behind every
 * varargs entry point. */
static int prepare_va(db_stmt **out, db *d, const char *sql, err *e, const char *types,
                      va_list ap)
{
    db_stmt *st = NULL;
    if (d->ops->prepare(&st, d, sql, e) < 0)
        return -1;
    if (bind_va(st, types, ap) < 0) {
        st->ops->done(st);
        log_error(NULL, "db.bind_failed", "s:s", "sql", sql);
        return err_set(e, ERR_DATABASE, "database error");
    }
    *out = st;
    return 0;
}

/* Steps st to its end; returns the last step's result (0, or -1 with e set). */
static int step_all(db_stmt *st, err *e)
{
    int rc;
    while ((rc = st->ops->step(st, e)) == 1)
        ;
    return rc;
}

int db_query(db_stmt **out, db *d, const char *sql, err *e, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    int rc = prepare_va(out, d, sql, e, types, ap);
    va_end(ap);
    return rc;
}

int db_commit_int(db *d, int64_t *out, err *e, const char *sql, const char *types, ...)
{
    db_stmt *st = NULL;
    va_list ap;
    va_start(ap, types);
    int rc = prepare_va(&st, d, sql, e, types, ap);
    va_end(ap);
    if (rc < 0)
        return -1;
    if (d->ops->commit_int && (rc = d->ops->commit_int(st, out, e)) <= 0) {
        st->ops->done(st);
        return rc;
    }
    rc = st->ops->step(st, e);
    if (rc == 1)
        *out = st->ops->col_int(st, 0);
    if (rc == 1 && (rc = step_all(st, e)) == 0)
        rc = 1;
    st->ops->done(st);
    if (rc == 0)
        rc = err_set(e, ERR_DATABASE, "database error: no row before the commit");
    return rc < 0 ? -1 : d->ops->exec(d, "COMMIT", e);
}

int db_step(db_stmt *st, err *e)
{
    return st->ops->step(st, e);
}

const char *db_col_text(db_stmt *st, int i)
{
    return st->ops->col_text(st, i);
}

int64_t db_col_int(db_stmt *st, int i)
{
    return st->ops->col_int(st, i);
}

double db_col_double(db_stmt *st, int i)
{
    return st->ops->col_double(st, i);
}

bool db_col_null(db_stmt *st, int i)
{
    return st->ops->col_null(st, i);
}

void db_done(db_stmt *st)
{
    if (st)
        st->ops->done(st);
}

int64_t db_run(db *d, const char *sql, err *e, const char *types, ...)
{
    db_stmt *st = NULL;
    va_list ap;
    va_start(ap, types);
    int rc = prepare_va(&st, d, sql, e, types, ap);
    va_end(ap);
    if (rc < 0)
        return -1;
    rc = step_all(st, e);
    int64_t changed = rc < 0 ? -1 : d->ops->changes(d);
    st->ops->done(st);
    return changed;
}

static int write_run(db_stmt *st, err *e)
{
    if (st->ops->defer)
        st->ops->defer(st, DB_DEFER_ANY);
    int rc = step_all(st, e);
    st->ops->done(st);
    return rc < 0 ? -1 : 0;
}

int db_write(db *d, const char *sql, err *e, const char *types, ...)
{
    db_stmt *st = NULL;
    va_list ap;
    va_start(ap, types);
    int rc = prepare_va(&st, d, sql, e, types, ap);
    va_end(ap);
    return rc < 0 ? -1 : write_run(st, e);
}

int64_t db_insert(db *d, const char *sql, err *e, const char *types, ...)
{
    db_stmt *st = NULL;
    va_list ap;
    va_start(ap, types);
    int rc = prepare_va(&st, d, sql, e, types, ap);
    va_end(ap);
    if (rc < 0)
        return -1;
    if (st->ops->defer)
        st->ops->defer(st, DB_DEFER_BULK_ROW);
    rc = step_all(st, e);
    st->ops->done(st);
    return rc < 0 ? -1 : d->ops->changes(d) > 0;
}

int db_write_v(db *d, const char *sql, err *e, const db_arg *args, size_t n)
{
    db_stmt *st = NULL;
    if (db_query_v(&st, d, sql, e, args, n) < 0)
        return -1;
    return write_run(st, e);
}

int db_query_v(db_stmt **out, db *d, const char *sql, err *e, const db_arg *args, size_t n)
{
    db_stmt *st = NULL;
    if (d->ops->prepare(&st, d, sql, e) < 0)
        return -1;
    for (size_t k = 0; k < n; k++) {
        int rc = args[k].type == 'i' ? st->ops->bind_int(st, (int)k + 1, args[k].i)
                                     : st->ops->bind_text(st, (int)k + 1, args[k].t);
        if (rc < 0) {
            st->ops->done(st);
            return err_set(e, ERR_DATABASE, "database error");
        }
    }
    *out = st;
    return 0;
}

const char *db_driver(const db *d)
{
    return d->ops->name;
}
