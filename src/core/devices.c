/*
 * devices.c: the device catalog (built in, extended by --device-profiles FILE.json) and the
 * rules of devices.h. The built-in catalog is written in the same JSON form a file uses.
 */
#include "core/devices.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Published memory and storage of the base model of each device; runtimes are the model
 * formats its usual stacks load (Core ML, TFLite/LiteRT, ONNX Runtime, ExecuTorch, llama.cpp
 * for gguf, PyTorch/safetensors on laptops and Jetsons), preferred first. */
static const char builtin_json[] =
    "[{\"id\":\"iphone-15-pro\",\"name\":\"Apple iPhone 15 Pro\",\"category\":\"phone\",\"memory_bytes\":8589"
    "934592,\"storage_bytes\":137438953472,\"accelerators\":[\"Apple Neural Engine (A17 Pro, 16-core"
    ")\",\"Apple GPU (6-core)\"],\"runtimes\":[\"coreml\",\"executorch\",\"gguf\",\"onnx\",\"tflite\"],\"precis"
    "ions\":[\"fp32\",\"fp16\",\"bf16\",\"int8\",\"int4\"]},{\"id\":\"iphone-12\",\"name\":\"Apple iPhone 12\",\"ca"
    "tegory\":\"phone\",\"memory_bytes\":4294967296,\"storage_bytes\":68719476736,\"accelerators\":[\"App"
    "le Neural Engine (A14, 16-core)\",\"Apple GPU (4-core)\"],\"runtimes\":[\"coreml\",\"executorch\",\""
    "tflite\",\"onnx\",\"gguf\"],\"precisions\":[\"fp32\",\"fp16\",\"int8\",\"int4\"]},{\"id\":\"pixel-8-pro\",\"na"
    "me\":\"Google Pixel 8 Pro\",\"category\":\"phone\",\"memory_bytes\":12884901888,\"storage_bytes\":137"
    "438953472,\"accelerators\":[\"Google Tensor G3 TPU\",\"Mali-G715 GPU\"],\"runtimes\":[\"tflite\",\"ex"
    "ecutorch\",\"onnx\",\"gguf\"],\"precisions\":[\"fp32\",\"fp16\",\"int8\",\"int4\"]},{\"id\":\"pixel-6a\",\"nam"
    "e\":\"Google Pixel 6a\",\"category\":\"phone\",\"memory_bytes\":6442450944,\"storage_bytes\":13743895"
    "3472,\"accelerators\":[\"Google Tensor TPU\",\"Mali-G78 GPU\"],\"runtimes\":[\"tflite\",\"onnx\",\"exec"
    "utorch\",\"gguf\"],\"precisions\":[\"fp32\",\"fp16\",\"int8\",\"int4\"]},{\"id\":\"galaxy-s24-ultra\",\"name"
    "\":\"Samsung Galaxy S24 Ultra\",\"category\":\"phone\",\"memory_bytes\":12884901888,\"storage_bytes\""
    ":274877906944,\"accelerators\":[\"Qualcomm Hexagon NPU (Snapdragon 8 Gen 3)\",\"Adreno 750 GPU\""
    "],\"runtimes\":[\"tflite\",\"onnx\",\"executorch\",\"gguf\"],\"precisions\":[\"fp32\",\"fp16\",\"int8\",\"int"
    "4\"]},{\"id\":\"galaxy-a54\",\"name\":\"Samsung Galaxy A54 5G\",\"category\":\"phone\",\"memory_bytes\":6"
    "442450944,\"storage_bytes\":137438953472,\"accelerators\":[\"Samsung NPU (Exynos 1380)\",\"Mali-G"
    "68 GPU\"],\"runtimes\":[\"tflite\",\"onnx\"],\"precisions\":[\"fp32\",\"fp16\",\"int8\"]},{\"id\":\"ipad-pro"
    "-m4\",\"name\":\"Apple iPad Pro 11-inch (M4, 256 GB)\",\"category\":\"tablet\",\"memory_bytes\":85899"
    "34592,\"storage_bytes\":274877906944,\"accelerators\":[\"Apple Neural Engine (M4, 16-core)\",\"Ap"
    "ple GPU (10-core)\"],\"runtimes\":[\"coreml\",\"executorch\",\"gguf\",\"onnx\",\"tflite\"],\"precisions\""
    ":[\"fp32\",\"fp16\",\"bf16\",\"int8\",\"int4\"]},{\"id\":\"galaxy-tab-s9\",\"name\":\"Samsung Galaxy Tab S9"
    "\",\"category\":\"tablet\",\"memory_bytes\":8589934592,\"storage_bytes\":137438953472,\"accelerators"
    "\":[\"Qualcomm Hexagon NPU (Snapdragon 8 Gen 2)\",\"Adreno 740 GPU\"],\"runtimes\":[\"tflite\",\"onn"
    "x\",\"executorch\",\"gguf\"],\"precisions\":[\"fp32\",\"fp16\",\"int8\",\"int4\"]},{\"id\":\"macbook-air-m2\""
    ",\"name\":\"Apple MacBook Air (M2, 8 GB)\",\"category\":\"laptop\",\"memory_bytes\":8589934592,\"stor"
    "age_bytes\":274877906944,\"accelerators\":[\"Apple Neural Engine (M2, 16-core)\",\"Apple GPU (8-"
    "core)\"],\"runtimes\":[\"coreml\",\"gguf\",\"safetensors\",\"onnx\",\"pytorch\",\"executorch\"],\"precisio"
    "ns\":[\"fp32\",\"fp16\",\"bf16\",\"int8\",\"int4\"]},{\"id\":\"macbook-pro-m3-max\",\"name\":\"Apple MacBook"
    " Pro 16-inch (M3 Max, 36 GB)\",\"category\":\"laptop\",\"memory_bytes\":38654705664,\"storage_byte"
    "s\":1099511627776,\"accelerators\":[\"Apple Neural Engine (M3 Max, 16-core)\",\"Apple GPU (30-co"
    "re)\"],\"runtimes\":[\"coreml\",\"safetensors\",\"gguf\",\"onnx\",\"pytorch\",\"executorch\"],\"precisions"
    "\":[\"fp32\",\"fp16\",\"bf16\",\"int8\",\"int4\"]},{\"id\":\"thinkpad-x1-carbon-g11\",\"name\":\"Lenovo Thin"
    "kPad X1 Carbon Gen 11 (i7-1365U)\",\"category\":\"laptop\",\"memory_bytes\":17179869184,\"storage_"
    "bytes\":549755813888,\"accelerators\":[\"Intel Iris Xe GPU\"],\"runtimes\":[\"onnx\",\"gguf\",\"safete"
    "nsors\",\"pytorch\",\"tflite\"],\"precisions\":[\"fp32\",\"fp16\",\"bf16\",\"int8\",\"int4\"]},{\"id\":\"xps-1"
    "5-rtx4060\",\"name\":\"Dell XPS 15 9530 (RTX 4060 Laptop 8 GB)\",\"category\":\"laptop\",\"memory_by"
    "tes\":34359738368,\"storage_bytes\":1099511627776,\"accelerators\":[\"NVIDIA GeForce RTX 4060 La"
    "ptop (8 GB)\"],\"runtimes\":[\"safetensors\",\"gguf\",\"onnx\",\"pytorch\"],\"precisions\":[\"fp32\",\"fp1"
    "6\",\"bf16\",\"int8\",\"int4\"]},{\"id\":\"raspberry-pi-5-8gb\",\"name\":\"Raspberry Pi 5 (8 GB)\",\"categ"
    "ory\":\"sbc\",\"memory_bytes\":8589934592,\"storage_bytes\":68719476736,\"accelerators\":[],\"runtim"
    "es\":[\"tflite\",\"onnx\",\"gguf\",\"executorch\",\"pytorch\",\"safetensors\"],\"precisions\":[\"fp32\",\"fp"
    "16\",\"int8\",\"int4\"]},{\"id\":\"raspberry-pi-4-4gb\",\"name\":\"Raspberry Pi 4 Model B (4 GB)\",\"cat"
    "egory\":\"sbc\",\"memory_bytes\":4294967296,\"storage_bytes\":34359738368,\"accelerators\":[],\"runt"
    "imes\":[\"tflite\",\"onnx\",\"gguf\"],\"precisions\":[\"fp32\",\"int8\",\"int4\"]},{\"id\":\"raspberry-pi-ze"
    "ro-2w\",\"name\":\"Raspberry Pi Zero 2 W\",\"category\":\"sbc\",\"memory_bytes\":536870912,\"storage_b"
    "ytes\":17179869184,\"accelerators\":[],\"runtimes\":[\"tflite\",\"onnx\"],\"precisions\":[\"fp32\",\"int"
    "8\"]},{\"id\":\"coral-dev-board\",\"name\":\"Google Coral Dev Board (1 GB)\",\"category\":\"sbc\",\"memo"
    "ry_bytes\":1073741824,\"storage_bytes\":8589934592,\"accelerators\":[\"Google Edge TPU (4 TOPS, "
    "int8 only)\"],\"runtimes\":[\"tflite\"],\"precisions\":[\"int8\"]},{\"id\":\"jetson-orin-nano-8gb\",\"na"
    "me\":\"NVIDIA Jetson Orin Nano 8GB\",\"category\":\"edge-gpu\",\"memory_bytes\":8589934592,\"storage"
    "_bytes\":137438953472,\"accelerators\":[\"NVIDIA Ampere GPU (1024 CUDA, 32 Tensor cores)\"],\"ru"
    "ntimes\":[\"onnx\",\"safetensors\",\"gguf\",\"pytorch\",\"tflite\"],\"precisions\":[\"fp32\",\"fp16\",\"bf16"
    "\",\"int8\",\"int4\"]},{\"id\":\"jetson-agx-orin-64gb\",\"name\":\"NVIDIA Jetson AGX Orin 64GB\",\"categ"
    "ory\":\"edge-gpu\",\"memory_bytes\":68719476736,\"storage_bytes\":68719476736,\"accelerators\":[\"NV"
    "IDIA Ampere GPU (2048 CUDA, 64 Tensor cores)\",\"2x NVDLA v2\"],\"runtimes\":[\"onnx\",\"safetenso"
    "rs\",\"gguf\",\"pytorch\",\"tflite\"],\"precisions\":[\"fp32\",\"fp16\",\"bf16\",\"int8\",\"int4\"]},{\"id\":\"j"
    "etson-nano-4gb\",\"name\":\"NVIDIA Jetson Nano 4GB\",\"category\":\"edge-gpu\",\"memory_bytes\":42949"
    "67296,\"storage_bytes\":17179869184,\"accelerators\":[\"NVIDIA Maxwell GPU (128 CUDA)\"],\"runtim"
    "es\":[\"onnx\",\"pytorch\",\"tflite\",\"gguf\"],\"precisions\":[\"fp32\",\"fp16\",\"int8\",\"int4\"]}]";

