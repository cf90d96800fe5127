/*
 * push.c: blob uploads (monolithic POST with ?digest=, POST then PATCH/PUT chunks with or
 * without Content-Range, cross-repository mount) and manifest PUT. Bytes go through the same
 * blob writers and sessions as /api/v1 uploads (hashed on the way, durable before any row,
 * deduplicated by digest). A manifest that follows a known ML convention, pushed under a
 * SemVer tag, also becomes a published cairn version made through the v1 handlers (version
 * create, upload confirm, publish): ModelPack or ORAS raw layers with a title are its files
 * with no byte copied; the tar (or tar+gzip) layers of a KitOps ModelKit are read with
 * core/tar.c and each regular file is stored through a blob writer (hashed, deduplicated,
 * durable) and held by the repository before it is attached.
 */
#include "api/oci/oci.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "api/handlers.h"
#include "blob/blob.h"
#include "core/semver.h"
#include "core/tar.h"
#include "util/crypto.h"
#include "util/log.h"
#include "util/timeutil.h"

#define KITOPS_CONFIG "application/vnd.kitops.modelkit.config.v1+json"
#define KITOPS_LAYER "application/vnd.kitops.modelkit."

typedef struct oci_up {
    store_artifact m;
    const char *digest; /* expected, for monolithic uploads and the final PUT */
    blob_writer *w;     /* monolithic POST, or a session's first PATCH */
    blob_appender *ap;  /* PATCH / PUT chunks into the session */
    const char *id;     /* the session */
    const char *key;    /* the blob a session's first PATCH stored whole, or NULL */
    uint64_t offset, received;
    int64_t range_len; /* the body length a Content-Range names, or -1 */
} oci_up;

static const char *repo_path(const api_call *c)
{
    return arena_printf(c->a, "/v2/%s/%s", api_param(c, "org"), api_param(c, "name"));
}

static void upload_headers(api_reply *r, api_call *c, const char *id, uint64_t size)
{
    api_header(r, "Location", arena_printf(c->a, "%s/blobs/uploads/%s", repo_path(c), id));
    api_header(r, "Range",
               arena_printf(c->a, "0-%llu", size ? (unsigned long long)size - 1 : 0ULL));
    api_header(r, "Docker-Upload-UUID", id);
    oci_headers(r);
}

/* Makes the blob hex (durable already) the repository's, under the write lock GC takes. */
static int adopt(api_reply *r, api_call *c, const store_artifact *m, const char *hex, uint64_t size,
                 const char *session)
{
    char key[BLOB_KEY_MAX];
    blob_key_of(key, sizeof(key), hex);
    const char *d = arena_printf(c->a, "sha256:%s", hex);
    store_tx *tx = NULL;
    if (store_tx_begin(&tx, c->app->store, true, &r->e) < 0)
        return -1;
    int rc = 0;
    if (!blob_exists(c->app->blob, key)) {
        api_header(r, "Retry-After", "1");
        rc = err_set(&r->e, ERR_UNAVAILABLE,
                     "the blob was garbage-collected while it was "
                     "uploaded; upload it again");
    }
    if (rc == 0)
        rc = store_oci_blob_add(tx, m->id, d, key, (int64_t)size, time_now_ms(), &r->e);
    if (rc == 0 && session)
        rc = store_oci_upload_delete(tx, session, &r->e);
    if (store_tx_end(tx, rc == 0, &r->e) < 0)
        rc = -1;
    if (rc < 0)
        return -1;
    api_header(r, "Location", arena_printf(c->a, "%s/blobs/%s", repo_path(c), d));
    api_header(r, "Docker-Content-Digest", d);
    oci_headers(r);
    r->status = 201;
    return 0;
}

/* ---- POST /v2/<repo>/blobs/uploads/[?digest=|?mount=&from=] ---- */

/* Cross-repository mount: the caller must be able to read `from` and `from` must hold it. */
static bool try_mount(api_reply *r, api_call *c, oci_up *u, const char *d, const char *from)
{
    const char *slash = from ? strchr(from, '/') : NULL;
    if (!slash || !oci_digest_valid(d))
        return false;
    api_call sub = *c;
    sub.nparams = 0;
    sub.params[sub.nparams++] = (api_kv){"org", arena_strndup(c->a, from, (size_t)(slash - from))};
    sub.params[sub.nparams++] = (api_kv){"kind", "models"};
    sub.params[sub.nparams++] = (api_kv){"name", arena_strdup(c->a, slash + 1)};
    sub.min_role = ROLE_READER;
    store_tx *tx = NULL;
    store_artifact src;
    int64_t size = 0;
    err e = {0};
    if (store_tx_begin(&tx, c->app->store, false, &e) < 0)
        return false;
    bool ok = oci_repo(&src, &sub, tx, &e) == 0 && !(oci_outside(&sub, &src) && !src.enabled) &&
              store_oci_blob_size(&size, tx, src.id, d, oci_outside(&sub, &src), &e) == 0;
    store_tx_end(tx, false, &e);
    if (!ok)
        return false;
    if (adopt(r, c, &u->m, d + 7, (uint64_t)size, NULL) < 0) {
        err_clear(&r->e);
        return false;
    }
    return true;
}

