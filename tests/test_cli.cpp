// The causalgrad command line against bad inputs and faults, one table row
// each: the command must fail with the expected exit status and one line on
// stderr that names the problem (no bare library text such as "stoll" or
// "filesystem error"), and leave every file of the fixture byte-identical.
//
// The fixture (data, a trained run, damaged copies of its checkpoint, bad
// config files) is made once, in a temp folder, by the binary itself; each
// row runs build/causalgrad with that folder as its working directory.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tests/helpers.h"
#include "train/checkpoint.h"
#include "cli/options.h"
#include "data/dataset.h"
#include "io/run_lock.h"
#include "train/run_log.h"

namespace cg {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> words(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string w; in >> w;) out.push_back(w);
    return out;
}

struct Outcome {
    int status = -1;
    std::string out, err;
};

// A started build/causalgrad process, its output going to files in `scratch`.
struct Started {
    pid_t pid = -1;
    std::string out_file, err_file, stdout_path;
};

// What stdout_path names to start the process with its standard output closed.
const char* const kClosed = "<closed>";

// Starts build/causalgrad with `args` in folder `cwd`; stdout goes to `stdout_path` if given
// (kClosed: no standard output at all).
// `slot` keeps the output files of processes running side by side apart.
Started start_cli(const fs::path& cwd, const std::vector<std::string>& args, const fs::path& scratch,
                  const std::string& stdout_path = "", int slot = 0) {
    Started s;
    s.out_file = (scratch / ("stdout" + std::to_string(slot))).string();
    s.err_file = (scratch / ("stderr" + std::to_string(slot))).string();
    s.stdout_path = stdout_path;
    // No stale output of an earlier process may be mistaken for this one's.
    fs::remove(s.out_file);
    fs::remove(s.err_file);
    s.pid = fork();
    REQUIRE(s.pid >= 0);
    if (s.pid == 0) {
        if (chdir(cwd.c_str()) != 0) _exit(120);
        // One thread: the rows fail before any heavy work, and start faster without a thread pool.
        setenv("OMP_NUM_THREADS", "1", 1);
        setenv("OPENBLAS_NUM_THREADS", "1", 1);
        const bool closed = stdout_path == kClosed;
        const int out = open(stdout_path.empty() || closed ? s.out_file.c_str() : stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int err = open(s.err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (out < 0 || err < 0) _exit(121);
        dup2(out, 1);
        dup2(err, 2);
        if (closed) close(1);
        std::vector<char*> argv{const_cast<char*>(CAUSALGRAD_BINARY)};
        for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        execv(CAUSALGRAD_BINARY, argv.data());
        _exit(122);
    }
    return s;
}

Outcome finish_cli(const Started& s) {
    int wstatus = 0;
    REQUIRE(waitpid(s.pid, &wstatus, 0) == s.pid);
    Outcome o;
    o.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
    o.out = s.stdout_path.empty() ? read_file(s.out_file) : "";
    o.err = read_file(s.err_file);
    return o;
}

Outcome run_cli(const fs::path& cwd, const std::vector<std::string>& args, const fs::path& scratch,
                const std::string& stdout_path = "") {
    return finish_cli(start_cli(cwd, args, scratch, stdout_path));
}

// Every file and folder under `root`: relative path -> "dir" or the file's bytes.
std::map<std::string, std::string> snapshot(const fs::path& root) {
    std::map<std::string, std::string> files;
    for (const auto& e : fs::recursive_directory_iterator(root)) {
        const std::string rel = fs::relative(e.path(), root).string();
        files[rel] = e.is_directory() ? std::string("<dir>") : "file:" + read_file(e.path());
    }
    return files;
}

const char* const kTiny =
    "--data_dir=data --n_layer=2 --n_head=2 --n_embd=16 --block_size=16 --batch_size=4 "
    "--eval_iters=2 --eval_interval=5 --log_interval=5 --threads=1 ";

std::string pattern_text() {
    const char* sentences[] = {"the cat sat on the mat.\n", "a dog ran to the log.\n", "my hen hid in a pen.\n",
                               "so the fox got a box.\n"};
    std::string text;
    for (int i = 0; text.size() < 3000; i++) text += sentences[i % 4];
    return text;
}

// The folder every row runs in, made once.
struct Fixture {
    TempDir base{"cli"};
    fs::path root = base.path / "work", scratch = base.path / "scratch";
    Fixture() {
        fs::create_directories(root);
        fs::create_directories(scratch);
        auto must = [&](const std::string& args) {
            const Outcome o = run_cli(root, words(args), scratch);
            INFO(args << "\n" << o.err);
            REQUIRE(o.status == 0);
        };
        write_file(root / "input.txt", pattern_text());
        must("prepare --input=input.txt --out_dir=data");
        write_file(root / "other.txt", "xyzzy plugh " + pattern_text());
        must("prepare --input=other.txt --out_dir=data_other");
        const std::string text = pattern_text();
        write_file(root / "reversed.txt", std::string(text.rbegin(), text.rend()));  // the same characters
        must("prepare --input=reversed.txt --out_dir=data_reversed");
        write_file(root / "short.txt", "the cat sat on the mat. the dog ran to the log.\n");
        must("prepare --input=short.txt --out_dir=data_short");
        must(std::string("train ") + kTiny + "--out_dir=run --max_iters=10 --always_save_checkpoint");
        write_file(root / "bad_utf8.txt", "caf\xC3");
        write_file(root / "one_char.txt", "a");
        write_file(root / "plain", "a regular file, not a folder\n");
        write_file(root / "prompt.txt", "the cat\n");
        fs::create_directories(root / "a_folder");

        // Broken data folders, each a copy of data/ with one fault.
        for (const char* d : {"data_odd", "data_tok", "data_vocab", "data_dirbin"})
            fs::copy(root / "data", root / d);
        write_file(root / "data_odd/train.bin", read_file(root / "data/train.bin") + "x");
        write_file(root / "data_tok/val.bin", std::string("\xff\xff", 2) + read_file(root / "data/val.bin"));
        write_file(root / "data_vocab/vocab.txt", "causalgrad-vocab 1\n5\n97\n98\n");
        fs::remove(root / "data_dirbin/train.bin");
        fs::create_directories(root / "data_dirbin/train.bin");

        // Damaged checkpoints, each in its own out_dir.
        const std::string good = read_file(root / "run/ckpt.bin");
        std::string flipped = good;
        flipped[good.size() / 2] ^= 0x10;
        write_file(root / "flipped/ckpt.bin", flipped);
        write_file(root / "truncated/ckpt.bin", good.substr(0, good.size() - 100));
        std::string v1 = good;
        v1[7] = '1';
        write_file(root / "v1/ckpt.bin", v1);
        std::string payload = good.substr(16, good.size() - 20);
        const float nan = NAN;
        std::memcpy(&payload[payload.size() - 4], &nan, 4);
        write_file(root / "nan/ckpt.bin", wrap_checkpoint_payload(payload));
        fs::create_directories(root / "dirckpt/ckpt.bin");
        // A malformed row before others is refused; a damaged last one is the tail of a crash (see below).
        const std::string run_log = read_file(root / "run/log.csv");
        const size_t first_row = run_log.find('\n') + 1;
        write_file(root / "badlog/ckpt.bin", good);
        write_file(root / "badlog/log.csv", run_log.substr(0, first_row) + "5,oops,,,,,\n" + run_log.substr(first_row));
        // Rows that go back in steps: not this run's log.
        write_file(root / "backlog/ckpt.bin", good);
        write_file(root / "backlog/log.csv", run_log + "10,2.5,,0.001,1.0,1.00,100\n3,2.5,,0.001,1.0,1.00,100\n" +
                                                 "15,2.5,,0.001,1.0,1.00,100\n");
        // A row written twice into one line, as a full disk left it under an earlier build.
        write_file(root / "twicelog/log.csv", run_log + "10,2.5,,0.001,1.0,1.00,10010,2.5,,0.001,1.0,1.00,100\n");
        // Work an earlier run left without a best checkpoint: its log, or its latest state.
        write_file(root / "logonly/log.csv", run_log);
        write_file(root / "lastonly/last.bin", good);
        write_file(root / "lockrun/ckpt.bin", good);
        write_file(root / "nanrun/ckpt.bin", good);
        write_file(root / "nanrun/log.csv", read_file(root / "run/log.csv"));
        write_file(root / "empty_run/.keep", "");

        // Config files with one fault each.
        write_file(root / "conf/dup.conf", "n_layer = 2\nbatch_size = 4\nn_layer = 3\n");
        write_file(root / "conf/unknown.conf", "n_layers = 2\n");
        write_file(root / "conf/noeq.conf", "n_layer 2\n");
        write_file(root / "conf/badval.conf", "n_layer = two\n");
        write_file(root / "conf/nested.conf", "config = other.conf\n");
        write_file(root / "conf/nokey.conf", " = 3\n");
        write_file(root / "conf/mixer.conf", "mixer = 'pair_max'\n");
        write_file(root / "conf/badbool.conf", "bias = Maybe\n");
        // A byte order mark before the first key, and a fault on line 2 to show the file was read.
        write_file(root / "conf/bom.conf", "\xEF\xBB\xBFn_layer = 2\nbias = Maybe\n");
        write_file(root / "conf/long.conf", "n_layer = " + std::string(1 << 20, '7') + "\n");
        write_file(root / "conf/nul.conf", std::string("n_layer = 2\nmixer = at\0tn\n", 26));

        // Data folders whose vocab.txt is wrong in a way only its reader can see.
        for (const char* d : {"data_nonchar", "data_bigcount"}) fs::copy(root / "data", root / d);
        std::string vocab = read_file(root / "data/vocab.txt");
        vocab.replace(vocab.rfind('\n', vocab.size() - 2) + 1, std::string::npos, "65534\n");  // U+FFFE, the last entry
        write_file(root / "data_nonchar/vocab.txt", vocab);
        write_file(root / "data_bigcount/vocab.txt", "causalgrad-vocab 1\n99999999999999999999\n97\n");
        write_file(root / "nonchar.txt", "the cat \xEF\xBF\xBF sat on the mat\n");  // U+FFFF
        fs::create_symlink("data/vocab.txt", root / "vocab_link.txt");

        // A safetensors file that is not an export (someone's weights), an export, and exports
        // whose vocab metadata repeats a character or holds a surrogate.
        write_file(root / "handmade.safetensors",
                   with_header("{\"__metadata__\":{\"format\":\"pt\"},\"w\":{\"dtype\":\"F32\",\"shape\":[1],"
                               "\"data_offsets\":[0,4]}}") + std::string(4, '\0'));
        must("export --out_dir=run --to=run.safetensors");
        const std::string exported = read_file(root / "run.safetensors");
        write_file(root / "dup_vocab.safetensors", with_vocab_metadata(exported, "10,32,", "10,10,"));
        write_file(root / "surrogate_vocab.safetensors", with_vocab_metadata(exported, "10,32,", "55296,32,"));
        // A checkpoint with a correct checksum whose vocabulary names one character twice.
        const Checkpoint c = load_checkpoint((root / "run/ckpt.bin").string());
        auto u64 = [](uint64_t v) { return std::string(reinterpret_cast<const char*>(&v), 8); };
        const std::string entries = u64(c.vocab.size()) + u64(c.vocab[0]) + u64(c.vocab[1]);
        std::string twice = good.substr(16, good.size() - 20);
        const size_t at = twice.find(entries);
        REQUIRE(at != std::string::npos);
        twice.replace(at + 16, 8, u64(c.vocab[0]));
        write_file(root / "dupvocab/ckpt.bin", wrap_checkpoint_payload(twice));
    }

    // A safetensors file from its JSON header (the 8-byte length in front).
    static std::string with_header(const std::string& json) {
        std::string out(8, '\0');
        for (int k = 0; k < 8; k++) out[k] = static_cast<char>((json.size() >> (8 * k)) & 0xff);
        return out + json;
    }
    // An export with `from` replaced by `to` inside its vocab metadata.
    static std::string with_vocab_metadata(const std::string& file, const std::string& from, const std::string& to) {
        uint64_t n = 0;
        for (int k = 7; k >= 0; k--) n = (n << 8) | static_cast<unsigned char>(file[k]);
        std::string header = file.substr(8, n);
        const size_t at = header.find("\"vocab\":\"" + from);
        REQUIRE(at != std::string::npos);
        header.replace(at + 9, from.size(), to);
        return with_header(header) + file.substr(8 + n);
    }
};

struct CliCase {
    std::string args;
    int status;
    std::string message;                  // a part of the one-line error
    std::vector<std::string> may_change;  // files a run that started may append to
    std::string stdout_to;
    CliCase(const char* a, int s, const char* m, std::vector<std::string> changing = {}, const char* out = "")
        : args(a), status(s), message(m), may_change(std::move(changing)), stdout_to(out) {}
};

// Library text that must never reach the user as it is.
const char* const kBareLibraryText[] = {"stoll", "stod", "stoi", "std::", "bad_alloc", "basic_string",
                                        "max_size()", "filesystem error", "failed to parse", "terminate called",
                                        "vector::", "Aborted"};

// clang-format off
const std::vector<CliCase> kCases = {
    // ---- the command itself ----
    {"frobnicate", 2, "unknown command 'frobnicate'"},
    {"Train", 2, "unknown command 'Train'"},

    // ---- prepare ----
    {"prepare --input=missing.txt --out_dir=fresh", 1, "does not exist"},
    {"prepare --input=a_folder --out_dir=fresh", 1, "is a directory"},
    {"prepare --input=bad_utf8.txt --out_dir=fresh", 1, "invalid UTF-8"},
    {"prepare --input=one_char.txt --out_dir=fresh", 1, "fewer than 2 characters"},
    {"prepare --input=input.txt --out_dir=plain/sub", 1, "is not a folder"},
    {"prepare --input=input.txt --out_dir=plain", 1, "is not a folder"},
    {"prepare --input=input.txt --out_dir=fresh stray", 2, "unexpected argument 'stray'"},
    {"prepare --inptu=input.txt", 2, "inptu"},
    {"prepare --input=", 1, "path is empty"},
    {"prepare --input=data/train.bin --out_dir=data", 1, "is data/train.bin, one of the files prepare writes"},
    {"prepare --input=data/vocab.txt --out_dir=data", 1, "one of the files prepare writes"},
    {"prepare --input=./data/../data/val.bin --out_dir=data/.", 1, "one of the files prepare writes"},
    {"prepare --input=vocab_link.txt --out_dir=./data", 1, "one of the files prepare writes"},
    {"prepare --input=nonchar.txt --out_dir=fresh", 1, "U+FFFF, a Unicode non-character"},
    {"prepare --input=input.txt --out_dir=", 1, "output folder is empty"},

    // ---- train: option syntax ----
    {"train --n_layers=3 --out_dir=fresh", 2, "n_layers"},
    {"train --n_layer=abc --out_dir=fresh", 2, "--n_layer: 'abc' is not a valid value"},
    {"train --n_layer=2.5 --out_dir=fresh", 2, "--n_layer: '2.5'"},
    {"train --learning_rate=fast --out_dir=fresh", 2, "--learning_rate: 'fast'"},
    {"train --learning_rate=1e-3x --out_dir=fresh", 2, "--learning_rate: '1e-3x' is not a valid value"},
    {"train --max_iters 10k --out_dir=fresh", 2, "--max_iters: '10k' is not a valid value"},
    {"train --batch_size=99999999999999999999 --out_dir=fresh", 2, "--batch_size"},
    {"train --seed=-1 --out_dir=fresh", 2, "--seed"},
    {"train --bias=maybe --out_dir=fresh", 2, "--bias takes true or false"},
    {"train --decay_lr=2 --out_dir=fresh", 2, "--decay_lr takes true or false"},
    {"train --out_dir=fresh stray", 2, "unexpected argument 'stray'"},
    {"train --out_dir=fresh --bias false extra", 2, "unexpected argument 'extra'"},
    {"train --out_dir", 2, "out_dir"},
    {"train --n_layer.x=3 --out_dir=fresh", 2, "'--n_layer.x=3' is not an option"},
    {"train -x --out_dir=fresh", 2, "unexpected argument '-x'"},

    // ---- train: values ----
    {"train --n_layer=0 --out_dir=fresh", 1, "n_layer must be at least 1"},
    {"train --dtype=float16 --out_dir=fresh", 1, "--dtype=float16 is for GPUs"},
    {"train --dtype=fp8 --out_dir=fresh", 1, "--dtype must be float32 or bfloat16, got 'fp8'"},
    {"train --n_layer=1000000 --out_dir=fresh", 1, "GiB"},
    {"train --n_embd=100000 --n_layer=50 --out_dir=fresh", 1, "GiB"},
    {"train --n_embd=10 --n_head=3 --out_dir=fresh", 1, "multiple of n_head"},
    {"train --block_size=0 --out_dir=fresh", 1, "block_size must be at least 1"},
    {"train --block_size=5000 --out_dir=fresh", 1, "too few for block_size 5000"},
    {"train --batch_size=0 --out_dir=fresh", 1, "batch_size"},
    {"train --max_iters=-1 --out_dir=fresh", 1, "max_iters"},
    {"train --learning_rate=nan --out_dir=fresh", 2, "--learning_rate: 'nan'"},
    {"train --learning_rate=-1 --out_dir=fresh", 1, "learning_rate must be positive"},
    {"train --weight_decay=-1 --out_dir=fresh", 1, "weight_decay"},
    {"train --weight_decay=inf --out_dir=fresh", 2, "--weight_decay: 'inf'"},
    {"train --beta1=1 --out_dir=fresh", 1, "beta1"},
    {"train --dropout=1 --out_dir=fresh", 1, "dropout"},
    {"train --grad_clip=-1 --out_dir=fresh", 1, "grad_clip"},
    {"train --eval_interval=0 --out_dir=fresh", 1, "eval_interval"},
    {"train --warmup_iters=-5 --out_dir=fresh", 1, "warmup_iters"},
    {"train --threads=-1 --out_dir=fresh", 1, "threads"},
    {"train --threads=100000 --out_dir=fresh", 1, "threads"},
    {"train --mixer=nonsense --out_dir=fresh", 1, "nonsense"},
    {"train --mixer=attn,attn,attn --out_dir=fresh", 1, "mixer lists 3 entries"},
    {"train --mixer=attn,,attn,attn --out_dir=fresh", 1, "mixer"},
    {"train --activation=attn --out_dir=fresh", 1, "activation"},
    {"train --init_from=nowhere --out_dir=fresh", 1, "init_from"},

    // ---- train: data ----
    {"train --data_dir=missing --out_dir=fresh", 1, "is missing"},
    {"train --data_dir=plain --out_dir=fresh", 1, "is missing"},
    {"train --data_dir=data_odd --out_dir=fresh", 1, "odd size"},
    {"train --data_dir=data_tok --out_dir=fresh", 1, "outside the vocabulary"},
    {"train --data_dir=data_vocab --out_dir=fresh", 1, "ends after"},
    {"train --data_dir=data_dirbin --out_dir=fresh", 1, "is a directory"},
    {"train --data_dir=data_short --out_dir=fresh", 1, "too few for block_size 64"},
    {"train --data_dir=data_nonchar --out_dir=fresh", 1, "(U+FFFE) is a Unicode non-character"},
    {"train --data_dir=data_bigcount --out_dir=fresh", 1, "gives '99999999999999999999' entries; expected 1 to 65536"},

    // ---- train: config files ----
    {"train --config=conf/missing.conf --out_dir=fresh", 2, "does not exist"},
    {"train --config=conf --out_dir=fresh", 2, "is a directory"},
    {"train --config= --out_dir=fresh", 2, "--config is empty"},
    {"train --config=conf/mixer.conf --config=conf/mixer.conf --out_dir=fresh", 2, "--config is given 2 times"},
    {"train --config=conf/dup.conf --out_dir=fresh", 2, "conf/dup.conf:3: n_layer is already set on line 1"},
    {"train --config=conf/unknown.conf --out_dir=fresh", 2, "conf/unknown.conf:1: option 'n_layers' does not exist"},
    {"train --config=conf/noeq.conf --out_dir=fresh", 2, "conf/noeq.conf:1"},
    {"train --config=conf/badval.conf --out_dir=fresh", 2, "conf/badval.conf:1: --n_layer: 'two'"},
    {"train --config=conf/bom.conf --out_dir=fresh", 2, "conf/bom.conf:2: --bias takes true or false, got 'Maybe'"},
    {"train --config=conf/long.conf --out_dir=fresh", 2, "conf/long.conf:1: --n_layer: '7777"},
    {"train --config=conf/nul.conf --out_dir=fresh", 2, "conf/nul.conf:2: the line holds a NUL byte"},
    {"train --config=conf/nested.conf --out_dir=fresh", 2, "cannot include another"},
    {"train --config=conf/nokey.conf --out_dir=fresh", 2, "no key"},
    {"train --config=conf/badbool.conf --out_dir=fresh", 2, "--bias takes true or false"},

    // ---- train: out_dir, checkpoints, logs ----
    {"train --out_dir=run", 1, "holds an earlier run; continue it with --init_from=resume"},
    {"train --out_dir=run --max_iters=5", 1, "or replace it with --overwrite"},
    {"train --out_dir=run --init_from=resume --overwrite", 1, "--overwrite is for runs from scratch"},
    {"train --out_dir=empty_run --init_from=resume", 1, "no checkpoint at 'empty_run/ckpt.bin'"},
    {"train --out_dir=run --init_from=resume --n_layer=3", 1, "n_layer is 2, not 3"},
    {"train --out_dir=run --init_from=resume --config=conf/mixer.conf --data_dir=data", 1, "mixer is attn, not pair_max"},
    {"train --out_dir=run --init_from=resume --data_dir=data_other", 1, "vocabulary"},
    {"train --out_dir=flipped --init_from=resume", 1, "damaged (its CRC-32 does not match"},
    {"train --out_dir=truncated --init_from=resume", 1, "damaged"},
    {"train --out_dir=nan --init_from=resume", 1, "NaN or infinity"},
    {"train --out_dir=v1 --init_from=resume", 1, "another format version"},
    {"train --out_dir=dirckpt --init_from=resume", 1, "is a directory"},
    {"train --out_dir=badlog --init_from=resume --max_iters=20", 1, "'badlog/log.csv' line 2: train_loss 'oops' is not a number"},
    {"train --out_dir=backlog --init_from=resume --max_iters=20", 1, "line 8: training step 3 comes after step 10"},
    {"train --out_dir=logonly", 1, "'logonly/log.csv' holds the log of an earlier run"},
    {"train --out_dir=lastonly", 1, "'lastonly/last.bin' holds an earlier run; continue it with --init_from=resume"},
    {"train --out_dir=run --init_from=resume --max_iters=5", 1, "is at step 10, past --max_iters=5: nothing to do"},
    {"train --out_dir=fresh --max_iters=2", 1, "standard output is closed", {}, kClosed},
    {"train --out_dir=plain", 1, "is not a folder"},
    {"train --out_dir=plain/run", 1, "is not a folder"},
    {"train --out_dir=", 1, "output folder is empty"},
    {"train --out_dir= --init_from=resume", 1, "output folder is empty"},
    {"train --data_dir= --out_dir=fresh", 1, "the data folder is empty"},
    {"train --out_dir=nanrun --init_from=resume --max_iters=500 --eval_interval=1000 --weight_decay=1000000",
     1, "the loss became", {"nanrun/log.csv", "nanrun/train.lock"}},

    // ---- sample ----
    {"sample --out_dir=missing", 1, "no checkpoint at 'missing/ckpt.bin'"},
    {"sample --out_dir=flipped", 1, "damaged"},
    {"sample --out_dir=dirckpt", 1, "is a directory"},
    {"sample --out_dir=run --start=\xC3\xA9", 1, "(U+00E9) is not in the vocabulary"},
    {"sample --out_dir=run --start=\\q", 1, "unknown escape '\\q'"},
    {"sample --out_dir=run --start=FILE:missing.txt", 1, "does not exist"},
    {"sample --out_dir=run --start=FILE:a_folder", 1, "is a directory"},
    {"sample --out_dir=run --start=", 1, "the start text is empty"},
    {"sample --out_dir=run --num_samples=0", 1, "num_samples"},
    {"sample --out_dir=run --temperature=-1", 1, "temperature"},
    {"sample --out_dir=run --top_k=-1", 1, "top_k"},
    {"sample --out_dir=run --max_new_tokens=abc", 2, "--max_new_tokens: 'abc'"},
    {"sample --out_dir=run --threads=100000", 1, "threads"},
    {"sample --out_dir=run stray", 2, "unexpected argument 'stray'"},
    {"sample --out_dir=run --max_new_tokens=5", 1, "cannot write to standard output", {}, "/dev/full"},
    {"sample --out_dir=", 1, "--out_dir is empty"},
    {"sample --out_dir=dupvocab", 1, "holds U+000A twice"},
    {"sample --out_dir=lastonly", 1, "read it with --checkpoint=last"},
    {"sample --out_dir=run --checkpoint=newest", 2, "--checkpoint takes best or last, got 'newest'"},
    // ---- attention ----
    {"attention --out_dir=missing --start=the", 1, "no checkpoint at 'missing/ckpt.bin'"},
    {"attention --out_dir=run", 1, "give a prompt"},
    {"attention --out_dir=run --start=t", 1, "give at least 2"},
    {"attention --out_dir=run --start=thecatsatonthematthedog", 1, "more than the model's block_size 16"},
    {"attention --out_dir=run --start=the --draw_tokens=0", 1, "draw_tokens must be at least 1"},
    {"attention --out_dir=run --start=the --to=run/log.csv", 1, ".svg"},
    {"attention --out_dir=run --start=the", 1, "cannot write to standard output", {}, "/dev/full"},
    {"attention --out_dir=lastonly --start=the", 1, "read it with --checkpoint=last"},
    {"attention --out_dir= --start=the", 1, "--out_dir is empty"},

    // ---- eval ----
    {"eval --out_dir=missing", 1, "no checkpoint at"},
    {"eval --out_dir=truncated", 1, "damaged"},
    {"eval --out_dir=run --eval_iters=0", 1, "eval_iters"},
    {"eval --out_dir=run --batch_size=-1", 1, "batch_size"},
    {"eval --out_dir=run --data_dir=missing", 1, "is missing"},
    {"eval --out_dir=run --data_dir=data_other", 1, "vocabulary differs"},
    {"eval --out_dir=run --threads=-3", 1, "threads"},
    {"eval --out_dir=run --eval_iters=x", 2, "--eval_iters: 'x'"},
    {"eval --out_dir=run stray", 2, "unexpected argument 'stray'"},
    {"eval --out_dir=run --eval_iters=2", 1, "cannot write to standard output", {}, "/dev/full"},
    {"eval --out_dir=run --eval_iters=2", 1, "standard output is closed", {}, kClosed},
    {"eval --out_dir=lastonly", 1, "no best checkpoint at 'lastonly/ckpt.bin'"},
    {"eval --out_dir=run --checkpoint=2", 2, "--checkpoint takes best or last"},
    {"eval --out_dir=", 1, "--out_dir is empty"},

    // ---- export ----
    {"export --out_dir=run --to=run/ckpt.bin", 1, "is not a safetensors file"},
    {"export --out_dir=run --to=run/log.csv", 1, "is not a safetensors file"},
    {"export --out_dir=run --to=data/train.bin", 1, "is not a safetensors file"},
    {"export --out_dir=run --to=input.txt", 1, "is not a safetensors file"},
    {"export --out_dir=run --to=/dev/full", 1, "is not a regular file"},
    {"export --out_dir=run --to=a_folder", 1, "is not a regular file"},
    {"export --out_dir=run --to=plain/model.safetensors", 1, "cannot write"},
    {"export --out_dir=missing --to=new.safetensors", 1, "no checkpoint at"},
    {"export --out_dir=nan --to=new.safetensors", 1, "NaN or infinity"},
    {"export --out_dir=run stray", 2, "unexpected argument 'stray'"},
    {"export --out_dir=lastonly --to=new.safetensors", 1, "read it with --checkpoint=last"},
    {"export --out_dir=run --to=out.safetensors", 1, "cannot write to standard output", {"out.safetensors"}, "/dev/full"},
    {"export --out_dir= --to=new.safetensors", 1, "--out_dir is empty"},
    {"export --out_dir=run --to=handmade.safetensors", 1, "is not a causalgrad export"},

    // ---- import ----
    {"import --out_dir=fresh", 1, "give the file to read with --from"},
    {"import --from=input.txt --out_dir=fresh", 1, "not safetensors"},
    {"import --from=missing.safetensors --out_dir=fresh", 1, "missing.safetensors"},
    {"import --from=a_folder --out_dir=fresh", 1, "a_folder"},
    {"import --from=input.txt --out_dir=run", 1, "holds an earlier run"},
    {"import --from=input.txt --out_dir=lastonly", 1, "'lastonly/last.bin' holds an earlier run"},
    {"import --from=input.txt --out_dir=plain", 1, "is not a folder"},
    {"import --from=input.txt stray", 2, "unexpected argument 'stray'"},
    {"import --from=run.safetensors --out_dir=fresh --n_head=1", 1,
     "--n_head=1 contradicts 'run.safetensors', whose metadata says n_head 2"},
    {"import --from=run.safetensors --out_dir=fresh --mixer=pair_max", 1, "whose metadata says mixer attn"},
    {"import --from=run.safetensors --out_dir=fresh --activation=relu", 1, "whose metadata says activation gelu"},
    {"import --from=dup_vocab.safetensors --out_dir=fresh", 1, "holds U+000A twice"},
    {"import --from=surrogate_vocab.safetensors --out_dir=fresh", 1, "(U+D800) is a surrogate"},

    // ---- plot ----
    {"plot --to=new.svg", 1, "give at least one run"},
    {"plot missing --to=new.svg", 1, "missing"},
    {"plot twicelog --to=new.svg", 1, "'twicelog/log.csv' line 7: has 13 cells, expected 7"},
    {"plot backlog --to=new.svg", 1, "'backlog/log.csv' line 8: training step 3 comes after step 10"},
    {"plot run --from_step=100000 --to=new.svg", 1, "no loss to draw at or after step 100000: the logs end at step 10"},
    {"plot run --to=new.svg -x", 2, "unexpected argument '-x'"},

    // ---- bench ----
    {"bench --what=nope", 1, "--what must be train or generate"},
    {"bench --dtype=float16", 1, "--dtype=float16 is for GPUs"},
    {"bench --ops --what=generate", 1, "--ops splits a training step"},
    {"bench --steps=0", 1, "steps"},
    {"bench --contexts=abc --what=generate", 1, "--contexts takes lengths"},
    {"bench --contexts=1,,2 --what=generate", 1, "--contexts takes lengths"},
    {"bench --n_layer=1000000", 1, "GiB"},
    {"bench --threads=-1", 1, "threads"},
    {"bench --n_head=3", 1, "multiple of n_head"},
    {"bench stray", 2, "unexpected argument 'stray'"},
    {"bench --n_layer=1 --n_head=2 --n_embd=16 --block_size=16 --batch_size=2 --steps=1 --warmup=0", 1,
     "cannot write to standard output", {}, "/dev/full"},
    {"bench --what=generate --n_layer=1 --n_head=2 --n_embd=16 --block_size=16 --contexts=8 --new_tokens=1", 1,
     "standard output is closed", {}, kClosed},
};
// clang-format on

// The one fixture of this file, made on first use.
Fixture& fixture() {
    static Fixture fx;
    return fx;
}

std::vector<std::string> case_args(const CliCase& c) {
    std::vector<std::string> args = words(c.args);
    // A train row gets the tiny model unless it names its own data or config.
    if (args[0] == "train" && !contains(c.args, "--data_dir") && !contains(c.args, "--config"))
        for (const std::string& w : words(kTiny)) args.insert(args.begin() + 1, w);
    return args;
}

void check_outcome(const CliCase& c, const std::vector<std::string>& args, const Outcome& o) {
    CAPTURE(c.args);
    CAPTURE(o.err);
    CHECK(o.status == c.status);
    CHECK(contains(o.err, c.message));
    CHECK(contains(o.err, "causalgrad " + args[0] + ": ") == (args[0] != "frobnicate" && args[0] != "Train"));
    CHECK(std::count(o.err.begin(), o.err.end(), '\n') == 1);
    CHECK((!o.err.empty() && o.err.back() == '\n'));
    for (const char* bare : kBareLibraryText) {
        CAPTURE(bare);
        CHECK_FALSE(contains(o.err, bare));
    }
}

TEST_CASE("cli: every bad input or fault gives its exit status and one plain line, and changes no file") {
    REQUIRE(kCases.size() >= 80);
    Fixture& fx = fixture();
    // Rows that must not write run a few at a time (process start-up dominates);
    // a change of any file is then pinned on the rows of that batch.
    constexpr size_t kSideBySide = 4;
    std::vector<const CliCase*> quiet, writing;
    for (const CliCase& c : kCases) (c.may_change.empty() ? quiet : writing).push_back(&c);
    for (size_t first = 0; first < quiet.size(); first += kSideBySide) {
        const size_t end = std::min(quiet.size(), first + kSideBySide);
        const auto before = snapshot(fx.root);
        std::vector<Started> running;
        for (size_t i = first; i < end; i++)
            running.push_back(start_cli(fx.root, case_args(*quiet[i]), fx.scratch, quiet[i]->stdout_to, static_cast<int>(i - first)));
        std::string batch;
        for (size_t i = first; i < end; i++) {
            check_outcome(*quiet[i], case_args(*quiet[i]), finish_cli(running[i - first]));
            batch += quiet[i]->args + "; ";
        }
        CAPTURE(batch);
        CHECK(snapshot(fx.root) == before);
    }
    // A run that starts and then fails may append to its log; nothing else may change.
    for (const CliCase* c : writing) {
        const auto before = snapshot(fx.root);
        check_outcome(*c, case_args(*c), run_cli(fx.root, case_args(*c), fx.scratch, c->stdout_to));
        auto after = snapshot(fx.root);
        for (const std::string& path : c->may_change) {
            if (before.count(path)) after[path] = before.at(path);
            else after.erase(path);
        }
        CAPTURE(c->args);
        CHECK(after == before);
    }
}

TEST_CASE("cli: a second run into a locked out_dir refuses, naming the holder's PID") {
    Fixture& fx = fixture();
    const RunLock held = lock_out_dir((fx.root / "lockrun").string());
    const auto before = snapshot(fx.root);
    std::vector<std::string> args = words(std::string("train ") + kTiny + "--out_dir=lockrun --init_from=resume --max_iters=20");
    const Outcome o = run_cli(fx.root, args, fx.scratch);
    CAPTURE(o.err);
    CHECK(o.status == 1);
    CHECK(contains(o.err, "in use by another run (pid " + std::to_string(getpid()) + ")"));
    CHECK(snapshot(fx.root) == before);
}

TEST_CASE("cli: --bias false, --bias=False and --bias True are read as booleans") {
    Fixture& fx = fixture();
    for (const auto& flag_want : std::vector<std::pair<std::string, std::string>>{
             {"--bias false", "bias = false"}, {"--bias=False", "bias = false"}, {"--bias True", "bias = true"},
             {"--bias", "bias = true"}, {"--bias=TRUE", "bias = true"}}) {
        const std::string &flag = flag_want.first, &want = flag_want.second;  // (CAPTURE cannot take a binding)
        CAPTURE(flag);
        const Outcome o = run_cli(fx.root, words("train --max_iters=0 --out_dir=b " + std::string(kTiny) + flag), fx.scratch);
        CHECK(o.status == 0);
        CHECK(contains(o.out, "  " + want + "\n"));
        fs::remove_all(fx.root / "b");
    }
}

TEST_CASE("cli: sample takes its prompt from a file or with escapes, and streams it first") {
    Fixture& fx = fixture();
    const Outcome from_file = run_cli(fx.root, words("sample --out_dir=run --max_new_tokens=4 --start=FILE:prompt.txt"), fx.scratch);
    CHECK(from_file.status == 0);
    CHECK(from_file.out.rfind("the cat\n", 0) == 0);
    CHECK(from_file.out.size() == std::string("the cat\n").size() + 4 + 1);  // 4 one-byte characters and a newline
    const Outcome escaped = run_cli(fx.root, {"sample", "--out_dir=run", "--max_new_tokens=0", "--start=a\\tb\\nc\\\\"}, fx.scratch);
    CHECK(escaped.status == 1);  // the vocabulary has no tab
    CHECK(contains(escaped.err, "(U+0009)"));
    const Outcome lines = run_cli(fx.root, {"sample", "--out_dir=run", "--max_new_tokens=0", "--start=a b\\nc"}, fx.scratch);
    CHECK(lines.status == 0);
    CHECK(lines.out == "a b\nc\n");
}

TEST_CASE("options: values of 1 MB with any bytes but NUL, a byte order mark, and each accepted form") {
    TrainConfig config;
    std::string text;
    cxxopts::Options options("t", "");
    add_train_options(options, config);
    options.add_options()("start", "a text", cxxopts::value(text));
    std::string value(1 << 20, 'x');
    for (size_t i = 0; i < value.size(); i += 997) value[i] = static_cast<char>(1 + i % 255);  // every byte but NUL
    value[5] = '\n';
    parse_strict(options, {"--start=" + value, "--out_dir", "a\nb", "--bias", "False", "--decay_lr=TRUE",
                           "--always_save_checkpoint", "--mixer=" + std::string(1 << 20, 'm')});
    CHECK(text == value);
    CHECK(config.out_dir == "a\nb");
    CHECK_FALSE(config.model.bias);
    CHECK(config.decay_lr);
    CHECK(config.always_save_checkpoint);
    CHECK(config.model.mixer.size() == size_t{1} << 20);
    const std::string long_number = error_of([&] { parse_strict(options, {"--n_layer=" + std::string(1 << 20, '5')}); });
    CHECK(contains(long_number, "--n_layer: '5555"));
    CHECK(long_number.size() < 300);
    const std::vector<ConfigArgument> read = read_config_arguments("\xEF\xBB\xBF# a comment\r\nn_layer = 3\r\nbias = False\n", "x.conf");
    REQUIRE(read.size() == 2);
    CHECK(read[0].arg == "--n_layer=3");
    CHECK(read[0].line == 2);
    CHECK(read[1].arg == "--bias=false");
    CHECK(shown_value("a\nb\xFF\xC3\xA9") == "a\\nb\\xFF\xC3\xA9");
}

TEST_CASE("cli: an option value of any length or with a newline is an ordinary value") {
    Fixture& fx = fixture();
    // 100 KB on the command line (the kernel's limit for one argument is 128 KB).
    std::string prompt;
    while (prompt.size() < 100000) prompt += "the cat sat on the mat. ";
    const Outcome long_prompt = run_cli(fx.root, {"sample", "--out_dir=run", "--max_new_tokens=0", "--start=" + prompt}, fx.scratch);
    CHECK(long_prompt.status == 0);
    CHECK(long_prompt.out.size() == prompt.size() + 1);
    CHECK((long_prompt.out == prompt + "\n"));  // (in parentheses: doctest would print 100 KB)
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"sample", "--out_dir=run", "--max_new_tokens=0", "--start=the cat\nsat"},
          std::vector<std::string>{"sample", "--out_dir=run", "--max_new_tokens=0", "--start", "the cat\nsat"}}) {
        const Outcome o = run_cli(fx.root, args, fx.scratch);
        CAPTURE(o.err);
        CHECK(o.status == 0);
        CHECK(o.out == "the cat\nsat\n");
    }
    // A bad value with a newline is refused in one line, the newline shown as \n.
    const auto before = snapshot(fx.root);
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"train", "--n_layer=2\n3", "--out_dir=fresh"},
          std::vector<std::string>{"train", "--out_dir=fresh", "--bias=tr\nue"},
          std::vector<std::string>{"train", "--n_lay\ner=2", "--out_dir=fresh"},
          std::vector<std::string>{"sample", "--out_dir=run", "--start=\xFF\n"},
          std::vector<std::string>{"train\nx"},
          std::vector<std::string>{"train", "--n_layer=" + std::string(120000, '9'), "--out_dir=fresh"}}) {
        const Outcome o = run_cli(fx.root, args, fx.scratch);
        CAPTURE(args[1 % args.size()].substr(0, 40));
        CAPTURE(o.err);
        CHECK((o.status == 1 || o.status == 2));
        CHECK(std::count(o.err.begin(), o.err.end(), '\n') == 1);
        CHECK_FALSE(contains(o.err, "incorrect syntax"));
        CHECK(o.err.size() < 1000);
    }
    CHECK(snapshot(fx.root) == before);
}

