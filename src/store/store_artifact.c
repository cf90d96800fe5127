/*
 * store_artifact.c: artifacts (models and capabilities), their facet rows and aliases.
 */
#include "store/store.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

void store_art_read(store_artifact *m, db_stmt *st, arena *a)
{
    char **strs[] = {&m->id,           &m->org_id,      &m->org_slug,   &m->kind,
                     &m->name,         &m->pretty_name, &m->summary,    &m->description,
                     &m->license,      &m->task,        &m->architecture, &m->base_model,
                     &m->framework,    &m->size_category, &m->tags,     &m->language,
                     &m->task_categories, &m->keywords, &m->components, &m->origin,
                     &m->attributes,   &m->aliases,     &m->latest_version,
                     &m->latest_version_id};
    int i = 0;
    for (; i < (int)(sizeof(strs) / sizeof(strs[0])); i++)
        *strs[i] = store_col_str(st, i, a);
    m->is_public = db_col_int(st, i++) != 0;
    m->enabled = db_col_int(st, i++) != 0;
    m->framework_set = db_col_int(st, i++) != 0;
    m->revision = db_col_int(st, i++);
    m->download_count = db_col_int(st, i++);
    m->version_count = db_col_int(st, i++);
    m->created_at = db_col_int(st, i++);
    m->updated_at = db_col_int(st, i++);
    m->deleted_at = db_col_int(st, i++);
    m->relations = store_col_str(st, i++, a);
}

/* Facet rows of one artifact, inserted FACET_BATCH at a time (one statement, one round trip). */
#define FACET_BATCH 64
typedef struct facet_rows {
    const store_artifact *m;
    db_arg args[FACET_BATCH * 7];
    size_t n; /* rows pending */
} facet_rows;

static int facet_flush(db *d, facet_rows *f, err *e)
{
    if (f->n == 0)
        return 0;
    char sql[128 + FACET_BATCH * 24];
    size_t used = (size_t)snprintf(sql, sizeof(sql),
                                   "INSERT INTO artifact_facets (artifact_id, facet, value,"
                                   " org_id, kind, live, public) VALUES ");
    for (size_t i = 0; i < f->n; i++)
        used += (size_t)snprintf(sql + used, sizeof(sql) - used, "%s(?, ?, ?, ?, ?, ?, ?)",
                                 i ? ", " : "");
    snprintf(sql + used, sizeof(sql) - used, " ON CONFLICT DO NOTHING");
    int rc = db_write_v(d, sql, e, f->args, f->n * 7);
    f->n = 0;
    return rc;
}

static int facet_add(db *d, facet_rows *f, const char *facet, const char *value, err *e)
{
    if (!value || !*value)
        return 0;
    const store_artifact *m = f->m;
    db_arg *a = &f->args[f->n * 7];
    a[0] = (db_arg){.type = 't', .t = m->id};
    a[1] = (db_arg){.type = 't', .t = facet};
    a[2] = (db_arg){.type = 't', .t = value};
    a[3] = (db_arg){.type = 't', .t = m->org_id};
    a[4] = (db_arg){.type = 't', .t = m->kind};
    a[5] = (db_arg){.type = 'i', .i = m->deleted_at == 0};
    a[6] = (db_arg){.type = 'i', .i = m->is_public && m->enabled};
    return ++f->n == FACET_BATCH ? facet_flush(d, f, e) : 0;
}

static int facet_add_list(db *d, facet_rows *f, const char *facet, json_t *arr, err *e)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v) && facet_add(d, f, facet, json_string_value(v), e) < 0)
            return -1;
    }
    return 0;
}

/* Facet rows mirror the filterable fields so facet counts are GROUP BY over an index. A new
 * artifact (fresh) has none to delete. The JSON documents stay parsed until the rows are
 * written: the rows point into them. */
