/*
 * read.c: the read side of the Hugging Face Hub API (docs/hf.md): model info, model lists
 * with Link paging, tree and paths-info, resolve (HEAD/GET with Range), refs, commits,
 * whoami-v2, the error shape both clients parse, and CORS. Access, visibility, version lookup
 * and downloads are v1's own functions (api_artifact_access, api_resolve_version,
 * api_file_find/api_file_reply, the catalog and org list handlers).
 */
#include "api/hf/hf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/common.h"
#include "api/handlers.h"
#include "core/frontmatter.h"
#include "util/crypto.h"

#define EXPOSE                                                                                     \
    "ETag, Content-Range, Content-Length, Accept-Ranges, X-Repo-Commit, X-Linked-Etag, "           \
    "X-Linked-Size, X-Error-Code, X-Error-Message, Link, X-Request-Id"

static void hf_error(api_reply *r, api_call *c);
const api_door hf_door = {"hf", true, hf_error, NULL, 0};

void hf_cors(api_reply *r)
{
    api_header(r, "Access-Control-Allow-Origin", "*");
    api_header(r, "Access-Control-Expose-Headers", EXPOSE);
}

static const char *reply_header(const api_reply *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i].key, name) == 0)
            return r->headers[i].value;
    return NULL;
}

/* Marks the error being returned with the HF error code the clients map to exceptions. */
int hf_fail_code(api_reply *r, const char *code)
{
    if (r->e.kind == ERR_NOT_FOUND && !reply_header(r, "X-Error-Code"))
        api_header(r, "X-Error-Code", code);
    return -1;
}

/* {"error": message} + X-Error-Code / X-Error-Message (hfjs:error.ts, hfpy:utils/_http.py). A
 * 404 that names nothing else is RepoNotFound; a rejected token carries the exact message
 * Python reads as "bad credentials" rather than "repository not found". */
