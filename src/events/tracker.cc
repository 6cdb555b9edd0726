#include "events/tracker.h"

namespace libcontainerd::events {

void TaskTracker::TrackContainer(const std::string& id) {
  std::lock_guard l(mu_);
  containers_.try_emplace(id);
}

void TaskTracker::TrackTask(const std::string& id, uint32_t pid) {
  std::lock_guard l(mu_);
  auto& e = containers_[id];
  e.replacing = false;
  if (e.init_pid != pid) {
    e.init_pid = pid;
    e.init_exited = delivered_.count(Key{id, id, pid}) > 0;
    e.execs.clear();
  }
}

void TaskTracker::TrackExec(const std::string& id, const std::string& exec_id, uint32_t pid) {
  std::lock_guard l(mu_);
  containers_[id].execs[exec_id] = pid;
}

void TaskTracker::TrackTaskIfKnown(const std::string& id, uint32_t pid) {
  {
    std::lock_guard l(mu_);
    if (!containers_.count(id)) return;
  }
  TrackTask(id, pid);
}

void TaskTracker::TrackExecIfKnown(const std::string& id, const std::string& exec_id,
                                   uint32_t pid) {
  std::lock_guard l(mu_);
  auto it = containers_.find(id);
  if (it != containers_.end()) it->second.execs[exec_id] = pid;
}

void TaskTracker::ReplacingTask(const std::string& id) {
  std::lock_guard l(mu_);
  auto& e = containers_[id];
  e.replacing = true;
  e.init_pid = 0;
  e.init_exited = false;
  e.execs.clear();
}

void TaskTracker::UntrackProcess(const std::string& id, const std::string& exec_id) {
  std::lock_guard l(mu_);
  auto it = containers_.find(id);
  if (it == containers_.end()) return;
  if (exec_id.empty()) {
    it->second.init_pid = 0;
    it->second.init_exited = false;
    it->second.execs.clear();
  } else {
    it->second.execs.erase(exec_id);
  }
}

void TaskTracker::UntrackContainer(const std::string& id) {
  std::lock_guard l(mu_);
  containers_.erase(id);
}

std::vector<TaskTracker::Instance> TaskTracker::Snapshot() const {
  std::lock_guard l(mu_);
  std::vector<Instance> out;
  for (const auto& [id, e] : containers_) {
    if (!e.init_exited) out.push_back({id, "", e.init_pid});
    for (const auto& [exec, pid] : e.execs)
      if (!delivered_.count(Key{id, exec, pid})) out.push_back({id, exec, pid});
  }
  return out;
}

void TaskTracker::Remember(const Key& k, const ExitStatus& st) {
  if (!delivered_.emplace(k, st).second) return;
  delivered_order_.push_back(k);
  if (delivered_order_.size() > kMaxRemembered) {
    delivered_.erase(delivered_order_.front());
    delivered_order_.pop_front();
  }
}

TaskTracker::Verdict TaskTracker::OnExit(const EventInfo& info, bool confirmed) {
  std::lock_guard l(mu_);
  Key k{info.container_id, info.process_id, info.pid};
  if (delivered_.count(k)) return Verdict::kDuplicate;
  auto it = containers_.find(info.container_id);
  if (confirmed) {
    if (it != containers_.end() && info.process_id == info.container_id &&
        it->second.init_pid == info.pid)
      it->second.init_exited = true;
  } else if (info.process_id == info.container_id && it != containers_.end()) {
    auto& e = it->second;
    if (e.replacing) return Verdict::kStale;
    // containerd's clean-up after a dead shim reports the task's exit itself, with the pid
    // `shim delete` read from the bundle: 0 when that call failed, 0xFFFFFFFF (-1) when the
    // pid file was gone. For a running task of ours that is its exit: delivered once, as
    // containerd sends it (as moby does), and remembered under the task's pid too, so the same
    // exit from a Delete, the stream or reconciliation is a duplicate. Without a known running
    // task (a shim whose create never finished, e.g. the leftover NewTask clears after a
    // daemon crash) no process of ours ran: stale.
    if (info.pid == 0 || info.pid == kUnknownPid) {
      if (e.init_pid == 0) return Verdict::kStale;
      if (e.init_exited) return Verdict::kDuplicate;  // its exit was delivered already
      e.init_exited = true;
      Remember(Key{info.container_id, info.container_id, e.init_pid},
               {info.exit_code, info.exited_at});
      Remember(k, {info.exit_code, info.exited_at});
      return Verdict::kDeliver;
    }
    if (e.init_pid != 0 && e.init_pid != info.pid) return Verdict::kStale;
    if (e.init_pid == 0) e.init_pid = info.pid;
    e.init_exited = true;
  }
  Remember(k, {info.exit_code, info.exited_at});
  return Verdict::kDeliver;
}

std::optional<ExitStatus> TaskTracker::DeliveredExit(const std::string& id,
                                                     const std::string& exec_id,
                                                     uint32_t pid) const {
  std::lock_guard l(mu_);
  auto it = delivered_.find(Key{id, exec_id.empty() ? id : exec_id, pid});
  if (it == delivered_.end()) return std::nullopt;
  return it->second;
}

size_t TaskTracker::size() const {
  std::lock_guard l(mu_);
  return containers_.size();
}

}  // namespace libcontainerd::events
