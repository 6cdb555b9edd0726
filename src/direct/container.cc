#include "direct/container.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "cio/fifo.h"
#include "common/runtime_names.h"
#include "common/task_checks.h"
#include "direct/events.h"
#include "direct/monitor_client.h"
#include "direct/process.h"
#include "libcontainerd/log.h"
#include "libcontainerd/oci/spec.h"
#include "oci/root_ids.h"

namespace libcontainerd::direct {
namespace {

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// task/io.json: the init process's FIFOs, for AttachTask.
void WriteIOConfig(const std::string& task_dir, const FifoConfig& c) {
  nlohmann::json j{{"stdin", c.stdin_path},
                   {"stdout", c.stdout_path},
                   {"stderr", c.stderr_path},
                   {"terminal", c.terminal}};
  WriteFileAtomic(task_dir + "/io.json", j.dump());
}

std::optional<FifoConfig> ReadIOConfig(const std::string& task_dir) {
  auto data = ReadFileIfExists(task_dir + "/io.json");
  if (!data) return std::nullopt;
  try {
    auto j = nlohmann::json::parse(*data);
    return FifoConfig{j.value("stdin", ""), j.value("stdout", ""), j.value("stderr", ""),
                      j.value("terminal", false)};
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

}  // namespace

SpecFacts SpecFacts::Of(const oci::Spec& spec) {
  SpecFacts f;
  f.terminal = spec.process && spec.process->terminal;
  if (spec.process && !spec.process->args.empty()) f.arg0 = spec.process->args[0];
  if (spec.root) f.root_path = spec.root->path;
  if (spec.linux) f.cgroups_path = spec.linux->cgroups_path;
  auto ids = oci::MappedRootIDs(spec);
  f.root_uid = ids.uid;
  f.root_gid = ids.gid;
  return f;
}

DirectContainer::DirectContainer(std::shared_ptr<State> state, ContainerRecord rec,
                                 std::optional<SpecFacts> facts)
    : state_(std::move(state)), rec_(std::move(rec)), facts_(std::move(facts)) {}

ContainerRecord DirectContainer::Fetch(const char* op) const {
  state_->CheckOpen(op, rec_.id);
  auto rec = LoadRecord(state_->layout, rec_.id);
  if (!rec)
    throw Error(ErrorKind::kNotFound, "container does not exist in namespace " + state_->layout.ns,
                {.op = op, .container_id = rec_.id});
  return *rec;
}

const SpecFacts& DirectContainer::Facts() {
  std::call_once(facts_once_, [this] {
    if (!facts_) facts_ = SpecFacts::Of(Spec(Context()));
  });
  return *facts_;
}

oci::Spec DirectContainer::Spec(const Context&) {
  Fetch("Spec");
  const std::string path = state_->layout.BundleDir(rec_.id) + "/config.json";
  auto data = ReadFileIfExists(path);
  if (!data)
    throw Error(ErrorKind::kNotFound, "container does not exist (no bundle)",
                {.op = "Spec", .container_id = rec_.id, .path = path});
  return oci::DecodeSpec(*data);
}

std::map<std::string, std::string> DirectContainer::Labels(const Context&) {
  return Fetch("Labels").labels;
}

std::string DirectContainer::Image(const Context&) { return Fetch("Image").image; }

RuntimeInfo DirectContainer::Runtime(const Context&) {
  auto rec = Fetch("Runtime");
  RuntimeInfo info{.name = rec.shim, .options = {}};
  if (rec.has_runc_options) {
    info.options = rec.runc;
  } else {
    info.options = RuncOptions{.root = rec.runtime_root};
  }
  return info;
}

std::shared_ptr<Task> DirectContainer::NewTask(const Context& ctx,
                                               const std::string& checkpoint_dir, bool with_stdin,
                                               StdioCallback attach_stdio) {
  ErrorContext ectx{.op = "NewTask", .container_id = rec_.id};
  const ContainerRecord rec = Fetch("NewTask");
  const Layout& layout = state_->layout;
  if (!IsRuncShim(rec.shim))
    throw Error(ErrorKind::kNotFound,
                "shim " + rec.shim +
                    " is not available: the direct backend runs OCI runtimes itself (a runc "
                    "shim name, io.containerd.runc.v2, with RuncOptions::binary_name for another "
                    "runtime)",
                ectx);
  const SpecFacts& facts = Facts();
  CheckNewTask(facts.root_path, layout.BundleDir(rec.id), facts.terminal, attach_stdio != nullptr,
               checkpoint_dir, ectx);
  const std::string task_dir = layout.TaskDir(rec.id);
  if (::mkdir(task_dir.c_str(), 0700) != 0) {
    if (errno == EEXIST)
      throw Error(ErrorKind::kAlreadyExists,
                  "container has a task already: delete it first (Task::Delete, ForceDelete)",
                  ectx);
    ThrowErrno(ErrorKind::kUnknown, errno, "cannot make the task directory " + task_dir, ectx);
  }
  // A runtime state of this id that is not ours (another namespace or program sharing the
  // runtime root): refused before the runtime runs, since the clean-up of a failed create
  // (`delete --force ID`) would kill that container.
  if (const std::string state = rec.runtime_root + "/" + rec.id; Exists(state)) {
    RemoveTree(task_dir);
    ectx.path = state;
    throw Error(ErrorKind::kAlreadyExists,
                "the runtime already holds a container " + rec.id + " under " + rec.runtime_root +
                    " (another namespace or program shares this runtime root, or a crash left "
                    "it): use another id or runtime root, or remove it with `" +
                    rec.runtime + " --root " + rec.runtime_root + " delete --force " + rec.id +
                    "` if it is yours",
                ectx);
  }
  PreparedIO pio;
  try {
    cio::MakePrivateDirs(rec.runtime_root);
    pio = PrepareIO(layout, rec.id, "init", with_stdin, facts.terminal, attach_stdio,
                    IoOwner::For(rec, facts));
  } catch (...) {
    RemoveTree(task_dir);
    throw;
  }
  auto core = std::make_shared<ProcessCore>(state_, rec, "", 0);
  core->SetIO(pio.fifos, pio.io, pio.dir);
  MonitorLaunch launch;
  launch.monitor = state_->monitor;
  launch.id = rec.id;
  launch.bundle = layout.BundleDir(rec.id);
  launch.task_dir = task_dir;
  launch.runtime = rec.runtime;
  launch.runtime_root = rec.runtime_root;
  launch.stdin_path = pio.config.stdin_path;
  launch.stdout_path = pio.config.stdout_path;
  launch.stderr_path = pio.config.stderr_path;
  launch.terminal = facts.terminal;
  if (rec.has_runc_options) {
    if (rec.runc.systemd_cgroup) launch.runtime_args.push_back("--systemd-cgroup");
    launch.no_pivot = rec.runc.no_pivot_root;
    launch.no_new_keyring = rec.runc.no_new_keyring;
  }
  launch.restore = checkpoint_dir;
  uint32_t pid = 0;
  try {
    WriteIOConfig(task_dir, pio.config);
    pid = StartMonitor(ctx, launch, ectx);
  } catch (const Error& e) {
    core->ReleaseIO(true);
    // The monitor removed what it made; a monitor cut short may not have: make sure.
    try {
      RunRuntime(rec.runtime, rec.runtime_root, {"delete", "--force", rec.id});
    } catch (const Error&) {
    }
    RemoveTree(task_dir);
    throw ClassifyStartError(e, facts.arg0);
  }
  core->set_pid(pid);
  Events& ev = *state_->events;
  ev.tracker().TrackContainer(rec.id);
  ev.tracker().TrackTask(rec.id, pid);
  ev.Watch(rec);
  ev.Report(EventType::kCreate,
            EventInfo{.container_id = rec.id, .process_id = rec.id, .pid = pid});
  return std::make_shared<DirectTask>(std::move(core), facts);
}

std::shared_ptr<ProcessCore> DirectContainer::Existing(const Context& ctx, const char* op,
                                                       Status* status) {
  const ContainerRecord rec = Fetch(op);
  const std::string task_dir = state_->layout.TaskDir(rec.id);
  if (!Exists(task_dir))
    throw Error(ErrorKind::kNotFound, "container has no task", {.op = op, .container_id = rec.id});
  auto core = std::make_shared<ProcessCore>(state_, rec, "", 0);
  uint32_t pid = 0;
  *status = Status::kUnknown;
  try {
    auto r = core->Call(ctx, op, {{"op", "state"}});
    pid = r.value("pid", 0u);
    *status = ParseStatus(r.value("status", ""));
  } catch (const Error& e) {
    if (!IsMonitorGone(e)) throw;
    if (auto r = ReadExit(task_dir, "")) {
      pid = r->pid;
      *status = Status::kStopped;
    } else {
      pid = ReadPidFile(task_dir + "/init.pid");
      if (ReadPidFile(task_dir + "/monitor.pid") == 0 && pid == 0)
        throw Error(ErrorKind::kNotFound,
                    "container has no task (a task directory without monitor: a NewTask cut "
                    "short; delete the container)",
                    {.op = op, .container_id = rec.id});
      *status = Status::kStopped;
    }
  }
  core->set_pid(pid);
  Events& ev = *state_->events;
  ev.tracker().TrackContainer(rec.id);
  ev.tracker().TrackTask(rec.id, pid);
  ev.Watch(rec);
  return core;
}

std::shared_ptr<Task> DirectContainer::GetTask(const Context& ctx) {
  Status st;
  auto core = Existing(ctx, "Task", &st);
  if (st != Status::kCreated) core->MarkStarted();
  const SpecFacts& f = Facts();
  return std::make_shared<DirectTask>(std::move(core), f);
}

std::shared_ptr<Task> DirectContainer::AttachTask(const Context& ctx, StdioCallback attach_stdio) {
  Status st;
  auto core = Existing(ctx, "AttachTask", &st);
  if (attach_stdio) {
    const std::string task_dir = state_->layout.TaskDir(rec_.id);
    FifoConfig cfg = ReadIOConfig(task_dir).value_or(FifoConfig{});
    auto fifos = cio::OpenFifos(cfg);
    if (fifos->has_stdin()) cio::DirectIOControl::ExpectStdinCloseHook(*fifos);
    std::shared_ptr<IO> io;
    try {
      io = attach_stdio(fifos);
      if (!io) io = fifos;
    } catch (...) {
      fifos->Close();
      throw;
    }
    std::string dir;
    const std::string mine = state_->layout.ContainerDir(rec_.id) + "/";
    if (cfg.stdout_path.starts_with(mine))
      dir = std::filesystem::path(cfg.stdout_path).parent_path().string();
    core->SetIO(std::move(fifos), std::move(io), std::move(dir));
  }
  if (st != Status::kCreated) core->MarkStarted();
  const SpecFacts& f = Facts();
  return std::make_shared<DirectTask>(std::move(core), f);
}

void DirectContainer::Delete(const Context& ctx) {
  ErrorContext ectx{.op = "Delete", .container_id = rec_.id};
  const ContainerRecord rec = Fetch("Delete");
  const Layout& layout = state_->layout;
  const std::string task_dir = layout.TaskDir(rec.id);
  if (Exists(task_dir)) {
    std::string state = "existing";
    try {
      ProcessCore core(state_, rec, "", 0);
      state = std::string(ToString(QueryStatus(core, ctx).status));
    } catch (const Error&) {
    }
    throw Error(ErrorKind::kFailedPrecondition,
                "container has a " + state + " task: delete the task first (ForceDelete kills it)",
                ectx);
  }
  // The record goes first: from then on the container does not exist for anyone.
  if (::unlink(layout.RecordPath(rec.id).c_str()) != 0 && errno == ENOENT)
    throw Error(ErrorKind::kNotFound, "container does not exist", ectx);
  RemoveTree(layout.ContainerDir(rec.id));
  RemoveDirIfEmpty(layout.NsDir());
  // The runtime's root (<root>/runtime/<ns>) stays, as runc's own /run/runc does: making and
  // removing it on every lifecycle cost two rmdirs, milliseconds each on a file system that
  // discards freed blocks.
  state_->events->tracker().UntrackContainer(rec.id);
  if (state_->network) {
    try {
      state_->network->Detach(ctx, layout.ns, rec.id);
    } catch (const std::exception& e) {
      Log(LogLevel::kWarning,
          "container " + rec.id +
              ": network not released (the next Client's reconcile will): " + e.what());
    }
  }
}

}  // namespace libcontainerd::direct
