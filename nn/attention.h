// Multi-head causal self-attention, as nanoGPT's CausalSelfAttention: c_attn
// projects x to q, k, v; each head takes softmax(q k^T / sqrt(HS)) over the
// previous tokens (the causal mask) and mixes v with it; c_proj projects back.
// These are the functions of the "attn" row of the mixer table (nn/mixers.cpp).
#pragma once

#include "nn/mixer.h"

namespace cg {

// n_embd must be a multiple of n_head.
void attention_check(const MixerSettings& s);
// c_in = c_attn (3C, C).
void attention_init(Mixer& m, const MixerSettings& s, Rng& rng);
// qkv (B, T, 3C) -> (B, T, C) over full sequences: the fused op, or the
// composed ops when asked (pass.composed_attention) or when dropout on the
// attention probabilities is on (the fused kernel has none).
Var attention_core(const Mixer& m, const Var& qkv, const ForwardPass& pass);
// qkv (B, T, 3C) -> the softmax weights (B, NH, T, T) of each head, zero
// above the diagonal: row t is how query t spreads over keys 0..t.
Tensor attention_weights(const Tensor& qkv, int64_t n_head);
// The key/value cache: t[0] = k, t[1] = v, each (N, NH, T_max, HS).
MixerState attention_state(const Mixer& m, int64_t N, int64_t W, int64_t T_max);
// One new token per sequence at position state.pos: qkv (N, 3C) -> (N, C),
// attending to the cached positions 0..pos. O(pos) per token instead of
// recomputing the whole O(pos^2) context.
Tensor attention_step(const Mixer& m, MixerState& state, const Tensor& qkv);
// q k^T and p v for BT queries over windows of T: 2 * 2 * BT * T * C.
double attention_flops(double BT, double T, double C);

}  // namespace cg
