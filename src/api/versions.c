/*
 * versions.c: versions of an artifact and their lifecycle (API.md §5), and aliases.
 */
#include "api/handlers.h"

#include <stdio.h>
#include <string.h>

#include "api/common.h"
#include <unistd.h>

#include "core/capability.h"
#include "core/lifecycle.h"
#include "core/name.h"
#include "core/semver.h"
#include "util/crypto.h"
#include "util/timeutil.h"

static const field_spec version_fields[] = {
    {"version", F_STR, SEMVER_MAX, true},  {"summary", F_NSTR, 1024, false},
    {"changelog", F_NSTR, 65536, false},   {"framework", F_NSTR, 64, false},
    {"architecture", F_NSTR, 256, false},  {"base_model", F_NSTR, 256, false},
    {"metadata", F_OBJ, 65536, false},
};

/* Finds the version {ref} names: exact SemVer, `latest`, a UUID or an alias. */
static int find_version(store_version *out, api_call *c, store_tx *tx, const store_artifact *m,
                        const char *ref, err *e)
{
    size_t n = strlen(ref);
    semver sv;
    if (strcmp(ref, "latest") == 0) {
        if (!m->latest_version_id)
            return err_set(e, ERR_NOT_FOUND, "'%s/%s' has no published version", m->org_slug,
                           m->name);
        return store_version_by_id(out, tx, m->id, m->latest_version_id, c->a, e);
    }
    if (semver_parse(&sv, ref, n) == 0) {
        char key[SEMVER_KEY_MAX];
        semver_sort_key(key, sizeof(key), &sv);
        if (store_version_by_key(out, tx, m->id, key, c->a, e) < 0)
            return err_set(e, e->kind, "version '%s' of '%s/%s' not found", ref, m->org_slug,
                           m->name);
        return 0;
    }
    if (uuid_is_valid(ref, n))
        return store_version_by_id(out, tx, m->id, ref, c->a, e);
    char *vid = NULL;
    if (alias_is_valid(ref, n) && store_alias_get(&vid, tx, m->id, ref, c->a, e) == 0)
        return store_version_by_id(out, tx, m->id, vid, c->a, e);
    return err_set(e, ERR_NOT_FOUND, "version '%s' of '%s/%s' not found", ref, m->org_slug,
                   m->name);
}

/* find_version, then the visibility rule: a version the caller may not see is not there. */
int api_resolve_version(store_version *out, api_call *c, store_tx *tx,
                           const store_artifact *m, const char *ref, err *e)
{
    if (find_version(out, c, tx, m, ref, e) < 0)
        return -1;
    if (!api_version_visible(c, m, out->lifecycle))
        return err_set(e, ERR_NOT_FOUND, "version '%s' of '%s/%s' not found", ref, m->org_slug,
                       m->name);
    return 0;
}

static int reply_version(api_reply *r, api_call *c, store_tx *tx, const store_version *v,
                         int status)
{
    json_t *packages;
    if (api_version_packages(&packages, c, tx, v->id, &r->e) < 0)
        return -1;
    json_t *body = api_version_json(v, packages);
    if (status == 200)
        return api_json_etag(r, c, status, body);
    return api_json(r, status, body);
}

static int do_list(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_artifact m;
    store_version *items;
    size_t n;
    if (api_artifact_access(&o, &m, c, tx, ROLE_READER, &r->e) < 0)
        return -1;
    const char *lc = api_query(c, "lifecycle");
    if (lc && !lifecycle_is_valid(lc))
        return err_field_add(&r->e, "query", "lifecycle", "enum",
                             "Input should be 'draft', 'published' or 'deprecated'");
    if (store_version_list(&items, &n, tx, m.id, lc, c->a, &r->e) < 0)
        return -1;
    json_t *versions = json_array();
    for (size_t i = 0; i < n; i++)
        if (api_version_visible(c, &m, items[i].lifecycle))
            json_array_append_new(versions, json_string(items[i].version));
    json_t *summary = api_artifact_summary_json(&m, false);
    json_t *latest = m.latest_version && api_version_visible(c, &m, "published")
                         ? json_incref(summary)
                         : json_null();
    json_t *body = json_pack("{s:O, s:o, s:o}", "name", json_object_get(summary, "name"),
                             "latest", latest, "versions", versions);
    json_decref(summary);
    int rc = api_json_etag(r, c, 200, body);
    if (rc == 0)
        api_cache_store(r, c);
    return rc;
}

