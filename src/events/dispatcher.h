// Ordered dispatch of events to the user's Backend: events of one container in order, different
// containers in parallel, never while a lock of ours is held. The stream reader only enqueues
// (never blocks on the Backend).
//
// Workers: kMinWorkers always; when a container has events and no worker is free (every one is
// inside ProcessEvent, e.g. blocked by the Backend), another is started, up to kMaxWorkers. So
// a Backend blocked on N containers delays no other container while N < kMaxWorkers; past the
// cap, ready containers wait in FIFO order for the next free worker (spill-over). A worker above
// kMinWorkers that stays idle for kIdleRetire ends.
//
// Latency (issue 20): the time from an event's arrival (Post's `arrived`) to the start of its
// ProcessEvent is counted in a log2-microsecond histogram (wait_histogram()). Post never starts
// or joins a thread, nor wakes a worker, with the dispatcher's lock held; a worker that was woken
// but has not taken its container yet is not counted as free (see Post).
//
// Memory bound: at most kMaxPending events wait in all queues together. Past that, new events
// other than exits are dropped: each is counted (dropped()), the first of an overflow and the
// count when the queues fall back under the bound are logged as warnings. Exits are always
// queued (callers must not lose them, and there is at most one per process).
#pragma once

#include <array>
#include <chrono>
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
  static constexpr int kMinWorkers = 4;
  static constexpr int kMaxWorkers = 64;
  static constexpr std::chrono::seconds kIdleRetire{10};

  explicit Dispatcher(std::shared_ptr<Backend> backend);
  ~Dispatcher();  // refuses new events, delivers every queued one, joins the workers

  // Queues an event. Returns false when it was dropped (bound reached and not an exit, or the
  // dispatcher is being destroyed: logged, an exit as an error).
  // `arrived`: when the event reached the library (the stream read); it becomes the delivered
  // EventInfo::received, and the wait histogram counts from it. Thread-safe; never blocks on the
  // Backend.
  bool Post(EventType type, EventInfo info,
            std::chrono::steady_clock::time_point arrived = std::chrono::steady_clock::now());
  // Blocks until every queued event was delivered (tests, shutdown ordering).
  void Drain();
  size_t pending() const;
  uint64_t dropped() const;  // events dropped past kMaxPending since construction
  int workers() const;       // worker threads running now

  // Waits from `arrived` to the start of ProcessEvent, in log2 microseconds: bucket 0 counts
  // waits under 1 us, bucket b (1..kWaitBuckets-2) waits in [2^(b-1), 2^b) us, the last one
  // everything longer. Since construction; thread-safe (a copy).
  static constexpr size_t kWaitBuckets = 28;  // the last bucket: >= 2^26 us (~67 s)
  using WaitHistogram = std::array<uint64_t, kWaitBuckets>;
  WaitHistogram wait_histogram() const;
  // The bucket of a wait (as above).
  static size_t WaitBucket(std::chrono::steady_clock::duration wait);
  // The wait under which a fraction `q` (0..1) of the counted waits fell, as the upper bound of
  // its bucket (2^b us; 0 when the histogram is empty).
  static std::chrono::microseconds WaitQuantile(const WaitHistogram& h, double q);

 private:
  struct Item {
    EventType type;
    EventInfo info;  // info.received: Post's `arrived`
  };
  struct Queue {
    std::deque<Item> items;
    bool scheduled = false;  // in ready_ or being drained by a worker
  };
  void Work();
  // Starts `n` workers (without mu_ held) and registers each in workers_; one that cannot be
  // started is logged and only counted off starting_.
  void StartWorkers(int n);
  // Joins the retired workers (takes and releases mu_ itself; not with mu_ held).
  void JoinRetired();

  std::shared_ptr<Backend> backend_;
  mutable std::mutex mu_;
  std::condition_variable cv_;       // workers wait for ready containers
  std::condition_variable idle_cv_;  // Drain waits for pending_ == 0 and no active worker
  std::map<std::string, Queue> queues_;
  std::deque<std::string> ready_;
  size_t pending_ = 0;
  int active_ = 0;    // workers inside a container's queue
  int idle_ = 0;      // workers waiting for a ready container, not yet woken for one
  int wakeups_ = 0;   // Post woke a waiting worker that has not taken it yet (left idle_)
  int starting_ = 0;  // workers decided on, whose thread is not registered in workers_ yet
  WaitHistogram wait_hist_{};
  bool stopping_ = false;
  uint64_t dropped_ = 0, dropped_in_episode_ = 0;
  std::map<std::thread::id, std::thread> workers_;
  std::vector<std::thread> retired_;  // ended workers, joined by the next Post or the destructor
};

}  // namespace libcontainerd::events
