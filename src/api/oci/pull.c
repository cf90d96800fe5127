/*
 * pull.c: manifests (GET/HEAD/DELETE), blobs (GET/HEAD with Range, DELETE), tags list and
 * referrers. A tag names, in this order: a pushed tag, else a cairn version (`_` read as `+`),
 * an alias or `latest`, whose ModelPack manifest is generated and stored on first use so it
 * is also found by digest and its config blob can be fetched.
 */
#include "api/oci/oci.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/handlers.h"
#include "blob/blob.h"
#include "util/crypto.h"
#include "util/log.h"
#include "util/timeutil.h"

/* A version as a tag: SemVer build metadata `+` is not allowed in tags, `_` stands for it. */
static const char *tag_of_version(const char *v, arena *a)
{
    char *t = arena_strdup(a, v);
    for (char *p = t; *p; p++)
        if (*p == '+')
            *p = '_';
    return t;
}

static bool tag_valid(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = t[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '_' || (i > 0 && (ch == '.' || ch == '-'));
        if (!ok)
            return false;
    }
    return true;
}

/* Stores a generated manifest and its config (bytes as blobs, rows for the repository) unless
 * the repository holds them already. */
int oci_materialize(api_call *c, const store_artifact *m, const char *manifest, const char *digest,
                    const char *cfgtext, const char *artifact_type, err *e)
{
    store_tx *tx = NULL;
    store_oci_manifest have;
    if (store_tx_begin(&tx, c->app->store, false, e) < 0)
        return -1;
    int rc = store_oci_manifest_get(&have, tx, m->id, digest, c->a, e);
    store_tx_end(tx, false, e);
    if (rc == 0)
        return 0;
    if (e->kind != ERR_NOT_FOUND)
        return -1;
    err_clear(e);
    char mhex[65], chex[65], mkey[BLOB_KEY_MAX], ckey[BLOB_KEY_MAX];
    if (oci_store_bytes(chex, c, cfgtext, strlen(cfgtext), e) < 0 ||
        oci_store_bytes(mhex, c, manifest, strlen(manifest), e) < 0)
        return -1;
    blob_key_of(mkey, sizeof(mkey), mhex);
    blob_key_of(ckey, sizeof(ckey), chex);
    int64_t now = time_now_ms();
    if (store_tx_begin(&tx, c->app->store, true, e) < 0)
        return -1;
    /* Under the write lock GC also takes: bytes seen here stay until the rows commit. */
    if (!blob_exists(c->app->blob, mkey) || !blob_exists(c->app->blob, ckey)) {
        store_tx_end(tx, false, e);
        return err_set(e, ERR_UNAVAILABLE, "the manifest's bytes were collected; retry");
    }
    store_oci_manifest row = {m->id, (char *)digest,        OCI_MT_MANIFEST,           mkey,
                              NULL,  (char *)artifact_type, (int64_t)strlen(manifest), now,
                              true};
    rc = store_oci_blob_add(tx, m->id, arena_printf(c->a, "sha256:%s", chex), ckey,
                            (int64_t)strlen(cfgtext), now, e) < 0 ||
                 store_oci_manifest_put(tx, &row, e) < 0
             ? -1
             : 0;
    if (store_tx_end(tx, rc == 0, e) < 0)
        rc = -1;
    return rc;
}

typedef struct found {
    store_oci_manifest mf;
    bool generated;
    store_version v;
} found;

