// Fused causal self-attention, flash-attention style: the T x T matrix of
// scores is never stored. Each (batch, head) pair is one task; queries go in
// blocks, keys in tiles, and an online softmax keeps a running max and sum
// per query, so memory per task is a few tiles whatever T is. The backward
// recomputes the probabilities from the saved log-sum-exp (Dao et al. 2022,
// "FlashAttention", algorithm 2 and its backward).
//
// Layout: qkv (B, T, 3C) holds q | k | v along the last dim; head h uses
// columns h*HS .. h*HS+HS-1 of each. out (B, T, C), lse (B, NH, T).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "tensor/fast_exp.h"
#include "tensor/kernels.h"

namespace cg {

namespace {

// Tiles of 64 queries by 64 keys: the products inside a tile go to sgemm
// (single-threaded inside our parallel loop, reading q, k, v in place with
// leading dimension 3C), the softmax bookkeeping runs between them.
constexpr int64_t kBlock = 64;

struct Heads {
    int64_t B, T, C, NH, HS;
    float scale;
};

// Tiny problems (a gradient check, one short sequence) run on the calling
// thread: waking another costs more than the work.
bool worth_threads(const Heads& h) { return h.B * h.NH > 1 && h.B * h.NH * h.T * h.T * h.HS > (1 << 16); }

Heads check_attention(const Tensor& qkv, int64_t n_head) {
    check_contiguous("attention", "qkv", qkv);
    if (qkv.ndim() != 3 || qkv.shape[2] % 3 != 0)
        fail("attention", "qkv must be (B, T, 3C), got " + qkv.shape.str());
    const int64_t C = qkv.shape[2] / 3;
    if (n_head < 1 || C % n_head != 0)
        fail("attention", "C = " + std::to_string(C) + " is not a multiple of n_head " + std::to_string(n_head));
    const int64_t HS = C / n_head;
    return {qkv.shape[0], qkv.shape[1], C, n_head, HS, 1.0f / std::sqrt(static_cast<float>(HS))};
}

// Scratch tiles of one thread: its slice of one buffer that the calling
// thread sizes before the parallel loop, so no thread allocates inside it
// (and a steady-state step allocates nothing).
struct Scratch {
    float *s, *dp, *acc, *m, *l;  // (kBlock, kBlock) x 2, (kBlock, HS), (kBlock) x 2
};

int64_t scratch_floats(int64_t HS) { return 2 * kBlock * kBlock + kBlock * HS + 2 * kBlock; }

float* scratch_buffer(int64_t HS) {
    static std::vector<float> buffer;  // grows to the largest need, then stays
    const auto need = static_cast<size_t>(scratch_floats(HS) * omp_get_max_threads());
    if (buffer.size() < need) buffer.resize(need);
    return buffer.data();
}

Scratch scratch_of_this_thread(float* buffer, int64_t HS) {
    float* p = buffer + scratch_floats(HS) * omp_get_thread_num();
    float* acc = p + 2 * kBlock * kBlock;
    return Scratch{p, p + kBlock * kBlock, acc, acc + kBlock * HS, acc + kBlock * HS + kBlock};
}

// c (m, n; ldc) = alpha * op(a) @ op(b) + beta * c, row-major.
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
    sgemm_on_this_thread(ta, tb, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha, a,
                         static_cast<int>(lda), b, static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
}

// s (nq, nk; ld kBlock) = scale * q[i0..] k[j0..]^T, with -inf where the key
// comes after the query (j > i): only tiles on the diagonal have such entries.
void tile_scores(float* s, const float* q0, const float* k0, int64_t row, int64_t i0, int64_t nq,
                 int64_t j0, int64_t nk, int64_t HS, float scale) {
    gemm(false, true, nq, nk, HS, scale, q0 + i0 * row, row, k0 + j0 * row, row, 0.0f, s, kBlock);
    for (int64_t i = 0; i < nq; i++)
        for (int64_t jj = std::max<int64_t>(0, i0 + i - j0 + 1); jj < nk; jj++) s[i * kBlock + jj] = -INFINITY;
}

}  // namespace

void causal_attention_forward(const Tensor& out, const Tensor& lse, const Tensor& qkv, int64_t n_head) {
    const Heads h = check_attention(qkv, n_head);
    check_shape("attention", "output", out, Shape{h.B, h.T, h.C});
    check_contiguous("attention", "output", out);
    check_shape("attention", "lse", lse, Shape{h.B, h.NH, h.T});
    const int64_t row = 3 * h.C, HS = h.HS;  // (B, T, 3C): a token's q, k, v are 3C apart
    float* const scratch = scratch_buffer(HS);
    use_one_blas_thread();
    #pragma omp parallel for collapse(2) schedule(dynamic) if (worth_threads(h))
    for (int64_t b = 0; b < h.B; b++)
        for (int64_t hd = 0; hd < h.NH; hd++) {
            const Scratch sc = scratch_of_this_thread(scratch, HS);
            const float* q0 = qkv.data + b * h.T * row + hd * HS;
            const float* k0 = q0 + h.C;
            const float* v0 = q0 + 2 * h.C;
            float* o0 = out.data + b * h.T * h.C + hd * HS;  // (B, T, C)
            float* lse0 = lse.data + (b * h.NH + hd) * h.T;  // (B, NH, T)
            for (int64_t i0 = 0; i0 < h.T; i0 += kBlock) {
                const int64_t nq = std::min(kBlock, h.T - i0);
                std::fill(sc.m, sc.m + kBlock, -INFINITY);
                std::fill(sc.l, sc.l + kBlock, 0.0f);
                std::fill(sc.acc, sc.acc + kBlock * HS, 0.0f);
                for (int64_t j0 = 0; j0 < i0 + nq; j0 += kBlock) {  // only keys the block can see
                    const int64_t nk = std::min(kBlock, i0 + nq - j0);
                    tile_scores(sc.s, q0, k0, row, i0, nq, j0, nk, HS, h.scale);
                    for (int64_t i = 0; i < nq; i++) {
                        float* si = sc.s + i * kBlock;
                        float mx = sc.m[i];
                        #pragma omp simd reduction(max : mx)
                        for (int64_t jj = 0; jj < nk; jj++) mx = si[jj] > mx ? si[jj] : mx;
                        // Online softmax: what was summed under the old max is rescaled.
                        const float correction = fast_exp(sc.m[i] - mx);
                        float total = sc.l[i] * correction;
                        #pragma omp simd reduction(+ : total)
                        for (int64_t jj = 0; jj < nk; jj++) {
                            si[jj] = si[jj] == -INFINITY ? 0.0f : fast_exp(si[jj] - mx);  // a future key weighs exactly 0
                            total += si[jj];
                        }
                        float* acc = sc.acc + i * HS;
                        for (int64_t d = 0; d < HS; d++) acc[d] *= correction;
                        sc.m[i] = mx;
                        sc.l[i] = total;
                    }
                    // acc (nq, HS) += p (nq, nk) @ v[j0..] (nk, HS)
                    gemm(false, false, nq, HS, nk, 1.0f, sc.s, kBlock, v0 + j0 * row, row, 1.0f,
                         sc.acc, HS);
                }
                for (int64_t i = 0; i < nq; i++) {
                    const float inv = 1.0f / sc.l[i];
                    for (int64_t d = 0; d < HS; d++) o0[(i0 + i) * h.C + d] = sc.acc[i * HS + d] * inv;
                    lse0[i0 + i] = sc.m[i] + std::log(sc.l[i]);
                }
            }
        }
}

// With p_ij = exp(s_ij - lse_i) recomputed, and D_i = dout_i . out_i:
//   dv_j += sum_i p_ij dout_i
//   dp_ij = dout_i . v_j,   ds_ij = p_ij (dp_ij - D_i)
//   dq_i += scale sum_j ds_ij k_j,   dk_j += scale sum_i ds_ij q_i
// Each task writes only its own head's columns of dqkv: no two threads collide.
// It adds into dqkv; accumulate = false first zeroes the task's columns.
void causal_attention_backward(const Tensor& dqkv, const Tensor& dout, const Tensor& qkv, const Tensor& out,
                        const Tensor& lse, int64_t n_head, bool accumulate) {
    const Heads h = check_attention(qkv, n_head);
    check_shape("attention", "dqkv", dqkv, qkv.shape);
    check_contiguous("attention", "dqkv", dqkv);
    check_shape("attention", "dout", dout, Shape{h.B, h.T, h.C});
    check_contiguous("attention", "dout", dout);
    const int64_t row = 3 * h.C, HS = h.HS;
    float* const scratch = scratch_buffer(HS);
    use_one_blas_thread();
    #pragma omp parallel for collapse(2) schedule(dynamic) if (worth_threads(h))
    for (int64_t b = 0; b < h.B; b++)
        for (int64_t hd = 0; hd < h.NH; hd++) {
            const Scratch sc = scratch_of_this_thread(scratch, HS);
            const int64_t base = b * h.T * row + hd * HS;
            const float *q0 = qkv.data + base, *k0 = q0 + h.C, *v0 = q0 + 2 * h.C;
            float *dq0 = dqkv.data + base, *dk0 = dq0 + h.C, *dv0 = dq0 + 2 * h.C;
            const float* o0 = out.data + b * h.T * h.C + hd * HS;
            const float* g0 = dout.data + b * h.T * h.C + hd * HS;
            const float* lse0 = lse.data + (b * h.NH + hd) * h.T;
            if (!accumulate)  // a fresh dqkv: zero this head's columns here, where they stay in cache
                for (int64_t t = 0; t < h.T; t++)
                    for (float* d : {dq0, dk0, dv0}) std::fill(d + t * row, d + t * row + HS, 0.0f);
            for (int64_t i0 = 0; i0 < h.T; i0 += kBlock) {
                const int64_t nq = std::min(kBlock, h.T - i0);
                for (int64_t i = 0; i < nq; i++) {  // D_i, kept in m
                    float dot = 0.0f;
                    #pragma omp simd reduction(+ : dot)
                    for (int64_t d = 0; d < HS; d++) dot += g0[(i0 + i) * h.C + d] * o0[(i0 + i) * h.C + d];
                    sc.m[i] = dot;
                }
                for (int64_t j0 = 0; j0 < i0 + nq; j0 += kBlock) {
                    const int64_t nk = std::min(kBlock, i0 + nq - j0);
                    float *p = sc.s, *ds = sc.dp;
                    tile_scores(p, q0, k0, row, i0, nq, j0, nk, HS, h.scale);
                    // dp (nq, nk) = dout[i0..] (nq, HS) @ v[j0..]^T
                    gemm(false, true, nq, nk, HS, 1.0f, g0 + i0 * h.C, h.C, v0 + j0 * row, row, 0.0f, ds, kBlock);
                    for (int64_t i = 0; i < nq; i++) {
                        const float l = lse0[i0 + i], D = sc.m[i];
                        float *pi = p + i * kBlock, *dsi = ds + i * kBlock;
                        for (int64_t jj = 0; jj < nk; jj++) {
                            pi[jj] = pi[jj] == -INFINITY ? 0.0f : fast_exp(pi[jj] - l);
                            dsi[jj] = pi[jj] * (dsi[jj] - D) * h.scale;
                        }
                    }
                    // dq[i0..] += ds @ k[j0..];  dk[j0..] += ds^T @ q[i0..];  dv[j0..] += p^T @ dout[i0..]
                    gemm(false, false, nq, HS, nk, 1.0f, ds, kBlock, k0 + j0 * row, row, 1.0f, dq0 + i0 * row, row);
                    gemm(true, false, nk, HS, nq, 1.0f, ds, kBlock, q0 + i0 * row, row, 1.0f, dk0 + j0 * row, row);
                    gemm(true, false, nk, HS, nq, 1.0f, p, kBlock, g0 + i0 * h.C, h.C, 1.0f, dv0 + j0 * row, row);
                }
            }
        }
}

}  // namespace cg
