// The containerd backend's Client: start-up (NewContainerdClient, the lazy Client, state
// directory reconcile), containers, batched stats. Connect is in connection.cc.
#include <sys/stat.h>

#include <filesystem>
#include <mutex>
#include <set>

#include "cio/fifo.h"
#include "common/scope_guard.h"
#include "events/tracker.h"
#include "images/content.h"
#include "images/service.h"
#include "images/snapshots.h"
#include "libcontainerd/containerd.h"
#include "libcontainerd/log.h"
#include "libcontainerd/oci/spec.h"
#include "remote/connection.h"
#include "remote/container.h"
#include "remote/convert.h"
#include "remote/event_hub.h"
#include "remote/network.h"
#include "remote/process.h"

namespace libcontainerd::remote {
namespace {

class ClientImpl final : public Client {
 public:
  explicit ClientImpl(std::shared_ptr<Connection> conn) : conn_(std::move(conn)) {}
  ~ClientImpl() override {
    conn_->set_exit_sink(nullptr);  // waits for a Delete reporting an exit right now
    hub_.reset();                   // cancels the event stream, joins reader and dispatchers
    conn_->Close();
  }

  // connected: the daemon answered just now (else a lazy Client subscribes when it comes).
  void StartEvents(std::shared_ptr<Backend> backend, std::chrono::milliseconds timeout,
                   bool connected) {
    auto tracker = std::make_shared<events::TaskTracker>();
    conn_->set_tracker(tracker);
    hub_ = std::make_unique<EventHub>(conn_, std::move(backend), std::move(tracker));
    hub_->Start(timeout, connected);
    conn_->set_exit_sink([hub = hub_.get()](const EventInfo& info) { hub->OnDeletedExit(info); });
  }

  const std::string& Namespace() const override { return conn_->ns(); }

  Version GetVersion(const Context& ctx) override {
    Rpc rpc(*conn_, ctx, "Version");
    google::protobuf::Empty req;
    version_v1::VersionResponse resp;
    rpc.Check(conn_->version().Version(rpc.get(), req, &resp), {});
    return {resp.version(), resp.revision()};
  }

  std::shared_ptr<Container> LoadContainer(const Context& ctx, const std::string& id) override {
    auto record = GetContainerRecord(*conn_, ctx, id, "LoadContainer");
    if (auto* t = conn_->tracker()) t->TrackContainer(id);
    return std::make_shared<RemoteContainer>(conn_, record);
  }

