#include "tensor/tensor.h"

#include <cstdlib>
#include <cstring>
#include <unordered_map>
#include <vector>

namespace cg {

void fail(const char* op, const std::string& message) {
    throw Error(std::string("[") + op + "] " + message);
}

// ---- Shape ------------------------------------------------------------------

Shape::Shape(std::initializer_list<int64_t> d) {
    if (d.size() > kMaxDims) fail("shape", "at most 4 dims, got " + std::to_string(d.size()));
    for (int64_t v : d) {
        if (v < 0 && v != -1) fail("shape", "negative size " + std::to_string(v));
        dims[ndim++] = v;
    }
}

int64_t Shape::numel() const {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= dims[i];
    return n;
}

bool Shape::operator==(const Shape& o) const {
    if (ndim != o.ndim) return false;
    for (int i = 0; i < ndim; i++)
        if (dims[i] != o.dims[i]) return false;
    return true;
}

std::string Shape::str() const {
    std::string s = "(";
    for (int i = 0; i < ndim; i++) s += (i ? "," : "") + std::to_string(dims[i]);
    return s + ")";
}

// ---- The storage pool -------------------------------------------------------
// Idle buffers wait in a free list per exact size: a training step asks for
// the same sizes every time, so after the first step every request is a reuse.

namespace {

struct Pool {
    std::unordered_map<int64_t, std::vector<Storage*>> idle;
    PoolStats stats;

    ~Pool() { release_idle(); }

    Storage* acquire(int64_t size) {
        auto it = idle.find(size);
        if (it != idle.end() && !it->second.empty()) {
            Storage* s = it->second.back();
            it->second.pop_back();
            stats.reuses++;
            stats.bytes_pooled -= size * 4;
            stats.bytes_in_use += size * 4;
            s->refs = 1;
            return s;
        }
        // 64-byte aligned for vector loads; at least one float so data != nullptr.
        size_t bytes = (static_cast<size_t>(size > 0 ? size : 1) * 4 + 63) / 64 * 64;
        auto* data = static_cast<float*>(std::aligned_alloc(64, bytes));
        if (!data) fail("tensor", "out of memory allocating " + std::to_string(bytes) + " bytes");
        stats.fresh_allocations++;
        stats.bytes_in_use += size * 4;
        return new Storage{data, size, 1};
    }

    void give_back(Storage* s) {
        stats.bytes_in_use -= s->size * 4;
        stats.bytes_pooled += s->size * 4;
        idle[s->size].push_back(s);
    }

