/*
 * image.c: the image-shaped view of a version, repository `<org>/<name>/image`, for clients
 * that pull only container images (podman 4.3: its storage needs an image config and tar
 * layers). Each file is one uncompressed tar layer holding `models/<path>` (deterministic
 * header: mode 0644, owner 0, mtime 0), streamed from the file's blob with the header in
 * front and the padding and end-of-archive blocks behind; the layer's digest is computed once
 * per file and kept (store_oci_tar_*). The config is an OCI image config (linux, the layers'
 * diff_ids). Read-only: pushes go to `<org>/<name>`.
 */
#include "api/oci/oci.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/handlers.h"
#include "blob/blob.h"
#include "util/crypto.h"
#include "util/timeutil.h"

#define TAR_BLOCK 512
#define IMAGE_ROOT "models/"

/* Fills a ustar header for a regular file at name of size bytes; false if the name does not
 * fit (100 bytes, or a 155-byte prefix and a 100-byte name split at a '/'). */
static bool tar_header(unsigned char h[TAR_BLOCK], const char *name, uint64_t size)
{
    memset(h, 0, TAR_BLOCK);
    size_t n = strlen(name);
    if (n <= 100) {
        memcpy(h, name, n);
    } else {
        const char *cut = NULL;
        for (const char *p = name; *p; p++)
            if (*p == '/' && (size_t)(p - name) <= 155 && strlen(p + 1) <= 100 && p[1])
                cut = p;
        if (!cut)
            return false;
        memcpy(h + 345, name, (size_t)(cut - name));
        memcpy(h, cut + 1, strlen(cut + 1));
    }
    memcpy(h + 100, "0000644", 8);
    memcpy(h + 108, "0000000", 8);
    memcpy(h + 116, "0000000", 8);
    if (size < 077777777777ULL) {
        snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)size);
    } else { /* base-256 for 8 GiB and more */
        h[124] = 0x80;
        for (int i = 0; i < 8; i++)
            h[135 - i] = (unsigned char)(size >> (8 * i));
    }
    memcpy(h + 136, "00000000000", 12);
    h[156] = '0';
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < TAR_BLOCK; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    h[155] = ' ';
    return true;
}

static uint64_t tar_size(uint64_t file)
{
    return TAR_BLOCK + (file + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK + 2 * TAR_BLOCK;
}

/* The tar layer of file res: from the cache, else hashed once (a read of the file). */
static int tar_layer(store_oci_tar *out, api_call *c, const store_artifact *m,
                     const store_resource *res, err *e)
{
    store_tx *tx = NULL;
    if (store_tx_begin(&tx, c->app->store, false, e) < 0)
        return -1;
    int rc = store_oci_tar_by_file(out, tx, m->id, res->storage_key, res->path, c->a, e);
    store_tx_end(tx, false, e);
    if (rc == 0 || e->kind != ERR_NOT_FOUND)
        return rc;
    err_clear(e);
    unsigned char h[TAR_BLOCK];
    const char *name = arena_printf(c->a, IMAGE_ROOT "%s", res->path);
    if (!tar_header(h, name, (uint64_t)res->size_bytes))
        return oci_fail(e, ERR_INVALID, "UNSUPPORTED", "'%s' is too long a path for a tar layer",
                        res->path);
    int fd = -1;
    uint64_t size = 0;
    if (blob_open_read(&fd, &size, c->app->blob, res->storage_key, e) < 0)
        return -1;
    crypto_sha256_ctx *x = crypto_sha256_new();
    char *buf = malloc(1 << 20);
    if (!x || !buf) {
        crypto_sha256_free(x);
        free(buf);
        close(fd);
        return err_set(e, ERR_SERVER, "out of memory");
    }
    crypto_sha256_update(x, h, TAR_BLOCK);
    uint64_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, buf, 1 << 20);
        if (n <= 0)
            break;
        crypto_sha256_update(x, buf, (size_t)n);
        got += (uint64_t)n;
    }
    close(fd);
    if (got != size) {
        crypto_sha256_free(x);
        free(buf);
        return err_set(e, ERR_SERVER, "reading '%s' failed", res->path);
    }
    memset(buf, 0, 3 * TAR_BLOCK);
    uint64_t pad = (TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK;
    crypto_sha256_update(x, buf, (size_t)pad + 2 * TAR_BLOCK);
    free(buf);
    char hex[65];
    crypto_sha256_final_hex(x, hex);
    *out = (store_oci_tar){arena_printf(c->a, "sha256:%s", hex), res->storage_key, res->path,
                           res->version_id, (int64_t)tar_size(size)};
    if (store_tx_begin(&tx, c->app->store, true, e) < 0)
        return -1;
    rc = store_oci_tar_add(tx, m->id, out, e);
    if (store_tx_end(tx, rc == 0, e) < 0)
        rc = -1;
    return rc;
}

