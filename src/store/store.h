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
/* Begins a write transaction for bulk loads (seeding, imports), where any failure aborts the
 * whole load: on PostgreSQL store_artifact_insert and store_version_insert are pipelined like
 * the writes nobody waits for, so a taken name or version is reported by a later call or by
 * the COMMIT (ERR_EXISTS, everything rolled back), not by the insert itself. On SQLite it is
 * store_tx_begin(write=true). */
int store_tx_begin_bulk(store_tx **out, store *s, err *e);
/* Begins a catalog write that shares the catalog write lock with others of its kind and must
 * take, with store_tx_lock and before it reads what it will change, the lock of each thing it
 * changes (version creation: the artifact, the org when a quota counts). On PostgreSQL such
 * writes to different artifacts commit side by side, from any number of instances; every
 * store_tx_begin(write=true) still runs alone. On SQLite it is store_tx_begin(write=true). */
int store_tx_begin_shared(store_tx **out, store *s, err *e);
/* What store_tx_lock locks: a name about to be created in an org (key "ORG_ID/NAME", any
 * case), an existing artifact (its id), an org (its id). */
#define STORE_LOCK_NAME 1
#define STORE_LOCK_ARTIFACT 2
#define STORE_LOCK_ORG 3
/* In a store_tx_begin_shared transaction on PostgreSQL, waits for and takes the lock of one
 * thing until the transaction ends (later statements see what its last holder committed);
 * otherwise does nothing (the transaction already runs alone). Take them in the order NAME,
 * ARTIFACT, ORG, at most one of each. Returns 0 or -1. */
int store_tx_lock(store_tx *tx, int what, const char *key, err *e);
/* Commits (commit=true) or rolls back, and returns the connection; accepts NULL. Returns -1
 * if the commit failed (e filled), 0 otherwise. */
int store_tx_end(store_tx *tx, bool commit, err *e);

/* Returns the catalog revision: it changes with every committed change to what catalogs,
 * facets or the manifest show. This process's own commits show at once. On PostgreSQL, where
 * many instances share the database, every call reads the revision row (one indexed read
 * outside any transaction), so another instance's commit shows at once too (unless
 * store_listen is on: then what the listener heard); on SQLite, other
 * processes (`cairnd gc`) show within 100 ms. Thread-safe. */
int store_catalog_revision(int64_t *out, store *s, err *e);
/* The same, at least min: a revision a client was given by a write (X-Cairn-Revision) and asks
 * for again (X-Cairn-Min-Revision) is read from the database if not yet heard of. */
int store_catalog_revision_min(int64_t *out, store *s, int64_t min, err *e);
/* Returns the catalog revision the calling thread's last catalog-changing commit made, and
 * forgets it (0: none since the last call). */
int64_t store_take_commit_rev(void);

/* --read-consistency notify (PostgreSQL only; docs/consistency.md): starts a thread that
 * LISTENs for the catalog commits and credential changes of every instance. While it is
 * connected, store_catalog_revision answers from what it heard (no round trip) and token rows
 * are cached until a credential change is heard of; while it is not, both are read from the
 * database per request as in the default (strict) mode. Returns 0 or -1. */
int store_listen(store *s, err *e);
typedef struct store_listen_info {
    bool enabled, up;
    int64_t revision, notified, lag_ms_max, reads_pushed, reads_db;
} store_listen_info;
/* Fills out with the listener's state and counters (for /metrics). */
void store_listen_stats(store_listen_info *out, store *s);

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
    int64_t rowid; /* the artifact's integer key: SQLite's rowid (its full-text row too),
                    * PostgreSQL's seq */
    size_t nfacets;
    const char *const *facets, *const *values; /* nfacets (facet name, value) pairs */
} store_change;

/* Calls cb for every artifact whose change_rev is above since (every artifact for since < 0),
 * all in one snapshot, and sets *rev to the catalog revision that snapshot shows: after the
 * calls, whatever cb built reflects the catalog exactly at *rev. cb returning non-zero stops. */
int store_changes(store *s, int64_t since, int64_t *rev,
                  int (*cb)(void *ctx, const store_change *c), void *ctx, err *e);

/* ---- full-text matches without the catalog join (the facet index filters them) */
typedef struct store_fts_hit {
    int64_t rowid; /* the artifact's integer key, as store_change.rowid */
    double score;  /* ascending is more relevant */
    bool match;    /* store_fts_scan's catch-up: false if the changed artifact no longer matches */
} store_fts_hit;

/* Every artifact whose full-text row matches search, with its relevance, in no order, live
 * or not and in any scope. *supported is false (and nothing is read) where the dialect has no
 * such rows (PostgreSQL). */
