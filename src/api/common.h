/*
 * common.h: helpers every handler shares: the error envelope, ETags, body validation,
 * org/artifact access rules, pagination and JSON encoders of store records.
 */
#ifndef CAIRN_API_COMMON_H
#define CAIRN_API_COMMON_H

#include "api/api.h"
#include "store/store.h"

#define ROLE_READER 1
#define ROLE_WRITER 2
#define ROLE_ADMIN 3

/* Returns a new APIErrorPayload object for e. */
json_t *api_error_body(const err *e);
/* Sets a 200-style reply whose body is serialised once here, with its strong ETag; takes
 * the reference to body. */
int api_json_etag(api_reply *r, api_call *c, int status, json_t *body);
/* Returns the quoted strong ETag of a JSON body (hash of its compact serialisation). */
const char *api_etag_of(const json_t *body, arena *a);
/* True if an If-None-Match / If-Match header value lists etag (or is "*"). */
bool api_etag_matches(const char *header, const char *etag);

/* Body field types for api_check_body. */
typedef enum field_type {
    F_STR,     /* string up to max bytes */
    F_NSTR,    /* string or null */
    F_BOOL,
    F_INT,     /* integer in [0, max] (max 0: any non-negative) */
    F_STRLIST, /* array of up to 100 strings of up to max bytes */
    F_OBJ,     /* object, serialised size up to max bytes */
    F_OBJLIST, /* array of up to 100 objects */
} field_type;

typedef struct field_spec {
    const char *name;
    field_type type;
    size_t max;
    bool required;
} field_spec;

/* Checks c->body against specs: unknown fields (extra_forbidden), missing required ones,
 * types and sizes; collects every problem into e as 422 items. A NULL body counts as {}. */
int api_check_body(const api_call *c, const field_spec *specs, size_t n, err *e);
/* Checks v against the rule api_check_body applies to field `name` of specs, for a value that
 * arrives another way (model-card front matter); each problem becomes a 422 item at
 * loc0/loc1 whose message starts with `what`. Returns 0, or -1 when v breaks the rule. */
int api_check_value(const field_spec *specs, size_t n, const char *name, json_t *v,
                    const char *loc0, const char *loc1, const char *what, err *e);
/* Returns body field `name` as a string, or NULL when absent or null. */
const char *api_body_str(const api_call *c, const char *name);
/* Returns true if the body has field `name` (even null). */
bool api_body_has(const api_call *c, const char *name);

/* Resolves {org} for an org-level route: the caller must belong to it (or be server admin),
 * else 404; role below min_role gives 403. */
int api_org_access(store_org *out, api_call *c, store_tx *tx, int min_role, err *e);
/* Resolves {org}/{kind}/{name}: own org (or server admin) needs min_role (403); another org's
 * public artifact may be read (writes: 403); anything else is 404. */
int api_artifact_access(store_org *org, store_artifact *out, api_call *c, store_tx *tx,
                        int min_role, err *e);

/* The route table's gate for another org's caller on a SCOPE_ARTIFACT route (http/ calls it
 * before the handler): api_artifact_access at the route's role, in a read transaction of its
 * own, so another org's private artifact is 404 and a write to a public one 403 whatever the
 * request's body. Returns 0 when the call may go on. */
int api_artifact_gate(api_call *c, err *e);

/* Whether version `lifecycle` of m may be seen by the caller. Outside m's org (another org's
 * token, or none; server admins are inside every org) only published and deprecated versions
 * of an enabled artifact are: drafts and every version of a disabled artifact are hidden
 * (404 by name, left out of lists). docs/api-decisions.md "Visibility". */
bool api_version_visible(const api_call *c, const store_artifact *m, const char *lifecycle);

/* Finds the live artifact of either kind with this id in org_id; ERR_NOT_FOUND. */
int api_artifact_by_id(store_artifact *out, api_call *c, store_tx *tx, const char *org_id,
                       const char *id, err *e);

/* The org's monthly version quota (its own, else --quota-versions-monthly): 0 when `adding`
 * more versions fit this month, else 429 with Retry-After set on r. Every way of making
 * versions (create, duplicate with include_versions) goes through it. */
int api_version_quota(api_reply *r, api_call *c, store_tx *tx, const store_org *o,
                      int64_t adding);

/* Reads ?limit (1..500, default 50). */
int api_limit(int *out, const api_call *c, err *e);
/* Encodes / decodes an opaque keyset cursor around a string. */
const char *api_cursor_encode(const char *raw, arena *a);
int api_cursor_decode(const char **raw, const api_call *c, err *e);

/* Returns a JSON string of an ISO 8601 time, or null for 0. */
json_t *api_time(int64_t ms);
/* Returns a JSON string or null. */
json_t *api_str(const char *s);
/* Parses stored JSON text (falls back to dflt, "[]" or "{}"). */
json_t *api_json_text(const char *text, const char *dflt);
/* Serialises a JSON value to compact text in the arena (NULL stays NULL). */
char *api_json_dump(const json_t *v, arena *a);

/* Encoders. */
json_t *api_org_json(const store_org *o, const config *cfg);
json_t *api_artifact_summary_json(const store_artifact *m, bool canonical_name);
json_t *api_artifact_json(const store_artifact *m);
json_t *api_version_json(const store_version *v, json_t *packages);

/* Relation id sets (seed 002, API.md §10), stored on the artifact as a JSON object whose keys
 * are store_facet_names[STORE_FACETS..STORE_FILTERS). */
#define API_RELATION_MAX 100
/* Returns the object with every relation list (missing ones empty) of stored text. */
json_t *api_relations_json(const char *text);
/* Returns the store_facet_names index of a relation list name, or -1. */
int api_relation_index(const char *name);
/* Returns a list of ids as a set (sorted, without repeats), or NULL with a 422 item at
 * loc0/loc1 in e if it is not a list of at most API_RELATION_MAX non-empty strings. */
json_t *api_relation_set(json_t *list, const char *loc0, const char *loc1, err *e);
/* Sets *out to the stored text of current with the lists named in changes replaced (null
 * empties one); 422 for an unknown list or a bad one, loc ["body", "relations", <list>]. */
int api_relations_merge(char **out, const char *current, json_t *changes, arena *a, err *e);

/* Response cache for read-only GETs (keyed by the caller's org, so it may answer before the
 * access checks, which gave the same decision at the same revision): api_cache_try() answers
 * from the cache and returns true on a hit; otherwise it remembers the key and revision so
 * api_cache_store() can keep the reply the handler produced with api_json_etag(). */
bool api_cache_try(api_reply *r, api_call *c, const char *scope);
/* A read-only handler behind the response cache: answers from it without opening a
 * transaction when it can, else runs fn in a read transaction (fn stores its reply). */
int api_in_tx_cached(api_reply *r, api_call *c, const char *scope,
                     int (*fn)(api_reply *, api_call *, store_tx *));
void api_cache_store(api_reply *r, api_call *c);
/* The catalog revision this request already knows (read with its token, or by the response
 * cache), 0 if none: what an in-memory index must reflect at least, without asking again. */
int64_t api_known_rev(const api_call *c);

/* Runs fn inside a transaction and ends it (commit on success). */
int api_in_tx(api_reply *r, api_call *c, bool write, int (*fn)(api_reply *, api_call *,
                                                                 store_tx *));
/* Runs fn inside a write transaction that shares the catalog write lock with others of its
 * kind (store_tx_begin_shared): fn must store_tx_lock what it changes before reading it. */
int api_in_shared_tx(api_reply *r, api_call *c, int (*fn)(api_reply *, api_call *, store_tx *));

#endif
