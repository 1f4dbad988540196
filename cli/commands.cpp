#include "cli/commands.h"

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

Checkpoint load_from(const std::string& out_dir) { return load_checkpoint(out_dir + "/ckpt.bin"); }

}  // namespace cg
