/*
 * manifest.c: GET /api/v1/manifest, the public document devices poll (seed 004), and
 * GET /api/v1/resolve/{org}/{name}. The manifest is built once per catalog revision and kept
 * serialised (plain and gzip), so a GET is a revision check and a memory copy.
 */
#include "api/manifest.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "api/common.h"
#include "api/handlers.h"
#include "util/crypto.h"
#include "util/log.h"
#include "util/timeutil.h"

/* A serialised manifest shared by the cache and the responses still sending it. */
typedef struct shared {
    _Atomic long refs;
    size_t len;
    char data[];
} shared;

static shared *shared_new(const char *p, size_t n)
{
    shared *s = malloc(sizeof(*s) + n + 1);
    if (!s)
        return NULL;
    atomic_init(&s->refs, 1);
    s->len = n;
    memcpy(s->data, p, n);
    s->data[n] = '\0';
    return s;
}

static void shared_unref(shared *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1)
        free(s);
}

/* MHD's free callback gets the data pointer: step back to its header. */
static void shared_release_data(void *data)
{
    shared_unref((shared *)((char *)data - offsetof(shared, data)));
}

struct manifest_cache {
    pthread_mutex_t mu;
    int64_t rev; /* 0: nothing built */
    char fingerprint[96]; /* of the public models it was built from */
    shared *plain, *gz;
    char etag[72], etag_gz[76];
};

manifest_cache *manifest_cache_new(void)
{
    manifest_cache *mc = calloc(1, sizeof(*mc));
    if (mc)
        pthread_mutex_init(&mc->mu, NULL);
    return mc;
}

void manifest_cache_free(manifest_cache *mc)
{
    if (!mc)
        return;
    pthread_mutex_destroy(&mc->mu);
    shared_unref(mc->plain);
    shared_unref(mc->gz);
    free(mc);
}

typedef struct build_ctx {
    json_t *models; /* canonical name -> entry */
    json_t *by_id;  /* artifact id -> entry (borrowed) */
    json_t *pkg_by_id;
} build_ctx;

static int on_model(void *ctx, const store_artifact *m)
{
    build_ctx *b = ctx;
    char canon[256];
    snprintf(canon, sizeof(canon), "%s/%s", m->org_slug, m->name);
    json_t *entry = json_pack("{s:o, s:[], s:o, s:o, s:o, s:[]}", "latest",
                              api_str(m->latest_version), "versions", "framework",
                              api_str(m->framework), "task", api_str(m->task), "size_category",
                              api_str(m->size_category), "packages");
    json_object_set_new(b->models, canon, entry);
    json_object_set(b->by_id, m->id, entry);
    return 0;
}

static int on_version(void *ctx, const char *artifact_id, const char *version,
                      const char *lifecycle)
{
    build_ctx *b = ctx;
    json_t *entry = json_object_get(b->by_id, artifact_id);
    if (entry)
        json_array_append_new(json_object_get(entry, "versions"),
                              json_pack("{s:s, s:s, s:b}", "version", version, "lifecycle",
                                        lifecycle, "deprecated",
                                        strcmp(lifecycle, "deprecated") == 0));
    return 0;
}

static int on_resource(void *ctx, const char *artifact_id, const char *package_id,
                       const char *format, const char *path, const char *sha256, int64_t size)
{
    build_ctx *b = ctx;
    json_t *entry = json_object_get(b->by_id, artifact_id);
    if (!entry)
        return 0;
    json_t *pkg = json_object_get(b->pkg_by_id, package_id);
    if (!pkg) {
        pkg = json_pack("{s:s, s:[]}", "format", format, "resources");
        json_array_append_new(json_object_get(entry, "packages"), pkg);
        json_object_set(b->pkg_by_id, package_id, pkg);
    }
    json_array_append_new(json_object_get(pkg, "resources"),
                          json_pack("{s:s, s:s, s:I}", "path", path, "sha256", sha256,
                                    "size_bytes", (json_int_t)size));
    return 0;
}

static int gzip_buf(char **out, size_t *out_len, const char *in, size_t n)
{
    z_stream zs = {0};
    if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    uLong cap = deflateBound(&zs, (uLong)n) + 32;
    char *buf = malloc(cap);
    if (!buf) {
        deflateEnd(&zs);
        return -1;
    }
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)n;
    zs.next_out = (Bytef *)buf;
    zs.avail_out = (uInt)cap;
    int rc = deflate(&zs, Z_FINISH);
    *out_len = zs.total_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(buf);
        return -1;
    }
    *out = buf;
    return 0;
}

/* Brings the cache to revision rev: rebuilt only if a public model changed (private writes
 * move the revision but not the fingerprint). Caller holds mc->mu. */
