// The causal softmax of attention, and the cross-entropy loss.
#include "autograd/ops.h"
#include "tensor/kernels.h"

namespace cg {

// p = causal softmax of scale * scores (..., T, T); saves p
Var causal_softmax(const Var& scores, float scale) {
    Tensor s = scores.value.contiguous();
    Tensor p = empty(s.shape);
    causal_softmax_forward(p, s, scale);
    // ds += scale * p * (dp - sum_j p_j dp_j), row by row
    Node* n = record(Op::causal_softmax, p.shape, {&scores}, [](Node& n) {
        causal_softmax_backward(grad_of(n.inputs[0]), n.saved[0], n.grad, n.scalar);
    });
    if (n) {
        n->saved[0] = p;
        n->scalar = scale;
    }
    return {p, n};
}

// loss = mean over rows of -log softmax(logits)[target]; saves logits and
// the log-sum-exp of each row, keeps the targets
Var cross_entropy(const Var& logits, const Ids& targets) {
    Tensor z = logits.value.contiguous();
    const int64_t V = z.shape[-1];
    if (V == 0 || targets.numel() * V != z.numel())
        fail("cross_entropy", "logits " + z.shape.str() + " need one target per row, got targets " +
                                  targets.shape.str());
    Tensor lse = empty({targets.numel()});
    Tensor loss = full({1}, cross_entropy_forward(lse, z, targets.data()));
    // dlogits += dloss / N * (softmax(logits) - onehot(target))
    Node* n = record(Op::cross_entropy, loss.shape, {&logits}, [](Node& n) {
        auto [dlogits, accumulate] = grad_target(n.inputs[0]);
        cross_entropy_backward(dlogits, n.saved[0], n.saved[1], n.ids->data(), n.grad.data[0], accumulate);
    });
    if (n) {
        n->saved[0] = z;
        n->saved[1] = lse;
        n->ids = targets.values;
    }
    return {loss, n};
}

}  // namespace cg
