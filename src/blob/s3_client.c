/*
 * s3_client.c: S3 requests for the S3 blob backend: signing (sigv4.c), a pool of curl easy
 * handles, retries and error mapping, streams to one object (single PUT or multipart upload),
 * server-side copies and ListObjectsV2 listings. The backend's operations are in blob_s3.c.
 */
#include "blob/s3_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/crypto.h"
#include "util/log.h"
#include "util/timeutil.h"

/* ================================ requests ================================ */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void s3_curl_init_once(void)
{
    pthread_once(&curl_once, curl_init);
}

static CURL *pool_get(s3 *s)
{
    CURL *h = NULL;
    pthread_mutex_lock(&s->lock);
    if (s->npool > 0)
        h = s->pool[--s->npool];
    pthread_mutex_unlock(&s->lock);
    return h ? h : curl_easy_init();
}

static void pool_put(s3 *s, CURL *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&s->lock);
    if (s->npool < POOL_MAX) {
        s->pool[s->npool++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&s->lock);
    if (h)
        curl_easy_cleanup(h);
}

static bool status_ok(long st)
{
    return st >= 200 && st < 300;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    s3_call *c = ud;
    size_t n = size * nmemb;
    long st = 0;
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &st);
    c->status = st;
    if (!status_ok(st)) { /* an error document: keep its start for the log */
        size_t take = n < ERRBODY_MAX - 1 - c->errlen ? n : ERRBODY_MAX - 1 - c->errlen;
        memcpy(c->errbody + c->errlen, p, take);
        c->errlen += take;
        c->errbody[c->errlen] = '\0';
        return n;
    }
    c->got += n;
    if (c->md && EVP_DigestUpdate(c->md, p, n) != 1) {
        c->sink_failed = true;
        return 0;
    }
    if (c->fd >= 0) {
        const char *q = p;
        size_t left = n;
        while (left > 0) {
            ssize_t w = write(c->fd, q, left);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                c->sink_failed = true;
                return 0;
            }
            q += w;
            left -= (size_t)w;
        }
    }
    if (c->want_xml) {
        if (c->xml_len + n > XML_MAX) {
            c->sink_failed = true;
            return 0;
        }
        char *nx = realloc(c->xml, c->xml_len + n + 1);
        if (!nx) {
            c->sink_failed = true;
            return 0;
        }
        c->xml = nx;
        memcpy(c->xml + c->xml_len, p, n);
        c->xml_len += n;
        c->xml[c->xml_len] = '\0';
    }
    if (c->buf) {
        size_t take = n < c->buf_cap - c->buf_len ? n : c->buf_cap - c->buf_len;
        memcpy(c->buf + c->buf_len, p, take);
        c->buf_len += take;
    }
    return n;
}

static bool header_is(const char *line, size_t n, const char *name, const char **val)
{
    size_t k = strlen(name);
    if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
        return false;
    *val = line + k + 1;
    while (**val == ' ')
        (*val)++;
    return true;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    s3_call *c = ud;
    size_t n = size * nmemb;
    char line[512];
    size_t k = n < sizeof(line) - 1 ? n : sizeof(line) - 1;
    memcpy(line, p, k);
    while (k > 0 && (line[k - 1] == '\r' || line[k - 1] == '\n'))
        k--;
    line[k] = '\0';
    const char *v;
    if (strncmp(line, "HTTP/", 5) == 0) { /* a new response (after a 100 Continue, say) */
        const char *sp = strchr(line, ' ');
        c->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        c->has_total = false;
        c->length = 0;
        c->mtime_ms = 0;
        c->etag[0] = '\0';
    } else if (header_is(line, k, "content-length", &v)) {
        c->length = strtoull(v, NULL, 10);
    } else if (header_is(line, k, "content-range", &v)) {
        const char *slash = strchr(v, '/');
        if (slash && slash[1] != '*') {
            c->total = strtoull(slash + 1, NULL, 10);
            c->has_total = true;
        }
    } else if (header_is(line, k, "etag", &v)) {
        snprintf(c->etag, sizeof(c->etag), "%s", v);
    } else if (header_is(line, k, "last-modified", &v)) {
        time_t t = curl_getdate(v, NULL);
        /* a far-future date (year 300,000,000) would overflow the multiplication */
        c->mtime_ms = t > 0 && (int64_t)t <= INT64_MAX / 1000 ? (int64_t)t * 1000 : 0;
    }
    return n;
}

