/*
 * cairn.c: the `cairn` command-line client: options, the config file, and the commands that
 * are one API call each (login, whoami, ls, search, versions, publish, deprecate, manifest).
 * Transfers live in push.c and pull.c; HTTP in http.c.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static const char usage_text[] =
    "usage: cairn [--server URL] [--token T] [--json] COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  login [--server URL] [--token T]     check a token with the server and save both in\n"
    "                                       $XDG_CONFIG_HOME/cairn/config (mode 0600); the\n"
    "                                       token is read from stdin when not given\n"
    "  whoami                               the org and role of the token\n"
    "  push ORG/NAME@VERSION FILE... [--publish]\n"
    "                                       create the version if needed, upload the files\n"
    "                                       (resumable above 64 MiB, also after a killed run:\n"
    "                                       sessions are kept in $XDG_STATE_HOME/cairn)\n"
    "  pull ORG/NAME[@VERSION|@ALIAS] [-o DIR] [--device ID]\n"
    "                                       download every file of a version (default latest)\n"
    "                                       into DIR (default .), verified and resumable; with\n"
    "                                       --device only the package that suits that device\n"
    "  ls [ORG]                             list models (default: the token's org)\n"
    "  search QUERY [--tag T]... [--framework F] [--org ORG]\n"
    "                                       full-text search (default: the token's org and\n"
    "                                       public models; the public catalog without a token)\n"
    "  versions ORG/NAME                    list versions, newest first\n"
    "  publish ORG/NAME@VERSION             draft -> published\n"
    "  deprecate ORG/NAME@VERSION           published -> deprecated\n"
    "  manifest                             the public manifest\n"
    "  devices                              the device profiles the server knows\n"
    "  convert ORG/NAME@VERSION PATH --target FORMAT... [--wait]\n"
    "                                       queue server-side conversions of a file (e.g.\n"
    "                                       --target safetensors-fp16); --wait follows them\n"
    "  jobs [ID] [--org ORG]                conversion jobs, newest first, or one job\n"
    "  compat ORG/NAME[@VERSION] [--device ID]...\n"
    "                                       which devices run the model (default: every\n"
    "                                       profile), why not, and the memory it needs\n"
    "\n"
    "options:\n"
    "  --server URL      server (env CAIRN_SERVER, then the config; default " CLI_DEFAULT_SERVER
    ")\n"
    "  --token T         API token (env CAIRN_TOKEN, then the config)\n"
    "  --json            machine output on stdout: the server's JSON, or for push and pull a\n"
    "                    summary ({files: [{path, status, bytes_downloaded, ...}], ...})\n"
    "  --limit-rate R    cap each transfer at R bytes/s (suffixes k, M, G)\n"
    "  -h, --help        this text;  --version  the client version\n"
    "Progress bars are drawn on stderr when it is a terminal.\n"
    "\n"
    "exit codes:\n"
    "  0  ok\n"
    "  1  usage error (or a local file error)\n"
    "  2  authentication or permission refused (HTTP 401, 403)\n"
    "  3  not found (HTTP 404)\n"
    "  4  conflict or validation error (HTTP 409, 422, other 4xx)\n"
    "  5  integrity: a sha256 checksum did not match\n"
    "  6  network or server error (connection failures, 5xx after retries)\n";

enum {
    OPT_SERVER = 256,
    OPT_TOKEN,
    OPT_JSON,
    OPT_VERSION,
    OPT_PUBLISH,
    OPT_TAG,
    OPT_FRAMEWORK,
    OPT_ORG,
    OPT_LIMIT_RATE,
    OPT_DEVICE,
    OPT_TARGET,
    OPT_WAIT,
};

typedef struct opts {
    const char *server, *token, *output, *framework, *org;
    char *tags;    /* comma-joined */
    char *devices; /* comma-joined */
    char *targets; /* comma-joined */
    bool wait;
    bool json, publish;
    curl_off_t limit_rate;
    unsigned used; /* bits of command-specific options given */
} opts;

#define USED_PUBLISH 1u
#define USED_OUTPUT 2u
#define USED_TAG 4u
#define USED_FRAMEWORK 8u
#define USED_ORG 16u
#define USED_DEVICE 32u
#define USED_TARGET 64u
#define USED_WAIT 128u

/* ---- config: "key = value" lines ---- */

