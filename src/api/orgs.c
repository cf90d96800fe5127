/*
 * orgs.c: orgs and their API tokens (API.md §3).
 */
#include "api/handlers.h"

#include <string.h>

#include "api/common.h"
#include "core/name.h"
#include "core/token.h"
#include "util/timeutil.h"

static int list_reply(api_reply *r, json_t *items, int64_t total, const char *next, arena *a)
{
    return api_json(r, 200,
                    json_pack("{s:o, s:I, s:o}", "items", items, "total", (json_int_t)total,
                              "next_cursor", next ? json_string(api_cursor_encode(next, a))
                                                  : json_null()));
}

static int do_org_create(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    const char *slug = api_body_str(c, "slug");
    if (store_org_create(&o, tx, slug, api_body_str(c, "display_name"), c->a, &r->e) < 0)
        return -1;
    return api_json(r, 201, api_org_json(&o, c->app->cfg));
}

int api_org_create(api_reply *r, api_call *c)
{
    static const field_spec specs[] = {{"slug", F_STR, 39, true},
                                       {"display_name", F_NSTR, 256, false}};
    if (api_check_body(c, specs, 2, &r->e) < 0)
        return -1;
    const char *slug = api_body_str(c, "slug");
    if (!slug_is_valid(slug, strlen(slug)))
        return err_field_add(&r->e, "body", "slug", "string_pattern_mismatch",
                             "String should match pattern '^[a-z0-9][a-z0-9-]{1,38}$'");
    return api_in_tx(r, c, true, do_org_create);
}

static int do_org_list(api_reply *r, api_call *c, store_tx *tx)
{
    int limit;
    const char *after;
    store_org *items;
    size_t n;
    int64_t total;
    if (api_limit(&limit, c, &r->e) < 0 || api_cursor_decode(&after, c, &r->e) < 0)
        return -1;
    if (store_org_list(&items, &n, &total, tx, after, limit + 1, c->a, &r->e) < 0)
        return -1;
    json_t *arr = json_array();
    for (size_t i = 0; i < n && i < (size_t)limit; i++)
        json_array_append_new(arr, api_org_json(&items[i], c->app->cfg));
    return list_reply(r, arr, total, n > (size_t)limit ? items[limit - 1].id : NULL, c->a);
}

int api_org_list(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, false, do_org_list);
}

static int do_org_get(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    if (api_org_access(&o, c, tx, ROLE_READER, &r->e) < 0)
        return -1;
    json_t *body = api_org_json(&o, c->app->cfg);
    return api_json_etag(r, c, 200, body);
}

int api_org_get(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, false, do_org_get);
}

static json_t *token_json(const store_token *t)
{
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o}", "id", t->id, "name", t->name, "role",
                     t->role, "created_at", api_time(t->created_at), "expires_at",
                     api_time(t->expires_at), "last_used_at", api_time(t->last_used_at));
}

static int do_token_create(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_token t;
    char secret[64], hash[65];
    if (api_org_access(&o, c, tx, ROLE_ADMIN, &r->e) < 0)
        return -1;
    json_t *days = json_object_get(c->body, "expires_in_days");
    int64_t expires = 0;
    if (json_is_integer(days))
        expires = time_now_ms() + json_integer_value(days) * 86400000LL;
    if (token_new(secret) < 0)
        return err_set(&r->e, ERR_SERVER, "no randomness available");
    token_hash(hash, secret);
    if (store_token_create(&t, tx, o.id, api_body_str(c, "name"), api_body_str(c, "role"), false,
                           hash, expires, c->a, &r->e) < 0)
        return -1;
    json_t *body = token_json(&t);
    json_object_del(body, "last_used_at");
    json_object_set_new(body, "token", json_string(secret));
    return api_json(r, 201, body);
}

int api_token_create(api_reply *r, api_call *c)
{
    static const field_spec specs[] = {{"name", F_STR, 128, true},
                                       {"role", F_STR, 16, true},
                                       {"expires_in_days", F_INT, 3650, false}};
    if (api_check_body(c, specs, 3, &r->e) < 0)
        return -1;
    const char *role = api_body_str(c, "role");
    if (role_rank(role, strlen(role)) == 0)
        return err_field_add(&r->e, "body", "role", "enum",
                             "Input should be 'reader', 'writer' or 'admin'");
    if (!*api_body_str(c, "name"))
        return err_field_add(&r->e, "body", "name", "string_too_short",
                             "String should have at least 1 character");
    json_t *days = json_object_get(c->body, "expires_in_days");
    if (days && json_integer_value(days) < 1)
        return err_field_add(&r->e, "body", "expires_in_days", "value_error",
                             "Input should be between 1 and 3650");
    return api_in_tx(r, c, true, do_token_create);
}

static int do_token_list(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    int limit;
    const char *after;
    store_token *items;
    size_t n;
    int64_t total;
    if (api_org_access(&o, c, tx, ROLE_ADMIN, &r->e) < 0)
        return -1;
    if (api_limit(&limit, c, &r->e) < 0 || api_cursor_decode(&after, c, &r->e) < 0)
        return -1;
    if (store_token_list(&items, &n, &total, tx, o.id, c->caller.server_admin, after,
                         limit + 1, c->a, &r->e) < 0)
        return -1;
    json_t *arr = json_array();
    for (size_t i = 0; i < n && i < (size_t)limit; i++)
        json_array_append_new(arr, token_json(&items[i]));
    return list_reply(r, arr, total, n > (size_t)limit ? items[limit - 1].id : NULL, c->a);
}

int api_token_list(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, false, do_token_list);
}

static int do_token_delete(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    const char *id = api_param(c, "id");
    if (api_org_access(&o, c, tx, ROLE_ADMIN, &r->e) < 0)
        return -1;
    if (!uuid_is_valid(id, strlen(id)))
        return err_set(&r->e, ERR_NOT_FOUND, "token '%s' not found", id);
    if (store_token_revoke(tx, o.id, id, c->caller.server_admin, time_now_ms(), &r->e) < 0)
        return -1;
    r->status = 204;
    return 0;
}

int api_token_delete(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, true, do_token_delete);
}
