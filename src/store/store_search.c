/*
 * store_search.c: list, full-text search and disjunctive facet counts over artifacts.
 * SQL is built at run time from the active filters. The full-text parts differ by dialect
 * and are kept to the functions marked "dialect" below: SQLite uses an FTS5 table with bm25,
 * PostgreSQL a weighted tsvector column on artifacts with a GIN index and ts_rank. Both index
 * the same words: every run of letters and digits, so "llama-3.gguf" is "llama 3 gguf".
 */
#include "store/store.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

const char *const store_facet_names[STORE_FILTERS] = {
    "tags", "license", "task_categories", "framework", "size_category",
    "provider_ids", "department_ids", "agent_ids", "modality_ids", "pricing_ids",
    "quality_ids", "reasoning_level_ids", "temperature_level_ids", "value_ids", "voice_ids",
    "flag_ids"};

#define MAX_ARGS 256

typedef struct q {
    arena *a;
    bool pg; /* PostgreSQL dialect */
    char *sql;
    size_t len, cap;
    db_arg args[MAX_ARGS];
    size_t nargs;
} q;

static void q_add(q *b, const char *s)
{
    size_t n = strlen(s);
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *bigger = arena_alloc(b->a, cap);
        if (b->len)
            memcpy(bigger, b->sql, b->len);
        b->sql = bigger;
        b->cap = cap;
    }
    memcpy(b->sql + b->len, s, n + 1);
    b->len += n;
}

static void q_t(q *b, const char *v)
{
    if (b->nargs < MAX_ARGS)
        b->args[b->nargs++] = (db_arg){'t', v, 0};
}

static void q_i(q *b, int64_t v)
{
    if (b->nargs < MAX_ARGS)
        b->args[b->nargs++] = (db_arg){'i', NULL, v};
}

static bool is_pg(const db *d)
{
    return strcmp(db_driver(d), "postgres") == 0;
}

static bool word_byte(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           ch >= 0x80;
}

/* Dialect: turns free text into a query of prefix-matched words, all required, or NULL if no
 * word: FTS5 `"w1"* "w2"*`, or tsquery `w1:* & w2:*`. */
static const char *fts_query_of(const char *text, arena *a, bool pg)
{
    size_t n = strlen(text);
    char *out = arena_alloc(a, n * 4 + 64);
    size_t o = 0;
    int words = 0;
    for (size_t i = 0; i < n && words < 16;) {
        if (!word_byte((unsigned char)text[i])) {
            i++;
            continue;
        }
        if (words++) {
            if (pg) {
                memcpy(out + o, " & ", 3);
                o += 3;
            } else {
                out[o++] = ' ';
            }
        }
        if (!pg)
            out[o++] = '"';
        while (i < n && word_byte((unsigned char)text[i]))
            out[o++] = text[i++];
        if (pg) {
            memcpy(out + o, ":*", 2);
            o += 2;
        } else {
            out[o++] = '"';
            out[o++] = '*';
        }
    }
    out[o] = '\0';
    return words ? out : NULL;
}

/* FROM clause, with the dialect's full-text join when there is a search. */
static void q_from(q *b, const store_filter *f, const char **match)
{
    *match = f->search ? fts_query_of(f->search, b->a, b->pg) : NULL;
    if (*match && b->pg) {
        q_add(b, " FROM (SELECT id AS rid, seq, -ts_rank(fts, to_tsquery('simple', ?)) AS"
                 " score FROM artifacts WHERE fts @@ to_tsquery('simple', ?)) s JOIN artifacts a"
                 " ON a.id = s.rid JOIN orgs o ON o.id = a.org_id");
        q_t(b, *match);
        q_t(b, *match);
    } else if (*match) {
        /* CROSS JOIN keeps the full-text match the outer loop (SQLite would otherwise run it
         * once per artifact row). */
        q_add(b, " FROM (SELECT rowid AS rid, bm25(artifacts_fts) AS score FROM artifacts_fts"
                 " WHERE artifacts_fts MATCH ?) s CROSS JOIN artifacts a ON a.rowid = s.rid"
                 " JOIN orgs o ON o.id = a.org_id");
        q_t(b, *match);
    } else {
        q_add(b, " FROM artifacts a JOIN orgs o ON o.id = a.org_id");
    }
}

