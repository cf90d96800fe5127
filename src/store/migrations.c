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
};

const int store_migration_count = (int)(sizeof(store_migrations) / sizeof(store_migrations[0]));
