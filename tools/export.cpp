#include "tools/export.h"

#include <sys/stat.h>

#include <fstream>

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
// An existing file may be replaced only if it is a regular file that starts
// as safetensors do: an 8-byte header length, then the JSON header's '{'.
void check_export_target(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return;  // a new file
    if (!S_ISREG(st.st_mode))
        fail("export", "'" + path + "' exists and is not a regular file; give a new file name with --to");
    std::ifstream in(path, std::ios::binary);
    char head[9] = {};
    in.read(head, 9);
    if (!in || head[8] != '{')
        fail("export", "'" + path + "' exists and is not a safetensors file (a checkpoint, log or data?); "
                       "export replaces only an earlier export: give a new file name with --to");
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
