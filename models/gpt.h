// The GPT: nanoGPT's decoder, where every block picks its sequence mixer,
// standard causal self-attention or one of the replacement mixers, from the
// mixer table (nn/mixers.cpp).
//
//   tokens (B, T) -> wte + wpe (B, T, C)
//   each block:  x = x + mixer(ln_1(x));  x = x + mlp(ln_2(x))
//   ln_f -> logits (B, T, V) = x @ wte^T (lm_head tied to the token embedding)
#pragma once

#include <string>
#include <vector>

#include "nn/layer_norm.h"
#include "nn/mixer.h"
#include "nn/mlp.h"

namespace cg {

struct GPTConfig {
    int64_t vocab_size = 65;
    int64_t block_size = 64;
    int64_t n_layer = 4;
    int64_t n_head = 4;
    int64_t n_embd = 128;
    float dropout = 0.0f;
    bool bias = false;
    std::string mixer = "attn";        // one name for all blocks, or a comma list, one per block
    std::string activation = "gelu";   // the MLP's: element-wise, or a parameter-free mixer
    bool mixer_vproj = false;          // a learned value projection c_v before a parameter-free mixer
};

// Checks the config; throws with the offending key and the fix.
void validate_config(const GPTConfig& config);
// The mixer name of each block.
std::vector<std::string> block_mixers(const GPTConfig& config);
// False when some block or activation lets a position see later ones.
bool config_is_causal(const GPTConfig& config);

struct Block {
    LayerNorm ln_1;
    Mixer mixer;
    LayerNorm ln_2;
    MLP mlp;
};

struct GPT {
    GPTConfig config;
    Parameter wte;  // (V, C), also the output projection
    Parameter wpe;  // (block_size, C)
    std::vector<Block> h;
    LayerNorm ln_f;
    // How the forward runs, not what it computes: the readable composed
    // attention (autograd/composed.h) instead of the fused op (--attention).
    bool composed_attention = false;
};

// nanoGPT's initialisation: N(0, 0.02) for weights and embeddings, residual
// projections (c_proj) N(0, 0.02 / sqrt(2 n_layer)), biases 0, norms 1.
GPT make_gpt(const GPTConfig& config, uint64_t seed);
// Every parameter, in nanoGPT's state_dict order (wte, wpe, h.0..., ln_f).
std::vector<Parameter*> gpt_parameters(GPT& model);
int64_t count_parameters(GPT& model, bool non_embedding);

// idx (B, T) -> logits (B, T, V). Dropout draws from `rng` when training.
// With `attention_weights`, each attention block appends its softmax weights
// (B, NH, T, T) there (models/attention_maps.h).
Var gpt_forward(GPT& model, const Ids& idx, bool training, Rng& rng,
                std::vector<Tensor>* attention_weights = nullptr);

// Incremental decoding of N sequences fed one token at a time: each block's
// mixer state (attention's key/value cache, a parameter-free op's previous
// input and running value) and its activation's.
struct BlockState {
    MixerState mixer, activation;
};
struct GPTState {
    std::vector<BlockState> blocks;
    int64_t n_seq = 0;  // N, the sequences decoded side by side
    int64_t pos = 0;    // the position the next token takes
};
GPTState make_gpt_state(const GPT& model, int64_t N);
// tokens: N ids at position state.pos (< block_size) -> logits (N, V).
Tensor gpt_step(const GPT& model, GPTState& state, const int* tokens);

}  // namespace cg
