// The thread governor: it keeps the faster of one thread and all threads,
// measured on the work itself, does not try more threads while other
// programs hold the cores, and never changes a count the user fixed. Fed
// made-up times and loads here, so the test is about the decisions, not the
// clock.
#include <doctest/doctest.h>
#include <omp.h>

#include <chrono>
#include <functional>

#if defined(__linux__)
#include <sys/resource.h>
#include <unistd.h>
#endif

#include "tensor/kernels.h"
#include "tensor/thread_governor.h"
#include "tools/bench.h"

namespace cg {
namespace {

// A made-up machine load: each look is `fake_seconds` after the last, and
// other programs kept `fake_busy_cores` cores busy in between.
double fake_busy_cores = 0.0, fake_seconds = 0.3;
CpuLoadSample fake_sample() {
    static CpuLoadSample s{true, 2, 0.0, 0.0};
    s.wall_s += fake_seconds;
    s.others_s += fake_seconds * fake_busy_cores;
    return s;
}

// A governor that sees the made-up load, quiet to begin with.
ThreadGovernor governor_on_fake_load() {
    fake_busy_cores = 0.0;
    fake_seconds = 0.3;
    ThreadGovernor g = make_thread_governor();
    g.sample_load = fake_sample;
    g.load_from = fake_sample();
    return g;
}

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
    ThreadGovernor g = governor_on_fake_load();
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
    ThreadGovernor g = governor_on_fake_load();
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
    ThreadGovernor first = governor_on_fake_load();
    if (first.many < 2) return;
    run_governed(first, 100, [](int n) { return n == 1 ? 5.0 : 10.0; });
    REQUIRE(first.current == 1);
    ThreadGovernor second = make_thread_governor();
    CHECK(second.many == first.many);
    CHECK(governor_begin(second) == second.many);
    set_num_threads(0);
}

TEST_CASE("threads: no trial of all threads while another program holds a core; trials resume when it stops") {
    set_num_threads(0);
    ThreadGovernor g = governor_on_fake_load();
    if (g.many < 2) return;
    // A program at our priority takes a core: all threads lose clearly at the
    // first trial, and from then on the cores are looked at, not tried.
    fake_busy_cores = 1.0;
    auto busy = [](int n) { return n == 1 ? 21.0 : 140.0; };
    run_governed(g, 20, busy);
    REQUIRE(g.current == 1);
    const int64_t on_one = run_governed(g, 1000, busy);
    CHECK(on_one == 1000);
    // Looks too close together to measure (the work sped up, say) keep the
    // last answer rather than letting a trial through.
    fake_seconds = 0.05;
    CHECK(run_governed(g, 200, [](int n) { return n == 1 ? 10.0 : 140.0; }) == 200);
    fake_seconds = 0.3;
    // The program ends: the next look, at most 20 repeats on, finds the core
    // free, and the trial switches.
    fake_busy_cores = 0.0;
    run_governed(g, 30, [](int n) { return n == 1 ? 21.0 : 11.0; });
    CHECK(g.current == g.many);
    // Less than half a core busy does not block a trial: the times decide,
    // so all threads are tried now and then, and lose.
    fake_busy_cores = 0.4;
    run_governed(g, 60, busy);
    REQUIRE(g.current == 1);
    CHECK(run_governed(g, 400, busy) < 400);
    CHECK(g.current == 1);
    fake_busy_cores = 0.0;
    set_num_threads(0);
}

#if defined(__linux__)
TEST_CASE("threads: sample_cpu_load counts another program's busy core") {
    if (getpriority(PRIO_PROCESS, 0) > 0) {
        MESSAGE("running niced: the load is not measured, skipped");
        CHECK_FALSE(sample_cpu_load().valid);
        return;
    }
    double busy = -1.0;
    {
        BusyCore other(0);  // another program, at our priority, spinning
        const CpuLoadSample before = sample_cpu_load();
        REQUIRE(before.valid);
        CHECK(before.cpus >= 1);
        CHECK(competing_cores(before, before) < 0.0);  // a window under 0.1 s says nothing
        usleep(250000);
        busy = competing_cores(before, sample_cpu_load());
    }
    MESSAGE("a spinning child process: " << busy << " cores busy");
    // The child had a core to itself unless other programs took it, and
    // those count too; this process slept.
    CHECK(busy >= 0.5);
    // This process's own time is not another program's: a warning only, as
    // other programs on the machine may be busy meanwhile.
    const CpuLoadSample own_from = sample_cpu_load();
    const auto t0 = std::chrono::steady_clock::now();
    volatile unsigned long spins = 0;
    while (std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(250)) spins = spins + 1;
    WARN(competing_cores(own_from, sample_cpu_load()) < 0.5);
}
#endif

TEST_CASE("threads: a count the user fixed is never changed") {
    set_num_threads(1);
    ThreadGovernor g = governor_on_fake_load();
    CHECK(run_governed(g, 100, [](int n) { return n == 1 ? 50.0 : 1.0; }) == 100);
    set_num_threads(0);
    CHECK_THROWS_AS(set_num_threads(-1), Error);
}

}  // namespace
}  // namespace cg