static void hf_error(api_reply *r, api_call *c)
{
    const char *msg = r->e.detail;
    if (r->e.kind == ERR_VALIDATION && r->e.nfields > 0)
        msg = arena_printf(c->a, "%s: %s", r->e.detail, r->e.fields[0].msg);
    if (r->e.kind == ERR_AUTH)
        msg = "Invalid credentials in Authorization header";
    char *clean = arena_strdup(c->a, msg);
    for (char *p = clean; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            *p = ' ';
    if (r->status == 404 && !reply_header(r, "X-Error-Code"))
        api_header(r, "X-Error-Code", "RepoNotFound");
    api_header(r, "X-Error-Message", clean);
    hf_cors(r);
    r->body = json_pack("{s:s}", "error", msg);
}

/* ---- mapping helpers ---- */

/* Adds {kind} = models to the call, so the v1 access functions read it as a model route. */
static void as_model(api_call *c)
{
    if (!api_param(c, "kind") && c->nparams < API_MAX_PARAMS)
        c->params[c->nparams++] = (api_kv){"kind", "models"};
}

int hf_repo(store_org *o, store_artifact *m, api_reply *r, api_call *c, store_tx *tx, int role)
{
    as_model(c);
    if (api_artifact_access(o, m, c, tx, role, &r->e) < 0)
        return hf_fail_code(r, "RepoNotFound");
    return 0;
}

static bool is_commit_id(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return false;
    return n == 40;
}

/* The version's commit id: hex(sha256("cairn-version\0" org/name "\0" version "\0" then per
 * file, by path, path "\0" sha256 "\0" size "\n"))[:40]. Derived from content only, so it
 * never changes while the version's files do not (and published versions' files never do). */
int hf_commit_id(char out[41], store_resource **rs, size_t *n, api_call *c, store_tx *tx,
                 const store_artifact *m, const store_version *v, err *e)
{
    store_resource *list;
    size_t cnt;
    if (store_resource_list(&list, &cnt, tx, v->id, NULL, c->a, e) < 0)
        return -1;
    size_t len = 64 + strlen(m->org_slug) + strlen(m->name) + strlen(v->version);
    for (size_t i = 0; i < cnt; i++)
        len += strlen(list[i].path) + 64 + 24 + 3;
    char *buf = arena_alloc(c->a, len + 1), *w = buf;
    w += sprintf(w, "cairn-version%c%s/%s%c%s%c", 0, m->org_slug, m->name, 0, v->version, 0);
    for (size_t i = 0; i < cnt; i++)
        w += sprintf(w, "%s%c%s%c%lld\n", list[i].path, 0, list[i].sha256, 0,
                     (long long)list[i].size_bytes);
    char hex[65];
    crypto_sha256_hex(hex, buf, (size_t)(w - buf));
    memcpy(out, hex, 40);
    out[40] = '\0';
    if (rs)
        *rs = list;
    if (n)
        *n = cnt;
    return 0;
}

/* Resolves an HF revision of m: `main` and `HEAD` are the `latest` alias, a 40-hex commit id
 * is the visible version whose commit id it is, anything else is what v1 resolves (exact
 * SemVer, `latest`, an alias, a version id). Fills sha, and the version's files. */
int hf_revision(store_version *v, char sha[41], store_resource **rs, size_t *n, api_reply *r,
                api_call *c, store_tx *tx, const store_artifact *m, const char *rev)
{
    if (!rev || strcmp(rev, "main") == 0 || strcmp(rev, "HEAD") == 0)
        rev = "latest";
    if (is_commit_id(rev)) {
        store_version *all;
        size_t cnt;
        if (store_version_list(&all, &cnt, tx, m->id, NULL, c->a, &r->e) < 0)
            return -1;
        for (size_t i = 0; i < cnt; i++) {
            if (!api_version_visible(c, m, all[i].lifecycle))
                continue;
            if (hf_commit_id(sha, rs, n, c, tx, m, &all[i], &r->e) < 0)
                return -1;
            if (strcmp(sha, rev) == 0) {
                *v = all[i];
                return 0;
            }
        }
        err_set(&r->e, ERR_NOT_FOUND, "Invalid rev id: %s", rev);
        return hf_fail_code(r, "RevisionNotFound");
    }
    if (api_resolve_version(v, c, tx, m, rev, &r->e) < 0) {
        if (r->e.kind == ERR_NOT_FOUND)
            err_set(&r->e, ERR_NOT_FOUND, "Invalid rev id: %s", rev);
        return hf_fail_code(r, "RevisionNotFound");
    }
    return hf_commit_id(sha, rs, n, c, tx, m, v, &r->e);
}

/* Git's blob id of the LFS pointer of a file: the `oid` clients see for an LFS file. */
static void pointer_oid(char out[41], const store_resource *res, int64_t *pointer_size)
{
    char ptr[200], obj[240];
    int pn = snprintf(ptr, sizeof(ptr),
                      "version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %lld\n",
                      res->sha256, (long long)res->size_bytes);
    int on = snprintf(obj, sizeof(obj), "blob %d%c%s", pn, 0, ptr);
    crypto_sha1_hex(out, obj, (size_t)on);
    *pointer_size = pn;
}

static json_t *file_entry(const store_resource *res)
{
    char oid[41];
    int64_t psize;
    pointer_oid(oid, res, &psize);
    return json_pack("{s:s, s:s, s:I, s:s, s:{s:s, s:I, s:I}}", "type", "file", "path", res->path,
                     "size", (json_int_t)res->size_bytes, "oid", oid, "lfs", "oid", res->sha256,
                     "size", (json_int_t)res->size_bytes, "pointerSize", (json_int_t)psize);
}

/* A directory's oid: stable per commit and path (cairn stores no tree objects). */
static json_t *dir_entry(const char *sha, const char *path, size_t n)
{
    char hex[65], buf[1200];
    int k = snprintf(buf, sizeof(buf), "tree%c%s%c%.*s", 0, sha, 0, (int)n, path);
    crypto_sha256_hex(hex, buf, (size_t)(k < (int)sizeof(buf) ? k : (int)sizeof(buf) - 1));
    hex[40] = '\0';
    return json_pack("{s:s, s:s#, s:i, s:s}", "type", "directory", "path", path, n, "size", 0,
                     "oid", hex);
}

static json_t *json_list_text(const char *text)
{
    json_t *v = api_json_text(text, "[]");
    if (!json_is_array(v)) {
        json_decref(v);
        v = json_array();
    }
    return v;
}

/* The ModelInfo object (hfpy:hf_api.py ModelInfo, hfjs:types/api/api-model.ts). */
static json_t *model_json(const store_artifact *m, const store_version *v, const char *sha,
                          const store_resource *rs, size_t n, bool blobs)
{
    char id[256];
    snprintf(id, sizeof(id), "%s/%s", m->org_slug, m->name);
    json_t *tags = json_list_text(m->tags);
    if (m->framework)
        json_array_append_new(tags, json_string(m->framework));
    if (m->license)
        json_array_append_new(tags, json_sprintf("license:%s", m->license));
    json_t *o = json_object();
    json_object_set_new(o, "_id", json_string(m->id));
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "modelId", json_string(id));
    json_object_set_new(o, "author", json_string(m->org_slug));
    json_object_set_new(o, "private", json_boolean(!m->is_public));
    json_object_set_new(o, "gated", json_false());
    json_object_set_new(o, "disabled", json_boolean(!m->enabled));
    json_object_set_new(o, "downloads", json_integer(m->download_count));
    json_object_set_new(o, "likes", json_integer(0));
    json_object_set_new(o, "tags", tags);
    if (m->task)
        json_object_set_new(o, "pipeline_tag", json_string(m->task));
    if (m->framework)
        json_object_set_new(o, "library_name", json_string(m->framework));
    json_object_set_new(o, "createdAt", api_time(m->created_at));
    json_object_set_new(o, "lastModified", api_time(m->updated_at));
    if (m->description) {
        json_t *fm = frontmatter_parse(m->description, strlen(m->description), NULL);
        if (fm && json_object_size(fm) > 0)
            json_object_set_new(o, "cardData", fm);
        else
            json_decref(fm);
    }
    if (v) {
        json_object_set_new(o, "sha", json_string(sha));
        json_object_set_new(o, "lastModified",
                            api_time(v->published_at ? v->published_at : v->updated_at));
        json_t *sib = json_array();
        int64_t used = 0;
        for (size_t i = 0; i < n; i++) {
            used += rs[i].size_bytes;
            if (!blobs) {
                json_array_append_new(sib, json_pack("{s:s}", "rfilename", rs[i].path));
                continue;
            }
            char oid[41];
            int64_t psize;
            pointer_oid(oid, &rs[i], &psize);
            json_array_append_new(sib, json_pack("{s:s, s:I, s:s, s:{s:s, s:I, s:I}}", "rfilename",
                                                 rs[i].path, "size", (json_int_t)rs[i].size_bytes,
                                                 "blobId", oid, "lfs", "sha256", rs[i].sha256,
                                                 "size", (json_int_t)rs[i].size_bytes,
                                                 "pointerSize", (json_int_t)psize));
        }
        json_object_set_new(o, "siblings", sib);
        json_object_set_new(o, "usedStorage", json_integer(used));
    }
    return o;
}

