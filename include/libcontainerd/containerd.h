// libcontainerd: the containerd backend. Connects a Client to a containerd daemon over its
// gRPC unix socket. Public API only: no gRPC or protobuf type appears here.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "libcontainerd/client.h"
#include "libcontainerd/export.h"
#include "libcontainerd/net.h"

namespace libcontainerd {

struct LCD_EXPORT ClientOptions {
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
  // How long NewClient waits for the daemon to answer (not at all when lazy_connect).
  std::chrono::milliseconds connect_timeout{5000};
  // Connect lazily, as moby's NewClient does: NewContainerdClient does not wait for the daemon
  // and succeeds whether or not it serves (it still validates address, namespace and
  // state_dir, and creates state_dir; a missing socket file is accepted, a path that is not a
  // socket is kInvalidArgument). Until the daemon serves, every call fails Error{kUnavailable}
  // naming the address. The event stream (with a Backend) subscribes when the daemon comes and
  // then reconciles as after a reconnect, so the exit of a task started meanwhile is not lost.
  // The network reconcile (`network` below) runs only when the daemon answers at creation (one
  // Version call, made when the socket file exists; its failure is logged, not thrown);
  // otherwise it is skipped (logged at debug level) and left to a later Client.
  // Default (false): NewContainerdClient fails fast when the daemon does not answer (below).
  bool lazy_connect = false;
  // Networking (net.h): needed by ContainerOptions::network. When set, NewContainerdClient
  // releases the attachments of this namespace whose containers no longer exist (Reconcile),
  // and Container::Delete detaches the container's network.
  std::shared_ptr<net::Manager> network;
};

// Connects and checks the daemon answers (Version). Throws Error{kUnavailable} naming the
// address when it does not (unless options.lazy_connect), Error{kInvalidArgument} for a bad
// namespace, address or state_dir.
// Thread-safety: the returned Client and everything it returns may be used from any thread.
LCD_EXPORT std::shared_ptr<Client> NewContainerdClient(const ClientOptions& options);

}  // namespace libcontainerd
