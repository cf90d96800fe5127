/*
 * store.h: cairn's metadata repository; the whole interface of src/store/. All SQL lives
 * behind it. A `store` is thread-safe; a `store_tx` (one pooled connection inside one
 * transaction) belongs to the thread that began it.
 * Records are plain data; their strings live in the arena passed to the call that filled them.
 * JSON-valued fields (tags, metadata, ...) are carried as JSON text.
 */
#ifndef CAIRN_STORE_H
#define CAIRN_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/arena.h"
#include "util/err.h"

typedef struct store store;
typedef struct store_tx store_tx;

/* Opens the store at url (sqlite://PATH or a path), applies pending migrations; pool_size
 * connections at most. Returns 0 or -1. */
int store_open(store **out, const char *url, int pool_size, err *e);
/* Closes every pooled connection; accepts NULL. */
void store_close(store *s);
/* Returns true if the database answers a trivial query. */
bool store_ping(store *s);
/* Takes a pooled connection and begins a transaction (write: take the write lock now). */
int store_tx_begin(store_tx **out, store *s, bool write, err *e);
/* Commits (commit=true) or rolls back, and returns the connection; accepts NULL. Returns -1
 * if the commit failed (e filled), 0 otherwise. */
int store_tx_end(store_tx *tx, bool commit, err *e);

/* Returns the catalog revision: it changes with every committed change to what catalogs,
 * facets or the manifest show. This process's own commits show at once. On PostgreSQL, where
 * many instances share the database, every call reads the revision row (one indexed read
 * outside any transaction), so another instance's commit shows at once too; on SQLite, other
 * processes (`cairnd gc`) show within 100 ms. Thread-safe. */
int store_catalog_revision(int64_t *out, store *s, err *e);

/* Returns the server-wide setting `name`, first storing `initial` if it has none yet, so every
 * instance on the database agrees (e.g. the presigning secret). Copies it into out. */
int store_setting_init(char *out, size_t cap, store *s, const char *name, const char *initial,
                       err *e);

/* Sums the sizes and count of the blobs the database knows (for metrics). */
int store_blob_totals(int64_t *bytes, int64_t *count, store *s, err *e);

/* ---- orgs ---- */
typedef struct store_org {
    char *id, *slug, *display_name;
    int64_t created_at;
    int64_t quota_versions_monthly; /* -1: unlimited */
} store_org;

/* Creates an org; ERR_EXISTS if the slug is taken. */
int store_org_create(store_org *out, store_tx *tx, const char *slug, const char *display_name,
                     arena *a, err *e);
/* Finds an org by slug or id; ERR_NOT_FOUND. */
int store_org_get(store_org *out, store_tx *tx, const char *slug_or_id, arena *a, err *e);
/* Lists orgs by id after `after` (NULL: from the start); *n items, *total overall. */
int store_org_list(store_org **out, size_t *n, int64_t *total, store_tx *tx, const char *after,
                   int limit, arena *a, err *e);
/* Returns the number of orgs (for first-start bootstrap). */
int store_org_count(int64_t *out, store_tx *tx, err *e);

/* ---- tokens ---- */
typedef struct store_token {
    char *id, *org_id, *org_slug, *name, *role;
    bool server_admin;
    int64_t created_at, expires_at, last_used_at, revoked_at; /* 0: none */
} store_token;

/* Inserts a token whose secret hashes to hash (hex SHA-256). */
int store_token_create(store_token *out, store_tx *tx, const char *org_id, const char *name,
                       const char *role, bool server_admin, const char *hash,
                       int64_t expires_at, arena *a, err *e);
/* Finds a token by secret hash (revoked ones too: the caller decides); ERR_NOT_FOUND. */
/* Reads the token whose hash is hash, as one statement outside any transaction (a single-row
 * read needs no snapshot: one round trip on PostgreSQL instead of three), which also reads the
 * catalog revision into *rev: a request authenticated with it may use that revision for its
 * cache lookups. */
int store_token_by_hash_rev(store_token *out, int64_t *rev, store *s, const char *hash,
                            arena *a, err *e);
