// A small JSON reader, enough for the safetensors header: objects keep their
// members in file order, numbers keep their text (so 64-bit offsets are read
// exactly), strings are decoded to UTF-8 (\uXXXX escapes and surrogate pairs).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace cg {

struct Json {
    enum Kind { null, boolean, number, string, array, object } kind = null;
    bool flag = false;     // boolean
    std::string text;      // string: the decoded value; number: its text as written
    std::vector<Json> items;                            // array
    std::vector<std::pair<std::string, Json>> members;  // object, in file order
    const Json* find(const std::string& key) const;     // nullptr when absent
};

// Parses one JSON value; only whitespace may follow it. Throws "[json] ..."
// with the byte position of the first problem.
Json parse_json(const std::string& text);

// A number that is a non-negative integer below 2^64, else throws naming `what`.
uint64_t json_uint(const Json& value, const std::string& what);

}  // namespace cg
