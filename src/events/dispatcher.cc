#include "events/dispatcher.h"

#include <bit>

#include "libcontainerd/log.h"

namespace libcontainerd::events {

Dispatcher::Dispatcher(std::shared_ptr<Backend> backend) : backend_(std::move(backend)) {
  {
    std::lock_guard l(mu_);
    starting_ = kMinWorkers;
  }
  StartWorkers(kMinWorkers);
}

Dispatcher::~Dispatcher() {
  std::map<std::thread::id, std::thread> workers;
  {
    std::unique_lock l(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  // No worker is decided on once stopping_ is set; those decided before are registered once
  // starting_ is 0, so this takes every thread there will be.
  std::unique_lock l(mu_);
  idle_cv_.wait(l, [this] { return starting_ == 0; });
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

void Dispatcher::StartWorkers(int n) {
  // Creating a thread takes the process's memory-map lock and may wait for the scheduler: not
  // with mu_ held, where it would hold up every worker fetching its next event.
  for (int i = 0; i < n; ++i) {
    std::thread t;
    try {
      t = std::thread([this] { Work(); });
    } catch (const std::exception& e) {
      // No thread to be had (RLIMIT_NPROC): the events wait for a worker that is running.
      Log(LogLevel::kError, std::string("event dispatcher: cannot start a worker: ") + e.what());
    }
    {
      std::lock_guard l(mu_);
      if (t.joinable()) workers_.emplace(t.get_id(), std::move(t));
      --starting_;
    }
    idle_cv_.notify_all();  // the destructor waits for starting_ == 0
  }
}

void Dispatcher::JoinRetired() {
  std::vector<std::thread> done;
  {
    std::lock_guard l(mu_);
    done.swap(retired_);
  }
  for (auto& t : done) t.join();  // each has left Work() (it only unlocks mu_ on return)
}

bool Dispatcher::Post(EventType type, EventInfo info,
                      std::chrono::steady_clock::time_point arrived) {
  bool wake = false, start = false, join = false;
  {
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
        Log(LogLevel::kWarning,
            std::to_string(kMaxPending) +
                " events wait for the Backend (it is too slow): dropping events other than exits "
                "until the queues shrink; first dropped: " +
                std::string(ToString(type)) + " of " + info.container_id);
      return false;
    }
    join = !retired_.empty();
    auto it = queues_.find(info.container_id);
    if (it == queues_.end()) it = queues_.emplace(info.container_id, Queue{}).first;
    Queue& q = it->second;
    const bool schedule = !q.scheduled;
    info.received = arrived;
    q.items.push_back({type, std::move(info)});
    ++pending_;
    if (schedule) {
      q.scheduled = true;
      ready_.push_back(it->first);
      // Every ready container needs a worker of its own: a waiting one not yet woken for
      // another (woken ones no longer count as idle), else a new one (all are busy, e.g.
      // blocked inside ProcessEvent), up to the cap.
      if (idle_ > 0) {
        --idle_;
        ++wakeups_;
        wake = true;
      } else if (static_cast<int>(workers_.size()) + starting_ < kMaxWorkers) {
        ++starting_;
        start = true;
      }
    }
  }
  // Outside the lock: the woken worker does not wait for it, and thread starts and joins hold
  // up no worker.
  if (wake) cv_.notify_one();
  if (start) StartWorkers(1);
  if (join) JoinRetired();
  return true;
}

void Dispatcher::Work() {
  std::unique_lock l(mu_);
  for (;;) {
    if (ready_.empty()) {
      ++idle_;
      const bool woken = cv_.wait_for(l, kIdleRetire, [this] { return stopping_ || wakeups_ > 0; });
      // idle_ + wakeups_ is the number of waiting workers: a Post that woke one moved it from
      // idle_ to wakeups_ already.
      if (wakeups_ > 0)
        --wakeups_;
      else
        --idle_;
      if (ready_.empty()) {
        if (stopping_) return;  // everything posted was delivered
        if (!woken && static_cast<int>(workers_.size()) > kMinWorkers) {
          // Idle too long above the minimum: leave; the next Post (or the destructor) joins us.
          if (auto it = workers_.find(std::this_thread::get_id()); it != workers_.end()) {
            retired_.push_back(std::move(it->second));
            workers_.erase(it);
            return;
          }
        }
        continue;
      }
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
      ++wait_hist_[WaitBucket(std::chrono::steady_clock::now() - item.info.received)];
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

Dispatcher::WaitHistogram Dispatcher::wait_histogram() const {
  std::lock_guard l(mu_);
  return wait_hist_;
}

size_t Dispatcher::WaitBucket(std::chrono::steady_clock::duration wait) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(wait).count();
  if (us <= 0) return 0;
  // us in [2^(b-1), 2^b): b = bit_width(us).
  const size_t b = static_cast<size_t>(std::bit_width(static_cast<uint64_t>(us)));
  return b < kWaitBuckets ? b : kWaitBuckets - 1;
}

std::chrono::microseconds Dispatcher::WaitQuantile(const WaitHistogram& h, double q) {
  uint64_t total = 0;
  for (uint64_t n : h) total += n;
  if (total == 0) return std::chrono::microseconds(0);
  // The smallest bucket whose cumulative count reaches q of the total.
  const double want = q * static_cast<double>(total);
  uint64_t seen = 0;
  for (size_t b = 0; b < h.size(); ++b) {
    seen += h[b];
    if (static_cast<double>(seen) >= want && seen != 0)
      return std::chrono::microseconds(b == 0 ? 1 : (int64_t{1} << b));
  }
  return std::chrono::microseconds(int64_t{1} << (h.size() - 1));
}

}  // namespace libcontainerd::events
