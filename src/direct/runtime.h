// Internal: what the library itself runs of the OCI runtime (version, the clean-up after a dead
// monitor), finding binaries, and the state every object of a direct Client shares.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "direct/records.h"
#include "libcontainerd/net.h"

namespace libcontainerd::direct {

class Events;

// Shared by the Client and every object it returns (they keep it alive).
struct State {
  Layout layout;
  std::string runtime;       // default OCI runtime binary (absolute path)
  std::string runtime_root;  // default --root of the runtime
  std::string monitor;       // lcd-monitor (absolute path)
  std::shared_ptr<net::Manager> network;
  std::unique_ptr<Events> events;  // always set; inert without a Backend
  std::atomic<bool> closed{false};

  // Throws Error{kUnavailable} ("client closed") once the Client is destroyed.
  void CheckOpen(const char* op, const std::string& container_id = {}) const;
  ~State();
};

// An absolute path of `name` (a path, or a name looked up in PATH) when it is an executable
// file; "" otherwise.
std::string FindExecutable(const std::string& name);

struct RunResult {
  int exit_code = -1;
  std::string out, err;
};
// Runs the runtime binary with `args` (stdout/stderr captured). Throws kNotFound for a missing
// binary.
RunResult RunRuntime(const std::string& runtime, const std::string& root,
                     const std::vector<std::string>& args);

// The monitor of a task is dead without having finished: does what it would have done (runtime
// kill and delete --force, best effort) and makes sure exit/init holds a record: the monitor's
// own, or status 255 with an error saying the status is unknown. Returns that record.
// Idempotent and safe against other Clients doing the same at the same time.
ExitRecord FinishDeadTask(const ContainerRecord& rec, const std::string& task_dir);

// True when the task directory's monitor is dead (its pid file names no live process).
// `grace`: how long to wait for a monitor that is exiting (its socket already gone, while its
// process still frees its memory and is not yet a zombie) to be dead.
bool MonitorDead(const std::string& task_dir,
                 std::chrono::milliseconds grace = std::chrono::milliseconds(0));

}  // namespace libcontainerd::direct