static int facets_refresh(db *d, const store_artifact *m, bool fresh, err *e)
{
    if (!fresh &&
        db_write(d, "DELETE FROM artifact_facets WHERE artifact_id = ?", e, "t", m->id) < 0)
        return -1;
    facet_rows *f = calloc(1, sizeof(*f));
    if (!f)
        return err_set(e, ERR_SERVER, "out of memory");
    f->m = m;
    json_t *tags = m->tags ? json_loads(m->tags, 0, NULL) : NULL;
    json_t *tasks = m->task_categories ? json_loads(m->task_categories, 0, NULL) : NULL;
    json_t *langs = m->language ? json_loads(m->language, 0, NULL) : NULL;
    json_t *rel = m->relations ? json_loads(m->relations, 0, NULL) : NULL;
    int rc = -1;
    if (facet_add_list(d, f, "tags", tags, e) < 0 ||
        facet_add_list(d, f, "task_categories", tasks, e) < 0 ||
        facet_add_list(d, f, "language", langs, e) < 0 ||
        facet_add(d, f, "license", m->license, e) < 0 ||
        facet_add(d, f, "framework", m->framework, e) < 0 ||
        facet_add(d, f, "size_category", m->size_category, e) < 0)
        goto out;
    /* Relation id sets: one facet row per id, the facet named after its list. */
    for (int i = STORE_FACETS; i < STORE_FILTERS; i++)
        if (facet_add_list(d, f, store_facet_names[i],
                           json_object_get(rel, store_facet_names[i]), e) < 0)
            goto out;
    if (facet_flush(d, f, e) < 0)
        goto out;
    /* A new artifact's PostgreSQL vector came with its row. */
    rc = fresh && strcmp(db_driver(d), "postgres") == 0 ? 0 : store_fts_refresh(d, m, e);
out:
    json_decref(tags);
    json_decref(tasks);
    json_decref(langs);
    json_decref(rel);
    free(f);
    return rc;
}

static const char *or_json(const char *v, const char *dflt)
{
    return v ? v : dflt;
}

int store_artifact_insert(store_tx *tx, const store_artifact *m, err *e)
{
    STORE_TOUCH(tx);
    /* ON CONFLICT DO NOTHING: a taken name inserts nothing, so PostgreSQL needs no savepoint.
     * PostgreSQL's full-text vector goes in with the row (no second version of it). */
#define ART_INSERT(fts_col, fts_val)                                                               \
    "INSERT INTO artifacts (id, org_id, kind, name, pretty_name, summary, description,"            \
    " license, task, architecture, base_model, framework, framework_set,"                          \
    " size_category, tags, language, task_categories, keywords, components, origin,"               \
    " attributes, is_public, enabled, revision, created_at, updated_at, relations,"                \
    " change_rev" fts_col ")"                                                                      \
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1,"            \
    " ?, ?, ?, " STORE_TX_MARK fts_val ")"                                                         \
    " ON CONFLICT DO NOTHING"
    bool pg = strcmp(db_driver(tx->d), "postgres") == 0;
    arena *a = arena_create();
    const char *t[4] = {NULL, NULL, NULL, NULL};
    if (pg)
        store_fts_texts(t, m, a);
    int64_t n = db_insert(tx->d,
                       pg ? ART_INSERT(", fts", ", " STORE_FTS_VALUE) : ART_INSERT("", ""), e,
                       pg ? "ttttttttttttbttttttttbbiittttt" : "ttttttttttttbttttttttbbiit",
                       m->id, m->org_id, m->kind, m->name, m->pretty_name, m->summary,
                       m->description, m->license, m->task, m->architecture, m->base_model,
                       m->framework, (int)m->framework_set, m->size_category,
                       or_json(m->tags, "[]"), or_json(m->language, "[]"),
                       or_json(m->task_categories, "[]"), or_json(m->keywords, "[]"),
                       or_json(m->components, "[]"), or_json(m->origin, "{}"),
                       or_json(m->attributes, "{}"), (int)m->is_public, (int)m->enabled,
                       m->created_at, m->updated_at, or_json(m->relations, "{}"), t[0], t[1],
                       t[2], t[3]);
