/*
 * test_blob.c: the blob store on the filesystem backend: round trips, dedup, checksums, keys,
 * walks, temporaries, verification and resumable upload sessions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "blob/blob.h"
#include "util/crypto.h"
#include "util/log.h"

#define MIB (1024u * 1024u)

typedef struct fixture {
    char dir[64];
    blob *b;
} fixture;

/* ---- helpers ---- */

static void evp_hex(char hex[65], const void *p, size_t n)
{
    uint8_t md[32];
    unsigned int len = 0;
    assert_int_equal(EVP_Digest(p, n, md, &len, EVP_sha256(), NULL), 1);
    assert_int_equal(len, 32);
    crypto_hex(hex, md, 32);
}

/* Deterministic filler so failures reproduce. */
static void fill(uint8_t *p, size_t n, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (uint8_t)x;
    }
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_rf(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Counts the entries of dir/sub, without . and .. */
static int count_entries(const char *dir, const char *sub)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, sub);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

/* Writes p[0..n) as one blob (in chunks of at most chunk bytes); returns commit's rc. */
static int put(blob *b, const void *p, size_t n, size_t chunk, const char *expected, char hex[65],
               uint64_t *size, err *e)
{
    blob_writer *w = NULL;
    if (blob_writer_open(&w, b, e) < 0)
        return -1;
    const uint8_t *c = p;
    for (size_t off = 0; off < n;) {
        size_t k = n - off < chunk ? n - off : chunk;
        if (blob_writer_write(w, c + off, k, e) < 0) {
            blob_writer_abort(w);
            return -1;
        }
        off += k;
        assert_int_equal(blob_writer_size(w), off);
    }
    return blob_writer_commit(w, expected, hex, size, e);
}

/* Reads the whole blob at key through blob_open_read. Returns a malloc'd buffer. */
static uint8_t *get(blob *b, const char *key, uint64_t *size)
{
    err e = {0};
    int fd = -1;
    assert_int_equal(blob_open_read(&fd, size, b, key, &e), 0);
    assert_true(fd >= 0);
    uint8_t *buf = malloc(*size ? *size : 1);
    assert_non_null(buf);
    uint64_t off = 0;
    while (off < *size) {
        ssize_t r = read(fd, buf + off, *size - off);
        assert_true(r > 0);
        off += (uint64_t)r;
    }
    uint8_t extra;
    assert_int_equal(read(fd, &extra, 1), 0);
    close(fd);
    return buf;
}

static void path_of(char *out, size_t cap, const fixture *f, const char *key)
{
    snprintf(out, cap, "%s/%s", f->dir, key);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (!f) /* (not only assert_non_null: GCC's -fsanitize build cannot see it stops) */
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/cairn-blob-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char url[128];
    snprintf(url, sizeof(url), "file://%s/store", f->dir);
    err e = {0};
    assert_int_equal(blob_open(&f->b, url, &e), 0);
    strcat(f->dir, "/store");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    blob_close(f->b);
    char top[64];
    snprintf(top, sizeof(top), "%.*s", (int)(strlen(f->dir) - strlen("/store")), f->dir);
    rm_rf(top);
    free(f);
    return 0;
}

/* ---- tests ---- */

static void round_trip_small(void **state)
{
    fixture *f = *state;
    static const char msg[] = "hello, cairn";
    char hex[65], want[65], key[BLOB_KEY_MAX], path[PATH_MAX];
    uint64_t size = 0;
    err e = {0};

    assert_int_equal(put(f->b, msg, strlen(msg), 5, NULL, hex, &size, &e), 0);
    evp_hex(want, msg, strlen(msg));
    assert_string_equal(hex, want);
    assert_int_equal(size, strlen(msg));

    blob_key_of(key, sizeof(key), hex);
    assert_true(blob_key_is_valid(key));
    assert_true(blob_exists(f->b, key));
    uint64_t n = 0;
    uint8_t *got = get(f->b, key, &n);
    assert_int_equal(n, strlen(msg));
    assert_memory_equal(got, msg, n);
    free(got);

    struct stat sb;
    path_of(path, sizeof(path), f, key);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0644);
    assert_int_equal(count_entries(f->dir, "tmp"), 0);
}

static void round_trip_empty(void **state)
{
    fixture *f = *state;
    char hex[65], key[BLOB_KEY_MAX];
    uint64_t size = 1;
    err e = {0};

    assert_int_equal(put(f->b, "", 0, 1, NULL, hex, &size, &e), 0);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_int_equal(size, 0);
    blob_key_of(key, sizeof(key), hex);
    uint64_t n = 1;
    free(get(f->b, key, &n));
    assert_int_equal(n, 0);
}