/* Records a use at now. */
int store_token_touch(store_tx *tx, const char *id, int64_t now, err *e);
/* Lists an org's live tokens by id after `after`; server-admin tokens only with_admin. */
int store_token_list(store_token **out, size_t *n, int64_t *total, store_tx *tx,
                     const char *org_id, bool with_admin, const char *after, int limit, arena *a,
                     err *e);
/* Revokes a live token of org_id (a server-admin one only with_admin); ERR_NOT_FOUND if none. */
int store_token_revoke(store_tx *tx, const char *org_id, const char *id, bool with_admin,
                       int64_t now, err *e);

/* ---- artifacts ---- */
typedef struct store_artifact {
    char *id, *org_id, *org_slug, *kind, *name;
    char *pretty_name, *summary, *description, *license, *task, *architecture, *base_model;
    char *framework, *size_category;
    char *tags, *language, *task_categories, *keywords, *components, *origin, *attributes; /* JSON */
    char *aliases;        /* JSON array of alias names, sorted (maintained by the store) */
    char *latest_version; /* highest published, non-deprecated version, or NULL */
    char *latest_version_id;
    char *relations; /* JSON object: relation list name -> sorted id set (seed 002) */
    bool is_public, enabled, framework_set;
    int64_t revision, download_count, version_count, created_at, updated_at, deleted_at;
} store_artifact;

/* Inserts a new artifact (revision 1); ERR_EXISTS if org/kind/name is taken. */
int store_artifact_insert(store_tx *tx, const store_artifact *in, err *e);
/* Finds a live artifact of org by id (by_id) or else by name, never one for the other (a name
 * cannot shadow another artifact's id); ERR_NOT_FOUND. */
int store_artifact_get(store_artifact *out, store_tx *tx, const char *org_id, const char *kind,
                       const char *key, bool by_id, arena *a, err *e);
/* Writes every mutable field of in, sets revision = in->revision + 1 and updated_at, provided
 * the stored revision is still in->revision; ERR_CONFLICT otherwise. */
int store_artifact_update(store_tx *tx, const store_artifact *in, int64_t now, err *e);
/* Soft-deletes an artifact and its versions at now. */
int store_artifact_delete(store_tx *tx, const char *id, int64_t now, err *e);
/* Undeletes the most recently deleted artifact org/kind/name deleted at or after since, with
 * the versions deleted with it; ERR_NOT_FOUND if none; ERR_EXISTS if the name is live. */
int store_artifact_restore(store_artifact *out, store_tx *tx, const char *org_id,
                           const char *kind, const char *name, int64_t since, int64_t now,
                           arena *a, err *e);
/* Hard-deletes artifacts and versions soft-deleted before `before`; *purged counts artifacts
 * and versions removed. */
int store_purge(int64_t *purged, store_tx *tx, int64_t before, err *e);
/* Counts versions created in org's artifacts at or after since (deleted ones too: quota). */
int store_versions_created_since(int64_t *out, store_tx *tx, const char *org_id, int64_t since,
                                 err *e);
/* Recomputes latest_version, version_count and aliases after a version or alias change. */
int store_artifact_refresh(store_tx *tx, const char *artifact_id, int64_t now, err *e);

/* ---- versions ---- */
typedef struct store_version {
    char *id, *artifact_id, *version, *sort_key, *lifecycle;
    char *summary, *changelog, *framework, *architecture, *base_model, *metadata; /* JSON */
    int64_t parameter_count; /* -1: unknown */
    int64_t size_bytes, download_count, created_at, updated_at, published_at, deprecated_at;
} store_version;

/* Inserts a version; ERR_EXISTS if one of equal precedence (sort_key) is live. */
int store_version_insert(store_tx *tx, const store_version *in, err *e);
/* Finds a live version of an artifact by sort key; ERR_NOT_FOUND. */
int store_version_by_key(store_version *out, store_tx *tx, const char *artifact_id,
                         const char *sort_key, arena *a, err *e);
/* Finds a live version by id (artifact_id NULL: any artifact); ERR_NOT_FOUND. */
int store_version_by_id(store_version *out, store_tx *tx, const char *artifact_id,
                        const char *id, arena *a, err *e);
/* Lists live versions newest first (lifecycle NULL: all). */
int store_version_list(store_version **out, size_t *n, store_tx *tx, const char *artifact_id,
                       const char *lifecycle, arena *a, err *e);
