// The arithmetic behind `causalgrad bench`, the OpenBLAS core check and the
// runtime settings; no timings are asserted here (speed belongs in `make bench`).
#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <string>

#include "tools/bench.h"
#include "tensor/runtime_setup.h"

namespace cg {
namespace {

TEST_CASE("bench: FLOPs per training step of the CPU config, counted by hand") {
    GPTConfig c;  // 4 layers, n_embd 128, block 64, vocab 65, attention
    const double BT = 12 * 64, C = 128;
    const double per_layer = 2 * BT * C * 3 * C      // c_attn
                             + 2 * 2 * BT * 64 * C   // q k^T and p v over full T x T
                             + 2 * BT * C * C        // c_proj
                             + 2 * 2 * BT * C * 4 * C;  // the MLP's two products
    const double forward = 4 * per_layer + 2 * BT * C * 65;  // + lm_head
    CHECK(train_step_flops(c, 12) == doctest::Approx(3 * forward));
    c.mixer = "pair_max";  // no c_attn, no scores
    CHECK(train_step_flops(c, 12) ==
          doctest::Approx(3 * (4 * (2 * BT * C * C + 2 * 2 * BT * C * 4 * C) + 2 * BT * C * 65)));
    c.mixer_vproj = true;  // c_v adds one C x C product per block
    CHECK(train_step_flops(c, 12) ==
          doctest::Approx(3 * (4 * (2 * 2 * BT * C * C + 2 * 2 * BT * C * 4 * C) + 2 * BT * C * 65)));
}

TEST_CASE("bench: the least traffic of a graph's ops, counted by hand") {
    Parameter a = make_parameter("a", zeros({3, 5})), b = make_parameter("b", zeros({3, 5}));
    Parameter w = make_parameter("w", zeros({4, 5}));
    Var s = add(a.var(), b.var());                      // forward: writes 15, reads 15 of 30
    Var y = linear(s, w.var(), Var{});                  // (3, 4), a product: its share is its own
    Var g = gelu(reshape(y, {12}));                     // the view moves nothing; gelu 12 + 12
    Var loss = sum(g);                                  // writes 1, reads at least 1
    const std::vector<int64_t> floats = tape_traffic_floats();
    // Forward: add, gelu, sum. Backward, in reverse: sum's gradient (2 x 12),
    // gelu's (2 x 12), add's: b's (2 x 15), a takes dy itself.
    CHECK(floats == std::vector<int64_t>{30, 24, 2, 24, 24, 30});
    CHECK(tape_size() > 0);  // the tape is left as it was
    clear_tape();
}

TEST_CASE("bench: the other ops' traffic replay stays inside its ring (the sanitizer build checks)") {
    GPTConfig c;
    c.n_layer = 2;
    c.n_embd = 32;
    c.n_head = 2;
    c.block_size = 9;
    for (const char* mixer : {"attn", "pair_max"}) {
        c.mixer = mixer;
        CHECK(other_ops_traffic_ms(c, 3) > 0.0);
        CHECK(other_ops_traffic_ms(c, 3, 1000) > 0.0);  // a ring smaller than the traffic: it wraps
    }
}

TEST_CASE("bench: generic OpenBLAS cores are told apart from AVX2 and AVX-512 ones") {
    for (const char* generic : {"Prescott", "Core2", "Nehalem", "Sandybridge", "unknown"})
        CHECK(is_generic_blas_core(generic));
    for (const char* fast : {"Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids"})
        CHECK_FALSE(is_generic_blas_core(fast));
    const std::string best = best_blas_core();
    CHECK((best.empty() || best == "Haswell" || best == "SkylakeX"));
    if (!best.empty()) CHECK_FALSE(is_generic_blas_core(best));
}

// The environment the process started with (not what setenv changed since):
// a restart that failed would leave the settings out of it.
TEST_CASE("runtime: the suite runs with the settings causalgrad restarts itself with") {
    if (runtime_restart_disabled()) {
        MESSAGE("not restarted (CAUSALGRAD_NO_RESTART=1 or valgrind): skipped");
        return;
    }
    std::ifstream f("/proc/self/environ", std::ios::binary);
    if (!f) {
        MESSAGE("no /proc/self/environ: skipped");
        return;
    }
    const std::string env((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    auto has = [&](const std::string& name) { return env.find(name + "=") == 0 || env.find('\0' + name + "=") != std::string::npos; };
    CHECK((has("GOMP_SPINCOUNT") || has("OMP_WAIT_POLICY")));
    CHECK(has("GLIBC_TUNABLES"));
}

}  // namespace
}  // namespace cg
