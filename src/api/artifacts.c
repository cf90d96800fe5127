/*
 * artifacts.c: models and capabilities (API.md §4): create, list, get, patch, delete.
 */
#include "api/handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "core/frontmatter.h"
#include "core/name.h"
#include "util/crypto.h"
#include "util/timeutil.h"

#define DEFAULT_FRAMEWORK "safetensors"

/* Fields a client may set; capabilities add keywords and components. */
static const field_spec artifact_fields[] = {
    {"name", F_STR, 96, false},          {"pretty_name", F_NSTR, 256, false},
    {"summary", F_NSTR, 1024, false},    {"description", F_NSTR, 1048576, false},
    {"tags", F_STRLIST, 64, false},      {"license", F_NSTR, 128, false},
    {"language", F_STRLIST, 32, false},  {"task", F_NSTR, 128, false},
    {"task_categories", F_STRLIST, 128, false},
    {"architecture", F_NSTR, 256, false}, {"base_model", F_NSTR, 256, false},
    {"framework", F_NSTR, 64, false},    {"size_category", F_NSTR, 16, false},
    {"is_public", F_BOOL, 0, false},     {"enabled", F_BOOL, 0, false},
    {"attributes", F_OBJ, 65536, false}, {"origin", F_OBJ, 65536, false},
    {"expected_revision", F_INT, 0, false}, {"relations", F_OBJ, 0, false},
    {"keywords", F_STRLIST, 64, false},  {"components", F_OBJLIST, 0, false},
};
#define N_MODEL_FIELDS 19 /* without keywords and components */
#define N_CAP_FIELDS 21

static bool is_model(const api_call *c)
{
    return strcmp(api_param(c, "kind"), "models") == 0;
}

static bool size_category_ok(const char *s)
{
    static const char *const ok[] = {"tiny", "small", "medium", "large", "xlarge"};
    for (size_t i = 0; i < 5; i++)
        if (strcmp(s, ok[i]) == 0)
            return true;
    return false;
}

static bool component_type_ok(const char *s)
{
    static const char *const ok[] = {"agent", "tool", "skill", "mcp_server", "worker"};
    for (size_t i = 0; i < 5; i++)
        if (s && strcmp(s, ok[i]) == 0)
            return true;
    return false;
}

/* Checks the body of a create (create=true) or a PATCH. */
static int check_artifact_body(api_call *c, bool create, err *e)
{
    size_t n = is_model(c) ? N_MODEL_FIELDS : N_CAP_FIELDS;
    field_spec specs[N_CAP_FIELDS];
    memcpy(specs, artifact_fields, sizeof(specs));
    specs[0].required = create;
    api_check_body(c, specs, n, e);
    const char *name = api_body_str(c, "name");
    if (!create && api_body_has(c, "name"))
        err_field_add(e, "body", "name", "extra_forbidden", "The name cannot be changed");
    else if (create && name) {
        if (!name_is_valid(name, strlen(name)))
            err_field_add(e, "body", "name", "string_pattern_mismatch",
                          "String should match pattern '^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$'");
        else if (name_is_reserved(name, strlen(name)))
            err_field_add(e, "body", "name", "value_error", "'%s' is a reserved name", name);
    }
    if (create && api_body_has(c, "expected_revision"))
        err_field_add(e, "body", "expected_revision", "extra_forbidden",
                      "Extra inputs are not permitted");
    json_t *rel = c->body ? json_object_get(c->body, "relations") : NULL;
    char *ignored;
    if (json_is_object(rel))
        api_relations_merge(&ignored, NULL, rel, c->a, e);
    const char *sc = api_body_str(c, "size_category");
    if (sc && !size_category_ok(sc))
        err_field_add(e, "body", "size_category", "enum",
                      "Input should be 'tiny', 'small', 'medium', 'large' or 'xlarge'");
    json_t *comps = c->body ? json_object_get(c->body, "components") : NULL;
    size_t i;
    json_t *x;
    json_array_foreach(comps, i, x)
    {
        if (!json_is_object(x))
            break;
        const char *key;
        json_t *v;
        bool bad = false;
        json_object_foreach(x, key, v)
        {
            if ((strcmp(key, "name") && strcmp(key, "path") && strcmp(key, "type") &&
                 strcmp(key, "description")) ||
                !json_is_string(v) || json_string_length(v) > 1024)
                bad = true;
        }
        if (bad || !json_is_string(json_object_get(x, "name")) ||
            !component_type_ok(json_string_value(json_object_get(x, "type")))) {
            err_field_add(e, "body", "components", "value_error",
                          "each component is {name, path?, type, description?} with type one "
                          "of agent, tool, skill, mcp_server, worker");
            break;
        }
    }
    return e->kind == ERR_VALIDATION ? -1 : 0;
}

