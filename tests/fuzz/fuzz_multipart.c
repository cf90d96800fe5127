/*
 * fuzz_multipart.c: a multipart/form-data upload through the server's own code path. This
 * file includes src/http/server.c and runs a libmicrohttpd daemon (no listening socket) with
 * the server's connection options; each input is written as an HTTP request over a socketpair
 * handed to MHD_add_connection(), and the access handler takes the path on_request() takes for
 * an upload route: upload_start() creates the post processor exactly as the server does,
 * upload_feed() feeds it each piece of body, dispatch() ends it and gives the verdict, and
 * on_completed() cleans up. Only the route is the harness's: its upload handler records what
 * the server hands to a real one (api/upload.c's bundle_chunk).
 * Input: byte 0 picks the write piece size, then the Content-Type value up to '\n', then the
 * body. Invariants: every chunk belongs to a named part and continues it at the right offset;
 * chunk bytes are bytes of the body; abort() or finish() runs exactly once after begin(); and
 * finish(), which accepts the upload as complete, runs only for a body that carries its closing
 * delimiter "--BOUNDARY--" once any part data has been delivered (a cut-off body is refused).
 */
#include "../../src/http/server.c"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/un.h>

#include "fuzz.h"

typedef struct trace {
    const char *body;
    size_t body_len;
    int began, finished, aborted;
    size_t data_bytes;
    char *name, *file; /* of the part in progress (malloc'd: names have no bound) */
    bool has_file, in_part;
    uint64_t next_off;
} trace;

static trace T;
static struct MHD_Daemon *D;
static config fz_cfg;
static app fz_app;
static struct server fz_srv;

static int fz_begin(api_reply *r, api_call *c, void **state)
{
    (void)r;
    (void)c;
    T.began++;
    *state = &T;
    return 0;
}

static int fz_chunk(void *state, api_call *c, const api_part *part, const char *p, size_t n,
                    err *e)
{
    (void)c;
    (void)e;
    FUZZ_CHECK(state == &T && T.began == 1 && !T.finished && !T.aborted);
    FUZZ_CHECK(part != NULL && part->name != NULL);
    bool same = T.in_part && strcmp(T.name, part->name) == 0 &&
                T.has_file == (part->filename != NULL) &&
                (!part->filename || strcmp(T.file, part->filename) == 0);
    if (part->offset != 0) {
        FUZZ_CHECK(same); /* a continuation continues the part in progress */
        FUZZ_CHECK(part->offset == T.next_off);
    } else {
        free(T.name);
        free(T.file);
        T.name = strdup(part->name);
        T.has_file = part->filename != NULL;
        T.file = strdup(part->filename ? part->filename : "");
        T.in_part = true;
    }
    T.next_off = part->offset + n;
    if (n > 0) {
        FUZZ_CHECK(p != NULL);
        FUZZ_CHECK(memmem(T.body, T.body_len, p, n) != NULL);
    }
    T.data_bytes += n;
    FUZZ_CHECK(T.data_bytes <= T.body_len);
    return 0;
}

static int fz_finish(api_reply *r, api_call *c, void *state)
{
    (void)c;
    FUZZ_CHECK(state == &T && T.began == 1 && !T.finished && !T.aborted);
    T.finished++;
    r->status = 204;
    return 0;
}

static void fz_abort(void *state)
{
    FUZZ_CHECK(state == &T && T.began == 1 && !T.finished && !T.aborted);
    T.aborted++;
}

static const api_upload fz_upload = {fz_begin, fz_chunk, fz_finish, fz_abort, true};
static const route fz_route = {"POST", "/fuzz", NULL, ACCESS_PUBLIC, SCOPE_NONE, "fuzz",
                               &fz_upload, NULL};

