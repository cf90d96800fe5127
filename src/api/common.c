/*
 * common.c: shared handler helpers.
 */
#include "api/common.h"

#include <stdlib.h>
#include <string.h>

#include "api/cache.h"
#include "core/name.h"
#include "util/crypto.h"
#include "util/timeutil.h"

const char *api_param(const api_call *c, const char *name)
{
    for (size_t i = 0; i < c->nparams; i++)
        if (strcmp(c->params[i].key, name) == 0)
            return c->params[i].value;
    return NULL;
}

const char *api_query(const api_call *c, const char *name)
{
    for (size_t i = 0; i < c->nquery; i++)
        if (strcmp(c->query[i].key, name) == 0)
            return c->query[i].value;
    return NULL;
}

void api_header(api_reply *r, const char *name, const char *value)
{
    if (r->nheaders < API_MAX_HEADERS) {
        r->headers[r->nheaders].key = name;
        r->headers[r->nheaders].value = value;
        r->nheaders++;
    }
}

int api_json(api_reply *r, int status, json_t *body)
{
    json_decref(r->body);
    r->status = status;
    r->body = body;
    return 0;
}

json_t *api_error_body(const err *e)
{
    json_t *errors = json_null();
    if (e->kind == ERR_VALIDATION && e->nfields > 0) {
        errors = json_array();
        for (size_t i = 0; i < e->nfields; i++) {
            const err_field *f = &e->fields[i];
            json_t *loc = json_array();
            for (int k = 0; k < 4 && f->loc[k][0]; k++)
                json_array_append_new(loc, json_string(f->loc[k]));
            json_array_append_new(errors, json_pack("{s:o, s:s, s:s}", "loc", loc, "msg",
                                                    f->msg, "type", f->type));
        }
    }
    const char *detail = e->detail[0] ? e->detail : "error";
    json_t *body = json_pack("{s:i, s:s, s:s, s:o}", "code", err_status(e->kind), "detail",
                             detail, "type", err_type(e->kind), "errors", errors);
    if (!body) /* a failed pack has freed errors ("o" steals even then): not used again */
        body = json_pack("{s:i, s:s, s:s, s:n}", "code", err_status(e->kind), "detail",
                         "invalid input", "type", err_type(e->kind), "errors");
    return body;
}

const char *api_etag_of(const json_t *body, arena *a)
{
    char *s = json_dumps(body, JSON_COMPACT);
    char hex[65];
    crypto_sha256_hex(hex, s ? s : "", s ? strlen(s) : 0);
    free(s);
    return arena_printf(a, "\"%.32s\"", hex);
}

int api_json_etag(api_reply *r, api_call *c, int status, json_t *body)
{
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!s)
        return err_set(&r->e, ERR_SERVER, "cannot encode the response");
    size_t n = strlen(s);
    char hex[65];
    crypto_sha256_hex(hex, s, n);
    char *copy = arena_alloc(c->a, n + 1);
    memcpy(copy, s, n + 1);
    free(s);
    r->status = status;
    r->raw = copy;
    r->raw_len = n;
    r->content_type = "application/json; charset=utf-8";
    r->etag = arena_printf(c->a, "\"%.32s\"", hex);
    return 0;
}

bool api_etag_matches(const char *header, const char *etag)
{
    size_t n = strlen(etag);
    const char *p = header;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == '*')
            return true;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        if (strncmp(p, etag, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
            return true;
        while (*p && *p != ',')
            p++;
    }
    return false;
}

static const char *type_name(field_type t)
{
    switch (t) {
    case F_STR:
    case F_NSTR: return "string_type";
    case F_BOOL: return "bool_type";
    case F_INT: return "int_type";
    case F_STRLIST:
    case F_OBJLIST: return "list_type";
    case F_OBJ: return "dict_type";
    }
    return "value_error";
}