static char *body_json_field(api_call *c, const char *name)
{
    return api_json_dump(json_object_get(c->body, name), c->a);
}

static bool json_list_empty(const char *text)
{
    return !text || strcmp(text, "[]") == 0;
}

/* A value of the front matter lands in field `field` only if it passes that field's body rule
 * (api_check_value with artifact_fields: the same rule, not a copy); else 422 at
 * ["body", "description"]. Returns whether v is to be applied (true), or false with e set. */
static bool fm_value_ok(const char *key, const char *field, json_t *v, err *e)
{
    char what[64];
    snprintf(what, sizeof(what), "front matter '%s' (sets %s)", key, field);
    return api_check_value(artifact_fields, N_CAP_FIELDS, field, v, "body", "description", what,
                           e) == 0;
}

/* Lets model-card front matter in m->description fill fields the request left empty. */
static int apply_front_matter(store_artifact *m, api_call *c, err *e)
{
    json_t *fm = frontmatter_parse(m->description, strlen(m->description), NULL);
    json_t *v;
    if (!m->license && json_is_string(v = json_object_get(fm, "license")) &&
        fm_value_ok("license", "license", v, e))
        m->license = arena_strdup(c->a, json_string_value(v));
    if (!m->task && json_is_string(v = json_object_get(fm, "pipeline_tag")) &&
        fm_value_ok("pipeline_tag", "task", v, e))
        m->task = arena_strdup(c->a, json_string_value(v));
    if (!m->base_model && json_is_string(v = json_object_get(fm, "base_model")) &&
        fm_value_ok("base_model", "base_model", v, e))
        m->base_model = arena_strdup(c->a, json_string_value(v));
    if (!m->framework_set && json_is_string(v = json_object_get(fm, "library_name")) &&
        fm_value_ok("library_name", "framework", v, e))
        m->framework = arena_strdup(c->a, json_string_value(v));
    v = json_object_get(fm, "tags");
    if (json_list_empty(m->tags) && json_array_size(v) > 0 && fm_value_ok("tags", "tags", v, e))
        m->tags = api_json_dump(v, c->a);
    v = json_object_get(fm, "language");
    if (json_list_empty(m->language) && json_array_size(v) > 0 &&
        fm_value_ok("language", "language", v, e))
        m->language = api_json_dump(v, c->a);
    json_decref(fm);
    return e->kind == ERR_VALIDATION ? -1 : 0;
}

/* Copies the body's fields onto m, then lets model-card front matter fill empty ones. Returns
 * 0, or -1 with a 422 in e when a front-matter value breaks its field's rule. */
static int apply_body(store_artifact *m, api_call *c, err *e)
{
    struct {
        const char *name;
        char **dst;
    } strs[] = {{"pretty_name", &m->pretty_name}, {"summary", &m->summary},
                {"description", &m->description}, {"license", &m->license},
                {"task", &m->task}, {"architecture", &m->architecture},
                {"base_model", &m->base_model}, {"size_category", &m->size_category}};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        if (api_body_has(c, strs[i].name))
            *strs[i].dst = arena_strdup(c->a, api_body_str(c, strs[i].name));
    struct {
        const char *name;
        char **dst;
    } jsons[] = {{"tags", &m->tags},         {"language", &m->language},
                 {"task_categories", &m->task_categories}, {"keywords", &m->keywords},
                 {"components", &m->components}, {"attributes", &m->attributes},
                 {"origin", &m->origin}};
    for (size_t i = 0; i < sizeof(jsons) / sizeof(jsons[0]); i++)
        if (api_body_has(c, jsons[i].name))
            *jsons[i].dst = body_json_field(c, jsons[i].name);
    if (api_body_has(c, "framework")) {
        const char *fw = api_body_str(c, "framework");
        m->framework = arena_strdup(c->a, fw ? fw : DEFAULT_FRAMEWORK);
        m->framework_set = fw != NULL;
    }
    json_t *b;
    if ((b = json_object_get(c->body, "is_public")))
        m->is_public = json_is_true(b);
    if ((b = json_object_get(c->body, "enabled")))
        m->enabled = json_is_true(b);
    err ignored = {0}; /* checked by check_artifact_body */
    if ((b = json_object_get(c->body, "relations")))
        api_relations_merge(&m->relations, m->relations, b, c->a, &ignored);

    if (!api_body_has(c, "description") || !m->description)
        return 0;
    return apply_front_matter(m, c, e);
}

