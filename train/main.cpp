// causalgrad: the command line. Each subcommand parses its options (cxxopts),
// calls the library, and turns any error into one line on stderr: exit 1 for
// a failure, 2 for a bad option, 128 + signal when a signal stopped the work.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <new>
#include <optional>
#include <sstream>

#include "data/prepare.h"
#include "train/bench.h"
#include "train/runtime_setup.h"
#include "tensor/kernels.h"
#include "train/attention_view.h"
#include "train/checkpoint.h"
#include "train/evaluate.h"
#include "train/export.h"
#include "train/import.h"
#include "train/options.h"
#include "train/plot.h"
#include "train/process_group.h"
#include "train/resources.h"
#include "train/run_lock.h"
#include "train/safe_file.h"
#include "train/sample.h"
#include "train/stop_signal.h"
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
    "  import    make a checkpoint from a safetensors file with nanoGPT's names (from PyTorch, say)\n"
    "  bench     time training steps (or generation) of a configuration on this machine\n"
    "  plot      draw the loss curves of one or more runs (their log.csv) into an SVG\n";

// A bad option: reported with exit status 2, like cxxopts' own errors.
struct OptionError : Error {
    using Error::Error;
};

// Parses argv[2..] strictly (see parse_strict); returns false after printing --help.
bool parse(cxxopts::Options& options, int argc, char** argv, bool with_config = false,
           cxxopts::ParseResult* result = nullptr, bool positional = false) {
    options.add_options()("h,help", "show this help");
    if (with_config) options.add_options()("config", "read key = value settings from FILE first (the command line wins)",
                                           cxxopts::value<std::string>());
    cxxopts::ParseResult r;
    try {
        r = with_config ? parse_with_config(options, argc, argv, 2)
                        : parse_strict(options, std::vector<std::string>(argv + 2, argv + argc), positional);
    } catch (const Error& e) {
        throw OptionError(e.what());
    }
    if (r.count("help")) {
        std::cout << options.help();
        return false;
    }
    if (result) *result = r;
    return true;
}

// Sets the thread count after checking it is sane for this machine.
int use_threads(int threads, const char* op) {
    check_thread_count(threads, op);
    return set_num_threads(threads);
}

// Standard output that could not be written (a closed pipe, a full disk) is an error, not a silent loss.
void check_stdout(const char* op) {
    std::cout.flush();
    if (!std::cout) fail(op, "cannot write to standard output");
}

// An error message as one line: control characters in it (from a quoted value) are escaped.
std::string one_line(const char* what) {
    std::string s;
    for (const char* p = what; *p; p++) {
        const auto c = static_cast<unsigned char>(*p);
        if (c >= 0x20 && c != 0x7F) {
            s += *p;
        } else if (c == '\n') {
            s += "\\n";
        } else {
            char hex[8];
            std::snprintf(hex, sizeof(hex), "\\x%02X", c);
            s += hex;
        }
    }
    return s;
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
    cxxopts::ParseResult r;
    if (!parse(o, argc, argv, true, &r)) return 0;
    if (config.out_dir.empty()) fail("train", "the output folder is empty; give a path, e.g. --out_dir=out");
    for (const Setting& s : settings(config))
        if (s.from_checkpoint && s.option && r.count(s.key)) config.model_keys_given.push_back(s.key);
    // Under mpirun: rank 0 prints; an error on any rank ends them all, not only itself.
    const ProcessGroup group = join_process_group(&argc, &argv);
    std::ostream unused(nullptr);  // the other ranks' progress: no buffer, so never written
    TrainReport report;
    try {
        report = train(config, group.rank == 0 ? static_cast<std::ostream&>(std::cout) : unused);
    } catch (const std::exception& e) {
        if (group.size == 1) throw;
        std::cerr << "causalgrad train (rank " << group.rank << " of " << group.size << "): " << e.what() << "\n";
        abort_process_group(1);
    }
    leave_process_group();
    check_stdout("train");
    return report.stopped_by_signal ? exit_status_for_signal(report.stopped_by_signal) : 0;
}

// The --checkpoint option of the commands that read a run: its best state or its latest.
void add_checkpoint_option(cxxopts::Options& o, std::string& which) {
    o.add_options()("checkpoint", "best: out_dir/ckpt.bin; last: the latest state, the newer of out_dir/last.bin and "
                                  "ckpt.bin (what train --init_from=resume continues from)",
                    cxxopts::value(which)->default_value("best"));
}

