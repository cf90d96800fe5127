/*
 * server.c: libmicrohttpd glue. Turns a request into an api_call, runs the handler, turns the
 * api_reply into a response with the error envelope, request id, ETag and a JSON log line.
 */
#include "http/server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/api.h"
#include "api/common.h"
#include "core/semver.h"
#include "http/auth.h"
#include "http/limits.h"
#include "http/metrics.h"
#include "http/router.h"
#include "store/store.h"
#include "util/crypto.h"
#include "util/log.h"
#include "util/timeutil.h"

/* One open connection, for the header deadline (--header-timeout): from when it opened, or
 * its previous request ended, a connection has that long to deliver a request's headers. The
 * MHD timeout alone is about inactivity, so a client dripping a byte now and then kept a
 * connection forever. The deadline is the client's: time the server spends busy does not count
 * (see on_completed and sweep_main). Entries live from MHD's STARTED to its CLOSED
 * notification, in the server's list under its lock; MHD closes the socket only after CLOSED,
 * so the sweeper may shutdown() or ioctl() the fd of a listed entry without racing a reuse of
 * the number. */
typedef struct conn_entry {
    struct conn_entry *prev, *next;
    int fd;
    int64_t since_ms; /* opened, or the previous request ended */
    bool in_request;  /* headers complete: the deadline does not apply */
    bool cut;         /* shut down by the sweeper */
    bool listed;      /* in the server's list */
} conn_entry;

struct server {
    struct MHD_Daemon *d;
    const app *app;
    ratelimit *rl;
    pthread_mutex_t conn_lock;
    conn_entry *conns; /* open connections */
    pthread_t sweeper;
    pthread_cond_t sweep_cv;
    bool sweeping, stopping;
};

/* One request in flight; lives from the first access callback to the completion callback. */
typedef struct req {
    arena *a;
    api_call call;
    const route *rt;
    char allow[64];
    char *body;
    size_t body_len, body_cap;
    bool too_large;
    int status;
    size_t bytes_out;
    int64_t started_us;
    const char *route_name;
    const struct server *srv;
    bool preflight_done;
    void *up_state;           /* upload handler state, until finish/abort */
    bool up_open;
    err up_err;               /* first error of a streamed upload */
    struct MHD_PostProcessor *pp;
    api_done done;
    bool full_body;           /* a file sent whole (not a Range) */
    api_reply early;          /* a refusal decided before the body was read */
    bool early_set;
    uint64_t discarded;
    uint64_t bytes_in;
    bool up_counted; /* counted in the uploads-in-flight gauge */
    char *mp_close;     /* a multipart body's close delimiter "--BOUNDARY--" */
    size_t mp_close_len;
    char *mp_tail;      /* the last mp_close_len - 1 bytes fed, and room to join a piece */
    size_t mp_tail_len;
    bool mp_closed;     /* the close delimiter went by */
} req;

/* A refused request's body is read and dropped up to this much before the answer goes out,
 * so clients still sending can read it; past it the answer is sent and the connection closed. */
#define DISCARD_MAX (16u << 20)

static const char *conn_header(const api_call *c, const char *name)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)c->conn, MHD_HEADER_KIND, name);
}

/* Request headers above this total are refused with 431 (the MHD pool is larger, for fast
 * uploads, so it would accept them). */
#define HEADERS_MAX 32768

/* Per-connection memory of libmicrohttpd: headers and upload chunks (about half of it) live
 * there, and MHD zeroes it between requests, so it is a trade: at 1 MiB the memset cost 43% of
 * the CPU of small GETs; 128 KiB keeps uploads above what the disk takes (bench/transfer.sh). */
#define POOL_BYTES (128u * 1024)

static enum MHD_Result sum_headers(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    size_t *total = cls;
    *total += strlen(key) + (value ? strlen(value) : 0) + 4;
    return MHD_YES;
}

typedef struct query_acc {
    req *r;
    size_t cap;
} query_acc;

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    (void)kind;
    query_acc *q = cls;
    api_call *c = &q->r->call;
    if (c->nquery == q->cap) {
        size_t ncap = q->cap ? q->cap * 2 : 8;
        api_kv *bigger = arena_array(c->a, api_kv, ncap);
        if (c->nquery)
            memcpy(bigger, c->query, sizeof(api_kv) * c->nquery);
        c->query = bigger;
        q->cap = ncap;
    }
    c->query[c->nquery].key = arena_strdup(c->a, key);
    c->query[c->nquery].value = arena_strdup(c->a, value ? value : "");
    c->nquery++;
    return c->nquery < 256 ? MHD_YES : MHD_NO;
}

static bool request_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x21 || s[i] > 0x7e)
            return false;
    return true;
}

