/*
 * err.h: cairn's one error model. A fallible function returns 0 or -1 and fills the caller's
 * err; the kind is set once, where the fault is seen, and only http/ turns it into a status.
 */
#ifndef CAIRN_ERR_H
#define CAIRN_ERR_H

#include <stddef.h>

typedef enum err_kind {
    ERR_NONE = 0,
    ERR_INVALID,          /* 400 invalid_error */
    ERR_AUTH,             /* 401 authentication_error */
    ERR_EXPIRED_TOKEN,    /* 401 expired_token_error */
    ERR_EXPIRED_SIG,      /* 401 expired_signature_error */
    ERR_FORBIDDEN,        /* 403 forbidden_error */
    ERR_TOKEN,            /* 403 token_error */
    ERR_NOT_FOUND,        /* 404 not_found_error */
    ERR_METHOD,           /* 405 invalid_error, with Allow */
    ERR_EXISTS,           /* 409 already_exists_error */
    ERR_CONFLICT,         /* 409 conflict_error */
    ERR_TOO_LARGE,        /* 413 invalid_error */
    ERR_HEADERS_TOO_LARGE, /* 431 invalid_error */
    ERR_RANGE,            /* 416 invalid_error */
    ERR_VALIDATION,       /* 422 validation_error */
    ERR_UPGRADE,          /* 426 upgrade_required_error */
    ERR_LIMIT,            /* 429 usage_limit_exceeded_error */
    ERR_SERVER,           /* 500 server_error */
    ERR_DATABASE,         /* 500 database_error */
    ERR_BAD_GATEWAY,      /* 502 bad_gateway_error */
    ERR_S3,               /* 502 s3_error */
    ERR_GATEWAY_TIMEOUT,  /* 504 gateway_timeout_error */
    ERR_UNAVAILABLE,      /* 503 server_error */
} err_kind;

#define ERR_MAX_FIELDS 16

typedef struct err_field {
    char loc[4][64]; /* e.g. {"body", "version", "", ""}; {"body", "events", "3", "ok"} */
    char msg[256];
    char type[40];
} err_field;

typedef struct err {
    err_kind kind;
    char detail[256]; /* the envelope's `detail`: safe to show the caller */
    err_field fields[ERR_MAX_FIELDS];
    size_t nfields;
} err;

/* Sets kind and detail; returns -1 so callers can `return err_set(...)`. */
int err_set(err *e, err_kind kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Adds one 422 item (loc0/loc1 may be NULL) and makes e a validation error; returns -1. */
int err_field_add(err *e, const char *loc0, const char *loc1, const char *type, const char *fmt,
                  ...) __attribute__((format(printf, 5, 6)));
/* Clears e. */
void err_clear(err *e);
/* Returns the HTTP status of a kind. */
int err_status(err_kind kind);
/* Returns the envelope `type` string of a kind. */
const char *err_type(err_kind kind);

#endif
