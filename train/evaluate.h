// Loss estimates: on full sequences (teacher forcing, as training sees them)
// and token by token through the incremental path of sampling.
#pragma once

#include <vector>

#include "models/gpt.h"

namespace cg {

// Mean cross-entropy over `iters` batches drawn with a fixed seed, so every
// evaluation of a run sees the same batches. Dropout off, nothing recorded.
float estimate_loss(GPT& model, const std::vector<uint16_t>& tokens, int64_t B, int64_t T,
                    int64_t iters, uint64_t seed);

// The same batches fed one position at a time through gpt_step (KV cache,
// mixer state). For a causal model it equals estimate_loss up to rounding.
float estimate_loss_token_by_token(GPT& model, const std::vector<uint16_t>& tokens, int64_t B,
                                   int64_t T, int64_t iters, uint64_t seed);

}  // namespace cg
