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

static int facet_add(db *d, const store_artifact *m, const char *facet, const char *value,
                     err *e)
{
    if (!value || !*value)
        return 0;
    return db_run(d,
                  "INSERT INTO artifact_facets (artifact_id, facet, value, org_id, kind, live,"
                  " public) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                  e, "tttttbb", m->id, facet, value, m->org_id, m->kind, (int)(m->deleted_at == 0),
                  (int)(m->is_public && m->enabled)) < 0
               ? -1
               : 0;
}

static int facet_add_list(db *d, const store_artifact *m, const char *facet, const char *json,
                          err *e)
{
    json_t *arr = json ? json_loads(json, 0, NULL) : NULL;
    int rc = 0;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v) && facet_add(d, m, facet, json_string_value(v), e) < 0) {
            rc = -1;
            break;
        }
    }
    json_decref(arr);
    return rc;
}

/* Facet rows mirror the filterable fields so facet counts are GROUP BY over an index. */
static int facets_refresh(db *d, const store_artifact *m, err *e)
{
    if (db_run(d, "DELETE FROM artifact_facets WHERE artifact_id = ?", e, "t", m->id) < 0)
        return -1;
    if (facet_add_list(d, m, "tags", m->tags, e) < 0 ||
        facet_add_list(d, m, "task_categories", m->task_categories, e) < 0 ||
        facet_add_list(d, m, "language", m->language, e) < 0 ||
        facet_add(d, m, "license", m->license, e) < 0 ||
        facet_add(d, m, "framework", m->framework, e) < 0 ||
        facet_add(d, m, "size_category", m->size_category, e) < 0)
        return -1;
    /* Relation id sets: one facet row per id, the facet named after its list. */
    json_t *rel = m->relations ? json_loads(m->relations, 0, NULL) : NULL;
    for (int i = STORE_FACETS; i < STORE_FILTERS; i++) {
        json_t *ids = json_object_get(rel, store_facet_names[i]);
        size_t k;
        json_t *v;
        json_array_foreach(ids, k, v)
        {
            if (json_is_string(v) && facet_add(d, m, store_facet_names[i], json_string_value(v),
                                               e) < 0) {
                json_decref(rel);
                return -1;
            }
        }
    }
    json_decref(rel);
    return store_fts_refresh(d, m, e);
}

static const char *or_json(const char *v, const char *dflt)
{
    return v ? v : dflt;
}

int store_artifact_insert(store_tx *tx, const store_artifact *m, err *e)
{
    STORE_TOUCH(tx);
    if (db_run(tx->d,
               "INSERT INTO artifacts (id, org_id, kind, name, pretty_name, summary, description,"
               " license, task, architecture, base_model, framework, framework_set,"
               " size_category, tags, language, task_categories, keywords, components, origin,"
               " attributes, is_public, enabled, revision, created_at, updated_at, relations,"
               " change_rev)"
               " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1,"
               " ?, ?, ?, (SELECT rev + 1 FROM catalog_revision WHERE id = 1))",
               e, "ttttttttttttbttttttttbbiit", m->id, m->org_id, m->kind, m->name,
               m->pretty_name, m->summary, m->description, m->license, m->task,
               m->architecture, m->base_model, m->framework, (int)m->framework_set,
               m->size_category, or_json(m->tags, "[]"), or_json(m->language, "[]"),
               or_json(m->task_categories, "[]"), or_json(m->keywords, "[]"),
               or_json(m->components, "[]"), or_json(m->origin, "{}"),
               or_json(m->attributes, "{}"), (int)m->is_public, (int)m->enabled, m->created_at,
               m->updated_at, or_json(m->relations, "{}")) < 0) {
        if (e->kind == ERR_EXISTS)
            err_set(e, ERR_EXISTS, "%s '%s/%s' already exists",
                    strcmp(m->kind, "models") == 0 ? "model" : "capability", m->org_slug,
                    m->name);
        return -1;
    }
    return facets_refresh(tx->d, m, e);
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
    return facets_refresh(tx->d, m, e);
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

int store_artifact_refresh(store_tx *tx, const char *artifact_id, int64_t now, err *e)
{
    STORE_TOUCH(tx);
    db_stmt *st = NULL;
    char *latest = NULL, *latest_id = NULL;
    int64_t count = 0;
    json_t *aliases = json_array();
    char *aliases_text = NULL;
    int rc = -1, r;
    arena *a = arena_create();

    if (db_query(&st, tx->d,
                 "SELECT id, version FROM versions WHERE artifact_id = ? AND deleted_at = 0"
                 " AND lifecycle = 'published' ORDER BY sort_key DESC LIMIT 1",
                 e, "t", artifact_id) < 0)
        goto out;
    if ((r = db_step(st, e)) < 0)
        goto out;
    if (r == 1) {
        latest_id = store_col_str(st, 0, a);
        latest = store_col_str(st, 1, a);
    }
    db_done(st);
    st = NULL;
    if (db_query(&st, tx->d,
                 "SELECT COUNT(*) FROM versions WHERE artifact_id = ? AND deleted_at = 0"
                 " AND lifecycle <> 'draft'",
                 e, "t", artifact_id) < 0 ||
        db_step(st, e) < 0)
        goto out;
    count = db_col_int(st, 0);
    db_done(st);
    st = NULL;
    if (db_query(&st, tx->d, "SELECT alias FROM aliases WHERE artifact_id = ? ORDER BY alias", e,
                 "t", artifact_id) < 0)
        goto out;
    while ((r = db_step(st, e)) == 1)
        json_array_append_new(aliases, json_string(db_col_text(st, 0)));
    if (r < 0)
        goto out;
    db_done(st);
    st = NULL;
    aliases_text = json_dumps(aliases, JSON_COMPACT);
    if (db_run(tx->d,
               "UPDATE artifacts SET latest_version = ?, latest_version_id = ?,"
               " version_count = ?, aliases = ?, " STORE_BUMP_UPDATED " WHERE id = ?",
               e, "ttitiit", latest, latest_id, count, aliases_text ? aliases_text : "[]", now,
               now, artifact_id) < 0)
        goto out;
    rc = 0;
out:
    db_done(st);
    free(aliases_text);
    json_decref(aliases);
    arena_free(a);
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
            if (facets_refresh(tx->d, &items[i], e) < 0)
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
