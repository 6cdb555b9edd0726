// The event side of a containerd Client: one subscription to the daemon's event stream (its
// namespace, task topics), read on a thread of ours; decoding; de-duplication; ordered dispatch
// to the Backend; and, after the stream fails, reconnect with backoff, re-subscribe and
// reconcile every tracked task with the daemon so no exit is lost. See docs/events.md.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>

#include "events/dispatcher.h"
#include "events/tracker.h"
#include "libcontainerd/client.h"

namespace libcontainerd::remote {
class Connection;
}

namespace libcontainerd::events {

class Hub {
 public:
  Hub(std::shared_ptr<remote::Connection> conn, std::shared_ptr<Backend> backend,
      std::shared_ptr<TaskTracker> tracker);
  // Cancels the stream (or a reconnect wait) and joins the reader and the dispatch workers.
  // Must not run on a dispatch thread (do not destroy the Client inside ProcessEvent).
  ~Hub();

  // Starts the reader; returns once the subscription is live (or after `timeout`, logging).
  void Start(std::chrono::milliseconds timeout);

  // An exit learnt from a Delete: delivered unless the stream delivers it first. It waits
  // kDeletedExitGrace, so the stream's own events of the process (published before the Delete
  // answered, e.g. exec-started) reach the Backend before it; pending ones are delivered at
  // once when the Hub is destroyed.
  void OnDeletedExit(const EventInfo& info);
  static constexpr std::chrono::milliseconds kDeletedExitGrace{1000};

  // What the reader does with a decoded stream event (public for tests).
  void HandleStreamEvent(EventType type, EventInfo info) { Handle(type, std::move(info), nullptr); }

  // Counters for tests and diagnostics.
  struct Counters {
    uint64_t delivered = 0, duplicates = 0, stale = 0, synthesised = 0, reconnects = 0,
             undecodable = 0;
  };
  Counters counters() const;

 private:
  void Run();
  // synthesised_from: nullptr for stream events, else where the event came from.
  void Handle(EventType type, EventInfo info, const char* synthesised_from, bool confirmed = false);
  void Reconcile();
  bool WaitForDaemon();  // false when stopping
  bool PublishSync(const std::string& token);
  void RunDeferred();  // delivers OnDeletedExit's exits when due

  std::shared_ptr<remote::Connection> conn_;
  std::shared_ptr<TaskTracker> tracker_;
  std::unique_ptr<Dispatcher> dispatcher_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool live_ = false;
  grpc::ClientContext* current_ = nullptr;
  Counters counters_;
  struct Deferred {
    std::chrono::steady_clock::time_point due;
    EventInfo info;
  };
  std::deque<Deferred> deferred_;  // in due order (one grace for all)
  // containerd 1.6's shim can publish an exec's exit before its exec-started (a process that
  // exits at once). An exec whose exec-added was seen and whose exec-started was not yet has
  // its exit held until exec-started, or kExecStartGrace at most.
  using ExecKey = std::pair<std::string, std::string>;  // container, exec id
  std::set<ExecKey> exec_not_started_;
  std::map<ExecKey, Deferred> held_exits_;
  static constexpr std::chrono::milliseconds kExecStartGrace{2000};
  void Post(EventType type, EventInfo info, bool synthesised);
  void ReleaseDueHeldExits(bool all);  // with mu_ held
  std::thread deferred_thread_;        // started with the first deferred exit
  std::thread reader_;
};

}  // namespace libcontainerd::events
