/*
 * main.c: `cairnd serve` and `cairnd admin ...`: reads the configuration (flags, then CAIRN_*
 * variables, then defaults), opens the handles and runs the server until SIGTERM/SIGINT.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/admin.h"
#include "api/cache.h"
#include "api/manifest.h"
#include "app.h"
#include "core/devices.h"
#include "core/name.h"
#include "core/semver.h"
#include "core/yamljson.h"
#include "core/token.h"
#include "http/router.h"
#include "index/facet_index.h"
#include "index/search_cache.h"
#include "jobs/jobs.h"
#include "http/server.h"
#include "store/store.h"
#include "util/crypto.h"
#include "util/log.h"
#include "util/timeutil.h"

extern const unsigned char cairn_openapi_yaml[];
extern const unsigned int cairn_openapi_yaml_len;

typedef struct opt {
    const char *flag, *env, *dflt;
    const char **dst;
} opt;

static const char *o_listen, *o_db, *o_blobs, *o_secret, *o_max_body, *o_threads, *o_maxconn,
    *o_maxconn_ip, *o_header_timeout, *o_timeout, *o_retention, *o_tmp_age, *o_oci_ttl, *o_rate,
    *o_min_client, *o_quota, *o_facet_index, *o_web_dir, *o_public_url, *o_devprof,
    *o_conv_workers, *o_conv_timeout, *o_conv_max, *o_telemetry_db, *o_consistency;
static const char *o_converters[32];
static int n_converters;

static opt options[] = {
    {"--listen", "CAIRN_LISTEN", "127.0.0.1:8080", &o_listen},
    {"--db", "CAIRN_DB", "sqlite://./data/cairn.db", &o_db},
    {"--blobs", "CAIRN_BLOBS", "file://./data/blobs", &o_blobs},
    {"--secret", "CAIRN_SECRET", NULL, &o_secret},
    {"--max-body", "CAIRN_MAX_BODY", "1048576", &o_max_body},
    {"--threads", "CAIRN_THREADS", "4", &o_threads},
    {"--max-connections", "CAIRN_MAX_CONNECTIONS", "1024", &o_maxconn},
    {"--max-connections-per-ip", "CAIRN_MAX_CONNECTIONS_PER_IP", "128", &o_maxconn_ip},
    {"--header-timeout", "CAIRN_HEADER_TIMEOUT", "10", &o_header_timeout},
    {"--timeout", "CAIRN_TIMEOUT", "60", &o_timeout},
    {"--retention", "CAIRN_RETENTION", "7", &o_retention},
    {"--tmp-age", "CAIRN_TMP_AGE", "21600", &o_tmp_age},
    {"--oci-upload-ttl", "CAIRN_OCI_UPLOAD_TTL", "86400", &o_oci_ttl},
    {"--rate-limit", "CAIRN_RATE_LIMIT", "0", &o_rate},
    {"--min-client-version", "CAIRN_MIN_CLIENT_VERSION", NULL, &o_min_client},
    {"--quota-versions-monthly", "CAIRN_QUOTA_VERSIONS_MONTHLY", "-1", &o_quota},
    {"--facet-index", "CAIRN_FACET_INDEX", "on", &o_facet_index},
    {"--read-consistency", "CAIRN_READ_CONSISTENCY", "strict", &o_consistency},
    {"--web-dir", "CAIRN_WEB_DIR", NULL, &o_web_dir},
    {"--public-url", "CAIRN_PUBLIC_URL", NULL, &o_public_url},
    {"--device-profiles", "CAIRN_DEVICE_PROFILES", NULL, &o_devprof},
    {"--telemetry-db", "CAIRN_TELEMETRY_DB", NULL, &o_telemetry_db},
    {"--converter-workers", "CAIRN_CONVERTER_WORKERS", "1", &o_conv_workers},
    {"--converter-timeout", "CAIRN_CONVERTER_TIMEOUT", "3600", &o_conv_timeout},
    {"--converter-max-output", "CAIRN_CONVERTER_MAX_OUTPUT", "68719476736", &o_conv_max},
};
#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

static void usage(FILE *f)
{
    fputs("usage: cairnd serve [--listen HOST:PORT] [--db URL] [--blobs URL] [--secret S]\n"
          "                    [--max-body BYTES] [--threads N] [--max-connections N]\n"
          "                    [--max-connections-per-ip N] [--header-timeout SECONDS]\n"
          "                    [--timeout SECONDS] [--retention DAYS] [--tmp-age SECONDS]\n"
          "                    [--oci-upload-ttl SECONDS]\n"
          "                    [--rate-limit RPS] [--min-client-version X.Y.Z]\n"
          "                    [--quota-versions-monthly N] [--facet-index on|off]\n"
          "                    [--read-consistency strict|notify] [--web-dir DIR]\n"
          "                    [--public-url http(s)://HOST[:PORT][/PREFIX]]\n"
          "                    [--telemetry-db URL] [--device-profiles FILE.json]\n"
          "                    [--converter SRC:DST='CMD {in} {out}']...\n"
          "                    [--converter-workers N] [--converter-timeout SECONDS]\n"
          "                    [--converter-max-output BYTES]\n"
          "       cairnd gc [--db URL] [--blobs URL] [--retention DAYS] [--tmp-age SECONDS]\n"
          "       cairnd fsck [--db URL] [--blobs URL]\n"
          "       cairnd routes [--markdown]   (the route table and its access matrix)\n"
          "       cairnd openapi               (the built-in OpenAPI document, as JSON)\n"
          "       cairnd admin create-org SLUG [--db URL]\n"
          "       cairnd admin create-token --org SLUG --role reader|writer|admin [--name N]\n"
          "                    [--server-admin] [--db URL]\n"
          "--blobs is file:///DIR or s3://BUCKET[/PREFIX]?endpoint=http(s)://HOST[:PORT]\n"
          "  [&region=R][&cache=DIR][&cache_max=BYTES][&part_size=BYTES][&timeout=SECONDS]\n"
          "  (S3 credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY).\n"
          "Each flag has an environment variable: --listen CAIRN_LISTEN, --db CAIRN_DB, ...\n"
          "CAIRN_ADMIN_TOKEN=T makes T a server-admin token.\n",
          f);
}

/* Parses argv[from..] into the option table plus the extra flags named in extras. */
static int parse_flags(int argc, char **argv, int from, const char **org, const char **role,
                       const char **name, int *server_admin, const char **positional)
{
    for (int i = from; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        char flag[64];
        const char *eq = strchr(a, '=');
        if (strncmp(a, "--", 2) == 0 && eq && (size_t)(eq - a) < sizeof(flag)) {
            memcpy(flag, a, (size_t)(eq - a));
            flag[eq - a] = '\0';
            val = eq + 1;
            a = flag;
        }
        if (strcmp(a, "--server-admin") == 0) {
            *server_admin = 1;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        }
        if (strncmp(a, "--", 2) != 0) {
            if (positional && !*positional) {
                *positional = a;
                continue;
            }
            fprintf(stderr, "cairnd: unexpected argument '%s'\n", a);
            return -1;
        }
        if (!val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "cairnd: %s needs a value\n", a);
                return -1;
            }
            val = argv[++i];
        }
        bool found = false;
        if (strcmp(a, "--converter") == 0) {
            if (n_converters == (int)(sizeof(o_converters) / sizeof(o_converters[0]))) {
                fprintf(stderr, "cairnd: too many --converter\n");
                return -1;
            }
            o_converters[n_converters++] = val;
            continue;
        }
        for (size_t k = 0; k < N_OPTIONS; k++) {
            if (strcmp(a, options[k].flag) == 0) {
                *options[k].dst = val;
                found = true;
            }
        }
        if (!found && org && strcmp(a, "--org") == 0)
            *org = val, found = true;
        if (!found && role && strcmp(a, "--role") == 0)
            *role = val, found = true;
        if (!found && name && strcmp(a, "--name") == 0)
            *name = val, found = true;
        if (!found) {
            fprintf(stderr, "cairnd: unknown flag '%s'\n", a);
            return -1;
        }
    }
    for (size_t k = 0; k < N_OPTIONS; k++) {
        if (!*options[k].dst)
            *options[k].dst = getenv(options[k].env);
        if (!*options[k].dst)
            *options[k].dst = options[k].dflt;
    }
    return 0;
}

