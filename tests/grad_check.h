// Small helpers shared by the autograd tests: a parameter's gradient, and
// drawing test inputs. Inputs come from the standard library's generator, not
// from cg::Rng, so a bug in the library's random numbers cannot hide a bug in
// the code under test (tests/README.md: where each generator is used).
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "autograd/graph.h"
#include "tensor/tensor.h"
#include "tests/helpers.h"

namespace cg {

// The gradient of p as a vector; zeros when none has reached it (or it was
// cleared).
inline std::vector<float> grad_values(const Parameter& p) {
    if (!p.grad().defined()) return std::vector<float>(size_t(p.value.numel()), 0.0f);
    return values_of(p.grad());
}

// A contiguous tensor of the given shape holding `values` in row-major order.
inline Tensor tensor_of(const Shape& s, const std::vector<float>& values) {
    return from_data(s, values.data());
}

inline std::vector<float> normal_values(int64_t n, std::mt19937& gen, float stddev = 1.0f) {
    std::normal_distribution<float> dist(0.0f, stddev);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = dist(gen);
    return v;
}

// n distinct values spaced `gap` apart, centred on 0, in random order: no two
// are closer than `gap`, so a perturbation smaller than gap / 2 never flips
// which of two elements is larger.
inline std::vector<float> distinct_values(int64_t n, std::mt19937& gen, float gap = 0.1f) {
    std::vector<int64_t> rank(static_cast<size_t>(n));
    std::iota(rank.begin(), rank.end(), 0);
    std::shuffle(rank.begin(), rank.end(), gen);
    std::vector<float> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) v[i] = gap * static_cast<float>(rank[i] - n / 2);
    return v;
}

inline Tensor normal_tensor(const Shape& s, std::mt19937& gen, float stddev = 1.0f) {
    return tensor_of(s, normal_values(s.numel(), gen, stddev));
}
}  // namespace cg
