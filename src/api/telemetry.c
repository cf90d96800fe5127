/*
 * telemetry.c: fleet heartbeats, inference telemetry and its query (API.md §9). Writes go to
 * the telemetry store (app->telemetry), never the catalog's: a batch of events is one
 * transaction there holding one statement for event ids and one for partial aggregates, and
 * the query reads rollup rows and partials, never events (core/histogram.c for percentiles).
 */
#include "api/handlers.h"

#include <errno.h>
#include <math.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "core/histogram.h"
#include "core/name.h"
#include "core/semver.h"
#include "util/crypto.h"
#include "util/timeutil.h"

#define MAX_EVENTS 1000
#define HEALTHY_MS (5 * 60 * 1000LL) /* seen within 5 minutes */
#define STALE_MS (60 * 60 * 1000LL)  /* within an hour; older: offline */

/* The ingest route's door: its body is read raw (see body_scan), errors are v1's. */
const api_door api_door_raw_json = {"raw_json", true, NULL, NULL, 0};

/* ---- heartbeats ---- */

static const field_spec hb_fields[] = {
    {"device_id", F_STR, 128, true},
    {"profile", F_NSTR, 64, false},
    {"app_version", F_NSTR, 64, false},
    {"status", F_NSTR, 64, false},
};

static int org_of(store_org *o, api_call *c, err *e)
{
    store_tx *tx = NULL;
    if (store_tx_begin(&tx, c->app->store, false, e) < 0)
        return -1;
    int rc = api_org_access(o, c, tx, ROLE_READER, e);
    store_tx_end(tx, false, e);
    return rc;
}

int api_heartbeat(api_reply *r, api_call *c)
{
    store_org o;
    if (org_of(&o, c, &r->e) < 0 || api_check_body(c, hb_fields, 4, &r->e) < 0)
        return -1;
    const char *dev = api_body_str(c, "device_id");
    if (!*dev)
        return err_field_add(&r->e, "body", "device_id", "string_too_short",
                             "String should have at least 1 character");
    int64_t now = time_now_ms();
    store_tx *tx = NULL;
    if (store_tx_begin(&tx, c->app->telemetry, true, &r->e) < 0)
        return -1;
    if (store_heartbeat(tx, o.id, dev, api_body_str(c, "profile"),
                        api_body_str(c, "app_version"), api_body_str(c, "status"), now,
                        &r->e) < 0) {
        store_tx_end(tx, false, &r->e);
        return -1;
    }
    if (store_tx_end(tx, true, &r->e) < 0)
        return -1;
    return api_json(r, 200,
                    json_pack("{s:s, s:o, s:s}", "device_id", dev, "last_seen", api_time(now),
                              "health", "healthy"));
}

/* ---- ingestion ---- */

typedef struct ev {
    const char *artifact_id, *version, *event_id;
    int64_t minute;
    double ms;
    bool ok, fresh;
} ev;

typedef struct model_ref {
    const char *name, *artifact_id;
    const char *version, *version_ok; /* the last version checked for it */
} model_ref;

static void ev_err(err *e, size_t i, const char *field, const char *type, const char *msg)
{
    char idx[24];
    snprintf(idx, sizeof(idx), "%zu", i);
    size_t before = e->kind == ERR_VALIDATION ? e->nfields : 0;
    err_field_add(e, "body", "events", type, "events[%zu]%s%s: %s", i, *field ? "." : "", field,
                  msg);
    if (e->nfields > before) { /* added (the list holds ERR_MAX_FIELDS at most) */
        err_field *f = &e->fields[e->nfields - 1];
        snprintf(f->loc[2], sizeof(f->loc[2]), "%s", idx);
        snprintf(f->loc[3], sizeof(f->loc[3]), "%s", field);
    }
}


/* ---- the events body, scanned without building a JSON tree ----
 * A batch is up to 1000 small objects; building them as jansson values (thousands of
 * allocations and hash tables) was most of the ingest cost, so this route reads its raw body
 * (door `raw_json`) with a scanner that keeps the JSON grammar (RFC 8259: strings with escapes
 * and valid UTF-8, numbers, literals, nesting; duplicate keys refused like jansson's
 * JSON_REJECT_DUPLICATES) and records each event field's type and value. */

typedef struct jv {
    char type; /* 0 absent, 's' string, 'i' integer, 'n' other number, 'b' bool, 'z' null,
                * 'o' object or array */
    const char *s; /* 's': decoded, NUL-terminated, in the arena */
    double num;
    int64_t inum;
    bool b;
} jv;

enum { F_MODEL, F_VERSION, F_DEVICE, F_LATENCY, F_OK, F_TS, F_EVENT_ID, F_COUNT };
static const char *const ev_fields[F_COUNT] = {"model",      "version", "device_id", "latency_ms",
                                               "ok",         "ts",      "event_id"};
static const size_t ev_field_len[F_COUNT] = {5, 7, 9, 10, 2, 2, 8};

typedef struct scan {
    const char *p, *end, *start;
    arena *a;
    err *e;
} scan;

static int bad(scan *sc, const char *what)
{
    return err_set(sc->e, ERR_INVALID, "malformed JSON at byte %ld: %s",
                   (long)(sc->p - sc->start), what);
}

static void ws(scan *sc)
{
    while (sc->p < sc->end && (*sc->p == ' ' || *sc->p == '\t' || *sc->p == '\n' || *sc->p == '\r'))
        sc->p++;
}

static bool utf8_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t k = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (!k || i + k > n || (k == 2 && c < 0xc2) || (k == 4 && c > 0xf4))
            return false;
        for (size_t j = 1; j < k; j++)
            if ((s[i + j] & 0xc0) != 0x80)
                return false;
        if (k == 3 && ((c == 0xe0 && s[i + 1] < 0xa0) || (c == 0xed && s[i + 1] > 0x9f)))
            return false;
        if (k == 4 && ((c == 0xf0 && s[i + 1] < 0x90) || (c == 0xf4 && s[i + 1] > 0x8f)))
            return false;
        i += k;
    }
    return true;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Reads a string at p (on its opening quote) into the arena. */
