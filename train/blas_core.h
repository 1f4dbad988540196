// Making sure OpenBLAS runs kernels that fit the processor.
//
// OpenBLAS picks its kernels when it loads, from the CPU model it recognises.
// A distribution build older than the processor (Debian's 0.3.21 on recent
// AVX-512 CPUs) does not recognise it and falls back to generic "Prescott"
// kernels, about five times slower. OPENBLAS_CORETYPE overrides the choice,
// but only before OpenBLAS loads, so the program sets it and starts itself
// again.
#pragma once

#include <string>

namespace cg {

// The kernel family to ask for on this CPU ("SkylakeX" with AVX-512,
// "Haswell" with AVX2), or "" when the CPU has neither.
std::string best_blas_core();
// True for kernel families without AVX2 code (Prescott, Core2, ...).
bool is_generic_blas_core(const std::string& core);

// Called first in main(): when OpenBLAS chose a generic core on a CPU with
// AVX2 or AVX-512 and the user did not set OPENBLAS_CORETYPE, sets it, says
// so in one line on stderr, and re-executes the program (does not return).
void ensure_fast_blas_core(char** argv);

}  // namespace cg
