/*
 * manage.c: catalog management on one artifact or many: restore, duplicate, bulk, docs
 * (API.md §4).
 */
#include "api/handlers.h"

#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "core/markdown.h"
#include "core/name.h"
#include "util/crypto.h"
#include "util/timeutil.h"

static int do_restore(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_artifact m;
    if (api_org_access(&o, c, tx, ROLE_ADMIN, &r->e) < 0)
        return -1;
    const char *name = api_param(c, "name");
    int64_t now = time_now_ms();
    int64_t since = now - (int64_t)c->app->cfg->retention_days * 86400000LL;
    if (store_artifact_restore(&m, tx, o.id, api_param(c, "kind"), name, since, now, c->a,
                               &r->e) < 0)
        return -1;
    json_t *body = api_artifact_json(&m);
    return api_json_etag(r, c, 200, body);
}

int api_artifact_restore(api_reply *r, api_call *c)
{
    if (api_check_body(c, NULL, 0, &r->e) < 0)
        return -1;
    return api_in_tx(r, c, true, do_restore);
}

static int do_duplicate(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_artifact src, dst;
    if (api_artifact_access(&o, &src, c, tx, ROLE_WRITER, &r->e) < 0)
        return -1;
    const char *new_name = api_body_str(c, "new_name");
    char id[37];
    crypto_uuid7(id);
    int64_t now = time_now_ms();
    dst = src;
    dst.id = id;
    dst.name = (char *)new_name;
    dst.created_at = dst.updated_at = now;
    if (store_artifact_insert(tx, &dst, &r->e) < 0)
        return -1;
    if (json_is_true(json_object_get(c->body, "include_versions"))) {
        store_version *vs;
        size_t n;
        if (store_version_list(&vs, &n, tx, src.id, NULL, c->a, &r->e) < 0 ||
            api_version_quota(r, c, tx, &o, (int64_t)n) < 0)
            return -1;
        for (size_t i = 0; i < n; i++) {
            /* Blobs are content-addressed: copies share them (API.md §4). */
            char vid[37];
            crypto_uuid7(vid);
            store_version v = vs[i];
            v.id = vid;
            v.artifact_id = id;
            v.created_at = v.updated_at = now;
            v.size_bytes = 0; /* copy_files adds the sizes of the files it copies */
            if (store_version_insert(tx, &v, &r->e) < 0 ||
                store_version_update(tx, &v, now, &r->e) < 0 ||
                store_version_copy_files(tx, vs[i].id, vid, now, &r->e) < 0)
                return -1;
        }
    }
    if (store_artifact_refresh(tx, id, now, &r->e) < 0 ||
        store_artifact_get(&dst, tx, o.id, src.kind, id, true, c->a, &r->e) < 0)
        return -1;
    json_t *body = api_artifact_json(&dst);
    return api_json_etag(r, c, 201, body);
}

int api_artifact_duplicate(api_reply *r, api_call *c)
{
    static const field_spec specs[] = {{"new_name", F_STR, 96, true},
                                       {"include_versions", F_BOOL, 0, false}};
    if (api_check_body(c, specs, 2, &r->e) < 0)
        return -1;
    const char *n = api_body_str(c, "new_name");
    if (!name_is_valid(n, strlen(n)) || name_is_reserved(n, strlen(n)))
        return err_field_add(&r->e, "body", "new_name", "string_pattern_mismatch",
                             "String should match pattern '^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$' "
                             "and not be a reserved word");
    return api_in_tx(r, c, true, do_duplicate);
}

/* Runs one bulk item as its own request: same caller, its own body and transaction. */
static json_t *bulk_item(api_call *c, const char *op, json_t *item, api_handler h)
{
    api_call sub = *c;
    api_reply rep = {0};
    const char *name = json_string_value(json_object_get(item, "name"));
    json_t *body = NULL;
    sub.body = NULL;
    if (strcmp(op, "create") == 0) {
        sub.body = item;
    } else if (strcmp(op, "update") == 0) {
        body = json_deep_copy(item);
        json_object_del(body, "name");
        sub.body = body;
    }
    if (name && (strcmp(op, "create") != 0)) {
        size_t k = 0;
        while (k < sub.nparams && strcmp(sub.params[k].key, "name") != 0)
            k++;
        if (k < API_MAX_PARAMS) {
            sub.params[k].key = "name";
            sub.params[k].value = name;
            if (k == sub.nparams)
                sub.nparams++;
        }
    }
    if (!name && strcmp(op, "create") != 0)
        err_field_add(&rep.e, "body", "name", "missing", "Field required");
    else if (!json_is_object(item))
        err_field_add(&rep.e, "body", op, "dict_type", "each item should be an object");
    else if (h(&rep, &sub) < 0 && rep.e.kind == ERR_NONE)
        err_set(&rep.e, ERR_SERVER, "internal error");
    if (!rep.body && rep.raw) /* the handler serialised its reply already */
        rep.body = json_loadb(rep.raw, rep.raw_len, 0, NULL);
    json_t *res = json_pack("{s:s, s:o, s:b}", "op", op, "name", name ? json_string(name)
                                                                       : json_null(),
                            "ok", rep.e.kind == ERR_NONE);
    if (rep.e.kind != ERR_NONE) {
        json_object_set_new(res, "error", api_error_body(&rep.e));
    } else if (json_is_object(rep.body) && json_object_get(rep.body, "id")) {
        json_object_set(res, "id", json_object_get(rep.body, "id"));
    }
    json_decref(rep.body);
    json_decref(body);
    return res;
}

