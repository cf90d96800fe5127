/*
 * upload.c: every way bytes enter a version (API.md §6): a raw PUT of one file, a multipart
 * bundle, a presigned PUT then confirm, and resumable sessions. Bodies stream into blob
 * writers (hashed on the way, never held whole in memory); rows are written only after the
 * blob is durable, so a crash leaves at worst an unreferenced blob for GC.
 */
#include "api/handlers.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/common.h"
#include "blob/presign.h"
#include "core/formats.h"
#include "core/name.h"
#include "core/path.h"
#include "util/crypto.h"
#include "util/log.h"
#include "util/timeutil.h"

#define MAX_BUNDLE_FILES 65
#define PRESIGN_TTL_S 3600
#define SESSION_TTL_MS (24LL * 3600 * 1000)

typedef struct upfile {
    blob_writer *w;
    const char *path, *kind;
    char hex[65];
    uint64_t size;
    bool done;
} upfile;

typedef struct upstate {
    const app *app;
    arena *a;
    store_org o;
    store_artifact m;
    store_version v;
    upfile files[MAX_BUNDLE_FILES];
    size_t nfiles;
    const char *kinds[MAX_BUNDLE_FILES];
    size_t nkinds;
    const char *part_name, *part_file; /* the multipart part being received */
    uint64_t part_bytes;
    char *text; /* the extras_kind value being received */
    size_t text_len;
    bool in_text;
    const char *expected; /* declared sha256, lowercase hex */
    /* presigned PUT / sessions */
    const char *key;
    const char *upload; /* a presigned PUT's upload id */
    store_session s;
    uint64_t offset, range_len;
    uint64_t limit;    /* a PATCH may not take the session past this size */
    uint64_t received; /* body bytes of this PATCH so far */
    bool has_range;
    blob_appender *ap; /* a PATCH's appends, stored when it ends */
} upstate;

static bool hex64(const char *s)
{
    if (!s || strlen(s) != 64)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F')))
            return false;
    return true;
}

static const char *lower(arena *a, const char *s)
{
    char *o = arena_strdup(a, s);
    for (char *p = o; *p; p++)
        if (*p >= 'A' && *p <= 'F')
            *p = (char)(*p - 'A' + 'a');
    return o;
}

/* Files may be added to drafts only: published content is immutable (API.md §5). */
static int require_draft(const store_version *v, err *e)
{
    if (strcmp(v->lifecycle, "draft") != 0)
        return err_set(e, ERR_CONFLICT, "version '%s' is %s: its files are immutable",
                       v->version, v->lifecycle);
    return 0;
}

/* Resolves {org}/{kind}/{name}/versions/{version} for writing files: a draft only. */
static int target_draft(store_org *o, store_artifact *m, store_version *v, api_call *c,
                        store_tx *tx, err *e)
{
    if (api_artifact_access(o, m, c, tx, ROLE_WRITER, e) < 0 ||
        api_resolve_version(v, c, tx, m, api_param(c, "version"), e) < 0)
        return -1;
    return require_draft(v, e);
}

static int check_path_free(store_tx *tx, const store_version *v, const char *path, arena *a,
                           err *e)
{
    store_resource r;
    if (store_resource_by_path(&r, tx, v->id, path, a, e) == 0)
        return err_set(e, ERR_EXISTS, "file '%s' already exists in version '%s'", path,
                       v->version);
    if (e->kind != ERR_NOT_FOUND)
        return -1;
    err_clear(e);
    return 0;
}

static int check_path(const char *path, const char *loc0, const char *loc1, err *e)
{
    if (!path || !path_is_valid(path, strlen(path)))
        return err_field_add(e, loc0, loc1, "value_error",
                             "a relative path of 1..512 bytes without '..', '.', empty or "
                             "absolute segments, backslashes or control characters");
    return 0;
}

/* A resource kind given by the client must be a short word; absent means the default, and so
 * does an empty ?kind= in a query (loc0 "query"). */
static int check_kind(const char *kind, const char *loc0, err *e)
{
    bool dflt = !kind || (!*kind && strcmp(loc0, "query") == 0);
    if (!dflt && !resource_kind_is_valid(kind, strlen(kind)))
        return err_field_add(e, loc0, "kind", "string_pattern_mismatch",
                             "String should match pattern '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'");
    return 0;
}

/* Reads the header of a weights file and returns what it says (NULL: nothing to say), or
 * sets e (422) when the header is malformed. */
