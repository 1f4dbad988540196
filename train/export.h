// Export to safetensors (https://github.com/huggingface/safetensors): an
// 8-byte header length, a JSON header naming each tensor's dtype, shape and
// byte range, then the raw float32 data. Names are nanoGPT's state_dict keys,
// so `safetensors.torch.load_file` gives a dict nanoGPT's model accepts.
#pragma once

#include <string>

#include "models/gpt.h"

namespace cg {

// Writes every parameter (lm_head is tied to wte and not written) with the
// model config as string metadata. Written to a temporary file, fsynced, then
// renamed. Refuses (before writing) a path that exists and is not an earlier
// safetensors export: a checkpoint, a log, data, a folder or a device.
void export_safetensors(GPT& model, const std::string& path);

}  // namespace cg
