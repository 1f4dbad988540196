// Products on bf16 operands with fp32 sums: c (m, n) = alpha op(a) op(b) + beta c,
// through AVX512_BF16's vdpbf16ps.
//
// vdpbf16ps takes 16 lanes of 32 bits, each a pair of bf16, from each of two
// registers and adds both products of a lane's pair into that lane's fp32 sum:
// sum_j += a_k b_kj + a_k+1 b_k+1,j. So both operands are packed as pairs of
// consecutive k in one 32-bit word (the even k in the low half, an odd k's
// missing partner 0); a row's word of a is broadcast against 16 columns' words
// of b.
//
// Blocking, after Goto and van de Geijn (2008), "Anatomy of high-performance
// matrix multiplication":
//   k in blocks of at most kMaxPairs pairs, the blocks decided by k alone;
//   per k block, n in blocks whose packed b (pairs x NC words) stays in L2,
//     as panels of kPanel columns: [panel][pair][kPanel words];
//   m in blocks of kRowBlock rows, packed per block;
//   the micro-kernel: kTileRows rows x kPanel columns of fp32 sums in 24 zmm
//   registers over one k block, reading its rows of a from L1 and streaming b
//   from L2.
// The fp32 operands are rounded to bf16 (float_to_bf16, bit for bit) while packed.
// vdpbf16ps itself rounds the sum after each of a pair's two products, takes
// subnormal bf16 inputs as 0 and flushes subnormal sums to 0 (Intel's
// definition, and what Zen 4 does).
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "tensor/bf16.h"
#include "tensor/kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

// GCC 12's AVX-512 intrinsics start from a deliberately undefined register
// (_mm512_undefined_epi32), which its own -Wmaybe-uninitialized then reports
// in every function that uses them (GCC bug 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace cg {

#if defined(__x86_64__)

// Only these functions use AVX-512: the rest of the build stays generic, and
// they run only after cpu_has_avx512_bf16() said yes. An attribute cannot be
// passed around as a function could, hence the macro.
#define CG_AVX512_BF16 __attribute__((target("avx512f,avx512bw,avx512bf16")))

namespace {

constexpr int kTileRows = 6;     // rows of the micro-kernel: 6 x 4 zmm sums + 4 of b + 1 of a
constexpr int kPanel = 64;       // columns of the micro-kernel, 4 zmm of 16
constexpr int kMaxPairs = 256;   // k block: 512 values of k
constexpr int kRowBlock = 96;    // rows of a packed at once (a multiple of 6 and 16)
constexpr int64_t kBBlockBytes = 512 * 1024;  // packed b of one block, in L2
constexpr int64_t kKeptABytes = 1024 * 1024;  // packed a of a whole k block, kept for the next n blocks

// ---- packing buffers --------------------------------------------------------

// 64-byte aligned words, grown to the largest need and kept: one of each per thread.
struct PackBuffer {
    uint32_t* data = nullptr;
    size_t size = 0;
    ~PackBuffer() { std::free(data); }
    uint32_t* reserve(size_t words) {
        if (words > size) {
            std::free(data);
            size = (words + 15) / 16 * 16;
            data = static_cast<uint32_t*>(std::aligned_alloc(64, size * sizeof(uint32_t)));
            if (!data) fail("gemm_bf16", "out of memory for a packing buffer of " + std::to_string(size) + " words");
        }
        return data;
    }
};
thread_local PackBuffer packed_a, packed_b;

// ---- rounding and pairing ---------------------------------------------------

// 16 values -> 16 lanes of 32 bits, each a bf16 in its low half (float_to_bf16, vectorised).
CG_AVX512_BF16 inline __m512i bf16_lanes(__m512 x) {
    const __m512i bits = _mm512_castps_si512(x);
    const __m512i lowest_kept = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
    __m512i rounded = _mm512_add_epi32(bits, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), lowest_kept));
    const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(bits, _mm512_set1_epi32(0x7fffffff)),
                                                  _mm512_set1_epi32(0x7f800000));
    rounded = _mm512_mask_or_epi32(rounded, nan, bits, _mm512_set1_epi32(0x00400000));
    return _mm512_srli_epi32(rounded, 16);
}

