/*
 * blob_s3.c: the S3 backend ("s3://BUCKET[/PREFIX]?endpoint=...&region=..."), over libcurl with
 * path-style requests (ENDPOINT/BUCKET/KEY). Layout under PREFIX/ (so stores share a bucket):
 *   sha256/ab/<64 hex>                   a blob: immutable, named by its digest
 *   tmp/<uuid>                           a multipart writer's temporary, copied on publish
 *   uploads/<id>                         a client's presigned PUT, until confirmed
 *   sessions/<id>/<offset, 20 digits>    one stored chunk of a resumable upload session
 * URL options (query): endpoint (required; http:// or https://, a port if not the default),
 * region (us-east-1), cache (directory of the local read cache; default a private temporary
 * directory removed on close), cache_max (bytes, default 4 GiB), part_size (multipart part,
 * bytes, >= 5 MiB, default 16 MiB), copy_max (largest single CopyObject, default 5 GiB: above
 * it, UploadPartCopy), timeout (seconds without progress before a request fails: 504, default
 * 60). Credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, optional AWS_SESSION_TOKEN.
 *
 * Requests are signed by sigv4.c, not CURLOPT_AWS_SIGV4: curl 7.88's signer sends no
 * x-amz-content-sha256, signs header-removal entries and leaves query canonicalisation to the
 * caller (DEPS.md), and presigned URLs need a signer of our own anyway; so one canonicaliser,
 * tested against the AWS documentation's vectors, serves both, and what is signed is exactly
 * what curl sends (Host included).
 *
 * This file holds the backend's operations (blob_ops); requests, multipart streams, copies
 * and listings are in s3_client.c, behind s3_int.h.
 *
 * Thread safety: the store state is immutable after open except the easy-handle pool and the
 * cache's byte count, both behind `lock`. Writers and appenders belong to one thread.
 */
#include "blob/s3_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/crypto.h"
#include "util/log.h"
#include "util/timeutil.h"

/* ================================ writers ================================ */

typedef struct s3_writer {
    s3_mpu m; /* to PREFIX/tmp/<uuid> */
} s3_writer;

static int s3_writer_open(void **wst, void *st, err *e)
{
    *wst = NULL;
    s3_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return err_set(e, ERR_SERVER, "out of memory");
    s3_mpu_init(&w->m, st);
    char id[37];
    crypto_uuid7(id);
    snprintf(w->m.key, sizeof(w->m.key), "%stmp/%s", w->m.s->prefix, id);
    *wst = w;
    return 0;
}

static int s3_writer_write(void *wst, const void *p, size_t n, err *e)
{
    s3_writer *w = wst;
    return s3_mpu_write(&w->m, p, n, e);
}

static void s3_writer_abort(void *wst)
{
    s3_writer *w = wst;
    if (!w)
        return;
    s3_mpu_abort(&w->m);
    s3_mpu_free(&w->m);
    free(w);
}

static int s3_writer_publish(void *wst, const char *hex, bool *dedup, err *e)
{
    s3_writer *w = wst;
    s3 *s = w->m.s;
    int rc = -1;
    *dedup = false;
    if (!w->m.upload_id[0]) {
        /* One part: the digest is known, so the bytes go straight to their key (a PUT is
         * atomic: readers see all or nothing). */
        char rel[BLOB_KEY_MAX], key[KEY_MAX];
        blob_key_of(rel, sizeof(rel), hex);
        s3_full_key(key, sizeof(key), s, rel);
        int have = s3_fresh(s, key, e); /* an older blob is written again: age refreshed */
        if (have < 0)
            goto out;
        *dedup = have == 1;
        if (!*dedup && s3_mpu_put_whole(&w->m, key, e) < 0)
            goto out;
        rc = 0;
        goto out;
    }
    if (s3_mpu_finish(&w->m, e) < 0) {
        s3_mpu_abort(&w->m);
        goto out;
    }
    w->m.upload_id[0] = '\0';
    rc = s3_publish_copy(s, w->m.key, w->m.total, hex, dedup, e);
out:
    s3_mpu_free(&w->m);
    free(w);
    return rc;
}

/* ================================ read cache ================================ */

/* Adds n bytes to the cache's count and evicts least recently used files (by mtime, which
 * hits refresh) down to 90% of cache_max when over it. keep is never evicted. */
typedef struct centry {
    char name[SHA256_HEX_LEN + 1];
    uint64_t size;
    int64_t mtime_ms;
} centry;

static int centry_cmp(const void *a, const void *b)
{
    const centry *x = a, *y = b;
    return x->mtime_ms < y->mtime_ms ? -1 : x->mtime_ms > y->mtime_ms;
}

