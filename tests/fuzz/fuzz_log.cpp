// libFuzzer target: the log.csv reader, as a resume runs it before rewriting the log and as plot runs it.
#include <cstddef>
#include <cstdint>
#include <string>

#include "tensor/tensor.h"
#include "train/run_log.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    // Strictly, as the tests read it, and as a resume does, dropping a damaged last line; then as plot does.
    for (bool tolerate_damaged_tail : {false, true}) {
        try {
            cg::parse_run_log(text, "fuzz.csv", cg::LogRows::as_written, tolerate_damaged_tail);
        } catch (const cg::Error&) {
        }
    }
    try {
        cg::parse_run_log(text, "fuzz.csv", cg::LogRows::losses);
    } catch (const cg::Error&) {
    }
    return 0;
}
