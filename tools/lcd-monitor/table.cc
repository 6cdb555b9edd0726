#include "table.h"

#include "process_io.h"

namespace lcdmon {

Proc::Proc() = default;
Proc::~Proc() = default;
Proc::Proc(Proc&&) noexcept = default;
Proc& Proc::operator=(Proc&&) noexcept = default;

Proc* ProcessTable::Find(std::string_view id) {
  auto it = procs_.find(id);
  return it == procs_.end() ? nullptr : &it->second;
}

Proc* ProcessTable::FindLive(int pid) {
  if (pid <= 0) return nullptr;
  for (auto& [id, p] : procs_)
    if (p.pid == pid && p.state != ProcState::kStopped) return &p;
  return nullptr;
}

Proc& ProcessTable::Add(const std::string& id) {
  Proc& p = procs_[id];
  p.id = id;
  return p;
}

void ProcessTable::Remove(std::string_view id) {
  if (auto it = procs_.find(id); it != procs_.end()) procs_.erase(it);
}

Proc* ProcessTable::Reaped(int pid, int status, int64_t at) {
  if (Proc* p = FindLive(pid)) {
    p->state = ProcState::kStopped;
    p->exit_status = status;
    p->exited_at = at;
    return p;
  }
  for (auto& o : orphans_)
    if (o.pid == pid) {  // a pid reused since: the newer exit wins
      o = {pid, status, at};
      return nullptr;
    }
  if (orphans_.size() >= kMaxOrphans) orphans_.erase(orphans_.begin());
  orphans_.push_back({pid, status, at});
  return nullptr;
}

bool ProcessTable::SetPid(Proc& p, int pid) {
  p.pid = pid;
  for (auto it = orphans_.begin(); it != orphans_.end(); ++it) {
    if (it->pid != pid) continue;
    p.state = ProcState::kStopped;
    p.exit_status = it->status;
    p.exited_at = it->at;
    orphans_.erase(it);
    return true;
  }
  return false;
}

}  // namespace lcdmon
