// bf16: the conversions (tensor/bf16.h) against hand-worked bit patterns and
// an independent rounding written with doubles, and gemm_bf16_on_this_thread
// (tensor/matmul_bf16.cpp) against a double product of the operands rounded
// to bf16. The product's tests need AVX512_BF16: without it they check the
// error and say what they skipped; the conversions run everywhere.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "tensor/bf16.h"
#include "tensor/kernels.h"
#include "tensor/rng.h"
#include "tests/helpers.h"

namespace cg {
namespace {

float float_of_bits(uint32_t bits) {
    float x;
    std::memcpy(&x, &bits, sizeof x);
    return x;
}
uint32_t bits_of(float x) {
    uint32_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    return bits;
}

// The nearest bf16 to a finite x, ties to the even mantissa, worked out from
// the two bf16 neighbours of x in double (no integer tricks): the reference
// for float_to_bf16 on random bit patterns.
uint16_t nearest_bf16(float x) {
    const uint32_t bits = bits_of(x);
    const uint16_t toward_zero = static_cast<uint16_t>(bits >> 16);
    const uint16_t away = static_cast<uint16_t>(toward_zero + 1);  // next magnitude up (may be infinity)
    const double lo = std::fabs(static_cast<double>(bf16_to_float(toward_zero)));
    // The step after the largest finite bf16 goes to 2^128, as if the exponent had no bound.
    const double hi = (away & 0x7fff) == 0x7f80 ? std::ldexp(1.0, 128) : std::fabs(static_cast<double>(bf16_to_float(away)));
    const double ax = std::fabs(static_cast<double>(x));
    if (ax - lo < hi - ax) return toward_zero;
    if (ax - lo > hi - ax) return away;
    return (toward_zero & 1) ? away : toward_zero;
}

TEST_CASE("bf16: float_to_bf16 on hand-worked bit patterns (ties to even both ways, overflow, subnormals, inf, NaN)") {
    struct Case {
        uint32_t in;
        uint16_t out;
        const char* why;
    };
    const Case cases[] = {
        {0x3f800000, 0x3f80, "1 is exact"},
        {0x3f808000, 0x3f80, "1 + 2^-8: a tie, down to the even 0x3f80"},
        {0x3f818000, 0x3f82, "a tie above the odd 0x3f81: up to the even 0x3f82"},
        {0x3f808001, 0x3f81, "just past the tie: up"},
        {0x3f807fff, 0x3f80, "just below the tie: down"},
        {0xbf808000, 0xbf80, "-(1 + 2^-8): a tie, to the even -0x3f80"},
        {0xbf818000, 0xbf82, "a negative tie above an odd mantissa: away from zero"},
        {0x3fffffff, 0x4000, "a carry out of the mantissa raises the exponent"},
        {0x7f7f7fff, 0x7f7f, "below the midpoint to 2^128: the largest finite bf16"},
        {0x7f7e8000, 0x7f7e, "a tie below the largest finite: to the even one"},
        {0x7f7f8000, 0x7f80, "the midpoint between the largest finite (odd) and 2^128: infinity, as IEEE rounds"},
        {0x7f7fffff, 0x7f80, "float's largest finite is past that midpoint: infinity"},
        {0xff7fffff, 0xff80, "and its negative: -infinity"},
        {0x7f800000, 0x7f80, "infinity stays"},
        {0xff800000, 0xff80, "-infinity stays"},
        {0x00000000, 0x0000, "+0"},
        {0x80000000, 0x8000, "-0"},
        {0x00000001, 0x0000, "the smallest subnormal float rounds to +0"},
        {0x00008000, 0x0000, "a subnormal tie: to the even 0"},
        {0x00018000, 0x0002, "a subnormal tie above the odd 0x0001: up"},
        {0x00008001, 0x0001, "past the tie: the smallest bf16 subnormal, not flushed"},
        {0x80008001, 0x8001, "its negative"},
        {0x007f7fff, 0x007f, "the largest bf16 subnormal"},
        {0x007fffff, 0x0080, "float's largest subnormal rounds up to the smallest normal"},
        {0x00800000, 0x0080, "the smallest normal is exact"},
    };
    for (const Case& c : cases) {
        INFO(c.why << ": 0x" << std::hex << c.in);
        CHECK(float_to_bf16(float_of_bits(c.in)) == c.out);
    }
}

TEST_CASE("bf16: float_to_bf16 keeps NaN a NaN, quiet, with its sign and high payload") {
    const uint32_t nans[] = {0x7fc00000, 0xffc00000, 0x7f800001, 0xff800001, 0x7f80ffff, 0x7fa00000, 0x7fffffff};
    for (uint32_t in : nans) {
        INFO("0x" << std::hex << in);
        const uint16_t out = float_to_bf16(float_of_bits(in));
        CHECK(std::isnan(bf16_to_float(out)));
        CHECK((out & 0x0040) != 0);               // quiet
        CHECK((out & 0x8000) == (in >> 16 & 0x8000));  // sign
        CHECK((out | 0x0040) == ((in >> 16) | 0x0040));  // the payload's top 7 bits
    }
}

TEST_CASE("bf16: every bf16 survives the round trip through float; random floats round as the double reference") {
    for (uint32_t h = 0; h <= 0xffff; h++) {
        const float x = bf16_to_float(static_cast<uint16_t>(h));
        CHECK(bits_of(x) == h << 16);  // exact widening
        if (std::isnan(x)) continue;
        if (float_to_bf16(x) != h) {
            FAIL_CHECK("bf16 0x" << std::hex << h << " came back as 0x" << float_to_bf16(x));
            break;
        }
    }
    int64_t bad = 0;
    for (uint64_t i = 0; i < 1000000; i++) {
        const float x = float_of_bits(static_cast<uint32_t>(rng_bits(7, i)));
        if (std::isnan(x)) continue;
        if (float_to_bf16(x) != nearest_bf16(x) && bad++ == 0)
            FAIL_CHECK("0x" << std::hex << bits_of(x) << " -> 0x" << float_to_bf16(x) << ", want 0x" << nearest_bf16(x));
    }
    CHECK(bad == 0);
}

TEST_CASE("bf16: the array conversions equal the scalar ones, on arrays large enough to run in parallel") {
    const int64_t n = 100003;
    std::vector<float> x(n), back(n);
    for (int64_t i = 0; i < n; i++) x[i] = float_of_bits(static_cast<uint32_t>(rng_bits(8, i)));
    x[0] = std::numeric_limits<float>::infinity();
    x[1] = float_of_bits(0x7f800001);  // a signalling NaN
    x[2] = float_of_bits(0x3f808000);
    std::vector<uint16_t> h(n);
    floats_to_bf16(h.data(), x.data(), n);
    bf16_to_floats(back.data(), h.data(), n);
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++)
        bad += h[i] != float_to_bf16(x[i]) || bits_of(back[i]) != static_cast<uint32_t>(h[i]) << 16;
    CHECK(bad == 0);
}

TEST_CASE("bf16: the CPU check names what is missing exactly when something is") {
    const std::string missing = bf16_missing_cpu_feature();
    CHECK(cpu_has_avx512_bf16() == missing.empty());
    MESSAGE("AVX512_BF16 products on this CPU: " << (missing.empty() ? "yes" : "no, it lacks " + missing));
}

// ---- the product ---------------------------------------------------------------

// The product's tests need the instruction. Without it, gemm_bf16 must say
// which feature is missing, and the test stops after saying it skipped.
bool product_runs_here() {
    if (cpu_has_avx512_bf16()) return true;
    const std::string message = error_of([] {
        float c = 0.0f, one = 1.0f;
        gemm_bf16_on_this_thread(false, false, 1, 1, 1, 1.0f, fp32_operand(&one, 1), fp32_operand(&one, 1), 0.0f,
                                 &c, 1);
    });
    CHECK(starts_with(message, "[gemm_bf16]"));
    CHECK(contains(message, bf16_missing_cpu_feature()));
    MESSAGE("skipped: this CPU lacks " << std::string(bf16_missing_cpu_feature()));
    return false;
}

// A row-major matrix (rows x cols, row stride ld > cols, so that ld is
// exercised) in fp32 and as bf16, with values of full 24-bit mantissas over a
// few binades.
struct Matrix {
    int64_t rows, cols, ld;
    std::vector<float> f;
    std::vector<uint16_t> h;
    Matrix(int64_t rows_, int64_t cols_, uint64_t seed) : rows(rows_), cols(cols_), ld(cols_ + 3) {
        f.assign(static_cast<size_t>(std::max<int64_t>(rows * ld, 1)), 0.0f);
        for (int64_t i = 0; i < rows * ld; i++) {
            const float u = rng_uniform_at(seed, 2 * i) * 2.0f - 1.0f;
            f[i] = std::ldexp(u, static_cast<int>(rng_bits(seed, 2 * i + 1) % 5) - 2);
        }
        h.resize(f.size());
        floats_to_bf16(h.data(), f.data(), static_cast<int64_t>(f.size()));
    }
    GemmOperand operand(bool as_bf16) const { return as_bf16 ? bf16_operand(h.data(), ld) : fp32_operand(f.data(), ld); }
    // op(this) (r, c): this matrix, or transposed, as its bf16 values.
    double rounded(bool transposed, int64_t r, int64_t c) const {
        return bf16_to_float(transposed ? h[c * ld + r] : h[r * ld + c]);
    }
};

// Where the tolerance comes from: each product of two bf16 is exact in fp32,
// and vdpbf16ps adds the two products of a pair one after the other, each
// addition rounded; so an element's sum of k products takes k roundings, plus
// one per k block joining the blocks (at most k / 2 of them), the alpha
// multiply and the beta term: under k + k/2 + 3 roundings, each within
// u = 2^-24 of the running magnitude, which is at most |alpha| sum |a b| +
// |beta c| (Higham, "Accuracy and Stability of Numerical Algorithms", 3.1).
// Doubled for slack: 2 (1.5 k + 3) u. bf16 operands would miss it by about
// 2^-9 of that sum, so an operand left unrounded fails.
void check_product(int m, int n, int k, bool ta, bool tb, bool a_bf16, bool b_bf16, float alpha, float beta,
                   uint64_t seed) {
    const Matrix a(ta ? k : m, ta ? m : k, seed), b(tb ? n : k, tb ? k : n, seed + 1);
    const int ldc = n + 5;
    std::vector<float> c(static_cast<size_t>(m) * ldc), c0;
    if (beta == 0.0f) {
        c.assign(c.size(), std::numeric_limits<float>::quiet_NaN());  // must be overwritten, not scaled
    } else {
        for (size_t i = 0; i < c.size(); i++) c[i] = rng_uniform_at(seed + 2, i) * 2.0f - 1.0f;
    }
    c0 = c;
    gemm_bf16_on_this_thread(ta, tb, m, n, k, alpha, a.operand(a_bf16), b.operand(b_bf16), beta, c.data(), ldc);
    std::ostringstream what;
    what << m << "x" << n << "x" << k << (ta ? " a^T" : " a") << (tb ? " b^T" : " b") << (a_bf16 ? " bf16" : " fp32")
         << (b_bf16 ? "/bf16" : "/fp32") << " alpha " << alpha << " beta " << beta;
    // op(a) (m, k) and op(b)^T (n, k) as doubles, rows along k
    std::vector<double> ra(static_cast<size_t>(m) * k), rbt(static_cast<size_t>(n) * k);
    for (int i = 0; i < m; i++)
        for (int r = 0; r < k; r++) ra[static_cast<size_t>(i) * k + r] = a.rounded(ta, i, r);
    for (int j = 0; j < n; j++)
        for (int r = 0; r < k; r++) rbt[static_cast<size_t>(j) * k + r] = b.rounded(tb, r, j);
    int64_t bad = 0;
    double worst = 0.0;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < ldc; j++) {
            const float got = c[static_cast<size_t>(i) * ldc + j], before = c0[static_cast<size_t>(i) * ldc + j];
            if (j >= n) {  // past n, c is not touched
                bad += std::memcmp(&got, &before, sizeof got) != 0;
                continue;
            }
            double sum = 0.0, magnitude = 0.0;
            const double* x = ra.data() + static_cast<size_t>(i) * k;
            const double* y = rbt.data() + static_cast<size_t>(j) * k;
            for (int r = 0; r < k; r++) {
                sum += x[r] * y[r];
                magnitude += std::fabs(x[r] * y[r]);
            }
            const double prior = beta == 0.0f ? 0.0 : static_cast<double>(beta) * before;
            const double want = alpha * sum + prior;
            const double tol = 2.0 * (1.5 * k + 3) * std::ldexp(1.0, -24) * (std::fabs(alpha) * magnitude + std::fabs(prior)) + 1e-30;
            const double err = std::fabs(got - want);
            if (!(err <= tol)) bad++;
            worst = std::max(worst, std::isnan(err) ? INFINITY : err / tol);
        }
    CHECK_MESSAGE(bad == 0, what.str() << ": " << bad << " elements out of tolerance, worst err/tol " << worst);
}

