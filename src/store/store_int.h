/*
 * store_int.h: internals shared by the files of src/store/ only.
 */
#ifndef CAIRN_STORE_INT_H
#define CAIRN_STORE_INT_H

#include "store/db.h"
#include "store/store.h"

/* A migration: SQL for every driver, then the parts one dialect needs (full-text search). */
typedef struct store_migration {
    const char *common, *sqlite, *postgres;
} store_migration;
extern const store_migration store_migrations[];
extern const int store_migration_count;
/* The telemetry store's own set (its tables live apart from the catalog: store.h). */
extern const store_migration store_telemetry_migrations[];
extern const int store_telemetry_migration_count;

struct store_tx {
    store *s;
    db *d;
    bool write;
    bool serial; /* holds a place in the store's catalog write queue (store.c) */
    bool shared; /* holds the catalog write lock shared (store_tx_begin_shared) */
    bool dirty; /* the catalog changed: bump catalog_revision on commit */
    bool auth_dirty; /* a credential changed: tell the other instances on commit */
};

/* SET clause making updated_at strictly increase per change (two changes within one ms still
 * differ), portable SQL; binds the new time twice. */
#define STORE_BUMP_UPDATED                                                                  \
    "updated_at = CASE WHEN updated_at >= ? THEN updated_at + 1 ELSE ? END, " STORE_CHANGE_REV

/* The change feed: each artifact's change_rev is the catalog revision its last change
 * committed as. A write marks the artifacts it changes with STORE_TX_MARK (a negative number
 * owned by its database session: -1 on SQLite, minus the backend's pid on PostgreSQL) and the
 * revision bump, the transaction's last statement, turns its marks into the revision it takes
 * (store.c, bump_revision). The bump locks the revision row until COMMIT, so transactions
 * commit in revision order even when they ran side by side (store_tx_begin_shared): a reader
 * that sees revision N sees every change stamped N or lower, and no mark is ever committed. */
#define STORE_TX_MARK "cairn_tx_mark()"
/* SET clause marking the artifact as changed by this transaction. */
#define STORE_CHANGE_REV "change_rev = " STORE_TX_MARK

/* Marks the transaction as changing what catalogs, facets and the manifest show. */
#define STORE_TOUCH(tx) ((tx)->dirty = true)

#define STORE_ART_COLS                                                                                   \
    "a.id, a.org_id, o.slug, a.kind, a.name, a.pretty_name, a.summary, a.description,"            \
    " a.license, a.task, a.architecture, a.base_model, a.framework, a.size_category, a.tags,"    \
    " a.language, a.task_categories, a.keywords, a.components, a.origin, a.attributes,"          \
    " a.aliases, a.latest_version, a.latest_version_id, a.is_public, a.enabled,"                 \
    " a.framework_set, a.revision, a.download_count, a.version_count, a.created_at,"            \
    " a.updated_at, a.deleted_at, a.relations"

#define STORE_ART_NCOLS 34 /* columns in STORE_ART_COLS: keep the two together */

/* Reads a row selected with STORE_ART_COLS. */
void store_art_read(store_artifact *m, db_stmt *st, arena *a);
/* PostgreSQL's weighted tsvector of an artifact from the four texts of store_fts_texts (four
 * parameters): name A, pretty name B, summary and tags C, description D. */
#define STORE_FTS_VALUE                                                                            \
    "setweight(to_tsvector('simple', ?), 'A') || setweight(to_tsvector('simple', ?), 'B') ||"    \
    " setweight(to_tsvector('simple', ?), 'C') || setweight(to_tsvector('simple', ?), 'D')"
/* The four texts of the artifact's full-text entry, in the arena. */
void store_fts_texts(const char *out[4], const store_artifact *m, arena *a);
/* Dialect: refreshes the artifact's full-text index row. */
int store_fts_refresh(db *d, const store_artifact *m, err *e);
/* Dialect: drops the full-text rows of artifacts deleted before `before`. */
int store_fts_purge(db *d, int64_t before, err *e);

/* Deletes the optimized configs and jobs of versions purged before `before` (store_edge.c). */
int store_purge_edge(store_tx *tx, int64_t before, err *e);

/* Doubles an arena array of *cap items of size sz (the old copy stays in the arena). */
void *store_grow(void *items, size_t *cap, size_t sz, arena *a);

/* A pooled connection outside any transaction, for a single statement (its own snapshot),
 * given back with store_conn_give. */
int store_conn_take(db **out, store *s, err *e);
void store_conn_give(store *s, db *d);

/* Copies a nullable column into the arena. */
char *store_col_str(db_stmt *st, int i, arena *a);

#endif
