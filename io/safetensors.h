// The safetensors format (https://github.com/huggingface/safetensors), read
// and written without dependencies:
//
//   8 bytes   N, the header's length (uint64, little-endian)
//   N bytes   JSON: {"__metadata__": {str: str}, NAME: {"dtype": "F32",
//             "shape": [d0, ...], "data_offsets": [begin, end]}, ...}
//   the data  every tensor's bytes, row-major, at [begin, end) of this section
//
// The reader checks everything (header length, JSON syntax, dtypes, shapes
// against byte counts, offsets in bounds, no overlaps or holes, unique names)
// and converts F16 and BF16 to float32.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace cg {

using Metadata = std::vector<std::pair<std::string, std::string>>;

struct StoredTensor {
    std::string name;
    std::string dtype;            // as the file stores it: F32, F16 or BF16
    std::vector<int64_t> shape;
    std::vector<float> values;    // converted to float32
};

struct SafetensorsFile {
    Metadata metadata;
    std::vector<StoredTensor> tensors;  // in header order
    const StoredTensor* find(const std::string& name) const;       // nullptr when absent
    const std::string* meta(const std::string& key) const;         // nullptr when absent
};

// Throws "[safetensors] 'PATH': ..." naming the first problem found.
SafetensorsFile read_safetensors(const std::string& path);
// The same from the file's bytes (`path` only names it in messages).
SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& path);

// A float32 tensor to write; `data` holds prod(shape) floats.
struct TensorToWrite {
    std::string name;
    std::vector<int64_t> shape;
    const float* data;
};
// Writes F32 tensors in the given order with string metadata, through a
// temporary file renamed over `path`, so a failure leaves no half-written file.
void write_safetensors(const std::string& path, const Metadata& metadata,
                       const std::vector<TensorToWrite>& tensors);

}  // namespace cg