static bool query_true(const api_call *c, const char *name)
{
    const char *v = api_query(c, name);
    return v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

int hf_reply_json(api_reply *r, json_t *body)
{
    api_json(r, 200, body);
    hf_cors(r);
    return 0;
}

/* ---- model info ---- */

static int do_model_info(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_artifact m;
    store_version v;
    store_resource *rs = NULL;
    size_t n = 0;
    char sha[41];
    if (hf_repo(&o, &m, r, c, tx, ROLE_READER) < 0)
        return -1;
    const char *rev = api_param(c, "version");
    bool have = true;
    if (hf_revision(&v, sha, &rs, &n, r, c, tx, &m, rev) < 0) {
        /* Without a revision, a model with no visible version still has info (no sha). */
        if (rev || r->e.kind != ERR_NOT_FOUND)
            return -1;
        err_clear(&r->e);
        r->nheaders = 0;
        have = false;
    }
    return hf_reply_json(r, model_json(&m, have ? &v : NULL, sha, rs, n, query_true(c, "blobs")));
}

int hf_model_info(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, false, do_model_info);
}

/* ---- model list ---- */

/* Percent-encodes s for a query value. */
const char *hf_qenc(arena *a, const char *s)
{
    size_t n = strlen(s);
    char *out = arena_alloc(a, 3 * n + 1), *w = out;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~')
            *w++ = (char)*p;
        else
            w += sprintf(w, "%%%02X", *p);
    }
    *w = '\0';
    return out;
}

