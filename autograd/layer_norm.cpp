// Layer norm over the last dim, fused: one kernel each way.
#include "autograd/ops.h"
#include "tensor/kernels.h"

namespace cg {

// y = (x - mean) * rstd * weight + bias; saves x, weight, mean, rstd
Var layer_norm(const Var& x, const Var& weight, const Var& bias, float eps) {
    Tensor xc = x.value.contiguous();
    const int64_t C = xc.shape[-1];
    Tensor y = empty(xc.shape), mean = empty({xc.numel() / C}), rstd = empty({xc.numel() / C});
    layer_norm_forward(y, mean, rstd, xc, weight.value, bias.value, eps);
    // dx, dweight, dbias: see layer_norm_backward in tensor/layer_norm.cpp
    Node* n = record(Op::layer_norm, y.shape, {&x, &weight, &bias}, [](Node& n) {
        Tensor none, dx;
        bool accumulate = true;
        if (n.inputs[0]) {
            const GradTarget target = grad_target(n.inputs[0]);
            dx = target.grad;
            accumulate = target.accumulate;
        }
        layer_norm_backward(dx,
                           n.inputs[1] ? grad_of(n.inputs[1]) : none,
                           n.inputs[2] ? grad_of(n.inputs[2]) : none, n.grad, n.saved[0],
                           n.saved[1], n.saved[2], n.saved[3], accumulate);
    });
    if (n) {
        n->saved[0] = xc;
        n->saved[1] = weight.value;
        n->saved[2] = mean;
        n->saved[3] = rstd;
    }
    return {y, n};
}

}  // namespace cg
