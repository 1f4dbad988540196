// One training step's gradient over micro-batches and processes.
//
// A step trains on G = processes x grad_accum x batch_size rows (windows of
// block_size + 1 tokens). Their offsets are the next G draws of the run's data
// stream (RunState::data_rng, counters c .. c+G-1): micro-batch k of rank r
// takes draws c + (r*grad_accum + k)*batch_size onward, batch_size of them. So
// 1 process with batch 2b, 1 process with batch b and grad_accum 2, and 2
// processes with batch b train on the same rows, and their steps agree up to
// the order of summation. (Dropout masks differ: each micro-batch draws its
// own from a stream derived from the run's, micro-batch 0 from the run's.)
//
// Each micro-batch's gradient is added into the parameters' grads; the sum
// over micro-batches and processes is then divided by processes x grad_accum,
// which gives the gradient of the mean loss over the G rows. With several
// processes the grads go through one flat buffer and one all-reduce per step.
#pragma once

#include <cstdint>
#include <vector>

#include "train/checkpoint.h"
#include "train/process_group.h"

namespace cg {

struct GradientExchange {
    std::vector<Parameter*> params;
    std::vector<float> flat;       // every grad, then the loss sum and the stop flag
    std::vector<double> allreduce_ms;  // each step's time in the all-reduce (waits for slower ranks included)
};
GradientExchange make_gradient_exchange(const std::vector<Parameter*>& params);
// What one step sends through the all-reduce (0 for a single process).
int64_t allreduce_bytes_per_step(const GradientExchange& exchange, const ProcessGroup& group);

struct StepGradient {
    float loss = 0;       // mean over the step's micro-batches and processes
    int stop_signal = 0;  // a stop signal reached some process before the exchange (all agree)
};

// Runs this process's micro-batches forward and backward and leaves in the
// grads the gradient of the mean loss over the whole step (see above); advances
// the data and dropout streams of `state` past the step, the same on every process.
StepGradient compute_step_gradient(GPT& model, const std::vector<uint16_t>& tokens, int64_t batch_size,
                                   int grad_accum, RunState& state, GradientExchange& exchange,
                                   const ProcessGroup& group);

// OpenMP threads per process: the user's count, else with several processes on
// this machine cores / local processes (so they do not compete), else 0 (chosen
// by measuring, see thread_governor.h).
int threads_per_process(int requested, const ProcessGroup& group);

}  // namespace cg
