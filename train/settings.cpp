#include "train/settings.h"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace cg {

std::vector<Setting> model_settings(GPTConfig& m) {
    using G = SettingGroup;
    auto model = [](const char* key, std::string help, auto* field) {
        Setting s{key, G::model, std::move(help), field};
        s.from_checkpoint = true;
        return s;
    };
    std::vector<Setting> rows = {
        model("n_layer", "transformer blocks", &m.n_layer),
        model("n_head", "attention heads per attention block", &m.n_head),
        model("n_embd", "embedding width C", &m.n_embd),
        model("block_size", "context length T", &m.block_size),
        model("vocab_size", "vocabulary size (from the data)", &m.vocab_size),
        model("dropout", "dropout probability", &m.dropout),
        model("bias", "biases in Linear and LayerNorm", &m.bias),
        model("mixer", "sequence mixer of every block, or a comma list with one per block: " +
                           mixer_kind_names(MixerUse::mixer) + " (the +gavg ones leak future tokens)",
              &m.mixer),
        model("activation", "MLP activation: " + mixer_kind_names(MixerUse::activation), &m.activation),
        model("mixer_vproj", "a learned value projection c_v before a parameter-free mixer", &m.mixer_vproj),
    };
    rows[4].option = false;  // vocab_size
    return rows;
}

std::vector<Setting> settings(TrainConfig& c) {
    using G = SettingGroup;
    std::vector<Setting> rows = model_settings(c.model);
    const std::vector<Setting> training = {
        {"data_dir", G::training, "folder with train.bin, val.bin, vocab.txt", &c.data_dir},
        {"out_dir", G::training, "folder for ckpt.bin and log.csv", &c.out_dir},
        {"init_from", G::training, "scratch, or resume from out_dir's latest state (the newer of last.bin and ckpt.bin)", &c.init_from},
        {"batch_size", G::training, "sequences per micro-batch (per process under mpirun)", &c.batch_size},
        {"grad_accum", G::training, "micro-batches per step, gradients summed", &c.grad_accum},
        {"max_iters", G::training, "training steps", &c.max_iters},
        {"learning_rate", G::training, "peak learning rate", &c.learning_rate},
        {"decay_lr", G::training, "warmup then cosine decay (else constant)", &c.decay_lr},
        {"warmup_iters", G::training, "linear warmup steps", &c.warmup_iters},
        {"lr_decay_iters", G::training, "step where the cosine reaches min_lr", &c.lr_decay_iters},
        {"min_lr", G::training, "final learning rate", &c.min_lr},
        {"weight_decay", G::training, "AdamW decay of 2-D weights", &c.weight_decay},
        {"beta1", G::training, "AdamW beta1", &c.beta1},
        {"beta2", G::training, "AdamW beta2", &c.beta2},
        {"grad_clip", G::training, "clip gradients to this global norm (0: off)", &c.grad_clip},
        {"eval_interval", G::training, "steps between evaluations", &c.eval_interval},
        {"eval_iters", G::training, "batches per loss estimate", &c.eval_iters},
        {"log_interval", G::training, "steps between progress lines", &c.log_interval},
        {"always_save_checkpoint", G::training, "save ckpt.bin at every evaluation, not only when val improves (else that state goes to last.bin)",
         &c.always_save_checkpoint},
        {"seed", G::training, "random seed (initialisation, batches, dropout)", &c.seed},
        {"threads", G::training, "threads (0: 1 or all cores, chosen by measuring as it runs)", &c.threads},
        {"attention", G::training, "fused (the flash-style kernel) or composed (the readable ops; the same losses, slower)",
         &c.attention},
        {"dtype", G::training, "float32, or bfloat16: matrix products read bf16 operands and add in fp32 (CPUs with "
                               "AVX512_BF16); weights, gradients, optimizer and checkpoints stay fp32",
         &c.dtype},
        {"overwrite", G::training, "train from scratch even if out_dir holds a run, replacing its ckpt.bin, last.bin and log.csv",
         &c.overwrite},
    };
    rows.insert(rows.end(), training.begin(), training.end());
    for (Setting& s : rows) {
        if (std::string(s.key) == "seed") s.from_checkpoint = true;  // a resumed run keeps its streams
        if (std::string(s.key) == "overwrite") s.saved = false;      // what this invocation does, not the run
    }
    return rows;
}