static json_t *sniff(const app *ap, const upfile *f, err *e)
{
    char buf[32];
    const char *fmt = format_of_path(f->path, buf, sizeof(buf));
    if (strcmp(fmt, "safetensors") != 0 && strcmp(fmt, "gguf") != 0)
        return NULL;
    char key[BLOB_KEY_MAX];
    blob_key_of(key, sizeof(key), f->hex);
    uint64_t size = 0;
    size_t got = 0;
    uint8_t *p = malloc(FORMAT_SNIFF_MAX);
    if (!p) {
        err_set(e, ERR_SERVER, "out of memory");
        return NULL;
    }
    /* The header only: with S3 a ranged read, not a fetch of the whole blob. */
    if (blob_read_head(p, FORMAT_SNIFF_MAX, &got, &size, ap->blob, key, e) < 0) {
        free(p);
        return NULL;
    }
    /* A safetensors header may be up to SAFETENSORS_HEADER_MAX, past FORMAT_SNIFF_MAX: when
     * the length says so, read the whole header (the parser refuses a longer one). */
    if (strcmp(fmt, "safetensors") == 0 && got >= 8 && got < size) {
        uint64_t hlen = 0;
        for (size_t i = 8; i-- > 0;)
            hlen = hlen << 8 | p[i];
        if (hlen <= SAFETENSORS_HEADER_MAX && 8 + hlen > got) {
            size_t want = (size_t)(8 + hlen < size ? 8 + hlen : size);
            uint8_t *bigger = realloc(p, want);
            if (!bigger) {
                free(p);
                err_set(e, ERR_SERVER, "out of memory");
                return NULL;
            }
            p = bigger;
            if (blob_read_head(p, want, &got, &size, ap->blob, key, e) < 0) {
                free(p);
                return NULL;
            }
        }
    }
    json_t *info = NULL;
    if (strcmp(fmt, "safetensors") == 0)
        info = format_parse_safetensors(p, got, size, e);
    else
        info = format_parse_gguf(p, got, got == size, e);
    free(p);
    if (!info && e->kind == ERR_VALIDATION && e->nfields > 0)
        snprintf(e->fields[0].loc[1], sizeof(e->fields[0].loc[1]), "%s", "file");
    return info;
}

/* Records n committed files as one package of draft version version_id of an artifact of
 * org_id (resolved, with access checked, when the upload began); the version is re-read and
 * must still be a draft. Replies 201 Package. */
static int attach(api_reply *r, api_call *c, const char *org_id, const char *version_id,
                  upfile *files, size_t n, const char *pkg_kind)
{
    store_tx *tx = NULL;
    store_artifact m;
    store_version v;
    json_t *infos[MAX_BUNDLE_FILES] = {0};
    int rc = -1;
    for (size_t i = 0; i < n; i++) {
        infos[i] = sniff(c->app, &files[i], &r->e);
        if (r->e.kind != ERR_NONE)
            goto out;
    }
    if (store_tx_begin(&tx, c->app->store, true, &r->e) < 0 ||
        store_version_by_id(&v, tx, NULL, version_id, c->a, &r->e) < 0 ||
        api_artifact_by_id(&m, c, tx, org_id, v.artifact_id, &r->e) < 0 ||
        require_draft(&v, &r->e) < 0)
        goto out;
    /* GC removes blobs only under this same write lock, after checking no committed row
     * references them (admin.c): a blob seen here stays until this transaction's rows are
     * committed, and one GC took since the bytes were written fails the upload instead of
     * leaving a row without its bytes. */
    for (size_t i = 0; i < n; i++) {
        char key[BLOB_KEY_MAX];
        blob_key_of(key, sizeof(key), files[i].hex);
        if (!blob_exists(c->app->blob, key)) {
            log_warn(c->req_id, "files.blob_collected", "s:s", "key", key);
            api_header(r, "Retry-After", "1");
            err_set(&r->e, ERR_UNAVAILABLE,
                    "the bytes of '%s' were garbage-collected while it was uploaded; upload it "
                    "again",
                    files[i].path);
            goto out;
        }
    }
    int64_t now = time_now_ms(), total = 0;
    char pid[37], fmtbuf[32];
    crypto_uuid7(pid);
    for (size_t i = 0; i < n; i++)
        total += (int64_t)files[i].size;
    store_package p = {pid, v.id, (char *)format_of_path(files[0].path, fmtbuf, sizeof(fmtbuf)),
                       (char *)pkg_kind, total, now};
    if (store_package_insert(tx, &p, &r->e) < 0)
        goto out;
    json_t *meta = api_json_text(v.metadata, "{}");
    arena_defer(c->a, (arena_fn)json_decref, meta);
    for (size_t i = 0; i < n; i++) {
        char rid[37], key[BLOB_KEY_MAX];
        crypto_uuid7(rid);
        blob_key_of(key, sizeof(key), files[i].hex);
        store_resource res = {rid, pid, v.id, (char *)files[i].path, (char *)files[i].kind,
                              files[i].hex, (char *)media_type_of_path(files[i].path), key,
                              i == 0, true, (int64_t)files[i].size, now};
        if (store_resource_insert(tx, &res, &r->e) < 0)
            goto out;
        if (infos[i]) {
            json_t *files_meta = json_object_get(meta, "files");
            if (!json_is_object(files_meta)) {
                files_meta = json_object();
                json_object_set_new(meta, "files", files_meta);
            }
            json_object_set(files_meta, files[i].path, infos[i]);
            json_t *pc = json_object_get(infos[i], "parameter_count");
            if (json_is_integer(pc))
                v.parameter_count = (v.parameter_count < 0 ? 0 : v.parameter_count) +
                                    json_integer_value(pc);
            const char *keys[] = {"architecture", "quantization", "context_length", "format"};
            for (size_t k = 0; k < 4; k++) {
                json_t *x = json_object_get(infos[i], keys[k]);
                if (x && !json_object_get(meta, keys[k]))
                    json_object_set(meta, keys[k], x);
            }
            const char *arch = json_string_value(json_object_get(infos[i], "architecture"));
            if (arch && !v.architecture)
                v.architecture = arena_strdup(c->a, arch);
        }
    }
    if (v.parameter_count >= 0)
        json_object_set_new(meta, "parameter_count", json_integer(v.parameter_count));
    v.metadata = api_json_dump(meta, c->a);
    store_version fresh;
    if (store_version_by_id(&fresh, tx, m.id, v.id, c->a, &r->e) < 0)
        goto out;
    v.size_bytes = fresh.size_bytes; /* resource inserts added the file sizes */
    if (store_version_update(tx, &v, now, &r->e) < 0)
        goto out;
    if (v.parameter_count >= 0 &&
        store_artifact_fill_size_category(tx, m.id,
                                          format_size_category((uint64_t)v.parameter_count),
                                          &r->e) < 0)
        goto out;
    store_resource *rs;
    size_t nr;
    if (store_resource_list(&rs, &nr, tx, v.id, pid, c->a, &r->e) < 0)
        goto out;
    json_t *arr = json_array();
    for (size_t i = 0; i < nr; i++)
        json_array_append_new(arr, api_resource_json(&rs[i]));
    if (store_tx_end(tx, true, &r->e) < 0) {
        tx = NULL;
        json_decref(arr);
        goto out;
    }
    tx = NULL;
    log_info(c->req_id, "files.attached", "s:s, s:s, s:I, s:I", "version", v.id, "package", pid,
             "files", (json_int_t)n, "bytes", (json_int_t)total);
    api_json(r, 201,
             json_pack("{s:s, s:s, s:s, s:s, s:I, s:o, s:o}", "id", pid, "version_id", v.id,
                       "format", p.format, "kind", pkg_kind, "size_bytes", (json_int_t)total,
                       "created_at", api_time(now), "resources", arr));
    rc = 0;
out:
    store_tx_end(tx, false, &r->e);
    for (size_t i = 0; i < n; i++)
        json_decref(infos[i]);
    return rc;
}