static int str_scan(scan *sc, const char **out, size_t *len)
{
    const char *q = ++sc->p;
    bool plain = true, high = false;
    while (q < sc->end && *q != '"') {
        unsigned char c = (unsigned char)*q;
        if (c < 0x20)
            return bad(sc, "control character in a string");
        if (c == '\\') {
            plain = false;
            q += 2;
            continue;
        }
        high = high || c >= 0x80;
        q++;
    }
    if (q >= sc->end)
        return bad(sc, "unterminated string");
    size_t n = (size_t)(q - sc->p);
    char *buf = arena_alloc(sc->a, n + 1), *w = buf;
    if (plain) {
        memcpy(buf, sc->p, n);
        w = buf + n;
    } else {
        for (const char *r = sc->p; r < q;) {
            if (*r != '\\') {
                *w++ = *r++;
                continue;
            }
            r++;
            char c = *r++;
            switch (c) {
            case '"': *w++ = '"'; break;
            case '\\': *w++ = '\\'; break;
            case '/': *w++ = '/'; break;
            case 'b': *w++ = '\b'; break;
            case 'f': *w++ = '\f'; break;
            case 'n': *w++ = '\n'; break;
            case 'r': *w++ = '\r'; break;
            case 't': *w++ = '\t'; break;
            case 'u': {
                unsigned u, lo;
                if (r + 4 > q || hex4(r, &u) < 0)
                    return bad(sc, "bad \\u escape");
                r += 4;
                if (u >= 0xd800 && u <= 0xdbff) {
                    if (r + 6 > q || r[0] != '\\' || r[1] != 'u' || hex4(r + 2, &lo) < 0 ||
                        lo < 0xdc00 || lo > 0xdfff)
                        return bad(sc, "lone surrogate");
                    r += 6;
                    u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
                } else if (u >= 0xdc00 && u <= 0xdfff) {
                    return bad(sc, "lone surrogate");
                }
                if (u == 0)
                    return bad(sc, "NUL in a string");
                if (u < 0x80) {
                    *w++ = (char)u;
                } else if (u < 0x800) {
                    *w++ = (char)(0xc0 | (u >> 6));
                    *w++ = (char)(0x80 | (u & 0x3f));
                } else if (u < 0x10000) {
                    *w++ = (char)(0xe0 | (u >> 12));
                    *w++ = (char)(0x80 | ((u >> 6) & 0x3f));
                    *w++ = (char)(0x80 | (u & 0x3f));
                } else {
                    *w++ = (char)(0xf0 | (u >> 18));
                    *w++ = (char)(0x80 | ((u >> 12) & 0x3f));
                    *w++ = (char)(0x80 | ((u >> 6) & 0x3f));
                    *w++ = (char)(0x80 | (u & 0x3f));
                }
                break;
            }
            default:
                return bad(sc, "bad escape");
            }
        }
    }
    *w = '\0';
    if (high && !utf8_ok((const unsigned char *)buf, (size_t)(w - buf)))
        return bad(sc, "invalid UTF-8");
    sc->p = q + 1;
    *out = buf;
    *len = (size_t)(w - buf);
    return 0;
}

static int num_scan(scan *sc, jv *v)
{
    const char *q = sc->p;
    bool integer = true;
    if (q < sc->end && *q == '-')
        q++;
    if (q >= sc->end || !(*q >= '0' && *q <= '9'))
        return bad(sc, "bad number");
    if (*q == '0')
        q++;
    else
        while (q < sc->end && *q >= '0' && *q <= '9')
            q++;
    if (q < sc->end && *q == '.') {
        integer = false;
        q++;
        if (q >= sc->end || !(*q >= '0' && *q <= '9'))
            return bad(sc, "bad number");
        while (q < sc->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < sc->end && (*q == 'e' || *q == 'E')) {
        integer = false;
        q++;
        if (q < sc->end && (*q == '+' || *q == '-'))
            q++;
        if (q >= sc->end || !(*q >= '0' && *q <= '9'))
            return bad(sc, "bad number");
        while (q < sc->end && *q >= '0' && *q <= '9')
            q++;
    }
    char tmp[64];
    size_t n = (size_t)(q - sc->p);
    if (n >= sizeof(tmp)) {
        v->type = 'n';
        v->num = HUGE_VAL; /* out of any range this route takes */
    } else {
        memcpy(tmp, sc->p, n);
        tmp[n] = '\0';
        v->num = strtod(tmp, NULL);
        v->type = 'n';
        if (integer) {
            errno = 0;
            long long x = strtoll(tmp, NULL, 10);
            if (errno == 0) {
                v->type = 'i';
                v->inum = x;
            }
        }
    }
    sc->p = q;
    return 0;
}

static int value_scan(scan *sc, jv *v, int depth);

/* Skips an object or array at p (its contents checked for grammar only). */
static int nested_skip(scan *sc, int depth)
{
    if (depth > 32)
        return bad(sc, "nested too deep");
    char close = *sc->p == '{' ? '}' : ']';
    bool obj = close == '}';
    sc->p++;
    ws(sc);
    if (sc->p < sc->end && *sc->p == close) {
        sc->p++;
        return 0;
    }
    for (;;) {
        jv v = {0};
        ws(sc);
        if (obj) {
            const char *k;
            size_t kl;
            if (sc->p >= sc->end || *sc->p != '"' || str_scan(sc, &k, &kl) < 0)
                return sc->e->kind ? -1 : bad(sc, "expected a key");
            ws(sc);
            if (sc->p >= sc->end || *sc->p != ':')
                return bad(sc, "expected ':'");
            sc->p++;
        }
        if (value_scan(sc, &v, depth + 1) < 0)
            return -1;
        ws(sc);
        if (sc->p < sc->end && *sc->p == ',') {
            sc->p++;
            continue;
        }
        if (sc->p < sc->end && *sc->p == close) {
            sc->p++;
            return 0;
        }
        return bad(sc, "expected ',' or a closing bracket");
    }
}

static int value_scan(scan *sc, jv *v, int depth)
{
    ws(sc);
    if (sc->p >= sc->end)
        return bad(sc, "unexpected end");
    char c = *sc->p;
    size_t len;
    if (c == '"') {
        v->type = 's';
        return str_scan(sc, &v->s, &len);
    }
    if (c == '{' || c == '[') {
        v->type = 'o';
        return nested_skip(sc, depth);
    }
    if (c == '-' || (c >= '0' && c <= '9'))
        return num_scan(sc, v);
    static const struct {
        const char *w;
        char type;
        bool b;
    } lit[] = {{"true", 'b', true}, {"false", 'b', false}, {"null", 'z', false}};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(lit[i].w);
        if ((size_t)(sc->end - sc->p) >= n && memcmp(sc->p, lit[i].w, n) == 0) {
            sc->p += n;
            v->type = lit[i].type;
            v->b = lit[i].b;
            return 0;
        }
    }
    return bad(sc, "unexpected character");
}

