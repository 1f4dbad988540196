// How many threads a repeated piece of work (a training step, a generated
// token, an eval batch) runs on, chosen from its measured time.
//
// Why not always all cores: an OpenMP parallel loop ends only when its slowest
// thread arrives. When another program keeps a core busy, the OS deschedules
// one of our threads for milliseconds at a time and every parallel loop of a
// step waits for it, so two threads can be slower than one; the same happens
// when the work is so small (one token of a small model) that waking a thread
// costs more than it saves. Which count is faster depends on the load, and the
// load changes while a run goes on, so the governor measures: it runs with one
// count and now and then tries the other for a few repeats, and keeps the
// faster. Results do not depend on the thread count (every kernel splits its
// work by size, not by thread), so switching changes only the speed.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "tensor/cpu_load.h"

namespace cg {

// Sets the thread count of everything that follows: a positive count is
// fixed; 0 lets each ThreadGovernor choose between 1 and all cores. Returns
// the largest count in use.
int set_num_threads(int threads);

// The median of timings, the upper of the two middle ones for an even count
// (0 for none): what the governor compares, and what bench reports.
double median(std::vector<double> v);

// How many parts work that splits by cores is cut into (matmul's rows): the
// default thread count, or the user's if larger; never the governor's choice,
// so results do not change with it.
int split_width();

struct ThreadGovernor {
    int many = 1;         // all threads; 1 when the user fixed the count (then nothing is tried)
    int fixed = 0;        // the user's count, or 0
    int current = 1;      // the count the work runs with now
    int64_t repeats = 0;  // pieces of work timed so far
    int64_t next_trial = 0, interval = 0;
    int trial_left = 0;                    // > 0 while trying the other count
    std::vector<double> recent, trial;     // the last times with `current`, and of the trial
    double decided_ms = 0;                 // median time of `current` when it was last chosen
    bool skip_next = false;                // the next time is a switch's, not the work's
    // Before a trial of more threads: is a core free for them? (sample_cpu_load;
    // the tests give their own.) The load is measured from `load_from` on,
    // set again at each look and at the end of each trial.
    CpuLoadSample (*sample_load)() = nullptr;
    CpuLoadSample load_from;
    bool cores_were_free = true;  // the last look's answer, kept while a window is too short to tell
};

ThreadGovernor make_thread_governor();
// Repeats a new governor takes to make its first choice: the untimed first
// ones, the times of all threads, the trial of one and the switch back. A
// benchmark that warms up this long times the choice, not the search.
int64_t governor_first_choice_repeats();
// Sets the OpenMP thread count for the next piece of work and returns it.
int governor_begin(ThreadGovernor& g);
// Records how long the piece of work took, in ms.
void governor_end(ThreadGovernor& g, double ms);

// Times one piece of work for a governor: threads set on construction, the
// time recorded on destruction.
class GovernedRepeat {
public:
    explicit GovernedRepeat(ThreadGovernor& g) : g_(g), t0_(std::chrono::steady_clock::now()) {
        governor_begin(g_);
        t0_ = std::chrono::steady_clock::now();
    }
    ~GovernedRepeat() {
        governor_end(g_, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0_).count());
    }
    GovernedRepeat(const GovernedRepeat&) = delete;
    GovernedRepeat& operator=(const GovernedRepeat&) = delete;

private:
    ThreadGovernor& g_;
    std::chrono::steady_clock::time_point t0_;
};

}  // namespace cg
