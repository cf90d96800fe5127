/*
 * blob.c: the blob store's front end: key and id checks, hashing of writer bytes, digest
 * checks, and dispatch through blob_ops to a backend chosen by the url's scheme (blob_fs.c,
 * blob_s3.c).
 */
#include "blob/blob.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util/crypto.h"
#include "util/log.h"
#include "util/timeutil.h"

/* Read buffer for re-hashing a whole file (verify, session commit). */
#define HASH_BUF (1u << 20)
#define KEY_PREFIX "sha256/"
#define KEY_PREFIX_LEN 7
#define KEY_LEN (KEY_PREFIX_LEN + 3 + SHA256_HEX_LEN)

struct blob {
    const blob_ops *ops;
    void *st; /* the backend's state; immutable after open, so the handle is thread-safe */
};

struct blob_writer {
    blob *b;
    void *wst;      /* the backend's writer */
    EVP_MD_CTX *md; /* SHA-256 of every byte written so far */
    uint64_t size;
    bool failed; /* a write failed: the bytes on disk no longer match md */
};

static bool is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

bool blob_key_is_valid(const char *s)
{
    if (!s || strlen(s) != KEY_LEN || memcmp(s, KEY_PREFIX, KEY_PREFIX_LEN) != 0)
        return false;
    const char *ab = s + KEY_PREFIX_LEN, *hex = ab + 3;
    return ab[2] == '/' && is_lower_hex(hex, SHA256_HEX_LEN) && ab[0] == hex[0] && ab[1] == hex[1];
}

void blob_key_of(char *out, size_t cap, const char *hex)
{
    snprintf(out, cap, KEY_PREFIX "%.2s/%s", hex, hex);
}

static bool session_id_is_valid(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n < 1 || n > BLOB_SESSION_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-'))
            return false;
    }
    return true;
}

int blob_digest_check(const char *expected_hex, const char *got_hex, err *e)
{
    if (!expected_hex ||
        (strlen(expected_hex) == SHA256_HEX_LEN && strcasecmp(expected_hex, got_hex) == 0))
        return 0;
    return err_field_add(e, "body", "sha256", "value_error",
                         "checksum mismatch: expected %s, got %s", expected_hex, got_hex);
}

static void log_committed(const char *hex, uint64_t size, bool dedup)
{
    log_info(NULL, "blob.committed", "s:s, s:I, s:b", "sha256", hex, "size", (json_int_t)size,
             "dedup", (int)dedup);
}

int blob_open(blob **out, const char *url, err *e)
{
    *out = NULL;
    const char *loc = url;
    if (!url || !*url)
        return err_set(e, ERR_INVALID, "blob store url is empty");
    const blob_ops *ops = &blob_fs_ops;
    if (strncmp(url, "s3://", 5) == 0) {
        ops = &blob_s3_ops;
        loc = url + 5;
    } else if (strncmp(url, "file://", 7) == 0) {
        loc = url + 7;
        if (strncmp(loc, "localhost/", 10) == 0) /* RFC 8089: file://localhost/abs */
            loc += 9;
    } else if (strstr(url, "://")) {
        return err_set(e, ERR_INVALID, "unsupported blob store url scheme");
    }
    if (!*loc)
        return err_set(e, ERR_INVALID, "blob store url has no path");

    blob *b = calloc(1, sizeof(*b));
    if (!b)
        return err_set(e, ERR_SERVER, "out of memory");
    b->ops = ops;
    if (b->ops->open(&b->st, loc, e) < 0) {
        free(b);
        return -1;
    }
    *out = b;
    return 0;
}

void blob_close(blob *b)
{
    if (!b)
        return;
    b->ops->close(b->st);
    free(b);
}

bool blob_ping(blob *b)
{
    return !b->ops->ping || b->ops->ping(b->st);
}

static void writer_free(blob_writer *w)
{
    EVP_MD_CTX_free(w->md);
    free(w);
}

int blob_writer_open(blob_writer **out, blob *b, err *e)
{
    *out = NULL;
    blob_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return err_set(e, ERR_SERVER, "out of memory");
    w->b = b;
    w->md = EVP_MD_CTX_new();
    if (!w->md || EVP_DigestInit_ex(w->md, EVP_sha256(), NULL) != 1) {
        writer_free(w);
        return err_set(e, ERR_SERVER, "blob digest unavailable");
    }
    if (b->ops->writer_open(&w->wst, b->st, e) < 0) {
        writer_free(w);
        return -1;
    }
    *out = w;
    return 0;
}