static void check_field(const field_spec *s, json_t *v, err *e)
{
    switch (s->type) {
    case F_NSTR:
        if (json_is_null(v))
            return;
        /* fall through */
    case F_STR:
        if (!json_is_string(v)) {
            err_field_add(e, "body", s->name, "string_type", "Input should be a valid string");
            return;
        }
        if (s->max && json_string_length(v) > s->max)
            err_field_add(e, "body", s->name, "string_too_long",
                          "String should have at most %zu characters", s->max);
        if (strlen(json_string_value(v)) != json_string_length(v))
            err_field_add(e, "body", s->name, "value_error", "NUL characters are not allowed");
        return;
    case F_BOOL:
        if (!json_is_boolean(v))
            err_field_add(e, "body", s->name, "bool_type", "Input should be a valid boolean");
        return;
    case F_INT:
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            (s->max && (size_t)json_integer_value(v) > s->max))
            err_field_add(e, "body", s->name, "int_type",
                          "Input should be an integer between 0 and %zu", s->max);
        return;
    case F_STRLIST: {
        if (!json_is_array(v)) {
            err_field_add(e, "body", s->name, "list_type", "Input should be a valid list");
            return;
        }
        if (json_array_size(v) > 100) {
            err_field_add(e, "body", s->name, "too_long", "List should have at most 100 items");
            return;
        }
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            if (!json_is_string(x) || json_string_length(x) == 0 ||
                (s->max && json_string_length(x) > s->max) ||
                strlen(json_string_value(x)) != json_string_length(x)) {
                err_field_add(e, "body", s->name, "string_type",
                              "Items should be non-empty strings of at most %zu characters",
                              s->max);
                return;
            }
        }
        return;
    }
    case F_OBJLIST: {
        if (!json_is_array(v) || json_array_size(v) > 100) {
            err_field_add(e, "body", s->name, "list_type",
                          "Input should be a list of at most 100 objects");
            return;
        }
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            if (!json_is_object(x)) {
                err_field_add(e, "body", s->name, "dict_type", "Items should be objects");
                return;
            }
        }
        return;
    }
    case F_OBJ: {
        if (!json_is_object(v)) {
            err_field_add(e, "body", s->name, "dict_type", "Input should be a valid object");
            return;
        }
        if (s->max) {
            char *txt = json_dumps(v, JSON_COMPACT);
            size_t n = txt ? strlen(txt) : 0;
            free(txt);
            if (n > s->max)
                err_field_add(e, "body", s->name, "too_long",
                              "Object should serialise to at most %zu bytes", s->max);
        }
        return;
    }
    }
    (void)type_name;
}

int api_check_body(const api_call *c, const field_spec *specs, size_t n, err *e)
{
    json_t *body = c->body;
    const char *key;
    json_t *v;
    if (body) {
        json_object_foreach(body, key, v)
        {
            size_t i = 0;
            while (i < n && strcmp(specs[i].name, key) != 0)
                i++;
            if (i == n) {
                err_field_add(e, "body", key, "extra_forbidden", "Extra inputs are not permitted");
                continue;
            }
            check_field(&specs[i], v, e);
        }
    }
    for (size_t i = 0; i < n; i++)
        if (specs[i].required && (!body || !json_object_get(body, specs[i].name)))
            err_field_add(e, "body", specs[i].name, "missing", "Field required");
    return e->kind == ERR_VALIDATION ? -1 : 0;
}

int api_check_value(const field_spec *specs, size_t n, const char *name, json_t *v,
                    const char *loc0, const char *loc1, const char *what, err *e)
{
    size_t i = 0;
    while (i < n && strcmp(specs[i].name, name) != 0)
        i++;
    if (i == n)
        return err_field_add(e, loc0, loc1, "extra_forbidden", "%s: not a field", what);
    err tmp = {0};
    check_field(&specs[i], v, &tmp);
    if (tmp.kind == ERR_NONE)
        return 0;
    for (size_t k = 0; k < tmp.nfields; k++)
        err_field_add(e, loc0, loc1, tmp.fields[k].type, "%s: %s", what, tmp.fields[k].msg);
    return -1;
}