static long num_opt(const char *s, const char *flag, long lo, long hi)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) {
        fprintf(stderr, "cairnd: %s must be a number from %ld to %ld\n", flag, lo, hi);
        exit(2);
    }
    return v;
}

/* Creates the parent directory of a sqlite path (./data) so defaults work from a fresh clone. */
static void ensure_parent_dir(const char *url)
{
    const char *p = url;
    if (strncmp(p, "sqlite://", 9) == 0)
        p += 9;
    else if (strncmp(p, "file://", 7) == 0)
        p += 7;
    else if (strstr(p, "://"))
        return;
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", p);
    for (char *s = buf + 1; *s; s++) {
        if (*s == '/') {
            *s = '\0';
            mkdir(buf, 0755);
            *s = '/';
        }
    }
}

static int open_store(store **s, err *e)
{
    ensure_parent_dir(o_db);
    if (store_open(s, o_db, 2, e) < 0) {
        fprintf(stderr, "cairnd: cannot open database %s: %s\n", o_db, e->detail);
        return -1;
    }
    return 0;
}

static int cmd_create_org(const char *slug)
{
    err e = {0};
    store *s = NULL;
    store_tx *tx = NULL;
    store_org o;
    arena *a = arena_create();
    int rc = 1;
    if (!slug || !slug_is_valid(slug, strlen(slug))) {
        fprintf(stderr, "cairnd: org slug must match ^[a-z0-9][a-z0-9-]{1,38}$\n");
        goto out;
    }
    if (open_store(&s, &e) < 0 || store_tx_begin(&tx, s, true, &e) < 0)
        goto out;
    if (store_org_create(&o, tx, slug, NULL, a, &e) < 0) {
        fprintf(stderr, "cairnd: %s\n", e.detail);
        goto out;
    }
    int committed = store_tx_end(tx, true, &e);
    tx = NULL;
    if (committed < 0) {
        fprintf(stderr, "cairnd: %s\n", e.detail);
        goto out;
    }
    printf("%s\n", o.id);
    rc = 0;
out:
    store_tx_end(tx, false, &e);
    store_close(s);
    arena_free(a);
    return rc;
}