static int post_begin(api_reply *r, api_call *c, void **state)
{
    oci_up *u = arena_new(c->a, oci_up);
    *state = u;
    u->range_len = -1;
    oci_headers(r);
    if (oci_repo_write(&u->m, c, &r->e) < 0)
        return -1;
    u->digest = api_query(c, "digest");
    if (u->digest) {
        if (!oci_digest_valid(u->digest))
            return oci_fail(&r->e, ERR_INVALID, "DIGEST_INVALID", "'%.80s' is not a sha256 digest",
                            u->digest);
        return blob_writer_open(&u->w, c->app->blob, &r->e);
    }
    return 0;
}

static int post_chunk(void *state, api_call *c, const api_part *part, const char *p, size_t n,
                      err *e)
{
    (void)c;
    (void)part;
    oci_up *u = state;
    if (!u->w) {
        if (n == 0)
            return 0;
        return oci_fail(e, ERR_INVALID, "BLOB_UPLOAD_INVALID",
                        "a body on POST needs ?digest= (a monolithic upload)");
    }
    u->received += n;
    return blob_writer_write(u->w, p, n, e);
}

static int post_finish(api_reply *r, api_call *c, void *state)
{
    oci_up *u = state;
    /* The reply of begin() is not this one: a mount is answered here. */
    const char *mount = api_query(c, "mount");
    if (!u->w && mount && try_mount(r, c, u, mount, api_query(c, "from")))
        return 0;
    if (u->w) {
        char hex[65];
        uint64_t size;
        blob_writer *w = u->w;
        u->w = NULL;
        if (blob_writer_commit(w, u->digest + 7, hex, &size, &r->e) < 0) {
            if (r->e.kind == ERR_VALIDATION)
                oci_fail(&r->e, ERR_INVALID, "DIGEST_INVALID", "the bytes do not match %s",
                         u->digest);
            return -1;
        }
        return adopt(r, c, &u->m, hex, size, NULL);
    }
    char id[37];
    crypto_uuid7(id);
    int64_t now = time_now_ms();
    store_tx *tx = NULL;
    if (store_tx_begin(&tx, c->app->store, true, &r->e) < 0)
        return -1;
    int rc = store_oci_upload_insert(tx, id, u->m.id, now,
                                     now + c->app->cfg->oci_upload_ttl_s * 1000, &r->e);
    if (store_tx_end(tx, rc == 0, &r->e) < 0 || rc < 0)
        return -1;
    upload_headers(r, c, arena_strdup(c->a, id), 0);
    r->status = 202;
    return 0;
}

static void up_abort(void *state)
{
    oci_up *u = state;
    if (!u)
        return;
    blob_writer_abort(u->w);
    err ignored = {0};
    /* What arrived stays in the session: the client may resume from its size. */
    blob_appender_close(u->ap, NULL, &ignored);
}

const api_upload oci_upload_post = {post_begin, post_chunk, post_finish, up_abort, false};

/* ---- the session routes: PATCH, PUT, GET, DELETE /v2/<repo>/blobs/uploads/<id> ---- */

/*
 * A session's bytes: its first PATCH (from offset 0, what c/image sends as the whole blob) goes
 * through a blob writer, hashed on the way and stored whole under its digest, recorded on the
 * session (which keeps it from GC): the final PUT then only compares digests. Any later chunk
 * first turns that blob into session bytes (one copy) and appends like /api/v1 sessions do.
 */

/* Loads the session {id} of this repository, for a writer. */
static int session_load(oci_up *u, api_call *c, err *e)
{
    store_tx *tx = NULL;
    store_org o;
    char *repo = NULL, *key = NULL;
    int64_t expires = 0, whole = 0;
    u->id = api_param(c, "id");
    if (store_tx_begin(&tx, c->app->store, false, e) < 0)
        return -1;
    int rc = api_artifact_access(&o, &u->m, c, tx, ROLE_WRITER, e);
    if (rc == 0 && (store_oci_upload_get(&repo, &expires, &key, &whole, tx, u->id, c->a, e) < 0 ||
                    strcmp(repo, u->m.id) != 0 || expires < time_now_ms()))
        rc = oci_fail(e, ERR_NOT_FOUND, "BLOB_UPLOAD_UNKNOWN", "upload '%.64s' unknown", u->id);
    store_tx_end(tx, false, e);
    if (rc < 0)
        return -1;
    u->key = key;
    if (key) {
        u->offset = (uint64_t)whole;
        return 0;
    }
    return blob_session_size(&u->offset, c->app->blob, u->id, e);
}

