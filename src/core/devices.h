/*
 * devices.h: device profiles and the rules that match a model to a device (API.md §8):
 * the memory a model needs at each precision, whether it fits a device, which formats the
 * device runs, the expected size and accuracy of each quantization, and the best package of a
 * version for a device. Pure and thread-safe once a catalog is built.
 *
 * The rules (also in docs/devices.md):
 * - weights bytes = parameters x bytes per parameter (fp32 4, fp16/bf16 2, int8 1, int4 0.5);
 *   without a parameter count, parameters = size / bytes per parameter of the source precision.
 * - required memory = weights x 1.20 + 8 MiB (activations, runtime, allocator slack:
 *   DEVICES_OVERHEAD_PCT and DEVICES_OVERHEAD_FIXED).
 * - a device's headroom = 70% of its memory (the rest is the OS and other apps:
 *   DEVICES_HEADROOM_PCT); a model fits when required memory <= headroom and its size <= the
 *   device's storage.
 */
#ifndef CAIRN_CORE_DEVICES_H
#define CAIRN_CORE_DEVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/err.h"

#define DEVICES_OVERHEAD_PCT 20
#define DEVICES_OVERHEAD_FIXED (8ll << 20)
#define DEVICES_HEADROOM_PCT 70
#define DEVICES_LIST_MAX 16 /* most accelerators, runtimes or precisions of one profile */
#define DEVICES_MAX 512     /* most profiles in a catalog */

/* Precisions, widest first. */
typedef enum precision {
    PREC_UNKNOWN = 0,
    PREC_FP32,
    PREC_FP16,
    PREC_BF16,
    PREC_INT8,
    PREC_INT4,
} precision;

typedef struct device_profile {
    const char *id, *name, *category; /* phone, tablet, laptop, sbc, edge-gpu, ... */
    int64_t memory_bytes, storage_bytes;
    const char *accelerators[DEVICES_LIST_MAX];
    size_t naccelerators;
    const char *runtimes[DEVICES_LIST_MAX]; /* formats it runs, preferred first */
    size_t nruntimes;
    const char *precisions[DEVICES_LIST_MAX]; /* fp32, fp16, bf16, int8, int4 */
    size_t nprecisions;
} device_profile;

typedef struct device_catalog device_catalog;

/* Returns a new catalog holding the built-in profiles (at least 15 real devices). */
device_catalog *devices_builtin(void);
/* Adds or replaces (by id) the profiles of a JSON file: an array of profile objects, or
 * {"profiles": [...]}. Each needs id, name, memory_bytes, runtimes; every problem is a
 * validation error naming the profile. Nothing is added unless the whole file is valid. */
int devices_load_file(device_catalog *cat, const char *path, err *e);
/* Same, from a parsed document. */
int devices_load_json(device_catalog *cat, const json_t *doc, err *e);
void devices_free(device_catalog *cat);
size_t devices_count(const device_catalog *cat);
const device_profile *devices_at(const device_catalog *cat, size_t i);
/* Finds a profile by id; NULL if none. */
const device_profile *devices_find(const device_catalog *cat, const char *id);
/* Returns a new JSON object describing p (API.md §8 fields). */
json_t *device_profile_json(const device_profile *p);

/* Names and widths. */
const char *precision_name(precision p);
precision precision_parse(const char *s);
/* Bytes per parameter x 2 (fp32 8, fp16 4, int8 2, int4 1), 0 for unknown. */
int precision_half_bytes(precision p);
/* The precision a safetensors dtype stands for (F32, F16, BF16, I8, U8 ...). */
precision precision_of_dtype(const char *dtype);
/* The precision of a llama.cpp quantization name (Q4_K_M int4, Q8_0 int8, F16 fp16, ...). */
precision precision_of_gguf(const char *quant);
/* The precision a format name's suffix says (safetensors-fp16 fp16), else PREC_UNKNOWN; *base
 * gets the length of the base format name. */
precision precision_of_format(const char *format, size_t *base_len);
/* Expected accuracy change of a quantization from fp32, as a fraction (-0.01 is one point of
 * a 0..1 metric lower): fp32 0, fp16 -0.001, bf16 -0.002, int8 -0.01, int4 -0.04. */
double precision_accuracy_delta(precision p);

/* Weights bytes of params parameters at precision p. */
int64_t devices_weight_bytes(int64_t params, precision p);
/* Parameters inferred from a size at precision p (p unknown: fp32). */
int64_t devices_params_of_size(int64_t size, precision p);
/* Memory needed to run weights of this many bytes. */
int64_t devices_required_memory(int64_t weight_bytes);
/* The memory a model may use on p. */
int64_t devices_headroom(const device_profile *p);
/* True if p lists format (a converted format such as safetensors-fp16 counts as its base). */
bool devices_runs_format(const device_profile *p, const char *format);
/* True if p computes at precision q (unknown precision: true). */
bool devices_supports_precision(const device_profile *p, precision q);
/* True if a model file of format can hold weights at precision q. */
bool format_holds_precision(const char *format, precision q);

/* One package of a version, as the best-package rule sees it. */
typedef struct device_pkg {
    const char *format;
    precision prec; /* PREC_UNKNOWN: taken as fp32 */
    int64_t size_bytes;
} device_pkg;

/* Picks the best of n packages for p: a format p runs, a precision p computes, that fits
 * (required memory of its size <= headroom, size <= storage); among those the widest
 * precision, then the largest. Returns its index, or -1 with every package's reason appended
 * to reasons (a JSON array of strings). */
int devices_pick(const device_profile *p, const device_pkg *pkgs, size_t n, json_t *reasons);

/* The optimization plan of a model for p: candidate targets {quantization, format,
 * expected_size_bytes, expected_accuracy_delta, required_memory_bytes, fits}, for fp16, int8
 * and int4 (each in the model's own format when p runs it and it holds that precision, else p's
 * first runtime that does), recommended first: fitting before not fitting, then the smallest
 * accuracy loss. A new array. */
json_t *devices_plan(const device_profile *p, int64_t params, const char *model_format);

#endif
