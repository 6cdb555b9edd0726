#include "direct/process.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "cio/fifo.h"
#include "common/runtime_names.h"
#include "common/task_checks.h"
#include "direct/events.h"
#include "direct/monitor_client.h"
#include "libcontainerd/log.h"
#include "libcontainerd/oci/spec.h"

namespace libcontainerd::direct {

ProcessCore::ProcessCore(std::shared_ptr<State> state, ContainerRecord rec, std::string exec_id,
                         uint32_t pid)
    : state_(std::move(state)),
      rec_(std::move(rec)),
      exec_id_(std::move(exec_id)),
      pid_(pid),
      stdio_(std::make_shared<cio::ProcessStdio>()) {}

ProcessCore::~ProcessCore() {
  // The handle goes away, the process may not: keep the FIFOs for AttachTask.
  ReleaseIO(false);
}

nlohmann::json ProcessCore::Call(const Context& ctx, const char* op, nlohmann::json request) {
  state_->CheckOpen(op, rec_.id);
  {
    // After this object's Delete the process does not exist (as with containerd: kNotFound),
    // even when a new task of the same container now has a monitor at the same path.
    std::lock_guard l(mu_);
    if (deleted_) throw Error(ErrorKind::kNotFound, "process was deleted already", Ectx(op));
  }
  request["exec"] = exec_id_;
  return direct::Call(task_dir(), ctx, request, Ectx(op));
}

void ProcessCore::SetIO(std::shared_ptr<DirectIO> fifos, std::shared_ptr<IO> io,
                        std::string fifo_dir) {
  std::weak_ptr<ProcessCore> weak = weak_from_this();
  stdio_->Set(std::move(fifos), std::move(io), std::move(fifo_dir), [weak] {
    if (auto self = weak.lock()) self->ForwardStdinClose();
  });
}

void ProcessCore::ForwardStdinClose() {
  // The FIFO's writers are our O_RDWR end (closed by now) and the monitor's own (kept so that
  // stdin stays open while no client holds it, as containerd's shim keeps it until CloseIO):
  // asking the monitor to close its (close_stdin) is the EOF the process reads.
  try {
    Call(Context::WithTimeout(std::chrono::seconds(10)), "CloseStdin", {{"op", "close_stdin"}});
  } catch (const Error& e) {
    // A process that is gone (or deleted) has no stdin to close.
    if (e.kind() != ErrorKind::kNotFound)
      Log(LogLevel::kWarning, "closing the stdin of " + rec_.id + "/" + process_id() +
                                  " in its monitor failed: " + e.message());
  }
}

void ProcessCore::MarkStarted() { stdio_->MarkStarted(); }

void ProcessCore::ReleaseIO(bool remove_fifos) noexcept { stdio_->Release(remove_fifos); }

// The process is gone. A reader that opened its FIFO after every writer had left (AttachTask
// after the exit) sees no EOF until a writer comes and goes: the drain is that writer.
void ProcessCore::DrainAndReleaseIO() noexcept { stdio_->DrainAndRelease(); }

void ProcessCore::Kill(const Context& ctx, int signal, bool all) {
  if (signal <= 0 || signal > 64)
    throw Error(ErrorKind::kInvalidArgument,
                "signal " + std::to_string(signal) + " is not a valid signal number", Ectx("Kill"));
  try {
    Call(ctx, "Kill", {{"op", "kill"}, {"signal", signal}, {"all", all}});
  } catch (const Error& e) {
    if (IsMonitorGone(e))
      throw Error(ErrorKind::kNotFound, "process already finished (its monitor is gone)",
                  Ectx("Kill"));
    throw;
  }
}

void ProcessCore::Resize(const Context& ctx, uint32_t width, uint32_t height) {
  if (width == 0 || height == 0)
    throw Error(ErrorKind::kInvalidArgument,
                "terminal size " + std::to_string(width) + "x" + std::to_string(height) +
                    " is invalid: width and height must be > 0",
                Ectx("Resize"));
  Call(ctx, "Resize", {{"op", "resize"}, {"width", width}, {"height", height}});
}

std::optional<ExitRecord> ProcessCore::ExitWithoutMonitor(bool* finished) {
  const std::string dir = task_dir();
  if (auto r = ReadExit(dir, exec_id_)) return r;
  if (!exec_id_.empty()) return std::nullopt;
  // Init without a record: the monitor died before it could write one.
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || ReadPidFile(dir + "/monitor.pid") == 0 || !MonitorDead(dir))
    return std::nullopt;
  if (finished) *finished = true;
  return FinishDeadTask(rec_, dir);
}

