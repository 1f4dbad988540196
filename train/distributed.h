// The gradient all-reduce of data-parallel training: each process adds its
// micro-batches' gradients into the parameters' grads, then one all-reduce per
// step sums them over processes through one flat buffer (train/train.cpp calls
// it from compute_step_gradient; which rows each process reads is said there).
#pragma once

#include <cstdint>
#include <vector>

#include "train/checkpoint.h"
#include "train/process_group.h"

namespace cg {

struct GradientAllReduce {
    std::vector<Parameter*> params;
    std::vector<float> flat;       // every grad, then the loss sum and the stop flag
    std::vector<double> all_reduce_ms;  // each step's time in the all-reduce (waits for slower ranks included)
};
GradientAllReduce make_gradient_all_reduce(const std::vector<Parameter*>& params);
// What one step sends through the all-reduce (0 for a single process).
int64_t all_reduce_bytes_per_step(const GradientAllReduce& all_reduce, const ProcessGroup& group);

// Adds the grads of all processes; scales them by `scale` on the way back.
// `loss_sum` and `stop` ride along in the same buffer, so a step makes one call.
void all_reduce_gradients(GradientAllReduce& all_reduce, float scale, float& loss_sum, float& stop);

// OpenMP threads per process: the user's count, else with several processes on
// this machine cores / local processes (so they do not compete), else 0 (chosen
// by measuring, see thread_governor.h).
int threads_per_process(int requested, const ProcessGroup& group);

}  // namespace cg
