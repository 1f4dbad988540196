// libFuzzer target: the log.csv reader a resume runs before rewriting the log.
#include <cstddef>
#include <cstdint>
#include <string>

#include "tensor/tensor.h"
#include "train/run_log.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    // Strictly, as plot and the tests read it, and as a resume does, dropping a damaged last line.
    for (bool tolerate_damaged_tail : {false, true}) {
        try {
            cg::parse_run_log(text, "fuzz.csv", tolerate_damaged_tail);
        } catch (const cg::Error&) {
        }
    }
    return 0;
}