int store_fts_hits(store_fts_hit **out, size_t *n, bool *supported, store_tx *tx,
                   const char *search, arena *a, err *e);
/* PostgreSQL: the hits of search like store_fts_hits (relevance -ts_rank, which depends on
 * the artifact's own text only), read in one snapshot whose catalog revision is put in *rev.
 * With since < 0 every match; with since >= 0 only the artifacts changed after revision since
 * (change_rev), each once, matching or not (.match): applied to the hits of revision since,
 * they give exactly the hits of *rev. *supported is false on SQLite, where bm25 depends on the
 * whole corpus (a change moves every score), so hits cannot be caught up from changed rows. */
int store_fts_scan(store_fts_hit **out, size_t *n, int64_t *rev, bool *supported, store_tx *tx,
                   const char *search, int64_t since, arena *a, err *e);
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

/* ---- OCI Distribution (src/api/oci/): what a repository (an artifact) holds ----
 * Digests are "sha256:<64 hex>". Blobs and manifests are stored in the blob store under their
 * storage key; these rows make them the repository's (and referenced, for GC). */
typedef struct store_oci_manifest {
    char *artifact_id, *digest, *media_type, *storage_key, *subject, *artifact_type;
    int64_t size_bytes, created_at;
    bool generated; /* made by cairn from a version, not pushed (a push of it clears this) */
} store_oci_manifest;

/* Records that the repository holds a blob (kept if already there). */
int store_oci_blob_add(store_tx *tx, const char *artifact_id, const char *digest,
                       const char *storage_key, int64_t size, int64_t now, err *e);
/* Gets the size of a blob the repository holds: pushed to it, or a file of one of its
 * versions (with visible_only, of a published or deprecated one); ERR_NOT_FOUND. */
int store_oci_blob_size(int64_t *size, store_tx *tx, const char *artifact_id,
                        const char *digest, bool visible_only, err *e);
/* Removes the repository's pushed-blob row; ERR_NOT_FOUND if none. */
int store_oci_blob_delete(store_tx *tx, const char *artifact_id, const char *digest, err *e);
/* Inserts a manifest (kept if the digest is already there). */
int store_oci_manifest_put(store_tx *tx, const store_oci_manifest *m, err *e);
/* Finds a manifest of the repository by digest; ERR_NOT_FOUND. */
int store_oci_manifest_get(store_oci_manifest *out, store_tx *tx, const char *artifact_id,
                           const char *digest, arena *a, err *e);
/* Removes a manifest and the tags pointing at it; ERR_NOT_FOUND if none. */
int store_oci_manifest_delete(store_tx *tx, const char *artifact_id, const char *digest,
                              err *e);
/* Manifests whose subject is digest, oldest first (at most 1000). */
int store_oci_referrers(store_oci_manifest **out, size_t *n, store_tx *tx,
                        const char *artifact_id, const char *digest, arena *a, err *e);
/* Points tag at digest (moving it if it pointed elsewhere). */
int store_oci_tag_set(store_tx *tx, const char *artifact_id, const char *tag, const char *digest,
                      int64_t now, err *e);
/* Removes a pushed tag; ERR_NOT_FOUND if none. */
int store_oci_tag_delete(store_tx *tx, const char *artifact_id, const char *tag, err *e);
/* Finds the digest a pushed tag points at; ERR_NOT_FOUND. */
int store_oci_tag_get(char **digest, store_tx *tx, const char *artifact_id, const char *tag,
                      arena *a, err *e);
/* Lists the pushed tags (ordered by tag) and, in aliases, the artifact's aliases. */
int store_oci_tag_list(char ***tags, size_t *n, char ***aliases, size_t *naliases,
                       store_tx *tx, const char *artifact_id, arena *a, err *e);
/* Lists names (ordered) of live artifacts of kind "models" in org_id (NULL: every org, public
 * and enabled ones only) after `after` (NULL: from the start), at most limit; each name is
 * "<org slug>/<name>". */
int store_oci_repositories(char ***out, size_t *n, store_tx *tx, const char *org_id,
                           const char *after, int limit, arena *a, err *e);
/* The image-shaped view of versions (api/oci/image.c): a file as a one-entry tar layer, whose
 * digest (of the tar, not the file) is computed once and kept here. */
typedef struct store_oci_tar {
    char *digest, *storage_key, *path, *version_id;
    int64_t size_bytes; /* of the tar */
} store_oci_tar;
/* Finds the tar layer of a file (by its storage key and path); ERR_NOT_FOUND. */
int store_oci_tar_by_file(store_oci_tar *out, store_tx *tx, const char *artifact_id,
                          const char *storage_key, const char *path, arena *a, err *e);
