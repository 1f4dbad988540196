#include "tools/import.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "train/resources.h"

namespace cg {

namespace {

const char* const kModelKeys[] = {"n_layer", "n_head", "n_embd", "block_size", "vocab_size",
                                  "dropout", "bias", "mixer", "activation", "mixer_vproj"};

void set(Metadata& pairs, const std::string& key, const std::string& value) {
    for (auto& [k, v] : pairs)
        if (k == key) {
            v = value;
            return;
        }
    pairs.emplace_back(key, value);
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

std::string shape_text(const std::vector<int64_t>& shape) {
    std::string s = "(";
    for (size_t i = 0; i < shape.size(); i++) s += (i ? "," : "") + std::to_string(shape[i]);
    return s + ")";
}

// The block index of "transformer.h.<l>.<rest>", or -1.
int64_t block_of(const std::string& name) {
    const std::string prefix = "transformer.h.";
    if (!starts_with(name, prefix)) return -1;
    const size_t end = name.find('.', prefix.size());
    const std::string digits = name.substr(prefix.size(), end - prefix.size());
    if (digits.empty() || digits.size() > 6 || digits.find_first_not_of("0123456789") != std::string::npos) return -1;
    return std::stoll(digits);
}

// What the shapes say about the config (only what they can say).
Metadata settings_from_shapes(const SafetensorsFile& f) {
    Metadata s;
    const StoredTensor* wte = f.find("transformer.wte.weight");
    if (!wte) wte = f.find("lm_head.weight");
    if (wte && wte->shape.size() == 2) {
        set(s, "vocab_size", std::to_string(wte->shape[0]));
        set(s, "n_embd", std::to_string(wte->shape[1]));
    }
    const StoredTensor* wpe = f.find("transformer.wpe.weight");
    if (wpe && wpe->shape.size() == 2) set(s, "block_size", std::to_string(wpe->shape[0]));
    int64_t n_layer = 0;
    for (const StoredTensor& t : f.tensors) n_layer = std::max(n_layer, block_of(t.name) + 1);
    if (n_layer > static_cast<int64_t>(f.tensors.size()))  // a typo'd index would build a huge model
        fail("import", "tensor names reach block " + std::to_string(n_layer - 1) + " but the file holds only " +
                           std::to_string(f.tensors.size()) + " tensors; check the transformer.h.<l> names");
    if (n_layer > 0) {
        set(s, "n_layer", std::to_string(n_layer));
        // Attention when every block has c_attn; a replacement mixer's op leaves no trace in the weights.
        bool all_attention = true;
        for (int64_t l = 0; l < n_layer; l++)
            all_attention = all_attention && f.find("transformer.h." + std::to_string(l) + ".attn.c_attn.weight");
        if (all_attention) set(s, "mixer", "attn");
    }
    set(s, "bias", f.find("transformer.ln_f.bias") ? "true" : "false");
    bool vproj = false;
    for (const StoredTensor& t : f.tensors) vproj = vproj || t.name.find(".attn.c_v.") != std::string::npos;
    set(s, "mixer_vproj", vproj ? "true" : "false");
    return s;
}

// Our exports' metadata: the model keys, booleans as Python writes them.
void add_settings_from_metadata(const SafetensorsFile& f, Metadata& s) {
    for (const char* key : kModelKeys) {
        const std::string* v = f.meta(key);
        if (!v) continue;
        const bool is_bool = std::string(key) == "bias" || std::string(key) == "mixer_vproj";
        if (is_bool && (*v == "True" || *v == "1")) set(s, key, "true");
        else if (is_bool && (*v == "False" || *v == "0")) set(s, key, "false");
        else set(s, key, *v);
    }
}

Vocab vocab_from_metadata(const std::string& text, const std::string& path) {
    Vocab v;
    std::stringstream ss(text);
    for (std::string item; std::getline(ss, item, ',');) {
        if (item.empty() || item.size() > 7 || item.find_first_not_of("0123456789") != std::string::npos)
            fail("import", "'" + path + "': the vocab metadata holds '" + item + "', not a code point");
        v.push_back(static_cast<uint32_t>(std::stoul(item)));
    }
    check_vocab(v, "'" + path + "': the vocab metadata");
    return v;
}

// A model setting given to the import that the file's metadata sets otherwise
// would build another model than the one saved: refused, naming both values.
// dropout is not the model's shape but how it trains on; a new value is applied, with a note.
void refuse_contradictions(const SafetensorsFile& f, const std::string& path, const Metadata& from_file,
                           const Metadata& given, std::vector<std::string>& notes) {
    for (const auto& [key, value] : given) {
        if (!f.meta(key)) continue;
        const std::string* saved = nullptr;
        for (const auto& [k, v] : from_file)
            if (k == key) saved = &v;
        if (!saved) continue;
        const std::string &file_text = *saved, &given_text = value;
        bool same = file_text == given_text;
        // Compared as the setting reads them, so "4" and "04", or "attn" and "attn,attn", agree.
        try {
            TrainConfig a, b;
            apply_config_pairs(a, from_file);
            b = a;
            apply_config_pairs(a, {{key, file_text}});
            apply_config_pairs(b, {{key, given_text}});
            same = key == "mixer" ? block_mixers(a.model) == block_mixers(b.model) : config_pairs(a) == config_pairs(b);
        } catch (const std::exception&) {
            // A value that does not read is refused later with its own message.
        }
        if (same) continue;
        if (key == "dropout") {
            notes.push_back("dropout " + given_text + " (the file's metadata says " + file_text + ")");
            continue;
        }
        fail("import", "--" + key + "=" + given_text + " contradicts '" + path + "', whose metadata says " + key + " " +
                           file_text + "; drop --" + key + " to use the file's value");
    }
}

// nanoGPT's causal-mask buffer: (1, 1, block_size, block_size), 1 on and below the diagonal.
void check_mask(const StoredTensor& t, int64_t T) {
    const std::vector<int64_t> want = {1, 1, T, T};
    if (t.shape != want)
        fail("import", "'" + t.name + "' has shape " + shape_text(t.shape) + ", a causal mask for block_size " +
                           std::to_string(T) + " is " + shape_text(want));
    for (int64_t i = 0; i < T; i++)
        for (int64_t j = 0; j < T; j++)
            if (t.values[i * T + j] != (j <= i ? 1.0f : 0.0f))
                fail("import", "'" + t.name + "' is not the causal mask (entry " + std::to_string(i) + "," +
                                   std::to_string(j) + "); causalgrad's attention is always causal");
}

// wte and lm_head: one matrix in causalgrad. Returns the values to use for wte.
const StoredTensor* tied_embedding(const SafetensorsFile& f, const ImportOptions& o, std::vector<std::string>& notes) {
    const StoredTensor* wte = f.find("transformer.wte.weight");
    const StoredTensor* head = f.find("lm_head.weight");
    if (!wte && !head) return nullptr;
    if (!wte) {
        notes.push_back("transformer.wte.weight taken from lm_head.weight (the file keeps one copy of the tied matrix)");
        return head;
    }
    if (!head) return wte;
    if (head->shape != wte->shape)
        fail("import", "lm_head.weight has shape " + shape_text(head->shape) + ", transformer.wte.weight " +
                           shape_text(wte->shape) + "; they must match (causalgrad ties them)");
    if (head->values == wte->values) {
        notes.push_back("lm_head.weight equals transformer.wte.weight: tied, as causalgrad's model");
        return wte;
    }
    float diff = 0.0f;
    for (size_t i = 0; i < wte->values.size(); i++) diff = std::max(diff, std::fabs(wte->values[i] - head->values[i]));
    if (o.untied == "keep_wte" || o.untied == "keep_lm_head") {
        notes.push_back("untied model (max |lm_head - wte| " + std::to_string(diff) + "): using " +
                        (o.untied == "keep_wte" ? "wte" : "lm_head") + " for both, so the logits differ from the original's");
        return o.untied == "keep_wte" ? wte : head;
    }
    if (o.untied != "error") fail("import", "untied must be error, keep_wte or keep_lm_head, got '" + o.untied + "'");
    fail("import", "lm_head.weight differs from transformer.wte.weight (an untied model, max difference " +
                       std::to_string(diff) + "); causalgrad ties them: pass --untied=keep_wte or "
                       "--untied=keep_lm_head to use one for both (the logits will change)");
}

}  // namespace

ImportedModel import_safetensors(const std::string& path, const ImportOptions& o) {
    return import_model(read_safetensors(path), path, o);
}

ImportedModel import_model(const SafetensorsFile& f, const std::string& path, const ImportOptions& o) {
    ImportedModel out;

    Metadata settings = settings_from_shapes(f);
    add_settings_from_metadata(f, settings);
    refuse_contradictions(f, path, settings, o.settings, out.notes);
    for (const auto& [k, v] : o.settings) set(settings, k, v);
    bool has_mixer = false, needs_heads = false, has_heads = false;
    for (const auto& [k, v] : settings) {
        if (k == "mixer") has_mixer = true;
        if (k == "mixer") {  // n_head matters when some block is nanoGPT's attention
            std::stringstream names(v);
            for (std::string name; std::getline(names, name, ',');)
                for (const MixerKind& kind : mixer_kinds()) needs_heads = needs_heads || (kind.nanogpt && name == kind.name);
        }
        if (k == "n_head") has_heads = true;
    }
    if (!has_mixer)
        fail("import", "'" + path + "' has blocks without c_attn (replacement mixers) and no metadata naming them; "
                                    "pass --mixer=NAME (or one name per block)");
    if (needs_heads && !has_heads)
        fail("import", "'" + path + "' does not say n_head (no metadata) and shapes cannot tell it; pass --n_head=N");
    try {
        apply_config_pairs(out.config, settings);
    } catch (const std::exception& e) {
        fail("import", "'" + path + "': bad setting (" + std::string(e.what()) + ")");
    }
    // Every weight must come from the file: a config asking for far more than
    // it holds (metadata saying n_layer 100000) is refused before allocating.
    double stored = 0;
    for (const StoredTensor& t : f.tensors) stored += static_cast<double>(t.values.size());
    const double most_weights = training_bytes(out.config.model, 0) / 16;  // an upper bound on the parameters
    if (most_weights > 2 * stored + 4096)
        fail("import", "'" + path + "': its settings (n_layer " + std::to_string(out.config.model.n_layer) + ", n_embd " +
                           std::to_string(out.config.model.n_embd) + ") need far more weights than the file's " +
                           std::to_string(static_cast<int64_t>(stored)) + " values; check its metadata");
    out.model = make_gpt(out.config.model, out.config.seed);  // validates the config
    const GPTConfig& c = out.model.config;
    const std::string config_text = "mixer " + c.mixer + ", bias " + (c.bias ? "True" : "False") + ", mixer_vproj " +
                                    (c.mixer_vproj ? "True" : "False");

    // Every parameter by name and shape.
    std::vector<std::string> used = {"transformer.wte.weight", "lm_head.weight"};
    const StoredTensor* embedding = tied_embedding(f, o, out.notes);
    for (Parameter* p : gpt_parameters(out.model)) {
        const StoredTensor* t = p == &out.model.wte ? embedding : f.find(p->name);
        if (!t) fail("import", "'" + path + "' has no tensor '" + p->name + "', which the config (" + config_text +
                                   ") needs; check the file's metadata or --mixer");
        const std::vector<int64_t> want(p->value.shape.dims, p->value.shape.dims + p->value.ndim());
        if (t->shape != want)
            fail("import", "'" + path + "': '" + t->name + "' has shape " + shape_text(t->shape) + ", the config (n_embd " +
                               std::to_string(c.n_embd) + ", vocab_size " + std::to_string(c.vocab_size) +
                               ", block_size " + std::to_string(c.block_size) + ") needs " + shape_text(want));
        std::copy(t->values.begin(), t->values.end(), p->value.data);
        used.push_back(p->name);
    }
    // What else may be there: nanoGPT's causal-mask buffers in attention blocks.
    int masks = 0;
    for (const StoredTensor& t : f.tensors) {
        if (std::find(used.begin(), used.end(), t.name) != used.end()) continue;
        const int64_t l = block_of(t.name);
        if (l >= 0 && l < c.n_layer && out.model.h[l].mixer.kind->nanogpt && t.name == "transformer.h." + std::to_string(l) + ".attn.bias") {
            check_mask(t, c.block_size);
            masks++;
            continue;
        }
        fail("import", "'" + path + "' has a tensor '" + t.name + "' that the config (" + config_text +
                           ") does not have; check the file's metadata or --mixer");
    }
    if (masks > 0) out.notes.push_back(std::to_string(masks) + " causal-mask buffers (attn.bias) checked and skipped");
    for (const char* dtype : {"F16", "BF16"})
        for (const StoredTensor& t : f.tensors)
            if (t.dtype == dtype) {
                out.notes.push_back(std::string("converted ") + dtype + " to float32");
                break;
            }

    // The vocabulary: the given file, else the metadata.
    if (!o.vocab_path.empty()) {
        out.vocab = read_vocab(o.vocab_path);
        const std::string dir = std::filesystem::path(o.vocab_path).parent_path().string();
        out.config.data_dir = dir.empty() ? "." : dir;  // where eval and train look for the tokens
    } else if (const std::string* v = f.meta("vocab")) {
        out.vocab = vocab_from_metadata(*v, path);
    } else {
        fail("import", "'" + path + "' holds no vocabulary; pass --vocab=DATA_DIR/vocab.txt "
                                    "(`causalgrad prepare` writes it from the training text)");
    }
    if (static_cast<int64_t>(out.vocab.size()) != c.vocab_size)
        fail("import", "the vocabulary has " + std::to_string(out.vocab.size()) + " characters, the model's vocab_size is " +
                           std::to_string(c.vocab_size) + "; give the vocab.txt of the data it was trained on");
    return out;
}

}  // namespace cg