/* on_request() for an upload route once router_match() and preflight() have passed. */
static enum MHD_Result fz_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)cls;
    (void)version;
    req *r = *con_cls;
    if (!r) {
        arena *a = arena_create();
        r = arena_new(a, req);
        r->a = a;
        r->srv = &fz_srv;
        r->started_us = time_mono_us();
        api_call *c = &r->call;
        c->app = &fz_app;
        c->a = a;
        c->method = arena_strdup(a, method);
        c->path = arena_strdup(a, url);
        c->header = conn_header;
        c->conn = conn;
        c->req_id = "fuzz";
        r->rt = &fz_route;
        r->route_name = fz_route.name;
        *con_cls = r;
        api_reply rep = {0};
        if (upload_start(conn, r, &rep) < 0) {
            r->early = rep;
            r->early_set = true;
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        r->bytes_in += n;
        if (r->status || r->early_set)
            return MHD_YES;
        upload_feed(r, upload_data, n);
        return MHD_YES;
    }
    if (r->status)
        return MHD_YES;
    if (r->early_set)
        return send_reply(conn, r, &r->early);
    return dispatch(conn, r);
}

static void quiet(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    (void)fmt;
    (void)ap;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_set_level(LOG_ERROR);
    signal(SIGPIPE, SIG_IGN); /* a daemon that answered early closes its end */
    fz_cfg.max_body = 1 << 20;
    fz_app.cfg = &fz_cfg;
    fz_srv.app = &fz_app;
    D = MHD_start_daemon(MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ERROR_LOG, 0, NULL, NULL, fz_request,
                         NULL, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)POOL_BYTES,
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, &fz_srv,
                         MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
                         MHD_OPTION_EXTERNAL_LOGGER, quiet, NULL, MHD_OPTION_END);
    if (!D)
        abort();
    return 0;
}

/* Writes p[0..n) to fd, running the daemon while the socket is full. */
static void put(int fd, const char *p, size_t n, size_t piece)
{
    while (n > 0) {
        size_t k = n < piece ? n : piece;
        ssize_t w = write(fd, p, k);
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            return;
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        }
        MHD_run(D);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 64 * 1024)
        return 0;
    size_t piece = (size_t)64 << (data[0] % 8);
    size_t ctn, bn;
    const uint8_t *b = fuzz_split(data + 1, size - 1, &ctn, &bn);
    char *ct = fuzz_strndup(data + 1, ctn);
    if (strpbrk(ct, "\r\0") || ctn != strlen(ct)) { /* one header line, as a client sends */
        free(ct);
        return 0;
    }
    memset(&T, 0, sizeof(T));
    T.body = (const char *)b;
    T.body_len = bn;

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        abort();
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    char head[1024];
    int hn = snprintf(head, sizeof(head),
                      "POST /fuzz HTTP/1.1\r\nHost: fuzz\r\nContent-Type: %.900s\r\n"
                      "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                      ct, bn);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (MHD_add_connection(D, sv[1], (struct sockaddr *)&sa, sizeof(sa)) != MHD_YES)
        abort();
    put(sv[0], head, (size_t)hn, piece);
    put(sv[0], (const char *)b, bn, piece);
    shutdown(sv[0], SHUT_WR);
    char reply[4096];
    size_t got = 0;
    for (int i = 0; i < 100000; i++) {
        MHD_run(D);
        ssize_t k = read(sv[0], reply + got, sizeof(reply) - 1 - got);
        if (k == 0)
            break;
        if (k > 0)
            got = (got + (size_t)k) % (sizeof(reply) - 1);
    }
    close(sv[0]);
    MHD_run(D);

    /* whatever happened, the upload was begun once and ended once */
    if (T.began) {
        FUZZ_CHECK(T.began == 1 && T.finished + T.aborted == 1);
        if (T.finished && T.data_bytes > 0) {
            const char *bd = strstr(ct, "boundary=");
            FUZZ_CHECK(bd != NULL);
            bd += 9;
            size_t bl = strlen(bd);
            if (bl > 1 && bd[0] == '"' && bd[bl - 1] == '"') { /* MHD unquotes it too */
                bd++;
                bl -= 2;
            }
            char *close_delim = malloc(bl + 5);
            memcpy(close_delim, "--", 2);
            memcpy(close_delim + 2, bd, bl);
            memcpy(close_delim + 2 + bl, "--", 3);
            FUZZ_CHECK(memmem(b, bn, close_delim, bl + 4) != NULL);
            free(close_delim);
        }
    }
    free(T.name);
    free(T.file);
    free(ct);
    return 0;
}
