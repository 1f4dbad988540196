// Matrix products through cblas_sgemm, with transposed views passed to BLAS
// as flags instead of being copied.
#include <cblas.h>

#include <algorithm>

#include "tensor/kernels.h"

namespace cg {

namespace {

// How BLAS should read the last two dims of a tensor (rows x cols) in place.
struct MatrixArg {
    CBLAS_TRANSPOSE trans;
    int ld;
};

// A row-major matrix with unit column stride is read as is (NoTrans, ld = row
// stride); one with unit row stride is the transpose of a row-major matrix
// (Trans, ld = column stride). Anything else needs a copy.
bool describe(const Tensor& t, MatrixArg& arg) {
    const int64_t rows = t.shape[-2], cols = t.shape[-1];
    const int64_t sr = t.strides[t.ndim() - 2], sc = t.strides[t.ndim() - 1];
    if (cols == 1 || sc == 1) {
        int64_t ld = rows == 1 ? std::max<int64_t>(cols, 1) : sr;
        if (ld >= std::max<int64_t>(cols, 1)) {
            arg = {CblasNoTrans, static_cast<int>(ld)};
            return true;
        }
    }
    if (rows == 1 || sr == 1) {
        int64_t ld = cols == 1 ? std::max<int64_t>(rows, 1) : sc;
        if (ld >= std::max<int64_t>(rows, 1)) {
            arg = {CblasTrans, static_cast<int>(ld)};
            return true;
        }
    }
    return false;
}

std::string pair_str(const Tensor& a, const Tensor& b) { return a.shape.str() + " x " + b.shape.str(); }

}  // namespace

Shape matmul_shape(const Tensor& a, const Tensor& b) {
    if (a.ndim() < 2 || b.ndim() < 2)
        fail("matmul", "needs at least 2 dims: " + pair_str(a, b));
    if (a.shape[-1] != b.shape[-2])
        fail("matmul", "inner dims differ: " + pair_str(a, b));
    if (b.ndim() != 2) {
        if (a.ndim() != b.ndim())
            fail("matmul", "batch dims differ: " + pair_str(a, b));
        for (int i = 0; i < a.ndim() - 2; i++)
            if (a.shape[i] != b.shape[i]) fail("matmul", "batch dims differ: " + pair_str(a, b));
    }
    Shape out = a.shape;
    out.dims[out.ndim - 1] = b.shape[-1];
    return out;
}

// out (..., M, Nc) = a (..., M, K) @ b (..., K, Nc) + beta * out
void matmul(const Tensor& out, const Tensor& a_in, const Tensor& b_in, float beta) {
    check_shape("matmul", "output", out, matmul_shape(a_in, b_in));
    check_contiguous("matmul", "output", out);
    if (out.numel() == 0) return;
    const int M = static_cast<int>(a_in.shape[-2]), K = static_cast<int>(a_in.shape[-1]);
    const int Nc = static_cast<int>(b_in.shape[-1]);
    if (K == 0) {  // an empty sum: out = beta * out (BLAS rejects K = 0 strides)
        scale_forward(out, out, beta);
        return;
    }
    // A view BLAS cannot read (e.g. a permutation of the matrix dims with the
    // batch dims) is copied once; views from transpose(-2,-1) never are.
    MatrixArg ma, mb;
    Tensor a = describe(a_in, ma) ? a_in : a_in.contiguous();
    Tensor b = describe(b_in, mb) ? b_in : b_in.contiguous();
    if (!describe(a, ma) || !describe(b, mb)) fail("matmul", "cannot pass " + pair_str(a, b) + " to BLAS");

    const int nbatch = a.ndim() - 2;
    int64_t bd[2] = {1, 1}, as[2] = {0, 0}, bs[2] = {0, 0};
    for (int i = 0; i < nbatch; i++) {
        int j = 2 - nbatch + i;  // right-align the batch dims into bd[0..1]
        bd[j] = a.shape[i];
        as[j] = a.strides[i];
        bs[j] = b.ndim() == 2 ? 0 : b.strides[i];
    }
    // A shared 2-D weight and a batch of row-major rows that tile memory
    // evenly: one sgemm over all rows at once.
    if (b.ndim() == 2 && ma.trans == CblasNoTrans && nbatch > 0) {
        const int64_t rows_stride = static_cast<int64_t>(M) * ma.ld;
        if ((bd[1] == 1 || as[1] == rows_stride) && (bd[0] == 1 || as[0] == bd[1] * rows_stride)) {
            int rows = static_cast<int>(M * bd[0] * bd[1]);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, mb.trans, rows, Nc, K, 1.0f, a.data, ma.ld,
                        b.data, mb.ld, beta, out.data, Nc);
            return;
        }
    }
    const int64_t out_stride = static_cast<int64_t>(M) * Nc;
    for (int64_t i0 = 0; i0 < bd[0]; i0++)
        for (int64_t i1 = 0; i1 < bd[1]; i1++) {
            const float* pa = a.data + i0 * as[0] + i1 * as[1];
            const float* pb = b.data + i0 * bs[0] + i1 * bs[1];
            float* pc = out.data + (i0 * bd[1] + i1) * out_stride;
            cblas_sgemm(CblasRowMajor, ma.trans, mb.trans, M, Nc, K, 1.0f, pa, ma.ld, pb, mb.ld,
                        beta, pc, Nc);
        }
}

}  // namespace cg