/* Writes every mutable field of in, sets updated_at = now. */
int store_version_update(store_tx *tx, const store_version *in, int64_t now, err *e);
/* Soft-deletes a version (and drops aliases pointing at it). */
int store_version_delete(store_tx *tx, const char *id, int64_t now, err *e);
/* Counts a version's live resources, and those whose sha256 is not verified. */
int store_version_resource_counts(int64_t *total, int64_t *unverified, store_tx *tx,
                                  const char *version_id, err *e);

/* ---- aliases ---- */
/* Points alias at version_id (insert or move). */
int store_alias_set(store_tx *tx, const char *artifact_id, const char *alias,
                    const char *version_id, int64_t now, err *e);
/* Finds the version id an alias points at; ERR_NOT_FOUND. */
int store_alias_get(char **version_id, store_tx *tx, const char *artifact_id, const char *alias,
                    arena *a, err *e);
/* Removes an alias; ERR_NOT_FOUND if absent. */
int store_alias_delete(store_tx *tx, const char *artifact_id, const char *alias, err *e);


/* ---- discovery: list, search, facets (API.md §4, §7) ---- */
typedef enum store_sort {
    STORE_SORT_UPDATED,   /* -updated_at (default) */
    STORE_SORT_NAME,      /* name */
    STORE_SORT_DOWNLOADS, /* -downloads */
    STORE_SORT_CREATED,   /* -created_at */
    STORE_SORT_RELEVANCE, /* relevance, with a search */
} store_sort;

#define STORE_FACETS 5
/* Filters: the STORE_FACETS catalog facets, then the relation id sets of seed 002. */
#define STORE_FILTERS 16
/* Facet names, as query parameters: tags, license, task_categories, framework, size_category;
 * then the relation list names (provider_ids, department_ids, agent_ids, modality_ids,
 * pricing_ids, quality_ids, reasoning_level_ids, temperature_level_ids, value_ids, voice_ids,
 * flag_ids), which are also the keys of store_artifact.relations. */
extern const char *const store_facet_names[STORE_FILTERS];

typedef struct store_filter {
    const char *org_id;  /* the org in scope; NULL: the public catalog of every org */
    const char *kind;
    bool include_public; /* with org_id: other orgs' public, enabled artifacts too */
    const char *search;  /* free text (prefix-matched words), or NULL */
    const char *const *values[STORE_FILTERS]; /* OR within a facet, AND across facets */
    size_t nvalues[STORE_FILTERS];
    /* store_facets only: which facets to count (bit i: facet i; 0: the STORE_FACETS catalog
     * facets), and per facet a substring (case-insensitive) its listed values must contain. */
    uint32_t count_mask;
    const char *value_search[STORE_FILTERS];
} store_filter;

/* Lists artifacts matching f in sort order, after the keyset position (after_key, after_id)
 * when after_id is non-NULL (for STORE_SORT_RELEVANCE after_key is an offset). Fills *total
 * with the count of all matches, unless total is NULL (the caller counts them otherwise). */
int store_artifact_search(store_artifact **out, size_t *n, int64_t *total, store_tx *tx,
                          const store_filter *f, store_sort sort, const char *after_key,
                          const char *after_id, int limit, arena *a, err *e);
/* The same search paged by offset (seed 002's page_size / page_offset). */
int store_artifact_search_offset(store_artifact **out, size_t *n, int64_t *total, store_tx *tx,
                                 const store_filter *f, store_sort sort, int64_t offset,
                                 int limit, arena *a, err *e);

typedef struct store_facet_count {
    const char *value;
    int64_t count;
} store_facet_count;

/* Disjunctive facet counts: for facet i, counts of its values over the matches of every filter
 * but its own, most frequent first. *total: artifacts in scope; *filtered: matches of f. */
int store_facets(store_facet_count *out[STORE_FILTERS], size_t nout[STORE_FILTERS],
                 int64_t *total, int64_t *filtered, store_tx *tx, const store_filter *f,
                 arena *a, err *e);
