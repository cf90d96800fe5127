/*
 * capability.h: the capability.json manifest of a capability version (seed 003).
 */
#ifndef CAIRN_CAPABILITY_H
#define CAIRN_CAPABILITY_H

#include <jansson.h>
#include <stddef.h>

#include "util/err.h"

#define CAPABILITY_MANIFEST "capability.json"
#define CAPABILITY_MANIFEST_MAX (1u << 20)

/* Parses a manifest {name?, description?, keywords?: [str], components?: [{name, type, path?,
 * description?}]} with type one of agent, tool, skill, mcp_server, worker. On success sets
 * *keywords and *components to new arrays (never NULL) and *description to a new string or
 * NULL; on a malformed manifest returns -1 with a 422 item at ["body", "capability.json"]. */
int capability_parse(json_t **keywords, json_t **components, json_t **description,
                     const char *p, size_t n, err *e);

#endif
