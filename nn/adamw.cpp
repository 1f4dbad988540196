#include "nn/adamw.h"

#include <cmath>

#include "tensor/kernels.h"

namespace cg {

AdamW make_adamw(std::vector<Parameter*> params, AdamWConfig config) {
    AdamW opt;
    opt.config = config;
    opt.params = std::move(params);
    for (Parameter* p : opt.params) {
        opt.m.push_back(zeros(p->value.shape));
        opt.v.push_back(zeros(p->value.shape));
    }
    return opt;
}

// m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
// w -= lr * (m_hat / (sqrt(v_hat) + eps) + wd * w), with m_hat = m / (1 - b1^t), ...
void adamw_step(AdamW& opt, float lr) {
    opt.step++;
    const AdamWConfig& c = opt.config;
    const float correction1 = 1.0f - std::pow(c.beta1, static_cast<float>(opt.step));
    const float correction2 = 1.0f - std::pow(c.beta2, static_cast<float>(opt.step));
    for (size_t i = 0; i < opt.params.size(); i++) {
        Parameter& p = *opt.params[i];
        const float decay = p.value.ndim() >= 2 ? c.weight_decay : 0.0f;
        float *w = p.value.data, *m = opt.m[i].data, *v = opt.v[i].data;
        const float* g = p.grad().data;
        const int64_t n = p.value.numel();
        #pragma omp parallel for if (n > (1 << 14))
        for (int64_t j = 0; j < n; j++) {
            m[j] = c.beta1 * m[j] + (1.0f - c.beta1) * g[j];
            v[j] = c.beta2 * v[j] + (1.0f - c.beta2) * g[j] * g[j];
            const float m_hat = m[j] / correction1, v_hat = v[j] / correction2;
            w[j] -= lr * (m_hat / (std::sqrt(v_hat) + c.eps) + decay * w[j]);
        }
    }
}

float clip_grad_norm(const std::vector<Parameter*>& params, float max_norm) {
    double total = 0.0;
    for (Parameter* p : params) {
        const float* g = p->grad().data;
        const int64_t n = p->value.numel();
        double s = 0.0;
        #pragma omp parallel for reduction(+ : s) if (n > (1 << 14))
        for (int64_t j = 0; j < n; j++) s += static_cast<double>(g[j]) * g[j];
        total += s;
    }
    const float norm = static_cast<float>(std::sqrt(total));
    if (max_norm > 0.0f && norm > max_norm) {
        const float k = max_norm / (norm + 1e-6f);
        for (Parameter* p : params) {
            float* g = p->grad().data;
            const int64_t n = p->value.numel();
            #pragma omp parallel for simd if (n > (1 << 14))
            for (int64_t j = 0; j < n; j++) g[j] *= k;
        }
    }
    return norm;
}

}  // namespace cg