/* Finds the manifest {ref} names in the repository. */
static int find_manifest(found *f, store_artifact *m, api_call *c, err *e)
{
    const char *ref = api_param(c, "ref");
    store_tx *tx = NULL;
    char *digest = NULL, *manifest = NULL, *cfgtext = NULL;
    int rc = -1;
    memset(f, 0, sizeof(*f));
    if (store_tx_begin(&tx, c->app->store, false, e) < 0)
        return -1;
    if (oci_repo(m, c, tx, e) < 0)
        goto out;
    if (oci_outside(c, m) && !m->enabled) {
        oci_fail(e, ERR_NOT_FOUND, "MANIFEST_UNKNOWN", "downloads of '%s/%s' are disabled",
                 m->org_slug, m->name);
        goto out;
    }
    if (strncmp(ref, "sha256:", 7) == 0) {
        if (!oci_digest_valid(ref)) {
            oci_fail(e, ERR_INVALID, "DIGEST_INVALID", "'%.80s' is not a sha256 digest", ref);
            goto out;
        }
        if (store_oci_manifest_get(&f->mf, tx, m->id, ref, c->a, e) < 0) {
            if (e->kind == ERR_NOT_FOUND)
                oci_fail(e, ERR_NOT_FOUND, "MANIFEST_UNKNOWN", "manifest %s unknown", ref);
            goto out;
        }
        rc = 0;
        goto out;
    }
    if (!tag_valid(ref)) {
        oci_fail(e, ERR_INVALID, "MANIFEST_INVALID", "'%.80s' is not a tag or digest", ref);
        goto out;
    }
    if (store_oci_tag_get(&digest, tx, m->id, ref, c->a, e) == 0) {
        rc = store_oci_manifest_get(&f->mf, tx, m->id, digest, c->a, e);
        /* A pushed tag that is a version's (an import): its pulls count as the version's. */
        err ignored = {0};
        char *vref = arena_strdup(c->a, ref);
        for (char *p = vref; *p; p++)
            if (*p == '_')
                *p = '+';
        if (rc == 0 && api_resolve_version(&f->v, c, tx, m, vref, &ignored) < 0)
            memset(&f->v, 0, sizeof(f->v));
        goto out;
    }
    if (e->kind != ERR_NOT_FOUND)
        goto out;
    err_clear(e);
    char *vref = arena_strdup(c->a, ref);
    for (char *p = vref; *p; p++)
        if (*p == '_')
            *p = '+';
    if (api_resolve_version(&f->v, c, tx, m, vref, e) < 0 &&
        (strcmp(vref, ref) == 0 || api_resolve_version(&f->v, c, tx, m, ref, e) < 0)) {
        if (e->kind == ERR_NOT_FOUND)
            oci_fail(e, ERR_NOT_FOUND, "MANIFEST_UNKNOWN", "manifest '%s' unknown in %s/%s", ref,
                     m->org_slug, m->name);
        goto out;
    }
    err_clear(e);
    if (oci_version_manifest(&manifest, &cfgtext, c, tx, m, &f->v, e) < 0)
        goto out;
    rc = 0;
out:
    store_tx_end(tx, false, e);
    if (rc == 0 && manifest) {
        char hex[65];
        crypto_sha256_hex(hex, manifest, strlen(manifest));
        const char *d = arena_printf(c->a, "sha256:%s", hex);
        if (oci_materialize(c, m, manifest, d, cfgtext,
                            "application/vnd.cncf.model.manifest.v1+json", e) < 0)
            return -1;
        f->generated = true;
        f->mf.digest = (char *)d;
        f->mf.media_type = OCI_MT_MANIFEST;
        char key[BLOB_KEY_MAX];
        blob_key_of(key, sizeof(key), hex);
        f->mf.storage_key = arena_strdup(c->a, key);
        f->mf.size_bytes = (int64_t)strlen(manifest);
    }
    return rc;
}

int oci_manifest_get(api_reply *r, api_call *c)
{
    found f;
    store_artifact m;
    oci_headers(r);
    if (find_manifest(&f, &m, c, &r->e) < 0)
        return -1;
    int fd = -1;
    uint64_t size = 0;
    if (blob_open_read(&fd, &size, c->app->blob, f.mf.storage_key, &r->e) < 0)
        return -1;
    r->file = (api_file){true, fd, size, arena_printf(c->a, "\"%s\"", f.mf.digest)};
    r->content_type = f.mf.media_type;
    r->status = 200;
    api_header(r, "Docker-Content-Digest", f.mf.digest);
    /* A pull is a GET of the manifest (HEAD is a client checking a tag). */
    if (f.v.id && strcmp(c->method, "GET") == 0)
        api_count_downloads(r, c, f.v.id, 1);
    return 0;
}

/* ---- blobs ---- */