const char *api_body_str(const api_call *c, const char *name)
{
    json_t *v = c->body ? json_object_get(c->body, name) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

bool api_body_has(const api_call *c, const char *name)
{
    return c->body && json_object_get(c->body, name) != NULL;
}

static bool caller_in(const api_call *c, const store_org *o)
{
    return c->caller.server_admin || (c->caller.org_id && strcmp(c->caller.org_id, o->id) == 0);
}

static int org_lookup(store_org *out, api_call *c, store_tx *tx, err *e)
{
    const char *slug = api_param(c, "org");
    if (!slug || !slug_is_valid(slug, strlen(slug)))
        return err_set(e, ERR_NOT_FOUND, "org '%s' not found", slug ? slug : "");
    return store_org_get(out, tx, slug, c->a, e);
}

int api_org_access(store_org *out, api_call *c, store_tx *tx, int min_role, err *e)
{
    if (c->min_role > min_role) /* the route table's declaration is the floor */
        min_role = c->min_role;
    if (org_lookup(out, c, tx, e) < 0)
        return -1;
    if (!caller_in(c, out))
        return err_set(e, ERR_NOT_FOUND, "org '%s' not found", out->slug);
    if (c->caller.role < min_role)
        return err_set(e, ERR_FORBIDDEN, "this needs the %s role",
                       min_role == ROLE_ADMIN ? "admin" : "writer");
    return 0;
}

int api_artifact_access(store_org *org, store_artifact *out, api_call *c, store_tx *tx,
                        int min_role, err *e)
{
    if (c->min_role > min_role) /* the route table's declaration is the floor */
        min_role = c->min_role;
    const char *kind = api_param(c, "kind");
    const char *name = api_param(c, "name");
    const char *what = strcmp(kind, "models") == 0 ? "model" : "capability";
    if (org_lookup(org, c, tx, e) < 0)
        return -1;
    if (!name || (!name_is_valid(name, strlen(name)) && !uuid_is_valid(name, strlen(name))))
        return err_set(e, ERR_NOT_FOUND, "%s '%s/%s' not found", what, org->slug,
                       name ? name : "");
    /* A UUID-shaped {name} is an id and only an id: no name can be UUID-shaped. */
    bool by_id = uuid_is_valid(name, strlen(name));
    if (by_id) {
        char *low = arena_strdup(c->a, name);
        for (char *p = low; *p; p++)
            if (*p >= 'A' && *p <= 'F')
                *p = (char)(*p - 'A' + 'a');
        name = low;
    }
    if (store_artifact_get(out, tx, org->id, kind, name, by_id, c->a, e) < 0) {
        if (e->kind == ERR_NOT_FOUND)
            err_set(e, ERR_NOT_FOUND, "%s '%s/%s' not found", what, org->slug, name);
        return -1;
    }
    if (caller_in(c, org)) {
        if (c->caller.role < min_role)
            return err_set(e, ERR_FORBIDDEN, "this needs the %s role",
                           min_role == ROLE_ADMIN ? "admin" : "writer");
        return 0;
    }
    /* 404, not 403: another org must not learn that a private artifact exists (API.md §1). */
    if (!out->is_public)
        return err_set(e, ERR_NOT_FOUND, "%s '%s/%s' not found", what, org->slug, name);
    if (min_role > ROLE_READER)
        return err_set(e, ERR_FORBIDDEN, "%s '%s/%s' belongs to another org", what, org->slug,
                       out->name);
    return 0;
}

bool api_version_visible(const api_call *c, const store_artifact *m, const char *lifecycle)
{
    bool inside = c->caller.server_admin ||
                  (c->caller.org_id && strcmp(c->caller.org_id, m->org_id) == 0);
    return inside || (m->enabled && strcmp(lifecycle, "draft") != 0);
}

int api_artifact_gate(api_call *c, err *e)
{
    if (!api_param(c, "kind") || !api_param(c, "name"))
        return 0;
    store_tx *tx = NULL;
    store_org o;
    store_artifact m;
    if (store_tx_begin(&tx, c->app->store, false, e) < 0)
        return -1;
    int rc = api_artifact_access(&o, &m, c, tx, c->min_role, e);
    if (store_tx_end(tx, false, e) < 0)
        rc = -1;
    return rc;
}

int api_artifact_by_id(store_artifact *out, api_call *c, store_tx *tx, const char *org_id,
                       const char *id, err *e)
{
    if (store_artifact_get(out, tx, org_id, "models", id, true, c->a, e) == 0)
        return 0;
    if (e->kind != ERR_NOT_FOUND)
        return -1;
    err_clear(e);
    return store_artifact_get(out, tx, org_id, "capabilities", id, true, c->a, e);
}

int api_limit(int *out, const api_call *c, err *e)
{
    const char *s = api_query(c, "limit");
    *out = 50;
    if (!s)
        return 0;
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 1 || v > 500)
        return err_field_add(e, "query", "limit", "value_error",
                             "limit must be an integer from 1 to 500");
    *out = (int)v;
    return 0;
}

