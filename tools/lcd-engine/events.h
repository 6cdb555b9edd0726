// lcd-engine: the engine's event log (docker's /events): container, image and network events in
// order, kept in memory (the last kHistory) for since/until, and followed by subscribers.
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace lcde {

struct Event {
  std::string type;    // "container", "image", "network", "volume"
  std::string action;  // "create", "start", "die", "destroy", "pull", "tag", "connect", ...
  std::string id;      // the actor's id (container id, image reference, network id)
  std::map<std::string, std::string> attributes;  // name, image, exitCode, signal, ...
  int64_t time_nano = 0;                          // set by Publish when 0
  uint64_t seq = 0;                               // set by Publish: 1, 2, ...
};

// docker's JSON form of an event (status/id/from for containers, Type/Action/Actor/scope/time/
// timeNano), one line without the newline.
std::string EventJson(const Event& e);

class EventBus {
 public:
  static constexpr size_t kHistory = 4096;

  void Publish(Event e);
  // Events with time in [since, until] (nanoseconds; until 0 = no bound) kept in history.
  std::vector<Event> History(int64_t since_nano, int64_t until_nano) const;
  // The sequence number of the last event published (0 before any).
  uint64_t LastSeq() const;
  // Waits until an event with seq > after exists or timeout passes; returns the events after
  // `after` still in history (empty on timeout).
  std::vector<Event> WaitAfter(uint64_t after, std::chrono::milliseconds timeout) const;

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::deque<Event> history_;
  uint64_t seq_ = 0;
};

}  // namespace lcde
