// The doctest runner: main() lives here; every other tests/*.cpp file only adds TEST_CASEs.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
