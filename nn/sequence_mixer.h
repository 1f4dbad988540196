// The replacement mixers of "Breaking the Attention Bottleneck" and our causal
// variants: a parameter-free sequence op along T, optionally after a learned
// value projection c_v, then c_proj (as the paper's published code: no c_attn,
// no heads). The same sequence ops can replace the MLP's GELU.
#pragma once

#include <string>

#include "autograd/ops.h"
#include "nn/linear.h"

namespace cg {

enum class SeqOp {
    pair_max, pair_min, pair_mean,  // y[t] = op(x[t], x[t-1])
    scan_max, scan_min,             // running max/min over x[0..t]
    avg,                            // mean(x[0..t])
    pair_max_avg, pair_min_avg,     // op(x[t], x[t-1], mean(x[0..t]))
    pair_max_gavg, pair_min_gavg,   // op(x[t], x[t-1], mean(x[0..T-1])): leaks the future
    count
};
const char* seq_op_name(SeqOp op);  // "pair_max+avg", ...
// Parses a name; throws naming the valid choices (and why scan_max+avg is not one).
SeqOp parse_seq_op(const std::string& name);
bool seq_op_is_causal(SeqOp op);

// x (B, T, W) -> (B, T, W) over full sequences.
Var seq_op_forward(SeqOp op, const Var& x);

// The constant-size state of incremental decoding, per sequence: the previous
// input (pair ops), the running max/min or sum (scan, avg) and the count.
struct SeqState {
    Tensor prev;  // (N, W)
    Tensor run;   // (N, W)
    int64_t count = 0;
};
SeqState make_seq_state(int64_t N, int64_t W);
// One new position per sequence: x (N, W) -> y (N, W), O(1) in the context length.
// The leaking ops, whose full-sequence output depends on tokens not yet seen,
// run here with the mean of the tokens seen so far.
Tensor seq_op_step(SeqOp op, SeqState& state, const Tensor& x);

struct SequenceMixer {
    SeqOp op = SeqOp::pair_max;
    bool has_vproj = false;
    Linear c_v;     // (C, C), only with the value projection
    Linear c_proj;  // (C, C)
};
SequenceMixer make_sequence_mixer(const std::string& name, SeqOp op, int64_t C, bool vproj,
                                  bool bias, float std, float proj_std, Rng& rng);
// x (B, T, C) -> dropout(c_proj(op(c_v(x))))
Var sequence_mixer_forward(const SequenceMixer& m, const Var& x, float dropout, bool training,
                           Rng& rng);
// x (N, C) -> (N, C) for one new position.
Tensor sequence_mixer_step(const SequenceMixer& m, SeqState& state, const Tensor& x);

}  // namespace cg
