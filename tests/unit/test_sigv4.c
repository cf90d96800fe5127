/*
 * test_sigv4.c: SigV4 against the example vectors of the AWS S3 documentation ("Examples of
 * signature calculations": examplebucket, AKIAIOSFODNN7EXAMPLE, 20130524T000000Z, us-east-1)
 * and tampering: any change to what is signed changes the signature.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "blob/sigv4.h"

#define AK "AKIAIOSFODNN7EXAMPLE"
#define SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define DATE "20130524T000000Z"
#define HOST "examplebucket.s3.amazonaws.com"

static const sigv4_creds creds = {AK, SK, "us-east-1"};

/* The signature inside an Authorization header value. */
static const char *sig_of(const char *auth)
{
    const char *s = strstr(auth, "Signature=");
    assert_non_null(s);
    return s + 10;
}

static void amz_date_formats_utc(void **state)
{
    (void)state;
    char d[SIGV4_DATE_MAX];
    sigv4_amz_date(d, 1369353600); /* 2013-05-24T00:00:00Z */
    assert_string_equal(d, DATE);
}

static void encode_keeps_unreserved_only(void **state)
{
    (void)state;
    char out[128];
    assert_int_equal(sigv4_encode(out, sizeof(out), "a/b c~d-e_f.g$h+i=j&k", true), 31);
    assert_string_equal(out, "a/b%20c~d-e_f.g%24h%2Bi%3Dj%26k");
    assert_true(sigv4_encode(out, sizeof(out), "a/b", false) > 0);
    assert_string_equal(out, "a%2Fb");
    assert_true(sigv4_encode(out, sizeof(out), "\xc3\xa9", false) > 0);
    assert_string_equal(out, "%C3%A9");
    assert_int_equal(sigv4_encode(out, 4, "abcd", false), -1); /* no room for the NUL */
}

static void query_is_sorted_and_encoded(void **state)
{
    (void)state;
    char out[256];
    sigv4_pair q[] = {{"prefix", "p/sha256/"},
                      {"list-type", "2"},
                      {"uploads", ""},
                      {"continuation-token", "a+b=c"}};
    assert_true(sigv4_query(out, sizeof(out), q, 4) > 0);
    assert_string_equal(out, "continuation-token=a%2Bb%3Dc&list-type=2&prefix=p%2Fsha256%2F&"
                             "uploads=");
    assert_int_equal(sigv4_query(out, sizeof(out), q, 0), 0);
    assert_string_equal(out, "");
    assert_int_equal(sigv4_query(out, 10, q, 4), -1);
}

/* GET Object with a Range header: the canonical request, string to sign and signature of the
 * documentation, byte for byte. */
