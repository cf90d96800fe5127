/*
 * test_tar.c: the streaming tar reader (core/tar.h): ustar names and prefixes, pax and GNU long
 * names, pax sizes, directories skipped, chunked feeding, and every refusal (absolute paths,
 * "..", links, devices, bad paths, duplicates, bad checksums, truncation).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/tar.h"

/* ---- building archives ---- */

typedef struct {
    unsigned char *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 1024;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void pad(buf *b)
{
    static const unsigned char z[512];
    if (b->n % 512)
        put(b, z, 512 - b->n % 512);
}

/* Appends a ustar header (name up to 100 bytes, prefix up to 155) and, for data, the bytes. */
static void entry(buf *b, const char *prefix, const char *name, char type, const void *data,
                  size_t n)
{
    unsigned char h[512];
    memset(h, 0, sizeof(h));
    memcpy(h, name, strlen(name) < 100 ? strlen(name) : 100);
    snprintf((char *)h + 100, 8, "%07o", 0644);
    snprintf((char *)h + 108, 8, "%07o", 0);
    snprintf((char *)h + 116, 8, "%07o", 0);
    snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)n);
    snprintf((char *)h + 136, 12, "%011o", 0);
    h[156] = (unsigned char)type;
    memcpy(h + 257,
           "ustar\0"
           "00",
           8);
    if (prefix)
        memcpy(h + 345, prefix, strlen(prefix));
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (size_t i = 0; i < 512; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    put(b, h, 512);
    if (data && n) {
        put(b, data, n);
        pad(b);
    }
}

static void file(buf *b, const char *name, const char *text)
{
    entry(b, NULL, name, '0', text, strlen(text));
}

/* A pax 'x' header carrying path=long. */
static void pax_path(buf *b, const char *key, const char *value)
{
    char rec[2048];
    size_t body = strlen(key) + strlen(value) + 3; /* ' ' '=' '\n' */
    size_t len = body + 1;
    while (snprintf(NULL, 0, "%zu", len) + body != len)
        len++;
    int k = snprintf(rec, sizeof(rec), "%zu %s=%s\n", len, key, value);
    entry(b, NULL, "PaxHeaders/x", 'x', rec, (size_t)k);
}

static void end(buf *b)
{
    static const unsigned char z[1024];
    put(b, z, sizeof(z));
}

/* ---- a sink that records ---- */

typedef struct {
    char paths[16][600];
    char data[16][4096];
    size_t sizes[16], got[16];
    int n, ended;
} rec;

static int r_begin(void *ctx, const char *path, uint64_t size, err *e)
{
    (void)e;
    rec *r = ctx;
    snprintf(r->paths[r->n], sizeof(r->paths[0]), "%s", path);
    r->sizes[r->n] = (size_t)size;
    r->got[r->n] = 0;
    return 0;
}

static int r_data(void *ctx, const void *p, size_t n, err *e)
{
    (void)e;
    rec *r = ctx;
    assert_true(r->got[r->n] + n <= sizeof(r->data[0]));
    memcpy(r->data[r->n] + r->got[r->n], p, n);
    r->got[r->n] += n;
    return 0;
}

static int r_end(void *ctx, err *e)
{
    (void)e;
    rec *r = ctx;
    assert_int_equal(r->got[r->n], r->sizes[r->n]);
    r->n++;
    r->ended++;
    return 0;
}

/* Reads archive b fed in chunks of `chunk` bytes; returns the result and fills r, e. */
static int read_all(const buf *b, size_t chunk, rec *r, err *e)
{
    memset(r, 0, sizeof(*r));
    tar_sink s = {r_begin, r_data, r_end, r};
    tar_reader t;
    tar_reader_init(&t, &s);
    int rc = 0;
    for (size_t at = 0; rc == 0 && at < b->n; at += chunk)
        rc = tar_feed(&t, b->p + at, b->n - at < chunk ? b->n - at : chunk, e);
    if (rc == 0)
        rc = tar_finish(&t, e);
    tar_reader_free(&t);
    return rc;
}

