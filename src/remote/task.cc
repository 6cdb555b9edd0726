#include <csignal>
#include <optional>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include "common/parallel.h"
#include "common/scope_guard.h"
#include "common/task_checks.h"
#include "events/tracker.h"
#include "github.com/containerd/containerd/runtime/v2/runc/options/oci.pb.h"
#include "libcontainerd/log.h"
#include "libcontainerd/oci/spec.h"
#include "remote/convert.h"
#include "remote/process.h"
#include "stats/cgroupfs.h"

namespace libcontainerd::remote {

void RemoteTask::Start(const Context& ctx) {
  Rpc rpc(core_->conn(), ctx, "Tasks.Start");
  tasks_v1::StartRequest req;
  req.set_container_id(core_->container_id());
  tasks_v1::StartResponse resp;
  grpc::Status s = core_->conn().tasks().Start(rpc.get(), req, &resp);
  if (!s.ok()) {
    std::string arg0;
    try {
      auto spec = oci::DecodeSpec(spec_json_);
      if (spec.process && !spec.process->args.empty()) arg0 = spec.process->args[0];
    } catch (const Error&) {
    }
    const Error err = ClassifyStartError(rpc.ToError(s, core_->Ectx()), arg0);
    if (err.kind() == ErrorKind::kUnknown) {
      // The daemon gives no code for "cannot start a stopped process" or a second Start: ask.
      Status st = core_->StatusOrUnknown(ctx);
      if (st == Status::kStopped)
        throw Error(
            ErrorKind::kFailedPrecondition,
            "task is stopped: its process exited, or its start was cut short (a daemon restart "
            "during Start); Wait or Delete it (" +
                err.message() + ")",
            err.context());
      if (st == Status::kRunning || st == Status::kPaused || st == Status::kPausing)
        throw Error(ErrorKind::kFailedPrecondition,
                    "task is already started (" + std::string(ToString(st)) + "): " + err.message(),
                    err.context());
    }
    throw err;
  }
  if (resp.pid()) core_->set_pid(resp.pid());
  core_->MarkStarted();
}

void RemoteTask::Pause(const Context& ctx) {
  Rpc rpc(core_->conn(), ctx, "Tasks.Pause");
  tasks_v1::PauseTaskRequest req;
  req.set_container_id(core_->container_id());
  google::protobuf::Empty resp;
  grpc::Status s = core_->conn().tasks().Pause(rpc.get(), req, &resp);
  if (!s.ok() && s.error_code() == grpc::StatusCode::UNKNOWN) {
    Status st = core_->StatusOrUnknown(ctx);
    if (st != Status::kRunning)
      throw Error(ErrorKind::kFailedPrecondition,
                  "cannot pause a " + std::string(ToString(st)) +
                      " task: only a running task can be paused",
                  {.op = "Pause", .container_id = core_->container_id()});
  }
  rpc.Check(s, core_->Ectx());
}

void RemoteTask::Resume(const Context& ctx) {
  Rpc rpc(core_->conn(), ctx, "Tasks.Resume");
  tasks_v1::ResumeTaskRequest req;
  req.set_container_id(core_->container_id());
  google::protobuf::Empty resp;
  grpc::Status s = core_->conn().tasks().Resume(rpc.get(), req, &resp);
  if (!s.ok() && s.error_code() == grpc::StatusCode::UNKNOWN) {
    Status st = core_->StatusOrUnknown(ctx);
    if (st != Status::kPaused)
      throw Error(ErrorKind::kFailedPrecondition,
                  "cannot resume a " + std::string(ToString(st)) +
                      " task: only a paused task can be resumed",
                  {.op = "Resume", .container_id = core_->container_id()});
  }
  rpc.Check(s, core_->Ectx());
}

namespace {
Stats DecodeMetrics(const ::containerd::types::Metric& m) {
  return DecodeTaskMetrics(m.id(), FromProto(m.timestamp()), m.data().type_url(), m.data().value());
}
}  // namespace

TaskStatus RemoteTask::GetStatus(const Context& ctx) {
  Rpc rpc(core_->conn(), ctx, "Tasks.Get");
  tasks_v1::GetRequest req;
  req.set_container_id(core_->container_id());
  tasks_v1::GetResponse resp;
  rpc.Check(core_->conn().tasks().Get(rpc.get(), req, &resp), core_->Ectx());
  const auto& p = resp.process();
  TaskStatus st{.status = FromProtoStatus(p.status())};
  if (st.status == Status::kStopped) {
    st.exit_code = p.exit_status();
    st.exited_at = FromProto(p.exited_at());
  }
  return st;
}

std::map<std::string, Stats> FetchStats(Connection& conn, const Context& ctx,
                                        const std::vector<std::string>& ids) {
  std::map<std::string, Stats> out;
  if (ids.empty()) return out;
  for (const auto& id : ids) ValidateIdentifier("container id", id);
  // containerd's Tasks.Metrics asks every task's shim in turn (~0.7 ms each): the cgroups of
  // the tasks whose cgroup this Client knows are read here instead, with the same values
  // (stats::ReadCgroupStats follows containerd's collectors). The daemon is on this host (the
  // address is a unix socket). The others go to Tasks.Metrics in one call, and so do those whose
  // read fails: kNotFound (no cgroup here: no running task, or another cgroup view than the
  // daemon's, e.g. a Client in a container: containerd says which), a systemd-style or relative
  // path (kInvalidArgument), an unreadable or garbled file.
  // Built first: a cancelled ctx or a passed deadline fails the call before any I/O, as before.
  Rpc rpc(conn, ctx, "Tasks.Metrics");
  // Each id once, with its cgroup ("" when unknown).
  std::vector<std::pair<const std::string*, std::string>> todo;
  {
    std::set<std::string_view> seen;
    for (const auto& id : ids)
      if (seen.insert(id).second) todo.emplace_back(&id, conn.CgroupsPath(id));
  }
  // About 25 files a task: many tasks are read by a few threads (the reads wait on the kernel's
  // cgroup locks as much as they use CPU).
  std::vector<std::optional<Stats>> read(todo.size());
  ParallelFor(todo.size(), stats::kManyReadThreads, stats::kManyReadFrom, [&](size_t i) {
    if (todo[i].second.empty()) return;
    try {
      read[i] = stats::ReadCgroupStats(todo[i].second);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kNotFound && e.kind() != ErrorKind::kInvalidArgument)
        Log(LogLevel::kDebug, "stats of " + *todo[i].first + " from containerd: " + e.what());
    }
  });
  std::vector<const std::string*> rest;
  for (size_t i = 0; i < todo.size(); ++i) {
    if (read[i])
      out[*todo[i].first] = std::move(*read[i]);
    else
      rest.push_back(todo[i].first);
  }
  if (rest.empty()) return out;
  tasks_v1::MetricsRequest req;
  for (const auto* id : rest) req.add_filters("id==" + *id);
  tasks_v1::MetricsResponse resp;
  rpc.Check(conn.tasks().Metrics(rpc.get(), req, &resp), {});
  for (const auto& m : resp.metrics()) {
    try {
      out[m.id()] = DecodeMetrics(m);
    } catch (const Error& e) {
      Log(LogLevel::kWarning, "metrics of " + m.id() + " skipped: " + e.what());
    }
  }
  return out;
}