static bool hex64(const char *s)
{
    if (strlen(s) != SHA256_HEX_LEN)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

/* Scans the cache directory: fills *out (malloc'd) and the total; removes stale fetches. */
static int cache_scan(centry **out, size_t *n, uint64_t *total, const s3 *s)
{
    *out = NULL;
    *n = 0;
    *total = 0;
    DIR *d = opendir(s->cache);
    if (!d)
        return -1;
    size_t cap = 0;
    struct dirent *de;
    int64_t now = time_now_ms();
    while ((de = readdir(d))) {
        struct stat sb;
        if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb.st_mode))
            continue;
        int64_t mt = (int64_t)sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000;
        if (strncmp(de->d_name, ".fetch-", 7) == 0) {
            if (now - mt > 24LL * 3600 * 1000) /* a crashed fetch */
                unlinkat(dirfd(d), de->d_name, 0);
            continue;
        }
        if (!hex64(de->d_name))
            continue;
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 256;
            centry *ne = realloc(*out, nc * sizeof(**out));
            if (!ne)
                break;
            *out = ne;
            cap = nc;
        }
        centry *c = &(*out)[(*n)++];
        snprintf(c->name, sizeof(c->name), "%s", de->d_name);
        c->size = (uint64_t)sb.st_size;
        c->mtime_ms = mt;
        *total += c->size;
    }
    closedir(d);
    return 0;
}

static void cache_add(s3 *s, uint64_t n, const char *keep)
{
    pthread_mutex_lock(&s->lock);
    s->cache_bytes += n;
    if (s->cache_bytes > s->cache_max) {
        centry *es = NULL;
        size_t ne = 0;
        uint64_t total = 0;
        if (cache_scan(&es, &ne, &total, s) == 0) {
            qsort(es, ne, sizeof(*es), centry_cmp);
            uint64_t goal = s->cache_max / 10 * 9;
            for (size_t i = 0; i < ne && total > goal; i++) {
                if (strcmp(es[i].name, keep) == 0)
                    continue;
                char p[4096];
                snprintf(p, sizeof(p), "%s/%s", s->cache, es[i].name);
                if (unlink(p) == 0) {
                    total -= es[i].size;
                    log_info(NULL, "s3.cache_evicted", "s:s, s:I", "sha256", es[i].name, "size",
                             (json_int_t)es[i].size);
                }
            }
            s->cache_bytes = total; /* also resynchronises with other processes' work */
        }
        free(es);
    }
    pthread_mutex_unlock(&s->lock);
}

static void cache_drop(s3 *s, const char *hex)
{
    char p[4096];
    struct stat sb;
    snprintf(p, sizeof(p), "%s/%s", s->cache, hex);
    if (stat(p, &sb) == 0 && unlink(p) == 0) {
        pthread_mutex_lock(&s->lock);
        s->cache_bytes -=
            s->cache_bytes < (uint64_t)sb.st_size ? s->cache_bytes : (uint64_t)sb.st_size;
        pthread_mutex_unlock(&s->lock);
    }
}

/* GETs key into the hasher md (and fd if >= 0): the object's bytes and their digest. */
static int fetch(char hex[65], uint64_t *size, s3 *s, const char *key, int fd, err *e)
{
    s3_call c = s3_call_new("GET", key);
    c.fd = fd;
    c.md = EVP_MD_CTX_new();
    int rc = -1;
    if (!c.md) {
        err_set(e, ERR_SERVER, "blob digest unavailable");
        goto out;
    }
    if (s3_run(s, &c, "get", e) < 0)
        goto out;
    uint8_t d[32];
    unsigned int dl = 0;
    if (EVP_DigestFinal_ex(c.md, d, &dl) != 1 || dl != 32) {
        err_set(e, ERR_SERVER, "blob digest failed");
        goto out;
    }
    crypto_hex(hex, d, 32);
    *size = c.got;
    rc = 0;
out:
    EVP_MD_CTX_free(c.md);
    return rc;
}

static int s3_open_read(int *fd, uint64_t *size, void *st, const char *key, err *e)
{
    s3 *s = st;
    const char *hex = key + 10; /* "sha256/ab/" */
    char k[KEY_MAX], path[4096], tmp[4096];
    s3_full_key(k, sizeof(k), s, key);
    snprintf(path, sizeof(path), "%s/%s", s->cache, hex);

    int f = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (f >= 0) {
        /* Immutable content makes a hit safe, but GC (maybe on another instance) may have
         * removed the blob: the store still decides whether it exists. When the store cannot
         * say (down, timing out), the cached bytes are served: they are the blob's. */
        int have = s3_head(NULL, NULL, s, k, e);
        if (have < 0 && (e->kind == ERR_S3 || e->kind == ERR_GATEWAY_TIMEOUT)) {
            log_warn(NULL, "s3.cache_unconfirmed", "s:s", "key", key);
            err_clear(e);
            have = 1;
        }
        struct stat sb;
        if (have <= 0 || fstat(f, &sb) < 0) {
            close(f);
            if (have == 0) {
                cache_drop(s, hex);
                return err_set(e, ERR_NOT_FOUND, "blob not found");
            }
            return have < 0 ? -1 : err_set(e, ERR_SERVER, "blob store read failed");
        }
        futimens(f, NULL); /* recently used */
        *fd = f;
        *size = (uint64_t)sb.st_size;
        return 0;
    }

    uint8_t r[8];
    char rnd[17];
    if (crypto_random(r, sizeof(r)) < 0)
        return err_set(e, ERR_SERVER, "blob store random source failed");
    crypto_hex(rnd, r, sizeof(r));
    snprintf(tmp, sizeof(tmp), "%s/.fetch-%s", s->cache, rnd);
    f = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (f < 0) {
        log_error(NULL, "s3.cache_io", "s:s, s:i", "op", "create", "errno", errno);
        return err_set(e, ERR_SERVER, "blob store read failed");
    }
    char got[SHA256_HEX_LEN + 1];
    uint64_t n = 0;
    if (fetch(got, &n, s, k, f, e) < 0)
        goto fail;
    if (strcmp(got, hex) != 0) {
        log_error(NULL, "s3.corrupt", "s:s, s:s", "key", key, "got", got);
        err_set(e, ERR_S3, "stored object is corrupt");
        goto fail;
    }
    if (n <= s->cache_max && rename(tmp, path) == 0)
        cache_add(s, n, hex);
    else
        unlink(tmp); /* too big to keep: served from the open file, then gone */
    lseek(f, 0, SEEK_SET);
    *fd = f;
    *size = n;
    return 0;
fail:
    unlink(tmp);
    close(f);
    return -1;
}

