#include "tools/bench.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <ostream>
#include <thread>

#include "nn/adamw.h"
#include "io/text.h"
#include "tensor/kernels.h"
#include "tensor/thread_governor.h"

namespace cg {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// The fastest of `reps` runs of work, in ms: the bound's parts are floors,
// not typical times.
template <typename Work>
double fastest_ms(Work&& work, int64_t reps) {
    double best = 1e30;
    for (int64_t rep = 0; rep < reps; rep++) {
        const auto t0 = Clock::now();
        work();
        best = std::min(best, ms_since(t0));
    }
    return best;
}

// How many runs fit in about budget_ms, one taking one_run_ms: 3 to max_reps.
int64_t repeats_within(double budget_ms, double one_run_ms, int64_t max_reps) {
    return std::clamp<int64_t>(static_cast<int64_t>(budget_ms / std::max(one_run_ms, 1e-3)), 3, max_reps);
}

// Random tokens: speed does not depend on what the text says.
Ids random_ids(Shape shape, int64_t vocab, Rng& rng) {
    std::vector<int> v(static_cast<size_t>(shape.numel()));
    for (int& t : v) t = static_cast<int>(rng_bits(rng.seed, rng.counter++) % static_cast<uint64_t>(vocab));
    return make_ids(shape, std::move(v));
}

}  // namespace

// Every 2-D weight but the position embedding is a linear layer's (wte serves as
// lm_head): their (out, in) shapes, from the model itself.
std::vector<std::pair<int64_t, int64_t>> linear_layers(const GPTConfig& c) {
    GPT model = make_gpt(c, 0);
    std::vector<std::pair<int64_t, int64_t>> layers;
    for (Parameter* p : gpt_parameters(model))
        if (p->value.ndim() == 2 && p != &model.wpe) layers.push_back({p->value.shape[0], p->value.shape[1]});
    return layers;
}

double train_step_flops(const GPTConfig& c, int64_t B) {
    const double BT = static_cast<double>(B * c.block_size), T = static_cast<double>(c.block_size);
    double forward = 0;
    for (const auto& [out, in] : linear_layers(c)) forward += 2 * BT * static_cast<double>(in * out);
    for (const std::string& m : block_mixers(c)) {
        const MixerKind& kind = find_mixer_kind(m, MixerUse::mixer);
        if (kind.core_flops) forward += kind.core_flops(BT, T, static_cast<double>(c.n_embd));
    }
    return 3 * forward;  // the backward takes about twice the forward's
}

double linear_products_ms(const GPTConfig& c, int64_t B) {
    const int64_t N = B * c.block_size;
    std::vector<std::pair<int64_t, int64_t>> layers;  // (in, out) of each linear layer
    for (const auto& [out, in] : linear_layers(c)) layers.push_back({in, out});
    struct Buffers {
        Tensor x, w, y, dy, dx, dw;
    };
    std::vector<Buffers> bufs;
    Rng rng{11, 0};
    for (const auto& [in, out] : layers) {
        Buffers b{empty({N, in}), empty({out, in}), empty({N, out}), empty({N, out}), empty({N, in}), empty({out, in})};
        fill_uniform(b.x, rng, -1, 1);
        fill_uniform(b.w, rng, -1, 1);
        fill_uniform(b.dy, rng, -1, 1);
        bufs.push_back(b);
    }
    auto forward = [](const Buffers& b) { matmul(b.y, b.x, b.w.transpose(0, 1)); };  // y (N, out) = x W^T
    auto backward = [](const Buffers& b) {  // dx = dy W, dW = dy^T x
        linear_backward_products(b.dx, 0.0f, b.dw, 0.0f, b.dy, b.x, b.w);
    };
    const auto t0 = Clock::now();  // untimed warm-up; sizes the repeats to about a second
    for (const Buffers& b : bufs) {
        forward(b);
        backward(b);
    }
    const int64_t reps = repeats_within(1000, ms_since(t0), 15);
    // Each layer's forward, then its backward pair, on their own, warm (the
    // operands in cache): timed as one pass over all layers, the products
    // came out slower than inside a step.
    double total = 0;
    for (const Buffers& b : bufs)
        total += fastest_ms([&] { forward(b); }, reps) + fastest_ms([&] { backward(b); }, reps);
    return total;
}