typedef struct ev_in {
    jv f[F_COUNT];
    const char *extra; /* the first unknown key */
    bool not_object;
} ev_in;

/* Scans one array element into *in. */
static int event_scan(scan *sc, ev_in *in)
{
    ws(sc);
    if (sc->p >= sc->end || *sc->p != '{') {
        jv skip = {0};
        in->not_object = true;
        return value_scan(sc, &skip, 1);
    }
    sc->p++;
    ws(sc);
    if (sc->p < sc->end && *sc->p == '}') {
        sc->p++;
        return 0;
    }
    unsigned seen = 0;
    for (;;) {
        const char *k;
        size_t kl;
        ws(sc);
        if (sc->p >= sc->end || *sc->p != '"')
            return bad(sc, "expected a key");
        if (str_scan(sc, &k, &kl) < 0)
            return -1;
        ws(sc);
        if (sc->p >= sc->end || *sc->p != ':')
            return bad(sc, "expected ':'");
        sc->p++;
        int f = -1;
        for (int i = 0; i < F_COUNT && f < 0; i++)
            if (ev_field_len[i] == kl && memcmp(k, ev_fields[i], kl) == 0)
                f = i;
        jv v = {0};
        if (value_scan(sc, &v, 2) < 0)
            return -1;
        if (f >= 0) {
            if (seen & (1u << f))
                return err_set(sc->e, ERR_INVALID, "malformed JSON: duplicate key '%s'", k);
            seen |= 1u << f;
            in->f[f] = v;
        } else if (!in->extra) {
            in->extra = k;
        }
        ws(sc);
        if (sc->p < sc->end && *sc->p == ',') {
            sc->p++;
            continue;
        }
        if (sc->p < sc->end && *sc->p == '}') {
            sc->p++;
            return 0;
        }
        return bad(sc, "expected ',' or '}'");
    }
}

/* Scans the body {"events": [...]} into evs (at most max; *n of them); body-level problems
 * are 422 items, grammar ones 400. Returns -1 with e set, or 0. */
static int body_scan(ev_in **out, size_t *n, const char *p, size_t len, size_t max, arena *a,
                     err *e)
{
    scan sc = {p, p + len, p, a, e};
    bool have_events = false;
    *n = 0;
    *out = arena_array(a, ev_in, 16);
    size_t cap = 16;
    ws(&sc);
    if (sc.p >= sc.end || *sc.p != '{')
        return sc.p >= sc.end ? err_field_add(e, "body", "events", "missing", "Field required")
                              : err_field_add(e, "body", NULL, "dict_type",
                                              "the body must be a JSON object");
    sc.p++;
    ws(&sc);
    if (sc.p < sc.end && *sc.p == '}') {
        sc.p++;
    } else {
        for (;;) {
            const char *k;
            size_t kl;
            ws(&sc);
            if (sc.p >= sc.end || *sc.p != '"')
                return bad(&sc, "expected a key");
            if (str_scan(&sc, &k, &kl) < 0)
                return -1;
            ws(&sc);
            if (sc.p >= sc.end || *sc.p != ':')
                return bad(&sc, "expected ':'");
            sc.p++;
            ws(&sc);
            if (strcmp(k, "events") == 0) {
                if (have_events)
                    return err_set(e, ERR_INVALID, "malformed JSON: duplicate key 'events'");
                have_events = true;
                if (sc.p < sc.end && *sc.p == '[') {
                    sc.p++;
                    ws(&sc);
                    if (sc.p < sc.end && *sc.p == ']') {
                        sc.p++;
                    } else {
                        for (;;) {
                            if (*n == max)
                                return err_field_add(e, "body", "events", "too_long",
                                                     "at most %zu events a call: nothing was "
                                                     "stored",
                                                     max);
                            if (*n == cap) {
                                ev_in *bigger = arena_array(a, ev_in, cap * 2);
                                memcpy(bigger, *out, sizeof(ev_in) * cap);
                                *out = bigger;
                                cap *= 2;
                            }
                            memset(&(*out)[*n], 0, sizeof(ev_in));
                            if (event_scan(&sc, &(*out)[(*n)++]) < 0)
                                return -1;
                            ws(&sc);
                            if (sc.p < sc.end && *sc.p == ',') {
                                sc.p++;
                                continue;
                            }
                            if (sc.p < sc.end && *sc.p == ']') {
                                sc.p++;
                                break;
                            }
                            return bad(&sc, "expected ',' or ']'");
                        }
                    }
                } else {
                    jv v = {0};
                    if (value_scan(&sc, &v, 1) < 0)
                        return -1;
                    err_field_add(e, "body", "events", "list_type", "Input should be a valid list");
                }
            } else {
                jv v = {0};
                if (value_scan(&sc, &v, 1) < 0)
                    return -1;
                err_field_add(e, "body", k, "extra_forbidden", "Extra inputs are not permitted");
            }
            ws(&sc);
            if (sc.p < sc.end && *sc.p == ',') {
                sc.p++;
                continue;
            }
            if (sc.p < sc.end && *sc.p == '}') {
                sc.p++;
                break;
            }
            return bad(&sc, "expected ',' or '}'");
        }
    }
    ws(&sc);
    if (sc.p != sc.end)
        return bad(&sc, "trailing characters");
    if (!have_events)
        err_field_add(e, "body", "events", "missing", "Field required");
    return e->kind == ERR_NONE ? 0 : -1;
}

