// What trained attention does. The paper motivates its parameter-free mixers
// with an observation: trained decoder attention settles into a static
// pattern, each token spreading uniform weight over all the tokens before it
// (what the running average `avg` computes); pair_max instead hard-codes a
// look at the previous token. These functions take each attention head's
// weights for a prompt and measure how far they are from those patterns.
#pragma once

#include <string>
#include <vector>

#include "models/gpt.h"

namespace cg {

// One head of one attention block for a prompt of T tokens.
struct HeadWeights {
    int64_t layer = 0, head = 0;
    Tensor w;  // (T, T): row t is how query t spreads over keys 0..t
};

// Every attention head of the model, block by block, for one prompt
// (T <= block_size tokens). Blocks whose mixer is not attention have none.
std::vector<HeadWeights> gpt_attention_maps(GPT& model, const std::vector<int>& tokens);

// A head's weights against three fixed patterns, averaged over the queries
// t = 1..T-1 (query 0 can only look at itself). Distances are total variation
// (half the L1 distance between two distributions, from 0 to 1), so "near"
// has the same meaning for every pattern.
struct HeadPattern {
    double kl_uniform = 0;       // KL(p_t || uniform over 0..t) in nats
    double tv_uniform = 0;       // total variation from that uniform
    double self_weight = 0;      // p_t[t]
    double previous_weight = 0;  // p_t[t - 1]
    // The pattern with the least mean distance when that distance is below
    // 1/2 (more than half the weight where the pattern puts it):
    // "uniform", "previous", "self", or "neither".
    std::string nearest;
};
HeadPattern head_pattern(const Tensor& w);

}  // namespace cg
