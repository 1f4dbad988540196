// Layer norm over the last dim, forward and backward, rows in parallel.
#include <cmath>
#include <vector>

#include "tensor/chunks.h"
#include "tensor/kernels.h"

namespace cg {

namespace {
void check_layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias) {
    check_contiguous("layer_norm", "input", x);
    const int64_t C = x.shape[-1];
    check_shape("layer_norm", "weight", weight, Shape{C});
    if (bias.defined()) check_shape("layer_norm", "bias", bias, Shape{C});
}
}  // namespace

// x (N, C) -> out = (x - mean) * rstd * weight + bias; saves mean, rstd (N)
void layer_norm_forward(const Tensor& out, const Tensor& mean, const Tensor& rstd,
                       const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) {
    check_layer_norm(x, weight, bias);
    check_shape("layer_norm", "output", out, x.shape);
    const int64_t C = x.shape[-1], N = C ? x.numel() / C : 0;
    check_shape("layer_norm", "mean", mean, Shape{N});
    check_shape("layer_norm", "rstd", rstd, Shape{N});
    const float *w = weight.data, *b = bias.defined() ? bias.data : nullptr;
    #pragma omp parallel for if (N * C > kParallelMin)
    for (int64_t n = 0; n < N; n++) {
        const float* xr = x.data + n * C;  // (N, C)
        float* yr = out.data + n * C;
        // Two passes over the row: the mean, then the variance around it.
        // (omp simd: the sums may run in vector lanes, which plain C++ order forbids)
        float m = 0.0f;
        #pragma omp simd reduction(+ : m)
        for (int64_t i = 0; i < C; i++) m += xr[i];
        m /= static_cast<float>(C);
        float v = 0.0f;
        #pragma omp simd reduction(+ : v)
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
void layer_norm_backward(const Tensor& dx, const Tensor& dweight, const Tensor& dbias,
                        const Tensor& dy, const Tensor& x, const Tensor& weight,
                        const Tensor& mean, const Tensor& rstd, bool dx_accumulate) {
    check_layer_norm(x, weight, dbias);
    check_shape("layer_norm", "dy", dy, x.shape);
    check_contiguous("layer_norm", "dy", dy);
    const int64_t C = x.shape[-1], N = C ? x.numel() / C : 0;
    check_shape("layer_norm", "mean", mean, Shape{N});
    check_shape("layer_norm", "rstd", rstd, Shape{N});
    if (dweight.defined()) check_shape("layer_norm", "dweight", dweight, Shape{C});
    const float* w = weight.data;
    // Rows in parallel. The parameter gradients sum over rows, so each chunk
    // of rows sums into its own slice of `partial`, and the slices are added
    // in chunk order afterwards: the same result whatever the thread count.
    static std::vector<float> partial;  // (chunks, 2C): dweight | dbias; grows once
    const int64_t chunks = chunk_count(N, std::max<int64_t>(1, kParallelMin / std::max<int64_t>(C, 1)));
    partial.assign(static_cast<size_t>(chunks * 2 * C), 0.0f);
    #pragma omp parallel for schedule(static) if (chunks > 1)
    for (int64_t k = 0; k < chunks; k++) {
        float* pw = partial.data() + k * 2 * C;  // (chunks, 2C)
        float* pb = pw + C;
        for (int64_t n = chunk_begin(N, chunks, k); n < chunk_begin(N, chunks, k + 1); n++) {
            const float* xr = x.data + n * C;  // (N, C)
            const float* gr = dy.data + n * C;
            const float m = mean.data[n], s = rstd.data[n];
            float g_mean = 0.0f, gx_mean = 0.0f;
            #pragma omp simd reduction(+ : g_mean, gx_mean)
            for (int64_t i = 0; i < C; i++) {
                const float xhat = (xr[i] - m) * s;
                const float g = gr[i] * w[i];
                g_mean += g;
                gx_mean += g * xhat;
                pw[i] += gr[i] * xhat;
                pb[i] += gr[i];
            }
            g_mean /= static_cast<float>(C);
            gx_mean /= static_cast<float>(C);
            if (dx.defined()) {
                float* dr = dx.data + n * C;
                for (int64_t i = 0; i < C; i++) {
                    const float xhat = (xr[i] - m) * s;
                    dr[i] = (dx_accumulate ? dr[i] : 0.0f) + s * (gr[i] * w[i] - g_mean - xhat * gx_mean);
                }
            }
        }
    }
    for (int64_t k = 0; k < chunks; k++) {
        const float* pw = partial.data() + k * 2 * C;
        if (dweight.defined())
            for (int64_t i = 0; i < C; i++) dweight.data[i] += pw[i];
        if (dbias.defined())
            for (int64_t i = 0; i < C; i++) dbias.data[i] += pw[C + i];
    }
}

}  // namespace cg
