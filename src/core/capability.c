/*
 * capability.c: validation of capability.json manifests.
 */
#include "core/capability.h"

#include <stdbool.h>
#include <string.h>

static const char *const component_types[] = {"agent", "tool", "skill", "mcp_server", "worker"};

static int bad(err *e, const char *msg)
{
    return err_field_add(e, "body", CAPABILITY_MANIFEST, "value_error", "%s", msg);
}

int capability_parse(json_t **keywords, json_t **components, json_t **description,
                     const char *p, size_t n, err *e)
{
    json_error_t je;
    json_t *doc = NULL, *kw = json_array(), *comps = json_array();
    int rc = -1;
    *keywords = *components = *description = NULL;
    if (n > CAPABILITY_MANIFEST_MAX) {
        bad(e, "capability.json is larger than 1 MiB");
        goto out;
    }
    doc = json_loadb(p, n, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(doc)) {
        bad(e, "capability.json is not a JSON object");
        goto out;
    }
    json_t *k = json_object_get(doc, "keywords");
    size_t i;
    json_t *x;
    if (k && !json_is_array(k)) {
        bad(e, "keywords must be a list of strings");
        goto out;
    }
    json_array_foreach(k, i, x)
    {
        if (!json_is_string(x) || json_string_length(x) == 0 || json_string_length(x) > 64 ||
            i >= 100) {
            bad(e, "keywords must be at most 100 strings of 1..64 bytes");
            goto out;
        }
        json_array_append(kw, x);
    }
    json_t *c = json_object_get(doc, "components");
    if (c && !json_is_array(c)) {
        bad(e, "components must be a list");
        goto out;
    }
    json_array_foreach(c, i, x)
    {
        const char *name = json_string_value(json_object_get(x, "name"));
        const char *type = json_string_value(json_object_get(x, "type"));
        json_t *path = json_object_get(x, "path"), *desc = json_object_get(x, "description");
        bool type_ok = false;
        for (size_t t = 0; type && t < 5; t++)
            type_ok |= strcmp(type, component_types[t]) == 0;
        if (!json_is_object(x) || !name || !*name || strlen(name) > 256 || !type_ok ||
            (path && !json_is_string(path)) || (desc && !json_is_string(desc)) || i >= 1000) {
            bad(e, "each component is {name, type, path?, description?} with type one of "
                   "agent, tool, skill, mcp_server, worker");
            goto out;
        }
        json_array_append_new(
            comps, json_pack("{s:s, s:s, s:o, s:o}", "name", name, "type", type, "path",
                             path ? json_incref(path) : json_null(), "description",
                             desc ? json_incref(desc) : json_null()));
    }
    json_t *d = json_object_get(doc, "description");
    if (json_is_string(d))
        *description = json_incref(d);
    *keywords = kw;
    *components = comps;
    kw = comps = NULL;
    rc = 0;
out:
    json_decref(kw);
    json_decref(comps);
    json_decref(doc);
    return rc;
}
