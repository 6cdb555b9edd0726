// The direct backend's Client: options, containers (record + bundle), batched stats.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>

#include "cio/fifo.h"
#include "common/parallel.h"
#include "common/runtime_names.h"
#include "direct/container.h"
#include "direct/events.h"
#include "direct/monitor_client.h"
#include "direct/process.h"
#include "libcontainerd/direct.h"
#include "libcontainerd/log.h"
#include "libcontainerd/oci/spec.h"
#include "oci/root_ids.h"
#include "stats/cgroupfs.h"

namespace libcontainerd::direct {
namespace {

constexpr const char* kDefaultShim = "io.containerd.runc.v2";

// The network of a container being created, detached again unless Commit() was called.
class NetworkGuard {
 public:
  NetworkGuard() = default;
  NetworkGuard(const NetworkGuard&) = delete;
  NetworkGuard& operator=(const NetworkGuard&) = delete;
  ~NetworkGuard() {
    if (!manager_) return;
    try {
      manager_->Detach(Context::WithTimeout(std::chrono::seconds(30)), ns_, id_);
    } catch (const std::exception& e) {
      Log(LogLevel::kWarning,
          "NewContainer " + id_ +
              ": network not released (the next Client's reconcile will): " + e.what());
    }
  }
  void Attach(State& state, const Context& ctx, const std::string& id, net::NetworkRequest req,
              oci::Spec& spec) {
    auto manager = state.network;
    ErrorContext ectx{.op = "NewContainer", .container_id = id};
    if (!manager)
      throw Error(ErrorKind::kInvalidArgument,
                  "ContainerOptions::network needs a net::Manager in DirectClientOptions::network",
                  ectx);
    if (req.mode == net::Mode::kContainer) {
      if (req.container.empty())
        throw Error(ErrorKind::kInvalidArgument,
                    "network mode container:ID needs the id of the container to join", ectx);
      if (req.container == id)
        throw Error(ErrorKind::kInvalidArgument, "a container cannot join its own network", ectx);
      if (!manager->Inspect(state.layout.ns, req.container) && req.container_netns_path.empty())
        req.container_netns_path = TaskNetns(state, ctx, req.container);
    }
    manager->Attach(ctx, state.layout.ns, id, req, spec);
    manager_ = std::move(manager);
    ns_ = state.layout.ns;
    id_ = id;
  }
  void Commit() { manager_.reset(); }

 private:
  static std::string TaskNetns(State& state, const Context& ctx, const std::string& other) {
    ErrorContext ectx{.op = "NewContainer", .container_id = other};
    auto rec = LoadRecord(state.layout, other);
    if (!rec)
      throw Error(ErrorKind::kNotFound,
                  "container " + other + " does not exist in namespace " + state.layout.ns, ectx);
    uint32_t pid = 0;
    try {
      auto r = Call(state.layout.TaskDir(other), ctx, {{"op", "state"}}, ectx);
      if (r.value("status", "") == "running" || r.value("status", "") == "paused")
        pid = r.value("pid", 0u);
    } catch (const Error& e) {
      if (!IsMonitorGone(e)) throw;
    }
    if (pid == 0)
      throw Error(ErrorKind::kFailedPrecondition,
                  "container " + other +
                      " has no running task, so it has no network namespace to join: start it "
                      "first",
                  ectx);
    return "/proc/" + std::to_string(pid) + "/ns/net";
  }

  std::shared_ptr<net::Manager> manager_;
  std::string ns_, id_;
};

class DirectClient final : public Client {
 public:
  explicit DirectClient(std::shared_ptr<State> state) : state_(std::move(state)) {}
  ~DirectClient() override {
    state_->closed.store(true);
    state_->events->Shutdown();  // delivers what is queued, joins the threads
  }

  const std::string& Namespace() const override { return state_->layout.ns; }

