#include "tensor/runtime_setup.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
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
#elif defined(__x86_64__) || defined(__i386__)
    return "SSE2";
#elif defined(__ARM_FEATURE_SVE)
    return "SVE";
#elif defined(__ARM_NEON)
    return "NEON";
#else
    return "scalar";
#endif
}

std::string omp_wait_setting() {
    if (const char* s = std::getenv("GOMP_SPINCOUNT")) return std::string("GOMP_SPINCOUNT=") + s;
    if (const char* s = std::getenv("OMP_WAIT_POLICY")) return std::string("OMP_WAIT_POLICY=") + s;
    return "libgomp's default spinning";
}

bool runtime_restart_disabled() {
#if defined(__linux__)
    const char* no_restart = std::getenv("CAUSALGRAD_NO_RESTART");
    const char* preload = std::getenv("LD_PRELOAD");
    return (no_restart && std::string(no_restart) == "1") ||
           (preload && std::string(preload).find("vgpreload") != std::string::npos);
#else
    return true;  // the settings are glibc's and libgomp's, and the restart goes through /proc
#endif
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
    // Under a user-mode emulator (qemu-aarch64 on x86) /proc/self/exe is the emulator
    // itself, which will not run as this program; the program's own path, which the
    // emulator reports for the link, then starts it again (through binfmt_misc).
    char self[4096];
    const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        execv(self, argv);
    }
    std::cerr << "causalgrad: could not restart itself with its runtime settings (" << std::strerror(errno)
              << "); continuing without (set GOMP_SPINCOUNT and GLIBC_TUNABLES, or CAUSALGRAD_NO_RESTART=1, to start as is)\n";
}

}  // namespace cg
