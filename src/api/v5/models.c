/*
 * models.c: seed-002 `get, search, create, update, duplicate, delete` over the v1 catalog
 * (API.md §10), and the helpers the other v5 files share. Writes go through the v1 handlers
 * (one sub-request per item, each in its own transaction), so names, roles, front matter,
 * revisions and relation sets follow exactly the v1 rules.
 */
#include "api/v5/v5.h"

#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "core/name.h"

const api_door v5_door = {"v5", false, NULL};

const v5_relation v5_relations[V5_RELATIONS] = {
    {"providers", "provider_ids"},
    {"departments", "department_ids"},
    {"agents", "agent_ids"},
    {"modalities", "modality_ids"},
    {"pricing", "pricing_ids"},
    {"qualities", "quality_ids"},
    {"reasoning_levels", "reasoning_level_ids"},
    {"temperature_levels", "temperature_level_ids"},
    {"values", "value_ids"},
    {"voices", "voice_ids"},
    {"flags", "flag_ids"},
};

#define PAGE_DEFAULT 50
#define PAGE_MAX 500
#define ITEMS_MAX 100

/* ---- shared helpers ---- */

int v5_org(store_org *out, api_call *c, store_tx *tx, err *e)
{
    if (!c->caller.org_id)
        return err_set(e, ERR_NOT_FOUND,
                       "this token belongs to no org: the seed-002 API acts in the caller's org");
    return store_org_get(out, tx, c->caller.org_id, c->a, e);
}

static bool is_relation(const char *k)
{
    for (int i = 0; i < V5_RELATIONS; i++)
        if (strcmp(v5_relations[i].list, k) == 0)
            return true;
    return false;
}

int v5_check(const api_call *c, const field_spec *specs, size_t n, bool relations, err *e)
{
    api_call sub = *c;
    json_t *body = NULL;
    if (json_is_object(c->body)) {
        body = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(c->body, k, v)
        {
            if (!json_is_null(v) && !(relations && is_relation(k)))
                json_object_set(body, k, v);
        }
    }
    sub.body = body;
    int rc = api_check_body(&sub, specs, n, e);
    json_decref(body);
    return rc;
}

int v5_sub(api_reply *rep, api_call *c, api_handler h, const char *name, json_t *body)
{
    api_call sub = *c;
    sub.nparams = 0;
    sub.params[sub.nparams++] = (api_kv){"org", c->caller.org_slug ? c->caller.org_slug : ""};
    sub.params[sub.nparams++] = (api_kv){"kind", "models"};
    if (name)
        sub.params[sub.nparams++] = (api_kv){"name", name};
    sub.body = body;
    memset(rep, 0, sizeof(*rep));
    if (h(rep, &sub) < 0 && rep->e.kind == ERR_NONE)
        err_set(&rep->e, ERR_SERVER, "internal error");
    if (!rep->body && rep->raw)
        rep->body = json_loadb(rep->raw, rep->raw_len, 0, NULL);
    return rep->e.kind == ERR_NONE ? 0 : -1;
}

json_t *v5_actor(const api_call *c)
{
    return api_str(c->caller.token_name);
}

static json_t *field_or_null(const json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return v ? json_deep_copy(v) : json_null();
}

