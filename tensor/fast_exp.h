// e^x in plain float arithmetic, so loops that call it vectorise (std::exp is
// a library call the compiler cannot vectorise without -ffast-math, which we
// do not use). Used by GELU, softmax and cross-entropy.
#pragma once

#include <cstdint>
#include <cstring>

namespace cg {

// x = n ln2 + r with |r| <= ln2/2 (ln2 split in two parts for accuracy);
// e^r from a degree-7 polynomial (the Cephes expf coefficients), 2^n by
// writing n into the exponent bits. Relative error below 2e-7 on
// [-87, 88]; inputs outside are clamped (e^-87.3 ~ 1e-38 stands in for 0).
// Comparisons instead of std::fmin/fmax and a magic-number rounding instead
// of std::nearbyint: both are library calls without -ffast-math, and a call
// stops the loop from vectorising. (A NaN input stays NaN.)
inline float fast_exp(float x) {
    x = x < -87.3f ? -87.3f : x;
    x = x > 88.3f ? 88.3f : x;
    constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
    const float n = (x * 1.44269504088896341f + kRound) - kRound;
    float r = x - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const float er = p * r * r + r + 1.0f;
    // A NaN n would make the conversion to int undefined: use 0 (er is NaN anyway).
    const int32_t bits = (static_cast<int32_t>(n == n ? n : 0.0f) + 127) << 23;
    float scale;
    std::memcpy(&scale, &bits, sizeof(scale));
    return er * scale;
}

}  // namespace cg
