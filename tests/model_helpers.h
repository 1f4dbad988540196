// Helpers of the model-level tests: models with large random weights, the
// logits of a full forward, and a temporary folder removed at the end.
#pragma once

#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "models/gpt.h"
#include "tests/grad_check.h"

namespace cg {

// 2 layers, 2 heads, C 16, T 16, vocab 11: small enough for a fast test, even under sanitizers.
inline GPTConfig tiny_config(const std::string& mixer) {
    GPTConfig c;
    c.vocab_size = 11;
    c.block_size = 16;
    c.n_layer = 2;
    c.n_head = 2;
    c.n_embd = 16;
    c.mixer = mixer;
    return c;
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

struct TempPath {
    std::filesystem::path path;
    explicit TempPath(const std::string& name) {
        std::random_device rd;
        path = std::filesystem::temp_directory_path() /
               ("causalgrad-model-" + std::to_string(rd()) + "-" + std::to_string(rd()));
        std::filesystem::create_directories(path);
        path /= name;
    }
    ~TempPath() {
        std::error_code ec;
        std::filesystem::remove_all(path.parent_path(), ec);
    }
};

inline std::string read_bytes(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    REQUIRE(in);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace cg