  Version GetVersion(const Context&) override {
    state_->CheckOpen("GetVersion");
    std::lock_guard l(version_mu_);
    if (version_) return *version_;
    auto r = RunRuntime(state_->runtime, "", {"--version"});
    if (r.exit_code != 0)
      throw Error(ErrorKind::kUnknown,
                  state_->runtime + " --version failed (exit " + std::to_string(r.exit_code) +
                      "): " + r.err,
                  {.op = "GetVersion", .path = state_->runtime});
    // "runc version 1.1.5+ds1\ncommit: ...\nspec: ..."
    Version v;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) {
      if (v.version.empty()) {
        auto p = line.find("version ");
        v.version = p == std::string::npos ? line : line.substr(p + 8);
      } else if (line.starts_with("commit: ")) {
        v.revision = line.substr(8);
      }
    }
    version_ = v;
    return v;
  }

  std::shared_ptr<Container> LoadContainer(const Context&, const std::string& id) override {
    state_->CheckOpen("LoadContainer", id);
    ValidateIdentifier("container id", id);
    auto rec = LoadRecord(state_->layout, id);
    if (!rec)
      throw Error(ErrorKind::kNotFound,
                  "container does not exist in namespace " + state_->layout.ns,
                  {.op = "LoadContainer", .container_id = id});
    state_->events->tracker().TrackContainer(id);
    return std::make_shared<DirectContainer>(state_, std::move(*rec));
  }

  std::shared_ptr<Container> NewContainer(const Context& ctx, const std::string& id,
                                          const oci::Spec& spec, const std::string& shim,
                                          const RuntimeOptions& runtime_options,
                                          const ContainerOptions& options) override {
    ErrorContext ectx{.op = "NewContainer", .container_id = id};
    state_->CheckOpen("NewContainer", id);
    ValidateIdentifier("container id", id);
    try {
      oci::Validate(spec);
      oci::MappedRootIDs(spec);
    } catch (const Error& e) {
      throw Error(ErrorKind::kInvalidArgument, "invalid spec: " + e.message(), ectx);
    }
    const std::string shim_name = shim.empty() ? kDefaultShim : shim;
    ValidateShimName(shim_name, ectx);
    if (const auto* m = runtime_options.message())
      throw Error(ErrorKind::kInvalidArgument,
                  "runtime options of type " + m->type_url +
                      " are another shim's: the direct backend runs OCI runtimes itself and "
                      "takes RuncOptions (binary_name, root, systemd_cgroup, ...) only",
                  ectx);
    if (!options.image.empty())
      throw Error(ErrorKind::kNotImplemented,
                  "containers from images (ContainerOptions::image) need the containerd backend "
                  "for now: the direct backend takes a spec whose root.path is a prepared "
                  "root file system",
                  ectx);
    ContainerRecord rec;
    rec.id = id;
    rec.labels = options.labels;
    rec.shim = shim_name;
    rec.runtime = state_->runtime;
    rec.runtime_root = state_->runtime_root;
    rec.created_ns = ToUnixNanos(std::chrono::system_clock::now());
    if (const auto* runc = runtime_options.runc()) {
      rec.has_runc_options = true;
      rec.runc = *runc;
      if (!runc->binary_name.empty()) {
        rec.runtime = FindExecutable(runc->binary_name);
        if (rec.runtime.empty())
          throw Error(ErrorKind::kNotFound,
                      "OCI runtime binary " + runc->binary_name +
                          " (RuncOptions::binary_name) not found or not executable (looked in "
                          "PATH): install it or give its absolute path",
                      ectx);
      }
      if (runc->root.empty())
        rec.runc.root = state_->runtime_root;
      else
        rec.runtime_root = runc->root;
    }
    oci::Spec final_spec = spec;
    if (!final_spec.linux) final_spec.linux.emplace();
    if (final_spec.linux->cgroups_path.empty())
      final_spec.linux->cgroups_path = "/lcd/" + state_->layout.ns + "/" + id;

    const Layout& layout = state_->layout;
    cio::MakePrivateDirs(layout.NsDir());
    const std::string dir = layout.ContainerDir(id);
    if (::mkdir(dir.c_str(), 0700) != 0) {
      if (errno == EEXIST)
        throw Error(ErrorKind::kAlreadyExists,
                    "a container with this id exists in namespace " + layout.ns, ectx);
      ThrowErrno(ErrorKind::kUnknown, errno, "cannot make the container directory " + dir, ectx);
    }
    try {
      NetworkGuard net;
      if (options.network) net.Attach(*state_, ctx, id, *options.network, final_spec);
      if (::mkdir(layout.BundleDir(id).c_str(), 0700) != 0)
        ThrowErrno(ErrorKind::kUnknown, errno, "cannot make the bundle directory", ectx);
      WriteFileAtomic(layout.BundleDir(id) + "/config.json", oci::EncodeSpec(final_spec));
      WriteFileAtomic(layout.RecordPath(id), EncodeRecord(rec));  // the container exists now
      net.Commit();
    } catch (...) {
      RemoveTree(dir);
      RemoveDirIfEmpty(layout.NsDir());
      throw;
    }
    state_->events->tracker().TrackContainer(id);
    return std::make_shared<DirectContainer>(state_, std::move(rec), SpecFacts::Of(final_spec));
  }

