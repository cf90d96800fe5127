/*
 * oci.c: the OCI door (errors, challenge), /v2/ ping, the token endpoint, _catalog, and what
 * the pull and push sides share: repositories, sub-requests into v1, ModelPack manifests.
 */
#include "api/oci/oci.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/handlers.h"
#include "blob/blob.h"
#include "core/formats.h"
#include "core/name.h"
#include "util/crypto.h"
#include "util/log.h"
#include "util/timeutil.h"

int oci_fail(err *e, err_kind kind, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char buf[256];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    err_set(e, kind, "%s", buf);
    snprintf(e->fields[0].loc[0], sizeof(e->fields[0].loc[0]), "%s", "oci");
    snprintf(e->fields[0].type, sizeof(e->fields[0].type), "%s", code);
    e->fields[0].msg[0] = '\0';
    e->nfields = 1;
    return -1;
}

void oci_headers(api_reply *r)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcmp(r->headers[i].key, "Docker-Distribution-API-Version") == 0)
            return;
    api_header(r, "Docker-Distribution-API-Version", "registry/2.0");
}

bool oci_digest_valid(const char *s)
{
    if (!s || strncmp(s, "sha256:", 7) != 0 || strlen(s) != 71)
        return false;
    for (const char *p = s + 7; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

/* The OCI error code of an error raised by cairn's rules (http/ or the v1 handlers). */
static const char *code_of(const err *e, const api_call *c)
{
    if (e->nfields > 0 && strcmp(e->fields[0].loc[0], "oci") == 0)
        return e->fields[0].type;
    const char *p = c->path ? c->path : "";
    bool manifests = strstr(p, "/manifests/") != NULL,
         uploads = strstr(p, "/blobs/uploads") != NULL,
         blobs = !uploads && strstr(p, "/blobs/") != NULL;
    switch (e->kind) {
    case ERR_AUTH:
    case ERR_EXPIRED_TOKEN:
    case ERR_EXPIRED_SIG: return "UNAUTHORIZED";
    case ERR_FORBIDDEN:
    case ERR_TOKEN:
    case ERR_EXISTS:
    case ERR_CONFLICT: return "DENIED";
    case ERR_NOT_FOUND:
        if (strncmp(e->detail, "model '", 7) == 0 || strncmp(e->detail, "org '", 5) == 0)
            return "NAME_UNKNOWN";
        return manifests ? "MANIFEST_UNKNOWN"
               : uploads ? "BLOB_UPLOAD_UNKNOWN"
               : blobs   ? "BLOB_UNKNOWN"
                         : "NAME_UNKNOWN";
    case ERR_LIMIT: return "TOOMANYREQUESTS";
    case ERR_TOO_LARGE: return "SIZE_INVALID";
    case ERR_RANGE: return "BLOB_UPLOAD_INVALID";
    case ERR_INVALID:
    case ERR_VALIDATION:
        return manifests ? "MANIFEST_INVALID" : uploads ? "BLOB_UPLOAD_INVALID" : "NAME_INVALID";
    case ERR_METHOD: return "UNSUPPORTED";
    default: return "UNKNOWN";
    }
}

static const char *base_url(const api_call *c)
{
    const char *host = c->header(c, "Host");
    const char *proto = c->header(c, "X-Forwarded-Proto");
    return arena_printf(c->a, "%s://%s", proto && strcmp(proto, "https") == 0 ? "https" : "http",
                        host ? host : c->app->cfg->listen);
}

/* The challenge: Bearer with the token endpoint (c/image and oras ask it for a token with
 * the Basic credentials they hold), and the repository's scope on repository routes. */
static const char *challenge(const api_call *c)
{
    const char *org = api_param(c, "org"), *name = api_param(c, "name");
    const char *ch =
        arena_printf(c->a, "Bearer realm=\"%s/v2/token\",service=\"cairn\"", base_url(c));
    if (org && name) {
        bool write = strcmp(c->method, "GET") != 0 && strcmp(c->method, "HEAD") != 0;
        ch = arena_printf(c->a, "%s,scope=\"repository:%s/%s:%s\"", ch, org, name,
                          write ? "pull,push" : "pull");
    }
    return ch;
}

static void door_error(api_reply *r, api_call *c)
{
    const err *e = &r->e;
    json_t *detail = json_null();
    bool own = e->nfields > 0 && strcmp(e->fields[0].loc[0], "oci") == 0;
    if (!own && e->nfields > 0) {
        detail = json_array();
        for (size_t i = 0; i < e->nfields; i++) {
            json_t *loc = json_array();
            for (int k = 0; k < 3 && e->fields[i].loc[k][0]; k++)
                json_array_append_new(loc, json_string(e->fields[i].loc[k]));
            json_array_append_new(detail, json_pack("{s:o, s:s, s:s}", "loc", loc, "msg",
                                                    e->fields[i].msg, "type", e->fields[i].type));
        }
    }
    const char *code = code_of(e, c);
    if (e->kind == ERR_VALIDATION)
        r->status = 400; /* the spec's codes are 400s; cairn's 422 items go in detail */
    r->body = json_pack("{s:[{s:s, s:s, s:o}]}", "errors", "code", code, "message",
                        e->detail[0] ? e->detail : code, "detail", detail);
    if (r->status == 401)
        api_header(r, "WWW-Authenticate",
                   strcmp(c->path, "/v2/token") == 0 ? "Basic realm=\"cairn\"" : challenge(c));
    oci_headers(r);
}

/* Manifests of up to 4 MiB are taken (the distribution spec's SHOULD). */
const api_door oci_door = {"oci", true, door_error, "models", 4 << 20};

/* ---- GET /v2/: the version check; 401 with the challenge to anonymous callers ---- */

int oci_ping(api_reply *r, api_call *c)
{
    (void)c;
    oci_headers(r);
    return api_json(r, 200, json_object());
}

/* ---- GET /v2/token: Basic credentials (a cairn token as password) for a bearer token ----
 * (the route needs a token: http/ resolved it from the Basic header or refused with 401)
 * The bearer token is the cairn token itself: its org and role decide, per route, as on
 * /api/v1; a scope asked for is not a grant. */
int oci_token(api_reply *r, api_call *c)
{
    char pw[520];
    const char *h = c->header(c, "Authorization");
    oci_headers(r);
    const char *tok = NULL;
    if (crypto_basic_password(pw, sizeof(pw), h))
        tok = pw;
    else if (h && strncasecmp(h, "Bearer ", 7) == 0)
        tok = h + 7; /* already a bearer token: the same one back */
    else
        tok = c->header(c, "X-Api-Key");
    if (!tok)
        return oci_fail(&r->e, ERR_AUTH, "UNAUTHORIZED",
                        "send Basic credentials: any user name, a cairn token as password");
    int64_t now = time_now_ms();
    char issued[32];
    time_format_iso(issued, sizeof(issued), now);
    return api_json(r, 200,
                    json_pack("{s:s, s:s, s:i, s:s}", "token", tok, "access_token", tok,
                              "expires_in", 3600, "issued_at", issued));
}

/* ---- GET /v2/_catalog?n=&last=: the caller's org's models (all orgs' for a server admin:
 * every public one) ---- */

static int do_catalog(api_reply *r, api_call *c, store_tx *tx)
{
    const char *ns = api_query(c, "n"), *last = api_query(c, "last");
    int n = 100;
    if (ns) {
        char *end;
        long v = strtol(ns, &end, 10);
        if (*end || v < 0 || v > 1000)
            return oci_fail(&r->e, ERR_INVALID, "PAGINATION_NUMBER_INVALID", "n must be 0..1000");
        n = (int)v;
    }
    char **names;
    size_t k;
    if (store_oci_repositories(&names, &k, tx, c->caller.org_id, last, n + 1, c->a, &r->e) < 0)
        return -1;
    json_t *arr = json_array();
    for (size_t i = 0; i < k && i < (size_t)n; i++)
        json_array_append_new(arr, json_string(names[i]));
    if (k > (size_t)n && n > 0)
        api_header(
            r, "Link",
            arena_printf(c->a, "</v2/_catalog?n=%d&last=%s>; rel=\"next\"", n, names[n - 1]));
    oci_headers(r);
    return api_json(r, 200, json_pack("{s:o}", "repositories", arr));
}

int oci_catalog(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, false, do_catalog);
}

/* ---- repositories ---- */

int oci_repo(store_artifact *m, api_call *c, store_tx *tx, err *e)
{
    store_org o;
    return api_artifact_access(&o, m, c, tx, ROLE_READER, e);
}

bool oci_outside(const api_call *c, const store_artifact *m)
{
    /* Only a caller outside m's org may not see drafts (api_version_visible's rule). */
    return !api_version_visible(c, m, "draft");
}

int oci_repo_write(store_artifact *m, api_call *c, err *e)
{
    store_tx *tx = NULL;
    store_org o;
    if (store_tx_begin(&tx, c->app->store, false, e) < 0)
        return -1;
    int rc = api_artifact_access(&o, m, c, tx, ROLE_WRITER, e);
    store_tx_end(tx, false, e);
    if (rc == 0 || e->kind != ERR_NOT_FOUND)
        return rc;
    /* A push to a new repository creates the model, as a version under a missing name does
     * (POST .../versions, seed 004): the same rule, through the same call. */
    err_clear(e);
    if (store_tx_begin(&tx, c->app->store, true, e) < 0)
        return -1;
    rc = api_artifact_access(&o, m, c, tx, ROLE_WRITER, e);
    const char *name = api_param(c, "name");
    if (rc < 0 && e->kind == ERR_NOT_FOUND &&
        (!name_is_slug_shaped(name, strlen(name)) || name_is_reserved(name, strlen(name)))) {
        /* The rule versions.c's auto-create applies. */
        rc = oci_fail(e, ERR_INVALID, "NAME_INVALID",
                      "'%.100s' cannot name a new model: lowercase letters, digits, '.', '_' "
                      "and '-', up to 96 bytes, not a reserved word",
                      name);
    } else if (rc < 0 && e->kind == ERR_NOT_FOUND) {
        err_clear(e);
        rc = api_org_access(&o, c, tx, ROLE_WRITER, e) < 0 ||
                     api_artifact_create_in(m, c, tx, &o, api_param(c, "name"), false, e) < 0
                 ? -1
                 : 0;
        if (rc < 0 && (e->kind == ERR_VALIDATION || e->kind == ERR_INVALID)) {
            char why[256];
            snprintf(why, sizeof(why), "%s", e->nfields ? e->fields[0].msg : e->detail);
            oci_fail(e, ERR_INVALID, "NAME_INVALID", "'%s' is not a model name: %s",
                     api_param(c, "name"), why);
        }
    }
    if (store_tx_end(tx, rc == 0, e) < 0)
        rc = -1;
    return rc;
}

int oci_sub(api_reply *rep, api_call *c, api_handler h, const char *version, json_t *body)
{
    api_call sub = *c;
    sub.nparams = 0;
    sub.params[sub.nparams++] = (api_kv){"org", api_param(c, "org")};
    sub.params[sub.nparams++] = (api_kv){"kind", "models"};
    sub.params[sub.nparams++] = (api_kv){"name", api_param(c, "name")};
    if (version)
        sub.params[sub.nparams++] = (api_kv){"version", version};
    sub.body = body;
    sub.raw_body = NULL;
    sub.raw_body_len = 0;
    sub.query = NULL;
    sub.nquery = 0;
    memset(rep, 0, sizeof(*rep));
    if (h(rep, &sub) < 0 && rep->e.kind == ERR_NONE)
        err_set(&rep->e, ERR_SERVER, "internal error");
    json_decref(rep->body);
    rep->body = NULL;
    return rep->e.kind == ERR_NONE ? 0 : -1;
}

int oci_store_bytes(char hex[65], api_call *c, const char *p, size_t n, err *e)
{
    blob_writer *w = NULL;
    uint64_t size;
    if (blob_writer_open(&w, c->app->blob, e) < 0)
        return -1;
    if (blob_writer_write(w, p, n, e) < 0) {
        blob_writer_abort(w);
        return -1;
    }
    return blob_writer_commit(w, NULL, hex, &size, e);
}

/* ---- ModelPack manifests of cairn versions ---- */

/* The ModelPack layer type of a file, by what it is for (model-spec docs/spec.md). */
static const char *layer_type(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    const char *ext = dot ? dot + 1 : "";
    static const char *const weights[] = {"safetensors", "gguf", "bin",    "pt", "pth",     "onnx",
                                          "ckpt",        "h5",   "tflite", "pb", "msgpack", "npz"};
    static const char *const docs[] = {"md", "txt", "rst", "pdf"};
    static const char *const code[] = {"py", "sh", "js", "ipynb"};
    for (size_t i = 0; i < sizeof(weights) / sizeof(weights[0]); i++)
        if (strcasecmp(ext, weights[i]) == 0)
            return "application/vnd.cncf.model.weight.v1.raw";
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
        if (strcasecmp(ext, docs[i]) == 0 || strncasecmp(base, "LICENSE", 7) == 0)
            return "application/vnd.cncf.model.doc.v1.raw";
    for (size_t i = 0; i < sizeof(code) / sizeof(code[0]); i++)
        if (strcasecmp(ext, code[i]) == 0)
            return "application/vnd.cncf.model.code.v1.raw";
    return "application/vnd.cncf.model.weight.config.v1.raw";
}

int oci_version_manifest(char **manifest, char **cfgtext, api_call *c, store_tx *tx,
                         const store_artifact *m, const store_version *v, err *e)
{
    store_resource *rs;
    size_t n;
    if (store_resource_list(&rs, &n, tx, v->id, NULL, c->a, e) < 0)
        return -1;
    int64_t at = v->published_at ? v->published_at : v->created_at;
    char when[32];
    time_format_iso(when, sizeof(when), at);
    json_t *diff = json_array(), *layers = json_array();
    for (size_t i = 0; i < n; i++) {
        const char *d = arena_printf(c->a, "sha256:%s", rs[i].sha256);
        json_array_append_new(diff, json_string(d));
        json_array_append_new(layers, json_pack("{s:s, s:s, s:I, s:{s:s, s:s}}", "mediaType",
                                                layer_type(rs[i].path), "digest", d, "size",
                                                (json_int_t)rs[i].size_bytes, "annotations",
                                                "org.cncf.model.filepath", rs[i].path,
                                                "org.opencontainers.image.title", rs[i].path));
    }
    json_t *cfg =
        json_pack("{s:{s:s, s:s, s:s}, s:{s:s*, s:s*}, s:{s:s, s:o}}", "descriptor", "name",
                  arena_printf(c->a, "%s/%s", m->org_slug, m->name), "version", v->version,
                  "createdAt", when, "config", "architecture", v->architecture, "format",
                  v->framework, "modelfs", "type", "layers", "diffIds", diff);
    char *cs = json_dumps(cfg, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(cfg);
    if (!cs) {
        json_decref(layers);
        return err_set(e, ERR_SERVER, "out of memory");
    }
    *cfgtext = arena_strdup(c->a, cs);
    free(cs);
    char chex[65];
    crypto_sha256_hex(chex, *cfgtext, strlen(*cfgtext));
    json_t *mf = json_pack(
        "{s:i, s:s, s:s, s:{s:s, s:s, s:I}, s:o, s:{s:s, s:s, s:s}}", "schemaVersion", 2,
        "mediaType", OCI_MT_MANIFEST, "artifactType", "application/vnd.cncf.model.manifest.v1+json",
        "config", "mediaType", "application/vnd.cncf.model.config.v1+json", "digest",
        arena_printf(c->a, "sha256:%s", chex), "size", (json_int_t)strlen(*cfgtext), "layers",
        layers, "annotations", "org.opencontainers.image.version", v->version,
        "org.opencontainers.image.created", when, "org.opencontainers.image.title",
        arena_printf(c->a, "%s/%s", m->org_slug, m->name));
    char *ms = json_dumps(mf, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(mf);
    if (!ms)
        return err_set(e, ERR_SERVER, "out of memory");
    *manifest = arena_strdup(c->a, ms);
    free(ms);
    return 0;
}
