#include "nn/adamw.h"

#include <cmath>

#include "tensor/chunks.h"
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

namespace {

// A slice of one parameter: the unit of parallel work of the optimizer and the
// clipping. One parallel loop over all slices of all parameters, instead of
// one small loop per parameter (a small GPT has dozens of tiny vectors).
struct Slice {
    int64_t param, begin, end;
};

// The slices of params, rebuilt in place each call (no allocation once grown);
// they depend on the sizes alone, so sums over them come out the same on any
// thread count.
const std::vector<Slice>& slices_of(const std::vector<Parameter*>& params) {
    static std::vector<Slice> slices;
    slices.clear();
    for (size_t i = 0; i < params.size(); i++) {
        const int64_t n = params[i]->value.numel(), chunks = chunk_count(n, kParallelMin);
        for (int64_t k = 0; k < chunks; k++)
            slices.push_back({static_cast<int64_t>(i), chunk_begin(n, chunks, k), chunk_begin(n, chunks, k + 1)});
    }
    return slices;
}

// Parameter::grad() zeroes a gradient zero_grad marked and no backward
// reached: done here, on one thread, before the parallel loops read slices.
void settle_grads(const std::vector<Parameter*>& params) {
    for (Parameter* p : params) p->grad();
}

// Enough elements in all to be worth waking the other threads.
bool worth_threads(const std::vector<Slice>& slices) {
    int64_t total = 0;
    for (const Slice& s : slices) total += s.end - s.begin;
    return total > kParallelMin;
}

}  // namespace

// m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
// w -= lr * (m_hat / (sqrt(v_hat) + eps) + wd * w), with m_hat = m / (1 - b1^t), ...
void adamw_step(AdamW& opt, float lr) {
    opt.step++;
    const AdamWConfig& c = opt.config;
    const float correction1 = 1.0f - std::pow(c.beta1, static_cast<float>(opt.step));
    const float correction2 = 1.0f - std::pow(c.beta2, static_cast<float>(opt.step));
    settle_grads(opt.params);
    const std::vector<Slice>& slices = slices_of(opt.params);
    const int64_t n_slices = static_cast<int64_t>(slices.size());
    #pragma omp parallel for schedule(static) if (worth_threads(slices))
    for (int64_t s = 0; s < n_slices; s++) {
        const Slice sl = slices[static_cast<size_t>(s)];
        Parameter& p = *opt.params[static_cast<size_t>(sl.param)];
        const float decay = p.value.ndim() >= 2 ? c.weight_decay : 0.0f;
        float *w = p.value.data, *m = opt.m[static_cast<size_t>(sl.param)].data;
        float* v = opt.v[static_cast<size_t>(sl.param)].data;
        const float* g = p.grad().data;
        #pragma omp simd
        for (int64_t j = sl.begin; j < sl.end; j++) {
            m[j] = c.beta1 * m[j] + (1.0f - c.beta1) * g[j];
            v[j] = c.beta2 * v[j] + (1.0f - c.beta2) * g[j] * g[j];
            const float m_hat = m[j] / correction1, v_hat = v[j] / correction2;
            w[j] -= lr * (m_hat / (std::sqrt(v_hat) + c.eps) + decay * w[j]);
        }
    }
}

float clip_grad_norm(const std::vector<Parameter*>& params, float max_norm) {
    settle_grads(params);
    const std::vector<Slice>& slices = slices_of(params);
    const int64_t n_slices = static_cast<int64_t>(slices.size());
    static std::vector<double> sums;  // one per slice, added in order below
    sums.assign(slices.size(), 0.0);
    #pragma omp parallel for schedule(static) if (worth_threads(slices))
    for (int64_t s = 0; s < n_slices; s++) {
        const Slice sl = slices[static_cast<size_t>(s)];
        const float* g = params[static_cast<size_t>(sl.param)]->grad().data;
        double sum = 0.0;
        #pragma omp simd reduction(+ : sum)
        for (int64_t j = sl.begin; j < sl.end; j++) sum += static_cast<double>(g[j]) * g[j];
        sums[static_cast<size_t>(s)] = sum;
    }
    double total = 0.0;
    for (double sum : sums) total += sum;
    const float norm = static_cast<float>(std::sqrt(total));
    if (max_norm > 0.0f && norm > max_norm) {
        const float k = max_norm / (norm + 1e-6f);
        #pragma omp parallel for schedule(static) if (worth_threads(slices))
        for (int64_t s = 0; s < n_slices; s++) {
            const Slice sl = slices[static_cast<size_t>(s)];
            float* g = params[static_cast<size_t>(sl.param)]->grad().data;
            #pragma omp simd
            for (int64_t j = sl.begin; j < sl.end; j++) g[j] *= k;
        }
    }
    return norm;
}

}  // namespace cg
