/*
 * presign.c: HMAC-SHA256 presigned URLs for the file-system blob store.
 */
#include "blob/presign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/crypto.h"

void presign_sign(char sig[65], const char *secret, const char *method, const char *key,
                  int64_t expires_s)
{
    /* The whole message is signed, however long: a download's key material carries the
     * client's ?v=, so it has no bound (snprintf's length past the buffer was read as if
     * written: a stack over-read, and a signature over a cut message). */
    char buf[512], *msg = buf;
    int n = snprintf(buf, sizeof(buf), "%s\n%s\n%lld", method, key, (long long)expires_s);
    if (n < 0) {
        sig[0] = '\0'; /* matches no presented signature */
        return;
    }
    if ((size_t)n >= sizeof(buf)) {
        msg = malloc((size_t)n + 1);
        if (!msg) {
            sig[0] = '\0';
            return;
        }
        snprintf(msg, (size_t)n + 1, "%s\n%s\n%lld", method, key, (long long)expires_s);
    }
    uint8_t mac[32];
    crypto_hmac_sha256(mac, secret, strlen(secret), msg, (size_t)n);
    crypto_hex(sig, mac, 32);
    if (msg != buf)
        free(msg);
}

void presign_path(char *out, size_t cap, const char *secret, const char *method, const char *key,
                  int64_t expires_s)
{
    char sig[65];
    presign_sign(sig, secret, method, key, expires_s);
    snprintf(out, cap, "/api/v1/blobs/%s?expires=%lld&sig=%s", key, (long long)expires_s, sig);
}

int presign_check(const char *secret, const char *method, const char *key, const char *expires,
                  const char *sig, int64_t now_s, err *e)
{
    if (!expires || !sig || strlen(sig) != 64)
        return err_set(e, ERR_TOKEN, "missing or malformed signature");
    char *end = NULL;
    long long exp = strtoll(expires, &end, 10);
    if (!*expires || *end || exp <= 0)
        return err_set(e, ERR_TOKEN, "missing or malformed signature");
    char want[65];
    presign_sign(want, secret, method, key, exp);
    /* Check the signature before the expiry, so an altered URL never learns it expired. */
    if (!crypto_equal(want, sig))
        return err_set(e, ERR_TOKEN, "signature does not match");
    if (exp < now_s)
        return err_set(e, ERR_EXPIRED_SIG, "this URL has expired");
    return 0;
}
