// The direct backend's inspector (direct.h NewDirectInspector): records from the state
// directory, processes from their monitors, for tools such as lcctl (`container ls/info`,
// `task ls`, `kill -a`, `--exec-id`). A Client of the same options answers what the contract
// has (tasks, their status); the rest goes to the monitors' `state`, `kill` and exec ops.
#include <sys/stat.h>

#include <string>
#include <vector>

#include "direct/monitor_client.h"
#include "direct/process.h"
#include "direct/records.h"
#include "libcontainerd/direct.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/oci/spec.h"

namespace libcontainerd {
namespace direct {
namespace {

std::string TrimmedRoot(std::string root) {
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  return root;
}

bool HasTask(const Layout& layout, const std::string& id) {
  struct stat st {};
  return ::stat(layout.TaskDir(id).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// An exec of a task, addressed through its monitor only (no stdio: that stays with the handle
// that made it).
class InspectedExec final : public Process {
 public:
  InspectedExec(std::string task_dir, std::string container_id, std::string exec_id, uint32_t pid)
      : task_dir_(std::move(task_dir)),
        container_id_(std::move(container_id)),
        exec_id_(std::move(exec_id)),
        pid_(pid) {}
  const std::string& ID() const override { return exec_id_; }
  uint32_t Pid() const override { return pid_; }
  void Kill(const Context& ctx, int signal) override {
    Ask(ctx, "Kill", {{"op", "kill"}, {"signal", signal}, {"all", false}});
  }
  void Resize(const Context& ctx, uint32_t width, uint32_t height) override {
    if (width == 0 || height == 0)
      throw Error(ErrorKind::kInvalidArgument, "terminal size must not be 0", Ectx("Resize"));
    Ask(ctx, "Resize", {{"op", "resize"}, {"width", width}, {"height", height}});
  }
  ExitStatus Wait(const Context& ctx) override {
    auto r = Ask(ctx, "Wait", {{"op", "wait"}});
    return {r.value("exit_status", 255u), FromUnixNanos(r.value("exited_at", int64_t{0}))};
  }
  ExitStatus Delete(const Context& ctx) override {
    auto r = Ask(ctx, "Delete", {{"op", "delete"}});
    return {r.value("exit_status", 255u), FromUnixNanos(r.value("exited_at", int64_t{0}))};
  }

 private:
  ErrorContext Ectx(const char* op) const {
    return {.op = op, .container_id = container_id_, .exec_id = exec_id_};
  }
  nlohmann::json Ask(const Context& ctx, const char* op, nlohmann::json req) {
    req["exec"] = exec_id_;
    return Call(task_dir_, ctx, req, Ectx(op));
  }

  std::string task_dir_, container_id_, exec_id_;
  uint32_t pid_;
};

class DirectInspector final : public ContainerdInspector {
 public:
  DirectInspector(std::shared_ptr<Client> client, Layout layout)
      : client_(std::move(client)), layout_(std::move(layout)) {}

  libcontainerd::ContainerRecord GetContainer(const Context& ctx, const std::string& id) override {
    ValidateIdentifier("container id", id);
    auto rec = LoadRecord(layout_, id);
    if (!rec)
      throw Error(ErrorKind::kNotFound, "container not found",
                  {.op = "GetContainer", .container_id = id});
    libcontainerd::ContainerRecord r;
    r.id = rec->id;
    r.runtime = rec->shim;
    r.image = rec->image;
    r.labels = rec->labels;
    r.created_at = FromUnixNanos(rec->created_ns);
    r.updated_at = r.created_at;
    r.spec_json = oci::EncodeSpec(client_->LoadContainer(ctx, id)->Spec(ctx));
    return r;
  }

  std::vector<libcontainerd::ContainerRecord> ListContainers(const Context& ctx) override {
    std::vector<libcontainerd::ContainerRecord> out;
    for (const auto& id : ListContainerIds(layout_)) {
      try {
        out.push_back(GetContainer(ctx, id));
      } catch (const Error& e) {
        if (!IsNotFound(e)) throw;  // deleted meanwhile
      }
    }
    return out;
  }

  std::vector<ProcessRecord> ListTasks(const Context& ctx) override {
    std::vector<ProcessRecord> out;
    for (const auto& id : ListContainerIds(layout_)) {
      if (!HasTask(layout_, id)) continue;
      try {
        out.push_back(GetProcess(ctx, id, ""));
      } catch (const Error& e) {
        if (!IsNotFound(e)) throw;  // deleted meanwhile
      }
    }
    return out;
  }

  ProcessRecord GetProcess(const Context& ctx, const std::string& id,
                           const std::string& exec_id) override {
    ValidateIdentifier("container id", id);
    ErrorContext ectx{.op = "GetProcess", .container_id = id, .exec_id = exec_id};
    if (!HasTask(layout_, id)) throw Error(ErrorKind::kNotFound, "container has no task", ectx);
    ProcessRecord p;
    p.container_id = id;
    p.exec_id = exec_id;
    if (exec_id.empty()) {
      // The contract's own view (the monitor's state, or the exit record without a monitor).
      auto task = client_->LoadContainer(ctx, id)->GetTask(ctx);
      TaskStatus st = task->GetStatus(ctx);
      p.pid = task->Pid();
      p.status = st.status;
      p.exit_status = st.exit_code;
      p.exited_at = st.exited_at;
      auto spec = client_->LoadContainer(ctx, id)->Spec(ctx);
      p.terminal = spec.process && spec.process->terminal;
      return p;
    }
    auto r = Call(layout_.TaskDir(id), ctx, {{"op", "state"}}, ectx);
    for (const auto& e : r.value("execs", nlohmann::json::array())) {
      if (e.value("id", "") != exec_id) continue;
      p.pid = e.value("pid", 0u);
      p.status = ParseStatus(e.value("status", ""));
      p.exit_status = e.value("exit_status", 0u);
      p.exited_at = FromUnixNanos(e.value("exited_at", int64_t{0}));
      return p;
    }
    throw Error(ErrorKind::kNotFound, "the task has no process " + exec_id, ectx);
  }

  void Kill(const Context& ctx, const std::string& id, const std::string& exec_id, int signal,
            bool all) override {
    ValidateIdentifier("container id", id);
    ErrorContext ectx{.op = "Kill", .container_id = id, .exec_id = exec_id};
    if (!HasTask(layout_, id)) throw Error(ErrorKind::kNotFound, "container has no task", ectx);
    Call(layout_.TaskDir(id), ctx,
         {{"op", "kill"}, {"exec", exec_id}, {"signal", signal}, {"all", all}}, ectx);
  }

  std::shared_ptr<Process> LoadExec(const Context& ctx, const std::string& id,
                                    const std::string& exec_id) override {
    ProcessRecord p = GetProcess(ctx, id, exec_id);
    if (exec_id.empty())
      throw Error(ErrorKind::kInvalidArgument, "LoadExec needs an exec id",
                  {.op = "LoadExec", .container_id = id});
    return std::make_shared<InspectedExec>(layout_.TaskDir(id), id, exec_id, p.pid);
  }

 private:
  std::shared_ptr<Client> client_;
  Layout layout_;
};

}  // namespace
}  // namespace direct

std::unique_ptr<ContainerdInspector> NewDirectInspector(const DirectClientOptions& options) {
  DirectClientOptions o = options;
  o.backend = nullptr;
  auto client = NewDirectClient(o);  // validates the options as it does
  return std::make_unique<direct::DirectInspector>(
      std::move(client), direct::Layout{direct::TrimmedRoot(options.root), options.ns});
}

}  // namespace libcontainerd
