// Decodes containerd's cgroup metrics payloads into the public value types.
#include "libcontainerd/errors.h"
#include "libcontainerd/stats.h"

namespace libcontainerd {
Stats InterfaceToStats(SystemTime, std::string_view type_url, std::string_view) {
  throw Error(ErrorKind::kNotImplemented, "metrics decoding for " + std::string(type_url) + " is not built yet");
}
}  // namespace libcontainerd
