/*
 * oci.h: the OCI Distribution API v1.1 (`/v2/`) over cairn's catalog and blob store
 * (docs/oci.md). An adapter: a repository `<org>/<name>` is the model `name` of org `org`;
 * roles, names, SemVer, quotas, dedup and durability are the ones api/ applies, called through
 * the v1 handlers and the same store and blob functions. It adds only what OCI has and cairn
 * has not: pushed manifests, tags and blobs of a repository, and blob upload sessions.
 * Every cairn version is served as a deterministic ModelPack manifest whose layers are its
 * files (layer digest = the file's SHA-256, served straight from the blob store).
 */
#ifndef CAIRN_API_OCI_H
#define CAIRN_API_OCI_H

#include "api/api.h"
#include "api/common.h"
#include "store/store.h"

/* The door of the /v2/ routes: raw bodies, errors as {"errors":[{code,message,detail}]}, a
 * WWW-Authenticate challenge on every 401, and {kind} = "models". */
extern const api_door oci_door;

int oci_ping(api_reply *r, api_call *c);
int oci_token(api_reply *r, api_call *c);
int oci_catalog(api_reply *r, api_call *c);
int oci_manifest_get(api_reply *r, api_call *c);
int oci_manifest_put(api_reply *r, api_call *c);
int oci_manifest_delete(api_reply *r, api_call *c);
int oci_blob_get(api_reply *r, api_call *c);
int oci_blob_delete(api_reply *r, api_call *c);
int oci_tags_list(api_reply *r, api_call *c);
int oci_referrers(api_reply *r, api_call *c);
int oci_upload_get(api_reply *r, api_call *c);
int oci_upload_delete(api_reply *r, api_call *c);
extern const api_upload oci_upload_post, oci_upload_patch, oci_upload_put;

/* ---- shared by the oci files ---- */

#define OCI_MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_MT_INDEX "application/vnd.oci.image.index.v1+json"

/* Fails with an OCI error code (BLOB_UNKNOWN, ...) that the door renders; status from kind. */
int oci_fail(err *e, err_kind kind, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Adds Docker-Distribution-API-Version to a reply. */
void oci_headers(api_reply *r);
/* True if s is "sha256:" and 64 lowercase hex digits. */
bool oci_digest_valid(const char *s);
/* The repository's artifact for reading (api_artifact_access at the route's role). */
int oci_repo(store_artifact *m, api_call *c, store_tx *tx, err *e);
/* True if the caller sees the repository from outside its org (only published versions). */
bool oci_outside(const api_call *c, const store_artifact *m);
/* The repository's artifact for writing: created (by the v1 rule) when it does not exist. */
int oci_repo_write(store_artifact *m, api_call *c, err *e);
/* The version's ModelPack manifest and config, deterministic: *manifest and *cfgtext are arena
 * strings, digests "sha256:<hex>". */
int oci_version_manifest(char **manifest, char **cfgtext, api_call *c, store_tx *tx,
                         const store_artifact *m, const store_version *v, err *e);
/* Stores a generated manifest and its config (bytes as blobs, rows for the repository) unless
 * the repository holds the manifest already. */
int oci_materialize(api_call *c, const store_artifact *m, const char *manifest,
                    const char *digest, const char *cfgtext, const char *artifact_type, err *e);
/* Resolves a tag to a version: `_` read as `+`, aliases, latest (api_resolve_version). */
int oci_tag_version(store_version *v, api_call *c, store_tx *tx, const store_artifact *m,
                    const char *tag, err *e);
/* The image-shaped view (image.c): GET /v2/<org>/<name>/image/{manifests,blobs}/... */
int oci_image_manifest_get(api_reply *r, api_call *c);
int oci_image_blob_get(api_reply *r, api_call *c);

/* Runs v1 handler h on {org}/models/{name} (and {version} when set) as the same caller with body
 * (borrowed; NULL: none). */
int oci_sub(api_reply *rep, api_call *c, api_handler h, const char *version, json_t *body);
/* Writes bytes as a blob; hex gets its digest. */
int oci_store_bytes(char hex[65], api_call *c, const char *p, size_t n, err *e);

#endif