/* Turns the session's whole blob into session bytes, so more can be appended. */
static int unwhole(oci_up *u, api_call *c, err *e)
{
    int fd = -1;
    uint64_t size = 0, at = 0;
    if (blob_open_read(&fd, &size, c->app->blob, u->key, e) < 0)
        return -1;
    char *buf = malloc(1 << 20);
    int rc = buf ? 0 : err_set(e, ERR_SERVER, "out of memory");
    while (rc == 0 && at < size) {
        ssize_t n = read(fd, buf, 1 << 20);
        if (n <= 0) {
            rc = err_set(e, ERR_SERVER, "reading an upload's bytes failed");
            break;
        }
        rc = blob_session_append(c->app->blob, u->id, at, buf, (size_t)n, &at, e);
    }
    free(buf);
    close(fd);
    store_tx *tx = NULL;
    if (rc == 0 && store_tx_begin(&tx, c->app->store, true, e) == 0) {
        rc = store_oci_upload_set_blob(tx, u->id, NULL, 0, e);
        if (store_tx_end(tx, rc == 0, e) < 0)
            rc = -1;
    } else if (rc == 0) {
        rc = -1;
    }
    if (rc < 0) {
        blob_session_discard(c->app->blob, u->id);
        return -1;
    }
    u->key = NULL;
    u->offset = size;
    return 0;
}

/* OCI's Content-Range is "FIRST-LAST" (c/image sends none: the body then simply follows). */
static int range_check(api_reply *r, api_call *c, oci_up *u)
{
    const char *cr = c->header(c, "Content-Range");
    if (!cr)
        return 0;
    unsigned long long a, b;
    if (strncmp(cr, "bytes ", 6) == 0)
        cr += 6;
    if (sscanf(cr, "%llu-%llu", &a, &b) != 2 || b < a || a != u->offset) {
        upload_headers(r, c, u->id, u->offset);
        return oci_fail(&r->e, ERR_RANGE, "BLOB_UPLOAD_INVALID",
                        "Content-Range '%.64s' does not start at the upload's %llu bytes", cr,
                        (unsigned long long)u->offset);
    }
    u->range_len = (int64_t)(b - a + 1);
    return 0;
}

/* A body other than the Content-Range's length: nothing of it is kept. */
static int length_check(api_reply *r, oci_up *u)
{
    if (u->range_len < 0 || u->received == (uint64_t)u->range_len)
        return 0;
    blob_writer_abort(u->w);
    u->w = NULL;
    blob_appender_discard(u->ap);
    u->ap = NULL;
    return oci_fail(&r->e, ERR_INVALID, "BLOB_UPLOAD_INVALID",
                    "the body is %llu bytes but Content-Range names %lld",
                    (unsigned long long)u->received, (long long)u->range_len);
}

static int patch_begin(api_reply *r, api_call *c, void **state)
{
    oci_up *u = arena_new(c->a, oci_up);
    *state = u;
    u->range_len = -1;
    oci_headers(r);
    if (session_load(u, c, &r->e) < 0 || range_check(r, c, u) < 0)
        return -1;
    if (u->key && unwhole(u, c, &r->e) < 0)
        return -1;
    if (u->offset == 0)
        return blob_writer_open(&u->w, c->app->blob, &r->e);
    return blob_appender_open(&u->ap, c->app->blob, u->id, u->offset, &r->e);
}

static int session_chunk(void *state, api_call *c, const api_part *part, const char *p, size_t n,
                         err *e)
{
    (void)part;
    oci_up *u = state;
    if (n == 0)
        return 0;
    if (u->w) {
        u->received += n;
        return blob_writer_write(u->w, p, n, e);
    }
    if (u->key && unwhole(u, c, e) < 0)
        return -1;
    if (!u->ap && blob_appender_open(&u->ap, c->app->blob, u->id, u->offset, e) < 0)
        return -1;
    u->received += n;
    return blob_appender_write(u->ap, p, n, e);
}

static int patch_finish(api_reply *r, api_call *c, void *state)
{
    oci_up *u = state;
    if (length_check(r, u) < 0)
        return -1;
    if (u->w) {
        char hex[65], key[BLOB_KEY_MAX];
        uint64_t size = 0;
        blob_writer *w = u->w;
        u->w = NULL;
        if (blob_writer_commit(w, NULL, hex, &size, &r->e) < 0)
            return -1;
        blob_key_of(key, sizeof(key), hex);
        store_tx *tx = NULL;
        if (store_tx_begin(&tx, c->app->store, true, &r->e) < 0)
            return -1;
        int rc = 0;
        if (!blob_exists(c->app->blob, key)) /* under GC's lock: collected since the commit */
            rc = err_set(&r->e, ERR_UNAVAILABLE, "the bytes were garbage-collected; send again");
        if (rc == 0)
            rc = store_oci_upload_set_blob(tx, u->id, key, (int64_t)size, &r->e);
        if (store_tx_end(tx, rc == 0, &r->e) < 0 || rc < 0)
            return -1;
        upload_headers(r, c, u->id, size);
        r->status = 202;
        return 0;
    }
    blob_appender *ap = u->ap;
    u->ap = NULL;
    if (blob_appender_close(ap, &u->offset, &r->e) < 0)
        return -1;
    upload_headers(r, c, u->id, u->offset);
    r->status = 202;
    return 0;
}

const api_upload oci_upload_patch = {patch_begin, session_chunk, patch_finish, up_abort, false};

