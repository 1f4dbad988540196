// Reductions: to a scalar, and along the last dim.
#include <utility>

#include "tensor/chunks.h"
#include "tensor/kernels.h"

namespace cg {

double sum_all(const Tensor& x) {
    check_contiguous("sum", "input", x);
    const int64_t n = x.numel();
    const float* p = x.data;
    // Per-chunk sums added in chunk order: the same whatever the thread count.
    double partial[16] = {};
    const int64_t chunks = chunk_count(n, kParallelMin);
    #pragma omp parallel for schedule(static) if (chunks > 1)
    for (int64_t k = 0; k < chunks; k++) {
        double s = 0.0;
        for (int64_t i = chunk_begin(n, chunks, k); i < chunk_begin(n, chunks, k + 1); i++) s += p[i];
        partial[k] = s;
    }
    double s = 0.0;
    for (int64_t k = 0; k < chunks; k++) s += partial[k];
    return s;
}

void add_constant(const Tensor& dx, float c) {
    check_contiguous("add_constant", "dx", dx);
    const int64_t n = dx.numel();
    float* p = dx.data;
    #pragma omp parallel for simd if (n > kParallelMin)
    for (int64_t i = 0; i < n; i++) p[i] += c;
}

namespace {
// x (..., C) and its row sums (..., 1): returns (rows N, C).
std::pair<int64_t, int64_t> rows_of(const char* op, const Tensor& full, const Tensor& sums) {
    check_contiguous(op, "input", full);
    check_contiguous(op, "sums", sums);
    Shape want = full.shape;
    if (want.ndim == 0) fail(op, "needs at least one dim");
    want.dims[want.ndim - 1] = 1;
    check_shape(op, "sums", sums, want);
    const int64_t C = full.shape[-1];
    return {C ? full.numel() / C : 0, C};
}
}  // namespace

void row_sum_forward(const Tensor& out, const Tensor& x) {
    const auto [N, C] = rows_of("row_sum", x, out);
    const float* px = x.data;
    float* po = out.data;
    #pragma omp parallel for if (N * C > kParallelMin)
    for (int64_t r = 0; r < N; r++) {
        float s = 0.0f;
        for (int64_t i = 0; i < C; i++) s += px[r * C + i];
        po[r] = s;
    }
}

// y (..., 1) = sum_i x (..., i)  ->  dx (..., i) += dy (..., 1)
void row_sum_backward(const Tensor& dx, const Tensor& dy) {
    const auto [N, C] = rows_of("row_sum", dx, dy);
    const float* g = dy.data;
    float* d = dx.data;
    #pragma omp parallel for if (N * C > kParallelMin)
    for (int64_t r = 0; r < N; r++)
        for (int64_t i = 0; i < C; i++) d[r * C + i] += g[r];
}

void expand_last_forward(const Tensor& out, const Tensor& x) {
    const auto [N, C] = rows_of("expand_last", out, x);
    const float* px = x.data;
    float* po = out.data;
    #pragma omp parallel for if (N * C > kParallelMin)
    for (int64_t r = 0; r < N; r++)
        for (int64_t i = 0; i < C; i++) po[r * C + i] = px[r];
}

// y (..., i) = x (..., 1)  ->  dx (..., 1) += sum_i dy (..., i)
void expand_last_backward(const Tensor& dx, const Tensor& dy) {
    const auto [N, C] = rows_of("expand_last", dy, dx);
    const float* g = dy.data;
    float* d = dx.data;
    #pragma omp parallel for if (N * C > kParallelMin)
    for (int64_t r = 0; r < N; r++) {
        float s = 0.0f;
        for (int64_t i = 0; i < C; i++) s += g[r * C + i];
        d[r] += s;
    }
}

}  // namespace cg
