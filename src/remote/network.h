// Internal: the containerd backend's use of net::Manager (ClientOptions::network): a container's
// network is attached before Containers.Create, detached after Containers.Delete, and the
// attachments of containers that no longer exist are released when a Client starts.
#pragma once

#include <memory>
#include <string>

#include "libcontainerd/context.h"
#include "libcontainerd/net.h"

namespace libcontainerd::oci {
struct Spec;
}

namespace libcontainerd::remote {

class Connection;

// The network of a container being created: attached by the constructor (which edits `spec`),
// detached again by the destructor unless Commit() was called once the container exists.
class NetworkSetup {
 public:
  // Nothing to set up.
  NetworkSetup() = default;
  // Throws kInvalidArgument when the Client has no net::Manager; whatever Manager::Attach
  // throws; for kContainer, kNotFound / kFailedPrecondition when the other container does not
  // exist or has no running task (and no attachment of its own).
  NetworkSetup(std::shared_ptr<Connection> conn, const Context& ctx, const std::string& id,
               net::NetworkRequest request, oci::Spec& spec);
  NetworkSetup(const NetworkSetup&) = delete;
  NetworkSetup& operator=(const NetworkSetup&) = delete;
  ~NetworkSetup();

  void Commit() { manager_.reset(); }

 private:
  std::shared_ptr<net::Manager> manager_;  // set while there is something to undo
  std::string ns_;
  std::string id_;
};

// After Containers.Delete: detaches the container's network when the Client has a Manager.
// Failures are logged (the next Client's reconcile releases what is left), not thrown.
void DetachNetwork(Connection& conn, const Context& ctx, const std::string& id);

// At Client start: releases the attachments of the Client's namespace whose containers no
// longer exist. A no-op without a Manager.
void ReconcileNetworks(Connection& conn, const Context& ctx);

}  // namespace libcontainerd::remote
