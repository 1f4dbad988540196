#include "io/utf8.h"

#include "tensor/tensor.h"

namespace cg {

// Strict UTF-8: rejects stray continuation bytes, truncated sequences,
// overlong forms, surrogates and code points past U+10FFFF, so prepared data
// always decodes back to the input bytes.
std::vector<uint32_t> utf8_to_code_points(const std::string& text) {
    std::vector<uint32_t> out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        const int len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        auto bad = [&](size_t at) {
            fail("utf8", "invalid UTF-8 at byte " + std::to_string(at) + "; the input must be UTF-8 text");
        };
        if (len == 0 || i + len > text.size()) bad(i);
        uint32_t cp = len == 1 ? c : c & (0x7F >> len);
        for (int k = 1; k < len; k++) {
            const auto d = static_cast<unsigned char>(text[i + k]);
            if ((d >> 6) != 0x2) bad(i + k);
            cp = (cp << 6) | (d & 0x3F);
        }
        const uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};  // shortest form of each length
        if (cp < smallest[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) bad(i);
        out.push_back(cp);
        i += len;
    }
    return out;
}

std::string code_point_to_utf8(uint32_t cp) {
    std::string s;
    if (cp < 0x80) {
        s += static_cast<char>(cp);
    } else if (cp < 0x800) {
        s += static_cast<char>(0xC0 | (cp >> 6));
        s += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        s += static_cast<char>(0xE0 | (cp >> 12));
        s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        s += static_cast<char>(0xF0 | (cp >> 18));
        s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        s += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return s;
}

}  // namespace cg