struct device_catalog {
    json_t *docs; /* the profiles as JSON objects: the views below point into them */
    device_profile *items;
    size_t n;
};

static void rebuild_views(device_catalog *cat)
{
    size_t n = json_array_size(cat->docs);
    free(cat->items);
    cat->items = calloc(n ? n : 1, sizeof(device_profile));
    cat->n = 0;
    if (!cat->items)
        return;
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(cat->docs, i);
        device_profile *p = &cat->items[cat->n++];
        p->id = json_string_value(json_object_get(o, "id"));
        p->name = json_string_value(json_object_get(o, "name"));
        p->category = json_string_value(json_object_get(o, "category"));
        p->memory_bytes = json_integer_value(json_object_get(o, "memory_bytes"));
        p->storage_bytes = json_integer_value(json_object_get(o, "storage_bytes"));
        struct {
            const char *key;
            const char **dst;
            size_t *n;
        } lists[] = {{"accelerators", p->accelerators, &p->naccelerators},
                     {"runtimes", p->runtimes, &p->nruntimes},
                     {"precisions", p->precisions, &p->nprecisions}};
        for (size_t k = 0; k < 3; k++) {
            json_t *arr = json_object_get(o, lists[k].key);
            size_t j;
            json_t *v;
            json_array_foreach(arr, j, v)
            {
                if (j < DEVICES_LIST_MAX)
                    lists[k].dst[(*lists[k].n)++] = json_string_value(v);
            }
        }
    }
}

