// Text generation through the incremental path: each new token costs one
// gpt_step (O(1) in the context for the sequence mixers, O(t) for attention
// with its key/value cache) instead of a forward over the whole context.
// The full-sequence path (nanoGPT's way: a forward over the last block_size
// tokens for every new one) is there to compare the two, which matters for
// the leaking mixers: only there do they see what they saw in training.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "models/gpt.h"
#include "data/dataset.h"

namespace cg {

struct SampleOptions {
    std::string start = "\n";
    int64_t num_samples = 1;
    int64_t max_new_tokens = 500;
    float temperature = 0.8f;  // 0: always the most likely token
    int64_t top_k = 200;       // 0: no limit
    uint64_t seed = 1337;
    std::string path = "step";  // "step": incremental; "full": a forward over the context per token
    bool allow_leak = false;    // sample a model whose mixers see future tokens anyway
};

// Receives the text of sample 0 as it grows: the start text, then each new
// token's characters. Returning false stops the generation there.
using TextSink = std::function<bool(const std::string& piece)>;

// Returns num_samples texts: the start text followed by the generated tokens
// (fewer when `sink` stopped it). Refuses models whose mixers see future tokens
// unless options.allow_leak.
std::vector<std::string> generate(GPT& model, const Vocab& vocab, const SampleOptions& options,
                                  const TextSink& sink = nullptr);

// The --start option as text: "FILE:path" reads the file; otherwise the
// escapes \n, \t, \r and \\ become a line break, tab, carriage return and a
// backslash. Throws on an unknown escape or an unreadable file.
std::string start_text(const std::string& option);

// Picks a token from logits (V): temperature, top-k, then a draw from rng.
int sample_token(const float* logits, int64_t V, float temperature, int64_t top_k, Rng& rng);

}  // namespace cg
