/*
 * download.c: getting bytes out (API.md §6): authenticated file GETs, presigned blob URLs
 * (sent zero-copy by http/ with Range), download-url(s), and the capability trust card.
 * A download counts once per completed full GET through cairn. When the blob store gives
 * direct URLs (S3), download-url(s) hand out the store's own presigned URLs, cairn never sees
 * those GETs, so each URL issued counts as one download instead.
 */
#include "api/handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/common.h"
#include "blob/presign.h"
#include "core/path.h"
#include "util/log.h"
#include "util/timeutil.h"

#define URL_TTL_S 3600

typedef struct count_ctx {
    char version_id[37];
    int64_t issued; /* direct URLs handed out (counted once the reply went out), or 0 */
} count_ctx;

static void count_done(const app *ap, void *ctx, bool ok, bool full)
{
    count_ctx *cc = ctx;
    if (!ok || !cc->version_id[0] || (!full && cc->issued == 0))
        return;
    err e = {0};
    store_tx *tx = NULL;
    if (store_tx_begin(&tx, ap->store, true, &e) < 0)
        return;
    int rc = store_count_download(tx, cc->version_id, cc->issued ? cc->issued : 1, &e);
    store_tx_end(tx, rc == 0, &e);
}

/* Counts n direct URLs of version_id once the reply is sent. */
static void count_issued(api_reply *r, api_call *c, const char *version_id, int64_t n)
{
    if (n <= 0)
        return;
    count_ctx *cc = arena_new(c->a, count_ctx);
    snprintf(cc->version_id, sizeof(cc->version_id), "%s", version_id);
    cc->issued = n;
    r->done = (api_done){count_done, cc};
}

/* The store's own presigned GET URL of res, or NULL when the store has none (files). */
static const char *direct_url(api_call *c, const store_resource *res, int64_t exp)
{
    char url[4096];
    const char *slash = strrchr(res->path, '/');
    if (!blob_presign_get(url, sizeof(url), c->app->blob, res->storage_key, exp,
                          slash ? slash + 1 : res->path))
        return NULL;
    return arena_strdup(c->a, url);
}

static int reply_blob(api_reply *r, api_call *c, const char *key, const char *sha256,
                      const char *media_type, const char *version_id)
{
    int fd = -1;
    uint64_t size = 0;
    if (blob_open_read(&fd, &size, c->app->blob, key, &r->e) < 0) {
        if (r->e.kind == ERR_NOT_FOUND)
            err_set(&r->e, ERR_NOT_FOUND, "the stored bytes are missing");
        return -1;
    }
    r->file = (api_file){true, fd, size, arena_printf(c->a, "\"%s\"", sha256)};
    r->content_type = media_type ? media_type : "application/octet-stream";
    r->status = 200;
    if (version_id) {
        count_ctx *cc = arena_new(c->a, count_ctx);
        snprintf(cc->version_id, sizeof(cc->version_id), "%s", version_id);
        r->done = (api_done){count_done, cc};
    }
    return 0;
}

/* enabled:false blocks new downloads of non-owners (API.md §4). */
static int check_enabled(const api_call *c, const store_artifact *m, err *e)
{
    bool owner = c->caller.server_admin ||
                 (c->caller.org_id && strcmp(c->caller.org_id, m->org_id) == 0);
    if (!m->enabled && !owner)
        return err_set(e, ERR_FORBIDDEN, "downloads of '%s/%s' are disabled", m->org_slug,
                       m->name);
    return 0;
}

static int do_file_get(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_artifact m;
    store_version v;
    store_resource res;
    const char *path = api_param(c, "path");
    if (api_artifact_access(&o, &m, c, tx, ROLE_READER, &r->e) < 0 ||
        check_enabled(c, &m, &r->e) < 0 ||
        api_resolve_version(&v, c, tx, &m, api_param(c, "version"), &r->e) < 0)
        return -1;
    if (!path_is_valid(path, strlen(path)) ||
        store_resource_by_path(&res, tx, v.id, path, c->a, &r->e) < 0)
        return err_set(&r->e, ERR_NOT_FOUND, "file '%s' not found in version '%s'", path,
                       v.version);
    const char *base = strrchr(res.path, '/') ? strrchr(res.path, '/') + 1 : res.path;
    size_t cap = PATH_DISPOSITION_SIZE(strlen(base));
    api_header(r, "Content-Disposition",
               path_disposition(arena_alloc(c->a, cap), cap, base, strlen(base)));
    return reply_blob(r, c, res.storage_key, res.sha256, res.media_type, v.id);
}

int api_file_get(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, false, do_file_get);
}

int api_blob_get(api_reply *r, api_call *c)
{
    const char *key = api_param(c, "key");
    const char *vid = api_query(c, "v");
    if (!blob_key_is_valid(key))
        return err_set(&r->e, ERR_NOT_FOUND, "no such blob");
    /* The version id rides in the signed key material, so a count cannot be forged. */
    const char *material = vid ? arena_printf(c->a, "%s#%s", key, vid) : key;
    if (presign_check(c->app->secret, "GET", material, api_query(c, "expires"),
                      api_query(c, "sig"), time_now_ms() / 1000, &r->e) < 0)
        return -1;
    return reply_blob(r, c, key, strrchr(key, '/') + 1, NULL,
                      vid && strlen(vid) == 36 ? vid : NULL);
}