int oci_image_manifest_get(api_reply *r, api_call *c)
{
    store_artifact m;
    store_version v;
    store_resource *rs = NULL;
    size_t n = 0;
    const char *ref = api_param(c, "ref");
    store_tx *tx = NULL;
    oci_headers(r);
    if (store_tx_begin(&tx, c->app->store, false, &r->e) < 0)
        return -1;
    int rc = oci_repo(&m, c, tx, &r->e);
    if (rc == 0 && oci_outside(c, &m) && !m.enabled)
        rc = oci_fail(&r->e, ERR_NOT_FOUND, "MANIFEST_UNKNOWN", "downloads are disabled");
    if (rc == 0 && oci_tag_version(&v, c, tx, &m, ref, &r->e) < 0) {
        if (r->e.kind == ERR_NOT_FOUND)
            oci_fail(&r->e, ERR_NOT_FOUND, "MANIFEST_UNKNOWN", "no version '%.80s' in %s/%s", ref,
                     m.org_slug, m.name);
        rc = -1;
    }
    if (rc == 0)
        rc = store_resource_list(&rs, &n, tx, v.id, NULL, c->a, &r->e);
    store_tx_end(tx, false, &r->e);
    if (rc < 0)
        return -1;
    json_t *diff = json_array(), *layers = json_array();
    for (size_t i = 0; i < n; i++) {
        store_oci_tar t;
        if (tar_layer(&t, c, &m, &rs[i], &r->e) < 0) {
            json_decref(diff);
            json_decref(layers);
            return -1;
        }
        json_array_append_new(diff, json_string(t.digest));
        json_array_append_new(layers,
                              json_pack("{s:s, s:s, s:I, s:{s:s}}", "mediaType",
                                        "application/vnd.oci.image.layer.v1.tar", "digest",
                                        t.digest, "size", (json_int_t)t.size_bytes, "annotations",
                                        "org.opencontainers.image.title", rs[i].path));
    }
    char when[32];
    time_format_iso(when, sizeof(when), v.published_at ? v.published_at : v.created_at);
    json_t *cfg = json_pack(
        "{s:s, s:s, s:s, s:{s:{s:s, s:s}}, s:{s:s, s:o}}", "created", when, "architecture", "amd64",
        "os", "linux", "config", "Labels", "org.opencontainers.image.version", v.version,
        "org.opencontainers.image.title", arena_printf(c->a, "%s/%s", m.org_slug, m.name), "rootfs",
        "type", "layers", "diff_ids", diff);
    char *cs = json_dumps(cfg, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(cfg);
    char chex[65];
    const char *cfgtext = cs ? arena_strdup(c->a, cs) : NULL;
    free(cs);
    if (!cfgtext) {
        json_decref(layers);
        return err_set(&r->e, ERR_SERVER, "out of memory");
    }
    crypto_sha256_hex(chex, cfgtext, strlen(cfgtext));
    json_t *mf = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:o}", "schemaVersion", 2, "mediaType",
                           OCI_MT_MANIFEST, "config", "mediaType",
                           "application/vnd.oci.image.config.v1+json", "digest",
                           arena_printf(c->a, "sha256:%s", chex), "size",
                           (json_int_t)strlen(cfgtext), "layers", layers);
    char *ms = json_dumps(mf, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(mf);
    if (!ms)
        return err_set(&r->e, ERR_SERVER, "out of memory");
    const char *manifest = arena_strdup(c->a, ms);
    free(ms);
    char mhex[65], key[BLOB_KEY_MAX];
    crypto_sha256_hex(mhex, manifest, strlen(manifest));
    const char *d = arena_printf(c->a, "sha256:%s", mhex);
    if (oci_materialize(c, &m, manifest, d, cfgtext, "application/vnd.oci.image.config.v1+json",
                        &r->e) < 0)
        return -1;
    blob_key_of(key, sizeof(key), mhex);
    int fd = -1;
    uint64_t size = 0;
    if (blob_open_read(&fd, &size, c->app->blob, key, &r->e) < 0)
        return -1;
    r->file = (api_file){true, fd, size, arena_printf(c->a, "\"%s\"", d)};
    r->content_type = OCI_MT_MANIFEST;
    r->status = 200;
    api_header(r, "Docker-Content-Digest", d);
    if (strcmp(c->method, "GET") == 0)
        api_count_downloads(r, c, v.id, 1);
    return 0;
}

