// Reductions to a scalar.
#include "tensor/kernels.h"

namespace cg {

double sum_all(const Tensor& x) {
    check_contiguous("sum", "input", x);
    const int64_t n = x.numel();
    const float* p = x.data;
    double s = 0.0;
    #pragma omp parallel for reduction(+ : s) if (n > (1 << 14))
    for (int64_t i = 0; i < n; i++) s += p[i];
    return s;
}

void add_constant(const Tensor& dx, float c) {
    check_contiguous("add_constant", "dx", dx);
    const int64_t n = dx.numel();
    float* p = dx.data;
    #pragma omp parallel for simd if (n > (1 << 14))
    for (int64_t i = 0; i < n; i++) p[i] += c;
}

}  // namespace cg