static struct MHD_Response *json_response(req *r, int status, json_t *body)
{
    char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
    size_t n = s ? strlen(s) : 0;
    struct MHD_Response *resp = MHD_create_response_from_buffer(n, s, MHD_RESPMEM_MUST_FREE);
    if (s)
        MHD_add_response_header(resp, "Content-Type", "application/json; charset=utf-8");
    r->status = status;
    r->bytes_out = n;
    return resp;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    api_stream *st = cls;
    long n = st->read(st->ctx, buf, max);
    if (n < 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (n == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    api_stream *st = cls;
    if (st->done)
        st->done(st->ctx);
    free(st);
}

/* Sends a raw or streamed (chunked) body. */
static enum MHD_Result send_body(struct MHD_Connection *conn, req *r, api_reply *rep,
                                 int status)
{
    struct MHD_Response *resp;
    const char *inm = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "If-None-Match");
    bool is_get = strcmp(r->call.method, "GET") == 0 || strcmp(r->call.method, "HEAD") == 0;
    if (rep->etag && status == 200 && is_get && inm && api_etag_matches(inm, rep->etag)) {
        status = 304;
        if (rep->raw_release)
            rep->raw_release((void *)rep->raw);
        rep->raw_release = NULL;
        rep->raw = "";
        rep->raw_len = 0;
    }
    if (rep->stream.read) {
        api_stream *st = malloc(sizeof(*st));
        if (!st)
            return MHD_NO;
        *st = rep->stream;
        resp = MHD_create_response_from_callback(st->size ? st->size : MHD_SIZE_UNKNOWN,
                                                 64 * 1024, stream_read, st, stream_free);
    } else if (rep->raw_release && status != 304) {
        resp = MHD_create_response_from_buffer_with_free_callback(rep->raw_len, (void *)rep->raw,
                                                                  rep->raw_release);
        rep->raw_release = NULL; /* MHD owns the reference now */
        r->bytes_out = rep->raw_len;
    } else {
        resp = MHD_create_response_from_buffer(rep->raw_len, (void *)rep->raw,
                                               MHD_RESPMEM_MUST_COPY);
        r->bytes_out = rep->raw_len;
    }
    r->status = status;
    if (status != 304)
        MHD_add_response_header(resp, "Content-Type", rep->content_type
                                                          ? rep->content_type
                                                          : "application/octet-stream");
    if (rep->etag)
        MHD_add_response_header(resp, "ETag", rep->etag);
    MHD_add_response_header(resp, "X-Request-Id", r->call.req_id);
    for (size_t i = 0; i < rep->nheaders; i++)
        MHD_add_response_header(resp, rep->headers[i].key, rep->headers[i].value);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    json_decref(rep->body);
    rep->body = NULL;
    return ret;
}

/* Parses "bytes=a-b" / "bytes=a-" / "bytes=-n" against size. Returns 1 with [*off, *len) for a
 * satisfiable single range, 0 for no Range header, -1 with e set otherwise. */
static int parse_range(const char *h, uint64_t size, uint64_t *off, uint64_t *len, err *e)
{
    if (!h)
        return 0;
    if (strncmp(h, "bytes=", 6) != 0)
        return 0; /* RFC 9110 §14.2: a range unit we do not know is ignored */
    const char *p = h + 6;
    if (strchr(p, ','))
        return err_set(e, ERR_INVALID, "multiple ranges are not supported");
    char *end;
    if (*p == '-') {
        /* strtoull takes a sign and spaces ("--5" wraps to 2^64-5): only digits may follow */
        if (p[1] < '0' || p[1] > '9')
            return err_set(e, ERR_INVALID, "bad Range header");
        unsigned long long n = strtoull(p + 1, &end, 10);
        if (*end)
            return err_set(e, ERR_INVALID, "bad Range header");
        if (n == 0 || size == 0)
            return err_set(e, ERR_RANGE, "range not satisfiable");
        *len = n > size ? size : n;
        *off = size - *len;
        return 1;
    }
    if (*p < '0' || *p > '9')
        return err_set(e, ERR_INVALID, "bad Range header");
    unsigned long long a = strtoull(p, &end, 10);
    if (*end != '-')
        return err_set(e, ERR_INVALID, "bad Range header");
    const char *q = end + 1;
    unsigned long long b = size ? size - 1 : 0;
    if (*q) {
        if (*q < '0' || *q > '9')
            return err_set(e, ERR_INVALID, "bad Range header");
        b = strtoull(q, &end, 10);
        if (*end)
            return err_set(e, ERR_INVALID, "bad Range header");
        if (b < a)
            return err_set(e, ERR_INVALID, "bad Range header");
    }
    if (a >= size)
        return err_set(e, ERR_RANGE, "range not satisfiable");
    if (b >= size)
        b = size - 1;
    *off = a;
    *len = b - a + 1;
    return 1;
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, req *r, api_reply *rep);

/* Sends a file body zero-copy (sendfile), honouring If-None-Match and a single Range. */
static enum MHD_Result send_file(struct MHD_Connection *conn, req *r, api_reply *rep)
{
    uint64_t off = 0, len = rep->file.size;
    int status = 200;
    const char *inm = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "If-None-Match");
    const char *range = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Range");
    struct MHD_Response *resp;
    if (rep->file.etag && inm && api_etag_matches(inm, rep->file.etag)) {
        close(rep->file.fd);
        resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        status = 304;
    } else {
        int pr = parse_range(range, rep->file.size, &off, &len, &rep->e);
        if (pr < 0) {
            close(rep->file.fd);
            rep->file.set = false;
            if (rep->e.kind == ERR_RANGE)
                api_header(rep, "Content-Range",
                           arena_printf(r->a, "bytes */%llu",
                                        (unsigned long long)rep->file.size));
            return send_reply(conn, r, rep);
        }
        if (pr == 1)
            status = 206;
        resp = MHD_create_response_from_fd_at_offset64(len, rep->file.fd, off);
        if (!resp) {
            close(rep->file.fd);
            return MHD_NO;
        }
        if (status == 206)
            MHD_add_response_header(
                resp, "Content-Range",
                arena_printf(r->a, "bytes %llu-%llu/%llu", (unsigned long long)off,
                             (unsigned long long)(off + len - 1),
                             (unsigned long long)rep->file.size));
        MHD_add_response_header(resp, "Content-Type",
                                rep->content_type ? rep->content_type
                                                  : "application/octet-stream");
        r->bytes_out = len;
        r->full_body = status == 200 && strcmp(r->call.method, "HEAD") != 0;
        r->done = rep->done;
    }
    r->status = status;
    MHD_add_response_header(resp, "Accept-Ranges", "bytes");
    MHD_add_response_header(resp, "X-Request-Id", r->call.req_id);
    if (rep->file.etag)
        MHD_add_response_header(resp, "ETag", rep->file.etag);
    for (size_t i = 0; i < rep->nheaders; i++)
        MHD_add_response_header(resp, rep->headers[i].key, rep->headers[i].value);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    json_decref(rep->body);
    rep->body = NULL;
    return ret;
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, req *r, api_reply *rep)
{
    struct MHD_Response *resp;
    int status = rep->status ? rep->status : 200;
    if (rep->e.kind != ERR_NONE) {
        status = err_status(rep->e.kind);
        json_decref(rep->body);
        rep->body = NULL;
        if (r->rt && r->rt->door && r->rt->door->error) {
            rep->status = status;
            r->rt->door->error(rep, &r->call);
            status = rep->status ? rep->status : status;
        } else {
            rep->body = api_error_body(&rep->e);
        }
    }
    if (rep->e.kind == ERR_NONE && rep->file.set)
        return send_file(conn, r, rep);
    if (rep->file.set)
        close(rep->file.fd);
    if (rep->e.kind == ERR_NONE)
        r->done = rep->done;
    if (rep->e.kind == ERR_NONE && (rep->stream.read || rep->raw))
        return send_body(conn, r, rep, status);
    const char *inm = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "If-None-Match");
    bool is_get = strcmp(r->call.method, "GET") == 0 || strcmp(r->call.method, "HEAD") == 0;
    if (rep->etag && is_get && status == 200 && inm && api_etag_matches(inm, rep->etag)) {
        resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        status = 304;
        r->status = 304;
    } else {
        resp = json_response(r, status, status == 204 ? NULL : rep->body);
    }
    MHD_add_response_header(resp, "X-Request-Id", r->call.req_id);
    if (rep->etag)
        MHD_add_response_header(resp, "ETag", rep->etag);
    if (rep->e.kind == ERR_METHOD)
        MHD_add_response_header(resp, "Allow", r->allow);
    for (size_t i = 0; i < rep->nheaders; i++)
        MHD_add_response_header(resp, rep->headers[i].key, rep->headers[i].value);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    json_decref(rep->body);
    rep->body = NULL;
    return ret;
}

