// lcd-monitor: the monitor of one container (docs/direct-backend.md). One thread: a poll loop
// over the SIGCHLD signalfd, the listening socket, the client connections, the pty masters and
// the OOM notification. The runtime runs synchronously (runtime.h) while exits keep being reaped.
//
//   monitor.cc  the loop, connections, exits (persisted, then reported) and events
//   startup.cc  create/restore, the ready line, the clean-up of a failed start
//   ops.cc      one handler per request op
#pragma once

#include <poll.h>

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "fd.h"
#include "flags.h"
#include "oom.h"
#include "protocol.h"
#include "runtime.h"
#include "table.h"

namespace lcdmon {

class Monitor final : public ChildSink {
 public:
  // A request's reply, or none yet (`wait` on a running process).
  struct Reply {
    bool deferred = false;
    std::string text;
  };

  explicit Monitor(Options options);
  ~Monitor();

  // Runs the monitor, after the process daemonized (inherited fds closed, SIGCHLD blocked,
  // child subreaper set): creates the container, writes the ready line, serves until init is
  // deleted. Returns the process's exit code (0 after the delete, 1 when the start failed).
  int Run();

  // A reaped child (ChildSink): an exit of init or an exec is persisted, then reported.
  void OnChildExit(int pid, int wait_status) override;

 private:
  // One client connection.
  struct Conn {
    Fd fd;
    bool subscribed = false;  // an event stream: no more requests are read
    bool waiting = false;     // a `wait` is pending: no more requests are read until answered
    std::string wait_exec;
    bool dead = false;
    std::deque<std::string> out;  // messages the socket could not take yet
  };

  // startup.cc
  bool Start(Kind* kind, std::string* message);
  void CleanupFailedStart();
  void WriteReady(const std::string& line);

  // monitor.cc
  void Serve();
  void Accept();
  void OnReadable(Conn& conn);
  void Send(Conn& conn, std::string message);
  void FlushOut(Conn& conn);
  void Broadcast(const std::string& event);
  void RecordExit(Proc& proc);  // persists proc's exit and queues its report
  void FlushExits();            // reports queued exits: events and wait replies
  void ReplayExits(Conn& conn);
  bool WaitForExit(Proc& proc, int timeout_ms);
  void RemoveTaskFiles();
  std::string ExitName(const std::string& exec) const { return exec.empty() ? "init" : exec; }
  std::string Path(const std::string& rel) const { return options_.task_dir + "/" + rel; }
  Proc& init() { return *table_.Find(""); }
  RuntimeResult Call(std::vector<std::string> args, int timeout_ms = 60000,
                     const int* stdio = nullptr);

  // shortcuts.cc: runc's start and delete done in the monitor (else the runtime is called)
  enum class Shortcut { kFallBack, kDone, kFailed, kTimedOut };
  bool ShortcutsAllowed() const;
  bool ReadRuncState(RuncState* st);  // false unless it is runc's record of this init
  Shortcut StartWithoutRuntime(std::string* error);
  bool DeleteWithoutRuntime();
  std::string RuntimeStateDir() const { return options_.runtime_root + "/" + options_.id; }

  // ops.cc
  Reply Handle(Conn& conn, const Request& req);
  Reply State();
  Reply StartInit(const Request& req);
  Reply Kill(const Request& req);
  Reply Exec(const Request& req);
  Reply Resize(const Request& req);
  Reply CloseStdin(const Request& req);
  Reply PauseResume(bool pause);
  Reply Pids();
  Reply Update(const Request& req);
  Reply Checkpoint(const Request& req);
  Reply Wait(Conn& conn, const Request& req);
  Reply Delete(const Request& req);
  Reply Subscribe(Conn& conn);
  Reply RuntimeError(const char* what, const RuntimeResult& r);

  Options options_;
  Reaper reaper_;
  Runtime runtime_;
  ProcessTable table_;
  OomWatch oom_;
  std::string cgroups_path_;
  Fd listener_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::vector<std::string> pending_exits_;  // exec ids ("" init) persisted, not yet reported
  bool paused_ = false;
  bool runtime_called_ = false;  // create/restore ran: a failed start deletes its state
  bool exit_ = false;            // init was deleted: leave the loop
  std::unique_ptr<char[]> rbuf_;
  std::vector<pollfd> pfds_;  // reused: no allocation in the steady state
  std::vector<Conn*> pconn_;  // the connection of each pfds_ entry (null for others)
};

}  // namespace lcdmon
