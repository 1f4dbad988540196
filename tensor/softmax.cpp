// Softmax kernels: the causal softmax of attention and the fused
// log-softmax + negative log-likelihood of the loss. Every row subtracts its
// max before exponentiating, so large scores stay finite.
#include <cmath>

#include "tensor/chunks.h"
#include "tensor/fast_exp.h"
#include "tensor/kernels.h"

namespace cg {

// scores (..., T, T): row i of each matrix -> softmax(scale * scores[i, 0..i]), 0 after i
void causal_softmax_forward(const Tensor& probs, const Tensor& scores, float scale) {
    check_contiguous("causal_softmax", "scores", scores);
    if (scores.ndim() < 2 || scores.shape[-1] != scores.shape[-2])
        fail("causal_softmax", "scores must be (..., T, T), got " + scores.shape.str());
    check_shape("causal_softmax", "output", probs, scores.shape);
    check_contiguous("causal_softmax", "output", probs);
    const int64_t T = scores.shape[-1], rows = T ? scores.numel() / T : 0;
    #pragma omp parallel for if (rows * T > kParallelMin)
    for (int64_t r = 0; r < rows; r++) {
        const int64_t i = r % T;  // query position: sees keys 0..i
        const float* s = scores.data + r * T;
        float* p = probs.data + r * T;
        float mx = -INFINITY;
        #pragma omp simd reduction(max : mx)
        for (int64_t j = 0; j <= i; j++) mx = scale * s[j] > mx ? scale * s[j] : mx;
        float total = 0.0f;
        #pragma omp simd reduction(+ : total)
        for (int64_t j = 0; j <= i; j++) {
            p[j] = fast_exp(scale * s[j] - mx);
            total += p[j];
        }
        const float inv = 1.0f / total;
        for (int64_t j = 0; j <= i; j++) p[j] *= inv;
        for (int64_t j = i + 1; j < T; j++) p[j] = 0.0f;
    }
}

// p = softmax(scale * s)  ->  ds[j] += scale * p[j] * (dp[j] - sum_k p[k] dp[k])
// (masked entries have p = 0 and get no gradient)
void causal_softmax_backward(const Tensor& dscores, const Tensor& probs, const Tensor& dprobs,
                             float scale) {
    check_shape("causal_softmax", "dscores", dscores, probs.shape);
    check_shape("causal_softmax", "dprobs", dprobs, probs.shape);
    check_contiguous("causal_softmax", "dprobs", dprobs);
    check_contiguous("causal_softmax", "dscores", dscores);
    check_contiguous("causal_softmax", "probs", probs);
    const int64_t T = probs.shape[-1], rows = T ? probs.numel() / T : 0;
    #pragma omp parallel for if (rows * T > kParallelMin)
    for (int64_t r = 0; r < rows; r++) {
        const int64_t i = r % T;
        const float* p = probs.data + r * T;
        const float* g = dprobs.data + r * T;
        float* d = dscores.data + r * T;
        float dot = 0.0f;
        #pragma omp simd reduction(+ : dot)
        for (int64_t j = 0; j <= i; j++) dot += p[j] * g[j];
        for (int64_t j = 0; j <= i; j++) d[j] += scale * p[j] * (g[j] - dot);
    }
}

namespace {
void check_targets(const char* op, const int* targets, int64_t N, int64_t V) {
    for (int64_t n = 0; n < N; n++)
        if (targets[n] < 0 || targets[n] >= V)
            fail(op, "target " + std::to_string(targets[n]) + " at row " + std::to_string(n) +
                         " is outside the vocabulary [0, " + std::to_string(V) + ")");
}
}  // namespace

// logits (N, V): loss_n = lse_n - logits[n, target_n], lse_n = log sum_j exp(logits[n, j])
float cross_entropy_forward(const Tensor& lse, const Tensor& logits, const int* targets) {
    check_contiguous("cross_entropy", "logits", logits);
    const int64_t V = logits.shape[-1], N = V ? logits.numel() / V : 0;
    check_shape("cross_entropy", "lse", lse, Shape{N});
    check_targets("cross_entropy", targets, N, V);
    #pragma omp parallel for if (N * V > kParallelMin)
    for (int64_t n = 0; n < N; n++) {
        const float* z = logits.data + n * V;  // (N, V)
        float mx = -INFINITY;
        #pragma omp simd reduction(max : mx)
        for (int64_t j = 0; j < V; j++) mx = z[j] > mx ? z[j] : mx;
        float s = 0.0f;
        #pragma omp simd reduction(+ : s)
        for (int64_t j = 0; j < V; j++) s += fast_exp(z[j] - mx);
        lse.data[n] = mx + std::log(s);
    }
    // The mean in row order, on one thread: the same whatever the thread count.
    double total = 0.0;
    for (int64_t n = 0; n < N; n++) total += static_cast<double>(lse.data[n]) - logits.data[n * V + targets[n]];
    return N ? static_cast<float>(total / static_cast<double>(N)) : 0.0f;
}

// loss = mean_n (lse_n - z[n, t_n])  ->  dz[n, j] += dloss / N * (softmax(z_n)[j] - [j == t_n])
void cross_entropy_backward(const Tensor& dlogits, const Tensor& logits, const Tensor& lse,
                            const int* targets, float dloss, bool accumulate) {
    check_shape("cross_entropy", "dlogits", dlogits, logits.shape);
    check_contiguous("cross_entropy", "dlogits", dlogits);
    const int64_t V = logits.shape[-1], N = V ? logits.numel() / V : 0;
    check_shape("cross_entropy", "lse", lse, Shape{N});
    check_targets("cross_entropy", targets, N, V);
    const float k = N ? dloss / static_cast<float>(N) : 0.0f;
    #pragma omp parallel for if (N * V > kParallelMin)
    for (int64_t n = 0; n < N; n++) {
        const float* z = logits.data + n * V;
        float* d = dlogits.data + n * V;
        const float l = lse.data[n];
        for (int64_t j = 0; j < V; j++) d[j] = (accumulate ? d[j] : 0.0f) + k * fast_exp(z[j] - l);
        d[targets[n]] -= k;
    }
}

}  // namespace cg
