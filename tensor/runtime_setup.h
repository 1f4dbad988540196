// Settings the OpenMP and OpenBLAS runtimes read only when they load, set
// before they do: the program sets them and starts itself again.
//
// - GOMP_SPINCOUNT: how long an idle OpenMP thread spins before it sleeps.
//   Training and the other commands: 300,000 (libgomp's own default when
//   nothing is set). Next to a nice-19 program, a shorter spin let a step now
//   and then take many times its usual time (likely: the other thread fell
//   asleep while the program held the main thread's core for a moment, and
//   was slow to get its own core back). Too short a spin costs on a quiet
//   machine too: a thread that sleeps between the kernels of a step pays a
//   wake-up for each. The test suite, thousands of tiny parallel loops with
//   idle time between them, spins 30,000 times: next to busy programs a
//   spinning thread spends the process's share of the CPU on waiting.
//   The measurements: docs/performance.md.
// - OPENBLAS_CORETYPE: OpenBLAS picks its kernels from the CPU model it
//   recognises. A distribution build older than the processor (Debian's 0.3.21
//   on recent AVX-512 CPUs) falls back to generic "Prescott" kernels, about
//   five times slower.
// - GLIBC_TUNABLES=glibc.malloc.hugetlb=1: malloc asks for transparent huge
//   pages (2 MB) on what it maps; a step's tensors (tens of MB, read back in
//   the backward long after they were written) then miss the TLB far less
//   (glibc 2.35 on; older ones ignore it).
//
// A setting the user made (GOMP_SPINCOUNT, OMP_WAIT_POLICY, OPENBLAS_CORETYPE,
// GLIBC_TUNABLES) stands. CAUSALGRAD_NO_RESTART=1 keeps the program from restarting itself
// (it never does under valgrind, which would lose track of it).
#pragma once

#include <string>

namespace cg {

// The kernel family to ask for on this CPU ("SkylakeX" with AVX-512,
// "Haswell" with AVX2), or "" when the CPU has neither, and on ARM, where
// OpenBLAS identifies the core itself (from its MIDR register) and is left to it.
std::string best_blas_core();
// True for kernel families without AVX2 code (Prescott, Core2, ...).
bool is_generic_blas_core(const std::string& core);

// The vector instructions our own kernels were compiled for: "AVX-512",
// "AVX2" (e.g. a -march=haswell build on any CPU) or "SSE2" on x86; "SVE"
// (e.g. -mcpu=native on a Neoverse V1) or "NEON" on 64-bit ARM.
std::string built_for_isa();

// How idle OpenMP threads wait, for start-up tables: "GOMP_SPINCOUNT=300000", ...
std::string omp_wait_setting();

// True when the program must not restart itself: CAUSALGRAD_NO_RESTART=1,
// under valgrind, or on a system other than Linux (macOS).
bool runtime_restart_disabled();

// GOMP_SPINCOUNT for the commands, and for the test suite (see above).
constexpr int kCommandSpinCount = 300000;
constexpr int kTestSpinCount = 30000;

// Called first in main(): sets what is missing (see above) and re-executes the
// program, which then does not return; returns when nothing needs setting or
// restarting is not possible.
void restart_with_runtime_settings(char** argv, int spin_count = kCommandSpinCount);

}  // namespace cg
