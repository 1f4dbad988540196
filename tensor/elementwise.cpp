// Element-wise kernels: arithmetic with a trailing-dim broadcast, max/min and
// the dropout mask, all parallel over elements or rows. (The element-wise ops of
// one input, GELU among them, are rows of autograd/unary.cpp run by tensor/map.h.)
#include <cmath>

#include "tensor/chunks.h"
#include "tensor/fast_exp.h"
#include "tensor/kernels.h"

namespace cg {

namespace {

// b must equal a's shape or a's trailing dims; returns the size of one b.
int64_t broadcast_inner(const char* op, const Tensor& a, const Tensor& b) {
    bool ok = b.ndim() <= a.ndim();
    for (int i = 1; ok && i <= b.ndim(); i++) ok = a.shape[-i] == b.shape[-i];
    if (!ok)
        fail(op, "cannot broadcast " + b.shape.str() + " to " + a.shape.str() +
                     " (b must have a's shape or a's trailing dims)");
    return b.numel();
}

// f(out[r, i], a[r, i], b[i]) over rows r of a, i within one b; f writes or
// adds into its first argument.
template <typename F>
void binary(const char* op, const Tensor& out, const Tensor& a, const Tensor& b, F f) {
    check_contiguous(op, "a", a);
    check_contiguous(op, "b", b);
    check_contiguous(op, "output", out);
    check_shape(op, "output", out, a.shape);
    const int64_t inner = broadcast_inner(op, a, b);
    const int64_t n = a.numel();
    if (n == 0) return;
    const float *pa = a.data, *pb = b.data;
    float* po = out.data;
    if (inner == n) {
        #pragma omp parallel for simd if (n > kParallelMin)
        for (int64_t i = 0; i < n; i++) f(po[i], pa[i], pb[i]);
        return;
    }
    const int64_t rows = n / inner;
    #pragma omp parallel for if (n > kParallelMin)
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < inner; i++) f(po[r * inner + i], pa[r * inner + i], pb[i]);
}

void check_same(const char* op, const Tensor& a, const Tensor& b) {
    check_contiguous(op, "a", a);
    check_contiguous(op, "b", b);
    check_shape(op, "b", b, a.shape);
}

// Shared body of maximum/minimum backward: the chosen input takes dy.
template <typename Pick>
void pick_backward(const char* op, const Tensor& da, const Tensor& db, const Tensor& a,
                   const Tensor& b, const Tensor& dy, Pick a_wins) {
    check_same(op, a, b);
    check_same(op, a, dy);
    const int64_t n = a.numel();
    const float *pa = a.data, *pb = b.data, *g = dy.data;
    float* ga = da.defined() ? da.data : nullptr;
    float* gb = db.defined() ? db.data : nullptr;
    #pragma omp parallel for if (n > kParallelMin)
    for (int64_t i = 0; i < n; i++) {
        if (a_wins(pa[i], pb[i])) {
            if (ga) ga[i] += g[i];
        } else if (gb) {
            gb[i] += g[i];
        }
    }
}

}  // namespace

void add_forward(const Tensor& out, const Tensor& a, const Tensor& b) {
    binary("add", out, a, b, [](float& o, float x, float y) { o = x + y; });
}
void sub_forward(const Tensor& out, const Tensor& a, const Tensor& b) {
    binary("sub", out, a, b, [](float& o, float x, float y) { o = x - y; });
}
void mul_forward(const Tensor& out, const Tensor& a, const Tensor& b) {
    binary("mul", out, a, b, [](float& o, float x, float y) { o = x * y; });
}
void div_forward(const Tensor& out, const Tensor& a, const Tensor& b) {
    binary("div", out, a, b, [](float& o, float x, float y) { o = x / y; });
}

void scale_forward(const Tensor& out, const Tensor& x, float c) {
    check_same("scale", out, x);
    const int64_t n = x.numel();
    float* po = out.data;
    const float* px = x.data;
    #pragma omp parallel for simd if (n > kParallelMin)
    for (int64_t i = 0; i < n; i++) po[i] = c * px[i];
}

// db[i] += sign * sum_r dy[r, i]: parallel over i, so no two threads write one db.
void broadcast_sum_backward(const Tensor& db, const Tensor& dy, float sign) {
    check_contiguous("broadcast_sum", "db", db);
    check_contiguous("broadcast_sum", "dy", dy);
    const int64_t inner = broadcast_inner("broadcast_sum", dy, db);
    const int64_t rows = inner ? dy.numel() / inner : 0;
    const float* g = dy.data;
    float* d = db.data;
    #pragma omp parallel for if (dy.numel() > kParallelMin)
    for (int64_t i = 0; i < inner; i++) {
        float s = 0.0f;
        for (int64_t r = 0; r < rows; r++) s += g[r * inner + i];
        d[i] += sign * s;
    }
}

// y = a * b  ->  da += dy * b (b broadcast over rows)
void mul_backward_a(const Tensor& da, const Tensor& dy, const Tensor& b) {
    binary("mul", da, dy, b, [](float& d, float g, float y) { d += g * y; });
}

