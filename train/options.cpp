#include "train/options.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "tensor/tensor.h"

namespace cg {

void add_model_options(cxxopts::Options& o, GPTConfig& m) {
    o.add_options("model")
        ("n_layer", "transformer blocks", cxxopts::value(m.n_layer)->default_value("4"))
        ("n_head", "attention heads per attention block", cxxopts::value(m.n_head)->default_value("4"))
        ("n_embd", "embedding width C", cxxopts::value(m.n_embd)->default_value("128"))
        ("block_size", "context length T", cxxopts::value(m.block_size)->default_value("64"))
        ("dropout", "dropout probability", cxxopts::value(m.dropout)->default_value("0.0"))
        ("bias", "biases in Linear and LayerNorm", cxxopts::value(m.bias)->default_value("false"))
        ("mixer", "sequence mixer of every block, or a comma list with one per block: attn, "
                  "pair_max, pair_min, pair_mean, scan_max, scan_min, avg, pair_max+avg, "
                  "pair_min+avg, pair_max+gavg, pair_min+gavg (gavg leaks future tokens)",
         cxxopts::value(m.mixer)->default_value("attn"))
        ("activation", "MLP activation: gelu, or a sequence op from the mixer list",
         cxxopts::value(m.activation)->default_value("gelu"))
        ("mixer_vproj", "a learned value projection c_v before a replacement mixer's op",
         cxxopts::value(m.mixer_vproj)->default_value("false"));
}

void add_train_options(cxxopts::Options& o, TrainConfig& c) {
    add_model_options(o, c.model);
    o.add_options("training")
        ("data_dir", "folder with train.bin, val.bin, vocab.txt", cxxopts::value(c.data_dir)->default_value(c.data_dir))
        ("out_dir", "folder for ckpt.bin and log.csv", cxxopts::value(c.out_dir)->default_value(c.out_dir))
        ("init_from", "scratch, or resume from out_dir/ckpt.bin", cxxopts::value(c.init_from)->default_value(c.init_from))
        ("batch_size", "sequences per step", cxxopts::value(c.batch_size)->default_value("12"))
        ("max_iters", "training steps", cxxopts::value(c.max_iters)->default_value("2000"))
        ("learning_rate", "peak learning rate", cxxopts::value(c.learning_rate)->default_value("1e-3"))
        ("decay_lr", "warmup then cosine decay (else constant)", cxxopts::value(c.decay_lr)->default_value("true"))
        ("warmup_iters", "linear warmup steps", cxxopts::value(c.warmup_iters)->default_value("100"))
        ("lr_decay_iters", "step where the cosine reaches min_lr", cxxopts::value(c.lr_decay_iters)->default_value("2000"))
        ("min_lr", "final learning rate", cxxopts::value(c.min_lr)->default_value("1e-4"))
        ("weight_decay", "AdamW decay of 2-D weights", cxxopts::value(c.weight_decay)->default_value("0.1"))
        ("beta1", "AdamW beta1", cxxopts::value(c.beta1)->default_value("0.9"))
        ("beta2", "AdamW beta2", cxxopts::value(c.beta2)->default_value("0.99"))
        ("grad_clip", "clip gradients to this global norm (0: off)", cxxopts::value(c.grad_clip)->default_value("1.0"))
        ("eval_interval", "steps between evaluations", cxxopts::value(c.eval_interval)->default_value("250"))
        ("eval_iters", "batches per loss estimate", cxxopts::value(c.eval_iters)->default_value("200"))
        ("log_interval", "steps between progress lines", cxxopts::value(c.log_interval)->default_value("10"))
        ("always_save_checkpoint", "save at every evaluation, not only when val improves",
         cxxopts::value(c.always_save_checkpoint)->default_value("false"))
        ("seed", "random seed (initialisation, batches, dropout)", cxxopts::value(c.seed)->default_value("1337"))
        ("threads", "threads (0: 1 or all cores, chosen by measuring as it runs)", cxxopts::value(c.threads)->default_value("0"));
}

namespace {
std::string trim(const std::string& s) {
    size_t b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
    return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}
}  // namespace

std::vector<std::string> read_config_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) fail("config", "cannot read config file '" + path + "'");
    std::vector<std::string> args;
    std::string line;
    for (int number = 1; std::getline(in, line); number++) {
        const std::string where = path + ":" + std::to_string(number);
        char quote = 0;  // a '#' inside quotes is part of the value
        for (size_t i = 0; i < line.size(); i++) {
            if (quote) {
                if (line[i] == quote) quote = 0;
            } else if (line[i] == '\'' || line[i] == '"') {
                quote = line[i];
            } else if (line[i] == '#') {
                line.resize(i);
                break;
            }
        }
        line = trim(line);
        if (line.empty()) continue;
        size_t eq = line.find('=');
        if (eq == std::string::npos) fail("config", where + ": expected 'key = value', got '" + line + "'");
        std::string key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
        if (value.size() >= 2 && (value.front() == '\'' || value.front() == '"') && value.back() == value.front())
            value = value.substr(1, value.size() - 2);
        if (value == "True") value = "true";
        if (value == "False") value = "false";
        if (key == "config") fail("config", where + ": a config file cannot include another");
        args.push_back("--" + key + "=" + value);
    }
    return args;
}

