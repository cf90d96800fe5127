/*
 * routes.c: the route table. More specific patterns come first; first match wins.
 */
#include "http/router.h"

#include "api/handlers.h"

#define ART "/api/v1/org/{org}/{kind}/{name}"
#define VER ART "/versions/{version}"

const route router_routes[] = {
    {"GET", "/healthz", api_healthz, true, "healthz"},
    {"GET", "/readyz", api_readyz, true, "readyz"},
    {"GET", "/api/v1/openapi.json", api_openapi, true, "openapi"},
    {"GET", "/api/v1/whoami", api_whoami, false, "whoami"},
    {"POST", "/api/v1/orgs", api_org_create, false, "orgs.create"},
    {"GET", "/api/v1/orgs", api_org_list, false, "orgs.list"},
    {"GET", "/api/v1/org/{org}", api_org_get, false, "orgs.get"},
    {"POST", "/api/v1/org/{org}/tokens", api_token_create, false, "tokens.create"},
    {"GET", "/api/v1/org/{org}/tokens", api_token_list, false, "tokens.list"},
    {"DELETE", "/api/v1/org/{org}/tokens/{id}", api_token_delete, false, "tokens.delete"},
    {"GET", "/api/v1/org/{org}/versions/{version_id}", api_version_get_by_id, false,
     "versions.get_by_id"},
    {"GET", "/api/v1/catalog/{kind}", api_catalog_list, true, "catalog.list"},
    {"GET", "/api/v1/catalog/{kind}/facets", api_catalog_facets, true, "catalog.facets"},
    {"GET", "/api/v1/org/{org}/{kind}/facets", api_artifact_facets, false, "artifacts.facets"},
    {"POST", "/api/v1/org/{org}/{kind}/bulk", api_artifact_bulk, false, "artifacts.bulk"},
    {"GET", "/api/v1/org/{org}/{kind}/export.csv", api_artifact_export, false,
     "artifacts.export"},
    {"POST", "/api/v1/org/{org}/{kind}", api_artifact_create, false, "artifacts.create"},
    {"GET", "/api/v1/org/{org}/{kind}", api_artifact_list, false, "artifacts.list"},
    {"GET", ART, api_artifact_get, false, "artifacts.get"},
    {"PATCH", ART, api_artifact_patch, false, "artifacts.patch"},
    {"DELETE", ART, api_artifact_delete, false, "artifacts.delete"},
    {"POST", ART "/restore", api_artifact_restore, false, "artifacts.restore"},
    {"POST", ART "/duplicate", api_artifact_duplicate, false, "artifacts.duplicate"},
    {"GET", ART "/docs", api_artifact_docs, false, "artifacts.docs"},
    {"GET", ART "/packages", api_package_list, false, "packages.list"},
    {"PUT", ART "/aliases/{alias}", api_alias_put, false, "aliases.put"},
    {"DELETE", ART "/aliases/{alias}", api_alias_delete, false, "aliases.delete"},
    {"GET", ART "/versions", api_version_list, false, "versions.list"},
    {"POST", ART "/versions", api_version_create, false, "versions.create"},
    {"GET", VER, api_version_get, false, "versions.get"},
    {"PATCH", VER, api_version_patch, false, "versions.patch"},
    {"DELETE", VER, api_version_delete, false, "versions.delete"},
    {"POST", VER "/publish", api_version_publish, false, "versions.publish"},
    {"POST", VER "/deprecate", api_version_deprecate, false, "versions.deprecate"},
};

const int router_route_count = (int)(sizeof(router_routes) / sizeof(router_routes[0]));
