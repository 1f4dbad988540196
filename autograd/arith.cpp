// Arithmetic ops. b has a's shape or a's trailing dims (a bias broadcast over
// rows); its gradient is then summed over the rows it was reused for.
#include "autograd/ops.h"
#include "tensor/kernels.h"

namespace cg {

namespace {
// d(a ± b)/db: ±dy itself (copied into a fresh gradient, added to one that
// other consumers began), or summed over the rows b was broadcast to.
void add_broadcast_grad(Node* input, const Tensor& dy, float sign) {
    if (!input) return;
    if (input->shape != dy.shape) {
        broadcast_sum_backward(grad_of(input), dy, sign);
        return;
    }
    auto [d, accumulate] = grad_target(input);
    if (!accumulate && sign > 0) copy_into(d, dy);
    else if (!accumulate) scale_forward(d, dy, -1.0f);
    else if (sign > 0) accumulate_into(d, dy);
    else scale_backward(d, dy, -1.0f);
}
}  // namespace

// y = a + b
Var add(const Var& a, const Var& b) {
    Tensor y = empty(a.shape());
    add_forward(y, a.value.contiguous(), b.value.contiguous());
    // da += dy; db += dy  (a takes dy's buffer itself when it can: see pass_grad)
    Node* n = record(Op::add, y.shape, {&a, &b}, [](Node& n) {
        add_broadcast_grad(n.inputs[1], n.grad, 1.0f);
        pass_grad(n.inputs[0], n.grad);
    });
    return {y, n};
}

// y = a - b
Var sub(const Var& a, const Var& b) {
    Tensor y = empty(a.shape());
    sub_forward(y, a.value.contiguous(), b.value.contiguous());
    // da += dy; db -= dy
    Node* n = record(Op::sub, y.shape, {&a, &b}, [](Node& n) {
        add_broadcast_grad(n.inputs[1], n.grad, -1.0f);
        pass_grad(n.inputs[0], n.grad);
    });
    return {y, n};
}

// y = a * b; saves a and b
Var mul(const Var& a, const Var& b) {
    Tensor ac = a.value.contiguous(), bc = b.value.contiguous();
    Tensor y = empty(a.shape());
    mul_forward(y, ac, bc);
    // da += dy * b; db += dy * a (summed over broadcast rows)
    Node* n = record(Op::mul, y.shape, {&a, &b}, [](Node& n) {
        if (n.inputs[0]) mul_backward_a(grad_of(n.inputs[0]), n.grad, n.saved[1]);
        if (n.inputs[1]) mul_backward_b(grad_of(n.inputs[1]), n.grad, n.saved[0]);
    });
    if (n) {
        n->saved[0] = ac;
        n->saved[1] = bc;
    }
    return {y, n};
}

// y = a / b; saves a and b
Var div(const Var& a, const Var& b) {
    Tensor ac = a.value.contiguous(), bc = b.value.contiguous();
    Tensor y = empty(a.shape());
    div_forward(y, ac, bc);
    // da += dy / b; db += -dy * a / b^2 (summed over broadcast rows)
    Node* n = record(Op::div, y.shape, {&a, &b}, [](Node& n) {
        if (n.inputs[0]) div_backward_a(grad_of(n.inputs[0]), n.grad, n.saved[1]);
        if (n.inputs[1]) div_backward_b(grad_of(n.inputs[1]), n.grad, n.saved[0], n.saved[1]);
    });
    if (n) {
        n->saved[0] = ac;
        n->saved[1] = bc;
    }
    return {y, n};
}

// y = x + c
Var add_scalar(const Var& x, float c) {
    Tensor y = empty(x.shape());
    add_scalar_forward(y, x.value.contiguous(), c);
    // dx += dy
    Node* n = record(Op::add_scalar, y.shape, {&x}, [](Node& n) { pass_grad(n.inputs[0], n.grad); });
    return {y, n};
}

// y = c * x
Var scale(const Var& x, float c) {
    Tensor y = empty(x.shape());
    scale_forward(y, x.value.contiguous(), c);
    // dx += c * dy
    Node* n = record(Op::scale, y.shape, {&x}, [](Node& n) {
        scale_backward(grad_of(n.inputs[0]), n.grad, n.scalar);
    });
    if (n) n->scalar = c;
    return {y, n};
}

namespace {
// Shared body of maximum and minimum: same-shape inputs, saved for the
// backward, which sends dy to the chosen one (a on a tie).
Var pick(Op op, const Var& a, const Var& b,
         void (*forward)(const Tensor&, const Tensor&, const Tensor&),
         void (*backward_fn)(Node&)) {
    if (a.shape() != b.shape())
        fail(op_name(op), "needs equal shapes, got " + a.shape().str() + " and " + b.shape().str());
    Tensor ac = a.value.contiguous(), bc = b.value.contiguous();
    Tensor y = empty(a.shape());
    forward(y, ac, bc);
    Node* n = record(op, y.shape, {&a, &b}, backward_fn);
    if (n) {
        n->saved[0] = ac;
        n->saved[1] = bc;
    }
    return {y, n};
}
Tensor grad_or_none(Node* input) { return input ? grad_of(input) : Tensor(); }
}  // namespace

// y = max(a, b)
Var maximum(const Var& a, const Var& b) {
    // da += dy where a >= b; db += dy elsewhere
    return pick(Op::maximum, a, b, maximum_forward, [](Node& n) {
        maximum_backward(grad_or_none(n.inputs[0]), grad_or_none(n.inputs[1]), n.saved[0],
                         n.saved[1], n.grad);
    });
}

// y = where(mask, a, b): a where the mask is set, b elsewhere. The mask is data
// (no gradient), saved for the backward; a and b are not needed there.
Var where(const Tensor& mask, const Var& a, const Var& b) {
    if (a.shape() != mask.shape || b.shape() != mask.shape)
        fail("where", "needs a, b and the mask of one shape, got " + a.shape().str() + ", " + b.shape().str() +
                          " and mask " + mask.shape.str());
    Tensor mc = mask.contiguous();
    Tensor y = empty(mask.shape);
    where_forward(y, mc, a.value.contiguous(), b.value.contiguous());
    // da += dy where mask; db += dy elsewhere
    Node* n = record(Op::where, y.shape, {&a, &b}, [](Node& n) {
        where_backward(grad_or_none(n.inputs[0]), grad_or_none(n.inputs[1]), n.saved[0], n.grad);
    });
    if (n) n->saved[0] = mc;
    return {y, n};
}

// y = min(a, b)
Var minimum(const Var& a, const Var& b) {
    // da += dy where a <= b; db += dy elsewhere
    return pick(Op::minimum, a, b, minimum_forward, [](Node& n) {
        minimum_backward(grad_or_none(n.inputs[0]), grad_or_none(n.inputs[1]), n.saved[0],
                         n.saved[1], n.grad);
    });
}

}  // namespace cg