  std::shared_ptr<Container> NewContainer(const Context& ctx, const std::string& id,
                                          const oci::Spec& spec, const std::string& shim,
                                          const RuntimeOptions& runtime_options,
                                          const ContainerOptions& options) override {
    ErrorContext ectx{.op = "NewContainer", .container_id = id};
    ValidateIdentifier("container id", id);
    try {
      oci::Validate(spec);
      oci::MappedRootIDs(spec);  // container root must map to a host id (the shim's IO owner)
    } catch (const Error& e) {
      throw Error(ErrorKind::kInvalidArgument, "invalid spec: " + e.message(), ectx);
    }
    // The network first (it edits the spec the container is created with); undone by
    // net_setup's destructor unless the container comes to exist.
    std::optional<oci::Spec> net_spec;
    std::optional<NetworkSetup> net_setup;
    if (options.network) {
      net_spec = spec;
      net_setup.emplace(conn_, ctx, id, *options.network, *net_spec);
    }
    const oci::Spec& final_spec = net_spec ? *net_spec : spec;
    const std::string runtime = shim.empty() ? kDefaultRuntime : shim;
    ValidateShimName(runtime, ectx);
    const auto stored = EncodeRuntimeOptions(runtime_options, runtime, conn_->options().runc_root);
    containers_v1::CreateContainerRequest req;
    auto* c = req.mutable_container();
    c->set_id(id);
    for (const auto& [k, v] : options.labels) (*c->mutable_labels())[k] = v;
    c->mutable_runtime()->set_name(runtime);
    if (stored) {
      c->mutable_runtime()->mutable_options()->set_type_url(stored->type_url);
      c->mutable_runtime()->mutable_options()->set_value(stored->value);
    }
    SetAny(c->mutable_spec(), kSpecTypeURL, oci::EncodeSpec(final_spec));
    // A container from an image: its writable snapshot, prepared under a lease until the
    // record (the snapshot's GC root from then on) exists.
    std::optional<images::Lease> lease;
    std::optional<images::Snapshots> snaps;
    if (!options.image.empty()) {
      if (spec.root && !spec.root->path.empty() && spec.root->path[0] == '/')
        throw Error(ErrorKind::kInvalidArgument,
                    "a container from an image needs a relative root.path (\"rootfs\", as "
                    "oci::SpecFromImage "
                    "makes it); " +
                        spec.root->path + " would hide the image",
                    ectx);
      const std::string key = options.snapshot_key.empty() ? id : options.snapshot_key;
      lease.emplace(conn_, ctx, std::chrono::hours(1));
      snaps.emplace(conn_, options.snapshotter, lease->id());
      const images::UnpackedImage image =
          images::UnpackImage(conn_, ctx, options.image, snaps->snapshotter(), lease->id());
      try {
        snaps->Prepare(ctx, key, image.top);
      } catch (const Error& e) {
        if (e.kind() == ErrorKind::kAlreadyExists)
          throw Error(ErrorKind::kAlreadyExists,
                      "snapshot " + key + " exists already in " + snaps->snapshotter() +
                          ": choose another snapshot key",
                      ectx);
        throw;
      }
      c->set_image(image.name);
      c->set_snapshotter(snaps->snapshotter());
      c->set_snapshot_key(key);
    }
    // Until the record exists, a failure removes the snapshot (the network is undone by
    // net_setup, the lease by its destructor).
    ScopeGuard undo_snapshot([&] {
      if (!snaps) return;
      try {
        snaps->Remove(ctx, c->snapshot_key());
      } catch (const std::exception& e) {
        Log(LogLevel::kWarning, "NewContainer " + id + ": snapshot left to the GC: " + e.what());
      }
    });
    Rpc rpc(*conn_, ctx, "Containers.Create");
    containers_v1::CreateContainerResponse resp;
    grpc::Status s = conn_->containers().Create(rpc.get(), req, &resp);
    if (s.error_code() == grpc::StatusCode::ALREADY_EXISTS)
      throw Error(ErrorKind::kAlreadyExists,
                  "a container with this id exists in namespace " + conn_->ns(), ectx);
    rpc.Check(s, ectx);
    undo_snapshot.Dismiss();
    if (net_setup) net_setup->Commit();
    if (lease) lease->Release(ctx);
    if (auto* t = conn_->tracker()) t->TrackContainer(id);
    return std::make_shared<RemoteContainer>(conn_, resp.container(), SpecFacts::Of(final_spec));
  }

  std::vector<std::string> ListContainers(const Context& ctx) override {
    Rpc rpc(*conn_, ctx, "Containers.List");
    containers_v1::ListContainersRequest req;
    containers_v1::ListContainersResponse resp;
    rpc.Check(conn_->containers().List(rpc.get(), req, &resp), {});
    std::vector<std::string> ids;
    for (const auto& c : resp.containers()) ids.push_back(c.id());
    return ids;
  }

  std::map<std::string, Stats> StatsMany(const Context& ctx,
                                         const std::vector<std::string>& ids) override {
    return FetchStats(*conn_, ctx, ids);
  }

  std::shared_ptr<images::ImageService> Images() override {
    std::call_once(images_once_, [this] { images_ = images::NewImageService(conn_); });
    return images_;
  }

