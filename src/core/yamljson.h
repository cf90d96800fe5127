/*
 * yamljson.h: one YAML document to a jansson value (docs/openapi.yaml, model-card front matter).
 */
#ifndef CAIRN_CORE_YAMLJSON_H
#define CAIRN_CORE_YAMLJSON_H

#include <stddef.h>

#include <jansson.h>

/* Limits that protect the server from hostile input; exceeding one is an error. */
#define YAMLJSON_MAX_DEPTH 64                 /* nested mappings and sequences */
#define YAMLJSON_MAX_INPUT (4u * 1024 * 1024) /* bytes */
#define YAMLJSON_MAX_NODES 100000             /* scalars (keys included), mappings, sequences */

/*
 * Parses one YAML document from s[0..n) into a new jansson value; the caller json_decref's it.
 * Plain scalars follow the YAML 1.2 core schema (null/~/empty -> null, true/false -> boolean,
 * integers -> integer, floats -> real; .inf/.nan, which JSON lacks, and all else -> string);
 * quoted, block and !!str scalars are strings; mapping keys are always strings. Aliases,
 * non-scalar keys, duplicate keys and more than one document are rejected. Returns NULL with a
 * one-line reason in errbuf (at most errcap bytes, NUL-terminated; may be NULL when errcap is 0),
 * e.g. "yaml: line 3: mapping values are not allowed in this context". Thread-safe.
 */
json_t *yaml_to_json(const char *s, size_t n, char *errbuf, size_t errcap);

#endif