json_t *v5_model_json(const json_t *art)
{
    const char *canon = json_string_value(json_object_get(art, "canonical_name"));
    const char *slash = canon ? strchr(canon, '/') : NULL;
    const char *local = slash ? slash + 1 : canon;
    json_t *pretty = json_object_get(art, "pretty_name");
    json_t *o = json_object();
    json_object_set_new(o, "model_id", field_or_null(art, "id"));
    json_object_set_new(o, "name", json_is_string(pretty) ? json_deep_copy(pretty)
                                                          : api_str(local));
    json_object_set_new(o, "name_id", api_str(local));
    json_object_set_new(o, "canonical_name", api_str(canon));
    json_object_set_new(o, "description", field_or_null(art, "description"));
    json_object_set_new(o, "summary", field_or_null(art, "summary"));
    json_object_set_new(o, "is_public", field_or_null(art, "is_public"));
    json_object_set_new(o, "enabled", field_or_null(art, "enabled"));
    json_object_set_new(o, "revision", field_or_null(art, "revision"));
    json_object_set_new(o, "latest_version", field_or_null(art, "version"));
    json_object_set_new(o, "version_count", field_or_null(art, "version_count"));
    json_object_set_new(o, "created_at", field_or_null(art, "created_at"));
    json_object_set_new(o, "updated_at", field_or_null(art, "updated_at"));
    json_t *rel = json_object_get(art, "relations");
    for (int i = 0; i < V5_RELATIONS; i++) {
        json_t *ids = json_object_get(rel, v5_relations[i].list);
        json_object_set_new(o, v5_relations[i].list, json_is_array(ids) ? json_deep_copy(ids)
                                                                        : json_array());
    }
    return o;
}

void v5_sections(json_t *out, const json_t *flat)
{
    json_object_set_new(out, "names", json_pack("{s:o, s:o}", "name",
                                                field_or_null(flat, "name"), "name_id",
                                                field_or_null(flat, "name_id")));
    json_object_set_new(out, "descriptions",
                        json_pack("{s:o, s:o}", "description", field_or_null(flat, "description"),
                                  "description_id", field_or_null(flat, "description_id")));
    for (int i = 0; i < V5_RELATIONS; i++) {
        json_t *ids = json_object_get(flat, v5_relations[i].list);
        json_object_set_new(out, v5_relations[i].section,
                            json_pack("{s:o}", v5_relations[i].list,
                                      json_is_array(ids) ? json_deep_copy(ids) : json_array()));
    }
}

/* v1 field name -> v5 field name, for errors of v1 sub-requests. */
static const char *v5_name_of(const char *v1)
{
    if (strcmp(v1, "name") == 0)
        return "name_id";
    if (strcmp(v1, "pretty_name") == 0)
        return "name";
    return v1;
}

static json_t *item_error(const err *e, const char *list, size_t index, bool v1_names)
{
    json_t *body = api_error_body(e);
    json_t *errors = json_object_get(body, "errors");
    size_t i;
    json_t *x;
    json_array_foreach(errors, i, x)
    {
        json_t *old = json_object_get(x, "loc");
        const char *f = json_string_value(json_array_get(old, 1));
        if (v1_names && f && strcmp(f, "relations") == 0 && json_array_get(old, 2))
            f = json_string_value(json_array_get(old, 2)); /* v1 relations.<list>: v5 <list> */
        json_t *loc = json_pack("[s, s, I]", "body", list, (json_int_t)index);
        if (f)
            json_array_append_new(loc, json_string(v1_names ? v5_name_of(f) : f));
        json_object_set_new(x, "loc", loc);
    }
    return body;
}

json_t *v5_item_error(const err *e, const char *list, size_t index)
{
    return item_error(e, list, index, false);
}

json_t *v5_form_state(const store_draft *d)
{
    json_t *st = api_json_text(d->state, "{}");
    json_t *o = json_pack("{s:s, s:I}", "draft_id", d->id, "version", (json_int_t)d->version);
    static const char *const strs[] = {"name", "name_id", "description", "description_id"};
    for (size_t i = 0; i < 4; i++)
        json_object_set_new(o, strs[i], field_or_null(st, strs[i]));
    for (int i = 0; i < V5_RELATIONS; i++) {
        json_t *ids = json_object_get(st, v5_relations[i].list);
        json_object_set_new(o, v5_relations[i].list, json_is_array(ids) ? json_deep_copy(ids)
                                                                        : json_array());
    }
    json_decref(st);
    return o;
}

/* Loads the caller's draft `id` in a read transaction of its own. */
static int load_draft(store_draft *out, api_call *c, const char *id, err *e)
{
    if (!c->caller.token_id)
        return err_set(e, ERR_NOT_FOUND, "draft '%.64s' not found", id);
    store_tx *tx = NULL;
    if (store_tx_begin(&tx, c->app->store, false, e) < 0)
        return -1;
    int rc = store_draft_get(out, tx, c->caller.token_id, id, c->a, e);
    if (store_tx_end(tx, false, e) < 0)
        rc = -1;
    return rc;
}