TEST_CASE("bf16: gemm_bf16 vs the double product of the rounded operands: odd shapes, transposes, beta, sources") {
    if (!product_runs_here()) return;
    // m x n x k
    const int small[][3] = {{1, 1, 1}, {7, 33, 65}, {130, 70, 3}, {64, 64, 64}, {13, 129, 1100}};
    uint64_t seed = 100;
    for (const auto& s : small)
        for (int t = 0; t < 4; t++)
            for (int sources = 0; sources < 4; sources++)
                for (float beta : {0.0f, 1.0f})
                    check_product(s[0], s[1], s[2], t & 1, t & 2, sources & 1, sources & 2, 1.0f, beta, seed++);
    // alpha and a beta other than 0 and 1, as attention's scores use them
    check_product(64, 64, 64, false, true, false, false, 0.125f, 0.0f, seed++);
    check_product(37, 50, 19, true, false, false, true, -0.5f, 2.0f, seed++);
}

TEST_CASE("bf16: gemm_bf16 on a large-ish product, 300x384x1152, each transpose combination") {
    if (!product_runs_here()) return;
    for (int t = 0; t < 4; t++)  // the sources and beta rotate, to keep the double reference short
        check_product(300, 384, 1152, t & 1, t & 2, t == 1 || t == 3, t >= 2, 1.0f, t % 2 ? 1.0f : 0.0f, 200 + t);
}