const char *api_cursor_encode(const char *raw, arena *a)
{
    size_t n = strlen(raw);
    char *out = arena_alloc(a, 2 * n + 1);
    crypto_hex(out, (const uint8_t *)raw, n);
    return out;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

int api_cursor_decode(const char **raw, const api_call *c, err *e)
{
    const char *s = api_query(c, "cursor");
    *raw = NULL;
    if (!s)
        return 0;
    size_t n = strlen(s);
    if (n == 0 || n % 2 || n > 1024)
        return err_field_add(e, "query", "cursor", "value_error", "invalid cursor");
    char *out = arena_alloc(c->a, n / 2 + 1);
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
            return err_field_add(e, "query", "cursor", "value_error", "invalid cursor");
        out[i] = (char)(hi * 16 + lo);
    }
    *raw = out;
    return 0;
}

json_t *api_time(int64_t ms)
{
    if (ms <= 0)
        return json_null();
    char buf[32];
    time_format_iso(buf, sizeof(buf), ms);
    return json_string(buf);
}

json_t *api_str(const char *s)
{
    return s ? json_string(s) : json_null();
}

json_t *api_json_text(const char *text, const char *dflt)
{
    json_t *v = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
    return v ? v : json_loads(dflt, JSON_DECODE_ANY, NULL);
}

char *api_json_dump(const json_t *v, arena *a)
{
    if (!v)
        return NULL;
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    char *out = arena_strdup(a, s);
    free(s);
    return out;
}

json_t *api_org_json(const store_org *o, const config *cfg)
{
    int64_t q = o->quota_versions_monthly >= 0 ? o->quota_versions_monthly
                                               : cfg->quota_versions_monthly;
    json_t *quota = q < 0 ? json_null() : json_integer(q);
    return json_pack("{s:s, s:s, s:s, s:o, s:{s:o}}", "id", o->id, "slug", o->slug,
                     "display_name", o->display_name, "created_at", api_time(o->created_at),
                     "quotas", "model_versions_monthly", quota);
}