int oci_blob_get(api_reply *r, api_call *c)
{
    const char *d = api_param(c, "digest");
    store_artifact m;
    store_tx *tx = NULL;
    int64_t size = 0;
    oci_headers(r);
    if (!oci_digest_valid(d))
        return oci_fail(&r->e, ERR_NOT_FOUND, "BLOB_UNKNOWN", "'%.80s' is not a sha256 digest", d);
    if (store_tx_begin(&tx, c->app->store, false, &r->e) < 0)
        return -1;
    int rc = oci_repo(&m, c, tx, &r->e);
    if (rc == 0 && oci_outside(c, &m) && !m.enabled)
        rc = oci_fail(&r->e, ERR_NOT_FOUND, "BLOB_UNKNOWN", "downloads are disabled");
    if (rc == 0 && store_oci_blob_size(&size, tx, m.id, d, oci_outside(c, &m), &r->e) < 0) {
        if (r->e.kind == ERR_NOT_FOUND)
            oci_fail(&r->e, ERR_NOT_FOUND, "BLOB_UNKNOWN", "blob %s unknown to %s/%s", d,
                     m.org_slug, m.name);
        rc = -1;
    }
    store_tx_end(tx, false, &r->e);
    if (rc < 0)
        return -1;
    char key[BLOB_KEY_MAX];
    blob_key_of(key, sizeof(key), d + 7);
    int fd = -1;
    uint64_t got = 0;
    if (blob_open_read(&fd, &got, c->app->blob, key, &r->e) < 0) {
        if (r->e.kind == ERR_NOT_FOUND)
            oci_fail(&r->e, ERR_NOT_FOUND, "BLOB_UNKNOWN", "the bytes of %s are missing", d);
        return -1;
    }
    r->file = (api_file){true, fd, got, arena_printf(c->a, "\"%s\"", d)};
    r->content_type = "application/octet-stream";
    r->status = 200;
    api_header(r, "Docker-Content-Digest", d);
    return 0;
}

/* ---- tags ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int do_tags(api_reply *r, api_call *c, store_tx *tx)
{
    store_artifact m;
    char **pushed, **aliases;
    size_t np, na, nv;
    store_version *vs;
    bool image = strstr(c->path, "/image/tags/") != NULL; /* the image view: versions only */
    if (oci_repo(&m, c, tx, &r->e) < 0 ||
        store_oci_tag_list(&pushed, &np, &aliases, &na, tx, m.id, c->a, &r->e) < 0 ||
        store_version_list(&vs, &nv, tx, m.id, NULL, c->a, &r->e) < 0)
        return -1;
    if (image)
        np = 0;
    const char **all = arena_array(c->a, const char *, np + na + nv + 1);
    size_t k = 0;
    for (size_t i = 0; i < np; i++)
        all[k++] = pushed[i];
    for (size_t i = 0; i < nv; i++)
        if (api_version_visible(c, &m, vs[i].lifecycle))
            all[k++] = tag_of_version(vs[i].version, c->a);
    for (size_t i = 0; i < na; i++)
        all[k++] = aliases[i];
    qsort(all, k, sizeof(*all), cmp_str);
    const char *ns = api_query(c, "n"), *last = api_query(c, "last");
    long n = -1;
    if (ns) {
        char *end;
        n = strtol(ns, &end, 10);
        if (*end || n < 0)
            return oci_fail(&r->e, ERR_INVALID, "PAGINATION_NUMBER_INVALID", "n must be >= 0");
    }
    json_t *arr = json_array();
    const char *prev = NULL, *lastout = NULL;
    long out = 0;
    bool more = false;
    for (size_t i = 0; i < k; i++) {
        if (prev && strcmp(prev, all[i]) == 0)
            continue;
        prev = all[i];
        if (last && strcmp(all[i], last) <= 0)
            continue;
        if (n >= 0 && out >= n) {
            more = true;
            break;
        }
        json_array_append_new(arr, json_string(all[i]));
        lastout = all[i];
        out++;
    }
    const char *repo = arena_printf(c->a, "%s/%s%s", m.org_slug, m.name, image ? "/image" : "");
    if (more && lastout)
        api_header(
            r, "Link",
            arena_printf(c->a, "</v2/%s/tags/list?n=%ld&last=%s>; rel=\"next\"", repo, n, lastout));
    oci_headers(r);
    return api_json(r, 200, json_pack("{s:s, s:o}", "name", repo, "tags", arr));
}

int oci_tags_list(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, false, do_tags);
}

/* ---- referrers ---- */

