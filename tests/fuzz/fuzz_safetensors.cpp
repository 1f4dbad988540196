// libFuzzer target: the safetensors reader, and the import that maps a file's
// names, shapes and metadata onto a model. The input is used as a whole file,
// and as a JSON header wrapped with a valid length and 4 KB of data, so the
// checks behind the length are reached too. Any cg::Error is a correct
// answer; a crash, hang or leak is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "tensor/tensor.h"
#include "tools/import.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string bytes(reinterpret_cast<const char*>(data), size);
    std::string wrapped(8, '\0');
    for (int k = 0; k < 8; k++) wrapped[k] = static_cast<char>((static_cast<uint64_t>(size) >> (8 * k)) & 0xff);
    wrapped += bytes + std::string(4096, '\0');
    for (const std::string& file : {bytes, wrapped}) {
        try {
            const cg::SafetensorsFile f = cg::parse_safetensors(file, "fuzz.safetensors");
            cg::ImportOptions options;
            options.settings = {{"n_head", "1"}};
            cg::import_model(f, "fuzz.safetensors", options);
        } catch (const cg::Error&) {
        }
    }
    return 0;
}
