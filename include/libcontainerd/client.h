// libcontainerd: the contract (moby's libcontainerd/types) as abstract C++ classes.
//
// A backend (containerd over gRPC today, a daemonless one later) implements these
// interfaces; callers hold them through smart pointers and never see the backend's types.
//
// Errors: every method throws libcontainerd::Error (see errors.h, docs/error-model.md).
// Thread-safety: every object may be used from many threads at once.
// Lifetime: objects returned by a Client keep what they need alive by themselves, but using
// them after their Client was destroyed throws Error{kUnavailable} ("client closed").
#pragma once

#include <csignal>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "libcontainerd/cio.h"
#include "libcontainerd/context.h"
#include "libcontainerd/net.h"
#include "libcontainerd/stats.h"
#include "libcontainerd/types.h"

namespace libcontainerd {

namespace images {
class ImageService;
}

namespace oci {
struct Spec;
struct Process;
struct LinuxResources;
}  // namespace oci

// OCI LinuxResources: what Task::UpdateResources takes.
using Resources = oci::LinuxResources;

// Receives task events. ProcessEvent is called from the library's dispatch threads: events of
// one container in order, different containers possibly in parallel, never while a lock of the
// library is held. Exceptions thrown by ProcessEvent are logged and ignored.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual void ProcessEvent(const std::string& container_id, EventType type,
                            const EventInfo& info) = 0;
};

// Options of the runc shim (io.containerd.runc.v2), containerd's runc Options as a value.
struct RuncOptions {
  std::string binary_name;  // OCI runtime binary ("runc" when empty)
  std::string root;         // runtime state root; empty: the Client's default
  bool systemd_cgroup = false;
  bool no_pivot_root = false;
  bool no_new_keyring = false;
  std::string criu_path;        // criu binary
  std::string criu_image_path;  // restore from this checkpoint directory
  std::string criu_work_path;
  uint32_t io_uid = 0;
  uint32_t io_gid = 0;
  std::string shim_cgroup;
};

// Extra options of Client::NewContainer.
struct ContainerOptions {
  std::map<std::string, std::string> labels;
  // A container from an image: the library unpacks the image (if needed), prepares a writable
  // snapshot on its top layer in `snapshotter` under `snapshot_key`, records image, snapshotter
  // and key with the container (containerd's GC root for the snapshot), and passes the
  // snapshot's mounts as the task's root file system. The spec's root.path must then be
  // relative ("rootfs", as oci::SpecFromImage makes it). Container::Delete removes the
  // snapshot. Empty image: the spec's root.path is used as it is.
  std::string image;
  std::string snapshotter;   // empty: "overlayfs"
  std::string snapshot_key;  // empty: the container id
  // The container's network (net.h), set up by the Client's net::Manager
  // (ClientOptions::network) before the container is created: namespace, CNI, ports and DNS
  // files go into the spec the container is created with; Container::Delete undoes it. Unset:
  // the spec's own linux.namespaces decide (a network namespace made by the runtime, only lo).
  std::optional<net::NetworkRequest> network;
};

class Process {
 public:
  virtual ~Process() = default;
  // The process's id in its task: the exec id, or the container id for the init process.
  virtual const std::string& ID() const = 0;
  // The host pid (known once created; 0 before).
  virtual uint32_t Pid() const = 0;
  // Sends a signal. Throws kNotFound when the process has exited ("process already finished").
  virtual void Kill(const Context& ctx, int signal) = 0;
  // Resizes the process's terminal. Throws kInvalidArgument for 0 in either dimension.
  virtual void Resize(const Context& ctx, uint32_t width, uint32_t height) = 0;
  // Blocks until the process exits (or ctx ends) and returns its status. Does not delete.
  virtual ExitStatus Wait(const Context& ctx) = 0;
  // Deletes the stopped process and returns its exit status; closes its IO afterwards.
  // Throws kFailedPrecondition while it runs.
  virtual ExitStatus Delete(const Context& ctx) = 0;
};

