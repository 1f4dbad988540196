// Import of a safetensors file with nanoGPT's state_dict names (one of our
// exports, or a nanoGPT model saved from PyTorch) as a causalgrad model.
//
// The config comes from three places, later ones winning: what the tensor
// shapes tell (vocab_size, n_embd, block_size, n_layer, bias, mixer_vproj,
// attention when every block has c_attn), the file's metadata (our exports), and the
// settings given by the caller (n_head, a replacement mixer, ... which shapes
// cannot tell). Then every tensor is checked by name and shape.
#pragma once

#include <string>
#include <vector>

#include "models/gpt.h"
#include "data/dataset.h"
#include "train/settings.h"
#include "io/safetensors.h"

namespace cg {

struct ImportOptions {
    Metadata settings;        // model settings (key, value) that override the file's
    std::string vocab_path;   // a vocab.txt; else the file's "vocab" metadata
    // When lm_head.weight differs from transformer.wte.weight (an untied model,
    // which causalgrad cannot represent): "error", "keep_wte" or "keep_lm_head".
    std::string untied = "error";
};

struct ImportedModel {
    TrainConfig config;   // the model settings; training settings are the defaults
    Vocab vocab;
    GPT model;
    std::vector<std::string> notes;  // what the import decided, one line each
};

// Throws "[import] ..." naming the tensor or setting at fault and the fix.
ImportedModel import_safetensors(const std::string& path, const ImportOptions& options);
// The same from a file already read; `path` names it in messages.
ImportedModel import_model(const SafetensorsFile& file, const std::string& path, const ImportOptions& options);

}  // namespace cg
