#include "remote/container.h"

#include <filesystem>
#include <optional>

#include "cio/fifo.h"
#include "common/scope_guard.h"
#include "common/task_checks.h"
#include "events/tracker.h"
#include "images/snapshots.h"
#include "libcontainerd/log.h"
#include "libcontainerd/oci/spec.h"
#include "remote/convert.h"
#include "remote/network.h"
#include "remote/process.h"

namespace libcontainerd::remote {

SpecFacts SpecFacts::Of(const oci::Spec& spec) {
  SpecFacts f;
  f.terminal = spec.process && spec.process->terminal;
  if (spec.process && !spec.process->args.empty()) f.arg0 = spec.process->args[0];
  if (spec.root) f.root_path = spec.root->path;
  if (spec.linux) f.cgroups_path = spec.linux->cgroups_path;
  try {
    f.root_ids = oci::MappedRootIDs(spec);
  } catch (const Error& e) {
    f.mapping_error = "invalid spec: " + e.message();
  }
  return f;
}

RemoteContainer::RemoteContainer(std::shared_ptr<Connection> conn,
                                 const containers_v1::Container& record,
                                 std::optional<SpecFacts> facts)
    : conn_(std::move(conn)),
      id_(record.id()),
      spec_json_(record.spec().value()),
      runtime_name_(record.runtime().name()),
      snapshotter_(record.snapshotter()),
      snapshot_key_(record.snapshot_key()),
      facts_(std::move(facts)) {
  if (facts_) conn_->RememberCgroupsPath(id_, facts_->cgroups_path);  // for StatsMany
  if (record.runtime().has_options())
    runtime_options_ =
        TypedMessage{record.runtime().options().type_url(), record.runtime().options().value()};
}

std::shared_ptr<ProcessCore> RemoteContainer::InitCore(uint32_t pid) {
  auto core = std::make_shared<ProcessCore>(conn_, id_, "", pid);
  core->set_task_gone_flag(own_task_gone_);
  return core;
}

const SpecFacts& RemoteContainer::Facts() {
  std::call_once(facts_once_, [this] {
    if (!facts_) facts_ = SpecFacts::Of(oci::DecodeSpec(spec_json_));
    conn_->RememberCgroupsPath(id_, facts_->cgroups_path);  // for StatsMany (FetchStats)
  });
  return *facts_;
}

containers_v1::Container RemoteContainer::Fetch(const Context& ctx) {
  return GetContainerRecord(*conn_, ctx, id_, "Containers.Get");
}

oci::Spec RemoteContainer::Spec(const Context& ctx) {
  return oci::DecodeSpec(Fetch(ctx).spec().value());
}

std::map<std::string, std::string> RemoteContainer::Labels(const Context& ctx) {
  auto c = Fetch(ctx);
  return {c.labels().begin(), c.labels().end()};
}

std::string RemoteContainer::Image(const Context& ctx) { return Fetch(ctx).image(); }

RuntimeInfo RemoteContainer::Runtime(const Context& ctx) {
  const auto record = Fetch(ctx);
  std::optional<TypedMessage> stored;
  if (record.runtime().has_options())
    stored =
        TypedMessage{record.runtime().options().type_url(), record.runtime().options().value()};
  return {record.runtime().name(), DecodeRuntimeOptions(stored)};
}

std::shared_ptr<Task> RemoteContainer::NewTask(const Context& ctx,
                                               const std::string& checkpoint_dir, bool with_stdin,
                                               StdioCallback attach_stdio) {
  ErrorContext ectx{.op = "NewTask", .container_id = id_};
  const SpecFacts& facts = Facts();
  const bool terminal = facts.terminal;
  const std::string& arg0 = facts.arg0;
  // A relative root.path is relative to containerd's bundle: not checked here.
  CheckNewTask(facts.root_path, "", terminal, attach_stdio != nullptr, checkpoint_dir, ectx);
  if (!facts.mapping_error.empty())
    throw Error(ErrorKind::kInvalidArgument, facts.mapping_error, ectx);
  // Task options replace the container's entirely: start from them (before any FIFO exists).
  // With remapped ids the shim's IO uid/gid are those of the container's root (moby's rule).
  std::optional<std::string> task_options;
  if (!checkpoint_dir.empty())
    task_options = RestoreTaskOptions(runtime_options_, checkpoint_dir, ectx, facts.root_ids);
  else
    task_options = RemappedTaskOptions(runtime_options_, runtime_name_, facts.root_ids);
  PreparedIO pio = PrepareIO(*conn_, id_, "init", with_stdin, terminal, attach_stdio);
  const FifoConfig stdio = pio.config;
  own_task_gone_->store(false);  // from here on there may be a task of ours again
  auto core = InitCore(0);
  core->TakeIO(std::move(pio));
  // Until the task exists, any failure stops the copying and removes the FIFOs.
  ScopeGuard release_io([&core] { core->ReleaseIO(true); });

  Rpc rpc(*conn_, ctx, "Tasks.Create");
  tasks_v1::CreateTaskRequest req;
  req.set_container_id(id_);
  req.set_stdin(stdio.stdin_path);
  req.set_stdout(stdio.stdout_path);
  req.set_stderr(stdio.stderr_path);
  req.set_terminal(terminal);
  if (task_options) SetAny(req.mutable_options(), kRuncOptionsTypeURL, std::move(*task_options));
  if (!snapshot_key_.empty()) {
    // The container's snapshot is its root file system (a container from an image).
    images::AddMounts(images::Snapshots(conn_, snapshotter_).Mounts(ctx, snapshot_key_),
                      req.mutable_rootfs());
  }
  tasks_v1::CreateTaskResponse resp;
  grpc::Status s = conn_->tasks().Create(rpc.get(), req, &resp);
  std::optional<Rpc> retry;
  if (s.error_code() == grpc::StatusCode::ALREADY_EXISTS && ClearHalfCreatedTask(ctx)) {
    retry.emplace(*conn_, ctx, "Tasks.Create");
    s = conn_->tasks().Create(retry->get(), req, &resp);
    if (!s.ok())
      Log(LogLevel::kInfo,
          "container " + id_ + ": create after clearing failed: " + s.error_message());
  }
  if (!s.ok()) {
    // A missing shim is named as such; otherwise a missing or unusable binary is classified.
    const Error e = (retry ? *retry : rpc).ToError(s, ectx);
    Error shim_error = ClassifyShimError(e, runtime_name_);
    if (shim_error.kind() != e.kind() || shim_error.message() != e.message()) throw shim_error;
    throw ClassifyStartError(e, arg0);
  }
  release_io.Dismiss();
  core->set_pid(resp.pid());
  if (auto* t = conn_->tracker()) t->TrackTask(id_, resp.pid());
  return std::make_shared<RemoteTask>(std::move(core), spec_json_);
}

bool RemoteContainer::ClearHalfCreatedTask(const Context& ctx) {
  // containerd 1.6 keeps a task whose create was interrupted by a daemon crash: its shim runs
  // with no container, Tasks.Get says NotFound, Tasks.Create says AlreadyExists, and only
  // Tasks.Delete reaches it (it stops the shim and removes the bundle; it still answers
  // NotFound). A task that Tasks.Get finds is real: the AlreadyExists stands then.
  // A failure to find out (the daemon went away again) is reported as what it is, so the
  // caller retries instead of believing the AlreadyExists.
  {
    Rpc rpc(*conn_, ctx, "Tasks.Get");
    tasks_v1::GetRequest req;
    req.set_container_id(id_);
    tasks_v1::GetResponse resp;
    grpc::Status s = conn_->tasks().Get(rpc.get(), req, &resp);
    if (s.ok()) return false;
    if (s.error_code() != grpc::StatusCode::NOT_FOUND) rpc.Fail(s, {.container_id = id_});
  }
  if (auto* t = conn_->tracker()) t->ReplacingTask(id_);  // its exit is not a task's of ours
  DeleteHalfCreatedTask(ctx);
  Log(LogLevel::kInfo, "container " + id_ +
                           ": removed a task left half-created by an interrupted create; "
                           "creating it again");
  return true;
}

void RemoteContainer::DeleteHalfCreatedTask(const Context& ctx) {
  Rpc rpc(*conn_, ctx, "Tasks.Delete");
  tasks_v1::DeleteTaskRequest req;
  req.set_container_id(id_);
  tasks_v1::DeleteResponse resp;
  grpc::Status s = conn_->tasks().Delete(rpc.get(), req, &resp);
  // NotFound is the usual answer, also when a half-created task was removed.
  if (s.error_code() != grpc::StatusCode::NOT_FOUND) rpc.Check(s, {.container_id = id_});
}

std::optional<::containerd::v1::types::Process> RemoteContainer::FindProcess(const Context& ctx) {
  Rpc rpc(*conn_, ctx, "Tasks.Get");
  tasks_v1::GetRequest req;
  req.set_container_id(id_);
  tasks_v1::GetResponse resp;
  grpc::Status s = conn_->tasks().Get(rpc.get(), req, &resp);
  if (s.error_code() == grpc::StatusCode::NOT_FOUND) return std::nullopt;
  rpc.Check(s, {.container_id = id_});
  return resp.process();
}

::containerd::v1::types::Process RemoteContainer::GetProcess(const Context& ctx, const char* op) {
  auto p = FindProcess(ctx);
  if (!p)
    throw Error(ErrorKind::kNotFound, "container has no task", {.op = op, .container_id = id_});
  return std::move(*p);
}

std::shared_ptr<Task> RemoteContainer::GetTask(const Context& ctx) {
  auto p = GetProcess(ctx, "Task");
  if (auto* t = conn_->tracker()) t->TrackTask(id_, p.pid());
  auto core = InitCore(p.pid());
  if (FromProtoStatus(p.status()) != Status::kCreated) core->MarkStarted();
  return std::make_shared<RemoteTask>(std::move(core), spec_json_);
}

std::shared_ptr<Task> RemoteContainer::AttachTask(const Context& ctx, StdioCallback attach_stdio) {
  auto p = GetProcess(ctx, "AttachTask");
  if (auto* t = conn_->tracker()) t->TrackTask(id_, p.pid());
  auto core = InitCore(p.pid());
  if (attach_stdio) {
    FifoConfig cfg{p.stdin(), p.stdout(), p.stderr(), p.terminal()};
    auto fifos = cio::OpenFifos(cfg);
    if (fifos->has_stdin()) cio::DirectIOControl::ExpectStdinCloseHook(*fifos);  // see PrepareIO
    cio::FifoSet opened("", fifos);  // closes our ends if the callback throws (not our FIFOs)
    std::shared_ptr<IO> io = attach_stdio(fifos);
    if (!io) io = fifos;
    opened.Release();
    // The FIFO directory is ours to remove on Delete when it lives in our state dir.
    std::string dir;
    const std::string mine = conn_->ContainerStateDir(id_) + "/";
    if (p.stdout().starts_with(mine))
      dir = std::filesystem::path(p.stdout()).parent_path().string();
    core->SetIO(std::move(fifos), std::move(io), std::move(dir));
  }
  if (FromProtoStatus(p.status()) != Status::kCreated) core->MarkStarted();
  return std::make_shared<RemoteTask>(std::move(core), spec_json_);
}

void RemoteContainer::Delete(const Context& ctx) {
  // containerd deletes a container's record even while it has a task (checked on 1.6.20: the
  // task then runs on with no record, out of reach of ctr and of this library), so the lookup
  // stays, also after this Client deleted the task itself: another Client may have made a task
  // since (ClientTest.DeleteAfterTheOwnTaskDeleteIsRefusedWhenAnotherClientMadeATask).
  if (auto p = FindProcess(ctx))
    throw Error(ErrorKind::kFailedPrecondition,
                "container has a " + std::string(ToString(FromProtoStatus(p->status()))) +
                    " task: delete the task first (ForceDelete kills it)",
                {.op = "Delete", .container_id = id_});
  // No task, but maybe a half-created one (see ClearHalfCreatedTask): its shim would outlive
  // the record, out of reach, so it goes first. Best effort: when the daemon cannot answer,
  // Containers.Delete below reports that. Not when this Client deleted the container's task
  // itself (own_task_gone_): that Tasks.Delete found no task left, and a create of ours
  // interrupted since would have cleared the flag (NewTask); one RPC less per lifecycle.
  if (!own_task_gone_->load()) {
    try {
      DeleteHalfCreatedTask(ctx);
    } catch (const Error& e) {
      Log(LogLevel::kDebug, "container " + id_ + ": Tasks.Delete before the record: " + e.what());
    }
  }
  Rpc rpc(*conn_, ctx, "Containers.Delete");
  containers_v1::DeleteContainerRequest req;
  req.set_id(id_);
  google::protobuf::Empty resp;
  grpc::Status s = conn_->containers().Delete(rpc.get(), req, &resp);
  // Gone, whoever deleted it: its state directory goes (and the namespace's with the last).
  if (s.ok() || s.error_code() == grpc::StatusCode::NOT_FOUND) {
    cio::RemoveContainerStateDir(conn_->NamespaceStateDir(), id_);
    conn_->ForgetCgroupsPath(id_);
  }
  rpc.Check(s, {.container_id = id_});
  if (auto* t = conn_->tracker()) t->UntrackContainer(id_);
  if (!snapshot_key_.empty()) {
    // Nothing holds the snapshot now: remove it at once (the GC would, later).
    try {
      images::Snapshots(conn_, snapshotter_).Remove(ctx, snapshot_key_);
    } catch (const Error& e) {
      Log(LogLevel::kWarning,
          "container " + id_ + ": snapshot " + snapshot_key_ + " left to the GC: " + e.what());
    }
  }
  DetachNetwork(*conn_, ctx, id_);
}

}  // namespace libcontainerd::remote

namespace libcontainerd {

RuntimeInfo Container::Runtime(const Context&) {
  throw Error(ErrorKind::kNotImplemented, "this backend does not report a container's runtime",
              {.op = "Runtime", .container_id = ID()});
}

}  // namespace libcontainerd
