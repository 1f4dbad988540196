#include "train/blas_core.h"

#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "tensor/kernels.h"

namespace cg {

std::string best_blas_core() {
#if defined(__x86_64__) || defined(__i386__)
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
    return "";
}

bool is_generic_blas_core(const std::string& core) {
    for (const char* good : {"Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids"})
        if (core == good) return false;
    return true;
}

void ensure_fast_blas_core(char** argv) {
    if (std::getenv("OPENBLAS_CORETYPE")) return;  // the user's choice stands
    const std::string chosen = blas_core_name(), best = best_blas_core();
    if (best.empty() || !is_generic_blas_core(chosen)) return;
    std::cerr << "causalgrad: OpenBLAS chose its generic '" << chosen << "' kernels on this CPU; "
              << "restarting with OPENBLAS_CORETYPE=" << best << " (set OPENBLAS_CORETYPE to choose yourself)\n";
    setenv("OPENBLAS_CORETYPE", best.c_str(), 1);
    execv("/proc/self/exe", argv);
    std::cerr << "causalgrad: could not restart itself; continuing with '" << chosen << "'\n";
}

}  // namespace cg