/* Parses the buffered body into c->body; 400 for bad JSON or content type, 422 non-object. */
static int parse_body(req *r, err *e)
{
    if (r->body_len == 0)
        return 0;
    const char *m = r->call.method;
    if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 || strcmp(m, "DELETE") == 0)
        return 0;
    const char *ct = r->call.header(&r->call, "Content-Type");
    if (ct && strncasecmp(ct, "application/json", 16) != 0)
        return err_set(e, ERR_INVALID, "unsupported content type '%.64s': send application/json",
                       ct);
    json_error_t je;
    json_t *doc = json_loadb(r->body, r->body_len,
                             JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!doc)
        return err_set(e, ERR_INVALID, "malformed JSON at line %d column %d: %s", je.line,
                       je.column, je.text);
    arena_defer(r->a, (arena_fn)json_decref, doc);
    if (!json_is_object(doc))
        return err_field_add(e, "body", NULL, "dict_type", "the body must be a JSON object");
    r->call.body = doc;
    return 0;
}

/* 426 when X-Client-Version is older than --min-client-version (API.md §1). */
static int check_client_version(const api_call *c, err *e)
{
    const char *min = c->app->cfg->min_client_version;
    const char *have = c->header(c, "X-Client-Version");
    if (!min || !have || strncmp(c->path, "/api/", 5) != 0)
        return 0;
    semver a, b;
    if (semver_parse(&a, have, strlen(have)) < 0)
        return err_set(e, ERR_UPGRADE, "X-Client-Version '%.64s' is not a version; this server "
                                       "needs %s or newer", have, min);
    if (semver_parse(&b, min, strlen(min)) == 0 && semver_cmp(&a, &b) < 0)
        return err_set(e, ERR_UPGRADE, "client %s is too old: this server needs %s or newer",
                       have, min);
    return 0;
}

