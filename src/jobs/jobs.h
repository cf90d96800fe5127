/*
 * jobs.h: background work (no HTTP here): conversion jobs run by worker threads, and the
 * converters they call. A job is a row (store_job); any instance's worker may take it, under a
 * lease it renews while it works, so a job of a dead instance is taken over when the lease
 * ends, and a stopping server puts its running jobs back in the queue.
 *
 * Converters are configured per pair "SOURCE:TARGET" (source and target format names, e.g.
 * onnx:tflite) as a command line split on spaces, `{in}` and `{out}` replaced by the input and
 * output paths. It runs without a shell (fork + execve, so no argument is ever interpreted), in
 * a temporary directory of its own (also its HOME and TMPDIR), with an environment of PATH,
 * HOME, TMPDIR and LANG only, stdin from /dev/null and stderr kept (its tail goes to the job),
 * under a time limit (SIGKILL to its process group) and an output size cap (RLIMIT_FSIZE and a
 * check of the result). Built in: safetensors:safetensors-fp16 and safetensors:safetensors-bf16.
 */
#ifndef CAIRN_JOBS_H
#define CAIRN_JOBS_H

#include <stdbool.h>
#include <stdint.h>

#include "app.h"
#include "util/err.h"

#define JOBS_MAX_CONVERTERS 32
#define JOBS_STDERR_TAIL 4096
#define JOBS_LEASE_MS 10000 /* a worker renews its lease every second */

typedef struct jobs jobs;

typedef struct jobs_config {
    const char *const *converters; /* "SRC:DST=CMD {in} {out}" specs */
    int nconverters;
    int workers;           /* threads; 0: none on this instance */
    int timeout_s;         /* per conversion */
    uint64_t max_output;   /* bytes */
    const char *tmp_root;  /* where job directories go */
} jobs_config;

/* Parses the converter specs (ERR_VALIDATION naming the bad one) and builds the registry;
 * starts no thread. */
int jobs_new(jobs **out, const jobs_config *cfg, err *e);
/* Starts the workers over ap's store and blob store. */
int jobs_start(jobs *j, const app *ap, err *e);
/* Stops the workers: running conversions are killed and their jobs queued again. */
void jobs_stop(jobs *j);
void jobs_free(jobs *j);
/* Wakes a worker: a job was queued. Accepts NULL. */
void jobs_notify(jobs *j);
/* True if a converter for source -> target exists. */
bool jobs_has_converter(const jobs *j, const char *source, const char *target);
/* Returns a new JSON array of the configured pairs ("safetensors:safetensors-fp16", ...). */
json_t *jobs_pairs(const jobs *j);
/* The file name extension of a format, with its dot (".tflite"; "safetensors-fp16" gives
 * ".safetensors"). */
const char *jobs_format_ext(const char *format, char *buf, size_t cap);

/* Telemetry compaction (rollup.c): moves up to limit partials of the telemetry store into
 * their minute, hour and day rollup rows, in one transaction; *compacted counts them. The
 * workers started by jobs_start run it every second while partials remain, and once more when
 * stopping. */
int jobs_rollup_compact(int64_t *compacted, store *ts, int limit, err *e);
#define JOBS_COMPACT_BATCH 5000

/* The built-in converter: the safetensors file on in_fd to out_fd with F32 tensors in F16
 * (or BF16), every other tensor copied; fails past max_out bytes of output. tick (may be NULL)
 * is called with ctx between blocks. */
int jobs_safetensors_convert(int in_fd, int out_fd, bool bf16, uint64_t max_out,
                             void (*tick)(void *ctx), void *ctx, err *e);

#endif
