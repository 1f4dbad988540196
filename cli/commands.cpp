#include "cli/commands.h"

#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "cli/options.h"
#include "tensor/kernels.h"
#include "tensor/thread_governor.h"
#include "train/resources.h"

namespace cg {

const std::vector<Command>& commands() {
    static const std::vector<Command> table = {
        {"prepare", "turn a UTF-8 text file into character tokens (train.bin, val.bin, vocab.txt)", cmd_prepare},
        {"train", "train a GPT with attention or a replacement mixer; checkpoints to out_dir", cmd_train},
        {"sample", "generate text from a checkpoint", cmd_sample},
        {"eval", "val loss of a checkpoint on full sequences and token by token", cmd_eval},
        {"export", "write a checkpoint's weights as safetensors with nanoGPT's names", cmd_export},
        {"import", "make a checkpoint from a safetensors file with nanoGPT's names (from PyTorch, say)", cmd_import},
        {"bench", "time training steps (or generation) of a configuration on this machine", cmd_bench},
        {"plot", "draw the loss curves of one or more runs (their log.csv) into an SVG", cmd_plot},
        {"attention", "draw each attention head's weights for a prompt and measure how far they are from uniform",
         cmd_attention},
    };
    return table;
}

std::string usage() {
    std::ostringstream out;
    out << "usage: causalgrad <command> [options]   (causalgrad <command> --help for its options)\n\ncommands:\n";
    for (const Command& c : commands()) out << "  " << std::left << std::setw(10) << c.name << c.summary << "\n";
    return out.str();
}

bool parse(cxxopts::Options& options, int argc, char** argv, bool with_config, cxxopts::ParseResult* result,
           bool positional) {
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

int use_threads(int threads, const char* op) {
    check_thread_count(threads, op);
    return set_num_threads(threads);
}

void check_stdout(const char* op) {
    std::cout.flush();
    if (!std::cout) fail(op, "cannot write to standard output");
}

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

std::string checkpoint_read(const RunCheckpoint& r, const std::string& which) {
    const std::string name = "ckpt.bin";
    const bool best_file = r.path.size() >= name.size() && r.path.compare(r.path.size() - name.size(), name.size(), name) == 0;
    std::string what = which == "best" ? "the best state; --checkpoint=last reads the latest"
                       : best_file     ? "the latest state, also the best"
                                       : "the latest state; --checkpoint=best reads the best";
    return r.path + " (step " + std::to_string(r.ckpt.state.step) + ", " + what + ")";
}

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

}  // namespace cg
