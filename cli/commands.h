// The command table: every subcommand of `causalgrad` is one row, from which
// main() dispatches and `causalgrad --help` prints the usage. Each command is
// one file, cli/cmd_<name>.cpp: it parses its options (cxxopts), calls the
// library and returns the exit status; errors are thrown, and main() turns
// them into one line.
#pragma once

#include <string>
#include <vector>

#include "cli/options.h"  // cxxopts, as every file of the command line must see it (no std::regex)
#include "tensor/tensor.h"
#include "train/checkpoint.h"

namespace cg {

struct Command {
    const char* name;
    const char* summary;               // one line of the usage
    int (*run)(int argc, char** argv);  // argv[1] is the command's name
};

// Every command, in the usage's order.
const std::vector<Command>& commands();
// The usage text, from the table.
std::string usage();

int cmd_prepare(int argc, char** argv);
int cmd_train(int argc, char** argv);
int cmd_sample(int argc, char** argv);
int cmd_eval(int argc, char** argv);
int cmd_export(int argc, char** argv);
int cmd_import(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_plot(int argc, char** argv);
int cmd_attention(int argc, char** argv);

// What the command files share (cli/commands.cpp).

// A bad option: reported with exit status 2, like cxxopts' own errors.
struct OptionError : Error {
    using Error::Error;
};

// Parses argv[2..] strictly (see parse_strict); returns false after printing --help.
bool parse(cxxopts::Options& options, int argc, char** argv, bool with_config = false,
           cxxopts::ParseResult* result = nullptr, bool positional = false);
// Sets the thread count after checking it is sane for this machine.
int use_threads(int threads, const char* op);
// Standard output that could not be written (a closed pipe, a full disk) is an error, not a silent loss.
void check_stdout(const char* op);
// The --checkpoint option of the commands that read a run: its best state or its latest.
void add_checkpoint_option(cxxopts::Options& o, std::string& which);
// The run's best state (out_dir/ckpt.bin) or, with which == "last", its latest.
RunCheckpoint load_from(const std::string& out_dir, const std::string& which, const char* op);
// "run/ckpt.bin (step 2000, the best state; --checkpoint=last reads the latest)": which file was read.
std::string checkpoint_read(const RunCheckpoint& r, const std::string& which);
// An error message as one line: control characters in it (from a quoted value) are escaped.
std::string one_line(const char* what);

}  // namespace cg