static void drop_draft(api_call *c, const char *id)
{
    err ignored = {0};
    store_tx *tx = NULL;
    if (!c->caller.token_id || store_tx_begin(&tx, c->app->store, true, &ignored) < 0)
        return;
    bool ok = store_draft_delete(tx, c->caller.token_id, id, &ignored) == 0;
    store_tx_end(tx, ok, &ignored);
}

/* ---- get ---- */

static int do_get_org(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    return v5_org(&o, c, tx, &r->e);
}

int v5_get(api_reply *r, api_call *c)
{
    static const field_spec specs[] = {{"model_id", F_NSTR, 128, false},
                                       {"draft_id", F_NSTR, 64, false}};
    if (v5_check(c, specs, 2, false, &r->e) < 0)
        return -1;
    const char *model_id = api_body_str(c, "model_id");
    const char *draft_id = api_body_str(c, "draft_id");
    if (!model_id && !draft_id)
        return err_field_add(&r->e, "body", "model_id", "missing",
                             "model_id or draft_id is required");
    if (api_in_tx(r, c, false, do_get_org) < 0)
        return -1;
    json_t *flat = NULL;
    bool exists = false;
    if (model_id) {
        api_reply sub;
        if (v5_sub(&sub, c, api_artifact_get, model_id, NULL) == 0) {
            flat = v5_model_json(sub.body);
            exists = true;
        } else if (sub.e.kind != ERR_NOT_FOUND) {
            r->e = sub.e;
            json_decref(sub.body);
            return -1;
        }
        json_decref(sub.body);
    }
    store_draft d;
    bool have_draft = false;
    if (draft_id) {
        if (load_draft(&d, c, draft_id, &r->e) < 0) {
            json_decref(flat);
            return -1;
        }
        have_draft = true;
        /* The draft's form state over the model's fields: what the editor shows. */
        json_t *fs = v5_form_state(&d);
        if (!flat)
            flat = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(fs, k, v)
        {
            bool empty = json_is_null(v) || (json_is_array(v) && json_array_size(v) == 0);
            if (!empty || !json_object_get(flat, k))
                json_object_set(flat, k, v);
        }
        json_decref(fs);
    }
    bool can_edit = c->caller.role >= ROLE_WRITER;
    json_t *body = json_object();
    json_object_set_new(body, "actor_name", v5_actor(c));
    json_object_set_new(body, "model_exists", json_boolean(exists));
    json_object_set_new(body, "can_edit", json_boolean(can_edit));
    json_object_set_new(body, "disabled_reason",
                        can_edit ? json_null()
                                 : json_string("editing needs the writer role; this token is a "
                                               "reader"));
    json_object_set_new(body, "draft_version",
                        have_draft ? json_integer(d.version) : json_null());
    json_object_set_new(body, "draft_id", have_draft ? json_string(d.id) : json_null());
    json_object_set_new(body, "group_id", api_str(c->caller.org_slug));
    json_object_set_new(body, "model_id",
                        exists ? json_deep_copy(json_object_get(flat, "model_id"))
                               : json_null());
    json_object_set_new(body, "revision",
                        exists ? json_deep_copy(json_object_get(flat, "revision")) : json_null());
    /* cairn has no AI text generation: the editor never offers it. */
    json_object_set_new(body, "basic_show_ai_generate", json_false());
    json_object_set_new(body, "provider_show_ai_generate", json_false());
    json_object_set_new(body, "features_show_ai_generate", json_false());
    if (flat) {
        v5_sections(body, flat);
    } else {
        json_object_set_new(body, "names", json_null());
        json_object_set_new(body, "descriptions", json_null());
        for (int i = 0; i < V5_RELATIONS; i++)
            json_object_set_new(body, v5_relations[i].section, json_null());
    }
    json_decref(flat);
    return api_json(r, 200, body);
}

