// The shared state of one containerd client: channel, stubs, namespace, and the one place
// that builds a call's grpc::ClientContext (namespace header, deadline, cancellation).
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "github.com/containerd/containerd/api/services/containers/v1/containers.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/content/v1/content.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/diff/v1/diff.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/events/v1/events.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/images/v1/images.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/leases/v1/leases.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/snapshots/v1/snapshots.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/version/v1/version.grpc.pb.h"
#include "libcontainerd/containerd.h"
#include "libcontainerd/context.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/types.h"

namespace libcontainerd::events {
class TaskTracker;
}

namespace libcontainerd::remote {

namespace containers_v1 = ::containerd::services::containers::v1;
namespace tasks_v1 = ::containerd::services::tasks::v1;
namespace version_v1 = ::containerd::services::version::v1;
namespace events_v1 = ::containerd::services::events::v1;
namespace content_v1 = ::containerd::services::content::v1;
namespace images_v1 = ::containerd::services::images::v1;
namespace snapshots_v1 = ::containerd::services::snapshots::v1;
namespace diff_v1 = ::containerd::services::diff::v1;
namespace leases_v1 = ::containerd::services::leases::v1;

// The seam unit tests fake: every RPC goes through these stub interfaces.
struct Stubs {
  std::unique_ptr<containers_v1::Containers::StubInterface> containers;
  std::unique_ptr<tasks_v1::Tasks::StubInterface> tasks;
  std::unique_ptr<version_v1::Version::StubInterface> version;
  std::unique_ptr<events_v1::Events::StubInterface> events;
  // The image services (may stay null in unit tests that do not use them).
  std::unique_ptr<content_v1::Content::StubInterface> content;
  std::unique_ptr<images_v1::Images::StubInterface> images;
  std::unique_ptr<snapshots_v1::Snapshots::StubInterface> snapshots;
  std::unique_ptr<diff_v1::Diff::StubInterface> diff;
  std::unique_ptr<leases_v1::Leases::StubInterface> leases;
};

class Connection {
 public:
  Connection(ClientOptions options, std::shared_ptr<grpc::Channel> channel, Stubs stubs);

  const ClientOptions& options() const { return options_; }
  const std::string& ns() const { return options_.ns; }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
  containers_v1::Containers::StubInterface& containers() { return *stubs_.containers; }
  tasks_v1::Tasks::StubInterface& tasks() { return *stubs_.tasks; }
  version_v1::Version::StubInterface& version() { return *stubs_.version; }
  events_v1::Events::StubInterface& events() { return *stubs_.events; }
  content_v1::Content::StubInterface& content() { return *stubs_.content; }
  images_v1::Images::StubInterface& images() { return *stubs_.images; }
  snapshots_v1::Snapshots::StubInterface& snapshots() { return *stubs_.snapshots; }
  diff_v1::Diff::StubInterface& diff() { return *stubs_.diff; }
  leases_v1::Leases::StubInterface& leases() { return *stubs_.leases; }

  // Directory of our FIFO sets for a container: <state_dir>/<ns>/<id>, in the namespace's
  // directory <state_dir>/<ns> (see cio::RemoveContainerStateDir for when they go).
  std::string ContainerStateDir(const std::string& container_id) const;
  std::string NamespaceStateDir() const;

  // Task instances known to this client, for event reconciliation; null without a Backend.
  events::TaskTracker* tracker() const { return tracker_.get(); }
  void set_tracker(std::shared_ptr<events::TaskTracker> t) { tracker_ = std::move(t); }

  // Where an exit learnt from a Delete goes, so the Backend hears of every exit even when the
  // event stream missed it (de-duplicated there). Cleared (and waited for) before shutdown.
  using ExitSink = std::function<void(const EventInfo&)>;
  void set_exit_sink(ExitSink sink) {
    std::lock_guard l(sink_mu_);
    exit_sink_ = std::move(sink);
  }
  void EmitExit(const EventInfo& info) {
    std::lock_guard l(sink_mu_);
    if (exit_sink_) exit_sink_(info);
  }

  // The cgroup (an OCI spec's linux.cgroupsPath) of containers this Client made or whose spec
  // it decoded, for StatsMany's direct cgroupfs reads (FetchStats). Thread-safe.
  void RememberCgroupsPath(const std::string& container_id, const std::string& cgroups_path) {
    std::lock_guard l(cgroups_mu_);
    if (cgroups_path.empty())
      cgroups_paths_.erase(container_id);
    else
      cgroups_paths_[container_id] = cgroups_path;
  }
  void ForgetCgroupsPath(const std::string& container_id) {
    std::lock_guard l(cgroups_mu_);
    cgroups_paths_.erase(container_id);
  }
  // "" when unknown.
  std::string CgroupsPath(const std::string& container_id) const {
    std::lock_guard l(cgroups_mu_);
    auto it = cgroups_paths_.find(container_id);
    return it == cgroups_paths_.end() ? std::string() : it->second;
  }
  // Marks the client closed: later calls throw Error{kUnavailable, "client closed"}.
  void Close() { closed_.store(true); }
  bool closed() const { return closed_.load(); }

