// Matrix product. Transposed inputs are views; the kernel passes them to BLAS
// as flags, so neither the forward nor the backward copies them.
#include "autograd/ops.h"
#include "tensor/kernels.h"

namespace cg {

// y (..., M, Nc) = a (..., M, K) @ b (..., K, Nc) or b (K, Nc); saves a and b
Var matmul(const Var& a, const Var& b) {
    Tensor y = empty(matmul_shape(a.value, b.value));
    matmul(y, a.value, b.value);
    // da += dy @ b^T
    // db += a^T @ dy, summed over the batch when one b (K, Nc) served all of it
    Node* n = record(Op::matmul, y.shape, {&a, &b}, [](Node& n) {
        const Tensor &av = n.saved[0], &bv = n.saved[1];
        if (n.inputs[0]) matmul(grad_of(n.inputs[0]), n.grad, bv.transpose(-2, -1), 1.0f);
        if (!n.inputs[1]) return;
        if (bv.ndim() == 2 && av.ndim() > 2) {
            const int64_t K = av.shape[-1], Nc = bv.shape[-1];
            Tensor a_rows = av.contiguous().reshape({-1, K});  // (N, K), N = all rows
            matmul(grad_of(n.inputs[1]), a_rows.transpose(0, 1), n.grad.reshape({-1, Nc}), 1.0f);
        } else {
            matmul(grad_of(n.inputs[1]), av.transpose(-2, -1), n.grad, 1.0f);
        }
    });
    if (n) {
        n->saved[0] = a.value;
        n->saved[1] = b.value;
    }
    return {y, n};
}

}  // namespace cg
