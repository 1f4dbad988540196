// Export to safetensors (io/safetensors.h) with nanoGPT's state_dict names
// and layout, so that nanoGPT's model.py loads the file with strict=True.
#pragma once

#include <string>

#include "models/gpt.h"
#include "data/dataset.h"
#include "io/safetensors.h"

namespace cg {

// The model's config and vocabulary as string metadata. Booleans are written
// as Python spells them ("True"/"False"); `mixer` is the comma list and
// mixer.0, mixer.1, ... name each block's; `vocab` lists the code points of
// the tokens 0, 1, ... as decimals joined by commas; `nanogpt_compatible` is
// "True" only when every block is attention with a GELU MLP, the model
// nanoGPT's model.py builds.
Metadata export_metadata(const GPTConfig& config, const Vocab& vocab);

// Writes every parameter, lm_head.weight (a copy of the tied wte) and, in each
// attention block, the causal-mask buffer attn.bias (1, 1, block_size,
// block_size) that nanoGPT registers on PyTorch < 2.0. Written to a temporary
// file, fsynced, then renamed. Refuses (before writing) a path that exists and
// is not an earlier safetensors export: a checkpoint, a log, data, a folder or
// a device.
void export_safetensors(GPT& model, const Vocab& vocab, const std::string& path);

}  // namespace cg
