// Matrix products through cblas_sgemm, with transposed views passed to BLAS
// as flags instead of being copied.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <vector>

#include "tensor/autocast.h"
#include "tensor/chunks.h"
#include "tensor/kernels.h"
#include "tensor/thread_governor.h"

namespace cg {

// OpenBLAS's OpenMP build runs a call made outside a parallel region on
// omp_get_max_threads() threads, whatever openblas_set_num_threads said
// before: a product we meant for one thread would be split by OpenBLAS, and
// split differently on 1 and 2 threads (different sums with the Haswell
// kernels). So OpenMP's count is 1 for the length of such a call.
void sgemm_on_this_thread(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda,
                          const float* b, int ldb, float beta, float* c, int ldc) {
    const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (threads > 1) omp_set_num_threads(1);
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a,
                lda, b, ldb, beta, c, ldc);
    if (threads > 1) omp_set_num_threads(threads);
}

namespace {

// How BLAS should read the last two dims of a tensor (rows x cols) in place.
struct MatrixArg {
    CBLAS_TRANSPOSE trans;
    int ld;
};

// A row-major matrix with unit column stride is read as is (NoTrans, ld = row
// stride); one with unit row stride is the transpose of a row-major matrix
// (Trans, ld = column stride). Anything else needs a copy.
bool describe(const Tensor& t, MatrixArg& arg) {
    const int64_t rows = t.shape[-2], cols = t.shape[-1];
    const int64_t sr = t.strides[t.ndim() - 2], sc = t.strides[t.ndim() - 1];
    if (cols == 1 || sc == 1) {
        int64_t ld = rows == 1 ? std::max<int64_t>(cols, 1) : sr;
        if (ld >= std::max<int64_t>(cols, 1)) {
            arg = {CblasNoTrans, static_cast<int>(ld)};
            return true;
        }
    }
    if (rows == 1 || sr == 1) {
        int64_t ld = cols == 1 ? std::max<int64_t>(rows, 1) : sc;
        if (ld >= std::max<int64_t>(rows, 1)) {
            arg = {CblasTrans, static_cast<int>(ld)};
            return true;
        }
    }
    return false;
}

std::string pair_str(const Tensor& a, const Tensor& b) { return a.shape.str() + " x " + b.shape.str(); }

// One row-major product c (M, N) = op(a) @ op(b) + beta * c; in bf16 when
// the products' precision was bfloat16 as it was made, reading b from b_bf16
// (b's bf16 copy, laid out as b) when there is one.
struct Gemm {
    MatrixArg a_arg, b_arg;
    int M, N, K;
    const float* a;
    const float* b;
    float* c;
    float beta;
    bool bf16 = false;
    const uint16_t* b_bf16 = nullptr;
};

// Rows [m0, m1) of the product: a's rows start m0 rows (or, transposed,
// m0 columns) in, c's m0 rows in.
void gemm_rows(const Gemm& g, int m0, int m1) {
    const float* a = g.a_arg.trans == CblasNoTrans ? g.a + static_cast<int64_t>(m0) * g.a_arg.ld : g.a + m0;
    const bool ta = g.a_arg.trans == CblasTrans, tb = g.b_arg.trans == CblasTrans;
    float* c = g.c + static_cast<int64_t>(m0) * g.N;
    if (g.bf16) {
        const GemmOperand b = g.b_bf16 ? bf16_operand(g.b_bf16, g.b_arg.ld) : fp32_operand(g.b, g.b_arg.ld);
        gemm_bf16_on_this_thread(ta, tb, m1 - m0, g.N, g.K, 1.0f, fp32_operand(a, g.a_arg.ld), b, g.beta, c, g.N);
    } else {
        sgemm_on_this_thread(ta, tb, m1 - m0, g.N, g.K, 1.0f, a, g.a_arg.ld, g.b, g.b_arg.ld, g.beta, c, g.N);
    }
}

// Products of fewer FLOPs in all run on the calling thread: cheaper than
// waking another.
constexpr double kParallelFlops = 2e6;

// Runs the products on all threads. OpenBLAS's own threading scales poorly
// on the medium sizes of a small GPT (1.0-1.5x on 2 cores for 768x128x384),
// so we split the work ourselves: each product into chunks of rows, as many
// chunks in all as there are cores (with several products, fewer chunks
// each: each chunk packs the other operand again). OpenBLAS itself runs on
// one thread (set_num_threads), so the two never oversubscribe the cores. The chunks depend on the shapes and the
// core count, never on the thread count, so a product is the same bit for bit
// on one thread or on all.
void run_gemms(const std::vector<Gemm>& gemms) {
    use_one_blas_thread();
    double flops = 0;
    for (const Gemm& g : gemms) flops += 2.0 * g.M * g.N * g.K;
    const bool parallel = flops >= kParallelFlops;
    const int64_t n = static_cast<int64_t>(gemms.size());
    // Each chunk repacks the other operand, so more chunks cost more than
    // they balance (docs/performance.md).
    int64_t chunks = parallel ? std::max<int64_t>(1, split_width() / n) : 1;
    for (const Gemm& g : gemms) chunks = std::max<int64_t>(1, std::min<int64_t>(chunks, g.M / 16));
    auto run_task = [&](int64_t task) {
        const Gemm& g = gemms[task / chunks];
        const int64_t k = task % chunks;
        gemm_rows(g, static_cast<int>(chunk_begin(g.M, chunks, k)), static_cast<int>(chunk_begin(g.M, chunks, k + 1)));
    };
    const int64_t tasks = n * chunks;
    if (n == 1) {  // chunk t to thread t: the rows a thread wrote stay in its cache for the next op
        #pragma omp parallel for schedule(static) if (tasks > 1)
        for (int64_t t = 0; t < tasks; t++) run_task(t);
    } else {
        #pragma omp parallel for schedule(dynamic, 1) if (parallel)
        for (int64_t t = 0; t < tasks; t++) run_task(t);
    }
}

}  // namespace

