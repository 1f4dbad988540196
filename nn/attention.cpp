#include "nn/attention.h"

#include <cmath>
#include <vector>

#include "autograd/composed.h"
#include "tensor/fast_exp.h"
#include "tensor/kernels.h"

namespace cg {

void attention_check(const MixerSettings& s) {
    if (s.n_head <= 0 || s.C % s.n_head != 0)
        fail("config", "n_embd " + std::to_string(s.C) + " must be a multiple of n_head " + std::to_string(s.n_head) +
                           " for attention");
}

void attention_init(Mixer& m, const MixerSettings& s, Rng& rng) {
    m.c_in = make_linear(s.name + ".c_attn", s.C, 3 * s.C, s.bias, s.std, rng);
}

Var attention_core(const Mixer& m, const Var& qkv, const ForwardPass& pass) {
    if (pass.attention_weights) pass.attention_weights->push_back(attention_weights(qkv.value, m.n_head));
    const bool prob_dropout = pass.training && pass.dropout > 0.0f;
    if (prob_dropout || pass.composed_attention)
        return causal_attention_composed(qkv, m.n_head, pass.dropout, pass.training, *pass.rng);
    return causal_attention(qkv, m.n_head);
}

Tensor attention_weights(const Tensor& qkv_in, int64_t NH) {
    const Tensor qkv = qkv_in.contiguous();
    const int64_t B = qkv.shape[0], T = qkv.shape[1], C = qkv.shape[2] / 3, HS = C / NH;
    Tensor w = zeros({B, NH, T, T});
    const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
    // The plain loops: this is for looking at a few sequences, not for training.
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < NH; h++)
            for (int64_t t = 0; t < T; t++) {
                const float* q = qkv.data + (b * T + t) * 3 * C + h * HS;  // (B, T, 3C): q | k | v
                float* row = w.data + ((b * NH + h) * T + t) * T;         // (B, NH, T, T)
                float mx = -INFINITY;
                for (int64_t j = 0; j <= t; j++) {
                    const float* k = qkv.data + (b * T + j) * 3 * C + C + h * HS;
                    double s = 0.0;
                    for (int64_t i = 0; i < HS; i++) s += static_cast<double>(q[i]) * k[i];
                    row[j] = static_cast<float>(s) * scale;
                    mx = std::fmax(mx, row[j]);
                }
                double total = 0.0;
                for (int64_t j = 0; j <= t; j++) {
                    row[j] = std::exp(row[j] - mx);
                    total += row[j];
                }
                for (int64_t j = 0; j <= t; j++) row[j] = static_cast<float>(row[j] / total);
            }
    return w;
}

MixerState attention_state(const Mixer& m, int64_t N, int64_t W, int64_t T_max) {
    const int64_t NH = m.n_head, HS = W / 3 / NH;
    return MixerState{{zeros({N, NH, T_max, HS}), zeros({N, NH, T_max, HS})}, 0};
}

double attention_flops(double BT, double T, double C) { return 2 * 2 * BT * T * C; }

Tensor attention_step(const Mixer&, MixerState& state, const Tensor& qkv) {
    const Tensor& kcache = state.t[0];
    const Tensor& vcache = state.t[1];
    const int64_t N = qkv.shape[0], C = qkv.shape[1] / 3, t = state.pos;
    const int64_t NH = kcache.shape[1], T_max = kcache.shape[2], HS = kcache.shape[3];
    if (t >= T_max)
        fail("attention", "position " + std::to_string(t) + " beyond the cache of " +
                              std::to_string(T_max));
    Tensor y = empty({N, C});
    const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
    #pragma omp parallel for collapse(2) if (N * NH * t > 4096)
    for (int64_t n = 0; n < N; n++)
        for (int64_t h = 0; h < NH; h++) {
            const float* q = qkv.data + n * 3 * C + h * HS;  // (N, 3C): q | k | v
            float* kc = kcache.data + ((n * NH + h) * T_max) * HS;  // (N, NH, T_max, HS)
            float* vc = vcache.data + ((n * NH + h) * T_max) * HS;
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
    state.pos++;
    return y;
}

}  // namespace cg
