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
#include <cstring>
#include <vector>

#include "tensor/autocast.h"
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
    float *kt, *vt;               // the head's k and v transposed: (HS, T) each
};

int64_t scratch_floats(const Heads& h) { return 2 * kBlock * kBlock + kBlock * h.HS + 2 * kBlock + 2 * h.HS * h.T; }

float* scratch_buffer(const Heads& h) {
    static std::vector<float> buffer;  // grows to the largest need, then stays
    const auto need = static_cast<size_t>(scratch_floats(h) * omp_get_max_threads());
    if (buffer.size() < need) buffer.resize(need);
    return buffer.data();
}

Scratch scratch_of_this_thread(float* buffer, const Heads& h) {
    float* p = buffer + scratch_floats(h) * omp_get_thread_num();
    float* acc = p + 2 * kBlock * kBlock;
    float* m = acc + kBlock * h.HS;
    float* kt = m + 2 * kBlock;
    return Scratch{p, p + kBlock * kBlock, acc, m, m + kBlock, kt, kt + h.HS * h.T};
}

// xt (HS, T) = x (T, HS; row stride `row`)^T, so that the score products are
// plain ones: OpenBLAS's transposed-B path runs these small shapes at half the
// speed with SkylakeX kernels. Blocks of 8 tokens by 8 dims go through eight
// vector registers: loaded as rows, interleaved in three rounds (pairs of
// floats, pairs of pairs, halves), stored as columns: several times faster
// than element by element (docs/performance.md).
#if defined(__aarch64__)
// NEON registers hold 4 floats: GCC splits 8-float vectors and their shuffles
// into single floats moved through the stack, so ARM takes the 8 x 8 block as
// four 4 x 4 ones, each loaded as rows and interleaved in two rounds (zip, then
// pairs of pairs).
using Floats4 = float __attribute__((vector_size(16)));

// xt (4 dims, row stride T) = x (4 tokens, row stride `row`)^T
void transpose_4x4(float* xt, const float* x, int64_t row, int64_t T) {
    Floats4 r[4];
    #pragma GCC unroll 4
    for (int t = 0; t < 4; t++) std::memcpy(&r[t], x + t * row, sizeof(Floats4));
    const Floats4 a0 = __builtin_shufflevector(r[0], r[1], 0, 4, 1, 5);  // x00 x10 x01 x11
    const Floats4 a1 = __builtin_shufflevector(r[0], r[1], 2, 6, 3, 7);  // x02 x12 x03 x13
    const Floats4 a2 = __builtin_shufflevector(r[2], r[3], 0, 4, 1, 5);  // x20 x30 x21 x31
    const Floats4 a3 = __builtin_shufflevector(r[2], r[3], 2, 6, 3, 7);  // x22 x32 x23 x33
    const Floats4 col[4] = {__builtin_shufflevector(a0, a2, 0, 1, 4, 5), __builtin_shufflevector(a0, a2, 2, 3, 6, 7),
                            __builtin_shufflevector(a1, a3, 0, 1, 4, 5), __builtin_shufflevector(a1, a3, 2, 3, 6, 7)};
    #pragma GCC unroll 4
    for (int d = 0; d < 4; d++) std::memcpy(xt + d * T, &col[d], sizeof(Floats4));
}

// xt (8 dims, row stride T) = x (8 tokens, row stride `row`)^T
void transpose_8x8(float* xt, const float* x, int64_t row, int64_t T) {
    for (int t0 = 0; t0 < 8; t0 += 4)
        for (int d0 = 0; d0 < 8; d0 += 4) transpose_4x4(xt + d0 * T + t0, x + t0 * row + d0, row, T);
}
#else
using Floats8 = float __attribute__((vector_size(32)));

