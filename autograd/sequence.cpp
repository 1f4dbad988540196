// The sequence ops of the replacement mixers along T of x (B, T, C). The
// kernels (tensor/scan.cpp) state each rule and the max/min tie rule.
#include "autograd/ops.h"
#include "tensor/kernels.h"

namespace cg {

namespace {
// Runs a forward kernel and records `backward_fn`, saving x and y for the
// backwards that read them (max/min need the values to know who won).
Var sequence_op(Op op, const Var& x, void (*forward)(const Tensor&, const Tensor&),
                void (*backward_fn)(Node&), bool save_values) {
    Tensor xc = x.value.contiguous();
    if (xc.ndim() != 3) fail(op_name(op), "expects (B, T, C), got " + xc.shape.str());
    Tensor y = empty(xc.shape);
    forward(y, xc);
    Node* n = record(op, y.shape, {&x}, backward_fn);
    if (n && save_values) {
        n->saved[0] = xc;
        n->saved[1] = y;
    }
    return {y, n};
}
}  // namespace

// y[t] = x[t-1], y[0] = x[0]
Var shift(const Var& x) {
    return sequence_op(Op::shift, x, shift_forward, [](Node& n) {
        shift_backward(grad_of(n.inputs[0]), n.grad);
    }, false);
}

// y[t] = max(x[t], x[t-1]): dy[t] goes to the larger, x[t] on a tie
Var pair_max(const Var& x) {
    return sequence_op(Op::pair_max, x, pair_max_forward, [](Node& n) {
        auto [dx, accumulate] = grad_target(n.inputs[0]);
        pair_max_backward(dx, n.saved[0], n.grad, accumulate);
    }, true);
}

// y[t] = min(x[t], x[t-1]): dy[t] goes to the smaller, x[t] on a tie
Var pair_min(const Var& x) {
    return sequence_op(Op::pair_min, x, pair_min_forward, [](Node& n) {
        auto [dx, accumulate] = grad_target(n.inputs[0]);
        pair_min_backward(dx, n.saved[0], n.grad, accumulate);
    }, true);
}

// y[t] = (x[t] + x[t-1]) / 2: half of dy[t] to each
Var pair_mean(const Var& x) {
    return sequence_op(Op::pair_mean, x, pair_mean_forward, [](Node& n) {
        pair_mean_backward(grad_of(n.inputs[0]), n.grad);
    }, false);
}

// y[t] = max(x[t], y[t-1]): dy[t] goes to the x[s] holding the running max
Var scan_max(const Var& x) {
    return sequence_op(Op::scan_max, x, scan_max_forward, [](Node& n) {
        scan_max_backward(grad_of(n.inputs[0]), n.saved[0], n.saved[1], n.grad);
    }, true);
}

// y[t] = min(x[t], y[t-1])
Var scan_min(const Var& x) {
    return sequence_op(Op::scan_min, x, scan_min_forward, [](Node& n) {
        scan_min_backward(grad_of(n.inputs[0]), n.saved[0], n.saved[1], n.grad);
    }, true);
}

// y[t] = mean(x[0..t]): dx[s] += sum_{t >= s} dy[t] / (t + 1)
Var avg(const Var& x) {
    return sequence_op(Op::avg, x, avg_forward, [](Node& n) {
        avg_backward(grad_of(n.inputs[0]), n.grad);
    }, false);
}

// y[t] = mean(x[0..T-1]): leaks the future; dx[s] += sum_t dy[t] / T
Var gavg(const Var& x) {
    return sequence_op(Op::gavg, x, gavg_forward, [](Node& n) {
        gavg_backward(grad_of(n.inputs[0]), n.grad);
    }, false);
}

// y[t] = a * y[t-1] + x[t], y[0] = x[0]; a (C) one decay per channel; saves y and a
Var linear_scan(const Var& x, const Var& a) {
    Tensor xc = x.value.contiguous(), ac = a.value.contiguous();
    if (xc.ndim() != 3) fail("linear_scan", "expects (B, T, C), got " + xc.shape.str());
    Tensor y = empty(xc.shape);
    linear_scan_forward(y, xc, ac);
    // g[t] = dy[t] + a g[t+1]:  dx[t] += g[t],  da += sum_t g[t] y[t-1]
    Node* n = record(Op::linear_scan, y.shape, {&x, &a}, [](Node& n) {
        Tensor dx = n.inputs[0] ? grad_of(n.inputs[0]) : Tensor();
        Tensor da = n.inputs[1] ? grad_of(n.inputs[1]) : Tensor();
        Tensor rows = empty({n.shape[0], n.shape[2]});
        linear_scan_backward(dx, da, rows, n.saved[0], n.saved[1], n.grad);
    });
    if (n) {
        n->saved[0] = y;
        n->saved[1] = ac;
    }
    return {y, n};
}

}  // namespace cg
