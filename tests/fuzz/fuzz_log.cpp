// libFuzzer target: the log.csv reader a resume runs before rewriting the log.
#include <cstddef>
#include <cstdint>
#include <string>

#include "tensor/tensor.h"
#include "train/run_log.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        cg::parse_run_log(std::string(reinterpret_cast<const char*>(data), size), "fuzz.csv");
    } catch (const cg::Error&) {
    }
    return 0;
}
