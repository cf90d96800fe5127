/*
 * blob_fs.c: the blob store's local-directory backend. Layout under the store directory:
 *   tmp/<32 hex>        a writer's temporary, or a session being committed
 *   tmp/session-<id>    a resumable upload session
 *   sha256/ab/<64 hex>  a blob, made visible only by rename(2) after fsync
 */
#include "blob/blob.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "util/crypto.h"
#include "util/log.h"
#include "util/timeutil.h"

#define KEY_PREFIX "sha256/"
#define KEY_PREFIX_LEN 7
#define KEY_LEN (KEY_PREFIX_LEN + 3 + SHA256_HEX_LEN)

static bool is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* ============================ filesystem backend ============================ */

typedef struct fs {
    char *dir; /* as configured; for log lines only */
    int root, tmp, sha;
} fs;

/* Network chunks arrive in odd sizes (~64 KiB - headers); they are gathered into aligned
 * blocks of this size. Once a blob outgrows one block, its blocks are written with O_DIRECT:
 * the page-cache copy of buffered writes cost more CPU than the SHA-256 of the same bytes
 * (perf: 56% of cairnd's samples in copy_folio_from_iter_atomic), while direct 4 MiB writes
 * go to disk at its full rate (dd oflag=direct bs=4M: 1.2 GB/s vs 0.48 GB/s buffered + fsync
 * on the bench machine). The tail and small blobs are written through the page cache. */
#define WRITE_BLOCK (4u << 20)
#define WRITE_ALIGN 4096

/* Writeback is started every this many bytes while a blob streams in, so the final fsync
 * waits for the last window only instead of the whole file (disk and network overlap). */
#define WRITEBACK_WINDOW (16u << 20)

/* Blocks a writer may hold: one being filled by the receiving thread, one being hashed and
 * one being written. They are mapped, not malloc'd: page-aligned as O_DIRECT needs, and
 * returned to the system the moment the writer ends. */
#define WRITE_RING 3

/*
 * A writer is a three-stage pipeline over WRITE_RING blocks, so that receiving, SHA-256 and
 * the disk each get their own thread (on 2 cores, hashing inline capped a 2 GiB upload at
 * ~920 MB/s; without hashing the same path ran 1.4-1.7 GB/s):
 *   the receiving thread copies network chunks into block `filled % WRITE_RING`;
 *   the hash thread digests blocks in order (`hashed` of them so far);
 *   the I/O thread writes hashed blocks in order (`written_blocks`), then frees them.
 * Counters only grow; block k is free for filling when k - written_blocks < WRITE_RING.
 * The threads start with the second block: a blob under one block is hashed and written by
 * the caller at drain time. The backend computes the digest (blob_ops.writer_digest), so the
 * front end does not hash a second time.
 */
typedef struct fs_writer {
    fs *f;
    int fd;
    char name[33]; /* under tmp/ */
    uint64_t written, flushed; /* bytes written; bytes handed to writeback (I/O thread's) */
    unsigned char *bufs[WRITE_RING];
    size_t lens[WRITE_RING];
    uint64_t filled, hashed, written_blocks; /* blocks through each stage */
    size_t buffered; /* bytes in the block being filled */
    EVP_MD_CTX *md;  /* the hash thread's (the caller's before it starts and after join) */
    pthread_t io, hasher;
    bool started, stop, discard;
    bool direct; /* fd has O_DIRECT (I/O thread's; cleared for the unaligned tail) */
    int io_errno; /* first write error of the I/O thread (0: none) */
    bool md_failed;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} fs_writer;

/* Logs the fault with its path and errno, and gives the caller a plain sentence. */
static int io_fail(err *e, const char *op, const char *dir, const char *path, int errnum)
{
    char msg[128];
    log_error(NULL, "blob.io_error", "s:s, s:s, s:s, s:i, s:s", "op", op, "dir", dir ? dir : "",
              "path", path ? path : "", "errno", errnum, "error",
              strerror_r(errnum, msg, sizeof(msg)));
    return err_set(e, ERR_SERVER, "blob store %s failed", op);
}

