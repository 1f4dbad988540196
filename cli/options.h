// The command line's options: each setting of train/settings.h becomes an
// option (its help text, and its default from the structs there), parsed
// strictly; config files in nanoGPT's `key = value` style read the same keys.
#pragma once

// cxxopts' std::regex matching recurses once per character of an argument and
// overflows the stack on long values; its plain parser (no regex) does not, and
// takes a value with a newline as it is. Every file that parses options reaches
// cxxopts through this header, so all of them use the same parser.
#define CXXOPTS_NO_REGEX 1
#include <cxxopts.hpp>
#include <string>
#include <vector>

#include "train/settings.h"

namespace cg {

// Options of the model (n_layer, mixer, ...) and of training (learning_rate, ...).
void add_model_options(cxxopts::Options& options, GPTConfig& model);
void add_train_options(cxxopts::Options& options, TrainConfig& config);

// Reads `key = value` lines (nanoGPT config files: '#' comments, quoted
// strings, True/False, a UTF-8 byte order mark) as "--key=value" arguments.
// A key given twice, or a line with a NUL byte, throws naming path:line.
struct ConfigArgument {
    std::string arg;  // "--key=value"
    int line = 0;
};
std::vector<ConfigArgument> read_config_arguments(const std::string& text, const std::string& path);
std::vector<std::string> read_config_text(const std::string& text, const std::string& path);
std::vector<std::string> read_config_file(const std::string& path);

// Parses `args` (no program name) into `options`, strictly: boolean options
// take --flag, --flag=false, --flag false, and True/False in any case; an
// argument that is not an option, or a value that does not parse, throws
// naming the option (and `origins[i]`, "file:line", for an argument that came
// from a config file). Values may be of any length and hold any bytes but NUL.
// Throws cg::Error.
// With `positional`, arguments that are not options (plot's runs) are kept in
// the result's unmatched() instead of refused; unknown --options still are.
cxxopts::ParseResult parse_strict(cxxopts::Options& options, const std::vector<std::string>& args,
                                  bool positional = false, const std::vector<std::string>& origins = {});

// A value as error messages show it: control characters and bytes that are
// not UTF-8 escaped (\n, \xFF), and a long one cut, so a message stays one line.
std::string shown_value(const std::string& value);

// Parses argv[first..] into `options` with --config=FILE read first, so the
// command line overrides the file. Unknown options and bad values throw.
cxxopts::ParseResult parse_with_config(cxxopts::Options& options, int argc, char** argv, int first);

}  // namespace cg
