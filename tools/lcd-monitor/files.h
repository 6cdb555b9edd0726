// lcd-monitor: small file helpers (atomic writes, pid files).
#pragma once

#include <string>

namespace lcdmon {

// Writes `content` to dir/name through dir/.name.tmp and rename(2), so a reader sees the whole
// file or none. No fsync: the records matter only while the machine (and the container) runs.
// Returns "" or what failed.
std::string WriteFileAtomic(const std::string& dir, const std::string& name,
                            const std::string& content);
// Reads a whole small file (at most `cap` bytes). False if it cannot be opened.
bool ReadWholeFile(const std::string& path, std::string* out, size_t cap = 64 << 10);
// Removes a cgroup directory, its sub-cgroups first (as runc's RemovePath: rmdir, and on
// failure the subdirectories, then rmdir again). A directory that is not there is no error.
// Returns "" or what failed (EBUSY: processes are still in it).
std::string RemoveCgroupTree(const std::string& path);
// Removes a directory and everything in it (no symlink is followed). A directory that is not
// there is no error. Returns "" or what failed.
std::string RemoveTree(const std::string& path);
// Reads a runtime's --pid-file. Returns the pid, or 0 when absent or malformed.
int ReadPidFile(const std::string& path);

}  // namespace lcdmon
