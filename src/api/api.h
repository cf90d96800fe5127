/*
 * api.h: what http/ hands a handler (api_call) and what the handler gives back (api_reply).
 * Handlers know nothing of libmicrohttpd, so api/ is testable without a socket.
 */
#ifndef CAIRN_API_H
#define CAIRN_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "app.h"
#include "util/arena.h"
#include "util/err.h"

#define API_MAX_PARAMS 8
#define API_MAX_HEADERS 8

/* Who is calling, as resolved by http/auth. */
typedef struct api_caller {
    bool authenticated;
    bool server_admin;
    const char *token_id; /* NULL for CAIRN_ADMIN_TOKEN */
    const char *token_name; /* NULL for CAIRN_ADMIN_TOKEN */
    const char *org_id;   /* NULL for CAIRN_ADMIN_TOKEN */
    const char *org_slug;
    int role; /* 1 reader, 2 writer, 3 admin */
} api_caller;

typedef struct api_kv {
    const char *key, *value;
} api_kv;

typedef struct api_call {
    const app *app;
    arena *a;
    const char *req_id;
    const char *method;
    const char *path;
    api_kv params[API_MAX_PARAMS]; /* path parameters by name */
    size_t nparams;
    api_kv *query; /* every query argument, in order, repeats kept */
    size_t nquery;
    json_t *body; /* parsed JSON object, or NULL when the request had none */
    const char *raw_body; /* the unparsed body, for routes of a raw_body door */
    size_t raw_body_len;
    int min_role; /* the route's declared role (ROLE_*), 0 when it needs none */
    api_caller caller;
    int64_t catalog_rev; /* the catalog revision read with the caller's token (0: not read) */
    int64_t min_rev; /* X-Cairn-Min-Revision: answer from this catalog revision or a later one */
    /* Returns a request header (case-insensitive) or NULL. */
    const char *(*header)(const struct api_call *c, const char *name);
    void *conn; /* http/'s handle for header() */
    void *cache_fill; /* api/common.c: the pending response-cache fill, if any */
} api_call;

/* A body produced piece by piece (export.csv): read() fills up to max bytes and returns the
 * count, 0 at the end, or -1 on error (the connection is then closed); done() frees ctx.
 * Both run on the request's thread. */
typedef struct api_stream {
    long (*read)(void *ctx, char *buf, size_t max);
    void (*done)(void *ctx);
    void *ctx;
    uint64_t size; /* the body's length when known (sent as Content-Length), else 0 */
} api_stream;

/* A reply from a file descriptor (downloads): http/ applies Range and sends it zero-copy. */
typedef struct api_file {
    bool set;
    int fd; /* http/ closes it */
    uint64_t size;
    const char *etag; /* quoted */
} api_file;

/* Runs after the response was sent: ok is true when the whole body reached the client. */
typedef struct api_done {
    void (*fn)(const app *ap, void *ctx, bool ok, bool full);
    void *ctx; /* lives in the request arena */
} api_done;

typedef struct api_reply {
    int status;   /* 0 until set; 200 by default on success */
    json_t *body; /* owned by the reply (http/ decrefs it) */
    err e;        /* filled when the handler returns -1 */
    const char *etag; /* quoted strong ETag, or NULL */
    api_kv headers[API_MAX_HEADERS];
    size_t nheaders;
    const char *content_type; /* for raw/stream bodies */
    const char *raw;          /* a non-JSON body in the arena, raw_len bytes */
    size_t raw_len;
    void (*raw_release)(void *raw); /* set: raw is shared, sent without a copy, released
                                     * with this once sent (or dropped) */
    api_stream stream; /* set stream.read for a streamed body */
    api_file file;     /* set file.fd >= 0 for a file body */
    api_done done;
} api_reply;

/* One part of a multipart/form-data body, as streamed to an upload handler. */
typedef struct api_part {
    const char *name;     /* form field name */
    const char *filename; /* NULL for plain fields */
    uint64_t offset;      /* of this data within the part: 0 starts a new part */
} api_part;

/* A handler whose request body is streamed to it chunk by chunk (uploads of any size).
 * begin() runs after auth, before any body byte is read; it validates the request and sets
 * *state. chunk() gets each piece (part is NULL for raw bodies). finish() runs when the body is
 * complete and fills the reply. abort() runs instead of finish() if the request ends early or
 * failed; it must accept the state begin() left. A failing begin() or chunk() answers with its
 * error at once and the rest of the body is discarded. */
typedef struct api_upload {
    int (*begin)(api_reply *r, api_call *c, void **state);
    int (*chunk)(void *state, api_call *c, const api_part *part, const char *p, size_t n,
                 err *e);
    int (*finish)(api_reply *r, api_call *c, void *state);
    void (*abort)(void *state);
    bool multipart;
} api_upload;

typedef int (*api_handler)(api_reply *r, api_call *c);

/* A protocol adapter's conventions (seed-002 RPC, Hugging Face, OCI): routes that carry one
 * get their errors, including the ones http/ raises before the handler (auth, roles, limits),
 * rendered by error(), which sets r->body/status/headers from r->e; with raw_body the request
 * body is not parsed as JSON but handed over as c->raw_body / c->raw_body_len. */
typedef struct api_door {
    const char *name;
    bool raw_body;
    void (*error)(api_reply *r, api_call *c);
    const char *kind; /* set: its paths carry no {kind}; http/ adds this one (OCI: "models") */
    int64_t min_body; /* its buffered bodies may be this large whatever --max-body says */
} api_door;

/* Returns path parameter `name` or NULL. */
const char *api_param(const api_call *c, const char *name);
/* Returns the first query argument `name` or NULL. */
const char *api_query(const api_call *c, const char *name);
/* Adds a response header (strings must outlive the reply: use the arena). */
void api_header(api_reply *r, const char *name, const char *value);
/* Sets status and body (takes the reference); returns 0. */
int api_json(api_reply *r, int status, json_t *body);

#endif