// The lanes holding a subnormal, 0 < |x| < 2^-126: |x|'s bits - 1 < 0x007fffff.
CG_AVX512_BF16 inline __mmask16 subnormal_lanes(__m512 x) {
    const __m512i magnitude = _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(0x7fffffff));
    return _mm512_cmplt_epu32_mask(_mm512_sub_epi32(magnitude, _mm512_set1_epi32(1)), _mm512_set1_epi32(0x007fffff));
}

// 32 values in two registers -> their 32 bf16 in order in one, rounded as
// float_to_bf16 rounds. vcvtne2ps2bf16 does that in one instruction, but
// flushes subnormals to zero: a group holding one takes bf16_lanes instead.
CG_AVX512_BF16 inline __m512i bf16_words(__m512 first, __m512 second) {
    if (subnormal_lanes(first) | subnormal_lanes(second)) {
        const __m256i low = _mm512_cvtepi32_epi16(bf16_lanes(first));
        const __m256i high = _mm512_cvtepi32_epi16(bf16_lanes(second));
        return _mm512_inserti64x4(_mm512_castsi256_si512(low), high, 1);
    }
    return (__m512i)_mm512_cvtne2ps_pbh(second, first);
}

// Up to 16 bf16 (0 beyond count) in one 256-bit register.
CG_AVX512_BF16 inline __m256i load_bf16(const uint16_t* p, int count) {
    if (count >= 16) return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    alignas(32) uint16_t part[16] = {};
    std::memcpy(part, p, sizeof(uint16_t) * std::max(count, 0));
    return _mm256_load_si256(reinterpret_cast<const __m256i*>(part));
}

CG_AVX512_BF16 inline __mmask16 first_lanes(int count) {
    return count >= 16 ? __mmask16(0xffff) : count <= 0 ? __mmask16(0) : __mmask16((1u << count) - 1);
}