static int s3_hash(char hex[65], uint64_t *size, void *st, const char *key, err *e)
{
    s3 *s = st;
    char k[KEY_MAX];
    s3_full_key(k, sizeof(k), s, key);
    return fetch(hex, size, s, k, -1, e);
}

static int s3_read_head(void *buf, size_t cap, size_t *got, uint64_t *size, void *st,
                        const char *key, err *e)
{
    s3 *s = st;
    char k[KEY_MAX];
    s3_full_key(k, sizeof(k), s, key);
    uint64_t n = 0;
    int have = s3_head(&n, NULL, s, k, e);
    if (have < 0)
        return -1;
    if (have == 0)
        return err_set(e, ERR_NOT_FOUND, "blob not found");
    *size = n;
    if (n == 0 || cap == 0)
        return 0;
    char range[64];
    uint64_t want = n < cap ? n : cap;
    snprintf(range, sizeof(range), "bytes=0-%llu", (unsigned long long)(want - 1));
    sigv4_pair h = {"range", range};
    s3_call c = s3_call_new("GET", k);
    c.hdrs = &h;
    c.nh = 1;
    c.buf = buf;
    c.buf_cap = (size_t)want;
    if (s3_run(s, &c, "get_range", e) < 0)
        return -1;
    *got = c.buf_len;
    return 0;
}

static bool s3_exists(void *st, const char *key)
{
    s3 *s = st;
    char k[KEY_MAX];
    err e = {0};
    s3_full_key(k, sizeof(k), s, key);
    return s3_head(NULL, NULL, s, k, &e) == 1;
}

static int s3_stat(uint64_t *size, int64_t *mtime_ms, void *st, const char *key, err *e)
{
    s3 *s = st;
    char k[KEY_MAX];
    s3_full_key(k, sizeof(k), s, key);
    int have = s3_head(size, mtime_ms, s, k, e);
    if (have < 0)
        return -1;
    return have == 0 ? err_set(e, ERR_NOT_FOUND, "blob not found") : 0;
}

static int s3_remove(void *st, const char *key, err *e)
{
    s3 *s = st;
    char k[KEY_MAX];
    s3_full_key(k, sizeof(k), s, key);
    cache_drop(s, key + 10);
    int have = s3_head(NULL, NULL, s, k, e);
    if (have < 0)
        return -1;
    if (have == 0)
        return err_set(e, ERR_NOT_FOUND, "blob not found");
    return s3_del(s, k, e);
}

/* ================================ walking ================================ */

typedef struct walk_ctx {
    size_t plen;
    int (*fn)(const char *, uint64_t, int64_t, void *);
    void *ctx;
    err *e;
} walk_ctx;

static int walk_one(const s3_lentry *le, void *ctx)
{
    walk_ctx *w = ctx;
    const char *rel = le->key + w->plen;
    if (strlen(le->key) < w->plen || !blob_key_is_valid(rel))
        return 0;
    int r = w->fn(rel, le->size, le->mtime_ms, w->ctx);
    if (r < 0 && w->e->kind == ERR_NONE)
        err_set(w->e, ERR_SERVER, "blob walk failed");
    return r;
}

static int s3_walk(void *st, int (*fn)(const char *, uint64_t, int64_t, void *), void *ctx, err *e)
{
    s3 *s = st;
    char p[KEY_MAX];
    s3_full_key(p, sizeof(p), s, "sha256/");
    walk_ctx w = {strlen(s->prefix), fn, ctx, e};
    return s3_list(s, p, walk_one, &w, e);
}

/* ================================ sessions ================================ */

/* Chunks of a session: sessions/<id>/<offset, 20 digits>, in offset order. */
typedef struct chunk {
    char key[KEY_MAX];
    uint64_t offset, size;
} chunk;

