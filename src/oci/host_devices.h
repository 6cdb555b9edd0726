// Internal: the host's device nodes, for privileged containers (containerd's HostDevices).
#pragma once

#include <string>
#include <vector>

#include "libcontainerd/oci/spec.h"

namespace libcontainerd::oci::detail {

// Every character and block device under `dir` (recursively), skipping pts, shm, fd, mqueue,
// .lxc, .lxd-mounts, .udev, console, symlinks and FIFOs. Unreadable directories and nodes that
// vanish while scanning are skipped. Order is sorted by path (deterministic specs).
std::vector<LinuxDevice> HostDevices(const std::string& dir = "/dev");

}  // namespace libcontainerd::oci::detail
