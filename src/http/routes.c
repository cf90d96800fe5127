/*
 * routes.c: the route table. More specific patterns come first; first match wins.
 */
#include "http/router.h"

#include "api/handlers.h"
#include "api/manifest.h"
#include "http/metrics.h"

#define ART "/api/v1/org/{org}/{kind}/{name}"
#define VER ART "/versions/{version}"

#define R(m, p, h, pub, n) {m, p, h, pub, n, NULL}
#define U(m, p, up, pub, n) {m, p, NULL, pub, n, &up}

const route router_routes[] = {
    R("GET", "/healthz", api_healthz, true, "healthz"),
    R("GET", "/readyz", api_readyz, true, "readyz"),
    R("GET", "/metrics", metrics_handler, true, "metrics"),
    R("GET", "/api/v1/openapi.json", api_openapi, true, "openapi"),
    R("POST", "/api/v1/admin/gc", api_admin_gc, false, "admin.gc"),
    R("GET", "/api/v1/whoami", api_whoami, false, "whoami"),
    R("POST", "/api/v1/orgs", api_org_create, false, "orgs.create"),
    R("GET", "/api/v1/orgs", api_org_list, false, "orgs.list"),
    R("GET", "/api/v1/org/{org}", api_org_get, false, "orgs.get"),
    R("POST", "/api/v1/org/{org}/tokens", api_token_create, false, "tokens.create"),
    R("GET", "/api/v1/org/{org}/tokens", api_token_list, false, "tokens.list"),
    R("DELETE", "/api/v1/org/{org}/tokens/{id}", api_token_delete, false, "tokens.delete"),
    R("GET", "/api/v1/org/{org}/versions/{version_id}", api_version_get_by_id, false,
     "versions.get_by_id"),
    R("GET", "/api/v1/org/{org}/uploads/{session}", api_session_get, false, "uploads.session_get"),
    U("PATCH", "/api/v1/org/{org}/uploads/{session}", api_upload_session_patch, false,
      "uploads.session_patch"),
    R("PUT", "/api/v1/org/{org}/uploads/{session}", api_session_commit, false,
      "uploads.session_commit"),
    R("GET", "/api/v1/blobs/{key*}", api_blob_get, true, "blobs.get"),
    U("PUT", "/api/v1/blobs/{key*}", api_upload_presigned, true, "blobs.put"),
    R("GET", "/api/v1/manifest", api_manifest, true, "manifest"),
    R("GET", "/api/v1/resolve/{org}/{name}", api_resolve, true, "resolve"),
    R("GET", "/api/v1/catalog/{kind}", api_catalog_list, true, "catalog.list"),
    R("GET", "/api/v1/catalog/{kind}/facets", api_catalog_facets, true, "catalog.facets"),
    R("GET", "/api/v1/org/{org}/{kind}/facets", api_artifact_facets, false, "artifacts.facets"),
    R("POST", "/api/v1/org/{org}/{kind}/bulk", api_artifact_bulk, false, "artifacts.bulk"),
    R("GET", "/api/v1/org/{org}/{kind}/export.csv", api_artifact_export, false,
     "artifacts.export"),
    R("POST", "/api/v1/org/{org}/{kind}", api_artifact_create, false, "artifacts.create"),
    R("GET", "/api/v1/org/{org}/{kind}", api_artifact_list, false, "artifacts.list"),
    R("GET", ART, api_artifact_get, false, "artifacts.get"),
    R("PATCH", ART, api_artifact_patch, false, "artifacts.patch"),
    R("DELETE", ART, api_artifact_delete, false, "artifacts.delete"),
    R("POST", ART "/restore", api_artifact_restore, false, "artifacts.restore"),
    R("POST", ART "/duplicate", api_artifact_duplicate, false, "artifacts.duplicate"),
    R("GET", ART "/docs", api_artifact_docs, false, "artifacts.docs"),
    R("GET", ART "/download-url", api_download_url, false, "files.download_url"),
    R("GET", ART "/packages", api_package_list, false, "packages.list"),
    R("PUT", ART "/aliases/{alias}", api_alias_put, false, "aliases.put"),
    R("DELETE", ART "/aliases/{alias}", api_alias_delete, false, "aliases.delete"),
    R("GET", ART "/versions", api_version_list, false, "versions.list"),
    R("POST", ART "/versions", api_version_create, false, "versions.create"),
    R("GET", VER, api_version_get, false, "versions.get"),
    R("PATCH", VER, api_version_patch, false, "versions.patch"),
    R("DELETE", VER, api_version_delete, false, "versions.delete"),
    U("PUT", VER "/files/{path*}", api_upload_file, false, "files.put"),
    R("GET", VER "/files/{path*}", api_file_get, false, "files.get"),
    U("POST", VER "/bundle", api_upload_bundle, false, "files.bundle"),
    R("POST", VER "/uploads", api_upload_ticket, false, "uploads.ticket"),
    R("POST", VER "/uploads/confirm", api_upload_confirm, false, "uploads.confirm"),
    R("POST", VER "/uploads/sessions", api_session_create, false, "uploads.session_create"),
    R("GET", VER "/download-urls", api_download_urls, false, "files.download_urls"),
    R("GET", VER "/trust-card", api_trust_card, false, "capabilities.trust_card"),
    R("POST", VER "/publish", api_version_publish, false, "versions.publish"),
    R("POST", VER "/deprecate", api_version_deprecate, false, "versions.deprecate"),
};

const int router_route_count = (int)(sizeof(router_routes) / sizeof(router_routes[0]));
