// GFLOP/s of OpenBLAS's sgemm and of our bf16 product (gemm_bf16_on_this_thread)
// at the shapes of nanoGPT's shakespeare_char model (n_embd 384, 4 x 384 in
// the MLP, batch 16 x 256 tokens = 4096 rows), on one thread and on two split
// by rows as tensor/matmul.cpp splits them; and the peak of each instruction,
// which bounds the ratio on this CPU. Run through make bench-gemm.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "tensor/bf16.h"
#include "tensor/chunks.h"
#include "tensor/kernels.h"
#include "tensor/runtime_setup.h"
#include "tensor/thread_governor.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The medians of `reps` timed runs of each of two competitors, after one
// untimed run each, taking turns: on a shared machine both see the same
// moments of load, so their ratio holds even when the absolute times move.
std::pair<double, double> median_seconds(const std::function<void()>& first, const std::function<void()>& second,
                                         int reps) {
    first();
    second();
    std::vector<double> t1, t2;
    for (int i = 0; i < reps; i++) {
        auto t0 = Clock::now();
        first();
        t1.push_back(seconds_since(t0));
        t0 = Clock::now();
        second();
        t2.push_back(seconds_since(t0));
    }
    return {cg::median(t1), cg::median(t2)};
}

std::vector<float> random_floats(size_t n, uint64_t seed) {
    std::vector<float> v(n);
    for (size_t i = 0; i < n; i++) v[i] = cg::rng_uniform_at(seed, i) * 2.0f - 1.0f;
    return v;
}

// One product, as either kernel runs it: c (m, n; ldc) = op(a) op(b) + beta c.
struct Gemm {
    bool ta, tb;
    int m, n, k;
    const float* a;
    int lda;
    const float* b;
    const uint16_t* b_bf16;  // b converted once, as a weight is per step; null: b is fp32 for both
    int ldb;
    float* c;
    int ldc;
};

void run_sgemm(const Gemm& g, int row0, int rows, float beta, float* c) {
    const float* a = g.ta ? g.a + row0 : g.a + int64_t{row0} * g.lda;
    cg::sgemm_on_this_thread(g.ta, g.tb, rows, g.n, g.k, 1.0f, a, g.lda, g.b, g.ldb, beta, c, g.ldc);
}
void run_bf16(const Gemm& g, int row0, int rows, float beta, float* c) {
    const float* a = g.ta ? g.a + row0 : g.a + int64_t{row0} * g.lda;
    const cg::GemmOperand b = g.b_bf16 ? cg::bf16_operand(g.b_bf16, g.ldb) : cg::fp32_operand(g.b, g.ldb);
    cg::gemm_bf16_on_this_thread(g.ta, g.tb, rows, g.n, g.k, 1.0f, cg::fp32_operand(a, g.lda), b, beta, c, g.ldc);
}
using Kernel = void (*)(const Gemm&, int, int, float, float*);

// Rows of c split into `threads` chunks, one per thread (matmul.cpp's split).
void rows_split(Kernel kernel, const Gemm& g, int threads) {
    #pragma omp parallel for schedule(static) num_threads(threads)
    for (int t = 0; t < threads; t++) {
        const int r0 = static_cast<int>(cg::chunk_begin(g.m, threads, t));
        const int r1 = static_cast<int>(cg::chunk_begin(g.m, threads, t + 1));
        kernel(g, r0, r1 - r0, 0.0f, g.c + int64_t{r0} * g.ldc);
    }
}

// dW (out, in) = dy^T x, k = the rows of dy and x split into chunks, each
// chunk's share summed into dW in chunk order (linear_backward_products' split).
void k_split(Kernel kernel, const Gemm& g, int threads, std::vector<float>& shares) {
    const int64_t numel = int64_t{g.m} * g.n;
    shares.resize(static_cast<size_t>(numel * (threads - 1)));
    #pragma omp parallel num_threads(threads)
    {
        #pragma omp for schedule(static)
        for (int t = 0; t < threads; t++) {
            const int k0 = static_cast<int>(cg::chunk_begin(g.k, threads, t));
            const int k1 = static_cast<int>(cg::chunk_begin(g.k, threads, t + 1));
            Gemm part = g;
            part.k = k1 - k0;
            part.a = g.a + int64_t{k0} * g.lda;  // a is dy (k, m) read transposed
            part.b = g.b + int64_t{k0} * g.ldb;  // b is x (k, n)
            kernel(part, 0, g.m, 0.0f, t == 0 ? g.c : shares.data() + (t - 1) * numel);
        }
        #pragma omp for schedule(static)
        for (int64_t i = 0; i < numel; i++)
            for (int t = 1; t < threads; t++) g.c[i] += shares[(t - 1) * numel + i];
    }
}

