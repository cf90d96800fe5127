/*
 * fp16.c: binary32 -> fp16 / bf16 with round-to-nearest-even, on bits (no FPU state, so the
 * result does not depend on the rounding mode or on F16C being present).
 */
#include "core/fp16.h"

uint16_t fp16_from_f32_bits(uint32_t x)
{
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t exp = (x >> 23) & 0xffu, man = x & 0x7fffffu;
    if (exp == 0xffu) {
        if (man == 0)
            return (uint16_t)(sign | 0x7c00u); /* infinity */
        /* NaN: quiet, keep the top payload bits, never turn into infinity. */
        return (uint16_t)(sign | 0x7e00u | (man >> 13));
    }
    int32_t e = (int32_t)exp - 127 + 15;
    if (e >= 0x1f)
        return (uint16_t)(sign | 0x7c00u); /* beyond 65504 (after rounding): infinity */
    if (e <= 0) {
        /* Subnormal fp16 (or zero): value = r * 2^-24 with r = mantissa >> (14 - e). */
        if (e < -10)
            return sign; /* below half the smallest subnormal: signed zero */
        man |= 0x800000u; /* the implicit bit (binary32 subnormals returned above) */
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t r = man >> shift, rem = man & ((1u << shift) - 1u), half = 1u << (shift - 1u);
        if (rem > half || (rem == half && (r & 1u)))
            r++;
        return (uint16_t)(sign | r); /* r may reach 0x400: the smallest normal, correctly */
    }
    uint32_t r = ((uint32_t)e << 10) | (man >> 13), rem = man & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (r & 1u)))
        r++; /* a carry into the exponent is right, up to infinity at 0x7c00 */
    return (uint16_t)(sign | r);
}

uint16_t bf16_from_f32_bits(uint32_t x)
{
    if ((x & 0x7f800000u) == 0x7f800000u && (x & 0x7fffffu))
        return (uint16_t)((x >> 16) | 0x0040u); /* quiet NaN, sign kept */
    uint32_t lsb = (x >> 16) & 1u;
    return (uint16_t)((x + 0x7fffu + lsb) >> 16); /* overflow rounds to infinity */
}

uint32_t f32_bits_from_fp16(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    if (exp == 0x1f)
        return sign | 0x7f800000u | (man << 13);
    if (exp == 0) {
        if (man == 0)
            return sign;
        /* Normalise the subnormal. */
        int32_t e = -1;
        do {
            e++;
            man <<= 1;
        } while (!(man & 0x400u));
        return sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
    }
    return sign | ((exp + 127 - 15) << 23) | (man << 13);
}

uint32_t f32_bits_from_bf16(uint16_t b)
{
    return (uint32_t)b << 16;
}

void fp16_convert_le(uint8_t *out, const uint8_t *in, size_t n, int bf16)
{
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = in + 4 * i;
        uint32_t x = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24;
        uint16_t h = bf16 ? bf16_from_f32_bits(x) : fp16_from_f32_bits(x);
        out[2 * i] = (uint8_t)(h & 0xffu);
        out[2 * i + 1] = (uint8_t)(h >> 8);
    }
}
