#include "io/safetensors.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "tensor/tensor.h"
#include "io/json.h"
#include "io/safe_file.h"

namespace cg {

const StoredTensor* SafetensorsFile::find(const std::string& name) const {
    for (const StoredTensor& t : tensors)
        if (t.name == name) return &t;
    return nullptr;
}

const std::string* SafetensorsFile::meta(const std::string& key) const {
    for (const auto& [k, v] : metadata)
        if (k == key) return &v;
    return nullptr;
}

namespace {

constexpr uint64_t kMaxHeaderBytes = 100u << 20;  // the reference implementation's limit

float half_to_float(uint16_t h) {
    const uint32_t sign = (h >> 15) & 1u, exponent = (h >> 10) & 0x1Fu, mantissa = h & 0x3FFu;
    if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24
        const float v = std::ldexp(static_cast<float>(mantissa), -24);
        return sign ? -v : v;
    }
    // Normal numbers rebias the exponent (15 -> 127); inf and NaN keep an all-ones exponent.
    const uint32_t bits = (sign << 31) | ((exponent == 31 ? 255u : exponent + 112u) << 23) | (mantissa << 13);
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

float bfloat16_to_float(uint16_t h) {  // bfloat16 is the top half of a float32
    const uint32_t bits = static_cast<uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

size_t dtype_bytes(const std::string& dtype) { return dtype == "F32" ? 4 : dtype == "F16" || dtype == "BF16" ? 2 : 0; }

void convert(const char* bytes, StoredTensor& t) {
    const size_t n = t.values.size();
    if (n == 0) return;  // an empty tensor: values.data() may be null, which memcpy must not get
    if (t.dtype == "F32") {
        std::memcpy(t.values.data(), bytes, n * 4);  // little-endian host, as the format
        return;
    }
    for (size_t k = 0; k < n; k++) {
        uint16_t h;
        std::memcpy(&h, bytes + 2 * k, 2);
        t.values[k] = t.dtype == "F16" ? half_to_float(h) : bfloat16_to_float(h);
    }
}

std::string json_string(const std::string& s) {
    std::string out = "\"";
    for (char ch : s) {
        if (ch == '"' || ch == '\\') {
            out += '\\';
            out += ch;
        } else if (static_cast<unsigned char>(ch) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(ch));
            out += buf;
        } else {
            out += ch;
        }
    }
    return out + "\"";
}

struct Range {
    uint64_t begin, end;
    std::string name;
};

}  // namespace

SafetensorsFile read_safetensors(const std::string& path) {
    return parse_safetensors(read_regular_file(path, "safetensors"), path);  // a folder or a missing file: said plainly
}

SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& path) {
    auto bad = [&path](const std::string& what) { fail("safetensors", "'" + path + "': " + what); };
    if (bytes.size() < 8) bad("only " + std::to_string(bytes.size()) + " bytes; a safetensors file starts with an 8-byte header length");
    uint64_t n = 0;
    for (int k = 7; k >= 0; k--) n = (n << 8) | static_cast<unsigned char>(bytes[k]);
    if (n == 0 || n > bytes.size() - 8 || n > kMaxHeaderBytes)
        bad("header length " + std::to_string(n) + " does not fit the " + std::to_string(bytes.size() - 8) +
            " bytes after it (or 100 MB); the file is truncated or not safetensors");
    Json root;
    try {
        root = parse_json(bytes.substr(8, n));
    } catch (const Error& e) {
        bad(std::string("the header is not valid JSON: ") + e.what());
    }
    if (root.kind != Json::object) bad("the header is not a JSON object");
    const uint64_t data_size = bytes.size() - 8 - n;
    const char* data = bytes.data() + 8 + n;

    SafetensorsFile file;
    std::vector<Range> ranges;
    for (const auto& [name, entry] : root.members) {
        if (name == "__metadata__") {
            if (entry.kind != Json::object) bad("__metadata__ is not an object of strings");
            for (const auto& [k, v] : entry.members) {
                if (v.kind != Json::string) bad("__metadata__ value of '" + k + "' is not a string");
                file.metadata.emplace_back(k, v.text);
            }
            continue;
        }
        const std::string what = "tensor '" + name + "'";
        if (file.find(name)) bad(what + " appears twice");
        if (entry.kind != Json::object) bad(what + " is not described by an object");
        for (const auto& member : entry.members)
            if (member.first != "dtype" && member.first != "shape" && member.first != "data_offsets")
                bad(what + " has an unknown field '" + member.first + "'");
        const Json *dtype = entry.find("dtype"), *shape = entry.find("shape"), *offsets = entry.find("data_offsets");
        if (!dtype || !shape || !offsets) bad(what + " needs dtype, shape and data_offsets");
        if (dtype->kind != Json::string) bad(what + ": dtype is not a string");
        StoredTensor t;
        t.name = name;
        t.dtype = dtype->text;
        const size_t item = dtype_bytes(t.dtype);
        if (item == 0) bad(what + " has dtype '" + t.dtype + "'; only F32, F16 and BF16 are read (convert it to float32)");
        if (shape->kind != Json::array) bad(what + ": shape is not an array");
        uint64_t numel = 1;
        try {
            for (const Json& d : shape->items) {
                const uint64_t dim = json_uint(d, what + " shape entry");
                // Bounded by the data size, so the product cannot overflow.
                if (dim > data_size || (dim > 0 && numel > data_size / dim)) bad(what + " has a shape larger than the file's data");
                numel *= dim;
                t.shape.push_back(static_cast<int64_t>(dim));
            }
            if (offsets->kind != Json::array || offsets->items.size() != 2) bad(what + ": data_offsets is not [begin, end]");
            Range r{json_uint(offsets->items[0], what + " begin"), json_uint(offsets->items[1], what + " end"), name};
            if (r.begin > r.end || r.end > data_size)
                bad(what + " has data_offsets [" + std::to_string(r.begin) + ", " + std::to_string(r.end) +
                    "] outside the " + std::to_string(data_size) + " data bytes");
            if (r.end - r.begin != numel * item)
                bad(what + " has " + std::to_string(r.end - r.begin) + " bytes for " + std::to_string(numel) + " " +
                    t.dtype + " values (" + std::to_string(numel * item) + " bytes)");
            ranges.push_back(r);
        } catch (const Error& e) {
            if (std::string(e.what()).rfind("[json]", 0) == 0) bad(e.what());
            throw;
        }
        t.values.resize(numel);
        convert(data + ranges.back().begin, t);
        file.tensors.push_back(std::move(t));
    }
    // The ranges tile the data section: no overlaps, no holes.
    std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) { return a.begin < b.begin; });
    uint64_t at = 0;
    for (const Range& r : ranges) {
        if (r.begin < at) bad("tensor '" + r.name + "' overlaps the tensor before it (its data starts at " + std::to_string(r.begin) + ", before " + std::to_string(at) + ")");
        if (r.begin > at) bad("data bytes [" + std::to_string(at) + ", " + std::to_string(r.begin) + ") belong to no tensor");
        at = r.end;
    }
    if (at != data_size) bad("data bytes [" + std::to_string(at) + ", " + std::to_string(data_size) + ") belong to no tensor");
    return file;
}

