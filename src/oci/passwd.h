// Internal: reading /etc/passwd and /etc/group of a container's root file system.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace libcontainerd::oci::detail {

struct PasswdEntry {
  std::string name;
  uint32_t uid = 0;
  uint32_t gid = 0;
};

struct GroupEntry {
  std::string name;
  uint32_t gid = 0;
  std::vector<std::string> members;
};

// Parses passwd(5) / group(5) text; malformed lines are skipped (as libc does).
std::vector<PasswdEntry> ParsePasswd(const std::string& text);
std::vector<GroupEntry> ParseGroup(const std::string& text);

// Reads <rootfs>/<path> with symlinks resolved inside rootfs (openat2 RESOLVE_IN_ROOT), so a
// hostile image cannot make us read a host file. Throws Error{kNotFound} when it does not
// exist, Error{kUnknown} with errno on other failures.
std::string ReadFileInRoot(const std::string& rootfs, const std::string& path);

}  // namespace libcontainerd::oci::detail