ExitStatus ProcessCore::Wait(const Context& ctx) {
  try {
    auto r = Call(ctx, "Wait", {{"op", "wait"}});
    return {r.value("exit_status", 255u), FromUnixNanos(r.value("exited_at", int64_t{0}))};
  } catch (const Error& e) {
    if (!IsMonitorGone(e)) throw;
    {
      std::lock_guard l(mu_);
      if (deleted_) return *deleted_;
    }
    if (auto r = ExitWithoutMonitor()) return {r->status, r->exited_at};
    throw;
  }
}

void ProcessCore::ReportExit(const ExitStatus& st, uint32_t pid, const std::string& error) {
  Events& ev = *state_->events;
  EventInfo info;
  info.container_id = rec_.id;
  info.process_id = process_id();
  info.pid = pid ? pid : this->pid();
  info.exit_code = st.exit_code;
  info.exited_at = st.exited_at;
  info.error = error;
  if (info.pid == 0) info.pid = events::TaskTracker::kUnknownPid;
  // The monitor sent this exit on the event stream before it answered: the events thread
  // posts it first (a barrier on the streams), so that the stream's earlier events of the
  // process (an exec's exec-started) reach the Backend before it; the copy from here is then
  // a duplicate, and delivered only when the stream did not have it (the monitor died).
  if (ev.enabled() && ev.Subscribed(rec_.id) &&
      !ev.tracker().DeliveredExit(rec_.id, exec_id_, info.pid))
    ev.Flush(std::chrono::milliseconds(500));
  ev.Report(EventType::kExit, std::move(info), true);
  ev.tracker().UntrackProcess(rec_.id, exec_id_);
}

ExitStatus ProcessCore::Delete(const Context& ctx) {
  {
    std::lock_guard l(mu_);
    if (deleted_) throw Error(ErrorKind::kNotFound, "process was deleted already", Ectx("Delete"));
  }
  const bool init = exec_id_.empty();
  const std::string dir = task_dir();
  ExitStatus st;
  uint32_t pid = 0;
  std::string error;
  // An exit a Backend has had already (its marker is there: possibly another Client's, before
  // this program restarted) is not reported again.
  const bool delivered = ExitDelivered(dir, exec_id_);
  if (init) state_->events->Deleting(rec_.id, true);
  try {
    auto r = Call(ctx, "Delete", {{"op", "delete"}});
    st = {r.value("exit_status", 255u), FromUnixNanos(r.value("exited_at", int64_t{0}))};
  } catch (const Error& e) {
    if (!IsMonitorGone(e)) {
      if (init) state_->events->Deleting(rec_.id, false);
      if (e.kind() == ErrorKind::kFailedPrecondition)
        throw Error(ErrorKind::kFailedPrecondition,
                    e.message() + ": stop it first (Kill, then Wait) or use ForceDelete",
                    e.context());
      throw;
    }
    bool finished = false;
    auto r = ExitWithoutMonitor(&finished);
    if (!r) {
      if (init) state_->events->Deleting(rec_.id, false);
      throw;
    }
    st = {r->status, r->exited_at};
    pid = r->pid;
    error = r->error;
    if (init && !finished) {
      // The monitor wrote the exit record before it died: whatever the runtime still holds of
      // the task goes (FinishDeadTask's clean-up).
      FinishDeadTask(rec_, dir);
    }
  }
  if (init)
    RemoveTree(dir);
  else
    ::unlink((dir + "/exec/" + exec_id_ + ".json").c_str());
  {
    std::lock_guard l(mu_);
    deleted_ = st;
  }
  if (!delivered)
    ReportExit(st, pid, error);
  else
    state_->events->tracker().UntrackProcess(rec_.id, exec_id_);
  DrainAndReleaseIO();
  return st;
}

