/*
 * blob.h: cairn's content-addressed blob store; the whole interface of src/blob/.
 * A blob is named by the SHA-256 of its bytes: its storage key is "sha256/ab/<64 hex>" where
 * ab is the first two hex digits. Bytes become visible under a key only once they are complete
 * and durable, so a crash leaves at worst an unreferenced temporary that blob_sweep_tmp()
 * removes. Callers never see paths: the directory backend (blob_fs.c) and the S3 backend
 * (blob_s3.c) sit behind the same calls; the front end is blob.c.
 * A `blob` handle is thread-safe; a `blob_writer` or `blob_appender` belongs to the thread that
 * opened it. Faults of the disk are ERR_SERVER with a plain detail; paths and errno go to the
 * log only. Faults of an S3 store are ERR_S3 (502), its timeouts ERR_GATEWAY_TIMEOUT (504);
 * its replies (XML error codes) go to the log only.
 */
#ifndef CAIRN_BLOB_H
#define CAIRN_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Bytes of a storage key plus its NUL ("sha256/" + 2 + "/" + 64 + NUL = 75), rounded up. */
#define BLOB_KEY_MAX 76
/* Longest upload session id ([A-Za-z0-9-]{1,64}). */
#define BLOB_SESSION_ID_MAX 64

typedef struct blob blob;                   /* a store handle; thread-safe */
typedef struct blob_writer blob_writer;     /* one upload in progress; one thread */
typedef struct blob_appender blob_appender; /* one request's appends to a session; one thread */

/* Opens the store named by url: "file:///abs/dir", "file://./rel/dir" or a plain path,
 * creating the directory with tmp/ and sha256/ inside; or
 * "s3://BUCKET[/PREFIX]?endpoint=http://HOST:PORT&region=R[&cache=DIR][&cache_max=BYTES]..."
 * with credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (blob_s3.c lists every
 * option). ERR_INVALID for an unsupported or malformed url, ERR_SERVER if the directory cannot
 * be made, ERR_S3 if the bucket cannot be reached. Free with blob_close(). */
int blob_open(blob **out, const char *url, err *e);
/* Closes the store; accepts NULL. No writer may still be open on it. */
void blob_close(blob *b);
/* Returns true if the store answers (S3: a HEAD of the bucket; files: the directory is there):
 * for readiness checks. */
bool blob_ping(blob *b);

/* Starts a new blob in a temporary file; *out is the caller's until commit or abort. */
int blob_writer_open(blob_writer **out, blob *b, err *e);
/* Appends p[0..n) straight from the caller's buffer, hashing it on the way. After a failed
 * write the writer can only be aborted (a commit fails too). */
int blob_writer_write(blob_writer *w, const void *p, size_t n, err *e);
/* Returns the bytes written so far. */
uint64_t blob_writer_size(const blob_writer *w);
/* Finishes the upload and always frees w. If expected_hex is non-NULL and differs from the
 * digest (case is ignored), fails with ERR_VALIDATION (item ["body","sha256"], "value_error",
 * "checksum mismatch: expected X, got Y") and stores nothing. Otherwise makes the bytes durable
 * under sha256/ab/<hex> (an existing key is kept: dedup, but its age mark is refreshed as if
 * written now, so GC takes it for new) and fills hex_out and *size. */
int blob_writer_commit(blob_writer *w, const char *expected_hex, char hex_out[65], uint64_t *size,
                       err *e);
/* Abandons the upload, removing its temporary, and frees w; accepts NULL. */
void blob_writer_abort(blob_writer *w);

/* Opens the blob at key for reading: *fd is the caller's to close, *size its length.
 * ERR_NOT_FOUND if key is absent or not a valid storage key. With S3 the fd is a file of the
 * local read cache, fetched and checked against the key's digest on a miss. */
