// ContainerdInspector: containerd records and exec handles for tools (lcctl).
#include "libcontainerd/containerd_inspect.h"
#include "libcontainerd/errors.h"
#include "remote/connection.h"
#include "remote/convert.h"
#include "remote/process.h"

namespace libcontainerd::remote {

namespace {

ContainerRecord ToRecord(const containers_v1::Container& c) {
  ContainerRecord r;
  r.id = c.id();
  r.runtime = c.runtime().name();
  r.image = c.image();
  r.snapshotter = c.snapshotter();
  r.labels = {c.labels().begin(), c.labels().end()};
  r.created_at = FromProto(c.created_at());
  r.updated_at = FromProto(c.updated_at());
  r.spec_json = c.spec().value();
  return r;
}

ProcessRecord ToRecord(const ::containerd::v1::types::Process& p, const std::string& exec_id) {
  ProcessRecord r;
  // Tasks.List reports the container id in `id` (container_id is empty there).
  r.container_id = p.container_id().empty() ? p.id() : p.container_id();
  r.exec_id = exec_id;
  r.pid = p.pid();
  r.status = FromProtoStatus(p.status());
  r.terminal = p.terminal();
  r.exit_status = p.exit_status();
  r.exited_at = FromProto(p.exited_at());
  return r;
}

class Inspector final : public ContainerdInspector {
 public:
  explicit Inspector(std::shared_ptr<Connection> conn) : conn_(std::move(conn)) {}

  ContainerRecord GetContainer(const Context& ctx, const std::string& id) override {
    return ToRecord(GetContainerRecord(*conn_, ctx, id, "GetContainer"));
  }

  std::vector<ContainerRecord> ListContainers(const Context& ctx) override {
    Rpc rpc(*conn_, ctx, "Containers.List");
    containers_v1::ListContainersRequest req;
    containers_v1::ListContainersResponse resp;
    rpc.Check(conn_->containers().List(rpc.get(), req, &resp), {});
    std::vector<ContainerRecord> out;
    for (const auto& c : resp.containers()) out.push_back(ToRecord(c));
    return out;
  }

  std::vector<ProcessRecord> ListTasks(const Context& ctx) override {
    Rpc rpc(*conn_, ctx, "Tasks.List");
    tasks_v1::ListTasksRequest req;
    tasks_v1::ListTasksResponse resp;
    rpc.Check(conn_->tasks().List(rpc.get(), req, &resp), {});
    std::vector<ProcessRecord> out;
    for (const auto& p : resp.tasks()) out.push_back(ToRecord(p, ""));
    return out;
  }

  ProcessRecord GetProcess(const Context& ctx, const std::string& id,
                           const std::string& exec_id) override {
    ValidateIdentifier("container id", id);
    if (!exec_id.empty()) ValidateIdentifier("exec id", exec_id);
    ErrorContext ectx{.op = "GetProcess", .container_id = id, .exec_id = exec_id};
    Rpc rpc(*conn_, ctx, "Tasks.Get");
    tasks_v1::GetRequest req;
    req.set_container_id(id);
    req.set_exec_id(exec_id);
    tasks_v1::GetResponse resp;
    grpc::Status s = conn_->tasks().Get(rpc.get(), req, &resp);
    if (s.error_code() == grpc::StatusCode::NOT_FOUND)
      throw Error(ErrorKind::kNotFound,
                  exec_id.empty() ? "container has no task" : "exec process not found", ectx);
    rpc.Check(s, ectx);
    return ToRecord(resp.process(), exec_id);
  }

  void Kill(const Context& ctx, const std::string& id, const std::string& exec_id, int signal,
            bool all) override {
    ValidateIdentifier("container id", id);
    if (!exec_id.empty()) ValidateIdentifier("exec id", exec_id);
    auto core = std::make_shared<ProcessCore>(conn_, id, exec_id, 0);
    core->Kill(ctx, signal, all);
  }

  std::shared_ptr<Process> LoadExec(const Context& ctx, const std::string& id,
                                    const std::string& exec_id) override {
    if (exec_id.empty())
      throw Error(ErrorKind::kInvalidArgument, "exec id is empty",
                  {.op = "LoadExec", .container_id = id});
    ProcessRecord r = GetProcess(ctx, id, exec_id);
    auto core = std::make_shared<ProcessCore>(conn_, id, exec_id, r.pid);
    if (r.status != Status::kCreated) core->MarkStarted();
    return std::make_shared<RemoteExec>(std::move(core));
  }

 private:
  std::shared_ptr<Connection> conn_;
};

}  // namespace
}  // namespace libcontainerd::remote

namespace libcontainerd {

std::unique_ptr<ContainerdInspector> NewContainerdInspector(const ClientOptions& options) {
  auto conn = remote::Connect(options);
  auto insp = std::make_unique<remote::Inspector>(conn);
  insp->ListTasks(Context::WithTimeout(options.connect_timeout));  // the daemon answers
  return insp;
}

}  // namespace libcontainerd