static bool id_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.'))
            return false;
    }
    return true;
}

static bool str_list_ok(const json_t *arr, bool precisions)
{
    if (!json_is_array(arr) || json_array_size(arr) > DEVICES_LIST_MAX)
        return false;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        const char *s = json_string_value(v);
        if (!s || !*s || strlen(s) > 128)
            return false;
        if (precisions && precision_parse(s) == PREC_UNKNOWN)
            return false;
    }
    return true;
}

/* Checks one profile object; returns a normalised copy (defaults filled) or NULL with e. */
static json_t *check_profile(const json_t *o, size_t idx, err *e)
{
    char loc[32];
    snprintf(loc, sizeof(loc), "%zu", idx);
    if (!json_is_object(o)) {
        err_field_add(e, "profiles", loc, "type_error", "a profile is an object");
        return NULL;
    }
    static const char *const known[] = {"id",           "name",          "category",
                                        "memory_bytes", "storage_bytes", "accelerators",
                                        "runtimes",     "precisions"};
    const char *k;
    json_t *v;
    size_t before = e->nfields;
    json_object_foreach((json_t *)o, k, v)
    {
        bool ok = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            ok = ok || strcmp(k, known[i]) == 0;
        if (!ok)
            err_field_add(e, "profiles", loc, "extra_forbidden", "unknown field '%.60s'", k);
    }
    const char *id = json_string_value(json_object_get(o, "id"));
    const char *name = json_string_value(json_object_get(o, "name"));
    json_t *mem = json_object_get(o, "memory_bytes"), *sto = json_object_get(o, "storage_bytes");
    if (!id || !id_valid(id))
        err_field_add(e, "profiles", loc, "value_error",
                      "id: 1..64 characters of a-z, 0-9, '-', '_', '.'");
    if (!name || !*name || strlen(name) > 128)
        err_field_add(e, "profiles", loc, "value_error", "name: a string of 1..128 bytes");
    if (!json_is_integer(mem) || json_integer_value(mem) <= 0)
        err_field_add(e, "profiles", loc, "value_error", "memory_bytes: a positive integer");
    if (sto && (!json_is_integer(sto) || json_integer_value(sto) <= 0))
        err_field_add(e, "profiles", loc, "value_error", "storage_bytes: a positive integer");
    json_t *cat = json_object_get(o, "category");
    if (cat && (!json_is_string(cat) || strlen(json_string_value(cat)) > 32))
        err_field_add(e, "profiles", loc, "value_error", "category: a string of up to 32 bytes");
    if (!str_list_ok(json_object_get(o, "runtimes"), false) ||
        json_array_size(json_object_get(o, "runtimes")) == 0)
        err_field_add(e, "profiles", loc, "value_error",
                      "runtimes: a non-empty list of up to 16 format names");
    json_t *acc = json_object_get(o, "accelerators"), *prec = json_object_get(o, "precisions");
    if (acc && !str_list_ok(acc, false))
        err_field_add(e, "profiles", loc, "value_error", "accelerators: a list of strings");
    if (prec && (!str_list_ok(prec, true) || json_array_size(prec) == 0))
        err_field_add(e, "profiles", loc, "value_error",
                      "precisions: a non-empty list of fp32, fp16, bf16, int8, int4");
    if (e->nfields > before || e->kind != ERR_NONE)
        return NULL;
    json_t *out = json_deep_copy(o);
    if (!cat)
        json_object_set_new(out, "category", json_string("other"));
    if (!sto)
        json_object_set_new(out, "storage_bytes", json_integer(json_integer_value(mem)));
    if (!acc)
        json_object_set_new(out, "accelerators", json_array());
    if (!prec)
        json_object_set_new(out, "precisions", json_pack("[s,s,s,s]", "fp32", "fp16", "int8",
                                                         "int4"));
    return out;
}

