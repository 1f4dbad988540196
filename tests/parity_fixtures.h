// Where the PyTorch fixtures live (tests/parity) and the tolerance of a
// comparison with them (rel_err, in tests/helpers.h): shared by the parity and
// the safetensors import tests.
#pragma once

#include <doctest/doctest.h>

#include <fstream>
#include <string>
#include <vector>

#include "tests/helpers.h"

namespace cg {

// The tolerance of every comparison with PyTorch (tests/parity/README.md says why).
constexpr double kTol = 1e-4;

inline bool file_exists(const std::string& path) { return std::ifstream(path, std::ios::binary).good(); }

// tests/parity relative to this source file (CMake compiles it by absolute
// path), else relative to the working directory: the repo root (make test),
// build/, or a build dir one level deeper.
inline std::string fixture_dir() {
    std::string here = __FILE__;
    const size_t slash = here.find_last_of('/');
    here = slash == std::string::npos ? "." : here.substr(0, slash);
    const std::vector<std::string> candidates = {here + "/parity", "tests/parity", "../tests/parity",
                                                 "../../tests/parity"};
    for (const std::string& dir : candidates)
        if (file_exists(dir + "/make_fixtures.py")) return dir;
    std::string tried;
    for (const std::string& dir : candidates) tried += " " + dir;
    FAIL("parity fixtures not found; looked for make_fixtures.py in:"
         << tried << ". Run the tests from the repository root.");
    return "";
}

}  // namespace cg