typedef struct chunks {
    chunk *v;
    size_t n, cap;
} chunks;

static int chunk_add(const s3_lentry *le, void *ctx)
{
    chunks *cs = ctx;
    const char *slash = strrchr(le->key, '/');
    if (!slash || strlen(slash + 1) != 20)
        return 0;
    if (cs->n == cs->cap) {
        size_t nc = cs->cap ? cs->cap * 2 : 16;
        chunk *nv = realloc(cs->v, nc * sizeof(*nv));
        if (!nv)
            return -1;
        cs->v = nv;
        cs->cap = nc;
    }
    chunk *c = &cs->v[cs->n++];
    snprintf(c->key, sizeof(c->key), "%s", le->key);
    c->offset = strtoull(slash + 1, NULL, 10);
    c->size = le->size;
    return 0;
}

/* Lists the chunks of session id; *size gets the contiguous bytes from 0 and *used the chunks
 * they span (later ones, past a gap, are debris of a failed request). */
static int session_chunks(chunks *cs, uint64_t *size, size_t *used, s3 *s, const char *id, err *e)
{
    char p[KEY_MAX];
    memset(cs, 0, sizeof(*cs));
    snprintf(p, sizeof(p), "%ssessions/%s/", s->prefix, id);
    if (s3_list(s, p, chunk_add, cs, e) < 0) {
        if (e->kind == ERR_NONE)
            err_set(e, ERR_SERVER, "out of memory");
        free(cs->v);
        cs->v = NULL;
        return -1;
    }
    uint64_t at = 0;
    size_t i = 0;
    for (; i < cs->n && cs->v[i].offset == at; i++)
        at += cs->v[i].size;
    *size = at;
    *used = i;
    return 0;
}

static int s3_session_size(uint64_t *size, void *st, const char *id, err *e)
{
    chunks cs;
    size_t used = 0;
    if (session_chunks(&cs, size, &used, st, id, e) < 0)
        return -1;
    free(cs.v);
    return 0;
}

typedef struct s3_appender {
    s3_mpu m; /* to sessions/<id>/<offset> */
} s3_appender;

static int s3_appender_open(void **ast, void *st, const char *id, uint64_t offset, err *e)
{
    s3 *s = st;
    uint64_t have = 0;
    *ast = NULL;
    if (s3_session_size(&have, s, id, e) < 0)
        return -1;
    if (have != offset)
        return err_set(e, ERR_CONFLICT, "upload offset %llu does not match the session size %llu",
                       (unsigned long long)offset, (unsigned long long)have);
    s3_appender *a = calloc(1, sizeof(*a));
    if (!a)
        return err_set(e, ERR_SERVER, "out of memory");
    s3_mpu_init(&a->m, s);
    snprintf(a->m.key, sizeof(a->m.key), "%ssessions/%s/%020llu", s->prefix, id,
             (unsigned long long)offset);
    *ast = a;
    return 0;
}

static int s3_appender_write(void *ast, const void *p, size_t n, err *e)
{
    s3_appender *a = ast;
    return s3_mpu_write(&a->m, p, n, e);
}

static int s3_appender_close(void *ast, bool keep, uint64_t *kept, err *e)
{
    s3_appender *a = ast;
    int rc = 0;
    *kept = 0;
    if (keep && a->m.total > 0) {
        rc = s3_mpu_finish(&a->m, e);
        if (rc == 0)
            *kept = a->m.total;
    }
    if (rc < 0 || !keep || a->m.total == 0)
        s3_mpu_abort(&a->m);
    s3_mpu_free(&a->m);
    free(a);
    return rc;
}

static int s3_session_append(void *st, const char *id, uint64_t offset, const void *p, size_t n,
                             uint64_t *new_size, err *e)
{
    void *a = NULL;
    uint64_t kept = 0;
    if (s3_appender_open(&a, st, id, offset, e) < 0)
        return -1;
    int w = s3_appender_write(a, p, n, e);
    if (s3_appender_close(a, w == 0, &kept, e) < 0 || w < 0)
        return -1;
    *new_size = offset + kept;
    return 0;
}

static void delete_chunks(s3 *s, const chunks *cs)
{
    for (size_t i = 0; i < cs->n; i++)
        s3_del_quiet(s, cs->v[i].key);
}

static void s3_session_discard(void *st, const char *id)
{
    chunks cs;
    uint64_t size = 0;
    size_t used = 0;
    err e = {0};
    if (session_chunks(&cs, &size, &used, st, id, &e) < 0)
        return;
    delete_chunks(st, &cs);
    free(cs.v);
}