/* The absolute URL of this server as clients reach it (--public-url, else the Host). */
const char *hf_base_url(const api_call *c)
{
    if (c->app->cfg->public_url)
        return c->app->cfg->public_url;
    const char *host = c->header(c, "Host");
    return arena_printf(c->a, "http://%s", host ? host : c->app->cfg->listen);
}

/* HF sort names onto v1's. */
static int map_sort(const char **out, const char *s, err *e)
{
    static const char *const map[][2] = {
        {"downloads", "-downloads"},
        {"likes", "-downloads"},
        {"trending_score", "-downloads"},
        {"lastModified", "-updated_at"},
        {"last_modified", "-updated_at"},
        {"createdAt", "-created_at"},
        {"created_at", "-created_at"},
        {"id", "name"},
        {"modelId", "name"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(s, map[i][0]) == 0) {
            *out = map[i][1];
            return 0;
        }
    return err_set(e, ERR_INVALID,
                   "unknown sort '%.64s': use downloads, lastModified, "
                   "createdAt or id",
                   s);
}

/* Whether every HF client accepts org/name as a repo id (hfpy:utils/_validators.py,
 * tjs:utils/hub/utils.js): no "--" or "..", not ending in .git or .ipynb. */
static bool hf_expressible(const char *org, const char *name)
{
    size_t n = strlen(name);
    return !strstr(org, "--") && !strstr(org, "..") && !strstr(name, "--") && !strstr(name, "..") &&
           !(n >= 4 && strcmp(name + n - 4, ".git") == 0) &&
           !(n >= 6 && strcmp(name + n - 6, ".ipynb") == 0);
}

int hf_model_list(api_reply *r, api_call *c)
{
    const char *author = api_query(c, "author");
    /* The query v1 understands, and the same query for the next page's Link. */
    api_kv *q = arena_alloc(c->a, (c->nquery + 2) * sizeof(api_kv));
    size_t nq = 0;
    const char *link_q = "";
    for (size_t i = 0; i < c->nquery; i++) {
        const char *k = c->query[i].key, *val = c->query[i].value ? c->query[i].value : "";
        if (strcmp(k, "cursor") != 0)
            link_q = arena_printf(c->a, "%s%s=%s&", link_q, hf_qenc(c->a, k), hf_qenc(c->a, val));
        if (strcmp(k, "search") == 0 || strcmp(k, "cursor") == 0)
            q[nq++] = (api_kv){k, val};
        else if (strcmp(k, "filter") == 0)
            q[nq++] = (api_kv){"tags", val};
        else if (strcmp(k, "limit") == 0) {
            long lim = strtol(val, NULL, 10);
            q[nq++] = (api_kv){"limit", lim > 500 ? "500" : val};
        } else if (strcmp(k, "sort") == 0) {
            const char *s = NULL;
            if (map_sort(&s, val, &r->e) < 0)
                return -1;
            q[nq++] = (api_kv){"sort", s};
        }
        /* direction, full, config, cardData, expand: every object carries the same fields */
    }
    api_call sub = *c;
    sub.query = q;
    sub.nquery = nq;
    sub.nparams = 0;
    sub.params[sub.nparams++] = (api_kv){"kind", "models"};
    api_reply rep = {0};
    bool own = author && (c->caller.server_admin ||
                          (c->caller.org_slug && strcmp(author, c->caller.org_slug) == 0));
    int rc;
    if (own) {
        /* The caller's own org: its private models too, as v1's org list. */
        sub.params[sub.nparams++] = (api_kv){"org", author};
        sub.path = arena_printf(c->a, "/api/v1/org/%s/models", author);
        rc = api_artifact_list(&rep, &sub);
    } else {
        sub.path = "/api/v1/catalog/models";
        rc = api_catalog_list(&rep, &sub);
    }
    json_t *body = rep.body;
    if (!body && rep.raw)
        body = json_loadb(rep.raw, rep.raw_len, 0, NULL);
    else
        json_incref(body);
    if (rep.raw_release)
        rep.raw_release((void *)rep.raw);
    json_decref(rep.body);
    if (own && rc < 0 && rep.e.kind == ERR_NOT_FOUND) {
        /* a server admin naming an org that does not exist: no models */
        json_decref(body);
        return hf_reply_json(r, json_array());
    }
    if (rc < 0 || !body) {
        json_decref(body);
        r->e = rep.e;
        if (r->e.kind == ERR_NONE)
            err_set(&r->e, ERR_SERVER, "internal error");
        return -1;
    }
    json_t *out = json_array(), *it;
    size_t i;
    json_array_foreach(json_object_get(body, "items"), i, it)
    {
        const char *org = json_string_value(json_object_get(it, "org"));
        const char *canon = json_string_value(json_object_get(it, "canonical_name"));
        const char *slash = canon ? strchr(canon, '/') : NULL;
        if (!org || !slash || (author && strcmp(org, author) != 0) ||
            !hf_expressible(org, slash + 1))
            continue;
        store_artifact m = {0};
        m.id = (char *)json_string_value(json_object_get(it, "id"));
        m.org_slug = (char *)org;
        m.name = (char *)slash + 1;
        m.is_public = json_is_true(json_object_get(it, "is_public"));
        m.enabled = true;
        m.download_count = json_integer_value(json_object_get(it, "download_count"));
        m.task = (char *)json_string_value(json_object_get(it, "task"));
        m.framework = (char *)json_string_value(json_object_get(it, "framework"));
        m.license = (char *)json_string_value(json_object_get(it, "license"));
        m.tags = api_json_dump(json_object_get(it, "tags"), c->a);
        json_t *item = model_json(&m, NULL, NULL, NULL, 0, false);
        json_object_set(item, "createdAt", json_object_get(it, "created_at"));
        json_object_set(item, "lastModified", json_object_get(it, "updated_at"));
        json_array_append_new(out, item);
    }
    const char *next = json_string_value(json_object_get(body, "next_cursor"));
    if (next)
        api_header(r, "Link",
                   arena_printf(c->a, "<%s/hf/api/models?%scursor=%s>; rel=\"next\"",
                                hf_base_url(c), link_q, hf_qenc(c->a, next)));
    json_decref(body);
    return hf_reply_json(r, out);
}

/* ---- tree and paths-info ---- */

/* Whether some file lies under directory d (d without trailing /). */
static bool is_dir(const store_resource *rs, size_t n, const char *d)
{
    size_t dn = strlen(d);
    for (size_t i = 0; i < n; i++)
        if (strncmp(rs[i].path, d, dn) == 0 && rs[i].path[dn] == '/')
            return true;
    return false;
}

static int do_tree(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_artifact m;
    store_version v;
    store_resource *rs;
    size_t n;
    char sha[41];
    if (hf_repo(&o, &m, r, c, tx, ROLE_READER) < 0 ||
        hf_revision(&v, sha, &rs, &n, r, c, tx, &m, api_param(c, "version")) < 0)
        return -1;
    const char *dir = api_param(c, "path");
    if (!dir)
        dir = "";
    size_t dn = strlen(dir);
    while (dn > 0 && dir[dn - 1] == '/')
        dn--;
    dir = arena_strndup(c->a, dir, dn);
    if (dn > 0 && !is_dir(rs, n, dir)) {
        err_set(&r->e, ERR_NOT_FOUND, "directory '%s' not found at revision %s", dir, sha);
        api_header(r, "X-Repo-Commit", arena_strdup(c->a, sha));
        return hf_fail_code(r, "EntryNotFound");
    }
    bool recursive = query_true(c, "recursive");
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
        const char *p = rs[i].path;
        if (dn > 0 && !(strncmp(p, dir, dn) == 0 && p[dn] == '/'))
            continue;
        const char *rel = dn > 0 ? p + dn + 1 : p;
        /* every directory between dir and the file that is not listed yet */
        for (const char *s = strchr(rel, '/'); s; s = recursive ? strchr(s + 1, '/') : NULL) {
            size_t len = (size_t)(s - p);
            bool seen = false;
            for (size_t k = 0; k < json_array_size(out); k++) {
                const char *q = json_string_value(json_object_get(json_array_get(out, k), "path"));
                if (strlen(q) == len && strncmp(q, p, len) == 0) {
                    seen = true;
                    break;
                }
            }
            if (!seen)
                json_array_append_new(out, dir_entry(sha, p, len));
            if (!recursive)
                break;
        }
        if (recursive || !strchr(rel, '/'))
            json_array_append_new(out, file_entry(&rs[i]));
    }
    return hf_reply_json(r, out);
}