static int put_begin(api_reply *r, api_call *c, void **state)
{
    oci_up *u = arena_new(c->a, oci_up);
    *state = u;
    u->range_len = -1;
    oci_headers(r);
    if (session_load(u, c, &r->e) < 0)
        return -1;
    u->digest = api_query(c, "digest");
    if (!oci_digest_valid(u->digest))
        return oci_fail(&r->e, ERR_INVALID, "DIGEST_INVALID",
                        "the final PUT needs ?digest=sha256:<hex>");
    return range_check(r, c, u);
}

static int put_finish(api_reply *r, api_call *c, void *state)
{
    oci_up *u = state;
    if (length_check(r, u) < 0)
        return -1;
    blob_appender *ap = u->ap;
    u->ap = NULL;
    if (ap && blob_appender_close(ap, &u->offset, &r->e) < 0)
        return -1;
    char hex[65];
    uint64_t size = 0;
    int rc;
    if (u->key) {
        /* The whole blob came in the first PATCH, hashed then: compare, adopt. */
        const char *have = strrchr(u->key, '/') + 1;
        if (strcmp(have, u->digest + 7) != 0)
            return oci_fail(&r->e, ERR_INVALID, "DIGEST_INVALID", "the bytes are sha256:%s, not %s",
                            have, u->digest);
        return adopt(r, c, &u->m, have, u->offset, u->id);
    }
    if (u->offset == 0) {
        /* Nothing was sent: the empty blob (no session bytes exist to commit). */
        rc = oci_store_bytes(hex, c, "", 0, &r->e);
        if (rc == 0 && strcmp(hex, u->digest + 7) != 0)
            rc = err_field_add(&r->e, "body", "sha256", "value_error", "checksum mismatch");
    } else {
        rc = blob_session_commit(c->app->blob, u->id, u->digest + 7, -1, hex, &size, &r->e);
    }
    if (rc < 0) {
        if (r->e.kind == ERR_VALIDATION)
            oci_fail(&r->e, ERR_INVALID, "DIGEST_INVALID", "the bytes do not match %s", u->digest);
        return -1;
    }
    return adopt(r, c, &u->m, hex, size, u->id);
}

const api_upload oci_upload_put = {put_begin, session_chunk, put_finish, up_abort, false};

int oci_upload_get(api_reply *r, api_call *c)
{
    oci_up u = {.range_len = -1};
    if (session_load(&u, c, &r->e) < 0)
        return -1;
    upload_headers(r, c, u.id, u.offset);
    r->status = 204;
    return 0;
}

int oci_upload_delete(api_reply *r, api_call *c)
{
    oci_up u = {.range_len = -1};
    if (session_load(&u, c, &r->e) < 0)
        return -1;
    store_tx *tx = NULL;
    if (store_tx_begin(&tx, c->app->store, true, &r->e) < 0)
        return -1;
    int rc = store_oci_upload_delete(tx, u.id, &r->e);
    if (store_tx_end(tx, rc == 0, &r->e) < 0 || rc < 0)
        return -1;
    blob_session_discard(c->app->blob, u.id);
    oci_headers(r);
    r->status = 204;
    return 0;
}

/* ---- PUT /v2/<repo>/manifests/<ref> ---- */