/* ---- change feed: what the in-memory facet index (src/index/) is rebuilt and updated from */
typedef struct store_change {
    const char *id, *org_id, *kind;
    bool live;     /* not deleted */
    bool visible;  /* is_public and enabled: in the public catalog */
    int64_t rowid; /* SQLite: the artifact's full-text row (store_fts_hits); 0 on PostgreSQL */
    size_t nfacets;
    const char *const *facets, *const *values; /* nfacets (facet name, value) pairs */
} store_change;

/* Calls cb for every artifact whose change_rev is above since (every artifact for since < 0),
 * all in one snapshot, and sets *rev to the catalog revision that snapshot shows: after the
 * calls, whatever cb built reflects the catalog exactly at *rev. cb returning non-zero stops. */
int store_changes(store *s, int64_t since, int64_t *rev,
                  int (*cb)(void *ctx, const store_change *c), void *ctx, err *e);

/* ---- full-text matches without the catalog join (SQLite; the facet index filters them) */
typedef struct store_fts_hit {
    int64_t rowid; /* the artifact's, as store_change.rowid */
    double score;  /* ascending is more relevant */
} store_fts_hit;

/* Every artifact whose full-text row matches search, with its relevance, in no order, live
 * or not and in any scope. *supported is false (and nothing is read) where the dialect has no
 * such rows (PostgreSQL). */
int store_fts_hits(store_fts_hit **out, size_t *n, bool *supported, store_tx *tx,
                   const char *search, arena *a, err *e);
/* Reads the artifacts of rowids[0..k) (k <= 256) into out[0..k) in that order; *n counts the
 * rows found (a row purged meanwhile leaves its slot zeroed). */
int store_artifacts_by_rowid(store_artifact *out, size_t *n, store_tx *tx,
                             const int64_t *rowids, size_t k, arena *a, err *e);

/* Rebuilds the derived views of every artifact: its facet rows and its full-text entry.
 * Fills names (up to cap) with the views rebuilt, *nnames their count, *rows the artifacts. */
int store_refresh_views(const char **names, size_t cap, size_t *nnames, int64_t *rows,
                        store_tx *tx, err *e);
/* Returns the sort key string of a for sort (what the next page's cursor carries). */
const char *store_sort_key_of(const store_artifact *a, store_sort sort, arena *ar);

/* ---- packages and resources (API.md §5, §6) ---- */
typedef struct store_package {
    char *id, *version_id, *format, *kind; /* kind: file | bundle | converted */
    int64_t size_bytes, created_at;
} store_package;

typedef struct store_resource {
    char *id, *package_id, *version_id, *path, *kind, *sha256, *media_type, *storage_key;
    bool primary, verified;
    int64_t size_bytes, created_at;
} store_resource;

/* Inserts a package. */
int store_package_insert(store_tx *tx, const store_package *p, err *e);
/* Inserts a resource; ERR_EXISTS if its path is taken in the version. Records the blob. */
int store_resource_insert(store_tx *tx, const store_resource *r, err *e);
/* Lists a version's live packages, oldest first. */
int store_package_list(store_package **out, size_t *n, store_tx *tx, const char *version_id,
                       arena *a, err *e);
/* Lists a version's live resources by path (package_id NULL: all packages). */
int store_resource_list(store_resource **out, size_t *n, store_tx *tx, const char *version_id,
                        const char *package_id, arena *a, err *e);
/* Finds a live resource of a version by path; ERR_NOT_FOUND. */
int store_resource_by_path(store_resource *out, store_tx *tx, const char *version_id,
                           const char *path, arena *a, err *e);
/* Copies a version's packages and resources (same blobs) to another version. */
int store_version_copy_files(store_tx *tx, const char *from, const char *to, int64_t now,
                             err *e);
/* Adds n to the download counters of a version and its artifact. */
int store_count_download(store_tx *tx, const char *version_id, int64_t n, err *e);
/* True (1) if any resource row, live or soft-deleted, references storage_key; 0 if none. */
int store_blob_referenced(store_tx *tx, const char *storage_key, err *e);
/* Finds a resource of org_id (any version of any of its artifacts) stored under storage_key
 * and gives its size: the org holds those bytes already. ERR_NOT_FOUND if it has none. */
int store_org_blob_size(int64_t *size, store_tx *tx, const char *org_id, const char *storage_key,
                        err *e);