Stats RemoteTask::GetStats(const Context& ctx) {
  const std::string& id = core_->container_id();
  ValidateIdentifier("container id", id);
  Rpc rpc(core_->conn(), ctx, "Tasks.Metrics");
  tasks_v1::MetricsRequest req;
  req.add_filters("id==" + id);
  tasks_v1::MetricsResponse resp;
  rpc.Check(core_->conn().tasks().Metrics(rpc.get(), req, &resp), core_->Ectx());
  for (const auto& m : resp.metrics())
    if (m.id() == id) return DecodeMetrics(m);
  throw Error(ErrorKind::kNotFound, "no metrics: the task does not exist or is not running",
              {.op = "Stats", .container_id = id});
}

std::vector<ProcessInfo> RemoteTask::Pids(const Context& ctx) {
  Rpc rpc(core_->conn(), ctx, "Tasks.ListPids");
  tasks_v1::ListPidsRequest req;
  req.set_container_id(core_->container_id());
  tasks_v1::ListPidsResponse resp;
  rpc.Check(core_->conn().tasks().ListPids(rpc.get(), req, &resp), core_->Ectx());
  std::vector<ProcessInfo> out;
  for (const auto& p : resp.processes()) {
    ProcessInfo info{.pid = p.pid()};
    if (p.has_info()) {
      info.info = TypedMessage{p.info().type_url(), p.info().value()};
      if (p.info().type_url().ends_with("containerd.runc.v1.ProcessDetails")) {
        ::containerd::runc::v1::ProcessDetails d;
        if (d.ParseFromString(p.info().value())) info.exec_id = d.exec_id();
      }
    }
    out.push_back(std::move(info));
  }
  return out;
}