int blob_open_read(int *fd, uint64_t *size, blob *b, const char *key, err *e);
/* Reads up to cap bytes from the start of the blob at key into buf (*got of them) and gets its
 * *size, without fetching the rest (a Range GET with S3). ERR_NOT_FOUND as blob_open_read. */
int blob_read_head(void *buf, size_t cap, size_t *got, uint64_t *size, blob *b, const char *key,
                   err *e);
/* Returns true if key is a valid storage key and the blob exists. */
bool blob_exists(blob *b, const char *key);
/* Writes the storage key of the hex digest hex into out (BLOB_KEY_MAX bytes suffice). */
void blob_key_of(char *out, size_t cap, const char *hex);
/* Returns true if s is "sha256/ab/<64 lowercase hex>" with ab the digest's first two digits. */
bool blob_key_is_valid(const char *s);
/* Gets the size and the age mark (mtime: the last write, refreshed by a deduplicated write)
 * of the blob at key; ERR_NOT_FOUND if absent. */
int blob_stat(uint64_t *size, int64_t *mtime_ms, blob *b, const char *key, err *e);
/* Removes the blob at key (GC only: callers must know it is unreferenced); ERR_NOT_FOUND. */
int blob_delete(blob *b, const char *key, err *e);
/* Calls fn(key, size, mtime_ms, ctx) for every stored blob, in no particular order. fn returns
 * 0 to go on, 1 to stop early (blob_foreach returns 0), or -1 to fail (blob_foreach returns -1,
 * with ERR_SERVER in e unless fn's caller filled e through ctx). */
int blob_foreach(blob *b, int (*fn)(const char *key, uint64_t size, int64_t mtime_ms, void *ctx),
                 void *ctx, err *e);
/* Removes temporaries (abandoned writers, uploads and upload sessions) untouched for more than
 * max_age_ms; *removed gets the count. The bytes of a session are kept, whatever their age,
 * while live(id, ctx) says a live session owns them (live may be NULL: none does). */
int blob_sweep_tmp(blob *b, int64_t max_age_ms, bool (*live)(const char *id, void *ctx),
                   void *ctx, int *removed, err *e);
/* Re-hashes the blob at key: *ok is true if its bytes still match the key. ERR_NOT_FOUND. */
int blob_verify(bool *ok, blob *b, const char *key, err *e);
/* Sums the sizes and the count of stored blobs (walks the store: for metrics, not hot paths). */
int blob_stats(uint64_t *bytes, uint64_t *count, blob *b, err *e);

/* Upload sessions: a resumable upload is an append-only temporary named by the client's id
 * ([A-Za-z0-9-]{1,64}, else ERR_INVALID). Appends to one id are serialised. */
/* Writes p[0..n) at offset, which must equal the current size (else ERR_CONFLICT), creating
 * the session on first use; *new_size gets offset + n. */
int blob_session_append(blob *b, const char *id, uint64_t offset, const void *p, size_t n,
                        uint64_t *new_size, err *e);
/* Gets the current size of a session (0 if it does not exist). */
int blob_session_size(uint64_t *size, blob *b, const char *id, err *e);
/* Commits a session as a blob exactly like blob_writer_commit() (re-hashing the whole file)
 * and removes the session. Everything is checked before anything is published: a size other
 * than expected_size (-1: any; ERR_VALIDATION at ["body","size"]) or a checksum mismatch
 * fails with the session left exactly as it was, to be resumed or committed again.
 * ERR_NOT_FOUND if there is none. */
int blob_session_commit(blob *b, const char *id, const char *expected_hex, int64_t expected_size,
                        char hex_out[65], uint64_t *size, err *e);
/* For backends: returns 0 if expected (-1: any) is got, else fills the 422 size mismatch. */
int blob_size_check(int64_t expected, uint64_t got, err *e);
/* Removes a session if it exists. */
void blob_session_discard(blob *b, const char *id);

/* Streams one request's worth of appends to a session: opened at offset, which must equal the
 * current size (else ERR_CONFLICT). With S3 the bytes become one chunk object, stored when the
 * appender closes; on files each write appends at once. */