#undef ART_INSERT
    arena_free(a);
    if (n < 0 && e->kind != ERR_EXISTS)
        return -1;
    if (n <= 0)
        return err_set(e, ERR_EXISTS, "%s '%s/%s' already exists",
                       strcmp(m->kind, "models") == 0 ? "model" : "capability", m->org_slug,
                       m->name);
    return facets_refresh(tx->d, m, true, e);
}

int store_artifact_get(store_artifact *out, store_tx *tx, const char *org_id, const char *kind,
                       const char *name_or_id, bool by_id, arena *a, err *e)
{
    db_stmt *st = NULL;
    if (db_query(&st, tx->d,
                 by_id ? "SELECT " STORE_ART_COLS " FROM artifacts a JOIN orgs o ON o.id = a.org_id"
                         " WHERE a.org_id = ? AND a.kind = ? AND a.id = ? AND a.deleted_at = 0"
                       : "SELECT " STORE_ART_COLS " FROM artifacts a JOIN orgs o ON o.id = a.org_id"
                         " WHERE a.org_id = ? AND a.kind = ? AND a.name = ? AND a.deleted_at = 0",
                 e, "ttt", org_id, kind, name_or_id) < 0)
        return -1;
    int rc = db_step(st, e);
    if (rc == 1)
        store_art_read(out, st, a);
    db_done(st);
    if (rc == 0)
        return err_set(e, ERR_NOT_FOUND, "%s '%s' not found",
                       strcmp(kind, "models") == 0 ? "model" : "capability", name_or_id);
    return rc < 0 ? -1 : 0;
}

int store_artifact_update(store_tx *tx, const store_artifact *m, int64_t now, err *e)
{
    STORE_TOUCH(tx);
    int64_t n = db_run(
        tx->d,
        "UPDATE artifacts SET pretty_name = ?, summary = ?, description = ?, license = ?,"
        " task = ?, architecture = ?, base_model = ?, framework = ?, framework_set = ?,"
        " size_category = ?, tags = ?, language = ?, task_categories = ?, keywords = ?,"
        " components = ?, origin = ?, attributes = ?, is_public = ?, enabled = ?,"
        " relations = ?, revision = revision + 1, " STORE_BUMP_UPDATED " WHERE id = ?"
        " AND revision = ? AND deleted_at = 0",
        e, "ttttttttbttttttttbbtiiti", m->pretty_name, m->summary, m->description, m->license,
        m->task, m->architecture, m->base_model, m->framework, (int)m->framework_set,
        m->size_category, or_json(m->tags, "[]"), or_json(m->language, "[]"),
        or_json(m->task_categories, "[]"), or_json(m->keywords, "[]"),
        or_json(m->components, "[]"), or_json(m->origin, "{}"), or_json(m->attributes, "{}"),
        (int)m->is_public, (int)m->enabled, or_json(m->relations, "{}"), now, now, m->id,
        m->revision);
    if (n < 0)
        return -1;
    if (n == 0)
        return err_set(e, ERR_CONFLICT, "revision mismatch: the artifact changed meanwhile");
    return facets_refresh(tx->d, m, false, e);
}

int store_artifact_delete(store_tx *tx, const char *id, int64_t now, err *e)
{
    STORE_TOUCH(tx);
    if (db_run(tx->d, "UPDATE versions SET deleted_at = ? WHERE artifact_id = ? AND deleted_at = 0",
               e, "it", now, id) < 0)
        return -1;
    if (db_run(tx->d, "UPDATE artifact_facets SET live = 0 WHERE artifact_id = ?", e, "t", id) <
        0)
        return -1;
    int64_t n = db_run(tx->d,
                       "UPDATE artifacts SET deleted_at = ?, " STORE_BUMP_UPDATED " WHERE id = ?"
                       " AND deleted_at = 0",
                       e, "iiit", now, now, now, id);
    if (n < 0)
        return -1;
    return n == 0 ? err_set(e, ERR_NOT_FOUND, "artifact not found") : 0;
}

