// The code of the tutorials in docs/, run: every number a page states is
// checked here, so the pages cannot drift from the code.
#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "tests/grad_check.h"
#include "tests/train_helpers.h"
#include "train/train.h"

namespace cg {
namespace {

// docs/how-backward-works.md
TEST_CASE("tutorial: how backward works") {
    Parameter w = make_parameter("w", from_values({2}, {0.5f, -1.0f}));  // trainable
    Var x = constant(from_values({2}, {3.0f, 4.0f}));                      // data: no gradient
    Var y = mul(x, w.var());   // y = x * w       = [1.5, -4]
    Var z = mul(y, y);         // z = y * y       = [2.25, 16]
    Var loss = sum(z);         // loss = sum(z)   = 18.25
    CHECK(values_of(y.value) == std::vector<float>{1.5f, -4.0f});
    CHECK(values_of(z.value) == std::vector<float>{2.25f, 16.0f});
    CHECK(loss.value.item() == 18.25f);
    CHECK(tape_size() == 3);  // mul, mul, sum: the table of section 2
    CHECK_FALSE(x.requires_grad());
    backward(loss);            // w.grad() = [9, -32]
    CHECK(values_of(w.grad()) == std::vector<float>{9.0f, -32.0f});
    CHECK(tape_size() == 0);   // the step's graph is released
    CHECK_THROWS_AS(mul(y, y), Error);  // a Var made before backward is stale
}

// A short run of the tiny model; the loss must fall well below where it starts.
void check_trains(const std::string& mixer, const std::string& activation) {
    TempDir dir;
    TrainConfig c = tiny_run(prepare_corpus(dir), dir / "out", mixer);
    c.model.activation = activation;
    c.max_iters = 60;
    std::ostringstream log;
    const TrainReport r = train(c, log);
    REQUIRE(r.step_losses.size() == 60);
    CHECK(r.step_losses.back() < 0.7f * r.step_losses.front());
}

// docs/tutorial-add-an-op.md
TEST_CASE("tutorial: silu trains as the MLP's activation") {
    Var y = silu(constant(from_values({3}, {-1.0f, 0.0f, 2.0f})));
    CHECK(y.value.data[0] == doctest::Approx(-0.268941));  // x sigmoid(x)
    CHECK(y.value.data[1] == 0.0f);
    CHECK(y.value.data[2] == doctest::Approx(1.761594));
    check_trains("attn", "silu");
}

// docs/tutorial-add-a-mixer.md
TEST_CASE("tutorial: ema trains as a block's mixer") { check_trains("ema", "gelu"); }

// docs/tutorial-add-a-mixer.md, "A mixer that needs a new primitive": x[t] where
// x[t] > 0, else x[t-1], composed from where and shift.
Tensor positive_mask(const Tensor& x) {
    Tensor m = zeros(x.shape);
    for (int64_t i = 0; i < x.numel(); i++) m.data[i] = x.data[i] > 0.0f ? 1.0f : 0.0f;
    return m;
}

TEST_CASE("tutorial: a select primitive composes a gated core") {
    Parameter x = make_parameter("x", from_values({1, 4, 1}, {2, -1, -3, 5}));  // (B, T, C)
    const Var y = where(positive_mask(x.value), x.var(), shift(x.var()));
    CHECK(values_of(y.value) == std::vector<float>{2, 2, -1, 5});  // t = 0 keeps x[0]
    backward(sum(y));
    // x[0] is kept and copied to t=1; x[1] goes to t=2; x[2] nowhere; x[3] kept.
    CHECK(values_of(x.grad()) == std::vector<float>{2, 1, 0, 1});
}

}  // namespace
}  // namespace cg