/* ---- search ---- */

/* The filter sections search returns: section, its list, its value-search field. */
static const struct {
    const char *section, *list, *search;
} filter_sections[] = {
    {"provider_filter", "provider_ids", "provider_search"},
    {"department_filter", "department_ids", "department_search"},
    {"agent_filter", "agent_ids", "agent_search"},
};
#define N_SECTIONS 3

static int do_search(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    if (v5_org(&o, c, tx, &r->e) < 0)
        return -1;
    store_filter f = {.org_id = o.id, .kind = "models"};
    const char *s = api_body_str(c, "search");
    f.search = s && *s ? s : NULL;
    for (int i = 0; i < V5_RELATIONS; i++) {
        const char *key = arena_printf(c->a, "filter_%s", v5_relations[i].list);
        json_t *ids = json_object_get(c->body, key);
        int fi = api_relation_index(v5_relations[i].list);
        size_t n = json_array_size(ids);
        if (!n)
            continue;
        const char **vals = arena_array(c->a, const char *, n);
        for (size_t k = 0; k < n; k++)
            vals[k] = json_string_value(json_array_get(ids, k));
        f.values[fi] = vals;
        f.nvalues[fi] = n;
    }
    for (int i = 0; i < N_SECTIONS; i++) {
        int fi = api_relation_index(filter_sections[i].list);
        f.count_mask |= 1u << fi;
        f.value_search[fi] = api_body_str(c, filter_sections[i].search);
    }
    json_t *ps = json_object_get(c->body, "page_size");
    json_t *po = json_object_get(c->body, "page_offset");
    int limit = json_is_integer(ps) ? (int)json_integer_value(ps) : PAGE_DEFAULT;
    int64_t offset = json_is_integer(po) ? json_integer_value(po) : 0;
    store_artifact *items;
    size_t n;
    int64_t total, scope_total, filtered;
    store_facet_count *vals[STORE_FILTERS];
    size_t nvals[STORE_FILTERS];
    if (store_artifact_search_offset(&items, &n, &total, tx, &f,
                                     f.search ? STORE_SORT_RELEVANCE : STORE_SORT_NAME, offset,
                                     limit, c->a, &r->e) < 0 ||
        store_facets(vals, nvals, &scope_total, &filtered, tx, &f, c->a, &r->e) < 0)
        return -1;
    json_t *models = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *art = api_artifact_json(&items[i]);
        json_array_append_new(models, v5_model_json(art));
        json_decref(art);
    }
    json_t *body = json_pack("{s:o, s:o}", "actor_name", v5_actor(c), "models", models);
    for (int i = 0; i < N_SECTIONS; i++) {
        int fi = api_relation_index(filter_sections[i].list);
        json_t *selected = json_object_get(c->body, arena_printf(c->a, "filter_%s",
                                                                 filter_sections[i].list));
        json_t *options = json_array();
        for (size_t k = 0; k < nvals[fi]; k++) {
            bool sel = false;
            size_t j;
            json_t *x;
            json_array_foreach(selected, j, x)
            {
                if (strcmp(json_string_value(x), vals[fi][k].value) == 0)
                    sel = true;
            }
            json_array_append_new(options,
                                  json_pack("{s:s, s:I, s:b}", "id", vals[fi][k].value, "count",
                                            (json_int_t)vals[fi][k].count, "selected", sel));
        }
        json_object_set_new(
            body, filter_sections[i].section,
            json_pack("{s:o, s:o, s:o}", "options", options, "selected_ids",
                      json_is_array(selected) ? json_deep_copy(selected) : json_array(),
                      "search", api_str(api_body_str(c, filter_sections[i].search))));
    }
    json_object_set_new(body, "total_count", json_integer(total));
    return api_json(r, 200, body);
}

