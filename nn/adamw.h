// AdamW (Loshchilov & Hutter 2019) with decoupled weight decay, and gradient
// clipping by global norm.
#pragma once

#include <vector>

#include "autograd/graph.h"

namespace cg {

// nanoGPT's shakespeare_char settings: beta2 0.99 rather than the usual 0.95,
// since its small batches make the second moment noisy. The training
// defaults (train/settings.h) are these.
struct AdamWConfig {
    float beta1 = 0.9f, beta2 = 0.99f, eps = 1e-8f, weight_decay = 0.1f;
};

struct AdamW {
    AdamWConfig config;
    std::vector<Parameter*> params;
    std::vector<Tensor> m, v;  // first and second moments, one per parameter
    int64_t step = 0;          // updates done (for bias correction)
};

// Weight decay applies to parameters with 2 or more dims (matrices and
// embeddings), not to biases and layer-norm weights, as nanoGPT.
AdamW make_adamw(std::vector<Parameter*> params, AdamWConfig config);
void adamw_step(AdamW& opt, float lr);

// Scales all gradients so that their global L2 norm is at most max_norm (when
// max_norm > 0); returns the norm before clipping.
float clip_grad_norm(const std::vector<Parameter*>& params, float max_norm);

}  // namespace cg