static int s3_session_commit(void *st, const char *id, const char *expected_hex,
                             int64_t expected_size, char hex_out[65], uint64_t *size, bool *dedup,
                             err *e)
{
    s3 *s = st;
    chunks cs;
    uint64_t total = 0;
    size_t used = 0;
    void *w = NULL;
    EVP_MD_CTX *md = NULL;
    uint8_t *buf = NULL;
    int rc = -1;
    *dedup = false;
    if (session_chunks(&cs, &total, &used, s, id, e) < 0)
        return -1;
    if (cs.n == 0) {
        free(cs.v);
        return err_set(e, ERR_NOT_FOUND, "upload session not found");
    }
    if (blob_size_check(expected_size, total, e) < 0) /* the chunks stay: resumable */
        goto out;
    md = EVP_MD_CTX_new();
    buf = malloc(RANGE_PIECE);
    if (!md || !buf || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        err_set(e, ERR_SERVER, "out of memory");
        goto out;
    }
    if (s3_writer_open(&w, s, e) < 0)
        goto out;
    /* Re-stream the chunks in order, a ranged GET at a time, through a writer. */
    for (size_t i = 0; i < used; i++) {
        for (uint64_t off = 0; off < cs.v[i].size; off += RANGE_PIECE) {
            uint64_t n = cs.v[i].size - off < RANGE_PIECE ? cs.v[i].size - off : RANGE_PIECE;
            char range[64];
            snprintf(range, sizeof(range), "bytes=%llu-%llu", (unsigned long long)off,
                     (unsigned long long)(off + n - 1));
            sigv4_pair h = {"range", range};
            s3_call c = s3_call_new("GET", cs.v[i].key);
            c.hdrs = &h;
            c.nh = 1;
            c.buf = buf;
            c.buf_cap = (size_t)n;
            if (s3_run(s, &c, "get_range", e) < 0)
                goto out;
            if (c.buf_len != n) {
                log_error(NULL, "s3.short_read", "s:s", "key", cs.v[i].key);
                err_set(e, ERR_S3, "the object store failed the request");
                goto out;
            }
            if (EVP_DigestUpdate(md, buf, c.buf_len) != 1) {
                err_set(e, ERR_SERVER, "blob digest failed");
                goto out;
            }
            if (s3_writer_write(w, buf, c.buf_len, e) < 0)
                goto out;
        }
    }
    uint8_t d[32];
    unsigned int dl = 0;
    char hex[SHA256_HEX_LEN + 1];
    if (EVP_DigestFinal_ex(md, d, &dl) != 1 || dl != 32) {
        err_set(e, ERR_SERVER, "blob digest failed");
        goto out;
    }
    crypto_hex(hex, d, 32);
    if (blob_digest_check(expected_hex, hex, e) < 0) /* the chunks stay: resumable */
        goto out;
    void *pw = w;
    w = NULL;
    if (s3_writer_publish(pw, hex, dedup, e) < 0)
        goto out;
    delete_chunks(s, &cs);
    memcpy(hex_out, hex, sizeof(hex));
    *size = total;
    rc = 0;
out:
    s3_writer_abort(w);
    EVP_MD_CTX_free(md);
    free(buf);
    free(cs.v);
    return rc;
}

/* ============================ sweeping temporaries ============================ */

typedef struct sweep_ctx {
    s3 *s;
    int64_t cutoff;
    int *removed;
    bool (*live)(const char *, void *);
    void *live_ctx;
    /* sessions: the chunks of one session go together, when the newest is stale */
    char sess[KEY_MAX];
    int64_t sess_newest;
    chunks sc;
} sweep_ctx;

static int sweep_one(const s3_lentry *le, void *ctx)
{
    sweep_ctx *w = ctx;
    if (le->mtime_ms >= w->cutoff)
        return 0;
    err e = {0};
    if (s3_del(w->s, le->key, &e) == 0) {
        (*w->removed)++;
        log_info(NULL, "blob.tmp_swept", "s:s", "name", le->key);
    }
    return 0;
}

static void sweep_session_flush(sweep_ctx *w)
{
    /* w->sess is PREFIX/sessions/<id>: a live session keeps its chunks, whatever their age. */
    const char *id = strrchr(w->sess, '/');
    bool kept = id && w->live && w->live(id + 1, w->live_ctx);
    if (w->sc.n > 0 && w->sess_newest < w->cutoff && !kept) {
        delete_chunks(w->s, &w->sc);
        (*w->removed)++;
        log_info(NULL, "blob.tmp_swept", "s:s", "name", w->sess);
    }
    w->sc.n = 0;
    w->sess[0] = '\0';
    w->sess_newest = 0;
}

static int sweep_chunk(const s3_lentry *le, void *ctx)
{
    sweep_ctx *w = ctx;
    const char *slash = strrchr(le->key, '/');
    if (!slash)
        return 0;
    size_t dl = (size_t)(slash - le->key);
    if (strlen(w->sess) != dl || strncmp(w->sess, le->key, dl) != 0) {
        sweep_session_flush(w);
        snprintf(w->sess, sizeof(w->sess), "%.*s", (int)dl, le->key);
    }
    if (le->mtime_ms > w->sess_newest)
        w->sess_newest = le->mtime_ms;
    return chunk_add(le, &w->sc) < 0 ? -1 : 0;
}

/* Aborts multipart uploads under the prefix started before the cutoff, where the store lists
 * them (s3rver does not: NotImplemented is fine). */
