// The settings of a run and the command-line options that set them. Names and
// meanings follow nanoGPT's config keys; the defaults are nanoGPT's documented
// CPU run of shakespeare_char (4 layers, 4 heads, n_embd 128, block 64,
// batch 12, 2000 iterations), the run a laptop finishes in minutes.
#pragma once

#include <cxxopts.hpp>
#include <string>
#include <utility>
#include <vector>

#include "models/gpt.h"

namespace cg {

struct TrainConfig {
    GPTConfig model;
    std::string data_dir = "data/shakespeare_char";
    std::string out_dir = "out";
    std::string init_from = "scratch";  // or "resume" from out_dir/ckpt.bin
    int64_t batch_size = 12;  // sequences per micro-batch, per process
    int grad_accum = 1;       // micro-batches per step (train/distributed.h)
    int64_t max_iters = 2000;
    float learning_rate = 1e-3f;
    bool decay_lr = true;
    int64_t warmup_iters = 100;
    int64_t lr_decay_iters = 2000;
    float min_lr = 1e-4f;
    float weight_decay = 0.1f;
    float beta1 = 0.9f;
    float beta2 = 0.99f;  // nanoGPT's shakespeare_char: small batches make the default 0.95 noisy
    float grad_clip = 1.0f;
    int64_t eval_interval = 250;
    int64_t eval_iters = 200;
    int64_t log_interval = 10;
    bool always_save_checkpoint = false;
    uint64_t seed = 1337;
    int threads = 0;  // 0: OpenMP's default (all cores)
    bool overwrite = false;  // a run from scratch may replace out_dir's checkpoint and log
    // Model settings (and seed) set by the command line or config file, not by
    // default: on resume each must agree with the checkpoint.
    std::vector<std::string> model_keys_given;
};

// The settings a resumed run takes from its checkpoint.
extern const char* const kCheckpointOwnedKeys[10];

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

// Every setting as key=value (for the start-up table and the checkpoint),
// and the way back.
std::vector<std::pair<std::string, std::string>> config_pairs(const TrainConfig& config);
void apply_config_pairs(TrainConfig& config,
                        const std::vector<std::pair<std::string, std::string>>& pairs);

}  // namespace cg