int devices_load_json(device_catalog *cat, const json_t *doc, err *e)
{
    const json_t *arr = json_is_object(doc) ? json_object_get(doc, "profiles") : doc;
    if (!json_is_array(arr))
        return err_field_add(e, "profiles", NULL, "type_error",
                             "a list of profiles, or {\"profiles\": [...]}");
    if (json_array_size(cat->docs) + json_array_size(arr) > DEVICES_MAX)
        return err_field_add(e, "profiles", NULL, "value_error", "at most %d profiles",
                             DEVICES_MAX);
    json_t *good = json_array();
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        json_t *p = check_profile(o, i, e);
        if (p)
            json_array_append_new(good, p);
    }
    if (e->kind != ERR_NONE) {
        json_decref(good);
        return -1;
    }
    json_array_foreach(good, i, o)
    {
        const char *id = json_string_value(json_object_get(o, "id"));
        size_t j;
        json_t *old;
        bool replaced = false;
        json_array_foreach(cat->docs, j, old)
        {
            if (strcmp(json_string_value(json_object_get(old, "id")), id) == 0) {
                json_array_set(cat->docs, j, o);
                replaced = true;
                break;
            }
        }
        if (!replaced)
            json_array_append(cat->docs, o);
    }
    json_decref(good);
    rebuild_views(cat);
    return 0;
}