/* One statement: the published head, the count and the alias list from their tables. */
int store_artifact_refresh(store_tx *tx, const char *artifact_id, int64_t now, err *e)
{
    STORE_TOUCH(tx);
#define LATEST(col)                                                                                \
    "(SELECT " col " FROM versions WHERE artifact_id = ?1 AND deleted_at = 0"                      \
    " AND lifecycle = 'published' ORDER BY sort_key DESC LIMIT 1)"
#define REFRESH(aliases)                                                                           \
    DB_NO_UNIQUE "UPDATE artifacts SET latest_version = " LATEST("version") ","                    \
    " latest_version_id = " LATEST("id") ", version_count = (SELECT COUNT(*) FROM versions"        \
    " WHERE artifact_id = ?1 AND deleted_at = 0 AND lifecycle <> 'draft'),"                       \
    " aliases = " aliases ","                                                                      \
    " updated_at = CASE WHEN updated_at >= ?2 THEN updated_at + 1 ELSE ?2 END, " STORE_CHANGE_REV \
    " WHERE id = ?1"
    bool pg = strcmp(db_driver(tx->d), "postgres") == 0;
    int rc = db_write(
        tx->d,
        pg ? REFRESH("COALESCE((SELECT '[' || string_agg(to_json(alias)::text, ',' ORDER BY alias)"
                     " || ']' FROM aliases WHERE artifact_id = ?1), '[]')")
           : REFRESH("(SELECT json_group_array(alias) FROM (SELECT alias FROM aliases"
                     " WHERE artifact_id = ?1 ORDER BY alias))"),
        e, "ti", artifact_id, now);
#undef REFRESH
#undef LATEST
    return rc;
}

/* ---- aliases ---- */

int store_alias_set(store_tx *tx, const char *artifact_id, const char *alias,
                    const char *version_id, int64_t now, err *e)
{
    STORE_TOUCH(tx);
    if (db_run(tx->d,
               "INSERT INTO aliases (artifact_id, alias, version_id, updated_at)"
               " VALUES (?, ?, ?, ?) ON CONFLICT (artifact_id, alias) DO UPDATE SET"
               " version_id = excluded.version_id, updated_at = excluded.updated_at",
               e, "ttti", artifact_id, alias, version_id, now) < 0)
        return -1;
    return store_artifact_refresh(tx, artifact_id, now, e);
}

int store_alias_get(char **version_id, store_tx *tx, const char *artifact_id, const char *alias,
                    arena *a, err *e)
{
    db_stmt *st = NULL;
    if (db_query(&st, tx->d,
                 "SELECT version_id FROM aliases WHERE artifact_id = ? AND alias = ?", e, "tt",
                 artifact_id, alias) < 0)
        return -1;
    int rc = db_step(st, e);
    if (rc == 1)
        *version_id = store_col_str(st, 0, a);
    db_done(st);
    if (rc == 0)
        return err_set(e, ERR_NOT_FOUND, "alias '%s' not found", alias);
    return rc < 0 ? -1 : 0;
}

int store_alias_delete(store_tx *tx, const char *artifact_id, const char *alias, err *e)
{
    STORE_TOUCH(tx);
    int64_t n = db_run(tx->d, "DELETE FROM aliases WHERE artifact_id = ? AND alias = ?", e, "tt",
                       artifact_id, alias);
    if (n < 0)
        return -1;
    if (n == 0)
        return err_set(e, ERR_NOT_FOUND, "alias '%s' not found", alias);
    return 0;
}

