#include "train/options.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>

#include "tensor/tensor.h"
#include "train/safe_file.h"

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
        ("batch_size", "sequences per micro-batch (per process under mpirun)", cxxopts::value(c.batch_size)->default_value("12"))
        ("grad_accum", "micro-batches per step, gradients summed", cxxopts::value(c.grad_accum)->default_value("1"))
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
        ("threads", "threads (0: 1 or all cores, chosen by measuring as it runs)", cxxopts::value(c.threads)->default_value("0"))
        ("overwrite", "train from scratch even if out_dir holds a checkpoint, replacing it and log.csv",
         cxxopts::value(c.overwrite)->default_value("false"));
}

const char* const kCheckpointOwnedKeys[10] = {"n_layer", "n_head", "n_embd", "block_size", "dropout",
                                              "bias", "mixer", "activation", "mixer_vproj", "seed"};

namespace {
std::string trim(const std::string& s) {
    size_t b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
    return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}
}  // namespace

std::vector<std::string> read_config_text(const std::string& text, const std::string& path) {
    std::vector<std::string> args;
    std::map<std::string, int> line_of_key;
    std::istringstream in(text);
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
        if (key.empty()) fail("config", where + ": the line has no key before '='");
        if (value.size() >= 2 && (value.front() == '\'' || value.front() == '"') && value.back() == value.front())
            value = value.substr(1, value.size() - 2);
        if (value == "True") value = "true";  // Python's spelling
        if (value == "False") value = "false";
        if (key == "config") fail("config", where + ": a config file cannot include another");
        const auto [seen, fresh] = line_of_key.emplace(key, number);
        if (!fresh)
            fail("config", where + ": " + key + " is already set on line " + std::to_string(seen->second) +
                               "; keep one of the two");
        args.push_back("--" + key + "=" + value);
    }
    return args;
}

std::vector<std::string> read_config_file(const std::string& path) {
    return read_config_text(read_regular_file(path, "config"), path);
}

namespace {

// The whole text is one number (strtod's syntax: 12, -3, 1e-3, 0x10, inf, nan).
bool is_whole_number_text(const std::string& s) {
    if (s.empty()) return false;
    char* end = nullptr;
    std::strtod(s.c_str(), &end);
    return end == s.c_str() + s.size();
}

// Long names of the options that take true/false, and of those whose default
// is a number (cxxopts reads "1e-3x" as 1e-3; we refuse it).
void classify_options(const cxxopts::Options& options, std::set<std::string>& booleans, std::set<std::string>& numbers) {
    for (const std::string& group : options.groups())
        for (const cxxopts::HelpOptionDetails& o : options.group_help(group).options)
            for (const std::string& l : o.l) {
                if (o.is_boolean) booleans.insert(l);
                else if (o.has_default && is_whole_number_text(o.default_value)) numbers.insert(l);
            }
}

std::string lower(std::string s) {
    for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
}

bool is_boolean_word(const std::string& s) {
    const std::string l = lower(s);
    return l == "true" || l == "false" || l == "yes" || l == "no" || l == "1" || l == "0";
}

cxxopts::ParseResult parse_args(cxxopts::Options& options, std::vector<std::string> args) {
    std::vector<char*> ptrs{const_cast<char*>("causalgrad")};
    for (std::string& s : args) ptrs.push_back(s.data());
    return options.parse(static_cast<int>(ptrs.size()), ptrs.data());
}

}  // namespace

cxxopts::ParseResult parse_strict(cxxopts::Options& options, const std::vector<std::string>& args, bool positional) {
    std::set<std::string> booleans, numbers;
    classify_options(options, booleans, numbers);
    std::vector<std::string> fixed;
    for (size_t i = 0; i < args.size(); i++) {
        const std::string& a = args[i];
        if (a.rfind("--", 0) != 0 || a.size() == 2) {
            fixed.push_back(a);
            continue;
        }
        const size_t eq = a.find('=');
        const std::string name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
        if (numbers.count(name)) {
            const bool inline_value = eq != std::string::npos;
            if (inline_value || i + 1 < args.size()) {
                const std::string value = inline_value ? a.substr(eq + 1) : args[i + 1];
                if (!is_whole_number_text(value)) fail("options", "--" + name + ": '" + value + "' is not a valid value: a number is expected");
            }
            fixed.push_back(a);
            continue;
        }
        if (!booleans.count(name)) {
            fixed.push_back(a);
            continue;
        }
        if (eq != std::string::npos) {
            const std::string value = a.substr(eq + 1);
            if (!is_boolean_word(value))
                fail("options", "--" + name + " takes true or false, got '" + value + "'");
            fixed.push_back("--" + name + "=" + lower(value));
        } else if (i + 1 < args.size() && is_boolean_word(args[i + 1])) {
            fixed.push_back("--" + name + "=" + lower(args[++i]));  // --bias false
        } else {
            fixed.push_back(a);  // --bias alone means true
        }
    }
    cxxopts::ParseResult result;
    try {
        result = parse_args(options, fixed);
    } catch (const cxxopts::exceptions::incorrect_argument_type&) {
        // cxxopts names the value, not the option: find the argument that fails alone.
        for (const std::string& a : fixed) {
            try {
                parse_args(options, {a});
            } catch (const cxxopts::exceptions::incorrect_argument_type&) {
                const size_t eq = a.find('=');
                if (eq != std::string::npos)
                    fail("options", a.substr(0, eq) + ": '" + a.substr(eq + 1) +
                                        "' is not a valid value");
                fail("options", a + ": its value is not valid");
            } catch (const std::exception&) {
            }
        }
        throw;
    }
    for (const std::string& a : result.unmatched())
        if (!positional || a.rfind("-", 0) == 0)
            fail("options", "unexpected argument '" + a + "'; options are written --name=value");
    return result;
}

cxxopts::ParseResult parse_with_config(cxxopts::Options& options, int argc, char** argv, int first) {
    std::vector<std::string> args;
    std::string config_path;
    int configs = 0;
    for (int i = first; i < argc; i++) {
        std::string a = argv[i];
        if (a.rfind("--config=", 0) == 0) {
            config_path = a.substr(9);
            configs++;
        } else if (a == "--config") {
            if (i + 1 >= argc) fail("options", "--config needs a file: --config=FILE");
            config_path = argv[++i];
            configs++;
        } else {
            args.push_back(a);
        }
    }
    if (configs > 1) fail("options", "--config is given " + std::to_string(configs) + " times; give one file");
    if (configs == 1 && config_path.empty()) fail("options", "--config is empty; give a file: --config=FILE");
    std::vector<std::string> merged;
    if (configs == 1) merged = read_config_file(config_path);
    merged.insert(merged.end(), args.begin(), args.end());  // the command line wins
    return parse_strict(options, merged);
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
        {"batch_size", std::to_string(c.batch_size)},
        {"grad_accum", std::to_string(c.grad_accum)}, {"max_iters", std::to_string(c.max_iters)},
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
    parse_strict(o, args);
    c.model.vocab_size = vocab;
}

}  // namespace cg
