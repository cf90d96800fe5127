/*
 * store_int.h: internals shared by the files of src/store/ only.
 */
#ifndef CAIRN_STORE_INT_H
#define CAIRN_STORE_INT_H

#include "store/db.h"
#include "store/store.h"

extern const char *const store_migrations[];
extern const int store_migration_count;

struct store_tx {
    store *s;
    db *d;
    bool write;
};

/* Copies a nullable column into the arena. */
char *store_col_str(db_stmt *st, int i, arena *a);

#endif
