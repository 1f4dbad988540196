// Element-wise maps over whole tensors. The parallel loop is written once
// here; an op supplies its formula as a plain inline function, which the
// template inlines, so each map vectorises as a hand-written loop would
// (when the formula does: fast_exp, no library calls).
#pragma once

#include <initializer_list>

#include "tensor/chunks.h"
#include "tensor/tensor.h"

namespace cg {

// Every operand of a map has the shape of `first` and is contiguous.
struct MapOperand {
    const char* name;
    const Tensor& t;
};
inline void check_map_operands(const MapOperand& first, std::initializer_list<MapOperand> others) {
    check_contiguous("map", first.name, first.t);
    for (const MapOperand& o : others) {
        check_shape("map", o.name, o.t, first.t.shape);
        check_contiguous("map", o.name, o.t);
    }
}

// out[i] = f(x[i])
template <float (*f)(float)>
void map_forward(const Tensor& out, const Tensor& x) {
    check_map_operands({"x", x}, {{"output", out}});
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
    check_map_operands({"x", x}, {{"dx", dx}, {"y", y}, {"dy", dy}});
    const int64_t n = x.numel();
    const float *px = x.data, *py = y.data, *g = dy.data;
    float* d = dx.data;
    #pragma omp parallel for simd if (n > kParallelMin)
    for (int64_t i = 0; i < n; i++) d[i] += df(px[i], py[i]) * g[i];
}

// out[i] = f(x[i]) and slope[i] = f'(x[i]) in one pass, for ops whose
// derivative shares the value's costly part (gelu's exp): f returns the value
// and writes the slope.
template <float (*f)(float, float&)>
void map_forward_with_slope(const Tensor& out, const Tensor& slope, const Tensor& x) {
    check_map_operands({"x", x}, {{"output", out}, {"slope", slope}});
    const int64_t n = x.numel();
    const float* px = x.data;
    float *po = out.data, *ps = slope.data;
    #pragma omp parallel for simd if (n > kParallelMin)
    for (int64_t i = 0; i < n; i++) po[i] = f(px[i], ps[i]);
}

// dx[i] = slope[i] * dy[i], or dx[i] += ... when accumulate (dx already holds
// other consumers' gradients); writing spares zeroing a fresh dx first.
inline void slope_backward(const Tensor& dx, const Tensor& slope, const Tensor& dy, bool accumulate) {
    check_map_operands({"slope", slope}, {{"dx", dx}, {"dy", dy}});
    const int64_t n = slope.numel();
    const float *ps = slope.data, *g = dy.data;
    float* d = dx.data;
    if (accumulate) {
        #pragma omp parallel for simd if (n > kParallelMin)
        for (int64_t i = 0; i < n; i++) d[i] += ps[i] * g[i];
    } else {
        #pragma omp parallel for simd if (n > kParallelMin)
        for (int64_t i = 0; i < n; i++) d[i] = ps[i] * g[i];
    }
}

}  // namespace cg
