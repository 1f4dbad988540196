#include "tensor/rng.h"

#include <cmath>

#include "tensor/tensor.h"

namespace cg {

// splitmix64's finaliser over (seed, index): a strong 64-bit mix, so
// neighbouring indices and seeds give unrelated values.
uint64_t rng_bits(uint64_t seed, uint64_t index) {
    uint64_t z = seed * 0x9E3779B97F4A7C15ull + index + 0x632BE59BD9B4E019ull;
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z = (z ^ (z >> 31));
    z = (z ^ (z >> 32)) * 0xD6E8FEB86659FD93ull;  // second round: decorrelates seeds
    return z ^ (z >> 32);
}

float rng_uniform_at(uint64_t seed, uint64_t index) {
    return static_cast<float>(rng_bits(seed, index) >> 40) * (1.0f / 16777216.0f);
}

float rng_uniform(Rng& rng) { return rng_uniform_at(rng.seed, rng.counter++); }

void fill_uniform(const Tensor& t, Rng& rng, float low, float high) {
    check_contiguous("fill_uniform", "tensor", t);
    const int64_t n = t.numel();
    const uint64_t seed = rng.seed, base = rng.counter;
    float* p = t.data;
    #pragma omp parallel for if (n > (1 << 15))
    for (int64_t i = 0; i < n; i++) p[i] = low + (high - low) * rng_uniform_at(seed, base + i);
    rng.counter += n;
}

void fill_normal(const Tensor& t, Rng& rng, float mean, float stddev) {
    check_contiguous("fill_normal", "tensor", t);
    const int64_t n = t.numel();
    const uint64_t seed = rng.seed, base = rng.counter;
    float* p = t.data;
    // Box-Muller: element i uses the uniforms at 2i and 2i+1 of the stream.
    #pragma omp parallel for if (n > (1 << 14))
    for (int64_t i = 0; i < n; i++) {
        double u1 = (static_cast<double>(rng_bits(seed, base + 2 * i) >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
        double u2 = static_cast<double>(rng_bits(seed, base + 2 * i + 1) >> 11) * 0x1.0p-53;
        double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
        p[i] = static_cast<float>(mean + stddev * z);
    }
    rng.counter += 2 * n;
}

}  // namespace cg