TEST_CASE("cli: plot of a log with a loss of 1e308 and a label that is not UTF-8 is well-formed SVG, with a note") {
    Fixture& fx = fixture();
    write_file(fx.root / "scratch_plot/huge/log.csv", read_file(fx.root / "run/log.csv") + "11,1e308,,0.001,1,1,1\n");
    const Outcome o = run_cli(fx.root, {"plot", "l\xFF<&>=scratch_plot/huge", "--title=\x01", "--to=scratch_plot/huge.svg"}, fx.scratch);
    CAPTURE(o.err);
    REQUIRE(o.status == 0);
    CHECK(contains(o.out, "1 losses are inf, nan or beyond 1e6; left out"));
    const std::string svg = read_file(fx.root / "scratch_plot/huge.svg");
    CHECK_FALSE(contains(svg, "inf"));
    CHECK_FALSE(contains(svg, "nan"));
    CHECK_NOTHROW(utf8_to_code_points(svg));
    CHECK(contains(svg, ">l&#xFFFD;&lt;&amp;&gt;<"));
    CHECK(contains(svg, ">&#xFFFD;</text>"));
    fs::remove_all(fx.root / "scratch_plot");
}

TEST_CASE("cli: prepare on a full disk leaves the earlier train.bin, val.bin and vocab.txt whole") {
    if (geteuid() != 0) {
        MESSAGE("skipped: mounting a small tmpfs needs root");
        return;
    }
    Fixture& fx = fixture();
    const fs::path disk = fx.base.path / "small_disk";
    fs::create_directories(disk);
    if (mount("tmpfs", disk.c_str(), "tmpfs", 0, "size=256k") != 0) {
        MESSAGE("skipped: cannot mount a tmpfs here (" << std::strerror(errno) << ")");
        return;
    }
    struct Unmount {
        std::string path;
        ~Unmount() { umount2(path.c_str(), MNT_DETACH); }
    } unmount{disk.string()};
    const std::string out = (disk / "data").string();
    const Outcome first = run_cli(fx.root, {"prepare", "--input=input.txt", "--out_dir=" + out}, fx.scratch);
    REQUIRE(first.status == 0);
    const auto before = snapshot(disk);
    // A text whose train.bin fits the space left but whose three files together do not.
    struct statvfs fsinfo;
    REQUIRE(statvfs(out.c_str(), &fsinfo) == 0);
    const double free_bytes = static_cast<double>(fsinfo.f_bavail) * static_cast<double>(fsinfo.f_frsize);
    std::string text = pattern_text();
    while (static_cast<double>(text.size()) * 1.8 < 0.95 * free_bytes) text += pattern_text();
    write_file(fx.scratch / "big.txt", text);
    const Outcome full = run_cli(fx.root, {"prepare", "--input=" + (fx.scratch / "big.txt").string(), "--out_dir=" + out}, fx.scratch);
    CAPTURE(full.err);
    CHECK(full.status == 1);
    CHECK(contains(full.err, "No space left on device"));
    CHECK(contains(full.err, "keeps its earlier train.bin, val.bin and vocab.txt"));
    CHECK(std::count(full.err.begin(), full.err.end(), '\n') == 1);
    CHECK(snapshot(disk) == before);  // the earlier set, byte for byte, and nothing left beside it
    // With room again (a shorter text), the new set replaces the old one whole.
    write_file(fx.scratch / "other.txt", "xyzzy " + pattern_text());
    const Outcome again = run_cli(fx.root, {"prepare", "--input=" + (fx.scratch / "other.txt").string(), "--out_dir=" + out}, fx.scratch);
    CHECK(again.status == 0);
    CHECK(read_file(disk / "data/vocab.txt") != before.at("data/vocab.txt").substr(5));
    CHECK(fs::file_size(disk / "data/train.bin") + fs::file_size(disk / "data/val.bin") == 2 * (pattern_text().size() + 6));
    CHECK(std::distance(fs::directory_iterator(disk / "data"), fs::directory_iterator()) == 3);
}

}  // namespace
}  // namespace cg