RunCheckpoint load_from(const std::string& out_dir, const std::string& which, const char* op) {
    if (out_dir.empty()) fail(op, "--out_dir is empty; give the run's folder, e.g. --out_dir=out");
    if (which != "best" && which != "last")
        throw OptionError("--checkpoint takes best or last, got '" + which + "'");
    return load_run_checkpoint(out_dir, which, op);
}

// "run/ckpt.bin (step 2000, the best state; --checkpoint=last reads the latest)": which file was read.
std::string checkpoint_read(const RunCheckpoint& r, const std::string& which) {
    const std::string name = "ckpt.bin";
    const bool best_file = r.path.size() >= name.size() && r.path.compare(r.path.size() - name.size(), name.size(), name) == 0;
    std::string what = which == "best" ? "the best state; --checkpoint=last reads the latest"
                       : best_file     ? "the latest state, also the best"
                                       : "the latest state; --checkpoint=best reads the best";
    return r.path + " (step " + std::to_string(r.ckpt.state.step) + ", " + what + ")";
}

int cmd_sample(int argc, char** argv) {
    std::string out_dir = "out";
    SampleOptions s;
    std::string start = "\\n";
    int threads = 0;
    std::string which;
    cxxopts::Options o("causalgrad sample", "Generate text from out_dir/ckpt.bin, one token at a time through the "
                                            "key/value cache and the mixers' running state.");
    add_checkpoint_option(o, which);
    o.add_options()("out_dir", "folder holding ckpt.bin", cxxopts::value(out_dir)->default_value(out_dir))(
        "start", "text to continue, with \\n \\t \\\\ escapes, or FILE:path to read it from a file",
        cxxopts::value(start)->default_value(start))(
        "num_samples", "samples to draw", cxxopts::value(s.num_samples)->default_value("1"))(
        "max_new_tokens", "tokens per sample", cxxopts::value(s.max_new_tokens)->default_value("500"))(
        "temperature", "< 1 sharper, > 1 more random, 0 greedy", cxxopts::value(s.temperature)->default_value("0.8"))(
        "top_k", "sample among the k most likely tokens (0: all)", cxxopts::value(s.top_k)->default_value("200"))(
        "seed", "random seed", cxxopts::value(s.seed)->default_value("1337"))(
        "path", "step: token by token through the cache and running state; full: a forward over the context "
                "for every token (nanoGPT's way)", cxxopts::value(s.path)->default_value(s.path))(
        "allow_leak", "sample a model whose mixer sees future tokens (pair_max+gavg...) anyway",
        cxxopts::value(s.allow_leak)->default_value("false"))(
        "threads", "threads (0: 1 or all cores, chosen by measuring as it runs)", cxxopts::value(threads)->default_value("0"));
    if (!parse(o, argc, argv)) return 0;
    s.start = start_text(start);
    if (s.num_samples < 1) fail("sample", "num_samples must be at least 1");
    use_threads(threads, "sample");
    RunCheckpoint read = load_from(out_dir, which, "sample");
    Checkpoint& c = read.ckpt;
    // Each sample streams as it is drawn (sample i with seed + i); Ctrl-C ends
    // the current one, keeping what was printed.
    const StopSignals stop_signals;
    const uint64_t seed = s.seed;
    const int64_t samples = s.num_samples;
    s.num_samples = 1;
    for (int64_t i = 0; i < samples && !stop_requested(); i++) {
        s.seed = seed + static_cast<uint64_t>(i);
        generate(c.model, c.vocab, s, [](const std::string& piece) {
            std::cout << piece << std::flush;
            return std::cout && !stop_requested();
        });
        std::cout << "\n" << (i + 1 < samples ? "---------------\n" : "");
        check_stdout("sample");
    }
    if (const int signal = stop_requested()) {
        std::cerr << "causalgrad sample: stopped by a signal; the text above is what was generated\n";
        return exit_status_for_signal(signal);
    }
    // Standard output holds the text alone; which checkpoint wrote it goes beside.
    std::cerr << "causalgrad sample: read " << checkpoint_read(read, which) << "\n";
    return 0;
}