static upstate *state_new(api_call *c)
{
    upstate *u = arena_new(c->a, upstate);
    u->app = c->app;
    u->a = c->a;
    return u;
}

/* Common begin for routes that write into a draft version. */
static int begin_draft(upstate *u, api_call *c, const char *path, err *e)
{
    store_tx *tx = NULL;
    if (store_tx_begin(&tx, c->app->store, false, e) < 0)
        return -1;
    int rc = target_draft(&u->o, &u->m, &u->v, c, tx, e);
    if (rc == 0 && path)
        rc = check_path_free(tx, &u->v, path, c->a, e);
    store_tx_end(tx, false, e);
    return rc;
}

static void abort_files(void *state)
{
    upstate *u = state;
    for (size_t i = 0; u && i < u->nfiles; i++)
        if (!u->files[i].done)
            blob_writer_abort(u->files[i].w);
}

/* ---- PUT .../versions/{version}/files/{path}: the raw body is one file ---- */

static int file_begin(api_reply *r, api_call *c, void **state)
{
    upstate *u = state_new(c);
    *state = u;
    const char *path = api_param(c, "path");
    const char *sum = c->header(c, "X-Checksum-Sha256");
    if (check_path(path, "path", "path", &r->e) < 0)
        return -1;
    if (sum && !hex64(sum))
        return err_field_add(&r->e, "header", "X-Checksum-Sha256", "value_error",
                             "a SHA-256 is 64 hex characters");
    u->expected = sum ? lower(c->a, sum) : NULL;
    if (begin_draft(u, c, path, &r->e) < 0)
        return -1;
    const char *kind = api_query(c, "kind");
    if (check_kind(kind, "query", &r->e) < 0)
        return -1;
    u->files[0].path = path;
    u->files[0].kind = kind && *kind ? kind : "file";
    if (blob_writer_open(&u->files[0].w, c->app->blob, &r->e) < 0)
        return -1;
    u->nfiles = 1;
    return 0;
}

static int file_chunk(void *state, api_call *c, const api_part *part, const char *p, size_t n,
                      err *e)
{
    (void)c;
    (void)part;
    upstate *u = state;
    return blob_writer_write(u->files[0].w, p, n, e);
}

static int file_finish(api_reply *r, api_call *c, void *state)
{
    upstate *u = state;
    upfile *f = &u->files[0];
    f->done = true; /* commit frees the writer whatever happens */
    if (blob_writer_commit(f->w, u->expected, f->hex, &f->size, &r->e) < 0)
        return -1;
    return attach(r, c, u->o.id, u->v.id, u->files, 1, "file");
}

const api_upload api_upload_file = {file_begin, file_chunk, file_finish, abort_files, false};

/* ---- POST .../versions/{version}/bundle: multipart primary + extras + extras_kind ---- */

static int bundle_begin(api_reply *r, api_call *c, void **state)
{
    upstate *u = state_new(c);
    *state = u;
    return begin_draft(u, c, NULL, &r->e);
}

static int close_file(upstate *u, err *e)
{
    if (u->nfiles == 0)
        return 0;
    upfile *f = &u->files[u->nfiles - 1];
    if (f->done)
        return 0;
    f->done = true;
    return blob_writer_commit(f->w, NULL, f->hex, &f->size, e);
}

