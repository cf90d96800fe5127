/*
 * s3_int.h: what blob_s3.c and s3_client.c share: the store state, one signed S3 request
 * (s3_call, retried and mapped to cairn's errors by s3_run), streams to one object (s3_mpu:
 * a single PUT or a multipart upload), server-side copies and ListObjectsV2 listings.
 * Read only in src/blob/. Thread safety as in blob_s3.c's header.
 */
#ifndef CAIRN_S3_INT_H
#define CAIRN_S3_INT_H

#include <curl/curl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blob/blob.h"
#include "blob/sigv4.h"

#define MIB (1024ull * 1024)
#define GIB (1024ull * MIB)
#define POOL_MAX 16
#define KEY_MAX 1024
#define URL_MAX 4096
#define XML_MAX (4u * 1024 * 1024) /* a listing page of 1000 keys is ~300 KiB */
#define ERRBODY_MAX 2048
#define MAX_PARTS 10000
#define RANGE_PIECE (8u * 1024 * 1024) /* re-streaming session chunks */
#define SLOW_OP_S 600                  /* server-side copies and completes send nothing */
#define TRIES 3

typedef struct s3 {
    char *endpoint; /* scheme://authority, no trailing slash */
    char *host;     /* the Host header: authority without a default port */
    char *bucket;
    char *prefix; /* "" or "some/prefix/" */
    char *region, *access, *secret, *token;
    char *cache; /* read cache directory */
    bool cache_own;
    uint64_t cache_max, part_size, copy_max;
    long timeout_s;
    pthread_mutex_t lock; /* the pool and cache_bytes */
    CURL *pool[POOL_MAX];
    size_t npool;
    uint64_t cache_bytes;
} s3;

/* One request: what to send, where the 2xx body goes, what came back. */
typedef struct s3_call {
    /* request */
    const char *method;
    const char *key; /* full object key, or NULL for the bucket */
    const sigv4_pair *query;
    size_t nq;
    const sigv4_pair *hdrs; /* extra signed headers, lowercase names */
    size_t nh;
    const uint8_t *body; /* PUT/POST body in memory, */
    int body_fd;         /* or in this file (from offset 0), or -1 */
    size_t body_len, body_off;
    bool retry; /* idempotent: retried on connect errors and 5xx */
    long timeout_s;
    /* response sinks */
    int fd;         /* 2xx body to this file, or -1 */
    EVP_MD_CTX *md; /* hashes the 2xx body, or NULL */
    char *xml;      /* 2xx body kept here (malloc'd, XML_MAX at most), or NULL */
    size_t xml_len;
    bool want_xml;
    uint8_t *buf; /* 2xx body into buf[0..buf_cap) */
    size_t buf_cap, buf_len;
    /* response */
    CURL *h;
    long status;
    uint64_t length, total, got;
    bool has_total;
    int64_t mtime_ms;
    char etag[80];
    char errbody[ERRBODY_MAX];
    size_t errlen;
    bool sink_failed;
} s3_call;

/* Bytes streamed to one object: a single PUT if they fit in one part, else a multipart
 * upload with parts of part_size, growing every 1000 parts so 10000 parts reach ~860 GiB at
 * the default. Memory stays constant: a part's first MEM_PART bytes are buffered, a larger
 * part is spooled to an unlinked file in the cache directory (page cache, not RSS) and sent
 * from there. */
#define MEM_PART (1u << 20)

typedef struct s3_mpu {
    s3 *s;
    char key[KEY_MAX];
    uint8_t *buf; /* the current part, while it fits in MEM_PART */
    size_t len, cap;
    int fd;              /* the spool file, or -1 */
    bool spilled;        /* the current part is in fd, not buf */
    char upload_id[512]; /* "" until the first part goes */
    char (*etags)[80];
    size_t nparts, etcap;
    uint64_t total;
} s3_mpu;

/* One object of a listing. */
typedef struct s3_lentry {
    const char *key; /* full object key */
    uint64_t size;
    int64_t mtime_ms;
} s3_lentry;

