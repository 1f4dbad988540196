// What the BLAS and OpenMP runtimes chose, for the start-up table.
#include <cblas.h>
#include <omp.h>

#include "tensor/kernels.h"

namespace cg {

std::string blas_core_name() {
    const char* name = openblas_get_corename();
    return name ? name : "unknown";
}

int blas_num_threads() { return openblas_get_num_threads(); }

int omp_threads() { return omp_get_max_threads(); }

// Our kernels split every product between threads themselves (matmul.cpp),
// so OpenBLAS needs no threads of its own. OpenBLAS's OpenMP build also sets
// OpenMP's count in openblas_set_num_threads, so ours is put back. (It takes
// OpenMP's count again for a call outside a parallel region, hence
// sgemm_on_this_thread.)
void use_one_blas_thread() {
    static const bool done = [] {
        const int ours = omp_get_max_threads();
        openblas_set_num_threads(1);
        omp_set_num_threads(ours);
        return true;
    }();
    (void)done;
}

}  // namespace cg
