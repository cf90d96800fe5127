/*
 * sigv4.c: AWS Signature Version 4 (S3 flavour: no path normalisation, keys encoded once).
 * Used for both Authorization headers and presigned URLs, so one canonicaliser, checked
 * against the AWS documentation's example vectors (tests/unit/test_sigv4.c), serves both.
 */
#include "blob/sigv4.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "util/crypto.h"

#define MAX_PAIRS 16
/* Longest encoded name or value of a query parameter (3 bytes per input byte at worst). */
#define ENC_MAX 1536

/* An output buffer that remembers overflow, so a long chain of appends checks once. */
typedef struct obuf {
    char *p;
    size_t cap, n;
    bool over;
} obuf;

static void ob_put(obuf *b, const char *s, size_t n)
{
    if (b->over || n >= b->cap - b->n) {
        b->over = true;
        return;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void ob_str(obuf *b, const char *s)
{
    ob_put(b, s, strlen(s));
}

static int ob_done(const obuf *b)
{
    return b->over ? -1 : (int)b->n;
}

static obuf ob_init(char *out, size_t cap)
{
    obuf b = {out, cap, 0, cap == 0};
    if (cap)
        out[0] = '\0';
    return b;
}

void sigv4_amz_date(char out[SIGV4_DATE_MAX], int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, SIGV4_DATE_MAX, "%Y%m%dT%H%M%SZ", &tm);
}

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

int sigv4_encode(char *out, size_t cap, const char *s, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    obuf b = ob_init(out, cap);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (unreserved(*p) || (keep_slash && *p == '/')) {
            ob_put(&b, (const char *)p, 1);
        } else {
            char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            ob_put(&b, esc, 3);
        }
    }
    return ob_done(&b);
}

typedef struct enc_pair {
    char name[ENC_MAX], value[ENC_MAX];
} enc_pair;

