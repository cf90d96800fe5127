/*
 * discovery.c: list and search artifacts, facet counts, and the public catalog
 * (API.md §4 list/facets, §7 catalog).
 */
#include "api/handlers.h"

#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "core/name.h"
#include "index/facet_index.h"
#include "index/search_cache.h"

#define MAX_FACET_VALUES 32

static const struct {
    const char *name;
    store_sort sort;
} sorts[] = {{"-updated_at", STORE_SORT_UPDATED}, {"name", STORE_SORT_NAME},
             {"-downloads", STORE_SORT_DOWNLOADS}, {"-created_at", STORE_SORT_CREATED},
             {"relevance", STORE_SORT_RELEVANCE}};

static bool truthy(const char *v, bool *out)
{
    if (!strcmp(v, "true") || !strcmp(v, "1")) {
        *out = true;
        return true;
    }
    if (!strcmp(v, "false") || !strcmp(v, "0") || !*v) {
        *out = false;
        return true;
    }
    return false;
}

/* Collects facet values from repeated and comma-separated query arguments. */
static int parse_facets(store_filter *f, const api_call *c, err *e)
{
    for (int i = 0; i < STORE_FACETS; i++) {
        const char **vals = arena_array(c->a, const char *, MAX_FACET_VALUES);
        size_t n = 0;
        for (size_t k = 0; k < c->nquery; k++) {
            if (strcmp(c->query[k].key, store_facet_names[i]) != 0)
                continue;
            char *copy = arena_strdup(c->a, c->query[k].value);
            for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok;
                 tok = strtok_r(NULL, ",", &save)) {
                while (*tok == ' ')
                    tok++;
                if (!*tok)
                    continue;
                if (n == MAX_FACET_VALUES || strlen(tok) > 256)
                    return err_field_add(e, "query", store_facet_names[i], "value_error",
                                         "at most %d values of at most 256 bytes",
                                         MAX_FACET_VALUES);
                vals[n++] = tok;
            }
        }
        f->values[i] = vals;
        f->nvalues[i] = n;
    }
    return 0;
}

/* Reads every discovery parameter of the query string into f / sort. */
static int parse_filter(store_filter *f, store_sort *sort, const api_call *c, err *e)
{
    f->kind = api_param(c, "kind");
    const char *s = api_query(c, "search");
    if (s && strlen(s) > 256)
        err_field_add(e, "query", "search", "string_too_long", "at most 256 bytes");
    f->search = s && *s ? s : NULL;
    const char *ip = api_query(c, "include_public");
    if (ip && !truthy(ip, &f->include_public))
        err_field_add(e, "query", "include_public", "bool_parsing",
                      "Input should be a valid boolean");
    const char *so = api_query(c, "sort");
    *sort = f->search ? STORE_SORT_RELEVANCE : STORE_SORT_UPDATED;
    if (!so && f->search)
        *sort = STORE_SORT_RELEVANCE;
    else if (!so)
        *sort = STORE_SORT_UPDATED;
    if (so) {
        size_t i = 0;
        while (i < sizeof(sorts) / sizeof(sorts[0]) && strcmp(sorts[i].name, so) != 0)
            i++;
        if (i == sizeof(sorts) / sizeof(sorts[0]))
            err_field_add(e, "query", "sort", "enum",
                          "Input should be '-updated_at', 'name', '-downloads', '-created_at' "
                          "or 'relevance'");
        else
            *sort = sorts[i].sort;
    }
    if (e->kind == ERR_NONE)
        parse_facets(f, c, e);
    return e->kind == ERR_NONE ? 0 : -1;
}

static int cmp_hit(const void *pa, const void *pb)
{
    const store_fts_hit *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score < b->score ? -1 : 1;
    return a->rowid < b->rowid ? -1 : a->rowid > b->rowid;
}

/* A search by relevance: the matches are read without the catalog join (SQLite: from its
 * full-text rows; PostgreSQL: from the search cache, caught up from the change feed), kept by
 * the facet index's scope and filters, ordered by score (ties by the artifact's integer key,
 * as the SQL path orders them) and only the page's rows are read. Returns 1 when it answered,
 * 0 when the SQL path must (no index, another sort), -1 on error. */
