// Matrix product. Transposed inputs are views; the kernel passes them to BLAS
// as flags, so neither the forward nor the backward copies them.
#include "autograd/ops.h"
#include "tensor/kernels.h"

namespace cg {
namespace {
// sgemm's beta: 1 adds into the gradient other consumers began, 0 writes it
float beta_for(bool accumulate) { return accumulate ? 1.0f : 0.0f; }
}  // namespace

// y (..., M, Nc) = a (..., M, K) @ b (..., K, Nc) or b (K, Nc); saves a and b
Var matmul(const Var& a, const Var& b) {
    Tensor y = empty(matmul_shape(a.value, b.value));
    matmul(y, a.value, b.value);
    // da += dy @ b^T
    // db += a^T @ dy, summed over the batch when one b (K, Nc) served all of it
    Node* n = record(Op::matmul, y.shape, {&a, &b}, [](Node& n) {
        const Tensor &av = n.saved[0], &bv = n.saved[1];
        if (n.inputs[0]) {
            auto [da, accumulate] = grad_target(n.inputs[0]);
            matmul(da, n.grad, bv.transpose(-2, -1), beta_for(accumulate));
        }
        if (!n.inputs[1]) return;
        if (bv.ndim() == 2 && av.ndim() > 2) {
            const int64_t K = av.shape[-1], Nc = bv.shape[-1];
            Tensor a_rows = av.contiguous().reshape({-1, K});  // (N, K), N = all rows
            auto [db, accumulate] = grad_target(n.inputs[1]);
            matmul(db, a_rows.transpose(0, 1), n.grad.reshape({-1, Nc}), beta_for(accumulate));
        } else {
            auto [db, accumulate] = grad_target(n.inputs[1]);
            matmul(db, av.transpose(-2, -1), n.grad, beta_for(accumulate));
        }
    });
    if (n) {
        n->saved[0] = a.value;
        n->saved[1] = b.value;
    }
    return {y, n};
}

}  // namespace cg

namespace cg {

// y (N, out) = x (N, in) @ W^T + b, with N all leading dims of x; saves x, W
Var linear(const Var& x, const Var& weight, const Var& bias) {
    const Tensor& w = weight.value;
    if (w.ndim() != 2 || x.shape()[-1] != w.shape[1])
        fail("linear", "input " + x.shape().str() + " does not fit weight " + w.shape.str() + " (out, in)");
    if (bias.defined()) check_shape("linear", "bias", bias.value, Shape{w.shape[0]});
    const int64_t in = w.shape[1], out = w.shape[0];
    Tensor x_rows = x.value.contiguous().reshape({-1, in});  // (N, in)
    Shape y_shape = x.shape();
    y_shape.dims[y_shape.ndim - 1] = out;
    Tensor y = empty(y_shape);
    Tensor y_rows = y.reshape({-1, out});
    // Under bfloat16 a weight (a parameter) is read from its bf16 copy, made
    // once per Autocast; anything else is rounded as the product packs it.
    const bool weight_copy = product_dtype() == Dtype::bfloat16 && weight.node && !weight.node->backward;
    matmuls({{y_rows, x_rows, w.transpose(0, 1), 0.0f, weight_copy ? bf16_copy(w) : nullptr}});  // W^T: BLAS's transpose flag
    if (bias.defined()) add_forward(y_rows, y_rows, bias.value);
    // dx += dy @ W;  dW += dy^T @ x;  db += sum over rows of dy
    Node* n = record(Op::linear, y.shape, {&x, &weight, &bias}, [](Node& n) {
        const Tensor &xr = n.saved[0], &wv = n.saved[1];
        const Tensor dy = n.grad.reshape({-1, wv.shape[0]});
        if (n.inputs[0] && n.inputs[1] && n.inputs[0] != n.inputs[1] && wv.is_contiguous() && dy.is_contiguous()) {
            auto [dx, dx_accumulate] = grad_target(n.inputs[0]);
            auto [dw, dw_accumulate] = grad_target(n.inputs[1]);
            const bool weight_copy = n.dtype == Dtype::bfloat16 && n.ints[0] == 1;
            linear_backward_products(dx.reshape({-1, wv.shape[1]}), beta_for(dx_accumulate), dw,
                                     beta_for(dw_accumulate), dy, xr, wv, weight_copy ? bf16_copy(wv) : nullptr);
        } else if (n.inputs[0] && n.inputs[1]) {  // linear(w, w), or a strided weight view: one product after the other
            auto [dx, dx_accumulate] = grad_target(n.inputs[0]);
            matmul(dx.reshape({-1, wv.shape[1]}), dy, wv, beta_for(dx_accumulate));
            auto [dw, dw_accumulate] = grad_target(n.inputs[1]);
            matmul(dw, dy.transpose(0, 1), xr, beta_for(dw_accumulate));
        } else if (n.inputs[0]) {
            auto [dx, accumulate] = grad_target(n.inputs[0]);
            matmul(dx.reshape({-1, wv.shape[1]}), dy, wv, beta_for(accumulate));
        } else if (n.inputs[1]) {
            auto [dw, accumulate] = grad_target(n.inputs[1]);
            matmul(dw, dy.transpose(0, 1), xr, beta_for(accumulate));
        }
        if (n.inputs[2]) broadcast_sum_backward(grad_of(n.inputs[2]), dy, 1.0f);
    });
    if (n) {
        n->saved[0] = x_rows;
        n->saved[1] = w;
        n->ints[0] = weight_copy;
    }
    return {y, n};
}

}  // namespace cg
