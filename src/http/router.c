/*
 * router.c: matches a request path against the route table, segment by segment.
 */
#include "http/router.h"

#include <stdio.h>
#include <string.h>

static bool seg_match(api_call *c, const char *pat, size_t pn, const char *seg, size_t sn,
                      bool *rest)
{
    *rest = false;
    if (pn >= 2 && pat[0] == '{' && pat[pn - 1] == '}') {
        const char *name = pat + 1;
        size_t nn = pn - 2;
        if (nn > 0 && name[nn - 1] == '*') {
            *rest = true;
            nn--;
        }
        if (sn == 0)
            return false;
        if (nn == 4 && memcmp(name, "kind", 4) == 0 &&
            !(sn == 6 && memcmp(seg, "models", 6) == 0) &&
            !(sn == 12 && memcmp(seg, "capabilities", 12) == 0))
            return false;
        if (c && c->nparams < API_MAX_PARAMS) {
            c->params[c->nparams].key = arena_strndup(c->a, name, nn);
            c->params[c->nparams].value = NULL; /* filled by caller for rest */
            c->params[c->nparams].value = arena_strndup(c->a, seg, sn);
            c->nparams++;
        }
        return true;
    }
    return pn == sn && memcmp(pat, seg, pn) == 0;
}

static bool path_match(api_call *c, const char *pattern, const char *path)
{
    const char *p = pattern, *s = path;
    size_t saved = c ? c->nparams : 0;
    for (;;) {
        if (*p == '\0' || *s == '\0')
            break;
        if (*p != '/' || *s != '/')
            goto fail;
        p++;
        s++;
        const char *pe = strchr(p, '/');
        const char *se = strchr(s, '/');
        size_t pn = pe ? (size_t)(pe - p) : strlen(p);
        size_t sn = se ? (size_t)(se - s) : strlen(s);
        bool rest;
        if (pn >= 3 && p[0] == '{' && p[pn - 2] == '*') {
            sn = strlen(s); /* the rest of the path, slashes included */
        }
        if (!seg_match(c, p, pn, s, sn, &rest))
            goto fail;
        p += pn;
        s += sn;
    }
    if (*p == '\0' && *s == '\0')
        return true;
fail:
    if (c)
        c->nparams = saved;
    return false;
}

const route *router_match(api_call *c, const char *method, const char *path, char *allow,
                          size_t allow_cap)
{
    size_t used = 0;
    allow[0] = '\0';
    for (int i = 0; i < router_route_count; i++) {
        const route *r = &router_routes[i];
        if (strcmp(r->method, method) == 0 || (strcmp(method, "HEAD") == 0 &&
                                               strcmp(r->method, "GET") == 0)) {
            c->nparams = 0;
            if (path_match(c, r->pattern, path))
                return r;
        }
    }
    for (int i = 0; i < router_route_count; i++) {
        const route *r = &router_routes[i];
        if (path_match(NULL, r->pattern, path) && !strstr(allow, r->method)) {
            int w = snprintf(allow + used, allow_cap - used, "%s%s", used ? ", " : "", r->method);
            if (w > 0 && (size_t)w < allow_cap - used)
                used += (size_t)w;
        }
    }
    c->nparams = 0;
    return NULL;
}
