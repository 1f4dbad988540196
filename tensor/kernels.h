// The numeric kernels: plain functions over tensors, no autograd.
//
// Shape letters used throughout (defined once, here):
//   B batch, T time (sequence position), C channels (n_embd), V vocabulary,
//   NH heads, HS head size (C / NH), N rows (any flattening of leading dims),
//   M, K, Nc matrix dims of a product (M x K) @ (K x Nc).
//
// Conventions: `out` is written; every `d*` gradient argument of a *_backward
// kernel is *added into* (gradients accumulate), never overwritten. Inputs must
// be contiguous unless a kernel says otherwise. Loops over independent rows or
// (batch x channel) columns run in parallel with OpenMP.
#pragma once

#include <initializer_list>
#include <string>

#include "tensor/rng.h"
#include "tensor/tensor.h"

namespace cg {

// ---- matmul.cpp: products through cblas_sgemm ------------------------------
// (or gemm_bf16_on_this_thread below while the products' precision is
// bfloat16, tensor/autocast.h)
// out (..., M, Nc) = a (..., M, K) @ b (..., K, Nc) + beta * out.
// a and b may be transposed views (strides swapped in the last two dims): the
// transpose goes to BLAS as a flag, no copy is made. Up to two leading batch
// dims, equal in a and b; b may also be 2-D (K, Nc) and shared by every batch.
Shape matmul_shape(const Tensor& a, const Tensor& b);
void matmul(const Tensor& out, const Tensor& a, const Tensor& b, float beta = 0.0f);
// Independent products run together, their chunks of rows sharing the
// threads. Products that write the same buffer run one after the other
// instead, in order.
struct Product {
    const Tensor& out;
    const Tensor& a;
    const Tensor& b;
    float beta = 0.0f;
    const uint16_t* b_bf16 = nullptr;  // b's bf16 copy, laid out as b (a weight's, tensor/autocast.h)
};
// Not reentrant (one list of products, reused): call from one thread, outside
// parallel regions; inside one, use sgemm_on_this_thread.
void matmuls(std::initializer_list<Product> products);
// A linear layer's backward products: dx (N, in) = dy (N, out) @ w (out, in)
// + dx_beta dx, and dw (out, in) = dy^T @ x (N, in) + dw_beta dw, all 2-D and
// contiguous. Split by rows of dy and x, as every kernel splits its rows, so
// each thread reads the rows it wrote before; dw is the sum of the chunks'
// shares, added in chunk order. Not reentrant (one scratch for the shares).
// Under bfloat16 (tensor/autocast.h) dx's product reads w_bf16, w's copy, when given.
void linear_backward_products(const Tensor& dx, float dx_beta, const Tensor& dw, float dw_beta, const Tensor& dy,
                              const Tensor& x, const Tensor& w, const uint16_t* w_bf16 = nullptr);
// One row-major cblas_sgemm, c (m, n) = alpha op(a) op(b) + beta c, run on the
// calling thread alone (OpenBLAS would thread a call made outside a parallel region).
void sgemm_on_this_thread(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda,
                          const float* b, int ldb, float beta, float* c, int ldc);

// ---- matmul_bf16.cpp: products on bf16 operands, fp32 sums (AVX512_BF16) ----
// One row-major matrix operand of gemm_bf16_on_this_thread, ld in elements:
// fp32 (activations, gradients: rounded to bf16 as the product packs them, no
// pass of its own) or bf16 already (weights, converted once with
// floats_to_bf16 of tensor/bf16.h).
struct GemmOperand {
    const float* fp32 = nullptr;
    const uint16_t* bf16 = nullptr;
    int64_t ld = 0;
};
inline GemmOperand fp32_operand(const float* data, int64_t ld) { return {data, nullptr, ld}; }
inline GemmOperand bf16_operand(const uint16_t* data, int64_t ld) { return {nullptr, data, ld}; }
// c (m, n; ldc) = alpha op(a) op(b) + beta c, row-major, as sgemm_on_this_thread:
// op(a) (m, k) is a (m, k) or, ta, a (k, m) transposed; op(b) (k, n) likewise.
// The products of bf16 values are summed in fp32 (vdpbf16ps, which takes
// subnormal inputs as 0) and written as fp32; beta = 0 overwrites c, which
// may hold anything (NaN included). Each element's sum runs over k in an
// order fixed by k alone, so a row's result does not depend on the other rows
// computed with it (split rows among threads freely). Runs on the calling
// thread; packing buffers are per thread, grown to the largest shape, then
// kept. Needs cpu_has_avx512_bf16() (tensor/bf16.h); throws [gemm_bf16]
// naming the missing feature otherwise.
void gemm_bf16_on_this_thread(bool ta, bool tb, int m, int n, int k, float alpha, const GemmOperand& a,
                              const GemmOperand& b, float beta, float* c, int ldc);

// ---- elementwise.cpp -------------------------------------------------------
// Binary ops take b either of a's shape or of a's trailing dims (a bias of
// shape (C) against (B, T, C)): b is then reused for every leading index.
void add_forward(const Tensor& out, const Tensor& a, const Tensor& b);
void sub_forward(const Tensor& out, const Tensor& a, const Tensor& b);
void mul_forward(const Tensor& out, const Tensor& a, const Tensor& b);
void div_forward(const Tensor& out, const Tensor& a, const Tensor& b);
void scale_forward(const Tensor& out, const Tensor& x, float c);
void add_scalar_forward(const Tensor& out, const Tensor& x, float c);  // out = x + c
// db (trailing shape) += dy summed over the leading dims; times `sign`.
void broadcast_sum_backward(const Tensor& db, const Tensor& dy, float sign);
// da += dy * b, with b broadcast as in mul_forward.
void mul_backward_a(const Tensor& da, const Tensor& dy, const Tensor& b);
// db += dy * a, summed over the leading dims when b is broadcast.
void mul_backward_b(const Tensor& db, const Tensor& dy, const Tensor& a);
// da += dy / b, with b broadcast as in div_forward.
void div_backward_a(const Tensor& da, const Tensor& dy, const Tensor& b);
// db += -dy * a / b^2, summed over the leading dims when b is broadcast.
void div_backward_b(const Tensor& db, const Tensor& dy, const Tensor& a, const Tensor& b);
void scale_backward(const Tensor& dx, const Tensor& dy, float c);
// Element-wise max/min of two same-shape tensors; the gradient goes to the
// chosen element, and a tie goes to a (the first argument).
void maximum_forward(const Tensor& out, const Tensor& a, const Tensor& b);
void minimum_forward(const Tensor& out, const Tensor& a, const Tensor& b);
void maximum_backward(const Tensor& da, const Tensor& db, const Tensor& a, const Tensor& b,
                      const Tensor& dy);
void minimum_backward(const Tensor& da, const Tensor& db, const Tensor& a, const Tensor& b,
                      const Tensor& dy);
// Select by a mask of the same shape: out = mask != 0 ? a : b; and back,
// da += dy where the mask is set, db += dy elsewhere (either may be undefined).
void where_forward(const Tensor& out, const Tensor& mask, const Tensor& a, const Tensor& b);
void where_backward(const Tensor& da, const Tensor& db, const Tensor& mask, const Tensor& dy);

// Dropout: mask holds 0 or 1/(1-p) per element, drawn from rng (which advances).
void dropout_mask(const Tensor& mask, float p, Rng& rng);

// ---- reduce.cpp ------------------------------------------------------------
double sum_all(const Tensor& x);  // accumulated in double
void add_constant(const Tensor& dx, float c);  // dx += c everywhere
// Along the last dim: out (..., 1) = sum_i x (..., i); and back, the two adjoint.
void row_sum_forward(const Tensor& out, const Tensor& x);
void row_sum_backward(const Tensor& dx, const Tensor& dy);      // dx (..., C) += dy (..., 1)
void expand_last_forward(const Tensor& out, const Tensor& x);   // out (..., C) = x (..., 1)
void expand_last_backward(const Tensor& dx, const Tensor& dy);  // dx (..., 1) += sum_i dy (..., i)

// ---- layer_norm.cpp ---------------------------------------------------------
// x (N, C) -> out (N, C); weight (C); bias (C) or undefined; saves mean, rstd (N).
void layer_norm_forward(const Tensor& out, const Tensor& mean, const Tensor& rstd,
                       const Tensor& x, const Tensor& weight, const Tensor& bias,
                       float eps = 1e-5f);
// Adds into dx, dweight, dbias; dbias may be undefined when there is no bias.
// dx_accumulate = false writes dx instead (a fresh buffer).
void layer_norm_backward(const Tensor& dx, const Tensor& dweight, const Tensor& dbias,
                        const Tensor& dy, const Tensor& x, const Tensor& weight,
                        const Tensor& mean, const Tensor& rstd, bool dx_accumulate = true);

// ---- softmax.cpp -----------------------------------------------------------
// scores (..., T, T) -> probs: row i is softmax(scale * scores[i, 0..i]) and 0
// beyond i (the causal mask: a query never sees later keys).
void causal_softmax_forward(const Tensor& probs, const Tensor& scores, float scale);
void causal_softmax_backward(const Tensor& dscores, const Tensor& probs, const Tensor& dprobs,
                             float scale);

// Cross-entropy from logits (N, V) and targets (N ints in [0, V)); returns the
// mean over rows of -log softmax(logits)[target]; saves lse (N), log-sum-exp.
float cross_entropy_forward(const Tensor& lse, const Tensor& logits, const int* targets);
// dlogits += dloss / N * (softmax(logits) - onehot(target)); accumulate =
// false writes it over dlogits instead
void cross_entropy_backward(const Tensor& dlogits, const Tensor& logits, const Tensor& lse,
                            const int* targets, float dloss, bool accumulate = true);

// ---- attention.cpp: fused causal self-attention, flash-attention style ----
// qkv (B, T, 3C) = q | k | v, NH heads of HS = C / NH -> out (B, T, C):
// out_i = sum_{j <= i} softmax_j(q_i . k_j / sqrt(HS)) v_j per head, without
// storing the T x T scores; saves lse (B, NH, T), each query's log-sum-exp.
void causal_attention_forward(const Tensor& out, const Tensor& lse, const Tensor& qkv, int64_t n_head);
// dqkv (B, T, 3C) += the gradient, the probabilities recomputed from lse;
// accumulate = false writes it over dqkv instead.
void causal_attention_backward(const Tensor& dqkv, const Tensor& dout, const Tensor& qkv, const Tensor& out,
                        const Tensor& lse, int64_t n_head, bool accumulate = true);
// Only the sgemm calls of one forward and backward above (for bench's bound),
// writing into dqkv (B, T, 3C) and reading dout (B, T, C), whatever they hold.
void causal_attention_products(const Tensor& qkv, int64_t n_head, const Tensor& dqkv, const Tensor& dout);

// ---- embedding.cpp ---------------------------------------------------------
// out (N, C) = table[ids] with table (V, C) and N ids in [0, V).
void embedding_forward(const Tensor& out, const Tensor& table, const int* ids);
// dtable[ids[n]] += dy[n] (scatter-add; parallel over channels, no races).
void embedding_backward(const Tensor& dtable, const Tensor& dy, const int* ids);

// ---- scan.cpp: the sequence ops along T of a (B, T, C) tensor ---------------
// Every kernel runs in parallel over (B x channel blocks); t=0 sees only itself.
// Max/min tie rule: the gradient goes to the most recent of the tied elements.
void shift_forward(const Tensor& out, const Tensor& x);       // y[t] = x[t-1], y[0] = x[0]
void shift_backward(const Tensor& dx, const Tensor& dy);
void pair_max_forward(const Tensor& out, const Tensor& x);    // y[t] = max(x[t], x[t-1])
void pair_min_forward(const Tensor& out, const Tensor& x);    // y[t] = min(x[t], x[t-1])
// dx += the gradient; accumulate = false writes it over dx instead (a fresh dx)
void pair_max_backward(const Tensor& dx, const Tensor& x, const Tensor& dy, bool accumulate = true);
void pair_min_backward(const Tensor& dx, const Tensor& x, const Tensor& dy, bool accumulate = true);
void pair_mean_forward(const Tensor& out, const Tensor& x);   // y[t] = (x[t] + x[t-1]) / 2
void pair_mean_backward(const Tensor& dx, const Tensor& dy);
void scan_max_forward(const Tensor& out, const Tensor& x);    // y[t] = max(x[t], y[t-1])
void scan_min_forward(const Tensor& out, const Tensor& x);    // y[t] = min(x[t], y[t-1])
void scan_max_backward(const Tensor& dx, const Tensor& x, const Tensor& y, const Tensor& dy);
void scan_min_backward(const Tensor& dx, const Tensor& x, const Tensor& y, const Tensor& dy);
void avg_forward(const Tensor& out, const Tensor& x); // y[t] = mean(x[0..t])
void avg_backward(const Tensor& dx, const Tensor& dy);
// y[t] = mean(x[0..T-1]) for every t: sees the future (reproduces published code only).
void gavg_forward(const Tensor& out, const Tensor& x);
void gavg_backward(const Tensor& dx, const Tensor& dy);
// y[t] = a * y[t-1] + x[t], y[0] = x[0], a (C) one decay per channel: the
// first-order linear recurrence (running sums, moving averages).
void linear_scan_forward(const Tensor& out, const Tensor& x, const Tensor& a);
// dx (or undefined) += ..., da (C, or undefined) += ...; da_rows (B, C) is scratch.
void linear_scan_backward(const Tensor& dx, const Tensor& da, const Tensor& da_rows, const Tensor& y,
                          const Tensor& a, const Tensor& dy);

// ---- blas_info.cpp ---------------------------------------------------------
std::string blas_core_name();  // the kernel family OpenBLAS chose, e.g. "Haswell"
int blas_num_threads();
int omp_threads();
// OpenBLAS on one thread (once per process): matmul splits the work itself.
void use_one_blas_thread();

}  // namespace cg