class Task : public Process {
 public:
  virtual void Start(const Context& ctx) = 0;
  virtual void Pause(const Context& ctx) = 0;
  virtual void Resume(const Context& ctx) = 0;
  virtual Status GetStatus(const Context& ctx) = 0;
  virtual Stats GetStats(const Context& ctx) = 0;
  // Every process of the task; exec processes carry their exec id.
  virtual std::vector<ProcessInfo> Pids(const Context& ctx) = 0;
  // Always empty on Linux (kept for the contract).
  virtual std::vector<Summary> GetSummary(const Context& ctx) = 0;
  // SIGKILLs every process, waits for the exit and deletes the task. A task that is already
  // gone is not an error.
  virtual void ForceDelete(const Context& ctx) = 0;
  // Adds and starts nothing yet: creates exec process `exec_id` with `spec`, its FIFOs opened
  // before this returns. Call Start on the returned process... see Exec contract in docs.
  virtual std::shared_ptr<Process> Exec(const Context& ctx, const std::string& exec_id,
                                        const oci::Process& spec, bool with_stdin,
                                        StdioCallback attach_stdio) = 0;
  virtual void UpdateResources(const Context& ctx, const Resources& resources) = 0;
  // Checkpoints the task with CRIU into checkpoint_dir; exit=true stops it afterwards.
  virtual void CreateCheckpoint(const Context& ctx, const std::string& checkpoint_dir,
                                bool exit) = 0;
};

class Container {
 public:
  virtual ~Container() = default;
  virtual const std::string& ID() const = 0;
  // The container's OCI spec as stored by the daemon.
  virtual oci::Spec Spec(const Context& ctx) = 0;
  // Labels stored with the container.
  virtual std::map<std::string, std::string> Labels(const Context& ctx) = 0;
  // The image the container was created from ("" when none), as recorded with it.
  virtual std::string Image(const Context& ctx) = 0;
  // Creates the task (not started). checkpoint_dir non-empty restores from it. With a null
  // attach_stdio the process's stdio is /dev/null.
  virtual std::shared_ptr<Task> NewTask(const Context& ctx, const std::string& checkpoint_dir,
                                        bool with_stdin, StdioCallback attach_stdio) = 0;
  // The existing task without IO. Throws kNotFound when there is none.
  virtual std::shared_ptr<Task> GetTask(const Context& ctx) = 0;
  // The existing task with its FIFOs re-opened and handed to attach_stdio.
  virtual std::shared_ptr<Task> AttachTask(const Context& ctx, StdioCallback attach_stdio) = 0;
  // Deletes the container. Throws kFailedPrecondition while it has a task.
  virtual void Delete(const Context& ctx) = 0;
};

class Client {
 public:
  virtual ~Client() = default;
  virtual Version GetVersion(const Context& ctx) = 0;
  virtual const std::string& Namespace() const = 0;
  // Throws kNotFound for an unknown id.
  virtual std::shared_ptr<Container> LoadContainer(const Context& ctx, const std::string& id) = 0;
  // Throws kAlreadyExists for an existing id, kInvalidArgument for an invalid id or spec.
  // shim empty means "io.containerd.runc.v2".
  virtual std::shared_ptr<Container> NewContainer(const Context& ctx, const std::string& id,
                                                  const oci::Spec& spec, const std::string& shim,
                                                  const RuncOptions& runtime_options,
                                                  const ContainerOptions& options = {}) = 0;
  // Ids of every container in the client's namespace.
  virtual std::vector<std::string> ListContainers(const Context& ctx) = 0;
  // Stats of many tasks in one call; containers without a running task are absent from the
  // result (not an error).
  virtual std::map<std::string, Stats> StatsMany(const Context& ctx,
                                                 const std::vector<std::string>& container_ids) = 0;
  // The image store of the client's namespace (images.h). Backends without one throw
  // Error{kNotImplemented}.
  virtual std::shared_ptr<images::ImageService> Images();
};

}  // namespace libcontainerd
