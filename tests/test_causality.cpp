// Causality: a token mixer over (B, T, C) must not let position s see any
// position t > s. For several t, the input at t (every batch row and channel)
// is changed; the outputs at every position before t must stay bit-identical,
// and the output at t must change (at t + 1 for shift), otherwise the test
// could not fail.
// Every kind of the mixer table is checked here as it is (its row says
// whether it is causal), so a new kind is checked without an edit; the ops
// it is made of are checked one by one below, as rows of a table.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <ostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "tensor/autocast.h"
#include "nn/mixer.h"
#include "tests/grad_check.h"

namespace cg {
namespace {

using SequenceFn = std::function<Var(const Var&)>;

// Whether a mixer is causal; when it is not, which change leaked where. It
// converts to bool, and doctest prints it (the leak) when a CHECK fails.
struct Causality {
    bool causal = true;
    std::string leak;
    explicit operator bool() const { return causal; }
};
std::ostream& operator<<(std::ostream& os, const Causality& c) {
    return os << (c.causal ? std::string("causal") : c.leak);
}

// Causal when no probed change at position t altered an output at a position
// before t. Also CHECKs that each change did reach the output at position
// t + lag (lag = 1 for shift, whose output at t is x[t-1]), so a mixer that
// ignores its input is not reported as causal by accident.
Causality is_causal(const SequenceFn& mixer, const Shape& shape, int lag = 0) {
    REQUIRE(shape.ndim == 3);
    const int64_t B = shape[0], T = shape[1], C = shape[2];
    std::mt19937 gen(7);
    const std::vector<float> x = normal_values(shape.numel(), gen);

    NoGrad no_grad;
    const Var y = mixer(constant(tensor_of(shape, x)));
    REQUIRE(y.shape().ndim == 3);
    REQUIRE(y.shape()[0] == B);
    REQUIRE(y.shape()[1] == T);
    const int64_t OC = y.shape()[2];  // output channels
    const std::vector<float> base = values_of(y.value);

    Causality result;
    for (int64_t t : {int64_t(0), T / 2, T - 1}) {
        // Move x[:, t, :] far away, up for half the elements and down for the
        // other half, so that max and min ops both see the change.
        std::vector<float> moved = x;
        for (int64_t b = 0; b < B; ++b)
            for (int64_t c = 0; c < C; ++c)
                moved[(b * T + t) * C + c] += (b * C + c) % 2 == 0 ? 100.0f : -100.0f;
        const std::vector<float> out = values_of(mixer(constant(tensor_of(shape, moved))).value);

        auto position_differs = [&](int64_t s) {
            for (int64_t b = 0; b < B; ++b) {
                const size_t at = size_t((b * T + s) * OC);
                if (std::memcmp(&out[at], &base[at], size_t(OC) * sizeof(float)) != 0) return true;
            }
            return false;
        };
        for (int64_t s = 0; s < t; ++s) {
            if (result.causal && position_differs(s)) {
                std::ostringstream leak;
                leak << "changing position " << t << " changed the output at position " << s
                     << " (shape " << shape.str() << ")";
                result = Causality{false, leak.str()};
            }
        }
        if (t + lag < T) {
            CHECK_MESSAGE(position_differs(t + lag), "changing position "
                                                         << t << " did not change the output at "
                                                         << t + lag << " (shape " << shape.str()
                                                         << "): the probe cannot see anything");
        }
    }
    return result;
}

// The shapes every mixer is checked with: odd T, C of 3 and 65. The large one
// (16900 elements) is above the kernels' OpenMP thresholds, so their parallel
// loops are checked too.
const Shape kSmall{2, 7, 3};
const Shape kLarge{4, 65, 65};

// A block's mixer of every kind (with random weights, with and without
// --mixer_vproj), and every activation: causal as its row says, or caught
// leaking when its row says it leaks.
TEST_CASE("causality: every kind of the mixer table (nn/mixers.cpp)") {
    for (const MixerKind& kind : mixer_kinds()) {
        for (bool vproj : {false, true}) {
            if (vproj && kind.use != MixerUse::both) continue;
            const std::string mixer = kind.name;  // a std::string prints as text; a const char* may not
            CAPTURE(mixer);
            CAPTURE(vproj);
            for (const Shape& shape : {kSmall, kLarge}) {
                const int64_t C = shape[2];
                MixerSettings s;
                s.name = "m";
                s.C = C;
                s.n_head = C == 3 ? 3 : 5;
                s.vproj = vproj;
                s.std = s.proj_std = 0.3f;
                Rng rng{17, 0};
                const Mixer m = kind.use == MixerUse::activation ? make_activation(kind) : make_mixer(kind, s, rng);
                Rng unused{0, 0};
                const ForwardPass pass{false, 0.0f, &unused, false};
                const Causality c = is_causal([&](const Var& x) { return mixer_forward(m, x, pass); }, shape);
                if (kind.causal) CHECK(c);
                else CHECK_FALSE(c);
            }
        }
    }
}

// Single head, q = k = v = x (B, T, C): scores (B, T, T), y (B, T, C).
Var attention_single_head(const Var& x) {
    const float scale = 1.0f / std::sqrt(float(x.shape()[2]));
    const Var p = causal_softmax(matmul(x, transpose(x, -2, -1)), scale);  // (B,T,T)
    return matmul(p, x);                                                   // (B,T,C)
}

// Multi-head attention as in GPT-2, from a fixed qkv projection w (C, 3C):
// q, k, v are slices of x @ w, split into NH heads of size HS = C / NH.
SequenceFn attention_multi_head(int64_t C, int64_t NH) {
    std::mt19937 gen(11);
    const Tensor w = normal_tensor({C, 3 * C}, gen, 1.0f / std::sqrt(float(C)));
    return [w, C, NH](const Var& x) {
        const int64_t B = x.shape()[0], T = x.shape()[1], HS = C / NH;
        const Var qkv = matmul(x, constant(w));  // (B,T,3C)
        auto head = [&](int64_t i) {             // (B,NH,T,HS)
            return permute(reshape(slice(qkv, 2, i * C, C), {B, T, NH, HS}), {0, 2, 1, 3});
        };
        const Var q = head(0), k = head(1), v = head(2);
        const Var p = causal_softmax(matmul(q, transpose(k, -2, -1)),
                                     1.0f / std::sqrt(float(HS)));    // (B,NH,T,T)
        const Var y = matmul(p, v);                                    // (B,NH,T,HS)
        return reshape(permute(y, {0, 2, 1, 3}), {B, T, C});           // (B,T,C)
    };
}

// A whole block, h + mixer(ln(h)) then h + mlp(ln(h)): the per-position ops
// around the mixer must not leak either.
SequenceFn block(int64_t C) {
    std::mt19937 gen(13);
    const Tensor ln_w = normal_tensor({C}, gen), ln_b = normal_tensor({C}, gen);
    const Tensor fc = normal_tensor({C, 4 * C}, gen), proj = normal_tensor({4 * C, C}, gen);
    return [=](const Var& x) {
        const Var h = add(x, avg(layer_norm(x, constant(ln_w), constant(ln_b))));
        const Var m = gelu(matmul(layer_norm(h, constant(ln_w), Var{}), constant(fc)));
        return add(h, matmul(scan_max(m), constant(proj)));
    };
}
// The fused attention op on the same projection.
SequenceFn attention_fused(int64_t C, int64_t NH) {
    std::mt19937 gen(11);
    const Tensor w = normal_tensor({C, 3 * C}, gen, 1.0f / std::sqrt(float(C)));
    return [w, NH](const Var& x) { return causal_attention(matmul(x, constant(w)), NH); };
}

// The ops the mixers are made of, attention written out and fused, and a whole
// block: one row each, checked at both shapes. `make` gives the function for
// C channels (the ones with weights need C); lag as in is_causal.
struct CausalRow {
    const char* what;
    std::function<SequenceFn(int64_t C)> make;
    int lag = 0;
};
std::function<SequenceFn(int64_t)> any_width(const SequenceFn& op) {
    return [op](int64_t) { return op; };
}
// The heads of the attention rows: NH = 3, HS = 1 at C 3; NH = 5, HS = 13 at C 65.
int64_t heads_for(int64_t C) { return C == 3 ? 3 : 5; }

const std::vector<CausalRow>& causal_rows() {
    static const std::vector<CausalRow> rows = {
        {"shift", any_width(shift), 1},
        {"pair_max", any_width(pair_max)},
        {"pair_min", any_width(pair_min)},
        {"pair_mean", any_width(pair_mean)},
        {"scan_max", any_width(scan_max)},
        {"scan_min", any_width(scan_min)},
        {"avg", any_width(avg)},
        {"attention, single head, q = k = v = x", any_width(attention_single_head)},
        {"attention, multi-head from a qkv projection",
         [](int64_t C) { return attention_multi_head(C, heads_for(C)); }},
        {"fused attention",  // at T = 65 the keys span two tiles
         [](int64_t C) { return attention_fused(C, heads_for(C)); }},
        {"a block with layer_norm, avg, gelu and scan_max", block},
    };
    return rows;
}

TEST_CASE("causality: each op, attention (composed and fused) and a block, at both shapes") {
    for (const CausalRow& row : causal_rows()) {
        CAPTURE(row.what);
        for (const Shape& shape : {kSmall, kLarge}) {
            INFO("shape " << shape.str());
            CHECK(is_causal(row.make(shape[2]), shape, row.lag));
        }
    }
}

// The products in bf16 (--dtype=bfloat16) round differently, never across time.
TEST_CASE("causality: the same rows with bf16 products") {
    const std::string missing = bf16_unsupported_reason();
    if (!missing.empty()) {
        MESSAGE("skipped: bf16 products need " << missing);
        return;
    }
    Autocast autocast(Dtype::bfloat16);
    for (const CausalRow& row : causal_rows()) {
        CAPTURE(row.what);
        for (const Shape& shape : {kSmall, kLarge}) {
            INFO("shape " << shape.str());
            CHECK(is_causal(row.make(shape[2]), shape, row.lag));
        }
    }
}

// gavg averages over all T positions, so position 0 sees the last
// token. The test must notice.
TEST_CASE("causality: gavg leaks future tokens (as the published code does)") {
    CHECK_FALSE(is_causal(gavg, kSmall));
    CHECK_FALSE(is_causal(gavg, kLarge));

    // Directly: changing the last position changes the output at position 0.
    NoGrad no_grad;
    const int64_t T = 7, C = 3;
    std::vector<float> x(size_t(T * C), 0.5f);
    const std::vector<float> before = values_of(gavg(constant(tensor_of({1, T, C}, x))).value);
    for (int64_t c = 0; c < C; ++c) x[size_t((T - 1) * C + c)] += 7.0f;
    const std::vector<float> after = values_of(gavg(constant(tensor_of({1, T, C}, x))).value);
    for (int64_t c = 0; c < C; ++c) {
        CHECK(before[size_t(c)] == doctest::Approx(0.5));
        CHECK(after[size_t(c)] == doctest::Approx(0.5 + 7.0 / 7.0));  // the mean moved by 7 / T
    }
}

}  // namespace
}  // namespace cg
