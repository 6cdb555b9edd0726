// The containerd backend's processes: ProcessCore holds what an init task and an exec
// process share (ids, pid, stdio, signals, wait, delete); RemoteExec and RemoteTask wrap it.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "cio/fifo.h"
#include "cio/process_stdio.h"
#include "common/core_process.h"
#include "libcontainerd/client.h"
#include "remote/connection.h"

namespace libcontainerd::remote {

// A process's stdio before its ProcessCore takes it (PrepareIO).
struct PreparedIO {
  cio::FifoSet fifos;  // our ends and their directory (empty without stdio)
  std::shared_ptr<IO> io;
  FifoConfig config;  // empty paths when there is no stdio
};

class ProcessCore : public std::enable_shared_from_this<ProcessCore> {
 public:
  // exec_id empty: the init process of the container's task.
  ProcessCore(std::shared_ptr<Connection> conn, std::string container_id, std::string exec_id,
              uint32_t pid);
  ~ProcessCore();

  const std::string& container_id() const { return container_id_; }
  const std::string& exec_id() const { return exec_id_; }
  // The id moby gives a process: exec id, or container id for init.
  const std::string& process_id() const { return exec_id_.empty() ? container_id_ : exec_id_; }
  uint32_t pid() const { return pid_.load(); }
  void set_pid(uint32_t pid) { pid_.store(pid); }
  Connection& conn() const { return *conn_; }
  const std::shared_ptr<Connection>& conn_ptr() const { return conn_; }

  // Takes the process's stdio: `io` is what the caller's callback returned, `fifos` our ends,
  // `fifo_dir` the directory removed when the process is deleted (empty: not ours).
  void SetIO(std::shared_ptr<DirectIO> fifos, std::shared_ptr<IO> io, std::string fifo_dir);
  // SetIO with what PrepareIO made: the FIFO set's ownership passes to this object (its
  // directory is removed by ReleaseIO(true)).
  void TakeIO(PreparedIO io);
  // Called once the process runs: a stdin close requested before is forwarded now.
  void MarkStarted();
  // Stops copying and releases fds and FIFOs (failure paths and Delete).
  void ReleaseIO(bool remove_fifos) noexcept;
  // Waits for the copier to reach EOF (the daemon closed its ends), then ReleaseIO(true).
  void DrainAndReleaseIO() noexcept;

  void Kill(const Context& ctx, int signal, bool all);
  void Resize(const Context& ctx, uint32_t width, uint32_t height);
  ExitStatus Wait(const Context& ctx);
  Status GetStatus(const Context& ctx);
  // GetStatus, or kUnknown when that fails too: for explaining a codeless daemon error.
  Status StatusOrUnknown(const Context& ctx) noexcept;
  ExitStatus Delete(const Context& ctx);
  void CloseStdin(const Context& ctx);

  ErrorContext Ectx() const { return {.container_id = container_id_, .exec_id = exec_id_}; }

  // The flag this init process's container shares with it (RemoteContainer::own_task_gone_):
  // set once a Tasks.Delete of this init process through this object found no task left
  // (it succeeded, or answered NotFound). Null for exec processes and without a container.
  void set_task_gone_flag(std::shared_ptr<std::atomic<bool>> flag) { task_gone_ = std::move(flag); }

 private:
  // The caller closed stdin and the process runs: CloseIO to the shim.
  void ForwardStdinClose();
  // Delete found the process gone: report its exit to the Backend (the known status, or 255
  // with an error) and forget it. Returns the known status, if any.
  std::optional<ExitStatus> ForgetGoneProcess();

  std::shared_ptr<Connection> conn_;
  const std::string container_id_;
  const std::string exec_id_;
  std::atomic<uint32_t> pid_;
  std::shared_ptr<std::atomic<bool>> task_gone_;  // see set_task_gone_flag

  std::shared_ptr<cio::ProcessStdio> stdio_;

  std::mutex mu_;
  std::optional<ExitStatus> waited_;  // the last Wait result
  bool deleted_ = false;              // Delete succeeded through this object
};

using RemoteExec = CoreProcess<ProcessCore>;

class RemoteTask final : public CoreTask<ProcessCore> {
 public:
  RemoteTask(std::shared_ptr<ProcessCore> core, std::string spec_json)
      : CoreTask(std::move(core)), spec_json_(std::move(spec_json)) {}

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
  std::string spec_json_;  // the container's spec, for exec defaults
};

// Runs attach_stdio on a new FIFO set (or none when attach_stdio is null) and returns what
// ProcessCore::TakeIO takes. Nothing is left when the callback throws, nor when the result is
// dropped before TakeIO (the FifoSet closes and removes the set).
PreparedIO PrepareIO(const Connection& conn, const std::string& container_id,
                     const std::string& name, bool with_stdin, bool terminal,
                     const StdioCallback& attach_stdio);

// Stats of the tasks named by `ids` in one Tasks.Metrics call (filters OR'ed).
std::map<std::string, Stats> FetchStats(Connection& conn, const Context& ctx,
                                        const std::vector<std::string>& ids);

}  // namespace libcontainerd::remote
