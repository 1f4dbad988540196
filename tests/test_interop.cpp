// Weights in and out: the JSON reader of safetensors headers, the export's
// layout (nanoGPT's state_dict: names, lm_head, causal-mask buffers, config
// metadata), export -> import giving bit-identical logits, nanoGPT state_dicts
// written by PyTorch (tests/parity/make_safetensors_fixtures.py) reproducing
// PyTorch's logits, one-line errors for malformed files, fine-tuning an
// imported checkpoint, and scripts/load_nanogpt.py where torch is installed.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "data/prepare.h"
#include "models/gpt.h"
#include "tests/helpers.h"
#include "tests/model_helpers.h"
#include "tests/parity_fixtures.h"
#include "train/checkpoint.h"
#include "data/dataset.h"
#include "tools/export.h"
#include "tools/import.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "train/train.h"

namespace cg {
namespace {

GPTConfig small_config(const std::string& mixer) {  // block_size 8, as the PyTorch fixtures
    GPTConfig c = tiny_config(mixer);
    c.block_size = 8;
    return c;
}

Vocab letters(int64_t n) {  // 'a', 'b', ... : a vocabulary of n characters
    Vocab v;
    for (int64_t i = 0; i < n; i++) v.push_back(static_cast<uint32_t>('a' + i));
    return v;
}


// The header of a safetensors file, parsed; data_begin: where the data section starts.
Json header_of(const std::string& bytes, uint64_t& data_begin) {
    REQUIRE(bytes.size() >= 8);
    uint64_t n = 0;
    for (int k = 7; k >= 0; k--) n = (n << 8) | static_cast<unsigned char>(bytes[k]);  // little-endian
    REQUIRE(8 + n <= bytes.size());
    CHECK(n % 8 == 0);  // the data stays 8-byte aligned
    data_begin = 8 + n;
    return parse_json(bytes.substr(8, n));
}

}  // namespace

// ---- JSON ---------------------------------------------------------------------

TEST_CASE("interop: parse_json reads objects in order, escapes, exact integers, and rejects bad text") {
    const Json j = parse_json(R"( {"b": [1, -2.5e3, true, false, null], "a\"\\\u00e9\ud83d\ude00": "x\ny",)"
                              R"( "big": 18446744073709551615} )");
    REQUIRE(j.kind == Json::object);
    REQUIRE(j.members.size() == 3);
    CHECK(j.members[0].first == "b");
    CHECK(j.members[1].first == "a\"\\\xC3\xA9\xF0\x9F\x98\x80");  // é and U+1F600 as UTF-8
    CHECK(j.members[1].second.text == "x\ny");
    const Json& b = *j.find("b");
    REQUIRE(b.items.size() == 5);
    CHECK(b.items[1].text == "-2.5e3");
    CHECK(b.items[2].kind == Json::boolean);
    CHECK(b.items[2].flag);
    CHECK(b.items[4].kind == Json::null);
    CHECK(json_uint(*j.find("big"), "big") == 18446744073709551615ull);
    CHECK(json_uint(b.items[0], "x") == 1);
    CHECK_THROWS_WITH_AS(json_uint(b.items[1], "offset"), doctest::Contains("non-negative integer"), Error);

    const std::string bad[] = {"{", "{\"a\" 1}", "[1,]", "{\"a\":1} x", "\"abc", "01", "[1.]", "\"\\x\"",
                               "\"\\ud800\"", "tru", "", std::string(100, '[')};
    for (const std::string& text : bad) {
        CAPTURE(text);
        const std::string e = error_of([&] { parse_json(text); });
        CHECK(e.rfind("[json] ", 0) == 0);
        CHECK(e.find(" at byte ") != std::string::npos);
    }
}

// ---- export -------------------------------------------------------------------

