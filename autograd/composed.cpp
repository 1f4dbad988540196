#include "autograd/composed.h"

#include <cmath>
#include <vector>

namespace cg {

namespace {
// The max of each row of x (..., C) as a constant (..., 1): subtracting it
// keeps exp finite and changes no softmax, so no gradient flows through it.
Var row_max(const Var& x) {
    Tensor xc = x.value.contiguous();
    Shape s = xc.shape;
    const int64_t C = s[-1], rows = C ? xc.numel() / C : 0;
    s.dims[s.ndim - 1] = 1;
    Tensor m = empty(s);
    for (int64_t r = 0; r < rows; r++) {
        float mx = -INFINITY;
        for (int64_t i = 0; i < C; i++) mx = std::fmax(mx, xc.data[r * C + i]);
        m.data[r] = mx;
    }
    return constant(m);
}

// softmax over the last dim of z (..., C)
Var softmax_last(const Var& z) {
    const int64_t C = z.shape()[-1];
    Var e = exp(sub(z, expand_last(row_max(z), C)));
    return div(e, expand_last(row_sum(e), C));
}
}  // namespace

Var layer_norm_composed(const Var& x, const Var& weight, const Var& bias, float eps) {
    const int64_t C = x.shape()[-1];
    const float inv_c = 1.0f / static_cast<float>(C);
    Var mean = scale(row_sum(x), inv_c);                    // (..., 1)
    Var xc = sub(x, expand_last(mean, C));                  // x - mean
    Var var = scale(row_sum(mul(xc, xc)), inv_c);           // mean of (x - mean)^2
    Var y = div(xc, expand_last(sqrt(add_scalar(var, eps)), C));
    y = mul(y, weight);                                     // weight (C) on every row
    return bias.defined() ? add(y, bias) : y;
}

Var causal_softmax_composed(const Var& scores, float scale_by) {
    const int64_t T = scores.shape()[-1];
    Tensor mask = empty({T, T});  // 0 on and below the diagonal, -inf above: e^-inf weighs 0
    for (int64_t i = 0; i < T; i++)
        for (int64_t j = 0; j < T; j++) mask.data[i * T + j] = j <= i ? 0.0f : -INFINITY;
    return softmax_last(add(scale(scores, scale_by), constant(mask)));
}

Var cross_entropy_composed(const Var& logits, const Ids& targets) {
    const int64_t V = logits.shape()[-1], N = targets.numel();
    Var z = reshape(logits, {N, V});
    Var m = row_max(z);
    Var lse = add(log(row_sum(exp(sub(z, expand_last(m, V))))), m);  // (N, 1): log sum_j e^z_j
    Tensor onehot = zeros({N, V});
    for (int64_t r = 0; r < N; r++) onehot.data[r * V + targets.data()[r]] = 1.0f;
    Var picked = row_sum(mul(z, constant(onehot)));                  // (N, 1): z_target
    return mean(sub(lse, picked));
}

Var causal_attention_composed(const Var& qkv, int64_t n_head, float dropout_p, bool training, Rng& rng) {
    const int64_t B = qkv.shape()[0], T = qkv.shape()[1], C = qkv.shape()[2] / 3;
    const int64_t NH = n_head, HS = C / NH;
    // Split into heads: (B, T, C) -> (B, T, NH, HS) -> (B, NH, T, HS)
    auto heads = [&](int64_t part) {
        Var p = reshape(slice(qkv, 2, part * C, C), {B, T, NH, HS});
        return permute(p, {0, 2, 1, 3});
    };
    Var q = heads(0), k = heads(1), v = heads(2);
    Var scores = matmul(q, transpose(k, -2, -1));  // (B, NH, T, T)
    Var probs = causal_softmax(scores, 1.0f / std::sqrt(static_cast<float>(HS)));
    probs = dropout(probs, dropout_p, training, rng);
    Var y = matmul(probs, v);                              // (B, NH, T, HS)
    return reshape(permute(y, {0, 2, 1, 3}), {B, T, C});  // heads side by side again
}

}  // namespace cg
