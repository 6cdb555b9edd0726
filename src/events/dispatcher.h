// Ordered dispatch of events to the user's Backend: events of one container in order, different
// containers in parallel on a fixed pool of workers, never while a lock of ours is held. The
// stream reader only enqueues (never blocks on the Backend).
//
// Memory bound: at most kMaxPending events wait in all queues together. Past that, new events
// other than exits are dropped and logged; exits are always queued (they are what callers
// must not lose, and there is at most one per process).
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "libcontainerd/client.h"

namespace libcontainerd::events {

class Dispatcher {
 public:
  static constexpr size_t kMaxPending = 10000;
  static constexpr int kWorkers = 4;

  explicit Dispatcher(std::shared_ptr<Backend> backend);
  ~Dispatcher();  // refuses new events, delivers every queued one, joins the workers

  // Queues an event. Returns false when it was dropped (bound reached, not an exit).
  bool Post(EventType type, EventInfo info);
  // Blocks until every queued event was delivered (tests, shutdown ordering).
  void Drain();
  size_t pending() const;

 private:
  struct Item {
    EventType type;
    EventInfo info;
  };
  struct Queue {
    std::deque<Item> items;
    bool scheduled = false;  // in ready_ or being drained by a worker
  };
  void Work();

  std::shared_ptr<Backend> backend_;
  mutable std::mutex mu_;
  std::condition_variable cv_;       // workers wait for ready containers
  std::condition_variable idle_cv_;  // Drain waits for pending_ == 0 and no active worker
  std::map<std::string, Queue> queues_;
  std::deque<std::string> ready_;
  size_t pending_ = 0;
  int active_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace libcontainerd::events
