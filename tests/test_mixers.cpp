// The mixer table (nn/mixers.cpp), row by row: every kind's core against its
// naive reference, its one-token step against its full-sequence forward, and
// the gradient of the whole mixer (input and every weight) against finite
// differences. The tests iterate over the table, so a new kind is tested here
// without an edit; only its naive reference is written by hand
// (tests/mixer_reference.h). Causality: tests/test_causality.cpp.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "nn/mixer.h"
#include "tests/grad_check.h"
#include "tests/mixer_reference.h"

namespace cg {
namespace {

// A mixer of `kind` with C channels (attention: 2 heads), weights drawn wide
// enough that c_proj does not hide what the core did; an activation has none.
Mixer test_mixer(const MixerKind& kind, int64_t C, bool vproj, bool bias) {
    if (kind.use == MixerUse::activation) return make_activation(kind);
    MixerSettings s;
    s.name = "m";
    s.C = C;
    s.n_head = 2;
    s.vproj = vproj;
    s.bias = bias;
    s.std = s.proj_std = 0.4f;
    Rng rng{23, 0};
    Mixer m = make_mixer(kind, s, rng);
    for (Parameter* p : {&m.c_in.bias, &m.c_proj.bias})  // nonzero biases, so their gradients matter
        if (p->value.defined()) fill_normal(p->value, rng, 0.0f, 0.3f);
    return m;
}

// The width of what the core reads: c_in's output, or the input itself.
int64_t core_width(const Mixer& m, int64_t C) { return m.c_in.weight.value.defined() ? m.c_in.weight.value.shape[0] : C; }

ForwardPass eval_pass(Rng& rng) { return ForwardPass{false, 0.0f, &rng, false}; }

// The variants of a kind the tests build: parameter-free ops with and without
// c_v, with and without biases.
struct Variant {
    bool vproj, bias;
};
std::vector<Variant> variants_of(const MixerKind& kind) {
    if (kind.use == MixerUse::activation) return {{false, false}};
    if (kind.use == MixerUse::both) return {{false, false}, {true, true}};
    return {{false, false}, {false, true}};
}

TEST_CASE("mixers: every kind's core matches its naive reference in double") {
    for (const MixerKind& kind : mixer_kinds()) {
        const std::string name = kind.name;
        CAPTURE(name);
        for (const Shape& btc : {Shape{2, 9, 6}, Shape{3, 65, 10}}) {  // T = 65 crosses attention's key tiles
            const Mixer m = test_mixer(kind, btc[2], false, false);
            const int64_t W = core_width(m, btc[2]);
            std::mt19937 gen(31);
            const std::vector<float> x = normal_values(btc[0] * btc[1] * W, gen);
            Rng unused{0, 0};
            NoGrad no_grad;
            const std::vector<float> got =
                values_of(kind.core(m, constant(tensor_of({btc[0], btc[1], W}, x)), eval_pass(unused)).value);
            std::vector<double> want;
            const std::vector<double> xd(x.begin(), x.end());
            if (!ref::naive_core(kind.name, m, xd, {btc[0], btc[1], W}, want)) {
                FAIL_CHECK("no naive reference for '" << kind.name << "': add one to tests/mixer_reference.h");
                break;
            }
            REQUIRE(got.size() == want.size());
            int off = 0;
            for (size_t i = 0; i < got.size(); i++) off += !(std::fabs(got[i] - want[i]) <= 1e-5 * (1 + std::fabs(want[i])));
            CHECK_MESSAGE(off == 0, off << " of " << got.size() << " outputs off, shape " << btc.str());
        }
    }
}

TEST_CASE("mixers: the element-wise activations are the unary table's rows that offer themselves, in its order") {
    std::vector<std::string> offered, activations;
    for (const UnaryOp* op : unary_ops())
        if (op->activation) {
            offered.push_back(op->name);
            const MixerKind& kind = find_mixer_kind(op->name, MixerUse::activation);
            CHECK(kind.unary == op);
            CHECK(std::string(kind.help) == op->activation);
            CHECK(contains(mixer_kind_names(MixerUse::activation), op->name));  // --help lists it
            CHECK_THROWS_WITH_AS(find_mixer_kind(op->name, MixerUse::mixer), doctest::Contains("element-wise"), Error);
        } else {
            CHECK_THROWS_AS(find_mixer_kind(op->name, MixerUse::activation), Error);
        }
    for (const MixerKind& kind : mixer_kinds())
        if (kind.use == MixerUse::activation) activations.push_back(kind.name);
    CHECK(!offered.empty());
    CHECK(activations == offered);
}

TEST_CASE("mixers: every causal kind's one-token step reproduces its forward; a leaking one differs") {
    const int64_t N = 2, T = 9, C = 6;
    for (const MixerKind& kind : mixer_kinds())
        for (const Variant& v : variants_of(kind)) {
            const std::string name = kind.name;
            CAPTURE(name);
            CAPTURE(v.vproj);
            const Mixer m = test_mixer(kind, C, v.vproj, v.bias);
            std::mt19937 gen(37);
            const std::vector<float> x = normal_values(N * T * C, gen);
            Rng unused{0, 0};
            NoGrad no_grad;
            const std::vector<float> full = values_of(mixer_forward(m, constant(tensor_of({N, T, C}, x)), eval_pass(unused)).value);
            MixerState state = make_mixer_state(m, N, C, T);
            double worst = 0;
            for (int64_t t = 0; t < T; t++) {
                Tensor xt = empty({N, C});
                for (int64_t n = 0; n < N; n++)
                    for (int64_t c = 0; c < C; c++) xt.data[n * C + c] = x[size_t((n * T + t) * C + c)];
                const Tensor yt = mixer_step(m, state, xt);
                REQUIRE(yt.shape == Shape({N, C}));
                for (int64_t n = 0; n < N; n++)
                    for (int64_t c = 0; c < C; c++) {
                        const double want = full[size_t((n * T + t) * C + c)];
                        worst = std::fmax(worst, std::fabs(yt.data[n * C + c] - want) / (1 + std::fabs(want)));
                    }
            }
            if (kind.causal) CHECK_MESSAGE(worst <= 1e-5, "step and forward differ by " << worst);
            else CHECK_MESSAGE(worst > 1e-3, "a leaking kind's step (which cannot see the future) equals its forward");
        }
}

// loss = sum w_i y_i (fixed random w), in double from the float outputs.
double weighted_loss(const Mixer& m, const Var& x, const std::vector<float>& w) {
    Rng unused{0, 0};
    NoGrad no_grad;
    const std::vector<float> y = values_of(mixer_forward(m, x, eval_pass(unused)).value);
    double loss = 0;
    for (size_t i = 0; i < y.size(); i++) loss += double(w[i]) * y[i];
    return loss;
}

// Central differences of every element of the input and of every weight. A
// max/min of two computed values (pair_max against the running mean) has kinks
// where no input draw can keep away from: an element whose left and right
// slopes disagree lies across one and is skipped, at most a tenth of them.
TEST_CASE("mixers: the gradient of every kind, input and weights, against finite differences") {
    const int64_t B = 2, T = 7, C = 6;
    const float eps = 1e-3f;
    for (const MixerKind& kind : mixer_kinds())
        for (const Variant& v : variants_of(kind)) {
            const std::string name = kind.name;
            CAPTURE(name);
            CAPTURE(v.vproj);
            Mixer m = test_mixer(kind, C, v.vproj, v.bias);
            std::mt19937 gen(41);
            Parameter x = make_parameter("x", tensor_of({B, T, C}, distinct_values(B * T * C, gen, 0.1f)));
            const std::vector<float> w = normal_values(B * T * C, gen);
            std::vector<Parameter*> params{&x};
            add_mixer_parameters(m, params);
            Rng unused{0, 0};
            const Var y = mixer_forward(m, x.var(), eval_pass(unused));
            backward(sum(mul(y, constant(tensor_of(y.shape(), w)))));
            int checked = 0, skipped = 0, off = 0;
            for (Parameter* p : params) {
                REQUIRE(p->grad().defined());
                for (int64_t i = 0; i < p->value.numel(); i++) {
                    float& e = p->value.data[i];
                    const float original = e;
                    const double mid = weighted_loss(m, x.var(), w);
                    e = original + eps;
                    const double up = weighted_loss(m, x.var(), w), du = double(e) - original;
                    e = original - eps;
                    const double down = weighted_loss(m, x.var(), w), dd = original - double(e);
                    e = original;
                    const double right = (up - mid) / du, left = (mid - down) / dd, central = (up - down) / (du + dd);
                    checked++;
                    // Across a kink the central difference is off by (right - left) / 2:
                    // skip where that could exceed the tolerance below.
                    if (std::fabs(right - left) > 1e-2 * (1 + std::fabs(central))) {
                        skipped++;
                        continue;
                    }
                    const bool ok = std::fabs(p->grad().data[i] - central) <= 5e-3 * (1 + std::fabs(central));
                    if (!ok && off < 3) MESSAGE(p->name << "[" << i << "]: analytic " << p->grad().data[i] << ", numeric " << central);
                    off += !ok;
                }
            }
            CHECK_MESSAGE(off == 0, off << " of " << checked << " gradient elements off");
            CHECK_MESSAGE(skipped * 10 <= checked, skipped << " of " << checked << " elements lie across a kink");
            zero_grad(params);
        }
}

}  // namespace
}  // namespace cg
