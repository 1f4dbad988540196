// Dropout: zero each element with probability p while training, scale the
// rest by 1/(1-p); the identity in evaluation.
#include "autograd/ops.h"
#include "tensor/kernels.h"

namespace cg {

// y = x * mask; saves the mask
Var dropout(const Var& x, float p, bool training, Rng& rng) {
    if (!(p >= 0.0f && p < 1.0f)) fail("dropout", "p must be in [0, 1), got " + std::to_string(p));
    if (!training || p == 0.0f) return x;
    Tensor xc = x.value.contiguous();
    Tensor mask = empty(xc.shape), y = empty(xc.shape);
    dropout_mask(mask, p, rng);
    mul_forward(y, xc, mask);
    // dx += dy * mask
    Node* n = record(Op::dropout, y.shape, {&x}, [](Node& n) {
        mul_backward_a(grad_of(n.inputs[0]), n.grad, n.saved[0]);
    });
    if (n) n->saved[0] = mask;
    return {y, n};
}

}  // namespace cg
