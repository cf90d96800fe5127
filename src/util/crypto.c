/*
 * crypto.c: thin wrappers over OpenSSL's EVP digests and RAND.
 */
#include "util/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util/timeutil.h"

void crypto_hex(char *out, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

void crypto_sha256(uint8_t md[32], const void *p, size_t n)
{
    unsigned int len = 0;
    EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
}

void crypto_sha256_hex(char *hex, const void *p, size_t n)
{
    uint8_t md[32];
    crypto_sha256(md, p, n);
    crypto_hex(hex, md, 32);
}

void crypto_sha1_hex(char *hex, const void *p, size_t n)
{
    uint8_t md[20];
    unsigned int len = 0;
    EVP_Digest(p, n, md, &len, EVP_sha1(), NULL);
    crypto_hex(hex, md, 20);
}

void crypto_hmac_sha256(uint8_t mac[32], const void *key, size_t keylen, const void *msg,
                        size_t n)
{
    unsigned int len = 32;
    HMAC(EVP_sha256(), key, (int)keylen, msg, n, mac, &len);
}

int crypto_random(void *p, size_t n)
{
    return RAND_bytes(p, (int)n) == 1 ? 0 : -1;
}

/* Ids made by this process sort in the order they were made, also within one millisecond
 * (RFC 9562 method 3): a 12-bit counter in rand_a, started at a random value below 2048 each
 * new millisecond; if it runs out, the time borrows the next millisecond. */
static pthread_mutex_t uuid_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t uuid_last_ms;
static unsigned uuid_seq;

void crypto_uuid7(char out[37])
{
    uint8_t b[16];
    if (crypto_random(b, sizeof(b)) < 0)
        memset(b, 0, sizeof(b));
    uint64_t ms = (uint64_t)time_now_ms();
    pthread_mutex_lock(&uuid_mu);
    if (ms > uuid_last_ms) {
        uuid_last_ms = ms;
        uuid_seq = ((unsigned)b[6] << 8 | b[7]) & 0x7ff;
    } else if (++uuid_seq > 0xfff) {
        uuid_last_ms++;
        uuid_seq = 0;
    }
    ms = uuid_last_ms;
    unsigned seq = uuid_seq;
    pthread_mutex_unlock(&uuid_mu);
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)(ms >> (40 - 8 * i));
    b[6] = (uint8_t)(0x70 | (seq >> 8));
    b[7] = (uint8_t)(seq & 0xff);
    b[8] = (uint8_t)(0x80 | (b[8] & 0x3f));
    char hex[33];
    crypto_hex(hex, b, 16);
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

void crypto_base64url(char *out, const uint8_t *p, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
        out[o++] = tbl[v >> 6 & 63];
        out[o++] = tbl[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
        out[o++] = tbl[v >> 6 & 63];
    }
    out[o] = '\0';
}

bool crypto_equal(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    if (na != nb)
        return false;
    return CRYPTO_memcmp(a, b, na) == 0;
}

bool crypto_basic_password(char *out, size_t cap, const char *h)
{
    if (!h || strncasecmp(h, "Basic ", 6) != 0)
        return false;
    h += 6;
    while (*h == ' ')
        h++;
    size_t n = strlen(h);
    while (n > 0 && h[n - 1] == ' ')
        n--;
    if (n == 0 || n % 4 != 0 || n > 2048)
        return false;
    unsigned char buf[1540];
    int len = EVP_DecodeBlock(buf, (const unsigned char *)h, (int)n);
    if (len < 0)
        return false;
    for (size_t i = n; i > 0 && h[i - 1] == '='; i--)
        len--; /* EVP_DecodeBlock counts the padding as bytes */
    const unsigned char *colon = memchr(buf, ':', (size_t)len);
    if (!colon)
        return false;
    size_t pl = (size_t)(buf + len - (colon + 1));
    if (pl == 0 || pl >= cap || memchr(colon + 1, '\0', pl))
        return false;
    memcpy(out, colon + 1, pl);
    out[pl] = '\0';
    return true;
}

crypto_sha256_ctx *crypto_sha256_new(void)
{
    EVP_MD_CTX *x = EVP_MD_CTX_new();
    if (x && EVP_DigestInit_ex(x, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(x);
        x = NULL;
    }
    return (crypto_sha256_ctx *)x;
}

void crypto_sha256_update(crypto_sha256_ctx *x, const void *p, size_t n)
{
    if (x)
        EVP_DigestUpdate((EVP_MD_CTX *)x, p, n);
}

void crypto_sha256_final_hex(crypto_sha256_ctx *x, char *hex)
{
    if (!x)
        return;
    uint8_t md[32];
    unsigned len = 0;
    EVP_DigestFinal_ex((EVP_MD_CTX *)x, md, &len);
    crypto_hex(hex, md, 32);
    EVP_MD_CTX_free((EVP_MD_CTX *)x);
}

void crypto_sha256_free(crypto_sha256_ctx *x)
{
    EVP_MD_CTX_free((EVP_MD_CTX *)x);
}