 private:
  ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  Stubs stubs_;
  std::shared_ptr<events::TaskTracker> tracker_;
  std::mutex sink_mu_;
  ExitSink exit_sink_;
  std::atomic<bool> closed_{false};
  mutable std::mutex cgroups_mu_;
  std::map<std::string, std::string> cgroups_paths_;
};

// Opens the channel to the daemon named by options after validating address, namespace and
// state_dir. Unless options.lazy_connect, also checks the socket file and waits (up to
// connect_timeout) for the connection: kUnavailable naming the address when it fails.
std::shared_ptr<Connection> Connect(const ClientOptions& options);

// Containers.Get with an unknown id reported as kNotFound naming the namespace (op names the
// public operation).
containers_v1::Container GetContainerRecord(Connection& conn, const Context& ctx,
                                            const std::string& id, const char* op);

// The back-off between attempts to reach a daemon that went away: 50 ms doubling to 1 s, as
// the event stream's reconnect and Process::Wait use (WaitForDaemon).
inline constexpr std::chrono::milliseconds kReconnectBackoffFirst{50};
inline constexpr std::chrono::milliseconds kReconnectBackoffMax{1000};

// True when a call failed because the daemon could not be reached or the connection dropped
// under it (UNAVAILABLE, or CANCELLED that ctx did not cause): retry once it serves again.
bool ConnectionLost(const grpc::Status& s, const Context& ctx);

// Waits with the reconnect back-off until the daemon answers Version. Throws kCancelled when
// ctx is cancelled, kUnavailable naming the address (and `lost`, the error that started the
// wait) when ctx's deadline passes first, kUnavailable "client closed" when the Client goes.
// `op` and `ectx` name the call that waits. The first probe comes after the first back-off,
// or at once when `probe_first`. The event stream's reconnect and Process::Wait both use it.
void WaitForDaemon(Connection& conn, const Context& ctx, const char* op, const ErrorContext& ectx,
                   const std::string& lost, bool probe_first = false);

// A call's context, the one place one is built, for unary calls and streams alike (the event
// stream, its probes and sync events, Wait): namespace header, deadline from ctx, cancellation
// forwarded to gRPC (TryCancel ends a stream's Read too). Throws kCancelled /
// kDeadlineExceeded / kUnavailable ("client closed") before any I/O.
// Keeps a copy of ctx (it may be a temporary); the cancellation callback is unregistered,
// and waited for if it is running on another thread, before the grpc::ClientContext goes.
// Not thread-safe; one call (or one stream) per Rpc.
class Rpc {
 public:
  // The call is made in the Client's namespace.
  Rpc(const Connection& conn, const Context& ctx, const char* op);
  // The call is made in namespace `ns` (the library's own, for its sync events).
  Rpc(const Connection& conn, const Context& ctx, const char* op, const std::string& ns);
  Rpc(const Rpc&) = delete;
  Rpc& operator=(const Rpc&) = delete;

  grpc::ClientContext* get() { return &grpc_; }
  // Makes the call under the containerd lease `lease` (gRPC metadata "containerd-lease"), so
  // what it creates is held by the lease until the lease is deleted. An empty lease does
  // nothing. Must be called before the call is started (before get() is passed to a stub).
  void SetLease(const std::string& lease);
  // Maps a failed status to an Error with this call's op and the given ids; an unreachable
  // daemon or a dropped connection is kUnavailable naming the daemon's address. ToError gives
  // it as a value (to classify further before throwing), Fail throws it.
  Error ToError(const grpc::Status& s, ErrorContext ectx) const;
  [[noreturn]] void Fail(const grpc::Status& s, ErrorContext ectx) const {
    throw ToError(s, std::move(ectx));
  }
  void Check(const grpc::Status& s, ErrorContext ectx) const {
    if (!s.ok()) Fail(s, std::move(ectx));
  }

 private:
  grpc::ClientContext grpc_;
  Context ctx_;
  const char* op_;
  const std::string* address_;        // the Connection's (it outlives the call)
  Context::Registration cancel_reg_;  // last: destroyed first, while grpc_ is alive
};

}  // namespace libcontainerd::remote