TEST_CASE("interop: export writes nanoGPT's state_dict: names, lm_head, masks, F32 data, tiled offsets") {
    for (const std::string mixer : {"attn", "attn,pair_max+avg"}) {
        GPTConfig c = small_config(mixer);
        c.bias = mixer != "attn";
        c.mixer_vproj = true;
        c.dropout = 0.1f;
        INFO("mixer " << mixer);
        GPT m = random_model(c);
        TempDir dir("interop");
        const std::string file = dir / "model.safetensors";
        export_safetensors(m, letters(c.vocab_size), file);
        CHECK_FALSE(std::filesystem::exists(file + ".tmp"));
        const std::string bytes = read_file(file);
        uint64_t data_begin = 0;
        const Json root = header_of(bytes, data_begin);

        // Metadata: strings only; booleans as Python writes them; one key per block.
        const Json* meta = root.find("__metadata__");
        REQUIRE(meta != nullptr);
        for (const auto& kv : meta->members) CHECK(kv.second.kind == Json::string);
        auto meta_of = [&](const std::string& key) {
            const Json* v = meta->find(key);
            return v ? v->text : "(absent)";
        };
        CHECK(meta_of("mixer") == mixer);
        CHECK(meta_of("mixer.0") == "attn");
        CHECK(meta_of("mixer.1") == (mixer == "attn" ? "attn" : "pair_max+avg"));
        CHECK(meta_of("n_layer") == "2");
        CHECK(meta_of("dropout") == "0.1");
        CHECK(meta_of("bias") == (c.bias ? "True" : "False"));
        CHECK(meta_of("mixer_vproj") == "True");
        CHECK(meta_of("activation") == "gelu");
        CHECK(meta_of("nanogpt_compatible") == (mixer == "attn" ? "True" : "False"));
        CHECK(meta_of("vocab") == "97,98,99,100,101,102,103,104,105,106,107");

        // Every parameter with its values, lm_head.weight equal to wte, one mask per attention block.
        std::vector<Parameter*> params = gpt_parameters(m);
        const size_t masks = mixer == "attn" ? 2 : 1;
        CHECK(root.members.size() == 1 + params.size() + 1 + masks);
        auto stored = [&](const std::string& name) -> std::vector<float> {
            const Json* t = root.find(name);
            if (!t) return {};
            CHECK(t->find("dtype")->text == "F32");
            const uint64_t begin = json_uint(t->find("data_offsets")->items[0], "begin");
            const uint64_t end = json_uint(t->find("data_offsets")->items[1], "end");
            std::vector<float> v((end - begin) / 4);
            std::memcpy(v.data(), bytes.data() + data_begin + begin, end - begin);
            return v;
        };
        for (Parameter* p : params) {
            CAPTURE(p->name);
            CHECK(stored(p->name) == values_of(p->value));
        }
        CHECK(stored("lm_head.weight") == values_of(m.wte.value));
        const std::vector<float> mask = stored("transformer.h.0.attn.bias");
        REQUIRE(mask.size() == 64);
        for (int i = 0; i < 8; i++)
            for (int j = 0; j < 8; j++) CHECK(mask[i * 8 + j] == (j <= i ? 1.0f : 0.0f));
        CHECK((root.find("transformer.h.1.attn.bias") != nullptr) == (mixer == "attn"));
        std::vector<int64_t> shape;
        for (const Json& d : root.find("transformer.h.0.attn.bias")->find("shape")->items)
            shape.push_back(static_cast<int64_t>(json_uint(d, "dim")));
        CHECK(shape == std::vector<int64_t>{1, 1, 8, 8});
        CHECK(root.find("transformer.h.0.attn.c_v.weight") == nullptr);  // vproj is for replacement mixers
        CHECK((root.find("transformer.h.1.attn.c_v.weight") != nullptr) == (mixer != "attn"));

        // The byte ranges tile the data section without gaps or overlaps (the reader checks it).
        const SafetensorsFile back = read_safetensors(file);
        CHECK(back.tensors.size() == root.members.size() - 1);
    }
}

TEST_CASE("interop: export into a missing folder throws and names the path") {
    GPT m = random_model(small_config("attn"));
    TempDir dir("interop");
    const std::string bad = dir / "no-such-dir/m.safetensors";
    CHECK_THROWS_WITH_AS(export_safetensors(m, letters(11), bad), doctest::Contains("no-such-dir"), Error);
}

