// The training loop, in llm.c's spirit: one step is
//   batch -> forward -> cross-entropy -> backward -> all-reduce -> clip -> AdamW -> zero grads,
// with a progress line every log_interval steps, train/val loss every
// eval_interval steps, a CSV of everything and checkpoints in out_dir.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "nn/adamw.h"
#include "train/distributed.h"
#include "train/settings.h"

namespace cg {

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
struct StepGradient {
    float loss = 0;       // mean over the step's micro-batches and processes
    int stop_signal = 0;  // a stop signal reached some process before the all-reduce (all agree)
};

// Runs this process's micro-batches forward and backward and leaves in the
// grads the gradient of the mean loss over the whole step (see above); advances
// the data and dropout streams of `state` past the step, the same on every process.
StepGradient compute_step_gradient(GPT& model, const std::vector<uint16_t>& tokens, int64_t batch_size,
                                   int grad_accum, RunState& state, GradientAllReduce& all_reduce,
                                   const ProcessGroup& group);

// nanoGPT's schedule: linear warmup, cosine decay to min_lr at lr_decay_iters.
float learning_rate_at(const TrainConfig& config, int64_t step);

struct TrainReport {
    std::vector<float> step_losses;  // training loss of every step run, in order
    float last_val_loss = 0.0f;
    float best_val_loss = 0.0f;
    double median_ms = 0.0;          // per step, warm-up steps left out
    int64_t final_step = 0;
    int stopped_by_signal = 0;       // SIGINT/SIGTERM/SIGHUP/SIGUSR1 ended the run early (after saving)
};

struct StepResult {
    float loss = 0.0f;       // mean over the step's rows
    float grad_norm = 0.0f;  // before clipping
    float lr = 0.0f;
    bool updated = false;    // false: the loss or norm was not finite, and no update was made
    int stop_signal = 0;     // a stop signal reached some process during the step
};
// One training step, as the loop runs it:
//   lr for the step -> the gradient of the step's rows (compute_step_gradient:
//   batch, forward, cross-entropy, backward per micro-batch, then the all-reduce
//   over processes) -> clip by global norm -> AdamW -> zero the gradients.
StepResult train_step(GPT& model, AdamW& opt, const TrainConfig& config, const std::vector<uint16_t>& tokens,
                      int64_t step, RunState& state, GradientAllReduce& all_reduce, const ProcessGroup& group);

// 1003854 -> "1,003,854", for the counts people read.
std::string with_commas(int64_t n);

// Runs (or, with init_from=resume, continues from the newer of last.bin and
// ckpt.bin) a training run; progress goes to `log`. Everything is checked
// (settings, data, checkpoint, out_dir, memory) before anything is written;
// out_dir is locked for the whole run. Every evaluation after the start saves
// its state: to ckpt.bin when val improves (or always, with
// always_save_checkpoint), else to last.bin, so the final state is always kept.
// A non-finite loss or gradient norm stops the run with an error, the saved
// checkpoints untouched. A stop signal (see stop_signal.h) ends it after the
// current step, with that step saved to last.bin (ckpt.bin with
// always_save_checkpoint). A resume at max_iters has nothing to do and says so;
// one past it is an error.
TrainReport train(TrainConfig config, std::ostream& log);

// Where a run's time has gone, for the ETA of its progress lines: training
// steps and evaluations apart, since an evaluation of many batches can take
// as long as hundreds of steps.
struct TimeSpent {
    double steps_s = 0, evals_s = 0;
    int64_t evals = 0;
};
// Seconds left after `step` (steps first_step..step done): the steps left at
// the mean step time so far, plus the evaluations left at the mean
// evaluation time so far.
double time_left(int64_t first_step, int64_t step, int64_t max_iters, int64_t eval_interval, const TimeSpent& spent);

}  // namespace cg
