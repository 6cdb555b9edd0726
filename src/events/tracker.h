// Which task instances a Client knows (created, loaded or attached), with the pids that make
// an instance: used to reconcile after a stream gap, to drop duplicate exits and stale exits
// of replaced tasks. Thread-safe; never calls out while holding its lock.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "libcontainerd/types.h"

namespace libcontainerd::events {

class TaskTracker {
 public:
  // A process of a task: exec_id empty for init.
  struct Instance {
    std::string container_id;
    std::string exec_id;
    uint32_t pid = 0;  // 0: not known yet
  };

  // The container is of interest (NewContainer/LoadContainer); its task pid is unknown.
  void TrackContainer(const std::string& container_id);
  // A new init process (NewTask, /tasks/create) or a known one (GetTask/AttachTask).
  void TrackTask(const std::string& container_id, uint32_t pid);
  void TrackExec(const std::string& container_id, const std::string& exec_id, uint32_t pid);
  // The same, but only for containers already tracked (events about other clients' containers
  // are delivered without being tracked).
  void TrackTaskIfKnown(const std::string& container_id, uint32_t pid);
  void TrackExecIfKnown(const std::string& container_id, const std::string& exec_id, uint32_t pid);
  // The container's task is being replaced (a half-created one cleared before a new create):
  // init exits are stale until the next task is tracked.
  void ReplacingTask(const std::string& container_id);
  // The process was deleted through this client: forget it (and, for init, its execs).
  void UntrackProcess(const std::string& container_id, const std::string& exec_id);
  void UntrackContainer(const std::string& container_id);

  // Every instance to reconcile: tracked processes whose exit was not delivered.
  std::vector<Instance> Snapshot() const;

  // Decides whether an exit may be delivered, and records it. Not for a duplicate (same
  // container, process id and pid) or a stale init exit (pid differs from the current task's).
  // An init exit with pid 0 or kUnknownPid (containerd's clean-up after a dead shim that could
  // not learn the pid) is the current task's exit when one is known and has not exited (then
  // also remembered under its pid), stale when none is known, a duplicate when its exit was
  // delivered.
  static constexpr uint32_t kUnknownPid = 0xFFFFFFFF;  // -1 from a missing init.pid
  enum class Verdict { kDeliver, kDuplicate, kStale };
  // `confirmed`: the exit comes from a Delete of exactly this instance, so it cannot be stale
  // (only a duplicate), even when a newer task of the container is tracked by now.
  Verdict OnExit(const EventInfo& info, bool confirmed = false);

  // The exit delivered for a process instance (exec_id empty: init), if any is remembered:
  // what Delete reports when the daemon has already forgotten the process.
  std::optional<ExitStatus> DeliveredExit(const std::string& container_id,
                                          const std::string& exec_id, uint32_t pid) const;

  size_t size() const;

 private:
  using Key = std::tuple<std::string, std::string, uint32_t>;  // container, process id, pid
  struct Entry {
    uint32_t init_pid = 0;
    bool init_exited = false;
    bool replacing = false;                 // see ReplacingTask
    std::map<std::string, uint32_t> execs;  // exec id -> pid
  };
  void Remember(const Key& k, const ExitStatus& st);

  mutable std::mutex mu_;
  std::map<std::string, Entry> containers_;
  std::map<Key, ExitStatus> delivered_;
  std::deque<Key> delivered_order_;  // bounded memory: oldest keys forgotten first
  static constexpr size_t kMaxRemembered = 16384;
};

}  // namespace libcontainerd::events