double attention_products_ms(const GPTConfig& c, int64_t B) {
    int64_t attention_blocks = 0;
    for (const std::string& m : block_mixers(c)) attention_blocks += find_mixer_kind(m, MixerUse::mixer).nanogpt;
    if (attention_blocks == 0) return 0;
    Tensor qkv = empty({B, c.block_size, 3 * c.n_embd}), dqkv = zeros(qkv.shape), dout = zeros({B, c.block_size, c.n_embd});
    Rng rng{13, 0};
    fill_uniform(qkv, rng, -1, 1);
    auto run = [&] { causal_attention_products(qkv, c.n_head, dqkv, dout); };
    const auto t0 = Clock::now();  // untimed warm-up; sizes the repeats
    run();
    return static_cast<double>(attention_blocks) * fastest_ms(run, repeats_within(300, ms_since(t0), 50));
}

// What an op must move at least, outside the products. An op that computes
// values reads at least as many floats as it writes (or all its inputs, if
// fewer), and writes its output in the forward and, in the backward, the
// gradient of each input that wants one, which means reading at least as
// much again. Views move nothing (their forward shares the storage; their
// backward is counted as nothing too, to stay a floor), nor does a
// gradient handed on unchanged (add's first input takes dy's buffer). The
// products' operands are the products' share of the bound: the linear
// layers', and the attention kernel's (its products read q, k, v and write
// dq, dk, dv).
std::vector<int64_t> tape_traffic_floats() {
    std::vector<int64_t> forward, backward;
    for (const Node* n : tape_nodes()) {
        switch (n->op) {
            case Op::matmul: case Op::linear: case Op::causal_attention:
            case Op::reshape: case Op::transpose: case Op::permute: case Op::slice: case Op::contiguous:
                continue;
            default: break;
        }
        const int64_t out = n->shape.numel();
        int64_t inputs = 0, gradients = 0;
        for (int i = 0; i < kMaxInputs; i++) {
            if (!n->inputs[i]) continue;
            const int64_t numel = n->inputs[i]->shape.numel();
            inputs += numel;
            const bool handed_on = i == 0 && (n->op == Op::add || n->op == Op::sub || n->op == Op::add_scalar);
            if (!handed_on) gradients += 2 * numel;
        }
        forward.push_back(out + std::min(out, inputs));
        backward.push_back(gradients);
    }
    forward.insert(forward.end(), backward.rbegin(), backward.rend());
    return forward;
}

