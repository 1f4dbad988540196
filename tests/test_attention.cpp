// The fused attention op against the composed one it replaces (split heads,
// q k^T, causal softmax, @ v, merge heads): same outputs and gradients, and
// no T x T buffer.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "autograd/ops.h"
#include "autograd/composed.h"
#include "tensor/kernels.h"
#include "tests/helpers.h"

namespace cg {
namespace {

struct Result {
    std::vector<float> y, dqkv;
};

// y = attention(qkv), loss = sum(y * w) for fixed random w; returns y and dloss/dqkv.
template <typename Attend>
Result run(const Tensor& qkv_value, const Tensor& w, Attend attend) {
    Parameter qkv = make_parameter("qkv", qkv_value.clone());
    Var y = attend(qkv.var());
    Result r{std::vector<float>(y.value.data, y.value.data + y.value.numel()), {}};
    backward(sum(mul(y, constant(w))));
    r.dqkv.assign(qkv.grad().data, qkv.grad().data + qkv.grad().numel());
    return r;
}

TEST_CASE("attention: the fused op equals the composed ops, forward and backward") {
    struct Case {
        int64_t B, T, C, NH;
    };
    for (Case c : {Case{2, 130, 32, 4}, Case{1, 65, 24, 1}, Case{2, 19, 36, 3}, Case{3, 16, 6, 3}, Case{1, 1, 8, 2}}) {
        CAPTURE(c.B);
        CAPTURE(c.T);
        CAPTURE(c.C);
        CAPTURE(c.NH);
        Rng rng{static_cast<uint64_t>(c.T * 31 + c.C), 0};
        Tensor qkv = empty({c.B, c.T, 3 * c.C}), w = empty({c.B, c.T, c.C});
        fill_normal(qkv, rng, 0.0f, 1.5f);  // wide scores: a sharp softmax
        fill_normal(w, rng, 0.0f, 1.0f);
        Rng unused{0, 0};
        Result fused = run(qkv, w, [&](const Var& x) { return causal_attention(x, c.NH); });
        Result composed = run(qkv, w, [&](const Var& x) {
            return causal_attention_composed(x, c.NH, 0.0f, false, unused);
        });
        // rel_err, the largest |fused - composed| over the largest |composed|:
        // both paths sum the same float terms in different orders, so they
        // agree to a few float32 roundings per term (relative 1e-5 leaves a
        // wide margin for T = 130 terms; a wrong mask, scale or tile boundary
        // gives errors of order 1).
        CHECK(rel_err(fused.y, composed.y) < 1e-5);
        CHECK(rel_err(fused.dqkv, composed.dqkv) < 1e-5);
    }
}

TEST_CASE("attention: the fused op keeps no T x T buffer") {
    const int64_t B = 1, T = 1024, C = 16, NH = 2;
    Rng rng{5, 0};
    Tensor qkv = empty({B, T, 3 * C});
    fill_normal(qkv, rng, 0.0f, 1.0f);
    Parameter p = make_parameter("qkv", qkv);
    const int64_t before = pool_stats().bytes_in_use;
    Var y = causal_attention(p.var(), NH);
    // Output (T, C), lse (NH, T) and the saved input: O(T). Scores would be NH*T*T*4 = 8 MiB.
    const int64_t grown = pool_stats().bytes_in_use - before;
    CHECK(grown < 4 * (T * C + NH * T) + 1024);
    clear_tape();
}

}  // namespace
}  // namespace cg
