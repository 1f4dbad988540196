#include "train/distributed.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>

#include "autograd/ops.h"
#include "tensor/kernels.h"
#include "train/stop_signal.h"

namespace cg {

GradientExchange make_gradient_exchange(const std::vector<Parameter*>& params) {
    GradientExchange exchange;
    exchange.params = params;
    size_t n = 0;
    for (const Parameter* p : params) n += static_cast<size_t>(p->grad().numel());
    exchange.flat.assign(n + 2, 0.0f);  // + the loss sum and the stop flag
    return exchange;
}

int64_t allreduce_bytes_per_step(const GradientExchange& exchange, const ProcessGroup& group) {
    return group.size > 1 ? static_cast<int64_t>(exchange.flat.size() * sizeof(float)) : 0;
}

namespace {

// Adds the grads of all processes; scales them by `scale` on the way back.
// `loss_sum` and `stop` ride along in the same buffer, so a step makes one call.
void sum_gradients(GradientExchange& ex, float scale, float& loss_sum, float& stop) {
    float* flat = ex.flat.data();
    for (const Parameter* p : ex.params) {
        const Tensor& g = p->grad();
        std::memcpy(flat, g.data, static_cast<size_t>(g.numel()) * sizeof(float));
        flat += g.numel();
    }
    flat[0] = loss_sum;
    flat[1] = stop;
    const auto t0 = std::chrono::steady_clock::now();
    sum_over_processes(ex.flat);
    ex.allreduce_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    const float* from = ex.flat.data();
    for (const Parameter* p : ex.params) {
        const Tensor& g = p->grad();
        for (int64_t i = 0; i < g.numel(); i++) g.data[i] = from[i] * scale;
        from += g.numel();
    }
    loss_sum = from[0];
    stop = from[1];
}

}  // namespace

StepGradient compute_step_gradient(GPT& model, const std::vector<uint16_t>& tokens, int64_t batch_size,
                                   int grad_accum, RunState& state, GradientExchange& exchange,
                                   const ProcessGroup& group) {
    const int64_t B = batch_size, T = model.config.block_size;
    const uint64_t dropout_start = state.dropout_rng.counter;
    uint64_t dropout_end = dropout_start;
    float loss_sum = 0;
    for (int k = 0; k < grad_accum; k++) {
        const int64_t micro = static_cast<int64_t>(group.rank) * grad_accum + k;  // index in the global step
        Rng rows{state.data_rng.seed, state.data_rng.counter + static_cast<uint64_t>(micro * B)};
        Rng dropout{micro == 0 ? state.dropout_rng.seed : rng_bits(state.dropout_rng.seed, static_cast<uint64_t>(micro)),
                    dropout_start};
        Batch batch = get_batch(tokens, B, T, rows);
        Var logits = gpt_forward(model, batch.x, true, dropout);  // (B, T, V)
        Var loss = cross_entropy(logits, batch.y);
        backward(loss);  // adds into the grads
        loss_sum += loss.value.item();
        dropout_end = dropout.counter;  // the same for every micro-batch: the draws depend on shapes only
    }
    const int64_t parts = static_cast<int64_t>(group.size) * grad_accum;
    state.data_rng.counter += static_cast<uint64_t>(parts * B);
    state.dropout_rng.counter = dropout_end;

    StepGradient step;
    float stop = stop_requested() ? 1.0f : 0.0f;
    if (group.size > 1) {
        sum_gradients(exchange, 1.0f / static_cast<float>(parts), loss_sum, stop);
    } else if (grad_accum > 1) {
        for (const Parameter* p : exchange.params) scale_forward(p->grad(), p->grad(), 1.0f / static_cast<float>(parts));
    }
    step.loss = loss_sum / static_cast<float>(parts);
    // A signal on any process stops all of them after this step; its own name when it has one.
    if (stop > 0) step.stop_signal = stop_requested() ? stop_requested() : SIGTERM;
    return step;
}

int threads_per_process(int requested, const ProcessGroup& group) {
    if (requested > 0 || group.local_size <= 1) return requested;
    return std::max(1, omp_get_num_procs() / group.local_size);
}

}  // namespace cg
