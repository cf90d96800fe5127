/*
 * tar.h: a streaming reader of tar archives (POSIX ustar, pax extended headers, GNU long names)
 * that hands each regular file's path and bytes to a sink, for importing tar layers (KitOps
 * ModelKits, docs/oci.md). Pure: the caller feeds bytes as they come (from a blob, through
 * gzip), nothing is buffered but one 512-byte header and a long name's metadata.
 *
 * Only regular files are given out; directories are skipped. Refused with ERR_INVALID (the
 * detail names the entry): an absolute path, a ".." segment, a hard or symbolic link, a device
 * or FIFO, a file path core/path.h refuses, a path seen twice, sparse and other exotic entry
 * types, a bad header checksum, a truncated archive. A leading "./" is dropped ("./a" is "a").
 */
#ifndef CAIRN_CORE_TAR_H
#define CAIRN_CORE_TAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define TAR_META_MAX (1u << 20) /* longest pax extended header or GNU long name kept */
#define TAR_FILES_MAX 10000u    /* most regular files in one archive */

/* Where the files go. begin() gets the file's path (valid until end()) and size, data() its
 * bytes in order (any number of calls, summing to size), end() closes it. A callback returns
 * 0, or -1 with e set: tar_feed() then fails with that error. */
typedef struct tar_sink {
    int (*begin)(void *ctx, const char *path, uint64_t size, err *e);
    int (*data)(void *ctx, const void *p, size_t n, err *e);
    int (*end)(void *ctx, err *e);
    void *ctx;
} tar_sink;

typedef struct tar_reader {
    tar_sink sink;
    int state;
    unsigned char hdr[512];
    size_t hlen;
    uint64_t remaining; /* bytes left in the entry's data (or padding) */
    uint64_t pad;       /* padding after the current file's data */
    int zeros;          /* consecutive all-zero header blocks */
    char meta_kind;     /* 'x' or 'L' while collecting one */
    char *meta;         /* the pax header / GNU long name being collected */
    size_t mlen;
    char *longname;   /* a path from pax or 'L' for the next header */
    int64_t pax_size; /* a size from pax for the next header, or -1 */
    char *path;       /* the current file's path */
    char **seen;      /* paths given out, to refuse duplicates */
    size_t nseen;
    uint64_t entries;
} tar_reader;

/* Starts a reader that gives files to sink. */
void tar_reader_init(tar_reader *t, const tar_sink *sink);
/* Frees what the reader holds (not the sink). Safe after a failure and on a zeroed reader. */
void tar_reader_free(tar_reader *t);
/* Reads p[0..n) of the archive. After a failure the reader only fails. */
int tar_feed(tar_reader *t, const void *p, size_t n, err *e);
/* Checks the archive ended where an entry may end (the end-of-archive blocks are optional). */
int tar_finish(tar_reader *t, err *e);

#endif
