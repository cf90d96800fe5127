/*
 * handlers.h: every route handler, one file per resource.
 */
#ifndef CAIRN_HANDLERS_H
#define CAIRN_HANDLERS_H

#include "api/api.h"
#include "core/devices.h"
#include "store/store.h"

int api_healthz(api_reply *r, api_call *c);
int api_readyz(api_reply *r, api_call *c);
int api_openapi(api_reply *r, api_call *c);
int api_whoami(api_reply *r, api_call *c);

int api_org_create(api_reply *r, api_call *c);
int api_org_list(api_reply *r, api_call *c);
int api_org_get(api_reply *r, api_call *c);
int api_token_create(api_reply *r, api_call *c);
int api_token_list(api_reply *r, api_call *c);
int api_token_delete(api_reply *r, api_call *c);

int api_artifact_create(api_reply *r, api_call *c);
int api_artifact_list(api_reply *r, api_call *c);
int api_artifact_facets(api_reply *r, api_call *c);
int api_catalog_list(api_reply *r, api_call *c);
int api_catalog_facets(api_reply *r, api_call *c);
int api_artifact_get(api_reply *r, api_call *c);
int api_artifact_patch(api_reply *r, api_call *c);
int api_artifact_delete(api_reply *r, api_call *c);
/* Creates artifact `name` of {kind} in org o (from the body's fields if from_body). */
int api_artifact_create_in(store_artifact *out, api_call *c, store_tx *tx, const store_org *o,
                           const char *name, bool from_body, err *e);

int api_version_list(api_reply *r, api_call *c);
int api_version_create(api_reply *r, api_call *c);
int api_version_get(api_reply *r, api_call *c);
int api_version_get_by_id(api_reply *r, api_call *c);
int api_version_patch(api_reply *r, api_call *c);
int api_version_delete(api_reply *r, api_call *c);
int api_version_publish(api_reply *r, api_call *c);
int api_version_deprecate(api_reply *r, api_call *c);
int api_alias_put(api_reply *r, api_call *c);
int api_alias_delete(api_reply *r, api_call *c);

int api_artifact_restore(api_reply *r, api_call *c);
int api_artifact_duplicate(api_reply *r, api_call *c);
int api_artifact_bulk(api_reply *r, api_call *c);
int api_artifact_docs(api_reply *r, api_call *c);
int api_artifact_export(api_reply *r, api_call *c);
int api_package_list(api_reply *r, api_call *c);

/* The CSV of export.csv, produced piecewise (export.c): open for org o's artifacts of kind
 * (only: one, by name or id; NULL: all), read like an api_stream, close frees it. */
typedef struct export_ctx export_ctx;
export_ctx *api_export_open(const app *ap, const store_org *o, const char *kind,
                            const char *only);
long api_export_read(void *x, char *buf, size_t max);
/* Data rows (one per artifact and version, or per artifact without versions) read so far. */
int64_t api_export_rows(const export_ctx *x);
void api_export_close(void *x);
int api_admin_refresh(api_reply *r, api_call *c);

/* Encoders shared by the files handlers. */
json_t *api_resource_json(const store_resource *r);
/* Appends the version's resources to out. */
int api_version_resources(json_t *out, api_call *c, store_tx *tx, const char *version_id,
                          err *e);
/* Sets *out to the version's packages, each with its resources. */
int api_version_packages(json_t **out, api_call *c, store_tx *tx, const char *version_id,
                         err *e);

/* Finds the version ref names in m: exact SemVer, `latest`, a UUID or an alias. */
int api_resolve_version(store_version *out, api_call *c, store_tx *tx, const store_artifact *m,
                        const char *ref, err *e);

/* Uploads (upload.c) and downloads (download.c). */
extern const api_upload api_upload_file, api_upload_bundle, api_upload_presigned,
    api_upload_session_patch;
int api_upload_ticket(api_reply *r, api_call *c);
/* The presigned PUT URL of upload `id` of the bytes whose SHA-256 is sum, valid until exp
 * (seconds): the store's own URL (S3), else cairn's /api/v1/blobs/{key} signed for id. */
