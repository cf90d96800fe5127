/*
 * server.h: the HTTP server (libmicrohttpd, epoll thread pool).
 */
#ifndef CAIRN_SERVER_H
#define CAIRN_SERVER_H

#include "app.h"
#include "util/err.h"

typedef struct server server;

/* Starts listening on app->cfg->listen; returns 0 or -1. */
int server_start(server **out, const app *ctx, err *e);
/* Stops accepting, finishes in-flight requests, frees the server; accepts NULL. */
void server_stop(server *s);

#endif
