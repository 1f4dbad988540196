// The thread governor: it keeps the faster of one thread and all threads,
// measured on the work itself, and never changes a count the user fixed.
// Fed made-up times here, so the test is about the decisions, not the clock.
#include <doctest/doctest.h>
#include <omp.h>

#include <functional>

#include "tensor/kernels.h"

namespace cg {
namespace {

// Runs `repeats` pieces of work whose time depends on the thread count;
// returns how many ran on one thread.
int64_t run_governed(ThreadGovernor& g, int64_t repeats, const std::function<double(int)>& ms_for) {
    int64_t on_one = 0;
    for (int64_t i = 0; i < repeats; i++) {
        const int n = governor_begin(g);
        CHECK(omp_get_max_threads() == n);
        on_one += n == 1;
        governor_end(g, ms_for(n));
    }
    return on_one;
}

TEST_CASE("threads: the governor keeps the faster count and follows a change of load") {
    set_num_threads(0);
    ThreadGovernor g = make_thread_governor();
    if (g.many < 2) {
        MESSAGE("one core only: nothing to choose, skipped");
        return;
    }
    // Quiet machine: all threads twice as fast. One thread loses clearly, so
    // each trial of 4 repeats is followed by one 4x further away: trials at
    // repeat 7 and 91, then 320 repeats apart.
    auto quiet = [](int n) { return n == 1 ? 20.0 : 10.0; };
    int64_t quiet_on_one = run_governed(g, 200, quiet);
    // A burst of a few slow repeats (a nice-19 program's turn on a core) is
    // not a change of load: no trial, no switch.
    int64_t repeat = 0;
    const int64_t burst_on_one = run_governed(g, 20, [&](int n) { return repeat++ < 3 ? 40.0 : quiet(n); });
    CHECK(burst_on_one == 0);
    CHECK(g.current == g.many);
    quiet_on_one += run_governed(g, 180, quiet);
    CHECK(g.current == g.many);
    CHECK(quiet_on_one == 2 * 4);
    CHECK(g.interval == 320);
    // Another program takes a core: one thread is now faster. The governor
    // finds out at its next trial (at most 320 repeats away) and switches.
    run_governed(g, 330, [](int n) { return n == 1 ? 20.0 : 35.0; });
    CHECK(g.current == 1);
    // Noise within 5% never flips the choice.
    const int before = g.current;
    run_governed(g, 200, [](int n) { return n == 1 ? 20.0 : 19.5; });
    CHECK(g.current == before);
    set_num_threads(0);
}

TEST_CASE("threads: a switch made on a burst of slow repeats is undone at the next trial, 20 repeats on") {
    set_num_threads(0);
    ThreadGovernor g = make_thread_governor();
    if (g.many < 2) return;
    auto quiet = [](int n) { return n == 1 ? 20.0 : 10.0; };
    // All threads' repeats before the first trial fall in a burst (40 ms):
    // the trial of one thread (20 ms) wins, clearly.
    int64_t repeat = 0;
    run_governed(g, 11, [&](int n) { return repeat++ < 7 ? 40.0 : quiet(n); });
    REQUIRE(g.current == 1);
    // The burst is over: the next trial finds all threads faster again.
    CHECK(run_governed(g, 30, quiet) <= 22);
    CHECK(g.current == g.many);
    set_num_threads(0);
}

TEST_CASE("threads: a new governor tries all threads even when the last one ended on one") {
    set_num_threads(0);
    ThreadGovernor first = make_thread_governor();
    if (first.many < 2) return;
    run_governed(first, 100, [](int n) { return n == 1 ? 5.0 : 10.0; });
    REQUIRE(first.current == 1);
    ThreadGovernor second = make_thread_governor();
    CHECK(second.many == first.many);
    CHECK(governor_begin(second) == second.many);
    set_num_threads(0);
}

TEST_CASE("threads: a count the user fixed is never changed") {
    set_num_threads(1);
    ThreadGovernor g = make_thread_governor();
    CHECK(run_governed(g, 100, [](int n) { return n == 1 ? 50.0 : 1.0; }) == 100);
    set_num_threads(0);
    CHECK_THROWS_AS(set_num_threads(-1), Error);
}

}  // namespace
}  // namespace cg
