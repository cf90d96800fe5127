/*
 * handlers.h: every route handler, one file per resource.
 */
#ifndef CAIRN_HANDLERS_H
#define CAIRN_HANDLERS_H

#include "api/api.h"
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
int api_upload_confirm(api_reply *r, api_call *c);
int api_session_create(api_reply *r, api_call *c);
int api_session_get(api_reply *r, api_call *c);
int api_session_commit(api_reply *r, api_call *c);
int api_file_get(api_reply *r, api_call *c);
int api_blob_get(api_reply *r, api_call *c);
int api_download_url(api_reply *r, api_call *c);
int api_download_urls(api_reply *r, api_call *c);
int api_trust_card(api_reply *r, api_call *c);
int api_admin_gc(api_reply *r, api_call *c);

#endif
