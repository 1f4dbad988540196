// Reductions to a one-element tensor of shape (1).
#include "autograd/ops.h"
#include "tensor/kernels.h"

namespace cg {

// y = sum_i x_i
Var sum(const Var& x) {
    Tensor y = full({1}, static_cast<float>(sum_all(x.value.contiguous())));
    // dx_i += dy
    Node* n = record(Op::sum, y.shape, {&x}, [](Node& n) {
        add_constant(grad_of(n.inputs[0]), n.grad.data[0]);
    });
    return {y, n};
}

// y = sum_i x_i / numel
Var mean(const Var& x) {
    const int64_t count = x.value.numel();
    if (count == 0) fail("mean", "of an empty tensor of shape " + x.shape().str());
    Tensor y = full({1}, static_cast<float>(sum_all(x.value.contiguous()) / count));
    // dx_i += dy / numel
    Node* n = record(Op::mean, y.shape, {&x}, [](Node& n) {
        Tensor& dx = grad_of(n.inputs[0]);
        add_constant(dx, n.grad.data[0] / static_cast<float>(dx.numel()));
    });
    return {y, n};
}

}  // namespace cg
