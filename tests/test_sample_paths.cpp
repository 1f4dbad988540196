// The two ways to sample: token by token through the incremental state, and a
// forward over the whole context per token (nanoGPT's way). For a causal model
// they are the same function, so greedy decoding gives the same text; a leaking
// model is refused unless asked for.
#include <doctest/doctest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "tensor/tensor.h"
#include "train/sample.h"

namespace cg {
namespace {

GPT spread_model(const std::string& mixer) {
    GPTConfig c;
    c.vocab_size = 11;
    c.block_size = 32;
    c.n_layer = 2;
    c.n_head = 2;
    c.n_embd = 16;
    c.mixer = mixer;
    GPT m = make_gpt(c, 42);
    // Weights far from nanoGPT's small init, so greedy choices are not near-ties.
    std::mt19937 gen(7);
    std::normal_distribution<float> normal(0.0f, 0.3f);
    for (Parameter* p : gpt_parameters(m))
        for (int64_t i = 0; i < p->value.numel(); i++) p->value.data[i] = normal(gen);
    return m;
}

Vocab letters() {
    Vocab v{'\n', ' '};
    for (uint32_t cp = 'a'; v.size() < 11; cp++) v.push_back(cp);
    return v;
}

TEST_CASE("sample: the full-sequence path and the incremental path agree for causal mixers") {
    for (const char* mixer : {"attn", "pair_max+avg", "scan_max", "attn,pair_min"}) {
        CAPTURE(mixer);
        GPT m = spread_model(mixer);
        SampleOptions o;
        o.start = "abc a";
        o.num_samples = 2;
        o.max_new_tokens = 20;  // stays within block_size: no refill of the state
        o.temperature = 0.0f;
        const std::vector<std::string> step = generate(m, letters(), o);
        o.path = "full";
        const std::vector<std::string> full = generate(m, letters(), o);
        CHECK(step == full);
        CHECK(full[0].size() == o.start.size() + 20);
    }
}

TEST_CASE("sample: a leaking mixer is sampled only with allow_leak, and its two paths differ") {
    GPT m = spread_model("pair_max+gavg");
    SampleOptions o;
    o.start = "ab";
    o.max_new_tokens = 25;
    o.temperature = 0.0f;
    CHECK_THROWS_AS(generate(m, letters(), o), Error);
    o.path = "full";
    CHECK_THROWS_AS(generate(m, letters(), o), Error);
    o.allow_leak = true;
    const std::string full = generate(m, letters(), o)[0];
    o.path = "step";
    const std::string step = generate(m, letters(), o)[0];
    CHECK(full.size() == step.size());
    CHECK(full != step);  // the full path sees a different mean in every block below the last position
    o.path = "sideways";
    CHECK_THROWS_AS(generate(m, letters(), o), Error);
}

}  // namespace
}  // namespace cg
