// Fused multi-head causal attention (the kernel: tensor/attention.cpp).
#include "autograd/ops.h"
#include "tensor/kernels.h"

namespace cg {

// y = attention(qkv); saves qkv, y and the log-sum-exp of every query
Var causal_attention(const Var& qkv, int64_t n_head) {
    Tensor x = qkv.value.contiguous();
    if (x.ndim() != 3) fail("attention", "qkv must be (B, T, 3C), got " + x.shape.str());
    const int64_t B = x.shape[0], T = x.shape[1], C = x.shape[2] / 3;
    Tensor y = empty({B, T, C}), lse = empty({B, n_head, T});
    causal_attention_forward(y, lse, x, n_head);
    // dqkv += attention backward (recomputes the probabilities from lse)
    Node* n = record(Op::causal_attention, y.shape, {&qkv}, [](Node& n) {
        auto [dqkv, accumulate] = grad_target(n.inputs[0]);
        causal_attention_backward(dqkv, n.grad, n.saved[0], n.saved[1], n.saved[2], n.ints[0], accumulate);
    });
    if (n) {
        n->saved[0] = x;
        n->saved[1] = y;
        n->saved[2] = lse;
        n->ints[0] = static_cast<int>(n_head);
    }
    return {y, n};
}

}  // namespace cg