int store_artifact_restore(store_artifact *out, store_tx *tx, const char *org_id,
                           const char *kind, const char *name, int64_t since, int64_t now,
                           arena *a, err *e)
{
    STORE_TOUCH(tx);
    db_stmt *st = NULL;
    if (db_query(&st, tx->d,
                 "SELECT id, deleted_at FROM artifacts WHERE org_id = ? AND kind = ?"
                 " AND (name = ? OR id = ?) AND deleted_at >= ? AND deleted_at > 0"
                 " ORDER BY deleted_at DESC LIMIT 1",
                 e, "tttti", org_id, kind, name, name, since) < 0)
        return -1;
    int rc = db_step(st, e);
    char *id = rc == 1 ? store_col_str(st, 0, a) : NULL;
    int64_t when = rc == 1 ? db_col_int(st, 1) : 0;
    db_done(st);
    if (rc < 0)
        return -1;
    if (!id)
        return err_set(e, ERR_NOT_FOUND, "no deleted artifact '%s' inside the retention window",
                       name);
    if (db_run(tx->d, "UPDATE versions SET deleted_at = 0 WHERE artifact_id = ? AND deleted_at = ?",
               e, "ti", id, when) < 0 ||
        db_run(tx->d, "UPDATE artifacts SET deleted_at = 0, " STORE_BUMP_UPDATED " WHERE id = ?",
               e, "iit", now, now, id) < 0 ||
        db_run(tx->d, "UPDATE artifact_facets SET live = 1 WHERE artifact_id = ?", e, "t", id) < 0)
        return -1;
    if (store_artifact_refresh(tx, id, now, e) < 0)
        return -1;
    return store_artifact_get(out, tx, org_id, kind, id, true, a, e);
}

int store_purge(int64_t *purged, store_tx *tx, int64_t before, err *e)
{
    STORE_TOUCH(tx);
    *purged = 0;
    /* Rows of dead versions outside the catalog tables (optimized configs, jobs). */
    if (store_purge_edge(tx, before, e) < 0)
        return -1;
    /* Children first: resources, packages, aliases of dead versions and of dead artifacts. */
    static const char *const steps[] = {
        "DELETE FROM resources WHERE version_id IN (SELECT v.id FROM versions v JOIN artifacts a"
        " ON a.id = v.artifact_id WHERE (v.deleted_at > 0 AND v.deleted_at < ?1)"
        " OR (a.deleted_at > 0 AND a.deleted_at < ?1))",
        "DELETE FROM packages WHERE version_id IN (SELECT v.id FROM versions v JOIN artifacts a"
        " ON a.id = v.artifact_id WHERE (v.deleted_at > 0 AND v.deleted_at < ?1)"
        " OR (a.deleted_at > 0 AND a.deleted_at < ?1))",
        "DELETE FROM aliases WHERE artifact_id IN (SELECT id FROM artifacts WHERE"
        " deleted_at > 0 AND deleted_at < ?1) OR version_id IN (SELECT id FROM versions WHERE"
        " deleted_at > 0 AND deleted_at < ?1)",
        "DELETE FROM versions WHERE (deleted_at > 0 AND deleted_at < ?1) OR artifact_id IN"
        " (SELECT id FROM artifacts WHERE deleted_at > 0 AND deleted_at < ?1)",
        "DELETE FROM artifact_facets WHERE artifact_id IN (SELECT id FROM artifacts WHERE"
        " deleted_at > 0 AND deleted_at < ?1)",
        "DELETE FROM artifacts WHERE deleted_at > 0 AND deleted_at < ?1",
    };
    /* What OCI pushes left in the purged artifacts' repositories: their bytes become
     * unreferenced, for GC. */
    static const char *const oci[] = {"oci_tags", "oci_manifests", "oci_blobs", "oci_uploads",
                                      "oci_tar_layers"};
    for (size_t i = 0; i < sizeof(oci) / sizeof(oci[0]); i++) {
        const char *sql = i == 0 ? "DELETE FROM oci_tags WHERE artifact_id IN (SELECT id FROM"
                                   " artifacts WHERE deleted_at > 0 AND deleted_at < ?1)"
                        : i == 1 ? "DELETE FROM oci_manifests WHERE artifact_id IN (SELECT id"
                                   " FROM artifacts WHERE deleted_at > 0 AND deleted_at < ?1)"
                        : i == 2 ? "DELETE FROM oci_blobs WHERE artifact_id IN (SELECT id FROM"
                                   " artifacts WHERE deleted_at > 0 AND deleted_at < ?1)"
                        : i == 3 ? "DELETE FROM oci_uploads WHERE artifact_id IN (SELECT id"
                                   " FROM artifacts WHERE deleted_at > 0 AND deleted_at < ?1)"
                                 : "DELETE FROM oci_tar_layers WHERE artifact_id IN (SELECT id"
                                   " FROM artifacts WHERE deleted_at > 0 AND deleted_at < ?1)";
        if (db_run(tx->d, sql, e, "i", before) < 0)
            return -1;
    }
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        if (i == 5 && store_fts_purge(tx->d, before, e) < 0)
            return -1; /* before the artifacts it indexes go */
        int64_t n = db_run(tx->d, steps[i], e, "i", before);
        if (n < 0)
            return -1;
        if (i >= 3 && i != 4)
            *purged += n;
    }
    return 0;
}