int blob_writer_write(blob_writer *w, const void *p, size_t n, err *e)
{
    if (w->failed)
        return err_set(e, ERR_SERVER, "blob store write failed");
    if (n == 0)
        return 0;
    if (w->b->ops->writer_write(w->wst, p, n, e) < 0) {
        w->failed = true;
        return -1;
    }
    if (!w->b->ops->writer_digest && EVP_DigestUpdate(w->md, p, n) != 1) {
        w->failed = true;
        return err_set(e, ERR_SERVER, "blob digest failed");
    }
    w->size += n;
    return 0;
}

uint64_t blob_writer_size(const blob_writer *w)
{
    return w->size;
}

int blob_writer_commit(blob_writer *w, const char *expected_hex, char hex_out[65], uint64_t *size,
                       err *e)
{
    const blob_ops *ops = w->b->ops;
    uint8_t md[32];
    unsigned int mdlen = 0;
    char hex[SHA256_HEX_LEN + 1];
    bool dedup = false;

    if (w->failed) {
        blob_writer_abort(w);
        return err_set(e, ERR_SERVER, "blob store write failed");
    }
    if (ops->writer_digest) {
        if (ops->writer_digest(w->wst, hex, e) < 0) {
            blob_writer_abort(w);
            return -1;
        }
    } else {
        if (EVP_DigestFinal_ex(w->md, md, &mdlen) != 1 || mdlen != sizeof(md)) {
            blob_writer_abort(w);
            return err_set(e, ERR_SERVER, "blob digest failed");
        }
        crypto_hex(hex, md, sizeof(md));
    }
    if (blob_digest_check(expected_hex, hex, e) < 0) {
        blob_writer_abort(w);
        return -1;
    }
    uint64_t n = w->size;
    int rc = ops->writer_publish(w->wst, hex, &dedup, e); /* frees wst either way */
    writer_free(w);
    if (rc < 0)
        return -1;
    memcpy(hex_out, hex, sizeof(hex));
    *size = n;
    log_committed(hex, n, dedup);
    return 0;
}

void blob_writer_abort(blob_writer *w)
{
    if (!w)
        return;
    w->b->ops->writer_abort(w->wst);
    writer_free(w);
}

int blob_open_read(int *fd, uint64_t *size, blob *b, const char *key, err *e)
{
    *fd = -1;
    if (!blob_key_is_valid(key))
        return err_set(e, ERR_NOT_FOUND, "blob not found");
    return b->ops->open_read(fd, size, b->st, key, e);
}

bool blob_exists(blob *b, const char *key)
{
    return blob_key_is_valid(key) && b->ops->exists(b->st, key);
}

int blob_stat(uint64_t *size, int64_t *mtime_ms, blob *b, const char *key, err *e)
{
    if (!blob_key_is_valid(key))
        return err_set(e, ERR_NOT_FOUND, "blob not found");
    return b->ops->stat(size, mtime_ms, b->st, key, e);
}

int blob_delete(blob *b, const char *key, err *e)
{
    if (!blob_key_is_valid(key))
        return err_set(e, ERR_NOT_FOUND, "blob not found");
    return b->ops->remove(b->st, key, e);
}

int blob_foreach(blob *b, int (*fn)(const char *key, uint64_t size, int64_t mtime_ms, void *ctx),
                 void *ctx, err *e)
{
    return b->ops->walk(b->st, fn, ctx, e);
}

int blob_sweep_tmp(blob *b, int64_t max_age_ms, bool (*live)(const char *id, void *ctx),
                   void *ctx, int *removed, err *e)
{
    *removed = 0;
    return b->ops->sweep_tmp(b->st, max_age_ms, live, ctx, removed, e);
}

int blob_hash_fd(char hex[65], uint64_t *size, int fd, err *e)
{
    int rc = -1;
    uint8_t *buf = malloc(HASH_BUF);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint64_t off = 0;

    if (!buf || !md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        err_set(e, ERR_SERVER, "blob digest unavailable");
        goto out;
    }
    for (;;) {
        ssize_t r = pread(fd, buf, HASH_BUF, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            char msg[128];
            log_error(NULL, "blob.io_error", "s:s, s:i, s:s", "op", "hash", "errno", errno, "error",
                      strerror_r(errno, msg, sizeof(msg)));
            err_set(e, ERR_SERVER, "blob store read failed");
            goto out;
        }
        if (r == 0)
            break;
        if (EVP_DigestUpdate(md, buf, (size_t)r) != 1) {
            err_set(e, ERR_SERVER, "blob digest failed");
            goto out;
        }
        off += (uint64_t)r;
    }
    uint8_t d[32];
    unsigned int dlen = 0;
    if (EVP_DigestFinal_ex(md, d, &dlen) != 1 || dlen != sizeof(d)) {
        err_set(e, ERR_SERVER, "blob digest failed");
        goto out;
    }
    crypto_hex(hex, d, sizeof(d));
    *size = off;
    rc = 0;
out:
    EVP_MD_CTX_free(md);
    free(buf);
    return rc;
}

