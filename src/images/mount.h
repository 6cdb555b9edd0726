// Internal: mounting the mounts a snapshotter returns (overlay, bind) into a directory.
#pragma once

#include <string>
#include <vector>

#include "images/snapshots.h"

namespace libcontainerd::images {

// Mounts each of mounts onto target in order (options as mount(8) takes them: ro, rbind,
// bind, nosuid, nodev, noexec; the rest is passed as data). Throws Error{kUnknown} with errno,
// naming the mount, after undoing what it mounted.
void MountAll(const std::vector<MountInfo>& mounts, const std::string& target);
// Unmounts target (lazily when busy); errors are logged.
void UnmountAll(const std::string& target);

}  // namespace libcontainerd::images
