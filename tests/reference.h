// Test helpers and naive reference loops for the kernel tests.
//
// Every reference here is a plain serial loop in double over the logical
// (row-major) order of its inputs, written from the formula in
// tensor/kernels.h and nothing else, so a kernel and its reference share no
// code. Comparisons take a tolerance per element; each test says where its
// tolerance comes from. Shape letters as in kernels.h (B, T, C, V, N, ...).
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "tensor/kernels.h"
#include "tests/helpers.h"

namespace cg::ref {

// Unit roundoff of float32: a correctly rounded float operation has relative
// error at most this.
constexpr double kU = 1.0 / (1 << 24);
// A tiny absolute floor so that tolerances built from magnitudes are never 0
// where the exact answer is 0 but float gives -0 or a denormal.
constexpr double kTiny = 1e-30;

using Vec = std::vector<double>;

// The tensor's elements in logical row-major order (values_of, tests/helpers.h), in double.
inline Vec values(const Tensor& t) {
    const std::vector<float> v = values_of(t);
    return Vec(v.begin(), v.end());
}

inline std::vector<float> floats(const Tensor& t) { return values_of(t); }

inline Tensor randn(Shape s, Rng& rng, float stddev = 1.0f, float mean = 0.0f) {
    Tensor t = empty(s);
    fill_normal(t, rng, mean, stddev);
    return t;
}

inline Vec abs_of(const Vec& v) {
    Vec r(v.size());
    for (size_t i = 0; i < v.size(); ++i) r[i] = std::fabs(v[i]);
    return r;
}

inline std::string index_str(const Shape& s, int64_t flat) {
    int64_t idx[kMaxDims] = {0, 0, 0, 0};
    for (int d = s.ndim - 1; d >= 0; --d) {
        idx[d] = flat % s.dims[d];
        flat /= s.dims[d];
    }
    std::string r = "[";
    for (int d = 0; d < s.ndim; ++d) r += (d ? "," : "") + std::to_string(idx[d]);
    return r + "]";
}

// |got - want| <= tol elementwise (NaN fails). One CHECK per call; the
// message names the worst element relative to its tolerance.
inline void expect_close(const Tensor& got, const Vec& want, const Vec& tol,
                         const std::string& what) {
    const Vec g = values(got);
    REQUIRE_MESSAGE(g.size() == want.size(), what << ": size " << g.size() << " vs " << want.size());
    REQUIRE(tol.size() == want.size());
    int64_t bad = 0, worst = -1;
    double worst_ratio = 0.0;
    for (size_t i = 0; i < g.size(); ++i) {
        const double err = std::fabs(g[i] - want[i]);
        const double ratio = std::isnan(err) ? INFINITY : err / tol[i];
        if (!(err <= tol[i])) ++bad;
        if (ratio > worst_ratio || worst < 0) {
            worst_ratio = ratio;
            worst = static_cast<int64_t>(i);
        }
    }
    std::ostringstream msg;
    msg.precision(9);
    msg << what << " " << got.shape.str() << ": " << bad << " of " << g.size()
        << " elements out of tolerance; worst at " << index_str(got.shape, worst) << " got "
        << g[worst] << " want " << want[worst] << " tol " << tol[worst] << " (err/tol "
        << worst_ratio << ")";
    CHECK_MESSAGE(bad == 0, msg.str());
}

// Tolerance atol + rtol * |want| for every element.
inline void expect_close(const Tensor& got, const Vec& want, double atol, double rtol,
                         const std::string& what) {
    Vec tol(want.size());
    for (size_t i = 0; i < want.size(); ++i) tol[i] = atol + rtol * std::fabs(want[i]);
    expect_close(got, want, tol, what);
}

// Bit-for-bit equality of two same-shape tensors (for thread-count checks).
inline void expect_identical(const Tensor& a, const Tensor& b, const std::string& what) {
    REQUIRE(a.shape == b.shape);
    const std::vector<float> x = floats(a), y = floats(b);
    int64_t bad = 0, first = -1;
    for (size_t i = 0; i < x.size(); ++i) {
        if (std::memcmp(&x[i], &y[i], sizeof(float)) != 0) {
            if (first < 0) first = static_cast<int64_t>(i);
            ++bad;
        }
    }
    std::ostringstream msg;
    msg.precision(9);
    msg << what << " " << a.shape.str() << ": " << bad << " elements differ";
    if (first >= 0) msg << "; first at " << index_str(a.shape, first) << ": " << x[first] << " vs " << y[first];
    CHECK_MESSAGE(bad == 0, msg.str());
}

// ---- matmul ------------------------------------------------------------------
// out (batch..., M, Nc) = a (batch..., M, K) @ b (batch..., K, Nc) or b (K, Nc),
// plus beta * out0. tol is the classic bound for a float dot product of K
// terms in any order, gamma_{K+2} * sum_k |a_ik b_kj| (Higham, "Accuracy and
// Stability of Numerical Algorithms", 3.1), plus the beta term; times 2 slack.
struct Result {
    Vec want, tol;
};
inline Result matmul_ref(const Tensor& a, const Tensor& b, const Vec& out0, double beta) {
    const int64_t M = a.size(-2), K = a.size(-1), Nc = b.size(-1);
    const int64_t batches = a.numel() / (M * K);
    const bool shared_b = b.ndim() == 2;
    const Vec av = values(a), bv = values(b);
    Result r{Vec(static_cast<size_t>(batches * M * Nc)), Vec(static_cast<size_t>(batches * M * Nc))};
    for (int64_t z = 0; z < batches; ++z) {
        const double* A = av.data() + z * M * K;
        const double* Bm = bv.data() + (shared_b ? 0 : z * K * Nc);
        for (int64_t i = 0; i < M; ++i) {
            for (int64_t j = 0; j < Nc; ++j) {
                double s = 0.0, mag = 0.0;
                for (int64_t k = 0; k < K; ++k) {
                    s += A[i * K + k] * Bm[k * Nc + j];
                    mag += std::fabs(A[i * K + k] * Bm[k * Nc + j]);
                }
                const size_t o = static_cast<size_t>((z * M + i) * Nc + j);
                const double prev = out0.empty() ? 0.0 : beta * out0[o];
                r.want[o] = s + prev;
                r.tol[o] = 2.0 * (K + 2) * kU * (mag + std::fabs(prev)) + kTiny;
            }
        }
    }
    return r;
}

// ---- gelu ----------------------------------------------------------------------
constexpr double kGeluS = 0.79788456080286535588;  // sqrt(2 / pi)
constexpr double kGeluA = 0.044715;

inline double gelu(double x) {
    const double u = kGeluS * (x + kGeluA * x * x * x);
    // 0.5 x (1 + tanh u) written as x / (1 + exp(-2u)): no cancellation for x << 0.
    return x / (1.0 + std::exp(-2.0 * u));
}
// d/dx of 0.5 x (1 + tanh u):  0.5 (1 + tanh u) + 0.5 x sech^2(u) u'(x),
// with u'(x) = s (1 + 3 a x^2).
inline double gelu_grad(double x) {
    const double u = kGeluS * (x + kGeluA * x * x * x);
    const double sech = 1.0 / std::cosh(u);
    return 1.0 / (1.0 + std::exp(-2.0 * u)) +
           0.5 * x * sech * sech * kGeluS * (1.0 + 3.0 * kGeluA * x * x);
}

// ---- layer_norm -----------------------------------------------------------------
struct LayerNormRef {
    Vec out, mean, rstd, xhat;
};
inline LayerNormRef layer_norm_ref(const Vec& x, const Vec& w, const Vec* b, int64_t N,
                                  int64_t C, double eps) {
    LayerNormRef r{Vec(x.size()), Vec(N), Vec(N), Vec(x.size())};
    for (int64_t n = 0; n < N; ++n) {
        const double* xr = x.data() + n * C;
        double m = 0.0;
        for (int64_t c = 0; c < C; ++c) m += xr[c];
        m /= C;
        double v = 0.0;
        for (int64_t c = 0; c < C; ++c) v += (xr[c] - m) * (xr[c] - m);
        v /= C;  // biased variance, as PyTorch's LayerNorm
        const double rs = 1.0 / std::sqrt(v + eps);
        r.mean[n] = m;
        r.rstd[n] = rs;
        for (int64_t c = 0; c < C; ++c) {
            const double xh = (xr[c] - m) * rs;
            r.xhat[n * C + c] = xh;
            r.out[n * C + c] = xh * w[c] + (b ? (*b)[c] : 0.0);
        }
    }
    return r;
}

// ---- softmax -------------------------------------------------------------------
// Row softmax of scale * x over the first `len` of `width` entries; the rest 0.
inline void softmax_row(const double* x, double* p, int64_t len, int64_t width, double scale) {
    double mx = -INFINITY;
    for (int64_t j = 0; j < len; ++j) mx = std::max(mx, scale * x[j]);
    double s = 0.0;
    for (int64_t j = 0; j < len; ++j) s += std::exp(scale * x[j] - mx);
    for (int64_t j = 0; j < len; ++j) p[j] = std::exp(scale * x[j] - mx) / s;
    for (int64_t j = len; j < width; ++j) p[j] = 0.0;
}

// ---- scans along T of (B, T, C) ------------------------------------------------
struct BTC {
    int64_t B, T, C;
    size_t operator()(int64_t b, int64_t t, int64_t c) const {
        return static_cast<size_t>((b * T + t) * C + c);
    }
};

// The index s <= t that the scan max (min) at t takes its value from: the most
// recent element equal to the running extreme (the documented tie rule).
inline int64_t scan_source(const Vec& x, const BTC& d, int64_t b, int64_t t, int64_t c, bool is_max) {
    double best = x[d(b, 0, c)];
    for (int64_t s = 1; s <= t; ++s) {
        const double v = x[d(b, s, c)];
        best = is_max ? std::max(best, v) : std::min(best, v);
    }
    for (int64_t s = t; s >= 0; --s)
        if (x[d(b, s, c)] == best) return s;
    return -1;
}
// The index pair max (min) at t takes its value from: t on a tie.
inline int64_t pair_source(const Vec& x, const BTC& d, int64_t b, int64_t t, int64_t c, bool is_max) {
    if (t == 0) return 0;
    const double cur = x[d(b, t, c)], prev = x[d(b, t - 1, c)];
    if (cur == prev) return t;
    return (is_max ? cur > prev : cur < prev) ? t : t - 1;
}

}  // namespace cg::ref