// xt (8 dims, row stride T) = x (8 tokens, row stride `row`)^T
void transpose_8x8(float* xt, const float* x, int64_t row, int64_t T) {
    Floats8 r[8], a[8], b[8];
    // Unrolled, the rows load straight into registers. As a loop, a
    // -march=haswell build copied them through the stack in 16-byte halves
    // and read them back whole, a stalled store-to-load forward per row.
    #pragma GCC unroll 8
    for (int t = 0; t < 8; t++) std::memcpy(&r[t], x + t * row, sizeof(Floats8));
    for (int i = 0; i < 8; i += 2) {  // rows t, t+1 -> (t0 t1 interleaved), low and high pairs
        a[i] = __builtin_shufflevector(r[i], r[i + 1], 0, 8, 1, 9, 4, 12, 5, 13);
        a[i + 1] = __builtin_shufflevector(r[i], r[i + 1], 2, 10, 3, 11, 6, 14, 7, 15);
    }
    for (int i = 0; i < 8; i += 4)
        for (int j = 0; j < 2; j++) {
            b[i + j] = __builtin_shufflevector(a[i + j], a[i + j + 2], 0, 1, 8, 9, 4, 5, 12, 13);
            b[i + j + 2] = __builtin_shufflevector(a[i + j], a[i + j + 2], 2, 3, 10, 11, 6, 7, 14, 15);
        }
    const int dim[4] = {0, 2, 1, 3};  // which dim b[i] holds in its low half
    for (int i = 0; i < 4; i++) {
        const Floats8 low = __builtin_shufflevector(b[i], b[i + 4], 0, 1, 2, 3, 8, 9, 10, 11);
        const Floats8 high = __builtin_shufflevector(b[i], b[i + 4], 4, 5, 6, 7, 12, 13, 14, 15);
        std::memcpy(xt + dim[i] * T, &low, sizeof(Floats8));
        std::memcpy(xt + (dim[i] + 4) * T, &high, sizeof(Floats8));
    }
}
#endif

void transpose_head(float* xt, const float* x, int64_t row, int64_t T, int64_t HS) {
    int64_t t0 = 0;
    for (; t0 + 8 <= T; t0 += 8) {
        int64_t d0 = 0;
        for (; d0 + 8 <= HS; d0 += 8) transpose_8x8(xt + d0 * T + t0, x + t0 * row + d0, row, T);
        for (; d0 < HS; d0++)
            for (int64_t t = 0; t < 8; t++) xt[d0 * T + t0 + t] = x[(t0 + t) * row + d0];
    }
    for (; t0 < T; t0++)
        for (int64_t d = 0; d < HS; d++) xt[d * T + t0] = x[t0 * row + d];
}

// The backward asks for the next sequence's rows of qkv, dqkv and out while
// it computes this one's: in a training step it finds them far out of cache,
// written long before in the forward, and its strided reads of one head's
// columns are a pattern the hardware prefetchers do not follow (the gain, and
// the small loss when everything is warm: docs/performance.md).
// Only when they fit in a quarter of a typical L2: larger ones would evict
// the rows in use.
constexpr int64_t kPrefetchFloats = 1 << 16;

void prefetch_rows(const float* p, int64_t rows, int64_t row, bool for_writing) {
    for (int64_t t = 0; t < rows; t++)
        for (int64_t c = 0; c < row; c += 16) {  // a 64-byte line at a time
            if (for_writing) __builtin_prefetch(p + t * row + c, 1);
            else __builtin_prefetch(p + t * row + c, 0);
        }
}

// c (m, n; ldc) = alpha * op(a) @ op(b) + beta * c, row-major; with bf16
// operands (rounded as they are packed) under bfloat16 (tensor/autocast.h).
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
    if (product_dtype() == Dtype::bfloat16)
        gemm_bf16_on_this_thread(ta, tb, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha,
                                 fp32_operand(a, lda), fp32_operand(b, ldb), beta, c, static_cast<int>(ldc));
    else
        sgemm_on_this_thread(ta, tb, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha, a,
                             static_cast<int>(lda), b, static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
}

// s (nq, nk; ld kBlock) = scale * q[i0..] k[j0..]^T, from kt = k^T (HS, T), with
// -inf where the key comes after the query (j > i): only tiles on the
// diagonal have such entries.
void tile_scores(float* s, const float* q0, const float* kt, int64_t row, int64_t T, int64_t i0, int64_t nq,
                 int64_t j0, int64_t nk, int64_t HS, float scale) {
    gemm(false, false, nq, nk, HS, scale, q0 + i0 * row, row, kt + j0, T, 0.0f, s, kBlock);
    for (int64_t i = 0; i < nq; i++)
        for (int64_t jj = std::max<int64_t>(0, i0 + i - j0 + 1); jj < nk; jj++) s[i * kBlock + jj] = -INFINITY;
}

// The backward's operands: dqkv shaped as qkv, dout (B, T, C).
Heads check_gradients(const Tensor& dqkv, const Tensor& dout, const Tensor& qkv, int64_t n_head) {
    const Heads h = check_attention(qkv, n_head);
    check_shape("attention", "dqkv", dqkv, qkv.shape);
    check_contiguous("attention", "dqkv", dqkv);
    check_shape("attention", "dout", dout, Shape{h.B, h.T, h.C});
    check_contiguous("attention", "dout", dout);
    return h;
}

