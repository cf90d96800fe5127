/*
 * v5.h: the seed-002 RPC catalog API, `/api/v5/artifacts/models/{op}` (API.md §10). An adapter:
 * it translates field names and shapes and calls the v1 handlers (api/artifacts.c,
 * api/manage.c) and the same store functions; no rule of its own. Every operation acts on
 * the models of the caller's org. Field mapping: docs/v5.md.
 */
#ifndef CAIRN_API_V5_H
#define CAIRN_API_V5_H

#include "api/api.h"
#include "api/common.h"
#include "store/store.h"

/* The door of the v5 routes: JSON bodies, errors in the contract's envelope (API.md §2). */
extern const api_door v5_door;

/* Route handlers (models.c, drafts.c, ops.c). */
int v5_get(api_reply *r, api_call *c);
int v5_search(api_reply *r, api_call *c);
int v5_create(api_reply *r, api_call *c);
int v5_update(api_reply *r, api_call *c);
int v5_duplicate(api_reply *r, api_call *c);
int v5_delete(api_reply *r, api_call *c);
int v5_draft_patch(api_reply *r, api_call *c);
int v5_drafts(api_reply *r, api_call *c);
int v5_docs(api_reply *r, api_call *c);
int v5_export(api_reply *r, api_call *c);
int v5_upload_get(api_reply *r, api_call *c);
int v5_refresh(api_reply *r, api_call *c);

/* ---- shared by the v5 files ---- */

/* The relation lists as v5 names them: section name (get) and list name (= the stored key). */
typedef struct v5_relation {
    const char *section, *list;
} v5_relation;
#define V5_RELATIONS 11
extern const v5_relation v5_relations[V5_RELATIONS];

/* The caller's org (v5 paths carry none); 404 for a token of no org. */
int v5_org(store_org *out, api_call *c, store_tx *tx, err *e);
/* Checks c->body like api_check_body, a null field counting as absent (the seed's fields are
 * nullable); with relations, the relation lists are let through unchecked (the caller checks
 * them with api_relation_set, the one rule for them). */
int v5_check(const api_call *c, const field_spec *specs, size_t n, bool relations, err *e);
/* Runs v1 handler h on model `name` of the caller's org with body (NULL: none), as its own
 * request with the same caller; rep->body is the reply's JSON (also when serialised). */
int v5_sub(api_reply *rep, api_call *c, api_handler h, const char *name, json_t *body);
/* The caller's display name: its token's name. */
json_t *v5_actor(const api_call *c);
/* ListModelApiModel of a v1 Artifact object. */
json_t *v5_model_json(const json_t *art);
/* Adds names, descriptions and one section per relation list to out, from a flat object
 * (a ListModelApiModel or a draft's form state). */
void v5_sections(json_t *out, const json_t *flat);
/* The APIErrorPayload of an item's error, with each `loc` rewritten to the v5 field names
 * under ["body", list, index]. */
json_t *v5_item_error(const err *e, const char *list, size_t index);
/* A draft's form state: {draft_id, version, name, name_id, description, description_id,
 * every relation list}. */
json_t *v5_form_state(const store_draft *d);

#endif
