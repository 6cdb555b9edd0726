// libcontainerd: the containerd backend. Connects a Client to a containerd daemon over its
// gRPC unix socket. Public API only: no gRPC or protobuf type appears here.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "libcontainerd/client.h"
#include "libcontainerd/net.h"

namespace libcontainerd {

struct ClientOptions {
  // Daemon socket path ("/run/containerd/containerd.sock") or "unix:PATH".
  std::string address = "/run/containerd/containerd.sock";
  // containerd namespace of every call (validated like an id).
  std::string ns = "default";
  // Private state directory of this client (FIFO sets, bundles); created 0700.
  std::string state_dir = "/run/libcontainerd";
  // Runc state root given to the shim when RuncOptions::root is empty; empty leaves the
  // daemon's default (/run/containerd/runc/<ns>).
  std::string runc_root;
  // Receives events; may be null (no events are delivered then).
  std::shared_ptr<Backend> backend;
  // How long NewClient waits for the daemon to answer.
  std::chrono::milliseconds connect_timeout{5000};
  // Networking (net.h): needed by ContainerOptions::network. When set, NewContainerdClient
  // releases the attachments of this namespace whose containers no longer exist (Reconcile),
  // and Container::Delete detaches the container's network.
  std::shared_ptr<net::Manager> network;
};

// Connects and checks the daemon answers (Version). Throws Error{kUnavailable} naming the
// address when it does not, Error{kInvalidArgument} for a bad namespace or address.
// Thread-safety: the returned Client and everything it returns may be used from any thread.
std::shared_ptr<Client> NewContainerdClient(const ClientOptions& options);

}  // namespace libcontainerd