typedef struct mpu_sweep {
    s3 *s;
    int64_t cutoff;
    int *removed;
} mpu_sweep;

static void sweep_upload(const char *key, const char *id, int64_t initiated_ms, void *ctx)
{
    mpu_sweep *w = ctx;
    if (initiated_ms < w->cutoff) {
        s3_multipart_abort(w->s, key, id);
        (*w->removed)++;
    }
}

static void sweep_multipart(s3 *s, int64_t cutoff, int *removed)
{
    sigv4_pair q[] = {{"uploads", ""}, {"prefix", s->prefix}};
    s3_call c = s3_call_new("GET", NULL);
    c.query = q;
    c.nq = 2;
    c.want_xml = true;
    err e = {0};
    if (s3_run(s, &c, "list_multipart", &e) < 0) {
        free(c.xml);
        return;
    }
    mpu_sweep w = {s, cutoff, removed};
    s3_uploads_page(c.xml, sweep_upload, &w);
    free(c.xml);
}

static int s3_sweep_tmp(void *st, int64_t max_age_ms, bool (*live)(const char *, void *),
                        void *ctx, int *removed, err *e)
{
    s3 *s = st;
    sweep_ctx w;
    memset(&w, 0, sizeof(w));
    w.s = s;
    w.live = live;
    w.live_ctx = ctx;
    w.cutoff = time_now_ms() - max_age_ms;
    w.removed = removed;
    char p[KEY_MAX];
    s3_full_key(p, sizeof(p), s, "tmp/");
    if (s3_list(s, p, sweep_one, &w, e) < 0)
        return -1;
    s3_full_key(p, sizeof(p), s, "uploads/");
    if (s3_list(s, p, sweep_one, &w, e) < 0)
        return -1;
    s3_full_key(p, sizeof(p), s, "sessions/");
    int rc = s3_list(s, p, sweep_chunk, &w, e);
    if (rc == 0)
        sweep_session_flush(&w);
    free(w.sc.v);
    if (rc < 0)
        return -1;
    sweep_multipart(s, w.cutoff, removed);
    return 0;
}

static bool s3_ping(void *st)
{
    s3_call c = s3_call_new("HEAD", NULL);
    err e = {0};
    c.retry = false;
    return s3_run(st, &c, "ping", &e) == 0;
}

/* ============================ direct URLs ============================ */

static bool presign(char *out, size_t cap, s3 *s, const char *method, const char *key,
                    int64_t expires_at_s, const sigv4_pair *extra, size_t n)
{
    char path[KEY_MAX * 3 + 256], date[SIGV4_DATE_MAX];
    int64_t now = time_now_ms() / 1000;
    int64_t ttl = expires_at_s - now;
    if (ttl < 1)
        ttl = 1;
    if (ttl > 604800)
        ttl = 604800;
    if (s3_enc_path(path, sizeof(path), s, key) < 0)
        return false;
    sigv4_amz_date(date, now);
    sigv4_creds cr = {s->access, s->secret, s->region};
    sigv4_pair q[4];
    size_t nq = 0;
    for (size_t i = 0; i < n && nq < 3; i++)
        q[nq++] = extra[i];
    if (s->token)
        q[nq++] = (sigv4_pair){"X-Amz-Security-Token", s->token};
    if (sigv4_presign(out, cap, &cr, date, ttl, method, s->endpoint, s->host, path, q, nq) < 0) {
        if (cap)
            out[0] = '\0';
        return false;
    }
    return true;
}

