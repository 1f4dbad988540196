// The block's feed-forward part: c_fc to 4C, an activation, c_proj back to C.
// The activation is GELU, or one of the sequence ops (the author's later code
// replaces GELU with them), which then mixes along T as well.
#pragma once

#include "nn/linear.h"
#include "nn/sequence_mixer.h"

namespace cg {

struct MLP {
    Linear c_fc;    // (4C, C)
    Linear c_proj;  // (C, 4C)
    bool gelu = true;
    SeqOp activation = SeqOp::pair_max;  // used when !gelu
};

MLP make_mlp(const std::string& name, int64_t C, bool gelu, SeqOp activation, bool bias,
             float std, float proj_std, Rng& rng);
// x (B, T, C) -> (B, T, C)
Var mlp_forward(const MLP& mlp, const Var& x, float dropout, bool training, Rng& rng);
// x (N, C) -> (N, C) for one new position; state is used by a sequence activation.
Tensor mlp_step(const MLP& mlp, SeqState& state, const Tensor& x);

}  // namespace cg
