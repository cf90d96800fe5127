/*
 * write.c: the write side of the Hugging Face Hub API (docs/hf.md): create repo, preupload,
 * the LFS batch (basic transfer) and the commit NDJSON. One commit makes one new immutable
 * cairn version: the parent's files with the commit's operations applied, created, filled and
 * published through v1's own handlers and functions (api_artifact_create, api_version_create,
 * api_blob_claim, api_attach_files, api_version_publish), so names, roles, quotas, dedup,
 * SHA-256 checks and lifecycle are v1's.
 */
#include "api/hf/hf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "api/handlers.h"
#include "core/path.h"
#include "core/semver.h"
#include "util/crypto.h"
#include "util/timeutil.h"

#define LFS_URL_TTL_S 3600
#define COMMIT_FILES_MAX 10000

/* The request body as JSON (the hf door hands bodies over raw). */
static json_t *body_json(api_call *c, err *e)
{
    json_error_t je;
    json_t *doc =
        json_loadb(c->raw_body ? c->raw_body : "", c->raw_body_len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(doc)) {
        json_decref(doc);
        err_set(e, ERR_INVALID, "the body must be a JSON object");
        return NULL;
    }
    arena_defer(c->a, (arena_fn)json_decref, doc);
    return doc;
}

/* Runs v1 handler h on model org/name (version: NULL for none) with body, as its own request
 * with the same caller; rep->body is its JSON reply. */
static int sub(api_reply *rep, api_call *c, api_handler h, const char *org, const char *name,
               const char *version, json_t *body)
{
    api_call s = *c;
    s.nparams = 0;
    s.params[s.nparams++] = (api_kv){"org", org};
    s.params[s.nparams++] = (api_kv){"kind", "models"};
    if (name)
        s.params[s.nparams++] = (api_kv){"name", name};
    if (version)
        s.params[s.nparams++] = (api_kv){"version", version};
    s.body = body;
    s.raw_body = NULL;
    s.raw_body_len = 0;
    s.nquery = 0;
    memset(rep, 0, sizeof(*rep));
    if (h(rep, &s) < 0 && rep->e.kind == ERR_NONE)
        err_set(&rep->e, ERR_SERVER, "internal error");
    if (!rep->body && rep->raw)
        rep->body = json_loadb(rep->raw, rep->raw_len, 0, NULL);
    if (rep->body)
        arena_defer(c->a, (arena_fn)json_decref, rep->body);
    return rep->e.kind == ERR_NONE ? 0 : -1;
}

static const char *repo_url(api_call *c, const char *org, const char *name)
{
    return arena_printf(c->a, "%s/hf/%s/%s", hf_base_url(c), org, name);
}

/* ---- POST /hf/api/repos/create ---- */

int hf_repo_create(api_reply *r, api_call *c)
{
    json_t *b = body_json(c, &r->e);
    if (!b)
        return -1;
    const char *type = json_string_value(json_object_get(b, "type"));
    if (type && strcmp(type, "model") != 0)
        return err_set(&r->e, ERR_INVALID, "cairn holds models only, not %.32ss", type);
    const char *name = json_string_value(json_object_get(b, "name"));
    const char *org = json_string_value(json_object_get(b, "organization"));
    if (!org)
        org = c->caller.org_slug;
    if (!name || !org)
        return err_set(&r->e, ERR_INVALID, "send name and organization");
    if (json_array_size(json_object_get(b, "files")) > 0)
        return err_set(&r->e, ERR_INVALID,
                       "files are not taken at creation: upload them with a commit");
    const char *vis = json_string_value(json_object_get(b, "visibility"));
    bool priv = json_is_true(json_object_get(b, "private")) || (vis && strcmp(vis, "private") == 0);
    json_t *art = json_pack("{s:s, s:b}", "name", name, "is_public", !priv);
    const char *license = json_string_value(json_object_get(b, "license"));
    if (license)
        json_object_set_new(art, "license", json_string(license));
    arena_defer(c->a, (arena_fn)json_decref, art);
    api_reply rep;
    const char *url = repo_url(c, org, name);
    if (sub(&rep, c, api_artifact_create, org, NULL, NULL, art) < 0) {
        if (rep.e.kind != ERR_EXISTS) {
            r->e = rep.e;
            return -1;
        }
        /* Python's create_repo(exist_ok=True) reads the url from the 409's body. */
        api_json(r, 409, json_pack("{s:s, s:s}", "error", rep.e.detail, "url", url));
        hf_cors(r);
        return 0;
    }
    return hf_reply_json(r, json_pack("{s:s, s:s, s:O}", "url", url, "name",
                                      arena_printf(c->a, "%s/%s", org, name), "id",
                                      json_object_get(rep.body, "id")));
}

