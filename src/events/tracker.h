// Which task instances a Client knows (created, loaded or attached), with the pids that make
// an instance: used to reconcile after a stream gap, to drop duplicate exits and stale exits
// of replaced tasks. Thread-safe; never calls out while holding its lock.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <set>
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
  // The process was deleted through this client: forget it (and, for init, its execs).
  void UntrackProcess(const std::string& container_id, const std::string& exec_id);
  void UntrackContainer(const std::string& container_id);

  // Every instance to reconcile: tracked processes whose exit was not delivered.
  std::vector<Instance> Snapshot() const;

  // Decides whether an exit may be delivered, and records it. False for a duplicate (same
  // container, process id and pid) or a stale init exit (pid differs from the current task's).
  enum class Verdict { kDeliver, kDuplicate, kStale };
  Verdict OnExit(const EventInfo& info);

  size_t size() const;

 private:
  using Key = std::tuple<std::string, std::string, uint32_t>;  // container, process id, pid
  struct Entry {
    uint32_t init_pid = 0;
    bool init_exited = false;
    std::map<std::string, uint32_t> execs;  // exec id -> pid
  };
  void Remember(const Key& k);

  mutable std::mutex mu_;
  std::map<std::string, Entry> containers_;
  std::set<Key> delivered_;
  std::deque<Key> delivered_order_;  // bounded memory: oldest keys forgotten first
  static constexpr size_t kMaxRemembered = 16384;
};

}  // namespace libcontainerd::events
