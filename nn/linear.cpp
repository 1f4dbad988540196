#include "nn/linear.h"

namespace cg {

Linear make_linear(const std::string& name, int64_t in, int64_t out, bool bias, float std,
                   Rng& rng) {
    Tensor w = empty({out, in});
    fill_normal(w, rng, 0.0f, std);
    Linear layer{make_parameter(name + ".weight", w), Parameter{}};
    if (bias) layer.bias = make_parameter(name + ".bias", zeros({out}));
    return layer;
}

// W^T is a transposed view: BLAS reads W in place with its transpose flag.
Var linear_forward(const Linear& layer, const Var& x) {
    Var y = matmul(x, transpose(layer.weight.var(), 0, 1));  // (..., in) @ (in, out)
    return layer.has_bias() ? add(y, layer.bias.var()) : y;
}

}  // namespace cg
