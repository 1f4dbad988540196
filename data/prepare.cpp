#include "data/prepare.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "data/dataset.h"
#include "io/safe_file.h"

namespace cg {

namespace {
void write_tokens(const std::string& path, const std::vector<uint16_t>& tokens) {
    write_file_atomically(path, std::string(reinterpret_cast<const char*>(tokens.data()), tokens.size() * 2), "prepare");
}
}  // namespace

PrepareSummary prepare_text(const std::string& input_path, const std::string& out_dir) {
    const std::string text = read_regular_file(input_path, "prepare");
    const std::vector<uint32_t> chars = utf8_to_code_points(text);
    if (chars.size() < 2) fail("prepare", "'" + input_path + "' has fewer than 2 characters");

    const std::set<uint32_t> unique(chars.begin(), chars.end());
    const Vocab vocab(unique.begin(), unique.end());  // sorted, as nanoGPT's sorted(set(data))
    if (vocab.size() > 65535)
        fail("prepare", std::to_string(vocab.size()) + " distinct characters do not fit uint16 tokens");
    std::vector<uint16_t> index(vocab.back() + 1, 0);
    for (size_t i = 0; i < vocab.size(); i++) index[vocab[i]] = static_cast<uint16_t>(i);

    const size_t n_train = chars.size() * 9 / 10;  // int(n * 0.9)
    std::vector<uint16_t> train, val;
    train.reserve(n_train);
    val.reserve(chars.size() - n_train);
    for (size_t i = 0; i < chars.size(); i++) (i < n_train ? train : val).push_back(index[chars[i]]);

    check_writable_dir(out_dir, "prepare");
    std::filesystem::create_directories(out_dir);
    write_tokens(out_dir + "/train.bin", train);
    write_tokens(out_dir + "/val.bin", val);
    write_vocab(out_dir + "/vocab.txt", vocab);
    return PrepareSummary{vocab.size(), train.size(), val.size()};
}

}  // namespace cg