int api_artifact_bulk(api_reply *r, api_call *c)
{
    static const field_spec specs[] = {{"create", F_OBJLIST, 0, false},
                                       {"update", F_OBJLIST, 0, false},
                                       {"delete", F_STRLIST, 96, false}};
    if (api_check_body(c, specs, 3, &r->e) < 0)
        return -1;
    json_t *results = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(c->body, "create"), i, x)
        json_array_append_new(results, bulk_item(c, "create", x, api_artifact_create));
    json_array_foreach(json_object_get(c->body, "update"), i, x)
        json_array_append_new(results, bulk_item(c, "update", x, api_artifact_patch));
    json_array_foreach(json_object_get(c->body, "delete"), i, x)
    {
        json_t *item = json_pack("{s:O}", "name", x);
        json_array_append_new(results, bulk_item(c, "delete", item, api_artifact_delete));
        json_decref(item);
    }
    return api_json(r, 200, json_pack("{s:o}", "results", results));
}

/* The calls that work on one artifact, for the docs page. */
static const struct {
    const char *method, *suffix, *summary;
} operations[] = {
    {"GET", "", "Get the artifact"},
    {"PATCH", "", "Update fields (If-Match or expected_revision)"},
    {"DELETE", "", "Soft-delete (restorable inside the retention window)"},
    {"POST", "/restore", "Undo a delete"},
    {"POST", "/duplicate", "Copy under a new name"},
    {"GET", "/docs", "This page"},
    {"GET", "/versions", "List versions, newest first"},
    {"POST", "/versions", "Create a draft version"},
    {"GET", "/versions/{version}", "Get a version by SemVer, alias, latest or id"},
    {"POST", "/versions/{version}/publish", "Publish a draft"},
    {"POST", "/versions/{version}/deprecate", "Deprecate a published version"},
    {"PUT", "/aliases/{alias}", "Point an alias at a version"},
    {"GET", "/packages", "Every package of every version"},
};

static int do_docs(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_artifact m;
    store_version *vs;
    size_t n;
    if (api_artifact_access(&o, &m, c, tx, ROLE_READER, &r->e) < 0 ||
        store_version_list(&vs, &n, tx, m.id, NULL, c->a, &r->e) < 0)
        return -1;
    char *html = markdown_to_safe_html(m.description ? m.description : "",
                                       m.description ? strlen(m.description) : 0);
    json_t *versions = json_array();
    for (size_t i = 0; i < n; i++)
        if (api_version_visible(c, &m, vs[i].lifecycle))
            json_array_append_new(versions, json_string(vs[i].version));
    json_t *ops = json_array();
    const char *base =
        arena_printf(c->a, "/api/v1/org/%s/%s/%s", o.slug, m.kind, m.name);
    for (size_t i = 0; i < sizeof(operations) / sizeof(operations[0]); i++)
        json_array_append_new(ops, json_pack("{s:s, s:s, s:s}", "method", operations[i].method,
                                             "path",
                                             arena_printf(c->a, "%s%s", base,
                                                          operations[i].suffix),
                                             "summary", operations[i].summary));
    json_t *resources = json_array();
    if (m.latest_version_id && api_version_visible(c, &m, "published") &&
        api_version_resources(resources, c, tx, m.latest_version_id, &r->e) < 0) {
        free(html);
        json_decref(versions);
        json_decref(ops);
        json_decref(resources);
        return -1;
    }
    json_t *body = json_pack("{s:s, s:s, s:o, s:s, s:o, s:o, s:o}", "name", m.name, "type",
                             strcmp(m.kind, "models") == 0 ? "model" : "capability",
                             "description", api_str(m.description), "html", html ? html : "",
                             "versions", versions, "resources", resources, "api_operations",
                             ops);
    free(html);
    return api_json(r, 200, body);
}

int api_artifact_docs(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, false, do_docs);
}
