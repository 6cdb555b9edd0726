#include "oci/host_devices.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <filesystem>
#include <system_error>

namespace libcontainerd::oci::detail {
namespace {

namespace fs = std::filesystem;

bool SkippedDirectory(const std::string& name) {
  for (const char* s : {"pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"}) {
    if (name == s) return true;
  }
  return false;
}

void Scan(const fs::path& dir, int depth, std::vector<LinuxDevice>& out) {
  if (depth > 16) return;  // /dev is shallow; a deeper tree is not a device directory
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    std::string name = p.filename().string();
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) continue;  // vanished
    if (S_ISDIR(st.st_mode)) {
      if (!SkippedDirectory(name)) Scan(p, depth + 1, out);
      continue;
    }
    if (name == "console") continue;
    char type = S_ISCHR(st.st_mode) ? 'c' : S_ISBLK(st.st_mode) ? 'b' : '\0';
    if (type == '\0') continue;  // symlinks, FIFOs, regular files
    LinuxDevice d;
    d.path = p.string();
    d.type.assign(1, type);
    d.major = static_cast<int64_t>(major(st.st_rdev));
    d.minor = static_cast<int64_t>(minor(st.st_rdev));
    d.file_mode = static_cast<uint32_t>(st.st_mode & 07777);
    d.uid = static_cast<uint32_t>(st.st_uid);
    d.gid = static_cast<uint32_t>(st.st_gid);
    out.push_back(std::move(d));
  }
}

}  // namespace

std::vector<LinuxDevice> HostDevices(const std::string& dir) {
  std::vector<LinuxDevice> out;
  Scan(dir, 0, out);
  std::sort(out.begin(), out.end(),
            [](const LinuxDevice& a, const LinuxDevice& b) { return a.path < b.path; });
  return out;
}

}  // namespace libcontainerd::oci::detail