int store_versions_created_since(int64_t *out, store_tx *tx, const char *org_id, int64_t since,
                                 err *e)
{
    db_stmt *st = NULL;
    if (db_query(&st, tx->d,
                 "SELECT COUNT(*) FROM versions v JOIN artifacts a ON a.id = v.artifact_id"
                 " WHERE a.org_id = ? AND v.created_at >= ?",
                 e, "ti", org_id, since) < 0)
        return -1;
    int rc = db_step(st, e);
    *out = rc == 1 ? db_col_int(st, 0) : 0;
    db_done(st);
    return rc < 0 ? -1 : 0;
}

int store_refresh_views(const char **names, size_t cap, size_t *nnames, int64_t *rows,
                        store_tx *tx, err *e)
{
    STORE_TOUCH(tx);
    enum { PAGE = 500 };
    char *after = strdup("");
    int64_t done = 0;
    int rc = -1;
    for (;;) {
        /* A page at a time by id, so memory stays bounded whatever the catalog's size. */
        arena *a = arena_create();
        store_artifact *items = arena_array(a, store_artifact, PAGE);
        size_t n = 0;
        db_stmt *st = NULL;
        int r = -1;
        if (db_query(&st, tx->d,
                     "SELECT " STORE_ART_COLS " FROM artifacts a JOIN orgs o ON o.id = a.org_id"
                     " WHERE a.id > ? ORDER BY a.id LIMIT ?",
                     e, "ti", after, (int64_t)PAGE) == 0) {
            while ((r = db_step(st, e)) == 1 && n < PAGE)
                store_art_read(&items[n++], st, a);
            db_done(st);
        }
        for (size_t i = 0; r >= 0 && i < n; i++)
            if (facets_refresh(tx->d, &items[i], false, e) < 0)
                r = -1;
        /* Into the change feed, so every instance's in-memory indexes re-read them too. */
        if (r >= 0 && n > 0 &&
            db_write(tx->d,
                     DB_NO_UNIQUE "UPDATE artifacts SET " STORE_CHANGE_REV
                                  " WHERE id > ? AND id <= ?",
                     e, "tt", after, items[n - 1].id) < 0)
            r = -1;
        if (r >= 0 && n > 0) {
            free(after);
            after = strdup(items[n - 1].id);
        }
        arena_free(a);
        if (r < 0 || !after)
            goto out;
        done += (int64_t)n;
        if (n < PAGE)
            break;
    }
    *rows = done;
    *nnames = 0;
    static const char *const views[] = {"artifact_facets", "artifact_search"};
    for (size_t i = 0; i < 2 && i < cap; i++)
        names[(*nnames)++] = views[i];
    rc = 0;
out:
    free(after);
    return rc;
}
