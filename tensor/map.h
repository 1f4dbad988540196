// Element-wise maps over whole tensors. The parallel loop is written once
// here; an op supplies its formula as a plain inline function, which the
// template inlines, so each map vectorises as a hand-written loop would
// (when the formula does: fast_exp, no library calls).
#pragma once

#include "tensor/chunks.h"
#include "tensor/tensor.h"

namespace cg {

// out[i] = f(x[i])
template <float (*f)(float)>
void map_forward(const Tensor& out, const Tensor& x) {
    check_contiguous("map", "x", x);
    check_contiguous("map", "output", out);
    check_shape("map", "output", out, x.shape);
    const int64_t n = x.numel();
    const float* px = x.data;
    float* po = out.data;
    #pragma omp parallel for simd if (n > kParallelMin)
    for (int64_t i = 0; i < n; i++) po[i] = f(px[i]);
}

// dx[i] += df(x[i], y[i]) * dy[i], with df the derivative of f at x and y = f(x)
// (whichever of the two the derivative is easier to write with).
template <float (*df)(float, float)>
void map_backward(const Tensor& dx, const Tensor& x, const Tensor& y, const Tensor& dy) {
    check_contiguous("map", "x", x);
    check_shape("map", "dx", dx, x.shape);
    check_shape("map", "y", y, x.shape);
    check_shape("map", "dy", dy, x.shape);
    check_contiguous("map", "dx", dx);
    check_contiguous("map", "y", y);
    check_contiguous("map", "dy", dy);
    const int64_t n = x.numel();
    const float *px = x.data, *py = y.data, *g = dy.data;
    float* d = dx.data;
    #pragma omp parallel for simd if (n > kParallelMin)
    for (int64_t i = 0; i < n; i++) d[i] += df(px[i], py[i]) * g[i];
}

}  // namespace cg
