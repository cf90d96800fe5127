/*
 * fuzz_s3xml.c: the replies of an S3 endpoint (the object store is a network peer, so its
 * bytes are untrusted): ListObjectsV2 pages (s3_list_page), ListMultipartUploads
 * (s3_uploads_page), the <Error> document's Code and Message and InitiateMultipartUpload's
 * UploadId (s3_xml_tag), the timestamps in them (s3_iso_ms), and each line of the input as a
 * response header line through the client's own on_header() (this file includes
 * src/blob/s3_client.c): status line, Content-Length, Content-Range, ETag, Last-Modified.
 * Input: the reply body.
 * Invariants: every extracted value fits its buffer and is NUL-terminated; a tag without
 * entities comes back byte for byte (cut at the buffer); the position moves forward within
 * the text; a continuation token appears only on a truncated page; a header line never
 * leaves an ETag that is not NUL-terminated within its buffer.
 */
#include "../../src/blob/s3_client.c"

#include "fuzz.h"

typedef struct seen {
    size_t objects;
    const char *xml;
} seen;

static int on_object(const s3_lentry *le, void *ctx)
{
    seen *s = ctx;
    FUZZ_CHECK(le->key && strlen(le->key) < KEY_MAX);
    FUZZ_CHECK(strstr(s->xml, "<Contents>") != NULL);
    s->objects++;
    return s->objects < 5000 ? 0 : 1;
}

static void on_upload(const char *key, const char *id, int64_t ms, void *ctx)
{
    (void)ms;
    size_t *n = ctx;
    FUZZ_CHECK(key[0] && strlen(key) < KEY_MAX && id[0] && strlen(id) < 512);
    (*n)++;
}

static void check_tag(const char *xml, size_t len, const char *tag, size_t cap)
{
    char out[1024];
    size_t pos = 0;
    memset(out, 'Z', sizeof(out));
    bool found = s3_xml_tag(xml, &pos, tag, out, cap);
    if (!found) {
        FUZZ_CHECK(pos == 0);
        return;
    }
    FUZZ_CHECK(pos <= len && memchr(out, '\0', cap) != NULL);
    FUZZ_CHECK(out[cap] == 'Z'); /* nothing written past cap */
    char open[64];
    snprintf(open, sizeof(open), "<%s>", tag);
    const char *a = strstr(xml, open) + strlen(open);
    size_t raw = (size_t)(xml + pos - a) - strlen(tag) - 3;
    if (!memchr(a, '&', raw)) {
        size_t want = raw < cap - 1 ? raw : cap - 1;
        FUZZ_CHECK(strlen(out) == want && memcmp(out, a, want) == 0);
    }
    /* the next call starts after this one */
    size_t pos2 = pos;
    if (s3_xml_tag(xml, &pos2, tag, out, cap))
        FUZZ_CHECK(pos2 > pos && pos2 <= len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256 * 1024)
        return 0;
    char *xml = fuzz_strndup(data, size);
    size_t len = strlen(xml);

    seen s = {0, xml};
    char next[1024];
    err e = {0};
    int rc = s3_list_page(xml, on_object, &s, next, sizeof(next), &e);
    FUZZ_CHECK(rc == 0 || rc == 1);
    FUZZ_CHECK(strlen(next) < sizeof(next));
    if (next[0])
        FUZZ_CHECK(strstr(xml, "<IsTruncated>true</IsTruncated>") != NULL);

    size_t uploads = 0;
    s3_uploads_page(xml, on_upload, &uploads);

    check_tag(xml, len, "Code", 64);
    check_tag(xml, len, "Message", 256);
    check_tag(xml, len, "UploadId", 512);
    check_tag(xml, len, "ETag", 80);
    check_tag(xml, len, "Key", 1 + (size % 16));

    (void)s3_iso_ms(xml);

    /* each line as a response header line, as libcurl hands them over (with its CRLF) */
    s3_call c = s3_call_new("GET", "k");
    const uint8_t *p = data;
    size_t rest = size;
    for (int i = 0; i < 32 && rest > 0; i++) {
        size_t ln;
        const uint8_t *next = fuzz_split(p, rest, &ln, &rest);
        char *line = malloc(ln + 2);
        memcpy(line, p, ln);
        memcpy(line + ln, "\r\n", 2);
        FUZZ_CHECK(on_header(line, 1, ln + 2, &c) == ln + 2);
        FUZZ_CHECK(memchr(c.etag, '\0', sizeof(c.etag)) != NULL);
        free(line);
        p = next;
    }
    free(xml);
    return 0;
}