static const char *str_of(const ev_in *in, int f, size_t max, bool required, size_t i, err *e)
{
    const jv *v = &in->f[f];
    if (v->type == 0) {
        if (required)
            ev_err(e, i, ev_fields[f], "missing", "Field required");
        return NULL;
    }
    if (v->type != 's' || !v->s[0] || strlen(v->s) > max) {
        char msg[80];
        snprintf(msg, sizeof(msg), "a string of 1..%zu bytes", max);
        ev_err(e, i, ev_fields[f], "string_type", msg);
        return NULL;
    }
    return v->s;
}

/* Checks one scanned event into *out (model names resolved later). */
static void check_event(ev *out, const char **model, const ev_in *in, size_t i, int64_t now,
                        err *e)
{
    if (in->not_object) {
        ev_err(e, i, "", "dict_type", "an event is an object");
        return;
    }
    if (in->extra)
        ev_err(e, i, in->extra, "extra_forbidden", "Extra inputs are not permitted");
    *model = str_of(in, F_MODEL, 96, true, i, e);
    out->version = str_of(in, F_VERSION, SEMVER_MAX, true, i, e);
    str_of(in, F_DEVICE, 128, true, i, e);
    out->event_id = str_of(in, F_EVENT_ID, 128, false, i, e);
    const jv *lat = &in->f[F_LATENCY], *ok = &in->f[F_OK], *ts = &in->f[F_TS];
    double ms = lat->type == 'i' ? (double)lat->inum : lat->num;
    if (!lat->type)
        ev_err(e, i, "latency_ms", "missing", "Field required");
    else if (lat->type != 'i' && lat->type != 'n')
        ev_err(e, i, "latency_ms", "float_type", "Input should be a valid number");
    else if (ms < 0 || ms > 1e9 || !isfinite(ms))
        ev_err(e, i, "latency_ms", "value_error", "a number of milliseconds in 0..1e9");
    else
        out->ms = ms;
    if (!ok->type)
        ev_err(e, i, "ok", "missing", "Field required");
    else if (ok->type != 'b')
        ev_err(e, i, "ok", "bool_type", "Input should be a valid boolean");
    else
        out->ok = ok->b;
    int64_t t = now;
    if (ts->type == 's') {
        if (time_parse_iso(&t, ts->s) < 0)
            ev_err(e, i, "ts", "datetime_parsing", "an ISO 8601 time such as 2026-11-22T10:00:00Z");
    } else if (ts->type == 'i') {
        t = ts->inum; /* ms since the epoch */
    } else if (ts->type) {
        ev_err(e, i, "ts", "datetime_type", "an ISO 8601 string or ms since the epoch");
    }
    if (t < now - 400 * 86400000LL || t > now + 86400000LL)
        ev_err(e, i, "ts", "value_error", "within the last 400 days and not a day ahead");
    out->minute = t - ((t % 60000) + 60000) % 60000;
}

static int cmp_ev(const void *a, const void *b)
{
    const ev *x = *(const ev *const *)a, *y = *(const ev *const *)b;
    /* The same model and version share their strings (resolve_models): equal pointers first. */
    int c = x->artifact_id == y->artifact_id ? 0 : strcmp(x->artifact_id, y->artifact_id);
    if (!c)
        c = x->version == y->version ? 0 : strcmp(x->version, y->version);
    if (!c)
        c = x->minute < y->minute ? -1 : x->minute > y->minute;
    return c;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Resolves model names and versions of the org (one read transaction of the catalog);
 * unknown ones are validation errors at their events. */
static int resolve_models(ev *evs, const char **models, size_t n, api_call *c,
                          const store_org *o, err *e)
{
    model_ref *refs = arena_array(c->a, model_ref, n ? n : 1);
    size_t nr = 0;
    store_tx *tx = NULL;
    if (store_tx_begin(&tx, c->app->store, false, e) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!models[i] || !evs[i].version)
            continue;
        model_ref *m = NULL;
        for (size_t k = 0; k < nr && !m; k++)
            if (strcmp(refs[k].name, models[i]) == 0)
                m = &refs[k];
        if (!m) {
            m = &refs[nr++];
            m->name = models[i];
            store_artifact art;
            err le = {0};
            if (store_artifact_get(&art, tx, o->id, "models", models[i],
                                   uuid_is_valid(models[i], strlen(models[i])), c->a, &le) == 0)
                m->artifact_id = art.id;
            else if (le.kind != ERR_NOT_FOUND) {
                store_tx_end(tx, false, e);
                *e = le;
                return -1;
            }
        }
        if (!m->artifact_id) {
            ev_err(e, i, "model", "not_found", "no such model in this org");
            continue;
        }
        evs[i].artifact_id = m->artifact_id;
        if (m->version_ok && strcmp(m->version, evs[i].version) == 0) {
            evs[i].version = m->version_ok;
            continue;
        }
        semver sv;
        store_version v;
        err le = {0};
        char key[SEMVER_KEY_MAX];
        if (semver_parse(&sv, evs[i].version, strlen(evs[i].version)) < 0) {
            ev_err(e, i, "version", "value_error", "a SemVer version of the model");
            continue;
        }
        semver_sort_key(key, sizeof(key), &sv);
        if (store_version_by_key(&v, tx, m->artifact_id, key, c->a, &le) < 0) {
            if (le.kind != ERR_NOT_FOUND) {
                store_tx_end(tx, false, e);
                *e = le;
                return -1;
            }
            ev_err(e, i, "version", "not_found", "no such version of the model");
            continue;
        }
        m->version = evs[i].version;
        m->version_ok = v.version; /* canonical spelling */
        evs[i].version = v.version;
    }
    store_tx_end(tx, false, e);
    return e->kind == ERR_NONE ? 0 : -1;
}

