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

namespace {
// sums (..., 1) (+)= sum_i full (..., i), or full (..., i) (+)= sums (..., 1).
void rows_to_sums(const char* op, const Tensor& sums, const Tensor& full, bool add) {
    // Plain variables, not a structured binding: clang cannot capture those in an OpenMP region.
    const std::pair<int64_t, int64_t> rows = rows_of(op, full, sums);
    const int64_t N = rows.first, C = rows.second;
    const float* px = full.data;
    float* po = sums.data;
    #pragma omp parallel for if (N * C > kParallelMin)
    for (int64_t r = 0; r < N; r++) {
        float s = 0.0f;
        for (int64_t i = 0; i < C; i++) s += px[r * C + i];
        po[r] = add ? po[r] + s : s;
    }
}
void sums_to_rows(const char* op, const Tensor& full, const Tensor& sums, bool add) {
    const std::pair<int64_t, int64_t> rows = rows_of(op, full, sums);
    const int64_t N = rows.first, C = rows.second;
    const float* px = sums.data;
    float* po = full.data;
    #pragma omp parallel for if (N * C > kParallelMin)
    for (int64_t r = 0; r < N; r++)
        for (int64_t i = 0; i < C; i++) po[r * C + i] = add ? po[r * C + i] + px[r] : px[r];
}
}  // namespace

void row_sum_forward(const Tensor& out, const Tensor& x) { rows_to_sums("row_sum", out, x, false); }
// y (..., 1) = sum_i x (..., i)  ->  dx (..., i) += dy (..., 1)
void row_sum_backward(const Tensor& dx, const Tensor& dy) { sums_to_rows("row_sum", dx, dy, true); }
void expand_last_forward(const Tensor& out, const Tensor& x) { sums_to_rows("expand_last", out, x, false); }
// y (..., i) = x (..., 1)  ->  dx (..., 1) += sum_i dy (..., i)
void expand_last_backward(const Tensor& dx, const Tensor& dy) { rows_to_sums("expand_last", dx, dy, true); }

}  // namespace cg
