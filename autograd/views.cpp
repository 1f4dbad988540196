// Shape ops. The forward is a view of the same storage (no copy, except
// reshape of a strided view); the backward routes dy back into the input's
// gradient through the matching view of it.
#include "autograd/ops.h"
#include "tensor/kernels.h"

namespace cg {

// y = x viewed as shape s
Var reshape(const Var& x, Shape s) {
    Tensor y = x.value.contiguous().reshape(s);
    // dx += dy viewed as x's shape
    Node* n = record(Op::reshape, y.shape, {&x}, [](Node& n) { pass_grad(n.inputs[0], n.grad); });
    return {y, n};
}

// y = x with dims d0 and d1 swapped
Var transpose(const Var& x, int d0, int d1) {
    Tensor y = x.value.transpose(d0, d1);
    // dx += dy with the same dims swapped back
    Node* n = record(Op::transpose, y.shape, {&x}, [](Node& n) {
        accumulate_into(grad_of(n.inputs[0]), n.grad.transpose(n.ints[0], n.ints[1]));
    });
    if (n) {
        n->ints[0] = d0;
        n->ints[1] = d1;
    }
    return {y, n};
}

// y.dims[i] = x.dims[order[i]]
Var permute(const Var& x, std::initializer_list<int> order) {
    Tensor y = x.value.permute(order);
    // dx += dy permuted by the inverse order: dx.dims[order[i]] = dy.dims[i]
    Node* n = record(Op::permute, y.shape, {&x}, [](Node& n) {
        Tensor& dx = grad_of(n.inputs[0]);
        Tensor dx_as_y = dx;  // a view of dx laid out like y
        for (int i = 0; i < dx.ndim(); i++) {
            dx_as_y.shape.dims[i] = dx.shape.dims[n.ints[i]];
            dx_as_y.strides[i] = dx.strides[n.ints[i]];
        }
        accumulate_into(dx_as_y, n.grad);
    });
    if (n) {
        int i = 0;
        for (int d : order) n->ints[i++] = d < 0 ? d + x.value.ndim() : d;
    }
    return {y, n};
}

// y = x[..., start:start+length, ...] along dim
Var slice(const Var& x, int dim, int64_t start, int64_t length) {
    Tensor y = x.value.slice(dim, start, length);
    // dx[..., start:start+length, ...] += dy
    Node* n = record(Op::slice, y.shape, {&x}, [](Node& n) {
        accumulate_into(grad_of(n.inputs[0]).slice(n.ints[0], n.ints[1], n.ints[2]), n.grad);
    });
    if (n) {
        n->ints[0] = dim;
        n->ints[1] = static_cast<int>(start);
        n->ints[2] = static_cast<int>(length);
    }
    return {y, n};
}

// y = a contiguous copy of x (x itself when already contiguous)
Var contiguous(const Var& x) {
    Tensor y = x.value.contiguous();
    // dx += dy
    Node* n = record(Op::contiguous, y.shape, {&x}, [](Node& n) { pass_grad(n.inputs[0], n.grad); });
    return {y, n};
}

}  // namespace cg