static int cmd_create_token(const char *org, const char *role, const char *name,
                            int server_admin)
{
    err e = {0};
    store *s = NULL;
    store_tx *tx = NULL;
    store_org o;
    store_token t;
    arena *a = arena_create();
    char secret[64], hash[65];
    int rc = 1;
    if (!org || !role || role_rank(role, strlen(role)) == 0) {
        fprintf(stderr, "cairnd: create-token needs --org SLUG and --role reader|writer|admin\n");
        goto out;
    }
    if (open_store(&s, &e) < 0 || store_tx_begin(&tx, s, true, &e) < 0)
        goto out;
    if (store_org_get(&o, tx, org, a, &e) < 0) {
        fprintf(stderr, "cairnd: %s\n", e.detail);
        goto out;
    }
    if (token_new(secret) < 0)
        goto out;
    token_hash(hash, secret);
    if (store_token_create(&t, tx, o.id, name ? name : "cli", server_admin ? "admin" : role,
                           server_admin != 0, hash, 0, a, &e) < 0) {
        fprintf(stderr, "cairnd: %s\n", e.detail);
        goto out;
    }
    int committed = store_tx_end(tx, true, &e);
    tx = NULL;
    if (committed < 0) {
        fprintf(stderr, "cairnd: %s\n", e.detail);
        goto out;
    }
    printf("%s\n", secret);
    rc = 0;
out:
    store_tx_end(tx, false, &e);
    store_close(s);
    arena_free(a);
    return rc;
}

