#include "io/crc32.h"

#include <array>

namespace cg {

namespace {
// table[b]: the CRC of the single byte b, so each byte costs one lookup.
std::array<uint32_t, 256> make_table() {
    std::array<uint32_t, 256> table{};
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t c = b;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[b] = c;
    }
    return table;
}
}  // namespace

uint32_t crc32(const void* data, size_t n, uint32_t crc) {
    static const std::array<uint32_t, 256> table = make_table();
    const auto* p = static_cast<const unsigned char*>(data);
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

}  // namespace cg
