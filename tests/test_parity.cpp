// Parity with PyTorch: the whole GPT against fixtures written by
// tests/parity/make_fixtures.py (regenerate with
// `/usr/bin/python3 tests/parity/make_fixtures.py`; tests/parity/README.md).
//
// Each fixture holds a config, every parameter, a batch x and targets y, and
// PyTorch's logits (B, T, V), mean cross-entropy loss and the gradient of the
// loss for every parameter. Here the same GPTConfig is built with make_gpt, every
// Parameter is overwritten by name from the fixture, and gpt_forward +
// cross_entropy + backward must reproduce logits, loss and all gradients. For
// the configs whose mixers all have an incremental path, gpt_step, fed one token
// at a time, must reproduce the logits position by position.
//
// Fixture format (little-endian; the Python script's docstring is the reference):
//   "CGFIX001" magic, uint32 entry count, then per entry: uint32 name length,
//   name bytes, uint32 dtype (0 float32, 1 int32, 2 UTF-8 text), uint32 ndim,
//   ndim int64 dims, then the row-major data (text: dims = {byte count}).
//
// doctest note: no assertion may run inside another assertion's expression or
// message (messages are evaluated lazily while the reporter holds its lock, so a
// nested REQUIRE deadlocks under -s); fixture look-ups happen before the CHECKs.
//
// Error measure, per tensor:
//   rel_err = max_i |ours_i - theirs_i| / max(max_i |theirs_i|, 1e-30)
// i.e. the largest absolute difference relative to the tensor's largest
// magnitude, so elements near zero do not blow it up and a tensor whose
// reference is exactly zero must be (nearly) zero here too. Both sides are
// float32 with different summation orders; the script prints how far float32
// PyTorch is from a float64 run of the same model, which is well below kTol.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/graph.h"
#include "autograd/ops.h"
#include "models/gpt.h"
#include "tests/grad_check.h"
#include "tests/parity_fixtures.h"

namespace cg {
namespace {

constexpr char kMagic[] = "CGFIX001";

struct Entry {
    enum Dtype : uint32_t { f32 = 0, i32 = 1, text = 2 } dtype = f32;
    std::vector<int64_t> dims;
    std::vector<float> floats;  // f32
    std::vector<int> ints;      // i32
    std::string str;            // text
};

struct Fixture {
    std::string path;
    std::map<std::string, Entry> entries;
    std::vector<std::string> order;  // names as stored