/* WHERE clause: scope, kind, liveness, and every facet filter except `skip` (-1: none). */
static void q_where(q *b, const store_filter *f, int skip)
{
    q_add(b, " WHERE a.kind = ? AND a.deleted_at = 0");
    q_t(b, f->kind);
    if (f->search && !fts_query_of(f->search, b->a, b->pg))
        q_add(b, " AND 1 = 0"); /* a search with no word in it matches nothing */
    if (!f->org_id) {
        q_add(b, " AND a.is_public = 1 AND a.enabled = 1");
    } else if (f->include_public) {
        q_add(b, " AND (a.org_id = ? OR (a.is_public = 1 AND a.enabled = 1))");
        q_t(b, f->org_id);
    } else {
        q_add(b, " AND a.org_id = ?");
        q_t(b, f->org_id);
    }
    for (int i = 0; i < STORE_FILTERS; i++) {
        if (i == skip || f->nvalues[i] == 0)
            continue;
        q_add(b, " AND a.id IN (SELECT artifact_id FROM artifact_facets WHERE facet = ?"
                 " AND value IN (");
        q_t(b, store_facet_names[i]);
        for (size_t k = 0; k < f->nvalues[i]; k++) {
            q_add(b, k ? ", ?" : "?");
            q_t(b, f->values[i][k]);
        }
        q_add(b, "))");
    }
}

static int count_of(int64_t *out, store_tx *tx, q *b, err *e)
{
    db_stmt *st = NULL;
    if (db_query_v(&st, tx->d, b->sql, e, b->args, b->nargs) < 0)
        return -1;
    int rc = db_step(st, e);
    *out = rc == 1 ? db_col_int(st, 0) : 0;
    db_done(st);
    return rc < 0 ? -1 : 0;
}

const char *store_sort_key_of(const store_artifact *m, store_sort sort, arena *ar)
{
    switch (sort) {
    case STORE_SORT_NAME: return m->name;
    case STORE_SORT_DOWNLOADS: return arena_printf(ar, "%lld", (long long)m->download_count);
    case STORE_SORT_CREATED: return arena_printf(ar, "%lld", (long long)m->created_at);
    case STORE_SORT_UPDATED:
    case STORE_SORT_RELEVANCE: break;
    }
    return arena_printf(ar, "%lld", (long long)m->updated_at);
}

