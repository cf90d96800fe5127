/*
 * test_devices.c: the device catalog and the rules of core/devices.c (memory at each
 * precision, fit against headroom, formats, the best package, the optimization plan).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "core/devices.h"

#define MiB (1ll << 20)
#define GiB (1ll << 30)

static void builtin_catalog_is_real_and_complete(void **state)
{
    (void)state;
    device_catalog *cat = devices_builtin();
    assert_non_null(cat);
    assert_true(devices_count(cat) >= 15);
    const char *cats[] = {"phone", "tablet", "laptop", "sbc", "edge-gpu"};
    for (size_t k = 0; k < 5; k++) {
        bool seen = false;
        for (size_t i = 0; i < devices_count(cat); i++)
            seen = seen || strcmp(devices_at(cat, i)->category, cats[k]) == 0;
        assert_true(seen);
    }
    for (size_t i = 0; i < devices_count(cat); i++) {
        const device_profile *p = devices_at(cat, i);
        assert_true(p->memory_bytes > 0);
        assert_true(p->storage_bytes > 0);
        assert_true(p->nruntimes > 0);
        assert_true(p->nprecisions > 0);
        assert_ptr_equal(devices_find(cat, p->id), p);
    }
    const device_profile *pi = devices_find(cat, "raspberry-pi-5-8gb");
    assert_non_null(pi);
    assert_int_equal(pi->memory_bytes, 8 * GiB);
    assert_null(devices_find(cat, "no-such-device"));
    devices_free(cat);
}

static void file_profiles_extend_and_replace(void **state)
{
    (void)state;
    device_catalog *cat = devices_builtin();
    size_t n0 = devices_count(cat);
    err e = {0};
    json_t *doc = json_loads("{\"profiles\":[{\"id\":\"tiny\",\"name\":\"Tiny\",\"memory_bytes\":"
                             "1000,\"runtimes\":[\"tflite\"]},{\"id\":\"pixel-6a\",\"name\":"
                             "\"Pixel 6a (16 GB)\",\"memory_bytes\":17179869184,\"runtimes\":"
                             "[\"onnx\"]}]}",
                             0, NULL);
    assert_int_equal(devices_load_json(cat, doc, &e), 0);
    json_decref(doc);
    assert_int_equal(devices_count(cat), n0 + 1);
    const device_profile *t = devices_find(cat, "tiny");
    assert_non_null(t);
    assert_int_equal(t->storage_bytes, 1000); /* defaults to the memory */
    assert_string_equal(t->category, "other");
    assert_int_equal(devices_find(cat, "pixel-6a")->memory_bytes, 16 * GiB);
    /* A bad file changes nothing and names every problem. */
    doc = json_loads("[{\"id\":\"ok-one\",\"name\":\"x\",\"memory_bytes\":5,\"runtimes\":[\"onnx\"]},"
                     "{\"id\":\"Bad Id\",\"name\":\"\",\"memory_bytes\":-1,\"runtimes\":[],"
                     "\"precisions\":[\"fp12\"],\"colour\":1}]",
                     0, NULL);
    assert_int_equal(devices_load_json(cat, doc, &e), -1);
    json_decref(doc);
    assert_int_equal(e.kind, ERR_VALIDATION);
    assert_true(e.nfields >= 6);
    assert_string_equal(e.fields[0].loc[1], "1");
    assert_null(devices_find(cat, "ok-one"));
    devices_free(cat);
}

static void memory_per_precision(void **state)
{
    (void)state;
    int64_t params = 7000000000ll;
    assert_int_equal(devices_weight_bytes(params, PREC_FP32), 28000000000ll);
    assert_int_equal(devices_weight_bytes(params, PREC_FP16), 14000000000ll);
    assert_int_equal(devices_weight_bytes(params, PREC_BF16), 14000000000ll);
    assert_int_equal(devices_weight_bytes(params, PREC_INT8), 7000000000ll);
    assert_int_equal(devices_weight_bytes(params, PREC_INT4), 3500000000ll);
    assert_int_equal(devices_weight_bytes(3, PREC_INT4), 2); /* rounded up */
    assert_int_equal(devices_params_of_size(400, PREC_FP32), 100);
    assert_int_equal(devices_params_of_size(400, PREC_UNKNOWN), 100);
    assert_int_equal(devices_params_of_size(400, PREC_INT4), 800);
    /* 20% plus 8 MiB. */
    assert_int_equal(devices_required_memory(100 * MiB), 128 * MiB);
    assert_int_equal(devices_required_memory(0), 8 * MiB);
    device_profile p = {.id = "x", .memory_bytes = 10 * GiB};
    assert_int_equal(devices_headroom(&p), 7 * GiB);
}