static int rebuild(manifest_cache *mc, const app *ap, int64_t rev, err *e)
{
    char fp[96] = "";
    store_tx *ftx = NULL;
    if (store_tx_begin(&ftx, ap->store, false, e) < 0)
        return -1;
    int frc = store_manifest_fingerprint(fp, sizeof(fp), ftx, e);
    store_tx_end(ftx, false, e);
    if (frc < 0)
        return -1;
    if (mc->rev != 0 && strcmp(fp, mc->fingerprint) == 0) {
        mc->rev = rev;
        return 0;
    }
    build_ctx b = {json_object(), json_object(), json_object()};
    store_tx *tx = NULL;
    arena *a = arena_create();
    int rc = -1;
    int64_t t0 = time_mono_us();
    store_manifest_cb cb = {on_model, on_version, on_resource};
    if (store_tx_begin(&tx, ap->store, false, e) < 0)
        goto out;
    rc = store_manifest_walk(tx, &cb, &b, a, e);
    store_tx_end(tx, false, e);
    if (rc < 0)
        goto out;
    rc = -1;
    char ts[32];
    time_now_iso(ts, sizeof(ts));
    json_t *doc = json_pack("{s:s, s:I, s:O}", "generated_at", ts, "revision", (json_int_t)rev,
                            "models", b.models);
    char *plain = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    char *gz = NULL;
    size_t gz_len = 0;
    if (!plain || gzip_buf(&gz, &gz_len, plain, strlen(plain)) < 0) {
        free(plain);
        err_set(e, ERR_SERVER, "cannot build the manifest");
        goto out;
    }
    shared *sp = shared_new(plain, strlen(plain)), *sg = shared_new(gz, gz_len);
    free(plain);
    free(gz);
    if (!sp || !sg) {
        shared_unref(sp);
        shared_unref(sg);
        err_set(e, ERR_SERVER, "out of memory");
        goto out;
    }
    shared_unref(mc->plain);
    shared_unref(mc->gz);
    mc->plain = sp;
    mc->gz = sg;
    /* Strong ETag of the content (not of generated_at), one per encoding. */
    json_t *content = json_pack("{s:O}", "models", b.models);
    char *ctext = json_dumps(content, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(content);
    char hex[65];
    crypto_sha256_hex(hex, ctext ? ctext : "", ctext ? strlen(ctext) : 0);
    free(ctext);
    snprintf(mc->etag, sizeof(mc->etag), "\"%.40s\"", hex);
    snprintf(mc->etag_gz, sizeof(mc->etag_gz), "\"%.40s-gz\"", hex);
    mc->rev = rev;
    snprintf(mc->fingerprint, sizeof(mc->fingerprint), "%s", fp);
    log_info(NULL, "manifest.rebuilt", "s:I, s:I, s:I, s:f", "revision", (json_int_t)rev,
             "models", (json_int_t)json_object_size(b.models), "bytes",
             (json_int_t)mc->plain->len, "ms", (double)(time_mono_us() - t0) / 1000.0);
    rc = 0;
out:
    json_decref(b.models);
    json_decref(b.by_id);
    json_decref(b.pkg_by_id);
    arena_free(a);
    return rc;
}

int api_manifest(api_reply *r, api_call *c)
{
    manifest_cache *mc = c->app->manifest;
    int64_t rev = 0;
    if (store_catalog_revision(&rev, c->app->store, &r->e) < 0)
        return -1;
    const char *ae = c->header(c, "Accept-Encoding");
    bool gz = ae && strstr(ae, "gzip");
    pthread_mutex_lock(&mc->mu);
    if (mc->rev != rev && rebuild(mc, c->app, rev, &r->e) < 0) {
        pthread_mutex_unlock(&mc->mu);
        return -1;
    }
    const char *etag = arena_strdup(c->a, gz ? mc->etag_gz : mc->etag);
    const char *inm = c->header(c, "If-None-Match");
    if (inm && api_etag_matches(inm, etag)) {
        pthread_mutex_unlock(&mc->mu);
        r->etag = etag;
        r->status = 304;
        r->raw = "";
        r->raw_len = 0;
        return 0;
    }
    shared *body = gz ? mc->gz : mc->plain;
    atomic_fetch_add(&body->refs, 1); /* the response's reference: no copy per GET */
    pthread_mutex_unlock(&mc->mu);
    r->status = 200;
    r->raw = body->data;
    r->raw_len = body->len;
    r->raw_release = shared_release_data;
    r->etag = etag;
    r->content_type = "application/json; charset=utf-8";
    api_header(r, "Vary", "Accept-Encoding");
    api_header(r, "Cache-Control", "no-cache");
    if (gz)
        api_header(r, "Content-Encoding", "gzip");
    return 0;
}

static int do_resolve(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_artifact m;
    store_version v;
    const char *ref = api_query(c, "version");
    if (api_artifact_access(&o, &m, c, tx, ROLE_READER, &r->e) < 0)
        return -1;
    if (!c->caller.authenticated && !m.enabled)
        return err_set(&r->e, ERR_NOT_FOUND, "model '%s/%s' not found", o.slug, m.name);
    if (api_resolve_version(&v, c, tx, &m, ref && *ref ? ref : "latest", &r->e) < 0)
        return -1;
    if (strcmp(v.lifecycle, "draft") == 0 && !c->caller.authenticated)
        return err_set(&r->e, ERR_NOT_FOUND, "version '%s' not found", ref);
    store_version *vs;
    size_t nv;
    store_package *ps;
    size_t np;
    store_resource *rs;
    size_t nr;
    if (store_version_list(&vs, &nv, tx, m.id, NULL, c->a, &r->e) < 0 ||
        store_package_list(&ps, &np, tx, v.id, c->a, &r->e) < 0 ||
        store_resource_list(&rs, &nr, tx, v.id, NULL, c->a, &r->e) < 0)
        return -1;
    json_t *versions = json_array();
    for (size_t i = 0; i < nv; i++)
        if (strcmp(vs[i].lifecycle, "draft") != 0)
            json_array_append_new(versions,
                                  json_pack("{s:s, s:s, s:b}", "version", vs[i].version,
                                            "lifecycle", vs[i].lifecycle, "deprecated",
                                            strcmp(vs[i].lifecycle, "deprecated") == 0));
    /* ?device=ID narrows the packages to the best one for that device (core/devices.c). */
    const char *dev_id = api_query(c, "device");
    const device_profile *dev = NULL;
    int pick = -1;
    json_t *reasons = NULL;
    if (dev_id) {
        dev = devices_find(c->app->devices, dev_id);
        if (!dev) {
            json_decref(versions);
            return err_field_add(&r->e, "query", "device", "value_error",
                                 "unknown device '%.64s' (see GET /api/v1/device-profiles)",
                                 dev_id);
        }
        device_pkg *dp = arena_array(c->a, device_pkg, np ? np : 1);
        api_device_pkgs(dp, &v, ps, np, rs, nr);
        reasons = json_array();
        pick = devices_pick(dev, dp, np, reasons);
        if (np == 0)
            json_array_append_new(reasons, json_string("the version has no files"));
        if (pick >= 0)
            json_array_clear(reasons);
        else
            json_array_append_new(reasons, json_sprintf("no package of %s fits %s", v.version,
                                                        dev->id));
    }
    json_t *packages = json_array();
    for (size_t i = 0; i < np; i++) {
        if (dev && (int)i != pick)
            continue;
        json_t *res = json_array();
        for (size_t k = 0; k < nr; k++)
            if (strcmp(rs[k].package_id, ps[i].id) == 0)
                json_array_append_new(res, json_pack("{s:s, s:s, s:I}", "path", rs[k].path,
                                                     "sha256", rs[k].sha256, "size_bytes",
                                                     (json_int_t)rs[k].size_bytes));
        json_t *pkg = json_pack("{s:s, s:o}", "format", ps[i].format, "resources", res);
        if (dev) {
            device_pkg one;
            api_device_pkgs(&one, &v, &ps[i], 1, rs, nr);
            json_object_set_new(pkg, "precision",
                                json_string(precision_name(one.prec == PREC_UNKNOWN ? PREC_FP32
                                                                                    : one.prec)));
            json_object_set_new(pkg, "required_memory_bytes",
                                json_integer(devices_required_memory(ps[i].size_bytes)));
        }
        json_array_append_new(packages, pkg);
    }
    json_t *body = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "name",
                             arena_printf(c->a, "%s/%s", o.slug, m.name), "version", v.version,
                             "lifecycle", v.lifecycle, "latest", api_str(m.latest_version),
                             "versions", versions, "framework", api_str(m.framework), "task",
                             api_str(m.task), "size_category", api_str(m.size_category),
                             "packages", packages);
    if (dev) {
        json_object_set_new(body, "device", json_string(dev->id));
        json_object_set_new(body, "reasons", reasons);
    }
    return api_json_etag(r, c, 200, body);
}

int api_resolve(api_reply *r, api_call *c)
{
    /* The route has no {kind}: resolve names models (seed 004). */
    if (c->nparams < API_MAX_PARAMS) {
        c->params[c->nparams].key = "kind";
        c->params[c->nparams].value = "models";
        c->nparams++;
    }
    return api_in_tx(r, c, false, do_resolve);
}

int api_resolve_scoped(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, false, do_resolve);
}
