// Reductions to a scalar.
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

}  // namespace cg
