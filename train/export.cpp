#include "train/export.h"

#include <filesystem>
#include <fstream>

namespace cg {

namespace {
std::string json_string(const std::string& s) {
    std::string out = "\"";
    for (char ch : s) {
        if (ch == '"' || ch == '\\') out += '\\';
        out += ch;
    }
    return out + "\"";
}
}  // namespace

void export_safetensors(GPT& model, const std::string& path) {
    const GPTConfig& c = model.config;
    auto b = [](bool v) { return std::string(v ? "true" : "false"); };
    const std::pair<std::string, std::string> metadata[] = {
        {"n_layer", std::to_string(c.n_layer)}, {"n_head", std::to_string(c.n_head)},
        {"n_embd", std::to_string(c.n_embd)}, {"block_size", std::to_string(c.block_size)},
        {"vocab_size", std::to_string(c.vocab_size)}, {"bias", b(c.bias)},
        {"mixer", c.mixer}, {"activation", c.activation}, {"mixer_vproj", b(c.mixer_vproj)},
    };
    std::string header = "{\"__metadata__\":{";
    for (size_t i = 0; i < std::size(metadata); i++)
        header += (i ? "," : "") + json_string(metadata[i].first) + ":" + json_string(metadata[i].second);
    header += "}";
    std::vector<Parameter*> params = gpt_parameters(model);
    uint64_t offset = 0;
    for (Parameter* p : params) {
        const uint64_t bytes = static_cast<uint64_t>(p->value.numel()) * 4;
        header += "," + json_string(p->name) + ":{\"dtype\":\"F32\",\"shape\":[";
        for (int i = 0; i < p->value.ndim(); i++) header += (i ? "," : "") + std::to_string(p->value.shape[i]);
        header += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + bytes) + "]}";
        offset += bytes;
    }
    header += "}";
    while (header.size() % 8 != 0) header += ' ';  // keeps the data 8-byte aligned

    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary);
        if (!out) fail("export", "cannot write '" + tmp + "'");
        const uint64_t n = header.size();
        out.write(reinterpret_cast<const char*>(&n), 8);  // little-endian on every machine we build for
        out.write(header.data(), static_cast<std::streamsize>(n));
        for (Parameter* p : params)
            out.write(reinterpret_cast<const char*>(p->value.data), p->value.numel() * 4);
        if (!out) fail("export", "writing '" + tmp + "' failed (disk full?)");
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) fail("export", "cannot move '" + tmp + "' to '" + path + "': " + ec.message());
}

}  // namespace cg
