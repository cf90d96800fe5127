/*
 * err.c: error kinds, their statuses and envelope types.
 */
#include "util/err.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Replaces, in place, every byte of s that is not part of well-formed UTF-8 (RFC 3629: no
 * overlongs, surrogates or code points past U+10FFFF) by '?'. Errors quote client bytes and
 * cut them at fixed sizes (a loc at 63 bytes, "%.64s", the detail at 255), which can split a
 * character; the envelope is JSON, and jansson refuses such a string. */
static void utf8_repair(char *s)
{
    unsigned char *u = (unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        unsigned c = u[i];
        size_t k = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2
                                                  : (c & 0xf8) == 0xf0 ? 3
                                                                       : 4;
        unsigned cp = k == 1 ? c & 0x1f : k == 2 ? c & 0x0f : c & 0x07;
        bool ok = k < 4 && i + k < n;
        for (size_t m = 1; ok && m <= k; m++) {
            ok = (u[i + m] & 0xc0) == 0x80;
            cp = (cp << 6) | (u[i + m] & 0x3f);
        }
        if (ok && k > 0)
            ok = cp >= (k == 1 ? 0x80u : k == 2 ? 0x800u : 0x10000u) && cp <= 0x10ffff &&
                 (cp < 0xd800 || cp > 0xdfff);
        if (!ok) {
            u[i++] = '?';
            continue;
        }
        i += k + 1;
    }
}

int err_set(err *e, err_kind kind, const char *fmt, ...)
{
    if (!e)
        return -1;
    e->kind = kind;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
    va_end(ap);
    utf8_repair(e->detail);
    return -1;
}

int err_field_add(err *e, const char *loc0, const char *loc1, const char *type, const char *fmt,
                  ...)
{
    if (!e)
        return -1;
    if (e->kind != ERR_VALIDATION) {
        e->kind = ERR_VALIDATION;
        e->nfields = 0;
        snprintf(e->detail, sizeof(e->detail), "validation failed");
    }
    if (e->nfields >= ERR_MAX_FIELDS)
        return -1;
    err_field *f = &e->fields[e->nfields++];
    memset(f, 0, sizeof(*f));
    if (loc0)
        snprintf(f->loc[0], sizeof(f->loc[0]), "%s", loc0);
    if (loc1)
        snprintf(f->loc[1], sizeof(f->loc[1]), "%s", loc1);
    snprintf(f->type, sizeof(f->type), "%s", type);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->msg, sizeof(f->msg), fmt, ap);
    va_end(ap);
    if (e->nfields == 1 && snprintf(e->detail, sizeof(e->detail), "%s%s%s: %s",
                                    loc0 ? loc0 : "", loc1 ? "." : "", loc1 ? loc1 : "",
                                    f->msg) >= (int)sizeof(e->detail))
        e->detail[sizeof(e->detail) - 1] = '\0'; /* a long message is cut, by design */
    for (size_t k = 0; k < sizeof(f->loc) / sizeof(f->loc[0]); k++)
        utf8_repair(f->loc[k]);
    utf8_repair(f->type);
    utf8_repair(f->msg);
    utf8_repair(e->detail);
    return -1;
}

void err_clear(err *e)
{
    e->kind = ERR_NONE;
    e->detail[0] = '\0';
    e->nfields = 0;
}

int err_status(err_kind kind)
{
    switch (kind) {
    case ERR_NONE: return 200;
    case ERR_INVALID: return 400;
    case ERR_AUTH:
    case ERR_EXPIRED_TOKEN:
    case ERR_EXPIRED_SIG: return 401;
    case ERR_FORBIDDEN:
    case ERR_TOKEN: return 403;
    case ERR_NOT_FOUND: return 404;
    case ERR_METHOD: return 405;
    case ERR_EXISTS:
    case ERR_CONFLICT: return 409;
    case ERR_TOO_LARGE: return 413;
    case ERR_HEADERS_TOO_LARGE: return 431;
    case ERR_RANGE: return 416;
    case ERR_VALIDATION: return 422;
    case ERR_UPGRADE: return 426;
    case ERR_LIMIT: return 429;
    case ERR_SERVER:
    case ERR_DATABASE: return 500;
    case ERR_BAD_GATEWAY:
    case ERR_S3: return 502;
    case ERR_UNAVAILABLE: return 503;
    case ERR_GATEWAY_TIMEOUT: return 504;
    }
    return 500;
}

const char *err_type(err_kind kind)
{
    switch (kind) {
    case ERR_NONE: return "";
    case ERR_INVALID:
    case ERR_METHOD:
    case ERR_TOO_LARGE:
    case ERR_HEADERS_TOO_LARGE:
    case ERR_RANGE: return "invalid_error";
    case ERR_AUTH: return "authentication_error";
    case ERR_EXPIRED_TOKEN: return "expired_token_error";
    case ERR_EXPIRED_SIG: return "expired_signature_error";
    case ERR_FORBIDDEN: return "forbidden_error";
    case ERR_TOKEN: return "token_error";
    case ERR_NOT_FOUND: return "not_found_error";
    case ERR_EXISTS: return "already_exists_error";
    case ERR_CONFLICT: return "conflict_error";
    case ERR_VALIDATION: return "validation_error";
    case ERR_UPGRADE: return "upgrade_required_error";
    case ERR_LIMIT: return "usage_limit_exceeded_error";
    case ERR_SERVER:
    case ERR_UNAVAILABLE: return "server_error";
    case ERR_DATABASE: return "database_error";
    case ERR_BAD_GATEWAY: return "bad_gateway_error";
    case ERR_S3: return "s3_error";
    case ERR_GATEWAY_TIMEOUT: return "gateway_timeout_error";
    }
    return "server_error";
}
