// The doctest runner: main() lives here; every other tests/*.cpp file only adds TEST_CASEs.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "tensor/runtime_setup.h"

int main(int argc, char** argv) {
    // causalgrad's OpenMP, OpenBLAS and malloc settings, but a shorter spin
    // (kTestSpinCount): the suite is thousands of tiny parallel loops
    cg::restart_with_runtime_settings(argv, cg::kTestSpinCount);
    doctest::Context context(argc, argv);
    return context.run();
}
