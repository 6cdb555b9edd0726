#include "images/mount.h"

#include <errno.h>
#include <sys/mount.h>

#include <cstring>
#include <map>

#include "libcontainerd/errors.h"
#include "libcontainerd/log.h"

namespace libcontainerd::images {
namespace {

struct Parsed {
  unsigned long flags = 0;
  std::string data;
};

Parsed ParseOptions(const std::vector<std::string>& options) {
  static const std::map<std::string, unsigned long> kFlags = {
      {"ro", MS_RDONLY},        {"rw", 0},
      {"bind", MS_BIND},        {"rbind", MS_BIND | MS_REC},
      {"nosuid", MS_NOSUID},    {"nodev", MS_NODEV},
      {"noexec", MS_NOEXEC},    {"noatime", MS_NOATIME},
      {"relatime", MS_RELATIME}};
  Parsed p;
  for (const auto& o : options) {
    if (auto it = kFlags.find(o); it != kFlags.end()) {
      p.flags |= it->second;
    } else {
      p.data += (p.data.empty() ? "" : ",") + o;
    }
  }
  return p;
}

}  // namespace

void MountAll(const std::vector<MountInfo>& mounts, const std::string& target) {
  int done = 0;
  for (const auto& m : mounts) {
    Parsed p = ParseOptions(m.options);
    int rc;
    if (m.type == "bind" || (p.flags & MS_BIND)) {
      rc = ::mount(m.source.c_str(), target.c_str(), nullptr, p.flags | MS_BIND, nullptr);
      if (rc == 0 && (p.flags & MS_RDONLY))
        rc = ::mount(nullptr, target.c_str(), nullptr,
                     MS_REMOUNT | MS_BIND | MS_RDONLY | (p.flags & MS_REC), nullptr);
    } else {
      rc = ::mount(m.source.c_str(), target.c_str(), m.type.c_str(), p.flags, p.data.c_str());
    }
    if (rc != 0) {
      int err = errno;
      for (; done > 0; --done) ::umount2(target.c_str(), MNT_DETACH);
      ThrowErrno(ErrorKind::kUnknown, err, "mount " + m.type + " " + m.source + " on " + target,
                 {.op = "mount", .path = target});
    }
    ++done;
  }
}

void UnmountAll(const std::string& target) {
  for (int i = 0; i < 16; ++i) {
    if (::umount2(target.c_str(), 0) == 0) continue;
    if (errno == EINVAL || errno == ENOENT) return;  // nothing mounted (any more)
    if (errno == EBUSY && ::umount2(target.c_str(), MNT_DETACH) == 0) continue;
    Log(LogLevel::kWarning, "unmount " + target + ": " + std::strerror(errno));
    return;
  }
}

}  // namespace libcontainerd::images
