/*
 * tar.c: the streaming tar reader (tar.h). States: a header block is being read; a file's data
 * goes to the sink; padding (or an ignored entry's data) is skipped; a pax header or GNU long
 * name is collected; the end-of-archive blocks were seen.
 */
#include "core/tar.h"

#include <stdlib.h>
#include <string.h>

#include "core/path.h"

enum { ST_HDR, ST_DATA, ST_SKIP, ST_META, ST_END, ST_FAILED };

void tar_reader_init(tar_reader *t, const tar_sink *sink)
{
    memset(t, 0, sizeof(*t));
    t->sink = *sink;
    t->state = ST_HDR;
    t->pax_size = -1;
}

void tar_reader_free(tar_reader *t)
{
    free(t->meta);
    free(t->longname);
    free(t->path);
    for (size_t i = 0; i < t->nseen; i++)
        free(t->seen[i]);
    free(t->seen);
    memset(t, 0, sizeof(*t));
}

static int fail(tar_reader *t, err *e, const char *fmt, const char *path)
{
    t->state = ST_FAILED;
    return err_set(e, ERR_INVALID, "tar entry %llu%s%.200s%s: %s", (unsigned long long)t->entries,
                   path ? " '" : "", path ? path : "", path ? "'" : "", fmt);
}

/* A numeric field: octal digits (spaces and NULs around them), or GNU base-256 when the first
 * byte has its high bit set. False if malformed or past 2^63. */
static bool num_field(uint64_t *out, const unsigned char *f, size_t n)
{
    uint64_t v = 0;
    if (f[0] & 0x80) {
        if (f[0] & 0x40)
            return false; /* negative */
        v = f[0] & 0x3f;
        for (size_t i = 1; i < n; i++) {
            if (v >> 55)
                return false;
            v = (v << 8) | f[i];
        }
        *out = v;
        return true;
    }
    size_t i = 0;
    while (i < n && (f[i] == ' ' || f[i] == '\0'))
        i++;
    for (; i < n && f[i] >= '0' && f[i] <= '7'; i++) {
        if (v >> 60)
            return false;
        v = (v << 3) | (uint64_t)(f[i] - '0');
    }
    for (; i < n; i++)
        if (f[i] != ' ' && f[i] != '\0')
            return false;
    *out = v;
    return true;
}

static bool checksum_ok(const unsigned char *b)
{
    uint64_t want;
    if (!num_field(&want, b + 148, 8))
        return false;
    uint64_t us = 0;
    int64_t s = 0;
    for (size_t i = 0; i < 512; i++) {
        unsigned char c = (i >= 148 && i < 156) ? ' ' : b[i];
        us += c;
        s += (signed char)c;
    }
    return us == want || (uint64_t)s == want;
}

/* A name field: up to n bytes, NUL-terminated if shorter. */
static size_t field_len(const unsigned char *f, size_t n)
{
    size_t k = 0;
    while (k < n && f[k])
        k++;
    return k;
}

/* The entry's path (malloc'd): a pending long name, else ustar prefix "/" name. */
static char *entry_name(tar_reader *t)
{
    if (t->longname) {
        char *p = t->longname;
        t->longname = NULL;
        return p;
    }
    const unsigned char *b = t->hdr;
    size_t nl = field_len(b, 100), pl = 0;
    if (memcmp(b + 257, "ustar\0", 6) == 0)
        pl = field_len(b + 345, 155);
    char *p = malloc(pl + 1 + nl + 1);
    if (!p)
        return NULL;
    size_t k = 0;
    if (pl) {
        memcpy(p, b + 345, pl);
        k = pl;
        p[k++] = '/';
    }
    memcpy(p + k, b, nl);
    p[k + nl] = '\0';
    return p;
}

/* Drops leading "./" (and lone "."), then refuses an absolute path or a ".." segment. Returns
 * the reason, or NULL. *out points into name. */
static const char *name_check(const char *name, const char **out)
{
    while (name[0] == '.' && name[1] == '/') {
        name += 2;
        while (*name == '/')
            name++;
    }
    if (name[0] == '/')
        return "absolute paths are refused";
    for (const char *s = name; *s;) {
        const char *end = strchr(s, '/');
        size_t n = end ? (size_t)(end - s) : strlen(s);
        if (n == 2 && s[0] == '.' && s[1] == '.')
            return "'..' in a path is refused";
        s += n;
        while (*s == '/')
            s++;
    }
    *out = name;
    return NULL;
}