Shape matmul_shape(const Tensor& a, const Tensor& b) {
    if (a.ndim() < 2 || b.ndim() < 2)
        fail("matmul", "needs at least 2 dims: " + pair_str(a, b));
    if (a.shape[-1] != b.shape[-2])
        fail("matmul", "inner dims differ: " + pair_str(a, b));
    if (b.ndim() != 2) {
        if (a.ndim() != b.ndim())
            fail("matmul", "batch dims differ: " + pair_str(a, b));
        for (int i = 0; i < a.ndim() - 2; i++)
            if (a.shape[i] != b.shape[i]) fail("matmul", "batch dims differ: " + pair_str(a, b));
    }
    Shape out = a.shape;
    out.dims[out.ndim - 1] = b.shape[-1];
    return out;
}

namespace {
// The products of one call, reused from call to call (no allocation once it
// has grown to the largest batch), and the copies made for views BLAS cannot
// read, kept until the products have run.
std::vector<Gemm>& gemm_scratch() {
    static std::vector<Gemm> gemms;
    return gemms;
}
std::vector<Tensor>& copies_scratch() {
    static std::vector<Tensor> copies;
    return copies;
}

// Appends the products of out (..., M, Nc) = a (..., M, K) @ b (..., K, Nc) + beta * out.
void append_gemms(std::vector<Gemm>& gemms, const Product& p) {
    const Tensor &out = p.out, &a_in = p.a, &b_in = p.b;
    const float beta = p.beta;
    check_shape("matmul", "output", out, matmul_shape(a_in, b_in));
    check_contiguous("matmul", "output", out);
    if (out.numel() == 0) return;
    const int M = static_cast<int>(a_in.shape[-2]), K = static_cast<int>(a_in.shape[-1]);
    const int Nc = static_cast<int>(b_in.shape[-1]);
    if (K == 0) {  // an empty sum: out = beta * out (BLAS rejects K = 0 strides)
        if (beta == 0.0f)
            fill(out, 0.0f);  // out may hold anything (a fresh gradient): 0 * NaN is not 0
        else
            scale_forward(out, out, beta);
        return;
    }
    // A view BLAS cannot read (e.g. a permutation of the matrix dims with the
    // batch dims) is copied once; views from transpose(-2,-1) never are.
    MatrixArg ma, mb;
    Tensor a = a_in, b = b_in;
    const bool bf16 = product_dtype() == Dtype::bfloat16;
    const uint16_t* b_bf16 = bf16 ? p.b_bf16 : nullptr;
    if (!describe(a, ma)) copies_scratch().push_back(a = a_in.contiguous());
    if (!describe(b, mb)) {
        copies_scratch().push_back(b = b_in.contiguous());
        b_bf16 = nullptr;  // laid out as b_in, not as the copy
    }
    if (!describe(a, ma) || !describe(b, mb)) fail("matmul", "cannot pass " + pair_str(a, b) + " to BLAS");

    const int nbatch = a.ndim() - 2;
    int64_t bd[2] = {1, 1}, as[2] = {0, 0}, bs[2] = {0, 0};
    for (int i = 0; i < nbatch; i++) {
        int j = 2 - nbatch + i;  // right-align the batch dims into bd[0..1]
        bd[j] = a.shape[i];
        as[j] = a.strides[i];
        bs[j] = b.ndim() == 2 ? 0 : b.strides[i];
    }
    // A shared 2-D weight and a batch of row-major rows that tile memory
    // evenly: one product over all rows at once.
    if (b.ndim() == 2 && ma.trans == CblasNoTrans && nbatch > 0) {
        const int64_t rows_stride = static_cast<int64_t>(M) * ma.ld;
        if ((bd[1] == 1 || as[1] == rows_stride) && (bd[0] == 1 || as[0] == bd[1] * rows_stride)) {
            const int rows = static_cast<int>(M * bd[0] * bd[1]);
            gemms.push_back(Gemm{ma, mb, rows, Nc, K, a.data, b.data, out.data, beta, bf16, b_bf16});
            return;
        }
    }
    const int64_t out_stride = static_cast<int64_t>(M) * Nc;
    for (int64_t i0 = 0; i0 < bd[0]; i0++)
        for (int64_t i1 = 0; i1 < bd[1]; i1++)
            gemms.push_back(Gemm{ma, mb, M, Nc, K, a.data + i0 * as[0] + i1 * as[1], b.data + i0 * bs[0] + i1 * bs[1],
                                 out.data + (i0 * bd[1] + i1) * out_stride, beta, bf16,
                                 b_bf16 ? b_bf16 + i0 * bs[0] + i1 * bs[1] : nullptr});
}
}  // namespace

