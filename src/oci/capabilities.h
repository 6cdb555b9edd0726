// Internal: Linux capability names.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace libcontainerd::oci::detail {

// True for a name the kernel knows ("CAP_SYS_ADMIN"); runc 1.1 refuses unknown names.
bool IsKnownCapability(std::string_view name);

// Names of the capabilities in this process's effective set (from /proc/self/status), as
// containerd's WithAllCurrentCapabilities. Empty when /proc is not readable.
std::vector<std::string> CurrentCapabilities();

}  // namespace libcontainerd::oci::detail