/* ---- POST /hf/api/validate-yaml: Python calls it for a README.md and reads JSON always ---- */

int hf_validate_yaml(api_reply *r, api_call *c)
{
    (void)c;
    return hf_reply_json(r, json_pack("{s:[], s:[]}", "errors", "warnings"));
}

/* ---- POST .../preupload/{rev} ---- */

static int do_preupload(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_artifact m;
    json_t *b = body_json(c, &r->e);
    if (!b || hf_repo(&o, &m, r, c, tx, ROLE_WRITER) < 0)
        return -1;
    json_t *files = json_object_get(b, "files"), *f, *out = json_array();
    size_t i;
    json_array_foreach(files, i, f)
    {
        const char *p = json_string_value(json_object_get(f, "path"));
        json_int_t size = json_integer_value(json_object_get(f, "size"));
        if (!p || !path_is_valid(p, strlen(p))) {
            json_decref(out);
            return err_set(&r->e, ERR_INVALID, "invalid file path '%.200s'", p ? p : "");
        }
        /* Every non-empty file goes through the LFS batch: streamed and SHA-256-verified into
         * the store; empty ones (Python forces them to regular) ride in the commit. */
        json_array_append_new(out, json_pack("{s:s, s:s, s:b}", "path", p, "uploadMode",
                                             size > 0 ? "lfs" : "regular", "shouldIgnore", 0));
    }
    return hf_reply_json(r, json_pack("{s:o}", "files", out));
}

int hf_preupload(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, false, do_preupload);
}

/* ---- POST /hf/{org}/{name}.git/info/lfs/objects/batch ---- */