double other_ops_traffic_ms(const GPTConfig& c, int64_t B, int64_t ring_floats) {
    std::vector<int64_t> floats;
    {
        GPT model = make_gpt(c, 0);
        Rng rng{17, 0}, drop{2, 0};
        Var loss = cross_entropy(gpt_forward(model, random_ids({B, c.block_size}, c.vocab_size, rng), true, drop),
                                 random_ids({B, c.block_size}, c.vocab_size, rng));
        floats = tape_traffic_floats();
        clear_tape();
    }
    // Each op copies half its floats, every thread its share: it reads them
    // where it wrote the op before's (in cache, as a step's ops mostly find
    // their input) and writes them after that, walking a ring of its own as
    // large as its share of the step's traffic (at most ring_floats in all).
    // No barrier between ops: what is timed is the traffic, not the threads'
    // meetings.
    const int threads = omp_get_max_threads();
    int64_t total = 0, largest = 0;
    for (int64_t f : floats) {
        total += f / 2 / threads + 1;
        largest = std::max(largest, f / 2 / threads + 1);
    }
    // Writes wrap at write_end; the last `largest` floats beyond it are only
    // read (an op may read more than the op before wrote).
    const int64_t write_end = std::max(std::min<int64_t>(total, ring_floats / threads), 2 * largest) + largest;
    const auto ring_size = static_cast<size_t>(write_end + largest);
    std::vector<std::vector<float>> rings(static_cast<size_t>(threads));
    auto run = [&] {
        #pragma omp parallel num_threads(threads)
        {
            std::vector<float>& ring = rings[static_cast<size_t>(omp_get_thread_num())];
            if (ring.empty()) ring.assign(ring_size, 1.0f);  // first touch by its thread
            const int64_t t = omp_get_thread_num();
            const float* from = ring.data();
            int64_t at = largest;
            for (int64_t f : floats) {
                const int64_t n = f / 2 / threads + (t < f / 2 % threads ? 1 : 0);
                if (at + n > write_end) at = 0;  // clear of `from`: write_end holds 3 of the largest
                float* to = ring.data() + at;
                for (int64_t i = 0; i < n; i++) to[i] = from[i];  // from + n may run into `to`: no simd promise
                from = to;
                at += n;
            }
        }
    };
    run();  // untimed: fills the rings
    const auto t0 = Clock::now();  // untimed too: sizes the repeats
    run();
    return fastest_ms(run, repeats_within(300, ms_since(t0), 50));
}

double optimizer_traffic_ms(int64_t n_parameters) {
    // AdamW reads parameter, gradient and both moments and writes three of
    // them back (28 bytes a parameter), clipping reads the gradient (4): as
    // many bytes as copying 2 floats a parameter there and back, over as much
    // memory as those four arrays (so it is in cache where they would be).
    const int64_t n = 2 * n_parameters;
    std::vector<float> a(static_cast<size_t>(n), 1.0f), b(static_cast<size_t>(n), 0.0f);
    auto copy = [n](float* to, const float* from) {
        #pragma omp parallel for simd if (n > (1 << 15))
        for (int64_t i = 0; i < n; i++) to[i] = from[i];
    };
    return fastest_ms(
        [&] {
            copy(b.data(), a.data());
            copy(a.data(), b.data());
        },
        30);
}

StepBound measure_step_bound(const GPTConfig& c, int64_t B, int64_t n_parameters) {
    StepBound bound;
    bound.linear_ms = linear_products_ms(c, B);
    bound.attention_ms = attention_products_ms(c, B);
    bound.optimizer_ms = optimizer_traffic_ms(n_parameters);
    bound.other_ops_ms = other_ops_traffic_ms(c, B);
    pool_release_idle();
    return bound;
}

double measure_sgemm_gflops() {
    const int64_t n = 1024;
    Tensor a = empty({n, n}), b = empty({n, n}), c = empty({n, n});
    Rng rng{7, 0};
    fill_uniform(a, rng, -1, 1);
    fill_uniform(b, rng, -1, 1);
    // Untimed first: the first calls start threads, touch fresh pages and may
    // meet a clock still ramping up, and would understate the peak.
    for (const auto start = Clock::now(); ms_since(start) < 150;) matmul(c, a, b);
    double best = 1e30;
    for (int i = 0; i < 12; i++) {
        const auto t0 = Clock::now();
        matmul(c, a, b);
        best = std::min(best, ms_since(t0));
    }
    return 2.0 * n * n * n / (best * 1e6);
}

BusyCore::BusyCore(int nice_level) {
    pid_ = fork();
    if (pid_ == 0) {  // the child only spins: it touches no OpenMP or BLAS state
        setpriority(PRIO_PROCESS, 0, nice_level);
        alarm(600);
        for (volatile uint64_t i = 0;; i = i + 1) {
        }
    }
    if (pid_ < 0) fail("bench", "could not start the busy process (fork failed)");
    // Time a program that is already running: for its first tenths of a
    // second the scheduler is still placing it, and steps then swing 2x.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
}

BusyCore::~BusyCore() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
}

