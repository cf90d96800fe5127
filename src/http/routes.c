/*
 * routes.c: the route table. More specific patterns come first; first match wins.
 */
#include "http/router.h"

#include "api/handlers.h"
#include "api/manifest.h"
#include "api/v5/v5.h"
#include "http/metrics.h"

#define ART "/api/v1/org/{org}/{kind}/{name}"
#define VER ART "/versions/{version}"

/* R: a handler; U: a streamed-body handler. `acc` is who may call it (route_access without
 * its ACCESS_ prefix) and `sc` how {org} is scoped (route_scope without SCOPE_). */
#define R(m, p, h, acc, sc, n) {m, p, h, ACCESS_##acc, SCOPE_##sc, n, NULL, NULL}
#define U(m, p, up, acc, sc, n) {m, p, NULL, ACCESS_##acc, SCOPE_##sc, n, &up, NULL}
/* V: a seed-002 route (API.md §10): no {org}, it acts in the caller's org. */
#define V5 "/api/v5/artifacts/models/"
#define V(m, op, h, acc, n) {m, V5 op, h, ACCESS_##acc, SCOPE_NONE, n, NULL, &v5_door}

const route router_routes[] = {
    R("GET", "/healthz", api_healthz, PUBLIC, NONE, "healthz"),
    R("GET", "/readyz", api_readyz, PUBLIC, NONE, "readyz"),
    R("GET", "/metrics", metrics_handler, PUBLIC, NONE, "metrics"),
    R("GET", "/api/v1/openapi.json", api_openapi, PUBLIC, NONE, "openapi"),
    R("POST", "/api/v1/admin/gc", api_admin_gc, SERVER_ADMIN, NONE, "admin.gc"),
    R("POST", "/api/v1/admin/refresh", api_admin_refresh, SERVER_ADMIN, NONE, "admin.refresh"),
    V("POST", "get", v5_get, READER, "v5.get"),
    V("POST", "search", v5_search, READER, "v5.search"),
    V("POST", "create", v5_create, WRITER, "v5.create"),
    V("POST", "update", v5_update, WRITER, "v5.update"),
    V("POST", "duplicate", v5_duplicate, WRITER, "v5.duplicate"),
    V("POST", "delete", v5_delete, ADMIN, "v5.delete"),
    V("PATCH", "draft", v5_draft_patch, WRITER, "v5.draft"),
    V("POST", "drafts", v5_drafts, READER, "v5.drafts"),
    V("POST", "docs", v5_docs, READER, "v5.docs"),
    V("POST", "export", v5_export, READER, "v5.export"),
    V("GET", "uploads/{upload_id}", v5_upload_get, READER, "v5.upload_get"),
    V("POST", "refresh", v5_refresh, ADMIN, "v5.refresh"),
    R("GET", "/api/v1/whoami", api_whoami, TOKEN, NONE, "whoami"),
    R("POST", "/api/v1/orgs", api_org_create, SERVER_ADMIN, NONE, "orgs.create"),
    R("GET", "/api/v1/orgs", api_org_list, SERVER_ADMIN, NONE, "orgs.list"),
    R("GET", "/api/v1/org/{org}", api_org_get, READER, ORG, "orgs.get"),
    R("POST", "/api/v1/org/{org}/tokens", api_token_create, ADMIN, ORG, "tokens.create"),
    R("GET", "/api/v1/org/{org}/tokens", api_token_list, ADMIN, ORG, "tokens.list"),
    R("DELETE", "/api/v1/org/{org}/tokens/{id}", api_token_delete, ADMIN, ORG, "tokens.delete"),
    R("GET", "/api/v1/org/{org}/versions/{version_id}", api_version_get_by_id, READER, ORG, "versions.get_by_id"),
    R("GET", "/api/v1/org/{org}/uploads/{session}", api_session_get, WRITER, ORG, "uploads.session_get"),
    U("PATCH", "/api/v1/org/{org}/uploads/{session}", api_upload_session_patch, WRITER, ORG, "uploads.session_patch"),
    R("PUT", "/api/v1/org/{org}/uploads/{session}", api_session_commit, WRITER, ORG, "uploads.session_commit"),
    R("GET", "/api/v1/blobs/{key*}", api_blob_get, SIGNED, NONE, "blobs.get"),
    U("PUT", "/api/v1/blobs/{key*}", api_upload_presigned, SIGNED, NONE, "blobs.put"),
    R("GET", "/api/v1/manifest", api_manifest, PUBLIC, NONE, "manifest"),
    R("GET", "/api/v1/resolve/{org}/{name}", api_resolve, PUBLIC, NONE, "resolve"),
    R("GET", "/api/v1/catalog/{kind}", api_catalog_list, PUBLIC, NONE, "catalog.list"),
    R("GET", "/api/v1/catalog/{kind}/facets", api_catalog_facets, PUBLIC, NONE, "catalog.facets"),
    R("GET", "/api/v1/org/{org}/{kind}/facets", api_artifact_facets, READER, ORG, "artifacts.facets"),
    R("POST", "/api/v1/org/{org}/{kind}/bulk", api_artifact_bulk, WRITER, ORG, "artifacts.bulk"),
    R("GET", "/api/v1/org/{org}/{kind}/export.csv", api_artifact_export, READER, ORG, "artifacts.export"),
    R("POST", "/api/v1/org/{org}/{kind}", api_artifact_create, WRITER, ORG, "artifacts.create"),
    R("GET", "/api/v1/org/{org}/{kind}", api_artifact_list, READER, ORG, "artifacts.list"),
    R("GET", ART, api_artifact_get, READER, ARTIFACT, "artifacts.get"),
    R("PATCH", ART, api_artifact_patch, WRITER, ARTIFACT, "artifacts.patch"),
    R("DELETE", ART, api_artifact_delete, ADMIN, ARTIFACT, "artifacts.delete"),
    R("POST", ART "/restore", api_artifact_restore, ADMIN, ORG, "artifacts.restore"),
    R("POST", ART "/duplicate", api_artifact_duplicate, WRITER, ARTIFACT, "artifacts.duplicate"),
    R("GET", ART "/docs", api_artifact_docs, READER, ARTIFACT, "artifacts.docs"),
    R("GET", ART "/download-url", api_download_url, READER, ARTIFACT, "files.download_url"),
    R("GET", ART "/packages", api_package_list, READER, ARTIFACT, "packages.list"),
    R("PUT", ART "/aliases/{alias}", api_alias_put, WRITER, ARTIFACT, "aliases.put"),
    R("DELETE", ART "/aliases/{alias}", api_alias_delete, WRITER, ARTIFACT, "aliases.delete"),
    R("GET", ART "/versions", api_version_list, READER, ARTIFACT, "versions.list"),
    R("POST", ART "/versions", api_version_create, WRITER, ARTIFACT, "versions.create"),
    R("GET", VER, api_version_get, READER, ARTIFACT, "versions.get"),
    R("PATCH", VER, api_version_patch, WRITER, ARTIFACT, "versions.patch"),
    R("DELETE", VER, api_version_delete, ADMIN, ARTIFACT, "versions.delete"),
    U("PUT", VER "/files/{path*}", api_upload_file, WRITER, ARTIFACT, "files.put"),
    R("GET", VER "/files/{path*}", api_file_get, READER, ARTIFACT, "files.get"),
    U("POST", VER "/bundle", api_upload_bundle, WRITER, ARTIFACT, "files.bundle"),
    R("POST", VER "/uploads", api_upload_ticket, WRITER, ARTIFACT, "uploads.ticket"),
    R("POST", VER "/uploads/confirm", api_upload_confirm, WRITER, ARTIFACT, "uploads.confirm"),
    R("POST", VER "/uploads/sessions", api_session_create, WRITER, ARTIFACT, "uploads.session_create"),
    R("GET", VER "/download-urls", api_download_urls, READER, ARTIFACT, "files.download_urls"),
    R("GET", VER "/trust-card", api_trust_card, READER, ARTIFACT, "capabilities.trust_card"),
    R("POST", VER "/publish", api_version_publish, WRITER, ARTIFACT, "versions.publish"),
    R("POST", VER "/deprecate", api_version_deprecate, WRITER, ARTIFACT, "versions.deprecate"),
};

const int router_route_count = (int)(sizeof(router_routes) / sizeof(router_routes[0]));
