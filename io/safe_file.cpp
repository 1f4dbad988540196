#include "io/safe_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "tensor/tensor.h"

namespace cg {

namespace fs = std::filesystem;

namespace {
std::string quoted(const std::string& path) { return "'" + path + "'"; }

// stat() without following nothing special: a symlink to a file counts as the file.
bool stat_path(const std::string& path, struct stat& st) { return ::stat(path.c_str(), &st) == 0; }
}  // namespace

void require_regular_file(const std::string& path, const char* op, const std::string& what) {
    struct stat st;
    if (path.empty()) fail(op, what + ": the path is empty");
    if (!stat_path(path, st)) fail(op, what + " " + quoted(path) + " does not exist (" + std::strerror(errno) + ")");
    if (S_ISDIR(st.st_mode)) fail(op, what + " " + quoted(path) + " is a directory; give the file inside it");
    if (!S_ISREG(st.st_mode)) fail(op, what + " " + quoted(path) + " is not a regular file");
}

std::string read_regular_file(const std::string& path, const char* op) {
    require_regular_file(path, op, "file");
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(op, "cannot read " + quoted(path) + " (" + std::strerror(errno) + ")");
    std::string bytes;
    char buf[1 << 16];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof(buf));
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            const int err = errno;
            ::close(fd);
            fail(op, "cannot read " + quoted(path) + " (" + std::strerror(err) + ")");
        }
        bytes.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return bytes;
}

void write_file_atomically(const std::string& path, const std::string& bytes, const char* op) {
    const std::string tmp = path + ".tmp";
    auto give_up = [&](const std::string& what, int err, int fd) {
        if (fd >= 0) ::close(fd);
        ::unlink(tmp.c_str());
        fail(op, what + " (" + std::strerror(err) + "); " + quoted(path) + " is untouched");
    };
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) fail(op, "cannot write " + quoted(tmp) + " (" + std::strerror(errno) + "); " + quoted(path) + " is untouched");
    for (size_t done = 0; done < bytes.size();) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) give_up("writing " + quoted(tmp) + " failed", n < 0 ? errno : ENOSPC, fd);
        done += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0) give_up("writing " + quoted(tmp) + " failed", errno, fd);
    if (::close(fd) != 0) give_up("writing " + quoted(tmp) + " failed", errno, -1);
    if (::rename(tmp.c_str(), path.c_str()) != 0)
        give_up("cannot move " + quoted(tmp) + " to " + quoted(path), errno, -1);
    // The rename itself is durable only once the folder's entry is on disk.
    fs::path parent = fs::path(path).parent_path();
    const int dir = ::open(parent.empty() ? "." : parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
        ::fsync(dir);
        ::close(dir);
    }
}

void check_writable_dir(const std::string& dir, const char* op) {
    if (dir.empty()) fail(op, "the output folder is empty; give a path, e.g. --out_dir=out");
    fs::path p = dir;
    struct stat st;
    while (!stat_path(p.string(), st)) {
        if (errno != ENOENT && errno != ENOTDIR) fail(op, "cannot use " + quoted(p.string()) + " (" + std::strerror(errno) + ")");
        const fs::path parent = p.parent_path();
        if (parent.empty() || parent == p) {
            p = ".";
            if (!stat_path(".", st)) fail(op, "cannot use the current folder");
            break;
        }
        p = parent;
    }
    if (!S_ISDIR(st.st_mode))
        fail(op, quoted(p.string()) + " is not a folder, so " + quoted(dir) + " cannot be one; choose another path");
    if (::access(p.c_str(), W_OK | X_OK) != 0)
        fail(op, "folder " + quoted(p.string()) + " is not writable (" + std::strerror(errno) + "); choose another path");
}


void write_file_synced(const std::string& path, const std::string& bytes, const char* op) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) fail(op, "cannot write '" + path + "' (" + std::strerror(errno) + ")");
    int err = 0;
    for (size_t done = 0; done < bytes.size() && !err;) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) err = n < 0 ? errno : ENOSPC;
        else done += static_cast<size_t>(n);
    }
    if (!err && ::fsync(fd) != 0) err = errno;
    if (::close(fd) != 0 && !err) err = errno;
    if (err) {
        ::unlink(path.c_str());
        fail(op, "writing '" + path + "' failed (" + std::strerror(err) + ")");
    }
}

void sync_folder(const std::string& dir) {
    const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
}

bool same_file(const std::string& a, const std::string& b) {
    struct stat sa, sb;
    return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

}  // namespace cg
