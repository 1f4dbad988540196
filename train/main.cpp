// causalgrad: the command line. Each subcommand parses its options (cxxopts),
// calls the library, and turns any error into one line on stderr and exit 1.
#include <cxxopts.hpp>
#include <fstream>
#include <iostream>
#include <sstream>

#include "data/prepare.h"
#include "train/bench.h"
#include "train/blas_core.h"
#include "tensor/kernels.h"
#include "train/checkpoint.h"
#include "train/evaluate.h"
#include "train/export.h"
#include "train/options.h"
#include "train/plot.h"
#include "train/sample.h"
#include "train/train.h"

namespace {

using namespace cg;

constexpr const char* kUsage =
    "usage: causalgrad <command> [options]   (causalgrad <command> --help for its options)\n"
    "\n"
    "commands:\n"
    "  prepare   turn a UTF-8 text file into character tokens (train.bin, val.bin, vocab.txt)\n"
    "  train     train a GPT with attention or a replacement mixer; checkpoints to out_dir\n"
    "  sample    generate text from a checkpoint\n"
    "  eval      val loss of a checkpoint on full sequences and token by token\n"
    "  export    write a checkpoint's weights as safetensors with nanoGPT's names\n"
    "  bench     time training steps (or generation) of a configuration on this machine\n"
    "  plot      draw the loss curves of one or more runs (their log.csv) into an SVG\n";

// Parses argv[2..]; returns false after printing --help.
bool parse(cxxopts::Options& options, int argc, char** argv, bool with_config = false) {
    options.add_options()("h,help", "show this help");
    if (with_config) options.add_options()("config", "read key = value settings from FILE first (the command line wins)",
                                           cxxopts::value<std::string>());
    cxxopts::ParseResult r = with_config ? parse_with_config(options, argc, argv, 2) : options.parse(argc - 1, argv + 1);
    if (r.count("help")) {
        std::cout << options.help();
        return false;
    }
    return true;
}

int cmd_prepare(int argc, char** argv) {
    std::string input = "data/tinyshakespeare/input.txt", out_dir = "data/shakespeare_char";
    cxxopts::Options o("causalgrad prepare", "Character-level tokens of a UTF-8 text: the sorted set of its characters is the "
                                             "vocabulary, the first 90% trains, the last 10% validates.");
    o.add_options()("input", "UTF-8 text file", cxxopts::value(input)->default_value(input))(
        "out_dir", "folder for train.bin, val.bin, vocab.txt", cxxopts::value(out_dir)->default_value(out_dir));
    if (!parse(o, argc, argv)) return 0;
    PrepareSummary s = prepare_text(input, out_dir);
    std::cout << "vocab " << s.vocab_size << ", " << with_commas(static_cast<int64_t>(s.train_tokens)) << " train and "
              << with_commas(static_cast<int64_t>(s.val_tokens)) << " val tokens -> " << out_dir << "\n";
    return 0;
}

int cmd_train(int argc, char** argv) {
    TrainConfig config;
    cxxopts::Options o("causalgrad train", "Train a GPT on character tokens. Defaults: nanoGPT's CPU run of "
                                           "shakespeare_char (about 0.8M parameters with attention).");
    add_train_options(o, config);
    if (!parse(o, argc, argv, true)) return 0;
    train(config, std::cout);
    return 0;
}

Checkpoint load_from(const std::string& out_dir) { return load_checkpoint(out_dir + "/ckpt.bin"); }

int cmd_sample(int argc, char** argv) {
    std::string out_dir = "out";
    SampleOptions s;
    int threads = 0;
    cxxopts::Options o("causalgrad sample", "Generate text from out_dir/ckpt.bin, one token at a time through the "
                                            "key/value cache and the mixers' running state.");
    o.add_options()("out_dir", "folder holding ckpt.bin", cxxopts::value(out_dir)->default_value(out_dir))(
        "start", "text to continue", cxxopts::value(s.start)->default_value("\n"))(
        "num_samples", "samples to draw", cxxopts::value(s.num_samples)->default_value("1"))(
        "max_new_tokens", "tokens per sample", cxxopts::value(s.max_new_tokens)->default_value("500"))(
        "temperature", "< 1 sharper, > 1 more random, 0 greedy", cxxopts::value(s.temperature)->default_value("0.8"))(
        "top_k", "sample among the k most likely tokens (0: all)", cxxopts::value(s.top_k)->default_value("200"))(
        "seed", "random seed", cxxopts::value(s.seed)->default_value("1337"))(
        "path", "step: token by token through the cache and running state; full: a forward over the context "
                "for every token (nanoGPT's way)", cxxopts::value(s.path)->default_value(s.path))(
        "allow_leak", "sample a model whose mixer sees future tokens (pair_max+gavg...) anyway",
        cxxopts::value(s.allow_leak)->default_value("false"))(
        "threads", "OpenMP threads (0: all cores)", cxxopts::value(threads)->default_value("0"));
    if (!parse(o, argc, argv)) return 0;
    set_num_threads(threads);
    Checkpoint c = load_from(out_dir);
    std::vector<std::string> texts = generate(c.model, c.vocab, s);
    for (size_t i = 0; i < texts.size(); i++) std::cout << texts[i] << "\n" << (i + 1 < texts.size() ? "---------------\n" : "");
    return 0;
}

int cmd_eval(int argc, char** argv) {
    std::string out_dir = "out", data_dir;
    int64_t eval_iters = 20, batch_size = 0;
    int threads = 0;
    bool token_by_token = true;
    cxxopts::Options o("causalgrad eval", "Val loss of out_dir/ckpt.bin computed two ways: on full sequences (teacher "
                                          "forcing) and token by token through the incremental path. A causal model "
                                          "gives the same number both ways; a leaking one does not.");
    o.add_options()("out_dir", "folder holding ckpt.bin", cxxopts::value(out_dir)->default_value(out_dir))(
        "data_dir", "token folder (default: the checkpoint's)", cxxopts::value(data_dir))(
        "eval_iters", "batches", cxxopts::value(eval_iters)->default_value("20"))(
        "batch_size", "sequences per batch (default: the checkpoint's)", cxxopts::value(batch_size)->default_value("0"))(
        "token_by_token", "also the token-by-token loss (slow for big models; false: full sequences only)",
        cxxopts::value(token_by_token)->default_value("true"))(
        "threads", "OpenMP threads (0: all cores)", cxxopts::value(threads)->default_value("0"));
    if (!parse(o, argc, argv)) return 0;
    set_num_threads(threads);
    Checkpoint c = load_from(out_dir);
    Dataset data = load_dataset(data_dir.empty() ? c.config.data_dir : data_dir);
    if (data.vocab != c.vocab) fail("eval", "the data's vocabulary differs from the checkpoint's");
    const int64_t B = batch_size > 0 ? batch_size : c.config.batch_size, T = c.config.model.block_size;
    if (eval_iters < 1) fail("eval", "eval_iters must be at least 1");
    const uint64_t seed = 0xE7A1ull;
    std::cout << "parameters: " << count_parameters(c.model, false) << " (" << count_parameters(c.model, true)
              << " without position embeddings)\n";
    std::cout << "step: " << c.state.step << "\n";
    std::cout << "val batches: " << eval_iters << " of " << B << " x " << T << " tokens\n";
    std::cout << "val loss (full sequences): " << estimate_loss(c.model, data.val, B, T, eval_iters, seed) << "\n";
    if (token_by_token)
        std::cout << "val loss (token by token): "
                  << estimate_loss_token_by_token(c.model, data.val, B, T, eval_iters, seed) << "\n";
    return 0;
}

int cmd_export(int argc, char** argv) {
    std::string out_dir = "out", to;
    cxxopts::Options o("causalgrad export", "Write the weights of out_dir/ckpt.bin as safetensors, named as nanoGPT's "
                                            "state_dict, with the model config in __metadata__.");
    o.add_options()("out_dir", "folder holding ckpt.bin", cxxopts::value(out_dir)->default_value(out_dir))(
        "to", "output file (default: out_dir/model.safetensors)", cxxopts::value(to));
    if (!parse(o, argc, argv)) return 0;
    Checkpoint c = load_from(out_dir);
    if (to.empty()) to = out_dir + "/model.safetensors";
    export_safetensors(c.model, to);
    std::cout << "wrote " << to << " (" << gpt_parameters(c.model).size() << " tensors)\n";
    return 0;
}

int cmd_bench(int argc, char** argv) {
    BenchOptions b;
    std::string what = "train", contexts = "64,256,1024";
    int threads = 0;
    cxxopts::Options o("causalgrad bench", "Time training steps (forward, backward, clip, AdamW) after warm-up on random "
                                           "tokens, or generation (--what=generate), for the model the flags describe.");
    add_model_options(o, b.model);
    o.add_options("bench")("what", "train or generate", cxxopts::value(what)->default_value(what))(
        "batch_size", "sequences per step", cxxopts::value(b.batch_size)->default_value("12"))(
        "steps", "timed steps", cxxopts::value(b.steps)->default_value("20"))(
        "warmup", "untimed steps first", cxxopts::value(b.warmup)->default_value("3"))(
        "contexts", "context lengths for --what=generate", cxxopts::value(contexts)->default_value(contexts))(
        "new_tokens", "timed tokens per context for --what=generate", cxxopts::value(b.new_tokens)->default_value("64"))(
        "threads", "OpenMP and OpenBLAS threads (0: all cores)", cxxopts::value(threads)->default_value("0"));
    if (!parse(o, argc, argv)) return 0;
    if (what != "train" && what != "generate") fail("bench", "--what must be train or generate, got '" + what + "'");
    if (b.steps < 1 || b.warmup < 0 || b.batch_size < 1 || b.new_tokens < 1)
        fail("bench", "need steps >= 1, warmup >= 0, batch_size >= 1, new_tokens >= 1");
    b.contexts.clear();
    std::stringstream ss(contexts);
    for (std::string item; std::getline(ss, item, ',');) b.contexts.push_back(std::stoll(item));
    if (b.contexts.empty()) fail("bench", "--contexts needs at least one length");
    validate_config(b.model);
    const int n_threads = set_num_threads(threads);
    const double peak = measure_sgemm_gflops();
    GPT probe = make_gpt(b.model, 1);
    std::cout << "causalgrad bench (" << what << ")\n"
              << "  threads: OpenMP " << n_threads << ", OpenBLAS " << blas_num_threads() << "\n"
              << "  OpenBLAS core: " << blas_core_name() << "\n"
              << "  model: n_layer " << b.model.n_layer << ", n_head " << b.model.n_head << ", n_embd " << b.model.n_embd
              << ", block_size " << b.model.block_size << ", mixer " << b.model.mixer << ", "
              << count_parameters(probe, false) << " parameters\n";
    if (what == "generate") {
        bench_generate(b, std::cout);
        std::cout << "  peak memory: " << static_cast<int64_t>(peak_memory_mib()) << " MiB\n";
        return 0;
    }
    const double flops = train_step_flops(b.model, b.batch_size);
    std::cout << "  batch_size: " << b.batch_size << " (" << b.batch_size * b.model.block_size << " tokens per step)\n"
              << "  FLOPs per step: " << flops / 1e9 << " GFLOP (matrix products, forward + backward)\n"
              << "  sgemm peak: " << peak << " GFLOP/s (1024^3, measured now)\n";
    TrainBench r = bench_train(b, std::cout);
    char line[256];
    std::snprintf(line, sizeof(line), "bench: %.2f ms/step, %.0f tok/s, %.1f GFLOP/s (%.0f%% of sgemm peak)", r.median_ms,
                  r.tokens_per_s, r.gflops, 100.0 * r.gflops / peak);
    std::cout << "  peak memory: " << static_cast<int64_t>(peak_memory_mib()) << " MiB\n" << line << "\n";
    return 0;
}

// A run folder or log.csv path: the log.csv it names.
std::string log_path(const std::string& run) {
    const bool is_csv = run.size() > 4 && run.substr(run.size() - 4) == ".csv";
    return is_csv ? run : run + "/log.csv";
}

int cmd_plot(int argc, char** argv) {
    PlotOptions p;
    std::string to = "loss.svg";
    cxxopts::Options o("causalgrad plot", "Loss curves of runs as an SVG: give their out_dirs (or log.csv paths). "
                                          "LABEL=RUN1,RUN2,... draws the mean of several runs (seeds) as one curve "
                                          "with a min-max band. Example: causalgrad plot out-attn "
                                          "pair_max=out-pm-1,out-pm-2 --to=curves.svg");
    o.add_options()("to", "output SVG file (a new file, or an existing .svg)", cxxopts::value(to)->default_value(to))(
        "title", "title line", cxxopts::value(p.title)->default_value(p.title))(
        "log_steps", "log-scale step axis", cxxopts::value(p.log_steps)->default_value("false"))(
        "train", "draw the per-step training loss too", cxxopts::value(p.train)->default_value("true"))(
        "from_step", "leave out the steps before this one", cxxopts::value(p.from_step)->default_value("0"));
    o.positional_help("[LABEL=]RUN[,RUN...]...");
    // The runs are the arguments that are not options; taken as they are, since
    // a positional option of cxxopts would split them at the commas.
    if (!parse(o, argc, argv)) return 0;
    const std::vector<std::string> runs = o.parse(argc - 1, argv + 1).unmatched();
    if (runs.empty()) fail("plot", "give at least one run folder (e.g. out-attn) or log.csv");
    std::vector<PlotGroup> groups;
    for (const std::string& arg : runs) {
        const size_t eq = arg.find('=');
        PlotGroup g{eq == std::string::npos ? arg : arg.substr(0, eq), {}};
        std::stringstream list(eq == std::string::npos ? arg : arg.substr(eq + 1));
        for (std::string run; std::getline(list, run, ',');) {
            if (run.empty()) fail("plot", "an empty run name in '" + arg + "'");
            g.runs.push_back(read_log_csv(log_path(run), run));
            if (g.runs.back().non_finite > 0)
                std::cout << "plot: " << log_path(run) << ": " << g.runs.back().non_finite
                          << " losses are inf or nan; left out\n";
        }
        if (g.runs.empty()) fail("plot", "no run in '" + arg + "'");
        groups.push_back(std::move(g));
    }
    write_svg(to, plot_svg(groups, p));
    std::cout << "wrote " << to << "\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    ensure_fast_blas_core(argv);
    if (argc < 2 || std::string(argv[1]) == "-h" || std::string(argv[1]) == "--help") {
        std::cout << kUsage;
        return argc < 2 ? 1 : 0;
    }
    const std::string command = argv[1];
    try {
        if (command == "prepare") return cmd_prepare(argc, argv);
        if (command == "train") return cmd_train(argc, argv);
        if (command == "sample") return cmd_sample(argc, argv);
        if (command == "eval") return cmd_eval(argc, argv);
        if (command == "export") return cmd_export(argc, argv);
        if (command == "plot") return cmd_plot(argc, argv);
        if (command == "bench") return cmd_bench(argc, argv);
        std::cerr << "causalgrad: unknown command '" << command << "'\n" << kUsage;
        return 2;
    } catch (const cxxopts::exceptions::exception& e) {
        std::cerr << "causalgrad " << command << ": " << e.what() << " (see causalgrad " << command << " --help)\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "causalgrad " << command << ": " << e.what() << "\n";
        return 1;
    }
}