static bool known_manifest_type(const char *t)
{
    static const char *const ok[] = {OCI_MT_MANIFEST, OCI_MT_INDEX,
                                     "application/vnd.docker.distribution.manifest.v2+json",
                                     "application/vnd.docker.distribution.manifest.list.v2+json",
                                     "application/vnd.oci.artifact.manifest.v1+json"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (strcmp(t, ok[i]) == 0)
            return true;
    return false;
}

static bool is_index(const char *t)
{
    return strcmp(t, OCI_MT_INDEX) == 0 ||
           strcmp(t, "application/vnd.docker.distribution.manifest.list.v2+json") == 0;
}

/* The path a layer carries, by the conventions that name one (ModelPack, ORAS). */
static const char *layer_path(json_t *layer)
{
    json_t *an = json_object_get(layer, "annotations");
    const char *keys[] = {"org.cncf.model.filepath", "org.cnai.model.filepath",
                          "org.opencontainers.image.title"};
    for (size_t i = 0; i < 3; i++) {
        const char *p = json_string_value(json_object_get(an, keys[i]));
        if (p && *p)
            return p;
    }
    return NULL;
}

/* A layer that is a file as it is: ModelPack `.raw` layers; ORAS files (its default type is
 * ...layer.v1.tar even for a plain file; directories are tar+gzip with `unpack`). ModelPack
 * tars and compressed layers are not imported; KitOps tars are (layer_kit_tar). */
static bool layer_raw(json_t *layer)
{
    const char *t = json_string_value(json_object_get(layer, "mediaType"));
    if (!t)
        return false;
    size_t n = strlen(t);
    if (strstr(t, "cncf.model.") || strstr(t, "cnai.model."))
        return n > 4 && strcmp(t + n - 4, ".raw") == 0;
    if (strstr(t, "kitops") || strstr(t, "+gzip") || strstr(t, "+zstd") ||
        json_object_get(json_object_get(layer, "annotations"), "io.deis.oras.content.unpack"))
        return false;
    return true;
}

/* A KitOps ModelKit: its config is the Kitfile. */
static bool kitops(json_t *doc)
{
    const char *t = json_string_value(json_object_get(json_object_get(doc, "config"), "mediaType"));
    return t && strcmp(t, KITOPS_CONFIG) == 0;
}

/* A ModelKit layer: application/vnd.kitops.modelkit.<kind>.v1.tar, or .tar+gzip (*gz). */
static bool layer_kit_tar(json_t *layer, bool *gz)
{
    const char *t = json_string_value(json_object_get(layer, "mediaType"));
    if (!t || strncmp(t, KITOPS_LAYER, strlen(KITOPS_LAYER)) != 0)
        return false;
    size_t n = strlen(t);
    *gz = n > 9 && strcmp(t + n - 9, ".tar+gzip") == 0;
    return *gz || (n > 4 && strcmp(t + n - 4, ".tar") == 0);
}

/* A version to import the manifest as: its tag read as SemVer (`_` for `+`) and every layer a
 * raw file with a path, or a KitOps ModelKit (every layer a tar to extract). NULL when the
 * manifest stays plain OCI content. */
static const char *import_version(json_t *doc, const char *media_type, const char *tag, arena *a)
{
    if (!tag || is_index(media_type))
        return NULL;
    char *v = arena_strdup(a, tag);
    for (char *p = v; *p; p++)
        if (*p == '_')
            *p = '+';
    if (!semver_is_valid(v, strlen(v)))
        return NULL;
    json_t *layers = json_object_get(doc, "layers");
    if (!json_is_array(layers) || json_array_size(layers) == 0)
        return NULL;
    size_t i;
    json_t *l;
    bool gz;
    if (kitops(doc)) {
        json_array_foreach(layers, i, l) if (!layer_kit_tar(l, &gz)) return NULL;
        return v;
    }
    json_array_foreach(layers, i, l) if (!layer_path(l) || !layer_raw(l)) return NULL;
    return v;
}

/* A file to import: its path, SHA-256 (hex) and size. */
typedef struct imp_file {
    const char *path, *hex;
    int64_t size;
} imp_file;

typedef struct imp_list {
    imp_file *f;
    size_t n, cap;
} imp_list;

/* Appends a file, refusing a path given twice (two layers, or two tars, holding it). */
static int imp_add(imp_list *l, api_call *c, const char *path, const char *hex, int64_t size,
                   err *e)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->f[i].path, path) == 0)
            return oci_fail(e, ERR_INVALID, "MANIFEST_INVALID", "two layers hold '%.200s'", path);
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        imp_file *f = arena_alloc(c->a, cap * sizeof(*f));
        if (l->n)
            memcpy(f, l->f, l->n * sizeof(*f));
        l->f = f;
        l->cap = cap;
    }
    l->f[l->n++] = (imp_file){arena_strdup(c->a, path), arena_strdup(c->a, hex), size};
    return 0;
}

/* ---- extracting tar layers (KitOps) ---- */

typedef struct kit_sink {
    api_call *c;
    const store_artifact *m;
    imp_list *list;
    blob_writer *w;
    const char *path;
} kit_sink;

static int kit_begin(void *ctx, const char *path, uint64_t size, err *e)
{
    (void)size;
    kit_sink *k = ctx;
    k->path = arena_strdup(k->c->a, path);
    return blob_writer_open(&k->w, k->c->app->blob, e);
}

static int kit_data(void *ctx, const void *p, size_t n, err *e)
{
    kit_sink *k = ctx;
    return blob_writer_write(k->w, p, n, e);
}

/* A file is whole: durable under its digest, then held by the repository (so GC keeps it and
 * the org may attach it), under the write lock GC takes, as adopt() does for an upload. */
static int kit_end(void *ctx, err *e)
{
    kit_sink *k = ctx;
    char hex[65], key[BLOB_KEY_MAX];
    uint64_t size = 0;
    blob_writer *w = k->w;
    k->w = NULL;
    if (blob_writer_commit(w, NULL, hex, &size, e) < 0)
        return -1;
    blob_key_of(key, sizeof(key), hex);
    store_tx *tx = NULL;
    if (store_tx_begin(&tx, k->c->app->store, true, e) < 0)
        return -1;
    int rc = 0;
    if (!blob_exists(k->c->app->blob, key))
        rc = err_set(e, ERR_UNAVAILABLE, "an extracted file was garbage-collected; push again");
    if (rc == 0)
        rc = store_oci_blob_add(tx, k->m->id, arena_printf(k->c->a, "sha256:%s", hex), key,
                                (int64_t)size, time_now_ms(), e);
    if (store_tx_end(tx, rc == 0, e) < 0 || rc < 0)
        return -1;
    return imp_add(k->list, k->c, k->path, hex, (int64_t)size, e);
}

#define KIT_BUF (1u << 20)