json_t *api_artifact_summary_json(const store_artifact *m, bool canonical_name)
{
    bool model = strcmp(m->kind, "models") == 0;
    char canon[256];
    snprintf(canon, sizeof(canon), "%s/%s", m->org_slug, m->name);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(m->id));
    json_object_set_new(o, "name", json_string(model || canonical_name ? canon : m->name));
    json_object_set_new(o, "version", api_str(m->latest_version));
    json_object_set_new(o, "created_at", api_time(m->created_at));
    json_object_set_new(o, "updated_at", api_time(m->updated_at));
    json_object_set_new(o, "aliases", api_json_text(m->aliases, "[]"));
    json_object_set_new(o, "architecture", api_str(m->architecture));
    json_object_set_new(o, "base_model", api_str(m->base_model));
    json_object_set_new(o, "download_count", json_integer(m->download_count));
    json_object_set_new(o, "framework", api_str(m->framework));
    json_object_set_new(o, "is_public", json_boolean(m->is_public));
    json_object_set_new(o, "language", api_json_text(m->language, "[]"));
    json_object_set_new(o, "license", api_str(m->license));
    json_object_set_new(o, "origin", api_json_text(m->origin, "{}"));
    json_object_set_new(o, "pretty_name", api_str(m->pretty_name));
    json_object_set_new(o, "size_category", api_str(m->size_category));
    json_object_set_new(o, "summary", api_str(m->summary));
    json_object_set_new(o, "tags", api_json_text(m->tags, "[]"));
    json_object_set_new(o, "task", api_str(m->task));
    json_object_set_new(o, "task_categories", api_json_text(m->task_categories, "[]"));
    json_object_set_new(o, "version_count", json_integer(m->version_count));
    json_object_set_new(o, "org", json_string(m->org_slug));
    json_object_set_new(o, "canonical_name", json_string(canon));
    json_object_set_new(o, "kind", json_string(m->kind));
    if (!model) {
        json_t *comps = api_json_text(m->components, "[]");
        json_t *counts = json_object();
        size_t i;
        json_t *x;
        json_array_foreach(comps, i, x)
        {
            const char *t = json_string_value(json_object_get(x, "type"));
            if (t) {
                json_t *cur = json_object_get(counts, t);
                json_object_set_new(counts, t,
                                    json_integer(cur ? json_integer_value(cur) + 1 : 1));
            }
        }
        json_object_set_new(o, "keywords", api_json_text(m->keywords, "[]"));
        json_object_set_new(o, "component_counts", counts);
        json_object_set_new(o, "components", comps);
    }
    return o;
}

json_t *api_artifact_json(const store_artifact *m)
{
    json_t *o = api_artifact_summary_json(m, false);
    json_object_set_new(o, "description", api_str(m->description));
    json_object_set_new(o, "enabled", json_boolean(m->enabled));
    json_object_set_new(o, "revision", json_integer(m->revision));
    json_object_set_new(o, "deleted_at", api_time(m->deleted_at));
    json_object_set_new(o, "attributes", api_json_text(m->attributes, "{}"));
    json_object_set_new(o, "relations", api_relations_json(m->relations));
    return o;
}

json_t *api_relations_json(const char *text)
{
    json_t *in = api_json_text(text, "{}");
    json_t *o = json_object();
    for (int i = STORE_FACETS; i < STORE_FILTERS; i++) {
        json_t *v = json_object_get(in, store_facet_names[i]);
        json_object_set_new(o, store_facet_names[i], json_is_array(v) ? json_deep_copy(v)
                                                                       : json_array());
    }
    json_decref(in);
    return o;
}

