/*
 * ops.c: seed-002 `docs`, `export` (a CSV kept as a stored upload, downloadable) and
 * `refresh` (API.md §10).
 */
#include "api/v5/v5.h"

#include <stdlib.h>
#include <string.h>

#include "api/admin.h"
#include "api/handlers.h"
#include "core/name.h"
#include "util/crypto.h"
#include "util/timeutil.h"

#define BASE "/api/v5/artifacts/models/"

/* The operations, for docs. `role` repeats the route table's level (src/http/routes.c); the
 * v5 test compares the two. */
static const struct {
    const char *method, *op, *summary, *role;
} ops[] = {
    {"POST", "get", "Get a model (model_id) or a draft (draft_id) as editor sections", "reader"},
    {"POST", "search", "Search models with relation filters, facet counts and paging", "reader"},
    {"POST", "create", "Create models, one result per item", "writer"},
    {"POST", "update", "Update models, one result per item", "writer"},
    {"POST", "duplicate", "Copy a model under a free '<name>-copy' name", "writer"},
    {"POST", "delete", "Delete models (restorable in the retention window)", "admin"},
    {"PATCH", "draft", "Create or change a draft of the calling token", "writer"},
    {"POST", "drafts", "List the calling token's drafts", "reader"},
    {"POST", "docs", "This documentation", "reader"},
    {"POST", "export", "Write the CSV of the models as a stored upload", "reader"},
    {"GET", "uploads/{upload_id}", "Download a stored export", "reader"},
    {"POST", "refresh", "Rebuild facet and search views, drop caches", "admin"},
};
#define N_OPS (sizeof(ops) / sizeof(ops[0]))

static int role_of(const char *s)
{
    return strcmp(s, "admin") == 0 ? ROLE_ADMIN : strcmp(s, "writer") == 0 ? ROLE_WRITER
                                                                           : ROLE_READER;
}

static int do_org(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    return v5_org(&o, c, tx, &r->e);
}

int v5_docs(api_reply *r, api_call *c)
{
    static const field_spec specs[] = {{"entity_id", F_STR, 128, false}};
    if (v5_check(c, specs, 1, false, &r->e) < 0 || api_in_tx(r, c, false, do_org) < 0)
        return -1;
    const char *entity = api_body_str(c, "entity_id");
    json_t *artifact = json_null(), *resources = json_array(), *api_ops = json_array();
    json_t *entries = json_array(), *perms = json_array();
    for (size_t i = 0; i < N_OPS; i++) {
        const char *path = arena_printf(c->a, BASE "%s", ops[i].op);
        json_array_append_new(entries, json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", ops[i].op,
                                                 "type", "operation", "description",
                                                 ops[i].summary, "method", ops[i].method,
                                                 "path", path));
        json_array_append_new(api_ops, json_pack("{s:s, s:s, s:s, s:s}", "name", ops[i].op,
                                                 "method", ops[i].method, "path", path,
                                                 "summary", ops[i].summary));
        json_array_append_new(perms, json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "name",
                                               ops[i].op, "method", ops[i].method, "path", path,
                                               "summary", ops[i].summary, "role", ops[i].role,
                                               "allowed",
                                               c->caller.role >= role_of(ops[i].role)));
    }
    if (entity) {
        /* The model's own page: v1's docs of it (card as safe HTML, versions, files, calls). */
        api_reply sub;
        if (v5_sub(&sub, c, api_artifact_docs, entity, NULL) < 0) {
            r->e = sub.e;
            json_decref(sub.body);
            json_decref(resources);
            json_decref(api_ops);
            json_decref(entries);
            json_decref(perms);
            return -1;
        }
        artifact = sub.body;
        size_t i;
        json_t *x;
        json_array_foreach(json_object_get(artifact, "resources"), i, x)
            json_array_append_new(resources,
                                  json_pack("{s:O, s:s, s:O, s:O, s:O}", "name",
                                            json_object_get(x, "path"), "type", "resource",
                                            "description", json_object_get(x, "kind"), "sha256",
                                            json_object_get(x, "sha256"), "size_bytes",
                                            json_object_get(x, "size_bytes")));
        json_array_foreach(json_object_get(artifact, "api_operations"), i, x)
            json_array_append_new(api_ops, json_deep_copy(x));
    }
    json_t *body = json_pack(
        "{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:{s:s, s:s, s:o}}", "name", "models", "type",
        "artifact", "description",
        "Models of the caller's org: the seed-002 RPC catalog over cairn's /api/v1 data. "
        "Relation id lists are sets on each model; drafts belong to the calling token.",
        "artifact", artifact, "entries", entries, "resources", resources, "permissions", perms,
        "api_operations", api_ops, "page_metadata", "title",
        entity ? arena_printf(c->a, "Model %s", entity) : "Models", "api_version", "v5",
        "actor_name", v5_actor(c));
    return api_json(r, 200, body);
}