static void tar_reads_files_in_any_chunking(void **state)
{
    (void)state;
    buf b = {0};
    entry(&b, NULL, "model/", '5', NULL, 0);
    file(&b, "model/weights.safetensors", "0123456789abcdef-weights");
    file(&b, "./README.md", "# hi\n");
    file(&b, "empty", "");
    end(&b);
    static const size_t chunks[] = {1, 7, 511, 512, 513, 1 << 20};
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        rec r;
        err e = {0};
        assert_int_equal(read_all(&b, chunks[i], &r, &e), 0);
        assert_int_equal(r.n, 3);
        assert_string_equal(r.paths[0], "model/weights.safetensors");
        assert_memory_equal(r.data[0], "0123456789abcdef-weights", 24);
        assert_int_equal(r.sizes[0], 24);
        assert_string_equal(r.paths[1], "README.md");
        assert_memory_equal(r.data[1], "# hi\n", 5);
        assert_string_equal(r.paths[2], "empty");
        assert_int_equal(r.sizes[2], 0);
    }
    free(b.p);
}

static void tar_long_names(void **state)
{
    (void)state;
    char longname[400];
    memset(longname, 'a', sizeof(longname));
    for (size_t i = 50; i < sizeof(longname) - 1; i += 51)
        longname[i] = '/';
    longname[sizeof(longname) - 1] = '\0';
    buf b = {0};
    /* ustar prefix + name */
    entry(&b, "deep/prefix/dir", "file.bin", '0', "P", 1);
    /* pax path */
    pax_path(&b, "path", longname);
    entry(&b, NULL, "truncated-name", '0', "X", 1);
    /* pax with other records (mtime) and no path: the header's name stands */
    pax_path(&b, "mtime", "1700000000.5");
    entry(&b, NULL, "plain.txt", '0', "Y", 1);
    /* GNU long name */
    char gnu[300];
    memset(gnu, 'g', sizeof(gnu));
    gnu[120] = '/';
    gnu[sizeof(gnu) - 1] = '\0';
    entry(&b, NULL, "././@LongLink", 'L', gnu, strlen(gnu) + 1);
    entry(&b, NULL, "ggg", '0', "Z", 1);
    /* a pax global header is ignored */
    pax_path(&b, "comment", "global");
    b.p[b.n - 1024 + 156] = 'g'; /* retype the last 'x' header as 'g'; fix its checksum */
    {
        unsigned char *h = b.p + b.n - 1024;
        memset(h + 148, ' ', 8);
        unsigned sum = 0;
        for (size_t i = 0; i < 512; i++)
            sum += h[i];
        snprintf((char *)h + 148, 8, "%06o", sum);
    }
    file(&b, "after-global", "G");
    end(&b);
    rec r;
    err e = {0};
    assert_int_equal(read_all(&b, 100, &r, &e), 0);
    assert_int_equal(r.n, 5);
    assert_string_equal(r.paths[0], "deep/prefix/dir/file.bin");
    assert_string_equal(r.paths[1], longname);
    assert_string_equal(r.paths[2], "plain.txt");
    assert_string_equal(r.paths[3], gnu);
    assert_string_equal(r.paths[4], "after-global");
    free(b.p);
}

static void tar_pax_size_overrides(void **state)
{
    (void)state;
    buf b = {0};
    pax_path(&b, "size", "5");
    /* the header says 0 (as for a file past 8 GiB): the data follows the pax size */
    entry(&b, NULL, "big", '0', NULL, 0);
    put(&b, "hello", 5);
    pad(&b);
    file(&b, "next", "n");
    end(&b);
    rec r;
    err e = {0};
    assert_int_equal(read_all(&b, 3, &r, &e), 0);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.sizes[0], 5);
    assert_memory_equal(r.data[0], "hello", 5);
    assert_string_equal(r.paths[1], "next");
    free(b.p);
}

/* Expects the archive with one bad entry after a good one to fail with ERR_INVALID whose
 * detail holds `why`. */
static void refused(buf *b, const char *why)
{
    rec r;
    err e = {0};
    assert_int_equal(read_all(b, 512, &r, &e), -1);
    assert_int_equal(e.kind, ERR_INVALID);
    if (!strstr(e.detail, why))
        fail_msg("detail '%s' lacks '%s'", e.detail, why);
    free(b->p);
    memset(b, 0, sizeof(*b));
}

