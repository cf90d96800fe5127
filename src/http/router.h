/*
 * router.h: the route table and path matching. Patterns are "/a/{param}/b"; a parameter named
 * `kind` matches only "models" or "capabilities"; a last segment "{name*}" takes the rest.
 */
#ifndef CAIRN_ROUTER_H
#define CAIRN_ROUTER_H

#include <stdbool.h>
#include <stdio.h>

#include "api/api.h"

/* Who may call a route: the one place that says it (enforced by http/ before the handler). */
typedef enum route_access {
    ACCESS_PUBLIC,       /* no token needed; a token that is sent is still resolved */
    ACCESS_SIGNED,       /* a presigned URL: the signature is the credential, tokens ignored */
    ACCESS_TOKEN,        /* any valid token */
    ACCESS_READER,       /* {org} routes: at least this role in {org} (or server admin) */
    ACCESS_WRITER,
    ACCESS_ADMIN,
    ACCESS_SERVER_ADMIN, /* server-admin tokens only */
} route_access;

/* How a route's {org} is scoped for callers of another org. */
typedef enum route_scope {
    SCOPE_NONE,     /* no {org} in the path */
    SCOPE_ORG,      /* org-private: another org's caller gets 404 */
    SCOPE_ARTIFACT, /* another org may read public artifacts (404 for private ones, 403 for
                     * writes to public ones); the handler resolves the artifact */
} route_scope;

typedef struct route {
    const char *method;
    const char *pattern;
    api_handler handler;
    route_access access;
    route_scope scope;
    const char *name;         /* stable label for logs and metrics */
    const api_upload *upload; /* set for routes whose body is streamed (handler is NULL) */
    const api_door *door;     /* a foreign protocol's error shape and body rules; NULL: v1 */
} route;

extern const route router_routes[];
extern const int router_route_count;

/* Finds the route for method+path, filling c->params (values in c->a). Returns the route, or
 * NULL: then *allow holds the allowed methods if the path exists ("" if it does not). */
const route *router_match(api_call *c, const char *method, const char *path, char *allow,
                          size_t allow_cap);

/* Prints the route table: as JSON (one object per route: method, pattern, name, access, scope,
 * door), or as the Markdown access matrix of docs/access.md (`cairnd routes [--markdown]`). */
void router_describe(FILE *f, bool markdown);

#endif
