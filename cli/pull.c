/*
 * pull.c: `cairn pull ORG/NAME[@VERSION|@ALIAS] [-o DIR]`. Resolves the version through
 * download-urls, then fetches every file over its presigned URL, up to 4 at once (curl multi),
 * into DIR/PATH.part: an existing .part is hashed and resumed with Range, every byte is hashed
 * as it arrives, and only a file whose sha256 matches is fsynced and renamed into place.
 * A local file that is already complete and matches is skipped; one that does not match is
 * downloaded again and replaced atomically (the old bytes stay until the new ones verify).
 * A .part whose digest does not match is deleted and the pull fails with EXIT_INTEGRITY.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PARALLEL 4

typedef struct pull_ctx pull_ctx;

typedef struct dl {
    pull_ctx *x;
    const char *path, *url, *sha; /* from the download-urls reply */
    uint64_t size;
    char *final, *part, *abs_url;
    int fd;
    EVP_MD_CTX *md;
    uint64_t have;  /* bytes in .part, all hashed into md */
    uint64_t start; /* bytes the .part held when this run began */
    uint64_t got;   /* bytes received in this run */
    int retries;
    double next_at; /* do not start before (backoff) */
    const char *status;
    bool replace; /* a complete local file did not match: replacing it */
    bool queued, active, finished, failed;
    CURL *h;
    char range[48];
    char errbuf[CURL_ERROR_SIZE];
    long code;    /* status of the current attempt, read at its first body byte */
    bool checked; /* code has been read */
    bool oversize, write_failed;
    int write_errno;
    char errbody[2048]; /* the body of an error reply */
    size_t errlen;
    cli_err err;
} dl;

struct pull_ctx {
    cli *c;
    dl *files;
    size_t n;
    progress bar;
    int active;
};

static bool path_is_safe(const char *p)
{
    if (!*p || *p == '/')
        return false;
    for (const char *s = p; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == '\\')
            return false;
    const char *seg = p;
    for (;;) {
        const char *end = strchr(seg, '/');
        size_t n = end ? (size_t)(end - seg) : strlen(seg);
        if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return false;
        if (!end)
            return true;
        seg = end + 1;
    }
}

/* mkdir -p of every directory above `file`, and of dir itself. */
static int make_parents(const char *file, cli_err *e)
{
    char *p = xstrdup(file);
    int rc = 0;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST) {
            rc = cli_err_set(e, EXIT_USAGE, "mkdir %s: %s", p, strerror(errno));
            break;
        }
        *s = '/';
    }
    free(p);
    return rc;
}

static void dl_fail(dl *f, cli_err *src)
{
    f->failed = true;
    f->finished = true;
    f->status = "failed";
    f->err = *src;
    if (f->fd >= 0) {
        close(f->fd);
        f->fd = -1;
    }
}

/* The .part holds every byte: verify, then move it into place. */
static void dl_finish(dl *f)
{
    char hex[65];
    cli_err e = {0};
    sha256_hex(hex, f->md);
    if (strcmp(hex, f->sha) != 0) {
        unlink(f->part);
        cli_err_set(&e, EXIT_INTEGRITY,
                    "%s: sha256 mismatch: expected %s, got %s; the partial file was deleted",
                    f->path, f->sha, hex);
        dl_fail(f, &e);
        return;
    }
    if (fsync(f->fd) < 0 || close(f->fd) < 0) {
        f->fd = -1;
        cli_err_set(&e, EXIT_USAGE, "%s: %s", f->part, strerror(errno));
        dl_fail(f, &e);
        return;
    }
    f->fd = -1;
    if (rename(f->part, f->final) < 0) {
        cli_err_set(&e, EXIT_USAGE, "rename %s: %s", f->final, strerror(errno));
        dl_fail(f, &e);
        return;
    }
    f->finished = true;
    f->status = f->replace ? "redownloaded" : f->start > 0 ? "resumed" : "downloaded";
}