/* Initialises libcurl once per process (before threads use it). */
void s3_curl_init_once(void);
/* Returns a request with its defaults: retried, no body, no sinks. */
s3_call s3_call_new(const char *method, const char *key);
/* Performs c with retries (idempotent calls: connect errors and 5xx, 3 tries, 100 ms then
 * 400 ms apart): 0 on a 2xx answer, else -1 with e: 404 ERR_NOT_FOUND (object keys only),
 * timeouts ERR_GATEWAY_TIMEOUT, the rest ERR_S3; causes go to the log. Thread-safe. */
int s3_run(s3 *s, s3_call *c, const char *op, err *e);
/* HEAD: 1 if key is present (size, mtime_ms may be NULL), 0 if absent, -1 on failure. */
int s3_head(uint64_t *size, int64_t *mtime_ms, s3 *s, const char *key, err *e);
/* DELETE key; an absent key is no failure. */
int s3_del(s3 *s, const char *key, err *e);
/* Deletes key, logging (not failing) on error: for temporaries GC would sweep anyway. */
void s3_del_quiet(s3 *s, const char *key);
/* Copies the text of the first <tag>...</tag> at or after *pos in xml into out (entities
 * decoded), moving *pos past it; false if there is none. */
bool s3_xml_tag(const char *xml, size_t *pos, const char *tag, char *out, size_t cap);
/* Writes the encoded path "/bucket[/key]" of key (NULL: the bucket) into out. */
int s3_enc_path(char *out, size_t cap, const s3 *s, const char *key);
/* Writes the full object key PREFIX + rel into out. */
void s3_full_key(char *out, size_t cap, const s3 *s, const char *rel);
/* Parses an ISO 8601 "2026-11-24T10:00:00.000Z" into ms (0 if malformed). */
int64_t s3_iso_ms(const char *t);
/* Parses one ListObjectsV2 page xml (NULL: empty): calls fn for each object in order (0 goes
 * on, 1 stops, -1 fails), then writes NextContinuationToken into next (cap bytes) if the page
 * says IsTruncated, else "". Returns fn's 1 or -1, or 0; -1 with e when out of memory. */
int s3_list_page(const char *xml, int (*fn)(const s3_lentry *, void *), void *ctx, char *next,
                 size_t cap, err *e);
/* Parses one ListMultipartUploads reply xml (NULL: empty): calls fn(key, upload_id,
 * initiated_ms, ctx) for each upload that names both. */
void s3_uploads_page(const char *xml, void (*fn)(const char *, const char *, int64_t, void *),
                     void *ctx);
/* Calls fn for every object under prefix (full key), in key order, a ListObjectsV2 page at a
 * time; fn returns 0 to go on, 1 to stop, -1 to fail. */
int s3_list(s3 *s, const char *prefix, int (*fn)(const s3_lentry *, void *), void *ctx, err *e);
/* Aborts a multipart upload; stores that cannot (s3rver) keep the parts until swept. */
void s3_multipart_abort(s3 *s, const char *key, const char *upload_id);

/* Streams: init, write, then finish (stores everything under m->key) or abort; free always. */
void s3_mpu_init(s3_mpu *m, s3 *s);
int s3_mpu_write(s3_mpu *m, const void *p, size_t n, err *e);
int s3_mpu_finish(s3_mpu *m, err *e);
void s3_mpu_abort(s3_mpu *m);
void s3_mpu_free(s3_mpu *m);
/* PUTs the current (only) part of m as the whole object key. */
int s3_mpu_put_whole(s3_mpu *m, const char *key, err *e);
/* Makes the complete object tmp (size bytes) the blob named hex: kept if that blob exists
 * (*dedup), else copied server-side (UploadPartCopy above copy_max). tmp is deleted either
 * way. */
int s3_publish_copy(s3 *s, const char *tmp, uint64_t size, const char *hex, bool *dedup, err *e);
/* A blob last written at least this long ago is rewritten by a write of the same bytes rather
 * than kept as it is: S3 has no cheaper way to refresh the LastModified GC measures ages by,
 * and a deduplicated write must make the blob young again (see admin.c's GC rule). */
#define S3_REFRESH_AFTER_MS 1000
/* Returns 1 if the blob at key (full key) exists and was written less than
 * S3_REFRESH_AFTER_MS ago, so a write of the same bytes may keep it; 0 if it is absent or
 * older (write it again); -1 on failure. */
int s3_fresh(s3 *s, const char *key, err *e);

#endif