static void close_text(upstate *u)
{
    if (!u->in_text)
        return;
    if (u->nkinds < MAX_BUNDLE_FILES)
        u->kinds[u->nkinds++] = arena_strndup(u->a, u->text ? u->text : "", u->text_len);
    free(u->text);
    u->text = NULL;
    u->text_len = 0;
    u->in_text = false;
}

static int bundle_chunk(void *state, api_call *c, const api_part *part, const char *p, size_t n,
                        err *e)
{
    upstate *u = state;
    bool is_file = part->filename != NULL;
    /* MHD may call more than once at offset 0 for one part: a part is new when nothing of the
     * current one arrived yet under another name, or when bytes of it already did. */
    bool same = u->part_name && strcmp(u->part_name, part->name) == 0 &&
                ((!u->part_file && !part->filename) ||
                 (u->part_file && part->filename && strcmp(u->part_file, part->filename) == 0));
    bool fresh = part->offset == 0 && (!same || u->part_bytes > 0);
    if (fresh) {
        u->part_name = arena_strdup(u->a, part->name);
        u->part_file = part->filename ? arena_strdup(u->a, part->filename) : NULL;
        u->part_bytes = 0;
    }
    u->part_bytes += n;
    if (fresh) { /* a new part begins */
        close_text(u);
        if (close_file(u, e) < 0)
            return -1;
        if (strcmp(part->name, "primary") != 0 && strcmp(part->name, "extras") != 0 &&
            strcmp(part->name, "extras_kind") != 0)
            return err_field_add(e, "body", part->name, "extra_forbidden",
                                 "Extra inputs are not permitted");
        if (is_file && strcmp(part->name, "extras_kind") != 0) {
            bool primary = strcmp(part->name, "primary") == 0;
            if (primary && u->nfiles > 0 && strcmp(u->files[0].kind, "primary") == 0)
                return err_field_add(e, "body", "primary", "value_error",
                                     "exactly one primary file");
            if (!primary && (u->nfiles == 0 || strcmp(u->files[0].kind, "primary") != 0))
                return err_field_add(e, "body", "primary", "missing",
                                     "send the primary part before the extras");
            if (u->nfiles == MAX_BUNDLE_FILES)
                return err_field_add(e, "body", "extras", "too_long", "at most %d extras",
                                     MAX_BUNDLE_FILES - 1);
            if (check_path(part->filename, "body", part->name, e) < 0)
                return -1;
            upfile *f = &u->files[u->nfiles];
            f->path = arena_strdup(u->a, part->filename);
            f->kind = primary ? "primary" : "extra";
            if (blob_writer_open(&f->w, c->app->blob, e) < 0)
                return -1;
            u->nfiles++;
        } else {
            if (strcmp(part->name, "extras_kind") != 0)
                return err_field_add(e, "body", part->name, "value_error", "expected a file");
            u->in_text = true;
        }
    }
    if (u->in_text) {
        if (u->text_len + n > 256)
            return err_field_add(e, "body", "extras_kind", "string_too_long", "at most 256");
        char *nb = realloc(u->text, u->text_len + n + 1);
        if (!nb)
            return err_set(e, ERR_SERVER, "out of memory");
        memcpy(nb + u->text_len, p, n);
        u->text = nb;
        u->text_len += n;
        return 0;
    }
    if (u->nfiles == 0 || n == 0)
        return 0;
    return blob_writer_write(u->files[u->nfiles - 1].w, p, n, e);
}

static int bundle_finish(api_reply *r, api_call *c, void *state)
{
    upstate *u = state;
    /* Not one part arrived (a wrong boundary, or a body of only the closing one): the body is
     * no multipart bundle at all, a 400 like any malformed body, not a 422 of its fields. */
    if (!u->part_name)
        return err_set(&r->e, ERR_INVALID,
                       "malformed multipart/form-data body: no part matches its boundary");
    close_text(u);
    if (close_file(u, &r->e) < 0)
        return -1;
    if (u->nfiles == 0 || strcmp(u->files[0].kind, "primary") != 0)
        return err_field_add(&r->e, "body", "primary", "missing", "Field required");
    if (u->nkinds != u->nfiles - 1)
        return err_field_add(&r->e, "body", "extras_kind", "value_error",
                             "%zu extras but %zu extras_kind values: they must pair up",
                             u->nfiles - 1, u->nkinds);
    for (size_t i = 1; i < u->nfiles; i++) {
        const char *k = u->kinds[i - 1];
        if (!resource_kind_is_valid(k, strlen(k)))
            return err_field_add(&r->e, "body", "extras_kind", "string_pattern_mismatch",
                                 "each kind should match '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'");
        u->files[i].kind = k;
    }
    return attach(r, c, u->o.id, u->v.id, u->files, u->nfiles, "bundle");
}

static void bundle_abort(void *state)
{
    upstate *u = state;
    if (!u)
        return;
    free(u->text);
    abort_files(u);
}

const api_upload api_upload_bundle = {bundle_begin, bundle_chunk, bundle_finish, bundle_abort,
                                      true};

/* ---- presigned PUT: POST .../uploads, PUT /api/v1/blobs/{key}, POST .../uploads/confirm ---- */