void write_safetensors(const std::string& path, const Metadata& metadata, const std::vector<TensorToWrite>& tensors) {
    std::string header = "{\"__metadata__\":{";
    for (size_t i = 0; i < metadata.size(); i++)
        header += (i ? "," : "") + json_string(metadata[i].first) + ":" + json_string(metadata[i].second);
    header += "}";
    uint64_t offset = 0;
    for (const TensorToWrite& t : tensors) {
        uint64_t numel = 1;
        header += "," + json_string(t.name) + ":{\"dtype\":\"F32\",\"shape\":[";
        for (size_t i = 0; i < t.shape.size(); i++) {
            header += (i ? "," : "") + std::to_string(t.shape[i]);
            numel *= static_cast<uint64_t>(t.shape[i]);
        }
        header += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + 4 * numel) + "]}";
        offset += 4 * numel;
    }
    header += "}";
    while (header.size() % 8 != 0) header += ' ';  // keeps the data 8-byte aligned

    const uint64_t n = header.size();
    std::string bytes(reinterpret_cast<const char*>(&n), 8);  // little-endian on every machine we build for
    bytes += header;
    for (const TensorToWrite& t : tensors) {
        int64_t numel = 1;
        for (int64_t d : t.shape) numel *= d;
        bytes.append(reinterpret_cast<const char*>(t.data), static_cast<size_t>(numel) * 4);
    }
    write_file_atomically(path, bytes, "safetensors");
}

}  // namespace cg