int api_relation_index(const char *name)
{
    for (int i = STORE_FACETS; i < STORE_FILTERS; i++)
        if (strcmp(store_facet_names[i], name) == 0)
            return i;
    return -1;
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

json_t *api_relation_set(json_t *list, const char *loc0, const char *loc1, err *e)
{
    if (!json_is_array(list) || json_array_size(list) > API_RELATION_MAX) {
        err_field_add(e, loc0, loc1, "list_type",
                      "Input should be a list of at most %d ids", API_RELATION_MAX);
        return NULL;
    }
    const char *ids[API_RELATION_MAX];
    size_t n = 0, i;
    json_t *x;
    json_array_foreach(list, i, x)
    {
        if (!json_is_string(x) || json_string_length(x) == 0 || json_string_length(x) > 128 ||
            strlen(json_string_value(x)) != json_string_length(x)) {
            err_field_add(e, loc0, loc1, "string_type",
                          "Items should be non-empty strings of at most 128 characters");
            return NULL;
        }
        ids[n++] = json_string_value(x);
    }
    qsort(ids, n, sizeof(ids[0]), cmp_str);
    json_t *out = json_array();
    for (size_t k = 0; k < n; k++)
        if (k == 0 || strcmp(ids[k], ids[k - 1]) != 0)
            json_array_append_new(out, json_string(ids[k]));
    return out;
}

int api_relations_merge(char **out, const char *current, json_t *changes, arena *a, err *e)
{
    if (!json_is_object(changes))
        return err_field_add(e, "body", "relations", "dict_type",
                             "Input should be an object of id lists");
    json_t *merged = api_relations_json(current);
    const char *key;
    json_t *v;
    json_object_foreach(changes, key, v)
    {
        json_t *set = NULL;
        if (api_relation_index(key) < 0)
            err_field_add(e, "body", "relations", "extra_forbidden",
                          "'%.64s' is not a relation list", key);
        else
            set = json_is_null(v) ? json_array() : api_relation_set(v, "body", "relations", e);
        if (set) {
            json_object_set_new(merged, key, set);
        } else if (e->nfields > 0) { /* loc: ["body", "relations", <list>] */
            err_field *f = &e->fields[e->nfields - 1];
            snprintf(f->loc[2], sizeof(f->loc[2]), "%s", key);
        }
    }
    if (e->kind == ERR_NONE)
        *out = api_json_dump(merged, a);
    json_decref(merged);
    return e->kind == ERR_NONE ? 0 : -1;
}

json_t *api_version_json(const store_version *v, json_t *packages)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(v->id));
    json_object_set_new(o, "artifact_id", json_string(v->artifact_id));
    json_object_set_new(o, "version", json_string(v->version));
    json_object_set_new(o, "lifecycle", json_string(v->lifecycle));
    json_object_set_new(o, "summary", api_str(v->summary));
    json_object_set_new(o, "changelog", api_str(v->changelog));
    json_object_set_new(o, "framework", api_str(v->framework));
    json_object_set_new(o, "architecture", api_str(v->architecture));
    json_object_set_new(o, "base_model", api_str(v->base_model));
    json_object_set_new(o, "metadata", api_json_text(v->metadata, "{}"));
    json_object_set_new(o, "parameter_count",
                        v->parameter_count < 0 ? json_null() : json_integer(v->parameter_count));
    json_object_set_new(o, "size_bytes", json_integer(v->size_bytes));
    json_object_set_new(o, "download_count", json_integer(v->download_count));
    json_object_set_new(o, "created_at", api_time(v->created_at));
    json_object_set_new(o, "updated_at", api_time(v->updated_at));
    json_object_set_new(o, "published_at", api_time(v->published_at));
    json_object_set_new(o, "deprecated_at", api_time(v->deprecated_at));
    json_object_set_new(o, "packages", packages ? packages : json_array());
    return o;
}

int api_in_tx(api_reply *r, api_call *c, bool write,
              int (*fn)(api_reply *, api_call *, store_tx *))
{
    store_tx *tx = NULL;
    if (store_tx_begin(&tx, c->app->store, write, &r->e) < 0)
        return -1;
    int rc = fn(r, c, tx);
    if (store_tx_end(tx, rc == 0 && write, &r->e) < 0)
        rc = -1;
    return rc;
}

int api_in_shared_tx(api_reply *r, api_call *c, int (*fn)(api_reply *, api_call *, store_tx *))
{
    store_tx *tx = NULL;
    if (store_tx_begin_shared(&tx, c->app->store, &r->e) < 0)
        return -1;
    int rc = fn(r, c, tx);
    if (store_tx_end(tx, rc == 0, &r->e) < 0)
        rc = -1;
    return rc;
}

/* The key and revision of the pending cache fill of a request (in its arena). */
typedef struct cache_fill {
    const char *key;
    int64_t rev;
    bool claimed; /* this request builds the body others wait for */
} cache_fill;