// --- Task ---

Status ParseStatus(const std::string& s) {
  if (s == "created") return Status::kCreated;
  if (s == "running") return Status::kRunning;
  if (s == "paused") return Status::kPaused;
  if (s == "pausing") return Status::kPausing;
  if (s == "stopped") return Status::kStopped;
  return Status::kUnknown;
}

namespace {

Status StatusOrUnknown(ProcessCore& core, const Context& ctx) noexcept {
  try {
    return QueryStatus(core, ctx).status;
  } catch (const std::exception&) {
    return Status::kUnknown;
  }
}

}  // namespace

TaskStatus QueryStatus(ProcessCore& core, const Context& ctx) {
  try {
    auto r = core.Call(ctx, "GetStatus", {{"op", "state"}});
    TaskStatus st{.status = ParseStatus(r.value("status", ""))};
    if (st.status == Status::kStopped) {
      st.exit_code = r.value("exit_status", 0u);
      st.exited_at = FromUnixNanos(r.value("exited_at", int64_t{0}));
    }
    return st;
  } catch (const Error& e) {
    if (!IsMonitorGone(e)) throw;
    if (auto r = ReadExit(core.task_dir(), "")) {
      return {.status = Status::kStopped, .exit_code = r->status, .exited_at = r->exited_at};
    }
    struct stat st {};
    if (::stat(core.task_dir().c_str(), &st) != 0)
      throw Error(ErrorKind::kNotFound, "container has no task", core.Ectx("GetStatus"));
    throw;
  }
}

void DirectTask::Start(const Context& ctx) {
  try {
    auto r = core_->Call(ctx, "Start", {{"op", "start"}});
    if (uint32_t pid = r.value("pid", 0u)) core_->set_pid(pid);
  } catch (const Error& e) {
    if (IsMonitorGone(e)) {
      struct stat st {};
      if (::stat(core_->task_dir().c_str(), &st) != 0)
        throw Error(ErrorKind::kNotFound, "container has no task (it was deleted)", e.context());
      throw Error(ErrorKind::kFailedPrecondition,
                  "task is stopped (its monitor is gone): Wait or Delete it", e.context());
    }
    Error err = ClassifyStartError(e, arg0_);
    if (err.kind() == ErrorKind::kUnknown) {
      Status st = StatusOrUnknown(*core_, ctx);
      if (st == Status::kStopped)
        throw Error(
            ErrorKind::kFailedPrecondition,
            "task is stopped: its process exited; Wait or Delete it (" + err.message() + ")",
            err.context());
      if (st == Status::kRunning || st == Status::kPaused || st == Status::kPausing)
        throw Error(ErrorKind::kFailedPrecondition,
                    "task is already started (" + std::string(ToString(st)) + "): " + err.message(),
                    err.context());
    }
    throw err;
  }
  core_->MarkStarted();
}

void DirectTask::Pause(const Context& ctx) {
  try {
    core_->Call(ctx, "Pause", {{"op", "pause"}});
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kUnknown && !IsMonitorGone(e)) throw;
    Status st = StatusOrUnknown(*core_, ctx);
    if (st != Status::kRunning)
      throw Error(ErrorKind::kFailedPrecondition,
                  "cannot pause a " + std::string(ToString(st)) +
                      " task: only a running task can be paused",
                  core_->Ectx("Pause"));
    throw;
  }
}

