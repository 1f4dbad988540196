#include "io/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tensor/tensor.h"

namespace cg {

RunLock::RunLock(RunLock&& other) noexcept : fd(other.fd) { other.fd = -1; }

RunLock& RunLock::operator=(RunLock&& other) noexcept {
    if (this != &other) {
        if (fd >= 0) ::close(fd);
        fd = other.fd;
        other.fd = -1;
    }
    return *this;
}

RunLock::~RunLock() {
    if (fd >= 0) ::close(fd);  // closing the last descriptor releases the flock
}

RunLock lock_out_dir(const std::string& out_dir) {
    const std::string path = out_dir + "/train.lock";
    RunLock lock;
    lock.fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock.fd < 0) fail("train", "cannot open the lock file '" + path + "' (" + std::strerror(errno) + ")");
    if (::flock(lock.fd, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        if (err != EWOULDBLOCK) fail("train", "cannot lock '" + path + "' (" + std::strerror(err) + ")");
        char buf[32] = {};
        const ssize_t n = ::pread(lock.fd, buf, sizeof(buf) - 1, 0);
        std::string pid = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
        while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
        fail("train", "out_dir '" + out_dir + "' is in use by another run (pid " + (pid.empty() ? "unknown" : pid) +
                          "); wait for it to finish, stop it, or choose another --out_dir");
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(lock.fd, 0) != 0 || ::pwrite(lock.fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size()))
        fail("train", "cannot write the lock file '" + path + "' (" + std::strerror(errno) + ")");
    return lock;
}

}  // namespace cg
