/*
 * fp16.h: IEEE 754 binary32 to binary16 (fp16) and to bfloat16, correctly rounded
 * (round to nearest, ties to even), for the built-in safetensors converter. Infinities keep
 * their sign, NaNs stay (quiet) NaNs with their sign, values beyond the range become
 * infinities, tiny values become subnormals or signed zeros. Pure and thread-safe.
 */
#ifndef CAIRN_CORE_FP16_H
#define CAIRN_CORE_FP16_H

#include <stddef.h>
#include <stdint.h>

/* Rounds the binary32 value with these bits to fp16 bits. */
uint16_t fp16_from_f32_bits(uint32_t x);
/* Rounds the binary32 value with these bits to bfloat16 bits. */
uint16_t bf16_from_f32_bits(uint32_t x);
/* Widens fp16 / bf16 bits to binary32 bits (exact). */
uint32_t f32_bits_from_fp16(uint16_t h);
uint32_t f32_bits_from_bf16(uint16_t b);
/* Converts n little-endian binary32 values at in to little-endian 16-bit values at out
 * (bf16 when bf16 is non-zero, else fp16). */
void fp16_convert_le(uint8_t *out, const uint8_t *in, size_t n, int bf16);

#endif
