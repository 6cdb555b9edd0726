// lcd-monitor: OOM notifications of the container's memory cgroup. cgroup v1: an eventfd
// registered for memory.oom_control through cgroup.event_control; cgroup v2: the oom_kill counter
// of memory.events, watched with inotify.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "fd.h"

namespace lcdmon {

// The container's memory cgroup directory, as runc's cgroupfs driver places it:
// `cgroups_path` (linux.cgroupsPath of config.json) under the v1 memory hierarchy
// (<root>/memory/...) or the v2 root; a relative path (or "" meaning the container id) is taken
// under the monitor's own cgroup, read from `self_cgroup` (/proc/self/cgroup's text). Returns ""
// when it cannot be known (systemd's "slice:prefix:name" form, or no such line).
std::string MemoryCgroupDir(std::string_view cgroups_path, std::string_view id,
                            std::string_view self_cgroup, bool v2,
                            std::string_view root = "/sys/fs/cgroup");

// The oom_kill counter of a cgroup v2 memory.events text. False if there is none.
bool ParseOomKill(std::string_view memory_events, uint64_t* count);

// Not thread-safe (the monitor is one thread).
class OomWatch {
 public:
  // Starts watching the memory cgroup of the container. Returns "" or why it cannot (then fd()
  // is -1 and no OOM is reported).
  std::string Start(std::string_view cgroups_path, std::string_view id);
  // The fd to poll for POLLIN, or -1.
  int fd() const { return notify_.get(); }
  // Called when fd() is readable: true if the container had an OOM kill. When the cgroup was
  // removed (v1 signals that too) the watch ends: fd() becomes -1.
  bool OnReadable();

 private:
  void Stop();

  bool v2_ = false;
  std::string dir_;
  Fd notify_;               // v1: the eventfd; v2: the inotify fd
  Fd oom_control_;          // v1: memory.oom_control, open while registered
  uint64_t oom_kills_ = 0;  // v2: the last counter seen
};

}  // namespace lcdmon