void matmuls(std::initializer_list<Product> products) {
    // Products that write one buffer run one after the other, in the order given.
    for (auto p = products.begin(); p != products.end(); p++)
        for (auto q = p + 1; q != products.end(); q++)
            if (p->out.data == q->out.data) {
                for (const Product& one : products) matmuls({one});
                return;
            }
    std::vector<Gemm>& gemms = gemm_scratch();
    gemms.clear();
    copies_scratch().clear();
    for (const Product& p : products) append_gemms(gemms, p);
    if (!gemms.empty()) run_gemms(gemms);
    copies_scratch().clear();
}

// Chunk k of the rows computes its rows of dx and its share of dw, the sum
// over its rows; chunk 0 writes its share into dw, the others into scratch
// that is then added to dw in chunk order, so the result depends on the
// chunks (the shapes and the core count), never on the thread count. Giving
// each product whole to one thread instead made each thread read the rows
// the other had written, and left one waiting for the other: dW = dy^T x
// runs longer than dx = dy W on the same shapes (docs/performance.md).
void linear_backward_products(const Tensor& dx, float dx_beta, const Tensor& dw, float dw_beta, const Tensor& dy,
                              const Tensor& x, const Tensor& w, const uint16_t* w_bf16) {
    const int64_t N = dy.shape[0], out = dy.shape[1], in = x.shape[1];
    check_shape("linear", "x", x, Shape{N, in});
    check_shape("linear", "w", w, Shape{out, in});
    check_shape("linear", "dx", dx, Shape{N, in});
    check_shape("linear", "dw", dw, Shape{out, in});
    for (const Tensor* t : {&dx, &dw, &dy, &x, &w}) check_contiguous("linear", "operand", *t);
    use_one_blas_thread();
    const bool parallel = 4.0 * static_cast<double>(N * out * in) >= kParallelFlops;
    // One chunk per core, at least 16 rows each and at most chunk_count's 16
    // chunks: the shares' scratch is (chunks - 1) x dw.
    const int64_t chunks = parallel ? std::clamp<int64_t>(split_width(), 1, chunk_count(N, 16)) : 1;
    const int64_t dw_numel = out * in;
    static std::vector<float> shares;  // (chunks - 1, out, in); grows to the largest need, then stays
    if (static_cast<int64_t>(shares.size()) < (chunks - 1) * dw_numel)
        shares.resize(static_cast<size_t>((chunks - 1) * dw_numel));
    float* const share = shares.data();
    const int out_cols = static_cast<int>(out), in_cols = static_cast<int>(in);
    const bool bf16 = product_dtype() == Dtype::bfloat16;
    // c (m, n) = op(a) op(b) + beta c on this thread, in the products' precision
    auto product = [bf16](bool ta, int m, int n, int k, const float* a, int lda, const float* b,
                          const uint16_t* b16, int ldb, float beta, float* c, int ldc) {
        if (bf16)
            gemm_bf16_on_this_thread(ta, false, m, n, k, 1.0f, fp32_operand(a, lda),
                                     b16 ? bf16_operand(b16, ldb) : fp32_operand(b, ldb), beta, c, ldc);
        else
            sgemm_on_this_thread(ta, false, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
    };
    #pragma omp parallel if (chunks > 1)
    {
        #pragma omp for schedule(static)
        for (int64_t k = 0; k < chunks; k++) {
            const int64_t r0 = chunk_begin(N, chunks, k), rows = chunk_begin(N, chunks, k + 1) - r0;
            // dx rows (rows, in) = dy rows (rows, out) @ w (out, in)
            product(false, static_cast<int>(rows), in_cols, out_cols, dy.data + r0 * out, out_cols, w.data, w_bf16,
                    in_cols, dx_beta, dx.data + r0 * in, in_cols);
            // share of dw (out, in) = dy rows^T (out, rows) @ x rows (rows, in)
            product(true, out_cols, in_cols, static_cast<int>(rows), dy.data + r0 * out, out_cols, x.data + r0 * in,
                    nullptr, in_cols, k == 0 ? dw_beta : 0.0f, k == 0 ? dw.data : share + (k - 1) * dw_numel, in_cols);
        }
        if (chunks > 1) {
            constexpr int64_t kSumBlock = 4096;  // dw's elements in blocks, every block summed in chunk order
            #pragma omp for schedule(static)
            for (int64_t i0 = 0; i0 < dw_numel; i0 += kSumBlock) {
                const int64_t i1 = std::min(dw_numel, i0 + kSumBlock);
                for (int64_t k = 1; k < chunks; k++) {
                    const float* from = share + (k - 1) * dw_numel;
                    #pragma omp simd
                    for (int64_t i = i0; i < i1; i++) dw.data[i] += from[i];
                }
            }
        }
    }
}

// out (..., M, Nc) = a (..., M, K) @ b (..., K, Nc) + beta * out
void matmul(const Tensor& out, const Tensor& a, const Tensor& b, float beta) { matmuls({{out, a, b, beta}}); }

}  // namespace cg
