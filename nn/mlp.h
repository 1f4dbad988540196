// The block's feed-forward part: c_fc to 4C, an activation, c_proj back to C.
// The activation is a weightless row of the mixer table: an element-wise op
// that autograd/unary.cpp offers as one (GELU, nanoGPT's, by default), or one
// of the parameter-free ops along T (the paper author's later code replaces
// GELU with them), which then mixes along T as well.
#pragma once

#include "nn/linear.h"
#include "nn/mixer.h"

namespace cg {

struct MLP {
    Linear c_fc;        // (4C, C)
    Mixer activation;   // no weights: only its kind
    Linear c_proj;      // (C, 4C)
};

MLP make_mlp(const std::string& name, int64_t C, const MixerKind& activation, bool bias, float std,
             float proj_std, Rng& rng);
// x (B, T, C) -> (B, T, C)
Var mlp_forward(const MLP& mlp, const Var& x, const ForwardPass& pass);
// Decoding: the activation's state, and one new position x (N, C) -> (N, C).
MixerState make_mlp_state(const MLP& mlp, int64_t N, int64_t T_max);
Tensor mlp_step(const MLP& mlp, MixerState& state, const Tensor& x);

}  // namespace cg