namespace {

// The shortest text that parses back to the same float.
std::string float_text(float v) {
    char buf[32];
    for (int digits = 6; digits <= 9; digits++) {
        std::snprintf(buf, sizeof(buf), "%.*g", digits, static_cast<double>(v));
        if (std::strtof(buf, nullptr) == v) break;
    }
    return buf;
}

[[noreturn]] void bad_value(const Setting& s, const std::string& text, const char* want) {
    fail("config", std::string(s.key) + ": '" + text + "' is not a valid value: " + want + " is expected");
}

template <typename T>
T whole_number(const Setting& s, const std::string& text) {
    errno = 0;
    char* end = nullptr;
    const bool negative = !text.empty() && text[0] == '-';
    if (text.empty() || (negative && !std::numeric_limits<T>::is_signed)) bad_value(s, text, "a whole number");
    const long long v = std::numeric_limits<T>::is_signed ? std::strtoll(text.c_str(), &end, 10)
                                                          : static_cast<long long>(std::strtoull(text.c_str(), &end, 10));
    if (errno != 0 || end != text.c_str() + text.size()) bad_value(s, text, "a whole number");
    if (std::numeric_limits<T>::is_signed && (v < static_cast<long long>(std::numeric_limits<T>::min()) ||
                                              v > static_cast<long long>(std::numeric_limits<T>::max())))
        bad_value(s, text, "a smaller whole number");
    return static_cast<T>(v);
}

}  // namespace

std::string setting_text(const Setting& s) {
    struct Text {
        std::string operator()(int64_t* v) const { return std::to_string(*v); }
        std::string operator()(int* v) const { return std::to_string(*v); }
        std::string operator()(uint64_t* v) const { return std::to_string(*v); }
        std::string operator()(float* v) const { return float_text(*v); }
        std::string operator()(bool* v) const { return *v ? "true" : "false"; }
        std::string operator()(std::string* v) const { return *v; }
    };
    return std::visit(Text{}, s.field);
}

void set_setting(const Setting& s, const std::string& text) {
    if (auto* v = std::get_if<int64_t*>(&s.field)) {
        **v = whole_number<int64_t>(s, text);
    } else if (auto* v = std::get_if<int*>(&s.field)) {
        **v = whole_number<int>(s, text);
    } else if (auto* v = std::get_if<uint64_t*>(&s.field)) {
        **v = whole_number<uint64_t>(s, text);
    } else if (auto* v = std::get_if<float*>(&s.field)) {
        char* end = nullptr;
        const float f = std::strtof(text.c_str(), &end);
        if (text.empty() || end != text.c_str() + text.size()) bad_value(s, text, "a number");
        **v = f;
    } else if (auto* v = std::get_if<bool*>(&s.field)) {
        std::string l = text;
        for (char& ch : l) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (l == "true" || l == "yes" || l == "1") **v = true;
        else if (l == "false" || l == "no" || l == "0") **v = false;
        else bad_value(s, text, "true or false");
    } else {
        *std::get<std::string*>(s.field) = text;
    }
}

std::vector<std::pair<std::string, std::string>> config_pairs(const TrainConfig& config) {
    TrainConfig copy = config;  // settings() binds to fields it may write; reading leaves them
    std::vector<std::pair<std::string, std::string>> pairs;
    for (const Setting& s : settings(copy))
        if (s.saved) pairs.emplace_back(s.key, setting_text(s));
    return pairs;
}

void apply_config_pairs(TrainConfig& config, const std::vector<std::pair<std::string, std::string>>& pairs) {
    const std::vector<Setting> rows = settings(config);
    for (const auto& [key, value] : pairs) {
        const Setting* row = nullptr;
        for (const Setting& s : rows)
            if (key == s.key && s.saved) row = &s;
        if (!row) fail("config", "unknown setting '" + key + "'");
        set_setting(*row, value);
    }
}

}  // namespace cg
