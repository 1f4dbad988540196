// A small MLP learns y = sin(x) on [-pi, pi]: 1 -> 32 -> 32 -> 1 with tanh,
// mean squared error, AdamW. It prints the loss as it falls and exits 1 unless
// the final loss is below kTarget (an MLP this size gets well under it).
#include <cmath>
#include <cstdio>
#include <vector>

#include "autograd/ops.h"
#include "nn/adamw.h"
#include "nn/linear.h"

using namespace cg;

int main() {
    constexpr int64_t N = 64;         // training points
    constexpr int kSteps = 500;
    constexpr float kTarget = 1e-3f;  // the final loss must be below this
    constexpr double kPi = 3.14159265358979323846;
    std::vector<float> xs(N), ys(N);
    for (int64_t i = 0; i < N; i++) {
        xs[i] = static_cast<float>(kPi * (2.0 * i / (N - 1) - 1.0));
        ys[i] = std::sin(xs[i]);
    }
    const Var x = constant(from_data({N, 1}, xs.data()));  // (N, 1)
    const Var y = constant(from_data({N, 1}, ys.data()));

    Rng rng{42, 0};
    Linear fc1 = make_linear("fc1", 1, 32, true, 1.0f, rng);
    Linear fc2 = make_linear("fc2", 32, 32, true, 0.2f, rng);
    Linear out = make_linear("out", 32, 1, true, 0.2f, rng);
    const std::vector<Parameter*> params = {&fc1.weight, &fc1.bias, &fc2.weight, &fc2.bias,
                                            &out.weight, &out.bias};
    AdamWConfig config;
    config.weight_decay = 0.0f;
    AdamW opt = make_adamw(params, config);

    auto loss_of = [&]() {  // mean((mlp(x) - y)^2), recording the graph unless NoGrad
        const Var h = tanh(linear(fc2, tanh(linear(fc1, x))));  // (N, 32)
        const Var diff = sub(linear(out, h), y);                // (N, 1)
        return mean(mul(diff, diff));
    };
    for (int step = 0; step < kSteps; step++) {
        const Var loss = loss_of();
        if (step % 50 == 0) std::printf("step %4d  loss %.6f\n", step, loss.value.item());
        zero_grad(params);
        backward(loss);
        adamw_step(opt, 1e-2f);
    }
    const NoGrad no_grad;
    const float final_loss = loss_of().value.item();
    std::printf("step %4d  loss %.6f (target < %g)\n", kSteps, final_loss, kTarget);
    return final_loss < kTarget ? 0 : 1;
}