/* Finds a tar layer by digest; ERR_NOT_FOUND. */
int store_oci_tar_by_digest(store_oci_tar *out, store_tx *tx, const char *artifact_id,
                            const char *digest, arena *a, err *e);
/* Records a tar layer (kept if the digest is known already). */
int store_oci_tar_add(store_tx *tx, const char *artifact_id, const store_oci_tar *t, err *e);
/* Blob upload sessions of a repository; the bytes are a blob session (blob.h) of that id. */
int store_oci_upload_insert(store_tx *tx, const char *id, const char *artifact_id, int64_t now,
                            int64_t expires_at, err *e);
/* Finds an unexpired or expired session; ERR_NOT_FOUND. *storage_key (may be NULL) and *size
 * get the blob a session's first request stored whole (NULL: its bytes are session bytes). */
int store_oci_upload_get(char **artifact_id, int64_t *expires_at, char **storage_key,
                         int64_t *size, store_tx *tx, const char *id, arena *a, err *e);
/* Records (key non-NULL) or forgets (NULL) the blob a session holds whole; a recorded blob is
 * referenced for GC while the session lives. */
int store_oci_upload_set_blob(store_tx *tx, const char *id, const char *storage_key,
                              int64_t size, err *e);
int store_oci_upload_delete(store_tx *tx, const char *id, err *e);

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

/* ---- optimized configurations (API.md §8) ---- */
typedef struct store_optconfig {
    char *version_id, *device_type, *storage_key, *sha256;
    int64_t size_bytes, created_at, updated_at;
} store_optconfig;

/* Stores (or replaces) the config of version_id for device_type and records its blob; *created
 * is true when there was none. */
int store_optconfig_put(bool *created, store_tx *tx, const store_optconfig *c, err *e);
/* Finds the config of version_id for device_type; ERR_NOT_FOUND. */
int store_optconfig_get(store_optconfig *out, store_tx *tx, const char *version_id,
                        const char *device_type, arena *a, err *e);

/* ---- conversion jobs (API.md §8) ---- */
typedef struct store_job {
    char *id, *org_id, *artifact_id, *version_id, *source_path, *source_format, *target;
    char *model, *version; /* canonical name and version string, for display */
    char *status; /* queued | running | succeeded | failed */
    char *error, *stderr_tail, *package_id, *output_path; /* NULL until known */
    int64_t attempts, created_at, updated_at, started_at, finished_at;
} store_job;

int store_job_insert(store_tx *tx, const store_job *j, err *e);
/* Finds a job of org_id; ERR_NOT_FOUND (also for another org's job). */
int store_job_get(store_job *out, store_tx *tx, const char *org_id, const char *id, arena *a,
                  err *e);
/* Lists org_id's jobs newest first, before id `before` (NULL: from the newest); status NULL:
 * any. */
int store_job_list(store_job **out, size_t *n, store_tx *tx, const char *org_id,
                   const char *status, const char *before, int limit, arena *a, err *e);
/* Takes the oldest queued job, or a running one whose lease expired (its worker died), for
 * owner until lease_until: status running, attempts + 1. Returns 1 with *out filled, 0 when
 * there is none, -1 on error. Runs its own transaction. */
int store_job_claim(store_job *out, store *s, const char *owner, int64_t now,
                    int64_t lease_until, arena *a, err *e);
/* Extends owner's lease of a running job; 0 when the job is no longer owner's. */
int store_job_renew(store *s, const char *id, const char *owner, int64_t lease_until, err *e);
/* Ends owner's job: status succeeded or failed, or queued again (a stopping server). */
int store_job_finish(store_tx *tx, const store_job *j, const char *owner, int64_t now, err *e);

/* ---- the telemetry store (API.md §9) ----
 * Fleet heartbeats, inference telemetry and training updates are not catalog data: they live
 * in a store of their own, opened with store_open_telemetry (SQLite: a separate database file,
 * so their writes never wait for the catalog's write lock; PostgreSQL: the same database, with
 * write transactions that take no lock, so several instances ingest side by side). Their
 * writes never move the catalog revision. */
int store_open_telemetry(store **out, const char *url, int pool_size, err *e);

/* Records a heartbeat of device_id (insert or update; NULL fields keep their value). */
int store_heartbeat(store_tx *tx, const char *org_id, const char *device_id, const char *profile,
                    const char *app_version, const char *status, int64_t now, err *e);
typedef struct store_fleet {
    int64_t total, healthy, stale, offline;
} store_fleet;
/* Counts org_id's devices by last heartbeat: healthy at or after healthy_since, stale at or
 * after stale_since, offline before. */
int store_fleet_counts(store_fleet *out, store_tx *tx, const char *org_id,
                       int64_t healthy_since, int64_t stale_since, err *e);