void DirectTask::Resume(const Context& ctx) {
  try {
    core_->Call(ctx, "Resume", {{"op", "resume"}});
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kUnknown && !IsMonitorGone(e)) throw;
    Status st = StatusOrUnknown(*core_, ctx);
    if (st != Status::kPaused)
      throw Error(ErrorKind::kFailedPrecondition,
                  "cannot resume a " + std::string(ToString(st)) +
                      " task: only a paused task can be resumed",
                  core_->Ectx("Resume"));
    throw;
  }
}

TaskStatus DirectTask::GetStatus(const Context& ctx) { return QueryStatus(*core_, ctx); }

Stats DirectTask::GetStats(const Context& ctx) {
  core_->state().CheckOpen("Stats", core_->container_id());
  Status st = QueryStatus(*core_, ctx).status;
  if (st != Status::kRunning && st != Status::kPaused && st != Status::kPausing)
    throw Error(ErrorKind::kNotFound,
                "no metrics: the task is " + std::string(ToString(st)) + ", not running",
                core_->Ectx("Stats"));
  return ReadTaskStats(core_->container_id(), cgroups_path_);
}

std::vector<ProcessInfo> DirectTask::Pids(const Context& ctx) {
  auto r = core_->Call(ctx, "Pids", {{"op", "pids"}});
  std::vector<ProcessInfo> out;
  for (const auto& p : r.value("pids", nlohmann::json::array())) {
    ProcessInfo info{.pid = p.value("pid", 0u)};
    info.exec_id = p.value("exec", "");
    out.push_back(std::move(info));
  }
  return out;
}

std::shared_ptr<Process> DirectTask::Exec(const Context& ctx, const std::string& exec_id,
                                          const oci::Process& spec, bool with_stdin,
                                          StdioCallback attach_stdio) {
  ErrorContext ectx{.op = "Exec", .container_id = core_->container_id(), .exec_id = exec_id};
  core_->state().CheckOpen("Exec", core_->container_id());
  CheckExec(exec_id, spec, attach_stdio != nullptr, ectx);
  const std::string task_dir = core_->task_dir();
  struct stat st {};
  if (::stat(task_dir.c_str(), &st) != 0)
    throw Error(ErrorKind::kNotFound, "container has no task", ectx);
  const std::string exec_dir = task_dir + "/exec";
  ::mkdir(exec_dir.c_str(), 0700);
  const std::string spec_path = exec_dir + "/" + exec_id + ".json";
  if (::access(spec_path.c_str(), F_OK) == 0)
    throw Error(ErrorKind::kAlreadyExists, "the task has a process " + exec_id, ectx);
  WriteFileAtomic(spec_path, oci::EncodeProcess(spec));
  PreparedIO pio;
  try {
    pio = PrepareIO(core_->state().layout, core_->container_id(), "exec-" + exec_id, with_stdin,
                    spec.terminal, attach_stdio, io_owner_);
  } catch (...) {
    ::unlink(spec_path.c_str());
    throw;
  }
  auto core = std::make_shared<ProcessCore>(core_->state_ptr(), core_->record(), exec_id, 0);
  core->SetIO(pio.fifos, pio.io, pio.dir);
  try {
    auto r = core->Call(ctx, "Exec",
                        {{"op", "exec"},
                         {"process", spec_path},
                         {"stdin", pio.config.stdin_path},
                         {"stdout", pio.config.stdout_path},
                         {"stderr", pio.config.stderr_path},
                         {"terminal", spec.terminal}});
    core->set_pid(r.value("pid", 0u));
  } catch (const Error& e) {
    core->ReleaseIO(true);
    // An exec id taken is the monitor's to say (its record is kept); otherwise the spec goes.
    if (e.kind() != ErrorKind::kAlreadyExists) ::unlink(spec_path.c_str());
    if (IsMonitorGone(e)) throw Error(ErrorKind::kNotFound, "the task has stopped", ectx);
    throw ClassifyStartError(e, spec.args.empty() ? std::string() : spec.args[0]);
  }
  core->MarkStarted();
  core_->state().events->tracker().TrackExec(core_->container_id(), exec_id, core->pid());
  return std::make_shared<DirectExec>(std::move(core));
}

