#include "models/gpt.h"

#include <cmath>
#include <sstream>

#include "tensor/kernels.h"

namespace cg {

namespace {
constexpr float kInitStd = 0.02f;

// What every block's mixer is made with; name is its parameters' prefix.
MixerSettings mixer_settings(const GPTConfig& c, const std::string& name) {
    MixerSettings s;
    s.name = name;
    s.C = c.n_embd;
    s.n_head = static_cast<int>(c.n_head);
    s.bias = c.bias;
    s.vproj = c.mixer_vproj;
    s.std = kInitStd;
    s.proj_std = kInitStd / std::sqrt(2.0f * static_cast<float>(c.n_layer));
    return s;
}
}  // namespace

std::vector<std::string> block_mixers(const GPTConfig& c) {
    std::vector<std::string> names;
    std::stringstream ss(c.mixer);
    for (std::string item; std::getline(ss, item, ',');) names.push_back(item);
    if (!c.mixer.empty() && c.mixer.back() == ',') names.push_back("");  // getline drops a trailing empty entry
    if (names.size() == 1) names.assign(static_cast<size_t>(c.n_layer), names[0]);
    return names;
}

void validate_config(const GPTConfig& c) {
    auto need = [](bool ok, const std::string& msg) {
        if (!ok) fail("config", msg);
    };
    need(c.n_layer >= 1, "n_layer must be at least 1");
    need(c.n_embd >= 1 && c.n_head >= 1, "n_embd and n_head must be positive");
    need(c.block_size >= 1, "block_size must be at least 1");
    need(c.vocab_size >= 1, "vocab_size must be at least 1");
    need(c.dropout >= 0.0f && c.dropout < 1.0f, "dropout must be in [0, 1)");
    // Far past any model this code can train; keeps size arithmetic and the list below small.
    const int64_t most = int64_t{1} << 20;
    need(c.n_layer <= most && c.n_head <= most && c.n_embd <= most && c.block_size <= most && c.vocab_size <= most,
         "n_layer, n_head, n_embd, block_size and vocab_size must be at most 1048576");
    std::vector<std::string> mixers = block_mixers(c);
    need(static_cast<int64_t>(mixers.size()) == c.n_layer,
         "mixer lists " + std::to_string(mixers.size()) + " entries for n_layer " +
             std::to_string(c.n_layer) + "; give one name, or one per layer");
    for (const std::string& m : mixers) {
        need(!m.empty(), "mixer '" + c.mixer + "' has an empty entry; separate names with single commas");
        const MixerKind& kind = find_mixer_kind(m, MixerUse::mixer);  // throws with the valid names
        if (kind.check) kind.check(mixer_settings(c, ""));
    }
    find_mixer_kind(c.activation, MixerUse::activation);
}

bool config_is_causal(const GPTConfig& c) {
    for (const std::string& m : block_mixers(c))
        if (!find_mixer_kind(m, MixerUse::mixer).causal) return false;
    return find_mixer_kind(c.activation, MixerUse::activation).causal;
}

GPT make_gpt(const GPTConfig& c, uint64_t seed) {
    validate_config(c);
    Rng rng{seed, 0};
    const int64_t C = c.n_embd;
    GPT model;
    model.config = c;
    Tensor wte = empty({c.vocab_size, C}), wpe = empty({c.block_size, C});
    fill_normal(wte, rng, 0.0f, kInitStd);
    fill_normal(wpe, rng, 0.0f, kInitStd);
    model.wte = make_parameter("transformer.wte.weight", wte);
    model.wpe = make_parameter("transformer.wpe.weight", wpe);
    const std::vector<std::string> mixers = block_mixers(c);
    const MixerKind& activation = find_mixer_kind(c.activation, MixerUse::activation);
    for (int64_t l = 0; l < c.n_layer; l++) {
        const std::string name = "transformer.h." + std::to_string(l);
        const MixerSettings s = mixer_settings(c, name + ".attn");
        Block b;
        b.ln_1 = make_layer_norm(name + ".ln_1", C, c.bias);
        b.mixer = make_mixer(find_mixer_kind(mixers[l], MixerUse::mixer), s, rng);
        b.ln_2 = make_layer_norm(name + ".ln_2", C, c.bias);
        b.mlp = make_mlp(name + ".mlp", C, activation, c.bias, s.std, s.proj_std, rng);
        model.h.push_back(std::move(b));
    }
    model.ln_f = make_layer_norm("transformer.ln_f", C, c.bias);
    return model;
}

std::vector<Parameter*> gpt_parameters(GPT& m) {
    std::vector<Parameter*> out;
    auto add = [&out](Parameter& p) {
        if (p.value.defined()) out.push_back(&p);
    };
    auto add_linear = [&](Linear& l) {
        add(l.weight);
        add(l.bias);
    };
    auto add_norm = [&](LayerNorm& n) {
        add(n.weight);
        add(n.bias);
    };
    add(m.wte);
    add(m.wpe);
    for (Block& b : m.h) {
        add_norm(b.ln_1);
        add_mixer_parameters(b.mixer, out);
        add_norm(b.ln_2);
        add_linear(b.mlp.c_fc);
        add_linear(b.mlp.c_proj);
    }
    add_norm(m.ln_f);
    return out;
}

int64_t count_parameters(GPT& m, bool non_embedding) {
    int64_t n = 0;
    for (Parameter* p : gpt_parameters(m)) n += p->value.numel();
    return non_embedding ? n - m.wpe.value.numel() : n;
}

Var gpt_forward(GPT& m, const Ids& idx, bool training, Rng& rng, std::vector<Tensor>* attention_weights) {
    const GPTConfig& c = m.config;
    if (idx.shape.ndim != 2) fail("gpt", "idx must be (B, T), got " + idx.shape.str());
    const int64_t T = idx.shape[1];
    if (T > c.block_size)
        fail("gpt", "sequence length " + std::to_string(T) + " exceeds block_size " +
                        std::to_string(c.block_size));
    std::vector<int> positions(static_cast<size_t>(T));
    for (int64_t t = 0; t < T; t++) positions[t] = static_cast<int>(t);
    Var tok = embedding(m.wte.var(), idx);                                  // (B, T, C)
    Var pos = embedding(m.wpe.var(), make_ids({T}, std::move(positions)));  // (T, C)
    Var x = dropout(add(tok, pos), c.dropout, training, rng);
    const ForwardPass pass{training, c.dropout, &rng, m.composed_attention, attention_weights};
    for (const Block& b : m.h) {
        x = add(x, mixer_forward(b.mixer, layer_norm(b.ln_1, x), pass));
        x = add(x, mlp_forward(b.mlp, layer_norm(b.ln_2, x), pass));
    }
    x = layer_norm(m.ln_f, x);
    return linear(x, m.wte.var(), Var{});  // (B, T, C) @ wte^T (C, V): lm_head tied to wte
}

GPTState make_gpt_state(const GPT& m, int64_t N) {
    const GPTConfig& c = m.config;
    GPTState s;
    s.n_seq = N;
    for (const Block& b : m.h)
        s.blocks.push_back({make_mixer_state(b.mixer, N, c.n_embd, c.block_size), make_mlp_state(b.mlp, N, c.block_size)});
    return s;
}

Tensor gpt_step(const GPT& m, GPTState& s, const int* tokens) {
    NoGrad no_grad;
    const GPTConfig& c = m.config;
    if (s.pos >= c.block_size)
        fail("gpt", "position " + std::to_string(s.pos) + " is past block_size " +
                        std::to_string(c.block_size) + "; start a new state");
    const int64_t N = s.n_seq, C = c.n_embd;
    Tensor x = empty({N, C});
    embedding_forward(x, m.wte.value, tokens);
    add_forward(x, x, m.wpe.value.slice(0, s.pos, 1).reshape({C}));  // + wpe[pos] on every row
    for (size_t l = 0; l < m.h.size(); l++) {
        const Block& b = m.h[l];
        Tensor h = layer_norm(b.ln_1, constant(x)).value;
        accumulate_into(x, mixer_step(b.mixer, s.blocks[l].mixer, h));
        h = layer_norm(b.ln_2, constant(x)).value;
        accumulate_into(x, mlp_step(b.mlp, s.blocks[l].activation, h));
    }
    s.pos++;
    Var out = layer_norm(m.ln_f, constant(x));
    return matmul(out, constant(m.wte.value.transpose(0, 1))).value;  // (N, V)
}

}  // namespace cg