/* First start: org `default` and, without CAIRN_ADMIN_TOKEN, a printed server-admin token. */
static int bootstrap(store *s, bool have_admin_env, err *e)
{
    store_tx *tx = NULL;
    arena *a = arena_create();
    int64_t n = 0;
    int rc = -1;
    store_org o;
    store_token t;
    char secret[64] = "", hash[65];
    if (store_tx_begin(&tx, s, true, e) < 0 || store_org_count(&n, tx, e) < 0)
        goto out;
    if (n > 0) {
        rc = 0;
        goto out;
    }
    if (store_org_create(&o, tx, "default", "Default", a, e) < 0)
        goto out;
    if (!have_admin_env) {
        if (token_new(secret) < 0)
            goto out;
        token_hash(hash, secret);
        if (store_token_create(&t, tx, o.id, "bootstrap", "admin", true, hash, 0, a, e) < 0)
            goto out;
    }
    rc = 0;
out:
    if (store_tx_end(tx, rc == 0, e) < 0)
        rc = -1;
    if (rc == 0 && secret[0]) {
        printf("cairnd: first start: created org 'default' and a server-admin token "
               "(shown once):\n  %s\n",
               secret);
        fflush(stdout);
    }
    arena_free(a);
    return rc;
}

static char secret_buf[65];

/* Fills cfg from the parsed options; exits on a bad value. */
static void build_config(config *cfg)
{
    cfg->listen = o_listen;
    cfg->db_url = o_db;
    cfg->blobs_url = o_blobs;
    cfg->secret = o_secret;
    cfg->admin_token = getenv("CAIRN_ADMIN_TOKEN");
    cfg->max_body = num_opt(o_max_body, "--max-body", 64, 1L << 30);
    cfg->threads = (int)num_opt(o_threads, "--threads", 1, 256);
    cfg->max_connections = (int)num_opt(o_maxconn, "--max-connections", 1, 100000);
    cfg->max_connections_per_ip =
        (int)num_opt(o_maxconn_ip, "--max-connections-per-ip", 0, 100000);
    cfg->header_timeout_s = (int)num_opt(o_header_timeout, "--header-timeout", 0, 86400);
    cfg->timeout_s = (int)num_opt(o_timeout, "--timeout", 1, 86400);
    cfg->retention_days = (int)num_opt(o_retention, "--retention", 0, 3650);
    cfg->tmp_age_s = num_opt(o_tmp_age, "--tmp-age", 0, 30L * 86400);
    cfg->oci_upload_ttl_s = num_opt(o_oci_ttl, "--oci-upload-ttl", 1, 30L * 86400);
    cfg->rate_limit = (double)num_opt(o_rate, "--rate-limit", 0, 1000000);
    cfg->quota_versions_monthly = num_opt(o_quota, "--quota-versions-monthly", -1, 1L << 40);
    cfg->min_client_version = o_min_client && *o_min_client ? o_min_client : NULL;
    if (strcmp(o_facet_index, "on") != 0 && strcmp(o_facet_index, "off") != 0) {
        fprintf(stderr, "cairnd: --facet-index must be on or off\n");
        exit(2);
    }
    cfg->facet_index = strcmp(o_facet_index, "on") == 0;
    if (strcmp(o_consistency, "strict") != 0 && strcmp(o_consistency, "notify") != 0) {
        fprintf(stderr, "cairnd: --read-consistency must be strict or notify\n");
        exit(2);
    }
    cfg->read_notify = strcmp(o_consistency, "notify") == 0;
    if (cfg->read_notify && strncmp(cfg->db_url, "postgres", 8) != 0) {
        fprintf(stderr, "cairnd: --read-consistency notify needs a PostgreSQL --db (one SQLite"
                        " process sees its own commits at once)\n");
        exit(2);
    }
    cfg->web_dir = o_web_dir && *o_web_dir ? o_web_dir : NULL;
    if (o_public_url && *o_public_url) {
        static char public_url[1024];
        size_t n = strlen(o_public_url);
        while (n > 0 && o_public_url[n - 1] == '/')
            n--;
        if ((strncmp(o_public_url, "http://", 7) != 0 &&
             strncmp(o_public_url, "https://", 8) != 0) || strpbrk(o_public_url, " <>\"") || n >= sizeof(public_url)) {
            fprintf(stderr, "cairnd: --public-url must be an http:// or https:// URL\n");
            exit(2);
        }
        memcpy(public_url, o_public_url, n);
        public_url[n] = '\0';
        cfg->public_url = public_url;
    }
    cfg->device_profiles = o_devprof && *o_devprof ? o_devprof : NULL;
    cfg->telemetry_db_url = o_telemetry_db && *o_telemetry_db ? o_telemetry_db : NULL;
    for (int i = 0; i < n_converters; i++)
        cfg->converters[cfg->nconverters++] = o_converters[i];
    cfg->converter_workers = (int)num_opt(o_conv_workers, "--converter-workers", 0, 16);
    cfg->converter_timeout_s = (int)num_opt(o_conv_timeout, "--converter-timeout", 1, 604800);
    cfg->converter_max_output = num_opt(o_conv_max, "--converter-max-output", 1, 1L << 50);
    if (cfg->min_client_version &&
        !semver_is_valid(cfg->min_client_version, strlen(cfg->min_client_version))) {
        fprintf(stderr, "cairnd: --min-client-version must be a SemVer version\n");
        exit(2);
    }
}