static int enc_pair_cmp(const void *a, const void *b)
{
    const enc_pair *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

int sigv4_query(char *out, size_t cap, const sigv4_pair *q, size_t n)
{
    obuf b = ob_init(out, cap);
    if (n == 0)
        return ob_done(&b);
    if (n > MAX_PAIRS)
        return -1;
    enc_pair *e = malloc(n * sizeof(*e));
    if (!e)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (sigv4_encode(e[i].name, sizeof(e[i].name), q[i].name, false) < 0 ||
            sigv4_encode(e[i].value, sizeof(e[i].value), q[i].value ? q[i].value : "", false) < 0)
            rc = -1;
    if (rc == 0) {
        qsort(e, n, sizeof(*e), enc_pair_cmp);
        for (size_t i = 0; i < n; i++) {
            if (i)
                ob_put(&b, "&", 1);
            ob_str(&b, e[i].name);
            ob_put(&b, "=", 1);
            ob_str(&b, e[i].value);
        }
        rc = ob_done(&b);
    }
    free(e);
    return rc;
}

static int hdr_cmp(const void *a, const void *b)
{
    const sigv4_pair *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

/* Appends v trimmed, with inner runs of spaces and tabs collapsed to one space. */
static void ob_trimmed(obuf *b, const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    bool space = false;
    for (; *v; v++) {
        if (*v == ' ' || *v == '\t') {
            space = true;
            continue;
        }
        if (space)
            ob_put(b, " ", 1);
        space = false;
        ob_put(b, v, 1);
    }
}

/* Sorts hdrs into sorted[] (pointers) and writes "a;b;c" into list. */
static int sort_headers(const sigv4_pair **sorted, obuf *list, const sigv4_pair *hdrs, size_t nh)
{
    if (nh > MAX_PAIRS)
        return -1;
    for (size_t i = 0; i < nh; i++)
        sorted[i] = &hdrs[i];
    qsort(sorted, nh, sizeof(*sorted), hdr_cmp);
    for (size_t i = 0; i < nh; i++) {
        if (i)
            ob_put(list, ";", 1);
        ob_str(list, sorted[i]->name);
    }
    return ob_done(list);
}

int sigv4_canonical_request(char *out, size_t cap, const char *method, const char *enc_path,
                            const char *canon_query, const sigv4_pair *hdrs, size_t nh,
                            const char *payload_hash)
{
    const sigv4_pair *sorted[MAX_PAIRS];
    char names[1024];
    obuf list = ob_init(names, sizeof(names));
    if (sort_headers(sorted, &list, hdrs, nh) < 0)
        return -1;
    obuf b = ob_init(out, cap);
    ob_str(&b, method);
    ob_put(&b, "\n", 1);
    ob_str(&b, enc_path);
    ob_put(&b, "\n", 1);
    ob_str(&b, canon_query ? canon_query : "");
    ob_put(&b, "\n", 1);
    for (size_t i = 0; i < nh; i++) {
        ob_str(&b, sorted[i]->name);
        ob_put(&b, ":", 1);
        ob_trimmed(&b, sorted[i]->value);
        ob_put(&b, "\n", 1);
    }
    ob_put(&b, "\n", 1);
    ob_str(&b, names);
    ob_put(&b, "\n", 1);
    ob_str(&b, payload_hash);
    return ob_done(&b);
}

/* Writes "<date8>/<region>/s3/aws4_request". */
static int scope(char *out, size_t cap, const char *amz_date, const char *region)
{
    int n = snprintf(out, cap, "%.8s/%s/s3/aws4_request", amz_date, region);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

int sigv4_string_to_sign(char *out, size_t cap, const char *amz_date, const char *region,
                         const char *canonical_request)
{
    char sc[128], hash[SHA256_HEX_LEN + 1];
    if (scope(sc, sizeof(sc), amz_date, region) < 0)
        return -1;
    crypto_sha256_hex(hash, canonical_request, strlen(canonical_request));
    int n = snprintf(out, cap, "AWS4-HMAC-SHA256\n%s\n%s\n%s", amz_date, sc, hash);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

void sigv4_signing_key(uint8_t key[32], const char *secret, const char *amz_date,
                       const char *region)
{
    size_t sl = strlen(secret);
    char *k0 = malloc(sl + 5);
    uint8_t a[32], b[32];
    if (!k0) { /* cannot sign: a zero key makes S3 refuse, never a crash */
        memset(key, 0, 32);
        return;
    }
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, secret, sl + 1);
    crypto_hmac_sha256(a, k0, sl + 4, amz_date, strnlen(amz_date, 8));
    crypto_hmac_sha256(b, a, 32, region, strlen(region));
    crypto_hmac_sha256(a, b, 32, "s3", 2);
    crypto_hmac_sha256(key, a, 32, "aws4_request", 12);
    OPENSSL_cleanse(k0, sl + 4);
    free(k0);
}

void sigv4_signature(char hex[65], const uint8_t key[32], const char *string_to_sign)
{
    uint8_t mac[32];
    crypto_hmac_sha256(mac, key, 32, string_to_sign, strlen(string_to_sign));
    crypto_hex(hex, mac, 32);
}

/* Signs canonical request cr: writes the hex signature. */
static int sign_request(char sig[65], const sigv4_creds *c, const char *amz_date, const char *cr)
{
    char sts[512];
    uint8_t key[32];
    if (sigv4_string_to_sign(sts, sizeof(sts), amz_date, c->region, cr) < 0)
        return -1;
    sigv4_signing_key(key, c->secret_key, amz_date, c->region);
    sigv4_signature(sig, key, sts);
    return 0;
}

int sigv4_authorization(char *out, size_t cap, const sigv4_creds *c, const char *amz_date,
                        const char *method, const char *enc_path, const char *canon_query,
                        const sigv4_pair *hdrs, size_t nh, const char *payload_hash)
{
    const sigv4_pair *sorted[MAX_PAIRS];
    char names[1024], sc[128], sig[65];
    obuf list = ob_init(names, sizeof(names));
    size_t crcap = 8192;
    char *cr = malloc(crcap);
    int rc = -1;
    if (!cr || sort_headers(sorted, &list, hdrs, nh) < 0 ||
        sigv4_canonical_request(cr, crcap, method, enc_path, canon_query, hdrs, nh, payload_hash) <
            0 ||
        sign_request(sig, c, amz_date, cr) < 0 || scope(sc, sizeof(sc), amz_date, c->region) < 0)
        goto out;
    int n = snprintf(out, cap, "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                     c->access_key, sc, names, sig);
    rc = n < 0 || (size_t)n >= cap ? -1 : n;
out:
    free(cr);
    return rc;
}

int sigv4_presign(char *out, size_t cap, const sigv4_creds *c, const char *amz_date,
                  int64_t expires_s, const char *method, const char *base, const char *host,
                  const char *enc_path, const sigv4_pair *extra, size_t n)
{
    if (n + 5 > MAX_PAIRS || expires_s < 1 || expires_s > 604800)
        return -1;
    char sc[128], cred[256], exp[24], sig[65];
    if (scope(sc, sizeof(sc), amz_date, c->region) < 0)
        return -1;
    int cl = snprintf(cred, sizeof(cred), "%s/%s", c->access_key, sc);
    if (cl < 0 || (size_t)cl >= sizeof(cred))
        return -1;
    snprintf(exp, sizeof(exp), "%lld", (long long)expires_s);
    sigv4_pair q[MAX_PAIRS];
    for (size_t i = 0; i < n; i++)
        q[i] = extra[i];
    q[n] = (sigv4_pair){"X-Amz-Algorithm", "AWS4-HMAC-SHA256"};
    q[n + 1] = (sigv4_pair){"X-Amz-Credential", cred};
    q[n + 2] = (sigv4_pair){"X-Amz-Date", amz_date};
    q[n + 3] = (sigv4_pair){"X-Amz-Expires", exp};
    q[n + 4] = (sigv4_pair){"X-Amz-SignedHeaders", "host"};
    size_t qcap = 8192, crcap = 16384;
    char *query = malloc(qcap), *cr = malloc(crcap);
    int rc = -1;
    sigv4_pair h = {"host", host};
    if (!query || !cr || sigv4_query(query, qcap, q, n + 5) < 0 ||
        sigv4_canonical_request(cr, crcap, method, enc_path, query, &h, 1, SIGV4_UNSIGNED) < 0 ||
        sign_request(sig, c, amz_date, cr) < 0)
        goto out;
    obuf b = ob_init(out, cap);
    ob_str(&b, base);
    ob_str(&b, enc_path);
    ob_put(&b, "?", 1);
    ob_str(&b, query);
    ob_str(&b, "&X-Amz-Signature=");
    ob_str(&b, sig);
    rc = ob_done(&b);
out:
    free(query);
    free(cr);
    return rc;
}
