/*
 * auth.h: resolves the caller of a request from `Authorization: Bearer` or `X-Api-Key`.
 */
#ifndef CAIRN_AUTH_H
#define CAIRN_AUTH_H

#include "api/api.h"

/* Fills c->caller from the request's token. Returns 0 (authenticated), or -1 with
 * ERR_AUTH / ERR_EXPIRED_TOKEN (or a store error). Thread-safe. */
int auth_resolve(api_call *c, err *e);

#endif
