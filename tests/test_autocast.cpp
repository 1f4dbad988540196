// --dtype=bfloat16 (tensor/autocast.h): the products read bf16 operands and
// add in fp32, everything else stays fp32. The kernel itself is tested in
// tests/test_bf16.cpp; here, what the rest of the framework does with it:
// layers within bf16's rounding of fp32, the backward in its forward's
// precision, weight copies that never go stale, training that tracks fp32,
// and checkpoints that stay fp32 across dtypes.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <sstream>

#include "autograd/ops.h"
#include "tensor/autocast.h"
#include "tensor/kernels.h"
#include "tests/helpers.h"
#include "tests/train_helpers.h"
#include "train/checkpoint.h"
#include "train/train.h"

namespace cg {
namespace {

// True where bf16 products run; otherwise says why the case is skipped.
bool bf16_here() {
    const std::string missing = bf16_unsupported_reason();
    if (!missing.empty()) MESSAGE("skipped: bf16 products need " << missing);
    return missing.empty();
}

// x rounded to the nearest bf16 (ties to even), as a float: the reference's
// own rounding, written apart from the library's. Finite values only.
float round_bf16(float x) {
    uint32_t bits;
    std::memcpy(&bits, &x, 4);
    bits = (bits + 0x7fffu + ((bits >> 16) & 1u)) & 0xffff0000u;
    std::memcpy(&x, &bits, 4);
    return x;
}

Tensor random_tensor(const Shape& shape, std::mt19937& gen) {
    Tensor t = empty(shape);
    std::normal_distribution<float> d(0.0f, 1.0f);
    for (int64_t i = 0; i < t.numel(); i++) t.data[i] = d(gen);
    return t;
}

// bf16's unit roundoff (8 significant bits) and fp32's.
constexpr double kBf16Unit = 1.0 / 512, kFp32Unit = 1.0 / (1 << 24);

// |a.b in bf16 - a.b in fp32| <= ((1 + u)^2 - 1) sum|a b| for the rounded
// operands, plus both fp32 sums' own error (k terms each), per element.
double product_bound(double abs_sum, int64_t k) {
    return ((1 + kBf16Unit) * (1 + kBf16Unit) - 1 + 2.0 * static_cast<double>(k) * kFp32Unit) * abs_sum;
}

}  // namespace

TEST_CASE("autocast: float16 and unknown dtypes are refused with the way out") {
    CHECK(parse_dtype("float32", "train") == Dtype::float32);
    const std::string fp16 = error_of([] { parse_dtype("float16", "train"); });
    CHECK(contains(fp16, "float16"));
    CHECK(contains(fp16, "--dtype=bfloat16 or float32"));
    CHECK(contains(error_of([] { parse_dtype("bf16", "train"); }), "must be float32 or bfloat16, got 'bf16'"));
    CHECK(contains(error_of([] { parse_dtype("", "train"); }), "got ''"));
}

TEST_CASE("autocast: bfloat16 is accepted exactly where the CPU has bf16 products, else refused naming the feature") {
    const std::string missing = bf16_unsupported_reason();
    const std::string err = error_of([] { parse_dtype("bfloat16", "train"); });
    if (missing.empty()) {
        CHECK(err.empty());
    } else {
        MESSAGE("this machine: bf16 products need " << missing);
        CHECK(contains(err, missing));
        CHECK(contains(err, "--dtype=float32"));
    }
}

TEST_CASE("autocast: Autocast sets the products' precision and restores the one before") {
    CHECK(product_dtype() == Dtype::float32);
    {
        Autocast outer(Dtype::bfloat16);
        CHECK(product_dtype() == Dtype::bfloat16);
        {
            Autocast inner(Dtype::float32);
            CHECK(product_dtype() == Dtype::float32);
        }
        CHECK(product_dtype() == Dtype::bfloat16);
    }
    CHECK(product_dtype() == Dtype::float32);
}

// A linear layer (odd sizes) and its gradients: each element within the bound
// that rounding its two operands to bf16 allows, and not equal to fp32 (so the
// bf16 path ran).
TEST_CASE("autocast: a linear layer's output and gradients in bf16 are within bf16's rounding of fp32") {
    if (!bf16_here()) return;
    std::mt19937 gen(5);
    const int64_t N = 37, in = 29, out = 19;
    const Tensor x0 = random_tensor({N, in}, gen), w0 = random_tensor({out, in}, gen), r = random_tensor({N, out}, gen);
    struct Result {
        std::vector<float> y, dx, dw;
    };
    auto run = [&](Dtype d) {
        Parameter x = make_parameter("x", x0.contiguous()), w = make_parameter("w", w0.contiguous());
        Autocast autocast(d);
        Var y = linear(x.var(), w.var(), Var{});
        backward(sum(mul(y, constant(r))));  // dy = r, exact in both
        return Result{values_of(y.value), values_of(x.grad()), values_of(w.grad())};
    };
    const Result f = run(Dtype::float32), b = run(Dtype::bfloat16);
    int differ = 0;
    // y[n][o] = sum_i x[n][i] w[o][i]
    for (int64_t n = 0; n < N; n++)
        for (int64_t o = 0; o < out; o++) {
            double s = 0;
            for (int64_t i = 0; i < in; i++) s += std::fabs(x0.data[n * in + i] * w0.data[o * in + i]);
            const size_t k = static_cast<size_t>(n * out + o);
            CHECK(std::fabs(b.y[k] - f.y[k]) <= product_bound(s, in));
            differ += b.y[k] != f.y[k];
        }
    // dx[n][i] = sum_o r[n][o] w[o][i]
    for (int64_t n = 0; n < N; n++)
        for (int64_t i = 0; i < in; i++) {
            double s = 0;
            for (int64_t o = 0; o < out; o++) s += std::fabs(r.data[n * out + o] * w0.data[o * in + i]);
            const size_t k = static_cast<size_t>(n * in + i);
            CHECK(std::fabs(b.dx[k] - f.dx[k]) <= product_bound(s, out));
        }
    // dw[o][i] = sum_n r[n][o] x[n][i]
    for (int64_t o = 0; o < out; o++)
        for (int64_t i = 0; i < in; i++) {
            double s = 0;
            for (int64_t n = 0; n < N; n++) s += std::fabs(r.data[n * out + o] * x0.data[n * in + i]);
            const size_t k = static_cast<size_t>(o * in + i);
            CHECK(std::fabs(b.dw[k] - f.dw[k]) <= product_bound(s, N));
        }
    CHECK(differ > N * out / 2);
}

// The product itself, through matmul with a batch and a transposed view,
// against fp64 sums of the rounded operands.
TEST_CASE("autocast: matmul in bf16 equals the fp64 product of the rounded operands up to fp32 sums") {
    if (!bf16_here()) return;
    std::mt19937 gen(9);
    const int64_t B = 3, M = 17, K = 45, Nc = 23;
    const Tensor a = random_tensor({B, M, K}, gen), bt = random_tensor({B, Nc, K}, gen);
    Tensor y = empty({B, M, Nc});
    {
        Autocast autocast(Dtype::bfloat16);
        matmul(y, a, bt.transpose(-2, -1));
    }
    for (int64_t b = 0; b < B; b++)
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < Nc; n++) {
                double s = 0, abs_sum = 0;
                for (int64_t k = 0; k < K; k++) {
                    const double p = static_cast<double>(round_bf16(a.data[(b * M + m) * K + k])) *
                                     round_bf16(bt.data[(b * Nc + n) * K + k]);
                    s += p;
                    abs_sum += std::fabs(p);
                }
                CHECK(std::fabs(y.data[(b * M + m) * Nc + n] - s) <= 2.0 * K * kFp32Unit * abs_sum);
            }
}

