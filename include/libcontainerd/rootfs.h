// libcontainerd: builds the minimal busybox root file system used by demos, tests and
// benchmarks (Debian's busybox-static: a static binary, so nothing else is needed).
// Thread-safety: two builders of the same directory at once are safe (the last one wins
// atomically through a rename); different directories are independent.
#pragma once

#include <ostream>
#include <string>

#include "libcontainerd/export.h"

namespace libcontainerd {

struct LCD_EXPORT RootfsOptions {
  std::string busybox = "/bin/busybox";  // a static busybox binary
};

// Makes `dir` a rootfs: bin/busybox with every applet linked in bin/, /proc /sys /dev /tmp
// /root /etc with passwd (root 0, nobody 65534), group and hosts. Does nothing when `dir`
// already holds a complete rootfs built from the same busybox. Throws Error{kNotFound} when
// busybox is missing (saying to install busybox-static), Error{kInvalidArgument} for a
// relative dir, Error{kUnknown} with errno on I/O failure; leaves no partial dir behind.
LCD_EXPORT void BuildBusyboxRootfs(const std::string& dir, const RootfsOptions& options = {});

// The built-in busybox image's name (lcctl's default image, the demo's).
inline constexpr const char* kBusyboxImage = "localhost/libcontainerd/busybox:latest";

// Writes an OCI image layout archive (ImageService::Import reads it) of one image named `name`:
// a single uncompressed layer with the tree BuildBusyboxRootfs makes, config Cmd ["sh"], Env
// PATH, for this machine's platform. Reproducible: the same busybox gives the same digests
// (fixed owners and times, sorted entries). Throws as BuildBusyboxRootfs.
LCD_EXPORT void WriteBusyboxImage(std::ostream& out, const std::string& name = kBusyboxImage,
                                  const RootfsOptions& options = {});

// Where lcctl and the examples look for the default rootfs.
inline constexpr const char* kDefaultRootfs = "/var/lib/libcontainerd/rootfs/busybox";

}  // namespace libcontainerd
