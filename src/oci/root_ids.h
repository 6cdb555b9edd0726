// Internal: the host ids a container's root maps to under its user namespace mappings.
#pragma once

#include <cstdint>
#include <optional>

#include "libcontainerd/oci/spec.h"

namespace libcontainerd::oci {

// The host ids container root (id 0) maps to under a spec's linux.uidMappings / gidMappings
// (unset for an empty list): the runc shim's io_uid / io_gid, so that the pipes it makes for the
// process's stdio belong to the container's root, as moby sets them. Throws kInvalidArgument
// naming the list when it has entries but none covers container id 0.
struct RootIDs {
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
};
RootIDs MappedRootIDs(const oci::Spec& spec);

}  // namespace libcontainerd::oci