int hf_tree(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, false, do_tree);
}

static int hexval(char ch)
{
    return ch >= '0' && ch <= '9'   ? ch - '0'
           : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
           : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                    : -1;
}

/* Decodes one application/x-www-form-urlencoded token ('+' is a space there). */
static char *form_decode(arena *a, const char *s, size_t n)
{
    char *out = arena_alloc(a, n + 1), *w = out;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '+')
            *w++ = ' ';
        else if (s[i] == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 &&
                 (lo = hexval(s[i + 2])) >= 0) {
            char ch = (char)(hi * 16 + lo);
            *w++ = ch ? ch : '\x7f';
            i += 2;
        } else
            *w++ = s[i];
    }
    *w = '\0';
    return out;
}

/* The paths of a paths-info body: JSON {paths: [...]} (JS) or a form paths=a&paths=b (Python). */
static int body_paths(json_t **out, api_call *c, err *e)
{
    const char *b = c->raw_body ? c->raw_body : "";
    size_t n = c->raw_body_len;
    const char *ct = c->header(c, "Content-Type");
    json_t *paths = json_array();
    if (ct && strncasecmp(ct, "application/json", 16) == 0) {
        json_error_t je;
        json_t *doc = json_loadb(b, n, JSON_REJECT_DUPLICATES, &je);
        json_t *p = json_object_get(doc, "paths"), *x;
        size_t i;
        if (!json_is_array(p)) {
            json_decref(doc);
            json_decref(paths);
            return err_set(e, ERR_INVALID, "send {\"paths\": [...]}");
        }
        json_array_foreach(p, i, x) if (json_is_string(x)) json_array_append(paths, x);
        json_decref(doc);
    } else {
        for (size_t i = 0; i < n;) {
            size_t j = i;
            while (j < n && b[j] != '&')
                j++;
            const char *eq = memchr(b + i, '=', j - i);
            if (eq && (size_t)(eq - (b + i)) == 5 && memcmp(b + i, "paths", 5) == 0)
                json_array_append_new(
                    paths, json_string(form_decode(c->a, eq + 1, (size_t)(b + j - eq - 1))));
            i = j + 1;
        }
    }
    if (json_array_size(paths) > 1000) {
        json_decref(paths);
        return err_set(e, ERR_INVALID, "at most 1000 paths per request");
    }
    *out = paths;
    return 0;
}

