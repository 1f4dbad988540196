#include "tensor/runtime_setup.h"

#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>

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

std::string built_for_isa() {
#if defined(__AVX512F__)
    return "AVX-512";
#elif defined(__AVX2__)
    return "AVX2";
#else
    return "SSE2";
#endif
}

std::string omp_wait_setting() {
    if (const char* s = std::getenv("GOMP_SPINCOUNT")) return std::string("GOMP_SPINCOUNT=") + s;
    if (const char* s = std::getenv("OMP_WAIT_POLICY")) return std::string("OMP_WAIT_POLICY=") + s;
    return "libgomp's default spinning";
}

bool runtime_restart_disabled() {
    const char* no_restart = std::getenv("CAUSALGRAD_NO_RESTART");
    const char* preload = std::getenv("LD_PRELOAD");
    return (no_restart && std::string(no_restart) == "1") ||
           (preload && std::string(preload).find("vgpreload") != std::string::npos);
}

void restart_with_runtime_settings(char** argv, int spin_count) {
    if (runtime_restart_disabled()) return;
    bool restart = false;
    if (!std::getenv("GOMP_SPINCOUNT") && !std::getenv("OMP_WAIT_POLICY")) {
        setenv("GOMP_SPINCOUNT", std::to_string(spin_count).c_str(), 1);
        restart = true;
    }
    if (!std::getenv("GLIBC_TUNABLES")) {
        setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1", 1);
        restart = true;
    }
    if (!std::getenv("OPENBLAS_CORETYPE")) {
        const std::string chosen = blas_core_name(), best = best_blas_core();
        if (!best.empty() && is_generic_blas_core(chosen)) {
            std::cerr << "causalgrad: OpenBLAS chose its generic '" << chosen << "' kernels on this CPU; "
                      << "restarting with OPENBLAS_CORETYPE=" << best << " (set OPENBLAS_CORETYPE to choose yourself)\n";
            setenv("OPENBLAS_CORETYPE", best.c_str(), 1);
            restart = true;
        }
    }
    if (!restart) return;
    execv("/proc/self/exe", argv);
    std::cerr << "causalgrad: could not restart itself with its runtime settings; continuing without\n";
}

}  // namespace cg
