#include "nn/layer_norm.h"

namespace cg {

LayerNorm make_layer_norm(const std::string& name, int64_t C, bool bias) {
    LayerNorm ln{make_parameter(name + ".weight", full({C}, 1.0f)), Parameter{}};
    if (bias) ln.bias = make_parameter(name + ".bias", zeros({C}));
    return ln;
}

Var layer_norm(const LayerNorm& ln, const Var& x) {
    Var bias = ln.bias.value.defined() ? ln.bias.var() : Var{};
    return layer_norm(x, ln.weight.var(), bias);
}

}  // namespace cg
