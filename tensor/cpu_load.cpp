#include "tensor/cpu_load.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#if defined(__linux__)
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>
#endif

namespace cg {

#if defined(__linux__)

CpuLoadSample sample_cpu_load() {
    CpuLoadSample s;
    s.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    if (getpriority(PRIO_PROCESS, 0) > 0) return s;  // niced: see cpu_load.h
    cpu_set_t mine;
    CPU_ZERO(&mine);
    if (sched_getaffinity(0, sizeof(mine), &mine) != 0) return s;
    timespec own{};
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &own) != 0) return s;
    std::FILE* f = std::fopen("/proc/stat", "r");
    if (!f) return s;
    // "cpuN user nice system idle iowait irq softirq steal ...", in ticks.
    // Busy at our priority or above: all but nice, idle and iowait.
    unsigned long long busy = 0;
    char line[512];
    while (std::fgets(line, sizeof(line), f) && std::strncmp(line, "cpu", 3) == 0) {
        if (line[3] < '0' || line[3] > '9') continue;  // the "cpu" line of all CPUs
        char* p = line + 3;
        const long cpu = std::strtol(p, &p, 10);
        if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &mine)) continue;
        unsigned long long field[8] = {};
        for (unsigned long long& v : field) v = std::strtoull(p, &p, 10);
        busy += field[0] + field[2] + field[5] + field[6] + field[7];  // user, system, irq, softirq, steal
        s.cpus++;
    }
    std::fclose(f);
    const long ticks_per_s = sysconf(_SC_CLK_TCK);
    if (s.cpus == 0 || ticks_per_s <= 0) return s;
    s.others_s = static_cast<double>(busy) / static_cast<double>(ticks_per_s) -
                 (static_cast<double>(own.tv_sec) + 1e-9 * static_cast<double>(own.tv_nsec));
    s.valid = true;
    return s;
}

#else

CpuLoadSample sample_cpu_load() { return {}; }

#endif

double competing_cores(const CpuLoadSample& from, const CpuLoadSample& to) {
    const double window = to.wall_s - from.wall_s;
    if (!from.valid || !to.valid || from.cpus != to.cpus || window < 0.1) return -1.0;
    const double cores = (to.others_s - from.others_s) / window;
    return cores < 0.0 ? 0.0 : cores;
}

}  // namespace cg