/* Aggregates the fresh events of evs into one partial per (model, version, minute): rows
 * (room for n), *nrows of them, *na events in all. */
static int partials_of(store_rollup *rows, size_t *nrows, size_t *na, ev *evs, size_t n,
                       const char *org_id, hist *h, char *text, arena *a, err *e)
{
    ev **order = arena_array(a, ev *, n ? n : 1);
    size_t k = 0, nr = 0;
    for (size_t i = 0; i < n; i++)
        if (evs[i].fresh)
            order[k++] = &evs[i];
    qsort(order, k, sizeof(ev *), cmp_ev);
    hist_init(h);
    for (size_t i = 0; i < k;) {
        size_t j = i;
        hist_clear(h);
        int64_t errors = 0, sum_us = 0;
        while (j < k && cmp_ev(&order[i], &order[j]) == 0) {
            hist_add(h, order[j]->ms);
            sum_us += llround(order[j]->ms * 1000.0);
            errors += !order[j]->ok;
            j++;
        }
        if (hist_encode(text, HIST_TEXT_MAX, h) < 0)
            return err_set(e, ERR_SERVER, "histogram too large");
        char id[37];
        crypto_uuid7(id);
        rows[nr++] = (store_rollup){arena_strdup(a, id), (char *)org_id,
                                    (char *)order[i]->artifact_id, (char *)order[i]->version, 0,
                                    order[i]->minute, (int64_t)h->count, errors, sum_us,
                                    llround(h->min_ms * 1000.0), llround(h->max_ms * 1000.0),
                                    arena_strdup(a, text)};
        i = j;
    }
    *nrows = nr;
    *na = k;
    return 0;
}

int api_inference_ingest(api_reply *r, api_call *c)
{
    store_org o;
    if (org_of(&o, c, &r->e) < 0)
        return -1;
    const char *ct = c->header(c, "Content-Type");
    if (ct && strncasecmp(ct, "application/json", 16) != 0)
        return err_set(&r->e, ERR_INVALID,
                       "unsupported content type '%.64s': send application/json", ct);
    ev_in *ins;
    size_t n;
    if (body_scan(&ins, &n, c->raw_body ? c->raw_body : "", c->raw_body ? c->raw_body_len : 0,
                  MAX_EVENTS, c->a, &r->e) < 0)
        return -1;
    int64_t now = time_now_ms();
    ev *evs = arena_array(c->a, ev, n ? n : 1);
    const char **models = arena_array(c->a, const char *, n ? n : 1);
    memset(evs, 0, sizeof(ev) * (n ? n : 1));
    for (size_t i = 0; i < n; i++)
        check_event(&evs[i], &models[i], &ins[i], i, now, &r->e);
    if (r->e.kind != ERR_NONE)
        return -1;
    if (resolve_models(evs, models, n, c, &o, &r->e) < 0)
        return -1;
    /* Event ids: duplicates within the batch count once; the store says which it saw. */
    const char **ids = arena_array(c->a, const char *, n ? n : 1);
    size_t nid = 0;
    for (size_t i = 0; i < n; i++) {
        evs[i].fresh = true;
        if (evs[i].event_id)
            ids[nid++] = evs[i].event_id;
    }
    qsort(ids, nid, sizeof(char *), cmp_str);
    size_t nu = 0;
    for (size_t i = 0; i < nid; i++)
        if (nu == 0 || strcmp(ids[nu - 1], ids[i]) != 0)
            ids[nu++] = ids[i];
    bool *fresh = arena_array(c->a, bool, nu ? nu : 1);
    store_tx *tx = NULL;
    int rc = -1;
    hist *h = malloc(sizeof(hist));
    char *text = malloc(HIST_TEXT_MAX);
    if (!h || !text) {
        err_set(&r->e, ERR_SERVER, "out of memory");
        goto out;
    }
    /* The batch's partials are made before the write transaction (the telemetry writers'
     * one lock on SQLite), as if every event were new; made again inside only when the
     * event ids show duplicates. */
    store_rollup *rows = arena_array(c->a, store_rollup, n ? n : 1);
    size_t nrows = 0, na = 0;
    if (partials_of(rows, &nrows, &na, evs, n, o.id, h, text, c->a, &r->e) < 0)
        goto out;
    if (store_tx_begin(&tx, c->app->telemetry, true, &r->e) < 0 ||
        store_event_ids_claim(fresh, tx, o.id, ids, nu, now, &r->e) < 0)
        goto out;
    bool dup = false;
    for (size_t i = 0; i < n; i++) {
        if (!evs[i].event_id)
            continue;
        const char **hit = bsearch(&evs[i].event_id, ids, nu, sizeof(char *), cmp_str);
        size_t at = (size_t)(hit - ids);
        evs[i].fresh = fresh[at];
        dup = dup || !fresh[at];
        fresh[at] = false; /* a second copy in the batch is a duplicate */
    }
    if (dup && partials_of(rows, &nrows, &na, evs, n, o.id, h, text, c->a, &r->e) < 0)
        goto out;
    if (store_partials_insert(tx, rows, nrows, &r->e) < 0)
        goto out;
    rc = store_tx_end(tx, true, &r->e);
    tx = NULL;
    if (rc == 0)
        api_json(r, 200,
                 json_pack("{s:I, s:I, s:I}", "received", (json_int_t)n, "accepted",
                           (json_int_t)na, "duplicates", (json_int_t)(n - na)));
out:
    store_tx_end(tx, false, &r->e);
    free(h);
    free(text);
    return rc;
}

