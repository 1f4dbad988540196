#include "train/checkpoint.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace cg {

namespace {

constexpr char kMagic[8] = {'C', 'G', 'C', 'K', 'P', 'T', '0', '1'};

struct Writer {
    std::ofstream out;
    void bytes(const void* p, size_t n) { out.write(static_cast<const char*>(p), static_cast<std::streamsize>(n)); }
    void u64(uint64_t v) { bytes(&v, 8); }
    void f32(float v) { bytes(&v, 4); }
    void str(const std::string& s) {
        u64(s.size());
        bytes(s.data(), s.size());
    }
    void tensor(const Tensor& t) {
        u64(static_cast<uint64_t>(t.ndim()));
        for (int i = 0; i < t.ndim(); i++) u64(static_cast<uint64_t>(t.shape[i]));
        Tensor c = t.contiguous();
        bytes(c.data, static_cast<size_t>(c.numel()) * 4);
    }
};

struct Reader {
    std::ifstream in;
    std::string path;
    void bytes(void* p, size_t n) {
        in.read(static_cast<char*>(p), static_cast<std::streamsize>(n));
        if (!in) fail("checkpoint", "'" + path + "' is truncated or damaged");
    }
    uint64_t u64() {
        uint64_t v;
        bytes(&v, 8);
        return v;
    }
    float f32() {
        float v;
        bytes(&v, 4);
        return v;
    }
    std::string str() {
        uint64_t n = u64();
        if (n > (1u << 30)) fail("checkpoint", "'" + path + "' is damaged (string of " + std::to_string(n) + " bytes)");
        std::string s(n, '\0');
        bytes(s.data(), n);
        return s;
    }
    // Reads a tensor into `into`, whose shape must match what the file holds.
    void tensor_into(const Tensor& into, const std::string& what) {
        uint64_t ndim = u64();
        if (ndim > kMaxDims) fail("checkpoint", "'" + path + "' is damaged (" + what + ")");
        Shape s;
        s.ndim = static_cast<int>(ndim);
        for (int i = 0; i < s.ndim; i++) s.dims[i] = static_cast<int64_t>(u64());
        if (s != into.shape)
            fail("checkpoint", "'" + path + "': " + what + " has shape " + s.str() + ", the model expects " + into.shape.str());
        bytes(into.data, static_cast<size_t>(into.numel()) * 4);
    }
};

}  // namespace

void save_checkpoint(const std::string& path, const TrainConfig& config, const Vocab& vocab,
                     GPT& model, const AdamW& opt, const RunState& state) {
    const std::string tmp = path + ".tmp";
    {
        Writer w{std::ofstream(tmp, std::ios::binary)};
        if (!w.out) fail("checkpoint", "cannot write '" + tmp + "'");
        w.bytes(kMagic, 8);
        std::string settings;
        for (const auto& [k, v] : config_pairs(config)) {
            if (v.find('\n') != std::string::npos)
                fail("checkpoint", "setting " + k + " contains a line break; choose a value without one");
            settings += k + "=" + v + "\n";
        }
        w.str(settings);
        w.u64(vocab.size());
        for (uint32_t cp : vocab) w.u64(cp);
        w.u64(static_cast<uint64_t>(state.step));
        w.f32(state.best_val_loss);
        for (const Rng& r : {state.data_rng, state.dropout_rng}) {
            w.u64(r.seed);
            w.u64(r.counter);
        }
        std::vector<Parameter*> params = gpt_parameters(model);
        w.u64(params.size());
        for (Parameter* p : params) {
            w.str(p->name);
            w.tensor(p->value);
        }
        w.u64(static_cast<uint64_t>(opt.step));
        for (size_t i = 0; i < opt.m.size(); i++) {
            w.tensor(opt.m[i]);
            w.tensor(opt.v[i]);
        }
        w.out.flush();
        if (!w.out) fail("checkpoint", "writing '" + tmp + "' failed (disk full?); the previous checkpoint is untouched");
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) fail("checkpoint", "cannot move '" + tmp + "' to '" + path + "': " + ec.message());
}

RunState fresh_run_state(uint64_t seed) {
    RunState s;
    s.data_rng = Rng{seed ^ 0xDA7Aull, 0};
    s.dropout_rng = Rng{seed ^ 0xD50Full, 0};
    return s;
}

void save_new_checkpoint(const std::string& path, const TrainConfig& config, const Vocab& vocab, GPT& model) {
    const AdamW opt = make_adamw(gpt_parameters(model), AdamWConfig{config.beta1, config.beta2, 1e-8f, config.weight_decay});
    save_checkpoint(path, config, vocab, model, opt, fresh_run_state(config.seed));
}

Checkpoint load_checkpoint(const std::string& path) {
    Reader r{std::ifstream(path, std::ios::binary), path};
    if (!r.in) fail("checkpoint", "no checkpoint at '" + path + "'; train one first with `causalgrad train --out_dir=...`");
    char magic[8];
    r.bytes(magic, 8);
    if (std::memcmp(magic, kMagic, 8) != 0)
        fail("checkpoint", "'" + path + "' is not a causalgrad checkpoint (or of another version)");
    Checkpoint c;
    std::vector<std::pair<std::string, std::string>> pairs;
    const std::string settings = r.str();
    size_t start = 0;
    while (start < settings.size()) {
        size_t end = settings.find('\n', start), eq = settings.find('=', start);
        if (end == std::string::npos || eq > end) fail("checkpoint", "'" + path + "' has damaged settings");
        pairs.emplace_back(settings.substr(start, eq - start), settings.substr(eq + 1, end - eq - 1));
        start = end + 1;
    }
    try {
        apply_config_pairs(c.config, pairs);
    } catch (const std::exception& e) {
        fail("checkpoint", "'" + path + "' has damaged settings (" + e.what() + ")");
    }
    const uint64_t vocab_size = r.u64();
    if (vocab_size > 65536) fail("checkpoint", "'" + path + "' is damaged (vocabulary of " + std::to_string(vocab_size) + ")");
    c.vocab.resize(vocab_size);
    for (uint32_t& cp : c.vocab) cp = static_cast<uint32_t>(r.u64());
    c.state.step = static_cast<int64_t>(r.u64());
    c.state.best_val_loss = r.f32();
    for (Rng* rng : {&c.state.data_rng, &c.state.dropout_rng}) {
        rng->seed = r.u64();
        rng->counter = r.u64();
    }
    c.model = make_gpt(c.config.model, c.config.seed);
    std::vector<Parameter*> params = gpt_parameters(c.model);
    if (r.u64() != params.size()) fail("checkpoint", "'" + path + "' holds another number of parameters than its config makes");
    for (Parameter* p : params) {
        const std::string name = r.str();
        if (name != p->name) fail("checkpoint", "'" + path + "' has '" + name + "' where the model has '" + p->name + "'");
        r.tensor_into(p->value, name);
    }
    c.adam_step = static_cast<int64_t>(r.u64());
    for (Parameter* p : params) {
        c.adam_m.push_back(empty(p->value.shape));
        c.adam_v.push_back(empty(p->value.shape));
        r.tensor_into(c.adam_m.back(), p->name + " (AdamW m)");
        r.tensor_into(c.adam_v.back(), p->name + " (AdamW v)");
    }
    return c;
}

void restore_optimizer(Checkpoint& ckpt, AdamW& opt) {
    opt.m = ckpt.adam_m;
    opt.v = ckpt.adam_v;
    opt.step = ckpt.adam_step;
}

}  // namespace cg