int api_version_list(api_reply *r, api_call *c)
{
    return api_in_tx_cached(r, c, "versions", do_list);
}

/* In a shared write (api_in_shared_tx), versions of different artifacts are created side by
 * side: the artifact's lock is taken before anything of it is read (its versions, the
 * published head and count store_artifact_refresh recomputes), the name's before a missing
 * artifact is created, the org's before its monthly quota is counted. Whatever else the
 * lookups read cannot change meanwhile: every other catalog write holds the catalog lock
 * alone. */
static int do_create(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_artifact m;
    if (api_artifact_access(&o, &m, c, tx, ROLE_WRITER, &r->e) < 0) {
        /* Seed 004: a version under a missing, slug-shaped name creates the model. */
        const char *name = api_param(c, "name");
        if (r->e.kind != ERR_NOT_FOUND || !name_is_slug_shaped(name, strlen(name)) ||
            name_is_reserved(name, strlen(name)))
            return -1;
        err_clear(&r->e);
        if (api_org_access(&o, c, tx, ROLE_WRITER, &r->e) < 0 ||
            store_tx_lock(tx, STORE_LOCK_NAME, arena_printf(c->a, "%s/%s", o.id, name),
                          &r->e) < 0)
            return -1;
        /* created by the writer this one waited for? */
        if (api_artifact_access(&o, &m, c, tx, ROLE_WRITER, &r->e) < 0) {
            if (r->e.kind != ERR_NOT_FOUND)
                return -1;
            err_clear(&r->e);
            if (api_artifact_create_in(&m, c, tx, &o, name, false, &r->e) < 0)
                return -1;
        }
    }
    if (store_tx_lock(tx, STORE_LOCK_ARTIFACT, m.id, &r->e) < 0)
        return -1;
    if (api_version_quota(r, c, tx, &o, 1) < 0)
        return -1;
    const char *vs = api_body_str(c, "version");
    semver sv;
    char key[SEMVER_KEY_MAX], id[37];
    semver_parse(&sv, vs, strlen(vs));
    semver_sort_key(key, sizeof(key), &sv);
    crypto_uuid7(id);
    int64_t now = time_now_ms();
    store_version v = {0};
    v.id = id;
    v.artifact_id = m.id;
    v.version = (char *)vs;
    v.sort_key = key;
    v.lifecycle = "draft";
    v.summary = (char *)api_body_str(c, "summary");
    v.changelog = (char *)api_body_str(c, "changelog");
    v.framework = (char *)api_body_str(c, "framework");
    v.architecture = (char *)api_body_str(c, "architecture");
    v.base_model = (char *)api_body_str(c, "base_model");
    v.metadata = api_json_dump(json_object_get(c->body, "metadata"), c->a);
    v.parameter_count = -1;
    v.created_at = v.updated_at = now;
    if (store_version_insert(tx, &v, &r->e) < 0) {
        if (r->e.kind == ERR_EXISTS)
            err_set(&r->e, ERR_EXISTS, "version '%s' of '%s/%s' already exists", vs, o.slug,
                    m.name);
        return -1;
    }
    if (store_artifact_refresh(tx, m.id, now, &r->e) < 0)
        return -1;
    /* The version as stored (nothing in it is computed by the database) and no packages yet:
     * no reading back, so the refresh rides to the database with the COMMIT. */
    return api_json(r, 201, api_version_json(&v, json_array()));
}

int api_version_create(api_reply *r, api_call *c)
{
    if (api_check_body(c, version_fields, 7, &r->e) < 0)
        return -1;
    const char *vs = api_body_str(c, "version");
    if (!semver_is_valid(vs, strlen(vs)))
        return err_field_add(&r->e, "body", "version", "value_error",
                             "'%.64s' is not a valid SemVer 2.0.0 version", vs);
    return api_in_shared_tx(r, c, do_create);
}

static int do_get(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_artifact m;
    store_version v;
    if (api_artifact_access(&o, &m, c, tx, ROLE_READER, &r->e) < 0 ||
        api_resolve_version(&v, c, tx, &m, api_param(c, "version"), &r->e) < 0)
        return -1;
    return reply_version(r, c, tx, &v, 200);
}

int api_version_get(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, false, do_get);
}