bool api_cache_try(api_reply *r, api_call *c, const char *scope)
{
    int64_t rev = 0;
    err ignored = {0};
    if (!c->app->cache)
        return false;
    /* Read in this request, with the token: a write acknowledged before it is counted. */
    if (c->catalog_rev > 0 && c->catalog_rev >= c->min_rev)
        rev = c->catalog_rev;
    else if (store_catalog_revision_min(&rev, c->app->store, c->min_rev, &ignored) < 0)
        return false;
    /* Same scope + caller's org + path + query (in order) = same body and same access
     * decision at the same revision: so the cache may be consulted before the checks. */
    const char *who = c->caller.server_admin ? "*" : c->caller.org_id ? c->caller.org_id : "-";
    char *key = arena_printf(c->a, "%s|%s|%s", scope, who, c->path);
    for (size_t i = 0; i < c->nquery; i++)
        key = arena_printf(c->a, "%s%c%s=%s", key, i ? '&' : '?', c->query[i].key,
                           c->query[i].value);
    const char *body, *etag;
    size_t n;
    bool claimed;
    if (resp_cache_get(c->app->cache, key, rev, &body, &n, &etag, &claimed, c->a)) {
        r->status = 200;
        r->raw = body;
        r->raw_len = n;
        r->etag = etag;
        r->content_type = "application/json; charset=utf-8";
        return true;
    }
    cache_fill *f = arena_new(c->a, cache_fill);
    f->key = key;
    f->rev = rev;
    f->claimed = claimed;
    c->cache_fill = f;
    return false;
}

void api_cache_store(api_reply *r, api_call *c)
{
    const cache_fill *f = c->cache_fill;
    if (f && r->e.kind == ERR_NONE && r->status == 200 && r->raw)
        resp_cache_put(c->app->cache, f->key, f->rev, r->raw, r->raw_len, r->etag);
}

int64_t api_known_rev(const api_call *c)
{
    const cache_fill *f = c->cache_fill;
    return f && f->rev > c->catalog_rev ? f->rev : c->catalog_rev;
}

int api_in_tx_cached(api_reply *r, api_call *c, const char *scope,
                     int (*fn)(api_reply *, api_call *, store_tx *))
{
    if (api_cache_try(r, c, scope)) /* no transaction for a cached answer */
        return 0;
    int rc = api_in_tx(r, c, false, fn);
    const cache_fill *f = c->cache_fill;
    if (f && f->claimed) /* stored or not (an error, a large body): let the waiters go */
        resp_cache_release(c->app->cache, f->key, f->rev);
    return rc;
}

int api_version_quota(api_reply *r, api_call *c, store_tx *tx, const store_org *o,
                      int64_t adding)
{
    int64_t quota = o->quota_versions_monthly >= 0 ? o->quota_versions_monthly
                                                   : c->app->cfg->quota_versions_monthly;
    if (quota < 0 || adding <= 0)
        return 0;
    int64_t used = 0, t = time_now_ms();
    if (store_tx_lock(tx, STORE_LOCK_ORG, o->id, &r->e) < 0 || /* a shared write's count */
        store_versions_created_since(&used, tx, o->id, time_month_start_ms(t), &r->e) < 0)
        return -1;
    if (used + adding <= quota)
        return 0;
    int64_t wait = (time_next_month_ms(t) - t) / 1000 + 1;
    api_header(r, "Retry-After", arena_printf(c->a, "%lld", (long long)wait));
    if (adding == 1)
        return err_set(&r->e, ERR_LIMIT,
                       "org '%s' has used its quota of %lld new versions this month", o->slug,
                       (long long)quota);
    return err_set(&r->e, ERR_LIMIT,
                   "%lld new versions exceed org '%s''s quota of %lld this month (%lld used)",
                   (long long)adding, o->slug, (long long)quota, (long long)used);
}