int cmd_eval(int argc, char** argv) {
    std::string out_dir = "out", data_dir;
    int64_t eval_iters = 200, batch_size = 0;
    int threads = 0;
    bool token_by_token = true;
    std::string which;
    cxxopts::Options o("causalgrad eval", "Val loss of out_dir/ckpt.bin computed two ways: on full sequences (teacher "
                                          "forcing) and token by token through the incremental path. A causal model "
                                          "gives the same number both ways; a leaking one does not.");
    o.add_options()("out_dir", "folder holding ckpt.bin", cxxopts::value(out_dir)->default_value(out_dir))(
        "data_dir", "token folder (default: the checkpoint's)", cxxopts::value(data_dir))(
        "eval_iters", "batches (nanoGPT's 200; the standard error printed says how sure the mean is)",
        cxxopts::value(eval_iters)->default_value("200"))(
        "batch_size", "sequences per batch (default: the checkpoint's)", cxxopts::value(batch_size)->default_value("0"))(
        "token_by_token", "also the token-by-token loss (slow for big models; false: full sequences only)",
        cxxopts::value(token_by_token)->default_value("true"))(
        "threads", "threads (0: 1 or all cores, chosen by measuring as it runs)", cxxopts::value(threads)->default_value("0"));
    add_checkpoint_option(o, which);
    if (!parse(o, argc, argv)) return 0;
    use_threads(threads, "eval");
    RunCheckpoint read = load_from(out_dir, which, "eval");
    Checkpoint& c = read.ckpt;
    Dataset data = load_dataset(data_dir.empty() ? c.config.data_dir : data_dir);
    if (data.vocab != c.vocab) fail("eval", "the data's vocabulary differs from the checkpoint's");
    const int64_t B = batch_size > 0 ? batch_size : c.config.batch_size, T = c.config.model.block_size;
    if (eval_iters < 1) fail("eval", "eval_iters must be at least 1");
    if (batch_size < 0) fail("eval", "batch_size must be 0 (the checkpoint's) or positive");
    if (static_cast<int64_t>(data.val.size()) <= T)
        fail("eval", "the val split holds " + std::to_string(data.val.size()) + " tokens, too few for block_size " +
                         std::to_string(T));
    check_fits_in_memory(training_bytes(c.config.model, B), "eval");
    const uint64_t seed = 0xE7A1ull;
    std::cout << "checkpoint: " << checkpoint_read(read, which) << "\n";
    std::cout << "parameters: " << count_parameters(c.model, false) << " (" << count_parameters(c.model, true)
              << " without position embeddings)\n";
    std::cout << "step: " << c.state.step << "\n";
    std::cout << "val batches: " << eval_iters << " of " << B << " x " << T << " tokens\n";
    check_stdout("eval");  // before the work, whose only result is what it prints
    // The loss stays the last word of its line (scripts read it so); its standard error goes in the label.
    auto print = [&](const char* how, const LossEstimate& e) {
        if (!std::isfinite(e.mean)) fail("eval", "the loss is not finite; the checkpoint is unusable");
        std::cout << "val loss (" << how;
        if (std::isfinite(e.standard_error)) {
            char se[32];
            std::snprintf(se, sizeof(se), "%.4f", e.standard_error);
            std::cout << ", standard error " << se;
        }
        std::cout << "): " << e.mean << "\n";
    };
    print("full sequences", estimate_loss_with_error(c.model, data.val, B, T, eval_iters, seed));
    if (token_by_token)
        print("token by token", estimate_loss_token_by_token_with_error(c.model, data.val, B, T, eval_iters, seed));
    return 0;
}