static const char *base_url(api_call *c)
{
    if (c->app->cfg->public_url)
        return c->app->cfg->public_url;
    const char *host = c->header(c, "Host");
    return arena_printf(c->a, "http://%s", host ? host : c->app->cfg->listen);
}

static const field_spec ticket_fields[] = {{"path", F_STR, 512, true},
                                           {"size", F_INT, 0, true},
                                           {"sha256", F_STR, 64, true},
                                           {"kind", F_STR, 64, false},
                                           {"storage_key", F_STR, 80, false}};

/* The name of a direct upload (S3: PREFIX/uploads/<id>): one per version, path and content,
 * so confirm finds it again from its own body, with nothing stored in between. */
static const char *upload_id(api_call *c, const char *version_id, const char *path,
                             const char *sum)
{
    char hex[65];
    const char *material = arena_printf(c->a, "%s\n%s\n%s", version_id, path, sum);
    crypto_sha256_hex(hex, material, strlen(material));
    return arena_strndup(c->a, hex, 48);
}

static int do_ticket(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_artifact m;
    store_version v;
    const char *path = api_body_str(c, "path");
    if (target_draft(&o, &m, &v, c, tx, &r->e) < 0 ||
        check_path_free(tx, &v, path, c->a, &r->e) < 0)
        return -1;
    char key[BLOB_KEY_MAX];
    const char *sum = lower(c->a, api_body_str(c, "sha256"));
    blob_key_of(key, sizeof(key), sum);
    int64_t exp = time_now_ms() / 1000 + PRESIGN_TTL_S;
    const char *full = api_upload_url(c, sum, upload_id(c, v.id, path, sum), exp);
    return api_json(r, 201, json_pack("{s:s, s:s, s:o, s:s}", "upload_url", full,
                                      "storage_key", key, "expires_at", api_time(exp * 1000),
                                      "method", "PUT"));
}

const char *api_upload_url(api_call *c, const char *sum, const char *id, int64_t exp)
{
    char key[BLOB_KEY_MAX], url[4096];
    blob_key_of(key, sizeof(key), sum);
    if (blob_presign_put(url, sizeof(url), c->app->blob, id, exp))
        return arena_strdup(c->a, url); /* straight to the store */
    /* Through cairn: the upload id rides in the signed material, so the PUT can leave a mark
     * under it for confirm (and nobody can move the mark to another id). */
    char sig[65];
    presign_sign(sig, c->app->secret, "PUT", arena_printf(c->a, "%s#%s", key, id), exp);
    return arena_printf(c->a, "%s/api/v1/blobs/%s?upload=%s&expires=%lld&sig=%s", base_url(c),
                        key, id, (long long)exp, sig);
}

int api_upload_ticket(api_reply *r, api_call *c)
{
    field_spec specs[5];
    memcpy(specs, ticket_fields, sizeof(specs));
    if (api_check_body(c, specs, 4, &r->e) < 0 ||
        check_path(api_body_str(c, "path"), "body", "path", &r->e) < 0 ||
        check_kind(api_body_str(c, "kind"), "body", &r->e) < 0)
        return -1;
    if (!hex64(api_body_str(c, "sha256")))
        return err_field_add(&r->e, "body", "sha256", "value_error",
                             "a SHA-256 is 64 hex characters");
    return api_in_tx(r, c, false, do_ticket);
}

static int presigned_begin(api_reply *r, api_call *c, void **state)
{
    upstate *u = state_new(c);
    *state = u;
    u->key = api_param(c, "key");
    const char *id = api_query(c, "upload");
    if (!blob_key_is_valid(u->key))
        return err_set(&r->e, ERR_NOT_FOUND, "no such blob");
    if (!id || !*id || strlen(id) > BLOB_SESSION_ID_MAX)
        return err_set(&r->e, ERR_TOKEN, "missing or malformed signature");
    u->upload = arena_strdup(c->a, id);
    if (presign_check(c->app->secret, "PUT", arena_printf(c->a, "%s#%s", u->key, id),
                      api_query(c, "expires"),
                      api_query(c, "sig"), time_now_ms() / 1000, &r->e) < 0)
        return -1;
    u->files[0].path = u->key;
    if (blob_writer_open(&u->files[0].w, c->app->blob, &r->e) < 0)
        return -1;
    u->nfiles = 1;
    return 0;
}

static int presigned_finish(api_reply *r, api_call *c, void *state)
{
    (void)c;
    upstate *u = state;
    upfile *f = &u->files[0];
    f->done = true;
    /* The key names the content: the bytes must hash to it. */
    if (blob_writer_commit(f->w, strrchr(u->key, '/') + 1, f->hex, &f->size, &r->e) < 0 ||
        blob_upload_mark(c->app->blob, u->upload, f->hex, &r->e) < 0)
        return -1;
    return api_json(r, 201, json_pack("{s:s, s:s, s:I}", "storage_key", u->key, "sha256", f->hex,
                                      "size_bytes", (json_int_t)f->size));
}

const api_upload api_upload_presigned = {presigned_begin, file_chunk, presigned_finish,
                                         abort_files, false};

