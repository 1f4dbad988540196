// UTF-8 text to Unicode code points and back, for the vocabulary and JSON.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cg {

std::vector<uint32_t> utf8_to_code_points(const std::string& text);  // throws on invalid UTF-8
std::string code_point_to_utf8(uint32_t cp);

}  // namespace cg