// ---- export -> import -----------------------------------------------------------

TEST_CASE("interop: export then import gives bit-identical logits and a checkpoint at step 0") {
    struct Case {
        std::string mixer, activation;
        bool bias, vproj;
    };
    const Case cases[] = {{"attn", "gelu", true, false},
                          {"attn,pair_max,scan_max,avg", "gelu", false, false},
                          {"pair_min,pair_max+avg", "scan_max", true, true}};
    for (const Case& k : cases) {
        INFO("mixer " << k.mixer);
        GPTConfig c = small_config(k.mixer);
        c.n_layer = static_cast<int64_t>(block_mixers(c).size());
        c.activation = k.activation;
        c.bias = k.bias;
        c.mixer_vproj = k.vproj;
        GPT m = random_model(c, 5);
        TempDir dir("interop");
        const std::string file = dir / "m.safetensors";
        export_safetensors(m, letters(11), file);

        ImportedModel in = import_safetensors(file, ImportOptions{});
        CHECK(in.model.config.mixer == c.mixer);
        CHECK(in.model.config.activation == c.activation);
        CHECK(in.model.config.bias == c.bias);
        CHECK(in.model.config.mixer_vproj == k.vproj);
        CHECK(in.vocab == letters(11));
        const std::vector<int> tokens = random_tokens(2 * 8, 11, 9);
        const std::vector<float> want = forward_logits(m, tokens, 2, 8);
        const std::vector<float> got = forward_logits(in.model, tokens, 2, 8);
        REQUIRE(got.size() == want.size());
        CHECK(std::memcmp(got.data(), want.data(), want.size() * 4) == 0);

        // The checkpoint: same logits, step 0, zero AdamW moments.
        const std::string ckpt = dir / "ckpt.bin";
        save_new_checkpoint(ckpt, in.config, in.vocab, in.model);
        Checkpoint back = load_checkpoint(ckpt);
        const std::vector<float> again = forward_logits(back.model, tokens, 2, 8);
        CHECK(std::memcmp(again.data(), want.data(), want.size() * 4) == 0);
        CHECK(back.state.step == 0);
        CHECK(back.adam_step == 0);
        for (const Tensor& t : back.adam_m)
            for (float v : values_of(t)) REQUIRE(v == 0.0f);
    }
}

TEST_CASE("interop: a nanoGPT state_dict written by PyTorch imports and reproduces PyTorch's logits") {
    const std::string dir = fixture_dir();
    const SafetensorsFile expected = read_safetensors(dir + "/nanogpt_expected.safetensors");
    const StoredTensor* x = expected.find("x");
    REQUIRE(x != nullptr);
    REQUIRE(x->shape == std::vector<int64_t>{2, 8});
    std::vector<int> tokens;
    for (float v : x->values) tokens.push_back(static_cast<int>(v));
    for (const std::string dtype : {"f32", "f16", "bf16"}) {
        INFO("nanogpt_" << dtype << ".safetensors");
        ImportOptions o;
        o.settings = {{"n_head", "2"}};  // a PyTorch state_dict has no config metadata
        // No vocabulary in the file either: without --vocab the import says so.
        CHECK_THROWS_WITH_AS(import_safetensors(dir + "/nanogpt_" + dtype + ".safetensors", o),
                             doctest::Contains("--vocab="), Error);
        TempDir vocab_dir("interop");
        const std::string vocab_file = vocab_dir / "vocab.txt";
        write_vocab(vocab_file, letters(11));
        o.vocab_path = vocab_file;
        ImportedModel in = import_safetensors(dir + "/nanogpt_" + dtype + ".safetensors", o);
        const GPTConfig& c = in.model.config;
        CHECK(c.n_layer == 2);
        CHECK(c.n_embd == 16);
        CHECK(c.block_size == 8);
        CHECK(c.vocab_size == 11);
        CHECK(c.bias);
        CHECK(c.mixer == "attn");
        const StoredTensor* want = expected.find("logits_" + dtype);
        REQUIRE(want != nullptr);
        const double err = rel_err(forward_logits(in.model, tokens, 2, 8), want->values);
        MESSAGE(dtype << ": logits rel. error " << err);
        CHECK(err < kTol);
    }
}

