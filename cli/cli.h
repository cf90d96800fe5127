/*
 * cli.h: what the parts of the `cairn` client share: the session (server, token, output mode),
 * the error record and exit codes, the libcurl request wrapper (http.c), hashing and progress
 * (transfer.c) and the push/pull commands. Single-threaded: nothing here is thread-safe.
 */
#ifndef CAIRN_CLI_H
#define CAIRN_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>

#define CLI_VERSION "0.1.0"
#define CLI_DEFAULT_SERVER "http://127.0.0.1:8080"

/* Exit codes: documented in `cairn --help`; scripts rely on them. */
enum {
    EXIT_OK = 0,
    EXIT_USAGE = 1,
    EXIT_AUTH = 2,      /* 401, 403 */
    EXIT_NOT_FOUND = 3, /* 404 */
    EXIT_CONFLICT = 4,  /* 409, 422 and other refusals of the request */
    EXIT_INTEGRITY = 5, /* a checksum mismatch */
    EXIT_NETWORK = 6,   /* connection failures, 5xx after retries */
};

/* Transient failures (connection errors, 5xx, 429) are retried this many times. */
#define CLI_RETRIES 5

/* An error: the exit code it leads to and a sentence for the user. */
typedef struct cli_err {
    int code;
    char msg[1024];
} cli_err;

/* The session: read-only after main() set it up, except the reused API handle. */
typedef struct cli {
    char *server;          /* no trailing slash */
    char *token;           /* NULL: anonymous */
    bool json;             /* machine output on stdout */
    bool progress;         /* stderr is a terminal: draw progress bars */
    curl_off_t limit_rate; /* bytes/s for transfers, 0: unlimited */
    CURL *h;               /* reused for API calls (keep-alive) */
} cli;

/* A response: status, body (NUL-terminated), parsed JSON when the body was JSON. */
typedef struct cli_resp {
    long status;
    char *body;
    size_t len;
    json_t *json;
    bool has_offset;
    uint64_t upload_offset; /* the Upload-Offset header */
    long retry_after;       /* seconds, 0 when absent */
    int curl_code;          /* CURLcode of a transport failure, 0 otherwise */
} cli_resp;

/* One request for http_do(). A body is either `body` (bytes in memory) or a region of `fd`. */
typedef struct http_req {
    const char *method;
    const char *url;
    const char *body;
    size_t body_len;
    const char *content_type;
    int fd; /* -1: no file body */
    uint64_t off, len;
    const char *const *headers; /* extra "Name: value" lines, NULL-terminated; may be NULL */
    bool auth;                  /* send the token */
    void (*on_progress)(void *ud, uint64_t sent);
    void *progress_ud;
} http_req;

/* Fills e and returns -1: `return cli_err_set(e, EXIT_USAGE, "...")`. */
int cli_err_set(cli_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Frees what a response holds and zeroes it; accepts a zeroed response. */
void cli_resp_free(cli_resp *r);

/* Performs one request on c->h. Returns 0 when a response arrived (any status) or -1 with
 * EXIT_NETWORK set for a transport failure. *out is the caller's to free. */
int http_do(cli_resp *out, cli *c, const http_req *rq, cli_err *e);

/* Fills e from a non-2xx response: the exit code of its status and the server's detail,
 * prefixed by `what` unless NULL. */
int http_fail(cli_err *e, const cli_resp *r, const char *what);

/* The exit code a status leads to. */
int http_status_exit(long status);

/* True for failures worth retrying: no response, 5xx, 429. */
bool http_is_transient(int rc, const cli_resp *r);

/* Sleeps before retry number `attempt` (1-based): 0.5 s doubling, or Retry-After. */
void http_backoff(int attempt, const cli_resp *r);

/* Calls the API at server + path with an optional JSON body. GETs (and requests that never
 * reached the server) are retried on transient failures. Returns 0 on 2xx; otherwise -1 with
 * e filled, and *out still holds the response (status 0 when none arrived). */
int api_request(cli_resp *out, cli *c, const char *method, const char *path, json_t *body,
                cli_err *e);

/* Percent-encodes s for a URL path; keeps '/' when keep_slash. Caller frees. */
char *url_escape(const char *s, bool keep_slash);

/* asprintf that aborts on OOM. Caller frees. */
char *xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* strdup that aborts on OOM. */
char *xstrdup(const char *s);

/* Monotonic seconds. */
double now_s(void);

/* Formats n bytes as "12.3 MB" into buf. */
const char *fmt_bytes(char *buf, size_t cap, double n);

/* Prints a JSON value on stdout, indented, with a newline. */
void print_json(const json_t *j);

/* ---- transfer.c ---- */

/* A progress bar on stderr; draws only when `on`. */
typedef struct progress {
    bool on;
    const char *label;
    uint64_t total;   /* bytes the bar goes to */
    uint64_t done;    /* bytes done, including `initial` */
    uint64_t initial; /* bytes already there when the run started (resumed) */
    double t0, last;
    bool drawn;
} progress;

void progress_start(progress *p, bool on, const char *label, uint64_t total, uint64_t initial);
/* Redraws at most 10 times a second, or now when force. */
void progress_draw(progress *p, bool force);
/* Draws the final state and ends the line. */
void progress_end(progress *p);

/* Hashes the first len bytes of fd into ctx (initialised by the caller) in 1 MiB blocks. */
int sha256_update_fd(EVP_MD_CTX *ctx, int fd, uint64_t len, progress *p, cli_err *e);
/* Hashes a whole file: hex is 65 bytes. Sets *size. */
int sha256_file(char hex[65], uint64_t *size, const char *path, progress *p, cli_err *e);
/* Finishes ctx into 64 lowercase hex digits. */
void sha256_hex(char hex[65], EVP_MD_CTX *ctx);

/* Parsed ORG/NAME[@REF]. */
typedef struct model_ref {
    char *org, *name, *ref; /* ref NULL when absent */
} model_ref;

/* Splits "org/name@ref"; requires ref when need_ref. */
int model_ref_parse(model_ref *out, const char *s, bool need_ref, cli_err *e);
void model_ref_free(model_ref *m);

/* `cairn push ORG/NAME@VERSION FILE... [--publish]`. */
int cmd_push(cli *c, const model_ref *m, char **files, int nfiles, bool publish, cli_err *e);
/* `cairn pull ORG/NAME[@REF] [-o DIR] [--device ID]`: with device, only the files of the
 * package the server's device-aware resolve picks. */
int cmd_pull(cli *c, const model_ref *m, const char *dir, const char *device, cli_err *e);

#endif