int blob_verify(bool *ok, blob *b, const char *key, err *e)
{
    int fd = -1;
    uint64_t size = 0, hashed = 0;
    char hex[SHA256_HEX_LEN + 1];

    *ok = false;
    if (!blob_key_is_valid(key))
        return err_set(e, ERR_NOT_FOUND, "blob not found");
    int rc;
    if (b->ops->hash) {
        rc = b->ops->hash(hex, &hashed, b->st, key, e);
    } else {
        if (blob_open_read(&fd, &size, b, key, e) < 0)
            return -1;
        rc = blob_hash_fd(hex, &hashed, fd, e);
        close(fd);
    }
    if (rc < 0)
        return -1;
    *ok = strcmp(hex, key + KEY_PREFIX_LEN + 3) == 0;
    if (!*ok)
        log_warn(NULL, "blob.corrupt", "s:s, s:s", "key", key, "got", hex);
    return 0;
}

typedef struct stats_acc {
    uint64_t bytes, count;
} stats_acc;

static int stats_add(const char *key, uint64_t size, int64_t mtime_ms, void *ctx)
{
    (void)key;
    (void)mtime_ms;
    stats_acc *s = ctx;
    s->bytes += size;
    s->count++;
    return 0;
}

int blob_stats(uint64_t *bytes, uint64_t *count, blob *b, err *e)
{
    stats_acc s = {0, 0};
    *bytes = 0;
    *count = 0;
    if (blob_foreach(b, stats_add, &s, e) < 0)
        return -1;
    *bytes = s.bytes;
    *count = s.count;
    return 0;
}

int blob_session_append(blob *b, const char *id, uint64_t offset, const void *p, size_t n,
                        uint64_t *new_size, err *e)
{
    if (!session_id_is_valid(id))
        return err_set(e, ERR_INVALID, "invalid upload session id");
    return b->ops->session_append(b->st, id, offset, p, n, new_size, e);
}

int blob_session_size(uint64_t *size, blob *b, const char *id, err *e)
{
    *size = 0;
    if (!session_id_is_valid(id))
        return err_set(e, ERR_INVALID, "invalid upload session id");
    return b->ops->session_size(size, b->st, id, e);
}

int blob_size_check(int64_t expected, uint64_t got, err *e)
{
    if (expected < 0 || (uint64_t)expected == got)
        return 0;
    return err_field_add(e, "body", "size", "value_error",
                         "the session declared %lld bytes but received %llu", (long long)expected,
                         (unsigned long long)got);
}

int blob_session_commit(blob *b, const char *id, const char *expected_hex, int64_t expected_size,
                        char hex_out[65], uint64_t *size, err *e)
{
    bool dedup = false;
    if (!session_id_is_valid(id))
        return err_set(e, ERR_INVALID, "invalid upload session id");
    if (b->ops->session_commit(b->st, id, expected_hex, expected_size, hex_out, size, &dedup,
                               e) < 0)
        return -1;
    log_committed(hex_out, *size, dedup);
    return 0;
}

void blob_session_discard(blob *b, const char *id)
{
    if (session_id_is_valid(id))
        b->ops->session_discard(b->st, id);
}

