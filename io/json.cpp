#include "io/json.h"

#include <cerrno>
#include <cstdlib>

#include "tensor/tensor.h"
#include "io/utf8.h"

namespace cg {

const Json* Json::find(const std::string& key) const {
    for (const auto& [k, v] : members)
        if (k == key) return &v;
    return nullptr;
}

namespace {

constexpr int kMaxDepth = 64;  // deeper nesting is no header of ours; stops stack exhaustion

struct Parser {
    const std::string& s;
    size_t i = 0;

    [[noreturn]] void bad(const std::string& what) const {
        fail("json", what + " at byte " + std::to_string(i) + " of " + std::to_string(s.size()));
    }
    void ws() {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r')) i++;
    }
    char peek() {
        ws();
        if (i >= s.size()) bad("unexpected end of text");
        return s[i];
    }
    void expect(char c) {
        if (peek() != c) bad(std::string("expected '") + c + "', found '" + s[i] + "'");
        i++;
    }
    uint32_t hex4() {
        if (i + 4 > s.size()) bad("unfinished \\u escape");
        uint32_t v = 0;
        for (int k = 0; k < 4; k++, i++) {
            const char c = s[i];
            const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (d < 0) bad("bad hex digit in \\u escape");
            v = v * 16 + static_cast<uint32_t>(d);
        }
        return v;
    }
    std::string string_value() {
        expect('"');
        std::string out;
        for (;;) {
            if (i >= s.size()) bad("unterminated string");
            const char c = s[i++];
            if (c == '"') return out;
            if (static_cast<unsigned char>(c) < 0x20) bad("control character in string");
            if (c != '\\') {
                out += c;
                continue;
            }
            if (i >= s.size()) bad("unterminated string");
            const char e = s[i++];
            switch (e) {
                case '"': case '\\': case '/': out += e; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    uint32_t cp = hex4();
                    if (cp >= 0xD800 && cp < 0xDC00) {  // a high surrogate: its low half must follow
                        if (s.compare(i, 2, "\\u") != 0) bad("lone surrogate in \\u escape");
                        i += 2;
                        const uint32_t low = hex4();
                        if (low < 0xDC00 || low >= 0xE000) bad("bad surrogate pair in \\u escape");
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    } else if (cp >= 0xDC00 && cp < 0xE000) {
                        bad("lone surrogate in \\u escape");
                    }
                    out += code_point_to_utf8(cp);
                    break;
                }
                default: bad(std::string("unknown escape '\\") + e + "'");
            }
        }
    }
    // JSON's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
    std::string number_text() {
        const size_t start = i;
        auto digits = [&] {
            const size_t from = i;
            while (i < s.size() && s[i] >= '0' && s[i] <= '9') i++;
            if (i == from) bad("malformed number");
        };
        if (s[i] == '-') i++;
        if (i < s.size() && s[i] == '0') i++;
        else digits();
        if (i < s.size() && s[i] == '.') { i++; digits(); }
        if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
            i++;
            if (i < s.size() && (s[i] == '+' || s[i] == '-')) i++;
            digits();
        }
        return s.substr(start, i - start);
    }
    Json value(int depth) {
        if (depth > kMaxDepth) bad("nesting deeper than " + std::to_string(kMaxDepth));
        Json v;
        const char c = peek();
        if (c == '{' || c == '[') {
            const bool is_object = c == '{';
            const char close = is_object ? '}' : ']';
            v.kind = is_object ? Json::object : Json::array;
            i++;
            if (peek() == close) { i++; return v; }
            for (;;) {
                if (is_object) {
                    std::string key = string_value();
                    expect(':');
                    v.members.emplace_back(std::move(key), value(depth + 1));
                } else {
                    v.items.push_back(value(depth + 1));
                }
                if (peek() == ',') { i++; continue; }
                expect(close);
                return v;
            }
        }
        if (c == '"') {
            v.kind = Json::string;
            v.text = string_value();
            return v;
        }
        for (const char* word : {"true", "false", "null"}) {
            if (s.compare(i, std::char_traits<char>::length(word), word) == 0) {
                i += std::char_traits<char>::length(word);
                v.kind = word[0] == 'n' ? Json::null : Json::boolean;
                v.flag = word[0] == 't';
                return v;
            }
        }
        if (c != '-' && (c < '0' || c > '9')) bad(std::string("unexpected character '") + c + "'");
        v.kind = Json::number;
        v.text = number_text();
        return v;
    }
};

}  // namespace

Json parse_json(const std::string& text) {
    Parser p{text};
    Json root = p.value(0);
    p.ws();
    if (p.i != text.size()) p.bad("text after the JSON value");
    return root;
}

uint64_t json_uint(const Json& v, const std::string& what) {
    const bool digits_only = v.kind == Json::number && v.text.find_first_not_of("0123456789") == std::string::npos;
    if (!digits_only) fail("json", what + " must be a non-negative integer, got " + (v.kind == Json::number ? v.text : "a non-number"));
    errno = 0;
    const unsigned long long n = std::strtoull(v.text.c_str(), nullptr, 10);
    if (errno == ERANGE) fail("json", what + " " + v.text + " is too large");
    return n;
}

}  // namespace cg