/* The body of a tar layer: header, the file's bytes, zero padding and the two end blocks. */
typedef struct tar_stream {
    int fd;
    unsigned char h[TAR_BLOCK];
    uint64_t pos, file, total;
} tar_stream;

static long tar_read(void *ctx, char *buf, size_t max)
{
    tar_stream *t = ctx;
    size_t out = 0;
    while (out < max && t->pos < t->total) {
        size_t room = max - out;
        if (t->pos < TAR_BLOCK) {
            size_t k = TAR_BLOCK - (size_t)t->pos < room ? TAR_BLOCK - (size_t)t->pos : room;
            memcpy(buf + out, t->h + t->pos, k);
            out += k;
            t->pos += k;
        } else if (t->pos < TAR_BLOCK + t->file) {
            uint64_t left = TAR_BLOCK + t->file - t->pos;
            ssize_t n = read(t->fd, buf + out, left < room ? (size_t)left : room);
            if (n <= 0)
                return -1;
            out += (size_t)n;
            t->pos += (uint64_t)n;
        } else {
            uint64_t left = t->total - t->pos;
            size_t k = left < room ? (size_t)left : room;
            memset(buf + out, 0, k);
            out += k;
            t->pos += k;
        }
    }
    return (long)out;
}

static void tar_done(void *ctx)
{
    tar_stream *t = ctx;
    close(t->fd);
    free(t);
}

int oci_image_blob_get(api_reply *r, api_call *c)
{
    const char *d = api_param(c, "digest");
    store_artifact m;
    store_oci_tar t;
    store_version v;
    store_tx *tx = NULL;
    oci_headers(r);
    if (!oci_digest_valid(d))
        return oci_fail(&r->e, ERR_NOT_FOUND, "BLOB_UNKNOWN", "'%.80s' is not a sha256 digest", d);
    if (store_tx_begin(&tx, c->app->store, false, &r->e) < 0)
        return -1;
    int rc = oci_repo(&m, c, tx, &r->e);
    bool tar = false;
    if (rc == 0) {
        if (store_oci_tar_by_digest(&t, tx, m.id, d, c->a, &r->e) == 0) {
            tar = true;
            /* Another org sees the layers of published versions of an enabled model only. */
            if (oci_outside(c, &m) &&
                (!m.enabled || store_version_by_id(&v, tx, m.id, t.version_id, c->a, &r->e) < 0 ||
                 !api_version_visible(c, &m, v.lifecycle)))
                rc = oci_fail(&r->e, ERR_NOT_FOUND, "BLOB_UNKNOWN", "blob %s unknown", d);
        } else if (r->e.kind == ERR_NOT_FOUND) {
            err_clear(&r->e);
        } else {
            rc = -1;
        }
    }
    store_tx_end(tx, false, &r->e);
    if (rc < 0)
        return -1;
    if (!tar)
        return oci_blob_get(r, c); /* the config: a blob of the repository */
    tar_stream *s = calloc(1, sizeof(*s));
    if (!s)
        return err_set(&r->e, ERR_SERVER, "out of memory");
    uint64_t size = 0;
    if (blob_open_read(&s->fd, &size, c->app->blob, t.storage_key, &r->e) < 0) {
        free(s);
        return -1;
    }
    if (!tar_header(s->h, arena_printf(c->a, IMAGE_ROOT "%s", t.path), size) ||
        (int64_t)tar_size(size) != t.size_bytes) {
        close(s->fd);
        free(s);
        return err_set(&r->e, ERR_SERVER, "the layer of '%s' changed", t.path);
    }
    s->file = size;
    s->total = tar_size(size);
    r->stream = (api_stream){tar_read, tar_done, s, s->total};
    r->content_type = "application/octet-stream";
    r->status = 200;
    api_header(r, "Docker-Content-Digest", d);
    return 0;
}
