// Internal: the direct backend's processes. ProcessCore holds what an init task and an exec
// share (ids, pid, stdio, kill, wait, delete) and talks to the task's monitor; DirectExec and
// DirectTask wrap it.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "cio/process_stdio.h"
#include "common/core_process.h"
#include "direct/records.h"
#include "direct/runtime.h"
#include "libcontainerd/client.h"

namespace libcontainerd::direct {

// What the library needs of a container's spec at task time (read once per container).
struct SpecFacts {
  bool terminal = false;
  std::string arg0;
  std::string root_path;
  std::string cgroups_path;
  // The host ids container root maps to (user namespaces): the owner of the process's FIFOs,
  // so the remapped root can use and reopen its stdio (what containerd's shim does with
  // io_uid/io_gid). Unset without mappings.
  std::optional<uint32_t> root_uid, root_gid;
  static SpecFacts Of(const oci::Spec& spec);
};

// The owner of a process's FIFOs: the record's explicit RuncOptions io_uid/io_gid where set
// (non-zero), else the host ids of the container's mapped root; unset: left as made (ours).
struct IoOwner {
  std::optional<uint32_t> uid, gid;
  static IoOwner For(const ContainerRecord& rec, const SpecFacts& facts);
};

class ProcessCore : public std::enable_shared_from_this<ProcessCore> {
 public:
  // exec_id empty: the task's init process.
  ProcessCore(std::shared_ptr<State> state, ContainerRecord rec, std::string exec_id, uint32_t pid);
  ~ProcessCore();

  const std::string& container_id() const { return rec_.id; }
  const std::string& exec_id() const { return exec_id_; }
  const std::string& process_id() const { return exec_id_.empty() ? rec_.id : exec_id_; }
  const ContainerRecord& record() const { return rec_; }
  uint32_t pid() const { return pid_.load(); }
  void set_pid(uint32_t pid) { pid_.store(pid); }
  State& state() const { return *state_; }
  const std::shared_ptr<State>& state_ptr() const { return state_; }
  std::string task_dir() const { return state_->layout.TaskDir(rec_.id); }
  ErrorContext Ectx(const char* op) const {
    return {.op = op, .container_id = rec_.id, .exec_id = exec_id_};
  }

  // One request to the task's monitor for this process (the "exec" field set).
  nlohmann::json Call(const Context& ctx, const char* op, nlohmann::json request);

  void SetIO(std::shared_ptr<DirectIO> fifos, std::shared_ptr<IO> io, std::string fifo_dir);
  void MarkStarted();
  void ReleaseIO(bool remove_fifos) noexcept;
  void DrainAndReleaseIO() noexcept;

  void Kill(const Context& ctx, int signal, bool all);
  void Resize(const Context& ctx, uint32_t width, uint32_t height);
  ExitStatus Wait(const Context& ctx);
  ExitStatus Delete(const Context& ctx);

 private:
  // The caller closed stdin and the process runs: the monitor closes its writer too.
  void ForwardStdinClose();
  // The exit of this process when its monitor is gone: its record (a dead monitor's task
  // finished first: *finished set when that ran here), or nullopt.
  std::optional<ExitRecord> ExitWithoutMonitor(bool* finished = nullptr);
  void ReportExit(const ExitStatus& st, uint32_t pid, const std::string& error);

  std::shared_ptr<State> state_;
  const ContainerRecord rec_;
  const std::string exec_id_;
  std::atomic<uint32_t> pid_;

  std::shared_ptr<cio::ProcessStdio> stdio_;

  std::mutex mu_;
  std::optional<ExitStatus> deleted_;  // Delete succeeded through this object
};

using DirectExec = CoreProcess<ProcessCore>;

class DirectTask final : public CoreTask<ProcessCore> {
 public:
  // From `facts`: the process's binary (start errors), the task's cgroup (stats) and the
  // owner of its FIFOs.
  DirectTask(std::shared_ptr<ProcessCore> core, const SpecFacts& facts)
      : CoreTask(std::move(core)),
        arg0_(facts.arg0),
        cgroups_path_(facts.cgroups_path),
        io_owner_(IoOwner::For(core_->record(), facts)) {}

  void Start(const Context& ctx) override;
  void Pause(const Context& ctx) override;
  void Resume(const Context& ctx) override;
  TaskStatus GetStatus(const Context& ctx) override;
  Stats GetStats(const Context& ctx) override;
  std::vector<ProcessInfo> Pids(const Context& ctx) override;
  std::shared_ptr<Process> Exec(const Context& ctx, const std::string& exec_id,
                                const oci::Process& spec, bool with_stdin,
                                StdioCallback attach_stdio) override;
  void UpdateResources(const Context& ctx, const Resources& resources) override;
  void CreateCheckpoint(const Context& ctx, const std::string& checkpoint_dir, bool exit) override;

 private:
  std::string arg0_;
  std::string cgroups_path_;
  IoOwner io_owner_;
};

// Runs attach_stdio on a new FIFO set in the container's directory (none when attach_stdio is
// null) and returns it. Cleans up when the callback throws.
struct PreparedIO {
  std::shared_ptr<DirectIO> fifos;
  std::shared_ptr<IO> io;
  std::string dir;
  FifoConfig config;
};
PreparedIO PrepareIO(const Layout& layout, const std::string& container_id, const std::string& name,
                     bool with_stdin, bool terminal, const StdioCallback& attach_stdio,
                     const IoOwner& owner = {});

// A status name of the protocol ("created", ...); kUnknown for others.
Status ParseStatus(const std::string& s);

// The task's state as the monitor reports it (or from the exit record once it is gone).
TaskStatus QueryStatus(ProcessCore& core, const Context& ctx);

// Stats of the task of `cgroups_path`: kNotFound when it is not running.
Stats ReadTaskStats(const std::string& container_id, const std::string& cgroups_path);

}  // namespace libcontainerd::direct
