// The mixer table: every kind of mixer and activation, one row each (the
// fields: nn/mixer.h). Above the table, the functions of each row; the
// attention's are in nn/attention.cpp. To add a kind: its functions, its row,
// and its naive reference in tests/mixer_reference.h (docs/tutorial-add-a-mixer.md).
// The element-wise activations are not written here: each is a row of
// autograd/unary.cpp that offers itself as one (docs/tutorial-add-an-op.md).
#include <cmath>
#include <string>

#include "autograd/unary.h"
#include "nn/attention.h"
#include "nn/mixer.h"

namespace cg {

namespace {

// ---- parameter-free ops along T (the paper's, and our causal variants) ----
// Optionally after a learned value projection c_v (--mixer_vproj); with no
// weights of their own they also serve as the MLP's activation.

void value_projection(Mixer& m, const MixerSettings& s, Rng& rng) {
    if (s.vproj) m.c_in = make_linear(s.name + ".c_v", s.C, s.C, s.bias, s.std, rng);
}

// Two buffers per sequence: t[0] the previous input, t[1] a running value.
MixerState two_buffers(const Mixer&, int64_t N, int64_t W, int64_t) {
    return MixerState{{zeros({N, W}), zeros({N, W})}, 0};
}

// One new position, element by element: y = rule(x, prev, run, first, 1 / (pos + 1)),
// in the same order of float operations as the op's kernel in tensor/scan.cpp,
// so both paths give the same numbers.
template <typename Rule>
Tensor step_each(MixerState& s, const Tensor& x, Rule rule) {
    check_shape("mixer", "input", x, s.t[0].shape);
    const int64_t n = x.numel();
    const bool first = s.pos == 0;
    const float inv = 1.0f / static_cast<float>(s.pos + 1);
    Tensor y = empty(x.shape);
    const float* px = x.data;
    float *prev = s.t[0].data, *run = s.t[1].data, *py = y.data;
    #pragma omp parallel for if (n > (1 << 14))
    for (int64_t i = 0; i < n; i++) {
        py[i] = rule(px[i], prev[i], run[i], first, inv);
        prev[i] = px[i];
    }
    s.pos++;
    return y;
}

float larger(float a, float b) { return a >= b ? a : b; }  // a on a tie, as the kernels
float smaller(float a, float b) { return a <= b ? a : b; }

template <float (*pick)(float, float)>
Tensor pair_step(const Mixer&, MixerState& s, const Tensor& x) {
    return step_each(s, x, [](float cur, float prev, float&, bool first, float) { return first ? cur : pick(cur, prev); });
}
Tensor pair_mean_step(const Mixer&, MixerState& s, const Tensor& x) {
    return step_each(s, x, [](float cur, float prev, float&, bool first, float) { return first ? cur : 0.5f * (cur + prev); });
}
template <float (*pick)(float, float)>
Tensor scan_step(const Mixer&, MixerState& s, const Tensor& x) {
    return step_each(s, x, [](float cur, float, float& run, bool first, float) { return run = first ? cur : pick(cur, run); });
}
Tensor avg_step(const Mixer&, MixerState& s, const Tensor& x) {
    return step_each(s, x, [](float cur, float, float& run, bool first, float inv) {
        run = (first ? 0.0f : run) + cur;
        return run * inv;
    });
}
// pick(pair, running mean). The leaking +gavg ops run this way too: online only
// the tokens so far exist, so their mean is the running one. That is why a
// leaking model's token-by-token loss differs from its full-sequence loss.
template <float (*pick)(float, float)>
Tensor pair_avg_step(const Mixer&, MixerState& s, const Tensor& x) {
    return step_each(s, x, [](float cur, float prev, float& run, bool first, float inv) {
        run = (first ? 0.0f : run) + cur;
        return pick(first ? cur : pick(cur, prev), run * inv);
    });
}

Var pair_max_core(const Mixer&, const Var& x, const ForwardPass&) { return pair_max(x); }
Var pair_min_core(const Mixer&, const Var& x, const ForwardPass&) { return pair_min(x); }
Var pair_mean_core(const Mixer&, const Var& x, const ForwardPass&) { return pair_mean(x); }
Var scan_max_core(const Mixer&, const Var& x, const ForwardPass&) { return scan_max(x); }
Var scan_min_core(const Mixer&, const Var& x, const ForwardPass&) { return scan_min(x); }
Var avg_core(const Mixer&, const Var& x, const ForwardPass&) { return avg(x); }
Var pair_max_avg_core(const Mixer&, const Var& x, const ForwardPass&) { return maximum(pair_max(x), avg(x)); }
Var pair_min_avg_core(const Mixer&, const Var& x, const ForwardPass&) { return minimum(pair_min(x), avg(x)); }
Var pair_max_gavg_core(const Mixer&, const Var& x, const ForwardPass&) { return maximum(pair_max(x), gavg(x)); }
Var pair_min_gavg_core(const Mixer&, const Var& x, const ForwardPass&) { return minimum(pair_min(x), gavg(x)); }

// ---- ema: a causal exponential moving average with a learned decay per channel ----
//   y[t] = d y[t-1] + (1 - d) x[t],  y[-1] = 0,  d = sigmoid(w) in (0, 1)
// Channel c starts with d = 1 - 2^-(1 + 5c / (C - 1)): from 0.5 to 0.98, time
// constants of 2 to 64 tokens, which training then moves.

void ema_init(Mixer& m, const MixerSettings& s, Rng&) {
    Tensor w = empty({s.C});
    for (int64_t c = 0; c < s.C; c++) {
        const double d = 1.0 - std::pow(2.0, -(1.0 + 5.0 * static_cast<double>(c) / static_cast<double>(std::max<int64_t>(s.C - 1, 1))));
        w.data[c] = static_cast<float>(std::log(d / (1.0 - d)));  // sigmoid^-1(d)
    }
    m.own.push_back(make_parameter(s.name + ".decay", w));
}
Var ema_core(const Mixer& m, const Var& x, const ForwardPass&) {
    const Var w = m.own[0].var();
    return linear_scan(mul(x, sigmoid(scale(w, -1.0f))), sigmoid(w));  // 1 - sigmoid(w) = sigmoid(-w)
}
MixerState ema_state(const Mixer&, int64_t N, int64_t W, int64_t) { return MixerState{{zeros({N, W})}, 0}; }
Tensor ema_step(const Mixer& m, MixerState& s, const Tensor& x) {
    check_shape("ema", "input", x, s.t[0].shape);
    const int64_t N = x.shape[0], C = x.shape[1];
    const Var w = constant(m.own[0].value);
    const Tensor d = sigmoid(w).value, keep = sigmoid(scale(w, -1.0f)).value;  // as ema_core computes them
    float* run = s.t[0].data;
    Tensor y = empty(x.shape);
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++) {
            float& r = run[n * C + c];
            r = (s.pos == 0 ? 0.0f : d.data[c] * r) + x.data[n * C + c] * keep.data[c];
            y.data[n * C + c] = r;
        }
    s.pos++;
    return y;
}

// ---- element-wise activations (the MLP's): a row of autograd/unary.cpp each ----

MixerState no_state(const Mixer&, int64_t, int64_t, int64_t) { return MixerState{}; }
Var elementwise_core(const Mixer& m, const Var& x, const ForwardPass&) { return unary(*m.kind->unary, x); }
Tensor elementwise_step(const Mixer& m, MixerState&, const Tensor& x) { return unary(*m.kind->unary, constant(x)).value; }
// nanoGPT's MLP applies GELU in GPT-2's tanh form: an export with this activation may load into nanoGPT.
bool is_nanogpt_activation(const UnaryOp& op) { return std::string(op.name) == "gelu"; }

constexpr MixerUse kMixer = MixerUse::mixer, kBoth = MixerUse::both, kActivation = MixerUse::activation;
constexpr bool kCausal = true, kLeaks = false;

// The rows of the table below, then the MLP's element-wise activations: every
// row of autograd/unary.cpp that offers itself as one, in that table's order.
std::vector<MixerKind> with_activations(std::vector<MixerKind> rows) {
    for (const UnaryOp* op : unary_ops())
        if (op->activation)
            rows.push_back({op->name, op->activation, kActivation, kCausal, is_nanogpt_activation(*op), nullptr,
                            nullptr, elementwise_core, no_state, elementwise_step, nullptr, op});
    return rows;
}

}  // namespace