static int relevance_by_index(store_artifact **items, size_t *n, int64_t *total, api_call *c,
                              store_tx *tx, const store_filter *f, store_sort sort,
                              const char *after_key, int want, err *e)
{
    if (!c->app->index || !facet_index_covers(f) || !f->search ||
        sort != STORE_SORT_RELEVANCE || want > 256)
        return 0;
    store_fts_hit *hits;
    size_t nh;
    bool supported, sorted = false;
    if (store_fts_hits(&hits, &nh, &supported, tx, f->search, c->a, e) < 0)
        return -1;
    if (!supported && c->app->search) {
        if (search_cache_hits(&hits, &nh, &supported, c->app->search, tx, f->search,
                              api_known_rev(c), c->a, e) < 0)
            return -1;
        sorted = true; /* already in relevance order; filtering keeps it */
    }
    if (!supported)
        return 0;
    if (facet_index_filter_hits(hits, &nh, c->app->index, c->app->store, f, api_known_rev(c),
                                e) < 0)
        return -1;
    if (nh > 1 && !sorted)
        qsort(hits, nh, sizeof(*hits), cmp_hit);
    *total = (int64_t)nh;
    long long off = after_key ? atoll(after_key) : 0;
    size_t from = off > 0 && (size_t)off < nh ? (size_t)off : (off > 0 ? nh : 0);
    size_t k = nh - from < (size_t)want ? nh - from : (size_t)want;
    int64_t *rowids = arena_array(c->a, int64_t, k ? k : 1);
    for (size_t i = 0; i < k; i++)
        rowids[i] = hits[from + i].rowid;
    store_artifact *rows = arena_array(c->a, store_artifact, k ? k : 1);
    size_t found;
    if (store_artifacts_by_rowid(rows, &found, tx, rowids, k, c->a, e) < 0)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < k; i++) /* a row purged since the index saw it is skipped */
        if (rows[i].id)
            rows[o++] = rows[i];
    *items = rows;
    *n = o;
    return 1;
}

/* Lists with f's scope already set (org or catalog). */
static int list_reply(api_reply *r, api_call *c, store_tx *tx, store_filter *f,
                      bool canonical)
{
    store_sort sort;
    int limit;
    const char *cursor;
    const char *after_key = NULL, *after_id = NULL;
    if (parse_filter(f, &sort, c, &r->e) < 0 || api_limit(&limit, c, &r->e) < 0 ||
        api_cursor_decode(&cursor, c, &r->e) < 0)
        return -1;
    if (cursor) {
        /* "<sort>|<key>|<id>": the page boundary in the order it was made for. */
        char *copy = arena_strdup(c->a, cursor);
        char *k = strchr(copy, '|');
        char *id = k ? strrchr(k + 1, '|') : NULL;
        if (!k || !id)
            return err_field_add(&r->e, "query", "cursor", "value_error", "invalid cursor");
        *k++ = '\0';
        *id++ = '\0';
        if (strtol(copy, NULL, 10) != (long)sort || !uuid_is_valid(id, strlen(id)))
            return err_field_add(&r->e, "query", "cursor", "value_error",
                                 "invalid cursor (or made for another sort)");
        after_key = k;
        after_id = id;
    }
    store_artifact *items;
    size_t n;
    int64_t total;
    int fast = relevance_by_index(&items, &n, &total, c, tx, f, sort, after_key, limit + 1,
                                  &r->e);
    if (fast < 0)
        return -1;
    /* Without a search the facet index counts the matches (a COUNT(*) walks them all). */
    bool by_index = !fast && c->app->index && facet_index_covers(f) && !f->search;
    if (by_index && facet_index_count(&total, c->app->index, c->app->store, f, api_known_rev(c),
                                      &r->e) < 0)
        return -1;
    if (!fast && store_artifact_search(&items, &n, by_index ? NULL : &total, tx, f, sort,
                                       after_key, after_id, limit + 1, c->a, &r->e) < 0)
        return -1;
    json_t *arr = json_array();
    for (size_t i = 0; i < n && i < (size_t)limit; i++)
        json_array_append_new(arr, api_artifact_summary_json(&items[i], canonical));
    json_t *next = json_null();
    if (n > (size_t)limit) {
        const store_artifact *last = &items[limit - 1];
        const char *key = sort == STORE_SORT_RELEVANCE
                              ? arena_printf(c->a, "%lld", (after_key ? atoll(after_key) : 0) +
                                                               (long long)limit)
                              : store_sort_key_of(last, sort, c->a);
        char *raw = arena_printf(c->a, "%d|%s|%s", (int)sort, key, last->id);
        next = json_string(api_cursor_encode(raw, c->a));
    }
    int rc = api_json_etag(r, c, 200,
                           json_pack("{s:o, s:I, s:o}", "items", arr, "total", (json_int_t)total,
                                     "next_cursor", next));
    if (rc == 0)
        api_cache_store(r, c);
    return rc;
}

