// The settings of a run, and the table of them. Names and meanings follow
// nanoGPT's config keys; the defaults, written once in the structs below
// (GPTConfig's in models/gpt.h), are nanoGPT's documented CPU run of
// shakespeare_char (4 layers, 4 heads, n_embd 128, block 64, batch 12, 2000
// iterations), the run a laptop finishes in minutes.
//
// settings() is the one list of them: the command line's options and --help
// (cli/options.cpp), config files, the start-up table, checkpoints, the
// resume check and export's metadata all read it. A new setting is a field
// here and a row there.
#pragma once

#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "models/gpt.h"
#include "tensor/autocast.h"
#include "nn/adamw.h"

namespace cg {

struct TrainConfig {
    GPTConfig model;
    std::string data_dir = "data/shakespeare_char";
    std::string out_dir = "out";
    std::string init_from = "scratch";  // or "resume" from out_dir/ckpt.bin
    int64_t batch_size = 12;  // sequences per micro-batch, per process
    int grad_accum = 1;       // micro-batches per step (compute_step_gradient, train/train.h)
    int64_t max_iters = 2000;
    float learning_rate = 1e-3f;
    bool decay_lr = true;
    int64_t warmup_iters = 100;
    int64_t lr_decay_iters = 2000;
    float min_lr = 1e-4f;
    float weight_decay = AdamWConfig{}.weight_decay;
    float beta1 = AdamWConfig{}.beta1;
    float beta2 = AdamWConfig{}.beta2;
    float grad_clip = 1.0f;
    int64_t eval_interval = 250;
    int64_t eval_iters = 200;
    int64_t log_interval = 10;
    bool always_save_checkpoint = false;
    uint64_t seed = 1337;
    int threads = 0;  // 0: 1 or all cores, chosen by measuring
    std::string attention = "fused";  // or "composed": the readable ops (autograd/composed.h), same numbers
    std::string dtype = "float32";    // or "bfloat16": the products' operands (tensor/autocast.h)
    bool overwrite = false;  // a run from scratch may replace out_dir's checkpoint and log
    // Model settings (and seed) set by the command line or config file, not by
    // default: on resume each must agree with the checkpoint.
    std::vector<std::string> model_keys_given;
};

enum class SettingGroup {
    model,     // the architecture: a resumed run takes these (and the seed) from its checkpoint
    training,  // the schedule, logging, paths: a resumed run may change them
};

struct Setting {
    const char* key;
    SettingGroup group;
    std::string help;
    std::variant<int64_t*, int*, uint64_t*, float*, bool*, std::string*> field;  // what it sets
    bool option = true;       // false: not on the command line (vocab_size comes from the data)
    bool from_checkpoint = false;  // a resumed run takes it from the checkpoint (the model's, and seed)
    bool saved = true;        // false: a setting of this invocation only (overwrite), not of the run
};

// Every setting of `config`, bound to its fields, in the order of --help and
// of the start-up table; model_settings: those of the model alone.
std::vector<Setting> settings(TrainConfig& config);
std::vector<Setting> model_settings(GPTConfig& model);

// A setting's value as text ("1e-3" is written as the shortest text that reads
// back as the same float) and the way back (throws naming the key).
std::string setting_text(const Setting& s);
void set_setting(const Setting& s, const std::string& text);

// The optimizer a run's settings ask for.
inline AdamWConfig adamw_config(const TrainConfig& c) {
    AdamWConfig a;
    a.beta1 = c.beta1;
    a.beta2 = c.beta2;
    a.weight_decay = c.weight_decay;
    return a;
}

// The precision of the products a run's settings ask for (checked by then:
// parse_dtype has refused what this machine cannot do).
inline Dtype dtype_of(const TrainConfig& c) { return c.dtype == "bfloat16" ? Dtype::bfloat16 : Dtype::float32; }

// The saved settings as key=value pairs (for the start-up table, the
// checkpoint and export), and the way back.
std::vector<std::pair<std::string, std::string>> config_pairs(const TrainConfig& config);
void apply_config_pairs(TrainConfig& config, const std::vector<std::pair<std::string, std::string>>& pairs);

}  // namespace cg