static int do_paths_info(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_artifact m;
    store_version v;
    store_resource *rs;
    size_t n;
    char sha[41];
    json_t *paths;
    if (hf_repo(&o, &m, r, c, tx, ROLE_READER) < 0 ||
        hf_revision(&v, sha, &rs, &n, r, c, tx, &m, api_param(c, "version")) < 0 ||
        body_paths(&paths, c, &r->e) < 0)
        return -1;
    json_t *out = json_array(), *x;
    size_t i;
    json_array_foreach(paths, i, x)
    {
        const char *p = json_string_value(x);
        size_t pn = strlen(p);
        while (pn > 0 && p[pn - 1] == '/')
            pn--;
        char *want = arena_strndup(c->a, p, pn);
        bool found = false;
        for (size_t k = 0; k < n && !found; k++)
            if (strcmp(rs[k].path, want) == 0) {
                json_array_append_new(out, file_entry(&rs[k]));
                found = true;
            }
        if (!found && pn > 0 && is_dir(rs, n, want))
            json_array_append_new(out, dir_entry(sha, want, pn));
    }
    json_decref(paths);
    return hf_reply_json(r, out);
}

int hf_paths_info(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, false, do_paths_info);
}

/* ---- resolve ---- */

static int do_resolve(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_artifact m;
    store_version v;
    store_resource res;
    char sha[41];
    if (hf_repo(&o, &m, r, c, tx, ROLE_READER) < 0 ||
        hf_revision(&v, sha, NULL, NULL, r, c, tx, &m, api_param(c, "version")) < 0)
        return -1;
    const char *commit = arena_strdup(c->a, sha);
    /* Even a missing file names the commit: Python caches the absence under it. */
    api_header(r, "X-Repo-Commit", commit);
    if (api_file_find(&res, c, tx, &v, api_param(c, "path"), &r->e) < 0)
        return hf_fail_code(r, "EntryNotFound");
    if (api_file_reply(r, c, &m, &v, &res) < 0)
        return -1;
    api_header(r, "X-Linked-Etag", r->file.etag);
    api_header(r, "X-Linked-Size", arena_printf(c->a, "%lld", (long long)r->file.size));
    hf_cors(r);
    /* An empty file has no byte to range over (RFC 9110 would answer 416, and the clients'
     * "bytes=0-0" probe throws on any non-2xx): any Range gets 200 with the empty body and
     * Content-Range "bytes * /0" written without the space, which gives both clients size 0. */
    if (r->file.size == 0 && c->header(c, "Range")) {
        close(r->file.fd);
        r->etag = r->file.etag;
        r->file = (api_file){0};
        r->file.fd = -1;
        r->raw = "";
        r->raw_len = 0;
        r->done = (api_done){0};
        api_header(r, "Content-Range", "bytes */0");
    }
    return 0;
}

