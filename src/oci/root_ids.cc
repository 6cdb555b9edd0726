#include "oci/root_ids.h"

#include <string>
#include <vector>

#include "libcontainerd/errors.h"

namespace libcontainerd::oci {
namespace {

std::optional<uint32_t> HostIDOfRoot(const std::vector<oci::LinuxIDMapping>& mappings,
                                     const char* field) {
  if (mappings.empty()) return std::nullopt;
  for (const auto& m : mappings)
    if (m.container_id == 0 && m.size > 0) return m.host_id;
  throw Error(ErrorKind::kInvalidArgument,
              std::string("linux.") + field +
                  " maps no host id to container id 0 (container root): add an entry with "
                  "containerID 0 and a size of at least 1");
}

}  // namespace

RootIDs MappedRootIDs(const oci::Spec& spec) {
  if (!spec.linux) return {};
  return {HostIDOfRoot(spec.linux->uid_mappings, "uidMappings"),
          HostIDOfRoot(spec.linux->gid_mappings, "gidMappings")};
}

}  // namespace libcontainerd::oci