device_catalog *devices_builtin(void)
{
    device_catalog *cat = calloc(1, sizeof(*cat));
    if (!cat)
        return NULL;
    cat->docs = json_array();
    json_error_t je;
    json_t *doc = json_loads(builtin_json, 0, &je);
    err e = {0};
    if (!doc || devices_load_json(cat, doc, &e) < 0) {
        json_decref(doc);
        devices_free(cat);
        return NULL;
    }
    json_decref(doc);
    return cat;
}

int devices_load_file(device_catalog *cat, const char *path, err *e)
{
    json_error_t je;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        return err_set(e, ERR_VALIDATION, "%s: line %d: %s", path, je.line, je.text);
    int rc = devices_load_json(cat, doc, e);
    json_decref(doc);
    return rc;
}

void devices_free(device_catalog *cat)
{
    if (!cat)
        return;
    json_decref(cat->docs);
    free(cat->items);
    free(cat);
}

size_t devices_count(const device_catalog *cat)
{
    return cat ? cat->n : 0;
}

const device_profile *devices_at(const device_catalog *cat, size_t i)
{
    return cat && i < cat->n ? &cat->items[i] : NULL;
}

const device_profile *devices_find(const device_catalog *cat, const char *id)
{
    for (size_t i = 0; cat && id && i < cat->n; i++)
        if (strcmp(cat->items[i].id, id) == 0)
            return &cat->items[i];
    return NULL;
}

static json_t *str_array(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

json_t *device_profile_json(const device_profile *p)
{
    return json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:o, s:o, s:o}", "id", p->id, "name",
                     p->name, "category", p->category, "memory_bytes",
                     (json_int_t)p->memory_bytes, "storage_bytes", (json_int_t)p->storage_bytes,
                     "memory_headroom_bytes", (json_int_t)devices_headroom(p), "accelerators",
                     str_array(p->accelerators, p->naccelerators), "runtimes",
                     str_array(p->runtimes, p->nruntimes), "precisions",
                     str_array(p->precisions, p->nprecisions));
}

/* ---- precisions ---- */

static const char *const prec_names[] = {"unknown", "fp32", "fp16", "bf16", "int8", "int4"};

const char *precision_name(precision p)
{
    return prec_names[p];
}

precision precision_parse(const char *s)
{
    for (int i = 1; s && i <= PREC_INT4; i++)
        if (strcmp(s, prec_names[i]) == 0)
            return (precision)i;
    return PREC_UNKNOWN;
}

int precision_half_bytes(precision p)
{
    static const int hb[] = {0, 8, 4, 4, 2, 1};
    return hb[p];
}

precision precision_of_dtype(const char *d)
{
    if (!d)
        return PREC_UNKNOWN;
    if (strcmp(d, "F32") == 0 || strcmp(d, "F64") == 0 || strcmp(d, "I32") == 0 ||
        strcmp(d, "I64") == 0)
        return PREC_FP32;
    if (strcmp(d, "F16") == 0)
        return PREC_FP16;
    if (strcmp(d, "BF16") == 0)
        return PREC_BF16;
    if (strcmp(d, "I8") == 0 || strcmp(d, "U8") == 0 || strncmp(d, "F8", 2) == 0)
        return PREC_INT8;
    if (strcmp(d, "I4") == 0 || strcmp(d, "U4") == 0 || strncmp(d, "F4", 2) == 0)
        return PREC_INT4;
    return PREC_UNKNOWN;
}

