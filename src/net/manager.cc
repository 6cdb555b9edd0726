// net::Manager over CNI (src/net/cni.h), persistent namespaces (netns.h), the DNS files
// (dns_files.h) and subnets (subnet.h). Being written (issue 16).
#include "libcontainerd/errors.h"
#include "libcontainerd/net.h"

namespace libcontainerd::net {

std::shared_ptr<Manager> NewManager(const ManagerOptions&) {
  throw Error(ErrorKind::kNotImplemented, "net::NewManager: being written (issue 16)");
}

}  // namespace libcontainerd::net
