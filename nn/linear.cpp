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

Var linear(const Linear& layer, const Var& x) {
    return linear(x, layer.weight.var(), layer.has_bias() ? layer.bias.var() : Var{});
}

}  // namespace cg