int blob_appender_open(blob_appender **out, blob *b, const char *id, uint64_t offset, err *e);
/* Appends p[0..n). After a failed write, close keeps nothing more of this appender. */
int blob_appender_write(blob_appender *ap, const void *p, size_t n, err *e);
/* Stores what was written (also when the request ended early: the client resumes from the
 * session's size) and frees ap; *new_size (may be NULL) gets offset + bytes kept. Accepts
 * NULL. */
int blob_appender_close(blob_appender *ap, uint64_t *new_size, err *e);
/* Drops every byte written through ap, so the session is back at the size it had when ap was
 * opened (a request refused half-way must not move the committed offset), and frees ap.
 * Accepts NULL. */
void blob_appender_discard(blob_appender *ap);

/* Direct URLs: with S3 clients move bytes straight to and from the store.
 * Returns true if the backend gives direct URLs (S3), false for files. */
bool blob_has_direct_urls(const blob *b);
/* Writes into out a presigned GET URL of the blob at key valid until expires_at_s (unix
 * seconds), asking the store to name the download filename (NULL: none). Returns false, with
 * out empty, when the backend has no direct URLs (files: use presign.h's) or on overflow. */
bool blob_presign_get(char *out, size_t cap, blob *b, const char *key, int64_t expires_at_s,
                      const char *filename);
/* Writes a presigned PUT URL of the pending upload named upload_id ([A-Za-z0-9-]{1,64}) into
 * out; false as blob_presign_get. */
bool blob_presign_put(char *out, size_t cap, blob *b, const char *upload_id, int64_t expires_at_s);
/* Takes what a client PUT under upload_id. S3: the object PUT straight to the store is
 * re-hashed as it streams from the store, checked against expected_hex as
 * blob_writer_commit() does, published (a server-side copy) and removed, also on a mismatch.
 * Files: the bytes went through cairn (blob_upload_mark) and are a blob already; their mark
 * is checked and consumed. ERR_NOT_FOUND if nothing was uploaded under upload_id (whatever
 * the store holds under that digest: bytes of others are not the caller's); ERR_INVALID if
 * the backend takes no such uploads. */
int blob_upload_commit(blob *b, const char *upload_id, const char *expected_hex, char hex_out[65],
                       uint64_t *size, err *e);
/* Files: records that the blob hex (just committed by a writer) arrived under upload_id, for
 * blob_upload_commit to find; the mark is a temporary, swept like one. ERR_INVALID where the
 * backend takes uploads itself (S3). */
int blob_upload_mark(blob *b, const char *upload_id, const char *hex, err *e);

/* ---- backend interface: implemented and read only in src/blob/ ----
 * A backend (curl's Curl_ssl) keeps its own state behind void pointers; the front end checks
 * keys and ids, hashes writer bytes and frees the handles, so a backend sees only valid input.
 * Keys handed to a backend are valid storage keys; ids are valid session ids. */
