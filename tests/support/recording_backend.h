// A Backend that records every event, for tests: thread-safe, with waits on predicates.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "libcontainerd/client.h"

namespace lcdtest {

struct Recorded {
  std::string container_id;
  libcontainerd::EventType type;
  libcontainerd::EventInfo info;
  std::chrono::steady_clock::time_point at;
};

class RecordingBackend : public libcontainerd::Backend {
 public:
  using Hook = std::function<void(const std::string&, libcontainerd::EventType)>;
  // Sets the hook run inside ProcessEvent before recording (e.g. to block one container).
  // Thread-safe: the dispatcher's workers may be delivering meanwhile (TSan saw a plain field
  // written by the test while a worker read it).
  void SetBefore(Hook hook) {
    std::lock_guard l(mu_);
    before_ = std::make_shared<const Hook>(std::move(hook));
  }

  void ProcessEvent(const std::string& id, libcontainerd::EventType type,
                    const libcontainerd::EventInfo& info) override {
    std::shared_ptr<const Hook> before;
    {
      std::lock_guard l(mu_);
      before = before_;
    }
    if (before && *before) (*before)(id, type);  // not under mu_: the hook may block
    std::lock_guard l(mu_);
    events_.push_back({id, type, info, std::chrono::steady_clock::now()});
    cv_.notify_all();
  }

  std::vector<Recorded> Events() {
    std::lock_guard l(mu_);
    return events_;
  }
  std::vector<Recorded> For(const std::string& id) {
    std::lock_guard l(mu_);
    std::vector<Recorded> out;
    for (const auto& e : events_)
      if (e.container_id == id) out.push_back(e);
    return out;
  }
  int Count(const std::string& id, libcontainerd::EventType type) {
    int n = 0;
    for (const auto& e : For(id)) n += e.type == type;
    return n;
  }
  // Waits until pred(events) holds or timeout; returns pred's last value.
  bool WaitFor(const std::function<bool(const std::vector<Recorded>&)>& pred,
               std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) {
    std::unique_lock l(mu_);
    return cv_.wait_for(l, timeout, [&] { return pred(events_); });
  }
  bool WaitForEvent(const std::string& id, libcontainerd::EventType type, int count = 1,
                    std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) {
    return WaitFor(
        [&](const std::vector<Recorded>& evs) {
          int n = 0;
          for (const auto& e : evs) n += e.container_id == id && e.type == type;
          return n >= count;
        },
        timeout);
  }

 private:
  std::shared_ptr<const Hook> before_;  // under mu_
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Recorded> events_;
};

}  // namespace lcdtest