static void round_trip_20mib_odd_chunks(void **state)
{
    fixture *f = *state;
    const size_t n = 20 * MIB;
    static const size_t chunks[] = {1, 4093, 65537, 1000003, 7, 3 * MIB + 1};
    uint8_t *data = malloc(n);
    char hex[65], want[65], key[BLOB_KEY_MAX];
    uint64_t size = 0;
    err e = {0};
    blob_writer *w = NULL;

    assert_non_null(data);
    fill(data, n, 20);
    assert_int_equal(blob_writer_open(&w, f->b, &e), 0);
    size_t off = 0;
    for (size_t i = 0; off < n; i++) {
        size_t k = chunks[i % (sizeof(chunks) / sizeof(chunks[0]))];
        if (k > n - off)
            k = n - off;
        assert_int_equal(blob_writer_write(w, data + off, k, &e), 0);
        off += k;
    }
    assert_int_equal(blob_writer_size(w), n);
    assert_int_equal(blob_writer_commit(w, NULL, hex, &size, &e), 0);
    evp_hex(want, data, n);
    assert_string_equal(hex, want);
    assert_int_equal(size, n);

    blob_key_of(key, sizeof(key), hex);
    uint64_t got_n = 0;
    uint8_t *got = get(f->b, key, &got_n);
    assert_int_equal(got_n, n);
    assert_memory_equal(got, data, n);
    free(got);
    free(data);

    bool ok = false;
    assert_int_equal(blob_verify(&ok, f->b, key, &e), 0);
    assert_true(ok);
}

static void dedup_keeps_one_file(void **state)
{
    fixture *f = *state;
    static const char msg[] = "same bytes twice";
    char hex1[65], hex2[65], key[BLOB_KEY_MAX], ab[16];
    uint64_t s1 = 0, s2 = 0, bytes = 0, count = 0;
    err e = {0};

    assert_int_equal(put(f->b, msg, strlen(msg), 3, NULL, hex1, &s1, &e), 0);
    assert_int_equal(put(f->b, msg, strlen(msg), 100, hex1, hex2, &s2, &e), 0);
    assert_string_equal(hex1, hex2);
    assert_int_equal(s1, s2);

    snprintf(ab, sizeof(ab), "sha256/%.2s", hex1);
    assert_int_equal(count_entries(f->dir, ab), 1);
    assert_int_equal(count_entries(f->dir, "tmp"), 0);
    assert_int_equal(blob_stats(&bytes, &count, f->b, &e), 0);
    assert_int_equal(count, 1);
    assert_int_equal(bytes, strlen(msg));
    blob_key_of(key, sizeof(key), hex1);
    assert_true(blob_exists(f->b, key));
}

static void checksum_mismatch_stores_nothing(void **state)
{
    fixture *f = *state;
    static const char msg[] = "payload";
    const char *wrong = "0000000000000000000000000000000000000000000000000000000000000000";
    char hex[65] = "", want[65], key[BLOB_KEY_MAX], expect_msg[256];
    uint64_t size = 7777, bytes = 1, count = 1;
    err e = {0};

    evp_hex(want, msg, strlen(msg));
    assert_int_equal(put(f->b, msg, strlen(msg), 2, wrong, hex, &size, &e), -1);
    assert_int_equal(e.kind, ERR_VALIDATION);
    assert_int_equal(e.nfields, 1);
    assert_string_equal(e.fields[0].loc[0], "body");
    assert_string_equal(e.fields[0].loc[1], "sha256");
    assert_string_equal(e.fields[0].type, "value_error");
    /* Compared up to what err_field.msg can hold: the full message needs 162 bytes. */
    snprintf(expect_msg, sizeof(expect_msg), "checksum mismatch: expected %s, got %s", wrong, want);
    expect_msg[sizeof(e.fields[0].msg) - 1] = '\0';
    assert_string_equal(e.fields[0].msg, expect_msg);
    assert_string_equal(hex, "");
    assert_int_equal(size, 7777);

    blob_key_of(key, sizeof(key), want);
    assert_false(blob_exists(f->b, key));
    assert_int_equal(count_entries(f->dir, "tmp"), 0);
    assert_int_equal(blob_stats(&bytes, &count, f->b, &e), 0);
    assert_int_equal(count, 0);
    assert_int_equal(bytes, 0);

    /* A malformed expectation is a mismatch too. */
    err_clear(&e);
    assert_int_equal(put(f->b, msg, strlen(msg), 2, "xyz", hex, &size, &e), -1);
    assert_int_equal(e.kind, ERR_VALIDATION);
    assert_int_equal(count_entries(f->dir, "tmp"), 0);

    /* The digest's case does not matter. */
    char upper[65];
    for (int i = 0; i < 65; i++)
        upper[i] = (char)(want[i] >= 'a' && want[i] <= 'f' ? want[i] - 32 : want[i]);
    err_clear(&e);
    assert_int_equal(put(f->b, msg, strlen(msg), 2, upper, hex, &size, &e), 0);
    assert_string_equal(hex, want);
}

static void abort_leaves_no_temp(void **state)
{
    fixture *f = *state;
    blob_writer *w = NULL;
    err e = {0};
    uint64_t bytes = 1, count = 1;

    assert_int_equal(blob_writer_open(&w, f->b, &e), 0);
    assert_int_equal(count_entries(f->dir, "tmp"), 1);
    assert_int_equal(blob_writer_write(w, "partial", 7, &e), 0);
    blob_writer_abort(w);
    blob_writer_abort(NULL);
    assert_int_equal(count_entries(f->dir, "tmp"), 0);
    assert_int_equal(blob_stats(&bytes, &count, f->b, &e), 0);
    assert_int_equal(count, 0);
}

/* Blobs over one 4 MiB block go through the backend's hash and I/O threads: a mismatch found
 * there stores nothing, and an abort in mid-stream stops the threads and leaves no temporary. */