int blob_read_head(void *buf, size_t cap, size_t *got, uint64_t *size, blob *b, const char *key,
                   err *e)
{
    *got = 0;
    *size = 0;
    if (!blob_key_is_valid(key))
        return err_set(e, ERR_NOT_FOUND, "blob not found");
    if (b->ops->read_head)
        return b->ops->read_head(buf, cap, got, size, b->st, key, e);
    int fd = -1;
    if (blob_open_read(&fd, size, b, key, e) < 0)
        return -1;
    size_t want = *size < cap ? (size_t)*size : cap;
    while (*got < want) {
        ssize_t n = pread(fd, (uint8_t *)buf + *got, want - *got, (off_t)*got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        *got += (size_t)n;
    }
    close(fd);
    return 0;
}

/* ---- appenders: one request's appends to a session ---- */

struct blob_appender {
    blob *b;
    void *ast;      /* the backend's streamed appender, or NULL: append each write */
    const char *id; /* points into idbuf */
    char idbuf[BLOB_SESSION_ID_MAX + 1];
    uint64_t offset;  /* session size before this appender */
    uint64_t written; /* bytes written through it */
    bool failed;
};

int blob_appender_open(blob_appender **out, blob *b, const char *id, uint64_t offset, err *e)
{
    *out = NULL;
    if (!session_id_is_valid(id))
        return err_set(e, ERR_INVALID, "invalid upload session id");
    blob_appender *ap = calloc(1, sizeof(*ap));
    if (!ap)
        return err_set(e, ERR_SERVER, "out of memory");
    ap->b = b;
    snprintf(ap->idbuf, sizeof(ap->idbuf), "%s", id);
    ap->id = ap->idbuf;
    ap->offset = offset;
    if (b->ops->appender_open) {
        if (b->ops->appender_open(&ap->ast, b->st, id, offset, e) < 0) {
            free(ap);
            return -1;
        }
    } else {
        uint64_t have = 0;
        if (b->ops->session_size(&have, b->st, id, e) < 0) {
            free(ap);
            return -1;
        }
        if (have != offset) {
            free(ap);
            return err_set(e, ERR_CONFLICT,
                           "upload offset %llu does not match the session size %llu",
                           (unsigned long long)offset, (unsigned long long)have);
        }
    }
    *out = ap;
    return 0;
}

int blob_appender_write(blob_appender *ap, const void *p, size_t n, err *e)
{
    if (ap->failed)
        return err_set(e, ERR_SERVER, "blob store write failed");
    if (n == 0)
        return 0;
    int rc;
    if (ap->ast) {
        rc = ap->b->ops->appender_write(ap->ast, p, n, e);
    } else {
        uint64_t size = 0;
        rc =
            ap->b->ops->session_append(ap->b->st, ap->id, ap->offset + ap->written, p, n, &size, e);
    }
    if (rc < 0) {
        ap->failed = true;
        return -1;
    }
    ap->written += n;
    return 0;
}

int blob_appender_close(blob_appender *ap, uint64_t *new_size, err *e)
{
    if (!ap)
        return 0;
    int rc = 0;
    uint64_t kept = ap->written;
    if (ap->ast)
        rc = ap->b->ops->appender_close(ap->ast, !ap->failed, &kept, e);
    if (new_size)
        *new_size = ap->offset + (rc == 0 ? kept : 0);
    free(ap);
    return rc;
}

/* ---- direct URLs ---- */

bool blob_has_direct_urls(const blob *b)
{
    return b->ops->presign_get != NULL;
}

bool blob_presign_get(char *out, size_t cap, blob *b, const char *key, int64_t expires_at_s,
                      const char *filename)
{
    if (cap)
        out[0] = '\0';
    if (!b->ops->presign_get || !blob_key_is_valid(key))
        return false;
    return b->ops->presign_get(out, cap, b->st, key, expires_at_s, filename);
}

bool blob_presign_put(char *out, size_t cap, blob *b, const char *upload_id, int64_t expires_at_s)
{
    if (cap)
        out[0] = '\0';
    if (!b->ops->presign_put || !session_id_is_valid(upload_id))
        return false;
    return b->ops->presign_put(out, cap, b->st, upload_id, expires_at_s);
}

int blob_upload_commit(blob *b, const char *upload_id, const char *expected_hex, char hex_out[65],
                       uint64_t *size, err *e)
{
    bool dedup = false;
    if (!b->ops->upload_commit)
        return err_set(e, ERR_INVALID, "this blob store takes no direct uploads");
    if (!session_id_is_valid(upload_id))
        return err_set(e, ERR_INVALID, "invalid upload id");
    if (b->ops->upload_commit(b->st, upload_id, expected_hex, hex_out, size, &dedup, e) < 0)
        return -1;
    log_committed(hex_out, *size, dedup);
    return 0;
}

void blob_appender_discard(blob_appender *ap)
{
    if (!ap)
        return;
    err e = {0};
    uint64_t kept = 0;
    if (ap->ast)
        ap->b->ops->appender_close(ap->ast, false, &kept, &e);
    else if (ap->written > 0 && ap->b->ops->session_truncate &&
             ap->b->ops->session_truncate(ap->b->st, ap->id, ap->offset, &e) < 0)
        log_error(NULL, "blob.session_discard_failed", "s:s, s:s", "id", ap->id, "detail",
                  e.detail);
    free(ap);
}

int blob_upload_mark(blob *b, const char *upload_id, const char *hex, err *e)
{
    if (!b->ops->upload_mark)
        return err_set(e, ERR_INVALID, "this blob store takes uploads itself");
    if (!session_id_is_valid(upload_id) || !hex || strlen(hex) != SHA256_HEX_LEN ||
        !is_lower_hex(hex, SHA256_HEX_LEN))
        return err_set(e, ERR_INVALID, "invalid upload id");
    return b->ops->upload_mark(b->st, upload_id, hex, e);
}