int cmd_attention(int argc, char** argv) {
    std::string out_dir = "out", start, to, which;
    int64_t draw_tokens = 64;
    int threads = 0;
    cxxopts::Options o("causalgrad attention",
                       "Each attention head's weights for a prompt: how far each head is from the uniform causal "
                       "average (the pattern the paper reports for trained attention), and its weight on the token "
                       "itself and on the previous one (what pair_max hard-codes); --to draws them as heat maps.");
    add_checkpoint_option(o, which);
    o.add_options()("out_dir", "folder holding ckpt.bin", cxxopts::value(out_dir)->default_value(out_dir))(
        "start", "the prompt, with \\n \\t \\\\ escapes, or FILE:path to read it from a file (at most block_size "
                 "characters, at least 2)", cxxopts::value(start))(
        "to", "an .svg file for the heat maps (default: the table only)", cxxopts::value(to))(
        "draw_tokens", "draw the first N tokens of the prompt (the table uses all)",
        cxxopts::value(draw_tokens)->default_value("64"))(
        "threads", "threads (0: 1 or all cores, chosen by measuring as it runs)", cxxopts::value(threads)->default_value("0"));
    if (!parse(o, argc, argv)) return 0;
    if (start.empty()) fail("attention", "give a prompt: --start=TEXT or --start=FILE:prompt.txt");
    if (draw_tokens < 1) fail("attention", "draw_tokens must be at least 1");
    use_threads(threads, "attention");
    RunCheckpoint read = load_from(out_dir, which, "attention");
    Checkpoint& c = read.ckpt;
    const std::vector<int> tokens = encode(c.vocab, start_text(start));
    const int64_t T = static_cast<int64_t>(tokens.size());
    if (T < 2) fail("attention", "the prompt has " + std::to_string(T) + " token; give at least 2");
    if (T > c.config.model.block_size)
        fail("attention", "the prompt has " + std::to_string(T) + " tokens, more than the model's block_size " +
                              std::to_string(c.config.model.block_size) + "; shorten it");
    const std::vector<HeadWeights> heads = gpt_attention_maps(c.model, tokens);
    if (heads.empty())
        fail("attention", "the model has no attention block (mixer " + c.config.model.mixer + "); nothing to look at");
    std::vector<HeadPattern> patterns;
    for (const HeadWeights& h : heads) patterns.push_back(head_pattern(h.w));
    std::cout << "checkpoint: " << checkpoint_read(read, which) << "\nprompt: " << T << " tokens\n"
              << attention_table(heads, patterns);
    if (!to.empty()) {
        std::vector<std::string> pieces;
        for (const int t : tokens) pieces.push_back(decode(c.vocab, {t}));
        write_svg(to, attention_svg(heads, patterns, pieces, draw_tokens,
                                    "causalgrad attention: " + out_dir + " (step " + std::to_string(c.state.step) + ")"));
        std::cout << "wrote " << to << "\n";
    }
    return 0;
}

int cmd_export(int argc, char** argv) {
    std::string out_dir = "out", to, which;
    cxxopts::Options o("causalgrad export", "Write the weights of out_dir/ckpt.bin as safetensors, named as nanoGPT's "
                                            "state_dict, with the model config in __metadata__.");
    add_checkpoint_option(o, which);
    o.add_options()("out_dir", "folder holding ckpt.bin", cxxopts::value(out_dir)->default_value(out_dir))(
        "to", "output file (default: out_dir/model.safetensors)", cxxopts::value(to));
    if (!parse(o, argc, argv)) return 0;
    RunCheckpoint read = load_from(out_dir, which, "export");
    Checkpoint& c = read.ckpt;
    if (to.empty()) to = out_dir + "/model.safetensors";
    export_safetensors(c.model, c.vocab, to);
    int64_t masks = 0;
    for (const Block& b : c.model.h) masks += b.mixer.kind->nanogpt_attention;
    std::cout << "read " << checkpoint_read(read, which) << "\n";
    std::cout << "wrote " << to << " (" << gpt_parameters(c.model).size() << " parameters, lm_head.weight, " << masks
              << " causal-mask buffers)\n";
    return 0;
}

