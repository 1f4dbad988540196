// causalgrad bench
#include "cli/commands.h"

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <sstream>

#include "cli/options.h"
#include "tensor/kernels.h"
#include "tensor/runtime_setup.h"
#include "train/resources.h"
#include "tools/bench.h"

namespace cg {

int cmd_bench(int argc, char** argv) {
    BenchOptions b;
    std::string what = "train", contexts = "64,256,1024", load = "none", dtype = "float32";
    int threads = 0;
    cxxopts::Options o("causalgrad bench", "Time training steps (forward, backward, clip, AdamW) after warm-up on random "
                                           "tokens, or generation (--what=generate), for the model the flags describe.");
    add_model_options(o, b.model);
    o.add_options("bench")("what", "train or generate", cxxopts::value(what)->default_value(what))(
        "batch_size", "sequences per step", cxxopts::value(b.batch_size)->default_value("12"))(
        "steps", "timed steps", cxxopts::value(b.steps)->default_value("20"))(
        "warmup", "untimed steps first (the thread count is chosen during them)", cxxopts::value(b.warmup)->default_value(std::to_string(b.warmup)))(
        "contexts", "context lengths for --what=generate", cxxopts::value(contexts)->default_value(contexts))(
        "new_tokens", "timed tokens per context for --what=generate", cxxopts::value(b.new_tokens)->default_value("64"))(
        "threads", "threads (0: 1 or all cores, chosen by measuring as training does)",
        cxxopts::value(threads)->default_value("0"))(
        "load", "none; busy: a CPU-bound process runs beside the timing; busy-nice: the same at nice 19",
        cxxopts::value(load)->default_value(load))(
        "ops", "also print where a training step's time goes, op by op (forward, backward, optimizer)",
        cxxopts::value(b.ops)->default_value("false"))(
        "dtype", "float32, or bfloat16: the matrix products read bf16 operands (CPUs with AVX512_BF16)",
        cxxopts::value(dtype)->default_value(dtype));
    if (!parse(o, argc, argv)) return 0;
    if (what != "train" && what != "generate") fail("bench", "--what must be train or generate, got '" + what + "'");
    if (b.ops && what != "train") fail("bench", "--ops splits a training step by op; drop it or use --what=train");
    if (load != "none" && load != "busy" && load != "busy-nice")
        fail("bench", "--load must be none, busy or busy-nice, got '" + load + "'");
    if (b.steps < 1 || b.warmup < 0 || b.batch_size < 1 || b.new_tokens < 1)
        fail("bench", "need steps >= 1, warmup >= 0, batch_size >= 1, new_tokens >= 1");
    b.contexts.clear();
    std::stringstream ss(contexts);
    for (std::string item; std::getline(ss, item, ',');) {
        char* end = nullptr;
        const long long n = std::strtoll(item.c_str(), &end, 10);
        if (item.empty() || end != item.c_str() + item.size() || n < 1 || n > (1 << 20))
            fail("bench", "--contexts takes lengths from 1 to 1048576 separated by commas, got '" + contexts + "'");
        b.contexts.push_back(n);
    }
    if (b.contexts.empty()) fail("bench", "--contexts needs at least one length");
    validate_config(b.model);
    b.dtype = parse_dtype(dtype, "bench");
    check_fits_in_memory(training_bytes(b.model, b.batch_size), "bench");
    const int n_threads = use_threads(threads, "bench");
    double peak = 0;
    {
        Autocast autocast(b.dtype);  // the peak in the products' precision
        peak = measure_sgemm_gflops();
    }
    const std::string bf16_missing = bf16_unsupported_reason();
    const char* peak_name = b.dtype == Dtype::bfloat16 ? "bf16 product peak" : "sgemm peak";
    GPT probe = make_gpt(b.model, 1);
    std::cout << "causalgrad bench (" << what << ", " << dtype_name(b.dtype) << ")\n"
              << "  bf16 products: " << (bf16_missing.empty() ? "yes (AVX512_BF16)" : "no, this CPU lacks " + bf16_missing) << "\n"
              << "  threads: " << (threads > 0 ? std::to_string(n_threads) : "1 or " + std::to_string(n_threads) + ", chosen by measuring")
              << " (OpenBLAS " << blas_num_threads() << " inside each; idle threads: " << omp_wait_setting() << ")\n"
              << "  load: " << (load == "none" ? "none beside this process" : load == "busy" ? "one CPU-bound process at nice 0"
                                                                                             : "one CPU-bound process at nice 19") << "\n"
              << "  OpenBLAS core: " << blas_core_name() << ", our kernels built for " << built_for_isa() << "\n"
              << "  model: n_layer " << b.model.n_layer << ", n_head " << b.model.n_head << ", n_embd " << b.model.n_embd
              << ", block_size " << b.model.block_size << ", mixer " << b.model.mixer << ", "
              << count_parameters(probe, false) << " parameters\n";
    check_stdout("bench");  // before the timing, whose only result is what it prints
    // The bound is measured before any busy process starts: it is the machine's.
    StepBound bound;
    if (what == "train") {
        Autocast autocast(b.dtype);
        bound = measure_step_bound(b.model, b.batch_size, count_parameters(probe, false));
    }
    reset_peak_memory();
    std::optional<BusyCore> busy;
    if (load != "none") busy.emplace(load == "busy" ? 0 : 19);
    if (what == "generate") {
        {
            Autocast autocast(b.dtype);  // the weights do not change: their bf16 copies serve every token
            bench_generate(b, std::cout);
        }
        std::cout << "  peak memory: " << static_cast<int64_t>(peak_memory_mib()) << " MiB\n";
        return 0;
    }
    const double flops = train_step_flops(b.model, b.batch_size);
    std::cout << "  batch_size: " << b.batch_size << " (" << b.batch_size * b.model.block_size << " tokens per step)\n"
              << "  FLOPs per step: " << flops / 1e9 << " GFLOP (matrix products, forward + backward)\n"
              << "  " << peak_name << ": " << peak
              << " GFLOP/s (1024^3, measured now)\n";
    std::cout << "  linear layers' products alone: " << bound.linear_ms
              << " ms/step (each product timed apart, warm, the fastest of its repeats)\n";
    std::cout << "  bound: " << bound.total() << " ms/step (those products + the attention kernel's products "
              << bound.attention_ms << " + the other ops' least memory traffic " << bound.other_ops_ms
              << " + the optimizer's " << bound.optimizer_ms << ", each timed apart: a floor under the step)\n";
    TrainBench r = bench_train(b, std::cout);
    char line[256];
    std::snprintf(line, sizeof(line), "bench: %.2f ms/step, %.0f tok/s, %.1f GFLOP/s (%.0f%% of %s)", r.median_ms,
                  r.tokens_per_s, r.gflops, 100.0 * r.gflops / peak, peak_name);
    std::cout << "  peak memory: " << static_cast<int64_t>(peak_memory_mib()) << " MiB\n" << line << "\n";
    return 0;
}

}  // namespace cg
