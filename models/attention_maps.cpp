#include "models/attention_maps.h"

#include <cmath>

namespace cg {

std::vector<HeadWeights> gpt_attention_maps(GPT& model, const std::vector<int>& tokens) {
    const int64_t T = static_cast<int64_t>(tokens.size());
    if (T == 0) fail("attention", "the prompt is empty; give at least one character");
    NoGrad no_grad;
    Rng rng{0, 0};  // unused: no dropout outside training
    std::vector<Tensor> weights;  // one (1, NH, T, T) per attention block
    gpt_forward(model, make_ids({1, T}, tokens), false, rng, &weights);

    std::vector<HeadWeights> heads;
    size_t next = 0;
    for (int64_t l = 0; l < static_cast<int64_t>(model.h.size()); l++) {
        if (!model.h[l].mixer.kind->nanogpt) continue;  // the attention row
        const Tensor& w = weights.at(next++);
        for (int64_t h = 0; h < w.shape[1]; h++)
            heads.push_back({l, h, w.slice(1, h, 1).contiguous().reshape({T, T})});
    }
    return heads;
}

HeadPattern head_pattern(const Tensor& w) {
    const int64_t T = w.shape[0];
    HeadPattern p;
    if (T < 2) fail("attention", "a head's pattern needs a prompt of at least 2 tokens");
    for (int64_t t = 1; t < T; t++) {
        const float* row = w.data + t * T;  // (T, T)
        const double u = 1.0 / static_cast<double>(t + 1);
        double kl = 0, tv = 0;
        for (int64_t j = 0; j <= t; j++) {
            if (row[j] > 0) kl += row[j] * std::log(row[j] / u);
            tv += std::fabs(row[j] - u);
        }
        p.kl_uniform += kl;
        p.tv_uniform += tv / 2;
        p.self_weight += row[t];
        p.previous_weight += row[t - 1];
    }
    const double n = static_cast<double>(T - 1);
    p.kl_uniform /= n;
    p.tv_uniform /= n;
    p.self_weight /= n;
    p.previous_weight /= n;
    // Total variation from a one-hot pattern is 1 minus the weight it picks.
    const struct { const char* name; double distance; } patterns[] = {
        {"uniform", p.tv_uniform}, {"previous", 1 - p.previous_weight}, {"self", 1 - p.self_weight}};
    p.nearest = "neither";
    double best = 0.5;
    for (const auto& q : patterns)
        if (q.distance < best) {
            best = q.distance;
            p.nearest = q.name;
        }
    return p;
}

}  // namespace cg
