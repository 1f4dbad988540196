// Helpers that tests of every layer use: a tensor's values in logical order
// (the one strided reader), looking into strings and error messages, files in
// a temporary folder, and the relative error of two results. The model-level helpers are in tests/model_helpers.h, the
// autograd ones in tests/grad_check.h.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace cg {

// The elements of t in row-major logical order, following its strides (views
// included), so the result does not depend on how the tensor is laid out.
inline std::vector<float> values_of(const Tensor& t) {
    std::vector<float> out;
    out.reserve(static_cast<size_t>(t.numel()));
    int64_t index[kMaxDims] = {0, 0, 0, 0};
    for (int64_t n = 0; n < t.numel(); ++n) {
        int64_t offset = 0;
        for (int d = 0; d < t.ndim(); ++d) offset += index[d] * t.strides[d];
        out.push_back(t.data[offset]);
        for (int d = t.ndim() - 1; d >= 0; --d) {  // odometer step, last dim fastest
            if (++index[d] < t.shape.dims[d]) break;
            index[d] = 0;
        }
    }
    return out;
}

inline bool starts_with(const std::string& s, const std::string& prefix) {
    return s.compare(0, prefix.size(), prefix) == 0;
}
inline bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// The message of the cg::Error that f throws, "" if it throws none (so a check
// on the message fails, and CHECK(!error_of(f).empty()) says f threw).
inline std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

// max|ours - theirs| / max(max|theirs|, tiny): the largest difference relative
// to the largest magnitude of the reference (tests/test_parity.cpp says why
// this measure and not an element-wise one).
inline double rel_err(const std::vector<float>& ours, const std::vector<float>& theirs) {
    REQUIRE(ours.size() == theirs.size());
    double diff = 0.0, scale = 1e-30;
    for (size_t i = 0; i < ours.size(); i++) {
        diff = std::max(diff, std::fabs(static_cast<double>(ours[i]) - theirs[i]));
        scale = std::max(scale, std::fabs(static_cast<double>(theirs[i])));
    }
    return diff / scale;
}

// The whole file; the test stops if it cannot be opened.
inline std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE_MESSAGE(in, "cannot open " << path);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Writes bytes to path, making the folders on the way; the test stops if it cannot.
inline void write_file(const std::filesystem::path& path, const std::string& bytes) {
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    REQUIRE_MESSAGE(out, "cannot write " << path);
}

// A fresh folder under the system temp dir, causalgrad-<tag>-<random>,
// removed with everything in it at scope exit.
struct TempDir {
    std::filesystem::path path;
    explicit TempDir(const std::string& tag = "test") {
        std::random_device rd;
        path = std::filesystem::temp_directory_path() /
               ("causalgrad-" + tag + "-" + std::to_string(rd()) + "-" + std::to_string(rd()));
        std::filesystem::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    // The path of `name` in the folder.
    std::string operator/(const std::string& name) const { return (path / name).string(); }
    // Writes `name` in the folder and returns its path.
    std::string write(const std::string& name, const std::string& bytes) const {
        write_file(path / name, bytes);
        return *this / name;
    }
};

}  // namespace cg
