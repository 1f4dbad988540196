#include "nn/mixer.h"

namespace cg {

const MixerKind& find_mixer_kind(const std::string& name, MixerUse use) {
    for (const MixerKind& k : mixer_kinds())
        if (name == k.name && (k.use == use || k.use == MixerUse::both)) return k;
    const std::string what = use == MixerUse::mixer ? "mixer" : "activation";
    for (const MixerKind& k : mixer_kinds())
        if (name == k.name)
            fail("config", what + " '" + name + "' is " +
                               (k.use == MixerUse::activation ? "element-wise: it mixes nothing along T, so it cannot be a mixer"
                                                              : "a mixer with weights of its own, not an activation") +
                               "; choose one of: " + mixer_kind_names(use));
    if (name == "scan_max+avg" || name == "scan_min+avg")
        fail("config", what + " '" + name + "' would equal '" + name.substr(0, 8) +
                           "': a running mean never leaves the running max/min's bounds; use '" + name.substr(0, 8) + "'");
    fail("config", "unknown " + what + " '" + name + "'; choose one of: " + mixer_kind_names(use));
}

std::string mixer_kind_names(MixerUse use) {
    std::string names;
    for (const MixerKind& k : mixer_kinds())
        if (k.use == use || k.use == MixerUse::both) names += (names.empty() ? "" : ", ") + std::string(k.name);
    return names;
}

Mixer make_mixer(const MixerKind& kind, const MixerSettings& s, Rng& rng) {
    if (kind.check) kind.check(s);
    Mixer m;
    m.kind = &kind;
    m.n_head = s.n_head;
    if (kind.init) kind.init(m, s, rng);
    m.c_proj = make_linear(s.name + ".c_proj", s.C, s.C, s.bias, s.proj_std, rng);
    return m;
}

Mixer make_activation(const MixerKind& kind) {
    Mixer m;
    m.kind = &kind;
    return m;
}

void add_mixer_parameters(Mixer& m, std::vector<Parameter*>& out) {
    for (Parameter* p : {&m.c_in.weight, &m.c_in.bias})
        if (p->value.defined()) out.push_back(p);
    for (Parameter& p : m.own) out.push_back(&p);
    for (Parameter* p : {&m.c_proj.weight, &m.c_proj.bias})
        if (p->value.defined()) out.push_back(p);
}

namespace {
bool has(const Linear& l) { return l.weight.value.defined(); }
}  // namespace

Var mixer_forward(const Mixer& m, const Var& x, const ForwardPass& pass) {
    const Var h = has(m.c_in) ? linear(m.c_in, x) : x;  // (B, T, W)
    const Var y = m.kind->core(m, h, pass);             // (B, T, C)
    if (!has(m.c_proj)) return y;                       // an activation
    return dropout(linear(m.c_proj, y), pass.dropout, pass.training, *pass.rng);
}

MixerState make_mixer_state(const Mixer& m, int64_t N, int64_t C, int64_t T_max) {
    const int64_t W = has(m.c_in) ? m.c_in.weight.value.shape[0] : C;
    return m.kind->make_state(m, N, W, T_max);
}

Tensor mixer_step(const Mixer& m, MixerState& state, const Tensor& x) {
    NoGrad no_grad;
    const Tensor h = has(m.c_in) ? linear(m.c_in, constant(x)).value : x;  // (N, W)
    const Tensor y = m.kind->step(m, state, h);                              // (N, C)
    return has(m.c_proj) ? linear(m.c_proj, constant(y)).value : y;
}

}  // namespace cg
