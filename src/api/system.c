/*
 * system.c: health, readiness, the OpenAPI document, whoami.
 */
#include "api/handlers.h"

#include "api/common.h"

int api_healthz(api_reply *r, api_call *c)
{
    (void)c;
    return api_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

int api_readyz(api_reply *r, api_call *c)
{
    if (!store_ping(c->app->store))
        return api_json(r, 503, json_pack("{s:s, s:s}", "status", "unavailable", "detail",
                                          "database unreachable"));
    if (!blob_ping(c->app->blob))
        return api_json(r, 503, json_pack("{s:s, s:s}", "status", "unavailable", "detail",
                                          "blob store unreachable"));
    return api_json(r, 200, json_pack("{s:s}", "status", "ready"));
}

int api_openapi(api_reply *r, api_call *c)
{
    if (!c->app->openapi)
        return err_set(&r->e, ERR_NOT_FOUND, "the OpenAPI document is not available");
    json_t *doc = json_incref(c->app->openapi);
    r->etag = api_etag_of(doc, c->a);
    return api_json(r, 200, doc);
}

int api_whoami(api_reply *r, api_call *c)
{
    const api_caller *k = &c->caller;
    const char *role = k->role == ROLE_ADMIN ? "admin" : k->role == ROLE_WRITER ? "writer"
                                                                                 : "reader";
    return api_json(r, 200,
                    json_pack("{s:o, s:s, s:o, s:b}", "org", api_str(k->org_slug), "role", role,
                              "token_id", api_str(k->token_id), "server_admin",
                              k->server_admin));
}