// The backward of a node recorded under bfloat16 runs its products in bf16
// even when backward() is called outside the Autocast, as in PyTorch.
TEST_CASE("autocast: a backward runs in its forward's precision") {
    if (!bf16_here()) return;
    std::mt19937 gen(3);
    const Tensor x0 = random_tensor({8, 33}, gen), w0 = random_tensor({12, 33}, gen), r = random_tensor({8, 12}, gen);
    auto grad_of_w = [&](Dtype forward, bool backward_inside) {
        Parameter x = make_parameter("x", x0.contiguous()), w = make_parameter("w", w0.contiguous());
        Var loss;
        {
            Autocast autocast(forward);
            loss = sum(mul(linear(x.var(), w.var(), Var{}), constant(r)));
            if (backward_inside) backward(loss);
        }
        if (!backward_inside) backward(loss);
        CHECK(product_dtype() == Dtype::float32);
        return values_of(w.grad());
    };
    const std::vector<float> inside = grad_of_w(Dtype::bfloat16, true), outside = grad_of_w(Dtype::bfloat16, false),
                             fp32 = grad_of_w(Dtype::float32, true);
    CHECK(inside == outside);
    CHECK(inside != fp32);
}

// A weight changed between two Autocasts (an optimizer step) is converted
// again: the second forward sees the new values.
TEST_CASE("autocast: a weight's bf16 copy lasts one Autocast, never into the next") {
    if (!bf16_here()) return;
    std::mt19937 gen(4);
    const Tensor x0 = random_tensor({5, 16}, gen);
    Parameter w = make_parameter("w", random_tensor({7, 16}, gen));
    auto forward = [&] {
        NoGrad no_grad;
        Autocast autocast(Dtype::bfloat16);
        return values_of(linear(constant(x0), w.var(), Var{}).value);
    };
    const std::vector<float> before = forward();
    CHECK(forward() == before);
    for (int64_t i = 0; i < w.value.numel(); i++) w.value.data[i] *= -2.0f;  // exact in bf16 too
    const std::vector<float> after = forward();
    REQUIRE(after.size() == before.size());
    for (size_t i = 0; i < after.size(); i++) CHECK(after[i] == -2.0f * before[i]);
}

