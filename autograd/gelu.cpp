// GELU activation (tanh form, as GPT-2).
#include "autograd/ops.h"
#include "tensor/kernels.h"

namespace cg {

// y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))); saves x
Var gelu(const Var& x) {
    Tensor xc = x.value.contiguous();
    Tensor y = empty(xc.shape);
    gelu_forward(y, xc);
    // dx += gelu'(x) * dy
    Node* n = record(Op::gelu, y.shape, {&x}, [](Node& n) {
        gelu_backward(grad_of(n.inputs[0]), n.saved[0], n.grad);
    });
    if (n) n->saved[0] = xc;
    return {y, n};
}

}  // namespace cg
