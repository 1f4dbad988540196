// End to end: data preparation, training runs, checkpoints and resuming,
// the CSV log, config checks and the config-file reader, all through the
// library calls the command line makes.
//
// Every test works in its own folder under the system temp dir, removed at
// the end. The corpus is a few KB of simple sentences that repeat in a fixed
// order, so a model that uses its context can do far better than one that
// only learns character frequencies. Models are tiny (2 layers, C 16, T 16,
// batch 4): a run of 50 steps takes a fraction of a second.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "data/prepare.h"
#include "nn/adamw.h"
#include "tests/helpers.h"
#include "tests/model_helpers.h"
#include "tests/train_helpers.h"
#include "train/checkpoint.h"
#include "io/crc32.h"
#include "io/text.h"
#include "data/dataset.h"
#include "cli/options.h"
#include "tools/plot.h"
#include "train/run_log.h"
#include "train/train.h"

namespace cg {
namespace {

namespace fs = std::filesystem;

std::vector<uint16_t> read_u16(const std::string& path) {
    const std::string bytes = read_file(path);
    REQUIRE(bytes.size() % 2 == 0);
    std::vector<uint16_t> out(bytes.size() / 2);
    std::memcpy(out.data(), bytes.data(), bytes.size());
    return out;
}

// Entropy (nats) of the character frequencies: the loss of the best model
// that ignores the context.
double unigram_entropy(const std::string& text) {
    std::map<char, double> counts;
    for (char ch : text) counts[ch] += 1.0;
    double h = 0.0;
    for (const auto& [ch, n] : counts) {
        const double p = n / static_cast<double>(text.size());
        h -= p * std::log(p);
    }
    return h;
}

float mean_of(const std::vector<float>& v, size_t from, size_t n) {
    double s = 0.0;
    for (size_t i = from; i < from + n; i++) s += v[i];
    return static_cast<float>(s / static_cast<double>(n));
}

// ---- data preparation ---------------------------------------------------------------------

TEST_CASE("train: prepare_text makes the sorted character vocabulary and a 90/10 split") {
    TempDir dir;
    const std::string text = pattern_corpus();
    write_file(dir / "input.txt", text);
    const PrepareSummary s = prepare_text(dir / "input.txt", dir / "data");

    const std::set<char> distinct(text.begin(), text.end());
    CHECK(s.vocab_size == distinct.size());
    CHECK(s.train_tokens == text.size() * 9 / 10);
    CHECK(s.train_tokens + s.val_tokens == text.size());

    const Dataset d = load_dataset(dir / "data");
    REQUIRE(d.vocab.size() == distinct.size());
    size_t i = 0;
    for (char ch : distinct) CHECK(d.vocab[i++] == static_cast<uint32_t>(ch));  // sorted, as sorted(set(text))
    CHECK(d.train.size() == s.train_tokens);
    CHECK(d.val.size() == s.val_tokens);
    CHECK(read_u16(dir / "data/train.bin") == d.train);  // uint16 tokens, nanoGPT's format
    // The tokens are the characters' ranks, train first, then val.
    for (size_t k = 0; k < text.size(); k++) {
        const uint16_t tok = k < d.train.size() ? d.train[k] : d.val[k - d.train.size()];
        REQUIRE(d.vocab[tok] == static_cast<uint32_t>(text[k]));
    }
}

TEST_CASE("train: an empty token file loads as no tokens (the sanitizer build checks the copy)") {
    TempDir dir;
    write_file(dir / "input.txt", pattern_corpus());
    prepare_text(dir / "input.txt", dir / "data");
    write_file(dir / "data/val.bin", "");
    const Dataset d = load_dataset(dir / "data");
    CHECK(d.val.empty());
    CHECK(!d.train.empty());
}

TEST_CASE("train: multi-byte UTF-8 round-trips through prepare, encode and decode") {
    TempDir dir;
    // é (2 bytes), — (3 bytes), 漢 (3 bytes), 𝄞 (4 bytes)
    std::string text;
    for (int k = 0; k < 30; k++) text += "caf\xC3\xA9 \xE2\x80\x94 \xE6\xBC\xA2 \xF0\x9D\x84\x9E ok\n";
    write_file(dir / "input.txt", text);
    const PrepareSummary s = prepare_text(dir / "input.txt", dir / "data");
    const std::vector<uint32_t> cps = utf8_to_code_points(text);
    CHECK(s.train_tokens == cps.size() * 9 / 10);  // split counts characters, not bytes
    CHECK(s.train_tokens + s.val_tokens == cps.size());

    const Dataset d = load_dataset(dir / "data");
    CHECK(d.vocab.size() == s.vocab_size);
    CHECK(d.vocab.back() == 0x1D11Eu);  // sorted by code point
    CHECK(std::find(d.vocab.begin(), d.vocab.end(), 0x6F22u) != d.vocab.end());  // 漢
    CHECK(std::find(d.vocab.begin(), d.vocab.end(), 0x2014u) != d.vocab.end());  // —
    CHECK(std::find(d.vocab.begin(), d.vocab.end(), 0xE9u) != d.vocab.end());    // é
    std::vector<int> all(d.train.begin(), d.train.end());
    all.insert(all.end(), d.val.begin(), d.val.end());
    CHECK(decode(d.vocab, all) == text);

    const std::string piece = "\xE6\xBC\xA2\xC3\xA9\xE2\x80\x94\n";  // 漢é—\n
    const std::vector<int> ids = encode(d.vocab, piece);
    CHECK(ids.size() == 4);
    CHECK(decode(d.vocab, ids) == piece);
    for (uint32_t cp : {0x41u, 0xE9u, 0x2014u, 0x6F22u, 0x1D11Eu})
        CHECK(utf8_to_code_points(code_point_to_utf8(cp)) == std::vector<uint32_t>{cp});
    CHECK_THROWS_AS(encode(d.vocab, "caf\xC3\xA8"), Error);  // è is not in the vocabulary
    CHECK_THROWS_AS(decode(d.vocab, {static_cast<int>(d.vocab.size())}), Error);
}

TEST_CASE("train: invalid UTF-8 throws cg::Error") {
    const char* bad[] = {
        "abc\xFF",         // never valid in UTF-8
        "abc\xC3",         // a 2-byte sequence cut short
        "a\xC3(b",         // continuation byte missing
        "a\x80z",          // a lone continuation byte
        "a\xE6\xBC",       // a 3-byte sequence cut short
        "a\xF0\x9D\x84z",  // a 4-byte sequence with a bad last byte
        "\xC1\x81",         // overlong 'A': would decode to different bytes than the input
        "\xE0\x80\xAF",     // overlong '/'
        "\xED\xA0\x80",     // a UTF-16 surrogate
        "\xF4\x90\x80\x80", // past U+10FFFF
    };
    for (size_t k = 0; k < std::size(bad); k++) {
        CAPTURE(k);
        CHECK_THROWS_AS(utf8_to_code_points(bad[k]), Error);
    }
    TempDir dir;
    write_file(dir / "bad.txt", std::string("hello \xC3 world"));
    CHECK_THROWS_AS(prepare_text(dir / "bad.txt", dir / "data"), Error);
    CHECK_FALSE(fs::exists(dir / "data/train.bin"));
    CHECK_THROWS_AS(prepare_text(dir / "missing.txt", dir / "data"), Error);
}

// ---- training -----------------------------------------------------------------------------

TEST_CASE("train: a tiny model learns the pattern, with attention and with pair_max") {
    TempDir dir;
    const std::string text = pattern_corpus();
    const std::string data = prepare_corpus(dir, text);
    const double h1 = unigram_entropy(text);
    const double uniform = std::log(static_cast<double>(load_dataset(data).vocab.size()));
    for (const std::string mixer : {"attn", "pair_max"}) {
        INFO("mixer " << mixer);
        TrainConfig c = tiny_run(data, dir / ("out-" + mixer), mixer);
        std::ostringstream log;
        const TrainReport r = train(c, log);
        REQUIRE(r.step_losses.size() == 50);
        CHECK(r.final_step == 50);
        for (float l : r.step_losses) REQUIRE(std::isfinite(l));
        const float first = mean_of(r.step_losses, 0, 5), last = mean_of(r.step_losses, 45, 5);
        INFO("first 5 steps " << first << ", last 5 " << last << ", unigram entropy " << h1 << ", val "
                              << r.last_val_loss);
        // At initialisation the logits are near zero, so the loss starts at
        // about ln V (ln 22 = 3.09). Learning the character frequencies alone
        // would stop at their entropy h1 (2.6 nats); ending 0.3 nats below it
        // needs the context, so the mixer (and its gradient) works.
        CHECK(first > uniform - 0.2);
        CHECK(last < first - 0.8f);
        CHECK(last < h1 - 0.3);
        CHECK(r.last_val_loss < h1 - 0.3);
        CHECK(contains(log.str(), "step    40/50 | loss"));
        CHECK(contains(log.str(), "step 50: train loss"));
    }
}

TEST_CASE("train: log.csv has the header and one row per logged step and evaluation") {
    TempDir dir;
    const std::string data = prepare_corpus(dir);
    TrainConfig c = tiny_run(data, dir / "out", "pair_max+avg");
    c.max_iters = 12;
    c.log_interval = 3;  // steps 0, 3, 6, 9
    c.eval_interval = 5;  // evaluations at 0, 5, 10, and 12 (the end)
    std::ostringstream log;
    const TrainReport report = train(c, log);
    REQUIRE(fs::exists(dir / "out/log.csv"));
    // The summary: the median of the 9 steps after the 3 of warm-up.
    CHECK(report.median_ms > 0);
    CHECK(contains(log.str(), "median " + fmt("%.1f", report.median_ms) + " ms/step over 9 steps ("));
    std::istringstream csv(read_file(dir / "out/log.csv"));
    std::vector<std::string> lines;
    for (std::string line; std::getline(csv, line);) lines.push_back(line);
    REQUIRE(lines.size() == 1 + 4 + 4);
    CHECK(lines[0] == "step,train_loss,val_loss,lr,grad_norm,ms_per_step,tokens_per_s");
    std::vector<std::string> steps;
    for (size_t i = 1; i < lines.size(); i++) {
        CHECK(std::count(lines[i].begin(), lines[i].end(), ',') == 6);  // 7 columns on every row
        steps.push_back(lines[i].substr(0, lines[i].find(',')));
    }
    CHECK(steps == std::vector<std::string>{"0", "0", "3", "5", "6", "9", "10", "12"});
    // An evaluation row has train and val loss and nothing else.
    CHECK(lines[1].find(",,,,") != std::string::npos);
    CHECK(fs::exists(dir / "out/ckpt.bin"));  // val improved at some evaluation after step 0

    // The plot reads the same file back: 4 step rows, 4 evaluations, one curve each.
    RunCurves r = read_log_csv(dir / "out/log.csv", "run<1>");
    CHECK(r.train.size() == 4);
    REQUIRE(r.val.size() == 4);
    CHECK(r.val.back().first == 12.0);
    const std::string svg = plot_svg({r}, "title");
    CHECK(svg.rfind("<svg", 0) == 0);
    CHECK(std::count(svg.begin(), svg.end(), '\n') > 10);
    CHECK(svg.find("<polyline") != std::string::npos);
    CHECK(svg.find("run&lt;1&gt;") != std::string::npos);  // labels are escaped
    CHECK_THROWS_AS(read_log_csv(dir / "out/ckpt.bin", "x"), Error);
}

// Rows of log.csv without the timing columns (ms_per_step, tokens_per_s): the first 5 columns.
std::vector<std::string> csv_without_timing(const std::string& path) {
    std::istringstream in(read_file(path));
    std::vector<std::string> rows;
    for (std::string line; std::getline(in, line);) {
        size_t cut = 0;
        for (int k = 0; k < 5 && cut != std::string::npos; k++) cut = line.find(',', k == 0 ? 0 : cut + 1);
        rows.push_back(line.substr(0, cut));
    }
    return rows;
}

TEST_CASE("train: a resumed run repeats the uninterrupted run bit for bit") {
    TempDir dir;
    const std::string data = prepare_corpus(dir);
    const int64_t N = 16;
    // Mixed blocks, dropout and biases: the checkpoint must carry both kinds
    // of block, the AdamW moments and both random streams (batches, dropout).
    auto config = [&](const std::string& out) {
        TrainConfig c = tiny_run(data, out, "attn,pair_max+avg");
        c.model.dropout = 0.1f;
        c.model.bias = true;
        c.max_iters = N;
        c.eval_interval = N / 2;
        c.log_interval = 1;
        c.warmup_iters = 4;
        c.lr_decay_iters = N;
        c.always_save_checkpoint = true;
        return c;
    };
    std::ostringstream log;
    const TrainReport a = train(config(dir / "a"), log);
    REQUIRE(a.step_losses.size() == static_cast<size_t>(N));

    TrainConfig b1 = config(dir / "b");
    b1.max_iters = N / 2;
    const TrainReport first = train(b1, log);
    REQUIRE(first.step_losses.size() == static_cast<size_t>(N / 2));
    REQUIRE(fs::exists(dir / "b/ckpt.bin"));
    CHECK(load_checkpoint(dir / "b/ckpt.bin").state.step == N / 2);

    TrainConfig b2 = config(dir / "b");
    b2.init_from = "resume";
    std::ostringstream resume_log;
    const TrainReport second = train(b2, resume_log);
    CHECK(contains(resume_log.str(), "resuming at step 8"));
    REQUIRE(second.step_losses.size() == static_cast<size_t>(N / 2));
    for (int64_t i = 0; i < N / 2; i++) {
        CAPTURE(i);
        CHECK(first.step_losses[i] == a.step_losses[i]);
        // Bit-for-bit: == on floats, no tolerance.
        CHECK(second.step_losses[i] == a.step_losses[N / 2 + i]);
    }
    CHECK(second.last_val_loss == a.last_val_loss);
    CHECK(second.final_step == a.final_step);
    CHECK(second.best_val_loss == a.best_val_loss);
    // Both final checkpoints hold the same weights; the logs agree but for timing.
    Checkpoint ca = load_checkpoint(dir / "a/ckpt.bin"), cb = load_checkpoint(dir / "b/ckpt.bin");
    CHECK(ca.state.step == N);
    CHECK(cb.state.step == N);
    std::vector<Parameter*> pa = gpt_parameters(ca.model), pb = gpt_parameters(cb.model);
    REQUIRE(pa.size() == pb.size());
    for (size_t i = 0; i < pa.size(); i++)
        CHECK(std::memcmp(pa[i]->value.data, pb[i]->value.data, pa[i]->value.numel() * 4) == 0);
    CHECK(csv_without_timing(dir / "a/log.csv") == csv_without_timing(dir / "b/log.csv"));
}

// The readable composed attention (--attention=composed) trains to the fused
// kernel's losses: the same model, the same batches, other float roundings.
TEST_CASE("train: --attention=composed gives the losses of the fused attention") {
    TempDir dir;
    const std::string data = prepare_corpus(dir);
    auto run = [&](const std::string& attention) {
        TrainConfig c = tiny_run(data, dir / attention, "attn,pair_max");
        c.max_iters = 20;
        c.attention = attention;
        std::ostringstream log;
        return train(c, log).step_losses;
    };
    const std::vector<float> fused = run("fused"), composed = run("composed");
    REQUIRE(fused.size() == 20);
    REQUIRE(composed.size() == 20);
    for (size_t i = 0; i < fused.size(); i++) {
        CAPTURE(i);
        CHECK(std::fabs(composed[i] - fused[i]) <= 1e-4f * fused[i]);
    }
    CHECK(fused.back() < fused.front() - 0.1f);  // it learned, so the comparison is of something
}

// Large enough that every kernel takes its parallel path (matmul rows split,
// attention over heads, layer-norm chunks, AdamW slices).
TEST_CASE("train: the same losses bit for bit on 1 thread, 2 threads and the measured choice") {
    TempDir dir;
    const std::string data = prepare_corpus(dir);
    auto run = [&](int threads) {
        TrainConfig c = tiny_run(data, dir / ("t" + std::to_string(threads)), "attn,pair_max");
        c.model.n_embd = 96;
        c.model.block_size = 48;
        c.batch_size = 8;
        c.max_iters = 12;
        c.threads = threads;
        std::ostringstream log;
        return train(c, log).step_losses;
    };
    const std::vector<float> one = run(1), two = run(2), chosen = run(0);
    REQUIRE(one.size() == 12);
    for (size_t i = 0; i < one.size(); i++) {
        CAPTURE(i);
        CHECK(two[i] == one[i]);  // == on floats: no tolerance
        CHECK(chosen[i] == one[i]);
    }
}

TEST_CASE("train: batch 8 and batch 4 with grad_accum=2 train on the same rows to the same losses") {
    TempDir dir;
    const std::string data = prepare_corpus(dir);
    auto run = [&](int64_t batch_size, int grad_accum, const std::string& name) {
        TrainConfig c = tiny_run(data, dir / name, "attn");
        c.batch_size = batch_size;
        c.grad_accum = grad_accum;
        c.max_iters = 20;
        c.eval_interval = 20;
        c.always_save_checkpoint = true;
        std::ostringstream log;
        const TrainReport report = train(c, log);
        // Each step draws batch_size x grad_accum window offsets from the data stream.
        CHECK(load_checkpoint(dir / name + "/ckpt.bin").state.data_rng.counter ==
              static_cast<uint64_t>(20 * batch_size * grad_accum));
        return report;
    };
    const TrainReport whole = run(8, 1, "whole"), accumulated = run(4, 2, "accum"), half = run(4, 1, "half");
    REQUIRE(whole.step_losses.size() == 20);
    REQUIRE(accumulated.step_losses.size() == 20);
    for (size_t i = 0; i < whole.step_losses.size(); i++) {
        CAPTURE(i);
        CHECK(std::fabs(accumulated.step_losses[i] - whole.step_losses[i]) <= 1e-5f * std::fabs(whole.step_losses[i]));
    }
    // The evaluation reads the same rows too: eval_iters batches of 8, or twice as many of 4.
    CHECK(std::fabs(accumulated.last_val_loss - whole.last_val_loss) <= 1e-5f * std::fabs(whole.last_val_loss));
    // Not vacuous: half the rows per step give other losses.
    CHECK(std::fabs(half.step_losses[0] - whole.step_losses[0]) > 1e-4f);
}

TEST_CASE("train: init_from=resume without a checkpoint names the missing file") {
    TempDir dir;
    const std::string data = prepare_corpus(dir);
    TrainConfig c = tiny_run(data, dir / "empty", "attn");
    c.init_from = "resume";
    std::ostringstream log;
    try {
        train(c, log);
        FAIL("resume without a checkpoint did not throw");
    } catch (const Error& e) {
        CHECK(contains(e.what(), dir / "empty/ckpt.bin"));
    }
}

// ---- checkpoints --------------------------------------------------------------------------

struct Saved {
    TrainConfig config;
    Vocab vocab;
    GPT model;
    std::unique_ptr<AdamW> opt;
    RunState state;
};

// A model with random weights and moments, and settings far from the defaults.
Saved make_saved() {
    Saved s;
    TrainConfig& c = s.config;
    c.model = gpt_config(/*vocab_size=*/7, /*block_size=*/8, /*n_layer=*/3, /*n_head=*/2, /*n_embd=*/12,
                         "pair_max+avg,attn,scan_min");
    c.model.dropout = 1.0f / 3.0f;  // needs 9 digits to round-trip
    c.model.bias = true;
    c.model.activation = "pair_min";
    c.model.mixer_vproj = true;
    c.data_dir = "some/data dir";
    c.out_dir = "elsewhere";
    c.batch_size = 3;
    c.max_iters = 77;
    c.learning_rate = 1.0f / 3000.0f;
    c.decay_lr = false;
    c.warmup_iters = 9;
    c.lr_decay_iters = 70;
    c.min_lr = 0.0005f;
    c.weight_decay = 0.05f;
    c.beta1 = 0.8f;
    c.beta2 = 0.875f;
    c.grad_clip = 0.5f;
    c.eval_interval = 11;
    c.eval_iters = 4;
    c.log_interval = 2;
    c.always_save_checkpoint = true;
    c.seed = 987654321987ull;
    c.threads = 1;
    s.vocab = {'\n', ' ', 'a', 0xE9, 0x2014, 0x6F22, 0x1D11E};
    s.model = make_gpt(c.model, 3);
    std::mt19937 gen(17);
    std::normal_distribution<float> dist(0.0f, 0.5f);
    std::vector<Parameter*> params = gpt_parameters(s.model);
    for (Parameter* p : params)
        for (int64_t i = 0; i < p->value.numel(); i++) p->value.data[i] = dist(gen);
    s.opt = std::make_unique<AdamW>(make_adamw(params, AdamWConfig{}));
    for (size_t i = 0; i < params.size(); i++)
        for (int64_t j = 0; j < params[i]->value.numel(); j++) {
            s.opt->m[i].data[j] = dist(gen);
            s.opt->v[i].data[j] = std::fabs(dist(gen));
        }
    s.opt->step = 41;
    s.state.step = 41;
    s.state.best_val_loss = 1.8125f;
    s.state.data_rng = Rng{0xDEADBEEFull, 12345};
    s.state.dropout_rng = Rng{77, 0xFFFFFFFFFull};
    return s;
}

TEST_CASE("train: save_checkpoint then load_checkpoint restores everything exactly") {
    TempDir dir;
    Saved s = make_saved();
    const std::string path = dir / "ckpt.bin";
    save_checkpoint(path, s.config, s.vocab, s.model, *s.opt, s.state);
    CHECK_FALSE(fs::exists(path + ".tmp"));
    Checkpoint c = load_checkpoint(path);

    CHECK(config_pairs(c.config) == config_pairs(s.config));
    CHECK(c.config.model.mixer == "pair_max+avg,attn,scan_min");
    CHECK(c.config.data_dir == "some/data dir");
    CHECK(c.config.seed == 987654321987ull);
    CHECK(c.vocab == s.vocab);
    CHECK(c.state.step == 41);
    CHECK(c.state.best_val_loss == 1.8125f);
    // Settings that are floats come back as the same float, not a 6-digit rounding.
    CHECK(c.config.model.dropout == s.config.model.dropout);
    CHECK(c.config.learning_rate == s.config.learning_rate);
    CHECK(c.state.data_rng.seed == s.state.data_rng.seed);
    CHECK(c.state.data_rng.counter == s.state.data_rng.counter);
    CHECK(c.state.dropout_rng.seed == s.state.dropout_rng.seed);
    CHECK(c.state.dropout_rng.counter == s.state.dropout_rng.counter);

    std::vector<Parameter*> want = gpt_parameters(s.model), got = gpt_parameters(c.model);
    REQUIRE(got.size() == want.size());
    REQUIRE(c.adam_m.size() == want.size());
    REQUIRE(c.adam_v.size() == want.size());
    CHECK(c.adam_step == 41);
    for (size_t i = 0; i < want.size(); i++) {
        CAPTURE(want[i]->name);
        CHECK(got[i]->name == want[i]->name);
        REQUIRE(got[i]->value.shape == want[i]->value.shape);
        const size_t bytes = static_cast<size_t>(want[i]->value.numel()) * 4;
        CHECK(std::memcmp(got[i]->value.data, want[i]->value.data, bytes) == 0);
        CHECK(std::memcmp(c.adam_m[i].data, s.opt->m[i].data, bytes) == 0);
        CHECK(std::memcmp(c.adam_v[i].data, s.opt->v[i].data, bytes) == 0);
    }
    // restore_optimizer hands the moments to a fresh optimizer.
    AdamW opt = make_adamw(got, AdamWConfig{});
    restore_optimizer(c, opt);
    CHECK(opt.step == 41);
    CHECK(std::memcmp(opt.m[0].data, s.opt->m[0].data, want[0]->value.numel() * 4) == 0);
}

// Loading `path` throws cg::Error whose message names the path (and holds `part`).
void check_load_fails(const std::string& path, const std::string& part = "") {
    try {
        load_checkpoint(path);
        FAIL("load_checkpoint accepted '" << path << "'");
    } catch (const Error& e) {
        CHECK(contains(e.what(), path));
        CHECK(contains(e.what(), part));
    }
}

TEST_CASE("train: damaged, foreign and missing checkpoints throw and name the file") {
    TempDir dir;
    Saved s = make_saved();
    save_checkpoint(dir / "ckpt.bin", s.config, s.vocab, s.model, *s.opt, s.state);
    const std::string good = read_file(dir / "ckpt.bin");
    REQUIRE(good.size() > 1000);

    // Cut short anywhere: in the magic, the settings, the vocab, a parameter, the last moment.
    for (size_t keep : {size_t(0), size_t(5), size_t(8), size_t(20), size_t(300), good.size() / 2, good.size() - 1}) {
        CAPTURE(keep);
        write_file(dir / "cut.bin", good.substr(0, keep));
        check_load_fails(dir / "cut.bin");
    }
    std::string foreign = good;
    foreign[0] = 'X';
    write_file(dir / "foreign.bin", foreign);
    check_load_fails(dir / "foreign.bin");
    std::string other_version = good;
    other_version[7] = '1';  // "CGCKPT01", the format before checksums
    write_file(dir / "v1.bin", other_version);
    check_load_fails(dir / "v1.bin");
    write_file(dir / "text.bin", "step,train_loss\n0,1.0\n");
    check_load_fails(dir / "text.bin");
    check_load_fails(dir / "missing.bin");
}

TEST_CASE("train: crc32 gives the standard check value") {
    CHECK(crc32("123456789", 9) == 0xCBF43926u);
    CHECK(crc32("", 0) == 0u);
    // Continuing over pieces equals one pass over the whole.
    CHECK(crc32("6789", 4, crc32("12345", 5)) == 0xCBF43926u);
}

TEST_CASE("train: a flipped bit anywhere in a checkpoint, or bytes appended, is reported as damage") {
    TempDir dir;
    Saved s = make_saved();
    save_checkpoint(dir / "ckpt.bin", s.config, s.vocab, s.model, *s.opt, s.state);
    const std::string good = read_file(dir / "ckpt.bin");
    std::mt19937 gen(3);
    for (int trial = 0; trial < 40; trial++) {
        std::string bad = good;
        // Past the magic: the length, the payload or the CRC itself.
        const size_t at = 8 + gen() % (good.size() - 8);
        bad[at] = static_cast<char>(bad[at] ^ (1 << (gen() % 8)));
        CAPTURE(at);
        write_file(dir / "flipped.bin", bad);
        check_load_fails(dir / "flipped.bin", "damaged");
    }
    write_file(dir / "longer.bin", good + "x");
    check_load_fails(dir / "longer.bin", "damaged");
    write_file(dir / "shorter.bin", good.substr(0, good.size() - 1));
    check_load_fails(dir / "shorter.bin", "damaged");
}

// make_saved()'s state written to dir/ckpt.bin, and the bytes written.
struct SavedFile {
    TempDir dir;
    Saved s = make_saved();
    std::string path = dir / "ckpt.bin";
    std::string good;
    SavedFile() {
        save_checkpoint(path, s.config, s.vocab, s.model, *s.opt, s.state);
        good = read_file(path);
    }
};

TEST_CASE("train: NaN in weights or moments is refused at save and, with a valid CRC, at load") {
    SavedFile f;
    auto& [dir, s, path, good] = f;
    std::vector<Parameter*> params = gpt_parameters(s.model);
    params[1]->value.data[3] = NAN;
    CHECK_THROWS_WITH_AS(save_checkpoint(path, s.config, s.vocab, s.model, *s.opt, s.state),
                         doctest::Contains(params[1]->name.c_str()), Error);
    params[1]->value.data[3] = 0.5f;
    s.opt->v[2].data[0] = INFINITY;
    CHECK_THROWS_AS(save_checkpoint(path, s.config, s.vocab, s.model, *s.opt, s.state), Error);
    CHECK(read_file(path) == good);
    CHECK_FALSE(fs::exists(path + ".tmp"));

    // A NaN written into the payload with a matching CRC (as a buggy writer would) is still refused.
    const std::string payload = good.substr(16, good.size() - 20);
    const float nan = NAN;
    std::string poked = payload;
    std::memcpy(&poked[payload.size() - 4], &nan, 4);  // the last float of the last moment
    write_file(dir / "nan.bin", wrap_checkpoint_payload(poked));
    check_load_fails(dir / "nan.bin", "damaged");
    write_file(dir / "rewrapped.bin", wrap_checkpoint_payload(payload));
    CHECK(load_checkpoint(dir / "rewrapped.bin").state.step == 41);
}

TEST_CASE("train: a folder where the checkpoint should be is named as a folder") {
    TempDir dir;
    fs::create_directories(dir / "ckpt.bin");
    CHECK_THROWS_WITH_AS(load_checkpoint(dir / "ckpt.bin"), doctest::Contains("is a directory"), Error);
}

TEST_CASE("train: a failed save leaves the previous checkpoint untouched") {
    SavedFile f;
    auto& [dir, s, path, good] = f;

    // The temporary file cannot be created (a folder is in its place): the
    // save throws and the good checkpoint stays as it was.
    fs::create_directories(path + ".tmp");
    s.state.step = 99;
    for (Parameter* p : gpt_parameters(s.model)) p->value.data[0] += 1.0f;
    CHECK_THROWS_AS(save_checkpoint(path, s.config, s.vocab, s.model, *s.opt, s.state), Error);
    CHECK(read_file(path) == good);
    CHECK(load_checkpoint(path).state.step == 41);

    // out_dir under a regular file: nothing can be written there.
    write_file(dir / "plain", "not a folder");
    const std::string under_file = dir / "plain/ckpt.bin";
    try {
        save_checkpoint(under_file, s.config, s.vocab, s.model, *s.opt, s.state);
        FAIL("save under a regular file did not throw");
    } catch (const Error& e) {
        CHECK(contains(e.what(), under_file));
    }
    CHECK(read_file(dir / "plain") == "not a folder");
}

// ---- config checks ------------------------------------------------------------------------

// train() throws cg::Error containing every part of `parts`, before it writes anything to out_dir.
void check_train_refuses(const TrainConfig& c, const std::vector<std::string>& parts) {
    std::ostringstream log;
    try {
        train(c, log);
        FAIL("train accepted the config");
    } catch (const Error& e) {
        for (const std::string& p : parts) {
            CAPTURE(p);
            CHECK(contains(e.what(), p));
        }
    }
    CHECK_FALSE(fs::exists(c.out_dir));
}

TEST_CASE("train: bad configs throw before training starts") {
    TempDir dir;
    const std::string data = prepare_corpus(dir);
    const std::string out = dir / "out";
    {
        TrainConfig c = tiny_run(data, out, "pair_maks");
        check_train_refuses(c, {"pair_maks", "pair_max+avg"});  // the unknown name and the valid choices
    }
    {
        TrainConfig c = tiny_run(data, out, "attn,pair_max,avg");  // 3 names for 2 layers
        check_train_refuses(c, {"3", "n_layer 2"});
    }
    {
        TrainConfig c = tiny_run(data, out, "attn,");  // an empty entry, not a silent default
        check_train_refuses(c, {"empty entry"});
    }
    {
        TrainConfig c = tiny_run(data, out, "attn");
        c.model.activation = "attn";
        check_train_refuses(c, {"activation 'attn' is a mixer", mixer_kind_names(MixerUse::activation)});
    }
    {
        TrainConfig c = tiny_run(data, out, "attn");
        c.grad_accum = 0;
        check_train_refuses(c, {"grad_accum must be at least 1"});
    }
    {
        TrainConfig c = tiny_run(data, out, "scan_max+avg");
        check_train_refuses(c, {"scan_max+avg", "equal 'scan_max'"});
    }
    {
        TrainConfig c = tiny_run(data, out, "attn");
        c.model.n_embd = 18;
        c.model.n_head = 4;
        check_train_refuses(c, {"n_embd 18", "n_head 4"});
    }
    {
        TrainConfig c = tiny_run(data, out, "attn,pair_min");
        c.model.activation = "gelu2";
        check_train_refuses(c, {"unknown activation 'gelu2'", "gelu"});
    }
    {
        TrainConfig c = tiny_run(data, out, "gelu");
        check_train_refuses(c, {"mixer 'gelu' is element-wise"});
    }
    {
        TrainConfig c = tiny_run(dir / "no-data", out, "attn");
        check_train_refuses(c, {dir / "no-data", "causalgrad prepare"});
    }
    {
        TrainConfig c = tiny_run(data, out, "attn");
        c.init_from = "gpt2";
        check_train_refuses(c, {"init_from", "gpt2"});
    }
    {
        TrainConfig c = tiny_run(data, out, "attn");
        c.batch_size = 0;
        check_train_refuses(c, {"batch_size"});
    }
    // n_head only matters for attention: a replacement mixer takes any width.
    GPTConfig m;
    m.n_embd = 18;
    m.n_head = 4;
    m.mixer = "pair_max";
    CHECK_NOTHROW(validate_config(m));
}

// ---- the config-file reader -----------------------------------------------------------------

TEST_CASE("train: config files are read as options, and the command line wins") {
    TempDir dir;
    const std::string path = dir / "run.py";
    write_file(path,
               "# a nanoGPT-style config file\n"
               "\n"
               "out_dir = 'out-pair'   # where checkpoints go\n"
               "mixer = \"pair_max+avg\"\n"
               "n_layer = 3\n"
               "   learning_rate=2e-3\n"
               "always_save_checkpoint = True\n"
               "decay_lr = False\n"
               "batch_size = 8\n");
    write_file(dir / "hash.py", "out_dir = 'out#1'  # a '#' inside quotes belongs to the value\n");
    CHECK(read_config_file(dir / "hash.py") == std::vector<std::string>{"--out_dir=out#1"});
    CHECK(read_config_file(path) ==
          std::vector<std::string>{"--out_dir=out-pair", "--mixer=pair_max+avg", "--n_layer=3",
                                   "--learning_rate=2e-3", "--always_save_checkpoint=true",
                                   "--decay_lr=false", "--batch_size=8"});

    auto parse = [&](std::vector<std::string> args, TrainConfig& c) {
        cxxopts::Options o("causalgrad train", "");
        add_train_options(o, c);
        args.insert(args.begin(), "causalgrad");
        std::vector<char*> argv;
        for (std::string& a : args) argv.push_back(a.data());
        parse_with_config(o, static_cast<int>(argv.size()), argv.data(), 1);
    };
    TrainConfig c;
    parse({"--config=" + path, "--n_layer=5", "--seed=7"}, c);
    CHECK(c.out_dir == "out-pair");
    CHECK(c.model.mixer == "pair_max+avg");
    CHECK(c.model.n_layer == 5);  // the command line overrides the file
    CHECK(c.learning_rate == 2e-3f);
    CHECK(c.always_save_checkpoint);
    CHECK_FALSE(c.decay_lr);
    CHECK(c.batch_size == 8);
    CHECK(c.seed == 7);
    CHECK(c.model.n_embd == 128);  // untouched: the default

    // The command line wins even when it comes first, and --config FILE works too.
    TrainConfig d;
    parse({"--batch_size=2", "--config", path}, d);
    CHECK(d.batch_size == 2);
    CHECK(d.model.n_layer == 3);

    // Unknown keys and bad values are errors, in the file and on the command line.
    write_file(dir / "typo.py", "n_layers = 3\n");
    TrainConfig e;
    CHECK_THROWS(parse({"--config=" + (dir / "typo.py")}, e));
    CHECK_THROWS(parse({"--n_layers=3"}, e));
    write_file(dir / "type.py", "n_layer = three\n");
    CHECK_THROWS(parse({"--config=" + (dir / "type.py")}, e));

    // A line that is not `key = value`, a nested config and a missing file: cg::Error with the place.
    write_file(dir / "broken.py", "n_layer = 3\nbatch_size 8\n");
    try {
        read_config_file(dir / "broken.py");
        FAIL("a line without '=' was accepted");
    } catch (const Error& err) {
        CHECK(contains(err.what(), dir / "broken.py:2"));
    }
    write_file(dir / "nested.py", "config = other.py\n");
    CHECK_THROWS_AS(read_config_file(dir / "nested.py"), Error);
    CHECK_THROWS_AS(read_config_file(dir / "missing.py"), Error);
}

// ---- log.csv ------------------------------------------------------------------------------

TEST_CASE("train: parse_run_log reads rows and names the file and line of a malformed one") {
    const std::string header = std::string(kLogHeader) + "\n";
    const LogFile ok = parse_run_log(header + "0,2.5,2.4,,,,\n0,2.6,,0.001,1.5,3.10,12000\n5,2.1,,0.001,1.2,3.00,125\n", "a.csv");
    REQUIRE(ok.rows.size() == 3);
    CHECK(ok.rows[0].is_eval);
    CHECK_FALSE(ok.rows[1].is_eval);
    CHECK(ok.rows[2].step == 5);
    CHECK(ok.rows[0].loss == 2.4);  // an evaluation's val_loss, a step's train_loss
    CHECK(ok.rows[1].loss == 2.6);
    CHECK_FALSE(ok.torn_last_line);
    // A last line without its newline is a write cut short: left out, and said so.
    const LogFile torn = parse_run_log(header + "0,2.5,2.4,,,,\n5,2.", "a.csv");
    CHECK(torn.rows.size() == 1);
    CHECK(torn.torn_last_line);
    for (const auto& text_where : std::vector<std::pair<std::string, std::string>>{
             {"step,loss\n", "'b.csv' line 1"},
             {header + "0,2.5,2.4,,,,\n1,2\n", "'b.csv' line 3"},
             {header + "x,2.5,,,,,\n", "'b.csv' line 2: step 'x'"},
             {header + "-1,2.5,,,,,\n", "'b.csv' line 2"},
             {header + "1,,,,,,\n", "'b.csv' line 2: the row holds no loss"},
             {header + "1,,2.5,,,,\n", "'b.csv' line 2: train_loss is empty"},
             {header + "1,2.5,,0.001,1x,,\n", "'b.csv' line 2: grad_norm '1x' is not a number"},
             {header + "1,2.5,abc,,,,\n", "'b.csv' line 2: val_loss 'abc'"},
             {header + "1,2.5,,,,,,\n", "has 8 cells"}}) {
        const std::string &text = text_where.first, &where = text_where.second;
        CAPTURE(text);
        CHECK_THROWS_WITH_AS(parse_run_log(text, "b.csv"), doctest::Contains(where.c_str()), Error);
    }
}

TEST_CASE("train: on resume the log keeps the training rows before the step and the evaluations up to it") {
    TempDir dir;
    const std::string path = dir / "log.csv";
    write_file(path, std::string(kLogHeader) + "\n0,3,3,,,,\n0,3,,1,1,1,1\n5,2,,1,1,1,1\n10,2,2,,,,\n10,2,,1,1,1,1\n"
                                               "15,1,,1,1,1,1\n20,1,1,,,,\n20,1,,1,1,1,1\n25,1");
    const std::string old = read_file(path);
    const RunLogStart at10 = plan_run_log(path, 10);
    CHECK(read_file(path) == old);  // planning writes nothing
    CHECK(at10.text == std::string(kLogHeader) + "\n0,3,3,,,,\n0,3,,1,1,1,1\n5,2,,1,1,1,1\n10,2,2,,,,\n");
    CHECK(at10.has_eval_at_start);
    CHECK_FALSE(at10.warning.empty());  // the torn "25,1"
    CHECK_FALSE(plan_run_log(path, 15).has_eval_at_start);
    CHECK(plan_run_log(path, -1).text == std::string(kLogHeader) + "\n");  // from scratch
    {
        RunLog log = open_run_log(at10);
        log.step(10, 1.5f, 0.001f, 0.5f, 2.0, 100.0);
    }
    CHECK(read_file(path) == at10.text + "10,1.5,,0.001,0.5,2.00,100\n");
    CHECK_FALSE(fs::exists(path + ".tmp"));
}

// ---- option parsing -----------------------------------------------------------------------

TEST_CASE("train: parse_strict reads boolean spellings and refuses stray arguments and bad values by name") {
    auto parse = [](const std::vector<std::string>& args) {
        TrainConfig c;
        cxxopts::Options o("causalgrad train", "");
        add_train_options(o, c);
        parse_strict(o, args);
        return c;
    };
    CHECK_FALSE(parse({"--bias", "false", "--decay_lr", "False"}).model.bias);
    CHECK_FALSE(parse({"--decay_lr", "False"}).decay_lr);
    CHECK(parse({"--bias=True"}).model.bias);
    CHECK(parse({"--bias", "--n_layer=3"}).model.bias);
    CHECK(parse({"--bias", "--n_layer=3"}).model.n_layer == 3);
    CHECK_THROWS_WITH_AS(parse({"--bias=yes please"}), doctest::Contains("--bias takes true or false"), Error);
    CHECK_THROWS_WITH_AS(parse({"stray"}), doctest::Contains("unexpected argument 'stray'"), Error);
    CHECK_THROWS_WITH_AS(parse({"--bias", "false", "stray"}), doctest::Contains("'stray'"), Error);
    CHECK_THROWS_WITH_AS(parse({"--n_embd=12", "--n_layer=x"}), doctest::Contains("--n_layer: 'x'"), Error);
    CHECK_THROWS_WITH_AS(parse({"--learning_rate=1e-3x"}), doctest::Contains("--learning_rate"), Error);
}

TEST_CASE("train: a config key given twice is an error naming both lines") {
    CHECK_THROWS_WITH_AS(read_config_text("n_layer = 2\n# note\nn_layer = 3\n", "x.conf"),
                         doctest::Contains("x.conf:3: n_layer is already set on line 1"), Error);
}

}  // namespace
}  // namespace cg

namespace cg {
TEST_CASE("train: the ETA counts the steps and the evaluations left apart") {
    // 10 steps (0..9) took 5 s, and two evaluations 30 s each.
    const TimeSpent spent{5.0, 60.0, 2};
    // 90 steps left at 0.5 s, evaluations left at 20, 40, 60, 80, 100: 5 at 30 s.
    CHECK(time_left(0, 9, 100, 20, spent) == doctest::Approx(45.0 + 150.0));
    // max_iters not a multiple of eval_interval: the final evaluation counts too (40, 60, 80 and 90).
    CHECK(time_left(0, 29, 90, 20, TimeSpent{15.0, 30.0, 1}) == doctest::Approx(30.0 + 120.0));
    // A resumed run counts only its own steps; no evaluation measured yet costs nothing.
    CHECK(time_left(50, 59, 100, 50, TimeSpent{20.0, 0.0, 0}) == doctest::Approx(2.0 * 40));
}
}  // namespace cg