static int do_referrers(api_reply *r, api_call *c, store_tx *tx)
{
    store_artifact m;
    const char *d = api_param(c, "digest");
    const char *want = api_query(c, "artifactType");
    store_oci_manifest *ms;
    size_t n;
    if (!oci_digest_valid(d))
        return oci_fail(&r->e, ERR_INVALID, "DIGEST_INVALID", "'%.80s' is not a sha256 digest", d);
    if (oci_repo(&m, c, tx, &r->e) < 0 ||
        store_oci_referrers(&ms, &n, tx, m.id, d, c->a, &r->e) < 0)
        return -1;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        if (want && (!ms[i].artifact_type || strcmp(want, ms[i].artifact_type) != 0))
            continue;
        json_t *one = json_pack("{s:s, s:s, s:I}", "mediaType", ms[i].media_type, "digest",
                                ms[i].digest, "size", (json_int_t)ms[i].size_bytes);
        if (ms[i].artifact_type)
            json_object_set_new(one, "artifactType", json_string(ms[i].artifact_type));
        json_array_append_new(arr, one);
    }
    if (want)
        api_header(r, "OCI-Filters-Applied", "artifactType");
    oci_headers(r);
    json_t *idx = json_pack("{s:i, s:s, s:o}", "schemaVersion", 2, "mediaType", OCI_MT_INDEX,
                            "manifests", arr);
    char *s = json_dumps(idx, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(idx);
    if (!s)
        return err_set(&r->e, ERR_SERVER, "out of memory");
    r->raw = arena_strdup(c->a, s);
    r->raw_len = strlen(s);
    free(s);
    r->content_type = OCI_MT_INDEX;
    r->status = 200;
    return 0;
}

int oci_referrers(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, false, do_referrers);
}

/* ---- deletes (admins): pushed manifests, tags and blob rows; cairn versions are deleted
 * through /api/v1 (DELETE .../versions/{version}), so a generated manifest is not deleted ---- */

static int do_manifest_delete(api_reply *r, api_call *c, store_tx *tx)
{
    store_artifact m;
    store_org o;
    const char *ref = api_param(c, "ref");
    char *digest = NULL;
    if (api_artifact_access(&o, &m, c, tx, ROLE_ADMIN, &r->e) < 0)
        return -1;
    oci_headers(r);
    if (!oci_digest_valid(ref)) {
        if (store_oci_tag_get(&digest, tx, m.id, ref, c->a, &r->e) < 0) {
            if (r->e.kind == ERR_NOT_FOUND)
                oci_fail(&r->e, ERR_NOT_FOUND, "MANIFEST_UNKNOWN", "tag '%.80s' unknown", ref);
            return -1;
        }
        /* A tag: only the tag goes. */
        if (store_oci_tag_delete(tx, m.id, ref, &r->e) < 0)
            return -1;
        r->status = 202;
        return 0;
    }
    store_oci_manifest have;
    if (store_oci_manifest_get(&have, tx, m.id, ref, c->a, &r->e) == 0 && have.generated)
        return oci_fail(&r->e, ERR_METHOD, "UNSUPPORTED",
                        "%s is the manifest of a cairn version: delete the version through "
                        "/api/v1 (DELETE .../versions/{version})",
                        ref);
    err_clear(&r->e);
    if (store_oci_manifest_delete(tx, m.id, ref, &r->e) < 0) {
        if (r->e.kind == ERR_NOT_FOUND)
            oci_fail(&r->e, ERR_NOT_FOUND, "MANIFEST_UNKNOWN", "manifest %s unknown", ref);
        return -1;
    }
    r->status = 202;
    return 0;
}

int oci_manifest_delete(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, true, do_manifest_delete);
}

static int do_blob_delete(api_reply *r, api_call *c, store_tx *tx)
{
    store_artifact m;
    store_org o;
    const char *d = api_param(c, "digest");
    if (api_artifact_access(&o, &m, c, tx, ROLE_ADMIN, &r->e) < 0)
        return -1;
    oci_headers(r);
    if (!oci_digest_valid(d))
        return oci_fail(&r->e, ERR_INVALID, "DIGEST_INVALID", "'%.80s' is not a sha256 digest", d);
    if (store_oci_blob_delete(tx, m.id, d, &r->e) < 0) {
        if (r->e.kind == ERR_NOT_FOUND)
            oci_fail(&r->e, ERR_NOT_FOUND, "BLOB_UNKNOWN", "blob %s was not pushed to %s/%s", d,
                     m.org_slug, m.name);
        return -1;
    }
    r->status = 202;
    return 0;
}

int oci_blob_delete(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, true, do_blob_delete);
}

int oci_tag_version(store_version *v, api_call *c, store_tx *tx, const store_artifact *m,
                    const char *tag, err *e)
{
    char *vref = arena_strdup(c->a, tag);
    for (char *p = vref; *p; p++)
        if (*p == '_')
            *p = '+';
    if (api_resolve_version(v, c, tx, m, vref, e) == 0)
        return 0;
    if (strcmp(vref, tag) == 0 || e->kind != ERR_NOT_FOUND)
        return -1;
    err_clear(e);
    return api_resolve_version(v, c, tx, m, tag, e);
}
