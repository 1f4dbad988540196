#include "nn/mlp.h"

namespace cg {

MLP make_mlp(const std::string& name, int64_t C, bool gelu, SeqOp activation, bool bias,
             float std, float proj_std, Rng& rng) {
    return MLP{make_linear(name + ".c_fc", C, 4 * C, bias, std, rng),
               make_linear(name + ".c_proj", 4 * C, C, bias, proj_std, rng), gelu, activation};
}

Var mlp_forward(const MLP& mlp, const Var& x, float dropout_p, bool training, Rng& rng) {
    Var h = linear_forward(mlp.c_fc, x);  // (B, T, 4C)
    h = mlp.gelu ? gelu(h) : seq_op_forward(mlp.activation, h);
    return dropout(linear_forward(mlp.c_proj, h), dropout_p, training, rng);
}

Tensor mlp_step(const MLP& mlp, SeqState& state, const Tensor& x) {
    NoGrad no_grad;
    Var h = linear_forward(mlp.c_fc, constant(x));  // (N, 4C)
    h = mlp.gelu ? gelu(h) : constant(seq_op_step(mlp.activation, state, h.value));
    return linear_forward(mlp.c_proj, h).value;
}

}  // namespace cg