typedef struct blob_ops {
    const char *name;
    /* Opens the store at loc (the url with any scheme removed) into *st. */
    int (*open)(void **st, const char *loc, err *e);
    void (*close)(void *st);
    /* A writer: bytes go to a temporary until publish makes them the blob named hex. */
    int (*writer_open)(void **wst, void *st, err *e);
    int (*writer_write)(void *wst, const void *p, size_t n, err *e);
    /* Publishes under hex (keeping an existing blob, whose age mark it refreshes) and frees
     * wst, also on failure. */
    int (*writer_publish)(void *wst, const char *hex, bool *dedup, err *e);
    /* Optional: a backend that hashes the bytes itself (off the receiving thread) finishes
     * writing and gives their SHA-256 here, before publish; the front end then does not hash.
     * NULL: the front end hashes as bytes arrive. */
    int (*writer_digest)(void *wst, char hex[65], err *e);
    /* Drops the temporary and frees wst; accepts NULL. */
    void (*writer_abort)(void *wst);
    int (*open_read)(int *fd, uint64_t *size, void *st, const char *key, err *e);
    bool (*exists)(void *st, const char *key);
    int (*stat)(uint64_t *size, int64_t *mtime_ms, void *st, const char *key, err *e);
    int (*remove)(void *st, const char *key, err *e);
    int (*walk)(void *st, int (*fn)(const char *, uint64_t, int64_t, void *), void *ctx, err *e);
    int (*sweep_tmp)(void *st, int64_t max_age_ms, bool (*live)(const char *, void *), void *ctx,
                     int *removed, err *e);
    int (*session_append)(void *st, const char *id, uint64_t offset, const void *p, size_t n,
                          uint64_t *new_size, err *e);
    int (*session_size)(uint64_t *size, void *st, const char *id, err *e);
    /* Checks size and digest (blob_size_check, blob_digest_check) before publishing; a failed
     * check leaves the session untouched. */
    int (*session_commit)(void *st, const char *id, const char *expected_hex,
                          int64_t expected_size, char hex_out[65], uint64_t *size, bool *dedup,
                          err *e);
    void (*session_discard)(void *st, const char *id);
    /* Optional (needed without a streamed appender): cuts a session back to size bytes if it
     * is longer. */
    int (*session_truncate)(void *st, const char *id, uint64_t size, err *e);
    /* Optional (NULL: the front end appends each write with session_append): a streamed
     * appender whose bytes are stored by close. close frees ast; keep is false after a failed
     * write (store nothing). */
    int (*appender_open)(void **ast, void *st, const char *id, uint64_t offset, err *e);
    int (*appender_write)(void *ast, const void *p, size_t n, err *e);
    int (*appender_close)(void *ast, bool keep, uint64_t *kept, err *e);
    /* Optional (NULL: always ready): true if the store answers. */
    bool (*ping)(void *st);
    /* Optional (NULL: blob_read_head uses open_read and pread). */
    int (*read_head)(void *buf, size_t cap, size_t *got, uint64_t *size, void *st, const char *key,
                     err *e);
    /* Optional (NULL: blob_verify hashes what open_read gives): re-hashes the stored bytes
     * themselves, bypassing any cache, into hex. */
    int (*hash)(char hex[65], uint64_t *size, void *st, const char *key, err *e);
    /* Optional direct URLs and uploads (NULL: none; see blob_presign_get and friends). */
    bool (*presign_get)(char *out, size_t cap, void *st, const char *key, int64_t expires_at_s,
                        const char *filename);
    bool (*presign_put)(char *out, size_t cap, void *st, const char *upload_id,
                        int64_t expires_at_s);
    /* Hashes the upload object, checks expected_hex (blob_digest_check), publishes it under
     * its digest (keeping an existing blob: *dedup) and removes it, also on a mismatch. */
    int (*upload_commit)(void *st, const char *upload_id, const char *expected_hex,
                         char hex_out[65], uint64_t *size, bool *dedup, err *e);
    /* Optional: marks the blob hex as uploaded under upload_id (see blob_upload_mark). */
    int (*upload_mark)(void *st, const char *upload_id, const char *hex, err *e);
} blob_ops;

/* The local-directory backend ("file://" urls and plain paths). */
extern const blob_ops blob_fs_ops;
/* The S3 backend ("s3://" urls). */
extern const blob_ops blob_s3_ops;

/* For backends: returns 0 if expected_hex (NULL: none) matches got_hex, else fills the 422
 * checksum mismatch into e and returns -1. */
int blob_digest_check(const char *expected_hex, const char *got_hex, err *e);
/* For backends: hashes the whole of fd from offset 0 with pread(2), leaving its file offset
 * alone; *size gets the bytes hashed. ERR_SERVER on a read fault. */
int blob_hash_fd(char hex[65], uint64_t *size, int fd, err *e);

#endif
