// One run per out_dir: an flock on out_dir/train.lock, held as long as the
// RunLock lives. The kernel drops it when the process ends, however it ends
// (kill -9 included), so a stale lock file never blocks the next run.
#pragma once

#include <string>

namespace cg {

struct RunLock {
    int fd = -1;
    RunLock() = default;
    RunLock(RunLock&& other) noexcept;
    RunLock& operator=(RunLock&& other) noexcept;
    RunLock(const RunLock&) = delete;
    RunLock& operator=(const RunLock&) = delete;
    ~RunLock();
};

// Takes the lock of `out_dir` (which must exist) and writes our PID into the
// file. Throws, naming the holder's PID, when another process holds it.
RunLock lock_out_dir(const std::string& out_dir);

}  // namespace cg
