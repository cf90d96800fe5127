/*
 * files.c: packages and resources of versions as JSON, and GET .../packages (seed 004).
 * Uploads and downloads of the bytes live in upload.c and download.c.
 */
#include "api/handlers.h"

#include <string.h>

#include "api/common.h"

json_t *api_resource_json(const store_resource *r)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:b, s:I, s:s, s:o, s:s}", "id", r->id, "package_id",
                     r->package_id, "path", r->path, "kind", r->kind, "primary", r->primary,
                     "size_bytes", (json_int_t)r->size_bytes, "sha256", r->sha256, "media_type",
                     api_str(r->media_type), "storage_key", r->storage_key);
}

int api_version_resources(json_t *out, api_call *c, store_tx *tx, const char *version_id,
                          err *e)
{
    store_resource *rs;
    size_t n;
    if (store_resource_list(&rs, &n, tx, version_id, NULL, c->a, e) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        json_array_append_new(out, api_resource_json(&rs[i]));
    return 0;
}

int api_version_packages(json_t **out, api_call *c, store_tx *tx, const char *version_id,
                         err *e)
{
    store_package *ps;
    store_resource *rs;
    size_t np, nr;
    *out = NULL;
    if (store_package_list(&ps, &np, tx, version_id, c->a, e) < 0 ||
        store_resource_list(&rs, &nr, tx, version_id, NULL, c->a, e) < 0)
        return -1;
    json_t *arr = json_array();
    for (size_t i = 0; i < np; i++) {
        json_t *res = json_array();
        for (size_t k = 0; k < nr; k++)
            if (strcmp(rs[k].package_id, ps[i].id) == 0)
                json_array_append_new(res, api_resource_json(&rs[k]));
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:I, s:o, s:o}", "id",
                                             ps[i].id, "version_id", ps[i].version_id, "format",
                                             ps[i].format, "kind", ps[i].kind, "size_bytes",
                                             (json_int_t)ps[i].size_bytes, "created_at",
                                             api_time(ps[i].created_at), "resources", res));
    }
    *out = arr;
    return 0;
}

static int do_packages(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_artifact m;
    store_version *vs;
    size_t n;
    if (api_artifact_access(&o, &m, c, tx, ROLE_READER, &r->e) < 0 ||
        store_version_list(&vs, &n, tx, m.id, NULL, c->a, &r->e) < 0)
        return -1;
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *pk;
        if (!api_version_visible(c, &m, vs[i].lifecycle))
            continue;
        if (api_version_packages(&pk, c, tx, vs[i].id, &r->e) < 0) {
            json_decref(items);
            return -1;
        }
        size_t k;
        json_t *p;
        json_array_foreach(pk, k, p)
        {
            json_object_set_new(p, "version", json_string(vs[i].version));
            json_array_append(items, p);
        }
        json_decref(pk);
    }
    size_t total = json_array_size(items);
    return api_json(r, 200, json_pack("{s:o, s:I, s:n}", "items", items, "total",
                                      (json_int_t)total, "next_cursor"));
}

int api_package_list(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, false, do_packages);
}