static bool s3_presign_get(char *out, size_t cap, void *st, const char *key, int64_t expires_at_s,
                           const char *filename)
{
    s3 *s = st;
    char k[KEY_MAX], disp[300];
    s3_full_key(k, sizeof(k), s, key);
    sigv4_pair q = {"response-content-disposition", disp};
    size_t nq = 0;
    if (filename && *filename) {
        /* Only characters every store encodes alike (s3rver's canonical query uses JS
         * encodeURIComponent, which leaves !'()* alone): others become '_'. */
        char safe[200];
        size_t j = 0;
        for (const char *p = filename; *p && j + 1 < sizeof(safe); p++)
            safe[j++] = (char)(((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                                (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '_')
                                   ? *p
                                   : '_');
        safe[j] = '\0';
        snprintf(disp, sizeof(disp), "attachment; filename=\"%s\"", safe);
        nq = 1;
    }
    return presign(out, cap, s, "GET", k, expires_at_s, &q, nq);
}

static bool s3_presign_put(char *out, size_t cap, void *st, const char *upload_id,
                           int64_t expires_at_s)
{
    s3 *s = st;
    char k[KEY_MAX];
    snprintf(k, sizeof(k), "%suploads/%s", s->prefix, upload_id);
    return presign(out, cap, s, "PUT", k, expires_at_s, NULL, 0);
}

static int s3_upload_commit(void *st, const char *upload_id, const char *expected_hex,
                            char hex_out[65], uint64_t *size, bool *dedup, err *e)
{
    s3 *s = st;
    char k[KEY_MAX], hex[SHA256_HEX_LEN + 1];
    uint64_t n = 0;
    snprintf(k, sizeof(k), "%suploads/%s", s->prefix, upload_id);
    if (fetch(hex, &n, s, k, -1, e) < 0) {
        if (e->kind == ERR_NOT_FOUND)
            err_set(e, ERR_NOT_FOUND, "nothing was uploaded");
        return -1;
    }
    if (blob_digest_check(expected_hex, hex, e) < 0) {
        s3_del_quiet(s, k);
        return -1;
    }
    if (s3_publish_copy(s, k, n, hex, dedup, e) < 0) /* deletes the upload */
        return -1;
    memcpy(hex_out, hex, sizeof(hex));
    *size = n;
    return 0;
}

/* ================================ open / close ================================ */

static void rm_cache_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.' || strncmp(de->d_name, ".fetch-", 7) == 0)
            unlinkat(dirfd(d), de->d_name, 0);
    closedir(d);
    rmdir(dir);
}

static void s3_close(void *st)
{
    s3 *s = st;
    if (!s)
        return;
    for (size_t i = 0; i < s->npool; i++)
        curl_easy_cleanup(s->pool[i]);
    if (s->cache_own && s->cache)
        rm_cache_dir(s->cache);
    pthread_mutex_destroy(&s->lock);
    free(s->endpoint);
    free(s->host);
    free(s->bucket);
    free(s->prefix);
    free(s->region);
    free(s->access);
    free(s->secret);
    free(s->token);
    free(s->cache);
    free(s);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Percent-decodes s[0..n) into a new string. */
static char *pct_decode(const char *s, size_t n)
{
    char *o = malloc(n + 1);
    if (!o)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            o[j++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            o[j++] = s[i];
        }
    }
    o[j] = '\0';
    return o;
}

static bool parse_u64(const char *v, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (!*v || *end || errno || v[0] == '-')
        return false;
    *out = x;
    return true;
}

static bool bucket_ok(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63)
        return false;
    for (const char *p = b; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
            return false;
    return true;
}

static bool prefix_ok(const char *p)
{
    if (!*p)
        return true;
    if (p[0] == '/' || strstr(p, "//"))
        return false;
    for (const char *q = p; *q; q++)
        if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
              *q == '-' || *q == '_' || *q == '.' || *q == '/'))
            return false;
    return strstr(p, "./") == NULL && strcmp(p + strlen(p) - 1, ".") != 0;
}

/* Sets s->endpoint and s->host from an http(s) url. */
static int set_endpoint(s3 *s, const char *url, err *e)
{
    bool https = strncmp(url, "https://", 8) == 0;
    if (!https && strncmp(url, "http://", 7) != 0)
        return err_set(e, ERR_INVALID, "s3 endpoint must be an http:// or https:// url");
    const char *auth = url + (https ? 8 : 7);
    size_t an = strcspn(auth, "/?#");
    if (an == 0 || strchr(auth, '@'))
        return err_set(e, ERR_INVALID, "s3 endpoint has no host");
    s->endpoint = strndup(url, (size_t)(auth - url) + an);
    const char *defport = https ? ":443" : ":80";
    size_t dl = strlen(defport);
    if (an > dl && strncmp(auth + an - dl, defport, dl) == 0)
        an -= dl;
    s->host = strndup(auth, an);
    if (!s->endpoint || !s->host)
        return err_set(e, ERR_SERVER, "out of memory");
    return 0;
}

