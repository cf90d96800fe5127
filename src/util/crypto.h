/*
 * crypto.h: SHA-256, HMAC-SHA256, random bytes, UUIDv7 and encodings (OpenSSL libcrypto).
 * Every function is thread-safe.
 */
#ifndef CAIRN_CRYPTO_H
#define CAIRN_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHA256_HEX_LEN 64

/* Writes the SHA-256 of p[0..n) into md. */
void crypto_sha256(uint8_t md[32], const void *p, size_t n);
/* Writes the lowercase hex SHA-256 of p[0..n) into hex (SHA256_HEX_LEN + 1 bytes). */
void crypto_sha256_hex(char *hex, const void *p, size_t n);
/* Writes the lowercase hex SHA-1 of p[0..n) into hex (41 bytes): for git object ids only
 * (the Hugging Face adapter's file oids), never for integrity. */
void crypto_sha1_hex(char *hex, const void *p, size_t n);
/* Incremental SHA-256: new (NULL when out of memory), update, then final (writes the hex and
 * frees; accepts NULL, then writes nothing) or free. */
typedef struct crypto_sha256_ctx crypto_sha256_ctx;
crypto_sha256_ctx *crypto_sha256_new(void);
void crypto_sha256_update(crypto_sha256_ctx *x, const void *p, size_t n);
void crypto_sha256_final_hex(crypto_sha256_ctx *x, char *hex);
void crypto_sha256_free(crypto_sha256_ctx *x);
/* Writes the 32-byte HMAC-SHA256 of msg under key into mac. */
void crypto_hmac_sha256(uint8_t mac[32], const void *key, size_t keylen, const void *msg,
                        size_t n);
/* Fills p with n cryptographically random bytes; returns 0 or -1. */
int crypto_random(void *p, size_t n);
/* Writes a new UUIDv7 (time-ordered; those of one process strictly increasing, also within a
 * millisecond) as 36 chars + NUL into out. */
void crypto_uuid7(char out[37]);
/* Writes the lowercase hex of p[0..n) into out (2n + 1 bytes). */
void crypto_hex(char *out, const uint8_t *p, size_t n);
/* Reads the password of an `Authorization: Basic base64(user:password)` value into out (cap
 * bytes); returns false when h is not Basic, is malformed or the password is empty or too long. */
bool crypto_basic_password(char *out, size_t cap, const char *h);
/* Writes unpadded base64url of p[0..n) into out (4*ceil(n/3) + 1 bytes suffice). */
void crypto_base64url(char *out, const uint8_t *p, size_t n);
/* Compares two strings in time independent of where they differ. */
bool crypto_equal(const char *a, const char *b);

#endif
