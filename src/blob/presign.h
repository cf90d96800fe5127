/*
 * presign.h: presigned blob URLs: HMAC-SHA256 over method, storage key and expiry
 * (API.md §6). Verification compares in constant time. Thread-safe.
 */
#ifndef CAIRN_PRESIGN_H
#define CAIRN_PRESIGN_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Writes the hex signature (65 bytes) of method+key+expires under secret into sig. */
void presign_sign(char sig[65], const char *secret, const char *method, const char *key,
                  int64_t expires_s);
/* Writes "/api/v1/blobs/<key>?expires=E&sig=S" into out. */
void presign_path(char *out, size_t cap, const char *secret, const char *method, const char *key,
                  int64_t expires_s);
/* Checks a presented URL: 0 if valid at now_s; ERR_EXPIRED_SIG when expired, ERR_TOKEN when
 * the signature is missing, malformed or wrong. */
int presign_check(const char *secret, const char *method, const char *key, const char *expires,
                  const char *sig, int64_t now_s, err *e);

#endif
