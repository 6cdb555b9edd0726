// The containerd backend's event side of a Client: one subscription to the daemon's event stream
// (its namespace, task topics), read on a thread of ours; decoding; de-duplication; ordered
// dispatch to the Backend; and, after the stream fails, reconnect with backoff, re-subscribe and
// reconcile every tracked task with the daemon so no exit is lost. See docs/events.md.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>

#include "events/dispatcher.h"
#include "events/tracker.h"
#include "libcontainerd/client.h"
#include "libcontainerd/context.h"
#include "remote/connection.h"

namespace libcontainerd::remote {

class EventHub {
 public:
  EventHub(std::shared_ptr<Connection> conn, std::shared_ptr<Backend> backend,
           std::shared_ptr<events::TaskTracker> tracker);
  // Cancels the stream (or a reconnect wait) and joins the reader and the dispatch workers.
  // Must not run on a dispatch thread (do not destroy the Client inside ProcessEvent).
  ~EventHub();

  // Starts the reader. `connected`: the daemon answered just now; the reader subscribes at once
  // and Start returns once the subscription is live (or after `timeout`, logging). Otherwise
  // (a lazy Client whose daemon does not serve yet, ClientOptions::lazy_connect) Start returns
  // at once, and the reader takes the reconnect path for its first subscription: it waits for
  // the daemon with the reconnect back-off, subscribes, and reconciles the tracked tasks (those
  // started after the daemon came and before the subscription was live).
  void Start(std::chrono::milliseconds timeout, bool connected = true);

  // An exit learnt from a Delete: delivered unless the stream delivers it first. It waits
  // kDeletedExitGrace and then for a stream barrier (below), so the stream's own events of the
  // process (published before the Delete answered, e.g. exec-started) reach the Backend before
  // it however far the reader lags; pending ones are delivered at once when the EventHub is
  // destroyed.
  void OnDeletedExit(const EventInfo& info);
  static constexpr std::chrono::milliseconds kDeletedExitGrace{1000};

  // A stream barrier: once a held exit's grace has passed, a sync event is published and the
  // exit is released when the reader reads that event back, i.e. after every event containerd
  // had before it. Without a live stream (or when the publish fails) the exit goes at once; a
  // barrier that never comes back releases it after kBarrierCap.
  static constexpr std::chrono::milliseconds kBarrierCap{10000};

  // What the reader does with a decoded stream event (public for tests).
  void HandleStreamEvent(EventType type, EventInfo info) { Handle(type, std::move(info), nullptr); }
  // What the reader does with a sync event of its subscription read back (public for tests).
  void HandleSyncEcho(const std::string& topic);
  // Test seam: act as if a stream subscribed with `token` were live, publishing sync events
  // through `publish` (true: published) instead of the daemon.
  void SetLiveForTest(std::string token, std::function<bool(const std::string& topic)> publish);

  // Counters for tests and diagnostics.
  struct Counters {
    uint64_t delivered = 0, duplicates = 0, stale = 0, synthesised = 0, reconnects = 0,
             undecodable = 0;
    uint64_t dropped = 0;  // non-exit events dropped past events::Dispatcher::kMaxPending
    // Our part of the event latency: from the stream read (or, for an exit the Hub held or
    // synthesised, its release) to the start of ProcessEvent, in log2 microseconds (see
    // events::Dispatcher::wait_histogram).
    events::Dispatcher::WaitHistogram dispatch_wait_log2_us{};
  };
  Counters counters() const;

 private:
  void Run(bool connected);
  // synthesised_from: nullptr for stream events, else where the event came from.
  // arrived: when the reader read the event (the dispatcher's latency histogram counts from it).
  void Handle(EventType type, EventInfo info, const char* synthesised_from, bool confirmed = false,
              std::chrono::steady_clock::time_point arrived = std::chrono::steady_clock::now());
  void Reconcile();
  // Probes Version with the reconnect back-off (waiting first when `wait_first`) until the
  // daemon answers: true; false when stopping.
  bool WaitForDaemon(bool wait_first);
  bool PublishSync(const std::string& topic);
  // Builds the context of one of the Hub's calls or its stream (under stop_, or a child of it
  // with a deadline) in namespace `ns`: false, and nothing built, when the Hub is stopping.
  bool StartRpc(std::optional<Rpc>& rpc, const Context& ctx, const char* op, const std::string& ns);
  static std::string SyncTopic(const std::string& token, uint64_t seq);
  // Releases held exits (deferred_, held_exits_) when due and past their barrier.
  void RunDeferred();

  std::shared_ptr<Connection> conn_;
  // Every call and stream of the Hub runs under stop_ (remote::Rpc), cancelled by the
  // destructor: the stream's Read, a reconnect wait, a probe, a sync publish end at once.
  Context stop_ = Context::Background();
  std::shared_ptr<events::TaskTracker> tracker_;
  std::unique_ptr<events::Dispatcher> dispatcher_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool live_ = false;
  Counters counters_;
  // An exit being held: until `due`, then until barrier `barrier` is read back (0: none asked
  // yet), or at once when `ready`.
  struct Held {
    std::chrono::steady_clock::time_point due;
    EventInfo info;
    uint64_t barrier = 0;
    std::chrono::steady_clock::time_point barrier_sent{};
    bool ready = false;
  };
  std::deque<Held> deferred_;  // Delete-learnt exits, in due order (one grace for all)
  // containerd 1.6's shim can publish an exec's exit before its exec-started (a process that
  // exits at once). An exec whose exec-added was seen and whose exec-started was not yet has
  // its exit held until exec-started, or kExecStartGrace and a barrier at most.
  using ExecKey = std::pair<std::string, std::string>;  // container, exec id
  std::set<ExecKey> exec_not_started_;
  std::map<ExecKey, Held> held_exits_;
  static constexpr std::chrono::milliseconds kExecStartGrace{2000};
  void Post(EventType type, EventInfo info, bool synthesised,
            std::chrono::steady_clock::time_point arrived);
  bool AlreadyDelivered(const EventInfo& info) const;  // its exit went to the Backend
  bool Releasable(const Held& h, std::chrono::steady_clock::time_point now) const;  // with mu_ held
  // Barriers: the live subscription's token ("" when none), the last barrier asked and the
  // last one read back; all with mu_ held.
  std::string sync_token_;
  uint64_t barrier_asked_ = 0, barrier_seen_ = 0;
  std::function<bool(const std::string&)> publish_for_test_;
  std::thread deferred_thread_;  // started with the first deferred exit
  std::thread reader_;
};

}  // namespace libcontainerd::remote