precision precision_of_gguf(const char *q)
{
    if (!q)
        return PREC_UNKNOWN;
    if (strcmp(q, "F32") == 0 || strcmp(q, "ALL_F32") == 0)
        return PREC_FP32;
    if (strcmp(q, "F16") == 0 || strcmp(q, "MOSTLY_F16") == 0)
        return PREC_FP16;
    if (strcmp(q, "BF16") == 0 || strcmp(q, "MOSTLY_BF16") == 0)
        return PREC_BF16;
    const char *s = q;
    if (strncmp(s, "MOSTLY_", 7) == 0)
        s += 7;
    if (strncmp(s, "IQ", 2) == 0)
        s++;
    if (s[0] == 'Q' && s[1] >= '1' && s[1] <= '9')
        return s[1] >= '5' ? PREC_INT8 : PREC_INT4; /* Q5/Q6/Q8 near 8-bit quality */
    return PREC_UNKNOWN;
}

precision precision_of_format(const char *format, size_t *base_len)
{
    size_t n = strlen(format);
    *base_len = n;
    const char *dash = strrchr(format, '-');
    if (!dash)
        return PREC_UNKNOWN;
    precision p = precision_parse(dash + 1);
    if (p != PREC_UNKNOWN)
        *base_len = (size_t)(dash - format);
    return p;
}

double precision_accuracy_delta(precision p)
{
    static const double d[] = {0.0, 0.0, -0.001, -0.002, -0.01, -0.04};
    return d[p];
}

/* ---- memory ---- */

int64_t devices_weight_bytes(int64_t params, precision p)
{
    int hb = precision_half_bytes(p == PREC_UNKNOWN ? PREC_FP32 : p);
    if (params <= 0)
        return 0;
    if (params > INT64_MAX / 8)
        return INT64_MAX / 2;
    return (params * hb + 1) / 2;
}

int64_t devices_params_of_size(int64_t size, precision p)
{
    int hb = precision_half_bytes(p == PREC_UNKNOWN ? PREC_FP32 : p);
    if (size <= 0)
        return 0;
    if (size > INT64_MAX / 2)
        return INT64_MAX / 8;
    return size * 2 / hb;
}

int64_t devices_required_memory(int64_t w)
{
    if (w <= 0)
        return DEVICES_OVERHEAD_FIXED;
    if (w > INT64_MAX / 200)
        return INT64_MAX / 2;
    return w + (w * DEVICES_OVERHEAD_PCT + 99) / 100 + DEVICES_OVERHEAD_FIXED;
}

int64_t devices_headroom(const device_profile *p)
{
    return p->memory_bytes / 100 * DEVICES_HEADROOM_PCT +
           p->memory_bytes % 100 * DEVICES_HEADROOM_PCT / 100;
}

bool devices_runs_format(const device_profile *p, const char *format)
{
    size_t base;
    precision_of_format(format, &base);
    for (size_t i = 0; i < p->nruntimes; i++)
        if (strlen(p->runtimes[i]) == base && strncmp(p->runtimes[i], format, base) == 0)
            return true;
    return false;
}

bool devices_supports_precision(const device_profile *p, precision q)
{
    if (q == PREC_UNKNOWN)
        return true;
    for (size_t i = 0; i < p->nprecisions; i++)
        if (precision_parse(p->precisions[i]) == q)
            return true;
    return false;
}

bool format_holds_precision(const char *format, precision q)
{
    size_t base;
    precision fixed = precision_of_format(format, &base);
    if (fixed != PREC_UNKNOWN)
        return fixed == q;
    /* safetensors and pytorch checkpoints hold float weights; integer formats need the
     * runtime's own quantized layout (gguf, onnx, tflite, coreml, executorch). */
    if (strncmp(format, "safetensors", base) == 0 && base == 11)
        return q == PREC_FP32 || q == PREC_FP16 || q == PREC_BF16;
    if (strncmp(format, "pytorch", base) == 0 && base == 7)
        return q != PREC_INT4;
    if (strncmp(format, "tflite", base) == 0 && base == 6)
        return q != PREC_BF16 && q != PREC_INT4;
    return true;
}