/* Records the n distinct event ids of org_id in one statement; fresh[i] is false for an id
 * seen before (a retried batch). */
int store_event_ids_claim(bool *fresh, store_tx *tx, const char *org_id,
                          const char *const *ids, size_t n, int64_t now, err *e);
/* Forgets event ids recorded before `before`. */
int store_event_ids_expire(store_tx *tx, int64_t before, err *e);

/* One aggregate of inference events: of a partial (one ingested batch's events of one
 * version and minute), or of a rollup row (level 0 minute, 1 hour, 2 day). */
typedef struct store_rollup {
    char *id; /* partials only */
    char *org_id, *artifact_id, *version;
    int level;
    int64_t start; /* bucket start, ms */
    int64_t count, errors, sum_us, min_us, max_us;
    char *hist; /* core/histogram.h text */
} store_rollup;

/* Inserts partial aggregates (start is their minute) in one statement. */
int store_partials_insert(store_tx *tx, const store_rollup *rows, size_t n, err *e);
/* A range of aggregates: rollup rows of level (0..2), or with level -1 the partials not yet
 * compacted, whose start is in [from, to). */
typedef struct store_span {
    int level;
    int64_t from, to;
} store_span;
#define STORE_SPANS_MAX 12
/* Calls fn for each aggregate of (org_id, artifact_id) in any of n (<= STORE_SPANS_MAX)
 * ranges, read in one statement (one snapshot), in no particular order. */
int store_rollups_read(store_tx *tx, const char *org_id, const char *artifact_id,
                       const store_span *spans, size_t n,
                       int (*fn)(void *ctx, const store_rollup *r), void *ctx, arena *a, err *e);
/* Claims the compaction of the telemetry store for this transaction: on PostgreSQL a
 * transaction-scoped advisory lock of its own (never the catalog's), so one instance compacts
 * at a time instead of all of them waiting on the same hour and day rows; 1 when claimed, 0
 * when another instance holds it; SQLite's write transaction is already exclusive (1). */
int store_compaction_claim(store_tx *tx, err *e);
/* Takes up to limit partials for compaction (on PostgreSQL locked, skipping ones another
 * instance holds). */
int store_partials_take(store_rollup **out, size_t *n, store_tx *tx, int limit, arena *a,
                        err *e);
/* Adds the counters of each of n deltas (distinct keys, each counting at least one event) to
 * its rollup row, created if needed (the rows stay locked until the transaction ends), in a
 * few multi-row statements. A row created here takes the delta's hist (NULL: empty); an
 * existing row's hist is left as it was. hists[i] is set to row i's histogram text before the
 * addition, or NULL when the row was created here. */
int store_rollups_add(char **hists, store_tx *tx, const store_rollup *deltas, size_t n,
                      arena *a, err *e);
/* Sets the histogram texts of n rollup rows (their keys and hist), a few statements. */
int store_rollups_set_hist(store_tx *tx, const store_rollup *rows, size_t n, err *e);
/* Deletes compacted partials. */
int store_partials_delete(store_tx *tx, const store_rollup *rows, size_t n, err *e);
/* Upkeep of a telemetry store after a compaction pass (the compactor's, about every second),
 * outside any transaction and write lock. PostgreSQL, when the pass compacted anything: VACUUM
 * of the partials table, so a query's scan of the partials' index never wades through the dead
 * entries of compacted ones. SQLite (synchronous=NORMAL, which syncs the WAL only when
 * checkpointing): a passive WAL checkpoint (next to free when nothing was written), so
 * committed telemetry, heartbeats and training updates reach the disk within about a second,
 * and checkpoints stay off the writers' path. */
int store_telemetry_maintain(store *s, bool compacted, err *e);

/* Training updates (telemetry store). */
typedef struct store_training {
    char *id, *org_id, *artifact_id, *version, *device_id;
    int64_t sample_count, created_at;
    char *metrics; /* JSON object of numbers */
} store_training;

int store_training_insert(store_tx *tx, const store_training *t, err *e);
/* Calls fn for each update of a version, oldest first (at most limit). */
int store_training_list(store_tx *tx, const char *org_id, const char *artifact_id,
                        const char *version, int limit,
                        int (*fn)(void *ctx, const store_training *t), void *ctx, arena *a,
                        err *e);
/* Per version of an artifact: updates, samples, distinct devices and the latest update's
 * metrics, newest version activity first. */
typedef struct store_training_sum {
    char *version, *latest_metrics;
    int64_t updates, samples, devices, latest_at;
} store_training_sum;
int store_training_summary(store_training_sum **out, size_t *n, store_tx *tx,
                           const char *org_id, const char *artifact_id, arena *a, err *e);

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
