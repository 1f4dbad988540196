// Reductions to a one-element tensor of shape (1), and along the last dim.
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

namespace {
Shape with_last(Shape s, int64_t n) {
    s.dims[s.ndim - 1] = n;
    return s;
}
}  // namespace

// y (..., 1) = sum_i x (..., i)
Var row_sum(const Var& x) {
    if (x.shape().ndim == 0) fail("row_sum", "needs at least one dim");
    Tensor y = empty(with_last(x.shape(), 1));
    row_sum_forward(y, x.value.contiguous());
    // dx (..., i) += dy (..., 1)
    Node* n = record(Op::row_sum, y.shape, {&x}, [](Node& n) { row_sum_backward(grad_of(n.inputs[0]), n.grad); });
    return {y, n};
}

// y (..., i) = x (..., 1) for i < C
Var expand_last(const Var& x, int64_t C) {
    if (x.shape().ndim == 0 || x.shape()[-1] != 1)
        fail("expand_last", "needs a last dim of 1, got " + x.shape().str());
    Tensor y = empty(with_last(x.shape(), C));
    expand_last_forward(y, x.value.contiguous());
    // dx (..., 1) += sum_i dy (..., i)
    Node* n = record(Op::expand_last, y.shape, {&x}, [](Node& n) { expand_last_backward(grad_of(n.inputs[0]), n.grad); });
    return {y, n};
}

}  // namespace cg