/* ---- choosing ---- */

static bool fits(const device_profile *p, int64_t size, int64_t *need)
{
    *need = devices_required_memory(size);
    return *need <= devices_headroom(p) && size <= p->storage_bytes;
}

int devices_pick(const device_profile *p, const device_pkg *pkgs, size_t n, json_t *reasons)
{
    int best = -1;
    for (size_t i = 0; i < n; i++) {
        const device_pkg *k = &pkgs[i];
        precision q = k->prec == PREC_UNKNOWN ? PREC_FP32 : k->prec;
        int64_t need = 0;
        const char *why = NULL;
        char buf[256];
        if (!devices_runs_format(p, k->format)) {
            snprintf(buf, sizeof(buf), "package %zu (%s): %s does not run %s", i + 1, k->format,
                     p->id, k->format);
            why = buf;
        } else if (!devices_supports_precision(p, k->prec)) {
            snprintf(buf, sizeof(buf), "package %zu (%s): %s does not compute at %s", i + 1,
                     k->format, p->id, precision_name(k->prec));
            why = buf;
        } else if (!fits(p, k->size_bytes, &need)) {
            if (k->size_bytes > p->storage_bytes)
                snprintf(buf, sizeof(buf),
                         "package %zu (%s, %s): %lld bytes exceed the device's storage of %lld",
                         i + 1, k->format, precision_name(q), (long long)k->size_bytes,
                         (long long)p->storage_bytes);
            else
                snprintf(buf, sizeof(buf),
                         "package %zu (%s, %s): needs %lld bytes of memory, the device has "
                         "%lld of headroom",
                         i + 1, k->format, precision_name(q), (long long)need,
                         (long long)devices_headroom(p));
            why = buf;
        }
        if (why) {
            if (reasons)
                json_array_append_new(reasons, json_string(why));
            continue;
        }
        if (best < 0) {
            best = (int)i;
            continue;
        }
        const device_pkg *b = &pkgs[best];
        int hq = precision_half_bytes(q),
            hb = precision_half_bytes(b->prec == PREC_UNKNOWN ? PREC_FP32 : b->prec);
        if (hq > hb || (hq == hb && k->size_bytes > b->size_bytes))
            best = (int)i;
    }
    return best;
}

static const char *target_format(const device_profile *p, const char *model_format, precision q)
{
    if (model_format && devices_runs_format(p, model_format) &&
        format_holds_precision(model_format, q))
        return model_format;
    for (size_t i = 0; i < p->nruntimes; i++)
        if (format_holds_precision(p->runtimes[i], q))
            return p->runtimes[i];
    return NULL;
}

static int cmp_target(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int fx = json_is_true(json_object_get(x, "fits")), fy = json_is_true(json_object_get(y, "fits"));
    if (fx != fy)
        return fy - fx;
    double dx = json_real_value(json_object_get(x, "expected_accuracy_delta")),
           dy = json_real_value(json_object_get(y, "expected_accuracy_delta"));
    return dx > dy ? -1 : dx < dy ? 1 : 0;
}

json_t *devices_plan(const device_profile *p, int64_t params, const char *model_format)
{
    static const precision qs[] = {PREC_FP16, PREC_INT8, PREC_INT4};
    json_t *items[3];
    size_t n = 0;
    for (size_t i = 0; i < 3; i++) {
        precision q = qs[i];
        if (!devices_supports_precision(p, q))
            continue;
        const char *fmt = target_format(p, model_format, q);
        if (!fmt)
            continue;
        int64_t size = devices_weight_bytes(params, q), need = 0;
        bool ok = fits(p, size, &need);
        items[n++] = json_pack("{s:s, s:s, s:I, s:f, s:I, s:b}", "quantization",
                               precision_name(q), "format", fmt, "expected_size_bytes",
                               (json_int_t)size, "expected_accuracy_delta",
                               precision_accuracy_delta(q), "required_memory_bytes",
                               (json_int_t)need, "fits", ok);
    }
    qsort(items, n, sizeof(items[0]), cmp_target);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
        json_object_set_new(items[i], "recommended",
                            json_boolean(i == 0 && json_is_true(json_object_get(items[i], "fits"))));
        json_array_append_new(out, items[i]);
    }
    return out;
}
