/*
 * push.c: `cairn push ORG/NAME@VERSION FILE... [--publish]`. Creates the version when needed,
 * uploads each file (one PUT below 64 MiB, a resumable session in 16 MiB chunks above),
 * retries transient failures from the server's offset, and checks the server's sha256 against
 * the local one. Files already in the version with the same digest are skipped, so a push can
 * simply be run again after a failure.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#define SMALL_MAX (64ull << 20)
#define CHUNK (16ull << 20)

typedef struct push_file {
    const char *local;
    const char *path; /* the name in the version: the basename */
    uint64_t size;
    char sha[65];
    const char *status; /* "uploaded" or "skipped" */
    const char *method; /* "put", "session" or "none" */
    int retries;
    uint64_t resumed_from; /* bytes a saved session already held (0: none) */
} push_file;

typedef struct push_ctx {
    cli *c;
    const model_ref *m;
    char *ver_path; /* /api/v1/org/O/models/N/versions/V */
    progress bar;
    uint64_t base; /* bytes of the file in flight already on the server */
} push_ctx;

static void on_upload_progress(void *ud, uint64_t sent)
{
    push_ctx *x = ud;
    x->bar.done = x->base + sent;
    progress_draw(&x->bar, false);
}

/* The sha256 of `path` in the Version JSON, or NULL; lives as long as version. */
static const char *remote_sha(json_t *version, const char *path)
{
    size_t i, k;
    json_t *pkg, *res;
    json_array_foreach(json_object_get(version, "packages"), i, pkg)
    {
        json_array_foreach(json_object_get(pkg, "resources"), k, res)
        {
            const char *p = json_string_value(json_object_get(res, "path"));
            if (p && strcmp(p, path) == 0)
                return json_string_value(json_object_get(res, "sha256"));
        }
    }
    return NULL;
}

/* After an ambiguous failure (the reply was lost), tells whether the file arrived. */
static bool arrived(push_ctx *x, const push_file *f)
{
    cli_resp r = {0};
    cli_err e = {0};
    bool ok = false;
    if (api_request(&r, x->c, "GET", x->ver_path, NULL, &e) == 0) {
        const char *sha = remote_sha(r.json, f->path);
        ok = sha && strcmp(sha, f->sha) == 0;
    }
    cli_resp_free(&r);
    return ok;
}

/* Checks the Package the server returned names our digest. */
static int check_package(const push_file *f, const cli_resp *r, cli_err *e)
{
    json_t *res = json_array_get(json_object_get(r->json, "resources"), 0);
    const char *sha = json_string_value(json_object_get(res, "sha256"));
    if (!sha || strcmp(sha, f->sha) != 0)
        return cli_err_set(e, EXIT_INTEGRITY,
                           "%s: the server stored sha256 %s but the local file is %s", f->path,
                           sha ? sha : "(none)", f->sha);
    return 0;
}

static int put_small(push_ctx *x, push_file *f, int fd, cli_err *e)
{
    char *esc = url_escape(f->path, true);
    char *url = xprintf("%s%s/files/%s", x->c->server, x->ver_path, esc);
    char *sum = xprintf("X-Checksum-Sha256: %s", f->sha);
    const char *hdrs[] = {sum, NULL};
    http_req rq = {"PUT", url,     NULL, 0,    "application/octet-stream", fd,
                   0,     f->size, hdrs, true, on_upload_progress,         x};
    cli_resp r = {0};
    int rc = -1;
    for (int attempt = 0;; attempt++) {
        x->base = 0;
        cli_resp_free(&r);
        int hr = http_do(&r, x->c, &rq, e);
        if (hr == 0 && r.status >= 200 && r.status < 300) {
            rc = check_package(f, &r, e);
            break;
        }
        if (hr == 0 && r.status == 409 && attempt > 0 && arrived(x, f)) {
            rc = 0; /* an earlier attempt got through; its reply was lost */
            break;
        }
        if (!http_is_transient(hr, &r) || attempt >= CLI_RETRIES) {
            if (hr == 0)
                http_fail(e, &r, f->path);
            break;
        }
        f->retries++;
        http_backoff(attempt + 1, &r);
    }
    cli_resp_free(&r);
    free(sum);
    free(url);
    free(esc);
    return rc;
}