int api_blob_claim(char hex[65], uint64_t *size, api_call *c, const char *org_id,
                   const char *id, const char *sum, err *e)
{
    char key[BLOB_KEY_MAX];
    blob_key_of(key, sizeof(key), sum);
    if (blob_upload_commit(c->app->blob, id, sum, hex, size, e) == 0)
        return 0;
    if (e->kind != ERR_NOT_FOUND)
        return -1; /* a mismatch is the usual 422 at ["body","sha256"], nothing is kept */
    err_clear(e);
    store_tx *tx = NULL;
    int64_t held = -1;
    if (store_tx_begin(&tx, c->app->store, false, e) < 0)
        return -1;
    int rc = api_org_holds(&held, c, tx, org_id, sum, e);
    store_tx_end(tx, false, e);
    if (rc < 0) {
        if (e->kind == ERR_NOT_FOUND)
            err_set(e, ERR_NOT_FOUND, "nothing was uploaded to %s", key);
        return -1;
    }
    snprintf(hex, 65, "%s", sum);
    *size = (uint64_t)held;
    return 0;
}

int api_org_holds(int64_t *size, api_call *c, store_tx *tx, const char *org_id, const char *sum,
                  err *e)
{
    char key[BLOB_KEY_MAX];
    blob_key_of(key, sizeof(key), sum);
    int rc = store_org_blob_size(size, tx, org_id, key, e);
    if (rc < 0)
        return -1;
    if (!blob_exists(c->app->blob, key))
        return err_set(e, ERR_NOT_FOUND, "the store does not hold %s", key);
    return 0;
}

int api_attach_files(api_reply *r, api_call *c, const char *org_id, const char *version_id,
                     const api_newfile *files, size_t n)
{
    if (n == 0 || n > API_ATTACH_MAX)
        return err_set(&r->e, ERR_SERVER, "attach takes 1 to %d files", API_ATTACH_MAX);
    upfile f[MAX_BUNDLE_FILES];
    memset(f, 0, sizeof(f));
    for (size_t i = 0; i < n; i++) {
        f[i].path = files[i].path;
        f[i].kind = "file";
        snprintf(f[i].hex, sizeof(f[i].hex), "%s", files[i].sha256);
        f[i].size = files[i].size;
        f[i].done = true;
    }
    return attach(r, c, org_id, version_id, f, n, "file");
}

/*
 * Confirm attaches only bytes the caller's org holds: what was PUT through this very ticket
 * (its upload id names version, path and sha256; S3 re-hashes the object, files find the mark
 * the PUT left), or a blob a file of the org already references. Bytes only another org
 * stored answer 404 exactly like bytes nobody stored: knowing a digest neither reads another
 * org's file nor tells whether the store holds it.
 */
int api_upload_confirm(api_reply *r, api_call *c)
{
    field_spec specs[5];
    memcpy(specs, ticket_fields, sizeof(specs));
    specs[1].required = false; /* size */
    specs[4].required = true;  /* storage_key */
    if (api_check_body(c, specs, 5, &r->e) < 0 ||
        check_path(api_body_str(c, "path"), "body", "path", &r->e) < 0 ||
        check_kind(api_body_str(c, "kind"), "body", &r->e) < 0)
        return -1;
    const char *sum = api_body_str(c, "sha256");
    if (!hex64(sum))
        return err_field_add(&r->e, "body", "sha256", "value_error",
                             "a SHA-256 is 64 hex characters");
    sum = lower(c->a, sum);
    char key[BLOB_KEY_MAX];
    blob_key_of(key, sizeof(key), sum);
    if (strcmp(key, api_body_str(c, "storage_key")) != 0)
        return err_field_add(&r->e, "body", "storage_key", "value_error",
                             "storage_key does not name that sha256");
    const char *path = api_body_str(c, "path");
    upstate *u = state_new(c);
    if (begin_draft(u, c, path, &r->e) < 0)
        return -1;
    upfile *f = &u->files[0];
    if (api_blob_claim(f->hex, &f->size, c, u->o.id, upload_id(c, u->v.id, path, sum), sum,
                       &r->e) < 0)
        return -1;
    json_t *declared = json_object_get(c->body, "size");
    if (declared && (uint64_t)json_integer_value(declared) != f->size)
        return err_field_add(&r->e, "body", "size", "value_error",
                             "declared %lld bytes, stored %llu",
                             (long long)json_integer_value(declared),
                             (unsigned long long)f->size);
    f->path = path;
    f->kind = api_body_str(c, "kind") ? api_body_str(c, "kind") : "file";
    f->done = true;
    return attach(r, c, u->o.id, u->v.id, f, 1, "file");
}

/* ---- resumable sessions ---- */

/* Loads {session} and checks it belongs to a version of {org} the caller may write. */
static int session_load(store_session *s, store_org *o, api_call *c, store_tx *tx, err *e)
{
    const char *id = api_param(c, "session");
    if (api_org_access(o, c, tx, ROLE_WRITER, e) < 0)
        return -1;
    store_version v;
    store_artifact m;
    if (store_session_get(s, tx, id, c->a, e) < 0 ||
        store_version_by_id(&v, tx, NULL, s->version_id, c->a, e) < 0)
        return err_set(e, ERR_NOT_FOUND, "upload session '%s' not found", id);
    if (api_artifact_by_id(&m, c, tx, o->id, v.artifact_id, e) < 0)
        return err_set(e, ERR_NOT_FOUND, "upload session '%s' not found", id);
    if (s->expires_at < time_now_ms())
        return err_set(e, ERR_NOT_FOUND, "upload session '%s' expired", id);
    return 0;
}