// Rows r0..r1-1 of a query block, and how many keys of the current tile they see.
struct Rows {
    int64_t r0, r1, nk;
};

// A tile on the diagonal goes in two halves of queries: the first half sees
// only the first half of the keys, so the quarter of the tile that is all
// future keys is never computed (a quarter fewer FLOPs on the diagonal, which
// at T = 64 is the whole matrix). Other tiles go whole. The part that sees
// every key of the tile comes first, so the backward's first write to a
// block of dk and dv covers all of it.
int split_rows(Rows parts[2], int64_t i0, int64_t nq, int64_t j0, int64_t nk) {
    if (j0 + nk <= i0 + 1 || nq < 2) {  // every key is at or before the first query
        parts[0] = {0, nq, nk};
        return 1;
    }
    const int64_t half = nq / 2;
    parts[0] = {half, nq, nk};
    parts[1] = {0, half, std::min(nk, i0 + half - j0)};
    return 2;
}

// Calls visit(j0, part, rows) for every key tile the query block [i0, i0 + nq)
// can see, in order, and each part of it (split_rows).
template <typename Visit>
void for_each_tile_part(int64_t i0, int64_t nq, Visit visit) {
    for (int64_t j0 = 0; j0 < i0 + nq; j0 += kBlock) {
        Rows parts[2];
        for (int part = 0, n = split_rows(parts, i0, nq, j0, std::min(kBlock, i0 + nq - j0)); part < n; part++)
            visit(j0, part, parts[part]);
    }
}

// sgemm's beta for the backward's products into dq and into dk, dv: 0 for the
// first write to a block when dqkv is fresh. Rows of dq first meet the key
// tile j0 = 0; a block of keys first meets the query block on its diagonal,
// whose first part sees all of its keys.
struct BackwardBetas {
    float dq, dkv;
};
BackwardBetas backward_betas(bool accumulate, int64_t i0, int64_t j0, int part) {
    return {accumulate || j0 > 0 ? 1.0f : 0.0f, accumulate || i0 > j0 || part > 0 ? 1.0f : 0.0f};
}

}  // namespace