int cmd_import(int argc, char** argv) {
    std::string from, out_dir = "out", data_dir, n_head, mixer, activation, dropout;
    bool overwrite = false;
    ImportOptions io;
    cxxopts::Options o("causalgrad import", "Make out_dir/ckpt.bin (step 0, fresh optimizer state) from a safetensors "
                                            "file with nanoGPT's names: an export, or a nanoGPT state_dict saved from "
                                            "PyTorch (F32, F16 or BF16). The config comes from the file's metadata, "
                                            "else from the shapes and the options below.");
    o.add_options()("from", "safetensors file", cxxopts::value(from))(
        "out_dir", "folder for ckpt.bin", cxxopts::value(out_dir)->default_value(out_dir))(
        "vocab", "vocab.txt of the training data (default: the file's vocab metadata)", cxxopts::value(io.vocab_path))(
        "data_dir", "token folder that eval and train use (default: the --vocab file's folder, else "
                    "data/shakespeare_char)", cxxopts::value(data_dir))(
        "untied", "if lm_head.weight differs from wte: error, keep_wte or keep_lm_head",
        cxxopts::value(io.untied)->default_value(io.untied))(
        "n_head", "attention heads (not readable from shapes)", cxxopts::value(n_head))(
        "mixer", "mixer name or comma list, for files whose metadata does not say", cxxopts::value(mixer))(
        "activation", "MLP activation, if not gelu and not in the metadata", cxxopts::value(activation))(
        "dropout", "dropout for fine-tuning", cxxopts::value(dropout))(
        "overwrite", "replace a run already in out_dir (its ckpt.bin and log.csv)",
        cxxopts::value(overwrite)->default_value("false"));
    if (!parse(o, argc, argv)) return 0;
    if (from.empty()) fail("import", "give the file to read with --from=FILE.safetensors");
    const std::string ckpt_path = best_checkpoint_path(out_dir), last_path = last_checkpoint_path(out_dir),
                      log_path = out_dir + "/log.csv";
    for (const std::string& path : {ckpt_path, last_path, log_path})
        if (!overwrite && std::filesystem::exists(path))
            fail("import", "'" + path + "' holds an earlier run; import into another --out_dir, or replace it with --overwrite");
    check_writable_dir(out_dir, "import");
    const std::pair<const char*, const std::string*> given[] = {
        {"n_head", &n_head}, {"mixer", &mixer}, {"activation", &activation}, {"dropout", &dropout}};
    for (const auto& [key, value] : given)
        if (!value->empty()) io.settings.emplace_back(key, *value);
    ImportedModel m = import_safetensors(from, io);
    m.config.out_dir = out_dir;
    if (!data_dir.empty()) m.config.data_dir = data_dir;
    std::filesystem::create_directories(out_dir);
    const RunLock lock = lock_out_dir(out_dir);  // not while a run trains there
    std::filesystem::remove(log_path);           // the earlier run's rows would not belong to this checkpoint
    std::filesystem::remove(last_path);          // nor its latest state, which a resume would prefer
    save_new_checkpoint(ckpt_path, m.config, m.vocab, m.model);
    for (const std::string& note : m.notes) std::cout << note << "\n";
    const GPTConfig& c = m.model.config;
    std::cout << "wrote " << out_dir << "/ckpt.bin: n_layer " << c.n_layer << ", n_head " << c.n_head << ", n_embd "
              << c.n_embd << ", block_size " << c.block_size << ", vocab " << c.vocab_size << ", mixer " << c.mixer
              << ", " << count_parameters(m.model, false) << " parameters\n";
    return 0;
}

int cmd_bench(int argc, char** argv) {
    BenchOptions b;
    std::string what = "train", contexts = "64,256,1024", load = "none";
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
        cxxopts::value(b.ops)->default_value("false"));
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
    check_fits_in_memory(training_bytes(b.model, b.batch_size), "bench");
    const int n_threads = use_threads(threads, "bench");
    const double peak = measure_sgemm_gflops();
    GPT probe = make_gpt(b.model, 1);
    std::cout << "causalgrad bench (" << what << ")\n"
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
    const StepBound bound =
        what == "train" ? measure_step_bound(b.model, b.batch_size, count_parameters(probe, false)) : StepBound{};
    reset_peak_memory();
    std::optional<BusyCore> busy;
    if (load != "none") busy.emplace(load == "busy" ? 0 : 19);
    if (what == "generate") {
        bench_generate(b, std::cout);
        std::cout << "  peak memory: " << static_cast<int64_t>(peak_memory_mib()) << " MiB\n";
        return 0;
    }
    const double flops = train_step_flops(b.model, b.batch_size);
    std::cout << "  batch_size: " << b.batch_size << " (" << b.batch_size * b.model.block_size << " tokens per step)\n"
              << "  FLOPs per step: " << flops / 1e9 << " GFLOP (matrix products, forward + backward)\n"
              << "  sgemm peak: " << peak << " GFLOP/s (1024^3, measured now)\n";
    std::cout << "  linear layers' products alone: " << bound.linear_ms
              << " ms/step (each product timed apart, warm, the fastest of its repeats)\n";
    std::cout << "  bound: " << bound.total() << " ms/step (those products + the attention kernel's products "
              << bound.attention_ms << " + the other ops' least memory traffic " << bound.other_ops_ms
              << " + the optimizer's " << bound.optimizer_ms << ", each timed apart: a floor under the step)\n";
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
    cxxopts::ParseResult parsed;
    if (!parse(o, argc, argv, false, &parsed, true)) return 0;
    const std::vector<std::string> runs = parsed.unmatched();
    if (runs.empty()) fail("plot", "give at least one run folder (e.g. out-attn) or log.csv");
    std::vector<PlotGroup> groups;
    for (const std::string& arg : runs) {
        const size_t eq = arg.find('=');
        PlotGroup g{eq == std::string::npos ? arg : arg.substr(0, eq), {}};
        std::stringstream list(eq == std::string::npos ? arg : arg.substr(eq + 1));
        for (std::string run; std::getline(list, run, ',');) {
            if (run.empty()) fail("plot", "an empty run name in '" + arg + "'");
            g.runs.push_back(read_log_csv(log_path(run), run));
            if (g.runs.back().torn_last_line)
                std::cout << "plot: " << log_path(run) << ": the last line is cut short (a write stopped midway); left out\n";
            if (g.runs.back().non_finite > 0)
                std::cout << "plot: " << log_path(run) << ": " << g.runs.back().non_finite
                          << " losses are inf, nan or beyond 1e6; left out\n";
        }
        if (g.runs.empty()) fail("plot", "no run in '" + arg + "'");
        groups.push_back(std::move(g));
    }
    write_svg(to, plot_svg(groups, p));
    std::cout << "wrote " << to << "\n";
    return 0;
}

}  // namespace