static int search(store_artifact **out, size_t *n, int64_t *total, store_tx *tx,
                  const store_filter *f, store_sort sort, const char *after_key,
                  const char *after_id, int64_t offset, int limit, arena *a, err *e)
{
    const char *match;
    if (total) {
        q cnt = {.a = a, .pg = is_pg(tx->d)};
        q_add(&cnt, "SELECT COUNT(*)");
        q_from(&cnt, f, &match);
        q_where(&cnt, f, -1);
        if (count_of(total, tx, &cnt, e) < 0)
            return -1;
    }

    if (sort == STORE_SORT_RELEVANCE && !match)
        sort = STORE_SORT_UPDATED;
    q b = {.a = a, .pg = is_pg(tx->d)};
    q_add(&b, "SELECT " STORE_ART_COLS);
    q_from(&b, f, &match);
    q_where(&b, f, -1);
    static const char *const col[] = {"a.updated_at", "a.name", "a.download_count",
                                      "a.created_at", NULL};
    if (after_id && sort == STORE_SORT_RELEVANCE) {
        offset += strtoll(after_key, NULL, 10);
    } else if (after_id && sort == STORE_SORT_NAME) {
        q_add(&b, " AND (a.name > ? OR (a.name = ? AND a.id > ?))");
        q_t(&b, after_key);
        q_t(&b, after_key);
        q_t(&b, after_id);
    } else if (after_id) {
        int64_t k = strtoll(after_key, NULL, 10);
        char buf[160];
        snprintf(buf, sizeof(buf), " AND (%s < ? OR (%s = ? AND a.id < ?))", col[sort],
                 col[sort]);
        q_add(&b, buf);
        q_i(&b, k);
        q_i(&b, k);
        q_t(&b, after_id);
    }
    switch (sort) {
    case STORE_SORT_NAME: q_add(&b, " ORDER BY a.name ASC, a.id ASC"); break;
    case STORE_SORT_RELEVANCE:
        /* Ties in insertion order: SQLite's rowid, PostgreSQL's seq (the hit order of
         * store_fts_hits and store_fts_scan, which the facet index path keeps). */
        q_add(&b, b.pg ? " ORDER BY s.score ASC, s.seq ASC" : " ORDER BY s.score ASC, s.rid ASC");
        break;
    default: {
        char buf[96];
        snprintf(buf, sizeof(buf), " ORDER BY %s DESC, a.id DESC", col[sort]);
        q_add(&b, buf);
    }
    }
    q_add(&b, " LIMIT ? OFFSET ?");
    q_i(&b, limit);
    q_i(&b, offset);

    db_stmt *st = NULL;
    if (db_query_v(&st, tx->d, b.sql, e, b.args, b.nargs) < 0)
        return -1;
    store_artifact *items = arena_array(a, store_artifact, (size_t)limit);
    size_t k = 0;
    int rc;
    while ((rc = db_step(st, e)) == 1 && k < (size_t)limit)
        store_art_read(&items[k++], st, a);
    db_done(st);
    *out = items;
    *n = k;
    return rc < 0 ? -1 : 0;
}

int store_artifact_search(store_artifact **out, size_t *n, int64_t *total, store_tx *tx,
                          const store_filter *f, store_sort sort, const char *after_key,
                          const char *after_id, int limit, arena *a, err *e)
{
    return search(out, n, total, tx, f, sort, after_key, after_id, 0, limit, a, e);
}

int store_artifact_search_offset(store_artifact **out, size_t *n, int64_t *total, store_tx *tx,
                                 const store_filter *f, store_sort sort, int64_t offset,
                                 int limit, arena *a, err *e)
{
    return search(out, n, total, tx, f, sort, NULL, NULL, offset, limit, a, e);
}

/* Returns a LIKE pattern matching values that contain s, lower-cased, with %, _ and the
 * backslash escaped by a backslash (ESCAPE). */
static const char *contains_pattern(const char *s, arena *a)
{
    size_t n = strlen(s);
    char *out = arena_alloc(a, n * 2 + 3);
    size_t o = 0;
    out[o++] = '%';
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '%' || ch == '_' || ch == '\\')
            out[o++] = '\\';
        out[o++] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
    }
    out[o++] = '%';
    out[o] = '\0';
    return out;
}