static size_t on_read(char *p, size_t size, size_t nmemb, void *ud)
{
    s3_call *c = ud;
    size_t n = size * nmemb, left = c->body_len - c->body_off;
    if (n > left)
        n = left;
    if (c->body_fd >= 0) {
        ssize_t r;
        while ((r = pread(c->body_fd, p, n, (off_t)c->body_off)) < 0 && errno == EINTR)
            ;
        if (r <= 0 && n > 0) {
            c->sink_failed = true;
            return CURL_READFUNC_ABORT;
        }
        n = (size_t)r;
    } else if (n > 0) {
        memcpy(p, c->body + c->body_off, n);
    }
    c->body_off += n;
    return n;
}

/* Writes the encoded path "/bucket/key" of c into out. */
int s3_enc_path(char *out, size_t cap, const s3 *s, const char *key)
{
    char raw[KEY_MAX + 128];
    int n = key ? snprintf(raw, sizeof(raw), "/%s/%s", s->bucket, key)
                : snprintf(raw, sizeof(raw), "/%s", s->bucket);
    if (n < 0 || (size_t)n >= sizeof(raw))
        return -1;
    return sigv4_encode(out, cap, raw, true);
}

/* Clears what a previous attempt received. */
static int reset_sinks(s3_call *c)
{
    c->status = 0;
    c->length = c->total = c->got = 0;
    c->has_total = false;
    c->mtime_ms = 0;
    c->etag[0] = '\0';
    c->errlen = 0;
    c->errbody[0] = '\0';
    c->sink_failed = false;
    c->body_off = 0;
    c->xml_len = 0;
    c->buf_len = 0;
    if (c->fd >= 0 && (ftruncate(c->fd, 0) < 0 || lseek(c->fd, 0, SEEK_SET) < 0))
        return -1;
    if (c->md && EVP_DigestInit_ex(c->md, EVP_sha256(), NULL) != 1)
        return -1;
    return 0;
}

/* One attempt: builds, signs and performs the request on h. */
static CURLcode attempt(s3 *s, s3_call *c, CURL *h)
{
    char path[KEY_MAX * 3 + 256], query[URL_MAX], url[URL_MAX * 2], date[SIGV4_DATE_MAX];
    char auth[1024];
    const char *payload = c->body || strcmp(c->method, "PUT") == 0 || strcmp(c->method, "POST") == 0
                              ? SIGV4_UNSIGNED
                              : SIGV4_EMPTY_SHA256;
    if (s3_enc_path(path, sizeof(path), s, c->key) < 0 ||
        sigv4_query(query, sizeof(query), c->query, c->nq) < 0)
        return CURLE_URL_MALFORMAT;
    snprintf(url, sizeof(url), "%s%s%s%s", s->endpoint, path, query[0] ? "?" : "", query);
    sigv4_amz_date(date, time_now_ms() / 1000);

    sigv4_pair hv[16];
    size_t nh = 0;
    hv[nh++] = (sigv4_pair){"host", s->host};
    hv[nh++] = (sigv4_pair){"x-amz-date", date};
    hv[nh++] = (sigv4_pair){"x-amz-content-sha256", payload};
    if (s->token)
        hv[nh++] = (sigv4_pair){"x-amz-security-token", s->token};
    for (size_t i = 0; i < c->nh && nh < 16; i++)
        hv[nh++] = c->hdrs[i];
    sigv4_creds cr = {s->access, s->secret, s->region};
    if (sigv4_authorization(auth, sizeof(auth), &cr, date, c->method, path, query, hv, nh,
                            payload) < 0)
        return CURLE_URL_MALFORMAT;

    struct curl_slist *hl = NULL;
    char line[2048];
    for (size_t i = 0; i < nh; i++) {
        snprintf(line, sizeof(line), "%s: %s", hv[i].name, hv[i].value);
        hl = curl_slist_append(hl, line);
    }
    snprintf(line, sizeof(line), "Authorization: %s", auth);
    hl = curl_slist_append(hl, line);
    hl = curl_slist_append(hl, "Expect:"); /* unsigned: it only removes curl's own header */
    if (c->body || strcmp(c->method, "PUT") == 0 || strcmp(c->method, "POST") == 0)
        hl = curl_slist_append(hl, "Content-Type: application/octet-stream");

    curl_easy_reset(h);
    c->h = h;
    long t = c->timeout_s > 0 ? c->timeout_s : s->timeout_s;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (s->timeout_s < 5 ? s->timeout_s : 5) * 1000L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, t);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
    if (strcmp(c->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(c->method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, c);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)c->body_len);
    } else if (strcmp(c->method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body ? (const char *)c->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body_len);
    } else if (strcmp(c->method, "DELETE") == 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
    }
    CURLcode rc = curl_easy_perform(h);
    long st = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
    if (st)
        c->status = st;
    curl_slist_free_all(hl);
    return rc;
}

