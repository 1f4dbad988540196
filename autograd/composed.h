// The fused ops written with primitives (element-wise ops, arithmetic, row
// sums, products). Slower and heavier in memory, but each line is one step of
// the formula: they are the reference every fused op is tested against
// (tests/test_grad.cpp, "fused equals composed"), and the way to write a new
// op before fusing it (docs/tutorial-add-an-op.md).
#pragma once

#include "autograd/ops.h"

namespace cg {

// x (..., C): (x - mean) / sqrt(var + eps) * weight + bias, bias optional.
Var layer_norm_composed(const Var& x, const Var& weight, const Var& bias, float eps = 1e-5f);
// scores (..., T, T): row i is softmax(scale * scores[i, 0..i]), 0 beyond i.
Var causal_softmax_composed(const Var& scores, float scale);
// logits (..., V): mean over rows of log(sum_j e^z_j) - z_target.
Var cross_entropy_composed(const Var& logits, const Ids& targets);
// qkv (B, T, 3C) -> (B, T, C): split into heads, softmax(q k^T / sqrt(HS))
// with the causal mask, dropout on the probabilities, @ v, heads side by side.
// It stores the (B, NH, T, T) probabilities.
Var causal_attention_composed(const Var& qkv, int64_t n_head, float dropout_p, bool training, Rng& rng);

}  // namespace cg