int v5_search(api_reply *r, api_call *c)
{
    /* Every relation list filters; the seed's three have a filter section and its search. */
    field_spec specs[3 + V5_RELATIONS + N_SECTIONS];
    size_t n = 0;
    specs[n++] = (field_spec){"search", F_STR, 256, false};
    specs[n++] = (field_spec){"page_size", F_INT, PAGE_MAX, false};
    specs[n++] = (field_spec){"page_offset", F_INT, 0, false};
    for (int i = 0; i < V5_RELATIONS; i++)
        specs[n++] = (field_spec){arena_printf(c->a, "filter_%s", v5_relations[i].list),
                                  F_STRLIST, 128, false};
    for (int i = 0; i < N_SECTIONS; i++)
        specs[n++] = (field_spec){filter_sections[i].search, F_STR, 256, false};
    if (v5_check(c, specs, n, false, &r->e) < 0)
        return -1;
    json_t *ps = json_object_get(c->body, "page_size");
    if (json_is_integer(ps) && json_integer_value(ps) < 1)
        return err_field_add(&r->e, "body", "page_size", "greater_than_equal",
                             "Input should be between 1 and %d", PAGE_MAX);
    return api_in_tx(r, c, false, do_search);
}

/* ---- create / update ---- */

/* Fields of a create or update item besides the relation lists. */
static const field_spec create_fields[] = {
    {"name", F_STR, 256, false},        {"name_id", F_STR, NAME_MAX_LEN, false},
    {"description", F_STR, 1048576, false}, {"description_id", F_STR, 128, false},
    {"draft_id", F_STR, 64, false},     {"is_public", F_BOOL, 0, false},
};
static const field_spec update_fields[] = {
    {"model_id", F_STR, 128, true},     {"name", F_STR, 256, false},
    {"name_id", F_STR, NAME_MAX_LEN, false}, {"description", F_STR, 1048576, false},
    {"description_id", F_STR, 128, false}, {"draft_id", F_STR, 64, false},
    {"is_public", F_BOOL, 0, false},    {"enabled", F_BOOL, 0, false},
    {"expected_revision", F_INT, 0, false},
};

/* Checks one item's fields but the relation lists (v1 checks those when it applies them);
 * returns 0 or -1 with e filled. */
static int check_item(api_call *c, json_t *item, const field_spec *fields, size_t nf, err *e)
{
    api_call sub = *c;
    sub.body = item;
    return v5_check(&sub, fields, nf, true, e); /* the lists: v1's relation rule */
}

/* The item's fields over the draft's (when it names one): what the item asks for. */
static int item_with_draft(json_t **out, api_call *c, json_t *item, store_draft *d, err *e)
{
    const char *draft_id = json_string_value(json_object_get(item, "draft_id"));
    *out = json_deep_copy(item);
    if (!draft_id)
        return 0;
    if (load_draft(d, c, draft_id, e) < 0)
        return -1;
    json_t *st = api_json_text(d->state, "{}");
    const char *k;
    json_t *v;
    json_object_foreach(st, k, v)
    {
        json_t *mine = json_object_get(*out, k);
        if (!json_is_null(v) && (!mine || json_is_null(mine)) && strcmp(k, "model_id") != 0)
            json_object_set(*out, k, v);
    }
    json_decref(st);
    return 0;
}

/* Copies the relation lists present in item into a v1 `relations` object (NULL if none). */
static json_t *relations_of(json_t *item)
{
    json_t *rel = NULL;
    for (int i = 0; i < V5_RELATIONS; i++) {
        json_t *ids = json_object_get(item, v5_relations[i].list);
        if (!ids || json_is_null(ids))
            continue;
        if (!rel)
            rel = json_object();
        json_object_set(rel, v5_relations[i].list, ids);
    }
    return rel;
}

static void copy_field(json_t *dst, const char *dk, json_t *src, const char *sk)
{
    json_t *v = json_object_get(src, sk);
    if (v && !json_is_null(v))
        json_object_set(dst, dk, v);
}

