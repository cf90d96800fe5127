/*
 * test_routes.c: every routed path appears in docs/openapi.yaml with its method, and the
 * router resolves parameters, the {kind} constraint and 405s.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "core/yamljson.h"
#include "http/router.h"

extern const unsigned char cairn_openapi_yaml[];
extern const unsigned int cairn_openapi_yaml_len;

/* "{path*}" (the rest of the path) is written "{path}" in OpenAPI. */
static void documented_form(char *out, size_t cap, const char *pattern)
{
    size_t o = 0;
    for (const char *p = pattern; *p && o + 1 < cap; p++)
        if (!(*p == '*' && p[1] == '}'))
            out[o++] = *p;
    out[o] = '\0';
}

static void every_documented_operation_is_routed(void **state)
{
    (void)state;
    char errbuf[256];
    json_t *doc = yaml_to_json((const char *)cairn_openapi_yaml, cairn_openapi_yaml_len, errbuf,
                               sizeof(errbuf));
    assert_non_null(doc);
    const char *path;
    json_t *item;
    json_object_foreach(json_object_get(doc, "paths"), path, item)
    {
        const char *method;
        json_t *op;
        json_object_foreach(item, method, op)
        {
            static const char *const verbs[] = {"get", "put", "post", "patch", "delete", "head"};
            bool verb = false;
            for (size_t k = 0; k < 6; k++)
                verb |= strcmp(method, verbs[k]) == 0;
            if (!verb)
                continue;
            bool found = false;
            for (int i = 0; i < router_route_count && !found; i++) {
                char pat[256], m[16];
                documented_form(pat, sizeof(pat), router_routes[i].pattern);
                size_t k = 0;
                for (; router_routes[i].method[k] && k < sizeof(m) - 1; k++)
                    m[k] = (char)tolower((unsigned char)router_routes[i].method[k]);
                m[k] = '\0';
                /* HEAD is served by every GET route. */
                found = strcmp(pat, path) == 0 &&
                        (strcmp(m, method) == 0 ||
                         (strcmp(method, "head") == 0 && strcmp(m, "get") == 0));
            }
            if (!found)
                fail_msg("docs/openapi.yaml documents %s %s, which no route serves", method,
                         path);
        }
    }
    json_decref(doc);
}

static void every_route_is_documented(void **state)
{
    (void)state;
    char errbuf[256];
    json_t *doc = yaml_to_json((const char *)cairn_openapi_yaml, cairn_openapi_yaml_len, errbuf,
                               sizeof(errbuf));
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
    json_t *paths = json_object_get(doc, "paths");
    assert_non_null(paths);
    for (int i = 0; i < router_route_count; i++) {
        const route *r = &router_routes[i];
        char pat[256];
        documented_form(pat, sizeof(pat), r->pattern);
        json_t *item = json_object_get(paths, pat);
        if (!item)
            fail_msg("route %s %s is missing from docs/openapi.yaml", r->method, r->pattern);
        char m[16];
        size_t k = 0;
        for (; r->method[k] && k < sizeof(m) - 1; k++)
            m[k] = (char)tolower((unsigned char)r->method[k]);
        m[k] = '\0';
        if (!json_object_get(item, m))
            fail_msg("%s %s is not documented in docs/openapi.yaml", r->method, r->pattern);
    }
    json_decref(doc);
}

static void router_matches_params(void **state)
{
    (void)state;
    api_call c = {0};
    c.a = arena_create();
    char allow[64];
    const route *r = router_match(&c, "GET", "/api/v1/org/acme/models/llama/versions/1.0.0",
                                  allow, sizeof(allow));
    assert_non_null(r);
    assert_string_equal(r->name, "versions.get");
    assert_string_equal(api_param(&c, "org"), "acme");
    assert_string_equal(api_param(&c, "kind"), "models");
    assert_string_equal(api_param(&c, "name"), "llama");
    assert_string_equal(api_param(&c, "version"), "1.0.0");
    /* {kind} only takes models|capabilities, so /versions/{id} is its own route. */
    r = router_match(&c, "GET", "/api/v1/org/acme/versions/0193", allow, sizeof(allow));
    assert_non_null(r);
    assert_string_equal(r->name, "versions.get_by_id");
    r = router_match(&c, "GET", "/api/v1/org/acme/widgets/x", allow, sizeof(allow));
    assert_null(r);
    assert_string_equal(allow, "");
    r = router_match(&c, "PUT", "/api/v1/org/acme/models/llama", allow, sizeof(allow));
    assert_null(r);
    assert_non_null(strstr(allow, "GET"));
    assert_non_null(strstr(allow, "PATCH"));
    assert_non_null(strstr(allow, "DELETE"));
    r = router_match(&c, "GET", "/api/v1/org/acme/models/llama/", allow, sizeof(allow));
    assert_null(r);
    arena_free(c.a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_route_is_documented),
        cmocka_unit_test(every_documented_operation_is_routed),
        cmocka_unit_test(router_matches_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