// Buffers for one product and its timing on 1 and 2 threads with both kernels.
struct Case {
    std::string name;
    bool ta, tb, weight_b, split_k;
    int m, n, k;
};

void time_case(const Case& cs, int reps) {
    const int a_rows = cs.ta ? cs.k : cs.m, a_cols = cs.ta ? cs.m : cs.k;
    const int b_rows = cs.tb ? cs.n : cs.k, b_cols = cs.tb ? cs.k : cs.n;
    std::vector<float> a = random_floats(size_t(a_rows) * a_cols, 1), b = random_floats(size_t(b_rows) * b_cols, 2);
    std::vector<uint16_t> b16(b.size());
    cg::floats_to_bf16(b16.data(), b.data(), static_cast<int64_t>(b.size()));
    std::vector<float> c(size_t(cs.m) * cs.n), shares;
    const Gemm g{cs.ta, cs.tb, cs.m, cs.n, cs.k, a.data(), a_cols, b.data(), cs.weight_b ? b16.data() : nullptr,
                 b_cols, c.data(), cs.n};
    const double flops = 2.0 * cs.m * cs.n * cs.k;
    std::printf("%-28s", cs.name.c_str());
    for (int threads : {1, 2}) {
        const auto run = [&](Kernel kernel) {
            return [&, kernel] {
                if (cs.split_k) k_split(kernel, g, threads, shares);
                else rows_split(kernel, g, threads);
            };
        };
        const auto [sgemm, bf16] = median_seconds(run(run_sgemm), run(run_bf16), reps);
        std::printf("  %7.1f %7.1f %5.2fx", flops / sgemm / 1e9, flops / bf16 / 1e9, sgemm / bf16);
    }
    std::printf("\n");
}

// An attention tile product, 64 x 64 x 64, repeated on each thread's own
// buffers (attention runs one (batch, head) per thread): scores = q kt with q
// rows 3C = 1152 apart and kt = k^T (HS, T = 256), and out = p v with v rows
// 1152 apart, as tensor/attention.cpp calls sgemm.
void time_tile(const char* name, bool scores, int reps) {
    constexpr int kCalls = 2000;
    std::printf("%-28s", name);
    for (int threads : {1, 2}) {
        const auto run = [&](bool bf16) {
            return [&, bf16] {
                #pragma omp parallel num_threads(threads)
                {
                    thread_local std::vector<float> qkv = random_floats(64 * 1152, 3), kt = random_floats(64 * 256, 4),
                                                    p = random_floats(64 * 64, 5), out(64 * 64);
                    const float* a = scores ? qkv.data() : p.data();
                    const int lda = scores ? 1152 : 64;
                    const float* b = scores ? kt.data() : qkv.data() + 768;
                    const int ldb = scores ? 256 : 1152;
                    for (int i = 0; i < kCalls; i++) {
                        if (bf16)
                            cg::gemm_bf16_on_this_thread(false, false, 64, 64, 64, 1.0f, cg::fp32_operand(a, lda),
                                                         cg::fp32_operand(b, ldb), 0.0f, out.data(), 64);
                        else
                            cg::sgemm_on_this_thread(false, false, 64, 64, 64, 1.0f, a, lda, b, ldb, 0.0f, out.data(), 64);
                    }
                }
            };
        };
        const auto [sgemm, bf16] = median_seconds(run(false), run(true), reps);
        const double flops = threads * kCalls * 2.0 * 64 * 64 * 64;
        std::printf("  %7.1f %7.1f %5.2fx", flops / sgemm / 1e9, flops / bf16 / 1e9, sgemm / bf16);
    }
    std::printf("\n");
}

// ---- the instructions' peaks ----------------------------------------------------
// 24 independent sums, as in the micro-kernel, and nothing but the instruction:
// vdpbf16ps does 32 multiply-adds per zmm, vfmadd231ps 16.

__attribute__((target("avx512f,avx512bf16"))) __attribute__((noinline)) float dpbf16_loop(int64_t iters) {
    __m512 sum[24];
    for (auto& s : sum) s = _mm512_setzero_ps();
    __m512bh x = (__m512bh)_mm512_set1_epi32(0x3f803f80), y = (__m512bh)_mm512_set1_epi32(0x3c003c00);
    for (int64_t i = 0; i < iters; i++) {
        #pragma GCC unroll 24
        for (int j = 0; j < 24; j++) sum[j] = _mm512_dpbf16_ps(sum[j], x, y);
        __asm__ volatile("" : "+v"(x), "+v"(y));  // keeps the loop from being folded
    }
    for (int j = 1; j < 24; j++) sum[0] = _mm512_add_ps(sum[0], sum[j]);
    return _mm512_cvtss_f32(sum[0]);
}

