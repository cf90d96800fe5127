/*
 * blob.h: cairn's content-addressed blob store; the whole interface of src/blob/.
 * A blob is named by the SHA-256 of its bytes: its storage key is "sha256/ab/<64 hex>" where
 * ab is the first two hex digits. Bytes become visible under a key only once they are complete
 * and durable, so a crash leaves at worst an unreferenced temporary that blob_sweep_tmp()
 * removes. Callers never see paths: a later S3 backend sits behind the same calls.
 * A `blob` handle is thread-safe; a `blob_writer` belongs to the thread that opened it.
 * Faults of the disk are ERR_SERVER with a plain detail; paths and errno go to the log only.
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

typedef struct blob blob;               /* a store handle; thread-safe */
typedef struct blob_writer blob_writer; /* one upload in progress; one thread */

/* Opens the store named by url: "file:///abs/dir", "file://./rel/dir" or a plain path,
 * creating the directory with tmp/ and sha256/ inside. ERR_INVALID for an unsupported url,
 * ERR_SERVER if the directory cannot be made. Free with blob_close(). */
int blob_open(blob **out, const char *url, err *e);
/* Closes the store; accepts NULL. No writer may still be open on it. */
void blob_close(blob *b);

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
 * under sha256/ab/<hex> (an existing key is kept: dedup) and fills hex_out and *size. */
int blob_writer_commit(blob_writer *w, const char *expected_hex, char hex_out[65], uint64_t *size,
                       err *e);
/* Abandons the upload, removing its temporary, and frees w; accepts NULL. */
void blob_writer_abort(blob_writer *w);

/* Opens the blob at key for reading: *fd is the caller's to close, *size its length.
 * ERR_NOT_FOUND if key is absent or not a valid storage key. */
int blob_open_read(int *fd, uint64_t *size, blob *b, const char *key, err *e);
/* Returns true if key is a valid storage key and the blob exists. */
bool blob_exists(blob *b, const char *key);
/* Writes the storage key of the hex digest hex into out (BLOB_KEY_MAX bytes suffice). */
void blob_key_of(char *out, size_t cap, const char *hex);
/* Returns true if s is "sha256/ab/<64 lowercase hex>" with ab the digest's first two digits. */
bool blob_key_is_valid(const char *s);
/* Removes the blob at key (GC only: callers must know it is unreferenced); ERR_NOT_FOUND. */
int blob_delete(blob *b, const char *key, err *e);
/* Calls fn(key, size, mtime_ms, ctx) for every stored blob, in no particular order. fn returns
 * 0 to go on, 1 to stop early (blob_foreach returns 0), or -1 to fail (blob_foreach returns -1,
 * with ERR_SERVER in e unless fn's caller filled e through ctx). */
int blob_foreach(blob *b, int (*fn)(const char *key, uint64_t size, int64_t mtime_ms, void *ctx),
                 void *ctx, err *e);
/* Removes temporaries (abandoned writers and upload sessions) untouched for more than
 * max_age_ms; *removed gets the count. */
int blob_sweep_tmp(blob *b, int64_t max_age_ms, int *removed, err *e);
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
/* Commits a session as a blob exactly like blob_writer_commit() (re-hashing the whole file),
 * and removes the session, also on a checksum mismatch. ERR_NOT_FOUND if there is none. */
int blob_session_commit(blob *b, const char *id, const char *expected_hex, char hex_out[65],
                        uint64_t *size, err *e);
/* Removes a session if it exists. */
void blob_session_discard(blob *b, const char *id);

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
    /* Publishes under hex (keeping an existing blob) and frees wst, also on failure. */
    int (*writer_publish)(void *wst, const char *hex, bool *dedup, err *e);
    /* Drops the temporary and frees wst; accepts NULL. */
    void (*writer_abort)(void *wst);
    int (*open_read)(int *fd, uint64_t *size, void *st, const char *key, err *e);
    bool (*exists)(void *st, const char *key);
    int (*remove)(void *st, const char *key, err *e);
    int (*walk)(void *st, int (*fn)(const char *, uint64_t, int64_t, void *), void *ctx, err *e);
    int (*sweep_tmp)(void *st, int64_t max_age_ms, int *removed, err *e);
    int (*session_append)(void *st, const char *id, uint64_t offset, const void *p, size_t n,
                          uint64_t *new_size, err *e);
    int (*session_size)(uint64_t *size, void *st, const char *id, err *e);
    int (*session_commit)(void *st, const char *id, const char *expected_hex, char hex_out[65],
                          uint64_t *size, bool *dedup, err *e);
    void (*session_discard)(void *st, const char *id);
} blob_ops;

/* The local-directory backend ("file://" urls and plain paths). */
extern const blob_ops blob_fs_ops;

/* For backends: returns 0 if expected_hex (NULL: none) matches got_hex, else fills the 422
 * checksum mismatch into e and returns -1. */
int blob_digest_check(const char *expected_hex, const char *got_hex, err *e);

#endif