/* Opens the store and the blob store of ctx; returns 0 or -1 (logged). */
static int open_handles(app *ctx, int pool, err *e)
{
    ensure_parent_dir(ctx->cfg->db_url);
    if (store_open(&ctx->store, ctx->cfg->db_url, pool, e) < 0) {
        log_error(NULL, "store.open_failed", "s:s", "detail", e->detail);
        return -1;
    }
    if (blob_open(&ctx->blob, ctx->cfg->blobs_url, e) < 0) {
        log_error(NULL, "blob.open_failed", "s:s", "detail", e->detail);
        return -1;
    }
    return 0;
}

/* The telemetry store's URL: --telemetry-db, else for SQLite a file beside the catalog's
 * (cairn.db -> cairn-telemetry.db: its own write lock), else the catalog's database. */
static char telemetry_url_buf[4096];
static const char *telemetry_url(const config *cfg)
{
    if (cfg->telemetry_db_url)
        return cfg->telemetry_db_url;
    const char *u = cfg->db_url;
    if (strncmp(u, "postgres", 8) == 0)
        return u;
    size_t n = strlen(u);
    if (n > 3 && strcmp(u + n - 3, ".db") == 0)
        snprintf(telemetry_url_buf, sizeof(telemetry_url_buf), "%.*s-telemetry.db", (int)(n - 3),
                 u);
    else
        snprintf(telemetry_url_buf, sizeof(telemetry_url_buf), "%s-telemetry.db", u);
    return telemetry_url_buf;
}

static void close_handles(app *ctx)
{
    store_close(ctx->telemetry);
    blob_close(ctx->blob);
    store_close(ctx->store);
}

static int cmd_maintenance(bool fsck)
{
    config cfg = {0};
    app ctx = {0};
    err e = {0};
    json_t *report = NULL;
    int64_t broken = 0;
    int rc = 1;
    build_config(&cfg);
    ctx.cfg = &cfg;
    if (open_handles(&ctx, 2, &e) < 0)
        goto out;
    if ((fsck ? admin_fsck(&report, &broken, &ctx, &e) : admin_gc(&report, &ctx, &e)) < 0) {
        fprintf(stderr, "cairnd: %s failed: %s\n", fsck ? "fsck" : "gc", e.detail);
        goto out;
    }
    char *txt = json_dumps(report, JSON_INDENT(2));
    printf("%s\n", txt ? txt : "{}");
    free(txt);
    rc = broken > 0 ? 1 : 0;
out:
    json_decref(report);
    close_handles(&ctx);
    return rc;
}

/* Runs GC hourly until stop is set: purges past the retention window (DESIGN.md). */
typedef struct sweeper {
    const app *ap;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
} sweeper;