/* Asks the session how many bytes it holds. */
static int session_offset(uint64_t *off, push_ctx *x, const char *url, cli_err *e)
{
    http_req rq = {"GET", url, NULL, 0, NULL, -1, 0, 0, NULL, true, NULL, NULL};
    cli_resp r = {0};
    int rc = http_do(&r, x->c, &rq, e);
    if (rc == 0 && (r.status != 200 || !r.has_offset))
        rc = http_fail(e, &r, "upload session");
    if (rc == 0)
        *off = r.upload_offset;
    cli_resp_free(&r);
    return rc;
}

/* A session's URL is kept in $XDG_STATE_HOME/cairn/sessions/ (default ~/.local/state) until
 * its upload commits, so a push killed mid-way resumes from the server's offset next time.
 * The name hashes server, version, path and content, so only the same upload resumes. */
static char *session_state_path(push_ctx *x, const push_file *f)
{
    char *id = xprintf("%s\n%s\n%s\n%s", x->c->server, x->ver_path, f->path, f->sha);
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(id, strlen(id), md, &mdlen, EVP_sha256(), NULL);
    free(id);
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    const char *st = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    char *base = st && *st ? xprintf("%s", st)
                           : xprintf("%s/.local/state", home && *home ? home : ".");
    char *dir = xprintf("%s/cairn/sessions", base);
    for (char *p = dir + 1; *p; p++) { /* mkdir -p, private */
        if (*p == '/') {
            *p = '\0';
            mkdir(dir, 0700);
            *p = '/';
        }
    }
    mkdir(dir, 0700);
    char *path = xprintf("%s/%s", dir, hex);
    free(base);
    free(dir);
    return path;
}

static char *session_state_load(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return NULL;
    char buf[2048];
    char *url = fgets(buf, sizeof(buf), fp) ? xstrdup(buf) : NULL;
    fclose(fp);
    if (url)
        url[strcspn(url, "\r\n")] = '\0';
    return url;
}

static void session_state_save(const char *path, const char *url)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return;
    FILE *fp = fdopen(fd, "w");
    if (fp) {
        fprintf(fp, "%s\n", url);
        fclose(fp);
    } else {
        close(fd);
    }
}