static void get_object_vector(void **state)
{
    (void)state;
    sigv4_pair h[] = {{"x-amz-date", DATE},
                      {"range", "bytes=0-9"},
                      {"host", HOST},
                      {"x-amz-content-sha256", SIGV4_EMPTY_SHA256}};
    char cr[1024], sts[512], sig[65], auth[512];
    assert_true(sigv4_canonical_request(cr, sizeof(cr), "GET", "/test.txt", "", h, 4,
                                        SIGV4_EMPTY_SHA256) > 0);
    assert_string_equal(cr, "GET\n/test.txt\n\nhost:" HOST "\nrange:bytes=0-9\n"
                            "x-amz-content-sha256:" SIGV4_EMPTY_SHA256 "\n"
                            "x-amz-date:" DATE "\n\n"
                            "host;range;x-amz-content-sha256;x-amz-date\n" SIGV4_EMPTY_SHA256);
    assert_true(sigv4_string_to_sign(sts, sizeof(sts), DATE, "us-east-1", cr) > 0);
    assert_string_equal(sts, "AWS4-HMAC-SHA256\n" DATE "\n20130524/us-east-1/s3/aws4_request\n"
                             "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
    uint8_t key[32];
    sigv4_signing_key(key, SK, DATE, "us-east-1");
    sigv4_signature(sig, key, sts);
    assert_string_equal(sig, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    assert_true(sigv4_authorization(auth, sizeof(auth), &creds, DATE, "GET", "/test.txt", "", h, 4,
                                    SIGV4_EMPTY_SHA256) > 0);
    assert_string_equal(auth, "AWS4-HMAC-SHA256 Credential=" AK "/20130524/us-east-1/s3/"
                              "aws4_request, SignedHeaders=host;range;x-amz-content-sha256;"
                              "x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170"
                              "aba48dd91039c6036bdb41");
}

/* PUT Object "test$file.text" with a payload hash, a Date and a storage class header. */
static void put_object_vector(void **state)
{
    (void)state;
    char path[64], auth[512];
    assert_true(sigv4_encode(path, sizeof(path), "/test$file.text", true) > 0);
    assert_string_equal(path, "/test%24file.text");
    const char *ph = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
    sigv4_pair h[] = {{"host", HOST},
                      {"date", "Fri, 24 May 2013 00:00:00 GMT"},
                      {"x-amz-date", DATE},
                      {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
                      {"x-amz-content-sha256", ph}};
    assert_true(sigv4_authorization(auth, sizeof(auth), &creds, DATE, "PUT", path, "", h, 5, ph) >
                0);
    assert_string_equal(sig_of(auth),
                        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

/* GET Bucket Lifecycle: a value-less subresource is signed as "lifecycle=". */
static void get_lifecycle_vector(void **state)
{
    (void)state;
    char q[64], auth[512];
    sigv4_pair qp[] = {{"lifecycle", ""}};
    assert_true(sigv4_query(q, sizeof(q), qp, 1) > 0);
    assert_string_equal(q, "lifecycle=");
    sigv4_pair h[] = {
        {"host", HOST}, {"x-amz-date", DATE}, {"x-amz-content-sha256", SIGV4_EMPTY_SHA256}};
    assert_true(sigv4_authorization(auth, sizeof(auth), &creds, DATE, "GET", "/", q, h, 3,
                                    SIGV4_EMPTY_SHA256) > 0);
    assert_string_equal(sig_of(auth),
                        "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

/* GET Bucket (list objects) ?max-keys=2&prefix=J: parameters sorted by name. */
static void list_objects_vector(void **state)
{
    (void)state;
    char q[64], auth[512];
    sigv4_pair qp[] = {{"prefix", "J"}, {"max-keys", "2"}};
    assert_true(sigv4_query(q, sizeof(q), qp, 2) > 0);
    assert_string_equal(q, "max-keys=2&prefix=J");
    sigv4_pair h[] = {
        {"host", HOST}, {"x-amz-date", DATE}, {"x-amz-content-sha256", SIGV4_EMPTY_SHA256}};
    assert_true(sigv4_authorization(auth, sizeof(auth), &creds, DATE, "GET", "/", q, h, 3,
                                    SIGV4_EMPTY_SHA256) > 0);
    assert_string_equal(sig_of(auth),
                        "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

/* The presigned URL example: GET /test.txt, expires 86400, signed header host only. */
static void presigned_url_vector(void **state)
{
    (void)state;
    char url[1024];
    int n = sigv4_presign(url, sizeof(url), &creds, DATE, 86400, "GET", "https://" HOST, HOST,
                          "/test.txt", NULL, 0);
    assert_true(n > 0);
    assert_int_equal((size_t)n, strlen(url));
    assert_string_equal(url, "https://" HOST "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&"
                             "X-Amz-Credential=" AK "%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&"
                             "X-Amz-Date=" DATE "&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&"
                             "X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957"
                             "d157751f604d404");
    assert_int_equal(sigv4_presign(url, 64, &creds, DATE, 86400, "GET", "https://" HOST, HOST,
                                   "/test.txt", NULL, 0),
                     -1);
    assert_int_equal(sigv4_presign(url, sizeof(url), &creds, DATE, 604801, "GET", "https://" HOST,
                                   HOST, "/test.txt", NULL, 0),
                     -1);
    assert_int_equal(sigv4_presign(url, sizeof(url), &creds, DATE, 0, "GET", "https://" HOST, HOST,
                                   "/test.txt", NULL, 0),
                     -1);
}

/* Extracts X-Amz-Signature from a presigned URL into sig. */
static void url_sig(char sig[65], const char *url)
{
    const char *s = strstr(url, "X-Amz-Signature=");
    assert_non_null(s);
    snprintf(sig, 65, "%s", s + 16);
}

static void presign_one(char sig[65], const sigv4_creds *c, const char *date, int64_t exp,
                        const char *method, const char *host, const char *path,
                        const sigv4_pair *extra, size_t n)
{
    char url[2048];
    assert_true(sigv4_presign(url, sizeof(url), c, date, exp, method, "http://127.0.0.1:9000", host,
                              path, extra, n) > 0);
    url_sig(sig, url);
}

/* Every input that the signature covers changes it: a tampered URL cannot keep its signature. */
static void tampering_changes_the_signature(void **state)
{
    (void)state;
    char base[65], s[65];
    sigv4_pair disp = {"response-content-disposition", "attachment; filename=\"w.bin\""};
    presign_one(base, &creds, DATE, 3600, "GET", "127.0.0.1:9000", "/b/p/sha256/ab/x", &disp, 1);
    struct {
        const char *what;
        sigv4_creds c;
        const char *date, *method, *host, *path, *disp;
        int64_t exp;
    } cases[] = {
        {"secret",
         {AK, SK "x", "us-east-1"},
         DATE,
         "GET",
         "127.0.0.1:9000",
         "/b/p/sha256/ab/x",
         "attachment; filename=\"w.bin\"",
         3600},
        {"access key",
         {"AKIAIOSFODNN7EXAMPLF", SK, "us-east-1"},
         DATE,
         "GET",
         "127.0.0.1:9000",
         "/b/p/sha256/ab/x",
         "attachment; filename=\"w.bin\"",
         3600},
        {"region",
         {AK, SK, "eu-west-1"},
         DATE,
         "GET",
         "127.0.0.1:9000",
         "/b/p/sha256/ab/x",
         "attachment; filename=\"w.bin\"",
         3600},
        {"date",
         {AK, SK, "us-east-1"},
         "20130524T000001Z",
         "GET",
         "127.0.0.1:9000",
         "/b/p/sha256/ab/x",
         "attachment; filename=\"w.bin\"",
         3600},
        {"expiry",
         {AK, SK, "us-east-1"},
         DATE,
         "GET",
         "127.0.0.1:9000",
         "/b/p/sha256/ab/x",
         "attachment; filename=\"w.bin\"",
         3601},
        {"method",
         {AK, SK, "us-east-1"},
         DATE,
         "PUT",
         "127.0.0.1:9000",
         "/b/p/sha256/ab/x",
         "attachment; filename=\"w.bin\"",
         3600},
        {"port",
         {AK, SK, "us-east-1"},
         DATE,
         "GET",
         "127.0.0.1:9001",
         "/b/p/sha256/ab/x",
         "attachment; filename=\"w.bin\"",
         3600},
        {"no port",
         {AK, SK, "us-east-1"},
         DATE,
         "GET",
         "127.0.0.1",
         "/b/p/sha256/ab/x",
         "attachment; filename=\"w.bin\"",
         3600},
        {"key",
         {AK, SK, "us-east-1"},
         DATE,
         "GET",
         "127.0.0.1:9000",
         "/b/p/sha256/ab/y",
         "attachment; filename=\"w.bin\"",
         3600},
        {"bucket",
         {AK, SK, "us-east-1"},
         DATE,
         "GET",
         "127.0.0.1:9000",
         "/c/p/sha256/ab/x",
         "attachment; filename=\"w.bin\"",
         3600},
        {"query",
         {AK, SK, "us-east-1"},
         DATE,
         "GET",
         "127.0.0.1:9000",
         "/b/p/sha256/ab/x",
         "attachment; filename=\"v.bin\"",
         3600},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sigv4_pair d = {"response-content-disposition", cases[i].disp};
        presign_one(s, &cases[i].c, cases[i].date, cases[i].exp, cases[i].method, cases[i].host,
                    cases[i].path, &d, 1);
        if (strcmp(s, base) == 0)
            fail_msg("changing the %s kept the signature", cases[i].what);
    }
    /* And the same inputs give the same signature (deterministic). */
    presign_one(s, &creds, DATE, 3600, "GET", "127.0.0.1:9000", "/b/p/sha256/ab/x", &disp, 1);
    assert_string_equal(s, base);
}

/* Header signing: a changed header value or payload hash changes the signature; whitespace
 * is canonicalised (trimmed, runs collapsed) as the spec says. */
static void header_tampering(void **state)
{
    (void)state;
    char a[512], b[512], c[512];
    sigv4_pair h[] = {{"host", HOST},
                      {"range", "bytes=0-9"},
                      {"x-amz-date", DATE},
                      {"x-amz-content-sha256", SIGV4_EMPTY_SHA256}};
    assert_true(sigv4_authorization(a, sizeof(a), &creds, DATE, "GET", "/test.txt", "", h, 4,
                                    SIGV4_EMPTY_SHA256) > 0);
    h[1].value = "bytes=0-10";
    assert_true(sigv4_authorization(b, sizeof(b), &creds, DATE, "GET", "/test.txt", "", h, 4,
                                    SIGV4_EMPTY_SHA256) > 0);
    assert_string_not_equal(sig_of(a), sig_of(b));
    h[1].value = "  bytes=0-9  ";
    assert_true(sigv4_authorization(c, sizeof(c), &creds, DATE, "GET", "/test.txt", "", h, 4,
                                    SIGV4_EMPTY_SHA256) > 0);
    assert_string_equal(sig_of(a), sig_of(c));
    h[1].value = "bytes=0-9";
    assert_true(sigv4_authorization(b, sizeof(b), &creds, DATE, "GET", "/test.txt", "", h, 4,
                                    SIGV4_UNSIGNED) > 0);
    assert_string_not_equal(sig_of(a), sig_of(b));
    assert_true(sigv4_authorization(b, sizeof(b), &creds, DATE, "GET", "/test.txt", "partNumber=1",
                                    h, 4, SIGV4_EMPTY_SHA256) > 0);
    assert_string_not_equal(sig_of(a), sig_of(b));
    assert_int_equal(
        sigv4_authorization(b, 40, &creds, DATE, "GET", "/test.txt", "", h, 4, SIGV4_EMPTY_SHA256),
        -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(amz_date_formats_utc),
        cmocka_unit_test(encode_keeps_unreserved_only),
        cmocka_unit_test(query_is_sorted_and_encoded),
        cmocka_unit_test(get_object_vector),
        cmocka_unit_test(put_object_vector),
        cmocka_unit_test(get_lifecycle_vector),
        cmocka_unit_test(list_objects_vector),
        cmocka_unit_test(presigned_url_vector),
        cmocka_unit_test(tampering_changes_the_signature),
        cmocka_unit_test(header_tampering),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