static const char *signed_url(api_call *c, const store_resource *res, int64_t exp)
{
    char path[600];
    const char *material = arena_printf(c->a, "%s#%s", res->storage_key, res->version_id);
    presign_path(path, sizeof(path), c->app->secret, "GET", material, exp);
    /* presign_path wrote "<key>#<vid>?expires": move the version id into the query. */
    char *hash = strchr(path, '#');
    char *q = strchr(path, '?');
    if (hash && q && hash < q) {
        *hash = '\0';
        return arena_printf(c->a, "http://%s%s%s&v=%s",
                            c->header(c, "Host") ? c->header(c, "Host") : c->app->cfg->listen,
                            path, q, res->version_id);
    }
    return arena_printf(c->a, "http://%s%s", c->header(c, "Host"), path);
}

static int do_download_urls(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_artifact m;
    store_version v;
    store_resource *rs;
    size_t n;
    if (api_artifact_access(&o, &m, c, tx, ROLE_READER, &r->e) < 0 ||
        check_enabled(c, &m, &r->e) < 0 ||
        api_resolve_version(&v, c, tx, &m, api_param(c, "version"), &r->e) < 0 ||
        store_resource_list(&rs, &n, tx, v.id, NULL, c->a, &r->e) < 0)
        return -1;
    int64_t exp = time_now_ms() / 1000 + URL_TTL_S, issued = 0;
    json_t *items = json_array(), *skipped = json_array();
    for (size_t i = 0; i < n; i++) {
        if (!blob_exists(c->app->blob, rs[i].storage_key)) {
            json_array_append_new(skipped, json_pack("{s:s, s:s}", "path", rs[i].path, "reason",
                                                     "stored bytes are missing"));
            log_warn(c->req_id, "download.missing_blob", "s:s", "key", rs[i].storage_key);
            continue;
        }
        const char *url = direct_url(c, &rs[i], exp);
        issued += url != NULL;
        json_array_append_new(items, json_pack("{s:s, s:s, s:s, s:I, s:o}", "path", rs[i].path,
                                               "url", url ? url : signed_url(c, &rs[i], exp),
                                               "sha256",
                                               rs[i].sha256, "size_bytes",
                                               (json_int_t)rs[i].size_bytes, "expires_at",
                                               api_time(exp * 1000)));
    }
    count_issued(r, c, v.id, issued);
    return api_json(r, 200, json_pack("{s:s, s:s, s:o, s:o}", "source", "cairn", "version",
                                      v.version, "resources", items, "skipped", skipped));
}

int api_download_urls(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, false, do_download_urls);
}

static int do_download_url(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_artifact m;
    store_version v;
    store_resource *rs;
    size_t n;
    const char *ref = api_query(c, "version");
    const char *pkg = api_query(c, "package_id");
    if (api_artifact_access(&o, &m, c, tx, ROLE_READER, &r->e) < 0 ||
        check_enabled(c, &m, &r->e) < 0 ||
        api_resolve_version(&v, c, tx, &m, ref && *ref ? ref : "latest", &r->e) < 0 ||
        store_resource_list(&rs, &n, tx, v.id, pkg && *pkg ? pkg : NULL, c->a, &r->e) < 0)
        return -1;
    const store_resource *pick = NULL;
    for (size_t i = 0; i < n && !pick; i++)
        if (rs[i].primary)
            pick = &rs[i];
    if (!pick && n > 0)
        pick = &rs[0];
    if (!pick)
        return err_set(&r->e, ERR_NOT_FOUND, "version '%s' has no files", v.version);
    int64_t exp = time_now_ms() / 1000 + URL_TTL_S;
    const char *url = direct_url(c, pick, exp);
    if (url)
        count_issued(r, c, v.id, 1);
    return api_json(r, 200,
                    json_pack("{s:s, s:i, s:o, s:s, s:s, s:I, s:s, s:s}", "url",
                              url ? url : signed_url(c, pick, exp), "expires_in", URL_TTL_S,
                              "expires_at",
                              api_time(exp * 1000), "path", pick->path, "sha256", pick->sha256,
                              "size_bytes", (json_int_t)pick->size_bytes, "version", v.version,
                              "package_id", pick->package_id));
}

int api_download_url(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, false, do_download_url);
}

static int do_trust_card(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_artifact m;
    store_version v;
    store_resource *rs;
    size_t n;
    if (strcmp(api_param(c, "kind"), "capabilities") != 0)
        return err_set(&r->e, ERR_NOT_FOUND, "trust cards exist for capabilities only");
    if (api_artifact_access(&o, &m, c, tx, ROLE_READER, &r->e) < 0 ||
        api_resolve_version(&v, c, tx, &m, api_param(c, "version"), &r->e) < 0 ||
        store_resource_list(&rs, &n, tx, v.id, NULL, c->a, &r->e) < 0)
        return -1;
    json_t *files = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(files, json_pack("{s:s, s:s, s:I}", "path", rs[i].path, "sha256",
                                               rs[i].sha256, "size_bytes",
                                               (json_int_t)rs[i].size_bytes));
    json_t *summary = api_artifact_summary_json(&m, true);
    json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:o, s:O, s:O, s:O, s:o}", "name",
                             arena_printf(c->a, "%s/%s", o.slug, m.name), "version", v.version,
                             "lifecycle", v.lifecycle, "publisher_org", o.slug, "published_at",
                             api_time(v.published_at), "components",
                             json_object_get(summary, "components"), "component_counts",
                             json_object_get(summary, "component_counts"), "keywords",
                             json_object_get(summary, "keywords"), "files", files);
    json_decref(summary);
    return api_json_etag(r, c, 200, body);
}

int api_trust_card(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, false, do_trust_card);
}
