/*
 * test_fp16.c: binary32 -> fp16 / bf16 rounding of core/fp16.c: round to nearest even at
 * every boundary, infinities, NaNs, overflow, subnormals and signed zeros, and a million
 * random values against the compiler's own _Float16 conversion and a nearest-neighbour check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <string.h>
#include <cmocka.h>

#include "core/fp16.h"

static uint32_t bits(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    return x;
}

static float flt(uint32_t x)
{
    float f;
    memcpy(&f, &x, 4);
    return f;
}

static void fp16_vectors(void **state)
{
    (void)state;
    assert_int_equal(fp16_from_f32_bits(bits(1.0f)), 0x3c00);
    assert_int_equal(fp16_from_f32_bits(bits(-2.0f)), 0xc000);
    assert_int_equal(fp16_from_f32_bits(bits(0.0f)), 0x0000);
    assert_int_equal(fp16_from_f32_bits(bits(-0.0f)), 0x8000);
    assert_int_equal(fp16_from_f32_bits(bits(65504.0f)), 0x7bff);   /* largest finite */
    assert_int_equal(fp16_from_f32_bits(bits(65519.0f)), 0x7bff);   /* below the midpoint */
    assert_int_equal(fp16_from_f32_bits(bits(65520.0f)), 0x7c00);   /* tie: even is infinity */
    assert_int_equal(fp16_from_f32_bits(bits(1e10f)), 0x7c00);
    assert_int_equal(fp16_from_f32_bits(bits(-1e10f)), 0xfc00);
    assert_int_equal(fp16_from_f32_bits(bits(INFINITY)), 0x7c00);
    assert_int_equal(fp16_from_f32_bits(bits(-INFINITY)), 0xfc00);
    /* NaNs stay NaNs (never infinity), quiet, sign kept; even a payload only in low bits. */
    uint16_t n = fp16_from_f32_bits(0x7f800001u);
    assert_int_equal(n & 0x7c00, 0x7c00);
    assert_true((n & 0x3ff) != 0);
    assert_int_equal(fp16_from_f32_bits(0xffc00000u) & 0x8000, 0x8000);
    /* Ties to even in the normal range: 1 + 2^-11 is halfway between 1 and 1 + 2^-10. */
    assert_int_equal(fp16_from_f32_bits(bits(1.0f + 0x1p-11f)), 0x3c00);
    assert_int_equal(fp16_from_f32_bits(bits(1.0f + 3 * 0x1p-11f)), 0x3c02);
    assert_int_equal(fp16_from_f32_bits(bits(1.0f + 0x1p-11f + 0x1p-20f)), 0x3c01);
    /* Subnormals: 2^-24 is the smallest, 2^-25 ties to zero, 3 * 2^-25 ties up to 2. */
    assert_int_equal(fp16_from_f32_bits(bits(0x1p-14f)), 0x0400); /* smallest normal */
    assert_int_equal(fp16_from_f32_bits(bits(0x1p-15f)), 0x0200);
    assert_int_equal(fp16_from_f32_bits(bits(0x1p-24f)), 0x0001);
    assert_int_equal(fp16_from_f32_bits(bits(0x1p-25f)), 0x0000);
    assert_int_equal(fp16_from_f32_bits(bits(-0x1p-25f)), 0x8000);
    assert_int_equal(fp16_from_f32_bits(bits(0x1p-25f + 0x1p-40f)), 0x0001);
    assert_int_equal(fp16_from_f32_bits(bits(3 * 0x1p-25f)), 0x0002);
    assert_int_equal(fp16_from_f32_bits(bits(0x1p-26f)), 0x0000);
    /* Rounding up from the largest subnormal gives the smallest normal. */
    assert_int_equal(fp16_from_f32_bits(bits(0x1p-14f - 0x1p-26f)), 0x0400);
    assert_int_equal(fp16_from_f32_bits(0x00000001u), 0x0000); /* binary32 subnormal */
    assert_int_equal(fp16_from_f32_bits(0x80000001u), 0x8000);
    /* Widening back is exact. */
    assert_int_equal(f32_bits_from_fp16(0x0001), bits(0x1p-24f));
    assert_int_equal(f32_bits_from_fp16(0x03ff), bits(1023 * 0x1p-24f));
    assert_int_equal(f32_bits_from_fp16(0x7bff), bits(65504.0f));
    assert_int_equal(f32_bits_from_fp16(0xfc00), bits(-INFINITY));
}

