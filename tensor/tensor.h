// A float32 n-d tensor (up to 4 dims) over reference-counted storage.
//
// Storage comes from a pool that keeps freed buffers by size, so a training
// step that makes the same tensors every time allocates nothing on the heap
// once the first step has run. Views (reshape, transpose, permute, slice) share
// storage and only change shape, strides and offset; kernels that need
// contiguous memory call contiguous(), which copies only when it must.
//
// Not thread-safe: tensors are created and released on the main thread only;
// OpenMP runs inside kernels, never around them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>

namespace cg {

constexpr int kMaxDims = 4;

// Every error in the library is one of these; the message starts with "[op]".
struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};
[[noreturn]] void fail(const char* op, const std::string& message);

struct Shape {
    int ndim = 0;
    int64_t dims[kMaxDims] = {0, 0, 0, 0};

    Shape() = default;
    Shape(std::initializer_list<int64_t> d);
    int64_t numel() const;
    int64_t operator[](int i) const { return dims[i < 0 ? ndim + i : i]; }
    bool operator==(const Shape& o) const;
    bool operator!=(const Shape& o) const { return !(*this == o); }
    std::string str() const;  // "(4,64,128)"
};

// A buffer handed out by the pool; refs counts the tensors that point into it.
struct Storage {
    float* data = nullptr;
    int64_t size = 0;
    int refs = 0;
};

// Pool counters, to prove the steady state allocates nothing.
struct PoolStats {
    int64_t fresh_allocations = 0;  // buffers obtained from the system
    int64_t reuses = 0;             // buffers handed out again from the pool
    int64_t bytes_in_use = 0;
    int64_t bytes_pooled = 0;       // idle, kept for reuse
};
PoolStats pool_stats();
void pool_release_idle();  // frees the idle buffers (e.g. after evaluation)

struct Tensor {
    Shape shape;
    int64_t strides[kMaxDims] = {0, 0, 0, 0};  // in elements
    float* data = nullptr;                     // first element (storage + offset)
    Storage* storage = nullptr;

    Tensor() = default;
    Tensor(const Tensor& o);
    Tensor(Tensor&& o) noexcept;
    Tensor& operator=(const Tensor& o);
    Tensor& operator=(Tensor&& o) noexcept;
    ~Tensor();

    bool defined() const { return storage != nullptr; }
    int ndim() const { return shape.ndim; }
    int64_t size(int i) const { return shape[i]; }
    int64_t numel() const { return shape.numel(); }
    bool is_contiguous() const;

    // Element access for tests and small loops (respects strides).
    float& at(std::initializer_list<int64_t> index) const;
    float item() const;  // the single value of a one-element tensor

    // Views: share storage, no copy.
    Tensor reshape(Shape s) const;  // contiguous tensors only; one dim may be -1
    Tensor transpose(int d0, int d1) const;
    Tensor permute(std::initializer_list<int> order) const;
    Tensor slice(int dim, int64_t start, int64_t length) const;
    // This tensor if contiguous, else a contiguous copy.
    Tensor contiguous() const;
    Tensor clone() const;  // always a contiguous copy
};

// Factories. Contents of empty() are unspecified.
Tensor empty(Shape s);
Tensor zeros(Shape s);
Tensor full(Shape s, float value);
Tensor from_values(Shape s, std::initializer_list<float> values);
Tensor from_data(Shape s, const float* values);  // copies s.numel() floats

// Shape-agnostic helpers over contiguous or strided tensors.
void fill(const Tensor& t, float value);
void copy_into(const Tensor& dst, const Tensor& src);        // dst = src (same shape)
void accumulate_into(const Tensor& dst, const Tensor& src);  // dst += src (same shape)

// Requires the tensor's shape to equal `want`; otherwise throws
// "[op] <what> has shape (..), expected (..)".
void check_shape(const char* op, const char* what, const Tensor& t, const Shape& want);
void check_contiguous(const char* op, const char* what, const Tensor& t);

}  // namespace cg
