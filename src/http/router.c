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

static const char *const access_names[] = {
    [ACCESS_PUBLIC] = "public", [ACCESS_SIGNED] = "signed", [ACCESS_TOKEN] = "token",
    [ACCESS_READER] = "reader", [ACCESS_WRITER] = "writer", [ACCESS_ADMIN] = "admin",
    [ACCESS_SERVER_ADMIN] = "server_admin",
};
static const char *const scope_names[] = {
    [SCOPE_NONE] = "none", [SCOPE_ORG] = "org", [SCOPE_ARTIFACT] = "artifact"};

/* The outcome the table promises a caller, as printed in the matrix: "ok" means the access
 * rules let the call through (the handler may still answer 4xx for the request itself). */
static const char *promise(const route *r, int who)
{
    /* who: 0 no token, 1-3 another org's reader/writer/admin, 4-6 own reader/writer/admin,
     * 7 server admin */
    static const int role_of[] = {0, 1, 2, 3, 1, 2, 3, 3};
    int need = r->access == ACCESS_READER ? 1 : r->access == ACCESS_WRITER ? 2
             : r->access == ACCESS_ADMIN  ? 3 : 0;
    switch (r->access) {
    case ACCESS_PUBLIC:
        return "ok";
    case ACCESS_SIGNED:
        return "signature";
    case ACCESS_TOKEN:
        return who == 0 ? "401" : "ok";
    case ACCESS_SERVER_ADMIN:
        return who == 0 ? "401" : who == 7 ? "ok" : "403";
    default:
        break;
    }
    if (who == 0)
        return "401";
    if (who == 7)
        return "ok";
    if (who <= 3 && r->scope == SCOPE_ORG)
        return "404";
    if (who <= 3 && r->scope == SCOPE_ARTIFACT)
        return need > 1 ? "404 private, 403 public" : "404 private, ok public";
    return role_of[who] >= need ? "ok" : "403";
}

void router_describe(FILE *f, bool markdown)
{
    static const char *const who[] = {"no token", "other reader", "other writer", "other admin",
                                      "reader", "writer", "admin", "server admin"};
    if (!markdown) {
        fputs("[\n", f);
        for (int i = 0; i < router_route_count; i++) {
            const route *r = &router_routes[i];
            fprintf(f, "  {\"method\": \"%s\", \"pattern\": \"%s\", \"name\": \"%s\", "
                       "\"access\": \"%s\", \"scope\": \"%s\", \"door\": \"%s\"}%s\n",
                    r->method, r->pattern, r->name, access_names[r->access],
                    scope_names[r->scope], r->door ? r->door->name : "v1",
                    i + 1 < router_route_count ? "," : "");
        }
        fputs("]\n", f);
        return;
    }
    fputs("| method | path | access | scope |", f);
    for (int w = 0; w < 8; w++)
        fprintf(f, " %s |", who[w]);
    fputs("\n|---|---|---|---|", f);
    for (int w = 0; w < 8; w++)
        fputs("---|", f);
    fputc('\n', f);
    for (int i = 0; i < router_route_count; i++) {
        const route *r = &router_routes[i];
        fprintf(f, "| %s | `%s` | %s | %s |", r->method, r->pattern, access_names[r->access],
                scope_names[r->scope]);
        for (int w = 0; w < 8; w++)
            fprintf(f, " %s |", promise(r, w));
        fputc('\n', f);
    }
}
