// A fully connected layer, y = x W^T + b, with W (out, in) as in PyTorch, so
// weights keep nanoGPT's names and layout when exported.
#pragma once

#include <string>

#include "autograd/ops.h"

namespace cg {

struct Linear {
    Parameter weight;  // (out, in)
    Parameter bias;    // (out), or no value when the layer has no bias
    bool has_bias() const { return bias.value.defined(); }
};

// Weights drawn from N(0, std^2), bias zero.
Linear make_linear(const std::string& name, int64_t in, int64_t out, bool bias, float std,
                   Rng& rng);
// x (..., in) -> (..., out)
Var linear(const Linear& layer, const Var& x);

}  // namespace cg