int hf_resolve(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, false, do_resolve);
}

/* ---- refs and commits ---- */

static int do_refs(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_artifact m;
    store_version *all;
    size_t cnt;
    char sha[41];
    if (hf_repo(&o, &m, r, c, tx, ROLE_READER) < 0 ||
        store_version_list(&all, &cnt, tx, m.id, NULL, c->a, &r->e) < 0)
        return -1;
    json_t *tags = json_array(), *branches = json_array();
    for (size_t i = 0; i < cnt; i++) {
        if (!api_version_visible(c, &m, all[i].lifecycle))
            continue;
        if (hf_commit_id(sha, NULL, NULL, c, tx, &m, &all[i], &r->e) < 0)
            goto fail;
        json_array_append_new(tags, json_pack("{s:s, s:s, s:s}", "name", all[i].version, "ref",
                                              arena_printf(c->a, "refs/tags/%s", all[i].version),
                                              "targetCommit", sha));
    }
    /* main is the latest alias; every other alias is a branch too. */
    json_t *aliases = json_list_text(m.aliases), *a;
    json_array_append_new(aliases, json_string("main"));
    size_t i;
    json_array_foreach(aliases, i, a)
    {
        const char *name = json_string_value(a);
        store_version v;
        if (!name)
            continue;
        if (api_resolve_version(&v, c, tx, &m, strcmp(name, "main") == 0 ? "latest" : name, &r->e) <
            0) {
            err_clear(&r->e);
            continue;
        }
        if (hf_commit_id(sha, NULL, NULL, c, tx, &m, &v, &r->e) < 0) {
            json_decref(aliases);
            goto fail;
        }
        json_array_append_new(branches, json_pack("{s:s, s:s, s:s}", "name", name, "ref",
                                                  arena_printf(c->a, "refs/heads/%s", name),
                                                  "targetCommit", sha));
    }
    json_decref(aliases);
    json_t *body = json_pack("{s:o, s:[], s:o}", "branches", branches, "converts", "tags", tags);
    if (query_true(c, "include_prs"))
        json_object_set_new(body, "pullRequests", json_array());
    return hf_reply_json(r, body);
fail:
    json_decref(tags);
    json_decref(branches);
    return -1;
}

