// libcontainerd: builds the minimal busybox root file system used by demos, tests and
// benchmarks (Debian's busybox-static: a static binary, so nothing else is needed).
// Thread-safety: two builders of the same directory at once are safe (the last one wins
// atomically through a rename); different directories are independent.
#pragma once

#include <string>

namespace libcontainerd {

struct RootfsOptions {
  std::string busybox = "/bin/busybox";  // a static busybox binary
};

// Makes `dir` a rootfs: bin/busybox with every applet linked in bin/, /proc /sys /dev /tmp
// /root /etc with passwd (root 0, nobody 65534), group and hosts. Does nothing when `dir`
// already holds a complete rootfs built from the same busybox. Throws Error{kNotFound} when
// busybox is missing (saying to install busybox-static), Error{kInvalidArgument} for a
// relative dir, Error{kUnknown} with errno on I/O failure; leaves no partial dir behind.
void BuildBusyboxRootfs(const std::string& dir, const RootfsOptions& options = {});

// Where lcctl and the examples look for the default rootfs.
inline constexpr const char* kDefaultRootfs = "/var/lib/libcontainerd/rootfs/busybox";

}  // namespace libcontainerd
