/*
 * export.c: GET .../{kind}/export.csv, streamed page by page in constant memory
 * (RFC 4180: CRLF rows, fields with , " CR LF quoted, quotes doubled).
 */
#include "api/handlers.h"

#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "core/name.h"
#include "util/timeutil.h"

#define PAGE 200

struct export_ctx {
    const app *app;
    char org_id[37], org_slug[64], kind[16];
    char *only;      /* ?name= */
    char *after;     /* last artifact name emitted */
    char *after_id;
    char *buf;       /* pending CSV text */
    size_t len, off, cap;
    bool header_done, finished;
    int64_t rows; /* data rows produced so far */
};

static void put(export_ctx *x, const char *s, size_t n)
{
    if (x->len + n > x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 65536;
        while (cap < x->len + n)
            cap *= 2;
        char *nb = realloc(x->buf, cap);
        if (!nb)
            abort();
        x->buf = nb;
        x->cap = cap;
    }
    memcpy(x->buf + x->len, s, n);
    x->len += n;
}

static void field(export_ctx *x, const char *v, bool last)
{
    v = v ? v : "";
    if (strpbrk(v, ",\"\r\n")) {
        put(x, "\"", 1);
        for (const char *p = v; *p; p++) {
            if (*p == '"')
                put(x, "\"", 1);
            put(x, p, 1);
        }
        put(x, "\"", 1);
    } else {
        put(x, v, strlen(v));
    }
    put(x, last ? "\r\n" : ",", last ? 2 : 1);
}

static const char *const columns[] = {
    "org", "name", "canonical_name", "kind", "pretty_name", "summary", "license", "framework",
    "task", "tags", "size_category", "is_public", "artifact_downloads", "version", "lifecycle",
    "version_size_bytes", "version_downloads", "published_at", "created_at", "updated_at"};
#define NCOLS (sizeof(columns) / sizeof(columns[0]))

static void row(export_ctx *x, const store_artifact *m, const store_version *v, arena *a)
{
    char t1[32] = "", t2[32] = "", t3[32] = "";
    json_t *tags = api_json_text(m->tags, "[]");
    size_t i;
    json_t *tg;
    char *tagtxt = arena_strdup(a, "");
    json_array_foreach(tags, i, tg) tagtxt =
        arena_printf(a, "%s%s%s", tagtxt, i ? ";" : "", json_string_value(tg));
    json_decref(tags);
    if (v && v->published_at)
        time_format_iso(t1, sizeof(t1), v->published_at);
    time_format_iso(t2, sizeof(t2), m->created_at);
    time_format_iso(t3, sizeof(t3), m->updated_at);
    const char *vals[NCOLS] = {
        m->org_slug, m->name, arena_printf(a, "%s/%s", m->org_slug, m->name), m->kind,
        m->pretty_name, m->summary, m->license, m->framework, m->task, tagtxt, m->size_category,
        m->is_public ? "true" : "false", arena_printf(a, "%lld", (long long)m->download_count),
        v ? v->version : "", v ? v->lifecycle : "",
        v ? arena_printf(a, "%lld", (long long)v->size_bytes) : "",
        v ? arena_printf(a, "%lld", (long long)v->download_count) : "", t1, t2, t3};
    for (size_t k = 0; k < NCOLS; k++)
        field(x, vals[k], k == NCOLS - 1);
    x->rows++;
}

/* Appends the CSV of the next page of artifacts; sets finished at the end. */
static int next_page(export_ctx *x)
{
    err e = {0};
    arena *a = arena_create();
    store_tx *tx = NULL;
    int rc = -1;
    store_artifact *items;
    size_t n = 0;
    int64_t total;
    if (store_tx_begin(&tx, x->app->store, false, &e) < 0)
        goto out;
    if (x->only) {
        store_artifact one;
        if (store_artifact_get(&one, tx, x->org_id, x->kind, x->only,
                               uuid_is_valid(x->only, strlen(x->only)), a, &e) == 0) {
            items = arena_new(a, store_artifact);
            items[0] = one;
            n = 1;
        }
        x->finished = true;
    } else {
        store_filter f = {.org_id = x->org_id, .kind = x->kind};
        if (store_artifact_search(&items, &n, &total, tx, &f, STORE_SORT_NAME, x->after,
                                  x->after_id, PAGE, a, &e) < 0)
            goto out;
        if (n < PAGE)
            x->finished = true;
    }
    for (size_t i = 0; i < n; i++) {
        store_version *vs;
        size_t nv;
        if (store_version_list(&vs, &nv, tx, items[i].id, NULL, a, &e) < 0)
            goto out;
        if (nv == 0)
            row(x, &items[i], NULL, a);
        for (size_t k = 0; k < nv; k++)
            row(x, &items[i], &vs[k], a);
    }
    if (n > 0 && !x->only) {
        free(x->after);
        free(x->after_id);
        x->after = strdup(items[n - 1].name);
        x->after_id = strdup(items[n - 1].id);
    }
    rc = 0;
out:
    store_tx_end(tx, false, &e);
    arena_free(a);
    return rc;
}

long api_export_read(void *ctx, char *out, size_t max)
{
    export_ctx *x = ctx;
    if (!x->header_done) {
        for (size_t k = 0; k < NCOLS; k++)
            field(x, columns[k], k == NCOLS - 1);
        x->header_done = true;
    }
    while (x->off == x->len && !x->finished) {
        x->off = x->len = 0;
        if (next_page(x) < 0)
            return -1;
    }
    size_t n = x->len - x->off;
    if (n > max)
        n = max;
    memcpy(out, x->buf + x->off, n);
    x->off += n;
    return (long)n;
}

int64_t api_export_rows(const export_ctx *x)
{
    return x->rows;
}

void api_export_close(void *ctx)
{
    export_ctx *x = ctx;
    free(x->buf);
    free(x->only);
    free(x->after);
    free(x->after_id);
    free(x);
}

export_ctx *api_export_open(const app *ap, const store_org *o, const char *kind,
                            const char *only)
{
    export_ctx *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->app = ap;
    snprintf(x->org_id, sizeof(x->org_id), "%s", o->id);
    snprintf(x->org_slug, sizeof(x->org_slug), "%s", o->slug);
    snprintf(x->kind, sizeof(x->kind), "%s", kind);
    x->only = only ? strdup(only) : NULL;
    return x;
}

static int do_export(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    if (api_org_access(&o, c, tx, ROLE_READER, &r->e) < 0)
        return -1;
    export_ctx *x = api_export_open(c->app, &o, api_param(c, "kind"), api_query(c, "name"));
    if (!x)
        return err_set(&r->e, ERR_SERVER, "out of memory");
    r->status = 200;
    r->content_type = "text/csv; charset=utf-8";
    api_header(r, "Content-Disposition",
               arena_printf(c->a, "attachment; filename=\"%s-%s.csv\"", o.slug, x->kind));
    r->stream = (api_stream){api_export_read, api_export_close, x};
    return 0;
}

int api_artifact_export(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, false, do_export);
}
