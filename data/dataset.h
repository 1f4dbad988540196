// The token data of a run: train.bin and val.bin (uint16 token ids, as
// nanoGPT writes them) and vocab.txt, in one folder made by `causalgrad prepare`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "io/utf8.h"

namespace cg {

// The characters of the vocabulary as Unicode code points; token i is vocab[i].
using Vocab = std::vector<uint32_t>;

Vocab read_vocab(const std::string& path);
void write_vocab(const std::string& path, const Vocab& vocab);
std::string vocab_file_text(const Vocab& vocab);  // what write_vocab writes
// Throws (naming `where`) unless every entry is a Unicode scalar value that is
// not a non-character (U+FDD0..U+FDEF, U+xxFFFE, U+xxFFFF), and no entry repeats:
// text made of them is valid UTF-8, and each character has one token.
void check_vocab(const Vocab& vocab, const std::string& where);
// Whether a code point is one of Unicode's 66 non-characters.
bool is_noncharacter(uint32_t cp);
std::string decode(const Vocab& vocab, const std::vector<int>& tokens);   // -> UTF-8
std::vector<int> encode(const Vocab& vocab, const std::string& text);    // throws on unknown characters

struct Dataset {
    Vocab vocab;
    std::vector<uint16_t> train, val;
};
// Loads data_dir; when files are missing, says which command makes them.
Dataset load_dataset(const std::string& data_dir);

// x, y (B, T): B windows at random offsets of `tokens`, y = x shifted by one.
struct Batch {
    Ids x, y;
};
Batch get_batch(const std::vector<uint16_t>& tokens, int64_t B, int64_t T, Rng& rng);

}  // namespace cg