namespace cg {
namespace {

// Waits (up to 10 s) until `path` holds at least `bytes` bytes.
bool wait_for_bytes(const fs::path& path, size_t bytes) {
    for (int i = 0; i < 1000; i++) {
        std::error_code ec;
        if (fs::exists(path, ec) && fs::file_size(path, ec) >= bytes) return true;
        usleep(10000);
    }
    return false;
}

TEST_CASE("cli: attention measures every head of a trained run and draws them in one SVG") {
    Fixture& fx = fixture();
    const std::string svg = (fx.scratch / "attention.svg").string();
    const Outcome o = run_cli(fx.root, {"attention", "--out_dir=run", "--start=the cat\\n", "--to=" + svg}, fx.scratch);
    INFO(o.err);
    REQUIRE(o.status == 0);
    // The run has 2 layers of 2 heads: a row for each, then the count.
    for (const char* row : {"    0     0 ", "    0     1 ", "    1     0 ", "    1     1 "}) CHECK(o.out.find(row) != std::string::npos);
    CHECK(o.out.find("checkpoint: run/ckpt.bin (step 10, the best state") != std::string::npos);
    CHECK(o.out.find("heads: 4; near uniform ") != std::string::npos);
    const std::string picture = read_file(svg);
    CHECK(picture.rfind("<svg ", 0) == 0);
    CHECK(picture.size() > 7);
    CHECK(picture.substr(picture.size() - 7) == "</svg>\n");
    CHECK(picture.find("layer 1 head 1: ") != std::string::npos);
    CHECK(picture.find("the cat\xe2\x8f\x8e") != std::string::npos);  // the line break shown as a mark
}

TEST_CASE("cli: SIGINT, SIGTERM and SIGUSR1 end training after the step, with a checkpoint and the resume command") {
    Fixture& fx = fixture();
    for (const auto& signal_status : {std::pair<int, int>{SIGINT, 130}, {SIGTERM, 143}, {SIGUSR1, 138}}) {
        const int signal = signal_status.first, status = signal_status.second;
        CAPTURE(signal);
        const std::string dir = "signal" + std::to_string(signal);
        const Started s = start_cli(fx.root, words(std::string("train ") + kTiny + "--out_dir=" + dir +
                                                   " --max_iters=1000000 --eval_interval=100000"),
                                    fx.scratch);
        REQUIRE(wait_for_bytes(fx.root / dir / "log.csv", 300));  // a few steps logged
        kill(s.pid, signal);
        const Outcome o = finish_cli(s);
        CHECK(o.status == status);
        // The state goes beside the best checkpoint (here there is none: only step 0 was evaluated), not over it.
        CHECK(contains(o.out, "saved checkpoint to " + dir + "/last.bin; continue with: causalgrad train --out_dir=" +
                                  dir + " --init_from=resume"));
        CHECK_FALSE(fs::exists(fx.root / dir / "ckpt.bin"));
        const Checkpoint c = load_checkpoint((fx.root / dir / "last.bin").string());
        CHECK(contains(o.out, "after step " + std::to_string(c.state.step - 1) + ":"));
        CHECK(c.state.step > 5);
        // The resume continues from that step.
        const Outcome resumed = run_cli(fx.root, words(std::string("train ") + kTiny + "--out_dir=" + dir +
                                                       " --init_from=resume --max_iters=" +
                                                       std::to_string(c.state.step + 3)),
                                        fx.scratch);
        CHECK(resumed.status == 0);
        CHECK(contains(resumed.out, "resuming at step " + std::to_string(c.state.step) + " from " + dir + "/last.bin"));
    }
}

TEST_CASE("cli: Ctrl-C during sample keeps the text printed so far") {
    Fixture& fx = fixture();
    const Started s = start_cli(fx.root, words("sample --out_dir=run --max_new_tokens=100000000"), fx.scratch);
    REQUIRE(wait_for_bytes(s.out_file, 50));  // streamed while it runs
    kill(s.pid, SIGINT);
    const Outcome o = finish_cli(s);
    CHECK(o.status == 130);
    CHECK(o.out.size() >= 50);
    CHECK(contains(o.err, "stopped by a signal"));
}


// ---- the work of a run is kept -------------------------------------------------------------

// Runs build/causalgrad in the fixture's folder with the tiny model's options first.
Outcome train_tiny(const std::string& args) {
    Fixture& fx = fixture();
    return run_cli(fx.root, words(std::string("train ") + kTiny + args), fx.scratch);
}

TEST_CASE("cli: a run whose val never improves keeps its final state in last.bin, says so, and resumes from it") {
    Fixture& fx = fixture();
    // A learning rate of 10 throws the weights far from the start: every evaluation is worse than step 0's.
    const Outcome o = train_tiny("--out_dir=diverged --max_iters=20 --learning_rate=10 --warmup_iters=0 --decay_lr=false");
    CAPTURE(o.out);
    CAPTURE(o.err);
    REQUIRE(o.status == 0);
    CHECK_FALSE(fs::exists(fx.root / "diverged/ckpt.bin"));
    REQUIRE(fs::exists(fx.root / "diverged/last.bin"));
    CHECK(load_checkpoint((fx.root / "diverged/last.bin").string()).state.step == 20);
    CHECK(contains(o.out, "val loss never improved on "));
    CHECK(contains(o.out, "the final state is in diverged/last.bin"));
    // The commands that read a run take it with --checkpoint=last and say which file they read.
    const Outcome e = run_cli(fx.root, words("eval --out_dir=diverged --checkpoint=last --eval_iters=2"), fx.scratch);
    CHECK(e.status == 0);
    CHECK(contains(e.out, "checkpoint: diverged/last.bin (step 20, the latest state"));
    const Outcome s = run_cli(fx.root, words("sample --out_dir=diverged --checkpoint=last --max_new_tokens=3"), fx.scratch);
    CHECK(s.status == 0);
    CHECK(contains(s.err, "read diverged/last.bin"));
    const Outcome x = run_cli(fx.root, words("export --out_dir=diverged --checkpoint=last --to=diverged.safetensors"), fx.scratch);
    CHECK(x.status == 0);
    CHECK(contains(x.out, "read diverged/last.bin"));
    // A later run from scratch does not replace it; a resume continues from it.
    CHECK(train_tiny("--out_dir=diverged --max_iters=20").status == 1);
    const Outcome r = train_tiny("--out_dir=diverged --init_from=resume --max_iters=25 --learning_rate=1e-3");
    CHECK(r.status == 0);
    CHECK(contains(r.out, "resuming at step 20 from diverged/last.bin"));
    // An import over the run replaces its latest state too: a resume starts from the imported weights.
    REQUIRE(run_cli(fx.root, words("import --from=diverged.safetensors --out_dir=diverged --overwrite"), fx.scratch).status == 0);
    CHECK_FALSE(fs::exists(fx.root / "diverged/last.bin"));
    CHECK(contains(train_tiny("--out_dir=diverged --init_from=resume --max_iters=1").out,
                   "resuming at step 0 from diverged/ckpt.bin"));
}

TEST_CASE("cli: fine-tuning on other data keeps the best checkpoint and saves the work in last.bin") {
    Fixture& fx = fixture();
    const std::string fast = " --learning_rate=1e-2 --warmup_iters=0 --decay_lr=false";
    REQUIRE(train_tiny("--out_dir=tune --max_iters=200 --eval_interval=100" + fast).status == 0);
    const std::string best = read_file(fx.root / "tune/ckpt.bin");
    // The same characters in reverse order: the same vocabulary, text the model has not learned.
    const Outcome o = train_tiny("--out_dir=tune --init_from=resume --max_iters=220 --data_dir=data_reversed" + fast);
    CAPTURE(o.out);
    CAPTURE(o.err);
    REQUIRE(o.status == 0);
    CHECK(contains(o.out, "note: the checkpoint trained on 'data' and this run trains on 'data_reversed'"));
    CHECK(contains(o.out, "val loss never improved on "));
    CHECK(read_file(fx.root / "tune/ckpt.bin") == best);  // the best on the old data, untouched
    REQUIRE(fs::exists(fx.root / "tune/last.bin"));
    CHECK(load_checkpoint((fx.root / "tune/last.bin").string()).state.step == 220);
}

TEST_CASE("cli: a resume with nothing to do says so and changes no file") {
    Fixture& fx = fixture();
    const auto before = snapshot(fx.root / "run");
    const Outcome o = train_tiny("--out_dir=run --init_from=resume --max_iters=10");
    CHECK(o.status == 0);
    CHECK(contains(o.out, "'run/ckpt.bin' is at step 10 and --max_iters is 10: nothing to do"));
    CHECK(snapshot(fx.root / "run") == before);
}

// log.csv holds whole rows that go forward: the checks of the kill test, from C++.
void check_log_rows(const fs::path& path, int64_t log_interval, int64_t eval_interval, int64_t last_step) {
    const LogFile log = parse_run_log(read_file(path), path.string());
    CHECK_FALSE(log.torn_last_line);
    int64_t train = 0, eval = 0;
    for (const LogRow& row : log.rows) {
        CAPTURE(row.line);
        CHECK(row.step == (row.is_eval ? eval++ * eval_interval : train++ * log_interval));
    }
    if (last_step >= 0) {
        CHECK(train == last_step / log_interval);
        CHECK(eval == last_step / eval_interval + 1);
    }
}

TEST_CASE("cli: a damaged last line of log.csv is dropped on resume with a note, and the log goes on whole") {
    Fixture& fx = fixture();
    fs::create_directories(fx.root / "tail");
    fs::copy(fx.root / "run/ckpt.bin", fx.root / "tail/ckpt.bin");
    // What an earlier build left on a full disk: a row written twice into one line.
    write_file(fx.root / "tail/log.csv", read_file(fx.root / "run/log.csv") +
                                             "10,2.1,,0.001,0.5,1.00,100\n15,2.0,,0.001,0.5,1.0015,2.0,,0.001,0.5,1.00,100\n");
    const Outcome o = train_tiny("--out_dir=tail --init_from=resume --max_iters=20");
    CAPTURE(o.out);
    CAPTURE(o.err);
    CHECK(o.status == 0);
    CHECK(contains(o.out, "warning: dropped the damaged last line of 'tail/log.csv' (line 8: has 12 cells, expected 7): a write cut short"));
    check_log_rows(fx.root / "tail/log.csv", 5, 5, 20);
}

TEST_CASE("cli: eval reads 200 batches by default and prints the standard error beside each loss") {
    Fixture& fx = fixture();
    const Outcome o = run_cli(fx.root, words("eval --out_dir=run"), fx.scratch);
    CAPTURE(o.err);
    REQUIRE(o.status == 0);
    CHECK(contains(o.out, "val batches: 200 of 4 x 16 tokens\n"));
    for (const char* how : {"full sequences", "token by token"}) {
        CAPTURE(how);
        const size_t at = o.out.find(std::string("val loss (") + how + ", standard error ");
        REQUIRE(at != std::string::npos);
        // The loss is the last word of its line, as scripts read it; the error is small and positive.
        const std::string line = o.out.substr(at, o.out.find('\n', at) - at);
        const double se = std::stod(line.substr(line.find("standard error ") + 15));
        const double loss = std::stod(line.substr(line.rfind(' ') + 1));
        CHECK(se > 0.0);
        CHECK(se < 0.1 * loss);
    }
    // Training prints it beside each val loss too.
    const Outcome t = train_tiny("--out_dir=with_error --max_iters=5");
    CHECK(t.status == 0);
    CHECK(contains(t.out, "step 5: train loss "));
    CHECK(contains(t.out, " ± "));
}

// ---- a full disk -------------------------------------------------------------------------

// A tmpfs of `size` (mount -t tmpfs -o size=...) on `dir` for the test; it needs root. Unmounted at scope exit.
struct SmallDisk {
    fs::path dir;
    bool mounted = false;
    SmallDisk(const fs::path& at, const std::string& size) : dir(at) {
        fs::create_directories(dir);
        if (geteuid() != 0) return;
        mounted = ::mount("tmpfs", dir.c_str(), "tmpfs", 0, ("size=" + size).c_str()) == 0;
    }
    ~SmallDisk() {
        if (mounted) ::umount2(dir.c_str(), MNT_DETACH);
    }
};

// True if the disk is there; else says why the test is skipped.
bool mounted_or_skip(const SmallDisk& disk) {
    if (!disk.mounted) MESSAGE("skipped: mounting a small tmpfs needs root (mount -t tmpfs); run the tests as root");
    return disk.mounted;
}

// Writes a filler file until the disk is full, then gives back `leave` bytes; returns its path.
fs::path fill_disk(const fs::path& dir, off_t leave = 0) {
    const fs::path filler = dir / "filler";
    const int fd = open(filler.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE(fd >= 0);
    const std::string block(512, 'x');
    off_t size = 0;
    for (ssize_t n; (n = write(fd, block.data(), block.size())) > 0;) size += n;
    REQUIRE(ftruncate(fd, std::max<off_t>(0, size - leave)) == 0);
    close(fd);
    return filler;
}

TEST_CASE("cli: on a full disk a training run stops with one line, every file whole, and resumes when space is back") {
    Fixture& fx = fixture();
    SmallDisk disk(fx.base.path / "disk_train", "1m");
    if (!mounted_or_skip(disk)) return;
    const std::string out_dir = (disk.dir / "run").string();
    const std::string args = std::string("train ") + kTiny + "--out_dir=" + out_dir + " --log_interval=1 --eval_interval=50 "
                             "--always_save_checkpoint --max_iters=3000";
    const Started s = start_cli(fx.root, words(args), fx.scratch);
    REQUIRE(wait_for_bytes(disk.dir / "run/log.csv", 20000));  // some hundred steps in, a checkpoint or two
    const fs::path filler = fill_disk(disk.dir);
    const Outcome o = finish_cli(s);
    CAPTURE(o.err);
    CHECK(o.status == 1);
    CHECK(std::count(o.err.begin(), o.err.end(), '\n') == 1);
    CHECK((contains(o.err, "cannot append to") || contains(o.err, "No space left on device")));
    // Whole rows only, every checkpoint loads, no temporary file left.
    check_log_rows(disk.dir / "run/log.csv", 1, 50, -1);
    CHECK(load_checkpoint(out_dir + "/ckpt.bin").state.step >= 50);
    CHECK_FALSE(fs::exists(out_dir + "/ckpt.bin.tmp"));
    CHECK_FALSE(fs::exists(out_dir + "/log.csv.tmp"));
    // With the space back, a resume finishes the run with every row once.
    fs::remove(filler);
    const Outcome r = run_cli(fx.root, words(std::string("train ") + kTiny + "--out_dir=" + out_dir +
                                             " --log_interval=1 --eval_interval=50 --always_save_checkpoint "
                                             "--init_from=resume --max_iters=" +
                                             std::to_string(load_checkpoint(out_dir + "/ckpt.bin").state.step + 100)),
                              fx.scratch);
    CAPTURE(r.err);
    CHECK(r.status == 0);
    check_log_rows(disk.dir / "run/log.csv", 1, 50, load_checkpoint(out_dir + "/ckpt.bin").state.step);
}

TEST_CASE("cli: on a full disk checkpoint, last-state, export and plot writes fail with one line and leave the old file") {
    Fixture& fx = fixture();
    SmallDisk disk(fx.base.path / "disk_files", "512k");
    if (!mounted_or_skip(disk)) return;
    const fs::path d = disk.dir;
    fs::create_directories(d / "run");
    fs::copy(fx.root / "run/ckpt.bin", d / "run/ckpt.bin");
    fs::copy(fx.root / "run/log.csv", d / "run/log.csv");
    write_file(d / "old.svg", "the old picture");
    REQUIRE(run_cli(fx.root, words("export --out_dir=run --to=" + (d / "old.safetensors").string()), fx.scratch).status == 0);
    const auto before = snapshot(d);
    struct Row {
        std::string args, message;
        off_t leave;  // free bytes: room for the log's rows, not for a checkpoint
    };
    const std::vector<Row> rows = {
        // val improves at step 15: ckpt.bin cannot be saved
        {std::string("train ") + kTiny + "--out_dir=" + (d / "run").string() + " --init_from=resume --max_iters=15",
         "No space left on device", 16384},
        // val does not improve: last.bin cannot be saved
        {std::string("train ") + kTiny + "--out_dir=" + (d / "run").string() +
             " --init_from=resume --max_iters=15 --learning_rate=10 --warmup_iters=0 --decay_lr=false",
         "No space left on device", 16384},
        {"export --out_dir=run --to=" + (d / "old.safetensors").string(), "No space left on device", 16384},
        {"plot run --to=" + (d / "old.svg").string(), "failed", 0},
        {"eval --out_dir=run --eval_iters=2", "cannot write to standard output", 0},
    };
    for (const Row& row : rows) {
        CAPTURE(row.args);
        const fs::path filler = fill_disk(d, row.leave);
        // eval writes its report into a file on the full disk
        const Outcome o = run_cli(fx.root, words(row.args), fx.scratch,
                                  starts_with(row.args, "eval") ? (d / "report.txt").string() : "");
        fs::remove(filler);
        fs::remove(d / "report.txt");
        CAPTURE(o.err);
        CHECK(o.status == 1);
        CHECK(contains(o.err, row.message));
        CHECK(std::count(o.err.begin(), o.err.end(), '\n') == 1);
        auto after = snapshot(d);
        after.erase("run/train.lock");
        // The log may have gained whole rows before the save failed; the rest is as it was.
        check_log_rows(d / "run/log.csv", 5, 5, -1);
        after["run/log.csv"] = before.at("run/log.csv");
        CHECK(after == before);
    }
}

}  // namespace
}  // namespace cg
