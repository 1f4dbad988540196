#include "data/prepare.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>

#include "data/dataset.h"
#include "io/safe_file.h"

namespace cg {

namespace {

const char* const kOutputs[] = {"train.bin", "val.bin", "vocab.txt"};

std::string token_bytes(const std::vector<uint16_t>& tokens) {
    return std::string(reinterpret_cast<const char*>(tokens.data()), tokens.size() * 2);
}

// The three files go in together or not at all. Each is first written whole
// beside its final name (NAME.new) and fsynced: a full disk fails there, before
// any file of the earlier set is touched. Then each earlier file gets a second
// name (NAME.old, a hard link: no data is copied) and the new ones are renamed
// over them; a rename that fails puts the earlier ones back. (Renames within
// a folder need no space, so in practice only a failing disk gets there.)
void replace_together(const std::string& dir, const std::vector<std::string>& contents) {
    const std::string kept = "'" + dir + "' keeps its earlier train.bin, val.bin and vocab.txt, if any";
    std::vector<std::string> finals, fresh, old;
    for (const char* name : kOutputs) {
        finals.push_back(dir + "/" + name);
        fresh.push_back(finals.back() + ".new");
        old.push_back(finals.back() + ".old");
    }
    auto remove_all = [](const std::vector<std::string>& paths) {
        for (const std::string& p : paths) ::unlink(p.c_str());
    };
    try {
        for (size_t i = 0; i < finals.size(); i++) write_file_synced(fresh[i], contents[i], "prepare");
    } catch (const Error& e) {
        remove_all(fresh);
        throw Error(std::string(e.what()) + "; " + kept);
    }
    std::vector<bool> had(finals.size(), false);
    bool can_link = true;  // a file system without hard links (FAT) moves the files in without a way back
    remove_all(old);       // left by an earlier prepare that was killed
    for (size_t i = 0; i < finals.size() && can_link; i++) {
        if (::link(finals[i].c_str(), old[i].c_str()) == 0) {
            had[i] = true;
        } else if (errno == EPERM || errno == EOPNOTSUPP) {
            can_link = false;
        } else if (errno != ENOENT) {
            const int err = errno;
            remove_all(fresh);
            remove_all(old);
            fail("prepare", "cannot keep '" + finals[i] + "' while the new files move in (" + std::strerror(err) + "); " + kept);
        }
    }
    for (size_t i = 0; i < finals.size(); i++) {
        if (::rename(fresh[i].c_str(), finals[i].c_str()) == 0) continue;
        const int err = errno;
        const std::string what = "cannot move '" + fresh[i] + "' to '" + finals[i] + "' (" + std::strerror(err) + ")";
        if (can_link)
            for (size_t j = 0; j < i; j++) {  // back to the earlier set
                if (had[j]) ::rename(old[j].c_str(), finals[j].c_str());
                else ::unlink(finals[j].c_str());
            }
        remove_all(fresh);
        remove_all(old);
        sync_folder(dir);
        if (!can_link && i > 0)
            fail("prepare", what + "; the files before it were replaced, so the set is mixed: prepare again");
        fail("prepare", what + "; " + kept);
    }
    remove_all(old);
    sync_folder(dir);
}

// prepare reads its input whole before writing, but an input that is one of
// the outputs would be replaced by tokens of itself: refused, whatever the path's spelling.
void refuse_own_output(const std::string& input_path, const std::string& out_dir) {
    for (const char* name : kOutputs)
        if (same_file(input_path, out_dir + "/" + name))
            fail("prepare", "--input '" + input_path + "' is " + out_dir + "/" + name +
                                ", one of the files prepare writes; give the text file (e.g. input.txt) as --input");
}

}  // namespace

PrepareSummary prepare_text(const std::string& input_path, const std::string& out_dir) {
    check_writable_dir(out_dir, "prepare");
    refuse_own_output(input_path, out_dir);
    const std::string text = read_regular_file(input_path, "prepare");
    const std::vector<uint32_t> chars = utf8_to_code_points(text);
    if (chars.size() < 2) fail("prepare", "'" + input_path + "' has fewer than 2 characters");

    const std::set<uint32_t> unique(chars.begin(), chars.end());
    const Vocab vocab(unique.begin(), unique.end());  // sorted, as nanoGPT's sorted(set(data))
    if (vocab.size() > 65535)
        fail("prepare", std::to_string(vocab.size()) + " distinct characters do not fit uint16 tokens");
    for (uint32_t cp : vocab)
        if (is_noncharacter(cp)) {
            char hex[16];
            std::snprintf(hex, sizeof(hex), "U+%04X", static_cast<unsigned>(cp));
            fail("prepare", "'" + input_path + "' holds " + hex + ", a Unicode non-character, which is not text; remove it");
        }
    std::vector<uint16_t> index(vocab.back() + 1, 0);
    for (size_t i = 0; i < vocab.size(); i++) index[vocab[i]] = static_cast<uint16_t>(i);

    const size_t n_train = chars.size() * 9 / 10;  // int(n * 0.9)
    std::vector<uint16_t> train, val;
    train.reserve(n_train);
    val.reserve(chars.size() - n_train);
    for (size_t i = 0; i < chars.size(); i++) (i < n_train ? train : val).push_back(index[chars[i]]);

    std::filesystem::create_directories(out_dir);
    replace_together(out_dir, {token_bytes(train), token_bytes(val), vocab_file_text(vocab)});
    return PrepareSummary{vocab.size(), train.size(), val.size()};
}

}  // namespace cg