static void pipeline_mismatch_and_abort(void **state)
{
    fixture *f = *state;
    const size_t n = 9 * MIB + 5;
    uint8_t *data = malloc(n);
    const char *wrong = "1111111111111111111111111111111111111111111111111111111111111111";
    char hex[65] = "", want[65], key[BLOB_KEY_MAX];
    uint64_t size = 0, bytes = 1, count = 1;
    err e = {0};
    blob_writer *w = NULL;

    assert_non_null(data);
    fill(data, n, 9);
    evp_hex(want, data, n);
    assert_int_equal(put(f->b, data, n, 65537, wrong, hex, &size, &e), -1);
    assert_int_equal(e.kind, ERR_VALIDATION);
    assert_true(strstr(e.fields[0].msg, want) != NULL); /* the digest the threads computed */
    blob_key_of(key, sizeof(key), want);
    assert_false(blob_exists(f->b, key));
    assert_int_equal(count_entries(f->dir, "tmp"), 0);

    err_clear(&e);
    assert_int_equal(blob_writer_open(&w, f->b, &e), 0);
    assert_int_equal(blob_writer_write(w, data, 6 * MIB, &e), 0); /* threads are running */
    blob_writer_abort(w);
    assert_int_equal(count_entries(f->dir, "tmp"), 0);
    assert_int_equal(blob_stats(&bytes, &count, f->b, &e), 0);
    assert_int_equal(count, 0);

    /* And the same bytes with the right digest land intact. */
    assert_int_equal(put(f->b, data, n, 1000003, want, hex, &size, &e), 0);
    assert_string_equal(hex, want);
    uint64_t got_n = 0;
    uint8_t *got = get(f->b, key, &got_n);
    assert_int_equal(got_n, n);
    assert_memory_equal(got, data, n);
    free(got);
    free(data);
}

