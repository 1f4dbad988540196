#include "nn/attention.h"

#include <cmath>
#include <vector>

#include "tensor/fast_exp.h"
#include "tensor/kernels.h"

namespace cg {

Attention make_attention(const std::string& name, int64_t C, int n_head, bool bias, float std,
                         float proj_std, Rng& rng) {
    if (n_head <= 0 || C % n_head != 0)
        fail("attention", "n_embd " + std::to_string(C) + " must be a multiple of n_head " +
                              std::to_string(n_head));
    return Attention{make_linear(name + ".c_attn", C, 3 * C, bias, std, rng),
                     make_linear(name + ".c_proj", C, C, bias, proj_std, rng), n_head};
}

Var attention_heads_composed(const Var& qkv, int64_t n_head, float dropout_p, bool training, Rng& rng) {
    const int64_t B = qkv.shape()[0], T = qkv.shape()[1], C = qkv.shape()[2] / 3;
    const int64_t NH = n_head, HS = C / NH;
    // Split into heads: (B, T, C) -> (B, T, NH, HS) -> (B, NH, T, HS)
    auto heads = [&](int64_t part) {
        Var p = reshape(slice(qkv, 2, part * C, C), {B, T, NH, HS});
        return permute(p, {0, 2, 1, 3});
    };
    Var q = heads(0), k = heads(1), v = heads(2);
    Var scores = matmul(q, transpose(k, -2, -1));  // (B, NH, T, T)
    Var probs = causal_softmax(scores, 1.0f / std::sqrt(static_cast<float>(HS)));
    probs = dropout(probs, dropout_p, training, rng);
    Var y = matmul(probs, v);                          // (B, NH, T, HS)
    return reshape(permute(y, {0, 2, 1, 3}), {B, T, C});  // heads side by side again
}

Var attention_forward(const Attention& attn, const Var& x, float dropout_p, bool training,
                      Rng& rng) {
    Var qkv = linear_forward(attn.c_attn, x);  // (B, T, 3C)
    // The fused kernel has no dropout on the probabilities; with it on, the
    // composed ops (which store the T x T probabilities) do the work.
    const bool prob_dropout = training && dropout_p > 0.0f;
    Var y = prob_dropout ? attention_heads_composed(qkv, attn.n_head, dropout_p, training, rng)
                         : causal_attention(qkv, attn.n_head);
    return dropout(linear_forward(attn.c_proj, y), dropout_p, training, rng);
}

KVCache make_kv_cache(const Attention& attn, int64_t N, int64_t C, int64_t T_max) {
    const int64_t NH = attn.n_head, HS = C / NH;
    return KVCache{zeros({N, NH, T_max, HS}), zeros({N, NH, T_max, HS})};
}

Tensor attention_step(const Attention& attn, KVCache& cache, const Tensor& x, int64_t t) {
    NoGrad no_grad;
    const int64_t N = x.shape[0], C = x.shape[1];
    const int64_t NH = cache.k.shape[1], T_max = cache.k.shape[2], HS = cache.k.shape[3];
    if (t >= T_max)
        fail("attention", "position " + std::to_string(t) + " beyond the cache of " +
                              std::to_string(T_max));
    Tensor qkv = linear_forward(attn.c_attn, constant(x)).value;  // (N, 3C)
    Tensor y = empty({N, C});
    const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
    #pragma omp parallel for collapse(2) if (N * NH * t > 4096)
    for (int64_t n = 0; n < N; n++)
        for (int64_t h = 0; h < NH; h++) {
            const float* q = qkv.data + n * 3 * C + h * HS;  // (N, 3C): q | k | v
            float* kc = cache.k.data + ((n * NH + h) * T_max) * HS;  // (N, NH, T_max, HS)
            float* vc = cache.v.data + ((n * NH + h) * T_max) * HS;
            for (int64_t i = 0; i < HS; i++) {
                kc[t * HS + i] = qkv.data[n * 3 * C + C + h * HS + i];
                vc[t * HS + i] = qkv.data[n * 3 * C + 2 * C + h * HS + i];
            }
            // softmax over the scores of positions 0..t, then the weighted sum of v
            thread_local std::vector<float> p;  // grows to the longest context, then stays
            p.resize(static_cast<size_t>(t + 1));
            float mx = -INFINITY;
            for (int64_t j = 0; j <= t; j++) {
                float s = 0.0f;
                for (int64_t i = 0; i < HS; i++) s += q[i] * kc[j * HS + i];
                p[j] = s * scale;
                mx = std::fmax(mx, p[j]);
            }
            float total = 0.0f;
            for (int64_t j = 0; j <= t; j++) {
                p[j] = fast_exp(p[j] - mx);
                total += p[j];
            }
            float* out = y.data + n * C + h * HS;
            for (int64_t i = 0; i < HS; i++) out[i] = 0.0f;
            for (int64_t j = 0; j <= t; j++) {
                const float w = p[j] / total;
                for (int64_t i = 0; i < HS; i++) out[i] += w * vc[j * HS + i];
            }
        }
    return linear_forward(attn.c_proj, constant(y)).value;
}

}  // namespace cg
