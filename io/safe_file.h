// Reading and writing files so that a failure says what is wrong with which
// path, and never leaves a half-written file in place of a good one.
#pragma once

#include <string>

namespace cg {

// The whole file. Throws (under `op`) when the path is missing, a directory,
// not a regular file, or unreadable.
std::string read_regular_file(const std::string& path, const char* op);

// Throws unless `path` exists and is a regular file (the message names `what`).
void require_regular_file(const std::string& path, const char* op, const std::string& what);

// Writes `bytes` to path.tmp, fsyncs it, renames it over `path` and fsyncs the
// folder: readers see the old file or the new one, never a mix. On failure the
// temporary file is removed and `path` is untouched.
void write_file_atomically(const std::string& path, const std::string& bytes, const char* op);

// Throws unless `dir` is a writable folder, or does not exist yet and its
// nearest existing parent is a writable folder (so it can be made).
void check_writable_dir(const std::string& dir, const char* op);


// Writes `bytes` to `path` (created or truncated) and fsyncs it, for a caller
// that moves the file into place itself. On failure `path` is removed and the
// error (under `op`) names it and the reason, e.g. a full disk.
void write_file_synced(const std::string& path, const std::string& bytes, const char* op);

// fsyncs folder `dir`, so that renames inside it are on disk.
void sync_folder(const std::string& dir);

// Whether both paths exist and name the same file (the same device and inode),
// however they are spelled: through links, "..", or another relative path.
bool same_file(const std::string& a, const std::string& b);

}  // namespace cg