    const Entry& get(const std::string& name) const {
        auto it = entries.find(name);
        REQUIRE_MESSAGE(it != entries.end(), "fixture " << path << " has no entry '" << name << "'");
        return it->second;
    }
};

template <typename T>
T read_pod(std::ifstream& in, const std::string& path) {
    T v{};
    in.read(reinterpret_cast<char*>(&v), sizeof v);
    if (!in) FAIL(path << ": truncated");
    return v;
}

// Assumes a little-endian host (x86, arm64), as the rest of the project's file formats do.
Fixture read_fixture(const std::string& path) {
    Fixture fx;
    fx.path = path;
    std::ifstream in(path, std::ios::binary);
    if (!in) FAIL("cannot open fixture " << path << " (regenerate: /usr/bin/python3 tests/parity/make_fixtures.py)");
    char magic[8];
    in.read(magic, 8);
    if (!in || std::memcmp(magic, kMagic, 8) != 0) FAIL(path << ": not a CGFIX001 file");
    const uint32_t count = read_pod<uint32_t>(in, path);
    for (uint32_t k = 0; k < count; k++) {
        std::string name(read_pod<uint32_t>(in, path), '\0');
        in.read(&name[0], static_cast<std::streamsize>(name.size()));
        Entry e;
        e.dtype = static_cast<Entry::Dtype>(read_pod<uint32_t>(in, path));
        const uint32_t ndim = read_pod<uint32_t>(in, path);
        if (ndim > static_cast<uint32_t>(kMaxDims)) FAIL(path << ": entry " << name << " has " << ndim << " dims");
        int64_t n = 1;
        for (uint32_t d = 0; d < ndim; d++) {
            e.dims.push_back(read_pod<int64_t>(in, path));
            n *= e.dims.back();
        }
        const auto bytes = static_cast<std::streamsize>(n);
        switch (e.dtype) {
            case Entry::f32:
                e.floats.resize(static_cast<size_t>(n));
                in.read(reinterpret_cast<char*>(e.floats.data()), bytes * 4);
                break;
            case Entry::i32:
                e.ints.resize(static_cast<size_t>(n));
                in.read(reinterpret_cast<char*>(e.ints.data()), bytes * 4);
                break;
            case Entry::text:
                e.str.resize(static_cast<size_t>(n));
                in.read(&e.str[0], bytes);
                break;
            default:
                FAIL(path << ": entry " << name << " has unknown dtype " << static_cast<uint32_t>(e.dtype));
        }
        if (!in) FAIL(path << ": truncated in entry " << name);
        fx.order.push_back(name);
        fx.entries[name] = std::move(e);
    }
    in.peek();
    if (!in.eof()) FAIL(path << ": bytes left after " << count << " entries");
    return fx;
}

// The "key=value" lines of the config entry; every key must be known.
GPTConfig parse_config(const Fixture& fx) {
    GPTConfig c;
    std::stringstream ss(fx.get("config").str);
    for (std::string line; std::getline(ss, line);) {
        if (line.empty()) continue;
        const size_t eq = line.find('=');
        REQUIRE_MESSAGE(eq != std::string::npos, fx.path << ": config line '" << line << "'");
        const std::string key = line.substr(0, eq), value = line.substr(eq + 1);
        if (key == "vocab_size") c.vocab_size = std::stoll(value);
        else if (key == "block_size") c.block_size = std::stoll(value);
        else if (key == "n_layer") c.n_layer = std::stoll(value);
        else if (key == "n_head") c.n_head = std::stoll(value);
        else if (key == "n_embd") c.n_embd = std::stoll(value);
        else if (key == "dropout") c.dropout = std::stof(value);
        else if (key == "bias") c.bias = value == "1";
        else if (key == "mixer") c.mixer = value;
        else if (key == "activation") c.activation = value;
        else if (key == "mixer_vproj") c.mixer_vproj = value == "1";
        else if (key == "name" || key == "torch_version") continue;  // metadata
        else FAIL(fx.path << ": unknown config key '" << key << "'");
    }
    return c;
}

Shape shape_of(const Entry& e) {
    Shape s;
    s.ndim = static_cast<int>(e.dims.size());
    for (int d = 0; d < s.ndim; d++) s.dims[d] = e.dims[d];
    return s;
}

using cg::rel_err;  // the overload on plain vectors

double rel_err(const Tensor& ours, const Entry& theirs, const std::string& what) {
    REQUIRE_MESSAGE(ours.shape == shape_of(theirs),
                    what << ": ours " << ours.shape.str() << ", PyTorch's " << shape_of(theirs).str());
    return rel_err(values_of(ours), theirs.floats);
}

// Builds the fixture's model: make_gpt, then every parameter from the fixture,
// by name. The fixture must hold exactly our parameters, no more, no fewer.
GPT load_model(const Fixture& fx) {
    GPT model = make_gpt(parse_config(fx), 1);
    std::vector<Parameter*> params = gpt_parameters(model);
    size_t in_fixture = 0;
    for (const std::string& name : fx.order) in_fixture += name.rfind("param.", 0) == 0;
    CHECK_MESSAGE(in_fixture == params.size(),
                  fx.path << " holds " << in_fixture << " parameters, the model has " << params.size());
    for (Parameter* p : params) {
        const Entry& e = fx.get("param." + p->name);
        REQUIRE_MESSAGE(p->value.shape == shape_of(e),
                        p->name << ": ours " << p->value.shape.str() << ", fixture's " << shape_of(e).str());
        copy_into(p->value, from_data(p->value.shape, e.floats.data()));
    }
    return model;
}

Ids ids_of(const Entry& e) { return make_ids(shape_of(e), e.ints); }

// The largest error seen over a fixture's tensors, for the summary line.
struct Worst {
    double err = 0.0;
    std::string what;
    void add(double e, const std::string& w) {
        if (e >= err) err = e, what = w;
    }
};

// Full forward, loss and backward against the fixture.
void check_forward_backward(const std::string& name) {
    const Fixture fx = read_fixture(fixture_dir() + "/" + name + ".bin");
    GPT model = load_model(fx);
    const std::vector<Parameter*> params = gpt_parameters(model);
    const Ids x = ids_of(fx.get("x")), y = ids_of(fx.get("y"));

    zero_grad(params);
    Rng rng{0, 0};
    const Var logits = gpt_forward(model, x, /*training=*/false, rng);
    const Var loss = cross_entropy(logits, y);
    backward(loss);

    Worst worst;
    const double logits_err = rel_err(logits.value, fx.get("logits"), "logits");
    CHECK_MESSAGE(logits_err < kTol, name << " logits");
    worst.add(logits_err, "logits");
    const float ours_loss = loss.value.item(), their_loss = fx.get("loss").floats.at(0);
    const double loss_err = rel_err(std::vector<float>{ours_loss}, {their_loss});
    CHECK_MESSAGE(loss_err < kTol, name << " loss: ours " << ours_loss << ", PyTorch's " << their_loss);
    worst.add(loss_err, "loss");
    for (Parameter* p : params) {
        const double err = rel_err(p->grad(), fx.get("grad." + p->name), "grad " + p->name);
        CHECK_MESSAGE(err < kTol, name << " grad " << p->name);
        worst.add(err, "grad " + p->name);
    }
    MESSAGE(name << ": largest rel_err " << worst.err << " (" << worst.what << ")");
}

// gpt_step, one token per sequence at a time, against the fixture's logits at
// each position (rel_err over the (B, V) slice of that position).
void check_incremental(const std::string& name) {
    const Fixture fx = read_fixture(fixture_dir() + "/" + name + ".bin");
    const GPT model = load_model(fx);
    const Entry& x = fx.get("x");
    const Entry& logits = fx.get("logits");
    const int64_t B = x.dims[0], T = x.dims[1], V = logits.dims[2];
    GPTState state = make_gpt_state(model, B);
    double worst = 0.0;
    for (int64_t t = 0; t < T; t++) {
        std::vector<int> tokens(static_cast<size_t>(B));
        std::vector<float> theirs(static_cast<size_t>(B * V));
        for (int64_t b = 0; b < B; b++) {
            tokens[b] = x.ints[b * T + t];
            for (int64_t v = 0; v < V; v++) theirs[b * V + v] = logits.floats[(b * T + t) * V + v];
        }
        const Tensor out = gpt_step(model, state, tokens.data());  // (B, V)
        REQUIRE(out.shape == Shape({B, V}));
        const double err = rel_err(values_of(out), theirs);
        CHECK_MESSAGE(err < kTol, name << " gpt_step logits at position " << t);
        worst = std::max(worst, err);
    }
    MESSAGE(name << ": gpt_step largest rel_err " << worst);
}

}  // namespace

TEST_CASE("parity: fixtures are present and well formed") {
    const std::string dir = fixture_dir();
    for (const char* name : {"a_mixed", "b_attn_bias", "c_pair_max_vproj", "d_seq_activation"}) {
        const std::string path = dir + "/" + name + ".bin";
        REQUIRE_MESSAGE(file_exists(path), "missing " << path
                                                      << "; regenerate: /usr/bin/python3 tests/parity/make_fixtures.py");
        const Fixture fx = read_fixture(path);
        const GPTConfig c = parse_config(fx);
        const Entry &x = fx.get("x"), &y = fx.get("y"), &logits = fx.get("logits");
        const Entry& loss = fx.get("loss");
        REQUIRE(x.dims.size() == 2);
        CHECK(x.dims == y.dims);
        CHECK(logits.dims == std::vector<int64_t>{x.dims[0], x.dims[1], c.vocab_size});
        CHECK(loss.floats.size() == 1);
    }
}

TEST_CASE("parity: a_mixed (attn, pair_max, scan_max, avg) logits, loss and gradients") {
    check_forward_backward("a_mixed");
}

TEST_CASE("parity: b_attn_bias (2 x attn, bias, T < block_size) logits, loss and gradients") {
    check_forward_backward("b_attn_bias");
}

TEST_CASE("parity: c_pair_max_vproj (pair_max with c_v, GELU) logits, loss and gradients") {
    check_forward_backward("c_pair_max_vproj");
}

TEST_CASE("parity: d_seq_activation (pair_min, pair_max+avg, scan_max activation, bias) logits, loss and gradients") {
    check_forward_backward("d_seq_activation");
}

TEST_CASE("parity: gpt_step reproduces PyTorch's logits position by position") {
    SUBCASE("a_mixed") { check_incremental("a_mixed"); }
    SUBCASE("b_attn_bias") { check_incremental("b_attn_bias"); }
    SUBCASE("c_pair_max_vproj") { check_incremental("c_pair_max_vproj"); }
    SUBCASE("d_seq_activation") { check_incremental("d_seq_activation"); }
}

}  // namespace cg