std::shared_ptr<Process> RemoteTask::Exec(const Context& ctx, const std::string& exec_id,
                                          const oci::Process& spec, bool with_stdin,
                                          StdioCallback attach_stdio) {
  ErrorContext ectx{.op = "Exec", .container_id = core_->container_id(), .exec_id = exec_id};
  CheckExec(exec_id, spec, attach_stdio != nullptr, ectx);
  std::string spec_json = oci::EncodeProcess(spec);
  auto& conn = core_->conn();
  PreparedIO pio = PrepareIO(conn, core_->container_id(), "exec-" + exec_id, with_stdin,
                             spec.terminal, attach_stdio);
  const FifoConfig stdio = pio.config;
  auto core = std::make_shared<ProcessCore>(core_->conn_ptr(), core_->container_id(), exec_id, 0);
  core->TakeIO(std::move(pio));
  {
    // Until the process record exists, a failure stops the copying and removes the FIFOs.
    ScopeGuard release_io([&core] { core->ReleaseIO(true); });
    Rpc rpc(conn, ctx, "Tasks.Exec");
    tasks_v1::ExecProcessRequest req;
    req.set_container_id(core_->container_id());
    req.set_exec_id(exec_id);
    req.set_stdin(stdio.stdin_path);
    req.set_stdout(stdio.stdout_path);
    req.set_stderr(stdio.stderr_path);
    req.set_terminal(spec.terminal);
    SetAny(req.mutable_spec(), kProcessTypeURL, std::move(spec_json));
    google::protobuf::Empty resp;
    rpc.Check(conn.tasks().Exec(rpc.get(), req, &resp), ectx);
    release_io.Dismiss();
  }
  {
    // From here on a failure leaves nothing behind: the exec process record, its FIFOs.
    ScopeGuard delete_exec([&core] {
      try {
        core->Delete(Context());
      } catch (const std::exception& e) {
        Log(LogLevel::kWarning, std::string("cleanup of failed exec: ") + e.what());
        core->ReleaseIO(true);
      }
    });
    Rpc rpc(conn, ctx, "Tasks.Start");
    tasks_v1::StartRequest req;
    req.set_container_id(core_->container_id());
    req.set_exec_id(exec_id);
    tasks_v1::StartResponse resp;
    grpc::Status s = conn.tasks().Start(rpc.get(), req, &resp);
    if (!s.ok())
      throw ClassifyStartError(rpc.ToError(s, ectx),
                               spec.args.empty() ? std::string() : spec.args[0]);
    core->set_pid(resp.pid());
    delete_exec.Dismiss();
  }
  core->MarkStarted();
  if (auto* t = conn.tracker()) t->TrackExec(core_->container_id(), exec_id, core->pid());
  return std::make_shared<RemoteExec>(std::move(core));
}

void RemoteTask::UpdateResources(const Context& ctx, const Resources& resources) {
  ErrorContext ectx{.op = "UpdateResources", .container_id = core_->container_id()};
  try {
    oci::ValidateResources(resources);
  } catch (const Error& e) {
    throw Error(ErrorKind::kInvalidArgument, e.message(), ectx);
  }
  Rpc rpc(core_->conn(), ctx, "Tasks.Update");
  tasks_v1::UpdateTaskRequest req;
  req.set_container_id(core_->container_id());
  SetAny(req.mutable_resources(), kResourcesTypeURL, oci::EncodeResources(resources));
  google::protobuf::Empty resp;
  rpc.Check(core_->conn().tasks().Update(rpc.get(), req, &resp), core_->Ectx());
}

void RemoteTask::CreateCheckpoint(const Context& ctx, const std::string& checkpoint_dir,
                                  bool exit) {
  ErrorContext ectx{
      .op = "CreateCheckpoint", .container_id = core_->container_id(), .path = checkpoint_dir};
  if (checkpoint_dir.empty() || checkpoint_dir[0] != '/')
    throw Error(ErrorKind::kInvalidArgument, "checkpoint directory must be an absolute path", ectx);
  Rpc rpc(core_->conn(), ctx, "Tasks.Checkpoint");
  tasks_v1::CheckpointTaskRequest req;
  req.set_container_id(core_->container_id());
  ::containerd::runc::v1::CheckpointOptions opts;
  opts.set_exit(exit);
  opts.set_image_path(checkpoint_dir);
  SetAny(req.mutable_options(), kCheckpointOptionsTypeURL, opts.SerializeAsString());
  tasks_v1::CheckpointTaskResponse resp;
  rpc.Check(core_->conn().tasks().Checkpoint(rpc.get(), req, &resp), ectx);
}

}  // namespace libcontainerd::remote