static int do_session_create(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_artifact m;
    store_version v;
    const char *path = api_body_str(c, "path");
    if (target_draft(&o, &m, &v, c, tx, &r->e) < 0 ||
        check_path_free(tx, &v, path, c->a, &r->e) < 0)
        return -1;
    char id[37];
    crypto_uuid7(id);
    int64_t now = time_now_ms();
    json_t *size = json_object_get(c->body, "size");
    const char *kind = api_body_str(c, "kind");
    store_session s = {id, v.id, (char *)path, (char *)(kind ? kind : "file"),
                       size ? json_integer_value(size) : -1, now, now + SESSION_TTL_MS};
    if (store_session_insert(tx, &s, &r->e) < 0)
        return -1;
    const char *url = arena_printf(c->a, "/api/v1/org/%s/uploads/%s", o.slug, id);
    return api_json(r, 201, json_pack("{s:s, s:s, s:s, s:o, s:i}", "id", id, "session_url", url,
                                      "url", arena_printf(c->a, "%s%s", base_url(c), url),
                                      "expires_at", api_time(s.expires_at), "offset", 0));
}

int api_session_create(api_reply *r, api_call *c)
{
    static const field_spec specs[] = {{"path", F_STR, 512, true},
                                       {"size", F_INT, 0, false},
                                       {"kind", F_STR, 64, false}};
    if (api_check_body(c, specs, 3, &r->e) < 0 ||
        check_path(api_body_str(c, "path"), "body", "path", &r->e) < 0 ||
        check_kind(api_body_str(c, "kind"), "body", &r->e) < 0)
        return -1;
    return api_in_tx(r, c, true, do_session_create);
}

static int do_session_get(api_reply *r, api_call *c, store_tx *tx)
{
    store_session s;
    store_org o;
    uint64_t off = 0;
    if (session_load(&s, &o, c, tx, &r->e) < 0 ||
        blob_session_size(&off, c->app->blob, s.id, &r->e) < 0)
        return -1;
    api_header(r, "Upload-Offset", arena_printf(c->a, "%llu", (unsigned long long)off));
    return api_json(r, 200, json_pack("{s:s, s:s, s:I, s:o, s:o}", "id", s.id, "path", s.path,
                                      "offset", (json_int_t)off, "size",
                                      s.size_bytes < 0 ? json_null()
                                                       : json_integer(s.size_bytes),
                                      "expires_at", api_time(s.expires_at)));
}

int api_session_get(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, false, do_session_get);
}

/* Reads plain decimal digits (no sign or space, which sscanf would take) into *v; returns the
 * end, or NULL for no digit or a value past uint64. */
static const char *cr_number(const char *s, unsigned long long *v)
{
    const char *p = s;
    unsigned long long x = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (x > (ULLONG_MAX - d) / 10)
            return NULL;
        x = x * 10 + d;
    }
    if (p == s)
        return NULL;
    *v = x;
    return p;
}

/* Content-Range: bytes a-b/total (total may be *: *total is then -1). Digits only (sscanf took
 * a sign or spaces), nothing after TOTAL, and a length that fits uint64. */
static int parse_content_range(const char *h, uint64_t *a, uint64_t *len, int64_t *total,
                               err *e)
{
    unsigned long long x, y, t;
    const char *p = strncmp(h, "bytes ", 6) == 0 ? cr_number(h + 6, &x) : NULL;
    if (!p || *p != '-' || !(p = cr_number(p + 1, &y)) || *p != '/' || y < x || y - x + 1 == 0)
        return err_set(e, ERR_INVALID, "bad Content-Range: want 'bytes FIRST-LAST/TOTAL'");
    if (strcmp(p + 1, "*") == 0)
        *total = -1;
    else if ((p = cr_number(p + 1, &t)) && !*p && t <= INT64_MAX)
        *total = (int64_t)t;
    else
        return err_set(e, ERR_INVALID, "bad Content-Range: TOTAL is a byte count or *");
    *a = x;
    *len = y - x + 1;
    return 0;
}

/*
 * A PATCH appends exactly what its Content-Range names: FIRST must be the committed offset
 * (409), LAST must lie inside TOTAL and the session's declared size (416), TOTAL must be the
 * declared size (400), and the body must be LAST-FIRST+1 bytes long (400). Without a
 * Content-Range the body may not run past the declared size (416). A refused request keeps
 * nothing: the committed offset stays where it was (only a connection cut mid-body keeps what
 * arrived, for the client to resume from).
 */