TEST_CASE("bf16: gemm_bf16's rows do not depend on the rows computed with them (split rows, same bits)") {
    if (!product_runs_here()) return;
    const int m = 130, n = 70, k = 1100;  // k in several blocks
    for (bool ta : {false, true}) {
        const Matrix a(ta ? k : m, ta ? m : k, 300), b(k, n, 301);
        std::vector<float> whole(static_cast<size_t>(m) * n), parts(whole.size());
        gemm_bf16_on_this_thread(ta, false, m, n, k, 1.0f, a.operand(false), b.operand(true), 0.0f, whole.data(), n);
        const int cuts[] = {0, 1, 38, 41, 130};
        for (int p = 0; p + 1 < 5; p++) {
            const int r0 = cuts[p], rows = cuts[p + 1] - cuts[p];
            const GemmOperand rows_of_a = fp32_operand(a.f.data() + (ta ? r0 : r0 * a.ld), a.ld);
            gemm_bf16_on_this_thread(ta, false, rows, n, k, 1.0f, rows_of_a, b.operand(true), 0.0f,
                                     parts.data() + static_cast<size_t>(r0) * n, n);
        }
        CHECK_MESSAGE(std::memcmp(whole.data(), parts.data(), whole.size() * sizeof(float)) == 0,
                      (ta ? "a^T" : "a") << ": rows computed in parts differ from the whole product");
    }
}