static void precisions_from_headers(void **state)
{
    (void)state;
    assert_int_equal(precision_of_dtype("F32"), PREC_FP32);
    assert_int_equal(precision_of_dtype("BF16"), PREC_BF16);
    assert_int_equal(precision_of_dtype("I8"), PREC_INT8);
    assert_int_equal(precision_of_gguf("Q4_K_M"), PREC_INT4);
    assert_int_equal(precision_of_gguf("Q8_0"), PREC_INT8);
    assert_int_equal(precision_of_gguf("IQ2_XS"), PREC_INT4);
    assert_int_equal(precision_of_gguf("F16"), PREC_FP16);
    assert_int_equal(precision_of_gguf("weird"), PREC_UNKNOWN);
    size_t base = 0;
    assert_int_equal(precision_of_format("safetensors-fp16", &base), PREC_FP16);
    assert_int_equal(base, 11);
    assert_int_equal(precision_of_format("onnx", &base), PREC_UNKNOWN);
    assert_int_equal(base, 4);
    assert_true(precision_accuracy_delta(PREC_INT4) < precision_accuracy_delta(PREC_INT8));
    assert_true(precision_accuracy_delta(PREC_INT8) < precision_accuracy_delta(PREC_FP16));
    assert_true(format_holds_precision("safetensors", PREC_BF16));
    assert_false(format_holds_precision("safetensors", PREC_INT4));
    assert_false(format_holds_precision("safetensors-bf16", PREC_FP16));
    assert_true(format_holds_precision("gguf", PREC_INT4));
}

static device_profile mk(const char *id, int64_t mem, const char *rt1, const char *rt2)
{
    device_profile p = {.id = id, .name = id, .category = "test", .memory_bytes = mem,
                        .storage_bytes = 100 * GiB};
    p.runtimes[p.nruntimes++] = rt1;
    if (rt2)
        p.runtimes[p.nruntimes++] = rt2;
    const char *all[] = {"fp32", "fp16", "bf16", "int8", "int4"};
    for (size_t i = 0; i < 5; i++)
        p.precisions[p.nprecisions++] = all[i];
    return p;
}

static void pick_the_widest_package_that_fits(void **state)
{
    (void)state;
    device_pkg pk[] = {
        {"safetensors", PREC_FP32, 400 * MiB},
        {"safetensors-fp16", PREC_FP16, 200 * MiB},
        {"gguf", PREC_INT4, 50 * MiB},
        {"onnx", PREC_FP32, 400 * MiB},
    };
    device_profile big = mk("big", 8 * GiB, "safetensors", "gguf");
    device_profile small = mk("small", 512 * MiB, "safetensors", "gguf");
    device_profile tiny = mk("tiny", 128 * MiB, "gguf", NULL);
    device_profile none = mk("none", 64 * MiB, "gguf", "tflite");
    assert_int_equal(devices_pick(&big, pk, 4, NULL), 0);
    /* 400 MiB fp32 needs 488 MiB > 358 MiB headroom: fp16 (248 MiB) is chosen. */
    assert_int_equal(devices_pick(&small, pk, 4, NULL), 1);
    assert_int_equal(devices_pick(&tiny, pk, 4, NULL), 2);
    json_t *why = json_array();
    assert_int_equal(devices_pick(&none, pk, 4, why), -1);
    assert_int_equal(json_array_size(why), 4);
    assert_non_null(strstr(json_string_value(json_array_get(why, 0)), "does not run"));
    assert_non_null(strstr(json_string_value(json_array_get(why, 2)), "headroom"));
    json_decref(why);
    /* A device that does not compute at bf16 skips a bf16 package. */
    device_profile nobf = mk("nobf", 8 * GiB, "safetensors", NULL);
    nobf.nprecisions = 0;
    nobf.precisions[nobf.nprecisions++] = "fp16";
    device_pkg bf[] = {{"safetensors-bf16", PREC_BF16, 10}, {"safetensors-fp16", PREC_FP16, 10}};
    assert_int_equal(devices_pick(&nobf, bf, 2, NULL), 1);
}

static void plan_recommends_the_widest_fit_first(void **state)
{
    (void)state;
    /* 1B parameters: fp16 2 GB, int8 1 GB, int4 0.5 GB. */
    device_profile p = mk("p", 2 * GiB, "tflite", "gguf"); /* headroom 1.4 GiB */
    json_t *plan = devices_plan(&p, 1000000000ll, "safetensors");
    assert_int_equal(json_array_size(plan), 3);
    json_t *first = json_array_get(plan, 0);
    assert_string_equal(json_string_value(json_object_get(first, "quantization")), "int8");
    assert_string_equal(json_string_value(json_object_get(first, "format")), "tflite");
    assert_true(json_is_true(json_object_get(first, "fits")));
    assert_true(json_is_true(json_object_get(first, "recommended")));
    assert_int_equal(json_integer_value(json_object_get(first, "expected_size_bytes")),
                     1000000000ll);
    json_t *second = json_array_get(plan, 1);
    assert_string_equal(json_string_value(json_object_get(second, "quantization")), "int4");
    assert_string_equal(json_string_value(json_object_get(second, "format")), "gguf");
    json_t *last = json_array_get(plan, 2);
    assert_string_equal(json_string_value(json_object_get(last, "quantization")), "fp16");
    assert_false(json_is_true(json_object_get(last, "fits")));
    json_decref(plan);
    /* The model's own format is kept when the device runs it. */
    device_profile g = mk("g", 64 * GiB, "tflite", "gguf");
    plan = devices_plan(&g, 1000000ll, "gguf");
    assert_string_equal(json_string_value(json_object_get(json_array_get(plan, 0), "format")),
                        "gguf");
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(plan, 0), "quantization")), "fp16");
    json_decref(plan);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(builtin_catalog_is_real_and_complete),
        cmocka_unit_test(file_profiles_extend_and_replace),
        cmocka_unit_test(memory_per_precision),
        cmocka_unit_test(precisions_from_headers),
        cmocka_unit_test(pick_the_widest_package_that_fits),
        cmocka_unit_test(plan_recommends_the_widest_fit_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
