// The command line's options: each setting of train/settings.h becomes an
// option (its help text, and its default from the structs there), parsed
// strictly; config files in nanoGPT's `key = value` style read the same keys.
#pragma once

#include <cxxopts.hpp>
#include <string>
#include <vector>

#include "train/settings.h"

namespace cg {

// Options of the model (n_layer, mixer, ...) and of training (learning_rate, ...).
void add_model_options(cxxopts::Options& options, GPTConfig& model);
void add_train_options(cxxopts::Options& options, TrainConfig& config);

// Reads `key = value` lines (nanoGPT config files: '#' comments, quoted
// strings, True/False) as "--key=value" arguments. A key given twice throws.
std::vector<std::string> read_config_text(const std::string& text, const std::string& path);
std::vector<std::string> read_config_file(const std::string& path);

// Parses `args` (no program name) into `options`, strictly: boolean options
// take --flag, --flag=false, --flag false, and True/False in any case; an
// argument that is not an option, or a value that does not parse, throws
// naming the option. Throws cg::Error.
// With `positional`, arguments that are not options (plot's runs) are kept in
// the result's unmatched() instead of refused; unknown --options still are.
cxxopts::ParseResult parse_strict(cxxopts::Options& options, const std::vector<std::string>& args,
                                  bool positional = false);

// Parses argv[first..] into `options` with --config=FILE read first, so the
// command line overrides the file. Unknown options and bad values throw.
cxxopts::ParseResult parse_with_config(cxxopts::Options& options, int argc, char** argv, int first);

}  // namespace cg