TEST_CASE("bf16: gemm_bf16 packs fp32 operands rounded as float_to_bf16, ties included (a product with I)") {
    if (!product_runs_here()) return;
    // x (45 x 77) with ties to even in both directions among random values;
    // I exact in bf16; x I and I x^T both reproduce bf16(x) exactly (every
    // other term is +-0). 77 values per row: two full 32-value groups and a tail.
    // vdpbf16ps takes subnormal inputs as 0, so of the subnormals only those
    // rounding up to the smallest normal show how they were rounded.
    const int rows = 45, cols = 77;
    Matrix x(rows, cols, 400);
    const uint32_t ties[] = {0x3f808000, 0x3f818000, 0xbf808000, 0xbf818000,
                             0x3fffffff, 0x40008000, 0x007fffff, 0x807f8000};
    for (int i = 0; i < rows; i++)
        for (int j = i % 3; j < cols; j += 3) x.f[i * x.ld + j] = float_of_bits(ties[(i + j) % 8]);
    auto identity = [](int size) {
        std::vector<uint16_t> id(static_cast<size_t>(size) * size, 0);
        for (int i = 0; i < size; i++) id[static_cast<size_t>(i) * size + i] = float_to_bf16(1.0f);
        return id;
    };
    const std::vector<uint16_t> id_cols = identity(cols), id_rows = identity(rows);
    std::vector<float> c(static_cast<size_t>(rows) * cols), ct(static_cast<size_t>(cols) * rows);
    // How many elements of the product (x, or x^T) are not bf16(x) bit for bit.
    const auto rounding_errors = [&](const std::vector<float>& product, bool transposed) {
        int64_t bad = 0;
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) {
                const float got = transposed ? product[static_cast<size_t>(j) * rows + i] : product[static_cast<size_t>(i) * cols + j];
                bad += bits_of(got) != static_cast<uint32_t>(float_to_bf16(x.f[i * x.ld + j])) << 16;
            }
        return bad;
    };
    for (bool tb : {false, true}) {  // I is symmetric: as b it may be read transposed
        gemm_bf16_on_this_thread(false, tb, rows, cols, cols, 1.0f, fp32_operand(x.f.data(), x.ld),
                                 bf16_operand(id_cols.data(), cols), 0.0f, c.data(), cols);
        CHECK_MESSAGE(rounding_errors(c, false) == 0, "x I, I read " << (tb ? "transposed" : "as is"));
    }
    // c^T (cols x rows) = I (cols x cols) x^T: x as a transposed b
    gemm_bf16_on_this_thread(false, true, cols, rows, cols, 1.0f, bf16_operand(id_cols.data(), cols),
                             fp32_operand(x.f.data(), x.ld), 0.0f, ct.data(), rows);
    CHECK_MESSAGE(rounding_errors(ct, true) == 0, "I x^T, x as a transposed b");
    // c^T = x^T I (rows x rows): x as a transposed a
    gemm_bf16_on_this_thread(true, false, cols, rows, rows, 1.0f, fp32_operand(x.f.data(), x.ld),
                             bf16_operand(id_rows.data(), rows), 0.0f, ct.data(), rows);
    CHECK_MESSAGE(rounding_errors(ct, true) == 0, "x^T I, x as a transposed a");
}