void causal_attention_forward(const Tensor& out, const Tensor& lse, const Tensor& qkv, int64_t n_head) {
    const Heads h = check_attention(qkv, n_head);
    check_shape("attention", "output", out, Shape{h.B, h.T, h.C});
    check_contiguous("attention", "output", out);
    check_shape("attention", "lse", lse, Shape{h.B, h.NH, h.T});
    const int64_t row = 3 * h.C, HS = h.HS;  // (B, T, 3C): a token's q, k, v are 3C apart
    float* const scratch = scratch_buffer(h);
    use_one_blas_thread();
    // Static: each thread takes the sequences whose rows it wrote in the qkv
    // product before (matmul splits by rows), so they are in its cache
    // (dynamic tasks were slower: docs/performance.md).
    #pragma omp parallel for collapse(2) schedule(static) if (worth_threads(h))
    for (int64_t b = 0; b < h.B; b++)
        for (int64_t hd = 0; hd < h.NH; hd++) {
            const Scratch sc = scratch_of_this_thread(scratch, h);
            const float* q0 = qkv.data + b * h.T * row + hd * HS;
            const float* k0 = q0 + h.C;
            const float* v0 = q0 + 2 * h.C;
            float* o0 = out.data + b * h.T * h.C + hd * HS;  // (B, T, C)
            float* lse0 = lse.data + (b * h.NH + hd) * h.T;  // (B, NH, T)
            transpose_head(sc.kt, k0, row, h.T, HS);
            for (int64_t i0 = 0; i0 < h.T; i0 += kBlock) {
                const int64_t nq = std::min(kBlock, h.T - i0);
                std::fill(sc.m, sc.m + kBlock, -INFINITY);
                std::fill(sc.l, sc.l + kBlock, 0.0f);
                std::fill(sc.acc, sc.acc + kBlock * HS, 0.0f);
                for_each_tile_part(i0, nq, [&](int64_t j0, int, const Rows& r) {
                    const int64_t r0 = r.r0, r1 = r.r1, nkr = r.nk;
                    tile_scores(sc.s + r0 * kBlock, q0, sc.kt, row, h.T, i0 + r0, r1 - r0, j0, nkr, HS, h.scale);
                    for (int64_t i = r0; i < r1; i++) {
                        float* si = sc.s + i * kBlock;
                        float mx = sc.m[i];
                        #pragma omp simd reduction(max : mx)
                        for (int64_t jj = 0; jj < nkr; jj++) mx = si[jj] > mx ? si[jj] : mx;
                        // Online softmax: what was summed under the old max is rescaled.
                        const float correction = fast_exp(sc.m[i] - mx);
                        float total = sc.l[i] * correction;
                        #pragma omp simd reduction(+ : total)
                        for (int64_t jj = 0; jj < nkr; jj++) {
                            si[jj] = si[jj] == -INFINITY ? 0.0f : fast_exp(si[jj] - mx);  // a future key weighs exactly 0
                            total += si[jj];
                        }
                        float* acc = sc.acc + i * HS;
                        for (int64_t d = 0; d < HS; d++) acc[d] *= correction;
                        sc.m[i] = mx;
                        sc.l[i] = total;
                    }
                    // acc (rows, HS) += p (rows, nkr) @ v[j0..] (nkr, HS)
                    gemm(false, false, r1 - r0, HS, nkr, 1.0f, sc.s + r0 * kBlock, kBlock, v0 + j0 * row, row,
                         1.0f, sc.acc + r0 * HS, HS);
                });
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
// It adds into dqkv; with accumulate = false the first product into each
// block of dq, dk and dv writes it instead (backward_betas).
void causal_attention_backward(const Tensor& dqkv, const Tensor& dout, const Tensor& qkv, const Tensor& out,
                        const Tensor& lse, int64_t n_head, bool accumulate) {
    const Heads h = check_gradients(dqkv, dout, qkv, n_head);
    const int64_t row = 3 * h.C, HS = h.HS;
    float* const scratch = scratch_buffer(h);
    use_one_blas_thread();
    #pragma omp parallel for collapse(2) schedule(static) if (worth_threads(h))
    for (int64_t b = 0; b < h.B; b++)
        for (int64_t hd = 0; hd < h.NH; hd++) {
            const Scratch sc = scratch_of_this_thread(scratch, h);
            const int64_t base = b * h.T * row + hd * HS;
            const float *q0 = qkv.data + base, *k0 = q0 + h.C, *v0 = q0 + 2 * h.C;
            float *dq0 = dqkv.data + base, *dk0 = dq0 + h.C, *dv0 = dq0 + 2 * h.C;
            const float* o0 = out.data + b * h.T * h.C + hd * HS;
            const float* g0 = dout.data + b * h.T * h.C + hd * HS;
            const float* lse0 = lse.data + (b * h.NH + hd) * h.T;
            if (hd == 0 && b + 1 < h.B && h.T * (2 * row + h.C) <= kPrefetchFloats) {
                prefetch_rows(qkv.data + (b + 1) * h.T * row, h.T, row, false);  // (B, T, 3C)
                prefetch_rows(dqkv.data + (b + 1) * h.T * row, h.T, row, true);
                prefetch_rows(out.data + (b + 1) * h.T * h.C, h.T, h.C, false);  // (B, T, C)
            }
            transpose_head(sc.kt, k0, row, h.T, HS);
            transpose_head(sc.vt, v0, row, h.T, HS);
            for (int64_t i0 = 0; i0 < h.T; i0 += kBlock) {
                const int64_t nq = std::min(kBlock, h.T - i0);
                for (int64_t i = 0; i < nq; i++) {  // D_i, kept in m
                    float dot = 0.0f;
                    #pragma omp simd reduction(+ : dot)
                    for (int64_t d = 0; d < HS; d++) dot += g0[(i0 + i) * h.C + d] * o0[(i0 + i) * h.C + d];
                    sc.m[i] = dot;
                }
                for_each_tile_part(i0, nq, [&](int64_t j0, int part, const Rows& r) {
                    const int64_t r0 = r.r0, rows = r.r1 - r.r0, nkr = r.nk;
                    const float* qi = q0 + (i0 + r0) * row;     // (rows, HS), row stride 3C
                    const float* gi = g0 + (i0 + r0) * h.C;     // (rows, HS), row stride C
                    float *p = sc.s + r0 * kBlock, *ds = sc.dp + r0 * kBlock;
                    tile_scores(p, q0, sc.kt, row, h.T, i0 + r0, rows, j0, nkr, HS, h.scale);
                    // dp (rows, nkr) = dout (rows, HS) @ v[j0..]^T
                    gemm(false, false, rows, nkr, HS, 1.0f, gi, h.C, sc.vt + j0, h.T, 0.0f, ds, kBlock);
                    for (int64_t i = 0; i < rows; i++) {
                        const float l = lse0[i0 + r0 + i], D = sc.m[r0 + i];
                        float *pi = p + i * kBlock, *dsi = ds + i * kBlock;
                        for (int64_t jj = 0; jj < nkr; jj++) {
                            pi[jj] = pi[jj] == -INFINITY ? 0.0f : fast_exp(pi[jj] - l);
                            dsi[jj] = pi[jj] * (dsi[jj] - D) * h.scale;
                        }
                    }
                    // dq += ds @ k[j0..];  dk[j0..] += ds^T @ q;  dv[j0..] += p^T @ dout
                    const BackwardBetas beta = backward_betas(accumulate, i0, j0, part);
                    gemm(false, false, rows, HS, nkr, 1.0f, ds, kBlock, k0 + j0 * row, row, beta.dq,
                         dq0 + (i0 + r0) * row, row);
                    gemm(true, false, nkr, HS, rows, 1.0f, ds, kBlock, qi, row, beta.dkv, dk0 + j0 * row, row);
                    gemm(true, false, nkr, HS, rows, 1.0f, p, kBlock, gi, h.C, beta.dkv, dv0 + j0 * row, row);
                });
            }
        }
}

// The sgemm calls of one forward and one backward, with the shapes, operands'
// strides, betas and thread split of the two kernels above, and nothing
// between them: bench times this for the part of a step's time that no
// change outside sgemm can remove. dqkv (B, T, 3C) and dout (B, T, C) are
// the caller's buffers, any values.
void causal_attention_products(const Tensor& qkv, int64_t n_head, const Tensor& dqkv, const Tensor& dout) {
    const Heads h = check_gradients(dqkv, dout, qkv, n_head);
    const int64_t row = 3 * h.C, HS = h.HS;
    float* const scratch = scratch_buffer(h);
    use_one_blas_thread();
    #pragma omp parallel for collapse(2) schedule(static) if (worth_threads(h))
    for (int64_t b = 0; b < h.B; b++)
        for (int64_t hd = 0; hd < h.NH; hd++) {
            const Scratch sc = scratch_of_this_thread(scratch, h);
            const int64_t base = b * h.T * row + hd * HS;
            const float* q0 = qkv.data + base;
            float* dq0 = dqkv.data + base;
            const float* g0 = dout.data + b * h.T * h.C + hd * HS;
            for (int64_t i0 = 0; i0 < h.T; i0 += kBlock)
                for_each_tile_part(i0, std::min(kBlock, h.T - i0), [&](int64_t j0, int part, const Rows& r) {
                    const int64_t r0 = r.r0, rows = r.r1 - r.r0, nkr = r.nk;
                    const float* qi = q0 + (i0 + r0) * row;
                    const float* gi = g0 + (i0 + r0) * h.C;
                    float *p = sc.s + r0 * kBlock, *ds = sc.dp + r0 * kBlock, *acc = sc.acc + r0 * HS;
                    // forward: scores, p @ v
                    gemm(false, false, rows, nkr, HS, 1.0f, qi, row, sc.kt + j0, h.T, 0.0f, p, kBlock);
                    gemm(false, false, rows, HS, nkr, 1.0f, p, kBlock, q0 + 2 * h.C + j0 * row, row, 1.0f, acc, HS);
                    // backward: scores again, dp, dq, dk, dv
                    gemm(false, false, rows, nkr, HS, 1.0f, qi, row, sc.kt + j0, h.T, 0.0f, p, kBlock);
                    gemm(false, false, rows, nkr, HS, 1.0f, gi, h.C, sc.vt + j0, h.T, 0.0f, ds, kBlock);
                    const BackwardBetas beta = backward_betas(false, i0, j0, part);
                    gemm(false, false, rows, HS, nkr, 1.0f, ds, kBlock, q0 + h.C + j0 * row, row, beta.dq,
                         dq0 + (i0 + r0) * row, row);
                    gemm(true, false, nkr, HS, rows, 1.0f, ds, kBlock, qi, row, beta.dkv, dq0 + h.C + j0 * row, row);
                    gemm(true, false, nkr, HS, rows, 1.0f, p, kBlock, gi, h.C, beta.dkv, dq0 + 2 * h.C + j0 * row,
                         row);
                });
        }
}

}  // namespace cg
