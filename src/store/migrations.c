/*
 * migrations.c: numbered schema migrations, applied in order at start-up. SQL here is portable
 * between SQLite and PostgreSQL: BIGINT, TEXT, integer booleans, ms timestamps, partial indexes.
 */
#include "store/store_int.h"

const store_migration store_migrations[] = {
    /* 1: catalog core */
    {    "CREATE TABLE orgs ("
    " id TEXT PRIMARY KEY, slug TEXT NOT NULL UNIQUE, display_name TEXT NOT NULL,"
    " created_at BIGINT NOT NULL, quota_versions_monthly BIGINT NOT NULL DEFAULT -1);"
    "CREATE TABLE tokens ("
    " id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES orgs(id), name TEXT NOT NULL,"
    " role TEXT NOT NULL, server_admin BIGINT NOT NULL DEFAULT 0, hash TEXT NOT NULL UNIQUE,"
    " created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL DEFAULT 0,"
    " last_used_at BIGINT NOT NULL DEFAULT 0, revoked_at BIGINT NOT NULL DEFAULT 0);"
    "CREATE INDEX tokens_org ON tokens(org_id, id);"
    "CREATE TABLE artifacts ("
    " id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES orgs(id), kind TEXT NOT NULL,"
    " name TEXT NOT NULL, pretty_name TEXT, summary TEXT, description TEXT, license TEXT,"
    " task TEXT, architecture TEXT, base_model TEXT, framework TEXT NOT NULL,"
    " framework_set BIGINT NOT NULL DEFAULT 0, size_category TEXT,"
    " tags TEXT NOT NULL DEFAULT '[]', language TEXT NOT NULL DEFAULT '[]',"
    " task_categories TEXT NOT NULL DEFAULT '[]', keywords TEXT NOT NULL DEFAULT '[]',"
    " components TEXT NOT NULL DEFAULT '[]', origin TEXT NOT NULL DEFAULT '{}',"
    " attributes TEXT NOT NULL DEFAULT '{}', aliases TEXT NOT NULL DEFAULT '[]',"
    " latest_version TEXT, latest_version_id TEXT,"
    " is_public BIGINT NOT NULL DEFAULT 0, enabled BIGINT NOT NULL DEFAULT 1,"
    " revision BIGINT NOT NULL DEFAULT 1, download_count BIGINT NOT NULL DEFAULT 0,"
    " version_count BIGINT NOT NULL DEFAULT 0, created_at BIGINT NOT NULL,"
    " updated_at BIGINT NOT NULL, deleted_at BIGINT NOT NULL DEFAULT 0,"
    " UNIQUE (org_id, kind, name));"
    "CREATE INDEX artifacts_list ON artifacts(org_id, kind, deleted_at, updated_at, id);"
    "CREATE INDEX artifacts_public ON artifacts(kind, is_public, deleted_at, updated_at, id);"
    "CREATE TABLE artifact_facets ("
    " artifact_id TEXT NOT NULL REFERENCES artifacts(id), facet TEXT NOT NULL,"
    " value TEXT NOT NULL, PRIMARY KEY (artifact_id, facet, value));"
    "CREATE INDEX artifact_facets_value ON artifact_facets(facet, value, artifact_id);"
    "CREATE TABLE versions ("
    " id TEXT PRIMARY KEY, artifact_id TEXT NOT NULL REFERENCES artifacts(id),"
    " version TEXT NOT NULL, sort_key TEXT NOT NULL, lifecycle TEXT NOT NULL,"
    " summary TEXT, changelog TEXT, framework TEXT, architecture TEXT, base_model TEXT,"
    " metadata TEXT NOT NULL DEFAULT '{}', parameter_count BIGINT NOT NULL DEFAULT -1,"
    " size_bytes BIGINT NOT NULL DEFAULT 0, download_count BIGINT NOT NULL DEFAULT 0,"
    " created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,"
    " published_at BIGINT NOT NULL DEFAULT 0, deprecated_at BIGINT NOT NULL DEFAULT 0,"
    " deleted_at BIGINT NOT NULL DEFAULT 0);"
    "CREATE UNIQUE INDEX versions_live ON versions(artifact_id, sort_key) WHERE deleted_at = 0;"
    "CREATE INDEX versions_order ON versions(artifact_id, deleted_at, sort_key);"
    "CREATE TABLE aliases ("
    " artifact_id TEXT NOT NULL REFERENCES artifacts(id), alias TEXT NOT NULL,"
    " version_id TEXT NOT NULL REFERENCES versions(id), updated_at BIGINT NOT NULL,"
    " PRIMARY KEY (artifact_id, alias));"
    "CREATE TABLE packages ("
    " id TEXT PRIMARY KEY, version_id TEXT NOT NULL REFERENCES versions(id),"
    " format TEXT NOT NULL, kind TEXT NOT NULL, size_bytes BIGINT NOT NULL DEFAULT 0,"
    " created_at BIGINT NOT NULL, deleted_at BIGINT NOT NULL DEFAULT 0);"
    "CREATE INDEX packages_version ON packages(version_id);"
    "CREATE TABLE resources ("
    " id TEXT PRIMARY KEY, package_id TEXT NOT NULL REFERENCES packages(id),"
    " version_id TEXT NOT NULL REFERENCES versions(id), path TEXT NOT NULL,"
    " kind TEXT NOT NULL, is_primary BIGINT NOT NULL DEFAULT 0, size_bytes BIGINT NOT NULL,"
    " sha256 TEXT NOT NULL, verified BIGINT NOT NULL DEFAULT 0, media_type TEXT,"
    " storage_key TEXT NOT NULL, created_at BIGINT NOT NULL,"
    " deleted_at BIGINT NOT NULL DEFAULT 0);"
    "CREATE INDEX resources_version ON resources(version_id, path);"
    "CREATE INDEX resources_package ON resources(package_id);",
     NULL, NULL},
    /* 2: full-text search over name, pretty_name, summary, tags, description */
    {NULL,
     "CREATE VIRTUAL TABLE artifacts_fts USING fts5(name, pretty_name, summary, tags,"
     " description, prefix='2 3');",
     "ALTER TABLE artifacts ADD COLUMN fts tsvector;"
     "CREATE INDEX artifacts_fts ON artifacts USING GIN (fts);"},
    /* 3: file paths unique per live version; blobs known to the database */
    {"CREATE UNIQUE INDEX resources_path ON resources(version_id, path) WHERE deleted_at = 0;"
     "CREATE INDEX resources_key ON resources(storage_key);"
     "CREATE TABLE blobs (storage_key TEXT PRIMARY KEY, sha256 TEXT NOT NULL,"
     " size_bytes BIGINT NOT NULL, created_at BIGINT NOT NULL);"
     "CREATE TABLE upload_sessions (id TEXT PRIMARY KEY, version_id TEXT NOT NULL"
     " REFERENCES versions(id), path TEXT NOT NULL, kind TEXT NOT NULL, size_bytes BIGINT,"
     " created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL);",
     NULL, NULL},
    /* 4: a revision of everything catalogs show, for cache invalidation across instances */
    {"CREATE TABLE catalog_revision (id BIGINT PRIMARY KEY, rev BIGINT NOT NULL);"
     "INSERT INTO catalog_revision (id, rev) VALUES (1, 1);",
     NULL, NULL},
    /* 5: facet rows carry their artifact's scope, so facet counts are index-only scans */
    {"ALTER TABLE artifact_facets ADD COLUMN org_id TEXT NOT NULL DEFAULT '';"
     "ALTER TABLE artifact_facets ADD COLUMN kind TEXT NOT NULL DEFAULT '';"
     "ALTER TABLE artifact_facets ADD COLUMN live BIGINT NOT NULL DEFAULT 1;"
     "ALTER TABLE artifact_facets ADD COLUMN public BIGINT NOT NULL DEFAULT 0;"
     "UPDATE artifact_facets SET org_id = (SELECT org_id FROM artifacts a WHERE a.id ="
     " artifact_facets.artifact_id), kind = (SELECT kind FROM artifacts a WHERE a.id ="
     " artifact_facets.artifact_id), live = (SELECT CASE WHEN deleted_at = 0 THEN 1 ELSE 0 END"
     " FROM artifacts a WHERE a.id = artifact_facets.artifact_id), public = (SELECT"
     " is_public * enabled FROM artifacts a WHERE a.id = artifact_facets.artifact_id);"
     "CREATE INDEX artifact_facets_org ON artifact_facets(org_id, kind, facet, live, value,"
     " artifact_id);"
     "CREATE INDEX artifact_facets_pub ON artifact_facets(kind, facet, public, live, value,"
     " artifact_id);",
     NULL, NULL},
    /* 6: settings every instance shares (the presigning secret) */
    {"CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);", NULL, NULL},
    /* 7: the catalog revision of each artifact's last change: the change feed the in-memory
     * facet index and the manifest read to catch up (src/index/) */
    {"ALTER TABLE artifacts ADD COLUMN change_rev BIGINT NOT NULL DEFAULT 0;"
     "CREATE INDEX artifacts_change ON artifacts(change_rev);",
     NULL, NULL},
    /* 8: seed-002 (API.md §10): relation id sets on artifacts (a JSON object of sorted id
     * lists, mirrored as facet rows), per-token model drafts, stored CSV exports */
    {"ALTER TABLE artifacts ADD COLUMN relations TEXT NOT NULL DEFAULT '{}';"
     "CREATE TABLE model_drafts (id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES orgs(id),"
     " token_id TEXT NOT NULL, version BIGINT NOT NULL, state TEXT NOT NULL,"
     " created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL);"
     "CREATE INDEX model_drafts_token ON model_drafts(token_id, updated_at);"
     "CREATE TABLE exports (id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES orgs(id),"
     " file_name TEXT NOT NULL, storage_key TEXT NOT NULL, sha256 TEXT NOT NULL,"
     " size_bytes BIGINT NOT NULL, row_count BIGINT NOT NULL, created_at BIGINT NOT NULL);"
     "CREATE INDEX exports_key ON exports(storage_key);",
     NULL, NULL},
    /* 9: optimized configurations per version and device type, stored as blobs */
    {"CREATE TABLE optimized_configs (version_id TEXT NOT NULL, device_type TEXT NOT NULL,"
     " storage_key TEXT NOT NULL, sha256 TEXT NOT NULL, size_bytes BIGINT NOT NULL,"
     " created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,"
     " PRIMARY KEY (version_id, device_type));"
     "CREATE INDEX optimized_configs_key ON optimized_configs(storage_key);",
     NULL, NULL},
    /* 10: conversion jobs (a lease lets any instance take over a dead worker's job) */
    {"CREATE TABLE jobs (id TEXT PRIMARY KEY, org_id TEXT NOT NULL, artifact_id TEXT NOT NULL,"
     " version_id TEXT NOT NULL, model TEXT NOT NULL, version TEXT NOT NULL,"
     " source_path TEXT NOT NULL, source_format TEXT NOT NULL,"
     " target TEXT NOT NULL, status TEXT NOT NULL, error TEXT, stderr_tail TEXT,"
     " package_id TEXT, output_path TEXT, owner TEXT, lease_until BIGINT NOT NULL DEFAULT 0,"
     " attempts BIGINT NOT NULL DEFAULT 0, created_at BIGINT NOT NULL,"
     " updated_at BIGINT NOT NULL, started_at BIGINT NOT NULL DEFAULT 0,"
     " finished_at BIGINT NOT NULL DEFAULT 0);"
     "CREATE INDEX jobs_queue ON jobs(status, created_at);"
     "CREATE INDEX jobs_org ON jobs(org_id, id);",
     NULL, NULL},
    /* 11: OCI Distribution (src/api/oci/): blobs, manifests and tags a repository (an artifact)
     * holds, and its blob upload sessions; manifests' bytes are blobs like any other */
    {"CREATE TABLE oci_blobs (artifact_id TEXT NOT NULL REFERENCES artifacts(id),"
     " digest TEXT NOT NULL, storage_key TEXT NOT NULL, size_bytes BIGINT NOT NULL,"
     " created_at BIGINT NOT NULL, PRIMARY KEY (artifact_id, digest));"
     "CREATE INDEX oci_blobs_key ON oci_blobs(storage_key);"
     "CREATE TABLE oci_manifests (artifact_id TEXT NOT NULL REFERENCES artifacts(id),"
     " digest TEXT NOT NULL, media_type TEXT NOT NULL, storage_key TEXT NOT NULL,"
     " size_bytes BIGINT NOT NULL, subject TEXT, artifact_type TEXT,"
     " created_at BIGINT NOT NULL, generated BIGINT NOT NULL DEFAULT 0,"
     " PRIMARY KEY (artifact_id, digest));"
     "CREATE INDEX oci_manifests_key ON oci_manifests(storage_key);"
     "CREATE INDEX oci_manifests_subject ON oci_manifests(artifact_id, subject);"
     "CREATE TABLE oci_tags (artifact_id TEXT NOT NULL REFERENCES artifacts(id),"
     " tag TEXT NOT NULL, digest TEXT NOT NULL, updated_at BIGINT NOT NULL,"
     " PRIMARY KEY (artifact_id, tag));"
     "CREATE TABLE oci_uploads (id TEXT PRIMARY KEY, artifact_id TEXT NOT NULL"
     " REFERENCES artifacts(id), created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL,"
     " storage_key TEXT, size_bytes BIGINT NOT NULL DEFAULT 0);"
     "CREATE INDEX oci_uploads_key ON oci_uploads(storage_key);"
     "CREATE TABLE oci_tar_layers (artifact_id TEXT NOT NULL REFERENCES artifacts(id),"
     " digest TEXT NOT NULL, storage_key TEXT NOT NULL, path TEXT NOT NULL,"
     " version_id TEXT NOT NULL, size_bytes BIGINT NOT NULL, PRIMARY KEY (artifact_id, digest));"
     "CREATE INDEX oci_tar_layers_file ON oci_tar_layers(artifact_id, storage_key, path);",
     NULL, NULL},
    /* 12: PostgreSQL: a small integer key per artifact (SQLite's rowid plays that part), so
     * the in-memory facet index can filter full-text hits and the search cache hold them
     * (src/index/); existing rows are numbered as the column is added */
    {NULL, NULL,
     "ALTER TABLE artifacts ADD COLUMN seq BIGSERIAL;"
     "CREATE UNIQUE INDEX artifacts_seq ON artifacts(seq);"},
    /* 13: PostgreSQL: the change-feed mark of a transaction's session (store_int.h,
     * STORE_TX_MARK); SQLite's driver defines the function on each connection */
    {NULL, NULL,
     "CREATE FUNCTION cairn_tx_mark() RETURNS BIGINT LANGUAGE sql STABLE PARALLEL SAFE"
     " AS 'SELECT -CAST(pg_backend_pid() AS BIGINT)';"},
};