// ---- malformed files --------------------------------------------------------------

namespace {

// A file of the given header text (padded to 8 bytes) and `data_bytes` bytes of data.
std::string raw_file(const TempDir& dir, const std::string& name, const std::string& header, size_t data_bytes,
                     int64_t claimed_length = -1) {
    const std::string path = dir / name;
    std::string h = header;
    while (h.size() % 8) h += ' ';
    const uint64_t n = claimed_length >= 0 ? static_cast<uint64_t>(claimed_length) : h.size();
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(&n), 8);
    out << h << std::string(data_bytes, '\0');
    return path;
}

// An export of a small model (attention by default), read back, changed by `edit`, written again.
std::string edited_export(const TempDir& dir, const std::string& name, const std::function<void(SafetensorsFile&)>& edit,
                          const GPTConfig& config = small_config("attn")) {
    GPT m = random_model(config);
    const std::string path = dir / name;
    export_safetensors(m, letters(11), path);
    SafetensorsFile f = read_safetensors(path);
    edit(f);
    std::vector<TensorToWrite> tensors;
    for (const StoredTensor& t : f.tensors) tensors.push_back({t.name, t.shape, t.values.data()});
    write_safetensors(path, f.metadata, tensors);
    return path;
}

}  // namespace

TEST_CASE("interop: malformed safetensors files give one-line errors naming the problem") {
    TempDir dir("interop");
    const std::string one = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
    const std::string tiny_file = dir / "tiny";
    std::ofstream(tiny_file, std::ios::binary) << "abc";
    struct Case {
        std::string what, path, expect;
    };
    const Case cases[] = {
        {"too short", tiny_file, "only 3 bytes"},
        {"header length past the end", raw_file(dir, "len", "{" + one + "}", 8, 4096), "header length 4096"},
        {"header length 0", raw_file(dir, "zero", "{}", 0, 0), "header length 0"},
        {"bad JSON", raw_file(dir, "json", "{" + one, 8), "not valid JSON"},
        {"not an object", raw_file(dir, "array", "[1,2]", 0), "not a JSON object"},
        {"overlapping offsets",
         raw_file(dir, "overlap", "{" + one + R"(,"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12),
         "'b' overlaps"},
        {"short offsets", raw_file(dir, "short_range", R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8),
         "8 bytes for 3 F32 values"},
        {"offsets out of bounds", raw_file(dir, "oob", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", 8),
         "outside the 8 data bytes"},
        {"a hole", raw_file(dir, "hole", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12),
         "bytes [0, 4) belong to no tensor"},
        {"wrong dtype", raw_file(dir, "dtype", R"({"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", 8),
         "dtype 'I64'"},
        {"negative dim", raw_file(dir, "neg", R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8),
         "non-negative integer"},
        {"duplicate name", raw_file(dir, "dup", "{" + one + "," + one + "}", 8), "'a' appears twice"},
        {"missing field", raw_file(dir, "field", R"({"a":{"dtype":"F32","shape":[2]}})", 8), "needs dtype, shape"},
        {"missing tensor", edited_export(dir, "missing.safetensors", [](SafetensorsFile& f) {
             f.tensors.erase(std::remove_if(f.tensors.begin(), f.tensors.end(), [](const StoredTensor& t) {
                                 return t.name == "transformer.h.1.mlp.c_proj.weight";
                             }),
                             f.tensors.end());
         }), "has no tensor 'transformer.h.1.mlp.c_proj.weight'"},
        {"shape mismatch", edited_export(dir, "shape.safetensors", [](SafetensorsFile& f) {
             for (StoredTensor& t : f.tensors)
                 if (t.name == "transformer.h.1.mlp.c_fc.weight") t.shape = {32, 32};  // same count, wrong shape
         }), "'transformer.h.1.mlp.c_fc.weight' has shape (32,32)"},
        {"unexpected tensor", edited_export(dir, "extra.safetensors", [](SafetensorsFile& f) {
             f.tensors.push_back({"transformer.h.0.attn.c_v.weight", "F32", {16, 16}, std::vector<float>(256)});
         }), "'transformer.h.0.attn.c_v.weight' that the config"},
        {"a mask that is not causal", edited_export(dir, "mask.safetensors", [](SafetensorsFile& f) {
             for (StoredTensor& t : f.tensors)
                 if (t.name == "transformer.h.1.attn.bias") t.values[1] = 1.0f;  // row 0 sees position 1
         }), "is not the causal mask"},
        {"missing file", dir / "nope.safetensors", "does not exist"},
    };
    for (const Case& k : cases) {
        CAPTURE(k.what);
        const std::string e = error_of([&] { import_safetensors(k.path, ImportOptions{}); });
        CHECK(e.find(k.expect) != std::string::npos);
        CHECK(e.find('\n') == std::string::npos);
        CHECK((e.rfind("[safetensors] ", 0) == 0 || e.rfind("[import] ", 0) == 0));
    }
}

TEST_CASE("interop: a tensor with a zero dim reads as empty (the fuzzer's find; the sanitizer build checks)") {
    const std::string header = R"({"e":{"dtype":"F32","shape":[3,0],"data_offsets":[0,0]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
    std::string bytes(8, '\0');
    for (int k = 0; k < 8; k++) bytes[k] = static_cast<char>((header.size() >> (8 * k)) & 0xff);
    const float one = 1.5f;
    bytes += header + std::string(reinterpret_cast<const char*>(&one), 4);
    const SafetensorsFile f = parse_safetensors(bytes, "empty.safetensors");
    const StoredTensor* e = f.find("e");
    const StoredTensor* a = f.find("a");
    REQUIRE(e);
    REQUIRE(a);
    CHECK(e->shape == std::vector<int64_t>{3, 0});
    CHECK(e->values.empty());
    CHECK(a->values == std::vector<float>{1.5f});
}

TEST_CASE("interop: F16 and BF16 values convert to float32 exactly, subnormals, infinity and NaN included") {
    TempDir dir("interop");
    const uint16_t f16[] = {0x0001, 0x03FF, 0x0400, 0x3C00, 0xC000, 0x7BFF, 0x7C00, 0xFC00, 0x7E00, 0x8000};
    const uint16_t bf16[] = {0x3F80, 0xC0A0, 0x0001, 0x7F80};
    const std::string path = raw_file(dir, "half", R"({"h":{"dtype":"F16","shape":[10],"data_offsets":[0,20]},)"
                                                   R"("b":{"dtype":"BF16","shape":[2,2],"data_offsets":[20,28]}})", 0);
    {
        std::ofstream out(path, std::ios::binary | std::ios::app);
        out.write(reinterpret_cast<const char*>(f16), sizeof f16);
        out.write(reinterpret_cast<const char*>(bf16), sizeof bf16);
    }
    const SafetensorsFile f = read_safetensors(path);
    const std::vector<float>& h = f.find("h")->values;
    CHECK(h[0] == std::ldexp(1.0f, -24));            // the smallest subnormal
    CHECK(h[1] == std::ldexp(1023.0f, -24));         // the largest subnormal
    CHECK(h[2] == std::ldexp(1.0f, -14));            // the smallest normal
    CHECK(h[3] == 1.0f);
    CHECK(h[4] == -2.0f);
    CHECK(h[5] == 65504.0f);                         // the largest finite half
    CHECK(h[6] == std::numeric_limits<float>::infinity());
    CHECK(h[7] == -std::numeric_limits<float>::infinity());
    CHECK(std::isnan(h[8]));
    CHECK((h[9] == 0.0f && std::signbit(h[9])));     // -0
    const std::vector<float>& b = f.find("b")->values;
    CHECK(f.find("b")->shape == std::vector<int64_t>{2, 2});
    CHECK(b[0] == 1.0f);
    CHECK(b[1] == -5.0f);
    CHECK(b[2] == std::ldexp(1.0f, -133));           // bfloat16 keeps float32's subnormals
    CHECK(b[3] == std::numeric_limits<float>::infinity());
}

// ---- lm_head, missing settings ------------------------------------------------------

TEST_CASE("interop: an untied lm_head is refused unless --untied picks one; lm_head alone is the tied matrix") {
    TempDir dir("interop");
    GPT m = random_model(small_config("attn"));
    const std::vector<float> wte = values_of(m.wte.value);
    std::vector<float> head = wte;
    head[5] += 0.25f;
    const std::string untied = edited_export(dir, "untied.safetensors", [&](SafetensorsFile& f) {
        for (StoredTensor& t : f.tensors) {
            if (t.name == "lm_head.weight") t.values = head;
            if (t.name == "transformer.wte.weight") t.values = wte;
        }
    });
    CHECK_THROWS_WITH_AS(import_safetensors(untied, ImportOptions{}),
                         doctest::Contains("differs from transformer.wte.weight (an untied model, max difference 0.25"),
                         Error);
    ImportOptions o;
    o.untied = "keep_wte";
    CHECK(values_of(import_safetensors(untied, o).model.wte.value) == wte);
    o.untied = "keep_lm_head";
    CHECK(values_of(import_safetensors(untied, o).model.wte.value) == head);
    o.untied = "average";
    CHECK_THROWS_WITH_AS(import_safetensors(untied, o), doctest::Contains("keep_wte or keep_lm_head"), Error);

    const std::string head_only = edited_export(dir, "head_only.safetensors", [&](SafetensorsFile& f) {
        f.tensors.erase(std::remove_if(f.tensors.begin(), f.tensors.end(),
                                       [](const StoredTensor& t) { return t.name == "transformer.wte.weight"; }),
                        f.tensors.end());
        for (StoredTensor& t : f.tensors)
            if (t.name == "lm_head.weight") t.values = head;
    });
    CHECK(values_of(import_safetensors(head_only, ImportOptions{}).model.wte.value) == head);
}

TEST_CASE("interop: without metadata, shapes give the config and the settings they cannot give are asked for") {
    TempDir dir("interop");
    auto strip = [](SafetensorsFile& f) { f.metadata.clear(); };
    GPTConfig c = small_config("pair_max");
    c.mixer_vproj = true;
    GPT m = random_model(c);  // the model edited_export writes
    const std::string path = edited_export(dir, "pm.safetensors", strip, c);
    const std::string vocab_file = dir / "vocab.txt";
    write_vocab(vocab_file, letters(11));
    ImportOptions o;
    o.vocab_path = vocab_file;
    CHECK_THROWS_WITH_AS(import_safetensors(path, o), doctest::Contains("pass --mixer=NAME"), Error);
    o.settings = {{"mixer", "pair_max"}};
    ImportedModel in = import_safetensors(path, o);
    CHECK(in.model.config.mixer_vproj);  // from the c_v tensors
    const std::vector<int> tokens = random_tokens(16, 11, 4);
    CHECK(forward_logits(in.model, tokens, 2, 8) == forward_logits(m, tokens, 2, 8));

    const std::string attn = edited_export(dir, "attn.safetensors", strip);
    o.settings.clear();
    CHECK_THROWS_WITH_AS(import_safetensors(attn, o), doctest::Contains("pass --n_head=N"), Error);
}

TEST_CASE("interop: metadata asking for far more weights than the file holds is refused before allocating") {
    TempDir dir("interop");
    const std::string path = edited_export(dir, "huge.safetensors", [](SafetensorsFile& f) {
        for (auto& [key, value] : f.metadata)
            if (key == "n_layer") value = "100000";
    });
    CHECK_THROWS_WITH_AS(import_safetensors(path, ImportOptions{}), doctest::Contains("need far more weights"), Error);
}

// ---- fine-tuning an import ------------------------------------------------------------

TEST_CASE("interop: train --init_from=resume continues from an imported checkpoint's weights") {
    TempDir dir("interop");
    const std::string input = dir / "input.txt";
    std::string text;
    for (int i = 0; text.size() < 3000; i++) text += i % 2 ? "to be or not to be.\n" : "that is the question.\n";
    std::ofstream(input) << text;
    const std::string data_dir = dir / "data";
    prepare_text(input, data_dir);
    const Vocab vocab = read_vocab(data_dir + "/vocab.txt");

    GPTConfig c = small_config("attn,pair_max");
    c.vocab_size = static_cast<int64_t>(vocab.size());
    GPT m = random_model(c, 3);
    const std::string file = dir / "m.safetensors";
    export_safetensors(m, vocab, file);
    ImportOptions o;
    o.vocab_path = data_dir + "/vocab.txt";
    ImportedModel in = import_safetensors(file, o);
    const std::string out_dir = dir / "out";
    std::filesystem::create_directories(out_dir);
    in.config.out_dir = out_dir;
    save_new_checkpoint(out_dir + "/ckpt.bin", in.config, in.vocab, in.model);

    TrainConfig run;
    run.data_dir = data_dir;  // also what the import derived from --vocab
    CHECK(in.config.data_dir == data_dir);
    run.out_dir = out_dir;
    run.init_from = "resume";
    run.batch_size = 4;
    run.max_iters = 3;
    run.eval_iters = 2;
    std::ostringstream log;
    const TrainReport r = train(run, log);
    REQUIRE(r.step_losses.size() == 3);

    // The first step's loss is the imported model's loss on the first batch of a fresh run.
    Dataset data = load_dataset(data_dir);
    RunState fresh = fresh_run_state(in.config.seed);
    Batch batch = get_batch(data.train, 4, c.block_size, fresh.data_rng);
    Rng unused{0, 0};
    const float want = cross_entropy(gpt_forward(m, batch.x, false, unused), batch.y).value.item();
    CHECK(r.step_losses[0] == doctest::Approx(want).epsilon(1e-6));
    CHECK(log.str().find("resuming at step 0") != std::string::npos);
}

// ---- scripts/load_nanogpt.py ---------------------------------------------------------------

// Starting Python with torch takes seconds, more than the rest of the suite:
// skipped in a plain run of the binary, run by `make test` on its own (--no-skip).
TEST_CASE("interop: scripts/load_nanogpt.py loads attention exports strictly and refuses every other mixer" *
          doctest::skip()) {
    TempDir dir("interop");
    const std::string d = dir.path.string();
    GPTConfig c = small_config("attn");
    c.bias = true;
    GPT attn = random_model(c, 7);
    export_safetensors(attn, letters(11), d + "/attn.safetensors");
    const std::vector<int> tokens = random_tokens(2 * 8, 11, 8);
    const std::vector<float> x(tokens.begin(), tokens.end());
    const std::vector<float> logits = forward_logits(attn, tokens, 2, 8);
    write_safetensors(d + "/expected.safetensors", {},
                      {{"x", {2, 8}, x.data()}, {"logits", {2, 8, 11}, logits.data()}});
    // Every other mixer of the table (in block 1, after attention), and a sequence op as the activation.
    std::string others;
    std::vector<std::string> mixers;
    for (const MixerKind& kind : mixer_kinds())
        if (kind.use != MixerUse::activation && !kind.nanogpt) mixers.push_back(kind.name);
    for (size_t k = 0; k <= mixers.size(); k++) {
        GPTConfig other = small_config(k < mixers.size() ? "attn," + mixers[k] : "attn");
        if (k == mixers.size()) other.activation = "scan_max";
        GPT m = random_model(other, 7);
        const std::string path = d + "/other" + std::to_string(k) + ".safetensors";
        export_safetensors(m, letters(11), path);
        others += " " + path;
    }
    const std::string command = "/usr/bin/python3 " + fixture_dir() + "/check_load_nanogpt.py " + d +
                                "/attn.safetensors " + d + "/expected.safetensors" + others;
    MESSAGE(command);
    const int status = std::system(command.c_str());
    REQUIRE(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77) {  // importing torch twice would cost seconds: the script says
        MESSAGE("skipped: /usr/bin/python3 has no torch (apt-get install python3-torch to run this test)");
        return;
    }
    CHECK(WEXITSTATUS(status) == 0);
}

}  // namespace cg