/* Looks at what is on disk: a matching final file, or a .part to hash and resume. */
static int dl_prepare(dl *f, const char *dir, cli_err *e)
{
    struct stat st;
    char hex[65];
    uint64_t size = 0;
    if (!path_is_safe(f->path))
        return cli_err_set(e, EXIT_CONFLICT, "the server listed an unsafe path '%s'", f->path);
    f->final = xprintf("%s/%s", dir, f->path);
    f->part = xprintf("%s.part", f->final);
    if (make_parents(f->final, e) < 0)
        return -1;
    if (stat(f->final, &st) == 0) {
        if (!S_ISREG(st.st_mode))
            return cli_err_set(e, EXIT_USAGE, "%s exists and is not a file", f->final);
        if ((uint64_t)st.st_size == f->size) {
            if (sha256_file(hex, &size, f->final, NULL, e) < 0)
                return -1;
            if (strcmp(hex, f->sha) == 0) {
                f->status = "skipped";
                f->finished = true;
                return 0;
            }
        }
        fprintf(stderr, "cairn: %s does not match sha256 %s: downloading it again\n", f->final,
                f->sha);
        f->replace = true;
    }
    f->fd = open(f->part, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (f->fd < 0 || fstat(f->fd, &st) < 0)
        return cli_err_set(e, EXIT_USAGE, "%s: %s", f->part, strerror(errno));
    f->md = EVP_MD_CTX_new();
    if (!f->md || !EVP_DigestInit_ex(f->md, EVP_sha256(), NULL))
        return cli_err_set(e, EXIT_USAGE, "cannot initialise SHA-256");
    uint64_t have = (uint64_t)st.st_size;
    if (have > f->size) { /* not a prefix of this file */
        if (ftruncate(f->fd, 0) < 0)
            return cli_err_set(e, EXIT_USAGE, "%s: %s", f->part, strerror(errno));
        have = 0;
    }
    if (have > 0 && sha256_update_fd(f->md, f->fd, have, NULL, e) < 0)
        return -1;
    f->have = f->start = have;
    if (have == f->size)
        dl_finish(f);
    return 0;
}

static size_t on_dl_write(char *d, size_t sz, size_t nm, void *ud)
{
    dl *f = ud;
    size_t n = sz * nm;
    if (!f->checked) {
        f->checked = true;
        curl_easy_getinfo(f->h, CURLINFO_RESPONSE_CODE, &f->code);
        if (f->code == 200 && f->have > 0) { /* the Range was ignored: start over */
            if (ftruncate(f->fd, 0) < 0) {
                f->write_failed = true;
                f->write_errno = errno;
                return 0;
            }
            EVP_DigestInit_ex(f->md, EVP_sha256(), NULL);
            f->x->bar.done -= f->have;
            f->have = 0;
        }
    }
    if (f->code != 200 && f->code != 206) {
        size_t room = sizeof(f->errbody) - 1 - f->errlen;
        size_t k = n < room ? n : room;
        memcpy(f->errbody + f->errlen, d, k);
        f->errlen += k;
        f->errbody[f->errlen] = '\0';
        return n;
    }
    if (n > f->size - f->have) {
        f->oversize = true;
        return 0;
    }
    for (size_t off = 0; off < n;) {
        ssize_t w = pwrite(f->fd, d + off, n - off, (off_t)(f->have + off));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            f->write_failed = true;
            f->write_errno = errno;
            return 0;
        }
        off += (size_t)w;
    }
    EVP_DigestUpdate(f->md, d, n);
    f->have += n;
    f->got += n;
    f->x->bar.done += n;
    return n;
}