static int do_get_by_id(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_version v;
    store_artifact m;
    const char *id = api_param(c, "version_id");
    if (api_org_access(&o, c, tx, ROLE_READER, &r->e) < 0)
        return -1;
    if (!uuid_is_valid(id, strlen(id)) ||
        store_version_by_id(&v, tx, NULL, id, c->a, &r->e) < 0)
        return err_set(&r->e, ERR_NOT_FOUND, "version '%s' not found", id);
    /* The version must belong to an artifact of this org. */
    if (api_artifact_by_id(&m, c, tx, o.id, v.artifact_id, &r->e) < 0)
        return err_set(&r->e, ERR_NOT_FOUND, "version '%s' not found", id);
    return reply_version(r, c, tx, &v, 200);
}

int api_version_get_by_id(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, false, do_get_by_id);
}

static int do_patch(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_artifact m;
    store_version v;
    if (api_artifact_access(&o, &m, c, tx, ROLE_WRITER, &r->e) < 0 ||
        api_resolve_version(&v, c, tx, &m, api_param(c, "version"), &r->e) < 0)
        return -1;
    const char *key;
    json_t *val;
    json_object_foreach(c->body, key, val)
    {
        if (!lifecycle_field_mutable(v.lifecycle, key))
            return err_set(&r->e, ERR_CONFLICT,
                           "version '%s' is %s: only summary and changelog may change", v.version,
                           v.lifecycle);
    }
    if (api_body_has(c, "summary"))
        v.summary = (char *)api_body_str(c, "summary");
    if (api_body_has(c, "changelog"))
        v.changelog = (char *)api_body_str(c, "changelog");
    if (api_body_has(c, "framework"))
        v.framework = (char *)api_body_str(c, "framework");
    if (api_body_has(c, "architecture"))
        v.architecture = (char *)api_body_str(c, "architecture");
    if (api_body_has(c, "base_model"))
        v.base_model = (char *)api_body_str(c, "base_model");
    if (api_body_has(c, "metadata"))
        v.metadata = api_json_dump(json_object_get(c->body, "metadata"), c->a);
    int64_t now = time_now_ms();
    if (store_version_update(tx, &v, now, &r->e) < 0 ||
        store_version_by_id(&v, tx, m.id, v.id, c->a, &r->e) < 0)
        return -1;
    return reply_version(r, c, tx, &v, 200);
}

int api_version_patch(api_reply *r, api_call *c)
{
    field_spec specs[7];
    memcpy(specs, version_fields, sizeof(specs));
    specs[0].required = false;
    if (api_check_body(c, specs, 7, &r->e) < 0)
        return -1;
    if (api_body_has(c, "version"))
        return err_field_add(&r->e, "body", "version", "extra_forbidden",
                             "The version string cannot be changed");
    return api_in_tx(r, c, true, do_patch);
}

static int do_delete(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_artifact m;
    store_version v;
    int64_t now = time_now_ms();
    if (api_artifact_access(&o, &m, c, tx, ROLE_ADMIN, &r->e) < 0 ||
        api_resolve_version(&v, c, tx, &m, api_param(c, "version"), &r->e) < 0)
        return -1;
    if (store_version_delete(tx, v.id, now, &r->e) < 0 ||
        store_artifact_refresh(tx, m.id, now, &r->e) < 0)
        return -1;
    r->status = 204;
    return 0;
}

int api_version_delete(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, true, do_delete);
}