    void release_idle() {
        for (auto& [size, list] : idle) {
            for (Storage* s : list) {
                std::free(s->data);
                delete s;
            }
            list.clear();
        }
        stats.bytes_pooled = 0;
    }
};

Pool& pool() {
    static Pool p;
    return p;
}

void retain(Storage* s) {
    if (s) s->refs++;
}
void release(Storage* s) {
    if (s && --s->refs == 0) pool().give_back(s);
}

void set_contiguous_strides(Tensor& t) {
    int64_t stride = 1;
    for (int i = t.shape.ndim - 1; i >= 0; i--) {
        t.strides[i] = stride;
        stride *= t.shape.dims[i];
    }
}

int normalize_dim(const char* op, int dim, int ndim) {
    int d = dim < 0 ? dim + ndim : dim;
    if (d < 0 || d >= ndim)
        fail(op, "dim " + std::to_string(dim) + " out of range for " + std::to_string(ndim) + " dims");
    return d;
}

}  // namespace

PoolStats pool_stats() { return pool().stats; }
void pool_release_idle() { pool().release_idle(); }

// ---- Tensor -------------------------------------------------------------------

Tensor::Tensor(const Tensor& o) : shape(o.shape), data(o.data), storage(o.storage) {
    std::memcpy(strides, o.strides, sizeof(strides));
    retain(storage);
}

Tensor::Tensor(Tensor&& o) noexcept : shape(o.shape), data(o.data), storage(o.storage) {
    std::memcpy(strides, o.strides, sizeof(strides));
    o.storage = nullptr;
    o.data = nullptr;
}

Tensor& Tensor::operator=(const Tensor& o) {
    if (this != &o) {
        retain(o.storage);
        release(storage);
        shape = o.shape;
        std::memcpy(strides, o.strides, sizeof(strides));
        data = o.data;
        storage = o.storage;
    }
    return *this;
}

Tensor& Tensor::operator=(Tensor&& o) noexcept {
    if (this != &o) {
        release(storage);
        shape = o.shape;
        std::memcpy(strides, o.strides, sizeof(strides));
        data = o.data;
        storage = o.storage;
        o.storage = nullptr;
        o.data = nullptr;
    }
    return *this;
}

Tensor::~Tensor() { release(storage); }

bool Tensor::is_contiguous() const {
    int64_t stride = 1;
    for (int i = shape.ndim - 1; i >= 0; i--) {
        if (shape.dims[i] != 1 && strides[i] != stride) return false;
        stride *= shape.dims[i];
    }
    return true;
}

float& Tensor::at(std::initializer_list<int64_t> index) const {
    if (static_cast<int>(index.size()) != shape.ndim)
        fail("at", std::to_string(index.size()) + " indices for a tensor of shape " + shape.str());
    int64_t offset = 0;
    int i = 0;
    for (int64_t v : index) {
        if (v < 0 || v >= shape.dims[i])
            fail("at", "index " + std::to_string(v) + " out of range in dim " + std::to_string(i) +
                           " of shape " + shape.str());
        offset += v * strides[i++];
    }
    return data[offset];
}

float Tensor::item() const {
    if (numel() != 1) fail("item", "needs one element, shape is " + shape.str());
    return data[0];
}

Tensor Tensor::reshape(Shape s) const {
    if (!is_contiguous())
        fail("reshape", "tensor of shape " + shape.str() + " is a strided view; call contiguous() first");
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < s.ndim; i++) {
        if (s.dims[i] == -1) {
            if (infer >= 0) fail("reshape", "only one dim may be -1 in " + s.str());
            infer = i;
        } else {
            known *= s.dims[i];
        }
    }
    if (infer >= 0 && known > 0 && numel() % known == 0) s.dims[infer] = numel() / known;
    if (s.numel() != numel()) fail("reshape", "cannot view " + shape.str() + " as " + s.str());
    Tensor t = *this;
    t.shape = s;
    set_contiguous_strides(t);
    return t;
}

Tensor Tensor::transpose(int d0, int d1) const {
    d0 = normalize_dim("transpose", d0, shape.ndim);
    d1 = normalize_dim("transpose", d1, shape.ndim);
    Tensor t = *this;
    std::swap(t.shape.dims[d0], t.shape.dims[d1]);
    std::swap(t.strides[d0], t.strides[d1]);
    return t;
}

Tensor Tensor::permute(std::initializer_list<int> order) const {
    if (static_cast<int>(order.size()) != shape.ndim)
        fail("permute", std::to_string(order.size()) + " dims given for shape " + shape.str());
    Tensor t = *this;
    bool seen[kMaxDims] = {false, false, false, false};
    int i = 0;
    for (int d : order) {
        d = normalize_dim("permute", d, shape.ndim);
        if (seen[d]) fail("permute", "dim " + std::to_string(d) + " repeated");
        seen[d] = true;
        t.shape.dims[i] = shape.dims[d];
        t.strides[i] = strides[d];
        i++;
    }
    return t;
}

Tensor Tensor::slice(int dim, int64_t start, int64_t length) const {
    dim = normalize_dim("slice", dim, shape.ndim);
    if (start < 0 || length < 0 || start + length > shape.dims[dim])
        fail("slice", "[" + std::to_string(start) + ", " + std::to_string(start + length) +
                          ") out of range for dim " + std::to_string(dim) + " of shape " + shape.str());
    Tensor t = *this;
    t.shape.dims[dim] = length;
    t.data = data + start * strides[dim];
    return t;
}

Tensor Tensor::contiguous() const { return is_contiguous() ? *this : clone(); }

Tensor Tensor::clone() const {
    Tensor t = empty(shape);
    copy_into(t, *this);
    return t;
}

// ---- Factories ------------------------------------------------------------------

