// Loss estimates: on full sequences (teacher forcing, as training sees them)
// and token by token through the incremental path of sampling.
#pragma once

#include <vector>

#include "models/gpt.h"

namespace cg {

// A mean loss over batches and how sure it is: the standard error of the
// mean, the batch losses' sample standard deviation over sqrt(batches)
// (NaN for a single batch). The batches are drawn independently, so it is the
// spread of the estimate around the loss over the whole split.
struct LossEstimate {
    float mean = 0.0f;
    double standard_error = 0.0;
};

// Mean cross-entropy over `iters` batches drawn with a fixed seed, so every
// evaluation of a run sees the same batches. Dropout off, nothing recorded.
LossEstimate estimate_loss_with_error(GPT& model, const std::vector<uint16_t>& tokens, int64_t B, int64_t T,
                                      int64_t iters, uint64_t seed);
float estimate_loss(GPT& model, const std::vector<uint16_t>& tokens, int64_t B, int64_t T,
                    int64_t iters, uint64_t seed);

// The same batches fed one position at a time through gpt_step (KV cache,
// mixer state). For a causal model it equals estimate_loss up to rounding.
LossEstimate estimate_loss_token_by_token_with_error(GPT& model, const std::vector<uint16_t>& tokens, int64_t B,
                                                     int64_t T, int64_t iters, uint64_t seed);
float estimate_loss_token_by_token(GPT& model, const std::vector<uint16_t>& tokens, int64_t B, int64_t T,
                                   int64_t iters, uint64_t seed);

}  // namespace cg
