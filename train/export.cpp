#include "train/export.h"

#include <sys/stat.h>

#include <fstream>

#include "train/safe_file.h"

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
// An existing file may be replaced only if it is a regular file that starts
// as safetensors do: an 8-byte header length, then the JSON header's '{'.
void check_export_target(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return;  // a new file
    if (!S_ISREG(st.st_mode))
        fail("export", "'" + path + "' exists and is not a regular file; give a new file name with --to");
    std::ifstream in(path, std::ios::binary);
    char head[9] = {};
    in.read(head, 9);
    if (!in || head[8] != '{')
        fail("export", "'" + path + "' exists and is not a safetensors file (a checkpoint, log or data?); "
                       "export replaces only an earlier export: give a new file name with --to");
}
}  // namespace

void export_safetensors(GPT& model, const std::string& path) {
    check_export_target(path);
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

    const uint64_t n = header.size();
    std::string bytes(reinterpret_cast<const char*>(&n), 8);  // little-endian on every machine we build for
    bytes += header;
    for (Parameter* p : params)
        bytes.append(reinterpret_cast<const char*>(p->value.data), static_cast<size_t>(p->value.numel()) * 4);
    write_file_atomically(path, bytes, "export");
}

}  // namespace cg