Tensor empty(Shape s) {
    for (int i = 0; i < s.ndim; i++)
        if (s.dims[i] < 0) fail("empty", "negative size in " + s.str());
    Tensor t;
    t.shape = s;
    set_contiguous_strides(t);
    t.storage = pool().acquire(s.numel());
    t.data = t.storage->data;
    return t;
}

Tensor zeros(Shape s) { return full(s, 0.0f); }

Tensor full(Shape s, float value) {
    Tensor t = empty(s);
    fill(t, value);
    return t;
}

Tensor from_values(Shape s, std::initializer_list<float> values) {
    if (static_cast<int64_t>(values.size()) != s.numel())
        fail("from_values", std::to_string(values.size()) + " values for shape " + s.str());
    return from_data(s, values.begin());
}

Tensor from_data(Shape s, const float* values) {
    Tensor t = empty(s);
    if (s.numel() > 0) std::memcpy(t.data, values, s.numel() * sizeof(float));
    return t;
}

// ---- Strided helpers -----------------------------------------------------------
// Walk up to four dims with the strides of both tensors; the innermost loop is
// the last dim. Used for view gradients and copies, never on a hot path that a
// contiguous kernel could serve.

namespace {

template <typename F>
void for_each_pair(const Tensor& dst, const Tensor& src, F f) {
    int64_t d[kMaxDims] = {1, 1, 1, 1}, sd[kMaxDims] = {0, 0, 0, 0}, ss[kMaxDims] = {0, 0, 0, 0};
    int pad = kMaxDims - dst.shape.ndim;  // left-pad to four dims
    for (int i = 0; i < dst.shape.ndim; i++) {
        d[pad + i] = dst.shape.dims[i];
        sd[pad + i] = dst.strides[i];
        ss[pad + i] = src.strides[i];
    }
    #pragma omp parallel for collapse(2) if (dst.numel() > (1 << 16))
    for (int64_t i0 = 0; i0 < d[0]; i0++)
        for (int64_t i1 = 0; i1 < d[1]; i1++)
            for (int64_t i2 = 0; i2 < d[2]; i2++) {
                float* pd = dst.data + i0 * sd[0] + i1 * sd[1] + i2 * sd[2];
                const float* ps = src.data + i0 * ss[0] + i1 * ss[1] + i2 * ss[2];
                for (int64_t i3 = 0; i3 < d[3]; i3++) f(pd[i3 * sd[3]], ps[i3 * ss[3]]);
            }
}

}  // namespace

void fill(const Tensor& t, float value) {
    if (t.is_contiguous()) {
        float* p = t.data;
        int64_t n = t.numel();
        #pragma omp parallel for if (n > (1 << 16))
        for (int64_t i = 0; i < n; i++) p[i] = value;
        return;
    }
    for_each_pair(t, t, [value](float& d, float) { d = value; });
}

void copy_into(const Tensor& dst, const Tensor& src) {
    check_shape("copy", "source", src, dst.shape);
    if (dst.is_contiguous() && src.is_contiguous()) {
        if (dst.numel() > 0) std::memcpy(dst.data, src.data, dst.numel() * sizeof(float));
        return;
    }
    for_each_pair(dst, src, [](float& d, float s) { d = s; });
}

void accumulate_into(const Tensor& dst, const Tensor& src) {
    check_shape("accumulate", "source", src, dst.shape);
    if (dst.is_contiguous() && src.is_contiguous()) {
        float* d = dst.data;
        const float* s = src.data;
        int64_t n = dst.numel();
        #pragma omp parallel for simd if (n > (1 << 15))
        for (int64_t i = 0; i < n; i++) d[i] += s[i];
        return;
    }
    for_each_pair(dst, src, [](float& d, float s) { d += s; });
}

void check_shape(const char* op, const char* what, const Tensor& t, const Shape& want) {
    if (t.shape != want)
        fail(op, std::string(what) + " has shape " + t.shape.str() + ", expected " + want.str());
}

void check_contiguous(const char* op, const char* what, const Tensor& t) {
    if (!t.is_contiguous())
        fail(op, std::string(what) + " of shape " + t.shape.str() + " must be contiguous");
}

}  // namespace cg
