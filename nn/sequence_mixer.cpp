#include "nn/sequence_mixer.h"

#include <algorithm>

#include "tensor/kernels.h"

namespace cg {

namespace {
constexpr const char* kSeqOpNames[] = {
    "pair_max", "pair_min", "pair_mean", "scan_max", "scan_min", "avg",
    "pair_max+avg", "pair_min+avg", "pair_max+gavg", "pair_min+gavg",
};
static_assert(sizeof(kSeqOpNames) / sizeof(kSeqOpNames[0]) == static_cast<size_t>(SeqOp::count),
              "every SeqOp needs a name");

bool is_max(SeqOp op) {
    return op == SeqOp::pair_max || op == SeqOp::scan_max || op == SeqOp::pair_max_avg ||
           op == SeqOp::pair_max_gavg;
}
}  // namespace

const char* seq_op_name(SeqOp op) { return kSeqOpNames[static_cast<int>(op)]; }

SeqOp parse_seq_op(const std::string& name) {
    for (int i = 0; i < static_cast<int>(SeqOp::count); i++)
        if (name == kSeqOpNames[i]) return static_cast<SeqOp>(i);
    if (name == "scan_max+avg" || name == "scan_min+avg")
        fail("mixer", "'" + name + "' would equal '" + name.substr(0, 8) +
                          "': a running mean never leaves the running max/min's bounds; use '" +
                          name.substr(0, 8) + "'");
    std::string valid = "attn";
    for (const char* n : kSeqOpNames) valid += std::string(", ") + n;
    fail("mixer", "unknown mixer '" + name + "'; choose one of: " + valid);
}

bool seq_op_is_causal(SeqOp op) { return op != SeqOp::pair_max_gavg && op != SeqOp::pair_min_gavg; }

Var seq_op_forward(SeqOp op, const Var& x) {
    switch (op) {
        case SeqOp::pair_max: return pair_max(x);
        case SeqOp::pair_min: return pair_min(x);
        case SeqOp::pair_mean: return pair_mean(x);
        case SeqOp::scan_max: return scan_max(x);
        case SeqOp::scan_min: return scan_min(x);
        case SeqOp::avg: return causal_mean(x);
        case SeqOp::pair_max_avg: return maximum(pair_max(x), causal_mean(x));
        case SeqOp::pair_min_avg: return minimum(pair_min(x), causal_mean(x));
        case SeqOp::pair_max_gavg: return maximum(pair_max(x), global_mean(x));
        case SeqOp::pair_min_gavg: return minimum(pair_min(x), global_mean(x));
        case SeqOp::count: break;
    }
    fail("mixer", "bad sequence op");
}

SeqState make_seq_state(int64_t N, int64_t W) { return SeqState{zeros({N, W}), zeros({N, W}), 0}; }

// Mirrors the kernels of tensor/scan.cpp one position at a time, in the same
// order of float operations, so both paths give the same numbers.
//
// The leaking ops average over tokens not yet seen; online, only the tokens so
// far exist, so they run as their causal counterparts (+avg). That is why a
// leaking model's token-by-token loss differs from its full-sequence loss.
Tensor seq_op_step(SeqOp op, SeqState& s, const Tensor& x) {
    if (op == SeqOp::pair_max_gavg) op = SeqOp::pair_max_avg;
    if (op == SeqOp::pair_min_gavg) op = SeqOp::pair_min_avg;
    check_shape("mixer", "input", x, s.prev.shape);
    const int64_t n = x.numel();
    const bool first = s.count == 0;
    const bool take_max = is_max(op);
    const float inv = 1.0f / static_cast<float>(s.count + 1);
    Tensor y = empty(x.shape);
    const float* px = x.data;
    float *prev = s.prev.data, *run = s.run.data, *py = y.data;
    #pragma omp parallel for if (n > (1 << 14))
    for (int64_t i = 0; i < n; i++) {
        const float cur = px[i];
        auto pick = [take_max](float a, float b) { return take_max ? (a >= b ? a : b) : (a <= b ? a : b); };
        float out = cur;
        switch (op) {
            case SeqOp::pair_max:
            case SeqOp::pair_min:
                out = first ? cur : pick(cur, prev[i]);
                break;
            case SeqOp::pair_mean:
                out = first ? cur : 0.5f * (cur + prev[i]);
                break;
            case SeqOp::scan_max:
            case SeqOp::scan_min:
                run[i] = first ? cur : pick(cur, run[i]);
                out = run[i];
                break;
            case SeqOp::avg:
                run[i] = (first ? 0.0f : run[i]) + cur;
                out = run[i] * inv;
                break;
            case SeqOp::pair_max_avg:
            case SeqOp::pair_min_avg:
                run[i] = (first ? 0.0f : run[i]) + cur;
                out = pick(first ? cur : pick(cur, prev[i]), run[i] * inv);
                break;
            default:
                break;
        }
        prev[i] = cur;
        py[i] = out;
    }
    s.count++;
    return y;
}

SequenceMixer make_sequence_mixer(const std::string& name, SeqOp op, int64_t C, bool vproj,
                                  bool bias, float std, float proj_std, Rng& rng) {
    SequenceMixer m;
    m.op = op;
    m.has_vproj = vproj;
    if (vproj) m.c_v = make_linear(name + ".c_v", C, C, bias, std, rng);
    m.c_proj = make_linear(name + ".c_proj", C, C, bias, proj_std, rng);
    return m;
}

Var sequence_mixer_forward(const SequenceMixer& m, const Var& x, float dropout_p, bool training,
                           Rng& rng) {
    Var v = m.has_vproj ? linear_forward(m.c_v, x) : x;
    return dropout(linear_forward(m.c_proj, seq_op_forward(m.op, v)), dropout_p, training, rng);
}

Tensor sequence_mixer_step(const SequenceMixer& m, SeqState& state, const Tensor& x) {
    NoGrad no_grad;
    Tensor v = m.has_vproj ? linear_forward(m.c_v, constant(x)).value : x;
    return linear_forward(m.c_proj, constant(seq_op_step(m.op, state, v))).value;
}

}  // namespace cg
