// `causalgrad bench`: the speed of a configuration on this machine.
//
// Training: median time of full steps (forward, backward, clip, AdamW) after
// warm-up, as ms/step, tokens/s and GFLOP/s of the matrix products, next to
// the sgemm peak measured on the spot. Generation: tokens/s at given context
// lengths through the incremental path, against recomputing the whole
// context for every token as nanoGPT's sampling does.
#pragma once

#include <iosfwd>
#include <vector>

#include "models/gpt.h"
#include "tensor/autocast.h"
#include "tensor/thread_governor.h"

namespace cg {

struct BenchOptions {
    GPTConfig model;
    int64_t batch_size = 12;
    int64_t steps = 20;   // timed steps
    int64_t warmup = governor_first_choice_repeats();  // untimed steps first: the thread governor's first choice
    std::vector<int64_t> contexts{64, 256, 1024};  // for generation
    int64_t new_tokens = 64;                         // timed tokens per context
    bool ops = false;                                // print where a step's time goes, op by op
    Dtype dtype = Dtype::float32;                    // the products' precision (tensor/autocast.h)
};

// Matrix-product FLOPs of one training step (forward and backward, the
// backward counted as twice the forward), with attention over full T x T.
double train_step_flops(const GPTConfig& config, int64_t batch_size);
// GFLOP/s of a large square product on the current threads (best of a few
// runs), in the precision products run in now: sgemm, or bf16 under Autocast.
double measure_sgemm_gflops();
// The bound's parts, each timed apart on the current threads as the fastest
// of its repeats, warm: a floor, which the same work inside a step (its
// operands coming from memory) takes longer than.
// Ms of the products of one training step's linear layers (forward, input
// gradient, weight gradient of each, with their shapes and thread split):
// each layer's forward product timed on its own, its two backward ones
// together, as the backward runs them.
double linear_products_ms(const GPTConfig& config, int64_t batch_size);
// The same for the attention kernel's products (its tiles' sgemm calls, with
// their shapes and thread split), over all attention blocks; 0 without any.
double attention_products_ms(const GPTConfig& config, int64_t batch_size);
// Floats that the recorded graph's ops outside the matrix products must at
// least read and write, op by op in the order a training step runs them
// (forward, then backward): see bench.cpp. Leaves the tape as it was.
std::vector<int64_t> tape_traffic_floats();
// Ms of moving that many floats, op by op, each op reading what the
// one before wrote (as a step's ops mostly do) and writing fresh memory:
// the other ops' share of the bound, for one training step of the model.
// ring_floats bounds the memory walked (256 MiB: beyond, memory's speed no
// longer changes with size; tests make it small).
double other_ops_traffic_ms(const GPTConfig& config, int64_t batch_size, int64_t ring_floats = 1 << 26);
// Ms of a parallel copy of as many bytes as AdamW and gradient clipping
// must read and write for n parameters: the optimizer's share of the bound.
double optimizer_traffic_ms(int64_t n_parameters);
// The four parts, for a model of n_parameters; the pool's idle buffers are
// freed afterwards, so the bound's own buffers do not stay resident.
struct StepBound {
    double linear_ms = 0, attention_ms = 0, other_ops_ms = 0, optimizer_ms = 0;
    double total() const { return linear_ms + attention_ms + other_ops_ms + optimizer_ms; }
};
StepBound measure_step_bound(const GPTConfig& config, int64_t batch_size, int64_t n_parameters);

struct TrainBench {
    double median_ms = 0, tokens_per_s = 0, gflops = 0, peak_gflops = 0;
};
TrainBench bench_train(const BenchOptions& options, std::ostream& log);
void bench_generate(const BenchOptions& options, std::ostream& log);

// Another program keeping one core busy while the timing runs, as on a laptop
// that does other things: a CPU-bound child process at the given nice level,
// killed when this object goes (and after 10 minutes whatever happens).
class BusyCore {
public:
    explicit BusyCore(int nice_level);
    ~BusyCore();
    BusyCore(const BusyCore&) = delete;
    BusyCore& operator=(const BusyCore&) = delete;

private:
    int pid_ = -1;
};

// Peak resident memory of this process so far, in MiB.
double peak_memory_mib();
// Starts the peak again from the memory resident now (where Linux allows):
// bench calls it after freeing the bound's buffers, so they do not count.
void reset_peak_memory();

}  // namespace cg
