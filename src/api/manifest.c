/*
 * manifest.c: GET /api/v1/manifest, the public document devices poll (seed 004), and
 * GET /api/v1/resolve/{org}/{name}. The manifest is kept serialised (plain and gzip) and
 * brought up to each catalog revision incrementally, so a GET is a revision check and a
 * shared buffer, and the first GET after a change re-serialises only what changed.
 */
#include "api/manifest.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "api/common.h"
#include "api/handlers.h"
#include "util/crypto.h"
#include "util/log.h"
#include "util/timeutil.h"

/* A serialised manifest shared by the cache and the responses still sending it. */
typedef struct shared {
    _Atomic long refs;
    size_t len;
    char data[];
} shared;

static void shared_unref(shared *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1)
        free(s);
}

/* MHD's free callback gets the data pointer: step back to its header. */
static void shared_release_data(void *data)
{
    shared_unref((shared *)((char *)data - offsetof(shared, data)));
}

/*
 * The cache is kept incrementally. Each public model is an entry holding its serialised
 * member `"org/name":{...}`; entries are kept sorted by canonical name in chunks of up to
 * 2 * CHUNK entries. Each chunk keeps its text compressed on its own as raw deflate ending in
 * a sync flush (byte-aligned, no history shared with its neighbours), so the gzip body is a
 * gzip header, the compressed document head, the chunks' deflate bytes, the compressed tail,
 * an empty final block and a trailer whose CRC-32 is combined from the pieces' CRCs: one
 * ordinary gzip member, whatever the reader. A change re-reads only the models whose rows
 * moved past the cache's revision (store_manifest_walk's since), re-serialises them and
 * recompresses only their chunks.
 */
#define CHUNK 64

typedef struct mentry {
    char *canon; /* "org/name" */
    char *id;    /* artifact id */
    char *text;  /* "\"org/name\":{...}" */
    size_t len;
    uint8_t hash[32]; /* SHA-256 of text: the ETag is the XOR of all of them */
} mentry;

typedef struct mchunk {
    mentry **e;
    size_t n, cap;
    bool dirty;      /* entries changed since z was made */
    bool lead_comma; /* z starts with the ',' that separates it from the chunk before */
    unsigned char *z; /* raw deflate of the chunk's text, sync-flushed */
    size_t zlen;
    uint32_t crc; /* CRC-32 of the text */
    size_t plen;  /* its length */
} mchunk;

struct manifest_cache {
    pthread_mutex_t mu;
    int64_t rev; /* the catalog revision the content reflects; 0: nothing built */
    bool built;
    mchunk **chunks;
    size_t nchunks;
    json_t *canon_by_id; /* artifact id -> canonical name of its entry */
    size_t nentries, plain_len; /* entries and the sum of their text lengths */
    uint8_t xor[32];
    shared *plain, *gz;
    char etag[72], etag_gz[76];
};

static void entry_free(mentry *m)
{
    if (!m)
        return;
    free(m->canon);
    free(m->id);
    free(m->text);
    free(m);
}

static void chunk_free(mchunk *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        entry_free(c->e[i]);
    free(c->e);
    free(c->z);
    free(c);
}

manifest_cache *manifest_cache_new(void)
{
    manifest_cache *mc = calloc(1, sizeof(*mc));
    if (!mc)
        return NULL;
    pthread_mutex_init(&mc->mu, NULL);
    mc->canon_by_id = json_object();
    return mc;
}

void manifest_cache_free(manifest_cache *mc)
{
    if (!mc)
        return;
    pthread_mutex_destroy(&mc->mu);
    for (size_t i = 0; i < mc->nchunks; i++)
        chunk_free(mc->chunks[i]);
    free(mc->chunks);
    json_decref(mc->canon_by_id);
    shared_unref(mc->plain);
    shared_unref(mc->gz);
    free(mc);
}

