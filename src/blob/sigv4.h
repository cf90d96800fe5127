/*
 * sigv4.h: AWS Signature Version 4 for S3 (service "s3"): URI encoding, canonical requests,
 * strings to sign, signing keys, Authorization headers and presigned URLs (query signing).
 * Pure functions over caller buffers: each returns the length written, or -1 when the result
 * does not fit in cap (out is then unspecified). Thread-safe.
 */
#ifndef CAIRN_SIGV4_H
#define CAIRN_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "20130524T000000Z" plus its NUL. */
#define SIGV4_DATE_MAX 17
/* The payload hash S3 accepts for bodies it need not check (presigned URLs, streamed parts). */
#define SIGV4_UNSIGNED "UNSIGNED-PAYLOAD"
/* Hex SHA-256 of the empty string: the payload hash of bodiless requests. */
#define SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* A query parameter or header: raw (unencoded) name and value. */
typedef struct sigv4_pair {
    const char *name;
    const char *value;
} sigv4_pair;

/* Who signs, and where: the credential scope is <date>/<region>/s3/aws4_request. */
typedef struct sigv4_creds {
    const char *access_key;
    const char *secret_key;
    const char *region;
} sigv4_creds;

/* Formats unix seconds t as the ISO 8601 basic "YYYYMMDDTHHMMSSZ" of X-Amz-Date. */
void sigv4_amz_date(char out[SIGV4_DATE_MAX], int64_t t);

/* Percent-encodes s as SigV4 wants: A-Z a-z 0-9 - . _ ~ stay, every other byte becomes %XX
 * (uppercase hex); '/' stays too when keep_slash (object key paths). */
int sigv4_encode(char *out, size_t cap, const char *s, bool keep_slash);

/* Writes the canonical query string of q[0..n): each name and value encoded, sorted by
 * encoded name then value, "name=value" joined by '&' (a value-less name keeps its '='). The
 * same string goes into the request URL, so what is sent is exactly what was signed. */
int sigv4_query(char *out, size_t cap, const sigv4_pair *q, size_t n);

/* Writes the canonical request: method, enc_path (already encoded, see sigv4_encode), the
 * canonical query (see sigv4_query; "" for none), the headers (names lowercase, values
 * trimmed with inner runs of spaces collapsed, sorted by name; at most 16), the signed header
 * list and payload_hash. */
int sigv4_canonical_request(char *out, size_t cap, const char *method, const char *enc_path,
                            const char *canon_query, const sigv4_pair *hdrs, size_t nh,
                            const char *payload_hash);

/* Writes the string to sign for canonical_request at amz_date in region. */
int sigv4_string_to_sign(char *out, size_t cap, const char *amz_date, const char *region,
                         const char *canonical_request);

/* Derives the signing key HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date8), region), "s3"),
 * "aws4_request"); date8 is the first 8 characters of amz_date. */
void sigv4_signing_key(uint8_t key[32], const char *secret, const char *amz_date,
                       const char *region);

/* Writes the hex signature of string_to_sign under key (65 bytes). */
void sigv4_signature(char hex[65], const uint8_t key[32], const char *string_to_sign);

/* Signs a request for an Authorization header: writes "AWS4-HMAC-SHA256 Credential=...,
 * SignedHeaders=..., Signature=..." into out. hdrs must include host, x-amz-date (= amz_date)
 * and x-amz-content-sha256 (= payload_hash), as S3 requires; they are all signed. */
int sigv4_authorization(char *out, size_t cap, const sigv4_creds *c, const char *amz_date,
                        const char *method, const char *enc_path, const char *canon_query,
                        const sigv4_pair *hdrs, size_t nh, const char *payload_hash);

/* Writes a presigned URL: base (scheme://authority, no trailing slash) + enc_path + "?" + the
 * sorted query of extra[0..n) plus X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date,
 * X-Amz-Expires (expires_s, 1..604800), X-Amz-SignedHeaders=host, then X-Amz-Signature.
 * host is the Host header the client will send: with the port when it is not the scheme's
 * default. The payload is UNSIGNED-PAYLOAD. */
int sigv4_presign(char *out, size_t cap, const sigv4_creds *c, const char *amz_date,
                  int64_t expires_s, const char *method, const char *base, const char *host,
                  const char *enc_path, const sigv4_pair *extra, size_t n);

#endif