static void key_validation(void **state)
{
    fixture *f = *state;
    const char *hex = "ab5df625bc76dbd4e163bed2dd888df828f90159bb93556525c31821b6541d46";
    char key[BLOB_KEY_MAX], small[12];
    err e = {0};

    blob_key_of(key, sizeof(key), hex);
    assert_string_equal(
        key, "sha256/ab/ab5df625bc76dbd4e163bed2dd888df828f90159bb93556525c31821b6541d46");
    assert_int_equal(strlen(key) + 1, 75);
    assert_true(blob_key_is_valid(key));
    blob_key_of(small, sizeof(small), hex); /* truncates like snprintf */
    assert_string_equal(small, "sha256/ab/a");

    static const char *const bad[] = {
        "",
        "sha256/",
        "sha256/../../etc/passwd",
        "sha256/ab/../../../../../../etc/passwd",
        "sha256/../ab/ab5df625bc76dbd4e163bed2dd888df828f90159bb93556525c31821b6541d4",
        "sha256/ab/ab5df625bc76dbd4e163bed2dd888df828f90159bb93556525c31821b6541d4",
        "sha256/ab/ab5df625bc76dbd4e163bed2dd888df828f90159bb93556525c31821b6541d466",
        "sha256/ab/ab5df625bc76dbd4e163bed2dd888df828f90159bb93556525c31821b6541d46/",
        "sha256/AB/AB5DF625BC76DBD4E163BED2DD888DF828F90159BB93556525C31821B6541D46",
        "sha256/ab/ab5df625bc76dbd4e163bed2dd888df828f90159bb93556525c31821b6541D46",
        "sha256/cd/ab5df625bc76dbd4e163bed2dd888df828f90159bb93556525c31821b6541d46",
        "sha256/ab-ab5df625bc76dbd4e163bed2dd888df828f90159bb93556525c31821b6541d46",
        "sha512/ab/ab5df625bc76dbd4e163bed2dd888df828f90159bb93556525c31821b6541d46",
        "/sha256/ab/ab5df625bc76dbd4e163bed2dd888df828f90159bb93556525c31821b6541d4",
        "sha256/ab/ab5df625bc76dbd4e163bed2dd888df828f90159bb93556525c31821b6541d4g",
        "ab5df625bc76dbd4e163bed2dd888df828f90159bb93556525c31821b6541d46",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(blob_key_is_valid(bad[i]));
        assert_false(blob_exists(f->b, bad[i]));
        int fd = 123;
        uint64_t size = 0;
        bool ok = true;
        err_clear(&e);
        assert_int_equal(blob_open_read(&fd, &size, f->b, bad[i], &e), -1);
        assert_int_equal(e.kind, ERR_NOT_FOUND);
        assert_int_equal(fd, -1);
        err_clear(&e);
        assert_int_equal(blob_delete(f->b, bad[i], &e), -1);
        assert_int_equal(e.kind, ERR_NOT_FOUND);
        err_clear(&e);
        assert_int_equal(blob_verify(&ok, f->b, bad[i], &e), -1);
        assert_int_equal(e.kind, ERR_NOT_FOUND);
    }
    assert_false(blob_key_is_valid(NULL));

    /* A valid key that is absent. */
    int fd = 0;
    uint64_t size = 0;
    err_clear(&e);
    assert_false(blob_exists(f->b, key));
    assert_int_equal(blob_open_read(&fd, &size, f->b, key, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_string_equal(e.detail, "blob not found");
}

typedef struct walk {
    int n;
    uint64_t bytes;
    int stop_after; /* 0: never */
    bool fail;
} walk;

static int walk_fn(const char *key, uint64_t size, int64_t mtime_ms, void *ctx)
{
    walk *w = ctx;
    assert_true(blob_key_is_valid(key));
    assert_true(mtime_ms > 0);
    w->n++;
    w->bytes += size;
    if (w->fail)
        return -1;
    return w->stop_after && w->n == w->stop_after ? 1 : 0;
}

static void foreach_and_stats_count(void **state)
{
    fixture *f = *state;
    char hex[65], path[PATH_MAX];
    uint64_t size = 0, bytes = 0, count = 0, total = 0;
    err e = {0};
    uint8_t buf[3000];

    for (uint32_t i = 0; i < 5; i++) {
        size_t n = 100 + 500 * i;
        fill(buf, n, i);
        assert_int_equal(put(f->b, buf, n, 77, NULL, hex, &size, &e), 0);
        total += n;
    }
    /* Strays that are not blobs are not counted. */
    snprintf(path, sizeof(path), "%s/sha256/zz", f->dir);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/sha256/%.2s/not-a-digest", f->dir, hex);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("stray", fp);
    fclose(fp);

    walk w = {0};
    assert_int_equal(blob_foreach(f->b, walk_fn, &w, &e), 0);
    assert_int_equal(w.n, 5);
    assert_int_equal(w.bytes, total);
    assert_int_equal(blob_stats(&bytes, &count, f->b, &e), 0);
    assert_int_equal(count, 5);
    assert_int_equal(bytes, total);

    walk stop = {.stop_after = 2};
    assert_int_equal(blob_foreach(f->b, walk_fn, &stop, &e), 0);
    assert_int_equal(stop.n, 2);

    walk fail = {.fail = true};
    err_clear(&e);
    assert_int_equal(blob_foreach(f->b, walk_fn, &fail, &e), -1);
    assert_int_equal(fail.n, 1);
    assert_int_equal(e.kind, ERR_SERVER);
}

static void delete_removes_blob(void **state)
{
    fixture *f = *state;
    char hex[65], key[BLOB_KEY_MAX];
    uint64_t size = 0;
    err e = {0};

    assert_int_equal(put(f->b, "bye", 3, 3, NULL, hex, &size, &e), 0);
    blob_key_of(key, sizeof(key), hex);
    assert_int_equal(blob_delete(f->b, key, &e), 0);
    assert_false(blob_exists(f->b, key));
    assert_int_equal(blob_delete(f->b, key, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
}

static bool live_old_session(const char *id, void *ctx)
{
    (void)ctx;
    return strcmp(id, "old-session") == 0;
}

static void sweep_tmp_removes_old_only(void **state)
{
    fixture *f = *state;
    blob_writer *old = NULL, *fresh = NULL;
    err e = {0};
    uint64_t n = 0;
    int removed = -1;

    assert_int_equal(blob_writer_open(&old, f->b, &e), 0);
    assert_int_equal(blob_writer_open(&fresh, f->b, &e), 0);
    assert_int_equal(blob_session_append(f->b, "old-session", 0, "x", 1, &n, &e), 0);
    assert_int_equal(blob_session_append(f->b, "new-session", 0, "y", 1, &n, &e), 0);
    assert_int_equal(count_entries(f->dir, "tmp"), 4);

    /* Age one writer temp and one session by two hours. */
    char tmpdir[PATH_MAX];
    snprintf(tmpdir, sizeof(tmpdir), "%s/tmp", f->dir);
    int dfd = open(tmpdir, O_RDONLY | O_DIRECTORY);
    assert_true(dfd >= 0);
    DIR *d = fdopendir(dup(dfd));
    assert_non_null(d);
    struct timespec past[2] = {{time(NULL) - 7200, 0}, {time(NULL) - 7200, 0}};
    struct dirent *de;
    bool aged_writer = false;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || strcmp(de->d_name, "new-session") == 0 ||
            strcmp(de->d_name, "session-new-session") == 0)
            continue;
        if (strncmp(de->d_name, "session-", 8) != 0) {
            if (aged_writer)
                continue;
            aged_writer = true;
        }
        assert_int_equal(utimensat(dfd, de->d_name, past, 0), 0);
    }
    closedir(d);
    close(dfd);

    /* A live session keeps its bytes, whatever their age. */
    assert_int_equal(blob_sweep_tmp(f->b, 3600 * 1000, live_old_session, NULL, &removed, &e), 0);
    assert_int_equal(removed, 1);
    assert_int_equal(blob_session_size(&n, f->b, "old-session", &e), 0);
    assert_int_equal(n, 1);
    assert_int_equal(blob_sweep_tmp(f->b, 3600 * 1000, NULL, NULL, &removed, &e), 0);
    assert_int_equal(removed, 1);
    assert_int_equal(count_entries(f->dir, "tmp"), 2);
    assert_int_equal(blob_session_size(&n, f->b, "old-session", &e), 0);
    assert_int_equal(n, 0);
    assert_int_equal(blob_session_size(&n, f->b, "new-session", &e), 0);
    assert_int_equal(n, 1);

    assert_int_equal(blob_sweep_tmp(f->b, 3600 * 1000, NULL, NULL, &removed, &e), 0);
    assert_int_equal(removed, 0);

    blob_writer_abort(old);
    blob_writer_abort(fresh);
    blob_session_discard(f->b, "new-session");
    assert_int_equal(count_entries(f->dir, "tmp"), 0);
}

static void verify_detects_corruption(void **state)
{
    fixture *f = *state;
    uint8_t data[4096];
    char hex[65], key[BLOB_KEY_MAX], path[PATH_MAX];
    uint64_t size = 0;
    bool ok = false;
    err e = {0};

    fill(data, sizeof(data), 9);
    assert_int_equal(put(f->b, data, sizeof(data), 1000, NULL, hex, &size, &e), 0);
    blob_key_of(key, sizeof(key), hex);
    assert_int_equal(blob_verify(&ok, f->b, key, &e), 0);
    assert_true(ok);

    path_of(path, sizeof(path), f, key);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t c;
    assert_int_equal(pread(fd, &c, 1, 1234), 1);
    c ^= 0x01;
    assert_int_equal(pwrite(fd, &c, 1, 1234), 1);
    close(fd);

    assert_int_equal(blob_verify(&ok, f->b, key, &e), 0);
    assert_false(ok);

    assert_int_equal(blob_delete(f->b, key, &e), 0);
    err_clear(&e);
    assert_int_equal(blob_verify(&ok, f->b, key, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
}

static void session_append_and_commit(void **state)
{
    fixture *f = *state;
    const size_t total = 3 * MIB + 17;
    uint8_t *data = malloc(total);
    char hex[65], want[65], key[BLOB_KEY_MAX];
    uint64_t n = 0, size = 0;
    err e = {0};

    assert_non_null(data);
    fill(data, total, 42);
    evp_hex(want, data, total);

    assert_int_equal(blob_session_size(&n, f->b, "up-1", &e), 0);
    assert_int_equal(n, 0);
    size_t off = 0, step = 1000003;
    while (off < total) {
        size_t k = total - off < step ? total - off : step;
        assert_int_equal(blob_session_append(f->b, "up-1", off, data + off, k, &n, &e), 0);
        off += k;
        assert_int_equal(n, off);
    }
    assert_int_equal(blob_session_size(&n, f->b, "up-1", &e), 0);
    assert_int_equal(n, total);

    /* Replaying a chunk or skipping ahead is a conflict and changes nothing. */
    err_clear(&e);
    assert_int_equal(blob_session_append(f->b, "up-1", 0, data, 10, &n, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    err_clear(&e);
    assert_int_equal(blob_session_append(f->b, "up-1", total + 1, data, 10, &n, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    assert_int_equal(blob_session_size(&n, f->b, "up-1", &e), 0);
    assert_int_equal(n, total);

    assert_int_equal(blob_session_commit(f->b, "up-1", want, -1, hex, &size, &e), 0);
    assert_string_equal(hex, want);
    assert_int_equal(size, total);
    assert_int_equal(count_entries(f->dir, "tmp"), 0);
    assert_int_equal(blob_session_size(&n, f->b, "up-1", &e), 0);
    assert_int_equal(n, 0);

    blob_key_of(key, sizeof(key), hex);
    uint64_t got_n = 0;
    uint8_t *got = get(f->b, key, &got_n);
    assert_int_equal(got_n, total);
    assert_memory_equal(got, data, total);
    free(got);

    /* The same bytes through a writer dedup against the session's blob. */
    char hex2[65];
    assert_int_equal(put(f->b, data, total, 65536, want, hex2, &size, &e), 0);
    assert_string_equal(hex2, want);
    uint64_t bytes = 0, count = 0;
    assert_int_equal(blob_stats(&bytes, &count, f->b, &e), 0);
    assert_int_equal(count, 1);
    free(data);

    err_clear(&e);
    assert_int_equal(blob_session_commit(f->b, "up-1", NULL, -1, hex, &size, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
}

static void session_wrong_offset_conflicts(void **state)
{
    fixture *f = *state;
    uint64_t n = 99;
    err e = {0};

    assert_int_equal(blob_session_append(f->b, "s", 5, "abc", 3, &n, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    assert_int_equal(n, 99);
    assert_int_equal(blob_session_append(f->b, "s", 0, "abc", 3, &n, &e), 0);
    assert_int_equal(n, 3);
    err_clear(&e);
    assert_int_equal(blob_session_append(f->b, "s", 2, "def", 3, &n, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    assert_int_equal(blob_session_append(f->b, "s", 3, "def", 3, &n, &e), 0);
    assert_int_equal(n, 6);

    char hex[65], want[65];
    uint64_t size = 0;
    evp_hex(want, "abcdef", 6);
    assert_int_equal(blob_session_commit(f->b, "s", NULL, -1, hex, &size, &e), 0);
    assert_string_equal(hex, want);
    assert_int_equal(size, 6);
}

static void session_mismatch_and_discard(void **state)
{
    fixture *f = *state;
    const char *wrong = "1111111111111111111111111111111111111111111111111111111111111111";
    uint64_t n = 0, size = 0, bytes = 1, count = 1;
    char hex[65];
    err e = {0};

    assert_int_equal(blob_session_append(f->b, "m", 0, "abc", 3, &n, &e), 0);
    assert_int_equal(blob_session_commit(f->b, "m", wrong, -1, hex, &size, &e), -1);
    assert_int_equal(e.kind, ERR_VALIDATION);
    assert_string_equal(e.fields[0].loc[1], "sha256");
    assert_string_equal(e.fields[0].type, "value_error");
    /* A failed commit publishes nothing and leaves the session resumable. */
    assert_int_equal(blob_stats(&bytes, &count, f->b, &e), 0);
    assert_int_equal(count, 0);
    assert_int_equal(blob_session_size(&n, f->b, "m", &e), 0);
    assert_int_equal(n, 3);
    err_clear(&e);
    assert_int_equal(blob_session_commit(f->b, "m", NULL, 4, hex, &size, &e), -1);
    assert_int_equal(e.kind, ERR_VALIDATION);
    assert_string_equal(e.fields[0].loc[1], "size");
    assert_int_equal(blob_stats(&bytes, &count, f->b, &e), 0);
    assert_int_equal(count, 0);
    err_clear(&e);
    assert_int_equal(blob_session_append(f->b, "m", 3, "d", 1, &n, &e), 0);
    assert_int_equal(n, 4);
    assert_int_equal(blob_session_commit(f->b, "m", NULL, 4, hex, &size, &e), 0);
    assert_int_equal(size, 4);
    assert_int_equal(count_entries(f->dir, "tmp"), 0);
    assert_int_equal(blob_stats(&bytes, &count, f->b, &e), 0);
    assert_int_equal(count, 1);
    err ignored = {0};
    char key[BLOB_KEY_MAX];
    blob_key_of(key, sizeof(key), hex);
    assert_int_equal(blob_delete(f->b, key, &ignored), 0);

    assert_int_equal(blob_session_append(f->b, "d", 0, "abc", 3, &n, &e), 0);
    blob_session_discard(f->b, "d");
    blob_session_discard(f->b, "d");
    blob_session_discard(f->b, "../d");
    assert_int_equal(blob_session_size(&n, f->b, "d", &e), 0);
    assert_int_equal(n, 0);
    assert_int_equal(count_entries(f->dir, "tmp"), 0);
}

static void session_ids_validated(void **state)
{
    fixture *f = *state;
    char longest[66];
    uint64_t n = 0;
    err e = {0};

    memset(longest, 'a', 64);
    longest[64] = '\0';
    assert_int_equal(blob_session_append(f->b, longest, 0, "x", 1, &n, &e), 0);
    blob_session_discard(f->b, longest);

    longest[64] = 'a';
    longest[65] = '\0';
    const char *bad[] = {"", "../x", "a/b", "a b", "a.b", "a_b", "\xc3\xbc", longest};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char hex[65];
        err_clear(&e);
        assert_int_equal(blob_session_append(f->b, bad[i], 0, "x", 1, &n, &e), -1);
        assert_int_equal(e.kind, ERR_INVALID);
        err_clear(&e);
        assert_int_equal(blob_session_size(&n, f->b, bad[i], &e), -1);
        assert_int_equal(e.kind, ERR_INVALID);
        err_clear(&e);
        assert_int_equal(blob_session_commit(f->b, bad[i], NULL, -1, hex, &n, &e), -1);
        assert_int_equal(e.kind, ERR_INVALID);
    }
    assert_int_equal(count_entries(f->dir, "tmp"), 0);
}

typedef struct worker {
    blob *b;
    int id;
    char shared[65], own[65];
    int rc;
} worker;

static void *worker_run(void *arg)
{
    worker *w = arg;
    static const char common[] = "every thread writes this";
    char mine[32];
    uint64_t size = 0;
    err e = {0};
    snprintf(mine, sizeof(mine), "thread %d", w->id);
    w->rc = put(w->b, common, strlen(common), 4, NULL, w->shared, &size, &e);
    if (w->rc == 0)
        w->rc = put(w->b, mine, strlen(mine), 3, NULL, w->own, &size, &e);
    return NULL;
}

static void concurrent_writers_share_handle(void **state)
{
    fixture *f = *state;
    enum { N = 8 };
    worker ws[N];
    pthread_t th[N];
    err e = {0};

    for (int i = 0; i < N; i++) {
        ws[i] = (worker){.b = f->b, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, worker_run, &ws[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(ws[i].rc, 0);
        assert_string_equal(ws[i].shared, ws[0].shared);
    }
    uint64_t bytes = 0, count = 0;
    assert_int_equal(blob_stats(&bytes, &count, f->b, &e), 0);
    assert_int_equal(count, N + 1);
    assert_int_equal(count_entries(f->dir, "tmp"), 0);
}

static void open_urls(void **state)
{
    (void)state;
    char base[64] = "/tmp/cairn-blob-url-XXXXXX", url[256], path[PATH_MAX], cwd[PATH_MAX];
    blob *b = NULL;
    err e = {0};
    struct stat sb;

    assert_non_null(mkdtemp(base));

    snprintf(url, sizeof(url), "%s/plain/a/b", base);
    assert_int_equal(blob_open(&b, url, &e), 0);
    blob_close(b);
    snprintf(path, sizeof(path), "%s/plain/a/b/sha256", base);
    assert_int_equal(stat(path, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_int_equal(sb.st_mode & 0777, 0755);
    snprintf(path, sizeof(path), "%s/plain/a/b/tmp", base);
    assert_int_equal(stat(path, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));

    /* A relative store keeps working after the process changes directory. */
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(base), 0);
    assert_int_equal(blob_open(&b, "file://./rel/dir", &e), 0);
    assert_int_equal(chdir(cwd), 0);
    char hex[65];
    uint64_t size = 0;
    assert_int_equal(put(b, "rel", 3, 3, NULL, hex, &size, &e), 0);
    blob_close(b);
    snprintf(path, sizeof(path), "%s/rel/dir/sha256/%.2s/%s", base, hex, hex);
    assert_int_equal(stat(path, &sb), 0);

    snprintf(url, sizeof(url), "file://localhost%s/host", base);
    assert_int_equal(blob_open(&b, url, &e), 0);
    blob_close(b);
    blob_close(NULL);

    static const char *const bad[] = {"", "file://", "s3://bucket/prefix", "http://x/y"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        b = (blob *)1;
        err_clear(&e);
        assert_int_equal(blob_open(&b, bad[i], &e), -1);
        assert_int_equal(e.kind, ERR_INVALID);
        assert_null(b);
    }

    /* A directory that cannot be made is a server fault that names no path. */
    snprintf(path, sizeof(path), "%s/file", base);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
    snprintf(url, sizeof(url), "%s/file/store", base);
    err_clear(&e);
    assert_int_equal(blob_open(&b, url, &e), -1);
    assert_int_equal(e.kind, ERR_SERVER);
    assert_null(strstr(e.detail, base));
    assert_null(strchr(e.detail, '/'));
    rm_rf(base);
}

/* Appenders: one request's appends; offsets checked at open; what was written is kept. */
static void appender_appends_and_commits(void **state)
{
    fixture *f = *state;
    const size_t total = 2 * MIB + 5;
    uint8_t *data = malloc(total);
    char hex[65], want[65];
    uint64_t n = 0, size = 0;
    blob_appender *ap = NULL;
    err e = {0};

    assert_non_null(data);
    fill(data, total, 7);
    evp_hex(want, data, total);
    assert_int_equal(blob_appender_open(&ap, f->b, "ap-1", 0, &e), 0);
    assert_int_equal(blob_appender_write(ap, data, 1000, &e), 0);
    assert_int_equal(blob_appender_write(ap, data + 1000, MIB, &e), 0);
    assert_int_equal(blob_appender_close(ap, &n, &e), 0);
    assert_int_equal(n, 1000 + MIB);
    /* A stale or future offset is refused before any byte moves. */
    ap = (blob_appender *)1;
    assert_int_equal(blob_appender_open(&ap, f->b, "ap-1", 0, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    assert_null(ap);
    err_clear(&e);
    assert_int_equal(blob_appender_open(&ap, f->b, "ap-1", n + 1, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    err_clear(&e);
    /* A refused request's appends are discarded: the session is back at its size. */
    assert_int_equal(blob_appender_open(&ap, f->b, "ap-1", n, &e), 0);
    assert_int_equal(blob_appender_write(ap, data + n, 4096, &e), 0);
    blob_appender_discard(ap);
    blob_appender_discard(NULL);
    uint64_t back = 0;
    assert_int_equal(blob_session_size(&back, f->b, "ap-1", &e), 0);
    assert_int_equal(back, n);
    assert_int_equal(blob_appender_open(&ap, f->b, "ap-1", n, &e), 0);
    assert_int_equal(blob_appender_write(ap, data + n, total - n, &e), 0);
    assert_int_equal(blob_appender_close(ap, NULL, &e), 0);
    assert_int_equal(blob_appender_close(NULL, NULL, &e), 0);
    assert_int_equal(blob_session_size(&n, f->b, "ap-1", &e), 0);
    assert_int_equal(n, total);
    assert_int_equal(blob_session_commit(f->b, "ap-1", want, -1, hex, &size, &e), 0);
    assert_string_equal(hex, want);
    assert_int_equal(size, total);
    err_clear(&e);
    assert_int_equal(blob_appender_open(&ap, f->b, "bad/id", 0, &e), -1);
    assert_int_equal(e.kind, ERR_INVALID);

    /* The head of a blob, without the rest. */
    char key[BLOB_KEY_MAX];
    uint8_t head[16];
    size_t got = 0;
    blob_key_of(key, sizeof(key), hex);
    assert_int_equal(blob_read_head(head, sizeof(head), &got, &size, f->b, key, &e), 0);
    assert_int_equal(got, sizeof(head));
    assert_int_equal(size, total);
    assert_memory_equal(head, data, sizeof(head));
    err_clear(&e);
    assert_int_equal(blob_read_head(head, sizeof(head), &got, &size, f->b, "sha256/zz/x", &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);

    /* Files give no direct URLs: callers use cairn's own (presign.h). */
    char url[64] = "x";
    assert_false(blob_has_direct_urls(f->b));
    assert_false(blob_presign_get(url, sizeof(url), f->b, key, 1, "w.bin"));
    assert_string_equal(url, "");
    assert_false(blob_presign_put(url, sizeof(url), f->b, "up", 1));
    /* A PUT through cairn leaves a mark: confirm takes only bytes marked under its upload id,
     * once, whatever else the store holds. */
    err_clear(&e);
    char got_hex[65];
    assert_int_equal(blob_upload_commit(f->b, "up", NULL, got_hex, &size, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    err_clear(&e);
    assert_int_equal(blob_upload_mark(f->b, "up", hex, &e), 0);
    assert_int_equal(blob_upload_commit(f->b, "other", hex, got_hex, &size, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    err_clear(&e);
    assert_int_equal(blob_upload_commit(f->b, "up", hex, got_hex, &size, &e), 0);
    assert_string_equal(got_hex, hex);
    assert_int_equal(size, total);
    assert_int_equal(blob_upload_commit(f->b, "up", hex, got_hex, &size, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    free(data);
}

/* S3 urls: opening needs no network; direct URLs are path-style under the prefix, with the
 * port, SigV4 query-signed; malformed urls and missing credentials are ERR_INVALID. */
static void s3_urls_and_presigning(void **state)
{
    (void)state;
    char base[64] = "/tmp/cairn-blob-s3-XXXXXX", url[512], out[2048];
    blob *b = NULL;
    err e = {0};
    const char *key = "sha256/ab/ab00000000000000000000000000000000000000000000000000000000000000";

    assert_non_null(mkdtemp(base));
    setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
    snprintf(url, sizeof(url),
             "s3://cairn-test/some/prefix/?endpoint=http%%3A%%2F%%2F127.0.0.1%%3A9000&region=eu-"
             "west-1&cache=%s/cache&cache_max=1000000&part_size=5242880&timeout=5",
             base);
    assert_int_equal(blob_open(&b, url, &e), 0);
    assert_true(blob_has_direct_urls(b));
    int64_t exp = time(NULL) + 3600;
    assert_true(blob_presign_get(out, sizeof(out), b, key, exp, "my model (v1).bin"));
    assert_non_null(strstr(out, "http://127.0.0.1:9000/cairn-test/some/prefix/sha256/ab/ab000"));
    assert_non_null(
        strstr(out, "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F"));
    assert_non_null(strstr(out, "%2Feu-west-1%2Fs3%2Faws4_request&"));
    assert_non_null(strstr(out, "&X-Amz-SignedHeaders=host&"));
    assert_non_null(strstr(out, "&X-Amz-Signature="));
    /* the filename is reduced to characters every store encodes alike */
    assert_non_null(strstr(out, "response-content-disposition=attachment%3B%20filename%3D%22my_"
                                "model__v1_.bin%22"));
    assert_false(blob_presign_get(out, 100, b, key, exp, NULL)); /* does not fit */
    assert_string_equal(out, "");
    assert_false(blob_presign_get(out, sizeof(out), b, "sha256/../x", exp, NULL));
    assert_true(blob_presign_put(out, sizeof(out), b, "up-1", exp));
    assert_non_null(strstr(out, "http://127.0.0.1:9000/cairn-test/some/prefix/uploads/up-1?"));
    assert_false(blob_presign_put(out, sizeof(out), b, "../x", exp));
    blob_close(b);

    static const char *const bad[] = {
        "s3://cairn-test/p",                                          /* no endpoint */
        "s3://Cairn_Test/p?endpoint=http://127.0.0.1:1",              /* bucket */
        "s3://cairn-test/../p?endpoint=http://127.0.0.1:1",           /* prefix */
        "s3://cairn-test/p?endpoint=ftp://127.0.0.1:1",               /* scheme */
        "s3://cairn-test/p?endpoint=http://127.0.0.1:1&colour=blue",  /* unknown option */
        "s3://cairn-test/p?endpoint=http://127.0.0.1:1&part_size=10", /* part too small */
        "s3://cairn-test/p?endpoint=http://127.0.0.1:1&timeout=0",
        "s3://cairn-test/p?endpoint=http://",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        b = (blob *)1;
        err_clear(&e);
        if (blob_open(&b, bad[i], &e) != -1 || e.kind != ERR_INVALID)
            fail_msg("accepted %s", bad[i]);
        assert_null(b);
    }
    unsetenv("AWS_SECRET_ACCESS_KEY");
    err_clear(&e);
    assert_int_equal(blob_open(&b, "s3://cairn-test/p?endpoint=http://127.0.0.1:1", &e), -1);
    assert_int_equal(e.kind, ERR_INVALID);
    assert_non_null(strstr(e.detail, "AWS_SECRET_ACCESS_KEY"));
    unsetenv("AWS_ACCESS_KEY_ID");
    rm_rf(base);
}

int main(void)
{
    umask(022);
    log_set_level(LOG_ERROR); /* only the faults provoked on purpose get logged */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(round_trip_small, setup, teardown),
        cmocka_unit_test_setup_teardown(round_trip_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(round_trip_20mib_odd_chunks, setup, teardown),
        cmocka_unit_test_setup_teardown(dedup_keeps_one_file, setup, teardown),
        cmocka_unit_test_setup_teardown(concurrent_writers_share_handle, setup, teardown),
        cmocka_unit_test_setup_teardown(checksum_mismatch_stores_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(abort_leaves_no_temp, setup, teardown),
        cmocka_unit_test_setup_teardown(pipeline_mismatch_and_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(key_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(foreach_and_stats_count, setup, teardown),
        cmocka_unit_test_setup_teardown(delete_removes_blob, setup, teardown),
        cmocka_unit_test_setup_teardown(sweep_tmp_removes_old_only, setup, teardown),
        cmocka_unit_test_setup_teardown(verify_detects_corruption, setup, teardown),
        cmocka_unit_test_setup_teardown(session_append_and_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(session_wrong_offset_conflicts, setup, teardown),
        cmocka_unit_test_setup_teardown(session_mismatch_and_discard, setup, teardown),
        cmocka_unit_test_setup_teardown(session_ids_validated, setup, teardown),
        cmocka_unit_test(open_urls),
        cmocka_unit_test_setup_teardown(appender_appends_and_commits, setup, teardown),
        cmocka_unit_test(s3_urls_and_presigning),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