  std::vector<std::string> ListContainers(const Context&) override {
    state_->CheckOpen("ListContainers");
    return ListContainerIds(state_->layout);
  }

  std::map<std::string, Stats> StatsMany(const Context& ctx,
                                         const std::vector<std::string>& ids) override {
    state_->CheckOpen("StatsMany");
    for (const auto& id : ids) ValidateIdentifier("container id", id);
    std::vector<std::string> todo;  // each id once
    {
      std::set<std::string_view> seen;
      for (const auto& id : ids)
        if (seen.insert(id).second) todo.push_back(id);
    }
    // Per task: its record, its monitor's state, its cgroup's files (about 25): a few threads
    // for many tasks, as the containerd backend's direct reads.
    std::vector<std::optional<Stats>> read(todo.size());
    ParallelFor(todo.size(), stats::kManyReadThreads, stats::kManyReadFrom, [&](size_t i) {
      const std::string& id = todo[i];
      auto rec = LoadRecord(state_->layout, id);
      if (!rec) return;
      const std::string task_dir = state_->layout.TaskDir(id);
      try {
        auto r = Call(task_dir, ctx, {{"op", "state"}}, {.op = "StatsMany", .container_id = id});
        const std::string st = r.value("status", "");
        if (st != "running" && st != "paused") return;
        read[i] = ReadTaskStats(id, CgroupsPathOf(ctx, *rec));
      } catch (const Error& e) {
        if (IsNotFound(e)) return;
        if (e.kind() == ErrorKind::kDeadlineExceeded || e.kind() == ErrorKind::kCancelled) throw;
        Log(LogLevel::kWarning, "stats of " + id + " skipped: " + e.what());
      }
    });
    std::map<std::string, Stats> out;
    for (size_t i = 0; i < todo.size(); ++i)
      if (read[i]) out[todo[i]] = std::move(*read[i]);
    return out;
  }

 private:
  // The spec's cgroupsPath, decoded once per container (the record's created stamp tells a
  // container made again under the same id).
  std::string CgroupsPathOf(const Context& ctx, const ContainerRecord& rec) {
    {
      std::lock_guard l(cgroups_mu_);
      auto it = cgroups_.find(rec.id);
      if (it != cgroups_.end() && it->second.first == rec.created_ns) return it->second.second;
    }
    DirectContainer c(state_, rec);
    std::string path = SpecFacts::Of(c.Spec(ctx)).cgroups_path;
    std::lock_guard l(cgroups_mu_);
    if (cgroups_.size() >= kMaxCachedCgroups) cgroups_.clear();  // containers gone meanwhile
    cgroups_[rec.id] = {rec.created_ns, path};
    return path;
  }
  static constexpr size_t kMaxCachedCgroups = 4096;