__attribute__((target("avx512f"))) __attribute__((noinline)) float fma_loop(int64_t iters) {
    __m512 sum[24];
    for (auto& s : sum) s = _mm512_setzero_ps();
    __m512 x = _mm512_set1_ps(1.0f), y = _mm512_set1_ps(1e-9f);
    for (int64_t i = 0; i < iters; i++) {
        #pragma GCC unroll 24
        for (int j = 0; j < 24; j++) sum[j] = _mm512_fmadd_ps(x, y, sum[j]);
        __asm__ volatile("" : "+v"(x), "+v"(y));
    }
    for (int j = 1; j < 24; j++) sum[0] = _mm512_add_ps(sum[0], sum[j]);
    return _mm512_cvtss_f32(sum[0]);
}

void time_peaks(int reps) {
    constexpr int64_t kIters = 5000000;
    volatile float sink = 0.0f;
    const auto [fma_s, dp_s] = median_seconds([&] { sink = sink + fma_loop(kIters); },
                                              [&] { sink = sink + dpbf16_loop(kIters); }, reps);
    const double fma = 24.0 * 32 * kIters / fma_s / 1e9, dp = 24.0 * 64 * kIters / dp_s / 1e9;
    std::printf("peak, one thread: vfmadd231ps zmm %.1f GFLOP/s, vdpbf16ps zmm %.1f GFLOP/s: %.2fx\n", fma, dp, dp / fma);
}

}  // namespace

int main(int argc, char** argv) {
    cg::restart_with_runtime_settings(argv);
    if (!cg::cpu_has_avx512_bf16()) {
        std::fprintf(stderr, "gemm_bf16 bench: this CPU lacks %s\n", cg::bf16_missing_cpu_feature());
        return 1;
    }
    cg::use_one_blas_thread();
    // bench_gemm_bf16 [REPS [WORD]]: WORD keeps the products whose name contains it
    const int reps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 7;
    const std::string only = argc > 2 ? argv[2] : "";
    const auto wanted = [&](const std::string& name) { return name.find(only) != std::string::npos; };
    std::printf("OpenBLAS core %s; medians of %d runs; GFLOP/s of sgemm, of bf16, and their ratio\n",
                cg::blas_core_name().c_str(), reps);
    if (only.empty()) time_peaks(reps);
    std::printf("%-28s  %-21s  %-21s\n", "product (m x n x k)", "1 thread", "2 threads (split rows)");
    const int N = 4096, C = 384;
    const std::vector<Case> cases = {
        // forward: y (N, out) = x (N, in) W^T, W (out, in) in bf16
        {"fwd qkv   4096x1152x384", false, true, true, false, N, 3 * C, C},
        {"fwd proj  4096x384x384", false, true, true, false, N, C, C},
        {"fwd fc    4096x1536x384", false, true, true, false, N, 4 * C, C},
        {"fwd fcprj 4096x384x1536", false, true, true, false, N, C, 4 * C},
        // backward: dx (N, in) = dy (N, out) W
        {"dx  qkv   4096x384x1152", false, false, true, false, N, C, 3 * C},
        {"dx  proj  4096x384x384", false, false, true, false, N, C, C},
        {"dx  fc    4096x384x1536", false, false, true, false, N, C, 4 * C},
        {"dx  fcprj 4096x1536x384", false, false, true, false, N, 4 * C, C},
        // backward: dW (out, in) = dy^T x, both fp32, split along the 4096 rows
        {"dW  qkv   1152x384x4096", true, false, false, true, 3 * C, C, N},
        {"dW  proj  384x384x4096", true, false, false, true, C, C, N},
        {"dW  fc    1536x384x4096", true, false, false, true, 4 * C, C, N},
        {"dW  fcprj 384x1536x4096", true, false, false, true, C, 4 * C, N},
    };
    for (const Case& cs : cases)
        if (wanted(cs.name)) time_case(cs, reps);
    if (wanted("attn q kt 64x64x64")) time_tile("attn q kt 64x64x64", true, reps);
    if (wanted("attn p v  64x64x64")) time_tile("attn p v  64x64x64", false, reps);
    return 0;
}