static const char *client_ip(struct MHD_Connection *conn, arena *a)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char buf[64] = "?";
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, sizeof(buf));
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf,
                      sizeof(buf));
    }
    return arena_strdup(a, buf);
}

static const int access_role[] = {
    [ACCESS_PUBLIC] = 0, [ACCESS_SIGNED] = 0, [ACCESS_TOKEN] = 0, [ACCESS_READER] = ROLE_READER,
    [ACCESS_WRITER] = ROLE_WRITER, [ACCESS_ADMIN] = ROLE_ADMIN, [ACCESS_SERVER_ADMIN] = 0,
};

/* Enforces the route table's access declaration (routes.c): authentication, server admin,
 * org scoping and the minimum role. For another org's caller on a SCOPE_ARTIFACT route the
 * artifact is looked up (api_artifact_gate): 404 if private, 403 for a write to a public one. */
static int access_check(api_call *c, const route *rt, err *e)
{
    bool has_creds = c->header(c, "Authorization") || c->header(c, "X-Api-Key");
    c->min_role = access_role[rt->access];
    if (rt->access == ACCESS_SIGNED)
        return 0;
    if (rt->access == ACCESS_PUBLIC && !has_creds)
        return 0;
    if (auth_resolve(c, e) < 0)
        return -1;
    if (rt->access == ACCESS_PUBLIC || rt->access == ACCESS_TOKEN)
        return 0;
    if (rt->access == ACCESS_SERVER_ADMIN) {
        if (!c->caller.server_admin)
            return err_set(e, ERR_FORBIDDEN, "this needs a server-admin token");
        return 0;
    }
    if (c->caller.server_admin)
        return 0;
    const char *org = api_param(c, "org");
    bool own = org && c->caller.org_slug && strcmp(org, c->caller.org_slug) == 0;
    if (!own && rt->scope == SCOPE_ORG)
        return err_set(e, ERR_NOT_FOUND, "org '%.64s' not found", org ? org : "");
    if (!own && rt->scope == SCOPE_ARTIFACT)
        return api_artifact_gate(c, e);
    if (c->caller.role < c->min_role)
        return err_set(e, ERR_FORBIDDEN, "this needs the %s role",
                       c->min_role == ROLE_ADMIN ? "admin" : c->min_role == ROLE_WRITER
                                                            ? "writer" : "reader");
    return 0;
}

/* X-Cairn-Min-Revision: N (a revision an earlier write returned in X-Cairn-Revision) asks for
 * an answer from that catalog revision or a later one (docs/consistency.md). */
static int min_revision(api_call *c, err *e)
{
    const char *v = c->header(c, "X-Cairn-Min-Revision");
    if (!v)
        return 0;
    int64_t n = 0;
    size_t len = strlen(v);
    if (len == 0 || len > 18 || strspn(v, "0123456789") != len)
        return err_set(e, ERR_INVALID,
                       "X-Cairn-Min-Revision must be a catalog revision (a non-negative integer"
                       " as returned in X-Cairn-Revision)");
    for (size_t i = 0; i < len; i++)
        n = n * 10 + (v[i] - '0');
    c->min_rev = n;
    return 0;
}

/* Checks that need no body: headers, route, client version, auth, rate limit. Returns 0, or
 * -1 with rep->e set. Runs on the first callback, so a rejected upload reads no body. */