 private:
  std::shared_ptr<Connection> conn_;
  std::unique_ptr<EventHub> hub_;
  std::once_flag images_once_;
  std::shared_ptr<images::ImageService> images_;
};

// How long a container directory of an absent container is left alone after its last change:
// another Client in the namespace may be making that container right now (its record, then its
// FIFOs). The net Manager's rule for its records (src/net/manager.cc, kSettle), same 60 s.
constexpr std::chrono::seconds kStateDirSettle{60};

// At Client start: the state directories of containers deleted behind the library's back (by
// ctr, another Client with another state_dir, a crashed run) go, and the namespace's directory
// with the last. One Containers.List, only when the namespace has directories. Never fails
// the Client: a failure is logged and the next Client's start retries.
void ReconcileStateDirs(Connection& conn, const Context& ctx) noexcept {
  const std::string ns_dir = conn.NamespaceStateDir();
  try {
    std::error_code ec;
    if (!std::filesystem::is_directory(std::filesystem::symlink_status(ns_dir, ec))) return;
    std::set<std::string> existing;
    if (!std::filesystem::is_empty(ns_dir, ec) && !ec) {
      Rpc rpc(conn, ctx, "Containers.List");
      containers_v1::ListContainersRequest req;
      containers_v1::ListContainersResponse resp;
      rpc.Check(conn.containers().List(rpc.get(), req, &resp), {});
      for (const auto& c : resp.containers()) existing.insert(c.id());
    }
    for (const auto& id : cio::ReconcileStateDir(ns_dir, existing, kStateDirSettle))
      Log(LogLevel::kInfo, "state directory of container " + id + " in namespace " + conn.ns() +
                               " removed: the container no longer exists");
  } catch (const std::exception& e) {
    Log(LogLevel::kWarning, "state directory " + ns_dir +
                                " not reconciled at Client start (a later Client's start "
                                "retries): " +
                                e.what());
  }
}
}  // namespace

std::shared_ptr<Client> MakeClient(std::shared_ptr<Connection> conn,
                                   std::shared_ptr<Backend> backend,
                                   std::chrono::milliseconds timeout, bool connected = true) {
  auto client = std::make_shared<ClientImpl>(std::move(conn));
  if (backend) client->StartEvents(std::move(backend), timeout, connected);
  return client;
}

// ClientOptions::lazy_connect: never fails for want of a daemon. When the socket file exists,
// one Version call tells whether the daemon serves now; only then are the networks reconciled
// (later, a NewContainer racing with the reconcile could lose its fresh attachment).
std::shared_ptr<Client> MakeLazyClient(std::shared_ptr<Connection> conn) {
  const ClientOptions& o = conn->options();
  cio::MakePrivateDirs(o.state_dir);
  bool serves = false;
  struct stat st {};
  if (::stat(o.address.c_str(), &st) == 0) {
    try {
      Rpc rpc(*conn, Context::WithTimeout(o.connect_timeout), "Version");
      google::protobuf::Empty req;
      version_v1::VersionResponse resp;
      serves = conn->version().Version(rpc.get(), req, &resp).ok();
    } catch (const Error&) {
    }
  }
  if (serves) {
    ReconcileStateDirs(*conn, Context::WithTimeout(o.connect_timeout));
    try {
      ReconcileNetworks(*conn, Context::WithTimeout(o.connect_timeout));
    } catch (const std::exception& e) {
      Log(LogLevel::kWarning,
          "network reconcile of namespace " + o.ns +
              " at Client start failed (a later Client's start retries): " + e.what());
    }
  } else {
    if (o.network)
      Log(LogLevel::kDebug, "containerd at " + o.address + " not serving: network reconcile of " +
                                "namespace " + o.ns + " skipped (a later Client's start does it)");
    Log(LogLevel::kInfo,
        "containerd at " + o.address + " not serving yet: calls fail unavailable until it does");
  }
  return MakeClient(conn, o.backend, o.connect_timeout, serves);
}

}  // namespace libcontainerd::remote

namespace libcontainerd {

std::shared_ptr<Client> NewContainerdClient(const ClientOptions& options) {
  auto conn = remote::Connect(options);
  if (options.lazy_connect) return remote::MakeLazyClient(std::move(conn));
  {
    // One round trip proves the daemon answers (not just accepts).
    remote::Rpc rpc(*conn, Context::WithTimeout(options.connect_timeout), "Version");
    google::protobuf::Empty req;
    remote::version_v1::VersionResponse resp;
    rpc.Check(conn->version().Version(rpc.get(), req, &resp), {.path = conn->options().address});
  }
  cio::MakePrivateDirs(options.state_dir);
  remote::ReconcileStateDirs(*conn, Context::WithTimeout(options.connect_timeout));
  remote::ReconcileNetworks(*conn, Context::WithTimeout(options.connect_timeout));
  return remote::MakeClient(conn, options.backend, options.connect_timeout);
}

}  // namespace libcontainerd
