#include "train/evaluate.h"

#include <algorithm>
#include <cmath>

#include "tensor/kernels.h"
#include "tensor/thread_governor.h"
#include "data/dataset.h"

namespace cg {

namespace {

// The mean of the batch losses and its standard error, from their sum and sum of squares.
LossEstimate mean_and_error(double total, double total_squares, int64_t n) {
    const double count = static_cast<double>(n), mean = total / count;
    LossEstimate e;
    e.mean = static_cast<float>(mean);
    e.standard_error = n < 2 ? std::nan("")
                             : std::sqrt(std::max(0.0, (total_squares - total * mean) / (count - 1.0)) / count);
    return e;
}

}  // namespace

LossEstimate estimate_loss_with_error(GPT& model, const std::vector<uint16_t>& tokens, int64_t B, int64_t T,
                                      int64_t iters, uint64_t seed) {
    NoGrad no_grad;
    Rng batches{seed, 0}, unused{0, 0};
    double total = 0.0, total_squares = 0.0;
    ThreadGovernor governor = make_thread_governor();
    for (int64_t i = 0; i < iters; i++) {
        GovernedRepeat timed(governor);
        Batch b = get_batch(tokens, B, T, batches);
        const double loss = cross_entropy(gpt_forward(model, b.x, false, unused), b.y).value.item();
        total += loss;
        total_squares += loss * loss;
    }
    return mean_and_error(total, total_squares, iters);
}

float estimate_loss(GPT& model, const std::vector<uint16_t>& tokens, int64_t B, int64_t T,
                    int64_t iters, uint64_t seed) {
    return estimate_loss_with_error(model, tokens, B, T, iters, seed).mean;
}

LossEstimate estimate_loss_token_by_token_with_error(GPT& model, const std::vector<uint16_t>& tokens, int64_t B,
                                                     int64_t T, int64_t iters, uint64_t seed) {
    NoGrad no_grad;
    Rng batches{seed, 0};
    const int64_t V = model.config.vocab_size;
    double total = 0.0, total_squares = 0.0;
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
        const double loss = batch_total / static_cast<double>(T);
        total += loss;
        total_squares += loss * loss;
    }
    return mean_and_error(total, total_squares, iters);
}

float estimate_loss_token_by_token(GPT& model, const std::vector<uint16_t>& tokens, int64_t B, int64_t T,
                                   int64_t iters, uint64_t seed) {
    return estimate_loss_token_by_token_with_error(model, tokens, B, T, iters, seed).mean;
}

}  // namespace cg