  std::shared_ptr<State> state_;
  std::mutex cgroups_mu_;
  std::map<std::string, std::pair<int64_t, std::string>> cgroups_;  // id -> (created, path)
  std::mutex version_mu_;
  std::optional<Version> version_;
};

std::string FindMonitor(const DirectClientOptions& o, std::vector<std::string>& looked) {
  auto try_one = [&](const std::string& p) {
    looked.push_back(p);
    return FindExecutable(p);
  };
  if (!o.monitor_path.empty()) return try_one(o.monitor_path);
  if (const char* env = std::getenv("LCD_MONITOR"); env && *env) return try_one(env);
#ifdef LCD_INSTALL_LIBEXECDIR
  if (auto p = try_one(std::string(LCD_INSTALL_LIBEXECDIR) + "/libcontainerd/lcd-monitor");
      !p.empty())
    return p;
#endif
  return try_one("lcd-monitor");
}

// How long a container directory without its record is left alone: another Client may be
// making that container right now (the containerd backend's rule for its state dirs, 60 s).
constexpr std::chrono::seconds kSettle{60};

// At Client start: directories of containers whose NewContainer was cut short (no record, not
// changed for kSettle) go, and the network attachments of containers that no longer exist are
// released. Never fails the Client: failures are logged, the next Client's start retries.
void Reconcile(State& state) noexcept {
  const Layout& layout = state.layout;
  try {
    std::error_code ec;
    const auto now = std::filesystem::file_time_type::clock::now();
    for (const auto& e : std::filesystem::directory_iterator(layout.NsDir(), ec)) {
      if (!e.is_directory(ec) || e.is_symlink(ec)) continue;
      const std::string id = e.path().filename().string();
      if (std::filesystem::exists(layout.RecordPath(id), ec)) continue;
      if (now - std::filesystem::last_write_time(e.path(), ec) < kSettle || ec) continue;
      RemoveTree(e.path().string());
      Log(LogLevel::kInfo, "directory of container " + id + " in namespace " + layout.ns +
                               " removed: its NewContainer never finished");
    }
    RemoveDirIfEmpty(layout.NsDir());
    if (state.network && !state.network->List(layout.ns).empty()) {
      auto ids = ListContainerIds(layout);
      for (const auto& id : state.network->Reconcile(Context(), layout.ns,
                                                     std::set<std::string>(ids.begin(), ids.end())))
        Log(LogLevel::kInfo, "network of container " + id + " in namespace " + layout.ns +
                                 " released: the container no longer exists");
    }
  } catch (const std::exception& e) {
    Log(LogLevel::kWarning, "namespace " + layout.ns +
                                " not reconciled at Client start (a later Client's start "
                                "retries): " +
                                e.what());
  }
}

}  // namespace
}  // namespace libcontainerd::direct

namespace libcontainerd {

std::shared_ptr<Client> NewDirectClient(const DirectClientOptions& options) {
  using namespace direct;
  ErrorContext ectx{.op = "NewDirectClient", .path = options.root};
  ValidateIdentifier("namespace", options.ns);
  if (options.root.empty() || options.root[0] != '/')
    throw Error(ErrorKind::kInvalidArgument, "root must be an absolute path", ectx);
  if (options.root.find("/../") != std::string::npos || options.root.ends_with("/.."))
    throw Error(ErrorKind::kInvalidArgument, "root must not contain \"..\"", ectx);
  if (options.runtime_root.size() && options.runtime_root[0] != '/')
    throw Error(ErrorKind::kInvalidArgument, "runtime_root must be an absolute path",
                {.op = ectx.op, .path = options.runtime_root});
  auto state = std::make_shared<State>();
  std::string root = options.root;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  state->layout = Layout{root, options.ns};
  state->runtime = FindExecutable(options.runtime);
  if (state->runtime.empty())
    throw Error(ErrorKind::kNotFound,
                "OCI runtime " + options.runtime +
                    " not found or not executable (looked in PATH): install runc or set "
                    "DirectClientOptions::runtime",
                {.op = ectx.op, .path = options.runtime});
  std::vector<std::string> looked;
  state->monitor = FindMonitor(options, looked);
  if (state->monitor.empty()) {
    std::string where;
    for (const auto& l : looked) where += (where.empty() ? "" : ", ") + l;
    throw Error(ErrorKind::kNotFound,
                "the monitor binary lcd-monitor was not found (looked at " + where +
                    "): set DirectClientOptions::monitor_path or $LCD_MONITOR, or install it",
                {.op = ectx.op, .path = looked.empty() ? "" : looked.front()});
  }
  state->runtime_root =
      options.runtime_root.empty() ? state->layout.DefaultRuntimeRoot() : options.runtime_root;
  state->network = options.network;
  cio::MakePrivateDirs(root);
  Reconcile(*state);
  state->events = std::make_unique<Events>(state->layout, options.backend);
  state->events->ScanNamespace();
  return std::make_shared<DirectClient>(std::move(state));
}

}  // namespace libcontainerd
