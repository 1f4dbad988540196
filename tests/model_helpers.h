// Helpers of the model-level tests: configs of the sizes the tests use, models
// with large random weights, and the logits of a full forward.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "models/gpt.h"
#include "tests/grad_check.h"
#include "tests/helpers.h"

namespace cg {

// A config of these sizes and mixer; every other setting keeps GPTConfig's
// default. Call it with the names as comments, gpt_config(/*vocab_size=*/65, ...),
// and set any other setting by name on the result.
inline GPTConfig gpt_config(int64_t vocab_size, int64_t block_size, int64_t n_layer, int64_t n_head,
                            int64_t n_embd, const std::string& mixer) {
    GPTConfig c;
    c.vocab_size = vocab_size;
    c.block_size = block_size;
    c.n_layer = n_layer;
    c.n_head = n_head;
    c.n_embd = n_embd;
    c.mixer = mixer;
    return c;
}

// 2 layers, 2 heads, C 16, T 16, vocab 11: small enough for a fast test, even
// under sanitizers. A test that needs one size changed sets it on the result
// (GPTConfig c = tiny_config("attn"); c.n_embd = 32;).
inline GPTConfig tiny_config(const std::string& mixer) {
    return gpt_config(/*vocab_size=*/11, /*block_size=*/16, /*n_layer=*/2, /*n_head=*/2, /*n_embd=*/16, mixer);
}

// Overwrites every parameter with N(0, std) values from std::mt19937, so the
// test does not lean on the library's own initialisation or random numbers.
inline void randomize(GPT& model, uint32_t seed, float stddev = 0.3f) {
    std::mt19937 gen(seed);
    for (Parameter* p : gpt_parameters(model)) {
        REQUIRE(p->value.is_contiguous());
        const std::vector<float> v = normal_values(p->value.numel(), gen, stddev);
        std::memcpy(p->value.data, v.data(), v.size() * sizeof(float));
    }
}

inline GPT random_model(const GPTConfig& c, uint32_t seed = 1) {
    GPT m = make_gpt(c, 42);
    randomize(m, seed);
    return m;
}

inline std::vector<int> random_tokens(int64_t n, int64_t V, uint32_t seed) {
    std::mt19937 gen(seed);
    std::uniform_int_distribution<int> dist(0, static_cast<int>(V) - 1);
    std::vector<int> t(static_cast<size_t>(n));
    for (int& x : t) x = dist(gen);
    return t;
}

// logits (B, T, V) of the full forward, in row-major order.
inline std::vector<float> forward_logits(GPT& m, const std::vector<int>& tokens, int64_t B, int64_t T) {
    NoGrad no_grad;
    Rng unused{0, 0};
    const Var logits = gpt_forward(m, make_ids({B, T}, tokens), false, unused);
    REQUIRE(logits.shape() == Shape({B, T, m.config.vocab_size}));
    return values_of(logits.value);
}

}  // namespace cg