static void bf16_vectors(void **state)
{
    (void)state;
    assert_int_equal(bf16_from_f32_bits(bits(1.0f)), 0x3f80);
    assert_int_equal(bf16_from_f32_bits(bits(1.0f + 0x1p-8f)), 0x3f80); /* tie to even */
    assert_int_equal(bf16_from_f32_bits(bits(1.0f + 3 * 0x1p-8f)), 0x3f82);
    assert_int_equal(bf16_from_f32_bits(bits(1.0f + 0x1p-8f + 0x1p-20f)), 0x3f81);
    assert_int_equal(bf16_from_f32_bits(0x7f7fffffu), 0x7f80); /* FLT_MAX rounds to inf */
    assert_int_equal(bf16_from_f32_bits(bits(INFINITY)), 0x7f80);
    assert_int_equal(bf16_from_f32_bits(bits(-INFINITY)), 0xff80);
    uint16_t n = bf16_from_f32_bits(0x7f800001u);
    assert_int_equal(n & 0x7f80, 0x7f80);
    assert_true((n & 0x7f) != 0);
    assert_int_equal(bf16_from_f32_bits(0xff800001u) & 0x8000, 0x8000);
    assert_int_equal(bf16_from_f32_bits(0x00000001u), 0x0000); /* subnormal rounds to zero */
    assert_int_equal(bf16_from_f32_bits(0x00008000u), 0x0000); /* tie to even */
    assert_int_equal(bf16_from_f32_bits(0x00018000u), 0x0002); /* tie to even, up */
    assert_int_equal(bf16_from_f32_bits(0x007fffffu), 0x0080); /* up to the smallest normal */
    assert_int_equal(bf16_from_f32_bits(bits(-0.0f)), 0x8000);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t next32(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* |x - decode(h)| is minimal over h's neighbours, and a tie picks the even one. */
static void check_nearest(uint32_t x, uint16_t h, uint32_t (*dec)(uint16_t))
{
    double v = flt(x);
    double d = fabs(v - (double)flt(dec(h)));
    uint16_t mag = h & 0x7fff, sign = h & 0x8000;
    uint16_t nb[2] = {(uint16_t)(mag ? mag - 1 : 0), (uint16_t)(mag + 1)};
    for (int k = 0; k < 2; k++) {
        uint16_t o = (uint16_t)(sign | nb[k]);
        if (o == h)
            continue;
        double dn = fabs(v - (double)flt(dec(o)));
        if (isnan(dn))
            continue;
        if (dn < d)
            fail_msg("0x%08x -> 0x%04x, but 0x%04x is nearer", x, h, o);
        if (dn == d && (h & 1))
            fail_msg("0x%08x -> 0x%04x on a tie, but 0x%04x is even", x, h, o);
    }
}

static void random_values(void **state)
{
    (void)state;
    for (int i = 0; i < 1000000; i++) {
        uint32_t x = next32();
        /* Half of the values in fp16's range, where rounding matters most. */
        if (i & 1)
            x = (x & 0x807fffffu) | ((uint32_t)(100 + next32() % 45) << 23);
        float f = flt(x);
        uint16_t h = fp16_from_f32_bits(x), b = bf16_from_f32_bits(x);
        if (isnan(f)) {
            assert_true((h & 0x7c00) == 0x7c00 && (h & 0x3ff));
            assert_true((b & 0x7f80) == 0x7f80 && (b & 0x7f));
            continue;
        }
#ifdef __FLT16_MAX__
        _Float16 ref = (_Float16)f;
        uint16_t rb;
        memcpy(&rb, &ref, 2);
        if (rb != h)
            fail_msg("0x%08x: fp16 0x%04x, the compiler says 0x%04x", x, h, rb);
#endif
        if ((h & 0x7c00) != 0x7c00)
            check_nearest(x, h, f32_bits_from_fp16);
        if ((b & 0x7f80) != 0x7f80)
            check_nearest(x, b, f32_bits_from_bf16);
        /* Round trip of representable values is exact. */
        assert_int_equal(fp16_from_f32_bits(f32_bits_from_fp16(h)), h);
        assert_int_equal(bf16_from_f32_bits(f32_bits_from_bf16(b)), b);
    }
}

static void buffer_conversion(void **state)
{
    (void)state;
    uint8_t in[8] = {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0}; /* 1.0f, -2.0f LE */
    uint8_t out[4];
    fp16_convert_le(out, in, 2, 0);
    assert_memory_equal(out, ((uint8_t[]){0x00, 0x3c, 0x00, 0xc0}), 4);
    fp16_convert_le(out, in, 2, 1);
    assert_memory_equal(out, ((uint8_t[]){0x80, 0x3f, 0x00, 0xc0}), 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fp16_vectors),
        cmocka_unit_test(bf16_vectors),
        cmocka_unit_test(random_values),
        cmocka_unit_test(buffer_conversion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
