// Layer norm over the last dim, forward and backward, one row per thread.
#include <cmath>

#include "tensor/kernels.h"

namespace cg {

namespace {
void check_layernorm(const Tensor& x, const Tensor& weight, const Tensor& bias) {
    check_contiguous("layernorm", "input", x);
    const int64_t C = x.shape[-1];
    check_shape("layernorm", "weight", weight, Shape{C});
    if (bias.defined()) check_shape("layernorm", "bias", bias, Shape{C});
}
}  // namespace

// x (N, C) -> out = (x - mean) * rstd * weight + bias; saves mean, rstd (N)
void layernorm_forward(const Tensor& out, const Tensor& mean, const Tensor& rstd,
                       const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) {
    check_layernorm(x, weight, bias);
    check_shape("layernorm", "output", out, x.shape);
    const int64_t C = x.shape[-1], N = C ? x.numel() / C : 0;
    check_shape("layernorm", "mean", mean, Shape{N});
    check_shape("layernorm", "rstd", rstd, Shape{N});
    const float *w = weight.data, *b = bias.defined() ? bias.data : nullptr;
    #pragma omp parallel for if (N * C > (1 << 14))
    for (int64_t n = 0; n < N; n++) {
        const float* xr = x.data + n * C;  // (N, C)
        float* yr = out.data + n * C;
        // Two passes over the row: the mean, then the variance around it.
        float m = 0.0f;
        for (int64_t i = 0; i < C; i++) m += xr[i];
        m /= static_cast<float>(C);
        float v = 0.0f;
        for (int64_t i = 0; i < C; i++) v += (xr[i] - m) * (xr[i] - m);
        v /= static_cast<float>(C);
        float s = 1.0f / std::sqrt(v + eps);
        for (int64_t i = 0; i < C; i++) yr[i] = (xr[i] - m) * s * w[i] + (b ? b[i] : 0.0f);
        mean.data[n] = m;
        rstd.data[n] = s;
    }
}

// With xhat = (x - mean) * rstd and g = dy * weight, per row:
//   dx = rstd * (g - mean(g) - xhat * mean(g * xhat))
//   dweight += sum_rows dy * xhat,  dbias += sum_rows dy
// (the three terms of the layer-norm backward; see Ba et al. 2016, or llm.c).
void layernorm_backward(const Tensor& dx, const Tensor& dweight, const Tensor& dbias,
                        const Tensor& dy, const Tensor& x, const Tensor& weight,
                        const Tensor& mean, const Tensor& rstd) {
    check_layernorm(x, weight, dbias);
    check_shape("layernorm", "dy", dy, x.shape);
    check_contiguous("layernorm", "dy", dy);
    const int64_t C = x.shape[-1], N = C ? x.numel() / C : 0;
    check_shape("layernorm", "mean", mean, Shape{N});
    check_shape("layernorm", "rstd", rstd, Shape{N});
    if (dweight.defined()) check_shape("layernorm", "dweight", dweight, Shape{C});
    const float* w = weight.data;
    if (dx.defined()) {
        check_shape("layernorm", "dx", dx, x.shape);
        #pragma omp parallel for if (N * C > (1 << 14))
        for (int64_t n = 0; n < N; n++) {
            const float* xr = x.data + n * C;  // (N, C)
            const float* gr = dy.data + n * C;
            float* dr = dx.data + n * C;
            const float m = mean.data[n], s = rstd.data[n];
            float g_mean = 0.0f, gx_mean = 0.0f;
            for (int64_t i = 0; i < C; i++) {
                float g = gr[i] * w[i];
                g_mean += g;
                gx_mean += g * (xr[i] - m) * s;
            }
            g_mean /= static_cast<float>(C);
            gx_mean /= static_cast<float>(C);
            for (int64_t i = 0; i < C; i++) {
                float xhat = (xr[i] - m) * s;
                dr[i] += s * (gr[i] * w[i] - g_mean - xhat * gx_mean);
            }
        }
    }
    // Parameter gradients: parallel over channels, so each thread owns its dw[i].
    #pragma omp parallel for if (N * C > (1 << 14))
    for (int64_t i = 0; i < C; i++) {
        float dw = 0.0f, db = 0.0f;
        for (int64_t n = 0; n < N; n++) {
            float g = dy.data[n * C + i];
            dw += g * (x.data[n * C + i] - mean.data[n]) * rstd.data[n];
            db += g;
        }
        if (dweight.defined()) dweight.data[i] += dw;
        if (dbias.defined()) dbias.data[i] += db;
    }
}

}  // namespace cg