TEST_CASE("bf16: gemm_bf16 with k = 0 gives beta c (0 over NaN for beta 0); bad arguments throw [gemm_bf16]") {
    std::vector<float> c(6, std::numeric_limits<float>::quiet_NaN());
    const float one = 1.0f;
    gemm_bf16_on_this_thread(false, false, 2, 3, 0, 1.0f, fp32_operand(&one, 1), fp32_operand(&one, 3), 0.0f,
                             c.data(), 3);
    for (float v : c) CHECK(v == 0.0f);
    c.assign(6, 1.5f);
    gemm_bf16_on_this_thread(false, false, 2, 3, 0, 1.0f, fp32_operand(&one, 1), fp32_operand(&one, 3), 2.0f,
                             c.data(), 3);
    for (float v : c) CHECK(v == 3.0f);

    std::vector<float> a(64, 1.0f), b(64, 1.0f);
    const auto error = [&](int m, int n, int k, GemmOperand oa, GemmOperand ob, int ldc) {
        return error_of([&] { gemm_bf16_on_this_thread(false, false, m, n, k, 1.0f, oa, ob, 0.0f, c.data(), ldc); });
    };
    const std::string negative = error(-1, 2, 2, fp32_operand(a.data(), 2), fp32_operand(b.data(), 2), 2);
    CHECK(starts_with(negative, "[gemm_bf16]"));
    CHECK(contains(negative, "m -1"));
    const std::string short_ld = error(2, 3, 4, fp32_operand(a.data(), 3), fp32_operand(b.data(), 3), 3);
    CHECK(contains(short_ld, "a has ld 3 < its 4 columns"));
    CHECK(contains(error(2, 3, 2, fp32_operand(a.data(), 2), GemmOperand{}, 3), "b needs exactly one of fp32 and bf16"));
    CHECK(contains(error(2, 3, 2, fp32_operand(a.data(), 2), fp32_operand(b.data(), 3), 2), "ldc >= n = 3"));
}

}  // namespace
}  // namespace cg