static int pwrite_all(int fd, const uint8_t *p, size_t n, uint64_t off)
{
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        if (w == 0) {
            errno = EIO;
            return -1;
        }
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

static int lock_ex(int fd)
{
    int r;
    while ((r = flock(fd, LOCK_EX)) < 0 && errno == EINTR)
        ;
    return r;
}

static int64_t mtime_ms_of(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
}

/* Creates a fresh temporary tmp/<32 hex> (O_EXCL) for writing. */
static int tmp_create(int *fd, char name[33], fs *f, err *e)
{
    for (int attempt = 0; attempt < 4; attempt++) {
        uint8_t r[16];
        if (crypto_random(r, sizeof(r)) < 0)
            return err_set(e, ERR_SERVER, "blob store random source failed");
        crypto_hex(name, r, sizeof(r));
        *fd = openat(f->tmp, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (*fd >= 0)
            return 0;
        if (errno != EEXIST)
            return io_fail(e, "write", f->dir, "tmp/", errno);
    }
    return io_fail(e, "write", f->dir, "tmp/", EEXIST);
}

/* Makes the durable temporary tmp/<name> the blob sha256/ab/<hex>, or drops it if that blob
 * exists (*dedup). The temporary is gone afterwards, also on failure. */
static int publish(fs *f, const char *name, const char *hex, bool *dedup, err *e)
{
    char ab[3] = {hex[0], hex[1], '\0'};
    char path[KEY_LEN + 1];
    int abfd = -1, rc = -1;

    *dedup = false;
    snprintf(path, sizeof(path), KEY_PREFIX "%s/%s", ab, hex);
    abfd = openat(f->sha, ab, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (abfd < 0 && errno == ENOENT) {
        if (mkdirat(f->sha, ab, 0755) < 0 && errno != EEXIST) {
            io_fail(e, "write", f->dir, path, errno);
            goto out;
        }
        if (fsync(f->sha) < 0) { /* the new sha256/ab entry must survive too */
            io_fail(e, "write", f->dir, KEY_PREFIX, errno);
            goto out;
        }
        abfd = openat(f->sha, ab, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (abfd < 0) {
        io_fail(e, "write", f->dir, path, errno);
        goto out;
    }
    /* An existing blob is kept, but its mtime (GC's age mark) is set to now: GC must take it
     * for new, not for an old orphan, until the row this write is for is committed. If GC
     * removed it between the rename and the touch, the rename is tried again. */
    for (int attempt = 0;; attempt++) {
        *dedup = false;
        if (renameat2(f->tmp, name, abfd, hex, RENAME_NOREPLACE) == 0)
            break;
        if (errno == EEXIST) {
            *dedup = true;
        } else if (errno == EINVAL || errno == ENOSYS) {
            /* No RENAME_NOREPLACE here: replacing equal bytes is harmless, but skip it. */
            struct stat st;
            if (fstatat(abfd, hex, &st, AT_SYMLINK_NOFOLLOW) == 0) {
                *dedup = true;
            } else if (renameat(f->tmp, name, abfd, hex) < 0) {
                io_fail(e, "write", f->dir, path, errno);
                goto out;
            } else {
                break;
            }
        } else {
            io_fail(e, "write", f->dir, path, errno);
            goto out;
        }
        if (utimensat(abfd, hex, NULL, AT_SYMLINK_NOFOLLOW) == 0)
            break;
        if (errno != ENOENT || attempt == 3) {
            io_fail(e, "write", f->dir, path, errno);
            goto out;
        }
    }
    if (!*dedup && fsync(abfd) < 0) {
        io_fail(e, "write", f->dir, path, errno);
        goto out;
    }
    rc = 0;
out:
    if (rc < 0 || *dedup)
        unlinkat(f->tmp, name, 0);
    if (abfd >= 0)
        close(abfd);
    return rc;
}

static int fs_mkdirs(const char *loc, err *e)
{
    size_t n = strlen(loc);
    char *p = malloc(n + 1);
    if (!p)
        return err_set(e, ERR_SERVER, "out of memory");
    memcpy(p, loc, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST) {
            int errnum = errno;
            free(p);
            return io_fail(e, "open", loc, NULL, errnum);
        }
        p[i] = c;
    }
    free(p);
    return 0;
}

static int subdir(int *fd, fs *f, const char *name, err *e)
{
    if (mkdirat(f->root, name, 0755) < 0 && errno != EEXIST)
        return io_fail(e, "open", f->dir, name, errno);
    *fd = openat(f->root, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*fd < 0)
        return io_fail(e, "open", f->dir, name, errno);
    return 0;
}

static void fs_close(void *st)
{
    fs *f = st;
    if (!f)
        return;
    if (f->sha >= 0)
        close(f->sha);
    if (f->tmp >= 0)
        close(f->tmp);
    if (f->root >= 0)
        close(f->root);
    free(f->dir);
    free(f);
}

static int fs_open(void **st, const char *loc, err *e)
{
    *st = NULL;
    fs *f = calloc(1, sizeof(*f));
    if (!f)
        return err_set(e, ERR_SERVER, "out of memory");
    f->root = f->tmp = f->sha = -1;
    f->dir = strdup(loc);
    if (!f->dir) {
        fs_close(f);
        return err_set(e, ERR_SERVER, "out of memory");
    }
    if (fs_mkdirs(loc, e) < 0)
        goto fail;
    /* Held open so the store stays put if the process changes directory. */
    f->root = open(loc, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (f->root < 0) {
        io_fail(e, "open", f->dir, NULL, errno);
        goto fail;
    }
    if (subdir(&f->tmp, f, "tmp", e) < 0 || subdir(&f->sha, f, "sha256", e) < 0)
        goto fail;
    *st = f;
    return 0;
fail:
    fs_close(f);
    return -1;
}

static unsigned char *block_new(void)
{
    void *p = mmap(NULL, WRITE_BLOCK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void writer_free(fs_writer *w)
{
    for (int i = 0; i < WRITE_RING; i++)
        if (w->bufs[i])
            munmap(w->bufs[i], WRITE_BLOCK);
    EVP_MD_CTX_free(w->md);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}

static int fs_writer_open(void **wst, void *st, err *e)
{
    *wst = NULL;
    fs_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return err_set(e, ERR_SERVER, "out of memory");
    w->f = st;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->md = EVP_MD_CTX_new();
    if (!w->md || EVP_DigestInit_ex(w->md, EVP_sha256(), NULL) != 1) {
        writer_free(w);
        return err_set(e, ERR_SERVER, "blob digest unavailable");
    }
    w->bufs[0] = block_new(); /* the others come with the threads */
    if (!w->bufs[0]) {
        writer_free(w);
        return err_set(e, ERR_SERVER, "out of memory");
    }
    if (tmp_create(&w->fd, w->name, w->f, e) < 0) {
        writer_free(w);
        return -1;
    }
    *wst = w;
    return 0;
}

/* Writes p[0..n) at the end of the temporary and keeps writeback going behind it: every
 * WRITEBACK_WINDOW bytes, starts this window out and waits for the one before, so dirty pages
 * stay bounded at two windows whatever the file size. Returns 0 or an errno. */
static int write_block(fs_writer *w, const unsigned char *p, size_t n)
{
    bool aligned = n % WRITE_ALIGN == 0 && w->written % WRITE_ALIGN == 0;
    if (w->direct && !aligned && fcntl(w->fd, F_SETFL, fcntl(w->fd, F_GETFL) & ~O_DIRECT) == 0)
        w->direct = false; /* the tail goes through the page cache */
    if (pwrite_all(w->fd, p, n, w->written) < 0) {
        if (!(w->direct && errno == EINVAL))
            return errno ? errno : EIO;
        /* The file system refused a direct write after all: write buffered from here on. */
        if (fcntl(w->fd, F_SETFL, fcntl(w->fd, F_GETFL) & ~O_DIRECT) < 0)
            return errno;
        w->direct = false;
        if (pwrite_all(w->fd, p, n, w->written) < 0)
            return errno ? errno : EIO;
    }
    w->written += n;
    if (w->direct) {
        w->flushed = w->written; /* nothing dirty behind a direct write */
        return 0;
    }
    if (w->written - w->flushed >= WRITEBACK_WINDOW) {
        uint64_t len = w->written - w->flushed;
        sync_file_range(w->fd, (off_t)w->flushed, (off_t)len, SYNC_FILE_RANGE_WRITE);
        if (w->flushed >= WRITEBACK_WINDOW)
            sync_file_range(w->fd, (off_t)(w->flushed - WRITEBACK_WINDOW), WRITEBACK_WINDOW,
                            SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                SYNC_FILE_RANGE_WAIT_AFTER);
        w->flushed = w->written;
    }
    return 0;
}

/* The hash thread: digests filled blocks in order until told to stop with none left. */
static void *writer_hash(void *arg)
{
    fs_writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->hashed == w->filled && !w->stop)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->hashed == w->filled)
            break;
        int i = (int)(w->hashed % WRITE_RING);
        bool skip = w->discard;
        pthread_mutex_unlock(&w->mu);
        bool ok = skip || EVP_DigestUpdate(w->md, w->bufs[i], w->lens[i]) == 1;
        pthread_mutex_lock(&w->mu);
        if (!ok)
            w->md_failed = true;
        w->hashed++;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* The I/O thread: writes hashed blocks in order until the hash thread is done with all. */
static void *writer_io(void *arg)
{
    fs_writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->written_blocks == w->hashed && !(w->stop && w->hashed == w->filled))
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->written_blocks == w->hashed)
            break;
        int i = (int)(w->written_blocks % WRITE_RING);
        bool skip = w->discard || w->io_errno;
        pthread_mutex_unlock(&w->mu);
        int errnum = skip ? 0 : write_block(w, w->bufs[i], w->lens[i]);
        pthread_mutex_lock(&w->mu);
        if (errnum && !w->io_errno)
            w->io_errno = errnum;
        w->written_blocks++;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Starts the hash and I/O threads (the second block is coming). Returns 0, or -1 if they
 * cannot run: the writer then goes on single-threaded. */
static int writer_start(fs_writer *w)
{
    for (int i = 1; i < WRITE_RING; i++)
        if (!w->bufs[i] && !(w->bufs[i] = block_new()))
            return -1;
    /* Direct writes from here on, where the file system takes them (tmpfs does not). */
    if (w->written % WRITE_ALIGN == 0 &&
        fcntl(w->fd, F_SETFL, fcntl(w->fd, F_GETFL) | O_DIRECT) == 0)
        w->direct = true;
    if (pthread_create(&w->hasher, NULL, writer_hash, w) != 0)
        return -1;
    if (pthread_create(&w->io, NULL, writer_io, w) != 0) {
        pthread_mutex_lock(&w->mu);
        w->stop = true;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->hasher, NULL);
        w->stop = false;
        return -1;
    }
    w->started = true;
    return 0;
}

/* Hashes and writes the block being filled right here (no threads). */
static int writer_inline(fs_writer *w, err *e)
{
    int cur = (int)(w->filled % WRITE_RING);
    if (w->buffered == 0)
        return 0;
    if (EVP_DigestUpdate(w->md, w->bufs[cur], w->buffered) != 1)
        return err_set(e, ERR_SERVER, "blob digest failed");
    int errnum = write_block(w, w->bufs[cur], w->buffered);
    w->buffered = 0;
    return errnum ? io_fail(e, "write", w->f->dir, w->name, errnum) : 0;
}

/* Hands the block being filled (full, or the tail) down the pipeline, starting the threads
 * the first time, and waits for a free block to fill next. */
static int writer_enqueue(fs_writer *w, err *e)
{
    if (!w->started && writer_start(w) < 0)
        return writer_inline(w, e);
    pthread_mutex_lock(&w->mu);
    w->lens[w->filled % WRITE_RING] = w->buffered;
    w->filled++;
    pthread_cond_broadcast(&w->cv);
    while (w->filled - w->written_blocks >= WRITE_RING)
        pthread_cond_wait(&w->cv, &w->mu);
    int errnum = w->io_errno;
    pthread_mutex_unlock(&w->mu);
    w->buffered = 0;
    return errnum ? io_fail(e, "write", w->f->dir, w->name, errnum) : 0;
}

/* Stops the threads once every filled block went through (or, with discard, was dropped).
 * Returns the first write error, or 0. */
static int writer_join(fs_writer *w, bool discard)
{
    if (!w->started)
        return 0;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    w->discard = discard;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->hasher, NULL);
    pthread_join(w->io, NULL);
    w->started = false;
    return w->io_errno;
}

/* Hashes and writes out everything received so far: the pipeline, then the partial block. */
static int writer_drain(fs_writer *w, err *e)
{
    int errnum = writer_join(w, false);
    if (errnum)
        return io_fail(e, "write", w->f->dir, w->name, errnum);
    if (w->md_failed)
        return err_set(e, ERR_SERVER, "blob digest failed");
    return writer_inline(w, e);
}

static int fs_writer_write(void *wst, const void *p, size_t n, err *e)
{
    fs_writer *w = wst;
    const unsigned char *src = p;
    while (n > 0) {
        size_t take = WRITE_BLOCK - w->buffered;
        if (take > n)
            take = n;
        memcpy(w->bufs[w->filled % WRITE_RING] + w->buffered, src, take);
        w->buffered += take;
        src += take;
        n -= take;
        if (w->buffered == WRITE_BLOCK && writer_enqueue(w, e) < 0)
            return -1;
    }
    return 0;
}

/* Drains the pipeline and gives the SHA-256 of every byte written (lowercase hex). */
static int fs_writer_digest(void *wst, char hex[65], err *e)
{
    fs_writer *w = wst;
    uint8_t md[32];
    unsigned int mdlen = 0;
    if (writer_drain(w, e) < 0)
        return -1;
    if (EVP_DigestFinal_ex(w->md, md, &mdlen) != 1 || mdlen != sizeof(md))
        return err_set(e, ERR_SERVER, "blob digest failed");
    crypto_hex(hex, md, sizeof(md));
    return 0;
}

static void fs_writer_abort(void *wst)
{
    fs_writer *w = wst;
    if (!w)
        return;
    writer_join(w, true);
    if (w->fd >= 0)
        close(w->fd);
    unlinkat(w->f->tmp, w->name, 0);
    writer_free(w);
}

static int fs_writer_publish(void *wst, const char *hex, bool *dedup, err *e)
{
    fs_writer *w = wst;
    if (writer_drain(w, e) < 0) {
        fs_writer_abort(w);
        return -1;
    }
    if (fsync(w->fd) < 0) {
        io_fail(e, "write", w->f->dir, w->name, errno);
        fs_writer_abort(w);
        return -1;
    }
    int r = close(w->fd);
    w->fd = -1;
    if (r < 0) {
        io_fail(e, "write", w->f->dir, w->name, errno);
        fs_writer_abort(w);
        return -1;
    }
    int rc = publish(w->f, w->name, hex, dedup, e);
    writer_free(w);
    return rc;
}

static int fs_open_read(int *fd, uint64_t *size, void *st, const char *key, err *e)
{
    fs *f = st;
    const char *rel = key + KEY_PREFIX_LEN; /* "ab/<hex>" under sha256/ */
    struct stat sb;

    *fd = openat(f->sha, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (*fd < 0) {
        if (errno == ENOENT)
            return err_set(e, ERR_NOT_FOUND, "blob not found");
        return io_fail(e, "read", f->dir, key, errno);
    }
    int errnum = fstat(*fd, &sb) < 0 ? errno : S_ISREG(sb.st_mode) ? 0 : EINVAL;
    if (errnum) {
        close(*fd);
        *fd = -1;
        return io_fail(e, "read", f->dir, key, errnum);
    }
    *size = (uint64_t)sb.st_size;
    return 0;
}

static bool fs_exists(void *st, const char *key)
{
    fs *f = st;
    struct stat sb;
    return fstatat(f->sha, key + KEY_PREFIX_LEN, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
           S_ISREG(sb.st_mode);
}

static int fs_stat(uint64_t *size, int64_t *mtime_ms, void *st, const char *key, err *e)
{
    fs *f = st;
    struct stat sb;
    if (fstatat(f->sha, key + KEY_PREFIX_LEN, &sb, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? err_set(e, ERR_NOT_FOUND, "blob not found")
                               : io_fail(e, "read", f->dir, key, errno);
    if (!S_ISREG(sb.st_mode))
        return err_set(e, ERR_NOT_FOUND, "blob not found");
    *size = (uint64_t)sb.st_size;
    *mtime_ms = mtime_ms_of(&sb);
    return 0;
}

static int fs_remove(void *st, const char *key, err *e)
{
    fs *f = st;
    if (unlinkat(f->sha, key + KEY_PREFIX_LEN, 0) < 0) {
        if (errno == ENOENT)
            return err_set(e, ERR_NOT_FOUND, "blob not found");
        return io_fail(e, "delete", f->dir, key, errno);
    }
    return 0;
}

/* Opens a directory stream on dirfd/name with its own descriptor. */
static DIR *open_dir(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    DIR *d = fdopendir(fd);
    if (!d)
        close(fd);
    return d;
}

/* Walks one sha256/ab/ directory; returns 0 to go on, 1 if fn stopped, -1 on failure. */
static int foreach_prefix(fs *f, const char *ab, int (*fn)(const char *, uint64_t, int64_t, void *),
                          void *ctx, err *e)
{
    DIR *d = open_dir(f->sha, ab);
    if (!d) {
        if (errno == ENOENT) /* removed while we walked */
            return 0;
        return io_fail(e, "read", f->dir, ab, errno);
    }
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            if (errno)
                rc = io_fail(e, "read", f->dir, ab, errno);
            break;
        }
        const char *name = de->d_name;
        if (strlen(name) != SHA256_HEX_LEN || !is_lower_hex(name, SHA256_HEX_LEN) ||
            name[0] != ab[0] || name[1] != ab[1])
            continue;
        struct stat sb;
        if (fstatat(dirfd(d), name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT)
                continue;
            rc = io_fail(e, "read", f->dir, name, errno);
            break;
        }
        if (!S_ISREG(sb.st_mode))
            continue;
        char key[BLOB_KEY_MAX];
        blob_key_of(key, sizeof(key), name);
        int r = fn(key, (uint64_t)sb.st_size, mtime_ms_of(&sb), ctx);
        if (r != 0) {
            if (r < 0 && e && e->kind == ERR_NONE)
                err_set(e, ERR_SERVER, "blob walk failed");
            rc = r < 0 ? -1 : 1;
            break;
        }
    }
    closedir(d);
    return rc;
}

static int fs_walk(void *st, int (*fn)(const char *, uint64_t, int64_t, void *), void *ctx, err *e)
{
    fs *f = st;
    DIR *d = open_dir(f->sha, ".");
    if (!d)
        return io_fail(e, "read", f->dir, KEY_PREFIX, errno);
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            if (errno)
                rc = io_fail(e, "read", f->dir, KEY_PREFIX, errno);
            break;
        }
        if (strlen(de->d_name) != 2 || !is_lower_hex(de->d_name, 2))
            continue;
        rc = foreach_prefix(f, de->d_name, fn, ctx, e);
        if (rc != 0)
            break;
    }
    closedir(d);
    return rc < 0 ? -1 : 0;
}

static int fs_sweep_tmp(void *st, int64_t max_age_ms, bool (*live)(const char *, void *),
                        void *ctx, int *removed, err *e)
{
    fs *f = st;
    int64_t now = time_now_ms();
    DIR *d = open_dir(f->tmp, ".");
    if (!d)
        return io_fail(e, "read", f->dir, "tmp/", errno);
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            if (errno)
                rc = io_fail(e, "read", f->dir, "tmp/", errno);
            break;
        }
        const char *name = de->d_name;
        struct stat sb;
        if (name[0] == '.' || fstatat(f->tmp, name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
            !S_ISREG(sb.st_mode) || now - mtime_ms_of(&sb) <= max_age_ms)
            continue;
        /* A session idle for hours is still the client's until it expires (24 h). */
        if (strncmp(name, "session-", 8) == 0 && live && live(name + 8, ctx))
            continue;
        if (unlinkat(f->tmp, name, 0) == 0) {
            (*removed)++;
            log_info(NULL, "blob.tmp_swept", "s:s", "name", name);
        } else if (errno != ENOENT) {
            rc = io_fail(e, "delete", f->dir, name, errno);
            break;
        }
    }
    closedir(d);
    return rc;
}

static void session_name(char out[8 + BLOB_SESSION_ID_MAX + 1], const char *id)
{
    snprintf(out, 8 + BLOB_SESSION_ID_MAX + 1, "session-%s", id);
}

/* True if fd (locked) is still the file named tmp/name: a commit or discard may have unlinked
 * or renamed it between our open and our lock. */
static bool still_named(fs *f, int fd, const char *name)
{
    struct stat a, b;
    return fstat(fd, &a) == 0 && fstatat(f->tmp, name, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
           a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static int fs_session_append(void *st, const char *id, uint64_t offset, const void *p, size_t n,
                             uint64_t *new_size, err *e)
{
    fs *f = st;
    char name[8 + BLOB_SESSION_ID_MAX + 1];
    int fd = -1;
    struct stat sb;

    session_name(name, id);
    for (int attempt = 0; fd < 0; attempt++) {
        if (attempt == 4)
            return err_set(e, ERR_CONFLICT, "upload session is busy");
        fd = openat(f->tmp, name, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
            return io_fail(e, "write", f->dir, name, errno);
        if (lock_ex(fd) < 0) {
            int errnum = errno;
            close(fd);
            return io_fail(e, "write", f->dir, name, errnum);
        }
        if (!still_named(f, fd, name)) {
            close(fd);
            fd = -1;
        }
    }
    int rc = -1;
    if (fstat(fd, &sb) < 0) {
        io_fail(e, "write", f->dir, name, errno);
        goto out;
    }
    if (offset != (uint64_t)sb.st_size) {
        err_set(e, ERR_CONFLICT, "upload offset %llu does not match the session size %llu",
                (unsigned long long)offset, (unsigned long long)sb.st_size);
        goto out;
    }
    if (pwrite_all(fd, p, n, offset) < 0) {
        int errnum = errno;
        if (ftruncate(fd, (off_t)offset) < 0) /* keep the session at a size the client knows */
            log_error(NULL, "blob.session_truncate_failed", "s:s", "name", name);
        io_fail(e, "write", f->dir, name, errnum);
        goto out;
    }
    *new_size = offset + n;
    rc = 0;
out:
    close(fd); /* releases the lock */
    return rc;
}

static int fs_session_size(uint64_t *size, void *st, const char *id, err *e)
{
    fs *f = st;
    char name[8 + BLOB_SESSION_ID_MAX + 1];
    struct stat sb;

    session_name(name, id);
    if (fstatat(f->tmp, name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT)
            return 0;
        return io_fail(e, "read", f->dir, name, errno);
    }
    *size = (uint64_t)sb.st_size;
    return 0;
}

static int fs_session_commit(void *st, const char *id, const char *expected_hex,
                             int64_t expected_size, char hex_out[65], uint64_t *size, bool *dedup,
                             err *e)
{
    fs *f = st;
    char name[8 + BLOB_SESSION_ID_MAX + 1], claim[33] = "";
    char hex[SHA256_HEX_LEN + 1];
    uint64_t n = 0;
    int fd = -1, rc = -1;

    session_name(name, id);
    fd = openat(f->tmp, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return err_set(e, ERR_NOT_FOUND, "upload session not found");
        return io_fail(e, "read", f->dir, name, errno);
    }
    /* Lock (appends wait), then check size and digest in place: a failed check leaves the
     * session as it was, resumable. Only then move it to a private name, so appends that were
     * waiting for the lock see it gone and never touch the bytes being published. */
    if (lock_ex(fd) < 0) {
        io_fail(e, "read", f->dir, name, errno);
        goto out;
    }
    if (!still_named(f, fd, name)) {
        err_set(e, ERR_NOT_FOUND, "upload session not found");
        goto out;
    }
    struct stat sb;
    if (fstat(fd, &sb) < 0) {
        io_fail(e, "read", f->dir, name, errno);
        goto out;
    }
    if (blob_size_check(expected_size, (uint64_t)sb.st_size, e) < 0 ||
        blob_hash_fd(hex, &n, fd, e) < 0 || blob_digest_check(expected_hex, hex, e) < 0)
        goto out;
    uint8_t r[16];
    if (crypto_random(r, sizeof(r)) < 0) {
        err_set(e, ERR_SERVER, "blob store random source failed");
        goto out;
    }
    crypto_hex(claim, r, sizeof(r));
    if (renameat(f->tmp, name, f->tmp, claim) < 0) {
        claim[0] = '\0';
        io_fail(e, "write", f->dir, name, errno);
        goto out;
    }
    /* A claimed session is a fresh temporary: the sweep must not take it for an abandoned one
     * because its last append is old. */
    futimens(fd, NULL);
    if (fsync(fd) < 0) {
        io_fail(e, "write", f->dir, claim, errno);
        goto out;
    }
    rc = publish(f, claim, hex, dedup, e);
    claim[0] = '\0'; /* publish removed or renamed it */
    if (rc < 0)
        goto out;
    memcpy(hex_out, hex, sizeof(hex));
    *size = n;
out:
    if (claim[0])
        unlinkat(f->tmp, claim, 0);
    close(fd);
    return rc;
}

static int fs_session_truncate(void *st, const char *id, uint64_t size, err *e)
{
    fs *f = st;
    char name[8 + BLOB_SESSION_ID_MAX + 1];
    struct stat sb;
    int rc = -1;
    session_name(name, id);
    int fd = openat(f->tmp, name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? 0 : io_fail(e, "write", f->dir, name, errno);
    if (lock_ex(fd) < 0) {
        io_fail(e, "write", f->dir, name, errno);
        goto out;
    }
    if (!still_named(f, fd, name)) { /* committed or discarded meanwhile */
        rc = 0;
        goto out;
    }
    if (fstat(fd, &sb) < 0 ||
        ((uint64_t)sb.st_size > size && ftruncate(fd, (off_t)size) < 0)) {
        io_fail(e, "write", f->dir, name, errno);
        goto out;
    }
    rc = 0;
out:
    close(fd);
    return rc;
}

static void fs_session_discard(void *st, const char *id)
{
    fs *f = st;
    char name[8 + BLOB_SESSION_ID_MAX + 1];
    session_name(name, id);
    unlinkat(f->tmp, name, 0);
}

/* tmp/upload-<id> holds the 64 hex digits of the blob a presigned PUT stored under id. */
static void upload_name(char out[7 + BLOB_SESSION_ID_MAX + 1], const char *id)
{
    snprintf(out, 7 + BLOB_SESSION_ID_MAX + 1, "upload-%s", id);
}

static int fs_upload_mark(void *st, const char *id, const char *hex, err *e)
{
    fs *f = st;
    char name[7 + BLOB_SESSION_ID_MAX + 1], tmpname[33];
    int fd = -1;
    upload_name(name, id);
    if (tmp_create(&fd, tmpname, f, e) < 0)
        return -1;
    /* Written whole under a temporary name, then renamed: a mark is there complete or not. */
    int errnum = pwrite_all(fd, (const uint8_t *)hex, SHA256_HEX_LEN, 0) < 0 ? errno : 0;
    if (close(fd) < 0 && !errnum)
        errnum = errno;
    if (!errnum && renameat(f->tmp, tmpname, f->tmp, name) < 0)
        errnum = errno;
    if (errnum) {
        unlinkat(f->tmp, tmpname, 0);
        return io_fail(e, "write", f->dir, name, errnum);
    }
    return 0;
}

static int fs_upload_commit(void *st, const char *id, const char *expected_hex, char hex_out[65],
                            uint64_t *size, bool *dedup, err *e)
{
    fs *f = st;
    char name[7 + BLOB_SESSION_ID_MAX + 1], hex[SHA256_HEX_LEN + 1] = "";
    upload_name(name, id);
    int fd = openat(f->tmp, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? err_set(e, ERR_NOT_FOUND, "nothing was uploaded")
                               : io_fail(e, "read", f->dir, name, errno);
    ssize_t n = pread(fd, hex, SHA256_HEX_LEN, 0);
    close(fd);
    if (n != SHA256_HEX_LEN || !is_lower_hex(hex, SHA256_HEX_LEN))
        return err_set(e, ERR_NOT_FOUND, "nothing was uploaded");
    if (blob_digest_check(expected_hex, hex, e) < 0)
        return -1;
    char rel[3 + SHA256_HEX_LEN + 1];
    struct stat sb;
    snprintf(rel, sizeof(rel), "%.2s/%s", hex, hex);
    if (fstatat(f->sha, rel, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb.st_mode))
        return err_set(e, ERR_NOT_FOUND, "nothing was uploaded"); /* collected meanwhile */
    unlinkat(f->tmp, name, 0); /* one confirm per upload, as with S3 */
    memcpy(hex_out, hex, sizeof(hex));
    *size = (uint64_t)sb.st_size;
    *dedup = true;
    return 0;
}

static bool fs_ping(void *st)
{
    fs *f = st;
    struct stat sb;
    return fstat(f->sha, &sb) == 0 && sb.st_nlink > 0;
}

const blob_ops blob_fs_ops = {
    .name = "fs",
    .open = fs_open,
    .close = fs_close,
    .writer_open = fs_writer_open,
    .writer_write = fs_writer_write,
    .writer_digest = fs_writer_digest,
    .writer_publish = fs_writer_publish,
    .writer_abort = fs_writer_abort,
    .open_read = fs_open_read,
    .exists = fs_exists,
    .stat = fs_stat,
    .remove = fs_remove,
    .walk = fs_walk,
    .sweep_tmp = fs_sweep_tmp,
    .session_append = fs_session_append,
    .session_size = fs_session_size,
    .session_commit = fs_session_commit,
    .session_discard = fs_session_discard,
    .session_truncate = fs_session_truncate,
    .upload_mark = fs_upload_mark,
    .upload_commit = fs_upload_commit,
    .ping = fs_ping,
};
