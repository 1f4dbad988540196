// The GPT as a whole: the incremental path (gpt_step, used by sampling and
// token-by-token evaluation) against the full forward, causality of the whole
// model, parameter counts against nanoGPT's, and sampling.
//
// Models are tiny (2 layers, C 16, T 16) so the file runs in well under a
// second, also under AddressSanitizer. Their parameters are overwritten with
// N(0, 0.3) values: at nanoGPT's N(0, 0.02) every activation sits near zero,
// and a max/min/mean op that picks the wrong element would barely show.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "models/gpt.h"
#include "tests/grad_check.h"
#include "tests/model_helpers.h"
#include "data/dataset.h"
#include "train/evaluate.h"
#include "tools/sample.h"

namespace cg {
namespace {

// The kinds of the mixer table usable as `use` whose output at position t
// depends on positions 0..t only.
std::vector<std::string> causal_kinds(MixerUse use) {
    std::vector<std::string> names;
    for (const MixerKind& k : mixer_kinds())
        if (k.causal && (k.use == use || k.use == MixerUse::both)) names.push_back(k.name);
    return names;
}
const std::vector<std::string> kCausalMixers = causal_kinds(MixerUse::mixer);

// The same logits through gpt_step, one position at a time for B sequences.
std::vector<float> step_logits(const GPT& m, const std::vector<int>& tokens, int64_t B, int64_t T) {
    const int64_t V = m.config.vocab_size;
    std::vector<float> out(static_cast<size_t>(B * T * V));
    GPTState state = make_gpt_state(m, B);
    std::vector<int> column(static_cast<size_t>(B));
    for (int64_t t = 0; t < T; t++) {
        for (int64_t b = 0; b < B; b++) column[b] = tokens[b * T + t];  // (B, T)
        const Tensor logits = gpt_step(m, state, column.data());     // (B, V)
        REQUIRE(logits.shape == Shape({B, V}));
        const std::vector<float> v = values_of(logits);
        for (int64_t b = 0; b < B; b++)
            for (int64_t k = 0; k < V; k++) out[(b * T + t) * V + k] = v[b * V + k];
    }
    CHECK(state.pos == T);
    return out;
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
    REQUIRE(a.size() == b.size());
    float d = 0.0f;
    for (size_t i = 0; i < a.size(); i++) d = std::fmax(d, std::fabs(a[i] - b[i]));
    return d;
}

float max_abs(const std::vector<float>& a) {
    float m = 0.0f;
    for (float x : a) m = std::fmax(m, std::fabs(x));
    return m;
}

// gpt_step over a whole block against gpt_forward, and the two loss estimates.
void check_step_matches_forward(const GPTConfig& c) {
    GPT m = random_model(c);
    const int64_t B = 2, T = c.block_size, V = c.vocab_size;
    const std::vector<int> tokens = random_tokens(B * T, V, 3);
    const std::vector<float> full = forward_logits(m, tokens, B, T);
    const std::vector<float> inc = step_logits(m, tokens, B, T);
    // Logits of O(1), so an absolute tolerance; a real bug (wrong previous
    // element, stale state) moves them by O(0.1).
    CHECK(max_abs(full) > 0.1f);  // the check below would be empty on near-zero logits
    CHECK(max_abs_diff(full, inc) < 1e-4f);

    std::vector<uint16_t> data(64);
    const std::vector<int> d = random_tokens(64, V, 4);
    for (size_t i = 0; i < d.size(); i++) data[i] = static_cast<uint16_t>(d[i]);
    const float loss_full = estimate_loss(m, data, 2, T, 2, 9);
    const float loss_step = estimate_loss_token_by_token(m, data, 2, T, 2, 9);
    CHECK(std::isfinite(loss_full));
    CHECK(std::fabs(loss_step - loss_full) < 1e-4f);
}

TEST_CASE("model: gpt_step reproduces gpt_forward for every causal mixer, vproj and bias") {
    for (const std::string& mixer : kCausalMixers)
        for (bool vproj : {false, true})
            for (bool bias : {false, true}) {
                GPTConfig c = tiny_config(mixer);
                c.mixer_vproj = vproj;
                c.bias = bias;
                INFO("mixer=" << mixer << " mixer_vproj=" << vproj << " bias=" << bias);
                check_step_matches_forward(c);
            }
}

TEST_CASE("model: gpt_step reproduces gpt_forward for every causal activation") {
    for (const std::string& activation : causal_kinds(MixerUse::activation)) {
        GPTConfig c = tiny_config("attn,pair_max");
        c.activation = activation;
        INFO("activation=" << activation);
        check_step_matches_forward(c);
    }
}

TEST_CASE("model: gpt_step reproduces gpt_forward with a sequence-op activation and mixed blocks") {
    const std::pair<std::string, std::string> cases[] = {
        {"attn", "pair_max"},          {"pair_max", "pair_max"},  {"attn", "scan_max"},
        {"pair_min+avg", "scan_max"},  {"attn", "pair_min+avg"},  {"avg", "scan_min"},
        {"attn,pair_max+avg", "gelu"}, {"scan_min,attn", "pair_mean"},
    };
    for (const auto& mixer_activation : cases)
        for (bool vproj : {false, true})
            for (bool bias : {false, true}) {
                const std::string& mixer = mixer_activation.first;
                const std::string& activation = mixer_activation.second;
                GPTConfig c = tiny_config(mixer);
                c.activation = activation;
                c.mixer_vproj = vproj;
                c.bias = bias;
                INFO("mixer=" << mixer << " activation=" << activation << " mixer_vproj=" << vproj
                              << " bias=" << bias);
                check_step_matches_forward(c);
            }
}

TEST_CASE("model: gpt_step refuses a position past block_size and out-of-vocabulary tokens") {
    GPT m = random_model(tiny_config("pair_max+avg"));
    GPTState s = make_gpt_state(m, 1);
    int token = 3;
    for (int64_t t = 0; t < m.config.block_size; t++) gpt_step(m, s, &token);
    CHECK_THROWS_AS(gpt_step(m, s, &token), Error);
    GPTState fresh = make_gpt_state(m, 1);
    int bad = static_cast<int>(m.config.vocab_size);
    CHECK_THROWS_AS(gpt_step(m, fresh, &bad), Error);
}

TEST_CASE("model: pair_max+gavg and pair_min+gavg see the future: the two losses differ, sampling refuses") {
    for (const std::string leak : {"pair_max+gavg", "pair_min+gavg"}) {
        INFO("mixer " << leak);
        GPTConfig c = tiny_config(leak);
        CHECK_FALSE(config_is_causal(c));
        GPT m = random_model(c);
        // Token by token, the whole-sequence mean cannot be known: the step
        // path uses the mean so far, and the loss visibly moves.
        std::vector<uint16_t> tokens;
        for (int i = 0; i < 400; i++) tokens.push_back(static_cast<uint16_t>((i * 7 + i / 5) % c.vocab_size));
        const float full = estimate_loss(m, tokens, 3, c.block_size, 2, 11);
        const float step = estimate_loss_token_by_token(m, tokens, 3, c.block_size, 2, 11);
        CHECK(std::fabs(full - step) > 1e-3f);

        Vocab vocab;
        for (uint32_t cp = 'a'; cp < 'a' + c.vocab_size; cp++) vocab.push_back(cp);
        SampleOptions o;
        o.start = "ab";
        o.max_new_tokens = 4;
        try {
            generate(m, vocab, o);
            FAIL("generate accepted a model whose mixer sees future tokens");
        } catch (const Error& e) {
            CHECK(std::string(e.what()).find("future tokens") != std::string::npos);
        }
    }
    // A leaking activation makes the model non-causal too; one causal-only list stays causal.
    GPTConfig act = tiny_config("attn");
    act.activation = "pair_max+gavg";
    CHECK_FALSE(config_is_causal(act));
    CHECK_FALSE(config_is_causal(tiny_config("attn,pair_min+gavg")));
    for (const std::string& mixer : kCausalMixers) CHECK(config_is_causal(tiny_config(mixer)));
}

// Changes the token at position t of every sequence; returns the logits before and after.
struct Perturbed {
    std::vector<float> before, after;
};
Perturbed perturb_token(GPT& m, const std::vector<int>& tokens, int64_t B, int64_t T, int64_t t) {
    std::vector<int> moved = tokens;
    for (int64_t b = 0; b < B; b++)
        moved[b * T + t] = (tokens[b * T + t] + 1) % static_cast<int>(m.config.vocab_size);
    return Perturbed{forward_logits(m, tokens, B, T), forward_logits(m, moved, B, T)};
}

// Whether any logit at positions [from, to) of any sequence differs (bitwise).
bool positions_differ(const Perturbed& p, int64_t B, int64_t T, int64_t V, int64_t from, int64_t to) {
    for (int64_t b = 0; b < B; b++)
        for (int64_t s = from; s < to; s++)
            if (std::memcmp(&p.before[(b * T + s) * V], &p.after[(b * T + s) * V], V * sizeof(float)) != 0)
                return true;
    return false;
}

TEST_CASE("model: a token changes no logit before its position for every causal mixer") {
    for (const std::string& mixer : kCausalMixers)
        for (const std::string activation : {"gelu", "scan_min"}) {
            GPTConfig c = tiny_config(mixer);
            c.activation = activation;
            c.mixer_vproj = true;
            INFO("mixer=" << mixer << " activation=" << activation);
            GPT m = random_model(c);
            const int64_t B = 2, T = c.block_size, V = c.vocab_size;
            const std::vector<int> tokens = random_tokens(B * T, V, 5);
            for (int64_t t : {int64_t(1), int64_t(7), T - 1}) {
                CAPTURE(t);
                const Perturbed p = perturb_token(m, tokens, B, T, t);
                CHECK_FALSE(positions_differ(p, B, T, V, 0, t));  // the past: bit-identical
                CHECK(positions_differ(p, B, T, V, t, t + 1));    // the change arrived, so the test can fail
            }
        }
}

TEST_CASE("model: pair_max+gavg lets a later token change earlier logits") {
    for (const std::string activation : {"gelu", "pair_max+gavg"}) {
        GPTConfig c = tiny_config(activation == "gelu" ? "pair_max+gavg" : "attn");
        c.activation = activation;
        INFO("mixer=" << c.mixer << " activation=" << activation);
        GPT m = random_model(c);
        const int64_t B = 2, T = c.block_size, V = c.vocab_size;
        const std::vector<int> tokens = random_tokens(B * T, V, 5);
        const Perturbed p = perturb_token(m, tokens, B, T, T - 1);
        CHECK(positions_differ(p, B, T, V, 0, T - 1));
    }
}

TEST_CASE("model: count_parameters matches nanoGPT's CPU config") {
    // nanoGPT's shakespeare_char CPU run: n_layer 4, n_head 4, n_embd 128,
    // block 64, vocab 65, no bias. It prints parameters without wpe (and
    // counts the tied wte/lm_head once): 0.80M.
    GPTConfig c = gpt_config(/*vocab_size=*/65, /*block_size=*/64, /*n_layer=*/4, /*n_head=*/4, /*n_embd=*/128, "attn");
    c.bias = false;
    const int64_t wpe = 64 * 128;
    GPT attn = make_gpt(c, 1);
    CHECK(count_parameters(attn, true) == 795904);
    CHECK(count_parameters(attn, false) == 795904 + wpe);

    // A replacement mixer has no c_attn (C x 3C) in each of the 4 blocks.
    c.mixer = "pair_max";
    GPT pm = make_gpt(c, 1);
    CHECK(count_parameters(pm, true) == 795904 - 4 * 128 * 384);
    CHECK(count_parameters(pm, true) == 599296);
    // ... and the value projection adds one C x C matrix per block.
    c.mixer_vproj = true;
    GPT vp = make_gpt(c, 1);
    CHECK(count_parameters(vp, true) == 599296 + 4 * 128 * 128);
    // Mixed blocks: two with attention, two with pair_max+avg (no c_v).
    c.mixer = "attn,pair_max+avg,attn,pair_max+avg";
    c.mixer_vproj = false;
    GPT mixed = make_gpt(c, 1);
    CHECK(count_parameters(mixed, true) == 795904 - 2 * 128 * 384);
    // Biases: every Linear and LayerNorm gets one (attention blocks).
    GPTConfig b = tiny_config("attn");
    b.bias = true;
    GPT biased = make_gpt(b, 1);
    b.bias = false;
    GPT plain = make_gpt(b, 1);
    const int64_t C = 16;
    // per block: ln_1 C, c_attn 3C, c_proj C, ln_2 C, c_fc 4C, mlp.c_proj C; plus ln_f C
    CHECK(count_parameters(biased, true) - count_parameters(plain, true) == 2 * (11 * C) + C);
}

// ---- sampling ---------------------------------------------------------------

TEST_CASE("model: sample_token picks the argmax at temperature 0 and with top_k 1") {
    const std::vector<float> logits = {0.1f, -2.0f, 3.5f, 3.4f, 0.0f, -7.0f};
    const int64_t V = static_cast<int64_t>(logits.size());
    Rng rng{7, 0};
    for (int k = 0; k < 50; k++) {
        CHECK(sample_token(logits.data(), V, 0.0f, 0, rng) == 2);
        CHECK(sample_token(logits.data(), V, 0.0f, 3, rng) == 2);
        CHECK(sample_token(logits.data(), V, 1.0f, 1, rng) == 2);
        CHECK(sample_token(logits.data(), V, 5.0f, 1, rng) == 2);
    }
    // top_k 2 only ever picks among the two largest, and both come up.
    int seen[6] = {0, 0, 0, 0, 0, 0};
    for (int k = 0; k < 400; k++) seen[sample_token(logits.data(), V, 1.0f, 2, rng)]++;
    CHECK(seen[2] + seen[3] == 400);
    CHECK(seen[2] > 0);
    CHECK(seen[3] > 0);
}

TEST_CASE("model: sample_token draws with softmax probabilities and is reproducible from its Rng") {
    // p = (0.25, 0.75): logits log 1 and log 3.
    const float logits[2] = {0.0f, std::log(3.0f)};
    Rng rng{11, 0};
    int ones = 0;
    const int n = 4000;
    for (int k = 0; k < n; k++) ones += sample_token(logits, 2, 1.0f, 0, rng);
    // Binomial(4000, 0.75) has std sqrt(4000 * 0.75 * 0.25) = 27.4; 4 std = 110.
    CHECK(std::abs(ones - 3000) < 110);
    CHECK(rng.counter == static_cast<uint64_t>(n));  // one uniform per draw
    // The temperature divides the logits: at 0.5, p = (1, 9) / 10 (std 19 -> 4 std = 76);
    // at 2, p = (1, sqrt 3) / (1 + sqrt 3) = (0.366, 0.634) (std 30.5 -> 4 std = 122).
    int sharp = 0, flat = 0;
    for (int k = 0; k < n; k++) sharp += sample_token(logits, 2, 0.5f, 0, rng);
    for (int k = 0; k < n; k++) flat += sample_token(logits, 2, 2.0f, 0, rng);
    CHECK(std::abs(sharp - 3600) < 76);
    CHECK(std::abs(flat - 2536) < 122);

    const std::vector<float> wide = {0.3f, 0.1f, -0.2f, 0.5f, 0.0f, 0.2f, -0.4f, 0.4f};
    std::vector<int> a, b;
    Rng r1{99, 5}, r2{99, 5};
    for (int k = 0; k < 64; k++) a.push_back(sample_token(wide.data(), 8, 0.9f, 5, r1));
    for (int k = 0; k < 64; k++) b.push_back(sample_token(wide.data(), 8, 0.9f, 5, r2));
    CHECK(a == b);
    Rng r3{100, 5};
    std::vector<int> c;
    for (int k = 0; k < 64; k++) c.push_back(sample_token(wide.data(), 8, 0.9f, 5, r3));
    CHECK(a != c);  // another seed, another sequence (64 draws of ~5 choices)
}

Vocab letters_vocab(int64_t V) {
    Vocab vocab = {'\n', ' '};
    for (uint32_t cp = 'a'; static_cast<int64_t>(vocab.size()) < V; cp++) vocab.push_back(cp);
    return vocab;
}

TEST_CASE("model: generate is reproducible for a seed and continues the start text") {
    GPTConfig c = tiny_config("attn,pair_max+avg");
    c.activation = "pair_max";
    GPT m = random_model(c);
    const Vocab vocab = letters_vocab(c.vocab_size);
    SampleOptions o;
    o.start = "abc a";
    o.num_samples = 2;
    o.max_new_tokens = 40;  // past block_size 16: exercises the refill of the state
    o.temperature = 1.0f;
    o.top_k = 0;
    o.seed = 5;
    const std::vector<std::string> first = generate(m, vocab, o);
    const std::vector<std::string> again = generate(m, vocab, o);
    REQUIRE(first.size() == 2);
    CHECK(first == again);
    for (const std::string& s : first) {
        CHECK(s.rfind(o.start, 0) == 0);
        CHECK(utf8_to_code_points(s).size() == o.start.size() + 40);
        CHECK_NOTHROW(encode(vocab, s));
    }
    CHECK(first[0] != first[1]);  // the two samples draw different tokens
    o.seed = 6;
    CHECK(generate(m, vocab, o) != first);

    // A prompt longer than block_size keeps its last block_size characters.
    o.start = std::string(40, 'b');
    o.num_samples = 1;
    o.max_new_tokens = 3;
    const std::vector<std::string> long_prompt = generate(m, vocab, o);
    CHECK(long_prompt[0].size() == 43);
    o.max_new_tokens = 0;
    CHECK(generate(m, vocab, o)[0] == o.start);
}

TEST_CASE("model: greedy generate equals the argmax of gpt_forward over the context") {
    for (const std::string mixer : {"attn", "scan_max", "pair_min+avg"}) {
        INFO("mixer " << mixer);
        GPTConfig c = tiny_config(mixer);
        GPT m = random_model(c);
        const Vocab vocab = letters_vocab(c.vocab_size);
        SampleOptions o;
        o.start = "ab";
        o.max_new_tokens = 14;  // 16 tokens in all: within block_size, no refill
        o.temperature = 0.0f;
        const std::string text = generate(m, vocab, o)[0];
        const std::vector<int> tokens = encode(vocab, text);
        REQUIRE(tokens.size() == 16);
        // Each generated token is the argmax of the full forward over its prefix.
        const int64_t T = 16, V = c.vocab_size;
        const std::vector<float> logits = forward_logits(m, tokens, 1, T);
        for (int64_t t = 1; t + 1 < T; t++) {
            const float* row = &logits[t * V];
            const int argmax = static_cast<int>(std::max_element(row, row + V) - row);
            CAPTURE(t);
            CHECK(tokens[t + 1] == argmax);
        }
    }
}

TEST_CASE("model: greedy generate past block_size equals gpt_forward over the context it keeps") {
    // Positions are learned up to block_size only: when the state is full,
    // generate() starts again from the last block_size / 2 tokens. The
    // reference replays that rule with full forwards over the kept window.
    for (const std::string mixer : {"attn", "pair_max+avg"}) {
        INFO("mixer " << mixer);
        GPTConfig c = tiny_config(mixer);
        GPT m = random_model(c, 8);
        const Vocab vocab = letters_vocab(c.vocab_size);
        SampleOptions o;
        o.start = std::string("abcdefghi abcdefghi");  // 19 characters: longer than block_size
        o.max_new_tokens = 40;
        o.temperature = 0.0f;
        const std::vector<int> got = encode(vocab, generate(m, vocab, o)[0]);

        const int64_t T = c.block_size, V = c.vocab_size;
        std::vector<int> seq = encode(vocab, o.start);
        size_t start = seq.size() - static_cast<size_t>(T);  // the last block_size tokens
        for (int64_t i = 0; i < o.max_new_tokens; i++) {
            const std::vector<int> window(seq.begin() + static_cast<std::ptrdiff_t>(start), seq.end());
            const auto W = static_cast<int64_t>(window.size());
            const std::vector<float> logits = forward_logits(m, window, 1, W);
            const float* row = &logits[(W - 1) * V];
            seq.push_back(static_cast<int>(std::max_element(row, row + V) - row));
            if (W == T) start = seq.size() - static_cast<size_t>(T / 2);  // full: keep the last half
        }
        CHECK(got == seq);
    }
}

TEST_CASE("model: generate refuses characters outside the vocabulary and bad options") {
    GPT m = random_model(tiny_config("pair_max"));
    const Vocab vocab = letters_vocab(11);  // \n, space, a..i
    SampleOptions o;
    o.max_new_tokens = 2;
    o.start = "abz";
    try {
        generate(m, vocab, o);
        FAIL("generate accepted 'z', which is not in the vocabulary");
    } catch (const Error& e) {
        CHECK(std::string(e.what()).find("'z'") != std::string::npos);
    }
    o.start = "a\xC3\xA9";  // é
    CHECK_THROWS_AS(generate(m, vocab, o), Error);
    o.start = "";
    CHECK_THROWS_AS(generate(m, vocab, o), Error);
    o.start = "a";
    o.num_samples = 0;
    CHECK_THROWS_AS(generate(m, vocab, o), Error);
    o.num_samples = 1;
    o.temperature = -1.0f;
    CHECK_THROWS_AS(generate(m, vocab, o), Error);
}

// The two ways to sample: token by token through the incremental state, and a
// forward over the whole context per token (nanoGPT's way). For a causal model
// they are the same function, so greedy decoding gives the same text.
TEST_CASE("model: the full-sequence sampling path and the incremental one agree for causal mixers") {
    for (const char* mixer : {"attn", "pair_max+avg", "scan_max", "attn,pair_min"}) {
        CAPTURE(mixer);
        GPT m = random_model(tiny_config(mixer));
        const Vocab vocab = letters_vocab(m.config.vocab_size);
        SampleOptions o;
        o.start = "abc a";
        o.num_samples = 2;
        o.max_new_tokens = 10;  // stays within block_size 16: no refill of the state
        o.temperature = 0.0f;
        const std::vector<std::string> step = generate(m, vocab, o);
        o.path = "full";
        const std::vector<std::string> full = generate(m, vocab, o);
        CHECK(step == full);
        CHECK(full[0].size() == o.start.size() + 10);
    }
}

TEST_CASE("model: a leaking mixer is sampled only with allow_leak, through either path") {
    GPT m = random_model(tiny_config("pair_max+gavg"));
    const Vocab vocab = letters_vocab(m.config.vocab_size);
    SampleOptions o;
    o.start = "ab";
    o.max_new_tokens = 12;
    o.temperature = 0.0f;
    CHECK_THROWS_AS(generate(m, vocab, o), Error);
    o.path = "full";
    CHECK_THROWS_AS(generate(m, vocab, o), Error);
    o.allow_leak = true;
    const std::string full = generate(m, vocab, o)[0];
    o.path = "step";
    const std::string step = generate(m, vocab, o)[0];
    CHECK(full.size() == o.start.size() + 12);
    CHECK(step.size() == full.size());
    o.path = "sideways";
    CHECK_THROWS_AS(generate(m, vocab, o), Error);
}

}  // namespace
}  // namespace cg