static char *config_path(void)
{
    const char *x = getenv("XDG_CONFIG_HOME");
    if (x && *x)
        return xprintf("%s/cairn/config", x);
    const char *home = getenv("HOME");
    return xprintf("%s/.config/cairn/config", home && *home ? home : ".");
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

static void config_read(char **server, char **token)
{
    char *path = config_path();
    FILE *f = fopen(path, "re");
    char line[4096];
    struct stat st;
    if (f && fstat(fileno(f), &st) == 0 && (st.st_mode & 077))
        fprintf(stderr, "cairn: warning: %s holds a token but others may read it (chmod 600)\n",
                path);
    while (f && fgets(line, sizeof(line), f)) {
        char *l = trim(line), *eq = strchr(l, '=');
        if (*l == '#' || !eq)
            continue;
        *eq = '\0';
        char *k = trim(l), *v = trim(eq + 1);
        if (strcmp(k, "server") == 0 && *v) {
            free(*server);
            *server = xstrdup(v);
        } else if (strcmp(k, "token") == 0 && *v) {
            free(*token);
            *token = xstrdup(v);
        }
    }
    if (f)
        fclose(f);
    free(path);
}

static int mkdir_p(const char *dir, mode_t mode, cli_err *e)
{
    char *p = xstrdup(dir);
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, mode) < 0 && errno != EEXIST) {
            rc = cli_err_set(e, EXIT_USAGE, "mkdir %s: %s", p, strerror(errno));
            break;
        }
        *s = c;
        if (!c)
            break;
    }
    free(p);
    return rc;
}