// y = a * b  ->  db += dy * a, summed over rows when b is broadcast
void mul_backward_b(const Tensor& db, const Tensor& dy, const Tensor& a) {
    check_same("mul", dy, a);
    check_contiguous("mul", "db", db);
    const int64_t inner = broadcast_inner("mul", dy, db);
    const int64_t rows = inner ? dy.numel() / inner : 0;
    const float *g = dy.data, *pa = a.data;
    float* d = db.data;
    #pragma omp parallel for if (dy.numel() > kParallelMin)
    for (int64_t i = 0; i < inner; i++) {
        float s = 0.0f;
        for (int64_t r = 0; r < rows; r++) s += g[r * inner + i] * pa[r * inner + i];
        d[i] += s;
    }
}

// y = a / b  ->  da += dy / b (b broadcast over rows)
void div_backward_a(const Tensor& da, const Tensor& dy, const Tensor& b) {
    binary("div", da, dy, b, [](float& d, float g, float y) { d += g / y; });
}

// y = a / b  ->  db += -dy * a / b^2, summed over rows when b is broadcast
void div_backward_b(const Tensor& db, const Tensor& dy, const Tensor& a, const Tensor& b) {
    check_same("div", dy, a);
    check_contiguous("div", "db", db);
    check_shape("div", "b", b, db.shape);
    const int64_t inner = broadcast_inner("div", dy, db);
    const int64_t rows = inner ? dy.numel() / inner : 0;
    const float *g = dy.data, *pa = a.data, *pb = b.data;
    float* d = db.data;
    #pragma omp parallel for if (dy.numel() > kParallelMin)
    for (int64_t i = 0; i < inner; i++) {
        float s = 0.0f;
        for (int64_t r = 0; r < rows; r++) s += g[r * inner + i] * pa[r * inner + i];
        d[i] -= s / (pb[i] * pb[i]);
    }
}

void add_scalar_forward(const Tensor& out, const Tensor& x, float c) {
    check_same("add_scalar", out, x);
    const int64_t n = x.numel();
    float* po = out.data;
    const float* px = x.data;
    #pragma omp parallel for simd if (n > kParallelMin)
    for (int64_t i = 0; i < n; i++) po[i] = px[i] + c;
}

// y = c * x  ->  dx += c * dy
void scale_backward(const Tensor& dx, const Tensor& dy, float c) {
    check_same("scale", dx, dy);
    const int64_t n = dy.numel();
    float* d = dx.data;
    const float* g = dy.data;
    #pragma omp parallel for simd if (n > kParallelMin)
    for (int64_t i = 0; i < n; i++) d[i] += c * g[i];
}

void maximum_forward(const Tensor& out, const Tensor& a, const Tensor& b) {
    check_same("maximum", a, b);
    binary("maximum", out, a, b, [](float& o, float x, float y) { o = x >= y ? x : y; });
}
void minimum_forward(const Tensor& out, const Tensor& a, const Tensor& b) {
    check_same("minimum", a, b);
    binary("minimum", out, a, b, [](float& o, float x, float y) { o = x <= y ? x : y; });
}
// y = max(a, b): dy goes to a where a >= b (a wins ties), else to b.
void maximum_backward(const Tensor& da, const Tensor& db, const Tensor& a, const Tensor& b,
                      const Tensor& dy) {
    pick_backward("maximum", da, db, a, b, dy, [](float x, float y) { return x >= y; });
}
void minimum_backward(const Tensor& da, const Tensor& db, const Tensor& a, const Tensor& b,
                      const Tensor& dy) {
    pick_backward("minimum", da, db, a, b, dy, [](float x, float y) { return x <= y; });
}

void where_forward(const Tensor& out, const Tensor& mask, const Tensor& a, const Tensor& b) {
    check_same("where", mask, a);
    check_same("where", mask, b);
    check_same("where", mask, out);
    const int64_t n = mask.numel();
    const float *m = mask.data, *pa = a.data, *pb = b.data;
    float* o = out.data;
    #pragma omp parallel for simd if (n > kParallelMin)
    for (int64_t i = 0; i < n; i++) o[i] = m[i] != 0.0f ? pa[i] : pb[i];
}
void where_backward(const Tensor& da, const Tensor& db, const Tensor& mask, const Tensor& dy) {
    check_same("where", mask, dy);
    const int64_t n = mask.numel();
    const float *m = mask.data, *g = dy.data;
    float* ga = da.defined() ? da.data : nullptr;
    float* gb = db.defined() ? db.data : nullptr;
    #pragma omp parallel for if (n > kParallelMin)
    for (int64_t i = 0; i < n; i++) {
        if (m[i] != 0.0f) {
            if (ga) ga[i] += g[i];
        } else if (gb) {
            gb[i] += g[i];
        }
    }
}

// Each element keeps with probability 1 - p, scaled by 1/(1-p) so the
// expected value is unchanged; element i uses stream position counter + i.
void dropout_mask(const Tensor& mask, float p, Rng& rng) {
    check_contiguous("dropout", "mask", mask);
    if (!(p >= 0.0f && p < 1.0f)) fail("dropout", "p must be in [0, 1), got " + std::to_string(p));
    const int64_t n = mask.numel();
    const float keep_scale = 1.0f / (1.0f - p);
    const uint64_t seed = rng.seed, base = rng.counter;
    float* m = mask.data;
    #pragma omp parallel for if (n > kParallelMin)
    for (int64_t i = 0; i < n; i++) m[i] = rng_uniform_at(seed, base + i) < p ? 0.0f : keep_scale;
    rng.counter += n;
}

}  // namespace cg
