#include "tensor/thread_governor.h"

#include <omp.h>

#include <algorithm>
#include <string>

#include "tensor/kernels.h"

namespace cg {

namespace {

int g_fixed_threads = 0;  // set_num_threads' positive count, or 0: the governors choose

constexpr int64_t kWarmup = 2;          // repeats not timed (first allocations, first thread wake-up)
constexpr size_t kRecent = 5;           // times kept of the current count
constexpr int kTrialRepeats = 4;        // repeats with the other count per trial; the first, which
                                        // wakes or parks a thread, is not counted
constexpr int64_t kFirstInterval = 20;  // repeats between trials, doubling while the choice holds...
constexpr int64_t kMaxInterval = 320;   // ...up to this (under 1% of the time spent on trials)
// A trial this much slower than the current count (medians) is a clear
// result: one thread against two on a quiet machine, or two against one next
// to a busy program. The load is then unlikely to tip soon, and the next
// trial comes 4x later than it would. (A switch, however clear, is tried
// again after kFirstInterval repeats: see governor_end.)
constexpr double kClearMargin = 1.3;
// At least this much work between trials: a trial wakes or parks a thread,
// which can cost a millisecond, far more than one token of a small model.
constexpr double kMinMsBetweenTrials = 250;

}  // namespace

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
}

namespace {

int other_count(const ThreadGovernor& g) { return g.current == 1 ? g.many : 1; }

// Repeats until the next trial: `interval`, or more when the work is small.
int64_t repeats_until_trial(const ThreadGovernor& g, int64_t interval) {
    const double ms = std::max(median(g.recent), 1e-3);
    return std::max(interval, static_cast<int64_t>(kMinMsBetweenTrials / ms));
}

// Whether the cores the trial would add are free: other programs at our
// priority left at least half as many cores idle, since the last look. Next
// to one that holds a core, a step on all threads takes 5-8x a step on one
// (it waits at every parallel loop for the descheduled thread), so such a
// trial only costs; a nice-19 program does not count (the scheduler gives us
// its core, when both run in one session). A window under 0.1 s keeps the
// last answer. Unknown load (no /proc/stat, a niced run): the trial
// decides, as it always did.
bool room_for_more_threads(ThreadGovernor& g) {
    if (!g.sample_load) return true;
    const CpuLoadSample now = g.sample_load();
    if (!now.valid || !g.load_from.valid || now.cpus != g.load_from.cpus) {  // nothing to compare yet
        g.load_from = now;
        return true;
    }
    const double busy = competing_cores(g.load_from, now);
    if (busy < 0.0) return g.cores_were_free;  // too short a window
    g.load_from = now;
    // The cores the trial would add, as far as there are CPUs for them (more
    // threads than CPUs, as OMP_NUM_THREADS may ask, is for the trial to judge).
    const int wanted = std::min(other_count(g), now.cpus) - g.current;
    const double free = static_cast<double>(now.cpus - g.current) - busy;
    g.cores_were_free = wanted <= 0 || free >= 0.5 * static_cast<double>(wanted);
    return g.cores_were_free;
}

// OpenMP's own default (all cores, or OMP_NUM_THREADS), read when the program
// starts, before anything changes it.
const int kDefaultThreads = omp_get_max_threads();
int default_threads() { return kDefaultThreads; }

}  // namespace

int set_num_threads(int threads) {
    if (threads < 0) fail("threads", "must be 0 (choose by measuring) or positive, got " + std::to_string(threads));
    g_fixed_threads = threads;
    omp_set_num_threads(threads > 0 ? threads : default_threads());
    use_one_blas_thread();
    return omp_get_max_threads();
}

int split_width() { return std::max(default_threads(), g_fixed_threads); }

ThreadGovernor make_thread_governor() {
    ThreadGovernor g;
    g.fixed = g_fixed_threads;
    g.many = g.fixed > 0 ? g.fixed : default_threads();  // not OpenMP's current count: an earlier governor may have left 1
    g.current = g.many;
    g.next_trial = kWarmup + static_cast<int64_t>(kRecent);
    g.interval = kFirstInterval;
    if (g.fixed == 0 && g.many > 1) {
        g.sample_load = sample_cpu_load;
        g.load_from = sample_cpu_load();
    }
    return g;
}

int64_t governor_first_choice_repeats() { return kWarmup + static_cast<int64_t>(kRecent) + kTrialRepeats + 1; }

int governor_begin(ThreadGovernor& g) {
    if (g.fixed == 0 && g.many > 1 && g.trial_left == 0 && g.repeats >= g.next_trial) {
        // No room for more threads: look again kFirstInterval repeats (or 250
        // ms of work) on, a read of /proc/stat, so they come soon after the load goes.
        if (other_count(g) > g.current && !room_for_more_threads(g))
            g.next_trial = g.repeats + repeats_until_trial(g, kFirstInterval);
        else
            g.trial_left = kTrialRepeats;
    }
    const int n = g.trial_left > 0 ? other_count(g) : g.current;
    omp_set_num_threads(n);
    return n;
}

void governor_end(ThreadGovernor& g, double ms) {
    const int64_t repeat = g.repeats++;
    if (g.fixed > 0 || g.many == 1 || repeat < kWarmup) return;
    if (g.trial_left == 0) {
        if (g.skip_next) {  // the first repeat back on `current` after a trial also wakes or parks a thread
            g.skip_next = false;
            return;
        }
        g.recent.push_back(ms);
        if (g.recent.size() > kRecent) g.recent.erase(g.recent.begin());
        // The work or the load changed (the time moved by a quarter since the
        // last choice): try the other count again soon. Slower counts only
        // when every recent repeat is: next to a nice-19 program, bursts of
        // two or three repeats several times slower come and go, and a
        // switch to one thread on such a burst cost the next 80 repeats.
        const double now = median(g.recent);
        const double fastest = *std::min_element(g.recent.begin(), g.recent.end());
        if (g.decided_ms > 0 && g.recent.size() == kRecent && (fastest > 1.25 * g.decided_ms || now < 0.8 * g.decided_ms)) {
            g.interval = kFirstInterval;  // now for work of a step's size; after 250 ms of work for tiny work
            g.next_trial = std::min(g.next_trial, g.repeats + repeats_until_trial(g, g.interval) - kFirstInterval);
            g.decided_ms = now;
        }
        return;
    }
    if (g.trial_left < kTrialRepeats) g.trial.push_back(ms);
    if (--g.trial_left > 0) return;
    // The trial is over: keep the faster count (by a margin, so noise does not flip it).
    const double trial_ms = median(g.trial), current_ms = median(g.recent);
    const bool clear = trial_ms > kClearMargin * current_ms || kClearMargin * trial_ms < current_ms;
    if (trial_ms < 0.95 * current_ms) {
        // A switch is tried again soon whatever the margin: next to a nice-19
        // program, a burst of slow repeats before a trial can make the wrong
        // count look clearly faster (then 80 repeats ran on one thread at
        // twice the time). A second clear result starts the long intervals.
        g.current = other_count(g);
        g.recent = g.trial;
        g.interval = kFirstInterval;
    } else {
        g.interval = std::min((clear ? 4 : 2) * g.interval, kMaxInterval);
    }
    g.trial.clear();
    g.skip_next = true;
    if (g.sample_load) g.load_from = g.sample_load();  // the next look judges the load from here on
    g.decided_ms = median(g.recent);
    g.next_trial = g.repeats + repeats_until_trial(g, g.interval);
}

}  // namespace cg