/* Sets a capability's keywords and components (JSON arrays) from its published manifest. */
int store_artifact_set_capability(store_tx *tx, const char *id, const char *keywords,
                                  const char *components, int64_t now, err *e);
/* Sets size_category where it is still unset (derived from a parameter count). */
int store_artifact_fill_size_category(store_tx *tx, const char *id, const char *category,
                                      err *e);

/* ---- resumable upload sessions ---- */
typedef struct store_session {
    char *id, *version_id, *path, *kind;
    int64_t size_bytes; /* declared total, -1 unknown */
    int64_t created_at, expires_at;
} store_session;

int store_session_insert(store_tx *tx, const store_session *s, err *e);
/* Finds a session; ERR_NOT_FOUND. */
int store_session_get(store_session *out, store_tx *tx, const char *id, arena *a, err *e);
int store_session_delete(store_tx *tx, const char *id, err *e);

/* Calls fn(storage_key, ctx) for every distinct key referenced by a resource row (soft-deleted
 * ones included: they may be restored). fn returns 0 to go on. */
int store_referenced_keys(store_tx *tx, int (*fn)(const char *key, void *ctx), void *ctx,
                          err *e);
/* Removes sessions that expired before now; their ids go to fn first. */
int store_sessions_expire(store_tx *tx, int64_t now, void (*fn)(const char *id, void *ctx),
                          void *ctx, err *e);

/* ---- seed-002 model drafts (API.md §10): form states owned by one token ---- */
typedef struct store_draft {
    char *id, *org_id, *token_id;
    char *state; /* JSON object */
    int64_t version, created_at, updated_at;
} store_draft;

/* Finds a draft of token_id; ERR_NOT_FOUND (also when another token owns it). */
int store_draft_get(store_draft *out, store_tx *tx, const char *token_id, const char *id,
                    arena *a, err *e);
/* Inserts a draft at in->version. */
int store_draft_insert(store_tx *tx, const store_draft *in, err *e);
/* Writes in->state as version in->version + 1, provided the stored version is still
 * in->version; ERR_CONFLICT otherwise. */
int store_draft_update(store_tx *tx, const store_draft *in, int64_t now, err *e);
/* Lists token_id's drafts, most recently changed first (at most 500). */
int store_draft_list(store_draft **out, size_t *n, store_tx *tx, const char *token_id,
                     arena *a, err *e);
/* Deletes a draft of token_id (no error if absent). */
int store_draft_delete(store_tx *tx, const char *token_id, const char *id, err *e);

/* ---- stored exports (seed 002 `export`): a CSV kept in the blob store ---- */
typedef struct store_export {
    char *id, *org_id, *file_name, *storage_key, *sha256;
    int64_t size_bytes, row_count, created_at;
} store_export;

/* Records an export (and its blob). */
int store_export_insert(store_tx *tx, const store_export *x, err *e);
/* Finds an export of org_id; ERR_NOT_FOUND. */
int store_export_get(store_export *out, store_tx *tx, const char *org_id, const char *id,
                     arena *a, err *e);

/* ---- manifest (API.md §7) ---- */
typedef struct store_manifest_cb {
    /* With a since revision: every artifact changed after it (public or not, live or not),
     * first; may be NULL. */
    int (*changed)(void *ctx, const char *artifact_id);
    /* Each public, enabled model with a published or deprecated version, by canonical name. */
    int (*model)(void *ctx, const store_artifact *m);
    /* Its published and deprecated versions, newest first. */
    int (*version)(void *ctx, const char *artifact_id, const char *version,
                   const char *lifecycle);
    /* The files of each model's latest version, by package. */
    int (*resource)(void *ctx, const char *artifact_id, const char *package_id,
                    const char *format, const char *path, const char *sha256, int64_t size);
} store_manifest_cb;

/* Walks what the public manifest lists, for the models whose artifact row changed after
 * catalog revision since (every model for since < 0: every change a manifest shows stamps its
 * model's row with the revision it commits as); a callback returning non-zero stops it. */
int store_manifest_walk(store_tx *tx, int64_t since, const store_manifest_cb *cb, void *ctx,
                        arena *a, err *e);

#endif