static int put_session(push_ctx *x, push_file *f, int fd, cli_err *e)
{
    cli_resp r = {0};
    char *path = xprintf("%s/uploads/sessions", x->ver_path);
    json_t *body = json_pack("{s:s, s:I}", "path", f->path, "size", (json_int_t)f->size);
    char *url = NULL, *commit = NULL;
    char *state = session_state_path(x, f);
    int rc = -1, fails = 0;
    uint64_t off = 0;
    url = session_state_load(state);
    if (url && session_offset(&off, x, url, e) == 0 && off <= f->size) {
        f->resumed_from = off; /* a previous push of these bytes left this much */
    } else {
        free(url);
        url = NULL;
        off = 0;
        *e = (cli_err){0};
        if (api_request(&r, x->c, "POST", path, body, e) < 0)
            goto out;
        const char *su = json_string_value(json_object_get(r.json, "session_url"));
        if (!su) {
            cli_err_set(e, EXIT_NETWORK, "the server's upload session has no session_url");
            goto out;
        }
        url = su[0] == '/' ? xprintf("%s%s", x->c->server, su) : xstrdup(su);
        session_state_save(state, url);
    }
    while (off < f->size) {
        uint64_t n = f->size - off < CHUNK ? f->size - off : CHUNK;
        char *range = xprintf("Content-Range: bytes %llu-%llu/%llu", (unsigned long long)off,
                              (unsigned long long)(off + n - 1), (unsigned long long)f->size);
        const char *hdrs[] = {range, NULL};
        http_req rq = {"PATCH", url, NULL, 0,    "application/octet-stream", fd,
                       off,     n,   hdrs, true, on_upload_progress,         x};
        x->base = off;
        cli_resp_free(&r);
        int hr = http_do(&r, x->c, &rq, e);
        free(range);
        if (hr == 0 && r.status >= 200 && r.status < 300) {
            json_t *o = json_object_get(r.json, "offset");
            off = json_is_integer(o) ? (uint64_t)json_integer_value(o) : off + n;
            fails = 0;
            continue;
        }
        /* 409: the session holds a different offset than we thought; ask and go on. */
        if (!http_is_transient(hr, &r) && !(hr == 0 && r.status == 409)) {
            http_fail(e, &r, f->path);
            goto out;
        }
        if (++fails > CLI_RETRIES) {
            if (hr == 0)
                http_fail(e, &r, f->path);
            goto out;
        }
        f->retries++;
        uint64_t was = off;
        http_backoff(fails, &r);
        if (session_offset(&off, x, url, e) < 0) {
            if (e->code != EXIT_NETWORK)
                goto out;
            off = was; /* ask again after the next failure */
            continue;
        }
        if (hr == 0 && r.status == 409 && off == was) { /* a real conflict */
            http_fail(e, &r, f->path);
            goto out;
        }
        if (off > f->size) {
            cli_err_set(e, EXIT_INTEGRITY, "%s: the session holds more bytes than the file",
                        f->path);
            goto out;
        }
    }
    x->base = f->size;
    commit = xprintf("%s?sha256=%s", url, f->sha);
    for (int attempt = 0;; attempt++) {
        http_req rq = {"PUT", commit, NULL, 0, NULL, -1, 0, 0, NULL, true, NULL, NULL};
        cli_resp_free(&r);
        int hr = http_do(&r, x->c, &rq, e);
        if (hr == 0 && r.status >= 200 && r.status < 300) {
            rc = check_package(f, &r, e);
            break;
        }
        if (hr == 0 && (r.status == 404 || r.status == 409) && attempt > 0 && arrived(x, f)) {
            rc = 0;
            break;
        }
        if (hr == 0 && r.status == 422 && json_object_get(r.json, "errors")) {
            /* The server's bytes do not hash to ours. */
            http_fail(e, &r, f->path);
            e->code = EXIT_INTEGRITY;
            break;
        }
        if (!http_is_transient(hr, &r) || attempt >= CLI_RETRIES) {
            if (hr == 0)
                http_fail(e, &r, f->path);
            break;
        }
        f->retries++;
        http_backoff(attempt + 1, &r);
    }
out:
    if (rc == 0 || e->code == EXIT_INTEGRITY)
        unlink(state); /* committed, or bytes that can never commit: start afresh next time */
    free(state);
    cli_resp_free(&r);
    json_decref(body);
    free(commit);
    free(url);
    free(path);
    return rc;
}

