#include "events/dispatcher.h"

#include "libcontainerd/log.h"

namespace libcontainerd::events {

Dispatcher::Dispatcher(std::shared_ptr<Backend> backend) : backend_(std::move(backend)) {
  for (int i = 0; i < kWorkers; ++i) workers_.emplace_back([this] { Work(); });
}

Dispatcher::~Dispatcher() {
  {
    std::lock_guard l(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

bool Dispatcher::Post(EventType type, EventInfo info) {
  std::unique_lock l(mu_);
  if (stopping_) return false;
  if (pending_ >= kMaxPending && type != EventType::kExit) {
    l.unlock();
    Log(LogLevel::kWarning, "event dropped (" + std::to_string(kMaxPending) +
                                " events pending: the Backend is too slow): " + std::string(ToString(type)) +
                                " of " + info.container_id);
    return false;
  }
  std::string id = info.container_id;
  auto& q = queues_[id];
  q.items.push_back({type, std::move(info)});
  ++pending_;
  if (!q.scheduled) {
    q.scheduled = true;
    ready_.push_back(std::move(id));
    cv_.notify_one();
  }
  return true;
}

void Dispatcher::Work() {
  std::unique_lock l(mu_);
  for (;;) {
    cv_.wait(l, [this] { return stopping_ || !ready_.empty(); });
    if (ready_.empty()) return;  // stopping, and everything posted was delivered
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
        Log(LogLevel::kError, "Backend::ProcessEvent threw for " + item.info.container_id + ": " + e.what());
      } catch (...) {
        Log(LogLevel::kError, "Backend::ProcessEvent threw a non-std exception for " + item.info.container_id);
      }
      l.lock();
      --pending_;
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

}  // namespace libcontainerd::events
