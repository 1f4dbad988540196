#include "io/text.h"

#include <cstdio>

namespace cg {

std::string fmt(const char* format, double v) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), format, v);
    return buf;
}

}  // namespace cg
