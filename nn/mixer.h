// What a block does along the sequence. Every kind is one row of the table in
// nn/mixers.cpp: causal self-attention, the paper's parameter-free ops and our
// variants, the moving average, and the MLP's activations (the element-wise
// ops that autograd/unary.cpp offers as one, or one of the parameter-free ops,
// as the paper's later code does). The model, the command line, export and the
// tests all read that table, so the model has no special cases and a new row
// is tested without editing a test.
//
// A block's mixer, x (B, T, C) -> (B, T, C):
//   h = c_in(x)        the kind's input projection, if it has one
//                      (attention's c_attn to q|k|v; c_v with --mixer_vproj)
//   h = core(h)        along T: the kind's function
//   y = dropout(c_proj(h))
#pragma once

#include <string>
#include <vector>

#include "autograd/ops.h"
#include "nn/linear.h"

namespace cg {

struct MixerKind;
struct UnaryOp;

// What a kind needs to make its weights.
struct MixerSettings {
    std::string name;  // the prefix of its parameters' names: "transformer.h.0.attn"
    int64_t C = 0;     // n_embd
    int n_head = 1;
    bool bias = false;
    bool vproj = false;  // --mixer_vproj: a learned c_v before a parameter-free op
    float std = 0.02f, proj_std = 0.02f;
};

// One mixer (or, with no weights, one activation): its kind and its weights.
struct Mixer {
    const MixerKind* kind = nullptr;
    int n_head = 1;
    Linear c_in;                 // no value when the kind has no input projection
    std::vector<Parameter> own;  // the kind's other weights (ema: its decays)
    Linear c_proj;               // (C, C); no value in an activation
};

// The constant-size (or, for attention, key/value) state of one-token
// decoding, for N sequences fed side by side.
struct MixerState {
    std::vector<Tensor> t;  // the kind's buffers: previous input, running value, cache...
    int64_t pos = 0;        // positions seen so far
};

// What one forward pass does beyond its input.
struct ForwardPass {
    bool training = false;
    float dropout = 0.0f;
    Rng* rng = nullptr;                // dropout draws from it when training
    bool composed_attention = false;   // the readable attention (autograd/composed.h) instead of the fused op
    // When set, each attention block appends its softmax weights (B, NH, T, T)
    // here, for looking at what trained attention does (models/attention_maps.h).
    std::vector<Tensor>* attention_weights = nullptr;
};

enum class MixerUse {
    mixer,       // a block's mixer only (it has weights of its own, or it needs c_in)
    activation,  // the MLP's activation only (element-wise: it mixes nothing along T)
    both,        // parameter-free along T: either
};

struct MixerKind {
    const char* name;
    const char* help;  // one line, for --help and the README
    MixerUse use;
    bool causal;       // false: a position sees later ones (training only: it cannot generate)
    // nanoGPT's own kind: as a mixer its CausalSelfAttention (heads, and the attn.bias
    // mask buffer in an export), as the activation its GELU.
    bool nanogpt;
    // Refuses settings the kind cannot take (throws); may be null.
    void (*check)(const MixerSettings& s);
    // Makes c_in and `own` (drawing from rng in that order); null: none. c_proj comes after.
    void (*init)(Mixer& m, const MixerSettings& s, Rng& rng);
    // (B, T, W) -> (B, T, C), between c_in and c_proj.
    Var (*core)(const Mixer& m, const Var& x, const ForwardPass& pass);
    // The decoding state for N sequences whose core input is W wide.
    MixerState (*make_state)(const Mixer& m, int64_t N, int64_t W, int64_t T_max);
    // One new position: x (N, W) -> (N, C), as core would give it; O(1) in the
    // context (attention: O(context)).
    Tensor (*step)(const Mixer& m, MixerState& state, const Tensor& x);
    // FLOPs of core's forward for BT positions in windows of T, C wide (null: negligible).
    double (*core_flops)(double BT, double T, double C);
    // An element-wise activation: the row of autograd/unary.cpp it applies.
    const UnaryOp* unary = nullptr;
};

// Every row, in the table's order, then the activations of autograd/unary.cpp in its order.
const std::vector<MixerKind>& mixer_kinds();
// The row named `name` that can serve as `use` (mixer or activation); throws
// naming the valid choices.
const MixerKind& find_mixer_kind(const std::string& name, MixerUse use);
// "attn, pair_max, ..." : the names usable as `use`.
std::string mixer_kind_names(MixerUse use);

// A mixer of `kind`: c_in and own weights, then c_proj (C, C).
Mixer make_mixer(const MixerKind& kind, const MixerSettings& s, Rng& rng);
// An activation: a kind with no weights.
Mixer make_activation(const MixerKind& kind);
// Every parameter, in state_dict order: c_in, own, c_proj.
void add_mixer_parameters(Mixer& m, std::vector<Parameter*>& out);

// x (B, T, C) -> dropout(c_proj(core(c_in(x)))); an activation: core(x).
Var mixer_forward(const Mixer& m, const Var& x, const ForwardPass& pass);
// Decoding: x (N, C) -> (N, C) for one new position.
MixerState make_mixer_state(const Mixer& m, int64_t N, int64_t C, int64_t T_max);
Tensor mixer_step(const Mixer& m, MixerState& state, const Tensor& x);

}  // namespace cg