const char *api_upload_url(api_call *c, const char *sum, const char *id, int64_t exp);
/* Claims the bytes of SHA-256 sum for org_id, the confirm rule: what was PUT through upload
 * `id` (verified against sum, then moved into the store), or bytes a file of the org already
 * references. Fills hex and size; 404 when the org holds no such bytes (another org's bytes
 * count as none), 422 when the upload does not hash to sum. */
int api_blob_claim(char hex[65], uint64_t *size, api_call *c, const char *org_id,
                   const char *id, const char *sum, err *e);
/* Whether org_id holds the bytes of SHA-256 sum: a file of the org references them and the
 * store has them. 0 with *size, or ERR_NOT_FOUND (bytes only another org holds count as none). */
int api_org_holds(int64_t *size, api_call *c, store_tx *tx, const char *org_id, const char *sum,
                  err *e);
/* A file to attach: path, the SHA-256 of bytes the store holds, their size. */
typedef struct api_newfile {
    const char *path, *sha256;
    uint64_t size;
} api_newfile;
#define API_ATTACH_MAX 64
/* Records files (1..API_ATTACH_MAX, bytes already claimed) as one package of draft
 * version_id of an artifact of org_id, as every upload does (format sniffing, version size
 * and metadata, the GC check); replies 201 Package. */
int api_attach_files(api_reply *r, api_call *c, const char *org_id, const char *version_id,
                     const api_newfile *files, size_t n);
int api_upload_confirm(api_reply *r, api_call *c);
int api_session_create(api_reply *r, api_call *c);
int api_session_get(api_reply *r, api_call *c);
int api_session_commit(api_reply *r, api_call *c);
int api_file_get(api_reply *r, api_call *c);
/* Finds file `path` of version v (ERR_NOT_FOUND for a bad or unknown path). */
int api_file_find(store_resource *out, api_call *c, store_tx *tx, const store_version *v,
                  const char *path, err *e);
/* Replies with the bytes of res (a file of version v of m), as the file GET does: the
 * enabled rule for non-owners, Content-Disposition, the blob with its ETag, and the download
 * counted once the whole body was sent. */
int api_file_reply(api_reply *r, api_call *c, const store_artifact *m, const store_version *v,
                   const store_resource *res);
/* Counts n downloads of version_id once the reply has been sent (download URLs handed out, an
 * OCI pull of the version's manifest). */
void api_count_downloads(api_reply *r, api_call *c, const char *version_id, int64_t n);
int api_blob_get(api_reply *r, api_call *c);
int api_download_url(api_reply *r, api_call *c);
int api_download_urls(api_reply *r, api_call *c);
int api_trust_card(api_reply *r, api_call *c);
int api_admin_gc(api_reply *r, api_call *c);

/* The web UI (web.c): GET / and GET /ui/{path*}. */
int api_web(api_reply *r, api_call *c);
/* The Content-Type of a web file, by its extension. */
const char *web_content_type(const char *path);
/* Device intelligence (devices.c). */
int api_device_profiles(api_reply *r, api_call *c);
int api_compatibility(api_reply *r, api_call *c);
int api_optimization_plan(api_reply *r, api_call *c);
int api_optconfig_put(api_reply *r, api_call *c);
int api_optconfig_get(api_reply *r, api_call *c);
/* Conversion jobs (jobs.c). */
int api_convert(api_reply *r, api_call *c);
int api_job_get(api_reply *r, api_call *c);
int api_job_list(api_reply *r, api_call *c);
json_t *api_job_json(const store_job *j);
/* Fleet and inference telemetry (telemetry.c). */
int api_heartbeat(api_reply *r, api_call *c);
int api_inference_ingest(api_reply *r, api_call *c);
extern const api_door api_door_raw_json;
int api_telemetry(api_reply *r, api_call *c);
int api_training_post(api_reply *r, api_call *c);
int api_training_stats_model(api_reply *r, api_call *c);
int api_training_stats_version(api_reply *r, api_call *c);
/* Fills out[i] for each of a version's np packages: format, size, and precision from the
 * format's suffix or the header of its primary file (recorded in the version's metadata). */
void api_device_pkgs(device_pkg *out, const store_version *v, const store_package *ps,
                     size_t np, const store_resource *rs, size_t nr);

#endif
