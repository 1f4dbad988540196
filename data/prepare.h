// Character-level data preparation, as nanoGPT's shakespeare_char: the
// vocabulary is the sorted set of characters (Unicode code points) of the
// text, the first 90% of the characters train, the last 10% validate.
#pragma once

#include <string>

namespace cg {

struct PrepareSummary {
    size_t vocab_size = 0, train_tokens = 0, val_tokens = 0;
};

// Reads a UTF-8 text file and writes out_dir/{train.bin, val.bin, vocab.txt}
// together: on any failure (a full disk, say) the earlier three stay as they
// were. Refuses an input that is one of those three files.
PrepareSummary prepare_text(const std::string& input_path, const std::string& out_dir);

}  // namespace cg
