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

int threads_per_process(int requested, const ProcessGroup& group) {
    if (requested > 0 || group.local_size <= 1) return requested;
    return std::max(1, omp_get_num_procs() / group.local_size);
}

}  // namespace cg
