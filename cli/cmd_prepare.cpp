// causalgrad prepare
#include "cli/commands.h"

#include <iostream>

#include "data/prepare.h"
#include "train/train.h"

namespace cg {

int cmd_prepare(int argc, char** argv) {
    std::string input = "data/tinyshakespeare/input.txt", out_dir = "data/shakespeare_char";
    cxxopts::Options o("causalgrad prepare", "Character-level tokens of a UTF-8 text: the sorted set of its characters is the "
                                             "vocabulary, the first 90% trains, the last 10% validates.");
    o.add_options()("input", "UTF-8 text file", cxxopts::value(input)->default_value(input))(
        "out_dir", "folder for train.bin, val.bin, vocab.txt", cxxopts::value(out_dir)->default_value(out_dir));
    if (!parse(o, argc, argv)) return 0;
    PrepareSummary s = prepare_text(input, out_dir);
    std::cout << "vocab " << s.vocab_size << ", " << with_commas(static_cast<int64_t>(s.train_tokens)) << " train and "
              << with_commas(static_cast<int64_t>(s.val_tokens)) << " val tokens -> " << out_dir << "\n";
    return 0;
}

}  // namespace cg
