/*
 * http.c: the client's libcurl wrapper: one request with a memory or file-region body,
 * mapping of statuses and the server's error envelope to exit codes, retries with backoff,
 * and small string helpers.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* API replies are held in memory; the manifest of a large catalog is the biggest. */
#define RESP_MAX (512u * 1024 * 1024)

int cli_err_set(cli_err *e, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    e->code = code;
    return -1;
}

char *xprintf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) {
        fputs("cairn: out of memory\n", stderr);
        abort();
    }
    return s;
}

char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d) {
        fputs("cairn: out of memory\n", stderr);
        abort();
    }
    return d;
}

double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *fmt_bytes(char *buf, size_t cap, double n)
{
    static const char *units[] = {"B", "kB", "MB", "GB", "TB"};
    size_t u = 0;
    while (n >= 1000.0 && u < 4) {
        n /= 1000.0;
        u++;
    }
    if (u == 0)
        snprintf(buf, cap, "%.0f B", n);
    else
        snprintf(buf, cap, "%.1f %s", n, units[u]);
    return buf;
}

void print_json(const json_t *j)
{
    json_dumpf(j, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY);
    fputc('\n', stdout);
    fflush(stdout);
}

char *url_escape(const char *s, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *o = malloc(n * 3 + 1), *p = o;
    if (!o)
        abort();
    for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
        unsigned char ch = *q;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~' || (keep_slash && ch == '/')) {
            *p++ = (char)ch;
        } else {
            *p++ = '%';
            *p++ = hex[ch >> 4];
            *p++ = hex[ch & 15];
        }
    }
    *p = '\0';
    return o;
}

void cli_resp_free(cli_resp *r)
{
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof(*r));
}

/* ---- one request ---- */

typedef struct xfer {
    cli_resp *out;
    size_t cap;
    bool too_big;
    const http_req *rq;
    uint64_t pos; /* bytes of the request body sent */
} xfer;

static size_t on_write(char *d, size_t sz, size_t nm, void *ud)
{
    xfer *x = ud;
    size_t n = sz * nm;
    cli_resp *r = x->out;
    if (r->len + n + 1 > RESP_MAX) {
        x->too_big = true;
        return 0;
    }
    if (r->len + n + 1 > x->cap) {
        size_t cap = x->cap ? x->cap : 4096;
        while (cap < r->len + n + 1)
            cap *= 2;
        char *nb = realloc(r->body, cap);
        if (!nb)
            return 0;
        r->body = nb;
        x->cap = cap;
    }
    memcpy(r->body + r->len, d, n);
    r->len += n;
    r->body[r->len] = '\0';
    return n;
}

static size_t on_header(char *d, size_t sz, size_t nm, void *ud)
{
    xfer *x = ud;
    size_t n = sz * nm;
    char line[256];
    if (n >= sizeof(line))
        return n;
    memcpy(line, d, n);
    line[n] = '\0';
    if (strncasecmp(line, "HTTP/", 5) == 0) { /* a new response (after 100 Continue) */
        x->out->has_offset = false;
        x->out->retry_after = 0;
    } else if (strncasecmp(line, "Upload-Offset:", 14) == 0) {
        x->out->upload_offset = strtoull(line + 14, NULL, 10);
        x->out->has_offset = true;
    } else if (strncasecmp(line, "Retry-After:", 12) == 0) {
        x->out->retry_after = strtol(line + 12, NULL, 10);
    }
    return n;
}

static size_t on_read(char *d, size_t sz, size_t nm, void *ud)
{
    xfer *x = ud;
    const http_req *rq = x->rq;
    size_t want = sz * nm;
    if (rq->len - x->pos < want)
        want = (size_t)(rq->len - x->pos);
    if (want == 0)
        return 0;
    if (rq->fd < 0) {
        memcpy(d, rq->body + x->pos, want);
    } else {
        ssize_t n;
        do
            n = pread(rq->fd, d, want, (off_t)(rq->off + x->pos));
        while (n < 0 && errno == EINTR);
        if (n <= 0)
            return CURL_READFUNC_ABORT; /* the file shrank or failed under us */
        want = (size_t)n;
    }
    x->pos += want;
    return want;
}

static int on_xferinfo(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    xfer *x = ud;
    if (x->rq->on_progress)
        x->rq->on_progress(x->rq->progress_ud, (uint64_t)ulnow);
    return 0;
}

