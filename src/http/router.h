/*
 * router.h: the route table and path matching. Patterns are "/a/{param}/b"; a parameter named
 * `kind` matches only "models" or "capabilities"; a last segment "{name*}" takes the rest.
 */
#ifndef CAIRN_ROUTER_H
#define CAIRN_ROUTER_H

#include <stdbool.h>

#include "api/api.h"

typedef struct route {
    const char *method;
    const char *pattern;
    api_handler handler;
    bool public_route; /* no token needed */
    const char *name;  /* stable label for logs and metrics */
    const api_upload *upload; /* set for routes whose body is streamed (handler is NULL) */
} route;

extern const route router_routes[];
extern const int router_route_count;

/* Finds the route for method+path, filling c->params (values in c->a). Returns the route, or
 * NULL: then *allow holds the allowed methods if the path exists ("" if it does not). */
const route *router_match(api_call *c, const char *method, const char *path, char *allow,
                          size_t allow_cap);

#endif