/* Reads the records "LEN key=value\n" of a pax extended header: path and size are kept. */
static int pax_parse(tar_reader *t, err *e)
{
    size_t at = 0;
    while (at < t->mlen) {
        size_t len = 0, i = at;
        while (i < t->mlen && t->meta[i] >= '0' && t->meta[i] <= '9' && len < TAR_META_MAX)
            len = len * 10 + (size_t)(t->meta[i++] - '0');
        if (i == at || i >= t->mlen || t->meta[i] != ' ' || len < 5 || len > t->mlen - at ||
            t->meta[at + len - 1] != '\n')
            return fail(t, e, "malformed pax extended header", NULL);
        const char *kv = t->meta + i + 1, *stop = t->meta + at + len - 1;
        const char *eq = memchr(kv, '=', (size_t)(stop - kv));
        if (!eq)
            return fail(t, e, "malformed pax record", NULL);
        size_t kl = (size_t)(eq - kv), vl = (size_t)(stop - eq - 1);
        if (kl == 4 && memcmp(kv, "path", 4) == 0) {
            if (memchr(eq + 1, '\0', vl))
                return fail(t, e, "a pax path holds a NUL", NULL);
            free(t->longname);
            t->longname = malloc(vl + 1);
            if (!t->longname)
                return err_set(e, ERR_SERVER, "out of memory");
            memcpy(t->longname, eq + 1, vl);
            t->longname[vl] = '\0';
        } else if (kl == 4 && memcmp(kv, "size", 4) == 0) {
            uint64_t v = 0;
            if (vl == 0 || vl > 18)
                return fail(t, e, "malformed pax size", NULL);
            for (size_t k = 0; k < vl; k++) {
                char c = eq[1 + k];
                if (c < '0' || c > '9')
                    return fail(t, e, "malformed pax size", NULL);
                v = v * 10 + (uint64_t)(c - '0');
            }
            t->pax_size = (int64_t)v;
        }
        at += len;
    }
    return 0;
}

static int meta_done(tar_reader *t, err *e)
{
    int rc = 0;
    if (t->meta_kind == 'x') {
        rc = pax_parse(t, e);
    } else { /* 'L': the name, NUL-terminated or not */
        size_t n = strnlen(t->meta, t->mlen);
        free(t->longname);
        t->longname = malloc(n + 1);
        if (!t->longname)
            return err_set(e, ERR_SERVER, "out of memory");
        memcpy(t->longname, t->meta, n);
        t->longname[n] = '\0';
    }
    free(t->meta);
    t->meta = NULL;
    t->mlen = 0;
    return rc;
}

static int file_begin(tar_reader *t, char *name, uint64_t size, err *e)
{
    const char *p = NULL;
    const char *why = name_check(name, &p);
    if (why)
        return fail(t, e, why, name);
    if (!path_is_valid(p, strlen(p)))
        return fail(t, e, "not a valid file path (docs: file paths)", name);
    for (size_t i = 0; i < t->nseen; i++)
        if (strcmp(t->seen[i], p) == 0)
            return fail(t, e, "the path is in the archive twice", p);
    if (t->nseen >= TAR_FILES_MAX)
        return fail(t, e, "too many files in one archive", NULL);
    if (t->nseen % 64 == 0) {
        char **s = realloc(t->seen, (t->nseen + 64) * sizeof(*s));
        if (!s)
            return err_set(e, ERR_SERVER, "out of memory");
        t->seen = s;
    }
    t->path = strdup(p);
    t->seen[t->nseen] = strdup(p);
    if (!t->path || !t->seen[t->nseen])
        return err_set(e, ERR_SERVER, "out of memory");
    t->nseen++;
    if (t->sink.begin(t->sink.ctx, t->path, size, e) < 0) {
        t->state = ST_FAILED;
        return -1;
    }
    t->remaining = size;
    t->pad = (512 - size % 512) % 512;
    t->state = ST_DATA;
    return 0;
}

static int file_end(tar_reader *t, err *e)
{
    free(t->path);
    t->path = NULL;
    if (t->sink.end(t->sink.ctx, e) < 0) {
        t->state = ST_FAILED;
        return -1;
    }
    t->remaining = t->pad;
    t->state = t->pad ? ST_SKIP : ST_HDR;
    return 0;
}

