// causalgrad sample
#include "cli/commands.h"

#include <iostream>

#include "tensor/kernels.h"
#include "train/stop_signal.h"
#include "tools/sample.h"

namespace cg {

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

}  // namespace cg
