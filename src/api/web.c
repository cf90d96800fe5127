/*
 * web.c: the web UI (web/): GET / and GET /ui/... . Files come from the binary (embedded at
 * build time) or, with --web-dir, from disk for development. /ui/assets/FILE is a file of web/;
 * every other /ui/ path is a client-side route and gets index.html. Responses carry a strong
 * ETag (304 on If-None-Match, done by http/) and a strict Content-Security-Policy: scripts,
 * styles and requests from this origin only, so nothing in a model card can run.
 */
#include "api/handlers.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/web.h"
#include "core/path.h"
#include "util/crypto.h"

#define WEB_FILE_MAX (8 << 20) /* largest file --web-dir serves */

static const char CSP[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
                          "img-src 'self' data:; connect-src 'self'; font-src 'self'; "
                          "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const char *web_content_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".json", "application/json"},
        {".txt", "text/plain; charset=utf-8"},
        {".webmanifest", "application/manifest+json"},
    };
    const char *dot = strrchr(path, '.');
    if (dot && !strchr(dot, '/'))
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
            if (strcmp(dot, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

/* Reads web_dir/rel into the arena; returns 0, or -1 with e set (404 for a missing file). */
static int read_disk(api_reply *r, api_call *c, const char *dir, const char *rel)
{
    const char *full = arena_printf(c->a, "%s/%s", dir, rel);
    int fd = open(full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    int rc = -1;
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
            return err_set(&r->e, ERR_NOT_FOUND, "'%s' not found", rel);
        return err_set(&r->e, ERR_SERVER, "the web directory cannot be read");
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        err_set(&r->e, ERR_NOT_FOUND, "'%s' not found", rel);
        goto out;
    }
    if (st.st_size > WEB_FILE_MAX) {
        err_set(&r->e, ERR_SERVER, "'%s' is too large to serve", rel);
        goto out;
    }
    size_t n = (size_t)st.st_size, got = 0;
    char *buf = arena_alloc(c->a, n + 1);
    while (got < n) {
        ssize_t k = read(fd, buf + got, n - got);
        if (k <= 0) {
            err_set(&r->e, ERR_SERVER, "the web directory cannot be read");
            goto out;
        }
        got += (size_t)k;
    }
    char hex[65];
    crypto_sha256_hex(hex, buf, n);
    r->raw = buf;
    r->raw_len = n;
    r->etag = arena_printf(c->a, "\"%.32s\"", hex);
    rc = 0;
out:
    close(fd);
    return rc;
}

int api_web(api_reply *r, api_call *c)
{
    const char *p = api_param(c, "path");
    const char *rel = "index.html";
    if (p && strncmp(p, "assets/", 7) == 0) {
        rel = p + 7;
        if (!path_is_valid(rel, strlen(rel)))
            return err_set(&r->e, ERR_NOT_FOUND, "'%s' not found", rel);
    }
    const char *dir = c->app->cfg->web_dir;
    if (dir && *dir) {
        if (read_disk(r, c, dir, rel) < 0)
            return -1;
    } else {
        const web_file *f = NULL;
        for (unsigned i = 0; i < cairn_web_files_count && !f; i++)
            if (strcmp(cairn_web_files[i].path, rel) == 0)
                f = &cairn_web_files[i];
        if (!f)
            return err_set(&r->e, ERR_NOT_FOUND, "'%s' not found", rel);
        r->raw = (const char *)f->data;
        r->raw_len = f->len;
        r->etag = f->etag;
    }
    r->status = 200;
    r->content_type = web_content_type(rel);
    api_header(r, "Content-Security-Policy", CSP);
    api_header(r, "X-Content-Type-Options", "nosniff");
    api_header(r, "Referrer-Policy", "no-referrer");
    api_header(r, "X-Frame-Options", "DENY");
    api_header(r, "Cache-Control", "no-cache");
    return 0;
}
