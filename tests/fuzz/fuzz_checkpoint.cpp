// libFuzzer target: the checkpoint reader. The input is used twice: as a whole
// file (which the CRC almost always rejects), and as a payload wrapped with a
// valid header and CRC, so the parser behind the checksum is reached too.
// Any cg::Error is a correct answer; a crash, hang or leak is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "train/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string bytes(reinterpret_cast<const char*>(data), size);
    for (const std::string& file : {bytes, cg::wrap_checkpoint_payload(bytes)}) {
        try {
            cg::parse_checkpoint(file, "fuzz.bin");
        } catch (const cg::Error&) {
        }
    }
    return 0;
}