int http_do(cli_resp *out, cli *c, const http_req *rq, cli_err *e)
{
    memset(out, 0, sizeof(*out));
    if (!c->h && !(c->h = curl_easy_init()))
        return cli_err_set(e, EXIT_NETWORK, "cannot initialise libcurl");
    CURL *h = c->h;
    curl_easy_reset(h);
    xfer x = {out, 0, false, rq, 0};
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *hs = NULL;
    char *auth = NULL;
    bool has_body = rq->fd >= 0 || rq->body;

    curl_easy_setopt(h, CURLOPT_URL, rq->url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 120L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "cairn/" CLI_VERSION);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
    if (strcmp(rq->method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(rq->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(rq->method, "POST") == 0 && rq->fd < 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(rq->body ? rq->body_len : 0));
    } else if (strcmp(rq->method, "DELETE") == 0 && !has_body) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
    } else { /* PUT, PATCH: a streamed body, possibly empty */
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, &x);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
                         (curl_off_t)(rq->fd >= 0 ? rq->len
                                      : rq->body  ? rq->body_len
                                                  : 0));
        if (strcmp(rq->method, "PUT") != 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
        if (c->limit_rate > 0)
            curl_easy_setopt(h, CURLOPT_MAX_SEND_SPEED_LARGE, c->limit_rate);
    }
    if (rq->on_progress) {
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_xferinfo);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, &x);
    }
    hs = curl_slist_append(hs, "Accept: application/json");
    hs = curl_slist_append(hs, "Expect:"); /* no 100-continue round trip */
    hs = curl_slist_append(hs, "X-Client-Version: " CLI_VERSION);
    if (rq->content_type) {
        char *ct = xprintf("Content-Type: %s", rq->content_type);
        hs = curl_slist_append(hs, ct);
        free(ct);
    } else if (rq->body) {
        hs = curl_slist_append(hs, "Content-Type: application/json");
    }
    if (rq->auth && c->token) {
        auth = xprintf("Authorization: Bearer %s", c->token);
        hs = curl_slist_append(hs, auth);
    }
    for (const char *const *p = rq->headers; p && *p; p++)
        hs = curl_slist_append(hs, *p);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hs);

    CURLcode cc = curl_easy_perform(h);
    curl_slist_free_all(hs);
    if (auth) {
        memset(auth, 0, strlen(auth));
        free(auth);
    }
    if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && x.too_big)) {
        cli_resp_free(out);
        out->curl_code = (int)cc;
        return cli_err_set(e, EXIT_NETWORK, "%s: %s", rq->url,
                           errbuf[0] ? errbuf : curl_easy_strerror(cc));
    }
    if (x.too_big) {
        cli_resp_free(out);
        return cli_err_set(e, EXIT_NETWORK, "%s: the reply is larger than %u bytes", rq->url,
                           RESP_MAX);
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    if (out->body && out->len > 0)
        out->json = json_loadb(out->body, out->len, JSON_DECODE_ANY, NULL);
    return 0;
}

/* ---- statuses and errors ---- */

int http_status_exit(long status)
{
    if (status == 401 || status == 403)
        return EXIT_AUTH;
    if (status == 404)
        return EXIT_NOT_FOUND;
    if (status == 429 || status >= 500 || status == 0)
        return EXIT_NETWORK;
    return EXIT_CONFLICT;
}

int http_fail(cli_err *e, const cli_resp *r, const char *what)
{
    const char *detail = json_string_value(json_object_get(r->json, "detail"));
    const char *type = json_string_value(json_object_get(r->json, "type"));
    char fields[512] = "";
    size_t used = 0;
    json_t *errs = json_object_get(r->json, "errors"), *it;
    size_t i;
    json_array_foreach(errs, i, it)
    {
        char loc[128] = "";
        size_t lu = 0, k;
        json_t *l;
        json_array_foreach(json_object_get(it, "loc"), k, l)
        {
            int w = json_is_string(l) ? snprintf(loc + lu, sizeof(loc) - lu, "%s%s", k ? "." : "",
                                                 json_string_value(l))
                                      : snprintf(loc + lu, sizeof(loc) - lu, "%s%lld", k ? "." : "",
                                                 (long long)json_integer_value(l));
            if (w < 0 || (size_t)w >= sizeof(loc) - lu)
                break;
            lu += (size_t)w;
        }
        const char *msg = json_string_value(json_object_get(it, "msg"));
        int w =
            snprintf(fields + used, sizeof(fields) - used, "; %s: %s", loc, msg ? msg : "invalid");
        if (w < 0 || (size_t)w >= sizeof(fields) - used)
            break;
        used += (size_t)w;
    }
    const char *sep = what ? ": " : "";
    what = what ? what : "";
    if (detail)
        return cli_err_set(e, http_status_exit(r->status), "%s%s%s%s (HTTP %ld %s)", what, sep,
                           detail, fields, r->status, type ? type : "error");
    return cli_err_set(e, http_status_exit(r->status), "%s%sHTTP %ld from the server", what, sep,
                       r->status);
}

bool http_is_transient(int rc, const cli_resp *r)
{
    return rc < 0 || r->status >= 500 || r->status == 429;
}

void http_backoff(int attempt, const cli_resp *r)
{
    double s = 0.5;
    for (int i = 1; i < attempt && s < 8.0; i++)
        s *= 2;
    if (r && r->retry_after > 0 && r->retry_after <= 60)
        s = (double)r->retry_after;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int api_request(cli_resp *out, cli *c, const char *method, const char *path, json_t *body,
                cli_err *e)
{
    char *url = xprintf("%s%s", c->server, path);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    bool idempotent = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    http_req rq = {method, url,  text, text ? strlen(text) : 0, NULL, -1, 0, 0, NULL,
                   true,   NULL, NULL};
    int rc = -1;
    for (int attempt = 0;; attempt++) {
        cli_resp_free(out);
        rc = http_do(out, c, &rq, e);
        /* A refused connection never reached the server: safe to retry any method. */
        bool unsent = rc < 0 && (out->curl_code == CURLE_COULDNT_CONNECT ||
                                 out->curl_code == CURLE_COULDNT_RESOLVE_HOST);
        bool again = http_is_transient(rc, out) && (idempotent || unsent);
        if (!again || attempt >= (unsent ? 2 : CLI_RETRIES))
            break;
        http_backoff(attempt + 1, out);
    }
    if (rc == 0 && (out->status < 200 || out->status > 299))
        rc = http_fail(e, out, NULL);
    free(url);
    free(text);
    return rc;
}
