#include "train/checkpoint.h"

#include <unistd.h>

#include <cmath>
#include <cstring>

#include "io/crc32.h"
#include "io/safe_file.h"

namespace cg {

namespace {

constexpr char kMagic[8] = {'C', 'G', 'C', 'K', 'P', 'T', '0', '2'};
constexpr size_t kHeaderBytes = 16;  // magic + payload length
constexpr size_t kTrailerBytes = 4;  // CRC-32 of the payload

struct Writer {
    std::string out;
    void bytes(const void* p, size_t n) { out.append(static_cast<const char*>(p), n); }
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

// Reads the payload; every read is bounds-checked, so a damaged length can
// only ever produce an error.
struct Reader {
    const char* data;
    size_t size, at = 0;
    std::string path;
    [[noreturn]] void damaged(const std::string& what) const {
        fail("checkpoint", "'" + path + "' is damaged (" + what + "); retrain, or restore a copy");
    }
    void bytes(void* p, size_t n) {
        if (n > size - at) damaged("it ends early");
        if (n == 0) return;  // p may be an empty vector's null data()
        std::memcpy(p, data + at, n);
        at += n;
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
        const uint64_t n = u64();
        if (n > size - at) damaged("a string of " + std::to_string(n) + " bytes");
        std::string s(data + at, n);
        at += n;
        return s;
    }
    // Reads a tensor into `into`, whose shape must match what the file holds.
    void tensor_into(const Tensor& into, const std::string& what) {
        const uint64_t ndim = u64();
        if (ndim > kMaxDims) damaged(what + " has " + std::to_string(ndim) + " dimensions");
        Shape s;
        s.ndim = static_cast<int>(ndim);
        for (int i = 0; i < s.ndim; i++) s.dims[i] = static_cast<int64_t>(u64());
        if (s != into.shape) damaged(what + " has shape " + s.str() + ", the model expects " + into.shape.str());
        bytes(into.data, static_cast<size_t>(into.numel()) * 4);
    }
};

bool all_finite(const Tensor& t) {
    Tensor c = t.contiguous();
    for (int64_t i = 0; i < c.numel(); i++)
        if (!std::isfinite(c.data[i])) return false;
    return true;
}

// The first non-finite tensor of the model and optimizer, or "" if all are finite.
std::string first_non_finite(const std::vector<Parameter*>& params, const std::vector<Tensor>& m,
                             const std::vector<Tensor>& v) {
    for (size_t i = 0; i < params.size(); i++) {
        if (!all_finite(params[i]->value)) return params[i]->name;
        if (i < m.size() && !all_finite(m[i])) return params[i]->name + " (AdamW m)";
        if (i < v.size() && !all_finite(v[i])) return params[i]->name + " (AdamW v)";
    }
    return "";
}

// The fewest floats a model of this config holds (embeddings and MLPs only),
// in double so that absurd settings cannot overflow.
double min_parameter_floats(const GPTConfig& c) {
    const double C = static_cast<double>(c.n_embd);
    return static_cast<double>(c.vocab_size + c.block_size) * C + static_cast<double>(c.n_layer) * 8.0 * C * C;
}

}  // namespace

std::string checkpoint_bytes(const TrainConfig& config, const Vocab& vocab, GPT& model, const AdamW& opt,
                             const RunState& state) {
    std::vector<Parameter*> params = gpt_parameters(model);
    const std::string bad = first_non_finite(params, opt.m, opt.v);
    if (!bad.empty()) fail("checkpoint", bad + " holds NaN or infinity; not saving it");
    if (!std::isfinite(state.best_val_loss)) fail("checkpoint", "the best val loss is not finite; not saving it");
    Writer w;
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
    return wrap_checkpoint_payload(w.out);
}

std::string wrap_checkpoint_payload(const std::string& payload) {
    Writer w;
    w.bytes(kMagic, 8);
    w.u64(payload.size());
    w.out += payload;
    const uint32_t crc = crc32(payload.data(), payload.size());
    w.bytes(&crc, 4);
    return w.out;
}

void save_checkpoint(const std::string& path, const TrainConfig& config, const Vocab& vocab, GPT& model,
                     const AdamW& opt, const RunState& state) {
    write_file_atomically(path, checkpoint_bytes(config, vocab, model, opt, state), "checkpoint");
}

RunState fresh_run_state(uint64_t seed) {
    RunState s;
    s.data_rng = Rng{seed ^ 0xDA7Aull, 0};
    s.dropout_rng = Rng{seed ^ 0xD50Full, 0};
    return s;
}

void save_new_checkpoint(const std::string& path, const TrainConfig& config, const Vocab& vocab, GPT& model) {
    const AdamW opt = make_adamw(gpt_parameters(model), adamw_config(config));
    save_checkpoint(path, config, vocab, model, opt, fresh_run_state(config.seed));
}

Checkpoint load_checkpoint(const std::string& path) {
    if (::access(path.c_str(), F_OK) != 0)
        fail("checkpoint", "no checkpoint at '" + path + "'; train one first with `causalgrad train --out_dir=...`");
    return parse_checkpoint(read_regular_file(path, "checkpoint"), path);
}

Checkpoint parse_checkpoint(const std::string& bytes, const std::string& path) {
    if (bytes.size() < 8 || std::memcmp(bytes.data(), kMagic, 6) != 0)
        fail("checkpoint", "'" + path + "' is not a causalgrad checkpoint");
    if (std::memcmp(bytes.data(), kMagic, 8) != 0)
        fail("checkpoint", "'" + path + "' is a checkpoint of another format version (" + bytes.substr(6, 2) +
                               ", this build reads " + std::string(kMagic + 6, 2) + "); retrain with this build");
    uint64_t length = 0;
    if (bytes.size() >= kHeaderBytes) std::memcpy(&length, bytes.data() + 8, 8);
    if (bytes.size() < kHeaderBytes + kTrailerBytes || length != bytes.size() - kHeaderBytes - kTrailerBytes)
        fail("checkpoint", "'" + path + "' is damaged (" + std::to_string(bytes.size()) +
                               " bytes, not the length its header gives: truncated or appended to); "
                               "retrain, or restore a copy");
    uint32_t stored_crc;
    std::memcpy(&stored_crc, bytes.data() + kHeaderBytes + length, 4);
    if (crc32(bytes.data() + kHeaderBytes, length) != stored_crc)
        fail("checkpoint", "'" + path + "' is damaged (its CRC-32 does not match its contents); retrain, or restore a copy");

    Reader r{bytes.data() + kHeaderBytes, length, 0, path};
    Checkpoint c;
    std::vector<std::pair<std::string, std::string>> pairs;
    const std::string settings = r.str();
    for (size_t start = 0; start < settings.size();) {
        const size_t end = settings.find('\n', start), eq = settings.find('=', start);
        if (end == std::string::npos || eq > end) r.damaged("its settings");
        pairs.emplace_back(settings.substr(start, eq - start), settings.substr(eq + 1, end - eq - 1));
        start = end + 1;
    }
    try {
        apply_config_pairs(c.config, pairs);
        validate_config(c.config.model);
    } catch (const std::exception& e) {
        r.damaged(std::string("its settings: ") + e.what());
    }
    const uint64_t vocab_size = r.u64();
    if (vocab_size > 65536 || static_cast<int64_t>(vocab_size) != c.config.model.vocab_size)
        r.damaged("a vocabulary of " + std::to_string(vocab_size));
    c.vocab.resize(vocab_size);
    for (uint32_t& cp : c.vocab) {
        const uint64_t v = r.u64();
        if (v > 0x10FFFF) r.damaged("a code point past U+10FFFF in the vocabulary");
        cp = static_cast<uint32_t>(v);
    }
    try {
        check_vocab(c.vocab, "its vocabulary");
    } catch (const Error& e) {
        r.damaged(std::string(e.what()).substr(std::string("[vocab] ").size()));
    }
    c.state.step = static_cast<int64_t>(r.u64());
    c.state.best_val_loss = r.f32();
    if (c.state.step < 0 || !std::isfinite(c.state.best_val_loss)) r.damaged("its step or best val loss");
    for (Rng* rng : {&c.state.data_rng, &c.state.dropout_rng}) {
        rng->seed = r.u64();
        rng->counter = r.u64();
    }
    // Weights and both AdamW moments: refuse settings that promise more than
    // the file holds before allocating for them.
    if (3.0 * 4.0 * min_parameter_floats(c.config.model) > static_cast<double>(r.size - r.at))
        r.damaged("its settings describe a model larger than the file");
    c.model = make_gpt(c.config.model, c.config.seed);
    std::vector<Parameter*> params = gpt_parameters(c.model);
    if (r.u64() != params.size()) r.damaged("another number of parameters than its settings make");
    for (Parameter* p : params) {
        const std::string name = r.str();
        if (name != p->name) r.damaged("'" + name + "' where the model has '" + p->name + "'");
        r.tensor_into(p->value, name);
    }
    c.adam_step = static_cast<int64_t>(r.u64());
    for (Parameter* p : params) {
        c.adam_m.push_back(empty(p->value.shape));
        c.adam_v.push_back(empty(p->value.shape));
        r.tensor_into(c.adam_m.back(), p->name + " (AdamW m)");
        r.tensor_into(c.adam_v.back(), p->name + " (AdamW v)");
    }
    if (r.at != r.size) r.damaged(std::to_string(r.size - r.at) + " bytes past the last tensor");
    const std::string bad = first_non_finite(params, c.adam_m, c.adam_v);
    if (!bad.empty()) r.damaged(bad + " holds NaN or infinity");
    return c;
}

std::string best_checkpoint_path(const std::string& out_dir) { return out_dir + "/ckpt.bin"; }
std::string last_checkpoint_path(const std::string& out_dir) { return out_dir + "/last.bin"; }

RunCheckpoint load_run_checkpoint(const std::string& out_dir, const std::string& which, const char* op) {
    if (which != "best" && which != "last") fail(op, "--checkpoint must be best or last, got '" + which + "'");
    const std::string best = best_checkpoint_path(out_dir), last = last_checkpoint_path(out_dir);
    const bool has_best = ::access(best.c_str(), F_OK) == 0, has_last = ::access(last.c_str(), F_OK) == 0;
    RunCheckpoint r;
    r.best_exists = has_best;
    if (which == "best" && !has_best && has_last)
        fail(op, "no best checkpoint at '" + best + "' (val never improved on the run's first evaluation); its latest "
                 "state is '" + last + "': read it with --checkpoint=last");
    if (which == "best" || !has_last) {
        r.path = best;
        r.ckpt = load_checkpoint(best);
        r.best_val_loss = r.ckpt.state.best_val_loss;
        return r;
    }
    r.path = last;
    r.ckpt = load_checkpoint(last);
    if (has_best) {
        Checkpoint b = load_checkpoint(best);
        r.best_val_loss = b.state.best_val_loss;
        if (b.state.step >= r.ckpt.state.step) {
            r.path = best;
            r.ckpt = std::move(b);
        }
    }
    return r;
}

void restore_optimizer(Checkpoint& ckpt, AdamW& opt) {
    opt.m = ckpt.adam_m;
    opt.v = ckpt.adam_v;
    opt.step = ckpt.adam_step;
}

}  // namespace cg
