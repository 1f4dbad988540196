// bfloat16, the number format of the bf16 products (tensor/matmul_bf16.cpp):
// the top 16 bits of a float32 (sign, the same 8 exponent bits, 7 mantissa
// bits), held in a uint16_t. Same range as float32, about 3 significant digits.
#pragma once

#include <cstdint>
#include <cstring>

namespace cg {

// float32 -> bf16, rounded to nearest, ties to even, as IEEE 754 rounds:
// subnormals are rounded (not flushed), a value at or past the midpoint between
// the largest finite bf16 and 2^128 becomes infinity, infinities stay, and a
// NaN stays a NaN (quieted, so a signalling NaN whose payload sits in the low
// 16 bits does not truncate into an infinity).
inline uint16_t float_to_bf16(float x) {
    uint32_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits | 0x00400000u) >> 16);
    // Adding 0x7fff rounds the low half up past the midpoint; adding the kept
    // part's lowest bit too sends an exact tie up only when that bit is odd.
    // A carry out of the mantissa raises the exponent, as rounding must.
    const uint32_t lowest_kept = (bits >> 16) & 1u;
    return static_cast<uint16_t>((bits + 0x7fffu + lowest_kept) >> 16);
}

// bf16 -> float32, exact.
inline float bf16_to_float(uint16_t h) {
    const uint32_t bits = static_cast<uint32_t>(h) << 16;
    float x;
    std::memcpy(&x, &bits, sizeof x);
    return x;
}

// out[i] = float_to_bf16(x[i]) and back, for i < n; parallel when n is large.
void floats_to_bf16(uint16_t* out, const float* x, int64_t n);
void bf16_to_floats(float* out, const uint16_t* x, int64_t n);

// The instruction set the bf16 products need, x86-64's AVX512_BF16 (vdpbf16ps)
// on top of AVX512F and AVX512BW (every CPU with the first has the others),
// with the OS saving the 512-bit registers.
bool cpu_has_avx512_bf16();
// What this CPU lacks for them, for error messages ("AVX512_BF16 (vdpbf16ps)",
// ...), or "" when it has everything.
const char* bf16_missing_cpu_feature();

}  // namespace cg
