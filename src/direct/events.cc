#include "direct/events.h"

#include <dirent.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <thread>
#include <vector>

#include "direct/monitor_client.h"
#include "direct/runtime.h"
#include "libcontainerd/log.h"

namespace libcontainerd::direct {
namespace {

// The user's Backend, plus the .delivered marker of an exit once ProcessEvent has returned.
class MarkingBackend final : public Backend {
 public:
  MarkingBackend(std::shared_ptr<Backend> user, Layout layout)
      : user_(std::move(user)), layout_(std::move(layout)) {}
  void ProcessEvent(const std::string& id, EventType type, const EventInfo& info) override {
    try {
      user_->ProcessEvent(id, type, info);
    } catch (...) {
      Mark(id, type, info);  // the dispatcher logs it; the exit was delivered all the same
      throw;
    }
    Mark(id, type, info);
  }

 private:
  void Mark(const std::string& id, EventType type, const EventInfo& info) noexcept {
    if (type != EventType::kExit) return;
    const std::string exec = info.process_id == id ? std::string() : info.process_id;
    MarkExitDelivered(layout_.TaskDir(id), exec,
                      info.pid == events::TaskTracker::kUnknownPid ? 0 : info.pid);
  }
  std::shared_ptr<Backend> user_;
  Layout layout_;
};

uint32_t Pid(const nlohmann::json& j) {
  auto it = j.find("pid");
  return it != j.end() && it->is_number_unsigned() ? it->get<uint32_t>() : 0;
}

}  // namespace

Events::Events(Layout layout, std::shared_ptr<Backend> backend) : layout_(std::move(layout)) {
  if (!backend) return;
  enabled_ = true;
  dispatcher_ = std::make_unique<events::Dispatcher>(
      std::make_shared<MarkingBackend>(std::move(backend), layout_));
  wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_) ThrowErrno(ErrorKind::kUnknown, errno, "eventfd");
  thread_ = std::thread([this] { Run(); });
}

Events::~Events() { Shutdown(); }