static int s3_open(void **st, const char *loc, err *e)
{
    *st = NULL;
    s3_curl_init_once();
    s3 *s = calloc(1, sizeof(*s));
    if (!s)
        return err_set(e, ERR_SERVER, "out of memory");
    pthread_mutex_init(&s->lock, NULL);
    s->cache_max = 4 * GIB;
    s->part_size = 16 * MIB;
    s->copy_max = 5 * GIB;
    s->timeout_s = 60;
    char *cache = NULL, *region = NULL, *endpoint = NULL;
    int rc = -1;

    size_t bl = strcspn(loc, "/?");
    s->bucket = strndup(loc, bl);
    const char *rest = loc + bl;
    size_t pl = rest[0] == '/' ? strcspn(rest + 1, "?") : 0;
    char *pfx = pl ? strndup(rest + 1, pl) : strdup("");
    if (!s->bucket || !pfx) {
        free(pfx);
        err_set(e, ERR_SERVER, "out of memory");
        goto out;
    }
    while (*pfx && pfx[strlen(pfx) - 1] == '/')
        pfx[strlen(pfx) - 1] = '\0';
    if (!bucket_ok(s->bucket) || !prefix_ok(pfx)) {
        free(pfx);
        err_set(e, ERR_INVALID, "s3 url: bad bucket name or prefix");
        goto out;
    }
    if (asprintf(&s->prefix, "%s%s", pfx, *pfx ? "/" : "") < 0) {
        s->prefix = NULL;
        free(pfx);
        err_set(e, ERR_SERVER, "out of memory");
        goto out;
    }
    free(pfx);
    const char *q = strchr(loc, '?');
    for (const char *p = q ? q + 1 : ""; *p;) {
        size_t n = strcspn(p, "&");
        const char *eq = memchr(p, '=', n);
        if (eq) {
            char *name = strndup(p, (size_t)(eq - p));
            char *val = pct_decode(eq + 1, n - (size_t)(eq - p) - 1);
            bool ok = name && val;
            uint64_t u = 0;
            if (!ok)
                ;
            else if (strcmp(name, "endpoint") == 0)
                free(endpoint), endpoint = val, val = NULL;
            else if (strcmp(name, "region") == 0)
                free(region), region = val, val = NULL;
            else if (strcmp(name, "cache") == 0)
                free(cache), cache = val, val = NULL;
            else if (strcmp(name, "cache_max") == 0)
                ok = parse_u64(val, &s->cache_max);
            else if (strcmp(name, "part_size") == 0)
                ok = parse_u64(val, &s->part_size) && s->part_size >= 5 * MIB &&
                     s->part_size <= 1 * GIB;
            else if (strcmp(name, "copy_max") == 0)
                ok = parse_u64(val, &s->copy_max) && s->copy_max >= 1 && s->copy_max <= 5 * GIB;
            else if (strcmp(name, "timeout") == 0) {
                ok = parse_u64(val, &u) && u >= 1 && u <= 86400;
                s->timeout_s = (long)u;
            } else
                ok = false;
            if (!ok) {
                err_set(e, ERR_INVALID, "s3 url: bad or unknown option '%s'", name ? name : "");
                free(name);
                free(val);
                goto out;
            }
            free(name);
            free(val);
        }
        p += n;
        if (*p == '&')
            p++;
    }
    if (!endpoint) {
        err_set(e, ERR_INVALID, "s3 url needs endpoint=http(s)://host[:port]");
        goto out;
    }
    if (set_endpoint(s, endpoint, e) < 0)
        goto out;
    s->region = strdup(region && *region ? region : "us-east-1");
    const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
    const char *tk = getenv("AWS_SESSION_TOKEN");
    if (!ak || !*ak || !sk || !*sk) {
        err_set(e, ERR_INVALID, "s3 blob store needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
        goto out;
    }
    s->access = strdup(ak);
    s->secret = strdup(sk);
    s->token = tk && *tk ? strdup(tk) : NULL;
    if (!s->region || !s->access || !s->secret) {
        err_set(e, ERR_SERVER, "out of memory");
        goto out;
    }
    if (cache && *cache) {
        s->cache = cache;
        cache = NULL;
        if (mkdir(s->cache, 0700) < 0 && errno != EEXIST) {
            log_error(NULL, "s3.cache_io", "s:s, s:s, s:i", "op", "mkdir", "dir", s->cache, "errno",
                      errno);
            err_set(e, ERR_SERVER, "cannot create the blob cache directory");
            goto out;
        }
    } else {
        const char *td = getenv("TMPDIR");
        if (asprintf(&s->cache, "%s/cairn-s3cache-XXXXXX", td && *td ? td : "/tmp") < 0) {
            s->cache = NULL;
            err_set(e, ERR_SERVER, "out of memory");
            goto out;
        }
        if (!mkdtemp(s->cache)) {
            err_set(e, ERR_SERVER, "cannot create the blob cache directory");
            goto out;
        }
        s->cache_own = true;
    }
    centry *es = NULL;
    size_t ne = 0;
    cache_scan(&es, &ne, &s->cache_bytes, s);
    free(es);
    log_info(NULL, "s3.open", "s:s, s:s, s:s, s:s, s:I", "endpoint", s->endpoint, "bucket",
             s->bucket, "prefix", s->prefix, "cache", s->cache, "cache_bytes",
             (json_int_t)s->cache_bytes);
    *st = s;
    rc = 0;
out:
    free(cache);
    free(region);
    free(endpoint);
    if (rc < 0)
        s3_close(s);
    return rc;
}

const blob_ops blob_s3_ops = {
    .name = "s3",
    .open = s3_open,
    .close = s3_close,
    .writer_open = s3_writer_open,
    .writer_write = s3_writer_write,
    .writer_publish = s3_writer_publish,
    .writer_abort = s3_writer_abort,
    .open_read = s3_open_read,
    .exists = s3_exists,
    .stat = s3_stat,
    .remove = s3_remove,
    .walk = s3_walk,
    .sweep_tmp = s3_sweep_tmp,
    .session_append = s3_session_append,
    .session_size = s3_session_size,
    .session_commit = s3_session_commit,
    .session_discard = s3_session_discard,
    .appender_open = s3_appender_open,
    .appender_write = s3_appender_write,
    .appender_close = s3_appender_close,
    .ping = s3_ping,
    .read_head = s3_read_head,
    .hash = s3_hash,
    .presign_get = s3_presign_get,
    .presign_put = s3_presign_put,
    .upload_commit = s3_upload_commit,
};
