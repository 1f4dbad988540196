// The differentiable ops. Each is a free function that validates its
// arguments (throwing "[op] ..." with the shapes), computes the forward value
// with a kernel from tensor/, and records a backward next to it in the op's
// file: arith.cpp, unary.cpp, matmul.cpp, views.cpp, reduce.cpp,
// embedding.cpp, layer_norm.cpp, dropout.cpp, softmax.cpp, attention.cpp,
// sequence.cpp. autograd/composed.h writes the fused ones with these.
#pragma once

#include <memory>
#include <vector>

#include "autograd/graph.h"
#include "tensor/rng.h"

namespace cg {

// Token ids with their shape, shared (not copied) by the ops that keep them.
struct Ids {
    std::shared_ptr<const std::vector<int>> values;
    Shape shape;
    int64_t numel() const { return shape.numel(); }
    const int* data() const { return values->data(); }
};
Ids make_ids(Shape shape, std::vector<int> values);

// ---- arith.cpp ---- b has a's shape, or a's trailing dims (a bias).
Var add(const Var& a, const Var& b);
Var sub(const Var& a, const Var& b);
Var mul(const Var& a, const Var& b);
Var div(const Var& a, const Var& b);
Var scale(const Var& x, float c);
Var add_scalar(const Var& x, float c);  // x + c
// Same shapes; the gradient goes to the larger (smaller) one, a on a tie.
Var maximum(const Var& a, const Var& b);
Var minimum(const Var& a, const Var& b);
Var where(const Tensor& mask, const Var& a, const Var& b);  // mask != 0 ? a : b; the mask gets no gradient

// ---- unary.cpp ---- element-wise, y = f(x) (the rows: autograd/unary.h)
Var exp(const Var& x);
Var log(const Var& x);
Var sqrt(const Var& x);
Var sigmoid(const Var& x);  // 1 / (1 + e^-x)
Var tanh(const Var& x);
Var relu(const Var& x);
Var gelu(const Var& x);     // GPT-2's tanh form
Var silu(const Var& x);     // x sigmoid(x)

// ---- matmul.cpp ---- (..., M, K) @ (..., K, Nc) or @ (K, Nc); see kernels.h.
Var matmul(const Var& a, const Var& b);
// A fully connected layer in one op: x (..., in) @ weight (out, in)^T + bias
// (out), bias optional (an undefined Var). Weight gradients go straight into
// the weight's buffer, with no transposed temporary.
Var linear(const Var& x, const Var& weight, const Var& bias);

// ---- views.cpp ---- no copy unless stated.
Var reshape(const Var& x, Shape s);  // copies first if x is not contiguous
Var transpose(const Var& x, int d0, int d1);
Var permute(const Var& x, std::initializer_list<int> order);
Var slice(const Var& x, int dim, int64_t start, int64_t length);
Var contiguous(const Var& x);  // a copy if x is a strided view

// ---- reduce.cpp ---- to a one-element tensor of shape (1).
Var sum(const Var& x);
Var mean(const Var& x);
// Along the last dim: (..., C) -> (..., 1), and (..., 1) -> (..., C) repeated.
Var row_sum(const Var& x);
Var expand_last(const Var& x, int64_t C);

// ---- embedding.cpp ---- table (V, C), ids (B, T) -> (B, T, C).
Var embedding(const Var& table, const Ids& ids);

// ---- layer_norm.cpp ---- x (..., C); bias may be an undefined Var.
Var layer_norm(const Var& x, const Var& weight, const Var& bias, float eps = 1e-5f);

// ---- dropout.cpp ---- identity when !training or p == 0.
Var dropout(const Var& x, float p, bool training, Rng& rng);

// ---- softmax.cpp ----
// scores (..., T, T) -> causal softmax of scale * scores (see kernels.h).
Var causal_softmax(const Var& scores, float scale);
// logits (..., V), targets with one id per row -> mean negative log-likelihood.
Var cross_entropy(const Var& logits, const Ids& targets);

// ---- attention.cpp ----
// Fused multi-head causal attention: qkv (B, T, 3C) = q | k | v -> (B, T, C).
// The same as splitting heads, causal_softmax(q k^T, 1/sqrt(HS)) and @ v,
// but O(T) memory per head (see tensor/attention.cpp).
Var causal_attention(const Var& qkv, int64_t n_head);

// ---- sequence.cpp ---- along T of x (B, T, C); position 0 sees only itself.
Var shift(const Var& x);        // previous token
Var pair_max(const Var& x);     // max(x[t], x[t-1])
Var pair_min(const Var& x);     // min(x[t], x[t-1])
Var pair_mean(const Var& x);    // (x[t] + x[t-1]) / 2
Var scan_max(const Var& x);     // running max over x[0..t]
Var scan_min(const Var& x);     // running min over x[0..t]
Var avg(const Var& x);          // running mean of x[0..t]
// Mean over all T positions, at every position: LEAKS future tokens. Exists
// only to reproduce the paper's published code.
Var gavg(const Var& x);
// y[t] = a * y[t-1] + x[t], y[0] = x[0], with a (C) one decay per channel
// (learned, or a constant): running sums, moving averages.
Var linear_scan(const Var& x, const Var& a);

}  // namespace cg