bool manifest_cache_invalidate(manifest_cache *mc)
{
    if (!mc)
        return false;
    pthread_mutex_lock(&mc->mu);
    bool had = mc->built;
    mc->built = false; /* the next request rebuilds every entry from the store */
    pthread_mutex_unlock(&mc->mu);
    return had;
}

/* ---- the sorted entries ---- */

/* The chunk that holds or would hold canon: the first whose last entry is >= canon, else the
 * last one. */
static size_t chunk_for(const manifest_cache *mc, const char *canon)
{
    size_t lo = 0, hi = mc->nchunks;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const mchunk *c = mc->chunks[mid];
        if (c->n && strcmp(c->e[c->n - 1]->canon, canon) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < mc->nchunks ? lo : mc->nchunks - 1;
}

/* Position of canon in c (found or where it would go). */
static size_t pos_in(const mchunk *c, const char *canon, bool *found)
{
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int d = strcmp(c->e[mid]->canon, canon);
        if (d == 0) {
            *found = true;
            return mid;
        }
        if (d < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static void account(manifest_cache *mc, const mentry *m, bool add)
{
    for (int i = 0; i < 32; i++)
        mc->xor[i] ^= m->hash[i];
    if (add) {
        mc->nentries++;
        mc->plain_len += m->len;
    } else {
        mc->nentries--;
        mc->plain_len -= m->len;
    }
}

static void remove_canon(manifest_cache *mc, const char *canon)
{
    if (!mc->nchunks)
        return;
    size_t ci = chunk_for(mc, canon);
    mchunk *c = mc->chunks[ci];
    bool found;
    size_t p = pos_in(c, canon, &found);
    if (!found)
        return;
    mentry *m = c->e[p];
    account(mc, m, false);
    json_object_del(mc->canon_by_id, m->id);
    entry_free(m);
    memmove(c->e + p, c->e + p + 1, (c->n - p - 1) * sizeof(*c->e));
    c->n--;
    c->dirty = true;
    if (c->n == 0 && mc->nchunks > 1) {
        chunk_free(c);
        memmove(mc->chunks + ci, mc->chunks + ci + 1, (mc->nchunks - ci - 1) * sizeof(*mc->chunks));
        mc->nchunks--;
    }
}

static mchunk *chunk_new(void)
{
    mchunk *c = calloc(1, sizeof(*c));
    if (c)
        c->dirty = true;
    return c;
}

static int push_chunk(manifest_cache *mc, size_t at, mchunk *c)
{
    mchunk **bigger = realloc(mc->chunks, (mc->nchunks + 1) * sizeof(*bigger));
    if (!bigger)
        return -1;
    mc->chunks = bigger;
    memmove(mc->chunks + at + 1, mc->chunks + at, (mc->nchunks - at) * sizeof(*mc->chunks));
    mc->chunks[at] = c;
    mc->nchunks++;
    return 0;
}

/* Files m (replacing an entry of the same name). Takes m. */
static int insert_entry(manifest_cache *mc, mentry *m)
{
    if (!mc->nchunks) {
        mchunk *c = chunk_new();
        if (!c || push_chunk(mc, 0, c) < 0) {
            free(c);
            entry_free(m);
            return -1;
        }
    }
    remove_canon(mc, m->canon);
    size_t ci = chunk_for(mc, m->canon);
    mchunk *c = mc->chunks[ci];
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : CHUNK;
        mentry **e = realloc(c->e, cap * sizeof(*e));
        if (!e) {
            entry_free(m);
            return -1;
        }
        c->e = e;
        c->cap = cap;
    }
    bool found;
    size_t p = pos_in(c, m->canon, &found);
    memmove(c->e + p + 1, c->e + p, (c->n - p) * sizeof(*c->e));
    c->e[p] = m;
    c->n++;
    c->dirty = true;
    account(mc, m, true);
    json_object_set_new(mc->canon_by_id, m->id, json_string(m->canon));
    if (c->n >= 2 * CHUNK) { /* split in two */
        mchunk *d = chunk_new();
        if (!d)
            return -1;
        d->cap = c->cap;
        if (!(d->e = malloc(d->cap * sizeof(*d->e)))) {
            free(d);
            return -1;
        }
        d->n = c->n - CHUNK;
        memcpy(d->e, c->e + CHUNK, d->n * sizeof(*d->e));
        c->n = CHUNK;
        if (push_chunk(mc, ci + 1, d) < 0) {
            memcpy(c->e + CHUNK, d->e, d->n * sizeof(*d->e)); /* undo */
            c->n += d->n;
            free(d->e);
            free(d);
            return -1;
        }
    }
    return 0;
}

/* Drops every entry (before a whole rebuild). */
static void clear_all(manifest_cache *mc)
{
    for (size_t i = 0; i < mc->nchunks; i++)
        chunk_free(mc->chunks[i]);
    free(mc->chunks);
    mc->chunks = NULL;
    mc->nchunks = 0;
    json_object_clear(mc->canon_by_id);
    mc->nentries = mc->plain_len = 0;
    memset(mc->xor, 0, sizeof(mc->xor));
}

/* ---- building entries from the store ---- */

typedef struct build_ctx {
    manifest_cache *mc;
    json_t *models; /* canonical name -> entry */
    json_t *by_id;  /* artifact id -> entry (borrowed) */
    json_t *pkg_by_id;
    json_t *ids; /* canonical name -> artifact id */
    size_t changed; /* artifacts removed or re-read */
} build_ctx;

static int on_changed(void *ctx, const char *artifact_id)
{
    build_ctx *b = ctx;
    json_t *canon = json_object_get(b->mc->canon_by_id, artifact_id);
    if (canon) {
        char name[256];
        snprintf(name, sizeof(name), "%s", json_string_value(canon)); /* freed on removal */
        remove_canon(b->mc, name);
        b->changed++;
    }
    return 0;
}

static int on_model(void *ctx, const store_artifact *m)
{
    build_ctx *b = ctx;
    char canon[256];
    snprintf(canon, sizeof(canon), "%s/%s", m->org_slug, m->name);
    json_t *entry = json_pack("{s:o, s:[], s:o, s:o, s:o, s:[]}", "latest",
                              api_str(m->latest_version), "versions", "framework",
                              api_str(m->framework), "task", api_str(m->task), "size_category",
                              api_str(m->size_category), "packages");
    json_object_set_new(b->models, canon, entry);
    json_object_set_new(b->ids, canon, json_string(m->id));
    json_object_set(b->by_id, m->id, entry);
    b->changed++;
    return 0;
}

static int on_version(void *ctx, const char *artifact_id, const char *version,
                      const char *lifecycle)
{
    build_ctx *b = ctx;
    json_t *entry = json_object_get(b->by_id, artifact_id);
    if (entry)
        json_array_append_new(json_object_get(entry, "versions"),
                              json_pack("{s:s, s:s, s:b}", "version", version, "lifecycle",
                                        lifecycle, "deprecated",
                                        strcmp(lifecycle, "deprecated") == 0));
    return 0;
}

static int on_resource(void *ctx, const char *artifact_id, const char *package_id,
                       const char *format, const char *path, const char *sha256, int64_t size)
{
    build_ctx *b = ctx;
    json_t *entry = json_object_get(b->by_id, artifact_id);
    if (!entry)
        return 0;
    json_t *pkg = json_object_get(b->pkg_by_id, package_id);
    if (!pkg) {
        pkg = json_pack("{s:s, s:[]}", "format", format, "resources");
        json_array_append_new(json_object_get(entry, "packages"), pkg);
        json_object_set(b->pkg_by_id, package_id, pkg);
    }
    json_array_append_new(json_object_get(pkg, "resources"),
                          json_pack("{s:s, s:s, s:I}", "path", path, "sha256", sha256,
                                    "size_bytes", (json_int_t)size));
    return 0;
}

/* The serialised member `"canon":{...}` of one model. */
static mentry *entry_new(const char *canon, const char *id, json_t *entry)
{
    mentry *m = calloc(1, sizeof(*m));
    json_t *key = json_string(canon);
    char *k = key ? json_dumps(key, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    char *v = json_dumps(entry, JSON_COMPACT);
    json_decref(key);
    if (!m || !k || !v || !(m->canon = strdup(canon)) || !(m->id = strdup(id)))
        goto fail;
    size_t kl = strlen(k), vl = strlen(v);
    if (!(m->text = malloc(kl + 1 + vl + 1)))
        goto fail;
    memcpy(m->text, k, kl);
    m->text[kl] = ':';
    memcpy(m->text + kl + 1, v, vl + 1);
    m->len = kl + 1 + vl;
    crypto_sha256(m->hash, m->text, m->len);
    free(k);
    free(v);
    return m;
fail:
    free(k);
    free(v);
    entry_free(m);
    return NULL;
}

/* ---- compression ---- */

/* Appends the raw deflate of p[0..n), sync-flushed, to the zlib stream's output buffer. */
static int deflate_piece(unsigned char **out, size_t *out_len, const void *p, size_t n,
                         bool comma)
{
    z_stream zs = {0};
    if (deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    size_t cap = deflateBound(&zs, (uLong)(n + 1)) + 64;
    unsigned char *buf = malloc(cap);
    int rc = -1;
    if (!buf)
        goto out;
    zs.next_out = buf;
    zs.avail_out = (uInt)cap;
    if (comma) {
        zs.next_in = (Bytef *)",";
        zs.avail_in = 1;
        if (deflate(&zs, Z_NO_FLUSH) != Z_OK)
            goto out;
    }
    zs.next_in = (Bytef *)p;
    zs.avail_in = (uInt)n;
    if (deflate(&zs, Z_SYNC_FLUSH) != Z_OK || zs.avail_in != 0)
        goto out;
    *out = buf;
    *out_len = cap - zs.avail_out;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    deflateEnd(&zs);
    return rc;
}

/* Brings chunk c's compressed text up to date; lead says whether it starts with ','. */
static int chunk_pack(mchunk *c, bool lead)
{
    if (!c->dirty && c->lead_comma == lead && c->z)
        return 0;
    size_t len = lead ? 1 : 0;
    for (size_t i = 0; i < c->n; i++)
        len += c->e[i]->len + (i ? 1 : 0);
    char *text = malloc(len + 1);
    if (!text)
        return -1;
    size_t o = 0;
    if (lead)
        text[o++] = ',';
    for (size_t i = 0; i < c->n; i++) {
        if (i)
            text[o++] = ',';
        memcpy(text + o, c->e[i]->text, c->e[i]->len);
        o += c->e[i]->len;
    }
    unsigned char *z = NULL;
    size_t zlen = 0;
    int rc = deflate_piece(&z, &zlen, text, len, false);
    if (rc == 0) {
        free(c->z);
        c->z = z;
        c->zlen = zlen;
        c->crc = (uint32_t)crc32(0L, (const Bytef *)text, (uInt)len);
        c->plen = len;
        c->dirty = false;
        c->lead_comma = lead;
    }
    free(text);
    return rc;
}

static void put_le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Makes mc->plain, mc->gz and the ETags from the entries, for revision rev. */
static int assemble(manifest_cache *mc, int64_t rev, err *e)
{
    char ts[32], head[160];
    time_now_iso(ts, sizeof(ts));
    int hl = snprintf(head, sizeof(head), "{\"generated_at\":\"%s\",\"revision\":%lld,"
                      "\"models\":{", ts, (long long)rev);
    static const char tail[] = "}}";
    size_t tl = sizeof(tail) - 1;
    unsigned char *hz = NULL, *tz = NULL;
    size_t hzl = 0, tzl = 0, zsum = 0;
    shared *sp = NULL, *sg = NULL;
    int rc = -1;
    bool first = true;
    for (size_t i = 0; i < mc->nchunks; i++) {
        mchunk *c = mc->chunks[i];
        if (!c->n)
            continue;
        if (chunk_pack(c, !first) < 0)
            goto out;
        first = false;
        zsum += c->zlen;
    }
    if (deflate_piece(&hz, &hzl, head, (size_t)hl, false) < 0 ||
        deflate_piece(&tz, &tzl, tail, tl, false) < 0)
        goto out;
    /* plain: head, entries joined by ',', tail */
    size_t plen = (size_t)hl + mc->plain_len + (mc->nentries ? mc->nentries - 1 : 0) + tl;
    if (!(sp = malloc(sizeof(*sp) + plen + 1)))
        goto out;
    atomic_init(&sp->refs, 1);
    sp->len = plen;
    char *o = sp->data;
    memcpy(o, head, (size_t)hl);
    o += hl;
    size_t k = 0;
    for (size_t i = 0; i < mc->nchunks; i++)
        for (size_t j = 0; j < mc->chunks[i]->n; j++) {
            const mentry *m = mc->chunks[i]->e[j];
            if (k++)
                *o++ = ',';
            memcpy(o, m->text, m->len);
            o += m->len;
        }
    memcpy(o, tail, tl);
    o += tl;
    *o = '\0';
    /* gzip: header, pieces, empty final block, CRC-32 and length of the plain text */
    size_t glen = 10 + hzl + zsum + tzl + 2 + 8;
    if (!(sg = malloc(sizeof(*sg) + glen + 1)))
        goto out;
    atomic_init(&sg->refs, 1);
    sg->len = glen;
    unsigned char *g = (unsigned char *)sg->data;
    static const unsigned char gz_head[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};
    memcpy(g, gz_head, 10);
    g += 10;
    memcpy(g, hz, hzl);
    g += hzl;
    uLong crc = crc32(0L, (const Bytef *)head, (uInt)hl);
    for (size_t i = 0; i < mc->nchunks; i++) {
        const mchunk *c = mc->chunks[i];
        if (!c->n)
            continue;
        memcpy(g, c->z, c->zlen);
        g += c->zlen;
        crc = crc32_combine(crc, c->crc, (z_off_t)c->plen);
    }
    memcpy(g, tz, tzl);
    g += tzl;
    crc = crc32_combine(crc, crc32(0L, (const Bytef *)tail, (uInt)tl), (z_off_t)tl);
    *g++ = 0x03; /* BFINAL, fixed Huffman, end of block */
    *g++ = 0x00;
    put_le32(g, (uint32_t)crc);
    put_le32(g + 4, (uint32_t)plen);
    shared_unref(mc->plain);
    shared_unref(mc->gz);
    mc->plain = sp;
    mc->gz = sg;
    sp = sg = NULL;
    /* Strong ETag of the content (the set of entries, not generated_at), one per encoding. */
    char hex[65];
    crypto_hex(hex, mc->xor, 32);
    snprintf(mc->etag, sizeof(mc->etag), "\"%.32s%08zx\"", hex, mc->nentries);
    snprintf(mc->etag_gz, sizeof(mc->etag_gz), "\"%.32s%08zx-gz\"", hex, mc->nentries);
    rc = 0;
out:
    if (rc < 0)
        err_set(e, ERR_SERVER, "cannot build the manifest");
    free(sp);
    free(sg);
    free(hz);
    free(tz);
    return rc;
}

/* Brings the cache to revision rev: the whole catalog the first time, then only the models
 * whose rows changed since the cache's revision. Caller holds mc->mu. */
static int rebuild(manifest_cache *mc, const app *ap, int64_t rev, err *e)
{
    build_ctx b = {mc, json_object(), json_object(), json_object(), json_object(), 0};
    store_tx *tx = NULL;
    arena *a = arena_create();
    int rc = -1;
    int64_t t0 = time_mono_us();
    bool full = !mc->built;
    store_manifest_cb cb = {on_changed, on_model, on_version, on_resource};
    if (full)
        clear_all(mc);
    if (store_tx_begin(&tx, ap->store, false, e) < 0)
        goto out;
    rc = store_manifest_walk(tx, full ? -1 : mc->rev, &cb, &b, a, e);
    store_tx_end(tx, false, e);
    if (rc < 0) {
        /* Entries removed by on_changed are read again next time: the revision stays. */
        if (!full)
            mc->built = false;
        goto out;
    }
    rc = -1;
    const char *canon;
    json_t *entry;
    json_object_foreach(b.models, canon, entry) {
        mentry *m = entry_new(canon, json_string_value(json_object_get(b.ids, canon)), entry);
        if (!m || insert_entry(mc, m) < 0) {
            mc->built = false; /* rebuilt whole on the next request */
            err_set(e, ERR_SERVER, "out of memory");
            goto out;
        }
    }
    if (full || b.changed || !mc->plain) {
        if (assemble(mc, rev, e) < 0) {
            mc->built = false;
            goto out;
        }
        log_info(NULL, "manifest.rebuilt", "s:I, s:b, s:I, s:I, s:I, s:f", "revision",
                 (json_int_t)rev, "full", full, "changed", (json_int_t)b.changed, "models",
                 (json_int_t)mc->nentries, "bytes", (json_int_t)mc->plain->len, "ms",
                 (double)(time_mono_us() - t0) / 1000.0);
    }
    mc->rev = rev;
    mc->built = true;
    rc = 0;
out:
    json_decref(b.models);
    json_decref(b.by_id);
    json_decref(b.pkg_by_id);
    json_decref(b.ids);
    arena_free(a);
    return rc;
}

int api_manifest(api_reply *r, api_call *c)
{
    manifest_cache *mc = c->app->manifest;
    int64_t rev = 0;
    if (store_catalog_revision_min(&rev, c->app->store, c->min_rev, &r->e) < 0)
        return -1;
    const char *ae = c->header(c, "Accept-Encoding");
    bool gz = ae && strstr(ae, "gzip");
    pthread_mutex_lock(&mc->mu);
    if ((!mc->built || mc->rev != rev) && rebuild(mc, c->app, rev, &r->e) < 0) {
        pthread_mutex_unlock(&mc->mu);
        return -1;
    }
    const char *etag = arena_strdup(c->a, gz ? mc->etag_gz : mc->etag);
    const char *inm = c->header(c, "If-None-Match");
    if (inm && api_etag_matches(inm, etag)) {
        pthread_mutex_unlock(&mc->mu);
        r->etag = etag;
        r->status = 304;
        r->raw = "";
        r->raw_len = 0;
        return 0;
    }
    shared *body = gz ? mc->gz : mc->plain;
    atomic_fetch_add(&body->refs, 1); /* the response's reference: no copy per GET */
    pthread_mutex_unlock(&mc->mu);
    r->status = 200;
    r->raw = body->data;
    r->raw_len = body->len;
    r->raw_release = shared_release_data;
    r->etag = etag;
    r->content_type = "application/json; charset=utf-8";
    api_header(r, "Vary", "Accept-Encoding");
    api_header(r, "Cache-Control", "no-cache");
    if (gz)
        api_header(r, "Content-Encoding", "gzip");
    return 0;
}

static int do_resolve(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_artifact m;
    store_version v;
    const char *ref = api_query(c, "version");
    if (api_artifact_access(&o, &m, c, tx, ROLE_READER, &r->e) < 0)
        return -1;
    /* Outside its org a disabled model resolves to nothing (no new deployments), and drafts
     * are not there (api_version_visible). */
    if (!api_version_visible(c, &m, "published"))
        return err_set(&r->e, ERR_NOT_FOUND, "model '%s/%s' not found", o.slug, m.name);
    if (api_resolve_version(&v, c, tx, &m, ref && *ref ? ref : "latest", &r->e) < 0)
        return -1;
    store_version *vs;
    size_t nv;
    store_package *ps;
    size_t np;
    store_resource *rs;
    size_t nr;
    if (store_version_list(&vs, &nv, tx, m.id, NULL, c->a, &r->e) < 0 ||
        store_package_list(&ps, &np, tx, v.id, c->a, &r->e) < 0 ||
        store_resource_list(&rs, &nr, tx, v.id, NULL, c->a, &r->e) < 0)
        return -1;
    json_t *versions = json_array();
    for (size_t i = 0; i < nv; i++)
        if (strcmp(vs[i].lifecycle, "draft") != 0)
            json_array_append_new(versions,
                                  json_pack("{s:s, s:s, s:b}", "version", vs[i].version,
                                            "lifecycle", vs[i].lifecycle, "deprecated",
                                            strcmp(vs[i].lifecycle, "deprecated") == 0));
    /* ?device=ID narrows the packages to the best one for that device (core/devices.c). */
    const char *dev_id = api_query(c, "device");
    const device_profile *dev = NULL;
    int pick = -1;
    json_t *reasons = NULL;
    if (dev_id) {
        dev = devices_find(c->app->devices, dev_id);
        if (!dev) {
            json_decref(versions);
            return err_field_add(&r->e, "query", "device", "value_error",
                                 "unknown device '%.64s' (see GET /api/v1/device-profiles)",
                                 dev_id);
        }
        device_pkg *dp = arena_array(c->a, device_pkg, np ? np : 1);
        api_device_pkgs(dp, &v, ps, np, rs, nr);
        reasons = json_array();
        pick = devices_pick(dev, dp, np, reasons);
        if (np == 0)
            json_array_append_new(reasons, json_string("the version has no files"));
        if (pick >= 0)
            json_array_clear(reasons);
        else
            json_array_append_new(reasons, json_sprintf("no package of %s fits %s", v.version,
                                                        dev->id));
    }
    json_t *packages = json_array();
    for (size_t i = 0; i < np; i++) {
        if (dev && (int)i != pick)
            continue;
        json_t *res = json_array();
        for (size_t k = 0; k < nr; k++)
            if (strcmp(rs[k].package_id, ps[i].id) == 0)
                json_array_append_new(res, json_pack("{s:s, s:s, s:I}", "path", rs[k].path,
                                                     "sha256", rs[k].sha256, "size_bytes",
                                                     (json_int_t)rs[k].size_bytes));
        json_t *pkg = json_pack("{s:s, s:o}", "format", ps[i].format, "resources", res);
        if (dev) {
            device_pkg one;
            api_device_pkgs(&one, &v, &ps[i], 1, rs, nr);
            json_object_set_new(pkg, "precision",
                                json_string(precision_name(one.prec == PREC_UNKNOWN ? PREC_FP32
                                                                                    : one.prec)));
            json_object_set_new(pkg, "required_memory_bytes",
                                json_integer(devices_required_memory(ps[i].size_bytes)));
        }
        json_array_append_new(packages, pkg);
    }
    json_t *body = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "name",
                             arena_printf(c->a, "%s/%s", o.slug, m.name), "version", v.version,
                             "lifecycle", v.lifecycle, "latest", api_str(m.latest_version),
                             "versions", versions, "framework", api_str(m.framework), "task",
                             api_str(m.task), "size_category", api_str(m.size_category),
                             "packages", packages);
    if (dev) {
        json_object_set_new(body, "device", json_string(dev->id));
        json_object_set_new(body, "reasons", reasons);
    }
    return api_json_etag(r, c, 200, body);
}

int api_resolve(api_reply *r, api_call *c)
{
    /* The route has no {kind}: resolve names models (seed 004). */
    if (c->nparams < API_MAX_PARAMS) {
        c->params[c->nparams].key = "kind";
        c->params[c->nparams].value = "models";
        c->nparams++;
    }
    return api_in_tx(r, c, false, do_resolve);
}

int api_resolve_scoped(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, false, do_resolve);
}
