#include "tools/export.h"

#include <sys/stat.h>

#include <fstream>
#include <optional>

#include "io/json.h"
#include "train/settings.h"
#include "io/safe_file.h"

namespace cg {

Metadata export_metadata(const GPTConfig& config, const Vocab& vocab) {
    GPTConfig model = config;
    Metadata meta = {{"format", "pt"}};  // what PyTorch's safetensors writer puts there
    for (const Setting& s : model_settings(model)) {  // booleans as Python writes them
        const std::string value = setting_text(s);
        meta.emplace_back(s.key, value == "true" ? "True" : value == "false" ? "False" : value);
    }
    const std::vector<std::string> mixers = block_mixers(config);
    bool all_attention = find_mixer_kind(config.activation, MixerUse::activation).nanogpt;
    for (size_t l = 0; l < mixers.size(); l++) {
        meta.emplace_back("mixer." + std::to_string(l), mixers[l]);
        all_attention = all_attention && find_mixer_kind(mixers[l], MixerUse::mixer).nanogpt;
    }
    meta.emplace_back("nanogpt_compatible", all_attention ? "True" : "False");
    std::string codes;
    for (size_t i = 0; i < vocab.size(); i++) codes += (i ? "," : "") + std::to_string(vocab[i]);
    meta.emplace_back("vocab", codes);
    return meta;
}

namespace {

// The __metadata__ object of an existing safetensors file, read from its
// header alone (a large file is not read whole); nullopt when the file does not
// start as safetensors do.
std::optional<Json> existing_metadata(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    unsigned char size_bytes[8] = {};
    if (!in.read(reinterpret_cast<char*>(size_bytes), 8)) return std::nullopt;
    uint64_t n = 0;
    for (int k = 7; k >= 0; k--) n = (n << 8) | size_bytes[k];
    if (n == 0 || n > (100u << 20)) return std::nullopt;
    std::string header(static_cast<size_t>(n), '\0');
    if (!in.read(header.data(), static_cast<std::streamsize>(n))) return std::nullopt;
    try {
        const Json root = parse_json(header);
        if (root.kind != Json::object) return std::nullopt;
        const Json* meta = root.find("__metadata__");
        return meta ? *meta : Json{};
    } catch (const Error&) {
        return std::nullopt;
    }
}

// An existing file may be replaced only if it is an earlier export: a regular
// safetensors file whose metadata holds what export_metadata writes (the
// model's settings, mixer.0, nanogpt_compatible and vocab). A safetensors file
// from elsewhere (PyTorch's, made by hand) is someone's weights and is kept.
void check_export_target(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return;  // a new file
    if (!S_ISREG(st.st_mode))
        fail("export", "'" + path + "' exists and is not a regular file; give a new file name with --to");
    const std::optional<Json> meta = existing_metadata(path);
    if (!meta)
        fail("export", "'" + path + "' exists and is not a safetensors file (a checkpoint, log or data?); "
                       "export replaces only an earlier export: give a new file name with --to");
    for (const char* key : {"n_layer", "n_head", "n_embd", "mixer", "mixer.0", "nanogpt_compatible", "vocab"}) {
        const Json* v = meta->kind == Json::object ? meta->find(key) : nullptr;
        if (!v || v->kind != Json::string)
            fail("export", "'" + path + "' exists and is not a causalgrad export (its metadata has no '" + key +
                               "'); export replaces only an earlier export: give a new file name with --to");
    }
}

}  // namespace

void export_safetensors(GPT& model, const Vocab& vocab, const std::string& path) {
    check_export_target(path);
    const GPTConfig& c = model.config;
    if (static_cast<int64_t>(vocab.size()) != c.vocab_size)
        fail("export", "the vocabulary has " + std::to_string(vocab.size()) + " entries for vocab_size " +
                           std::to_string(c.vocab_size));
    auto shape_of = [](const Tensor& t) { return std::vector<int64_t>(t.shape.dims, t.shape.dims + t.ndim()); };
    // The causal mask nanoGPT's attention keeps as a buffer: 1 on and below the diagonal.
    const int64_t T = c.block_size;
    std::vector<float> mask(static_cast<size_t>(T * T), 0.0f);
    for (int64_t i = 0; i < T; i++)
        for (int64_t j = 0; j <= i; j++) mask[i * T + j] = 1.0f;  // mask (T, T), row i = query position

    std::vector<TensorToWrite> tensors;
    for (Parameter* p : gpt_parameters(model)) tensors.push_back({p->name, shape_of(p->value), p->value.data});
    for (size_t l = 0; l < model.h.size(); l++)
        if (model.h[l].mixer.kind->nanogpt)
            tensors.push_back({"transformer.h." + std::to_string(l) + ".attn.bias", {1, 1, T, T}, mask.data()});
    tensors.push_back({"lm_head.weight", shape_of(model.wte.value), model.wte.value.data});
    write_safetensors(path, export_metadata(c, vocab), tensors);
}

}  // namespace cg
