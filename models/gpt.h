// The GPT: nanoGPT's decoder, where every block picks its sequence mixer,
// standard causal self-attention or one of the replacement mixers.
//
//   tokens (B, T) -> wte + wpe (B, T, C)
//   each block:  x = x + mixer(ln_1(x));  x = x + mlp(ln_2(x))
//   ln_f -> logits (B, T, V) = x @ wte^T (lm_head tied to the token embedding)
#pragma once

#include <string>
#include <vector>

#include "nn/attention.h"
#include "nn/layer_norm.h"
#include "nn/mlp.h"
#include "nn/sequence_mixer.h"

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
    std::string activation = "gelu";   // or a sequence op replacing GELU in every MLP
    bool mixer_vproj = false;          // a learned value projection c_v before the sequence op
};

// Checks the config; throws with the offending key and the fix.
void validate_config(const GPTConfig& config);
// The mixer of each block: "attn" or a sequence op name.
std::vector<std::string> block_mixers(const GPTConfig& config);
bool config_is_causal(const GPTConfig& config);

struct Block {
    LayerNorm ln_1;
    bool is_attention = true;
    Attention attn;        // when is_attention
    SequenceMixer mixer;   // otherwise
    LayerNorm ln_2;
    MLP mlp;
};

struct GPT {
    GPTConfig config;
    Parameter wte;  // (V, C), also the output projection
    Parameter wpe;  // (block_size, C)
    std::vector<Block> h;
    LayerNorm ln_f;
};

// nanoGPT's initialisation: N(0, 0.02) for weights and embeddings, residual
// projections (c_proj) N(0, 0.02 / sqrt(2 n_layer)), biases 0, norms 1.
GPT make_gpt(const GPTConfig& config, uint64_t seed);
// Every parameter, in nanoGPT's state_dict order (wte, wpe, h.0..., ln_f).
std::vector<Parameter*> gpt_parameters(GPT& model);
int64_t count_parameters(GPT& model, bool non_embedding);

// idx (B, T) -> logits (B, T, V). Dropout draws from `rng` when training.
Var gpt_forward(GPT& model, const Ids& idx, bool training, Rng& rng);

// Incremental decoding: a key/value cache per attention block and a constant
// state per sequence op, for N sequences fed one token at a time.
struct GPTState {
    std::vector<KVCache> kv;
    std::vector<SeqState> mixer, activation;
    int64_t n_seq = 0;  // N, the sequences decoded side by side
    int64_t pos = 0;    // the position the next token takes
};
GPTState make_gpt_state(const GPT& model, int64_t N);
// tokens: N ids at position state.pos (< block_size) -> logits (N, V).
Tensor gpt_step(const GPT& model, GPTState& state, const int* tokens);

}  // namespace cg
