// A counter-based random number generator: value i of a stream is a hash of
// (seed, counter + i). Any element can be drawn independently, so kernels
// fill tensors in parallel and get the same numbers for any thread count; a
// run is reproducible from its seed, and the state is two integers to save.
#pragma once

#include <cstdint>

namespace cg {

struct Tensor;

struct Rng {
    uint64_t seed = 0;
    uint64_t counter = 0;  // how many values have been drawn
};

// The raw 64-bit value at position `index` of the stream of `seed`.
uint64_t rng_bits(uint64_t seed, uint64_t index);
// Uniform in [0, 1) with 24 random bits (exactly representable in float).
float rng_uniform_at(uint64_t seed, uint64_t index);

float rng_uniform(Rng& rng);  // one value, advances by 1
void fill_uniform(const Tensor& t, Rng& rng, float low, float high);
void fill_normal(const Tensor& t, Rng& rng, float mean, float stddev);  // Box-Muller

}  // namespace cg
