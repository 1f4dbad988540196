// Layer norm with a learned scale and an optional learned shift.
#pragma once

#include <string>

#include "autograd/ops.h"

namespace cg {

struct LayerNorm {
    Parameter weight;  // (C), starts at 1
    Parameter bias;    // (C), starts at 0; no value when disabled
};

LayerNorm make_layer_norm(const std::string& name, int64_t C, bool bias);
Var layer_norm(const LayerNorm& ln, const Var& x);  // (..., C) -> (..., C)

}  // namespace cg