static int preflight(struct MHD_Connection *conn, req *r, api_reply *rep)
{
    api_call *c = &r->call;
    size_t hdr_total = 0;
    MHD_get_connection_values(conn, MHD_HEADER_KIND, sum_headers, &hdr_total);
    if (hdr_total > HEADERS_MAX)
        return err_set(&rep->e, ERR_HEADERS_TOO_LARGE, "request headers exceed %d bytes",
                       HEADERS_MAX);
    if (!r->rt) {
        if (r->allow[0])
            return err_set(&rep->e, ERR_METHOD, "method %s not allowed here; allowed: %s",
                           c->method, r->allow);
        return err_set(&rep->e, ERR_NOT_FOUND, "no route for %s %s", c->method, c->path);
    }
    if (check_client_version(c, &rep->e) < 0)
        return -1;
    if (min_revision(c, &rep->e) < 0)
        return -1;
    if (access_check(c, r->rt, &rep->e) < 0)
        return -1;
    const server *srv = r->srv;
    int retry = 1;
    const char *key = c->caller.token_id       ? c->caller.token_id
                      : c->caller.server_admin ? "server-admin"
                                               : client_ip(conn, r->a);
    if (srv->rl && strcmp(r->route_name, "healthz") != 0 &&
        !ratelimit_take(srv->rl, key, time_now_ms(), &retry)) {
        api_header(rep, "Retry-After", arena_printf(r->a, "%d", retry));
        return err_set(&rep->e, ERR_LIMIT,
                       "rate limit of %g requests per second exceeded; retry in %d s",
                       c->app->cfg->rate_limit, retry);
    }
    return 0;
}

/* The largest buffered body a route takes: --max-body, or more where its door needs it. */
static int64_t body_limit(const server *srv, const route *rt)
{
    int64_t lim = srv->app->cfg->max_body;
    if (rt && rt->door && rt->door->min_body > lim)
        lim = rt->door->min_body;
    return lim;
}

/* Runs the route's handler (or the upload's finish) into rep. */
static void run_handler(req *r, api_reply *rep)
{
    api_call *c = &r->call;
    if (r->too_large) {
        err_set(&rep->e, ERR_TOO_LARGE, "request body exceeds the limit of %lld bytes",
                (long long)body_limit(r->srv, r->rt));
        return;
    }
    if (r->rt->upload) {
        if (r->pp) {
            /* MHD_NO: the body ended before the closing boundary (cut in a part's data, in a
             * boundary, or without the final --boundary--): a truncated bundle is no bundle,
             * and nothing of it may be attached. */
            enum MHD_Result whole = MHD_destroy_post_processor(r->pp);
            r->pp = NULL;
            if ((whole != MHD_YES || !r->mp_closed) && r->up_err.kind == ERR_NONE)
                err_set(&r->up_err, ERR_INVALID,
                        "malformed multipart/form-data body: it ends before the closing "
                        "boundary");
        }
        if (r->up_err.kind != ERR_NONE) {
            rep->e = r->up_err;
            return;
        }
        r->up_open = false;
        if (r->rt->upload->finish(rep, c, r->up_state) < 0 && rep->e.kind == ERR_NONE)
            err_set(&rep->e, ERR_SERVER, "internal error");
        return;
    }
    if (r->rt->door && r->rt->door->raw_body) {
        c->raw_body = r->body;
        c->raw_body_len = r->body_len;
    } else if (parse_body(r, &rep->e) < 0) {
        return;
    }
    if (r->rt->handler(rep, c) < 0 && rep->e.kind == ERR_NONE)
        err_set(&rep->e, ERR_SERVER, "internal error");
}

static enum MHD_Result dispatch(struct MHD_Connection *conn, req *r)
{
    api_reply rep = {0};
    store_take_commit_rev(); /* forget any commit this thread made outside a request */
    run_handler(r, &rep);
    /* A write that changed the catalog tells its revision: a client sends it back as
     * X-Cairn-Min-Revision to read its own write on any instance (docs/consistency.md). */
    int64_t rev = store_take_commit_rev();
    if (rev > 0)
        api_header(&rep, "X-Cairn-Revision", arena_printf(r->a, "%lld", (long long)rev));
    return send_reply(conn, r, &rep);
}

static enum MHD_Result on_part(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *filename, const char *content_type,
                               const char *transfer_encoding, const char *data, uint64_t off,
                               size_t size)
{
    (void)kind;
    (void)content_type;
    (void)transfer_encoding;
    req *r = cls;
    if (r->up_err.kind != ERR_NONE)
        return MHD_YES;
    if (!key) { /* MHD passes NULL for a part whose Content-Disposition gives no name */
        err_set(&r->up_err, ERR_INVALID, "malformed multipart/form-data body: a part has no name");
        return MHD_YES;
    }
    api_part part = {key, filename, off};
    if (r->rt->upload->chunk(r->up_state, &r->call, &part, data, size, &r->up_err) < 0 &&
        r->up_err.kind == ERR_NONE)
        err_set(&r->up_err, ERR_SERVER, "internal error");
    return MHD_YES;
}

/* Notes whether the close delimiter of a multipart body has gone by, across pieces:
 * libmicrohttpd's own verdict passes a body cut inside a part's headers. */
