// The gradient test: one table, one row per op variant, each checked against
// central finite differences; then hand-worked cases for ties, where finite
// differences cannot decide, with the tie rule in the test's name.
//
// Method, for a row with inputs x and output y = f(x):
//   loss = sum_i w_i * y_i with fixed random weights w (never a plain sum: the
//   rows of a softmax always sum to 1, so a plain sum would hide a wrong
//   softmax gradient). Analytic: the same loss built from ops (mul by a
//   constant w, then sum), then backward(). Numerical: every element of every
//   input (a random sample of it in the large rows) is moved by +-eps, the
//   loss is evaluated in double from the float32 outputs, and
//   (loss+ - loss-) / (actual step) is compared with the analytic gradient:
//   |analytic - numeric| <= atol + rtol * |numeric|.
//
// Adding an op: add its enum entry (autograd/graph.h), then a GRAD_ROW here;
// "every op has a gradient test" fails until the row exists.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <functional>
#include <iterator>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/composed.h"
#include "autograd/graph.h"
#include "autograd/ops.h"
#include "autograd/unary.h"
#include "tests/grad_check.h"

namespace cg {
namespace {

using Vars = std::vector<Var>;

// Step of the central difference. float32 has 24 bits, so each output carries
// a rounding error of about 6e-8 relative; dividing by the step 2 * eps = 0.02
// turns that into ~3e-6 relative noise per output the perturbed input touches.
// A smaller eps would amplify the noise, a larger one the truncation error.
constexpr float kEps = 1e-2f;

struct Tolerance {
    double atol;
    double rtol;
};
// Ops that are linear (or piecewise linear away from ties) in each input: the
// central difference has no truncation error, only rounding noise. An output
// that sums K float32 products carries ~sqrt(K) * 6e-8 * |y| of it; divided by
// the step, matmul with K = 65 and |y| ~ 8 gives ~2e-4 (the worst seen in
// these rows); element-wise ops stay near 1e-5. Hence atol 1e-3, rtol 1e-3.
constexpr Tolerance kLinear{1e-3, 1e-3};
// Curved ops (gelu, layer_norm, softmax, cross-entropy, products of an input
// with itself): the central difference adds a truncation error of
// eps^2 / 6 * |f'''| ~ 2e-5 * |f'''|. |f'''| reaches ~100 in layer_norm rows
// whose values have a small spread (it grows like rstd^3: the C = 3 row is
// off by 3e-3 at a gradient of 3.9) and ~30 in gelu with wide inputs (7e-4),
// hence the larger relative part. A wrong backward is off by O(0.1 - 1).
constexpr Tolerance kCurved{2e-3, 1e-2};

// An input generator: n values for all the differentiable inputs of a row
// (drawn jointly, so "distinct" holds across inputs too).
using Generator = std::vector<float> (*)(int64_t n, std::mt19937& gen);

std::vector<float> normal(int64_t n, std::mt19937& gen) { return normal_values(n, gen); }
// Tie-free: any two values at least 0.1 apart, more than 2 * kEps, so the
// perturbation never changes which element a max/min picks.
std::vector<float> distinct(int64_t n, std::mt19937& gen) { return distinct_values(n, gen, 0.1f); }
// Logits near 100: exp(100) overflows float32, so the forward must subtract the
// row max (log-sum-exp) to stay finite.
// For a divisor: |x| >= 0.5, so 1 / x stays tame within +-eps.
std::vector<float> away_from_zero(int64_t n, std::mt19937& gen) {
    std::vector<float> v = normal_values(n, gen);
    for (float& x : v) x += x < 0 ? -0.5f : 0.5f;
    return v;
}
std::vector<float> near_100(int64_t n, std::mt19937& gen) {
    std::vector<float> v = normal_values(n, gen);
    for (float& x : v) x += 100.0f;
    return v;
}

struct GradRow {
    Op op;
    std::string what;
    std::vector<Shape> shapes;  // of the differentiable inputs, in order
    Generator generate;
    std::function<Var(const Vars&)> build;  // the output from the inputs
    Tolerance tol;
    // 0: perturb every element. Otherwise at most this many elements of each
    // input, drawn at random: for the rows large enough to take the kernels'
    // OpenMP paths, where checking every element would cost too much.
    int64_t sample = 0;
    Domain domain = Domain::real;  // where `generate` is null: draw for this domain
};
std::vector<float> for_domain(Domain domain, int64_t n, std::mt19937& gen);

// The elements of an input of n elements that a row perturbs.
std::vector<int64_t> elements_to_check(int64_t n, int64_t sample, std::mt19937& gen) {
    std::vector<int64_t> all(static_cast<size_t>(n));
    std::iota(all.begin(), all.end(), 0);
    if (sample == 0 || sample >= n) return all;
    std::vector<int64_t> some;
    std::sample(all.begin(), all.end(), std::back_inserter(some), sample, gen);
    return some;
}

// The table. A deque: references to rows stay valid as rows are added.
std::deque<GradRow>& grad_table() {
    static std::deque<GradRow> table;
    return table;
}
const GradRow& add_row(GradRow row) {
    grad_table().push_back(std::move(row));
    return grad_table().back();
}

// Evaluates sum_i w_i * y_i in double from the float32 outputs.
double weighted_loss(const Var& y, const std::vector<float>& w) {
    const std::vector<float> values = values_of(y.value);
    double loss = 0.0;
    for (size_t i = 0; i < values.size(); ++i) loss += double(w[i]) * double(values[i]);
    return loss;
}

void check_gradients(const GradRow& row) {
    std::mt19937 gen(1234);
    int64_t total = 0;
    for (const Shape& s : row.shapes) total += s.numel();
    const std::vector<float> drawn = row.generate ? row.generate(total, gen) : for_domain(row.domain, total, gen);

    std::vector<Parameter> params;
    int64_t offset = 0;
    for (size_t i = 0; i < row.shapes.size(); ++i) {
        const Shape& s = row.shapes[i];
        params.push_back(make_parameter("x" + std::to_string(i), from_data(s, drawn.data() + offset)));
        offset += s.numel();
    }
    Vars inputs;
    for (const Parameter& p : params) inputs.push_back(p.var());

    // Analytic: loss = sum(y * w) through the ops, then backward().
    const Var y = row.build(inputs);
    const std::vector<float> w = normal_values(y.value.numel(), gen);
    backward(sum(mul(y, constant(tensor_of(y.shape(), w)))));
    REQUIRE(tape_size() == 0);

    // Numerical: central differences, no graph recorded.
    NoGrad no_grad;
    for (size_t i = 0; i < params.size(); ++i) {
        Parameter& p = params[i];
        const Tensor& grad = p.grad();
        const bool has_grad = grad.defined();
        if (has_grad) {
            REQUIRE_MESSAGE(grad.shape == p.value.shape, "gradient of input " << i << " has shape "
                                                                             << grad.shape.str());
        }
        const std::vector<float> analytic =
            has_grad ? values_of(grad) : std::vector<float>(size_t(p.value.numel()), 0.0f);

        const std::vector<int64_t> checked = elements_to_check(p.value.numel(), row.sample, gen);
        int mismatches = 0;
        double worst = -1.0;
        std::ostringstream worst_text;
        for (int64_t j : checked) {
            float& x = p.value.data[j];  // parameters are contiguous
            const float original = x;
            x = original + kEps;
            const double up = x;
            const double loss_up = weighted_loss(row.build(inputs), w);
            x = original - kEps;
            const double down = x;
            const double loss_down = weighted_loss(row.build(inputs), w);
            x = original;
            const double numeric = (loss_up - loss_down) / (up - down);
            const double error = std::fabs(double(analytic[j]) - numeric);
            const double allowed = row.tol.atol + row.tol.rtol * std::fabs(numeric);
            if (!(error <= allowed)) ++mismatches;  // NaN counts as a mismatch
            if (!(error <= worst)) {
                worst = error;
                worst_text.str("");
                worst_text << "element " << j << ": analytic " << analytic[j] << ", numeric "
                           << numeric << ", allowed " << allowed;
            }
        }
        std::ostringstream what;
        what << (row.op == Op::unary ? "unary" : op_name(row.op)) << " (" << row.what << "), input " << i << " "
             << p.value.shape.str() << ": " << mismatches << " of " << checked.size()
             << " elements off; worst " << worst_text.str();
        CHECK_MESSAGE(mismatches == 0, what.str());
    }
}

// One row: registers it in the table (so "every op has a gradient test" sees
// it even when only that test runs) and makes it a test case named
// "grad: <op> (<what>)", selectable with -tc="grad*".
#define GRAD_CAT2(a, b) a##b
#define GRAD_CAT(a, b) GRAD_CAT2(a, b)
#define GRAD_ROW(OP, WHAT, ...) GRAD_ROW_N(__COUNTER__, OP, WHAT, __VA_ARGS__)
#define GRAD_ROW_N(N, OP, WHAT, ...)                                                           \
    const GradRow& GRAD_CAT(grad_row_, N) = add_row(GradRow{Op::OP, WHAT, __VA_ARGS__});      \
    TEST_CASE("grad: " #OP " (" WHAT ")") { check_gradients(GRAD_CAT(grad_row_, N)); }

// Token ids used by the embedding and cross-entropy rows; ids repeat so the
// scatter-add of the embedding backward must accumulate.
// 1 at every third element, 0 elsewhere: the mask of the where rows.
Tensor checkered_mask(const Shape& s) {
    Tensor m = zeros(s);
    for (int64_t i = 0; i < m.numel(); i += 3) m.data[i] = 1.0f;
    return m;
}

Ids repeated_ids_3x7() {  // (3, 7), values in [0, 7)
    return make_ids({3, 7}, {0, 6, 3, 3, 1, 6, 0,  //
                             2, 2, 2, 5, 4, 0, 6,  //
                             6, 1, 3, 0, 5, 5, 4});
}
Ids targets_3x7_v5() {  // (3, 7), values in [0, 5)
    return make_ids({3, 7}, {0, 4, 3, 3, 1, 2, 0,  //
                             2, 2, 4, 1, 4, 0, 3,  //
                             4, 1, 3, 0, 2, 2, 1});
}

// The mask of the dropout rows: every forward starts from this same state, so
// the finite differences see the same mask as the analytic pass.
constexpr Rng kDropoutRng{42, 1000};

// ---- the table -------------------------------------------------------------
// GRAD_ROW(op, what, {input shapes}, generator, build, tolerance[, sample])

// arith
GRAD_ROW(add, "equal shapes", {{3, 7, 5}, {3, 7, 5}}, normal,
         [](const Vars& x) { return add(x[0], x[1]); }, kLinear)
GRAD_ROW(add, "bias broadcast", {{3, 7, 5}, {5}}, normal,
         [](const Vars& x) { return add(x[0], x[1]); }, kLinear)
GRAD_ROW(add, "bias broadcast, C=65", {{1, 3, 65}, {65}}, normal,
         [](const Vars& x) { return add(x[0], x[1]); }, kLinear)
GRAD_ROW(add, "trailing two dims broadcast", {{3, 7, 5}, {7, 5}}, normal,
         [](const Vars& x) { return add(x[0], x[1]); }, kLinear)
GRAD_ROW(add, "x + x, one input used twice", {{1, 7, 3}}, normal,
         [](const Vars& x) { return add(x[0], x[0]); }, kLinear)
GRAD_ROW(sub, "equal shapes", {{3, 65, 1}, {3, 65, 1}}, normal,
         [](const Vars& x) { return sub(x[0], x[1]); }, kLinear)
GRAD_ROW(sub, "bias broadcast", {{1, 7, 3}, {3}}, normal,
         [](const Vars& x) { return sub(x[0], x[1]); }, kLinear)
GRAD_ROW(sub, "x - x, contributions cancel", {{3, 7}}, normal,
         [](const Vars& x) { return sub(x[0], x[0]); }, kLinear)
GRAD_ROW(mul, "equal shapes", {{3, 7, 5}, {3, 7, 5}}, normal,
         [](const Vars& x) { return mul(x[0], x[1]); }, kLinear)
GRAD_ROW(mul, "bias broadcast", {{3, 7, 5}, {5}}, normal,
         [](const Vars& x) { return mul(x[0], x[1]); }, kLinear)
GRAD_ROW(mul, "x * x, one input used twice", {{7, 65}}, normal,
         [](const Vars& x) { return mul(x[0], x[0]); }, kCurved)
GRAD_ROW(scale, "by -1.7", {{3, 7, 5}}, normal,
         [](const Vars& x) { return scale(x[0], -1.7f); }, kLinear)
GRAD_ROW(maximum, "tie-free", {{3, 7, 5}, {3, 7, 5}}, distinct,
         [](const Vars& x) { return maximum(x[0], x[1]); }, kLinear)
GRAD_ROW(minimum, "tie-free", {{3, 7, 5}, {3, 7, 5}}, distinct,
         [](const Vars& x) { return minimum(x[0], x[1]); }, kLinear)
GRAD_ROW(where, "a checkered mask", {{3, 7, 5}, {3, 7, 5}}, normal,
         [](const Vars& x) { return where(checkered_mask(x[0].shape()), x[0], x[1]); }, kLinear)
GRAD_ROW(where, "where(m, x, x), one input used twice", {{7, 5}}, normal,
         [](const Vars& x) { return where(checkered_mask(x[0].shape()), x[0], x[0]); }, kLinear)
GRAD_ROW(div, "equal shapes, b away from 0", {{3, 7, 5}, {3, 7, 5}}, away_from_zero,
         [](const Vars& x) { return div(x[0], x[1]); }, kCurved)
GRAD_ROW(div, "bias broadcast, C=65", {{1, 3, 65}, {65}}, away_from_zero,
         [](const Vars& x) { return div(x[0], x[1]); }, kCurved)
GRAD_ROW(div, "x / x, one input used twice", {{7, 3}}, away_from_zero,
         [](const Vars& x) { return div(x[0], x[0]); }, kCurved)
GRAD_ROW(add_scalar, "plus 2.5", {{3, 7, 5}}, normal,
         [](const Vars& x) { return add_scalar(x[0], 2.5f); }, kLinear)

// matmul
GRAD_ROW(matmul, "2-D", {{7, 65}, {65, 3}}, normal,
         [](const Vars& x) { return matmul(x[0], x[1]); }, kLinear)
GRAD_ROW(matmul, "batched 4-D", {{3, 1, 7, 5}, {3, 1, 5, 3}}, normal,
         [](const Vars& x) { return matmul(x[0], x[1]); }, kLinear)
GRAD_ROW(matmul, "3-D @ 2-D", {{3, 7, 65}, {65, 3}}, normal,
         [](const Vars& x) { return matmul(x[0], x[1]); }, kLinear)
GRAD_ROW(matmul, "transposed a", {{5, 7}, {5, 3}}, normal,
         [](const Vars& x) { return matmul(transpose(x[0], -2, -1), x[1]); }, kLinear)
GRAD_ROW(matmul, "transposed b", {{7, 5}, {3, 5}}, normal,
         [](const Vars& x) { return matmul(x[0], transpose(x[1], -2, -1)); }, kLinear)
GRAD_ROW(matmul, "both transposed", {{5, 7}, {1, 5}}, normal,
         [](const Vars& x) { return matmul(transpose(x[0], 0, 1), transpose(x[1], 0, 1)); },
         kLinear)
GRAD_ROW(matmul, "batched 4-D q @ k^T", {{1, 3, 7, 5}, {1, 3, 7, 5}}, normal,
         [](const Vars& x) { return matmul(x[0], transpose(x[1], -2, -1)); }, kLinear)
GRAD_ROW(matmul, "3-D @ transposed 2-D (tied lm_head)", {{3, 7, 5}, {65, 5}}, normal,
         [](const Vars& x) { return matmul(x[0], transpose(x[1], 0, 1)); }, kLinear)
GRAD_ROW(linear, "(3,7,65) @ W (5,65)^T + b", {{3, 7, 65}, {5, 65}, {5}}, normal,
         [](const Vars& x) { return linear(x[0], x[1], x[2]); }, kLinear)
GRAD_ROW(linear, "no bias, 2-D", {{7, 3}, {1, 3}}, normal,
         [](const Vars& x) { return linear(x[0], x[1], Var{}); }, kLinear)
GRAD_ROW(linear, "tied: x = W's rows, used as input and weight", {{5, 3}}, normal,
         [](const Vars& x) { return linear(x[0], x[0], Var{}); }, kCurved)
GRAD_ROW(matmul, "x @ x^T, one input used twice", {{7, 5}}, normal,
         [](const Vars& x) { return matmul(x[0], transpose(x[0], 0, 1)); }, kCurved)

// views
GRAD_ROW(reshape, "(3,7,5) to (21,5)", {{3, 7, 5}}, normal,
         [](const Vars& x) { return reshape(x[0], {21, 5}); }, kLinear)
GRAD_ROW(reshape, "with a -1 dim", {{3, 65, 1}}, normal,
         [](const Vars& x) { return reshape(x[0], {-1, 5, 3}); }, kLinear)
GRAD_ROW(reshape, "of a transposed view (copies)", {{3, 7, 5}}, normal,
         [](const Vars& x) { return reshape(transpose(x[0], 0, 1), {7, 15}); }, kLinear)
GRAD_ROW(transpose, "dims 0 and 2", {{3, 7, 5}}, normal,
         [](const Vars& x) { return transpose(x[0], 0, 2); }, kLinear)
GRAD_ROW(transpose, "dims -2 and -1 of 4-D", {{1, 3, 7, 5}}, normal,
         [](const Vars& x) { return transpose(x[0], -2, -1); }, kLinear)
GRAD_ROW(permute, "(B,T,NH,HS) to (B,NH,T,HS)", {{1, 7, 3, 5}}, normal,
         [](const Vars& x) { return permute(x[0], {0, 2, 1, 3}); }, kLinear)
GRAD_ROW(permute, "3-D rotation (2,0,1)", {{3, 7, 5}}, normal,
         [](const Vars& x) { return permute(x[0], {2, 0, 1}); }, kLinear)
GRAD_ROW(slice, "along T", {{3, 65, 5}}, normal,
         [](const Vars& x) { return slice(x[0], 1, 3, 7); }, kLinear)
GRAD_ROW(slice, "along C (like q, k, v from qkv)", {{3, 7, 5}}, normal,
         [](const Vars& x) { return slice(x[0], 2, 1, 3); }, kLinear)
GRAD_ROW(slice, "two slices of one input", {{3, 7, 5}}, normal,
         [](const Vars& x) { return mul(slice(x[0], 2, 0, 3), slice(x[0], 2, 2, 3)); }, kCurved)
GRAD_ROW(contiguous, "of a transposed view", {{3, 7, 5}}, normal,
         [](const Vars& x) { return contiguous(transpose(x[0], 0, 1)); }, kLinear)
GRAD_ROW(contiguous, "of a contiguous tensor (no copy)", {{3, 7, 5}}, normal,
         [](const Vars& x) { return contiguous(x[0]); }, kLinear)
GRAD_ROW(contiguous, "of a slice", {{3, 7, 5}}, normal,
         [](const Vars& x) { return contiguous(slice(x[0], 1, 2, 3)); }, kLinear)

// reductions
GRAD_ROW(sum, "of (3,7,5)", {{3, 7, 5}}, normal,
         [](const Vars& x) { return sum(x[0]); }, kLinear)
GRAD_ROW(sum, "of a transposed view", {{3, 7, 5}}, normal,
         [](const Vars& x) { return sum(transpose(x[0], 0, 2)); }, kLinear)
GRAD_ROW(mean, "of (3,65,1)", {{3, 65, 1}}, normal,
         [](const Vars& x) { return mean(x[0]); }, kLinear)
GRAD_ROW(row_sum, "(3,7,5) to (3,7,1)", {{3, 7, 5}}, normal,
         [](const Vars& x) { return row_sum(x[0]); }, kLinear)
GRAD_ROW(row_sum, "C=65, 2-D", {{7, 65}}, normal,
         [](const Vars& x) { return row_sum(x[0]); }, kLinear)
GRAD_ROW(expand_last, "(3,7,1) to (3,7,5)", {{3, 7, 1}}, normal,
         [](const Vars& x) { return expand_last(x[0], 5); }, kLinear)
GRAD_ROW(expand_last, "x - mean(x) over rows, x used twice", {{7, 5}}, normal,
         [](const Vars& x) { return sub(x[0], expand_last(scale(row_sum(x[0]), 0.2f), 5)); }, kLinear)

// embedding
GRAD_ROW(embedding, "repeated ids", {{7, 5}}, normal,
         [](const Vars& x) { return embedding(x[0], repeated_ids_3x7()); }, kLinear)
GRAD_ROW(embedding, "V=65", {{65, 3}}, normal,
         [](const Vars& x) { return embedding(x[0], make_ids({1, 7}, {64, 0, 64, 12, 3, 12, 64})); },
         kLinear)
GRAD_ROW(embedding, "tied with the output matmul (wte and lm_head)", {{7, 5}}, normal,
         [](const Vars& x) {
             const Var h = embedding(x[0], make_ids({1, 3}, {2, 6, 2}));  // (1,3,5)
             return matmul(h, transpose(x[0], 0, 1));                    // (1,3,7)
         },
         kCurved)

// layer_norm
GRAD_ROW(layer_norm, "with bias", {{3, 7, 5}, {5}, {5}}, normal,
         [](const Vars& x) { return layer_norm(x[0], x[1], x[2]); }, kCurved)
GRAD_ROW(layer_norm, "without bias", {{3, 7, 5}, {5}}, normal,
         [](const Vars& x) { return layer_norm(x[0], x[1], Var{}); }, kCurved)
GRAD_ROW(layer_norm, "C=65", {{1, 3, 65}, {65}, {65}}, normal,
         [](const Vars& x) { return layer_norm(x[0], x[1], x[2]); }, kCurved)
GRAD_ROW(layer_norm, "2-D input, C=3", {{7, 3}, {3}, {3}}, normal,
         [](const Vars& x) { return layer_norm(x[0], x[1], x[2]); }, kCurved)

// dropout: the Rng is copied before every forward, so every evaluation uses
// the same mask.
GRAD_ROW(dropout, "training, p=0.3, fixed Rng", {{3, 7, 5}}, normal,
         [](const Vars& x) {
             Rng rng = kDropoutRng;
             return dropout(x[0], 0.3f, true, rng);
         },
         kLinear)
GRAD_ROW(dropout, "evaluation (identity)", {{3, 7, 5}}, normal,
         [](const Vars& x) {
             Rng rng = kDropoutRng;
             return dropout(x[0], 0.3f, false, rng);
         },
         kLinear)

// softmax and cross-entropy
GRAD_ROW(causal_softmax, "(B,NH,T,T) = (1,3,7,7), scale 0.5", {{1, 3, 7, 7}}, normal,
         [](const Vars& x) { return causal_softmax(x[0], 0.5f); }, kCurved)
GRAD_ROW(causal_softmax, "(3,7,7), scale 1/sqrt(3)", {{3, 7, 7}}, normal,
         [](const Vars& x) { return causal_softmax(x[0], 1.0f / std::sqrt(3.0f)); }, kCurved)
GRAD_ROW(causal_attention, "fused, (B,T,3C) = (3,7,3*6), 2 heads of 3", {{3, 7, 18}}, normal,
         [](const Vars& x) { return causal_attention(x[0], 2); }, kCurved)
GRAD_ROW(causal_attention, "fused, T=1, 1 head of 5", {{2, 1, 15}}, normal,
         [](const Vars& x) { return causal_attention(x[0], 1); }, kCurved)
GRAD_ROW(causal_attention, "fused, T=65 crosses query blocks and key tiles, 3 heads of 1", {{1, 65, 9}}, normal,
         [](const Vars& x) { return causal_attention(x[0], 3); }, kCurved, 64)
GRAD_ROW(causal_softmax, "T=1", {{3, 1, 1, 1}}, normal,
         [](const Vars& x) { return causal_softmax(x[0], 1.0f); }, kCurved)
GRAD_ROW(causal_softmax, "scores from q @ k^T", {{1, 3, 7, 5}}, normal,
         [](const Vars& x) {
             return causal_softmax(matmul(x[0], transpose(x[0], -2, -1)), 1.0f / std::sqrt(5.0f));
         },
         kCurved)
GRAD_ROW(cross_entropy, "(B,T,V) = (3,7,5)", {{3, 7, 5}}, normal,
         [](const Vars& x) { return cross_entropy(x[0], targets_3x7_v5()); }, kCurved)
GRAD_ROW(cross_entropy, "(N,V) = (7,65)", {{7, 65}}, normal,
         [](const Vars& x) {
             return cross_entropy(x[0], make_ids({7}, {0, 64, 31, 64, 7, 1, 50}));
         },
         kCurved)
GRAD_ROW(cross_entropy, "logits near 100", {{3, 7, 5}}, near_100,
         [](const Vars& x) { return cross_entropy(x[0], targets_3x7_v5()); }, kCurved)

// sequence ops along T of (B, T, C)
GRAD_ROW(shift, "(3,7,5)", {{3, 7, 5}}, normal,
         [](const Vars& x) { return shift(x[0]); }, kLinear)
GRAD_ROW(shift, "(1,65,3)", {{1, 65, 3}}, normal,
         [](const Vars& x) { return shift(x[0]); }, kLinear)
GRAD_ROW(shift, "T=1", {{3, 1, 5}}, normal,
         [](const Vars& x) { return shift(x[0]); }, kLinear)
GRAD_ROW(pair_max, "tie-free (3,7,5)", {{3, 7, 5}}, distinct,
         [](const Vars& x) { return pair_max(x[0]); }, kLinear)
GRAD_ROW(pair_max, "tie-free (1,65,3)", {{1, 65, 3}}, distinct,
         [](const Vars& x) { return pair_max(x[0]); }, kLinear)
GRAD_ROW(pair_min, "tie-free (3,7,5)", {{3, 7, 5}}, distinct,
         [](const Vars& x) { return pair_min(x[0]); }, kLinear)
GRAD_ROW(pair_min, "tie-free (1,65,3)", {{1, 65, 3}}, distinct,
         [](const Vars& x) { return pair_min(x[0]); }, kLinear)
GRAD_ROW(pair_mean, "(3,7,5)", {{3, 7, 5}}, normal,
         [](const Vars& x) { return pair_mean(x[0]); }, kLinear)
GRAD_ROW(pair_mean, "T=1", {{3, 1, 5}}, normal,
         [](const Vars& x) { return pair_mean(x[0]); }, kLinear)
GRAD_ROW(scan_max, "tie-free (3,7,5)", {{3, 7, 5}}, distinct,
         [](const Vars& x) { return scan_max(x[0]); }, kLinear)
GRAD_ROW(scan_max, "tie-free (1,65,3)", {{1, 65, 3}}, distinct,
         [](const Vars& x) { return scan_max(x[0]); }, kLinear)
GRAD_ROW(scan_min, "tie-free (3,7,5)", {{3, 7, 5}}, distinct,
         [](const Vars& x) { return scan_min(x[0]); }, kLinear)
GRAD_ROW(scan_min, "tie-free (1,65,3)", {{1, 65, 3}}, distinct,
         [](const Vars& x) { return scan_min(x[0]); }, kLinear)
GRAD_ROW(avg, "(3,7,5)", {{3, 7, 5}}, normal,
         [](const Vars& x) { return avg(x[0]); }, kLinear)
GRAD_ROW(avg, "(1,65,3)", {{1, 65, 3}}, normal,
         [](const Vars& x) { return avg(x[0]); }, kLinear)
GRAD_ROW(avg, "T=1", {{3, 1, 5}}, normal,
         [](const Vars& x) { return avg(x[0]); }, kLinear)
GRAD_ROW(gavg, "(3,7,5)", {{3, 7, 5}}, normal,
         [](const Vars& x) { return gavg(x[0]); }, kLinear)
GRAD_ROW(gavg, "(1,65,3)", {{1, 65, 3}}, normal,
         [](const Vars& x) { return gavg(x[0]); }, kLinear)
// linear_scan's decays are drawn in (0.1, 0.9): the second input goes through sigmoid.
GRAD_ROW(linear_scan, "(3,7,5), decays in (0,1)", {{3, 7, 5}, {5}}, normal,
         [](const Vars& x) { return linear_scan(x[0], sigmoid(x[1])); }, kCurved)
GRAD_ROW(linear_scan, "(1,65,3)", {{1, 65, 3}, {3}}, normal,
         [](const Vars& x) { return linear_scan(x[0], sigmoid(x[1])); }, kCurved)
GRAD_ROW(linear_scan, "T=1", {{3, 1, 5}, {5}}, normal,
         [](const Vars& x) { return linear_scan(x[0], sigmoid(x[1])); }, kCurved)
GRAD_ROW(linear_scan, "x also scaled by its decays (ema)", {{2, 7, 3}, {3}}, normal,
         [](const Vars& x) { return linear_scan(mul(x[0], sigmoid(scale(x[1], -1.0f))), sigmoid(x[1])); }, kCurved)

// The same ops at sizes above the kernels' OpenMP thresholds (16384 elements,
// 8192 for softmax and cross-entropy), where the backward loops run in
// parallel: a race in a scatter-add or in a sum over rows (the embedding
// backward, layer_norm's dweight and dbias, a bias gradient, the scans) shows
// here. (B, T, C) = (4, 65, 65); a random sample of each input is perturbed.
Ids ids_4x65() {  // (4, 65), each of the 65 ids four times
    std::vector<int> v(4 * 65);
    for (int i = 0; i < 4 * 65; ++i) v[size_t(i)] = (i * 7) % 65;
    return make_ids({4, 65}, v);
}
GRAD_ROW(add, "parallel path: bias broadcast over (4,65,65)", {{4, 65, 65}, {65}}, normal,
         [](const Vars& x) { return add(x[0], x[1]); }, kLinear, 64)
GRAD_ROW(mul, "parallel path: bias broadcast over (4,65,65)", {{4, 65, 65}, {65}}, normal,
         [](const Vars& x) { return mul(x[0], x[1]); }, kLinear, 64)
GRAD_ROW(embedding, "parallel path: (65,65) table, (4,65) repeated ids", {{65, 65}}, normal,
         [](const Vars& x) { return embedding(x[0], ids_4x65()); }, kLinear, 64)
GRAD_ROW(layer_norm, "parallel path: (4,65,65)", {{4, 65, 65}, {65}, {65}}, normal,
         [](const Vars& x) { return layer_norm(x[0], x[1], x[2]); }, kCurved, 64)
GRAD_ROW(causal_softmax, "parallel path: (1,3,65,65)", {{1, 3, 65, 65}}, normal,
         [](const Vars& x) { return causal_softmax(x[0], 0.125f); }, kCurved, 64)
GRAD_ROW(cross_entropy, "parallel path: (4,65,65)", {{4, 65, 65}}, normal,
         [](const Vars& x) { return cross_entropy(x[0], ids_4x65()); }, kCurved, 64)
GRAD_ROW(scan_max, "parallel path: tie-free (4,65,65)", {{4, 65, 65}}, distinct,
         [](const Vars& x) { return scan_max(x[0]); }, kLinear, 64)
GRAD_ROW(avg, "parallel path: (4,65,65)", {{4, 65, 65}}, normal,
         [](const Vars& x) { return avg(x[0]); }, kLinear, 64)
GRAD_ROW(linear_scan, "parallel path: (4,65,65)", {{4, 65, 65}, {65}}, normal,
         [](const Vars& x) { return linear_scan(x[0], sigmoid(x[1])); }, kCurved, 64)

// Every row of autograd/unary.cpp, at odd shapes and above the OpenMP
// threshold, with inputs drawn where the op is smooth: a new row is checked
// without an edit here.
std::vector<float> for_domain(Domain domain, int64_t n, std::mt19937& gen) {
    std::vector<float> v = normal_values(n, gen);
    for (float& x : v) {
        if (domain == Domain::real) x *= 2.0f;                                // wide: both tails of exp, gelu, tanh
        if (domain == Domain::positive) x = std::fabs(x) * 2.0f + 0.2f;       // log, sqrt
        if (domain == Domain::nonzero) x += x < 0 ? -0.05f : 0.05f;           // relu: the kink stays beyond +-eps
    }
    return v;
}
const bool kUnaryRows = [] {
    for (const UnaryOp* op : unary_ops()) {
        for (const Shape& shape : {Shape{3, 7, 5}, Shape{1, 65, 3}, Shape{4, 65, 65}}) {
            GradRow row{Op::unary, std::string(op->name) + " " + shape.str(), {shape}, nullptr,
                        [op](const Vars& x) { return unary(*op, x[0]); }, kCurved, shape.numel() > 10000 ? 64 : 0};
            row.domain = op->domain;
            add_row(std::move(row));
        }
    }
    return true;
}();
TEST_CASE("grad: every row of the unary table (autograd/unary.cpp)") {
    for (const GradRow& row : grad_table())
        if (row.op == Op::unary) {
            CAPTURE(row.what);
            check_gradients(row);
        }
}

TEST_CASE("grad: every op has a gradient test") {
    for (int i = 0; i < static_cast<int>(Op::count); ++i) {
        const Op op = static_cast<Op>(i);
        bool found = false;
        for (const GradRow& row : grad_table()) found = found || row.op == op;
        CHECK_MESSAGE(found, "no gradient test row for op " << std::string(op_name(op)));
    }
}

// ---- fused equals composed ---------------------------------------------------
// Each fused op against the same formula written with primitives
// (autograd/composed.h, and the `composed` of a unary row): forward values and
// the gradient of every input agree to within float rounding of the two paths.
struct FusedRow {
    std::string what;
    std::vector<Shape> shapes;
    Generator generate;
    std::function<Var(const Vars&)> fused, composed;
};

void check_fused_equals_composed(const FusedRow& row) {
    std::mt19937 gen(99);
    int64_t total = 0;
    for (const Shape& s : row.shapes) total += s.numel();
    const std::vector<float> drawn = row.generate(total, gen);
    std::vector<Parameter> params;
    int64_t offset = 0;
    for (size_t i = 0; i < row.shapes.size(); ++i) {
        params.push_back(make_parameter("x" + std::to_string(i), from_data(row.shapes[i], drawn.data() + offset)));
        offset += row.shapes[i].numel();
    }
    Vars inputs;
    for (const Parameter& p : params) inputs.push_back(p.var());
    std::vector<float> w;
    auto run = [&](const std::function<Var(const Vars&)>& build, std::vector<std::vector<float>>& grads) {
        for (Parameter& p : params) fill(p.grad(), 0.0f);
        const Var y = build(inputs);
        if (w.empty()) w = normal_values(y.value.numel(), gen);
        std::vector<float> values = values_of(y.value);
        backward(sum(mul(y, constant(tensor_of(y.shape(), w)))));
        for (Parameter& p : params) grads.push_back(values_of(p.grad()));
        return values;
    };
    std::vector<std::vector<float>> g_fused, g_composed;
    const std::vector<float> y_fused = run(row.fused, g_fused), y_composed = run(row.composed, g_composed);
    auto close = [](const std::vector<float>& a, const std::vector<float>& b, const std::string& what) {
        REQUIRE(a.size() == b.size());
        int off = 0;
        for (size_t i = 0; i < a.size(); i++) off += !(std::fabs(a[i] - b[i]) <= 1e-4 * (1.0 + std::fabs(b[i])));
        CHECK_MESSAGE(off == 0, what << ": " << off << " of " << a.size() << " differ by more than 1e-4 relative");
    };
    close(y_fused, y_composed, row.what + ", values");
    for (size_t i = 0; i < params.size(); i++) close(g_fused[i], g_composed[i], row.what + ", gradient of input " + std::to_string(i));
}

std::vector<FusedRow> fused_rows() {
    std::vector<FusedRow> rows = {
        {"layer_norm with bias", {{3, 7, 5}, {5}, {5}}, normal,
         [](const Vars& x) { return layer_norm(x[0], x[1], x[2]); },
         [](const Vars& x) { return layer_norm_composed(x[0], x[1], x[2]); }},
        {"layer_norm without bias, C=65", {{2, 3, 65}, {65}}, normal,
         [](const Vars& x) { return layer_norm(x[0], x[1], Var{}); },
         [](const Vars& x) { return layer_norm_composed(x[0], x[1], Var{}); }},
        {"causal_softmax (1,3,7,7)", {{1, 3, 7, 7}}, normal,
         [](const Vars& x) { return causal_softmax(x[0], 0.5f); },
         [](const Vars& x) { return causal_softmax_composed(x[0], 0.5f); }},
        {"cross_entropy (3,7,5)", {{3, 7, 5}}, normal,
         [](const Vars& x) { return cross_entropy(x[0], targets_3x7_v5()); },
         [](const Vars& x) { return cross_entropy_composed(x[0], targets_3x7_v5()); }},
        {"cross_entropy, logits near 100", {{3, 7, 5}}, near_100,
         [](const Vars& x) { return cross_entropy(x[0], targets_3x7_v5()); },
         [](const Vars& x) { return cross_entropy_composed(x[0], targets_3x7_v5()); }},
        {"causal_attention, 2 heads of 3, T=65", {{2, 65, 18}}, normal,
         [](const Vars& x) { return causal_attention(x[0], 2); },
         [](const Vars& x) {
             Rng unused{0, 0};
             return causal_attention_composed(x[0], 2, 0.0f, false, unused);
         }},
    };
    for (const UnaryOp* op : unary_ops())
        if (op->composed)
            rows.push_back({std::string(op->name) + " against " + op->formula, {{3, 7, 5}}, normal,
                            [op](const Vars& x) { return unary(*op, scale(x[0], 2.0f)); },
                            [op](const Vars& x) { return op->composed(scale(x[0], 2.0f)); }});
    return rows;
}

TEST_CASE("grad: fused ops equal their composed forms, values and gradients") {
    for (const FusedRow& row : fused_rows()) {
        CAPTURE(row.what);
        check_fused_equals_composed(row);
    }
}

// The unary kernels against their formulas in double: f(x), and f'(x) from a
// central difference of the double formula (exact to ~1e-10 with h = 1e-5).
TEST_CASE("grad: every unary kernel matches its formula in double, value and derivative") {
    for (const UnaryOp* op : unary_ops()) {
        CAPTURE(op->name);
        std::mt19937 gen(5);
        const Shape shape{4, 65, 65};  // above the OpenMP threshold
        const std::vector<float> xs = for_domain(op->domain, shape.numel(), gen);
        Tensor x = tensor_of(shape, xs), y = empty(shape), dx = zeros(shape), dy = full(shape, 1.0f);
        op->forward(y, x);
        op->backward(dx, x, y, dy);
        int off_value = 0, off_slope = 0;
        for (int64_t i = 0; i < shape.numel(); i++) {
            const double xi = xs[size_t(i)], want = op->reference(xi);
            const double h = 1e-5, slope = (op->reference(xi + h) - op->reference(xi - h)) / (2 * h);
            off_value += !(std::fabs(y.data[i] - want) <= 1e-6 + 1e-5 * std::fabs(want));
            off_slope += !(std::fabs(dx.data[i] - slope) <= 1e-5 + 1e-4 * std::fabs(slope));
        }
        CHECK_MESSAGE(off_value == 0, off_value << " values off");
        CHECK_MESSAGE(off_slope == 0, off_slope << " derivatives off");
        if (!op->forward_with_slope) continue;
        // The one-pass kernel of training gives the same values as the plain
        // forward of evaluation, bit for bit, and the derivative's slopes.
        Tensor y2 = empty(shape), slope = empty(shape);
        op->forward_with_slope(y2, slope, x);
        int differ_value = 0, differ_slope = 0;
        for (int64_t i = 0; i < shape.numel(); i++) {
            differ_value += y2.data[i] != y.data[i];
            differ_slope += !(std::fabs(slope.data[i] - dx.data[i]) <= 1e-6f * (1.0f + std::fabs(dx.data[i])));
        }
        CHECK_MESSAGE(differ_value == 0, differ_value << " values of forward_with_slope differ from forward");
        CHECK_MESSAGE(differ_slope == 0, differ_slope << " slopes of forward_with_slope differ from backward");
    }
}

// ---- hand-worked ties --------------------------------------------------------
// Finite differences are meaningless at a tie, so the tie rules are checked by
// hand. The upstream gradient dy is 1, 10, 100, ... so every sum of
// contributions shows which outputs sent gradient to which input, exactly.

// Runs loss = sum(y * dy) backward; grad_values (tests/grad_check.h) then
// reads each input's gradient.
void run_backward(const Var& y, const std::vector<float>& dy) {
    REQUIRE(y.value.numel() == int64_t(dy.size()));
    backward(sum(mul(y, constant(tensor_of(y.shape(), dy)))));
}
const std::vector<float> kDy5 = {1, 10, 100, 1000, 10000};
const std::vector<float> kDy3 = {1, 10, 100};

// maximum(a, b) and minimum(a, b) where a[i] == b[i]: a, the first argument, takes it.
struct BinaryTieRow {
    const char* op;
    std::function<Var(const Var&, const Var&)> fn;
    std::vector<float> a, b, y, da, db;  // dy = kDy3
};
const BinaryTieRow kBinaryTies[] = {
    {"maximum", maximum, {1, 2, 3}, {1, 5, 3}, {1, 5, 3}, {1, 0, 100}, {0, 10, 0}},
    {"minimum", minimum, {1, 2, 3}, {1, 0, 3}, {1, 0, 3}, {1, 0, 100}, {0, 10, 0}},
};

TEST_CASE("maximum and minimum tie: the first argument takes the gradient") {
    for (const BinaryTieRow& row : kBinaryTies) {
        CAPTURE(row.op);
        Parameter a = make_parameter("a", tensor_of({3}, row.a));
        Parameter b = make_parameter("b", tensor_of({3}, row.b));
        const Var y = row.fn(a.var(), b.var());
        CHECK(values_of(y.value) == row.y);
        run_backward(y, kDy3);
        CHECK(grad_values(a) == row.da);
        CHECK(grad_values(b) == row.db);
    }
}

TEST_CASE("maximum tie: maximum(x, x) passes the gradient once, through the first argument") {
    Parameter x = make_parameter("x", from_values({3}, {-1, 0, 2}));
    const Var y = maximum(x.var(), x.var());
    CHECK(values_of(y.value) == std::vector<float>{-1, 0, 2});
    run_backward(y, kDy3);
    CHECK(grad_values(x) == std::vector<float>{1, 10, 100});
}

TEST_CASE("where: the mask picks a or b, and each takes the gradient where it was picked") {
    Parameter a = make_parameter("a", from_values({3}, {1, 2, 3}));
    Parameter b = make_parameter("b", from_values({3}, {-1, -2, -3}));
    const Var y = where(from_values({3}, {1, 0, 1}), a.var(), b.var());
    CHECK(values_of(y.value) == std::vector<float>{1, -2, 3});
    run_backward(y, kDy3);
    CHECK(grad_values(a) == std::vector<float>{1, 0, 100});
    CHECK(grad_values(b) == std::vector<float>{0, 10, 0});
}

// A sequence op on x (B, T, C) with deliberate ties: its output y, and the
// gradient dx that the upstream gradient dy gives, both worked out by hand.
struct SequenceTieRow {
    const char* rule;  // the op and its tie rule
    std::function<Var(const Var&)> op;
    Shape shape;
    std::vector<float> x, y, dy, dx;
};
const SequenceTieRow kSequenceTies[] = {
    // x = [1, 3, 3, 2, 3] along T (B = C = 1).
    //   y[0] = x[0]               = 1  -> x[0]
    //   y[1] = max(x[1]=3, x[0]=1) = 3 -> x[1]
    //   y[2] = max(x[2]=3, x[1]=3) = 3 -> x[2] (tie: the current token)
    //   y[3] = max(x[3]=2, x[2]=3) = 3 -> x[2]
    //   y[4] = max(x[4]=3, x[3]=2) = 3 -> x[4]
    // dx = [1, 10, 100 + 1000, 0, 10000]
    {"pair_max tie: the gradient goes to the current token x[t]", pair_max, {1, 5, 1},
     {1, 3, 3, 2, 3}, {1, 3, 3, 3, 3}, kDy5, {1, 10, 1100, 0, 10000}},

    // x = [3, 1, 1, 2, 1]: y = [3, 1, 1, 1, 1]; y[2] = min(1, 1) is a tie and
    // goes to x[2]; y[3] = min(2, 1) -> x[2]; y[4] = min(1, 2) -> x[4].
    {"pair_min tie: the gradient goes to the current token x[t]", pair_min, {1, 5, 1},
     {3, 1, 1, 2, 1}, {3, 1, 1, 1, 1}, kDy5, {1, 10, 1100, 0, 10000}},

    // x = [3, 1, 3, 2, 0]: the running max is 3 everywhere.
    //   y[0], y[1] are held by x[0] only;
    //   from t = 2 on, x[0] and x[2] both hold 3: the most recent, x[2], takes it.
    // dx = [1 + 10, 0, 100 + 1000 + 10000, 0, 0]
    {"scan_max tie: the most recent of equal running maxima takes the gradient", scan_max, {1, 5, 1},
     {3, 1, 3, 2, 0}, {3, 3, 3, 3, 3}, kDy5, {11, 0, 11100, 0, 0}},

    // x = [-3, -1, -3, -2, 0]: the running min is -3 everywhere; x[2] ties x[0]
    // and, being more recent, takes the gradient of y[2..4].
    {"scan_min tie: the most recent of equal running minima takes the gradient", scan_min, {1, 5, 1},
     {-3, -1, -3, -2, 0}, {-3, -3, -3, -3, -3}, kDy5, {11, 0, 11100, 0, 0}},

    // Two channels and two batch rows with different tie patterns, so a kernel
    // that mixes up the (B, T, C) indexing cannot pass by symmetry.
    //   b=0, c=0: x = [2, 2, 1] -> y = [2, 2, 2]: x[1] takes y[1], y[2]
    //   b=0, c=1: x = [0, 1, 1] -> y = [0, 1, 1]: x[2] takes y[2]
    //   b=1, c=0: x = [5, 4, 5] -> y = [5, 5, 5]: x[0] takes y[0], y[1]; x[2] y[2]
    //   b=1, c=1: x = [7, 7, 7] -> y = [7, 7, 7]: each x[t] takes y[t]
    // Layout (B=2, T=3, C=2), element (b, t, c) at b*6 + t*2 + c.
    // dy(b, t, c) = 1 for (0,*,*) and 10 for (1,*,*), times 1, 2, 4 for t.
    {"scan_max tie: most recent holder, per batch row and channel", scan_max, {2, 3, 2},
     {2, 0, 2, 1, 1, 1,  //
      5, 7, 4, 7, 5, 7},
     {2, 0, 2, 1, 2, 1,  //
      5, 7, 5, 7, 5, 7},
     {1, 1, 2, 2, 4, 4, 10, 10, 20, 20, 40, 40},
     {1, 1, 6, 2, 0, 4,  //
      30, 10, 0, 20, 40, 40}},
};

TEST_CASE("sequence op ties: pair ops send the gradient to the current token, scans to the most recent holder") {
    for (const SequenceTieRow& row : kSequenceTies) {
        CAPTURE(row.rule);
        REQUIRE(int64_t(row.x.size()) == row.shape.numel());
        Parameter x = make_parameter("x", tensor_of(row.shape, row.x));
        const Var y = row.op(x.var());
        CHECK(values_of(y.value) == row.y);
        run_backward(y, row.dy);
        CHECK(grad_values(x) == row.dx);
    }
}

TEST_CASE("grad: dropout gradient is the mask, 0 or 1/(1-p), and the same Rng state gives the same mask") {
    const float p = 0.5f;
    Parameter x = make_parameter("x", full({3, 65, 1}, 1.0f));
    Rng rng = kDropoutRng;
    const Var y = dropout(x.var(), p, true, rng);
    CHECK(rng.counter != kDropoutRng.counter);  // the Rng advanced
    const std::vector<float> mask = values_of(y.value);
    int dropped = 0;
    for (float m : mask) {
        CHECK((m == 0.0f || m == 2.0f));
        dropped += m == 0.0f;
    }
    CHECK(dropped > 0);
    CHECK(dropped < int(mask.size()));
    run_backward(y, std::vector<float>(mask.size(), 1.0f));
    CHECK(grad_values(x) == mask);

    NoGrad no_grad;
    Rng again = kDropoutRng;
    CHECK(values_of(dropout(x.var(), p, true, again).value) == mask);
}

}  // namespace
}  // namespace cg