const std::vector<MixerKind>& mixer_kinds() {
    // name, help, use, causal, nanoGPT's own, check, init, core, make_state, step, core FLOPs
    static const std::vector<MixerKind> kinds = with_activations({
        {"attn", "causal self-attention (nanoGPT's)", kMixer, kCausal, true,
         attention_check, attention_init, attention_core, attention_state, attention_step, attention_flops},
        {"pair_max", "max(x[t], x[t-1])", kBoth, kCausal, false,
         nullptr, value_projection, pair_max_core, two_buffers, pair_step<larger>, nullptr},
        {"pair_min", "min(x[t], x[t-1])", kBoth, kCausal, false,
         nullptr, value_projection, pair_min_core, two_buffers, pair_step<smaller>, nullptr},
        {"pair_mean", "(x[t] + x[t-1]) / 2", kBoth, kCausal, false,
         nullptr, value_projection, pair_mean_core, two_buffers, pair_mean_step, nullptr},
        {"scan_max", "running max over x[0..t]", kBoth, kCausal, false,
         nullptr, value_projection, scan_max_core, two_buffers, scan_step<larger>, nullptr},
        {"scan_min", "running min over x[0..t]", kBoth, kCausal, false,
         nullptr, value_projection, scan_min_core, two_buffers, scan_step<smaller>, nullptr},
        {"avg", "running mean of x[0..t]", kBoth, kCausal, false,
         nullptr, value_projection, avg_core, two_buffers, avg_step, nullptr},
        {"pair_max+avg", "max(x[t], x[t-1], mean(x[0..t]))", kBoth, kCausal, false,
         nullptr, value_projection, pair_max_avg_core, two_buffers, pair_avg_step<larger>, nullptr},
        {"pair_min+avg", "min(x[t], x[t-1], mean(x[0..t]))", kBoth, kCausal, false,
         nullptr, value_projection, pair_min_avg_core, two_buffers, pair_avg_step<smaller>, nullptr},
        {"pair_max+gavg", "max(x[t], x[t-1], mean(x[0..T-1])): leaks the future, as the paper's code", kBoth, kLeaks,
         false, nullptr, value_projection, pair_max_gavg_core, two_buffers, pair_avg_step<larger>, nullptr},
        {"pair_min+gavg", "min(x[t], x[t-1], mean(x[0..T-1])): leaks the future, as the paper's code", kBoth, kLeaks,
         false, nullptr, value_projection, pair_min_gavg_core, two_buffers, pair_avg_step<smaller>, nullptr},
        {"ema", "moving average y[t] = d y[t-1] + (1 - d) x[t], a learned decay d per channel", kMixer, kCausal,
         false, nullptr, ema_init, ema_core, ema_state, ema_step, nullptr},
    });
    return kinds;
}

}  // namespace cg
