#include "data/dataset.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "io/safe_file.h"

namespace cg {

// vocab.txt: a header line, the size, then one code point (decimal) per line,
// so newlines and spaces in the vocabulary stay unambiguous.
std::string vocab_file_text(const Vocab& vocab) {
    std::string text = "causalgrad-vocab 1\n" + std::to_string(vocab.size()) + "\n";
    for (uint32_t cp : vocab) text += std::to_string(cp) + "\n";
    return text;
}

void write_vocab(const std::string& path, const Vocab& vocab) { write_file_atomically(path, vocab_file_text(vocab), "vocab"); }

bool is_noncharacter(uint32_t cp) { return (cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) == 0xFFFE; }

void check_vocab(const Vocab& vocab, const std::string& where) {
    std::vector<uint32_t> sorted(vocab);
    for (size_t i = 0; i < vocab.size(); i++) {
        const uint32_t cp = vocab[i];
        char hex[16];
        std::snprintf(hex, sizeof(hex), "U+%04X", static_cast<unsigned>(cp));
        const std::string entry = where + ": vocabulary entry " + std::to_string(i + 1) + " (" + hex + ")";
        if (cp > 0x10FFFF) fail("vocab", entry + " is past U+10FFFF, not a character");
        if (cp >= 0xD800 && cp <= 0xDFFF) fail("vocab", entry + " is a surrogate, which UTF-8 cannot hold");
        if (is_noncharacter(cp)) fail("vocab", entry + " is a Unicode non-character");
    }
    std::sort(sorted.begin(), sorted.end());
    const auto repeat = std::adjacent_find(sorted.begin(), sorted.end());
    if (repeat != sorted.end()) {
        char hex[16];
        std::snprintf(hex, sizeof(hex), "U+%04X", static_cast<unsigned>(*repeat));
        fail("vocab", where + ": the vocabulary holds " + hex + " twice; each character must have one token");
    }
}

Vocab read_vocab(const std::string& path) {
    std::istringstream in(read_regular_file(path, "vocab"));
    std::string magic, version, count;
    in >> magic >> version >> count;
    if (magic != "causalgrad-vocab" || version != "1")
        fail("vocab", "'" + path + "' is not a causalgrad vocabulary file (version 1)");
    // The count as written: a number too big for any integer is reported as it is.
    const bool digits = !count.empty() && count.size() <= 6 && count.find_first_not_of("0123456789") == std::string::npos;
    const int64_t n = digits ? std::stoll(count) : -1;
    if (n < 1 || n > 65536)
        fail("vocab", "'" + path + "' gives " + (count.empty() ? std::string("no") : "'" + count.substr(0, 40) + "'") +
                          " entries; expected 1 to 65536");
    Vocab v(static_cast<size_t>(n));
    for (size_t i = 0; i < v.size(); i++) {
        int64_t cp = -1;
        if (!(in >> cp)) fail("vocab", "'" + path + "' ends after " + std::to_string(i) + " of " + std::to_string(n) + " entries");
        if (cp < 0 || cp > 0x10FFFF || (i > 0 && cp <= v[i - 1]))
            fail("vocab", "'" + path + "' entry " + std::to_string(i + 1) +
                              " is not a code point above the previous one; prepare the data again");
        v[i] = static_cast<uint32_t>(cp);
    }
    std::string extra;
    if (in >> extra) fail("vocab", "'" + path + "' holds more than its " + std::to_string(n) + " entries");
    check_vocab(v, "'" + path + "'");
    return v;
}

std::string decode(const Vocab& vocab, const std::vector<int>& tokens) {
    std::string s;
    for (int t : tokens) {
        if (t < 0 || t >= static_cast<int>(vocab.size()))
            fail("decode", "token " + std::to_string(t) + " outside the vocabulary of " + std::to_string(vocab.size()));
        s += code_point_to_utf8(vocab[t]);
    }
    return s;
}

std::vector<int> encode(const Vocab& vocab, const std::string& text) {
    std::vector<int> out;
    for (uint32_t cp : utf8_to_code_points(text)) {
        int id = -1;
        for (size_t i = 0; i < vocab.size(); i++)
            if (vocab[i] == cp) id = static_cast<int>(i);
        if (id < 0) {
            char hex[16];
            std::snprintf(hex, sizeof(hex), "U+%04X", cp);
            fail("encode", "character '" + code_point_to_utf8(cp) + "' (" + hex + ") is not in the vocabulary");
        }
        out.push_back(id);
    }
    return out;
}

namespace {
std::vector<uint16_t> read_tokens(const std::string& path, size_t vocab_size) {
    const std::string bytes = read_regular_file(path, "data");
    if (bytes.size() % 2 != 0) fail("data", "'" + path + "' has an odd size; expected uint16 tokens");
    std::vector<uint16_t> tokens(bytes.size() / 2);
    if (!tokens.empty()) std::memcpy(tokens.data(), bytes.data(), bytes.size());  // an empty vector's data() may be null
    for (size_t i = 0; i < tokens.size(); i++)
        if (tokens[i] >= vocab_size)
            fail("data", "'" + path + "' holds token " + std::to_string(tokens[i]) + " at " +
                             std::to_string(i) + ", outside the vocabulary of " + std::to_string(vocab_size));
    return tokens;
}
}  // namespace

Dataset load_dataset(const std::string& dir) {
    if (dir.empty()) fail("data", "the data folder is empty; give one, e.g. --data_dir=data/shakespeare_char");
    for (const char* f : {"train.bin", "val.bin", "vocab.txt"}) {
        if (::access((dir + "/" + f).c_str(), F_OK) != 0)
            fail("data", "'" + dir + "/" + f + "' is missing; run `make data` (tiny Shakespeare) or "
                         "`causalgrad prepare --input=FILE --out_dir=" + dir + "`");
    }
    Dataset d;
    d.vocab = read_vocab(dir + "/vocab.txt");
    d.train = read_tokens(dir + "/train.bin", d.vocab.size());
    d.val = read_tokens(dir + "/val.bin", d.vocab.size());
    return d;
}

Batch get_batch(const std::vector<uint16_t>& tokens, int64_t B, int64_t T, Rng& rng) {
    const int64_t n = static_cast<int64_t>(tokens.size());
    if (n <= T)
        fail("data", "split of " + std::to_string(n) + " tokens is too short for block_size " + std::to_string(T));
    std::vector<int> x(static_cast<size_t>(B * T)), y(static_cast<size_t>(B * T));
    for (int64_t b = 0; b < B; b++) {
        const auto start = static_cast<int64_t>(rng_bits(rng.seed, rng.counter++) % static_cast<uint64_t>(n - T));
        for (int64_t t = 0; t < T; t++) {
            x[b * T + t] = tokens[start + t];      // (B, T)
            y[b * T + t] = tokens[start + t + 1];
        }
    }
    return Batch{make_ids({B, T}, std::move(x)), make_ids({B, T}, std::move(y))};
}

}  // namespace cg
