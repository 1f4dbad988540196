#include "train/evaluate.h"

#include <cmath>

#include "tensor/kernels.h"
#include "tensor/thread_governor.h"
#include "data/dataset.h"

namespace cg {

float estimate_loss(GPT& model, const std::vector<uint16_t>& tokens, int64_t B, int64_t T,
                    int64_t iters, uint64_t seed) {
    NoGrad no_grad;
    Rng batches{seed, 0}, unused{0, 0};
    double total = 0.0;
    ThreadGovernor governor = make_thread_governor();
    for (int64_t i = 0; i < iters; i++) {
        GovernedRepeat timed(governor);
        Batch b = get_batch(tokens, B, T, batches);
        total += cross_entropy(gpt_forward(model, b.x, false, unused), b.y).value.item();
    }
    return static_cast<float>(total / static_cast<double>(iters));
}

float estimate_loss_token_by_token(GPT& model, const std::vector<uint16_t>& tokens, int64_t B,
                                   int64_t T, int64_t iters, uint64_t seed) {
    NoGrad no_grad;
    Rng batches{seed, 0};
    const int64_t V = model.config.vocab_size;
    double total = 0.0;
    std::vector<int> column(static_cast<size_t>(B));
    Tensor lse = empty({B});
    ThreadGovernor governor = make_thread_governor();
    for (int64_t i = 0; i < iters; i++) {
        Batch b = get_batch(tokens, B, T, batches);
        GPTState state = make_gpt_state(model, B);
        double batch_total = 0.0;
        for (int64_t t = 0; t < T; t++) {
            GovernedRepeat timed(governor);
            for (int64_t n = 0; n < B; n++) column[n] = b.x.data()[n * T + t];  // (B, T)
            Tensor logits = gpt_step(model, state, column.data());            // (B, V)
            for (int64_t n = 0; n < B; n++) column[n] = b.y.data()[n * T + t];
            batch_total += cross_entropy_forward(lse, logits.reshape({B, V}), column.data());
        }
        total += batch_total / static_cast<double>(T);
    }
    return static_cast<float>(total / static_cast<double>(iters));
}

}  // namespace cg