/* A capability's capability.json fills keywords and components when it is published. */
static int read_manifest(api_call *c, store_tx *tx, const store_artifact *m,
                         const store_version *v, int64_t now, err *e)
{
    store_resource res;
    if (store_resource_by_path(&res, tx, v->id, CAPABILITY_MANIFEST, c->a, e) < 0) {
        if (e->kind != ERR_NOT_FOUND)
            return -1;
        err_clear(e);
        return 0;
    }
    if (res.size_bytes > (int64_t)CAPABILITY_MANIFEST_MAX)
        return err_field_add(e, "body", CAPABILITY_MANIFEST, "value_error",
                             "capability.json is larger than 1 MiB");
    int fd = -1;
    uint64_t size = 0;
    if (blob_open_read(&fd, &size, c->app->blob, res.storage_key, e) < 0)
        return -1;
    char *buf = arena_alloc(c->a, (size_t)size + 1);
    size_t got = 0;
    while (got < size) {
        ssize_t n = pread(fd, buf + got, (size_t)size - got, (off_t)got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    json_t *kw, *comps, *desc;
    if (capability_parse(&kw, &comps, &desc, buf, got, e) < 0)
        return -1;
    int rc = store_artifact_set_capability(tx, m->id, api_json_dump(kw, c->a),
                                           api_json_dump(comps, c->a), now, e);
    json_decref(kw);
    json_decref(comps);
    json_decref(desc);
    return rc;
}

static int transition(api_reply *r, api_call *c, store_tx *tx, lifecycle_event ev)
{
    store_org o;
    store_artifact m;
    store_version v;
    int64_t now = time_now_ms();
    if (api_artifact_access(&o, &m, c, tx, ROLE_WRITER, &r->e) < 0 ||
        api_resolve_version(&v, c, tx, &m, api_param(c, "version"), &r->e) < 0)
        return -1;
    const char *next = NULL;
    if (lifecycle_next(&next, v.lifecycle, ev, &r->e) < 0) {
        char why[sizeof(r->e.detail)]; /* err_set must not format from its own buffer */
        snprintf(why, sizeof(why), "%s", r->e.detail);
        return err_set(&r->e, r->e.kind, "version '%s' of '%s/%s': %s", v.version, o.slug,
                       m.name, why);
    }
    if (ev == LIFECYCLE_PUBLISH) {
        int64_t total = 0, unverified = 0;
        if (store_version_resource_counts(&total, &unverified, tx, v.id, &r->e) < 0)
            return -1;
        if (lifecycle_check_publishable(total, unverified, &r->e) < 0)
            return -1;
        if (strcmp(m.kind, "capabilities") == 0 && read_manifest(c, tx, &m, &v, now, &r->e) < 0)
            return -1;
        v.published_at = now;
    } else {
        v.deprecated_at = now;
    }
    v.lifecycle = (char *)next;
    if (store_version_update(tx, &v, now, &r->e) < 0 ||
        store_artifact_refresh(tx, m.id, now, &r->e) < 0 ||
        store_version_by_id(&v, tx, m.id, v.id, c->a, &r->e) < 0)
        return -1;
    return reply_version(r, c, tx, &v, 200);
}

static int do_publish(api_reply *r, api_call *c, store_tx *tx)
{
    return transition(r, c, tx, LIFECYCLE_PUBLISH);
}

static int do_deprecate(api_reply *r, api_call *c, store_tx *tx)
{
    return transition(r, c, tx, LIFECYCLE_DEPRECATE);
}

int api_version_publish(api_reply *r, api_call *c)
{
    if (api_check_body(c, NULL, 0, &r->e) < 0)
        return -1;
    return api_in_tx(r, c, true, do_publish);
}

int api_version_deprecate(api_reply *r, api_call *c)
{
    if (api_check_body(c, NULL, 0, &r->e) < 0)
        return -1;
    return api_in_tx(r, c, true, do_deprecate);
}

static int do_alias_put(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_artifact m;
    store_version v;
    const char *alias = api_param(c, "alias");
    if (api_artifact_access(&o, &m, c, tx, ROLE_WRITER, &r->e) < 0 ||
        api_resolve_version(&v, c, tx, &m, api_body_str(c, "version"), &r->e) < 0)
        return -1;
    if (store_alias_set(tx, m.id, alias, v.id, time_now_ms(), &r->e) < 0)
        return -1;
    return api_json(r, 200, json_pack("{s:s, s:s}", "alias", alias, "version", v.version));
}

int api_alias_put(api_reply *r, api_call *c)
{
    static const field_spec specs[] = {{"version", F_STR, SEMVER_MAX, true}};
    const char *alias = api_param(c, "alias");
    if (!alias_is_valid(alias, strlen(alias)))
        err_field_add(&r->e, "path", "alias", "value_error",
                      "an alias is a valid name that is not SemVer, a UUID or 'latest'");
    if (api_check_body(c, specs, 1, &r->e) < 0 || r->e.kind != ERR_NONE)
        return -1;
    return api_in_tx(r, c, true, do_alias_put);
}

static int do_alias_delete(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_artifact m;
    if (api_artifact_access(&o, &m, c, tx, ROLE_WRITER, &r->e) < 0)
        return -1;
    if (store_alias_delete(tx, m.id, api_param(c, "alias"), &r->e) < 0 ||
        store_artifact_refresh(tx, m.id, time_now_ms(), &r->e) < 0)
        return -1;
    r->status = 204;
    return 0;
}

int api_alias_delete(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, true, do_alias_delete);
}