/* ---- the query ---- */

typedef struct acc {
    const char *version;
    int64_t count, errors, sum_us, min_us, max_us;
    hist *h;
} acc;

typedef struct query {
    acc *items;
    size_t n, cap;
    arena *a;
    bool bad;
} query;

static void acc_add(acc *x, const store_rollup *r)
{
    if (r->count == 0)
        return;
    if (x->count == 0 || r->min_us < x->min_us)
        x->min_us = r->min_us;
    if (x->count == 0 || r->max_us > x->max_us)
        x->max_us = r->max_us;
    x->count += r->count;
    x->errors += r->errors;
    x->sum_us += r->sum_us;
}

static int on_row(void *ctx, const store_rollup *r)
{
    query *q = ctx;
    acc *x = NULL;
    for (size_t i = 0; i < q->n && !x; i++)
        if (strcmp(q->items[i].version, r->version) == 0)
            x = &q->items[i];
    if (!x) {
        if (q->n == q->cap)
            return 1;
        x = &q->items[q->n++];
        x->version = arena_strdup(q->a, r->version);
        x->h = calloc(1, sizeof(hist));
        if (!x->h)
            return 1;
    }
    acc_add(x, r);
    if (hist_decode_add(x->h, r->hist) < 0)
        q->bad = true;
    return 0;
}

static json_t *stats_json(const acc *x)
{
    hist *h = x->h;
    h->count = (uint64_t)x->count;
    h->min_ms = (double)x->min_us / 1000.0;
    h->max_ms = (double)x->max_us / 1000.0;
    double mean = x->count ? (double)x->sum_us / 1000.0 / (double)x->count : 0.0;
    return json_pack("{s:I, s:I, s:f, s:{s:f, s:f, s:f, s:f, s:f, s:f}}", "sessions",
                     (json_int_t)x->count, "errors", (json_int_t)x->errors, "error_rate",
                     x->count ? (double)x->errors / (double)x->count : 0.0, "latency_ms", "p50",
                     hist_quantile(h, 0.50), "p95", hist_quantile(h, 0.95), "p99",
                     hist_quantile(h, 0.99), "mean", mean, "min",
                     x->count ? h->min_ms : 0.0, "max", x->count ? h->max_ms : 0.0);
}

static int64_t floor_to(int64_t t, int64_t unit)
{
    return t - ((t % unit) + unit) % unit;
}

static int64_t ceil_to(int64_t t, int64_t unit)
{
    int64_t f = floor_to(t, unit);
    return f == t ? t : f + unit;
}

typedef store_span span;

/* Covers [a, b) (whole minutes) with the fewest rollup ranges: days, then hours, minutes. */
static size_t cover(span *out, int64_t a, int64_t b)
{
    static const int64_t unit[3] = {60000, 3600000, 86400000};
    size_t n = 0;
    int64_t d0 = ceil_to(a, unit[2]), d1 = floor_to(b, unit[2]);
    int64_t lo = a, hi = b;
    if (d0 < d1) {
        out[n++] = (span){2, d0, d1};
        hi = d0; /* left part [a, d0), right part [d1, b) */
    }
    int64_t parts[2][2] = {{lo, hi}, {d0 < d1 ? d1 : b, b}};
    for (int p = 0; p < (d0 < d1 ? 2 : 1); p++) {
        int64_t x = parts[p][0], y = parts[p][1];
        if (x >= y)
            continue;
        int64_t h0 = ceil_to(x, unit[1]), h1 = floor_to(y, unit[1]);
        if (h0 < h1) {
            out[n++] = (span){1, h0, h1};
            if (x < h0)
                out[n++] = (span){0, x, h0};
            if (h1 < y)
                out[n++] = (span){0, h1, y};
        } else {
            out[n++] = (span){0, x, y};
        }
    }
    return n;
}

static int parse_time_q(int64_t *out, api_call *c, const char *name, err *e)
{
    const char *s = api_query(c, name);
    if (!s)
        return 0;
    if (time_parse_iso(out, s) < 0)
        return err_field_add(e, "query", name, "datetime_parsing",
                             "an ISO 8601 time such as 2026-11-22T10:00:00Z");
    return 0;
}

