/*
 * app.h: the read-only application context main() builds and passes down to every layer
 * above store/. Mutable state lives in the handles, never here.
 */
#ifndef CAIRN_APP_H
#define CAIRN_APP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "blob/blob.h"
#include "store/store.h"

typedef struct config {
    const char *listen;    /* host:port */
    const char *public_url; /* how clients reach this server, e.g. https://cairn.example (no
                             * trailing /), for absolute URLs (Link paging); NULL: from Host */
    const char *db_url;    /* sqlite://... */
    const char *blobs_url; /* file://... */
    const char *secret;    /* presigning key */
    const char *admin_token;
    const char *openapi_path;
    const char *web_dir;   /* serve the web UI from this directory (NULL: the embedded copy) */
    int64_t max_body;      /* bytes of a JSON body */
    int threads;
    int max_connections;
    int max_connections_per_ip; /* concurrent connections from one address (0: no cap) */
    int header_timeout_s;       /* seconds to send a request's headers (0: no deadline) */
    int timeout_s;
    int retention_days;
    int64_t tmp_age_s;            /* GC sweeps temporaries idle this long (live sessions never) */
    int64_t oci_upload_ttl_s;     /* an OCI blob upload session expires this long after its POST */
    double rate_limit;            /* requests/s per token (0: off) */
    const char *min_client_version; /* X-Client-Version below this gets 426 (NULL: off) */
    int64_t quota_versions_monthly; /* default for orgs without their own (-1: unlimited) */
    bool facet_index; /* count facets from the in-memory index (--facet-index on|off) */
    bool read_notify; /* --read-consistency notify: the revision pushed by LISTEN/NOTIFY */
    const char *device_profiles;    /* --device-profiles FILE.json, or NULL */
    const char *telemetry_db_url;   /* --telemetry-db; default: beside a SQLite --db, or it */
    const char *converters[32];     /* --converter SRC:DST=CMD (repeatable) */
    int nconverters;
    int converter_workers, converter_timeout_s;
    int64_t converter_max_output;
} config;

typedef struct manifest_cache manifest_cache;
typedef struct resp_cache resp_cache;
typedef struct facet_index facet_index;
typedef struct search_cache search_cache;
typedef struct device_catalog device_catalog;
typedef struct jobs jobs;

typedef struct app {
    const config *cfg;
    store *store;
    store *telemetry; /* fleet, inference telemetry, training updates (store_open_telemetry) */
    blob *blob;
    const char *secret; /* presigning key: --secret, or random per process */
    json_t *openapi; /* docs/openapi.yaml as JSON, or NULL */
    manifest_cache *manifest;
    resp_cache *cache; /* facets responses, by catalog revision */
    facet_index *index; /* facet counts from bitmaps (NULL: counted by SQL) */
    search_cache *search; /* PostgreSQL full-text hits by search, with index (NULL: none) */
    device_catalog *devices; /* built-in profiles plus --device-profiles */
    jobs *jobs;              /* conversion workers and converters */
    char admin_hash[65]; /* SHA-256 of CAIRN_ADMIN_TOKEN, "" if none */
} app;

#endif