int store_facets(store_facet_count *out[STORE_FILTERS], size_t nout[STORE_FILTERS],
                 int64_t *total, int64_t *filtered, store_tx *tx, const store_filter *f,
                 arena *a, err *e)
{
    const char *match;
    store_filter scope = {.org_id = f->org_id, .kind = f->kind,
                          .include_public = f->include_public};
    q t = {.a = a, .pg = is_pg(tx->d)};
    q_add(&t, "SELECT COUNT(*)");
    q_from(&t, &scope, &match);
    q_where(&t, &scope, -1);
    if (count_of(total, tx, &t, e) < 0)
        return -1;
    q fl = {.a = a, .pg = is_pg(tx->d)};
    q_add(&fl, "SELECT COUNT(*)");
    q_from(&fl, f, &match);
    q_where(&fl, f, -1);
    if (count_of(filtered, tx, &fl, e) < 0)
        return -1;
    uint32_t mask = f->count_mask ? f->count_mask : (1u << STORE_FACETS) - 1;
    for (int i = 0; i < STORE_FILTERS; i++) {
        out[i] = NULL;
        nout[i] = 0;
        if (!(mask & (1u << i)))
            continue;
        /* Index-only: facet rows carry org, kind, liveness and public scope (migration 5). */
        q b = {.a = a, .pg = is_pg(tx->d)};
        q_add(&b, "SELECT fv.value, COUNT(*) AS n FROM artifact_facets fv WHERE fv.kind = ?"
                  " AND fv.facet = ? AND fv.live = 1");
        q_t(&b, f->kind);
        q_t(&b, store_facet_names[i]);
        if (!f->org_id) {
            q_add(&b, " AND fv.public = 1");
        } else if (f->include_public) {
            q_add(&b, " AND (fv.org_id = ? OR fv.public = 1)");
            q_t(&b, f->org_id);
        } else {
            q_add(&b, " AND fv.org_id = ?");
            q_t(&b, f->org_id);
        }
        if (f->value_search[i] && *f->value_search[i]) {
            q_add(&b, " AND LOWER(fv.value) LIKE ? ESCAPE '\\'");
            q_t(&b, contains_pattern(f->value_search[i], a));
        }
        for (int k = 0; k < STORE_FILTERS; k++) {
            if (k == i || f->nvalues[k] == 0)
                continue;
            q_add(&b, " AND fv.artifact_id IN (SELECT artifact_id FROM artifact_facets WHERE"
                      " facet = ? AND live = 1 AND value IN (");
            q_t(&b, store_facet_names[k]);
            for (size_t v = 0; v < f->nvalues[k]; v++) {
                q_add(&b, v ? ", ?" : "?");
                q_t(&b, f->values[k][v]);
            }
            q_add(&b, "))");
        }
        if (f->search) {
            const char *mq = fts_query_of(f->search, a, b.pg);
            if (!mq) {
                q_add(&b, " AND 1 = 0");
            } else if (b.pg) {
                q_add(&b, " AND fv.artifact_id IN (SELECT id FROM artifacts WHERE"
                          " fts @@ to_tsquery('simple', ?))");
                q_t(&b, mq);
            } else {
                q_add(&b, " AND fv.artifact_id IN (SELECT a.id FROM artifacts_fts s CROSS JOIN"
                          " artifacts a ON a.rowid = s.rowid WHERE artifacts_fts MATCH ?)");
                q_t(&b, mq);
            }
        }
        q_add(&b, " GROUP BY fv.value ORDER BY n DESC, fv.value ASC LIMIT 200");
        db_stmt *st = NULL;
        if (db_query_v(&st, tx->d, b.sql, e, b.args, b.nargs) < 0)
            return -1;
        out[i] = arena_array(a, store_facet_count, 200);
        nout[i] = 0;
        int rc;
        while ((rc = db_step(st, e)) == 1 && nout[i] < 200) {
            out[i][nout[i]].value = store_col_str(st, 0, a);
            out[i][nout[i]].count = db_col_int(st, 1);
            nout[i]++;
        }
        db_done(st);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Copies s into the arena with every byte that is not a word byte turned into a space, so both
 * dialects' tokenizers see the same words. */
static const char *words_of(const char *s, arena *a)
{
    if (!s)
        return "";
    char *out = arena_strdup(a, s);
    for (char *p = out; *p; p++)
        if (!word_byte((unsigned char)*p))
            *p = ' ';
    return out;
}

/* The tags of a JSON list joined by spaces, for the full-text entry. */
static void tag_words(char *tags, size_t cap, const char *json)
{
    json_t *arr = json ? json_loads(json, 0, NULL) : NULL;
    size_t i, used = 0;
    json_t *v;
    tags[0] = '\0';
    json_array_foreach(arr, i, v)
    {
        int w = snprintf(tags + used, cap - used, "%s%s", used ? " " : "",
                         json_string_value(v) ? json_string_value(v) : "");
        if (w < 0 || (size_t)w >= cap - used)
            break;
        used += (size_t)w;
    }
    json_decref(arr);
}

void store_fts_texts(const char *out[4], const store_artifact *m, arena *a)
{
    char tags[4096];
    tag_words(tags, sizeof(tags), m->tags);
    out[0] = words_of(m->name, a);
    out[1] = words_of(m->pretty_name, a);
    out[2] = arena_printf(a, "%s %s", words_of(m->summary, a), words_of(tags, a));
    out[3] = words_of(m->description, a);
}

/* Dialect: keeps the artifact's full-text entry current: SQLite's FTS5 row (rowid = the
 * artifact's rowid), or PostgreSQL's weighted tsvector (STORE_FTS_VALUE). A deleted artifact
 * has none. */
int store_fts_refresh(db *d, const store_artifact *m, err *e)
{
    char tags[4096];
    tag_words(tags, sizeof(tags), m->tags);
    if (is_pg(d)) {
        if (m->deleted_at)
            return db_write(d, DB_NO_UNIQUE "UPDATE artifacts SET fts = NULL WHERE id = ?", e,
                            "t", m->id);
        arena *a = arena_create();
        const char *t[4];
        store_fts_texts(t, m, a);
        int rc = db_write(d, DB_NO_UNIQUE "UPDATE artifacts SET fts = " STORE_FTS_VALUE
                             " WHERE id = ?",
                          e, "ttttt", t[0], t[1], t[2], t[3], m->id);
        arena_free(a);
        return rc < 0 ? -1 : 0;
    }
    db_stmt *st = NULL;
    if (db_query(&st, d, "SELECT rowid FROM artifacts WHERE id = ?", e, "t", m->id) < 0)
        return -1;
    int rc = db_step(st, e);
    int64_t rowid = rc == 1 ? db_col_int(st, 0) : 0;
    db_done(st);
    if (rc != 1)
        return rc < 0 ? -1 : 0;
    if (db_run(d, "DELETE FROM artifacts_fts WHERE rowid = ?", e, "i", rowid) < 0)
        return -1;
    if (m->deleted_at)
        return 0;
    return db_run(d,
                  "INSERT INTO artifacts_fts (rowid, name, pretty_name, summary, tags,"
                  " description) VALUES (?, ?, ?, ?, ?, ?)",
                  e, "itttt" "t", rowid, m->name, m->pretty_name,
                  m->summary, tags, m->description) < 0
               ? -1
               : 0;
}

/* Dialect: drops the full-text rows of artifacts deleted before `before` (PostgreSQL's live
 * in the artifact row and go with it). */
int store_fts_purge(db *d, int64_t before, err *e)
{
    if (is_pg(d))
        return 0;
    return db_run(d,
                  "DELETE FROM artifacts_fts WHERE rowid IN (SELECT rowid FROM artifacts WHERE"
                  " deleted_at > 0 AND deleted_at < ?)",
                  e, "i", before) < 0
               ? -1
               : 0;
}

int store_manifest_walk(store_tx *tx, int64_t since, const store_manifest_cb *cb, void *ctx,
                        arena *a, err *e)
{
    static const char *const pub =
        " a.kind = 'models' AND a.is_public = 1 AND a.enabled = 1 AND a.deleted_at = 0"
        " AND a.version_count > 0 AND a.change_rev > ?";
    /* Dialect: for a catch-up, SQLite must be told to drive the scan from the change_rev
     * index (its planner, without statistics, prefers artifacts_public: 50,000 rows instead
     * of the few that changed); PostgreSQL's planner picks it from its statistics. */
    const char *arts = since >= 0 && !is_pg(tx->d) ? "artifacts a INDEXED BY artifacts_change"
                                                   : "artifacts a";
    db_stmt *st = NULL;
    int rc;
    if (since >= 0 && cb->changed) {
        if (db_query(&st, tx->d, "SELECT id FROM artifacts WHERE change_rev > ?", e, "i",
                     since) < 0)
            return -1;
        while ((rc = db_step(st, e)) == 1)
            if (cb->changed(ctx, db_col_text(st, 0)) != 0)
                break;
        db_done(st);
        if (rc < 0)
            return -1;
    }
    char *sql = arena_printf(a,
                             "SELECT " STORE_ART_COLS " FROM %s JOIN orgs o ON"
                             " o.id = a.org_id WHERE%s ORDER BY o.slug, a.name",
                             arts, pub);
    if (db_query(&st, tx->d, sql, e, "i", since) < 0)
        return -1;
    while ((rc = db_step(st, e)) == 1) {
        store_artifact m;
        store_art_read(&m, st, a);
        if (cb->model(ctx, &m) != 0)
            break;
    }
    db_done(st);
    if (rc < 0)
        return -1;
    sql = arena_printf(a,
                       "SELECT v.artifact_id, v.version, v.lifecycle FROM versions v JOIN"
                       " %s ON a.id = v.artifact_id WHERE%s AND v.deleted_at = 0 AND"
                       " v.lifecycle <> 'draft' ORDER BY v.artifact_id, v.sort_key DESC",
                       arts, pub);
    if (db_query(&st, tx->d, sql, e, "i", since) < 0)
        return -1;
    while ((rc = db_step(st, e)) == 1)
        if (cb->version(ctx, db_col_text(st, 0), db_col_text(st, 1), db_col_text(st, 2)) != 0)
            break;
    db_done(st);
    if (rc < 0)
        return -1;
    sql = arena_printf(a,
                       "SELECT a.id, p.id, p.format, r.path, r.sha256, r.size_bytes FROM"
                       " %s JOIN packages p ON p.version_id = a.latest_version_id"
                       " JOIN resources r ON r.package_id = p.id WHERE%s AND p.deleted_at = 0"
                       " AND r.deleted_at = 0 ORDER BY a.id, p.created_at, p.id, r.path",
                       arts, pub);
    if (db_query(&st, tx->d, sql, e, "i", since) < 0)
        return -1;
    while ((rc = db_step(st, e)) == 1)
        if (cb->resource(ctx, db_col_text(st, 0), db_col_text(st, 1), db_col_text(st, 2),
                         db_col_text(st, 3), db_col_text(st, 4), db_col_int(st, 5)) != 0)
            break;
    db_done(st);
    return rc < 0 ? -1 : 0;
}

/* The facets the in-memory index holds (store_facet_names[0..STORE_FACETS)). */
#define INDEX_FACETS "'tags', 'license', 'task_categories', 'framework', 'size_category'"

int store_changes(store *s, int64_t since, int64_t *rev,
                  int (*cb)(void *ctx, const store_change *c), void *ctx, err *e)
{
    enum { MAXF = 512 };
    store_tx *tx = NULL;
    db *d = NULL;
    db_stmt *st = NULL;
    int rc = -1;
    arena *a = arena_create();
    const char **facets = arena_array(a, const char *, MAXF);
    const char **values = arena_array(a, const char *, MAXF);
    if (store_conn_take(&d, s, e) < 0)
        goto out;
    bool pg = is_pg(d);
    if (pg) {
        /* One statement, so one snapshot and one round trip (a transaction would cost four):
         * the revision rides on every row, and on a single row of NULLs when nothing
         * changed. The key is seq (store_fts_scan). */
        if (db_query(&st, d,
                     "SELECT a.id, a.org_id, a.kind, a.deleted_at, a.is_public, a.enabled,"
                     " f.facet, f.value, a.seq, r.rev FROM catalog_revision r LEFT JOIN"
                     " (artifacts a LEFT JOIN artifact_facets f ON f.artifact_id = a.id AND"
                     " f.facet IN (" INDEX_FACETS ")) ON a.change_rev > ? WHERE r.id = 1"
                     " ORDER BY a.change_rev, a.id",
                     e, "i", since) < 0)
            goto out;
    } else {
        store_conn_give(s, d);
        d = NULL;
        if (store_tx_begin(&tx, s, false, e) < 0)
            goto out;
        if (db_query(&st, tx->d, "SELECT rev FROM catalog_revision WHERE id = 1", e, "") < 0 ||
            db_step(st, e) != 1)
            goto out;
        *rev = db_col_int(st, 0);
        db_done(st);
        st = NULL;
        /* The key is the rowid, also the artifact's full-text row (store_fts_hits). */
        if (db_query(&st, tx->d,
                     "SELECT a.id, a.org_id, a.kind, a.deleted_at, a.is_public, a.enabled,"
                     " f.facet, f.value, a.rowid FROM artifacts a LEFT JOIN artifact_facets f"
                     " ON f.artifact_id = a.id AND f.facet IN (" INDEX_FACETS ")"
                     " WHERE a.change_rev > ?"
                     /* by change_rev first, so the artifacts_change index drives the scan (by
                      * id alone SQLite walks the whole table); one artifact, one change_rev */
                     " ORDER BY a.change_rev, a.id",
                     e, "i", since) < 0)
            goto out;
    }
    bool first = true;
    store_change cur = {0};
    char *cur_id = NULL;
    int step;
    for (;;) {
        step = db_step(st, e);
        if (step < 0)
            goto out;
        if (pg && first) {
            if (step != 1) {
                err_set(e, ERR_SERVER, "catalog revision missing");
                goto out;
            }
            *rev = db_col_int(st, 9);
        }
        first = false;
        const char *id = step == 1 ? db_col_text(st, 0) : NULL;
        if (cur_id && (!id || strcmp(id, cur_id) != 0)) {
            cur.facets = facets;
            cur.values = values;
            if (cb(ctx, &cur) != 0)
                break;
            arena_free(a); /* per-artifact strings; the pair arrays are made anew */
            a = arena_create();
            facets = arena_array(a, const char *, MAXF);
            values = arena_array(a, const char *, MAXF);
            cur_id = NULL;
        }
        if (!id)
            break;
        if (!cur_id) {
            cur_id = arena_strdup(a, id);
            cur = (store_change){.id = cur_id,
                                 .org_id = store_col_str(st, 1, a),
                                 .kind = store_col_str(st, 2, a),
                                 .live = db_col_int(st, 3) == 0,
                                 .visible = db_col_int(st, 4) != 0 && db_col_int(st, 5) != 0,
                                 .rowid = db_col_int(st, 8)};
        }
        if (db_col_text(st, 6) && cur.nfacets < MAXF) {
            facets[cur.nfacets] = store_col_str(st, 6, a);
            values[cur.nfacets] = store_col_str(st, 7, a);
            cur.nfacets++;
        }
    }
    rc = 0;
out:
    db_done(st);
    if (d)
        store_conn_give(s, d);
    if (store_tx_end(tx, false, e) < 0)
        rc = -1;
    arena_free(a);
    return rc;
}

int store_fts_hits(store_fts_hit **out, size_t *n, bool *supported, store_tx *tx,
                   const char *search, arena *a, err *e)
{
    *out = NULL;
    *n = 0;
    *supported = !is_pg(tx->d);
    if (!*supported)
        return 0;
    const char *match = fts_query_of(search, a, false);
    if (!match)
        return 0;
    db_stmt *st = NULL;
    if (db_query(&st, tx->d,
                 "SELECT rowid, bm25(artifacts_fts) FROM artifacts_fts WHERE artifacts_fts"
                 " MATCH ?",
                 e, "t", match) < 0)
        return -1;
    size_t cap = 256;
    store_fts_hit *hits = arena_array(a, store_fts_hit, cap);
    int rc;
    while ((rc = db_step(st, e)) == 1) {
        if (*n == cap)
            hits = store_grow(hits, &cap, sizeof(*hits), a);
        hits[*n].rowid = db_col_int(st, 0);
        hits[*n].score = db_col_double(st, 1);
        hits[*n].match = true;
        (*n)++;
    }
    db_done(st);
    *out = hits;
    return rc < 0 ? -1 : 0;
}

int store_artifacts_by_rowid(store_artifact *out, size_t *n, store_tx *tx,
                             const int64_t *rowids, size_t k, arena *a, err *e)
{
    *n = 0;
    if (!k)
        return 0;
    /* Dialect: the integer key is SQLite's rowid, PostgreSQL's seq. */
    q b = {.a = a, .pg = is_pg(tx->d)};
    q_add(&b, b.pg ? "SELECT " STORE_ART_COLS ", a.seq FROM artifacts a JOIN orgs o ON o.id ="
                     " a.org_id WHERE a.seq IN ("
                   : "SELECT " STORE_ART_COLS ", a.rowid FROM artifacts a JOIN orgs o ON o.id ="
                     " a.org_id WHERE a.rowid IN (");
    for (size_t i = 0; i < k && i < MAX_ARGS; i++) {
        q_add(&b, i ? ", ?" : "?");
        q_i(&b, rowids[i]);
    }
    q_add(&b, ")");
    db_stmt *st = NULL;
    if (db_query_v(&st, tx->d, b.sql, e, b.args, b.nargs) < 0)
        return -1;
    int rc;
    while ((rc = db_step(st, e)) == 1) {
        int64_t rowid = db_col_int(st, STORE_ART_NCOLS);
        for (size_t i = 0; i < k; i++) /* in the order asked */
            if (rowids[i] == rowid) {
                store_art_read(&out[i], st, a);
                (*n)++;
                break;
            }
    }
    db_done(st);
    return rc < 0 ? -1 : 0;
}

int store_fts_scan(store_fts_hit **out, size_t *n, int64_t *rev, bool *supported, store_tx *tx,
                   const char *search, int64_t since, arena *a, err *e)
{
    *out = NULL;
    *n = 0;
    *supported = is_pg(tx->d);
    if (!*supported)
        return 0;
    db_stmt *st = NULL;
    const char *match = fts_query_of(search, a, true);
    /* One statement, one round trip: the revision rides on every row (on a row of NULLs when
     * nothing matched or changed), so the hits are exactly those of that revision. With no
     * word the search matches nothing, whatever changes. */
    int rc = !match ? db_query(&st, tx->d,
                               "SELECT rev, NULL, NULL FROM catalog_revision WHERE id = 1", e, "")
             : since < 0
                 ? db_query(&st, tx->d,
                            "SELECT r.rev, a.seq, -ts_rank(a.fts, to_tsquery('simple', ?)) FROM"
                            " catalog_revision r LEFT JOIN artifacts a ON a.fts @@"
                            " to_tsquery('simple', ?) WHERE r.id = 1",
                            e, "tt", match, match)
                 : db_query(&st, tx->d,
                            "SELECT r.rev, a.seq, CASE WHEN a.fts @@ to_tsquery('simple', ?) THEN"
                            " -ts_rank(a.fts, to_tsquery('simple', ?)) END FROM catalog_revision r"
                            " LEFT JOIN artifacts a ON a.change_rev > ? WHERE r.id = 1",
                            e, "tti", match, match, since);
    if (rc < 0)
        return -1;
    size_t cap = 256;
    store_fts_hit *hits = arena_array(a, store_fts_hit, cap);
    bool first = true;
    while ((rc = db_step(st, e)) == 1) {
        if (first)
            *rev = db_col_int(st, 0);
        first = false;
        if (db_col_null(st, 1))
            continue;
        if (*n == cap)
            hits = store_grow(hits, &cap, sizeof(*hits), a);
        hits[*n].rowid = db_col_int(st, 1);
        hits[*n].match = !db_col_null(st, 2);
        hits[*n].score = hits[*n].match ? db_col_double(st, 2) : 0;
        (*n)++;
    }
    db_done(st);
    if (rc == 0 && first)
        return err_set(e, ERR_SERVER, "catalog revision missing");
    *out = hits;
    return rc < 0 ? -1 : 0;
}