static int facets_reply(api_reply *r, api_call *c, store_tx *tx, store_filter *f)
{
    store_sort sort;
    if (parse_filter(f, &sort, c, &r->e) < 0)
        return -1;
    store_facet_count *vals[STORE_FILTERS];
    size_t nvals[STORE_FILTERS];
    int64_t total, filtered;
    /* With a search, the index counts over its matches, read as a relevance search reads
     * them (SQLite's full-text rows, PostgreSQL's search cache). */
    store_fts_hit *hits = NULL;
    size_t nh = 0;
    bool by_index = c->app->index && facet_index_covers(f);
    if (by_index && f->search) {
        bool supported;
        if (store_fts_hits(&hits, &nh, &supported, tx, f->search, c->a, &r->e) < 0)
            return -1;
        if (!supported && c->app->search &&
            search_cache_hits(&hits, &nh, &supported, c->app->search, tx, f->search,
                              api_known_rev(c), c->a, &r->e) < 0)
            return -1;
        by_index = supported;
    }
    if (by_index) {
        if (facet_index_facets(vals, nvals, &total, &filtered, c->app->index, c->app->store, f,
                               hits, nh, c->a, api_known_rev(c), &r->e) < 0)
            return -1;
    } else if (store_facets(vals, nvals, &total, &filtered, tx, f, c->a, &r->e) < 0) {
        return -1;
    }
    static const char *const lists[STORE_FACETS] = {"tags", "licenses", "task_categories",
                                                    "frameworks", "size_categories"};
    json_t *body = json_pack("{s:I, s:I}", "total", (json_int_t)total, "filtered_total",
                             (json_int_t)filtered);
    json_t *counts = json_object();
    for (int i = 0; i < STORE_FACETS; i++) {
        json_t *arr = json_array(), *obj = json_object();
        for (size_t k = 0; k < nvals[i]; k++) {
            json_array_append_new(arr, json_string(vals[i][k].value));
            json_object_set_new(obj, vals[i][k].value, json_integer(vals[i][k].count));
        }
        json_object_set_new(body, lists[i], arr);
        json_object_set_new(counts, store_facet_names[i], obj);
    }
    json_object_set_new(body, "counts", counts);
    int rc = api_json_etag(r, c, 200, body);
    if (rc == 0)
        api_cache_store(r, c);
    return rc;
}

static int do_list(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    if (api_org_access(&o, c, tx, ROLE_READER, &r->e) < 0)
        return -1;
    store_filter f = {.org_id = o.id};
    return list_reply(r, c, tx, &f, false);
}

int api_artifact_list(api_reply *r, api_call *c)
{
    return api_in_tx_cached(r, c, "list", do_list);
}

static int do_facets(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    if (api_org_access(&o, c, tx, ROLE_READER, &r->e) < 0)
        return -1;
    store_filter f = {.org_id = o.id};
    return facets_reply(r, c, tx, &f);
}

int api_artifact_facets(api_reply *r, api_call *c)
{
    return api_in_tx_cached(r, c, "facets", do_facets);
}

static int do_catalog(api_reply *r, api_call *c, store_tx *tx)
{
    store_filter f = {0};
    if (api_query(c, "include_public"))
        return err_field_add(&r->e, "query", "include_public", "extra_forbidden",
                             "the catalog is public artifacts only");
    return list_reply(r, c, tx, &f, true);
}

int api_catalog_list(api_reply *r, api_call *c)
{
    return api_in_tx_cached(r, c, "catalog", do_catalog);
}

static int do_catalog_facets(api_reply *r, api_call *c, store_tx *tx)
{
    store_filter f = {0};
    return facets_reply(r, c, tx, &f);
}

int api_catalog_facets(api_reply *r, api_call *c)
{
    return api_in_tx_cached(r, c, "catalog-facets", do_catalog_facets);
}