// [x0 .. x15 y0 .. y15] (16-bit words) -> [x0 y0 x1 y1 .. x15 y15]: 16 pairs.
CG_AVX512_BF16 inline __m512i interleave_halves(__m512i words) {
    alignas(64) static constexpr uint16_t kOrder[32] = {0, 16, 1, 17, 2,  18, 3,  19, 4,  20, 5,  21, 6,  22, 7,  23,
                                                        8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
    return _mm512_permutexvar_epi16(_mm512_load_si512(kOrder), words);
}

// dst[j] = (r0[j], r1[j]) for j < count, a word of a pair from two rows (r1
// null: an odd k's last row, partner 0); 0 from count up to a multiple of 16.
CG_AVX512_BF16 void pack_pairs_of_rows(uint32_t* dst, const float* r0, const float* r1, int count) {
    for (int j = 0; j < count; j += 16) {
        const __mmask16 mask = first_lanes(count - j);
        const __m512 x = _mm512_maskz_loadu_ps(mask, r0 + j);
        const __m512 y = r1 ? _mm512_maskz_loadu_ps(mask, r1 + j) : _mm512_setzero_ps();
        _mm512_storeu_si512(dst + j, interleave_halves(bf16_words(x, y)));
    }
}
CG_AVX512_BF16 void pack_pairs_of_rows(uint32_t* dst, const uint16_t* r0, const uint16_t* r1, int count) {
    for (int j = 0; j < count; j += 16) {
        const __m256i x = load_bf16(r0 + j, count - j);
        const __m256i y = r1 ? load_bf16(r1 + j, count - j) : _mm256_setzero_si256();
        _mm512_storeu_si512(dst + j, interleave_halves(_mm512_inserti64x4(_mm512_castsi256_si512(x), y, 1)));
    }
}

// dst[p] = (row[2p], row[2p + 1]) for the `count` values of one row: (count + 1) / 2 words.
CG_AVX512_BF16 void pack_pairs_along_row(uint32_t* dst, const float* row, int count) {
    for (int i = 0; i < count; i += 32) {  // 32 values -> 32 bf16 in order = 16 words of pairs
        const int left = count - i;
        const __m512 first = _mm512_maskz_loadu_ps(first_lanes(left), row + i);
        const __m512 second = _mm512_maskz_loadu_ps(first_lanes(left - 16), row + i + 16);
        _mm512_mask_storeu_epi32(dst + i / 2, first_lanes((left + 1) / 2), bf16_words(first, second));
    }
}
CG_AVX512_BF16 void pack_pairs_along_row(uint32_t* dst, const uint16_t* row, int count) {
    std::memcpy(dst, row, sizeof(uint16_t) * (count & ~1));  // the pairs are in memory already
    if (count & 1) dst[count / 2] = row[count - 1];
}

// ---- packing a and b ----------------------------------------------------------

// Where pair p of row r of a packed block of a is: a[r * row + p * pair].
struct PackedA {
    const uint32_t* words;
    int64_t row, pair;
};

// The layout pack_a writes at dst for `rows` rows of `pairs` pairs.
inline PackedA packed_a_layout(bool ta, const uint32_t* dst, int rows, int pairs) {
    if (!ta) return {dst, pairs, 1};
    return {dst, 1, (rows + 15) / 16 * 16};
}

// Rows [i0, i0 + rows) of op(a) (m, k), values [k0, k0 + count) of k, into
// dst (rows rounded up to 16, times (count + 1) / 2 words). From a (m, k):
// [row][pair], each row's pairs in memory order. From a transposed, a (k, m):
// [pair][row], a pair of rows of a giving 16 words at a time.
template <typename T>
CG_AVX512_BF16 PackedA pack_a(bool ta, const T* a, int64_t lda, int i0, int rows, int k0, int count, uint32_t* dst) {
    const int pairs = (count + 1) / 2;
    const PackedA packed = packed_a_layout(ta, dst, rows, pairs);
    if (!ta) {
        for (int r = 0; r < rows; r++) pack_pairs_along_row(dst + r * packed.row, a + (i0 + r) * lda + k0, count);
        return packed;
    }
    for (int p = 0; p < pairs; p++) {
        const int64_t kk = k0 + 2 * p;
        pack_pairs_of_rows(dst + p * packed.pair, a + kk * lda + i0,
                           2 * p + 1 < count ? a + (kk + 1) * lda + i0 : nullptr, rows);
    }
    return packed;
}

// Columns [j0, j0 + cols) of op(b) (k, n), values [k0, k0 + count) of k, as
// panels of kPanel columns: [panel][pair][kPanel words]; a panel's columns
// past n are 0 up to a multiple of 16, the rest unread.
template <typename T>
CG_AVX512_BF16 const uint32_t* pack_b(bool tb, const T* b, int64_t ldb, int j0, int cols, int k0, int count) {
    const int pairs = (count + 1) / 2;
    const int panels = (cols + kPanel - 1) / kPanel;
    uint32_t* dst = packed_b.reserve(static_cast<size_t>(panels) * pairs * kPanel);
    for (int q = 0; q < panels; q++) {
        uint32_t* panel = dst + static_cast<int64_t>(q) * pairs * kPanel;
        const int jq = j0 + q * kPanel, width = std::min(kPanel, j0 + cols - jq);
        if (!tb) {  // b (k, n): a pair of rows gives a pair's words
            for (int p = 0; p < pairs; p++) {
                const int64_t kk = k0 + 2 * p;
                pack_pairs_of_rows(panel + p * kPanel, b + kk * ldb + jq,
                                   2 * p + 1 < count ? b + (kk + 1) * ldb + jq : nullptr, width);
            }
            continue;
        }
        // b (n, k) transposed: a column's pairs lie along a row of b.
        uint32_t column[kMaxPairs];
        for (int j = 0; j < (width + 15) / 16 * 16; j++) {
            if (j < width) pack_pairs_along_row(column, b + (jq + j) * ldb + k0, count);
            else std::fill(column, column + pairs, 0u);
            for (int p = 0; p < pairs; p++) panel[p * kPanel + j] = column[p];
        }
    }
    return dst;
}

// ---- the micro-kernel ----------------------------------------------------------

// `rows` runs of `row_lines` cache lines, `stride` bytes apart: a part of what
// pack_a will read for the next block of rows.
struct Lines {
    const char* first = nullptr;
    int64_t stride = 0;
    int rows = 0, row_lines = 0;
};

// One tile of c: rows x (up to kPanel) columns over one k block.
struct Tile {
    PackedA a;          // the tile's first row
    const uint32_t* b;  // its panel: [pair][kPanel words]
    int pairs;
    float* c;
    int64_t ldc;
    int cols;           // 1..kPanel
    float alpha, beta;  // c = alpha sum + beta c; beta 0: c is not read
    Lines ahead;        // memory to ask into L2 meanwhile, a cache line per pair
};

// c (ROWS, cols) = alpha a (ROWS, pairs) . b (pairs, cols) + beta c, with
// VECS = cols / 16 rounded up zmm registers of sums per row.
template <int ROWS, int VECS>
CG_AVX512_BF16 void micro_kernel(const Tile& t) {
    __m512 sum[ROWS][VECS];
    #pragma GCC unroll 8
    for (int r = 0; r < ROWS; r++)
        #pragma GCC unroll 4
        for (int v = 0; v < VECS; v++) sum[r][v] = _mm512_setzero_ps();
    // c's tile is read (or written) only at the end, by then in L1: in a large
    // product it was last touched a whole k block ago, far out of cache.
    #pragma GCC unroll 8
    for (int r = 0; r < ROWS; r++)
        #pragma GCC unroll 4
        for (int v = 0; v < VECS; v++) __builtin_prefetch(t.c + r * t.ldc + 16 * v, 1, 3);
    const uint32_t* a = t.a.words;
    const uint32_t* b = t.b;
    const char *ahead_row = t.ahead.first, *ahead = ahead_row;
    int ahead_rows = t.ahead.rows, ahead_col = 0;
    for (int p = 0; p < t.pairs; p++, a += t.a.pair, b += kPanel) {
        if (ahead_rows > 0) {  // one line per pair: spread out, they never queue
            __builtin_prefetch(ahead, 0, 2);
            ahead += 64;
            if (++ahead_col == t.ahead.row_lines) {
                ahead_col = 0;
                ahead = ahead_row += t.ahead.stride;
                ahead_rows--;
            }
        }
        __m512bh bv[VECS];
        #pragma GCC unroll 4
        for (int v = 0; v < VECS; v++) bv[v] = (__m512bh)_mm512_load_si512(b + 16 * v);
        #pragma GCC unroll 8
        for (int r = 0; r < ROWS; r++) {
            const __m512bh av = (__m512bh)_mm512_set1_epi32(static_cast<int>(a[r * t.a.row]));
            #pragma GCC unroll 4
            for (int v = 0; v < VECS; v++) sum[r][v] = _mm512_dpbf16_ps(sum[r][v], av, bv[v]);
        }
    }
    const int last = t.cols - 16 * (VECS - 1);  // columns of the last register, 1..16
    const __mmask16 last_mask = last >= 16 ? __mmask16(0xffff) : __mmask16((1u << last) - 1);
    const __m512 alpha = _mm512_set1_ps(t.alpha), beta = _mm512_set1_ps(t.beta);
    #pragma GCC unroll 8
    for (int r = 0; r < ROWS; r++) {
        float* c = t.c + r * t.ldc;
        #pragma GCC unroll 4
        for (int v = 0; v < VECS; v++) {
            const __mmask16 mask = v == VECS - 1 ? last_mask : __mmask16(0xffff);
            __m512 out = _mm512_mul_ps(alpha, sum[r][v]);
            if (t.beta != 0.0f)
                out = _mm512_fmadd_ps(beta, _mm512_maskz_loadu_ps(mask, c + 16 * v), out);
            _mm512_mask_storeu_ps(c + 16 * v, mask, out);
        }
    }
}

using MicroKernel = void (*)(const Tile&);
template <int ROWS>
constexpr MicroKernel kernels_of_rows[4] = {micro_kernel<ROWS, 1>, micro_kernel<ROWS, 2>, micro_kernel<ROWS, 3>,
                                            micro_kernel<ROWS, 4>};
// kernel_table[rows - 1][vectors - 1]
constexpr const MicroKernel* kernel_table[kTileRows] = {kernels_of_rows<1>, kernels_of_rows<2>, kernels_of_rows<3>,
                                                        kernels_of_rows<4>, kernels_of_rows<5>, kernels_of_rows<6>};

// ---- the blocked product ------------------------------------------------------

template <typename TA, typename TB>
CG_AVX512_BF16 void gemm_blocked(bool ta, bool tb, int m, int n, int k, float alpha, const TA* a, int64_t lda,
                                 const TB* b, int64_t ldb, float beta, float* c, int64_t ldc) {
    // k blocks of equal size (even), from k alone: every row sums in the same order.
    const int all_pairs = (k + 1) / 2;
    const int k_blocks = (all_pairs + kMaxPairs - 1) / kMaxPairs;
    const int block_pairs = (all_pairs + k_blocks - 1) / k_blocks;
    const int n_block = static_cast<int>(
        std::max<int64_t>(kPanel, kBBlockBytes / (4 * int64_t{block_pairs}) / kPanel * kPanel));
    // With several n blocks and a small m (dW = dy^T x: m = out, n = in),
    // a k block's a is packed once, by the first n block, and kept for the
    // others: packing reads a (an activation of many MB) from far out of
    // cache, and was a large share of such a product's time.
    const int row_blocks = (m + kRowBlock - 1) / kRowBlock;
    const int64_t slot = int64_t{kRowBlock} * block_pairs;  // words of one packed block of rows
    const bool keep_a = n > n_block && row_blocks * slot * 4 <= kKeptABytes;
    uint32_t* const a_slots = packed_a.reserve(static_cast<size_t>(keep_a ? row_blocks * slot : slot));
    for (int k0 = 0; k0 < k; k0 += 2 * block_pairs) {
        const int count = std::min(2 * block_pairs, k - k0), pairs = (count + 1) / 2;
        const float beta_here = k0 == 0 ? beta : 1.0f;  // later blocks add to the earlier ones' sum
        for (int j0 = 0; j0 < n; j0 += n_block) {
            const int cols = std::min(n_block, n - j0);
            const uint32_t* pb = pack_b(tb, b, ldb, j0, cols, k0, count);
            for (int i0 = 0; i0 < m; i0 += kRowBlock) {
                const int rows = std::min(kRowBlock, m - i0);
                uint32_t* const a_slot = a_slots + (keep_a ? i0 / kRowBlock * slot : 0);
                const PackedA pa = j0 == 0 || !keep_a ? pack_a(ta, a, lda, i0, rows, k0, count, a_slot)
                                                      : packed_a_layout(ta, a_slot, rows, pairs);
                // What pack_a reads for the next block of rows is asked into L2
                // while this one is multiplied, a share per tile, a line per
                // pair (Tile::ahead): a, an activation of many MB read once per
                // k block, has left the caches long before, and a packing that
                // waits on memory at each load held the product back. The
                // next block: the next rows, else the first ones again, of the
                // next k block once n is done. From a (m, k): rows of count
                // values; from a (k, m) transposed: count rows of rows values.
                int next_i0 = i0 + kRowBlock, next_k0 = k0;
                if (next_i0 >= m) {
                    next_i0 = 0;
                    if (j0 + n_block >= n) next_k0 += 2 * block_pairs;
                }
                // A kept block is not packed again: nothing to ask for then.
                const bool next_kept = keep_a && next_k0 == k0 && !(j0 == 0 && next_i0 > i0);
                const int next_rows = next_k0 < k && !next_kept ? std::min(kRowBlock, m - next_i0) : 0;
                const int next_count = std::min(2 * block_pairs, k - next_k0);
                const int tiles = (rows + kTileRows - 1) / kTileRows, panels = (cols + kPanel - 1) / kPanel;
                const int ahead_rows = next_rows == 0 ? 0 : ta ? next_count : next_rows;
                const int ahead_width = ta ? next_rows : next_count;
                const TA* next = next_rows == 0 ? a : ta ? a + int64_t{next_k0} * lda + next_i0 : a + next_i0 * lda + next_k0;
                const int64_t calls = int64_t{tiles} * panels;
                for (int r = 0; r < rows; r += kTileRows) {
                    const int tile_rows = std::min(kTileRows, rows - r);
                    for (int jq = 0; jq < cols; jq += kPanel) {
                        const int tile_cols = std::min(kPanel, cols - jq);
                        const int64_t call = int64_t{r / kTileRows} * panels + jq / kPanel;
                        const int first = static_cast<int>(ahead_rows * call / calls);
                        const Lines ahead{reinterpret_cast<const char*>(next + first * lda), lda * int64_t{sizeof(TA)},
                                          static_cast<int>(ahead_rows * (call + 1) / calls) - first,
                                          static_cast<int>((ahead_width * sizeof(TA) + 63) / 64)};
                        const Tile tile{{pa.words + r * pa.row, pa.row, pa.pair},
                                        pb + static_cast<int64_t>(jq / kPanel) * pairs * kPanel,
                                        pairs,
                                        c + (i0 + r) * ldc + j0 + jq,
                                        ldc,
                                        tile_cols,
                                        alpha,
                                        beta_here,
                                        ahead};
                        kernel_table[tile_rows - 1][(tile_cols + 15) / 16 - 1](tile);
                    }
                }
            }
        }
    }
}

}  // namespace