static int upload(push_ctx *x, push_file *f, cli_err *e)
{
    int fd = open(f->local, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cli_err_set(e, EXIT_USAGE, "%s: %s", f->local, strerror(errno));
    char label[96];
    snprintf(label, sizeof(label), "%s", f->path);
    progress_start(&x->bar, x->c->progress, label, f->size, 0);
    f->method = f->size < SMALL_MAX ? "put" : "session";
    int rc = f->size < SMALL_MAX ? put_small(x, f, fd, e) : put_session(x, f, fd, e);
    close(fd);
    if (rc == 0) {
        x->bar.done = f->size;
        progress_end(&x->bar);
        f->status = "uploaded";
    } else if (x->bar.drawn) {
        fputc('\n', stderr);
    }
    return rc;
}

/* Creates the version (and the model, for a slug-shaped name); an existing one is fine.
 * Returns the Version. */
static int ensure_version(json_t **out, push_ctx *x, bool *created, cli_err *e)
{
    cli_resp r = {0};
    char *en = url_escape(x->m->name, false), *eo = url_escape(x->m->org, false);
    char *path = xprintf("/api/v1/org/%s/models/%s/versions", eo, en);
    json_t *body = json_pack("{s:s}", "version", x->m->ref);
    int rc = api_request(&r, x->c, "POST", path, body, e);
    *created = rc == 0;
    if (rc < 0 && r.status == 409) {
        cli_resp_free(&r);
        rc = api_request(&r, x->c, "GET", x->ver_path, NULL, e);
    }
    if (rc == 0) {
        *out = r.json;
        r.json = NULL;
    }
    cli_resp_free(&r);
    json_decref(body);
    free(path);
    free(en);
    free(eo);
    return rc;
}

int cmd_push(cli *c, const model_ref *m, char **files, int nfiles, bool publish, cli_err *e)
{
    push_ctx x = {c, m, NULL, {0}, 0};
    push_file *fs = calloc((size_t)nfiles, sizeof(*fs));
    json_t *version = NULL;
    int rc = -1;
    bool created = false, published = false;
    uint64_t sent = 0;
    if (!fs)
        abort();
    char *eo = url_escape(m->org, false), *en = url_escape(m->name, false),
         *ev = url_escape(m->ref, false);
    x.ver_path = xprintf("/api/v1/org/%s/models/%s/versions/%s", eo, en, ev);
    free(eo);
    free(en);
    free(ev);

    /* Hash everything first: the digest travels ahead of the bytes. */
    for (int i = 0; i < nfiles; i++) {
        push_file *f = &fs[i];
        f->local = files[i];
        const char *slash = strrchr(files[i], '/');
        f->path = slash ? slash + 1 : files[i];
        f->method = "none";
        if (!*f->path) {
            cli_err_set(e, EXIT_USAGE, "'%s': not a file name", files[i]);
            goto out;
        }
        for (int k = 0; k < i; k++)
            if (strcmp(fs[k].path, f->path) == 0) {
                cli_err_set(e, EXIT_USAGE, "two files are named '%s'", f->path);
                goto out;
            }
        struct stat st;
        if (stat(f->local, &st) < 0) {
            cli_err_set(e, EXIT_USAGE, "%s: %s", f->local, strerror(errno));
            goto out;
        }
        char label[96];
        snprintf(label, sizeof(label), "hashing %s", f->path);
        progress_start(&x.bar, c->progress && st.st_size > (16 << 20), label, (uint64_t)st.st_size,
                       0);
        if (sha256_file(f->sha, &f->size, f->local, &x.bar, e) < 0)
            goto out;
        progress_end(&x.bar);
    }
    if (ensure_version(&version, &x, &created, e) < 0)
        goto out;
    const char *lifecycle = json_string_value(json_object_get(version, "lifecycle"));
    for (int i = 0; i < nfiles; i++) {
        push_file *f = &fs[i];
        const char *have = remote_sha(version, f->path);
        if (have && strcmp(have, f->sha) == 0) {
            f->status = "skipped";
            if (!c->json)
                printf("%s: already in %s/%s@%s\n", f->path, m->org, m->name, m->ref);
            continue;
        }
        if (have) {
            cli_err_set(e, EXIT_CONFLICT,
                        "%s: the version already holds another file by that name "
                        "(sha256 %s)",
                        f->path, have);
            goto out;
        }
        if (lifecycle && strcmp(lifecycle, "draft") != 0) {
            cli_err_set(e, EXIT_CONFLICT, "%s/%s@%s is %s: its files cannot change", m->org,
                        m->name, m->ref, lifecycle);
            goto out;
        }
        if (upload(&x, f, e) < 0)
            goto out;
        sent += f->size;
        if (!c->json) {
            char sz[32];
            printf("%s: uploaded %s, sha256 %s\n", f->path,
                   fmt_bytes(sz, sizeof(sz), (double)f->size), f->sha);
            fflush(stdout);
        }
    }
    if (publish && lifecycle && strcmp(lifecycle, "draft") == 0) {
        cli_resp r = {0};
        char *p = xprintf("%s/publish", x.ver_path);
        int pr = api_request(&r, c, "POST", p, NULL, e);
        free(p);
        cli_resp_free(&r);
        if (pr < 0)
            goto out;
        published = true;
        lifecycle = "published";
    }
    if (c->json) {
        json_t *arr = json_array();
        for (int i = 0; i < nfiles; i++)
            json_array_append_new(
                arr, json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:i, s:I}", "path", fs[i].path,
                               "local", fs[i].local, "size_bytes", (json_int_t)fs[i].size,
                               "sha256", fs[i].sha, "status", fs[i].status, "method",
                               fs[i].method, "retries", fs[i].retries, "resumed_from",
                               (json_int_t)fs[i].resumed_from));
        json_t *sum = json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:o, s:I}", "org", m->org, "name",
                                m->name, "version", m->ref, "lifecycle",
                                lifecycle ? lifecycle : "draft", "created", created, "published",
                                published, "files", arr, "bytes_uploaded", (json_int_t)sent);
        print_json(sum);
        json_decref(sum);
    } else if (published) {
        printf("published %s/%s@%s\n", m->org, m->name, m->ref);
    }
    rc = 0;
out:
    json_decref(version);
    free(x.ver_path);
    free(fs);
    return rc;
}