static int dl_start(pull_ctx *x, CURLM *multi, dl *f, cli_err *e)
{
    f->h = curl_easy_init();
    if (!f->h)
        return cli_err_set(e, EXIT_NETWORK, "cannot initialise libcurl");
    f->checked = false;
    f->code = 0;
    f->errlen = 0;
    f->errbody[0] = '\0';
    f->errbuf[0] = '\0';
    curl_easy_setopt(f->h, CURLOPT_URL, f->abs_url);
    curl_easy_setopt(f->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(f->h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(f->h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(f->h, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(f->h, CURLOPT_USERAGENT, "cairn/" CLI_VERSION);
    curl_easy_setopt(f->h, CURLOPT_ERRORBUFFER, f->errbuf);
    curl_easy_setopt(f->h, CURLOPT_WRITEFUNCTION, on_dl_write);
    curl_easy_setopt(f->h, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(f->h, CURLOPT_PRIVATE, f);
    if (x->c->limit_rate > 0)
        curl_easy_setopt(f->h, CURLOPT_MAX_RECV_SPEED_LARGE, x->c->limit_rate);
    if (f->have > 0) {
        /* CURLOPT_RANGE, not RESUME_FROM: a 200 reply then restarts instead of failing. */
        snprintf(f->range, sizeof(f->range), "%llu-", (unsigned long long)f->have);
        curl_easy_setopt(f->h, CURLOPT_RANGE, f->range);
    }
    if (curl_multi_add_handle(multi, f->h) != CURLM_OK) {
        curl_easy_cleanup(f->h);
        f->h = NULL;
        return cli_err_set(e, EXIT_NETWORK, "cannot start a transfer");
    }
    f->active = true;
    x->active++;
    return 0;
}

static double backoff_s(int attempt)
{
    double s = 0.5;
    for (int i = 1; i < attempt && s < 8.0; i++)
        s *= 2;
    return s;
}

/* One attempt ended: finish, fail, or schedule a retry from what the .part holds. */
static void dl_done(pull_ctx *x, CURLM *multi, dl *f, CURLcode cc)
{
    cli_err e = {0};
    long code = f->code;
    if (!f->checked)
        curl_easy_getinfo(f->h, CURLINFO_RESPONSE_CODE, &code);
    curl_multi_remove_handle(multi, f->h);
    curl_easy_cleanup(f->h);
    f->h = NULL;
    f->active = false;
    x->active--;
    bool body_ok = code == 200 || code == 206;
    if (f->oversize) {
        unlink(f->part);
        cli_err_set(&e, EXIT_INTEGRITY, "%s: the server sent more than %llu bytes", f->path,
                    (unsigned long long)f->size);
        dl_fail(f, &e);
        return;
    }
    if (f->write_failed) {
        cli_err_set(&e, EXIT_USAGE, "%s: %s", f->part, strerror(f->write_errno));
        dl_fail(f, &e);
        return;
    }
    if (cc == CURLE_OK && body_ok && f->have == f->size) {
        dl_finish(f);
        return;
    }
    if (cc == CURLE_OK && code == 416) { /* the .part is not a prefix: restart it */
        if (ftruncate(f->fd, 0) == 0) {
            EVP_DigestInit_ex(f->md, EVP_sha256(), NULL);
            x->bar.done -= f->have;
            f->have = 0;
        }
    } else if (cc == CURLE_OK && !body_ok && code < 500 && code != 429) {
        cli_resp r = {code, f->errbody, f->errlen, NULL, false, 0, 0, 0};
        r.json = json_loadb(f->errbody, f->errlen, 0, NULL);
        http_fail(&e, &r, f->path);
        json_decref(r.json);
        dl_fail(f, &e);
        return;
    }
    /* Transient: a transport error, a 5xx, a 429, or a reply cut short. */
    if (++f->retries > CLI_RETRIES) {
        if (cc != CURLE_OK)
            cli_err_set(&e, EXIT_NETWORK, "%s: %s", f->path,
                        f->errbuf[0] ? f->errbuf : curl_easy_strerror(cc));
        else if (!body_ok)
            cli_err_set(&e, EXIT_NETWORK, "%s: HTTP %ld", f->path, code);
        else
            cli_err_set(&e, EXIT_NETWORK, "%s: the transfer ended after %llu of %llu bytes",
                        f->path, (unsigned long long)f->have, (unsigned long long)f->size);
        dl_fail(f, &e);
        return;
    }
    f->next_at = now_s() + backoff_s(f->retries);
    f->queued = true;
}

/* Runs every queued transfer, PARALLEL at a time. */
static int run_transfers(pull_ctx *x, cli_err *e)
{
    CURLM *multi = curl_multi_init();
    if (!multi)
        return cli_err_set(e, EXIT_NETWORK, "cannot initialise libcurl");
    int rc = 0;
    for (;;) {
        bool waiting = false;
        double t = now_s();
        for (size_t i = 0; i < x->n && x->active < PARALLEL; i++) {
            dl *f = &x->files[i];
            if (!f->queued)
                continue;
            if (f->next_at > t) {
                waiting = true;
                continue;
            }
            f->queued = false;
            if (dl_start(x, multi, f, e) < 0) {
                dl_fail(f, e);
                continue;
            }
        }
        for (size_t i = 0; i < x->n; i++)
            waiting = waiting || x->files[i].queued;
        if (x->active == 0 && !waiting)
            break;
        int running = 0;
        curl_multi_perform(multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            dl *f = NULL;
            CURLcode cc = msg->data.result;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&f);
            dl_done(x, multi, f, cc);
        }
        progress_draw(&x->bar, false);
        if (x->active > 0)
            curl_multi_poll(multi, NULL, 0, 100, NULL);
        else {
            struct timespec ts = {0, 50 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    curl_multi_cleanup(multi);
    return rc;
}

static json_t *summary(const pull_ctx *x, const model_ref *m, const char *version, const char *dir,
                       uint64_t total, uint64_t got, bool ok)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < x->n; i++) {
        const dl *f = &x->files[i];
        json_t *it = json_pack("{s:s, s:s, s:I, s:s, s:s, s:I, s:I, s:i}", "path", f->path, "local",
                               f->final ? f->final : "", "size_bytes", (json_int_t)f->size,
                               "sha256", f->sha, "status", f->status ? f->status : "pending",
                               "bytes_downloaded", (json_int_t)f->got, "resumed_from",
                               (json_int_t)f->start, "retries", f->retries);
        if (f->failed)
            json_object_set_new(it, "error", json_string(f->err.msg));
        json_array_append_new(arr, it);
    }
    return json_pack("{s:b, s:s, s:s, s:s, s:s, s:s, s:o, s:I, s:I}", "ok", ok, "org", m->org,
                     "name", m->name, "ref", m->ref ? m->ref : "latest", "version", version, "dir",
                     dir, "files", arr, "bytes_total", (json_int_t)total, "bytes_downloaded",
                     (json_int_t)got);
}

/* Asks the server which package of the version suits device; fills *paths (a JSON array of
 * the package's file paths, the caller's). */
static int device_paths(json_t **paths, cli *c, const model_ref *m, const char *device,
                        cli_err *e)
{
    cli_resp r = {0};
    char *eo = url_escape(m->org, false), *en = url_escape(m->name, false),
         *ev = url_escape(m->ref ? m->ref : "latest", false), *ed = url_escape(device, false);
    char *path = xprintf("/api/v1/org/%s/models/%s/resolve?version=%s&device=%s", eo, en, ev, ed);
    free(eo);
    free(en);
    free(ev);
    free(ed);
    int rc = api_request(&r, c, "GET", path, NULL, e);
    free(path);
    if (rc < 0) {
        cli_resp_free(&r);
        return -1;
    }
    json_t *pkgs = json_object_get(r.json, "packages");
    if (json_array_size(pkgs) != 1) {
        json_t *why = json_object_get(r.json, "reasons");
        char msg[700] = "";
        size_t i;
        json_t *w;
        json_array_foreach(why, i, w)
        {
            size_t n = strlen(msg);
            snprintf(msg + n, sizeof(msg) - n, "%s%s", i ? "; " : "", json_string_value(w));
        }
        cli_err_set(e, EXIT_CONFLICT, "no package of %s/%s suits %s: %s", m->org, m->name,
                    device, msg);
        cli_resp_free(&r);
        return -1;
    }
    *paths = json_array();
    size_t i;
    json_t *res;
    json_array_foreach(json_object_get(json_array_get(pkgs, 0), "resources"), i, res)
        json_array_append(*paths, json_object_get(res, "path"));
    cli_resp_free(&r);
    return 0;
}

static bool has_path(const json_t *paths, const char *p)
{
    size_t i;
    json_t *x;
    json_array_foreach(paths, i, x)
    {
        if (strcmp(json_string_value(x), p) == 0)
            return true;
    }
    return false;
}

int cmd_pull(cli *c, const model_ref *m, const char *dir, const char *device, cli_err *e)
{
    cli_resp r = {0};
    json_t *only = NULL;
    pull_ctx x = {c, NULL, 0, {0}, 0};
    int rc = -1;
    char *eo = url_escape(m->org, false), *en = url_escape(m->name, false),
         *ev = url_escape(m->ref ? m->ref : "latest", false);
    char *path = xprintf("/api/v1/org/%s/models/%s/versions/%s/download-urls", eo, en, ev);
    free(eo);
    free(en);
    free(ev);
    if (device && (strchr(device, ',') || device_paths(&only, c, m, device, e) < 0)) {
        if (strchr(device, ','))
            cli_err_set(e, EXIT_USAGE, "pull takes one --device");
        goto out;
    }
    if (api_request(&r, c, "GET", path, NULL, e) < 0)
        goto out;
    const char *version = json_string_value(json_object_get(r.json, "version"));
    json_t *res = json_object_get(r.json, "resources"),
           *skipped = json_object_get(r.json, "skipped");
    if (!version || !json_is_array(res)) {
        cli_err_set(e, EXIT_NETWORK, "the server's download-urls reply is malformed");
        goto out;
    }
    if (only) {
        /* Keep the chosen package's files (the reply is ours: filter it in place). */
        for (size_t i = json_array_size(res); i-- > 0;) {
            const char *p = json_string_value(json_object_get(json_array_get(res, i), "path"));
            if (!p || !has_path(only, p))
                json_array_remove(res, i);
        }
        for (size_t i = json_array_size(skipped); i-- > 0;) {
            const char *p =
                json_string_value(json_object_get(json_array_get(skipped, i), "path"));
            if (!p || !has_path(only, p))
                json_array_remove(skipped, i);
        }
    }
    if (json_array_size(skipped) > 0) {
        json_t *s0 = json_array_get(skipped, 0);
        cli_err_set(e, EXIT_NETWORK, "%s: %s", json_string_value(json_object_get(s0, "path")),
                    json_string_value(json_object_get(s0, "reason")));
        goto out;
    }
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        cli_err_set(e, EXIT_USAGE, "mkdir %s: %s", dir, strerror(errno));
        goto out;
    }
    x.n = json_array_size(res);
    x.files = calloc(x.n ? x.n : 1, sizeof(dl));
    if (!x.files)
        abort();
    uint64_t total = 0, initial = 0, got = 0;
    for (size_t i = 0; i < x.n; i++) {
        dl *f = &x.files[i];
        json_t *it = json_array_get(res, i);
        f->x = &x;
        f->fd = -1;
        f->path = json_string_value(json_object_get(it, "path"));
        f->url = json_string_value(json_object_get(it, "url"));
        f->sha = json_string_value(json_object_get(it, "sha256"));
        json_int_t sz = json_integer_value(json_object_get(it, "size_bytes"));
        if (!f->path || !f->url || !f->sha || strlen(f->sha) != 64 || sz < 0) {
            cli_err_set(e, EXIT_NETWORK, "the server's download-urls reply is malformed");
            goto out;
        }
        f->size = (uint64_t)sz;
        f->abs_url = f->url[0] == '/' ? xprintf("%s%s", c->server, f->url) : xstrdup(f->url);
    }
    for (size_t i = 0; i < x.n; i++) {
        dl *f = &x.files[i];
        if (dl_prepare(f, dir, e) < 0)
            goto out;
        if (!f->finished) {
            f->queued = true;
            total += f->size;
            initial += f->have;
        }
    }
    char label[160];
    snprintf(label, sizeof(label), "%s/%s@%s", m->org, m->name, version);
    progress_start(&x.bar, c->progress && total > 0, label, total, initial);
    if (run_transfers(&x, e) < 0)
        goto out;
    progress_end(&x.bar);
    int failures = 0;
    const dl *pick = NULL; /* the failure that sets the exit code: integrity first */
    for (size_t i = 0; i < x.n; i++) {
        const dl *f = &x.files[i];
        got += f->got;
        if (!f->failed)
            continue;
        failures++;
        if (!pick || (f->err.code == EXIT_INTEGRITY && pick->err.code != EXIT_INTEGRITY))
            pick = f;
    }
    for (size_t i = 0; i < x.n; i++)
        if (x.files[i].failed && &x.files[i] != pick)
            fprintf(stderr, "cairn: error: %s\n", x.files[i].err.msg);
    if (pick)
        *e = pick->err;
    uint64_t all = 0;
    for (size_t i = 0; i < x.n; i++)
        all += x.files[i].size;
    if (c->json) {
        json_t *s = summary(&x, m, version, dir, all, got, failures == 0);
        print_json(s);
        json_decref(s);
    } else {
        for (size_t i = 0; i < x.n; i++) {
            char sz[32];
            printf("%-12s %10s  %s\n", x.files[i].status ? x.files[i].status : "pending",
                   fmt_bytes(sz, sizeof(sz), (double)x.files[i].size), x.files[i].final);
        }
        if (failures == 0) {
            char a[32], b[32];
            printf("pulled %s/%s@%s into %s: %zu file%s, %s (%s downloaded)\n", m->org, m->name,
                   version, dir, x.n, x.n == 1 ? "" : "s", fmt_bytes(a, sizeof(a), (double)all),
                   fmt_bytes(b, sizeof(b), (double)got));
        }
    }
    rc = failures ? -1 : 0;
out:
    for (size_t i = 0; i < x.n; i++) {
        dl *f = &x.files[i];
        if (f->fd >= 0)
            close(f->fd);
        EVP_MD_CTX_free(f->md);
        free(f->final);
        free(f->part);
        free(f->abs_url);
    }
    free(x.files);
    cli_resp_free(&r);
    json_decref(only);
    free(path);
    return rc;
}
