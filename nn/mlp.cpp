#include "nn/mlp.h"

namespace cg {

MLP make_mlp(const std::string& name, int64_t C, const MixerKind& activation, bool bias, float std,
             float proj_std, Rng& rng) {
    MLP mlp;
    mlp.c_fc = make_linear(name + ".c_fc", C, 4 * C, bias, std, rng);
    mlp.activation = make_activation(activation);
    mlp.c_proj = make_linear(name + ".c_proj", 4 * C, C, bias, proj_std, rng);
    return mlp;
}

Var mlp_forward(const MLP& mlp, const Var& x, const ForwardPass& pass) {
    Var h = linear(mlp.c_fc, x);                // (B, T, 4C)
    h = mixer_forward(mlp.activation, h, pass);  // its core alone: no weights
    return dropout(linear(mlp.c_proj, h), pass.dropout, pass.training, *pass.rng);
}

MixerState make_mlp_state(const MLP& mlp, int64_t N, int64_t T_max) {
    return make_mixer_state(mlp.activation, N, mlp.c_fc.weight.value.shape[0], T_max);
}

Tensor mlp_step(const MLP& mlp, MixerState& state, const Tensor& x) {
    NoGrad no_grad;
    const Tensor h = linear(mlp.c_fc, constant(x)).value;  // (N, 4C)
    return linear(mlp.c_proj, constant(mixer_step(mlp.activation, state, h))).value;
}

}  // namespace cg
