// CRC-32 (the IEEE 802.3 / zlib polynomial, reflected, 0xEDB88320), table-driven:
// crc32("123456789") == 0xCBF43926. Checkpoints carry one over their payload.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cg {

// Continues `crc` (0 to start) over n bytes.
uint32_t crc32(const void* data, size_t n, uint32_t crc = 0);

}  // namespace cg