// A closed standard stream would hand its number to the next file opened, and
// progress lines would land in log.csv or a checkpoint: each closed one is
// held on /dev/null. Returns false when standard output was closed.
bool hold_standard_streams() {
    bool stdout_open = true;
    for (int fd = 0; fd <= 2; fd++) {
        if (::fcntl(fd, F_GETFD) >= 0 || errno != EBADF) continue;
        if (fd == 1) stdout_open = false;
        ::open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);  // the lowest free number: fd itself
    }
    return stdout_open;
}

int run_command(const std::string& command, int argc, char** argv) {
    if (command == "prepare") return cmd_prepare(argc, argv);
    if (command == "train") return cmd_train(argc, argv);
    if (command == "sample") return cmd_sample(argc, argv);
    if (command == "eval") return cmd_eval(argc, argv);
    if (command == "export") return cmd_export(argc, argv);
    if (command == "import") return cmd_import(argc, argv);
    if (command == "plot") return cmd_plot(argc, argv);
    if (command == "bench") return cmd_bench(argc, argv);
    if (command == "attention") return cmd_attention(argc, argv);
    std::cerr << "causalgrad: unknown command '" << one_line(command.c_str()) << "'; `causalgrad --help` lists the commands\n";
    return 2;
}

int main(int argc, char** argv) {
    if (!hold_standard_streams()) {
        std::cerr << "causalgrad" << (argc > 1 ? std::string(" ") + argv[1] : std::string())
                  << ": standard output is closed; nothing was done (redirect it to a file, or to /dev/null)\n";
        return 1;
    }
    restart_with_runtime_settings(argv);
    if (argc < 2 || std::string(argv[1]) == "-h" || std::string(argv[1]) == "--help") {
        std::cout << kUsage;
        return argc < 2 ? 1 : 0;
    }
    const std::string command = argv[1];
    const std::string report_hint = " (this is a bug in causalgrad; please report it with the command line that caused it)";
    try {
        const int status = run_command(command, argc, argv);
        // Output that did not reach its file is a failure of every command, not a silent loss.
        if (status == 0) check_stdout(command.c_str());
        return status;
    } catch (const cxxopts::exceptions::exception& e) {
        std::cerr << "causalgrad " << command << ": " << one_line(e.what()) << " (see causalgrad " << command << " --help)\n";
        return 2;
    } catch (const OptionError& e) {
        std::cerr << "causalgrad " << command << ": " << one_line(e.what()) << " (see causalgrad " << command << " --help)\n";
        return 2;
    } catch (const Error& e) {
        std::cerr << "causalgrad " << command << ": " << one_line(e.what()) << "\n";
        return 1;
    } catch (const std::bad_alloc&) {
        std::cerr << "causalgrad " << command << ": out of memory; try a smaller model, batch or context\n";
        return 1;
    } catch (const std::filesystem::filesystem_error& e) {
        std::cerr << "causalgrad " << command << ": file system error on '" << one_line(e.path1().c_str())
                  << "': " << e.code().message() << "\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "causalgrad " << command << ": unexpected error: " << one_line(e.what()) << report_hint << "\n";
        return 1;
    } catch (...) {
        std::cerr << "causalgrad " << command << ": unexpected error" << report_hint << "\n";
        return 1;
    }
}