/* One create item -> the v1 create body, or NULL with e filled. */
static json_t *create_body(json_t *it, err *e)
{
    const char *name = json_string_value(json_object_get(it, "name"));
    const char *name_id = json_string_value(json_object_get(it, "name_id"));
    if (!name && !name_id) {
        err_field_add(e, "body", "name", "missing", "Field required");
        return NULL;
    }
    char slug[NAME_MAX_LEN + 1];
    if (!name_id) {
        if (name_from_title(slug, sizeof(slug), name) == 0) {
            err_field_add(e, "body", "name", "value_error",
                          "the name needs a letter or digit (or give name_id)");
            return NULL;
        }
        name_id = slug;
    }
    json_t *b = json_pack("{s:s}", "name", name_id);
    if (name)
        json_object_set_new(b, "pretty_name", json_string(name));
    copy_field(b, "description", it, "description");
    copy_field(b, "is_public", it, "is_public");
    json_t *rel = relations_of(it);
    if (rel)
        json_object_set_new(b, "relations", rel);
    return b;
}

/* One update item -> the v1 PATCH body. name_id may only repeat the current name. */
static json_t *update_body(json_t *it, const char *current_name)
{
    json_t *b = json_object();
    const char *name_id = json_string_value(json_object_get(it, "name_id"));
    if (name_id && (!current_name || strcmp(name_id, current_name) != 0))
        json_object_set_new(b, "name", json_string(name_id)); /* v1 refuses: 422 */
    copy_field(b, "pretty_name", it, "name");
    copy_field(b, "description", it, "description");
    copy_field(b, "is_public", it, "is_public");
    copy_field(b, "enabled", it, "enabled");
    copy_field(b, "expected_revision", it, "expected_revision");
    json_t *rel = relations_of(it);
    if (rel)
        json_object_set_new(b, "relations", rel);
    return b;
}

static json_t *result_item(size_t index, bool ok, json_t *model, const char *message,
                           json_t *error)
{
    return json_pack("{s:I, s:b, s:o, s:o, s:s, s:o}", "index", (json_int_t)index, "success",
                     ok, "model_id", model ? field_or_null(model, "model_id") : json_null(),
                     "name", model ? field_or_null(model, "name") : json_null(), "message",
                     message, "error", error ? error : json_null());
}

static json_t *run_item(api_call *c, json_t *item, size_t index, bool create)
{
    err e = {0};
    store_draft d;
    json_t *it = NULL, *v1 = NULL, *res = NULL;
    bool v1_names = false;
    api_reply rep = {0};
    if (!json_is_object(item)) {
        err_field_add(&e, "body", NULL, "dict_type", "Input should be a valid object");
        goto fail;
    }
    if ((create ? check_item(c, item, create_fields, 6, &e)
                : check_item(c, item, update_fields, 9, &e)) < 0 ||
        item_with_draft(&it, c, item, &d, &e) < 0)
        goto fail;
    const char *model_id = json_string_value(json_object_get(it, "model_id"));
    if (create) {
        if (!(v1 = create_body(it, &e)))
            goto fail;
    } else {
        const char *current = NULL;
        if (json_object_get(it, "name_id")) {
            if (v5_sub(&rep, c, api_artifact_get, model_id, NULL) < 0) {
                e = rep.e;
                goto fail;
            }
            const char *canon = json_string_value(json_object_get(rep.body, "canonical_name"));
            current = canon && strchr(canon, '/') ? arena_strdup(c->a, strchr(canon, '/') + 1)
                                                  : NULL;
            json_decref(rep.body);
            rep.body = NULL;
        }
        v1 = update_body(it, current);
    }
    v1_names = true;
    if (v5_sub(&rep, c, create ? api_artifact_create : api_artifact_patch, model_id, v1) < 0) {
        e = rep.e;
        goto fail;
    }
    const char *draft_id = json_string_value(json_object_get(it, "draft_id"));
    if (draft_id)
        drop_draft(c, draft_id); /* the draft became the model */
    json_t *model = v5_model_json(rep.body);
    res = result_item(index, true, model, create ? "created" : "updated", NULL);
    json_decref(model);
    goto out;
fail:
    res = result_item(index, false, NULL, e.detail[0] ? e.detail : "invalid item",
                      item_error(&e, "models", index, v1_names));
out:
    json_decref(rep.body);
    json_decref(it);
    json_decref(v1);
    return res;
}