static void watch_close(req *r, const char *data, size_t n)
{
    size_t k = r->mp_close_len;
    if (r->mp_closed || !r->mp_close)
        return;
    if (memmem(data, n, r->mp_close, k)) {
        r->mp_closed = true;
        return;
    }
    /* one split between the previous pieces and this one */
    size_t head = n < k - 1 ? n : k - 1;
    memcpy(r->mp_tail + r->mp_tail_len, data, head);
    if (memmem(r->mp_tail, r->mp_tail_len + head, r->mp_close, k)) {
        r->mp_closed = true;
        return;
    }
    size_t all = r->mp_tail_len + head, keep = all < k - 1 ? all : k - 1;
    if (n >= k - 1) {
        memcpy(r->mp_tail, data + n - (k - 1), k - 1);
        r->mp_tail_len = k - 1;
    } else {
        memmove(r->mp_tail, r->mp_tail + all - keep, keep);
        r->mp_tail_len = keep;
    }
}

/* Feeds a streamed upload; errors are kept for the final answer, the rest is discarded. */
static void upload_feed(req *r, const char *data, size_t n)
{
    if (r->up_err.kind != ERR_NONE)
        return;
    if (r->pp) {
        watch_close(r, data, n);
        if (MHD_post_process(r->pp, data, n) != MHD_YES && r->up_err.kind == ERR_NONE)
            err_set(&r->up_err, ERR_INVALID, "malformed multipart/form-data body");
        return;
    }
    if (r->rt->upload->chunk(r->up_state, &r->call, NULL, data, n, &r->up_err) < 0 &&
        r->up_err.kind == ERR_NONE)
        err_set(&r->up_err, ERR_SERVER, "internal error");
}

/* First callback of an upload route: preflight, then the handler's begin(). */
static int upload_start(struct MHD_Connection *conn, req *r, api_reply *rep)
{
    if (r->rt->upload->multipart) {
        const char *ct = r->call.header(&r->call, "Content-Type");
        if (!ct || strncasecmp(ct, "multipart/form-data", 19) != 0)
            return err_set(&rep->e, ERR_INVALID, "send multipart/form-data");
        r->pp = MHD_create_post_processor(conn, 256 * 1024, on_part, r);
        if (!r->pp)
            return err_set(&rep->e, ERR_INVALID, "malformed multipart/form-data header");
        /* the boundary as libmicrohttpd takes it: all after "boundary=", unquoted */
        const char *b = strstr(ct + 19, "boundary=");
        size_t bl = b ? strlen(b + 9) : 0;
        if (b) {
            b += 9;
            if (bl > 1 && b[0] == '"' && b[bl - 1] == '"') {
                b++;
                bl -= 2;
            }
            r->mp_close = arena_printf(r->a, "--%.*s--", (int)bl, b);
            r->mp_close_len = bl + 4;
            r->mp_tail = arena_alloc(r->a, 2 * r->mp_close_len);
        }
    }
    if (r->rt->upload->begin(rep, &r->call, &r->up_state) < 0) {
        if (rep->e.kind == ERR_NONE)
            err_set(&rep->e, ERR_SERVER, "internal error");
        return -1;
    }
    r->up_open = true;
    r->up_counted = true;
    metrics_uploads(1);
    return 0;
}

static conn_entry *conn_entry_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* Marks the connection's current request as having its headers (true) or as ended (false). */
static void conn_mark(const server *srv, struct MHD_Connection *conn, bool in_request)
{
    server *s = (server *)srv;
    pthread_mutex_lock(&s->conn_lock);
    conn_entry *ce = conn_entry_of(conn);
    if (ce) {
        ce->in_request = in_request;
        ce->since_ms = time_mono_us() / 1000;
    }
    pthread_mutex_unlock(&s->conn_lock);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        conn_entry *ce = calloc(1, sizeof(*ce));
        *socket_context = ce;
        if (!ce || !ci)
            return; /* no deadline for this one rather than no connection */
        ce->fd = ci->connect_fd;
        ce->since_ms = time_mono_us() / 1000;
        ce->listed = true;
        pthread_mutex_lock(&s->conn_lock);
        ce->next = s->conns;
        if (s->conns)
            s->conns->prev = ce;
        s->conns = ce;
        pthread_mutex_unlock(&s->conn_lock);
        return;
    }
    conn_entry *ce = *socket_context;
    if (!ce)
        return;
    pthread_mutex_lock(&s->conn_lock);
    if (ce->listed) {
        if (ce->prev)
            ce->prev->next = ce->next;
        else
            s->conns = ce->next;
        if (ce->next)
            ce->next->prev = ce->prev;
    }
    *socket_context = NULL;
    pthread_mutex_unlock(&s->conn_lock);
    free(ce);
}

/* Every 200 ms: shuts down connections that have not delivered a request's headers within
 * --header-timeout; MHD then sees the end of the stream and closes them. A connection with
 * bytes waiting unread in its socket is spared: the client has sent, and it is the server's
 * thread that has not read them yet (an MHD thread serves many connections, and one of them
 * may hold it, say a download count waiting for the database); cutting it would drop,
 * unanswered, a request its client sent in time. The deadline is checked again at the next
 * sweep: once MHD has read the bytes, a dripper is as late as it was. */
