// How much of the CPUs this process may use other programs kept busy: the
// thread governor asks before it tries more threads, since next to a program
// that holds a core at our priority a step on all threads waits at every
// parallel loop for a descheduled thread (5-8x a step on one thread), and a
// trial of such steps is what made the default slower than --threads=1 there.
#pragma once

namespace cg {

// CPU time counters at one moment, from the kernel's accounting (Linux:
// /proc/stat for the CPUs in this process's affinity mask). `valid` is false
// where they cannot be read, or when this process runs at a lowered priority
// (nice > 0): every program at nice >= 0 then competes with it, and the
// counters cannot tell them from the niced ones.
struct CpuLoadSample {
    bool valid = false;
    int cpus = 0;           // CPUs this process may run on
    double wall_s = 0;      // a steady clock
    double others_s = 0;    // CPU time other programs at nice <= 0 (and the kernel, and a hypervisor's steal) used on them
};

CpuLoadSample sample_cpu_load();

// Cores' worth of those CPUs that other programs kept busy between two
// samples (1.0: a whole core); negative when either sample is invalid or the
// window is under 0.1 s (the kernel counts in ticks of 10 ms).
double competing_cores(const CpuLoadSample& from, const CpuLoadSample& to);

}  // namespace cg
