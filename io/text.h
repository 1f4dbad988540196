// Numbers as text for tables and logs: one formatter, so every file prints
// the same way.
#pragma once

#include <string>

namespace cg {

// One number through a printf format: fmt("%.4f", 1.88445) -> "1.8845".
std::string fmt(const char* format, double v);

}  // namespace cg