/* Reads the layer blob d (gzip-compressed if gz) as a tar and stores each regular file. */
static int extract(api_call *c, const store_artifact *m, const char *d, bool gz, imp_list *list,
                   err *e)
{
    char key[BLOB_KEY_MAX];
    blob_key_of(key, sizeof(key), d + 7);
    int fd = -1;
    uint64_t size = 0;
    if (blob_open_read(&fd, &size, c->app->blob, key, e) < 0)
        return -1;
    kit_sink k = {c, m, list, NULL, NULL};
    tar_sink s = {kit_begin, kit_data, kit_end, &k};
    tar_reader t;
    tar_reader_init(&t, &s);
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    bool zinit = false;
    unsigned char *in = malloc(KIT_BUF), *out = gz ? malloc(KIT_BUF) : NULL;
    int rc = in && (out || !gz) ? 0 : err_set(e, ERR_SERVER, "out of memory");
    if (rc == 0 && gz) {
        if (inflateInit2(&zs, 15 + 16) != Z_OK)
            rc = err_set(e, ERR_SERVER, "zlib: inflateInit2 failed");
        zinit = rc == 0;
    }
    bool zend = false;
    while (rc == 0) {
        ssize_t n = read(fd, in, KIT_BUF);
        if (n < 0) {
            rc = err_set(e, ERR_SERVER, "reading a layer failed");
            break;
        }
        if (n == 0)
            break;
        if (!gz) {
            rc = tar_feed(&t, in, (size_t)n, e);
            continue;
        }
        zs.next_in = in;
        zs.avail_in = (uInt)n;
        while (rc == 0 && zs.avail_in > 0) {
            if (zend) { /* another gzip member follows */
                if (inflateReset(&zs) != Z_OK)
                    rc = err_set(e, ERR_INVALID, "gzip: cannot read the next member");
                zend = false;
                if (rc < 0)
                    break;
            }
            zs.next_out = out;
            zs.avail_out = KIT_BUF;
            int z = inflate(&zs, Z_NO_FLUSH);
            if (z != Z_OK && z != Z_STREAM_END && z != Z_BUF_ERROR) {
                rc = err_set(e, ERR_INVALID, "the layer is not valid gzip (%s)",
                             zs.msg ? zs.msg : "inflate failed");
                break;
            }
            zend = z == Z_STREAM_END;
            size_t got = KIT_BUF - zs.avail_out;
            if (got)
                rc = tar_feed(&t, out, got, e);
            else if (z == Z_BUF_ERROR)
                break;
        }
    }
    if (rc == 0 && gz && !zend)
        rc = err_set(e, ERR_INVALID, "the gzip stream is truncated");
    if (rc == 0)
        rc = tar_finish(&t, e);
    blob_writer_abort(k.w);
    tar_reader_free(&t);
    if (zinit)
        inflateEnd(&zs);
    free(in);
    free(out);
    close(fd);
    if (rc < 0 && e->kind == ERR_INVALID) {
        char why[sizeof(e->detail)];
        snprintf(why, sizeof(why), "%s", e->detail);
        return oci_fail(e, ERR_INVALID, "MANIFEST_INVALID", "layer %.71s: %s", d, why);
    }
    return rc;
}

/* The files the manifest's layers give: each raw layer at its path, or the files of each tar
 * layer of a ModelKit, extracted and stored. */
static int import_files(imp_list *list, api_call *c, json_t *doc, err *e)
{
    size_t i;
    json_t *l;
    bool kit = kitops(doc), gz = false;
    store_artifact m;
    if (kit) {
        store_tx *tx = NULL;
        if (store_tx_begin(&tx, c->app->store, false, e) < 0)
            return -1;
        int rc = oci_repo(&m, c, tx, e);
        store_tx_end(tx, false, e);
        if (rc < 0)
            return -1;
    }
    json_array_foreach(json_object_get(doc, "layers"), i, l)
    {
        const char *d = json_string_value(json_object_get(l, "digest"));
        int rc = kit ? (layer_kit_tar(l, &gz), extract(c, &m, d, gz, list, e))
                     : imp_add(list, c, layer_path(l), d + 7,
                               json_integer_value(json_object_get(l, "size")), e);
        if (rc < 0)
            return -1;
    }
    if (list->n == 0)
        return oci_fail(e, ERR_INVALID, "MANIFEST_INVALID", "the layers hold no regular file");
    return 0;
}

/* True if draft v already holds the path with the bytes of SHA-256 hex. */
static bool same_file(api_call *c, const char *v, const char *path, const char *hex)
{
    store_tx *tx = NULL;
    store_artifact m;
    store_version ver;
    store_resource res;
    err e = {0};
    bool same = false;
    if (store_tx_begin(&tx, c->app->store, false, &e) < 0)
        return false;
    if (oci_repo(&m, c, tx, &e) == 0 && api_resolve_version(&ver, c, tx, &m, v, &e) == 0 &&
        store_resource_by_path(&res, tx, ver.id, path, c->a, &e) == 0)
        same = strcmp(res.sha256, hex) == 0;
    store_tx_end(tx, false, &e);
    return same;
}

