// The containerd backend's side of networking: net::Manager around Containers.Create/Delete.
#include "remote/network.h"

#include <chrono>
#include <set>

#include "libcontainerd/log.h"
#include "libcontainerd/oci/spec.h"
#include "remote/connection.h"

namespace libcontainerd::remote {
namespace {

// Roll-back and clean-up run under their own deadline: the caller's Context may be the reason
// they run (cancelled, expired).
Context CleanupContext() { return Context::WithTimeout(std::chrono::seconds(30)); }

bool Ended(const Context& ctx) {
  return ctx.cancelled() || (ctx.deadline() && *ctx.deadline() <= Context::Clock::now());
}

// The namespace file of another container's running task, for --net container:ID when that
// container's namespace was made by the runtime rather than by the Manager.
std::string TaskNetnsPath(Connection& conn, const Context& ctx, const std::string& other) {
  GetContainerRecord(conn, ctx, other, "NewContainer");  // kNotFound naming the namespace
  Rpc rpc(conn, ctx, "Tasks.Get");
  tasks_v1::GetRequest req;
  req.set_container_id(other);
  tasks_v1::GetResponse resp;
  grpc::Status s = conn.tasks().Get(rpc.get(), req, &resp);
  if (s.error_code() == grpc::StatusCode::NOT_FOUND || (s.ok() && resp.process().pid() == 0))
    throw Error(ErrorKind::kFailedPrecondition,
                "container " + other +
                    " has no running task, so it has no network namespace to join: start it "
                    "first",
                {.op = "NewContainer", .container_id = other});
  rpc.Check(s, {.container_id = other});
  return "/proc/" + std::to_string(resp.process().pid()) + "/ns/net";
}

}  // namespace

NetworkSetup::NetworkSetup(std::shared_ptr<Connection> conn, const Context& ctx,
                           const std::string& id, net::NetworkRequest request, oci::Spec& spec) {
  auto manager = conn->options().network;
  if (!manager)
    throw Error(ErrorKind::kInvalidArgument,
                "ContainerOptions::network needs a net::Manager in ClientOptions::network",
                {.op = "NewContainer", .container_id = id});
  if (request.mode == net::Mode::kContainer) {
    if (request.container.empty())
      throw Error(ErrorKind::kInvalidArgument,
                  "network mode container:ID needs the id of the container to join",
                  {.op = "NewContainer", .container_id = id});
    if (request.container == id)
      throw Error(ErrorKind::kInvalidArgument, "a container cannot join its own network",
                  {.op = "NewContainer", .container_id = id});
    if (!manager->Inspect(conn->ns(), request.container) && request.container_netns_path.empty())
      request.container_netns_path = TaskNetnsPath(*conn, ctx, request.container);
  }
  manager->Attach(ctx, conn->ns(), id, request, spec);
  manager_ = std::move(manager);
  ns_ = conn->ns();
  id_ = id;
}

NetworkSetup::~NetworkSetup() {
  if (!manager_) return;
  try {
    manager_->Detach(CleanupContext(), ns_, id_);
  } catch (const std::exception& e) {
    Log(LogLevel::kWarning, "NewContainer " + id_ +
                                ": network not released (the next Client's "
                                "reconcile will): " +
                                e.what());
  }
}

void DetachNetwork(Connection& conn, const Context& ctx, const std::string& id) {
  const auto& manager = conn.options().network;
  if (!manager) return;
  try {
    manager->Detach(Ended(ctx) ? CleanupContext() : ctx, conn.ns(), id);
  } catch (const std::exception& e) {
    Log(LogLevel::kWarning, "container " + id +
                                ": network not released (the next Client's "
                                "reconcile will): " +
                                e.what());
  }
}

void ReconcileNetworks(Connection& conn, const Context& ctx) {
  const auto& manager = conn.options().network;
  if (!manager || manager->List(conn.ns()).empty()) return;  // nothing to release: no RPC
  Rpc rpc(conn, ctx, "Containers.List");
  containers_v1::ListContainersRequest req;
  containers_v1::ListContainersResponse resp;
  rpc.Check(conn.containers().List(rpc.get(), req, &resp), {});
  std::set<std::string> existing;
  for (const auto& c : resp.containers()) existing.insert(c.id());
  for (const auto& id : manager->Reconcile(ctx, conn.ns(), existing))
    Log(LogLevel::kInfo, "network of container " + id + " in namespace " + conn.ns() +
                             " released: the container no longer exists");
}

}  // namespace libcontainerd::remote