void DirectTask::UpdateResources(const Context& ctx, const Resources& resources) {
  ErrorContext ectx{.op = "UpdateResources", .container_id = core_->container_id()};
  try {
    oci::ValidateResources(resources);
  } catch (const Error& e) {
    throw Error(ErrorKind::kInvalidArgument, e.message(), ectx);
  }
  core_->state().CheckOpen("UpdateResources", core_->container_id());
  const std::string path = core_->task_dir() + "/resources-" + std::to_string(::gettid()) + ".json";
  WriteFileAtomic(path, oci::EncodeResources(resources));
  try {
    core_->Call(ctx, "UpdateResources", {{"op", "update"}, {"resources", path}});
  } catch (...) {
    ::unlink(path.c_str());
    throw;
  }
  ::unlink(path.c_str());
}

void DirectTask::CreateCheckpoint(const Context& ctx, const std::string& checkpoint_dir,
                                  bool exit) {
  ErrorContext ectx{
      .op = "CreateCheckpoint", .container_id = core_->container_id(), .path = checkpoint_dir};
  if (checkpoint_dir.empty() || checkpoint_dir[0] != '/')
    throw Error(ErrorKind::kInvalidArgument, "checkpoint directory must be an absolute path", ectx);
  nlohmann::json req{{"op", "checkpoint"}, {"path", checkpoint_dir}, {"exit", exit}};
  if (core_->record().has_runc_options && !core_->record().runc.criu_work_path.empty())
    req["work_path"] = core_->record().runc.criu_work_path;
  try {
    core_->Call(ctx, "CreateCheckpoint", std::move(req));
  } catch (const Error& e) {
    throw Error(e.kind(), e.message(), ectx);
  }
}

IoOwner IoOwner::For(const ContainerRecord& rec, const SpecFacts& facts) {
  IoOwner o{facts.root_uid, facts.root_gid};
  if (rec.has_runc_options && rec.runc.io_uid != 0) o.uid = rec.runc.io_uid;
  if (rec.has_runc_options && rec.runc.io_gid != 0) o.gid = rec.runc.io_gid;
  return o;
}

PreparedIO PrepareIO(const Layout& layout, const std::string& container_id, const std::string& name,
                     bool with_stdin, bool terminal, const StdioCallback& attach_stdio,
                     const IoOwner& owner) {
  PreparedIO p;
  if (!attach_stdio) return p;
  auto fifos = cio::CreateFifos(layout.ContainerDir(container_id), name, with_stdin, terminal);
  p.dir = fifos.dir;
  p.fifos = fifos.io;
  p.config = fifos.io->Config();
  if (owner.uid || owner.gid) {
    // The FIFOs (not their 0700 directory: the process reaches them through its inherited fds
    // and /proc/self/fd) belong to the container's root.
    const uid_t uid = owner.uid ? *owner.uid : static_cast<uid_t>(-1);
    const gid_t gid = owner.gid ? *owner.gid : static_cast<gid_t>(-1);
    for (const std::string* path :
         {&p.config.stdin_path, &p.config.stdout_path, &p.config.stderr_path}) {
      if (!path->empty() && ::chown(path->c_str(), uid, gid) != 0) {
        const int err = errno;
        p.fifos->Close();
        cio::RemoveFifoDir(p.dir);
        ThrowErrno(ErrorKind::kUnknown, err,
                   "cannot give the FIFO " + *path + " to the container's root",
                   ErrorContext{.op = "NewTask", .container_id = container_id, .path = *path});
      }
    }
  }
  if (with_stdin) cio::DirectIOControl::ExpectStdinCloseHook(*p.fifos);
  try {
    p.io = attach_stdio(p.fifos);
    if (!p.io) p.io = p.fifos;
  } catch (...) {
    p.fifos->Close();
    cio::RemoveFifoDir(p.dir);
    throw;
  }
  return p;
}

}  // namespace libcontainerd::direct