/* ---- export ---- */

typedef struct export_job {
    const char *only;
    store_org org;
    char id[37];
    const char *file_name;
    int64_t rows;
} export_job;

/* Resolves the caller's org and the one model asked for, if any, and names the file. */
static int export_target(export_job *j, api_call *c, store_tx *tx, err *e)
{
    if (v5_org(&j->org, c, tx, e) < 0)
        return -1;
    if (j->only) {
        store_artifact m;
        if (store_artifact_get(&m, tx, j->org.id, "models", j->only,
                               uuid_is_valid(j->only, strlen(j->only)), c->a, e) < 0)
            return -1;
        j->only = m.id;
        j->file_name = arena_printf(c->a, "%s-%s.csv", j->org.slug, m.name);
    } else {
        j->file_name = arena_printf(c->a, "%s-models.csv", j->org.slug);
    }
    return 0;
}

static int write_csv(char hex[65], uint64_t *size, api_call *c, export_job *j, err *e)
{
    blob_writer *w = NULL;
    export_ctx *x = api_export_open(c->app, &j->org, "models", j->only);
    char *buf = malloc(65536);
    int rc = -1;
    if (!x || !buf) {
        err_set(e, ERR_SERVER, "out of memory");
        goto out;
    }
    if (blob_writer_open(&w, c->app->blob, e) < 0)
        goto out;
    long n;
    while ((n = api_export_read(x, buf, 65536)) > 0)
        if (blob_writer_write(w, buf, (size_t)n, e) < 0)
            goto out;
    if (n < 0) {
        err_set(e, ERR_DATABASE, "the export could not read the catalog");
        goto out;
    }
    j->rows = api_export_rows(x);
    rc = blob_writer_commit(w, NULL, hex, size, e);
    w = NULL;
out:
    blob_writer_abort(w);
    if (x)
        api_export_close(x);
    free(buf);
    return rc;
}

int v5_export(api_reply *r, api_call *c)
{
    static const field_spec specs[] = {{"model_id", F_STR, 128, false}};
    if (v5_check(c, specs, 1, false, &r->e) < 0)
        return -1;
    export_job j = {.only = api_body_str(c, "model_id")};
    store_tx *tx = NULL;
    if (store_tx_begin(&tx, c->app->store, false, &r->e) < 0)
        return -1;
    int rc = export_target(&j, c, tx, &r->e);
    if (store_tx_end(tx, false, &r->e) < 0 || rc < 0)
        return -1;
    char hex[65], key[128];
    uint64_t size = 0;
    if (write_csv(hex, &size, c, &j, &r->e) < 0)
        return -1;
    blob_key_of(key, sizeof(key), hex);
    crypto_uuid7(j.id);
    store_export x = {.id = j.id, .org_id = j.org.id, .file_name = (char *)j.file_name,
                      .storage_key = key, .sha256 = hex, .size_bytes = (int64_t)size,
                      .row_count = j.rows, .created_at = time_now_ms()};
    if (store_tx_begin(&tx, c->app->store, true, &r->e) < 0)
        return -1;
    bool ok = store_export_insert(tx, &x, &r->e) == 0;
    if (store_tx_end(tx, ok, &r->e) < 0 || !ok)
        return -1;
    return api_json(r, 200,
                    json_pack("{s:s, s:s, s:I, s:I, s:s, s:s}", "upload_id", j.id, "file_name",
                              j.file_name, "row_count", (json_int_t)j.rows, "size_bytes",
                              (json_int_t)size, "sha256", hex, "download_path",
                              arena_printf(c->a, BASE "uploads/%s", j.id)));
}

static int do_upload_get(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_export x;
    if (v5_org(&o, c, tx, &r->e) < 0 ||
        store_export_get(&x, tx, o.id, api_param(c, "upload_id"), c->a, &r->e) < 0)
        return -1;
    int fd;
    uint64_t size;
    if (blob_open_read(&fd, &size, c->app->blob, x.storage_key, &r->e) < 0)
        return -1;
    r->file = (api_file){true, fd, size, arena_printf(c->a, "\"%s\"", x.sha256)};
    r->content_type = "text/csv; charset=utf-8";
    api_header(r, "Content-Disposition",
               arena_printf(c->a, "attachment; filename=\"%s\"", x.file_name));
    return 0;
}

int v5_upload_get(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, false, do_upload_get);
}

/* ---- refresh ---- */

int v5_refresh(api_reply *r, api_call *c)
{
    json_t *report = NULL;
    if (v5_check(c, NULL, 0, false, &r->e) < 0 || api_in_tx(r, c, false, do_org) < 0 ||
        admin_refresh(&report, c->app, &r->e) < 0)
        return -1;
    json_object_set_new(report, "success", json_true());
    return api_json(r, 200, report);
}