static int do_telemetry(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_artifact m;
    if (strcmp(api_param(c, "kind"), "models") != 0)
        return err_set(&r->e, ERR_NOT_FOUND, "telemetry applies to models only");
    if (api_artifact_access(&o, &m, c, tx, ROLE_READER, &r->e) < 0)
        return -1;
    int64_t now = time_now_ms(), until = now, since;
    if (parse_time_q(&until, c, "until", &r->e) < 0)
        return -1;
    since = until - 86400000LL;
    if (parse_time_q(&since, c, "since", &r->e) < 0)
        return -1;
    if (since >= until)
        return err_field_add(&r->e, "query", "since", "value_error", "since must be before until");
    if (until - since > 400 * 86400000LL)
        return err_field_add(&r->e, "query", "since", "value_error",
                             "a window of at most 400 days");
    /* Whole minutes: the rollups' grain. */
    int64_t a = floor_to(since, 60000), b = ceil_to(until, 60000);
    span spans[STORE_SPANS_MAX];
    size_t ns = cover(spans, a, b);
    spans[ns++] = (span){-1, a, b}; /* and the partials not compacted yet */
    query q = {arena_array(c->a, acc, 256), 0, 256, c->a, false};
    memset(q.items, 0, sizeof(acc) * 256);
    store_tx *ttx = NULL;
    store_fleet fleet;
    int rc = -1;
    if (store_tx_begin(&ttx, c->app->telemetry, false, &r->e) < 0)
        goto out;
    if (store_rollups_read(ttx, o.id, m.id, spans, ns, on_row, &q, c->a, &r->e) < 0 ||
        store_fleet_counts(&fleet, ttx, o.id, now - HEALTHY_MS, now - STALE_MS, &r->e) < 0)
        goto out;
    acc all = {"", 0, 0, 0, 0, 0, calloc(1, sizeof(hist))};
    if (!all.h) {
        err_set(&r->e, ERR_SERVER, "out of memory");
        goto out;
    }
    json_t *by_version = json_object();
    for (size_t i = 0; i < q.n; i++) {
        acc *x = &q.items[i];
        store_rollup as = {NULL, NULL, NULL, NULL, 0, 0, x->count, x->errors, x->sum_us,
                           x->min_us, x->max_us, NULL};
        acc_add(&all, &as);
        json_object_set_new(by_version, x->version, stats_json(x)); /* fills x->h's totals */
        hist_merge(all.h, x->h);
    }
    char sa[32], sb[32];
    time_format_iso(sa, sizeof(sa), a);
    time_format_iso(sb, sizeof(sb), b);
    json_t *body = stats_json(&all);
    free(all.h);
    json_object_set_new(body, "model", json_string(arena_printf(c->a, "%s/%s", o.slug, m.name)));
    json_object_set_new(body, "window", json_pack("{s:s, s:s}", "since", sa, "until", sb));
    json_object_set_new(body, "by_version", by_version);
    json_object_set_new(body, "fleet",
                        json_pack("{s:I, s:I, s:I, s:I}", "devices_total",
                                  (json_int_t)fleet.total, "healthy", (json_int_t)fleet.healthy,
                                  "stale", (json_int_t)fleet.stale, "offline",
                                  (json_int_t)fleet.offline));
    rc = api_json(r, 200, body);
out:
    store_tx_end(ttx, false, &r->e);
    for (size_t i = 0; i < q.n; i++)
        free(q.items[i].h);
    return rc;
}

int api_telemetry(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, false, do_telemetry);
}

/* ---- training updates ---- */

#define MAX_METRICS 64
#define TRAINING_ROWS_MAX 100000 /* updates a stats call reads at most */

static int training_target(store_org *o, store_artifact *m, store_version *v, api_call *c,
                           store_tx *tx, err *e)
{
    if (strcmp(api_param(c, "kind"), "models") != 0)
        return err_set(e, ERR_NOT_FOUND, "training updates apply to models only");
    if (api_artifact_access(o, m, c, tx, ROLE_READER, e) < 0)
        return -1;
    return v ? api_resolve_version(v, c, tx, m, api_param(c, "version"), e) : 0;
}

static const field_spec training_fields[] = {
    {"device_id", F_STR, 128, true},
    {"sample_count", F_INT, 1000000000000, true},
    {"metrics", F_OBJ, 16384, true},
};

static int do_training_post(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_artifact m;
    store_version v;
    if (api_check_body(c, training_fields, 3, &r->e) < 0)
        return -1;
    json_t *metrics = json_object_get(c->body, "metrics");
    const char *k;
    json_t *val;
    if (json_object_size(metrics) > MAX_METRICS)
        return err_field_add(&r->e, "body", "metrics", "too_long", "at most %d metrics",
                             MAX_METRICS);
    json_object_foreach(metrics, k, val)
    {
        if (!json_is_number(val) || !isfinite(json_number_value(val))) {
            err_field_add(&r->e, "body", "metrics", "float_type",
                          "metrics.%.64s: Input should be a valid number", k);
            snprintf(r->e.fields[r->e.nfields - 1].loc[2], sizeof(r->e.fields[0].loc[2]), "%s",
                     k);
        } else if (!*k || strlen(k) > 64) {
            err_field_add(&r->e, "body", "metrics", "value_error", "metric names of 1..64 bytes");
        }
    }
    if (!*api_body_str(c, "device_id"))
        err_field_add(&r->e, "body", "device_id", "string_too_short",
                      "String should have at least 1 character");
    if (r->e.kind != ERR_NONE)
        return -1;
    if (training_target(&o, &m, &v, c, tx, &r->e) < 0)
        return -1;
    char id[37];
    crypto_uuid7(id);
    int64_t now = time_now_ms();
    store_training t = {id, o.id, m.id, v.version, (char *)api_body_str(c, "device_id"),
                        json_integer_value(json_object_get(c->body, "sample_count")), now,
                        api_json_dump(metrics, c->a)};
    store_tx *ttx = NULL;
    if (store_tx_begin(&ttx, c->app->telemetry, true, &r->e) < 0)
        return -1;
    if (store_training_insert(ttx, &t, &r->e) < 0) {
        store_tx_end(ttx, false, &r->e);
        return -1;
    }
    if (store_tx_end(ttx, true, &r->e) < 0)
        return -1;
    return api_json(r, 201,
                    json_pack("{s:s, s:s, s:s, s:s, s:I, s:O, s:o}", "id", id, "model",
                              arena_printf(c->a, "%s/%s", o.slug, m.name), "version", v.version,
                              "device_id", t.device_id, "sample_count",
                              (json_int_t)t.sample_count, "metrics", metrics, "created_at",
                              api_time(now)));
}

int api_training_post(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, false, do_training_post);
}

/* Doubles an arena array of *cap items of size sz. */
static void *grow(void *items, size_t *cap, size_t sz, arena *a)
{
    void *bigger = arena_alloc(a, sz * *cap * 2);
    memcpy(bigger, items, sz * *cap);
    *cap *= 2;
    return bigger;
}