static void *sweep_main(void *arg)
{
    server *s = arg;
    int64_t limit_ms = (int64_t)s->app->cfg->header_timeout_s * 1000;
    pthread_mutex_lock(&s->conn_lock);
    while (!s->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->sweep_cv, &s->conn_lock, &ts);
        int64_t now = time_mono_us() / 1000;
        for (conn_entry *ce = s->conns; ce; ce = ce->next) {
            if (ce->in_request || ce->cut || now - ce->since_ms < limit_ms)
                continue;
            int unread = 0;
            if (ioctl(ce->fd, FIONREAD, &unread) == 0 && unread > 0)
                continue;
            ce->cut = true;
            shutdown(ce->fd, SHUT_RDWR);
            metrics_header_timeout();
        }
    }
    pthread_mutex_unlock(&s->conn_lock);
    return NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    const server *srv = cls;
    req *r = *con_cls;
    if (!r) {
        arena *a = arena_create();
        r = arena_new(a, req);
        r->a = a;
        r->srv = srv;
        r->started_us = time_mono_us();
        conn_mark(srv, conn, true); /* the headers are in: the deadline is met */
        api_call *c = &r->call;
        c->app = srv->app;
        c->a = a;
        c->method = arena_strdup(a, method);
        c->path = arena_strdup(a, url);
        c->header = conn_header;
        c->conn = conn;
        const char *rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
        if (rid && request_id_ok(rid)) {
            c->req_id = arena_strdup(a, rid);
        } else {
            char id[37];
            crypto_uuid7(id);
            c->req_id = arena_strdup(a, id);
        }
        query_acc q = {r, 0};
        MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_query, &q);
        r->rt = router_match(c, method, url, r->allow, sizeof(r->allow));
        if (r->rt && r->rt->door && r->rt->door->kind && c->nparams < API_MAX_PARAMS)
            c->params[c->nparams++] = (api_kv){"kind", r->rt->door->kind};
        r->route_name = r->rt ? r->rt->name : "unmatched";
        *con_cls = r;
        api_reply rep = {0};
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (preflight(conn, r, &rep) < 0 || (r->rt->upload && upload_start(conn, r, &rep) < 0)) {
            r->early = rep;
            r->early_set = true;
            if (cl && strtoull(cl, NULL, 10) > DISCARD_MAX)
                return send_reply(conn, r, &r->early);
            return MHD_YES; /* answered once the body is drained */
        }
        /* GET, HEAD and DELETE take no body: refuse one (read and dropped, never buffered)
         * rather than hold up to --max-body of it per connection. */
        const char *te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Transfer-Encoding");
        const char *m = c->method;
        if ((strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 || strcmp(m, "DELETE") == 0) &&
            ((cl && strtoull(cl, NULL, 10) > 0) || te)) {
            err_set(&r->early.e, ERR_INVALID, "%s takes no request body", m);
            r->early_set = true;
        } else if (!r->rt->upload && cl && strtoll(cl, NULL, 10) > body_limit(srv, r->rt)) {
            err_set(&r->early.e, ERR_TOO_LARGE, "request body exceeds the limit of %lld bytes",
                    (long long)body_limit(srv, r->rt));
            r->early_set = true;
        }
        /* A refusal waits for the body only if the body is small enough to drain. */
        if (r->early_set && cl && strtoull(cl, NULL, 10) > DISCARD_MAX)
            return send_reply(conn, r, &r->early);
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        r->bytes_in += n;
        if (r->status) /* already answered */
            return MHD_YES;
        if (r->early_set) {
            r->discarded += n;
            if (r->discarded > DISCARD_MAX)
                return send_reply(conn, r, &r->early);
            return MHD_YES;
        }
        if (r->rt->upload) {
            upload_feed(r, upload_data, n);
            return MHD_YES;
        }
        if (r->too_large)
            return MHD_YES;
        if ((int64_t)(r->body_len + n) > body_limit(srv, r->rt)) {
            r->too_large = true;
            free(r->body);
            r->body = NULL;
            r->body_len = 0;
            return MHD_YES;
        }
        if (r->body_len + n > r->body_cap) {
            size_t cap = r->body_cap ? r->body_cap : 4096;
            while (cap < r->body_len + n)
                cap *= 2;
            char *nb = realloc(r->body, cap);
            if (!nb)
                return MHD_NO;
            r->body = nb;
            r->body_cap = cap;
        }
        memcpy(r->body + r->body_len, upload_data, n);
        r->body_len += n;
        return MHD_YES;
    }
    if (r->status) /* already answered (oversized body) */
        return MHD_YES;
    if (r->early_set)
        return send_reply(conn, r, &r->early);
    return dispatch(conn, r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    req *r = *con_cls;
    if (!r)
        return;
    double ms = (double)(time_mono_us() - r->started_us) / 1000.0;
    metrics_request(r->rt ? (int)(r->rt - router_routes) : -1, r->status, ms, r->bytes_in,
                    r->bytes_out);
    if (r->up_counted)
        metrics_uploads(-1);
    log_info(r->call.req_id, "http.request", "s:s, s:s, s:s, s:i, s:I, s:f, s:b", "method",
             r->call.method, "path", r->call.path, "route", r->route_name, "status", r->status,
             "bytes", (json_int_t)r->bytes_out, "ms", ms, "completed",
             toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
    if (r->early_set)
        json_decref(r->early.body);
    if (r->pp)
        MHD_destroy_post_processor(r->pp);
    if (r->up_open && r->rt->upload->abort)
        r->rt->upload->abort(r->up_state);
    if (r->done.fn)
        r->done.fn(r->call.app, r->done.ctx, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK,
                   r->full_body);
    free(r->body);
    arena_free(r->a);
    *con_cls = NULL;
    /* The next request's headers are due from now, not from before the work above: done.fn
     * (a download count) may wait seconds for the database while this thread reads nothing. */
    conn_mark(cls, conn, false);
}

static int hexdigit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes in place like MHD's default, except that %00 becomes DEL (0x7f): a NUL would
 * silently cut the C string ("a%00b" -> "a"), while DEL is refused by every validator. */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    char *w = s;
    for (const char *p = s; *p; p++) {
        int hi, lo;
        if (*p == '%' && (hi = hexdigit(p[1])) >= 0 && (lo = hexdigit(p[2])) >= 0) {
            char ch = (char)(hi * 16 + lo);
            *w++ = ch == '\0' ? '\x7f' : ch;
            p += 2;
        } else {
            *w++ = *p;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char buf[256];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    size_t n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    log_warn(NULL, "http.mhd", "s:s", "msg", buf);
}

static int parse_listen(struct sockaddr_storage *ss, socklen_t *len, const char *listen, err *e)
{
    char host[128];
    const char *colon = strrchr(listen, ':');
    if (!colon || (size_t)(colon - listen) >= sizeof(host))
        return err_set(e, ERR_INVALID, "--listen wants HOST:PORT, got '%s'", listen);
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    long port = strtol(colon + 1, NULL, 10);
    if (port < 0 || port > 65535)
        return err_set(e, ERR_INVALID, "bad port in '%s'", listen);
    memset(ss, 0, sizeof(*ss));
    char *h = host;
    if (h[0] == '[') {
        h++;
        h[strlen(h) - 1] = '\0';
    }
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, h, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *len = sizeof(*v4);
    } else if (inet_pton(AF_INET6, h, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*v6);
    } else {
        return err_set(e, ERR_INVALID, "bad host in '%s' (use an IP address)", listen);
    }
    return 0;
}

int server_start(server **out, const app *ctx, err *e)
{
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    if (parse_listen(&ss, &sl, ctx->cfg->listen, e) < 0)
        return -1;
    server *s = calloc(1, sizeof(*s));
    if (!s)
        return err_set(e, ERR_SERVER, "out of memory");
    s->app = ctx;
    s->rl = ratelimit_new(ctx->cfg->rate_limit);
    pthread_mutex_init(&s->conn_lock, NULL);
    pthread_cond_init(&s->sweep_cv, NULL);
    if (ctx->cfg->header_timeout_s > 0) {
        if (pthread_create(&s->sweeper, NULL, sweep_main, s) != 0) {
            server_stop(s);
            return err_set(e, ERR_SERVER, "cannot start the header-deadline thread");
        }
        s->sweeping = true;
    }
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)ctx->cfg->threads,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)ctx->cfg->max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)ctx->cfg->max_connections_per_ip,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)ctx->cfg->timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)POOL_BYTES,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_UNESCAPE_CALLBACK, unescape,
        NULL, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log,
        s, MHD_OPTION_END);
    if (!s->d) {
        server_stop(s);
        return err_set(e, ERR_SERVER, "cannot listen on %s", ctx->cfg->listen);
    }
    *out = s;
    return 0;
}

void server_stop(server *s)
{
    if (!s)
        return;
    if (s->sweeping) {
        pthread_mutex_lock(&s->conn_lock);
        s->stopping = true;
        pthread_cond_signal(&s->sweep_cv);
        pthread_mutex_unlock(&s->conn_lock);
        pthread_join(s->sweeper, NULL);
    }
    if (s->d)
        MHD_stop_daemon(s->d); /* closes what is left: every conn_entry is freed on CLOSED */
    ratelimit_free(s->rl);
    pthread_cond_destroy(&s->sweep_cv);
    pthread_mutex_destroy(&s->conn_lock);
    free(s);
}