void Events::Shutdown() {
  {
    std::lock_guard l(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  flush_cv_.notify_all();
  Wake();
  if (thread_.joinable()) thread_.join();
  std::unique_ptr<events::Dispatcher> dispatcher;
  {
    std::lock_guard l(mu_);
    subs_.clear();
    dispatcher = std::move(dispatcher_);
  }
  dispatcher.reset();  // delivers what is queued, joins its workers
}

void Events::Wake() {
  if (!wake_) return;
  uint64_t one = 1;
  ssize_t n = ::write(wake_.get(), &one, sizeof one);
  (void)n;
}

void Events::Watch(const ContainerRecord& rec) {
  if (!enabled()) return;
  const std::string task_dir = layout_.TaskDir(rec.id);
  const uint32_t monitor_pid = ReadPidFile(task_dir + "/monitor.pid");
  {
    std::lock_guard l(mu_);
    if (stopping_) return;
    for (const auto& [fd, s] : subs_)
      if (s.rec.id == rec.id && s.monitor_pid == monitor_pid) return;  // watched already
  }
  try {
    UniqueFd fd = Subscribe(task_dir, Context::WithTimeout(std::chrono::seconds(10)),
                            {.op = "subscribe", .container_id = rec.id});
    std::lock_guard l(mu_);
    if (stopping_) return;
    const int n = fd.get();
    subs_[n] = Sub{std::move(fd), rec, monitor_pid, false};
  } catch (const Error& e) {
    // Its socket refused us: a monitor that is exiting may not be a zombie yet.
    if (IsMonitorGone(e) && MonitorDead(task_dir, std::chrono::seconds(2))) {
      if (ReadPidFile(task_dir + "/monitor.pid") != 0) DeliverDeadTask(rec, task_dir);
      return;
    }
    Log(LogLevel::kWarning, "container " + rec.id + ": no event subscription: " + e.what());
    return;
  }
  Wake();
}

void Events::Deleting(const std::string& id, bool deleting) {
  std::lock_guard l(mu_);
  for (auto& [fd, s] : subs_)
    if (s.rec.id == id) s.deleting = deleting;
}

bool Events::Subscribed(const std::string& id) {
  std::lock_guard l(mu_);
  for (const auto& [fd, s] : subs_)
    if (s.rec.id == id) return true;
  return false;
}

bool Events::Flush(std::chrono::milliseconds timeout) {
  std::unique_lock l(mu_);
  if (stopping_ || !thread_.joinable()) return false;
  const uint64_t want = ++flush_requested_;
  l.unlock();
  Wake();
  l.lock();
  return flush_cv_.wait_for(l, timeout, [&] { return stopping_ || flush_done_ >= want; }) &&
         !stopping_;
}

void Events::Report(EventType type, EventInfo info, bool confirmed,
                    std::chrono::steady_clock::time_point arrived) {
  if (!enabled()) return;
  if (type == EventType::kExit) {
    auto verdict = tracker_.OnExit(info, confirmed);
    if (verdict != events::TaskTracker::Verdict::kDeliver) {
      Log(LogLevel::kDebug,
          "exit of " + info.container_id + "/" + info.process_id + " pid " +
              std::to_string(info.pid) + " dropped: " +
              (verdict == events::TaskTracker::Verdict::kDuplicate ? "delivered already"
                                                                   : "stale"));
      return;
    }
  }
  // Under mu_: Shutdown takes the dispatcher away under it (an exit reported while the Client
  // is being destroyed is still delivered by the dispatcher's destructor).
  std::lock_guard l(mu_);
  if (!dispatcher_ || (stopping_ && type != EventType::kExit)) return;
  dispatcher_->Post(type, std::move(info), arrived);
}

void Events::HandleMessage(const std::string& id, const nlohmann::json& ev,
                           std::chrono::steady_clock::time_point arrived) {
  const std::string name = ev.value("event", "");
  const std::string exec = ev.value("exec", "");
  EventInfo info;
  info.container_id = id;
  info.process_id = exec.empty() ? id : exec;
  info.pid = Pid(ev);
  if (name == "exit") {
    info.exit_code = ev.value("status", 255u);
    info.exited_at = FromUnixNanos(ev.value("exited_at", int64_t{0}));
    info.error = ev.value("error", "");
    Report(EventType::kExit, std::move(info), false, arrived);
  } else if (name == "start") {
    tracker_.TrackTaskIfKnown(id, info.pid);
    Report(EventType::kStart, std::move(info), false, arrived);
  } else if (name == "exec-added") {
    Report(EventType::kExecAdded, std::move(info), false, arrived);
  } else if (name == "exec-started") {
    tracker_.TrackExecIfKnown(id, exec, info.pid);
    Report(EventType::kExecStarted, std::move(info), false, arrived);
  } else if (name == "paused" || name == "resumed" || name == "oom") {
    EventInfo bare;
    bare.container_id = id;
    Report(name == "paused"    ? EventType::kPaused
           : name == "resumed" ? EventType::kResumed
                               : EventType::kOOM,
           std::move(bare), false, arrived);
  } else {
    Log(LogLevel::kDebug, "container " + id + ": unknown monitor event \"" + name + "\" skipped");
  }
}

void Events::DeliverDeadTask(const ContainerRecord& rec, const std::string& task_dir) {
  const ExitRecord r = FinishDeadTask(rec, task_dir);
  if (ExitDelivered(task_dir, "")) return;
  EventInfo info;
  info.container_id = rec.id;
  info.process_id = rec.id;
  info.pid = r.pid != 0 ? r.pid : events::TaskTracker::kUnknownPid;
  info.exit_code = r.status;
  info.exited_at = r.exited_at;
  info.error = r.error;
  if (r.pid != 0) tracker_.TrackTaskIfKnown(rec.id, r.pid);
  Report(EventType::kExit, std::move(info));
}

void Events::OnClosed(Sub sub) {
  if (sub.deleting) return;
  {
    std::lock_guard l(mu_);
    if (stopping_) return;
  }
  const std::string task_dir = layout_.TaskDir(sub.rec.id);
  // A monitor that closes its socket is exiting: give it a moment to be gone.
  for (int i = 0; i < 100 && ProcessAlive(sub.monitor_pid); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (ProcessAlive(sub.monitor_pid)) {
    Log(LogLevel::kWarning, "container " + sub.rec.id + ": its monitor (pid " +
                                std::to_string(sub.monitor_pid) +
                                ") closed the event stream but lives on");
    return;
  }
  if (ReadPidFile(task_dir + "/monitor.pid") != sub.monitor_pid) return;  // deleted, or a new task
  DeliverDeadTask(sub.rec, task_dir);
}

void Events::Run() {
  std::vector<pollfd> fds;
  std::vector<std::string> ids;
  for (;;) {
    fds.assign(1, pollfd{wake_.get(), POLLIN, 0});
    ids.assign(1, "");
    uint64_t flush = 0;  // the Flush requests this pass answers (made before its poll)
    {
      std::lock_guard l(mu_);
      if (stopping_) return;
      flush = flush_requested_;
      for (const auto& [fd, s] : subs_) {
        fds.push_back(pollfd{fd, POLLIN, 0});
        ids.push_back(s.rec.id);
      }
    }
    // A Flush waits for this pass: no blocking in poll (what it waits for is readable already).
    int rc = ::poll(fds.data(), fds.size(), flush > flush_done_ ? 0 : -1);
    if (rc < 0) {
      if (errno == EINTR) continue;
      Log(LogLevel::kError, std::string("direct events: poll failed: ") + std::strerror(errno));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    if (fds[0].revents) {
      uint64_t v;
      ssize_t n = ::read(wake_.get(), &v, sizeof v);
      (void)n;
    }
    // A pass that answers a Flush reads each stream to its end; others read 64 events of a
    // stream, then let the others have a turn.
    const int per_pass = flush > flush_done_ ? INT_MAX : 64;
    for (size_t i = 1; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      const int fd = fds[i].fd;
      bool closed = false;
      try {
        for (int k = 0; k < per_pass; ++k) {
          auto ev = ReadEvent(fd);
          if (!ev) break;
          if (ev->is_object()) HandleMessage(ids[i], *ev, std::chrono::steady_clock::now());
        }
      } catch (const Error& e) {
        closed = true;
        if (!IsMonitorGone(e))
          Log(LogLevel::kWarning, "container " + ids[i] + ": event stream failed: " + e.what());
      }
      if (!closed && (fds[i].revents & (POLLHUP | POLLERR)) && !(fds[i].revents & POLLIN))
        closed = true;
      if (closed) {
        std::optional<Sub> sub;
        {
          std::lock_guard l(mu_);
          auto it = subs_.find(fd);
          if (it != subs_.end()) {
            sub = std::move(it->second);
            subs_.erase(it);
          }
        }
        if (sub) OnClosed(std::move(*sub));
      }
    }
    if (flush > flush_done_) {
      {
        std::lock_guard l(mu_);
        flush_done_ = flush;
      }
      flush_cv_.notify_all();
    }
  }
}

void Events::ScanNamespace() {
  if (!enabled()) return;
  std::vector<std::string> ids;
  try {
    ids = ListContainerIds(layout_);
  } catch (const Error& e) {
    Log(LogLevel::kWarning,
        std::string("namespace scan for undelivered exits failed: ") + e.what());
    return;
  }
  for (const auto& id : ids) {
    const std::string task_dir = layout_.TaskDir(id);
    if (::access(task_dir.c_str(), F_OK) != 0) continue;
    std::optional<ContainerRecord> rec;
    try {
      rec = LoadRecord(layout_, id);
    } catch (const Error& e) {
      Log(LogLevel::kWarning, e.what());
    }
    if (!rec) continue;
    tracker_.TrackContainer(id);
    const uint32_t init_pid = ReadPidFile(task_dir + "/init.pid");
    if (init_pid) tracker_.TrackTask(id, init_pid);
    bool init_record = false;
    if (DIR* d = ::opendir(ExitDir(task_dir).c_str())) {
      std::vector<std::string> names;
      while (auto* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n == "." || n == ".." || n.ends_with(".delivered") || n.find(".tmp") != n.npos)
          continue;
        names.push_back(n);
      }
      ::closedir(d);
      for (const auto& n : names) {
        const std::string exec = n == "init" ? "" : n;
        init_record |= exec.empty();
        auto r = ReadExit(task_dir, exec);
        if (!r || ExitDelivered(task_dir, exec)) continue;
        EventInfo info;
        info.container_id = id;
        info.process_id = exec.empty() ? id : exec;
        info.pid = r->pid;
        info.exit_code = r->status;
        info.exited_at = r->exited_at;
        info.error = r->error;
        if (exec.empty()) {
          if (r->pid) tracker_.TrackTask(id, r->pid);
        } else {
          tracker_.TrackExec(id, exec, r->pid);
        }
        Log(LogLevel::kInfo,
            "container " + id + ": exit of " + n + " recorded while no Client ran: delivering it");
        // A record in this task's directory is this task's exit, never a stale one (its pid
        // may be 0 when its monitor died before learning it).
        Report(EventType::kExit, std::move(info), /*confirmed=*/true);
      }
    }
    if (!init_record && ReadPidFile(task_dir + "/monitor.pid") != 0 && MonitorDead(task_dir))
      DeliverDeadTask(*rec, task_dir);
  }
}

}  // namespace libcontainerd::direct