int hf_refs(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, false, do_refs);
}

static int do_commits(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_artifact m;
    store_version v, *all;
    size_t cnt;
    char sha[41];
    if (hf_repo(&o, &m, r, c, tx, ROLE_READER) < 0 ||
        hf_revision(&v, sha, NULL, NULL, r, c, tx, &m, api_param(c, "version")) < 0 ||
        store_version_list(&all, &cnt, tx, m.id, NULL, c->a, &r->e) < 0)
        return -1;
    /* The history of a version: it and every earlier visible version, newest first. */
    json_t *out = json_array();
    for (size_t i = 0; i < cnt; i++) {
        if (!api_version_visible(c, &m, all[i].lifecycle) ||
            strcmp(all[i].sort_key, v.sort_key) > 0)
            continue;
        if (hf_commit_id(sha, NULL, NULL, c, tx, &m, &all[i], &r->e) < 0) {
            json_decref(out);
            return -1;
        }
        json_array_append_new(
            out,
            json_pack("{s:s, s:s, s:s, s:[], s:o}", "id", sha, "title",
                      arena_printf(c->a, "version %s", all[i].version), "message",
                      all[i].changelog ? all[i].changelog : "", "authors", "date",
                      api_time(all[i].published_at ? all[i].published_at : all[i].created_at)));
    }
    return hf_reply_json(r, out);
}

int hf_commits(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, false, do_commits);
}

/* ---- whoami-v2, CORS preflight ---- */

int hf_whoami(api_reply *r, api_call *c)
{
    const api_caller *w = &c->caller;
    const char *name = w->token_name ? w->token_name : w->server_admin ? "admin" : "token";
    const char *role = w->role >= ROLE_WRITER ? "write" : "read";
    json_t *orgs = json_array();
    if (w->org_slug)
        json_array_append_new(orgs, json_pack("{s:s, s:s, s:s, s:s}", "type", "org", "name",
                                              w->org_slug, "fullname", w->org_slug, "roleInOrg",
                                              w->role >= ROLE_ADMIN    ? "admin"
                                              : w->role >= ROLE_WRITER ? "write"
                                                                       : "read"));
    return hf_reply_json(r, json_pack("{s:s, s:s, s:s, s:s, s:n, s:b, s:b, s:o, s:{s:s, s:{s:s, "
                                      "s:s}}}",
                                      "type", "user", "id", w->token_id ? w->token_id : "admin",
                                      "name", name, "fullname", name, "email", "emailVerified", 0,
                                      "isPro", 0, "orgs", orgs, "auth", "type", "access_token",
                                      "accessToken", "displayName", name, "role", role));
}

int hf_preflight(api_reply *r, api_call *c)
{
    (void)c;
    r->status = 204;
    api_header(r, "Access-Control-Allow-Origin", "*");
    api_header(r, "Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, OPTIONS");
    api_header(r, "Access-Control-Allow-Headers",
               "Authorization, Range, Content-Type, Accept, X-Request-Id, If-None-Match");
    api_header(r, "Access-Control-Expose-Headers", EXPOSE);
    api_header(r, "Access-Control-Max-Age", "86400");
    return 0;
}