static bool hex64(const char *s)
{
    if (!s || strlen(s) != 64)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

/* The upload id of an LFS object of an org: what the batch signs and the commit claims. */
static const char *lfs_upload_id(api_call *c, const char *org_id, const char *oid)
{
    char hex[65];
    const char *material = arena_printf(c->a, "hf-lfs\n%s\n%s", org_id, oid);
    crypto_sha256_hex(hex, material, strlen(material));
    return arena_strndup(c->a, hex, 48);
}

static int do_batch(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_artifact m;
    json_t *b = body_json(c, &r->e);
    if (!b || hf_repo(&o, &m, r, c, tx, ROLE_WRITER) < 0)
        return -1;
    const char *op = json_string_value(json_object_get(b, "operation"));
    if (!op || strcmp(op, "upload") != 0)
        return err_set(&r->e, ERR_INVALID,
                       "only the upload operation is served here; "
                       "download through resolve");
    int64_t exp = time_now_ms() / 1000 + LFS_URL_TTL_S;
    json_t *objs = json_object_get(b, "objects"), *x, *out = json_array();
    size_t i;
    json_array_foreach(objs, i, x)
    {
        const char *oid = json_string_value(json_object_get(x, "oid"));
        json_t *size = json_object_get(x, "size");
        json_t *item = json_pack("{s:s?, s:O?}", "oid", oid, "size", size);
        json_array_append_new(out, item);
        if (!hex64(oid) || !json_is_integer(size) || json_integer_value(size) < 0) {
            json_object_set_new(item, "error",
                                json_pack("{s:i, s:s}", "code", 422, "message",
                                          "oid must be a lowercase SHA-256 and "
                                          "size a non-negative integer"));
            continue;
        }
        /* Bytes the org already holds need no upload (dedup); bytes only another org holds
         * are uploaded again, so a digest tells nothing about other orgs' files. */
        int64_t held = -1;
        int rc = api_org_holds(&held, c, tx, o.id, oid, &r->e);
        if (rc < 0 && r->e.kind != ERR_NOT_FOUND) {
            json_decref(out);
            return -1;
        }
        err_clear(&r->e);
        if (rc == 0 && held == json_integer_value(size))
            continue;
        const char *href = api_upload_url(c, oid, lfs_upload_id(c, o.id, oid), exp);
        json_object_set_new(item, "actions",
                            json_pack("{s:{s:s, s:I}}", "upload", "href", href, "expires_in",
                                      (json_int_t)LFS_URL_TTL_S));
    }
    return hf_reply_json(r, json_pack("{s:s, s:o, s:s}", "transfer", "basic", "objects", out,
                                      "hash_algo", "sha256"));
}

int hf_lfs_batch(api_reply *r, api_call *c)
{
    /* {name} arrives as "name.git" (the LFS endpoint's form). */
    for (size_t i = 0; i < c->nparams; i++) {
        size_t n = strlen(c->params[i].value);
        if (strcmp(c->params[i].key, "name") == 0 && n > 4 &&
            strcmp(c->params[i].value + n - 4, ".git") == 0)
            c->params[i].value = arena_strndup(c->a, c->params[i].value, n - 4);
    }
    return api_in_tx(r, c, false, do_batch);
}

/* ---- POST .../commit/{rev} ---- */

static int b64val(int ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+' || ch == '-')
        return 62;
    if (ch == '/' || ch == '_')
        return 63;
    return -1;
}

/* Decodes base64 (standard or URL alphabet, padding optional); -1 if malformed. */
static long b64decode(uint8_t *out, const char *s)
{
    long n = 0;
    unsigned acc = 0;
    int bits = 0;
    for (; *s && *s != '='; s++) {
        int v = b64val((unsigned char)*s);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    return n;
}

/* The file set a commit builds: path -> bytes. */
typedef struct fileset {
    api_newfile *f;
    size_t n, cap;
} fileset;

static void set_remove(fileset *fs, const char *path, bool folder)
{
    size_t pn = strlen(path), w = 0;
    while (folder && pn > 0 && path[pn - 1] == '/')
        pn--;
    for (size_t i = 0; i < fs->n; i++) {
        const char *p = fs->f[i].path;
        bool hit = folder ? (pn == 0 || (strncmp(p, path, pn) == 0 && p[pn] == '/'))
                          : strcmp(p, path) == 0;
        if (!hit)
            fs->f[w++] = fs->f[i];
    }
    fs->n = w;
}

static int set_put(fileset *fs, arena *a, const char *path, const char *hex, uint64_t size, err *e)
{
    set_remove(fs, path, false);
    if (fs->n == fs->cap) {
        if (fs->cap >= COMMIT_FILES_MAX)
            return err_set(e, ERR_INVALID, "a commit holds at most %d files", COMMIT_FILES_MAX);
        size_t cap = fs->cap ? fs->cap * 2 : 16;
        api_newfile *nf = arena_alloc(a, cap * sizeof(*nf));
        if (fs->n)
            memcpy(nf, fs->f, fs->n * sizeof(*nf));
        fs->f = nf;
        fs->cap = cap;
    }
    fs->f[fs->n++] = (api_newfile){arena_strdup(a, path), arena_strdup(a, hex), size};
    return 0;
}

/* Stores the bytes of an inline file (a "file" line) through a blob writer. */
static int put_inline(char hex[65], uint64_t *size, api_call *c, const char *b64, err *e)
{
    size_t n = strlen(b64);
    uint8_t *raw = arena_alloc(c->a, n / 4 * 3 + 3);
    long len = b64decode(raw, b64);
    if (len < 0)
        return err_set(e, ERR_INVALID, "malformed base64 content");
    blob_writer *w = NULL;
    if (blob_writer_open(&w, c->app->blob, e) < 0)
        return -1;
    if (blob_writer_write(w, raw, (size_t)len, e) < 0) {
        blob_writer_abort(w);
        return -1;
    }
    return blob_writer_commit(w, NULL, hex, size, e);
}

/* The version a commit to rev makes: rev itself when it is SemVer (it must be new), else for
 * main/HEAD the next patch of the head (1.0.0 for the first). */
static int target_version(const char **out, api_call *c, const char *rev, const char *head, err *e)
{
    if (semver_is_valid(rev, strlen(rev))) {
        *out = rev;
        return 0;
    }
    if (strcmp(rev, "main") != 0 && strcmp(rev, "HEAD") != 0)
        return err_set(e, ERR_INVALID,
                       "commit to main (the next patch version) or to a new SemVer version, "
                       "not '%.64s': versions are immutable",
                       rev);
    semver v;
    if (!head || semver_parse(&v, head, strlen(head)) < 0) {
        *out = "1.0.0";
        return 0;
    }
    *out = arena_printf(c->a, "%llu.%llu.%llu", (unsigned long long)v.major,
                        (unsigned long long)v.minor, (unsigned long long)v.patch + 1);
    return 0;
}

/* Removes the draft a failed commit made (it was never published nor seen by others). */
static void drop_draft(api_call *c, const char *version_id)
{
    err e = {0};
    store_tx *tx = NULL;
    if (store_tx_begin(&tx, c->app->store, true, &e) < 0)
        return;
    int rc = store_version_delete(tx, version_id, time_now_ms(), &e);
    store_tx_end(tx, rc == 0, &e);
}

int hf_commit(api_reply *r, api_call *c)
{
    store_org o;
    store_artifact m;
    store_version head;
    store_resource *hrs = NULL;
    size_t hn = 0;
    char hsha[41] = "";
    bool have_head = false;
    const char *org = api_param(c, "org");
    const char *rev = api_param(c, "version");
    /* 1. the model and its head (the parent of the new version) */
    store_tx *tx = NULL;
    if (store_tx_begin(&tx, c->app->store, false, &r->e) < 0)
        return -1;
    int rc = hf_repo(&o, &m, r, c, tx, ROLE_WRITER);
    if (rc == 0 && m.latest_version_id) {
        rc = hf_revision(&head, hsha, &hrs, &hn, r, c, tx, &m, "latest");
        have_head = rc == 0;
    }
    store_tx_end(tx, false, &r->e);
    if (rc < 0)
        return -1;
    /* 2. the operations, applied to the head's files */
    fileset fs = {0};
    for (size_t i = 0; i < hn; i++)
        if (set_put(&fs, c->a, hrs[i].path, hrs[i].sha256, (uint64_t)hrs[i].size_bytes, &r->e) < 0)
            return -1;
    const char *summary = NULL, *description = NULL, *parent = NULL;
    const char *p = c->raw_body ? c->raw_body : "", *end = p + c->raw_body_len;
    int lineno = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        lineno++;
        if (le == p || (le - p == 1 && *p == '\r')) {
            p = le + 1;
            continue;
        }
        json_error_t je;
        json_t *line = json_loadb(p, (size_t)(le - p), JSON_REJECT_DUPLICATES, &je);
        p = le + 1;
        if (!line)
            return err_set(&r->e, ERR_INVALID, "line %d is not JSON: %s", lineno, je.text);
        arena_defer(c->a, (arena_fn)json_decref, line);
        const char *key = json_string_value(json_object_get(line, "key"));
        json_t *v = json_object_get(line, "value");
        const char *path = json_string_value(json_object_get(v, "path"));
        if (!key || !json_is_object(v))
            return err_set(&r->e, ERR_INVALID, "line %d: send {key, value}", lineno);
        if (strcmp(key, "header") == 0) {
            summary = json_string_value(json_object_get(v, "summary"));
            description = json_string_value(json_object_get(v, "description"));
            parent = json_string_value(json_object_get(v, "parentCommit"));
            continue;
        }
        if (!path || (strcmp(key, "deletedFolder") != 0 && !path_is_valid(path, strlen(path))))
            return err_set(&r->e, ERR_INVALID, "line %d: invalid path '%.200s'", lineno,
                           path ? path : "");
        char hex[65];
        uint64_t size = 0;
        if (strcmp(key, "deletedFile") == 0) {
            set_remove(&fs, path, false);
        } else if (strcmp(key, "deletedFolder") == 0) {
            set_remove(&fs, path, true);
        } else if (strcmp(key, "file") == 0) {
            const char *content = json_string_value(json_object_get(v, "content"));
            const char *enc = json_string_value(json_object_get(v, "encoding"));
            if (!content || (enc && strcmp(enc, "base64") != 0))
                return err_set(&r->e, ERR_INVALID, "line %d: send base64 content", lineno);
            if (put_inline(hex, &size, c, content, &r->e) < 0 ||
                set_put(&fs, c->a, path, hex, size, &r->e) < 0)
                return -1;
        } else if (strcmp(key, "lfsFile") == 0) {
            const char *oid = json_string_value(json_object_get(v, "oid"));
            json_t *declared = json_object_get(v, "size");
            if (!hex64(oid))
                return err_set(&r->e, ERR_INVALID, "line %d: oid must be a lowercase SHA-256",
                               lineno);
            /* v1's confirm rule: bytes this org uploaded through the batch's URL (verified
             * against the oid as they streamed) or bytes a file of the org already holds. */
            if (api_blob_claim(hex, &size, c, o.id, lfs_upload_id(c, o.id, oid), oid, &r->e) < 0) {
                if (r->e.kind == ERR_NOT_FOUND)
                    err_set(&r->e, ERR_INVALID,
                            "line %d: '%.200s' (%s) was not uploaded: ask the LFS batch first",
                            lineno, path, oid);
                return -1;
            }
            if (json_is_integer(declared) && (uint64_t)json_integer_value(declared) != size)
                return err_set(&r->e, ERR_INVALID, "line %d: '%.200s' is %llu bytes, not %lld",
                               lineno, path, (unsigned long long)size,
                               (long long)json_integer_value(declared));
            if (set_put(&fs, c->a, path, hex, size, &r->e) < 0)
                return -1;
        } else {
            return err_set(&r->e, ERR_INVALID, "line %d: unknown key '%.32s'", lineno, key);
        }
    }
    if (parent && (!have_head || strcmp(parent, hsha) != 0)) {
        err_set(&r->e, ERR_CONFLICT, "parentCommit %.64s is not the head %s", parent,
                have_head ? hsha : "(none)");
        return -1;
    }
    const char *target = NULL;
    if (target_version(&target, c, rev, have_head ? head.version : NULL, &r->e) < 0)
        return -1;
    /* 3. the new version: created, filled and published by v1 */
    json_t *vb = json_pack("{s:s}", "version", target);
    arena_defer(c->a, (arena_fn)json_decref, vb);
    if (summary && *summary)
        json_object_set_new(vb, "summary", json_stringn(summary, strnlen(summary, 1024)));
    if (description && *description)
        json_object_set_new(vb, "changelog",
                            json_stringn(description, strnlen(description, 65536)));
    api_reply rep;
    if (sub(&rep, c, api_version_create, org, m.name, NULL, vb) < 0) {
        r->e = rep.e;
        return -1;
    }
    const char *vid = arena_strdup(c->a, json_string_value(json_object_get(rep.body, "id")));
    for (size_t i = 0; i < fs.n; i += API_ATTACH_MAX) {
        size_t k = fs.n - i < API_ATTACH_MAX ? fs.n - i : API_ATTACH_MAX;
        api_reply att = {0};
        int arc = api_attach_files(&att, c, o.id, vid, fs.f + i, k);
        json_decref(att.body);
        if (arc < 0) {
            r->e = att.e;
            drop_draft(c, vid);
            return -1;
        }
    }
    if (sub(&rep, c, api_version_publish, org, m.name, target, NULL) < 0) {
        r->e = rep.e;
        drop_draft(c, vid);
        return -1;
    }
    /* 4. its commit id */
    store_version nv;
    char sha[41];
    if (store_tx_begin(&tx, c->app->store, false, &r->e) < 0)
        return -1;
    rc = hf_revision(&nv, sha, NULL, NULL, r, c, tx, &m, target);
    store_tx_end(tx, false, &r->e);
    if (rc < 0)
        return -1;
    return hf_reply_json(
        r, json_pack("{s:s, s:s, s:b, s:s, s:s}", "commitUrl",
                     arena_printf(c->a, "%s/commit/%s", repo_url(c, org, m.name), sha), "commitOid",
                     sha, "success", 1, "hookOutput", "", "version", nv.version));
}
