// What trained attention does (models/attention_maps.h): the weights a head
// gives against the attention op's own output, hand-set weights whose
// patterns are known, and a model whose queries are zero (uniform weights).
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "autograd/ops.h"
#include "models/attention_maps.h"
#include "nn/attention.h"
#include "tools/attention_view.h"
#include "tests/model_helpers.h"

namespace cg {

namespace {

// A (T, T) weight matrix from rows given in full (zeros above the diagonal).
Tensor weights_of(int64_t T, std::initializer_list<float> values) { return from_values({T, T}, values); }

}  // namespace

TEST_CASE("attention maps: the weights mix v into the attention op's output") {
    const int64_t B = 2, T = 7, NH = 3, HS = 5, C = NH * HS;
    std::mt19937 gen(5);
    const Tensor qkv = from_data({B, T, 3 * C}, normal_values(B * T * 3 * C, gen, 1.0f).data());
    const Tensor w = attention_weights(qkv, NH);  // (B, NH, T, T)
    NoGrad no_grad;
    const Tensor y = causal_attention(constant(qkv), NH).value;  // (B, T, C)
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < NH; h++)
            for (int64_t t = 0; t < T; t++) {
                CAPTURE(b);
                CAPTURE(h);
                CAPTURE(t);
                double total = 0;
                for (int64_t j = 0; j < T; j++) {
                    const float p = w.at({b, h, t, j});
                    if (j > t) CHECK(p == 0.0f);  // nothing from later tokens
                    total += p;
                }
                CHECK(total == doctest::Approx(1.0).epsilon(1e-6));
                for (int64_t i = 0; i < HS; i++) {
                    double mixed = 0;  // sum_j p[t, j] v[j]
                    for (int64_t j = 0; j <= t; j++) mixed += w.at({b, h, t, j}) * qkv.at({b, j, 2 * C + h * HS + i});
                    CHECK(y.at({b, t, h * HS + i}) == doctest::Approx(mixed).epsilon(1e-4));
                }
            }
}

TEST_CASE("attention maps: hand-set patterns are named and measured") {
    SUBCASE("uniform over the tokens so far") {
        const HeadPattern p = head_pattern(weights_of(3, {1, 0, 0, 0.5f, 0.5f, 0, 1 / 3.f, 1 / 3.f, 1 / 3.f}));
        CHECK(p.kl_uniform == doctest::Approx(0.0).epsilon(1e-6));
        CHECK(p.tv_uniform == doctest::Approx(0.0).epsilon(1e-6));
        CHECK(p.self_weight == doctest::Approx((0.5 + 1 / 3.0) / 2));
        CHECK(p.nearest == "uniform");
    }
    SUBCASE("the previous token") {
        const HeadPattern p = head_pattern(weights_of(3, {1, 0, 0, 1, 0, 0, 0, 1, 0}));
        CHECK(p.previous_weight == doctest::Approx(1.0));
        CHECK(p.self_weight == doctest::Approx(0.0));
        // KL of a one-hot from uniform over t + 1 tokens is log(t + 1).
        CHECK(p.kl_uniform == doctest::Approx((std::log(2.0) + std::log(3.0)) / 2));
        CHECK(p.tv_uniform == doctest::Approx((0.5 + 2 / 3.0) / 2));
        CHECK(p.nearest == "previous");
    }
    SUBCASE("the token itself") {
        const HeadPattern p = head_pattern(weights_of(2, {1, 0, 0, 1}));
        CHECK(p.self_weight == doctest::Approx(1.0));
        CHECK(p.nearest == "self");
    }
    SUBCASE("by hand: a quarter on the first token, three quarters on the second") {
        const HeadPattern p = head_pattern(weights_of(2, {1, 0, 0.25f, 0.75f}));
        CHECK(p.kl_uniform == doctest::Approx(0.25 * std::log(0.5) + 0.75 * std::log(1.5)));
        CHECK(p.tv_uniform == doctest::Approx(0.25));
        CHECK(p.nearest == "uniform");  // 0.25 from uniform, 0.25 from self: the first listed wins a tie
    }
    SUBCASE("half on the previous token: nearer previous (1/3) than uniform (4/9)") {
        const HeadPattern p = head_pattern(weights_of(4, {1, 0, 0, 0,  //
                                                          1, 0, 0, 0,  // t = 1: the first is the previous
                                                          0.5f, 0.5f, 0, 0,  //
                                                          0.5f, 0, 0.5f, 0}));
        CHECK(p.previous_weight == doctest::Approx(2 / 3.0));
        CHECK(p.tv_uniform == doctest::Approx(4 / 9.0));
        CHECK(p.nearest == "previous");
    }
    SUBCASE("all weight on the first token (a sink): neither") {
        const HeadPattern p = head_pattern(weights_of(5, {1, 0, 0, 0, 0,  //
                                                          1, 0, 0, 0, 0,  //
                                                          1, 0, 0, 0, 0,  //
                                                          1, 0, 0, 0, 0,  //
                                                          1, 0, 0, 0, 0}));
        CHECK(p.tv_uniform == doctest::Approx((0.5 + 2 / 3.0 + 0.75 + 0.8) / 4));
        CHECK(p.previous_weight == doctest::Approx(0.25));
        CHECK(p.nearest == "neither");
    }
    SUBCASE("a single token has no pattern") { CHECK_THROWS(head_pattern(weights_of(1, {1}))); }
}

TEST_CASE("attention maps: zero queries spread uniform weight, and only attention blocks have maps") {
    GPTConfig c = tiny_config("pair_max,attn");
    c.n_head = 4;
    GPT m = random_model(c);
    for (Parameter* p : gpt_parameters(m))
        if (p->name == "transformer.h.1.attn.c_attn.weight") {
            // (3C, C): the first C rows make q; zero them and every score is 0.
            for (int64_t i = 0; i < c.n_embd * c.n_embd; i++) p->value.data[i] = 0.0f;
        }
    const std::vector<int> tokens = random_tokens(9, c.vocab_size, 3);
    const std::vector<HeadWeights> heads = gpt_attention_maps(m, tokens);
    REQUIRE(heads.size() == 4);
    for (int64_t h = 0; h < 4; h++) {
        CHECK(heads[h].layer == 1);
        CHECK(heads[h].head == h);
        CHECK(heads[h].w.shape == Shape({9, 9}));
        const HeadPattern p = head_pattern(heads[h].w);
        CHECK(p.kl_uniform == doctest::Approx(0.0).epsilon(1e-6));
        CHECK(p.nearest == "uniform");
    }
}

TEST_CASE("attention maps: the SVG is well-formed XML whatever the title and prompt hold") {
    const std::vector<HeadWeights> heads = {{0, 0, weights_of(3, {1, 0, 0, 0.5f, 0.5f, 0, 0.2f, 0.3f, 0.5f})}};
    const std::vector<HeadPattern> patterns = {head_pattern(heads[0].w)};
    const std::string svg = attention_svg(heads, patterns, {"<", "&", "\n"}, 64, "run \xff\x01 (step 3)");
    CHECK(svg.find("&lt;&amp;\xe2\x8f\x8e") != std::string::npos);  // markup escaped, the line break a mark
    CHECK(svg.find("run &#xFFFD;&#xFFFD; (step 3)") != std::string::npos);  // not UTF-8, a control character
    CHECK(svg.find('\xff') == std::string::npos);
    CHECK(svg.find("layer 0 head 0: uniform") != std::string::npos);
}

}  // namespace cg
