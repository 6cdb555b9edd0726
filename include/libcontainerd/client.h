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
#include <variant>
#include <vector>

#include "libcontainerd/cio.h"
#include "libcontainerd/context.h"
#include "libcontainerd/export.h"
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

// Receives task events (docs/events.md).
//
// Ownership: the Client given it (ClientOptions::backend, a shared_ptr) keeps a reference until
// the Client is destroyed; the Client's destructor delivers what is still queued and joins the
// dispatch threads, so after it returns ProcessEvent is never called again and the caller may
// release the Backend. A Backend must outlive nothing else of the library.
//
// ProcessEvent is called from the library's dispatch threads: events of one container in order,
// different containers possibly in parallel, never while a lock of the library is held, so it may
// call back into the Client and its objects (GetStatus, Delete, Exec...). Inside ProcessEvent a
// Backend may not:
//   - destroy the Client (drop its last reference): the destructor would join the calling
//     thread (deadlock);
//   - wait for a later event of the same container: that container's events are delivered one
//     after another on this thread, so the wait never ends (other containers' events go on);
//   - assume it runs on one thread: make its own state thread-safe.
// Blocking for long delays only that container's later events. Exceptions thrown by
// ProcessEvent are logged and ignored.
class LCD_EXPORT Backend {
 public:
  virtual ~Backend() = default;
  virtual void ProcessEvent(const std::string& container_id, EventType type,
                            const EventInfo& info) = 0;
};

// Options of the runc shim (io.containerd.runc.v2), containerd's runc Options as a value.
struct LCD_EXPORT RuncOptions {
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
  bool operator==(const RuncOptions&) const = default;
};

// The options of a container's runtime (shim), stored with the container record and given to the
// shim when its task is created: runc's options, another shim's options as a typed message
// (its type URL and serialized bytes, sent exactly as given), or none. Converts implicitly from
// RuncOptions and TypedMessage, so `NewContainer(..., RuncOptions{...})` reads as before.
struct LCD_EXPORT RuntimeOptions {
  RuntimeOptions() = default;
  RuntimeOptions(RuncOptions runc) : value(std::move(runc)) {}         // NOLINT: implicit
  RuntimeOptions(TypedMessage message) : value(std::move(message)) {}  // NOLINT: implicit

  std::variant<std::monostate, RuncOptions, TypedMessage> value;

  bool empty() const noexcept { return std::holds_alternative<std::monostate>(value); }
  const RuncOptions* runc() const noexcept { return std::get_if<RuncOptions>(&value); }
  const TypedMessage* message() const noexcept { return std::get_if<TypedMessage>(&value); }
  bool operator==(const RuntimeOptions&) const = default;
};

// A container's runtime as stored with it (Container::Runtime).
struct LCD_EXPORT RuntimeInfo {
  std::string name;  // the shim, e.g. "io.containerd.runc.v2"
  // Stored options: runc's options (type URL containerd.runc.v1.Options) decoded as RuncOptions,
  // any other type as the TypedMessage stored, none as empty. Whatever another client stored
  // stays stored unchanged: the library never rewrites a container's runtime options.
  RuntimeOptions options;
};

