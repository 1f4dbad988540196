// Where the PyTorch fixtures live (tests/parity) and how results are compared
// with them: shared by the parity and the safetensors import tests.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <string>
#include <vector>

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

// max|ours - theirs| / max(max|theirs|, tiny); see tests/test_parity.cpp.
inline double rel_err(const std::vector<float>& ours, const std::vector<float>& theirs) {
    REQUIRE(ours.size() == theirs.size());
    double diff = 0.0, scale = 1e-30;
    for (size_t i = 0; i < ours.size(); i++) {
        diff = std::max(diff, std::fabs(static_cast<double>(ours[i]) - theirs[i]));
        scale = std::max(scale, std::fabs(static_cast<double>(theirs[i])));
    }
    return diff / scale;
}

}  // namespace cg
