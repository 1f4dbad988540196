// Multi-head causal self-attention, as nanoGPT's CausalSelfAttention:
// c_attn projects x to q, k, v; each head takes softmax(q k^T / sqrt(HS)) over
// the previous tokens (causal mask) and mixes v with it; c_proj projects back.
#pragma once

#include "autograd/ops.h"
#include "nn/linear.h"

namespace cg {

struct Attention {
    Linear c_attn;  // (3C, C)
    Linear c_proj;  // (C, C)
    int n_head = 1;
};

Attention make_attention(const std::string& name, int64_t C, int n_head, bool bias, float std,
                         float proj_std, Rng& rng);

// x (B, T, C) -> (B, T, C), over full sequences (training, teacher forcing).
// Uses the fused causal_attention op, or the composed one when dropout on the
// attention probabilities is on.
Var attention_forward(const Attention& attn, const Var& x, float dropout, bool training, Rng& rng);

// The heads' attention from composed ops: split qkv (B, T, 3C) into heads,
// softmax(q k^T / sqrt(HS)) with the causal mask, dropout, @ v, merge heads.
// It stores the (B, NH, T, T) probabilities; the fused op must equal it.
Var attention_heads_composed(const Var& qkv, int64_t n_head, float dropout, bool training, Rng& rng);

// The key/value cache of incremental decoding: k, v (N, NH, T_max, HS).
struct KVCache {
    Tensor k, v;
};
KVCache make_kv_cache(const Attention& attn, int64_t N, int64_t C, int64_t T_max);
// One new token per sequence at position t: x (N, C) -> (N, C), attending to
// the cached positions 0..t. Costs O(t) per token instead of recomputing the
// whole O(t^2) context.
Tensor attention_step(const Attention& attn, KVCache& cache, const Tensor& x, int64_t t);

}  // namespace cg