static void *sweep_loop(void *arg)
{
    sweeper *sw = arg;
    pthread_mutex_lock(&sw->mu);
    while (!sw->stop) {
        pthread_mutex_unlock(&sw->mu);
        err e = {0};
        json_t *report = NULL;
        if (admin_gc(&report, sw->ap, &e) < 0)
            log_warn(NULL, "gc.failed", "s:s", "detail", e.detail);
        json_decref(report);
        pthread_mutex_lock(&sw->mu);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 3600;
        while (!sw->stop && pthread_cond_timedwait(&sw->cv, &sw->mu, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&sw->mu);
    return NULL;
}

static int cmd_serve(void)
{
    config cfg = {0};
    app ctx = {0};
    err e = {0};
    server *srv = NULL;
    int rc = 1;
    sweeper sw = {.stop = false};
    pthread_t sweep_thread;
    bool sweeping = false;
    build_config(&cfg);
    struct stat st;
    if (cfg.web_dir && (stat(cfg.web_dir, &st) < 0 || !S_ISDIR(st.st_mode))) {
        fprintf(stderr, "cairnd: --web-dir %s is not a directory\n", cfg.web_dir);
        return 2;
    }
    ctx.cfg = &cfg;
    if (cfg.admin_token && *cfg.admin_token)
        token_hash(ctx.admin_hash, cfg.admin_token);

    char yerr[256];
    ctx.openapi = yaml_to_json((const char *)cairn_openapi_yaml, cairn_openapi_yaml_len, yerr,
                               sizeof(yerr));
    if (!ctx.openapi)
        log_warn(NULL, "openapi.unavailable", "s:s", "reason", yerr);

    /* Block the stop signals before threads start, so only sigwait below sees them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    ctx.manifest = manifest_cache_new();
    ctx.cache = resp_cache_new();
    ctx.index = cfg.facet_index ? facet_index_new() : NULL;
    ctx.search = cfg.facet_index ? search_cache_new() : NULL;
    ctx.devices = devices_builtin();
    if (!ctx.devices)
        goto out;
    if (cfg.device_profiles && devices_load_file(ctx.devices, cfg.device_profiles, &e) < 0) {
        fprintf(stderr, "cairnd: --device-profiles %s: %s%s%s%s\n", cfg.device_profiles,
                e.nfields ? "profile " : "", e.nfields ? e.fields[0].loc[1] : "",
                e.nfields ? ": " : "", e.nfields ? e.fields[0].msg : e.detail);
        goto out;
    }
    if (open_handles(&ctx, cfg.threads + 4, &e) < 0)
        goto out;
    if (cfg.read_notify && store_listen(ctx.store, &e) < 0) {
        log_error(NULL, "listen.failed", "s:s", "detail", e.detail);
        goto out;
    }
    ensure_parent_dir(telemetry_url(&cfg));
    if (store_open_telemetry(&ctx.telemetry, telemetry_url(&cfg), cfg.threads + 2, &e) < 0) {
        log_error(NULL, "telemetry.open_failed", "s:s", "detail", e.detail);
        goto out;
    }
    if (cfg.secret && *cfg.secret) {
        ctx.secret = cfg.secret;
    } else {
        /* Without --secret, the database keeps one made on first start: every instance on it
         * signs alike, and URLs outlive restarts. */
        uint8_t raw[32];
        char fresh[65];
        crypto_random(raw, sizeof(raw));
        crypto_hex(fresh, raw, sizeof(raw));
        if (store_setting_init(secret_buf, sizeof(secret_buf), ctx.store, "presign_secret",
                               fresh, &e) < 0) {
            log_error(NULL, "presign.secret_failed", "s:s", "detail", e.detail);
            goto out;
        }
        ctx.secret = secret_buf;
    }
    const char *tmpdir = getenv("TMPDIR");
    jobs_config jc = {cfg.converters, cfg.nconverters, cfg.converter_workers,
                      cfg.converter_timeout_s, (uint64_t)cfg.converter_max_output,
                      tmpdir && *tmpdir ? tmpdir : "/tmp"};
    if (jobs_new(&ctx.jobs, &jc, &e) < 0) {
        fprintf(stderr, "cairnd: %s\n", e.detail);
        goto out;
    }
    if (bootstrap(ctx.store, ctx.admin_hash[0] != '\0', &e) < 0) {
        log_error(NULL, "bootstrap.failed", "s:s", "detail", e.detail);
        goto out;
    }
    if (ctx.index) {
        /* Build the facet index before serving, so the first facet request does not pay for
         * reading the whole catalog (about a second per 100,000 artifacts). */
        int64_t t0 = time_mono_us();
        if (facet_index_sync(ctx.index, ctx.store, &e) < 0) {
            log_error(NULL, "facet_index.failed", "s:s", "detail", e.detail);
            goto out;
        }
        uint32_t n;
        int64_t rev;
        facet_index_stats(ctx.index, &n, &rev);
        log_info(NULL, "facet_index.built", "s:i, s:I, s:f", "artifacts", (int)n, "revision",
                 (json_int_t)rev, "ms", (double)(time_mono_us() - t0) / 1000.0);
    }
    if (server_start(&srv, &ctx, &e) < 0) {
        log_error(NULL, "server.start_failed", "s:s", "detail", e.detail);
        goto out;
    }
    if (jobs_start(ctx.jobs, &ctx, &e) < 0) {
        log_error(NULL, "jobs.start_failed", "s:s", "detail", e.detail);
        goto out;
    }
    log_info(NULL, "server.started", "s:s, s:s, s:i", "listen", cfg.listen, "db", cfg.db_url,
             "threads", cfg.threads);
    printf("cairnd: serving on http://%s\n", cfg.listen);
    fflush(stdout);
    sw.ap = &ctx;
    pthread_mutex_init(&sw.mu, NULL);
    pthread_cond_init(&sw.cv, NULL);
    sweeping = pthread_create(&sweep_thread, NULL, sweep_loop, &sw) == 0;
    int sig = 0;
    sigwait(&stop, &sig);
    log_info(NULL, "server.stopping", "s:i", "signal", sig);
    rc = 0;
out:
    if (sweeping) {
        pthread_mutex_lock(&sw.mu);
        sw.stop = true;
        pthread_cond_signal(&sw.cv);
        pthread_mutex_unlock(&sw.mu);
        pthread_join(sweep_thread, NULL);
    }
    jobs_stop(ctx.jobs); /* running conversions go back to the queue */
    server_stop(srv);
    jobs_free(ctx.jobs);
    close_handles(&ctx);
    manifest_cache_free(ctx.manifest);
    resp_cache_free(ctx.cache);
    facet_index_free(ctx.index);
    search_cache_free(ctx.search);
    devices_free(ctx.devices);
    json_decref(ctx.openapi);
    if (rc == 0)
        log_info(NULL, "server.stopped", NULL);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "serve") == 0) {
        if (parse_flags(argc, argv, 2, NULL, NULL, NULL, NULL, NULL) < 0)
            return 2;
        return cmd_serve();
    }
    if (strcmp(cmd, "gc") == 0 || strcmp(cmd, "fsck") == 0) {
        if (parse_flags(argc, argv, 2, NULL, NULL, NULL, NULL, NULL) < 0)
            return 2;
        return cmd_maintenance(strcmp(cmd, "fsck") == 0);
    }
    if (strcmp(cmd, "admin") == 0 && argc >= 3) {
        const char *org = NULL, *role = NULL, *name = NULL, *pos = NULL;
        int sa = 0;
        if (parse_flags(argc, argv, 3, &org, &role, &name, &sa, &pos) < 0)
            return 2;
        if (strcmp(argv[2], "create-org") == 0)
            return cmd_create_org(pos);
        if (strcmp(argv[2], "create-token") == 0 && !pos)
            return cmd_create_token(org, role, name, sa);
    }
    if (strcmp(cmd, "openapi") == 0) { /* docs/openapi.yaml as built in, as JSON */
        char yerr[256];
        json_t *doc = yaml_to_json((const char *)cairn_openapi_yaml, cairn_openapi_yaml_len,
                                   yerr, sizeof(yerr));
        if (!doc) {
            fprintf(stderr, "cairnd: openapi: %s\n", yerr);
            return 1;
        }
        json_dumpf(doc, stdout, JSON_INDENT(1) | JSON_SORT_KEYS);
        fputc('\n', stdout);
        json_decref(doc);
        return 0;
    }
    if (strcmp(cmd, "routes") == 0) { /* the route table and its access matrix */
        router_describe(stdout, argc >= 3 && strcmp(argv[2], "--markdown") == 0);
        return 0;
    }
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return 2;
}