// The same tiny model and batches in both precisions. While the weights are
// still (nearly) the same, the losses differ by the products' rounding alone:
// within 0.1% over the first 5 steps. Later the two runs drift apart, as two
// runs with other float roundings do; the bf16 run must still learn as much:
// its last 10 losses' mean within 0.05 of fp32's, a twentieth of the 1 nat or
// so that the run learns.
TEST_CASE("autocast: a training run in bf16 tracks the fp32 run's losses") {
    if (!bf16_here()) return;
    TempDir dir;
    const std::string data = prepare_corpus(dir);
    auto run = [&](const std::string& dtype) {
        TrainConfig c = tiny_run(data, dir / dtype, "attn,pair_max");
        c.max_iters = 30;
        c.dtype = dtype;
        std::ostringstream log;
        return train(c, log).step_losses;
    };
    const std::vector<float> f = run("float32"), b = run("bfloat16");
    REQUIRE(f.size() == 30);
    REQUIRE(b.size() == 30);
    int same = 0;
    for (size_t i = 0; i < f.size(); i++) {
        CAPTURE(i);
        if (i < 5) CHECK(std::fabs(b[i] - f[i]) <= 1e-3f * f[i]);
        same += b[i] == f[i];
    }
    double f_end = 0, b_end = 0;
    for (size_t i = 20; i < 30; i++) {
        f_end += f[i] / 10.0;
        b_end += b[i] / 10.0;
    }
    CHECK(std::fabs(b_end - f_end) <= 0.05);
    CHECK(same < 30);                    // the bf16 products ran
    CHECK(f.front() - f_end > 0.5);      // and the runs learned, so the comparison is of something
    CHECK(b.front() - b_end > 0.5);
}

// Checkpoints hold fp32 whatever the dtype; a run resumes in the other dtype.
TEST_CASE("autocast: checkpoints stay fp32, and a run resumes across dtypes") {
    if (!bf16_here()) return;
    TempDir dir;
    const std::string data = prepare_corpus(dir);
    auto config = [&](const std::string& dtype, int64_t iters, const std::string& init) {
        TrainConfig c = tiny_run(data, dir / "run", "attn");
        c.max_iters = iters;
        c.lr_decay_iters = 24;
        c.eval_interval = 8;
        c.always_save_checkpoint = true;
        c.dtype = dtype;
        c.init_from = init;
        return c;
    };
    std::ostringstream log;
    train(config("float32", 8, "scratch"), log);
    const auto fp32_size = std::filesystem::file_size(dir / "run/ckpt.bin");
    std::ostringstream to_bf16;
    const TrainReport second = train(config("bfloat16", 16, "resume"), to_bf16);
    CHECK(contains(to_bf16.str(), "resuming at step 8"));
    CHECK(second.step_losses.size() == 8);
    // The same fp32 tensors: only the setting's text "float32" became "bfloat16".
    CHECK(std::filesystem::file_size(dir / "run/ckpt.bin") == fp32_size + 1);
    Checkpoint ck = load_checkpoint(dir / "run/ckpt.bin");
    CHECK(ck.state.step == 16);
    CHECK(ck.config.dtype == "bfloat16");  // the setting of the run that saved it
    std::ostringstream back;
    const TrainReport third = train(config("float32", 24, "resume"), back);
    CHECK(contains(back.str(), "resuming at step 16"));
    CHECK(third.step_losses.size() == 8);
    CHECK(load_checkpoint(dir / "run/ckpt.bin").config.dtype == "float32");
}

}  // namespace cg
