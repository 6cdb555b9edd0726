// lcd-monitor: running the OCI runtime synchronously while still reaping every other child
// (docs/direct-backend.md: "It runs the runtime synchronously, reaping whatever else exits
// meanwhile").
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "fd.h"

namespace lcdmon {

struct Options;

// Gets the exits of children other than a runtime call's own process.
class ChildSink {
 public:
  virtual void OnChildExit(int pid, int wait_status) = 0;

 protected:
  ~ChildSink() = default;
};

// SIGCHLD through a signalfd, and waitpid(-1). SIGCHLD must be blocked before Init.
// Not thread-safe (the monitor is one thread).
class Reaper {
 public:
  // Makes the signalfd. Returns "" or what failed.
  std::string Init(ChildSink* sink);
  int fd() const { return fd_.get(); }
  // Drains the signalfd and reaps every exited child: the watched pid's status is kept for
  // Collected, every other goes to the sink.
  void Reap();
  void Watch(int pid) {
    watched_ = pid;
    collected_ = false;
  }
  // True once the watched pid was reaped (its wait status in *status); the watch then ends.
  bool Collected(int* status);

 private:
  Fd fd_;
  ChildSink* sink_ = nullptr;
  int watched_ = -1;
  bool collected_ = false;
  int status_ = 0;
};

struct RuntimeCall {
  std::vector<std::string> args;  // the runtime's command and its arguments
  int stdio[3] = {-1, -1, -1};    // fds for the runtime's 0/1/2; -1: /dev/null, captured, captured
  int timeout_ms = 60000;         // then the runtime is killed; 0: no limit
};

struct RuntimeResult {
  int spawn_errno = 0;  // the runtime could not be started (exec: ENOENT for no such binary)
  int wait_status = 0;
  bool timed_out = false;
  std::string out;        // its stdout (when captured), at most 1 MiB
  std::string err;        // its stderr (when captured), at most 64 KiB
  std::string log_error;  // the last error of its --log file
  bool ok() const;
  // What failed, for a reply: the runtime's own error when it gave one.
  std::string Message() const;
};

// Runs `BIN [--runtime-arg]... --root R --log task/runtime.log --log-format json CMD ARGS...`.
class Runtime {
 public:
  Runtime(const Options& options, Reaper* reaper);
  RuntimeResult Run(const RuntimeCall& call);
  const std::string& binary() const { return binary_; }

 private:
  std::string binary_;
  std::vector<std::string> global_;
  std::string log_path_;
  Reaper* reaper_;
};

// The message of the last "error"/"fatal" line of a runtime's JSON log ("" if none).
std::string LastLogError(std::string_view log);
// `ps --format json` output: a JSON array of pids (or null). False if it is not one.
bool ParsePids(std::string_view json_text, std::vector<int>* pids);

// What the monitor needs of runc's own record of a container (<runtime root>/<id>/state.json)
// to do `start` and `delete` itself (docs/direct-backend.md, "Runtime calls the monitor makes
// without the runtime").
struct RuncState {
  int init_pid = 0;
  bool poststart_hooks = false;  // config.Hooks.poststart is not empty
  bool poststop_hooks = false;   // config.Hooks.poststop is not empty
  bool systemd_cgroup = false;   // the systemd cgroup driver (a unit to stop: D-Bus)
  bool rootless = false;
  bool intel_rdt = false;   // an Intel RDT group to remove
  bool own_pid_ns = false;  // a new PID namespace (no path): init's death killed the rest
  std::vector<std::string> cgroup_paths;  // cgroup_paths' values: what runc's destroy removes
};
// Parses runc's state.json. False when the text is no such record (another runtime's format, or
// a runc that changed it): init_process_pid, config (with namespaces and cgroups) and
// cgroup_paths must be there with the types runc 1.0-1.1 writes.
bool ParseRuncState(std::string_view json_text, RuncState* out);

}  // namespace lcdmon