static int reply_artifact(api_reply *r, api_call *c, const store_artifact *m, int status)
{
    json_t *body = api_artifact_json(m);
    return api_json_etag(r, c, status, body);
}

/* Creates an artifact named name in org from the request body (used by version auto-create). */
int api_artifact_create_in(store_artifact *out, api_call *c, store_tx *tx, const store_org *o,
                           const char *name, bool from_body, err *e)
{
    char id[37];
    crypto_uuid7(id);
    int64_t now = time_now_ms();
    store_artifact m = {0};
    m.id = arena_strdup(c->a, id);
    m.org_id = o->id;
    m.org_slug = o->slug;
    m.kind = arena_strdup(c->a, api_param(c, "kind"));
    m.name = arena_strdup(c->a, name);
    m.framework = DEFAULT_FRAMEWORK;
    m.enabled = true;
    m.created_at = m.updated_at = now;
    if (from_body && apply_body(&m, c, e) < 0)
        return -1;
    if (store_artifact_insert(tx, &m, e) < 0)
        return -1;
    return store_artifact_get(out, tx, o->id, m.kind, m.id, true, c->a, e);
}

static int do_create(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_artifact m;
    if (api_org_access(&o, c, tx, ROLE_WRITER, &r->e) < 0)
        return -1;
    if (api_artifact_create_in(&m, c, tx, &o, api_body_str(c, "name"), true, &r->e) < 0)
        return -1;
    return reply_artifact(r, c, &m, 201);
}

int api_artifact_create(api_reply *r, api_call *c)
{
    if (check_artifact_body(c, true, &r->e) < 0)
        return -1;
    return api_in_tx(r, c, true, do_create);
}

static int do_get(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_artifact m;
    if (api_artifact_access(&o, &m, c, tx, ROLE_READER, &r->e) < 0)
        return -1;
    return reply_artifact(r, c, &m, 200);
}

int api_artifact_get(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, false, do_get);
}

static int do_patch(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_artifact m;
    if (api_artifact_access(&o, &m, c, tx, ROLE_WRITER, &r->e) < 0)
        return -1;
    const char *if_match = c->header(c, "If-Match");
    if (if_match) {
        json_t *cur = api_artifact_json(&m);
        const char *etag = api_etag_of(cur, c->a);
        json_decref(cur);
        if (!api_etag_matches(if_match, etag))
            return err_set(&r->e, ERR_CONFLICT, "revision mismatch: current revision is %lld",
                           (long long)m.revision);
    }
    json_t *exp = json_object_get(c->body, "expected_revision");
    if (exp && json_integer_value(exp) != m.revision)
        return err_set(&r->e, ERR_CONFLICT, "revision mismatch: current revision is %lld",
                       (long long)m.revision);
    if (apply_body(&m, c, &r->e) < 0)
        return -1;
    if (store_artifact_update(tx, &m, time_now_ms(), &r->e) < 0)
        return -1;
    if (store_artifact_get(&m, tx, o.id, m.kind, m.id, true, c->a, &r->e) < 0)
        return -1;
    return reply_artifact(r, c, &m, 200);
}

int api_artifact_patch(api_reply *r, api_call *c)
{
    if (check_artifact_body(c, false, &r->e) < 0)
        return -1;
    return api_in_tx(r, c, true, do_patch);
}

static int do_delete(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_artifact m;
    if (api_artifact_access(&o, &m, c, tx, ROLE_ADMIN, &r->e) < 0)
        return -1;
    if (store_artifact_delete(tx, m.id, time_now_ms(), &r->e) < 0)
        return -1;
    r->status = 204;
    return 0;
}

int api_artifact_delete(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, true, do_delete);
}

