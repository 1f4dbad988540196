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

int set_num_threads(int threads) {
    if (threads < 0) fail("threads", "must be 0 (all cores) or positive, got " + std::to_string(threads));
    if (threads > 0) {
        omp_set_num_threads(threads);
        openblas_set_num_threads(threads);
    }
    return omp_get_max_threads();
}

}  // namespace cg
