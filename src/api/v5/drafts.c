/*
 * drafts.c: seed-002 `PATCH draft` and `POST drafts` (API.md §10). A draft is a model editor's
 * form state owned by the token that made it, with an integer version: a PATCH names the
 * version it started from (expected_version) and a mismatch, stale or ahead, is 409.
 */
#include "api/v5/v5.h"

#include <string.h>

#include "core/name.h"
#include "util/crypto.h"
#include "util/timeutil.h"

static const char *const draft_strs[] = {"name", "name_id", "description", "description_id"};
#define N_STRS 4

/* Applies the body's fields to the state object: a given value replaces, null clears. */
static void apply(json_t *state, api_call *c, err *e)
{
    for (size_t i = 0; i < N_STRS; i++) {
        json_t *v = json_object_get(c->body, draft_strs[i]);
        if (v)
            json_object_set(state, draft_strs[i], v);
    }
    for (int i = 0; i < V5_RELATIONS; i++) {
        json_t *v = json_object_get(c->body, v5_relations[i].list);
        if (!v)
            continue;
        json_t *set = json_is_null(v) ? json_array()
                                      : api_relation_set(v, "body", v5_relations[i].list, e);
        if (set)
            json_object_set_new(state, v5_relations[i].list, set);
    }
}

static int do_patch(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    if (v5_org(&o, c, tx, &r->e) < 0)
        return -1;
    if (!c->caller.token_id)
        return err_set(&r->e, ERR_NOT_FOUND, "drafts belong to org tokens");
    const char *id = api_body_str(c, "input_draft_id");
    json_t *exp = json_object_get(c->body, "expected_version");
    int64_t now = time_now_ms();
    store_draft d = {0};
    json_t *state;
    if (id) {
        if (store_draft_get(&d, tx, c->caller.token_id, id, c->a, &r->e) < 0)
            return -1;
        if (json_is_integer(exp) && json_integer_value(exp) != d.version)
            return err_set(&r->e, ERR_CONFLICT,
                           "draft version mismatch: expected %lld, current version is %lld",
                           (long long)json_integer_value(exp), (long long)d.version);
        state = api_json_text(d.state, "{}");
    } else {
        /* A new draft starts at version 1, from version 0. */
        if (json_is_integer(exp) && json_integer_value(exp) != 0)
            return err_set(&r->e, ERR_CONFLICT,
                           "draft version mismatch: expected %lld, a new draft starts from 0",
                           (long long)json_integer_value(exp));
        char nid[37];
        crypto_uuid7(nid);
        d.id = arena_strdup(c->a, nid);
        d.org_id = o.id;
        d.token_id = (char *)c->caller.token_id;
        d.created_at = now;
        state = json_object();
    }
    apply(state, c, &r->e);
    if (r->e.kind != ERR_NONE) {
        json_decref(state);
        return -1;
    }
    d.state = api_json_dump(state, c->a);
    json_decref(state);
    int rc = id ? store_draft_update(tx, &d, now, &r->e)
                : (d.version = 1, d.updated_at = now, store_draft_insert(tx, &d, &r->e));
    if (rc < 0)
        return -1;
    if (id)
        d.version++;
    json_t *body = json_pack("{s:b, s:s, s:I, s:s, s:o}", "success", 1, "draft_id", d.id,
                             "new_version", (json_int_t)d.version, "message",
                             id ? "draft saved" : "draft created", "form_state",
                             v5_form_state(&d));
    return api_json(r, 200, body);
}

int v5_draft_patch(api_reply *r, api_call *c)
{
    static const field_spec specs[] = {
        {"input_draft_id", F_STR, 64, false}, {"expected_version", F_INT, 0, false},
        {"name", F_STR, 256, false},          {"name_id", F_STR, NAME_MAX_LEN, false},
        {"description", F_STR, 1048576, false}, {"description_id", F_STR, 128, false},
    };
    /* The relation lists are checked by apply(), with the v1 rule. */
    if (v5_check(c, specs, 6, true, &r->e) < 0)
        return -1;
    return api_in_tx(r, c, true, do_patch);
}

static int do_list(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    if (v5_org(&o, c, tx, &r->e) < 0)
        return -1;
    store_draft *ds = NULL;
    size_t n = 0;
    if (c->caller.token_id &&
        store_draft_list(&ds, &n, tx, c->caller.token_id, c->a, &r->e) < 0)
        return -1;
    json_t *entries = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *fs = v5_form_state(&ds[i]);
        json_t *e = json_pack("{s:s, s:I, s:o, s:o, s:o}", "draft_id", ds[i].id,
                              "draft_version", (json_int_t)ds[i].version, "created_at",
                              api_time(ds[i].created_at), "updated_at",
                              api_time(ds[i].updated_at), "actor_name", v5_actor(c));
        v5_sections(e, fs);
        json_object_set_new(e, "form_state", fs);
        json_array_append_new(entries, e);
    }
    return api_json(r, 200, json_pack("{s:o}", "entries", entries));
}

int v5_drafts(api_reply *r, api_call *c)
{
    if (v5_check(c, NULL, 0, false, &r->e) < 0)
        return -1;
    return api_in_tx(r, c, false, do_list);
}
