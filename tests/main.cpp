// The doctest runner: main() lives here; every other tests/*.cpp file only adds TEST_CASEs.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "train/runtime_setup.h"

int main(int argc, char** argv) {
    cg::restart_with_runtime_settings(argv);  // the same OpenMP, OpenBLAS and malloc settings as causalgrad
    doctest::Context context(argc, argv);
    return context.run();
}
