// Each kernel of tensor/kernels.h against a naive loop (tests/reference.h or
// below), on random inputs from cg::Rng, at sizes that do not divide the
// thread count (1, 3, 7, 65, 129) as well as round ones.
//
// Tolerances. u = 2^-24 is float32's unit roundoff. A float sum of n terms in
// any order is within gamma_n ~ n u of the exact sum *relative to the sum of
// the terms' magnitudes* (Higham, Accuracy and Stability of Numerical
// Algorithms, ch. 3-4), so most tolerances below are (n + a few) * u * (sum of
// |terms|), times a small slack factor, computed per element. A single
// correctly rounded float operation (add, mul, max, copy) is compared
// *exactly* against the same operation done in float here. Kernels whose
// backward accumulates are given a nonzero gradient buffer to add into.
#include <doctest/doctest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <tuple>
#include <vector>

#include "autograd/unary.h"
#include "tensor/fast_exp.h"
#include "tensor/kernels.h"
#include "tensor/map.h"
#include "tensor/thread_governor.h"
#include "tests/helpers.h"
#include "tests/reference.h"

namespace cg {
namespace {

using ref::expect_close;
using ref::expect_identical;
using ref::kTiny;
using ref::kU;
using ref::randn;
using ref::values;
using ref::Vec;

Shape make_shape(const std::vector<int64_t>& d) {
    Shape s;
    s.ndim = static_cast<int>(d.size());
    for (size_t i = 0; i < d.size(); ++i) s.dims[i] = d[i];
    return s;
}

// Sets the OpenMP thread count for one scope and restores the previous one.
struct ThreadCount {
    int previous;
    explicit ThreadCount(int n) : previous(omp_get_max_threads()) { omp_set_num_threads(n); }
    ~ThreadCount() { omp_set_num_threads(previous); }
};

// Running sums for a reference of a backward kernel: want = d0 + sum of
// contributions; tol = 2 (n + 2) u (|d0| + sum |contribution|), n the number
// of terms added into that element (any order, any grouping), x2 slack.
struct Accum {
    Vec want, mag;
    std::vector<int> terms;
    explicit Accum(const Vec& d0) : want(d0), mag(ref::abs_of(d0)), terms(d0.size(), 1) {}
    void add(size_t i, double v) {
        want[i] += v;
        mag[i] += std::fabs(v);
        ++terms[i];
    }
    Vec tol() const {
        Vec t(want.size());
        for (size_t i = 0; i < t.size(); ++i) t[i] = 2.0 * (terms[i] + 2) * kU * mag[i] + kTiny;
        return t;
    }
};

// ============================================================================
// matmul
// ============================================================================

// An (batch..., rows, cols) operand: either contiguous, or the view
// transpose(-2, -1) of a contiguous (batch..., cols, rows) tensor (no copy).
Tensor operand(const std::vector<int64_t>& batch, int64_t rows, int64_t cols, bool transposed,
               Rng& rng) {
    std::vector<int64_t> d = batch;
    d.push_back(transposed ? cols : rows);
    d.push_back(transposed ? rows : cols);
    Tensor t = randn(make_shape(d), rng);
    return transposed ? t.transpose(-2, -1) : t;
}

// Runs matmul(out, a, b, beta) and compares with the double reference; the
// tolerance is gamma_{K+2} * sum_k |a_ik b_kj| (+ the beta term), x2 (see
// ref::matmul_ref). With beta = 0 the output starts as NaN: beta = 0 must
// overwrite, never read, out (empty() hands out pooled garbage).
void check_matmul(const Tensor& a, const Tensor& b, float beta, Rng& rng, const std::string& what) {
    std::vector<int64_t> od(a.shape.dims, a.shape.dims + a.ndim());
    od.back() = b.size(-1);
    const Shape os = make_shape(od);
    CHECK_MESSAGE(matmul_shape(a, b) == os, what);
    Tensor out = empty(os);
    Vec out0;
    if (beta == 0.0f) {
        fill(out, NAN);
    } else {
        fill_normal(out, rng, 0.0f, 1.0f);
        out0 = values(out);
    }
    matmul(out, a, b, beta);
    const ref::Result r = ref::matmul_ref(a, b, out0, beta);
    expect_close(out, r.want, r.tol, what);
}

std::string tflags(bool ta, bool tb) {
    return std::string(ta ? "a^T" : "a") + " @ " + (tb ? "b^T" : "b");
}

TEST_CASE("kernels: fast_exp is within 2e-7 of e^x on [-87, 88], clamps outside, and keeps NaN") {
    // Every 1021st float bit pattern: some 2 million of them lie in the range.
    double worst = 0.0;
    float worst_x = 0.0f;
    int64_t checked = 0;
    for (uint64_t b = 0; b < (1ull << 32); b += 1021) {
        const uint32_t bits = static_cast<uint32_t>(b);
        float x;
        std::memcpy(&x, &bits, sizeof(x));
        if (!(x >= -87.0f && x <= 88.0f)) continue;
        const double e = std::exp(static_cast<double>(x)), err = std::fabs(fast_exp(x) - e) / e;
        if (err > worst) {
            worst = err;
            worst_x = x;
        }
        checked++;
    }
    CAPTURE(worst_x);
    CHECK(checked > 2000000);
    CHECK(worst < 2e-7);
    // Below the range: a tiny positive number (it stands in for 0), never NaN.
    for (float x : {-87.3f, -100.0f, -1e30f, -INFINITY}) {
        CHECK(fast_exp(x) > 0.0f);
        CHECK(fast_exp(x) < 2e-38f);
    }
    for (float x : {88.3f, 100.0f, 1e30f, INFINITY}) CHECK(std::isfinite(fast_exp(x)));
    CHECK(std::isnan(fast_exp(NAN)));
}

TEST_CASE("kernel: matmul 2-D, all four transpose combinations") {
    Rng rng{11, 0};
    const int64_t sizes[][3] = {{1, 1, 1},   {3, 7, 65},  {65, 129, 7}, {7, 3, 1},
                                {129, 65, 3}, {64, 128, 32}, {1, 129, 65}};
    for (const auto& s : sizes) {
        const int64_t M = s[0], K = s[1], Nc = s[2];
        for (int combo = 0; combo < 4; ++combo) {
            const bool ta = combo & 1, tb = combo & 2;
            Tensor a = operand({}, M, K, ta, rng);
            Tensor b = operand({}, K, Nc, tb, rng);
            check_matmul(a, b, 0.0f, rng,
                         "2-D " + tflags(ta, tb) + " M,K,Nc=" + std::to_string(M) + "," +
                             std::to_string(K) + "," + std::to_string(Nc));
        }
    }
}

TEST_CASE("kernel: matmul 3-D @ 2-D shared weight (the linear layer), all transposes") {
    Rng rng{12, 0};
    const int64_t sizes[][4] = {{3, 7, 65, 129}, {2, 1, 3, 1}, {4, 64, 32, 96}, {1, 129, 7, 65}};
    for (const auto& s : sizes) {
        const int64_t B = s[0], T = s[1], C = s[2], OC = s[3];
        for (int combo = 0; combo < 4; ++combo) {
            const bool ta = combo & 1, tb = combo & 2;
            Tensor a = operand({B}, T, C, ta, rng);
            Tensor w = operand({}, C, OC, tb, rng);  // tb: x @ W^T with W (OC, C)
            check_matmul(a, w, 0.0f, rng, "3-D@2-D " + tflags(ta, tb) + " " + a.shape.str() +
                                              " @ " + w.shape.str());
        }
    }
    // 4-D @ 2-D: b shared by both batch dims.
    Tensor a = randn({2, 3, 5, 7}, rng);
    Tensor w = operand({}, 7, 4, true, rng);
    check_matmul(a, w, 0.0f, rng, "4-D @ 2-D b^T");
}

TEST_CASE("kernel: matmul batched 3-D and 4-D, all transposes") {
    Rng rng{13, 0};
    for (int combo = 0; combo < 4; ++combo) {
        const bool ta = combo & 1, tb = combo & 2;
        check_matmul(operand({3}, 7, 65, ta, rng), operand({3}, 65, 5, tb, rng), 0.0f, rng,
                     "3-D batched " + tflags(ta, tb));
        check_matmul(operand({1}, 1, 1, ta, rng), operand({1}, 1, 1, tb, rng), 0.0f, rng,
                     "3-D batched 1x1x1 " + tflags(ta, tb));
        check_matmul(operand({2, 3}, 7, 5, ta, rng), operand({2, 3}, 5, 65, tb, rng), 0.0f, rng,
                     "4-D batched " + tflags(ta, tb));
        check_matmul(operand({2, 4}, 16, 8, ta, rng), operand({2, 4}, 8, 16, tb, rng), 0.0f, rng,
                     "4-D batched round " + tflags(ta, tb));
    }
}

TEST_CASE("kernel: matmul on head views permuted from (B,T,NH,HS) (attention)") {
    // q, k, v are (B,T,NH,HS) = (B,T,C) split into heads; permute({0,2,1,3})
    // gives (B,NH,T,HS) views whose matrix rows are C apart and whose batch
    // strides are HS (heads) and T*C (batches): no copy is made.
    Rng rng{14, 0};
    const int64_t dims[][4] = {{2, 7, 3, 5}, {1, 1, 1, 1}, {2, 65, 4, 8}, {1, 129, 2, 3}};
    for (const auto& d : dims) {
        const int64_t B = d[0], T = d[1], NH = d[2], HS = d[3], C = NH * HS;
        Tensor q4 = randn({B, T, NH, HS}, rng), k4 = randn({B, T, NH, HS}, rng);
        Tensor v4 = randn({B, T, NH, HS}, rng), dy4 = randn({B, T, NH, HS}, rng);
        Tensor q = q4.permute({0, 2, 1, 3}), k = k4.permute({0, 2, 1, 3});
        Tensor v = v4.permute({0, 2, 1, 3}), dy = dy4.permute({0, 2, 1, 3});
        REQUIRE(q.strides[2] == C);
        REQUIRE(q.data == q4.data);
        Tensor kT = k.transpose(-2, -1);  // (B,NH,HS,T)
        Tensor att = randn({B, NH, T, T}, rng);
        const std::string sz = " B,T,NH,HS=" + std::to_string(B) + "," + std::to_string(T) + "," +
                               std::to_string(NH) + "," + std::to_string(HS);
        check_matmul(q, kT, 0.0f, rng, "scores = q @ k^T" + sz);
        check_matmul(att, v, 0.0f, rng, "y = att @ v" + sz);
        check_matmul(dy, v.transpose(-2, -1), 0.0f, rng, "datt = dy @ v^T" + sz);
        check_matmul(att.transpose(-2, -1), dy, 1.0f, rng, "dv += att^T @ dy" + sz);
        check_matmul(att, k, 1.0f, rng, "dq += datt @ k" + sz);
    }
}

TEST_CASE("kernel: matmul on sliced views @ a shared weight (q/k/v split, a time window)") {
    // Rows of a slice of the last dim are 3C apart and tile memory evenly (one
    // product over all B*T rows is possible); rows of a window along T do not
    // (batches are T*C apart, not T'*C): both must give the plain product.
    Rng rng{16, 0};
    const int64_t B = 3, T = 7, C = 65, OC = 5;
    Tensor qkv = randn({B, T, 3 * C}, rng);
    for (int part = 0; part < 3; ++part) {
        for (bool tb : {false, true}) {
            check_matmul(qkv.slice(2, part * C, C), operand({}, C, OC, tb, rng), 0.0f, rng,
                         "qkv slice " + std::to_string(part) + (tb ? " @ w^T" : " @ w"));
        }
    }
    Tensor x = randn({B, T, C}, rng);
    check_matmul(x.slice(1, 2, 4), operand({}, C, OC, false, rng), 0.0f, rng, "time window @ w");
    check_matmul(x.slice(1, 2, 4), operand({}, C, OC, true, rng), 1.0f, rng, "time window @ w^T, beta=1");
    // Head views (B,NH,T,HS) @ a shared (HS, OC): batch strides HS and T*C.
    Tensor h4 = randn({2, 5, 3, 4}, rng);
    check_matmul(h4.permute({0, 2, 1, 3}), operand({}, 4, 6, false, rng), 0.0f, rng, "heads @ w");
}

TEST_CASE("kernel: matmul edge cases: a view with no unit stride; K = 0 gives beta * out") {
    Rng rng{17, 0};
    // (4,3,2).permute({2,1,0}) is (2,3,4) with strides (1,2,6): neither
    // matrix dim has stride 1, so BLAS cannot read it in place.
    Tensor x = randn({4, 3, 2}, rng);
    check_matmul(x.permute({2, 1, 0}), randn({4, 5}, rng), 0.0f, rng, "no unit stride @ w");
    // An empty inner dim: the product is 0, so out = beta * out.
    Tensor out = full({3, 4}, 7.0f);
    matmul(out, zeros({3, 0}), zeros({0, 4}), 0.0f);
    expect_close(out, Vec(12, 0.0), 0.0, 0.0, "K=0 beta=0");
    fill(out, 7.0f);
    matmul(out, zeros({3, 0}), zeros({0, 4}), 1.0f);
    expect_close(out, Vec(12, 7.0), 0.0, 0.0, "K=0 beta=1");
    // beta = 0 writes, whatever out held (a fresh gradient buffer may hold NaN).
    fill(out, NAN);
    matmul(out, zeros({3, 0}), zeros({0, 4}), 0.0f);
    expect_close(out, Vec(12, 0.0), 0.0, 0.0, "K=0 beta=0 over NaN");
}

TEST_CASE("kernel: matmul beta accumulates into an existing out") {
    Rng rng{15, 0};
    for (int combo = 0; combo < 4; ++combo) {
        const bool ta = combo & 1, tb = combo & 2;
        check_matmul(operand({}, 65, 7, ta, rng), operand({}, 7, 129, tb, rng), 1.0f, rng,
                     "2-D beta=1 " + tflags(ta, tb));
        check_matmul(operand({3}, 7, 65, ta, rng), operand({}, 65, 3, tb, rng), 1.0f, rng,
                     "3-D@2-D beta=1 " + tflags(ta, tb));
        check_matmul(operand({2, 3}, 5, 7, ta, rng), operand({2, 3}, 7, 1, tb, rng), 1.0f, rng,
                     "4-D beta=1 " + tflags(ta, tb));
    }
    check_matmul(randn({7, 3}, rng), randn({3, 5}, rng), 0.5f, rng, "2-D beta=0.5");
}

TEST_CASE("kernel: the linear backward's products, chunked by rows, vs the double reference") {
    Rng rng{16, 0};
    set_num_threads(2);  // at least two chunks where the work is large enough, whatever the core count
    // (N, out, in): one chunk (too small to split), then chunks of uneven rows
    for (const auto& [N, out, in] : {std::tuple<int64_t, int64_t, int64_t>{9, 5, 3}, {131, 97, 65}}) {
        for (const auto& [dx_beta, dw_beta] : {std::pair<float, float>{0, 0}, {1, 1}, {1, 0}, {0, 1}}) {
            const std::string what = "N " + std::to_string(N) + " betas " + std::to_string(dx_beta) + ", " +
                                     std::to_string(dw_beta);
            Tensor dy = randn({N, out}, rng), x = randn({N, in}, rng), w = randn({out, in}, rng);
            Tensor dx = empty({N, in}), dw = empty({out, in});
            // beta 0 writes: NaN in the buffer must not come through
            fill_normal(dx, rng, 0.0f, 1.0f);
            fill_normal(dw, rng, 0.0f, 1.0f);
            const Vec dx0 = dx_beta == 0.0f ? Vec{} : values(dx), dw0 = dw_beta == 0.0f ? Vec{} : values(dw);
            if (dx_beta == 0.0f) fill(dx, NAN);
            if (dw_beta == 0.0f) fill(dw, NAN);
            linear_backward_products(dx, dx_beta, dw, dw_beta, dy, x, w);
            const ref::Result rx = ref::matmul_ref(dy, w, dx0, dx_beta);
            expect_close(dx, rx.want, rx.tol, "dx " + what);
            const ref::Result rw = ref::matmul_ref(dy.transpose(0, 1), x, dw0, dw_beta);
            expect_close(dw, rw.want, rw.tol, "dw " + what);
        }
    }
    set_num_threads(0);
}

TEST_CASE("kernel: matmul rejects mismatched shapes with [matmul] and both shapes") {
    Tensor a = zeros({4, 64, 128}), b = zeros({256, 96}), out = zeros({4, 64, 96});
    bool threw = false;
    try {
        matmul(out, a, b);
    } catch (const Error& e) {
        threw = true;
        const std::string m = e.what();
        CHECK_MESSAGE(starts_with(m, "[matmul]"), m);
        CHECK_MESSAGE(m.find("(4,64,128)") != std::string::npos, m);
        CHECK_MESSAGE(m.find("(256,96)") != std::string::npos, m);
    }
    CHECK_MESSAGE(threw, "matmul (4,64,128) x (256,96) did not throw cg::Error");
    CHECK_THROWS_AS(matmul_shape(a, b), Error);
    // Inner dims of a transposed view: (3,5)^T is (5,3); (5,3) @ (5,2) must fail.
    Tensor at = zeros({3, 5}).transpose(-2, -1);
    CHECK_THROWS_AS(matmul(zeros({5, 2}), at, zeros({5, 2})), Error);
    // Batch dims must be equal.
    CHECK_THROWS_AS(matmul(zeros({2, 3, 5}), zeros({2, 3, 4}), zeros({3, 4, 5})), Error);
    // out of the wrong shape.
    CHECK_THROWS_AS(matmul(zeros({3, 6}), zeros({3, 4}), zeros({4, 5})), Error);
}

TEST_CASE("kernel: kernels reject bad arguments with cg::Error naming the op") {
    // Each call is wrong in one way; the message must start with the op's name.
    auto expect_error = [](const char* op, const std::function<void()>& fn) {
        const std::string m = error_of(fn);
        CHECK_MESSAGE(starts_with(m, std::string("[") + op + "]"), "expected a [" << op << "] error, got '" << m << "'");
    };
    expect_error("add", [] { add_forward(zeros({2, 3}), zeros({2, 3}), zeros({2})); });
    expect_error("mul", [] { mul_forward(zeros({2, 3}), zeros({2, 3}), zeros({3, 3})); });
    expect_error("layer_norm", [] {
        layer_norm_forward(zeros({2, 3}), zeros({2}), zeros({2}), zeros({2, 3}), zeros({4}), Tensor());
    });
    expect_error("causal_softmax", [] { causal_softmax_forward(zeros({2, 3}), zeros({2, 3}), 1.0f); });
    expect_error("embedding", [] {
        const int ids[2] = {0, 5};
        embedding_forward(zeros({2, 3}), zeros({5, 3}), ids);
    });
    expect_error("cross_entropy", [] {
        const int targets[2] = {0, -1};
        cross_entropy_forward(zeros({2}), zeros({2, 4}), targets);
    });
    expect_error("shift", [] { shift_forward(zeros({2, 3}), zeros({2, 3})); });
    expect_error("scan_max", [] { scan_max_forward(zeros({1, 2, 3}), zeros({1, 3, 2})); });
    expect_error("dropout", [] {
        Rng rng{1, 0};
        dropout_mask(zeros({4}), 1.0f, rng);
    });
}

// ============================================================================
// elementwise
// ============================================================================

struct BinCase {
    Shape a, b;
};
const BinCase kBinCases[] = {
    {{3, 7, 65}, {3, 7, 65}}, {{3, 7, 65}, {65}}, {{3, 7, 65}, {7, 65}}, {{1, 1, 1}, {1}},
    {{2, 129}, {129}},        {{4, 16, 32}, {32}}, {{129}, {129}},        {{1, 3}, {1, 3}},
};

// Elementwise exact references: b broadcast over a's leading dims by index
// modulo b.numel() (b is a's trailing dims). Done in float: a correctly
// rounded single op must match bit for bit (tolerance 0).
TEST_CASE("kernel: add/sub/mul forward, same shape and trailing-dim broadcast (exact)") {
    Rng rng{21, 0};
    for (const BinCase& c : kBinCases) {
        Tensor a = randn(c.a, rng), b = randn(c.b, rng);
        const std::vector<float> av = ref::floats(a), bv = ref::floats(b);
        const size_t nb = bv.size();
        Vec add(av.size()), sub(av.size()), mul(av.size());
        for (size_t i = 0; i < av.size(); ++i) {
            add[i] = av[i] + bv[i % nb];
            sub[i] = av[i] - bv[i % nb];
            mul[i] = av[i] * bv[i % nb];
        }
        const std::string sz = c.a.str() + " op " + c.b.str();
        Tensor out = full(c.a, NAN);
        add_forward(out, a, b);
        expect_close(out, add, 0.0, 0.0, "add " + sz);
        sub_forward(out, a, b);
        expect_close(out, sub, 0.0, 0.0, "sub " + sz);
        mul_forward(out, a, b);
        expect_close(out, mul, 0.0, 0.0, "mul " + sz);
    }
}

TEST_CASE("kernel: scale forward (exact) and backward (accumulates)") {
    Rng rng{22, 0};
    for (const Shape& s : {Shape{3, 7, 65}, Shape{1}, Shape{129, 3}}) {
        Tensor x = randn(s, rng), dy = randn(s, rng), dx = randn(s, rng);
        const float c = -0.37f;
        const std::vector<float> xv = ref::floats(x), dyv = ref::floats(dy);
        const Vec dx0 = values(dx);
        Vec want(xv.size()), dwant(xv.size()), dtol(xv.size());
        for (size_t i = 0; i < xv.size(); ++i) {
            want[i] = xv[i] * c;
            dwant[i] = dx0[i] + static_cast<double>(dyv[i]) * c;
            // dx + dy*c: two roundings, or one if contracted to an FMA.
            dtol[i] = 2.0 * kU * (std::fabs(dx0[i]) + std::fabs(dyv[i] * c)) + kTiny;
        }
        Tensor out = full(s, NAN);
        scale_forward(out, x, c);
        expect_close(out, want, 0.0, 0.0, "scale_forward " + s.str());
        scale_backward(dx, dy, c);
        expect_close(dx, dwant, dtol, "scale_backward " + s.str());
    }
}

// maximum/minimum: forward is exact; backward adds dy (an exact float add)
// to the chosen side and leaves the other side unchanged.
void check_max_min(const Tensor& a, const Tensor& b, const Tensor& dy, bool is_max,
                   const std::string& what) {
    const std::vector<float> av = ref::floats(a), bv = ref::floats(b), g = ref::floats(dy);
    Tensor da = full(a.shape, 0.25f), db = full(a.shape, -0.5f);
    Vec out(av.size()), wa(av.size()), wb(av.size());
    for (size_t i = 0; i < av.size(); ++i) {
        // a on a tie: max picks a when a >= b, min picks a when a <= b.
        const bool pick_a = is_max ? av[i] >= bv[i] : av[i] <= bv[i];
        out[i] = pick_a ? av[i] : bv[i];
        wa[i] = pick_a ? 0.25f + g[i] : 0.25f;
        wb[i] = pick_a ? -0.5f : -0.5f + g[i];
    }
    Tensor y = full(a.shape, NAN);
    if (is_max) {
        maximum_forward(y, a, b);
        maximum_backward(da, db, a, b, dy);
    } else {
        minimum_forward(y, a, b);
        minimum_backward(da, db, a, b, dy);
    }
    const std::string name = is_max ? "maximum" : "minimum";
    expect_close(y, out, 0.0, 0.0, name + "_forward " + what);
    expect_close(da, wa, 0.0, 0.0, name + "_backward da " + what);
    expect_close(db, wb, 0.0, 0.0, name + "_backward db " + what);
}

TEST_CASE("kernel: maximum/minimum forward and backward on random inputs") {
    Rng rng{23, 0};
    for (const Shape& s : {Shape{3, 7, 65}, Shape{1}, Shape{129}, Shape{2, 65, 3}}) {
        Tensor a = randn(s, rng), b = randn(s, rng), dy = randn(s, rng);
        check_max_min(a, b, dy, true, s.str());
        check_max_min(a, b, dy, false, s.str());
    }
}

TEST_CASE("kernel: maximum/minimum tie rule: a tie gives the gradient to a") {
    // Hand-worked: index 2 and 3 are ties.
    Tensor a = from_values({5}, {1, 2, 3, -1, 4});
    Tensor b = from_values({5}, {2, 1, 3, -1, 0});
    Tensor dy = from_values({5}, {10, 20, 30, 40, 50});
    Tensor y = zeros({5}), da = zeros({5}), db = zeros({5});
    maximum_forward(y, a, b);
    maximum_backward(da, db, a, b, dy);
    expect_close(y, {2, 2, 3, -1, 4}, 0.0, 0.0, "maximum ties");
    expect_close(da, {0, 20, 30, 40, 50}, 0.0, 0.0, "maximum ties da");
    expect_close(db, {10, 0, 0, 0, 0}, 0.0, 0.0, "maximum ties db");
    fill(da, 0.0f);
    fill(db, 0.0f);
    minimum_forward(y, a, b);
    minimum_backward(da, db, a, b, dy);
    expect_close(y, {1, 1, 3, -1, 0}, 0.0, 0.0, "minimum ties");
    expect_close(da, {10, 0, 30, 40, 0}, 0.0, 0.0, "minimum ties da");
    expect_close(db, {0, 20, 0, 0, 50}, 0.0, 0.0, "minimum ties db");
    // Random inputs with many exact ties (values from a 3-element set).
    Rng rng{24, 0};
    Tensor ra = empty({3, 65}), rb = empty({3, 65});
    fill_uniform(ra, rng, 0.0f, 3.0f);
    fill_uniform(rb, rng, 0.0f, 3.0f);
    for (int64_t i = 0; i < 3; ++i)
        for (int64_t j = 0; j < 65; ++j) {
            ra.at({i, j}) = std::floor(ra.at({i, j}));
            rb.at({i, j}) = std::floor(rb.at({i, j}));
        }
    Tensor rdy = randn({3, 65}, rng);
    check_max_min(ra, rb, rdy, true, "many ties");
    check_max_min(ra, rb, rdy, false, "many ties");
}

// A row of the unary table by name.
const UnaryOp& unary_row(const std::string& name) {
    for (const UnaryOp* op : unary_ops())
        if (name == op->name) return *op;
    FAIL("no unary op " << name);
    throw;
}

TEST_CASE("kernel: gelu forward vs the tanh formula in double, backward vs the analytic derivative") {
    Rng rng{25, 0};
    Tensor x = randn({3, 7, 65}, rng, 3.0f);
    // Some hand-picked points: 0, tiny, the saturated tails.
    const float special[] = {0.0f, 1e-3f, -1e-3f, 8.0f, -8.0f, 30.0f, -30.0f, -3.0f, 3.0f};
    for (int i = 0; i < 9; ++i) x.at({0, 0, i}) = special[i];
    Tensor dy = randn(x.shape, rng), dx = randn(x.shape, rng);
    const Vec xv = values(x), dyv = values(dy), dx0 = values(dx);
    Vec y(xv.size()), ytol(xv.size()), dxw(xv.size()), dxtol(xv.size());
    for (size_t i = 0; i < xv.size(); ++i) {
        const double v = xv[i];
        const double uu = ref::kGeluS * (v + ref::kGeluA * v * v * v);
        const double sech2 = 1.0 / (std::cosh(uu) * std::cosh(uu));
        const double du = ref::kGeluS * (1.0 + 3.0 * ref::kGeluA * v * v);
        y[i] = ref::gelu(v);
        // Forward: ~10 float roundings on terms of size |x|, plus the tanh
        // argument's relative error (~4u) amplified by |u| sech^2(u); x~3 slack.
        ytol[i] = 32.0 * kU * std::fabs(v) * (1.0 + std::fabs(uu) * sech2) + kTiny;
        dxw[i] = dx0[i] + dyv[i] * ref::gelu_grad(v);
        // Backward: the same for the two terms 0.5(1+tanh) and 0.5 x sech^2 u',
        // where sech^2 = 1 - tanh^2 may be formed with an absolute error ~2u
        // (hence the "+ 1"), plus the final add into dx.
        dxtol[i] = 32.0 * kU * std::fabs(dyv[i]) *
                       (1.0 + std::fabs(uu) * sech2 +
                        0.5 * std::fabs(v) * du * (sech2 * (1.0 + 2.0 * std::fabs(uu)) + 1.0)) +
                   2.0 * kU * std::fabs(dx0[i]) + kTiny;
    }
    const UnaryOp& gelu = unary_row("gelu");
    Tensor out = full(x.shape, NAN);
    gelu.forward(out, x);
    expect_close(out, y, ytol, "gelu forward");
    gelu.backward(dx, x, out, dy);
    expect_close(dx, dxw, dxtol, "gelu backward (accumulating)");
}

TEST_CASE("kernel: broadcast_sum_backward sums dy over the leading dims (accumulating)") {
    Rng rng{26, 0};
    const BinCase cases[] = {{{3, 7, 65}, {65}},   {{3, 7, 65}, {7, 65}}, {{3, 7, 65}, {3, 7, 65}},
                             {{129, 3}, {3}},      {{1, 1, 1}, {1}},      {{1000, 7}, {7}},
                             {{4, 16, 32}, {32}}};
    for (const BinCase& c : cases) {
        for (float sign : {1.0f, -1.0f}) {
            Tensor dy = randn(c.a, rng), db = randn(c.b, rng);
            const Vec g = values(dy);
            Accum acc(values(db));
            for (size_t i = 0; i < g.size(); ++i) acc.add(i % acc.want.size(), sign * g[i]);
            broadcast_sum_backward(db, dy, sign);
            expect_close(db, acc.want, acc.tol(),
                         "broadcast_sum_backward " + c.a.str() + " -> " + c.b.str() +
                             (sign > 0 ? " sign +1" : " sign -1"));
        }
    }
}

TEST_CASE("kernel: mul_backward_a/b add into a nonzero buffer, with broadcast") {
    Rng rng{27, 0};
    for (const BinCase& c : kBinCases) {
        Tensor a = randn(c.a, rng), b = randn(c.b, rng), dy = randn(c.a, rng);
        Tensor da = randn(c.a, rng), db = randn(c.b, rng);
        const Vec av = values(a), bv = values(b), g = values(dy);
        Accum wa(values(da)), wb(values(db));
        const size_t nb = bv.size();
        for (size_t i = 0; i < av.size(); ++i) {
            wa.add(i, g[i] * bv[i % nb]);  // da += dy * b
            wb.add(i % nb, g[i] * av[i]);  // db += sum over leading dims of dy * a
        }
        mul_backward_a(da, dy, b);
        mul_backward_b(db, dy, a);
        const std::string sz = c.a.str() + " * " + c.b.str();
        expect_close(da, wa.want, wa.tol(), "mul_backward_a " + sz);
        expect_close(db, wb.want, wb.tol(), "mul_backward_b " + sz);
    }
}

// ============================================================================
// dropout
// ============================================================================

TEST_CASE("kernel: dropout_mask values, zero fraction, determinism, rng advance, threads") {
    for (float p : {0.1f, 0.5f, 0.9f}) {
        CAPTURE(p);
        const int64_t n = 100000;
        Rng rng{31, 5};
        const Rng start = rng;
        Tensor mask = full({n}, NAN);
        dropout_mask(mask, p, rng);
        // The kept value is 1/(1-p) rounded to float (allow the float or the
        // double computation: they may differ in the last bit).
        const float keep_f = 1.0f / (1.0f - p);
        const float keep_d = static_cast<float>(1.0 / (1.0 - static_cast<double>(p)));
        const std::vector<float> m = ref::floats(mask);
        int64_t zeros_n = 0, other = 0;
        float keep_seen = 0.0f;
        for (float v : m) {
            if (v == 0.0f) {
                ++zeros_n;
            } else if ((v == keep_f || v == keep_d) && (keep_seen == 0.0f || v == keep_seen)) {
                keep_seen = v;
            } else {
                ++other;
            }
        }
        CHECK_MESSAGE(other == 0, other << " mask values are neither 0 nor one 1/(1-p)");
        // |frac - p| < 0.01: the binomial std is sqrt(p(1-p)/n) <= 0.0016, so
        // this is >= 6 sigma.
        const double frac = static_cast<double>(zeros_n) / n;
        CHECK_MESSAGE(std::fabs(frac - p) < 0.01, "zero fraction " << frac << " for p " << p);
        CHECK(rng.seed == start.seed);
        CHECK(rng.counter >= start.counter + n);  // at least one value drawn per element

        // Same rng state, same mask; the advanced state gives a different mask.
        Rng again = start;
        Tensor mask2 = full({n}, NAN);
        dropout_mask(mask2, p, again);
        expect_identical(mask, mask2, "dropout_mask from the same rng state");
        CHECK(again.counter == rng.counter);
        Tensor mask3 = full({n}, NAN);
        dropout_mask(mask3, p, rng);
        CHECK_MESSAGE(ref::floats(mask3) != m, "the rng did not advance to fresh values");

        // Independent of the OpenMP thread count.
        Tensor m1 = full({3, 7, 4099}, NAN), m2 = full({3, 7, 4099}, NAN);
        {
            ThreadCount tc(1);
            Rng r = start;
            dropout_mask(m1, p, r);
        }
        {
            ThreadCount tc(2);
            Rng r = start;
            dropout_mask(m2, p, r);
        }
        expect_identical(m1, m2, "dropout_mask 1 vs 2 threads");
    }
    // p = 0 keeps everything with scale exactly 1.
    Rng rng{32, 0};
    Tensor mask = full({1000}, NAN);
    dropout_mask(mask, 0.0f, rng);
    expect_close(mask, Vec(1000, 1.0), 0.0, 0.0, "dropout_mask p=0");
}

// ============================================================================
// reduce
// ============================================================================

TEST_CASE("kernel: sum_all (double accumulation) and add_constant") {
    Rng rng{41, 0};
    for (const Shape& s : {Shape{3, 7, 65}, Shape{1}, Shape{100003}, Shape{4, 64, 128}}) {
        Tensor x = randn(s, rng, 1.0f, 0.5f);
        const Vec v = values(x);
        double want = 0.0, mag = 0.0;
        for (double e : v) {
            want += e;
            mag += std::fabs(e);
        }
        // Accumulated in double: gamma_n in double is n * 2^-53; x2 slack.
        const double tol = 2.0 * (v.size() + 2) * std::ldexp(1.0, -53) * mag;
        const double got = sum_all(x);
        CHECK_MESSAGE(std::fabs(got - want) <= tol,
                      "sum_all " << s.str() << " got " << got << " want " << want);

        // dx += c: one float add per element, exact.
        const float c = 0.3f;
        std::vector<float> f = ref::floats(x);
        Vec w(f.size());
        for (size_t i = 0; i < f.size(); ++i) w[i] = f[i] + c;
        add_constant(x, c);
        expect_close(x, w, 0.0, 0.0, "add_constant " + s.str());
    }
}

// ============================================================================
// layer_norm
// ============================================================================

// Tolerances (two-pass or one-pass, any summation order): the mean is a sum
// of C terms, so off by ~(C+1) u mean|x|; xhat = (x - mean) * rstd then has an
// error ~u (|x| + |mean|) rstd per rounding on top of rstd's own relative error
// ~C u. h = |xhat| + (|x| + |mean|) rstd bounds what each xhat carries, and
// every tolerance is 4 (n + 8) u times the magnitudes involved, n the length
// of the sum behind it.
void check_layer_norm(int64_t N, int64_t C, bool with_bias, float offset, Rng& rng) {
    const std::string what = "layer_norm N,C=" + std::to_string(N) + "," + std::to_string(C) +
                             (with_bias ? " bias" : " no bias") +
                             (offset != 0.0f ? " offset" : "");
    Tensor x = randn({N, C}, rng, 1.5f, 0.3f);
    if (offset != 0.0f) add_constant(x, offset);
    Tensor w = randn({C}, rng, 0.5f, 1.0f);
    Tensor b = with_bias ? randn({C}, rng) : Tensor();
    const float eps = 1e-5f;
    const Vec xv = values(x), wv = values(w);
    const Vec bv = with_bias ? values(b) : Vec();
    const ref::LayerNormRef r = ref::layer_norm_ref(xv, wv, with_bias ? &bv : nullptr, N, C, eps);

    Vec h(xv.size()), mtol(N), rtol(N), otol(xv.size());
    for (int64_t n = 0; n < N; ++n) {
        double mabs = 0.0;
        for (int64_t c = 0; c < C; ++c) mabs += std::fabs(xv[n * C + c]) / C;
        mtol[n] = 4.0 * (C + 2) * kU * mabs + kTiny;
        const double spread = 1.0 + mabs * r.rstd[n];
        rtol[n] = 4.0 * (C + 8) * kU * r.rstd[n] * spread * spread;
        for (int64_t c = 0; c < C; ++c) {
            const size_t i = n * C + c;
            h[i] = std::fabs(r.xhat[i]) + (std::fabs(xv[i]) + std::fabs(r.mean[n])) * r.rstd[n];
            otol[i] = 4.0 * (C + 8) * kU * (std::fabs(wv[c]) * h[i] + (with_bias ? std::fabs(bv[c]) : 0.0)) + kTiny;
        }
    }
    Tensor out = full({N, C}, NAN), mean = full({N}, NAN), rstd = full({N}, NAN);
    layer_norm_forward(out, mean, rstd, x, w, b, eps);
    expect_close(out, r.out, otol, what + " out");
    expect_close(mean, r.mean, mtol, what + " mean");
    expect_close(rstd, r.rstd, rtol, what + " rstd");

    // Backward, fed the kernel's own saved mean and rstd. With g = dy * w:
    //   dx = rstd (g - mean(g) - xhat mean(g xhat)),
    //   dweight += sum_n dy xhat, dbias += sum_n dy.
    Tensor dy = randn({N, C}, rng), dx = randn({N, C}, rng), dw = randn({C}, rng);
    Tensor db = with_bias ? randn({C}, rng) : Tensor();
    const Vec g = values(dy), dx0 = values(dx), dw0 = values(dw);
    const Vec db0 = with_bias ? values(db) : Vec();
    Vec dxw(xv.size()), dxtol(xv.size()), dww(dw0), dwtol(C), dbw(db0), dbtol(C);
    for (int64_t c = 0; c < C; ++c) {
        dwtol[c] = 2.0 * kU * std::fabs(dw0[c]);
        if (with_bias) dbtol[c] = 2.0 * kU * std::fabs(db0[c]);
    }
    for (int64_t n = 0; n < N; ++n) {
        double mg = 0.0, mgx = 0.0, mag_g = 0.0, mag_gh = 0.0;
        for (int64_t c = 0; c < C; ++c) {
            const size_t i = n * C + c;
            const double gi = g[i] * wv[c];
            mg += gi / C;
            mgx += gi * r.xhat[i] / C;
            mag_g += std::fabs(gi) / C;
            mag_gh += std::fabs(gi) * h[i] / C;
        }
        for (int64_t c = 0; c < C; ++c) {
            const size_t i = n * C + c;
            const double gi = g[i] * wv[c];
            dxw[i] = dx0[i] + r.rstd[n] * (gi - mg - r.xhat[i] * mgx);
            dxtol[i] = 4.0 * (C + 8) * kU * r.rstd[n] * (std::fabs(gi) + mag_g + h[i] * mag_gh) +
                       2.0 * kU * std::fabs(dx0[i]) + kTiny;
            dww[c] += g[i] * r.xhat[i];
            dwtol[c] += 4.0 * (N + 8) * kU * std::fabs(g[i]) * h[i];
            if (with_bias) {
                dbw[c] += g[i];
                dbtol[c] += 2.0 * (N + 2) * kU * std::fabs(g[i]);
            }
        }
    }
    for (int64_t c = 0; c < C; ++c) dwtol[c] += kTiny, dbtol[c] += kTiny;
    layer_norm_backward(dx, dw, db, dy, x, w, mean, rstd);
    expect_close(dx, dxw, dxtol, what + " dx");
    expect_close(dw, dww, dwtol, what + " dweight");
    if (with_bias) expect_close(db, dbw, dbtol, what + " dbias");
}

TEST_CASE("kernel: layer_norm forward and backward vs naive double, with and without bias") {
    Rng rng{51, 0};
    const int64_t sizes[][2] = {{21, 65}, {7, 129}, {64, 128}, {129, 3}, {1, 1}, {3, 7}};
    for (const auto& s : sizes) {
        check_layer_norm(s[0], s[1], true, 0.0f, rng);
        check_layer_norm(s[0], s[1], false, 0.0f, rng);
    }
    // Rows whose mean is large against their spread.
    check_layer_norm(7, 65, true, 8.0f, rng);
}

// ============================================================================
// softmax and cross-entropy
// ============================================================================

// Probabilities: each exp argument scale*s - max has an absolute error of
// ~2u (|scale s| + |max|), which becomes a relative error of p; the sum of T
// terms adds ~T u. tol = 4u p (T + 8 + 2 arg_j + 2 max_k arg_k).
Vec softmax_tol(const Vec& s, const Vec& p, int64_t rows, int64_t T, bool causal, double scale) {
    Vec tol(p.size(), 0.0);
    for (int64_t r = 0; r < rows; ++r) {
        const int64_t len = causal ? (r % T) + 1 : T;  // row r is query r % T
        double mx = -INFINITY, big = 0.0;
        for (int64_t j = 0; j < len; ++j) mx = std::max(mx, scale * s[r * T + j]);
        for (int64_t j = 0; j < len; ++j)
            big = std::max(big, std::fabs(scale * s[r * T + j]) + std::fabs(mx));
        for (int64_t j = 0; j < len; ++j) {
            const size_t i = r * T + j;
            const double arg = std::fabs(scale * s[i]) + std::fabs(mx);
            tol[i] = 4.0 * kU * p[i] * (T + 8 + 2.0 * arg + 2.0 * big) + kTiny;
        }
        // Masked entries (j > i) must be exactly 0: tolerance stays 0.
    }
    return tol;
}

void check_causal_softmax(const Shape& shape, float scale, float stddev, float offset, Rng& rng) {
    const int64_t T = shape[-1], rows = shape.numel() / T;
    const std::string what = "causal_softmax " + shape.str() + " scale " + std::to_string(scale);
    Tensor scores = randn(shape, rng, stddev, offset);
    const Vec s = values(scores);
    Vec p(s.size());
    for (int64_t r = 0; r < rows; ++r)
        ref::softmax_row(&s[r * T], &p[r * T], (r % T) + 1, T, scale);
    Tensor probs = full(shape, NAN);
    causal_softmax_forward(probs, scores, scale);
    expect_close(probs, p, softmax_tol(s, p, rows, T, true, scale), what + " forward");

    // Every row sums to 1 (up to the rounding of T terms) and nothing is NaN/inf.
    const Vec pv = values(probs);
    int64_t bad_rows = 0;
    for (int64_t r = 0; r < rows; ++r) {
        double sum = 0.0;
        for (int64_t j = 0; j < T; ++j) sum += pv[r * T + j];
        if (!(std::fabs(sum - 1.0) <= 4.0 * (T + 8) * kU)) ++bad_rows;
    }
    CHECK_MESSAGE(bad_rows == 0, what << ": " << bad_rows << " rows do not sum to 1");

    // Backward: dscores += scale * p_j (dp_j - sum_k p_k dp_k) on j <= i;
    // the masked entries are left exactly as they were.
    Tensor dprobs = randn(shape, rng), dscores = randn(shape, rng);
    const Vec dp = values(dprobs), ds0 = values(dscores);
    Vec want(ds0), tol(s.size(), 0.0);
    for (int64_t r = 0; r < rows; ++r) {
        const int64_t len = (r % T) + 1;
        double dot = 0.0, dot_mag = 0.0;
        for (int64_t j = 0; j < len; ++j) {
            dot += pv[r * T + j] * dp[r * T + j];
            dot_mag += std::fabs(pv[r * T + j] * dp[r * T + j]);
        }
        for (int64_t j = 0; j < len; ++j) {
            const size_t i = r * T + j;
            want[i] += scale * pv[i] * (dp[i] - dot);
            tol[i] = 4.0 * (T + 8) * kU * std::fabs(scale) * pv[i] * (std::fabs(dp[i]) + dot_mag) +
                     2.0 * kU * std::fabs(ds0[i]) + kTiny;
        }
    }
    causal_softmax_backward(dscores, probs, dprobs, scale);
    expect_close(dscores, want, tol, what + " backward");
}

TEST_CASE("kernel: causal_softmax forward (mask exactly 0, rows sum to 1) and backward") {
    Rng rng{61, 0};
    check_causal_softmax({2, 3, 7, 7}, 0.4472136f, 2.0f, 0.0f, rng);
    check_causal_softmax({1, 1, 1, 1}, 0.5f, 1.0f, 0.0f, rng);
    check_causal_softmax({65, 65}, 1.0f, 3.0f, 0.0f, rng);
    check_causal_softmax({2, 129, 129}, 0.125f, 4.0f, 0.0f, rng);
    check_causal_softmax({2, 4, 64, 64}, 0.25f, 2.0f, 0.0f, rng);
}

TEST_CASE("kernel: causal_softmax with huge scores stays finite (row max subtracted)") {
    Rng rng{62, 0};
    check_causal_softmax({3, 7, 7}, 1.0f, 1.0f, 1e4f, rng);
    check_causal_softmax({3, 7, 7}, 1.0f, 1.0f, -1e4f, rng);
    check_causal_softmax({1, 65, 65}, 1.0f, 1e4f, 0.0f, rng);
}

// Cross-entropy. lse = max + log(sum exp(l - max)): the exp arguments carry
// ~u (|l| + |max|) each, the sum (V + 4) u, the final add u |lse|, so
// tol_lse = 4u (V + 8 + 3 max|l| + |lse|). The loss is a mean of N terms
// lse - l_target: tol = 2 (mean tol_lse + (N + 4) u mean(|lse| + |l_t|)).
// dlogits += dloss/N (p - onehot) with p = exp(l - lse): relative error of p
// ~u (|l| + |lse| + 4) plus tol_lse if the kernel re-derives lse itself.
void check_cross_entropy(int64_t N, int64_t V, float stddev, Rng& rng) {
    const std::string what = "cross_entropy N,V=" + std::to_string(N) + "," + std::to_string(V) +
                             " std " + std::to_string(stddev);
    Tensor logits = randn({N, V}, rng, stddev);
    std::vector<int> targets(N);
    for (int64_t n = 0; n < N; ++n)
        targets[n] = static_cast<int>(rng_bits(77, n) % static_cast<uint64_t>(V));
    const Vec l = values(logits);
    Vec lse(N), lse_tol(N);
    double loss = 0.0, loss_mag = 0.0, mean_lse_tol = 0.0;
    for (int64_t n = 0; n < N; ++n) {
        double mx = -INFINITY, mabs = 0.0;
        for (int64_t j = 0; j < V; ++j) {
            mx = std::max(mx, l[n * V + j]);
            mabs = std::max(mabs, std::fabs(l[n * V + j]));
        }
        double s = 0.0;
        for (int64_t j = 0; j < V; ++j) s += std::exp(l[n * V + j] - mx);
        lse[n] = mx + std::log(s);
        lse_tol[n] = 4.0 * kU * (V + 8 + 3.0 * mabs + std::fabs(lse[n])) + kTiny;
        const double lt = l[n * V + targets[n]];
        loss += (lse[n] - lt) / N;
        loss_mag += (std::fabs(lse[n]) + std::fabs(lt)) / N;
        mean_lse_tol += lse_tol[n] / N;
    }
    Tensor lse_t = full({N}, NAN);
    const float got = cross_entropy_forward(lse_t, logits, targets.data());
    const double loss_tol = 2.0 * (mean_lse_tol + (N + 4) * kU * loss_mag) + kTiny;
    CHECK_MESSAGE(std::fabs(got - loss) <= loss_tol,
                  what << " loss got " << got << " want " << loss << " tol " << loss_tol);
    expect_close(lse_t, lse, lse_tol, what + " lse");

    const float dloss = 1.7f;
    Tensor dlogits = randn({N, V}, rng);
    const Vec d0 = values(dlogits);
    Vec want(d0), tol(d0.size());
    const double k = static_cast<double>(dloss) / N;
    for (int64_t n = 0; n < N; ++n) {
        for (int64_t j = 0; j < V; ++j) {
            const size_t i = n * V + j;
            const double p = std::exp(l[i] - lse[n]);
            const double hot = j == targets[n] ? 1.0 : 0.0;
            want[i] += k * (p - hot);
            tol[i] = 4.0 * std::fabs(k) *
                         (p * (kU * (std::fabs(l[i]) + std::fabs(lse[n]) + 4.0) + lse_tol[n]) +
                          kU * hot) +
                     2.0 * kU * std::fabs(d0[i]) + kTiny;
        }
    }
    cross_entropy_backward(dlogits, logits, lse_t, targets.data(), dloss);
    expect_close(dlogits, want, tol, what + " backward");
}

TEST_CASE("kernel: cross_entropy forward/backward vs naive log-sum-exp in double") {
    Rng rng{64, 0};
    check_cross_entropy(7, 65, 2.0f, rng);
    check_cross_entropy(1, 1, 1.0f, rng);
    check_cross_entropy(129, 3, 1.0f, rng);
    check_cross_entropy(64, 128, 1.0f, rng);
    check_cross_entropy(3, 65, 1e3f, rng);  // large logits: exp would overflow without the max
    check_cross_entropy(5, 7, 3e4f, rng);
}

// ============================================================================
// embedding
// ============================================================================

TEST_CASE("kernel: embedding forward and scatter-add backward with repeated ids") {
    Rng rng{71, 0};
    const int64_t sizes[][3] = {{7, 65, 129}, {65, 3, 200}, {1, 1, 5}, {3, 129, 7}, {64, 32, 256}};
    for (const auto& s : sizes) {
        const int64_t V = s[0], C = s[1], N = s[2];
        const std::string what = "embedding V,C,N=" + std::to_string(V) + "," + std::to_string(C) +
                                 "," + std::to_string(N);
        Tensor table = randn({V, C}, rng);
        std::vector<int> ids(N);
        for (int64_t n = 0; n < N; ++n) ids[n] = static_cast<int>(rng_bits(78, n) % V);
        ids[0] = static_cast<int>(V - 1);  // the last row is used, and repeats are certain
        if (N > 2) ids[N - 1] = ids[1] = ids[0];
        const Vec tv = values(table);
        Vec want(N * C);
        for (int64_t n = 0; n < N; ++n)
            for (int64_t c = 0; c < C; ++c) want[n * C + c] = tv[ids[n] * C + c];
        Tensor out = full({N, C}, NAN);
        embedding_forward(out, table, ids.data());
        expect_close(out, want, 0.0, 0.0, what + " forward (a copy, exact)");

        Tensor dy = randn({N, C}, rng), dtable = randn({V, C}, rng);
        const Vec g = values(dy);
        Accum acc(values(dtable));
        for (int64_t n = 0; n < N; ++n)
            for (int64_t c = 0; c < C; ++c) acc.add(ids[n] * C + c, g[n * C + c]);
        embedding_backward(dtable, dy, ids.data());
        expect_close(dtable, acc.want, acc.tol(), what + " backward (duplicates summed)");
    }
}

// ============================================================================
// scans along T
// ============================================================================

const Shape kScanShapes[] = {{3, 7, 65}, {1, 1, 1}, {2, 65, 3}, {1, 129, 7}, {4, 64, 32}};

enum class Scan { shift, pair_max, pair_min, pair_mean, scan_max, scan_min, avg, gavg };
const char* scan_name(Scan k) {
    switch (k) {
        case Scan::shift: return "shift";
        case Scan::pair_max: return "pair_max";
        case Scan::pair_min: return "pair_min";
        case Scan::pair_mean: return "pair_mean";
        case Scan::scan_max: return "scan_max";
        case Scan::scan_min: return "scan_min";
        case Scan::avg: return "avg";
        case Scan::gavg: return "gavg";
    }
    return "?";
}
const Scan kAllScans[] = {Scan::shift,    Scan::pair_max, Scan::pair_min,    Scan::pair_mean,
                          Scan::scan_max, Scan::scan_min, Scan::avg, Scan::gavg};

void scan_forward(Scan k, const Tensor& out, const Tensor& x) {
    switch (k) {
        case Scan::shift: shift_forward(out, x); break;
        case Scan::pair_max: pair_max_forward(out, x); break;
        case Scan::pair_min: pair_min_forward(out, x); break;
        case Scan::pair_mean: pair_mean_forward(out, x); break;
        case Scan::scan_max: scan_max_forward(out, x); break;
        case Scan::scan_min: scan_min_forward(out, x); break;
        case Scan::avg: avg_forward(out, x); break;
        case Scan::gavg: gavg_forward(out, x); break;
    }
}
void scan_backward(Scan k, const Tensor& dx, const Tensor& x, const Tensor& y, const Tensor& dy) {
    switch (k) {
        case Scan::shift: shift_backward(dx, dy); break;
        case Scan::pair_max: pair_max_backward(dx, x, dy); break;
        case Scan::pair_min: pair_min_backward(dx, x, dy); break;
        case Scan::pair_mean: pair_mean_backward(dx, dy); break;
        case Scan::scan_max: scan_max_backward(dx, x, y, dy); break;
        case Scan::scan_min: scan_min_backward(dx, x, y, dy); break;
        case Scan::avg: avg_backward(dx, dy); break;
        case Scan::gavg: gavg_backward(dx, dy); break;
    }
}

// Naive forward and backward of one scan over (B, T, C). The forward's
// reference is built like an Accum too: y[t] = sum of weighted x[s], so the
// tolerance is the summation bound (0 for pure selections like max and shift).
void scan_reference(Scan k, const Vec& x, const Vec& dy, const ref::BTC& d, Vec& y, Vec& ytol,
                    Accum& dx) {
    y.assign(x.size(), 0.0);
    ytol.assign(x.size(), 0.0);
    for (int64_t b = 0; b < d.B; ++b)
        for (int64_t c = 0; c < d.C; ++c)
            for (int64_t t = 0; t < d.T; ++t) {
                const size_t o = d(b, t, c);
                // The sources s of y[t] with weights: y[t] = sum_s w_s x[s].
                std::vector<std::pair<int64_t, double>> src;
                switch (k) {
                    case Scan::shift: src = {{t == 0 ? 0 : t - 1, 1.0}}; break;
                    case Scan::pair_max:
                    case Scan::pair_min:
                        src = {{ref::pair_source(x, d, b, t, c, k == Scan::pair_max), 1.0}};
                        break;
                    case Scan::pair_mean:
                        if (t == 0) src = {{0, 1.0}};
                        else src = {{t, 0.5}, {t - 1, 0.5}};
                        break;
                    case Scan::scan_max:
                    case Scan::scan_min:
                        src = {{ref::scan_source(x, d, b, t, c, k == Scan::scan_max), 1.0}};
                        break;
                    case Scan::avg:
                        for (int64_t s = 0; s <= t; ++s) src.push_back({s, 1.0 / (t + 1)});
                        break;
                    case Scan::gavg:
                        for (int64_t s = 0; s < d.T; ++s) src.push_back({s, 1.0 / d.T});
                        break;
                }
                double mag = 0.0;
                for (const auto& [s, w] : src) {
                    y[o] += w * x[d(b, s, c)];
                    mag += std::fabs(w * x[d(b, s, c)]);
                    dx.add(d(b, s, c), w * dy[o]);
                }
                // A sum of n terms then a scale: 2 (n + 2) u sum|terms|; a pure
                // selection (one term of weight 1) is exact.
                const bool exact = src.size() == 1 && src[0].second == 1.0;
                ytol[o] = exact ? 0.0 : 2.0 * (src.size() + 2) * kU * mag + kTiny;
            }
}

TEST_CASE("kernel: scan forward and backward kernels vs naive loops over (B,T,C)") {
    Rng rng{81, 0};
    for (const Shape& s : kScanShapes) {
        const ref::BTC d{s[0], s[1], s[2]};
        for (Scan k : kAllScans) {
            const std::string what = std::string(scan_name(k)) + " " + s.str();
            Tensor x = randn(s, rng), dy = randn(s, rng), dx = randn(s, rng);
            const Vec xv = values(x), dyv = values(dy);
            Vec y, ytol;
            Accum acc(values(dx));
            scan_reference(k, xv, dyv, d, y, ytol, acc);
            Tensor out = full(s, NAN);
            scan_forward(k, out, x);
            expect_close(out, y, ytol, what + " forward");
            scan_backward(k, dx, x, out, dy);
            expect_close(dx, acc.want, acc.tol(), what + " backward (accumulating)");
        }
    }
}

TEST_CASE("kernel: scan and pair max/min tie rule: gradient to the most recent tied element") {
    // Hand-worked on (1,5,1); dy = 1, 10, 100, 1000, 10000 so each dx digit
    // names the outputs that sent it gradient.
    Tensor dy = from_values({1, 5, 1}, {1, 10, 100, 1000, 10000});
    struct Case {
        Scan k;
        std::vector<float> x, y, dx;
    };
    const Case cases[] = {
        // running max 1,3,3,3,3: t=2 ties t=1 -> 2; t=3 held by 1 and 2 -> 2; t=4 ties -> 4.
        {Scan::scan_max, {1, 3, 3, 2, 3}, {1, 3, 3, 3, 3}, {1, 10, 1100, 0, 10000}},
        {Scan::scan_min, {2, 1, 1, 3, 1}, {2, 1, 1, 1, 1}, {1, 10, 1100, 0, 10000}},
        // scan_max with the max set at t=0 and tied only later.
        {Scan::scan_max, {5, 1, 2, 5, 4}, {5, 5, 5, 5, 5}, {111, 0, 0, 11000, 0}},
        // pair: y[t] = max(x[t], x[t-1]); a tie goes to x[t].
        {Scan::pair_max, {1, 3, 3, 2, 3}, {1, 3, 3, 3, 3}, {1, 10, 1100, 0, 10000}},
        {Scan::pair_min, {2, 1, 1, 3, 1}, {2, 1, 1, 1, 1}, {1, 10, 1100, 0, 10000}},
        {Scan::pair_max, {4, 4, 4, 4, 4}, {4, 4, 4, 4, 4}, {1, 10, 100, 1000, 10000}},
    };
    for (const Case& c : cases) {
        const std::string what = std::string(scan_name(c.k)) + " ties";
        Tensor x = from_data({1, 5, 1}, c.x.data());
        Tensor y = full({1, 5, 1}, NAN), dx = zeros({1, 5, 1});
        scan_forward(c.k, y, x);
        scan_backward(c.k, dx, x, y, dy);
        expect_close(y, Vec(c.y.begin(), c.y.end()), 0.0, 0.0, what + " forward");
        expect_close(dx, Vec(c.dx.begin(), c.dx.end()), 0.0, 0.0, what + " backward");
    }
}

// A backward kernel given a fresh gradient buffer (accumulate = false) writes
// it whatever it held: the result equals adding into zeros, bit for bit, even
// over NaN. Odd shapes, ties (integer inputs), one above the OpenMP threshold.
TEST_CASE("kernel: backward kernels writing a fresh dx equal adding into zeros, whatever dx held") {
    Rng rng{21, 0};
    for (const Shape s : {Shape{1, 1, 1}, Shape{3, 7, 5}, Shape{2, 37, 300}}) {
        CAPTURE(s.str());
        Tensor x = randn(s, rng), dy = randn(s, rng), ties = empty(s);
        for (int64_t i = 0; i < s.numel(); i++) ties.data[i] = std::round(2.0f * x.data[i]);
        for (const Tensor& in : {x, ties}) {
            for (const bool is_max : {true, false}) {
                auto run = [&](const Tensor& dx, bool accumulate) {
                    if (is_max) pair_max_backward(dx, in, dy, accumulate);
                    else pair_min_backward(dx, in, dy, accumulate);
                };
                Tensor added = zeros(s), written = full(s, NAN);
                run(added, true);
                run(written, false);
                expect_identical(written, added, is_max ? "pair_max_backward" : "pair_min_backward");
            }
        }
        Tensor slope = randn(s, rng), added = zeros(s), written = full(s, NAN);
        slope_backward(added, slope, dy, true);
        slope_backward(written, slope, dy, false);
        expect_identical(written, added, "slope_backward");
    }
    {  // layer norm's dx and attention's dqkv, odd sizes
        Tensor x = randn({5, 7, 12}, rng), dy = randn({5, 7, 12}, rng), w = randn({12}, rng);
        Tensor y = empty(x.shape), mean = empty({35}), rstd = empty({35});
        layer_norm_forward(y, mean, rstd, x, w, Tensor{});
        Tensor added = zeros(x.shape), written = full(x.shape, NAN), dw1 = zeros({12}), dw2 = zeros({12});
        layer_norm_backward(added, dw1, Tensor{}, dy, x, w, mean, rstd, true);
        layer_norm_backward(written, dw2, Tensor{}, dy, x, w, mean, rstd, false);
        expect_identical(written, added, "layer_norm_backward dx");
        expect_identical(dw2, dw1, "layer_norm_backward dweight");
        Tensor qkv = randn({2, 37, 3 * 12}, rng), out = empty({2, 37, 12}), lse_a = empty({2, 3, 37});
        Tensor dout = randn({2, 37, 12}, rng);
        causal_attention_forward(out, lse_a, qkv, 3);
        Tensor dq_added = zeros(qkv.shape), dq_written = full(qkv.shape, NAN);
        causal_attention_backward(dq_added, dout, qkv, out, lse_a, 3, true);
        causal_attention_backward(dq_written, dout, qkv, out, lse_a, 3, false);
        expect_identical(dq_written, dq_added, "causal_attention_backward");
    }
    const int64_t N = 37, V = 65;
    Tensor logits = randn({N, V}, rng), lse = empty({N});
    std::vector<int> targets(N);
    for (int64_t n = 0; n < N; n++) targets[size_t(n)] = static_cast<int>((n * 7) % V);
    cross_entropy_forward(lse, logits, targets.data());
    Tensor added = zeros({N, V}), written = full({N, V}, NAN);
    cross_entropy_backward(added, logits, lse, targets.data(), 0.7f, true);
    cross_entropy_backward(written, logits, lse, targets.data(), 0.7f, false);
    expect_identical(written, added, "cross_entropy_backward");
}

// ============================================================================
// thread-count independence
// ============================================================================

// Every kernel splits its work by size (and matmul by core count), never by
// thread count, and adds partial sums in a fixed order: results must be
// bit-identical with 1 and 2 OpenMP threads, so the thread governor can
// change the count in the middle of a run without changing a single loss.
// bench times the attention kernel's sgemm calls alone for its bound; they
// must only read qkv, and stay inside their buffers over tiles, diagonal
// halves and a short last block (T = 130; the sanitizer build checks bounds).
TEST_CASE("kernel: attention's product replay leaves qkv as it was") {
    Rng rng{23, 0};
    Tensor qkv = randn({2, 130, 3 * 12}, rng);
    const Tensor before = qkv.clone(), dqkv = zeros(qkv.shape), dout = randn({2, 130, 12}, rng);
    causal_attention_products(qkv, 3, dqkv, dout);
    expect_identical(qkv, before, "causal_attention_products");
}

TEST_CASE("kernel: results independent of the OpenMP thread count (1 vs 2)") {
    Rng rng{91, 0};
    const int64_t B = 3, T = 129, C = 257, V = 65, N = B * T;
    Tensor x = randn({B, T, C}, rng), y2 = randn({B, T, C}, rng), dy = randn({B, T, C}, rng);
    Tensor dx0 = randn({B, T, C}, rng), bias = randn({C}, rng), w = randn({C}, rng);
    Tensor scores = randn({B, 2, T, T}, rng), dprobs = randn({B, 2, T, T}, rng);
    Tensor logits = randn({N, V}, rng, 2.0f), table = randn({V, C}, rng);
    std::vector<int> ids(N);
    for (int64_t n = 0; n < N; ++n) ids[n] = static_cast<int>(rng_bits(79, n) % V);
    Tensor xn = x.reshape({N, C}), dyn = dy.reshape({N, C});

    using Run = std::function<std::vector<Tensor>()>;
    const std::pair<std::string, Run> runs[] = {
        {"add broadcast", [&] { Tensor o = empty(x.shape); add_forward(o, x, bias); return std::vector<Tensor>{o}; }},
        {"mul_backward_a", [&] { Tensor d = dx0.clone(); mul_backward_a(d, dy, bias); return std::vector<Tensor>{d}; }},
        {"maximum_backward", [&] {
             Tensor da = dx0.clone(), db = dx0.clone();
             maximum_backward(da, db, x, y2, dy);
             return std::vector<Tensor>{da, db};
         }},
        {"gelu", [&] {
             Tensor o = empty(x.shape), d = dx0.clone();
             unary_row("gelu").forward(o, x);
             unary_row("gelu").backward(d, x, o, dy);
             return std::vector<Tensor>{o, d};
         }},
        {"layer_norm forward, dx", [&] {
             Tensor o = empty({N, C}), m = empty({N}), r = empty({N});
             layer_norm_forward(o, m, r, xn, w, bias);
             Tensor d = dx0.clone().reshape({N, C}), dw = zeros({C}), db = zeros({C});
             layer_norm_backward(d, dw, db, dyn, xn, w, m, r);
             return std::vector<Tensor>{o, m, r, d};
         }},
        {"causal_softmax", [&] {
             Tensor p = empty(scores.shape), ds = zeros(scores.shape);
             causal_softmax_forward(p, scores, 0.3f);
             causal_softmax_backward(ds, p, dprobs, 0.3f);
             return std::vector<Tensor>{p, ds};
         }},
        {"cross_entropy lse, dlogits", [&] {
             Tensor lse = empty({N}), d = zeros(logits.shape);
             cross_entropy_forward(lse, logits, ids.data());
             cross_entropy_backward(d, logits, lse, ids.data(), 1.0f);
             return std::vector<Tensor>{lse, d};
         }},
        {"embedding", [&] {
             Tensor o = empty({N, C}), d = zeros({V, C});
             embedding_forward(o, table, ids.data());
             embedding_backward(d, dyn, ids.data());
             return std::vector<Tensor>{o, d};
         }},
        {"matmul (N, C) @ (C, V), its transposes, and a batch", [&] {
             Tensor o = empty({N, V}), g = empty({C, V}), a = empty({N, C}), s = empty({B, 2, T, T});
             matmul(o, xn, table.transpose(0, 1));
             matmul(g, xn.transpose(0, 1), logits);
             matmul(a, logits, table);
             matmul(s, scores, dprobs);
             return std::vector<Tensor>{o, g, a, s};
         }},
        {"layer_norm dweight, dbias", [&] {
             Tensor o = empty({N, C}), m = empty({N}), r = empty({N});
             layer_norm_forward(o, m, r, xn, w, bias);
             Tensor dw = zeros({C}), db = zeros({C});
             layer_norm_backward(Tensor{}, dw, db, dyn, xn, w, m, r);
             return std::vector<Tensor>{dw, db};
         }},
        {"cross_entropy loss, sum_all, broadcast sums", [&] {
             Tensor lse = empty({N}), loss = empty({2}), db = zeros({C}), dm = zeros({C});
             loss.data[0] = cross_entropy_forward(lse, logits, ids.data());
             loss.data[1] = static_cast<float>(sum_all(x));
             broadcast_sum_backward(db, dy, 1.0f);
             mul_backward_b(dm, dy, x);
             return std::vector<Tensor>{loss, db, dm};
         }},
        {"linear backward products", [&] {
             Tensor dxl = dx0.clone().reshape({N, C}), dwl = empty({V, C});
             linear_backward_products(dxl, 1.0f, dwl, 0.0f, logits, xn, table);
             return std::vector<Tensor>{dxl, dwl};
         }},
        {"attention (fused), forward and backward", [&] {
             Tensor qkv = x.reshape({B, T, C}).slice(2, 0, 3 * 64).contiguous();
             Tensor o = empty({B, T, 64}), lse = empty({B, 4, T}), d = zeros(qkv.shape);
             causal_attention_forward(o, lse, qkv, 4);
             causal_attention_backward(d, dy.slice(2, 0, 64).contiguous(), qkv, o, lse, 4);
             return std::vector<Tensor>{o, lse, d};
         }},
    };
    auto check = [](const std::string& name, const Run& run) {
        std::vector<Tensor> one, two;
        {
            ThreadCount tc(1);
            one = run();
        }
        {
            ThreadCount tc(2);
            two = run();
        }
        REQUIRE(one.size() == two.size());
        for (size_t i = 0; i < one.size(); ++i)
            expect_identical(one[i], two[i], name + " output " + std::to_string(i));
    };
    for (const auto& r : runs) check(r.first, r.second);
    for (Scan k : kAllScans) {
        check(scan_name(k), [&] {
            Tensor o = empty(x.shape), d = dx0.clone();
            scan_forward(k, o, x);
            scan_backward(k, d, x, o, dy);
            return std::vector<Tensor>{o, d};
        });
    }
}

}  // namespace
}  // namespace cg