typedef struct metric_vals {
    const char *name;
    double *v;
    size_t n, cap;
} metric_vals;

typedef struct dev_acc {
    const char *device_id;
    int64_t updates, samples;
    json_t *latest; /* borrowed from the arena's deferred list */
} dev_acc;

typedef struct tstats {
    arena *a;
    int64_t updates, samples;
    metric_vals *ms;
    size_t nms, cap_ms;
    dev_acc *ds;
    size_t nds, cap_ds;
} tstats;

static int on_training(void *ctx, const store_training *t)
{
    tstats *s = ctx;
    s->updates++;
    s->samples += t->sample_count;
    json_t *m = api_json_text(t->metrics, "{}");
    arena_defer(s->a, (arena_fn)json_decref, m);
    dev_acc *d = NULL;
    for (size_t i = 0; i < s->nds && !d; i++)
        if (strcmp(s->ds[i].device_id, t->device_id) == 0)
            d = &s->ds[i];
    if (!d) {
        if (s->nds == s->cap_ds) {
            size_t cap = s->cap_ds;
            s->ds = grow(s->ds, &cap, sizeof(dev_acc), s->a);
            s->cap_ds = cap;
        }
        d = &s->ds[s->nds++];
        *d = (dev_acc){arena_strdup(s->a, t->device_id), 0, 0, NULL};
    }
    d->updates++;
    d->samples += t->sample_count;
    d->latest = m; /* rows come oldest first */
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v)
    {
        if (!json_is_number(v))
            continue;
        metric_vals *mv = NULL;
        for (size_t i = 0; i < s->nms && !mv; i++)
            if (strcmp(s->ms[i].name, k) == 0)
                mv = &s->ms[i];
        if (!mv) {
            if (s->nms == s->cap_ms) {
                size_t cap = s->cap_ms;
                s->ms = grow(s->ms, &cap, sizeof(metric_vals), s->a);
                s->cap_ms = cap;
            }
            mv = &s->ms[s->nms++];
            *mv = (metric_vals){arena_strdup(s->a, k), arena_array(s->a, double, 16), 0, 16};
        }
        if (mv->n == mv->cap)
            mv->v = grow(mv->v, &mv->cap, sizeof(double), s->a);
        mv->v[mv->n++] = json_number_value(v);
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int do_training_version(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_artifact m;
    store_version v;
    if (training_target(&o, &m, &v, c, tx, &r->e) < 0)
        return -1;
    tstats s = {c->a, 0, 0, arena_array(c->a, metric_vals, 8), 0, 8,
                arena_array(c->a, dev_acc, 16), 0, 16};
    store_tx *ttx = NULL;
    if (store_tx_begin(&ttx, c->app->telemetry, false, &r->e) < 0)
        return -1;
    int rc = store_training_list(ttx, o.id, m.id, v.version, TRAINING_ROWS_MAX, on_training, &s,
                                 c->a, &r->e);
    store_tx_end(ttx, false, &r->e);
    if (rc < 0)
        return -1;
    json_t *metrics = json_object();
    for (size_t i = 0; i < s.nms; i++) {
        metric_vals *mv = &s.ms[i];
        qsort(mv->v, mv->n, sizeof(double), cmp_double);
        double sum = 0;
        for (size_t k = 0; k < mv->n; k++)
            sum += mv->v[k];
        json_object_set_new(metrics, mv->name,
                            json_pack("{s:I, s:f, s:f, s:f, s:f, s:f, s:f}", "count",
                                      (json_int_t)mv->n, "p50", quantile_sorted(mv->v, mv->n, 0.5),
                                      "p95", quantile_sorted(mv->v, mv->n, 0.95), "p99",
                                      quantile_sorted(mv->v, mv->n, 0.99), "mean",
                                      sum / (double)mv->n, "min", mv->v[0], "max",
                                      mv->v[mv->n - 1]));
    }
    json_t *per = json_array();
    for (size_t i = 0; i < s.nds; i++)
        json_array_append_new(per, json_pack("{s:s, s:I, s:I, s:O}", "device_id",
                                             s.ds[i].device_id, "updates",
                                             (json_int_t)s.ds[i].updates, "samples",
                                             (json_int_t)s.ds[i].samples, "latest_metrics",
                                             s.ds[i].latest));
    return api_json(r, 200,
                    json_pack("{s:s, s:s, s:I, s:I, s:I, s:o, s:o}", "model",
                              arena_printf(c->a, "%s/%s", o.slug, m.name), "version", v.version,
                              "updates", (json_int_t)s.updates, "samples",
                              (json_int_t)s.samples, "devices", (json_int_t)s.nds, "metrics",
                              metrics, "per_device", per));
}

int api_training_stats_version(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, false, do_training_version);
}

static int do_training_model(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_artifact m;
    if (training_target(&o, &m, NULL, c, tx, &r->e) < 0)
        return -1;
    store_training_sum *ss;
    size_t n;
    store_tx *ttx = NULL;
    if (store_tx_begin(&ttx, c->app->telemetry, false, &r->e) < 0)
        return -1;
    int rc = store_training_summary(&ss, &n, ttx, o.id, m.id, c->a, &r->e);
    store_tx_end(ttx, false, &r->e);
    if (rc < 0)
        return -1;
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            items, json_pack("{s:s, s:I, s:I, s:I, s:o, s:o}", "version", ss[i].version,
                             "updates", (json_int_t)ss[i].updates, "samples",
                             (json_int_t)ss[i].samples, "devices", (json_int_t)ss[i].devices,
                             "latest_metrics", api_json_text(ss[i].latest_metrics, "{}"),
                             "latest_at", api_time(ss[i].latest_at)));
    return api_json(r, 200,
                    json_pack("{s:s, s:o}", "model", arena_printf(c->a, "%s/%s", o.slug, m.name),
                              "versions", items));
}

int api_training_stats_model(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, false, do_training_model);
}
