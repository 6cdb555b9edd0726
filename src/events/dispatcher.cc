#include "events/dispatcher.h"

#include "libcontainerd/log.h"

namespace libcontainerd::events {

Dispatcher::Dispatcher(std::shared_ptr<Backend> backend) : backend_(std::move(backend)) {
  std::lock_guard l(mu_);
  for (int i = 0; i < kMinWorkers; ++i) StartWorker();
}

Dispatcher::~Dispatcher() {
  std::map<std::thread::id, std::thread> workers;
  {
    std::unique_lock l(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  // No worker is started once stopping_ is set, so this takes every thread there will be.
  std::unique_lock l(mu_);
  workers.swap(workers_);
  std::vector<std::thread> retired;
  retired.swap(retired_);
  l.unlock();
  for (auto& [id, t] : workers) t.join();
  for (auto& t : retired) t.join();
  // Workers that retired while being joined above moved themselves to retired_.
  l.lock();
  retired.swap(retired_);
  l.unlock();
  for (auto& t : retired) t.join();
}

void Dispatcher::StartWorker() {
  std::thread t([this] { Work(); });
  auto id = t.get_id();
  workers_.emplace(id, std::move(t));
}

void Dispatcher::JoinRetired(std::unique_lock<std::mutex>& l) {
  if (retired_.empty()) return;
  std::vector<std::thread> done;
  done.swap(retired_);
  l.unlock();
  for (auto& t : done) t.join();  // each has left Work() (it only unlocks mu_ on return)
  l.lock();
}

bool Dispatcher::Post(EventType type, EventInfo info) {
  std::unique_lock l(mu_);
  if (stopping_) {
    l.unlock();
    Log(type == EventType::kExit ? LogLevel::kError : LogLevel::kWarning,
        std::string(ToString(type)) + " event of " + info.container_id +
            " dropped: the Client is being destroyed");
    return false;
  }
  if (pending_ >= kMaxPending && type != EventType::kExit) {
    ++dropped_;
    const bool first = dropped_in_episode_++ == 0;
    l.unlock();
    if (first)
      Log(LogLevel::kWarning, std::to_string(kMaxPending) +
                                  " events wait for the Backend (it is too slow): dropping events "
                                  "other than exits until the queues shrink; first dropped: " +
                                  std::string(ToString(type)) + " of " + info.container_id);
    return false;
  }
  JoinRetired(l);
  std::string id = info.container_id;
  auto& q = queues_[id];
  q.items.push_back({type, std::move(info)});
  ++pending_;
  if (!q.scheduled) {
    q.scheduled = true;
    ready_.push_back(std::move(id));
    // Every free worker will take one ready container; start one more if none is left for
    // this one (all are busy, e.g. blocked inside ProcessEvent), up to the cap.
    if (static_cast<size_t>(idle_) < ready_.size() &&
        static_cast<int>(workers_.size()) < kMaxWorkers)
      StartWorker();
    cv_.notify_one();
  }
  return true;
}

void Dispatcher::Work() {
  std::unique_lock l(mu_);
  for (;;) {
    ++idle_;
    const bool woken =
        cv_.wait_for(l, kIdleRetire, [this] { return stopping_ || !ready_.empty(); });
    --idle_;
    if (ready_.empty()) {
      if (stopping_) return;  // everything posted was delivered
      if (!woken && static_cast<int>(workers_.size()) > kMinWorkers) {
        // Idle too long above the minimum: leave; the next Post (or the destructor) joins us.
        auto it = workers_.find(std::this_thread::get_id());
        retired_.push_back(std::move(it->second));
        workers_.erase(it);
        return;
      }
      continue;
    }
    std::string id = std::move(ready_.front());
    ready_.pop_front();
    ++active_;
    // Drain this container's queue in order; only this worker touches it while scheduled.
    for (;;) {
      auto it = queues_.find(id);
      if (it == queues_.end() || it->second.items.empty()) {
        if (it != queues_.end()) queues_.erase(it);
        break;
      }
      Item item = std::move(it->second.items.front());
      it->second.items.pop_front();
      l.unlock();
      try {
        backend_->ProcessEvent(item.info.container_id, item.type, item.info);
      } catch (const std::exception& e) {
        Log(LogLevel::kError,
            "Backend::ProcessEvent threw for " + item.info.container_id + ": " + e.what());
      } catch (...) {
        Log(LogLevel::kError,
            "Backend::ProcessEvent threw a non-std exception for " + item.info.container_id);
      }
      l.lock();
      --pending_;
      if (dropped_in_episode_ != 0 && pending_ < kMaxPending / 2) {
        const uint64_t n = dropped_in_episode_;
        dropped_in_episode_ = 0;
        l.unlock();
        Log(LogLevel::kWarning, std::to_string(n) +
                                    " events other than exits were dropped while the Backend "
                                    "was too slow; delivering all events again");
        l.lock();
      }
    }
    --active_;
    if (pending_ == 0 && active_ == 0) idle_cv_.notify_all();
  }
}

void Dispatcher::Drain() {
  std::unique_lock l(mu_);
  idle_cv_.wait(l, [this] { return stopping_ || (pending_ == 0 && active_ == 0); });
}

size_t Dispatcher::pending() const {
  std::lock_guard l(mu_);
  return pending_;
}

uint64_t Dispatcher::dropped() const {
  std::lock_guard l(mu_);
  return dropped_;
}

int Dispatcher::workers() const {
  std::lock_guard l(mu_);
  return static_cast<int>(workers_.size());
}

}  // namespace libcontainerd::events