static int run_items(api_reply *r, api_call *c, bool create)
{
    static const field_spec specs[] = {{"models", F_OBJLIST, 0, true}};
    if (api_check_body(c, specs, 1, &r->e) < 0 || api_in_tx(r, c, false, do_get_org) < 0)
        return -1;
    json_t *results = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(c->body, "models"), i, x)
        json_array_append_new(results, run_item(c, x, i, create));
    return api_json(r, 200, json_pack("{s:o}", "results", results));
}

int v5_create(api_reply *r, api_call *c)
{
    return run_items(r, c, true);
}

int v5_update(api_reply *r, api_call *c)
{
    return run_items(r, c, false);
}

/* ---- duplicate ---- */

int v5_duplicate(api_reply *r, api_call *c)
{
    static const field_spec specs[] = {{"model_id", F_STR, 128, true}};
    if (api_check_body(c, specs, 1, &r->e) < 0 || api_in_tx(r, c, false, do_get_org) < 0)
        return -1;
    const char *model_id = api_body_str(c, "model_id");
    api_reply rep;
    if (v5_sub(&rep, c, api_artifact_get, model_id, NULL) < 0) {
        r->e = rep.e;
        return -1;
    }
    const char *canon = json_string_value(json_object_get(rep.body, "canonical_name"));
    char base[NAME_MAX_LEN + 1];
    snprintf(base, sizeof(base), "%s", canon && strchr(canon, '/') ? strchr(canon, '/') + 1 : "");
    json_decref(rep.body);
    /* The first free "<name>-copy", "<name>-copy-2", ...: v1 duplicate needs a new name. */
    for (int k = 1; k <= 50; k++) {
        char suffix[16], name[NAME_MAX_LEN + 1];
        snprintf(suffix, sizeof(suffix), k == 1 ? "-copy" : "-copy-%d", k);
        int keep = NAME_MAX_LEN - (int)strlen(suffix);
        snprintf(name, sizeof(name), "%.*s%s", keep, base, suffix);
        json_t *body = json_pack("{s:s, s:b}", "new_name", name, "include_versions", 1);
        int rc = v5_sub(&rep, c, api_artifact_duplicate, model_id, body);
        json_decref(body);
        if (rc == 0) {
            json_t *out = json_pack("{s:b, s:O, s:s}", "success", 1, "model_id",
                                    json_object_get(rep.body, "id"), "message",
                                    arena_printf(c->a, "duplicated as %s/%s",
                                                 c->caller.org_slug, name));
            json_decref(rep.body);
            return api_json(r, 200, out);
        }
        json_decref(rep.body);
        if (rep.e.kind != ERR_EXISTS) {
            r->e = rep.e;
            return -1;
        }
    }
    return err_set(&r->e, ERR_CONFLICT, "no free name for a copy of '%s'", base);
}

/* ---- delete ---- */

int v5_delete(api_reply *r, api_call *c)
{
    static const field_spec specs[] = {{"model_ids", F_STRLIST, 128, true}};
    if (api_check_body(c, specs, 1, &r->e) < 0 || api_in_tx(r, c, false, do_get_org) < 0)
        return -1;
    json_t *results = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(c->body, "model_ids"), i, x)
    {
        api_reply rep;
        const char *id = json_string_value(x);
        bool ok = v5_sub(&rep, c, api_artifact_delete, id, NULL) == 0;
        json_array_append_new(
            results, json_pack("{s:s, s:b, s:s, s:o}", "model_id", id, "success", ok, "message",
                               ok ? "deleted" : rep.e.detail, "error",
                               ok ? json_null() : api_error_body(&rep.e)));
        json_decref(rep.body);
    }
    return api_json(r, 200, json_pack("{s:o}", "results", results));
}
