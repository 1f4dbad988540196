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

}  // namespace cg