/* Takes a failed sub-request's error and headers (Retry-After of a quota) into r. */
static int sub_failed(api_reply *r, const api_reply *sub)
{
    r->e = sub->e;
    for (size_t i = 0; i < sub->nheaders; i++)
        api_header(r, sub->headers[i].key, sub->headers[i].value);
    return -1;
}

/* Makes version v from the manifest's layers through the v1 handlers. */
static int import(api_reply *r, api_call *c, json_t *doc, const char *v)
{
    api_reply sub;
    imp_list files = {0};
    if (import_files(&files, c, doc, &r->e) < 0)
        return -1;
    json_t *body = json_pack("{s:s}", "version", v);
    int rc = oci_sub(&sub, c, api_version_create, NULL, body);
    json_decref(body);
    bool resumed = false;
    if (rc < 0 && (sub.e.kind == ERR_EXISTS || sub.e.kind == ERR_CONFLICT)) {
        /* A draft left by an import that failed half-way (a file cairn refused) is resumed;
         * a published version is immutable. */
        store_tx *tx = NULL;
        store_artifact m;
        store_version have;
        int lrc = store_tx_begin(&tx, c->app->store, false, &r->e);
        if (lrc == 0)
            lrc = oci_repo(&m, c, tx, &r->e) < 0 ||
                          api_resolve_version(&have, c, tx, &m, v, &r->e) < 0
                      ? -1
                      : 0;
        store_tx_end(tx, false, &r->e);
        if (lrc < 0)
            return -1;
        if (strcmp(have.lifecycle, "draft") != 0)
            return oci_fail(&r->e, ERR_CONFLICT, "DENIED",
                            "version %s exists and is %s: its files are immutable", v,
                            have.lifecycle);
        resumed = true;
    } else if (rc < 0) {
        return sub_failed(r, &sub);
    }
    for (size_t i = 0; i < files.n; i++) {
        const imp_file *f = &files.f[i];
        char key[BLOB_KEY_MAX];
        blob_key_of(key, sizeof(key), f->hex);
        body = json_pack("{s:s, s:s, s:s, s:I}", "path", f->path, "sha256", f->hex, "storage_key",
                         key, "size", (json_int_t)f->size);
        rc = oci_sub(&sub, c, api_upload_confirm, v, body);
        json_decref(body);
        if (rc < 0 && resumed && sub.e.kind == ERR_EXISTS && same_file(c, v, f->path, f->hex))
            continue; /* attached by the earlier attempt */
        if (rc < 0)
            return sub_failed(r, &sub);
    }
    if (oci_sub(&sub, c, api_version_publish, v, NULL) < 0)
        return sub_failed(r, &sub);
    log_info(c->req_id, "oci.imported", "s:s, s:s, s:s", "org", api_param(c, "org"), "name",
             api_param(c, "name"), "version", v);
    return 0;
}

/* Checks that the descriptors the manifest refers to are in the repository. */
static int check_refs(api_reply *r, api_call *c, store_tx *tx, const store_artifact *m, json_t *doc,
                      bool index)
{
    json_t *list = json_object_get(doc, index ? "manifests" : "layers");
    json_t *cfg = json_object_get(doc, "config");
    if (!index && (!json_is_object(cfg) ||
                   !oci_digest_valid(json_string_value(json_object_get(cfg, "digest")))))
        return oci_fail(&r->e, ERR_INVALID, "MANIFEST_INVALID", "config descriptor missing");
    if (list && !json_is_array(list))
        return oci_fail(&r->e, ERR_INVALID, "MANIFEST_INVALID", "%s is not a list",
                        index ? "manifests" : "layers");
    size_t n = json_array_size(list);
    for (size_t i = 0; i <= n; i++) {
        json_t *x = i < n ? json_array_get(list, i) : index ? NULL : cfg;
        if (!x)
            continue;
        const char *d = json_string_value(json_object_get(x, "digest"));
        if (!oci_digest_valid(d))
            return oci_fail(&r->e, ERR_INVALID, "MANIFEST_INVALID",
                            "descriptor %zu has no sha256 digest", i);
        int64_t size;
        store_oci_manifest mf;
        int rc = index ? store_oci_manifest_get(&mf, tx, m->id, d, c->a, &r->e)
                       : store_oci_blob_size(&size, tx, m->id, d, false, &r->e);
        if (rc < 0) {
            if (r->e.kind != ERR_NOT_FOUND)
                return -1;
            return oci_fail(&r->e, ERR_NOT_FOUND, "MANIFEST_BLOB_UNKNOWN",
                            "%s %s is not in the repository", index ? "manifest" : "blob", d);
        }
    }
    return 0;
}