cxxopts::ParseResult parse_with_config(cxxopts::Options& options, int argc, char** argv, int first) {
    std::vector<std::string> args;
    std::string config_path;
    for (int i = first; i < argc; i++) {
        std::string a = argv[i];
        if (a.rfind("--config=", 0) == 0) config_path = a.substr(9);
        else if (a == "--config" && i + 1 < argc) config_path = argv[++i];
        else args.push_back(a);
    }
    std::vector<std::string> merged;
    if (!config_path.empty()) merged = read_config_file(config_path);
    merged.insert(merged.end(), args.begin(), args.end());  // the command line wins
    std::vector<char*> ptrs{argv[0]};
    for (std::string& s : merged) ptrs.push_back(s.data());
    return options.parse(static_cast<int>(ptrs.size()), ptrs.data());
}

std::vector<std::pair<std::string, std::string>> config_pairs(const TrainConfig& c) {
    auto f = [](float v) {  // the shortest text that parses back to the same float
        char buf[32];
        for (int digits = 6; digits <= 9; digits++) {
            std::snprintf(buf, sizeof(buf), "%.*g", digits, static_cast<double>(v));
            if (std::strtof(buf, nullptr) == v) break;
        }
        return std::string(buf);
    };
    auto b = [](bool v) { return std::string(v ? "true" : "false"); };
    const GPTConfig& m = c.model;
    return {
        {"n_layer", std::to_string(m.n_layer)}, {"n_head", std::to_string(m.n_head)},
        {"n_embd", std::to_string(m.n_embd)}, {"block_size", std::to_string(m.block_size)},
        {"vocab_size", std::to_string(m.vocab_size)}, {"dropout", f(m.dropout)},
        {"bias", b(m.bias)}, {"mixer", m.mixer}, {"activation", m.activation},
        {"mixer_vproj", b(m.mixer_vproj)},
        {"data_dir", c.data_dir}, {"out_dir", c.out_dir}, {"init_from", c.init_from},
        {"batch_size", std::to_string(c.batch_size)}, {"max_iters", std::to_string(c.max_iters)},
        {"learning_rate", f(c.learning_rate)}, {"decay_lr", b(c.decay_lr)},
        {"warmup_iters", std::to_string(c.warmup_iters)},
        {"lr_decay_iters", std::to_string(c.lr_decay_iters)}, {"min_lr", f(c.min_lr)},
        {"weight_decay", f(c.weight_decay)}, {"beta1", f(c.beta1)}, {"beta2", f(c.beta2)},
        {"grad_clip", f(c.grad_clip)}, {"eval_interval", std::to_string(c.eval_interval)},
        {"eval_iters", std::to_string(c.eval_iters)}, {"log_interval", std::to_string(c.log_interval)},
        {"always_save_checkpoint", b(c.always_save_checkpoint)}, {"seed", std::to_string(c.seed)},
        {"threads", std::to_string(c.threads)},
    };
}

void apply_config_pairs(TrainConfig& c, const std::vector<std::pair<std::string, std::string>>& pairs) {
    cxxopts::Options o("causalgrad", "");
    add_train_options(o, c);
    int64_t vocab = c.model.vocab_size;
    o.add_options()("vocab_size", "", cxxopts::value(vocab));
    std::vector<std::string> args;
    for (const auto& [k, v] : pairs) args.push_back("--" + k + "=" + v);
    std::vector<char*> ptrs{const_cast<char*>("causalgrad")};
    for (std::string& s : args) ptrs.push_back(s.data());
    o.parse(static_cast<int>(ptrs.size()), ptrs.data());
    c.model.vocab_size = vocab;
}

}  // namespace cg