static int patch_begin(api_reply *r, api_call *c, void **state)
{
    upstate *u = state_new(c);
    *state = u;
    store_tx *tx = NULL;
    uint64_t have = 0;
    if (store_tx_begin(&tx, c->app->store, false, &r->e) < 0)
        return -1;
    int rc = session_load(&u->s, &u->o, c, tx, &r->e);
    store_tx_end(tx, false, &r->e);
    if (rc < 0 || blob_session_size(&have, c->app->blob, u->s.id, &r->e) < 0)
        return -1;
    const char *cr = c->header(c, "Content-Range");
    int64_t declared = u->s.size_bytes;
    u->offset = have;
    u->limit = declared >= 0 ? (uint64_t)declared : UINT64_MAX;
    if (cr) {
        uint64_t a = 0;
        int64_t total = -1;
        if (parse_content_range(cr, &a, &u->range_len, &total, &r->e) < 0)
            return -1;
        uint64_t end = a + u->range_len; /* one past LAST */
        if (total >= 0 && end > (uint64_t)total)
            return err_set(&r->e, ERR_RANGE, "Content-Range runs past its total of %lld bytes",
                           (long long)total);
        if (total >= 0 && declared >= 0 && total != declared)
            return err_set(&r->e, ERR_INVALID,
                           "Content-Range total %lld is not the session's declared size %lld",
                           (long long)total, (long long)declared);
        if (end > u->limit)
            return err_set(&r->e, ERR_RANGE,
                           "Content-Range runs past the session's declared size of %lld bytes",
                           (long long)declared);
        const char *cl = c->header(c, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) != u->range_len)
            return err_set(&r->e, ERR_INVALID,
                           "the body is %s bytes but Content-Range names %llu", cl,
                           (unsigned long long)u->range_len);
        if (a != have)
            return err_set(&r->e, ERR_CONFLICT,
                           "offset mismatch: the session has %llu bytes; resume from there",
                           (unsigned long long)have);
        u->has_range = true;
        u->limit = end;
    }
    u->range_len = u->has_range ? u->range_len : 0;
    return blob_appender_open(&u->ap, c->app->blob, u->s.id, have, &r->e);
}

/* Refuses the request: nothing it wrote stays in the session. */
static int patch_refuse(upstate *u)
{
    blob_appender_discard(u->ap);
    u->ap = NULL;
    return -1;
}

static int patch_chunk(void *state, api_call *c, const api_part *part, const char *p, size_t n,
                       err *e)
{
    (void)part;
    (void)c;
    upstate *u = state;
    if (!u->ap)
        return -1;
    uint64_t at = u->offset + u->received;
    if (at > u->limit || n > u->limit - at) {
        if (u->has_range)
            err_set(e, ERR_INVALID, "the body is longer than the %llu bytes Content-Range names",
                    (unsigned long long)u->range_len);
        else
            err_set(e, ERR_RANGE, "the body runs past the session's declared size of %llu bytes",
                    (unsigned long long)u->limit);
        return patch_refuse(u);
    }
    u->received += n;
    return blob_appender_write(u->ap, p, n, e);
}

static int patch_finish(api_reply *r, api_call *c, void *state)
{
    upstate *u = state;
    if (u->has_range && u->received != u->range_len) {
        err_set(&r->e, ERR_INVALID, "the body is %llu bytes but Content-Range names %llu",
                (unsigned long long)u->received, (unsigned long long)u->range_len);
        return patch_refuse(u);
    }
    blob_appender *ap = u->ap;
    u->ap = NULL;
    if (blob_appender_close(ap, &u->offset, &r->e) < 0)
        return -1;
    api_header(r, "Upload-Offset", arena_printf(c->a, "%llu", (unsigned long long)u->offset));
    return api_json(r, 200, json_pack("{s:s, s:I}", "id", u->s.id, "offset",
                                      (json_int_t)u->offset));
}

static void patch_abort(void *state)
{
    upstate *u = state;
    err ignored = {0};
    /* Bytes received so far are kept: the client resumes from the session's offset. */
    if (u)
        blob_appender_close(u->ap, NULL, &ignored);
}

const api_upload api_upload_session_patch = {patch_begin, patch_chunk, patch_finish,
                                             patch_abort, false};

/* A failed commit (a typo in sha256, bytes missing, the version no longer a draft) publishes
 * nothing and leaves the session as it was: the client fixes the request or resumes. */
int api_session_commit(api_reply *r, api_call *c)
{
    const char *sum = api_query(c, "sha256");
    if (!hex64(sum))
        return err_field_add(&r->e, "query", "sha256", "value_error",
                             "a SHA-256 is 64 hex characters");
    upstate *u = state_new(c);
    store_tx *tx = NULL;
    store_version v;
    if (store_tx_begin(&tx, c->app->store, false, &r->e) < 0)
        return -1;
    int rc = session_load(&u->s, &u->o, c, tx, &r->e);
    if (rc == 0 && (store_version_by_id(&v, tx, NULL, u->s.version_id, c->a, &r->e) < 0 ||
                    require_draft(&v, &r->e) < 0))
        rc = -1;
    store_tx_end(tx, false, &r->e);
    if (rc < 0)
        return -1;
    upfile *f = &u->files[0];
    f->path = u->s.path;
    f->kind = u->s.kind;
    f->done = true;
    if (blob_session_commit(c->app->blob, u->s.id, lower(c->a, sum), u->s.size_bytes, f->hex,
                            &f->size, &r->e) < 0)
        return -1;
    if (attach(r, c, u->o.id, u->s.version_id, f, 1, "file") < 0)
        return -1;
    if (store_tx_begin(&tx, c->app->store, true, &r->e) < 0)
        return -1;
    rc = store_session_delete(tx, u->s.id, &r->e);
    store_tx_end(tx, rc == 0, &r->e);
    return rc;
}