double peak_memory_mib() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
#if defined(__APPLE__)
    return static_cast<double>(usage.ru_maxrss) / (1024.0 * 1024.0);  // bytes on macOS
#else
    return static_cast<double>(usage.ru_maxrss) / 1024.0;  // KiB on Linux
#endif
}

void reset_peak_memory() {
    std::ofstream("/proc/self/clear_refs") << "5";  // Linux: the peak restarts from what is resident now
}

namespace {

// The --ops table: each op's forward and backward per step, the optimizer's
// parts, and what is left (the loss's backward start, clearing the tape),
// largest first.
void print_op_times(const OpTimes& ops, const double optimizer_ms[3], const std::vector<double>& times,
                    std::ostream& log) {
    const double steps = static_cast<double>(times.size());
    double step_ms = 0;
    for (double t : times) step_ms += t;
    step_ms /= steps;
    struct Row {
        std::string name;
        double forward, backward;
    };
    std::vector<Row> rows;
    double tracked = 0;
    for (int i = 0; i < static_cast<int>(Op::count); i++) {
        const double f = ops.forward_ms[i] / steps, b = ops.backward_ms[i] / steps;
        if (f + b > 0) rows.push_back({op_name(static_cast<Op>(i)), f, b});
        tracked += f + b;
    }
    const char* parts[3] = {"clip_grad_norm", "adamw_step", "zero_grad"};
    for (int i = 0; i < 3; i++) {
        rows.push_back({parts[i], optimizer_ms[i] / steps, -1});
        tracked += optimizer_ms[i] / steps;
    }
    std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
        return a.forward + std::max(a.backward, 0.0) > b.forward + std::max(b.backward, 0.0);
    });
    rows.push_back({"rest (loss backward start, tape clearing)", step_ms - tracked, -1});
    log << "  where a step goes (mean ms per timed step; forward = the op's kernel and the code up to it):\n"
        << "    op                                          forward   backward   share\n";
    for (const Row& r : rows) {
        const double total = r.forward + std::max(r.backward, 0.0);
        std::string name = r.name;
        name.resize(std::max<size_t>(name.size(), 42), ' ');
        log << "    " << name << fmt("%9.3f", r.forward)
            << (r.backward >= 0 ? fmt("%11.3f", r.backward) : std::string(11, ' '))
            << fmt("%7.1f%%", 100.0 * total / step_ms)
            << "\n";
    }
}

}  // namespace

TrainBench bench_train(const BenchOptions& o, std::ostream& log) {
    GPT model = make_gpt(o.model, 1337);
    std::vector<Parameter*> params = gpt_parameters(model);
    AdamW opt = make_adamw(params, AdamWConfig{});
    Rng data{1, 0}, drop{2, 0};
    const int64_t B = o.batch_size, T = o.model.block_size;
    std::vector<double> times;
    ThreadGovernor governor = make_thread_governor();
    std::vector<int> threads_used;
    OpTimes ops;                    // --ops: summed over the timed steps
    double optimizer_ms[3] = {};    // clip, AdamW, zero_grad
    for (int64_t step = 0; step < o.warmup + o.steps; step++) {
        Ids x = random_ids({B, T}, o.model.vocab_size, data), y = random_ids({B, T}, o.model.vocab_size, data);
        const int threads = governor_begin(governor);
        const bool timing_ops = o.ops && step >= o.warmup;
        if (timing_ops) set_op_times(&ops);
        const auto t0 = Clock::now();
        {
            Autocast autocast(o.dtype);  // as train_step does
            Var loss = cross_entropy(gpt_forward(model, x, true, drop), y);
            backward(loss);
        }
        auto t1 = Clock::now();
        clip_grad_norm(params, 1.0f);
        auto t2 = Clock::now();
        adamw_step(opt, 1e-4f);
        auto t3 = Clock::now();
        zero_grad(params);
        const double ms = ms_since(t0);
        if (timing_ops) {
            set_op_times(nullptr);
            optimizer_ms[0] += std::chrono::duration<double, std::milli>(t2 - t1).count();
            optimizer_ms[1] += std::chrono::duration<double, std::milli>(t3 - t2).count();
            optimizer_ms[2] += ms_since(t3);
        }
        governor_end(governor, ms);
        if (step >= o.warmup) {
            times.push_back(ms);
            threads_used.push_back(threads);
        }
    }
    // The mean next to the median: the governor's trials are a few slow
    // steps, which the median hides and the run's length does not.
    double mean = 0;
    for (double t : times) mean += t / static_cast<double>(times.size());
    std::sort(times.begin(), times.end());
    std::sort(threads_used.begin(), threads_used.end());
    log << "  timed " << o.steps << " steps after " << o.warmup << " warm-up steps: fastest "
        << fmt("%.2f", times.front()) << " ms, mean " << fmt("%.2f", mean) << " ms, slowest "
        << fmt("%.2f", times.back()) << " ms, threads "
        << threads_used.front() << (threads_used.front() == threads_used.back() ? "" : "-" + std::to_string(threads_used.back()))
        << "\n";
    if (o.ops) print_op_times(ops, optimizer_ms, times, log);
    TrainBench r;
    r.median_ms = median(times);
    r.tokens_per_s = static_cast<double>(B * T) / (r.median_ms / 1000.0);
    r.gflops = train_step_flops(o.model, B) / (r.median_ms * 1e6);
    return r;
}