static int header(tar_reader *t, err *e)
{
    const unsigned char *b = t->hdr;
    bool zero = true;
    for (size_t i = 0; i < 512 && zero; i++)
        zero = b[i] == 0;
    if (zero) {
        if (t->longname || t->pax_size >= 0)
            return fail(t, e, "an extended header without its entry", NULL);
        if (++t->zeros == 2)
            t->state = ST_END;
        return 0;
    }
    t->zeros = 0;
    t->entries++;
    if (!checksum_ok(b))
        return fail(t, e, "bad header checksum (not a tar archive?)", NULL);
    uint64_t size;
    if (!num_field(&size, b + 124, 12))
        return fail(t, e, "bad size field", NULL);
    char type = (char)b[156];
    if (type == 'x' || type == 'L') {
        if (size > TAR_META_MAX)
            return fail(t, e, "extended header too long", NULL);
        t->meta_kind = type;
        t->meta = malloc(size ? size : 1);
        if (!t->meta)
            return err_set(e, ERR_SERVER, "out of memory");
        t->mlen = 0;
        t->remaining = size;
        t->pad = (512 - size % 512) % 512;
        t->state = ST_META;
        if (size == 0) {
            if (meta_done(t, e) < 0)
                return -1;
            t->state = ST_HDR;
        }
        return 0;
    }
    if (type == 'g' || type == 'K') { /* global pax header, GNU long link name: ignored */
        t->remaining = size + (512 - size % 512) % 512;
        t->state = t->remaining ? ST_SKIP : ST_HDR;
        return 0;
    }
    t->meta_kind = 0;
    if (t->pax_size >= 0) {
        size = (uint64_t)t->pax_size;
        t->pax_size = -1;
    }
    char *name = entry_name(t);
    if (!name)
        return err_set(e, ERR_SERVER, "out of memory");
    int rc = 0;
    const char *p = NULL, *why = NULL;
    switch (type) {
    case '0':
    case '\0':
    case '7':
        rc = file_begin(t, name, size, e);
        if (rc == 0 && size == 0)
            rc = file_end(t, e);
        break;
    case '5':
        why = name_check(name, &p);
        if (why) {
            rc = fail(t, e, why, name);
            break;
        }
        t->remaining = size + (512 - size % 512) % 512;
        t->state = t->remaining ? ST_SKIP : ST_HDR;
        break;
    case '1':
    case '2': rc = fail(t, e, "links are refused (regular files only)", name); break;
    case '3':
    case '4':
    case '6': rc = fail(t, e, "devices and FIFOs are refused (regular files only)", name); break;
    default: rc = fail(t, e, "this entry type is not supported (regular files only)", name); break;
    }
    free(name);
    return rc;
}

int tar_feed(tar_reader *t, const void *buf, size_t n, err *e)
{
    const unsigned char *p = buf;
    while (n > 0) {
        size_t k;
        switch (t->state) {
        case ST_FAILED: return err_set(e, ERR_INVALID, "the archive was refused already");
        case ST_END: return 0; /* the rest of the last record */
        case ST_HDR:
            k = 512 - t->hlen < n ? 512 - t->hlen : n;
            memcpy(t->hdr + t->hlen, p, k);
            t->hlen += k;
            if (t->hlen == 512) {
                t->hlen = 0;
                if (header(t, e) < 0) {
                    t->state = ST_FAILED;
                    return -1;
                }
            }
            break;
        case ST_DATA:
            k = t->remaining < n ? (size_t)t->remaining : n;
            if (t->sink.data(t->sink.ctx, p, k, e) < 0) {
                t->state = ST_FAILED;
                return -1;
            }
            t->remaining -= k;
            if (t->remaining == 0 && file_end(t, e) < 0)
                return -1;
            break;
        case ST_SKIP:
            k = t->remaining < n ? (size_t)t->remaining : n;
            t->remaining -= k;
            if (t->remaining == 0)
                t->state = ST_HDR;
            break;
        default: /* ST_META */
            k = t->remaining < n ? (size_t)t->remaining : n;
            memcpy(t->meta + t->mlen, p, k);
            t->mlen += k;
            t->remaining -= k;
            if (t->remaining == 0) {
                if (meta_done(t, e) < 0) {
                    t->state = ST_FAILED;
                    return -1;
                }
                t->remaining = t->pad;
                t->state = t->pad ? ST_SKIP : ST_HDR;
            }
            break;
        }
        p += k;
        n -= k;
    }
    return 0;
}

int tar_finish(tar_reader *t, err *e)
{
    if (t->state == ST_FAILED)
        return err_set(e, ERR_INVALID, "the archive was refused already");
    if (t->state == ST_END ||
        (t->state == ST_HDR && t->hlen == 0 && !t->longname && t->pax_size < 0))
        return 0;
    t->state = ST_FAILED;
    return err_set(e, ERR_INVALID, "the tar archive is truncated (entry %llu)",
                   (unsigned long long)t->entries);
}