static void tar_refusals(void **state)
{
    (void)state;
    buf b = {0};
    file(&b, "ok", "1");
    file(&b, "/etc/passwd", "x");
    end(&b);
    refused(&b, "absolute");

    file(&b, "a/../../escape", "x");
    end(&b);
    refused(&b, "'..'");

    entry(&b, NULL, "../up", '5', NULL, 0);
    end(&b);
    refused(&b, "'..'");

    pax_path(&b, "path", "x/../../etc/cron");
    entry(&b, NULL, "innocent", '0', "x", 1);
    end(&b);
    refused(&b, "'..'");

    entry(&b, NULL, "sym", '2', NULL, 0);
    end(&b);
    refused(&b, "links");

    entry(&b, NULL, "hard", '1', NULL, 0);
    end(&b);
    refused(&b, "links");

    entry(&b, NULL, "dev/null", '3', NULL, 0);
    end(&b);
    refused(&b, "devices");

    entry(&b, NULL, "blk", '4', NULL, 0);
    end(&b);
    refused(&b, "devices");

    entry(&b, NULL, "fifo", '6', NULL, 0);
    end(&b);
    refused(&b, "FIFO");

    entry(&b, NULL, "sparse", 'S', NULL, 0);
    end(&b);
    refused(&b, "not supported");

    file(&b, "bad\x01name", "x");
    end(&b);
    refused(&b, "not a valid file path");

    file(&b, "dup", "1");
    file(&b, "./dup", "2");
    end(&b);
    refused(&b, "twice");

    file(&b, "x", "1");
    b.p[0] = 'y'; /* the checksum no longer matches */
    end(&b);
    refused(&b, "checksum");

    /* truncated in the data */
    file(&b, "cut", "0123456789");
    b.n -= 512 - 5;
    refused(&b, "truncated");

    /* truncated in a header */
    file(&b, "whole", "1");
    put(&b, "partial header", 14);
    refused(&b, "truncated");

    /* a pax header with no entry after it */
    pax_path(&b, "path", "orphan");
    end(&b);
    refused(&b, "extended header");

    /* not tar at all */
    static const char gz[] = "\x1f\x8b gzip bytes are not a tar header";
    put(&b, gz, sizeof(gz) - 1);
    for (int i = 0; i < 20; i++)
        put(&b, "................................", 32);
    refused(&b, "checksum");
}

static void tar_end_blocks_optional(void **state)
{
    (void)state;
    buf b = {0};
    file(&b, "a", "1");
    rec r;
    err e = {0};
    assert_int_equal(read_all(&b, 512, &r, &e), 0); /* no end blocks: accepted */
    assert_int_equal(r.n, 1);
    end(&b);
    put(&b, "junk after the end is ignored", 29);
    assert_int_equal(read_all(&b, 512, &r, &e), 0);
    assert_int_equal(r.n, 1);
    free(b.p);
}

static int s_fail_begin(void *ctx, const char *path, uint64_t size, err *e)
{
    (void)ctx;
    (void)path;
    (void)size;
    return err_set(e, ERR_S3, "store down");
}

static void tar_sink_errors_pass_through(void **state)
{
    (void)state;
    buf b = {0};
    file(&b, "a", "1");
    end(&b);
    rec r;
    tar_sink s = {s_fail_begin, r_data, r_end, &r};
    tar_reader t;
    tar_reader_init(&t, &s);
    err e = {0};
    assert_int_equal(tar_feed(&t, b.p, b.n, &e), -1);
    assert_int_equal(e.kind, ERR_S3);
    tar_reader_free(&t);
    free(b.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tar_reads_files_in_any_chunking),
        cmocka_unit_test(tar_long_names),
        cmocka_unit_test(tar_pax_size_overrides),
        cmocka_unit_test(tar_refusals),
        cmocka_unit_test(tar_end_blocks_optional),
        cmocka_unit_test(tar_sink_errors_pass_through),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
