/*
 * formats.h: file formats and media types from paths (API.md §6), and header sniffing for
 * .safetensors and .gguf weights. Every function is pure and thread-safe.
 */
#ifndef CAIRN_CORE_FORMATS_H
#define CAIRN_CORE_FORMATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/err.h"

#define FORMAT_SNIFF_MAX (8u << 20)         /* the most a caller buffers to sniff a header */
#define SAFETENSORS_HEADER_MAX (100u << 20) /* the longest .safetensors JSON header */
/* Most JSON values a .safetensors header may hold, counted as its '{', '[' and ',' outside
 * strings: parsed, each costs about 100 bytes, so a 100 MiB header of tiny tensors would take
 * 1.5 GiB; this keeps one parse near 200 MiB (about 130,000 tensors, strings free). */
#define SAFETENSORS_VALUES_MAX (1u << 20)

#define GGUF_STRING_MAX (1u << 20) /* longest GGUF string (key, value, tensor name) */
#define GGUF_ARRAY_MAX (16u << 20) /* most elements in one GGUF array */
#define GGUF_COUNT_MAX 1000000u    /* most tensors, and most kv pairs, in one GGUF header */
#define GGUF_ARRAY_DEPTH_MAX 4     /* arrays of arrays nest at most this deep */
#define GGUF_DIMS_MAX 8            /* most dimensions of one tensor */

/*
 * Returns the format of a path from the extension of its last segment, in any case:
 * .safetensors safetensors, .gguf gguf, .onnx onnx, .tflite tflite, .mlmodel/.mlpackage coreml,
 * .pt/.pth pytorch, .pte executorch, .bin binary; another extension made of [A-Za-z0-9_-] and
 * shorter than cap comes back lowercased in buf (cap >= 32); no extension (or a dotfile, or an
 * odd one) gives "binary". The result is a static string or buf.
 */
const char *format_of_path(const char *path, char *buf, size_t cap);

/* Returns the static media type of a path: .json application/json, .md text/markdown,
 * .txt text/plain, .yaml/.yml application/yaml, .py text/x-python, else
 * application/octet-stream. */
const char *media_type_of_path(const char *path);

/*
 * Parses the header of a .safetensors file of file_size bytes from its first n bytes (n <=
 * file_size; the whole header must be among them): a u64 little-endian length H, then H bytes
 * of JSON {"name": {"dtype", "shape", "data_offsets"}, "__metadata__": {...}}. Returns a new
 * object the caller json_decref's:
 * {"format":"safetensors","tensor_count":N,"dtypes":{"F16":n,...},"parameter_count":P,
 *  "header_bytes":H} (H excludes the 8-byte length). Returns NULL with e a validation error at
 * ["body","file"] when the header is cut off by n or the file, longer than
 * SAFETENSORS_HEADER_MAX or holding more than SAFETENSORS_VALUES_MAX values, not a JSON
 * object, names an unknown dtype, has a shape that is not non-negative integers or whose size
 * overflows 64 bits, data_offsets that disagree with shape and dtype, or data_offsets that do
 * not tile the data area exactly (the file_size - 8 - H bytes after the header: every byte in
 * exactly one tensor, no gap, overlap or overrun).
 */
json_t *format_parse_safetensors(const uint8_t *p, size_t n, uint64_t file_size, err *e);

/*
 * Parses a GGUF v2/v3 header from its first n bytes (complete: n is the whole file). Returns a
 * new object the caller json_decref's: {"format":"gguf","gguf_version":V,"tensor_count":N,
 * "architecture":..., "quantization":..., "context_length":..., "parameter_count":P,
 * "name":...}; architecture, context_length and name appear when the file has them (and they
 * are short printable UTF-8), quantization is general.file_type's llama.cpp name or else the
 * ggml type most tensors use. When !complete and n cuts the header anywhere after its 24 fixed
 * bytes, the fields read so far come back and parameter_count is omitted. Returns NULL with e a
 * validation error at ["body","file"] for a bad magic or version, a truncated header when
 * complete, or a hostile value: see the GGUF_*_MAX limits above.
 */
json_t *format_parse_gguf(const uint8_t *p, size_t n, bool complete, err *e);

/* Returns the static size_category of a parameter count: <100M tiny, <1B small, <10B medium,
 * <100B large, else xlarge. */
const char *format_size_category(uint64_t params);

#endif