/* Writes the config atomically, readable by its owner only. */
static int config_write(const char *server, const char *token, cli_err *e)
{
    char *path = config_path(), *dir = xstrdup(path), *tmp = NULL;
    int fd = -1, rc = -1;
    *strrchr(dir, '/') = '\0';
    if (mkdir_p(dir, 0700, e) < 0)
        goto out;
    tmp = xprintf("%s.tmp.%ld", path, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 || fchmod(fd, 0600) < 0) {
        cli_err_set(e, EXIT_USAGE, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    char *text = xprintf("# written by cairn login\nserver = %s\ntoken = %s\n", server, token);
    size_t n = strlen(text);
    ssize_t w = write(fd, text, n);
    memset(text, 0, n);
    free(text);
    if (w < 0 || (size_t)w != n || fsync(fd) < 0) {
        cli_err_set(e, EXIT_USAGE, "%s: %s", tmp, w < 0 ? strerror(errno) : "short write");
        goto out;
    }
    close(fd);
    fd = -1;
    if (rename(tmp, path) < 0) {
        cli_err_set(e, EXIT_USAGE, "%s: %s", path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (rc < 0 && tmp)
        unlink(tmp);
    free(tmp);
    free(dir);
    free(path);
    return rc;
}

static char *normalize_server(const char *s)
{
    char *u = strstr(s, "://") ? xstrdup(s) : xprintf("http://%s", s);
    size_t n = strlen(u);
    while (n > 0 && u[n - 1] == '/')
        u[--n] = '\0';
    return u;
}

/* ---- helpers ---- */

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "-";
}

/* The token's org, from whoami. Caller frees. */
static int default_org(char **out, cli *c, cli_err *e)
{
    cli_resp r = {0};
    if (!c->token)
        return cli_err_set(e, EXIT_USAGE, "no token: run `cairn login` or name the org");
    if (api_request(&r, c, "GET", "/api/v1/whoami", NULL, e) < 0) {
        cli_resp_free(&r);
        return -1;
    }
    const char *org = json_string_value(json_object_get(r.json, "org"));
    int rc = org ? 0 : cli_err_set(e, EXIT_USAGE, "this token has no org: name one");
    if (org)
        *out = xstrdup(org);
    cli_resp_free(&r);
    return rc;
}

/* GETs a list, following next_cursor; returns {items, total, next_cursor: null}. */
static int fetch_all(json_t **out, cli *c, const char *path, cli_err *e)
{
    json_t *all = NULL;
    char *cursor = NULL;
    int rc = -1;
    for (int page = 0; page < 10000; page++) {
        cli_resp r = {0};
        char *esc = cursor ? url_escape(cursor, false) : NULL;
        char *p = xprintf("%s%slimit=500%s%s", path, strchr(path, '?') ? "&" : "?",
                          esc ? "&cursor=" : "", esc ? esc : "");
        int hr = api_request(&r, c, "GET", p, NULL, e);
        free(p);
        free(esc);
        free(cursor);
        cursor = NULL;
        if (hr < 0 || !json_is_array(json_object_get(r.json, "items"))) {
            if (hr == 0)
                cli_err_set(e, EXIT_NETWORK, "GET %s: the reply has no items", path);
            cli_resp_free(&r);
            goto out;
        }
        if (!all) {
            all = json_incref(r.json);
        } else {
            json_array_extend(json_object_get(all, "items"), json_object_get(r.json, "items"));
        }
        const char *next = json_string_value(json_object_get(r.json, "next_cursor"));
        cursor = next && *next ? xstrdup(next) : NULL;
        cli_resp_free(&r);
        if (!cursor)
            break;
    }
    json_object_set_new(all, "next_cursor", json_null());
    *out = all;
    all = NULL;
    rc = 0;
out:
    json_decref(all);
    free(cursor);
    return rc;
}

static void print_models(const json_t *list)
{
    size_t i;
    json_t *it;
    if (json_array_size(json_object_get(list, "items")) == 0) {
        printf("no models\n");
        return;
    }
    printf("%-40s %-14s %-12s %9s  %s\n", "NAME", "LATEST", "FRAMEWORK", "DOWNLOADS", "UPDATED");
    json_array_foreach(json_object_get(list, "items"), i, it)
    {
        const char *name = json_string_value(json_object_get(it, "canonical_name"));
        printf("%-40s %-14s %-12s %9lld  %s\n", name ? name : str(it, "name"), str(it, "version"),
               str(it, "framework"),
               (long long)json_integer_value(json_object_get(it, "download_count")),
               str(it, "updated_at"));
    }
}

/* ---- commands ---- */

static int read_token(char **out, cli_err *e)
{
    char line[4096];
    bool tty = isatty(STDIN_FILENO);
    struct termios old, quiet;
    if (tty) {
        fputs("token: ", stderr);
        fflush(stderr);
        if (tcgetattr(STDIN_FILENO, &old) == 0) {
            quiet = old;
            quiet.c_lflag &= ~(tcflag_t)ECHO;
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        } else {
            tty = false;
        }
    }
    char *got = fgets(line, sizeof(line), stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    char *t = got ? trim(line) : NULL;
    if (!t || !*t)
        return cli_err_set(e, EXIT_USAGE, "no token given: use --token T or type it on stdin");
    *out = xstrdup(t);
    memset(line, 0, sizeof(line));
    return 0;
}

static int cmd_login(cli *c, cli_err *e)
{
    cli_resp r = {0};
    if (!c->token && read_token(&c->token, e) < 0)
        return -1;
    if (api_request(&r, c, "GET", "/api/v1/whoami", NULL, e) < 0) {
        cli_resp_free(&r);
        return -1;
    }
    int rc = config_write(c->server, c->token, e);
    if (rc == 0 && c->json) {
        print_json(r.json);
    } else if (rc == 0) {
        char *path = config_path();
        const char *org = json_string_value(json_object_get(r.json, "org"));
        printf("logged in to %s as %s%s (%s); saved in %s\n", c->server,
               org ? "org " : "server admin", org ? org : "", str(r.json, "role"), path);
        free(path);
    }
    cli_resp_free(&r);
    return rc;
}

static int cmd_whoami(cli *c, cli_err *e)
{
    cli_resp r = {0};
    int rc = api_request(&r, c, "GET", "/api/v1/whoami", NULL, e);
    if (rc == 0 && c->json)
        print_json(r.json);
    else if (rc == 0)
        printf("org %s, role %s%s, server %s\n", str(r.json, "org"), str(r.json, "role"),
               json_is_true(json_object_get(r.json, "server_admin")) ? ", server admin" : "",
               c->server);
    cli_resp_free(&r);
    return rc;
}

static int cmd_ls(cli *c, const char *org_arg, cli_err *e)
{
    char *org = NULL, *eo = NULL, *path = NULL;
    json_t *list = NULL;
    int rc = -1;
    if (org_arg)
        org = xstrdup(org_arg);
    else if (default_org(&org, c, e) < 0)
        goto out;
    eo = url_escape(org, false);
    path = xprintf("/api/v1/org/%s/models", eo);
    if (fetch_all(&list, c, path, e) < 0)
        goto out;
    if (c->json)
        print_json(list);
    else
        print_models(list);
    rc = 0;
out:
    json_decref(list);
    free(path);
    free(eo);
    free(org);
    return rc;
}

static int cmd_search(cli *c, const char *query, const opts *o, cli_err *e)
{
    char *org = NULL, *path = NULL, *q = url_escape(query, false);
    char *tags = o->tags ? url_escape(o->tags, false) : NULL;
    char *fw = o->framework ? url_escape(o->framework, false) : NULL;
    json_t *list = NULL;
    int rc = -1;
    char *filters = xprintf("search=%s&sort=relevance%s%s%s%s", q, tags ? "&tags=" : "",
                            tags ? tags : "", fw ? "&framework=" : "", fw ? fw : "");
    if (o->org) {
        org = url_escape(o->org, false);
        path = xprintf("/api/v1/org/%s/models?%s", org, filters);
    } else if (c->token) {
        char *mine = NULL;
        if (default_org(&mine, c, e) < 0)
            goto out;
        org = url_escape(mine, false);
        free(mine);
        path = xprintf("/api/v1/org/%s/models?%s&include_public=true", org, filters);
    } else {
        path = xprintf("/api/v1/catalog/models?%s", filters);
    }
    if (fetch_all(&list, c, path, e) < 0)
        goto out;
    if (c->json)
        print_json(list);
    else
        print_models(list);
    rc = 0;
out:
    json_decref(list);
    free(filters);
    free(path);
    free(org);
    free(fw);
    free(tags);
    free(q);
    return rc;
}

static int cmd_versions(cli *c, const model_ref *m, cli_err *e)
{
    cli_resp r = {0};
    char *eo = url_escape(m->org, false), *en = url_escape(m->name, false);
    char *path = xprintf("/api/v1/org/%s/models/%s/versions", eo, en);
    int rc = api_request(&r, c, "GET", path, NULL, e);
    if (rc == 0 && c->json) {
        print_json(r.json);
    } else if (rc == 0) {
        const char *latest =
            json_string_value(json_object_get(json_object_get(r.json, "latest"), "version"));
        size_t i;
        json_t *v;
        if (json_array_size(json_object_get(r.json, "versions")) == 0)
            printf("no versions\n");
        else
            printf("%-24s %-11s %10s  %-24s\n", "VERSION", "LIFECYCLE", "SIZE", "PUBLISHED");
        json_array_foreach(json_object_get(r.json, "versions"), i, v)
        {
            /* The list names versions (seed 000); the first ones get their details. */
            cli_resp d = {0};
            cli_err de = {0};
            const char *ver = json_is_string(v) ? json_string_value(v) : str(v, "version");
            json_t *info = json_is_object(v) ? v : NULL;
            if (!info && i < 200) {
                char *ev = url_escape(ver, false);
                char *vp = xprintf("%s/%s", path, ev);
                if (api_request(&d, c, "GET", vp, NULL, &de) == 0)
                    info = d.json;
                free(vp);
                free(ev);
            }
            char sz[32] = "-";
            if (info)
                fmt_bytes(sz, sizeof(sz),
                          (double)json_integer_value(json_object_get(info, "size_bytes")));
            printf("%-24s %-11s %10s  %-24s%s\n", ver, str(info, "lifecycle"), sz,
                   str(info, "published_at"), latest && strcmp(latest, ver) == 0 ? "  latest" : "");
            cli_resp_free(&d);
        }
    }
    cli_resp_free(&r);
    free(path);
    free(en);
    free(eo);
    return rc;
}

static int cmd_lifecycle(cli *c, const model_ref *m, const char *action, cli_err *e)
{
    cli_resp r = {0};
    char *eo = url_escape(m->org, false), *en = url_escape(m->name, false),
         *ev = url_escape(m->ref, false);
    char *path = xprintf("/api/v1/org/%s/models/%s/versions/%s/%s", eo, en, ev, action);
    int rc = api_request(&r, c, "POST", path, NULL, e);
    if (rc == 0 && c->json)
        print_json(r.json);
    else if (rc == 0)
        printf("%s/%s@%s is now %s\n", m->org, m->name, m->ref, str(r.json, "lifecycle"));
    cli_resp_free(&r);
    free(path);
    free(ev);
    free(en);
    free(eo);
    return rc;
}

static int cmd_manifest(cli *c, cli_err *e)
{
    cli_resp r = {0};
    int rc = api_request(&r, c, "GET", "/api/v1/manifest", NULL, e);
    if (rc == 0 && c->json) {
        print_json(r.json);
    } else if (rc == 0) {
        const char *k;
        json_t *v;
        printf("manifest generated at %s\n", str(r.json, "generated_at"));
        json_object_foreach(json_object_get(r.json, "models"), k, v)
        {
            printf("%-40s %-14s %-12s %zu version%s\n", k, str(v, "latest"), str(v, "framework"),
                   json_array_size(json_object_get(v, "versions")),
                   json_array_size(json_object_get(v, "versions")) == 1 ? "" : "s");
        }
    }
    cli_resp_free(&r);
    return rc;
}

static int cmd_devices(cli *c, cli_err *e)
{
    cli_resp r = {0};
    int rc = api_request(&r, c, "GET", "/api/v1/device-profiles", NULL, e);
    if (rc == 0 && c->json) {
        print_json(r.json);
    } else if (rc == 0) {
        size_t i;
        json_t *it;
        printf("%-24s %-9s %10s  %s\n", "ID", "CATEGORY", "MEMORY", "RUNTIMES");
        json_array_foreach(json_object_get(r.json, "items"), i, it)
        {
            char mem[32], rts[256] = "";
            size_t k;
            json_t *x;
            json_array_foreach(json_object_get(it, "runtimes"), k, x)
            {
                size_t n = strlen(rts);
                snprintf(rts + n, sizeof(rts) - n, "%s%s", k ? "," : "", json_string_value(x));
            }
            printf("%-24s %-9s %10s  %s\n", str(it, "id"), str(it, "category"),
                   fmt_bytes(mem, sizeof(mem),
                             (double)json_integer_value(json_object_get(it, "memory_bytes"))),
                   rts);
        }
    }
    cli_resp_free(&r);
    return rc;
}

static int cmd_compat(cli *c, const model_ref *m, const char *devices, cli_err *e)
{
    cli_resp r = {0};
    json_t *body = json_object();
    if (m->ref)
        json_object_set_new(body, "version", json_string(m->ref));
    if (devices) {
        json_t *arr = json_array();
        char *copy = xstrdup(devices), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
            json_array_append_new(arr, json_string(t));
        free(copy);
        json_object_set_new(body, "devices", arr);
    }
    char *eo = url_escape(m->org, false), *en = url_escape(m->name, false);
    char *path = xprintf("/api/v1/org/%s/models/%s/compatibility", eo, en);
    free(eo);
    free(en);
    int rc = api_request(&r, c, "POST", path, body, e);
    free(path);
    json_decref(body);
    if (rc == 0 && c->json) {
        print_json(r.json);
    } else if (rc == 0) {
        char sz[32];
        printf("%s@%s: %lld parameters (%s), %s %s, %s\n", str(r.json, "model"),
               str(r.json, "version"),
               (long long)json_integer_value(json_object_get(r.json, "parameter_count")),
               str(r.json, "parameter_source"), str(r.json, "format"),
               str(r.json, "source_precision"),
               fmt_bytes(sz, sizeof(sz),
                         (double)json_integer_value(json_object_get(r.json, "size_bytes"))));
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(r.json, "devices"), i, it)
        {
            bool okd = json_is_true(json_object_get(it, "compatible"));
            char need[32];
            fmt_bytes(need, sizeof(need),
                      (double)json_integer_value(json_object_get(it, "required_memory_bytes")));
            printf("%-24s %-4s needs %-10s", str(it, "device"), okd ? "yes" : "no", need);
            if (okd)
                printf(" %s %s", str(it, "runtime"), str(it, "precision"));
            printf("\n");
            size_t k;
            json_t *why;
            json_array_foreach(json_object_get(it, "reasons"), k, why)
                printf("    %s\n", json_string_value(why));
        }
    }
    cli_resp_free(&r);
    return rc;
}

static void print_job(const json_t *j)
{
    printf("%-36s %-9s %-24s %s -> %s", str(j, "id"), str(j, "status"), str(j, "model"),
           str(j, "source_path"), str(j, "target"));
    if (json_is_string(json_object_get(j, "output_path")))
        printf(" = %s", str(j, "output_path"));
    if (json_is_string(json_object_get(j, "error")))
        printf(": %s", str(j, "error"));
    printf("\n");
}

static int cmd_jobs(cli *c, const char *id, const char *org_arg, cli_err *e)
{
    char *org = NULL, *eo = NULL, *path = NULL, *ei = NULL;
    cli_resp r = {0};
    int rc = -1;
    if (org_arg)
        org = xstrdup(org_arg);
    else if (default_org(&org, c, e) < 0)
        goto out;
    eo = url_escape(org, false);
    if (id) {
        ei = url_escape(id, false);
        path = xprintf("/api/v1/org/%s/jobs/%s", eo, ei);
    } else {
        path = xprintf("/api/v1/org/%s/jobs?limit=100", eo);
    }
    if (api_request(&r, c, "GET", path, NULL, e) < 0)
        goto out;
    if (c->json) {
        print_json(r.json);
    } else if (id) {
        print_job(r.json);
        const char *tail = json_string_value(json_object_get(r.json, "stderr_tail"));
        if (tail && *tail)
            printf("--- converter output (tail) ---\n%s\n", tail);
    } else {
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(r.json, "items"), i, it) print_job(it);
    }
    rc = 0;
out:
    cli_resp_free(&r);
    free(path);
    free(eo);
    free(ei);
    free(org);
    return rc;
}

static int cmd_convert(cli *c, const model_ref *m, const char *src, const opts *o, cli_err *e)
{
    if (!o->targets)
        return cli_err_set(e, EXIT_USAGE, "convert needs --target FORMAT (see cairn --help)");
    json_t *targets = json_array();
    char *copy = xstrdup(o->targets), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
        json_array_append_new(targets, json_string(t));
    free(copy);
    json_t *body = json_pack("{s:s, s:o}", "source_path", src, "targets", targets);
    char *eo = url_escape(m->org, false), *en = url_escape(m->name, false),
         *ev = url_escape(m->ref, false);
    char *path = xprintf("/api/v1/org/%s/models/%s/versions/%s/convert", eo, en, ev);
    char *jpath = xprintf("/api/v1/org/%s/jobs/", eo);
    free(eo);
    free(en);
    free(ev);
    cli_resp r = {0};
    int rc = api_request(&r, c, "POST", path, body, e);
    json_decref(body);
    free(path);
    json_t *jobs = rc == 0 ? json_incref(json_object_get(r.json, "jobs")) : NULL;
    cli_resp_free(&r);
    bool failed = false;
    size_t i;
    json_t *it;
    json_array_foreach(jobs, i, it)
    {
        json_t *cur = json_incref(it);
        while (o->wait && rc == 0) {
            const char *st = json_string_value(json_object_get(cur, "status"));
            if (st && (strcmp(st, "succeeded") == 0 || strcmp(st, "failed") == 0))
                break;
            struct timespec ts = {0, 200000000L};
            nanosleep(&ts, NULL);
            char *ei = url_escape(json_string_value(json_object_get(it, "id")), false);
            char *p = xprintf("%s%s", jpath, ei);
            free(ei);
            cli_resp jr = {0};
            rc = api_request(&jr, c, "GET", p, NULL, e);
            free(p);
            if (rc == 0) {
                json_decref(cur);
                cur = json_incref(jr.json);
            }
            cli_resp_free(&jr);
        }
        if (rc == 0 && c->json)
            print_json(cur);
        else if (rc == 0)
            print_job(cur);
        const char *st = json_string_value(json_object_get(cur, "status"));
        failed = failed || (st && strcmp(st, "failed") == 0);
        json_decref(cur);
    }
    json_decref(jobs);
    free(jpath);
    if (rc == 0 && failed)
        return cli_err_set(e, EXIT_CONFLICT, "a conversion failed (see cairn jobs ID)");
    return rc;
}

/* ---- main ---- */

static int parse_rate(curl_off_t *out, const char *s)
{
    char *end = NULL;
    double v = strtod(s, &end);
    if (!end || end == s || v < 0)
        return -1;
    double mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1024;
    else if (*end == 'm' || *end == 'M')
        mul = 1024 * 1024;
    else if (*end == 'g' || *end == 'G')
        mul = 1024.0 * 1024 * 1024;
    else if (*end)
        return -1;
    if (*end && end[1])
        return -1;
    *out = (curl_off_t)(v * mul);
    return 0;
}

static int usage_error(cli_err *e, const char *msg)
{
    return cli_err_set(e, EXIT_USAGE, "%s (see cairn --help)", msg);
}

static int run(cli *c, opts *o, int argc, char **argv, cli_err *e)
{
    const char *cmd = argv[0];
    int nargs = argc - 1;
    char **args = argv + 1;
    static const struct {
        const char *name;
        unsigned allowed;
        int min, max; /* positional arguments */
    } cmds[] = {
        {"login", 0, 0, 0},
        {"whoami", 0, 0, 0},
        {"push", USED_PUBLISH, 2, 1 << 20},
        {"pull", USED_OUTPUT | USED_DEVICE, 1, 1},
        {"devices", 0, 0, 0},
        {"convert", USED_TARGET | USED_WAIT, 2, 2},
        {"jobs", USED_ORG, 0, 1},
        {"compat", USED_DEVICE, 1, 1},
        {"ls", 0, 0, 1},
        {"search", USED_TAG | USED_FRAMEWORK | USED_ORG, 1, 1},
        {"versions", 0, 1, 1},
        {"publish", 0, 1, 1},
        {"deprecate", 0, 1, 1},
        {"manifest", 0, 0, 0},
    };
    size_t k = 0, n = sizeof(cmds) / sizeof(cmds[0]);
    while (k < n && strcmp(cmds[k].name, cmd) != 0)
        k++;
    if (k == n) {
        char msg[128];
        snprintf(msg, sizeof(msg), "unknown command '%.60s'", cmd);
        return usage_error(e, msg);
    }
    if (o->used & ~cmds[k].allowed) {
        char msg[128];
        snprintf(msg, sizeof(msg), "an option given does not apply to '%s'", cmd);
        return usage_error(e, msg);
    }
    if (nargs < cmds[k].min || nargs > cmds[k].max) {
        char msg[128];
        snprintf(msg, sizeof(msg), "wrong number of arguments for '%s'", cmd);
        return usage_error(e, msg);
    }
    model_ref m = {0};
    int rc = -1;
    if (strcmp(cmd, "login") == 0)
        rc = cmd_login(c, e);
    else if (strcmp(cmd, "whoami") == 0)
        rc = cmd_whoami(c, e);
    else if (strcmp(cmd, "ls") == 0)
        rc = cmd_ls(c, nargs ? args[0] : NULL, e);
    else if (strcmp(cmd, "search") == 0)
        rc = cmd_search(c, args[0], o, e);
    else if (strcmp(cmd, "manifest") == 0)
        rc = cmd_manifest(c, e);
    else if (strcmp(cmd, "devices") == 0)
        rc = cmd_devices(c, e);
    else if (strcmp(cmd, "jobs") == 0)
        rc = cmd_jobs(c, nargs ? args[0] : NULL, o->org, e);
    else if (strcmp(cmd, "convert") == 0) {
        if (model_ref_parse(&m, args[0], true, e) == 0)
            rc = cmd_convert(c, &m, args[1], o, e);
    }
    else if (strcmp(cmd, "compat") == 0) {
        if (model_ref_parse(&m, args[0], false, e) == 0)
            rc = cmd_compat(c, &m, o->devices, e);
    }
    else if (strcmp(cmd, "versions") == 0) {
        if (model_ref_parse(&m, args[0], false, e) == 0 && m.ref)
            cli_err_set(e, EXIT_USAGE, "'%s': give ORG/NAME without a version", args[0]);
        else if (m.org)
            rc = cmd_versions(c, &m, e);
    } else if (model_ref_parse(&m, args[0], strcmp(cmd, "pull") != 0, e) == 0) {
        if (strcmp(cmd, "push") == 0)
            rc = cmd_push(c, &m, args + 1, nargs - 1, o->publish, e);
        else if (strcmp(cmd, "pull") == 0)
            rc = cmd_pull(c, &m, o->output ? o->output : ".", o->devices, e);
        else
            rc = cmd_lifecycle(c, &m, cmd, e);
    }
    model_ref_free(&m);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"server", required_argument, NULL, OPT_SERVER},
        {"token", required_argument, NULL, OPT_TOKEN},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        {"publish", no_argument, NULL, OPT_PUBLISH},
        {"output", required_argument, NULL, 'o'},
        {"tag", required_argument, NULL, OPT_TAG},
        {"framework", required_argument, NULL, OPT_FRAMEWORK},
        {"org", required_argument, NULL, OPT_ORG},
        {"limit-rate", required_argument, NULL, OPT_LIMIT_RATE},
        {"device", required_argument, NULL, OPT_DEVICE},
        {"target", required_argument, NULL, OPT_TARGET},
        {"wait", no_argument, NULL, OPT_WAIT},
        {NULL, 0, NULL, 0},
    };
    opts o = {0};
    cli c = {0};
    cli_err e = {0};
    int ch, code = EXIT_OK;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":ho:", longopts, NULL)) != -1) {
        switch (ch) {
        case OPT_SERVER: o.server = optarg; break;
        case OPT_TOKEN: o.token = optarg; break;
        case OPT_JSON: o.json = true; break;
        case 'h': fputs(usage_text, stdout); return EXIT_OK;
        case OPT_VERSION: printf("cairn %s (%s)\n", CLI_VERSION, curl_version()); return EXIT_OK;
        case OPT_PUBLISH:
            o.publish = true;
            o.used |= USED_PUBLISH;
            break;
        case 'o':
            o.output = optarg;
            o.used |= USED_OUTPUT;
            break;
        case OPT_TAG: {
            char *t = o.tags ? xprintf("%s,%s", o.tags, optarg) : xstrdup(optarg);
            free(o.tags);
            o.tags = t;
            o.used |= USED_TAG;
            break;
        }
        case OPT_DEVICE: {
            char *t = o.devices ? xprintf("%s,%s", o.devices, optarg) : xstrdup(optarg);
            free(o.devices);
            o.devices = t;
            o.used |= USED_DEVICE;
            break;
        }
        case OPT_TARGET: {
            char *t = o.targets ? xprintf("%s,%s", o.targets, optarg) : xstrdup(optarg);
            free(o.targets);
            o.targets = t;
            o.used |= USED_TARGET;
            break;
        }
        case OPT_WAIT:
            o.wait = true;
            o.used |= USED_WAIT;
            break;
        case OPT_FRAMEWORK:
            o.framework = optarg;
            o.used |= USED_FRAMEWORK;
            break;
        case OPT_ORG:
            o.org = optarg;
            o.used |= USED_ORG;
            break;
        case OPT_LIMIT_RATE:
            if (parse_rate(&o.limit_rate, optarg) < 0) {
                fprintf(stderr, "cairn: error: --limit-rate: '%s' is not a rate\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case ':':
            fprintf(stderr, "cairn: error: %s needs a value (see cairn --help)\n",
                    argv[optind - 1]);
            return EXIT_USAGE;
        default:
            fprintf(stderr, "cairn: error: unknown option '%s' (see cairn --help)\n",
                    argv[optind - 1]);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fputs(usage_text, stderr);
        free(o.tags);
        return EXIT_USAGE;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fputs("cairn: error: cannot initialise libcurl\n", stderr);
        free(o.tags);
        return EXIT_NETWORK;
    }
    char *server = NULL, *token = NULL;
    config_read(&server, &token);
    const char *env_server = getenv("CAIRN_SERVER"), *env_token = getenv("CAIRN_TOKEN");
    const char *use_server = o.server                    ? o.server
                             : env_server && *env_server ? env_server
                             : server                    ? server
                                                         : CLI_DEFAULT_SERVER;
    const char *use_token = o.token ? o.token : env_token && *env_token ? env_token : token;
    bool login = strcmp(argv[optind], "login") == 0;
    if (login && !o.token && !(env_token && *env_token))
        use_token = NULL; /* login asks for a new one */
    c.server = normalize_server(use_server);
    c.token = use_token && *use_token ? xstrdup(use_token) : NULL;
    c.json = o.json;
    c.progress = isatty(STDERR_FILENO);
    c.limit_rate = o.limit_rate;
    if (run(&c, &o, argc - optind, argv + optind, &e) < 0) {
        fprintf(stderr, "cairn: error: %s\n", e.msg);
        code = e.code ? e.code : EXIT_USAGE;
    }
    if (c.h)
        curl_easy_cleanup(c.h);
    curl_global_cleanup();
    free(c.server);
    free(c.token);
    free(server);
    free(token);
    free(o.tags);
    free(o.devices);
    free(o.targets);
    return code;
}
