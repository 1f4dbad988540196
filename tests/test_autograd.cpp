// Graph mechanics: accumulation, the tape's lifetime, NoGrad, constants,
// error messages, and the allocation-free steady state.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <utility>
#include <string>
#include <vector>

#include "autograd/graph.h"
#include "autograd/ops.h"
#include "tensor/rng.h"
#include "tests/grad_check.h"
#include "tests/helpers.h"

namespace cg {
namespace {

// loss = sum(x * w) for a constant w, so d loss / d x = w.
Var weighted_sum(const Var& x, const std::vector<float>& w) {
    return sum(mul(x, constant(tensor_of(x.shape(), w))));
}

std::string prefix_of(Op op) { return std::string("[") + op_name(op) + "]"; }

// bench --ops reads these: the ops a graph ran get time, forward and backward;
// ops it did not run get none, and nothing is timed once the sink is unset.
TEST_CASE("autograd: op timing charges each op that ran, forward and backward, and only while on") {
    Rng rng{3, 0};
    Parameter w = make_parameter("w", empty({96, 64}));
    fill_normal(w.value, rng, 0.0f, 0.1f);
    Tensor xv = empty({5, 33, 64});
    fill_normal(xv, rng, 0.0f, 1.0f);
    auto step = [&] { backward(sum(gelu(linear(constant(xv), w.var(), Var{})))); };
    OpTimes times;
    set_op_times(&times);
    step();
    set_op_times(nullptr);
    for (Op op : {Op::linear, Op::unary}) {
        CAPTURE(op_name(op));
        CHECK(times.forward_ms[static_cast<int>(op)] > 0.0);
        CHECK(times.backward_ms[static_cast<int>(op)] > 0.0);
    }
    CHECK(times.forward_ms[static_cast<int>(Op::layer_norm)] == 0.0);
    CHECK(times.backward_ms[static_cast<int>(Op::matmul)] == 0.0);
    const OpTimes before = times;
    step();
    for (int i = 0; i < static_cast<int>(Op::count); i++) {
        CHECK(times.forward_ms[i] == before.forward_ms[i]);
        CHECK(times.backward_ms[i] == before.backward_ms[i]);
    }
}

TEST_CASE("autograd: gradients accumulate across backward() calls until zero_grad") {
    Parameter p = make_parameter("p", from_values({3}, {1, 2, 3}));
    const std::vector<float> w = {0.5f, -1.0f, 2.0f};

    backward(weighted_sum(p.var(), w));
    CHECK(grad_values(p) == w);
    backward(weighted_sum(p.var(), w));
    CHECK(grad_values(p) == std::vector<float>{1.0f, -2.0f, 4.0f});

    zero_grad({&p});
    CHECK(grad_values(p) == std::vector<float>{0, 0, 0});
    backward(weighted_sum(p.var(), w));
    CHECK(grad_values(p) == w);
}

TEST_CASE("autograd: after zero_grad the next backward writes the gradients instead of adding") {
    // zero_grad only marks the gradients; the products of linear then write
    // them (sgemm's beta = 0) and the bias's sum is added to zeros.
    Parameter w = make_parameter("w", from_values({2, 3}, {0.5f, -1.0f, 2.0f, 1.5f, 0.25f, -0.75f}));
    Parameter b = make_parameter("b", from_values({2}, {0.1f, -0.2f}));
    Parameter unused = make_parameter("unused", from_values({2}, {1, 1}));
    const Tensor x = from_values({4, 3}, {1, 2, 3, -1, 0.5f, 2, 0, 1, -2, 3, 1, 1});
    auto loss = [&] { return weighted_sum(linear(constant(x), w.var(), b.var()), {1, -2, 3, 0.5f, -1, 2, 1, 1}); };
    backward(loss());
    const std::vector<float> w_once = grad_values(w), b_once = grad_values(b);
    unused.grad().data[0] = 7.0f;  // stale values a marked gradient must never show
    for (int round = 0; round < 2; round++) {
        backward(loss());  // adds: twice the gradient
        zero_grad({&w, &b, &unused});
        CHECK(w.node->grad_is_zero);
        backward(loss());  // writes: once the gradient, nothing of what was there
        CHECK_FALSE(w.node->grad_is_zero);
        CHECK(grad_values(w) == w_once);
        CHECK(grad_values(b) == b_once);
        CHECK(grad_values(unused) == std::vector<float>{0, 0});  // no backward reached it: read as zeros
        unused.grad().data[1] = 5.0f;
    }
}

TEST_CASE("autograd: linear(W, W) gets both gradients of W, one after the other") {
    // y = W W^T and loss = sum(M * y): dL/dW = (M + M^T) W. The backward's two
    // products both write W's gradient here, so they must not run together.
    const int64_t R = 100, K = 64;  // 2.5 MFLOP: enough for the products to go parallel
    Rng rng{5, 0};
    Tensor w0 = empty({R, K}), m = empty({R, R});
    fill_normal(w0, rng, 0.0f, 1.0f);
    fill_normal(m, rng, 0.0f, 1.0f);
    Parameter w = make_parameter("w", w0);
    std::vector<float> mv(m.data, m.data + R * R);
    for (int round = 0; round < 3; round++) {
        zero_grad({&w});
        backward(weighted_sum(linear(w.var(), w.var(), Var{}), mv));
        const std::vector<float> g = grad_values(w);
        double worst = 0;
        for (int64_t i = 0; i < R; i++)
            for (int64_t k = 0; k < K; k++) {
                double want = 0;
                for (int64_t j = 0; j < R; j++)
                    want += (static_cast<double>(mv[i * R + j]) + mv[j * R + i]) * w.value.data[j * K + k];
                worst = std::max(worst, std::abs(want - g[i * K + k]) / (1.0 + std::abs(want)));
            }
        CHECK(worst < 1e-5);
    }
}

TEST_CASE("autograd: a Var used twice receives both contributions") {
    Parameter x = make_parameter("x", from_values({3}, {1, 2, -3}));
    SUBCASE("x * x + x: d/dx = 2x + 1") {
        backward(sum(add(mul(x.var(), x.var()), x.var())));
        CHECK(grad_values(x) == std::vector<float>{3, 5, -5});
    }
    SUBCASE("two branches through intermediate nodes: 2x + 3x") {
        const Var a = scale(x.var(), 2.0f);
        const Var b = scale(x.var(), 3.0f);
        backward(sum(add(a, b)));
        CHECK(grad_values(x) == std::vector<float>{5, 5, 5});
    }
    SUBCASE("an intermediate used twice: h = 2x, loss = sum(h * h), d/dx = 8x") {
        const Var h = scale(x.var(), 2.0f);
        backward(sum(mul(h, h)));
        CHECK(grad_values(x) == std::vector<float>{8, 16, -24});
    }
    SUBCASE("GELU writes its dx over the dy an add handed it, then h's other use adds in") {
        // h = 2x; loss = sum(gelu(h) + 3h), 3h made before gelu(h), so gelu's
        // backward runs first and takes the buffer: d/dx = 2 gelu'(2x) + 6.
        const Var h = scale(x.var(), 2.0f);
        const Var three_h = scale(h, 3.0f);
        backward(sum(add(gelu(h), three_h)));
        const std::vector<float> g = grad_values(x);
        for (int i = 0; i < 3; i++) {
            const double u = 2.0 * x.value.data[i], k = std::sqrt(2.0 / M_PI), c = 0.044715;
            const double th = std::tanh(k * (u + c * u * u * u));
            const double slope = 0.5 * (1 + th) + 0.5 * u * (1 - th * th) * k * (1 + 3 * c * u * u);
            CHECK(g[i] == doctest::Approx(2 * slope + 6).epsilon(1e-5));
        }
    }
    SUBCASE("a parameter used by two Vars of its own") {
        const Var v1 = x.var();
        const Var v2 = x.var();
        backward(sum(add(v1, v2)));
        CHECK(grad_values(x) == std::vector<float>{2, 2, 2});
    }
}

TEST_CASE("autograd: parameters persist after backward and keep their value and grad") {
    Parameter p = make_parameter("wte", from_values({2, 2}, {1, 2, 3, 4}));
    CHECK(p.name == "wte");
    CHECK(p.var().requires_grad());
    CHECK(p.var().node == p.node.get());

    backward(weighted_sum(p.var(), {1, 10, 100, 1000}));
    CHECK(tape_size() == 0);
    CHECK(p.var().node == p.node.get());
    CHECK(values_of(p.value) == std::vector<float>{1, 2, 3, 4});
    REQUIRE(p.grad().defined());
    CHECK(p.grad().shape == Shape{2, 2});
    CHECK(grad_values(p) == std::vector<float>{1, 10, 100, 1000});
    CHECK(values_of(p.var().grad()) == std::vector<float>{1, 10, 100, 1000});

    // The optimizer updates value in place; the next forward sees the update.
    p.value.data[0] = 5.0f;
    const Var y = mul(p.var(), p.var());
    CHECK(values_of(y.value)[0] == 25.0f);
    clear_tape();
}

TEST_CASE("autograd: the tape is cleared after backward") {
    Parameter p = make_parameter("p", from_values({1, 3, 2}, {1, 2, 3, 4, 5, 6}));
    clear_tape();
    const Var y = gelu(add(p.var(), p.var()));
    CHECK(tape_size() == 2);
    const Var loss = weighted_sum(y, {1, 2, 3, 4, 5, 6});
    CHECK(tape_size() == 4);
    backward(loss);
    CHECK(tape_size() == 0);
}

TEST_CASE("autograd: clear_tape drops the graph without running it") {
    Parameter p = make_parameter("p", from_values({3}, {1, 2, 3}));
    const Var loss = weighted_sum(p.var(), {1, 1, 1});
    CHECK(tape_size() > 0);
    clear_tape();
    CHECK(tape_size() == 0);
    CHECK(grad_values(p) == std::vector<float>{0, 0, 0});
}

TEST_CASE("autograd: NoGrad records nothing and restores the previous state") {
    Parameter p = make_parameter("p", from_values({1, 3, 2}, {1, 2, 3, 4, 5, 6}));
    clear_tape();
    CHECK(grad_enabled());
    {
        NoGrad no_grad;
        CHECK_FALSE(grad_enabled());
        const Var y = avg(gelu(mul(p.var(), p.var())));
        const Var loss = weighted_sum(y, {1, 2, 3, 4, 5, 6});
        CHECK(tape_size() == 0);
        CHECK_FALSE(y.requires_grad());
        CHECK_FALSE(loss.requires_grad());
        {
            NoGrad nested;
            CHECK_FALSE(grad_enabled());
        }
        CHECK_FALSE(grad_enabled());  // the inner NoGrad restores "off", not "on"
    }
    CHECK(grad_enabled());
    const Var y = mul(p.var(), p.var());
    CHECK(y.requires_grad());
    CHECK(tape_size() == 1);
    clear_tape();
}

TEST_CASE("autograd: a constant gets no gradient and records no node") {
    Parameter p = make_parameter("p", from_values({3}, {1, 2, 3}));
    const Var c = constant(from_values({3}, {4, 5, 6}));
    CHECK_FALSE(c.requires_grad());

    clear_tape();
    const Var only_constants = add(c, scale(c, 2.0f));
    CHECK_FALSE(only_constants.requires_grad());
    CHECK(tape_size() == 0);

    backward(sum(mul(p.var(), c)));
    CHECK_FALSE(c.grad().defined());
    CHECK_FALSE(only_constants.grad().defined());
    CHECK(grad_values(p) == std::vector<float>{4, 5, 6});
}

TEST_CASE("autograd: a Var kept from before backward() is stale and throws when used") {
    // The tape reuses its nodes after backward(); an old Var must not be
    // mistaken for the new node that now sits at its address.
    Parameter p = make_parameter("p", from_values({3}, {1, 2, 3}));
    Var h = mul(p.var(), p.var());
    backward(sum(h));
    zero_grad({&p});
    const std::string message = error_of([&] { backward(sum(mul(h, p.var()))); });
    CHECK(starts_with(message, "[mul]"));
    CHECK(message.find("before the last backward()") != std::string::npos);
    clear_tape();
    // Its value is still valid data, usable as a constant.
    Var z = mul(constant(h.value), p.var());
    backward(sum(z));
    CHECK(grad_values(p) == std::vector<float>{1, 4, 9});
}

TEST_CASE("autograd: backward on a non-scalar loss throws [backward]") {
    Parameter p = make_parameter("p", from_values({3}, {1, 2, 3}));
    const Var y = mul(p.var(), p.var());
    const std::string message = error_of([&] { backward(y); });
    CHECK_MESSAGE(starts_with(message, "[backward]"), message);
    clear_tape();
}

TEST_CASE("autograd: an op with bad shapes throws [op] naming the shapes") {
    const Var a = constant(zeros({2, 3}));
    const Var b = constant(zeros({4, 5}));
    const std::string message = error_of([&] { matmul(a, b); });
    CHECK_MESSAGE(starts_with(message, prefix_of(Op::matmul)), message);
    CHECK_MESSAGE(message.find("(2,3)") != std::string::npos, message);
    CHECK_MESSAGE(message.find("(4,5)") != std::string::npos, message);

    // b is neither a's shape nor a's trailing dims.
    const Var x = constant(zeros({3, 7, 5}));
    const Var bias = constant(zeros({3, 5}));
    const std::vector<std::pair<Op, std::function<Var()>>> broadcasts = {
        {Op::add, [&] { return add(x, bias); }},
        {Op::sub, [&] { return sub(x, bias); }},
        {Op::mul, [&] { return mul(x, bias); }},
        {Op::maximum, [&] { return maximum(x, bias); }},
        {Op::minimum, [&] { return minimum(x, bias); }}};
    for (const auto& op_and_call : broadcasts) {
        const std::string m = error_of([&] { op_and_call.second(); });
        CHECK_MESSAGE(starts_with(m, prefix_of(op_and_call.first)), m);
        CHECK_MESSAGE(m.find("(3,7,5)") != std::string::npos, m);
        CHECK_MESSAGE(m.find("(3,5)") != std::string::npos, m);
    }

    const std::string ln = error_of([&] { layer_norm(x, constant(zeros({4})), Var{}); });
    CHECK_MESSAGE(starts_with(ln, prefix_of(Op::layer_norm)), ln);
    CHECK_MESSAGE(ln.find("(4)") != std::string::npos, ln);

    const std::string sm = error_of([&] { causal_softmax(constant(zeros({2, 3, 4})), 1.0f); });
    CHECK_MESSAGE(starts_with(sm, prefix_of(Op::causal_softmax)), sm);
    CHECK_MESSAGE(sm.find("(2,3,4)") != std::string::npos, sm);
}

TEST_CASE("autograd: embedding with an id outside [0, V) throws") {
    const Var table = constant(zeros({7, 5}));
    for (int bad : {7, 100, -1}) {
        const std::string m = error_of([&] { embedding(table, make_ids({1, 3}, {0, bad, 1})); });
        CHECK_MESSAGE(starts_with(m, prefix_of(Op::embedding)), m);
    }
    CHECK(embedding(table, make_ids({1, 2}, {0, 6})).shape() == Shape{1, 2, 5});
}

TEST_CASE("autograd: cross_entropy with a target outside [0, V) throws") {
    const Var logits = constant(zeros({2, 3, 5}));
    for (int bad : {5, -1}) {
        const std::string m =
            error_of([&] { cross_entropy(logits, make_ids({2, 3}, {0, 1, 2, 3, bad, 4})); });
        CHECK_MESSAGE(starts_with(m, prefix_of(Op::cross_entropy)), m);
    }
    // The right number of targets is required too.
    const std::string m = error_of([&] { cross_entropy(logits, make_ids({5}, {0, 1, 2, 3, 4})); });
    CHECK_MESSAGE(starts_with(m, prefix_of(Op::cross_entropy)), m);
    // Uniform logits: the loss is log V.
    CHECK(cross_entropy(logits, make_ids({2, 3}, {0, 1, 2, 3, 4, 4})).value.item() ==
          doctest::Approx(std::log(5.0)).epsilon(1e-6));
}

// A 2-layer MLP with layer_norm, gelu and dropout on (B, T, C) = (3, 7, 5):
// one training step (forward, backward, clear the gradients) must allocate
// nothing new once the first step has filled the pool.
TEST_CASE("autograd: the steady state allocates nothing") {
    std::mt19937 gen(3);
    Parameter ln_w = make_parameter("ln_w", normal_tensor({5}, gen));
    Parameter ln_b = make_parameter("ln_b", normal_tensor({5}, gen));
    Parameter fc_w = make_parameter("fc_w", normal_tensor({5, 20}, gen));
    Parameter fc_b = make_parameter("fc_b", normal_tensor({20}, gen));
    Parameter proj_w = make_parameter("proj_w", normal_tensor({20, 65}, gen));
    const std::vector<Parameter*> params = {&ln_w, &ln_b, &fc_w, &fc_b, &proj_w};
    const Tensor x = normal_tensor({3, 7, 5}, gen);
    std::vector<int> target_values(21);
    for (int i = 0; i < 21; ++i) target_values[size_t(i)] = (i * 17) % 65;
    const Ids targets = make_ids({3, 7}, target_values);
    Rng rng{5, 0};

    auto step = [&] {
        const Var h = layer_norm(constant(x), ln_w.var(), ln_b.var());           // (B,T,C)
        const Var a = gelu(add(matmul(h, fc_w.var()), fc_b.var()));             // (B,T,4C)
        const Var logits = matmul(dropout(a, 0.1f, true, rng), proj_w.var());  // (B,T,V)
        const Var loss = cross_entropy(logits, targets);
        backward(loss);
        zero_grad(params);
    };

    step();
    const PoolStats after_first = pool_stats();
    step();
    const PoolStats after_second = pool_stats();
    step();
    const PoolStats after_third = pool_stats();
    CHECK(after_second.fresh_allocations == after_first.fresh_allocations);
    CHECK(after_third.fresh_allocations == after_first.fresh_allocations);
    CHECK(after_third.reuses > after_second.reuses);
    // Nothing from a step outlives it: the graph releases its activations.
    CHECK(after_third.bytes_in_use == after_second.bytes_in_use);
    CHECK(tape_size() == 0);
}

}  // namespace
}  // namespace cg