// Extra options of Client::NewContainer.
struct LCD_EXPORT ContainerOptions {
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

class LCD_EXPORT Process {
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

// A container's task: its init process plus the task-wide operations.
// Errors common to every method (not repeated below): kUnavailable when containerd cannot be
// reached or the Client is gone, kDeadlineExceeded / kCancelled when ctx ends, kNotFound when
// the task no longer exists, kUnknown for a daemon or shim failure it gives no code for.
class LCD_EXPORT Task : public Process {
 public:
  // Starts the created task's process. Throws kFailedPrecondition when the task is already
  // started or stopped (naming the state), kNotFound when the process's binary is missing in
  // the container, kFailedPrecondition when it is not executable.
  virtual void Start(const Context& ctx) = 0;
  // Freezes every process of the task. Throws kFailedPrecondition unless it is running.
  virtual void Pause(const Context& ctx) = 0;
  // Thaws a paused task. Throws kFailedPrecondition unless it is paused.
  virtual void Resume(const Context& ctx) = 0;
  // The task's state, with its exit code and time once stopped (moby's Task.Status).
  virtual TaskStatus GetStatus(const Context& ctx) = 0;
  // The task's cgroup metrics. Throws kNotFound when the task does not exist or is not running
  // (no metrics), kUnknown when the daemon's metrics cannot be decoded (an unknown metrics type
  // or a corrupt payload: a daemon or shim this library does not understand).
  virtual Stats GetStats(const Context& ctx) = 0;
  // Every process of the task; exec processes carry their exec id, each its shim's raw info.
  virtual std::vector<ProcessInfo> Pids(const Context& ctx) = 0;
  // One entry per process of the task (moby's Task.Summary), from Pids; fails as Pids does.
  virtual std::vector<Summary> GetSummary(const Context& ctx) = 0;
  // SIGKILLs every process, waits for the exit and deletes the task. A task that is already
  // gone is not an error (no kNotFound).
  virtual void ForceDelete(const Context& ctx) = 0;
  // Runs a new process in the task: creates exec process `exec_id` with `spec` (its FIFOs opened
  // and handed to attach_stdio first; null attach_stdio: /dev/null) and STARTS it; the returned
  // Process is running (Wait, Kill, Delete it). On any failure nothing is left behind (no exec
  // process, no FIFOs). Throws kInvalidArgument for an invalid exec id or process spec, or a
  // terminal without attach_stdio; kAlreadyExists when the task has a process `exec_id`;
  // kNotFound when the binary is missing in the container (or the task is gone);
  // kFailedPrecondition when the binary is not executable.
  virtual std::shared_ptr<Process> Exec(const Context& ctx, const std::string& exec_id,
                                        const oci::Process& spec, bool with_stdin,
                                        StdioCallback attach_stdio) = 0;
  // Changes the task's cgroup limits. Throws kInvalidArgument for invalid resources.
  virtual void UpdateResources(const Context& ctx, const Resources& resources) = 0;
  // Checkpoints the task with CRIU into checkpoint_dir; exit=true stops it afterwards.
  // Throws kInvalidArgument unless checkpoint_dir is absolute; kUnknown when CRIU fails (its
  // message says why).
  virtual void CreateCheckpoint(const Context& ctx, const std::string& checkpoint_dir,
                                bool exit) = 0;
};

class LCD_EXPORT Container {
 public:
  virtual ~Container() = default;
  virtual const std::string& ID() const = 0;
  // The container's OCI spec as stored by the daemon.
  virtual oci::Spec Spec(const Context& ctx) = 0;
  // Labels stored with the container.
  virtual std::map<std::string, std::string> Labels(const Context& ctx) = 0;
  // The image the container was created from ("" when none), as recorded with it.
  virtual std::string Image(const Context& ctx) = 0;
  // The runtime (shim) name and options stored with the container, whoever created it.
  // Backends without the notion throw Error{kNotImplemented} (the default).
  virtual RuntimeInfo Runtime(const Context& ctx);
  // Creates the task (not started). checkpoint_dir non-empty restores from it (runc options
  // only: kInvalidArgument for a container with another shim's options). With a null
  // attach_stdio the process's stdio is /dev/null. Throws kNotFound when the container's shim
  // is not installed where containerd looks for it (the message names the shim and its binary;
  // the container stays as it was, nothing else is left behind).
  virtual std::shared_ptr<Task> NewTask(const Context& ctx, const std::string& checkpoint_dir,
                                        bool with_stdin, StdioCallback attach_stdio) = 0;
  // The existing task without IO. Throws kNotFound when there is none.
  virtual std::shared_ptr<Task> GetTask(const Context& ctx) = 0;
  // The existing task with its FIFOs re-opened and handed to attach_stdio.
  virtual std::shared_ptr<Task> AttachTask(const Context& ctx, StdioCallback attach_stdio) = 0;
  // Deletes the container. Throws kFailedPrecondition while it has a task.
  virtual void Delete(const Context& ctx) = 0;
};

class LCD_EXPORT Client {
 public:
  virtual ~Client() = default;
  virtual Version GetVersion(const Context& ctx) = 0;
  virtual const std::string& Namespace() const = 0;
  // Throws kNotFound for an unknown id.
  virtual std::shared_ptr<Container> LoadContainer(const Context& ctx, const std::string& id) = 0;
  // Throws kAlreadyExists for an existing id, kInvalidArgument for an invalid id or spec, or a
  // shim name containerd can never resolve (it needs at least two dot-separated parts:
  // "io.containerd.<name>.<version>" runs the binary containerd-shim-<name>-<version>).
  // shim empty means "io.containerd.runc.v2". Whether that shim is installed is known only when
  // its first task is created (NewTask), as with containerd itself.
  // runtime_options are stored with the container and given to the shim unchanged, except that
  // for runc options (RuncOptions) an empty root becomes the Client's runc root; empty options
  // for a runc shim (io.containerd.runc.*) with a Client runc root become RuncOptions{root}.
  virtual std::shared_ptr<Container> NewContainer(const Context& ctx, const std::string& id,
                                                  const oci::Spec& spec, const std::string& shim,
                                                  const RuntimeOptions& runtime_options,
                                                  const ContainerOptions& options = {}) = 0;
  // Ids of every container in the client's namespace.
  virtual std::vector<std::string> ListContainers(const Context& ctx) = 0;
  // Stats of many tasks in one call; containers without a running task are absent from the
  // result (not an error), and so are those whose metrics cannot be decoded (logged as a
  // warning; Task::GetStats reports that as kUnknown).
  virtual std::map<std::string, Stats> StatsMany(const Context& ctx,
                                                 const std::vector<std::string>& container_ids) = 0;
  // The image store of the client's namespace (images.h). Backends without one throw
  // Error{kNotImplemented}.
  virtual std::shared_ptr<images::ImageService> Images();
};

}  // namespace libcontainerd