const int store_migration_count = (int)(sizeof(store_migrations) / sizeof(store_migrations[0]));

/* The telemetry store (store_open_telemetry): fleet heartbeats, inference telemetry and
 * training updates. On SQLite a database file of its own, so telemetry writes never take the
 * catalog's write lock; on PostgreSQL the same database, tracked in telemetry_migrations. */
const store_migration store_telemetry_migrations[] = {
    /* 1: devices, idempotency keys, partial and compacted rollups, training updates */
    {"CREATE TABLE fleet_devices (org_id TEXT NOT NULL, device_id TEXT NOT NULL,"
     " profile TEXT, app_version TEXT, status TEXT, first_seen BIGINT NOT NULL,"
     " last_seen BIGINT NOT NULL, PRIMARY KEY (org_id, device_id));"
     "CREATE INDEX fleet_devices_seen ON fleet_devices(org_id, last_seen);"
     "CREATE TABLE telemetry_event_ids (org_id TEXT NOT NULL, event_id TEXT NOT NULL,"
     " created_at BIGINT NOT NULL, PRIMARY KEY (org_id, event_id));"
     "CREATE INDEX telemetry_event_ids_age ON telemetry_event_ids(created_at);"
     "CREATE TABLE telemetry_partials (id TEXT PRIMARY KEY, org_id TEXT NOT NULL,"
     " artifact_id TEXT NOT NULL, version TEXT NOT NULL, minute BIGINT NOT NULL,"
     " count BIGINT NOT NULL, errors BIGINT NOT NULL, sum_us BIGINT NOT NULL,"
     " min_us BIGINT NOT NULL, max_us BIGINT NOT NULL, hist TEXT NOT NULL);"
     "CREATE INDEX telemetry_partials_window ON telemetry_partials(org_id, artifact_id, minute);"
     "CREATE TABLE telemetry_rollups (org_id TEXT NOT NULL, artifact_id TEXT NOT NULL,"
     " level BIGINT NOT NULL, start BIGINT NOT NULL, version TEXT NOT NULL,"
     " count BIGINT NOT NULL, errors BIGINT NOT NULL, sum_us BIGINT NOT NULL,"
     " min_us BIGINT NOT NULL, max_us BIGINT NOT NULL, hist TEXT NOT NULL,"
     " PRIMARY KEY (org_id, artifact_id, level, start, version));"
     "CREATE TABLE training_updates (id TEXT PRIMARY KEY, org_id TEXT NOT NULL,"
     " artifact_id TEXT NOT NULL, version TEXT NOT NULL, device_id TEXT NOT NULL,"
     " sample_count BIGINT NOT NULL, metrics TEXT NOT NULL, created_at BIGINT NOT NULL);"
     "CREATE INDEX training_updates_version ON training_updates(org_id, artifact_id, version,"
     " created_at);",
     NULL, NULL},
};

const int store_telemetry_migration_count =
    (int)(sizeof(store_telemetry_migrations) / sizeof(store_telemetry_migrations[0]));