int oci_manifest_put(api_reply *r, api_call *c)
{
    store_artifact m;
    const char *ref = api_param(c, "ref");
    oci_headers(r);
    if (oci_repo_write(&m, c, &r->e) < 0)
        return -1;
    const char *tag = strncmp(ref, "sha256:", 7) == 0 ? NULL : ref;
    json_error_t je;
    json_t *doc =
        json_loadb(c->raw_body ? c->raw_body : "", c->raw_body_len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return oci_fail(&r->e, ERR_INVALID, "MANIFEST_INVALID", "not a JSON object: %s", je.text);
    }
    arena_defer(c->a, (arena_fn)json_decref, doc);
    const char *ct = c->header(c, "Content-Type");
    const char *field = json_string_value(json_object_get(doc, "mediaType"));
    char *mt = ct ? arena_strdup(c->a, ct) : NULL;
    if (mt && strchr(mt, ';'))
        *strchr(mt, ';') = '\0';
    if (!mt || !known_manifest_type(mt))
        mt = (char *)(field ? field : OCI_MT_MANIFEST);
    if (!known_manifest_type(mt) || (field && strcmp(field, mt) != 0) ||
        json_integer_value(json_object_get(doc, "schemaVersion")) != 2)
        return oci_fail(&r->e, ERR_INVALID, "MANIFEST_INVALID",
                        "a schema 2 OCI or Docker manifest or index is needed (media type %.80s)",
                        mt);
    char hex[65];
    crypto_sha256_hex(hex, c->raw_body, c->raw_body_len);
    const char *d = arena_printf(c->a, "sha256:%s", hex);
    if (!tag && strcmp(ref, d) != 0)
        return oci_fail(&r->e, ERR_INVALID, "DIGEST_INVALID", "the manifest's digest is %s", d);
    if (tag && (strlen(tag) > 128 || !*tag))
        return oci_fail(&r->e, ERR_INVALID, "MANIFEST_INVALID", "bad tag");
    store_tx *tx = NULL;
    char *had = NULL;
    if (store_tx_begin(&tx, c->app->store, false, &r->e) < 0)
        return -1;
    int rc = check_refs(r, c, tx, &m, doc, is_index(mt));
    bool same = false;
    if (rc == 0 && tag) {
        if (store_oci_tag_get(&had, tx, m.id, tag, c->a, &r->e) == 0)
            same = strcmp(had, d) == 0;
        else if (r->e.kind == ERR_NOT_FOUND)
            err_clear(&r->e);
        else
            rc = -1;
    }
    /* A tag that names a version (or alias, or latest) may only carry that version's import:
     * other content under it would hide the version from OCI clients. */
    store_version named;
    if (rc == 0 && tag && !same && !import_version(doc, mt, tag, c->a)) {
        if (oci_tag_version(&named, c, tx, &m, tag, &r->e) == 0)
            rc = oci_fail(&r->e, ERR_CONFLICT, "DENIED",
                          "tag '%s' names version %s of %s/%s; push this content under "
                          "another tag",
                          tag, named.version, m.org_slug, m.name);
        else if (r->e.kind == ERR_NOT_FOUND)
            err_clear(&r->e);
        else
            rc = -1;
    }
    store_tx_end(tx, false, &r->e);
    if (rc < 0)
        return -1;
    char key[BLOB_KEY_MAX];
    if (oci_store_bytes(hex, c, c->raw_body, c->raw_body_len, &r->e) < 0)
        return -1;
    blob_key_of(key, sizeof(key), hex);
    /* The manifest row first (an import refers to nothing of it), then the version, then the
     * tag: a failed import leaves the manifest by digest but no tag that misnames it. */
    json_t *subject = json_object_get(doc, "subject");
    const char *sd = json_string_value(json_object_get(subject, "digest"));
    const char *at = json_string_value(json_object_get(doc, "artifactType"));
    if (!at && !is_index(mt))
        at = json_string_value(json_object_get(json_object_get(doc, "config"), "mediaType"));
    int64_t now = time_now_ms();
    store_oci_manifest row = {m.id,
                              (char *)d,
                              mt,
                              key,
                              oci_digest_valid(sd) ? (char *)sd : NULL,
                              (char *)at,
                              (int64_t)c->raw_body_len,
                              now,
                              false};
    if (store_tx_begin(&tx, c->app->store, true, &r->e) < 0)
        return -1;
    rc = 0;
    if (!blob_exists(c->app->blob, key))
        rc = err_set(&r->e, ERR_UNAVAILABLE, "the manifest's bytes were collected; retry");
    if (rc == 0)
        rc = store_oci_manifest_put(tx, &row, &r->e);
    if (store_tx_end(tx, rc == 0, &r->e) < 0 || rc < 0)
        return -1;
    const char *v = same ? NULL : import_version(doc, mt, tag, c->a);
    if (v && import(r, c, doc, v) < 0)
        return -1;
    if (tag) {
        if (store_tx_begin(&tx, c->app->store, true, &r->e) < 0)
            return -1;
        rc = store_oci_tag_set(tx, m.id, tag, d, now, &r->e);
        if (store_tx_end(tx, rc == 0, &r->e) < 0 || rc < 0)
            return -1;
    }
    api_header(r, "Location", arena_printf(c->a, "%s/manifests/%s", repo_path(c), d));
    api_header(r, "Docker-Content-Digest", d);
    if (row.subject)
        api_header(r, "OCI-Subject", row.subject);
    r->status = 201;
    return 0;
}
