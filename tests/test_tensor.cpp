// The tensor layer: shapes, factories, views and their strides, copies,
// error messages, the storage pool and its reference counts, the counter-based
// Rng, and the BLAS/OpenMP information functions.
#include <doctest/doctest.h>
#include <omp.h>

#include <cmath>
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "tensor/kernels.h"
#include "tensor/rng.h"
#include "tensor/tensor.h"
#include "tensor/thread_governor.h"
#include "tests/helpers.h"
#include "tests/reference.h"

namespace cg {
namespace {

using ref::values;
using ref::Vec;

// A tensor whose element at logical flat index i holds i (exact in float).
Tensor iota(Shape s) {
    Tensor t = empty(s);
    std::vector<float> v(static_cast<size_t>(s.numel()));
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
    copy_into(t, from_data(s, v.data()));
    return t;
}

// ============================================================================
// Shape and factories
// ============================================================================

TEST_CASE("tensor: Shape str, numel, equality, negative index") {
    Shape s{4, 64, 128};
    CHECK(s.str() == "(4,64,128)");
    CHECK(s.ndim == 3);
    CHECK(s.numel() == 4 * 64 * 128);
    CHECK(Shape{7}.str() == "(7)");
    CHECK(Shape{2, 3, 5, 7}.str() == "(2,3,5,7)");
    CHECK(Shape{2, 3, 5, 7}.numel() == 210);
    CHECK(s[-1] == 128);
    CHECK(s[-3] == 4);
    CHECK(s[1] == 64);
    CHECK(s == Shape{4, 64, 128});
    CHECK(s != Shape{4, 64, 129});
    CHECK(s != Shape{4, 64});
    CHECK(Shape{8192} != Shape{4, 2048});
}

TEST_CASE("tensor: factories make contiguous row-major tensors with the given values") {
    Tensor e = empty({2, 3, 4});
    CHECK(e.defined());
    CHECK(e.shape == Shape{2, 3, 4});
    CHECK(e.ndim() == 3);
    CHECK(e.numel() == 24);
    CHECK(e.size(-1) == 4);
    CHECK(e.strides[0] == 12);
    CHECK(e.strides[1] == 4);
    CHECK(e.strides[2] == 1);
    CHECK(e.is_contiguous());
    CHECK(e.storage->size >= 24);

    Tensor z = zeros({3, 5});
    for (double v : values(z)) REQUIRE(v == 0.0);
    Tensor f = full({7}, 2.5f);
    for (double v : values(f)) REQUIRE(v == 2.5);
    fill(f, -1.0f);
    for (double v : values(f)) REQUIRE(v == -1.0);

    Tensor m = from_values({2, 3}, {1, 2, 3, 4, 5, 6});
    CHECK(m.at({0, 0}) == 1.0f);
    CHECK(m.at({0, 2}) == 3.0f);
    CHECK(m.at({1, 0}) == 4.0f);
    CHECK(m.at({1, 2}) == 6.0f);
    CHECK_THROWS_AS(from_values({2, 3}, {1, 2, 3}), Error);

    std::vector<float> src = {9, 8, 7, 6};
    Tensor d = from_data({2, 2}, src.data());
    src[0] = 100.0f;  // from_data copies
    CHECK(d.at({0, 0}) == 9.0f);
    CHECK(d.at({1, 1}) == 6.0f);

    Tensor u;  // default: undefined
    CHECK_FALSE(u.defined());
}

TEST_CASE("tensor: item() of a one-element tensor") {
    CHECK(from_values({1}, {3.5f}).item() == 3.5f);
    CHECK(full({1, 1, 1}, -2.0f).item() == -2.0f);
    CHECK_THROWS_AS(zeros({2}).item(), Error);
}

// ============================================================================
// Views
// ============================================================================

TEST_CASE("tensor: reshape is a view sharing storage; -1 is inferred") {
    Tensor t = iota({2, 3, 4});
    Tensor r = t.reshape({6, 4});
    CHECK(r.shape == Shape{6, 4});
    CHECK(r.storage == t.storage);
    CHECK(r.data == t.data);
    CHECK(r.is_contiguous());
    r.at({5, 3}) = -7.0f;  // writing through the view is visible in t
    CHECK(t.at({1, 2, 3}) == -7.0f);
    t.at({0, 1, 0}) = 42.0f;
    CHECK(r.at({1, 0}) == 42.0f);

    CHECK(t.reshape({-1, 4}).shape == Shape{6, 4});
    CHECK(t.reshape({2, -1}).shape == Shape{2, 12});
    CHECK(t.reshape({-1}).shape == Shape{24});
    CHECK(t.reshape({1, 2, -1, 3}).shape == Shape{1, 2, 4, 3});

    std::string m = error_of([&] { t.reshape({5, 5}); });
    CHECK_MESSAGE(starts_with(m, "[reshape]"), "wrong numel: '" << m << "'");
    m = error_of([&] { t.reshape({-1, -1}); });
    CHECK_MESSAGE(starts_with(m, "[reshape]"), "two -1: '" << m << "'");
    m = error_of([&] { t.reshape({5, -1}); });
    CHECK_MESSAGE(starts_with(m, "[reshape]"), "-1 not a whole number: '" << m << "'");
}

TEST_CASE("tensor: reshape of a non-contiguous view throws [reshape]") {
    Tensor t = iota({2, 3, 4});
    const std::string m1 = error_of([&] { t.transpose(1, 2).reshape({24}); });
    CHECK_MESSAGE(starts_with(m1, "[reshape]"), "transposed: '" << m1 << "'");
    const std::string m2 = error_of([&] { t.slice(2, 1, 2).reshape({12}); });
    CHECK_MESSAGE(starts_with(m2, "[reshape]"), "sliced on the last dim: '" << m2 << "'");
}

TEST_CASE("tensor: transpose and permute swap shape and strides; at() follows them") {
    Tensor t = iota({2, 3, 4});  // strides (12,4,1)
    Tensor a = t.transpose(0, 2);
    CHECK(a.shape == Shape{4, 3, 2});
    CHECK(a.strides[0] == 1);
    CHECK(a.strides[1] == 4);
    CHECK(a.strides[2] == 12);
    CHECK(a.storage == t.storage);
    CHECK_FALSE(a.is_contiguous());
    for (int64_t i = 0; i < 2; ++i)
        for (int64_t j = 0; j < 3; ++j)
            for (int64_t k = 0; k < 4; ++k) REQUIRE(a.at({k, j, i}) == t.at({i, j, k}));
    CHECK(t.at({1, 2, 3}) == 23.0f);

    Tensor b = t.transpose(-2, -1);  // the matmul transpose
    CHECK(b.shape == Shape{2, 4, 3});
    CHECK(b.strides[0] == 12);
    CHECK(b.strides[1] == 1);
    CHECK(b.strides[2] == 4);
    CHECK(b.at({1, 3, 2}) == t.at({1, 2, 3}));

    Tensor p = t.permute({2, 0, 1});
    CHECK(p.shape == Shape{4, 2, 3});
    CHECK(p.strides[0] == 1);
    CHECK(p.strides[1] == 12);
    CHECK(p.strides[2] == 4);
    for (int64_t i = 0; i < 2; ++i)
        for (int64_t j = 0; j < 3; ++j)
            for (int64_t k = 0; k < 4; ++k) REQUIRE(p.at({k, i, j}) == t.at({i, j, k}));

    // (B,T,NH,HS) -> (B,NH,T,HS): the attention head split.
    Tensor h = iota({2, 5, 3, 4});  // strides (60,12,4,1)
    Tensor q = h.permute({0, 2, 1, 3});
    CHECK(q.shape == Shape{2, 3, 5, 4});
    CHECK(q.strides[0] == 60);
    CHECK(q.strides[1] == 4);
    CHECK(q.strides[2] == 12);
    CHECK(q.strides[3] == 1);
    CHECK(q.at({1, 2, 4, 3}) == h.at({1, 4, 2, 3}));
    // Permuting back gives the original layout, contiguous again.
    Tensor back = q.permute({0, 2, 1, 3});
    CHECK(back.shape == h.shape);
    CHECK(back.is_contiguous());
    CHECK(t.permute({0, 1, 2}).is_contiguous());
}

TEST_CASE("tensor: slice along the last dim (q,k,v split) and along dim 1") {
    const int64_t B = 2, T = 5, C = 4;
    Tensor qkv = iota({B, T, 3 * C});
    for (int part = 0; part < 3; ++part) {
        Tensor s = qkv.slice(2, part * C, C);
        CHECK(s.shape == Shape{B, T, C});
        CHECK(s.strides[0] == T * 3 * C);
        CHECK(s.strides[1] == 3 * C);
        CHECK(s.strides[2] == 1);
        CHECK(s.storage == qkv.storage);
        CHECK(s.data == qkv.data + part * C);
        CHECK_FALSE(s.is_contiguous());
        for (int64_t b = 0; b < B; ++b)
            for (int64_t t = 0; t < T; ++t)
                for (int64_t c = 0; c < C; ++c) REQUIRE(s.at({b, t, c}) == qkv.at({b, t, part * C + c}));
    }
    Tensor k = qkv.slice(2, C, C);
    k.at({1, 4, 0}) = -1.0f;  // writes go to the shared storage
    CHECK(qkv.at({1, 4, C}) == -1.0f);

    Tensor x = iota({B, T, C});
    Tensor mid = x.slice(1, 2, 3);
    CHECK(mid.shape == Shape{B, 3, C});
    CHECK(mid.strides[0] == T * C);
    CHECK(mid.strides[1] == C);
    CHECK(mid.data == x.data + 2 * C);
    CHECK(mid.at({1, 0, 3}) == x.at({1, 2, 3}));
    CHECK_FALSE(mid.is_contiguous());

    Tensor rows = x.slice(0, 1, 1);  // a slice of the first dim stays contiguous
    CHECK(rows.shape == Shape{1, T, C});
    CHECK(rows.is_contiguous());
    CHECK(rows.data == x.data + T * C);

    Tensor inner = qkv.slice(2, C, C).slice(1, 1, 2);  // a slice of a slice
    CHECK(inner.shape == Shape{B, 2, C});
    CHECK(inner.at({1, 1, 2}) == qkv.at({1, 2, C + 2}));

    CHECK_THROWS_AS(x.slice(2, 3, 2), Error);  // past the end
    CHECK_THROWS_AS(x.slice(1, -1, 2), Error);
}

TEST_CASE("tensor: contiguous() shares when contiguous and copies otherwise; clone copies") {
    Tensor t = iota({3, 4});
    Tensor same = t.contiguous();
    CHECK(same.storage == t.storage);
    CHECK(same.data == t.data);

    Tensor rows = iota({4, 3}).slice(0, 1, 2);
    Tensor rows_c = rows.contiguous();
    CHECK(rows_c.storage == rows.storage);
    CHECK(rows_c.data == rows.data);

    Tensor tr = t.transpose(0, 1);
    Tensor c = tr.contiguous();
    CHECK(c.storage != t.storage);
    CHECK(c.shape == Shape{4, 3});
    CHECK(c.is_contiguous());
    CHECK(c.strides[0] == 3);
    for (int64_t i = 0; i < 4; ++i)
        for (int64_t j = 0; j < 3; ++j) REQUIRE(c.at({i, j}) == t.at({j, i}));

    Tensor sl = iota({2, 3, 6}).slice(2, 2, 3);
    Tensor slc = sl.contiguous();
    CHECK(slc.is_contiguous());
    CHECK(values(slc) == values(sl));

    Tensor cl = t.clone();
    CHECK(cl.storage != t.storage);
    CHECK(values(cl) == values(t));
    cl.at({0, 0}) = 99.0f;
    CHECK(t.at({0, 0}) == 0.0f);
    Tensor cltr = tr.clone();
    CHECK(cltr.is_contiguous());
    CHECK(values(cltr) == values(tr));
}

TEST_CASE("tensor: copy_into and accumulate_into with strided source and destination") {
    // dst: a transposed view into a bigger buffer; src: a slice of the last dim.
    Tensor big = full({4, 3}, 1.0f);
    Tensor dst = big.transpose(0, 1);  // (3,4), strides (1,3)
    Tensor src_base = iota({3, 9});
    Tensor src = src_base.slice(1, 2, 4);  // (3,4), strides (9,1), offset 2
    copy_into(dst, src);
    for (int64_t i = 0; i < 3; ++i)
        for (int64_t j = 0; j < 4; ++j) REQUIRE(big.at({j, i}) == src_base.at({i, j + 2}));
    accumulate_into(dst, src);
    for (int64_t i = 0; i < 3; ++i)
        for (int64_t j = 0; j < 4; ++j) REQUIRE(big.at({j, i}) == 2.0f * src_base.at({i, j + 2}));
    // Both sides 4-D permuted views.
    Tensor h = iota({2, 3, 4, 5});
    Tensor out4 = zeros({2, 4, 3, 5});
    copy_into(out4.permute({0, 2, 1, 3}), h);
    for (int64_t a = 0; a < 2; ++a)
        for (int64_t b = 0; b < 3; ++b)
            for (int64_t c = 0; c < 4; ++c)
                for (int64_t d = 0; d < 5; ++d) REQUIRE(out4.at({a, c, b, d}) == h.at({a, b, c, d}));
    accumulate_into(h.permute({0, 2, 1, 3}), out4);
    CHECK(h.at({1, 2, 3, 4}) == 2.0f * (60 + 40 + 15 + 4));
    // Large enough for the parallel paths (strided and contiguous).
    Tensor src3 = iota({4, 129, 257});
    Tensor dst3 = zeros({257, 129, 4});
    copy_into(dst3.permute({2, 1, 0}), src3);
    accumulate_into(dst3.permute({2, 1, 0}), src3);
    int64_t wrong = 0;
    for (int64_t i = 0; i < 4; ++i)
        for (int64_t j = 0; j < 129; ++j)
            for (int64_t k = 0; k < 257; ++k) wrong += dst3.at({k, j, i}) != 2.0f * src3.at({i, j, k});
    CHECK(wrong == 0);
    Tensor acc = src3.clone();
    accumulate_into(acc, src3);
    CHECK(values(acc) == values(dst3.permute({2, 1, 0})));
    // The source is left untouched; shapes must match.
    CHECK(src_base.at({2, 8}) == 26.0f);
    CHECK_THROWS_AS(copy_into(zeros({3, 4}), zeros({4, 3})), Error);
    CHECK_THROWS_AS(accumulate_into(zeros({3, 4}), zeros({12})), Error);
}

TEST_CASE("tensor: check_shape and check_contiguous error messages") {
    Tensor w = zeros({2, 3});
    CHECK_NOTHROW(check_shape("linear", "weight", w, Shape{2, 3}));
    const std::string m = error_of([&] { check_shape("linear", "weight", w, Shape{3, 2}); });
    CHECK(m == "[linear] weight has shape (2,3), expected (3,2)");
    const std::string m2 = error_of([&] { check_shape("ln", "x", zeros({4, 64, 128}), Shape{4, 64}); });
    CHECK(m2 == "[ln] x has shape (4,64,128), expected (4,64)");

    CHECK_NOTHROW(check_contiguous("attn", "q", w));
    const std::string m3 = error_of([&] { check_contiguous("attn", "q", w.transpose(0, 1)); });
    CHECK_MESSAGE(starts_with(m3, "[attn] "), "'" << m3 << "'");

    const std::string m4 = error_of([] { fail("op", "went wrong"); });
    CHECK_MESSAGE(starts_with(m4, "[op]"), "'" << m4 << "'");
    CHECK_MESSAGE(m4.find("went wrong") != std::string::npos, "'" << m4 << "'");
}

// ============================================================================
// Pool and reference counts
// ============================================================================

TEST_CASE("tensor: the pool reuses a released buffer of the same size") {
    const int64_t n = 12347;  // a size no other test uses
    PoolStats s0 = pool_stats();
    { Tensor a = empty({n}); }  // released at the end of the scope
    PoolStats s1 = pool_stats();
    CHECK(s1.bytes_in_use == s0.bytes_in_use);
    CHECK(s1.bytes_pooled >= s0.bytes_pooled + n * 4);
    float* first = nullptr;
    {
        Tensor b = zeros({1, n});  // same numel, other shape: same buffer size
        first = b.data;
        PoolStats s2 = pool_stats();
        CHECK(s2.reuses == s1.reuses + 1);
        CHECK(s2.fresh_allocations == s1.fresh_allocations);
        CHECK(s2.bytes_in_use >= s1.bytes_in_use + n * 4);
        CHECK(s2.bytes_pooled == s1.bytes_pooled - (s2.bytes_in_use - s1.bytes_in_use));
    }
    // A steady loop allocates nothing new.
    PoolStats s3 = pool_stats();
    for (int i = 0; i < 10; ++i) {
        Tensor c = empty({n});
        Tensor d = empty({7, 5});
        CHECK(c.data != nullptr);
        CHECK(d.data != c.data);
    }
    PoolStats s4 = pool_stats();
    CHECK(s4.fresh_allocations <= s3.fresh_allocations + 1);  // at most the (7,5) buffer once
    CHECK(s4.reuses >= s3.reuses + 19);
    { Tensor e = empty({n}); CHECK(e.data == first); }  // only one idle buffer of this size
    // Releasing idle buffers empties the pool.
    pool_release_idle();
    CHECK(pool_stats().bytes_pooled == 0);
    PoolStats s5 = pool_stats();
    { Tensor f = empty({n}); }
    CHECK(pool_stats().fresh_allocations == s5.fresh_allocations + 1);
}

TEST_CASE("tensor: copies and views share storage; the buffer returns when the last one dies") {
    const int64_t n = 5003;
    Tensor a = full({n}, 1.5f);
    Storage* st = a.storage;
    CHECK(st->refs == 1);
    const int64_t pooled0 = pool_stats().bytes_pooled;
    {
        Tensor b = a;  // copy: shares
        CHECK(b.storage == st);
        CHECK(b.data == a.data);
        CHECK(st->refs == 2);
        Tensor v = a.reshape({1, n});  // a view holds a reference too
        CHECK(st->refs == 3);
        Tensor s = a.slice(0, 10, 20);
        CHECK(st->refs == 4);
        Tensor c;
        c = b;  // copy assignment
        CHECK(st->refs == 5);
        Tensor& alias = c;
        c = alias;  // self-assignment changes nothing
        CHECK(st->refs == 5);
        CHECK(c.storage == st);
        Tensor m = std::move(c);  // a move transfers, no new reference
        CHECK(st->refs == 5);
        CHECK_FALSE(c.defined());
        Tensor m2;
        m2 = std::move(m);
        CHECK(st->refs == 5);
        CHECK_FALSE(m.defined());
    }
    CHECK(st->refs == 1);
    CHECK(pool_stats().bytes_pooled == pooled0);

    // Kill the original while a view survives: the data stays valid.
    Tensor view = a.slice(0, 1, 3);
    const int64_t in_use = pool_stats().bytes_in_use;
    a = Tensor();
    CHECK(st->refs == 1);
    CHECK(pool_stats().bytes_in_use == in_use);  // not returned yet
    CHECK(view.at({0}) == 1.5f);
    CHECK(view.at({2}) == 1.5f);
    const int64_t pooled1 = pool_stats().bytes_pooled;
    view = Tensor();  // the last reference goes: the buffer returns to the pool
    CHECK(pool_stats().bytes_pooled >= pooled1 + n * 4);
    CHECK(pool_stats().bytes_in_use < in_use);
}

// ============================================================================
// Rng
// ============================================================================

TEST_CASE("tensor: rng_bits is deterministic and well mixed") {
    CHECK(rng_bits(1, 0) == rng_bits(1, 0));
    CHECK(rng_bits(1, 12345) == rng_bits(1, 12345));
    CHECK(rng_bits(1, 0) != rng_bits(1, 1));
    CHECK(rng_bits(1, 0) != rng_bits(2, 0));
    // No repeats among 10^4 consecutive values, and every bit is set about half
    // the time: the count is Binomial(10^4, 1/2), std 50, allowed +-500 (10 std).
    const int n = 10000;
    std::set<uint64_t> seen;
    int ones[64] = {0};
    for (int i = 0; i < n; ++i) {
        const uint64_t v = rng_bits(7, i);
        seen.insert(v);
        for (int b = 0; b < 64; ++b) ones[b] += (v >> b) & 1;
    }
    CHECK(seen.size() == static_cast<size_t>(n));
    int bad_bits = 0;
    for (int b = 0; b < 64; ++b) bad_bits += std::abs(ones[b] - n / 2) > 500;
    CHECK_MESSAGE(bad_bits == 0, bad_bits << " of 64 bits are biased");
    // Neighbouring seeds give unrelated streams (no value of seed 8's first
    // 1000 appears among seed 7's first 10^4).
    int shared = 0;
    for (int i = 0; i < 1000; ++i) shared += seen.count(rng_bits(8, i)) != 0;
    CHECK(shared == 0);
}

TEST_CASE("tensor: uniform values lie in [0,1) on a 2^-24 grid; rng_uniform advances by 1") {
    const int n = 100000;
    double sum = 0.0;
    int outside = 0, off_grid = 0;
    for (int i = 0; i < n; ++i) {
        const float u = rng_uniform_at(3, i);
        sum += u;
        outside += !(u >= 0.0f && u < 1.0f);
        const double scaled = static_cast<double>(u) * 16777216.0;
        off_grid += scaled != std::floor(scaled);
    }
    CHECK(outside == 0);
    CHECK(off_grid == 0);
    // Mean of n uniforms: std sqrt(1/12/n) = 0.00091; allowed 0.005 (5.5 std).
    CHECK(std::fabs(sum / n - 0.5) < 0.005);

    Rng rng{3, 17};
    const float first = rng_uniform(rng);
    CHECK(rng.counter == 18);
    CHECK(rng.seed == 3);
    CHECK(first == rng_uniform_at(3, 17));  // value i of the stream: (seed, counter + i)
    CHECK(rng_uniform(rng) == rng_uniform_at(3, 18));
    CHECK(rng.counter == 19);
}

TEST_CASE("tensor: fill_uniform and fill_normal: range, moments, reproducibility") {
    Tensor u = empty({1000, 7});
    Rng r1{5, 0};
    fill_uniform(u, r1, -2.0f, 3.0f);
    CHECK(r1.counter >= 7000);  // the counter counts values drawn: at least one per element
    int outside = 0;
    for (double v : values(u)) outside += !(v >= -2.0 && v < 3.0);
    CHECK(outside == 0);

    const int64_t n = 100000;
    Tensor x = empty({n});
    Rng rng{2024, 0};
    fill_normal(x, rng, 0.0f, 1.0f);
    CHECK(rng.counter >= static_cast<uint64_t>(n));
    double s = 0.0, s2 = 0.0;
    int nonfinite = 0;
    for (double v : values(x)) {
        s += v;
        s2 += v * v;
        nonfinite += !std::isfinite(v);
    }
    CHECK(nonfinite == 0);
    const double mean = s / n, sd = std::sqrt(s2 / n - mean * mean);
    // Sample mean: std 1/sqrt(n) = 0.0032, allowed 0.016 (5 std). Sample std:
    // std ~1/sqrt(2n) = 0.0022, allowed 0.011 (5 std).
    CHECK_MESSAGE(std::fabs(mean) < 0.016, "mean " << mean);
    CHECK_MESSAGE(std::fabs(sd - 1.0) < 0.011, "std " << sd);
    // Tails: P(|z| > 3) = 0.0027, so ~270 of 10^5 (std ~16); allowed 190..350.
    int tail = 0;
    for (double v : values(x)) tail += std::fabs(v) > 3.0;
    CHECK_MESSAGE((tail > 190 && tail < 350), "values beyond 3 std: " << tail);

    // mean and stddev arguments: N(5, 0.5^2).
    Tensor y = empty({n});
    Rng ry{9, 0};
    fill_normal(y, ry, 5.0f, 0.5f);
    double ys = 0.0, ys2 = 0.0;
    for (double v : values(y)) ys += v, ys2 += v * v;
    const double ym = ys / n, ysd = std::sqrt(ys2 / n - ym * ym);
    CHECK(std::fabs(ym - 5.0) < 0.008);      // 5 std of 0.5/sqrt(n)
    CHECK(std::fabs(ysd - 0.5) < 0.0056);    // 5 std of 0.5/sqrt(2n)

    // Same seed and counter, same values; a different seed differs.
    Tensor a = empty({1001}), b = empty({1001}), c = empty({1001});
    Rng ra{77, 40}, rb{77, 40}, rc{78, 40};
    fill_normal(a, ra, 0.0f, 1.0f);
    fill_normal(b, rb, 0.0f, 1.0f);
    fill_normal(c, rc, 0.0f, 1.0f);
    CHECK(values(a) == values(b));
    CHECK(ra.counter == rb.counter);
    CHECK(values(a) != values(c));
    // The advanced rng continues with fresh values: no value of the previous
    // fill comes back (odd and even sizes, as Box-Muller pairs uniforms).
    for (int64_t n2 : {1000, 1001}) {
        Rng r{78, 3};
        Tensor prev = empty({n2}), next = empty({n2});
        fill_normal(prev, r, 0.0f, 1.0f);
        fill_normal(next, r, 0.0f, 1.0f);
        const Vec pv = values(prev);
        const std::set<double> seen(pv.begin(), pv.end());
        int repeats = 0;
        for (double v : values(next)) repeats += seen.count(v) != 0;
        CHECK_MESSAGE(repeats == 0, repeats << " values repeat after fill_normal of " << n2);
    }
}

TEST_CASE("tensor: fill_normal and fill_uniform do not depend on the OpenMP thread count") {
    const int previous = omp_get_max_threads();
    Tensor a = empty({3, 7, 4099}), b = empty({3, 7, 4099});
    Tensor ua = empty({100003}), ub = empty({100003});
    omp_set_num_threads(1);
    Rng r1{11, 3}, u1{12, 5};
    fill_normal(a, r1, 0.0f, 1.0f);
    fill_uniform(ua, u1, -1.0f, 1.0f);
    omp_set_num_threads(2);
    Rng r2{11, 3}, u2{12, 5};
    fill_normal(b, r2, 0.0f, 1.0f);
    fill_uniform(ub, u2, -1.0f, 1.0f);
    omp_set_num_threads(previous);
    ref::expect_identical(a, b, "fill_normal 1 vs 2 threads");
    ref::expect_identical(ua, ub, "fill_uniform 1 vs 2 threads");
    CHECK(r1.counter == r2.counter);
}

// ============================================================================
// BLAS and OpenMP information
// ============================================================================

TEST_CASE("tensor: blas_core_name, blas_num_threads, omp_threads") {
    const std::string core = blas_core_name();
    CHECK_FALSE(core.empty());
    MESSAGE("BLAS core: " << core << ", BLAS threads: " << blas_num_threads()
                          << ", OpenMP threads: " << omp_threads());
    CHECK(blas_num_threads() >= 1);
    CHECK(omp_threads() >= 1);
}

// OpenBLAS's OpenMP build takes OpenMP's thread count for a call made outside a
// parallel region; a product small enough to run on the calling thread must
// leave both counts as they were (else OpenBLAS splits it, and the sums depend
// on the thread count).
TEST_CASE("tensor: a small product on 2 OpenMP threads keeps OpenBLAS on one thread") {
    const int previous = omp_threads();
    set_num_threads(2);
    // 1.6 MFLOP: under our 2 MFLOP for splitting it, over OpenBLAS's own threshold for threads.
    Tensor a = full({384, 96}, 0.5f), b = full({96, 22}, 0.25f), out = empty({384, 22});
    matmul(out, a, b);
    CHECK(blas_num_threads() == 1);
    CHECK(omp_threads() == 2);
    CHECK(out.data[0] == doctest::Approx(12.0f));
    set_num_threads(previous);
}

}  // namespace
}  // namespace cg