#undef CG_AVX512_BF16

#endif  // __x86_64__

void gemm_bf16_on_this_thread(bool ta, bool tb, int m, int n, int k, float alpha, const GemmOperand& a,
                              const GemmOperand& b, float beta, float* c, int ldc) {
    if (m < 0 || n < 0 || k < 0)
        fail("gemm_bf16", "negative size m " + std::to_string(m) + ", n " + std::to_string(n) + ", k " +
                              std::to_string(k));
    if (m == 0 || n == 0) return;
    if (!c || ldc < n) fail("gemm_bf16", "c needs ldc >= n = " + std::to_string(n) + ", got " + std::to_string(ldc));
    if (k == 0) {  // an empty sum: c = beta c, and beta 0 clears c whatever it held
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) c[int64_t{i} * ldc + j] = beta == 0.0f ? 0.0f : beta * c[int64_t{i} * ldc + j];
        return;
    }
    // Each operand: exactly one source, and rows at least as long as stored.
    const auto check_operand = [](const char* name, const GemmOperand& op, int cols) {
        if ((op.fp32 == nullptr) == (op.bf16 == nullptr))
            fail("gemm_bf16", std::string(name) + " needs exactly one of fp32 and bf16 data");
        if (op.ld < cols)
            fail("gemm_bf16", std::string(name) + " has ld " + std::to_string(op.ld) + " < its " +
                                  std::to_string(cols) + " columns");
    };
    check_operand("a", a, ta ? m : k);
    check_operand("b", b, tb ? k : n);
    if (!cpu_has_avx512_bf16())
        fail("gemm_bf16", std::string("this CPU lacks ") + bf16_missing_cpu_feature() +
                              ": use the fp32 products (sgemm_on_this_thread) here");
#if defined(__x86_64__)
    if (a.fp32 && b.fp32) gemm_blocked(ta, tb, m, n, k, alpha, a.fp32, a.ld, b.fp32, b.ld, beta, c, ldc);
    else if (a.fp32) gemm_blocked(ta, tb, m, n, k, alpha, a.fp32, a.ld, b.bf16, b.ld, beta, c, ldc);
    else if (b.fp32) gemm_blocked(ta, tb, m, n, k, alpha, a.bf16, a.ld, b.fp32, b.ld, beta, c, ldc);
    else gemm_blocked(ta, tb, m, n, k, alpha, a.bf16, a.ld, b.bf16, b.ld, beta, c, ldc);
#else
    static_cast<void>(alpha);  // unreachable: the CPU check above failed
#endif
}

}  // namespace cg
