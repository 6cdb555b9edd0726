// libcontainerd: the direct (daemonless) backend. The same Client contract as
// NewContainerdClient, without containerd: the library runs the OCI runtime itself and one small
// monitor per container (lcd-monitor) stays with the container as its parent, so the container,
// its stdio and its exit status outlive the calling program. Design and protocol:
// docs/direct-backend.md.
#pragma once

#include <memory>
#include <string>

#include "libcontainerd/client.h"
#include "libcontainerd/containerd_inspect.h"
#include "libcontainerd/export.h"
#include "libcontainerd/net.h"

namespace libcontainerd {

struct LCD_EXPORT DirectClientOptions {
  // State of every container and task (records, bundles, FIFOs, monitor sockets, exit records):
  // <root>/<ns>/<id>/. Created 0700.
  std::string root = "/run/lcd/direct";
  // Namespace: containers of one namespace are what ListContainers shows (validated like an id).
  std::string ns = "default";
  // The OCI runtime binary: a path, or a name looked up in PATH. A container's
  // RuncOptions::binary_name overrides it for that container.
  std::string runtime = "runc";
  // The runtime's state root (--root); empty: <root>/runtime/<ns>. RuncOptions::root overrides.
  std::string runtime_root;
  // The lcd-monitor binary; empty: $LCD_MONITOR, else the installed
  // <libexecdir>/libcontainerd/lcd-monitor, else lcd-monitor in PATH.
  std::string monitor_path;
  // Receives events of the containers this Client created or loaded (NewTask, GetTask and
  // AttachTask subscribe to the task's monitor), and, at start, the exits monitors recorded
  // while no Client ran; may be null (then no event thread runs and no exit is marked
  // delivered, so the next Client with a Backend delivers them).
  std::shared_ptr<Backend> backend;
  // Networking (net.h), as ClientOptions::network.
  std::shared_ptr<net::Manager> network;
};

// Makes a Client of the direct backend. Throws Error{kInvalidArgument} for a bad namespace or
// root, Error{kNotFound} naming the runtime or the monitor binary when it cannot be found,
// Error{kUnknown} (with errno) when the root cannot be made, Error{kFailedPrecondition} when a
// part of it is a symlink. Needs no daemon: it only looks at <root>/<ns>.
// With a Backend, exits persisted by monitors while no Client ran (the calling program was
// gone) are delivered once, after this returns; a task whose monitor died meanwhile is finished
// (runtime kill and delete) and its exit delivered as 255 with EventInfo::error. Without one,
// that clean-up happens when the task is deleted.
// Thread-safety: the returned Client and everything it returns may be used from any thread.
LCD_EXPORT std::shared_ptr<Client> NewDirectClient(const DirectClientOptions& options);

// Records and process handles of the direct backend's namespace, for tools (lcctl's
// `container ls/info`, `task ls`, `kill -a`, `--exec-id`): the same interface as the containerd
// backend's inspector, read from the state directory and the monitors. ContainerRecord::runtime
// is the shim name stored with the container (as Container::Runtime); snapshotter is empty;
// LoadExec's process has no stdio. options.backend is ignored. Throws like NewDirectClient.
LCD_EXPORT std::unique_ptr<ContainerdInspector> NewDirectInspector(
    const DirectClientOptions& options);

}  // namespace libcontainerd
