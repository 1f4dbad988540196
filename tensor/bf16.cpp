// bf16 conversions of whole arrays, and whether this CPU has the bf16 products' instructions.
#include "tensor/bf16.h"

#include "tensor/chunks.h"

namespace cg {

// The inline conversions, which the compiler vectorises (integer adds and shifts).
void floats_to_bf16(uint16_t* out, const float* x, int64_t n) {
    #pragma omp parallel for simd if (n > kParallelMin)
    for (int64_t i = 0; i < n; i++) out[i] = float_to_bf16(x[i]);
}

void bf16_to_floats(float* out, const uint16_t* x, int64_t n) {
    #pragma omp parallel for simd if (n > kParallelMin)
    for (int64_t i = 0; i < n; i++) out[i] = bf16_to_float(x[i]);
}

// __builtin_cpu_supports also checks that the OS saves the AVX-512 registers.
const char* bf16_missing_cpu_feature() {
#if defined(__x86_64__)
    if (!__builtin_cpu_supports("avx512f")) return "AVX512F";
    if (!__builtin_cpu_supports("avx512bw")) return "AVX512BW";
    if (!__builtin_cpu_supports("avx512bf16")) return "AVX512_BF16 (vdpbf16ps)";
    return "";
#else
    return "AVX512_BF16 (vdpbf16ps, an x86-64 instruction)";
#endif
}

bool cpu_has_avx512_bf16() {
    static const bool has = bf16_missing_cpu_feature()[0] == '\0';
    return has;
}

}  // namespace cg