static bool transient(CURLcode rc)
{
    return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
           rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING ||
           rc == CURLE_PARTIAL_FILE;
}

/* Copies the text of the first <tag>...</tag> at or after *pos in xml into out (entities
 * decoded), moving *pos past it. A small bounded extractor: S3's replies are flat. */
bool s3_xml_tag(const char *xml, size_t *pos, const char *tag, char *out, size_t cap)
{
    char open[64], close[64];
    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    const char *a = strstr(xml + *pos, open);
    if (!a)
        return false;
    a += strlen(open);
    const char *b = strstr(a, close);
    if (!b)
        return false;
    size_t n = 0;
    for (const char *p = a; p < b && n + 1 < cap; p++) {
        static const struct {
            const char *ent;
            char c;
        } ents[] = {
            {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
        char ch = *p;
        if (ch == '&')
            for (size_t i = 0; i < 5; i++)
                if (strncmp(p, ents[i].ent, strlen(ents[i].ent)) == 0) {
                    ch = ents[i].c;
                    p += strlen(ents[i].ent) - 1;
                    break;
                }
        out[n++] = ch;
    }
    if (cap)
        out[n] = '\0';
    *pos = (size_t)(b - xml) + strlen(close);
    return true;
}

/* Logs a failed s3_call and fills e: 404 ERR_NOT_FOUND (no log), timeouts 504, the rest 502. */
static int fail(const s3 *s, const s3_call *c, CURLcode rc, const char *op, err *e)
{
    const char *key = c->key ? c->key : "";
    if (rc == CURLE_OK && c->sink_failed)
        rc = CURLE_WRITE_ERROR;
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        log_error(NULL, "s3.timeout", "s:s, s:s, s:s, s:s", "op", op, "method", c->method, "key",
                  key, "endpoint", s->endpoint);
        return err_set(e, ERR_GATEWAY_TIMEOUT, "the object store timed out");
    }
    if (rc == CURLE_WRITE_ERROR && c->sink_failed) {
        log_error(NULL, "s3.sink_failed", "s:s, s:s, s:i", "op", op, "key", key, "errno", errno);
        return err_set(e, ERR_SERVER, "blob store read failed");
    }
    if (rc != CURLE_OK) {
        log_error(NULL, "s3.unreachable", "s:s, s:s, s:s, s:s, s:s", "op", op, "method", c->method,
                  "key", key, "endpoint", s->endpoint, "error", curl_easy_strerror(rc));
        return err_set(e, ERR_S3, "the object store is unreachable");
    }
    if (c->status == 404 && c->key)
        return err_set(e, ERR_NOT_FOUND, "blob not found");
    char code[64] = "", msg[256] = "";
    size_t pos = 0;
    s3_xml_tag(c->errbody, &pos, "Code", code, sizeof(code));
    pos = 0;
    s3_xml_tag(c->errbody, &pos, "Message", msg, sizeof(msg));
    log_error(NULL, "s3.error", "s:s, s:s, s:s, s:i, s:s, s:s", "op", op, "method", c->method,
              "key", key, "status", (int)c->status, "code", code, "message", msg);
    return err_set(e, ERR_S3, "the object store failed the request");
}

/* Performs c with retries: 0 on a 2xx answer, else -1 with e filled by fail(). */
int s3_run(s3 *s, s3_call *c, const char *op, err *e)
{
    CURL *h = pool_get(s);
    if (!h)
        return err_set(e, ERR_SERVER, "out of memory");
    CURLcode rc = CURLE_OK;
    for (int i = 0; i < TRIES; i++) {
        if (reset_sinks(c) < 0) {
            c->sink_failed = true;
            rc = CURLE_WRITE_ERROR;
            break;
        }
        rc = attempt(s, c, h);
        bool again = c->retry && i + 1 < TRIES &&
                     ((rc != CURLE_OK && transient(rc) && !c->sink_failed) ||
                      (rc == CURLE_OK && c->status >= 500 && c->status != 501));
        if (!again)
            break;
        log_warn(NULL, "s3.retry", "s:s, s:i, s:i", "op", op, "status", (int)c->status, "curl",
                 (int)rc);
        struct timespec ts = {0, (i == 0 ? 100 : 400) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (rc != CURLE_OK || c->sink_failed) {
        /* a connection in an unknown state is not reused */
        curl_easy_cleanup(h);
        return fail(s, c, rc, op, e);
    }
    pool_put(s, h);
    if (!status_ok(c->status))
        return fail(s, c, rc, op, e);
    /* CopyObject and CompleteMultipartUpload may fail after a 200 */
    if (c->want_xml && c->xml && strstr(c->xml, "<Error>")) {
        size_t n = c->xml_len < ERRBODY_MAX - 1 ? c->xml_len : ERRBODY_MAX - 1;
        memcpy(c->errbody, c->xml, n);
        c->errbody[n] = '\0';
        c->status = 500;
        return fail(s, c, CURLE_OK, op, e);
    }
    return 0;
}

s3_call s3_call_new(const char *method, const char *key)
{
    s3_call c;
    memset(&c, 0, sizeof(c));
    c.method = method;
    c.key = key;
    c.fd = -1;
    c.body_fd = -1;
    c.retry = true;
    return c;
}

/* Writes the full object key PREFIX + rel into out. */
void s3_full_key(char *out, size_t cap, const s3 *s, const char *rel)
{
    snprintf(out, cap, "%s%s", s->prefix, rel);
}

/* HEAD: 1 if present (size, mtime), 0 if absent, -1 on failure. */
int s3_head(uint64_t *size, int64_t *mtime_ms, s3 *s, const char *key, err *e)
{
    s3_call c = s3_call_new("HEAD", key);
    if (s3_run(s, &c, "head", e) < 0) {
        if (e->kind == ERR_NOT_FOUND) {
            err_clear(e);
            return 0;
        }
        return -1;
    }
    if (size)
        *size = c.length;
    if (mtime_ms)
        *mtime_ms = c.mtime_ms;
    return 1;
}

int s3_del(s3 *s, const char *key, err *e)
{
    s3_call c = s3_call_new("DELETE", key);
    if (s3_run(s, &c, "delete", e) < 0) {
        if (e->kind == ERR_NOT_FOUND) {
            err_clear(e);
            return 0;
        }
        return -1;
    }
    return 0;
}

/* Deletes key, logging (not failing) on error: for temporaries GC would sweep anyway. */
void s3_del_quiet(s3 *s, const char *key)
{
    err e = {0};
    if (s3_del(s, key, &e) < 0)
        log_warn(NULL, "s3.delete_failed", "s:s", "key", key);
}

/* ============================ multipart streams ============================ */

/* Bytes streamed to one object: a single PUT if they fit in one part, else a multipart
 * upload with parts of part_size, growing every 1000 parts so 10000 parts reach ~860 GiB at
 * the default. Memory stays constant: a part's first MEM_PART bytes are buffered, a larger
 * part is spooled to an unlinked file in the cache directory (page cache, not RSS) and sent
 * from there. */

static size_t part_target(const s3_mpu *m)
{
    return (size_t)(m->s->part_size * (1 + m->nparts / 1000));
}

/* Starts a multipart upload of key: fills upload_id (cap bytes). */
static int multipart_start(char *upload_id, size_t cap, s3 *s, const char *key, err *e)
{
    sigv4_pair q = {"uploads", ""};
    s3_call c = s3_call_new("POST", key);
    c.query = &q;
    c.nq = 1;
    c.want_xml = true;
    c.retry = false;
    int rc = s3_run(s, &c, "multipart_start", e);
    size_t pos = 0;
    if (rc == 0 &&
        (!c.xml || !s3_xml_tag(c.xml, &pos, "UploadId", upload_id, cap) || !upload_id[0])) {
        log_error(NULL, "s3.bad_reply", "s:s, s:s", "op", "multipart_start", "key", key);
        rc = err_set(e, ERR_S3, "the object store failed the request");
    }
    free(c.xml);
    return rc;
}

/* Completes upload_id of key with n parts whose ETags are etags[]. */
static int multipart_complete(s3 *s, const char *key, const char *upload_id, char (*etags)[80],
                              size_t n, err *e)
{
    size_t cap = 128 + n * 160;
    char *body = malloc(cap);
    if (!body)
        return err_set(e, ERR_SERVER, "out of memory");
    size_t len = (size_t)snprintf(body, cap, "<CompleteMultipartUpload>");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(body + len, cap - len,
                                "<Part><PartNumber>%zu</PartNumber><ETag>%s</ETag></Part>", i + 1,
                                etags[i]);
    len += (size_t)snprintf(body + len, cap - len, "</CompleteMultipartUpload>");
    sigv4_pair q = {"uploadId", upload_id};
    s3_call c = s3_call_new("POST", key);
    c.query = &q;
    c.nq = 1;
    c.body = (const uint8_t *)body;
    c.body_len = len;
    c.want_xml = true;
    c.timeout_s = SLOW_OP_S;
    int rc = s3_run(s, &c, "multipart_complete", e);
    free(c.xml);
    free(body);
    return rc;
}

/* Aborts upload_id of key; stores that cannot (s3rver) keep the parts until swept. */
void s3_multipart_abort(s3 *s, const char *key, const char *upload_id)
{
    err e = {0};
    sigv4_pair q = {"uploadId", upload_id};
    s3_call c = s3_call_new("DELETE", key);
    c.query = &q;
    c.nq = 1;
    if (s3_run(s, &c, "multipart_abort", &e) < 0)
        log_warn(NULL, "s3.abort_failed", "s:s", "key", key);
}

static int etag_slot(s3_mpu *m, err *e)
{
    if (m->nparts == MAX_PARTS)
        return err_set(e, ERR_TOO_LARGE, "blob exceeds the object store's multipart limit");
    if (m->nparts == m->etcap) {
        size_t ncap = m->etcap ? m->etcap * 2 : 64;
        void *ne = realloc(m->etags, ncap * sizeof(*m->etags));
        if (!ne)
            return err_set(e, ERR_SERVER, "out of memory");
        m->etags = ne;
        m->etcap = ncap;
    }
    return 0;
}

/* Points c's body at the current part. */
static void mpu_body(s3_call *c, const s3_mpu *m)
{
    if (m->spilled)
        c->body_fd = m->fd;
    else
        c->body = m->buf;
    c->body_len = m->len;
}

/* PUTs the current part as the whole object key. */
int s3_mpu_put_whole(s3_mpu *m, const char *key, err *e)
{
    s3_call c = s3_call_new("PUT", key);
    mpu_body(&c, m);
    return s3_run(m->s, &c, "put", e);
}

static int pwrite_all(int fd, const uint8_t *p, size_t n, uint64_t off)
{
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

/* Moves the buffered start of the current part into the spool file. */
static int mpu_spill(s3_mpu *m, err *e)
{
    if (m->fd < 0) {
        m->fd = open(m->s->cache, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (m->fd < 0) { /* no O_TMPFILE here: a named file, unlinked at once */
            char p[4096];
            snprintf(p, sizeof(p), "%s/.spool-XXXXXX", m->s->cache);
            m->fd = mkostemp(p, O_CLOEXEC);
            if (m->fd >= 0)
                unlink(p);
        }
    }
    if (m->fd < 0 || ftruncate(m->fd, 0) < 0 || pwrite_all(m->fd, m->buf, m->len, 0) < 0) {
        log_error(NULL, "s3.spool_io", "s:s, s:i", "dir", m->s->cache, "errno", errno);
        return err_set(e, ERR_SERVER, "blob store write failed");
    }
    m->spilled = true;
    return 0;
}

/* Sends the buffered bytes as the next part. */
static int mpu_part(s3_mpu *m, err *e)
{
    if (!m->upload_id[0] &&
        multipart_start(m->upload_id, sizeof(m->upload_id), m->s, m->key, e) < 0)
        return -1;
    if (etag_slot(m, e) < 0)
        return -1;
    char num[16];
    snprintf(num, sizeof(num), "%zu", m->nparts + 1);
    sigv4_pair q[] = {{"partNumber", num}, {"uploadId", m->upload_id}};
    s3_call c = s3_call_new("PUT", m->key);
    c.query = q;
    c.nq = 2;
    mpu_body(&c, m);
    if (s3_run(m->s, &c, "multipart_part", e) < 0)
        return -1;
    if (!c.etag[0]) {
        log_error(NULL, "s3.bad_reply", "s:s, s:s", "op", "multipart_part", "key", m->key);
        return err_set(e, ERR_S3, "the object store failed the request");
    }
    snprintf(m->etags[m->nparts], sizeof(m->etags[0]), "%s", c.etag);
    m->nparts++;
    m->len = 0;
    m->spilled = false;
    return 0;
}

void s3_mpu_init(s3_mpu *m, s3 *s)
{
    memset(m, 0, sizeof(*m));
    m->s = s;
    m->fd = -1;
}

int s3_mpu_write(s3_mpu *m, const void *p, size_t n, err *e)
{
    const uint8_t *src = p;
    while (n > 0) {
        size_t target = part_target(m);
        if (m->len == target && mpu_part(m, e) < 0)
            return -1;
        size_t take = n < target - m->len ? n : target - m->len;
        if (!m->spilled && m->len + take <= MEM_PART) {
            if (m->len + take > m->cap) {
                size_t ncap = m->cap ? m->cap : 64 * 1024;
                while (ncap < m->len + take)
                    ncap *= 2;
                uint8_t *nb = realloc(m->buf, ncap < MEM_PART ? ncap : MEM_PART);
                if (!nb)
                    return err_set(e, ERR_SERVER, "out of memory");
                m->buf = nb;
                m->cap = ncap < MEM_PART ? ncap : MEM_PART;
            }
            memcpy(m->buf + m->len, src, take);
        } else {
            if (!m->spilled && mpu_spill(m, e) < 0)
                return -1;
            if (pwrite_all(m->fd, src, take, m->len) < 0) {
                log_error(NULL, "s3.spool_io", "s:s, s:i", "dir", m->s->cache, "errno", errno);
                return err_set(e, ERR_SERVER, "blob store write failed");
            }
        }
        m->len += take;
        m->total += take;
        src += take;
        n -= take;
    }
    return 0;
}

/* Stores everything under m->key: the last part and a complete, or one PUT. */
int s3_mpu_finish(s3_mpu *m, err *e)
{
    if (!m->upload_id[0])
        return s3_mpu_put_whole(m, m->key, e);
    if (m->len > 0 && mpu_part(m, e) < 0)
        return -1;
    return multipart_complete(m->s, m->key, m->upload_id, m->etags, m->nparts, e);
}

void s3_mpu_abort(s3_mpu *m)
{
    if (m->upload_id[0])
        s3_multipart_abort(m->s, m->key, m->upload_id);
    m->upload_id[0] = '\0';
}

void s3_mpu_free(s3_mpu *m)
{
    free(m->buf);
    free(m->etags);
    if (m->fd >= 0)
        close(m->fd);
    m->buf = NULL;
    m->etags = NULL;
    m->fd = -1;
}

/* Copies src to dst inside the bucket: one CopyObject, or UploadPartCopy pieces above
 * copy_max (S3 copies at most 5 GiB at once). */
static int copy_object(s3 *s, const char *dst, const char *src, uint64_t size, err *e)
{
    char source[KEY_MAX * 3 + 128], raw[KEY_MAX + 128];
    snprintf(raw, sizeof(raw), "/%s/%s", s->bucket, src);
    if (sigv4_encode(source, sizeof(source), raw, true) < 0)
        return err_set(e, ERR_SERVER, "object key too long");
    if (size <= s->copy_max) {
        sigv4_pair h = {"x-amz-copy-source", source};
        s3_call c = s3_call_new("PUT", dst);
        c.hdrs = &h;
        c.nh = 1;
        c.want_xml = true;
        c.timeout_s = SLOW_OP_S;
        int rc = s3_run(s, &c, "copy", e);
        free(c.xml);
        return rc;
    }
    s3_mpu m;
    s3_mpu_init(&m, s);
    snprintf(m.key, sizeof(m.key), "%s", dst);
    int rc = -1;
    uint64_t piece = s->copy_max < GIB ? s->copy_max : GIB;
    if (piece < s->part_size) /* S3 wants parts of 5 MiB or more but the last */
        piece = s->part_size;
    if (multipart_start(m.upload_id, sizeof(m.upload_id), s, dst, e) < 0)
        goto out;
    for (uint64_t off = 0; off < size; off += piece) {
        uint64_t last = (off + piece < size ? off + piece : size) - 1;
        char num[16], range[64];
        if (etag_slot(&m, e) < 0)
            goto out;
        snprintf(num, sizeof(num), "%zu", m.nparts + 1);
        snprintf(range, sizeof(range), "bytes=%llu-%llu", (unsigned long long)off,
                 (unsigned long long)last);
        sigv4_pair q[] = {{"partNumber", num}, {"uploadId", m.upload_id}};
        sigv4_pair h[] = {{"x-amz-copy-source", source}, {"x-amz-copy-source-range", range}};
        s3_call c = s3_call_new("PUT", dst);
        c.query = q;
        c.nq = 2;
        c.hdrs = h;
        c.nh = 2;
        c.want_xml = true;
        c.timeout_s = SLOW_OP_S;
        int r = s3_run(s, &c, "copy_part", e);
        size_t pos = 0;
        char etag[80] = "";
        if (r == 0 && (!c.xml || !s3_xml_tag(c.xml, &pos, "ETag", etag, sizeof(etag)))) {
            log_error(NULL, "s3.bad_reply", "s:s, s:s", "op", "copy_part", "key", dst);
            r = err_set(e, ERR_S3, "the object store failed the request");
        }
        free(c.xml);
        if (r < 0)
            goto out;
        snprintf(m.etags[m.nparts++], sizeof(m.etags[0]), "%s", etag);
    }
    rc = multipart_complete(s, dst, m.upload_id, m.etags, m.nparts, e);
out:
    if (rc < 0)
        s3_mpu_abort(&m);
    s3_mpu_free(&m);
    return rc;
}

/* Makes the complete object tmp (size bytes) the blob named hex: kept if that blob exists
 * (*dedup), else copied. tmp is deleted either way. */
int s3_fresh(s3 *s, const char *key, err *e)
{
    int64_t mtime = 0;
    int have = s3_head(NULL, &mtime, s, key, e);
    if (have <= 0)
        return have;
    return time_now_ms() - mtime < S3_REFRESH_AFTER_MS ? 1 : 0;
}

int s3_publish_copy(s3 *s, const char *tmp, uint64_t size, const char *hex, bool *dedup, err *e)
{
    char rel[BLOB_KEY_MAX], key[KEY_MAX];
    blob_key_of(rel, sizeof(rel), hex);
    s3_full_key(key, sizeof(key), s, rel);
    int have = s3_fresh(s, key, e); /* an older blob is copied over: its age is refreshed */
    int rc = -1;
    if (have < 0)
        goto out;
    *dedup = have == 1;
    if (!*dedup && copy_object(s, key, tmp, size, e) < 0)
        goto out;
    rc = 0;
out:
    s3_del_quiet(s, tmp);
    return rc;
}

/* ================================ listings ================================ */

/* Parses "2026-11-24T10:00:00.000Z". */
int64_t s3_iso_ms(const char *t)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    int ms = 0;
    if (sscanf(t, "%d-%d-%dT%d:%d:%d.%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &ms) < 6 ||
        tm.tm_year < 1970 || tm.tm_year > 9999) /* and tm_year - 1900 cannot overflow */
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000 + ms;
}

/* Parses one ListObjectsV2 page xml: calls fn for each <Contents> in order, then writes the
 * NextContinuationToken into next (cap bytes) if IsTruncated is true, else "". */
int s3_list_page(const char *xml, int (*fn)(const s3_lentry *, void *), void *ctx, char *next,
                 size_t cap, err *e)
{
    const char *x = xml ? xml : "";
    size_t pos = 0;
    int rc = 0;
    if (cap)
        next[0] = '\0';
    for (;;) {
        const char *a = strstr(x + pos, "<Contents>");
        if (!a)
            break;
        const char *b = strstr(a, "</Contents>");
        if (!b)
            break;
        size_t blen = (size_t)(b - a);
        char *block = strndup(a, blen);
        if (!block)
            return err_set(e, ERR_SERVER, "out of memory");
        char key[KEY_MAX] = "", size[32] = "0", mod[64] = "";
        size_t p = 0;
        s3_xml_tag(block, &p, "Key", key, sizeof(key));
        p = 0;
        s3_xml_tag(block, &p, "Size", size, sizeof(size));
        p = 0;
        s3_xml_tag(block, &p, "LastModified", mod, sizeof(mod));
        free(block);
        pos = (size_t)(b - x) + 11;
        s3_lentry le = {key, strtoull(size, NULL, 10), s3_iso_ms(mod)};
        rc = fn(&le, ctx);
        if (rc != 0)
            return rc;
    }
    char trunc[16] = "";
    size_t p = 0;
    s3_xml_tag(x, &p, "IsTruncated", trunc, sizeof(trunc));
    if (strcmp(trunc, "true") == 0 && cap) {
        p = 0;
        s3_xml_tag(x, &p, "NextContinuationToken", next, cap);
    }
    return 0;
}

/* Calls fn for every object under prefix (full key), in key order, a page of ListObjectsV2 at
 * a time. fn returns 0 to go on, 1 to stop, -1 to fail. */
int s3_list(s3 *s, const char *prefix, int (*fn)(const s3_lentry *, void *), void *ctx, err *e)
{
    char token[1024] = "";
    for (;;) {
        sigv4_pair q[3] = {{"list-type", "2"}, {"prefix", prefix}, {"continuation-token", token}};
        s3_call c = s3_call_new("GET", NULL);
        c.query = q;
        c.nq = token[0] ? 3 : 2;
        c.want_xml = true;
        if (s3_run(s, &c, "list", e) < 0) {
            free(c.xml);
            if (e->kind == ERR_NOT_FOUND) /* no such bucket */
                err_set(e, ERR_S3, "the object store failed the request");
            return -1;
        }
        char next[1024];
        int rc = s3_list_page(c.xml, fn, ctx, next, sizeof(next), e);
        free(c.xml);
        if (rc != 0)
            return rc < 0 ? -1 : 0;
        if (!next[0])
            return 0;
        snprintf(token, sizeof(token), "%s", next);
    }
}

/* Parses one ListMultipartUploads reply xml: calls fn(key, upload_id, initiated_ms, ctx) for
 * each <Upload> that names both a key and an upload id. */
void s3_uploads_page(const char *xml, void (*fn)(const char *, const char *, int64_t, void *),
                     void *ctx)
{
    const char *x = xml ? xml : "";
    size_t pos = 0;
    for (;;) {
        const char *a = strstr(x + pos, "<Upload>");
        const char *b = a ? strstr(a, "</Upload>") : NULL;
        if (!b)
            break;
        char *block = strndup(a, (size_t)(b - a));
        pos = (size_t)(b - x) + 9;
        if (!block)
            break;
        char key[KEY_MAX] = "", id[512] = "", init[64] = "";
        size_t p = 0;
        s3_xml_tag(block, &p, "Key", key, sizeof(key));
        p = 0;
        s3_xml_tag(block, &p, "UploadId", id, sizeof(id));
        p = 0;
        s3_xml_tag(block, &p, "Initiated", init, sizeof(init));
        free(block);
        if (key[0] && id[0])
            fn(key, id, s3_iso_ms(init), ctx);
    }
}