void bench_generate(const BenchOptions& o, std::ostream& log) {
    GPTConfig c = o.model;
    c.block_size = std::max(c.block_size, *std::max_element(o.contexts.begin(), o.contexts.end()) + o.new_tokens);
    GPT model = make_gpt(c, 1337);
    Rng rng{3, 0};
    log << "generation, one sequence, " << o.new_tokens << " new tokens per context (tokens/s):\n";
    log << "  context   incremental   full recompute   ratio\n";
    for (int64_t ctx : o.contexts) {
        Ids prompt = random_ids({1, ctx + o.new_tokens}, c.vocab_size, rng);
        // Incremental: fill the state with ctx tokens, then time the next ones.
        // The filling also lets the thread governor make its first choice.
        GPTState state = make_gpt_state(model, 1);
        ThreadGovernor governor = make_thread_governor();
        for (int64_t t = 0; t < ctx; t++) {
            GovernedRepeat timed(governor);
            gpt_step(model, state, prompt.data() + t);
        }
        auto t0 = Clock::now();
        for (int64_t t = ctx; t < ctx + o.new_tokens; t++) {
            GovernedRepeat timed(governor);
            gpt_step(model, state, prompt.data() + t);
        }
        const double incremental = static_cast<double>(o.new_tokens) / (ms_since(t0) / 1000.0);
        // Full recompute: a forward over the whole context for every new token.
        NoGrad no_grad;
        Rng unused{0, 0};
        const int64_t reps = std::max<int64_t>(2, std::min<int64_t>(o.new_tokens, 8));
        ThreadGovernor full_governor = make_thread_governor();
        auto forward_window = [&](int64_t i) {
            GovernedRepeat timed(full_governor);
            std::vector<int> window(prompt.data() + i, prompt.data() + i + ctx);
            gpt_forward(model, make_ids({1, ctx}, std::move(window)), false, unused);
        };
        for (int64_t i = 0; i < 12; i++) forward_window(i % reps);  // untimed: the governor's first choice
        t0 = Clock::now();
        for (int64_t i = 0; i < reps; i++) forward_window(i);
        const double full = static_cast<double>(reps) / (ms_since(t0) / 1000.0);
        log << "  " << fmt("%7.0f", static_cast<double>(ctx)) << "   " << fmt("%11.0f", incremental) << "   "
            << fmt("%14.1f", full) << "   " << fmt("%5.1fx", incremental / full) << "\n";
    }
}

}  // namespace cg
