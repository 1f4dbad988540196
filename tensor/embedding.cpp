// Embedding lookup and its scatter-add backward.
#include <cstring>

#include "tensor/kernels.h"

namespace cg {

namespace {
void check_ids(const int* ids, int64_t N, int64_t V) {
    for (int64_t n = 0; n < N; n++)
        if (ids[n] < 0 || ids[n] >= V)
            fail("embedding", "id " + std::to_string(ids[n]) + " at position " + std::to_string(n) +
                                  " is outside the table's " + std::to_string(V) + " rows");
}
}  // namespace

// table (V, C), ids (N) -> out (N, C)
void embedding_forward(const Tensor& out, const Tensor& table, const int* ids) {
    check_contiguous("embedding", "table", table);
    check_contiguous("embedding", "output", out);
    const int64_t V = table.shape[0], C = table.shape[-1], N = C ? out.numel() / C : 0;
    if (table.ndim() != 2 || out.shape[-1] != C)
        fail("embedding", "table " + table.shape.str() + " does not fit output " + out.shape.str());
    check_ids(ids, N, V);
    #pragma omp parallel for if (N * C > (1 << 14))
    for (int64_t n = 0; n < N; n++)
        std::memcpy(out.data + n * C, table.data + ids[n] * C, C * sizeof(float));
}

// dtable[ids[n], c] += dy[n, c]. The same id may repeat, so rows may collide:
// threads split the channels instead, and each owns its columns of dtable.
void embedding_backward(const Tensor& dtable, const Tensor& dy, const int* ids) {
    check_contiguous("embedding", "dy", dy);
    check_contiguous("embedding", "dtable", dtable);
    if (dtable.ndim() != 2 || dy.shape[-1] != dtable.shape[-1])
        fail("embedding", "table gradient " + dtable.shape.str() + " does not fit dy " + dy.shape.str());
    const int64_t V = dtable.shape[0], C = dtable.shape[-1], N = C ? dy.numel() / C : 0;
    check_ids(ids, N, V);
    constexpr int64_t kBlock = 16;  // channels per task: a cache line of floats
    const int64_t blocks = (C + kBlock - 1) / kBlock;
    #pragma omp parallel for if (N * C > (1 << 14))
    for (int64_t blk = 0; blk < blocks; blk++) {
        const int64_t c0 = blk * kBlock, c1 = c0 + kBlock < C ? c0 + kBlock : C;
        for (int64_t n = 0; n < N; n++) {
            float* d = dtable.data + ids[n] * C;
            const float* g = dy.data + n * C;
            for (int64_t c = c0; c < c1; c++) d[c] += g[c];
        }
    }
}

}  // namespace cg
