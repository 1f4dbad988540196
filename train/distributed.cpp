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

GradientAllReduce make_gradient_all_reduce(const std::vector<Parameter*>& params) {
    GradientAllReduce all_reduce;
    all_reduce.params = params;
    size_t n = 0;
    for (const Parameter* p : params) n += static_cast<size_t>(p->grad().numel());
    all_reduce.flat.assign(n + 2, 0.0f);  // + the loss sum and the stop flag
    return all_reduce;
}

int64_t all_reduce_bytes_per_step(const GradientAllReduce& all_reduce, const ProcessGroup& group) {
    return group.size > 1 ? static_cast<int64_t>(all_reduce.flat.size() * sizeof(float)) : 0;
}

void all_reduce_gradients(GradientAllReduce& ex, float scale, float& loss_sum, float& stop) {
    float* flat = ex.flat.data();
    for (const Parameter* p : ex.params) {
        const Tensor& g = p->grad();
        std::memcpy(flat, g.data, static_cast<size_t>(g.numel()) * sizeof(float));
        flat += g.numel();
    }
    flat[0] = loss_sum;
    flat[1] = stop;
    const auto t0 = std::chrono::steady_clock::now();
    all_reduce_sum(ex.flat);
    ex.all_reduce_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
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
